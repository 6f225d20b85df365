//! Distinct values: [`Array::unique`] (NumPy's `np.unique` over all elements, with
//! `return_counts=True` as [`Unique::compute_with_counts`] and `return_inverse=True` as
//! [`Unique::inverse`]).
//!
//! How many distinct values an array holds is known only once it is computed, so the
//! result is a type of its own, [`Unique`], as [`Selection`](super::Selection) is: it
//! computes to dense results, or to an [`Array`] with [`Unique::compute_chunk_sizes`] for
//! everything that needs the length (slicing, joins, `to_zarr`); nothing that needs the
//! length before then is offered, so the compiler refuses it.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use chunkwise_kernels::dtype::Element;
use chunkwise_kernels::unique::Counted;
use ndarray::{ArrayD, IxDyn};

use super::Array;
use super::map_blocks::invalid;
use crate::error::Result;
use crate::exec::{Config, compute_tiles_many};
use crate::graph::Node;
use crate::ops::reduction::DEFAULT_SPLIT_EVERY;
use crate::ops::unique::{Distinct, distinct_tree, inverse_indices};

/// The sorted distinct values of an array (and how many times each occurs), lazy, their
/// number known only after computing.
///
/// Built by [`Array::unique`] (or [`Selection::unique`](super::Selection::unique)) as a
/// tree: the distinct values of each tile (a sort per tile, or a table of counts for `bool`
/// and integers of one or two bytes), then merges of at most `split_every` sorted lists per task until one is left,
/// so no task holds more than the lists it merges. Each task declares, against the memory
/// budget, the most distinct values its tiles can hold (their number of elements, or 256
/// and 65536 for types of one and two bytes): the last merge of an array of many distinct
/// values holds them all, as Dask's does. Elementwise work on the array before
/// `unique` is fused into one program, whose tiles the tree reads. Floats are ordered as NumPy's
/// `unique` orders them: ascending, NaN last, all NaN one value, and `-0.0` and `0.0` one
/// value (which of the two signs is returned is not specified).
///
/// Nothing is computed until asked: [`Unique::compute`] gives the values,
/// [`Unique::compute_with_counts`] the values and their counts, [`Unique::count`] their
/// number, and [`Unique::compute_chunk_sizes`] an [`Array`] of the values for everything
/// that needs their number first. A `Unique` has no `shape`, slicing, arithmetic or
/// `to_zarr`: they need the number of values, so they are on the [`Array`] that
/// [`Unique::compute_chunk_sizes`] returns (the compiler refuses them here, where Dask
/// fails at run time).
///
/// ```
/// let x = chunkwise::from_ndarray(&ndarray::arr2(&[[3, 1, 3], [2, 1, 3]]), [1, 2]).unwrap();
/// let (values, counts) = (&x * 10).unique().compute_with_counts().unwrap();
/// assert_eq!(values.into_raw_vec_and_offset().0, vec![10, 20, 30]);
/// assert_eq!(counts.into_raw_vec_and_offset().0, vec![2, 1, 3]);
/// ```
pub struct Unique<T: Element> {
    /// The node whose one tile is the [`Distinct`] values of the array (or an invalid node
    /// recording why building failed).
    top: Arc<Node>,
    /// The array whose values these are, unless they are a selection's.
    values: Option<Arc<Node>>,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> Clone for Unique<T> {
    fn clone(&self) -> Self {
        Unique {
            top: self.top.clone(),
            values: self.values.clone(),
            _t: PhantomData,
        }
    }
}

impl<T: Element> fmt::Debug for Unique<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Unique<{}>(shape [?])", T::DTYPE)
    }
}

/// Finding distinct values.
impl<T: Element> Array<T> {
    /// The sorted distinct values of all elements, as NumPy's `np.unique(x)` (see
    /// [`Unique`]); merged `DEFAULT_SPLIT_EVERY` lists per task.
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[2.0, f64::NAN, -0.0, 2.0, 0.0]), [2]).unwrap();
    /// let values = x.unique().compute().unwrap();
    /// assert_eq!(values.len(), 3);
    /// assert_eq!((values[0], values[1]), (0.0, 2.0));
    /// assert!(values[2].is_nan());
    /// ```
    pub fn unique(&self) -> Unique<T> {
        self.unique_with(DEFAULT_SPLIT_EVERY)
    }

    /// [`Array::unique`] merging at most `split_every` (at least 2) lists per task; a
    /// smaller `split_every` makes a deeper tree of smaller tasks.
    ///
    /// ```
    /// let x = chunkwise::arange::<i64>(0, 40, 1, [4]).unwrap();
    /// let low = (&x % 5).unique_with(2);
    /// assert_eq!(low.compute().unwrap().into_raw_vec_and_offset().0, vec![0, 1, 2, 3, 4]);
    /// assert!(x.unique_with(1).compute().is_err());
    /// ```
    pub fn unique_with(&self, split_every: usize) -> Unique<T> {
        Unique::of(self, None, split_every)
    }
}

impl<T: Element> Unique<T> {
    /// The distinct values of `values` (where `mask`, of its shape and chunks, is true),
    /// merged `split_every` lists per task.
    pub(super) fn of(values: &Array<T>, mask: Option<&Array<bool>>, split_every: usize) -> Self {
        let checked = values
            .check()
            .and_then(|()| mask.map_or(Ok(()), Array::check));
        let top = match checked {
            Err(e) => Node::invalid(e, T::DTYPE),
            Ok(()) if split_every < 2 => Node::invalid(
                invalid(
                    "unique",
                    format!("split_every must be at least 2, got {split_every}"),
                ),
                T::DTYPE,
            ),
            Ok(()) => distinct_tree::<T>(&values.node, mask.map(|m| &m.node), split_every),
        };
        Unique {
            top,
            values: mask.is_none().then(|| values.node.clone()),
            _t: PhantomData,
        }
    }

    /// NumPy's `return_inverse` (the array API's `unique_inverse`): for each element of the
    /// array, lazily, the index of its value among the sorted distinct values, in the
    /// array's shape and chunks (`ravel()` it for NumPy's 1-d form of `np.unique`). Each
    /// tile looks its values up in the merged list. Not for the values of a selection,
    /// whose positions are not an array's: an error naming `compute_chunk_sizes()`.
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr2(&[[30, 10], [30, 20]]), [1, 2])?;
    /// let unique = x.unique();
    /// let inverse = unique.inverse()?.compute()?;
    /// assert_eq!(inverse, ndarray::arr2(&[[2u64, 0], [2, 1]]).into_dyn());
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn inverse(&self) -> Result<Array<u64>> {
        self.check()?;
        let values = self.values.as_ref().ok_or_else(|| {
            invalid(
                "unique inverse",
                "the values of a selection have no array positions: call \
                 compute_chunk_sizes() on the selection first"
                    .into(),
            )
        })?;
        Ok(Array::from_node(inverse_indices::<T>(values, &self.top)))
    }
}

/// Computing, and arrays.
impl<T: Element> Unique<T> {
    /// An error if building the array (or this) failed, as [`Array::check`].
    ///
    /// ```
    /// use chunkwise::{BuildError, Error};
    /// let (a, b) = (chunkwise::zeros::<f64>(&[3], [2]).unwrap(), chunkwise::zeros::<f64>(&[4], [2]).unwrap());
    /// let broken = (&a + &b).unique();
    /// assert!(matches!(broken.check(), Err(Error::Build(BuildError::Broadcast { .. }))));
    /// assert!(a.unique().check().is_ok());
    /// ```
    pub fn check(&self) -> Result<()> {
        match self.top.first_error() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The sorted distinct values, 1-d.
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[4u16, 9, 4, 1, 9]), [2]).unwrap();
    /// assert_eq!(x.unique().compute().unwrap().into_raw_vec_and_offset().0, vec![1, 4, 9]);
    /// ```
    pub fn compute(&self) -> Result<ArrayD<T>> {
        Ok(vector(self.distinct()?.values))
    }

    /// The sorted distinct values and how many times each occurs, as NumPy's
    /// `np.unique(x, return_counts=True)`.
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[true, false, true, true]), [3]).unwrap();
    /// let (values, counts) = x.unique().compute_with_counts().unwrap();
    /// assert_eq!(values.into_raw_vec_and_offset().0, vec![false, true]);
    /// assert_eq!(counts.into_raw_vec_and_offset().0, vec![1, 3]);
    /// ```
    pub fn compute_with_counts(&self) -> Result<(ArrayD<T>, ArrayD<u64>)> {
        self.compute_with_counts_with(&Config::default())
    }

    /// [`Unique::compute_with_counts`] with `config` (threads, memory budget, fusion).
    ///
    /// ```
    /// let x = chunkwise::arange::<i64>(0, 30, 1, [7]).unwrap();
    /// let config = chunkwise::Config::default().threads(1);
    /// let (values, counts) = (&x / 10).unique().compute_with_counts_with(&config).unwrap();
    /// assert_eq!(values.into_raw_vec_and_offset().0, vec![0, 1, 2]);
    /// assert_eq!(counts.into_raw_vec_and_offset().0, vec![10, 10, 10]);
    /// ```
    pub fn compute_with_counts_with(&self, config: &Config) -> Result<(ArrayD<T>, ArrayD<u64>)> {
        let Counted { values, counts } = self.distinct_with(config)?;
        Ok((vector(values), vector(counts)))
    }

    /// The number of distinct values (computes them, without assembling an array).
    ///
    /// ```
    /// let x = chunkwise::arange::<u8>(0, 200, 1, [64]).unwrap();
    /// assert_eq!((&x / 10).unique().count().unwrap(), 20);
    /// ```
    pub fn count(&self) -> Result<usize> {
        Ok(self.distinct()?.len())
    }

    /// The distinct values as an [`Array`] of one chunk, for everything that needs their
    /// number before computing (slicing, arithmetic with other arrays, `to_zarr`).
    ///
    /// ```
    /// let x = chunkwise::arange::<i32>(0, 12, 1, [5]).unwrap();
    /// let values = (&x % 4).unique().compute_chunk_sizes().unwrap();
    /// assert_eq!(values.shape(), vec![4]);
    /// assert_eq!(values.sum().compute_scalar().unwrap(), 6);
    /// ```
    pub fn compute_chunk_sizes(&self) -> Result<Array<T>> {
        let values = self.compute()?;
        let len = values.len();
        super::from_ndarray(&values, [len.max(1)])
    }

    /// The optimised plan of the tree, as [`Array::explain`] prints it.
    ///
    /// ```
    /// let x = chunkwise::arange::<i64>(0, 100, 1, [10]).unwrap();
    /// let plan = x.unique_with(4).explain().unwrap();
    /// assert!(plan.contains("unique (merge)"), "{plan}");
    /// ```
    pub fn explain(&self) -> Result<String> {
        self.explain_with(&Config::default())
    }

    /// [`Unique::explain`] with `config`: planning refuses a tree whose tasks do not fit
    /// its memory budget.
    ///
    /// ```
    /// let x = chunkwise::arange::<i64>(0, 1000, 1, [100]).unwrap();
    /// let tight = chunkwise::Config::default().memory_budget(1000);
    /// assert!(x.unique().explain_with(&tight).is_err());
    /// ```
    pub fn explain_with(&self, config: &Config) -> Result<String> {
        self.plan_handle().explain_with(config)
    }

    /// Number of tasks of the optimised plan, as [`Array::task_count`].
    ///
    /// ```
    /// let x = chunkwise::arange::<i64>(0, 100, 1, [10]).unwrap();
    /// // 10 tiles made, 10 lists of their distinct values, merged 4, 4 and 2 at a time,
    /// // then those 3 lists.
    /// let config = chunkwise::Config::default();
    /// assert_eq!(x.unique_with(4).task_count(&config).unwrap(), 10 + 10 + 3 + 1);
    /// ```
    pub fn task_count(&self, config: &Config) -> Result<usize> {
        self.plan_handle().task_count(config)
    }

    /// The tree's top node behind an array handle, for the plan printers (which never
    /// read its tiles).
    fn plan_handle(&self) -> Array<T> {
        Array::from_node(self.top.clone())
    }

    /// The distinct values and counts: runs the tree with `config` and takes its one
    /// tile (without a copy once the run has let go of it).
    fn distinct_with(&self, config: &Config) -> Result<Counted<T>> {
        self.check()?;
        let (mut tiles, _) = compute_tiles_many(std::slice::from_ref(&self.top), config)?;
        let tile = tiles
            .pop()
            .and_then(|mut t| t.pop())
            .ok_or_else(|| invalid("unique", "the tree computed no tile".into()))?;
        tile.get::<Distinct<T>>()?;
        let any: Arc<dyn Any + Send + Sync> = tile;
        let top = any
            .downcast::<Distinct<T>>()
            .expect("the tile was checked to be a Distinct list");
        Ok(Arc::try_unwrap(top).map_or_else(|top| top.counted.clone(), |top| top.counted))
    }

    /// [`Unique::distinct_with`] the default [`Config`].
    fn distinct(&self) -> Result<Counted<T>> {
        self.distinct_with(&Config::default())
    }
}

/// `data` as a 1-d array.
fn vector<U: Element>(data: Vec<U>) -> ArrayD<U> {
    let len = data.len();
    ArrayD::from_shape_vec(IxDyn(&[len]), data).expect("a vector of its own length")
}

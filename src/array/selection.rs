//! Boolean selection: [`Array::mask`] (NumPy's `a[m]`), [`Array::compress`],
//! [`Array::nonzero`], [`Array::flatnonzero`] and [`Array::argwhere`].
//!
//! How many elements a mask selects is known only once the mask is computed, so a
//! selection is a type of its own, [`Selection`]: the array and the mask, both lazy.
//! Elementwise work on it stays a selection, and its reductions fuse the mask into the
//! reduction (`x.mask(&x.greater(100)).mean()` reads `x` once and never makes the
//! selection). Everything that needs the chunk sizes (slicing, rechunking, joins,
//! `to_zarr`) is on the [`Array`] that [`Selection::compute_chunk_sizes`] returns; asking a
//! selection for an array before then is an error that names it
//! ([`BuildError::UnknownChunkSizes`]).

use std::fmt;
use std::sync::Arc;

use chunkwise_kernels::dtype::{DType, Element, FloatElement, Numeric};
use chunkwise_kernels::reduce::{FloatSum, MomentOutput, Moments, Reducer};
use ndarray::ArrayD;

use super::{Array, Reduction, Unique, where_};
use crate::chunks::{AxisChunks, ChunkGrid, Chunks, View};
use crate::error::{BuildError, Error, Result};
use crate::graph::Node;
use crate::ops::elementwise::viewed;
use crate::ops::layout::normalize_axis;
use crate::ops::reduction::{DEFAULT_SPLIT_EVERY, reduced_axes};
use crate::ops::select::{block_counts, nonempty, select};

/// The elements of an array that a boolean mask selects, with the number of them along
/// the selected axis known only after computing.
///
/// The selected axis replaces the axes the mask covers, as NumPy's boolean indexing does:
/// `x.mask(&m)` with `m` of `x`'s shape is one axis; `x.compress(&m, 1)` keeps the other
/// axes of `x`. Nothing is computed until asked:
/// - elementwise work ([`Selection::map`], `+ - * /` with scalars and with selections of
///   the same mask) is a selection again;
/// - reductions ([`Selection::sum`], [`Selection::mean`], [`Selection::var`], ...) read the
///   array and the mask in one fused pass;
/// - [`Selection::compute`] gives the selected elements in NumPy's order, and
///   [`Selection::compute_chunk_sizes`] an [`Array`] for everything else.
///
/// ```
/// use chunkwise::prelude::*;
/// let x = chunkwise::arange::<f64>(0.0, 10.0, 1.0, [4]).unwrap();
/// let big = x.mask(&x.greater(5.0)).unwrap();
/// assert_eq!(big.mean().compute_scalar().unwrap(), 7.5);
/// assert_eq!(big.compute().unwrap().into_raw_vec_and_offset().0, vec![6.0, 7.0, 8.0, 9.0]);
/// assert_eq!(big.shape(), vec![None]);
/// ```
pub struct Selection<T: Element> {
    values: Array<T>,
    /// The mask, over axes `at..at + mask.ndim()` of `values` (as the user gave it, so
    /// that selections by one mask can be matched); `None` once a reduction has removed
    /// the selected axis.
    mask: Option<Array<bool>>,
    at: usize,
}

impl<T: Element> Clone for Selection<T> {
    fn clone(&self) -> Self {
        Selection {
            values: self.values.clone(),
            mask: self.mask.clone(),
            at: self.at,
        }
    }
}

impl<T: Element> fmt::Debug for Selection<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shape: Vec<String> = self
            .shape()
            .iter()
            .map(|len| len.map_or("?".to_string(), |n| n.to_string()))
            .collect();
        write!(f, "Selection<{}>(shape [{}])", T::DTYPE, shape.join(", "))
    }
}

/// Making selections.
impl<T: Element> Array<T> {
    /// The elements where `mask` is true, as NumPy's `x[mask]`: `mask` has the shape of
    /// this array's leading axes (all of them, usually), and those axes become one axis of
    /// the selected elements, in C order. A mask chunked otherwise is read through a view.
    ///
    /// ```
    /// use chunkwise::prelude::*;
    /// let x = chunkwise::from_ndarray(&ndarray::arr2(&[[1, 5], [7, 2]]), [1, 1]).unwrap();
    /// let picked = x.mask(&x.greater(3)).unwrap().compute().unwrap();
    /// assert_eq!(picked.into_raw_vec_and_offset().0, vec![5, 7]);
    /// ```
    pub fn mask(&self, mask: &Array<bool>) -> Result<Selection<T>> {
        Selection::new(self.clone(), mask.clone(), 0, "mask")
    }

    /// The slices along `axis` where the 1-d `condition` is true, as NumPy's
    /// `compress(condition, axis)`: a `condition` shorter than the axis selects among its
    /// first elements only.
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr2(&[[1, 2, 3], [4, 5, 6]]), [2, 2]).unwrap();
    /// let keep = chunkwise::from_ndarray(&ndarray::arr1(&[true, false, true]), [2]).unwrap();
    /// let columns = x.compress(&keep, 1).unwrap().compute().unwrap();
    /// assert_eq!(columns, ndarray::arr2(&[[1, 3], [4, 6]]).into_dyn());
    /// ```
    pub fn compress(&self, condition: &Array<bool>, axis: isize) -> Result<Selection<T>> {
        let axis = normalize_axis(axis, self.ndim())?;
        let len = self.shape()[axis];
        let given = condition.shape();
        if given.len() != 1 || given[0] > len {
            return Err(Error::Build(BuildError::InvalidArgument {
                op: "compress".into(),
                reason: format!(
                    "the condition must be 1-d and at most {len} long (axis {axis}), not of \
                     shape {given:?}"
                ),
            }));
        }
        let values = match given[0] < len {
            true => {
                let mut info = vec![ndarray::SliceInfoElem::from(..); self.ndim()];
                info[axis] = ndarray::SliceInfoElem::from(..given[0]);
                self.slice(info)?
            }
            false => self.clone(),
        };
        Selection::new(values, condition.clone(), axis, "compress")
    }

    /// The indices of the elements that are not zero (not `false`), one selection per
    /// axis, as NumPy's `nonzero`. Each is an index array, lazy, selected by the same
    /// mask, so [`Selection::zip_map`] and arithmetic combine them.
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr2(&[[0, 3], [4, 0]]), [1, 2]).unwrap();
    /// let rows_cols = x.nonzero().unwrap();
    /// assert_eq!(rows_cols[0].compute().unwrap().into_raw_vec_and_offset().0, vec![0, 1]);
    /// assert_eq!(rows_cols[1].compute().unwrap().into_raw_vec_and_offset().0, vec![1, 0]);
    /// ```
    ///
    /// A 0-d array has no axis to index, and is refused as NumPy (from 2.1) refuses it
    /// ([`Array::flatnonzero`] and [`Array::argwhere`] take one).
    pub fn nonzero(&self) -> Result<Vec<Selection<u64>>> {
        if self.ndim() == 0 {
            return Err(Error::Build(BuildError::InvalidArgument {
                op: "nonzero".into(),
                reason: "a 0-d array has no axis to index; reshape it to [1] first".into(),
            }));
        }
        let mask = self.is_nonzero();
        (0..self.ndim())
            .map(|axis| Selection::new(self.axis_index(axis)?, mask.clone(), 0, "nonzero"))
            .collect()
    }

    /// The flat (C-order) indices of the elements that are not zero, as NumPy's
    /// `flatnonzero`.
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr2(&[[0, 3], [4, 0]]), [1, 1]).unwrap();
    /// let flat = x.flatnonzero().unwrap().compute().unwrap();
    /// assert_eq!(flat.into_raw_vec_and_offset().0, vec![1, 2]);
    /// ```
    pub fn flatnonzero(&self) -> Result<Selection<u64>> {
        if self.ndim() == 0 {
            return self.reshape(&[1])?.flatnonzero(); // as NumPy, which ravels first
        }
        let shape = self.shape();
        // Sum over the axes, last first, of index * stride.
        let last = shape.len() - 1;
        let mut flat = self.axis_index(last)?;
        let mut stride = shape[last] as u64;
        for axis in (0..last).rev() {
            flat = &flat + &(self.axis_index(axis)? * stride);
            stride *= shape[axis] as u64;
        }
        Selection::new(flat, self.is_nonzero(), 0, "flatnonzero")
    }

    /// The indices of the elements that are not zero, one row `[i0, i1, ...]` per element,
    /// as NumPy's `argwhere`: a selection of shape `[?, ndim]`.
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr2(&[[0, 3], [4, 0]]), [2, 1]).unwrap();
    /// let rows = x.argwhere().unwrap().compute().unwrap();
    /// assert_eq!(rows, ndarray::arr2(&[[0, 1], [1, 0]]).into_dyn());
    /// ```
    pub fn argwhere(&self) -> Result<Selection<u64>> {
        if self.ndim() == 0 {
            // One row of no indices where the value is not zero, as NumPy's (1, 0) or (0, 0).
            let rows = super::zeros::<u64>(&[1, 0], vec![1, 1])?;
            return Selection::new(rows, self.reshape(&[1])?.is_nonzero(), 0, "argwhere");
        }
        let indices = (0..self.ndim())
            .map(|axis| self.axis_index(axis))
            .collect::<Result<Vec<_>>>()?;
        let stacked = super::stack(&indices.iter().collect::<Vec<_>>(), -1)?;
        Selection::new(stacked, self.is_nonzero(), 0, "argwhere")
    }

    /// Whether each element is not zero (not `false`).
    fn is_nonzero(&self) -> Array<bool> {
        self.map(|x: T| x != T::default())
    }

    /// The index along `axis` of each element, as an array of this array's shape and
    /// chunks (a view of one range, nothing is stored).
    fn axis_index(&self, axis: usize) -> Result<Array<u64>> {
        let shape = self.shape();
        let chunks = self.chunks().chunks()[axis].clone();
        let range = super::arange::<u64>(0, shape[axis] as u64, 1, Chunks::Sizes(vec![chunks]))?;
        let others: Vec<isize> = (0..self.ndim())
            .filter(|&a| a != axis)
            .map(|a| a as isize)
            .collect();
        let spread = range.expand_dims(&others)?;
        let view = View::broadcast(&spread.shape(), &shape);
        Ok(Array::from_node(viewed(
            &spread.node,
            view,
            self.chunks().clone(),
        )))
    }
}

/// Shape, computing, and arrays.
impl<T: Element> Selection<T> {
    /// The selection of `values` by `mask` over its axes `at..`.
    fn new(values: Array<T>, mask: Array<bool>, at: usize, op: &str) -> Result<Selection<T>> {
        values.check()?;
        mask.check()?;
        let k = mask.ndim();
        let shape = values.shape();
        if k == 0 {
            return Err(Error::Build(BuildError::InvalidArgument {
                op: op.to_string(),
                reason: "a 0-d mask has no axis to select along (NumPy's x[True] adds one; \
                         here, give the mask and the values an axis of length 1 first)"
                    .into(),
            }));
        }
        if at + k > shape.len() || mask.shape() != shape[at..at + k] {
            return Err(Error::Build(BuildError::ShapeMismatch {
                op: op.to_string(),
                expected: shape.get(at..).unwrap_or(&[]).to_vec(),
                found: mask.shape(),
            }));
        }
        Ok(Selection {
            values,
            mask: Some(mask),
            at,
        })
    }

    /// The length of each axis; `None` for the selected axis, known only after computing.
    /// (Empty for a selection whose building failed, as [`Array::shape`].)
    pub fn shape(&self) -> Vec<Option<usize>> {
        let mut shape: Vec<Option<usize>> = self.values.shape().into_iter().map(Some).collect();
        if let Some(mask) = &self.mask
            && self.values.check().is_ok()
        {
            shape.splice(self.at..self.at + mask.ndim(), [None]);
        }
        shape
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.shape().len()
    }

    /// The selected elements, in NumPy's order (C order over the masked axes).
    pub fn compute(&self) -> Result<ArrayD<T>> {
        self.compute_chunk_sizes()?.compute()
    }

    /// The selection as an [`Array`] with known chunks: computes the mask (and the
    /// number of elements each of its tiles selects; a mask over several axes is first
    /// made one tile along all of them but the first, as Dask's `ravel` does), then
    /// builds the array whose tiles select from the array's tiles. Its selected axis has
    /// one chunk per mask tile that selects something (Dask keeps zero-length chunks for
    /// the others; a chunkwise grid has none on an axis that is not empty).
    ///
    /// ```
    /// use chunkwise::prelude::*;
    /// let x = chunkwise::arange::<i64>(0, 10, 1, [4]).unwrap();
    /// let even = x.mask(&(&x % 2).equal(0)).unwrap().compute_chunk_sizes().unwrap();
    /// assert_eq!(even.chunks().chunks(), &[vec![2, 2, 1]]);
    /// assert_eq!(even.sum().compute_scalar().unwrap(), 20);
    /// ```
    pub fn compute_chunk_sizes(&self) -> Result<Array<T>> {
        let Some(mask) = &self.mask else {
            return Ok(self.values.clone());
        };
        let (at, k) = (self.at, mask.ndim());
        let trailing_whole = |grid: &ChunkGrid, axes: std::ops::Range<usize>| {
            ChunkGrid::from_axes(
                (0..grid.ndim())
                    .map(|a| match axes.contains(&a) {
                        true => AxisChunks::single(grid.shape()[a]),
                        false => grid.axis(a).clone(),
                    })
                    .collect(),
            )
        };
        let values = rechunked(
            &self.values.node,
            trailing_whole(self.values.chunks(), at + 1..at + k),
        );
        let mask_grid =
            ChunkGrid::from_axes((at..at + k).map(|a| values.grid.axis(a).clone()).collect());
        let mask = rechunked(&mask.node, mask_grid);
        let counts = Array::<u64>::from_node(block_counts(&mask)).compute()?;
        let counts: Vec<usize> = counts.iter().map(|&n| n as usize).collect();
        Ok(Array::from_node(select::<T>(&values, &mask, at, counts)))
    }

    /// The sorted distinct values of the selected elements (see [`Unique`]), as NumPy's
    /// `np.unique(x[m])`: each tile's selected values are found where the tile is read,
    /// never selected into an array of their own.
    ///
    /// ```
    /// let x = chunkwise::arange::<i64>(0, 20, 1, [6]).unwrap();
    /// let big = (&x % 7).mask(&x.greater(9)).unwrap();
    /// let (values, counts) = big.unique().compute_with_counts().unwrap();
    /// assert_eq!(values.into_raw_vec_and_offset().0, vec![0, 1, 2, 3, 4, 5, 6]);
    /// assert_eq!(counts.into_raw_vec_and_offset().0, vec![1, 1, 1, 2, 2, 2, 1]);
    /// ```
    pub fn unique(&self) -> Unique<T> {
        self.unique_with(DEFAULT_SPLIT_EVERY)
    }

    /// [`Selection::unique`] merging at most `split_every` lists per task.
    ///
    /// ```
    /// let x = chunkwise::arange::<u8>(0, 50, 1, [8]).unwrap();
    /// let odd = x.mask(&(&x % 2).equal(1)).unwrap();
    /// assert_eq!(odd.unique_with(2).count().unwrap(), 25);
    /// ```
    pub fn unique_with(&self, split_every: usize) -> Unique<T> {
        match &self.mask {
            Some(mask) => Unique::of(&self.values, Some(&self.spread_mask(mask)), split_every),
            None => self.values.unique_with(split_every),
        }
    }

    /// The array, when nothing is left unknown (a reduction over the selected axis);
    /// otherwise an error naming [`Selection::compute_chunk_sizes`].
    pub fn into_array(self) -> Result<Array<T>> {
        match self.mask {
            None => Ok(self.values),
            Some(_) => Err(unknown_sizes("into_array")),
        }
    }
}

/// The error for `op` on a selection whose chunk sizes are not known yet.
fn unknown_sizes(op: &str) -> Error {
    Error::Build(BuildError::UnknownChunkSizes { op: op.to_string() })
}

/// `node` chunked as `grid` (itself when it is): a view, copied only where a consumer
/// needs whole tiles.
fn rechunked(node: &Arc<Node>, grid: ChunkGrid) -> Arc<Node> {
    viewed(node, View::identity(&node.shape()), grid)
}

/// Elementwise work: the result is selected by the same mask.
impl<T: Element> Selection<T> {
    /// `f` of each element.
    pub fn map<U: Element>(&self, f: impl Fn(T) -> U + Send + Sync + 'static) -> Selection<U> {
        self.with_values(self.values.map(f))
    }

    /// Each element converted to `U` (as [`Array::astype`]).
    pub fn astype<U: Element>(&self) -> Selection<U> {
        self.with_values(self.values.astype::<U>())
    }

    /// `f` of the elements of this selection and `other`, which must come from the same
    /// mask (the same `Array<bool>` handle, or its clone) over the same axes: selections by
    /// different masks line up only once their chunk sizes are computed, so they are an
    /// error naming [`Selection::compute_chunk_sizes`].
    ///
    /// ```
    /// let x = chunkwise::arange::<f64>(0.0, 6.0, 1.0, [4]).unwrap();
    /// let m = x.greater(2.0);
    /// let (a, b) = (x.mask(&m).unwrap(), (&x * 10.0).mask(&m).unwrap());
    /// let sum = a.zip_map(&b, |p, q| p + q).unwrap().compute().unwrap();
    /// assert_eq!(sum.into_raw_vec_and_offset().0, vec![33.0, 44.0, 55.0]);
    /// ```
    pub fn zip_map<B: Element, U: Element>(
        &self,
        other: &Selection<B>,
        f: impl Fn(T, B) -> U + Send + Sync + 'static,
    ) -> Result<Selection<U>> {
        self.check_same_mask(other)?;
        let values = self.values.zip_map(&other.values, f);
        values.check()?;
        Ok(self.with_values(values))
    }

    /// An error unless `other` is selected by the same mask over the same axes.
    fn check_same_mask<B: Element>(&self, other: &Selection<B>) -> Result<()> {
        let same = match (&self.mask, &other.mask) {
            (Some(a), Some(b)) => self.at == other.at && Arc::ptr_eq(&a.node, &b.node),
            (None, None) => true,
            _ => false,
        };
        match same {
            true => Ok(()),
            false => Err(unknown_sizes(
                "an elementwise operation on selections by different masks",
            )),
        }
    }

    /// The first error met while building this selection (of an operator between
    /// selections by different masks, say), if any; `compute()` reports the same error.
    pub fn check(&self) -> Result<()> {
        self.values.check()
    }

    /// This selection's mask over `values` (of the same shape as this one's).
    fn with_values<U: Element>(&self, values: Array<U>) -> Selection<U> {
        Selection {
            values,
            mask: self.mask.clone(),
            at: self.at,
        }
    }
}

/// Where a reduction of a selection goes.
struct Plan {
    /// The reduction of the array: the axes it spans, keeping them.
    values_how: Reduction,
    /// Axes of that result to squeeze out.
    squeeze: Vec<isize>,
    /// The mask and its first axis in the result, when the selected axis is not reduced.
    mask: Option<(Array<bool>, usize)>,
}

impl<T: Element> Selection<T> {
    /// How `how` (over this selection's axes) reduces the array and the mask.
    fn plan(&self, how: &Reduction) -> Result<Plan> {
        let Some(mask) = &self.mask else {
            return Ok(Plan {
                values_how: how.clone(),
                squeeze: Vec::new(),
                mask: None,
            });
        };
        let (at, k) = (self.at, mask.ndim());
        let reduced = reduced_axes(how.axes.as_deref(), self.ndim(), "reduction")?;
        // The array's axes of each of the selection's axes.
        let axes_of = |axis: usize| match axis.cmp(&at) {
            std::cmp::Ordering::Less => axis..axis + 1,
            std::cmp::Ordering::Equal => at..at + k,
            std::cmp::Ordering::Greater => axis + k - 1..axis + k,
        };
        let reduced_values: Vec<isize> = (0..self.ndim())
            .filter(|&a| reduced[a])
            .flat_map(axes_of)
            .map(|a| a as isize)
            .collect();
        let squeeze: Vec<isize> = match (how.keepdims, reduced[at]) {
            (true, true) => (at + 1..at + k).map(|a| a as isize).collect(),
            (true, false) => Vec::new(),
            (false, _) => reduced_values.clone(),
        };
        let remaining_at = at - squeeze.iter().filter(|&&a| (a as usize) < at).count();
        Ok(Plan {
            values_how: Reduction {
                axes: Some(reduced_values),
                keepdims: true,
                split_every: how.split_every,
            },
            squeeze,
            mask: (!reduced[at]).then(|| (mask.clone(), remaining_at)),
        })
    }

    /// The mask spread over the array's shape (a view).
    fn spread_mask(&self, mask: &Array<bool>) -> Array<bool> {
        let after: Vec<isize> = (self.at + mask.ndim()..self.values.ndim())
            .map(|a| a as isize - self.at as isize)
            .collect();
        let spread = mask.expand_dims(&after).unwrap_or_else(invalid);
        let shape = self.values.shape();
        Array::from_node(viewed(
            &spread.node,
            View::broadcast(&spread.shape(), &shape),
            self.values.chunks().clone(),
        ))
    }

    /// The reduction `reduce` (of the array with the mask spread over it when `how`
    /// reduces the selected axis, otherwise `None`) as `how` says.
    fn reduce_with<U: Element>(
        &self,
        how: &Reduction,
        reduce: impl FnOnce(Option<&Array<bool>>, &Reduction) -> Array<U>,
    ) -> Selection<U> {
        let plan = match self.values.check().and_then(|()| self.plan(how)) {
            Ok(plan) => plan,
            Err(e) => return Selection::unknown_failed(e),
        };
        // Only a reduction over the selected axis needs the masked-out elements left out:
        // along the other axes every lane is reduced whole, and the lanes the mask drops
        // are dropped from the result by the mask it keeps.
        let spread = match plan.mask {
            Some(_) => None,
            None => self.mask.as_ref().map(|m| self.spread_mask(m)),
        };
        let result = reduce(spread.as_ref(), &plan.values_how);
        let values = match plan.squeeze.is_empty() {
            true => result,
            false => result.squeeze(Some(&plan.squeeze)).unwrap_or_else(invalid),
        };
        match plan.mask {
            Some((mask, at)) => Selection {
                values,
                mask: Some(mask),
                at,
            },
            None => Selection {
                values,
                mask: None,
                at: 0,
            },
        }
    }

    /// A selection whose building failed with `e` (reported when it is used).
    fn unknown_failed(e: Error) -> Selection<T> {
        Selection {
            values: invalid(e),
            mask: None,
            at: 0,
        }
    }

    /// A reduction over all axes, as an array.
    fn all_axes<U: Element>(reduce: impl FnOnce(&Reduction) -> Selection<U>) -> Array<U> {
        reduce(&Reduction::all())
            .into_array()
            .unwrap_or_else(invalid)
    }
}

/// An array whose building failed with `e`.
fn invalid<U: Element>(e: Error) -> Array<U> {
    Array::from_node(Node::invalid(e, U::DTYPE))
}

/// Reductions, with the mask fused in: masked-out elements are read as the reduction's
/// identity (or skipped), never selected into a tile.
impl<T: Element> Selection<T> {
    /// Number of selected elements.
    ///
    /// ```
    /// let x = chunkwise::arange::<i32>(0, 10, 1, [3]).unwrap();
    /// assert_eq!(x.mask(&x.greater(6)).unwrap().count().compute_scalar().unwrap(), 3);
    /// ```
    pub fn count(&self) -> Array<u64> {
        Self::all_axes(|how| self.count_with(how))
    }

    /// [`Selection::count`] as `how` says.
    pub fn count_with(&self, how: &Reduction) -> Selection<u64> {
        self.reduce_with(how, |mask, how| match mask {
            Some(mask) => mask.count_nonzero_with(how),
            None => self.values.map(|_| true).count_nonzero_with(how),
        })
    }
}

impl<T: Numeric> Selection<T> {
    /// The array with masked-out elements read as `fill`.
    fn filled(mask: Option<&Array<bool>>, values: &Array<T>, fill: T) -> Array<T> {
        match mask {
            Some(mask) => where_(mask, values, fill),
            None => values.clone(),
        }
    }

    /// Sum, in [`Element::Sum`] (see [`Array::sum`]); 0 for an empty selection.
    pub fn sum(&self) -> Array<T::Sum> {
        Self::all_axes(|how| self.sum_with(how))
    }

    /// [`Selection::sum`] as `how` says.
    pub fn sum_with(&self, how: &Reduction) -> Selection<T::Sum> {
        self.reduce_with(how, |mask, how| {
            Self::filled(mask, &self.values, T::ZERO).sum_with(how)
        })
    }

    /// Product, in [`Element::Sum`] (see [`Array::prod`]); 1 for an empty selection.
    pub fn prod(&self) -> Array<T::Sum> {
        Self::all_axes(|how| self.prod_with(how))
    }

    /// [`Selection::prod`] as `how` says.
    pub fn prod_with(&self, how: &Reduction) -> Selection<T::Sum> {
        self.reduce_with(how, |mask, how| {
            Self::filled(mask, &self.values, T::ONE).prod_with(how)
        })
    }

    /// Mean (see [`Array::mean`]); NaN for an empty selection, as NumPy's.
    ///
    /// ```
    /// let x = chunkwise::arange::<u8>(0, 200, 1, [64]).unwrap();
    /// let high = x.mask(&x.greater(100)).unwrap();
    /// assert_eq!(high.mean().compute_scalar().unwrap(), 150.0);
    /// ```
    pub fn mean(&self) -> Array<T::Real> {
        Self::all_axes(|how| self.mean_with(how))
    }

    /// [`Selection::mean`] as `how` says.
    pub fn mean_with(&self, how: &Reduction) -> Selection<T::Real> {
        self.skipping_with(how, FloatSum::<T::Real>::new(true, true), "mean")
    }

    /// Variance with `ddof` delta degrees of freedom (see [`Array::var`]); NaN for a
    /// selection of at most `ddof` elements.
    pub fn var(&self, ddof: f64) -> Array<T::Real> {
        Self::all_axes(|how| self.var_with(how, ddof))
    }

    /// [`Selection::var`] as `how` says.
    pub fn var_with(&self, how: &Reduction, ddof: f64) -> Selection<T::Real> {
        self.moments_with(how, MomentOutput::Variance { ddof })
    }

    /// Standard deviation with `ddof` delta degrees of freedom.
    pub fn std(&self, ddof: f64) -> Array<T::Real> {
        Self::all_axes(|how| self.std_with(how, ddof))
    }

    /// [`Selection::std`] as `how` says.
    pub fn std_with(&self, how: &Reduction, ddof: f64) -> Selection<T::Real> {
        self.moments_with(how, MomentOutput::StdDev { ddof })
    }

    /// A moment statistic (see [`Selection::skipping_with`]).
    fn moments_with(&self, how: &Reduction, output: MomentOutput) -> Selection<T::Real> {
        self.skipping_with(how, Moments::<T::Real>::new(output, true), "var")
    }

    /// The reduction by `reducer`, which skips NaN, of the elements as floats with the
    /// masked-out ones read as NaN: one pass over the array and the mask. A NaN the mask
    /// selects makes the result NaN, as NumPy's (a second reduction, of floats only).
    fn skipping_with<R>(&self, how: &Reduction, reducer: R, name: &str) -> Selection<T::Real>
    where
        R: Reducer<In = T::Real, Out = T::Real>,
    {
        self.reduce_with(how, |mask, how| {
            let real = self.values.astype::<T::Real>();
            let nan = <T::Real as FloatElement>::from_f64(f64::NAN);
            let skipped = match mask {
                Some(mask) => where_(mask, &real, nan),
                None => real,
            };
            let result: Array<T::Real> = skipped.reduce_by(how, reducer, name);
            if !matches!(T::DTYPE, DType::F32 | DType::F64) {
                return result;
            }
            let selected_nan = match mask {
                Some(mask) => mask & &self.values.isnan(),
                None => self.values.isnan(),
            };
            where_(&selected_nan.any_with(how), nan, &result)
        })
    }

    /// Minimum (NaN propagates); an error, when computed, for an empty selection.
    pub fn min(&self) -> Array<T> {
        Self::all_axes(|how| self.min_with(how))
    }

    /// [`Selection::min`] as `how` says.
    pub fn min_with(&self, how: &Reduction) -> Selection<T> {
        self.extreme_with(how, T::HIGHEST, "min", Array::min_with)
    }

    /// Maximum (NaN propagates); an error, when computed, for an empty selection.
    pub fn max(&self) -> Array<T> {
        Self::all_axes(|how| self.max_with(how))
    }

    /// [`Selection::max`] as `how` says.
    pub fn max_with(&self, how: &Reduction) -> Selection<T> {
        self.extreme_with(how, T::LOWEST, "max", Array::max_with)
    }

    /// Minimum or maximum, masked-out elements read as `identity`, checked not empty.
    fn extreme_with(
        &self,
        how: &Reduction,
        identity: T,
        op: &str,
        extreme: fn(&Array<T>, &Reduction) -> Array<T>,
    ) -> Selection<T> {
        self.reduce_with(how, |mask, how| {
            let best = extreme(&Self::filled(mask, &self.values, identity), how);
            match mask {
                Some(mask) => {
                    let counts = mask.count_nonzero_with(how);
                    Array::from_node(nonempty(&best.node, &counts.node, op))
                }
                None => best,
            }
        })
    }
}

/// `+ - * /` of a selection with a scalar, or with a selection by the same mask (otherwise
/// the result records [`BuildError::UnknownChunkSizes`], reported by
/// [`Selection::check`] and `compute()`).
macro_rules! selection_operator {
    ($Trait:ident, $method:ident) => {
        impl<T: Numeric> std::ops::$Trait<T> for &Selection<T> {
            type Output = Selection<T>;
            fn $method(self, rhs: T) -> Selection<T> {
                self.with_values(std::ops::$Trait::$method(&self.values, rhs))
            }
        }
        impl<T: Numeric> std::ops::$Trait<&Selection<T>> for &Selection<T> {
            type Output = Selection<T>;
            fn $method(self, rhs: &Selection<T>) -> Selection<T> {
                match self.check_same_mask(rhs) {
                    Ok(()) => {
                        self.with_values(std::ops::$Trait::$method(&self.values, &rhs.values))
                    }
                    Err(e) => self.with_values(invalid(e)),
                }
            }
        }
    };
}

selection_operator!(Add, add);
selection_operator!(Sub, sub);
selection_operator!(Mul, mul);
selection_operator!(Div, div);

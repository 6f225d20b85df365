//! Integer indexing: `take` (NumPy's `np.take`, Dask's `x[..., idx, ...]`), outer indexing
//! on several axes (`np.ix_`), and pointwise `vindex` (Dask's `vindex`).

use std::sync::Arc;

use chunkwise_kernels::dtype::Element;
use ndarray::SliceInfoElem;

use super::Array;
use super::map_blocks::invalid;
use crate::error::{BuildError, Error, Result};
use crate::graph::Node;
use crate::ops::{gather, layout};

/// The indices of [`Array::take`]: a list in memory (negative indices count from the end),
/// or a lazy 1-d array of `i64` or `u64` (computed indices), read only when the result is
/// computed.
#[derive(Clone, Debug)]
pub struct Indices(Source);

#[derive(Clone, Debug)]
enum Source {
    Listed(Vec<i64>),
    Lazy(Arc<Node>),
}

impl From<Vec<i64>> for Indices {
    fn from(list: Vec<i64>) -> Indices {
        Indices(Source::Listed(list))
    }
}

impl From<&[i64]> for Indices {
    fn from(list: &[i64]) -> Indices {
        Indices(Source::Listed(list.to_vec()))
    }
}

impl<const N: usize> From<&[i64; N]> for Indices {
    fn from(list: &[i64; N]) -> Indices {
        Indices(Source::Listed(list.to_vec()))
    }
}

impl From<&Vec<i64>> for Indices {
    fn from(list: &Vec<i64>) -> Indices {
        Indices(Source::Listed(list.clone()))
    }
}

impl From<&Array<i64>> for Indices {
    fn from(array: &Array<i64>) -> Indices {
        Indices(Source::Lazy(array.node.clone()))
    }
}

impl From<&Array<u64>> for Indices {
    fn from(array: &Array<u64>) -> Indices {
        Indices(Source::Lazy(array.node.clone()))
    }
}

/// `list` resolved against an axis of `len` (negative indices from the end).
fn resolve_all(list: &[i64], axis: usize, len: usize) -> Result<Vec<usize>> {
    list.iter()
        .map(|&i| gather::resolve(i, axis, len))
        .collect()
}

/// The slice of axis `axis` (of `ndim`) that reads `list`, if it is an arithmetic
/// progression (at most one element, or a constant nonzero step).
fn as_slice(list: &[usize], ndim: usize, axis: usize) -> Option<Vec<SliceInfoElem>> {
    let elem = match *list {
        [] => SliceInfoElem::Slice {
            start: 0,
            end: Some(0),
            step: 1,
        },
        [i] => SliceInfoElem::Slice {
            start: i as isize,
            end: Some(i as isize + 1),
            step: 1,
        },
        [a, b, ..] => {
            let step = b as isize - a as isize;
            let regular = step != 0
                && list
                    .windows(2)
                    .all(|w| w[1] as isize - w[0] as isize == step);
            if !regular {
                return None;
            }
            let (lo, hi) = (a.min(list[list.len() - 1]), a.max(list[list.len() - 1]));
            SliceInfoElem::Slice {
                start: lo as isize,
                end: Some(hi as isize + 1),
                step,
            }
        }
    };
    let full = SliceInfoElem::Slice {
        start: 0,
        end: None,
        step: 1,
    };
    Some(
        (0..ndim)
            .map(|a| if a == axis { elem } else { full })
            .collect(),
    )
}

/// Integer indexing.
impl<T: Element> Array<T> {
    /// The elements at `indices` along `axis` (negative counting from the end), as NumPy's
    /// `np.take` and Dask's `x[..., indices, ...]`: indices may be unsorted, repeated or
    /// negative; one out of range is an [`Error`].
    ///
    /// Indices in memory become tasks that each read only the source tiles their indices
    /// fall in: output chunks follow the index order, holding at most a source chunk's
    /// length of indices that fall in at most a few source tiles. A list of evenly spaced
    /// indices (a range, reversed or strided) is a slice, read in place. Lazy indices (an
    /// `Array<i64>` or `Array<u64>` of one axis) keep the graph lazy: output chunks follow
    /// theirs, and each output tile reads its index tile and the source tiles along `axis`
    /// (an index out of range then fails the computation).
    ///
    /// ```
    /// let x = chunkwise::arange::<i64>(0, 10, 1, [3]).unwrap();
    /// let y = x.take(&[7, -1, 0, 7], 0).unwrap();
    /// assert_eq!(y.compute().unwrap().into_raw_vec_and_offset().0, vec![7, 9, 0, 7]);
    /// let lazy = chunkwise::arange::<i64>(4, -1, -2, [2]).unwrap(); // 4, 2, 0
    /// let z = x.take(&lazy, 0).unwrap();
    /// assert_eq!(z.compute().unwrap().into_raw_vec_and_offset().0, vec![4, 2, 0]);
    /// ```
    pub fn take(&self, indices: impl Into<Indices>, axis: isize) -> Result<Array<T>> {
        self.check()?;
        let axis = layout::normalize_axis(axis, self.ndim())?;
        let len = self.shape()[axis];
        match indices.into().0 {
            Source::Listed(list) => {
                let list = resolve_all(&list, axis, len)?;
                if let Some(info) = as_slice(&list, self.ndim(), axis) {
                    return self.slice(info);
                }
                Ok(Array::from_node(gather::gather::<T>(
                    "take", &self.node, axis, 1, &list,
                )))
            }
            Source::Lazy(node) => {
                if let Some(e) = node.first_error() {
                    return Err(e);
                }
                if node.ndim() != 1 {
                    return Err(invalid(
                        "take",
                        format!("lazy indices of shape {:?}, not one axis", node.shape()),
                    ));
                }
                Ok(Array::from_node(gather::take_lazy::<T>(
                    &self.node, &node, axis,
                )))
            }
        }
    }

    /// Outer (orthogonal) indexing: per axis, a list of indices to take along it or `None`
    /// to keep it whole, as NumPy's `x[np.ix_(i, j)]`: the same as one [`Array::take`] per
    /// listed axis. Axes past the list are kept whole. The lists may be in memory
    /// (`&[i64]`) or lazy (`&Array<i64>`, `&Array<u64>`), as for `take`.
    ///
    /// ```
    /// let a = ndarray::Array::from_shape_fn((3, 4), |(i, j)| (4 * i + j) as i64);
    /// let x = chunkwise::from_ndarray(&a, [2, 3]).unwrap();
    /// let y = x.outer_index(&[Some(&[2, 0][..]), Some(&[-1, 1][..])]).unwrap();
    /// assert_eq!(y.compute().unwrap().into_raw_vec_and_offset().0, vec![11, 9, 3, 1]);
    /// ```
    pub fn outer_index<I: Into<Indices> + Clone>(&self, indices: &[Option<I>]) -> Result<Array<T>> {
        self.check()?;
        if indices.len() > self.ndim() {
            return Err(invalid(
                "outer_index",
                format!(
                    "{} index lists for an array of {} axes",
                    indices.len(),
                    self.ndim()
                ),
            ));
        }
        let mut out = self.clone();
        for (axis, list) in indices.iter().enumerate() {
            if let Some(list) = list {
                out = out.take(list.clone(), axis as isize)?;
            }
        }
        Ok(out)
    }

    /// Pointwise indexing, as Dask's `vindex`: `indices` holds one list per leading axis,
    /// all of one length `n`, and element `k` of the result is
    /// `self[indices[0][k], indices[1][k], ...]`. The result's shape is `n` followed by
    /// the axes not indexed. Each task reads only the tiles its points fall in.
    ///
    /// ```
    /// let a = ndarray::Array::from_shape_fn((3, 4), |(i, j)| (4 * i + j) as i64);
    /// let x = chunkwise::from_ndarray(&a, [2, 3]).unwrap();
    /// let y = x.vindex(&[&[2, 0, -1], &[3, 1, 0]]).unwrap();
    /// assert_eq!(y.compute().unwrap().into_raw_vec_and_offset().0, vec![11, 1, 8]);
    /// ```
    pub fn vindex(&self, indices: &[&[i64]]) -> Result<Array<T>> {
        self.check()?;
        let k = indices.len();
        if k == 0 || k > self.ndim() {
            return Err(invalid(
                "vindex",
                format!("{k} index lists for an array of {} axes", self.ndim()),
            ));
        }
        let n = indices[0].len();
        if let Some(other) = indices.iter().find(|list| list.len() != n) {
            return Err(Error::Build(BuildError::ShapeMismatch {
                op: "vindex".into(),
                expected: vec![n],
                found: vec![other.len()],
            }));
        }
        let shape = self.shape();
        let resolved = indices
            .iter()
            .enumerate()
            .map(|(axis, list)| resolve_all(list, axis, shape[axis]))
            .collect::<Result<Vec<_>>>()?;
        let points: Vec<usize> = (0..n)
            .flat_map(|p| resolved.iter().map(move |list| list[p]))
            .collect();
        Ok(Array::from_node(gather::gather::<T>(
            "vindex", &self.node, 0, k, &points,
        )))
    }
}

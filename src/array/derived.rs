//! Operations derived from the others: `diff` (lazy slices and a subtraction),
//! `gradient` (a depth-1 `map_overlap`) and `coarsen` (a rechunk to multiples of the window,
//! then one `map_blocks`). None of them adds a graph node kind or an executor path.

use ndarray::{ArrayD, Axis, IxDyn, SliceInfoElem, Zip};

use super::Array;
use super::map_blocks::{BlockResult, MapBlocks, invalid};
use super::map_overlap::{Boundary, MapOverlap};
use crate::chunks::Chunks;
use crate::error::Result;
use crate::ops::layout::normalize_axis;
use chunkwise_kernels::dtype::{DType, Element, FloatElement, Numeric, Scalar};

/// The reduction [`Array::coarsen`] applies to each window (the `np.sum`, `np.mean`,
/// `np.min`, `np.max` of Dask's `da.coarsen`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Coarsen {
    /// The window's sum, in the array's own type (integers wrap, as the array's arithmetic
    /// does; NumPy's `np.sum` promotes integers narrower than 64 bits to 64 bits, so cast
    /// with `astype` first to match it there).
    Sum,
    /// The window's mean, accumulated in f64 and returned in the array's type: floats only.
    Mean,
    /// The window's smallest element (NaN if the window holds one, as `np.min`).
    Min,
    /// The window's largest element (NaN if the window holds one, as `np.max`).
    Max,
}

/// `s![.., .., range, ..]`: all of every axis but `axis`, which takes `start..end`.
pub(super) fn along(ndim: usize, axis: usize, start: usize, end: usize) -> Vec<SliceInfoElem> {
    (0..ndim)
        .map(|a| {
            if a == axis {
                SliceInfoElem::Slice {
                    start: start as isize,
                    end: Some(end as isize),
                    step: 1,
                }
            } else {
                SliceInfoElem::Slice {
                    start: 0,
                    end: None,
                    step: 1,
                }
            }
        })
        .collect()
}

/// Differences.
impl<T: Numeric> Array<T> {
    /// The `n`-th discrete difference along `axis` (NumPy's `np.diff(x, n, axis)`):
    /// `out[i] = x[i + 1] - x[i]`, applied `n` times, so the axis shrinks by `n` (to 0 when
    /// `n` passes its length, as NumPy's does; `n = 0` returns the array). Built of lazy
    /// slices and subtractions, applied `n` times so the values are NumPy's to the bit. The
    /// subtraction fuses with elementwise work after it; the slices are blockwise nodes of
    /// their own until fused programs read views (issue 14, item 1).
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[1, 2, 4, 7, 0]).into_dyn(), [2])?;
    /// assert_eq!(x.diff(1, 0)?.compute()?.into_raw_vec_and_offset().0, vec![1, 2, 3, -7]);
    /// assert_eq!(x.diff(2, -1)?.compute()?.into_raw_vec_and_offset().0, vec![1, 1, -10]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn diff(&self, n: usize, axis: isize) -> Result<Array<T>> {
        self.check()?;
        let ndim = self.ndim();
        let axis = normalize_axis(axis, ndim)?;
        let mut out = self.clone();
        for _ in 0..n {
            let len = out.shape()[axis];
            if len == 0 {
                break;
            }
            let hi = out.slice(along(ndim, axis, 1, len))?;
            let lo = out.slice(along(ndim, axis, 0, len - 1))?;
            out = &hi - &lo;
        }
        Ok(out)
    }
}

/// Gradients.
impl<T: FloatElement> Array<T> {
    /// The gradient along `axis` for samples `spacing` apart (NumPy's
    /// `np.gradient(x, spacing, axis=axis)`, `edge_order=1`): second-order central
    /// differences `(x[i + 1] - x[i - 1]) / (2 spacing)` inside, first-order one-sided
    /// differences at the two ends. An axis shorter than 2 is an error, as in NumPy. Each
    /// block reads one element of its neighbours' (a depth-1 [`map_overlap`](Array::map_overlap)).
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[1., 2., 4., 7., 11.]).into_dyn(), [2])?;
    /// let g = x.gradient(0, 1.0)?.compute()?;
    /// assert_eq!(g.into_raw_vec_and_offset().0, vec![1., 1.5, 2.5, 3.5, 4.]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn gradient(&self, axis: isize, spacing: f64) -> Result<Array<T>> {
        self.check()?;
        let ndim = self.ndim();
        let axis = normalize_axis(axis, ndim)?;
        let len = self.shape()[axis];
        if len < 2 {
            return Err(invalid(
                "gradient",
                format!(
                    "axis {axis} has length {len}; at least 2 elements are needed \
                     (shape {:?})",
                    self.shape()
                ),
            ));
        }
        let mut depths = vec![0; ndim];
        depths[axis] = 1;
        let how = MapOverlap::new()
            .depths(depths)
            .boundary(Boundary::None)
            .name("gradient");
        let h = T::from_f64(spacing);
        let h2 = T::from_f64(2.0 * spacing);
        // With no boundary padding, an element at an end of the grown block is at an end of
        // the array (or in the halo, which is cut off): NumPy's one-sided rule there is
        // right for every element the result keeps.
        self.map_overlap(&how, move |g, _| Ok(gradient_block(g, axis, h, h2)))
    }
}

/// NumPy's `edge_order=1` gradient of one (grown) block along `axis`, of length >= 2.
fn gradient_block<T: FloatElement>(g: &ArrayD<T>, axis: usize, h: T, h2: T) -> ArrayD<T> {
    let n = g.len_of(Axis(axis));
    let mut out = ArrayD::<T>::zeros(g.raw_dim());
    let at = |i: usize| g.index_axis(Axis(axis), i);
    // out[i] = (g[hi] - g[lo]) / d
    let mut set = |i: usize, hi: usize, lo: usize, d: T| {
        Zip::from(out.index_axis_mut(Axis(axis), i))
            .and(at(hi))
            .and(at(lo))
            .for_each(|o, &p, &q| *o = (p - q) / d);
    };
    set(0, 1, 0, h);
    set(n - 1, n - 1, n - 2, h);
    for i in 1..n - 1 {
        set(i, i + 1, i - 1, h2);
    }
    out
}

/// Block reductions over windows.
impl<T: Numeric> Array<T> {
    /// Reduces non-overlapping windows of `factors[k]` elements along each axis `k` (Dask's
    /// `da.coarsen(np.sum, x, {0: 2, 1: 3})` is `x.coarsen(Coarsen::Sum, [2, 3], false)`;
    /// a factor of 1 leaves its axis alone). An axis whose length the factor does not divide
    /// is an error, unless `trim_excess` drops its last elements (Dask's `trim_excess`).
    /// Chunks that are not multiples of their factor are first rechunked to the nearest
    /// multiples; then each block reduces on its own, in one `map_blocks`.
    ///
    /// ```
    /// use chunkwise::Coarsen;
    /// use ndarray::Array;
    /// let a = Array::from_shape_vec((2, 6), (0..12).collect())?.into_dyn();
    /// let x = chunkwise::from_ndarray(&a, [2, 4])?;
    /// // [[0 1 2 3 4 5], [6 7 8 9 10 11]] in 2 x 3 windows (chunks of 4 become 3 + 3).
    /// let sums = x.coarsen(Coarsen::Sum, [2, 3], false)?;
    /// assert_eq!(sums.compute()?.into_raw_vec_and_offset().0, vec![24, 42]);
    /// let max = x.coarsen(Coarsen::Max, [1, 4], true)?; // the last 2 columns dropped
    /// assert_eq!(max.compute()?.into_raw_vec_and_offset().0, vec![3, 9]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn coarsen(
        &self,
        reduction: Coarsen,
        factors: impl AsRef<[usize]>,
        trim_excess: bool,
    ) -> Result<Array<T>> {
        self.check()?;
        let factors = factors.as_ref().to_vec();
        let shape = self.shape();
        let ndim = shape.len();
        if factors.len() != ndim {
            return Err(invalid(
                "coarsen",
                format!(
                    "{} factors for an array of {ndim} dimensions (shape {shape:?})",
                    factors.len()
                ),
            ));
        }
        if let Some(axis) = factors.iter().position(|&f| f == 0) {
            return Err(invalid("coarsen", format!("factor 0 on axis {axis}")));
        }
        if reduction == Coarsen::Mean && !matches!(T::DTYPE, DType::F32 | DType::F64) {
            return Err(invalid(
                "coarsen",
                format!(
                    "Coarsen::Mean needs a float array, not {}: cast with astype first",
                    T::DTYPE
                ),
            ));
        }
        // Drop (or refuse) each axis' excess.
        let mut x = self.clone();
        for (axis, (&len, &f)) in shape.iter().zip(&factors).enumerate() {
            if len % f != 0 {
                if !trim_excess {
                    return Err(invalid(
                        "coarsen",
                        format!(
                            "axis {axis} of length {len} is not divisible by its factor {f} \
                             (shape {shape:?}); pass trim_excess to drop the last {} elements",
                            len % f
                        ),
                    ));
                }
                x = x.slice(along(ndim, axis, 0, len - len % f))?;
            }
        }
        // Chunks to multiples of the factors.
        let chunks = x.chunks().chunks();
        let aligned: Vec<Vec<usize>> = chunks
            .iter()
            .zip(&factors)
            .map(|(sizes, &f)| aligned_chunks(sizes, f))
            .collect();
        if aligned != chunks {
            x = x.rechunk(Chunks::Sizes(aligned.clone()))?;
        }
        let out_chunks: Vec<Vec<usize>> = aligned
            .iter()
            .zip(&factors)
            .map(|(sizes, &f)| sizes.iter().map(|c| c / f).collect())
            .collect();
        let how = MapBlocks::new().chunks(out_chunks).name("coarsen");
        x.map_blocks_with(&how, move |b, _| coarsen_block(b, &factors, reduction))
    }
}

/// Chunk lengths covering the same axis as `sizes`, each a multiple of `f` (the axis length
/// is one), with each boundary moved to the nearest multiple of `f` (ties upwards); chunks
/// that vanish are dropped, and an axis of length 0 keeps one empty chunk.
fn aligned_chunks(sizes: &[usize], f: usize) -> Vec<usize> {
    if sizes.iter().all(|c| c % f == 0) {
        return sizes.to_vec();
    }
    let len: usize = sizes.iter().sum();
    let mut out = Vec::new();
    let (mut end, mut prev) = (0, 0);
    for c in sizes {
        end += c;
        let b = ((end + f / 2) / f * f).min(len);
        if b > prev {
            out.push(b - prev);
            prev = b;
        }
    }
    if prev < len {
        out.push(len - prev);
    }
    if out.is_empty() {
        out.push(0);
    }
    out
}

/// One block reduced over windows of `factors`: the block viewed as
/// `(n0, f0, n1, f1, ...)`, folded over every window axis.
fn coarsen_block<T: Numeric>(b: &ArrayD<T>, factors: &[usize], how: Coarsen) -> BlockResult<T> {
    let mut split = Vec::with_capacity(2 * factors.len());
    for (&len, &f) in b.shape().iter().zip(factors) {
        split.extend([len / f, f]);
    }
    let count: usize = factors.iter().product();
    let std = b.as_standard_layout();
    let v = std.view().into_shape_with_order(IxDyn(&split))?;
    let Some(last) = factors.len().checked_sub(1) else {
        return Ok(b.clone());
    };
    if how == Coarsen::Mean {
        let mut sums = v.mapv(T::as_f64).sum_axis(Axis(2 * last + 1));
        for k in (0..last).rev() {
            sums = sums.sum_axis(Axis(2 * k + 1));
        }
        return Ok(sums.mapv(|s| T::from_scalar(Scalar::Float(s / count as f64))));
    }
    let fold = |a: &T, x: &T| step(how, *a, *x);
    let mut out = v.fold_axis(Axis(2 * last + 1), start(how), fold);
    for k in (0..last).rev() {
        out = out.fold_axis(Axis(2 * k + 1), start(how), fold);
    }
    Ok(out)
}

fn start<T: Numeric>(how: Coarsen) -> T {
    match how {
        Coarsen::Sum | Coarsen::Mean => T::ZERO,
        Coarsen::Min => T::HIGHEST,
        Coarsen::Max => T::LOWEST,
    }
}

/// One element folded into a window's running value; NaN, once met, stays.
fn step<T: Numeric>(how: Coarsen, acc: T, x: T) -> T {
    match how {
        Coarsen::Sum | Coarsen::Mean => T::add(acc, x),
        _ if <T as Element>::is_nan(acc) => acc,
        _ if <T as Element>::is_nan(x) => x,
        Coarsen::Min => {
            if x < acc {
                x
            } else {
                acc
            }
        }
        Coarsen::Max => {
            if x > acc {
                x
            } else {
                acc
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_chunks_move_each_boundary_to_the_nearest_multiple() {
        assert_eq!(aligned_chunks(&[4, 8], 2), vec![4, 8]);
        assert_eq!(aligned_chunks(&[5, 5, 2], 2), vec![6, 4, 2]);
        assert_eq!(aligned_chunks(&[3, 5, 4], 3), vec![3, 6, 3]);
        // One-element chunks merge into windows; a boundary past the end is dropped.
        assert_eq!(aligned_chunks(&[1; 6], 3), vec![3, 3]);
        assert_eq!(aligned_chunks(&[1, 7, 4], 6), vec![6, 6]);
        assert_eq!(aligned_chunks(&[5, 1], 6), vec![6]);
        assert_eq!(aligned_chunks(&[0], 4), vec![0]);
    }
}

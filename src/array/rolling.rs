//! Rolling-window reductions along one axis (NumPy's
//! `sliding_window_view(x, window, axis).<op>(axis=-1)`): one `map_overlap` whose blocks
//! grow by `window - 1` elements after them and none before, each reduced by the O(n)
//! sliding kernel of `chunkwise_kernels::rolling`. No graph node kind or executor path of
//! its own: elementwise work on the result fuses after it as after any blockwise node.

use chunkwise_kernels::dtype::{FloatElement, Numeric};
use chunkwise_kernels::rolling::{RollingOp, rolling, rolling_scratch};

use super::Array;
use super::map_blocks::invalid;
use super::map_overlap::{Boundary, MapOverlap};
use crate::error::Result;
use crate::ops::layout::normalize_axis;

/// Windows of `window` consecutive elements along one axis of an array, made by
/// [`Array::rolling`] and reduced by its methods ([`Rolling::sum`], [`Rolling::mean`],
/// [`Rolling::min`], [`Rolling::max`], [`Rolling::var`], [`Rolling::std`]).
///
/// A reduction has `n - window + 1` elements along the axis, element `i` reducing
/// `x[i..i + window]`, as NumPy's `sliding_window_view(x, window, axis).<op>(axis=-1)`;
/// the other axes are the array's. A window of 0, or longer than the axis, and an axis out
/// of range are [`BuildError`](crate::BuildError)s when the reduction is built.
///
/// The result's chunks are the array's along the axis up to where the windows end, the
/// last one shortened there (blocks that start past the last window give no block; none
/// is empty). Each block reads the `window - 1` elements after it from the tiles that hold
/// them, however many (a [`map_overlap`](Array::map_overlap) with depths
/// `(0, window - 1)` and untrimmed blocks of the given chunks), and reduces every lane in
/// O(length) whatever the window: no copy of the array is made.
///
/// ```
/// let x = chunkwise::from_ndarray(&ndarray::arr1(&[1., 2., 4., 7., 11., 16.]).into_dyn(), [2])?;
/// let sums = x.rolling(3, 0).sum()?;
/// assert_eq!(sums.compute()?.into_raw_vec_and_offset().0, vec![7., 13., 22., 34.]);
/// assert_eq!(sums.chunks().chunks(), vec![vec![2, 2]]);
/// assert_eq!(x.rolling(2, -1).max()?.compute()?.into_raw_vec_and_offset().0, vec![2., 4., 7., 11., 16.]);
/// assert!(x.rolling(7, 0).mean().is_err());
/// # Ok::<(), chunkwise::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Rolling<T: Numeric> {
    array: Array<T>,
    window: usize,
    axis: isize,
}

/// Rolling windows.
impl<T: Numeric> Array<T> {
    /// Windows of `window` consecutive elements along `axis` (negative counts from the
    /// end), to reduce with the methods of [`Rolling`].
    ///
    /// ```
    /// let x = chunkwise::arange::<f64>(0.0, 10.0, 1.0, [4])?;
    /// let means = x.rolling(4, 0).mean()?;
    /// assert_eq!(means.compute()?.into_raw_vec_and_offset().0, vec![1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn rolling(&self, window: usize, axis: isize) -> Rolling<T> {
        Rolling {
            array: self.clone(),
            window,
            axis,
        }
    }
}

/// Extremes over windows (any numeric type).
impl<T: Numeric> Rolling<T> {
    /// The smallest element of each window (NaN if the window holds one, as `np.min`).
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[3, 1, 4, 1, 5, 9, 2, 6]).into_dyn(), [3])?;
    /// let min = x.rolling(3, 0).min()?;
    /// assert_eq!(min.compute()?.into_raw_vec_and_offset().0, vec![1, 1, 1, 1, 2, 2]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn min(&self) -> Result<Array<T>> {
        self.reduce(RollingOp::Min, "min")
    }

    /// The largest element of each window (NaN if the window holds one, as `np.max`).
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[3, 1, 4, 1, 5, 9, 2, 6]).into_dyn(), [3])?;
    /// let max = x.rolling(3, 0).max()?;
    /// assert_eq!(max.compute()?.into_raw_vec_and_offset().0, vec![4, 4, 5, 9, 9, 9]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn max(&self) -> Result<Array<T>> {
        self.reduce(RollingOp::Max, "max")
    }

    /// The windows reduced by `op` (`name` for plans and errors).
    fn reduce(&self, op: RollingOp, name: &str) -> Result<Array<T>> {
        let op_name = format!("rolling {name}");
        let x = &self.array;
        x.check()?;
        let shape = x.shape();
        let axis = normalize_axis(self.axis, shape.len())?;
        let (n, w) = (shape[axis], self.window);
        if w == 0 || w > n {
            return Err(invalid(
                &op_name,
                format!(
                    "a window of {w} elements along axis {axis} of length {n} (shape \
                     {shape:?}); it must be 1 to {n}"
                ),
            ));
        }
        // Windows start at 0..m: block [s, e) holds those starting at s..min(e, m), so
        // the blocks that start at m or after hold none and give no output block (the
        // last block before them reads their elements as its halo).
        let m = n - w + 1;
        let mut chunks = x.chunks().chunks();
        let mut s = 0;
        let sizes: Vec<usize> = chunks[axis]
            .iter()
            .map_while(|&c| {
                let block = (s < m).then(|| (s + c).min(m) - s);
                s += c;
                block
            })
            .collect();
        let longest = chunks[axis].iter().max().copied().unwrap_or(0);
        chunks[axis] = sizes;
        let mut depths = vec![(0, 0); shape.len()];
        depths[axis] = (0, w - 1);
        let how = MapOverlap::new()
            .asymmetric_depths(depths)
            .boundary(Boundary::None)
            .trim(false)
            .chunks(chunks)
            .name(op_name)
            .scratch(rolling_scratch::<T>(longest + w - 1, w, op) as u64);
        x.map_overlap(&how, move |g, _| Ok(rolling(g.view(), axis, w, op)))
    }
}

/// Sums, means and variances over windows (floats; cast integers with `astype` first).
impl<T: FloatElement> Rolling<T> {
    /// The sum of each window, accumulated in f64 (compensated, and started over every
    /// `window` steps, so the error does not grow along the axis) and rounded to `T`: a NaN
    /// in the window gives NaN, an infinity that infinity (both signs: NaN).
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[1e16f64, 1., 1., 1., 1.]).into_dyn(), [2])?;
    /// // Once 1e16 has left the window, the ones sum exactly.
    /// let sums = x.rolling(2, 0).sum()?;
    /// assert_eq!(sums.compute()?.into_raw_vec_and_offset().0, vec![1e16 + 1., 2., 2., 2.]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn sum(&self) -> Result<Array<T>> {
        self.reduce(RollingOp::Sum, "sum")
    }

    /// The mean of each window (its [`sum`](Rolling::sum) over `window`).
    ///
    /// ```
    /// let x = chunkwise::arange::<f32>(0.0, 6.0, 1.0, [2])?;
    /// let means = x.rolling(3, 0).mean()?;
    /// assert_eq!(means.compute()?.into_raw_vec_and_offset().0, vec![1.0f32, 2., 3., 4.]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn mean(&self) -> Result<Array<T>> {
        self.reduce(RollingOp::Mean, "mean")
    }

    /// The variance of each window with `ddof` delta degrees of freedom (running sums of
    /// deviations from a shift near the window's mean, in f64): NaN if the window holds a
    /// NaN or an infinity. The squared deviations are divided by `max(window - ddof, 0)`,
    /// as [`Array::var`] and NumPy divide: where that is 0, the variance is an infinity, or
    /// NaN if the window holds one value repeated.
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[1., 3., 5., 7., 9., 9., 9.]).into_dyn(), [2])?;
    /// let var = x.rolling(3, 0).var(1.0)?.compute()?;
    /// assert_eq!(var.as_slice().unwrap()[..3], [4., 4., 4.]);
    /// assert_eq!(var[[4]], 0.0); // one value repeated: exactly 0
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn var(&self, ddof: f64) -> Result<Array<T>> {
        self.reduce(RollingOp::Var { ddof }, "var")
    }

    /// The standard deviation of each window (the square root of [`var`](Rolling::var)).
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[2., 4., 4., 4., 5., 5., 7., 9.]).into_dyn(), [3])?;
    /// let std = x.rolling(8, 0).std(0.0)?;
    /// assert_eq!(std.compute()?.into_raw_vec_and_offset().0, vec![2.]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn std(&self, ddof: f64) -> Result<Array<T>> {
        self.reduce(RollingOp::Std { ddof }, "std")
    }
}

//! Scans along an axis: `cumsum`, `cumprod`, their NaN-skipping forms, and `scan` with any
//! associative operation. Elementwise work before a scan fuses into the tiles it reads,
//! and elementwise work after it reads its tiles in place.

use chunkwise_kernels::dtype::{Element, Numeric};

use super::{Array, where_};
use crate::error::Result;
use crate::ops::layout::normalize_axis;
use crate::ops::scan::scan;

/// Scans.
impl<T: Element> Array<T> {
    /// The inclusive scan along `axis` by `op`: element `i` of the result is
    /// `op(... op(x[0], x[1]) ..., x[i])`. `op` must be associative (tiles are scanned on
    /// their own and joined by carries); it is applied left to right, so it need not
    /// commute. A panic in `op` is an error naming the tile
    /// ([`ExecError::TaskPanicked`](crate::ExecError::TaskPanicked)).
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[3, 1, 4, 1, 5, 9, 2]), [3]).unwrap();
    /// let running_max = x.scan(0, |a, b| a.max(b)).unwrap().compute().unwrap();
    /// assert_eq!(running_max.into_raw_vec_and_offset().0, vec![3, 3, 4, 4, 5, 9, 9]);
    /// ```
    pub fn scan(
        &self,
        axis: isize,
        op: impl Fn(T, T) -> T + Send + Sync + 'static,
    ) -> Result<Array<T>> {
        self.check()?;
        let axis = normalize_axis(axis, self.ndim())?;
        let op = std::sync::Arc::new(op);
        Ok(Array::from_node(scan(
            &self.node,
            axis,
            move |a, b| op(a, b),
            "scan",
        )))
    }

    /// Cumulative sum along `axis`, in [`Element::Sum`] as NumPy's `cumsum` (integers and
    /// `bool` in 64 bits, wrapping on overflow; floats in their own type). As Dask's, each
    /// tile is summed in order and the sum of the tiles before it added after, so float
    /// results may differ from NumPy's in the last bits, and with the chunks.
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr2(&[[1u8, 2], [3, 4], [250, 6]]), [2, 1]).unwrap();
    /// let c = x.cumsum(0).unwrap().compute().unwrap();
    /// assert_eq!(c, ndarray::arr2(&[[1u64, 2], [4, 6], [254, 12]]).into_dyn());
    /// ```
    pub fn cumsum(&self, axis: isize) -> Result<Array<T::Sum>> {
        self.astype::<T::Sum>()
            .accumulate(axis, <T::Sum as Numeric>::add, "cumsum")
    }

    /// Cumulative product along `axis`, in [`Element::Sum`] (see [`Array::cumsum`]).
    pub fn cumprod(&self, axis: isize) -> Result<Array<T::Sum>> {
        self.astype::<T::Sum>()
            .accumulate(axis, <T::Sum as Numeric>::mul, "cumprod")
    }

    /// Cumulative sum along `axis` with NaN read as 0, as NumPy's `nancumsum`.
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[1.0, f64::NAN, 2.0]), [2]).unwrap();
    /// let c = x.nancumsum(0).unwrap().compute().unwrap();
    /// assert_eq!(c.into_raw_vec_and_offset().0, vec![1.0, 1.0, 3.0]);
    /// ```
    pub fn nancumsum(&self, axis: isize) -> Result<Array<T::Sum>> {
        self.without_nan(<T::Sum as Numeric>::ZERO).accumulate(
            axis,
            <T::Sum as Numeric>::add,
            "nancumsum",
        )
    }

    /// Cumulative product along `axis` with NaN read as 1, as NumPy's `nancumprod`.
    pub fn nancumprod(&self, axis: isize) -> Result<Array<T::Sum>> {
        self.without_nan(<T::Sum as Numeric>::ONE).accumulate(
            axis,
            <T::Sum as Numeric>::mul,
            "nancumprod",
        )
    }

    /// This array in [`Element::Sum`], NaN replaced by `fill` (fused, no tile of its own).
    fn without_nan(&self, fill: T::Sum) -> Array<T::Sum> {
        where_(&self.map(T::is_nan), fill, self.astype::<T::Sum>())
    }
}

impl<S: Numeric> Array<S> {
    /// The scan by a built-in operation, named `name` in plans.
    fn accumulate(&self, axis: isize, op: fn(S, S) -> S, name: &str) -> Result<Array<S>> {
        self.check()?;
        let axis = normalize_axis(axis, self.ndim())?;
        Ok(Array::from_node(scan(&self.node, axis, op, name)))
    }
}

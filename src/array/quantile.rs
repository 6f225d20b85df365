//! Quantiles, percentiles and medians over any axes, as NumPy's (`method` as NumPy's, the
//! linear one by default). The reduced axes are made whole in each task inside the plan
//! (the other axes split so each task stays small): never an error asking for a rechunk.

use chunkwise_kernels::dtype::Numeric;
pub use chunkwise_kernels::quantile::QuantileMethod;

use super::{Array, Reduction};
use crate::error::{BuildError, Error, Result};
use crate::graph::Node;
use crate::ops::quantile::{QuantileSpec, quantiles};
use crate::ops::reduction::reduced_axes;

/// Quantiles.
impl<T: Numeric> Array<T> {
    /// The quantile `q` (in [0, 1]) over the axes `how` names (keepdims as it says), by
    /// `method`; NaN where a lane holds NaN, as NumPy's `quantile`.
    ///
    /// ```
    /// use chunkwise::{QuantileMethod, Reduction};
    /// let x = chunkwise::from_ndarray(&ndarray::arr2(&[[1.0, 9.0], [3.0, 5.0], [2.0, 7.0]]), [2, 1]).unwrap();
    /// let q = x.quantile(0.5, &Reduction::axis(0), QuantileMethod::Linear).compute().unwrap();
    /// assert_eq!(q.into_raw_vec_and_offset().0, vec![2.0, 7.0]);
    /// ```
    pub fn quantile(&self, q: f64, how: &Reduction, method: QuantileMethod) -> Array<T::Real> {
        self.quantiles_by(&[q], how, method, false, false)
    }

    /// Several quantiles at once: a leading axis of `qs.len()`, as NumPy's `quantile` of a
    /// list (each lane is gathered once for all of them).
    pub fn quantiles(&self, qs: &[f64], how: &Reduction, method: QuantileMethod) -> Array<T::Real> {
        self.quantiles_by(qs, how, method, false, true)
    }

    /// [`Array::quantile`] leaving NaN out (NaN where a lane is all NaN), as NumPy's
    /// `nanquantile`.
    pub fn nanquantile(&self, q: f64, how: &Reduction, method: QuantileMethod) -> Array<T::Real> {
        self.quantiles_by(&[q], how, method, true, false)
    }

    /// [`Array::quantiles`] leaving NaN out.
    pub fn nanquantiles(
        &self,
        qs: &[f64],
        how: &Reduction,
        method: QuantileMethod,
    ) -> Array<T::Real> {
        self.quantiles_by(qs, how, method, true, true)
    }

    /// The percentile `p` (in [0, 100]): [`Array::quantile`] of `p / 100`.
    pub fn percentile(&self, p: f64, how: &Reduction, method: QuantileMethod) -> Array<T::Real> {
        self.quantile(p / 100.0, how, method)
    }

    /// The median over all axes (the linear quantile 0.5), as NumPy's `median`.
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[4.0, 1.0, 3.0, 2.0]), [3]).unwrap();
    /// assert_eq!(x.median().compute_scalar().unwrap(), 2.5);
    /// ```
    pub fn median(&self) -> Array<T::Real> {
        self.median_with(&Reduction::all())
    }

    /// The median along `axis`.
    pub fn median_axis(&self, axis: isize) -> Array<T::Real> {
        self.median_with(&Reduction::axis(axis))
    }

    /// The median as `how` says (axes, keepdims).
    pub fn median_with(&self, how: &Reduction) -> Array<T::Real> {
        self.quantile(0.5, how, QuantileMethod::Linear)
    }

    /// The median leaving NaN out, as NumPy's `nanmedian`.
    pub fn nanmedian_with(&self, how: &Reduction) -> Array<T::Real> {
        self.nanquantile(0.5, how, QuantileMethod::Linear)
    }

    /// The quantiles node, or the error of a bad argument.
    fn quantiles_by(
        &self,
        qs: &[f64],
        how: &Reduction,
        method: QuantileMethod,
        skip_nan: bool,
        q_axis: bool,
    ) -> Array<T::Real> {
        let fail = |e: Error| {
            Array::from_node(Node::invalid(
                e,
                <T::Real as chunkwise_kernels::dtype::Element>::DTYPE,
            ))
        };
        if let Err(e) = self.check() {
            return fail(e);
        }
        if let Err(e) = qs.iter().try_for_each(|&q| check_quantile(q)) {
            return fail(e);
        }
        let reduced = match reduced_axes(how.axes.as_deref(), self.ndim(), "quantile") {
            Ok(reduced) => reduced,
            Err(e) => return fail(e),
        };
        if reduced
            .iter()
            .zip(self.shape())
            .any(|(&r, len)| r && len == 0)
        {
            return fail(Error::Build(BuildError::EmptyReduction {
                op: "quantile".into(),
            }));
        }
        let spec = QuantileSpec {
            qs: qs.to_vec(),
            method,
            skip_nan,
            keepdims: how.keepdims,
        };
        let all = Array::from_node(quantiles::<T>(&self.node, &reduced, spec));
        match q_axis {
            true => all,
            false => all.squeeze(Some(&[0])).unwrap_or_else(fail),
        }
    }
}

/// An error unless `q` is a quantile, in [0, 1] (NaN is not).
pub(crate) fn check_quantile(q: f64) -> Result<()> {
    match (0.0..=1.0).contains(&q) {
        true => Ok(()),
        false => Err(Error::Build(BuildError::InvalidArgument {
            op: "quantile".into(),
            reason: format!("quantiles must be in [0, 1] (percentiles in [0, 100]), got {q}"),
        })),
    }
}

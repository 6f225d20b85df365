//! Vector and matrix norms, as reductions.

use chunkwise_kernels::dtype::FloatElement;

use crate::array::{Array, Reduction};
use crate::error::{BuildError, Error, Result};

/// Which norm [`Array::norm`] computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    /// Vectors: the sum of absolute values; matrices: the largest column sum of them.
    One,
    /// Vectors: the Euclidean norm; matrices: the spectral norm (largest singular value,
    /// through [`svd`](super::svd), so tall-and-skinny or short-and-wide matrices; a NaN
    /// or an infinity in the matrix gives
    /// [`LinalgError::NotFinite`](crate::LinalgError::NotFinite), as in `svd`).
    Two,
    /// Vectors: the largest absolute value; matrices: the largest row sum of them.
    Inf,
    /// Matrices (and vectors): the square root of the sum of squares.
    Frobenius,
}

/// Norms.
impl<T: FloatElement> Array<T> {
    /// The norm of a vector or matrix (NumPy's `linalg.norm` with `ord` 1, 2, inf, 'fro'),
    /// as a 0-d array. The spectral norm of a matrix refuses NaNs and infinities (see
    /// [`Norm::Two`]); the other norms are reductions and treat them as reductions do.
    ///
    /// ```
    /// use chunkwise::Norm;
    /// let v = chunkwise::from_ndarray(&ndarray::arr1(&[3.0, -4.0]), [1]).unwrap();
    /// assert_eq!(v.norm(Norm::Two).unwrap().compute_scalar().unwrap(), 5.0);
    /// assert_eq!(v.norm(Norm::Inf).unwrap().compute_scalar().unwrap(), 4.0);
    /// ```
    pub fn norm(&self, norm: Norm) -> Result<Array<T>> {
        self.check()?;
        let abs = self.abs();
        match (self.ndim(), norm) {
            // As NumPy: every norm of an empty vector or matrix is 0.
            (1 | 2, _) if self.shape().contains(&0) => crate::zeros(&[], Vec::<usize>::new()),
            (1, Norm::One) => Ok(abs.sum()),
            (1, Norm::Inf) => Ok(abs.max()),
            (1, Norm::Two) | (1 | 2, Norm::Frobenius) => Ok(self.powi(2).sum().sqrt()),
            (2, Norm::One) => Ok(abs.sum_with(&Reduction::axis(0)).max()),
            (2, Norm::Inf) => Ok(abs.sum_with(&Reduction::axis(1)).max()),
            (2, Norm::Two) => Ok(super::svd::svd_checking("norm", self)?.1.max()),
            (ndim, _) => Err(Error::Build(BuildError::InvalidArgument {
                op: "norm".into(),
                reason: format!("an array of {ndim} axes (vectors and matrices only)"),
            })),
        }
    }
}

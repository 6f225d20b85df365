//! Matrix products (`matmul` with NumPy's batching and broadcasting, `dot`, `outer`), as
//! contractions.

use chunkwise_kernels::dtype::FloatElement;

use super::contract::{Spec, contract};
use crate::array::Array;
use crate::error::{BuildError, Error, Result};

/// Matrix products.
impl<T: FloatElement> Array<T> {
    /// The matrix product `self @ other`, as NumPy's `matmul`: 2-D operands are matrices;
    /// a 1-D operand is a vector (`matrix @ vector` and `vector @ matrix` give vectors);
    /// operands with more axes are stacks of matrices in their last two axes, and their
    /// leading (batch) axes broadcast against each other. Tiles along the inner dimension
    /// are aligned first (rechunked to the common refinement when they differ). Each output
    /// tile accumulates its k-panel products into one buffer (see [`tensordot`](super::tensordot)).
    /// A transposed operand (`x.transpose()`) is read as stored, through GEMM's transpose
    /// flag; `x @ x.T` and `x.T @ x` compute the upper triangle of tiles (the diagonal by
    /// `syrk`) and mirror it, so the result is exactly symmetric.
    ///
    /// ```
    /// let a = chunkwise::from_ndarray(&ndarray::arr2(&[[1.0, 2.0], [3.0, 4.0]]), [1, 2]).unwrap();
    /// let v = chunkwise::from_ndarray(&ndarray::arr1(&[1.0, -1.0]), [1]).unwrap();
    /// assert_eq!(a.matmul(&v).unwrap().compute().unwrap().into_raw_vec_and_offset().0, vec![-1.0, -1.0]);
    /// ```
    pub fn matmul(&self, other: &Array<T>) -> Result<Array<T>> {
        self.check()?;
        other.check()?;
        let (na, nb) = (self.ndim(), other.ndim());
        if na == 0 || nb == 0 {
            return Err(Error::Build(BuildError::InvalidArgument {
                op: "matmul".into(),
                reason: "0-d operands (use multiplication for scalars)".into(),
            }));
        }
        // Letters: batch axes from 'a' on (aligned from the right), then rows 'x', inner 'y',
        // columns 'z'. A vector operand has no batch, rows or columns axis.
        let batch = |ndim: usize| -> Vec<char> {
            let count = ndim.saturating_sub(2);
            let total = na.max(nb).saturating_sub(2);
            (total - count..total).map(batch_letter).collect()
        };
        let a: Vec<char> = match na {
            1 => vec!['y'],
            _ => batch(na).into_iter().chain(['x', 'y']).collect(),
        };
        let b: Vec<char> = match nb {
            1 => vec!['y'],
            _ => batch(nb).into_iter().chain(['y', 'z']).collect(),
        };
        let total = na.max(nb).saturating_sub(2);
        let mut out: Vec<char> = (0..total).map(batch_letter).collect();
        if na > 1 {
            out.push('x');
        }
        if nb > 1 {
            out.push('z');
        }
        contract("matmul", self, other, &Spec { a, b, out }, true)
    }
}

/// The letter of batch axis `i` (at most 23 batch axes).
fn batch_letter(i: usize) -> char {
    char::from(b'a' + i as u8)
}

/// Products of vectors.
impl<T: FloatElement> Array<T> {
    /// NumPy's `dot`: the dot product of two vectors (a 0-d array), the matrix product of
    /// matrices (as [`Array::matmul`]), a product by a 0-d operand, and for more axes the
    /// sum over the last axis of `self` and the second-to-last of `other` (its only axis for
    /// a vector): the result has `self`'s other axes, then `other`'s. (Unlike `matmul`,
    /// stacks of matrices are not paired: each of `self`'s meets each of `other`'s.)
    ///
    /// ```
    /// let a = chunkwise::ones::<f64>(&[2, 3, 4], [1, 3, 2]).unwrap();
    /// let b = chunkwise::ones::<f64>(&[5, 4, 6], [5, 2, 3]).unwrap();
    /// let d = a.dot(&b).unwrap().compute().unwrap();
    /// assert_eq!(d.shape(), &[2, 3, 5, 6]);
    /// assert!(d.iter().all(|&v| v == 4.0));
    /// ```
    pub fn dot(&self, other: &Array<T>) -> Result<Array<T>> {
        match (self.ndim(), other.ndim()) {
            (0, _) | (_, 0) => Ok(self * other),
            (1 | 2, 1 | 2) => self.matmul(other),
            (_, 1) => super::tensordot(self, other, &[-1], &[0]),
            _ => super::tensordot(self, other, &[-1], &[-2]),
        }
    }

    /// The outer product of two vectors: `out[i, j] = self[i] * other[j]`.
    ///
    /// ```
    /// let a = chunkwise::arange::<f64>(1.0, 3.0, 1.0, [1]).unwrap();
    /// let b = chunkwise::arange::<f64>(1.0, 4.0, 1.0, [2]).unwrap();
    /// let o = a.outer(&b).unwrap().compute().unwrap();
    /// assert_eq!(o[[1, 2]], 6.0);
    /// ```
    pub fn outer(&self, other: &Array<T>) -> Result<Array<T>> {
        if self.ndim() != 1 || other.ndim() != 1 {
            return Err(Error::Build(BuildError::InvalidArgument {
                op: "outer".into(),
                reason: format!(
                    "operands with {} and {} axes (vectors only)",
                    self.ndim(),
                    other.ndim()
                ),
            }));
        }
        Ok(&self.insert_axis(1)? * &other.insert_axis(0)?)
    }
}

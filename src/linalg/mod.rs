//! Linear algebra on tiled matrices, built from the graph's primitives and tile kernels.
//!
//! - [`Array::matmul`], `dot`, `outer`, [`tensordot`], [`einsum`]: products whose output
//!   tiles accumulate their k-panel products in one buffer, reading transposed operands
//!   through GEMM's transpose flag (`x @ x.T` by `syrk` on its upper triangle of tiles);
//!   the products of a tall matrix's row tiles computed together read each tile once.
//! - [`qr`] (TSQR), [`svd`], [`svd_compressed`]: for tall-and-skinny or short-and-wide
//!   matrices.
//! - [`cholesky`], [`lu`], [`solve`], [`solve_triangular`], [`lstsq`], [`inv`]: tile
//!   algorithms on square matrices.
//!
//! Every factorization and solver (and `norm(Norm::Two)`, which takes an SVD) checks its
//! inputs tile by tile before factoring: a NaN or an infinity where it reads gives
//! [`crate::LinalgError::NotFinite`], naming the input, the tile
//! and the element, never a result. Products (`matmul`, `tensordot`,
//! `einsum`) do not check: NaNs and infinities propagate through them as IEEE arithmetic
//! says.
//!
//! ```
//! use chunkwise::{Error, LinalgError};
//! let a = ndarray::arr2(&[[1.0, 2.0], [f64::NAN, 4.0], [5.0, 6.0], [7.0, 9.0]]);
//! let (q, _) = chunkwise::linalg::qr(&chunkwise::from_ndarray(&a, [2, 2]).unwrap()).unwrap();
//! match q.compute().unwrap_err() {
//!     Error::Linalg(LinalgError::NotFinite { index, tile, .. }) => {
//!         assert_eq!((index, tile), (vec![1, 0], vec![0, 0]));
//!     }
//!     other => panic!("{other}"),
//! }
//! ```

mod cholesky;
mod contract;
mod contract_stages;
mod einsum;
mod finite;
mod lu;
mod matmul;
mod norm;
mod operand;
mod qr;
mod solve;
mod stage;
mod svd;
mod triangle;
mod triangular;

pub use cholesky::cholesky;
pub use contract::LINK_INPUT_BYTES;
pub use einsum::{einsum, tensordot};
pub use lu::lu;
pub use norm::Norm;
pub use qr::qr;
pub use solve::{Lstsq, inv, lstsq, solve};
pub use svd::{SvdCompressed, svd, svd_compressed};
pub use triangle::{tril, triu};
pub use triangular::solve_triangular;

use chunkwise_kernels::dtype::{Element, FloatElement};

use crate::array::Array;
use crate::error::{BuildError, Error, LinalgError, Result};
use finite::{Region, checked};

/// The shape of a matrix operand, or an error naming `op` for other dimensions.
fn matrix_shape<T: Element>(op: &str, a: &Array<T>) -> Result<(usize, usize)> {
    a.check()?;
    match a.shape()[..] {
        [m, n] => Ok((m, n)),
        _ => Err(Error::Build(BuildError::InvalidArgument {
            op: op.into(),
            reason: format!("a matrix (2 axes) is needed, found shape {:?}", a.shape()),
        })),
    }
}

/// The size of a square matrix operand, or an error naming `op`.
fn square_size<T: Element>(op: &str, a: &Array<T>) -> Result<usize> {
    match matrix_shape(op, a)? {
        (m, n) if m == n => Ok(m),
        _ => Err(Error::Linalg(LinalgError::NotSquare {
            op: op.into(),
            shape: a.shape(),
        })),
    }
}

/// The largest magnitude of the elements of `x`, as a 0-d array: the scale a pivot is zero
/// against (0 for an empty `x`, whose factors have no pivot).
fn largest_magnitude<T: FloatElement>(x: &Array<T>) -> Result<Array<T>> {
    match x.len() {
        0 => crate::full(&[], T::from_f64(0.0), Vec::<usize>::new()),
        _ => Ok(x.abs().max()),
    }
}

/// Solves for a right-hand side `b` of `n` rows, checked to be finite (input "b" of `op`):
/// see [`column_wise`]. Shape errors name `op`.
fn with_rhs<T: FloatElement>(
    op: &str,
    n: usize,
    b: &Array<T>,
    solve_matrix: impl FnOnce(&Array<T>) -> Result<Array<T>>,
) -> Result<Array<T>> {
    b.check()?;
    let as_matrix = match b.ndim() {
        1 => b.insert_axis(1)?,
        _ => b.clone(),
    };
    let (rows, _) = matrix_shape(&format!("{op} (right-hand side)"), &as_matrix)?;
    if rows != n {
        return Err(Error::Build(BuildError::ShapeMismatch {
            op: format!("{op} (rows of b)"),
            expected: vec![n],
            found: vec![rows],
        }));
    }
    column_wise(&checked(op, "b", b, Region::All), solve_matrix)
}

/// `solve_matrix(b)` for a matrix `b`; a vector is solved as a one-column matrix and comes
/// back as a vector.
fn column_wise<T: FloatElement>(
    b: &Array<T>,
    solve_matrix: impl FnOnce(&Array<T>) -> Result<Array<T>>,
) -> Result<Array<T>> {
    match b.ndim() {
        1 => solve_matrix(&b.insert_axis(1)?)?.squeeze(Some(&[1])),
        _ => solve_matrix(b),
    }
}

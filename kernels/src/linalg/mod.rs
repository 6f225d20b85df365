//! Dense linear algebra on one tile: GEMM through CBLAS ([`blas`]), factorizations and
//! triangular solves through faer ([`factor`]), all on the calling thread.

mod blas;
mod factor;
#[cfg(test)]
mod tests;

pub use blas::{BLAS_LIBRARY, BlasScalar, Op, gemm, with_blas_threads};
pub use factor::{
    HouseholderQr, SvdFactors, Triangular, cholesky_lower, lu_partial_pivoting, solve_left,
    solve_right, thin_svd, transpose_into,
};

//! Dense linear algebra on one tile: GEMM and SYRK through BLAS (`blas`; BLIS's
//! typed API with kernels chosen for the CPU in `blis`) or faer (`faer_gemm`), factorizations and
//! triangular solves through faer (`factor`), the QR of a TSQR tile (`tile_qr`), all on
//! the calling thread, and the check for NaNs and infinities that callers run on a tile
//! before factoring it (`finite`).

mod blas;
#[cfg(feature = "blis")]
mod blis;
mod factor;
#[cfg(feature = "faer-gemm")]
mod faer_gemm;
mod finite;
mod gram;
#[cfg(test)]
mod scratch_tests;
#[cfg(test)]
mod tests;
mod tile_qr;

pub use blas::{
    BLAS_LIBRARY, BlasScalar, MatrixRef, Op, blas_kernels, gemm, gemm_strided, gemm_uninit,
    mirror_upper, syrk, syrk_strided, with_blas_threads,
};
pub use factor::{
    SvdFactors, Triangular, cholesky_lower, cholesky_lower_scratch, lu_partial_pivoting,
    lu_partial_pivoting_scratch, lu_partial_pivoting_within, solve_left, solve_right, thin_svd,
    thin_svd_scratch, transpose_into,
};
pub use finite::{Region, all_finite, first_non_finite};
pub use gram::{add_gram, add_gram_scratch};
pub use tile_qr::{GRAM_TOLERANCE, QrMethod, TileQr};

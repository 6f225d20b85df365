//! Per-tile compute kernels of chunkwise.
//!
//! Pure compute on slices and `ndarray` views: no graph, no executor, no I/O.
//! - [`bytes`]: fixed-width encodings of elements and reduction states.
//! - [`dtype`]: element types and run-time typed strips.
//! - [`strip`]: fused elementwise programs evaluated strip by strip.
//! - [`reduce`]: reductions of tiles over axes into partial states.
//! - [`histogram`]: binning values as NumPy's `histogram`, `digitize` and `bincount`.
//! - [`rolling`]: reductions over sliding windows along an axis, O(n) per lane.
//! - [`quantile`]: quantiles of lanes by selection.
//! - [`scan`]: cumulative sums, products and other scans of a tile along an axis.
//! - [`topk`]: the k largest or smallest values of a run, and sorting as NumPy orders.
//! - [`select`]: the elements of a tile that a boolean mask selects.
//! - [`unique`]: the sorted distinct values of a tile, with counts, and merges of them.
//! - [`math`]: vectorised math functions on strips.
//! - [`random`]: counter-based random numbers keyed by seed and element position.
//! - [`linalg`]: GEMM through BLAS, tile factorizations and triangular solves.

pub mod bytes;
pub mod dtype;
pub mod histogram;
pub mod linalg;
pub mod math;
pub mod quantile;
pub mod random;
pub mod reduce;
pub mod rolling;
pub mod scan;
pub mod select;
pub mod simd;
pub mod strip;
pub mod topk;
pub mod unique;
pub mod view;

/// The tests' one pseudo-random generator (shared with the main crate's tests).
#[cfg(test)]
#[path = "../../tests/common/rng.rs"]
mod test_rng;

#[cfg(not(any(feature = "blis", feature = "openblas", feature = "faer-gemm")))]
compile_error!(
    "chunkwise-kernels needs a GEMM for tiles: enable the `blis` feature (the default), \
     `openblas` or `faer-gemm`"
);
#[cfg(any(
    all(feature = "blis", feature = "openblas"),
    all(feature = "blis", feature = "faer-gemm"),
    all(feature = "openblas", feature = "faer-gemm"),
))]
compile_error!(
    "enable one GEMM: `blis` (the default), or `openblas` or `faer-gemm` with \
     default-features = false"
);

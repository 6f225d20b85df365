//! Lazy, chunked n-dimensional arrays: the model of Dask Array, compiled.
//!
//! An [`Array<T>`] is a NumPy-style array cut into tiles. Operations build a graph;
//! [`Array::compute`] optimises it (elementwise chains fuse into one strip kernel per tile,
//! and into the reductions they feed), then runs the tile tasks on a rayon pool inside a
//! memory budget and returns an `ndarray::ArrayD`.
//!
//! ```
//! use chunkwise::prelude::*;
//!
//! let x = chunkwise::random::uniform::<f64>(1, 0.0, 1.0, &[1000, 1000], [250, 250])?;
//! let y = chunkwise::random::uniform::<f64>(2, 0.0, 1.0, &[1000, 1000], [250, 250])?;
//! let total = (x.sin().powi(2) + y.cos().powi(2) * 2.0 - &x / (&y + 1.0)).sum();
//! let value = total.compute_scalar()?;
//! assert!(value > 0.0);
//! # Ok::<(), chunkwise::Error>(())
//! ```
//!
//! Embedding: the library changes no process-wide state by itself (no `setenv`, `mallopt`
//! or `madvise`); an application that mostly runs chunkwise may call [`tune_allocator`] at
//! the start of `main`. The default memory budget follows the cgroup limit where there is
//! one ([`physical_memory`]). Plans, computations, tasks and Zarr reads and writes are
//! `tracing` spans (`plan`, `compute`, `task`, `zarr_read`, `zarr_write`). Cargo features
//! choose the tile GEMM: `blis` (the default), `openblas` or `faer-gemm`; `object-store`
//! adds Zarr on S3 and HTTPS (`zarr::open("s3://bucket/data.zarr", "tas")`).
//!
//! Layers, each a folder, each importing only the layers below it (unit tests aside; see
//! the README's "Architecture"): `io` and `linalg` (storage and linear algebra, on the
//! array API), `array` (this API), `exec` (the driver, lowering to tile tasks, the
//! executor), `optimize` (graph passes), `ops` (operations that build graph nodes, such as
//! the blockwise builder), `graph` (nodes of a few primitive kinds), `tile` (what a task
//! reads, computes and returns), `chunks` (grid arithmetic), and the `chunkwise-kernels`
//! crate (per-tile compute).

mod array;
mod chunks;
mod error;
mod exec;
mod graph;
pub mod io;
pub mod linalg;
pub use linalg::Norm;
mod ops;
mod optimize;
mod tile;

/// The tests' one pseudo-random generator (tests/common/rng.rs).
#[cfg(test)]
#[path = "../tests/common/rng.rs"]
mod test_rng;

pub use array::index_blockwise::{BlockwiseOptions, blockwise};
pub use array::map_blocks::{BlockInfo, BlockResult, BoxError, MapBlocks, map_blocks};
pub use array::map_overlap::{Boundary, MapOverlap, map_overlap};
pub use array::user_reduction::reduction;
pub use array::{
    Array, Batch, Bins, Block, Coarsen, Computed, CoreResult, GroupBy, GroupFunc, Gufunc, Handle,
    Indices, IntoOperand, Operand, Pad, QuantileMethod, Reduction, Rolling, Selection, Unique,
    apply_gufunc, arange, block, block_nested, compute_many, compute_many_report,
    compute_many_with, concatenate, eye, from_fn, from_ndarray, full, histogram2d, histogramdd,
    histogramdd_weighted, linspace, ones, random, stack, where_, zeros,
};
pub use chunks::{ChunkGrid, Chunks, DEFAULT_TILE_BYTES, GroupMethod};
pub use chunkwise_kernels::dtype::{DType, Element, FloatElement, Numeric};
pub use error::{BuildError, Error, ExecError, LinalgError, PlanError, Result, StorageError};
pub use exec::{Config, Report, TraceEvent, physical_memory, tune_allocator};

/// One computation on the processes of an MPI job (the `mpi` feature): every process runs
/// the same program; each computes its share of the tiles and the tiles others read move
/// between them. See the README's section "Many processes: MPI".
#[cfg(feature = "mpi")]
pub mod mpi {
    pub use crate::exec::mpi::{Cluster, DEFAULT_EXCHANGE_TIMEOUT, Gather};
}
pub use ops::reduction::DEFAULT_SPLIT_EVERY;

/// The common imports: `use chunkwise::prelude::*;`.
pub mod prelude {
    pub use crate::{Array, Chunks, Config, Element, FloatElement, Numeric, Reduction};
}

//! Running graphs: the driver (optimise, plan, run, collect), the lowering to tile tasks,
//! the [`Executor`](run::Executor) seam, and the memory-bounded executor on a rayon pool.

mod allocator;
mod config;
mod driver;
mod memory;
#[cfg(any(feature = "mpi", test))]
pub(crate) mod mpi;
mod order;
mod plan;
mod prefetch;
mod progress;
mod run;
mod task;
mod trace;

pub use allocator::tune_allocator;
pub use config::Config;
pub(crate) use driver::{
    compute_dense, compute_tiles, compute_tiles_many, optimized, plan_for, run_sinks,
};
pub(crate) use memory::check_built_bytes;
pub use memory::physical_memory;
pub use run::Report;
pub use trace::TraceEvent;

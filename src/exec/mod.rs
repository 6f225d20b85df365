//! Lowering to tile tasks, and the memory-bounded executor on a rayon pool.

mod allocator;
mod config;
mod plan;
mod progress;
mod run;
mod task;
mod trace;

pub(crate) use allocator::advise_huge_pages;
pub use config::{Config, physical_memory};
pub(crate) use plan::Plan;
pub use run::Report;
pub(crate) use run::{Sink, execute};
pub use trace::TraceEvent;

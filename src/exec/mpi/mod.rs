//! Running one plan on the processes of an MPI job: every process builds the same program
//! and plan, runs the tasks placed on it (see [`place`]) and moves tiles to the processes
//! that read them (see [`link`]).

#[cfg(feature = "mpi")]
mod alive;
#[cfg(feature = "mpi")]
mod cluster;
#[cfg(feature = "mpi")]
mod link;
mod place;
#[cfg(feature = "mpi")]
mod tally;

#[cfg(feature = "mpi")]
pub use cluster::{Cluster, DEFAULT_EXCHANGE_TIMEOUT, Gather};
#[cfg(feature = "mpi")]
pub(crate) use link::MpiExecutor;

//! How a blockwise node computes its tiles: which input tiles each output tile reads, what
//! it computes from them, and how much memory that takes.

use std::fmt::Debug;

use super::value::{TupleTile, Value};
use crate::error::Result;

/// The memory one tile's task needs besides its input tiles (which the planner counts as
/// the results of the tasks that made them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TileMemory {
    /// Bytes of the tile the task returns (all parts of a tuple).
    pub(crate) output: u64,
    /// Working memory while it runs: copies, workspace of a factorization.
    pub(crate) scratch: u64,
}

/// How a blockwise node maps output blocks to input blocks, and computes a tile.
pub(crate) trait BlockMap: Send + Sync + Debug {
    /// A short name for plans.
    fn name(&self) -> String;
    /// The input blocks that output block `block` reads: (input number, block index).
    fn deps(&self, block: &[usize]) -> Vec<(usize, Vec<usize>)>;
    /// Computes output block `block` (of `shape`) from the tiles of `deps(block)`, in order.
    fn run(&self, block: &[usize], shape: &[usize], inputs: &[&Value]) -> Result<Value>;
    /// The memory of the task of `block` (of `shape`).
    fn memory(&self, block: &[usize], shape: &[usize]) -> TileMemory;
    /// The map as [`Any`](std::any::Any), for the code that recognises maps of a known type
    /// (an axis permutation that a contraction reads through, partial products that a pass
    /// merges); `None` for maps nobody looks into.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
    /// Whether a block's task must run where the tile of its first dependency is (a tile
    /// that does not travel between processes, such as QR factors): what a distributed run
    /// places it by.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))] // used by the `mpi` executor
    fn runs_beside_first_input(&self) -> bool {
        false
    }
    /// Why the node's tiles can be computed only within one process (they read what only
    /// that process wrote, such as its own scratch array), if they can: a distributed run
    /// refuses a plan holding the node.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))] // used by the `mpi` executor
    fn single_process(&self) -> Option<&str> {
        None
    }
}

/// A blockwise map that takes part `k` of its input's [`TupleTile`]s (or the whole tile, for
/// a plain one): of the same block, or of the one tile `from` when the result has one block
/// (a factor picked out of a factorization's tile). It returns a part that exists already;
/// its task still declares the part's bytes, as the executor counts every value it holds
/// (a part shared with a tuple still held is counted in both).
#[derive(Debug)]
pub(crate) struct Pick {
    pub(crate) k: usize,
    pub(crate) from: Option<Vec<usize>>,
    /// Bytes per element of the picked part.
    pub(crate) item_bytes: usize,
}

impl BlockMap for Pick {
    fn name(&self) -> String {
        format!("pick[{}]", self.k)
    }
    fn deps(&self, block: &[usize]) -> Vec<(usize, Vec<usize>)> {
        vec![(0, self.from.clone().unwrap_or_else(|| block.to_vec()))]
    }
    fn run(&self, _: &[usize], _: &[usize], inputs: &[&Value]) -> Result<Value> {
        Ok(match inputs[0].as_any().downcast_ref::<TupleTile>() {
            Some(_) => super::value::part(inputs[0], self.k)?,
            None => inputs[0].clone(),
        })
    }
    fn memory(&self, _: &[usize], shape: &[usize]) -> TileMemory {
        TileMemory {
            output: (shape.iter().product::<usize>() * self.item_bytes) as u64,
            scratch: 0,
        }
    }
}

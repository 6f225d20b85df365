//! Fetching the stored chunks of upcoming reads while earlier tasks compute.
//!
//! A source on object storage spends most of a task waiting on the network. So the
//! executor asks such sources, in plan order, to start fetching the tiles of the tasks that
//! read them (source tasks, and partial reductions that read a source themselves, see
//! `Task::read_node`) and have not started yet: at most `Config::io_concurrency` tasks
//! ahead, and only while the fetched bytes fit in the memory budget beside everything else
//! (they count like tiles started ahead of plan order, see `exec::run`). When a task
//! starts, its own reservation takes over its fetched bytes; the data is released when the
//! task has run.

use std::collections::HashMap;
use std::ops::Range;

use super::plan::Plan;
use crate::graph::{NodeKind, Source};
use crate::tile::{Prefetched, TileSource};

/// One task reading a source tile that can be fetched ahead.
struct Read<'a> {
    task: usize,
    source: &'a dyn TileSource,
    block: &'a [usize],
    ranges: Vec<Range<usize>>,
    /// What the fetched data holds at most until the task has run.
    bytes: u64,
}

/// The fetches ahead of one run (see the module's documentation).
pub(crate) struct Prefetcher<'a> {
    /// Tasks whose source tiles are fetched ahead, in plan order.
    reads: Vec<Read<'a>>,
    /// The first read not yet considered.
    cursor: usize,
    /// Fetched data per task, held until the task has run, and its bytes.
    held: HashMap<usize, (Prefetched, u64)>,
    /// Bytes of `held`.
    pub(crate) bytes: u64,
    /// The most tasks fetched ahead at once.
    window: usize,
}

impl<'a> Prefetcher<'a> {
    /// The tasks of `plan` whose source tiles are fetched ahead; none if `window` is 0.
    pub(crate) fn new(plan: &'a Plan, window: usize) -> Prefetcher<'a> {
        let reads = if window == 0 {
            Vec::new()
        } else {
            plan.tasks
                .iter()
                .enumerate()
                .filter_map(|(t, task)| {
                    let node = task.read_node()?;
                    let NodeKind::Source(Source::Tiles(source)) = &node.kind else {
                        return None;
                    };
                    let ranges = node.grid.block_ranges(&task.block);
                    let bytes = source.prefetch_bytes(&task.block, &ranges)?;
                    Some(Read {
                        task: t,
                        source: &**source,
                        block: &task.block,
                        ranges,
                        bytes,
                    })
                })
                .collect()
        };
        Prefetcher {
            reads,
            cursor: 0,
            held: HashMap::new(),
            bytes: 0,
            window,
        }
    }

    /// Starts fetching the source tiles of the next tasks in plan order that have not
    /// `started`, while fewer than the window are held and `fits(bytes)` says that fetched
    /// data of `bytes` in all fits the budget.
    pub(crate) fn advance(&mut self, started: &[bool], fits: impl Fn(u64) -> bool) {
        while self.held.len() < self.window
            && let Some(read) = self.reads.get(self.cursor)
        {
            if started[read.task] {
                self.cursor += 1;
                continue;
            }
            if !fits(self.bytes + read.bytes) {
                break;
            }
            self.cursor += 1;
            if let Some(fetched) = read.source.prefetch(read.block, &read.ranges) {
                self.held.insert(read.task, (fetched, read.bytes));
                self.bytes += read.bytes;
            }
        }
    }

    /// Bytes fetched ahead for task `t` and still counted here.
    pub(crate) fn held_for(&self, t: usize) -> u64 {
        self.held.get(&t).map_or(0, |(_, bytes)| *bytes)
    }

    /// Task `t` starts: its own reservation counts what was fetched for it from now on
    /// (see [`TileSource::read_bytes`]), so the bytes stop counting here. The data stays
    /// until the task has run.
    pub(crate) fn hand_over(&mut self, t: usize) {
        if let Some((_, bytes)) = self.held.get_mut(&t) {
            self.bytes -= std::mem::take(bytes);
        }
    }

    /// Releases what was fetched for task `t`, which has run.
    pub(crate) fn release(&mut self, t: usize) {
        if let Some((fetched, bytes)) = self.held.remove(&t) {
            drop(fetched);
            self.bytes -= bytes;
        }
    }
}

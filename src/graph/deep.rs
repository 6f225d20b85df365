//! Graphs deeper than a thread's stack: a loop of ten thousand steps (`x = step(x)`), or a
//! scan along an axis of ten thousand chunks, makes a chain of nodes that deep. The
//! optimiser's passes and the planner recurse once per level, and dropping a chain whose
//! nodes each hold the next one alone recurses as deep. So:
//!
//! - a node drops the chain below it in a loop ([`Node`]'s `Drop`);
//! - [`with_stack_for`] runs the passes on a thread whose stack fits the graph's depth, when
//!   the graph is deep (a shallow one, nearly every graph, is planned where it is asked for).

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

use chunkwise_kernels::strip::{Program, ValueRef};

use super::{Elemwise, Node, NodeId, NodeKind};
use crate::error::{Error, PlanError, Result};

/// Graphs at most this deep are planned on the calling thread. The passes take about 1 KiB
/// of stack a level in an optimised build, a few KiB without optimisation: well within the
/// smallest stack a thread is likely to have (cargo's test threads have 2 MiB).
const SHALLOW: usize = 128;

/// The stack a planning thread is given for each level of the graph: many times what the
/// passes take, in any build (reserved, and only touched as it is used).
const STACK_PER_LEVEL: usize = 16 << 10;

/// The most stack a planning thread asks for, in GiB (less where `usize` cannot count
/// it): deeper graphs are refused, with an error that says to break them up.
const MAX_STACK_GIB: u64 = 4;

thread_local! {
    /// While a node's drop runs its loop on this thread: that loop's list of the kinds of
    /// the nodes released meanwhile, whose drop is left to it (see [`Node`]'s `Drop`); null
    /// otherwise. A pointer, which needs no destructor, so that it is there even while the
    /// thread's storage is torn down (a deep graph held in a thread-local is dropped then).
    static RELEASED: Cell<*mut Vec<NodeKind>> = const { Cell::new(std::ptr::null_mut()) };
}

impl Drop for Node {
    /// A node's kind holds what it reads: its inputs, and the closures of block maps and
    /// contractions, which may hold other nodes too. The first node dropped on a thread
    /// drops its kind in a loop; a node released meanwhile (by that kind, or by one dropped
    /// in the loop) hands its kind over to the loop instead of dropping it in place. So a
    /// chain is dropped one node at a time, however its nodes hold one another, instead of
    /// by recursion as deep as the chain.
    fn drop(&mut self) {
        let kind = std::mem::replace(&mut self.kind, NodeKind::Elemwise(Elemwise::empty()));
        let running = RELEASED.with(Cell::get);
        if !running.is_null() {
            // SAFETY: the pointer is set, on this thread only, to the list of the loop
            // below, which lives until the pointer is cleared and is not touched by that
            // loop while the drops that come here run.
            unsafe { (*running).push(kind) };
            return;
        }
        let mut released: Vec<NodeKind> = Vec::new();
        let list: *mut Vec<NodeKind> = &mut released;
        let _running = Running::on(list);
        let mut batch = vec![kind];
        while !batch.is_empty() {
            drop(batch);
            // SAFETY: `list` points to `released`, alive here; no drop is running now.
            batch = unsafe { std::mem::take(&mut *list) };
        }
    }
}

/// Marks the loop of [`Node`]'s `Drop` as running on this thread, with its list, until it
/// is dropped (also if a drop in the loop panics).
struct Running;

impl Running {
    fn on(list: *mut Vec<NodeKind>) -> Running {
        RELEASED.with(|released| released.set(list));
        Running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RELEASED.with(|released| released.set(std::ptr::null_mut()));
    }
}

impl Elemwise {
    /// A program of no steps reading nothing: what a node's kind is replaced with when it
    /// is dropped (it allocates nothing).
    fn empty() -> Elemwise {
        Elemwise {
            inputs: Vec::new(),
            program: Program {
                inputs: Vec::new(),
                steps: Vec::new(),
                output: ValueRef::Input(0),
            },
        }
    }
}

/// The most nodes on one path of inputs below `roots` (1 for a source alone), found
/// without recursion.
pub(crate) fn depth(roots: &[Arc<Node>]) -> usize {
    let mut depth_of: HashMap<NodeId, usize> = HashMap::new();
    // Each node is pushed to be expanded (its inputs pushed above it), then, once they are
    // all measured, popped again to be measured itself.
    let mut stack: Vec<(&Arc<Node>, bool)> = roots.iter().map(|root| (root, false)).collect();
    while let Some((node, expanded)) = stack.pop() {
        if depth_of.contains_key(&node.id) {
            continue;
        }
        let inputs = node.inputs();
        if expanded {
            let below = inputs.iter().map(|i| depth_of[&i.id]).max().unwrap_or(0);
            depth_of.insert(node.id, below + 1);
        } else {
            stack.push((node, true));
            stack.extend(inputs.into_iter().map(|input| (input, false)));
        }
    }
    roots
        .iter()
        .map(|root| depth_of[&root.id])
        .max()
        .unwrap_or(0)
}

/// Runs `work`, graph passes that recurse once per level of the graph below `roots`: on
/// this thread if the graph is shallow, else on a thread of its own whose stack fits the
/// graph's depth. An error if the graph is too deep for any stack this would ask for, or
/// no such thread can be started.
pub(crate) fn with_stack_for<R: Send>(
    roots: &[Arc<Node>],
    work: impl FnOnce() -> Result<R> + Send,
) -> Result<R> {
    let depth = depth(roots);
    if depth <= SHALLOW {
        return work();
    }
    let too_deep = |reason: String| Error::Plan(PlanError::GraphTooDeep { depth, reason });
    let most = (MAX_STACK_GIB << 30).min(usize::MAX as u64);
    let stack = (depth as u64)
        .checked_mul(STACK_PER_LEVEL as u64)
        .filter(|&bytes| bytes <= most)
        .ok_or_else(|| {
            too_deep(format!(
                "planning it would take more than {} GiB of stack",
                most >> 30
            ))
        })? as usize;
    std::thread::scope(|scope| {
        let planner = std::thread::Builder::new()
            .name("chunkwise-plan".into())
            .stack_size(stack)
            .spawn_scoped(scope, work)
            .map_err(|e| too_deep(format!("no thread with {stack} bytes of stack: {e}")))?;
        // A panic in the passes is a bug: it goes on as it would have on this thread.
        planner
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

//! Graphs deeper than a thread's stack: a loop of ten thousand steps (`x = step(x)`), or a
//! scan along an axis of ten thousand chunks, makes a chain of nodes that deep. The
//! optimiser's passes and the planner recurse once per level, and dropping a chain whose
//! nodes each hold the next one alone recurses as deep. So:
//!
//! - a node drops the chain below it with a loop ([`Node`]'s `Drop`);
//! - [`with_stack_for`] runs the passes on a thread whose stack fits the graph's depth, when
//!   the graph is deep (a shallow one, nearly every graph, is planned where it is asked for).

use std::collections::HashMap;
use std::sync::Arc;

use super::{Node, NodeId, NodeKind};
use crate::error::{Error, PlanError, Result};

/// Graphs at most this deep are planned on the calling thread: well within the smallest
/// stack a thread is likely to have (cargo's test threads have 2 MiB).
const SHALLOW: usize = 128;

/// The stack that one level of the graph may take in the passes that recurse, with room
/// for builds without optimisation, whose frames are several times larger.
const STACK_PER_LEVEL: usize = 16 << 10;

/// The most stack a planning thread asks for: deeper graphs are refused, with an error
/// that says to break them up.
const MAX_STACK: usize = 4 << 30;

impl Drop for Node {
    fn drop(&mut self) {
        // Each input this node alone holds is unwrapped and its own inputs taken over, so
        // a chain is dropped one node at a time instead of by recursion as deep as it is.
        let mut orphans = self.take_inputs();
        while let Some(input) = orphans.pop() {
            if let Some(mut node) = Arc::into_inner(input) {
                orphans.append(&mut node.take_inputs());
            }
        }
    }
}

impl Node {
    /// Moves this node's inputs out (it reads nothing after): for [`Drop`].
    fn take_inputs(&mut self) -> Vec<Arc<Node>> {
        match &mut self.kind {
            NodeKind::Source(_) | NodeKind::Invalid(_) => Vec::new(),
            NodeKind::Elemwise(e) => std::mem::take(&mut e.inputs)
                .into_iter()
                .map(|i| i.node)
                .collect(),
            NodeKind::Blockwise(b) => std::mem::take(&mut b.inputs),
            NodeKind::Reduce(r) => std::mem::take(&mut r.inputs)
                .into_iter()
                .map(|i| i.node)
                .collect(),
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
    let stack = depth
        .checked_mul(STACK_PER_LEVEL)
        .filter(|&bytes| bytes <= MAX_STACK)
        .ok_or_else(|| {
            too_deep(format!(
                "planning it would take more than {} GiB of stack",
                MAX_STACK >> 30
            ))
        })?;
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

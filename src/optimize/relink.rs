//! The `relink-contractions` pass: a contraction's output tiles are chains of links, each
//! reading the operand tiles of some contracted steps (see `linalg::contract`), of a length
//! chosen when the graph was built, before any budget was known. Under a budget too small
//! for such a link to run beside the others, the chain is rebuilt with links that read
//! fewer steps: more tasks, each holding less, and the same sums in the same order.

use std::sync::Arc;

use super::{Pass, rewrite};
use crate::error::Result;
use crate::graph::{Node, NodeKind};
use crate::ops::blockwise::{Role, role_of};

/// See the module's documentation.
pub(super) struct RelinkContractions {
    /// The memory budget of the run.
    pub(super) budget: u64,
    /// Worker threads of the run.
    pub(super) threads: usize,
}

impl RelinkContractions {
    /// The most input bytes a link may read: so that each worker thread can run a link
    /// with half of its share of the budget, the other half left for the tiles it writes
    /// and those held in between.
    fn link_bytes(&self) -> u64 {
        self.budget / (2 * self.threads.max(1) as u64)
    }
}

impl Pass for RelinkContractions {
    fn name(&self) -> &'static str {
        "relink-contractions"
    }

    fn run(&self, roots: &[Arc<Node>]) -> Result<(Vec<Arc<Node>>, bool)> {
        let link_bytes = self.link_bytes();
        Ok(rewrite(roots, &|node: &Arc<Node>| {
            let (Role::Chain(chain), NodeKind::Blockwise(blockwise)) = (role_of(node), &node.kind)
            else {
                return None;
            };
            let steps = (link_bytes / chain.step_bytes.max(1)).max(1) as usize;
            (steps < chain.steps_per_link).then(|| (chain.rebuild)(&blockwise.inputs, steps))
        }))
    }
}

//! The `merge-partials` pass: nodes of partial results ([`Role::Partials`]: one tile per
//! block of axis 0, each computed from a group of input tiles, such as the per-row-tile
//! products of `x.T @ x` and `x.T @ y`) that read a common input tile for every block
//! become one node, whose task computes all their tiles of that block from one read of the
//! tiles, as a tuple. Each original node then takes its part.
//!
//! Without it, the planner (depth first from each output) computes one product over all
//! of `x`'s tiles before the next product asks for them, holding every tile of `x` in
//! between or computing it twice; merged, each tile of `x` is read once and freed as soon
//! as its one task has run.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::{Pass, rewrite};
use crate::error::Result;
use crate::graph::{Node, NodeId, NodeKind};
use crate::ops::blockwise::{Role, blockwise, role_of};
use crate::tile::{BlockMap, TileMemory, Value, part, tuple};

/// A partials node and what its task reads.
#[derive(Clone)]
struct Member {
    node: Arc<Node>,
    map: Arc<dyn BlockMap>,
    inputs: Vec<Arc<Node>>,
}

impl Member {
    fn of(node: &Arc<Node>) -> Option<Member> {
        if *role_of(node) != Role::Partials {
            return None;
        }
        let NodeKind::Blockwise(b) = &node.kind else {
            return None;
        };
        Some(Member {
            node: node.clone(),
            map: b.map.clone(),
            inputs: b.inputs.clone(),
        })
    }

    /// Blocks along axis 0.
    fn steps(&self) -> usize {
        self.node.grid.nblocks()[0]
    }

    /// The member's block for step `step` (axis 0; the other axes have one block).
    fn block(&self, step: usize) -> Vec<usize> {
        let mut block = vec![0; self.node.ndim()];
        block[0] = step;
        block
    }

    /// The tiles the member reads at `step`: (input node, block).
    fn reads(&self, step: usize) -> Vec<(NodeId, Vec<usize>)> {
        self.map
            .deps(&self.block(step))
            .into_iter()
            .map(|(i, block)| (self.inputs[i].id, block))
            .collect()
    }

    /// Whether the member reads, at every step, a tile that `other` reads too.
    fn shares_tiles(&self, other: &Member) -> bool {
        self.steps() == other.steps()
            && (0..self.steps()).all(|s| {
                let theirs: HashSet<_> = other.reads(s).into_iter().collect();
                self.reads(s).iter().any(|r| theirs.contains(r))
            })
    }
}

/// The inputs of a merged node (each once) and, per member, where its inputs are in them.
fn union_inputs(group: &[Member]) -> (Vec<Arc<Node>>, Vec<Vec<usize>>) {
    let mut inputs: Vec<Arc<Node>> = Vec::new();
    let positions = group
        .iter()
        .map(|m| {
            m.inputs
                .iter()
                .map(|input| match inputs.iter().position(|i| i.id == input.id) {
                    Some(p) => p,
                    None => {
                        inputs.push(input.clone());
                        inputs.len() - 1
                    }
                })
                .collect()
        })
        .collect();
    (inputs, positions)
}

/// The tiles step `step` of the merged group reads (each once), and per member, the
/// positions of its own reads (in its order) in that list.
fn merged_reads(
    group: &[Member],
    positions: &[Vec<usize>],
    step: usize,
) -> (Vec<(usize, Vec<usize>)>, Vec<Vec<usize>>) {
    let mut reads: Vec<(usize, Vec<usize>)> = Vec::new();
    let at = group
        .iter()
        .zip(positions)
        .map(|(m, pos)| {
            m.map
                .deps(&m.block(step))
                .into_iter()
                .map(|(i, block)| {
                    let read = (pos[i], block);
                    match reads.iter().position(|r| *r == read) {
                        Some(p) => p,
                        None => {
                            reads.push(read);
                            reads.len() - 1
                        }
                    }
                })
                .collect()
        })
        .collect();
    (reads, at)
}

/// One node computing the tiles of every member of `group`, step by step, as tuples.
fn merge(group: Vec<Member>) -> Arc<Node> {
    let (inputs, positions) = union_inputs(&group);
    let names: Vec<String> = group.iter().map(|m| m.map.name()).collect();
    let group = Arc::new(group);
    let positions = Arc::new(positions);
    let (deps_group, deps_positions) = (group.clone(), positions.clone());
    let (memory_group, first) = (group.clone(), group[0].node.clone());
    blockwise(
        format!("merged {}", names.join(" + ")),
        first.grid.clone(),
        first.dtype,
        inputs,
    )
    .role(Role::Partials)
    // The parts are held together; their scratch is needed one at a time.
    .memory(move |block| {
        let mut memory = TileMemory::default();
        for m in memory_group.iter() {
            let own = m.block(block.index[0]);
            let part = m.map.memory(&own, &m.node.grid.block_shape(&own));
            memory.output += part.output;
            memory.scratch = memory.scratch.max(part.scratch);
        }
        memory
    })
    .run(
        move |block| merged_reads(&deps_group, &deps_positions, block[0]).0,
        move |block, tiles| {
            let (_, at) = merged_reads(&group, &positions, block.index[0]);
            let parts = group
                .iter()
                .zip(&at)
                .map(|(m, at)| {
                    let own = m.block(block.index[0]);
                    let reads: Vec<&Value> = at.iter().map(|&p| tiles[p]).collect();
                    m.map.run(&own, &m.node.grid.block_shape(&own), &reads)
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(tuple(parts))
        },
    )
}

/// Part `k` of the tiles of `merged`, on the grid of the member it replaces.
fn part_of(merged: &Arc<Node>, member: &Member, k: usize) -> Arc<Node> {
    let size = member.node.dtype.size() as u64;
    let merged_ndim = merged.ndim();
    blockwise(
        format!("part {k}"),
        member.node.grid.clone(),
        member.node.dtype,
        vec![merged.clone()],
    )
    // The part exists already, but the executor counts it as this task's too.
    .memory(move |block| TileMemory {
        output: block.len() as u64 * size,
        scratch: 0,
    })
    .run(
        move |block| {
            let mut from = vec![0; merged_ndim];
            from[0] = block[0];
            vec![(0, from)]
        },
        move |_, tiles| part(tiles[0], k),
    )
}

/// Merges partials nodes that read the same tiles; see the module documentation.
pub(crate) struct MergePartials;

impl Pass for MergePartials {
    fn name(&self) -> &'static str {
        "merge-partials"
    }

    fn run(&self, roots: &[Arc<Node>]) -> Result<(Vec<Arc<Node>>, bool)> {
        // Every partials node below the roots, in a stable order.
        let mut members: Vec<Member> = Vec::new();
        let mut seen = HashSet::new();
        let mut stack: Vec<Arc<Node>> = roots.iter().rev().cloned().collect();
        while let Some(node) = stack.pop() {
            if !seen.insert(node.id) {
                continue;
            }
            members.extend(Member::of(&node));
            stack.extend(node.inputs().into_iter().rev().cloned());
        }
        // Each joins the first group whose first member reads tiles it reads at every step.
        let mut groups: Vec<Vec<Member>> = Vec::new();
        for member in members {
            match groups.iter_mut().find(|g| g[0].shares_tiles(&member)) {
                Some(group) => group.push(member),
                None => groups.push(vec![member]),
            }
        }
        let mut replacement: HashMap<NodeId, Arc<Node>> = HashMap::new();
        for group in groups.into_iter().filter(|g| g.len() > 1) {
            let merged = merge(group.clone());
            for (k, member) in group.iter().enumerate() {
                replacement.insert(member.node.id, part_of(&merged, member, k));
            }
        }
        if replacement.is_empty() {
            return Ok((roots.to_vec(), false));
        }
        Ok(rewrite(roots, &|node| replacement.get(&node.id).cloned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::plan_text;

    #[test]
    fn products_of_the_same_row_tiles_share_one_task_per_tile() {
        let x = crate::random::uniform::<f64>(1, 0.0, 1.0, &[40, 3], [10, 3]).unwrap();
        let y = crate::random::uniform::<f64>(2, 0.0, 1.0, &[40, 1], [10, 1]).unwrap();
        let xt = x.transpose();
        let (gram, xty) = (xt.matmul(&x).unwrap(), xt.matmul(&y).unwrap());
        let roots = vec![gram.node.clone(), xty.node.clone()];
        let (merged, changed) = MergePartials.run(&roots).unwrap();
        assert!(changed);
        assert_eq!(
            plan_text(&merged, &|_| String::new()),
            "#0 Reduce sum over axes [0]  [shape [3, 3] float64 in 1 tile(s) of 3x3]\n\
             \x20 #1 Blockwise part 0  [shape [4, 3, 3] float64 in 4 tile(s) of 1x3x3]\n\
             \x20   #2 Blockwise merged contract partials[4 k-tiles] + contract partials[4 k-tiles]  [shape [4, 3, 3] float64 in 4 tile(s) of 1x3x3]\n\
             \x20     #3 Source uniform[seed=1, 0..1]  [shape [40, 3] float64 in 4 tile(s) of 10x3]\n\
             \x20     #4 Source uniform[seed=2, 0..1]  [shape [40, 1] float64 in 4 tile(s) of 10x1]\n\
             #5 Reduce sum over axes [0]  [shape [3, 1] float64 in 1 tile(s) of 3x1]\n\
             \x20 #6 Blockwise part 1  [shape [4, 3, 1] float64 in 4 tile(s) of 1x3x1]\n\
             \x20   (#2 again)\n"
        );
        // Products of different tiles do not merge.
        let z = crate::random::uniform::<f64>(3, 0.0, 1.0, &[40, 3], [10, 3]).unwrap();
        let other = vec![gram.node.clone(), z.transpose().matmul(&y).unwrap().node];
        assert!(!MergePartials.run(&other).unwrap().1);
    }
}

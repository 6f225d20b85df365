//! The `merge-reductions` pass: reductions of the same data over the same axes (such as
//! `mean` and `std` of one array computed together) become one reduction that folds each
//! strip into all of them, so the data (or the fused chain that makes it) is read once.
//! Each original result is then picked from the merged one.

use std::collections::HashMap;
use std::sync::Arc;

use chunkwise_kernels::strip::Program;

use super::{Pass, rewrite};
use crate::error::Result;
use crate::graph::{Blockwise, ElemInput, Node, NodeId, NodeKind, Reduce};
use crate::tile::{Pick, Several};

fn same_inputs(a: &[ElemInput], b: &[ElemInput]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.node.id == y.node.id && x.view == y.view)
}

fn same_program(a: &Program, b: &Program) -> bool {
    a.inputs == b.inputs
        && a.output == b.output
        && a.steps.len() == b.steps.len()
        && a.steps
            .iter()
            .zip(&b.steps)
            .all(|(x, y)| Arc::ptr_eq(&x.op, &y.op) && x.args == y.args)
}

/// Whether two reductions read the same data the same way and give tiles on one grid.
fn mergeable(a: &Reduce, b: &Reduce) -> bool {
    same_inputs(&a.inputs, &b.inputs)
        && same_program(&a.program, &b.program)
        && a.in_grid == b.in_grid
        && a.reduced == b.reduced
        && a.keepdims == b.keepdims
        && a.split_every == b.split_every
}

/// Merges reductions of the same data; see the module documentation.
pub(crate) struct MergeReductions;

impl Pass for MergeReductions {
    fn name(&self) -> &'static str {
        "merge-reductions"
    }

    fn run(&self, roots: &[Arc<Node>]) -> Result<(Vec<Arc<Node>>, bool)> {
        // Every reduction below the roots, in a stable order.
        let mut reductions: Vec<Arc<Node>> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut stack: Vec<Arc<Node>> = roots.iter().rev().cloned().collect();
        while let Some(node) = stack.pop() {
            if !seen.insert(node.id) {
                continue;
            }
            if matches!(node.kind, NodeKind::Reduce(_)) {
                reductions.push(node.clone());
            }
            stack.extend(node.inputs().into_iter().rev().cloned());
        }
        // Group mergeable reductions; each group of two or more becomes one node.
        let mut groups: Vec<Vec<Arc<Node>>> = Vec::new();
        for node in reductions {
            let NodeKind::Reduce(r) = &node.kind else {
                continue;
            };
            let home = groups.iter_mut().find(|g| match &g[0].kind {
                NodeKind::Reduce(first) => mergeable(first, r),
                _ => false,
            });
            match home {
                Some(group) => group.push(node),
                None => groups.push(vec![node]),
            }
        }
        let mut replacement: HashMap<NodeId, Arc<Node>> = HashMap::new();
        for group in groups.into_iter().filter(|g| g.len() > 1) {
            let NodeKind::Reduce(first) = &group[0].kind else {
                continue;
            };
            let parts = group
                .iter()
                .map(|n| match &n.kind {
                    NodeKind::Reduce(r) => r.reducer.clone(),
                    _ => unreachable!("groups hold reductions"),
                })
                .collect();
            let merged = Reduce {
                reducer: Arc::new(Several::new(parts)),
                ..first.clone()
            };
            // The group reads the same inputs the same way: their fusion notes are one.
            let merged = Node::with_notes(
                NodeKind::Reduce(merged),
                group[0].grid.clone(),
                group[0].dtype,
                group[0].notes.clone(),
            );
            for (k, original) in group.iter().enumerate() {
                let pick = Blockwise {
                    inputs: vec![merged.clone()],
                    map: Arc::new(Pick {
                        k,
                        from: None,
                        item_bytes: original.dtype.size(),
                    }),
                };
                let node = Node::new(
                    NodeKind::Blockwise(pick),
                    original.grid.clone(),
                    original.dtype,
                );
                replacement.insert(original.id, node);
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
    fn mean_and_std_of_one_array_share_one_pass() {
        let x = crate::random::uniform::<f64>(1, 0.0, 1.0, &[6, 4], [3, 4]).unwrap();
        let (mean, std) = (x.mean_axis(0), x.std_axis(0, 0.0));
        let roots = vec![mean.node.clone(), std.node.clone()];
        let (fused, _) = crate::optimize::fuse_reduce::FuseIntoReduce
            .run(&roots)
            .unwrap();
        let (merged, changed) = MergeReductions.run(&fused).unwrap();
        assert!(changed);
        assert_eq!(
            plan_text(&merged, &|_| String::new()),
            "#0 Blockwise pick[0]  [shape [4] float64 in 1 tile(s) of 4]\n\
             \x20 #1 Reduce mean + std over axes [0] of uniform[seed=1, 0..1]  [shape [4] float64 in 1 tile(s) of 4]\n\
             #2 Blockwise pick[1]  [shape [4] float64 in 1 tile(s) of 4]\n\
             \x20 (#1 again)\n"
        );
        // Different axes do not merge.
        let other = vec![x.mean_axis(0).node.clone(), x.std_axis(1, 0.0).node.clone()];
        let (fused, _) = crate::optimize::fuse_reduce::FuseIntoReduce
            .run(&other)
            .unwrap();
        assert!(!MergeReductions.run(&fused).unwrap().1);
    }
}

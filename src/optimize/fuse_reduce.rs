//! The `fuse-into-reduce` pass: a reduction's per-tile step runs the elementwise program
//! that feeds it, so no tile of the reduced expression is ever stored.

use std::sync::Arc;

use super::Pass;
use super::fusion::{fuse_nodes, fuse_program};
use crate::error::Result;
use crate::graph::{Node, NodeKind, Reduce};

/// Fuses the elementwise program that feeds a reduction into its per-tile step.
pub(crate) struct FuseIntoReduce;

impl Pass for FuseIntoReduce {
    fn name(&self) -> &'static str {
        "fuse-into-reduce"
    }
    /// Fuses each reduction's fusable inputs into its prelude, and records on it why the
    /// others were refused; reports a change only where something was fused.
    fn run(&self, roots: &[Arc<Node>]) -> Result<(Vec<Arc<Node>>, bool)> {
        Ok(fuse_nodes(roots, &|kind, crowded| {
            let NodeKind::Reduce(r) = kind else {
                return None;
            };
            let fusion = fuse_program(&r.inputs, &r.program, crowded);
            let kind = NodeKind::Reduce(Reduce {
                inputs: fusion.inputs,
                program: fusion.program,
                ..r.clone()
            });
            Some((fusion.fused, fusion.notes, kind))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::plan_text;
    use crate::optimize::fuse_elemwise::FuseElemwise;

    #[test]
    fn reduction_swallows_the_fused_chain() {
        let x = crate::ones::<f64>(&[6, 4], [3, 4]).unwrap();
        let total = (&x * 3.0).abs().sum_axis(0);
        let (step1, _) = FuseElemwise.run(std::slice::from_ref(&total.node)).unwrap();
        let (step2, changed) = FuseIntoReduce.run(&step1).unwrap();
        assert!(changed);
        assert_eq!(
            plan_text(&step2, &|_| String::new()),
            "#0 Reduce sum over axes [0] of abs(mul[rhs=3.0](full[1.0]))  [shape [4] float64 in 1 tile(s) of 4]\n"
        );
    }
}

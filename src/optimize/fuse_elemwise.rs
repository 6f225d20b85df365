//! The `fuse-elementwise` pass: chains of elementwise nodes, and the position generators
//! they read, become one strip program per node.

use std::sync::Arc;

use super::fusion::fuse_program;
use super::{Pass, rewrite};
use crate::error::Result;
use crate::graph::{Elemwise, Node, NodeKind};

/// Fuses chains of elementwise nodes (and position generators) into single programs.
pub(crate) struct FuseElemwise;

impl Pass for FuseElemwise {
    fn name(&self) -> &'static str {
        "fuse-elementwise"
    }
    fn run(&self, roots: &[Arc<Node>]) -> Result<(Vec<Arc<Node>>, bool)> {
        Ok(rewrite(roots, &|node| {
            let NodeKind::Elemwise(e) = &node.kind else {
                return None;
            };
            let (inputs, program) = fuse_program(&e.inputs, &e.program)?;
            let kind = NodeKind::Elemwise(Elemwise { inputs, program });
            Some(Node::new(kind, node.grid.clone(), node.dtype))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::plan_text;

    fn plan(node: &Arc<Node>) -> String {
        plan_text(std::slice::from_ref(node), &|_| String::new())
    }

    #[test]
    fn chain_with_generators_becomes_one_program() {
        let x = crate::random::uniform::<f64>(1, 0.0, 1.0, &[4, 4], [2, 2]).unwrap();
        let y = crate::from_ndarray(&ndarray::Array2::<f64>::zeros((4, 4)), [2, 2]).unwrap();
        let z = (x.sin() + &y) * 2.0;
        let (fused, changed) = FuseElemwise.run(std::slice::from_ref(&z.node)).unwrap();
        assert!(changed);
        assert_eq!(
            plan(&fused[0]),
            "#0 Elemwise mul[rhs=2.0](add(sin(uniform[seed=1, 0..1]), in0))  [shape [4, 4] float64 in 4 tile(s) of 2x2]\n\
             \x20 #1 Source from_ndarray[4, 4]  [shape [4, 4] float64 in 4 tile(s) of 2x2]\n"
        );
    }

    #[test]
    fn broadcast_inputs_are_not_fused() {
        let x = crate::ones::<f64>(&[4, 4], [2, 2]).unwrap();
        let row = crate::arange::<f64>(0.0, 4.0, 1.0, [2]).unwrap().sin();
        let z = &x + &row;
        let (fused, _) = FuseElemwise.run(std::slice::from_ref(&z.node)).unwrap();
        let text = plan(&fused[0]);
        assert!(
            text.starts_with("#0 Elemwise add(full[1.0], in0)"),
            "{text}"
        );
        assert!(
            text.contains("Elemwise sin(ramp[start=0, step=1])"),
            "{text}"
        );
    }
}

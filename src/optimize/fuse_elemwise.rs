//! The `fuse-elementwise` pass: chains of elementwise nodes, and the position generators
//! they read, become one strip program per node.

use std::sync::Arc;

use super::Pass;
use super::fusion::{fuse_nodes, fuse_program};
use crate::error::Result;
use crate::graph::{Elemwise, Node, NodeKind};

/// Fuses chains of elementwise nodes (and position generators) into single programs.
pub(crate) struct FuseElemwise;

impl Pass for FuseElemwise {
    fn name(&self) -> &'static str {
        "fuse-elementwise"
    }
    /// Fuses each elementwise node's fusable inputs into it, and records on it why the
    /// others were refused; reports a change only where something was fused.
    fn run(&self, roots: &[Arc<Node>]) -> Result<(Vec<Arc<Node>>, bool)> {
        Ok(fuse_nodes(roots, &|kind, crowded| {
            let NodeKind::Elemwise(e) = kind else {
                return None;
            };
            let fusion = fuse_program(&e.inputs, &e.program, crowded);
            let kind = NodeKind::Elemwise(Elemwise {
                inputs: fusion.inputs,
                program: fusion.program,
            });
            Some((fusion.fused, fusion.notes, kind))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Note, plan_text};

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
        // The refusal is recorded on the node when the pass decides.
        assert_eq!(
            fused[0].notes,
            [Note::NotFused {
                input: 0,
                reason: "broadcast input: its tile is repeated, not computed per element"
            }]
        );
        // Running the pass again changes nothing and keeps the note.
        let (again, changed) = FuseElemwise.run(&fused).unwrap();
        assert!(!changed);
        assert!(Arc::ptr_eq(&again[0], &fused[0]), "{}", plan(&again[0]));
    }

    #[test]
    fn a_node_with_nothing_to_fuse_records_why() {
        let x = crate::from_ndarray(&ndarray::Array2::<f64>::zeros((4, 4)), [2, 2]).unwrap();
        let y = x.sum_axis(0) * 2.0;
        let (out, changed) = FuseElemwise.run(std::slice::from_ref(&y.node)).unwrap();
        assert!(!changed, "nothing was fused");
        assert_eq!(
            out[0].notes,
            [Note::NotFused {
                input: 0,
                reason: "reduction result"
            }]
        );
        assert!(y.node.notes.is_empty(), "the user's graph is not touched");
        // A column broadcast along axis 1 is refused for that, not for its kind.
        let col = crate::from_ndarray(&ndarray::Array2::<f64>::zeros((4, 1)), [2, 1])
            .unwrap()
            .sin();
        let z = &x.transpose() + &col;
        let (out, _) = FuseElemwise.run(std::slice::from_ref(&z.node)).unwrap();
        let text: Vec<String> = out[0].notes.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "in0 not fused: materialised source",
                "in1 not fused: broadcast input: its tile is repeated, not computed per element"
            ]
        );
    }
}

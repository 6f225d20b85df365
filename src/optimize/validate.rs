//! The last pass: checks the plan and changes nothing.

use std::sync::Arc;

use super::Pass;
use crate::error::{Error, PlanError, Result};
use crate::graph::{ElemInput, Node, NodeKind};

/// Rejects programs whose inputs or result disagree with the nodes around them.
pub(crate) struct Validate;

fn check_inputs(
    node: &Node,
    inputs: &[ElemInput],
    program: &chunkwise_kernels::strip::Program,
) -> Result<(), String> {
    if inputs.len() != program.inputs.len() {
        return Err(format!(
            "{} inputs for a program of {}",
            inputs.len(),
            program.inputs.len()
        ));
    }
    for (k, (input, &dtype)) in inputs.iter().zip(&program.inputs).enumerate() {
        if input.node.dtype != dtype {
            return Err(format!(
                "input {k} is {} but the program reads {dtype}",
                input.node.dtype
            ));
        }
        if input.node.ndim() != node.ndim() && !matches!(node.kind, NodeKind::Reduce(_)) {
            return Err(format!(
                "input {k} has {} axes, the node {}",
                input.node.ndim(),
                node.ndim()
            ));
        }
    }
    Ok(())
}

impl Pass for Validate {
    fn name(&self) -> &'static str {
        "validate"
    }
    fn run(&self, roots: &[Arc<Node>]) -> Result<(Vec<Arc<Node>>, bool)> {
        check(roots).map_err(|reason| {
            Error::Plan(PlanError::InvalidPlan {
                pass: "graph builder".into(),
                reason,
            })
        })?;
        Ok((roots.to_vec(), false))
    }
}

/// What is wrong with the graph below `roots`, if anything.
pub(crate) fn check(roots: &[Arc<Node>]) -> Result<(), String> {
    {
        let mut stack: Vec<Arc<Node>> = roots.to_vec();
        let mut seen = std::collections::HashSet::new();
        while let Some(node) = stack.pop() {
            if !seen.insert(node.id) {
                continue;
            }
            let problem = match &node.kind {
                NodeKind::Elemwise(e) => {
                    check_inputs(&node, &e.inputs, &e.program).and_then(|()| {
                        (e.program.out_dtype() == node.dtype)
                            .then_some(())
                            .ok_or_else(|| {
                                format!(
                                    "program gives {} for a {} node",
                                    e.program.out_dtype(),
                                    node.dtype
                                )
                            })
                    })
                }
                NodeKind::Reduce(r) => check_inputs(&node, &r.inputs, &r.program).and_then(|()| {
                    (r.program.out_dtype() == r.reducer.in_dtype())
                        .then_some(())
                        .ok_or_else(|| {
                            format!(
                                "prelude gives {}, the reducer reads {}",
                                r.program.out_dtype(),
                                r.reducer.in_dtype()
                            )
                        })
                }),
                _ => Ok(()),
            };
            if let Err(reason) = problem {
                return Err(format!("node #{}: {reason}", node.id));
            }
            stack.extend(node.inputs().into_iter().cloned());
        }
        Ok(())
    }
}

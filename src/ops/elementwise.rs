//! Building elementwise nodes: NumPy broadcasting, and unifying the inputs' chunk grids.

use std::sync::Arc;

use chunkwise_kernels::strip::{Program, Step, StripOp, ValueRef};

use super::layout::expand_leading;
use super::rechunk::rechunk;
use crate::chunks::{AxisChunks, ChunkGrid, broadcast_shapes};
use crate::graph::{ElemInput, Elemwise, Node, NodeKind};

/// The node applying `op` elementwise to `inputs`, broadcast against each other.
///
/// Inputs with fewer axes get leading axes of length 1; axes of length 1 are repeated; where
/// the inputs' chunks differ along an axis, each is rechunked to the common refinement (so
/// no tile is split in a way that needs more than the pieces of one input tile).
pub(crate) fn elemwise(inputs: &[&Arc<Node>], op: Arc<dyn StripOp>) -> Arc<Node> {
    let dtype = op.out_dtype();
    for input in inputs {
        if let NodeKind::Invalid(e) = &input.kind {
            return Node::invalid(e.clone(), dtype);
        }
    }
    let mut shape: Vec<usize> = Vec::new();
    for input in inputs {
        match broadcast_shapes(&op.name(), &shape, &input.shape()) {
            Ok(s) => shape = s,
            Err(e) => return Node::invalid(e, dtype),
        }
    }
    let ndim = shape.len();
    let padded: Vec<Arc<Node>> = inputs
        .iter()
        .map(|n| expand_leading(n, ndim - n.ndim()))
        .collect();
    // Per axis: the common refinement of the chunks of the inputs that are not broadcast.
    let mut axes: Vec<Option<AxisChunks>> = vec![None; ndim];
    for node in &padded {
        for (axis, len) in node.shape().into_iter().enumerate() {
            if len == shape[axis] {
                let chunks = node.grid.axis(axis);
                axes[axis] = Some(match &axes[axis] {
                    None => chunks.clone(),
                    Some(existing) => existing.refine(chunks),
                });
            }
        }
    }
    let axes: Vec<AxisChunks> = axes
        .into_iter()
        .zip(&shape)
        .map(|(c, &n)| c.unwrap_or_else(|| AxisChunks::single(n)))
        .collect();
    let grid = ChunkGrid::from_axes(axes.clone());
    let elem_inputs: Vec<ElemInput> = padded
        .iter()
        .map(|node| {
            let broadcast: Vec<bool> = node
                .shape()
                .iter()
                .zip(&shape)
                .map(|(&a, &b)| a != b)
                .collect();
            let target: Vec<AxisChunks> = axes
                .iter()
                .zip(&broadcast)
                .map(|(chunks, &bc)| {
                    if bc {
                        AxisChunks::single(1)
                    } else {
                        chunks.clone()
                    }
                })
                .collect();
            ElemInput {
                node: rechunk(node, ChunkGrid::from_axes(target)),
                broadcast,
            }
        })
        .collect();
    let program = Program {
        inputs: elem_inputs.iter().map(|i| i.node.dtype).collect(),
        steps: vec![Step {
            op,
            args: (0..elem_inputs.len()).map(ValueRef::Input).collect(),
        }],
        output: ValueRef::Step(0),
    };
    Node::new(
        NodeKind::Elemwise(Elemwise {
            inputs: elem_inputs,
            program,
        }),
        grid,
        dtype,
    )
}

//! Building elementwise nodes: NumPy broadcasting, and unifying the inputs' chunk grids.

use std::sync::Arc;

use chunkwise_kernels::strip::{Program, Step, StripOp, ValueRef};

use crate::chunks::{AxisChunks, ChunkGrid, View, broadcast_shapes};
use crate::graph::{ElemInput, Elemwise, Node, NodeKind};

/// The node applying `op` elementwise to `inputs`, broadcast against each other.
///
/// Inputs with fewer axes get leading axes of length 1; axes of length 1 are repeated. The
/// result is chunked along each axis as the first input that is not broadcast there; inputs
/// chunked otherwise are read through their views (a result tile reads the pieces of the
/// input tiles it overlaps), never rechunked.
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
    let axes: Vec<AxisChunks> = (0..ndim)
        .map(|axis| {
            inputs
                .iter()
                .find_map(|node| {
                    let lead = ndim - node.ndim();
                    let own = axis.checked_sub(lead)?;
                    (node.shape()[own] == shape[axis]).then(|| node.grid.axis(own).clone())
                })
                .unwrap_or_else(|| AxisChunks::single(shape[axis]))
        })
        .collect();
    let elem_inputs: Vec<ElemInput> = inputs
        .iter()
        .map(|node| ElemInput {
            node: (*node).clone(),
            view: View::broadcast(&node.shape(), &shape),
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
        ChunkGrid::from_axes(axes),
        dtype,
    )
}

/// The node reading `node` through `view`, chunked as `grid` (of the view's shape): a
/// slice, transpose, new axis or broadcast. No tile is copied for it: elementwise work and
/// reductions read the source tiles through the view, and a consumer that needs whole
/// tiles gets them gathered in one blocked pass.
pub(crate) fn viewed(node: &Arc<Node>, view: View, grid: ChunkGrid) -> Arc<Node> {
    if let NodeKind::Invalid(e) = &node.kind {
        return Node::invalid(e.clone(), node.dtype);
    }
    if view.is_identity(&node.shape()) && node.grid == grid {
        return node.clone();
    }
    // A view of a view is one view of the first one's source.
    let (source, view) = match as_view(node) {
        Some(inner) => (inner.node.clone(), inner.view.then(&view)),
        None => (node.clone(), view),
    };
    Node::new(
        NodeKind::Elemwise(Elemwise {
            inputs: vec![ElemInput { node: source, view }],
            program: Program::identity(node.dtype),
        }),
        grid,
        node.dtype,
    )
}

/// The input of `node` when `node` only reads it through a view (see [`viewed`]).
pub(crate) fn as_view(node: &Node) -> Option<&ElemInput> {
    match &node.kind {
        NodeKind::Elemwise(e) if e.program.steps.is_empty() && e.inputs.len() == 1 => {
            Some(&e.inputs[0])
        }
        _ => None,
    }
}

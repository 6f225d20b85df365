//! Reshaping: the input rechunked only where the new shape needs it (see
//! [`ReshapePlan`]), then each output tile is one input tile, its elements in the same C
//! order, read into the new shape.

use std::sync::Arc;

use ndarray::{ArrayD, IxDyn};

use super::blockwise::blockwise;
use super::rechunk::rechunk;
use super::with_dtype;
use crate::chunks::ReshapePlan;
use crate::error::{Error, ExecError};
use crate::graph::Node;

/// `node` with shape `shape` (of as many elements, at least one). Callers check the shape.
pub(crate) fn reshape(node: &Arc<Node>, shape: &[usize]) -> Arc<Node> {
    if node.shape() == shape {
        return node.clone();
    }
    let plan = ReshapePlan::new(&node.grid, shape);
    let input = rechunk(node, plan.input.clone());
    let builder = blockwise("reshape", plan.output.clone(), node.dtype, vec![input]);
    with_dtype!(node.dtype, T => builder.arrays::<T, T>(
        move |block| vec![(0, plan.source_block(block))],
        |block, tiles| {
            let tile = tiles[0];
            let values = match tile.as_slice() {
                Some(values) => values.to_vec(),
                None => tile.iter().cloned().collect(),
            };
            ArrayD::from_shape_vec(IxDyn(block.shape), values).map_err(|_| {
                Error::Exec(ExecError::TileShape {
                    task: format!("reshape of block {:?}", block.index),
                    expected: block.shape.to_vec(),
                    found: tile.shape().to_vec(),
                })
            })
        },
    ))
}

//! Each element repeated along an axis (NumPy's `repeat` with one count): output tile `b`
//! is input tile `b` with every element along the axis taken `repeats` times (one copy).

use std::sync::Arc;

use ndarray::Axis;

use super::blockwise::blockwise;
use super::with_dtype;
use crate::chunks::{AxisChunks, ChunkGrid};
use crate::graph::Node;

/// `node` with each element along `axis` repeated `repeats` (at least 1) times; the tiles
/// along `axis` are `repeats` times longer. Callers check the arguments.
pub(crate) fn repeat(node: &Arc<Node>, repeats: usize, axis: usize) -> Arc<Node> {
    let axes: Vec<AxisChunks> = (0..node.ndim())
        .map(|a| {
            let own = node.grid.axis(a);
            match a == axis {
                true => AxisChunks::from_sizes(own.sizes().iter().map(|c| c * repeats).collect()),
                false => own.clone(),
            }
        })
        .collect();
    let builder = blockwise(
        "repeat",
        ChunkGrid::from_axes(axes),
        node.dtype,
        vec![node.clone()],
    );
    with_dtype!(node.dtype, T => builder.arrays::<T, T>(
        |block| vec![(0, block.to_vec())],
        move |block, tiles| {
            let sources: Vec<usize> = (0..block.shape[axis]).map(|i| i / repeats).collect();
            Ok(tiles[0].select(Axis(axis), &sources))
        },
    ))
}

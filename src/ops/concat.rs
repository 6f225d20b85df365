//! Joining arrays along an axis: each tile of the result is a tile of one input, passed on
//! as it is (the same shared tile, never copied).

use std::sync::Arc;

use super::blockwise::blockwise;
use super::layout::normalize_axis;
use super::rechunk::rechunk;
use crate::chunks::{AxisChunks, ChunkGrid};
use crate::error::{BuildError, Error, Result};
use crate::graph::{Node, NodeKind};

/// `nodes` joined along `axis` (NumPy's `concatenate`): they agree on every other axis. The
/// result's chunks along `axis` are the inputs' chunks one after another; along the other
/// axes they are the first input's, and an input chunked otherwise there is rechunked.
pub(crate) fn concatenate(nodes: &[Arc<Node>], axis: isize) -> Result<Arc<Node>> {
    let invalid = |reason: String| {
        Error::Build(BuildError::InvalidArgument {
            op: "concatenate".into(),
            reason,
        })
    };
    let first = nodes.first().ok_or_else(|| invalid("no array".into()))?;
    for node in nodes {
        if let NodeKind::Invalid(e) = &node.kind {
            return Err(e.clone());
        }
    }
    let ndim = first.ndim();
    if ndim == 0 {
        return Err(invalid("0-d arrays cannot be joined".into()));
    }
    let axis = normalize_axis(axis, ndim)?;
    let shape = first.shape();
    for (k, node) in nodes.iter().enumerate() {
        let other = node.shape();
        let agrees = other.len() == ndim && (0..ndim).all(|a| a == axis || other[a] == shape[a]);
        if !agrees {
            return Err(invalid(format!(
                "array {k} has shape {other:?}, which does not match {shape:?} but along axis {axis}"
            )));
        }
    }
    // Inputs on the first one's chunks along the other axes (empty ones add nothing).
    let aligned: Vec<Arc<Node>> = nodes
        .iter()
        .filter(|node| node.shape()[axis] > 0)
        .map(|node| {
            let axes: Vec<AxisChunks> = (0..ndim)
                .map(|a| {
                    if a == axis {
                        node.grid.axis(a).clone()
                    } else {
                        first.grid.axis(a).clone()
                    }
                })
                .collect();
            let grid = ChunkGrid::from_axes(axes);
            if grid == node.grid {
                node.clone()
            } else {
                rechunk(node, grid)
            }
        })
        .collect();
    match aligned.as_slice() {
        [] => return Ok(first.clone()),
        [only] => return Ok(only.clone()),
        _ => {}
    }
    // The first block of each input along `axis` in the result.
    let mut starts = Vec::with_capacity(aligned.len());
    let mut sizes = Vec::new();
    for node in &aligned {
        starts.push(sizes.len());
        sizes.extend(node.grid.axis(axis).sizes());
    }
    let axes: Vec<AxisChunks> = (0..ndim)
        .map(|a| {
            if a == axis {
                AxisChunks::from_sizes(sizes.clone())
            } else {
                first.grid.axis(a).clone()
            }
        })
        .collect();
    let grid = ChunkGrid::from_axes(axes);
    let builder = blockwise("concatenate", grid, first.dtype, aligned);
    Ok(builder.run(
        move |block| {
            let k = starts.partition_point(|&s| s <= block[axis]) - 1;
            let mut own = block.to_vec();
            own[axis] -= starts[k];
            vec![(k, own)]
        },
        |_, tiles| Ok(tiles[0].clone()),
    ))
}

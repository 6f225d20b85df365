//! Building reductions: checked axes, the output grid, and the reduction node.

use std::sync::Arc;

use chunkwise_kernels::strip::Program;

use super::layout::normalize_axis;
use crate::chunks::{AxisChunks, ChunkGrid};
use crate::error::{BuildError, Error, Result};
use crate::graph::{ElemInput, Node, NodeKind, Reduce};
use crate::tile::ErasedReducer;

/// Default total fan-in of a combine (Dask's default is 16 too).
pub const DEFAULT_SPLIT_EVERY: usize = 16;

/// The reduction of `node` over `axes` (all axes when `None`).
pub(crate) fn reduce(
    node: &Arc<Node>,
    axes: Option<&[isize]>,
    keepdims: bool,
    split_every: usize,
    reducer: Arc<dyn ErasedReducer>,
) -> Arc<Node> {
    let dtype = reducer.out_dtype();
    match build(node, axes, keepdims, split_every, reducer) {
        Ok(n) => n,
        Err(e) => Node::invalid(e, dtype),
    }
}

/// Per axis of an `ndim`-dimensional array: whether `axes` (all of them if `None`; negative
/// ones count from the end) reduce it. An axis out of range or given twice is an error.
pub(crate) fn reduced_axes(axes: Option<&[isize]>, ndim: usize, op: &str) -> Result<Vec<bool>> {
    let mut reduced = vec![axes.is_none(); ndim];
    for &a in axes.unwrap_or(&[]) {
        let axis = normalize_axis(a, ndim)?;
        if reduced[axis] {
            return Err(Error::Build(BuildError::InvalidArgument {
                op: op.to_string(),
                reason: format!("axis {axis} given twice"),
            }));
        }
        reduced[axis] = true;
    }
    Ok(reduced)
}

fn build(
    node: &Arc<Node>,
    axes: Option<&[isize]>,
    keepdims: bool,
    split_every: usize,
    reducer: Arc<dyn ErasedReducer>,
) -> Result<Arc<Node>> {
    if let NodeKind::Invalid(e) = &node.kind {
        return Err(e.clone());
    }
    let reduced = reduced_axes(axes, node.ndim(), &reducer.name())?;
    if split_every < 2 {
        return Err(Error::Build(BuildError::InvalidArgument {
            op: reducer.name(),
            reason: format!("split_every must be at least 2, got {split_every}"),
        }));
    }
    let shape = node.shape();
    let reduced_len: usize = shape
        .iter()
        .zip(&reduced)
        .filter(|(_, r)| **r)
        .map(|(n, _)| n)
        .product();
    if reduced_len == 0 && !reducer.has_identity() {
        return Err(Error::Build(BuildError::EmptyReduction {
            op: reducer.name(),
        }));
    }
    let axes: Vec<AxisChunks> = reduced
        .iter()
        .enumerate()
        .filter_map(|(a, &r)| match (r, keepdims) {
            (false, _) => Some(node.grid.axis(a).clone()),
            (true, true) => Some(AxisChunks::single(1)),
            (true, false) => None,
        })
        .collect();
    let dtype = reducer.out_dtype();
    let kind = NodeKind::Reduce(Reduce {
        inputs: vec![ElemInput::aligned(node.clone())],
        program: Program::identity(node.dtype),
        in_grid: node.grid.clone(),
        reduced,
        keepdims,
        split_every,
        reducer,
    });
    Ok(Node::new(kind, ChunkGrid::from_axes(axes), dtype))
}

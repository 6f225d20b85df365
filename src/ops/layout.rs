//! Axis rearrangements: transposes, new axes of length 1, squeezed axes. One view covers
//! them all: output axis `k` reads input axis `source[k]`, or is a new axis.

use std::sync::Arc;

use super::elementwise::{as_view, viewed};
use crate::chunks::{AxisChunks, ChunkGrid, SourceAxis, View};
use crate::error::{BuildError, Error, Result};
use crate::graph::Node;

/// The node whose axis `k` is axis `source[k]` of `node` (or a new axis of length 1); axes
/// of `node` that no output axis reads must have length 1. Callers check the arguments.
/// It is a [`View`]: nothing is copied for it.
pub(crate) fn axis_map(node: &Arc<Node>, source: Vec<Option<usize>>) -> Arc<Node> {
    let axes: Vec<AxisChunks> = source
        .iter()
        .map(|s| s.map_or_else(|| AxisChunks::single(1), |a| node.grid.axis(a).clone()))
        .collect();
    let grid = ChunkGrid::from_axes(axes);
    let view = View {
        shape: grid.shape(),
        source: (0..node.ndim())
            .map(|a| match source.iter().position(|&s| s == Some(a)) {
                Some(k) => SourceAxis::Mapped {
                    axis: k,
                    start: 0,
                    step: 1,
                },
                None => SourceAxis::Fixed(0),
            })
            .collect(),
    };
    viewed(node, view, grid)
}

/// When `node` is a permutation of another node's axes (a transpose; views compose, so a
/// transpose of a transpose is one), that node and the permutation: axis `k` of `node` is
/// axis `perm[k]` of it. Contractions read such an operand's tiles untransposed, through
/// BLAS's transpose flag.
pub(crate) fn transposed_operand(node: &Arc<Node>) -> Option<(Arc<Node>, Vec<usize>)> {
    let input = as_view(node)?;
    if input.node.ndim() != node.ndim() {
        return None;
    }
    // A permutation reads every source axis whole, forward, along one view axis each.
    let mut perm = vec![0; node.ndim()];
    let source_shape = input.node.shape();
    for (a, s) in input.view.source.iter().enumerate() {
        match *s {
            SourceAxis::Mapped {
                axis,
                start: 0,
                step: 1,
            } if node.shape()[axis] == source_shape[a] => perm[axis] = a,
            _ => return None,
        }
    }
    Some((input.node.clone(), perm))
}

/// An axis number, negative counting from the end, checked against `ndim`.
pub(crate) fn normalize_axis(axis: isize, ndim: usize) -> Result<usize> {
    let resolved = if axis < 0 { axis + ndim as isize } else { axis };
    if resolved < 0 || resolved >= ndim as isize {
        return Err(Error::Build(BuildError::AxisOutOfRange { axis, ndim }));
    }
    Ok(resolved as usize)
}

/// `node` with its axes in the order `axes` (a permutation); `node` itself for the identity.
pub(crate) fn permute(node: &Arc<Node>, axes: &[isize]) -> Result<Arc<Node>> {
    let ndim = node.ndim();
    let axes: Vec<usize> = axes
        .iter()
        .map(|&a| normalize_axis(a, ndim))
        .collect::<Result<_>>()?;
    let mut seen = vec![false; ndim];
    for &a in &axes {
        seen[a] = true;
    }
    if axes.len() != ndim || seen.contains(&false) {
        return Err(Error::Build(BuildError::InvalidArgument {
            op: "permute_axes".into(),
            reason: format!("{axes:?} is not a permutation of {ndim} axes"),
        }));
    }
    if axes.iter().enumerate().all(|(k, &a)| k == a) {
        return Ok(node.clone());
    }
    Ok(axis_map(node, axes.into_iter().map(Some).collect()))
}

/// `node` with a new axis of length 1 at `axis` (0..=ndim).
pub(crate) fn insert_axis(node: &Arc<Node>, axis: isize) -> Result<Arc<Node>> {
    let axis = normalize_axis(axis, node.ndim() + 1)?;
    let mut source: Vec<Option<usize>> = (0..node.ndim()).map(Some).collect();
    source.insert(axis, None);
    Ok(axis_map(node, source))
}

/// `node` without the given axes of length 1 (all axes of length 1 when `axes` is `None`).
pub(crate) fn squeeze(node: &Arc<Node>, axes: Option<&[isize]>) -> Result<Arc<Node>> {
    let shape = node.shape();
    let drop: Vec<usize> = match axes {
        None => (0..shape.len()).filter(|&a| shape[a] == 1).collect(),
        Some(list) => {
            let list: Vec<usize> = list
                .iter()
                .map(|&a| normalize_axis(a, shape.len()))
                .collect::<Result<_>>()?;
            if let Some(&bad) = list.iter().find(|&&a| shape[a] != 1) {
                return Err(Error::Build(BuildError::InvalidArgument {
                    op: "squeeze".into(),
                    reason: format!("axis {bad} has length {}, not 1", shape[bad]),
                }));
            }
            list
        }
    };
    Ok(axis_map(
        node,
        (0..shape.len())
            .filter(|a| !drop.contains(a))
            .map(Some)
            .collect(),
    ))
}

//! Axis rearrangements: transposes, new axes of length 1, squeezed axes. One blockwise map
//! covers them all: output axis `k` reads input axis `source[k]`, or is a new axis.

use std::sync::Arc;

use ndarray::{ArrayD, Axis};

use super::blockwise::{Role, blockwise, role_of};
use super::with_dtype;
use crate::chunks::{AxisChunks, ChunkGrid};
use crate::error::{BuildError, Error, Result};
use crate::graph::Node;

/// The view of `tile` whose axis `k` is its axis `source[k]` (or a new axis of length 1).
fn axis_view<'a, T>(tile: &'a ArrayD<T>, source: &[Option<usize>]) -> ndarray::ArrayViewD<'a, T> {
    let mut kept: Vec<usize> = source.iter().flatten().copied().collect();
    let mut view = tile.view();
    for axis in (0..tile.ndim()).rev() {
        if !kept.contains(&axis) {
            view = view.index_axis_move(Axis(axis), 0);
        }
    }
    let mut sorted = kept.clone();
    sorted.sort_unstable();
    for a in kept.iter_mut() {
        *a = sorted
            .iter()
            .position(|s| s == a)
            .expect("kept axes are in sorted");
    }
    let mut view = view.permuted_axes(kept);
    for (k, s) in source.iter().enumerate() {
        if s.is_none() {
            view = view.insert_axis(Axis(k));
        }
    }
    view
}

/// The node whose axis `k` is axis `source[k]` of `node` (or a new axis of length 1); axes
/// of `node` that no output axis reads must have length 1. Callers check the arguments.
pub(crate) fn axis_map(node: &Arc<Node>, source: Vec<Option<usize>>) -> Arc<Node> {
    let axes: Vec<AxisChunks> = source
        .iter()
        .map(|s| s.map_or_else(|| AxisChunks::single(1), |a| node.grid.axis(a).clone()))
        .collect();
    let names: Vec<String> = source
        .iter()
        .map(|s| s.map_or("new".to_string(), |a| a.to_string()))
        .collect();
    let in_ndim = node.ndim();
    let deps_source = source.clone();
    let builder = blockwise(
        format!("axes[{}]", names.join(", ")),
        ChunkGrid::from_axes(axes),
        node.dtype,
        vec![node.clone()],
    )
    .role(Role::Axes(source.clone()));
    with_dtype!(node.dtype, T => builder.arrays::<T, T>(
        move |block| {
            let mut in_block = vec![0; in_ndim];
            for (k, s) in deps_source.iter().enumerate() {
                if let Some(a) = s {
                    in_block[*a] = block[k];
                }
            }
            vec![(0, in_block)]
        },
        move |_, tiles| Ok(axis_view(tiles[0], &source).as_standard_layout().into_owned()),
    ))
}

/// When `node` is a permutation of another node's axes (a transpose, possibly of a
/// transpose), that node and the permutation: axis `k` of `node` is axis `perm[k]` of it.
/// Contractions read such an operand's tiles untransposed, through BLAS's transpose flag.
///
/// This is the one place that knows how a transpose is represented in the graph.
pub(crate) fn transposed_operand(node: &Arc<Node>) -> Option<(Arc<Node>, Vec<usize>)> {
    let Role::Axes(source) = role_of(node) else {
        return None;
    };
    let input = node.inputs()[0];
    let perm: Vec<usize> = source.iter().copied().collect::<Option<_>>()?;
    if perm.len() != input.ndim() {
        return None;
    }
    Some(match transposed_operand(input) {
        Some((base, inner)) => (base, perm.iter().map(|&p| inner[p]).collect()),
        None => (input.clone(), perm),
    })
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

/// `node` with `n` new leading axes of length 1 (for broadcasting).
pub(crate) fn expand_leading(node: &Arc<Node>, n: usize) -> Arc<Node> {
    if n == 0 {
        return node.clone();
    }
    let source = std::iter::repeat_n(None, n)
        .chain((0..node.ndim()).map(Some))
        .collect();
    axis_map(node, source)
}

//! Axis rearrangements: transposes, new axes of length 1, squeezed axes. One view covers
//! them all: output axis `k` reads input axis `source[k]`, or is a new axis.

use std::sync::Arc;

use super::elementwise::viewed;
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

/// The distinct axes `axes` (negative counting from the end) of an array of `ndim` axes.
fn distinct_axes(op: &str, axes: &[isize], ndim: usize) -> Result<Vec<usize>> {
    let resolved: Vec<usize> = axes
        .iter()
        .map(|&a| normalize_axis(a, ndim))
        .collect::<Result<_>>()?;
    for (k, a) in resolved.iter().enumerate() {
        if resolved[..k].contains(a) {
            return Err(Error::Build(BuildError::InvalidArgument {
                op: op.into(),
                reason: format!("axis {a} is given twice in {axes:?}"),
            }));
        }
    }
    Ok(resolved)
}

/// `node` with the order of the elements along `axes` reversed (all axes when `None`), as
/// NumPy's `flip`: a view, each tile reads one tile.
pub(crate) fn flip(node: &Arc<Node>, axes: Option<&[isize]>) -> Result<Arc<Node>> {
    let ndim = node.ndim();
    let flipped = match axes {
        None => (0..ndim).collect(),
        Some(list) => distinct_axes("flip", list, ndim)?,
    };
    let info: Vec<ndarray::SliceInfoElem> = (0..ndim)
        .map(|a| ndarray::SliceInfoElem::Slice {
            start: 0,
            end: None,
            step: if flipped.contains(&a) { -1 } else { 1 },
        })
        .collect();
    super::slicing::slice(node, &info)
}

/// `node` repeated to `shape` as NumPy broadcasts it (leading axes added, axes of length
/// 1 repeated): a view. Axes it keeps keep their chunks; new or repeated axes are one
/// chunk, as Dask's `broadcast_to` makes them.
pub(crate) fn broadcast_to(node: &Arc<Node>, shape: &[usize]) -> Result<Arc<Node>> {
    broadcast_to_in(node, shape, &[])
}

/// [`broadcast_to`], with the new or repeated axes `a` cut as `chunks[a]` where given
/// (as the operand they meet is cut, rather than one tile as long as the axis).
pub(crate) fn broadcast_to_in(
    node: &Arc<Node>,
    shape: &[usize],
    chunks: &[Option<AxisChunks>],
) -> Result<Arc<Node>> {
    let own = node.shape();
    let fits = crate::chunks::broadcast_shapes("broadcast_to", shape, &own)?;
    if fits != shape {
        return Err(Error::Build(BuildError::InvalidArgument {
            op: "broadcast_to".into(),
            reason: format!("{own:?} does not broadcast to {shape:?}"),
        }));
    }
    let lead = shape.len() - own.len();
    let axes: Vec<AxisChunks> = (0..shape.len())
        .map(
            |a| match (a.checked_sub(lead), chunks.get(a).cloned().flatten()) {
                (Some(o), _) if own[o] == shape[a] => node.grid.axis(o).clone(),
                (_, Some(given)) if given.len() == shape[a] => given,
                _ => AxisChunks::single(shape[a]),
            },
        )
        .collect();
    Ok(viewed(
        node,
        View::broadcast(&own, shape),
        ChunkGrid::from_axes(axes),
    ))
}

/// `node` with axes `source` moved to positions `destination` and the others in their
/// order, as NumPy's `moveaxis`.
pub(crate) fn moveaxis(
    node: &Arc<Node>,
    source: &[isize],
    destination: &[isize],
) -> Result<Arc<Node>> {
    let ndim = node.ndim();
    let from = distinct_axes("moveaxis", source, ndim)?;
    let to = distinct_axes("moveaxis", destination, ndim)?;
    if from.len() != to.len() {
        return Err(Error::Build(BuildError::InvalidArgument {
            op: "moveaxis".into(),
            reason: format!("{} source axes for {} destinations", from.len(), to.len()),
        }));
    }
    let mut order: Vec<Option<usize>> = vec![None; ndim];
    for (&f, &t) in from.iter().zip(&to) {
        order[t] = Some(f);
    }
    let mut rest = (0..ndim).filter(|a| !from.contains(a));
    let axes: Vec<isize> = order
        .into_iter()
        .map(|o| o.unwrap_or_else(|| rest.next().expect("one axis per free place")) as isize)
        .collect();
    permute(node, &axes)
}

/// `node` with new axes of length 1 at positions `axes` of the result (NumPy's
/// `expand_dims`, several axes at once).
pub(crate) fn expand_dims(node: &Arc<Node>, axes: &[isize]) -> Result<Arc<Node>> {
    let ndim = node.ndim() + axes.len();
    let new = distinct_axes("expand_dims", axes, ndim)?;
    let mut kept = 0..node.ndim();
    let source = (0..ndim)
        .map(|k| if new.contains(&k) { None } else { kept.next() })
        .collect();
    Ok(axis_map(node, source))
}

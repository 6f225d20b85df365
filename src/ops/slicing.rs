//! Basic slicing with ranges, steps (also negative), single indices and new axes, with
//! ndarray's `s![..]` semantics: a [`View`] of the input. Output tiles follow the input
//! tiles, so each output tile reads one input tile and only the touched input tiles are
//! ever computed; elementwise work and reductions read the slice in place.

use std::sync::Arc;

use ndarray::SliceInfoElem;

use super::elementwise::viewed;
use crate::chunks::{AxisChunks, ChunkGrid, SourceAxis, View};
use crate::error::{BuildError, Error, Result};
use crate::graph::Node;

/// The most chunks an irregular selection may list along one axis (a strided slice of a
/// huge axis whose chunk length the step does not divide).
const MAX_LISTED_PIECES: usize = 1 << 24;

fn resolve_index(index: isize, axis: usize, len: usize) -> Result<usize> {
    let resolved = if index < 0 {
        index + len as isize
    } else {
        index
    };
    if resolved < 0 || resolved > len as isize {
        return Err(Error::Build(BuildError::IndexOutOfBounds {
            index,
            axis,
            len,
        }));
    }
    Ok(resolved as usize)
}

/// The selection `start..end` every `step` (ndarray's semantics) of axis `axis` of `grid`:
/// the first index it reads, its chunks (each within one chunk of `grid`), and the step
/// (one longer than the axis is shortened to its length: it takes the same element, and
/// the offsets of a view stepping through tiles stay small).
fn select_axis(
    grid: &ChunkGrid,
    axis: usize,
    start: isize,
    end: Option<isize>,
    step: isize,
) -> Result<(usize, AxisChunks, isize)> {
    let len = grid.shape()[axis];
    if step == 0 {
        return Err(Error::Build(BuildError::InvalidArgument {
            op: "slice".into(),
            reason: format!("step 0 on axis {axis}"),
        }));
    }
    let step = step.signum() * step.unsigned_abs().min(len.max(1)) as isize;
    let start = resolve_index(start, axis, len)?;
    let end = match end {
        Some(e) => resolve_index(e, axis, len)?,
        None => len,
    };
    let end = end.max(start);
    let stride = step.unsigned_abs();
    let input = grid.axis(axis).clone();
    let out = input
        .select(start, end, stride, step < 0, MAX_LISTED_PIECES)
        .ok_or_else(|| {
            Error::Build(BuildError::InvalidArgument {
                op: "slice".into(),
                reason: format!(
                    "step {step} over {} elements of axis {axis} would cut one tile per input \
                     tile, more than {MAX_LISTED_PIECES}; rechunk the axis to a multiple of \
                     the step first",
                    end - start
                ),
            })
        })?;
    let first = if step > 0 || start == end {
        start
    } else {
        end - 1
    };
    Ok((first, out, step))
}

/// `node` sliced by `info` (as from ndarray's `s![..]`).
pub(crate) fn slice(node: &Arc<Node>, info: &[SliceInfoElem]) -> Result<Arc<Node>> {
    let ndim = node.ndim();
    let used = info
        .iter()
        .filter(|e| !matches!(e, SliceInfoElem::NewAxis))
        .count();
    if used > ndim {
        return Err(Error::Build(BuildError::InvalidArgument {
            op: "slice".into(),
            reason: format!("{used} indices for an array of {ndim} axes"),
        }));
    }
    let full = SliceInfoElem::Slice {
        start: 0,
        end: None,
        step: 1,
    };
    let elems = info
        .iter()
        .copied()
        .chain(std::iter::repeat_n(full, ndim - used));
    let shape = node.shape();
    let mut source = Vec::with_capacity(ndim);
    let mut out_chunks = Vec::new();
    let mut axis = 0;
    for elem in elems {
        match elem {
            SliceInfoElem::NewAxis => out_chunks.push(AxisChunks::single(1)),
            SliceInfoElem::Index(i) => {
                let len = shape[axis];
                let resolved = resolve_index(i, axis, len)?;
                if resolved >= len {
                    return Err(Error::Build(BuildError::IndexOutOfBounds {
                        index: i,
                        axis,
                        len,
                    }));
                }
                source.push(SourceAxis::Fixed(resolved));
                axis += 1;
            }
            SliceInfoElem::Slice { start, end, step } => {
                let (first, chunks, step) = select_axis(&node.grid, axis, start, end, step)?;
                source.push(SourceAxis::Mapped {
                    axis: out_chunks.len(),
                    start: first,
                    step,
                });
                out_chunks.push(chunks);
                axis += 1;
            }
        }
    }
    let grid = ChunkGrid::from_axes(out_chunks);
    let view = View {
        shape: grid.shape(),
        source,
    };
    Ok(viewed(node, view, grid))
}

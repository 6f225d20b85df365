//! Basic slicing with ranges, steps (also negative), single indices and new axes, with
//! ndarray's `s![..]` semantics. Output tiles follow the input tiles, so each output tile
//! reads exactly one input tile and only the touched input tiles are ever computed.

use std::sync::Arc;

use ndarray::{ArrayD, ArrayViewD, Axis, Slice, SliceInfoElem};

use super::blockwise::blockwise;
use super::with_dtype;
use crate::chunks::{AxisChunks, ChunkGrid};
use crate::error::{BuildError, Error, Result};
use crate::graph::Node;

/// One output block along a selected axis: the input block and the local selection in it.
#[derive(Clone, Debug)]
struct Piece {
    in_block: usize,
    /// Local index (in the input tile) of the piece's first selected element.
    first: usize,
    count: usize,
}

/// The elements `start..end` of input axis `axis`, `step` apart (negative: descending from
/// `end - 1`), chunked as `out`: each output chunk lies in one chunk of `input`.
#[derive(Clone, Debug)]
struct Selection {
    axis: usize,
    step: isize,
    start: usize,
    end: usize,
    input: AxisChunks,
    out: AxisChunks,
}

impl Selection {
    /// The input block and local selection of output block `b`, computed (not stored: a
    /// long axis of a huge array has many).
    fn piece(&self, b: usize) -> Piece {
        let count = self.out.size(b);
        let k = self.out.start(b);
        if count == 0 {
            return Piece {
                in_block: 0,
                first: 0,
                count,
            };
        }
        let stride = self.step.unsigned_abs();
        let g = if self.step > 0 {
            self.start + k * stride
        } else {
            self.end - 1 - k * stride
        };
        let in_block = self.input.chunk_of(g);
        Piece {
            in_block,
            first: g - self.input.start(in_block),
            count,
        }
    }
}

#[derive(Clone, Debug)]
enum OutAxis {
    /// Selected elements of an input axis.
    Selected(Selection),
    /// A new axis of length 1.
    New,
}

/// The most chunks an irregular selection may list along one axis (a strided slice of a
/// huge axis whose chunk length the step does not divide).
const MAX_LISTED_PIECES: usize = 1 << 24;

/// The selection of a slice: which input tile each output tile reads, and which part of it.
#[derive(Clone, Debug)]
struct Slicer {
    out_axes: Vec<OutAxis>,
    /// Input axes fixed by an index: (axis, block, local index).
    fixed: Vec<(usize, usize, usize)>,
    in_ndim: usize,
}

impl Slicer {
    /// The input block that output block `block` reads.
    fn in_block(&self, block: &[usize]) -> Vec<usize> {
        let mut in_block = vec![0; self.in_ndim];
        for &(axis, b, _) in &self.fixed {
            in_block[axis] = b;
        }
        for (k, out) in self.out_axes.iter().enumerate() {
            if let OutAxis::Selected(sel) = out {
                in_block[sel.axis] = sel.piece(block[k]).in_block;
            }
        }
        in_block
    }

    /// The part of `tile` (the tile of `in_block(block)`) that is output block `block`.
    fn view<'a, T>(&self, tile: &'a ArrayD<T>, block: &[usize]) -> ArrayViewD<'a, T> {
        let mut view = tile.view();
        for (k, out) in self.out_axes.iter().enumerate() {
            if let OutAxis::Selected(sel) = out {
                let (axis, step) = (&sel.axis, &sel.step);
                let p = &sel.piece(block[k]);
                let stride = step.unsigned_abs();
                if p.count == 0 {
                    view.slice_axis_inplace(Axis(*axis), Slice::new(0, Some(0), 1));
                    continue;
                }
                // The selected local indices, ascending; reversed below for negative steps.
                let lowest = if *step > 0 {
                    p.first
                } else {
                    p.first - (p.count - 1) * stride
                };
                let end = lowest + (p.count - 1) * stride + 1;
                view.slice_axis_inplace(
                    Axis(*axis),
                    Slice::new(lowest as isize, Some(end as isize), stride as isize),
                );
                if *step < 0 {
                    view.invert_axis(Axis(*axis));
                }
            }
        }
        let mut fixed = self.fixed.clone();
        fixed.sort_by_key(|f| std::cmp::Reverse(f.0));
        for (axis, _, local) in fixed {
            view = view.index_axis_move(Axis(axis), local);
        }
        for (k, out) in self.out_axes.iter().enumerate() {
            if matches!(out, OutAxis::New) {
                view = view.insert_axis(Axis(k));
            }
        }
        view
    }
}

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

/// The selected axis `axis` of `grid`: `start..end` every `step` (ndarray's semantics).
fn select_axis(
    grid: &ChunkGrid,
    axis: usize,
    start: isize,
    end: Option<isize>,
    step: isize,
) -> Result<OutAxis> {
    let len = grid.shape()[axis];
    if step == 0 {
        return Err(Error::Build(BuildError::InvalidArgument {
            op: "slice".into(),
            reason: format!("step 0 on axis {axis}"),
        }));
    }
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
    Ok(OutAxis::Selected(Selection {
        axis,
        step,
        start,
        end,
        input,
        out,
    }))
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
    let mut out_axes = Vec::new();
    let mut fixed = Vec::new();
    let mut axis = 0;
    for elem in elems {
        match elem {
            SliceInfoElem::NewAxis => out_axes.push(OutAxis::New),
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
                let b = node.grid.block_of(axis, resolved);
                fixed.push((axis, b, resolved - node.grid.block_start(axis, b)));
                axis += 1;
            }
            SliceInfoElem::Slice { start, end, step } => {
                out_axes.push(select_axis(&node.grid, axis, start, end, step)?);
                axis += 1;
            }
        }
    }
    let axes: Vec<AxisChunks> = out_axes
        .iter()
        .map(|o| match o {
            OutAxis::New => AxisChunks::single(1),
            OutAxis::Selected(sel) => sel.out.clone(),
        })
        .collect();
    let grid = ChunkGrid::from_axes(axes);
    let slicer = Arc::new(Slicer {
        out_axes,
        fixed,
        in_ndim: ndim,
    });
    let deps_slicer = slicer.clone();
    let builder = blockwise("slice", grid, node.dtype, vec![node.clone()]);
    Ok(with_dtype!(node.dtype, T => builder.arrays::<T, T>(
        move |block| vec![(0, deps_slicer.in_block(block))],
        move |block, tiles| {
            Ok(slicer.view(tiles[0], block.index).as_standard_layout().into_owned())
        },
    )))
}

//! How a contraction reads one operand: blocks of its source's tiles, handed to GEMM in
//! place as pointer, leading dimension and transpose flag.
//!
//! An operand that is a view of another node (a transpose `x.T`, a window `x[1:, 3:]`, a
//! slice of a transpose, rows taken with a step `x[::2]`, any mix of axis permutations and
//! ranges, stepped but along the last axis) is read from that node's tiles: its letters
//! follow the source's axes, and a window offset and steps say which elements it reads.
//! The contraction cuts the operand into the common refinement of both operands' tiles;
//! slices cut at the source's tile boundaries and refinements only cut further, so every
//! operand block lies inside one source tile. GEMM then reads the block where it is
//! stored: its first element, the tile's row length (times the step between the rows read)
//! as leading dimension, and the transpose flag where the block's matrix axes are swapped.
//! So a block made of pieces of several source tiles never arises: those pieces are
//! separate blocks of the refined grid, each one GEMM accumulated into the same output tile
//! (`beta = 1`), which is cheaper than assembling a contiguous block and keeps no copy. No
//! rechunk node and no view node exist.
//!
//! A block is copied (in the task, into scratch) only where BLAS cannot describe it: an
//! operand whose axes are neither in GEMM's order nor in its swapped order (a stack of
//! matrices whose batch axis sits between its matrix axes), or a matrix group of several
//! axes (`tensordot` over two axes) of which the refinement keeps a part of an inner axis.

use std::borrow::Cow;
use std::sync::Arc;

use chunkwise_kernels::dtype::FloatElement;
use chunkwise_kernels::linalg::{MatrixRef, Op};
use chunkwise_kernels::view::{c_strides, copy_block};
use ndarray::ArrayD;

use crate::chunks::{ChunkGrid, SourceAxis};
use crate::graph::Node;
use crate::ops::elementwise::as_view;

/// Where a contraction reads an operand: a window of the tiles of `node`, whose axes the
/// letters name in `node`'s order.
#[derive(Clone, Debug)]
pub(super) struct Window {
    /// The node whose tiles are read (the view's source, or the operand itself).
    pub(super) node: Arc<Node>,
    /// Per axis of `node`: the first index the operand reads.
    pub(super) start: Vec<usize>,
    /// Per axis of `node`: the step between the indices the operand reads (`x[::2]`).
    pub(super) step: Vec<usize>,
    /// Per axis of `node`: the letter naming it.
    pub(super) letters: Vec<char>,
    /// Per axis of `node`: the operand's chunks along it (each inside one tile of `node`).
    pub(super) chunks: Vec<Vec<usize>>,
}

impl Window {
    /// The window through which a contraction reads `operand`, named by `letters`: its
    /// source's tiles when it is a view that permutes axes and takes ranges of them, with
    /// any positive step but along the source's last axis (whose elements GEMM reads
    /// contiguously); the operand's own tiles otherwise (a reversed, broadcast or indexed
    /// view, a step along the last axis, or a view whose tiles straddle its source's tiles,
    /// is computed as a node).
    pub(super) fn of(operand: &Arc<Node>, letters: &[char]) -> Window {
        Window::through_view(operand, letters).unwrap_or_else(|| Window {
            node: operand.clone(),
            start: vec![0; operand.ndim()],
            step: vec![1; operand.ndim()],
            letters: letters.to_vec(),
            chunks: operand.grid.chunks(),
        })
    }

    fn through_view(operand: &Arc<Node>, letters: &[char]) -> Option<Window> {
        let input = as_view(operand)?;
        let (source, ndim) = (&input.node, operand.ndim());
        if source.ndim() != ndim || operand.shape().contains(&0) {
            return None;
        }
        let chunks = operand.grid.chunks();
        let mut window = Window {
            node: source.clone(),
            start: vec![0; ndim],
            step: vec![1; ndim],
            letters: vec![' '; ndim],
            chunks: vec![Vec::new(); ndim],
        };
        for (a, s) in input.view.source.iter().enumerate() {
            let SourceAxis::Mapped { axis, start, step } = *s else {
                return None;
            };
            let step = usize::try_from(step).ok().filter(|&s| s >= 1)?;
            if step > 1 && a + 1 == ndim {
                return None;
            }
            let along = source.grid.axis(a);
            let mut first = start;
            for &len in &chunks[axis] {
                if along.chunk_of(first) != along.chunk_of(first + (len - 1) * step) {
                    return None;
                }
                first += len * step;
            }
            window.start[a] = start;
            window.step[a] = step;
            window.letters[a] = letters[axis];
            window.chunks[a] = chunks[axis].clone();
        }
        Some(window)
    }

    /// Whether two windows read the same elements of the same node.
    pub(super) fn same_elements(&self, other: &Window) -> bool {
        Arc::ptr_eq(&self.node, &other.node)
            && self.start == other.start
            && self.step == other.step
            && self
                .chunks
                .iter()
                .map(|c| c.iter().sum::<usize>())
                .eq(other.chunks.iter().map(|c| c.iter().sum::<usize>()))
    }
}

/// How one operand's blocks become stacks of matrices for GEMM: which axes are batch, rows
/// and columns of `op(matrix)`, and whether the stored tile is read as is.
#[derive(Clone, Debug)]
pub(super) struct OperandLayout {
    /// The tile's axes in (batch, free, contracted) order for `a`, (batch, contracted,
    /// free) for `b`: the order of the matrices `gemm` reads.
    order: Vec<usize>,
    /// The batch axes.
    batch: Vec<usize>,
    /// The axes of the columns of `op(matrix)` (the last group of `order`).
    cols: Vec<usize>,
    /// How the stored tile is read in place: `Op::Plain` where the stored order is `order`,
    /// `Op::Transposed` where it is `order` with its two matrix groups swapped, with the
    /// axes of the stored rows and of the stored columns; `None` where blocks are copied
    /// into `order`.
    stored: Option<(Op, Vec<usize>, Vec<usize>)>,
}

impl OperandLayout {
    /// `groups`: the axes of (batch, first matrix group, second matrix group).
    pub(super) fn new(groups: [Vec<usize>; 3]) -> OperandLayout {
        let [batch, first, second] = groups;
        let order: Vec<usize> = batch.iter().chain(&first).chain(&second).copied().collect();
        let swapped: Vec<usize> = batch.iter().chain(&second).chain(&first).copied().collect();
        let identity: Vec<usize> = (0..order.len()).collect();
        let stored = if order == identity {
            Some((Op::Plain, first, second.clone()))
        } else if swapped == identity {
            Some((Op::Transposed, second.clone(), first))
        } else {
            None
        };
        OperandLayout {
            order,
            batch,
            cols: second,
            stored,
        }
    }

    /// Whether some block may have to be copied (see [`OperandLayout::matrices`]).
    pub(super) fn may_copy(&self) -> bool {
        match &self.stored {
            Some((_, rows, cols)) => rows.len() > 1 || cols.len() > 1,
            None => true,
        }
    }

    /// The block of `tile` at `corner` of `shape`, taking every `step`-th element along
    /// each axis, as a stack of matrices: read in place where the layout allows it (every
    /// axis but the first of each matrix group whole in the block and unstepped, so that
    /// the group is one stride, and the stored columns unstepped), copied into `order`
    /// otherwise.
    pub(super) fn matrices<'a, T: FloatElement>(
        &self,
        tile: &'a ArrayD<T>,
        corner: &[usize],
        step: &[usize],
        shape: &[usize],
    ) -> Matrices<'a, T> {
        let whole = |axes: &[usize]| {
            axes.iter()
                .skip(1)
                .all(|&a| shape[a] == tile.shape()[a] && step[a] == 1)
        };
        let (op, rows, cols) = match &self.stored {
            Some((op, rows, cols))
                if whole(rows)
                    && whole(cols)
                    && cols.first().is_none_or(|&c| step[c] == 1)
                    && (rows.len() <= 1 || step[rows[0]] == 1) =>
            {
                (*op, rows, cols)
            }
            _ => return self.copied(tile, corner, step, shape),
        };
        let stored = c_strides(tile.shape());
        let first: usize = corner.iter().zip(&stored).map(|(c, s)| c * s).sum();
        // From one element read to the next along each axis (a step along the stored rows
        // is a longer leading dimension).
        let strides: Vec<usize> = stored.iter().zip(step).map(|(s, k)| s * k).collect();
        let ranges: Vec<std::ops::Range<usize>> = self.batch.iter().map(|&a| 0..shape[a]).collect();
        let offsets = crate::chunks::box_indices(&ranges)
            .map(|e| {
                let step: usize = e
                    .iter()
                    .zip(&self.batch)
                    .map(|(i, &a)| i * strides[a])
                    .sum();
                first + step
            })
            .collect();
        // The stored columns are the trailing axes: a row is as long as their tile extents,
        // times the step between the rows read.
        let row_step = rows.first().map_or(1, |&r| step[r]);
        let ld = cols.iter().map(|&a| tile.shape()[a]).product::<usize>() * row_step;
        Matrices {
            data: Cow::Borrowed(tile.as_slice().expect("C-order tiles")),
            offsets,
            op,
            ld,
        }
    }

    /// The block copied into `order`, contiguous.
    fn copied<'a, T: FloatElement>(
        &self,
        tile: &ArrayD<T>,
        corner: &[usize],
        step: &[usize],
        shape: &[usize],
    ) -> Matrices<'a, T> {
        let data = copy_permuted(tile, corner, step, shape, &self.order);
        let batch: usize = self.batch.iter().map(|&a| shape[a]).product();
        let per = data.len().checked_div(batch).unwrap_or(0);
        Matrices {
            data: Cow::Owned(data),
            offsets: (0..batch).map(|e| e * per).collect(),
            op: Op::Plain,
            ld: self.cols.iter().map(|&a| shape[a]).product(),
        }
    }
}

/// The block of `tile` at `corner` of `shape` (every `step`-th element along each axis),
/// its axes in `order`, copied contiguous: matrix by matrix over its last two axes, each
/// by the kernels' blocked copy (cache-friendly for a transpose or a step).
fn copy_permuted<T: FloatElement>(
    tile: &ArrayD<T>,
    corner: &[usize],
    step: &[usize],
    shape: &[usize],
    order: &[usize],
) -> Vec<T> {
    let data = tile.as_slice().expect("C-order tiles");
    let stored = c_strides(tile.shape());
    let first: usize = corner.iter().zip(&stored).map(|(c, s)| c * s).sum();
    // Per axis of the copy: its extent, and the distance between the elements it reads.
    let extent: Vec<usize> = order.iter().map(|&a| shape[a]).collect();
    let stride: Vec<isize> = order
        .iter()
        .map(|&a| (stored[a] * step[a]) as isize)
        .collect();
    let mut out = vec![T::default(); extent.iter().product()];
    if out.is_empty() {
        return out;
    }
    // The last two axes are the matrices copied (a 0-d or 1-d block is one 1-row matrix).
    let n = extent.len();
    let ((rows, cols), strides) = match n {
        0 => ((1, 1), (0, 0)),
        1 => ((1, extent[0]), (0, stride[0])),
        _ => (
            (extent[n - 2], extent[n - 1]),
            (stride[n - 2], stride[n - 1]),
        ),
    };
    let outer: Vec<std::ops::Range<usize>> = extent[..n.saturating_sub(2)]
        .iter()
        .map(|&e| 0..e)
        .collect();
    for (k, index) in crate::chunks::box_indices(&outer).enumerate() {
        let offset: isize = index
            .iter()
            .zip(&stride)
            .map(|(&i, &s)| i as isize * s)
            .sum();
        let matrix = &mut out[k * rows * cols..(k + 1) * rows * cols];
        copy_block(
            data,
            first as isize + offset,
            strides,
            (rows, cols),
            matrix,
            cols,
        );
    }
    out
}

/// A block of an operand as GEMM reads it: one matrix per batch element, each from
/// `data[offset..]`.
pub(super) struct Matrices<'a, T: Clone> {
    data: Cow<'a, [T]>,
    offsets: Vec<usize>,
    op: Op,
    ld: usize,
}

impl<T: Clone> Matrices<'_, T> {
    /// The matrix of batch element `e`.
    pub(super) fn get(&self, e: usize) -> MatrixRef<'_, T> {
        MatrixRef {
            data: self.data.as_ref().get(self.offsets[e]..).unwrap_or(&[]),
            op: self.op,
            ld: self.ld,
        }
    }
}

/// The tiles that hold each block of an operand, and where.
#[derive(Debug)]
pub(super) struct OperandTiles {
    /// The window read.
    pub(super) window: Window,
    /// The operand's blocks (the refinement of both operands' tiles), in window
    /// coordinates and the window node's axis order.
    pub(super) grid: ChunkGrid,
    pub(super) layout: OperandLayout,
}

impl OperandTiles {
    /// The window node's tile that holds operand block `block`.
    pub(super) fn tile_of(&self, block: &[usize]) -> Vec<usize> {
        let first = self.first_read(block);
        (0..block.len())
            .map(|a| self.window.node.grid.axis(a).chunk_of(first[a]))
            .collect()
    }

    /// The window node's index of the first element of operand block `block`.
    fn first_read(&self, block: &[usize]) -> Vec<usize> {
        let origin = self.grid.block_origin(block);
        let window = &self.window;
        (0..block.len())
            .map(|a| window.start[a] + origin[a] * window.step[a])
            .collect()
    }

    /// Operand block `block` of its source tile `tile`, as GEMM reads it.
    pub(super) fn matrices<'a, T: FloatElement>(
        &self,
        tile: &'a ArrayD<T>,
        block: &[usize],
    ) -> Matrices<'a, T> {
        let first = self.first_read(block);
        let source = self.tile_of(block);
        let corner: Vec<usize> = (0..block.len())
            .map(|a| first[a] - self.window.node.grid.axis(a).start(source[a]))
            .collect();
        let shape = self.grid.block_shape(block);
        self.layout
            .matrices(tile, &corner, &self.window.step, &shape)
    }

    /// Bytes of the largest block copied into scratch (0 when none is).
    pub(super) fn copy_bytes<T>(&self) -> usize {
        match self.layout.may_copy() {
            true => self.grid.max_tile_len() * size_of::<T>(),
            false => 0,
        }
    }
}

//! Changing the tile grid: each output tile is assembled from the input tiles it overlaps.
//!
//! This direct regrid holds one output tile and its overlapping inputs per task; the planner
//! checks that against the memory budget before anything runs.

use std::sync::Arc;

use ndarray::{ArrayD, IxDyn};

use super::blockwise::blockwise;
use super::{sub_view, with_dtype};
use crate::chunks::View;
use crate::chunks::{ChunkGrid, overlap_local};
use crate::graph::{Node, NodeKind, Source};

/// `node` on the grid `to` (the same node if it is already on it).
///
/// A direct regrid task holds its output tile and every input tile it overlaps. When those
/// overlaps are large (a tile of `to` crosses many tiles of the input, as when rows become
/// columns), the regrid goes through the common refinement of the two grids instead (the
/// rechunker algorithm with an in-memory intermediate): each intermediate tile lies inside
/// one input tile and one output tile, so no task holds more than one input tile and its
/// pieces, or one output tile and its pieces. `Array::rechunk_via_store` bounds the memory held
/// between the two stages too, by putting the intermediate in a Zarr store.
pub(crate) fn rechunk(node: &Arc<Node>, to: ChunkGrid) -> Arc<Node> {
    if node.grid == to {
        return node.clone();
    }
    let itemsize = node.dtype.size() as u64;
    let largest_tile = node.grid.max_tile_len().max(to.max_tile_len()) as u64 * itemsize;
    let direct_bytes = largest_direct_task(&node.grid, &to) * itemsize;
    if direct_bytes > 4 * largest_tile {
        let middle = ChunkGrid::from_axes(
            (0..to.ndim())
                .map(|axis| node.grid.axis(axis).refine(to.axis(axis)))
                .collect(),
        );
        if middle != node.grid && middle != to {
            return regrid(&regrid(node, middle), to);
        }
    }
    regrid(node, to)
}

/// The largest number of input elements one direct regrid task of `to` reads.
fn largest_direct_task(from: &ChunkGrid, to: &ChunkGrid) -> u64 {
    // Per axis, the largest total length of the input chunks that one output chunk overlaps.
    (0..from.ndim())
        .map(|axis| from.axis(axis).largest_overlap(to.axis(axis)) as u64)
        .fold(1u64, u64::saturating_mul)
}

/// A direct regrid node: each tile of `to` assembled from the tiles of `node` it overlaps.
fn regrid(node: &Arc<Node>, to: ChunkGrid) -> Arc<Node> {
    let from = node.grid.clone();
    let deps_from = from.clone();
    let deps_to = to.clone();
    let builder = blockwise("rechunk", to.clone(), node.dtype, vec![node.clone()]);
    with_dtype!(node.dtype, T => builder.arrays::<T, T>(
        move |block| {
            deps_from.blocks_under(&deps_to, block).into_iter().map(|b| (0, b)).collect()
        },
        move |block, tiles| {
            let out_ranges = to.block_ranges(block.index);
            let mut out = ArrayD::<T>::default(IxDyn(block.shape));
            for (in_block, tile) in from.blocks_under(&to, block.index).iter().zip(tiles) {
                let (dst, src) = overlap_local(&out_ranges, &from.block_ranges(in_block));
                sub_view(out.view_mut(), &dst).assign(&sub_view(tile.view(), &src));
            }
            Ok(out)
        },
    ))
}

/// `node` on the grid `to`, for a consumer that needs whole tiles of it: computed on that
/// grid directly where its values come from positions alone (random numbers, ranges and
/// elementwise work on them: no tile of the old grid is made), else [`rechunk`]ed.
pub(crate) fn regridded(node: &Arc<Node>, to: ChunkGrid) -> Arc<Node> {
    /// Whether `node` is made from element positions only (up to a depth).
    fn from_positions(node: &Node, depth: usize) -> bool {
        match &node.kind {
            NodeKind::Source(Source::Generator(_)) => true,
            NodeKind::Elemwise(e) if depth > 0 => e
                .inputs
                .iter()
                .all(|i| i.view.is_identity(&i.node.shape()) && from_positions(&i.node, depth - 1)),
            _ => false,
        }
    }
    match from_positions(node, 32) {
        true => super::elementwise::viewed(node, View::identity(&node.shape()), to),
        false => rechunk(node, to),
    }
}

/// The grid on which each tile holds `axes` whole: those axes are one chunk, and the other
/// axes' chunks are split (the leading ones first, where a piece of a C-order tile stays
/// contiguous rows) until a tile of `itemsize`-byte elements holds at most `target_bytes`,
/// or they are single elements. For operations that need whole lanes (quantiles, sorting,
/// functions of core dimensions), rechunked inside the plan.
pub(crate) fn whole_along(
    grid: &ChunkGrid,
    axes: &[bool],
    itemsize: usize,
    target_bytes: usize,
) -> ChunkGrid {
    let shape = grid.shape();
    let lane: usize = (0..shape.len())
        .filter(|&a| axes[a])
        .map(|a| shape[a].max(1))
        .product();
    let mut chunks: Vec<Vec<usize>> = grid.chunks();
    let tile_bytes = |chunks: &[Vec<usize>]| -> usize {
        let others: usize = (0..shape.len())
            .filter(|&a| !axes[a])
            .map(|a| chunks[a].iter().copied().max().unwrap_or(1).max(1))
            .product();
        lane.saturating_mul(others).saturating_mul(itemsize)
    };
    // An array with an empty axis has empty tiles: nothing to split (and an empty axis
    // cannot be cut into non-empty chunks).
    let empty = shape.contains(&0);
    for a in (0..shape.len()).filter(|&a| !axes[a]) {
        let bytes = tile_bytes(&chunks);
        if empty || bytes <= target_bytes {
            break;
        }
        let parts = bytes.div_ceil(target_bytes.max(1));
        chunks[a] = chunks[a]
            .iter()
            .flat_map(|&c| split_evenly(c, parts.min(c.max(1))))
            .collect();
    }
    let axes_chunks = (0..shape.len())
        .map(|a| match axes[a] {
            true => crate::chunks::AxisChunks::single(shape[a]),
            false => crate::chunks::AxisChunks::from_sizes(chunks[a].clone()),
        })
        .collect();
    ChunkGrid::from_axes(axes_chunks)
}

/// `len` cut into `parts` lengths that differ by at most one (the longer ones first).
fn split_evenly(len: usize, parts: usize) -> Vec<usize> {
    let parts = parts.max(1);
    (0..parts)
        .map(|p| len / parts + usize::from(p < len % parts))
        .filter(|&n| n > 0)
        .collect()
}

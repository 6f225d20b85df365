//! Changing the tile grid: each output tile is assembled from the input tiles it overlaps.
//!
//! This direct regrid holds one output tile and its overlapping inputs per task; the planner
//! checks that against the memory budget before anything runs.

use std::marker::PhantomData;
use std::sync::Arc;

use chunkwise_kernels::dtype::Element;
use ndarray::{ArrayD, IxDyn};

use super::{sub_view, with_dtype};
use crate::chunks::{ChunkGrid, box_indices};
use crate::error::Result;
use crate::graph::{BlockMap, Blockwise, Node, NodeKind, Value, tile_value};

/// Assembles tiles of `to` from tiles of `from` (same shape).
#[derive(Debug)]
struct Regrid<T> {
    from: ChunkGrid,
    to: ChunkGrid,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> BlockMap for Regrid<T> {
    fn name(&self) -> String {
        "rechunk".into()
    }

    fn deps(&self, block: &[usize]) -> Vec<(usize, Vec<usize>)> {
        let blocks = self
            .from
            .blocks_overlapping_all(&self.to.block_ranges(block));
        box_indices(&blocks).map(|b| (0, b)).collect()
    }

    fn run(&self, block: &[usize], shape: &[usize], inputs: &[&Value]) -> Result<Value> {
        let out_ranges = self.to.block_ranges(block);
        let mut out = ArrayD::<T>::default(IxDyn(shape));
        for ((_, in_block), tile) in self.deps(block).iter().zip(inputs) {
            let tile = tile
                .as_any()
                .downcast_ref::<ArrayD<T>>()
                .expect("rechunk inputs are tiles of T");
            let in_ranges = self.from.block_ranges(in_block);
            // Overlap of the two blocks, in global coordinates.
            let overlap: Vec<_> = out_ranges
                .iter()
                .zip(&in_ranges)
                .map(|(o, i)| o.start.max(i.start)..o.end.min(i.end).max(o.start.max(i.start)))
                .collect();
            let src: Vec<_> = overlap
                .iter()
                .zip(&in_ranges)
                .map(|(g, i)| g.start - i.start..g.end - i.start)
                .collect();
            let dst: Vec<_> = overlap
                .iter()
                .zip(&out_ranges)
                .map(|(g, o)| g.start - o.start..g.end - o.start)
                .collect();
            sub_view(out.view_mut(), &dst).assign(&sub_view(tile.view(), &src));
        }
        Ok(tile_value(out))
    }
}

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

/// A direct regrid node.
fn regrid(node: &Arc<Node>, to: ChunkGrid) -> Arc<Node> {
    let from = node.grid.clone();
    let map: Arc<dyn BlockMap> = with_dtype!(node.dtype, T => Arc::new(Regrid::<T> { from, to: to.clone(), _t: PhantomData }));
    Node::new(
        NodeKind::Blockwise(Blockwise {
            inputs: vec![node.clone()],
            map,
        }),
        to,
        node.dtype,
    )
}

//! Scans along an axis (cumulative sums, products, any associative operation), tile by
//! tile with carries: each tile is scanned on its own, the folds of the tiles before it
//! along the axis are combined into its carry (a chain of small slices, one per tile), and
//! the carry is applied to the scanned tile. A task holds a tile and a few slices, never a
//! whole axis; a consumer of part of the result (`cumsum(0)[-1]`) plans only the tiles and
//! carries it needs.

use std::sync::Arc;

use chunkwise_kernels::dtype::Element;
use chunkwise_kernels::scan::{apply_carry, fold_slices, scan_in_place};
use ndarray::{ArrayD, IxDyn};

use super::blockwise::blockwise;
use crate::chunks::{AxisChunks, ChunkGrid};
use crate::graph::Node;

/// A C-order tile of `shape` seen along `axis`: (`outer`, `len`, `inner`).
fn along(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = shape[..axis].iter().product();
    let inner = shape[axis + 1..].iter().product();
    (outer, shape[axis], inner)
}

/// `grid` with `axis` replaced by `chunks`.
fn with_axis(grid: &ChunkGrid, axis: usize, chunks: AxisChunks) -> ChunkGrid {
    let mut axes: Vec<AxisChunks> = (0..grid.ndim()).map(|a| grid.axis(a).clone()).collect();
    axes[axis] = chunks;
    ChunkGrid::from_axes(axes)
}

/// `block` with its index along `axis` set to `at`.
fn moved(block: &[usize], axis: usize, at: usize) -> Vec<usize> {
    let mut b = block.to_vec();
    b[axis] = at;
    b
}

/// An array tile from C-order `data` of `shape`.
fn tile<U: Element>(shape: &[usize], data: Vec<U>) -> ArrayD<U> {
    ArrayD::from_shape_vec(IxDyn(shape), data).expect("scan slices have the block's shape")
}

/// The inclusive scan of `input` along `axis` by `op`, which must be associative (it is
/// applied left to right, so it need not commute). `name` labels the nodes in plans.
pub(crate) fn scan<U, F>(input: &Arc<Node>, axis: usize, op: F, name: &str) -> Arc<Node>
where
    U: Element,
    F: Fn(U, U) -> U + Clone + Send + Sync + 'static,
{
    let grid = input.grid.clone();
    if grid.shape()[axis] == 0 {
        // Nothing to scan (its tiles may be many, all empty: no fold of theirs exists).
        return input.clone();
    }
    let blocks = grid.nblocks()[axis];
    // The fold of each tile along the axis: one slice per tile.
    let fold = op.clone();
    let totals = blockwise(
        format!("{name} totals"),
        with_axis(&grid, axis, AxisChunks::regular(blocks, 1)),
        U::DTYPE,
        vec![input.clone()],
    )
    .arrays::<U, U>(
        |block| vec![(0, block.to_vec())],
        move |block, tiles| {
            let (outer, len, inner) = along(tiles[0].shape(), axis);
            let data = tiles[0].as_slice().expect("tiles are in C order");
            Ok(tile(
                block.shape,
                fold_slices(data, outer, len, inner, &fold),
            ))
        },
    );
    // carries[k - 1]: the fold of tiles 0..k along the axis, for tile k >= 1.
    let slice_grid = with_axis(&grid, axis, AxisChunks::single(1));
    let mut carries: Vec<Arc<Node>> = Vec::with_capacity(blocks.saturating_sub(1));
    for k in 1..blocks {
        let carry = match carries.last() {
            None => blockwise(
                format!("{name} carry 1"),
                slice_grid.clone(),
                U::DTYPE,
                vec![totals.clone()],
            )
            .run(
                move |block| vec![(0, moved(block, axis, 0))],
                |_, tiles| Ok(tiles[0].clone()),
            ),
            Some(previous) => {
                let op = op.clone();
                blockwise(
                    format!("{name} carry {k}"),
                    slice_grid.clone(),
                    U::DTYPE,
                    vec![previous.clone(), totals.clone()],
                )
                .arrays::<U, U>(
                    move |block| vec![(0, block.to_vec()), (1, moved(block, axis, k - 1))],
                    move |block, tiles| {
                        let data = tiles[0].iter().zip(tiles[1].iter());
                        Ok(tile(block.shape, data.map(|(&c, &t)| op(c, t)).collect()))
                    },
                )
            }
        };
        carries.push(carry);
    }
    let inputs: Vec<Arc<Node>> = [input.clone()].into_iter().chain(carries).collect();
    blockwise(name, grid, U::DTYPE, inputs).arrays::<U, U>(
        move |block| {
            let k = block[axis];
            let carry = (k > 0).then(|| (k, moved(block, axis, 0)));
            [(0, block.to_vec())].into_iter().chain(carry).collect()
        },
        move |block, tiles| {
            let (outer, len, inner) = along(block.shape, axis);
            let mut data = tiles[0]
                .as_standard_layout()
                .into_owned()
                .into_raw_vec_and_offset()
                .0;
            scan_in_place(&mut data, outer, len, inner, &op);
            if let Some(carry) = tiles.get(1) {
                let carry = carry.as_slice().expect("tiles are in C order");
                apply_carry(&mut data, carry, outer, len, inner, &op);
            }
            Ok(tile(block.shape, data))
        },
    )
}

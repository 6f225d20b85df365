//! Boolean selection, in two steps once the mask is known: the number of selected elements
//! of each mask tile (a small array, computed first), then the node that selects them, on
//! a grid whose selected axis is chunked by those numbers.

use std::iter::repeat_n;
use std::sync::Arc;

use chunkwise_kernels::dtype::{DType, Element};
use chunkwise_kernels::select::{count_true, select_blocks};
use ndarray::{ArrayD, IxDyn};

use super::blockwise::blockwise;
use crate::chunks::{AxisChunks, ChunkGrid};
use crate::error::Result;
use crate::graph::Node;

/// One `u64` per block of `mask`: how many of the tile's elements are true.
pub(crate) fn block_counts(mask: &Arc<Node>) -> Arc<Node> {
    let marks = ChunkGrid::from_axes(
        mask.grid
            .nblocks()
            .iter()
            .map(|&n| AxisChunks::regular(n, 1))
            .collect(),
    );
    blockwise("count selected", marks, DType::U64, vec![mask.clone()]).arrays::<bool, u64>(
        |block| vec![(0, block.to_vec())],
        |block, tiles| {
            let count = count_true(tiles[0].as_slice().expect("tiles are in C order"));
            Ok(ArrayD::from_elem(IxDyn(block.shape), count as u64))
        },
    )
}

/// The elements of `values` where `mask` is true, as NumPy's `values[:, ..., mask]`.
///
/// `mask` covers axes `at..at + mask.ndim()` of `values`, chunked alike there, with one
/// block along each of those axes but the first (so selected elements come out in C
/// order); `counts[j]` is the number of true elements of mask block `j`. Those axes become
/// one axis, chunked as the counts of the blocks that select something (a grid has no
/// zero-length chunk on an axis that is not empty); the other axes keep their chunks.
pub(crate) fn select<T: Element>(
    values: &Arc<Node>,
    mask: &Arc<Node>,
    at: usize,
    counts: Vec<usize>,
) -> Arc<Node> {
    let k = mask.ndim();
    let after = at + k..values.ndim();
    // The mask block of each output block: those that select something, or the first
    // (selecting nothing) when none does.
    let mut sources: Vec<usize> = (0..counts.len()).filter(|&j| counts[j] > 0).collect();
    if sources.is_empty() {
        sources.push(0);
    }
    let sizes = sources.iter().map(|&j| counts[j]).collect();
    let axes: Vec<AxisChunks> = (0..at)
        .map(|a| values.grid.axis(a).clone())
        .chain([AxisChunks::from_sizes(sizes)])
        .chain(after.clone().map(|a| values.grid.axis(a).clone()))
        .collect();
    let inner_axes = after.clone();
    blockwise(
        "select",
        ChunkGrid::from_axes(axes),
        T::DTYPE,
        vec![values.clone(), mask.clone()],
    )
    .run(
        move |block| {
            let mask_block: Vec<usize> = [sources[block[at]]]
                .into_iter()
                .chain(repeat_n(0, k - 1))
                .collect();
            let values_block = block[..at]
                .iter()
                .chain(&mask_block)
                .chain(&block[at + 1..])
                .copied()
                .collect();
            vec![(0, values_block), (1, mask_block)]
        },
        move |block, tiles| {
            let values = tiles[0].array::<T>()?;
            let mask = tiles[1].array::<bool>()?;
            let outer = values.shape()[..at].iter().product();
            let inner = inner_axes.clone().map(|a| values.shape()[a]).product();
            let mut out = Vec::with_capacity(block.len());
            select_blocks(
                values.as_slice().expect("tiles are in C order"),
                mask.as_slice().expect("tiles are in C order"),
                outer,
                inner,
                &mut out,
            );
            Ok(crate::tile::tile_value(tile(block.shape, out)?))
        },
    )
}

/// `data` as an array of `shape` (an error if a count was wrong).
fn tile<T: Element>(shape: &[usize], data: Vec<T>) -> Result<ArrayD<T>> {
    let found = data.len();
    ArrayD::from_shape_vec(IxDyn(shape), data).map_err(|_| {
        crate::error::Error::Exec(crate::error::ExecError::TileShape {
            task: "select".into(),
            expected: shape.to_vec(),
            found: vec![found],
        })
    })
}

/// `result` itself, or an error naming `op` when a tile of `counts` (on the same grid)
/// holds a zero: a reduction without identity (min, max) over a selection that selected
/// nothing, found when it is computed.
pub(crate) fn nonempty(result: &Arc<Node>, counts: &Arc<Node>, op: &str) -> Arc<Node> {
    let op = op.to_string();
    blockwise(
        format!("{op} (nonempty)"),
        result.grid.clone(),
        result.dtype,
        vec![result.clone(), counts.clone()],
    )
    .run(
        |block| vec![(0, block.to_vec()), (1, block.to_vec())],
        move |_, tiles| {
            let counts = tiles[1].array::<u64>()?;
            if counts.iter().any(|&n| n == 0) {
                return Err(crate::error::Error::Build(
                    crate::error::BuildError::EmptyReduction { op: op.clone() },
                ));
            }
            Ok(tiles[0].clone())
        },
    )
}

//! Broadcasting chunk grids against each other (NumPy's rules) and unifying their chunks:
//! the common grid of `map_blocks`' inputs, and of the loop axes of `apply_gufunc`'s.

use super::{AxisChunks, ChunkGrid};
use crate::error::{BuildError, Error, Result};

/// The common chunks of grids broadcast against each other (NumPy's rules: each aligned
/// with the trailing axes, length-1 axes repeated), each axis the common refinement of the
/// chunks of the grids that span it; and per grid, per own axis, whether it broadcasts.
pub(crate) fn broadcast_grids(
    op: &str,
    grids: &[ChunkGrid],
) -> Result<(Vec<AxisChunks>, Vec<Vec<bool>>)> {
    let nd = grids.iter().map(|g| g.ndim()).max().unwrap_or(0);
    let mut axes = Vec::with_capacity(nd);
    for axis in 0..nd {
        let own = |g: &ChunkGrid| (axis + g.ndim()).checked_sub(nd);
        let len = grids
            .iter()
            .filter_map(|g| own(g).map(|k| g.axis(k).len()))
            .filter(|&n| n != 1)
            .max()
            .unwrap_or(1);
        let mut common: Option<AxisChunks> = None;
        for g in grids {
            let Some(k) = own(g) else { continue };
            let chunks = g.axis(k);
            if chunks.len() == len {
                common = Some(match common {
                    Some(c) if &c != chunks => c.refine(chunks),
                    Some(c) => c,
                    None => chunks.clone(),
                });
            } else if chunks.len() != 1 {
                let first = grids
                    .iter()
                    .find(|h| own(h).is_some_and(|j| h.axis(j).len() == len));
                return Err(Error::Build(BuildError::Broadcast {
                    op: op.to_string(),
                    left: first.map(|h| h.shape()).unwrap_or_default(),
                    right: g.shape(),
                }));
            }
        }
        axes.push(common.unwrap_or_else(|| AxisChunks::single(len)));
    }
    let broadcast = grids
        .iter()
        .map(|g| {
            let off = nd - g.ndim();
            (0..g.ndim())
                .map(|k| g.axis(k).len() != axes[off + k].len())
                .collect()
        })
        .collect();
    Ok((axes, broadcast))
}

/// The grid a broadcast input of `grid` is rechunked to: its own chunks on the axes it
/// broadcasts along (`broadcast`), the common `axes` (aligned with its trailing axes) on
/// the others.
pub(crate) fn broadcast_target(
    grid: &ChunkGrid,
    broadcast: &[bool],
    axes: &[AxisChunks],
) -> ChunkGrid {
    let off = axes.len() - broadcast.len();
    ChunkGrid::from_axes(
        (0..broadcast.len())
            .map(|k| match broadcast[k] {
                true => grid.axis(k).clone(),
                false => axes[off + k].clone(),
            })
            .collect(),
    )
}

/// The blocks of inputs that broadcast as `broadcast` says (per input, per own axis) read
/// for block `block` of the common grid.
pub(crate) fn broadcast_deps(broadcast: &[Vec<bool>], block: &[usize]) -> Vec<(usize, Vec<usize>)> {
    let nd = block.len();
    let blocks = broadcast.iter().map(|bc| {
        let own = &block[nd - bc.len()..];
        own.iter()
            .zip(bc)
            .map(|(&b, &bc)| if bc { 0 } else { b })
            .collect()
    });
    blocks.enumerate().collect()
}

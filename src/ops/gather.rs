//! Integer indexing (NumPy's `take`, Dask's `vindex`): elements picked by lists of indices,
//! in any order, repeated or not. A list known when the graph is built becomes tasks that
//! each read only the source tiles their indices fall in; a lazy index array becomes tasks
//! that read one index tile and every source tile along the indexed axis.

use std::sync::Arc;

use chunkwise_kernels::dtype::{DType, Element};
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn};

use super::blockwise::blockwise;
use crate::chunks::{AxisChunks, ChunkGrid};
use crate::error::{BuildError, Error, ExecError, Result};
use crate::graph::{Node, NodeKind};
use crate::tile::{Value, tile_value};

/// The most distinct source tiles one output tile of an in-memory gather reads: past it the
/// output chunk ends, so that a task holds a few input tiles, not a whole axis of them.
pub(crate) const MAX_SOURCE_TILES: usize = 8;

/// `index` counted from the end when negative, checked against `len`.
pub(crate) fn resolve(index: i64, axis: usize, len: usize) -> Result<usize> {
    let resolved = if index < 0 {
        index.checked_add(len as i64)
    } else {
        Some(index)
    };
    match resolved {
        Some(i) if i >= 0 && (i as u64) < len as u64 => Ok(i as usize),
        _ => Err(Error::Build(BuildError::IndexOutOfBounds {
            index: index as isize,
            axis,
            len,
        })),
    }
}

/// One output chunk along the points' axis: the source blocks (along the indexed axes) it
/// reads, and per point the one of them it is in and its index there.
struct Group {
    sources: Vec<Vec<usize>>,
    picks: Vec<(usize, Vec<usize>)>,
}

/// The points cut into output chunks, in order: a chunk ends at `cap` points, or before a
/// point that would make it read more than [`MAX_SOURCE_TILES`] source tiles.
fn group_points(grid: &ChunkGrid, first: usize, points: &[Vec<usize>], cap: usize) -> Vec<Group> {
    let mut groups = Vec::new();
    let mut current = Group {
        sources: Vec::new(),
        picks: Vec::new(),
    };
    for point in points {
        let (block, local): (Vec<usize>, Vec<usize>) = point
            .iter()
            .enumerate()
            .map(|(a, &i)| {
                let axis = grid.axis(first + a);
                let b = axis.chunk_of(i);
                (b, i - axis.start(b))
            })
            .unzip();
        let slot = current.sources.iter().position(|s| *s == block);
        let full = current.picks.len() == cap
            || (slot.is_none() && current.sources.len() == MAX_SOURCE_TILES);
        if full {
            groups.push(std::mem::replace(
                &mut current,
                Group {
                    sources: Vec::new(),
                    picks: Vec::new(),
                },
            ));
        }
        let slot = match current.sources.iter().position(|s| *s == block) {
            Some(slot) => slot,
            None => {
                current.sources.push(block);
                current.sources.len() - 1
            }
        };
        current.picks.push((slot, local));
    }
    if !current.picks.is_empty() || groups.is_empty() {
        groups.push(current);
    }
    groups
}

/// Copies the element (or sub-array) of `tile` at `local` along the axes `first..` into
/// position `at` of `out` along axis `first`.
fn copy_point<T: Element>(
    out: &mut ArrayD<T>,
    at: usize,
    tile: ArrayViewD<'_, T>,
    first: usize,
    local: &[usize],
) {
    let mut sub = tile;
    for &i in local {
        sub = sub.index_axis_move(Axis(first), i);
    }
    out.index_axis_mut(Axis(first), at).assign(&sub);
}

/// The grid of the result: the source's axes, with `first..first + k` replaced by one axis
/// of `points` chunks.
fn result_grid(grid: &ChunkGrid, first: usize, k: usize, points: AxisChunks) -> ChunkGrid {
    let ndim = grid.shape().len();
    let mut axes: Vec<AxisChunks> = (0..first).map(|a| grid.axis(a).clone()).collect();
    axes.push(points);
    axes.extend((first + k..ndim).map(|a| grid.axis(a).clone()));
    ChunkGrid::from_axes(axes)
}

/// The source block of an output block whose points lie in source block `at` of the
/// indexed axes.
fn source_block(block: &[usize], first: usize, at: &[usize]) -> Vec<usize> {
    let mut out = block[..first].to_vec();
    out.extend_from_slice(at);
    out.extend_from_slice(&block[first + 1..]);
    out
}

/// `node`'s elements at `points` (each `k` in-range indices of the source axes
/// `first..first + k`), which become one axis at `first` of the result. Each output tile
/// reads the source tiles its points fall in, at most [`MAX_SOURCE_TILES`] of them.
pub(crate) fn gather<T: Element>(
    node: &Arc<Node>,
    first: usize,
    k: usize,
    points: &[Vec<usize>],
) -> Arc<Node> {
    if let NodeKind::Invalid(e) = &node.kind {
        return Node::invalid(e.clone(), node.dtype);
    }
    let grid = &node.grid;
    let cap = (first..first + k)
        .map(|a| grid.axis(a).max_size())
        .product::<usize>()
        .max(1);
    let groups = Arc::new(group_points(grid, first, points, cap));
    let sizes = groups.iter().map(|g| g.picks.len()).collect();
    let out = result_grid(grid, first, k, AxisChunks::from_sizes(sizes));
    let deps_groups = groups.clone();
    blockwise("take", out, T::DTYPE, vec![node.clone()]).arrays::<T, T>(
        move |block| {
            deps_groups[block[first]]
                .sources
                .iter()
                .map(|s| (0, source_block(block, first, s)))
                .collect()
        },
        move |block, tiles| {
            let mut out = ArrayD::from_elem(IxDyn(block.shape), T::default());
            for (at, (slot, local)) in groups[block.index[first]].picks.iter().enumerate() {
                copy_point(&mut out, at, tiles[*slot].view(), first, local);
            }
            Ok(out)
        },
    )
}

/// The indices of an index tile (`i64` or `u64`) as `i64`, or an error for a `u64` past
/// `i64::MAX` (out of range of any axis).
fn index_values(tile: &Value, axis: usize, len: usize) -> Result<Vec<i64>> {
    if let Ok(values) = tile.array::<i64>() {
        return Ok(values.iter().copied().collect());
    }
    tile.array::<u64>()?
        .iter()
        .map(|&i| i64::try_from(i).map_err(|_| out_of_range(i.into(), axis, len)))
        .collect()
}

/// The error of an index of a lazy index array out of range of `axis`.
fn out_of_range(index: i128, axis: usize, len: usize) -> Error {
    Error::Exec(ExecError::IndexOutOfBounds { index, axis, len })
}

/// `node` taken at the lazy 1-d `indices` (of `i64` or `u64`) along `axis`: output chunks
/// follow the index array's chunks, and each output tile reads its index tile and every
/// source tile along `axis` (the indices are known only when the task runs; the planner
/// bounds these tasks by the memory budget). An index out of range fails the computation.
pub(crate) fn take_lazy<T: Element>(
    node: &Arc<Node>,
    indices: &Arc<Node>,
    axis: usize,
) -> Arc<Node> {
    for n in [node, indices] {
        if let NodeKind::Invalid(e) = &n.kind {
            return Node::invalid(e.clone(), node.dtype);
        }
    }
    let grid = node.grid.clone();
    let along = grid.axis(axis).clone();
    let len = along.len();
    let n_source = along.count();
    let out = result_grid(&grid, axis, 1, indices.grid.axis(0).clone());
    debug_assert!(matches!(indices.dtype, DType::I64 | DType::U64));
    blockwise("take", out, T::DTYPE, vec![node.clone(), indices.clone()]).run(
        move |block| {
            let mut deps = vec![(1, vec![block[axis]])];
            deps.extend((0..n_source).map(|b| (0, source_block(block, axis, &[b]))));
            deps
        },
        move |block, tiles| {
            let mut out = ArrayD::from_elem(IxDyn(block.shape), T::default());
            for (at, index) in index_values(tiles[0], axis, len)?.into_iter().enumerate() {
                let i =
                    resolve(index, axis, len).map_err(|_| out_of_range(index.into(), axis, len))?;
                let b = along.chunk_of(i);
                let tile = tiles[1 + b].array::<T>()?;
                copy_point(&mut out, at, tile.view(), axis, &[i - along.start(b)]);
            }
            Ok(tile_value(out))
        },
    )
}

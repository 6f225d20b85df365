//! Integer indexing (NumPy's `take`, Dask's `vindex`): elements picked by lists of indices,
//! in any order, repeated or not. A list known when the graph is built becomes tasks that
//! each read only the source tiles their indices fall in; a lazy index array becomes tasks
//! that read one index tile and every source tile along the indexed axis.

use std::sync::Arc;

use chunkwise_kernels::dtype::{DType, Element};
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, Slice};

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

/// Points of one source tile that follow one another: `len` of them, from `local` on,
/// stepping by one along the last indexed axis (a contiguous run of a `take`).
struct Run {
    slot: usize,
    local: Vec<usize>,
    len: usize,
}

/// One output chunk along the points' axis: the source blocks (along the indexed axes) it
/// reads, and its points as runs, each in one of them.
struct Group {
    sources: Vec<Vec<usize>>,
    runs: Vec<Run>,
    len: usize,
}

impl Group {
    fn new() -> Group {
        Group {
            sources: Vec::new(),
            runs: Vec::new(),
            len: 0,
        }
    }

    /// Adds the point at `local` in source block `block`, extending the last run if the
    /// point follows it.
    fn push(&mut self, block: Vec<usize>, local: Vec<usize>) {
        let slot = match self.sources.iter().position(|s| *s == block) {
            Some(slot) => slot,
            None => {
                self.sources.push(block);
                self.sources.len() - 1
            }
        };
        self.len += 1;
        let k = local.len();
        if let Some(last) = self.runs.last_mut() {
            let follows = last.slot == slot
                && last.local[..k - 1] == local[..k - 1]
                && last.local[k - 1] + last.len == local[k - 1];
            if follows {
                last.len += 1;
                return;
            }
        }
        self.runs.push(Run {
            slot,
            local,
            len: 1,
        });
    }
}

/// The points (`k` indices each, one after another in `points`) of the source axes
/// `first..first + k` cut into output chunks, in order: a chunk ends at `cap` points, or before a
/// point that would make it read more than [`MAX_SOURCE_TILES`] source tiles.
fn group_points(
    grid: &ChunkGrid,
    first: usize,
    k: usize,
    points: &[usize],
    cap: usize,
) -> Vec<Group> {
    let mut groups = Vec::new();
    let mut current = Group::new();
    for point in points.chunks_exact(k) {
        let (block, local): (Vec<usize>, Vec<usize>) = point
            .iter()
            .enumerate()
            .map(|(a, &i)| {
                let axis = grid.axis(first + a);
                let b = axis.chunk_of(i);
                (b, i - axis.start(b))
            })
            .unzip();
        let new_source = !current.sources.contains(&block);
        if current.len == cap || (new_source && current.sources.len() == MAX_SOURCE_TILES) {
            groups.push(std::mem::replace(&mut current, Group::new()));
        }
        current.push(block, local);
    }
    if current.len > 0 || groups.is_empty() {
        groups.push(current);
    }
    groups
}

/// Copies `len` elements (or sub-arrays) of `tile` from `local` on (the last index
/// stepping) along the axes `first..` into positions `at..at + len` of `out` along `first`.
fn copy_run<T: Element>(
    out: &mut ArrayD<T>,
    at: usize,
    tile: ArrayViewD<'_, T>,
    first: usize,
    local: &[usize],
    len: usize,
) {
    let (&last, fixed) = local.split_last().expect("at least one indexed axis");
    let mut sub = tile;
    for &i in fixed {
        sub = sub.index_axis_move(Axis(first), i);
    }
    out.slice_axis_mut(Axis(first), Slice::from(at..at + len))
        .assign(&sub.slice_axis(Axis(first), Slice::from(last..last + len)));
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
/// `first..first + k`, one point after another), which become one axis at `first` of the result, in a node named
/// `name`. Each output tile
/// reads the source tiles its points fall in, at most [`MAX_SOURCE_TILES`] of them.
pub(crate) fn gather<T: Element>(
    name: &str,
    node: &Arc<Node>,
    first: usize,
    k: usize,
    points: &[usize],
) -> Arc<Node> {
    if let NodeKind::Invalid(e) = &node.kind {
        return Node::invalid(e.clone(), node.dtype);
    }
    let grid = &node.grid;
    let cap = (first..first + k)
        .map(|a| grid.axis(a).max_size())
        .product::<usize>()
        .max(1);
    let groups = Arc::new(group_points(grid, first, k, points, cap));
    let sizes = groups.iter().map(|g| g.len).collect();
    let out = result_grid(grid, first, k, AxisChunks::from_sizes(sizes));
    let deps_groups = groups.clone();
    blockwise(name, out, T::DTYPE, vec![node.clone()]).arrays::<T, T>(
        move |block| {
            deps_groups[block[first]]
                .sources
                .iter()
                .map(|s| (0, source_block(block, first, s)))
                .collect()
        },
        move |block, tiles| {
            let mut out = ArrayD::from_elem(IxDyn(block.shape), T::default());
            let mut at = 0;
            for run in &groups[block.index[first]].runs {
                let tile = tiles[run.slot].view();
                copy_run(&mut out, at, tile, first, &run.local, run.len);
                at += run.len;
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
                copy_run(&mut out, at, tile.view(), axis, &[i - along.start(b)], 1);
            }
            Ok(tile_value(out))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(chunks: Vec<Vec<usize>>) -> ChunkGrid {
        ChunkGrid::from_axes(chunks.into_iter().map(AxisChunks::from_sizes).collect())
    }

    /// Per group: its source blocks, and its runs as (slot, local, len).
    type Summary = Vec<(Vec<Vec<usize>>, Vec<(usize, Vec<usize>, usize)>)>;

    fn summary(groups: &[Group]) -> Summary {
        groups
            .iter()
            .map(|g| {
                let runs = g.runs.iter().map(|r| (r.slot, r.local.clone(), r.len));
                (g.sources.clone(), runs.collect())
            })
            .collect()
    }

    #[test]
    fn contiguous_indices_become_runs_within_a_tile() {
        let g = grid(vec![vec![4, 4, 4]]);
        let groups = group_points(&g, 0, 1, &[1, 2, 3, 4, 5, 9, 2], 4);
        assert_eq!(
            summary(&groups),
            vec![
                (
                    vec![vec![0], vec![1]],
                    vec![(0, vec![1], 3), (1, vec![0], 1)]
                ),
                (
                    vec![vec![1], vec![2], vec![0]],
                    vec![(0, vec![1], 1), (1, vec![1], 1), (2, vec![2], 1)]
                ),
            ]
        );
    }

    #[test]
    fn a_chunk_ends_before_one_source_tile_too_many() {
        let g = grid(vec![vec![1; 20]]);
        let points: Vec<usize> = (0..10).rev().collect();
        let groups = group_points(&g, 0, 1, &points, 100);
        let sizes: Vec<usize> = groups.iter().map(|g| g.len).collect();
        assert_eq!(sizes, vec![MAX_SOURCE_TILES, 10 - MAX_SOURCE_TILES]);
        assert!(groups.iter().all(|g| g.sources.len() <= MAX_SOURCE_TILES));
    }

    #[test]
    fn points_run_along_the_last_indexed_axis() {
        let g = grid(vec![vec![2, 2], vec![3, 3]]);
        let points = [1, 0, 1, 1, 1, 2, 1, 3, 0, 1];
        let groups = group_points(&g, 0, 2, &points, 36);
        assert_eq!(
            summary(&groups),
            vec![(
                vec![vec![0, 0], vec![0, 1]],
                vec![(0, vec![1, 0], 3), (1, vec![1, 0], 1), (0, vec![0, 1], 1)]
            )]
        );
    }
}

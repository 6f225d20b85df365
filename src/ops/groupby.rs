//! Grouped reductions as nodes on the blockwise builder: a tree of per-group states whose
//! level 0 folds the rows of input tiles into states per group (a few tiles per task), each
//! level above combines up to `split_every` results group by group, separately for each
//! output chunk of the group axis ([`GroupLayout`]), and a last node finishes each output
//! tile from its chunk's combined states.

use std::ops::Range;
use std::sync::Arc;

use super::blockwise::blockwise;
use crate::chunks::{AxisChunks, ChunkGrid, GroupLayout, GroupMethod};
use crate::error::{BuildError, Error, ExecError, Result};
use crate::graph::Node;
use crate::tile::group::{GroupFinish, GroupedTile, combine_groups, fold_groups};
use crate::tile::{ErasedReducer, TileMemory, Value};

/// The states a chunk of the group axis may hold per output tile.
const GROUP_STATE_BYTES: usize = 128 << 20;

/// Input bytes that one task of level 0 folds (at least one tile).
const FOLD_INPUT_BYTES: usize = 64 << 20;

/// What a grouped reduction groups: the group of each element along `axis`.
#[derive(Clone, Debug)]
pub(crate) struct Grouping {
    pub(crate) axis: usize,
    /// Per element of the axis: its group, or [`NO_GROUP`](crate::chunks::NO_GROUP).
    pub(crate) codes: Arc<[u32]>,
    pub(crate) ngroups: usize,
    pub(crate) method: GroupMethod,
    pub(crate) split_every: usize,
}

/// How many groups an output tile of a grouped reduction of `input` along `axis` holds:
/// as many as an input tile holds rows (so output tiles are no larger than input tiles),
/// with states of `state_bytes` each within [`GROUP_STATE_BYTES`]; at least one.
pub(crate) fn groups_per_tile(input: &Node, axis: usize, state_bytes: usize) -> usize {
    let kept_len: usize = (0..input.ndim())
        .filter(|&a| a != axis)
        .map(|a| input.grid.axis(a).max_size())
        .product::<usize>()
        .max(1);
    let rows = input.grid.max_tile_len() / kept_len;
    let budget = GROUP_STATE_BYTES / (kept_len * state_bytes.max(1));
    rows.min(budget).max(1)
}

/// The combined states per output chunk of grouping `input` and reducing each group by
/// `reducer`: a node with one block per chunk along the grouped axis (the others as
/// `input`'s), and the layout of the chunks.
pub(crate) fn group_states(
    input: &Arc<Node>,
    grouping: &Grouping,
    reducer: Arc<dyn ErasedReducer>,
) -> Result<(Arc<Node>, GroupLayout)> {
    let axis = grouping.axis;
    if grouping.split_every < 2 {
        return Err(Error::Build(BuildError::InvalidArgument {
            op: "groupby".into(),
            reason: format!(
                "split_every must be at least 2, got {}",
                grouping.split_every
            ),
        }));
    }
    let max_groups = groups_per_tile(input, axis, reducer.state_bytes());
    let layout = GroupLayout::new(
        &grouping.codes,
        grouping.ngroups,
        input.grid.axis(axis),
        grouping.method,
        max_groups,
    )
    .map_err(|reason| {
        Error::Build(BuildError::InvalidArgument {
            op: format!("groupby ({:?})", grouping.method),
            reason,
        })
    })?;
    let tile_bytes = input.grid.max_tile_len() * input.dtype.size();
    let fold_fan = (FOLD_INPUT_BYTES / tile_bytes.max(1)).clamp(1, grouping.split_every);

    // Per chunk: the blocks along the axis of the level below that it reads, in order.
    let mut parts: Vec<Vec<usize>> = layout.tiles.clone();
    let mut node = Arc::clone(input);
    let mut level = 0;
    loop {
        let fan = if level == 0 {
            fold_fan
        } else {
            grouping.split_every
        };
        // The blocks of this level: per block, its chunk and the blocks below it reads.
        let mut blocks: Vec<(usize, Vec<usize>)> = Vec::new();
        let mut next: Vec<Vec<usize>> = Vec::new();
        for (c, below) in parts.iter().enumerate() {
            let mut mine = Vec::new();
            for group in below.chunks(fan) {
                mine.push(blocks.len());
                blocks.push((c, group.to_vec()));
            }
            if below.is_empty() {
                // A chunk of groups with no element: one block of no states.
                mine.push(blocks.len());
                blocks.push((c, Vec::new()));
            }
            next.push(mine);
        }
        node = level_node(input, &node, level, blocks, grouping, &layout, &reducer);
        parts = next;
        level += 1;
        if parts.iter().all(|p| p.len() == 1) {
            break;
        }
    }
    Ok((node, layout))
}

/// The node of one level of the tree: block `b` along the axis folds (level 0) or combines
/// the blocks `blocks[b].1` of `below` for the chunk `blocks[b].0`.
fn level_node(
    input: &Arc<Node>,
    below: &Arc<Node>,
    level: usize,
    blocks: Vec<(usize, Vec<usize>)>,
    grouping: &Grouping,
    layout: &GroupLayout,
    reducer: &Arc<dyn ErasedReducer>,
) -> Arc<Node> {
    let axis = grouping.axis;
    let grid = with_axis(&input.grid, axis, AxisChunks::regular(blocks.len(), 1));
    let chunks: Vec<Range<usize>> = layout.chunks.clone();
    let memory_chunks: Vec<Range<usize>> = blocks.iter().map(|(c, _)| chunks[*c].clone()).collect();
    let starts: Vec<usize> = (0..input.grid.axis(axis).count())
        .map(|b| input.grid.axis(axis).start(b))
        .collect();
    let codes = Arc::clone(&grouping.codes);
    let blocks = Arc::new(blocks);
    let deps_blocks = Arc::clone(&blocks);
    let state_bytes = reducer.state_bytes() as u64;
    let input_axis = input.grid.axis(axis).clone();
    let name = match level {
        0 => format!("groupby {} (fold)", reducer.name()),
        n => format!("groupby {} (combine {n})", reducer.name()),
    };
    let reducer = Arc::clone(reducer);
    let axis_len = input.shape()[axis];
    let run_blocks = Arc::clone(&blocks);
    blockwise(name, grid, input.dtype, vec![Arc::clone(below)])
        .memory(move |block| {
            // At most one state tile per group of the chunk (and per row read, at level 0).
            let rows: usize = match level {
                0 => deps_blocks[block.index[axis]]
                    .1
                    .iter()
                    .map(|&b| input_axis.size(b))
                    .sum(),
                _ => usize::MAX,
            };
            let groups = memory_chunks[block.index[axis]].len().min(rows);
            TileMemory {
                output: (groups * block.len()) as u64 * state_bytes,
                scratch: 0,
            }
        })
        .run(
            move |block| {
                blocks[block[axis]]
                    .1
                    .iter()
                    .map(|&b| {
                        let mut at = block.to_vec();
                        at[axis] = b;
                        (0, at)
                    })
                    .collect()
            },
            move |block, tiles| {
                let (c, below) = &run_blocks[block.index[axis]];
                let shape = block.shape.to_vec();
                let states = if level == 0 {
                    let grouped = tiles
                        .iter()
                        .zip(below)
                        .map(|(tile, &b)| {
                            Ok(GroupedTile {
                                data: tile.strip().ok_or_else(|| not_an_array(tile))?,
                                shape: tile.shape(),
                                start: starts[b],
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    let groups = chunks[*c].clone();
                    fold_groups(
                        reducer.as_ref(),
                        &grouped,
                        axis,
                        axis_len,
                        &codes,
                        groups,
                        shape,
                    )
                } else {
                    combine_groups(reducer.as_ref(), tiles, shape)?
                };
                Ok(Arc::new(states) as _)
            },
        )
}

/// The error for a value that should have been an array tile.
fn not_an_array(value: &Value) -> Error {
    Error::Exec(ExecError::TileType {
        expected: "an array tile".into(),
        found: value.describe(),
    })
}

/// The node of the result tiles of grouped reduction whose combined states per output
/// chunk are `states` (from [`group_states`] of `input`), as `finish` reads them: the
/// grouped axis becomes the group axis, chunked as `layout` says.
pub(crate) fn finish_groups(
    input: &Arc<Node>,
    states: &Arc<Node>,
    layout: &GroupLayout,
    axis: usize,
    finish: GroupFinish,
) -> Arc<Node> {
    let grid = with_axis(&input.grid, axis, layout.axis());
    let chunks = layout.chunks.clone();
    let axis_len = input.shape()[axis];
    let dtype = finish.finisher.out_dtype();
    let name = format!("groupby {} (finish)", finish.finisher.name());
    blockwise(name, grid, dtype, vec![Arc::clone(states)]).run(
        |block| vec![(0, block.to_vec())],
        move |block, tiles| {
            let groups = chunks[block.index[axis]].clone();
            finish.tile(tiles[0], groups, block.shape, axis, axis_len)
        },
    )
}

/// `grid` with axis `axis` chunked as `chunks`.
fn with_axis(grid: &ChunkGrid, axis: usize, chunks: AxisChunks) -> ChunkGrid {
    let axes = (0..grid.ndim())
        .map(|a| match a == axis {
            true => chunks.clone(),
            false => grid.axis(a).clone(),
        })
        .collect();
    ChunkGrid::from_axes(axes)
}

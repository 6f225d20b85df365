//! Region writes that read the array they write (in-place updates).
//!
//! The tasks of a region write run in any order, each writing one stored unit (chunk or
//! shard). A task that reads elements of the region which another task writes may read
//! them before or after they are rewritten, so the result would depend on the schedule. A
//! read of the target is safe when it comes before the write of every element it reads:
//!
//! - it reads no tile of the source that holds an element of the units the region
//!   touches (a source task reads its tile whole);
//! - it reads each written element for the task that writes that element's unit: through
//!   elementwise work only, every view on the way moves elements without mixing them
//!   (slices with step 1, integer indices, new axes), and together they map each written
//!   element onto an element of its own unit (`x[a:b] = f(x[a:b])`, or `x[0:5] = x[5:10]`
//!   inside a chunk of 10);
//! - it happens below a reduction reached through elementwise work, whose tile each
//!   writing task needs for exactly the elements that tile reads: the reduced axes are
//!   free, and the kept ones map onto the region itself (the anomaly `x - x.mean(axis=0)`:
//!   the mean of a column block reads only that block, and every task writing into it
//!   needs that mean);
//! - it happens below a reduction or blockwise result of one tile, reached through
//!   elementwise work (`x / x.max()`) or below a reduction of many tiles reached that way
//!   (`x - (x / x.max()).mean(axis=0)`), which every task needs: it is complete, with all
//!   its reads, before the first task writes.
//!
//! Anything else that reads the region (a stencil, a shift across units, a transpose, a
//! reversed slice, a rechunk or user block function, a reduction of a reduction) is
//! refused before anything is written.
//!
//! A task rewrites whole stored units (chunks or shards), also where the region covers
//! part of one, and a unit may be read in parts (a shard's index, then its chunks): a read
//! racing the rewrite could take the parts from two versions. So "the region" here is the
//! units it touches, and the element-for-element cases also need the source's tiles to
//! lie each in one unit, so that a tile is read only for the task that rewrites its unit.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

use super::erasure::Place;
use crate::chunks::{ChunkGrid, SourceAxis, View};
use crate::error::{BuildError, Error, Result};
use crate::graph::{Node, NodeId, NodeKind, Reduce, Source};

/// An error if computing `input`, written by `op` into `region` (in the stored array's
/// indices) of the stored array at `target`, stored in `units` (its chunks, or shards),
/// reads elements of the region in a way that may race the write (see the module's
/// documentation).
pub(crate) fn refuse_racing_reads(
    input: &Arc<Node>,
    target: &Place,
    region: &[Range<usize>],
    units: &ChunkGrid,
    op: &str,
) -> Result<()> {
    let write = Write {
        region,
        touched: touched_units(region, units),
        units,
    };
    let readers = nodes_reading(input, target);
    let mut stack = vec![(input.clone(), Path::Direct(View::identity(&input.shape())))];
    let mut seen = HashSet::new();
    while let Some((node, path)) = stack.pop() {
        if !readers.contains(&node.id) || !seen.insert((node.id, path.clone())) {
            continue;
        }
        match &node.kind {
            // A source in `readers` reads the target.
            NodeKind::Source(Source::Tiles(_)) => {
                if path.races(&node, &write) {
                    return Err(Error::Build(BuildError::InvalidArgument {
                        op: op.into(),
                        reason: format!(
                            "the computation reads elements of the region it writes, of the \
                             array at {}, in a way that can race the write (a stencil, shift, \
                             transpose, reversed slice, rechunk, block function, or a \
                             reduction that is not along whole written axes): tasks write in \
                             any order, so one could read what another already rewrote; \
                             write to another array, or compute first",
                            target.as_str()
                        ),
                    }));
                }
            }
            NodeKind::Source(Source::Generator(_)) | NodeKind::Invalid(_) => {}
            NodeKind::Elemwise(e) => {
                for input in &e.inputs {
                    stack.push((input.node.clone(), path.through(&input.view)));
                }
            }
            // A result of one tile that every writing task needs (reached directly, or
            // below a reduction whose tiles each need it) is complete, with all its reads,
            // before the first task writes.
            NodeKind::Reduce(_) | NodeKind::Blockwise(_)
                if !matches!(path, Path::Untracked) && node.grid.n_blocks() == 1 => {}
            NodeKind::Reduce(reduce) => {
                let below = match &path {
                    Path::Direct(view) => lifted(view, reduce, &node),
                    _ => Path::Untracked,
                };
                for input in &reduce.inputs {
                    stack.push((input.node.clone(), below.through(&input.view)));
                }
            }
            NodeKind::Blockwise(b) => {
                for input in &b.inputs {
                    stack.push((input.clone(), Path::Untracked));
                }
            }
        }
    }
    Ok(())
}

/// How a node is reached from the written array.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Path {
    /// Through elementwise work only: the view from the written elements to the node's.
    Direct(View),
    /// Below a reduction reached directly: the view from the written elements, followed by
    /// one axis per reduced axis (any index along it), to the node's elements; and which
    /// written axes the reduction's kept axes follow.
    BelowReduction { view: View, pinned: Vec<bool> },
    /// Elements not followed: any element of the node may be read for any task.
    Untracked,
}

impl Path {
    /// The path to an input read through `view` (from this node's elements to its).
    fn through(&self, view: &View) -> Path {
        match self {
            Path::Direct(v) => Path::Direct(view.then(v)),
            Path::BelowReduction { view: v, pinned } => Path::BelowReduction {
                view: view.then(v),
                pinned: pinned.clone(),
            },
            Path::Untracked => Path::Untracked,
        }
    }

    /// Whether reading the stored array `source` this way may race `write`.
    fn races(&self, source: &Node, write: &Write) -> bool {
        let in_units = tiles_lie_in_units(&source.grid, write.units);
        let read = match self {
            Path::Direct(view) if in_units && reads_own_units(view, write.region, write.units) => {
                return false;
            }
            Path::BelowReduction { view, pinned }
                if in_units && follows_region(view, pinned, write.region) =>
            {
                return false;
            }
            Path::Direct(view) | Path::BelowReduction { view, .. } => match image(view) {
                Some(read) => tiles_holding(&source.grid, read),
                None => return false, // reads nothing
            },
            Path::Untracked => source.shape().into_iter().map(|n| 0..n).collect(),
        };
        read.len() != write.touched.len()
            || read
                .iter()
                .zip(&write.touched)
                .all(|(r, w)| r.start.max(w.start) < r.end.min(w.end))
    }
}

/// A region write: the region, the stored units (chunks or shards) of the array, and the
/// box of the units the region touches (each rewritten whole).
struct Write<'a> {
    region: &'a [Range<usize>],
    units: &'a ChunkGrid,
    touched: Vec<Range<usize>>,
}

/// The box of the units of `units` that `region` touches (empty where it is empty).
fn touched_units(region: &[Range<usize>], units: &ChunkGrid) -> Vec<Range<usize>> {
    region
        .iter()
        .enumerate()
        .map(|(axis, r)| {
            if r.is_empty() || axis >= units.ndim() {
                return r.clone();
            }
            let blocks = units.blocks_overlapping(axis, r);
            units.block_start(axis, blocks.start)..units.block_start(axis, blocks.end)
        })
        .collect()
}

/// Whether each tile of `grid` (a stored array's source) lies in one unit of `units`:
/// every unit boundary inside the source is a tile boundary.
fn tiles_lie_in_units(grid: &ChunkGrid, units: &ChunkGrid) -> bool {
    grid.ndim() == units.ndim()
        && (0..grid.ndim()).all(|axis| {
            let tiles = grid.offsets(axis);
            let end = tiles.last().copied().unwrap_or(0);
            units
                .offsets(axis)
                .into_iter()
                .take_while(|&b| b < end)
                .all(|b| tiles.binary_search(&b).is_ok())
        })
}

/// The path below `reduce` (the node `node`), reached directly through `view`: its kept
/// axes read as the output's, each reduced axis along an axis of its own added after the
/// written ones.
fn lifted(view: &View, reduce: &Reduce, node: &Node) -> Path {
    if view.source.len() != node.shape().len() {
        return Path::Untracked;
    }
    let written = view.shape.len();
    let in_shape = reduce.in_grid.shape();
    let mut shape = view.shape.clone();
    let mut pinned = vec![false; written];
    let mut output_axis = 0;
    let source = (0..in_shape.len())
        .map(|axis| {
            let kept_as = (!reduce.reduced[axis] || reduce.keepdims).then_some(output_axis);
            if kept_as.is_some() {
                output_axis += 1;
            }
            match (reduce.reduced[axis], kept_as) {
                (false, Some(out)) => {
                    let s = view.source[out].clone();
                    if let SourceAxis::Mapped { axis: a, .. } = s {
                        pinned[a] = true;
                    }
                    s
                }
                _ => {
                    shape.push(in_shape[axis]);
                    SourceAxis::Mapped {
                        axis: shape.len() - 1,
                        start: 0,
                        step: 1,
                    }
                }
            }
        })
        .collect();
    Path::BelowReduction {
        view: View { shape, source },
        pinned,
    }
}

/// Whether `view` maps each written element to an element of the same stored unit: the
/// region itself (`x[a:b] = f(x[a:b])`), or a shift that stays inside each unit (`x[0:5] =
/// x[5:10]` in a chunk of 10). With the source's tiles each inside one unit, every tile
/// that reads a unit is then needed by the task that rewrites it, and is read before that
/// task writes: along an axis the view leaves in place, a tile, the region and a unit are
/// intervals that meet pairwise, so they share an element; along a shifted axis the region
/// lies in one unit.
fn reads_own_units(view: &View, region: &[Range<usize>], units: &ChunkGrid) -> bool {
    view.source.len() == region.len()
        && view.shape.len() == region.len()
        && units.ndim() == region.len()
        && view
            .source
            .iter()
            .zip(region)
            .enumerate()
            .all(|(a, (s, r))| view.shape[a] == r.len() && reads_own_unit(s, a, r, view, units))
}

/// Whether the source axis `s`, of the region's axis `a` (`r`), reads each written element
/// inside the unit along `a` that holds the written element.
fn reads_own_unit(
    s: &SourceAxis,
    a: usize,
    r: &Range<usize>,
    view: &View,
    units: &ChunkGrid,
) -> bool {
    let same_unit = |i: usize| units.block_of(a, i) == units.block_of(a, r.start);
    match *s {
        // Written index `r.start + k` reads `start + k`.
        SourceAxis::Mapped {
            axis,
            start,
            step: 1,
        } if axis == a => units.blocks_overlapping(a, r).all(|b| {
            let (unit_start, unit_end) = (units.block_start(a, b), units.block_start(a, b + 1));
            let (low, high) = (unit_start.max(r.start), unit_end.min(r.end));
            low - r.start + start >= unit_start && high - r.start + start <= unit_end
        }),
        // An axis of length 1 read at one index.
        SourceAxis::Mapped { axis, start, .. } => {
            r.len() == 1 && view.shape[axis] == 1 && same_unit(start)
        }
        SourceAxis::Fixed(i) => r.len() == 1 && same_unit(i),
    }
}

/// Whether a read below a reduction through `view` reads, for each tile of the reduction,
/// only elements written by tasks that need that tile: along every written axis the kept
/// axes follow (`pinned`) the source reads its own index of the region, and the written
/// axes are read nowhere else (the other source axes are reduced or held at one index).
fn follows_region(view: &View, pinned: &[bool], region: &[Range<usize>]) -> bool {
    let written = pinned.len();
    if view.source.len() != region.len() || written != region.len() {
        return false;
    }
    let mut seen = vec![false; written];
    for (a, s) in view.source.iter().enumerate() {
        if let SourceAxis::Mapped { axis, start, step } = *s
            && axis < written
        {
            if axis != a || step != 1 || start != region[a].start || !pinned[a] {
                return false;
            }
            seen[a] = true;
        }
    }
    seen == pinned
}

/// The box of the tiles of `grid` that hold the elements of `read`: what the source tasks
/// read, each its tile whole.
fn tiles_holding(grid: &ChunkGrid, read: Vec<Range<usize>>) -> Vec<Range<usize>> {
    if grid.ndim() != read.len() {
        return read;
    }
    read.iter()
        .enumerate()
        .map(|(axis, r)| {
            let tiles = grid.blocks_overlapping(axis, r);
            grid.block_start(axis, tiles.start)..grid.block_start(axis, tiles.end)
        })
        .collect()
}

/// The box of source elements `view` reads, per source axis; `None` if it reads none.
fn image(view: &View) -> Option<Vec<Range<usize>>> {
    if view.shape.contains(&0) {
        return None;
    }
    let range = |s: &SourceAxis| match *s {
        SourceAxis::Fixed(i) => i..i + 1,
        SourceAxis::Mapped { axis, start, step } => {
            let last = start as isize + step * (view.shape[axis] as isize - 1);
            let (low, high) = (start.min(last as usize), start.max(last as usize));
            low..high + 1
        }
    };
    Some(view.source.iter().map(range).collect())
}

/// The nodes of `input`'s graph that read the stored array at `target` (themselves, or
/// through their inputs): the only ones worth following.
fn nodes_reading(input: &Arc<Node>, target: &Place) -> HashSet<NodeId> {
    // Post-order: a node is decided once its inputs are.
    let mut reads: HashMap<NodeId, bool> = HashMap::new();
    let mut stack = vec![(input.clone(), false)];
    while let Some((node, inputs_done)) = stack.pop() {
        if reads.contains_key(&node.id) {
            continue;
        }
        if !inputs_done {
            stack.push((node.clone(), true));
            stack.extend(node.inputs().into_iter().map(|i| (i.clone(), false)));
            continue;
        }
        let own = Place::read_by(&node).is_some_and(|read| target.covers(&read));
        let below = node
            .inputs()
            .iter()
            .any(|i| reads.get(&i.id) == Some(&true));
        reads.insert(node.id, own || below);
    }
    reads
        .into_iter()
        .filter_map(|(id, reads)| reads.then_some(id))
        .collect()
}

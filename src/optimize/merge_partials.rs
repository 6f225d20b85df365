//! The `merge-partials` pass: nodes of partial results ([`Role::Partials`]: one tile per
//! block of axis 0, each computed from a group of input tiles, such as the per-row-tile
//! products of `x.T @ x` and `x.T @ y`) that read a common input tile for every block
//! become one node, whose task computes all their tiles of that block from one read of the
//! tiles, as a tuple. Each original node then takes its part. A reduction over axis 0 of
//! the same tiles (`x.sum(0)`), or of elementwise work on them (`(x * 2).sum(0)`, the work
//! fused into its partials, applied to each tile once it is read), joins too: the merged
//! task folds its partial states, and they are combined as the planner would have combined
//! them. Only a tall `x` of one column tile is covered.
//!
//! Without it, the planner (depth first from each output) computes one product over all
//! of `x`'s tiles before the next product asks for them, holding every tile of `x` in
//! between or computing it twice; merged, each tile of `x` is read once and freed as soon
//! as its one task has run.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chunkwise_kernels::strip::{DEFAULT_STRIP_LEN, TilePosition};

use super::fusion::{Sources, fuse_program_with};
use super::{Pass, rewrite};
use crate::chunks::ChunkGrid;
use crate::error::Result;
use crate::graph::{Gathered, Node, NodeId, NodeKind, Reduce};
use crate::ops::blockwise::{Role, blockwise, role_of};
use crate::tile::{BlockMap, TileMemory, Value, part, partial, tuple};

/// What a member of a merged group computes at each step.
#[derive(Clone)]
enum Work {
    /// The tiles of a partials node.
    Partials(Arc<dyn BlockMap>),
    /// The partial states of a reduction's input tiles.
    Reduction(Reduce),
}

/// A node whose work per step a merged task can take over, and what it reads.
#[derive(Clone)]
struct Member {
    node: Arc<Node>,
    work: Work,
    inputs: Vec<Arc<Node>>,
}

impl Member {
    /// A partials node, or a reduction over axis 0 of inputs tiled along axis 0 only and
    /// read tile for tile (such as `x.sum(0)` of a tall `x`), whose input blocks are then
    /// its steps. A reduction of elementwise work on such inputs (`(x * 2).sum(0)`,
    /// `(x ** 2).mean(0)`) is one too: the work is fused into its partials, which then
    /// read the tiles themselves (generated tiles stay tiles, read once, not regenerated).
    fn of(node: &Arc<Node>) -> Option<Member> {
        let (work, inputs) = match &node.kind {
            NodeKind::Blockwise(b) if *role_of(node) == Role::Partials => {
                (Work::Partials(b.map.clone()), b.inputs.clone())
            }
            NodeKind::Reduce(r)
                if r.reduced.first() == Some(&true)
                    && r.in_grid.nblocks()[1..].iter().all(|&n| n == 1) =>
            {
                let fused =
                    fuse_program_with(&r.inputs, &r.program, Sources::Read, &HashSet::new());
                let r = Reduce {
                    inputs: fused.inputs,
                    program: fused.program,
                    ..r.clone()
                };
                if r.inputs.is_empty() || !r.inputs.iter().all(|i| i.is_aligned(&r.in_grid)) {
                    return None;
                }
                let inputs = r.inputs.iter().map(|i| i.node.clone()).collect();
                (Work::Reduction(r), inputs)
            }
            _ => return None,
        };
        Some(Member {
            node: node.clone(),
            work,
            inputs,
        })
    }

    fn is_partials(&self) -> bool {
        matches!(self.work, Work::Partials(_))
    }

    /// The grid whose blocks along axis 0 are the steps.
    fn step_grid(&self) -> &ChunkGrid {
        match &self.work {
            Work::Partials(_) => &self.node.grid,
            Work::Reduction(r) => &r.in_grid,
        }
    }

    fn steps(&self) -> usize {
        self.step_grid().nblocks()[0]
    }

    /// The block of step `step` (axis 0; the other axes have one block).
    fn block(&self, step: usize) -> Vec<usize> {
        let mut block = vec![0; self.step_grid().ndim()];
        block[0] = step;
        block
    }

    /// The tiles the member reads at `step`: (input number, block).
    fn deps(&self, step: usize) -> Vec<(usize, Vec<usize>)> {
        let block = self.block(step);
        match &self.work {
            Work::Partials(map) => map.deps(&block),
            Work::Reduction(r) => r
                .inputs
                .iter()
                .enumerate()
                .map(|(i, _)| (i, block.clone()))
                .collect(),
        }
    }

    /// The tiles the member reads at `step`: (input node, block).
    fn reads(&self, step: usize) -> Vec<(NodeId, Vec<usize>)> {
        self.deps(step)
            .into_iter()
            .map(|(i, block)| (self.inputs[i].id, block))
            .collect()
    }

    /// Whether the member reads, at every step, a tile that `other` reads too.
    fn shares_tiles(&self, other: &Member) -> bool {
        self.steps() == other.steps()
            && (0..self.steps()).all(|s| {
                let theirs: HashSet<_> = other.reads(s).into_iter().collect();
                self.reads(s).iter().any(|r| theirs.contains(r))
            })
    }

    /// The memory of its work at `step`.
    fn memory(&self, step: usize) -> TileMemory {
        let block = self.block(step);
        match &self.work {
            Work::Partials(map) => map.memory(&block, &self.node.grid.block_shape(&block)),
            Work::Reduction(r) => TileMemory {
                output: (state_len(r) * r.reducer.state_bytes()) as u64,
                scratch: r.program.scratch_bytes(DEFAULT_STRIP_LEN) as u64,
            },
        }
    }

    /// Its work at `step` from the tiles it reads there, in its order.
    fn run(&self, step: usize, tiles: &[&Value]) -> Result<Value> {
        let block = self.block(step);
        match &self.work {
            Work::Partials(map) => map.run(&block, &self.node.grid.block_shape(&block), tiles),
            Work::Reduction(r) => {
                let (origin, shape) = (
                    r.in_grid.block_origin(&block),
                    r.in_grid.block_shape(&block),
                );
                let tile = TilePosition {
                    origin: &origin,
                    shape: &shape,
                    array_shape: &r.in_grid.shape(),
                };
                let gathered = Gathered::new(&r.inputs, &r.in_grid, &block, tiles.iter().copied());
                Ok(partial(
                    &*r.reducer,
                    &r.program,
                    &gathered.tiles(),
                    tile,
                    &r.reduced,
                    DEFAULT_STRIP_LEN,
                ))
            }
        }
    }
}

/// States per partial of a reduction whose steps are along axis 0: the elements of its
/// input tiles along the kept axes.
fn state_len(r: &Reduce) -> usize {
    state_shape(r).iter().product()
}

/// The shape of a step's tile of states (1 along reduced axes).
fn state_shape(r: &Reduce) -> Vec<usize> {
    r.in_grid
        .block_shape(&vec![0; r.in_grid.ndim()])
        .iter()
        .zip(&r.reduced)
        .map(|(&n, &red)| if red { 1 } else { n })
        .collect()
}

/// The inputs of a merged node (each once) and, per member, where its inputs are in them.
fn union_inputs(group: &[Member]) -> (Vec<Arc<Node>>, Vec<Vec<usize>>) {
    let mut inputs: Vec<Arc<Node>> = Vec::new();
    let positions = group
        .iter()
        .map(|m| {
            m.inputs
                .iter()
                .map(|input| match inputs.iter().position(|i| i.id == input.id) {
                    Some(p) => p,
                    None => {
                        inputs.push(input.clone());
                        inputs.len() - 1
                    }
                })
                .collect()
        })
        .collect();
    (inputs, positions)
}

/// Tiles a task reads: (input number, block).
type Reads = Vec<(usize, Vec<usize>)>;

/// The tiles step `step` of the merged group reads (each once), and per member, the
/// positions of its own reads (in its order) in that list.
fn merged_reads(
    group: &[Member],
    positions: &[Vec<usize>],
    step: usize,
) -> (Reads, Vec<Vec<usize>>) {
    let mut reads: Reads = Vec::new();
    let at = group
        .iter()
        .zip(positions)
        .map(|(m, pos)| {
            m.deps(step)
                .into_iter()
                .map(|(i, block)| {
                    let read = (pos[i], block);
                    match reads.iter().position(|r| *r == read) {
                        Some(p) => p,
                        None => {
                            reads.push(read);
                            reads.len() - 1
                        }
                    }
                })
                .collect()
        })
        .collect();
    (reads, at)
}

/// One node computing the work of every member of `group` (a partials node first), step
/// by step, as tuples.
fn merge(group: Vec<Member>) -> Arc<Node> {
    let (inputs, positions) = union_inputs(&group);
    let names: Vec<String> = group
        .iter()
        .map(|m| match &m.work {
            Work::Partials(map) => map.name(),
            Work::Reduction(r) => format!("partial {}", r.reducer.name()),
        })
        .collect();
    let group = Arc::new(group);
    let positions = Arc::new(positions);
    let (deps_group, deps_positions) = (group.clone(), positions.clone());
    let (memory_group, first) = (group.clone(), group[0].node.clone());
    blockwise(
        format!("merged {}", names.join(" + ")),
        first.grid.clone(),
        first.dtype,
        inputs,
    )
    .role(Role::Partials)
    // The parts are held together; their scratch is needed one at a time.
    .memory(move |block| {
        let mut memory = TileMemory::default();
        for m in memory_group.iter() {
            let part = m.memory(block.index[0]);
            memory.output += part.output;
            memory.scratch = memory.scratch.max(part.scratch);
        }
        memory
    })
    .run(
        move |block| merged_reads(&deps_group, &deps_positions, block[0]).0,
        move |block, tiles| {
            let step = block.index[0];
            let (_, at) = merged_reads(&group, &positions, step);
            let parts = group
                .iter()
                .zip(&at)
                .map(|(m, at)| {
                    let reads: Vec<&Value> = at.iter().map(|&p| tiles[p]).collect();
                    m.run(step, &reads)
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(tuple(parts))
        },
    )
}

/// A node on `grid` whose tile of step `s` is part `k` of step `s` of `merged`, declaring
/// `bytes(block)` (the part exists already, but the executor counts it as this task's
/// too).
fn part_of(
    merged: &Arc<Node>,
    k: usize,
    grid: ChunkGrid,
    member: &Member,
    bytes: impl Fn(usize) -> u64 + Send + Sync + 'static,
) -> Arc<Node> {
    let merged_ndim = merged.ndim();
    blockwise(
        format!("part {k}"),
        grid,
        member.node.dtype,
        vec![merged.clone()],
    )
    .memory(move |block| TileMemory {
        output: bytes(block.len()),
        scratch: 0,
    })
    .run(
        move |block| {
            let mut from = vec![0; merged_ndim];
            from[0] = block[0];
            vec![(0, from)]
        },
        move |_, tiles| part(tiles[0], k),
    )
}

/// What replaces `member`, part `k` of `merged`: for a partials node its part; for a
/// reduction, its part (the partial states) combined as the planner combines a reduction's
/// partials (groups of `fan_in` in order, level by level, the last combine in the finish),
/// so that the result is the same.
fn replacement_of(merged: &Arc<Node>, k: usize, member: &Member) -> Arc<Node> {
    let r = match &member.work {
        Work::Partials(_) => {
            let size = member.node.dtype.size() as u64;
            return part_of(merged, k, member.node.grid.clone(), member, move |n| {
                n as u64 * size
            });
        }
        Work::Reduction(r) => r.clone(),
    };
    let shape = state_shape(&r);
    let state_bytes = r.reducer.state_bytes() as u64;
    // Tiles of states, one per block of axis 0.
    let states_grid = |blocks: usize| {
        ChunkGrid::from_valid(
            std::iter::once(vec![1; blocks])
                .chain(shape[1..].iter().map(|&n| vec![n]))
                .collect(),
        )
    };
    let states_len = state_len(&r) as u64;
    let mut level = part_of(merged, k, states_grid(member.steps()), member, move |_| {
        states_len * state_bytes
    });
    let fan = r.combine_fan();
    let children = move |b: usize, below: usize| b * fan..((b + 1) * fan).min(below);
    let name = r.reducer.name();
    let reducer = r.reducer.clone();
    while level.grid.nblocks()[0] > fan {
        let below = level.grid.nblocks()[0];
        let ndim = level.ndim();
        let reducer = reducer.clone();
        level = blockwise(
            format!("combine {name}"),
            states_grid(below.div_ceil(fan)),
            member.node.dtype,
            vec![level],
        )
        .memory(move |_| TileMemory {
            output: states_len * state_bytes,
            scratch: 0,
        })
        .run(
            move |block| {
                children(block[0], below)
                    .map(|c| {
                        let mut from = vec![0; ndim];
                        from[0] = c;
                        (0, from)
                    })
                    .collect()
            },
            move |_, tiles| reducer.combine(tiles),
        );
    }
    // The finish combines the last level's states (at most fan of them).
    let (below, ndim) = (level.grid.nblocks()[0], level.ndim());
    let finished = r.reducer.finished_bytes() as u64;
    blockwise(
        format!("finish {name}"),
        member.node.grid.clone(),
        member.node.dtype,
        vec![level],
    )
    .memory(move |block| TileMemory {
        output: block.len() as u64 * finished,
        scratch: 0,
    })
    .run(
        move |_| {
            (0..below)
                .map(|c| {
                    let mut from = vec![0; ndim];
                    from[0] = c;
                    (0, from)
                })
                .collect()
        },
        move |block, tiles| {
            let combined = match tiles {
                [one] => (*one).clone(),
                _ => reducer.combine(tiles)?,
            };
            reducer.finish(&combined, block.shape)
        },
    )
}

/// Merges partials nodes that read the same tiles; see the module documentation.
pub(crate) struct MergePartials;

impl Pass for MergePartials {
    fn name(&self) -> &'static str {
        "merge-partials"
    }

    fn run(&self, roots: &[Arc<Node>]) -> Result<(Vec<Arc<Node>>, bool)> {
        // Every partials node below the roots, in a stable order.
        let mut members: Vec<Member> = Vec::new();
        let mut seen = HashSet::new();
        let mut stack: Vec<Arc<Node>> = roots.iter().rev().cloned().collect();
        while let Some(node) = stack.pop() {
            if !seen.insert(node.id) {
                continue;
            }
            members.extend(Member::of(&node));
            stack.extend(node.inputs().into_iter().rev().cloned());
        }
        // Partials nodes first, so that each group starts with one (its tuple's first part
        // is an array tile on the merged node's grid); each member joins the first group
        // whose first member reads a tile it reads at every step. Reductions only join.
        members.sort_by_key(|m| !m.is_partials());
        let mut groups: Vec<Vec<Member>> = Vec::new();
        for member in members {
            match groups.iter_mut().find(|g| g[0].shares_tiles(&member)) {
                Some(group) => group.push(member),
                None if member.is_partials() => groups.push(vec![member]),
                None => {}
            }
        }
        let mut replacement: HashMap<NodeId, Arc<Node>> = HashMap::new();
        for group in groups.into_iter().filter(|g| g.len() > 1) {
            let merged = merge(group.clone());
            for (k, member) in group.iter().enumerate() {
                replacement.insert(member.node.id, replacement_of(&merged, k, member));
            }
        }
        if replacement.is_empty() {
            return Ok((roots.to_vec(), false));
        }
        Ok(rewrite(roots, &|node| replacement.get(&node.id).cloned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::plan_text;

    #[test]
    fn products_and_column_sums_of_the_same_row_tiles_share_one_task_per_tile() {
        let x = crate::random::uniform::<f64>(1, 0.0, 1.0, &[40, 3], [10, 3]).unwrap();
        let y = crate::random::uniform::<f64>(2, 0.0, 1.0, &[40, 1], [10, 1]).unwrap();
        let xt = x.transpose();
        let (gram, xty) = (xt.matmul(&x).unwrap(), xt.matmul(&y).unwrap());
        let sums = x.sum_with(&crate::Reduction::axes([0]).split_every(2));
        let roots = vec![gram.node.clone(), xty.node.clone(), sums.node.clone()];
        let (merged, changed) = MergePartials.run(&roots).unwrap();
        assert!(changed);
        assert_eq!(
            plan_text(&merged, &|_| String::new()),
            "#0 Reduce sum over axes [0]  [shape [3, 3] float64 in 1 tile(s) of 3x3]\n\
             \x20 #1 Blockwise part 0  [shape [4, 3, 3] float64 in 4 tile(s) of 1x3x3]\n\
             \x20   #2 Blockwise merged contract partials[4 k-tiles] + contract partials[4 k-tiles] + partial sum  [shape [4, 3, 3] float64 in 4 tile(s) of 1x3x3]\n\
             \x20     #3 Source uniform[seed=1, 0..1]  [shape [40, 3] float64 in 4 tile(s) of 10x3]\n\
             \x20     #4 Source uniform[seed=2, 0..1]  [shape [40, 1] float64 in 4 tile(s) of 10x1]\n\
             #5 Reduce sum over axes [0]  [shape [3, 1] float64 in 1 tile(s) of 3x1]\n\
             \x20 #6 Blockwise part 1  [shape [4, 3, 1] float64 in 4 tile(s) of 1x3x1]\n\
             \x20   (#2 again)\n\
             #7 Blockwise finish sum  [shape [3] float64 in 1 tile(s) of 3]\n\
             \x20 #8 Blockwise combine sum  [shape [2, 3] float64 in 2 tile(s) of 1x3]\n\
             \x20   #9 Blockwise part 2  [shape [4, 3] float64 in 4 tile(s) of 1x3]\n\
             \x20     (#2 again)\n"
        );
        // Products of different tiles do not merge, nor does a reduction with no product of
        // its tiles (also of elementwise work on them).
        let z = crate::random::uniform::<f64>(3, 0.0, 1.0, &[40, 3], [10, 3]).unwrap();
        let zty = z.transpose().matmul(&y).unwrap();
        for other in [
            zty.node.clone(),
            z.sum_axis(0).node,
            (&z * 2.0).sum_axis(0).node,
        ] {
            let roots = [gram.node.clone(), other];
            assert!(!MergePartials.run(&roots).unwrap().1);
        }
    }

    #[test]
    fn reductions_of_elementwise_work_on_the_tiles_join_the_products() {
        let x = crate::random::uniform::<f64>(1, 0.0, 1.0, &[40, 3], [10, 3]).unwrap();
        let gram = x.transpose().matmul(&x).unwrap();
        let (doubled, squares) = ((&x * 2.0).sum_axis(0), x.powi(2).mean_axis(0));
        let roots = vec![
            gram.node.clone(),
            doubled.node.clone(),
            squares.node.clone(),
        ];
        let (merged, changed) = MergePartials.run(&roots).unwrap();
        assert!(changed);
        let text = plan_text(&merged, &|_| String::new());
        assert_eq!(
            text.lines().nth(2).unwrap(),
            "\x20   #2 Blockwise merged contract partials[4 k-tiles] + partial sum + partial mean  [shape [4, 3, 3] float64 in 4 tile(s) of 1x3x3]"
        );
        // The merged task reads the generated tiles of x, and nothing else.
        assert_eq!(
            text.lines().nth(3).unwrap(),
            "\x20     #3 Source uniform[seed=1, 0..1]  [shape [40, 3] float64 in 4 tile(s) of 10x3]"
        );
        assert!(!text.contains("Elemwise"), "{text}");
    }
}

//! Lowering the optimised graph to tile tasks: one task per needed output tile (reductions add
//! their partial and combine tasks), each with its dependencies and projected memory.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::sync::Arc;

use super::order::release_early;
use crate::chunks::ChunkGrid;
use crate::error::{Error, PlanError, Result};
use crate::graph::{ElemInput, Node, NodeId, NodeKind, Reduce, Source, node_numbers, plan_text};

/// What a task does.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))] // used by the `mpi` executor
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TaskKind {
    /// A tile of a source.
    Source,
    /// A tile of a fused elementwise program.
    Elemwise,
    /// A tile of a blockwise node.
    Blockwise,
    /// Partial reduction states of one input tile.
    Partial,
    /// Partial states of several tiles combined, at tree `level` (1 = above the partials).
    Combine { level: usize },
    /// The last combine of a reduction, finished into its result tile.
    Finish,
    /// The result of a task that another process runs (the one with rank `from`), received
    /// from it: the stand-in of that task in the plan of one process of a distributed run.
    Receive { from: usize },
}

/// One tile task.
#[derive(Clone, Debug)]
pub(crate) struct Task {
    pub(crate) kind: TaskKind,
    pub(crate) node: Arc<Node>,
    /// The node's number in the plan (see [`node_numbers`]): the same in every process that
    /// builds the same program.
    pub(crate) node_number: usize,
    /// Block index in the grid of this task's stage (for reductions: the input grid coarsened
    /// by the tree level; for `Finish`: the output grid).
    pub(crate) block: Vec<usize>,
    pub(crate) deps: Vec<usize>,
    /// Projected bytes of the task's result.
    pub(crate) out_bytes: u64,
    /// Projected scratch bytes while it runs.
    pub(crate) scratch_bytes: u64,
    /// For a partial reduction: the input (by position) whose tile the task reads itself,
    /// folding it as it is decoded, instead of taking it from a source task.
    pub(crate) streamed: Option<usize>,
}

impl Task {
    /// Bytes reserved while the task runs (its result and scratch).
    pub(crate) fn run_bytes(&self) -> u64 {
        self.out_bytes + self.scratch_bytes
    }

    /// The source node whose tile of `block` this task reads itself: a source task's own
    /// node, or a partial reduction's streamed input.
    pub(crate) fn read_node(&self) -> Option<&Arc<Node>> {
        match (&self.kind, &self.node.kind, self.streamed) {
            (TaskKind::Source, _, _) => Some(&self.node),
            (TaskKind::Partial, NodeKind::Reduce(r), Some(k)) => Some(&r.inputs[k].node),
            _ => None,
        }
    }

    /// A name for errors and traces: node, stage and block.
    pub(crate) fn describe(&self) -> String {
        let stage = match &self.kind {
            TaskKind::Source | TaskKind::Elemwise | TaskKind::Blockwise => "tile".to_string(),
            TaskKind::Partial => "partial".to_string(),
            TaskKind::Combine { level } => format!("combine level {level}"),
            TaskKind::Finish => "finish".to_string(),
            TaskKind::Receive { from } => format!("tile received from rank {from}"),
        };
        format!(
            "{} of node #{} ({}) block {:?}",
            stage,
            self.node_number,
            short(&self.node.label()),
            self.block
        )
    }
}

fn short(label: &str) -> String {
    if label.chars().count() > 60 {
        format!("{}...", label.chars().take(57).collect::<String>())
    } else {
        label.to_string()
    }
}

/// Per output: (block index, task) for every block of the output.
pub(crate) type OutputTasks = Vec<Vec<(Vec<usize>, usize)>>;

/// Tasks in a valid execution order (dependencies first, depth first from the outputs, so
/// partial results are consumed early, with tasks that free what they make moved up: see
/// [`release_early`]), and the tasks that give each output's tiles.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) tasks: Vec<Task>,
    pub(crate) outputs: OutputTasks,
    pub(crate) roots: Vec<Arc<Node>>,
    /// Sources that the partial reductions reading them read themselves.
    streamed: HashSet<NodeId>,
    /// Per task `k`: the bytes that running tasks `k..` one after another in plan order
    /// needs at its peak, once every task before `k` has finished (the tiles of earlier tasks
    /// that later ones read, plus one running task's output and scratch). The executor
    /// admits a task out of order only if this much room remains beside what it started
    /// ahead (see `exec::run`), so that the plan order can always finish.
    pub(crate) needs: Vec<u64>,
    /// Per task: the other processes (by rank) that read its result, in a distributed run;
    /// empty in the plan of one process.
    pub(crate) sends: Vec<Vec<usize>>,
}

impl Plan {
    /// Lowers `roots` (already optimised) to tasks, checking every task against `budget`.
    ///
    /// Source tiles read by several tasks are normally read once and held until their last
    /// reader ran. When that would make the plan's projected peak exceed the budget (an
    /// anomaly `x - x.mean(axis=0)` holds a whole column of `x` until the mean is known),
    /// the plan reads such tiles again for each reader instead: more I/O, bounded memory.
    ///
    /// A plan is accepted only if running its tasks one after another in plan order stays
    /// within the budget ([`PlanError::PeakOverBudget`] otherwise, naming the task at the
    /// peak and the budget it needs): the executor keeps that order possible at every
    /// moment, so an accepted plan always finishes.
    pub(crate) fn new(
        roots: &[Arc<Node>],
        strip_len: usize,
        budget: u64,
        threads: usize,
    ) -> Result<Plan> {
        for root in roots {
            if let Some(e) = root.first_error() {
                return Err(e);
            }
        }
        let limit = task_limit(budget);
        let shared = Self::lower(roots, strip_len, true, limit)?;
        let plan = if shared.projected_peak(threads) <= budget {
            shared
        } else {
            // Re-reading costs I/O, not memory: prefer it unless only sharing fits.
            let reread = Self::lower(roots, strip_len, false, limit)?;
            if reread.peak() <= budget || reread.peak() <= shared.peak() {
                reread
            } else {
                shared
            }
        };
        plan.check_budget(budget)?;
        Ok(plan)
    }

    /// Checks that every task, and running the tasks one after another in plan order, fit
    /// in `budget`.
    pub(crate) fn check_budget(&self, budget: u64) -> Result<()> {
        // The largest task, so that the error names the budget every task fits in.
        let mut deps: Vec<usize> = Vec::new();
        let largest = self
            .tasks
            .iter()
            .map(|task| {
                // A tile read several times (a contraction link reading one tile for each
                // of its inner blocks) is held once, as the executor holds it.
                deps.clone_from(&task.deps);
                deps.sort_unstable();
                deps.dedup();
                let inputs: u64 = deps.iter().map(|&d| self.tasks[d].out_bytes).sum();
                (inputs + task.run_bytes(), task)
            })
            .max_by_key(|&(needed, _)| needed);
        if let Some((needed, task)) = largest
            && needed > budget
        {
            return Err(Error::Plan(PlanError::TaskOverBudget {
                task: task.describe(),
                needed,
                budget,
            }));
        }
        if self.peak() > budget {
            let held = self.held_before();
            let (t, task) = self
                .tasks
                .iter()
                .enumerate()
                .find(|(t, task)| held[*t].saturating_add(task.run_bytes()) == self.peak())
                .expect("some task is at the peak");
            return Err(Error::Plan(PlanError::PeakOverBudget {
                task: task.describe(),
                held: held[t],
                needed: self.peak(),
                budget,
            }));
        }
        Ok(())
    }

    /// The plan of `tasks` (in a valid order) giving `outputs`, with what running them in
    /// order needs from each task on; `like` gives the roots and streamed sources.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))] // used by the `mpi` executor
    pub(crate) fn of_tasks(
        tasks: Vec<Task>,
        outputs: OutputTasks,
        sends: Vec<Vec<usize>>,
        like: &Plan,
    ) -> Plan {
        Plan {
            tasks,
            outputs,
            roots: like.roots.clone(),
            streamed: like.streamed.clone(),
            needs: Vec::new(),
            sends,
        }
        .with_needs()
    }

    /// The plan with `needs` computed from its order.
    fn with_needs(mut self) -> Plan {
        let held = self.held_before();
        let mut needs: Vec<u64> = held
            .iter()
            .zip(&self.tasks)
            .map(|(&h, task)| h.saturating_add(task.run_bytes()))
            .collect();
        for k in (1..needs.len()).rev() {
            needs[k - 1] = needs[k - 1].max(needs[k]);
        }
        self.needs = needs;
        self
    }

    /// The tasks of `roots`, refused with [`PlanError::TooManyTasks`] when there would be
    /// more than `limit`: before anything is allocated per task when a lower bound of their
    /// number (see [`least_tasks`]) is already over it, else before the task past the limit
    /// is made.
    fn lower(
        roots: &[Arc<Node>],
        strip_len: usize,
        share_sources: bool,
        limit: u64,
    ) -> Result<Plan> {
        let least = least_tasks(roots);
        if least > u128::from(limit) {
            return Err(too_many_tasks(least, limit));
        }
        let mut lower = Lowering {
            tasks: Vec::new(),
            memo: HashMap::new(),
            strip_len,
            share_sources,
            streamed: streamed_sources(roots),
            limit,
            numbers: node_numbers(roots),
        };
        let outputs = roots
            .iter()
            .map(|root| {
                root.grid
                    .blocks()
                    .map(|b| Ok((b.clone(), lower.task(root, Stage::Tile, &b)?)))
                    .collect()
            })
            .collect::<Result<_>>()?;
        let (tasks, outputs) = release_early_order(lower.tasks, outputs);
        Ok(Plan {
            tasks,
            outputs,
            roots: roots.to_vec(),
            streamed: lower.streamed,
            needs: Vec::new(),
            sends: Vec::new(),
        }
        .with_needs())
    }

    /// Peak memory of running the tasks one after another in plan order.
    pub(crate) fn peak(&self) -> u64 {
        self.needs.first().copied().unwrap_or(0)
    }

    /// Per task: the bytes of tiles held when it starts, in a run of the tasks one after
    /// another in plan order (tiles of earlier tasks that it or later tasks read).
    fn held_before(&self) -> Vec<u64> {
        let mut remaining: Vec<usize> = vec![0; self.tasks.len()];
        for task in &self.tasks {
            for &d in &task.deps {
                remaining[d] += 1;
            }
        }
        let mut held = 0u64;
        let mut before = Vec::with_capacity(self.tasks.len());
        for (t, task) in self.tasks.iter().enumerate() {
            before.push(held);
            held += task.out_bytes;
            for &d in &task.deps {
                remaining[d] -= 1;
                if remaining[d] == 0 {
                    held -= self.tasks[d].out_bytes;
                }
            }
            if remaining[t] == 0 {
                held -= task.out_bytes;
            }
        }
        before
    }

    /// For each task, the tasks that read its result.
    pub(crate) fn consumers(&self) -> Vec<Vec<usize>> {
        let mut consumers = vec![Vec::new(); self.tasks.len()];
        for (t, task) in self.tasks.iter().enumerate() {
            for &d in &task.deps {
                consumers[d].push(t);
            }
        }
        consumers
    }

    /// Peak memory of running the tasks in order on one thread, plus room for the other
    /// threads' largest tasks: the projection `explain()` prints.
    pub(crate) fn projected_peak(&self, threads: usize) -> u64 {
        let largest = self.tasks.iter().map(Task::run_bytes).max().unwrap_or(0);
        self.peak() + largest * threads.saturating_sub(1) as u64
    }

    /// The optimised graph with task counts and memory per node, and the plan's totals.
    /// `note` adds facts from the layers above (such as why an input was not fused).
    pub(crate) fn explain(
        &self,
        threads: usize,
        budget: u64,
        note: &dyn Fn(&Node) -> String,
    ) -> String {
        // Per node: task count per stage, and the largest task.
        let mut per_node: HashMap<NodeId, (StageCounts, u64)> = HashMap::new();
        for task in &self.tasks {
            let stage = match task.kind {
                TaskKind::Source | TaskKind::Elemwise | TaskKind::Blockwise => "tile",
                TaskKind::Partial => "partial",
                TaskKind::Combine { .. } => "combine",
                TaskKind::Finish => "finish",
                TaskKind::Receive { .. } => "receive",
            };
            let (stages, largest) = per_node.entry(task.node.id).or_default();
            match stages.iter_mut().find(|(s, _)| *s == stage) {
                Some((_, n)) => *n += 1,
                None => stages.push((stage, 1)),
            }
            *largest = (*largest).max(task.run_bytes());
        }
        let mut out = String::new();
        let _ = writeln!(
            out,
            "plan: {} tasks, {} threads, projected peak {} of budget {}",
            self.tasks.len(),
            threads,
            human_bytes(self.projected_peak(threads)),
            human_bytes(budget)
        );
        out.push_str(&plan_text(&self.roots, &|node| {
            let tasks = match per_node.get(&node.id) {
                Some((stages, bytes)) => {
                    let counts: Vec<String> =
                        stages.iter().map(|(s, n)| format!("{n} {s}")).collect();
                    format!(
                        "tasks: {}, up to {} each",
                        counts.join(" + "),
                        human_bytes(*bytes)
                    )
                }
                None if self.streamed.contains(&node.id) => {
                    "read by the partial reductions, folded as it is decoded".to_string()
                }
                None => "fused away".to_string(),
            };
            let extra = note(node);
            if extra.is_empty() {
                tasks
            } else {
                format!("{tasks}; {extra}")
            }
        }));
        out
    }
}

/// Planner bookkeeping per task, in bytes, counted generously: the task (its kind, block
/// index, dependencies and sizes), its entry in the lowering's memo, and the executor's
/// per-task state (consumers, counters). A plan may have as many tasks as this bookkeeping
/// fits in the memory budget.
const TASK_BOOKKEEPING_BYTES: u64 = 512;

/// The task limit of the smallest budgets (32 MiB of bookkeeping), so that a tiny budget
/// for tiles still plans a few tens of thousands of small tasks.
const MIN_TASK_LIMIT: u64 = 1 << 16;

/// The most tasks a plan may have under `budget`.
fn task_limit(budget: u64) -> u64 {
    (budget / TASK_BOOKKEEPING_BYTES).max(MIN_TASK_LIMIT)
}

/// A lower bound of the number of tasks of `roots`, found per node (not per task): every
/// output tile, the tiles of elementwise inputs aligned with a needed tile, and one partial
/// per group of input tiles (see [`Reduce::partial_fans`]) of a reduction whose every
/// result tile is needed. Plans too large to
/// make are refused from it before anything is allocated per task.
fn least_tasks(roots: &[Arc<Node>]) -> u128 {
    let mut demand: HashMap<NodeId, u128> = HashMap::new();
    let mut partials: HashMap<NodeId, u128> = HashMap::new();
    let mut stack: Vec<(Arc<Node>, u128)> = roots
        .iter()
        .map(|r| (r.clone(), r.grid.n_blocks() as u128))
        .collect();
    while let Some((node, tiles)) = stack.pop() {
        let known = demand.entry(node.id).or_default();
        if *known >= tiles {
            continue;
        }
        *known = tiles;
        match &node.kind {
            NodeKind::Reduce(r) => {
                let all = tiles == node.grid.n_blocks() as u128;
                let count = if all {
                    let blocks = r.in_grid.nblocks();
                    let groups = blocks.iter().zip(r.partial_fans());
                    groups.map(|(&n, fan)| n.div_ceil(fan) as u128).product()
                } else {
                    tiles
                };
                let known = partials.entry(node.id).or_default();
                *known = (*known).max(count);
            }
            NodeKind::Elemwise(e) => stack.extend(
                e.inputs
                    .iter()
                    .filter(|i| {
                        i.is_aligned(&node.grid) && !matches!(i.node.kind, NodeKind::Source(_))
                    })
                    .map(|i| (i.node.clone(), tiles)),
            ),
            _ => {}
        }
    }
    demand.values().chain(partials.values()).sum()
}

fn too_many_tasks(tasks: u128, limit: u64) -> Error {
    Error::Plan(PlanError::TooManyTasks { tasks, limit })
}

/// Task counts per stage name ("partial", "combine", ...), in order of appearance.
type StageCounts = Vec<(&'static str, usize)>;

/// `tasks` (and the output tasks) renumbered into the order of [`release_early`].
fn release_early_order(tasks: Vec<Task>, outputs: OutputTasks) -> (Vec<Task>, OutputTasks) {
    let deps: Vec<Vec<usize>> = tasks.iter().map(|t| t.deps.clone()).collect();
    let bytes: Vec<u64> = tasks.iter().map(|t| t.out_bytes).collect();
    let order = release_early(&deps, &bytes);
    let mut position = vec![0; order.len()];
    for (p, &t) in order.iter().enumerate() {
        position[t] = p;
    }
    let mut slots: Vec<Option<Task>> = tasks.into_iter().map(Some).collect();
    let tasks = order
        .iter()
        .map(|&t| {
            let mut task = slots[t].take().expect("each task is placed once");
            for d in &mut task.deps {
                *d = position[*d];
            }
            task
        })
        .collect();
    let outputs = outputs
        .into_iter()
        .map(|blocks| blocks.into_iter().map(|(b, t)| (b, position[t])).collect())
        .collect();
    (tasks, outputs)
}

/// Bytes as a short human-readable figure.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The stage of a node's work that a task key names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Stage {
    /// The node's own tiles (for reductions: the finished result tiles).
    Tile,
    /// A reduction's tree level: 0 for partials, then combines.
    Level(usize),
}

/// The tile sources that their one reader, a reduction, reads itself (see
/// [`Task::streamed`]): sources that [stream](crate::tile::TileSource::streams), read by
/// that reduction tile for tile (not broadcast) and by no other node or output.
fn streamed_sources(roots: &[Arc<Node>]) -> HashSet<NodeId> {
    let mut readers: HashMap<NodeId, usize> = HashMap::new();
    let mut reductions = Vec::new();
    let mut seen = HashSet::new();
    let mut stack: Vec<Arc<Node>> = roots.to_vec();
    for root in roots {
        *readers.entry(root.id).or_default() += 1;
    }
    while let Some(node) = stack.pop() {
        if !seen.insert(node.id) {
            continue;
        }
        for input in node.inputs() {
            *readers.entry(input.id).or_default() += 1;
            stack.push(input.clone());
        }
        // A partial that folds several tiles reads them as tiles.
        if let NodeKind::Reduce(r) = &node.kind
            && r.partial_fans().iter().all(|&fan| fan == 1)
        {
            reductions.push(r.clone());
        }
    }
    reductions
        .iter()
        .flat_map(|r| r.inputs.iter().map(|input| (input, &r.in_grid)))
        .filter(|(input, grid)| {
            let streams = matches!(&input.node.kind,
                NodeKind::Source(Source::Tiles(source)) if source.streams(&input.node.grid));
            streams && input.is_aligned(grid) && readers.get(&input.node.id) == Some(&1)
        })
        .map(|(input, _)| input)
        .map(|input| input.node.id)
        .collect()
}

struct Lowering {
    tasks: Vec<Task>,
    memo: HashMap<(NodeId, Stage, Vec<usize>), usize>,
    strip_len: usize,
    /// Whether a source tile read by several tasks is read once (or once per reader).
    share_sources: bool,
    /// Sources whose tiles the partial reductions reading them read themselves.
    streamed: HashSet<NodeId>,
    /// The most tasks the plan may have.
    limit: u64,
    /// Deterministic node numbers.
    numbers: HashMap<NodeId, usize>,
}

impl Lowering {
    /// The task computing `block` of `node` at `stage`, created with its dependencies first.
    fn task(&mut self, node: &Arc<Node>, stage: Stage, block: &[usize]) -> Result<usize> {
        let key = (node.id, stage, block.to_vec());
        let reread = !self.share_sources && matches!(node.kind, NodeKind::Source(_));
        if let Some(&t) = self.memo.get(&key)
            && !reread
        {
            return Ok(t);
        }
        if self.tasks.len() as u64 >= self.limit {
            return Err(too_many_tasks(self.tasks.len() as u128 + 1, self.limit));
        }
        let task = match (&node.kind, stage) {
            (NodeKind::Reduce(r), Stage::Tile) => self.finish_task(node, r, block)?,
            (NodeKind::Reduce(r), Stage::Level(level)) => self.level_task(node, r, level, block)?,
            _ => self.tile_task(node, block)?,
        };
        self.tasks.push(Task {
            node_number: self.numbers[&node.id],
            ..task
        });
        let id = self.tasks.len() - 1;
        self.memo.insert(key, id);
        Ok(id)
    }

    /// The tasks of the tiles that `inputs` of a consumer tile `block` of `grid` read, in
    /// order: per input, its view's pieces (one tile for an aligned input).
    fn input_tasks(
        &mut self,
        inputs: &[ElemInput],
        grid: &ChunkGrid,
        block: &[usize],
    ) -> Result<Vec<usize>> {
        let mut deps = Vec::new();
        for input in inputs {
            if input.is_aligned(grid) {
                deps.push(self.task(&input.node, Stage::Tile, block)?);
            } else {
                for piece in input.pieces(grid, block).blocks {
                    deps.push(self.task(&input.node, Stage::Tile, &piece)?);
                }
            }
        }
        Ok(deps)
    }

    /// Scratch bytes of the strip buffers of `inputs` read through views, which are
    /// gathered into them where a strip is not one run of a source tile.
    fn view_buffers(&self, inputs: &[ElemInput], grid: &ChunkGrid) -> u64 {
        inputs
            .iter()
            .filter(|i| !i.is_aligned(grid))
            .map(|i| (self.strip_len * i.node.dtype.size()) as u64)
            .sum()
    }

    fn tile_bytes(node: &Node, grid: &ChunkGrid, block: &[usize]) -> u64 {
        (grid.block_shape(block).iter().product::<usize>() * node.dtype.size()) as u64
    }

    fn tile_task(&mut self, node: &Arc<Node>, block: &[usize]) -> Result<Task> {
        let mut out_bytes = Self::tile_bytes(node, &node.grid, block);
        let (kind, deps, scratch) = match &node.kind {
            NodeKind::Source(Source::Generator(op)) => (
                TaskKind::Source,
                Vec::new(),
                (op.out_dtype().size() * self.strip_len) as u64,
            ),
            NodeKind::Source(Source::Tiles(source)) => {
                let ranges = node.grid.block_ranges(block);
                (
                    TaskKind::Source,
                    Vec::new(),
                    source.read_bytes(block, &ranges),
                )
            }
            NodeKind::Invalid(_) => (TaskKind::Source, Vec::new(), 0),
            NodeKind::Elemwise(e) => {
                let deps = self.input_tasks(&e.inputs, &node.grid, block)?;
                let scratch = e.program.scratch_bytes(self.strip_len) as u64
                    + self.view_buffers(&e.inputs, &node.grid);
                (TaskKind::Elemwise, deps, scratch)
            }
            NodeKind::Blockwise(b) => {
                let deps = b
                    .map
                    .deps(block)
                    .into_iter()
                    .map(|(i, blk)| self.task(&b.inputs[i], Stage::Tile, &blk))
                    .collect::<Result<_>>()?;
                let memory = b.map.memory(block, &node.grid.block_shape(block));
                out_bytes = memory.output;
                (TaskKind::Blockwise, deps, memory.scratch)
            }
            NodeKind::Reduce(_) => unreachable!("reductions lower through finish_task"),
        };
        Ok(Task {
            node_number: 0,
            kind,
            node: node.clone(),
            block: block.to_vec(),
            deps,
            out_bytes,
            scratch_bytes: scratch,
            streamed: None,
        })
    }

    /// Blocks per axis at each tree level, until every reduced axis has one block.
    fn levels(r: &Reduce) -> Vec<Vec<usize>> {
        let partials: Vec<usize> = r
            .in_grid
            .nblocks()
            .iter()
            .zip(r.partial_fans())
            .map(|(&n, fan)| n.div_ceil(fan))
            .collect();
        let mut levels = vec![partials];
        loop {
            let last = levels.last().expect("level 0 exists");
            if last.iter().zip(&r.reduced).all(|(&n, &red)| !red || n <= 1) {
                return levels;
            }
            let next = last
                .iter()
                .zip(r.fans(last))
                .map(|(&n, fan)| n.div_ceil(fan))
                .collect();
            levels.push(next);
        }
    }

    /// Partial states of one input tile (level 0) or a combine of a group (higher levels).
    fn level_task(
        &mut self,
        node: &Arc<Node>,
        r: &Reduce,
        level: usize,
        block: &[usize],
    ) -> Result<Task> {
        let kept_len: usize = block
            .iter()
            .zip(&r.reduced)
            .enumerate()
            .map(|(axis, (&b, &red))| if red { 1 } else { r.in_grid.chunk_len(axis, b) })
            .product();
        let out_bytes = (kept_len * r.reducer.state_bytes()) as u64;
        if level == 0 {
            // One input at most is read by the task itself; its tile is the task's scratch.
            let streamed = r
                .inputs
                .iter()
                .position(|i| self.streamed.contains(&i.node.id));
            let others: Vec<ElemInput> = r
                .inputs
                .iter()
                .enumerate()
                .filter(|&(k, _)| Some(k) != streamed)
                .map(|(_, i)| i.clone())
                .collect();
            let mut deps = Vec::new();
            for in_block in r.partial_blocks(block) {
                deps.extend(self.input_tasks(&others, &r.in_grid, &in_block)?);
            }
            // The streamed tile, decoded into the task's buffer, and what its source holds
            // while reading it (such as the encoded chunk).
            let streamed_bytes = streamed.map_or(0, |k| {
                let input = &r.inputs[k].node;
                let read = match &input.kind {
                    NodeKind::Source(Source::Tiles(source)) => {
                        source.read_bytes(block, &input.grid.block_ranges(block))
                    }
                    _ => 0,
                };
                Self::tile_bytes(input, &input.grid, block) + read
            });
            let scratch = r.program.scratch_bytes(self.strip_len) as u64
                + self.view_buffers(&r.inputs, &r.in_grid)
                + streamed_bytes;
            return Ok(Task {
                node_number: 0,
                kind: TaskKind::Partial,
                node: node.clone(),
                block: block.to_vec(),
                deps,
                out_bytes,
                scratch_bytes: scratch,
                streamed,
            });
        }
        let deps = self.children(node, r, level, block)?;
        Ok(Task {
            node_number: 0,
            kind: TaskKind::Combine { level },
            node: node.clone(),
            block: block.to_vec(),
            deps,
            out_bytes,
            scratch_bytes: 0,
            streamed: None,
        })
    }

    /// The tasks of level `level - 1` that combine into `block` of level `level`.
    fn children(
        &mut self,
        node: &Arc<Node>,
        r: &Reduce,
        level: usize,
        block: &[usize],
    ) -> Result<Vec<usize>> {
        let levels = Self::levels(r);
        let below = &levels[level - 1];
        let ranges: Vec<std::ops::Range<usize>> = block
            .iter()
            .zip(r.fans(below))
            .zip(below)
            .map(|((&b, fan), &n)| b * fan..((b + 1) * fan).min(n))
            .collect();
        r.walk(&ranges)
            .iter()
            .map(|child| self.task(node, Stage::Level(level - 1), child))
            .collect()
    }

    /// The result tile `block` of a reduction: the top combine, finished.
    fn finish_task(&mut self, node: &Arc<Node>, r: &Reduce, block: &[usize]) -> Result<Task> {
        // The block in the input grid's axes: kept axes from the output block, reduced 0.
        let mut out_axes = block.iter();
        let in_block: Vec<usize> = r
            .reduced
            .iter()
            .map(|&red| {
                if red {
                    if r.keepdims {
                        out_axes.next();
                    }
                    0
                } else {
                    *out_axes.next().expect("one output axis per kept axis")
                }
            })
            .collect();
        let top = Self::levels(r).len() - 1;
        let deps = if top == 0 {
            vec![self.task(node, Stage::Level(0), &in_block)?]
        } else {
            self.children(node, r, top, &in_block)?
        };
        // Merged reductions finish one tile per part.
        let elements: usize = node.grid.block_shape(block).iter().product();
        let out_bytes = (elements * r.reducer.finished_bytes()) as u64;
        Ok(Task {
            node_number: 0,
            kind: TaskKind::Finish,
            node: node.clone(),
            block: block.to_vec(),
            deps,
            out_bytes,
            scratch_bytes: 0,
            streamed: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::Array;
    use crate::{Chunks, Reduction};

    /// The strip length the test plans use.
    const STRIP: usize = 1024;

    /// The plan of `arrays` as built (no optimiser pass), on one thread, with a budget
    /// nothing here reaches.
    fn plan_of(arrays: &[&Array<f64>]) -> Plan {
        let roots: Vec<Arc<Node>> = arrays.iter().map(|a| a.node.clone()).collect();
        Plan::new(&roots, STRIP, 1 << 30, 1).unwrap()
    }

    /// How many tasks of each kind the plan has, as `(kind, count)` in a fixed order.
    fn counts(plan: &Plan) -> Vec<(String, usize)> {
        let mut counts = std::collections::BTreeMap::new();
        for task in &plan.tasks {
            *counts.entry(format!("{:?}", task.kind)).or_insert(0) += 1;
        }
        counts.into_iter().collect()
    }

    /// `list` in the form [`counts`] gives.
    fn counted(list: &[(&str, usize)]) -> Vec<(String, usize)> {
        list.iter().map(|&(k, n)| (k.to_string(), n)).collect()
    }

    /// A dense 1-d array of `len` values on `chunks`.
    fn data(len: usize, chunks: Vec<usize>) -> Array<f64> {
        let dense = ndarray::Array1::<f64>::linspace(0.0, 1.0, len);
        crate::from_ndarray(&dense, Chunks::Sizes(vec![chunks])).unwrap()
    }

    #[test]
    fn one_task_per_tile_and_each_reads_its_block() {
        let x = crate::from_ndarray(&ndarray::Array2::<f64>::zeros((4, 6)), [2, 3]).unwrap();
        let y = (&x * 2.0).sin();
        let plan = plan_of(&[&y]);
        assert_eq!(
            counts(&plan),
            counted(&[("Elemwise", 8), ("Source", 4)]),
            "two elementwise nodes of 4 tiles over a source of 4"
        );
        for task in &plan.tasks {
            for &d in &task.deps {
                assert!(d < plan.tasks.len() && plan.tasks[d].block == task.block);
                assert!(plan.tasks.iter().position(|t| std::ptr::eq(t, task)) > Some(d));
            }
        }
        // The output's blocks in grid order, each given by an elementwise task.
        let blocks: Vec<&Vec<usize>> = plan.outputs[0].iter().map(|(b, _)| b).collect();
        assert_eq!(blocks, [&vec![0, 0], &vec![0, 1], &vec![1, 0], &vec![1, 1]]);
        assert!(
            plan.outputs[0]
                .iter()
                .all(|(b, t)| plan.tasks[*t].kind == TaskKind::Elemwise
                    && &plan.tasks[*t].block == b)
        );
    }

    #[test]
    fn only_the_blocks_a_slice_needs_get_tasks() {
        // 100 x 100 source tiles; the slice touches rows 15..25 of the first column of
        // tiles: tiles (1, 0) and (2, 0).
        let x = crate::ones::<f64>(&[1000, 1000], [10, 10]).unwrap();
        let part = x.slice(ndarray::s![15..25, 0..5]).unwrap();
        let plan = plan_of(&[&part]);
        let mut sources: Vec<Vec<usize>> = plan
            .tasks
            .iter()
            .filter(|t| t.kind == TaskKind::Source)
            .map(|t| t.block.clone())
            .collect();
        sources.sort();
        assert_eq!(sources, [vec![1, 0], vec![2, 0]]);
        assert_eq!(
            counts(&plan),
            counted(&[("Elemwise", part.n_tiles()), ("Source", 2)])
        );
        assert_eq!(least_tasks(&plan.roots), part.n_tiles() as u128);
    }

    #[test]
    fn a_partial_folds_several_thin_tiles() {
        // 16 tiles of 1 reduced with split_every 4: 4 partials of 4 tiles each, read in
        // order, and a finish of the 4.
        let x = data(16, vec![1; 16]);
        let plan = plan_of(&[&x.sum_with(&Reduction::all().split_every(4))]);
        assert_eq!(
            counts(&plan),
            counted(&[("Finish", 1), ("Partial", 4), ("Source", 16)])
        );
        for task in plan.tasks.iter().filter(|t| t.kind == TaskKind::Partial) {
            let read: Vec<Vec<usize>> = task
                .deps
                .iter()
                .map(|&d| plan.tasks[d].block.clone())
                .collect();
            let want: Vec<Vec<usize>> = (4 * task.block[0]..4 * task.block[0] + 4)
                .map(|b| vec![b])
                .collect();
            assert_eq!(read, want);
        }
        let (sum, linspace) = (
            x.sum().compute_scalar().unwrap(),
            ndarray::Array1::<f64>::linspace(0.0, 1.0, 16).sum(),
        );
        assert!((sum - linspace).abs() < 1e-12);
    }

    #[test]
    fn the_reduction_tree_has_the_fan_in_of_split_every() {
        // Tiles of 2 (tiles of 1 are thin: one partial folds several, tested below).
        let x = data(32, vec![2; 16]);
        // split_every 4: 16 partials, 4 combines of 4, a finish of the 4.
        let plan = plan_of(&[&x.sum_with(&Reduction::all().split_every(4))]);
        assert_eq!(
            counts(&plan),
            counted(&[
                ("Combine { level: 1 }", 4),
                ("Finish", 1),
                ("Partial", 16),
                ("Source", 16)
            ])
        );
        let finish = plan.outputs[0][0].1;
        let deps = &plan.tasks[finish].deps;
        assert_eq!(deps.len(), 4);
        for (group, &d) in deps.iter().enumerate() {
            let combine = &plan.tasks[d];
            assert_eq!(combine.kind, TaskKind::Combine { level: 1 });
            assert_eq!(combine.block, [group]);
            let children: Vec<Vec<usize>> = combine
                .deps
                .iter()
                .map(|&c| plan.tasks[c].block.clone())
                .collect();
            let want: Vec<Vec<usize>> = (4 * group..4 * group + 4).map(|b| vec![b]).collect();
            assert_eq!(
                children, want,
                "combine {group} reads four partials in order"
            );
        }
        // split_every 2: levels of 8, 4 and 2 combines, then a finish of 2.
        let plan = plan_of(&[&x.sum_with(&Reduction::all().split_every(2))]);
        assert_eq!(
            counts(&plan),
            counted(&[
                ("Combine { level: 1 }", 8),
                ("Combine { level: 2 }", 4),
                ("Combine { level: 3 }", 2),
                ("Finish", 1),
                ("Partial", 16),
                ("Source", 16)
            ])
        );
        // split_every 16 or more: the finish reads the 16 partials itself.
        let plan = plan_of(&[&x.sum()]);
        assert_eq!(
            counts(&plan),
            counted(&[("Finish", 1), ("Partial", 16), ("Source", 16)])
        );
        assert_eq!(plan.tasks[plan.outputs[0][0].1].deps.len(), 16);
        // Two reduced axes: the last one's blocks are grouped first, so 6 x 6 tiles with a
        // fan-in of 9 combine as 6 rows of 6, then one finish of the 6 rows; a fan-in of
        // 12 takes two rows at a time.
        let square = crate::zeros::<f64>(&[12, 12], [2, 2]).unwrap();
        let plan = plan_of(&[&square.sum_with(&Reduction::all().split_every(9))]);
        assert_eq!(
            counts(&plan),
            counted(&[
                ("Combine { level: 1 }", 6),
                ("Finish", 1),
                ("Partial", 36),
                ("Source", 36)
            ])
        );
        let rows: Vec<Vec<Vec<usize>>> = plan
            .tasks
            .iter()
            .filter(|t| t.kind == TaskKind::Combine { level: 1 })
            .map(|t| {
                t.deps
                    .iter()
                    .map(|&c| plan.tasks[c].block.clone())
                    .collect()
            })
            .collect();
        for (i, row) in rows.iter().enumerate() {
            let want: Vec<Vec<usize>> = (0..6).map(|j| vec![i, j]).collect();
            assert_eq!(row, &want, "combine {i} reads row {i} in order");
        }
        let plan = plan_of(&[&square.sum_with(&Reduction::all().split_every(12))]);
        assert_eq!(
            counts(&plan),
            counted(&[
                ("Combine { level: 1 }", 3),
                ("Finish", 1),
                ("Partial", 36),
                ("Source", 36)
            ])
        );
    }

    #[test]
    fn shared_inputs_are_planned_once() {
        let x = data(8, vec![4, 4]);
        let y = &x * 3.0;
        // One root reading y twice, and two roots reading it.
        let twice = &y + &y;
        let plan = plan_of(&[&twice]);
        assert_eq!(counts(&plan), counted(&[("Elemwise", 4), ("Source", 2)]));
        for task in plan
            .tasks
            .iter()
            .filter(|t| Arc::ptr_eq(&t.node, &twice.node))
        {
            assert_eq!(task.deps[0], task.deps[1], "both operands are one task");
        }
        let plan = plan_of(&[&y.sum(), &y.max()]);
        assert_eq!(
            counts(&plan),
            counted(&[
                ("Elemwise", 2),
                ("Finish", 2),
                ("Partial", 4),
                ("Source", 2)
            ])
        );
    }

    #[test]
    fn held_bytes_and_needs_follow_the_plan_order() {
        // x: tiles of 4 and 2 f64 (32 and 16 bytes); its sum: two partials and a finish.
        let x = data(6, vec![4, 2]);
        let sum = x.sum();
        let plan = plan_of(&[&sum]);
        let NodeKind::Reduce(r) = &sum.node.kind else {
            panic!("a reduction")
        };
        let state = r.reducer.state_bytes() as u64;
        let kinds: Vec<&TaskKind> = plan.tasks.iter().map(|t| &t.kind).collect();
        assert_eq!(
            kinds,
            [
                &TaskKind::Source,
                &TaskKind::Partial,
                &TaskKind::Source,
                &TaskKind::Partial,
                &TaskKind::Finish
            ],
            "depth first: each partial right after its tile"
        );
        let run: Vec<u64> = plan.tasks.iter().map(Task::run_bytes).collect();
        assert_eq!(run, [32, state, 16, state, 8], "outputs; no scratch");
        // Held before each task: x0 until its partial ran, then the partials until the
        // finish.
        let held = plan.held_before();
        assert_eq!(held, [0, 32, state, state + 16, 2 * state]);
        // needs[k]: the most that tasks k.. need on top of what is held, in order.
        let at = [32, 32 + state, state + 16, 16 + 2 * state, 2 * state + 8];
        let needs: Vec<u64> = (0..5)
            .map(|k| at[k..].iter().copied().max().unwrap())
            .collect();
        assert_eq!(plan.needs, needs);
        assert_eq!(plan.peak(), needs[0]);
        // Two threads: room for one more of the largest task beside the peak.
        assert_eq!(plan.projected_peak(2), needs[0] + state.max(32));
        // A budget below the peak is refused, naming the budget the plan needs.
        let refused = Plan::new(std::slice::from_ref(&sum.node), STRIP, plan.peak() - 1, 1);
        assert!(
            matches!(
                refused,
                Err(Error::Plan(PlanError::PeakOverBudget { needed, .. }))
                    if needed == plan.peak()
            ),
            "{refused:?}"
        );
    }
}

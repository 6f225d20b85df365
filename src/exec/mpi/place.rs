//! Which process runs each task of a distributed run, and the plan each process runs.
//!
//! Every process builds the same plan and places its tasks by the same deterministic rule,
//! so no placement is ever sent:
//!
//! - tasks that read no other task's tile, or far less than they make (source tiles,
//!   partial reductions that read their input themselves, tiles generated in place and
//!   shifted by a mean) are split among the ranks by position: each node's tiles in C order
//!   of their block index, cut into `ranks` runs of equal projected cost, so that rank `r`
//!   reads the `r`-th stretch of a Zarr array's chunks;
//! - every other task runs on the rank that holds most of its input bytes (ties go to the
//!   rank with the least work so far), so that what moves is the smaller side: a mean to
//!   the tiles it is subtracted from, partial states up a reduction tree, one operand's
//!   tiles of a product;
//! - a task whose first input does not travel (QR factors) runs beside it.
//!
//! The reduction trees are the plan's, whatever the number of ranks, so a distributed run
//! combines the same partials in the same order as one process: results are bit for bit
//! the same.

use std::collections::HashMap;

use crate::exec::plan::{Plan, Task, TaskKind};
use crate::graph::NodeKind;

/// Per task of `plan`: the rank (of `ranks`) that runs it.
pub(crate) fn place(plan: &Plan, ranks: usize) -> Vec<usize> {
    let n = plan.tasks.len();
    let mut owner = vec![0; n];
    if ranks <= 1 {
        return owner;
    }
    let mut load = vec![0u64; ranks];
    // Tasks that read no task's tile, grouped per node and stage, split by position.
    let mut groups: HashMap<(usize, String), Vec<usize>> = HashMap::new();
    for (t, task) in plan.tasks.iter().enumerate() {
        if by_position(plan, task) {
            let stage = format!("{:?}", task.kind);
            groups.entry((task.node_number, stage)).or_default().push(t);
        }
    }
    let mut groups: Vec<Vec<usize>> = groups.into_values().collect();
    groups.sort_by_key(|g| g[0]);
    for group in &groups {
        split_by_position(plan, group, ranks, &mut owner, &mut load);
    }
    for (t, task) in plan.tasks.iter().enumerate() {
        if by_position(plan, task) {
            continue;
        }
        owner[t] = if runs_beside_first_input(task) {
            owner[task.deps[0]]
        } else {
            let mut held = vec![0u64; ranks];
            for &d in &task.deps {
                held[owner[d]] += plan.tasks[d].out_bytes.max(1);
            }
            (0..ranks)
                .max_by_key(|&r| (held[r], std::cmp::Reverse(load[r]), std::cmp::Reverse(r)))
                .expect("there is a rank")
        };
        load[owner[t]] += cost(task);
    }
    owner
}

/// Whether `task` is placed by position: it reads no other task's tile but its own input
/// (a source tile, a partial reduction folding its input as it is read), or makes more
/// than twice what it reads (the small inputs go to it, spreading the work).
fn by_position(plan: &Plan, task: &Task) -> bool {
    if runs_beside_first_input(task) {
        return false;
    }
    let read: u64 = task.deps.iter().map(|&d| plan.tasks[d].out_bytes).sum();
    task.deps.is_empty() || task.streamed.is_some() || read.saturating_mul(2) < task.out_bytes
}

fn runs_beside_first_input(task: &Task) -> bool {
    !task.deps.is_empty()
        && matches!(&task.node.kind, NodeKind::Blockwise(b) if b.map.runs_beside_first_input())
}

/// The projected cost of `task`: the bytes it makes and works in (at least 1).
fn cost(task: &Task) -> u64 {
    task.run_bytes().max(1)
}

/// Places the tasks of `group` (one node's, one stage's) in C order of their block index,
/// in `ranks` runs of equal cost.
fn split_by_position(
    plan: &Plan,
    group: &[usize],
    ranks: usize,
    owner: &mut [usize],
    load: &mut [u64],
) {
    let ndim = plan.tasks[group[0]].block.len();
    let mut order = group.to_vec();
    order.sort_by(|&a, &b| plan.tasks[a].block.cmp(&plan.tasks[b].block));
    debug_assert!(order.iter().all(|&t| plan.tasks[t].block.len() == ndim));
    let total: u128 = order
        .iter()
        .map(|&t| u128::from(cost(&plan.tasks[t])))
        .sum();
    let mut before = 0u128;
    for &t in &order {
        let c = u128::from(cost(&plan.tasks[t]));
        // The rank whose stretch holds the middle of this task's cost.
        let middle = 2 * before + c;
        let rank = ((middle * ranks as u128) / (2 * total)).min(ranks as u128 - 1) as usize;
        owner[t] = rank;
        load[rank] += c as u64;
        before += c;
    }
}

/// One process's share of a distributed plan.
pub(crate) struct Share {
    /// The tasks it runs, and a receive task for each tile it reads from another rank.
    pub(crate) plan: Plan,
    /// Per task of `plan`: its task in the whole plan (which names its messages).
    pub(crate) global: Vec<usize>,
}

/// The share of rank `rank` (of `ranks`) of `plan` placed by `owner`; the output tiles go
/// to the ranks for which `gathers` is true (ranks that run no task among them).
pub(crate) fn share(
    plan: &Plan,
    owner: &[usize],
    rank: usize,
    ranks: usize,
    gathers: &dyn Fn(usize) -> bool,
) -> Share {
    let n = plan.tasks.len();
    let gathering: Vec<usize> = (0..ranks).filter(|&r| gathers(r)).collect();
    let consumers = plan.consumers();
    let mut is_output = vec![false; n];
    for blocks in &plan.outputs {
        for (_, t) in blocks {
            is_output[*t] = true;
        }
    }
    let mut out = ShareBuilder {
        local: vec![None; n],
        tasks: Vec::new(),
        global: Vec::new(),
        sends: Vec::new(),
    };
    let here_gathers = gathers(rank);
    for t in 0..n {
        if owner[t] != rank {
            if is_output[t] && here_gathers {
                out.receive(plan, owner, t);
            }
            continue;
        }
        for &d in &plan.tasks[t].deps {
            if owner[d] != rank {
                out.receive(plan, owner, d);
            }
        }
        let mut to: Vec<usize> = consumers[t].iter().map(|&c| owner[c]).collect();
        if is_output[t] {
            to.extend(&gathering);
        }
        to.sort_unstable();
        to.dedup();
        to.retain(|&r| r != rank);
        let mut task = plan.tasks[t].clone();
        for d in &mut task.deps {
            *d = out.local[*d].expect("a task's inputs come before it");
        }
        out.push(t, task, to);
    }
    let outputs = plan
        .outputs
        .iter()
        .map(|blocks| match here_gathers {
            true => blocks
                .iter()
                .map(|(b, t)| (b.clone(), out.local[*t].expect("gathered outputs are here")))
                .collect(),
            false => Vec::new(),
        })
        .collect();
    Share {
        plan: Plan::of_tasks(out.tasks, outputs, out.sends, plan),
        global: out.global,
    }
}

/// A share being built, in plan order.
struct ShareBuilder {
    /// Per task of the whole plan: its task in the share, once there.
    local: Vec<Option<usize>>,
    tasks: Vec<Task>,
    global: Vec<usize>,
    sends: Vec<Vec<usize>>,
}

impl ShareBuilder {
    fn push(&mut self, t: usize, task: Task, sends: Vec<usize>) {
        self.local[t] = Some(self.tasks.len());
        self.tasks.push(task);
        self.global.push(t);
        self.sends.push(sends);
    }

    /// Adds a task that receives the tile of task `d` (of `plan`, placed by `owner`) unless
    /// the share has it already.
    fn receive(&mut self, plan: &Plan, owner: &[usize], d: usize) {
        if self.local[d].is_none() {
            let task = Task {
                kind: TaskKind::Receive { from: owner[d] },
                deps: Vec::new(),
                scratch_bytes: 0,
                streamed: None,
                ..plan.tasks[d].clone()
            };
            self.push(d, task, Vec::new());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::Array;
    use crate::chunks::Chunks;
    use crate::exec::{Config, plan_for};

    fn plan_of(roots: &[&Array<f64>]) -> Plan {
        let roots: Vec<_> = roots.iter().map(|a| a.node.clone()).collect();
        plan_for(&roots, &Config::default().threads(1)).unwrap()
    }

    fn data(len: usize, chunk: usize) -> Array<f64> {
        let dense = ndarray::Array1::<f64>::linspace(0.0, 1.0, len);
        crate::from_ndarray(&dense, Chunks::Sizes(vec![vec![chunk; len / chunk]])).unwrap()
    }

    #[test]
    fn source_tiles_are_split_in_runs_of_equal_cost() {
        let x = data(1000, 100);
        let plan = plan_of(&[&(&x * 2.0)]);
        let owner = place(&plan, 3);
        let mut by_block: Vec<(usize, usize)> = plan.outputs[0]
            .iter()
            .map(|(block, t)| (block[0], owner[*t]))
            .collect();
        by_block.sort();
        let ranks: Vec<usize> = by_block.iter().map(|&(_, r)| r).collect();
        // Ten tiles in three stretches, in order, of 3 or 4 tiles.
        assert_eq!(ranks, vec![0, 0, 0, 1, 1, 1, 1, 2, 2, 2]);
    }

    #[test]
    fn a_task_runs_where_most_of_its_input_is() {
        // x - x.sum(): each tile of the difference needs its tile of x (800 bytes) and the
        // sum (8 bytes): it runs where its tile of x is, and only the sum moves.
        let x = data(400, 100);
        let y = &x - &x.sum();
        let plan = plan_of(&[&y]);
        let owner = place(&plan, 2);
        for (t, task) in plan.tasks.iter().enumerate() {
            if task.kind == TaskKind::Elemwise {
                let big = task
                    .deps
                    .iter()
                    .max_by_key(|&&d| plan.tasks[d].out_bytes)
                    .unwrap();
                assert_eq!(owner[t], owner[*big], "{}", task.describe());
            }
        }
    }

    #[test]
    fn shares_receive_what_they_read_and_send_what_others_read() {
        let x = data(400, 100);
        let y = &x - &x.sum();
        let plan = plan_of(&[&y]);
        let owner = place(&plan, 2);
        let shares: Vec<Share> = (0..2)
            .map(|r| share(&plan, &owner, r, 2, &|r| r == 0))
            .collect();
        // Every task runs on exactly one rank.
        let mut runs = vec![0; plan.tasks.len()];
        for s in &shares {
            for (local, task) in s.plan.tasks.iter().enumerate() {
                if !matches!(task.kind, TaskKind::Receive { .. }) {
                    runs[s.global[local]] += 1;
                }
            }
        }
        assert!(runs.iter().all(|&k| k == 1), "{runs:?}");
        // Each receive on one rank matches a send on its source rank.
        for (r, s) in shares.iter().enumerate() {
            for (local, task) in s.plan.tasks.iter().enumerate() {
                if let TaskKind::Receive { from } = task.kind {
                    let g = s.global[local];
                    let source = &shares[from];
                    let at = source.global.iter().position(|&x| x == g).unwrap();
                    assert!(source.plan.sends[at].contains(&r));
                }
            }
        }
        // Rank 0 gathers every output tile; rank 1 none.
        assert_eq!(shares[0].plan.outputs[0].len(), 4);
        assert!(shares[1].plan.outputs[0].is_empty());
        assert!(
            shares[1]
                .plan
                .tasks
                .iter()
                .all(|t| t.kind != TaskKind::Receive { from: 1 })
        );
    }

    #[test]
    fn a_rank_that_runs_no_task_still_gets_the_result_it_gathers() {
        // One tile on three ranks: two ranks run nothing, yet with the result gathered
        // everywhere the rank that makes the tile sends it to both.
        let x = data(100, 100);
        let plan = plan_of(&[&(&x * 2.0)]);
        let owner = place(&plan, 3);
        let out = plan.outputs[0][0].1;
        let maker = owner[out];
        assert!(owner.iter().all(|&r| r == maker), "{owner:?}");
        let idle: Vec<usize> = (0..3).filter(|&r| r != maker).collect();
        let made = share(&plan, &owner, maker, 3, &|_| true);
        let at = made.global.iter().position(|&g| g == out).unwrap();
        assert_eq!(made.plan.sends[at], idle);
        let idle = share(&plan, &owner, idle[1], 3, &|_| true);
        assert_eq!(idle.plan.tasks.len(), 1);
        assert_eq!(idle.plan.tasks[0].kind, TaskKind::Receive { from: maker });
    }
}

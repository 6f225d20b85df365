//! The driver: optimise, plan, run on an executor, and collect the results (dense arrays,
//! kept tiles, or nothing for sinks). Every way of running a graph (`compute`, `persist`,
//! `to_zarr`, `explain`) comes through here, so storage calls the executor, not the array
//! API.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chunkwise_kernels::dtype::Element;
use ndarray::{ArrayD, IxDyn, RawArrayViewMut};

use super::allocator::advise_huge_pages;
use super::config::Config;
use super::plan::Plan;
use super::run::{Executor, Outputs, RayonExecutor, Report};
use crate::chunks::sub_view;
use crate::error::{Error, ExecError, PlanError, Result};
use crate::graph::{Node, with_stack_for};
use crate::optimize::optimize;
use crate::tile::Value;

/// The executor that runs plans under `config`: the rayon pool of this process, or the
/// processes of an MPI job.
fn executor(config: &Config) -> Box<dyn Executor + '_> {
    #[cfg(feature = "mpi")]
    if let Some(cluster) = &config.cluster {
        return Box::new(super::mpi::MpiExecutor { cluster });
    }
    let _ = config;
    Box::new(RayonExecutor)
}

/// The graph below `roots` after the optimiser's passes under `config`, with this
/// process's memory budget and threads.
pub(crate) fn optimized(roots: &[Arc<Node>], config: &Config) -> Result<Vec<Arc<Node>>> {
    let (budget, threads) = config.own_limits();
    optimize(roots, config.fuse, budget, threads)
}

/// The optimised, lowered plan of `roots` under `config`, with this process's memory
/// budget and threads (what `explain` shows).
pub(crate) fn plan_for(roots: &[Arc<Node>], config: &Config) -> Result<Plan> {
    plan_under(roots, config, config.own_limits())
}

/// The plan of `roots` that `config` runs: under [`Config::planning_limits`], which every
/// process of a distributed run agrees on (task numbers tag the tiles they exchange).
fn plan_to_run(roots: &[Arc<Node>], config: &Config) -> Result<Plan> {
    // The same graph under the same limits plans alike everywhere, but a thread to plan a
    // deep graph on can fail to start in one process alone: the processes agree. One whose
    // own planning failed keeps its own error (a `PlanError` to act on, as in one process).
    let planned = plan_under(roots, config, config.planning_limits());
    let own_error = planned.as_ref().err().cloned();
    config
        .agree(planned)
        .map_err(|agreed| own_error.unwrap_or(agreed))
}

/// The optimised, lowered plan of `roots` under `config` with a memory budget and worker
/// threads.
fn plan_under(
    roots: &[Arc<Node>],
    config: &Config,
    (budget, threads): (u64, usize),
) -> Result<Plan> {
    let span =
        tracing::info_span!("plan", roots = roots.len(), tasks = tracing::field::Empty).entered();
    let optimized = optimize(roots, config.fuse, budget, threads)?;
    // The planner walks the optimised graph, which may be deeper than `roots`.
    let plan = with_stack_for(&optimized, || {
        Plan::new(&optimized, config.strip_len, budget, threads)
    })?;
    span.record("tasks", plan.tasks.len());
    Ok(plan)
}

/// Optimises and plans `roots`, then runs them, handing output tiles to `outputs`.
pub(crate) fn evaluate(
    roots: &[Arc<Node>],
    config: &Config,
    outputs: &Outputs<'_>,
) -> Result<Report> {
    executor(config).execute(&plan_to_run(roots, config)?, config, outputs)
}

/// Runs `roots` for their effects (sink nodes that store their tiles).
pub(crate) fn run_sinks(roots: &[Arc<Node>], config: &Config) -> Result<Report> {
    evaluate(roots, config, &|_, _, _| Ok(()))
}

/// The tiles of `root`, in C order of their block index (kept by `persist`).
pub(crate) fn compute_tiles(root: &Arc<Node>, config: &Config) -> Result<Vec<Value>> {
    let (mut tiles, _) = compute_tiles_many(std::slice::from_ref(root), config)?;
    Ok(tiles.pop().expect("one list of tiles per root"))
}

/// The tiles of each of `roots` (of any dtypes), each list in C order of the block index,
/// computed in one run of one plan, so that work they share runs once.
pub(crate) fn compute_tiles_many(
    roots: &[Arc<Node>],
    config: &Config,
) -> Result<(Vec<Vec<Value>>, Report)> {
    // Planned before the tile slots are allocated, so a plan with too many tiles is
    // refused first.
    let plan = plan_to_run(roots, config)?;
    if !config.gathers_here() {
        return Err(run_elsewhere(&plan, config));
    }
    let slots: Vec<Mutex<Vec<Option<Value>>>> = roots
        .iter()
        .map(|root| Mutex::new(vec![None; root.grid.n_blocks()]))
        .collect();
    let report = executor(config).execute(&plan, config, &|o, block, value| {
        let nblocks = roots[o].grid.nblocks();
        let mut tiles = slots[o].lock().unwrap_or_else(|p| p.into_inner());
        tiles[crate::chunks::ravel(block, &nblocks)] = Some(value.clone());
        Ok(())
    })?;
    let tiles = slots
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .into_iter()
                .map(|t| t.expect("every output tile was computed"))
                .collect()
        })
        .collect();
    Ok((tiles, report))
}

/// Runs this process's share of `plan`, whose results are gathered on other processes: the
/// error of the run, or [`ExecError::NotGatheredHere`].
fn run_elsewhere(plan: &Plan, config: &Config) -> Error {
    match executor(config).execute(plan, config, &|_, _, _| Ok(())) {
        Ok(_) => Error::Exec(ExecError::NotGatheredHere {
            rank: config.rank(),
        }),
        Err(e) => e,
    }
}

/// An uninitialised result of `shape`, or an error if the memory cannot be had (never an
/// abort: the shape was checked to exist, not to fit).
fn uninit_result<T: Element>(shape: &[usize]) -> Result<ArrayD<MaybeUninit<T>>> {
    let len: usize = shape.iter().product();
    let mut buffer: Vec<MaybeUninit<T>> = Vec::new();
    buffer.try_reserve_exact(len).map_err(|_| {
        Error::Exec(ExecError::ResultAllocation {
            shape: shape.to_vec(),
            bytes: len as u128 * size_of::<T>() as u128,
        })
    })?;
    // SAFETY: `MaybeUninit` needs no initialisation, and the capacity is `len`.
    unsafe { buffer.set_len(len) };
    Ok(ArrayD::from_shape_vec(IxDyn(shape), buffer).expect("the buffer has the shape's length"))
}

/// Computes `roots` into dense arrays, one per root: each output tile is copied into its
/// block by the worker that computed it.
pub(crate) fn compute_dense<T: Element>(
    roots: &[Arc<Node>],
    config: &Config,
) -> Result<(Vec<ArrayD<T>>, Report)> {
    for root in roots {
        if let Some(e) = root.first_error() {
            return Err(e);
        }
    }
    // Planned first, so that a plan refused (too many tasks, a task over the budget) is
    // refused before the results are allocated.
    let plan = plan_to_run(roots, config)?;
    // The results are allocated uninitialised and each output tile is copied into its block
    // by the worker that computed it: no serial zero-fill first, and the page faults of a
    // large result are taken by the workers in parallel. Where they cannot be allocated,
    // every process of a distributed run fails before any runs.
    let allocated = match config.gathers_here() {
        true => roots
            .iter()
            .map(|r| uninit_result::<T>(&r.shape()))
            .collect::<Result<Vec<ArrayD<MaybeUninit<T>>>>>(),
        false => Ok(Vec::new()),
    };
    let mut results = config.agree(allocated)?;
    if !config.gathers_here() {
        return Err(run_elsewhere(&plan, config));
    }
    for result in &mut results {
        advise_huge_pages(result.as_mut_ptr().cast(), result.len() * size_of::<T>());
    }
    let targets: Vec<BlockTarget<T>> = results
        .iter_mut()
        .map(|r| BlockTarget(r.raw_view_mut()))
        .collect();
    let written: Vec<AtomicUsize> = roots.iter().map(|_| AtomicUsize::new(0)).collect();
    let report = executor(config).execute(&plan, config, &|o, block, value| {
        let tile = value.array::<T>()?;
        let ranges = roots[o].grid.block_ranges(block);
        let region = sub_view(targets[o].0.clone(), &ranges);
        if tile.shape() != region.shape() {
            let found = format!("has shape {:?}, not {:?}", tile.shape(), region.shape());
            return Err(output_error(o, block, &found));
        }
        // SAFETY: the executor hands each output block to the sink exactly once, the blocks
        // of a grid are disjoint, and the tile has the block's shape (checked above), so no
        // two calls write the same element and each writes its whole block; `results` is
        // not touched until `evaluate` has returned and every call has ended.
        tile.assign_to(unsafe { region.deref_into_view_mut() });
        written[o].fetch_add(tile.len(), Ordering::Relaxed);
        Ok(())
    })?;
    drop(targets);
    let mut assembled = Vec::with_capacity(results.len());
    for (o, (result, written)) in results.into_iter().zip(&written).enumerate() {
        if written.load(Ordering::Relaxed) != result.len() {
            return Err(output_error(o, &[], "was not written in full"));
        }
        // SAFETY: each block was written once, in full, and together they hold as many
        // elements as the array (counted just above), so every element is initialised.
        assembled.push(unsafe { result.assume_init() });
    }
    Ok((assembled, report))
}

/// The error for an output tile that does not fit its result: a bug in the plan.
fn output_error(output: usize, block: &[usize], what: &str) -> Error {
    Error::Plan(PlanError::InvalidPlan {
        pass: "lowering".into(),
        reason: format!("output {output}, block {block:?}: the tile {what}"),
    })
}

/// A result array that concurrent sink calls write through, each into its own block.
struct BlockTarget<T>(RawArrayViewMut<MaybeUninit<T>, IxDyn>);

// SAFETY: writes through the view go to disjoint blocks (see `assemble`), and `T: Send`.
unsafe impl<T: Send> Sync for BlockTarget<T> {}

//! Running the graph: `compute`, `compute_many`, `persist`, and the plan printers.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chunkwise_kernels::dtype::Element;
use ndarray::{ArrayD, Dimension, Ix0, IxDyn, RawArrayViewMut};

use super::Array as Lazy;
use crate::error::{BuildError, Error, ExecError, PlanError, Result};
use crate::exec::{Config, Plan, Report, Sink, advise_huge_pages, execute};
use crate::graph::{Node, NodeKind, Source, Value, to_dot};
use crate::ops::sources::Persisted;
use crate::ops::sub_view;
use crate::optimize::optimize;

/// The optimised, lowered plan of `roots` under `config`.
fn plan_for(roots: &[Arc<Node>], config: &Config) -> Result<Plan> {
    let optimized = optimize(roots, config.fuse)?;
    Plan::new(
        &optimized,
        config.strip_len,
        config.budget_bytes(),
        config.worker_threads(),
    )
}

/// Optimises and plans `roots`, then runs them, handing output tiles to `sink`.
pub(crate) fn evaluate(roots: &[Arc<Node>], config: &Config, sink: &Sink<'_>) -> Result<Report> {
    execute(&plan_for(roots, config)?, config, sink)
}

/// What the optimiser passes recorded on `node` (such as why an input was not fused).
fn fusion_note(node: &Node) -> String {
    let notes: Vec<String> = node.notes.iter().map(ToString::to_string).collect();
    notes.join("; ")
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

/// Copies output tiles into dense arrays, one per root.
fn assemble<T: Element>(roots: &[Arc<Node>], config: &Config) -> Result<(Vec<ArrayD<T>>, Report)> {
    for root in roots {
        if let Some(e) = root.first_error() {
            return Err(e);
        }
    }
    // Planned first, so that a plan refused (too many tasks, a task over the budget) is
    // refused before the results are allocated.
    let plan = plan_for(roots, config)?;
    // The results are allocated uninitialised and each output tile is copied into its block
    // by the worker that computed it: no serial zero-fill first, and the page faults of a
    // large result are taken by the workers in parallel.
    let mut results: Vec<ArrayD<MaybeUninit<T>>> = roots
        .iter()
        .map(|r| uninit_result::<T>(&r.shape()))
        .collect::<Result<_>>()?;
    for result in &mut results {
        advise_huge_pages(result.as_mut_ptr().cast(), result.len() * size_of::<T>());
    }
    let targets: Vec<BlockTarget<T>> = results
        .iter_mut()
        .map(|r| BlockTarget(r.raw_view_mut()))
        .collect();
    let written: Vec<AtomicUsize> = roots.iter().map(|_| AtomicUsize::new(0)).collect();
    let report = execute(&plan, config, &|o, block, value| {
        let tile = value
            .as_any()
            .downcast_ref::<ArrayD<T>>()
            .ok_or_else(|| output_error(o, block, "is not an array of the result's type"))?;
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

/// Computes several arrays in one run: work they share is computed once.
///
/// ```
/// use chunkwise::prelude::*;
/// let x = chunkwise::random::uniform::<f64>(7, 0.0, 1.0, &[1000], [100]).unwrap();
/// let [lo, hi] = <[_; 2]>::try_from(chunkwise::compute_many(&[&x.min(), &x.max()]).unwrap()).unwrap();
/// assert!(lo[[]] < hi[[]]);
/// ```
pub fn compute_many<T: Element>(arrays: &[&Lazy<T>]) -> Result<Vec<ArrayD<T>>> {
    compute_many_with(arrays, &Config::default())
}

/// [`compute_many`] with `config`.
pub fn compute_many_with<T: Element>(
    arrays: &[&Lazy<T>],
    config: &Config,
) -> Result<Vec<ArrayD<T>>> {
    Ok(compute_many_report(arrays, config)?.0)
}

/// [`compute_many`] with `config`, reporting what the run did (tasks, peak memory, trace).
///
/// ```
/// use chunkwise::Config;
/// let x = chunkwise::arange::<i64>(0, 10, 1, [4]).unwrap();
/// let config = Config::default().memory_budget(1 << 20);
/// let (values, report) = chunkwise::compute_many_report(&[&x.sum(), &x.max()], &config).unwrap();
/// assert_eq!((values[0][[]], values[1][[]]), (45, 9));
/// assert!(report.peak_bytes <= report.budget);
/// ```
pub fn compute_many_report<T: Element>(
    arrays: &[&Lazy<T>],
    config: &Config,
) -> Result<(Vec<ArrayD<T>>, Report)> {
    let roots: Vec<Arc<Node>> = arrays.iter().map(|a| a.node.clone()).collect();
    assemble::<T>(&roots, config)
}

/// Computing, persisting and explaining.
impl<T: Element> Lazy<T> {
    /// Computes the array with the default [`Config`].
    pub fn compute(&self) -> Result<ArrayD<T>> {
        self.compute_with(&Config::default())
    }

    /// Computes the array with `config`.
    pub fn compute_with(&self, config: &Config) -> Result<ArrayD<T>> {
        Ok(self.compute_report(config)?.0)
    }

    /// Computes a 0-d array (such as a full reduction) to its single value.
    ///
    /// ```
    /// let x = chunkwise::arange::<i64>(0, 5, 1, [2]).unwrap();
    /// assert_eq!(x.sum().compute_scalar().unwrap(), 10);
    /// ```
    pub fn compute_scalar(&self) -> Result<T> {
        Ok(self.compute_dim::<Ix0>()?.into_scalar())
    }

    /// Computes the array into a fixed-dimension `ndarray` (`Ix1`, `Ix2`, ...); an error if
    /// the number of axes differs.
    ///
    /// ```
    /// let x = chunkwise::zeros::<f32>(&[2, 3], [1, 3]).unwrap();
    /// let dense: ndarray::Array2<f32> = x.compute_dim().unwrap();
    /// assert_eq!(dense.dim(), (2, 3));
    /// ```
    pub fn compute_dim<D: Dimension>(&self) -> Result<ndarray::Array<T, D>> {
        let dense = self.compute()?;
        let found = dense.shape().to_vec();
        dense.into_dimensionality::<D>().map_err(|_| {
            Error::Build(BuildError::ShapeMismatch {
                op: "compute_dim".into(),
                expected: vec![0; D::NDIM.unwrap_or(found.len())],
                found,
            })
        })
    }

    /// Computes the array and reports what the run did (tasks, peak memory, trace).
    pub fn compute_report(&self, config: &Config) -> Result<(ArrayD<T>, Report)> {
        let (mut results, report) = assemble::<T>(std::slice::from_ref(&self.node), config)?;
        Ok((results.pop().expect("one result per root"), report))
    }

    /// Computes the tiles and keeps them in memory as a new source: later work on the
    /// result starts from the stored tiles.
    pub fn persist(&self) -> Result<Lazy<T>> {
        self.persist_with(&Config::default())
    }

    /// [`Array::persist`](crate::Array::persist) with `config`.
    pub fn persist_with(&self, config: &Config) -> Result<Lazy<T>> {
        self.check()?;
        let grid = self.node.grid.clone();
        // Planned before the tile slots are allocated, so a plan with too many tiles is
        // refused first.
        let plan = plan_for(std::slice::from_ref(&self.node), config)?;
        let tiles: Mutex<Vec<Option<Value>>> = Mutex::new(vec![None; grid.n_blocks()]);
        let nblocks = grid.nblocks();
        execute(&plan, config, &|_, block, value| {
            let mut tiles = tiles.lock().unwrap_or_else(|p| p.into_inner());
            tiles[crate::chunks::ravel(block, &nblocks)] = Some(value.clone());
            Ok(())
        })?;
        let tiles = tiles
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .into_iter()
            .map(|t| t.expect("every output tile was computed"))
            .collect();
        let source = Persisted { tiles, nblocks };
        let node = Node::new(
            NodeKind::Source(Source::Tiles(Arc::new(source))),
            grid,
            T::DTYPE,
        );
        Ok(Lazy::from_node(node))
    }

    /// The optimised plan as text: nodes (fused kernels show as one expression), tasks and
    /// memory per node, total tasks and projected peak memory.
    ///
    /// ```
    /// use chunkwise::prelude::*;
    /// let x = chunkwise::ones::<f64>(&[100, 100], [50, 50]).unwrap();
    /// let plan = ((&x + 1.0).sin().sum()).explain().unwrap();
    /// assert!(plan.contains("Reduce sum over axes [0, 1] of sin(add[rhs=1.0](full[1.0]))"), "{plan}");
    /// ```
    pub fn explain(&self) -> Result<String> {
        self.explain_with(&Config::default())
    }

    /// [`Array::explain`](crate::Array::explain) with `config` (threads, budget, fusion on or off).
    pub fn explain_with(&self, config: &Config) -> Result<String> {
        self.check()?;
        let plan = plan_for(std::slice::from_ref(&self.node), config)?;
        Ok(plan.explain(config.worker_threads(), config.budget_bytes(), &fusion_note))
    }

    /// The optimised graph in Graphviz DOT.
    pub fn to_dot(&self) -> Result<String> {
        self.check()?;
        let optimized = optimize(std::slice::from_ref(&self.node), Config::default().fuse)?;
        Ok(to_dot(&optimized))
    }

    /// Number of tasks the optimised plan runs (fusion shows here: fewer tasks).
    pub fn task_count(&self, config: &Config) -> Result<usize> {
        self.check()?;
        Ok(plan_for(std::slice::from_ref(&self.node), config)?
            .tasks
            .len())
    }
}

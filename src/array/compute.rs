//! Running the graph: `compute`, `compute_many`, `persist`, and the plan printers.

use std::sync::Arc;

use chunkwise_kernels::dtype::Element;
use ndarray::{ArrayD, Dimension, Ix0};

use super::Array as Lazy;
use crate::error::{BuildError, Error, ExecError, Result};
use crate::exec::{Config, Report, compute_dense, compute_tiles, optimized, plan_for};
use crate::graph::{Node, NodeKind, Source, to_dot, with_stack_for};
use crate::ops::sources::Persisted;

/// What the optimiser passes recorded on `node` (such as why an input was not fused).
fn fusion_note(node: &Node) -> String {
    let notes: Vec<String> = node.notes.iter().map(ToString::to_string).collect();
    notes.join("; ")
}

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
    compute_dense::<T>(&roots, config)
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

    /// Computes the array with `config`, on the processes of an MPI job when the config
    /// runs on a cluster: the result on the ranks it is gathered on (`Config::gather`),
    /// `None` on the others. Every rank must call it. In one process it is always `Some`.
    pub fn compute_gathered(&self, config: &Config) -> Result<Option<ArrayD<T>>> {
        match self.compute_with(config) {
            Ok(result) => Ok(Some(result)),
            Err(Error::Exec(ExecError::NotGatheredHere { .. })) => Ok(None),
            Err(e) => Err(e),
        }
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
        let (mut results, report) = compute_dense::<T>(std::slice::from_ref(&self.node), config)?;
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
        let tiles = compute_tiles(&self.node, config)?;
        let nblocks = grid.nblocks();
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
        // Its text follows the optimised graph as deep as it goes.
        with_stack_for(&plan.roots, || {
            Ok(plan.explain(config.worker_threads(), config.budget_bytes(), &fusion_note))
        })
    }

    /// The optimised graph in Graphviz DOT.
    pub fn to_dot(&self) -> Result<String> {
        self.check()?;
        Ok(to_dot(&optimized(
            std::slice::from_ref(&self.node),
            &Config::default(),
        )?))
    }

    /// Number of tasks the optimised plan runs (fusion shows here: fewer tasks).
    pub fn task_count(&self, config: &Config) -> Result<usize> {
        self.check()?;
        Ok(plan_for(std::slice::from_ref(&self.node), config)?
            .tasks
            .len())
    }
}

//! Computing arrays of different element types together: one optimised graph, one run, so
//! inputs they share are read once (as [`compute_many`](super::compute_many) does for
//! arrays of one type).

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chunkwise_kernels::dtype::Element;
use ndarray::{ArrayD, IxDyn};

use super::Array;
use super::map_blocks::invalid;
use crate::chunks::{ChunkGrid, sub_view, unravel};
use crate::error::{Error, PlanError, Result};
use crate::exec::{Config, Report, compute_tiles_many};
use crate::graph::Node;
use crate::tile::Value;

/// Numbers batches, so that a handle is never read from another batch's results.
static NEXT_BATCH: AtomicU64 = AtomicU64::new(0);

/// Arrays of any element types to compute together, as Dask's `dask.compute(a, b, c)`:
/// [`Batch::add`] gives a typed [`Handle`] per array, [`Batch::compute`] runs them all in
/// one plan (work they share runs once), and [`Computed::get`] gives each result.
///
/// ```
/// let x = chunkwise::arange::<i64>(0, 10, 1, [4]).unwrap();
/// let mut batch = chunkwise::Batch::new();
/// let mean = batch.add(&x.mean());
/// let nonzero = batch.add(&x.count_nonzero());
/// let out = batch.compute().unwrap();
/// assert_eq!(out.get(mean).unwrap()[[]], 4.5f64);
/// assert_eq!(out.get(nonzero).unwrap()[[]], 9u64);
/// ```
#[derive(Debug)]
pub struct Batch {
    id: u64,
    roots: Vec<Arc<Node>>,
}

/// The place of one array in a [`Batch`], typed by its element type.
#[derive(Debug)]
pub struct Handle<T: Element> {
    batch: u64,
    index: usize,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> Clone for Handle<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Element> Copy for Handle<T> {}

/// The results of a [`Batch`]: each array's tiles, assembled by [`Computed::get`].
#[derive(Debug)]
pub struct Computed {
    batch: u64,
    results: Vec<(ChunkGrid, Vec<Value>)>,
}

impl Default for Batch {
    fn default() -> Batch {
        Batch::new()
    }
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch {
            id: NEXT_BATCH.fetch_add(1, Ordering::Relaxed),
            roots: Vec::new(),
        }
    }

    /// Adds `array`; its result is `computed.get(handle)`.
    pub fn add<T: Element>(&mut self, array: &Array<T>) -> Handle<T> {
        self.roots.push(array.node.clone());
        Handle {
            batch: self.id,
            index: self.roots.len() - 1,
            _t: PhantomData,
        }
    }

    /// Computes every array added, with the default [`Config`].
    pub fn compute(&self) -> Result<Computed> {
        self.compute_with(&Config::default())
    }

    /// Computes every array added, with `config`.
    pub fn compute_with(&self, config: &Config) -> Result<Computed> {
        Ok(self.compute_report(config)?.0)
    }

    /// Computes every array added, with `config`, and reports what the run did (tasks,
    /// peak memory, trace).
    pub fn compute_report(&self, config: &Config) -> Result<(Computed, Report)> {
        for root in &self.roots {
            if let Some(e) = root.first_error() {
                return Err(e);
            }
        }
        let (tiles, report) = compute_tiles_many(&self.roots, config)?;
        let results = self
            .roots
            .iter()
            .zip(tiles)
            .map(|(root, tiles)| (root.grid.clone(), tiles))
            .collect();
        let computed = Computed {
            batch: self.id,
            results,
        };
        Ok((computed, report))
    }
}

impl Computed {
    /// The result of the array `handle` stands for, as a dense array; an error for a
    /// handle of another batch.
    pub fn get<T: Element>(&self, handle: Handle<T>) -> Result<ArrayD<T>> {
        if handle.batch != self.batch {
            return Err(invalid(
                "Computed::get",
                "the handle belongs to another batch".into(),
            ));
        }
        let (grid, tiles) = &self.results[handle.index];
        let mut dense = ArrayD::from_elem(IxDyn(&grid.shape()), T::default());
        let nblocks = grid.nblocks();
        for (flat, tile) in tiles.iter().enumerate() {
            let ranges = grid.block_ranges(&unravel(flat, &nblocks));
            let mut region = sub_view(dense.view_mut(), &ranges);
            let tile = tile.array::<T>()?;
            if tile.shape() != region.shape() {
                return Err(Error::Plan(PlanError::InvalidPlan {
                    pass: "lowering".into(),
                    reason: format!(
                        "batch output {}, tile {flat}: shape {:?}, not {:?}",
                        handle.index,
                        tile.shape(),
                        region.shape()
                    ),
                }));
            }
            region.assign(tile);
        }
        Ok(dense)
    }
}

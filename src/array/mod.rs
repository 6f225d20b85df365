//! The user-facing lazy array. Nothing here computes until `compute()` is called.

mod arith;
mod batch;
mod block;
mod compute;
mod creation;
mod derived;
mod elementwise;
mod groupby;
mod gufunc;
mod histogram;
pub(crate) mod index_blockwise;
mod indexing;
mod layout;
pub(crate) mod map_blocks;
pub(crate) mod map_overlap;
mod quantile;
pub mod random;
mod reductions;
mod reshape;
mod rolling;
mod scan;
mod selection;
mod structure;
mod topk;
mod unique;
pub(crate) mod user_reduction;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use chunkwise_kernels::dtype::{DType, Element};

pub use batch::{Batch, Computed, Handle};
pub use block::{Block, block, block_nested};
pub use compute::{compute_many, compute_many_report, compute_many_with};
pub use creation::{arange, eye, from_fn, from_ndarray, full, linspace, ones, zeros};
pub use derived::Coarsen;
pub(crate) use elementwise::cast_node;
pub use elementwise::{IntoOperand, Operand, where_};
pub use groupby::{GroupBy, GroupFunc};
pub use gufunc::{CoreResult, Gufunc, apply_gufunc};
pub use histogram::{Bins, histogram2d, histogramdd, histogramdd_weighted};
pub use indexing::Indices;
pub use quantile::QuantileMethod;
pub use reductions::Reduction;
pub use rolling::Rolling;
pub use selection::Selection;
pub use structure::{Pad, concatenate, stack};
pub use unique::Unique;

use crate::chunks::ChunkGrid;
use crate::error::Result;
use crate::graph::Node;

/// A lazy, chunked n-dimensional array of `T`.
///
/// A cheap handle (an `Arc` of a graph node): cloning it copies no data. Operations build a
/// graph; [`Array::compute`] optimises it (fusing elementwise chains) and runs its tile
/// tasks in parallel inside a memory budget.
///
/// ```
/// use chunkwise::prelude::*;
/// let x = chunkwise::arange::<f64>(0.0, 10.0, 1.0, [4]).unwrap();
/// let y = (&x * 2.0 + 1.0).sum();
/// assert_eq!(y.compute_scalar().unwrap(), 100.0);
/// ```
pub struct Array<T: Element> {
    pub(crate) node: Arc<Node>,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> Clone for Array<T> {
    fn clone(&self) -> Self {
        Array {
            node: self.node.clone(),
            _t: PhantomData,
        }
    }
}

impl<T: Element> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Array<{}>(shape {:?}, chunks {})",
            T::DTYPE,
            self.shape(),
            self.node.grid.axis_texts().join("x")
        )
    }
}

/// Shape, chunks and type.
impl<T: Element> Array<T> {
    pub(crate) fn from_node(node: Arc<Node>) -> Array<T> {
        debug_assert_eq!(
            node.dtype,
            T::DTYPE,
            "typed handle over a node of another dtype"
        );
        Array {
            node,
            _t: PhantomData,
        }
    }

    /// The shape (empty for a 0-d array, and for an array whose building failed).
    pub fn shape(&self) -> Vec<usize> {
        self.node.shape()
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.node.ndim()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape().iter().product()
    }

    /// Whether the array has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        T::DTYPE
    }

    /// The tile grid.
    pub fn chunks(&self) -> &ChunkGrid {
        &self.node.grid
    }

    /// Number of tiles.
    pub fn n_tiles(&self) -> usize {
        self.node.grid.n_blocks()
    }

    /// The first error met while building this array (a shape mismatch in `a + b`, a bad
    /// axis), if any. `compute()` reports the same error.
    ///
    /// ```
    /// use chunkwise::prelude::*;
    /// let a = chunkwise::zeros::<f64>(&[3], [3]).unwrap();
    /// let b = chunkwise::zeros::<f64>(&[4], [4]).unwrap();
    /// assert!(matches!((&a + &b).check(), Err(chunkwise::Error::Build(chunkwise::BuildError::Broadcast { .. }))));
    /// ```
    pub fn check(&self) -> Result<()> {
        match self.node.first_error() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

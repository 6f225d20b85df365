//! Computed tiles and partial states, shared between tasks without copying.

use std::any::Any;
use std::fmt::Debug;
use std::sync::Arc;

use chunkwise_kernels::dtype::{Element, Strip, StripVec, VecVisitor};
use ndarray::{ArrayD, IxDyn};

/// A computed tile (or a tile of partial reduction states), held until its last consumer ran.
pub(crate) type Value = Arc<dyn TileData>;

/// What the executor needs to know of a computed value, whatever its type.
pub(crate) trait TileData: Any + Send + Sync + Debug {
    fn as_any(&self) -> &dyn Any;
    /// Bytes of memory the value holds.
    fn nbytes(&self) -> usize;
    /// The elements in C order, if this is an array tile.
    fn strip(&self) -> Option<Strip<'_>>;
    /// The tile's shape.
    fn shape(&self) -> &[usize];
}

impl<T: Element> TileData for ArrayD<T> {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn nbytes(&self) -> usize {
        self.len() * std::mem::size_of::<T>()
    }
    fn strip(&self) -> Option<Strip<'_>> {
        self.as_slice().map(T::to_strip)
    }
    fn shape(&self) -> &[usize] {
        ArrayD::shape(self)
    }
}

/// Wraps an array as a tile value, in C order.
pub(crate) fn tile_value<T: Element>(array: ArrayD<T>) -> Value {
    if array.is_standard_layout() {
        Arc::new(array)
    } else {
        Arc::new(array.as_standard_layout().into_owned())
    }
}

/// Partial reduction states of one tile, in C order of the kept axes.
#[derive(Debug)]
pub(crate) struct StateTile<S> {
    pub(crate) states: Vec<S>,
    pub(crate) shape: Vec<usize>,
}

impl<S: Send + Sync + Debug + 'static> TileData for StateTile<S> {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn nbytes(&self) -> usize {
        self.states.len() * std::mem::size_of::<S>()
    }
    fn strip(&self) -> Option<Strip<'_>> {
        None
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
}

/// A tile of `shape` holding the elements of `values` in C order.
pub(crate) fn new_tile(values: StripVec, shape: &[usize]) -> Value {
    struct MakeTile<'a>(&'a [usize]);
    impl VecVisitor for MakeTile<'_> {
        type Output = Value;
        fn visit<T: Element>(self, values: Vec<T>) -> Value {
            let array = ArrayD::from_shape_vec(IxDyn(self.0), values)
                .expect("the vector holds one element per tile element");
            Arc::new(array)
        }
    }
    values.visit(MakeTile(shape))
}

/// Tiles of several results that one task computes together (merged reductions).
#[derive(Debug)]
pub(crate) struct TupleTile {
    pub(crate) parts: Vec<Value>,
}

impl TileData for TupleTile {
    fn as_any(&self) -> &dyn Any {
        self
    }
    /// Each part once: parts may share one value (states that several reductions read).
    fn nbytes(&self) -> usize {
        self.parts
            .iter()
            .enumerate()
            .filter(|&(k, p)| !self.parts[..k].iter().any(|q| Arc::ptr_eq(p, q)))
            .map(|(_, p)| p.nbytes())
            .sum()
    }
    fn strip(&self) -> Option<Strip<'_>> {
        None
    }
    fn shape(&self) -> &[usize] {
        self.parts[0].shape()
    }
}

/// A blockwise map that takes part `k` of its input's [`TupleTile`]s (or the whole tile, for
/// a plain one): of the same block, or of the one tile `from` when the result has one block
/// (a factor picked out of a factorization's tile).
#[derive(Debug)]
pub(crate) struct Pick {
    pub(crate) k: usize,
    pub(crate) from: Option<Vec<usize>>,
}

impl super::BlockMap for Pick {
    fn name(&self) -> String {
        format!("pick[{}]", self.k)
    }
    fn deps(&self, block: &[usize]) -> Vec<(usize, Vec<usize>)> {
        vec![(0, self.from.clone().unwrap_or_else(|| block.to_vec()))]
    }
    fn run(&self, _: &[usize], _: &[usize], inputs: &[&Value]) -> crate::error::Result<Value> {
        Ok(match inputs[0].as_any().downcast_ref::<TupleTile>() {
            Some(tuple) => tuple.parts[self.k].clone(),
            None => inputs[0].clone(),
        })
    }
}

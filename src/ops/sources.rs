//! Sources of whole tiles: in-memory arrays, persisted tiles, and user generator functions.

use std::fmt::Debug;
use std::marker::PhantomData;
use std::ops::Range;
use std::sync::Arc;

use chunkwise_kernels::dtype::Element;
use ndarray::ArrayD;

use super::sub_view;
use crate::error::Result;
use crate::tile::{TileSource, Value, tile_value};

/// Tiles cut (copied) from an array in memory.
#[derive(Debug)]
pub(crate) struct InMemory<T> {
    pub(crate) array: Arc<ArrayD<T>>,
}

impl<T: Element> TileSource for InMemory<T> {
    fn name(&self) -> String {
        format!("from_ndarray{:?}", self.array.shape())
    }
    fn tile(&self, _: &[usize], ranges: &[Range<usize>]) -> Result<Value> {
        Ok(tile_value(sub_view(self.array.view(), ranges).to_owned()))
    }
}

/// Tiles computed earlier and kept (`persist`), handed out without copying.
#[derive(Debug)]
pub(crate) struct Persisted {
    /// Tiles in C order of their block index.
    pub(crate) tiles: Vec<Value>,
    pub(crate) nblocks: Vec<usize>,
}

impl TileSource for Persisted {
    fn name(&self) -> String {
        format!("persisted[{} tiles]", self.tiles.len())
    }
    fn tile(&self, block: &[usize], _: &[Range<usize>]) -> Result<Value> {
        Ok(self.tiles[crate::chunks::ravel(block, &self.nblocks)].clone())
    }
}

/// Tiles from a user function of (block index, element ranges).
pub(crate) struct FromFn<T, F> {
    pub(crate) f: F,
    pub(crate) _t: PhantomData<fn() -> T>,
}

impl<T, F> Debug for FromFn<T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("from_fn(closure)")
    }
}

impl<T, F> TileSource for FromFn<T, F>
where
    T: Element,
    F: Fn(&[usize], &[Range<usize>]) -> ArrayD<T> + Send + Sync + 'static,
{
    fn name(&self) -> String {
        "from_fn".into()
    }
    fn tile(&self, block: &[usize], ranges: &[Range<usize>]) -> Result<Value> {
        Ok(tile_value((self.f)(block, ranges)))
    }
}

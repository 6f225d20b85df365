//! Arrays whose element type is known only at run time.

use std::sync::Arc;

use chunkwise_kernels::dtype::{DType, Element};
use serde_json::{Map, Value as Json};

use super::read::ZarrSource;
use super::store::{Handle, Store};
use crate::array::Array;
use crate::chunks::ChunkGrid;
use crate::error::{BuildError, Error, Result};
use crate::graph::{Node, NodeKind, Source};
use crate::ops::with_dtype;

/// A lazy array opened from storage, whose element type is known only at run time.
///
/// Check [`AnyArray::dtype`], then take a typed handle with [`AnyArray::into_typed`] (an
/// error if the type differs) or convert with [`AnyArray::astype`].
#[derive(Clone, Debug)]
pub struct AnyArray {
    node: Arc<Node>,
    dimension_names: Option<Vec<Option<String>>>,
    attributes: Map<String, Json>,
}

impl AnyArray {
    pub(crate) fn from_zarr(
        array: Arc<Handle>,
        store: Store,
        grid: ChunkGrid,
        dtype: DType,
        dimension_names: Option<Vec<Option<String>>>,
        attributes: Map<String, Json>,
    ) -> AnyArray {
        let source: Arc<dyn crate::tile::TileSource> =
            with_dtype!(dtype, T => Arc::new(ZarrSource::<T>::new(array.clone(), store.clone())));
        let node = Node::new(NodeKind::Source(Source::Tiles(source)), grid, dtype);
        AnyArray {
            node,
            dimension_names,
            attributes,
        }
    }

    /// The array's graph node.
    pub(crate) fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// The stored element type.
    pub fn dtype(&self) -> DType {
        self.node.dtype
    }

    /// The shape.
    pub fn shape(&self) -> Vec<usize> {
        self.node.shape()
    }

    /// The tile grid.
    pub fn chunks(&self) -> &ChunkGrid {
        &self.node.grid
    }

    /// Dimension names (Zarr v3 `dimension_names`, or xarray's `_ARRAY_DIMENSIONS` in v2).
    pub fn dimension_names(&self) -> Option<&[Option<String>]> {
        self.dimension_names.as_deref()
    }

    /// The array's user attributes.
    pub fn attributes(&self) -> &Map<String, Json> {
        &self.attributes
    }

    /// The typed array, if the stored type is `T`.
    pub fn into_typed<T: Element>(self) -> Result<Array<T>> {
        if self.node.dtype != T::DTYPE {
            return Err(Error::Build(BuildError::DTypeMismatch {
                expected: T::DTYPE,
                found: self.node.dtype,
            }));
        }
        Ok(Array::from_node(self.node))
    }

    /// The array converted to `T` (Rust's `as` semantics), whatever its stored type.
    pub fn astype<T: Element>(&self) -> Array<T> {
        crate::array::cast_node(self.node.clone())
    }
}

//! Rechunking through a temporary Zarr store, in memory bounded by one tile per task.
//!
//! Stage one writes every input tile into an intermediate Zarr array whose chunks divide
//! both the input and the output tiles (one shard per input tile, when the input grid is
//! regular); stage two reads every output tile from it, decoding only the chunks it needs. Between
//! the stages only tiny completion marks are held, so memory does not depend on the array's
//! size, whatever the two grids (rows to columns included), at the cost of writing and
//! reading the data once.

use std::collections::HashSet;
use std::sync::Arc;

use chunkwise_kernels::dtype::Element;
use ndarray::ArrayD;
use zarrs::array::ArraySubset;
use zarrs::storage::{StorePrefix, WritableStorageTraits};

use super::metadata::{Compression, Layout, ZarrVersion, array_metadata};
use super::staging::{SCRATCH_DIR, scratch_path};
use super::store::Handle;
use super::store::{IntoStore, Store};
use super::write::sink_node;
use crate::array::Array;
use crate::chunks::{ChunkGrid, Chunks};
use crate::error::{Result, StorageError};
use crate::graph::Node;
use crate::ops::blockwise::blockwise;
use crate::ops::with_dtype;
use crate::tile::tile_value;

/// Erases the intermediate array when the graph that reads it is dropped.
struct Scratch {
    store: Store,
    path: String,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Ok(prefix) = StorePrefix::new(format!("{}/", self.path.trim_matches('/'))) {
            let _ = self.store.storage.erase_prefix(&prefix);
        }
        // The scratch directory too, once empty (other scratch nodes may be in it).
        if let Some(root) = &self.store.path {
            let _ = std::fs::remove_dir(root.join(SCRATCH_DIR));
        }
    }
}

/// The node on grid `to` whose tiles are read from the intermediate `array`, each once the
/// tiles of `written` (marks of the input grid `from`) that it overlaps are written.
fn read_back<T: Element + zarrs::array::ElementOwned>(
    written: Arc<Node>,
    array: Arc<Handle>,
    from: ChunkGrid,
    to: ChunkGrid,
    scratch: Arc<Scratch>,
) -> Arc<Node> {
    let deps_to = to.clone();
    let name = format!("rechunk_via_store[{}]", array.path());
    blockwise(name, to.clone(), T::DTYPE, vec![written])
        .single_process(
            "each process writes its own intermediate array, so a tile could not be read \
             where another process wrote it (rechunk in memory with `rechunk` instead)",
        )
        .run(
            move |block| {
                from.blocks_under(&deps_to, block)
                    .into_iter()
                    .map(|b| (0, b))
                    .collect()
            },
            move |block, _written| {
                let _erased_when_dropped = &scratch;
                let ranges: Vec<std::ops::Range<u64>> = to
                    .block_ranges(block.index)
                    .iter()
                    .map(|r| r.start as u64..r.end as u64)
                    .collect();
                let _span = tracing::debug_span!(
                    "zarr_read",
                    array = %array.path(),
                    ranges = ?ranges,
                    decoded = super::read::CODEC_PIPELINE,
                )
                .entered();
                let options = zarrs::array::CodecOptions::default().with_concurrent_target(1);
                array
                    .retrieve_array_subset_opt::<ArrayD<T>>(
                        &ArraySubset::new_with_ranges(&ranges),
                        &options,
                    )
                    .map(tile_value)
                    .map_err(|e| {
                        crate::error::Error::Storage(StorageError::Storage {
                            path: array.path().to_string(),
                            message: e.to_string(),
                        })
                    })
            },
        )
}

impl<T: Element> Array<T> {
    /// The same values on another tile grid, through an intermediate Zarr array in `store`
    /// (erased when the returned array is dropped). Each task holds one input or one output
    /// tile, so memory stays bounded even when every output tile crosses every input tile.
    /// Computed in one process only: each process of a distributed run would write an
    /// intermediate array of its own, so such a run refuses it (`rechunk` runs there).
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("chunkwise-doc-rechunk-{}", std::process::id()));
    /// let x = chunkwise::arange::<f64>(0.0, 64.0, 1.0, [8]).unwrap().rechunk([64]).unwrap();
    /// let y = x.rechunk_via_store([16], &dir).unwrap();
    /// assert_eq!(y.chunks().chunks(), &[vec![16, 16, 16, 16]]);
    /// assert_eq!(y.compute().unwrap(), x.compute().unwrap());
    /// ```
    pub fn rechunk_via_store(
        &self,
        chunks: impl Into<Chunks>,
        store: impl IntoStore,
    ) -> Result<Array<T>> {
        self.check()?;
        let store = store.into_store()?;
        let shape = self.shape();
        let from = self.chunks().clone();
        let to = ChunkGrid::new(&shape, &chunks.into(), T::DTYPE.size())?;
        // Intermediate chunks divide every boundary of both grids.
        let middle = from.common_chunk(&to);
        // Hidden from the groups and consolidated metadata of the store.
        let path = scratch_path(store.path.as_deref(), "rechunk");
        // One shard per input tile (one file written per stage-one task), holding chunks that
        // stage two reads partially: few files, and no read of data a task does not need.
        let shards: Option<Vec<usize>> = (0..shape.len())
            .map(|axis| from.regular_chunk(axis).map(|c| c.max(1)))
            .collect();
        let attributes = serde_json::Map::new();
        let metadata = array_metadata(&Layout {
            version: ZarrVersion::V3,
            shape: &shape,
            dtype: T::DTYPE,
            chunks: &middle,
            shards: shards.as_deref(),
            compression: Compression::None,
            dimension_names: None,
            attributes: &attributes,
            fill_value: None,
        })?;
        let array = zarrs::array::Array::new_with_metadata(store.storage.clone(), &path, metadata)
            .map_err(|e| store.error(&path, e))?;
        super::write::store_metadata(&store, &array)?;
        let array = Arc::new(array);
        let scratch = Arc::new(Scratch {
            store: store.clone(),
            path: path.clone(),
        });
        let written = sink_node(
            self.node.clone(),
            array.clone(),
            store,
            from.clone(),
            vec![0; shape.len()],
            HashSet::new(),
        );
        let node = with_dtype!(T::DTYPE, S => read_back::<S>(written, array, from, to, scratch));
        Ok(Array::from_node(node))
    }
}

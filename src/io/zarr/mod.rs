//! Zarr v2 and v3 storage through the `zarrs` crate: lazy reads, streaming writes.
//!
//! ```
//! use chunkwise::io::zarr::{self, WriteOptions};
//! let dir = tempfile_dir("doc-zarr");
//! let x = chunkwise::arange::<f64>(0.0, 10.0, 1.0, [4]).unwrap();
//! x.to_zarr(&dir, "x", &WriteOptions::default()).unwrap();
//! let back = zarr::open(&dir, "x").unwrap().into_typed::<f64>().unwrap();
//! assert_eq!(back.compute().unwrap(), x.compute().unwrap());
//! # fn tempfile_dir(name: &str) -> std::path::PathBuf {
//! #     let d = std::env::temp_dir().join(format!("chunkwise-{name}-{}", std::process::id()));
//! #     let _ = std::fs::remove_dir_all(&d);
//! #     d
//! # }
//! ```

mod append;
mod bare_floats;
mod cf;
mod dataset;
mod direct;
mod document;
mod dynamic;
mod erasure;
mod fill;
mod format;
mod group;
mod guard;
mod hierarchy;
mod in_place;
mod local;
mod metadata;
mod paths;
mod read;
mod rechunk;
mod remote;
mod staging;
mod store;
mod write;

pub use dataset::Dataset;
pub use dynamic::AnyArray;
pub use fill::FillValue;
pub use format::StoredFormat;
pub use group::{Group, GroupOptions, create_group, open_group};
pub use hierarchy::{attribute_text, consolidate_metadata, group_version};
pub use metadata::{BloscCompressor, BloscShuffle, Compression, ZarrVersion};
pub use remote::{RemoteOptions, Retries};
pub use store::{IntoStore, Store};
pub use write::{WriteMode, WriteOptions};

use crate::chunks::{ChunkGrid, Chunks, check_size};
use crate::error::Result;
use paths::node_path;
use read::{storage_grid, stored_dtype};

/// How to open an array: its tile grid.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// Tiles of the lazy array; `None` means the storage chunks (whole shards when sharded).
    pub chunks: Option<Chunks>,
}

/// Opens the array at `path` in `store` as a lazy array (nothing is read but metadata).
///
/// The element type is known only at run time: the result is an [`AnyArray`], which
/// [`AnyArray::into_typed`] turns into an `Array<T>` (an error if the type differs).
pub fn open(store: impl IntoStore, path: &str) -> Result<AnyArray> {
    open_with(store, path, &OpenOptions::default())
}

/// [`open`] with options (the tile grid).
pub fn open_with(store: impl IntoStore, path: &str, options: &OpenOptions) -> Result<AnyArray> {
    let store = store.into_store()?;
    let node_path = node_path(path)?;
    let array = store.open_array(&node_path)?;
    let dtype = stored_dtype(&array, &node_path)?;
    let shape: Vec<usize> = array.shape().iter().map(|&n| n as usize).collect();
    check_size(&shape, dtype.size())?;
    read::check_chunk_size(&array)?;
    let grid = match &options.chunks {
        None => storage_grid(&array)?,
        Some(spec) => ChunkGrid::new(&shape, spec, dtype.size())?,
    };
    AnyArray::from_zarr(array, store, grid, dtype)
}

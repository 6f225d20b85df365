//! Streaming writes: `to_zarr` adds a sink to the graph whose tasks each encode and store one
//! storage chunk (or shard) as soon as its tile exists; the tile is then freed, so memory does
//! not depend on the array's size.

use std::collections::HashSet;
use std::marker::PhantomData;
use std::ops::Range;
use std::sync::Arc;

use chunkwise_kernels::dtype::Element;
use rayon::iter::{IntoParallelIterator, ParallelIterator};
use serde_json::{Map, Value as Json};
use zarrs::array::ArraySubset;
use zarrs::storage::{ListableStorageTraits, StorePrefix, WritableStorageTraits};

use super::append::{Append, Recovery, recover_interrupted, refuse_growing_alone, run_appends};
use super::erasure::{ERASED_FIRST, Place, RESUMED, note_erased, refuse_reading};
use super::fill::FillValue;
use super::format::StoredFormat;
use super::hierarchy::{
    ancestors_and_self, ensure_parents, key, refresh_consolidated, refresh_consolidated_above,
    stored_layout,
};
use super::in_place::refuse_racing_reads;
use super::local::is_stale_temporary;
use super::metadata::{Compression, Layout, ZarrVersion, array_metadata};
use super::paths::{check_key_under, new_node_path, node_path};
use super::read::{check_chunk_size, guarded_for_writes};
use super::staging::{Staging, can_stage, staged_overwrite};
use super::store::Handle;
use super::store::{IntoStore, Store};
use crate::array::Array;
use crate::chunks::{ChunkGrid, box_indices};
use crate::error::{BuildError, Error, Result, StorageError};
use crate::exec::run_sinks;
use crate::exec::{Config, Report};
use crate::graph::Node;
use crate::ops::rechunk::rechunk;
use crate::ops::with_dtype;
use crate::tile::{TileSink, Value};

/// What to do when an array already exists where `to_zarr` writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WriteMode {
    /// Refuse (an error) if an array exists there.
    #[default]
    Create,
    /// Replace it.
    Overwrite,
    /// Continue a killed write of the same array: chunks already stored are skipped (and not
    /// computed); the result is identical to an uninterrupted run. A write in this mode that
    /// fails keeps the chunks it stored (the other modes erase the array they started), so
    /// that running it again continues it.
    Resume,
}

/// How `to_zarr` writes: format, chunking, compression, names and attributes.
///
/// ```
/// use chunkwise::io::zarr::{Compression, WriteOptions, ZarrVersion};
/// let options = WriteOptions::default()
///     .version(ZarrVersion::V2)
///     .chunks([100, 100])
///     .compression(Compression::Zstd { level: 3 })
///     .dimension_names(["lat", "lon"])
///     .units("K")
///     .long_name("air temperature")
///     .fill_value(f64::NAN);
/// # let _ = options;
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WriteOptions {
    /// Zarr format (v3 by default).
    pub version: ZarrVersion,
    /// Storage chunk shape; `None` uses the array's tile shape.
    pub chunks: Option<Vec<usize>>,
    /// Shard shape (v3 only; a multiple of the chunk shape); `None` for no sharding.
    pub shards: Option<Vec<usize>>,
    /// Compression (zstd level 1 by default).
    pub compression: Compression,
    /// Dimension names (`dimension_names` in v3, `_ARRAY_DIMENSIONS` in v2, as xarray reads).
    pub dimension_names: Option<Vec<String>>,
    /// User attributes (CF names such as `units` and `long_name` are read by xarray).
    pub attributes: Map<String, Json>,
    /// The fill value: what missing chunks read as, and what xarray masks as missing
    /// (`_FillValue`). `None` writes zarr-python's default in v3 (`0`, `0.0`, `false`) and
    /// no fill value in v2 (`null`), so that xarray masks nothing.
    pub fill_value: Option<FillValue>,
    /// What to do if the array exists.
    pub mode: WriteMode,
    /// How the computation runs.
    pub config: Config,
}

impl Default for WriteOptions {
    fn default() -> WriteOptions {
        WriteOptions {
            version: ZarrVersion::V3,
            chunks: None,
            shards: None,
            compression: Compression::default(),
            dimension_names: None,
            attributes: Map::new(),
            fill_value: None,
            mode: WriteMode::Create,
            config: Config::default(),
        }
    }
}

impl WriteOptions {
    /// Sets the Zarr format.
    pub fn version(mut self, version: ZarrVersion) -> Self {
        self.version = version;
        self
    }
    /// Sets the storage chunk shape.
    pub fn chunks(mut self, chunks: impl AsRef<[usize]>) -> Self {
        self.chunks = Some(chunks.as_ref().to_vec());
        self
    }
    /// Sets the shard shape (v3).
    pub fn shards(mut self, shards: impl AsRef<[usize]>) -> Self {
        self.shards = Some(shards.as_ref().to_vec());
        self
    }
    /// Sets the compression.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }
    /// Sets the dimension names.
    pub fn dimension_names<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.dimension_names = Some(names.into_iter().map(Into::into).collect());
        self
    }
    /// Adds a user attribute.
    pub fn attribute(mut self, key: &str, value: impl Into<Json>) -> Self {
        self.attributes.insert(key.to_string(), value.into());
        self
    }
    /// Sets the CF attribute `units` (e.g. `"K"`).
    pub fn units(self, units: &str) -> Self {
        self.attribute("units", units)
    }
    /// Sets the CF attribute `long_name`.
    pub fn long_name(self, long_name: &str) -> Self {
        self.attribute("long_name", long_name)
    }
    /// Sets the fill value: a float (`f64::NAN` for floating-point arrays whose missing
    /// values are NaN) or an integer, kept exact (`-9223372036854775806i64`, netCDF's
    /// int64 default). Integer and boolean arrays must hold it exactly (`-9999`, `-9999.0`,
    /// `1.0`); `f32` arrays round it to the nearest `f32`, as NumPy does. xarray masks
    /// elements equal to it, as netCDF's `_FillValue` (in v3 the `_FillValue` attribute is
    /// written for it, as xarray does).
    pub fn fill_value(mut self, value: impl Into<FillValue>) -> Self {
        self.fill_value = Some(value.into());
        self
    }
    /// Stores the array as `format` says (an opened array's [`AnyArray::format`]): its
    /// version, chunks, shards, fill value, and its compression where chunkwise writes it
    /// (else this one's is kept).
    ///
    /// [`AnyArray::format`]: super::AnyArray::format
    pub fn keep_format(mut self, format: &StoredFormat) -> Self {
        self.version = format.version;
        self.chunks = Some(format.chunks.clone());
        self.shards = format.shards.clone();
        self.fill_value = format.fill_value;
        if let Some(compression) = format.compression {
            self.compression = compression;
        }
        self
    }
    /// Sets the write mode.
    pub fn mode(mut self, mode: WriteMode) -> Self {
        self.mode = mode;
        self
    }
    /// Sets how the computation runs.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }
}

/// Encodes and stores the tile of each block of `grid` (whose tiles must cover whole
/// storage chunks, so that no two tasks write one chunk).
pub(crate) struct ZarrSink<T> {
    pub(crate) array: Arc<Handle>,
    pub(crate) store: Store,
    pub(crate) grid: ChunkGrid,
    /// Where the grid's first element lies in the stored array (a region write).
    pub(crate) origin: Vec<usize>,
    /// Units already stored by an earlier run (resume).
    pub(crate) done: HashSet<Vec<usize>>,
    pub(crate) _t: PhantomData<fn(T)>,
}

impl<T> std::fmt::Debug for ZarrSink<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "write({})", self.array.path())
    }
}

impl<T: Element + zarrs::array::Element> TileSink for ZarrSink<T> {
    fn name(&self) -> String {
        format!("to_zarr[{}]", self.array.path())
    }

    fn holds(&self, block: &[usize]) -> bool {
        self.done.contains(block)
    }

    fn write(&self, block: &[usize], tile: &Value) -> Result<()> {
        let _span = tracing::debug_span!("zarr_write", array = %self.array.path(), block = ?block)
            .entered();
        let tile = tile.array::<T>()?;
        let ranges: Vec<std::ops::Range<u64>> = self
            .grid
            .block_ranges(block)
            .iter()
            .zip(&self.origin)
            .map(|(r, &o)| (o + r.start) as u64..(o + r.end) as u64)
            .collect();
        let subset = ArraySubset::new_with_ranges(&ranges);
        let keys = unit_keys(&self.array, &subset)?;
        let options = zarrs::array::CodecOptions::default().with_concurrent_target(1);
        self.array
            .store_array_subset_opt(&subset, tile, &options)
            .map_err(|e| self.store.error(&keys.join(", "), e))
    }
}

/// The keys of the stored units (chunks or shards) that `subset` of `array` touches, each
/// checked to lie under the array's node, whatever its chunk key encoding says.
fn unit_keys(array: &Handle, subset: &ArraySubset) -> Result<Vec<String>> {
    let path = array.path().as_str();
    let units = array.chunks_in_array_subset(subset).map_err(|e| {
        Error::Storage(StorageError::Storage {
            path: path.to_string(),
            message: e.to_string(),
        })
    })?;
    let mut keys = Vec::new();
    for index in units
        .iter()
        .flat_map(|units| units.indices().iter().collect::<Vec<_>>())
    {
        let key = array.chunk_key(&index);
        check_key_under(path, key.as_str())?;
        keys.push(key.as_str().to_string());
    }
    Ok(keys)
}

/// The sink node writing every block of `input` (on `grid`) to `array`, skipping `done`.
pub(crate) fn sink_node(
    input: Arc<Node>,
    array: Arc<Handle>,
    store: Store,
    grid: ChunkGrid,
    origin: Vec<usize>,
    done: HashSet<Vec<usize>>,
) -> Arc<Node> {
    let sink: Arc<dyn TileSink> = with_dtype!(input.dtype, S => Arc::new(ZarrSink::<S> {
        array,
        store,
        grid,
        origin,
        done,
        _t: PhantomData,
    }));
    crate::ops::blockwise::sink(input, sink)
}

/// The store prefix of the node at `node_path` (the root prefix for `/`).
pub(crate) fn node_prefix(store: &Store, node_path: &str) -> Result<StorePrefix> {
    let trimmed = node_path.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(StorePrefix::root());
    }
    StorePrefix::new(format!("{trimmed}/")).map_err(|e| store.error(node_path, e))
}

/// Where the replacement of the node at `node_path` is written: beside it under a staging
/// name, to be exchanged with it once written ([`Staging`]: below the root of a directory
/// store), or else at its own path, after erasing whatever is there.
pub(crate) fn make_room(store: &Store, node_path: &str) -> Result<(String, Option<Staging>)> {
    if let (Some(root), true) = (&store.path, can_stage(store, node_path)) {
        let staged =
            Staging::new(root, node_path, store.synced).map_err(|e| store.error(node_path, e))?;
        return Ok((staged.node_path().to_string(), Some(staged)));
    }
    let prefix = node_prefix(store, node_path)?;
    store
        .storage
        .erase_prefix(&prefix)
        .map_err(|e| store.error(node_path, e))?;
    note_erased(Place::of(store, node_path));
    Ok((node_path.to_string(), None))
}

/// Keys under the node at `node_path`.
fn keys_under(store: &Store, node_path: &str) -> Result<Vec<String>> {
    let prefix = node_prefix(store, node_path)?;
    let keys = store
        .storage
        .list_prefix(&prefix)
        .map_err(|e| store.error(node_path, e))?;
    Ok(keys.iter().map(|k| k.as_str().to_string()).collect())
}

/// Whether any Zarr node (array or group, v2 or v3) has metadata at `node_path`.
pub(crate) fn node_exists(store: &Store, node_path: &str) -> Result<bool> {
    let prefix = node_prefix(store, node_path)?;
    for name in ["zarr.json", ".zarray", ".zgroup"] {
        let key = zarrs::storage::StoreKey::new(format!("{}{name}", prefix.as_str()))
            .map_err(|e| store.error(node_path, e))?;
        if store
            .raw
            .size_key(&key)
            .map_err(|e| store.error(node_path, e))?
            .is_some()
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Stores array metadata without zarrs' own `_zarrs` attribute (the attributes read back are
/// exactly those written).
pub(crate) fn store_metadata(store: &Store, array: &Handle) -> Result<()> {
    let options = zarrs::array::ArrayMetadataOptions::default().with_include_zarrs_metadata(false);
    array
        .store_metadata_opt(&options)
        .map_err(|e| store.error(array.path().as_str(), e))
}

/// The units (chunks or shards) already stored for a resumed write, after checking that the
/// stored array is the one being written (shape and unit grid), and erasing the temporary
/// keys of interrupted writes (their units are redone).
fn stored_units(
    store: &Store,
    old: &Handle,
    node_path: &str,
    shape: &[usize],
    grid: &ChunkGrid,
) -> Result<HashSet<Vec<usize>>> {
    let old_shape: Vec<usize> = old.shape().iter().map(|&n| n as usize).collect();
    if old_shape != shape {
        return Err(Error::Build(BuildError::ShapeMismatch {
            op: "to_zarr (resume)".into(),
            expected: old_shape,
            found: shape.to_vec(),
        }));
    }
    if super::read::storage_grid(old)? != *grid {
        return Err(Error::Build(BuildError::InvalidArgument {
            op: "to_zarr (resume)".into(),
            reason: format!(
                "the stored array at {node_path} has chunks {:?}, the write asks for {:?}",
                super::read::storage_grid(old)?.axis_texts(),
                grid.axis_texts()
            ),
        }));
    }
    let keys = keys_under(store, node_path)?;
    let name = |key: &str| key.rsplit('/').next().unwrap_or_default().to_string();
    // Temporaries of killed writers (those of live ones are theirs to rename).
    for key in keys.iter().filter(|k| is_stale_temporary(&name(k))) {
        let key = zarrs::storage::StoreKey::new(key.clone()).map_err(|e| store.error(key, e))?;
        store
            .storage
            .erase(&key)
            .map_err(|e| store.error(key.as_str(), e))?;
    }
    let stored: HashSet<&str> = keys.iter().map(String::as_str).collect();
    let present: Vec<Vec<usize>> = grid
        .blocks()
        .filter(|index| {
            let key = old.chunk_key(&index.iter().map(|&i| i as u64).collect::<Vec<_>>());
            stored.contains(key.as_str())
        })
        .collect();
    let checked = guarded_for_writes(old, store)?;
    let (whole, torn): (Vec<_>, Vec<_>) = present
        .into_par_iter()
        .partition(|index| decodes_whole(&checked, grid, index));
    // A torn unit is erased before it is written again: a task that writes part of it (an
    // edge chunk, past the array's end) would read it back first, and fail on it.
    for index in torn {
        let key = old.chunk_key(&index.iter().map(|&i| i as u64).collect::<Vec<_>>());
        store
            .storage
            .erase(&key)
            .map_err(|e| store.error(key.as_str(), e))?;
    }
    Ok(whole.into_iter().collect())
}

/// Whether the stored unit `index` of `grid` decodes to all its elements: a chunk torn by
/// a writer outside chunkwise, or cut short by a power loss, is written again by a resume.
fn decodes_whole(array: &Handle, grid: &ChunkGrid, index: &[usize]) -> bool {
    let ranges: Vec<std::ops::Range<u64>> = grid
        .block_ranges(index)
        .iter()
        .map(|r| r.start as u64..r.end as u64)
        .collect();
    let options = zarrs::array::CodecOptions::default().with_concurrent_target(1);
    array
        .retrieve_array_subset_opt::<zarrs::array::ArrayBytes<'static>>(
            &ArraySubset::new_with_ranges(&ranges),
            &options,
        )
        .is_ok()
}

/// A new array made ready to be written: its metadata stored (or, for an overwrite, staged
/// beside the old array), and the sink node whose tasks write its chunks.
pub(crate) struct PreparedWrite {
    /// The sink node: run it (with others) to write the array.
    pub(crate) sink: Arc<Node>,
    staging: Option<Staging>,
    store: Store,
    pub(crate) node_path: String,
    /// The array the chunks go to, where a failed run erases it: a new array, or one whose
    /// old version was erased first (not a resumed write, which keeps what it wrote to be
    /// resumed again, nor a staged overwrite, whose staging goes with it).
    discarded_on_failure: Option<Handle>,
    /// The stored array this write replaces (an overwrite of one), on every process.
    pub(crate) replaces: Option<Place>,
}

/// The error of a write whose run `failed`, once the arrays in `prepared` that it had
/// started were erased (by the root rank) and the consolidated metadata above them
/// refreshed: a failed write leaves no partial array for a reader to take for a whole one,
/// nor a listing of one it erased. If that fails too, the error says what is left.
pub(crate) fn discard_failed(prepared: &[PreparedWrite], config: &Config, failed: Error) -> Error {
    let discarded: Vec<&PreparedWrite> = prepared
        .iter()
        .filter(|w| w.discarded_on_failure.is_some())
        .collect();
    let outcome = config.on_root(|| {
        // Every array is erased before any listing is refreshed (a refresh lists what is
        // stored then), and a failure leaves none of the others undone.
        let mut errors: Vec<String> = discarded
            .iter()
            .filter_map(|w| w.discard().err().map(|e| e.to_string()))
            .collect();
        if let Some(first) = discarded.first() {
            let paths = discarded.iter().map(|w| w.node_path.as_str());
            if let Err(e) = refresh_consolidated_above(&first.store, paths) {
                errors.push(e.to_string());
            }
        }
        match errors.is_empty() {
            true => Ok(String::new()),
            false => Err(Error::Storage(StorageError::Storage {
                path: described(discarded.iter().copied()),
                message: errors.join("; "),
            })),
        }
    });
    match outcome {
        Ok(_) => failed,
        Err(e) => Error::Storage(StorageError::Storage {
            path: described(prepared.iter()),
            message: format!(
                "{failed}; erasing the part written, or listing what is left, failed too \
                 ({e}): erase the array and consolidate again, or write it again with \
                 WriteMode::Resume"
            ),
        }),
    }
}

/// `failed`, once the consolidated metadata above `node_path` is refreshed (by the root
/// rank): a write that erased the old array there before failing must not leave readers
/// of the listing an array that is gone.
fn unlisted_after(config: &Config, store: &Store, node_path: &str, failed: Error) -> Error {
    let refreshed = config.on_root(|| {
        refresh_consolidated(store, node_path)?;
        Ok(String::new())
    });
    match refreshed {
        Ok(_) => failed,
        Err(e) => store.error(
            node_path,
            format!(
                "{failed}; the old array is erased, but the consolidated metadata above it \
                 could not be refreshed ({e}): consolidate again"
            ),
        ),
    }
}

/// Where `writes` go, for errors: each store and node path.
fn described<'a>(writes: impl Iterator<Item = &'a PreparedWrite>) -> String {
    writes
        .map(|w| format!("{}{}", w.store.describe(), w.node_path))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Erases the metadata documents of the node at `node_path` (either Zarr version).
fn erase_metadata_at(store: &Store, node_path: &str) -> Result<()> {
    for name in ["zarr.json", ".zarray", ".zattrs"] {
        store
            .storage
            .erase(&key(store, node_path, name)?)
            .map_err(|e| store.error(node_path, e))?;
    }
    Ok(())
}

/// The indices of the chunk whose key is `key`, if it is a chunk key of `array`: the
/// numbers in the key below the array's node, taken as indices, give the key back.
fn chunk_indices_of(array: &Handle, prefix: &str, key: &str) -> Option<Vec<u64>> {
    let below = key.strip_prefix(prefix)?;
    let numbers: Vec<u64> = below
        .split(|c: char| !c.is_ascii_digit())
        .filter(|n| !n.is_empty())
        .map(str::parse)
        .collect::<std::result::Result<_, _>>()
        .ok()?;
    let indices = match array.chunk_grid_shape().len() {
        0 => Vec::new(),
        n if n == numbers.len() => numbers,
        _ => return None,
    };
    let within = indices
        .iter()
        .zip(array.chunk_grid_shape())
        .all(|(i, n)| i < n);
    (within && array.chunk_key(&indices).as_str() == key).then_some(indices)
}

impl PreparedWrite {
    /// Erases what the write stored of its array, if a failed run erases it: the chunks,
    /// then the metadata. Only the array's own keys go (those listed under its node that
    /// are chunk keys of its grid; where the store does not list, every chunk key of the
    /// grid), so nothing else under its path is touched.
    fn discard(&self) -> Result<()> {
        let Some(array) = &self.discarded_on_failure else {
            return Ok(());
        };
        let failed = |e| self.store.error(&self.node_path, e);
        if self.store.lists() {
            let prefix = node_prefix(&self.store, array.path().as_str())?;
            for key in keys_under(&self.store, array.path().as_str())? {
                if let Some(indices) = chunk_indices_of(array, prefix.as_str(), &key) {
                    array.erase_chunk(&indices).map_err(failed)?;
                }
            }
        } else {
            let grid: Vec<Range<usize>> = array
                .chunk_grid_shape()
                .iter()
                .map(|&n| 0..n as usize)
                .collect();
            for indices in box_indices(&grid) {
                let indices: Vec<u64> = indices.iter().map(|&i| i as u64).collect();
                array.erase_chunk(&indices).map_err(failed)?;
            }
        }
        array.erase_metadata().map_err(failed)
    }

    /// Publishes the array once its sink has run: an overwrite's staged array replaces the
    /// old one.
    pub(crate) fn publish(self) -> Result<()> {
        if let Some(staging) = self.staging {
            staging
                .publish()
                .map_err(|e| self.store.error(&self.node_path, e))?;
        }
        Ok(())
    }
}

/// A write checked but not started: nothing is stored yet. Checking every array of a
/// group write first means a refused array leaves nothing behind.
pub(crate) struct WritePlan {
    input: Arc<Node>,
    store: Store,
    node_path: String,
    version: ZarrVersion,
    mode: WriteMode,
    metadata: zarrs::array::ArrayMetadata,
    grid: ChunkGrid,
    exists: bool,
}

/// Checks the write of `input` as a new Zarr array at `path` of `store` (the rules of
/// [`Array::to_zarr`]): the options, the metadata, and the write mode against what is
/// stored. Nothing is written or computed.
pub(crate) fn plan_write(
    input: &Arc<Node>,
    store: &Store,
    path: &str,
    options: &WriteOptions,
) -> Result<WritePlan> {
    if let Some(e) = input.first_error() {
        return Err(e);
    }
    store.check_writable()?;
    let node_path = node_path(path)?;
    let shape = input.shape();
    let chunks = match &options.chunks {
        Some(c) => c.clone(),
        None => (0..shape.len())
            .map(|axis| input.grid.chunk_len(axis, 0).max(1))
            .collect(),
    };
    let layout = Layout {
        version: options.version,
        shape: &shape,
        dtype: input.dtype,
        chunks: &chunks,
        shards: options.shards.as_deref(),
        compression: options.compression,
        dimension_names: options.dimension_names.as_deref(),
        attributes: &options.attributes,
        fill_value: options.fill_value,
    };
    let metadata = array_metadata(&layout)?;
    // Chunks too large to decode are refused now, from the metadata alone, so that the
    // refusal leaves nothing behind (no metadata stored, no old array erased).
    let scratch: Arc<dyn zarrs::storage::ReadableWritableListableStorageTraits> =
        Arc::new(zarrs::storage::store::MemoryStore::new());
    let unwritten: Handle =
        zarrs::array::Array::new_with_metadata(scratch, &node_path, metadata.clone())
            .map_err(|e| store.error(&node_path, e))?;
    check_chunk_size(&unwritten)?;
    let exists = node_exists(store, &node_path)?;
    if options.mode == WriteMode::Resume && exists {
        check_resumable(store, &node_path, &unwritten)?;
    }
    // One write unit per task: the shard shape if sharded, else the chunk shape.
    let unit = options.shards.clone().unwrap_or(chunks);
    let grid = ChunkGrid::regular(&shape, &unit)?;
    if options.mode == WriteMode::Create && exists {
        return Err(Error::Storage(StorageError::AlreadyExists {
            path: format!("{}{}", store.describe(), node_path),
        }));
    }
    let plan = WritePlan {
        input: input.clone(),
        store: store.clone(),
        node_path,
        version: options.version,
        mode: options.mode,
        metadata,
        grid,
        exists,
    };
    refuse_reading_targets(std::slice::from_ref(&plan))?;
    Ok(plan)
}

/// Refuses to resume the write of `asked` into the array stored at `node_path` when the
/// stored one is another format (version, codec, shards, fill value): the chunks still to
/// write would be stored as the old metadata says, not as asked. Element type, shape and
/// chunks are checked when the write starts.
fn check_resumable(store: &Store, node_path: &str, asked: &Handle) -> Result<()> {
    // The array there is then the old one, whole (or one of the old group's, for an
    // overwrite of a group above it): resuming would keep its chunks.
    let staged = store.path.as_deref().and_then(|root| {
        ancestors_and_self(node_path)
            .into_iter()
            .find_map(|node| Some((staged_overwrite(root, &node)?, node)))
    });
    if let Some((staged, overwritten)) = staged {
        return Err(Error::Build(BuildError::InvalidArgument {
            op: "to_zarr (resume)".into(),
            reason: format!(
                "an overwrite of {overwritten} is running or was interrupted (its staging \
                 directory {staged} is beside it), so the array at {node_path} is the old \
                 one: run that overwrite again instead (it erases the staging directories \
                 that dead processes of this machine left), or erase {staged} if no \
                 overwrite of it runs anywhere; Resume continues a Create"
            ),
        }));
    }
    let stored = store.open_array(node_path)?;
    let (stored, asked) = (StoredFormat::of(&stored)?, StoredFormat::of(asked)?);
    let same_fill = match (stored.fill_value, asked.fill_value) {
        (Some(a), Some(b)) => a.same_as(b),
        (a, b) => a.is_none() && b.is_none(),
    };
    let differences: Vec<String> = [
        (stored.version != asked.version, "version"),
        (stored.compression != asked.compression, "compression"),
        (
            stored.shards.is_some() != asked.shards.is_some(),
            "sharding",
        ),
        (!same_fill, "fill value"),
    ]
    .into_iter()
    .filter(|(differs, _)| *differs)
    .map(|(_, what)| what.to_string())
    .collect();
    match differences.is_empty() {
        true => Ok(()),
        false => Err(Error::Build(BuildError::InvalidArgument {
            op: "to_zarr (resume)".into(),
            reason: format!(
                "the stored array at {node_path} differs from the write in its {}: \
                 stored {stored:?}, asked {asked:?}",
                differences.join(", ")
            ),
        })),
    }
}

/// Refuses writes whose inputs read an array that one of them must not have read: one it
/// erases before it writes (an overwrite that cannot be staged), where they would read fill
/// values instead of the old data; or one it resumes writing into, where they would read
/// chunks it is writing.
pub(crate) fn refuse_reading_targets(plans: &[WritePlan]) -> Result<()> {
    for plan in plans {
        let (place, op, why) = match plan.erased_first() {
            Some(place) => (place, "to_zarr (overwrite)", ERASED_FIRST),
            None if plan.mode == WriteMode::Resume && plan.exists => (
                Place::of(&plan.store, &plan.node_path),
                "to_zarr (resume)",
                RESUMED,
            ),
            None => continue,
        };
        for other in plans {
            refuse_reading(&other.input, &place, op, why)?;
        }
    }
    Ok(())
}

impl WritePlan {
    /// Where this write erases the stored array before writing the new one, if it does: an
    /// overwrite that cannot be staged beside it.
    fn erased_first(&self) -> Option<Place> {
        let erases = self.mode == WriteMode::Overwrite && self.exists;
        (erases && !can_stage(&self.store, &self.node_path))
            .then(|| Place::of(&self.store, &self.node_path))
    }

    /// Starts the write: creates the groups above the array where they are missing, stores
    /// the metadata (or finds what a resumed write already stored) and builds the sink node.
    /// In a distributed run (`config` on a cluster), every rank checks the write and rank 0
    /// alone stores the metadata before the others open the array.
    pub(crate) fn prepare(self, config: &Config) -> Result<PreparedWrite> {
        let plan = config.agree(Ok(self))?;
        let mut staging = None;
        let stored = config.on_root(|| {
            let (target, staged) = plan.store_metadata()?;
            staging = staged;
            Ok(target)
        });
        // Every process notes an old array erased before writing (rank 0 erased it, also
        // where storing the new metadata then failed).
        let erased_first = plan.erased_first();
        erased_first.clone().into_iter().for_each(note_erased);
        let (store, node_path) = (plan.store.clone(), plan.node_path.clone());
        let unlisted = |failed| match erased_first.is_some() {
            true => unlisted_after(config, &store, &node_path, failed),
            false => failed,
        };
        let target = stored.map_err(unlisted)?;
        // Metadata stored for a new array (not a staged one, at another path: its staging
        // goes with it) is erased if the write cannot start after all. Known on every
        // process of a distributed run (only the root holds the staging).
        let stored_new =
            target == plan.node_path && !(plan.exists && plan.mode == WriteMode::Resume);
        config
            .agree(plan.attach(&target, staging))
            .map_err(|failed| {
                if !stored_new {
                    return failed;
                }
                let erased = config.on_root(|| {
                    erase_metadata_at(&store, &target)?;
                    Ok(String::new())
                });
                let failed = match erased {
                    Ok(_) => failed,
                    Err(e) => store.error(
                        &target,
                        format!("{failed}; erasing the array's metadata failed too ({e})"),
                    ),
                };
                unlisted(failed)
            })
    }

    /// Stores what comes before the chunks: the groups above the array, and its metadata
    /// (beside the old array, for an overwrite of a local one). The node path the chunks
    /// go to, and the staging of an overwrite.
    fn store_metadata(&self) -> Result<(String, Option<Staging>)> {
        let WritePlan {
            store,
            node_path,
            version,
            mode,
            metadata,
            exists,
            ..
        } = self;
        ensure_parents(store, node_path, *version)?;
        match (*exists, mode) {
            (true, WriteMode::Create) => Err(Error::Storage(StorageError::AlreadyExists {
                path: format!("{}{}", store.describe(), node_path),
            })),
            (true, WriteMode::Resume) => Ok((node_path.clone(), None)),
            (exists, _) => {
                let (target, staging) = match exists {
                    true => make_room(store, node_path)?,
                    false => (node_path.clone(), None),
                };
                let array = zarrs::array::Array::new_with_metadata(
                    store.storage.clone(),
                    &target,
                    metadata.clone(),
                )
                .map_err(|e| store.error(&target, e))?;
                store_metadata(store, &array)?;
                Ok((target, staging))
            }
        }
    }

    /// The write of the chunks into the array whose metadata is stored at `target`.
    fn attach(self, target: &str, staging: Option<Staging>) -> Result<PreparedWrite> {
        let WritePlan {
            input,
            store,
            node_path,
            mode,
            grid,
            exists,
            ..
        } = self;
        let shape = input.shape();
        let array = store.open_array(target)?;
        let mut done = HashSet::new();
        if exists && mode == WriteMode::Resume {
            let stored = super::read::stored_dtype(&array, &node_path)?;
            if stored != input.dtype {
                return Err(Error::Build(BuildError::DTypeMismatch {
                    expected: stored,
                    found: input.dtype,
                }));
            }
            done = stored_units(&store, &array, &node_path, &shape, &grid)?;
        }
        let input = rechunk(&input, grid.clone());
        let origin = vec![0; shape.len()];
        // Chunks a task updates in part are read back through the decode guard.
        let guarded = Arc::new(guarded_for_writes(&array, &store)?);
        let sink = sink_node(input, guarded, store.clone(), grid, origin, done);
        let discarded_on_failure =
            (mode != WriteMode::Resume && staging.is_none()).then_some(array);
        let replaces =
            (exists && mode == WriteMode::Overwrite).then(|| Place::of(&store, &node_path));
        Ok(PreparedWrite {
            sink,
            staging,
            store,
            node_path,
            discarded_on_failure,
            replaces,
        })
    }
}

/// Streaming writes to Zarr.
impl<T: Element> Array<T> {
    /// Computes the array and writes it to a new Zarr array at `path` in `store`, tile by
    /// tile: each storage chunk (or shard) is written by exactly one task as soon as its data
    /// exists, then freed. Tiles are rechunked to the storage chunks first where they differ.
    /// Every chunk is written to a temporary key and renamed, so a killed run leaves each
    /// chunk old or new; [`WriteMode::Resume`] continues such a run. A run that fails (an
    /// error, or a panic in a task) erases what it stored of the new array, so that no
    /// reader takes a part for the whole; in `Resume` mode it keeps it, to be resumed.
    ///
    /// Groups above `path` that do not exist yet are created (without attributes, in the
    /// array's Zarr version), so the store is a valid hierarchy that zarr-python and xarray
    /// open. To write several arrays in one pass, use [`Group::store`](super::Group::store).
    pub fn to_zarr(
        &self,
        store: impl IntoStore,
        path: &str,
        options: &WriteOptions,
    ) -> Result<Report> {
        write_new(&self.node, store.into_store()?, path, options)
    }
}

/// [`Array::to_zarr`] of the array `input` (of any element type).
pub(crate) fn write_new(
    input: &Arc<Node>,
    store: Store,
    path: &str,
    options: &WriteOptions,
) -> Result<Report> {
    let config = &options.config;
    // A name the user gives: not a reserved one (chunkwise's own writes use some).
    new_node_path(path)?;
    // Checked on every process of a distributed run, which all go on or fail together.
    let prepared = config
        .agree(plan_write(input, &store, path, options))
        .and_then(|p| p.prepare(config))?;
    let report = run_sinks(std::slice::from_ref(&prepared.sink), config)
        .map_err(|failed| discard_failed(std::slice::from_ref(&prepared), config, failed))?;
    let node_path = prepared.node_path.clone();
    let replaced = prepared.replaces.clone();
    let published = config.on_root(|| {
        prepared.publish()?;
        refresh_consolidated(&store, &node_path)?;
        Ok(String::new())
    });
    // Every process notes the array replaced (rank 0 replaced it), also where a step after
    // the exchange failed: a handle opened before then refuses to read, never reads the
    // new chunks through the old metadata.
    replaced.into_iter().for_each(note_erased);
    published?;
    Ok(report)
}

/// Writes into existing arrays: a region, or appended along an axis.
impl<T: Element> Array<T> {
    /// Computes the array and writes it into `region` of the existing Zarr array at `path`
    /// (its shape must equal the region's). Tiles are cut at the storage chunk (or shard)
    /// boundaries, so each task updates one stored unit and no two tasks write the same one.
    ///
    /// The array may read the one it is written into where no task can read what another
    /// rewrites: tiles outside the stored units the region touches, the region element
    /// for element or moved inside the unit that holds it (`x[0:5] = x[5:10]` in a chunk
    /// of 10), the region below a reduction along whole axes that keeps the others in line
    /// (the anomaly `x - x.mean(axis=0)`), or below a result of one tile (`x / x.max()`,
    /// also inside such a reduction). Any other read of the region (a stencil, a shift
    /// across units, a transpose) is refused before anything is written. An update in place is not idempotent: a killed one, run again, updates the
    /// chunks it had written twice.
    ///
    /// ```
    /// use chunkwise::Config;
    /// use chunkwise::io::zarr::{self, WriteOptions};
    /// let dir = std::env::temp_dir().join(format!("chunkwise-doc-region-{}", std::process::id()));
    /// let x = chunkwise::arange::<f64>(0.0, 8.0, 1.0, [4])?;
    /// x.to_zarr(&dir, "x", &WriteOptions::default())?;
    /// let stored = zarr::open(&dir, "x")?.into_typed::<f64>()?;
    /// // Elements 2..6 doubled in place.
    /// let part = stored.slice(ndarray::s![2..6])?;
    /// (&part * 2.0).to_zarr_region(&dir, "x", &[2..6], &Config::default())?;
    /// // A shift across chunks is refused: a task could read a chunk another rewrote.
    /// let shifted = stored.slice(ndarray::s![3..7])?;
    /// assert!(shifted.to_zarr_region(&dir, "x", &[2..6], &Config::default()).is_err());
    /// let got = zarr::open(&dir, "x")?.into_typed::<f64>()?.compute()?;
    /// assert_eq!(got.as_slice().unwrap(), &[0.0, 1.0, 4.0, 6.0, 8.0, 10.0, 6.0, 7.0]);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn to_zarr_region(
        &self,
        store: impl IntoStore,
        path: &str,
        region: &[std::ops::Range<usize>],
        config: &Config,
    ) -> Result<Report> {
        self.check()?;
        let store = store.into_store()?;
        store.check_writable()?;
        let node_path = node_path(path)?;
        let checked = store.open_array(&node_path).and_then(|array| {
            region_sink(&self.node, "to_zarr_region", store, Arc::new(array), region)
        });
        // Every rank refuses, or none: the write is collective.
        let sink = config.agree(checked)?;
        run_sinks(&[sink], config)
    }

    /// Computes the array and appends it to the existing Zarr array at `path` along `axis`
    /// (the other axes must match, and so must the element type). The new part is written
    /// first, into chunks past the stored shape that readers do not see; the stored shape
    /// grows only once all of them are written. So a refused or failed append leaves the
    /// array as it was (one that fails once the shape has grown, as when the consolidated
    /// metadata above it cannot be refreshed, is undone), and a killed one leaves the old
    /// array, whole, or grown under a journal in the array that the next append of it
    /// undoes first (see the README's write safety). To grow the arrays of
    /// a group's dimension together (data and coordinate, as xarray needs them), use
    /// [`Group::append`](super::Group::append).
    pub fn append_zarr(
        &self,
        store: impl IntoStore,
        path: &str,
        axis: usize,
        config: &Config,
    ) -> Result<Report> {
        self.check()?;
        let store = store.into_store()?;
        store.check_writable()?;
        let node_path = node_path(path)?;
        // An append of this array that stopped while its shape grew is undone first: it
        // failed, and this may be the same append run again. (Only of an array: a group's
        // journal is for Group::append, or complete_interrupted_append, to settle.)
        config.on_root(|| {
            let is_array = stored_layout(&store, &node_path)?.is_some();
            if is_array && recover_interrupted(&store, &node_path, Recovery::Undo)? {
                tracing::warn!(
                    "undid an interrupted append of {node_path} of {}",
                    store.describe()
                );
            }
            Ok(String::new())
        })?;
        let prepared = refuse_growing_alone(&store, &node_path, "append_zarr")
            .and_then(|()| Append::prepare(&store, &node_path, &self.node, axis, "append_zarr"));
        let append = config.agree(prepared)?;
        // Under a journal in the array itself: appends of other arrays keep theirs.
        run_appends(&store, &[append], &node_path, config)
    }
}

/// The sink that writes `input` into `region` of `array` for `op`, checked before anything
/// is written: against the array's element type and shape, and for reads that would race
/// the write.
pub(crate) fn region_sink(
    input: &Arc<Node>,
    op: &str,
    store: Store,
    array: Arc<Handle>,
    region: &[std::ops::Range<usize>],
) -> Result<Arc<Node>> {
    let path = array.path().to_string();
    let dtype = super::read::stored_dtype(&array, &path)?;
    if dtype != input.dtype {
        return Err(Error::Build(BuildError::DTypeMismatch {
            expected: dtype,
            found: input.dtype,
        }));
    }
    let stored: Vec<usize> = array.shape().iter().map(|&n| n as usize).collect();
    let inside = region.len() == stored.len()
        && region
            .iter()
            .zip(&stored)
            .all(|(r, &n)| r.start <= r.end && r.end <= n);
    if !inside {
        return Err(Error::Build(BuildError::InvalidArgument {
            op: op.into(),
            reason: format!(
                "the region {region:?} is not inside the array {path} of shape {stored:?} \
                 (one range per axis, start <= end <= length)"
            ),
        }));
    }
    let region_shape: Vec<usize> = region.iter().map(|r| r.len()).collect();
    if region_shape != input.shape() {
        return Err(Error::Build(BuildError::ShapeMismatch {
            op: format!("{op} into {region:?} of {path}"),
            expected: region_shape,
            found: input.shape(),
        }));
    }
    let units = super::read::storage_grid(&array)?;
    refuse_racing_reads(input, &Place::of(&store, &path), region, &units, op)?;
    // Tiles cut at the storage chunk (or shard) boundaries, so each lies in one storage
    // unit and no two tasks write the same unit.
    let local = units.restrict(region);
    let input = rechunk(input, local.clone());
    let origin: Vec<usize> = region.iter().map(|r| r.start).collect();
    let array = Arc::new(guarded_for_writes(&array, &store)?);
    Ok(sink_node(
        input,
        array,
        store,
        local,
        origin,
        HashSet::new(),
    ))
}

//! Lazy reads: a Zarr array as a source of tiles, read when a task needs them.

use std::num::NonZeroU64;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use chunkwise_kernels::dtype::{DType, Element};
use ndarray::ArrayD;
use serde_json::Value as Json;
use zarrs::array::{Array as ZArray, ArraySubset};
use zarrs::storage::{ReadableStorageTraits, ReadableWritableListableStorageTraits};

use super::cf::CfFill;
use super::direct::{
    Compressor, ZstdFrame, any_bytes_are_valid, decompress_into, direct_compressor,
};
use super::erasure::{Place, erased_since, erasures};
use super::guard::GuardedReads;
use super::store::{FetchLease, Store};
// Re-exported for write.rs and rechunk.rs, which still import it from here.
use super::store::Handle;
use crate::chunks::{ChunkGrid, box_shape, clipped_lengths, overlap_local, sub_view};
use crate::error::{Error, Result, StorageError};
use crate::tile::{Prefetched, TilePiece, TileSource, Value, tile_value};

/// The array subset of a tile's `ranges`.
fn subset_of(ranges: &[Range<usize>]) -> ArraySubset {
    let ranges: Vec<Range<u64>> = ranges
        .iter()
        .map(|r| r.start as u64..r.end as u64)
        .collect();
    ArraySubset::new_with_ranges(&ranges)
}

/// The element type of a stored array, from its metadata.
pub(crate) fn stored_dtype(array: &Handle, path: &str) -> Result<DType> {
    let meta = serde_json::to_value(array.metadata()).unwrap_or(Json::Null);
    let name = data_type_name(&meta);
    dtype_named(&name).ok_or_else(|| {
        Error::Storage(StorageError::UnsupportedDataType {
            path: path.to_string(),
            dtype: name,
        })
    })
}

/// The data type an array's metadata document names (v3 `data_type`, v2 `dtype`): a name,
/// or (v3 extension types, v2 structured dtypes) a document, as its JSON text.
pub(crate) fn data_type_name(meta: &Json) -> String {
    match meta.get("data_type").or_else(|| meta.get("dtype")) {
        Some(Json::String(name)) => name.clone(),
        Some(other) => other.to_string(),
        None => "(none)".to_string(),
    }
}

/// The element type a stored data type name stands for (v3 `float64`, v2 `<f8`); `None`
/// for those chunkwise does not read.
pub(crate) fn dtype_named(name: &str) -> Option<DType> {
    let code = name.trim_start_matches(['<', '>', '|', '=']);
    Some(match code {
        "bool" | "b1" => DType::Bool,
        "int8" | "i1" => DType::I8,
        "int16" | "i2" => DType::I16,
        "int32" | "i4" => DType::I32,
        "int64" | "i8" => DType::I64,
        "uint8" | "u1" => DType::U8,
        "uint16" | "u2" => DType::U16,
        "uint32" | "u4" => DType::U32,
        "uint64" | "u8" => DType::U64,
        "float32" | "f4" => DType::F32,
        "float64" | "f8" => DType::F64,
        _ => return None,
    })
}

/// Dimension names: v3 `dimension_names`, or xarray's `_ARRAY_DIMENSIONS` attribute in v2.
pub(crate) fn dimension_names(array: &Handle) -> Option<Vec<Option<String>>> {
    let meta = serde_json::to_value(array.metadata()).ok()?;
    let names = meta
        .get("dimension_names")
        .filter(|v| !v.is_null())
        .or_else(|| array.attributes().get("_ARRAY_DIMENSIONS"))?;
    Some(
        names
            .as_array()?
            .iter()
            .map(|n| n.as_str().map(str::to_string))
            .collect(),
    )
}

/// The fill value xarray masks as missing: the `fill_value` of a Zarr v2 array (unless
/// null: then its `_FillValue` attribute, as for v3), the `_FillValue` attribute of a v3
/// one.
pub(crate) fn masked_fill(array: &Handle) -> Option<CfFill> {
    let attribute = || {
        array
            .attributes()
            .get("_FillValue")
            .cloned()
            .map(CfFill::Attribute)
    };
    match array.metadata() {
        zarrs::array::ArrayMetadata::V2(_) => serde_json::to_value(array.metadata())
            .ok()?
            .get("fill_value")
            .filter(|v| !v.is_null())
            .cloned()
            .map(CfFill::Metadata)
            .or_else(attribute),
        _ => attribute(),
    }
}

/// The most chunks along all axes together that an irregular stored grid may list.
const MAX_LISTED_CHUNKS: u64 = 1 << 24;

/// The stored grid (shards, for sharded arrays), clipped to the array's extent. A regular
/// grid (every Zarr v2 array, and v3's `regular` and `zarrs.regular_bounded`) is read from
/// the metadata in O(rank), however many chunks it has; only irregular grids are listed.
pub(crate) fn storage_grid(array: &Handle) -> Result<ChunkGrid> {
    let shape: Vec<usize> = array.shape().iter().map(|&n| n as usize).collect();
    if let Some(chunk_shape) = regular_chunk_shape(array) {
        return ChunkGrid::regular(&shape, &chunk_shape);
    }
    let listed: u64 = array.chunk_grid_shape().iter().sum();
    if listed > MAX_LISTED_CHUNKS {
        return Err(Error::Storage(StorageError::Storage {
            path: array.path().to_string(),
            message: format!(
                "an irregular chunk grid of {listed} chunks along its axes (at most \
                 {MAX_LISTED_CHUNKS} are supported)"
            ),
        }));
    }
    ChunkGrid::from_sizes(&shape, listed_chunks(array)?)
}

/// The chunk (or shard) shape of a regular grid as its metadata declares it (it may reach
/// past the array's end); `None` for other grids.
pub(crate) fn regular_chunk_shape(array: &Handle) -> Option<Vec<usize>> {
    let meta = serde_json::to_value(array.metadata()).unwrap_or(Json::Null);
    let regular = match meta.get("chunk_grid") {
        Some(grid) => matches!(
            grid.get("name").and_then(Json::as_str),
            Some("regular" | "zarrs.regular_bounded")
        )
        .then(|| grid.pointer("/configuration/chunk_shape"))
        .flatten(),
        None => meta.get("chunks"),
    };
    regular?
        .as_array()?
        .iter()
        .map(|n| n.as_u64().map(|n| n as usize))
        .collect()
}

/// The declared length of every chunk along each axis, asked of zarrs one by one (the last
/// chunks may run past the array's end).
fn declared_lengths(array: &Handle) -> std::result::Result<Vec<Vec<u64>>, String> {
    let ndim = array.dimensionality();
    let grid = array.chunk_grid_shape().to_vec();
    (0..ndim)
        .map(|axis| {
            (0..grid[axis])
                .map(|i| {
                    let mut index = vec![0u64; ndim];
                    index[axis] = i;
                    let chunk = array.chunk_shape(&index).map_err(|e| e.to_string())?;
                    Ok(chunk[axis].get())
                })
                .collect()
        })
        .collect()
}

/// The lengths of every chunk along each axis, cut at the array's end.
fn listed_chunks(array: &Handle) -> Result<Vec<Vec<usize>>> {
    let declared = declared_lengths(array).map_err(|e| storage_error(array, e))?;
    Ok(array
        .shape()
        .iter()
        .zip(&declared)
        .map(|(&extent, lengths)| clipped_lengths(extent, lengths))
        .collect())
}

/// The largest stored chunk (shard) of `array`, and whether every chunk has its shape: the
/// first chunk of a regular grid, the longest along each axis otherwise.
type Largest = (Vec<NonZeroU64>, bool);

/// See [`Largest`].
fn largest_chunk(array: &Handle) -> std::result::Result<Largest, String> {
    let ndim = array.dimensionality();
    let name = serde_json::to_value(array.metadata())
        .ok()
        .and_then(|m| m.pointer("/chunk_grid/name").cloned());
    let regular = name.as_ref().is_none_or(|name| name == "regular");
    if name.is_some_and(|name| name == "zarrs.regular_bounded") {
        // Every chunk is the first one or a part of it.
        let first = array
            .chunk_shape(&vec![0; ndim])
            .map_err(|e| e.to_string())?;
        return Ok((first.to_vec(), false));
    }
    let listed: u64 = array.chunk_grid_shape().iter().sum();
    if !regular && listed > MAX_LISTED_CHUNKS {
        return Err(format!(
            "an irregular chunk grid of {listed} chunks along its axes (at most \
             {MAX_LISTED_CHUNKS} are listed)"
        ));
    }
    let mut largest = array
        .chunk_shape(&vec![0; ndim])
        .map_err(|e| e.to_string())?
        .to_vec();
    if !regular {
        // The longest chunk along each axis (the first chunk is one of those listed).
        for (largest, lengths) in largest.iter_mut().zip(declared_lengths(array)?) {
            if let Some(longest) = lengths.into_iter().max().and_then(NonZeroU64::new) {
                *largest = longest.max(*largest);
            }
        }
    }
    Ok((largest, regular))
}

/// Refuses an array whose stored chunks (or shards) could not be decoded in this machine's
/// memory: zarrs decodes a whole chunk to read or update any part of it, and its shape
/// comes from metadata, which is not trusted.
pub(crate) fn check_chunk_size(array: &Handle) -> Result<()> {
    let (chunk, _) = largest_chunk(array).map_err(|e| storage_error(array, e))?;
    let itemsize = array.data_type().fixed_size().unwrap_or(1) as u64;
    let bytes = chunk
        .iter()
        .try_fold(itemsize, |acc, n| acc.checked_mul(n.get()));
    let memory = crate::exec::physical_memory();
    match bytes {
        Some(bytes) if bytes <= memory => Ok(()),
        _ => Err(storage_error(
            array,
            format!(
                "its chunks of shape {chunk:?} hold more bytes than this machine's memory \
                 ({memory} bytes): they cannot be decoded"
            ),
        )),
    }
}

fn storage_error(array: &Handle, message: impl std::fmt::Display) -> Error {
    Error::Storage(StorageError::Storage {
        path: array.path().to_string(),
        message: message.to_string(),
    })
}

/// A handle on `array` for writers: its reads (of chunks a write updates in part, or that
/// Resume verifies) are checked like [`guarded`]'s, its writes go to the store unchanged.
pub(crate) fn guarded_for_writes(array: &Handle, store: &Store) -> Result<Handle> {
    check_chunk_size(array)?;
    let guarded = guarded(array).map_err(|message| {
        store.error(
            array.path().as_str(),
            format!("cannot bound the decoding of its chunks: {message}"),
        )
    })?;
    let storage: Arc<dyn ReadableWritableListableStorageTraits> = guarded.storage();
    Ok(array.with_storage(storage))
}

/// A handle on `array` whose chunk reads are checked against the largest chunk's size
/// before zarrs decodes them (see [`GuardedReads`]).
fn guarded(array: &Handle) -> std::result::Result<ZArray<GuardedReads>, String> {
    let (largest, regular) = largest_chunk(array)?;
    let reads = GuardedReads::new(
        array.storage(),
        &array.codecs(),
        (&largest, regular),
        array.data_type(),
        array.fill_value(),
    )?;
    Ok(array.with_storage(Arc::new(reads)))
}

/// `decoded` of a read's span: a chunk decompressed in one call into the tile's buffer.
const WHOLE_CHUNK: &str = "chunk decompressed whole";

/// `decoded` of a read's span: zarrs' codec pipeline (any other layout, or a chunk the
/// faster paths could not decode).
pub(super) const CODEC_PIPELINE: &str = "zarrs codec pipeline";

/// Why a stored chunk cannot be read.
enum Failure {
    /// The store failed to give its bytes (an I/O error: a request failed for good).
    Fetch(String),
    /// Its bytes do not decode.
    Decode(String),
}

/// Tiles read from a Zarr array.
pub(crate) struct ZarrSource<T> {
    array: Arc<Handle>,
    /// The same array, read through checks that bound every decode by the chunk's size;
    /// the message says why the checks could not be set up.
    reader: std::result::Result<ZArray<GuardedReads>, String>,
    store: Store,
    /// Chunks are plain little-endian elements compressed by one compressor that can write
    /// into a given buffer: a tile that is one whole chunk is decompressed straight into
    /// its buffer (see [`decompress_into`]).
    direct: Option<Compressor>,
    /// The decoded bytes of the largest stored unit (chunk or shard), which bound the
    /// encoded bytes of one (see [`TileSource::read_bytes`]).
    unit_bytes: Option<u64>,
    /// Where the array is stored, and the erasures noted when it was opened: reads after a
    /// later erasure of it are refused (see [`erasure`](super::erasure)).
    place: Place,
    opened: u64,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T> ZarrSource<T> {
    pub(crate) fn new(array: Arc<Handle>, store: Store) -> ZarrSource<T> {
        let direct = direct_compressor(&array);
        let reader = guarded(&array);
        let unit_bytes = largest_chunk(&array).ok().and_then(|(largest, _)| {
            let itemsize = array.data_type().fixed_size()? as u64;
            largest
                .iter()
                .try_fold(itemsize, |n, l| n.checked_mul(l.get()))
        });
        ZarrSource {
            place: Place::of(&store, array.path().as_str()),
            opened: erasures(),
            array,
            reader,
            store,
            direct,
            unit_bytes,
            _t: std::marker::PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for ZarrSource<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "zarr({}{})", self.store.describe(), self.array.path())
    }
}

impl<T: Element + zarrs::array::ElementOwned> ZarrSource<T> {
    /// The guarded handle that reads chunks, or the error that says why there is none.
    fn reader(&self) -> Result<&ZArray<GuardedReads>> {
        self.reader.as_ref().map_err(|message| {
            self.store.error(
                self.array.path().as_str(),
                format!("cannot bound the decoding of its chunks: {message}"),
            )
        })
    }

    /// An error if this process erased or replaced the array since it was opened: its
    /// chunks would then read as fill values, or as the new array's.
    fn check_not_erased(&self) -> Result<()> {
        match erased_since(&self.place, self.opened) {
            false => Ok(()),
            true => Err(self.store.error(
                self.array.path().as_str(),
                "erased or replaced by a write of this process after it was opened; open it \
                 again",
            )),
        }
    }

    /// The number of stored units (chunks or shards) that `ranges` overlaps.
    fn units(&self, ranges: &[Range<usize>]) -> Option<u64> {
        let units = self
            .array
            .chunks_in_array_subset(&subset_of(ranges))
            .ok()??;
        Some(units.num_elements())
    }

    /// The store keys of the stored units (chunks or shards) that `ranges` overlaps.
    fn unit_keys(&self, ranges: &[Range<usize>]) -> Vec<zarrs::storage::StoreKey> {
        let units = self.array.chunks_in_array_subset(&subset_of(ranges));
        match units {
            Ok(Some(units)) => units
                .indices()
                .iter()
                .map(|index| self.array.chunk_key(&index))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// On object storage: starts fetching every stored unit of the tile `ranges` at once
    /// (they are then decoded from memory); `None` elsewhere.
    fn fetch(&self, ranges: &[Range<usize>]) -> Option<FetchLease> {
        if !self.store.is_remote() {
            return None;
        }
        let limit = self.reader.as_ref().ok()?.storage().max_stored();
        self.store.fetch(self.unit_keys(ranges), limit)
    }

    /// The `tracing` span of reading the elements `ranges` (a tile) from the store. Its
    /// field `decoded` says how the stored bytes became the tile: so an application's
    /// subscriber, and the tests, see which path each tile took.
    fn read_span(&self, ranges: &[Range<usize>]) -> tracing::Span {
        tracing::debug_span!(
            "zarr_read",
            array = %self.array.path(),
            ranges = ?ranges,
            decoded = tracing::field::Empty,
        )
    }

    /// The index of the one stored chunk that `subset` covers exactly, and its file in a
    /// local store; `None` if the subset is not exactly one chunk.
    fn single_chunk(&self, subset: &ArraySubset) -> Option<(Vec<u64>, Option<PathBuf>)> {
        let chunks = self.array.chunks_in_array_subset(subset).ok()??;
        if chunks.num_elements() != 1 {
            return None;
        }
        let index = chunks.start().to_vec();
        if self.array.chunk_subset(&index).ok()? != *subset {
            return None;
        }
        let file = self.store.path.as_ref().map(|root| {
            let key = self.array.chunk_key(&index);
            root.join(key.as_str())
        });
        Some((index, file))
    }

    /// The zstd frame of the one whole chunk that `subset` covers, to decode block by
    /// block: its file in a local store, its fetched body on object storage. `None` for
    /// other layouts, and on object storage where no lease holds the chunk, the chunk is
    /// not stored, or its GET failed (the general path then reads it, or names the error).
    fn zstd_frame(&self, subset: &ArraySubset) -> Option<ZstdFrame> {
        if self.direct != Some(Compressor::Zstd) {
            return None;
        }
        match self.single_chunk(subset)? {
            (_, Some(file)) => Some(ZstdFrame::File(file)),
            (index, None) => {
                let key = self.array.chunk_key(&index);
                self.store.fetched_pieces(&key).map(ZstdFrame::Pieces)
            }
        }
    }

    /// The tile covering exactly one stored chunk, decompressed straight into its buffer
    /// (`span` records how); `None` where the general path must run (another layout, a
    /// missing or undecodable chunk).
    fn whole_chunk(
        &self,
        compressor: Compressor,
        subset: &ArraySubset,
        shape: &[usize],
        span: &tracing::Span,
    ) -> Option<Value> {
        let len = shape.iter().product();
        let values = match self.zstd_frame(subset) {
            Some(frame) => {
                let values = frame.stream::<T>(len, &mut |_| {})?;
                span.record("decoded", frame.describe());
                values
            }
            None => {
                // The stored bytes as the store holds them (zarrs' `retrieve_encoded_chunk`
                // would copy a shared buffer into a `Vec`). `decompress_into` writes at most
                // `len` elements, but a file is read whole at the size it reports: through
                // the guard, which refuses a size no chunk of this array can have (the
                // general path then names the error).
                let (index, file) = self.single_chunk(subset)?;
                let key = self.array.chunk_key(&index);
                let encoded = match file {
                    Some(_) => self.reader().ok()?.storage().get(&key).ok()??,
                    None => self.array.storage().get(&key).ok()??,
                };
                let values = decompress_into::<T>(compressor, &encoded, len)?;
                span.record("decoded", WHOLE_CHUNK);
                values
            }
        };
        Some(tile_value(
            ArrayD::from_shape_vec(ndarray::IxDyn(shape), values).ok()?,
        ))
    }

    /// The tile of `subset`, of `shape`, once its units are fetched (on object storage):
    /// one whole chunk decompressed straight into its buffer where it can be, else through
    /// zarrs' codec pipeline. `span` (the read's) records which.
    fn fetched_tile(
        &self,
        subset: &ArraySubset,
        shape: &[usize],
        span: &tracing::Span,
    ) -> Result<Value> {
        let tile = match self.direct {
            Some(compressor) => self.whole_chunk(compressor, subset, shape, span),
            None => None,
        };
        let tile = match tile {
            Some(tile) => tile,
            None => {
                span.record("decoded", CODEC_PIPELINE);
                self.general_tile(subset)?
            }
        };
        // Checked after the read: what was read before an erasure is what was stored.
        self.check_not_erased()?;
        Ok(tile)
    }

    /// The tile of `subset` through zarrs' codec pipeline, which names a corrupt chunk.
    fn general_tile(&self, subset: &ArraySubset) -> Result<Value> {
        let options = zarrs::array::CodecOptions::default().with_concurrent_target(1);
        match self
            .reader()?
            .retrieve_array_subset_opt::<ArrayD<T>>(subset, &options)
        {
            Ok(tile) => Ok(tile_value(tile)),
            Err(e) => match self.failing_chunk(subset) {
                Some((key, Failure::Fetch(message))) => {
                    Err(Error::Storage(StorageError::Storage {
                        path: format!("{}/{key}", self.store.describe()),
                        message,
                    }))
                }
                Some((key, Failure::Decode(message))) => {
                    Err(Error::Storage(StorageError::CorruptChunk { key, message }))
                }
                // Every chunk decodes whole, yet the subset did not: a partial decoder read
                // byte ranges that the chunk's own header gets wrong (a blosc header whose
                // block offsets lie). The whole chunks are what a whole read gives.
                None => self
                    .tile_from_whole_chunks(subset)
                    .map_err(|_| self.store.error(self.array.path().as_str(), e)),
            },
        }
    }

    /// The tile of `subset` cut from its chunks decoded whole.
    fn tile_from_whole_chunks(&self, subset: &ArraySubset) -> Result<Value> {
        let fail = |e: &dyn std::fmt::Display| self.store.error(self.array.path().as_str(), e);
        let reader = self.reader()?;
        let ranges = |s: &ArraySubset| -> Vec<Range<usize>> {
            s.to_ranges()
                .iter()
                .map(|r| r.start as usize..r.end as usize)
                .collect()
        };
        let tile_ranges = ranges(subset);
        let mut tile = ArrayD::<T>::default(ndarray::IxDyn(&box_shape(&tile_ranges)));
        let chunks = reader
            .chunks_in_array_subset(subset)
            .map_err(|e| fail(&e))?
            .ok_or_else(|| fail(&"the subset lies outside the chunk grid"))?;
        for index in chunks.indices().iter() {
            let chunk = reader
                .retrieve_chunk::<ArrayD<T>>(&index)
                .map_err(|e| fail(&e))?;
            let chunk_ranges = ranges(&reader.chunk_subset(&index).map_err(|e| fail(&e))?);
            let (in_tile, in_chunk) = overlap_local(&tile_ranges, &chunk_ranges);
            sub_view(tile.view_mut(), &in_tile).assign(&sub_view(chunk.view(), &in_chunk));
        }
        Ok(tile_value(tile))
    }

    /// The key of the first stored chunk in `subset` that cannot be read, and why, for
    /// messages.
    fn failing_chunk(&self, subset: &ArraySubset) -> Option<(String, Failure)> {
        let reader = self.reader().ok()?;
        let chunks = reader.chunks_in_array_subset(subset).ok()??;
        for index in chunks.indices().iter() {
            if let Err(e) = reader.retrieve_chunk::<ArrayD<T>>(&index) {
                // An I/O error is a value that could not be had (a request that failed for
                // good); anything else, the decode guard's findings included, a corrupt chunk.
                let failure = match e {
                    zarrs::array::ArrayError::StorageError(
                        e @ zarrs::storage::StorageError::IOError(_),
                    ) => Failure::Fetch(e.to_string()),
                    e => Failure::Decode(e.to_string()),
                };
                return Some((self.array.chunk_key(&index).to_string(), failure));
            }
        }
        None
    }
}

impl<T: Element + zarrs::array::ElementOwned> TileSource for ZarrSource<T> {
    fn name(&self) -> String {
        format!("zarr[{}]", self.array.path())
    }

    /// Zstd chunks of a number type, local or on object storage, and tiles that are the
    /// chunks.
    fn streams(&self, grid: &ChunkGrid) -> bool {
        let zero = vec![0; grid.ndim()];
        let tiles_are_chunks = self.array.chunk_shape(&zero).ok().is_some_and(|chunk| {
            let chunk: Vec<usize> = chunk.iter().map(|n| n.get() as usize).collect();
            grid.is_regular_of(&chunk)
        });
        self.direct == Some(Compressor::Zstd)
            && (self.store.path.is_some() || self.store.is_remote())
            && any_bytes_are_valid::<T>()
            && tiles_are_chunks
    }

    /// Tiles that are one zstd chunk, in a local file or fetched from object storage, are
    /// handed over as zstd decodes them, a block (at most 128 KiB) at a time; others whole.
    fn stream_tile(
        &self,
        _: &[usize],
        ranges: &[Range<usize>],
        receive: &mut dyn FnMut(TilePiece<'_>),
    ) -> Result<()> {
        let span = self.read_span(ranges);
        let _entered = span.enter();
        let _fetched = self.fetch(ranges);
        let subset = subset_of(ranges);
        let shape = box_shape(ranges);
        let Some(frame) = self.zstd_frame(&subset) else {
            let tile = self.fetched_tile(&subset, &shape, &span)?;
            receive(TilePiece::whole(&tile)?);
            return Ok(());
        };
        let len = shape.iter().product();
        let mut started = false;
        let streamed = frame.stream::<T>(len, &mut |prefix| {
            started = true;
            receive(TilePiece::Prefix(T::to_strip(prefix)));
        });
        if streamed.is_some() {
            span.record("decoded", frame.describe());
        } else {
            if started {
                receive(TilePiece::Restart);
            }
            // The general path, which reports errors with the chunk's key.
            span.record("decoded", CODEC_PIPELINE);
            receive(TilePiece::whole(&self.general_tile(&subset)?)?);
        }
        self.check_not_erased()
    }

    /// On object storage, the decoded size of the stored units the tile overlaps: it
    /// bounds their encoded size (but for incompressible data, where a compressor adds a
    /// few bytes per block).
    fn prefetch_bytes(&self, _: &[usize], ranges: &[Range<usize>]) -> Option<u64> {
        let units = self.store.is_remote().then(|| self.units(ranges))??;
        self.unit_bytes?.checked_mul(units)
    }

    /// The encoded units the read holds (on object storage all of the tile's at once, as
    /// they are fetched together; else one at a time), and one decoded unit where zarrs
    /// decodes a unit before copying the tile's part of it out. Nothing for a whole chunk
    /// decompressed straight into the tile from a local file, a block at a time.
    fn read_bytes(&self, _: &[usize], ranges: &[Range<usize>]) -> u64 {
        let (Some(unit), Some(units)) = (self.unit_bytes, self.units(ranges)) else {
            return 0;
        };
        let subset = subset_of(ranges);
        let whole_chunk = self.direct.is_some() && self.single_chunk(&subset).is_some();
        let held_encoded = match (self.store.is_remote(), whole_chunk) {
            (true, _) => units,
            (false, true) if self.direct == Some(Compressor::Zstd) => 0,
            (false, _) => 1,
        };
        let decoded = if whole_chunk { 0 } else { 1 };
        unit.saturating_mul(held_encoded + decoded)
    }

    fn prefetch(&self, _: &[usize], ranges: &[Range<usize>]) -> Option<Prefetched> {
        let lease = self.fetch(ranges)?;
        Some(Box::new(lease))
    }

    fn tile(&self, _: &[usize], ranges: &[Range<usize>]) -> Result<Value> {
        let span = self.read_span(ranges);
        let _entered = span.enter();
        // Every unit of the tile requested at once, before any is decoded.
        let _fetched = self.fetch(ranges);
        self.fetched_tile(&subset_of(ranges), &box_shape(ranges), &span)
    }

    fn stored_place(&self) -> Option<String> {
        Some(self.place.as_str().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::super::open;

    #[test]
    fn irregular_stored_grids_are_listed_and_cut_at_the_array_end() {
        let dir =
            std::env::temp_dir().join(format!("chunkwise-read-listed-{}", std::process::id()));
        let node = dir.join("x");
        std::fs::create_dir_all(&node).unwrap();
        // Chunks of 5, 5 and 25 along an axis of 30 (the last runs past the end), and 4, 6.
        let metadata = r#"{
            "zarr_format": 3, "node_type": "array", "shape": [30, 10], "data_type": "float64",
            "chunk_grid": {"name": "rectilinear", "configuration": {
                "kind": "inline", "chunk_shapes": [[5, 5, 25], [4, 6]]}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": 0.0,
            "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}]
        }"#;
        std::fs::write(node.join("zarr.json"), metadata).unwrap();
        let array = open(dir.as_path(), "x").unwrap();
        assert_eq!(array.chunks().chunks(), vec![vec![5, 5, 20], vec![4, 6]]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! Lazy reads: a Zarr array as a source of tiles, read when a task needs them.

use std::ops::Range;
use std::sync::Arc;

use chunkwise_kernels::dtype::{DType, Element};
use ndarray::ArrayD;
use serde_json::Value as Json;
use zarrs::array::{Array as ZArray, ArraySubset};
use zarrs::storage::ReadableWritableListableStorageTraits;

use super::store::Store;
use crate::error::{Error, Result};
use crate::graph::{TileSource, Value, tile_value};

/// The zarrs array handle that sources and sinks share.
pub(crate) type Handle = ZArray<dyn ReadableWritableListableStorageTraits>;

/// The element type of a stored array, from its metadata.
pub(crate) fn stored_dtype(array: &Handle, path: &str) -> Result<DType> {
    let meta = serde_json::to_value(array.metadata()).unwrap_or(Json::Null);
    let name = meta
        .get("data_type")
        .or_else(|| meta.get("dtype"))
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_string();
    let code = name.trim_start_matches(['<', '>', '|', '=']);
    let dtype = match code {
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
        _ => {
            return Err(Error::UnsupportedDataType {
                path: path.to_string(),
                dtype: name,
            });
        }
    };
    Ok(dtype)
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

/// Chunk lengths per axis of the stored grid (shards, for sharded arrays), clipped to the
/// array's extent.
pub(crate) fn storage_chunks(array: &Handle) -> Result<Vec<Vec<usize>>> {
    let shape = array.shape();
    let grid = array.chunk_grid_shape().to_vec();
    let mut chunks = Vec::with_capacity(shape.len());
    for axis in 0..shape.len() {
        let mut sizes = Vec::new();
        let mut start = 0u64;
        for i in 0..grid[axis] {
            let mut index = vec![0u64; shape.len()];
            index[axis] = i;
            let chunk = array.chunk_shape(&index).map_err(|e| Error::Storage {
                path: array.path().to_string(),
                message: e.to_string(),
            })?;
            let len = chunk[axis].get().min(shape[axis] - start);
            sizes.push(len as usize);
            start += len;
        }
        if sizes.is_empty() {
            sizes.push(0);
        }
        chunks.push(sizes);
    }
    Ok(chunks)
}

/// Tiles read from a Zarr array.
pub(crate) struct ZarrSource<T> {
    array: Arc<Handle>,
    store: Store,
    /// Chunks are plain little-endian elements compressed by one compressor that can write
    /// into a given buffer: a tile that is one whole chunk is decompressed straight into
    /// its buffer (see [`decompress_into`]).
    direct: Option<Compressor>,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T> ZarrSource<T> {
    pub(crate) fn new(array: Arc<Handle>, store: Store) -> ZarrSource<T> {
        let direct = direct_compressor(&array);
        ZarrSource {
            array,
            store,
            direct,
            _t: std::marker::PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for ZarrSource<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "zarr({}{})", self.store.describe(), self.array.path())
    }
}

/// A compressor whose frames [`decompress_into`] decodes into a tile's own buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compressor {
    Zstd,
    Blosc,
}

/// The compressor, when the array's chunks are its elements in C order, little-endian (this
/// machine's order), compressed by zstd or blosc and nothing else: v3 codecs `[bytes(little),
/// zstd | blosc]`, or v2 with that compressor, no filters and C order.
fn direct_compressor(array: &Handle) -> Option<Compressor> {
    let meta = serde_json::to_value(array.metadata()).ok()?;
    let transformed = meta
        .get("storage_transformers")
        .and_then(Json::as_array)
        .is_some_and(|t| !t.is_empty());
    if !cfg!(target_endian = "little") || transformed {
        return None;
    }
    let name = |codec: &Json| {
        codec
            .get("name")
            .or_else(|| codec.get("id"))
            .and_then(Json::as_str)
            .map(str::to_string)
    };
    let compressor = |codec: &Json| match name(codec).as_deref() {
        Some("zstd") => Some(Compressor::Zstd),
        Some("blosc") => Some(Compressor::Blosc),
        _ => None,
    };
    if let Some(codecs) = meta.get("codecs").and_then(Json::as_array) {
        let little = codecs.first().is_some_and(|c| {
            name(c).as_deref() == Some("bytes")
                && c.pointer("/configuration/endian")
                    .is_none_or(|e| e.as_str() == Some("little"))
        });
        return if codecs.len() == 2 && little {
            compressor(&codecs[1])
        } else {
            None
        };
    }
    let dtype = meta.get("dtype").and_then(Json::as_str).unwrap_or("");
    let plain = meta.get("filters").is_none_or(Json::is_null)
        && meta.get("order").and_then(Json::as_str) == Some("C")
        && (dtype.starts_with('<') || dtype.starts_with('|'));
    if plain {
        compressor(meta.get("compressor")?)
    } else {
        None
    }
}

/// Decompresses the frame `encoded` straight into a new buffer of `len` elements: no
/// intermediate byte buffer, no zero-filling. `None` unless the frame decompresses to
/// exactly `len` elements (the caller then takes the general path, which reports errors).
fn decompress_into<T: Element>(
    compressor: Compressor,
    encoded: &[u8],
    len: usize,
) -> Option<Vec<T>> {
    let bytes = len.checked_mul(std::mem::size_of::<T>())?;
    let mut out: Vec<T> = Vec::with_capacity(len);
    let destination = out.as_mut_ptr().cast::<std::ffi::c_void>();
    let source = encoded.as_ptr().cast::<std::ffi::c_void>();
    // SAFETY: both libraries write at most `bytes` bytes (the buffer's spare capacity) and
    // read only `encoded` (blosc after validating its header against `encoded.len()`). Every
    // bit pattern is a valid `T` (plain numbers; booleans are stored as 0 or 1), and the
    // length is set only when exactly `bytes` bytes were written.
    let written = unsafe {
        match compressor {
            Compressor::Zstd => {
                let n = zstd_sys::ZSTD_decompress(destination, bytes, source, encoded.len());
                if zstd_sys::ZSTD_isError(n) != 0 {
                    return None;
                }
                n
            }
            Compressor::Blosc => {
                let mut stored = 0usize;
                if blosc_src::blosc_cbuffer_validate(source, encoded.len(), &mut stored) != 0
                    || stored != bytes
                {
                    return None;
                }
                usize::try_from(blosc_src::blosc_decompress_ctx(
                    source,
                    destination,
                    bytes,
                    1,
                ))
                .ok()?
            }
        }
    };
    if written != bytes {
        return None;
    }
    // SAFETY: all `len` elements were written above.
    unsafe { out.set_len(len) };
    Some(out)
}

impl<T: Element + zarrs::array::ElementOwned> ZarrSource<T> {
    /// The tile covering exactly one stored chunk, decompressed straight into its buffer;
    /// `None` where the general path must run (another layout, a missing or undecodable
    /// chunk).
    fn whole_chunk(
        &self,
        compressor: Compressor,
        subset: &ArraySubset,
        shape: &[usize],
    ) -> Option<Value> {
        let chunks = self.array.chunks_in_array_subset(subset).ok()??;
        if chunks.num_elements() != 1 {
            return None;
        }
        let index = chunks.start().to_vec();
        if self.array.chunk_subset(&index).ok()? != *subset {
            return None;
        }
        let encoded = self.array.retrieve_encoded_chunk(&index).ok()??;
        let values = decompress_into::<T>(compressor, &encoded, shape.iter().product())?;
        Some(tile_value(
            ArrayD::from_shape_vec(ndarray::IxDyn(shape), values).ok()?,
        ))
    }

    /// The key of the first stored chunk in `ranges` whose decoding fails, for messages.
    fn failing_chunk(&self, ranges: &[Range<u64>]) -> Option<(String, String)> {
        let subset = ArraySubset::new_with_ranges(ranges);
        let chunks = self.array.chunks_in_array_subset(&subset).ok()??;
        for index in chunks.indices().iter() {
            if let Err(e) = self.array.retrieve_chunk::<ArrayD<T>>(&index) {
                return Some((self.array.chunk_key(&index).to_string(), e.to_string()));
            }
        }
        None
    }
}

impl<T: Element + zarrs::array::ElementOwned> TileSource for ZarrSource<T> {
    fn name(&self) -> String {
        format!("zarr[{}]", self.array.path())
    }

    fn tile(&self, _: &[usize], ranges: &[Range<usize>]) -> Result<Value> {
        let ranges: Vec<Range<u64>> = ranges
            .iter()
            .map(|r| r.start as u64..r.end as u64)
            .collect();
        let subset = ArraySubset::new_with_ranges(&ranges);
        if let Some(compressor) = self.direct {
            let shape: Vec<usize> = ranges.iter().map(|r| (r.end - r.start) as usize).collect();
            if let Some(tile) = self.whole_chunk(compressor, &subset, &shape) {
                return Ok(tile);
            }
        }
        let options = zarrs::array::CodecOptions::default().with_concurrent_target(1);
        match self
            .array
            .retrieve_array_subset_opt::<ArrayD<T>>(&subset, &options)
        {
            Ok(tile) => Ok(tile_value(tile)),
            Err(e) => Err(match self.failing_chunk(&ranges) {
                Some((key, message)) => Error::CorruptChunk { key, message },
                None => self.store.error(self.array.path().as_str(), e),
            }),
        }
    }
}

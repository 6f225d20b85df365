//! Array metadata for writing, built from the Zarr specifications (v2 and v3) as JSON.

use serde_json::{Value as Json, json};
use zarrs::array::ArrayMetadata;

use super::fill::{FillValue, fill_value_json, xarray_fill_attribute};
use crate::chunks::is_multiple_shape;
use crate::error::{BuildError, Error, Result};
use chunkwise_kernels::dtype::DType;

/// The Zarr format version to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZarrVersion {
    /// Zarr v2 (`.zarray`, `.zattrs`).
    V2,
    /// Zarr v3 (`zarr.json`).
    V3,
}

/// The compressor of a blosc codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BloscCompressor {
    /// LZ4: fast, the usual choice (numcodecs' default).
    Lz4,
    /// LZ4 high-compression: slower to write, as fast to read.
    Lz4hc,
    /// Blosc's own LZ-style compressor.
    Blosclz,
    /// Zstandard: smaller chunks, slower.
    Zstd,
    /// Zlib (deflate).
    Zlib,
}

impl BloscCompressor {
    fn name(self) -> &'static str {
        match self {
            BloscCompressor::Lz4 => "lz4",
            BloscCompressor::Lz4hc => "lz4hc",
            BloscCompressor::Blosclz => "blosclz",
            BloscCompressor::Zstd => "zstd",
            BloscCompressor::Zlib => "zlib",
        }
    }
}

/// How blosc rearranges each block before compressing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BloscShuffle {
    /// The bytes as they are.
    NoShuffle,
    /// The first bytes of every element, then the second bytes, ...: slowly varying
    /// numbers compress much better.
    Shuffle,
    /// The same by bits: better still for some data (small integers), slower.
    BitShuffle,
}

/// Compression of the chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// Raw little-endian bytes.
    None,
    /// Zstandard at `level`.
    Zstd {
        /// Compression level (1 is fast).
        level: i32,
    },
    /// Blosc.
    Blosc {
        /// The inner compressor.
        cname: BloscCompressor,
        /// Compression level 0-9.
        clevel: u8,
        /// Byte or bit shuffling.
        shuffle: BloscShuffle,
    },
    /// Gzip at `level`.
    Gzip {
        /// Compression level 0-9.
        level: u32,
    },
    /// Zlib at `level` (numcodecs' `zlib`: common in Zarr v2 data; in v3 written as
    /// `numcodecs.zlib`, which zarr-python reads through numcodecs).
    Zlib {
        /// Compression level 0-9.
        level: u32,
    },
}

impl Default for Compression {
    fn default() -> Compression {
        Compression::Zstd { level: 1 }
    }
}

fn v2_dtype(dtype: DType) -> &'static str {
    match dtype {
        DType::Bool => "|b1",
        DType::I8 => "|i1",
        DType::I16 => "<i2",
        DType::I32 => "<i4",
        DType::I64 => "<i8",
        DType::U8 => "|u1",
        DType::U16 => "<u2",
        DType::U32 => "<u4",
        DType::U64 => "<u8",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
        _ => "<f8",
    }
}

/// The v3 codec of a compression (a bytes-to-bytes codec), if any.
fn v3_compressor(compression: Compression, itemsize: usize) -> Option<Json> {
    match compression {
        Compression::None => None,
        Compression::Zstd { level } => {
            Some(json!({"name": "zstd", "configuration": {"level": level, "checksum": false}}))
        }
        Compression::Blosc {
            cname,
            clevel,
            shuffle,
        } => {
            let shuffle = match shuffle {
                BloscShuffle::NoShuffle => "noshuffle",
                BloscShuffle::Shuffle => "shuffle",
                BloscShuffle::BitShuffle => "bitshuffle",
            };
            Some(json!({"name": "blosc", "configuration": {
                "cname": cname.name(), "clevel": clevel, "shuffle": shuffle,
                "typesize": itemsize, "blocksize": 0}}))
        }
        Compression::Gzip { level } => {
            Some(json!({"name": "gzip", "configuration": {"level": level}}))
        }
        Compression::Zlib { level } => {
            Some(json!({"name": "numcodecs.zlib", "configuration": {"level": level}}))
        }
    }
}

/// The v2 compressor of a compression, if any.
fn v2_compressor(compression: Compression) -> Json {
    match compression {
        Compression::None => Json::Null,
        Compression::Zstd { level } => json!({"id": "zstd", "level": level}),
        Compression::Blosc {
            cname,
            clevel,
            shuffle,
        } => {
            let shuffle = match shuffle {
                BloscShuffle::NoShuffle => 0,
                BloscShuffle::Shuffle => 1,
                BloscShuffle::BitShuffle => 2,
            };
            json!({"id": "blosc", "cname": cname.name(), "clevel": clevel, "shuffle": shuffle, "blocksize": 0})
        }
        Compression::Gzip { level } => json!({"id": "gzip", "level": level}),
        Compression::Zlib { level } => json!({"id": "zlib", "level": level}),
    }
}

/// Everything the metadata of a new array says.
pub(crate) struct Layout<'a> {
    pub(crate) version: ZarrVersion,
    pub(crate) shape: &'a [usize],
    pub(crate) dtype: DType,
    pub(crate) chunks: &'a [usize],
    pub(crate) shards: Option<&'a [usize]>,
    pub(crate) compression: Compression,
    pub(crate) dimension_names: Option<&'a [String]>,
    pub(crate) attributes: &'a serde_json::Map<String, Json>,
    pub(crate) fill_value: Option<FillValue>,
}

/// The metadata of a new array.
pub(crate) fn array_metadata(layout: &Layout<'_>) -> Result<ArrayMetadata> {
    let invalid = |reason: String| {
        Error::Build(BuildError::InvalidArgument {
            op: "to_zarr".into(),
            reason,
        })
    };
    let ndim = layout.shape.len();
    if layout.chunks.len() != ndim || layout.chunks.contains(&0) {
        return Err(invalid(format!(
            "chunk shape {:?} for an array of shape {:?}",
            layout.chunks, layout.shape
        )));
    }
    if let Some(names) = layout.dimension_names
        && names.len() != ndim
    {
        return Err(invalid(format!(
            "{} dimension names for {ndim} axes",
            names.len()
        )));
    }
    let level_ok = match layout.compression {
        Compression::None => true,
        Compression::Zstd { level } => (-131_072..=22).contains(&level),
        Compression::Blosc { clevel, .. } => clevel <= 9,
        Compression::Gzip { level } | Compression::Zlib { level } => level <= 9,
    };
    if !level_ok {
        return Err(invalid(format!(
            "compression level out of range in {:?}",
            layout.compression
        )));
    }
    if layout.attributes.contains_key("_FillValue") {
        return Err(invalid(
            "the attribute _FillValue is written from the fill value: set WriteOptions::fill_value"
                .into(),
        ));
    }
    let fill_value = fill_value_json(layout.dtype, layout.version, layout.fill_value)?;
    let json = match layout.version {
        ZarrVersion::V2 => {
            if layout.shards.is_some() {
                return Err(invalid("sharding needs Zarr v3".into()));
            }
            let mut attributes = layout.attributes.clone();
            if let Some(names) = layout.dimension_names {
                attributes.insert("_ARRAY_DIMENSIONS".into(), json!(names));
            }
            json!({
                "zarr_format": 2,
                "shape": layout.shape,
                "chunks": layout.chunks,
                "dtype": v2_dtype(layout.dtype),
                "compressor": v2_compressor(layout.compression),
                "fill_value": fill_value,
                "order": "C",
                "filters": null,
                "dimension_separator": ".",
                "attributes": attributes,
            })
        }
        ZarrVersion::V3 => {
            let mut codecs = vec![json!({"name": "bytes", "configuration": {"endian": "little"}})];
            codecs.extend(v3_compressor(layout.compression, layout.dtype.size()));
            let (grid, codecs) = match layout.shards {
                None => (layout.chunks.to_vec(), codecs),
                Some(shards) => {
                    if !is_multiple_shape(shards, layout.chunks) {
                        return Err(invalid(format!(
                            "shard shape {shards:?} must be a multiple of the chunk shape {:?}",
                            layout.chunks
                        )));
                    }
                    let sharding = json!({"name": "sharding_indexed", "configuration": {
                        "chunk_shape": layout.chunks,
                        "codecs": codecs,
                        "index_codecs": [
                            {"name": "bytes", "configuration": {"endian": "little"}},
                            {"name": "crc32c"}
                        ],
                        "index_location": "end"
                    }});
                    (shards.to_vec(), vec![sharding])
                }
            };
            let mut meta = json!({
                "zarr_format": 3,
                "node_type": "array",
                "shape": layout.shape,
                "data_type": layout.dtype.name(),
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": grid}},
                "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
                "fill_value": fill_value,
                "codecs": codecs,
                "attributes": layout.attributes,
            });
            if let Some(value) = layout.fill_value {
                meta["attributes"]["_FillValue"] = xarray_fill_attribute(layout.dtype, value)?;
            }
            if let Some(names) = layout.dimension_names {
                meta["dimension_names"] = json!(names);
            }
            meta
        }
    };
    serde_json::from_value(json).map_err(|e| invalid(format!("metadata rejected: {e}")))
}

//! How a stored array is laid out and encoded, read back from its metadata in the terms of
//! [`WriteOptions`](super::WriteOptions): what a rewrite of it keeps by default.

use serde_json::Value as Json;

use super::cf::{CfFill, fill_of};
use super::fill::FillValue;
use super::metadata::{BloscCompressor, BloscShuffle, Compression, ZarrVersion};
use super::read::{masked_fill, regular_chunk_shape, storage_grid};
use super::store::Handle;
use crate::error::Result;

/// The storage format of an opened array (see [`AnyArray::format`](super::AnyArray::format)),
/// as [`WriteOptions::keep_format`](super::WriteOptions::keep_format) writes it again.
///
/// ```
/// use chunkwise::io::zarr::{self, Compression, FillValue, WriteOptions, ZarrVersion};
/// let dir = std::env::temp_dir().join(format!("chunkwise-doc-format-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let x = chunkwise::arange::<i16>(0, 10, 1, [5])?;
/// let options = WriteOptions::default()
///     .version(ZarrVersion::V2)
///     .compression(Compression::Gzip { level: 4 })
///     .fill_value(-1.0);
/// x.to_zarr(&dir, "x", &options)?;
/// let format = zarr::open(&dir, "x")?.format().clone();
/// assert_eq!(format.version, ZarrVersion::V2);
/// assert_eq!(format.chunks, [5]);
/// assert_eq!(format.compression, Some(Compression::Gzip { level: 4 }));
/// assert_eq!(format.fill_value, Some(FillValue::Integer(-1)));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), chunkwise::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct StoredFormat {
    /// The Zarr version.
    pub version: ZarrVersion,
    /// The storage chunk shape as the metadata declares it, whole even where it reaches
    /// past the array's end (the inner chunks of a sharded array; the first chunk's shape
    /// for an irregular grid).
    pub chunks: Vec<usize>,
    /// The shard shape, for a sharded array.
    pub shards: Option<Vec<usize>>,
    /// The compression, where one [`Compression`] writes the same codecs (`None` for
    /// other codec chains: filters, transposes, codecs chunkwise does not write).
    pub compression: Option<Compression>,
    /// The fill value that xarray masks as missing, as a number, as
    /// [`WriteOptions::fill_value`](super::WriteOptions::fill_value) sets it: v2's
    /// `fill_value`, v3's `_FillValue` attribute (`None`: nothing is masked; a v3 array's
    /// `fill_value` without that attribute is not kept).
    pub fill_value: Option<FillValue>,
}

impl StoredFormat {
    /// The format of `array`, from its metadata: the chunk (or shard) shape as declared,
    /// whole even where it reaches past the array's end; for an irregular grid, the first
    /// chunk's (at least 1 along an axis of length 0).
    pub(crate) fn of(array: &Handle) -> Result<StoredFormat> {
        let first = match regular_chunk_shape(array) {
            Some(shape) => shape,
            None => {
                let grid = storage_grid(array)?;
                let shape = grid.shape();
                (0..grid.ndim())
                    .map(|axis| match shape[axis] {
                        0 => 1,
                        _ => grid.chunk_len(axis, 0),
                    })
                    .collect()
            }
        };
        Ok(Self::with_first_chunk(array, first))
    }

    /// The format of `array`, whose first stored chunk (or shard) is `chunks`.
    fn with_first_chunk(array: &Handle, chunks: Vec<usize>) -> StoredFormat {
        let fill_value = masked_fill(array)
            .as_ref()
            .map(CfFill::value)
            .and_then(fill_of);
        let meta = serde_json::to_value(array.metadata()).unwrap_or(Json::Null);
        let field = |name: &str| meta.get(name).unwrap_or(&Json::Null);
        match meta.get("zarr_format").and_then(Json::as_u64) {
            Some(2) => StoredFormat {
                version: ZarrVersion::V2,
                chunks,
                shards: None,
                compression: field("filters")
                    .is_null()
                    .then(|| v2_compression(field("compressor")))
                    .flatten(),
                fill_value,
            },
            _ => {
                let codecs = field("codecs").as_array().map_or(&[][..], Vec::as_slice);
                let sharding = codecs
                    .first()
                    .filter(|c| codec_name(c) == Some("sharding_indexed"))
                    .and_then(|c| c.get("configuration"));
                let (chunks, shards, codecs) = match sharding {
                    Some(config) => (
                        lengths(config.get("chunk_shape")).unwrap_or(chunks.clone()),
                        Some(chunks),
                        config
                            .get("codecs")
                            .and_then(Json::as_array)
                            .map_or(&[][..], Vec::as_slice),
                    ),
                    None => (chunks, None, codecs),
                };
                StoredFormat {
                    version: ZarrVersion::V3,
                    chunks,
                    shards,
                    compression: v3_compression(codecs),
                    fill_value,
                }
            }
        }
    }
}

/// Whole numbers from a JSON list.
fn lengths(value: Option<&Json>) -> Option<Vec<usize>> {
    value?
        .as_array()?
        .iter()
        .map(|n| n.as_u64().map(|n| n as usize))
        .collect()
}

/// The compression of a v2 `compressor` (numcodecs' ids).
fn v2_compression(compressor: &Json) -> Option<Compression> {
    match compressor {
        Json::Null => Some(Compression::None),
        _ => named(compressor.get("id")?.as_str()?, &|key| compressor.get(key)),
    }
}

/// A v3 codec's name: its `name`, or the codec itself where it is a bare name (as zarrs
/// writes a codec without settings, such as the `bytes` of a one-byte data type).
fn codec_name(codec: &Json) -> Option<&str> {
    codec.as_str().or_else(|| codec.get("name")?.as_str())
}

/// The compression of a v3 codec chain: `bytes`, then at most one compressor.
fn v3_compression(codecs: &[Json]) -> Option<Compression> {
    match codecs {
        [bytes] if codec_name(bytes)? == "bytes" => Some(Compression::None),
        [bytes, codec] if codec_name(bytes)? == "bytes" => {
            let config = codec.get("configuration");
            named(codec_name(codec)?, &|key| config?.get(key))
        }
        _ => None,
    }
}

/// The compression a codec names (a v2 id or a v3 name), from its settings.
fn named<'a>(name: &str, setting: &dyn Fn(&str) -> Option<&'a Json>) -> Option<Compression> {
    let level = |key: &str| setting(key)?.as_i64();
    Some(match name {
        "zstd" => Compression::Zstd {
            level: i32::try_from(level("level")?).ok()?,
        },
        "gzip" => Compression::Gzip {
            level: u32::try_from(level("level")?).ok()?,
        },
        "zlib" | "numcodecs.zlib" => Compression::Zlib {
            level: u32::try_from(level("level")?).ok()?,
        },
        "blosc" => Compression::Blosc {
            cname: match setting("cname")?.as_str()? {
                "lz4" => BloscCompressor::Lz4,
                "lz4hc" => BloscCompressor::Lz4hc,
                "blosclz" => BloscCompressor::Blosclz,
                "zstd" => BloscCompressor::Zstd,
                "zlib" => BloscCompressor::Zlib,
                _ => return None,
            },
            clevel: u8::try_from(level("clevel")?).ok()?,
            // v2 numbers the shuffles, v3 names them.
            shuffle: match setting("shuffle")? {
                Json::Number(n) if n.as_u64() == Some(0) => BloscShuffle::NoShuffle,
                Json::Number(n) if n.as_u64() == Some(1) => BloscShuffle::Shuffle,
                Json::Number(n) if n.as_u64() == Some(2) => BloscShuffle::BitShuffle,
                Json::String(s) if s == "noshuffle" => BloscShuffle::NoShuffle,
                Json::String(s) if s == "shuffle" => BloscShuffle::Shuffle,
                Json::String(s) if s == "bitshuffle" => BloscShuffle::BitShuffle,
                _ => return None,
            },
        },
        _ => return None,
    })
}

//! Reads that never trust a size written in the data.
//!
//! zarrs allocates what a chunk's bytes declare before it decodes them: the content size in
//! a zstd frame header (`2^62` aborts the process), a blosc header's `nbytes`, the byte
//! ranges of a shard index (a read of `offset..offset + length` allocates `length` first).
//! [`GuardedReads`] wraps the store that a source reads chunks from and checks every value
//! before zarrs sees it, against what the array's metadata says a chunk can hold:
//! - every byte range must lie inside the stored value;
//! - a zstd frame sequence may not declare more than the chunk's bytes (plus one block of
//!   slack for frames that declare no size);
//! - a blosc buffer must be valid and hold no more than the chunk's bytes;
//! - a gzip or zlib stream may not inflate to more than the chunk's bytes (checked by
//!   inflating into a small scratch buffer, as these formats declare nothing up front);
//! - a shard's index must point inside the shard, and each inner chunk passes the same
//!   checks against the inner chunk's size;
//! - a crc32c checksum must be there before it is stripped.
//!
//! A value that fails is a storage error naming the check; the source then reports the
//! chunk's key. The checks read headers only (zstd's walk visits block headers), except
//! for deflate streams. Codecs nested under a compressor (a blosc buffer inside a zstd
//! frame) are checked at the outermost compressor only.

use std::borrow::Cow;
use std::num::NonZeroU64;
use std::ops::Range;

use serde_json::Value as Json;
use zarrs::array::{
    ArrayToBytesCodecTraits, BytesRepresentation, CodecChain, CodecMetadataOptions, CodecOptions,
    CodecTraits, DataType, FillValue,
};
use zarrs::metadata::v3::MetadataV3;
use zarrs::storage::byte_range::{ByteRange, ByteRangeIterator, InvalidByteRangeError};
use zarrs::storage::{
    Bytes, MaybeBytesIterator, ReadableStorageTraits, ReadableWritableListableStorage,
    StorageError, StoreKey,
};

/// The most a zstd block decodes to (`ZSTD_BLOCKSIZE_MAX`): the slack allowed to frames that
/// declare no content size, whose bound zstd rounds up to whole blocks.
const ZSTD_BLOCK_MAX: u64 = 1 << 17;

/// A bytes-to-bytes codec as far as the guard is concerned, in decoding order.
#[derive(Clone, Debug, PartialEq)]
enum Stage {
    /// A crc32c checksum of 4 bytes at the end (or the start) of the value.
    Crc32c { at_end: bool },
    /// zstd frames decoding to at most `bound` bytes.
    Zstd { bound: Option<u64> },
    /// One blosc buffer decoding to at most `bound` bytes.
    Blosc { bound: Option<u64> },
    /// A gzip (`gzip: true`) or zlib stream inflating to at most `bound` bytes.
    Deflate { gzip: bool, bound: Option<u64> },
    /// Any other codec: nothing is checked from here on.
    Other,
}

/// What a chunk's stored bytes look like.
#[derive(Clone, Debug)]
enum Layout {
    /// Bytes-to-bytes stages (outermost first) over an array-to-bytes codec.
    Plain(Vec<Stage>),
    /// A shard: an index of `(offset, length)` pairs and inner chunks.
    Sharded(Box<Shard>),
}

/// The parts of a sharded layout.
#[derive(Clone, Debug)]
struct Shard {
    /// Stages applied to the whole shard after sharding (rare; they hide the index).
    outer: Vec<Stage>,
    /// The index's codecs.
    index_codecs: CodecChain,
    /// The index's shape: inner chunks per axis, then 2.
    index_shape: Vec<NonZeroU64>,
    /// The index's encoded length.
    index_bytes: u64,
    /// Whether the index ends the shard (else it starts it).
    index_at_end: bool,
    /// The inner chunks' layout.
    inner: Layout,
}

/// A store whose reads are checked so that no decoder allocates from a size in the data.
pub(super) struct GuardedReads {
    inner: ReadableWritableListableStorage,
    layout: Layout,
}

impl GuardedReads {
    /// Reads of the chunks of an array with `codecs`, chunks of at most `chunk_shape`
    /// elements of `data_type`, from `inner`. An error if the codecs' sizes cannot be known
    /// (the caller then reads unguarded only what zarrs bounds itself: nothing; it fails).
    pub(super) fn new(
        inner: ReadableWritableListableStorage,
        codecs: &CodecChain,
        chunk_shape: &[NonZeroU64],
        data_type: &DataType,
        fill_value: &FillValue,
    ) -> Result<GuardedReads, String> {
        let layout = layout_of(codecs, chunk_shape, data_type, fill_value)?;
        Ok(GuardedReads { inner, layout })
    }
}

/// The layout of chunks of `shape` encoded by `codecs`.
fn layout_of(
    codecs: &CodecChain,
    shape: &[NonZeroU64],
    data_type: &DataType,
    fill_value: &FillValue,
) -> Result<Layout, String> {
    // What the array-to-bytes codec sees: the chunk after the array-to-array codecs.
    let (mut shape, mut data_type, mut fill_value) =
        (shape.to_vec(), data_type.clone(), fill_value.clone());
    for codec in codecs.array_to_array_codecs() {
        let (s, d, f) = codec
            .encoded_representation(&shape, &data_type, &fill_value)
            .map_err(|e| e.to_string())?;
        (shape, data_type, fill_value) = (s.to_vec(), d, f);
    }
    let mut representation = codecs
        .array_to_bytes_codec()
        .encoded_representation(&shape, &data_type, &fill_value)
        .map_err(|e| e.to_string())?;
    let b2b = codecs.bytes_to_bytes_codecs();
    let mut stages = Vec::with_capacity(b2b.len());
    for codec in b2b {
        let (name, config) = describe(codec.as_ref());
        stages.push(stage_of(&name, &config, representation.size()));
        representation = codec.encoded_representation(&representation);
    }
    stages.reverse();
    let (name, config) = describe(codec_chain_a2b(codecs));
    if name != "sharding_indexed" {
        return Ok(Layout::Plain(stages));
    }
    let parse = |field: &str| -> Result<Vec<MetadataV3>, String> {
        serde_json::from_value(config.get(field).cloned().unwrap_or(Json::Null))
            .map_err(|e| format!("sharding {field}: {e}"))
    };
    let inner_shape: Vec<NonZeroU64> =
        serde_json::from_value(config.get("chunk_shape").cloned().unwrap_or(Json::Null))
            .map_err(|e| format!("sharding chunk_shape: {e}"))?;
    if inner_shape.len() != shape.len() {
        return Err("sharding chunk_shape of another rank".into());
    }
    let inner_codecs = CodecChain::from_metadata(&parse("codecs")?).map_err(|e| e.to_string())?;
    let index_codecs =
        CodecChain::from_metadata(&parse("index_codecs")?).map_err(|e| e.to_string())?;
    let mut index_shape: Vec<NonZeroU64> = shape
        .iter()
        .zip(&inner_shape)
        .map(|(s, i)| s.get().div_ceil(i.get()))
        .map(|n| NonZeroU64::new(n).ok_or("empty shard"))
        .collect::<Result<_, _>>()?;
    index_shape.push(NonZeroU64::new(2).expect("2 is not 0"));
    let index_bytes = match index_codecs
        .encoded_representation(&index_shape, &u64_type(), &FillValue::from(u64::MAX))
        .map_err(|e| e.to_string())?
    {
        BytesRepresentation::FixedSize(n) => n,
        _ => return Err("a shard index of variable size".into()),
    };
    let index_at_end = config.get("index_location").and_then(Json::as_str) != Some("start");
    let inner = layout_of(&inner_codecs, &inner_shape, &data_type, &fill_value)?;
    Ok(Layout::Sharded(Box::new(Shard {
        outer: stages,
        index_codecs,
        index_shape,
        index_bytes,
        index_at_end,
        inner,
    })))
}

/// The array-to-bytes codec of `codecs`.
fn codec_chain_a2b(codecs: &CodecChain) -> &dyn CodecTraits {
    codecs.array_to_bytes_codec().as_ref()
}

/// A codec's Zarr v3 name (empty if it has none) and configuration (`null` if none).
fn describe(codec: &dyn CodecTraits) -> (String, Json) {
    let name = codec.name_v3().map(|n| n.into_owned()).unwrap_or_default();
    let config = codec
        .configuration_v3(&CodecMetadataOptions::default())
        .and_then(|c| serde_json::to_value(c).ok())
        .unwrap_or(Json::Null);
    (name, config)
}

/// zarrs' `uint64` data type (shard indexes).
fn u64_type() -> DataType {
    zarrs::array::data_type::uint64()
}

/// The stage of the codec `name` configured by `config`, whose decoded value has at most
/// `bound` bytes.
fn stage_of(name: &str, config: &Json, bound: Option<u64>) -> Stage {
    match name {
        "crc32c" => Stage::Crc32c {
            at_end: config.get("location").and_then(Json::as_str) != Some("start"),
        },
        "zstd" => Stage::Zstd { bound },
        "blosc" => Stage::Blosc { bound },
        "gzip" => Stage::Deflate { gzip: true, bound },
        "zlib" | "numcodecs.zlib" => Stage::Deflate { gzip: false, bound },
        _ => Stage::Other,
    }
}

/// Checks a value that `stages` (outermost first) decode: an error says what is wrong.
fn check_stages(stages: &[Stage], mut bytes: &[u8]) -> Result<(), String> {
    for stage in stages {
        match *stage {
            Stage::Crc32c { at_end } => {
                let rest = bytes
                    .len()
                    .checked_sub(4)
                    .ok_or("value shorter than its crc32c checksum")?;
                bytes = if at_end { &bytes[..rest] } else { &bytes[4..] };
            }
            Stage::Zstd { bound } => return check_zstd(bytes, bound),
            Stage::Blosc { bound } => return check_blosc(bytes, bound),
            Stage::Deflate { gzip, bound } => return check_deflate(bytes, gzip, bound),
            Stage::Other => return Ok(()),
        }
    }
    Ok(())
}

/// zstd frames may declare (or, without declared sizes, span blocks for) no more than
/// `bound` bytes, with one block of slack for frames that declare no size.
fn check_zstd(bytes: &[u8], bound: Option<u64>) -> Result<(), String> {
    // SAFETY: zstd reads `bytes` only (frame and block headers).
    let declared = unsafe { zstd_sys::ZSTD_decompressBound(bytes.as_ptr().cast(), bytes.len()) };
    if declared == zstd_sys::ZSTD_CONTENTSIZE_ERROR as u64 {
        return Err("not a sequence of whole zstd frames".into());
    }
    match bound {
        Some(bound) if declared > bound.saturating_add(ZSTD_BLOCK_MAX) => Err(format!(
            "zstd frames declare {declared} bytes, but the chunk holds at most {bound}"
        )),
        _ => Ok(()),
    }
}

/// A blosc buffer must be valid (its header's compressed size is the value's length) and
/// decode to no more than `bound` bytes.
fn check_blosc(bytes: &[u8], bound: Option<u64>) -> Result<(), String> {
    let mut declared = 0usize;
    // SAFETY: blosc reads the header of `bytes` only after checking its length.
    let invalid = unsafe {
        blosc_src::blosc_cbuffer_validate(bytes.as_ptr().cast(), bytes.len(), &mut declared)
    } != 0;
    if invalid {
        return Err("not a valid blosc buffer".into());
    }
    match bound {
        Some(bound) if declared as u64 > bound => Err(format!(
            "blosc header declares {declared} bytes, but the chunk holds at most {bound}"
        )),
        _ => Ok(()),
    }
}

/// A gzip or zlib stream must inflate to no more than `bound` bytes. These formats declare
/// nothing up front, so the stream is inflated into a small scratch buffer and counted.
fn check_deflate(bytes: &[u8], gzip: bool, bound: Option<u64>) -> Result<(), String> {
    use std::io::Read;
    let Some(bound) = bound else { return Ok(()) };
    let mut decoder: Box<dyn Read> = if gzip {
        Box::new(flate2::read::GzDecoder::new(bytes))
    } else {
        Box::new(flate2::read::ZlibDecoder::new(bytes))
    };
    let mut scratch = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        match decoder.read(&mut scratch) {
            Ok(0) => return Ok(()),
            Ok(n) => total += n as u64,
            // A broken stream: zarrs reports it, after inflating no more than this did.
            Err(_) => return Ok(()),
        }
        if total > bound {
            return Err(format!(
                "deflate stream inflates to more than {bound} bytes, the most the chunk holds"
            ));
        }
    }
}

/// Checks a whole stored chunk (or shard) of `layout`.
fn check_value(layout: &Layout, bytes: &[u8]) -> Result<(), String> {
    match layout {
        Layout::Plain(stages) => check_stages(stages, bytes),
        Layout::Sharded(shard) if !shard.outer.is_empty() => {
            // The index is inside compressed data: only the outer layer can be checked.
            check_stages(&shard.outer, bytes)
        }
        Layout::Sharded(shard) => {
            let index = &bytes[index_range(shard, bytes.len())?];
            for inner in inner_chunks(shard, index, bytes.len())? {
                check_value(&shard.inner, &bytes[inner])?;
            }
            Ok(())
        }
    }
}

/// Where a shard's index lies in a shard of `len` bytes.
fn index_range(shard: &Shard, len: usize) -> Result<Range<usize>, String> {
    let index = usize::try_from(shard.index_bytes).map_err(|e| e.to_string())?;
    if len < index {
        return Err(format!(
            "shard of {len} bytes is shorter than its index of {index} bytes"
        ));
    }
    Ok(if shard.index_at_end {
        len - index..len
    } else {
        0..index
    })
}

/// The byte ranges of the stored inner chunks that the shard index `encoded` lists, in a
/// shard of `len` bytes: an error if one reaches outside the shard.
fn inner_chunks(shard: &Shard, encoded: &[u8], len: usize) -> Result<Vec<Range<usize>>, String> {
    let decoded = shard
        .index_codecs
        .decode(
            Cow::Borrowed(encoded),
            &shard.index_shape,
            &u64_type(),
            &FillValue::from(u64::MAX),
            &CodecOptions::default(),
        )
        .map_err(|e| format!("shard index: {e}"))?
        .into_fixed()
        .map_err(|e| format!("shard index: {e}"))?;
    let words: Vec<u64> = decoded
        .chunks_exact(8)
        .map(|w| u64::from_ne_bytes(w.try_into().expect("8 bytes")))
        .collect();
    let mut ranges = Vec::with_capacity(words.len() / 2);
    for pair in words.chunks_exact(2) {
        let (offset, length) = (pair[0], pair[1]);
        if (offset, length) == (u64::MAX, u64::MAX) {
            continue; // an inner chunk not stored
        }
        let range = offset
            .checked_add(length)
            .filter(|&end| end <= len as u64)
            .map(|end| offset as usize..end as usize)
            .ok_or_else(|| {
                format!(
                    "shard index points at {length} bytes from offset {offset}, outside the \
                     shard of {len} bytes"
                )
            })?;
        ranges.push(range);
    }
    Ok(ranges)
}

/// Checks that `range` lies inside a value of `size` bytes, before anything is allocated
/// for it.
fn check_range(range: &ByteRange, size: u64) -> Result<(), StorageError> {
    let inside = match *range {
        ByteRange::FromStart(offset, None) => offset <= size,
        ByteRange::FromStart(offset, Some(length)) => {
            offset.checked_add(length).is_some_and(|end| end <= size)
        }
        ByteRange::Suffix(length) => length <= size,
    };
    if inside {
        Ok(())
    } else {
        Err(InvalidByteRangeError::new(*range, size).into())
    }
}

impl GuardedReads {
    /// Checks the value read at `range` of a key of `size` bytes (known for partial reads).
    fn check_read(&self, range: &ByteRange, value: &[u8], size: Option<u64>) -> Result<(), String> {
        let whole = matches!(range, ByteRange::FromStart(0, None));
        match &self.layout {
            _ if whole => check_value(&self.layout, value),
            // Partial reads of unsharded chunks are of raw elements: every compressor (and
            // checksum) in zarrs reads the whole value.
            Layout::Plain(_) => Ok(()),
            Layout::Sharded(shard) if !shard.outer.is_empty() => Ok(()),
            Layout::Sharded(shard) => {
                let index_read = if shard.index_at_end {
                    *range == ByteRange::Suffix(shard.index_bytes)
                } else {
                    *range == ByteRange::FromStart(0, Some(shard.index_bytes))
                };
                let len = size
                    .and_then(|s| usize::try_from(s).ok())
                    .unwrap_or(usize::MAX);
                if index_read && inner_chunks(shard, value, len).is_ok() {
                    return Ok(());
                }
                match &shard.inner {
                    // Partial reads inside nested shards: their ranges were checked above.
                    Layout::Sharded(_) => Ok(()),
                    inner => check_value(inner, value),
                }
            }
        }
    }
}

impl ReadableStorageTraits for GuardedReads {
    fn get_partial_many<'a>(
        &'a self,
        key: &StoreKey,
        byte_ranges: ByteRangeIterator<'a>,
    ) -> Result<MaybeBytesIterator<'a>, StorageError> {
        let ranges: Vec<ByteRange> = byte_ranges.collect();
        let whole = |r: &ByteRange| matches!(r, ByteRange::FromStart(0, None));
        let size = if ranges.iter().all(whole) {
            None
        } else {
            let Some(size) = self.inner.size_key(key)? else {
                return Ok(None);
            };
            for range in &ranges {
                check_range(range, size)?;
            }
            Some(size)
        };
        let Some(values) = self
            .inner
            .get_partial_many(key, Box::new(ranges.clone().into_iter()))?
        else {
            return Ok(None);
        };
        let values: Vec<Bytes> = values.collect::<Result<_, _>>()?;
        for (range, value) in ranges.iter().zip(&values) {
            self.check_read(range, value, size)
                .map_err(|message| StorageError::Other(format!("{key}: {message}")))?;
        }
        Ok(Some(Box::new(values.into_iter().map(Ok))))
    }

    fn size_key(&self, key: &StoreKey) -> Result<Option<u64>, StorageError> {
        self.inner.size_key(key)
    }

    fn supports_get_partial(&self) -> bool {
        self.inner.supports_get_partial()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zstd frame (level 1) of `bytes`.
    fn frame(bytes: &[u8]) -> Vec<u8> {
        // SAFETY: the destination has zstd's bound as capacity, the source is `bytes`.
        unsafe {
            let bound = zstd_sys::ZSTD_compressBound(bytes.len());
            let mut out = Vec::<u8>::with_capacity(bound);
            let n = zstd_sys::ZSTD_compress(
                out.as_mut_ptr().cast(),
                bound,
                bytes.as_ptr().cast(),
                bytes.len(),
                1,
            );
            assert_eq!(zstd_sys::ZSTD_isError(n), 0);
            out.set_len(n);
            out
        }
    }

    #[test]
    fn zstd_frames_may_not_declare_more_than_the_chunk() {
        let data = vec![3u8; 1000];
        let good = frame(&data);
        assert_eq!(check_zstd(&good, Some(1000)), Ok(()));
        assert_eq!(check_zstd(&good, None), Ok(()));
        // Two frames: their sizes add up.
        let two = [good.clone(), good.clone()].concat();
        assert_eq!(check_zstd(&two, Some(2000)), Ok(()));
        // More than a block beyond the chunk.
        let big = frame(&vec![3u8; 200_000]);
        assert!(check_zstd(&big, Some(200_000 - ZSTD_BLOCK_MAX)).is_ok());
        assert!(check_zstd(&big, Some(200_000 - ZSTD_BLOCK_MAX - 1)).is_err());
        // A declared size of 2^62 (single segment, 8-byte size field, one raw block).
        let mut lying = vec![0x28, 0xB5, 0x2F, 0xFD, 0xE0];
        lying.extend((1u64 << 62).to_le_bytes());
        lying.extend([1 | (4 << 3), 0, 0, 1, 2, 3, 4]);
        let err = check_zstd(&lying, Some(1000)).unwrap_err();
        assert!(err.contains("4611686018427387904"), "{err}");
        // Not frames at all, a cut frame.
        assert!(check_zstd(b"garbage", Some(1000)).is_err());
        assert!(check_zstd(&good[..good.len() - 1], Some(1000)).is_err());
    }

    #[test]
    fn blosc_buffers_must_be_valid_and_fit() {
        let data = vec![5u8; 1000];
        let mut out = vec![0u8; 1000 + 16];
        // SAFETY: the destination holds the input plus blosc's overhead.
        let n = unsafe {
            blosc_src::blosc_compress_ctx(
                5,
                1,
                1,
                data.len(),
                data.as_ptr().cast(),
                out.as_mut_ptr().cast(),
                out.len(),
                c"lz4".as_ptr(),
                0,
                1,
            )
        };
        out.truncate(usize::try_from(n).unwrap());
        assert_eq!(check_blosc(&out, Some(1000)), Ok(()));
        assert!(check_blosc(&out, Some(999)).is_err());
        assert!(check_blosc(&out[..out.len() - 1], Some(1000)).is_err());
        assert!(check_blosc(b"short", Some(1000)).is_err());
    }

    #[test]
    fn deflate_streams_may_not_inflate_past_the_chunk() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(9));
        gz.write_all(&vec![0u8; 1 << 20]).unwrap();
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() < 4096);
        assert_eq!(check_deflate(&bomb, true, Some(1 << 20)), Ok(()));
        assert!(check_deflate(&bomb, true, Some(1000)).is_err());
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(9));
        z.write_all(&vec![0u8; 1 << 20]).unwrap();
        let bomb = z.finish().unwrap();
        assert_eq!(check_deflate(&bomb, false, Some(1 << 20)), Ok(()));
        assert!(check_deflate(&bomb, false, Some(1000)).is_err());
    }

    #[test]
    fn byte_ranges_must_lie_inside_the_value() {
        let inside = [
            ByteRange::FromStart(0, None),
            ByteRange::FromStart(10, None),
            ByteRange::FromStart(4, Some(6)),
            ByteRange::Suffix(10),
        ];
        for range in inside {
            assert!(check_range(&range, 10).is_ok(), "{range:?}");
        }
        let outside = [
            ByteRange::FromStart(11, None),
            ByteRange::FromStart(4, Some(7)),
            ByteRange::FromStart(1 << 63, Some(1 << 63)),
            ByteRange::FromStart(0, Some(1 << 62)),
            ByteRange::Suffix(11),
        ];
        for range in outside {
            assert!(check_range(&range, 10).is_err(), "{range:?}");
        }
    }

    #[test]
    fn crc32c_needs_its_four_bytes() {
        let stages = [
            Stage::Crc32c { at_end: true },
            Stage::Zstd { bound: Some(8) },
        ];
        assert!(check_stages(&stages, b"abc").is_err());
        // After the checksum, the frame is checked.
        let good = [frame(&[1u8; 8]), vec![0; 4]].concat();
        assert_eq!(check_stages(&stages, &good), Ok(()));
        assert!(check_stages(&stages, &good[..good.len() - 5]).is_err());
    }
}

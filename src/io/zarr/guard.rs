//! Reads that never trust a size written in the data.
//!
//! zarrs allocates what a chunk's bytes declare before it decodes them: the content size in
//! a zstd frame header (`2^62` aborts the process), a blosc header's `nbytes`, the byte
//! ranges of a shard index (a read of `offset..offset + length` allocates `length` first).
//! [`GuardedReads`] wraps the store that a source reads chunks from and checks every value
//! before zarrs sees it, against what the array's metadata says a chunk can hold:
//! - every byte range must lie inside the stored value;
//! - zstd frames must declare the chunk's size (frames that declare none, which streaming
//!   writers make, are decoded once into a buffer of the chunk's size and counted);
//! - a blosc buffer must be valid and declare the chunk's size;
//! - a gzip or zlib stream must inflate to the chunk's size (counted by inflating into a
//!   small scratch buffer, as these formats declare nothing up front);
//! - a shard's index must point inside the shard, and each inner chunk passes the same
//!   checks against the inner chunk's size;
//! - a crc32c checksum must be there before it is stripped;
//! - an uncompressed value must have the chunk's size (also the pieces of raw inner chunks:
//!   their lengths are checked when the shard index is read).
//!
//! "The chunk's size" is exact in a regular grid (zarrs would otherwise decode a value too
//! long and keep its start: a silently wrong chunk), and the largest chunk's in others.
//! A value that fails is a storage error naming the check; the source then reports the
//! chunk's key. The checks read headers only (zstd's walk visits block headers), except
//! for deflate streams and zstd frames without sizes. Codecs nested under a compressor (a
//! blosc buffer inside a zstd frame) are checked at the outermost compressor only.

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
    Bytes, ListableStorageTraits, MaybeBytesIterator, OffsetBytesIterator, ReadableStorageTraits,
    ReadableWritableListableStorage, StorageError, StoreKey, StoreKeys, StoreKeysPrefixes,
    StorePrefix, WritableStorageTraits,
};

use crate::chunks::chunk_counts;

/// How many bytes a codec's decoded value may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Size {
    /// Exactly this many (the chunk's elements, in a regular grid).
    Exact(u64),
    /// At most this many (the largest chunk of an irregular grid, or a compressor's bound).
    AtMost(u64),
    /// Not known (variable-size data): nothing is checked.
    Unknown,
}

impl Size {
    /// The size of a decoded value of `representation`; `exact` if every chunk has it.
    fn of(representation: BytesRepresentation, exact: bool) -> Size {
        match representation {
            BytesRepresentation::FixedSize(n) if exact => Size::Exact(n),
            BytesRepresentation::FixedSize(n) | BytesRepresentation::BoundedSize(n) => {
                Size::AtMost(n)
            }
            BytesRepresentation::UnboundedSize => Size::Unknown,
        }
    }

    /// Whether a decoded value of `n` bytes may be right.
    fn admits(self, n: u64) -> bool {
        match self {
            Size::Exact(m) => n == m,
            Size::AtMost(m) => n <= m,
            Size::Unknown => true,
        }
    }

    /// The most bytes a decoded value may have.
    fn limit(self) -> Option<u64> {
        match self {
            Size::Exact(m) | Size::AtMost(m) => Some(m),
            Size::Unknown => None,
        }
    }
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Size::Exact(n) => write!(f, "{n} bytes"),
            Size::AtMost(n) => write!(f, "at most {n} bytes"),
            Size::Unknown => f.write_str("an unknown number of bytes"),
        }
    }
}

/// A bytes-to-bytes codec as far as the guard is concerned, in decoding order.
#[derive(Clone, Debug, PartialEq)]
enum Stage {
    /// A crc32c checksum of 4 bytes at the end (or the start) of the value.
    Crc32c { at_end: bool },
    /// zstd frames decoding to `size`.
    Zstd(Size),
    /// One blosc buffer decoding to `size`.
    Blosc(Size),
    /// A gzip (`gzip: true`) or zlib stream inflating to `size`.
    Deflate { gzip: bool, size: Size },
    /// Any other codec: nothing is checked from here on.
    Other,
}

/// What a chunk's stored bytes look like.
#[derive(Clone, Debug)]
enum Layout {
    /// Bytes-to-bytes stages (outermost first) over an array-to-bytes codec whose output
    /// has `raw` bytes.
    Plain { stages: Vec<Stage>, raw: Size },
    /// A shard: an index of `(offset, length)` pairs and inner chunks.
    Sharded(Box<Shard>),
}

impl Layout {
    /// The most bytes a stored value of this layout can take: twice the decoded size plus
    /// 64 KiB per value (every compressor's worst case is far below; raw values are
    /// exact), so a whole value is never read into memory on the word of its file size
    /// alone. `None` where the decoded size is unknown.
    fn max_stored(&self) -> Option<u64> {
        match self {
            Layout::Plain { raw, .. } => raw
                .limit()
                .map(|n| n.saturating_mul(2).saturating_add(1 << 16)),
            Layout::Sharded(shard) => {
                let chunks = shard.index_shape[..shard.index_shape.len() - 1]
                    .iter()
                    .try_fold(1u64, |n, c| n.checked_mul(c.get()))?;
                let inner = shard.inner.max_stored()?;
                Some(
                    inner
                        .saturating_mul(chunks)
                        .saturating_add(shard.index_bytes)
                        .saturating_add(1 << 16),
                )
            }
        }
    }
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
    /// Reads from `inner` of the chunks of an array with `codecs`, chunks of `chunk_shape`
    /// elements of `data_type` (at most, unless `regular`: then every chunk has that
    /// shape). An error if the codecs cannot say what their values hold.
    pub(super) fn new(
        inner: ReadableWritableListableStorage,
        codecs: &CodecChain,
        (chunk_shape, regular): (&[NonZeroU64], bool),
        data_type: &DataType,
        fill_value: &FillValue,
    ) -> Result<GuardedReads, String> {
        let layout = layout_of(codecs, chunk_shape, regular, data_type, fill_value)?;
        Ok(GuardedReads { inner, layout })
    }
}

/// The layout of chunks of `shape` (at most, unless `exact`) encoded by `codecs`.
fn layout_of(
    codecs: &CodecChain,
    shape: &[NonZeroU64],
    exact: bool,
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
    let raw = Size::of(representation, exact);
    let b2b = codecs.bytes_to_bytes_codecs();
    let mut exact = exact;
    let mut stages = Vec::with_capacity(b2b.len());
    for codec in b2b {
        let (name, config) = describe(codec.as_ref());
        stages.push(stage_of(&name, &config, Size::of(representation, exact)));
        exact = false; // compressed sizes vary
        representation = codec.encoded_representation(&representation);
    }
    stages.reverse();
    // Only the outermost compressor's output size is known from the metadata: a compressor
    // inside another would be decoded by zarrs from a size written in the data.
    let compressors = stages
        .iter()
        .filter(|s| !matches!(s, Stage::Crc32c { .. }))
        .count();
    if compressors > 1 {
        return Err("a compressor inside another: its decoded size cannot be bounded".into());
    }
    let (name, config) = describe(codecs.array_to_bytes_codec().as_ref());
    if name != "sharding_indexed" {
        return Ok(Layout::Plain { stages, raw });
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
    let lengths = |shape: &[NonZeroU64]| shape.iter().map(|n| n.get()).collect::<Vec<_>>();
    let mut index_shape: Vec<NonZeroU64> = chunk_counts(&lengths(&shape), &lengths(&inner_shape))
        .into_iter()
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
    // Every inner chunk has the inner chunk shape.
    let inner = layout_of(&inner_codecs, &inner_shape, true, &data_type, &fill_value)?;
    if matches!(inner, Layout::Sharded(_)) {
        return Err("shards inside shards: their inner indexes cannot be bounded".into());
    }
    Ok(Layout::Sharded(Box::new(Shard {
        outer: stages,
        index_codecs,
        index_shape,
        index_bytes,
        index_at_end,
        inner,
    })))
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

/// The stage of the codec `name` configured by `config`, whose decoded value has `size`.
fn stage_of(name: &str, config: &Json, size: Size) -> Stage {
    match name {
        "crc32c" => Stage::Crc32c {
            at_end: config.get("location").and_then(Json::as_str) != Some("start"),
        },
        "zstd" => Stage::Zstd(size),
        "blosc" => Stage::Blosc(size),
        "gzip" => Stage::Deflate { gzip: true, size },
        "zlib" | "numcodecs.zlib" => Stage::Deflate { gzip: false, size },
        _ => Stage::Other,
    }
}

/// Checks a value that `stages` (outermost first) decode into `raw` bytes: an error says
/// what is wrong.
fn check_stages(stages: &[Stage], raw: Size, mut bytes: &[u8]) -> Result<(), String> {
    for stage in stages {
        match *stage {
            Stage::Crc32c { at_end } => {
                let rest = bytes
                    .len()
                    .checked_sub(4)
                    .ok_or("value shorter than its crc32c checksum")?;
                bytes = if at_end { &bytes[..rest] } else { &bytes[4..] };
            }
            Stage::Zstd(size) => return check_zstd(bytes, size),
            Stage::Blosc(size) => return check_blosc(bytes, size),
            Stage::Deflate { gzip, size } => return check_deflate(bytes, gzip, size),
            Stage::Other => return Ok(()),
        }
    }
    check_raw(bytes.len() as u64, raw)
}

/// Uncompressed bytes must have the chunk's size: zarrs reads the start of a longer value.
fn check_raw(len: u64, raw: Size) -> Result<(), String> {
    if raw.admits(len) {
        Ok(())
    } else {
        Err(format!("{len} bytes stored, but the chunk holds {raw}"))
    }
}

/// zstd frames must declare `size` in all (read from their headers). Frames that do not
/// declare their sizes (rare: streaming writers) are decoded once into a buffer of the
/// chunk's size and counted.
fn check_zstd(bytes: &[u8], size: Size) -> Result<(), String> {
    // SAFETY: zstd reads `bytes` only (frame and block headers).
    let declared =
        unsafe { zstd_sys::ZSTD_findDecompressedSize(bytes.as_ptr().cast(), bytes.len()) };
    if declared == zstd_sys::ZSTD_CONTENTSIZE_ERROR as u64 {
        return Err("not a sequence of whole zstd frames".into());
    }
    if declared != zstd_sys::ZSTD_CONTENTSIZE_UNKNOWN as u64 {
        return if size.admits(declared) {
            Ok(())
        } else {
            Err(format!(
                "zstd frames declare {declared} bytes, but the chunk holds {size}"
            ))
        };
    }
    let Some(limit) = size.limit().and_then(|n| usize::try_from(n).ok()) else {
        return Ok(());
    };
    let mut scratch = vec![0u8; limit.saturating_add(1)];
    // SAFETY: zstd writes at most `scratch.len()` bytes into `scratch` and reads `bytes`.
    let decoded = unsafe {
        zstd_sys::ZSTD_decompress(
            scratch.as_mut_ptr().cast(),
            scratch.len(),
            bytes.as_ptr().cast(),
            bytes.len(),
        )
    };
    // SAFETY: a pure function of the code.
    let failed = unsafe { zstd_sys::ZSTD_isError(decoded) } != 0;
    if failed || !size.admits(decoded as u64) {
        return Err(format!(
            "zstd frames without declared sizes do not decode to the chunk's {size}"
        ));
    }
    Ok(())
}

/// A blosc buffer must be valid (its header's compressed size is the value's length) and
/// declare `size`.
fn check_blosc(bytes: &[u8], size: Size) -> Result<(), String> {
    let mut declared = 0usize;
    // SAFETY: blosc reads the header of `bytes` only after checking its length.
    let invalid = unsafe {
        blosc_src::blosc_cbuffer_validate(bytes.as_ptr().cast(), bytes.len(), &mut declared)
    } != 0;
    if invalid {
        return Err("not a valid blosc buffer".into());
    }
    if size.admits(declared as u64) {
        Ok(())
    } else {
        Err(format!(
            "blosc header declares {declared} bytes, but the chunk holds {size}"
        ))
    }
}

/// A gzip or zlib stream must inflate to `size`. These formats declare nothing up front,
/// so the stream is inflated into a small scratch buffer and counted, stopping past the
/// most the chunk holds. A broken stream is left to zarrs, which stops where this did.
fn check_deflate(bytes: &[u8], gzip: bool, size: Size) -> Result<(), String> {
    use std::io::Read;
    let Some(limit) = size.limit() else {
        return Ok(());
    };
    let mut decoder: Box<dyn Read> = if gzip {
        Box::new(flate2::read::GzDecoder::new(bytes))
    } else {
        Box::new(flate2::read::ZlibDecoder::new(bytes))
    };
    let mut scratch = vec![0u8; 1 << 16];
    let mut total = 0u64;
    while total <= limit {
        match decoder.read(&mut scratch) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n as u64,
        }
    }
    if size.admits(total) {
        Ok(())
    } else if total > limit {
        Err(format!(
            "deflate stream inflates to more than the chunk's {size}"
        ))
    } else {
        Err(format!(
            "deflate stream inflates to {total} bytes, but the chunk holds {size}"
        ))
    }
}

/// Checks a whole stored chunk (or shard) of `layout`.
fn check_value(layout: &Layout, bytes: &[u8]) -> Result<(), String> {
    match layout {
        Layout::Plain { stages, raw } => check_stages(stages, *raw, bytes),
        Layout::Sharded(shard) if !shard.outer.is_empty() => {
            // The index is inside compressed data: only the outer layer can be checked.
            check_stages(&shard.outer, Size::Unknown, bytes)
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
    /// The most bytes a stored value (chunk or shard) of this array can take, where known.
    pub(super) fn max_stored(&self) -> Option<u64> {
        self.layout.max_stored()
    }

    /// Checks the value read at `range` of a key of `size` bytes (known for partial reads).
    fn check_read(&self, range: &ByteRange, value: &[u8], size: Option<u64>) -> Result<(), String> {
        let whole = matches!(range, ByteRange::FromStart(0, None));
        match &self.layout {
            _ if whole => check_value(&self.layout, value),
            // Partial reads of unsharded chunks are of raw elements (every compressor and
            // checksum in zarrs reads the whole value): the value must have the chunk's size.
            Layout::Plain { raw, .. } => size.map_or(Ok(()), |size| check_raw(size, *raw)),
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
                if index_read {
                    // The index's own range holds nothing else, so an index that does not
                    // decode is reported as such (not as an inner chunk that does not).
                    let inner = inner_chunks(shard, value, len)?;
                    // Raw inner chunks are read in pieces: their lengths are checked here.
                    return match &shard.inner {
                        Layout::Plain { stages, raw } if stages.is_empty() => inner
                            .iter()
                            .try_for_each(|r| check_raw(r.len() as u64, *raw)),
                        _ => Ok(()),
                    };
                }
                match &shard.inner {
                    // Pieces of raw inner chunks, and partial reads inside nested shards:
                    // their ranges were checked above.
                    Layout::Plain { stages, .. } if stages.is_empty() => Ok(()),
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
            // The store reads a whole value into memory at the size it reports: refuse
            // sizes no chunk of this layout can have before anything is allocated.
            if let (Some(size), Some(limit)) = (self.inner.size_key(key)?, self.layout.max_stored())
                && size > limit
            {
                return Err(StorageError::Other(format!(
                    "{key}: {size} bytes stored, more than a chunk of at most {limit} bytes \
                     can take"
                )));
            }
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

/// Writes go to the store unchanged: writers read through the guard (a partial chunk is
/// read, updated and written back) and write as they would without it.
impl WritableStorageTraits for GuardedReads {
    fn set(&self, key: &StoreKey, value: Bytes) -> Result<(), StorageError> {
        self.inner.set(key, value)
    }
    fn set_partial_many(
        &self,
        key: &StoreKey,
        offset_values: OffsetBytesIterator,
    ) -> Result<(), StorageError> {
        self.inner.set_partial_many(key, offset_values)
    }
    fn erase(&self, key: &StoreKey) -> Result<(), StorageError> {
        self.inner.erase(key)
    }
    fn erase_prefix(&self, prefix: &StorePrefix) -> Result<(), StorageError> {
        self.inner.erase_prefix(prefix)
    }
    fn supports_set_partial(&self) -> bool {
        self.inner.supports_set_partial()
    }
}

impl ListableStorageTraits for GuardedReads {
    fn list(&self) -> Result<StoreKeys, StorageError> {
        self.inner.list()
    }
    fn list_prefix(&self, prefix: &StorePrefix) -> Result<StoreKeys, StorageError> {
        self.inner.list_prefix(prefix)
    }
    fn list_dir(&self, prefix: &StorePrefix) -> Result<StoreKeysPrefixes, StorageError> {
        self.inner.list_dir(prefix)
    }
    fn size_prefix(&self, prefix: &StorePrefix) -> Result<u64, StorageError> {
        self.inner.size_prefix(prefix)
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
    fn zstd_frames_must_declare_the_chunk() {
        let data = vec![3u8; 1000];
        let good = frame(&data);
        assert_eq!(check_zstd(&good, Size::Exact(1000)), Ok(()));
        assert_eq!(check_zstd(&good, Size::AtMost(1000)), Ok(()));
        assert_eq!(check_zstd(&good, Size::Unknown), Ok(()));
        assert!(check_zstd(&good, Size::Exact(1001)).is_err());
        assert!(check_zstd(&good, Size::AtMost(999)).is_err());
        // Two frames: their sizes add up.
        let two = [good.clone(), good.clone()].concat();
        assert_eq!(check_zstd(&two, Size::Exact(2000)), Ok(()));
        assert!(check_zstd(&two, Size::Exact(1000)).is_err());
        // A declared size of 2^62 (single segment, 8-byte size field, one raw block).
        let mut lying = vec![0x28, 0xB5, 0x2F, 0xFD, 0xE0];
        lying.extend((1u64 << 62).to_le_bytes());
        lying.extend([1 | (4 << 3), 0, 0, 1, 2, 3, 4]);
        let err = check_zstd(&lying, Size::AtMost(1000)).unwrap_err();
        assert!(err.contains("4611686018427387904"), "{err}");
        // The same raw block in a frame that declares no size: decoded and counted.
        let unsized_frame = [
            0x28,
            0xB5,
            0x2F,
            0xFD,
            0x00,
            0x50,
            1 | (4 << 3),
            0,
            0,
            1,
            2,
            3,
            4,
        ];
        assert_eq!(check_zstd(&unsized_frame, Size::Exact(4)), Ok(()));
        assert!(check_zstd(&unsized_frame, Size::Exact(5)).is_err());
        assert!(check_zstd(&unsized_frame, Size::AtMost(3)).is_err());
        // Not frames at all, a cut frame.
        assert!(check_zstd(b"garbage", Size::Exact(1000)).is_err());
        assert!(check_zstd(&good[..good.len() - 1], Size::Exact(1000)).is_err());
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
        assert_eq!(check_blosc(&out, Size::Exact(1000)), Ok(()));
        assert_eq!(check_blosc(&out, Size::AtMost(1000)), Ok(()));
        assert!(check_blosc(&out, Size::Exact(1001)).is_err());
        assert!(check_blosc(&out, Size::AtMost(999)).is_err());
        assert!(check_blosc(&out[..out.len() - 1], Size::Exact(1000)).is_err());
        assert!(check_blosc(b"short", Size::Exact(1000)).is_err());
    }

    #[test]
    fn deflate_streams_may_not_inflate_past_the_chunk() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(9));
        gz.write_all(&vec![0u8; 1 << 20]).unwrap();
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() < 4096);
        assert_eq!(check_deflate(&bomb, true, Size::Exact(1 << 20)), Ok(()));
        assert_eq!(check_deflate(&bomb, true, Size::AtMost(1 << 20)), Ok(()));
        assert!(check_deflate(&bomb, true, Size::Exact((1 << 20) + 1)).is_err());
        assert!(check_deflate(&bomb, true, Size::AtMost(1000)).is_err());
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(9));
        z.write_all(&vec![0u8; 1 << 20]).unwrap();
        let bomb = z.finish().unwrap();
        assert_eq!(check_deflate(&bomb, false, Size::Exact(1 << 20)), Ok(()));
        assert!(check_deflate(&bomb, false, Size::AtMost(1000)).is_err());
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
        let stages = [Stage::Crc32c { at_end: true }, Stage::Zstd(Size::Exact(8))];
        let raw = Size::Exact(8);
        assert!(check_stages(&stages, raw, b"abc").is_err());
        // After the checksum, the frame is checked.
        let good = [frame(&[1u8; 8]), vec![0; 4]].concat();
        assert_eq!(check_stages(&stages, raw, &good), Ok(()));
        assert!(check_stages(&stages, raw, &good[..good.len() - 5]).is_err());
        // Without a compressor, what remains must have the chunk's size.
        let crc = [Stage::Crc32c { at_end: true }];
        assert_eq!(check_stages(&crc, raw, &[0; 12]), Ok(()));
        assert!(check_stages(&crc, raw, &[0; 13]).is_err());
        assert!(check_stages(&[], raw, &[0; 7]).is_err());
        assert_eq!(check_stages(&[], Size::AtMost(8), &[0; 7]), Ok(()));
    }
}

//! Decoding a whole stored chunk straight into a tile's buffer, for the common layouts:
//! plain little-endian elements in C order compressed by zstd or blosc alone.
//!
//! The general path (zarrs' codec chain) decompresses into a byte vector and then copies
//! into the tile; these functions write the tile once. Each returns `None` for anything
//! unexpected (a missing chunk, a frame that does not decode to exactly the tile), and the
//! caller then takes the general path, which reports errors with the chunk's key.

use std::io::Read;
use std::path::{Path, PathBuf};

use chunkwise_kernels::dtype::{DType, Element};
use serde_json::Value as Json;
use zarrs::storage::Bytes;

use super::store::Handle;

/// A compressor whose frames [`decompress_into`] decodes into a tile's own buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Compressor {
    /// One zstd frame per chunk.
    Zstd,
    /// One blosc buffer per chunk.
    Blosc,
}

/// The compressor, when the array's chunks are its elements in C order, little-endian (this
/// machine's order), compressed by zstd or blosc and nothing else: v3 codecs `[bytes(little),
/// zstd | blosc]`, or v2 with that compressor, no filters and C order.
pub(super) fn direct_compressor(array: &Handle) -> Option<Compressor> {
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

/// Whether any bytes decoded into a buffer of `T` are a valid `T`: true for the numbers,
/// false for `bool` (only 0 and 1 are). Bool chunks take the general path, which checks.
pub(super) fn any_bytes_are_valid<T: Element>() -> bool {
    T::DTYPE != DType::Bool
}

/// Decompresses the frame `encoded` straight into a new buffer of `len` elements: no
/// intermediate byte buffer, no zero-filling. `None` unless the frame decompresses to
/// exactly `len` elements (the caller then takes the general path, which reports errors).
pub(super) fn decompress_into<T: Element>(
    compressor: Compressor,
    encoded: &[u8],
    len: usize,
) -> Option<Vec<T>> {
    if !any_bytes_are_valid::<T>() {
        return None;
    }
    let bytes = len.checked_mul(std::mem::size_of::<T>())?;
    let mut out: Vec<T> = Vec::with_capacity(len);
    let destination = out.as_mut_ptr().cast::<std::ffi::c_void>();
    let source = encoded.as_ptr().cast::<std::ffi::c_void>();
    // SAFETY: both libraries write at most `bytes` bytes (the buffer's spare capacity) and
    // read only `encoded` (blosc after validating its header against `encoded.len()`).
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
    // SAFETY: all `len` elements were written above, and any bytes are a valid `T` (checked
    // at the top).
    unsafe { out.set_len(len) };
    Some(out)
}

/// The size of a zstd block header: read with the block before it, so that a block costs
/// one read.
const BLOCK_HEADER: usize = 3;

/// The most compressed bytes a step of [`stream_zstd`] takes (a block, stored raw at worst:
/// `ZSTD_BLOCKSIZE_MAX`), with the next block's header read along from a file.
const STEP_BYTES: usize = (1 << 17) + BLOCK_HEADER;

/// Where the zstd frame of one whole chunk is streamed from.
pub(super) enum ZstdFrame {
    /// A chunk file of a local store.
    File(PathBuf),
    /// A chunk fetched from object storage, in the pieces its body arrived in.
    Pieces(Vec<Bytes>),
}

impl ZstdFrame {
    /// Where the frame is decoded from, as a read's `tracing` span records it.
    pub(super) fn describe(&self) -> &'static str {
        match self {
            ZstdFrame::File(_) => "zstd blocks of the chunk file",
            ZstdFrame::Pieces(_) => "zstd blocks of the fetched body",
        }
    }

    /// The frame decompressed into `len` elements, block by block, `decoded` seeing each
    /// prefix (see [`stream_zstd_file`] and [`stream_zstd_pieces`]).
    pub(super) fn stream<T: Element>(
        &self,
        len: usize,
        decoded: &mut dyn FnMut(&[T]),
    ) -> Option<Vec<T>> {
        match self {
            ZstdFrame::File(path) => stream_zstd_file(path, len, decoded),
            ZstdFrame::Pieces(pieces) => stream_zstd_pieces(pieces, len, decoded),
        }
    }
}

/// Decompresses the zstd frame in the chunk file `path` into a new buffer of `len`
/// elements, block by block (see [`stream_zstd`]): each block's bytes are read into a small
/// buffer and decoded straight into place, so the compressed chunk is never held whole.
/// `None` if the file is missing or unreadable, or does not hold exactly one frame of `len`
/// elements.
fn stream_zstd_file<T: Element>(
    path: &Path,
    len: usize,
    decoded: &mut dyn FnMut(&[T]),
) -> Option<Vec<T>> {
    let file = std::fs::File::open(path).ok()?;
    stream_zstd(
        &mut FileInput {
            file,
            buffer: vec![0u8; STEP_BYTES],
            start: 0,
            end: 0,
        },
        len,
        decoded,
    )
}

/// Decompresses the zstd frame made of `pieces` (a body as it arrived from the network)
/// into a new buffer of `len` elements, block by block (see [`stream_zstd`]): a block that
/// lies in one piece is decoded from it in place, one that straddles pieces is gathered
/// into a small buffer first. `None` unless the pieces hold exactly one frame of `len`
/// elements.
fn stream_zstd_pieces<T: Element, P: AsRef<[u8]>>(
    pieces: &[P],
    len: usize,
    decoded: &mut dyn FnMut(&[T]),
) -> Option<Vec<T>> {
    let mut input = PiecesInput {
        pieces,
        piece: 0,
        at: 0,
        gathered: Vec::new(),
    };
    stream_zstd(&mut input, len, decoded)
}

/// The bytes of one zstd frame, handed to the decoder a step at a time.
trait FrameInput {
    /// The next `need` bytes, contiguous; `None` if the input ends first or cannot be read.
    fn take(&mut self, need: usize) -> Option<&[u8]>;
    /// Whether any bytes follow those taken (`None`: the input cannot be read).
    fn has_more(&mut self) -> Option<bool>;
}

/// A chunk file, read a block (and the next block's header) at a time.
struct FileInput {
    file: std::fs::File,
    buffer: Vec<u8>,
    /// The bytes read but not yet taken: `buffer[start..end]`.
    start: usize,
    end: usize,
}

impl FrameInput for FileInput {
    fn take(&mut self, need: usize) -> Option<&[u8]> {
        if self.end - self.start < need {
            self.buffer.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
            // This step's bytes, and the next block's header where the file has one: a
            // block then costs one read.
            let want = (need + BLOCK_HEADER).min(self.buffer.len());
            while self.end < want {
                match self.file.read(&mut self.buffer[self.end..want]) {
                    Ok(0) => break,
                    Ok(got) => self.end += got,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => return None,
                }
            }
            if self.end < need {
                return None; // the file ends inside the frame
            }
        }
        self.start += need;
        Some(&self.buffer[self.start - need..self.start])
    }

    fn has_more(&mut self) -> Option<bool> {
        Some(self.start < self.end || self.file.read(&mut [0u8; 1]).ok()? != 0)
    }
}

/// A value in pieces: steps inside one piece are taken in place, others gathered.
struct PiecesInput<'a, P> {
    pieces: &'a [P],
    /// The piece the next step starts in, and the offset in it.
    piece: usize,
    at: usize,
    /// A step's bytes gathered from several pieces.
    gathered: Vec<u8>,
}

impl<'a, P: AsRef<[u8]>> PiecesInput<'a, P> {
    /// The untaken rest of the current piece, after skipping pieces taken whole.
    fn rest(&mut self) -> &'a [u8] {
        let pieces: &'a [P] = self.pieces;
        while self.piece < pieces.len() && self.at == pieces[self.piece].as_ref().len() {
            (self.piece, self.at) = (self.piece + 1, 0);
        }
        match pieces.get(self.piece) {
            Some(piece) => &piece.as_ref()[self.at..],
            None => &[],
        }
    }
}

impl<P: AsRef<[u8]>> FrameInput for PiecesInput<'_, P> {
    fn take(&mut self, need: usize) -> Option<&[u8]> {
        let rest = self.rest();
        if rest.len() >= need {
            self.at += need;
            return Some(&rest[..need]);
        }
        self.gathered.clear();
        while self.gathered.len() < need {
            let want = need - self.gathered.len();
            let rest = self.rest();
            if rest.is_empty() {
                return None; // the value ends inside the frame
            }
            let got = rest.len().min(want);
            self.gathered.extend_from_slice(&rest[..got]);
            self.at += got;
        }
        Some(&self.gathered)
    }

    fn has_more(&mut self) -> Option<bool> {
        Some(!self.rest().is_empty())
    }
}

/// Decompresses the one zstd frame of `input` into a new buffer of `len` elements, block
/// by block (at most 128 KiB of output each), each decoded straight into place: no
/// intermediate buffer of the whole chunk, no zero-filling. After each block, `decoded`
/// sees the elements decoded so far, while they are still in cache. `None` unless the
/// input holds exactly one frame of `len` elements and nothing after it.
fn stream_zstd<T: Element>(
    input: &mut dyn FrameInput,
    len: usize,
    decoded: &mut dyn FnMut(&[T]),
) -> Option<Vec<T>> {
    if !any_bytes_are_valid::<T>() {
        return None;
    }
    let bytes = len.checked_mul(std::mem::size_of::<T>())?;
    let context = DecompressionContext::new()?;
    let mut out: Vec<T> = Vec::with_capacity(len);
    let destination = out.as_mut_ptr().cast::<u8>();
    let mut written = 0;
    loop {
        // SAFETY: a valid context.
        let need = unsafe { zstd_sys::ZSTD_nextSrcSizeToDecompress(context.0) };
        if need == 0 {
            break; // the frame is complete (and its checksum, if any, verified)
        }
        if need > STEP_BYTES {
            return None;
        }
        let step = input.take(need)?;
        // SAFETY: the destination is the unwritten rest of `out`'s capacity (`bytes -
        // written` bytes); zstd writes only there, reads the `need` bytes of `step`, and
        // refers back only to what it wrote before in the same buffer.
        let produced = unsafe {
            zstd_sys::ZSTD_decompressContinue(
                context.0,
                destination.add(written).cast(),
                bytes - written,
                step.as_ptr().cast(),
                need,
            )
        };
        // SAFETY: a pure function of the returned code.
        if unsafe { zstd_sys::ZSTD_isError(produced) } != 0 {
            return None;
        }
        if produced > 0 {
            written += produced;
            let ready = written / std::mem::size_of::<T>();
            // SAFETY: zstd wrote the first `written` bytes of the buffer and writes only
            // after them from here on (the slice ends before the next call); any bytes are
            // a valid `T` (checked at the top).
            decoded(unsafe { std::slice::from_raw_parts(out.as_ptr(), ready) });
        }
    }
    // Nothing may follow the frame.
    if input.has_more()? || written != bytes {
        return None;
    }
    // SAFETY: zstd wrote all `bytes` bytes of the buffer, and any bytes are a valid `T`
    // (checked at the top).
    unsafe { out.set_len(len) };
    Some(out)
}

/// A zstd decompression context, ready to decode one frame block by block, freed on drop.
struct DecompressionContext(*mut zstd_sys::ZSTD_DCtx);

impl DecompressionContext {
    fn new() -> Option<DecompressionContext> {
        // SAFETY: creating a context has no preconditions; null means out of memory.
        let context = unsafe { zstd_sys::ZSTD_createDCtx() };
        if context.is_null() {
            return None;
        }
        let context = DecompressionContext(context);
        // SAFETY: a valid context.
        let code = unsafe { zstd_sys::ZSTD_decompressBegin(context.0) };
        // SAFETY: a pure function of the returned code.
        (unsafe { zstd_sys::ZSTD_isError(code) } == 0).then_some(context)
    }
}

impl Drop for DecompressionContext {
    fn drop(&mut self) {
        // SAFETY: the context came from ZSTD_createDCtx and is freed once.
        unsafe { zstd_sys::ZSTD_freeDCtx(self.0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zstd frame (level 1) of `values`.
    fn frame(values: &[f64]) -> Vec<u8> {
        let bytes = std::mem::size_of_val(values);
        // SAFETY: the bound is zstd's, the destination has that capacity, and the source
        // is `values`' bytes.
        unsafe {
            let bound = zstd_sys::ZSTD_compressBound(bytes);
            let mut out = Vec::<u8>::with_capacity(bound);
            let n = zstd_sys::ZSTD_compress(
                out.as_mut_ptr().cast(),
                bound,
                values.as_ptr().cast(),
                bytes,
                1,
            );
            assert_eq!(zstd_sys::ZSTD_isError(n), 0);
            out.set_len(n);
            out
        }
    }

    /// Values that barely compress (xorshift bits), so the frame spans several reads.
    fn noise(n: usize) -> Vec<f64> {
        let mut rng = crate::test_rng::Lcg::new(7);
        (0..n)
            .map(|_| f64::from_bits(rng.next_u64() >> 2))
            .collect()
    }

    #[test]
    fn streams_a_frame_exactly_and_refuses_anything_else() {
        let dir = std::env::temp_dir().join(format!("chunkwise-direct-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let values = noise(300_000); // 2.4 MB: many blocks
        let encoded = frame(&values);
        assert!(encoded.len() > 2 * STEP_BYTES);
        let file = dir.join("chunk");
        std::fs::write(&file, &encoded).unwrap();
        let mut seen = Vec::new();
        let back = stream_zstd_file::<f64>(&file, values.len(), &mut |prefix| {
            assert!(prefix.len() >= seen.last().copied().unwrap_or(0));
            assert!(
                prefix
                    .iter()
                    .zip(&values)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
            );
            seen.push(prefix.len());
        })
        .unwrap();
        // Several pieces, the last the whole tile.
        assert!(seen.len() > 2, "{seen:?}");
        assert_eq!(seen.last(), Some(&values.len()));
        assert!(
            back.iter()
                .zip(&values)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        assert_eq!(back.len(), values.len());
        // The tile is larger or smaller than the frame.
        assert!(stream_zstd_file::<f64>(&file, values.len() + 1, &mut |_| {}).is_none());
        assert!(stream_zstd_file::<f64>(&file, values.len() - 1, &mut |_| {}).is_none());
        // The same bytes are not valid booleans in general: bool takes the checked path.
        assert!(stream_zstd_file::<bool>(&file, values.len() * 8, &mut |_| {}).is_none());
        assert!(decompress_into::<bool>(Compressor::Zstd, &encoded, values.len() * 8).is_none());
        // A cut frame, stray bytes after the frame (in a later read), an empty file, no file.
        std::fs::write(&file, &encoded[..encoded.len() - 1]).unwrap();
        assert!(stream_zstd_file::<f64>(&file, values.len(), &mut |_| {}).is_none());
        let mut padded = encoded.clone();
        padded.extend(std::iter::repeat_n(0u8, STEP_BYTES));
        std::fs::write(&file, &padded).unwrap();
        assert!(stream_zstd_file::<f64>(&file, values.len(), &mut |_| {}).is_none());
        std::fs::write(&file, b"").unwrap();
        assert!(stream_zstd_file::<f64>(&file, values.len(), &mut |_| {}).is_none());
        std::fs::remove_file(&file).unwrap();
        assert!(stream_zstd_file::<f64>(&file, values.len(), &mut |_| {}).is_none());
        // The same frame in pieces, as a body arrives: one piece, pieces of every few
        // bytes, and pieces that split blocks and headers at odd places.
        let splits: [&dyn Fn(usize) -> usize; 3] =
            [&|_| usize::MAX, &|_| 7, &|k| 1 + k * 9973 % 70_001];
        for split in splits {
            let mut pieces = Vec::new();
            let mut rest = &encoded[..];
            while !rest.is_empty() {
                let (piece, after) = rest.split_at(split(pieces.len()).min(rest.len()));
                pieces.push(piece);
                rest = after;
            }
            let mut prefixes = 0;
            let back = stream_zstd_pieces::<f64, _>(&pieces, values.len(), &mut |prefix| {
                assert!(
                    prefix
                        .iter()
                        .zip(&values)
                        .all(|(a, b)| a.to_bits() == b.to_bits())
                );
                prefixes += 1;
            })
            .unwrap();
            assert!(prefixes > 2);
            assert!(
                back.iter()
                    .zip(&values)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
            );
            // Cut, or followed by a stray byte in a piece of its own: refused.
            let cut = &pieces[..pieces.len() - 1];
            assert!(stream_zstd_pieces::<f64, _>(cut, values.len(), &mut |_| {}).is_none());
            let mut stray = pieces.clone();
            stray.push(&[0]);
            assert!(stream_zstd_pieces::<f64, _>(&stray, values.len(), &mut |_| {}).is_none());
        }
        let no_pieces: [&[u8]; 0] = [];
        assert!(stream_zstd_pieces::<f64, _>(&no_pieces, values.len(), &mut |_| {}).is_none());
        // The one-shot decoder agrees.
        let once = decompress_into::<f64>(Compressor::Zstd, &encoded, values.len()).unwrap();
        assert!(
            once.iter()
                .zip(&values)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

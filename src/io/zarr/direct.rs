//! Decoding a whole stored chunk straight into a tile's buffer, for the common layouts:
//! plain little-endian elements in C order compressed by zstd or blosc alone.
//!
//! The general path (zarrs' codec chain) decompresses into a byte vector and then copies
//! into the tile; these functions write the tile once. Each returns `None` for anything
//! unexpected (a missing chunk, a frame that does not decode to exactly the tile), and the
//! caller then takes the general path, which reports errors with the chunk's key.

use std::io::Read;
use std::path::Path;

use chunkwise_kernels::dtype::{DType, Element};
use serde_json::Value as Json;

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

/// The most compressed bytes one step of [`stream_zstd_file`] takes: a block, stored raw at
/// worst (`ZSTD_BLOCKSIZE_MAX`), and the next block's header.
const STEP_BYTES: usize = (1 << 17) + BLOCK_HEADER;

/// Decompresses the zstd frame in the chunk file `path` into a new buffer of `len`
/// elements, block by block (at most 128 KiB of output each): each block's bytes are read
/// into a small buffer and decoded straight into place, so the compressed chunk is never
/// held whole and nothing is copied on the way but the read itself. After each block,
/// `decoded` sees the elements decoded so far, while they are still in cache. `None` if the
/// file is missing or unreadable, or does not hold exactly one frame of `len` elements.
pub(super) fn stream_zstd_file<T: Element>(
    path: &Path,
    len: usize,
    decoded: &mut dyn FnMut(&[T]),
) -> Option<Vec<T>> {
    if !any_bytes_are_valid::<T>() {
        return None;
    }
    let bytes = len.checked_mul(std::mem::size_of::<T>())?;
    let mut file = std::fs::File::open(path).ok()?;
    let context = DecompressionContext::new()?;
    let mut out: Vec<T> = Vec::with_capacity(len);
    let destination = out.as_mut_ptr().cast::<u8>();
    let mut written = 0;
    let mut buffer = vec![0u8; STEP_BYTES];
    // The bytes read but not yet decoded: `buffer[start..end]`.
    let (mut start, mut end) = (0, 0);
    loop {
        // SAFETY: a valid context.
        let need = unsafe { zstd_sys::ZSTD_nextSrcSizeToDecompress(context.0) };
        if need == 0 {
            break; // the frame is complete (and its checksum, if any, verified)
        }
        if need > buffer.len() {
            return None;
        }
        if end - start < need {
            buffer.copy_within(start..end, 0);
            (start, end) = (0, end - start);
            // This step's bytes, and the next block's header where the file has one.
            let want = (need + BLOCK_HEADER).min(buffer.len());
            while end < want {
                match file.read(&mut buffer[end..want]) {
                    Ok(0) => break,
                    Ok(got) => end += got,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => return None,
                }
            }
            if end < need {
                return None; // the file ends inside the frame
            }
        }
        // SAFETY: the destination is the unwritten rest of `out`'s capacity (`bytes -
        // written` bytes); zstd writes only there, reads `need` bytes of `buffer`, and
        // refers back only to what it wrote before in the same buffer.
        let produced = unsafe {
            zstd_sys::ZSTD_decompressContinue(
                context.0,
                destination.add(written).cast(),
                bytes - written,
                buffer[start..].as_ptr().cast(),
                need,
            )
        };
        // SAFETY: a pure function of the returned code.
        if unsafe { zstd_sys::ZSTD_isError(produced) } != 0 {
            return None;
        }
        start += need;
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
    let trailing = start < end || file.read(&mut [0u8; 1]).ok()? != 0;
    if trailing || written != bytes {
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

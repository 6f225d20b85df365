//! Decoding a whole stored chunk straight into a tile's buffer, for the common layouts:
//! plain little-endian elements in C order compressed by zstd or blosc alone.
//!
//! The general path (zarrs' codec chain) decompresses into a byte vector and then copies
//! into the tile; these functions write the tile once. Each returns `None` for anything
//! unexpected (a missing chunk, a frame that does not decode to exactly the tile), and the
//! caller then takes the general path, which reports errors with the chunk's key.

use std::io::Read;
use std::path::Path;

use chunkwise_kernels::dtype::Element;
use serde_json::Value as Json;

use super::read::Handle;

/// A compressor whose frames [`decompress_into`] decodes into a tile's own buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Compressor {
    Zstd,
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

/// Decompresses the frame `encoded` straight into a new buffer of `len` elements: no
/// intermediate byte buffer, no zero-filling. `None` unless the frame decompresses to
/// exactly `len` elements (the caller then takes the general path, which reports errors).
pub(super) fn decompress_into<T: Element>(
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

/// Bytes read from a chunk file at a time by [`stream_zstd_file`]: small enough to stay in
/// the L2 cache while zstd consumes them (512 KiB measured 4% faster than 128 KiB, and than
/// reading the whole file first).
const READ_BYTES: usize = 512 << 10;

/// Decompresses the zstd frame in the chunk file `path` into a new buffer of `len`
/// elements, streaming the file through a small buffer: the compressed chunk is never held
/// whole, so it does not go through main memory twice. `None` if the file is missing or
/// unreadable, or the frame is not exactly one frame of `len` elements.
pub(super) fn stream_zstd_file<T: Element>(path: &Path, len: usize) -> Option<Vec<T>> {
    let bytes = len.checked_mul(std::mem::size_of::<T>())?;
    let mut file = std::fs::File::open(path).ok()?;
    let context = DecompressionContext::new()?;
    let mut out: Vec<T> = Vec::with_capacity(len);
    let mut output = zstd_sys::ZSTD_outBuffer {
        dst: out.as_mut_ptr().cast(),
        size: bytes,
        pos: 0,
    };
    let mut buffer = vec![0u8; READ_BYTES];
    // zstd's return value: 0 once the frame is complete, otherwise a hint of what remains.
    let mut remaining = 1;
    loop {
        let got = file.read(&mut buffer).ok()?;
        if got == 0 {
            break;
        }
        let mut input = zstd_sys::ZSTD_inBuffer {
            src: buffer.as_ptr().cast(),
            size: got,
            pos: 0,
        };
        while input.pos < input.size {
            if remaining == 0 {
                return None; // bytes after the frame
            }
            // SAFETY: `output` describes the spare capacity of `out` (`bytes` bytes, never
            // moved while decoding), `input` the bytes just read; zstd writes only within
            // `output.size` and advances the positions.
            remaining =
                unsafe { zstd_sys::ZSTD_decompressStream(context.0, &mut output, &mut input) };
            // SAFETY: a pure function of the returned code.
            if unsafe { zstd_sys::ZSTD_isError(remaining) } != 0 {
                return None;
            }
            if remaining != 0 && output.pos == output.size && input.pos < input.size {
                return None; // the frame holds more than the tile
            }
        }
    }
    if remaining != 0 || output.pos != bytes {
        return None;
    }
    // SAFETY: zstd wrote all `bytes` bytes of the buffer, and every bit pattern is a valid
    // `T` (plain numbers; booleans are stored as 0 or 1).
    unsafe { out.set_len(len) };
    Some(out)
}

/// A zstd decompression context that writes straight into the caller's buffer, freed on
/// drop.
struct DecompressionContext(*mut zstd_sys::ZSTD_DCtx);

impl DecompressionContext {
    fn new() -> Option<DecompressionContext> {
        // SAFETY: creating a context has no preconditions; null means out of memory.
        let context = unsafe { zstd_sys::ZSTD_createDCtx() };
        if context.is_null() {
            return None;
        }
        let context = DecompressionContext(context);
        // "Stable output buffer": the output never moves between calls, so zstd decodes into
        // it directly instead of through its own window buffer.
        // SAFETY: a valid context and a parameter zstd 1.5 knows.
        let code = unsafe {
            zstd_sys::ZSTD_DCtx_setParameter(
                context.0,
                zstd_sys::ZSTD_dParameter::ZSTD_d_experimentalParam2,
                1,
            )
        };
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

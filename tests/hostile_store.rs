//! Hostile stores: chunk bytes and metadata written to hurt the reader. Every read gives the
//! right values or an `Error` naming the array or the chunk; never a panic, an abort or a
//! wrong value.
//!
//! Decoders are C libraries and allocators abort the process, so the decoder cases run in a
//! child process (this test binary again, running one test): an abort or a crash there fails
//! the test instead of killing the whole run.

#![allow(missing_docs)]

#[path = "common/hostile_util.rs"]
mod hostile_util;
#[path = "common/zarr_util.rs"]
mod zarr_util;

#[path = "hostile_store/metadata.rs"]
mod metadata;

use std::io::Read;
use std::path::Path;

use chunkwise::io::zarr::{
    self, BloscCompressor, BloscShuffle, Compression, OpenOptions, WriteOptions, ZarrVersion,
};
use chunkwise::{Chunks, Error, StorageError, from_ndarray};
use hostile_util::*;
use ndarray::{ArrayD, IxDyn, s};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::{Value as Json, json};
use zarr_util::*;

/// The array every case writes: 16 x 16 f64 in chunks of 8 x 8 (512 bytes each).
const SHAPE: [usize; 2] = [16, 16];
const CHUNK: [usize; 2] = [8, 8];
const CHUNK_BYTES: usize = 8 * 8 * 8;

/// The array's values.
fn data() -> ArrayD<f64> {
    formula::<f64>(&SHAPE)
}

/// Writes [`data`] as array `name` of `dir` with `options`, in place of any array there.
fn write(dir: &Path, name: &str, options: &WriteOptions) {
    let _ = std::fs::remove_dir_all(dir.join(name));
    from_ndarray(&data(), CHUNK)
        .unwrap()
        .to_zarr(dir, name, options)
        .unwrap();
}

/// Asserts that `read` failed with a corrupt chunk whose key ends with `key`.
#[track_caller]
fn assert_fails_naming<T: std::fmt::Debug>(read: chunkwise::Result<T>, key: &str, label: &str) {
    match read {
        Ok(_) => panic!("{label}: read a value where {key} is corrupt"),
        Err(err) => assert_corrupt_chunk(&err, key, label),
    }
}

/// Reads array `name` of `dir` whole (tiles = stored chunks), then summed (the streamed
/// path for zstd), then in tiles of 4 x 4 (partial reads of chunks and shards): each must
/// fail naming the chunk `key`.
#[track_caller]
fn assert_every_read_names(dir: &Path, name: &str, key: &str) {
    let a = zarr::open(dir, name).unwrap().into_typed::<f64>().unwrap();
    assert_fails_naming(a.compute(), key, &format!("{name} whole"));
    assert_fails_naming(a.sum().compute(), key, &format!("{name} summed"));
    let options = OpenOptions {
        chunks: Some(Chunks::from([4, 4])),
    };
    let small = zarr::open_with(dir, name, &options).unwrap();
    let small = small.into_typed::<f64>().unwrap();
    assert_fails_naming(small.compute(), key, &format!("{name} in 4 x 4 tiles"));
    // What does not touch the chunk still reads.
    let top = a.slice(s![0..8, ..]).unwrap().compute().unwrap();
    assert_same(&top, &data().slice(s![0..8, ..]).to_owned(), name);
}

#[test]
fn zstd_frames_declaring_huge_sizes_are_corrupt_chunks() {
    // A 4 KB chunk whose frame header declares 2^62 bytes: zarrs allocated that much and the
    // process aborted.
    in_child(
        "zstd_frames_declaring_huge_sizes_are_corrupt_chunks",
        || {
            let dir = TempDir::new("hostile-zstd");
            let d = dir.path();
            let zstd = WriteOptions::default().compression(Compression::Zstd { level: 3 });
            let cases = [
                ("v3", zstd.clone(), "v3/c/1/0"),
                ("v2", zstd.clone().version(ZarrVersion::V2), "v2/1.0"),
            ];
            for (name, options, key) in cases {
                for declared in [1u64 << 62, 1 << 40, (CHUNK_BYTES as u64) << 20] {
                    for single_segment in [true, false] {
                        write(d, name, &options);
                        let frame = lying_zstd_frame(declared, single_segment, &[7u8; 4000]);
                        std::fs::write(d.join(key), frame).unwrap();
                        assert_every_read_names(d, name, key);
                    }
                }
            }
        },
    );
}

#[test]
fn blosc_headers_declaring_other_sizes_are_corrupt_chunks() {
    in_child(
        "blosc_headers_declaring_other_sizes_are_corrupt_chunks",
        || {
            let dir = TempDir::new("hostile-blosc");
            let d = dir.path();
            let options = WriteOptions::default().compression(Compression::Blosc {
                cname: BloscCompressor::Lz4,
                clevel: 5,
                shuffle: BloscShuffle::Shuffle,
            });
            let key = "b/c/1/0";
            // nbytes is the u32 at bytes 4..8 of the header.
            for declared in [u32::MAX, (1 << 31) - 17, 1 << 20, CHUNK_BYTES as u32 + 8, 0] {
                write(d, "b", &options);
                let mut bytes = std::fs::read(d.join(key)).unwrap();
                bytes[4..8].copy_from_slice(&declared.to_le_bytes());
                std::fs::write(d.join(key), bytes).unwrap();
                assert_every_read_names(d, "b", key);
            }
        },
    );
}

/// The sharded layout of the shard tests: shards of 8 x 8 (one per stored chunk of
/// [`data`]) holding inner chunks of 4 x 4, zstd, index (4 entries and a crc32c) at the end.
fn sharded() -> WriteOptions {
    WriteOptions::default()
        .compression(Compression::Zstd { level: 3 })
        .chunks([4, 4])
        .shards(CHUNK)
}

/// The index entries of the shard `bytes` (index at the end, 4 entries, crc32c), checking
/// the checksum helper against the stored one.
fn shard_index(bytes: &[u8]) -> Vec<(u64, u64)> {
    let at = bytes.len() - 68;
    let stored = u32::from_le_bytes(bytes[at + 64..].try_into().unwrap());
    assert_eq!(crc32c(&bytes[at..at + 64]), stored, "the crc32c helper");
    (0..4)
        .map(|i| {
            let word = |j: usize| {
                let k = at + 16 * i + 8 * j;
                u64::from_le_bytes(bytes[k..k + 8].try_into().unwrap())
            };
            (word(0), word(1))
        })
        .collect()
}

/// Replaces entry `entry` of the shard index of `bytes` and its checksum.
fn set_shard_entry(bytes: &mut [u8], entry: usize, offset: u64, length: u64) {
    let at = bytes.len() - 68;
    let k = at + 16 * entry;
    bytes[k..k + 8].copy_from_slice(&offset.to_le_bytes());
    bytes[k + 8..k + 16].copy_from_slice(&length.to_le_bytes());
    let crc = crc32c(&bytes[at..at + 64]);
    bytes[at + 64..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn shard_indexes_pointing_outside_the_shard_are_corrupt_chunks() {
    // Offsets and lengths beyond the shard: a partial read allocated the length it was asked
    // for (2^62 aborted), and offset + length overflowed in zarrs.
    in_child(
        "shard_indexes_pointing_outside_the_shard_are_corrupt_chunks",
        || {
            let dir = TempDir::new("hostile-shard");
            let d = dir.path();
            let key = "s/c/1/1";
            let entries = |len: u64| {
                [
                    (0, 1u64 << 62),
                    (1u64 << 63, 1 << 63),
                    (u64::MAX, 1),
                    (len - 1, 2),
                    (len, 0),
                    (0, 3),
                ]
            };
            write(d, "s", &sharded());
            let original = std::fs::read(d.join(key)).unwrap();
            let index = shard_index(&original);
            assert!(index.iter().all(|&(o, n)| o + n <= original.len() as u64));
            for (offset, length) in entries(original.len() as u64) {
                for entry in [0, 3] {
                    let mut bytes = original.clone();
                    set_shard_entry(&mut bytes, entry, offset, length);
                    std::fs::write(d.join(key), &bytes).unwrap();
                    assert_every_read_names(d, "s", key);
                }
            }
            // An inner chunk whose zstd frame lies about its size, at a valid place.
            let mut bytes = original.clone();
            let (offset, length) = index[2];
            let frame = lying_zstd_frame(1 << 62, true, &vec![1u8; length as usize - 16]);
            assert_eq!(frame.len() as u64, length);
            bytes[offset as usize..(offset + length) as usize].copy_from_slice(&frame);
            std::fs::write(d.join(key), &bytes).unwrap();
            assert_every_read_names(d, "s", key);
            // An index whose checksum does not match: reads of single inner chunks say so.
            let mut bytes = original.clone();
            let at = bytes.len() - 68;
            bytes[at] ^= 1;
            std::fs::write(d.join(key), &bytes).unwrap();
            let tiles = OpenOptions {
                chunks: Some(Chunks::Shape(vec![4, 4])),
            };
            let a = zarr::open_with(d, "s", &tiles).unwrap();
            let err = a.into_typed::<f64>().unwrap().compute().unwrap_err();
            assert!(err.to_string().contains("shard index"), "{err}");
        },
    );
}

/// Turns the uncompressed v2 array `name` of `dir` into a zlib one (numcodecs' `zlib`).
fn recompress_as_zlib(dir: &Path, name: &str) {
    use std::io::Write;
    let meta = dir.join(name).join(".zarray");
    let mut json: Json = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    json["compressor"] = json!({"id": "zlib", "level": 1});
    std::fs::write(&meta, json.to_string()).unwrap();
    for key in files_under(&dir.join(name)) {
        if !key.starts_with('.') {
            let path = dir.join(name).join(key);
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            z.write_all(&std::fs::read(&path).unwrap()).unwrap();
            std::fs::write(&path, z.finish().unwrap()).unwrap();
        }
    }
}

#[test]
fn deflate_bombs_are_corrupt_chunks_before_they_inflate() {
    // A 512-byte chunk stored as a 1 MB deflate stream of 1 GiB of zeros: zarrs inflated it
    // whole (6 GB resident) and kept its first 512 bytes; in a child limited to 768 MiB
    // the inflation ran out of memory instead.
    in_child_within(
        "deflate_bombs_are_corrupt_chunks_before_they_inflate",
        Some(768 << 20),
        || {
            let dir = TempDir::new("hostile-deflate");
            let d = dir.path();
            let gzip = WriteOptions::default().compression(Compression::Gzip { level: 5 });
            let v2 = WriteOptions::default().version(ZarrVersion::V2);
            let cases = [
                ("v3", gzip.clone(), "v3/c/1/0", true),
                (
                    "v2",
                    v2.clone().compression(Compression::Gzip { level: 5 }),
                    "v2/1.0",
                    true,
                ),
                ("zlib", v2.compression(Compression::None), "zlib/1.0", false),
            ];
            let gz = deflate_bomb(true, 1 << 30);
            let z = deflate_bomb(false, 1 << 30);
            for (name, options, key, is_gzip) in cases {
                write(d, name, &options);
                if !is_gzip {
                    recompress_as_zlib(d, name);
                }
                std::fs::write(d.join(key), if is_gzip { &gz } else { &z }).unwrap();
                assert_every_read_names(d, name, key);
            }
            // Refused before inflating: the process never held more than a few chunks.
            let peak = peak_resident_bytes();
            assert!(peak < 256 << 20, "peak resident memory {peak} bytes");
        },
    );
}

/// `bytes` encoded as a chunk of codec `codec` of [`codecs`] (not sharded) would store it.
fn encode(codec: &str, bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    match codec {
        "raw" => bytes.to_vec(),
        "zstd" | "zstd2" => {
            let mut out = vec![0u8; bytes.len() + 1024];
            // SAFETY: zstd writes at most `out.len()` bytes into `out` and reads `bytes`.
            let n = unsafe {
                zstd_sys::ZSTD_compress(
                    out.as_mut_ptr().cast(),
                    out.len(),
                    bytes.as_ptr().cast(),
                    bytes.len(),
                    3,
                )
            };
            out.truncate(n);
            out
        }
        "lz4" | "bzstd" => {
            let mut out = vec![0u8; bytes.len() + 16];
            let name = if codec == "lz4" { c"lz4" } else { c"zstd" };
            // SAFETY: the destination holds the input plus blosc's overhead.
            let n = unsafe {
                blosc_src::blosc_compress_ctx(
                    5,
                    1,
                    8,
                    bytes.len(),
                    bytes.as_ptr().cast(),
                    out.as_mut_ptr().cast(),
                    out.len(),
                    name.as_ptr(),
                    0,
                    1,
                )
            };
            out.truncate(usize::try_from(n).unwrap());
            out
        }
        "gzip" | "gzip2" => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(5));
            gz.write_all(bytes).unwrap();
            gz.finish().unwrap()
        }
        _ => unreachable!("no encoder for {codec}"),
    }
}

#[test]
fn chunks_of_the_wrong_size_are_corrupt_not_truncated() {
    // Well-formed chunks that decode to more (or fewer) bytes than the chunk holds. zarrs
    // kept the first 512 bytes of a longer gzip or blosc chunk: a silently wrong chunk.
    in_child("chunks_of_the_wrong_size_are_corrupt_not_truncated", || {
        let dir = TempDir::new("hostile-size");
        let d = dir.path();
        for (codec, options) in codecs()
            .into_iter()
            .filter(|(c, _)| !c.starts_with("shard"))
        {
            let key = if codec.ends_with('2') {
                format!("{codec}/1.0")
            } else {
                format!("{codec}/c/1/0")
            };
            for len in [CHUNK_BYTES / 2, CHUNK_BYTES + 8, 2 * CHUNK_BYTES] {
                write(d, codec, &options);
                let values: Vec<u8> = (0..len / 8)
                    .flat_map(|i| f64::at(i).to_le_bytes())
                    .collect();
                std::fs::write(d.join(&key), encode(codec, &values)).unwrap();
                println!("{codec}: a chunk of {len} bytes");
                assert_every_read_names(d, codec, &key);
            }
        }
    });
}

#[test]
fn missing_chunks_read_as_the_fill_value() {
    // Zarr semantics: a chunk that was never written holds the fill value.
    let dir = TempDir::new("missing");
    let d = dir.path();
    let cases = [
        ("v3", WriteOptions::default(), "v3/c/1/0", "v3/zarr.json"),
        (
            "v2",
            WriteOptions::default().version(ZarrVersion::V2),
            "v2/1.0",
            "v2/.zarray",
        ),
        ("sh", sharded(), "sh/c/1/0", "sh/zarr.json"),
    ];
    for (name, options, key, meta) in cases {
        write(d, name, &options);
        let mut json: Json = serde_json::from_slice(&std::fs::read(d.join(meta)).unwrap()).unwrap();
        json["fill_value"] = json!(-7.5);
        std::fs::write(d.join(meta), json.to_string()).unwrap();
        std::fs::remove_file(d.join(key)).unwrap();
        let mut expected = data();
        expected.slice_mut(s![8..16, 0..8]).fill(-7.5);
        let a = zarr::open(d, name).unwrap().into_typed::<f64>().unwrap();
        assert_same(&a.compute().unwrap(), &expected, name);
        let sum = a.sum().compute_scalar().unwrap();
        assert!(
            (sum - expected.sum()).abs() <= 1e-12 * expected.sum().abs(),
            "{name}: {sum}"
        );
    }
}

/// How a test mutates a stored chunk.
#[derive(Clone, Debug)]
enum Mutation {
    /// Keep the first `keep` of its bytes (a fraction).
    Truncate(f64),
    /// Flip bit `bit` of the byte at `at` (a fraction of the length).
    FlipBit(f64, u8),
    /// Write `value` over the codec's size field (zstd's content size, blosc's nbytes,
    /// gzip's ISIZE; a shard's first index entry).
    LyingHeader(u64),
    /// Append bytes.
    Append(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0.0..1.0f64).prop_map(Mutation::Truncate),
        (0.0..1.0f64, 0..8u8).prop_map(|(at, bit)| Mutation::FlipBit(at, bit)),
        prop_oneof![
            Just(1u64 << 62),
            Just(u64::MAX),
            Just(CHUNK_BYTES as u64 + 1),
            Just(CHUNK_BYTES as u64 - 8),
            Just(0u64),
            any::<u64>(),
        ]
        .prop_map(Mutation::LyingHeader),
        proptest::collection::vec(any::<u8>(), 1..40).prop_map(Mutation::Append),
    ]
}

/// The codecs the chunk mutation test writes with.
fn codecs() -> Vec<(&'static str, WriteOptions)> {
    let blosc = |cname| Compression::Blosc {
        cname,
        clevel: 5,
        shuffle: BloscShuffle::Shuffle,
    };
    let v3 = WriteOptions::default();
    vec![
        ("raw", v3.clone().compression(Compression::None)),
        (
            "zstd",
            v3.clone().compression(Compression::Zstd { level: 3 }),
        ),
        (
            "zstd2",
            v3.clone()
                .compression(Compression::Zstd { level: 3 })
                .version(ZarrVersion::V2),
        ),
        ("lz4", v3.clone().compression(blosc(BloscCompressor::Lz4))),
        (
            "bzstd",
            v3.clone().compression(blosc(BloscCompressor::Zstd)),
        ),
        (
            "gzip",
            v3.clone().compression(Compression::Gzip { level: 5 }),
        ),
        (
            "gzip2",
            v3.clone()
                .compression(Compression::Gzip { level: 5 })
                .version(ZarrVersion::V2),
        ),
        ("shard", sharded()),
        ("shardraw", sharded().compression(Compression::None)),
    ]
}

/// Applies `mutation` to the chunk `bytes` written by codec `codec`.
fn mutate(codec: &str, bytes: &mut Vec<u8>, mutation: &Mutation) {
    let at = |fraction: f64, len: usize| ((fraction * len as f64) as usize).min(len - 1);
    match mutation {
        Mutation::Truncate(keep) => bytes.truncate(at(*keep, bytes.len())),
        Mutation::FlipBit(fraction, bit) => {
            let i = at(*fraction, bytes.len());
            bytes[i] ^= 1 << bit;
        }
        Mutation::LyingHeader(value) => match codec {
            "zstd" | "zstd2" => {
                // The frame content size field, after the descriptor (and window byte).
                let descriptor = bytes[4];
                let size = [1, 2, 4, 8][usize::from(descriptor >> 6)];
                let single = descriptor & 0x20 != 0;
                let dict = [0, 1, 2, 4][usize::from(descriptor & 3)];
                let start = 5 + usize::from(!single) + dict;
                if descriptor >> 6 == 0 && !single {
                    bytes[5] = 0xFF; // no size field: lie about the window instead
                } else {
                    bytes[start..start + size].copy_from_slice(&value.to_le_bytes()[..size]);
                }
            }
            "lz4" | "bzstd" => bytes[4..8].copy_from_slice(&(*value as u32).to_le_bytes()),
            "gzip" | "gzip2" => {
                let n = bytes.len();
                bytes[n - 4..].copy_from_slice(&(*value as u32).to_le_bytes());
            }
            "shard" | "shardraw" => set_shard_entry(bytes, 0, *value, 64),
            _ => bytes.extend_from_slice(&value.to_le_bytes()),
        },
        Mutation::Append(extra) => bytes.extend_from_slice(extra),
    }
}

/// An independent decoding of the chunk `bytes` of codec `codec` to exactly one chunk of
/// f64 (`None` if they are not one): raw bytes, zstd frames, a blosc buffer or a gzip
/// member, each decoded by its library without zarrs.
fn oracle(codec: &str, bytes: &[u8]) -> Option<Vec<f64>> {
    let decoded: Vec<u8> = match codec {
        "raw" => bytes.to_vec(),
        "zstd" | "zstd2" => {
            let mut out = vec![0u8; CHUNK_BYTES];
            // SAFETY: zstd writes at most CHUNK_BYTES into `out` and reads `bytes`.
            let n = unsafe {
                zstd_sys::ZSTD_decompress(
                    out.as_mut_ptr().cast(),
                    out.len(),
                    bytes.as_ptr().cast(),
                    bytes.len(),
                )
            };
            // SAFETY: a pure function of the code.
            if unsafe { zstd_sys::ZSTD_isError(n) } != 0 {
                return None;
            }
            out.truncate(n);
            out
        }
        "lz4" | "bzstd" => {
            let mut declared = 0usize;
            let mut out = vec![0u8; CHUNK_BYTES];
            // SAFETY: blosc validates the header against `bytes.len()` first, then writes
            // at most CHUNK_BYTES into `out`.
            unsafe {
                if blosc_src::blosc_cbuffer_validate(
                    bytes.as_ptr().cast(),
                    bytes.len(),
                    &mut declared,
                ) != 0
                    || declared != CHUNK_BYTES
                {
                    return None;
                }
                let n = blosc_src::blosc_decompress_ctx(
                    bytes.as_ptr().cast(),
                    out.as_mut_ptr().cast(),
                    out.len(),
                    1,
                );
                if n != CHUNK_BYTES as i32 {
                    return None;
                }
            }
            out
        }
        "gzip" | "gzip2" => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(bytes)
                .take(CHUNK_BYTES as u64 + 1)
                .read_to_end(&mut out)
                .ok()?;
            out
        }
        _ => unreachable!("no oracle for {codec}"),
    };
    (decoded.len() == CHUNK_BYTES).then(|| {
        decoded
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect()
    })
}

/// One case of the chunk mutation test: `mutation` of chunk (1, 0) of an array written with
/// `codec`; every read gives the oracle's values or names the chunk.
fn check_mutated_chunk(dir: &Path, codec: &str, options: &WriteOptions, mutation: &Mutation) {
    write(dir, codec, options);
    let key = if codec.ends_with('2') {
        format!("{codec}/1.0")
    } else {
        format!("{codec}/c/1/0")
    };
    let mut bytes = std::fs::read(dir.join(&key)).unwrap();
    let original = bytes.clone();
    mutate(codec, &mut bytes, mutation);
    std::fs::write(dir.join(&key), &bytes).unwrap();
    let label = format!("{codec} {mutation:?}");
    let a = zarr::open(dir, codec).unwrap().into_typed::<f64>().unwrap();
    let whole = a.compute();
    let summed = a.sum().compute();
    let options = OpenOptions {
        chunks: Some(Chunks::from([4, 4])),
    };
    let pieces = zarr::open_with(dir, codec, &options)
        .and_then(|any| any.into_typed::<f64>())
        .and_then(|small| small.compute());
    let expected = if codec.starts_with("shard") {
        // No independent decoder of shards: a shard that reads must read as zarrs reads it
        // (the guard passed it, so zarrs may decode it).
        whole.as_ref().ok().map(|_| {
            let store = zarrs::filesystem::FilesystemStore::new(dir).unwrap();
            let z = zarrs::array::Array::open(std::sync::Arc::new(store), &format!("/{codec}"))
                .unwrap();
            let all = zarrs::array::ArraySubset::new_with_ranges(&[0..16, 0..16]);
            z.retrieve_array_subset::<ArrayD<f64>>(&all).unwrap()
        })
    } else {
        oracle(codec, &bytes).map(|chunk| {
            let mut expected = data();
            let chunk = ArrayD::from_shape_vec(IxDyn(&CHUNK), chunk).unwrap();
            expected.slice_mut(s![8..16, 0..8]).assign(&chunk);
            expected
        })
    };
    match (&whole, expected) {
        (Ok(found), Some(expected)) => {
            assert_same(found, &expected, &label);
            assert!(summed.is_ok(), "{label}: sum failed: {summed:?}");
            assert_same(
                &pieces.unwrap(),
                &expected,
                &format!("{label} in 4 x 4 tiles"),
            );
        }
        (Err(err), None) => {
            assert_corrupt_chunk(err, &key, &label);
            assert_fails_naming(summed, &key, &format!("{label} summed"));
            assert_fails_naming(pieces, &key, &format!("{label} in 4 x 4 tiles"));
        }
        (found, expected) => panic!(
            "{label}: read {found:?}, but the oracle decodes {expected:?} (bytes changed: {})",
            bytes != original
        ),
    }
}

#[test]
fn mutated_chunks_read_correctly_or_name_the_chunk() {
    in_child("mutated_chunks_read_correctly_or_name_the_chunk", || {
        let dir = TempDir::new("mutated");
        // A run with fresh random cases, and runs with seeds that once found a blosc header
        // whose block offsets lie: zarrs decoded the chunk whole but not in part.
        let seeds = [None, Some(11), Some(15), Some(59)];
        for (codec, options) in codecs() {
            for seed in seeds {
                let mut config = ProptestConfig {
                    cases: 24,
                    failure_persistence: None,
                    ..ProptestConfig::default()
                };
                if let Some(seed) = seed {
                    config.rng_seed = proptest::test_runner::RngSeed::Fixed(seed);
                }
                TestRunner::new(config)
                    .run(&mutation(), |m| {
                        check_mutated_chunk(dir.path(), codec, &options, &m);
                        Ok(())
                    })
                    .unwrap();
            }
        }
    });
}

#[test]
fn writers_read_hostile_chunks_through_the_guard() {
    // A region write that updates part of a chunk reads the stored chunk first, and Resume
    // decodes every stored chunk: both went to zarrs unchecked, and a zstd frame declaring
    // 2^62 bytes aborted the process.
    in_child("writers_read_hostile_chunks_through_the_guard", || {
        let dir = TempDir::new("hostile-writers");
        let d = dir.path();
        let zstd = WriteOptions::default().compression(Compression::Zstd { level: 3 });
        let lie = || lying_zstd_frame(1 << 62, true, &[7u8; 4000]);
        write(d, "v3", &zstd);
        std::fs::write(d.join("v3/c/0/0"), lie()).unwrap();
        let patch = from_ndarray(&ArrayD::from_elem(IxDyn(&[2, 2]), 1.0f64), [2, 2]).unwrap();
        let err = patch
            .to_zarr_region(d, "v3", &[0..2, 0..2], &chunkwise::Config::default())
            .unwrap_err();
        assert!(err.to_string().contains("v3/c/0/0"), "{err}");
        // Resume rewrites the chunk that does not decode, and keeps the others.
        let whole = from_ndarray(&data(), CHUNK).unwrap();
        whole
            .to_zarr(d, "v3", &zstd.clone().mode(zarr::WriteMode::Resume))
            .unwrap();
        let back = zarr::open(d, "v3").unwrap().into_typed::<f64>().unwrap();
        assert_eq!(back.compute().unwrap(), data());
    });
}

#[test]
fn a_chunk_file_larger_than_any_chunk_is_refused_before_it_is_read() {
    // The store reads a whole value at the size of its file: a sparse 4 TiB file must be
    // refused from its size, not allocated.
    in_child(
        "a_chunk_file_larger_than_any_chunk_is_refused_before_it_is_read",
        || {
            let dir = TempDir::new("hostile-huge-file");
            let d = dir.path();
            // zstd chunks are streamed from their files; blosc ones are read whole.
            let blosc = WriteOptions::default().compression(Compression::Blosc {
                cname: BloscCompressor::Lz4,
                clevel: 5,
                shuffle: BloscShuffle::Shuffle,
            });
            for options in [WriteOptions::default(), blosc] {
                write(d, "v3", &options);
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(d.join("v3/c/1/1"))
                    .unwrap();
                file.set_len(4 << 40).unwrap();
                drop(file);
                let a = zarr::open(d, "v3").unwrap().into_typed::<f64>().unwrap();
                let err = a.compute().unwrap_err();
                assert!(err.to_string().contains("c/1/1"), "{err}");
            }
        },
    );
}

#[test]
fn chunk_shapes_larger_than_memory_are_refused_at_open_and_write() {
    // Metadata may give a chunk shape far beyond the array's shape: zarrs would build a
    // whole fill-value chunk of 2^46 bytes for a partial write.
    in_child(
        "chunk_shapes_larger_than_memory_are_refused_at_open_and_write",
        || {
            let dir = TempDir::new("hostile-chunk-shape");
            let d = dir.path();
            write(d, "v3", &WriteOptions::default());
            let path = d.join("v3/zarr.json");
            let mut meta: Json = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            meta["chunk_grid"]["configuration"]["chunk_shape"] = json!([1u64 << 40, 8]);
            std::fs::write(&path, meta.to_string()).unwrap();
            let opened = zarr::open(d, "v3");
            assert!(
                matches!(opened, Err(Error::Storage(StorageError::Storage { .. }))),
                "{opened:?}"
            );
            let patch = from_ndarray(&ArrayD::from_elem(IxDyn(&[2, 2]), 1.0f64), [2, 2]).unwrap();
            assert!(
                patch
                    .to_zarr_region(d, "v3", &[0..2, 0..2], &chunkwise::Config::default())
                    .is_err()
            );
        },
    );
}

#[test]
fn a_compressor_inside_another_is_refused() {
    // Only the outer compressor's size is known from the metadata: an inner zstd frame
    // declaring 2^62 bytes would be decoded unchecked.
    in_child("a_compressor_inside_another_is_refused", || {
        let dir = TempDir::new("hostile-nested");
        let d = dir.path();
        write(d, "v3", &WriteOptions::default());
        let path = d.join("v3/zarr.json");
        let mut meta: Json = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let zstd = json!({"name": "zstd", "configuration": {"level": 1, "checksum": false}});
        meta["codecs"] = json!([meta["codecs"][0].clone(), zstd.clone(), zstd]);
        std::fs::write(&path, meta.to_string()).unwrap();
        let inner = lying_zstd_frame(1 << 62, true, &[7u8; 4000]);
        let outer = zstd_frame(&inner);
        std::fs::write(d.join("v3/c/0/0"), outer).unwrap();
        let read = zarr::open(d, "v3").and_then(|a| a.into_typed::<f64>()?.compute());
        assert!(read.is_err(), "{read:?}");
    });
}

//! Zarr storage: round trips over formats, compressions, sharding, element types and shapes;
//! names and attributes; tile grids on open; lazy reads that touch only the chunks a slice
//! needs; dynamic element types; errors (missing stores, existing arrays, corrupt chunks,
//! unsupported types); resuming an interrupted write; groups.

#![allow(missing_docs)]

#[path = "common/zarr_util.rs"]
mod zarr_util;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chunkwise::io::zarr::{
    self, AnyArray, BloscCompressor, BloscShuffle, Compression, OpenOptions, Store, WriteMode,
    WriteOptions, ZarrVersion,
};
use chunkwise::{
    BuildError, ChunkGrid, Chunks, Config, DType, Error, ExecError, StorageError, from_fn,
    from_ndarray,
};
use ndarray::{ArrayD, IxDyn, s};
use serde_json::{Map, Value as Json, json};
use zarr_util::*;
use zarrs::filesystem::FilesystemStore;
use zarrs::storage::storage_adapter::performance_metrics::PerformanceMetricsStorageAdapter;

const COMPRESSIONS: [Compression; 5] = [
    Compression::None,
    Compression::Zstd { level: 3 },
    Compression::Blosc {
        cname: BloscCompressor::Lz4,
        clevel: 5,
        shuffle: BloscShuffle::Shuffle,
    },
    Compression::Blosc {
        cname: BloscCompressor::Zstd,
        clevel: 3,
        shuffle: BloscShuffle::BitShuffle,
    },
    Compression::Gzip { level: 5 },
];

/// (shape, tiles = storage chunks, shards): 1-d to 3-d, none a multiple of the chunks.
fn layouts() -> Vec<(Vec<usize>, Vec<usize>, Vec<usize>)> {
    vec![
        (vec![23], vec![5], vec![10]),
        (vec![13, 9], vec![4, 4], vec![8, 8]),
        (vec![5, 6, 7], vec![2, 4, 3], vec![4, 4, 6]),
    ]
}

/// Number of write units (chunks, or shards) of `shape` cut in `unit`.
fn n_units(shape: &[usize], unit: &[usize]) -> usize {
    shape
        .iter()
        .zip(unit)
        .map(|(n, u)| n.div_ceil(*u))
        .product()
}

/// The files of the array `name` that are not metadata.
fn chunk_files(dir: &Path, name: &str) -> Vec<String> {
    files_under(&dir.join(name))
        .into_iter()
        .filter(|f| !matches!(f.as_str(), "zarr.json" | ".zarray" | ".zattrs" | ".zgroup"))
        .collect()
}

/// Plants the temporary file that a write killed while storing `key` (in the store `dir`)
/// leaves beside it: `.<name>.<pid>-<n>-<nanos>.chunkwise-tmp`, with a pid above the
/// kernel's limit (2^22), so never a live one.
fn plant_leftover_temporary(dir: &Path, key: &str) {
    let (parent, name) = key.rsplit_once('/').unwrap();
    let parent = dir.join(parent);
    std::fs::create_dir_all(&parent).unwrap();
    std::fs::write(
        parent.join(format!(".{name}.4294967-0-0.chunkwise-tmp")),
        b"partial",
    )
    .unwrap();
}

fn read_json(path: &Path) -> Json {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Writes the formula over `shape` (tiles `tiles`) with `options`, reads it back through
/// `open` and checks dtype, shape, default tile grid (the write units) and values.
fn roundtrip<T: Formula>(
    dir: &Path,
    name: &str,
    shape: &[usize],
    tiles: &[usize],
    options: &WriteOptions,
) {
    let what = format!("{name} {:?} {:?}", options.version, options.compression);
    let data = formula::<T>(shape);
    let x = from_ndarray(&data, tiles.to_vec()).unwrap();
    x.to_zarr(dir, name, options)
        .unwrap_or_else(|e| panic!("{what}: to_zarr failed: {e}"));
    let any = zarr::open(dir, name).unwrap_or_else(|e| panic!("{what}: open failed: {e}"));
    assert_eq!(any.dtype(), T::DTYPE, "{what}");
    assert_eq!(any.shape(), shape, "{what}");
    let chunks = options.chunks.clone().unwrap_or_else(|| tiles.to_vec());
    let unit = options.shards.clone().unwrap_or(chunks);
    assert_eq!(
        any.chunks(),
        &ChunkGrid::regular(shape, &unit).unwrap(),
        "{what}: default tile grid"
    );
    // Units equal to the fill value everywhere may be left out (possible for bool here).
    let stored = chunk_files(dir, name).len();
    if T::DTYPE == DType::Bool {
        assert!(
            stored <= n_units(shape, &unit),
            "{what}: {stored} stored units"
        );
    } else {
        assert_eq!(stored, n_units(shape, &unit), "{what}: stored units");
    }
    let back = any.into_typed::<T>().unwrap().compute().unwrap();
    assert_same(&back, &data, &what);
}

/// Every element type, compression and layout in one format, sharded or not.
fn roundtrip_all(version: ZarrVersion, sharded: bool) {
    let dir = TempDir::new("roundtrip");
    let mut k = 0;
    for compression in COMPRESSIONS {
        for (shape, chunks, shards) in layouts() {
            let mut options = WriteOptions::default()
                .version(version)
                .compression(compression)
                .chunks(&chunks);
            if sharded {
                options = options.shards(&shards);
            }
            let d = dir.path();
            roundtrip::<f64>(d, &format!("a{k}_f64"), &shape, &chunks, &options);
            roundtrip::<f32>(d, &format!("a{k}_f32"), &shape, &chunks, &options);
            roundtrip::<i32>(d, &format!("a{k}_i32"), &shape, &chunks, &options);
            roundtrip::<u8>(d, &format!("a{k}_u8"), &shape, &chunks, &options);
            roundtrip::<bool>(d, &format!("a{k}_bool"), &shape, &chunks, &options);
            k += 1;
        }
    }
}

#[test]
fn roundtrip_v2() {
    roundtrip_all(ZarrVersion::V2, false);
}

#[test]
fn roundtrip_v3() {
    roundtrip_all(ZarrVersion::V3, false);
}

#[test]
fn roundtrip_v3_sharded() {
    roundtrip_all(ZarrVersion::V3, true);
}

#[test]
fn metadata_names_the_compression_and_sharding() {
    let dir = TempDir::new("meta");
    let x = from_ndarray(&formula::<f64>(&[13, 9]), [4, 4]).unwrap();
    let blosc = Compression::Blosc {
        cname: BloscCompressor::Lz4,
        clevel: 5,
        shuffle: BloscShuffle::Shuffle,
    };
    for (name, compression, codec) in [
        ("zstd", Compression::Zstd { level: 3 }, Some("zstd")),
        ("blosc", blosc, Some("blosc")),
        ("gzip", Compression::Gzip { level: 5 }, Some("gzip")),
        ("none", Compression::None, None),
    ] {
        let v2 = format!("v2_{name}");
        x.to_zarr(
            dir.path(),
            &v2,
            &WriteOptions::default()
                .version(ZarrVersion::V2)
                .compression(compression),
        )
        .unwrap();
        let meta = read_json(&dir.join(&v2).join(".zarray"));
        assert_eq!(meta["zarr_format"], 2);
        assert_eq!(meta["chunks"], json!([4, 4]));
        assert_eq!(meta["compressor"]["id"].as_str(), codec, "{meta}");

        let v3 = format!("v3_{name}");
        x.to_zarr(
            dir.path(),
            &v3,
            &WriteOptions::default().compression(compression),
        )
        .unwrap();
        let meta = read_json(&dir.join(&v3).join("zarr.json"));
        assert_eq!(meta["zarr_format"], 3);
        let names: Vec<&str> = meta["codecs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        let mut expected = vec!["bytes"];
        expected.extend(codec);
        assert_eq!(names, expected, "{meta}");

        let sharded = format!("v3_sharded_{name}");
        x.to_zarr(
            dir.path(),
            &sharded,
            &WriteOptions::default()
                .compression(compression)
                .shards([8, 8]),
        )
        .unwrap();
        let meta = read_json(&dir.join(&sharded).join("zarr.json"));
        assert_eq!(
            meta["chunk_grid"]["configuration"]["chunk_shape"],
            json!([8, 8])
        );
        assert_eq!(meta["codecs"][0]["name"], "sharding_indexed", "{meta}");
        assert_eq!(
            meta["codecs"][0]["configuration"]["chunk_shape"],
            json!([4, 4])
        );
    }
}

#[test]
fn tiles_that_differ_from_the_storage_chunks() {
    let dir = TempDir::new("rechunked");
    let data = formula::<f64>(&[17, 11]);
    let d = dir.path();

    // Tiles [5, 3] stored in chunks [4, 4].
    let x = from_ndarray(&data, [5, 3]).unwrap();
    x.to_zarr(d, "a", &WriteOptions::default().chunks([4, 4]))
        .unwrap();
    let a = zarr::open(d, "a").unwrap();
    assert_eq!(a.chunks(), &ChunkGrid::regular(&[17, 11], &[4, 4]).unwrap());
    assert_same(
        &a.into_typed::<f64>().unwrap().compute().unwrap(),
        &data,
        "a",
    );

    // Rechunked before writing, then stored in shards of chunks, and in v2.
    let y = from_ndarray(&data, [17, 11])
        .unwrap()
        .rechunk([6, 2])
        .unwrap();
    y.to_zarr(
        d,
        "b",
        &WriteOptions::default().chunks([4, 4]).shards([8, 8]),
    )
    .unwrap();
    y.to_zarr(
        d,
        "c",
        &WriteOptions::default()
            .version(ZarrVersion::V2)
            .chunks([7, 5]),
    )
    .unwrap();
    assert_same(
        &zarr::open(d, "b")
            .unwrap()
            .into_typed::<f64>()
            .unwrap()
            .compute()
            .unwrap(),
        &data,
        "b",
    );
    assert_same(
        &zarr::open(d, "c")
            .unwrap()
            .into_typed::<f64>()
            .unwrap()
            .compute()
            .unwrap(),
        &data,
        "c",
    );

    // Irregular tiles with no chunk shape given: the first tile's shape is the chunk shape.
    let z = from_ndarray(&data, Chunks::Sizes(vec![vec![3, 9, 5], vec![2, 9]])).unwrap();
    z.to_zarr(d, "d", &WriteOptions::default()).unwrap();
    let back = zarr::open(d, "d").unwrap();
    assert_eq!(
        back.chunks(),
        &ChunkGrid::regular(&[17, 11], &[3, 2]).unwrap()
    );
    assert_same(
        &back.into_typed::<f64>().unwrap().compute().unwrap(),
        &data,
        "d",
    );

    // A computed expression, not just a source.
    let e = &x * 2.0 + 1.0;
    e.to_zarr(d, "e", &WriteOptions::default().chunks([6, 6]))
        .unwrap();
    let expected = data.mapv(|v| v * 2.0 + 1.0);
    assert_same(
        &zarr::open(d, "e")
            .unwrap()
            .into_typed::<f64>()
            .unwrap()
            .compute()
            .unwrap(),
        &expected,
        "e",
    );
}

#[test]
fn each_write_unit_is_stored_once() {
    let dir = TempDir::new("writes");
    let fs = Arc::new(FilesystemStore::new(dir.path()).unwrap());
    let metrics = Arc::new(PerformanceMetricsStorageAdapter::new(fs));
    let store = Store::from_storage(metrics.clone());
    let data = formula::<f64>(&[40, 40]);
    // Tiles [6, 7] over storage chunks [4, 4]: 100 chunks, each written by one task.
    let x = from_ndarray(&data, [6, 7]).unwrap();
    x.to_zarr(&store, "a", &WriteOptions::default().chunks([4, 4]))
        .unwrap();
    assert_eq!(metrics.writes(), 100 + 1, "100 chunks and the metadata");
    metrics.reset();
    x.to_zarr(
        &store,
        "b",
        &WriteOptions::default().chunks([4, 4]).shards([20, 20]),
    )
    .unwrap();
    assert_eq!(metrics.writes(), 4 + 1, "4 shards and the metadata");
    assert_same(
        &zarr::open(&store, "b")
            .unwrap()
            .into_typed::<f64>()
            .unwrap()
            .compute()
            .unwrap(),
        &data,
        "b",
    );
}

#[test]
fn dimension_names_and_attributes() {
    let dir = TempDir::new("names");
    let d = dir.path();
    let x = from_ndarray(&formula::<i32>(&[6, 5]), [4, 4]).unwrap();
    let mut attributes = Map::new();
    attributes.insert("units".into(), json!("K"));
    attributes.insert("scale".into(), json!(0.5));
    attributes.insert("nested".into(), json!({"a": [1, 2, 3], "b": null}));
    let names = Some(vec![Some("lat".to_string()), Some("lon".to_string())]);
    let options = |version| {
        WriteOptions::default()
            .version(version)
            .dimension_names(["lat", "lon"])
            .attribute("units", "K")
            .attribute("scale", 0.5)
            .attribute("nested", json!({"a": [1, 2, 3], "b": null}))
    };

    x.to_zarr(d, "v3", &options(ZarrVersion::V3)).unwrap();
    let v3 = zarr::open(d, "v3").unwrap();
    assert_eq!(v3.dimension_names().map(<[_]>::to_vec), names);
    assert_eq!(user_attributes(&v3), attributes);
    let meta = read_json(&d.join("v3/zarr.json"));
    assert_eq!(meta["dimension_names"], json!(["lat", "lon"]));

    x.to_zarr(d, "v2", &options(ZarrVersion::V2)).unwrap();
    let v2 = zarr::open(d, "v2").unwrap();
    assert_eq!(v2.dimension_names().map(<[_]>::to_vec), names);
    // The user attributes are all there (xarray's `_ARRAY_DIMENSIONS` may be too).
    let mut found = user_attributes(&v2);
    found.remove("_ARRAY_DIMENSIONS");
    assert_eq!(found, attributes);
    let zattrs = read_json(&d.join("v2/.zattrs"));
    assert_eq!(zattrs["_ARRAY_DIMENSIONS"], json!(["lat", "lon"]));
    assert_eq!(zattrs["units"], "K");

    // No names, no attributes.
    for version in [ZarrVersion::V2, ZarrVersion::V3] {
        let name = format!("plain_{version:?}");
        x.to_zarr(d, &name, &WriteOptions::default().version(version))
            .unwrap();
        let plain = zarr::open(d, &name).unwrap();
        assert_eq!(plain.dimension_names(), None, "{version:?}");
        assert!(
            user_attributes(&plain).is_empty(),
            "{version:?}: {:?}",
            plain.attributes()
        );
    }

    // Names must be one per axis.
    let err = x
        .to_zarr(d, "bad", &WriteOptions::default().dimension_names(["t"]))
        .unwrap_err();
    assert!(
        matches!(err, Error::Build(BuildError::InvalidArgument { .. })),
        "{err:?}"
    );
}

/// The attributes without the `_zarrs` entry that zarrs adds to what it writes (see
/// `attributes_read_back_exactly_as_written`).
fn user_attributes(array: &AnyArray) -> Map<String, Json> {
    let mut attributes = array.attributes().clone();
    attributes.remove("_zarrs");
    attributes
}

#[test]
fn attributes_read_back_exactly_as_written() {
    let dir = TempDir::new("exact-attrs");
    let d = dir.path();
    let x = from_ndarray(&formula::<f64>(&[4]), [2]).unwrap();
    let mut attributes = Map::new();
    attributes.insert("units".into(), json!("K"));
    x.to_zarr(d, "a", &WriteOptions::default().attribute("units", "K"))
        .unwrap();
    assert_eq!(zarr::open(d, "a").unwrap().attributes(), &attributes);
    // Without attributes, a v2 array has no `.zattrs` and a v3 array none in `zarr.json`.
    x.to_zarr(d, "b", &WriteOptions::default()).unwrap();
    assert!(zarr::open(d, "b").unwrap().attributes().is_empty());
    x.to_zarr(d, "c", &WriteOptions::default().version(ZarrVersion::V2))
        .unwrap();
    assert!(zarr::open(d, "c").unwrap().attributes().is_empty());
    assert!(!d.join("c/.zattrs").exists());
}

#[test]
fn invalid_write_options() {
    let dir = TempDir::new("invalid");
    let d = dir.path();
    let x = from_ndarray(&formula::<f64>(&[8, 8]), [4, 4]).unwrap();
    for (what, options) in [
        (
            "shards in v2",
            WriteOptions::default()
                .version(ZarrVersion::V2)
                .shards([8, 8]),
        ),
        (
            "shards not a multiple",
            WriteOptions::default().chunks([4, 4]).shards([6, 8]),
        ),
        ("chunk rank", WriteOptions::default().chunks([4])),
        ("zero chunk", WriteOptions::default().chunks([0, 4])),
        (
            "shard rank",
            WriteOptions::default().chunks([4, 4]).shards([8]),
        ),
    ] {
        let err = x.to_zarr(d, "a", &options).unwrap_err();
        assert!(
            matches!(err, Error::Build(BuildError::InvalidArgument { .. })),
            "{what}: {err:?}"
        );
    }
    // Nothing was created by the refused writes.
    assert!(zarr::open(d, "a").is_err());
}

#[test]
fn open_with_a_tile_grid() {
    let dir = TempDir::new("open-with");
    let d = dir.path();
    let data = formula::<f32>(&[13, 9]);
    from_ndarray(&data, [4, 4])
        .unwrap()
        .to_zarr(d, "a", &WriteOptions::default())
        .unwrap();
    let options = OpenOptions {
        chunks: Some([5, 2].into()),
    };
    let a = zarr::open_with(d, "a", &options).unwrap();
    assert_eq!(a.chunks().chunks(), &[vec![5, 5, 3], vec![2, 2, 2, 2, 1]]);
    let a = a.into_typed::<f32>().unwrap();
    assert_same(&a.compute().unwrap(), &data, "[5, 2] tiles");
    let part = a.slice(s![3..11;2, 1..8]).unwrap().compute().unwrap();
    assert_same(&part, &data.slice(s![3..11;2, 1..8]).to_owned(), "slice");

    let sizes = Chunks::Sizes(vec![vec![1, 12], vec![9]]);
    let b = zarr::open_with(
        d,
        "a",
        &OpenOptions {
            chunks: Some(sizes),
        },
    )
    .unwrap();
    assert_eq!(b.chunks().chunks(), &[vec![1, 12], vec![9]]);
    assert_same(
        &b.into_typed::<f32>().unwrap().compute().unwrap(),
        &data,
        "irregular tiles",
    );

    let bad = OpenOptions {
        chunks: Some([5].into()),
    };
    assert!(
        zarr::open_with(d, "a", &bad).is_err(),
        "a tile shape of the wrong rank"
    );
}

#[test]
fn sharded_default_grid_is_whole_shards() {
    let dir = TempDir::new("shards-grid");
    let d = dir.path();
    let data = formula::<u8>(&[20, 12]);
    from_ndarray(&data, [4, 4])
        .unwrap()
        .to_zarr(
            d,
            "a",
            &WriteOptions::default().chunks([4, 4]).shards([8, 8]),
        )
        .unwrap();
    let a = zarr::open(d, "a").unwrap();
    assert_eq!(a.chunks().chunks(), &[vec![8, 8, 4], vec![8, 4]]);
    let inner = zarr::open_with(
        d,
        "a",
        &OpenOptions {
            chunks: Some([4, 4].into()),
        },
    )
    .unwrap();
    assert_eq!(inner.chunks().chunks(), &[vec![4; 5], vec![4; 3]]);
    assert_same(
        &inner.into_typed::<u8>().unwrap().compute().unwrap(),
        &data,
        "inner chunks",
    );
    assert_same(
        &a.into_typed::<u8>().unwrap().compute().unwrap(),
        &data,
        "shards",
    );
}

/// A store over `dir` that counts its reads.
fn counted(
    dir: &Path,
) -> (
    Store,
    Arc<PerformanceMetricsStorageAdapter<FilesystemStore>>,
) {
    let fs = Arc::new(FilesystemStore::new(dir).unwrap());
    let metrics = Arc::new(PerformanceMetricsStorageAdapter::new(fs));
    (Store::from_storage(metrics.clone()), metrics)
}

#[test]
fn slices_read_only_the_chunks_they_touch() {
    let dir = TempDir::new("lazy");
    let d = dir.path();
    let data = formula::<f64>(&[40, 40]);
    from_ndarray(&data, [4, 4])
        .unwrap()
        .to_zarr(d, "a", &WriteOptions::default())
        .unwrap();
    let (store, metrics) = counted(d);
    let x = zarr::open(&store, "a")
        .unwrap()
        .into_typed::<f64>()
        .unwrap();
    let opened = metrics.reads();
    assert!(opened <= 3, "opening reads only metadata: {opened} reads");

    let reads = |f: &dyn Fn()| {
        let before = metrics.reads();
        f();
        metrics.reads() - before
    };
    // One chunk of 10 x 10.
    let one = reads(&|| {
        let part = x.slice(s![4..8, 8..12]).unwrap().compute().unwrap();
        assert_same(&part, &data.slice(s![4..8, 8..12]).to_owned(), "one chunk");
    });
    assert!((1..=2).contains(&one), "a one-chunk slice read {one} keys");
    // Part of one chunk.
    let within = reads(&|| {
        let v = x.slice(s![13, 27]).unwrap().compute().unwrap();
        assert_eq!(v.iter().copied().collect::<Vec<_>>(), vec![data[[13, 27]]]);
    });
    assert!(
        (1..=2).contains(&within),
        "a one-element slice read {within} keys"
    );
    // 2 x 2 chunks.
    let four = reads(&|| {
        let part = x.slice(s![6..10, 30..33]).unwrap().compute().unwrap();
        assert_same(
            &part,
            &data.slice(s![6..10, 30..33]).to_owned(),
            "2 x 2 chunks",
        );
    });
    assert!(
        (4..=6).contains(&four),
        "a 2 x 2-chunk slice read {four} keys"
    );
    // Everything: each chunk once.
    let all = reads(&|| {
        assert_same(&x.compute().unwrap(), &data, "all");
    });
    eprintln!(
        "reads: open {opened}, one chunk {one}, one element {within}, 2 x 2 chunks {four}, all {all}"
    );
    assert!(
        (100..=102).contains(&all),
        "the whole array read {all} keys"
    );
}

#[test]
fn slices_of_sharded_arrays_read_only_the_inner_chunks_they_touch() {
    let dir = TempDir::new("lazy-shards");
    let d = dir.path();
    let data = formula::<f64>(&[40, 40]);
    from_ndarray(&data, [4, 4])
        .unwrap()
        .to_zarr(
            d,
            "a",
            &WriteOptions::default()
                .compression(Compression::None)
                .shards([20, 20]),
        )
        .unwrap();
    let shard_bytes = std::fs::metadata(d.join("a/c/0/0")).unwrap().len() as usize;
    let (store, metrics) = counted(d);
    for (what, options) in [
        ("shard tiles", OpenOptions::default()),
        (
            "chunk tiles",
            OpenOptions {
                chunks: Some([4, 4].into()),
            },
        ),
    ] {
        let x = zarr::open_with(&store, "a", &options)
            .unwrap()
            .into_typed::<f64>()
            .unwrap();
        let (reads, bytes) = (metrics.reads(), metrics.bytes_read());
        let part = x.slice(s![4..8, 8..12]).unwrap().compute().unwrap();
        assert_same(&part, &data.slice(s![4..8, 8..12]).to_owned(), what);
        let (reads, bytes) = (metrics.reads() - reads, metrics.bytes_read() - bytes);
        eprintln!("{what}: {reads} reads, {bytes} of {shard_bytes} bytes for a one-chunk slice");
        assert!((1..=4).contains(&reads), "{what}: {reads} reads");
        // Slices select whole tiles: with shard tiles (the default grid) that is the one
        // shard (not the other three); with chunk tiles, the shard index and the one inner
        // chunk (128 bytes), not the 25 chunks of the shard.
        let limit = if options.chunks.is_some() {
            shard_bytes / 4
        } else {
            shard_bytes
        };
        assert!(
            bytes <= limit,
            "{what}: a one-chunk slice read {bytes} bytes of a {shard_bytes}-byte shard"
        );
    }
}

#[test]
fn dynamic_element_type() {
    let dir = TempDir::new("dtype");
    let d = dir.path();
    let data = formula::<f64>(&[13, 9]);
    from_ndarray(&data, [4, 4])
        .unwrap()
        .to_zarr(d, "a", &WriteOptions::default())
        .unwrap();
    let any: AnyArray = zarr::open(d, "a").unwrap();
    assert_eq!(any.dtype(), DType::F64);
    let err = any.clone().into_typed::<f32>().unwrap_err();
    assert_eq!(
        err,
        Error::Build(BuildError::DTypeMismatch {
            expected: DType::F32,
            found: DType::F64
        })
    );
    assert_eq!(
        any.astype::<f32>().compute().unwrap(),
        data.mapv(|v| v as f32)
    );
    assert_eq!(
        any.astype::<i32>().compute().unwrap(),
        data.mapv(|v| v as i32)
    );
    assert_eq!(any.astype::<f64>().compute().unwrap(), data);
    assert!(any.clone().into_typed::<i32>().is_err());
    assert!(any.into_typed::<f64>().is_ok());
}

#[test]
fn open_errors() {
    let dir = TempDir::new("open-errors");
    let missing = dir.join("no-such-store");
    let err = zarr::open(&missing, "a").unwrap_err();
    assert!(
        matches!(err, Error::Storage(StorageError::Storage { .. })),
        "{err:?}"
    );
    assert!(
        !missing.exists(),
        "opening must not create the store directory"
    );

    from_ndarray(&formula::<f64>(&[4]), [2])
        .unwrap()
        .to_zarr(dir.path(), "a", &WriteOptions::default())
        .unwrap();
    let err = zarr::open(dir.path(), "b").unwrap_err();
    assert!(
        matches!(err, Error::Storage(StorageError::Storage { .. })),
        "{err:?}"
    );
    let err = zarr::open(dir.path(), "a/c").unwrap_err();
    assert!(
        matches!(err, Error::Storage(StorageError::Storage { .. })),
        "{err:?}"
    );
    let err = zarr::open_group(dir.path(), "nope").unwrap_err();
    assert!(
        matches!(err, Error::Storage(StorageError::Storage { .. })),
        "{err:?}"
    );
}

#[test]
fn existing_arrays_create_overwrite() {
    let dir = TempDir::new("exists");
    let d = dir.path();
    let old = formula::<f64>(&[20]);
    from_ndarray(&old, [5])
        .unwrap()
        .to_zarr(d, "a", &WriteOptions::default())
        .unwrap();

    let new = formula::<i32>(&[7]);
    let y = from_ndarray(&new, [3]).unwrap();
    let err = y.to_zarr(d, "a", &WriteOptions::default()).unwrap_err();
    assert!(
        matches!(&err, Error::Storage(StorageError::AlreadyExists { path }) if path.contains('a')),
        "{err:?}"
    );
    let kept = zarr::open(d, "a")
        .unwrap()
        .into_typed::<f64>()
        .unwrap()
        .compute()
        .unwrap();
    assert_same(&kept, &old, "old data after a refused write");

    // Overwrite: another shape and type; the old chunks are gone.
    y.to_zarr(d, "a", &WriteOptions::default().mode(WriteMode::Overwrite))
        .unwrap();
    let back = zarr::open(d, "a").unwrap();
    assert_eq!(back.shape(), vec![7]);
    assert_same(
        &back.into_typed::<i32>().unwrap().compute().unwrap(),
        &new,
        "overwritten",
    );
    assert_eq!(chunk_files(d, "a"), vec!["c/0", "c/1", "c/2"]);

    // Overwrite a v3 array with a v2 one: the v3 metadata must not survive.
    y.to_zarr(
        d,
        "a",
        &WriteOptions::default()
            .version(ZarrVersion::V2)
            .mode(WriteMode::Overwrite),
    )
    .unwrap();
    let files = files_under(&d.join("a"));
    assert!(!files.contains(&"zarr.json".to_string()), "{files:?}");
    assert_eq!(chunk_files(d, "a"), vec!["0", "1", "2"]);
    let back = zarr::open(d, "a").unwrap();
    assert_same(
        &back.into_typed::<i32>().unwrap().compute().unwrap(),
        &new,
        "v2 over v3",
    );

    // Overwrite where nothing exists is a plain write.
    y.to_zarr(
        d,
        "fresh",
        &WriteOptions::default().mode(WriteMode::Overwrite),
    )
    .unwrap();
    assert_same(
        &zarr::open(d, "fresh")
            .unwrap()
            .into_typed::<i32>()
            .unwrap()
            .compute()
            .unwrap(),
        &new,
        "fresh",
    );
}

#[test]
fn missing_chunks_read_as_the_fill_value() {
    let dir = TempDir::new("missing");
    let d = dir.path();
    let data = formula::<i32>(&[8, 8]);
    for (name, version, key) in [
        ("v3", ZarrVersion::V3, "v3/c/0/1"),
        ("v2", ZarrVersion::V2, "v2/0.1"),
    ] {
        from_ndarray(&data, [4, 4])
            .unwrap()
            .to_zarr(d, name, &WriteOptions::default().version(version))
            .unwrap();
        std::fs::remove_file(d.join(key)).unwrap();
        let mut expected = data.clone();
        expected.slice_mut(s![0..4, 4..8]).fill(0);
        let back = zarr::open(d, name)
            .unwrap()
            .into_typed::<i32>()
            .unwrap()
            .compute()
            .unwrap();
        assert_same(&back, &expected, name);
    }
}

/// Overwrites the file at `path` with bytes no codec accepts.
fn corrupt(path: &Path) {
    assert!(path.is_file(), "{} is not a chunk file", path.display());
    std::fs::write(path, b"this is not a compressed chunk, just garbage bytes").unwrap();
}

#[test]
fn corrupt_chunks_are_named() {
    let dir = TempDir::new("corrupt");
    let d = dir.path();
    let data = formula::<f64>(&[8, 8]);
    let x = from_ndarray(&data, [4, 4]).unwrap();
    let zstd = Compression::Zstd { level: 3 };
    let cases = [
        ("v3", WriteOptions::default().compression(zstd), "v3/c/1/0"),
        (
            "v2",
            WriteOptions::default()
                .version(ZarrVersion::V2)
                .compression(zstd),
            "v2/1.0",
        ),
        (
            "sh",
            WriteOptions::default()
                .compression(zstd)
                .chunks([2, 2])
                .shards([4, 4]),
            "sh/c/1/0",
        ),
        // Uncompressed: the same bytes are not a chunk of the right size.
        (
            "raw",
            WriteOptions::default().compression(Compression::None),
            "raw/c/1/0",
        ),
    ];
    for (name, options, key) in cases {
        x.to_zarr(d, name, &options).unwrap();
        corrupt(&d.join(key));
        let a = zarr::open(d, name).unwrap().into_typed::<f64>().unwrap();
        assert_corrupt_chunk(&a.compute().unwrap_err(), key, name);
        // What does not touch the corrupt chunk still reads.
        let top = a.slice(s![0..4, ..]).unwrap().compute().unwrap();
        assert_same(&top, &data.slice(s![0..4, ..]).to_owned(), name);
    }
}

#[test]
fn truncated_or_padded_zstd_chunks_are_named() {
    // Whole zstd chunks in a directory are streamed from their files straight into the
    // tile; a frame cut short, or followed by stray bytes, must still be an error naming
    // the chunk, never a silently short or padded tile.
    let dir = TempDir::new("truncated");
    let d = dir.path();
    let data = formula::<f64>(&[8, 8]);
    let x = from_ndarray(&data, [4, 4]).unwrap();
    let options = WriteOptions::default().compression(Compression::Zstd { level: 1 });
    type Edit = fn(&mut Vec<u8>);
    let edits: [(&str, Edit); 2] = [
        ("cut", |bytes| bytes.truncate(bytes.len() / 2)),
        ("padded", |bytes| bytes.extend_from_slice(b"stray bytes")),
    ];
    for (name, edit) in edits {
        x.to_zarr(d, name, &options).unwrap();
        let key = format!("{name}/c/1/1");
        let mut bytes = std::fs::read(d.join(&key)).unwrap();
        edit(&mut bytes);
        std::fs::write(d.join(&key), bytes).unwrap();
        let a = zarr::open(d, name).unwrap().into_typed::<f64>().unwrap();
        assert_corrupt_chunk(&a.compute().unwrap_err(), &key, name);
        // A reduction reads the chunks itself, folding them as they are decoded: the padded
        // frame is decoded whole before the stray bytes show, and must not count either.
        for reduced in [a.sum_axis(0), a.sum()] {
            let err = reduced.compute().unwrap_err();
            assert_corrupt_chunk(&err, &key, name);
        }
    }
}

#[test]
fn reductions_fold_zstd_chunks_as_they_are_decoded() {
    // A reduction that is a zstd array's only reader reads the chunks itself and folds each
    // 128 KiB block as zstd decodes it. Chunks of 211 KiB (and edge chunks of 155 KiB) take
    // two blocks each; tiles reduced over the lanes and along the rows fold different ways.
    let dir = TempDir::new("streamed");
    let d = dir.path();
    let data = formula::<f32>(&[130, 24, 30]).mapv(|v| 280.0 + v);
    let options = WriteOptions::default()
        .chunks([75, 24, 30])
        .compression(Compression::Zstd { level: 1 });
    from_ndarray(&data, [130, 24, 30])
        .unwrap()
        .to_zarr(d, "x", &options)
        .unwrap();
    let x = zarr::open(d, "x").unwrap().into_typed::<f32>().unwrap();
    let (mean, std) = (x.mean_axis(0), x.std_axis(0, 0.0));
    let plan = std.explain().unwrap();
    assert!(
        plan.contains("folded as it is decoded"),
        "the source is not streamed:\n{plan}"
    );
    let wide = data.mapv(f64::from);
    let check = |got: ArrayD<f32>, axes: &[usize], f: &dyn Fn(&[f64]) -> f64| {
        let mut want = wide.clone();
        for &axis in axes.iter().rev() {
            want = want.map_axis(ndarray::Axis(axis), |lane| f(&lane.to_vec()));
        }
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (f64::from(*g) - w).abs() <= 1e-6 * w.abs().max(1.0),
                "{g} vs {w}"
            );
        }
    };
    let dense_mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    let dense_std = |xs: &[f64]| {
        let m = dense_mean(xs);
        (xs.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / xs.len() as f64).sqrt()
    };
    let both = chunkwise::compute_many(&[&mean, &std]).unwrap();
    check(both[0].clone(), &[0], &dense_mean);
    check(both[1].clone(), &[0], &dense_std);
    check(x.mean_axis(2).compute().unwrap(), &[2], &dense_mean);
    let total = x.sum().compute_scalar().unwrap();
    let want: f64 = wide.sum();
    assert!(
        (f64::from(total) - want).abs() <= 1e-6 * want,
        "{total} vs {want}"
    );

    // With other inputs beside the streamed one, from the middle of a tile on: a weight
    // broadcast along time, and a second stored array (read by a task of its own).
    let weights = formula::<f32>(&[1, 24, 30]).mapv(|v| 0.5 + v / 4096.0);
    let w = from_ndarray(&weights, [1, 24, 30]).unwrap();
    let weighted = (&x * &w).sum_axis(0).compute().unwrap();
    let want = (&data * &weights)
        .mapv(f64::from)
        .sum_axis(ndarray::Axis(0));
    for (g, w) in weighted.iter().zip(&want) {
        assert!((f64::from(*g) - w).abs() <= 1e-6 * w.abs(), "{g} vs {w}");
    }
    from_ndarray(&data, [75, 24, 30])
        .unwrap()
        .to_zarr(d, "y", &options)
        .unwrap();
    let y = zarr::open(d, "y").unwrap().into_typed::<f32>().unwrap();
    let both = (&x - &y).sum().compute_scalar().unwrap();
    assert_eq!(both, 0.0);

    // A chunk of two frames: the block-by-block decoder gives up after the first frame (its
    // blocks already folded) and the tile comes again, whole, from zarrs' general path.
    let key = d.join("x/c/0/0/0");
    let first = data.slice(s![0..75, .., ..]).to_owned();
    let bytes: Vec<u8> = first.iter().flat_map(|v| v.to_le_bytes()).collect();
    let (head, tail) = bytes.split_at(bytes.len() / 2);
    let mut two_frames = zstd_frame(head);
    two_frames.extend(zstd_frame(tail));
    std::fs::write(&key, two_frames).unwrap();
    let x = zarr::open(d, "x").unwrap().into_typed::<f32>().unwrap();
    assert_same(&x.compute().unwrap(), &data, "two frames");
    check(x.mean_axis(0).compute().unwrap(), &[0], &dense_mean);
    check(x.std_axis(0, 0.0).compute().unwrap(), &[0], &dense_std);
}

/// `zarr.json` of a 1-d v3 array of `data_type` with `fill_value`.
fn v3_metadata(data_type: &str, fill_value: Json) -> String {
    json!({
        "zarr_format": 3,
        "node_type": "array",
        "shape": [4],
        "data_type": data_type,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2]}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": fill_value,
        "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
        "attributes": {}
    })
    .to_string()
}

#[test]
fn unsupported_data_types() {
    let dir = TempDir::new("unsupported");
    let d = dir.path();
    let write = |name: &str, file: &str, text: String| {
        std::fs::create_dir_all(d.join(name)).unwrap();
        std::fs::write(d.join(name).join(file), text).unwrap();
    };
    write(
        "c128",
        "zarr.json",
        v3_metadata("complex128", json!([0.0, 0.0])),
    );
    write("f16", "zarr.json", v3_metadata("float16", json!(0.0)));
    write(
        "v2c16",
        ".zarray",
        json!({"zarr_format": 2, "shape": [4], "chunks": [2], "dtype": "<c16",
               "compressor": null, "fill_value": [0.0, 0.0], "order": "C", "filters": null})
        .to_string(),
    );
    write("bogus", "zarr.json", v3_metadata("float128x", json!(0.0)));

    let open = |name: &str| {
        catch_unwind(AssertUnwindSafe(|| zarr::open(d, name)))
            .unwrap_or_else(|_| panic!("opening {name} panicked"))
    };
    for (name, dtype) in [("c128", "complex128"), ("f16", "float16"), ("v2c16", "c16")] {
        match open(name) {
            Err(Error::Storage(StorageError::UnsupportedDataType { dtype: found, path })) => {
                assert!(found.contains(dtype), "{name}: {found}");
                assert!(path.contains(name), "{name}: {path}");
            }
            other => panic!("{name}: expected UnsupportedDataType, got {other:?}"),
        }
    }
    // A type no Zarr implementation knows: zarrs refuses the metadata.
    match open("bogus") {
        Err(Error::Storage(StorageError::Storage { path, message })) => {
            assert!(path.contains("bogus"), "{path}");
            assert!(message.contains("float128x"), "{message}");
        }
        other => panic!("bogus: expected a Storage error, got {other:?}"),
    }
}

/// Writes the formula over [12, 12] (tiles [4, 4]) from a generator that panics on block
/// [1, 1], then resumes with a counting generator; checks the calls, the values, the temporaries'
/// cleanup, and that the stored files equal those of a clean write.
fn resume_case(name: &str, options: WriteOptions) {
    let units = 9;
    let dir = TempDir::new(&format!("resume-{name}"));
    let d = dir.path();
    let shape = [12, 12];
    let data = Arc::new(formula::<f64>(&shape));
    let tile = |data: &ArrayD<f64>, ranges: &[std::ops::Range<usize>]| {
        data.slice(s![ranges[0].clone(), ranges[1].clone()])
            .to_owned()
            .into_dyn()
    };

    let src = data.clone();
    let failing = from_fn(&shape, [4, 4], move |block, ranges| {
        if block == [1, 1] {
            panic!("simulated crash in block [1, 1]");
        }
        tile(&src, ranges)
    })
    .unwrap();
    let config = Config::default().threads(1);
    let err = failing
        .to_zarr(d, "a", &options.clone().config(config.clone()))
        .unwrap_err();
    assert!(
        matches!(err, Error::Exec(ExecError::TaskPanicked { .. })),
        "{err:?}"
    );

    let stored = chunk_files(d, "a");
    eprintln!("{name}: units stored before the crash: {stored:?}");
    assert!(
        stored.len() < units,
        "{name}: the failing unit was stored: {stored:?}"
    );
    // A killed atomic write leaves a hidden temporary beside the chunk's key
    // (`.<name>.<pid>-<n>-<nanos>.chunkwise-tmp`); put one next to a stored chunk and one
    // for the chunk that was never written.
    let last = if options.version == ZarrVersion::V2 {
        "a/1.1"
    } else {
        "a/c/1/1"
    };
    plant_leftover_temporary(d, last);
    if let Some(first) = stored.first() {
        plant_leftover_temporary(d, &format!("a/{first}"));
    }

    let calls = Arc::new(AtomicUsize::new(0));
    let (src, counter) = (data.clone(), calls.clone());
    let good = from_fn(&shape, [4, 4], move |_, ranges| {
        counter.fetch_add(1, Ordering::SeqCst);
        tile(&src, ranges)
    })
    .unwrap();
    good.to_zarr(d, "a", &options.clone().mode(WriteMode::Resume))
        .unwrap_or_else(|e| panic!("{name}: resume failed: {e}"));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        units - stored.len(),
        "{name}: tiles computed on resume ({} of {units} units were stored)",
        stored.len()
    );
    let files = files_under(&d.join("a"));
    assert!(
        files.iter().all(|f| !f.ends_with(".chunkwise-tmp")),
        "{name}: temporary keys left: {files:?}"
    );
    let back = zarr::open(d, "a")
        .unwrap()
        .into_typed::<f64>()
        .unwrap()
        .compute()
        .unwrap();
    assert_same(&back, &data, name);

    // Byte for byte what a clean run writes.
    from_ndarray(&data, [4, 4])
        .unwrap()
        .to_zarr(d, "clean", &options)
        .unwrap();
    let clean = files_under(&d.join("clean"));
    assert_eq!(files, clean, "{name}: files");
    for f in &files {
        let a = std::fs::read(d.join("a").join(f)).unwrap();
        let b = std::fs::read(d.join("clean").join(f)).unwrap();
        assert!(a == b, "{name}: {f} differs from a clean write");
    }

    // Resuming a complete array computes nothing.
    calls.store(0, Ordering::SeqCst);
    good.to_zarr(d, "a", &options.clone().mode(WriteMode::Resume))
        .unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "{name}: resume of a complete array"
    );

    // Resume onto an array of another shape is refused.
    let other = from_ndarray(&formula::<f64>(&[12, 8]), [4, 4]).unwrap();
    let err = other
        .to_zarr(d, "a", &options.clone().mode(WriteMode::Resume))
        .unwrap_err();
    assert!(
        matches!(err, Error::Build(BuildError::ShapeMismatch { .. })),
        "{name}: {err:?}"
    );
}

#[test]
fn resume_v3() {
    resume_case("v3", WriteOptions::default().chunks([4, 4]));
}

#[test]
fn resume_v2() {
    let options = WriteOptions::default()
        .version(ZarrVersion::V2)
        .chunks([4, 4]);
    resume_case("v2", options);
}

#[test]
fn resume_v3_sharded() {
    // Shards of [8, 8] over [12, 12]: 4 units.
    let options = WriteOptions::default().chunks([4, 4]).shards([8, 8]);
    resume_case_sharded(options);
}

/// The sharded variant: units hold unequal numbers of tiles (4, 2, 2, 1).
fn resume_case_sharded(options: WriteOptions) {
    let dir = TempDir::new("resume-sharded");
    let d = dir.path();
    let shape = [12, 12];
    let data = Arc::new(formula::<f64>(&shape));
    let src = data.clone();
    let failing = from_fn(&shape, [4, 4], move |block, ranges| {
        if block == [2, 2] {
            panic!("simulated crash in block [2, 2]");
        }
        src.slice(s![ranges[0].clone(), ranges[1].clone()])
            .to_owned()
            .into_dyn()
    })
    .unwrap();
    let err = failing
        .to_zarr(
            d,
            "a",
            &options.clone().config(Config::default().threads(1)),
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::Exec(ExecError::TaskPanicked { .. })),
        "{err:?}"
    );
    let stored = chunk_files(d, "a");
    eprintln!("sharded: shards stored before the crash: {stored:?}");
    assert!(!stored.contains(&"c/1/1".to_string()), "{stored:?}");
    plant_leftover_temporary(d, "a/c/1/1");
    if let Some(first) = stored.first() {
        plant_leftover_temporary(d, &format!("a/{first}"));
    }

    // Tiles per shard: [0, 0] holds 4, [0, 1] and [1, 0] hold 2, [1, 1] holds 1.
    let per_shard = |key: &str| match key {
        "c/0/0" => 4,
        "c/0/1" | "c/1/0" => 2,
        "c/1/1" => 1,
        other => panic!("unexpected key {other}"),
    };
    let missing: usize = ["c/0/0", "c/0/1", "c/1/0", "c/1/1"]
        .iter()
        .filter(|k| !stored.contains(&k.to_string()))
        .map(|k| per_shard(k))
        .sum();

    let calls = Arc::new(AtomicUsize::new(0));
    let (src, counter) = (data.clone(), calls.clone());
    let good = from_fn(&shape, [4, 4], move |_, ranges| {
        counter.fetch_add(1, Ordering::SeqCst);
        src.slice(s![ranges[0].clone(), ranges[1].clone()])
            .to_owned()
            .into_dyn()
    })
    .unwrap();
    good.to_zarr(d, "a", &options.clone().mode(WriteMode::Resume))
        .unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        missing,
        "tiles computed on resume (stored: {stored:?})"
    );
    let files = files_under(&d.join("a"));
    assert!(
        files.iter().all(|f| !f.ends_with(".chunkwise-tmp")),
        "temporary keys left: {files:?}"
    );
    let back = zarr::open(d, "a")
        .unwrap()
        .into_typed::<f64>()
        .unwrap()
        .compute()
        .unwrap();
    assert_same(&back, &data, "sharded resume");
    from_ndarray(&data, [4, 4])
        .unwrap()
        .to_zarr(d, "clean", &options)
        .unwrap();
    assert_eq!(files, files_under(&d.join("clean")));
    for f in &files {
        let a = std::fs::read(d.join("a").join(f)).unwrap();
        let b = std::fs::read(d.join("clean").join(f)).unwrap();
        assert!(a == b, "{f} differs from a clean write");
    }
}

#[test]
fn resume_with_another_chunking_is_refused_or_correct() {
    let dir = TempDir::new("resume-rechunked");
    let d = dir.path();
    let data = Arc::new(formula::<f64>(&[12, 12]));
    let src = data.clone();
    // An interrupted write in chunks [4, 4]: 4 of 9 chunks stored (one thread, panics at [1, 1]).
    let failing = from_fn(&[12, 12], [4, 4], move |block, ranges| {
        assert!(block != [1, 1], "simulated crash");
        src.slice(s![ranges[0].clone(), ranges[1].clone()])
            .to_owned()
            .into_dyn()
    })
    .unwrap();
    let options = WriteOptions::default()
        .chunks([4, 4])
        .config(Config::default().threads(1));
    assert!(failing.to_zarr(d, "a", &options).is_err());
    // Resumed with chunks [6, 6]: either refused, or the array must hold the data.
    let good = from_ndarray(&data, [6, 6]).unwrap();
    let resumed = WriteOptions::default()
        .chunks([6, 6])
        .mode(WriteMode::Resume);
    if good.to_zarr(d, "a", &resumed).is_ok() {
        let back = zarr::open(d, "a").unwrap().into_typed::<f64>().unwrap();
        assert_same(
            &back.compute().unwrap(),
            &data,
            "resumed with chunks [6, 6]",
        );
    }
}

#[test]
fn resume_with_another_element_type_is_an_error() {
    let dir = TempDir::new("resume-dtype");
    let d = dir.path();
    let data = formula::<f64>(&[8, 8]);
    from_ndarray(&data, [4, 4])
        .unwrap()
        .to_zarr(d, "a", &WriteOptions::default())
        .unwrap();
    std::fs::remove_file(d.join("a/c/1/1")).unwrap();
    let other = from_ndarray(&formula::<f32>(&[8, 8]), [4, 4]).unwrap();
    let resumed = WriteOptions::default().mode(WriteMode::Resume);
    assert!(other.to_zarr(d, "a", &resumed).is_err());
    let back = zarr::open(d, "a").unwrap();
    assert_eq!(back.dtype(), DType::F64);
}

#[test]
fn overwrite_and_resume_at_the_store_root() {
    let dir = TempDir::new("root");
    let d = dir.path();
    let data = formula::<f64>(&[8]);
    let x = from_ndarray(&data, [4]).unwrap();
    x.to_zarr(d, "", &WriteOptions::default()).unwrap();
    let back = zarr::open(d, "").unwrap().into_typed::<f64>().unwrap();
    assert_same(&back.compute().unwrap(), &data, "root array");
    for mode in [WriteMode::Overwrite, WriteMode::Resume] {
        x.to_zarr(d, "", &WriteOptions::default().mode(mode))
            .unwrap_or_else(|e| panic!("{mode:?} at the root: {e}"));
    }
}

#[test]
fn create_refuses_to_replace_a_group() {
    use zarrs::group::GroupBuilder;
    let dir = TempDir::new("over-group");
    let d = dir.path();
    let fs = Arc::new(FilesystemStore::new(d).unwrap());
    GroupBuilder::new()
        .build(fs, "/g")
        .unwrap()
        .store_metadata()
        .unwrap();
    let x = from_ndarray(&formula::<f64>(&[8]), [4]).unwrap();
    x.to_zarr(d, "g/a", &WriteOptions::default()).unwrap();
    let result = x.to_zarr(d, "g", &WriteOptions::default());
    let group = zarr::open_group(d, "g");
    assert!(
        matches!(
            result,
            Err(Error::Storage(StorageError::AlreadyExists { .. }))
        ),
        "writing an array over the group g: {result:?}; the group now opens as {group:?}"
    );
    assert_eq!(group.unwrap().arrays(), ["a"]);
}

#[test]
fn invalid_compression_levels_are_errors() {
    let dir = TempDir::new("levels");
    let d = dir.path();
    let x = from_ndarray(&formula::<f64>(&[8]), [4]).unwrap();
    let blosc = Compression::Blosc {
        cname: BloscCompressor::Lz4,
        clevel: 12,
        shuffle: BloscShuffle::Shuffle,
    };
    for (i, compression) in [
        Compression::Gzip { level: 10 },
        Compression::Zstd { level: 40 },
        blosc,
    ]
    .into_iter()
    .enumerate()
    {
        for version in [ZarrVersion::V2, ZarrVersion::V3] {
            let name = format!("a{i}_{version:?}");
            let options = WriteOptions::default()
                .version(version)
                .compression(compression);
            let result = catch_unwind(AssertUnwindSafe(|| x.to_zarr(d, &name, &options)))
                .unwrap_or_else(|_| panic!("{compression:?} {version:?} panicked"));
            assert!(result.is_err(), "{compression:?} {version:?}");
            assert!(zarr::open(d, &name).is_err(), "{name} was created");
        }
    }
}

#[test]
fn invalid_compression_levels_are_invalid_arguments() {
    let dir = TempDir::new("levels-kind");
    let x = from_ndarray(&formula::<f64>(&[8]), [4]).unwrap();
    let options = WriteOptions::default().compression(Compression::Gzip { level: 10 });
    let err = x.to_zarr(dir.path(), "a", &options).unwrap_err();
    assert!(
        matches!(err, Error::Build(BuildError::InvalidArgument { .. })),
        "{err:?}"
    );
}

#[test]
fn resume_without_an_existing_array_writes_it() {
    let dir = TempDir::new("resume-new");
    let data = formula::<u8>(&[9, 5]);
    from_ndarray(&data, [4, 4])
        .unwrap()
        .to_zarr(
            dir.path(),
            "a",
            &WriteOptions::default().mode(WriteMode::Resume),
        )
        .unwrap();
    let back = zarr::open(dir.path(), "a")
        .unwrap()
        .into_typed::<u8>()
        .unwrap();
    assert_same(&back.compute().unwrap(), &data, "resume onto nothing");
}

#[test]
fn groups_v3() {
    use zarrs::group::GroupBuilder;
    let dir = TempDir::new("group");
    let d = dir.path();
    let fs = Arc::new(FilesystemStore::new(d).unwrap());
    let mut attributes = Map::new();
    attributes.insert("title".into(), json!("a test group"));
    attributes.insert("version".into(), json!(3));
    GroupBuilder::new()
        .attributes(attributes.clone())
        .build(fs.clone(), "/g")
        .unwrap()
        .store_metadata()
        .unwrap();
    GroupBuilder::new()
        .build(fs, "/g/sub")
        .unwrap()
        .store_metadata()
        .unwrap();
    let zeta = formula::<f64>(&[6, 4]);
    let alpha = formula::<i32>(&[5]);
    from_ndarray(&zeta, [3, 3])
        .unwrap()
        .to_zarr(d, "g/zeta", &WriteOptions::default())
        .unwrap();
    from_ndarray(&alpha, [2])
        .unwrap()
        .to_zarr(d, "g/alpha", &WriteOptions::default())
        .unwrap();
    from_ndarray(&alpha, [2])
        .unwrap()
        .to_zarr(d, "g/sub/deep", &WriteOptions::default())
        .unwrap();

    let g = zarr::open_group(d, "g").unwrap();
    assert_eq!(g.arrays(), ["alpha", "zeta"]);
    assert_eq!(g.attributes(), &attributes);
    let a = g
        .array("alpha")
        .unwrap()
        .into_typed::<i32>()
        .unwrap()
        .compute()
        .unwrap();
    assert_same(&a, &alpha, "alpha");
    let z = g
        .array("zeta")
        .unwrap()
        .into_typed::<f64>()
        .unwrap()
        .compute()
        .unwrap();
    assert_same(&z, &zeta, "zeta");
    assert!(g.array("sub").is_err(), "a group is not an array");

    let sub = zarr::open_group(d, "/g/sub/").unwrap();
    assert_eq!(sub.arrays(), ["deep"]);
    assert!(sub.attributes().is_empty());
}

#[test]
fn groups_v2() {
    let dir = TempDir::new("group-v2");
    let d = dir.path();
    std::fs::create_dir_all(d.join("g")).unwrap();
    std::fs::write(d.join("g/.zgroup"), r#"{"zarr_format": 2}"#).unwrap();
    std::fs::write(d.join("g/.zattrs"), r#"{"title": "v2 group"}"#).unwrap();
    let v2 = WriteOptions::default().version(ZarrVersion::V2);
    let b = formula::<bool>(&[7]);
    from_ndarray(&b, [3])
        .unwrap()
        .to_zarr(d, "g/b", &v2)
        .unwrap();
    from_ndarray(&b, [3])
        .unwrap()
        .to_zarr(d, "g/a", &v2)
        .unwrap();
    let g = zarr::open_group(d, "g").unwrap();
    assert_eq!(g.arrays(), ["a", "b"]);
    assert_eq!(g.attributes().get("title"), Some(&json!("v2 group")));
    let back = g
        .array("b")
        .unwrap()
        .into_typed::<bool>()
        .unwrap()
        .compute()
        .unwrap();
    assert_same(&back, &b, "b");
}

#[test]
fn zero_dimensional_and_empty_arrays() {
    let dir = TempDir::new("edge");
    let d = dir.path();
    for version in [ZarrVersion::V2, ZarrVersion::V3] {
        let name = format!("scalar_{version:?}");
        let x = from_ndarray(&formula::<f64>(&[3, 4]), [2, 2])
            .unwrap()
            .sum();
        let expected = x.compute().unwrap();
        x.to_zarr(d, &name, &WriteOptions::default().version(version))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let back = zarr::open(d, &name).unwrap().into_typed::<f64>().unwrap();
        assert_eq!(back.shape(), Vec::<usize>::new());
        assert_same(&back.compute().unwrap(), &expected, &name);

        let name = format!("empty_{version:?}");
        let e = from_ndarray(&ArrayD::<i32>::zeros(IxDyn(&[0, 5])), [2, 2]).unwrap();
        e.to_zarr(d, &name, &WriteOptions::default().version(version))
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        let back = zarr::open(d, &name).unwrap().into_typed::<i32>().unwrap();
        assert_eq!(back.shape(), vec![0, 5]);
        assert_eq!(back.compute().unwrap().shape(), &[0, 5]);
    }
}

/// An array stored with the `transpose` codec (written by zarrs directly) reads back in
/// logical order; an unknown codec is a clear error when the array is opened, not a panic.
#[test]
fn transpose_codec_and_unknown_codecs() {
    let dir = TempDir::new("codecs");
    let d = dir.path();
    let meta = |codecs: Json| {
        json!({
            "zarr_format": 3, "node_type": "array", "shape": [6, 8], "data_type": "float64",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [3, 4]}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": 0.0, "codecs": codecs, "attributes": {}
        })
    };
    let transposed = meta(json!([
        {"name": "transpose", "configuration": {"order": [1, 0]}},
        {"name": "bytes", "configuration": {"endian": "little"}},
        {"name": "zstd", "configuration": {"level": 1, "checksum": false}}
    ]));
    let store = Arc::new(FilesystemStore::new(d).unwrap());
    let metadata: zarrs::array::ArrayMetadata = serde_json::from_value(transposed).unwrap();
    let array = zarrs::array::Array::new_with_metadata(store, "/t", metadata).unwrap();
    array.store_metadata().unwrap();
    let data = ArrayD::from_shape_fn(IxDyn(&[6, 8]), |i| (i[0] * 8 + i[1]) as f64 * 0.5 - 3.0);
    array
        .store_array_subset(
            &zarrs::array::ArraySubset::new_with_ranges(&[0..6, 0..8]),
            &data,
        )
        .unwrap();
    let back = zarr::open(d, "t").unwrap().into_typed::<f64>().unwrap();
    assert_eq!(back.compute().unwrap(), data);
    assert_eq!(
        back.slice(s![1..5, 3]).unwrap().compute().unwrap(),
        data.slice(s![1..5, 3]).to_owned().into_dyn()
    );

    let unknown = meta(json!([
        {"name": "bytes", "configuration": {"endian": "little"}},
        {"name": "no-such-codec", "configuration": {}}
    ]));
    std::fs::create_dir_all(d.join("u")).unwrap();
    std::fs::write(d.join("u/zarr.json"), unknown.to_string()).unwrap();
    match catch_unwind(AssertUnwindSafe(|| zarr::open(d, "u"))).expect("open must not panic") {
        Err(Error::Storage(StorageError::Storage { path, message })) => {
            assert!(path.contains('u'), "{path}");
            assert!(message.contains("no-such-codec"), "{message}");
        }
        other => panic!("expected a Storage error naming the codec, got {other:?}"),
    }
}

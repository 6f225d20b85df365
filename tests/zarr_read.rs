//! Reading Zarr arrays: tile grids on open, lazy slices that read only the chunks (or inner
//! chunks of shards) they touch, dynamic element types, open errors, missing chunks, groups.

#![allow(missing_docs)]

#[path = "common/zarr_util.rs"]
mod zarr_util;

use std::sync::Arc;

use chunkwise::io::zarr::{self, AnyArray, Compression, OpenOptions, WriteOptions, ZarrVersion};
use chunkwise::{BuildError, Chunks, DType, Error, StorageError, from_ndarray};
use ndarray::s;
use serde_json::{Map, json};
use zarr_util::*;
use zarrs::filesystem::FilesystemStore;

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
    let x = open_typed::<f64>(&store, "a");
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
        let back = read_back::<i32>(d, name);
        assert_same(&back, &expected, name);
    }
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

//! What Zarr metadata says and what it refuses: codec and sharding names, dimension names
//! and attributes, invalid write options and compression levels, unsupported data types,
//! the `transpose` codec and unknown codecs.

#![allow(missing_docs)]

#[path = "common/zarr_util.rs"]
mod zarr_util;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;

use chunkwise::io::zarr::{
    self, AnyArray, BloscCompressor, BloscShuffle, Compression, Dataset, GroupOptions,
    WriteOptions, ZarrVersion,
};
use chunkwise::{BuildError, Error, StorageError, from_ndarray};
use ndarray::{ArrayD, IxDyn, s};
use serde_json::{Map, Value as Json, json};
use zarr_util::*;
use zarrs::filesystem::FilesystemStore;

fn read_json(path: &Path) -> Json {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
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

/// `zarr.json` of a 1-d v3 array of `data_type` with `fill_value`.
fn v3_metadata(data_type: impl Into<Json>, fill_value: Json) -> String {
    let data_type: Json = data_type.into();
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
    // As xarray writes a string variable in v2: zarrs rejects its null fill value first.
    write(
        "v2u4",
        ".zarray",
        json!({"zarr_format": 2, "shape": [3], "chunks": [3], "dtype": "<U4",
               "compressor": null, "fill_value": null, "order": "C", "filters": null})
        .to_string(),
    );
    write("bogus", "zarr.json", v3_metadata("float128x", json!(0.0)));
    // An extension type, named by a document.
    let datetime =
        json!({"name": "numpy.datetime64", "configuration": {"unit": "s", "scale_factor": 1}});
    write("dt", "zarr.json", v3_metadata(datetime, json!(0)));

    let open = |name: &str| {
        catch_unwind(AssertUnwindSafe(|| zarr::open(d, name)))
            .unwrap_or_else(|_| panic!("opening {name} panicked"))
    };
    let cases = [
        ("c128", "complex128"),
        ("f16", "float16"),
        ("v2c16", "c16"),
        ("v2u4", "<U4"),
        ("dt", "numpy.datetime64"),
        // A type no Zarr implementation knows (zarrs refuses the metadata).
        ("bogus", "float128x"),
    ];
    for (name, dtype) in cases {
        match open(name) {
            Err(Error::Storage(StorageError::UnsupportedDataType { dtype: found, path })) => {
                assert!(found.contains(dtype), "{name}: {found}");
                assert!(path.contains(name), "{name}: {path}");
            }
            other => panic!("{name}: expected UnsupportedDataType, got {other:?}"),
        }
    }
    // A group where an array was asked for: said so, with its arrays to pick from.
    let group = zarr::create_group(d, "g", &GroupOptions::default()).unwrap();
    let x = chunkwise::arange::<f64>(0.0, 3.0, 1.0, [3]).unwrap();
    group
        .store(&Dataset::new().array("x", &x, WriteOptions::default()))
        .unwrap();
    match open("g") {
        Err(e @ Error::Storage(StorageError::NotAnArray { .. })) => {
            assert!(e.to_string().contains("it holds: x)"), "{e}");
        }
        other => panic!("g: expected NotAnArray, got {other:?}"),
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
    let back = open_typed::<f64>(d, "t");
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

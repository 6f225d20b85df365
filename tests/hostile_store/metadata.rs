//! Mutated metadata: wrong dtype names, negative, fractional or huge shapes, chunk shapes of
//! 0, missing fields, truncated JSON, wrong types. Each array opens and reads, or fails with
//! an error naming it; never a panic or an abort.

use std::path::Path;

use chunkwise::io::zarr::{self, WriteOptions, ZarrVersion};
use ndarray::s;
use serde_json::{Value as Json, json};

use super::hostile_util::in_child;
use super::write;
use super::zarr_util::TempDir;

/// A change to an array's metadata file (the JSON value, or its text).
enum Edit {
    /// Set the field at a JSON pointer (`None`: remove it).
    Set(&'static str, Option<Json>),
    /// Keep the first bytes of the text.
    Cut(usize),
    /// Replace the text.
    Text(&'static [u8]),
}

/// Metadata edits that an array must survive (open and read, or fail naming it), for a v3
/// (`zarr.json`) or v2 (`.zarray`) array.
fn metadata_edits(v3: bool) -> Vec<Edit> {
    use Edit::*;
    let (dtype, chunks) = if v3 {
        ("/data_type", "/chunk_grid/configuration/chunk_shape")
    } else {
        ("/dtype", "/chunks")
    };
    let mut edits = vec![
        Set(dtype, Some(json!("float128"))),
        Set(dtype, Some(json!("<f16"))),
        Set(dtype, Some(json!("|V8"))),
        Set(dtype, Some(json!(""))),
        Set(dtype, Some(json!(42))),
        Set(dtype, Some(json!({"name": "nope"}))),
        Set(dtype, Some(json!("int32"))),
        Set(dtype, Some(json!("<i4"))),
        Set(dtype, None),
        Set("/shape", Some(json!([-1, 16]))),
        Set("/shape", Some(json!([16]))),
        Set("/shape", Some(json!([16, 16, 16]))),
        Set("/shape", Some(json!("16"))),
        Set("/shape", Some(json!([0, 0]))),
        Set("/shape", Some(json!([17, 5]))),
        Set("/shape", Some(json!([16.5, 16]))),
        Set("/shape", None),
        Set(chunks, Some(json!([0, 8]))),
        Set(chunks, Some(json!([-8, 8]))),
        Set(chunks, Some(json!([8]))),
        Set(chunks, Some(json!([3, 5]))),
        Set(chunks, Some(json!("8"))),
        Set(chunks, None),
        Set("/fill_value", Some(json!("abc"))),
        Set("/fill_value", Some(json!([1, 2]))),
        Set("/fill_value", Some(json!("NaN"))),
        Set("/fill_value", None),
        Set("/zarr_format", Some(json!(4))),
        Set("/zarr_format", Some(json!("3"))),
        Set("/zarr_format", None),
        Cut(0),
        Cut(1),
        Cut(40),
        Text(b"\xff\xfe not json"),
        Text(b"[]"),
        Text(b"null"),
        Text(b"{}"),
    ];
    if v3 {
        edits.extend([
            Set("/node_type", Some(json!("group"))),
            Set("/node_type", None),
            Set("/codecs", Some(json!("zstd"))),
            Set("/codecs", Some(json!([]))),
            Set("/codecs", Some(json!([{"name": "no-such-codec"}]))),
            Set(
                "/codecs",
                Some(json!([{"name": "zstd"}, {"name": "bytes"}])),
            ),
            Set("/codecs/0/configuration/endian", Some(json!("big"))),
            Set("/codecs/0/configuration/endian", Some(json!("sideways"))),
            Set("/codecs/1/configuration/level", Some(json!("high"))),
            Set("/codecs", None),
            Set("/chunk_grid/name", Some(json!("irregular"))),
            Set("/chunk_grid", None),
            Set("/chunk_key_encoding/name", Some(json!("v2"))),
            Set(
                "/chunk_key_encoding/configuration/separator",
                Some(json!("x")),
            ),
            Set("/chunk_key_encoding", None),
            Set("/dimension_names", Some(json!(["a"]))),
            Set("/dimension_names", Some(json!(7))),
            Set("/storage_transformers", Some(json!([{"name": "nope"}]))),
        ]);
    } else {
        edits.extend([
            Set("/compressor", Some(json!({"id": "no-such-codec"}))),
            Set("/compressor", Some(json!("zstd"))),
            Set("/compressor/level", Some(json!("high"))),
            Set("/filters", Some(json!([{"id": "no-such-filter"}]))),
            Set("/order", Some(json!("F"))),
            Set("/order", Some(json!("Z"))),
            Set("/order", None),
            Set("/dimension_separator", Some(json!("x"))),
            Set("/dtype", Some(json!(">f8"))),
            Set("/dtype", Some(json!("f8"))),
        ]);
    }
    edits
}

/// Applies `edit` to the metadata `text`.
fn apply(edit: &Edit, text: &[u8]) -> Vec<u8> {
    match edit {
        Edit::Set(pointer, value) => {
            let mut json: Json = serde_json::from_slice(text).unwrap();
            let (parent, field) = pointer.rsplit_once('/').unwrap();
            let parent = json.pointer_mut(parent).unwrap();
            match (parent, value) {
                (Json::Object(map), Some(v)) => {
                    map.insert(field.to_string(), v.clone());
                }
                (Json::Object(map), None) => {
                    map.remove(field);
                }
                (Json::Array(items), Some(v)) => items[field.parse::<usize>().unwrap()] = v.clone(),
                (other, _) => panic!("cannot edit {pointer} in {other}"),
            }
            json.to_string().into_bytes()
        }
        Edit::Cut(n) => text[..(*n).min(text.len())].to_vec(),
        Edit::Text(t) => t.to_vec(),
    }
}

/// Opens and reads array `name` of `dir`: Ok if it reads whole (any values of its shape),
/// otherwise the error, which must name the array.
#[track_caller]
fn open_and_read(dir: &Path, name: &str, label: &str) {
    let read = zarr::open(dir, name).and_then(|any| {
        let shape = any.shape();
        let values = any.astype::<f64>().compute()?;
        assert_eq!(values.shape(), shape.as_slice(), "{label}");
        Ok(())
    });
    if let Err(err) = read {
        assert!(
            err.to_string().contains(name),
            "{label}: the error does not name the array {name}: {err}"
        );
    }
}

#[test]
fn mutated_metadata_opens_or_names_the_array() {
    in_child(
        "metadata::mutated_metadata_opens_or_names_the_array",
        || {
            let dir = TempDir::new("metadata");
            let d = dir.path();
            for (v3, file) in [(true, "zarr.json"), (false, ".zarray")] {
                let name = if v3 { "victim3" } else { "victim2" };
                let options = WriteOptions::default().version(if v3 {
                    ZarrVersion::V3
                } else {
                    ZarrVersion::V2
                });
                write(d, name, &options);
                let path = d.join(name).join(file);
                let original = std::fs::read(&path).unwrap();
                for edit in metadata_edits(v3) {
                    std::fs::write(&path, apply(&edit, &original)).unwrap();
                    let label = format!(
                        "{name}: {}",
                        String::from_utf8_lossy(&apply(&edit, &original))
                    );
                    open_and_read(d, name, &label);
                }
                std::fs::write(&path, &original).unwrap();
                open_and_read(d, name, "restored");
            }
        },
    );
}

#[test]
fn huge_shapes_in_metadata_never_abort() {
    // Shapes and chunks whose element counts overflow, or whose grids have 10^11 chunks
    // along an axis: opening must cost O(rank) and fail or succeed, never abort. Only "no
    // panic, no abort" is asserted here; the errors are another part's.
    in_child("metadata::huge_shapes_in_metadata_never_abort", || {
        let dir = TempDir::new("huge");
        let d = dir.path();
        write(d, "victim", &WriteOptions::default());
        let path = d.join("victim/zarr.json");
        let original: Json = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let huge = [
            (
                json!([1_000_000_000_000u64, 1_000_000_000_000u64]),
                json!([8, 8]),
            ),
            (json!([1u64 << 63, 2]), json!([8, 8])),
            (json!([u64::MAX, 1]), json!([1, 1])),
            (json!([16, 16]), json!([1_000_000_000_000u64, 8])),
            (
                json!([1u64 << 40, 1u64 << 40]),
                json!([1u64 << 39, 1u64 << 39]),
            ),
        ];
        for (shape, chunks) in huge {
            let mut json = original.clone();
            json["shape"] = shape;
            json["chunk_grid"]["configuration"]["chunk_shape"] = chunks;
            std::fs::write(&path, json.to_string()).unwrap();
            if let Ok(any) = zarr::open(d, "victim") {
                let corner = any.astype::<f64>().slice(s![0..1, 0..1]);
                let _ = corner.and_then(|c| c.compute());
            }
        }
    });
}

#[test]
fn valid_metadata_edits_read_the_right_values() {
    // Edits that leave valid metadata: an empty array, a grown one (the new elements are
    // missing chunks: the fill value), a NaN fill value.
    let dir = TempDir::new("valid-edits");
    let d = dir.path();
    for (v3, file) in [(true, "zarr.json"), (false, ".zarray")] {
        let name = if v3 { "edited3" } else { "edited2" };
        let version = if v3 { ZarrVersion::V3 } else { ZarrVersion::V2 };
        write(d, name, &WriteOptions::default().version(version));
        let path = d.join(name).join(file);
        let original: Json = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let data = super::data();
        let mut grown = ndarray::Array2::<f64>::from_elem((17, 5), -2.5).into_dyn();
        grown
            .slice_mut(s![0..16, 0..5])
            .assign(&data.slice(s![0..16, 0..5]));
        let cases = [
            (
                json!([0, 0]),
                json!(0.0),
                ndarray::ArrayD::<f64>::zeros(vec![0, 0]),
            ),
            (json!([17, 5]), json!(-2.5), grown),
        ];
        for (shape, fill, expected) in cases {
            let mut json = original.clone();
            json["shape"] = shape;
            json["fill_value"] = fill;
            std::fs::write(&path, json.to_string()).unwrap();
            let a = zarr::open(d, name).unwrap().into_typed::<f64>().unwrap();
            super::assert_same(&a.compute().unwrap(), &expected, name);
        }
    }
}

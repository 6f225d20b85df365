//! Groups and datasets: groups with attributes (v2 and v3, root and nested), several arrays
//! written into a group in one pass, 1-D coordinates with dimension names, fill values and
//! consolidated metadata, checked against zarr-python and xarray (tests/interop/
//! group_check.py), whose view of the store is compared exactly with what was written.
//!
//! The Python interpreter is found as in tests/zarr_interop.rs; the xarray checks are
//! skipped when it has no xarray, unless `CHUNKWISE_REQUIRE_INTEROP=1`.

#![allow(missing_docs)]

mod common;
#[path = "common/zarr_util.rs"]
mod zarr_util;

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use chunkwise::io::zarr::{
    self, Compression, Dataset, FillValue, GroupOptions, Store, WriteMode, WriteOptions,
    ZarrVersion,
};
use chunkwise::{Error, StorageError, from_ndarray};
use ndarray::{ArrayD, IxDyn};
use serde_json::{Value as Json, json};
use zarr_util::*;
use zarrs::filesystem::FilesystemStore;

const VERSIONS: [ZarrVersion; 2] = [ZarrVersion::V2, ZarrVersion::V3];

/// What zarr-python and xarray see in the group `group` of `store`.
fn described(python: &Path, store: &Path, group: Option<&str>) -> Json {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/group_check.py");
    let mut command = Command::new(python);
    command.arg(&script).arg(store);
    command.args(group);
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(
        out.status.success(),
        "group_check.py {} failed:\n{}",
        store.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Json = serde_json::from_slice(&out.stdout).unwrap();
    if json["xarray"].is_null() {
        assert!(
            !require_interop(),
            "CHUNKWISE_REQUIRE_INTEROP=1 but xarray is missing"
        );
        println!("xarray checks skipped: xarray is not installed");
    }
    json
}

/// What the script `name` of tests/interop prints (JSON; `null` for nothing) when run with
/// `args`; `None` (the test is skipped) if the Python has no xarray, unless
/// `CHUNKWISE_REQUIRE_INTEROP=1`.
fn xarray_script(python: &Path, name: &str, args: &[&OsStr]) -> Option<Json> {
    let out = interop_script(python, name, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && stderr.contains("No module named 'xarray'") {
        assert!(
            !require_interop(),
            "CHUNKWISE_REQUIRE_INTEROP=1 but xarray is missing"
        );
        return None;
    }
    assert!(out.status.success(), "{name} failed:\n{stderr}");
    if out.stdout.is_empty() {
        return Some(Json::Null);
    }
    let printed = serde_json::from_slice(&out.stdout);
    Some(printed.unwrap_or_else(|e| panic!("{name} printed no JSON ({e}):\n{stderr}")))
}

/// Values as group_check.py prints them (NaN as "NaN").
fn listed(values: impl IntoIterator<Item = f64>) -> Json {
    values
        .into_iter()
        .map(|v| if v.is_nan() { json!("NaN") } else { json!(v) })
        .collect()
}

/// A 3 x 4 array of `f`'s values at the flat index.
fn grid<T: Clone>(f: impl Fn(usize) -> T) -> ArrayD<T> {
    ArrayD::from_shape_vec(IxDyn(&[3, 4]), (0..12).map(f).collect()).unwrap()
}

/// A temperature field with real zeros (which a v2 fill value of 0 would mask), counts
/// (zlib-compressed),
/// a mask, and a float field with missing values (NaN, the fill value the user asks for).
fn climate_like(version: ZarrVersion, dir: &Path) {
    let root = zarr::create_group(
        dir,
        "/",
        &GroupOptions::default()
            .version(version)
            .attribute("title", "groups test")
            .attribute("Conventions", "CF-1.8"),
    )
    .unwrap();
    let t = from_ndarray(&grid(|i| i as f32 - 4.0), [2, 2]).unwrap();
    let n = from_ndarray(&grid(|i| i as i32 * 7 - 20), [3, 4]).unwrap();
    let mask = from_ndarray(&grid(|i| i % 3 == 0), [3, 2]).unwrap();
    let g = from_ndarray(
        &grid(|i| if i % 5 == 0 { f64::NAN } else { i as f64 / 8.0 }),
        [3, 4],
    )
    .unwrap();
    let dims = || WriteOptions::default().dimension_names(["lat", "lon"]);
    let dataset = Dataset::new()
        .coord(
            "lat",
            vec![-45.0, 0.0, 45.0],
            WriteOptions::default().units("degrees_north"),
        )
        .coord(
            "lon",
            ndarray::arr1(&[0.0, 90.0, 180.0, 270.0]),
            WriteOptions::default(),
        )
        .array("t", &t, dims().units("K").long_name("temperature"))
        .array("n", &n, dims().compression(Compression::Zlib { level: 6 }))
        .array("mask", &mask, dims())
        .array(
            "zeros",
            &chunkwise::zeros::<f64>(&[3, 4], [3, 4]).unwrap(),
            dims(),
        )
        .array("g", &g, dims().fill_value(f64::NAN).units("1"));
    root.store(&dataset).unwrap();
}

#[test]
fn datasets_open_in_zarr_python_and_xarray() {
    for version in VERSIONS {
        let label = format!("{version:?}");
        let d = TempDir::new("groups-dataset");
        climate_like(version, d.path());
        // chunkwise's own reading of its output.
        let root = zarr::open_group(d.path(), "/").unwrap();
        assert_eq!(
            root.arrays(),
            ["g", "lat", "lon", "mask", "n", "t", "zeros"],
            "{label}"
        );
        assert_eq!(root.attributes()["title"], "groups test", "{label}");
        assert_eq!(root.version(), version);
        let t = root.array("t").unwrap();
        // A copy of arrays opened with a run-time element type keeps their dimensions.
        let other = TempDir::new("groups-copy");
        let copy = zarr::create_group(other.path(), "copy", &GroupOptions::default()).unwrap();
        let copied = Dataset::new()
            .any_array("t", &t, WriteOptions::default())
            .any_array("n", &root.array("n").unwrap(), WriteOptions::default());
        copy.store(&copied).unwrap();
        let back = copy.array("n").unwrap();
        assert_eq!(back.dtype(), chunkwise::DType::I32);
        assert_eq!(
            copy.array("t").unwrap().dimension_names(),
            t.dimension_names()
        );
        assert_eq!(
            read_back::<f32>(other.path(), "copy/t"),
            read_back::<f32>(d.path(), "t")
        );
        assert_eq!(
            t.dimension_names().unwrap(),
            [Some("lat".to_string()), Some("lon".to_string())]
        );
        let Some(python) = python() else { return };
        let seen = described(&python, d.path(), None);
        let zarr_view = &seen["zarr"];
        assert_eq!(
            zarr_view["attributes"],
            json!({"title": "groups test", "Conventions": "CF-1.8"})
        );
        let arrays = &zarr_view["arrays"];
        assert_eq!(
            arrays["t"]["values"],
            listed((0..12).map(|i| i as f64 - 4.0)),
            "{label}"
        );
        assert_eq!(
            arrays["n"]["values"],
            json!((0..12).map(|i| i * 7 - 20).collect::<Vec<_>>())
        );
        assert_eq!(
            arrays["mask"]["values"],
            json!((0..12).map(|i| i % 3 == 0).collect::<Vec<_>>())
        );
        assert_eq!(arrays["n"]["dtype"], "int32");
        assert_eq!(arrays["mask"]["dtype"], "bool");
        assert_eq!(arrays["g"]["fill_value"], "NaN", "{label}");
        // zarr-python's default in v3 (0.0); none in v2, so that xarray masks no zeros.
        let default_fill = match version {
            ZarrVersion::V2 => Json::Null,
            ZarrVersion::V3 => json!(0.0),
        };
        assert_eq!(arrays["t"]["fill_value"], default_fill, "{label}");
        assert_eq!(
            seen["consolidated_arrays"],
            json!(["g", "lat", "lon", "mask", "n", "t", "zeros"]),
            "{label}: consolidated metadata"
        );
        let xr = &seen["xarray"];
        if xr.is_null() {
            continue;
        }
        assert_eq!(seen["xarray_unconsolidated_agrees"], true, "{label}");
        assert_eq!(
            xr["attrs"],
            json!({"title": "groups test", "Conventions": "CF-1.8"})
        );
        assert_eq!(xr["dims"], json!({"lat": 3, "lon": 4}), "{label}");
        assert_eq!(xr["coords"], json!(["lat", "lon"]), "{label}");
        let vars = &xr["variables"];
        assert_eq!(vars["lat"]["values"], json!([-45.0, 0.0, 45.0]));
        assert_eq!(vars["lat"]["attrs"], json!({"units": "degrees_north"}));
        assert_eq!(vars["lon"]["values"], json!([0.0, 90.0, 180.0, 270.0]));
        // Real zeros stay zeros (no fill value masks them), in both versions.
        assert_eq!(
            vars["t"]["values"],
            listed((0..12).map(|i| i as f64 - 4.0)),
            "{label}"
        );
        assert_eq!(vars["t"]["dims"], json!(["lat", "lon"]));
        assert_eq!(
            vars["t"]["dtype"], "float32",
            "{label}: not promoted by a mask"
        );
        assert_eq!(
            vars["t"]["attrs"],
            json!({"units": "K", "long_name": "temperature"})
        );
        assert_eq!(
            vars["zeros"]["values"],
            listed([0.0; 12]),
            "{label}: a chunk left unstored"
        );
        assert_eq!(vars["n"]["dtype"], "int32", "{label}");
        assert_eq!(vars["n"]["values"], arrays["n"]["values"]);
        assert_eq!(vars["mask"]["dtype"], "bool", "{label}");
        let g = (0..12).map(|i| if i % 5 == 0 { f64::NAN } else { i as f64 / 8.0 });
        assert_eq!(vars["g"]["values"], listed(g), "{label}");
        assert_eq!(
            vars["g"]["attrs"],
            json!({"units": "1"}),
            "{label}: _FillValue decoded"
        );
    }
}

#[test]
fn fill_values_are_written_as_zarr_python_and_xarray_expect() {
    let d = TempDir::new("groups-fill");
    let x = chunkwise::arange::<f64>(0.0, 4.0, 1.0, [4]).unwrap();
    let meta = |name: &str, file: &str| -> Json {
        serde_json::from_slice(&std::fs::read(d.join(name).join(file)).unwrap()).unwrap()
    };
    // Each version in a store of its own (a group holds nodes of its version only).
    let three = d.join("three");
    let v2 = WriteOptions::default().version(ZarrVersion::V2);
    x.to_zarr(d.path(), "v2", &v2).unwrap();
    x.to_zarr(d.path(), "v2nan", &v2.clone().fill_value(f64::NAN))
        .unwrap();
    x.to_zarr(&three, "v3", &WriteOptions::default()).unwrap();
    x.to_zarr(
        &three,
        "v3nan",
        &WriteOptions::default().fill_value(f64::NAN),
    )
    .unwrap();
    assert_eq!(meta("v2", ".zarray")["fill_value"], Json::Null);
    assert_eq!(meta("v2nan", ".zarray")["fill_value"], "NaN");
    assert_eq!(meta("three/v3", "zarr.json")["fill_value"], 0.0);
    assert_eq!(meta("three/v3nan", "zarr.json")["fill_value"], "NaN");
    // xarray's encoding of a float _FillValue: base64 of the little-endian f64.
    assert_eq!(
        meta("three/v3nan", "zarr.json")["attributes"]["_FillValue"],
        "AAAAAAAA+H8="
    );
    let i = chunkwise::arange::<i16>(0, 4, 1, [4]).unwrap();
    i.to_zarr(&three, "i", &WriteOptions::default().fill_value(-9999.0))
        .unwrap();
    assert_eq!(meta("three/i", "zarr.json")["fill_value"], -9999);
    assert_eq!(
        meta("three/i", "zarr.json")["attributes"]["_FillValue"],
        -9999
    );
    for (value, why) in [(0.5, "fraction"), (40000.0, "range"), (f64::NAN, "NaN")] {
        let err = i
            .to_zarr(&three, "bad", &WriteOptions::default().fill_value(value))
            .unwrap_err();
        assert!(err.to_string().contains("fill value"), "{why}: {err}");
    }
    let err = x
        .to_zarr(
            &three,
            "bad",
            &WriteOptions::default().attribute("_FillValue", 1.0),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("WriteOptions::fill_value"),
        "{err}"
    );
    assert!(!three.join("bad").exists());
}

#[test]
fn sixty_four_bit_integer_fill_values_stay_exact_through_a_rewrite() {
    // netCDF's default int64 fill value, which an f64 rounds to i64::MIN.
    const NETCDF: i64 = -9_223_372_036_854_775_806;
    for version in VERSIONS {
        let label = format!("{version:?}");
        let d = TempDir::new("groups-fill64");
        let values = ndarray::arr1(&[1i64, NETCDF, i64::MIN]).into_dyn();
        let x = from_ndarray(&values, [3]).unwrap();
        let options = WriteOptions::default()
            .version(version)
            .dimension_names(["t"])
            .fill_value(NETCDF);
        let group = GroupOptions::default().version(version);
        Dataset::new()
            .array("x", &x, options)
            .to_zarr(d.path(), "/", &group)
            .unwrap();
        let stored = zarr::open(d.path(), "x").unwrap();
        let format = stored.format().clone();
        assert_eq!(format.fill_value, Some(FillValue::Integer(NETCDF.into())));
        let copy = WriteOptions::default()
            .dimension_names(["t"])
            .keep_format(&format);
        stored.to_zarr(d.path(), "copy", &copy).unwrap();
        let (file, attributes) = match version {
            ZarrVersion::V2 => (".zarray", ".zattrs"),
            _ => ("zarr.json", "zarr.json"),
        };
        let read = |file: &str| -> Json {
            serde_json::from_slice(&std::fs::read(d.join("copy").join(file)).unwrap()).unwrap()
        };
        assert_eq!(read(file)["fill_value"], json!(NETCDF), "{label}");
        if version == ZarrVersion::V3 {
            assert_eq!(read(attributes)["attributes"]["_FillValue"], json!(NETCDF));
        }
        // Masked as xarray masks: the fill value, not its f64 neighbour i64::MIN.
        let decoded = zarr::open(d.path(), "copy")
            .unwrap()
            .decode_cf::<f64>()
            .unwrap();
        let decoded = decoded.compute().unwrap();
        assert_eq!(decoded[0], 1.0, "{label}");
        assert!(decoded[1].is_nan(), "{label}: {decoded}");
        assert_eq!(decoded[2], i64::MIN as f64, "{label}");
        let Some(python) = python() else { continue };
        let seen = described(&python, d.path(), None);
        let copied = &seen["zarr"]["arrays"]["copy"];
        assert_eq!(copied["values"], json!([1, NETCDF, i64::MIN]), "{label}");
        if version == ZarrVersion::V2 {
            assert_eq!(copied["fill_value"], json!(NETCDF), "{label}");
        }
        if !seen["xarray"].is_null() {
            // xarray compares in f64, where i64::MIN equals the fill value too.
            let variable = &seen["xarray"]["variables"]["copy"]["values"];
            assert_eq!(
                (&variable[0], &variable[1]),
                (&json!(1.0), &json!("NaN")),
                "{label}"
            );
        }
    }
}

#[test]
fn nested_groups_and_arrays_below_them_form_a_hierarchy() {
    for version in VERSIONS {
        let label = format!("{version:?}");
        let d = TempDir::new("groups-nested");
        let options = GroupOptions::default()
            .version(version)
            .attribute("level", 2);
        let b = zarr::create_group(d.path(), "a/b", &options).unwrap();
        assert_eq!(b.path(), "/a/b");
        let x = chunkwise::arange::<f64>(0.0, 5.0, 1.0, [2]).unwrap();
        b.store(&Dataset::new().array("x", &x, WriteOptions::default().dimension_names(["i"])))
            .unwrap();
        // An array written by to_zarr below groups that do not exist creates them.
        let v = WriteOptions::default().version(version);
        x.to_zarr(d.path(), "c/d/y", &v).unwrap();
        let root = zarr::open_group(d.path(), "").unwrap();
        assert_eq!(root.groups(), ["a", "c"], "{label}");
        assert_eq!(root.group("a").unwrap().groups(), ["b"]);
        assert_eq!(
            root.group("a").unwrap().group("b").unwrap().attributes()["level"],
            2
        );
        assert_eq!(zarr::open_group(d.path(), "c/d").unwrap().arrays(), ["y"]);
        let sub = b
            .create_group("sub", &GroupOptions::default().version(ZarrVersion::V2))
            .unwrap();
        assert_eq!(
            sub.version(),
            version,
            "{label}: a subgroup keeps its parent's version"
        );
        let Some(python) = python() else { return };
        let seen = described(&python, d.path(), None);
        let tree = &seen["zarr"];
        assert_eq!(
            tree["groups"]["a"]["groups"]["b"]["attributes"],
            json!({"level": 2})
        );
        assert_eq!(
            tree["groups"]["a"]["groups"]["b"]["arrays"]["x"]["values"],
            listed([0.0, 1.0, 2.0, 3.0, 4.0])
        );
        assert_eq!(
            tree["groups"]["c"]["groups"]["d"]["arrays"]["y"]["shape"],
            json!([5])
        );
        let seen = described(&python, d.path(), Some("a/b"));
        assert_eq!(seen["consolidated_arrays"], json!(["x"]), "{label}");
        if !seen["xarray"].is_null() {
            assert_eq!(seen["xarray"]["dims"], json!({"i": 5}), "{label}");
            assert_eq!(seen["xarray"]["attrs"], json!({"level": 2}), "{label}");
        }
    }
}

#[test]
fn one_pass_reads_a_shared_input_once() {
    let d = TempDir::new("groups-once");
    let (x, calls, dense) = common::counting_source(&[6, 8], &[3, 4]);
    let tiles = 4;
    let group = zarr::create_group(d.path(), "/", &GroupOptions::default()).unwrap();
    let total = x.sum_axis(0);
    let scaled = &x * 2.0;
    let positive = x.map(|v| v > 0.0);
    let dataset = Dataset::new()
        .array("total", &total, WriteOptions::default())
        .array("scaled", &scaled, WriteOptions::default())
        .array("positive", &positive, WriteOptions::default());
    group.store(&dataset).unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        tiles,
        "each input tile is read once"
    );
    // Resumed, a dataset whose chunks are all stored computes nothing.
    let resume = || WriteOptions::default().mode(WriteMode::Resume);
    let again = Dataset::new()
        .array("total", &total, resume())
        .array("scaled", &scaled, resume())
        .array("positive", &positive, resume());
    group.store(&again).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), tiles, "nothing read again");
    assert_same(
        &read_back::<f64>(d.path(), "scaled"),
        &dense.mapv(|v| v * 2.0),
        "scaled",
    );
    assert_same(
        &read_back::<f64>(d.path(), "total"),
        &total.compute().unwrap(),
        "total",
    );
    assert_same(
        &read_back::<bool>(d.path(), "positive"),
        &dense.mapv(|v| v > 0.0),
        "positive",
    );
}

#[test]
fn bad_datasets_are_refused_before_anything_is_written() {
    let d = TempDir::new("groups-refused");
    let group = zarr::create_group(d.path(), "/", &GroupOptions::default()).unwrap();
    let x = chunkwise::arange::<f64>(0.0, 4.0, 1.0, [4]).unwrap();
    let o = WriteOptions::default;
    let cases = [
        (
            "twice",
            Dataset::new().array("x", &x, o()).array("x", &x, o()),
            "twice",
        ),
        (
            "slash",
            Dataset::new().array("a/x", &x, o()),
            "path component",
        ),
        ("dot", Dataset::new().array(".x", &x, o()), "path component"),
        (
            "meta",
            Dataset::new().array("zarr.json", &x, o()),
            "metadata key",
        ),
        (
            "lengths",
            Dataset::new().coord("i", vec![1.0, 2.0], o()).array(
                "x",
                &x,
                o().dimension_names(["i"]),
            ),
            "dimension \"i\" has length 2",
        ),
        (
            "fill",
            Dataset::new()
                .array("y", &x, o())
                .array("z", &x, o().chunks([0])),
            "chunk shape",
        ),
    ];
    for (label, dataset, message) in cases {
        let err = group.store(&dataset).unwrap_err();
        assert!(err.to_string().contains(message), "{label}: {err}");
    }
    assert_eq!(files_under(d.path()), ["zarr.json"], "nothing written");
    // An empty dataset writes nothing but the (empty) consolidated metadata.
    assert_eq!(group.store(&Dataset::new()).unwrap().tasks, 0);
    // An existing array refuses a Create write of the whole dataset, not just its own.
    group.store(&Dataset::new().array("x", &x, o())).unwrap();
    let err = group
        .store(&Dataset::new().array("new", &x, o()).array("x", &x, o()))
        .unwrap_err();
    assert!(
        matches!(err, Error::Storage(StorageError::AlreadyExists { .. })),
        "{err}"
    );
    assert!(!d.join("new").exists());
    // Overwrite replaces it, and the consolidated metadata follows.
    let doubled = &x * 2.0;
    group
        .store(&Dataset::new().array("x", &doubled, o().mode(WriteMode::Overwrite)))
        .unwrap();
    assert_eq!(
        read_back::<f64>(d.path(), "x"),
        ndarray::arr1(&[0.0, 2.0, 4.0, 6.0]).into_dyn()
    );
    // Groups and arrays do not take each other's place.
    let err = zarr::create_group(d.path(), "x", &GroupOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::Storage(StorageError::AlreadyExists { .. })),
        "{err}"
    );
    let err = x.to_zarr(d.path(), "x/y", &o()).unwrap_err();
    assert!(
        matches!(err, Error::Storage(StorageError::NotAGroup { .. })),
        "{err}"
    );
    let err = zarr::open_group(d.path(), "x").unwrap_err();
    assert!(
        matches!(err, Error::Storage(StorageError::NotAGroup { .. })),
        "{err}"
    );
    let err = zarr::create_group(d.path(), "/", &GroupOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::Storage(StorageError::AlreadyExists { .. })),
        "{err}"
    );
    let err = zarr::create_group(d.path(), "../up", &GroupOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::Storage(StorageError::UnsafePath { .. })),
        "{err}"
    );
    // Resume keeps the group and its arrays; a group of the other version is refused.
    let again = GroupOptions::default()
        .attribute("v", 2)
        .mode(WriteMode::Resume);
    let group = zarr::create_group(d.path(), "/", &again).unwrap();
    assert_eq!(group.arrays(), ["x"]);
    assert_eq!(group.attributes()["v"], 2);
    let root: Json = serde_json::from_slice(&std::fs::read(d.join("zarr.json")).unwrap()).unwrap();
    assert!(
        root["consolidated_metadata"]["metadata"]["x"].is_object(),
        "{root}"
    );
    let v2 = again.version(ZarrVersion::V2);
    let err = zarr::create_group(d.path(), "/", &v2).unwrap_err();
    assert!(
        err.to_string()
            .contains("is Zarr V3, the options ask for V2"),
        "{err}"
    );
    // A refused Resume of a dataset writes nothing, not even the group's attributes.
    let titled = GroupOptions::default().attribute("title", "old");
    let one = || Dataset::new().array("x", &x, o());
    one().to_zarr(d.path(), "g", &titled).unwrap();
    let resume = titled.attribute("title", "new").mode(WriteMode::Resume);
    let err = one().to_zarr(d.path(), "g", &resume).unwrap_err();
    assert!(
        matches!(err, Error::Storage(StorageError::AlreadyExists { .. })),
        "{err}"
    );
    assert_eq!(
        zarr::open_group(d.path(), "g").unwrap().attributes()["title"],
        "old"
    );
    // Nor does a Create into a place without group metadata that holds an array already.
    x.to_zarr(d.path(), "implicit/x", &o()).unwrap();
    std::fs::remove_file(d.join("implicit/zarr.json")).unwrap();
    assert!(
        one()
            .to_zarr(d.path(), "implicit", &GroupOptions::default())
            .is_err()
    );
    assert!(!d.join("implicit/zarr.json").exists());
    // A later dataset must agree with the arrays the group keeps on each dimension's
    // length (xarray cannot open a group whose arrays disagree), unless it replaces them.
    let dims = |names: &[&str]| o().dimension_names(names.iter().copied());
    let lat3 = Dataset::new().coord("lat", vec![1.0, 2.0, 3.0], o());
    lat3.to_zarr(d.path(), "grid", &GroupOptions::default())
        .unwrap();
    let grid = zarr::open_group(d.path(), "grid").unwrap();
    let four = chunkwise::arange::<f64>(0.0, 4.0, 1.0, [4]).unwrap();
    let err = grid
        .store(&Dataset::new().array("t", &four, dims(&["lat"])))
        .unwrap_err();
    assert!(err.to_string().contains("\"lat\" has length 3"), "{err}");
    assert!(!d.join("grid/t").exists());
    // Nor is a Resume of the group that disagrees: its attributes stay as they were.
    let resume = GroupOptions::default()
        .attribute("title", "resumed")
        .mode(WriteMode::Resume);
    let err = Dataset::new()
        .array("t", &four, dims(&["lat"]))
        .to_zarr(d.path(), "grid", &resume)
        .unwrap_err();
    assert!(err.to_string().contains("\"lat\" has length 3"), "{err}");
    let grid = zarr::open_group(d.path(), "grid").unwrap();
    assert!(grid.attributes().get("title").is_none());
    let three = chunkwise::arange::<f64>(0.0, 3.0, 1.0, [3]).unwrap();
    grid.store(&Dataset::new().array("t", &three, dims(&["lat"])))
        .unwrap();
    let replaced = Dataset::new()
        .coord(
            "lat",
            vec![1.0, 2.0, 3.0, 4.0],
            o().mode(WriteMode::Overwrite),
        )
        .array("t", &four, dims(&["lat"]).mode(WriteMode::Overwrite));
    grid.store(&replaced).unwrap();
    assert_eq!(
        read_back::<f64>(d.path(), "grid/t"),
        four.compute().unwrap()
    );
}

/// A node of the other Zarr version below a group is written (readers of the group do not
/// list it, but open it by its path), and the group's consolidated metadata stays what its
/// own readers can read: v2's `.zmetadata` took in v3 `zarr.json` documents, and
/// zarr-python and xarray then failed to open the whole group.
#[test]
fn a_node_of_the_other_version_keeps_the_consolidated_metadata_readable() {
    let x = chunkwise::arange::<f64>(0.0, 4.0, 1.0, [2]).unwrap();
    let dims = || WriteOptions::default().dimension_names(["i"]);
    for (version, other) in [
        (ZarrVersion::V2, ZarrVersion::V3),
        (ZarrVersion::V3, ZarrVersion::V2),
    ] {
        let d = TempDir::new(&format!("groups-version-{version:?}"));
        let root = GroupOptions::default().version(version);
        let group = zarr::create_group(d.path(), "/", &root).unwrap();
        group.store(&Dataset::new().array("a", &x, dims())).unwrap();
        // Written after the group's consolidation, which it then refreshes.
        x.to_zarr(d.path(), "b", &dims().version(other)).unwrap();
        assert_eq!(read_back::<f64>(d.path(), "b"), x.compute().unwrap());
        let Some(python) = python() else { continue };
        let seen = described(&python, d.path(), None);
        assert_eq!(seen["consolidated_arrays"], json!(["a"]), "{seen}");
        if !seen["xarray"].is_null() {
            assert!(seen["xarray"]["variables"]["a"].is_object(), "{seen}");
        }
    }
}

#[test]
fn arrays_written_later_join_the_consolidated_metadata() {
    let d = TempDir::new("groups-later");
    let group = zarr::create_group(
        d.path(),
        "/",
        &GroupOptions::default().version(ZarrVersion::V2),
    )
    .unwrap();
    let x = chunkwise::arange::<f64>(0.0, 4.0, 1.0, [4]).unwrap();
    group
        .store(&Dataset::new().array("x", &x, WriteOptions::default()))
        .unwrap();
    x.to_zarr(
        d.path(),
        "later",
        &WriteOptions::default().version(ZarrVersion::V2),
    )
    .unwrap();
    let consolidated: Json =
        serde_json::from_slice(&std::fs::read(d.join(".zmetadata")).unwrap()).unwrap();
    assert!(
        consolidated["metadata"]["later/.zarray"].is_object(),
        "{consolidated}"
    );
    assert!(consolidated["metadata"]["x/.zarray"].is_object());
    // So do groups created later.
    zarr::create_group(
        d.path(),
        "sub",
        &GroupOptions::default().version(ZarrVersion::V2),
    )
    .unwrap();
    let consolidated: Json =
        serde_json::from_slice(&std::fs::read(d.join(".zmetadata")).unwrap()).unwrap();
    assert!(
        consolidated["metadata"]["sub/.zgroup"].is_object(),
        "{consolidated}"
    );
    // An append changes the shape: the consolidated copy follows.
    x.append_zarr(d.path(), "x", 0, &chunkwise::Config::default())
        .unwrap();
    let consolidated: Json =
        serde_json::from_slice(&std::fs::read(d.join(".zmetadata")).unwrap()).unwrap();
    assert_eq!(consolidated["metadata"]["x/.zarray"]["shape"], json!([8]));
}

/// A group is listed as the store holds it, not as its consolidated metadata last saw it:
/// another writer (zarr-python's `create_array`) adds arrays without consolidating, and
/// checks that missed them would let a write disagree with them.
#[test]
fn groups_list_arrays_their_consolidated_metadata_has_not_seen() {
    for version in VERSIONS {
        let d = TempDir::new(&format!("groups-stale-{version:?}"));
        let x = chunkwise::arange::<f64>(0.0, 4.0, 1.0, [4]).unwrap();
        let options = WriteOptions::default().dimension_names(["t"]);
        Dataset::new()
            .array("x", &x, options.clone())
            .to_zarr(d.path(), "g", &GroupOptions::default().version(version))
            .unwrap();
        // Written elsewhere and moved in, as a writer that does not consolidate leaves it.
        let y = chunkwise::arange::<f64>(0.0, 6.0, 1.0, [6]).unwrap();
        let elsewhere = d.join("elsewhere");
        y.to_zarr(&elsewhere, "/", &options.clone().version(version))
            .unwrap();
        std::fs::rename(&elsewhere, d.join("g/y")).unwrap();
        let group = zarr::open_group(d.path(), "g").unwrap();
        assert_eq!(group.arrays(), ["x", "y"], "{version:?}");
        // So a dataset that gives `t` another length than `y` has is refused.
        let refused = group.store(&Dataset::new().array("z", &x, options));
        assert!(
            matches!(&refused, Err(Error::Build(e)) if e.to_string().contains("\"y\"")),
            "{version:?}: {refused:?}"
        );
        // A child that cannot be read makes the group fail to open, saying so, rather
        // than be listed from consolidated metadata that may not know it.
        let meta = match version {
            ZarrVersion::V2 => "g/y/.zarray",
            _ => "g/y/zarr.json",
        };
        std::fs::write(d.join(meta), "{ not json").unwrap();
        let unreadable = zarr::open_group(d.path(), "g");
        assert!(
            matches!(&unreadable, Err(e) if e.to_string().contains("g/y")),
            "{version:?}: {unreadable:?}"
        );
    }
}

/// The arrays a group keeps are compared with a dataset stored beside them by their
/// metadata alone, so a string variable as xarray writes it in v2 (which zarrs cannot open)
/// still refuses a dataset that gives its dimension another length.
#[test]
fn arrays_chunkwise_cannot_open_still_fix_their_dimensions() {
    let d = TempDir::new("groups-strings");
    let v2 = GroupOptions::default().version(ZarrVersion::V2);
    zarr::create_group(d.path(), "g", &v2).unwrap();
    let name = d.join("g/name");
    std::fs::create_dir_all(&name).unwrap();
    let zarray = json!({"zarr_format": 2, "shape": [3], "chunks": [3], "dtype": "<U5",
        "compressor": null, "fill_value": null, "order": "C", "filters": null});
    std::fs::write(name.join(".zarray"), zarray.to_string()).unwrap();
    std::fs::write(
        name.join(".zattrs"),
        json!({"_ARRAY_DIMENSIONS": ["station"]}).to_string(),
    )
    .unwrap();
    let group = zarr::open_group(d.path(), "g").unwrap();
    assert!(group.array("name").is_err(), "zarrs opened a <U5 array");
    let x = chunkwise::arange::<f64>(0.0, 4.0, 1.0, [4]).unwrap();
    let four = Dataset::new().array(
        "x",
        &x,
        WriteOptions::default().dimension_names(["station"]),
    );
    let refused = group.store(&four).unwrap_err().to_string();
    assert!(refused.contains("\"name\""), "{refused}");
    let three = chunkwise::arange::<f64>(0.0, 3.0, 1.0, [3]).unwrap();
    let fits = Dataset::new().array(
        "x",
        &three,
        WriteOptions::default().dimension_names(["station"]),
    );
    group.store(&fits).unwrap();
}

/// A dataset grows along a dimension as xarray's `to_zarr(append_dim=...)` grows it: the
/// data and its coordinate together, in chunks the append does not align with, and
/// xarray opens the grown group (through consolidated metadata and without) with the
/// values a dense concatenation gives. An append that would leave the group's arrays
/// disagreeing is refused, writing nothing.
#[test]
fn datasets_grow_along_a_dimension_together() {
    for version in VERSIONS {
        let d = TempDir::new(&format!("groups-append-{version:?}"));
        let rows = |from: usize, n: usize| {
            let values: Vec<f32> = (from * 3..(from + n) * 3).map(|i| i as f32 * 0.5).collect();
            let tas = ArrayD::from_shape_vec(IxDyn(&[n, 3]), values).unwrap();
            let tas = from_ndarray(&tas, [5, 3]).unwrap();
            let time: Vec<f64> = (from..from + n).map(|t| 100.0 + t as f64).collect();
            Dataset::new()
                .coord(
                    "time",
                    time,
                    WriteOptions::default().units("days since 2000-01-01"),
                )
                .array(
                    "tas",
                    &tas,
                    WriteOptions::default()
                        .dimension_names(["time", "lat"])
                        .fill_value(f64::NAN)
                        .units("K"),
                )
        };
        let first = rows(0, 10).coord("lat", vec![-10.0, 0.0, 10.0], WriteOptions::default());
        first
            .to_zarr(d.path(), "g/sub", &GroupOptions::default().version(version))
            .unwrap();
        if version == ZarrVersion::V2 {
            // A string variable without the dimension, as xarray writes it in v2: zarrs
            // cannot open it, but its dimension names say it keeps its length.
            let name = d.join("g/sub/name");
            std::fs::create_dir_all(&name).unwrap();
            let zarray = json!({"zarr_format": 2, "shape": [3], "chunks": [3], "dtype": "<U5",
                "compressor": null, "fill_value": null, "order": "C", "filters": null});
            std::fs::write(name.join(".zarray"), zarray.to_string()).unwrap();
            let zattrs = json!({"_ARRAY_DIMENSIONS": ["lat"]});
            std::fs::write(name.join(".zattrs"), zattrs.to_string()).unwrap();
        }
        let group = zarr::open_group(d.path(), "g/sub").unwrap();
        group.append(&rows(10, 7), "time").unwrap();
        // Read back: the dense concatenation.
        let tas: Vec<f32> = (0..51).map(|i| i as f32 * 0.5).collect();
        let time: Vec<f64> = (0..17).map(|t| 100.0 + t as f64).collect();
        assert_eq!(
            read_back::<f32>(d.path(), "g/sub/tas")
                .into_raw_vec_and_offset()
                .0,
            tas
        );
        assert_eq!(
            read_back::<f64>(d.path(), "g/sub/time")
                .into_raw_vec_and_offset()
                .0,
            time
        );
        assert_eq!(read_back::<f32>(d.path(), "g/sub/tas").shape(), [17, 3]);

        // Refused, and nothing written: tas alone (time would keep its length), an
        // array the group lacks, a dimension tas lacks, lengths that disagree.
        let snapshot = || -> Vec<(String, Vec<u8>)> {
            let files = files_under(d.path()).into_iter();
            files
                .map(|f| (f.clone(), std::fs::read(d.join(&f)).unwrap()))
                .collect()
        };
        let before = snapshot();
        let more = from_ndarray(&ArrayD::<f32>::zeros(IxDyn(&[2, 3])), [2, 3]).unwrap();
        let alone = Dataset::new().array("tas", &more, WriteOptions::default());
        let refused = group.append(&alone, "time").unwrap_err().to_string();
        assert!(refused.contains("\"time\" has the dimension"), "{refused}");
        let stranger = Dataset::new().array("pr", &more, WriteOptions::default());
        let refused = group.append(&stranger, "time").unwrap_err().to_string();
        assert!(refused.contains("no array \"pr\""), "{refused}");
        let refused = group.append(&rows(17, 2), "depth").unwrap_err().to_string();
        assert!(refused.contains("has no dimension \"depth\""), "{refused}");
        let short_time = Dataset::new()
            .coord("time", vec![1.0], WriteOptions::default())
            .array("tas", &more, WriteOptions::default());
        let refused = group.append(&short_time, "time").unwrap_err().to_string();
        assert!(refused.contains("grow together"), "{refused}");
        // Named in another order than stored, a square block would go in transposed.
        let square = from_ndarray(&ArrayD::<f32>::zeros(IxDyn(&[3, 3])), [3, 3]).unwrap();
        let transposed = Dataset::new()
            .coord("time", vec![1.0, 2.0, 3.0], WriteOptions::default())
            .array(
                "tas",
                &square,
                WriteOptions::default().dimension_names(["lat", "time"]),
            );
        let refused = group.append(&transposed, "time").unwrap_err().to_string();
        assert!(refused.contains("the stored array"), "{refused}");
        assert!(snapshot() == before, "{version:?}: a refused append wrote");
        // An array with the dimension twice cannot grow along one axis.
        let square = from_ndarray(&ArrayD::<f32>::zeros(IxDyn(&[2, 2])), [2, 2]).unwrap();
        let twice = |n: usize, options: WriteOptions| {
            Dataset::new()
                .coord("time", vec![0.0; n], WriteOptions::default())
                .array("c", &square.slice(ndarray::s![..n, ..]).unwrap(), options)
        };
        let dims = WriteOptions::default().dimension_names(["time", "time"]);
        let options = GroupOptions::default().version(version);
        twice(2, dims).to_zarr(d.path(), "twice", &options).unwrap();
        let twice_group = zarr::open_group(d.path(), "twice").unwrap();
        let more = twice(1, WriteOptions::default());
        let refused = twice_group.append(&more, "time").unwrap_err().to_string();
        assert!(refused.contains("more than once"), "{refused}");

        let Some(python) = python() else { continue };
        let seen = described(&python, d.path(), Some("g/sub"));
        let xr = &seen["xarray"];
        if xr.is_null() {
            continue;
        }
        assert_eq!(xr["dims"], json!({"time": 17, "lat": 3}), "{version:?}");
        assert_eq!(seen["xarray_unconsolidated_agrees"], true, "{version:?}");
        // Decoded by xarray as datetime64[ns]: 2000-01-01 is day 10957 of the epoch.
        let nanoseconds: Vec<i64> = (0..17)
            .map(|t| (10957 + 100 + t) * 86_400 * 1_000_000_000)
            .collect();
        assert_eq!(xr["variables"]["time"]["values"], json!(nanoseconds));
        assert_eq!(
            xr["variables"]["tas"]["values"],
            listed((0..51).map(|i| f64::from(i as f32 * 0.5)))
        );
        assert_eq!(xr["variables"]["tas"]["attrs"]["units"], "K");
    }
}

#[test]
fn a_group_replaced_in_one_step_is_what_xarray_opens() {
    for version in VERSIONS {
        let label = format!("{version:?}");
        let d = TempDir::new("groups-replaced");
        let dims = || WriteOptions::default().dimension_names(["lat", "lon"]);
        let t = from_ndarray(&grid(|i| i as f64 - 4.0), [2, 3]).unwrap();
        let create = GroupOptions::default()
            .version(version)
            .attribute("title", "first");
        Dataset::new()
            .array("t", &t, dims().units("K"))
            .array("old", &t, dims())
            .to_zarr(d.path(), "run", &create)
            .unwrap();
        // Replaced by a group computed from it: the anomaly of `t` from its mean.
        let old_t = zarr::open(d.path(), "run/t")
            .unwrap()
            .into_typed::<f64>()
            .unwrap();
        let anomaly = &old_t - &old_t.mean();
        let replace = create
            .clone()
            .attribute("title", "second")
            .mode(WriteMode::Overwrite);
        Dataset::new()
            .coord("lat", vec![-45.0, 0.0, 45.0], WriteOptions::default())
            .array("anomaly", &anomaly, dims().units("K"))
            .to_zarr(d.path(), "run", &replace)
            .unwrap();
        let group = zarr::open_group(d.path(), "run").unwrap();
        assert_eq!(group.arrays(), ["anomaly", "lat"], "{label}");
        let Some(python) = python() else { continue };
        let seen = described(&python, d.path(), Some("run"));
        assert_eq!(
            seen["consolidated_arrays"],
            json!(["anomaly", "lat"]),
            "{label}"
        );
        let xr = &seen["xarray"];
        if xr.is_null() {
            continue;
        }
        assert_eq!(xr["attrs"], json!({"title": "second"}), "{label}");
        assert_eq!(xr["dims"], json!({"lat": 3, "lon": 4}), "{label}");
        // The mean of -4..8 is 1.5: exact in binary.
        let want = listed((0..12).map(|i| i as f64 - 4.0 - 1.5));
        assert_eq!(xr["variables"]["anomaly"]["values"], want, "{label}");
        assert_eq!(seen["xarray_unconsolidated_agrees"], json!(true), "{label}");
    }
}

#[test]
fn overwriting_a_group_replaces_a_store_without_group_metadata() {
    // A store whose root has no group metadata (an implicit group, or written by a tool
    // that made none), with an array in it: overwriting the root group replaces it all.
    let dir = TempDir::new("overwrite-implicit");
    let store = dir.path().join("old.zarr");
    let x = from_ndarray(&grid(|i| i as f64), [2, 3]).unwrap();
    x.to_zarr(&store, "/tas", &WriteOptions::default()).unwrap();
    std::fs::remove_file(store.join("zarr.json")).unwrap();
    let overwrite = GroupOptions::default().mode(WriteMode::Overwrite);
    let group = zarr::create_group(&store, "/", &overwrite).unwrap();
    assert!(group.arrays().is_empty(), "{:?}", group.arrays());
    assert!(!store.join("tas").exists());
    // The array's name is free again.
    x.to_zarr(&store, "/tas", &WriteOptions::default()).unwrap();
    // Overwrite of a group that is not there at all just creates it.
    let fresh = dir.path().join("fresh.zarr");
    assert!(zarr::create_group(&fresh, "/", &overwrite).is_ok());
}

/// CF-packed variables written by xarray (int16 with scale, offset and fill value; uint8
/// with a `missing_value`; float32 with a float fill value, base64-encoded in v3), and one
/// written by zarr-python with a `_FillValue` attribute (beside a null v2 `fill_value`),
/// and bytes of the other signedness (`_Unsigned` `"false"` and `"true"`, with a fill value
/// and a missing value each, or the array's own v2 fill value), decode to exactly the values xarray decodes, in the float
/// type xarray picks.
#[test]
fn packed_variables_decode_as_xarray_decodes_them() {
    let Some(python) = python() else {
        return;
    };
    for version in ["2", "3"] {
        let d = TempDir::new("groups-cf");
        let store = d.join("packed.zarr");
        let args = [store.as_os_str(), version.as_ref()];
        let Some(expected) = xarray_script(&python, "cf_packed.py", &args) else {
            return;
        };
        for name in ["t", "n", "q", "w", "f", "s", "u", "m"] {
            let label = format!("v{version} {name}");
            let array = zarr::open(&store, name).unwrap();
            let decoded = match expected[name]["dtype"].as_str().unwrap() {
                "float32" => array
                    .decode_cf::<f32>()
                    .unwrap()
                    .compute()
                    .unwrap()
                    .mapv(f64::from),
                "float64" => array.decode_cf::<f64>().unwrap().compute().unwrap(),
                other => panic!("{label}: xarray decoded to {other}"),
            };
            assert_eq!(
                listed(decoded.iter().copied()),
                expected[name]["values"],
                "{label}"
            );
        }
        // Packed values are decoded, not merely converted: the stored integers differ.
        let raw = zarr::open(&store, "t")
            .unwrap()
            .astype::<f64>()
            .compute()
            .unwrap();
        assert!(
            raw.iter().any(|&v| v == -32767.0),
            "v{version}: t holds missing values"
        );
    }
}

#[test]
fn bad_packing_attributes_are_refused_with_their_name() {
    let d = TempDir::new("groups-cf-bad");
    let x = from_ndarray(&grid(|i| i as i16), [3, 4]).unwrap();
    let options = WriteOptions::default().attribute("scale_factor", "ten");
    x.to_zarr(d.path(), "x", &options).unwrap();
    let message = zarr::open(d.path(), "x")
        .unwrap()
        .decode_cf::<f32>()
        .unwrap_err()
        .to_string();
    assert!(message.contains("scale_factor"), "{message}");
}

#[test]
fn unsigned_bytes_in_signed_storage_decode_as_unsigned() {
    let d = TempDir::new("groups-cf-unsigned");
    let stored = ndarray::arr1(&[0i8, 1, 127, -128, -2, -1]).into_dyn();
    let options = WriteOptions::default()
        .fill_value(-1.0)
        .attribute("_Unsigned", "true")
        .attribute("scale_factor", 0.5);
    from_ndarray(&stored, [4])
        .unwrap()
        .to_zarr(d.path(), "b", &options)
        .unwrap();
    let decoded = zarr::open(d.path(), "b")
        .unwrap()
        .decode_cf::<f64>()
        .unwrap();
    // Decoding is one fused elementwise step on the read: no tile of the stored values or
    // of the mask is made.
    let plan = decoded.explain().unwrap();
    let nodes: Vec<&str> = plan
        .lines()
        .filter(|l| l.trim_start().starts_with('#'))
        .collect();
    assert_eq!(nodes.len(), 2, "{plan}");
    assert!(
        nodes[0].contains("Elemwise where(") && nodes[1].contains("Source zarr"),
        "{plan}"
    );
    let expected = [0.0, 0.5, 63.5, 64.0, 127.0, f64::NAN];
    assert_eq!(listed(decoded.compute().unwrap()), listed(expected));
}

/// A `_FillValue` attribute that the type `_Unsigned` makes it a value of cannot hold is
/// refused, as xarray refuses it (NumPy's `OverflowError`), rather than masking nothing.
#[test]
fn fill_values_that_unsigned_cannot_hold_are_refused() {
    let d = TempDir::new("groups-cf-unsigned-fill");
    let bytes = ndarray::arr1(&[0u8, 1, 255]).into_dyn();
    from_ndarray(&bytes, [3])
        .unwrap()
        .to_zarr(d.path(), "b", &WriteOptions::default())
        .unwrap();
    // The attributes as a netCDF-derived store holds them (chunkwise writes `_FillValue`
    // from the fill value alone).
    let meta = d.path().join("b/zarr.json");
    let original: Json = serde_json::from_str(&std::fs::read_to_string(&meta).unwrap()).unwrap();
    for (unsigned, fill, fits) in [
        ("false", 255, false),
        ("false", -1, true),
        ("true", 255, true),
    ] {
        let mut json = original.clone();
        json["attributes"] = json!({ "_Unsigned": unsigned, "_FillValue": fill });
        std::fs::write(&meta, json.to_string()).unwrap();
        let decoded = zarr::open(d.path(), "b").unwrap().decode_cf::<f64>();
        assert_eq!(decoded.is_ok(), fits, "{unsigned} {fill}: {decoded:?}");
        match decoded {
            // Stored 255 is the fill: -1 read as signed, or 255 where "true" does not apply
            // (to unsigned integers).
            Ok(decoded) => assert_eq!(
                listed(decoded.compute().unwrap()),
                listed([0.0, 1.0, f64::NAN])
            ),
            Err(e) => assert!(e.to_string().contains("does not fit int8"), "{e}"),
        }
    }
}

/// zarr-python writes a float attribute that is not finite as a bare `NaN` or `Infinity`,
/// which is not JSON: chunkwise reads such stores (the attribute as the string of that
/// spelling), and an append, which rewrites the array's metadata and the consolidated
/// metadata, leaves the attributes as zarr-python wrote them.
#[test]
fn non_finite_attributes_that_zarr_python_writes_are_read_and_kept() {
    let Some(python) = python() else { return };
    let run = |args: &[&OsStr]| xarray_script(&python, "nonfinite_attrs.py", args);
    for version in ["2", "3"] {
        let d = TempDir::new("groups-nonfinite");
        let store = d.join("nan.zarr");
        let Some(_) = run(&["write".as_ref(), store.as_os_str(), version.as_ref()]) else {
            return;
        };
        let raw = std::fs::read_to_string(store.join(match version {
            "2" => "g/tas/.zattrs",
            _ => "g/tas/zarr.json",
        }))
        .unwrap();
        assert!(raw.contains("NaN,") || raw.contains("NaN\n"), "{raw}");

        let group = zarr::open_group(&store, "g").unwrap();
        assert_eq!(group.attributes()["x"], json!("NaN"), "v{version}");
        assert_eq!(group.attributes()["hi"], json!("Infinity"), "v{version}");
        let tas = zarr::open(&store, "g/tas").unwrap();
        let attrs = tas.attributes();
        assert_eq!(
            (&attrs["valid_max"], &attrs["lo"], &attrs["label"]),
            (&json!("NaN"), &json!("-Infinity"), &json!("NaN")),
            "v{version}"
        );
        let values = tas.into_typed::<f64>().unwrap().compute().unwrap();
        assert_eq!(values.into_raw_vec_and_offset().0, [0., 1., 2., 3., 4., 5.]);

        let more = from_ndarray(&ArrayD::from_elem(IxDyn(&[1, 3]), 7.0), [1, 3]).unwrap();
        let rows = Dataset::new()
            .coord("time", vec![2.0], WriteOptions::default())
            .array(
                "tas",
                &more,
                WriteOptions::default().dimension_names(["time", "lat"]),
            );
        group.append(&rows, "time").unwrap();

        let Some(seen) = run(&["read".as_ref(), store.as_os_str()]) else {
            return;
        };
        let tas_attrs = json!({"valid_max": "float:nan", "lo": "float:-inf", "label": "str:'NaN'"});
        let group_attrs = json!({"x": "float:nan", "hi": "float:inf"});
        for view in ["plain", "consolidated"] {
            assert_eq!(seen[view]["tas"], tas_attrs, "v{version} {view}");
            assert_eq!(seen[view]["group"], group_attrs, "v{version} {view}");
            assert_eq!(seen[view]["shape"], json!([3, 3]), "v{version} {view}");
        }
        assert_eq!(seen["xarray"]["group"], group_attrs, "v{version}");
        assert_eq!(seen["xarray"]["tas"], tas_attrs, "v{version}");
        assert_eq!(
            seen["xarray"]["values"],
            json!([0., 1., 2., 3., 4., 5., 7., 7., 7.]),
            "v{version}"
        );
    }
}

/// Metadata as zarr-python writes it, with a bare `NaN` and an integer beyond 64 bits
/// among the attributes, opens; what chunkwise rewrites itself (an append's new shapes,
/// consolidated metadata, which embeds every node's document) keeps such values as they
/// were stored, also for the nodes the append does not touch. Checked on the stored text,
/// for a directory store and for a zarrs store given to `Store::from_storage`.
#[test]
fn metadata_rewrites_keep_the_values_they_do_not_set() {
    const BIG: &str = "1180591620717411303424";
    for version in VERSIONS {
        for custom in [false, true] {
            let label = format!("{version:?} custom store: {custom}");
            let d = TempDir::new("groups-verbatim");
            let time = |from: usize, n: usize| -> Vec<f64> {
                (from..from + n).map(|t| t as f64).collect()
            };
            let rows = |from: usize, n: usize| {
                let values = chunkwise::arange::<f64>(0.0, n as f64, 1.0, [2]).unwrap();
                Dataset::new()
                    .coord("time", time(from, n), WriteOptions::default())
                    .array(
                        "tas",
                        &values,
                        WriteOptions::default().dimension_names(["time"]),
                    )
            };
            let other = chunkwise::arange::<f64>(0.0, 2.0, 1.0, [2]).unwrap();
            rows(0, 3)
                .array(
                    "other",
                    &other,
                    WriteOptions::default().dimension_names(["x"]),
                )
                .to_zarr(d.path(), "g", &GroupOptions::default().version(version))
                .unwrap();
            // The attributes, as zarr-python writes them: not JSON that serde reads exactly.
            let attributes_of = |node: &str| match version {
                ZarrVersion::V2 => d.join(&format!("g/{node}/.zattrs")),
                _ => d.join(&format!("g/{node}/zarr.json")),
            };
            for node in ["tas", "other"] {
                let path = attributes_of(node);
                let mut doc: Json = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                let attrs = match version {
                    ZarrVersion::V2 => &mut doc,
                    _ => &mut doc["attributes"],
                };
                attrs["big"] = json!("@big@");
                attrs["missing"] = json!("@nan@");
                let text = serde_json::to_string_pretty(&doc)
                    .unwrap()
                    .replace("\"@big@\"", BIG)
                    .replace("\"@nan@\"", "NaN");
                std::fs::write(&path, text).unwrap();
            }
            let store = match custom {
                false => Store::directory(d.path()).unwrap(),
                true => Store::from_storage(Arc::new(FilesystemStore::new(d.path()).unwrap())),
            };
            zarr::consolidate_metadata(&store, "g").unwrap();
            let group = zarr::open_group(&store, "g").unwrap();
            let tas = group.array("tas").unwrap();
            assert_eq!(tas.attributes()["missing"], json!("NaN"), "{label}");
            assert_eq!(
                tas.attributes()["big"],
                json!(1.1805916207174113e21),
                "{label}"
            );

            group.append(&rows(3, 2), "time").unwrap();
            assert_eq!(
                read_back::<f64>(&store, "g/time")
                    .into_raw_vec_and_offset()
                    .0,
                time(0, 5),
                "{label}"
            );
            let consolidated = match version {
                ZarrVersion::V2 => d.join("g/.zmetadata"),
                _ => d.join("g/zarr.json"),
            };
            for path in [attributes_of("tas"), attributes_of("other"), consolidated] {
                let text = std::fs::read_to_string(&path).unwrap();
                let shown = format!("{label}: {}:\n{text}", path.display());
                let compact: String = text.split_whitespace().collect();
                assert!(compact.contains(&format!("\"big\":{BIG}")), "{shown}");
                assert!(compact.contains("\"missing\":NaN"), "{shown}");
                assert!(!text.contains("\\u0001"), "{shown}");
                assert_indented_by_depth(&text, &shown);
            }
        }
    }
}

/// Writes `g/other` in `dir`: 4 ones along a dimension `y` that no append grows.
fn write_other_dimension(dir: &Path, version: ZarrVersion) {
    let other = WriteOptions::default()
        .version(version)
        .dimension_names(["y"]);
    chunkwise::full::<f64>(&[4], 1.0, [4])
        .unwrap()
        .to_zarr(dir, "g/other", &other)
        .unwrap();
}

/// A directory store whose writes of array metadata documents (`g/<array>/zarr.json` or
/// `.zarray`) fail as armed: after `allowed` more succeed, the next `failures` fail. A shape
/// update failing part-way, as a store error or a killed process leaves it.
struct FailingShapeWrites {
    inner: Arc<FilesystemStore>,
    allowed: std::sync::atomic::AtomicUsize,
    failures: std::sync::atomic::AtomicUsize,
}

impl FailingShapeWrites {
    fn over(dir: &Path) -> Arc<FailingShapeWrites> {
        Arc::new(FailingShapeWrites {
            inner: Arc::new(FilesystemStore::new(dir).unwrap()),
            allowed: 0.into(),
            failures: 0.into(),
        })
    }

    fn arm(&self, allowed: usize, failures: usize) {
        self.allowed.store(allowed, Ordering::SeqCst);
        self.failures.store(failures, Ordering::SeqCst);
    }
}

mod failing_shape_writes {
    use super::FailingShapeWrites;
    use std::sync::atomic::Ordering;
    use zarrs::storage::byte_range::ByteRangeIterator;
    use zarrs::storage::{
        Bytes, ListableStorageTraits, MaybeBytesIterator, OffsetBytesIterator,
        ReadableStorageTraits, StorageError, StoreKey, StoreKeys, StoreKeysPrefixes, StorePrefix,
        WritableStorageTraits,
    };

    impl ReadableStorageTraits for FailingShapeWrites {
        fn get_partial_many<'a>(
            &'a self,
            key: &StoreKey,
            byte_ranges: ByteRangeIterator<'a>,
        ) -> Result<MaybeBytesIterator<'a>, StorageError> {
            self.inner.get_partial_many(key, byte_ranges)
        }
        fn size_key(&self, key: &StoreKey) -> Result<Option<u64>, StorageError> {
            self.inner.size_key(key)
        }
        fn supports_get_partial(&self) -> bool {
            self.inner.supports_get_partial()
        }
    }

    impl ListableStorageTraits for FailingShapeWrites {
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

    impl WritableStorageTraits for FailingShapeWrites {
        fn set(&self, key: &StoreKey, value: Bytes) -> Result<(), StorageError> {
            let parts: Vec<&str> = key.as_str().split('/').collect();
            let array_metadata = matches!(parts[..], ["g", _, "zarr.json" | ".zarray"]);
            let take = |counter: &std::sync::atomic::AtomicUsize| {
                counter
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
            };
            if array_metadata && !take(&self.allowed) && take(&self.failures) {
                return Err(StorageError::Other(format!(
                    "injected failure writing {key}"
                )));
            }
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
}

/// The intermediate array of `rechunk_via_store` is hidden: a group written into the same
/// store lists (and consolidates) its own arrays only, while the intermediate one lives.
#[test]
fn a_rechunk_through_the_store_stays_out_of_its_groups() {
    for version in VERSIONS {
        let label = format!("{version:?}");
        let d = TempDir::new("groups-rechunk-scratch");
        let x = chunkwise::arange::<f64>(0.0, 64.0, 1.0, [64]).unwrap();
        let y = x.rechunk_via_store([16], d.path()).unwrap();
        Dataset::new()
            .array("y", &y, WriteOptions::default().dimension_names(["t"]))
            .to_zarr(d.path(), "/", &GroupOptions::default().version(version))
            .unwrap();
        let scratch = d.join(".chunkwise-scratch");
        let hidden = std::fs::read_dir(&scratch).unwrap().count();
        assert_eq!(hidden, 1, "{label}: the intermediate array is still there");
        let group = zarr::open_group(d.path(), "/").unwrap();
        assert_eq!(group.arrays(), ["y"], "{label}");
        assert_eq!(
            read_back::<f64>(d.path(), "y"),
            x.compute().unwrap(),
            "{label}"
        );
        let Some(python) = python() else { continue };
        let seen = described(&python, d.path(), None);
        assert_eq!(seen["consolidated_arrays"], json!(["y"]), "{label}");
        let arrays: Vec<&String> = seen["zarr"]["arrays"].as_object().unwrap().keys().collect();
        assert_eq!(arrays, ["y"], "{label}");
        assert_eq!(seen["xarray_unconsolidated_agrees"], json!(true), "{label}");
        drop(y);
        assert!(
            !scratch.exists(),
            "{label}: erased with the array reading it"
        );
    }
}

/// An `append_zarr` killed after its journal was written (in the array) and before the
/// shape grew: a `Group::append` undoes it first, so that a later `append_zarr` of the array
/// does not take the rows the group append added for its own, and shrink them away. Given
/// the group's path, `append_zarr` leaves a group's journal alone.
#[test]
fn a_group_append_settles_an_array_append_left_half_done() {
    for version in VERSIONS {
        let label = format!("{version:?}");
        let d = TempDir::new("groups-append-array-journal");
        let rows = |from: usize, n: usize| {
            let time: Vec<f64> = (from..from + n).map(|t| t as f64).collect();
            let tas = ndarray::Array1::from(time.clone()).into_dyn() * 10.0;
            let tas = from_ndarray(&tas, [3]).unwrap();
            Dataset::new()
                .coord("time", time, WriteOptions::default())
                .array(
                    "tas",
                    &tas,
                    WriteOptions::default().dimension_names(["time"]),
                )
        };
        rows(0, 4)
            .to_zarr(d.path(), "g", &GroupOptions::default().version(version))
            .unwrap();
        // What a kill between the journal and the shape write leaves: tas still has 4 rows.
        let journal = json!({"arrays": [{"path": "/g/tas", "from": [4], "to": [7]}]});
        let left = d.join("g/tas/.chunkwise-append.json");
        std::fs::write(&left, journal.to_string()).unwrap();
        // An array the group append does not grow keeps its journal, even a stale one.
        write_other_dimension(d.path(), version);
        let stale = json!({"arrays": [{"path": "/g/other", "from": [9], "to": [11]}]});
        let unrelated = d.join("g/other/.chunkwise-append.json");
        std::fs::write(&unrelated, stale.to_string()).unwrap();
        let group = zarr::open_group(d.path(), "g").unwrap();
        group.append(&rows(4, 3), "time").unwrap();
        assert!(!left.exists(), "{label}");
        assert!(unrelated.is_file(), "{label}");
        let one = from_ndarray(&ndarray::arr1(&[70.0]).into_dyn(), [1]).unwrap();
        one.append_zarr(d.path(), "g/tas", 0, &chunkwise::Config::default())
            .unwrap();
        let tas: Vec<f64> = (0..8).map(|t| t as f64 * 10.0).collect();
        assert_eq!(
            read_back::<f64>(d.path(), "g/tas")
                .into_raw_vec_and_offset()
                .0,
            tas,
            "{label}"
        );
        // A group's journal is not settled by append_zarr given the group's path.
        let pending = json!({"arrays": [{"path": "/g/time", "from": [7], "to": [9]}]});
        let group_journal = d.join("g/.chunkwise-append.json");
        std::fs::write(&group_journal, pending.to_string()).unwrap();
        let refused = one.append_zarr(d.path(), "g", 0, &chunkwise::Config::default());
        assert!(refused.is_err(), "{label}");
        assert!(group_journal.is_file(), "{label}");
    }
}

/// An `append_zarr` whose consolidated metadata cannot be refreshed after the shape grew (a
/// sibling's document is unreadable) fails as a whole: the shape is the old one, and once
/// the sibling is fixed the same append, run again, stores its rows once.
#[test]
fn an_array_append_whose_consolidation_fails_is_undone() {
    for version in VERSIONS {
        let label = format!("{version:?}");
        let d = TempDir::new("groups-append-unconsolidated");
        let x = chunkwise::arange::<f64>(0.0, 4.0, 1.0, [2]).unwrap();
        let options = WriteOptions::default().dimension_names(["t"]);
        Dataset::new()
            .array("x", &x, options)
            .to_zarr(d.path(), "/", &GroupOptions::default().version(version))
            .unwrap();
        let document = match version {
            ZarrVersion::V2 => ".zarray",
            _ => "zarr.json",
        };
        std::fs::create_dir(d.join("bad")).unwrap();
        std::fs::write(d.join("bad").join(document), "{").unwrap();
        let more = chunkwise::arange::<f64>(4.0, 6.0, 1.0, [2]).unwrap();
        let config = chunkwise::Config::default();
        let err = more.append_zarr(d.path(), "x", 0, &config).unwrap_err();
        assert!(err.to_string().contains("bad"), "{label}: {err}");
        assert!(err.to_string().contains("old ones again"), "{label}: {err}");
        assert_eq!(
            read_back::<f64>(d.path(), "x").as_slice().unwrap(),
            [0.0, 1.0, 2.0, 3.0]
        );
        assert!(!d.join("x/.chunkwise-append.json").exists(), "{label}");
        std::fs::remove_dir_all(d.join("bad")).unwrap();
        more.append_zarr(d.path(), "x", 0, &config).unwrap();
        let grown = read_back::<f64>(d.path(), "x");
        assert_eq!(
            grown.as_slice().unwrap(),
            [0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
            "{label}"
        );
        assert!(!d.join("x/.chunkwise-append.json").exists(), "{label}");
        let (file, shape) = match version {
            ZarrVersion::V2 => (".zmetadata", "/metadata/x~1.zarray/shape"),
            _ => ("zarr.json", "/consolidated_metadata/metadata/x/shape"),
        };
        let consolidated: Json =
            serde_json::from_slice(&std::fs::read(d.join(file)).unwrap()).unwrap();
        assert_eq!(consolidated.pointer(shape), Some(&json!([6])), "{label}");
    }
}

/// How a group append that fails while its arrays' shapes grow ends, and what running it
/// again gives:
/// - a shape write that fails (the first or the second) is undone: the group keeps its
///   lengths, no journal stays, and the same append run again gives the rows once;
/// - where undoing fails too (as after a killed process), the group is left half grown
///   with its journal; the next append undoes that one first (running it again gives the
///   rows once), or `complete_interrupted_append` completes it.
///
/// Each end is checked on the values (the dense concatenation), on the consolidated
/// metadata readers use, and on the journal's absence. A journal that no longer fits the
/// arrays is an error that names it, and is kept.
#[test]
fn an_append_failing_while_the_shapes_grow_is_undone_or_completed() {
    for version in VERSIONS {
        // (shape writes that succeed, then fail; how the test goes on)
        let cases = [
            (0, 1, "again"),
            (1, 1, "again"),
            (1, usize::MAX, "again"),
            (1, usize::MAX, "complete"),
        ];
        for (allowed, failures, then) in cases {
            let label = format!("{version:?}, {allowed} written then {failures} failing, {then}");
            let d = TempDir::new("groups-interrupted-append");
            let rows = |from: usize, n: usize| {
                let values: Vec<f64> = (from * 2..(from + n) * 2).map(|i| i as f64).collect();
                let tas = ArrayD::from_shape_vec(IxDyn(&[n, 2]), values).unwrap();
                let tas = from_ndarray(&tas, [3, 2]).unwrap();
                let time: Vec<f64> = (from..from + n).map(|t| t as f64).collect();
                Dataset::new()
                    .coord("time", time, WriteOptions::default())
                    .array(
                        "tas",
                        &tas,
                        WriteOptions::default().dimension_names(["time", "x"]),
                    )
            };
            rows(0, 4)
                .to_zarr(d.path(), "g", &GroupOptions::default().version(version))
                .unwrap();
            // An array of another dimension, which the group's appends leave alone.
            write_other_dimension(d.path(), version);
            let failing = FailingShapeWrites::over(d.path());
            let group = zarr::open_group(Store::from_storage(failing.clone()), "g").unwrap();
            failing.arm(allowed, failures);
            let failed = group.append(&rows(4, 3), "time").unwrap_err().to_string();
            failing.arm(0, 0);
            assert!(failed.contains("injected failure"), "{label}: {failed}");

            let journal = d.join("g/.chunkwise-append.json");
            let lengths = || {
                ["time", "tas"]
                    .map(|name| zarr::open(d.path(), &format!("g/{name}")).unwrap().shape()[0])
            };
            if failures == 1 {
                // Undone at once.
                assert!(!journal.exists(), "{label}");
                assert_eq!(lengths(), [4, 4], "{label}");
            } else {
                assert!(failed.contains("half grown"), "{label}: {failed}");
                assert!(journal.is_file(), "{label}");
                let mut half = lengths();
                half.sort();
                assert_eq!(half, [4, 7], "{label}");
                // Growing one of the arrays alone would overwrite what completing exposes.
                for name in ["time", "tas"] {
                    let shape: &[usize] = if name == "time" { &[1] } else { &[1, 2] };
                    let one = chunkwise::full::<f64>(shape, 9.0, shape.to_vec()).unwrap();
                    let refused = one
                        .append_zarr(d.path(), &format!("g/{name}"), 0, &Default::default())
                        .unwrap_err()
                        .to_string();
                    assert!(
                        refused.contains("interrupted Group::append"),
                        "{label}: {refused}"
                    );
                }
                // Growing the other array alone keeps the group's journal as it is.
                let recorded = std::fs::read(&journal).unwrap();
                chunkwise::full::<f64>(&[1], 2.0, [1])
                    .unwrap()
                    .append_zarr(d.path(), "g/other", 0, &Default::default())
                    .unwrap();
                assert_eq!(std::fs::read(&journal).unwrap(), recorded, "{label}");
                let other = read_back::<f64>(d.path(), "g/other");
                assert_eq!(other.as_slice().unwrap(), [1.0, 1.0, 1.0, 1.0, 2.0]);
            }
            match then {
                "complete" => {
                    assert!(group.complete_interrupted_append().unwrap(), "{label}");
                    assert!(!group.complete_interrupted_append().unwrap(), "{label}");
                }
                _ => {
                    group.append(&rows(4, 3), "time").unwrap();
                }
            }
            assert!(!journal.exists(), "{label}");
            assert_eq!(lengths(), [7, 7], "{label}");
            let time: Vec<f64> = (0..7).map(|t| t as f64).collect();
            let tas: Vec<f64> = (0..14).map(|i| i as f64).collect();
            let read = |name: &str| {
                read_back::<f64>(d.path(), &format!("g/{name}"))
                    .into_raw_vec_and_offset()
                    .0
            };
            assert_eq!(read("time"), time, "{label}");
            assert_eq!(read("tas"), tas, "{label}");
            // The consolidated metadata, which readers of the group use, follows.
            let consolidated = match version {
                ZarrVersion::V2 => d.join("g/.zmetadata"),
                _ => d.join("g/zarr.json"),
            };
            let text: String = std::fs::read_to_string(&consolidated)
                .unwrap()
                .split_whitespace()
                .collect();
            assert!(text.contains("\"shape\":[7,2]"), "{label}: {text}");
            assert!(text.contains("\"shape\":[7]"), "{label}: {text}");
        }

        // A journal whose array changed since (grown by another append): an error naming
        // the journal, which stays.
        let d = TempDir::new("groups-stale-journal");
        let time = |from: usize, n: usize| {
            let values: Vec<f64> = (from..from + n).map(|t| t as f64).collect();
            Dataset::new().coord("time", values, WriteOptions::default())
        };
        time(0, 2)
            .to_zarr(d.path(), "g", &GroupOptions::default().version(version))
            .unwrap();
        let journal = json!({"arrays": [{"path": "/g/time", "from": [1], "to": [3]}]});
        std::fs::write(d.join("g/.chunkwise-append.json"), journal.to_string()).unwrap();
        let group = zarr::open_group(d.path(), "g").unwrap();
        let refused = group.append(&time(2, 1), "time").unwrap_err().to_string();
        assert!(
            refused.contains(".chunkwise-append.json"),
            "{version:?}: {refused}"
        );
        assert!(
            refused.contains("[1]") && refused.contains("[2]"),
            "{version:?}: {refused}"
        );
        assert!(d.join("g/.chunkwise-append.json").is_file(), "{version:?}");
        assert_eq!(
            zarr::open(d.path(), "g/time").unwrap().shape(),
            [2],
            "{version:?}"
        );
    }
}

/// `text` (JSON) has one line per member or element, indented by two spaces for each
/// object or array it is in, as zarr-python lays documents out: also where a document embeds
/// others (consolidated metadata).
fn assert_indented_by_depth(text: &str, shown: &str) {
    let mut depth = 0usize;
    for line in text.lines() {
        let content = line.trim_start();
        // A line that closes a container is indented as the line that opened it.
        let closes = content.starts_with(['}', ']']);
        let expected = 2 * (depth - usize::from(closes));
        assert_eq!(line.len() - content.len(), expected, "{line:?} in {shown}");
        let mut in_string = false;
        let mut escaped = false;
        for c in content.chars() {
            match c {
                _ if escaped => escaped = false,
                '\\' if in_string => escaped = true,
                '"' => in_string = !in_string,
                '{' | '[' if !in_string => depth += 1,
                '}' | ']' if !in_string => depth -= 1,
                _ => {}
            }
        }
    }
    assert_eq!(depth, 0, "{shown}");
}

/// A group's write that fails erases every array it had started (the coordinates too):
/// the group holds what it held before, and xarray finds no partial variable in it.
#[test]
fn a_failed_group_write_leaves_no_partial_arrays() {
    for version in VERSIONS {
        let d = TempDir::new("failed-group");
        let options = GroupOptions::default().version(version);
        let root = zarr::create_group(d.path(), "/", &options).unwrap();
        let kept = from_ndarray(&ArrayD::from_elem(IxDyn(&[4]), 1.5f64), [2]).unwrap();
        root.store(&Dataset::new().array("kept", &kept, WriteOptions::default()))
            .unwrap();
        let failing = chunkwise::from_fn(&[4, 6], [2, 3], |block, ranges| {
            assert!(block != [1, 1], "simulated failure in block {block:?}");
            ArrayD::from_elem(IxDyn(&[ranges[0].len(), ranges[1].len()]), 2.0f64)
        })
        .unwrap();
        let dims = WriteOptions::default()
            .dimension_names(["y", "x"])
            .config(chunkwise::Config::default().threads(1));
        let dataset = Dataset::new()
            .coord("y", vec![0.0, 1.0, 2.0, 3.0], WriteOptions::default())
            .array("t", &failing, dims);
        root.store(&dataset).unwrap_err();
        let root = zarr::open_group(d.path(), "/").unwrap();
        assert_eq!(root.arrays(), ["kept"], "{version:?}");
        for name in ["t", "y"] {
            assert!(
                chunk_files(d.path(), name).is_empty(),
                "{version:?}: chunks of {name} left: {:?}",
                chunk_files(d.path(), name)
            );
        }
    }
}

/// Writes that fail before or while they run leave no array, nor a listing of one:
/// - a group's write whose second array cannot be prepared (its metadata write fails)
///   erases the first, which was prepared;
/// - an overwrite that cannot be staged (a store given to `Store::from_storage` erases the
///   old array first) and then fails leaves the group's consolidated metadata without it,
///   so a reader that lists the group from there (xarray) finds no array of fill values.
#[test]
fn failed_writes_leave_no_array_and_no_listing_of_one() {
    for version in VERSIONS {
        let d = TempDir::new("groups-failed-prepare");
        let options = GroupOptions::default().version(version);
        let x = from_ndarray(&grid(|i| i as f64), [2, 2]).unwrap();
        let failing = FailingShapeWrites::over(d.path());
        let group =
            zarr::create_group(Store::from_storage(failing.clone()), "g", &options).unwrap();
        failing.arm(1, 1);
        let both = Dataset::new()
            .array("a", &x, WriteOptions::default())
            .array("b", &x, WriteOptions::default());
        let failed = group.store(&both).unwrap_err().to_string();
        failing.arm(0, 0);
        assert!(failed.contains("injected failure"), "{version:?}: {failed}");
        for name in ["a", "b"] {
            assert!(
                zarr::open(d.path(), &format!("g/{name}")).is_err(),
                "{version:?}"
            );
        }
        assert!(files_under(&d.join("g/a")).is_empty(), "{version:?}");

        let kept = Dataset::new()
            .array("a", &x, WriteOptions::default())
            .array("keep", &x, WriteOptions::default());
        zarr::open_group(d.path(), "g")
            .unwrap()
            .store(&kept)
            .unwrap();
        let unstaged = Store::from_storage(Arc::new(FilesystemStore::new(d.path()).unwrap()));
        let crashing = chunkwise::from_fn(&[3, 4], [2, 2], |block, ranges| {
            assert!(block != [1, 1], "simulated failure in block {block:?}");
            ArrayD::from_elem(IxDyn(&[ranges[0].len(), ranges[1].len()]), 2.0f64)
        })
        .unwrap();
        let overwrite = WriteOptions::default()
            .version(version)
            .mode(WriteMode::Overwrite)
            .config(chunkwise::Config::default().threads(1));
        crashing.to_zarr(&unstaged, "g/a", &overwrite).unwrap_err();
        assert!(zarr::open(d.path(), "g/a").is_err(), "{version:?}");
        let listed = zarr::open_group(unstaged, "g").unwrap();
        assert_eq!(listed.arrays(), ["keep"], "{version:?}");
        // The nodes the group's consolidated metadata lists.
        let consolidated = || -> Vec<String> {
            let (file, listing) = match version {
                ZarrVersion::V2 => ("g/.zmetadata", "/metadata"),
                _ => ("g/zarr.json", "/consolidated_metadata/metadata"),
            };
            let document: Json =
                serde_json::from_slice(&std::fs::read(d.join(file)).unwrap()).unwrap();
            let mut names: Vec<String> = document
                .pointer(listing)
                .and_then(Json::as_object)
                .unwrap_or_else(|| panic!("{version:?}: no consolidated metadata in {file}"))
                .keys()
                .filter_map(|k| k.split('/').next().filter(|n| !n.starts_with('.')))
                .map(String::from)
                .collect();
            names.dedup();
            names
        };
        assert_eq!(consolidated(), ["keep"], "{version:?}");
        // A group write of two new arrays whose second fails lists neither.
        let two = Dataset::new()
            .config(chunkwise::Config::default().threads(1))
            .array("n1", &x, WriteOptions::default())
            .array("n2", &crashing, WriteOptions::default());
        zarr::open_group(d.path(), "g")
            .unwrap()
            .store(&two)
            .unwrap_err();
        assert_eq!(consolidated(), ["keep"], "{version:?}");
        assert_eq!(zarr::open_group(d.path(), "g").unwrap().arrays(), ["keep"]);
    }
}

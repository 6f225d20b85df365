//! Interoperability with a Zarr implementation we did not write: zarr-python reads what
//! `to_zarr` writes, and we read what zarr-python writes, for v2 and v3, uncompressed, zstd,
//! blosc and gzip, sharded (v3) and not. Values are compared exactly against formulas each
//! side evaluates on its own (tests/interop/zarr_check.py mirrors tests/common/zarr_util.rs).
//!
//! The Python interpreter is `$CHUNKWISE_ZARR_PYTHON`, else `target/zarr-venv/bin/python`.
//! Without one the tests are skipped, unless `CHUNKWISE_REQUIRE_INTEROP=1`: then they fail.

#![allow(missing_docs)]

#[path = "common/zarr_util.rs"]
mod zarr_util;

use std::path::Path;
use std::process::Command;

use chunkwise::io::zarr::{
    self, AnyArray, BloscCompressor, BloscShuffle, Compression, OpenOptions, WriteOptions,
    ZarrVersion,
};
use chunkwise::{ChunkGrid, DType, from_ndarray};
use ndarray::{ArrayD, s};
use serde_json::{Map, Value as Json, json};
use zarr_util::*;

/// Runs tests/interop/zarr_check.py `mode` on `store` for `case`; fails showing its output
/// unless it succeeds.
fn zarr_check(python: &Path, mode: &str, store: &Path, case: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/zarr_check.py");
    let out = Command::new(python)
        .arg(&script)
        .arg(mode)
        .arg(store)
        .arg(case)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "zarr_check.py {mode} {} {case} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        store.display(),
        out.status
    );
    print!("{stdout}");
}

/// (name, dtype, shape, chunks, shards): the arrays both directions exchange.
type Spec = (
    &'static str,
    DType,
    &'static [usize],
    &'static [usize],
    &'static [usize],
);

const ARRAYS: [Spec; 5] = [
    ("f64_2d", DType::F64, &[13, 9], &[4, 4], &[8, 8]),
    ("f32_1d", DType::F32, &[23], &[5], &[10]),
    ("i32_3d", DType::I32, &[5, 6, 7], &[2, 4, 3], &[4, 4, 6]),
    ("u8_2d", DType::U8, &[10, 12], &[3, 5], &[6, 10]),
    ("bool_2d", DType::Bool, &[7, 11], &[3, 4], &[6, 8]),
];

/// Version, sharded, compression of a case name.
fn parse(case: &str) -> (ZarrVersion, bool, Compression) {
    let version = if case.starts_with("v2_") {
        ZarrVersion::V2
    } else {
        ZarrVersion::V3
    };
    let compression = match case.rsplit('_').next().unwrap() {
        "plain" => Compression::None,
        "zstd" => Compression::Zstd { level: 3 },
        "blosc" => Compression::Blosc {
            cname: BloscCompressor::Lz4,
            clevel: 5,
            shuffle: BloscShuffle::Shuffle,
        },
        "gzip" => Compression::Gzip { level: 5 },
        other => panic!("unknown codec {other}"),
    };
    (version, case.contains("_sharded_"), compression)
}

fn attributes(case: &str, name: &str) -> Map<String, Json> {
    let Json::Object(map) = json!({
        "case": case, "name": name, "units": "m", "scale": 0.5,
        "nested": {"a": [1, 2, 3], "b": null}
    }) else {
        unreachable!()
    };
    map
}

// ------------------------------------------------------------------------------------------
// We write, zarr-python reads.

fn write_options(
    case: &str,
    name: &str,
    ndim: usize,
    chunks: &[usize],
    shards: &[usize],
) -> WriteOptions {
    let (version, sharded, compression) = parse(case);
    let mut options = WriteOptions::default()
        .version(version)
        .compression(compression)
        .chunks(chunks)
        .dimension_names(dim_names(ndim));
    for (k, v) in attributes(case, name) {
        options = options.attribute(&k, v);
    }
    if sharded {
        options = options.shards(shards);
    }
    options
}

fn write_formula<T: Formula>(store: &Path, name: &str, shape: &[usize], options: &WriteOptions) {
    let chunks = options.chunks.clone().unwrap();
    from_ndarray(&formula::<T>(shape), chunks)
        .unwrap()
        .to_zarr(store, name, options)
        .unwrap_or_else(|e| panic!("to_zarr {name}: {e}"));
}

fn we_write_python_reads(case: &str) {
    let Some(python) = python() else { return };
    let dir = TempDir::new(&format!("interop-w-{case}"));
    let store = dir.join("store.zarr");
    for (name, dtype, shape, chunks, shards) in ARRAYS {
        let options = write_options(case, name, shape.len(), chunks, shards);
        match dtype {
            DType::F64 => write_formula::<f64>(&store, name, shape, &options),
            DType::F32 => write_formula::<f32>(&store, name, shape, &options),
            DType::I32 => write_formula::<i32>(&store, name, shape, &options),
            DType::U8 => write_formula::<u8>(&store, name, shape, &options),
            DType::Bool => write_formula::<bool>(&store, name, shape, &options),
            other => unreachable!("{other}"),
        }
    }
    // Random values: their exact bits go to a raw little-endian file for the script.
    let random = chunkwise::random::uniform::<f64>(42, -1e3, 1e3, &[13, 9], [4, 4]).unwrap();
    let options = write_options(case, "random_f64", 2, &[4, 4], &[8, 8]);
    random.to_zarr(&store, "random_f64", &options).unwrap();
    let values = random.compute().unwrap();
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(dir.join("random_f64.le"), bytes).unwrap();
    // Tiles [5, 3], stored in chunks [4, 4].
    let options = write_options(case, "rechunked_f64", 2, &[4, 4], &[8, 8]);
    from_ndarray(&formula::<f64>(&[17, 11]), [5, 3])
        .unwrap()
        .to_zarr(&store, "rechunked_f64", &options)
        .unwrap();

    zarr_check(&python, "read", &store, case);
}

// ------------------------------------------------------------------------------------------
// zarr-python writes, we read.

/// Checks `any` (stored by zarr-python) against `expected`: type, shape, default tile grid,
/// values, and a slice read through another tile grid.
fn check_values<T: Formula>(any: AnyArray, expected: &ArrayD<T>, unit: &[usize], what: &str) {
    assert_eq!(any.dtype(), T::DTYPE, "{what}");
    assert_eq!(any.shape(), expected.shape(), "{what}");
    assert_eq!(
        any.chunks(),
        &ChunkGrid::regular(expected.shape(), unit).unwrap(),
        "{what}: default tile grid"
    );
    let x = any.into_typed::<T>().unwrap();
    assert_same(&x.compute().unwrap(), expected, what);
    if expected.ndim() == 2 {
        let part = x.slice(s![1..;3, 2..]).unwrap().compute().unwrap();
        assert_same(
            &part,
            &expected.slice(s![1..;3, 2..]),
            &format!("{what} slice"),
        );
    }
}

/// Opens `name` (also with tiles [3, ...]) and checks names, attributes and values.
fn check_python_array<T: Formula>(
    store: &Path,
    case: &str,
    name: &str,
    expected: &ArrayD<T>,
    unit: &[usize],
    names: Option<Vec<Option<String>>>,
) {
    let what = format!("{case}/{name}");
    let any = zarr::open(store, name).unwrap_or_else(|e| panic!("{what}: open: {e}"));
    let ndim = expected.ndim();
    let names = names.unwrap_or_else(|| dim_names(ndim).into_iter().map(Some).collect());
    assert_eq!(
        any.dimension_names().map(<[_]>::to_vec),
        Some(names),
        "{what}: names"
    );
    let mut found = any.attributes().clone();
    found.remove("_ARRAY_DIMENSIONS");
    assert_eq!(found, attributes(case, name), "{what}: attributes");
    check_values(any, expected, unit, &what);

    let tiles = OpenOptions {
        chunks: Some(vec![3; ndim].into()),
    };
    let x = zarr::open_with(store, name, &tiles)
        .unwrap()
        .into_typed::<T>()
        .unwrap();
    assert_same(
        &x.compute().unwrap(),
        expected,
        &format!("{what} in tiles of 3"),
    );
}

/// The formula where zarr-python wrote, `fill` elsewhere (chunks never written).
fn with_missing<T: Formula>(fill: T) -> ArrayD<T> {
    let values = formula::<T>(&[24, 10]);
    let mut expected = ArrayD::from_elem(values.shape(), fill);
    for region in [s![0..4, 0..10], s![20..24, 5..10]] {
        expected.slice_mut(region).assign(&values.slice(region));
    }
    expected
}

fn python_writes_we_read(case: &str) {
    let Some(python) = python() else { return };
    let dir = TempDir::new(&format!("interop-r-{case}"));
    let store = dir.join("store.zarr");
    zarr_check(&python, "write", &store, case);
    let (version, sharded, _) = parse(case);
    let unit =
        |chunks: &'static [usize], shards: &'static [usize]| if sharded { shards } else { chunks };

    for (name, dtype, shape, chunks, shards) in ARRAYS {
        let u = unit(chunks, shards);
        match dtype {
            DType::F64 => check_python_array(&store, case, name, &formula::<f64>(shape), u, None),
            DType::F32 => check_python_array(&store, case, name, &formula::<f32>(shape), u, None),
            DType::I32 => check_python_array(&store, case, name, &formula::<i32>(shape), u, None),
            DType::U8 => check_python_array(&store, case, name, &formula::<u8>(shape), u, None),
            DType::Bool => check_python_array(&store, case, name, &formula::<bool>(shape), u, None),
            other => unreachable!("{other}"),
        }
    }

    // Chunks (and, sharded, a whole shard and inner chunks) never written: the fill value.
    let u = unit(&[4, 5], &[8, 10]);
    check_python_array(&store, case, "missing_f64", &with_missing(-1.5f64), u, None);
    check_python_array(
        &store,
        case,
        "missing_f32_nan",
        &with_missing(f32::NAN),
        u,
        None,
    );
    check_python_array(&store, case, "missing_i32", &with_missing(7i32), u, None);

    if version == ZarrVersion::V2 {
        let f64_2d = formula::<f64>(&[13, 9]);
        let i32_3d = formula::<i32>(&[5, 6, 7]);
        check_python_array(&store, case, "order_f_f64", &f64_2d, &[4, 4], None);
        check_python_array(&store, case, "order_f_i32_3d", &i32_3d, &[2, 4, 3], None);
        check_python_array(&store, case, "big_endian_i32", &i32_3d, &[2, 4, 3], None);
        check_python_array(&store, case, "big_endian_f64", &f64_2d, &[4, 4], None);
        check_python_array(
            &store,
            case,
            "slash_u8",
            &formula::<u8>(&[10, 12]),
            &[3, 5],
            None,
        );
    } else {
        let names = Some(vec![Some("y".to_string()), None]);
        let u = unit(&[4, 4], &[8, 8]);
        check_python_array(
            &store,
            case,
            "unnamed_f64",
            &formula::<f64>(&[13, 9]),
            u,
            names,
        );
    }
}

macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        mod we_write_python_reads {
            $(#[test] fn $case() { super::we_write_python_reads(stringify!($case)); })*
        }
        mod python_writes_we_read {
            $(#[test] fn $case() { super::python_writes_we_read(stringify!($case)); })*
        }
    };
}

cases!(
    v2_plain,
    v2_zstd,
    v2_blosc,
    v2_gzip,
    v3_plain,
    v3_zstd,
    v3_blosc,
    v3_gzip,
    v3_sharded_plain,
    v3_sharded_zstd,
    v3_sharded_blosc,
    v3_sharded_gzip,
);

/// Appending to arrays zarr-python wrote (v3 with codecs that have no settings, `bytes` on
/// bytes and `crc32c`, and v2) changes only their shape: zarr-python opens them after the
/// append, with the codecs as it wrote them, and reads the grown values.
#[test]
fn python_reads_what_we_append_to_its_arrays() {
    let Some(python) = python() else { return };
    let dir = std::env::temp_dir().join(format!("chunkwise-interop-append-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = |code: &str| {
        let out = Command::new(&python)
            .args(["-c", code])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run("import sys, zarr, numpy as np
root = zarr.open_group(sys.argv[1], mode='w')
a = root.create_array('v3', shape=(4,), chunks=(2,), dtype='uint8', compressors=[zarr.codecs.Crc32cCodec()])
a[:] = np.arange(4, dtype='uint8')
b = zarr.create_array(sys.argv[1] + '/v2', shape=(4,), chunks=(2,), dtype='uint8', zarr_format=2)
b[:] = np.arange(4, dtype='uint8')
zarr.consolidate_metadata(sys.argv[1])");
    let codecs = |name: &str| {
        let meta: Json =
            serde_json::from_slice(&std::fs::read(dir.join(name).join("zarr.json")).unwrap())
                .unwrap();
        meta["codecs"].clone()
    };
    let before = codecs("v3");
    let tail = from_ndarray(&ndarray::arr1(&[4u8, 5, 6]).into_dyn(), [2]).unwrap();
    for name in ["v3", "v2"] {
        tail.append_zarr(&dir, name, 0, &chunkwise::Config::default())
            .unwrap();
    }
    assert_eq!(codecs("v3"), before, "the codecs as zarr-python wrote them");
    let read = run("import sys, zarr, xarray
for name in ['v3', 'v2']:
    print(zarr.open_array(sys.argv[1] + '/' + name)[:].tolist())
print(list(zarr.open_group(sys.argv[1], use_consolidated=True)['v3'].shape))");
    assert_eq!(
        read.lines().collect::<Vec<_>>(),
        ["[0, 1, 2, 3, 4, 5, 6]", "[0, 1, 2, 3, 4, 5, 6]", "[7]"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

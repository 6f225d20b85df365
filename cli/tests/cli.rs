//! The `chunkwise` binary, run as a user runs it, on a store this test writes; every output
//! is read back and compared with the same operation on the dense `ndarray` input.

#![allow(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chunkwise::io::zarr::{self, WriteOptions};
use ndarray::{Array2, Array3, ArrayD, Axis, s};

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("chunkwise-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn chunkwise(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chunkwise"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn ok(args: &[&str]) -> String {
    let out = chunkwise(args);
    assert!(
        out.status.success(),
        "chunkwise {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Daily values (time, lat, lon) in `dir/in.zarr/tas`, f32 with dimension names and units.
fn input(dir: &Path) -> Array3<f32> {
    let dense = Array3::from_shape_fn((40, 6, 5), |(t, y, x)| {
        ((t * 31 + y * 7 + x * 3) % 17) as f32 * 0.5 - 2.0
    });
    let x = chunkwise::from_ndarray(&dense.clone().into_dyn(), [15, 4, 5]).unwrap();
    let options = WriteOptions::default()
        .dimension_names(["time", "lat", "lon"])
        .attribute("units", "K");
    x.to_zarr(dir.join("in.zarr"), "/tas", &options).unwrap();
    dense
}

fn read(store: &Path, path: &str) -> ArrayD<f64> {
    zarr::open(store, path)
        .unwrap()
        .astype::<f64>()
        .compute()
        .unwrap()
}

fn assert_close(actual: &ArrayD<f64>, expected: &ArrayD<f64>) {
    assert_eq!(actual.shape(), expected.shape());
    for (a, e) in actual.iter().zip(expected) {
        assert!((a - e).abs() <= 1e-9 * (1.0 + e.abs()), "{a} != {e}");
    }
}

#[test]
fn info_describes_arrays() {
    let dir = Scratch::new("info");
    input(&dir.0);
    let tas = dir.0.join("in.zarr/tas");
    let text = ok(&["info", tas.to_str().unwrap()]);
    assert!(text.contains("float32"), "{text}");
    assert!(text.contains("[40, 6, 5]"), "{text}");
    assert!(text.contains("dims [time, lat, lon]"), "{text}");
    assert!(text.contains("units: \"K\""), "{text}");
    // The store is a group (written by `to_zarr`), described with everything in it.
    let store = ok(&["info", dir.0.join("in.zarr").to_str().unwrap()]);
    assert!(store.starts_with("/ (group)"), "{store}");
    assert!(store.contains("/tas  float32"), "{store}");
}

#[test]
fn reduce_and_anomaly_over_a_named_dimension() {
    let dir = Scratch::new("reduce");
    let dense = input(&dir.0).mapv(f64::from);
    let tas = dir.0.join("in.zarr/tas");
    let out = dir.0.join("out.zarr");
    for (op, expected) in [
        ("mean", dense.mean_axis(Axis(0)).unwrap()),
        ("max", dense.fold_axis(Axis(0), f64::MIN, |a, &b| a.max(b))),
        ("std", dense.std_axis(Axis(0), 0.0)),
    ] {
        let target = out.join(op);
        ok(&[
            "reduce",
            "--op",
            op,
            "--dim",
            "time",
            tas.to_str().unwrap(),
            target.to_str().unwrap(),
        ]);
        assert_close(&read(&out, &format!("/{op}")), &expected.into_dyn());
        let written = zarr::open(&out, &format!("/{op}")).unwrap();
        let dims: Vec<_> = written
            .dimension_names()
            .unwrap()
            .iter()
            .flatten()
            .cloned()
            .collect();
        assert_eq!(dims, ["lat", "lon"]);
        assert_eq!(written.attributes()["units"], "K");
        // When it ran (UTC, ISO 8601), then the command line.
        let history = written.attributes()["history"]
            .as_str()
            .unwrap()
            .to_string();
        let (when, command) = history.split_once(": ").unwrap();
        assert!(
            when.len() == 20 && when.ends_with('Z') && when.as_bytes()[10] == b'T',
            "{history}"
        );
        assert!(command.contains(&format!("reduce --op {op}")), "{history}");
    }
    let anomaly = out.join("anomaly");
    ok(&[
        "anomaly",
        "--dim",
        "0",
        tas.to_str().unwrap(),
        anomaly.to_str().unwrap(),
    ]);
    let expected = &dense - &dense.mean_axis(Axis(0)).unwrap().insert_axis(Axis(0));
    assert_close(&read(&out, "/anomaly"), &expected.into_dyn());
}

/// Packed input (i16 with `scale_factor`, `add_offset` and a fill value, as netCDF-derived
/// stores hold it): `reduce` and `anomaly` work on the physical values and skip the missing
/// ones, as xarray and CDO do; the output is f64 without the packing attributes.
#[test]
fn reduce_and_anomaly_unpack_cf_packed_input_and_skip_missing_values() {
    let dir = Scratch::new("packed");
    let (scale, offset, fill) = (0.01, 273.15, -32767i16);
    let packed = Array3::from_shape_fn((12, 3, 4), |(t, y, x)| match (t + y + x) % 7 {
        0 => fill,
        k => (k as i16 * 311 - 900) * (y as i16 + 1),
    });
    let options = WriteOptions::default()
        .dimension_names(["time", "lat", "lon"])
        .fill_value(f64::from(fill))
        .attribute("scale_factor", scale)
        .attribute("add_offset", offset)
        .attribute("units", "K");
    chunkwise::from_ndarray(&packed.clone().into_dyn(), [5, 3, 4])
        .unwrap()
        .to_zarr(dir.0.join("in.zarr"), "t", &options)
        .unwrap();
    let physical = packed.mapv(|v| match v == fill {
        true => f64::NAN,
        false => f64::from(v) * scale + offset,
    });
    // The oracle: the mean over time of the values that are there.
    let mean = Array2::from_shape_fn((3, 4), |(y, x)| {
        let present: Vec<f64> = physical
            .slice(s![.., y, x])
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .collect();
        present.iter().sum::<f64>() / present.len() as f64
    });
    let input = dir.0.join("in.zarr/t");
    let out = dir.0.join("out.zarr");
    for (command, name) in [("reduce", "mean"), ("anomaly", "anomaly")] {
        let mut args = vec![command];
        if command == "reduce" {
            args.extend(["--op", "mean"]);
        }
        let target = out.join(name);
        args.extend([
            "--dim",
            "time",
            input.to_str().unwrap(),
            target.to_str().unwrap(),
        ]);
        ok(&args);
    }
    assert_close(&read(&out, "mean"), &mean.clone().into_dyn());
    let anomaly = &physical - &mean.insert_axis(Axis(0));
    let found = read(&out, "anomaly");
    assert_eq!(
        found.mapv(f64::is_nan),
        anomaly.mapv(f64::is_nan).into_dyn(),
        "missing values stay missing"
    );
    let filled = |a: ArrayD<f64>| a.mapv(|v| if v.is_nan() { 0.0 } else { v });
    assert_close(&filled(found), &filled(anomaly.into_dyn()));
    let written = zarr::open(&out, "mean").unwrap();
    assert_eq!(written.attributes()["units"], "K");
    for packing in ["scale_factor", "add_offset"] {
        assert!(
            written.attributes().get(packing).is_none(),
            "{packing} kept"
        );
    }
    // Missing is NaN now (xarray's base64 of NaN in v3), not the packed fill value.
    assert_eq!(written.attributes()["_FillValue"], "AAAAAAAA+H8=");
}

#[test]
fn rechunk_convert_and_slice_keep_the_values() {
    let dir = Scratch::new("rewrite");
    let dense = input(&dir.0).mapv(f64::from).into_dyn();
    let tas = dir.0.join("in.zarr/tas");
    let tas = tas.to_str().unwrap();
    let out = dir.0.join("out.zarr");

    let rechunked = out.join("by_pixel");
    ok(&[
        "rechunk",
        "--chunks",
        "40,1,1",
        tas,
        rechunked.to_str().unwrap(),
    ]);
    let opened = zarr::open(&out, "/by_pixel").unwrap();
    assert_eq!(opened.chunks().chunks()[0], vec![40]);
    assert_eq!(opened.chunks().chunks()[1], vec![1; 6]);
    assert_close(&read(&out, "/by_pixel"), &dense);

    let v2_store = dir.0.join("out_v2.zarr");
    let v2 = v2_store.join("v2");
    ok(&[
        "convert",
        "--codec",
        "blosc",
        "--zarr-version",
        "2",
        tas,
        v2.to_str().unwrap(),
    ]);
    assert!(v2.join(".zarray").exists());
    assert_close(&read(&v2_store, "/v2"), &dense);
    // A store named without `.zarr` holds the array at its root.
    let plain = dir.0.join("plain");
    ok(&["convert", tas, plain.to_str().unwrap()]);
    assert_close(&read(&plain, "/"), &dense);

    let last = out.join("last_days");
    ok(&[
        "slice",
        "--dim",
        "time",
        "--start",
        "-10",
        "--step",
        "3",
        tas,
        last.to_str().unwrap(),
    ]);
    let expected = dense.slice(s![-10..;3, .., ..]).to_owned().into_dyn();
    assert_close(&read(&out, "/last_days"), &expected);
    assert_eq!(read(&out, "/last_days").shape(), &[4, 6, 5]);
}

#[test]
fn mistakes_are_reported_with_a_failing_status() {
    let dir = Scratch::new("errors");
    input(&dir.0);
    let tas = dir.0.join("in.zarr/tas");
    let tas = tas.to_str().unwrap();
    let out = dir.0.join("out.zarr/m");
    let out = out.to_str().unwrap();
    let unknown = chunkwise(&["reduce", "--op", "mean", "--dim", "depth", tas, out]);
    assert!(!unknown.status.success());
    let message = String::from_utf8_lossy(&unknown.stderr);
    assert!(message.contains("time, lat, lon"), "{message}");
    ok(&["reduce", "--op", "mean", "--dim", "time", tas, out]);
    let again = chunkwise(&["reduce", "--op", "mean", "--dim", "time", tas, out]);
    assert!(
        !again.status.success(),
        "an existing output is not replaced unasked"
    );
    ok(&[
        "reduce",
        "--op",
        "min",
        "--dim",
        "time",
        "--overwrite",
        tas,
        out,
    ]);
    let missing = chunkwise(&["info", dir.0.join("nothing.zarr").to_str().unwrap()]);
    assert!(!missing.status.success());
    // Levels belong to a codec, and must be one of its levels.
    for args in [
        &["convert", "--level", "3", tas, out][..],
        &["convert", "--codec", "zstd", "--level", "30", tas, out],
        &["convert", "--codec", "gzip", "--level", "12", tas, out],
    ] {
        let refused = chunkwise(args);
        assert!(!refused.status.success(), "{args:?}");
        let message = String::from_utf8_lossy(&refused.stderr);
        assert!(message.contains("level"), "{message}");
    }
    // An array that cannot be opened says why, not only that it is no group.
    let meta = dir.0.join("in.zarr/tas/zarr.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    std::fs::write(&meta, text.replace("\"float32\"", "\"complex64\"")).unwrap();
    let unsupported = chunkwise(&["info", tas]);
    let message = String::from_utf8_lossy(&unsupported.stderr);
    assert!(message.contains("complex64"), "{message}");
}

/// Rewrites keep what the input's values mean and how they are stored: the fill value
/// (and its `_FillValue`), the Zarr version, the codec and the storage chunks, unless
/// asked otherwise; `--shards` counts chunks per shard; `slice` takes what NumPy takes.
#[test]
fn rewrites_keep_the_inputs_format_and_meaning() {
    let dir = Scratch::new("keep");
    let fill = -32767i16;
    let packed = Array2::from_shape_fn((10, 6), |(t, x)| match (t + x) % 5 {
        0 => fill,
        k => k as i16 * 100 - 250,
    });
    let options = WriteOptions::default()
        .version(zarr::ZarrVersion::V2)
        .compression(zarr::Compression::Gzip { level: 4 })
        .chunks([4, 3])
        .dimension_names(["time", "x"])
        .fill_value(f64::from(fill))
        .attribute("scale_factor", 0.5);
    chunkwise::from_ndarray(&packed.clone().into_dyn(), [4, 3])
        .unwrap()
        .to_zarr(dir.0.join("in.zarr"), "p", &options)
        .unwrap();
    let input = dir.0.join("in.zarr/p");
    let input = input.to_str().unwrap();
    let out = dir.0.join("out.zarr");
    let decoded = |out: &Path, path: &str| {
        zarr::open(out, path)
            .unwrap()
            .decode_cf::<f64>()
            .unwrap()
            .compute()
            .unwrap()
    };
    let same = |a: &ArrayD<f64>, b: &ArrayD<f64>| {
        a.shape() == b.shape()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
    };
    let physical = zarr::open(dir.0.join("in.zarr"), "p")
        .unwrap()
        .decode_cf::<f64>()
        .unwrap()
        .compute()
        .unwrap();

    // rechunk: v2, gzip 4 and the fill value kept, new chunks.
    let target = out.join("rechunked");
    ok(&[
        "rechunk",
        "--chunks",
        "10,2",
        input,
        target.to_str().unwrap(),
    ]);
    let rechunked = zarr::open(&out, "rechunked").unwrap();
    let format = rechunked.format();
    assert_eq!(format.version, zarr::ZarrVersion::V2);
    assert_eq!(format.chunks, [10, 2]);
    assert_eq!(
        format.compression,
        Some(zarr::Compression::Gzip { level: 4 })
    );
    assert_eq!(format.fill_value, Some(f64::from(fill)));
    assert!(same(&decoded(&out, "rechunked"), &physical));

    // convert to v3 with shards of 2 x 1 chunks: the fill value becomes `_FillValue`, and
    // a second rewrite of that output works. It cannot go in the v2 group that rechunk
    // made.
    let into_v2 = out.join("v3");
    let refused = chunkwise(&[
        "convert",
        "--zarr-version",
        "3",
        input,
        into_v2.to_str().unwrap(),
    ]);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("V2 group"), "{message}");
    let out = dir.0.join("out3.zarr");
    let v3 = out.join("v3");
    let args = [
        "convert",
        "--zarr-version",
        "3",
        "--shards",
        "2,1",
        input,
        v3.to_str().unwrap(),
    ];
    ok(&args);
    let format = zarr::open(&out, "v3").unwrap().format().clone();
    assert_eq!(
        (format.chunks.clone(), format.shards.clone()),
        (vec![4, 3], Some(vec![8, 3]))
    );
    assert_eq!(format.fill_value, Some(f64::from(fill)));
    assert!(same(&decoded(&out, "v3"), &physical));
    let again = out.join("again");
    ok(&[
        "rechunk",
        "--chunks",
        "5,6",
        v3.to_str().unwrap(),
        again.to_str().unwrap(),
    ]);
    assert!(same(&decoded(&out, "again"), &physical));

    // slice: NumPy's semantics, stored in the input's chunks.
    for (name, args, rows) in [
        (
            "reversed",
            ["--start", "-1", "--stop", "0", "--step", "-1"],
            (1..10).rev().collect::<Vec<_>>(),
        ),
        (
            "clipped",
            ["--start", "-365", "--stop", "3", "--step", "1"],
            vec![0, 1, 2],
        ),
    ] {
        let target = out.join(name);
        let mut command = vec!["slice", "--dim", "time"];
        command.extend(args);
        command.extend([input, target.to_str().unwrap()]);
        ok(&command);
        let expected = physical.select(Axis(0), &rows);
        assert!(same(&decoded(&out, name), &expected), "{name}");
        let chunks = zarr::open(&out, name).unwrap().format().chunks.clone();
        assert_eq!(chunks, [rows.len().min(4), 3], "{name}");
    }
}

/// The CI venv's Python with zarr and xarray (`CHUNKWISE_ZARR_PYTHON`, or the workspace's
/// `target/zarr-venv`); `None` (the test skipped) only where `CHUNKWISE_REQUIRE_INTEROP` is
/// not `1`.
fn python() -> Option<PathBuf> {
    let from_env = std::env::var_os("CHUNKWISE_ZARR_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/zarr-venv/bin/python");
    let found = from_env.into_iter().chain([venv]).find(|p| p.is_file());
    if found.is_none() && std::env::var("CHUNKWISE_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!("CHUNKWISE_REQUIRE_INTEROP=1 but no Python with xarray was found");
    }
    found
}

#[test]
fn xarray_opens_what_the_tool_writes() {
    let Some(python) = python() else {
        println!("skipped: no Python with xarray");
        return;
    };
    let dir = Scratch::new("xarray");
    let dense = input(&dir.0).mapv(f64::from);
    let tas = dir.0.join("in.zarr/tas");
    let out = dir.0.join("out.zarr");
    ok(&[
        "reduce",
        "--op",
        "mean",
        "--dim",
        "time",
        tas.to_str().unwrap(),
        out.join("tas_mean").to_str().unwrap(),
    ]);
    let script = "import sys, xarray as xr\n\
                  ds = xr.open_zarr(sys.argv[1], consolidated=False)\n\
                  m = ds['tas_mean']\n\
                  print(','.join(m.dims), m.attrs['units'], repr(float(m.values[2, 3])))";
    let run = Command::new(&python)
        .args(["-c", script, out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let printed = String::from_utf8(run.stdout).unwrap();
    let fields: Vec<&str> = printed.split_whitespace().collect();
    assert_eq!(fields[..2], ["lat,lon", "K"]);
    let expected = dense.mean_axis(Axis(0)).unwrap()[[2, 3]];
    assert!(
        (fields[2].parse::<f64>().unwrap() - expected).abs() < 1e-12,
        "{printed}"
    );

    // With coordinates in the input's group, outputs carry those of their dimensions
    // (sliced as the data is) and xarray opens them as coordinates.
    let coord = |name: &str, values: Vec<i64>, units: &str| {
        let len = values.len();
        chunkwise::from_ndarray(&ndarray::Array1::from(values).into_dyn(), [len])
            .unwrap()
            .to_zarr(
                dir.0.join("in.zarr"),
                name,
                &WriteOptions::default().dimension_names([name]).units(units),
            )
            .unwrap();
    };
    coord("time", (0..40).map(|t| 1000 + t).collect(), "day");
    coord(
        "lat",
        (0..6).map(|y| y * 10 - 25).collect(),
        "degrees_north",
    );
    coord("lon", (0..5).map(|x| x * 20).collect(), "degrees_east");
    let with_coords = dir.0.join("coords.zarr");
    let mean = with_coords.join("tas_mean");
    let sliced = dir.0.join("sliced.zarr").join("tas");
    let tas = tas.to_str().unwrap();
    ok(&[
        "reduce",
        "--op",
        "max",
        "--dim",
        "time",
        tas,
        mean.to_str().unwrap(),
    ]);
    let slice = [
        "slice", "--dim", "time", "--start", "5", "--stop", "15", "--step", "3",
    ];
    ok(&[&slice[..], &[tas, sliced.to_str().unwrap()]].concat());
    let script = "import sys, xarray as xr\n\
                  m = xr.open_zarr(sys.argv[1])\n\
                  s = xr.open_zarr(sys.argv[2])\n\
                  print(sorted(m.coords), m.lat.values.tolist(), m.lon.attrs['units'])\n\
                  print(sorted(s.coords), s.time.values.tolist(), s.tas.shape)";
    let run = Command::new(python)
        .args([
            "-c",
            script,
            with_coords.to_str().unwrap(),
            dir.0.join("sliced.zarr").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(
        lines,
        [
            "['lat', 'lon'] [-25, -15, -5, 5, 15, 25] degrees_east",
            "['lat', 'lon', 'time'] [1005, 1008, 1011, 1014] (4, 6, 5)"
        ],
        "{printed}"
    );
}

#[cfg(feature = "object-store")]
#[path = "../../tests/common/s3_util.rs"]
mod s3_util;

/// The binary, with none of this process's `AWS_` variables.
#[cfg(feature = "object-store")]
fn chunkwise_without_aws() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chunkwise"));
    for (name, _) in std::env::vars().filter(|(k, _)| k.starts_with("AWS_")) {
        command.env_remove(name);
    }
    command
}

/// Runs the binary with the AWS environment of the S3 server at `endpoint` (and no other
/// `AWS_` variable of this process).
#[cfg(feature = "object-store")]
fn chunkwise_on_s3(endpoint: &str, args: &[&str]) -> Output {
    chunkwise_without_aws()
        .env("AWS_ACCESS_KEY_ID", s3_util::KEY)
        .env("AWS_SECRET_ACCESS_KEY", s3_util::SECRET)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint)
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Runs the binary with no AWS setting but the profile `profile` and the shared files in
/// `dir` (`HOME` there too, so that no real `~/.aws` is read).
#[cfg(feature = "object-store")]
fn chunkwise_with_profile(dir: &Path, profile: &str, args: &[&str]) -> Output {
    chunkwise_without_aws()
        .env("HOME", dir)
        .env("AWS_PROFILE", profile)
        .env("AWS_CONFIG_FILE", dir.join("aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("aws-credentials"))
        .args(args)
        .output()
        .expect("the binary runs")
}

#[cfg(feature = "object-store")]
#[test]
fn credentials_region_and_endpoint_come_from_an_aws_profile() {
    let Some(python) = s3_util::with_moto(python()) else {
        return;
    };
    let (moto, id, secret) = s3_util::moto_with_user(&python, "private");
    let dir = Scratch::new("profile");
    let dense = input(&dir.0);
    let config = format!(
        "[default]\nregion = us-east-1\n\n[profile lab]\nregion = us-east-1\ns3 =\n  \
         endpoint_url = {url}\n\n[profile stale]\nendpoint_url = {url}\n",
        url = moto.url()
    );
    let credentials = format!(
        "[lab]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n\n\
         [stale]\naws_access_key_id = {id}\naws_secret_access_key = not-the-secret\n"
    );
    std::fs::write(dir.0.join("aws-config"), config).unwrap();
    std::fs::write(dir.0.join("aws-credentials"), credentials).unwrap();
    let local = dir.0.join("in.zarr/tas");
    let out = chunkwise_with_profile(
        &dir.0,
        "lab",
        &[
            "convert",
            local.to_str().unwrap(),
            "s3://private/in.zarr/tas",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let back = dir.0.join("back.zarr");
    let out = chunkwise_with_profile(
        &dir.0,
        "lab",
        &[
            "convert",
            "s3://private/in.zarr/tas",
            &format!("{}/tas", back.display()),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_close(&read(&back, "tas"), &dense.mapv(f64::from).into_dyn());
    // The profile's wrong secret reaches the server, which refuses it.
    let out = chunkwise_with_profile(&dir.0, "stale", &["info", "s3://private/in.zarr"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("SignatureDoesNotMatch"),
        "{stderr}"
    );
}

#[cfg(feature = "object-store")]
#[test]
fn inputs_and_outputs_on_s3_and_inputs_over_https() {
    let Some(python) = s3_util::with_moto(python()) else {
        return;
    };
    let moto = s3_util::moto(&python, &[]);
    s3_util::create_bucket(moto.port, "cli");
    let dir = Scratch::new("s3");
    let dense = input(&dir.0);
    let local = dir.0.join("in.zarr/tas");
    let run = |args: &[&str]| {
        let out = chunkwise_on_s3(&moto.url(), args);
        assert!(
            out.status.success(),
            "chunkwise {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // Local to S3, S3 to S3, and S3 to local.
    run(&["convert", local.to_str().unwrap(), "s3://cli/in.zarr/tas"]);
    run(&[
        "reduce",
        "--op",
        "mean",
        "--dim",
        "time",
        "s3://cli/in.zarr/tas",
        "s3://cli/out.zarr/tas_mean",
    ]);
    let info = run(&["info", "s3://cli/out.zarr"]);
    assert!(
        info.contains("/tas_mean") && info.contains("dims [lat, lon]"),
        "{info}"
    );
    let back = dir.0.join("back.zarr");
    run(&[
        "slice",
        "--dim",
        "time",
        "--stop",
        "10",
        "s3://cli/in.zarr/tas",
        &format!("{}/first", back.display()),
    ]);
    let expected = dense.mapv(f64::from).mean_axis(Axis(0)).unwrap().into_dyn();
    let options = chunkwise::io::zarr::RemoteOptions::default()
        .endpoint(moto.url())
        .credentials(s3_util::KEY, s3_util::SECRET, None);
    let store = zarr::Store::from_url_with("s3://cli/out.zarr", &options).unwrap();
    let mean = zarr::open(&store, "tas_mean")
        .unwrap()
        .astype::<f64>()
        .compute()
        .unwrap();
    assert_close(&mean, &expected);
    let first = dense.slice(s![..10, .., ..]).mapv(f64::from).into_dyn();
    assert_close(&read(&back, "first"), &first);

    // Over HTTP: read, and a write refused.
    let server = s3_util::http_server(&python, &dir.0);
    let url = format!("{}/in.zarr/tas", server.url());
    run(&[
        "reduce",
        "--op",
        "max",
        "--dim",
        "time",
        &url,
        &format!("{}/max", back.display()),
    ]);
    let max = dense
        .mapv(f64::from)
        .fold_axis(Axis(0), f64::MIN, |a, &b| a.max(b));
    assert_close(&read(&back, "max"), &max.into_dyn());
    let out = chunkwise_on_s3(
        &moto.url(),
        &[
            "convert",
            local.to_str().unwrap(),
            &format!("{}/in.zarr/copy", server.url()),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("read-only"),
        "{stderr}"
    );
}

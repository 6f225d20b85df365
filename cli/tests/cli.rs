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
    succeeded(args, chunkwise(args))
}

/// The standard output of a run of the binary with `args`, after asserting that it
/// succeeded (showing its standard error if not).
fn succeeded(args: &[&str], out: Output) -> String {
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

/// The refusal of `args`: fails cleanly (no panic) with a message that contains `says`.
fn refused(args: &[&str], says: &str) {
    let out = chunkwise(args);
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(!message.contains("panicked"), "{message}");
    assert!(message.contains(says), "{args:?}: {message}");
}

/// `tas(time, lat)` of 12 x 3 in `store`, with its coordinates `time` (100..112) and `lat`:
/// the dense values and the times.
fn gridded_input(store: &Path) -> (Array2<f64>, Vec<f64>) {
    use chunkwise::io::zarr::{Dataset, GroupOptions};
    let dense = Array2::from_shape_fn((12, 3), |(t, y)| (t * 3 + y) as f64);
    let tas = chunkwise::from_ndarray(&dense.clone().into_dyn(), [5, 3]).unwrap();
    let time: Vec<f64> = (100..112).map(f64::from).collect();
    Dataset::new()
        .array(
            "tas",
            &tas,
            WriteOptions::default().dimension_names(["time", "lat"]),
        )
        .coord("time", time.clone(), WriteOptions::default())
        .coord("lat", vec![10.0, 20.0, 30.0], WriteOptions::default())
        .to_zarr(store, "/", &GroupOptions::default())
        .unwrap();
    (dense, time)
}

/// A group holds one coordinate per dimension, which xarray gives every array of the group
/// with that dimension: an output whose dimension has another length, or whose input has
/// other coordinate values, is refused instead of being labelled with the group's.
#[test]
fn outputs_agree_with_the_coordinates_of_their_group() {
    let dir = Scratch::new("coords");
    let (dense, time) = gridded_input(&dir.0.join("in.zarr"));
    let input = dir.0.join("in.zarr/tas");
    let input = input.to_str().unwrap();
    let out = dir.0.join("out.zarr");
    let at = |name: &str| out.join(name).to_str().unwrap().to_string();
    let slice = |range: &[&str], name: &str| -> Vec<String> {
        let mut args = vec!["slice".to_string()];
        args.extend(range.iter().map(|a| a.to_string()));
        args.extend([input.to_string(), at(name)]);
        args
    };
    fn strs(args: &[String]) -> Vec<&str> {
        args.iter().map(String::as_str).collect()
    }

    ok(&strs(&slice(&["--dim", "time", "--stop", "6"], "first")));
    assert_eq!(read(&out, "/time").as_slice().unwrap(), &time[..6]);
    // The same slice again agrees with the group's coordinates.
    ok(&strs(&slice(&["--dim", "time", "--stop", "6"], "again")));
    assert_close(
        &read(&out, "/again"),
        &dense.slice(s![..6, ..]).to_owned().into_dyn(),
    );
    // Other times of the same length, and another length of lat, are refused unwritten.
    let later = slice(&["--dim", "time", "--start", "6"], "second");
    refused(
        &strs(&later),
        "other values than the input's coordinate (at 0: 100 vs 106)",
    );
    let narrow = slice(&["--dim", "lat", "--stop", "1"], "narrow");
    refused(&strs(&narrow), "has shape");
    assert!(!out.join("second").exists() && !out.join("narrow").exists());
    // The same numbers in other units are other labels.
    let meta = out.join("time/zarr.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta).unwrap()).unwrap();
    json["attributes"]["units"] = serde_json::json!("days since 1900-01-01");
    std::fs::write(&meta, json.to_string()).unwrap();
    let other_units = slice(&["--dim", "time", "--stop", "6"], "other_units");
    refused(&strs(&other_units), "another 'units'");
    // A coordinate whose chunk a killed run never wrote reads as fill values: refused too,
    // not taken as the output's labels.
    ok(&strs(&slice(
        &["--dim", "time", "--stop", "6"],
        "broken.zarr/first",
    )));
    let broken = dir.0.join("out.zarr/broken.zarr");
    std::fs::remove_file(broken.join("time/c/0")).unwrap();
    refused(
        &strs(&slice(
            &["--dim", "time", "--stop", "6"],
            "broken.zarr/next",
        )),
        "other values",
    );
}

/// `--overwrite` replaces a coordinate of another length or other values that labels
/// nothing but the output (a command run again with other arguments), and still refuses
/// one that labels another array of the group, writing nothing.
#[test]
fn overwrite_replaces_coordinates_that_label_only_the_output() {
    let dir = Scratch::new("replace");
    let (dense, time) = gridded_input(&dir.0.join("in.zarr"));
    let input = dir.0.join("in.zarr/tas");
    let out = dir.0.join("out.zarr");
    let (input, first, second) = (
        input.to_str().unwrap(),
        out.join("g/first"),
        out.join("g/second"),
    );
    let (first, second) = (first.to_str().unwrap(), second.to_str().unwrap());

    ok(&["slice", "--dim", "time", "--stop", "6", input, first]);
    // Run again on other times: refused without --overwrite, which it names.
    let later = ["slice", "--dim", "time", "--start", "4", input, first];
    refused(&later, "or replace the coordinate with --overwrite");
    assert_eq!(read(&out, "/g/time").as_slice().unwrap(), &time[..6]);
    let later_overwrite = [&later[..5], &["--overwrite"], &later[5..]].concat();
    ok(&later_overwrite);
    assert_eq!(read(&out, "/g/time").as_slice().unwrap(), &time[4..]);
    assert_eq!(read(&out, "/g/lat").as_slice().unwrap(), [10.0, 20.0, 30.0]);
    assert_close(
        &read(&out, "/g/first"),
        &dense.slice(s![4.., ..]).to_owned().into_dyn(),
    );
    // Now `time` labels `first`: another output cannot replace it, even with --overwrite.
    let other = [
        "slice",
        "--overwrite",
        "--dim",
        "time",
        "--stop",
        "3",
        input,
        second,
    ];
    refused(&other, "it also labels the group's array 'first'");
    assert!(!out.join("g/second").exists());
    assert_eq!(read(&out, "/g/time").as_slice().unwrap(), &time[4..]);
}

/// An input `tas(time, lat)` in `store`, with a scalar coordinate `height` that its CF
/// `coordinates` attribute names, and `lat` stored as `lat` with `lat_options`.
fn labelled_input<T: chunkwise::Element>(
    store: &Path,
    height: f64,
    lat: Vec<T>,
    lat_options: WriteOptions,
) -> String {
    use chunkwise::io::zarr::{Dataset, GroupOptions};
    let dense = Array2::from_shape_fn((12, lat.len()), |(t, y)| (t * 3 + y) as f64);
    let tas = chunkwise::from_ndarray(&dense.into_dyn(), [5, 3]).unwrap();
    let n = lat.len();
    let lat = chunkwise::from_ndarray(&ndarray::Array1::from(lat).into_dyn(), [n]).unwrap();
    let height = chunkwise::from_ndarray(&ndarray::arr0(height).into_dyn(), []).unwrap();
    let time: Vec<f64> = (100..112).map(f64::from).collect();
    Dataset::new()
        .array(
            "tas",
            &tas,
            WriteOptions::default()
                .dimension_names(["time", "lat"])
                .attribute("coordinates", "height"),
        )
        .coord("time", time, WriteOptions::default())
        .array("lat", &lat, lat_options.dimension_names(["lat"]))
        .array("height", &height, WriteOptions::default())
        .to_zarr(store, "/", &GroupOptions::default())
        .unwrap();
    store.join("tas").to_str().unwrap().to_string()
}

/// `--overwrite` never relabels an array it does not replace: not through a scalar
/// coordinate (xarray gives it to every array), nor by replacing an array that is another's
/// coordinate; and coordinates packed by `scale_factor` agree by the values xarray reads.
#[test]
fn overwrite_never_relabels_another_array() {
    let dir = Scratch::new("relabel");
    let plain = WriteOptions::default();
    let a = labelled_input(
        &dir.0.join("a.zarr"),
        2.0,
        vec![10.0, 20.0, 30.0],
        plain.clone(),
    );
    let b = labelled_input(
        &dir.0.join("b.zarr"),
        10.0,
        vec![10.0, 20.0, 30.0],
        plain.clone(),
    );
    let out = dir.0.join("out.zarr");
    let at = |name: &str| out.join(name).to_str().unwrap().to_string();
    ok(&["slice", "--dim", "time", "--start", "2", &a, &at("g/ta")]);
    assert_eq!(read(&out, "/g/height").into_raw_vec_and_offset().0, [2.0]);
    let mean = ["reduce", "--op", "mean", "--dim", "time", "--overwrite"];
    refused(
        &[&mean[..], &[&b, &at("g/tb")]].concat(),
        "it also labels the group's array 'ta' (its coordinates attribute names it",
    );
    refused(
        &[&mean[..], &[&a, &at("g/lat")]].concat(),
        "would be a coordinate of the group's array 'ta'",
    );
    assert!(!out.join("g/tb").exists());
    assert_eq!(read(&out, "/g/height").into_raw_vec_and_offset().0, [2.0]);
    assert_eq!(read(&out, "/g/lat").as_slice().unwrap(), [10.0, 20.0, 30.0]);

    // Packed as int16: the same raw numbers are other labels under another scale factor,
    // and other raw numbers the same labels under their own.
    let packed = |name: &str, raw: Vec<i16>, scale: f64| {
        let options = WriteOptions::default().attribute("scale_factor", scale);
        labelled_input(&dir.0.join(name), 2.0, raw, options)
    };
    let tenths = packed("tenths.zarr", vec![100, 200, 300], 0.1);
    let hundredths = packed("hundredths.zarr", vec![100, 200, 300], 0.01);
    ok(&[
        "slice",
        "--dim",
        "time",
        "--start",
        "2",
        &tenths,
        &at("p/ta"),
    ]);
    refused(
        &[
            "slice",
            "--dim",
            "time",
            "--start",
            "2",
            &hundredths,
            &at("p/tb"),
        ],
        "other values than the input's coordinate (at 0: 10 vs 1)",
    );
    ok(&["slice", "--dim", "time", "--start", "2", &a, &at("p/tc")]);

    // A coordinate chunkwise cannot read is not carried, and the tool says so.
    let unreadable = labelled_input(&dir.0.join("c.zarr"), 2.0, vec![1.0, 2.0, 3.0], plain);
    let meta = dir.0.join("c.zarr/lat/zarr.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    std::fs::write(&meta, text.replace("\"float64\"", "\"complex128\"")).unwrap();
    let run = chunkwise(&["slice", "--dim", "time", &unreadable, &at("c/t")]);
    assert!(run.status.success());
    let message = String::from_utf8_lossy(&run.stderr);
    assert!(
        message.contains("warning: the coordinate 'lat' is not written beside the output"),
        "{message}"
    );
    assert!(!dir.0.join("out.zarr/c/lat").exists());
    // Named as a dimension of `t`, an output would become its coordinate: refused.
    let lat_mean = ["reduce", "--op", "mean", "--dim", "lat", &a, &at("c/lat")];
    refused(&lat_mean, "would be a coordinate of the group's array 't'");
    // A coordinate new to the group that labels `t` is written, and the tool says so.
    let run = chunkwise(&["slice", "--dim", "time", &a, &at("c/t2")]);
    assert!(run.status.success());
    let message = String::from_utf8_lossy(&run.stderr);
    assert!(
        message.contains(
            "the coordinate 'lat' written beside the output also labels the group's array 't'"
        ),
        "{message}"
    );
    assert_eq!(read(&out, "/c/lat").as_slice().unwrap(), [10.0, 20.0, 30.0]);

    // A scalar coordinate labels every array, also one that names no coordinates.
    ok(&["slice", "--dim", "time", &a, &at("h/ta")]);
    let other = chunkwise::arange::<f64>(0.0, 2.0, 1.0, [2]).unwrap();
    let x_dim = WriteOptions::default().dimension_names(["x"]);
    other.to_zarr(&out, "/h/other", &x_dim).unwrap();
    refused(
        &[&mean[..], &[&b, &at("h/ta")]].concat(),
        "it also labels the group's array 'other' (a scalar coordinate labels every array",
    );
    // An array chunkwise cannot read still has dimensions: an output named as one of them
    // would become its coordinate.
    let station = WriteOptions::default().dimension_names(["station"]);
    other.to_zarr(&out, "/s/name", &station).unwrap();
    let meta = out.join("s/name/zarr.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    std::fs::write(&meta, text.replace("\"float64\"", "\"complex128\"")).unwrap();
    let by_lat = [
        "reduce",
        "--op",
        "mean",
        "--dim",
        "lat",
        &a,
        &at("s/station"),
    ];
    refused(&by_lat, "would be a coordinate of the group's array 'name'");
    assert!(!out.join("s/station").exists());
}

/// Integer coordinates are compared exactly: int64 nanosecond timestamps one apart are
/// other labels, although they are one number as f64.
#[test]
fn integer_coordinates_are_compared_exactly() {
    use chunkwise::io::zarr::{Dataset, GroupOptions};
    let dir = Scratch::new("int-coords");
    let start: i64 = 1_700_000_000_000_000_000;
    let write_input = |name: &str, offset: i64| {
        let times: Vec<i64> = (0..4)
            .map(|i| start + offset + i * 3_600_000_000_000)
            .collect();
        assert_eq!(times[0] as f64, start as f64);
        let time = chunkwise::from_ndarray(&ndarray::Array1::from(times).into_dyn(), [4]).unwrap();
        let values = chunkwise::arange::<f64>(0.0, 4.0, 1.0, [2]).unwrap();
        Dataset::new()
            .array(
                "time",
                &time,
                WriteOptions::default()
                    .dimension_names(["time"])
                    .attribute("units", "nanoseconds since 1970-01-01"),
            )
            .array(
                "v",
                &values,
                WriteOptions::default().dimension_names(["time"]),
            )
            .to_zarr(dir.0.join(name), "/", &GroupOptions::default())
            .unwrap();
        dir.0.join(name).join("v").to_str().unwrap().to_string()
    };
    let (exact, one_later) = (write_input("a.zarr", 0), write_input("b.zarr", 1));
    let out = dir.0.join("out.zarr");
    let at = |name: &str| out.join(name).to_str().unwrap().to_string();
    ok(&["convert", &exact, &at("v")]);
    ok(&["convert", &exact, &at("again")]);
    refused(
        &["convert", &one_later, &at("later")],
        &format!("at 0: {start} vs {}", start + 1),
    );
}

/// Stored formats are kept whole where chunks or shards reach past the array's end (and
/// for arrays of length 0); mistakes in formats, dimensions and paths are refused in the
/// tool's terms; a group's `info` describes what it can read and says what it cannot.
#[test]
fn formats_dimensions_and_paths_at_their_edges() {
    let dir = Scratch::new("edges");
    let dense = input(&dir.0).mapv(f64::from).into_dyn();
    let tas = dir.0.join("in.zarr/tas");
    let tas = tas.to_str().unwrap();
    let out = dir.0.join("out.zarr");
    let at = |name: &str| out.join(name).to_str().unwrap().to_string();

    // Shards of 3 x 2 chunks of 15 x 4 x 5 reach past the 40 x 6 x 5 array.
    let (sharded, copy) = (at("sharded"), at("copy"));
    ok(&["convert", "--shards", "3,2,1", tas, &sharded]);
    ok(&["convert", "--codec", "gzip", &sharded, &copy]);
    let text = ok(&["info", &copy]);
    assert!(
        text.contains("chunks [15, 4, 5]  shards [45, 8, 5]"),
        "{text}"
    );
    assert_close(&read(&out, "/copy"), &dense);

    // An empty slice can be converted, reduced and taken the anomaly of (in a store of
    // its own: a group's arrays agree on each dimension's length).
    let empties = dir.0.join("empty.zarr");
    let at_empties = |name: &str| empties.join(name).to_str().unwrap().to_string();
    let empty = at_empties("empty");
    ok(&[
        "slice", "--dim", "time", "--start", "5", "--stop", "5", tas, &empty,
    ]);
    for args in [
        vec!["convert", &empty, "empty_copy"],
        vec![
            "reduce",
            "--op",
            "mean",
            "--dim",
            "lat",
            &empty,
            "empty_mean",
        ],
        vec!["anomaly", "--dim", "time", &empty, "empty_anomaly"],
    ] {
        let (head, output) = args.split_at(args.len() - 1);
        let output = at_empties(output[0]);
        ok(&[head, &[output.as_str()]].concat());
    }
    assert_eq!(read(&empties, "/empty_mean").shape(), &[0, 5]);
    assert_eq!(read(&empties, "/empty_anomaly").shape(), &[0, 6, 5]);

    // Negative dimension numbers count from the last, as in NumPy.
    ok(&["reduce", "--op", "max", "--dim", "-1", tas, &at("max_lon")]);
    assert_close(
        &read(&out, "/max_lon"),
        &dense
            .map_axis(Axis(2), |l| l.fold(f64::MIN, |a, &b| a.max(b)))
            .into_dyn(),
    );
    // Shards do not exist in Zarr v2; shard lengths must fit a machine word.
    let v2 = dir.0.join("v2.zarr/v");
    refused(
        &[
            "convert",
            "--zarr-version",
            "2",
            "--shards",
            "2,1,1",
            tas,
            v2.to_str().unwrap(),
        ],
        "Zarr v2 has no sharding",
    );
    refused(
        &[
            "convert",
            "--shards",
            "9223372036854775807,1,1",
            tas,
            &at("huge"),
        ],
        "too long",
    );
    // Existing outputs and outputs inside an array are refused in the tool's terms.
    refused(&["convert", tas, &copy], "--overwrite");
    let inside = dir.0.join("in.zarr/tas/sub");
    refused(
        &["convert", "--overwrite", tas, inside.to_str().unwrap()],
        "is an array",
    );

    // One array chunkwise cannot read does not hide the others from `info`.
    let bytes = chunkwise::from_ndarray(&ndarray::arr1(&[1u8, 2, 3]).into_dyn(), [2]).unwrap();
    let zstd = WriteOptions::default().compression(zarr::Compression::Zstd { level: 3 });
    bytes.to_zarr(&out, "/bytes", &zstd).unwrap();
    // As zarr-python writes it: the `bytes` codec of a one-byte type has no settings.
    let meta = out.join("bytes/zarr.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta).unwrap()).unwrap();
    json["codecs"][0] = serde_json::json!({ "name": "bytes" });
    std::fs::write(&meta, json.to_string()).unwrap();
    let meta = out.join("copy/zarr.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    std::fs::write(&meta, text.replace("\"float32\"", "\"complex64\"")).unwrap();
    let listing = ok(&["info", out.to_str().unwrap()]);
    assert!(listing.contains("/copy  (not readable: "), "{listing}");
    assert!(listing.contains("complex64"), "{listing}");
    assert!(listing.contains("/sharded  float32"), "{listing}");
    // A one-byte type's `bytes` codec has no settings: its compression is still known.
    assert!(
        listing.contains("/bytes  uint8  shape [3]  chunks [2]"),
        "{listing}"
    );
    assert!(listing.contains("Zstd { level: 3 }"), "{listing}");
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
        .fill_value(fill)
        .attribute("scale_factor", scale)
        .attribute("add_offset", offset)
        .attribute("valid_range", serde_json::json!([-9000, 9000]))
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
    // The bounds of packed values bound no mean (nor an anomaly, negative where they
    // were positive).
    for packing in ["scale_factor", "add_offset", "valid_range"] {
        for name in ["mean", "anomaly"] {
            let written = zarr::open(&out, name).unwrap();
            assert!(
                written.attributes().get(packing).is_none(),
                "{packing} kept in {name}"
            );
        }
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

    // Fewer days than the arrays of `out`: in a store of its own.
    let out = dir.0.join("last.zarr");
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
    // An output the library refuses writes nothing, not even the group it would go in.
    let hidden = dir.0.join("new.zarr/g/.hidden");
    refused(
        &["slice", "--dim", "time", tas, hidden.to_str().unwrap()],
        "not starting with a dot",
    );
    assert!(!dir.0.join("new.zarr").exists());
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
    // A group given as the input: its arrays are named, to pick one.
    let group = dir.0.join("in.zarr");
    refused(
        &[
            "reduce",
            "--op",
            "mean",
            "--dim",
            "time",
            group.to_str().unwrap(),
            out,
        ],
        "is a group, not an array (it holds: tas)",
    );
    // A 0-d array has no dimension to name.
    let scalar = dir.0.join("scalar.zarr");
    chunkwise::from_ndarray(&ndarray::arr0(3.5).into_dyn(), [])
        .unwrap()
        .to_zarr(&scalar, "s", &WriteOptions::default())
        .unwrap();
    let s = scalar.join("s");
    refused(
        &[
            "reduce",
            "--op",
            "mean",
            "--dim",
            "0",
            s.to_str().unwrap(),
            out,
        ],
        "0-dimensional",
    );
}

/// A new group takes the Zarr version of the group it goes in (whose readers would not
/// list it otherwise), however deep below; an explicit other version is refused there too.
#[test]
fn new_groups_take_the_version_of_the_group_they_go_in() {
    let dir = Scratch::new("versions");
    let dense = input(&dir.0).mapv(f64::from);
    let store = dir.0.join("in.zarr");
    let tas = store.join("tas");
    let v2 = dir.0.join("v2.zarr").join("tas");
    let write_v2 = || {
        let (tas, v2) = (tas.to_str().unwrap(), v2.to_str().unwrap());
        ok(&["convert", "--zarr-version", "2", tas, v2]);
    };
    write_v2();
    let deep = store.join("new/deeper/mean");
    ok(&[
        "reduce",
        "--op",
        "mean",
        "--dim",
        "time",
        v2.to_str().unwrap(),
        deep.to_str().unwrap(),
    ]);
    for group in ["new", "new/deeper"] {
        let opened = zarr::open_group(&store, group).unwrap();
        assert_eq!(opened.version(), zarr::ZarrVersion::V3, "{group}");
    }
    let mean = zarr::open(&store, "new/deeper/mean").unwrap();
    assert_eq!(mean.format().version, zarr::ZarrVersion::V3);
    assert_close(
        &read(&store, "new/deeper/mean"),
        &dense.mean_axis(Axis(0)).unwrap().into_dyn(),
    );
    let other = store.join("other/tas");
    refused(
        &[
            "convert",
            "--zarr-version",
            "2",
            tas.to_str().unwrap(),
            other.to_str().unwrap(),
        ],
        "is a Zarr V3 group: a V2 array cannot go in it",
    );
    assert!(!store.join("other").exists());
    // A sharded v3 array converted or sliced into the v2 group loses its shards (v2 has
    // none), and a v2 one into a v3 group takes the shards asked for.
    let sharded = dir.0.join("sharded.zarr/tas");
    ok(&[
        "convert",
        "--shards",
        "2,1,1",
        tas.to_str().unwrap(),
        sharded.to_str().unwrap(),
    ]);
    let v2_group = dir.0.join("v2.zarr");
    for (command, name) in [("convert", "c"), ("slice", "sub/s")] {
        let into_v2 = v2_group.join(name);
        let mut args = vec![
            command,
            sharded.to_str().unwrap(),
            into_v2.to_str().unwrap(),
        ];
        if command == "slice" {
            args.splice(1..1, ["--dim", "time", "--stop", "20"]);
        }
        ok(&args);
        let written = zarr::open(&v2_group, name).unwrap();
        assert_eq!(written.format().version, zarr::ZarrVersion::V2, "{command}");
        assert_eq!(written.format().shards, None, "{command}");
        let expected = match command {
            "slice" => dense.slice(s![..20, .., ..]).to_owned().into_dyn(),
            _ => dense.clone().into_dyn(),
        };
        assert_close(&read(&v2_group, name), &expected);
    }
    let into_v3 = store.join("resharded");
    ok(&[
        "convert",
        "--shards",
        "2,1,1",
        v2.to_str().unwrap(),
        into_v3.to_str().unwrap(),
    ]);
    let written = zarr::open(&store, "resharded").unwrap();
    assert_eq!(written.format().version, zarr::ZarrVersion::V3);
    assert!(written.format().shards.is_some());
    assert_close(&read(&store, "resharded"), &dense.clone().into_dyn());
    // An output at a store's root replaces the group there: nothing encloses it, so it
    // takes the version asked for, or the input's, not the replaced group's.
    for (asked, version) in [
        (Some("3"), zarr::ZarrVersion::V3),
        (None, zarr::ZarrVersion::V3),
    ] {
        let mut args = vec!["convert", "--overwrite", tas.to_str().unwrap()];
        args.extend(asked.iter().flat_map(|v| ["--zarr-version", v]));
        args.push(v2_group.to_str().unwrap());
        ok(&args);
        let written = zarr::open(&v2_group, "/").unwrap();
        assert_eq!(written.format().version, version, "{args:?}");
        assert_close(&read(&v2_group, "/"), &dense.clone().into_dyn());
        // The next round replaces a v2 group again.
        std::fs::remove_dir_all(&v2_group).unwrap();
        write_v2();
    }
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
        .fill_value(fill)
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
    assert_eq!(format.fill_value, Some(zarr::FillValue::from(fill)));
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
    assert_eq!(format.fill_value, Some(zarr::FillValue::from(fill)));
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
        // In a store of its own: a group's arrays agree on each dimension's length.
        let out = dir.0.join(format!("{name}.zarr"));
        let target = out.join(name);
        let mut command = vec!["slice", "--dim", "time"];
        command.extend(args);
        command.extend([input, target.to_str().unwrap()]);
        ok(&command);
        let expected = physical.select(Axis(0), &rows);
        assert!(same(&decoded(&out, name), &expected), "{name}");
        // The input's chunks, as declared, even where the slice is shorter.
        let chunks = zarr::open(&out, name).unwrap().format().chunks.clone();
        assert_eq!(chunks, [4, 3], "{name}");
    }
}

/// The CI venv's Python with zarr and xarray (`CHUNKWISE_ZARR_PYTHON`, or the workspace's
/// `target/zarr-venv`); `None` (the test skipped, saying so) only where `CHUNKWISE_REQUIRE_INTEROP` is
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
    if found.is_none() {
        println!("skipped: no Python with xarray");
    }
    found
}

/// Runs `script` with the test's Python and `args`, and returns what it prints.
fn run_python(python: &Path, script: &str, args: &[&Path]) -> String {
    let run = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8(run.stdout).unwrap()
}

/// A curvilinear grid as xarray writes it: 2-D `lat` and `lon`, a scalar `height` and a
/// per-time `label` as auxiliary coordinates (CF `coordinates`). Outputs carry those whose
/// dimensions they keep, sliced as the data is, and name only those in `coordinates`.
#[test]
fn outputs_carry_the_auxiliary_coordinates_of_the_dimensions_they_keep() {
    let Some(python) = python() else { return };
    let dir = Scratch::new("aux");
    let input = dir.0.join("in.zarr");
    let write = "import sys, numpy as np, xarray as xr\n\
                 t, y, x = np.arange(4), np.arange(3), np.arange(5)\n\
                 tas = np.arange(60.0).reshape(4, 3, 5)\n\
                 ds = xr.Dataset({'tas': (('time', 'y', 'x'), tas, {'units': 'K'})},\n\
                   coords={'time': t, 'y': y, 'x': x,\n\
                     'lat': (('y', 'x'), 10.0 * y[:, None] + x, {'units': 'degrees_north'}),\n\
                     'lon': (('y', 'x'), 100.0 + y[:, None] - x),\n\
                     'height': ((), 2.0), 'label': (('time',), 7.0 * t)})\n\
                 ds.to_zarr(sys.argv[1], zarr_format=3, consolidated=True)";
    run_python(&python, write, &[&input]);
    let tas = input.join("tas");
    let tas = tas.to_str().unwrap();
    let (means, rows) = (dir.0.join("mean.zarr"), dir.0.join("rows.zarr"));
    ok(&[
        "reduce",
        "--op",
        "mean",
        "--dim",
        "time",
        tas,
        means.join("m").to_str().unwrap(),
    ]);
    let rows_args = ["slice", "--dim", "y", "--start", "1", tas];
    ok(&[&rows_args[..], &[rows.join("r").to_str().unwrap()]].concat());
    let script = "import sys, json, xarray as xr\n\
                m = xr.open_zarr(sys.argv[1], consolidated=True)\n\
                r = xr.open_zarr(sys.argv[2], consolidated=True)\n\
                print(json.dumps({'m': sorted(m.m.coords), 'r': sorted(r.r.coords),\n\
                  'm_lat': m.lat.values.tolist(), 'r_lat': r.lat.values.tolist(),\n\
                  'r_lon': r.lon.values.tolist(), 'height': float(m.height),\n\
                  'units': m.lat.attrs['units'], 'label': r.label.values.tolist(),\n\
                  'm_vars': sorted(m.data_vars)}))";
    let seen: serde_json::Value =
        serde_json::from_str(&run_python(&python, script, &[&means, &rows])).unwrap();
    let lat = |y0: usize| -> Vec<Vec<f64>> {
        (y0..3)
            .map(|y| (0..5).map(|x| (10 * y + x) as f64).collect())
            .collect()
    };
    let lon: Vec<Vec<f64>> = (1..3)
        .map(|y| (0..5).map(|x| 100.0 + y as f64 - x as f64).collect())
        .collect();
    // The mean over time keeps lat, lon and height, not the per-time label.
    assert_eq!(
        seen["m"],
        serde_json::json!(["height", "lat", "lon", "x", "y"]),
        "{seen}"
    );
    assert_eq!(seen["m_vars"], serde_json::json!(["m"]), "{seen}");
    assert_eq!(seen["m_lat"], serde_json::json!(lat(0)));
    assert_eq!(seen["height"], 2.0);
    assert_eq!(seen["units"], "degrees_north");
    // Rows 1.. of the grid: lat and lon sliced as the data, the label kept whole.
    assert_eq!(
        seen["r"],
        serde_json::json!(["height", "label", "lat", "lon", "time", "x", "y"]),
        "{seen}"
    );
    assert_eq!(seen["r_lat"], serde_json::json!(lat(1)));
    assert_eq!(seen["r_lon"], serde_json::json!(lon));
    assert_eq!(seen["label"], serde_json::json!([0.0, 7.0, 14.0, 21.0]));
    // The mean's CF `coordinates` names what it carries, not the label it dropped.
    let stored = zarr::open(&means, "m").unwrap();
    let mut named: Vec<&str> = stored.attributes()["coordinates"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .collect();
    named.sort();
    assert_eq!(named, ["height", "lat", "lon"]);
    // Run again on other rows: y, lat and lon label only the output (x, which lat and lon
    // share a dimension with, keeps its own values), so --overwrite replaces them.
    let other_rows = ["slice", "--overwrite", "--dim", "y", "--start", "2", tas];
    ok(&[&other_rows[..], &[rows.join("r").to_str().unwrap()]].concat());
    assert_eq!(
        read(&rows, "/lat"),
        ndarray::Array2::from_shape_vec((1, 5), lat(2).concat())
            .unwrap()
            .into_dyn()
    );
    assert_eq!(read(&rows, "/y").as_slice().unwrap(), [2.0]);
    assert_eq!(
        read(&rows, "/x").as_slice().unwrap(),
        [0.0, 1.0, 2.0, 3.0, 4.0]
    );
}

#[test]
fn xarray_opens_what_the_tool_writes() {
    let Some(python) = python() else { return };
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
    let printed = run_python(&python, script, &[&out]);
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
    let sliced_store = dir.0.join("sliced.zarr");
    let printed = run_python(&python, script, &[&with_coords, &sliced_store]);
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
    let upload = [
        "convert",
        local.to_str().unwrap(),
        "s3://private/in.zarr/tas",
    ];
    succeeded(&upload, chunkwise_with_profile(&dir.0, "lab", &upload));
    let back = dir.0.join("back.zarr");
    let target = format!("{}/tas", back.display());
    let download = ["convert", "s3://private/in.zarr/tas", &target];
    succeeded(&download, chunkwise_with_profile(&dir.0, "lab", &download));
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
    let run = |args: &[&str]| succeeded(args, chunkwise_on_s3(&moto.url(), args));
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

/// Attributes that zarr-python stores as JSON values cannot hold (a bare `NaN`, an
/// integer beyond 64 bits) are carried to the outputs as stored: xarray reads them as the
/// float and the integer, and can write the output again (a string `missing_value` would
/// make its v2 encoder fail).
#[test]
fn attributes_are_carried_as_zarr_python_stored_them() {
    let Some(python) = python() else { return };
    let dir = Scratch::new("verbatim");
    let input = dir.0.join("in.zarr");
    let write = "import sys, numpy as np, xarray as xr\n\
                 attrs = {'missing_value': float('nan'), 'big': 2**70, 'units': 'K', 'note': 'NaN'}\n\
                 t = xr.DataArray(np.arange(12.0).reshape(4, 3), dims=('time', 'x'), attrs=attrs)\n\
                 ds = xr.Dataset({'t': t}, attrs={'inf': float('-inf'), 'title': 'Infinity'})\n\
                 ds.to_zarr(sys.argv[1], zarr_format=2, mode='w')";
    run_python(&python, write, &[&input]);
    // `info` shows the values as stored: the number NaN apart from the string "NaN", the
    // integer exactly.
    let info = ok(&["info", input.to_str().unwrap()]);
    for line in [
        "    inf: -Infinity",
        "    title: \"Infinity\"",
        "    missing_value: NaN",
        "    note: \"NaN\"",
        "    big: 1180591620717411303424",
        "    units: \"K\"",
    ] {
        assert!(info.lines().any(|l| l == line), "{line:?} in\n{info}");
    }
    let (copy, mean) = (dir.0.join("copy.zarr"), dir.0.join("mean.zarr"));
    let (t, copy_t, mean_t) = (input.join("t"), copy.join("t"), mean.join("t"));
    let t = t.to_str().unwrap();
    ok(&["rechunk", "--chunks", "2,3", t, copy_t.to_str().unwrap()]);
    ok(&[
        "reduce",
        "--op",
        "mean",
        "--dim",
        "time",
        t,
        mean_t.to_str().unwrap(),
    ]);
    let check = "import os, sys, xarray as xr\n\
                 for store in sys.argv[1:3]:\n\
                 \x20   ds = xr.open_zarr(store)\n\
                 \x20   m = ds['t'].encoding.get('missing_value')\n\
                 \x20   print(type(m).__name__, repr(m), repr(ds['t'].attrs['big']), ds['t'].attrs['units'])\n\
                 \x20   ds.to_zarr(os.path.join(sys.argv[3], os.path.basename(store)), zarr_format=2)";
    let again = dir.0.join("again");
    let printed = run_python(&python, check, &[&copy, &mean, &again]);
    let lines: Vec<&str> = printed.lines().collect();
    // The copy keeps missing_value; the mean (decoded values) drops the packing attributes.
    assert_eq!(
        lines,
        [
            "float nan 1180591620717411303424 K",
            "NoneType None 1180591620717411303424 K"
        ],
        "{printed}"
    );
}

/// A run that fails part way (here on a corrupt chunk) exits with a failing status and
/// leaves no output for xarray to take for a whole one: neither the array nor its
/// coordinates; the same command then writes it once the input is mended.
#[test]
fn a_failed_run_leaves_no_output() {
    let dir = Scratch::new("failed-run");
    let (dense, _) = gridded_input(&dir.0.join("in.zarr"));
    let tas = dir.0.join("in.zarr/tas");
    let chunk = tas.join("c/1/0");
    let good = std::fs::read(&chunk).unwrap();
    std::fs::write(&chunk, b"not a chunk").unwrap();
    let out = dir.0.join("out.zarr/a");
    let (tas, out) = (tas.to_str().unwrap(), out.to_str().unwrap());
    // One thread: the first tile is written before the corrupt one is read.
    let args = ["anomaly", "--threads", "1", "--dim", "lat", tas, out];
    refused(&args, "corrupt chunk");
    let group = zarr::open_group(dir.0.join("out.zarr"), "/").unwrap();
    assert!(group.arrays().is_empty(), "left: {:?}", group.arrays());
    std::fs::write(&chunk, good).unwrap();
    ok(&args);
    let mean = dense.mean_axis(Axis(1)).unwrap().insert_axis(Axis(1));
    assert_close(
        &read(&dir.0.join("out.zarr"), "a"),
        &(&dense - &mean).into_dyn(),
    );
}

/// An output named as one of its own dimensions is refused (xarray would take its values
/// for that dimension's labels); a 1-D one over that dimension is that coordinate, sliced.
/// A step longer than the dimension takes its first element, as NumPy's does. Each new
/// line of `history` comes first.
#[test]
fn outputs_named_as_a_dimension_and_long_steps() {
    let dir = Scratch::new("dimension-names");
    let (dense, time) = gridded_input(&dir.0.join("in.zarr"));
    let store = dir.0.join("in.zarr");
    let tas = store.join("tas");
    let tas = tas.to_str().unwrap();
    let named = dir.0.join("out.zarr/lat");
    refused(
        &["anomaly", "--dim", "time", tas, named.to_str().unwrap()],
        "named as one of its dimensions",
    );
    assert!(!dir.0.join("out.zarr/lat").exists());
    let time_in = store.join("time");
    let time_out = dir.0.join("out.zarr/time");
    ok(&[
        "slice",
        "--dim",
        "time",
        "--start",
        "2",
        time_in.to_str().unwrap(),
        time_out.to_str().unwrap(),
    ]);
    assert_eq!(
        read(&dir.0.join("out.zarr"), "time").as_slice().unwrap(),
        &time[2..]
    );

    for step in ["9223372036854775807", "-9223372036854775808"] {
        let out = dir.0.join("steps.zarr/s");
        let out = out.to_str().unwrap();
        ok(&[
            "slice",
            "--overwrite",
            "--dim",
            "time",
            "--step",
            step,
            tas,
            out,
        ]);
        let first = if step.starts_with('-') { 11 } else { 0 };
        let expected = dense.slice(s![first..first + 1, ..]).to_owned().into_dyn();
        assert_close(&read(&dir.0.join("steps.zarr"), "s"), &expected);
    }
    let once = dir.0.join("steps.zarr/s");
    let twice = dir.0.join("twice.zarr/t");
    ok(&[
        "slice",
        "--dim",
        "lat",
        "--stop",
        "2",
        once.to_str().unwrap(),
        twice.to_str().unwrap(),
    ]);
    let history = zarr::open(dir.0.join("twice.zarr"), "t").unwrap();
    let history = history.attributes()["history"]
        .as_str()
        .unwrap()
        .to_string();
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 2, "{history}");
    assert!(
        lines[0].contains("--dim lat") && lines[1].contains("--dim time"),
        "{history}"
    );
}

/// With no keys anywhere, credentials come from a container's credential endpoint (EKS Pod
/// Identity: `AWS_CONTAINER_CREDENTIALS_FULL_URI` and its token file), as the AWS tools
/// find them: here an endpoint on 127.0.0.1 that hands out keys only for the token of the
/// file (the client cannot write without them), in front of a moto server.
#[cfg(feature = "object-store")]
#[test]
fn credentials_come_from_a_container_endpoint() {
    use std::io::{BufRead, BufReader, Write};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let Some(python) = s3_util::with_moto(python()) else {
        return;
    };
    let moto = s3_util::moto(&python, &[]);
    s3_util::create_bucket(moto.port, "pod");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}/credentials", listener.local_addr().unwrap());
    let served = Arc::new(AtomicUsize::new(0));
    let counted = served.clone();
    std::thread::spawn(move || {
        let (id, secret) = (s3_util::KEY, s3_util::SECRET);
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut authorized = false;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                authorized |= line.trim() == "authorization: pod-token";
                line.clear();
            }
            let (status, body) = match authorized {
                true => (
                    "200 OK",
                    format!(
                        r#"{{"AccessKeyId":"{id}","SecretAccessKey":"{secret}","Token":"session","Expiration":"2099-01-01T00:00:00Z"}}"#
                    ),
                ),
                false => ("403 Forbidden", String::new()),
            };
            counted.fetch_add(1, Ordering::SeqCst);
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let dir = Scratch::new("pod-identity");
    let dense = input(&dir.0);
    std::fs::write(dir.0.join("token"), "pod-token").unwrap();
    let local = dir.0.join("in.zarr/tas");
    let upload = ["convert", local.to_str().unwrap(), "s3://pod/in.zarr/tas"];
    let out = chunkwise_without_aws()
        .env("HOME", &dir.0)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", moto.url())
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &endpoint)
        .env(
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            dir.0.join("token"),
        )
        .args(upload)
        .output()
        .unwrap();
    succeeded(&upload, out);
    assert!(served.load(Ordering::SeqCst) >= 1);
    // Read back with the keys given outright.
    let back = dir.0.join("back.zarr");
    let target = format!("{}/tas", back.display());
    let download = ["convert", "s3://pod/in.zarr/tas", &target];
    succeeded(&download, chunkwise_on_s3(&moto.url(), &download));
    assert_close(&read(&back, "tas"), &dense.mapv(f64::from).into_dyn());
}

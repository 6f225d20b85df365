//! Writing into regions of existing Zarr arrays, and appending along an axis.
#![allow(missing_docs)]

use chunkwise::io::zarr::{self, WriteOptions};
use chunkwise::{BuildError, Config, Reduction};
use ndarray::{ArrayD, IxDyn, s};

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("chunkwise-region-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn region_writes_touch_only_the_region() {
    let d = dir("write");
    let base = chunkwise::full(&[10, 12], 1.0f64, [4, 5]).unwrap();
    base.to_zarr(&d, "a", &WriteOptions::default().chunks([4, 5]))
        .unwrap();
    // A patch that straddles chunk boundaries, with its own (unaligned) tiles.
    let patch = chunkwise::arange::<f64>(0.0, 42.0, 1.0, [7])
        .unwrap()
        .rechunk([42])
        .unwrap();
    let patch = chunkwise::from_ndarray(
        &patch
            .compute()
            .unwrap()
            .into_shape_with_order(IxDyn(&[6, 7]))
            .unwrap(),
        [3, 3],
    )
    .unwrap();
    patch
        .to_zarr_region(&d, "a", &[3..9, 2..9], &Config::default())
        .unwrap();
    let got = zarr::open(&d, "a")
        .unwrap()
        .into_typed::<f64>()
        .unwrap()
        .compute()
        .unwrap();
    let mut want = ArrayD::from_elem(IxDyn(&[10, 12]), 1.0);
    want.slice_mut(s![3..9, 2..9])
        .assign(&patch.compute().unwrap());
    assert_eq!(got, want);
    // Shape mismatch and out-of-range regions are errors.
    assert!(matches!(
        patch.to_zarr_region(&d, "a", &[0..6, 0..6], &Config::default()),
        Err(chunkwise::Error::Build(BuildError::ShapeMismatch { .. }))
    ));
    // A region outside the array says so (its shape agrees with the data's).
    let outside = patch.to_zarr_region(&d, "a", &[5..11, 0..7], &Config::default());
    assert!(
        matches!(&outside, Err(chunkwise::Error::Build(BuildError::InvalidArgument { reason, .. }))
            if reason.contains("is not inside the array")),
        "{outside:?}"
    );
    let wrong = chunkwise::zeros::<f32>(&[6, 7], [6, 7]).unwrap();
    assert!(matches!(
        wrong.to_zarr_region(&d, "a", &[3..9, 2..9], &Config::default()),
        Err(chunkwise::Error::Build(BuildError::DTypeMismatch { .. }))
    ));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn append_grows_the_array_along_an_axis() {
    let d = dir("append");
    let first = chunkwise::arange::<i32>(0, 30, 1, [10]).unwrap();
    let first = chunkwise::from_ndarray(
        &first
            .compute()
            .unwrap()
            .into_shape_with_order(IxDyn(&[5, 6]))
            .unwrap(),
        [2, 6],
    )
    .unwrap();
    first
        .to_zarr(
            &d,
            "t",
            &WriteOptions::default()
                .chunks([2, 6])
                .dimension_names(["time", "x"]),
        )
        .unwrap();
    let more = chunkwise::full(&[3, 6], -1i32, [3, 6]).unwrap();
    more.append_zarr(&d, "t", 0, &Config::default()).unwrap();
    let stored = zarr::open(&d, "t").unwrap();
    assert_eq!(stored.shape(), vec![8, 6]);
    let got = stored.into_typed::<i32>().unwrap().compute().unwrap();
    assert_eq!(got.slice(s![..5, ..]).into_dyn(), first.compute().unwrap());
    assert!(got.slice(s![5.., ..]).iter().all(|&v| v == -1));
    let bad = chunkwise::full(&[3, 5], 0i32, [3, 5]).unwrap();
    assert!(matches!(
        bad.append_zarr(&d, "t", 0, &Config::default()),
        Err(chunkwise::Error::Build(BuildError::ShapeMismatch { .. }))
    ));
    let _ = std::fs::remove_dir_all(&d);
}

/// A stored 12 x 10 array of distinct values in 4 x 5 chunks at `d/x`, opened again, and
/// its values.
fn stored_grid(d: &std::path::Path) -> (chunkwise::Array<f64>, ArrayD<f64>) {
    let values = ArrayD::from_shape_fn(IxDyn(&[12, 10]), |i| (i[0] * 10 + i[1]) as f64 + 1.0);
    chunkwise::from_ndarray(&values, [4, 5])
        .unwrap()
        .to_zarr(d, "x", &WriteOptions::default().chunks([4, 5]))
        .unwrap();
    let x = zarr::open(d, "x").unwrap().into_typed::<f64>().unwrap();
    (x, values)
}

fn stored(d: &std::path::Path) -> ArrayD<f64> {
    zarr::open(d, "x")
        .unwrap()
        .into_typed::<f64>()
        .unwrap()
        .compute()
        .unwrap()
}

/// Asserts that writing `update` into `region` of the array "x" at `d` is refused as a
/// read that could race the write, and that the stored values are still `want`.
#[track_caller]
fn assert_refused_as_racing(
    update: &chunkwise::Array<f64>,
    d: &std::path::Path,
    region: &[std::ops::Range<usize>],
    want: &ArrayD<f64>,
) {
    let error = update
        .to_zarr_region(d, "x", region, &Config::default())
        .unwrap_err()
        .to_string();
    assert!(error.contains("reads elements of the region"), "{error}");
    assert_eq!(&stored(d), want, "nothing written");
}

/// The array "x" at `d`, read in tiles of `shape` (not its stored chunks).
fn opened_in_tiles(d: &std::path::Path, shape: &[usize]) -> chunkwise::Array<f64> {
    let tiles = zarr::OpenOptions {
        chunks: Some(chunkwise::Chunks::Shape(shape.to_vec())),
    };
    zarr::open_with(d, "x", &tiles)
        .unwrap()
        .into_typed::<f64>()
        .unwrap()
}

#[test]
fn in_place_updates_that_cannot_race_are_written() {
    let d = dir("in-place-ok");
    let config = Config::default();
    // Element for element, over the whole array and over a slice of it.
    let (x, mut want) = stored_grid(&d);
    (&x * 2.0)
        .to_zarr_region(&d, "x", &[0..12, 0..10], &config)
        .unwrap();
    want.mapv_inplace(|v| v * 2.0);
    assert_eq!(stored(&d), want);
    let x = zarr::open(&d, "x").unwrap().into_typed::<f64>().unwrap();
    let part = x.slice(s![3..9, 2..7]).unwrap();
    (&part + 1.0)
        .to_zarr_region(&d, "x", &[3..9, 2..7], &config)
        .unwrap();
    want.slice_mut(s![3..9, 2..7]).mapv_inplace(|v| v + 1.0);
    assert_eq!(stored(&d), want);
    // One row, read through an integer index and a new axis.
    let x = zarr::open(&d, "x").unwrap().into_typed::<f64>().unwrap();
    let row = x.slice(s![5, ..]).unwrap().insert_axis(0).unwrap();
    (&row * 3.0)
        .to_zarr_region(&d, "x", &[5..6, 0..10], &config)
        .unwrap();
    want.slice_mut(s![5, ..]).mapv_inplace(|v| v * 3.0);
    assert_eq!(stored(&d), want);
    // The anomaly along the first axis: each task needs the mean of its own columns.
    let x = zarr::open(&d, "x").unwrap().into_typed::<f64>().unwrap();
    let mean = x.mean_with(&Reduction::axis(0).keepdims(true));
    (&x - &mean)
        .to_zarr_region(&d, "x", &[0..12, 0..10], &config)
        .unwrap();
    let means = want.mean_axis(ndarray::Axis(0)).unwrap();
    want -= &means;
    let got = stored(&d);
    assert!(got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-12));
    want = got;
    // The first row replaced by the mean of the rows below it (read outside the region).
    let x = zarr::open(&d, "x").unwrap().into_typed::<f64>().unwrap();
    let below = x.slice(s![4.., ..]).unwrap();
    below
        .mean_with(&Reduction::axis(0).keepdims(true))
        .to_zarr_region(&d, "x", &[0..1, 0..10], &config)
        .unwrap();
    let means = want.slice(s![4.., ..]).mean_axis(ndarray::Axis(0)).unwrap();
    want.slice_mut(s![0, ..]).assign(&means);
    let got = stored(&d);
    assert!(got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-12));
    want = got;
    // Divided by the maximum: one tile that every task needs, complete before any writes.
    let x = zarr::open(&d, "x").unwrap().into_typed::<f64>().unwrap();
    (&x / &x.max())
        .to_zarr_region(&d, "x", &[0..12, 0..10], &config)
        .unwrap();
    let most = want.fold(f64::MIN, |m, &v| m.max(v));
    want.mapv_inplace(|v| v / most);
    assert_eq!(stored(&d), want);
    // The same inside the anomaly: each column mean reads x / max, so every task needs
    // the maximum too.
    let x = zarr::open(&d, "x").unwrap().into_typed::<f64>().unwrap();
    let scaled_mean = (&x / &x.max()).mean_with(&Reduction::axis(0).keepdims(true));
    (&x - &scaled_mean)
        .to_zarr_region(&d, "x", &[0..12, 0..10], &config)
        .unwrap();
    let most = want.fold(f64::MIN, |m, &v| m.max(v));
    let means = want.mapv(|v| v / most).mean_axis(ndarray::Axis(0)).unwrap();
    want -= &means;
    let got = stored(&d);
    assert!(got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-12));
    want = got;
    // Elements outside the region, shifted into it; and the array's own rows appended.
    let x = zarr::open(&d, "x").unwrap().into_typed::<f64>().unwrap();
    let top = x.slice(s![0..4, ..]).unwrap();
    top.to_zarr_region(&d, "x", &[8..12, 0..10], &config)
        .unwrap();
    let copied = want.slice(s![0..4, ..]).to_owned();
    want.slice_mut(s![8..12, ..]).assign(&copied);
    assert_eq!(stored(&d), want);
    let x = zarr::open(&d, "x").unwrap().into_typed::<f64>().unwrap();
    x.slice(s![0..4, ..])
        .unwrap()
        .append_zarr(&d, "x", 0, &config)
        .unwrap();
    let got = stored(&d);
    assert_eq!(got.slice(s![..12, ..]).into_dyn(), want);
    assert_eq!(got.slice(s![12.., ..]).into_dyn(), copied.into_dyn());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn in_place_moves_inside_a_stored_unit_are_written_and_across_units_refused() {
    let d = dir("in-place-move");
    let config = Config::default();
    // Chunks of 4 x 5: rows 2..4 into rows 0..2, columns 3..5 into columns 0..2, each
    // inside the chunk whose task rewrites it (and reads it first).
    let (x, mut want) = stored_grid(&d);
    x.slice(s![2..4, ..])
        .unwrap()
        .to_zarr_region(&d, "x", &[0..2, 0..10], &config)
        .unwrap();
    let rows = want.slice(s![2..4, ..]).to_owned();
    want.slice_mut(s![0..2, ..]).assign(&rows);
    assert_eq!(stored(&d), want);
    let x = zarr::open(&d, "x").unwrap().into_typed::<f64>().unwrap();
    (&x.slice(s![4..12, 3..5]).unwrap() * 2.0)
        .to_zarr_region(&d, "x", &[4..12, 0..2], &config)
        .unwrap();
    let columns = want.slice(s![4..12, 3..5]).mapv(|v| v * 2.0);
    want.slice_mut(s![4..12, 0..2]).assign(&columns);
    assert_eq!(stored(&d), want);
    // Shards of 4 x 10 rows holding chunks of 2 x 5: rows 2..4 into rows 0..2 is another
    // chunk of the same shard; rows 4..8 into rows 2..6 reads rows 4..6 in the second
    // shard, which another task rewrites.
    let _ = std::fs::remove_dir_all(&d);
    let values = ArrayD::from_shape_fn(IxDyn(&[12, 10]), |i| (i[0] * 10 + i[1]) as f64);
    chunkwise::from_ndarray(&values, [4, 10])
        .unwrap()
        .to_zarr(
            &d,
            "x",
            &WriteOptions::default().chunks([2, 5]).shards([4, 10]),
        )
        .unwrap();
    let mut want = values;
    let x = zarr::open(&d, "x").unwrap().into_typed::<f64>().unwrap();
    x.slice(s![2..4, ..])
        .unwrap()
        .to_zarr_region(&d, "x", &[0..2, 0..10], &config)
        .unwrap();
    let rows = want.slice(s![2..4, ..]).to_owned();
    want.slice_mut(s![0..2, ..]).assign(&rows);
    assert_eq!(stored(&d), want);
    let x = zarr::open(&d, "x").unwrap().into_typed::<f64>().unwrap();
    assert_refused_as_racing(&x.slice(s![4..8, ..]).unwrap(), &d, &[2..6, 0..10], &want);
    // Rows 4..8 into rows 0..4 reads outside the touched shard, but opened in tiles of
    // all 12 rows, the tiles read hold the touched shard too (a source task reads its tile
    // whole, and could see a shard half rewritten).
    let tall = opened_in_tiles(&d, &[12, 5]);
    assert_refused_as_racing(
        &tall.slice(s![4..8, ..]).unwrap(),
        &d,
        &[0..4, 0..10],
        &want,
    );
    let x = zarr::open(&d, "x").unwrap().into_typed::<f64>().unwrap();
    x.slice(s![4..8, ..])
        .unwrap()
        .to_zarr_region(&d, "x", &[0..4, 0..10], &config)
        .unwrap();
    let rows = want.slice(s![4..8, ..]).to_owned();
    want.slice_mut(s![0..4, ..]).assign(&rows);
    assert_eq!(stored(&d), want);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn in_place_updates_that_could_race_are_refused_before_anything_is_written() {
    let d = dir("in-place-refused");
    let (x, want) = stored_grid(&d);
    let whole = [0..12, 0..10];
    let square = [0..10, 0..10];
    let shifted = x.slice(s![1.., ..]).unwrap();
    let refused = [
        // A shift: the task of rows 0..4 reads row 4, which another task rewrites.
        (
            &shifted - &x.slice(s![..11, ..]).unwrap(),
            vec![0..11, 0..10],
        ),
        // A transpose of a square part.
        (x.slice(s![..10, ..]).unwrap().transpose(), square.to_vec()),
        // A row broadcast to all rows: the task of rows 4..8 reads row 0, which another
        // task rewrites.
        (&x * &x.slice(s![0..1, ..]).unwrap(), whole.to_vec()),
        // Each column less the mean of the next column: a task needs the mean of a column
        // block that reads a column another task writes.
        (
            &x.slice(s![.., ..9]).unwrap()
                - &x.slice(s![.., 1..])
                    .unwrap()
                    .mean_with(&Reduction::axis(0).keepdims(true)),
            vec![0..12, 0..9],
        ),
        // Through a rechunk (a block function, whose reads are not followed).
        (&x.rechunk([3, 3]).unwrap() * 2.0, whole.to_vec()),
        // Reversed rows.
        (x.slice(s![..;-1, ..]).unwrap(), whole.to_vec()),
    ];
    for (update, region) in refused {
        assert_refused_as_racing(&update, &d, &region, &want);
    }
    // Element for element, but read in tiles of two chunks each: a tile is read for the
    // task of one of its chunks while another task rewrites the other.
    let coarse = opened_in_tiles(&d, &[8, 10]);
    assert_refused_as_racing(&(&coarse * 2.0), &d, &whole, &want);
    // A resumed write continues a write of the same data: it reads nothing it writes into.
    let resume = WriteOptions::default().mode(zarr::WriteMode::Resume);
    let error = (&x + 1.0)
        .to_zarr(&d, "x", &resume)
        .unwrap_err()
        .to_string();
    assert!(error.contains("resumed write writes into"), "{error}");
    assert_eq!(stored(&d), want, "nothing written");
    let _ = std::fs::remove_dir_all(&d);
}

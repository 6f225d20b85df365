//! Writing into regions of existing Zarr arrays, and appending along an axis.
#![allow(missing_docs)]

use chunkwise::io::zarr::{self, WriteOptions};
use chunkwise::{BuildError, Config};
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
    assert!(matches!(
        patch.to_zarr_region(&d, "a", &[5..11, 0..7], &Config::default()),
        Err(chunkwise::Error::Build(BuildError::ShapeMismatch { .. }))
    ));
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

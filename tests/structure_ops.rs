//! `diff`, `gradient` and `coarsen` against dense oracles written from NumPy's definitions
//! (`np.diff`, `np.gradient` with `edge_order=1`, Dask's `da.coarsen`), on irregular chunks
//! including one-element ones.

#![allow(missing_docs)]

use chunkwise::{Array, BuildError, Chunks, Coarsen, Error, from_ndarray};
use ndarray::{ArrayD, Axis, IxDyn};

fn sizes(v: &[&[usize]]) -> Chunks {
    Chunks::Sizes(v.iter().map(|s| s.to_vec()).collect())
}

/// A 2-D array of distinct, non-round values.
fn wavy(rows: usize, cols: usize) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(&[rows, cols]), |ix| {
        let (i, j) = (ix[0] as f64, ix[1] as f64);
        (0.7 * i + 1.3 * j).sin() * 10.0 + i * j * 0.25
    })
}

fn ints(rows: usize, cols: usize) -> ArrayD<i64> {
    ArrayD::from_shape_fn(IxDyn(&[rows, cols]), |ix| {
        ((ix[0] * 37 + ix[1] * 11) % 23) as i64 - 9
    })
}

/// `np.diff(a, n=1, axis)`.
fn dense_diff<T: Copy + std::ops::Sub<Output = T>>(a: &ArrayD<T>, axis: usize) -> ArrayD<T> {
    let n = a.len_of(Axis(axis));
    let mut shape = a.shape().to_vec();
    shape[axis] = n.saturating_sub(1);
    ArrayD::from_shape_fn(IxDyn(&shape), |ix| {
        let mut hi = ix.clone();
        hi[axis] += 1;
        a[&hi] - a[&ix]
    })
}

#[test]
fn diff_first_and_second_along_both_axes_of_irregular_chunks() {
    let dense = wavy(9, 7);
    let idense = ints(9, 7);
    let chunks = sizes(&[&[1, 3, 4, 1], &[2, 1, 4]]);
    let x = from_ndarray(&dense, chunks.clone()).unwrap();
    let xi = from_ndarray(&idense, chunks).unwrap();
    for axis in 0..2 {
        let mut want = dense.clone();
        let mut iwant = idense.clone();
        for n in 0..=3 {
            let got = x.diff(n, axis as isize).unwrap().compute().unwrap();
            assert_eq!(got, want, "f64 diff n={n} axis={axis}");
            let got = xi.diff(n, axis as isize - 2).unwrap().compute().unwrap();
            assert_eq!(got, iwant, "i64 diff n={n} axis={axis}");
            want = dense_diff(&want, axis);
            iwant = dense_diff(&iwant, axis);
        }
    }
}

#[test]
fn diff_past_the_axis_length_is_empty_as_in_numpy() {
    let x = from_ndarray(&ints(3, 4), [2, 2]).unwrap();
    for n in [3, 4, 10] {
        let d = x.diff(n, 0).unwrap();
        assert_eq!(d.shape(), vec![0, 4]);
        assert_eq!(d.compute().unwrap().shape(), &[0, 4]);
    }
    assert_eq!(x.diff(5, 1).unwrap().shape(), vec![3, 0]);
    assert!(matches!(
        x.diff(1, 2),
        Err(Error::Build(BuildError::AxisOutOfRange { .. }))
    ));
}

#[test]
fn diff_composes_with_elementwise_work_and_reductions() {
    let x = from_ndarray(&wavy(8, 8), [4, 4]).unwrap();
    let y = (x.diff(2, 1).unwrap() * 2.0).sum();
    let want: f64 = dense_diff(&dense_diff(&wavy(8, 8), 1), 1).sum() * 2.0;
    let got = y.compute_scalar().unwrap();
    assert!(
        (got - want).abs() < 1e-9 * want.abs().max(1.0),
        "{got} vs {want}"
    );
}

/// `np.gradient(a, h, axis=axis)` with `edge_order=1`, as NumPy computes it.
fn dense_gradient(a: &ArrayD<f64>, axis: usize, h: f64) -> ArrayD<f64> {
    let n = a.len_of(Axis(axis));
    ArrayD::from_shape_fn(a.raw_dim(), |ix| {
        let i = ix[axis];
        let at = |k: usize| {
            let mut j = ix.clone();
            j[axis] = k;
            a[&j]
        };
        if i == 0 {
            (at(1) - at(0)) / h
        } else if i == n - 1 {
            (at(n - 1) - at(n - 2)) / h
        } else {
            (at(i + 1) - at(i - 1)) / (2.0 * h)
        }
    })
}

#[test]
fn gradient_1d_on_irregular_and_one_element_chunks() {
    let dense = wavy(1, 11).into_shape_with_order(IxDyn(&[11])).unwrap();
    for chunks in [
        vec![1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        vec![1, 4, 1, 3, 2],
        vec![11],
        vec![10, 1],
    ] {
        let x = from_ndarray(&dense, Chunks::Sizes(vec![chunks.clone()])).unwrap();
        for h in [1.0, 0.3] {
            let got = x.gradient(0, h).unwrap().compute().unwrap();
            assert_eq!(got, dense_gradient(&dense, 0, h), "chunks {chunks:?} h={h}");
        }
    }
    // Two elements: both ends one-sided, the same value.
    let two = ndarray::arr1(&[1.0, 4.0]).into_dyn();
    let x = from_ndarray(&two, [1]).unwrap();
    assert_eq!(
        x.gradient(0, 1.0)
            .unwrap()
            .compute()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        vec![3.0, 3.0]
    );
}

#[test]
fn gradient_2d_along_each_axis_of_irregular_chunks() {
    let dense = wavy(8, 9);
    let x = from_ndarray(&dense, sizes(&[&[1, 3, 1, 3], &[4, 1, 1, 3]])).unwrap();
    for axis in 0..2 {
        for h in [1.0, 2.5] {
            let got = x.gradient(axis as isize, h).unwrap().compute().unwrap();
            assert_eq!(got, dense_gradient(&dense, axis, h), "axis {axis} h={h}");
            assert_eq!(got.shape(), dense.shape());
        }
    }
    let neg = x.gradient(-1, 1.0).unwrap().compute().unwrap();
    assert_eq!(neg, dense_gradient(&dense, 1, 1.0));
}

#[test]
fn gradient_in_f32_matches_numpy_rounding() {
    let dense = wavy(6, 5).mapv(|v| v as f32);
    let x = from_ndarray(&dense, sizes(&[&[1, 2, 3], &[5]])).unwrap();
    let got = x.gradient(0, 0.1).unwrap().compute().unwrap();
    // NumPy divides the f32 differences by the f32 casts of h and 2h.
    let (h, h2) = (0.1f64 as f32, (2.0 * 0.1f64) as f32);
    let want = ArrayD::from_shape_fn(dense.raw_dim(), |ix| {
        let (i, j) = (ix[0], ix[1]);
        match i {
            0 => (dense[[1, j]] - dense[[0, j]]) / h,
            5 => (dense[[5, j]] - dense[[4, j]]) / h,
            _ => (dense[[i + 1, j]] - dense[[i - 1, j]]) / h2,
        }
    });
    assert_eq!(got, want);
}

#[test]
fn gradient_of_an_axis_shorter_than_two_is_an_error() {
    let x = from_ndarray(&wavy(1, 5), [1, 2]).unwrap();
    assert!(matches!(
        x.gradient(0, 1.0),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
    assert!(x.gradient(1, 1.0).is_ok());
}

/// Dask's `da.coarsen(f, a, {0: f0, 1: f1}, trim_excess)` on a dense 2-D array.
fn dense_coarsen<T: Copy>(a: &ArrayD<T>, f: [usize; 2], reduce: impl Fn(&[T]) -> T) -> ArrayD<T> {
    let shape = [a.shape()[0] / f[0], a.shape()[1] / f[1]];
    ArrayD::from_shape_fn(IxDyn(&shape), |ix| {
        let mut window = Vec::new();
        for i in ix[0] * f[0]..(ix[0] + 1) * f[0] {
            for j in ix[1] * f[1]..(ix[1] + 1) * f[1] {
                window.push(a[[i, j]]);
            }
        }
        reduce(&window)
    })
}

fn sum_f(w: &[f64]) -> f64 {
    w.iter().sum()
}
fn mean_f(w: &[f64]) -> f64 {
    w.iter().sum::<f64>() / w.len() as f64
}
fn max_f(w: &[f64]) -> f64 {
    w.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

fn close(a: &ArrayD<f64>, b: &ArrayD<f64>) -> bool {
    a.shape() == b.shape()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-12 * x.abs().max(1.0))
}

#[test]
fn coarsen_sum_mean_max_on_aligned_and_unaligned_chunks() {
    let dense = wavy(12, 12);
    let idense = ints(12, 12);
    let cases: [(Chunks, &str); 4] = [
        (sizes(&[&[4, 8], &[6, 6]]), "multiples"),
        (sizes(&[&[3, 5, 4], &[1, 7, 4]]), "irregular"),
        (Chunks::from([5, 5]), "regular, not multiples"),
        (Chunks::from([1, 1]), "one-element"),
    ];
    for (chunks, what) in cases {
        let x: Array<f64> = from_ndarray(&dense, chunks.clone()).unwrap();
        let xi = from_ndarray(&idense, chunks).unwrap();
        for f in [[2, 3], [4, 2], [1, 6], [12, 1]] {
            let ctx = format!("{what} chunks, factors {f:?}");
            let got = x.coarsen(Coarsen::Sum, f, false).unwrap();
            // Each output chunk is a whole number of windows of an input chunk.
            for (axis, c) in got.chunks().chunks().iter().enumerate() {
                assert_eq!(c.iter().sum::<usize>(), 12 / f[axis], "{ctx}");
            }
            assert!(
                close(&got.compute().unwrap(), &dense_coarsen(&dense, f, sum_f)),
                "{ctx}"
            );
            let got = x
                .coarsen(Coarsen::Mean, f, false)
                .unwrap()
                .compute()
                .unwrap();
            assert!(close(&got, &dense_coarsen(&dense, f, mean_f)), "{ctx}");
            let got = x
                .coarsen(Coarsen::Max, f, false)
                .unwrap()
                .compute()
                .unwrap();
            assert_eq!(got, dense_coarsen(&dense, f, max_f), "{ctx}");
            // Integers keep their dtype and sum exactly.
            let got = xi
                .coarsen(Coarsen::Sum, f, false)
                .unwrap()
                .compute()
                .unwrap();
            assert_eq!(got, dense_coarsen(&idense, f, |w| w.iter().sum()), "{ctx}");
            let got = xi
                .coarsen(Coarsen::Min, f, false)
                .unwrap()
                .compute()
                .unwrap();
            let want = dense_coarsen(&idense, f, |w| *w.iter().min().unwrap());
            assert_eq!(got, want, "{ctx}");
        }
    }
}

#[test]
fn coarsen_trim_excess_drops_the_remainder_and_refuses_it_otherwise() {
    let dense = wavy(11, 13);
    let x = from_ndarray(&dense, sizes(&[&[3, 5, 3], &[4, 4, 4, 1]])).unwrap();
    for f in [[2, 3], [3, 4], [5, 13], [11, 2]] {
        let trimmed = dense
            .slice(ndarray::s![..11 - 11 % f[0], ..13 - 13 % f[1]])
            .to_owned()
            .into_dyn();
        let got = x.coarsen(Coarsen::Sum, f, true).unwrap().compute().unwrap();
        assert!(close(&got, &dense_coarsen(&trimmed, f, sum_f)), "{f:?}");
        let got = x.coarsen(Coarsen::Max, f, true).unwrap().compute().unwrap();
        assert_eq!(got, dense_coarsen(&trimmed, f, max_f), "{f:?}");
        if 11 % f[0] != 0 || 13 % f[1] != 0 {
            let err = x.coarsen(Coarsen::Sum, f, false).unwrap_err();
            let Error::Build(BuildError::InvalidArgument { reason, .. }) = &err else {
                panic!("{err:?}");
            };
            assert!(reason.contains("not divisible"), "{reason}");
        }
    }
}

#[test]
fn coarsen_trimming_a_whole_axis_leaves_it_empty() {
    let x = from_ndarray(&ints(3, 4), [2, 3]).unwrap();
    let y = x.coarsen(Coarsen::Sum, [5, 2], true).unwrap();
    assert_eq!(y.shape(), vec![0, 2]);
    assert_eq!(y.compute().unwrap().shape(), &[0, 2]);
}

#[test]
fn coarsen_arguments_are_checked() {
    let x = from_ndarray(&ints(4, 4), [2, 2]).unwrap();
    for bad in [vec![2], vec![2, 2, 2], vec![0, 2]] {
        assert!(matches!(
            x.coarsen(Coarsen::Sum, &bad, false),
            Err(Error::Build(BuildError::InvalidArgument { .. }))
        ));
    }
    // Mean of integers would change the dtype: cast first.
    assert!(x.coarsen(Coarsen::Mean, [2, 2], false).is_err());
    let m = x
        .astype::<f64>()
        .coarsen(Coarsen::Mean, [2, 2], false)
        .unwrap();
    assert_eq!(m.shape(), vec![2, 2]);
}

#[test]
fn coarsen_max_propagates_nan_as_numpy() {
    let mut dense = wavy(4, 4);
    dense[[1, 2]] = f64::NAN;
    let x = from_ndarray(&dense, [3, 3]).unwrap();
    let got = x
        .coarsen(Coarsen::Max, [2, 2], false)
        .unwrap()
        .compute()
        .unwrap();
    assert!(got[[0, 1]].is_nan());
    assert!(!got[[0, 0]].is_nan() && !got[[1, 1]].is_nan());
    let got = x
        .coarsen(Coarsen::Min, [2, 2], false)
        .unwrap()
        .compute()
        .unwrap();
    assert!(got[[0, 1]].is_nan());
}

#[test]
fn huge_repeats_tiles_and_pads_are_errors_not_panics() {
    let x = chunkwise::arange::<f64>(0.0, 2.0, 1.0, [1]).unwrap();
    // Lengths past isize::MAX bytes (the count times the axis overflows usize, too).
    assert!(matches!(
        x.repeat(1 << 63, 0),
        Err(Error::Build(BuildError::TooLarge { .. }))
    ));
    assert!(matches!(
        x.tile(&[usize::MAX]),
        Err(Error::Build(BuildError::TooLarge { .. }))
    ));
    // A size that could exist, but in more pieces along one axis than a graph can hold.
    let one = chunkwise::arange::<f64>(0.0, 1.0, 1.0, [1]).unwrap();
    assert!(matches!(
        one.tile(&[1 << 36]),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
    let grid = chunkwise::zeros::<f64>(&[3, 4], [2, 2]).unwrap();
    assert!(matches!(
        grid.pad(&[(1 << 40, 0), (0, 0)], chunkwise::Pad::Wrap),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
    // Large but fine: a million copies of one tile.
    let many = one.tile(&[1 << 20]).unwrap();
    assert_eq!(many.shape(), [1 << 20]);
    assert_eq!(many.sum().compute_scalar().unwrap(), 0.0);
}

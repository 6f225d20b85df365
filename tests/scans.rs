//! Scans (`cumsum`, `cumprod`, `nancumsum`, `nancumprod`, `scan`) against the same scans
//! written on the dense `ndarray`, over random shapes, irregular chunkings and axes.

#![allow(missing_docs)]

mod common;

use chunkwise::{BuildError, Chunks, Config, Error, ExecError, from_ndarray};
use common::*;
use ndarray::{ArrayD, Axis, s};
use proptest::prelude::*;

/// The inclusive scan of `a` along `axis` by `op`, lane by lane, left to right.
fn dense_scan<T: Copy>(a: &ArrayD<T>, axis: usize, op: impl Fn(T, T) -> T) -> ArrayD<T> {
    let mut out = a.clone();
    for mut lane in out.lanes_mut(Axis(axis)) {
        for i in 1..lane.len() {
            lane[i] = op(lane[i - 1], lane[i]);
        }
    }
    out
}

/// A shape of 1 to 3 axes of lengths 1 to 9, an irregular chunking of it, and an axis.
fn case() -> impl Strategy<Value = (Vec<usize>, Vec<Vec<usize>>, usize, u64)> {
    proptest::collection::vec(1usize..10, 1..4).prop_flat_map(|shape| {
        let chunks: Vec<BoxedStrategy<Vec<usize>>> = shape.iter().map(|&n| chunks_for(n)).collect();
        let ndim = shape.len();
        (Just(shape), chunks, 0..ndim, any::<u64>())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn scans_equal_their_dense_definitions((shape, chunks, axis, seed) in case()) {
        // Integer-valued floats with NaNs, so sums compare exactly.
        let data = dense_f64(&shape, seed).mapv(|v| (v * 8.0).floor());
        let with_nan = data.mapv(|v| if v == 7.0 { f64::NAN } else { v });
        let x = from_ndarray(&with_nan, Chunks::Sizes(chunks.clone())).unwrap();
        let same = |a: &ArrayD<f64>, b: &ArrayD<f64>| {
            a.iter().zip(b).all(|(p, q)| p == q || (p.is_nan() && q.is_nan()))
        };
        let ax = axis as isize;
        prop_assert!(same(&x.cumsum(ax).unwrap().compute().unwrap(), &dense_scan(&with_nan, axis, |a, b| a + b)));
        let no_nan = with_nan.mapv(|v| if v.is_nan() { 0.0 } else { v });
        prop_assert_eq!(x.nancumsum(ax).unwrap().compute().unwrap(), dense_scan(&no_nan, axis, |a, b| a + b));
        let halves = with_nan.mapv(|v| if v.is_nan() { 1.0 } else { 0.5 + v / 8.0 });
        let h = from_ndarray(&halves, Chunks::Sizes(chunks.clone())).unwrap();
        prop_assert_eq!(h.cumprod(ax).unwrap().compute().unwrap(), dense_scan(&halves, axis, |a, b| a * b));
        prop_assert_eq!(x.nancumprod(ax).unwrap().compute().unwrap(), dense_scan(&with_nan.mapv(|v| if v.is_nan() { 1.0 } else { v }), axis, |a, b| a * b));
        // Integers sum in i64, wrapping as NumPy's.
        let ints = dense_i32(&shape, seed);
        let xi = from_ndarray(&ints, Chunks::Sizes(chunks.clone())).unwrap();
        prop_assert_eq!(xi.cumsum(ax).unwrap().compute().unwrap(), dense_scan(&ints.mapv(i64::from), axis, i64::wrapping_add));
        // A non-commutative operation (the first value of the lane) and one that is (max).
        prop_assert_eq!(xi.scan(ax, |a, _| a).unwrap().compute().unwrap(), dense_scan(&ints, axis, |a, _| a));
        prop_assert_eq!(xi.scan(ax, |_, b| b).unwrap().compute().unwrap(), ints.clone());
        prop_assert_eq!(xi.scan(ax, i32::max).unwrap().compute().unwrap(), dense_scan(&ints, axis, i32::max));
    }
}

#[test]
fn the_last_row_of_a_cumsum_plans_only_what_it_needs_and_fuses_around_it() {
    let data = dense_f64(&[40, 30], 9);
    let x = from_ndarray(&data, [8, 10]).unwrap();
    let scanned = (&x * 2.0).cumsum(0).unwrap();
    let last = &scanned.slice(s![-1.., ..]).unwrap() + 1.0;
    let expected = dense_scan(&data.mapv(|v| v * 2.0), 0, |a, b| a + b)
        .slice(s![-1.., ..])
        .mapv(|v| v + 1.0)
        .into_dyn();
    let got = last.compute().unwrap();
    assert!(
        got.iter()
            .zip(&expected)
            .all(|(a, b)| (a - b).abs() <= 1e-12 * b.abs())
    );
    // Only the last row of tiles is scanned: far fewer tasks than the whole scan.
    let config = Config::default();
    let whole = scanned.task_count(&config).unwrap();
    let part = last.task_count(&config).unwrap();
    assert!(
        part < whole,
        "{part} tasks for the last row, {whole} for all"
    );
}

#[test]
fn bad_axes_and_panicking_operations_are_errors() {
    let x = chunkwise::arange::<i32>(0, 10, 1, [4]).unwrap();
    assert!(matches!(
        x.cumsum(1),
        Err(Error::Build(BuildError::AxisOutOfRange { .. }))
    ));
    assert!(matches!(
        x.scan(-2, |a, b| a + b),
        Err(Error::Build(BuildError::AxisOutOfRange { .. }))
    ));
    let boom = x
        .scan(0, |a, b| if b == 7 { panic!("no sevens") } else { a + b })
        .unwrap();
    assert!(matches!(
        boom.compute(),
        Err(Error::Exec(ExecError::TaskPanicked { .. }))
    ));
}

#[test]
fn empty_axes_scan_to_empty_arrays() {
    let x = chunkwise::zeros::<f64>(&[0, 3], [2, 2]).unwrap();
    assert_eq!(x.cumsum(0).unwrap().compute().unwrap().shape(), &[0, 3]);
    assert_eq!(x.cumprod(1).unwrap().compute().unwrap().shape(), &[0, 3]);
}

#[test]
fn an_empty_axis_of_several_empty_chunks_scans_to_an_empty_array() {
    let x = chunkwise::zeros::<f64>(&[0], Chunks::Sizes(vec![vec![0, 0]])).unwrap();
    assert_eq!(x.cumsum(0).unwrap().compute().unwrap().len(), 0);
}

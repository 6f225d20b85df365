//! `topk`, `argtopk`, `sort` and `argsort` against a dense oracle that sorts each lane
//! (NumPy's order: NaN after every number; ties by position), over random shapes,
//! irregular chunkings, axes, fan-ins, ties and NaN.

#![allow(missing_docs)]

mod common;

use std::cmp::Ordering;

use chunkwise::{Array, BuildError, Chunks, Config, Error, PlanError, from_ndarray};
use common::chunks_for;
use ndarray::{ArrayD, Axis, IxDyn};
use proptest::prelude::*;

/// NumPy's order of two floats: NaN last.
fn numpy_order(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap(),
    }
}

/// Per lane along `axis`, the (value, position) pairs in the order `topk(k)` returns them
/// (largest first for `k > 0`, smallest first for `k < 0`; ties by position), `|k|` of
/// them, as two arrays of the input shape with `axis` of length `|k|`.
fn dense_topk(a: &ArrayD<f64>, k: isize, axis: usize) -> (ArrayD<f64>, ArrayD<u64>) {
    let want = k.unsigned_abs();
    let mut shape = a.shape().to_vec();
    shape[axis] = want;
    let mut values = ArrayD::zeros(IxDyn(&shape));
    let mut positions = ArrayD::zeros(IxDyn(&shape));
    let lanes = a.lanes(Axis(axis)).into_iter();
    let outs = values
        .lanes_mut(Axis(axis))
        .into_iter()
        .zip(positions.lanes_mut(Axis(axis)));
    for (lane, (mut v, mut p)) in lanes.zip(outs) {
        let mut pairs: Vec<(f64, u64)> = lane.iter().copied().zip(0u64..).collect();
        pairs.sort_by(|x, y| {
            let by_value = numpy_order(x.0, y.0);
            let by_value = if k > 0 { by_value.reverse() } else { by_value };
            by_value.then(x.1.cmp(&y.1))
        });
        for (i, (value, position)) in pairs.into_iter().take(want).enumerate() {
            v[i] = value;
            p[i] = position;
        }
    }
    (values, positions)
}

/// Floats with many ties (small integers) and NaN.
fn tied_values(n: usize) -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(
        prop_oneof![4 => (-3i32..3).prop_map(f64::from), 1 => Just(f64::NAN)],
        n,
    )
}

/// A shape of 1 to 3 axes (none empty), an irregular chunking, values, an axis, a k and
/// a fan-in.
fn case() -> impl Strategy<Value = (ArrayD<f64>, Vec<Vec<usize>>, usize, isize, usize)> {
    proptest::collection::vec(1usize..7, 1..=3).prop_flat_map(|shape| {
        let n: usize = shape.iter().product();
        let chunks: Vec<_> = shape.iter().map(|&n| chunks_for(n)).collect();
        let ndim = shape.len();
        (Just(shape), chunks, tied_values(n), 0..ndim, 2usize..5).prop_flat_map(
            |(shape, chunks, values, axis, fan)| {
                let len = shape[axis] as isize;
                let k = prop_oneof![1..=len, -len..=-1];
                let dense = ArrayD::from_shape_vec(IxDyn(&shape), values).unwrap();
                (Just(dense), Just(chunks), Just(axis), k, Just(fan))
            },
        )
    })
}

fn same_bits(a: &ArrayD<f64>, b: &ArrayD<f64>) -> bool {
    a.shape() == b.shape()
        && a.iter()
            .zip(b.iter())
            .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

fn lazy(dense: &ArrayD<f64>, chunks: &[Vec<usize>]) -> Array<f64> {
    from_ndarray(dense, Chunks::Sizes(chunks.to_vec())).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn topk_and_argtopk_as_a_sort((dense, chunks, axis, k, fan) in case()) {
        let x = lazy(&dense, &chunks);
        let (values, positions) = dense_topk(&dense, k, axis);
        let got = x.topk_split_every(k, axis as isize, fan).unwrap().compute().unwrap();
        prop_assert!(same_bits(&got, &values), "{:?} vs {:?}", got, values);
        let got = x.argtopk_split_every(k, axis as isize, fan).unwrap().compute().unwrap();
        prop_assert_eq!(got, positions);
    }

    #[test]
    fn sort_and_argsort_as_a_stable_sort((dense, chunks, axis, _k, _fan) in case()) {
        let x = lazy(&dense, &chunks);
        let len = dense.shape()[axis] as isize;
        // The ascending order is topk(-len).
        let (values, positions) = dense_topk(&dense, -len, axis);
        let got = x.sort(axis as isize).unwrap().compute().unwrap();
        prop_assert!(same_bits(&got, &values), "{:?} vs {:?}", got, values);
        prop_assert_eq!(x.argsort(axis as isize).unwrap().compute().unwrap(), positions);
    }
}

#[test]
fn integers_and_negative_axes() {
    let dense = common::dense_small_i32(&[5, 12], 4);
    let x = from_ndarray(&dense, [2, 5]).unwrap();
    let got = x.topk(3, -1).unwrap().compute().unwrap();
    let (values, _) = dense_topk(&dense.mapv(f64::from), 3, 1);
    assert_eq!(got.mapv(f64::from), values);
}

#[test]
fn a_long_axis_combines_over_several_levels() {
    let dense = common::dense_f64(&[1000], 9);
    let x = from_ndarray(&dense, [7]).unwrap();
    let (values, positions) = dense_topk(&dense, -10, 0);
    assert_eq!(
        x.topk_split_every(-10, 0, 3).unwrap().compute().unwrap(),
        values
    );
    assert_eq!(x.argtopk(-10, 0).unwrap().compute().unwrap(), positions);
}

#[test]
fn bad_k_axis_and_fan_in_are_refused() {
    let x = chunkwise::arange::<f64>(0.0, 6.0, 1.0, [4]).unwrap();
    let invalid = |e: Error| matches!(e, Error::Build(BuildError::InvalidArgument { .. }));
    assert!(invalid(x.topk(0, 0).unwrap_err()));
    assert!(invalid(x.topk(7, 0).unwrap_err()));
    assert!(invalid(x.argtopk(-7, 0).unwrap_err()));
    assert!(invalid(x.topk_split_every(2, 0, 1).unwrap_err()));
    assert!(matches!(
        x.topk(1, 1).unwrap_err(),
        Error::Build(BuildError::AxisOutOfRange { .. })
    ));
    assert!(matches!(
        x.sort(-2).unwrap_err(),
        Error::Build(BuildError::AxisOutOfRange { .. })
    ));
}

#[test]
fn a_sort_whose_axis_does_not_fit_the_budget_is_refused_before_running() {
    let x = chunkwise::arange::<f64>(0.0, 100_000.0, 1.0, [1000]).unwrap();
    let small = Config::default().memory_budget(400_000);
    let e = x.sort(0).unwrap().compute_with(&small).unwrap_err();
    assert!(
        matches!(e, Error::Plan(PlanError::TaskOverBudget { .. })),
        "{e:?}"
    );
    // The top-k of the same array holds a tile and a few partials per task: it fits.
    let top = x.topk(3, 0).unwrap().compute_with(&small).unwrap();
    assert_eq!(
        top.into_raw_vec_and_offset().0,
        vec![99_999.0, 99_998.0, 99_997.0]
    );
}

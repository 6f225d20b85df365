//! Quantiles, percentiles and medians against NumPy's definitions written on sorted lanes
//! of the dense `ndarray`: random shapes, irregular chunkings, any set of axes (adjacent or
//! not), every method, NaN placements, keepdims.

#![allow(missing_docs)]

mod common;

use chunkwise::{BuildError, Chunks, Error, QuantileMethod, Reduction, from_ndarray};
use common::*;
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;

const METHODS: [QuantileMethod; 5] = [
    QuantileMethod::Linear,
    QuantileMethod::Lower,
    QuantileMethod::Higher,
    QuantileMethod::Nearest,
    QuantileMethod::Midpoint,
];

/// NumPy's quantile of `values` (sorted here), `None` for NaN handling done by the caller.
fn numpy_quantile(values: &[f64], q: f64, method: QuantileMethod) -> f64 {
    let mut s = values.to_vec();
    s.sort_by(f64::total_cmp);
    let h = (s.len() - 1) as f64 * q;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    let t = h - lo as f64;
    match method {
        QuantileMethod::Lower => s[lo],
        QuantileMethod::Higher => s[hi],
        QuantileMethod::Nearest => s[h.round_ties_even() as usize],
        QuantileMethod::Midpoint => (s[lo] + s[hi]) / 2.0,
        _ if s[lo] == s[hi] => s[lo],
        _ if t >= 0.5 => s[hi] - (s[hi] - s[lo]) * (1.0 - t),
        _ => s[lo] + (s[hi] - s[lo]) * t,
    }
}

/// The quantile of each lane of `a` over `axes` (a mask), with the kept axes in order.
fn dense(
    a: &ArrayD<f64>,
    axes: &[bool],
    q: f64,
    method: QuantileMethod,
    skip_nan: bool,
) -> ArrayD<f64> {
    let kept: Vec<usize> = (0..a.ndim()).filter(|&d| !axes[d]).collect();
    let out_shape: Vec<usize> = kept.iter().map(|&d| a.shape()[d]).collect();
    ArrayD::from_shape_fn(IxDyn(&out_shape), |idx| {
        let lane: Vec<f64> = a
            .indexed_iter()
            .filter(|(i, _)| kept.iter().enumerate().all(|(k, &d)| i[d] == idx[k]))
            .map(|(_, &v)| v)
            .collect();
        let has_nan = lane.iter().any(|v| v.is_nan());
        let lane: Vec<f64> = lane.into_iter().filter(|v| !v.is_nan()).collect();
        match (has_nan && !skip_nan) || lane.is_empty() {
            true => f64::NAN,
            false => numpy_quantile(&lane, q, method),
        }
    })
}

fn same(a: &ArrayD<f64>, b: &ArrayD<f64>) -> bool {
    a.shape() == b.shape()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-12 * (1.0 + y.abs()))
}

/// A shape, its chunking, the reduced axes, a seed, a quantile and a method's index.
type Case = (Vec<usize>, Vec<Vec<usize>>, Vec<bool>, u64, f64, usize);

fn case() -> impl Strategy<Value = Case> {
    proptest::collection::vec(1usize..7, 1..4).prop_flat_map(|shape| {
        let chunks: Vec<BoxedStrategy<Vec<usize>>> = shape.iter().map(|&n| chunks_for(n)).collect();
        let ndim = shape.len();
        (
            Just(shape),
            chunks,
            proptest::collection::vec(any::<bool>(), ndim),
            any::<u64>(),
            0.0..=1.0f64,
            0..5usize,
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn quantiles_equal_numpy((shape, chunks, mut axes, seed, q, m) in case()) {
        if !axes.iter().any(|&r| r) {
            axes[0] = true;
        }
        let method = METHODS[m];
        // Few distinct values (ties) and some NaN.
        let data = dense_f64(&shape, seed).mapv(|v| if v > 0.9 { f64::NAN } else { (v * 6.0).floor() });
        let x = from_ndarray(&data, Chunks::Sizes(chunks)).unwrap();
        let reduced: Vec<isize> = (0..shape.len()).filter(|&d| axes[d]).map(|d| d as isize).collect();
        let how = Reduction::axes(&reduced);
        prop_assert!(same(&x.quantile(q, &how, method).compute().unwrap(), &dense(&data, &axes, q, method, false)));
        prop_assert!(same(&x.nanquantile(q, &how, method).compute().unwrap(), &dense(&data, &axes, q, method, true)));
        // Several quantiles: a leading axis, each as alone.
        let both = x.nanquantiles(&[q, 1.0 - q], &how, method).compute().unwrap();
        prop_assert!(same(&both.index_axis(ndarray::Axis(0), 1).to_owned(), &dense(&data, &axes, 1.0 - q, method, true)));
        // keepdims keeps the reduced axes as length 1.
        let kept = x.median_with(&how.clone().keepdims(true));
        let expected: Vec<usize> = (0..shape.len()).map(|d| if axes[d] { 1 } else { shape[d] }).collect();
        prop_assert_eq!(kept.shape(), expected);
    }
}

#[test]
fn a_chunked_axis_is_made_whole_inside_the_plan() {
    let data = dense_f64(&[40, 6, 5], 4);
    let x = from_ndarray(&data, [7, 3, 5]).unwrap();
    let median = x.median_axis(0);
    let plan = median.explain().unwrap();
    assert!(plan.contains("rechunk"), "{plan}");
    let axes = [true, false, false];
    assert!(same(
        &median.compute().unwrap(),
        &dense(&data, &axes, 0.5, QuantileMethod::Linear, false)
    ));
    let p90 = x
        .percentile(90.0, &Reduction::all(), QuantileMethod::Higher)
        .compute_scalar()
        .unwrap();
    let all: Vec<f64> = data.iter().copied().collect();
    assert_eq!(p90, numpy_quantile(&all, 0.9, QuantileMethod::Higher));
    // Integers give floats, as NumPy's.
    let ints = chunkwise::arange::<i32>(0, 10, 1, [3]).unwrap();
    assert_eq!(ints.median().compute_scalar().unwrap(), 4.5);
}

#[test]
fn bad_quantiles_and_axes_are_errors() {
    let x = chunkwise::arange::<f64>(0.0, 10.0, 1.0, [4]).unwrap();
    let q = x.quantile(1.5, &Reduction::all(), QuantileMethod::Linear);
    assert!(matches!(
        q.check(),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
    assert!(matches!(
        x.median_axis(1).check(),
        Err(Error::Build(BuildError::AxisOutOfRange { .. }))
    ));
    let empty = chunkwise::zeros::<f64>(&[0, 3], [1, 3]).unwrap();
    assert!(matches!(
        empty.median_axis(0).check(),
        Err(Error::Build(BuildError::EmptyReduction { .. }))
    ));
}

#[test]
fn generated_inputs_are_computed_on_the_whole_lane_grid() {
    // Random numbers (and work on them) are made on the grid with whole lanes directly.
    let x = chunkwise::random::uniform::<f64>(8, 0.0, 1.0, &[30, 8, 9], [7, 3, 4]).unwrap();
    let y = &x * 2.0 + 1.0;
    let median = y.median_axis(0);
    let plan = median.explain().unwrap();
    assert!(!plan.contains("rechunk"), "{plan}");
    let values = y.compute().unwrap();
    let axes = [true, false, false];
    assert!(same(
        &median.compute().unwrap(),
        &dense(&values, &axes, 0.5, QuantileMethod::Linear, false)
    ));
}

#[test]
fn empty_kept_axes_give_empty_quantiles() {
    let x = chunkwise::zeros::<f64>(&[5, 0], [2, 2]).unwrap();
    assert_eq!(x.median_axis(0).compute().unwrap().shape(), &[0]);
    let q = x.quantiles(&[0.1, 0.9], &Reduction::axis(0), QuantileMethod::Lower);
    assert_eq!(q.compute().unwrap().shape(), &[2, 0]);
}

#[test]
fn zero_dimensional_arrays_are_their_own_quantiles() {
    let x = from_ndarray(&ndarray::arr0(2.5f64).into_dyn(), Vec::<usize>::new()).unwrap();
    for method in METHODS {
        let q = x.quantile(0.3, &Reduction::all(), method);
        assert_eq!(q.compute_scalar().unwrap(), 2.5, "{method:?}");
    }
    assert_eq!(x.median().compute_scalar().unwrap(), 2.5);
    let kept = x.quantiles(
        &[0.0, 1.0],
        &Reduction::all().keepdims(true),
        QuantileMethod::Linear,
    );
    assert_eq!(kept.compute().unwrap().as_slice().unwrap(), [2.5, 2.5]);
}

#[test]
fn midpoints_of_huge_values_do_not_overflow() {
    // NumPy: np.quantile([1e308, 1.5e308], 0.5, method="midpoint") == 1.25e308.
    let x = from_ndarray(&ndarray::arr1(&[1e308f64, 1.5e308]).into_dyn(), [1]).unwrap();
    let q = x.quantile(0.5, &Reduction::all(), QuantileMethod::Midpoint);
    assert_eq!(q.compute_scalar().unwrap(), 1.25e308);
}

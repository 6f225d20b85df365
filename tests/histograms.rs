//! `histogram`, `histogram_edges`, `histogram_weighted`, `histogramdd`, `histogram2d`,
//! `bincount` and `digitize` against dense oracles that compute NumPy's definitions by
//! counting (`#{x >= e_i} - #{x >= e_i+1}`, the last bin closed), over random shapes,
//! irregular chunkings, NaN, values on the edges and outside the range.

#![allow(missing_docs)]

mod common;

use chunkwise::{
    Array, Bins, BuildError, Chunks, Error, ExecError, from_ndarray, histogram2d, histogramdd,
    histogramdd_weighted,
};
use common::chunks_for;
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;

/// NumPy's `linspace(lo, hi, n + 1)`, the edges of `histogram(bins=n, range=(lo, hi))`.
fn numpy_edges(n: usize, lo: f64, hi: f64) -> Vec<f64> {
    let (lo, hi) = if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    };
    let step = (hi - lo) / n as f64;
    let mut e: Vec<f64> = (0..=n).map(|i| i as f64 * step + lo).collect();
    e[n] = hi;
    e
}

/// Whether `x` is counted in bin `i` of `edges` by NumPy's counting definition.
fn in_bin(edges: &[f64], i: usize, x: f64) -> bool {
    let n = edges.len() - 1;
    let above = x >= edges[i];
    let below_next = if i == n - 1 {
        x <= edges[n]
    } else {
        x < edges[i + 1]
    };
    above && below_next
}

/// Per bin of the grid of `edges` (C order), the sum of `weight(j)` over the points `j`
/// inside it.
fn dense_histogram(
    coords: &[Vec<f64>],
    edges: &[Vec<f64>],
    weight: impl Fn(usize) -> f64,
) -> ArrayD<f64> {
    let shape: Vec<usize> = edges.iter().map(|e| e.len() - 1).collect();
    let mut out = ArrayD::<f64>::zeros(IxDyn(&shape));
    for (index, v) in out.indexed_iter_mut() {
        for j in 0..coords[0].len() {
            if (0..coords.len()).all(|d| in_bin(&edges[d], index[d], coords[d][j])) {
                *v += weight(j);
            }
        }
    }
    out
}

fn flat(a: &ArrayD<f64>) -> Vec<f64> {
    a.iter().copied().collect()
}

/// A shape of 1 to 3 small axes and an irregular chunking of it.
fn shape_and_chunks() -> impl Strategy<Value = (Vec<usize>, Vec<Vec<usize>>)> {
    proptest::collection::vec(0usize..7, 1..=3).prop_flat_map(|shape| {
        let chunks: Vec<_> = shape.iter().map(|&n| chunks_for(n)).collect();
        (Just(shape), chunks)
    })
}

/// Values that hit the edges of `edges`, NaN, infinities, and points inside and outside.
fn value_among(edges: Vec<f64>) -> impl Strategy<Value = f64> {
    let n = edges.len();
    prop_oneof![
        (0..n).prop_map(move |i| edges[i]),
        -3.0f64..3.0,
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
    ]
}

fn values_for(shape: &[usize], edges: Vec<f64>) -> impl Strategy<Value = ArrayD<f64>> {
    let shape = shape.to_vec();
    let n: usize = shape.iter().product();
    proptest::collection::vec(value_among(edges), n)
        .prop_map(move |v| ArrayD::from_shape_vec(IxDyn(&shape), v).unwrap())
}

fn lazy(dense: &ArrayD<f64>, chunks: &[Vec<usize>]) -> Array<f64> {
    from_ndarray(dense, Chunks::Sizes(chunks.to_vec())).unwrap()
}

/// A range (lo <= hi, sometimes equal) and a count of bins.
fn uniform_bins() -> impl Strategy<Value = (usize, f64, f64)> {
    (1usize..6, -2.0f64..2.0, prop_oneof![Just(0.0), 0.1f64..3.0])
        .prop_map(|(n, lo, w)| (n, lo, lo + w))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn histogram_counts_as_numpy(
        ((shape, chunks), (n, lo, hi)) in (shape_and_chunks(), uniform_bins()),
        seed in any::<u64>(),
    ) {
        let edges = numpy_edges(n, lo, hi);
        let dense = draw(values_for(&shape, edges.clone()), seed);
        let (counts, got_edges) = lazy(&dense, &chunks).histogram(n, (lo, hi)).unwrap();
        prop_assert_eq!(&got_edges, &edges);
        let expected = dense_histogram(&[dense.iter().copied().collect()], &[edges], |_| 1.0);
        let counts: Vec<f64> = counts.compute().unwrap().iter().map(|&c| c as f64).collect();
        prop_assert_eq!(counts, flat(&expected));
    }

    #[test]
    fn histogram_on_edges_with_weights_and_density(
        (shape, chunks) in shape_and_chunks(),
        mut edges in proptest::collection::vec(-2.0f64..2.0, 2..6),
        repeat in any::<bool>(),
        seed in any::<u64>(),
        density in any::<bool>(),
    ) {
        edges.sort_by(f64::total_cmp);
        if repeat {
            edges.insert(1, edges[1]);
        }
        let dense = draw(values_for(&shape, edges.clone()), seed);
        let w = common::dense_f64(&shape, seed);
        let x = lazy(&dense, &chunks);
        let (counts, _) = x.histogram_edges(&edges).unwrap();
        let xs: Vec<f64> = dense.iter().copied().collect();
        let expected = dense_histogram(std::slice::from_ref(&xs), &[edges.clone()], |_| 1.0);
        let counts: Vec<f64> = counts.compute().unwrap().iter().map(|&c| c as f64).collect();
        prop_assert_eq!(counts, flat(&expected));
        // Weights in their own (regular) chunks.
        let weights = from_ndarray(&w, Chunks::Shape(vec![2; shape.len()])).unwrap();
        let (sums, _) = x.histogram_weighted(&Bins::edges(edges.clone()), Some(&weights), density).unwrap();
        let ws: Vec<f64> = w.iter().copied().collect();
        let mut expected = dense_histogram(&[xs], &[edges.clone()], |j| ws[j]);
        if density {
            let total: f64 = expected.sum();
            for (i, v) in expected.iter_mut().enumerate() {
                *v = *v / total / (edges[i + 1] - edges[i]);
            }
        }
        let sums = sums.compute().unwrap();
        for (g, e) in sums.iter().zip(expected.iter()) {
            prop_assert!(g.to_bits() == e.to_bits() || (g - e).abs() <= 1e-9 * e.abs().max(1.0),
                "{} vs {}", g, e);
        }
    }

    #[test]
    fn histogramdd_counts_points_in_boxes(
        (shape, chunks) in shape_and_chunks(),
        dims in 1usize..=3,
        bins in proptest::collection::vec(uniform_bins(), 3),
        seed in any::<u64>(),
        weighted in any::<bool>(),
    ) {
        let edges: Vec<Vec<f64>> = bins[..dims].iter().map(|&(n, lo, hi)| numpy_edges(n, lo, hi)).collect();
        let dense: Vec<ArrayD<f64>> = edges
            .iter()
            .map(|e| draw(values_for(&shape, e.clone()), seed ^ e.len() as u64))
            .collect();
        // The first sample in the random chunks, the others in one chunk each.
        let samples: Vec<Array<f64>> = dense
            .iter()
            .enumerate()
            .map(|(d, a)| match d {
                0 => lazy(a, &chunks),
                _ => from_ndarray(a, Chunks::Sizes(shape.iter().map(|&n| vec![n]).collect())).unwrap(),
            })
            .collect();
        let refs: Vec<&Array<f64>> = samples.iter().collect();
        let specs: Vec<Bins> = bins[..dims].iter().map(|&(n, lo, hi)| Bins::count(n, (lo, hi))).collect();
        let coords: Vec<Vec<f64>> = dense.iter().map(|a| a.iter().copied().collect()).collect();
        if weighted {
            let w = common::dense_f64(&shape, seed);
            let ws: Vec<f64> = w.iter().copied().collect();
            let weights = lazy(&w, &chunks);
            let (sums, got) = histogramdd_weighted(&refs, &specs, Some(&weights), false).unwrap();
            prop_assert_eq!(&got, &edges);
            let expected = dense_histogram(&coords, &edges, |j| ws[j]);
            for (g, e) in sums.compute().unwrap().iter().zip(expected.iter()) {
                prop_assert!((g - e).abs() <= 1e-9 * e.abs().max(1.0), "{} vs {}", g, e);
            }
        } else {
            let (counts, _) = histogramdd(&refs, &specs).unwrap();
            let counts = counts.compute().unwrap();
            prop_assert_eq!(counts.shape(), &edges.iter().map(|e| e.len() - 1).collect::<Vec<_>>()[..]);
            let expected = dense_histogram(&coords, &edges, |_| 1.0);
            prop_assert_eq!(counts.iter().map(|&c| c as f64).collect::<Vec<_>>(), flat(&expected));
        }
    }

    #[test]
    fn bincount_counts_each_value(
        values in proptest::collection::vec(0u32..9, 0..40),
        extra in 0usize..3,
        seed in any::<u64>(),
    ) {
        let n = values.len();
        let minlength = values.iter().max().map_or(1, |&m| m as usize + 1) + extra;
        let chunks = draw(chunks_for(n), seed);
        let x = from_ndarray(&ndarray::Array1::from(values.clone()), Chunks::Sizes(vec![chunks])).unwrap();
        let w = common::dense_f64(&[n], seed);
        let mut counts = vec![0u64; minlength];
        let mut sums = vec![0.0f64; minlength];
        for (j, &v) in values.iter().enumerate() {
            counts[v as usize] += 1;
            sums[v as usize] += w[j];
        }
        prop_assert_eq!(x.bincount(minlength).unwrap().compute().unwrap().into_raw_vec_and_offset().0, counts);
        let weights = from_ndarray(&w, [3]).unwrap();
        let got = x.bincount_weighted(&weights, minlength).unwrap().compute().unwrap();
        for (g, e) in got.iter().zip(&sums) {
            prop_assert!((g - e).abs() <= 1e-12 * e.abs().max(1.0));
        }
    }

    #[test]
    fn digitize_counts_edges_below(
        mut bins in proptest::collection::vec(-2.0f64..2.0, 0..6),
        decreasing in any::<bool>(),
        right in any::<bool>(),
        seed in any::<u64>(),
        (shape, chunks) in shape_and_chunks(),
    ) {
        bins.sort_by(f64::total_cmp);
        if decreasing {
            bins.reverse();
        }
        // NumPy reads bins that are both (equal, or fewer than two) as increasing.
        let decreasing = bins.windows(2).any(|w| w[0] > w[1]);
        let mut all = bins.clone();
        all.push(0.5);
        let dense = draw(values_for(&shape, all), seed);
        let got = lazy(&dense, &chunks).digitize(&bins, right).unwrap().compute().unwrap();
        // NumPy: i with bins[i-1] <= x < bins[i] (increasing), bins[i-1] > x >= bins[i]
        // (decreasing); `right` moves the equality to the other side.
        let expected = dense.mapv(|x| {
            let below = |b: f64| match (decreasing, right) {
                (false, false) => b <= x,
                (false, true) => b < x,
                (true, false) => b > x,
                (true, true) => b >= x,
            };
            let below = |b: f64| if x.is_nan() { !decreasing } else { below(b) };
            bins.iter().filter(|&&b| below(b)).count() as i64
        });
        prop_assert_eq!(got, expected);
    }
}

/// A value of `strategy` drawn from `seed`: data whose strategy depends on other drawn
/// values (the edges a value may hit).
fn draw<S: Strategy>(strategy: S, seed: u64) -> S::Value {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(Default::default(), rng);
    strategy.new_tree(&mut runner).unwrap().current()
}

fn invalid(e: Error) -> bool {
    matches!(e, Error::Build(BuildError::InvalidArgument { .. }))
}

#[test]
fn bad_bins_are_invalid_arguments() {
    let x = chunkwise::arange::<f64>(0.0, 10.0, 1.0, [4]).unwrap();
    assert!(invalid(x.histogram(0, (0.0, 1.0)).unwrap_err()));
    assert!(invalid(x.histogram(3, (1.0, 0.0)).unwrap_err()));
    assert!(invalid(x.histogram(3, (0.0, f64::INFINITY)).unwrap_err()));
    assert!(invalid(x.histogram(3, (f64::NAN, 1.0)).unwrap_err()));
    assert!(invalid(x.histogram_edges(&[0.0, 2.0, 1.0]).unwrap_err()));
    assert!(invalid(x.histogram_edges(&[0.0]).unwrap_err()));
    assert!(invalid(x.histogram_edges(&[0.0, f64::NAN]).unwrap_err()));
    assert!(invalid(x.digitize(&[0.0, 2.0, 1.0], false).unwrap_err()));
    assert!(invalid(x.digitize(&[0.0, f64::NAN], false).unwrap_err()));
    assert!(invalid(
        histogramdd(&[&x, &x], &[Bins::count(2, (0.0, 1.0))]).unwrap_err()
    ));
    assert!(invalid(histogramdd::<f64>(&[], &[]).unwrap_err()));
    // As NumPy's "Too many bins for data range": a width that overflows f64, and a range
    // too narrow for the count (edges would repeat, also after lo == hi is widened by 0.5).
    assert!(invalid(x.histogram(4, (-1.7e308, 1.7e308)).unwrap_err()));
    assert!(invalid(x.histogram(5, (1.0, 1.0 + 4.4e-16)).unwrap_err()));
    assert!(invalid(x.histogram(3, (1e17, 1e17)).unwrap_err()));
    // Edges that would not fit in memory: refused, not an aborted allocation.
    assert!(invalid(x.histogram(1 << 44, (0.0, 1.0)).unwrap_err()));
    // A range nearly as wide as f64 allows: NumPy's edges, and the counts they give.
    let wide = chunkwise::from_ndarray(&ndarray::arr1(&[-8e307, 0.0, 1.0, 8e307]).into_dyn(), [2])
        .unwrap();
    let (counts, edges) = wide.histogram(4, (-8.5e307, 8.5e307)).unwrap();
    assert_eq!(edges, numpy_edges(4, -8.5e307, 8.5e307));
    assert_eq!(counts.compute().unwrap().as_slice().unwrap(), [1, 0, 2, 1]);
}

#[test]
fn samples_and_weights_of_other_shapes_are_refused() {
    let x = chunkwise::arange::<f64>(0.0, 10.0, 1.0, [4]).unwrap();
    let y = chunkwise::zeros::<f64>(&[9], [4]).unwrap();
    let bins = Bins::count(2, (0.0, 1.0));
    let e = histogram2d(&x, &y, &bins, &bins).unwrap_err();
    assert!(
        matches!(e, Error::Build(BuildError::ShapeMismatch { .. })),
        "{e:?}"
    );
    let e = x.histogram_weighted(&bins, Some(&y), false).unwrap_err();
    assert!(
        matches!(e, Error::Build(BuildError::ShapeMismatch { .. })),
        "{e:?}"
    );
}

#[test]
fn bincount_refuses_what_it_cannot_count() {
    let floats = chunkwise::arange::<f64>(0.0, 4.0, 1.0, [2]).unwrap();
    assert!(invalid(floats.bincount(4).unwrap_err()));
    let grid = chunkwise::zeros::<i32>(&[2, 2], [1, 1]).unwrap();
    assert!(invalid(grid.bincount(4).unwrap_err()));
    let x = chunkwise::arange::<i32>(-1, 3, 1, [2]).unwrap();
    assert!(invalid(x.bincount(0).unwrap_err()));
    let e = x.bincount(5).unwrap().compute().unwrap_err();
    assert!(
        matches!(e, Error::Exec(ExecError::BinOutOfRange { value, bins: 5 }) if value == -1.0),
        "{e:?}"
    );
    let y = chunkwise::arange::<u16>(0, 8, 1, [3]).unwrap();
    let e = y.bincount(7).unwrap().compute().unwrap_err();
    assert!(
        matches!(e, Error::Exec(ExecError::BinOutOfRange { value, bins: 7 }) if value == 7.0),
        "{e:?}"
    );
}

#[test]
fn histogram2d_puts_x_along_axis_zero() {
    let x = from_ndarray(&ndarray::arr1(&[0.1, 0.9, 0.9, 0.4]), [3]).unwrap();
    let y = from_ndarray(&ndarray::arr1(&[0.9, 0.1, 0.2, 0.6]), [1]).unwrap();
    let bins = Bins::count(2, (0.0, 1.0));
    let (h, xe, ye) = histogram2d(&x, &y, &bins, &bins).unwrap();
    assert_eq!((xe.clone(), ye), (vec![0.0, 0.5, 1.0], xe));
    let dense = dense_histogram(
        &[vec![0.1, 0.9, 0.9, 0.4], vec![0.9, 0.1, 0.2, 0.6]],
        &[vec![0.0, 0.5, 1.0], vec![0.0, 0.5, 1.0]],
        |_| 1.0,
    );
    assert_eq!(h.compute().unwrap().mapv(|c| c as f64), dense);
}

#[test]
fn many_tiles_combine_in_a_tree() {
    // 40 tiles with split_every 16: two levels of combines.
    let dense = common::dense_f64_in(&[400], 3, 0.0, 1.0);
    let x = from_ndarray(&dense, [10]).unwrap();
    let (counts, edges) = x.histogram(7, (0.0, 1.0)).unwrap();
    let expected = dense_histogram(&[dense.iter().copied().collect()], &[edges], |_| 1.0);
    assert_eq!(counts.compute().unwrap().mapv(|c| c as f64), expected);
}

#[test]
fn a_0d_array_is_one_value() {
    let x = from_ndarray(&ndarray::arr0(0.75), Chunks::Shape(vec![])).unwrap();
    let (counts, _) = x.histogram(2, (0.0, 1.0)).unwrap();
    assert_eq!(
        counts.compute().unwrap().into_raw_vec_and_offset().0,
        vec![0, 1]
    );
    let bin = x.digitize(&[0.5], false).unwrap().compute().unwrap();
    assert_eq!(bin.into_raw_vec_and_offset().0, vec![1]);
}

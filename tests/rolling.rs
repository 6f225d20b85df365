//! Rolling-window reductions against a dense oracle: every window of the dense array
//! reduced by a naive loop (f64 sums, two-pass variances, NaN-propagating extremes), as
//! NumPy's `sliding_window_view(x, w, axis).<op>(axis=-1)`. Random shapes, irregular
//! chunkings with one-element chunks, windows 1, 2, chunk - 1, chunk, 3x chunk and the whole
//! axis, every op, f32 and f64, NaN and infinite inputs, integer extremes, the chunks of the
//! result, fusion after it, and the errors for bad windows and axes.

#![allow(missing_docs)]

mod common;

use chunkwise::{Array, BuildError, Chunks, Error, FloatElement, Numeric, from_ndarray};
use common::*;
use ndarray::{ArrayD, Axis, Dimension, IxDyn, Slice};
use proptest::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Sum,
    Mean,
    Min,
    Max,
    Var(f64),
    Std(f64),
}

const OPS: [Op; 8] = [
    Op::Sum,
    Op::Mean,
    Op::Min,
    Op::Max,
    Op::Var(0.0),
    Op::Var(1.0),
    Op::Std(0.0),
    Op::Std(2.0),
];

fn lazy<T: FloatElement>(
    x: &Array<T>,
    w: usize,
    axis: isize,
    op: Op,
) -> chunkwise::Result<Array<T>> {
    let r = x.rolling(w, axis);
    match op {
        Op::Sum => r.sum(),
        Op::Mean => r.mean(),
        Op::Min => r.min(),
        Op::Max => r.max(),
        Op::Var(ddof) => r.var(ddof),
        Op::Std(ddof) => r.std(ddof),
    }
}

/// One window reduced naively in f64, and a bound on the rounding error the chunked result
/// may have for elements of `eps` relative precision.
fn reduce_window(win: &[f64], op: Op, eps: f64) -> (f64, f64) {
    let n = win.len() as f64;
    let sum: f64 = win.iter().sum();
    let abs: f64 = win.iter().map(|v| v.abs()).sum();
    let mean = sum / n;
    let m2: f64 = win.iter().map(|v| (v - mean) * (v - mean)).sum();
    let big = win.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let var = |ddof: f64| {
        let dof = n - ddof;
        let v = m2 / dof.max(0.0);
        (v, 64.0 * eps * n * big * big / dof.max(1.0))
    };
    let extreme = |max: bool| {
        if win.iter().any(|v| v.is_nan()) {
            return f64::NAN;
        }
        win.iter().copied().fold(
            if max {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            },
            |a, v| if max { a.max(v) } else { a.min(v) },
        )
    };
    match op {
        Op::Sum => (sum, 4.0 * eps * abs),
        Op::Mean => (mean, 4.0 * eps * abs / n),
        Op::Min => (extreme(false), 0.0),
        Op::Max => (extreme(true), 0.0),
        Op::Var(ddof) => var(ddof),
        Op::Std(ddof) => {
            let (v, tol) = var(ddof);
            (v.sqrt(), tol.sqrt() + 4.0 * eps * v.sqrt())
        }
    }
}

/// The dense oracle along `axis`: values and per-element tolerances.
fn oracle(
    dense: &ArrayD<f64>,
    w: usize,
    axis: usize,
    op: Op,
    eps: f64,
) -> (ArrayD<f64>, ArrayD<f64>) {
    let n = dense.shape()[axis];
    let mut shape = dense.shape().to_vec();
    shape[axis] = n + 1 - w;
    let mut values = ArrayD::zeros(IxDyn(&shape));
    let mut tols = ArrayD::zeros(IxDyn(&shape));
    for i in 0..n + 1 - w {
        let windows = dense.slice_axis(Axis(axis), Slice::from(i..i + w));
        let mut v = values.index_axis_mut(Axis(axis), i);
        let mut t = tols.index_axis_mut(Axis(axis), i);
        for ((lane, v), t) in windows
            .lanes(Axis(axis))
            .into_iter()
            .zip(v.iter_mut())
            .zip(t.iter_mut())
        {
            let win: Vec<f64> = lane.iter().copied().collect();
            (*v, *t) = reduce_window(&win, op, eps);
        }
    }
    (values, tols)
}

/// Random positive chunk lengths adding up to `n`, one-element chunks frequent.
fn random_chunks(g: &mut Lcg, n: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut left = n;
    while left > 0 {
        let c = match g.below(3) {
            0 => 1,
            _ => g.int(1, 6) as usize,
        }
        .min(left);
        out.push(c);
        left -= c;
    }
    out
}

/// `n` values with NaN and infinities sprinkled in when `special`.
fn values(g: &mut Lcg, shape: &[usize], special: bool) -> ArrayD<f64> {
    ArrayD::from_shape_simple_fn(IxDyn(shape), || match g.below(25) {
        0 if special => f64::NAN,
        1 if special => f64::INFINITY,
        2 if special => f64::NEG_INFINITY,
        3 => 4.0,
        _ => g.range(-10.0, 10.0),
    })
}

/// The windows to try along an axis of `n` elements chunked as `sizes`.
fn windows(n: usize, sizes: &[usize]) -> Vec<usize> {
    let chunk = sizes.iter().copied().max().unwrap_or(1);
    let mut out: Vec<usize> = [1, 2, chunk.saturating_sub(1), chunk, 3 * chunk, n]
        .into_iter()
        .filter(|&w| w >= 1 && w <= n)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn check<T: FloatElement>(
    dense: &ArrayD<f64>,
    chunks: &[Vec<usize>],
    axis: isize,
    w: usize,
    op: Op,
) {
    let eps = f64::powi(2.0, -(T::MANTISSA_DIGITS as i32));
    let typed = dense.mapv(|v| T::from_f64(v));
    let x = from_ndarray(&typed, Chunks::Sizes(chunks.to_vec())).unwrap();
    let ax = axis.rem_euclid(dense.ndim() as isize) as usize;
    let got = lazy(&x, w, axis, op).unwrap();
    // The result's chunks: the input's along the axis up to the last window's start, the
    // last one shortened, none empty; the other axes unchanged.
    let m = dense.shape()[ax] + 1 - w;
    let got_chunks = got.chunks().chunks();
    assert_eq!(got_chunks[ax].iter().sum::<usize>(), m);
    assert!(got_chunks[ax].iter().all(|&c| c > 0), "{got_chunks:?}");
    let mut start = 0;
    for (k, &c) in got_chunks[ax].iter().enumerate() {
        let last = k + 1 == got_chunks[ax].len();
        assert_eq!(
            c,
            if last { m - start } else { chunks[ax][k] },
            "{got_chunks:?} from {chunks:?}"
        );
        start += c;
    }
    for (a, c) in got_chunks.iter().enumerate() {
        if a != ax {
            assert_eq!(c, &chunks[a]);
        }
    }
    let got = got.compute().unwrap().mapv(|v| <T as Numeric>::as_f64(v));
    let as_t = typed.mapv(|v| <T as Numeric>::as_f64(v));
    // Sums and moments are computed in f64 whatever T, then rounded to T once.
    let (expected, tol) = oracle(&as_t, w, ax, op, f64::EPSILON);
    let tol = tol + expected.mapv(|e| 2.0 * eps * e.abs());
    let ctx = format!(
        "{op:?} w {w} axis {axis} shape {:?} chunks {chunks:?} ({})",
        dense.shape(),
        T::DTYPE
    );
    assert_eq!(got.shape(), expected.shape(), "{ctx}");
    for (((idx, &a), &e), &t) in got.indexed_iter().zip(&expected).zip(&tol) {
        let ok = if a.is_nan() || e.is_nan() {
            a.is_nan() && e.is_nan()
        } else {
            a == e || (a - e).abs() <= t
        };
        assert!(
            ok,
            "{ctx} at {:?}: got {a:e}, expected {e:e}, tolerance {t:e}",
            idx.slice()
        );
    }
}

#[test]
fn every_op_matches_the_dense_windows_on_random_shapes_and_chunks() {
    let mut g = Lcg::new(14);
    for case in 0..24 {
        let nd = 1 + case % 3;
        let shape: Vec<usize> = (0..nd)
            .map(|k| {
                if k == 0 {
                    g.int(1, 16) as usize
                } else {
                    g.int(1, 5) as usize
                }
            })
            .collect();
        let chunks: Vec<Vec<usize>> = shape.iter().map(|&n| random_chunks(&mut g, n)).collect();
        let dense = values(&mut g, &shape, case % 3 == 1);
        let axis = g.below(nd as u64) as usize;
        // Negative axes too.
        let axis_arg = if case % 2 == 0 {
            axis as isize
        } else {
            axis as isize - nd as isize
        };
        for w in windows(shape[axis], &chunks[axis]) {
            for op in OPS {
                check::<f64>(&dense, &chunks, axis_arg, w, op);
                check::<f32>(&dense, &chunks, axis_arg, w, op);
            }
        }
    }
}

#[test]
fn regular_chunks_with_windows_around_the_chunk_length() {
    let dense = dense_f64(&[23, 3], 5);
    for c in [1, 4, 5] {
        let chunks = vec![
            std::iter::repeat_n(c, 23 / c)
                .chain((23 % c > 0).then_some(23 % c))
                .collect::<Vec<_>>(),
            vec![2, 1],
        ];
        for w in [1, 2, c.saturating_sub(1).max(1), c, c + 1, 3 * c, 23] {
            for op in OPS {
                check::<f64>(&dense, &chunks, 0, w, op);
            }
        }
    }
}

#[test]
fn nan_propagates_as_numpy_does() {
    // np.lib.stride_tricks.sliding_window_view([1, nan, 2, 3, 4, 5], 3).<op>(axis=-1)
    let x = from_ndarray(
        &ndarray::arr1(&[1.0, f64::NAN, 2.0, 3.0, 4.0, 5.0]).into_dyn(),
        [1],
    )
    .unwrap();
    for op in OPS {
        let got = lazy(&x, 3, 0, op).unwrap().compute().unwrap();
        let v = got.as_slice().unwrap();
        assert!(v[0].is_nan() && v[1].is_nan(), "{op:?}: {v:?}");
        assert!(v[2..].iter().all(|v| !v.is_nan()), "{op:?}: {v:?}");
    }
    // An infinity: sums and means are it, variances NaN; gone from the window, gone.
    let x = from_ndarray(
        &ndarray::arr1(&[f64::INFINITY, 1.0, 2.0, 3.0]).into_dyn(),
        [2],
    )
    .unwrap();
    let sums = x.rolling(2, 0).sum().unwrap().compute().unwrap();
    assert_eq!(sums.as_slice().unwrap(), [f64::INFINITY, 3.0, 5.0]);
    let var = x.rolling(2, 0).var(0.0).unwrap().compute().unwrap();
    let v = var.as_slice().unwrap();
    assert!(v[0].is_nan() && v[1..] == [0.25, 0.25], "{v:?}");
}

#[test]
fn a_window_of_no_more_than_ddof_elements_divides_by_zero_as_var_does() {
    // Windows [1, 2], [2, 4], [4, 4]: with ddof 2 (or more), NumPy divides by
    // max(2 - ddof, 0) = 0, giving an infinity, or NaN where the window is one value.
    let values = [1.0f64, 2.0, 4.0, 4.0];
    let x = from_ndarray(&ndarray::arr1(&values).into_dyn(), [3]).unwrap();
    for ddof in [2.0, 3.0] {
        let var = x.rolling(2, 0).var(ddof).unwrap().compute().unwrap();
        let std = x.rolling(2, 0).std(ddof).unwrap().compute().unwrap();
        for (start, (&v, &s)) in var.iter().zip(&std).enumerate() {
            let window =
                from_ndarray(&ndarray::arr1(&values[start..start + 2]).into_dyn(), [2]).unwrap();
            let whole: f64 = window.var(ddof).compute_scalar().unwrap();
            let constant = values[start] == values[start + 1];
            assert_eq!(v.is_nan(), constant, "window {start}: {v}");
            assert_eq!(whole.is_nan(), constant, "window {start}: {whole}");
            if !constant {
                assert_eq!((v, s, whole), (f64::INFINITY, f64::INFINITY, f64::INFINITY));
            }
        }
    }
}

#[test]
fn integer_extremes_are_exact() {
    let mut g = Lcg::new(3);
    for _ in 0..10 {
        let n = g.int(1, 30) as usize;
        let dense = dense_small_i32(&[n, 2], g.next_u64());
        let chunks = vec![random_chunks(&mut g, n), vec![1, 1]];
        let x = from_ndarray(&dense, Chunks::Sizes(chunks.clone())).unwrap();
        for w in windows(n, &chunks[0]) {
            let min = x.rolling(w, 0).min().unwrap().compute().unwrap();
            let max = x.rolling(w, -2).max().unwrap().compute().unwrap();
            for i in 0..n + 1 - w {
                for j in 0..2 {
                    let win = dense.slice(ndarray::s![i..i + w, j]);
                    assert_eq!(min[[i, j]], *win.iter().min().unwrap());
                    assert_eq!(max[[i, j]], *win.iter().max().unwrap());
                }
            }
        }
    }
}

#[test]
fn sums_stay_accurate_along_long_axes() {
    // A large offset, then small values: the running sums start over every window, so the
    // windows after the offset has left sum as exactly as a fresh sum does.
    let n = 4000;
    let mut v = vec![1e15; 8];
    v.extend((0..n - 8).map(|i| (i % 7) as f64 * 0.125));
    let x = from_ndarray(&ndarray::Array1::from(v.clone()).into_dyn(), [1000]).unwrap();
    let sums = x.rolling(5, 0).sum().unwrap().compute().unwrap();
    for i in 8..n - 4 {
        let e: f64 = v[i..i + 5].iter().sum();
        assert_eq!(sums[[i]], e, "at {i}");
    }
    let var = x.rolling(5, 0).var(0.0).unwrap().compute().unwrap();
    let (expected, tol) = oracle(
        &ndarray::Array1::from(v).into_dyn(),
        5,
        0,
        Op::Var(0.0),
        f64::EPSILON,
    );
    for i in 8..n - 4 {
        assert!(
            (var[[i]] - expected[[i]]).abs() <= tol[[i]],
            "at {i}: {} vs {}",
            var[[i]],
            expected[[i]]
        );
    }
}

#[test]
fn elementwise_work_fuses_after_a_rolling_reduction() {
    let dense = dense_f64(&[20, 3], 8);
    let x = from_ndarray(&dense, [6, 3]).unwrap();
    let m = x.rolling(4, 0).mean().unwrap();
    let total = ((&m * 2.0) + 1.0).sum();
    let plan = total.explain().unwrap();
    assert!(plan.contains("rolling mean"), "{plan}");
    assert!(!plan.contains("Elemwise"), "{plan}");
    let (expected, _) = oracle(&dense, 4, 0, Op::Mean, f64::EPSILON);
    let expected: f64 = expected.iter().map(|v| v * 2.0 + 1.0).sum();
    let got = total.compute_scalar().unwrap();
    assert!(close(got, expected, 1e-12), "{got} vs {expected}");
    // A window past several chunks: one node on the source, no copy of the array (the
    // blocks past the last window are read as halo only).
    let max = x.rolling(17, 0).max().unwrap();
    assert_eq!(max.chunks().chunks(), vec![vec![4], vec![3]]);
    let plan = max.explain().unwrap();
    assert!(plan.contains("Blockwise rolling max"), "{plan}");
    assert!(!plan.contains("rechunk"), "{plan}");
}

#[test]
fn a_block_reads_only_the_tiles_its_windows_touch() {
    use std::sync::atomic::Ordering;
    // 40 tiles of 5; windows of 12 starting in 20..25 read elements 20..36: tiles 4..=7.
    let (x, calls, dense) = counting_source(&[200], &[5]);
    let max = x.rolling(12, 0).max().unwrap();
    let got = max.slice(ndarray::s![20..25]).unwrap().compute().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    let (expected, _) = oracle(&dense, 12, 0, Op::Max, 0.0);
    assert_eq!(
        got,
        expected.slice(ndarray::s![20..25]).to_owned().into_dyn()
    );
}

fn invalid_argument(err: Error) -> String {
    match err {
        Error::Build(BuildError::InvalidArgument { op, reason }) => format!("{op}: {reason}"),
        other => panic!("expected an invalid argument, got {other:?}"),
    }
}

#[test]
fn bad_windows_and_axes_are_build_errors() {
    let x = from_ndarray(&dense_f64(&[5, 3], 1), [2, 3]).unwrap();
    let reason = invalid_argument(x.rolling(0, 0).sum().unwrap_err());
    assert!(
        reason.contains("rolling sum") && reason.contains("window of 0"),
        "{reason}"
    );
    let reason = invalid_argument(x.rolling(6, 0).max().unwrap_err());
    assert!(reason.contains("axis 0 of length 5"), "{reason}");
    let reason = invalid_argument(x.rolling(4, -1).var(1.0).unwrap_err());
    assert!(reason.contains("axis 1 of length 3"), "{reason}");
    for axis in [2, -3] {
        assert!(matches!(
            x.rolling(1, axis).mean().unwrap_err(),
            Error::Build(BuildError::AxisOutOfRange { .. })
        ));
    }
    let scalar = from_ndarray(&ndarray::arr0(1.0).into_dyn(), Chunks::Shape(vec![])).unwrap();
    assert!(scalar.rolling(1, 0).std(0.0).is_err());
    let empty = from_ndarray(&ArrayD::<f64>::zeros(IxDyn(&[0])), [3]).unwrap();
    assert!(empty.rolling(1, 0).min().is_err());
    // A failed input reports its own error.
    let bad = &x + &from_ndarray(&dense_f64(&[4], 1), [4]).unwrap();
    assert!(matches!(
        bad.rolling(1, 0).sum().unwrap_err(),
        Error::Build(BuildError::Broadcast { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_window_on_any_chunking(
        (n, cuts, w) in (1usize..30).prop_flat_map(|n| {
            (Just(n), proptest::collection::vec(proptest::bool::weighted(0.4), n - 1), 1..=n)
        }),
        seed in 0u64..1000,
        op in 0usize..OPS.len(),
    ) {
        let mut sizes = vec![1];
        for cut in cuts {
            if cut {
                sizes.push(1);
            } else {
                *sizes.last_mut().unwrap() += 1;
            }
        }
        let dense = dense_f64(&[n], seed);
        check::<f64>(&dense, &[sizes], 0, w, OPS[op]);
    }
}

#[test]
fn an_empty_other_axis_stays_empty() {
    let x = from_ndarray(&ArrayD::<f64>::zeros(IxDyn(&[0, 5])), [2, 2]).unwrap();
    for op in OPS {
        let got = lazy(&x, 3, 1, op).unwrap();
        assert_eq!(got.shape(), vec![0, 3]);
        assert_eq!(got.compute().unwrap().shape(), &[0, 3]);
    }
}

//! Reductions against dense computations of the same thing, over every axis set, with and
//! without keepdims, with several tree fan-ins, on regular and irregular chunks.

#![allow(missing_docs)]

mod common;

use chunkwise::{Array, BuildError, Chunks, Config, Element, Error, Reduction, from_ndarray};
use common::*;
use ndarray::{ArrayD, IxDyn, arr1, arr2};

fn arr<T: Element>(dense: &ArrayD<T>, chunks: &Chunks) -> Array<T> {
    from_ndarray(dense, chunks.clone()).unwrap()
}

/// Neumaier-compensated f64 sum and the sum of magnitudes (the dense reference).
fn exact_sum(xs: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let (mut s, mut c, mut abs) = (0.0f64, 0.0f64, 0.0f64);
    for x in xs {
        let t = s + x;
        if s.abs() >= x.abs() {
            c += (s - t) + x;
        } else {
            c += (x - t) + s;
        }
        s = t;
        abs += x.abs();
    }
    (s + c, abs)
}

/// Tolerance of a sum of `n` values: a few ulps times log2(n), relative to the sum of |x|.
fn sum_tol(n: usize, abs: f64) -> f64 {
    4.0 * f64::EPSILON * ((n as f64 + 2.0).log2()) * abs
}

fn dense_var(xs: &[f64], ddof: f64) -> f64 {
    let n = xs.len() as f64;
    if n - ddof <= 0.0 {
        return f64::NAN;
    }
    let mean = exact_sum(xs.iter().copied()).0 / n;
    exact_sum(xs.iter().map(|x| (x - mean) * (x - mean))).0 / (n - ddof)
}

fn how(axes: &Option<Vec<usize>>, keepdims: bool, split: Option<usize>) -> Reduction {
    let r = match axes {
        None => Reduction::all(),
        Some(a) => Reduction::axes(iaxes(a)),
    };
    let r = r.keepdims(keepdims);
    match split {
        Some(s) => r.split_every(s),
        None => r,
    }
}

fn reduced_len(shape: &[usize], axes: &Option<Vec<usize>>) -> usize {
    match axes {
        None => shape.iter().product(),
        Some(a) => a.iter().map(|&i| shape[i]).product(),
    }
}

/// All axis selections of `ndim` axes: `None` (all), and every subset.
fn selections(ndim: usize) -> Vec<Option<Vec<usize>>> {
    std::iter::once(None)
        .chain(axis_subsets(ndim).into_iter().map(Some))
        .collect()
}

fn variants() -> Vec<(bool, Option<usize>)> {
    vec![
        (false, None),
        (true, None),
        (false, Some(2)),
        (true, Some(2)),
        (false, Some(3)),
    ]
}

fn expect_empty<T: Element>(result: Result<ArrayD<T>, Error>, label: &str) {
    match result {
        Err(Error::Build(BuildError::EmptyReduction { .. })) => {}
        other => panic!("{label}: expected EmptyReduction, got {other:?}"),
    }
}

#[test]
fn float_reductions_over_every_axis_set() {
    for (k, case) in cases().into_iter().enumerate() {
        let a = dense_f64(&case.shape, 10 + k as u64);
        let x = arr(&a, &case.chunks);
        for axes in selections(case.shape.len()) {
            let n = reduced_len(&case.shape, &axes);
            for (keep, split) in variants() {
                let h = how(&axes, keep, split);
                let label = format!("{case:?} axes {axes:?} keepdims {keep} split {split:?}");
                let view = a.view();
                let dense =
                    |f: &dyn Fn(&[f64]) -> f64| reduce_dense(&view, axes.as_deref(), keep, f);

                // sum and mean against a compensated dense sum
                let want = dense(&|xs| exact_sum(xs.iter().copied()).0);
                let tol = dense(&|xs| sum_tol(xs.len(), exact_sum(xs.iter().copied()).1));
                assert_within(&x.sum_with(&h).compute().unwrap(), &want, &tol);
                assert_within(&x.nansum_with(&h).compute().unwrap(), &want, &tol);
                let want = dense(&|xs| exact_sum(xs.iter().copied()).0 / xs.len() as f64);
                let tol = dense(&|xs| {
                    sum_tol(xs.len(), exact_sum(xs.iter().copied()).1) / xs.len().max(1) as f64
                });
                assert_within(&x.mean_with(&h).compute().unwrap(), &want, &tol);
                assert_within(&x.nanmean_with(&h).compute().unwrap(), &want, &tol);

                // product: an ordinary float product, compared relatively
                let want = dense(&|xs| xs.iter().product());
                assert_close(
                    &x.prod_with(&h).compute().unwrap(),
                    &want,
                    1e-14 * (n as f64 + 1.0),
                );

                // var and std, ddof 0 and 1
                for ddof in [0.0, 1.0] {
                    let want = dense(&|xs| dense_var(xs, ddof));
                    let got = x.var_with(&h, ddof).compute().unwrap();
                    assert_close(&got, &want, 1e-12);
                    let got = x.std_with(&h, ddof).compute().unwrap();
                    assert_close(&got, &want.mapv(f64::sqrt), 1e-12);
                }

                // counts
                let want = reduce_dense(&view, axes.as_deref(), keep, |xs| {
                    xs.iter().filter(|&&v| v > 0.0).count() as u64
                });
                assert_eq!(
                    x.greater(0.0).count_nonzero_with(&h).compute().unwrap(),
                    want,
                    "{label}"
                );

                // extremes: an error over an empty selection
                if n == 0 {
                    expect_empty(x.min_with(&h).compute(), &label);
                    expect_empty(x.max_with(&h).compute(), &label);
                    expect_empty(x.nanmin_with(&h).compute(), &label);
                    expect_empty(x.argmin_with(&h).compute(), &label);
                    expect_empty(x.argmax_with(&h).compute(), &label);
                    continue;
                }
                let want = dense(&|xs| xs.iter().copied().fold(f64::INFINITY, f64::min));
                assert_eq!(x.min_with(&h).compute().unwrap(), want, "{label}");
                assert_eq!(x.nanmin_with(&h).compute().unwrap(), want, "{label}");
                let want = dense(&|xs| xs.iter().copied().fold(f64::NEG_INFINITY, f64::max));
                assert_eq!(x.max_with(&h).compute().unwrap(), want, "{label}");
                assert_eq!(x.nanmax_with(&h).compute().unwrap(), want, "{label}");
                // the data has no ties, so first-occurrence questions do not arise here
                let argmin = |xs: &[f64]| {
                    (0..xs.len()).fold(0, |best, i| if xs[i] < xs[best] { i } else { best }) as u64
                };
                let argmax = |xs: &[f64]| {
                    (0..xs.len()).fold(0, |best, i| if xs[i] > xs[best] { i } else { best }) as u64
                };
                let want = reduce_dense(&view, axes.as_deref(), keep, argmin);
                assert_eq!(x.argmin_with(&h).compute().unwrap(), want, "{label}");
                let want = reduce_dense(&view, axes.as_deref(), keep, argmax);
                assert_eq!(x.argmax_with(&h).compute().unwrap(), want, "{label}");
            }
        }
    }
}

#[test]
fn f32_reductions_over_every_axis_set() {
    for (k, case) in cases().into_iter().enumerate() {
        let a = dense_f32(&case.shape, 20 + k as u64);
        let x = arr(&a, &case.chunks);
        let a64 = a.mapv(f64::from);
        for axes in selections(case.shape.len()) {
            for (keep, split) in variants() {
                let h = how(&axes, keep, split);
                let view = a64.view();
                let dense =
                    |f: &dyn Fn(&[f64]) -> f64| reduce_dense(&view, axes.as_deref(), keep, f);
                // accumulated in f64, rounded once to f32
                let want = dense(&|xs| exact_sum(xs.iter().copied()).0);
                let tol = dense(&|xs| {
                    let (s, abs) = exact_sum(xs.iter().copied());
                    f32::EPSILON as f64 * s.abs() + sum_tol(xs.len(), abs)
                });
                assert_within(
                    &x.sum_with(&h).compute().unwrap().mapv(f64::from),
                    &want,
                    &tol,
                );
                let want = dense(&|xs| exact_sum(xs.iter().copied()).0 / xs.len() as f64);
                let tol = dense(&|xs| {
                    let (s, abs) = exact_sum(xs.iter().copied());
                    let n = xs.len().max(1) as f64;
                    f32::EPSILON as f64 * (s / n).abs() + sum_tol(xs.len(), abs) / n
                });
                assert_within(
                    &x.mean_with(&h).compute().unwrap().mapv(f64::from),
                    &want,
                    &tol,
                );
                for ddof in [0.0, 1.0] {
                    let want = dense(&|xs| dense_var(xs, ddof));
                    let got = x.var_with(&h, ddof).compute().unwrap().mapv(f64::from);
                    assert_close(&got, &want, 2.0 * f32::EPSILON as f64);
                }
                if reduced_len(&case.shape, &axes) > 0 {
                    let want = reduce_dense(&a.view(), axes.as_deref(), keep, |xs| {
                        xs.iter().copied().fold(f32::INFINITY, f32::min)
                    });
                    assert_eq!(x.min_with(&h).compute().unwrap(), want);
                }
            }
        }
    }
}

#[test]
fn integer_reductions_over_every_axis_set() {
    for (k, case) in cases().into_iter().enumerate() {
        let a = dense_i32(&case.shape, 30 + k as u64);
        let x = arr(&a, &case.chunks);
        let big = a.mapv(|v| v.wrapping_mul(50_000_000));
        let xb = arr(&big, &case.chunks);
        for axes in selections(case.shape.len()) {
            let n = reduced_len(&case.shape, &axes);
            for (keep, split) in variants() {
                let h = how(&axes, keep, split);
                let label = format!("{case:?} axes {axes:?} keepdims {keep} split {split:?}");
                let view = a.view();
                let want = reduce_dense(&view, axes.as_deref(), keep, |xs| {
                    xs.iter().map(|&v| i64::from(v)).sum::<i64>()
                });
                assert_eq!(x.sum_with(&h).compute().unwrap(), want, "{label}");
                // sums and products in i64, like NumPy's: values whose i32 sum would wrap
                // sum exactly, and products wrap in 64 bits
                let want = reduce_dense(&big.view(), axes.as_deref(), keep, |xs| {
                    xs.iter().map(|&v| i64::from(v)).sum::<i64>()
                });
                assert_eq!(xb.sum_with(&h).compute().unwrap(), want, "{label}");
                let want = reduce_dense(&big.view(), axes.as_deref(), keep, |xs| {
                    xs.iter().fold(1i64, |s, &v| s.wrapping_mul(i64::from(v)))
                });
                assert_eq!(xb.prod_with(&h).compute().unwrap(), want, "{label}");
                let want = reduce_dense(&view, axes.as_deref(), keep, |xs| {
                    xs.iter().map(|&v| v as f64).sum::<f64>() / xs.len() as f64
                });
                assert_close(&x.mean_with(&h).compute().unwrap(), &want, 1e-14);
                let want = reduce_dense(&view, axes.as_deref(), keep, |xs| {
                    dense_var(&xs.iter().map(|&v| v as f64).collect::<Vec<_>>(), 1.0)
                });
                assert_close(&x.var_with(&h, 1.0).compute().unwrap(), &want, 1e-12);
                let want = reduce_dense(&view, axes.as_deref(), keep, |xs| {
                    xs.iter().filter(|&&v| v != 0).count() as u64
                });
                assert_eq!(x.count_nonzero_with(&h).compute().unwrap(), want, "{label}");
                if n == 0 {
                    expect_empty(x.max_with(&h).compute(), &label);
                    continue;
                }
                let want =
                    reduce_dense(&view, axes.as_deref(), keep, |xs| *xs.iter().min().unwrap());
                assert_eq!(x.min_with(&h).compute().unwrap(), want, "{label}");
                let want =
                    reduce_dense(&view, axes.as_deref(), keep, |xs| *xs.iter().max().unwrap());
                assert_eq!(x.max_with(&h).compute().unwrap(), want, "{label}");
            }
        }
    }
}

#[test]
fn boolean_reductions_over_every_axis_set() {
    for (k, case) in cases().into_iter().enumerate() {
        let p = dense_bool(&case.shape, k as u64);
        let all_true = p.mapv(|_| true);
        let all_false = p.mapv(|_| false);
        for data in [&p, &all_true, &all_false] {
            let x = arr(data, &case.chunks);
            for axes in selections(case.shape.len()) {
                for (keep, split) in variants() {
                    let h = how(&axes, keep, split);
                    let label = format!("{case:?} axes {axes:?} keepdims {keep} split {split:?}");
                    let view = data.view();
                    let want =
                        reduce_dense(&view, axes.as_deref(), keep, |xs| xs.iter().any(|&b| b));
                    assert_eq!(x.any_with(&h).compute().unwrap(), want, "any {label}");
                    let want =
                        reduce_dense(&view, axes.as_deref(), keep, |xs| xs.iter().all(|&b| b));
                    assert_eq!(x.all_with(&h).compute().unwrap(), want, "all {label}");
                    let want = reduce_dense(&view, axes.as_deref(), keep, |xs| {
                        xs.iter().filter(|&&b| b).count() as u64
                    });
                    assert_eq!(
                        x.count_nonzero_with(&h).compute().unwrap(),
                        want,
                        "count {label}"
                    );
                }
            }
        }
    }
}

#[test]
fn single_axis_shorthands_and_negative_axes() {
    let a = dense_f64(&[4, 3, 5], 1);
    let x = arr(
        &a,
        &Chunks::Sizes(vec![vec![1, 3], vec![2, 1], vec![2, 2, 1]]),
    );
    for axis in 0..3 {
        let neg = axis as isize - 3;
        let view = a.view();
        let want = reduce_dense(&view, Some(&[axis]), false, |xs| {
            exact_sum(xs.iter().copied()).0
        });
        assert_close(&x.sum_axis(axis as isize).compute().unwrap(), &want, 1e-14);
        assert_close(&x.sum_axis(neg).compute().unwrap(), &want, 1e-14);
        let want = reduce_dense(&view, Some(&[axis]), false, |xs| dense_var(xs, 1.0).sqrt());
        assert_close(&x.std_axis(neg, 1.0).compute().unwrap(), &want, 1e-12);
        let want = reduce_dense(&view, Some(&[axis]), false, |xs| {
            (0..xs.len()).fold(0, |b, i| if xs[i] > xs[b] { i } else { b }) as u64
        });
        assert_eq!(x.argmax_axis(neg).compute().unwrap(), want);
        let want = reduce_dense(&view, Some(&[axis]), false, |xs| {
            xs.iter().copied().fold(f64::INFINITY, f64::min)
        });
        assert_eq!(x.min_axis(axis as isize).compute().unwrap(), want);
    }
    // a pair of axes given negatively, keepdims
    let h = Reduction::axes([-1, 0]).keepdims(true);
    let want = reduce_dense(&a.view(), Some(&[0, 2]), true, |xs| {
        exact_sum(xs.iter().copied()).0
    });
    assert_close(&x.sum_with(&h).compute().unwrap(), &want, 1e-14);
    assert_eq!(x.sum_with(&h).shape(), vec![1, 3, 1]);
}

#[test]
fn bad_reduction_arguments_are_errors() {
    let x = arr(&dense_f64(&[4, 3], 1), &Chunks::Shape(vec![2, 2]));
    assert!(matches!(
        x.sum_axis(2).compute(),
        Err(Error::Build(BuildError::AxisOutOfRange {
            axis: 2,
            ndim: 2
        }))
    ));
    assert!(matches!(
        x.sum_axis(-3).check(),
        Err(Error::Build(BuildError::AxisOutOfRange { .. }))
    ));
    assert!(matches!(
        x.sum_with(&Reduction::axes([1, -1])).compute(),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
    assert!(matches!(
        x.sum_with(&Reduction::all().split_every(1)).compute(),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
    assert!(matches!(
        x.argmin_with(&Reduction::axes([0, 0])).compute(),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
}

#[test]
fn reductions_of_fused_and_rearranged_inputs() {
    let a = dense_f64(&[6, 5], 3);
    let row = dense_f64(&[1, 5], 4);
    let x = arr(&a, &Chunks::Sizes(vec![vec![3, 1, 2], vec![2, 3]]));
    let r = arr(&row, &Chunks::Shape(vec![1, 2]));
    // a fused chain with a broadcast input
    let got = ((&x + &r) * 2.0).sum_axis(0).compute().unwrap();
    let dense = zip_dense(&a, &row, |u, v| (u + v) * 2.0);
    let want = reduce_dense(&dense.view(), Some(&[0]), false, |xs| {
        exact_sum(xs.iter().copied()).0
    });
    assert_close(&got, &want, 1e-13);
    let got = ((&x + &r) * 2.0).argmin().compute().unwrap();
    let want = reduce_dense(&dense.view(), None, false, |xs| {
        (0..xs.len()).fold(0, |b, i| if xs[i] < xs[b] { i } else { b }) as u64
    });
    assert_eq!(got, want);
    // through a transpose and a slice
    let got = x.transpose().sum_axis(1).compute().unwrap();
    let want = reduce_dense(&a.view(), Some(&[0]), false, |xs| {
        exact_sum(xs.iter().copied()).0
    });
    assert_close(&got, &want, 1e-14);
    let got = x
        .slice(ndarray::s![1..;2, ..;-1])
        .unwrap()
        .max_axis(0)
        .compute()
        .unwrap();
    let sliced = a.slice(ndarray::s![1..;2, ..;-1]).to_owned().into_dyn();
    let want = reduce_dense(&sliced.view(), Some(&[0]), false, |xs| {
        xs.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    });
    assert_eq!(got, want);
    let got = x
        .slice(ndarray::s![1..;2, ..;-1])
        .unwrap()
        .argmax_axis(1)
        .compute()
        .unwrap();
    let want = reduce_dense(&sliced.view(), Some(&[1]), false, |xs| {
        (0..xs.len()).fold(0, |b, i| if xs[i] > xs[b] { i } else { b }) as u64
    });
    assert_eq!(got, want);
    // a reduction of a reduction
    let got = x.sum_axis(1).max().compute().unwrap().scalar();
    let sums = reduce_dense(&a.view(), Some(&[1]), false, |xs| {
        exact_sum(xs.iter().copied()).0
    });
    assert!(close(
        got,
        sums.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        1e-14
    ));
    // a reduction broadcast back against its input: x - mean(x, axis 0)
    let centred = (&x - &x.mean_with(&Reduction::axis(0).keepdims(true)))
        .compute()
        .unwrap();
    let means = reduce_dense(&a.view(), Some(&[0]), true, |xs| {
        exact_sum(xs.iter().copied()).0 / xs.len() as f64
    });
    assert_close(&centred, &zip_dense(&a, &means, |u, m| u - m), 1e-13);
}

#[test]
fn argmin_argmax_ties_along_one_axis_take_the_first() {
    // ties within a tile and across tiles, along a single axis
    let v = arr1(&[5, 0, 3, 0, 9, 9, 0, 9, 1, 9, 0, 2]).into_dyn();
    for chunks in [vec![5], vec![1], vec![2], vec![12]] {
        for split in [2, 3, 16] {
            let x = arr(&v, &Chunks::Shape(chunks.clone()));
            let h = Reduction::all().split_every(split);
            assert_eq!(
                x.argmin_with(&h).compute().unwrap().scalar(),
                1,
                "{chunks:?}"
            );
            assert_eq!(
                x.argmax_with(&h).compute().unwrap().scalar(),
                4,
                "{chunks:?}"
            );
        }
    }
    let m = arr2(&[
        [3, 1, 1, 0, 0],
        [2, 2, 7, 7, 2],
        [4, 4, 4, 4, 4],
        [0, 5, 0, 5, 0],
    ])
    .into_dyn();
    for chunks in [vec![1, 2], vec![3, 3], vec![2, 1]] {
        let x = arr(&m, &Chunks::Shape(chunks.clone()));
        assert_eq!(
            x.argmin_axis(1).compute().unwrap(),
            arr1(&[3u64, 0, 0, 0]).into_dyn(),
            "{chunks:?}"
        );
        assert_eq!(
            x.argmax_axis(1).compute().unwrap(),
            arr1(&[0u64, 2, 0, 1]).into_dyn(),
            "{chunks:?}"
        );
        assert_eq!(
            x.argmin_axis(0).compute().unwrap(),
            arr1(&[3u64, 0, 3, 0, 0]).into_dyn(),
            "{chunks:?}"
        );
        assert_eq!(
            x.argmax_axis(0).compute().unwrap(),
            arr1(&[2u64, 3, 1, 1, 2]).into_dyn(),
            "{chunks:?}"
        );
    }
}

#[test]
fn argmin_argmax_nan_along_one_axis_first_nan_wins() {
    let nan = f64::NAN;
    let v = arr1(&[1.0, -5.0, nan, 3.0, nan, 9.0, -7.0]).into_dyn();
    for chunks in [vec![1], vec![2], vec![3], vec![7]] {
        let x = arr(&v, &Chunks::Shape(chunks.clone()));
        assert_eq!(x.argmin().compute().unwrap().scalar(), 2, "{chunks:?}");
        assert_eq!(x.argmax().compute().unwrap().scalar(), 2, "{chunks:?}");
        assert!(x.min().compute().unwrap().scalar().is_nan());
        assert!(x.max().compute().unwrap().scalar().is_nan());
    }
    let m = arr2(&[[1.0, nan, 0.0], [nan, nan, 5.0], [2.0, -1.0, 3.0]]).into_dyn();
    let x = arr(&m, &Chunks::Shape(vec![2, 2]));
    assert_eq!(
        x.argmin_axis(1).compute().unwrap(),
        arr1(&[1u64, 0, 1]).into_dyn()
    );
    assert_eq!(
        x.argmax_axis(0).compute().unwrap(),
        arr1(&[1u64, 0, 1]).into_dyn()
    );
}

/// Flat argmin over a 2-d array: the tie (or NaN) with the smaller flat index lies in a tile
/// that comes later in the combine order (block (0, 1) after block (0, 0)). (This failed
/// before combines compared positions on ties: a 2x4 array of ones with zeros at (1, 0) and
/// (0, 3) in 2x2 tiles gave argmin 4 instead of 3.)
#[test]
fn argmin_ties_across_tiles_over_several_axes_take_the_first() {
    let mut small = ArrayD::from_elem(IxDyn(&[2, 4]), 1.0f64);
    small[[1, 0]] = 0.0;
    small[[0, 3]] = 0.0;
    let x = arr(&small, &Chunks::Shape(vec![2, 2]));
    assert_eq!(x.argmin().compute().unwrap().scalar(), 3);
    for split in [2, 3, 4, 16] {
        let h = Reduction::all().split_every(split);
        assert_eq!(
            arr(&small, &Chunks::Shape(vec![1, 1]))
                .argmin_with(&h)
                .compute()
                .unwrap()
                .scalar(),
            3
        );
    }
    let mut m = ArrayD::from_elem(IxDyn(&[8, 8]), 1.0f64);
    m[[3, 0]] = 0.0; // flat 24, block (0, 0)
    m[[0, 5]] = 0.0; // flat 5, block (0, 1): the first occurrence
    let x = arr(&m, &Chunks::Shape(vec![4, 4]));
    assert_eq!(x.argmin().compute().unwrap().scalar(), 5);
    assert_eq!(
        x.argmin_with(&Reduction::axes([0, 1]))
            .compute()
            .unwrap()
            .scalar(),
        5
    );
    assert_eq!((-&x).argmax().compute().unwrap().scalar(), 5);
    // the same with NaN: the first NaN (flat 5) must win
    let mut n = ArrayD::from_elem(IxDyn(&[8, 8]), 1.0f64);
    n[[3, 0]] = f64::NAN;
    n[[0, 5]] = f64::NAN;
    let y = arr(&n, &Chunks::Shape(vec![4, 4]));
    assert_eq!(y.argmin().compute().unwrap().scalar(), 5);
    assert_eq!(y.argmax().compute().unwrap().scalar(), 5);
    // three axes, reduced over the first and last: reduced-space index i0 * 6 + i2
    let mut t = ArrayD::from_elem(IxDyn(&[4, 2, 6]), 7i32);
    t[[1, 0, 0]] = -1; // reduced index 6, block (0, 0, 0)
    t[[0, 0, 4]] = -1; // reduced index 4, block (0, 0, 1): the first
    let z = arr(&t, &Chunks::Shape(vec![2, 2, 3]));
    assert_eq!(
        z.argmin_with(&Reduction::axes([0, 2])).compute().unwrap(),
        arr1(&[4u64, 0]).into_dyn()
    );
}

#[test]
fn nan_variants_with_nans_and_an_all_nan_slice() {
    let nan = f64::NAN;
    let m = arr2(&[
        [1.0, nan, 2.0, -4.0, nan],
        [nan, nan, nan, nan, nan],
        [0.5, 0.25, nan, 8.0, -1.0],
        [3.0, 2.0, 1.0, 0.0, -1.0],
    ])
    .into_dyn();
    for chunks in [vec![1, 2], vec![3, 3], vec![4, 5], vec![2, 1]] {
        let x = arr(&m, &Chunks::Shape(chunks.clone()));
        let row = |v: &[f64]| arr1(v).into_dyn();
        assert_close(
            &x.nansum_axis(1).compute().unwrap(),
            &row(&[-1.0, 0.0, 7.75, 5.0]),
            1e-15,
        );
        assert_close(
            &x.nanmean_axis(1).compute().unwrap(),
            &row(&[-1.0 / 3.0, nan, 7.75 / 4.0, 1.0]),
            1e-15,
        );
        assert_close(
            &x.nanmin_axis(1).compute().unwrap(),
            &row(&[-4.0, nan, -1.0, -1.0]),
            0.0,
        );
        assert_close(
            &x.nanmax_axis(1).compute().unwrap(),
            &row(&[2.0, nan, 8.0, 3.0]),
            0.0,
        );
        // the NaN-propagating forms
        assert_close(
            &x.sum_axis(1).compute().unwrap(),
            &row(&[nan, nan, nan, 5.0]),
            1e-15,
        );
        assert_close(
            &x.mean_axis(1).compute().unwrap(),
            &row(&[nan, nan, nan, 1.0]),
            1e-15,
        );
        assert_close(
            &x.min_axis(1).compute().unwrap(),
            &row(&[nan, nan, nan, -1.0]),
            0.0,
        );
        assert_close(
            &x.max_axis(1).compute().unwrap(),
            &row(&[nan, nan, nan, 3.0]),
            0.0,
        );
        assert_eq!(
            x.argmin_axis(1).compute().unwrap(),
            arr1(&[1u64, 0, 2, 4]).into_dyn()
        );
        assert_eq!(
            x.argmax_axis(1).compute().unwrap(),
            arr1(&[1u64, 0, 2, 0]).into_dyn()
        );
        // down the columns: column 1 is all NaN but for rows 2 and 3
        assert_close(
            &x.nanmin_axis(0).compute().unwrap(),
            &row(&[0.5, 0.25, 1.0, -4.0, -1.0]),
            0.0,
        );
        assert_close(
            &x.nansum_axis(0).compute().unwrap(),
            &row(&[4.5, 2.25, 3.0, 4.0, -2.0]),
            1e-15,
        );
        // over everything
        assert!(
            close(x.nansum().compute().unwrap().scalar(), 11.75, 1e-15),
            "{chunks:?}"
        );
        assert!(
            close(x.nanmean().compute().unwrap().scalar(), 11.75 / 12.0, 1e-15),
            "{chunks:?}"
        );
        assert_eq!(x.nanmin().compute().unwrap().scalar(), -4.0);
        assert_eq!(x.nanmax().compute().unwrap().scalar(), 8.0);
        assert!(x.sum().compute().unwrap().scalar().is_nan());
        assert!(x.var(0.0).compute().unwrap().scalar().is_nan());
        assert_eq!(x.isnan().count_nonzero().compute().unwrap().scalar(), 8);
    }
    // all NaN everywhere
    let all = ArrayD::from_elem(IxDyn(&[3, 4]), nan);
    let x = arr(&all, &Chunks::Shape(vec![2, 3]));
    assert_eq!(x.nansum().compute().unwrap().scalar(), 0.0);
    assert!(x.nanmean().compute().unwrap().scalar().is_nan());
    assert!(x.nanmin().compute().unwrap().scalar().is_nan());
    assert!(
        x.nanmax_axis(0)
            .compute()
            .unwrap()
            .iter()
            .all(|v| v.is_nan())
    );
    assert_eq!(x.argmax().compute().unwrap().scalar(), 0);
}

#[test]
fn empty_selections() {
    let empty = ArrayD::<f64>::zeros(IxDyn(&[3, 0]));
    let x = arr(&empty, &Chunks::Shape(vec![2, 2]));
    assert_eq!(
        x.sum_axis(1).compute().unwrap(),
        arr1(&[0.0, 0.0, 0.0]).into_dyn()
    );
    assert_eq!(
        x.nansum_axis(1).compute().unwrap(),
        arr1(&[0.0, 0.0, 0.0]).into_dyn()
    );
    assert_eq!(
        x.prod_axis(1).compute().unwrap(),
        arr1(&[1.0, 1.0, 1.0]).into_dyn()
    );
    assert_eq!(x.sum().compute().unwrap().scalar(), 0.0);
    assert_eq!(
        x.sum_with(&Reduction::all().keepdims(true))
            .compute()
            .unwrap(),
        ArrayD::<f64>::zeros(IxDyn(&[1, 1]))
    );
    assert!(x.mean_axis(1).compute().unwrap().iter().all(|v| v.is_nan()));
    assert!(
        x.var_axis(1, 0.0)
            .compute()
            .unwrap()
            .iter()
            .all(|v| v.is_nan())
    );
    assert_eq!(
        x.count_nonzero_axis(1).compute().unwrap(),
        arr1(&[0u64, 0, 0]).into_dyn()
    );
    assert_eq!(
        x.greater(0.0).any_axis(1).compute().unwrap(),
        arr1(&[false; 3]).into_dyn()
    );
    assert_eq!(
        x.greater(0.0).all_axis(1).compute().unwrap(),
        arr1(&[true; 3]).into_dyn()
    );
    // reducing the non-empty axis gives an empty result, and no error
    assert_eq!(x.sum_axis(0).compute().unwrap().shape(), &[0]);
    assert_eq!(x.min_axis(0).compute().unwrap().shape(), &[0]);
    assert_eq!(x.argmax_axis(0).compute().unwrap().shape(), &[0]);
    // extremes of nothing are errors, reported by check() as well as compute()
    expect_empty(x.min_axis(1).compute(), "min axis 1");
    assert!(matches!(
        x.min_axis(1).check(),
        Err(Error::Build(BuildError::EmptyReduction { .. }))
    ));
    expect_empty(x.max().compute(), "max");
    expect_empty(x.nanmin().compute(), "nanmin");
    expect_empty(x.nanmax_axis(1).compute(), "nanmax");
    expect_empty(x.argmin().compute(), "argmin");
    expect_empty(x.argmax_axis(1).compute(), "argmax");
    let ints = arr(&ArrayD::<i64>::zeros(IxDyn(&[0])), &Chunks::Shape(vec![4]));
    assert_eq!(ints.sum().compute().unwrap().scalar(), 0);
    assert_eq!(ints.prod().compute().unwrap().scalar(), 1);
    expect_empty(ints.min().compute(), "int min");
    // a 0-d array reduces to itself
    let s = arr(
        &ArrayD::from_elem(IxDyn(&[]), 2.5f64),
        &Chunks::Shape(vec![]),
    );
    assert_eq!(s.sum().compute().unwrap().scalar(), 2.5);
    assert_eq!(s.min().compute().unwrap().scalar(), 2.5);
    assert_eq!(s.argmax().compute().unwrap().scalar(), 0);
    assert_eq!(s.var(0.0).compute().unwrap().scalar(), 0.0);
    assert!(s.var(1.0).compute().unwrap().scalar().is_nan());
}

#[test]
fn var_with_ddof_at_least_count_divides_by_zero_as_numpy() {
    let x = arr(
        &arr2(&[[1.0f64, 2.0], [3.0, 5.0], [4.0, 4.0]]).into_dyn(),
        &Chunks::Shape(vec![1, 1]),
    );
    // np.var(x, axis=1, ddof=2): the sums of squares over max(2 - 2, 0).
    let var = x.var_axis(1, 2.0).compute().unwrap();
    assert_eq!(var[[0]], f64::INFINITY);
    assert_eq!(var[[1]], f64::INFINITY);
    assert!(var[[2]].is_nan(), "0 / 0");
    // np.nanvar leaves no degree of freedom as NaN.
    assert!(
        x.nanvar_axis(1, 2.0)
            .compute()
            .unwrap()
            .iter()
            .all(|v| v.is_nan())
    );
    assert_close(
        &x.var_axis(1, 1.0).compute().unwrap(),
        &arr1(&[0.5, 2.0, 0.0]).into_dyn(),
        1e-15,
    );
    assert_close(
        &x.std_axis(0, 0.0).compute().unwrap(),
        &arr1(&[(14.0f64 / 9.0).sqrt(), (14.0f64 / 9.0).sqrt()]).into_dyn(),
        1e-15,
    );
    let values = [1.0, 2.0, 3.0, 5.0, 4.0, 4.0];
    assert!(close(
        x.var(5.0).compute().unwrap().scalar(),
        dense_var(&values, 5.0),
        1e-14
    ));
    assert_eq!(x.var(6.0).compute().unwrap().scalar(), f64::INFINITY);
    assert_eq!(x.std(7.0).compute().unwrap().scalar(), f64::INFINITY);
}

#[test]
fn var_is_accurate_for_large_offsets() {
    // a large common offset: a one-pass sum-of-squares formula loses every digit here
    // (condition number ~1e16); a two-pass or Welford/Chan computation keeps most of them
    let a = dense_f64(&[2000], 5).mapv(|v| 1e9 + v);
    for chunks in [vec![7], vec![100], vec![2000]] {
        let x = arr(&a, &Chunks::Shape(chunks));
        let got = x.var(1.0).compute().unwrap().scalar();
        let want = dense_var(a.as_slice().unwrap(), 1.0);
        assert!(close(got, want, 1e-6), "{got} vs {want}");
    }
    // down the columns (the per-lane Welford path)
    let m = dense_f64(&[500, 4], 6).mapv(|v| 1e9 + v);
    for rows in [1, 7, 500] {
        let x = arr(&m, &Chunks::Shape(vec![rows, 4]));
        let got = x.var_axis(0, 0.0).compute().unwrap();
        let want = reduce_dense(&m.view(), Some(&[0]), false, |xs| dense_var(xs, 0.0));
        assert_close(&got, &want, 1e-6);
    }
}

#[test]
fn compensated_sums_across_lanes_and_tiles() {
    // naive summation of these gives 0 or 1 instead of 2. Within a contiguous run the sum is
    // only pairwise (documented), so the runs here are single elements: down the columns
    // (lane folding, one or several rows per tile) and across the rows with 1-column tiles.
    let col = [1e16, 1.0, -1e16, 1.0];
    let down = ArrayD::from_shape_fn(IxDyn(&[4, 3]), |i| col[i[0]]);
    for rows in [1, 2, 4] {
        let x = arr(&down, &Chunks::Shape(vec![rows, 3]));
        assert_eq!(
            x.sum_axis(0).compute().unwrap(),
            arr1(&[2.0; 3]).into_dyn(),
            "rows {rows}"
        );
        let x = arr(&down, &Chunks::Shape(vec![rows, 1]));
        assert_eq!(
            x.sum_axis(0).compute().unwrap(),
            arr1(&[2.0; 3]).into_dyn(),
            "rows {rows}"
        );
    }
    let across = ArrayD::from_shape_fn(IxDyn(&[3, 4]), |i| col[i[1]]);
    for split in [2, 3, 16] {
        let y = arr(&across, &Chunks::Shape(vec![3, 1]));
        let h = Reduction::axis(1).split_every(split);
        assert_eq!(
            y.sum_with(&h).compute().unwrap(),
            arr1(&[2.0; 3]).into_dyn(),
            "split {split}"
        );
        assert_eq!(
            y.sum_with(&Reduction::all().split_every(split))
                .compute()
                .unwrap()
                .scalar(),
            6.0
        );
    }
}

#[test]
fn sum_of_a_million_tenths_is_compensated() {
    let x = chunkwise::full(&[1_000_000], 0.1f64, [10_000]).unwrap();
    let got = x.sum().compute().unwrap().scalar();
    assert!((got - 1e5).abs() <= 1e-9 * 1e5, "{got}");
    let got = x.mean().compute().unwrap().scalar();
    assert!((got - 0.1).abs() <= 1e-9 * 0.1, "{got}");
    // from memory, irregular tiles
    let dense = ArrayD::from_elem(IxDyn(&[1_000_000]), 0.1f64);
    let sizes: Vec<usize> = (0..1000)
        .map(|i| if i % 2 == 0 { 700 } else { 1300 })
        .collect();
    let y = arr(&dense, &Chunks::Sizes(vec![sizes]));
    let got = y.sum().compute().unwrap().scalar();
    assert!((got - 1e5).abs() <= 1e-9 * 1e5, "{got}");
    // down the columns (lane folding), many tiles
    let z = chunkwise::full(&[1000, 1000], 0.1f64, [100, 100]).unwrap();
    let cols = z.sum_axis(0).compute().unwrap();
    assert!(
        cols.iter().all(|&c| (c - 100.0).abs() <= 1e-12 * 100.0),
        "{:?}",
        &cols.as_slice().unwrap()[..4]
    );
    let got = z.sum().compute().unwrap().scalar();
    assert!((got - 1e5).abs() <= 1e-9 * 1e5, "{got}");
}

#[test]
fn f32_sum_of_a_million_values_is_correctly_rounded() {
    let x = chunkwise::full(&[1_000_000], 0.1f32, [10_000]).unwrap();
    let got = x.sum().compute().unwrap().scalar();
    let exact = 1e6 * (0.1f32 as f64);
    assert_eq!(got, exact as f32, "{got} vs {exact}");
    // irregular random data: within half an f32 ulp of the exact sum
    let dense = dense_f64_in(&[1_000_000], 77, 0.0, 1.0).mapv(|v| v as f32);
    let exact = exact_sum(dense.iter().map(|&v| v as f64)).0;
    let ulp = 2f64.powi(exact.log2().floor() as i32 - 23);
    for chunks in [Chunks::Shape(vec![4096]), Chunks::Shape(vec![1_000_000])] {
        let y = arr(&dense, &chunks);
        let got = y.sum().compute().unwrap().scalar() as f64;
        assert!(
            (got - exact).abs() <= 0.5 * ulp * (1.0 + 1e-9),
            "{got} vs {exact}"
        );
    }
    let m = dense.into_shape_with_order(IxDyn(&[1000, 1000])).unwrap();
    let y = arr(&m, &Chunks::Shape(vec![128, 128]));
    let cols = y.sum_axis(0).compute().unwrap();
    for j in [0usize, 1, 500, 999] {
        let exact = exact_sum(m.index_axis(ndarray::Axis(1), j).iter().map(|&v| v as f64)).0;
        let ulp = 2f64.powi(exact.log2().floor() as i32 - 23);
        assert!(
            (cols[j] as f64 - exact).abs() <= 0.5 * ulp * (1.0 + 1e-9),
            "column {j}: {} vs {exact}",
            cols[j]
        );
    }
}

#[test]
fn reductions_are_bit_identical_across_thread_counts() {
    let x = chunkwise::random::normal::<f64>(11, 3.0, 2.0, &[600, 500], [37, 45]).unwrap();
    let y = &x * &x.sin() + 1.0;
    let one = Config::default().threads(1);
    let two = Config::default().threads(2);
    let arrays: Vec<(&str, Array<f64>)> = vec![
        ("sum", y.sum()),
        ("mean", y.mean()),
        ("var", y.var(1.0)),
        ("std", y.std(0.0)),
        ("nansum", y.nansum()),
        ("sum axis 0", y.sum_axis(0)),
        ("sum axis 1", y.sum_axis(1)),
        (
            "mean axis 0 split 3",
            y.mean_with(&Reduction::axis(0).split_every(3)),
        ),
        ("var axis 1", y.var_axis(1, 0.0)),
        (
            "var axis 0 split 2",
            y.var_with(&Reduction::axis(0).split_every(2), 1.0),
        ),
        ("sum split 2", y.sum_with(&Reduction::all().split_every(2))),
    ];
    for (name, a) in arrays {
        let r1 = a.compute_with(&one).unwrap();
        let r2 = a.compute_with(&two).unwrap();
        let r3 = a.compute_with(&two).unwrap();
        assert_same_f64(&r1, &r2);
        assert_same_f64(&r2, &r3);
        // and with fusion off (same tree, same folds)
        let r4 = a
            .compute_with(&Config::default().threads(2).fuse(false))
            .unwrap();
        assert_eq!(r4.shape(), r1.shape(), "{name}");
    }
    // f32 too
    let z = chunkwise::random::uniform::<f32>(5, -1.0, 1.0, &[300, 300], [17, 64]).unwrap();
    for a in [z.sum(), z.mean(), z.var(0.0), z.sum_axis(1)] {
        let r1 = a.compute_with(&one).unwrap();
        let r2 = a.compute_with(&two).unwrap();
        assert!(r1.iter().zip(&r2).all(|(p, q)| p.to_bits() == q.to_bits()));
    }
}

#[test]
fn strip_length_does_not_change_results_beyond_rounding() {
    let x = chunkwise::random::uniform::<f64>(3, -1.0, 1.0, &[90, 70], [40, 30]).unwrap();
    let a = x.compute().unwrap();
    let y = (&x * 3.0).exp();
    let dense = a.mapv(|v| (v * 3.0).exp());
    for strip in [1, 3, 7, 64, 100_000] {
        let cfg = Config::default().strip_len(strip);
        assert_close(&y.compute_with(&cfg).unwrap(), &dense, 2e-15);
        let got = y.sum_axis(0).compute_with(&cfg).unwrap();
        let want = reduce_dense(&dense.view(), Some(&[0]), false, |xs| {
            exact_sum(xs.iter().copied()).0
        });
        assert_close(&got, &want, 1e-13);
        let got = y.argmax_axis(1).compute_with(&cfg).unwrap();
        let want = reduce_dense(&dense.view(), Some(&[1]), false, |xs| {
            (0..xs.len()).fold(0, |b, i| if xs[i] > xs[b] { i } else { b }) as u64
        });
        assert_eq!(got, want, "strip {strip}");
        let got = y
            .var_with(&Reduction::axes([0, 1]), 1.0)
            .compute_with(&cfg)
            .unwrap();
        assert!(close(
            got.scalar(),
            dense_var(&dense.iter().copied().collect::<Vec<_>>(), 1.0),
            1e-12
        ));
    }
}

fn first_argmin<T: PartialOrd + Copy>(xs: &[T], is_nan: impl Fn(T) -> bool) -> u64 {
    if let Some(i) = xs.iter().position(|&v| is_nan(v)) {
        return i as u64;
    }
    (0..xs.len()).fold(0, |b, i| if xs[i] < xs[b] { i } else { b }) as u64
}

fn first_argmax<T: PartialOrd + Copy>(xs: &[T], is_nan: impl Fn(T) -> bool) -> u64 {
    if let Some(i) = xs.iter().position(|&v| is_nan(v)) {
        return i as u64;
    }
    (0..xs.len()).fold(0, |b, i| if xs[i] > xs[b] { i } else { b }) as u64
}

/// Data with many ties (integers in [-4, 4)) and, for floats, NaNs: the first occurrence (the
/// first NaN) wins, over every axis set, whatever the tiles and the tree.
#[test]
fn argmin_argmax_with_many_ties_and_nans_over_every_axis_set() {
    for (k, case) in nonempty_cases().into_iter().enumerate() {
        let a = dense_small_i32(&case.shape, 40 + k as u64);
        let x = arr(&a, &case.chunks);
        let f = a.mapv(f64::from);
        let mut fnan = f.clone();
        for (i, v) in fnan.iter_mut().enumerate() {
            if (i * 7 + k) % 11 == 3 {
                *v = f64::NAN;
            }
        }
        let xf = arr(&fnan, &case.chunks);
        for axes in selections(case.shape.len()) {
            if reduced_len(&case.shape, &axes) == 0 {
                continue;
            }
            for (keep, split) in variants() {
                let h = how(&axes, keep, split);
                let label = format!("{case:?} axes {axes:?} keepdims {keep} split {split:?}");
                let want = reduce_dense(&a.view(), axes.as_deref(), keep, |xs| {
                    first_argmin(xs, |_| false)
                });
                assert_eq!(x.argmin_with(&h).compute().unwrap(), want, "argmin {label}");
                let want = reduce_dense(&a.view(), axes.as_deref(), keep, |xs| {
                    first_argmax(xs, |_| false)
                });
                assert_eq!(x.argmax_with(&h).compute().unwrap(), want, "argmax {label}");
                let want = reduce_dense(&fnan.view(), axes.as_deref(), keep, |xs| {
                    first_argmin(xs, f64::is_nan)
                });
                assert_eq!(
                    xf.argmin_with(&h).compute().unwrap(),
                    want,
                    "argmin with NaN {label}"
                );
                let want = reduce_dense(&fnan.view(), axes.as_deref(), keep, |xs| {
                    first_argmax(xs, f64::is_nan)
                });
                assert_eq!(
                    xf.argmax_with(&h).compute().unwrap(),
                    want,
                    "argmax with NaN {label}"
                );
                // nanmin / nanmax skip the NaNs (NaN only where everything is NaN)
                let want = reduce_dense(&fnan.view(), axes.as_deref(), keep, |xs| {
                    xs.iter()
                        .copied()
                        .filter(|v| !v.is_nan())
                        .fold(f64::NAN, |m, v| if m.is_nan() || v < m { v } else { m })
                });
                assert_close(&xf.nanmin_with(&h).compute().unwrap(), &want, 0.0);
                let want = reduce_dense(&fnan.view(), axes.as_deref(), keep, |xs| {
                    let kept: Vec<f64> = xs.iter().copied().filter(|v| !v.is_nan()).collect();
                    if kept.is_empty() {
                        f64::NAN
                    } else {
                        kept.iter().sum::<f64>() / kept.len() as f64
                    }
                });
                assert_close(&xf.nanmean_with(&h).compute().unwrap(), &want, 1e-14);
            }
        }
    }
}

#[test]
fn spread_of_an_array_shifted_by_a_constant_along_the_reduced_axes() {
    // var(x - c), var(c - x) and var(x + c), with c constant along the reduced axes (here
    // c = mean of x over them, kept as length-1 axes), are computed as var(x): compare with
    // the dense variance of the shifted values themselves.
    let a = dense_f64_in(&[4, 3, 5], 41, 200.0, 300.0);
    let chunks = Chunks::Sizes(vec![vec![1, 3], vec![2, 1], vec![5]]);
    let x = arr(&a, &chunks);
    for axes in axis_subsets(3).into_iter().filter(|s| !s.is_empty()) {
        let c = x.mean_with(&Reduction::axes(iaxes(&axes)).keepdims(true));
        let c_dense = reduce_dense(&a.view(), Some(&axes), true, |xs| {
            exact_sum(xs.iter().copied()).0 / xs.len() as f64
        });
        for keepdims in [false, true] {
            let how = Reduction::axes(iaxes(&axes)).keepdims(keepdims);
            for (shifted, dense) in [
                (&x - &c, &a - &c_dense),
                (&c - &x, &c_dense - &a),
                (&x + &c, &a + &c_dense),
            ] {
                let want = reduce_dense(&dense.view(), Some(&axes), keepdims, |xs| {
                    dense_var(xs, 1.0)
                });
                assert_close(
                    &shifted.var_with(&how, 1.0).compute().unwrap(),
                    &want,
                    1e-12,
                );
                let std = want.mapv(f64::sqrt);
                assert_close(&shifted.std_with(&how, 1.0).compute().unwrap(), &std, 1e-12);
            }
        }
    }
    // The anomaly's variance and the mean it subtracts read x once: one merged reduction.
    let anomaly_std = (&x - &x.mean_axis(0)).std_axis(0, 0.0);
    assert!(anomaly_std.explain().unwrap().contains("mean + std"));
}

#[test]
fn spread_of_an_array_shifted_by_a_non_finite_constant_is_nan() {
    // var(x - c) is NaN where c is infinite or NaN, as the dense computation says.
    let a = dense_f64(&[6, 2, 3], 42);
    let mut c = dense_f64(&[1, 2, 3], 43);
    c[[0, 0, 1]] = f64::INFINITY;
    c[[0, 1, 2]] = f64::NAN;
    let x = arr(&a, &Chunks::Shape(vec![4, 2, 2]));
    let shift = arr(&c, &Chunks::Shape(vec![1, 1, 3]));
    let got = (&x - &shift).var_axis(0, 0.0).compute().unwrap();
    let want = reduce_dense(&(&a - &c).view(), Some(&[0]), false, |xs| {
        if xs.iter().all(|v| v.is_finite()) {
            dense_var(xs, 0.0)
        } else {
            f64::NAN
        }
    });
    assert_close(&got, &want, 1e-12);
    assert!(got[[0, 1]].is_nan() && got[[1, 2]].is_nan() && got[[0, 0]].is_finite());
}

#[test]
fn integer_differences_keep_their_wrapping_variance() {
    // Integers are not rewritten: x - c wraps, and the variance is that of the wrapped values.
    let a = ArrayD::from_shape_vec(IxDyn(&[4, 1]), vec![i32::MAX, i32::MAX - 1, 5, 7]).unwrap();
    let c = ArrayD::from_shape_vec(IxDyn(&[1, 1]), vec![-10]).unwrap();
    let x = arr(&a, &Chunks::Shape(vec![2, 1]));
    let shift = arr(&c, &Chunks::Shape(vec![1, 1]));
    let got = (&x - &shift).var_axis(0, 0.0).compute().unwrap();
    let wrapped: Vec<f64> = a.iter().map(|&v| f64::from(v.wrapping_sub(-10))).collect();
    assert!(close(got[[0]], dense_var(&wrapped, 0.0), 1e-12), "{got}");
}

#[test]
fn shifted_spreads_of_other_shapes_match_the_dense_ones() {
    // The rewrite applies only where c is constant along every reduced axis; elsewhere the
    // shifted values are reduced as they are. Either way: the dense variance of x - c.
    let a = dense_f64_in(&[4, 3, 5], 44, -50.0, 50.0);
    let x = arr(&a, &Chunks::Shape(vec![3, 2, 5]));
    let check =
        |shifted: Array<f64>, dense: ArrayD<f64>, how: Reduction, axes: Option<&[usize]>| {
            let keep = how.clone().keepdims(false) != how;
            let want = reduce_dense(&dense.view(), axes, keep, |xs| dense_var(xs, 0.0));
            assert_close(
                &shifted.var_with(&how, 0.0).compute().unwrap(),
                &want,
                1e-12,
            );
        };
    // c constant along axis 0 only, reduced over axes 0 and 1: not a shift of x.
    let c = x.mean_with(&Reduction::axes([0]).keepdims(true));
    let c_dense = reduce_dense(&a.view(), Some(&[0]), true, |xs| {
        xs.iter().sum::<f64>() / 4.0
    });
    check(
        &x - &c,
        &a - &c_dense,
        Reduction::axes([0, 1]),
        Some(&[0, 1]),
    );
    // All axes (no axes given), with a (1, 1, 1) c.
    let c_dense = ArrayD::from_elem(IxDyn(&[1, 1, 1]), 7.5);
    let c = arr(&c_dense, &Chunks::Shape(vec![1, 1, 1]));
    check(&x - &c, &a - &c_dense, Reduction::all(), None);
    // A lower-rank c ([3, 5] against [4, 3, 5]), negative axis, keepdims.
    let c_dense = dense_f64(&[3, 5], 45);
    let c = arr(&c_dense, &Chunks::Shape(vec![2, 5]));
    check(
        &c - &x,
        &c_dense - &a,
        Reduction::axis(-3).keepdims(true),
        Some(&[0]),
    );
    // A broadcast x ([1, 3, 5]) against an aligned c: the spread is c's.
    let b_dense = dense_f64(&[1, 3, 5], 46);
    let b = arr(&b_dense, &Chunks::Shape(vec![1, 3, 5]));
    check(&b - &x, &b_dense - &a, Reduction::axis(0), Some(&[0]));
}

#[test]
fn f32_mean_with_var_or_std_is_read_off_their_states() {
    // The mean and the spread of f32 data computed together fold once: the mean comes from
    // the moments' f64 shifted sums, as accurate as the compensated sum for an f32 result.
    let a = dense_f32(&[40, 3, 7], 48).mapv(|v| 1e4 + 3.0 * v);
    let a64 = a.mapv(f64::from);
    for chunks in [vec![40, 3, 7], vec![9, 2, 7], vec![40, 3, 1]] {
        let x = arr(&a, &Chunks::Shape(chunks.clone()));
        for axes in axis_subsets(3).into_iter().filter(|s| !s.is_empty()) {
            let how = Reduction::axes(iaxes(&axes));
            let (mean, var, std) = (
                x.mean_with(&how),
                x.var_with(&how, 1.0),
                x.std_with(&how, 0.0),
            );
            let got = chunkwise::compute_many(&[&mean, &var, &std]).unwrap();
            let dense =
                |f: &dyn Fn(&[f64]) -> f64| reduce_dense(&a64.view(), Some(&axes), false, f);
            let want_mean = dense(&|xs| exact_sum(xs.iter().copied()).0 / xs.len() as f64);
            // Rounded once to f32.
            let tol = want_mean.mapv(|m| 0.6 * f32::EPSILON as f64 * m.abs());
            assert_within(&got[0].mapv(f64::from), &want_mean, &tol);
            let want_var = dense(&|xs| dense_var(xs, 1.0));
            assert_close(
                &got[1].mapv(f64::from),
                &want_var,
                2.0 * f32::EPSILON as f64,
            );
            let want_std = dense(&|xs| dense_var(xs, 0.0).sqrt());
            assert_close(
                &got[2].mapv(f64::from),
                &want_std,
                2.0 * f32::EPSILON as f64,
            );
        }
    }
    // Infinities: the mean alone (a compensated sum) and the mean read off the moments agree.
    let a = ndarray::arr2(&[[f32::INFINITY, 1.0], [2.0, f32::NEG_INFINITY], [3.0, 4.0]]).into_dyn();
    let x = arr(&a, &Chunks::Shape(vec![2, 2]));
    let alone = x.mean_axis(0).compute().unwrap();
    let (mean, std) = (x.mean_axis(0), x.std_axis(0, 0.0));
    let together = chunkwise::compute_many(&[&mean, &std]).unwrap();
    assert_eq!(
        alone.as_slice().unwrap(),
        &[f32::INFINITY, f32::NEG_INFINITY]
    );
    assert_eq!(together[0], alone);
    assert!(together[1].iter().all(|s| s.is_nan()));
    // The anomaly's spread folds once (f32); f64 keeps its compensated mean beside
    // Welford's spread.
    let a = dense_f32(&[40, 3, 7], 48);
    let a64 = a.mapv(f64::from);
    let x = arr(&a, &Chunks::Shape(vec![9, 3, 7]));
    let plan = (&x - &x.mean_axis(0)).std_axis(0, 0.0).explain().unwrap();
    assert!(plan.contains("mean (from std) + std"), "{plan}");
    let x = arr(&a64, &Chunks::Shape(vec![9, 3, 7]));
    let plan = (&x - &x.mean_axis(0)).std_axis(0, 0.0).explain().unwrap();
    assert!(
        plan.contains("mean + std") && !plan.contains("(from"),
        "{plan}"
    );
}

#[test]
fn shifted_f32_spread_matches_the_dense_one() {
    // The climate job's case: f32 anomalies from the time mean. The rewrite reduces x in
    // f64 without the f32 rounding of x - mean, so the reference is the f64 variance.
    let a = dense_f32(&[30, 4, 6], 47).mapv(|v| 250.0 + 60.0 * v);
    let x = arr(&a, &Chunks::Shape(vec![7, 4, 3]));
    let got = (&x - &x.mean_axis(0)).std_axis(0, 0.0).compute().unwrap();
    let a64 = a.mapv(f64::from);
    let want = reduce_dense(&a64.view(), Some(&[0]), false, |xs| {
        dense_var(xs, 0.0).sqrt()
    });
    assert_close(&got.mapv(f64::from), &want, 1e-6);
}

#[test]
fn the_plan_shows_the_spread_of_a_shift_reduced_without_the_shift() {
    // The optimiser's `unshift-spread` pass reduces x for var/std of x ± c (c constant along
    // the reduced axes); with fusion off the graph runs as built, x - c first.
    let a = dense_f64_in(&[4, 6], 50, 100.0, 200.0);
    let c_dense = dense_f64(&[6], 51);
    let x = arr(&a, &Chunks::Shape(vec![2, 3]));
    let c = arr(&c_dense, &Chunks::Shape(vec![3]));
    let var = (&x - &c).var_axis(0, 1.0);
    let unfused = Config::default().fuse(false);
    let plan = var.explain().unwrap();
    let body: Vec<&str> = plan
        .lines()
        .skip(1)
        .map(|l| l.split("  [").next().unwrap())
        .collect();
    assert_eq!(
        body,
        [
            "#0 Elemwise where(isfinite(in0), in1, full[NaN])",
            "  #1 Source from_ndarray[6]",
            "  #2 Reduce var over axes [0]",
            "    #3 Source from_ndarray[4, 6]",
        ],
        "{plan}"
    );
    // The fusion passes' refusals, as they recorded them.
    let line = |plan: &str, start: &str| {
        let found = plan.lines().find(|l| l.trim_start().starts_with(start));
        found
            .unwrap_or_else(|| panic!("no {start} in {plan}"))
            .to_string()
    };
    assert!(
        line(&plan, "#0").ends_with(
            "in0 not fused: materialised source; \
             in1 not fused: reduction result"
        ),
        "{plan}"
    );
    assert!(
        line(&plan, "#2").ends_with("in0 not fused: materialised source"),
        "{plan}"
    );
    let plan = var.explain_with(&unfused).unwrap();
    let body: Vec<&str> = plan
        .lines()
        .skip(1)
        .map(|l| l.split("  [").next().unwrap())
        .collect();
    assert_eq!(
        body,
        [
            "#0 Reduce var over axes [0]",
            "  #1 Elemwise sub(in0, in1) with in1 = [:] to [4, 6]",
            "    #2 Source from_ndarray[4, 6]",
            "    #3 Source from_ndarray[6]",
        ],
        "{plan}"
    );
    // Nothing was fused, so no pass refused anything.
    assert!(!plan.contains("not fused"), "{plan}");
    // Over all axes, of c + x with a fused chain for x: the chain is fused into the spread.
    let whole = ndarray::arr2(&[[2.5]]).into_dyn();
    let w = arr(&whole, &Chunks::Shape(vec![1, 1]));
    let std = (&w + &(&x * 2.0)).std(0.0);
    let plan = std.explain().unwrap();
    assert!(
        plan.contains("Reduce std over axes [0, 1] of mul[rhs=2.0](in0)"),
        "{plan}"
    );
    assert!(!plan.contains("add("), "{plan}");
    let plan = std.explain_with(&unfused).unwrap();
    assert!(plan.contains("Elemwise add(in0, in1)"), "{plan}");
    assert!(!plan.contains("isfinite"), "{plan}");
    // x.var() has no shift: the same reduction either way.
    for config in [Config::default(), unfused.clone()] {
        let plan = x.var(0.0).explain_with(&config).unwrap();
        assert!(plan.contains("#0 Reduce var over axes [0, 1]  ["), "{plan}");
        assert!(!plan.contains("where"), "{plan}");
    }
    // The values: rewritten, computed as built, and the dense variance of the shifted data.
    let shifted = &a - &c_dense;
    let want = reduce_dense(&shifted.view(), Some(&[0]), false, |xs| dense_var(xs, 1.0));
    assert_close(&var.compute().unwrap(), &want, 1e-12);
    assert_close(&var.compute_with(&unfused).unwrap(), &want, 1e-12);
    let shifted = (&a * 2.0) + 2.5;
    let want = dense_var(shifted.as_slice().unwrap(), 0.0).sqrt();
    for config in [Config::default(), unfused] {
        let got = std.compute_with(&config).unwrap()[[]];
        assert!(close(got, want, 1e-12), "{got} vs {want}");
    }
}

/// Thin tiles (every reduced axis chunked by 1, as daily slices reduced over time): one
/// partial folds several tiles into one set of states, which counts on across them.
#[test]
fn reductions_of_thin_tiles_fold_several_per_partial() {
    let mut data = dense_f64(&[23, 5, 7], 31);
    data[[4, 1, 2]] = f64::NAN;
    data[[17, 3, 6]] = f64::NAN;
    let x = arr(&data, &Chunks::Shape(vec![1, 3, 7]));
    let lanes = |f: &dyn Fn(&[f64]) -> f64| {
        ArrayD::from_shape_fn(IxDyn(&[5, 7]), |i| {
            let lane: Vec<f64> = (0..23).map(|t| data[[t, i[0], i[1]]]).collect();
            f(&lane)
        })
    };
    let kept = |lane: &[f64]| {
        lane.iter()
            .copied()
            .filter(|v| !v.is_nan())
            .collect::<Vec<_>>()
    };
    let close = |a: &ArrayD<f64>, b: &ArrayD<f64>| {
        a.iter()
            .zip(b)
            .all(|(p, q)| (p.is_nan() && q.is_nan()) || (p - q).abs() <= 1e-12 * (1.0 + q.abs()))
    };
    let mean = x.mean_axis(0);
    // 46 tiles: with one partial per tile the plan would hold at least 92 tasks.
    let tasks = mean.task_count(&Config::default()).unwrap();
    assert!(tasks < 70, "{tasks} tasks: {}", mean.explain().unwrap());
    assert!(close(
        &mean.compute().unwrap(),
        &lanes(&|l| l.iter().sum::<f64>() / l.len() as f64)
    ));
    assert!(close(
        &x.nanmean_axis(0).compute().unwrap(),
        &lanes(&|l| {
            let k = kept(l);
            k.iter().sum::<f64>() / k.len() as f64
        })
    ));
    assert!(close(
        &x.var_axis(0, 1.0).compute().unwrap(),
        &lanes(&|l| dense_var(l, 1.0))
    ));
    assert!(close(
        &x.nanstd_axis(0, 0.0).compute().unwrap(),
        &lanes(&|l| dense_var(&kept(l), 0.0).sqrt())
    ));
    assert!(close(
        &x.nanmax_axis(0).compute().unwrap(),
        &lanes(&|l| kept(l).into_iter().fold(f64::MIN, f64::max))
    ));
    assert!(close(
        &x.sum_axis(0).compute().unwrap(),
        &lanes(&|l| l.iter().sum())
    ));
    // f32 moments (shifted sums), and an index reduction (positions: one partial per tile).
    let small = data.mapv(|v| if v.is_nan() { 0.5 } else { v as f32 as f64 });
    let y = arr(&small.mapv(|v| v as f32), &Chunks::Shape(vec![1, 3, 7]));
    let std32 = y.std_axis(0, 0.0).compute().unwrap().mapv(f64::from);
    let want = ArrayD::from_shape_fn(IxDyn(&[5, 7]), |i| {
        let lane: Vec<f64> = (0..23).map(|t| small[[t, i[0], i[1]]]).collect();
        dense_var(&lane, 0.0).sqrt()
    });
    assert!(
        std32
            .iter()
            .zip(&want)
            .all(|(a, b)| (a - b).abs() <= 1e-5 * (1.0 + b))
    );
    let arg = y.argmax_axis(0).compute().unwrap();
    let want_arg = ArrayD::from_shape_fn(IxDyn(&[5, 7]), |i| {
        let lane: Vec<f64> = (0..23).map(|t| small[[t, i[0], i[1]]]).collect();
        let best = lane.iter().copied().fold(f64::MIN, f64::max);
        lane.iter().position(|&v| v == best).unwrap() as u64
    });
    assert_eq!(arg, want_arg);
}

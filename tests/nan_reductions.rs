//! `nanvar`, `nanstd`, `nanargmin`, `nanargmax`, `nanprod` and the reductions in another
//! type (`sum_as`, `nansum_as`, `mean_as`, `var_as`, `std_as`) against dense oracles, on
//! every shape and chunking of `common::cases` and every set of axes.

#![allow(missing_docs)]

mod common;

use chunkwise::{Array, Chunks, Element, Error, ExecError, Reduction, from_ndarray};
use common::*;
use ndarray::ArrayD;

fn arr<T: Element>(dense: &ArrayD<T>, chunks: &Chunks) -> Array<T> {
    from_ndarray(dense, chunks.clone()).unwrap()
}

/// `dense_f64` with about one element in three NaN, and rows of NaN where the pattern
/// lines up, so some slices are all NaN.
fn with_nans(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let mut a = dense_f64(shape, seed);
    for (k, v) in a.iter_mut().enumerate() {
        if (k as u64 * 5 + seed).is_multiple_of(3) {
            *v = f64::NAN;
        }
    }
    a
}

/// All axis selections of `ndim` axes: `None` (all), and every subset.
fn selections(ndim: usize) -> Vec<Option<Vec<usize>>> {
    std::iter::once(None)
        .chain(axis_subsets(ndim).into_iter().map(Some))
        .collect()
}

fn how(axes: &Option<Vec<usize>>, keepdims: bool) -> Reduction {
    let r = match axes {
        None => Reduction::all(),
        Some(a) => Reduction::axes(iaxes(a)),
    };
    r.keepdims(keepdims).split_every(2)
}

fn finite(xs: &[f64]) -> Vec<f64> {
    xs.iter().copied().filter(|v| !v.is_nan()).collect()
}

/// Two-pass variance of the values that are not NaN (NaN when no more than `ddof`).
fn dense_nanvar(xs: &[f64], ddof: f64) -> f64 {
    let xs = finite(xs);
    let n = xs.len() as f64;
    if n - ddof <= 0.0 {
        return f64::NAN;
    }
    let mean = xs.iter().sum::<f64>() / n;
    xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - ddof)
}

/// The first position of the best value that is not NaN (`better(a, b)`: a beats b).
fn dense_nanarg(xs: &[f64], better: fn(f64, f64) -> bool) -> Option<u64> {
    let mut best: Option<usize> = None;
    for (i, &v) in xs.iter().enumerate() {
        if !v.is_nan() && best.is_none_or(|b| better(v, xs[b])) {
            best = Some(i);
        }
    }
    best.map(|b| b as u64)
}

#[test]
fn nan_reductions_equal_their_dense_definitions() {
    for (k, case) in nonempty_cases().into_iter().enumerate() {
        let a = with_nans(&case.shape, k as u64);
        let x = arr(&a, &case.chunks);
        for axes in selections(case.shape.len()) {
            for keep in [false, true] {
                let h = how(&axes, keep);
                let label = format!("{case:?} axes {axes:?} keepdims {keep}");
                let dense =
                    |f: &dyn Fn(&[f64]) -> f64| reduce_dense(&a.view(), axes.as_deref(), keep, f);
                for ddof in [0.0, 1.0] {
                    let want = dense(&|xs| dense_nanvar(xs, ddof));
                    assert_close(&x.nanvar_with(&h, ddof).compute().unwrap(), &want, 1e-12);
                    let want = want.mapv(f64::sqrt);
                    assert_close(&x.nanstd_with(&h, ddof).compute().unwrap(), &want, 1e-12);
                }
                let want = dense(&|xs| finite(xs).iter().product());
                assert_close(&x.nanprod_with(&h).compute().unwrap(), &want, 1e-13);
                let reduced = axes.is_none() || axes.as_ref().is_some_and(|a| !a.is_empty());
                if !reduced {
                    continue;
                }
                let check = |got: Result<ArrayD<u64>, Error>, better: fn(f64, f64) -> bool| {
                    let want = reduce_dense(&a.view(), axes.as_deref(), keep, |xs| {
                        dense_nanarg(xs, better)
                    });
                    if want.iter().any(Option::is_none) {
                        assert!(
                            matches!(got, Err(Error::Exec(ExecError::AllNanSlice { .. }))),
                            "{label}: {got:?}"
                        );
                    } else {
                        assert_eq!(got.unwrap(), want.mapv(|w| w.unwrap()), "{label}");
                    }
                };
                check(x.nanargmin_with(&h).compute(), |a, b| a < b);
                check(x.nanargmax_with(&h).compute(), |a, b| a > b);
            }
        }
    }
}

#[test]
fn nanargmin_takes_the_first_of_ties_and_fails_on_all_nan() {
    let nan = f64::NAN;
    let a = ndarray::arr2(&[
        [nan, 1.0, 0.5, 0.5],
        [nan, nan, nan, nan],
        [2.0, nan, 2.0, 3.0],
    ])
    .into_dyn();
    let x = arr(&a, &Chunks::Shape(vec![2, 3]));
    let err = x.nanargmin_axis(1).compute().unwrap_err();
    assert!(matches!(err, Error::Exec(ExecError::AllNanSlice { ref op }) if op == "nanargmin"));
    let rows = x.slice(ndarray::s![0..3;2, ..]).unwrap();
    assert_eq!(
        rows.nanargmin_axis(1)
            .compute()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        vec![2, 0]
    );
    assert_eq!(
        rows.nanargmax_axis(1)
            .compute()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        vec![1, 3]
    );
    // over everything: the flat index of the first 0.5
    assert_eq!(x.nanargmin().compute_scalar().unwrap(), 2);
    // integers have no NaN: the same as argmin
    let i = dense_small_i32(&[4, 5], 3);
    let xi = arr(&i, &Chunks::Shape(vec![3, 2]));
    assert_eq!(
        xi.nanargmin_axis(0).compute().unwrap(),
        xi.argmin_axis(0).compute().unwrap()
    );
}

#[test]
fn reductions_in_another_type_equal_the_converted_reductions() {
    for (k, case) in nonempty_cases().into_iter().enumerate() {
        let ints = dense_small_i32(&case.shape, k as u64);
        let x = arr(&ints, &case.chunks);
        let floats = with_nans(&case.shape, k as u64);
        let y = arr(&floats, &case.chunks);
        for axes in selections(case.shape.len()) {
            let h = how(&axes, false);
            let dense_i =
                |f: &dyn Fn(&[i32]) -> f64| reduce_dense(&ints.view(), axes.as_deref(), false, f);
            let as_f32 = |a: ArrayD<f64>| a.mapv(|v| v as f32);
            let mean = dense_i(&|xs| xs.iter().map(|&v| v as f64).sum::<f64>() / xs.len() as f64);
            assert_close(
                &x.mean_as_with::<f32>(&h).compute().unwrap(),
                &as_f32(mean),
                1e-6,
            );
            let var = dense_i(&|xs| {
                let v: Vec<f64> = xs.iter().map(|&v| v as f64).collect();
                dense_nanvar(&v, 1.0)
            });
            assert_close(
                &x.var_as_with::<f32>(&h, 1.0).compute().unwrap(),
                &as_f32(var.clone()),
                1e-5,
            );
            let std = as_f32(var.mapv(f64::sqrt));
            assert_close(
                &x.std_as_with::<f32>(&h, 1.0).compute().unwrap(),
                &std,
                1e-5,
            );
            // sums of f64 with NaN in i8 (NaN converts to 0, the sum wraps) and in f32 (each
            // value converted first, as NumPy's `dtype=`)
            let want = reduce_dense(&floats.view(), axes.as_deref(), false, |xs| {
                xs.iter().fold(0i8, |s, &v| s.wrapping_add(v as i8))
            });
            assert_eq!(y.nansum_as_with::<i8>(&h).compute().unwrap(), want);
            let want = reduce_dense(&floats.view(), axes.as_deref(), false, |xs| {
                finite(xs).iter().map(|&v| v as f32 as f64).sum::<f64>() as f32
            });
            assert_close(&y.nansum_as_with::<f32>(&h).compute().unwrap(), &want, 1e-6);
        }
    }
}

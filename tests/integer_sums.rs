//! Sums and products of integer and `bool` arrays accumulate like NumPy's: in `i64` for
//! `bool` and the signed integers, in `u64` for the unsigned ones, wrapping only at 64 bits.
//! Every dtype, over every axis set, on regular and irregular chunks, against an exact i128
//! computation of the dense input; and the narrow accumulators of `sum_as`/`prod_as`.

#![allow(missing_docs)]

mod common;

use chunkwise::{Array, BuildError, Chunks, Element, Error, Numeric, Reduction, from_ndarray};
use common::*;
use ndarray::{ArrayD, IxDyn};

fn arr<T: Element>(dense: &ArrayD<T>, chunks: &Chunks) -> Array<T> {
    from_ndarray(dense, chunks.clone()).unwrap()
}

/// `n` values from `value`, deterministic in `seed`, in `shape`.
fn dense<T>(shape: &[usize], seed: u64, value: &impl Fn(&mut Lcg) -> T) -> ArrayD<T> {
    let mut g = Lcg::new(seed);
    let n = shape.iter().product();
    let v = (0..n).map(|_| value(&mut g)).collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}

/// Any value of `T` (integers over their whole range).
fn any_value<T: Element>(g: &mut Lcg) -> T {
    (g.next_u64() as i64).cast()
}

/// One of -3, -1, 1, 3 as `T` (wrapped for unsigned types): odd, so that long products wrap
/// without becoming 0.
fn odd_value<T: Element>(g: &mut Lcg) -> T {
    [-3i64, -1, 1, 3][(g.next_u64() % 4) as usize].cast()
}

/// The exact value `v` wrapped into `S`, as fixed-width arithmetic in `S` gives it.
fn wrap<S: Element>(v: i128) -> S {
    // Truncating to 64 bits keeps `v` modulo 2^64, which `as` then reduces modulo S's width.
    (v as i64).cast()
}

fn exact_sum<T: Copy + Into<i128>>(xs: &[T]) -> i128 {
    xs.iter().map(|&v| v.into()).sum()
}

fn exact_prod<T: Copy + Into<i128>>(xs: &[T]) -> i128 {
    // Modulo 2^128, which keeps every lower width's result.
    xs.iter().fold(1i128, |p, &v| p.wrapping_mul(v.into()))
}

/// The reductions over `axes` that each check runs, with whether they keep dimensions.
fn variants(axes: &Option<Vec<usize>>) -> [(Reduction, bool); 2] {
    let over = match axes {
        None => Reduction::all(),
        Some(a) => Reduction::axes(iaxes(a)),
    };
    [
        (over.clone(), false),
        (over.keepdims(true).split_every(2), true),
    ]
}

/// Every axis selection of `ndim` axes: all of them, and every subset.
fn selections(ndim: usize) -> Vec<Option<Vec<usize>>> {
    std::iter::once(None)
        .chain(axis_subsets(ndim).into_iter().map(Some))
        .collect()
}

/// `sum`, `nansum`, `prod` and `nanprod` of `T` data (from `sums` for the sums, `prods`
/// for the products) in `T::Sum`, over every case and axis set, against i128.
fn wide<T: Element + Into<i128>>(
    seed: u64,
    sums: impl Fn(&mut Lcg) -> T,
    prods: impl Fn(&mut Lcg) -> T,
) {
    for (k, case) in cases().into_iter().enumerate() {
        let a = dense(&case.shape, seed + k as u64, &sums);
        let p = dense(&case.shape, seed + 100 + k as u64, &prods);
        let (x, xp) = (arr(&a, &case.chunks), arr(&p, &case.chunks));
        for axes in selections(case.shape.len()) {
            for (how, keep) in variants(&axes) {
                let label = format!("{} {case:?} {how:?}", T::DTYPE);
                let want = reduce_dense(&a.view(), axes.as_deref(), keep, |xs| {
                    wrap::<T::Sum>(exact_sum(xs))
                });
                assert_eq!(x.sum_with(&how).compute().unwrap(), want, "sum {label}");
                assert_eq!(x.nansum_with(&how).compute().unwrap(), want, "{label}");
                let want = reduce_dense(&p.view(), axes.as_deref(), keep, |xs| {
                    wrap::<T::Sum>(exact_prod(xs))
                });
                assert_eq!(xp.prod_with(&how).compute().unwrap(), want, "prod {label}");
                assert_eq!(xp.nanprod_with(&how).compute().unwrap(), want, "{label}");
            }
        }
    }
}

/// `sum_as::<T>()` and `prod_as::<T>()` wrap in `T` itself, and `mean` is the f64 mean of
/// the exact values (no integer sum under it wraps).
fn narrow<T: Numeric + Into<i128>>(seed: u64) {
    for (k, case) in cases().into_iter().enumerate() {
        let a = dense(&case.shape, seed + k as u64, &any_value::<T>);
        let p = dense(&case.shape, seed + 100 + k as u64, &odd_value::<T>);
        let (x, xp) = (arr(&a, &case.chunks), arr(&p, &case.chunks));
        for axes in selections(case.shape.len()) {
            for (how, keep) in variants(&axes) {
                let label = format!("{} {case:?} {how:?}", T::DTYPE);
                let view = a.view();
                let want =
                    reduce_dense(&view, axes.as_deref(), keep, |xs| wrap::<T>(exact_sum(xs)));
                assert_eq!(x.sum_as_with::<T>(&how).compute().unwrap(), want, "{label}");
                let want = reduce_dense(&p.view(), axes.as_deref(), keep, |xs| {
                    wrap::<T>(exact_prod(xs))
                });
                assert_eq!(
                    xp.prod_as_with::<T>(&how).compute().unwrap(),
                    want,
                    "{label}"
                );
                // The mean: f64 values summed with compensation, so within a few ulps of the
                // sum of magnitudes.
                let got = x.mean_with(&how).compute().unwrap();
                let want = reduce_dense(&view, axes.as_deref(), keep, |xs| {
                    exact_sum(xs) as f64 / xs.len() as f64
                });
                let tol = reduce_dense(&view, axes.as_deref(), keep, |xs| {
                    let abs: f64 = xs
                        .iter()
                        .map(|&v| (Into::<i128>::into(v) as f64).abs())
                        .sum();
                    8.0 * f64::EPSILON * abs / xs.len().max(1) as f64
                });
                let got: ArrayD<f64> = got.mapv(|v| v.cast());
                assert_within(&got, &want, &tol);
            }
        }
    }
}

#[test]
fn signed_integers_sum_and_multiply_in_i64() {
    wide::<i8>(1, any_value, odd_value);
    wide::<i16>(2, any_value, odd_value);
    wide::<i32>(3, any_value, odd_value);
    wide::<i64>(4, any_value, odd_value);
}

#[test]
fn unsigned_integers_sum_and_multiply_in_u64() {
    wide::<u8>(5, any_value, odd_value);
    wide::<u16>(6, any_value, odd_value);
    wide::<u32>(7, any_value, odd_value);
    wide::<u64>(8, any_value, odd_value);
}

#[test]
fn booleans_sum_and_multiply_in_i64() {
    wide::<bool>(9, |g| g.next_u64() % 3 != 0, |g| g.next_u64() % 16 != 0);
    // Products of all-true data are 1 (an empty product too).
    wide::<bool>(10, |g| g.next_u64() % 2 == 0, |_| true);
}

#[test]
fn narrow_accumulators_wrap_as_asked() {
    narrow::<i8>(11);
    narrow::<i16>(12);
    narrow::<i32>(13);
    narrow::<i64>(14);
    narrow::<u8>(15);
    narrow::<u16>(16);
    narrow::<u32>(17);
    narrow::<u64>(18);
}

#[test]
fn three_hundred_u8_ones_sum_to_300() {
    let x = chunkwise::ones::<u8>(&[300, 2], [128, 1]).unwrap();
    assert_eq!(x.sum().compute().unwrap().scalar(), 600u64);
    let cols = x.sum_axis(0).compute().unwrap();
    assert_eq!(cols.into_raw_vec_and_offset().0, vec![300u64, 300]);
    // NumPy's sum(dtype=np.uint8) wraps: 300 = 256 + 44.
    let narrow = x.sum_as_with::<u8>(&Reduction::axis(0)).compute().unwrap();
    assert_eq!(narrow.into_raw_vec_and_offset().0, vec![44u8, 44]);
    // The mean never went through a u8 sum.
    let mean = (&x * 200u8).mean().compute().unwrap().scalar();
    assert_eq!(mean, 200.0);
    // Nor does a boolean count.
    let flags = x.greater(0u8);
    assert_eq!(flags.sum().compute().unwrap().scalar(), 600i64);
    assert_eq!(flags.sum_axis(1).compute().unwrap().sum(), 600i64);
}

#[test]
fn float_sums_keep_their_type_and_nan_products_skip_nan() {
    let a =
        ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![2.0f32, f32::NAN, 3.0, 0.5, 4.0, 8.0]).unwrap();
    let x = arr(&a, &Chunks::Shape(vec![1, 2]));
    let rows = x.nanprod_axis(1).compute().unwrap();
    assert_eq!(rows.into_raw_vec_and_offset().0, vec![6.0f32, 16.0]);
    assert!(x.prod().compute().unwrap().scalar().is_nan());
    assert_eq!(x.nanprod().compute().unwrap().scalar(), 96.0f32);
    assert_eq!(x.nansum().compute().unwrap().scalar(), 17.5f32);
    // f32 in, f32 out: the sum type of a float is itself.
    let total: ArrayD<f32> = x.nansum_axis(0).compute().unwrap();
    assert_eq!(total.into_raw_vec_and_offset().0, vec![2.5f32, 4.0, 11.0]);
}

/// The line of the plan's root node.
fn root_line(plan: &str) -> String {
    plan.lines()
        .nth(1)
        .expect("a plan names its root")
        .to_string()
}

#[test]
fn wide_sums_read_the_narrow_values_in_one_pass() {
    let a = dense(&[300, 2], 1, &any_value::<u8>);
    let x = arr(&a, &Chunks::Shape(vec![128, 1]));
    // No astype: the fold reads u8 and accumulates in u64.
    let sum = root_line(&x.sum().explain().unwrap());
    assert!(
        sum.starts_with("#0 Reduce sum over axes [0, 1]  [shape [] uint64"),
        "{sum}"
    );
    // The sum and the mean of one array fold it once.
    let (s, m) = (x.sum_axis(0), x.mean_axis(0));
    let both = (&s.astype::<f64>() - &m).explain().unwrap();
    assert!(both.contains("Reduce sum + mean over axes [0]"), "{both}");
    let sums = reduce_dense(&a.view(), Some(&[0]), false, |xs| exact_sum(xs) as f64);
    let got = chunkwise::compute_many(&[&s.astype::<f64>(), &m]).unwrap();
    assert_eq!(got[0], sums);
    assert_eq!(got[1], sums.mapv(|v| v / 300.0));
    // A narrow accumulator of another type converts in the reduction's fused program.
    let narrow = root_line(&x.sum_as::<u16>().explain().unwrap());
    assert!(
        narrow.contains("of astype[uint16](in0)") && narrow.contains("uint16 in 1 tile"),
        "{narrow}"
    );
}

fn empty_reduction<T>(result: Result<ArrayD<T>, Error>) -> bool {
    matches!(result, Err(Error::Build(BuildError::EmptyReduction { .. })))
}

/// The first index of `want` in `xs`, or 0 (where every value is the other one).
fn first(xs: &[bool], want: bool) -> u64 {
    xs.iter().position(|&b| b == want).unwrap_or(0) as u64
}

#[test]
fn booleans_have_numpys_extremes() {
    for (k, case) in cases().into_iter().enumerate() {
        // All false, mostly false, mostly true, all true.
        for t in [0, 1, 4, 5] {
            let p = dense(&case.shape, 40 + k as u64, &|g| g.next_u64() % 5 < t);
            let x = arr(&p, &case.chunks);
            for axes in selections(case.shape.len()) {
                for (how, keep) in variants(&axes) {
                    let label = format!("{case:?} {how:?}");
                    let view = p.view();
                    let n: usize = match &axes {
                        None => p.len(),
                        Some(a) => a.iter().map(|&i| case.shape[i]).product(),
                    };
                    if n == 0 {
                        assert!(empty_reduction(x.min_with(&how).compute()), "{label}");
                        assert!(empty_reduction(x.argmax_with(&how).compute()), "{label}");
                        continue;
                    }
                    let want =
                        reduce_dense(&view, axes.as_deref(), keep, |xs| xs.iter().all(|&b| b));
                    assert_eq!(x.min_with(&how).compute().unwrap(), want, "min {label}");
                    assert_eq!(x.nanmin_with(&how).compute().unwrap(), want, "{label}");
                    let want =
                        reduce_dense(&view, axes.as_deref(), keep, |xs| xs.iter().any(|&b| b));
                    assert_eq!(x.max_with(&how).compute().unwrap(), want, "max {label}");
                    assert_eq!(x.nanmax_with(&how).compute().unwrap(), want, "{label}");
                    let want = reduce_dense(&view, axes.as_deref(), keep, |xs| first(xs, false));
                    assert_eq!(
                        x.argmin_with(&how).compute().unwrap(),
                        want,
                        "argmin {label}"
                    );
                    let want = reduce_dense(&view, axes.as_deref(), keep, |xs| first(xs, true));
                    assert_eq!(
                        x.argmax_with(&how).compute().unwrap(),
                        want,
                        "argmax {label}"
                    );
                }
            }
        }
    }
}

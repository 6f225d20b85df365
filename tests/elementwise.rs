//! Elementwise operations against dense ndarray computations of the same thing.

#![allow(missing_docs)]

mod common;

use chunkwise::{Array, BuildError, Chunks, Element, Error, ExecError, from_ndarray, where_};
use common::*;
use ndarray::{ArrayD, IxDyn, arr1};

fn arr<T: Element>(dense: &ArrayD<T>, chunks: &Chunks) -> Array<T> {
    from_ndarray(dense, chunks.clone()).unwrap()
}

fn ulp_tol_f64() -> f64 {
    2e-15
}

fn ulp_tol_f32() -> f64 {
    3e-7
}

type UnaryF64 = (
    &'static str,
    fn(&Array<f64>) -> Array<f64>,
    fn(f64) -> f64,
    f64,
    f64,
);
type UnaryF32 = (
    &'static str,
    fn(&Array<f32>) -> Array<f32>,
    fn(f32) -> f32,
    f64,
    f64,
);

/// The float unary methods whose name and meaning are std's, with an input domain each.
macro_rules! float_unary_table {
    ($($name:ident [$lo:expr, $hi:expr]),* $(,)?) => {
        fn unary_f64() -> Vec<UnaryF64> {
            vec![$((stringify!($name), |a: &Array<f64>| a.$name(), |x: f64| x.$name(), $lo, $hi)),*]
        }
        fn unary_f32() -> Vec<UnaryF32> {
            vec![$((stringify!($name), |a: &Array<f32>| a.$name(), |x: f32| x.$name(), $lo, $hi)),*]
        }
    };
}

float_unary_table! {
    abs[-10.0, 10.0],
    sqrt[0.0, 100.0],
    cbrt[-100.0, 100.0],
    exp[-30.0, 30.0],
    exp2[-40.0, 40.0],
    exp_m1[-5.0, 5.0],
    ln[0.001, 1000.0],
    log2[0.001, 1000.0],
    log10[0.001, 1000.0],
    ln_1p[-0.99, 100.0],
    sin[-10.0, 10.0],
    cos[-10.0, 10.0],
    tan[-10.0, 10.0],
    asin[-1.0, 1.0],
    acos[-1.0, 1.0],
    atan[-50.0, 50.0],
    sinh[-20.0, 20.0],
    cosh[-20.0, 20.0],
    tanh[-10.0, 10.0],
    floor[-10.0, 10.0],
    ceil[-10.0, 10.0],
    round[-10.0, 10.0],
    trunc[-10.0, 10.0],
    recip[-10.0, 10.0],
}

#[test]
fn float_unary_f64_all_shapes() {
    for (name, op, dense_op, lo, hi) in unary_f64() {
        for (k, case) in cases().into_iter().enumerate() {
            let dense = dense_f64_in(&case.shape, k as u64 + 1, lo, hi);
            let got = op(&arr(&dense, &case.chunks)).compute().unwrap();
            let want = dense.mapv(dense_op);
            eprintln!("{name} on {case:?}");
            assert_close(&got, &want, ulp_tol_f64());
        }
    }
}

#[test]
fn float_unary_f32_all_shapes() {
    for (name, op, dense_op, lo, hi) in unary_f32() {
        for (k, case) in cases().into_iter().enumerate() {
            let dense = dense_f64_in(&case.shape, k as u64 + 100, lo, hi).mapv(|x| x as f32);
            let got = op(&arr(&dense, &case.chunks)).compute().unwrap();
            let want = dense.mapv(dense_op);
            eprintln!("{name} on {case:?}");
            assert_close(&got, &want, ulp_tol_f32());
        }
    }
}

fn specials_f64() -> Vec<f64> {
    vec![
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        2.0,
        1e300,
        -1e300,
        5e-324,
        1e-310,
        -1e-310,
        710.0,
        -745.0,
        1e7,
        -3.0e9,
        std::f64::consts::PI,
        std::f64::consts::FRAC_PI_2,
        2.5,
        -2.5,
        0.49999999999999994,
    ]
}

#[test]
fn float_unary_special_values_f64() {
    let xs = specials_f64();
    let dense = arr1(&xs).into_dyn();
    for (name, op, dense_op, _, _) in unary_f64() {
        let got = op(&arr(&dense, &Chunks::Shape(vec![5]))).compute().unwrap();
        let want = dense.mapv(dense_op);
        for ((&x, &g), &w) in xs.iter().zip(&got).zip(&want) {
            assert!(
                close(g, w, ulp_tol_f64()),
                "{name}({x:e}) = {g:e}, std gives {w:e}"
            );
            if w == 0.0 && g == 0.0 && !matches!(name, "acos") {
                assert_eq!(
                    g.is_sign_negative(),
                    w.is_sign_negative(),
                    "{name}({x:e}) sign of zero: {g:e} vs {w:e}"
                );
            }
        }
    }
}

#[test]
fn float_unary_special_values_f32() {
    let xs: Vec<f32> = specials_f64().into_iter().map(|x| x as f32).collect();
    let dense = arr1(&xs).into_dyn();
    for (name, op, dense_op, _, _) in unary_f32() {
        let got = op(&arr(&dense, &Chunks::Shape(vec![7]))).compute().unwrap();
        let want = dense.mapv(dense_op);
        for ((&x, &g), &w) in xs.iter().zip(&got).zip(&want) {
            assert!(
                close(g as f64, w as f64, ulp_tol_f32()),
                "{name}({x:e}) = {g:e}, std gives {w:e}"
            );
        }
    }
}

#[test]
fn trig_of_large_arguments() {
    let dense = dense_f64_in(&[300], 9, -1e9, 1e9);
    let x = arr(&dense, &Chunks::Shape(vec![64]));
    assert_close(&x.sin().compute().unwrap(), &dense.mapv(f64::sin), 1e-14);
    assert_close(&x.cos().compute().unwrap(), &dense.mapv(f64::cos), 1e-14);
    assert_close(&x.tan().compute().unwrap(), &dense.mapv(f64::tan), 1e-14);
}

#[test]
fn signum_and_neg_are_numpy_like() {
    let xs = vec![
        -3.5,
        -0.0,
        0.0,
        2.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    let dense = arr1(&xs).into_dyn();
    let x = arr(&dense, &Chunks::Shape(vec![3]));
    let s = x.signum().compute().unwrap();
    // NumPy's sign: 0 for zero (not std's +-1), NaN for NaN
    let want = [-1.0, 0.0, 0.0, 1.0, f64::NAN, 1.0, -1.0];
    for (g, w) in s.iter().zip(want) {
        assert!(close(*g, w, 0.0), "{s:?}");
    }
    let n = (-&x).compute().unwrap();
    assert_same_f64(&n, &dense.mapv(|v| -v));
    let n2 = (-x.clone()).compute().unwrap();
    assert_same_f64(&n2, &dense.mapv(|v| -v));

    let ints = arr1(&[-5i32, 0, 7, i32::MIN]).into_dyn();
    let xi = arr(&ints, &Chunks::Shape(vec![3]));
    assert_eq!(
        xi.signum().compute().unwrap(),
        arr1(&[-1, 0, 1, -1]).into_dyn()
    );
    assert_eq!(
        (-&xi).compute().unwrap(),
        arr1(&[5, 0, -7, i32::MIN]).into_dyn()
    );
    assert_eq!(
        xi.abs().compute().unwrap(),
        arr1(&[5, 0, 7, i32::MIN]).into_dyn()
    );
}

/// Float arithmetic is IEEE: every result must be bit-identical to the dense one.
macro_rules! float_arith_test {
    ($test:ident, $t:ty, $gen:expr) => {
        #[test]
        fn $test() {
            let gen_fn = $gen;
            for (k, case) in cases().into_iter().enumerate() {
                let a: ArrayD<$t> = gen_fn(&case.shape, 2 * k as u64 + 1);
                let b: ArrayD<$t> = gen_fn(&case.shape, 2 * k as u64 + 2);
                let (x, y) = (arr(&a, &case.chunks), arr(&b, &case.chunks));
                let s: $t = 1.75;
                let checks: Vec<(&str, Array<$t>, ArrayD<$t>)> = vec![
                    ("a+b", &x + &y, a.mapv(|v| v) + &b),
                    ("a-b", &x - &y, &a - &b),
                    ("a*b", &x * &y, &a * &b),
                    ("a/b", &x / &y, &a / &b),
                    ("a%b", &x % &y, &a % &b),
                    ("owned a+b", x.clone() + y.clone(), &a + &b),
                    ("owned a-&b", x.clone() - &y, &a - &b),
                    ("&a*owned b", &x * y.clone(), &a * &b),
                    ("a+s", &x + s, a.mapv(|v| v + s)),
                    ("a-s", &x - s, a.mapv(|v| v - s)),
                    ("a*s", x.clone() * s, a.mapv(|v| v * s)),
                    ("a/s", &x / s, a.mapv(|v| v / s)),
                    ("a%s", &x % s, a.mapv(|v| v % s)),
                    ("s+a", s + &x, a.mapv(|v| s + v)),
                    ("s-a", s - &x, a.mapv(|v| s - v)),
                    ("s*a", s * x.clone(), a.mapv(|v| s * v)),
                    ("s/a", s / &x, a.mapv(|v| s / v)),
                    ("s%a", s % &x, a.mapv(|v| s % v)),
                    ("-a", -&x, a.mapv(|v| -v)),
                    (
                        "max",
                        x.maximum(&y),
                        ndarray::Zip::from(&a)
                            .and(&b)
                            .map_collect(|&p, &q| p.max(q)),
                    ),
                    (
                        "min",
                        x.minimum(&y),
                        ndarray::Zip::from(&a)
                            .and(&b)
                            .map_collect(|&p, &q| p.min(q)),
                    ),
                    ("max s", x.maximum(s), a.mapv(|v| v.max(s))),
                    ("min s", x.minimum(s), a.mapv(|v| v.min(s))),
                    ("clip", x.clip(-2.0, 3.0), a.mapv(|v| v.clamp(-2.0, 3.0))),
                    ("abs", x.abs(), a.mapv(|v| v.abs())),
                ];
                for (name, got, want) in checks {
                    let got = got.compute().unwrap();
                    assert_eq!(got.shape(), want.shape(), "{name} {case:?}");
                    for (g, w) in got.iter().zip(&want) {
                        assert!(
                            g.to_bits() == w.to_bits(),
                            "{name} on {case:?}: {g:e} vs {w:e}"
                        );
                    }
                }
            }
        }
    };
}

float_arith_test!(arith_f64_all_shapes, f64, dense_f64);
float_arith_test!(arith_f32_all_shapes, f32, dense_f32);

fn int_div(a: i32, b: i32) -> i32 {
    if b == 0 { 0 } else { a.wrapping_div(b) }
}

fn int_rem(a: i32, b: i32) -> i32 {
    if b == 0 { 0 } else { a.wrapping_rem(b) }
}

#[test]
fn arith_i32_all_shapes() {
    for (k, case) in cases().into_iter().enumerate() {
        let a = dense_i32(&case.shape, 3 * k as u64 + 1);
        // small values: many zeros, so division by zero is exercised
        let b = dense_small_i32(&case.shape, 3 * k as u64 + 2);
        let (x, y) = (arr(&a, &case.chunks), arr(&b, &case.chunks));
        let zip =
            |f: fn(i32, i32) -> i32| ndarray::Zip::from(&a).and(&b).map_collect(|&p, &q| f(p, q));
        let checks: Vec<(&str, Array<i32>, ArrayD<i32>)> = vec![
            ("a+b", &x + &y, zip(i32::wrapping_add)),
            ("a-b", &x - &y, zip(i32::wrapping_sub)),
            ("a*b", &x * &y, zip(i32::wrapping_mul)),
            ("a/b", &x / &y, zip(int_div)),
            ("a%b", &x % &y, zip(int_rem)),
            ("a+3", &x + 3, a.mapv(|v| v + 3)),
            ("a-3", &x - 3, a.mapv(|v| v - 3)),
            ("a*3", &x * 3, a.mapv(|v| v * 3)),
            ("a/3", &x / 3, a.mapv(|v| v / 3)),
            ("a%3", &x % 3, a.mapv(|v| v % 3)),
            ("a/0", &x / 0, a.mapv(|_| 0)),
            ("a%0", &x % 0, a.mapv(|_| 0)),
            ("3+b", 3 + &y, b.mapv(|v| 3 + v)),
            ("3-b", 3 - &y, b.mapv(|v| 3 - v)),
            ("3*b", 3 * y.clone(), b.mapv(|v| 3 * v)),
            ("7/b", 7 / &y, b.mapv(|v| int_div(7, v))),
            ("7%b", 7 % &y, b.mapv(|v| int_rem(7, v))),
            ("-a", -&x, a.mapv(|v| -v)),
            ("abs", x.abs(), a.mapv(|v| v.abs())),
            ("max", x.maximum(&y), zip(|p, q| p.max(q))),
            ("min", x.minimum(&y), zip(|p, q| p.min(q))),
            ("clip", x.clip(-10, 20), a.mapv(|v| v.clamp(-10, 20))),
        ];
        for (name, got, want) in checks {
            assert_eq!(got.compute().unwrap(), want, "{name} on {case:?}");
        }
    }
}

/// Integer arithmetic wraps on overflow and gives 0 for division and remainder by zero, like
/// NumPy's fixed-width integers (the remainder takes the dividend's sign, like Rust's `%`).
#[test]
#[allow(clippy::modulo_one)]
fn integer_overflow_wraps_and_division_by_zero_is_zero() {
    let c = Chunks::Shape(vec![2]);
    let a = arr(&arr1(&[i32::MAX, i32::MIN, 7, -7, i32::MIN]).into_dyn(), &c);
    let b = arr(&arr1(&[1, 1, 0, 3, -1]).into_dyn(), &c);
    assert_eq!(
        (&a + &b).compute().unwrap(),
        arr1(&[i32::MIN, i32::MIN + 1, 7, -4, i32::MAX]).into_dyn()
    );
    assert_eq!(
        (&a - &b).compute().unwrap(),
        arr1(&[i32::MAX - 1, i32::MAX, 7, -10, i32::MIN + 1]).into_dyn()
    );
    assert_eq!(
        (&a * 2).compute().unwrap(),
        arr1(&[-2, 0, 14, -14, 0]).into_dyn()
    );
    assert_eq!(
        (&a / &b).compute().unwrap(),
        arr1(&[i32::MAX, i32::MIN, 0, -2, i32::MIN]).into_dyn()
    );
    assert_eq!(
        (&a % &b).compute().unwrap(),
        arr1(&[0, 0, 0, -1, 0]).into_dyn()
    );
    assert_eq!(
        (-&a).compute().unwrap(),
        arr1(&[-i32::MAX, i32::MIN, -7, 7, i32::MIN]).into_dyn()
    );

    let u = arr(&arr1(&[250u8, 3, 0, 255]).into_dyn(), &c);
    assert_eq!(
        (&u + 10u8).compute().unwrap(),
        arr1(&[4u8, 13, 10, 9]).into_dyn()
    );
    assert_eq!(
        (5u8 - &u).compute().unwrap(),
        arr1(&[11u8, 2, 5, 6]).into_dyn()
    );
    assert_eq!(
        (&u * 2u8).compute().unwrap(),
        arr1(&[244u8, 6, 0, 254]).into_dyn()
    );
    assert_eq!((-&u).compute().unwrap(), arr1(&[6u8, 253, 0, 1]).into_dyn());
    assert_eq!(
        (100u8 / &u).compute().unwrap(),
        arr1(&[0u8, 33, 0, 0]).into_dyn()
    );
    assert_eq!(
        (100u8 % &u).compute().unwrap(),
        arr1(&[100u8, 1, 0, 100]).into_dyn()
    );

    let i8s = arr(&arr1(&[i8::MIN, -128, 127]).into_dyn(), &c);
    assert_eq!(
        (&i8s / -1i8).compute().unwrap(),
        arr1(&[i8::MIN, i8::MIN, -127]).into_dyn()
    );
    assert_eq!(
        (&i8s % -1i8).compute().unwrap(),
        arr1(&[0i8, 0, 0]).into_dyn()
    );
    assert_eq!(
        i8s.abs().compute().unwrap(),
        arr1(&[i8::MIN, i8::MIN, 127]).into_dyn()
    );

    let i64s = arr(&arr1(&[i64::MAX, i64::MIN]).into_dyn(), &c);
    assert_eq!(
        (&i64s + 1i64).compute().unwrap(),
        arr1(&[i64::MIN, i64::MIN + 1]).into_dyn()
    );
    assert_eq!(
        (&i64s / 0i64).compute().unwrap(),
        arr1(&[0i64, 0]).into_dyn()
    );
}

#[test]
fn float_division_by_zero_is_ieee() {
    let a = arr(
        &arr1(&[1.0, -1.0, 0.0, f64::NAN]).into_dyn(),
        &Chunks::Shape(vec![3]),
    );
    let got = (&a / 0.0).compute().unwrap();
    let want = arr1(&[f64::INFINITY, f64::NEG_INFINITY, f64::NAN, f64::NAN]).into_dyn();
    assert_close(&got, &want, 0.0);
    let got = (&a % 0.0).compute().unwrap();
    assert!(got.iter().all(|v| v.is_nan()));
}

#[test]
fn maximum_minimum_propagate_nan() {
    let a = arr1(&[1.0, f64::NAN, 3.0, f64::NAN, -0.5]).into_dyn();
    let b = arr1(&[f64::NAN, 2.0, 1.0, f64::NAN, 0.5]).into_dyn();
    let c = Chunks::Shape(vec![2]);
    let (x, y) = (arr(&a, &c), arr(&b, &c));
    let nan = f64::NAN;
    assert_close(
        &x.maximum(&y).compute().unwrap(),
        &arr1(&[nan, nan, 3.0, nan, 0.5]).into_dyn(),
        0.0,
    );
    assert_close(
        &x.minimum(&y).compute().unwrap(),
        &arr1(&[nan, nan, 1.0, nan, -0.5]).into_dyn(),
        0.0,
    );
    assert_close(
        &x.maximum(2.0).compute().unwrap(),
        &arr1(&[2.0, nan, 3.0, nan, 2.0]).into_dyn(),
        0.0,
    );
    assert_close(
        &x.minimum(f64::NAN).compute().unwrap(),
        &arr1(&[nan; 5]).into_dyn(),
        0.0,
    );
    assert_close(
        &x.clip(0.0, 2.0).compute().unwrap(),
        &arr1(&[1.0, nan, 2.0, nan, 0.0]).into_dyn(),
        0.0,
    );
}

#[test]
fn binary_float_functions() {
    for (k, case) in cases().into_iter().enumerate() {
        let a = dense_f64(&case.shape, 10 + k as u64);
        let b = dense_f64(&case.shape, 50 + k as u64);
        let base = dense_f64_in(&case.shape, 90 + k as u64, 0.01, 10.0);
        let expo = dense_f64_in(&case.shape, 130 + k as u64, -3.0, 3.0);
        let (x, y) = (arr(&a, &case.chunks), arr(&b, &case.chunks));
        let (p, e) = (arr(&base, &case.chunks), arr(&expo, &case.chunks));
        let zip = |l: &ArrayD<f64>, r: &ArrayD<f64>, f: fn(f64, f64) -> f64| {
            ndarray::Zip::from(l).and(r).map_collect(|&u, &v| f(u, v))
        };
        let tol = ulp_tol_f64();
        assert_close(
            &x.atan2(&y).compute().unwrap(),
            &zip(&a, &b, f64::atan2),
            tol,
        );
        assert_close(
            &x.atan2(-1.5).compute().unwrap(),
            &a.mapv(|v| v.atan2(-1.5)),
            tol,
        );
        assert_close(
            &x.hypot(&y).compute().unwrap(),
            &zip(&a, &b, f64::hypot),
            tol,
        );
        assert_close(
            &x.hypot(3.0).compute().unwrap(),
            &a.mapv(|v| v.hypot(3.0)),
            tol,
        );
        assert_close(
            &p.powf(&e).compute().unwrap(),
            &zip(&base, &expo, f64::powf),
            4.0 * tol,
        );
        assert_close(
            &p.powf(0.5).compute().unwrap(),
            &base.mapv(|v| v.powf(0.5)),
            4.0 * tol,
        );
        for n in [-3, -1, 0, 1, 2, 3, 7] {
            assert_close(&x.powi(n).compute().unwrap(), &a.mapv(|v| v.powi(n)), tol);
        }
        // f32 versions
        let (a32, b32) = (a.mapv(|v| v as f32), b.mapv(|v| v as f32));
        let (x32, y32) = (arr(&a32, &case.chunks), arr(&b32, &case.chunks));
        let got = x32.atan2(&y32).compute().unwrap();
        let want = ndarray::Zip::from(&a32)
            .and(&b32)
            .map_collect(|&u, &v| u.atan2(v));
        assert_close(&got, &want, ulp_tol_f32());
        let got = x32.hypot(&y32).compute().unwrap();
        let want = ndarray::Zip::from(&a32)
            .and(&b32)
            .map_collect(|&u, &v| u.hypot(v));
        assert_close(&got, &want, ulp_tol_f32());
        let got = x32.powi(3).compute().unwrap();
        assert_close(&got, &a32.mapv(|v| v.powi(3)), ulp_tol_f32());
    }
}

#[test]
fn powf_negative_base_and_special_values() {
    let xs = [
        -2.0,
        -2.0,
        -0.5,
        -8.0,
        0.0,
        -0.0,
        2.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1.0,
        f64::NAN,
        -1.0,
    ];
    let ys = [
        3.0,
        2.0,
        -3.0,
        1.0 / 3.0,
        -1.0,
        -1.0,
        f64::NAN,
        -2.0,
        3.0,
        f64::NAN,
        0.0,
        f64::INFINITY,
    ];
    let (a, b) = (arr1(&xs).into_dyn(), arr1(&ys).into_dyn());
    let c = Chunks::Shape(vec![5]);
    let got = arr(&a, &c).powf(arr(&b, &c)).compute().unwrap();
    let want = ndarray::Zip::from(&a)
        .and(&b)
        .map_collect(|&u, &v| u.powf(v));
    assert_close(&got, &want, 4.0 * ulp_tol_f64());
}

#[test]
fn comparisons_f64_with_nan() {
    for (k, case) in cases().into_iter().enumerate() {
        let mut a = dense_f64(&case.shape, 200 + k as u64).mapv(|v| v.round());
        let b = dense_f64(&case.shape, 300 + k as u64).mapv(|v| v.round());
        // some NaNs
        for (i, v) in a.iter_mut().enumerate() {
            if i % 5 == 2 {
                *v = f64::NAN;
            }
        }
        let (x, y) = (arr(&a, &case.chunks), arr(&b, &case.chunks));
        let z = |f: fn(&f64, &f64) -> bool| ndarray::Zip::from(&a).and(&b).map_collect(f);
        assert_eq!(x.equal(&y).compute().unwrap(), z(|p, q| p == q), "{case:?}");
        assert_eq!(x.not_equal(&y).compute().unwrap(), z(|p, q| p != q));
        assert_eq!(x.less(&y).compute().unwrap(), z(|p, q| p < q));
        assert_eq!(x.less_equal(&y).compute().unwrap(), z(|p, q| p <= q));
        assert_eq!(x.greater(&y).compute().unwrap(), z(|p, q| p > q));
        assert_eq!(x.greater_equal(&y).compute().unwrap(), z(|p, q| p >= q));
        assert_eq!(x.less(1.0).compute().unwrap(), a.mapv(|v| v < 1.0));
        assert_eq!(
            x.greater_equal(1.0).compute().unwrap(),
            a.mapv(|v| v >= 1.0)
        );
        assert_eq!(x.equal(f64::NAN).compute().unwrap(), a.mapv(|_| false));
        assert_eq!(
            x.not_equal(x.clone()).compute().unwrap(),
            a.mapv(|v| v.is_nan())
        );
        assert_eq!(x.isnan().compute().unwrap(), a.mapv(f64::is_nan));
        assert_eq!(x.isfinite().compute().unwrap(), a.mapv(f64::is_finite));
        assert_eq!(x.isinf().compute().unwrap(), a.mapv(f64::is_infinite));
    }
}

#[test]
fn classification_of_special_values() {
    let xs = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MAX,
        f64::MIN,
        0.0,
        -0.0,
        5e-324,
    ];
    let a = arr1(&xs).into_dyn();
    let x = arr(&a, &Chunks::Shape(vec![3]));
    assert_eq!(x.isnan().compute().unwrap(), a.mapv(f64::is_nan));
    assert_eq!(x.isfinite().compute().unwrap(), a.mapv(f64::is_finite));
    assert_eq!(x.isinf().compute().unwrap(), a.mapv(f64::is_infinite));
    let a32 = a.mapv(|v| v as f32);
    let x32 = arr(&a32, &Chunks::Shape(vec![3]));
    assert_eq!(x32.isfinite().compute().unwrap(), a32.mapv(f32::is_finite));
    assert_eq!(x32.isinf().compute().unwrap(), a32.mapv(f32::is_infinite));
    // integers: never NaN or infinite, always finite, even at their extremes
    let ints = arr1(&[i32::MIN, -1, 0, i32::MAX]).into_dyn();
    let xi = arr(&ints, &Chunks::Shape(vec![3]));
    assert_eq!(xi.isnan().compute().unwrap(), ints.mapv(|_| false));
    assert_eq!(xi.isfinite().compute().unwrap(), ints.mapv(|_| true));
    assert_eq!(xi.isinf().compute().unwrap(), ints.mapv(|_| false));
}

#[test]
fn comparisons_and_logic_on_ints_and_bools() {
    for (k, case) in cases().into_iter().enumerate() {
        let a = dense_small_i32(&case.shape, 400 + k as u64);
        let b = dense_small_i32(&case.shape, 500 + k as u64);
        let (x, y) = (arr(&a, &case.chunks), arr(&b, &case.chunks));
        let z = |f: fn(&i32, &i32) -> bool| ndarray::Zip::from(&a).and(&b).map_collect(f);
        assert_eq!(x.equal(&y).compute().unwrap(), z(|p, q| p == q));
        assert_eq!(x.less(&y).compute().unwrap(), z(|p, q| p < q));
        assert_eq!(x.greater(0).compute().unwrap(), a.mapv(|v| v > 0));
        assert_eq!(x.less_equal(0).compute().unwrap(), a.mapv(|v| v <= 0));

        let p = dense_bool(&case.shape, k as u64);
        let q = dense_bool(&case.shape, k as u64 + 1);
        let (bp, bq) = (arr(&p, &case.chunks), arr(&q, &case.chunks));
        let zb = |f: fn(bool, bool) -> bool| {
            ndarray::Zip::from(&p).and(&q).map_collect(|&u, &v| f(u, v))
        };
        assert_eq!((&bp & &bq).compute().unwrap(), zb(|u, v| u & v), "{case:?}");
        assert_eq!((&bp | &bq).compute().unwrap(), zb(|u, v| u | v));
        assert_eq!((&bp ^ &bq).compute().unwrap(), zb(|u, v| u ^ v));
        assert_eq!(
            (bp.clone() & bq.clone()).compute().unwrap(),
            zb(|u, v| u & v)
        );
        assert_eq!((!&bp).compute().unwrap(), p.mapv(|u| !u));
        assert_eq!((!bp.clone()).compute().unwrap(), p.mapv(|u| !u));
        assert_eq!((&bp & true).compute().unwrap(), p.clone());
        assert_eq!((&bp & false).compute().unwrap(), p.mapv(|_| false));
        assert_eq!((&bp | true).compute().unwrap(), p.mapv(|_| true));
        assert_eq!((&bp ^ true).compute().unwrap(), p.mapv(|u| !u));
        assert_eq!(bp.equal(&bq).compute().unwrap(), zb(|u, v| u == v));
        assert_eq!(bp.less(&bq).compute().unwrap(), zb(|u, v| !u & v));
        // a chain of comparisons and logic
        let chain = (x.greater(-2) & x.less(&y)) | !y.equal(0);
        let want = ndarray::Zip::from(&a)
            .and(&b)
            .map_collect(|&u, &v| (u > -2 && u < v) || v != 0);
        assert_eq!(chain.compute().unwrap(), want);
    }
}

/// (shape a, chunks a, shape b, chunks b)
fn broadcast_pairs() -> Vec<(Vec<usize>, Chunks, Vec<usize>, Chunks)> {
    let s = |v: &[usize]| Chunks::Shape(v.to_vec());
    let z = |v: &[&[usize]]| Chunks::Sizes(v.iter().map(|x| x.to_vec()).collect());
    vec![
        (vec![10], s(&[3]), vec![10], s(&[4])),
        (vec![10], z(&[&[3, 1, 4, 2]]), vec![10], z(&[&[5, 5]])),
        (vec![4, 5], s(&[2, 2]), vec![5], s(&[3])),
        (vec![4, 1], s(&[3, 1]), vec![1, 5], s(&[1, 2])),
        (vec![3, 1, 4], s(&[2, 1, 3]), vec![4], s(&[1])),
        (vec![], s(&[]), vec![3, 4], s(&[2, 3])),
        (vec![3, 4], s(&[2, 3]), vec![], s(&[])),
        (vec![1], s(&[1]), vec![6, 1], s(&[4, 1])),
        (
            vec![6, 5],
            z(&[&[3, 1, 2], &[2, 3]]),
            vec![6, 5],
            s(&[4, 2]),
        ),
        (
            vec![6, 5],
            z(&[&[3, 1, 2], &[2, 3]]),
            vec![6, 1],
            z(&[&[1, 5], &[1]]),
        ),
        (
            vec![2, 3, 4, 5],
            s(&[1, 2, 3, 2]),
            vec![3, 1, 5],
            z(&[&[1, 2], &[1], &[4, 1]]),
        ),
        (vec![0, 3], s(&[2, 2]), vec![1, 3], s(&[1, 1])),
        (vec![0], s(&[1]), vec![1], s(&[1])),
        (vec![4, 0], s(&[2, 2]), vec![4, 1], s(&[3, 1])),
    ]
}

#[test]
fn broadcasting_and_grid_unification() {
    for (k, (sa, ca, sb, cb)) in broadcast_pairs().into_iter().enumerate() {
        let a = dense_f64(&sa, 600 + k as u64);
        let b = dense_f64(&sb, 700 + k as u64);
        let (x, y) = (arr(&a, &ca), arr(&b, &cb));
        let label = format!("{sa:?}/{ca:?} with {sb:?}/{cb:?}");
        let got = (&x + &y).compute().unwrap();
        assert_eq!(got, zip_dense(&a, &b, |u, v| u + v), "{label}");
        let got = (&y - &x).compute().unwrap();
        assert_eq!(got, zip_dense(&b, &a, |u, v| u - v), "{label}");
        let got = ((&x * &y).sin() + &x).compute().unwrap();
        assert_close(
            &got,
            &zip_dense(&a, &b, |u, v| (u * v).sin() + u),
            ulp_tol_f64(),
        );
        let got = x.atan2(&y).compute().unwrap();
        assert_close(&got, &zip_dense(&a, &b, f64::atan2), ulp_tol_f64());
        let got = x.greater(&y).compute().unwrap();
        assert_eq!(got, zip_dense(&a, &b, |u, v| u > v), "{label}");
        let got = x.maximum(&y).compute().unwrap();
        assert_eq!(got, zip_dense(&a, &b, f64::max), "{label}");
        let got = x
            .zip_map(&y.astype::<f32>(), |u, v| u * 2.0 + v as f64)
            .compute()
            .unwrap();
        assert_eq!(
            got,
            zip_dense(&a, &b, |u, v| u * 2.0 + (v as f32) as f64),
            "{label}"
        );
    }
}

#[test]
fn broadcasting_a_transposed_operand() {
    let a = dense_f64(&[5, 7], 1);
    let b = dense_f64(&[7, 5], 2);
    let x = arr(&a, &Chunks::Sizes(vec![vec![2, 3], vec![4, 3]]));
    let y = arr(&b, &Chunks::Shape(vec![3, 2]));
    let got = (&x * &y.transpose()).compute().unwrap();
    let want = &a * &b.t();
    assert_eq!(got, want);
}

#[test]
fn broadcast_mismatch_is_an_error() {
    let a = from_ndarray(&dense_f64(&[3], 1), [2]).unwrap();
    let b = from_ndarray(&dense_f64(&[4], 2), [2]).unwrap();
    let sum = &a + &b;
    assert!(
        matches!(sum.check(), Err(Error::Build(BuildError::Broadcast { .. }))),
        "{:?}",
        sum.check()
    );
    assert!(matches!(
        sum.compute(),
        Err(Error::Build(BuildError::Broadcast { .. }))
    ));
    // the error travels through later operations
    let later = (&sum * 2.0).sin().sum();
    assert!(matches!(
        later.check(),
        Err(Error::Build(BuildError::Broadcast { .. }))
    ));
    assert!(matches!(
        later.compute(),
        Err(Error::Build(BuildError::Broadcast { .. }))
    ));
    let cmp = a.less(&b);
    assert!(matches!(
        cmp.compute(),
        Err(Error::Build(BuildError::Broadcast { .. }))
    ));
    let c = from_ndarray(&dense_f64(&[2, 3], 3), [1, 3]).unwrap();
    let d = from_ndarray(&dense_f64(&[3, 2], 4), [3, 1]).unwrap();
    match (&c + &d).compute() {
        Err(Error::Build(BuildError::Broadcast { left, right, .. })) => {
            assert_eq!((left, right), (vec![2, 3], vec![3, 2]));
        }
        other => panic!("expected a broadcast error, got {other:?}"),
    }
    let cond = from_ndarray(&dense_bool(&[5], 1), [2]).unwrap();
    assert!(matches!(
        where_(&cond, &a, 0.0).compute(),
        Err(Error::Build(BuildError::Broadcast { .. }))
    ));
    assert!(matches!(
        a.zip_map(&b, |u, v| u + v).compute(),
        Err(Error::Build(BuildError::Broadcast { .. }))
    ));
}

#[test]
fn where_with_arrays_and_scalars() {
    for (k, case) in cases().into_iter().enumerate() {
        let c = dense_bool(&case.shape, k as u64);
        let a = dense_f64(&case.shape, 800 + k as u64);
        let b = dense_f64(&case.shape, 900 + k as u64);
        let (cc, x, y) = (
            arr(&c, &case.chunks),
            arr(&a, &case.chunks),
            arr(&b, &case.chunks),
        );
        let pick = |u: bool, p: f64, q: f64| if u { p } else { q };
        let want = zip3_dense(&c, &a, &b, pick);
        assert_eq!(where_(&cc, &x, &y).compute().unwrap(), want, "{case:?}");
        assert_eq!(where_(&cc, x.clone(), y.clone()).compute().unwrap(), want);
        assert_eq!(
            where_(&cc, &x, -1.0).compute().unwrap(),
            zip_dense(&c, &a, |u, p| pick(u, p, -1.0))
        );
        assert_eq!(
            where_(&cc, 2.5, &y).compute().unwrap(),
            zip_dense(&c, &b, |u, q| pick(u, 2.5, q))
        );
        assert_eq!(
            where_(&cc, 1i32, 0i32).compute().unwrap(),
            c.mapv(|u| u as i32)
        );
        // the condition computed from the data, fused
        let got = where_(&x.greater(&y), &x - &y, 0.0).compute().unwrap();
        assert_eq!(
            got,
            zip_dense(&a, &b, |p, q| if p > q { p - q } else { 0.0 })
        );
    }
}

#[test]
fn where_broadcasts_all_three() {
    let c = dense_bool(&[4, 1], 1);
    let a = dense_f64(&[1, 5], 2);
    let b = dense_f64(&[5], 3);
    let cc = arr(&c, &Chunks::Shape(vec![3, 1]));
    let x = arr(&a, &Chunks::Shape(vec![1, 2]));
    let y = arr(&b, &Chunks::Shape(vec![3]));
    let want = zip3_dense(&c, &a, &b, |u, p, q| if u { p } else { q });
    assert_eq!(where_(&cc, &x, &y).compute().unwrap(), want);
    // scalar branches take the condition's shape, then broadcast with the other branch
    let want = zip3_dense(
        &c,
        &a,
        &arr1(&[7.0]).into_dyn(),
        |u, p, q| if u { p } else { q },
    );
    assert_eq!(where_(&cc, &x, 7.0).compute().unwrap(), want);
    let want = zip3_dense(
        &c,
        &arr1(&[7.0]).into_dyn(),
        &b,
        |u, p, q| if u { p } else { q },
    );
    assert_eq!(where_(&cc, 7.0, &y).compute().unwrap(), want);
    // a 0-d condition
    let c0 = from_ndarray(&ArrayD::from_elem(IxDyn(&[]), true), Vec::<usize>::new()).unwrap();
    assert_eq!(where_(&c0, &x, 0.0).compute().unwrap(), a);
}

#[test]
fn astype_conversions() {
    let c = Chunks::Shape(vec![3]);
    let xs = [
        1e10,
        -1e10,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -1.9,
        1.9,
        300.7,
        -0.0,
        0.4,
    ];
    let a = arr1(&xs).into_dyn();
    let x = arr(&a, &c);
    // float -> int saturates (Rust's `as`), NaN -> 0, truncation toward zero
    assert_eq!(x.astype::<i32>().compute().unwrap(), a.mapv(|v| v as i32));
    assert_eq!(
        x.astype::<i32>().compute().unwrap(),
        arr1(&[i32::MAX, i32::MIN, 0, i32::MAX, i32::MIN, -1, 1, 300, 0, 0]).into_dyn()
    );
    assert_eq!(x.astype::<u8>().compute().unwrap(), a.mapv(|v| v as u8));
    assert_eq!(
        x.astype::<u8>().compute().unwrap(),
        arr1(&[255u8, 0, 0, 255, 0, 0, 1, 255, 0, 0]).into_dyn()
    );
    assert_eq!(x.astype::<i64>().compute().unwrap(), a.mapv(|v| v as i64));
    assert_eq!(x.astype::<u64>().compute().unwrap(), a.mapv(|v| v as u64));
    // float -> bool is `!= 0` (NaN is true, like NumPy)
    assert_eq!(x.astype::<bool>().compute().unwrap(), a.mapv(|v| v != 0.0));
    // f64 -> f32 rounds, f32 -> f64 is exact
    let f = x.astype::<f32>().compute().unwrap();
    for (g, w) in f.iter().zip(a.mapv(|v| v as f32).iter()) {
        assert!(g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()));
    }
    assert_close(
        &x.astype::<f32>().astype::<f64>().compute().unwrap(),
        &a.mapv(|v| v as f32 as f64),
        0.0,
    );
    // same type: no-op
    assert_close(&x.astype::<f64>().compute().unwrap(), &a, 0.0);
    // int -> int wraps, int -> float, bool <-> numbers
    let ints = arr1(&[300i32, -1, 255, 256, i32::MIN, 0]).into_dyn();
    let xi = arr(&ints, &c);
    assert_eq!(xi.astype::<u8>().compute().unwrap(), ints.mapv(|v| v as u8));
    assert_eq!(xi.astype::<i8>().compute().unwrap(), ints.mapv(|v| v as i8));
    assert_eq!(
        xi.astype::<u64>().compute().unwrap(),
        ints.mapv(|v| v as u64)
    );
    assert_eq!(
        xi.astype::<f64>().compute().unwrap(),
        ints.mapv(|v| v as f64)
    );
    assert_eq!(
        xi.astype::<bool>().compute().unwrap(),
        ints.mapv(|v| v != 0)
    );
    let big = arr1(&[u64::MAX, 1u64 << 63, 16_777_217]).into_dyn();
    let xb = arr(&big, &c);
    assert_eq!(
        xb.astype::<i64>().compute().unwrap(),
        big.mapv(|v| v as i64)
    );
    assert_eq!(
        xb.astype::<f32>().compute().unwrap(),
        big.mapv(|v| v as f32)
    );
    let bools = dense_bool(&[7], 2);
    let xbool = arr(&bools, &c);
    assert_eq!(
        xbool.astype::<f64>().compute().unwrap(),
        bools.mapv(|v| if v { 1.0 } else { 0.0 })
    );
    assert_eq!(
        xbool.astype::<u8>().compute().unwrap(),
        bools.mapv(u8::from)
    );
    assert_eq!(
        xbool.astype::<i32>().astype::<bool>().compute().unwrap(),
        bools
    );
    // casts chained with arithmetic on every shape
    for (k, case) in cases().into_iter().enumerate() {
        let a = dense_f64(&case.shape, 1000 + k as u64);
        let x = arr(&a, &case.chunks);
        let got = (x.astype::<i32>() * 3).astype::<f32>().compute().unwrap();
        assert_eq!(got, a.mapv(|v| ((v as i32) * 3) as f32), "{case:?}");
    }
}

#[test]
fn map_and_zip_map_closures() {
    for (k, case) in cases().into_iter().enumerate() {
        let a = dense_f64(&case.shape, 1100 + k as u64);
        let b = dense_i32(&case.shape, 1200 + k as u64);
        let (x, y) = (arr(&a, &case.chunks), arr(&b, &case.chunks));
        let offset = 0.25;
        let got = x
            .map(move |v| (v * v + offset).floor() as i64)
            .compute()
            .unwrap();
        assert_eq!(got, a.mapv(|v| (v * v + offset).floor() as i64), "{case:?}");
        let got = x.map(|v| v > 0.0).compute().unwrap();
        assert_eq!(got, a.mapv(|v| v > 0.0));
        let got = x.zip_map(&y, |u, v| u * v as f64 - 1.0).compute().unwrap();
        assert_eq!(
            got,
            ndarray::Zip::from(&a)
                .and(&b)
                .map_collect(|&u, &v| u * v as f64 - 1.0)
        );
        // closures in a chain with built-in operations on both sides
        let got = (x.map(|v| v.abs()).sqrt() + 1.0).zip_map(&y.map(|v| v % 7), |u, v| u + v as f64);
        let want = ndarray::Zip::from(&a)
            .and(&b)
            .map_collect(|&u, &v| (u.abs().sqrt() + 1.0) + (v % 7) as f64);
        assert_close(&got.compute().unwrap(), &want, ulp_tol_f64());
    }
}

#[test]
fn a_panicking_closure_gives_task_panicked_naming_the_block() {
    let a = ArrayD::from_shape_fn(IxDyn(&[10]), |i| i[0] as f64);
    let x = from_ndarray(&a, [3]).unwrap();
    let y = x.map(|v| {
        if v == 7.0 {
            panic!("boom at {v}");
        }
        v * 2.0
    });
    match y.compute() {
        Err(Error::Exec(ExecError::TaskPanicked { task, message })) => {
            assert!(task.contains("block [2]"), "task: {task}");
            assert!(message.contains("boom at 7"), "message: {message}");
        }
        other => panic!("expected TaskPanicked, got {other:?}"),
    }
    // fused into a reduction: the partial of the block names it
    match y.sum().compute() {
        Err(Error::Exec(ExecError::TaskPanicked { task, message })) => {
            assert!(task.contains("block [2]"), "task: {task}");
            assert!(message.contains("boom"), "message: {message}");
        }
        other => panic!("expected TaskPanicked, got {other:?}"),
    }
    // zip_map, on a 2-d grid
    let b = ArrayD::from_shape_fn(IxDyn(&[4, 6]), |i| (i[0] * 6 + i[1]) as f64);
    let xb = from_ndarray(&b, [2, 4]).unwrap();
    let z = xb.zip_map(&xb, |u, v| {
        assert!(u != 23.0, "bad element {}", u + v);
        u
    });
    match z.compute() {
        Err(Error::Exec(ExecError::TaskPanicked { task, message })) => {
            assert!(task.contains("block [1, 1]"), "task: {task}");
            assert!(message.contains("bad element 46"), "message: {message}");
        }
        other => panic!("expected TaskPanicked, got {other:?}"),
    }
    // the error does not poison later computations
    assert_eq!(x.map(|v| v + 1.0).compute().unwrap(), a.mapv(|v| v + 1.0));
}

#[test]
fn dtype_preserving_ops_on_an_errored_array_record_the_error() {
    let a = chunkwise::zeros::<f64>(&[3], [3]).unwrap();
    let b = chunkwise::zeros::<f64>(&[4], [4]).unwrap();
    let bad = &a + &b;
    let is_broadcast =
        |r: Result<(), Error>| matches!(r, Err(Error::Build(BuildError::Broadcast { .. })));
    assert!(is_broadcast(bad.sin().check()));
    assert!(is_broadcast((&bad * 2.0).abs().check()));
    assert!(is_broadcast((1.0 - &bad).check()));
    assert!(is_broadcast(bad.maximum(&a).check()));
    assert!(is_broadcast(bad.map(|v| v + 1.0).check()));
    assert!(is_broadcast(bad.sum().check()));
    assert!(is_broadcast(bad.argmin().check()));
    assert!(is_broadcast(bad.var(1.0).check()));
    assert!(is_broadcast(a.zip_map(&b, |x, y| (x + y) as i32).check()));
    assert!(is_broadcast(bad.insert_axis(0).map(|_| ())));
    assert!(is_broadcast(bad.slice(ndarray::s![..]).map(|_| ())));
    assert!(is_broadcast(bad.rechunk([1]).map(|_| ())));
}

/// `elemwise` hands back the failed input node itself, whose dtype is the input's, so a typed
/// handle of another dtype trips `debug_assert_eq!(node.dtype, T::DTYPE)` in `Array::from_node`.
#[test]
fn dtype_changing_ops_on_an_errored_array_record_the_error() {
    let a = chunkwise::zeros::<f64>(&[3], [3]).unwrap();
    let b = chunkwise::zeros::<f64>(&[4], [4]).unwrap();
    let bad = &a + &b;
    assert!(matches!(
        bad.greater(0.0).check(),
        Err(Error::Build(BuildError::Broadcast { .. }))
    ));
    assert!(matches!(
        bad.astype::<i32>().check(),
        Err(Error::Build(BuildError::Broadcast { .. }))
    ));
    assert!(matches!(
        bad.isnan().check(),
        Err(Error::Build(BuildError::Broadcast { .. }))
    ));
    assert!(matches!(
        bad.map(|v| v as i64).check(),
        Err(Error::Build(BuildError::Broadcast { .. }))
    ));
    assert!(matches!(
        where_(&a.greater(&b), 1.0, 0.0).check(),
        Err(Error::Build(BuildError::Broadcast { .. }))
    ));
}

#[test]
fn broadcast_rows_longer_than_a_strip_are_read_in_place_or_gathered() {
    // Rows of 5000 elements with strips of 2048 (and of 700): most strips lie within one row,
    // where the broadcast input is read in place; the others straddle two rows and are
    // gathered. Both must give the dense result.
    let x = dense_f64(&[3, 4, 5000], 1);
    let m = dense_f64(&[1, 4, 5000], 2);
    let want = &x - &m;
    for strip in [2048, 700] {
        let got = (&arr(&x, &Chunks::Shape(vec![2, 3, 5000]))
            - &arr(&m, &Chunks::Shape(vec![1, 3, 5000])))
            .compute_with(&chunkwise::Config::default().strip_len(strip))
            .unwrap();
        assert_eq!(got, want, "strips of {strip}");
    }
}

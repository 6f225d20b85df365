use super::*;
use crate::test_rng::Lcg;

/// Floats under test: ulp distances and bit access.
trait TF: StripFloat + Lane + std::fmt::Debug {
    /// Monotonic integer key (both zeros map to 0).
    fn key(self) -> i64;
    fn bits64(self) -> u64;
}

impl TF for f64 {
    fn key(self) -> i64 {
        let b = self.to_bits() as i64;
        if b < 0 { i64::MIN - b } else { b }
    }
    fn bits64(self) -> u64 {
        self.to_bits()
    }
}

impl TF for f32 {
    fn key(self) -> i64 {
        let b = self.to_bits() as i32;
        (if b < 0 { i32::MIN - b } else { b }) as i64
    }
    fn bits64(self) -> u64 {
        self.to_bits() as u64
    }
}

/// The generic kernels compiled for AVX2+FMA (x86-64-v3), to check that this build gives
/// the same bits as the dispatched one (AVX-512 on the test machine) and the baseline one.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn unary_v3<T: Lane>(f: UnaryFn, xs: &[T], out: &mut [T]) {
    unary_impl::<T, true>(f, xs, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn binary_v3<T: Lane>(f: BinaryFn, a: &[T], b: &[T], out: &mut [T]) {
    binary_impl::<T, true>(f, a, b, out);
}

#[cfg(target_arch = "x86_64")]
fn has_v3() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// Bit equality, any NaN matching any NaN.
fn same_bits<T: TF>(a: T, b: T) -> bool {
    a.bits64() == b.bits64() || (a.is_nan() && b.is_nan())
}

/// Distance in ulps, or an error if a special value differs (NaN-ness, infinities, the
/// sign of zero).
fn check<T: TF>(got: T, want: T) -> Result<u64, String> {
    let bad = || Err(format!("got {got:?}, want {want:?}"));
    if want.is_nan() || got.is_nan() {
        return if want.is_nan() && got.is_nan() {
            Ok(0)
        } else {
            bad()
        };
    }
    if want.is_infinite() || got.is_infinite() {
        return if want == got { Ok(0) } else { bad() };
    }
    if want == T::zero() && got == T::zero() && want.bits64() != got.bits64() {
        return bad();
    }
    Ok((got.key() as i128 - want.key() as i128).unsigned_abs() as u64)
}

fn specials() -> Vec<f64> {
    let mut v = vec![
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        -f64::NAN,
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
        5e-324,
        1e-310,
        1e-300,
        1e-20,
        1.0,
        0.5,
        2.0,
        1.5,
        2.5,
        3.0,
        10.0,
        100.0,
        1000.0,
        1e6,
        1e300,
        std::f64::consts::PI,
        std::f64::consts::FRAC_PI_2,
        std::f64::consts::FRAC_PI_4,
        std::f64::consts::E,
        std::f64::consts::LN_2,
        0.4999999999999999,
        4503599627370495.5,
        4503599627370497.0,
        // exp / sinh / cosh thresholds
        709.782712893384,
        709.7827128933841,
        710.4758600739439,
        710.475860073944,
        -745.1332191019411,
        -745.1332191019412,
        -708.3964185322641,
        // tanh, asin, atan, ln_1p, expm1 branch points
        0.5493061443340548,
        0.5493061443340549,
        0.2554128118829953,
        0.975,
        0.9749984741210938,
        0.4375,
        0.6875,
        1.1875,
        2.4375,
        0.41421356237309503,
        -0.2928932188134524,
        0.34657359027997264,
        std::f64::consts::LN_2,
        1.0397207708399179,
        std::f64::consts::SQRT_2,
        std::f64::consts::FRAC_1_SQRT_2,
        0.9999999999999999,
        1.0000000000000002,
        1647099.0,
        1647098.9999999998,
    ];
    for x in v.clone() {
        v.push(-x);
        v.push(f64::from_bits(x.to_bits().wrapping_add(1)));
        v.push(f64::from_bits(x.to_bits().wrapping_sub(1)));
    }
    v
}

fn inputs() -> Vec<f64> {
    let mut v = specials();
    let mut rng = Lcg::new(12345);
    for _ in 0..6000 {
        // uniformly random bit patterns: every exponent, subnormals, NaNs
        v.push(f64::from_bits(rng.next_u64()));
        v.push(rng.log_uniform(-320.0, 309.0));
        v.push(rng.log_uniform(-20.0, 3.0));
        v.push(rng.range(-1.0, 1.0));
        v.push(rng.range(-10.0, 10.0));
        v.push(rng.range(-800.0, 800.0));
        v.push(rng.range(-1100.0, 1100.0));
        v.push(1.0 + rng.log_uniform(-17.0, -1.0));
    }
    for _ in 0..3000 {
        v.push(rng.log_uniform(0.0, 6.3));
        v.push((rng.range(-1e4, 1e4)).round() * 0.5);
    }
    // near multiples of pi/2 (and beyond the vector range)
    for i in 0..400 {
        for n in [
            i as f64,
            (i * 997) as f64,
            (i * 4111) as f64,
            1e6 + (i as f64),
        ] {
            let x = n * std::f64::consts::FRAC_PI_2;
            for d in -2i64..=2 {
                let y = f64::from_bits((x.to_bits() as i64 + d) as u64);
                v.push(y);
                v.push(-y);
            }
        }
    }
    v
}

/// Evaluates `f` on consecutive slices of awkward lengths.
fn run_unary<T: TF>(f: UnaryFn, xs: &[T], eval: impl Fn(UnaryFn, &[T], &mut [T])) -> Vec<T> {
    let mut out = vec![T::nan(); xs.len()];
    let lens = [0usize, 1, 7, 1001, 0, 3, 64, 17, 4096, 2, 255];
    let mut i = 0;
    let mut j = 0;
    while i < xs.len() {
        let n = lens[j % lens.len()].min(xs.len() - i);
        eval(f, &xs[i..i + n], &mut out[i..i + n]);
        i += n;
        j += 1;
    }
    out
}

fn unary_case<T: TF>(f: UnaryFn, xs: &[T]) -> u64 {
    let got = run_unary(f, xs, T::unary);
    // the portable (soft rounding, baseline ISA) and AVX2 builds must be bit-identical
    let soft = run_unary(f, xs, unary_impl::<T, false>);
    #[cfg(target_arch = "x86_64")]
    if has_v3() {
        // SAFETY: the CPU supports AVX2 and FMA.
        let v3 = run_unary(f, xs, |f, x, o| unsafe { unary_v3(f, x, o) });
        for (i, &x) in xs.iter().enumerate() {
            assert!(
                same_bits(got[i], v3[i]),
                "{}({x:?}): AVX2 build differs",
                f.name()
            );
        }
    }
    let mut inplace = xs.to_vec();
    T::unary_in_place(f, &mut inplace);
    let mut max = 0;
    for (i, &x) in xs.iter().enumerate() {
        let want = f.apply_scalar(x);
        let ulps = check(got[i], want).unwrap_or_else(|e| {
            panic!("{}({x:?}) [{}]: {e}", f.name(), std::any::type_name::<T>())
        });
        if ulps > 4 {
            panic!(
                "{}({x:?}) = {:?}, std {want:?}: {ulps} ulp",
                f.name(),
                got[i]
            );
        }
        max = max.max(ulps);
        assert!(
            same_bits(got[i], soft[i]),
            "{}({x:?}): dispatched {:?} != portable {:?}",
            f.name(),
            got[i],
            soft[i]
        );
        assert!(
            same_bits(got[i], inplace[i]),
            "{}({x:?}): in place differs",
            f.name()
        );
    }
    max
}

/// Functions that must match `std` exactly.
fn exact(f: UnaryFn) -> bool {
    matches!(
        f,
        UnaryFn::Abs
            | UnaryFn::Sqrt
            | UnaryFn::Floor
            | UnaryFn::Ceil
            | UnaryFn::Round
            | UnaryFn::Trunc
            | UnaryFn::Signum
            | UnaryFn::Recip
    )
}

#[test]
fn math_unary_matches_std() {
    let xs64 = inputs();
    let xs32: Vec<f32> = xs64.iter().map(|&x| x as f32).collect();
    let mut report = String::new();
    for f in UnaryFn::ALL {
        let u64_ = unary_case::<f64>(f, &xs64);
        let u32_ = unary_case::<f32>(f, &xs32);
        if exact(f) {
            assert_eq!((u64_, u32_), (0, 0), "{} must be exact", f.name());
        }
        report += &format!("{:>7}: f64 {u64_} ulp, f32 {u32_} ulp\n", f.name());
    }
    println!("max error vs std:\n{report}");
}

fn binary_inputs(f: BinaryFn) -> (Vec<f64>, Vec<f64>) {
    let sp = specials();
    let mut a = Vec::new();
    let mut b = Vec::new();
    for &x in sp.iter().step_by(3) {
        for &y in sp.iter().step_by(3) {
            a.push(x);
            b.push(y);
        }
    }
    let mut rng = Lcg::new(777);
    let all = inputs();
    for _ in 0..20000 {
        a.push(all[(rng.next_u64() % all.len() as u64) as usize]);
        b.push(all[(rng.next_u64() % all.len() as u64) as usize]);
    }
    for _ in 0..20000 {
        match f {
            BinaryFn::Powf => {
                let x = rng.log_uniform(-3.0, 3.0).abs();
                a.push(x);
                b.push(rng.range(-700.0, 700.0) / x.ln().abs().max(1e-3));
                // negative bases with integral exponents
                a.push(-rng.range(0.0, 30.0));
                b.push(rng.range(-200.0, 200.0).round());
                // close to 1, large exponents
                a.push(1.0 + rng.log_uniform(-16.0, -3.0));
                b.push(rng.log_uniform(0.0, 18.0));
                a.push(rng.range(0.0, 4.0));
                b.push(rng.range(-4.0, 4.0));
            }
            _ => {
                a.push(rng.range(-10.0, 10.0));
                b.push(rng.range(-10.0, 10.0));
                a.push(rng.log_uniform(-300.0, 300.0));
                b.push(rng.log_uniform(-300.0, 300.0));
            }
        }
    }
    (a, b)
}

fn binary_case<T: TF>(f: BinaryFn, a: &[T], b: &[T]) -> u64 {
    let mut got = vec![T::nan(); a.len()];
    let mut soft = vec![T::nan(); a.len()];
    let mut v3 = vec![T::nan(); a.len()];
    let lens = [0usize, 1, 7, 1001, 3, 64, 4096];
    let (mut i, mut j) = (0, 0);
    while i < a.len() {
        let r = i..i + lens[j % lens.len()].min(a.len() - i);
        T::binary(f, &a[r.clone()], &b[r.clone()], &mut got[r.clone()]);
        // portable build without FMA: Dekker products must give the same bits
        binary_impl::<T, false>(f, &a[r.clone()], &b[r.clone()], &mut soft[r.clone()]);
        #[cfg(target_arch = "x86_64")]
        if has_v3() {
            // SAFETY: the CPU supports AVX2 and FMA.
            unsafe { binary_v3(f, &a[r.clone()], &b[r.clone()], &mut v3[r.clone()]) };
        } else {
            v3[r.clone()].copy_from_slice(&got[r.clone()]);
        }
        #[cfg(not(target_arch = "x86_64"))]
        v3[r.clone()].copy_from_slice(&got[r.clone()]);
        i = r.end;
        j += 1;
    }
    let mut max = 0;
    for i in 0..a.len() {
        let (x, y) = (a[i], b[i]);
        let want = f.apply_scalar(x, y);
        let ulps = check(got[i], want).unwrap_or_else(|e| {
            panic!(
                "{}({x:?}, {y:?}) [{}]: {e}",
                f.name(),
                std::any::type_name::<T>()
            )
        });
        if ulps > 4 {
            panic!(
                "{}({x:?}, {y:?}) = {:?}, std {want:?}: {ulps} ulp",
                f.name(),
                got[i]
            );
        }
        assert!(
            same_bits(got[i], soft[i]),
            "{}({x:?}, {y:?}): portable build differs",
            f.name()
        );
        assert!(
            same_bits(got[i], v3[i]),
            "{}({x:?}, {y:?}): AVX2 build differs",
            f.name()
        );
        max = max.max(ulps);
    }
    max
}

#[test]
fn math_binary_matches_std() {
    let mut report = String::new();
    for f in BinaryFn::ALL {
        let (a, b) = binary_inputs(f);
        let a32: Vec<f32> = a.iter().map(|&x| x as f32).collect();
        let b32: Vec<f32> = b.iter().map(|&x| x as f32).collect();
        let u64_ = binary_case::<f64>(f, &a, &b);
        let u32_ = binary_case::<f32>(f, &a32, &b32);
        report += &format!("{:>7}: f64 {u64_} ulp, f32 {u32_} ulp\n", f.name());
    }
    println!("max error vs std:\n{report}");
}

fn powi_case<T: TF>(xs: &[T]) {
    for n in [
        0,
        1,
        -1,
        2,
        -2,
        3,
        5,
        -7,
        10,
        31,
        -64,
        100,
        1023,
        -1075,
        i32::MAX,
        i32::MIN,
    ] {
        for len in [0usize, 1, 7, 63, 64, 65, 1001] {
            let len = len.min(xs.len());
            let mut out = vec![T::nan(); len];
            <T as StripFloat>::powi(&xs[..len], n, &mut out);
            for (&x, &o) in xs.iter().zip(&out) {
                let want = x.powi(n);
                assert!(same_bits(o, want), "powi({x:?}, {n}) = {o:?}, std {want:?}");
            }
        }
    }
}

#[test]
fn math_powi_is_bit_exact() {
    let mut rng = Lcg::new(99);
    let mut xs = specials();
    for _ in 0..3000 {
        xs.push(rng.range(-3.0, 3.0));
    }
    // shuffle so that every prefix length sees a mix
    for i in (1..xs.len()).rev() {
        xs.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    powi_case::<f64>(&xs);
    let xs32: Vec<f32> = xs.iter().map(|&x| x as f32).collect();
    powi_case::<f32>(&xs32);
}

#[test]
fn math_special_values_exact() {
    let inf = f64::INFINITY;
    let nan = f64::NAN;
    let one = |f: UnaryFn, x: f64| {
        let mut o = [0.0];
        f64::unary(f, &[x], &mut o);
        o[0]
    };
    let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    let cases: &[(UnaryFn, f64, f64)] = &[
        (UnaryFn::Ln, 0.0, -inf),
        (UnaryFn::Ln, -0.0, -inf),
        (UnaryFn::Ln, -1.0, nan),
        (UnaryFn::Ln, inf, inf),
        (UnaryFn::Ln, 1.0, 0.0),
        (UnaryFn::Log2, 8.0, 3.0),
        (UnaryFn::Log2, 2f64.powi(-1070), -1070.0),
        (UnaryFn::Log10, 0.0, -inf),
        (UnaryFn::Ln1p, -1.0, -inf),
        (UnaryFn::Ln1p, -2.0, nan),
        (UnaryFn::Ln1p, -0.0, -0.0),
        (UnaryFn::Exp, 1000.0, inf),
        (UnaryFn::Exp, -1000.0, 0.0),
        (UnaryFn::Exp, -inf, 0.0),
        (UnaryFn::Exp, 0.0, 1.0),
        (UnaryFn::Exp2, 10.0, 1024.0),
        (UnaryFn::Exp2, -1074.0, 5e-324),
        (UnaryFn::ExpM1, -0.0, -0.0),
        (UnaryFn::ExpM1, -inf, -1.0),
        (UnaryFn::ExpM1, inf, inf),
        (UnaryFn::Sqrt, -1.0, nan),
        (UnaryFn::Sqrt, -0.0, -0.0),
        (UnaryFn::Sin, inf, nan),
        (UnaryFn::Sin, -inf, nan),
        (UnaryFn::Sin, -0.0, -0.0),
        (UnaryFn::Cos, inf, nan),
        (UnaryFn::Tan, -0.0, -0.0),
        (UnaryFn::Round, 0.5, 1.0),
        (UnaryFn::Round, -0.5, -1.0),
        (UnaryFn::Round, 2.5, 3.0),
        (UnaryFn::Round, -0.4, -0.0),
        (UnaryFn::Ceil, -0.5, -0.0),
        (UnaryFn::Signum, 0.0, 1.0),
        (UnaryFn::Signum, -0.0, -1.0),
        (UnaryFn::Signum, nan, nan),
        (UnaryFn::Abs, -0.0, 0.0),
        (UnaryFn::Tanh, inf, 1.0),
        (UnaryFn::Tanh, -inf, -1.0),
        (UnaryFn::Sinh, -inf, -inf),
        (UnaryFn::Cosh, -inf, inf),
        (UnaryFn::Asin, 1.0, std::f64::consts::FRAC_PI_2),
        (UnaryFn::Asin, 1.5, nan),
        (UnaryFn::Acos, 1.0, 0.0),
        (UnaryFn::Acos, -1.0, std::f64::consts::PI),
        (UnaryFn::Atan, inf, std::f64::consts::FRAC_PI_2),
        (UnaryFn::Cbrt, -27.0, -3.0),
        (UnaryFn::Cbrt, -inf, -inf),
        (UnaryFn::Recip, -0.0, -inf),
    ];
    for &(f, x, want) in cases {
        let got = one(f, x);
        assert!(same(got, want), "{}({x}) = {got}, want {want}", f.name());
        assert!(
            same(got, f.apply_scalar(x)),
            "{}({x}) differs from std",
            f.name()
        );
    }
    let two = |f: BinaryFn, x: f64, y: f64| {
        let mut o = [0.0];
        f64::binary(f, &[x], &[y], &mut o);
        o[0]
    };
    let pi = std::f64::consts::PI;
    let bcases: &[(BinaryFn, f64, f64, f64)] = &[
        (BinaryFn::Atan2, 0.0, -0.0, pi),
        (BinaryFn::Atan2, -0.0, -0.0, -pi),
        (BinaryFn::Atan2, -0.0, 0.0, -0.0),
        (BinaryFn::Atan2, 1.0, -inf, pi),
        (BinaryFn::Atan2, -inf, inf, -std::f64::consts::FRAC_PI_4),
        (BinaryFn::Atan2, nan, 1.0, nan),
        (BinaryFn::Hypot, inf, nan, inf),
        (BinaryFn::Hypot, nan, 1.0, nan),
        (BinaryFn::Hypot, 1e308, 1e308, 1.4142135623730952e308),
        (BinaryFn::Hypot, 3e-320, 4e-320, 5e-320),
        (BinaryFn::Powf, 0.0, 0.0, 1.0),
        (BinaryFn::Powf, nan, 0.0, 1.0),
        (BinaryFn::Powf, 1.0, nan, 1.0),
        (BinaryFn::Powf, -2.0, 0.5, nan),
        (BinaryFn::Powf, -2.0, 3.0, -8.0),
        (BinaryFn::Powf, -0.0, -1.0, -inf),
        (BinaryFn::Powf, -0.0, 3.0, -0.0),
        (BinaryFn::Powf, -inf, 3.0, -inf),
        (BinaryFn::Powf, -inf, -3.0, -0.0),
        (BinaryFn::Powf, -1.0, inf, 1.0),
        (BinaryFn::Powf, 0.5, -inf, inf),
        (BinaryFn::Powf, 2.0, 1024.0, inf),
        (BinaryFn::Powf, 2.0, -1074.0, 5e-324),
        (BinaryFn::Powf, 10.0, 2.0, 100.0),
    ];
    for &(f, x, y, want) in bcases {
        let got = two(f, x, y);
        assert!(
            same(got, want),
            "{}({x}, {y}) = {got}, want {want}",
            f.name()
        );
        assert!(
            same(got, f.apply_scalar(x, y)),
            "{}({x}, {y}) differs from std",
            f.name()
        );
    }
}

/// ns per element on 1M f64 in 4096-element strips, vectorised vs scalar `std`; the
/// "hot" column repeats one 4096-element strip (L1/L2-resident, as in fused kernels).
/// Run: `cargo test -p chunkwise-kernels --release math_speed -- --ignored --nocapture`
#[test]
#[ignore]
fn math_speed() {
    use std::hint::black_box;
    use std::time::Instant;
    const N: usize = 1 << 20;
    const STRIP: usize = 4096;
    let mut rng = Lcg::new(5);
    let wide: Vec<f64> = (0..N).map(|_| rng.range(-100.0, 100.0)).collect();
    let pos: Vec<f64> = (0..N).map(|_| rng.log_uniform(-5.0, 5.0).abs()).collect();
    let unit: Vec<f64> = (0..N).map(|_| rng.range(-1.0, 1.0)).collect();
    let exps: Vec<f64> = (0..N).map(|_| rng.range(-700.0, 700.0)).collect();
    let ys: Vec<f64> = (0..N).map(|_| rng.range(-10.0, 10.0)).collect();
    let mut out = vec![0.0; N];
    let time = |f: &mut dyn FnMut()| {
        f();
        let mut best = f64::INFINITY;
        for _ in 0..7 {
            let t = Instant::now();
            f();
            best = best.min(t.elapsed().as_secs_f64());
        }
        best * 1e9 / N as f64
    };
    println!("function    1M ns/elem   hot ns/elem   std ns/elem");
    let cases: &[(UnaryFn, &[f64])] = &[
        (UnaryFn::Sin, &wide),
        (UnaryFn::Cos, &wide),
        (UnaryFn::Tan, &wide),
        (UnaryFn::Exp, &exps),
        (UnaryFn::Exp2, &exps),
        (UnaryFn::ExpM1, &exps),
        (UnaryFn::Ln, &pos),
        (UnaryFn::Log2, &pos),
        (UnaryFn::Log10, &pos),
        (UnaryFn::Ln1p, &pos),
        (UnaryFn::Sqrt, &pos),
        (UnaryFn::Cbrt, &wide),
        (UnaryFn::Tanh, &wide),
        (UnaryFn::Sinh, &wide),
        (UnaryFn::Cosh, &wide),
        (UnaryFn::Atan, &wide),
        (UnaryFn::Asin, &unit),
        (UnaryFn::Acos, &unit),
        (UnaryFn::Floor, &wide),
        (UnaryFn::Round, &wide),
        (UnaryFn::Abs, &wide),
    ];
    for &(f, xs) in cases {
        let v = time(&mut || {
            for (x, o) in xs.chunks(STRIP).zip(out.chunks_mut(STRIP)) {
                f64::unary(f, black_box(x), o);
            }
            black_box(&out);
        });
        let hot = time(&mut || {
            for _ in 0..N / STRIP {
                f64::unary(f, black_box(&xs[..STRIP]), &mut out[..STRIP]);
            }
            black_box(&out);
        });
        let s = time(&mut || {
            for (x, o) in xs.iter().zip(out.iter_mut()) {
                *o = f.apply_scalar(black_box(*x));
            }
            black_box(&out);
        });
        println!("{:>8}   {v:>10.3}   {hot:>11.3}   {s:>11.3}", f.name());
    }
    for (f, a) in [
        (BinaryFn::Atan2, &wide),
        (BinaryFn::Hypot, &wide),
        (BinaryFn::Powf, &pos),
    ] {
        let v = time(&mut || {
            for ((x, y), o) in a
                .chunks(STRIP)
                .zip(ys.chunks(STRIP))
                .zip(out.chunks_mut(STRIP))
            {
                f64::binary(f, black_box(x), y, o);
            }
            black_box(&out);
        });
        let hot = time(&mut || {
            for _ in 0..N / STRIP {
                f64::binary(f, black_box(&a[..STRIP]), &ys[..STRIP], &mut out[..STRIP]);
            }
            black_box(&out);
        });
        let s = time(&mut || {
            for ((x, y), o) in a.iter().zip(&ys).zip(out.iter_mut()) {
                *o = f.apply_scalar(black_box(*x), *y);
            }
            black_box(&out);
        });
        println!("{:>8}   {v:>10.3}   {hot:>11.3}   {s:>11.3}", f.name());
    }
    let xs32: Vec<f32> = wide.iter().map(|&x| x as f32).collect();
    let mut out32 = vec![0.0f32; N];
    for f in [UnaryFn::Sin, UnaryFn::Exp, UnaryFn::Ln] {
        let v = time(&mut || {
            for (x, o) in xs32.chunks(STRIP).zip(out32.chunks_mut(STRIP)) {
                f32::unary(f, black_box(x), o);
            }
            black_box(&out32);
        });
        let hot = time(&mut || {
            for _ in 0..N / STRIP {
                f32::unary(f, black_box(&xs32[..STRIP]), &mut out32[..STRIP]);
            }
            black_box(&out32);
        });
        let s = time(&mut || {
            for (x, o) in xs32.iter().zip(out32.iter_mut()) {
                *o = f.apply_scalar(black_box(*x));
            }
            black_box(&out32);
        });
        println!("{:>4} f32   {v:>10.3}   {hot:>11.3}   {s:>11.3}", f.name());
    }
}

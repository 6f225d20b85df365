//! Exponentials, hyperbolic functions, logarithms, `cbrt`, `hypot` and `powf`.

use std::f64::consts::{LN_2, LOG2_E};

use super::{
    INF, LN2_HI, LN2_LO, NAN, SIGN, TINY26, TWO52, TWO54, copysign, h, i2f, pow2i, rint, scale,
    sel, seli, trunc_soft,
};

// ----- exponentials ------------------------------------------------------------------

/// `(e^r - 1 - r) / r^2` for `|r| <= ln2/2`: Taylor series to degree 13 (truncation
/// error below 2^-57 relative to `e^r`).
#[inline(always)]
fn expm1_q(r: f64) -> f64 {
    const C: [f64; 12] = [
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
        1.0 / 40320.0,
        1.0 / 362880.0,
        1.0 / 3628800.0,
        1.0 / 39916800.0,
        1.0 / 479001600.0,
        1.0 / 6227020800.0,
    ];
    estrin12(r, &C)
}

/// `c[0] + c[1] x + ... + c[11] x^11` by Estrin's scheme (short dependency chains).
#[inline(always)]
fn estrin12(x: f64, c: &[f64; 12]) -> f64 {
    let x2 = x * x;
    let x4 = x2 * x2;
    let x8 = x4 * x4;
    let p0 = (c[0] + c[1] * x) + (c[2] + c[3] * x) * x2;
    let p1 = (c[4] + c[5] * x) + (c[6] + c[7] * x) * x2;
    let p2 = (c[8] + c[9] * x) + (c[10] + c[11] * x) * x2;
    (p0 + p1 * x4) + p2 * x8
}

/// `x - k ln2 = r + rl` (`rl` the rounding error of `r`), for `|k| <= 1100`.
#[inline(always)]
fn reduce_ln2(x: f64, k: f64) -> (f64, f64) {
    let r1 = x - k * LN2_HI; // exact
    let t = k * LN2_LO;
    let r = r1 - t;
    (r, (r1 - r) - t)
}

/// `e^x * 2^shift` for `shift` in `-2..=0`; overflow to +inf, underflow to 0.
#[inline(always)]
fn exp_scaled(x: f64, shift: i64) -> f64 {
    let xc = sel(x > 711.0, 711.0, sel(x < -746.0, -746.0, x));
    let (kd, ki) = rint(xc * LOG2_E);
    let (r, rl) = reduce_ln2(xc, kd);
    let p = 1.0 + (r + (rl + (r * r) * expm1_q(r)));
    scale(p, ki.wrapping_add(shift))
}

#[inline(always)]
pub(in crate::math) fn exp(x: f64) -> f64 {
    exp_scaled(x, 0)
}

#[inline(always)]
pub(in crate::math) fn exp2(x: f64) -> f64 {
    // (ln 2)^i / i!, i = 1..=13
    const E: [f64; 13] = [
        h(0x3fe62e42, 0xfefa39ef),
        h(0x3fcebfbd, 0xff82c58f),
        h(0x3fac6b08, 0xd704a0c0),
        h(0x3f83b2ab, 0x6fba4e77),
        h(0x3f55d87f, 0xe78a6731),
        h(0x3f243091, 0x2f86c787),
        h(0x3eeffcbf, 0xc588b0c7),
        h(0x3eb62c02, 0x23a5c824),
        h(0x3e7b5253, 0xd395e7c4),
        h(0x3e3e4cf5, 0x158b8eca),
        h(0x3dfe8cac, 0x7351bb25),
        h(0x3dbc3bd6, 0x50fc2986),
        h(0x3d781619, 0x3166d0f9),
    ];
    let xc = sel(x > 1025.0, 1025.0, sel(x < -1080.0, -1080.0, x));
    let (kd, ki) = rint(xc);
    let r = xc - kd;
    let mut q = E[12];
    let mut i = 12;
    while i > 1 {
        i -= 1;
        q = q * r + E[i];
    }
    let p = 1.0 + r * (E[0] + r * q);
    scale(p, ki)
}

#[inline(always)]
pub(in crate::math) fn exp_m1(x: f64) -> f64 {
    let xc = sel(x > 710.0, 710.0, sel(x < -60.0, -60.0, x));
    let (kd, ki) = rint(xc * LOG2_E);
    let (r, rl) = reduce_ln2(xc, kd);
    // e^(r + rl) - 1 - r
    let pr = (r * r) * expm1_q(r) + rl * (1.0 + r);
    // e^x - 1 = 2^k (1 + r + pr) - 1 = 2^k r + (2^k - 1) + 2^k pr, the first sum exact as
    // a double-double; 2^1024 is done as 2 * 2^1023.
    let big = ki > 1023;
    let s = pow2i(seli(big, 1023, ki));
    let (hi, lo) = two_sum(s * r, s - sel(big, 0.5, 1.0));
    let res = (hi + (lo + s * pr)) * sel(big, 2.0, 1.0);
    sel(x.abs() < TINY26 * TINY26, x, res)
}

// ----- hyperbolic (musl) -----------------------------------------------------------------

#[inline(always)]
pub(in crate::math) fn tanh(x: f64) -> f64 {
    // tanh|x| = t / (t + 2), t = e^(2|x|) - 1; tanh(20) rounds to 1
    let a = x.abs();
    let t = exp_m1(2.0 * sel(a > 20.0, 20.0, a));
    copysign(t / (t + 2.0), x)
}

#[inline(always)]
pub(in crate::math) fn sinh(x: f64) -> f64 {
    let a = x.abs();
    let t = exp_m1(a);
    let d = t / (t + 1.0);
    let small = 0.5 * (2.0 * t - t * d);
    let mid = 0.5 * (t + d);
    let large = exp_scaled(a, -1);
    let r = sel(a < 1.0, small, sel(a < h(0x40862e42, 0), mid, large));
    sel(a < TINY26, x, copysign(r, x))
}

#[inline(always)]
pub(in crate::math) fn cosh(x: f64) -> f64 {
    let a = x.abs();
    let t = exp_m1(a);
    let small = 1.0 + (t * t) / (2.0 * (1.0 + t));
    let eh = exp_scaled(a, -1);
    let large = eh + 0.25 / eh;
    sel(a < LN_2, small, large)
}

// ----- logarithms (musl) -----------------------------------------------------------------

const LG1: f64 = h(0x3fe55555, 0x55555593);
const LG2: f64 = h(0x3fd99999, 0x9997fa04);
const LG3: f64 = h(0x3fd24924, 0x94229359);
const LG4: f64 = h(0x3fcc71c5, 0x1d8e78af);
const LG5: f64 = h(0x3fc74664, 0x96cb03de);
const LG6: f64 = h(0x3fc39a09, 0xd078c69f);
const LG7: f64 = h(0x3fc2f112, 0xdf3e5244);

/// `x = 2^k (1 + f)` with `sqrt(2)/2 <= 1 + f < sqrt(2)`, for positive finite `x`
/// (including subnormals). Returns `(f, k)`.
#[inline(always)]
fn log_reduce(x: f64) -> (f64, f64) {
    let sub = x < f64::MIN_POSITIVE;
    let ix = sel(sub, x * TWO54, x).to_bits();
    let hx = (ix >> 32).wrapping_add(0x3ff0_0000 - 0x3fe6_a09e);
    let k = ((hx >> 20) as i64).wrapping_sub(0x3ff);
    let hx = (hx & 0x000f_ffff).wrapping_add(0x3fe6_a09e);
    let m = f64::from_bits((hx << 32) | (ix & 0xffff_ffff));
    (m - 1.0, i2f(k) - sel(sub, 54.0, 0.0))
}

/// `(f*f/2, log(1+f) - f + f*f/2)` (musl `__log1p`).
#[inline(always)]
fn log_r(f: f64) -> (f64, f64) {
    let hfsq = 0.5 * f * f;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2 + w * (LG4 + w * LG6));
    let t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
    (hfsq, s * (hfsq + (t2 + t1)))
}

/// Special values of the logarithms of `x`: `res` for positive finite `x`.
#[inline(always)]
fn log_special(x: f64, res: f64) -> f64 {
    let normal = x > 0.0 && x < INF;
    sel(normal, res, sel(x == 0.0, -INF, sel(x == INF, INF, NAN)))
}

#[inline(always)]
pub(in crate::math) fn ln(x: f64) -> f64 {
    let (f, k) = log_reduce(x);
    let (hfsq, r) = log_r(f);
    let res = r + k * LN2_LO - hfsq + f + k * LN2_HI;
    log_special(x, res)
}

/// `hi + lo = f - f*f/2 + r` with `hi` holding only 20 mantissa bits (musl log2/log10).
#[inline(always)]
fn log_hi_lo(f: f64, hfsq: f64, r: f64) -> (f64, f64) {
    let hi = f64::from_bits((f - hfsq).to_bits() & 0xffff_ffff_0000_0000);
    (hi, (f - hi) - hfsq + r)
}

#[inline(always)]
pub(in crate::math) fn log2(x: f64) -> f64 {
    const IVLN2HI: f64 = h(0x3ff71547, 0x65200000);
    const IVLN2LO: f64 = h(0x3de705fc, 0x2eefa200);
    let (f, k) = log_reduce(x);
    let (hfsq, r) = log_r(f);
    let (hi, lo) = log_hi_lo(f, hfsq, r);
    let val_hi = hi * IVLN2HI;
    let val_lo = (lo + hi) * IVLN2LO + lo * IVLN2HI;
    let w = k + val_hi;
    let val_lo = val_lo + ((k - w) + val_hi);
    log_special(x, val_lo + w)
}

#[inline(always)]
pub(in crate::math) fn log10(x: f64) -> f64 {
    const IVLN10HI: f64 = h(0x3fdbcb7b, 0x15200000);
    const IVLN10LO: f64 = h(0x3dbb9438, 0xca9aadd5);
    const LOG10_2HI: f64 = h(0x3FD34413, 0x509F6000);
    const LOG10_2LO: f64 = h(0x3D59FEF3, 0x11F12B36);
    let (f, k) = log_reduce(x);
    let (hfsq, r) = log_r(f);
    let (hi, lo) = log_hi_lo(f, hfsq, r);
    let val_hi = hi * IVLN10HI;
    let y2 = k * LOG10_2HI;
    let val_lo = k * LOG10_2LO + (lo + hi) * IVLN10LO + lo * IVLN10HI;
    let w = y2 + val_hi;
    let val_lo = val_lo + ((y2 - w) + val_hi);
    log_special(x, val_lo + w)
}

#[inline(always)]
pub(in crate::math) fn ln_1p(x: f64) -> f64 {
    let hx = (x.to_bits() >> 32) as u32;
    // sqrt(2)/2 <= 1 + x < sqrt(2): f = x exactly, no correction term.
    let k0 = hx < 0x3fda_827a || (0x8000_0000..=0xbfd2_bec4).contains(&hx);
    let u = 1.0 + x;
    let hu = ((u.to_bits() >> 32) as u32).wrapping_add(0x3ff0_0000 - 0x3fe6_a09e);
    let kk = ((hu >> 20) as i64).wrapping_sub(0x3ff);
    // correction term ~ log(1+x) - log(u)
    let c = sel(kk >= 2, 1.0 - (u - x), x - (u - 1.0)) / u;
    let c = sel(kk < 54, c, 0.0);
    let hu = (hu & 0x000f_ffff).wrapping_add(0x3fe6_a09e);
    let um = f64::from_bits(((hu as u64) << 32) | (u.to_bits() & 0xffff_ffff));
    let f = sel(k0, x, um - 1.0);
    let c = sel(k0, 0.0, c);
    let k = sel(k0, 0.0, i2f(kk));
    let (hfsq, r) = log_r(f);
    let res = r + (k * LN2_LO + c) - hfsq + f + k * LN2_HI;
    // |x| < 2^-53 (also +-0 and subnormals): log1p(x) = x
    let res = sel((hx << 1) < (0x3ca0_0000 << 1), x, res);
    let normal = x > -1.0 && x < INF;
    sel(normal, res, sel(x == -1.0, -INF, sel(x == INF, INF, NAN)))
}

// ----- cbrt, hypot ------------------------------------------------------------------

#[inline(always)]
pub(in crate::math) fn cbrt(x: f64) -> f64 {
    const B1: u32 = 715094163;
    const B2: u32 = 696219795;
    const P0: f64 = h(0x3ffe03e6, 0x0f61e692);
    const P1: f64 = h(0xbffe28e0, 0x92f02420);
    const P2: f64 = h(0x3ff9f160, 0x4a49d6c2);
    const P3: f64 = h(0xbfe844cb, 0xbee751d9);
    const P4: f64 = h(0x3fc2b000, 0xd4e4edd7);
    let ix = x.to_bits();
    let sub = ((ix >> 32) as u32 & 0x7fff_ffff) < 0x0010_0000;
    let hx = (sel(sub, x * TWO54, x).to_bits() >> 32) as u32 & 0x7fff_ffff;
    let hx = hx / 3 + if sub { B2 } else { B1 };
    // rough cbrt to 5 bits, then a polynomial to 23 bits
    let t = f64::from_bits((ix & SIGN) | ((hx as u64) << 32));
    let r = (t * t) * (t / x);
    let t = t * ((P0 + r * (P1 + r * P2)) + ((r * r) * r) * (P3 + r * P4));
    // round t to 23 bits away from zero, then one Newton step to 53 bits
    let t = f64::from_bits(t.to_bits().wrapping_add(0x8000_0000) & 0xffff_ffff_c000_0000);
    let s = t * t;
    let r = x / s;
    let w = t + t;
    let r = (r - t) / (w + r);
    let res = t + t * r;
    sel(x == 0.0 || !x.is_finite(), x + x, res)
}

#[inline(always)]
pub(in crate::math) fn hypot(x: f64, y: f64) -> f64 {
    let ax = x.abs();
    let ay = y.abs();
    let swap = ay > ax;
    let a = sel(swap, ay, ax);
    let b = sel(swap, ax, ay);
    // scale the larger to [1, 4) by an exact power of two
    let e = ((a.to_bits() >> 52) as i64).clamp(1, 2045);
    let s = f64::from_bits(((2046 - e) as u64) << 52);
    let inv = f64::from_bits((e as u64) << 52);
    let (sa, sb) = (a * s, b * s);
    let res = (sa * sa + sb * sb).sqrt() * inv;
    sel(ax == INF || ay == INF, INF, res)
}

// ----- powf: double-double log and exp -----------------------------------------------

/// Veltkamp split of `a` into 26 + 27 bits (|a| < 2^995).
#[inline(always)]
fn split(a: f64) -> (f64, f64) {
    let c = 134217729.0 * a;
    let hi = c - (c - a);
    (hi, a - hi)
}

/// Exact product `a * b = p + e` (barring underflow of `e` and `|a|, |b| >= 2^995`):
/// with FMA or Dekker's algorithm, which give the same `e`.
#[inline(always)]
fn two_prod<const FMA: bool>(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    if FMA {
        (p, a.mul_add(b, -p))
    } else {
        let (ah, al) = split(a);
        let (bh, bl) = split(b);
        (p, ((ah * bh - p) + ah * bl + al * bh) + al * bl)
    }
}

/// Knuth's exact sum: `a + b = s + e`.
#[inline(always)]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

/// Exact sum when `|a| >= |b|`.
#[inline(always)]
fn fast_two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    (s, b - (s - a))
}

/// `ln(a)` as a double-double (relative error about 2^-62), for positive finite `a`.
#[inline(always)]
fn ln_dd<const FMA: bool>(a: f64) -> (f64, f64) {
    // 2/3 as a double-double
    const C23H: f64 = h(0x3fe55555, 0x55555555);
    const C23L: f64 = h(0x3c855555, 0x55555555);
    let (f, k) = log_reduce(a);
    // s = f / (2 + f) as a double-double; ln(1+f) = 2 atanh(s)
    let (dh, dl) = fast_two_sum(2.0, f);
    let rd = 1.0 / dh;
    let sh = f * rd;
    let (ph, pl) = two_prod::<FMA>(sh, dh);
    let sl = (((f - ph) - pl) - sh * dl) * rd;
    let (s2h, s2e) = two_prod::<FMA>(sh, sh);
    let s2l = s2e + 2.0 * sh * sl;
    let (s3h, s3e) = two_prod::<FMA>(s2h, sh);
    let s3l = s3e + (s2h * sl + s2l * sh);
    let (th, te) = two_prod::<FMA>(s3h, C23H);
    let tl = te + (s3h * C23L + s3l * C23H);
    // s^5 (2/5 + 2/7 s^2 + ... + 2/27 s^22), |s| <= 0.1716
    const P: [f64; 12] = [
        2.0 / 5.0,
        2.0 / 7.0,
        2.0 / 9.0,
        2.0 / 11.0,
        2.0 / 13.0,
        2.0 / 15.0,
        2.0 / 17.0,
        2.0 / 19.0,
        2.0 / 21.0,
        2.0 / 23.0,
        2.0 / 25.0,
        2.0 / 27.0,
    ];
    let r5 = s3h * s2h * estrin12(s2h, &P);
    // k ln2 + 2s + (2/3) s^3 + r5
    let (h1, l1) = two_sum(k * LN2_HI, 2.0 * sh);
    let l1 = l1 + (2.0 * sl + k * LN2_LO);
    let (h2, l2) = two_sum(h1, th);
    let l = ((l1 + l2) + tl) + r5;
    fast_two_sum(h2, l)
}

/// `e^(zh + zl)` for `zh` in `[-746, 711]`, `|zl| <= 2^-40 |zh|`.
#[inline(always)]
fn exp_dd(zh: f64, zl: f64) -> f64 {
    let (kd, ki) = rint(zh * LOG2_E);
    let (r, rl) = fast_two_sum(zh - kd * LN2_HI, zl - kd * LN2_LO);
    let p = 1.0 + (r + (rl + (r * r) * expm1_q(r)));
    scale(p, ki)
}

#[inline(always)]
pub(in crate::math) fn pow<const FMA: bool>(x: f64, y: f64) -> f64 {
    let ax = x.abs();
    let (lh, ll) = ln_dd::<FMA>(ax);
    let (zh, ze) = two_prod::<FMA>(y, lh);
    let zl = ze + y * ll;
    // (zl is not finite only if the split of a huge |y| overflowed: then zh is out of
    // range or ln|x| = 0, and zl does not matter)
    let inside = zh > -746.0 && zh < 711.0 && zl.is_finite();
    let zc = sel(zh >= 711.0, 711.0, sel(zh <= -746.0, -746.0, zh));
    let res = exp_dd(zc, sel(inside, zl, 0.0));
    // signs and special values, as C99 / Rust's powf
    let y_int = trunc_soft(y) == y;
    let y_odd = y_int && y.abs() < TWO52 + TWO52 && trunc_soft(y * 0.5) != y * 0.5;
    let neg = x < 0.0;
    let res = sel(neg && y_odd, -res, res);
    let res = sel(neg && !y_int, NAN, res);
    let xzero = ax == 0.0;
    let res = sel(xzero && y < 0.0, sel(y_odd, copysign(INF, x), INF), res);
    let res = sel(xzero && y > 0.0, sel(y_odd, x, 0.0), res);
    let xinf = ax == INF;
    let res = sel(xinf && y < 0.0, sel(neg && y_odd, -0.0, 0.0), res);
    let res = sel(xinf && y > 0.0, sel(neg && y_odd, -INF, INF), res);
    let yinf = y.abs() == INF;
    let res = sel(
        yinf,
        sel(ax == 1.0, 1.0, sel((ax > 1.0) == (y > 0.0), INF, 0.0)),
        res,
    );
    let res = sel(x.is_nan() || y.is_nan(), NAN, res);
    sel(y == 0.0 || x == 1.0, 1.0, res)
}

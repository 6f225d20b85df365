//! Branch-free scalar `f64` kernels. Every function is `#[inline(always)]` so that it is
//! compiled (and vectorised) inside the multiversioned loops. No FMA except for exact
//! products: results do not depend on the instruction set.

mod exp_log;
mod trig;

pub(super) use exp_log::{
    cbrt, cosh, exp, exp_m1, exp2, hypot, ln, ln_1p, log2, log10, pow, sinh, tanh,
};
pub(super) use trig::{TRIG_MAX, acos, asin, atan, atan2, cos, sin, tan};

/// The double with the given high and low 32-bit words (as in fdlibm sources).
const fn h(hi: u32, lo: u32) -> f64 {
    f64::from_bits(((hi as u64) << 32) | lo as u64)
}

const INF: f64 = f64::INFINITY;
const NAN: f64 = f64::NAN;
const SIGN: u64 = 1 << 63;
/// 1.5 * 2^52: adding it rounds to an integer held in the low mantissa bits.
const MAGIC: f64 = 6755399441055744.0;
const MAGIC_BITS: u64 = 0x4338_0000_0000_0000;
const TWO52: f64 = 4503599627370496.0;
const TWO54: f64 = 18014398509481984.0;
/// 2^-26
const TINY26: f64 = h(0x3e50_0000, 0);

const LN2_HI: f64 = h(0x3fe6_2e42, 0xfee0_0000);
const LN2_LO: f64 = h(0x3dea_39ef, 0x3579_3c76);

#[inline(always)]
fn sel(c: bool, a: f64, b: f64) -> f64 {
    if c { a } else { b }
}

#[inline(always)]
fn seli(c: bool, a: i64, b: i64) -> i64 {
    if c { a } else { b }
}

#[inline(always)]
fn copysign(x: f64, s: f64) -> f64 {
    f64::from_bits((x.to_bits() & !SIGN) | (s.to_bits() & SIGN))
}

/// Round to nearest (ties to even) for `|x| < 2^51`: the float and the integer.
#[inline(always)]
fn rint(x: f64) -> (f64, i64) {
    let t = x + MAGIC;
    (t - MAGIC, t.to_bits().wrapping_sub(MAGIC_BITS) as i64)
}

/// Exact `k as f64` for `|k| < 2^51` without a conversion instruction.
#[inline(always)]
fn i2f(k: i64) -> f64 {
    f64::from_bits(MAGIC_BITS.wrapping_add(k as u64)) - MAGIC
}

/// `2^k` for `-1022 <= k <= 1023`.
#[inline(always)]
fn pow2i(k: i64) -> f64 {
    f64::from_bits((k.wrapping_add(1023) as u64) << 52)
}

/// `p * 2^k` for `|k| <= 2044` with a single rounding (correct subnormals and overflow).
#[inline(always)]
fn scale(p: f64, k: i64) -> f64 {
    let k1 = k >> 1;
    p * pow2i(k1) * pow2i(k.wrapping_sub(k1))
}

// ----- rounding without SSE4.1 (exact) ---------------------------------------------------

#[inline(always)]
pub(super) fn trunc_soft(x: f64) -> f64 {
    let a = x.abs();
    let r = (a + TWO52) - TWO52;
    let r = sel(r > a, r - 1.0, r);
    sel(a < TWO52, copysign(r, x), x)
}

#[inline(always)]
pub(super) fn floor_soft(x: f64) -> f64 {
    let t = trunc_soft(x);
    sel(t > x, t - 1.0, t)
}

#[inline(always)]
pub(super) fn ceil_soft(x: f64) -> f64 {
    let t = trunc_soft(x);
    sel(t < x, t + 1.0, t)
}

#[inline(always)]
pub(super) fn round_soft(x: f64) -> f64 {
    let t = trunc_soft(x);
    sel((x - t).abs() >= 0.5, t + copysign(1.0, x), t)
}

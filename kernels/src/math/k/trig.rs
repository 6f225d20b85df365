//! `sin`, `cos`, `tan` (reduction by pi/2) and the inverse trigonometric functions.

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};

use super::{INF, TINY26, copysign, h, rint, sel};

// ----- sin, cos, tan (fdlibm kernels) ----------------------------------------------------

/// Arguments with `|x| >= TRIG_MAX` need more than 2^20 multiples of pi/2 removed.
pub(in crate::math) const TRIG_MAX: f64 = h(0x413921fb, 0);

const INVPIO2: f64 = h(0x3FE45F30, 0x6DC9C883);
const PIO2_1: f64 = h(0x3FF921FB, 0x54400000);
const PIO2_2: f64 = h(0x3DD0B461, 0x1A600000);
const PIO2_3: f64 = h(0x3BA3198A, 0x2E000000);
const PIO2_3T: f64 = h(0x397B839A, 0x252049C1);

/// `x = n pi/2 + y0 + y1` for `|x| < TRIG_MAX`; pi/2 is carried to 152 bits (three exact
/// 33-bit products and a 53-bit tail), rounding errors of the subtractions are kept.
#[inline(always)]
fn trig_reduce(x: f64) -> (f64, f64, i64) {
    let (fnd, n) = rint(x * INVPIO2);
    let r0 = x - fnd * PIO2_1;
    let w2 = fnd * PIO2_2;
    let r1 = r0 - w2;
    let e1 = (r0 - r1) - w2;
    let w3 = fnd * PIO2_3;
    let r2 = r1 - w3;
    let e2 = (r1 - r2) - w3;
    let tail = (e1 + e2) - fnd * PIO2_3T;
    let y0 = r2 + tail;
    let y1 = (r2 - y0) + tail;
    (y0, y1, n)
}

#[inline(always)]
fn sin_k(x: f64, y: f64) -> f64 {
    const S1: f64 = h(0xBFC55555, 0x55555549);
    const S2: f64 = h(0x3F811111, 0x1110F8A6);
    const S3: f64 = h(0xBF2A01A0, 0x19C161D5);
    const S4: f64 = h(0x3EC71DE3, 0x57B1FE7D);
    const S5: f64 = h(0xBE5AE5E6, 0x8A2B9CEB);
    const S6: f64 = h(0x3DE5D93A, 0x5ACFD57C);
    let z = x * x;
    let w = z * z;
    let r = S2 + z * (S3 + z * S4) + z * w * (S5 + z * S6);
    let v = z * x;
    x - ((z * (0.5 * y - v * r) - y) - v * S1)
}

#[inline(always)]
fn cos_k(x: f64, y: f64) -> f64 {
    const C1: f64 = h(0x3FA55555, 0x5555554C);
    const C2: f64 = h(0xBF56C16C, 0x16C15177);
    const C3: f64 = h(0x3EFA01A0, 0x19CB1590);
    const C4: f64 = h(0xBE927E4F, 0x809C52AD);
    const C5: f64 = h(0x3E21EE9E, 0xBDB4B1C4);
    const C6: f64 = h(0xBDA8FAE9, 0xBE8838D4);
    let z = x * x;
    let w = z * z;
    let r = z * (C1 + z * (C2 + z * C3)) + w * w * (C4 + z * (C5 + z * C6));
    let hz = 0.5 * z;
    let w = 1.0 - hz;
    w + (((1.0 - w) - hz) + (z * r - x * y))
}

#[inline(always)]
pub(in crate::math) fn sin(x: f64) -> f64 {
    let (y0, y1, n) = trig_reduce(x);
    let s = sin_k(y0, y1);
    let c = cos_k(y0, y1);
    let v = sel(n & 1 != 0, c, s);
    let res = sel(n & 2 != 0, -v, v);
    sel(x.abs() < TINY26, x, res)
}

#[inline(always)]
pub(in crate::math) fn cos(x: f64) -> f64 {
    let (y0, y1, n) = trig_reduce(x);
    let s = sin_k(y0, y1);
    let c = cos_k(y0, y1);
    let v = sel(n & 1 != 0, s, c);
    sel(n.wrapping_add(1) & 2 != 0, -v, v)
}

#[inline(always)]
pub(in crate::math) fn tan(x: f64) -> f64 {
    let (y0, y1, n) = trig_reduce(x);
    let s = sin_k(y0, y1);
    let c = cos_k(y0, y1);
    let odd = n & 1 != 0;
    let res = sel(odd, -c, s) / sel(odd, s, c);
    sel(x.abs() < TINY26, x, res)
}

// ----- inverse trigonometric (fdlibm) ----------------------------------------------------

const PIO2_LO: f64 = h(0x3C91A626, 0x33145C07);

/// `atan(a)` for `a >= 0` (also +inf and NaN).
#[inline(always)]
fn atan_pos(a: f64) -> f64 {
    const AH: [f64; 4] = [
        h(0x3FDDAC67, 0x0561BB4F),
        h(0x3FE921FB, 0x54442D18),
        h(0x3FEF730B, 0xD281F69B),
        h(0x3FF921FB, 0x54442D18),
    ];
    const AL: [f64; 4] = [
        h(0x3C7A2B7F, 0x222F65E2),
        h(0x3C81A626, 0x33145C07),
        h(0x3C700788, 0x7AF0CBBD),
        h(0x3C91A626, 0x33145C07),
    ];
    const AT: [f64; 11] = [
        h(0x3FD55555, 0x5555550D),
        h(0xBFC99999, 0x9998EBC4),
        h(0x3FC24924, 0x920083FF),
        h(0xBFBC71C6, 0xFE231671),
        h(0x3FB745CD, 0xC54C206E),
        h(0xBFB3B0F2, 0xAF749A6D),
        h(0x3FB10D66, 0xA0D03D51),
        h(0xBFADDE2D, 0x52DEFD9A),
        h(0x3FA97B4B, 0x24760DEB),
        h(0xBFA2B444, 0x2C6A6C2F),
        h(0x3F90AD3A, 0xE322DA11),
    ];
    let i0 = a >= 0.4375;
    let i1 = a >= 0.6875;
    let i2 = a >= 1.1875;
    let i3 = a >= 2.4375;
    let num = sel(
        i3,
        -1.0,
        sel(i2, a - 1.5, sel(i1, a - 1.0, sel(i0, 2.0 * a - 1.0, a))),
    );
    let den = sel(
        i3,
        a,
        sel(i2, 1.0 + 1.5 * a, sel(i1, a + 1.0, sel(i0, 2.0 + a, 1.0))),
    );
    let t = num / den;
    let hi = sel(
        i3,
        AH[3],
        sel(i2, AH[2], sel(i1, AH[1], sel(i0, AH[0], 0.0))),
    );
    let lo = sel(
        i3,
        AL[3],
        sel(i2, AL[2], sel(i1, AL[1], sel(i0, AL[0], 0.0))),
    );
    let z = t * t;
    let w = z * z;
    let s1 = z * (AT[0] + w * (AT[2] + w * (AT[4] + w * (AT[6] + w * (AT[8] + w * AT[10])))));
    let s2 = w * (AT[1] + w * (AT[3] + w * (AT[5] + w * (AT[7] + w * AT[9]))));
    hi - ((t * (s1 + s2) - lo) - t)
}

#[inline(always)]
pub(in crate::math) fn atan(x: f64) -> f64 {
    copysign(atan_pos(x.abs()), x)
}

#[inline(always)]
pub(in crate::math) fn atan2(y: f64, x: f64) -> f64 {
    const PI_LO: f64 = h(0x3CA1A626, 0x33145C07);
    let ax = x.abs();
    let ay = y.abs();
    let z = atan_pos(ay / ax);
    let xneg = x.is_sign_negative();
    let r = sel(xneg, PI - (z - PI_LO), z);
    let r = sel(ay == 0.0 && ax == 0.0, sel(xneg, PI, 0.0), r);
    let r = sel(
        ay == INF && ax == INF,
        sel(xneg, 3.0 * FRAC_PI_4, FRAC_PI_4),
        r,
    );
    copysign(r, y)
}

/// fdlibm's rational approximation `R(z)` of `(asin(x) - x) / x^3`, `z = x^2`.
#[inline(always)]
fn asin_r(z: f64) -> f64 {
    const PS0: f64 = h(0x3FC55555, 0x55555555);
    const PS1: f64 = h(0xBFD4D612, 0x03EB6F7D);
    const PS2: f64 = h(0x3FC9C155, 0x0E884455);
    const PS3: f64 = h(0xBFA48228, 0xB5688F3B);
    const PS4: f64 = h(0x3F49EFE0, 0x7501B288);
    const PS5: f64 = h(0x3F023DE1, 0x0DFDF709);
    const QS1: f64 = h(0xC0033A27, 0x1C8A2D4B);
    const QS2: f64 = h(0x40002AE5, 0x9C598AC8);
    const QS3: f64 = h(0xBFE6066C, 0x1B8D0159);
    const QS4: f64 = h(0x3FB3B8C5, 0xB12E9282);
    let p = z * (PS0 + z * (PS1 + z * (PS2 + z * (PS3 + z * (PS4 + z * PS5)))));
    let q = 1.0 + z * (QS1 + z * (QS2 + z * (QS3 + z * QS4)));
    p / q
}

/// `s` with the low 32 bits cleared.
#[inline(always)]
fn hi_word(s: f64) -> f64 {
    f64::from_bits(s.to_bits() & 0xffff_ffff_0000_0000)
}

#[inline(always)]
pub(in crate::math) fn asin(x: f64) -> f64 {
    let a = x.abs();
    let small = a < 0.5;
    let z = sel(small, a * a, (1.0 - a) * 0.5);
    let r = asin_r(z);
    let res_small = a + a * r;
    let s = z.sqrt();
    // |x| > 0.975
    let res_near1 = FRAC_PI_2 - (2.0 * (s + s * r) - PIO2_LO);
    let f = hi_word(s);
    let c = (z - f * f) / (s + f);
    let p = 2.0 * s * r - (PIO2_LO - 2.0 * c);
    let q = FRAC_PI_4 - 2.0 * f;
    let res_mid = FRAC_PI_4 - (p - q);
    let res = sel(
        small,
        res_small,
        sel(a >= h(0x3FEF3333, 0), res_near1, res_mid),
    );
    copysign(res, x)
}

#[inline(always)]
pub(in crate::math) fn acos(x: f64) -> f64 {
    let a = x.abs();
    let small = a < 0.5;
    let neg = x < 0.0;
    let z = sel(small, x * x, sel(neg, (1.0 + x) * 0.5, (1.0 - x) * 0.5));
    let r = asin_r(z);
    let res_small = FRAC_PI_2 - (x - (PIO2_LO - x * r));
    let s = z.sqrt();
    let res_neg = PI - 2.0 * (s + (r * s - PIO2_LO));
    let df = hi_word(s);
    let c = (z - df * df) / (s + df);
    let res_pos = 2.0 * (df + (r * s + c));
    let res = sel(small, res_small, sel(neg, res_neg, res_pos));
    sel(x == 1.0, 0.0, res)
}

//! Counter-based random numbers (Philox4x32-10) keyed by seed and element position.
//!
//! Every random value is a pure function of `(seed, stream, distribution, global index)`,
//! where the global index is the element's C-order linear index in the whole array. The
//! values therefore never depend on chunking, on the order in which tiles are evaluated, on
//! the number of threads, or on the instruction set chosen at run time (all arithmetic is
//! plain IEEE-754 without fused multiply-add, so the AVX-512, AVX2 and portable code paths
//! produce bit-identical results).
//!
//! # Generator
//!
//! The block function is Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random
//! numbers: as easy as 1, 2, 3", SC 2011; the Random123 library): a keyed bijection of a
//! 128-bit counter, 10 rounds, checked against the Random123 known-answer vectors.
//!
//! # Key and counter layout
//!
//! * key: the seed itself, `[seed as u32, (seed >> 32) as u32]` (see [`key_from_seed`]).
//! * counter word 0, 1: low and high halves of the 64-bit *block index* `k` (below);
//! * counter word 2: a distribution tag (uniform f64, uniform f32, normal, integers), so the
//!   different distributions drawn with one seed and stream are independent of each other;
//!   for integers the low 24 bits also count rejection retries;
//! * counter word 3: the `stream` number, so streams of one seed are independent.
//!
//! One Philox call yields four 32-bit words `w0..w3`; write `x0 = w0 + 2^32 w1` and
//! `x1 = w2 + 2^32 w3` for its two 64-bit halves. The element with global index `i` is:
//!
//! * [`fill_uniform_f64`]: block `k = i / 2`, half `x = x_(i % 2)`; value `(x >> 11) / 2^53`.
//! * [`fill_uniform_f32`]: block `k = i / 4`, word `w = w_(i % 4)`; value `(w >> 8) / 2^24`.
//! * [`fill_normal_f64`]: block `k = i / 2`; Box-Muller on `(x0, x1)` gives the pair
//!   `(r cos t, r sin t)` for elements `2k` and `2k + 1`.
//! * [`fill_normal_f32`]: exactly the f64 normal of the same index, rounded to f32.
//! * [`fill_integers_i64`]: block `k = i / 2`, half `x = x_(i % 2)`; Lemire's multiply-shift
//!   with exact rejection (retries use further counters of the same element).
//!
//! Indices are taken modulo 2^64: a fill must not run past global index `u64::MAX`.

use multiversion::multiversion;

/// Philox4x32 round multipliers (Random123 `PHILOX_M4x32_0`, `PHILOX_M4x32_1`).
const PHILOX_M0: u32 = 0xD251_1F53;
const PHILOX_M1: u32 = 0xCD9E_8D57;
/// Philox key schedule Weyl increments (Random123 `PHILOX_W32_0`, `PHILOX_W32_1`).
const PHILOX_W0: u32 = 0x9E37_79B9;
const PHILOX_W1: u32 = 0xBB67_AE85;

/// Counter word 2 of [`fill_uniform_f64`].
const TAG_UNIFORM_F64: u32 = 0x0100_0000;
/// Counter word 2 of [`fill_uniform_f32`].
const TAG_UNIFORM_F32: u32 = 0x0200_0000;
/// Counter word 2 of [`fill_normal_f64`] and [`fill_normal_f32`].
const TAG_NORMAL: u32 = 0x0300_0000;
/// Counter word 2 of [`fill_integers_i64`]; retry `n` of an element uses `TAG_INTEGER + n`.
const TAG_INTEGER: u32 = 0x0400_0000;

/// Counters per vectorised block written out at once (64 counters = 128 f64 or 256 f32
/// values), as groups of [`PHILOX_GROUP`] that run their rounds together. Measured on
/// AVX-512 (Zen 4), filling 18 MB tiles inside a fused reduction (`cargo bench --bench
/// views -- shifted_diff`): 0.52 s against 0.58 s for blocks of 32, and 1.16 s for 128.
const BLOCK: usize = 64;
/// Counters per medium block, used for the tail of a strip.
const SMALL_BLOCK: usize = 4;

/// Philox4x32-10 block function (Random123): one 128-bit counter and 64-bit key to 128 random
/// bits.
///
/// Bit-compatible with Random123's `philox4x32_R(10, ctr, key)`.
#[must_use]
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k[0] = k[0].wrapping_add(PHILOX_W0);
            k[1] = k[1].wrapping_add(PHILOX_W1);
        }
        let p0 = u64::from(PHILOX_M0) * u64::from(c[0]);
        let p1 = u64::from(PHILOX_M1) * u64::from(c[2]);
        c = [
            ((p1 >> 32) as u32) ^ c[1] ^ k[0],
            p1 as u32,
            ((p0 >> 32) as u32) ^ c[3] ^ k[1],
            p0 as u32,
        ];
    }
    c
}

/// Philox key of a seed: the seed's low 32 bits are key word 0, its high 32 bits key word 1.
///
/// The stream number is not part of the key: it is counter word 3 (see the module docs).
#[must_use]
pub fn key_from_seed(seed: u64) -> [u32; 2] {
    [seed as u32, (seed >> 32) as u32]
}

/// The ten Philox4x32 round keys of `key` (key plus `r` times the Weyl increments), widened to
/// `u64` lanes.
#[inline(always)]
fn round_keys(key: [u32; 2]) -> [[u64; 2]; 10] {
    let mut rk = [[0u64; 2]; 10];
    let (mut k0, mut k1) = (key[0], key[1]);
    for r in &mut rk {
        *r = [u64::from(k0), u64::from(k1)];
        k0 = k0.wrapping_add(PHILOX_W0);
        k1 = k1.wrapping_add(PHILOX_W1);
    }
    rk
}

/// Philox4x32-10 on `N` block indices `counters` with fixed counter words 2 and 3, in a
/// vectorisable layout, in groups of [`PHILOX_GROUP`] counters; `rk` is [`round_keys`] of
/// the key.
///
/// Each 32-bit word lives in the low half of a `u64` lane (high halves are junk that the
/// `u32 x u32 -> u64` multiplies and the final packing ignore). Returns, per counter, the two
/// 64-bit values `[w0 | w1 << 32, w2 | w3 << 32]`, identical to [`philox4x32_10`].
#[inline(always)]
fn philox_lanes<const N: usize>(
    rk: &[[u64; 2]; 10],
    w2: u32,
    w3: u32,
    counters: &[u64; N],
) -> [[u64; 2]; N] {
    if N <= PHILOX_GROUP || !N.is_multiple_of(PHILOX_GROUP) {
        return philox_group::<N>(rk, w2, w3, counters);
    }
    let mut out = [[0u64; 2]; N];
    let groups = counters.as_chunks::<PHILOX_GROUP>().0;
    for (c, o) in groups.iter().zip(out.as_chunks_mut::<PHILOX_GROUP>().0) {
        *o = philox_group::<PHILOX_GROUP>(rk, w2, w3, c);
    }
    out
}

/// Counters whose ten rounds run together: 32 keeps the four state words of every lane in
/// registers with the multiplier latency hidden; 16 compiles to code three times slower (its
/// rounds are not vectorised the same way), and 64 spills.
const PHILOX_GROUP: usize = 32;

/// [`philox_lanes`] on one group of counters.
#[inline(always)]
fn philox_group<const N: usize>(
    rk: &[[u64; 2]; 10],
    w2: u32,
    w3: u32,
    counters: &[u64; N],
) -> [[u64; 2]; N] {
    const LOW: u64 = 0xFFFF_FFFF;
    let mut c = [[0u64; N]; 4];
    let [c0, c1, ..] = &mut c;
    for ((c0, c1), &k) in c0.iter_mut().zip(c1.iter_mut()).zip(counters) {
        *c0 = k;
        *c1 = k >> 32;
    }
    c[2] = [u64::from(w2); N];
    c[3] = [u64::from(w3); N];

    /// One round on all lanes.
    #[inline(always)]
    #[allow(clippy::needless_range_loop)] // four parallel lane arrays
    fn round<const N: usize>(c: &mut [[u64; N]; 4], k: [u64; 2]) {
        for j in 0..N {
            let p0 = (c[0][j] & LOW) * u64::from(PHILOX_M0);
            let p1 = (c[2][j] & LOW) * u64::from(PHILOX_M1);
            c[0][j] = (p1 >> 32) ^ c[1][j] ^ k[0];
            c[1][j] = p1;
            c[2][j] = (p0 >> 32) ^ c[3][j] ^ k[1];
            c[3][j] = p0;
        }
    }
    // Written out: a rolled loop keeps register copies of the rotating state.
    round(&mut c, rk[0]);
    round(&mut c, rk[1]);
    round(&mut c, rk[2]);
    round(&mut c, rk[3]);
    round(&mut c, rk[4]);
    round(&mut c, rk[5]);
    round(&mut c, rk[6]);
    round(&mut c, rk[7]);
    round(&mut c, rk[8]);
    round(&mut c, rk[9]);

    let mut out = [[0u64; 2]; N];
    for (j, o) in out.iter_mut().enumerate() {
        *o = [
            (c[1][j] << 32) | (c[0][j] & LOW),
            (c[3][j] << 32) | (c[2][j] & LOW),
        ];
    }
    out
}

/// 64 random bits to a uniform f64 in `[0, 1)` (top 53 bits, exact).
#[inline(always)]
fn unit_f64(x: u64) -> f64 {
    const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
    (x >> 11) as f64 * SCALE
}

/// 32 random bits to a uniform f32 in `[0, 1)` (top 24 bits, exact).
#[inline(always)]
fn unit_f32(w: u32) -> f32 {
    const SCALE: f32 = 1.0 / (1u32 << 24) as f32;
    (w >> 8) as f32 * SCALE
}

/// High part of ln 2 (fdlibm `ln2_hi`: trailing zero bits, so `e * LN2_HI` is exact).
const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
/// `ln 2 - LN2_HI` (fdlibm `ln2_lo`).
const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);

/// Natural logarithm of a positive, normal, finite `x` (here `x` in `(0, 1]`), branch-free
/// so that it vectorises; error about 1 ulp.
///
/// `x = m 2^e` with `m` in `[sqrt(1/2), sqrt(2))`; `ln m = 2 atanh(s)`, `s = (m - 1) / (m + 1)`,
/// `|s| <= 0.1716`, by its Taylor series up to `s^19` (truncation error < 3e-17 relative).
#[inline(always)]
fn ln_positive(x: f64) -> f64 {
    const FRAC: u64 = (1u64 << 52) - 1;
    let bits = x.to_bits();
    let mut e = ((bits >> 52) as i64) - 1023;
    let m = f64::from_bits((bits & FRAC) | 1.0f64.to_bits());
    let big = m > std::f64::consts::SQRT_2;
    let m = if big { m * 0.5 } else { m };
    e += i64::from(big);
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut p = 1.0 / 19.0;
    p = p * s2 + 1.0 / 17.0;
    p = p * s2 + 1.0 / 15.0;
    p = p * s2 + 1.0 / 13.0;
    p = p * s2 + 1.0 / 11.0;
    p = p * s2 + 1.0 / 9.0;
    p = p * s2 + 1.0 / 7.0;
    p = p * s2 + 1.0 / 5.0;
    p = p * s2 + 1.0 / 3.0;
    // ln m = 2 s + 2 s^3 p
    let ef = e as f64;
    let two_s = s + s;
    ef * LN2_HI + (two_s * s2 * p + ef * LN2_LO + two_s)
}

/// `(sin t, cos t)` for the angle `t = 2 pi b / 2^64` given by 64 random bits `b`, branch-free.
///
/// The top 53 bits of `b` select the angle: the nearest quarter turn `q` is split off
/// exactly in integer arithmetic, leaving `x` in `[-pi/4, pi/4)` for Taylor polynomials
/// (through `x^15` for sin and `x^16` for cos, truncation error < 1e-16).
#[inline(always)]
fn sincos_turns(b: u64) -> (f64, f64) {
    // PI / 2^52 (exact scaling of PI by a power of two).
    const ANGLE: f64 = std::f64::consts::PI / (1u64 << 52) as f64;
    // b / 2^62 is the angle in quarter turns; add half a quarter to round to nearest.
    let y = b.wrapping_add(1 << 61);
    let q = y >> 62;
    // Offset from that quarter, in units of 2^-62 quarter turns, in [-2^61, 2^61); keep 53 bits.
    let r = (((y & ((1u64 << 62) - 1)) as i64) - (1i64 << 61)) >> 11;
    let x = r as f64 * ANGLE;
    let x2 = x * x;

    let mut ps = -1.0 / 1_307_674_368_000.0; // -1/15!
    ps = ps * x2 + 1.0 / 6_227_020_800.0; // 1/13!
    ps = ps * x2 - 1.0 / 39_916_800.0; // -1/11!
    ps = ps * x2 + 1.0 / 362_880.0; // 1/9!
    ps = ps * x2 - 1.0 / 5_040.0; // -1/7!
    ps = ps * x2 + 1.0 / 120.0; // 1/5!
    ps = ps * x2 - 1.0 / 6.0; // -1/3!
    let sin = x + x * x2 * ps;

    let mut pc = 1.0 / 20_922_789_888_000.0; // 1/16!
    pc = pc * x2 - 1.0 / 87_178_291_200.0; // -1/14!
    pc = pc * x2 + 1.0 / 479_001_600.0; // 1/12!
    pc = pc * x2 - 1.0 / 3_628_800.0; // -1/10!
    pc = pc * x2 + 1.0 / 40_320.0; // 1/8!
    pc = pc * x2 - 1.0 / 720.0; // -1/6!
    pc = pc * x2 + 1.0 / 24.0; // 1/4!
    let cos = (1.0 - 0.5 * x2) + x2 * x2 * pc;

    // Rotate by q quarter turns: q=0 (s, c), q=1 (c, -s), q=2 (-s, -c), q=3 (-c, s).
    let swap = q & 1 == 1;
    let (s, c) = if swap { (cos, sin) } else { (sin, cos) };
    let sin_neg = (q >> 1) << 63;
    let cos_neg = ((q ^ (q >> 1)) & 1) << 63;
    (
        f64::from_bits(s.to_bits() ^ sin_neg),
        f64::from_bits(c.to_bits() ^ cos_neg),
    )
}

/// Box-Muller: two independent standard normals from 128 random bits.
///
/// `u1 = a / 2^64 + 2^-65` lies in `(0, 1]` (never 0, so the logarithm is finite; the largest
/// possible radius is `sqrt(130 ln 2) ~ 9.49`); the angle is `2 pi b / 2^64`.
/// Returns `(r cos t, r sin t)`.
#[inline(always)]
fn box_muller(a: u64, b: u64) -> (f64, f64) {
    const TWO_M64: f64 = 1.0 / 18_446_744_073_709_551_616.0;
    const TWO_M65: f64 = 0.5 * TWO_M64;
    let u1 = a as f64 * TWO_M64 + TWO_M65;
    let rr = -2.0 * ln_positive(u1);
    let rr = if rr > 0.0 { rr } else { 0.0 };
    let r = rr.sqrt();
    let (sin, cos) = sincos_turns(b);
    (r * cos, r * sin)
}

/// Key, round keys and stream of one generator.
struct Gen {
    key: [u32; 2],
    rk: [[u64; 2]; 10],
    stream: u32,
}

impl Gen {
    fn new(seed: u64, stream: u32) -> Self {
        let key = key_from_seed(seed);
        Self {
            key,
            rk: round_keys(key),
            stream,
        }
    }
}

/// One distribution: how the outputs of `N` consecutive Philox counters become values.
trait Kernel {
    /// Element type.
    type Out: Copy + Default;
    /// Elements per Philox counter (1, 2 or 4: must divide 2^64).
    const PER_COUNTER: usize;
    /// Writes the `N * PER_COUNTER` elements of block indices `counters` to `out`.
    fn emit_at<const N: usize>(&self, counters: &[u64; N], out: &mut [Self::Out]);

    /// Writes the `N * PER_COUNTER` elements of block indices `first .. first + N` to `out`.
    #[inline(always)]
    fn emit<const N: usize>(&self, first: u64, out: &mut [Self::Out]) {
        // A plain loop: `array::from_fn` is not always inlined into the multiversioned
        // callers, and an outlined call per block costs as much as the block's rounds.
        let mut counters = [0u64; N];
        for (j, c) in counters.iter_mut().enumerate() {
            *c = first.wrapping_add(j as u64);
        }
        self.emit_at::<N>(&counters, out)
    }
}

/// Elements per group of the strided fill: one vectorised Philox call on this many counters.
const STRIDED_GROUP: usize = BLOCK;

/// Fills `out[j]` with element `start + j * stride` (modulo 2^64): groups of
/// [`STRIDED_GROUP`] elements, each from its own counter, by the same per-lane code as
/// [`drive`] (so an element has the same value whichever path computed it).
#[inline(always)]
fn drive_strided<K: Kernel>(kern: &K, start: u64, stride: u64, out: &mut [K::Out]) {
    let p = K::PER_COUNTER as u64;
    let mut tmp = [K::Out::default(); 4 * STRIDED_GROUP];
    for (g, chunk) in out.chunks_mut(STRIDED_GROUP).enumerate() {
        let first = start.wrapping_add(((g * STRIDED_GROUP) as u64).wrapping_mul(stride));
        let index = |j: usize| first.wrapping_add((j as u64).wrapping_mul(stride));
        let mut counters = [0u64; STRIDED_GROUP];
        for (j, c) in counters.iter_mut().enumerate() {
            *c = index(j) / p;
        }
        kern.emit_at(&counters, &mut tmp[..STRIDED_GROUP * K::PER_COUNTER]);
        for (j, o) in chunk.iter_mut().enumerate() {
            *o = tmp[j * K::PER_COUNTER + (index(j) % p) as usize];
        }
    }
}

/// Fills `out` with elements `start ..`, where element `i` is element `i % P` of counter
/// `i / P`: a partial head counter, blocks of `B` counters, blocks of [`SMALL_BLOCK`], single
/// counters and a partial tail counter, all computed by the same per-lane code (so the values
/// do not depend on which of these paths produced them).
#[inline(always)]
fn drive<K: Kernel, const B: usize>(kern: &K, start: u64, out: &mut [K::Out]) {
    let p = K::PER_COUNTER;
    let mut tmp = [K::Out::default(); 4];
    let mut out = out;
    let mut next = start;
    let head = (start % p as u64) as usize;
    if head != 0 && !out.is_empty() {
        kern.emit::<1>(start / p as u64, &mut tmp[..p]);
        let n = (p - head).min(out.len());
        out[..n].copy_from_slice(&tmp[head..head + n]);
        out = &mut out[n..];
        next = next.wrapping_add(n as u64);
    }
    if out.is_empty() {
        return;
    }
    // `next` is now a multiple of `p` (modulo 2^64, which `p` divides).
    let mut k = next / p as u64;

    let mut blocks = out.chunks_exact_mut(B * p);
    for chunk in &mut blocks {
        kern.emit::<B>(k, chunk);
        k = k.wrapping_add(B as u64);
    }
    let mut smalls = blocks.into_remainder().chunks_exact_mut(SMALL_BLOCK * p);
    for chunk in &mut smalls {
        kern.emit::<SMALL_BLOCK>(k, chunk);
        k = k.wrapping_add(SMALL_BLOCK as u64);
    }
    let mut singles = smalls.into_remainder().chunks_exact_mut(p);
    for chunk in &mut singles {
        kern.emit::<1>(k, chunk);
        k = k.wrapping_add(1);
    }
    let tail = singles.into_remainder();
    if !tail.is_empty() {
        kern.emit::<1>(k, &mut tmp[..p]);
        tail.copy_from_slice(&tmp[..tail.len()]);
    }
}

/// Runs [`drive`] with blocks of `B` counters, compiled for the best instruction set of the
/// running CPU (multiversion's AVX-512 target also requires the Ice Lake / Zen 4 AVX-512
/// extensions; otherwise AVX2, otherwise baseline). Results are identical on every path.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn run<K: Kernel, const B: usize>(kern: &K, start: u64, stride: u64, out: &mut [K::Out]) {
    if stride == 1 {
        drive::<K, B>(kern, start, out);
    } else {
        drive_strided(kern, start, stride, out);
    }
}

/// Uniform f64 in `[0, 1)`: two per counter.
struct UniformF64(Gen);

impl Kernel for UniformF64 {
    type Out = f64;
    const PER_COUNTER: usize = 2;

    #[inline(always)]
    fn emit_at<const N: usize>(&self, counters: &[u64; N], out: &mut [f64]) {
        let raw = philox_lanes::<N>(&self.0.rk, TAG_UNIFORM_F64, self.0.stream, counters);
        let out: &mut [[f64; 2]; N] = out.as_chunks_mut::<2>().0.try_into().unwrap();
        for (o, r) in out.iter_mut().zip(raw.iter()) {
            *o = [unit_f64(r[0]), unit_f64(r[1])];
        }
    }
}

/// Uniform f32 in `[0, 1)`: four per counter.
struct UniformF32(Gen);

impl Kernel for UniformF32 {
    type Out = f32;
    const PER_COUNTER: usize = 4;

    #[inline(always)]
    fn emit_at<const N: usize>(&self, counters: &[u64; N], out: &mut [f32]) {
        let raw = philox_lanes::<N>(&self.0.rk, TAG_UNIFORM_F32, self.0.stream, counters);
        let out: &mut [[f32; 4]; N] = out.as_chunks_mut::<4>().0.try_into().unwrap();
        for (o, r) in out.iter_mut().zip(raw.iter()) {
            *o = [
                unit_f32(r[0] as u32),
                unit_f32((r[0] >> 32) as u32),
                unit_f32(r[1] as u32),
                unit_f32((r[1] >> 32) as u32),
            ];
        }
    }
}

/// Standard normal f64: a Box-Muller pair per counter.
struct NormalF64(Gen);

impl Kernel for NormalF64 {
    type Out = f64;
    const PER_COUNTER: usize = 2;

    #[inline(always)]
    fn emit_at<const N: usize>(&self, counters: &[u64; N], out: &mut [f64]) {
        let raw = philox_lanes::<N>(&self.0.rk, TAG_NORMAL, self.0.stream, counters);
        let out: &mut [[f64; 2]; N] = out.as_chunks_mut::<2>().0.try_into().unwrap();
        for (o, r) in out.iter_mut().zip(raw.iter()) {
            let (z0, z1) = box_muller(r[0], r[1]);
            *o = [z0, z1];
        }
    }
}

/// Standard normal f32: the f64 normal rounded.
struct NormalF32(Gen);

impl Kernel for NormalF32 {
    type Out = f32;
    const PER_COUNTER: usize = 2;

    #[inline(always)]
    fn emit_at<const N: usize>(&self, counters: &[u64; N], out: &mut [f32]) {
        let raw = philox_lanes::<N>(&self.0.rk, TAG_NORMAL, self.0.stream, counters);
        let out: &mut [[f32; 2]; N] = out.as_chunks_mut::<2>().0.try_into().unwrap();
        for (o, r) in out.iter_mut().zip(raw.iter()) {
            let (z0, z1) = box_muller(r[0], r[1]);
            *o = [z0 as f32, z1 as f32];
        }
    }
}

/// Uniform integers in `[low, low + span)`: Lemire's multiply-shift with rejection.
struct Integers {
    g: Gen,
    low: i64,
    /// `high - low`, in `1 ..= 2^64 - 1`.
    span: u64,
    /// `2^64 mod span`: products whose low half is below this are rejected.
    threshold: u64,
}

impl Integers {
    /// Maps 64 random bits of element half `h` of block `k` to the range.
    #[inline(always)]
    fn map(&self, x: u64, k: u64, h: usize) -> i64 {
        let m = u128::from(x) * u128::from(self.span);
        if (m as u64) < self.threshold {
            return self.retry(k, h);
        }
        self.low.wrapping_add((m >> 64) as u64 as i64)
    }

    /// Rejected draw: draws again from counters `[k, TAG_INTEGER + n, stream]`, n = 1, 2, ...
    /// (each try is rejected with probability below 1/2).
    #[cold]
    #[inline(never)]
    fn retry(&self, k: u64, h: usize) -> i64 {
        let mut attempt: u32 = 1;
        loop {
            let w = philox4x32_10(
                [
                    k as u32,
                    (k >> 32) as u32,
                    TAG_INTEGER.wrapping_add(attempt),
                    self.g.stream,
                ],
                self.g.key,
            );
            let x = u64::from(w[2 * h]) | (u64::from(w[2 * h + 1]) << 32);
            let m = u128::from(x) * u128::from(self.span);
            if (m as u64) >= self.threshold {
                return self.low.wrapping_add((m >> 64) as u64 as i64);
            }
            attempt = attempt.wrapping_add(1);
        }
    }
}

impl Kernel for Integers {
    type Out = i64;
    const PER_COUNTER: usize = 2;

    #[inline(always)]
    fn emit_at<const N: usize>(&self, counters: &[u64; N], out: &mut [i64]) {
        let raw = philox_lanes::<N>(&self.g.rk, TAG_INTEGER, self.g.stream, counters);
        let out: &mut [[i64; 2]; N] = out.as_chunks_mut::<2>().0.try_into().unwrap();
        for ((o, r), &k) in out.iter_mut().zip(raw.iter()).zip(counters) {
            *o = [self.map(r[0], k, 0), self.map(r[1], k, 1)];
        }
    }
}

/// Fills `out[j]` with the uniform `[0, 1)` f64 of global element `start + j * stride` (53 random bits:
/// multiples of 2^-53).
///
/// Element `i` uses half `i % 2` of Philox counter `[i / 2, TAG_UNIFORM_F64, stream]`.
pub fn fill_uniform_f64(seed: u64, stream: u32, start: u64, stride: u64, out: &mut [f64]) {
    let kern = UniformF64(Gen::new(seed, stream));
    run::<_, BLOCK>(&kern, start, stride, out);
}

/// Fills `out[j]` with the uniform `[0, 1)` f32 of global element `start + j * stride` (24 random bits:
/// multiples of 2^-24).
///
/// Element `i` uses word `i % 4` of Philox counter `[i / 4, TAG_UNIFORM_F32, stream]`.
pub fn fill_uniform_f32(seed: u64, stream: u32, start: u64, stride: u64, out: &mut [f32]) {
    let kern = UniformF32(Gen::new(seed, stream));
    run::<_, BLOCK>(&kern, start, stride, out);
}

/// Fills `out[j]` with the standard normal f64 of global element `start + j * stride`.
///
/// Box-Muller on the 128 bits of Philox counter `[i / 2, TAG_NORMAL, stream]`: element
/// `2k` is `r cos t`, element `2k + 1` is `r sin t` of the same pair. Always finite
/// (`|z| < 9.5`).
pub fn fill_normal_f64(seed: u64, stream: u32, start: u64, stride: u64, out: &mut [f64]) {
    let kern = NormalF64(Gen::new(seed, stream));
    run::<_, BLOCK>(&kern, start, stride, out);
}

/// Fills `out[j]` with the standard normal f32 of global element `start + j * stride`: exactly the
/// value of [`fill_normal_f64`] for the same seed, stream and index, rounded to f32.
pub fn fill_normal_f32(seed: u64, stream: u32, start: u64, stride: u64, out: &mut [f32]) {
    let kern = NormalF32(Gen::new(seed, stream));
    run::<_, BLOCK>(&kern, start, stride, out);
}

/// Fills `out[j]` with the uniform integer in `[low, high)` of global element
/// `start + j * stride`.
///
/// Exactly unbiased: Lemire's multiply-shift (`(x * span) >> 64` on 64 random bits `x`,
/// `span = high - low`) with rejection of the `2^64 mod span` biased low products. Element
/// `i` first uses half `i % 2` of Philox counter `[i / 2, TAG_INTEGER, stream]`; a rejected
/// draw retries with half `i % 2` of `[i / 2, TAG_INTEGER + n, stream]`, `n = 1, 2, ...`.
/// The whole `i64` range is supported (`span` up to `2^64 - 1`).
///
/// # Panics
///
/// If `high <= low`.
pub fn fill_integers_i64(
    seed: u64,
    stream: u32,
    start: u64,
    stride: u64,
    low: i64,
    high: i64,
    out: &mut [i64],
) {
    assert!(high > low, "fill_integers_i64: empty range [{low}, {high})");
    let span = high.wrapping_sub(low) as u64;
    let kern = Integers {
        g: Gen::new(seed, stream),
        low,
        span,
        threshold: span.wrapping_neg() % span,
    };
    run::<_, BLOCK>(&kern, start, stride, out);
}

#[cfg(test)]
mod tests;

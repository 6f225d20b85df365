use super::*;
use crate::test_rng::Lcg;

/// Independent reference Philox4x32-10, written from the paper's definition with the key
/// schedule precomputed (round r uses key + r * (W0, W1)) and the S-box spelled out:
/// (L0, R0, L1, R1) -> (hi(M1*L1) ^ R0 ^ k0, lo(M1*L1), hi(M0*L0) ^ R1 ^ k1, lo(M0*L0)).
fn philox_reference(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let schedule: Vec<(u32, u32)> = (0..10u32)
        .map(|r| {
            (
                key[0].wrapping_add(r.wrapping_mul(0x9E37_79B9)),
                key[1].wrapping_add(r.wrapping_mul(0xBB67_AE85)),
            )
        })
        .collect();
    let (mut l0, mut r0, mut l1, mut r1) = (ctr[0], ctr[1], ctr[2], ctr[3]);
    for &(k0, k1) in &schedule {
        let a = (l0 as u64).wrapping_mul(0xD251_1F53);
        let b = (l1 as u64).wrapping_mul(0xCD9E_8D57);
        let (hi_a, lo_a) = ((a >> 32) as u32, (a & 0xFFFF_FFFF) as u32);
        let (hi_b, lo_b) = ((b >> 32) as u32, (b & 0xFFFF_FFFF) as u32);
        (l0, r0, l1, r1) = (hi_b ^ r0 ^ k0, lo_b, hi_a ^ r1 ^ k1, lo_a);
    }
    [l0, r0, l1, r1]
}

/// Random123 `tests/kat_vectors`, the three `philox4x32 10` lines
/// (counter words, key words, expected output words).
const KAT: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
    (
        [0, 0, 0, 0],
        [0, 0],
        [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8],
    ),
    (
        [0xffff_ffff; 4],
        [0xffff_ffff; 2],
        [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd],
    ),
    (
        [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
        [0xa409_3822, 0x299f_31d0],
        [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1],
    ),
];

#[test]
fn random_philox_known_answers() {
    for (ctr, key, want) in KAT {
        assert_eq!(
            philox4x32_10(ctr, key),
            want,
            "ctr {ctr:08x?} key {key:08x?}"
        );
        assert_eq!(
            philox_reference(ctr, key),
            want,
            "reference, ctr {ctr:08x?}"
        );
    }
}

#[test]
fn random_philox_matches_reference_and_lanes() {
    let mut rng = Lcg::new(1);
    for _ in 0..2000 {
        let x = rng.next_u64();
        let y = rng.next_u64();
        let ctr = [x as u32, (x >> 32) as u32, y as u32, (y >> 32) as u32];
        let key = key_from_seed(rng.next_u64());
        assert_eq!(philox4x32_10(ctr, key), philox_reference(ctr, key));
    }
    // The lane layout (several block sizes, counters crossing a 2^32 carry) agrees.
    for _ in 0..50 {
        let key = key_from_seed(rng.next_u64());
        let (w2, w3) = (rng.next_u64() as u32, rng.next_u64() as u32);
        let first = if rng.next_u64().is_multiple_of(2) {
            rng.next_u64()
        } else {
            (1u64 << 32) - 7
        };
        // 64 runs as groups of 32.
        let lanes64 = philox_lanes::<64>(
            &round_keys(key),
            w2,
            w3,
            &std::array::from_fn(|j| first.wrapping_add(j as u64)),
        );
        let lanes3 = philox_lanes::<3>(
            &round_keys(key),
            w2,
            w3,
            &std::array::from_fn(|j| first.wrapping_add(j as u64)),
        );
        for (j, got) in lanes64.iter().enumerate() {
            let k = first.wrapping_add(j as u64);
            let w = philox4x32_10([k as u32, (k >> 32) as u32, w2, w3], key);
            let want = [
                u64::from(w[0]) | (u64::from(w[1]) << 32),
                u64::from(w[2]) | (u64::from(w[3]) << 32),
            ];
            assert_eq!(*got, want);
            if j < 3 {
                assert_eq!(lanes3[j], want);
            }
        }
    }
}

fn words(seed: u64, stream: u32, tag: u32, k: u64) -> [u32; 4] {
    philox4x32_10(
        [k as u32, (k >> 32) as u32, tag, stream],
        key_from_seed(seed),
    )
}

fn half(w: [u32; 4], h: u64) -> u64 {
    let h = h as usize;
    u64::from(w[2 * h]) | (u64::from(w[2 * h + 1]) << 32)
}

/// Per-element scalar references (straight from the documented mapping).
fn ref_uniform_f64(seed: u64, stream: u32, i: u64) -> f64 {
    let x = half(words(seed, stream, TAG_UNIFORM_F64, i / 2), i % 2);
    (x >> 11) as f64 / 9_007_199_254_740_992.0
}
fn ref_uniform_f32(seed: u64, stream: u32, i: u64) -> f32 {
    let w = words(seed, stream, TAG_UNIFORM_F32, i / 4)[(i % 4) as usize];
    (w >> 8) as f32 / 16_777_216.0
}
fn ref_normal_f64(seed: u64, stream: u32, i: u64) -> f64 {
    let w = words(seed, stream, TAG_NORMAL, i / 2);
    let (z0, z1) = box_muller(half(w, 0), half(w, 1));
    if i.is_multiple_of(2) { z0 } else { z1 }
}
fn ref_integer(seed: u64, stream: u32, i: u64, low: i64, high: i64) -> i64 {
    let span = high.wrapping_sub(low) as u64;
    let threshold = span.wrapping_neg() % span;
    let mut tag = TAG_INTEGER;
    loop {
        let x = half(words(seed, stream, tag, i / 2), i % 2);
        let m = u128::from(x) * u128::from(span);
        if (m as u64) >= threshold {
            return low.wrapping_add((m >> 64) as u64 as i64);
        }
        tag += 1;
    }
}

/// Fills `[base, base + n)` whole, then checks that fills of random sub-ranges (random
/// starts, odd and even, random lengths 0..=300) are bit-identical to the whole fill.
fn check_position_independent<T: Copy + Default + PartialEq + std::fmt::Debug>(
    base: u64,
    n: usize,
    fill: impl Fn(u64, &mut [T]),
    bits: impl Fn(T) -> u64,
) -> Vec<T> {
    let mut whole = vec![T::default(); n];
    fill(base, &mut whole);
    let mut rng = Lcg::new(base ^ n as u64);
    for _ in 0..400 {
        let a = rng.below(n as u64) as usize;
        let len = (rng.below(301) as usize).min(n - a);
        let mut part = vec![T::default(); len];
        fill(base + a as u64, &mut part);
        for (j, (p, w)) in part.iter().zip(&whole[a..a + len]).enumerate() {
            assert_eq!(
                bits(*p),
                bits(*w),
                "element {} (start {a}, len {len})",
                a + j
            );
        }
    }
    // Element by element, too.
    for i in (0..n).step_by(37) {
        let mut one = [T::default()];
        fill(base + i as u64, &mut one);
        assert_eq!(bits(one[0]), bits(whole[i]), "single element {i}");
    }
    whole
}

#[test]
fn random_uniform_f64_position_independent_and_in_range() {
    for base in [0u64, 1, 12_345, (1u64 << 33) + 3, u64::MAX - 5000] {
        let whole = check_position_independent(
            base,
            3001,
            |s, o: &mut [f64]| fill_uniform_f64(7, 3, s, 1, o),
            f64::to_bits,
        );
        for (j, v) in whole.iter().enumerate() {
            assert!((0.0..1.0).contains(v));
            assert_eq!(
                v.to_bits(),
                ref_uniform_f64(7, 3, base + j as u64).to_bits()
            );
        }
    }
}

#[test]
fn random_uniform_f32_position_independent_and_in_range() {
    for base in [0u64, 3, 999, (1u64 << 34) + 1, u64::MAX - 5000] {
        let whole = check_position_independent(
            base,
            3001,
            |s, o: &mut [f32]| fill_uniform_f32(11, 0, s, 1, o),
            |v| u64::from(v.to_bits()),
        );
        for (j, v) in whole.iter().enumerate() {
            assert!((0.0..1.0).contains(v));
            assert_eq!(
                v.to_bits(),
                ref_uniform_f32(11, 0, base + j as u64).to_bits()
            );
        }
    }
}

#[test]
fn random_normal_position_independent_and_f32_is_rounded_f64() {
    for base in [0u64, 5, 100_001, u64::MAX - 5000] {
        let whole = check_position_independent(
            base,
            3001,
            |s, o: &mut [f64]| fill_normal_f64(42, 9, s, 1, o),
            f64::to_bits,
        );
        let whole32 = check_position_independent(
            base,
            3001,
            |s, o: &mut [f32]| fill_normal_f32(42, 9, s, 1, o),
            |v| u64::from(v.to_bits()),
        );
        for (j, (v, v32)) in whole.iter().zip(&whole32).enumerate() {
            assert!(v.is_finite() && v.abs() < 9.5);
            assert_eq!(
                v.to_bits(),
                ref_normal_f64(42, 9, base + j as u64).to_bits()
            );
            assert_eq!(v32.to_bits(), (*v as f32).to_bits());
        }
    }
}

#[test]
fn random_integers_position_independent_and_in_range() {
    let ranges = [
        (-5i64, 3i64),
        (0, 1),
        (-1, 0),
        (10, 17),
        (0, 3 << 61), // rejection probability 1/4: exercises retries
        (i64::MIN, i64::MAX),
        (i64::MIN, 0),
        (-1_000_000_007, 1_000_000_007),
    ];
    for (low, high) in ranges {
        for base in [0u64, 7, u64::MAX - 4000] {
            let whole = check_position_independent(
                base,
                2001,
                |s, o: &mut [i64]| fill_integers_i64(5, 1, s, 1, low, high, o),
                |v| v as u64,
            );
            for (j, v) in whole.iter().enumerate() {
                assert!(low <= *v && *v < high, "{v} outside [{low}, {high})");
                assert_eq!(*v, ref_integer(5, 1, base + j as u64, low, high));
            }
            if high - 1 == low {
                assert!(whole.iter().all(|&v| v == low));
            }
        }
    }
}

#[test]
#[should_panic(expected = "empty range")]
fn random_integers_reject_empty_range() {
    fill_integers_i64(0, 0, 0, 1, 3, 3, &mut [0; 4]);
}

/// The portable (baseline) and AVX2 builds of the kernels, with other block sizes, give the
/// same bits as the dispatched (here AVX-512) build.
#[test]
fn random_instruction_sets_and_block_sizes_agree() {
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn drive_avx2<K: Kernel>(kern: &K, start: u64, out: &mut [K::Out]) {
        drive::<K, 16>(kern, start, out);
    }
    fn check<K: Kernel>(kern: &K, start: u64, n: usize)
    where
        K::Out: std::fmt::Debug,
    {
        // Debug output is exact for floats (shortest round-trip form, signed zeros).
        let mut a = vec![K::Out::default(); n];
        let mut b = vec![K::Out::default(); n];
        run::<K, BLOCK>(kern, start, 1, &mut a);
        let want = format!("{a:?}");
        run::<K, 8>(kern, start, 1, &mut b);
        assert_eq!(format!("{b:?}"), want, "block size 8 differs");
        drive::<K, BLOCK>(kern, start, &mut b);
        assert_eq!(format!("{b:?}"), want, "baseline build differs");
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            b.fill(K::Out::default());
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { drive_avx2(kern, start, &mut b) };
            assert_eq!(format!("{b:?}"), want, "avx2 build differs");
        }
    }
    let g = || Gen::new(0xDEAD_BEEF_1234, 2);
    for start in [0u64, 3, 1001] {
        check(&UniformF64(g()), start, 4099);
        check(&UniformF32(g()), start, 4099);
        check(&NormalF64(g()), start, 4099);
        check(&NormalF32(g()), start, 4099);
        let span = 3u64 << 61;
        check(
            &Integers {
                g: g(),
                low: -7,
                span,
                threshold: span.wrapping_neg() % span,
            },
            start,
            4099,
        );
    }
}

#[test]
fn random_seeds_and_streams_differ() {
    let n = 1000;
    let fill = |seed, stream| {
        let mut v = vec![0.0f64; n];
        fill_uniform_f64(seed, stream, 0, 1, &mut v);
        v
    };
    let base = fill(1, 0);
    for other in [fill(2, 0), fill(1, 1), fill(1 << 32, 0), fill(0, 0)] {
        let same = base.iter().zip(&other).filter(|(a, b)| a == b).count();
        assert!(same < 3, "{same} equal values");
    }
    let mut f = vec![0.0f32; n];
    fill_uniform_f32(1, 0, 0, 1, &mut f);
    let mut f2 = vec![0.0f32; n];
    fill_uniform_f32(1, 1, 0, 1, &mut f2);
    assert!(f.iter().zip(&f2).filter(|(a, b)| a == b).count() < 5);
    let mut z = vec![0.0f64; n];
    fill_normal_f64(1, 0, 0, 1, &mut z);
    let mut z2 = vec![0.0f64; n];
    fill_normal_f64(1, 1, 0, 1, &mut z2);
    assert!(z.iter().zip(&z2).filter(|(a, b)| a == b).count() < 3);
    let mut i = vec![0i64; n];
    fill_integers_i64(1, 0, 0, 1, 0, 1 << 40, &mut i);
    let mut i2 = vec![0i64; n];
    fill_integers_i64(1, 1, 0, 1, 0, 1 << 40, &mut i2);
    assert!(i.iter().zip(&i2).filter(|(a, b)| a == b).count() < 3);
}

fn mean_var(v: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = v.clone().count() as f64;
    let mean = v.clone().sum::<f64>() / n;
    let var = v.map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var)
}

#[test]
fn random_uniform_moments() {
    let n = 1 << 20;
    let nf = n as f64;
    let mut v = vec![0.0f64; n];
    fill_uniform_f64(123, 0, 17, 1, &mut v);
    let (m, var) = mean_var(v.iter().copied());
    // sd(mean) = sqrt(1/12 / n); sd(var) ~ sqrt(1/180 / n).
    assert!((m - 0.5).abs() < 5.0 * (1.0 / 12.0 / nf).sqrt(), "mean {m}");
    assert!(
        (var - 1.0 / 12.0).abs() < 5.0 * (1.0 / 180.0 / nf).sqrt(),
        "var {var}"
    );
    let mut v = vec![0.0f32; n];
    fill_uniform_f32(123, 0, 17, 1, &mut v);
    let (m, var) = mean_var(v.iter().map(|&x| f64::from(x)));
    assert!((m - 0.5).abs() < 5.0 * (1.0 / 12.0 / nf).sqrt(), "mean {m}");
    assert!(
        (var - 1.0 / 12.0).abs() < 5.0 * (1.0 / 180.0 / nf).sqrt(),
        "var {var}"
    );
    // Low bits are used: the f32 grid's finest step shows up.
    assert!(v.iter().any(|&x| (x * 16_777_216.0) % 2.0 == 1.0));
}

#[test]
fn random_normal_moments_and_tails() {
    let n = 1 << 20;
    let nf = n as f64;
    let mut v = vec![0.0f64; n];
    fill_normal_f64(99, 4, 3, 1, &mut v);
    let (m, var) = mean_var(v.iter().copied());
    assert!(m.abs() < 5.0 / nf.sqrt(), "mean {m}");
    // Var(z^2) = 2.
    assert!((var - 1.0).abs() < 5.0 * (2.0 / nf).sqrt(), "var {var}");
    // Skewness 0 (Var(z^3) = 15), kurtosis 3 (Var(z^4) = 96).
    let m3 = v.iter().map(|z| z * z * z).sum::<f64>() / nf;
    let m4 = v.iter().map(|z| z * z * z * z).sum::<f64>() / nf;
    assert!(m3.abs() < 5.0 * (15.0 / nf).sqrt(), "third moment {m3}");
    assert!(
        (m4 - 3.0).abs() < 5.0 * (96.0 / nf).sqrt(),
        "fourth moment {m4}"
    );
    // P(|z| < t) for t = 0.5, 1, 2, 3 (erf(t / sqrt 2)).
    for (t, p) in [
        (0.5, 0.382_924_922_548_026),
        (1.0, 0.682_689_492_137_086),
        (2.0, 0.954_499_736_103_642),
        (3.0, 0.997_300_203_936_740),
    ] {
        let frac = v.iter().filter(|z| z.abs() < t).count() as f64 / nf;
        assert!(
            (frac - p).abs() < 5.0 * (p * (1.0 - p) / nf).sqrt(),
            "P(|z|<{t}) = {frac}"
        );
    }
    // Every quadrant of the angle is used evenly (sign patterns of the Box-Muller pairs).
    let mut quads = [0usize; 4];
    for pair in v.chunks_exact(2).skip(1) {
        quads[usize::from(pair[0] < 0.0) * 2 + usize::from(pair[1] < 0.0)] += 1;
    }
    for q in quads {
        let expect = nf / 8.0;
        assert!(
            (q as f64 - expect).abs() < 5.0 * (expect * 0.75).sqrt(),
            "{quads:?}"
        );
    }
    // Pairs are uncorrelated.
    let c = v.chunks_exact(2).map(|p| p[0] * p[1]).sum::<f64>() / (nf / 2.0);
    assert!(c.abs() < 5.0 / (nf / 2.0).sqrt(), "pair correlation {c}");
}

#[test]
fn random_integer_buckets() {
    let n = 1 << 20;
    for (low, high) in [(-5i64, 3i64), (0, 10), (100, 107)] {
        let k = (high - low) as usize;
        let mut v = vec![0i64; n];
        fill_integers_i64(2024, 0, 1, 1, low, high, &mut v);
        let mut counts = vec![0usize; k];
        for x in &v {
            counts[(x - low) as usize] += 1;
        }
        let e = n as f64 / k as f64;
        let chi2: f64 = counts.iter().map(|&c| (c as f64 - e).powi(2) / e).sum();
        // k - 1 <= 9 degrees of freedom: P(chi2 > 40) < 1e-5.
        assert!(chi2 < 40.0, "[{low},{high}): chi2 {chi2}, {counts:?}");
    }
    // Span 3 * 2^61 (heavy rejection): thirds equally likely.
    let mut v = vec![0i64; n];
    fill_integers_i64(7, 0, 0, 1, 0, 3 << 61, &mut v);
    let mut counts = [0usize; 3];
    for x in &v {
        counts[(x >> 61) as usize] += 1;
    }
    let e = n as f64 / 3.0;
    let chi2: f64 = counts.iter().map(|&c| (c as f64 - e).powi(2) / e).sum();
    assert!(chi2 < 30.0, "chi2 {chi2} {counts:?}");
    // Full i64 range: sign balanced.
    fill_integers_i64(7, 0, 0, 1, i64::MIN, i64::MAX, &mut v);
    let neg = v.iter().filter(|&&x| x < 0).count() as f64;
    assert!((neg - n as f64 / 2.0).abs() < 5.0 * (n as f64 / 4.0).sqrt());
}

#[test]
fn random_math_helpers_accurate() {
    assert_eq!(LN2_HI + LN2_LO, std::f64::consts::LN_2);
    assert_eq!(LN2_HI.to_bits() & 0x1F_FFFF, 0, "ln2_hi has trailing zeros");
    let mut rng = Lcg::new(77);
    let mut worst_ln = 0.0f64;
    for i in 0..200_000 {
        let x = match i % 3 {
            0 => {
                rng.next_u64() as f64 / 18_446_744_073_709_551_616.0
                    + 1.0 / 36_893_488_147_419_103_232.0
            }
            1 => 1.0 - (rng.below(1 << 20) as f64) * f64::EPSILON / 2.0,
            _ => f64::from_bits(rng.below(1u64 << 52) | ((1 + rng.below(1023)) << 52)),
        };
        if x == 0.0 {
            continue;
        }
        let want = x.ln();
        let got = ln_positive(x);
        let err = (got - want).abs() / want.abs().max(f64::MIN_POSITIVE);
        if want != 0.0 {
            worst_ln = worst_ln.max(err / f64::EPSILON);
        } else {
            assert_eq!(got, 0.0);
        }
    }
    assert!(worst_ln < 4.0, "ln error {worst_ln} eps");
    let mut worst_sc = 0.0f64;
    for i in 0..200_000u64 {
        let b = if i < 64 {
            1u64 << i
        } else if i < 128 {
            (1u64 << (i - 64)).wrapping_neg()
        } else {
            rng.next_u64()
        };
        let t = (b >> 11) as f64 / 9_007_199_254_740_992.0 * std::f64::consts::TAU;
        let (s, c) = sincos_turns(b);
        worst_sc = worst_sc.max((s - t.sin()).abs()).max((c - t.cos()).abs());
        assert!((s * s + c * c - 1.0).abs() < 4.0 * f64::EPSILON);
    }
    assert!(worst_sc < 4.0 * f64::EPSILON, "sincos error {worst_sc}");
    // Box-Muller extremes are finite.
    for a in [0u64, 1, u64::MAX, u64::MAX - 1, 1 << 63] {
        for b in [0u64, u64::MAX, 1 << 62, 3 << 62] {
            let (z0, z1) = box_muller(a, b);
            assert!(z0.is_finite() && z1.is_finite() && z0.abs() < 9.5 && z1.abs() < 9.5);
        }
    }
    let (z0, _) = box_muller(0, 0);
    assert!(z0 > 9.4, "largest radius {z0}");
}

/// `cargo test -p chunkwise-kernels --release random_speed -- --ignored --nocapture`
#[test]
#[ignore = "timing; run in release with --nocapture"]
fn random_speed() {
    use std::hint::black_box;
    use std::time::Instant;
    const N: usize = 1 << 20;
    fn time(name: &str, mut f: impl FnMut(u64)) {
        f(0); // warm-up
        let mut best = f64::INFINITY;
        for rep in 0..15 {
            let t = Instant::now();
            f(rep * N as u64);
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("{name:<44} {:6.3} ns/element", best * 1e9 / N as f64);
    }
    let mut f64s = vec![0.0f64; N];
    let mut f32s = vec![0.0f32; N];
    let mut i64s = vec![0i64; N];
    time("fill_uniform_f64 (1M)", |s| {
        fill_uniform_f64(1, 0, s, 1, black_box(&mut f64s))
    });
    let mut strip64 = vec![0.0f64; 2000];
    time("fill_uniform_f64 (2000-strip L1 buffer, odd)", |s| {
        for j in 0..N as u64 / 2000 {
            fill_uniform_f64(1, 0, s + 1 + 2000 * j, 1, black_box(&mut strip64));
        }
    });
    let mut strip32 = vec![0.0f32; 2000];
    time("fill_uniform_f32 (2000-strip L1 buffer, odd)", |s| {
        for j in 0..N as u64 / 2000 {
            fill_uniform_f32(1, 0, s + 1 + 2000 * j, 1, black_box(&mut strip32));
        }
    });
    time("fill_uniform_f32 (1M)", |s| {
        fill_uniform_f32(1, 0, s, 1, black_box(&mut f32s))
    });
    time("fill_normal_f64 (1M)", |s| {
        fill_normal_f64(1, 0, s, 1, black_box(&mut f64s))
    });
    time("fill_normal_f32 (1M)", |s| {
        fill_normal_f32(1, 0, s, 1, black_box(&mut f32s))
    });
    time("fill_integers_i64 [-5, 3) (1M)", |s| {
        fill_integers_i64(1, 0, s, 1, -5, 3, black_box(&mut i64s))
    });
    time("fill_integers_i64 [0, 3*2^61) (1M, 25% retry)", |s| {
        fill_integers_i64(1, 0, s, 1, 0, 3 << 61, black_box(&mut i64s))
    });
    let key = key_from_seed(1);
    time("philox4x32_10 scalar (per call)", |s| {
        let mut acc = 0u32;
        for i in 0..N as u64 {
            acc ^= philox4x32_10([(s + i) as u32, 0, 0, 0], black_box(key))[0];
        }
        black_box(acc);
    });
}

#[test]
fn strided_fills_give_the_values_of_the_contiguous_ones() {
    // Every other path (groups of 8, lanes of a counter, a wrap past 2^64) picks the value
    // the contiguous fill gives the same global index.
    for (start, stride) in [(0u64, 3u64), (5, 60), (7, 1_000_001), (u64::MAX - 40, 7)] {
        let n = 37;
        let index = |j: u64| start.wrapping_add(j.wrapping_mul(stride));
        let one = |fill: &dyn Fn(u64, &mut [f64])| {
            let mut out = vec![0.0; n];
            fill(start, &mut out);
            out
        };
        let expect = |fill: &dyn Fn(u64, &mut [f64])| -> Vec<f64> {
            (0..n as u64)
                .map(|j| {
                    let mut v = [0.0];
                    fill(index(j), &mut v);
                    v[0]
                })
                .collect()
        };
        let uniform =
            |stride: u64| move |s: u64, o: &mut [f64]| fill_uniform_f64(9, 0, s, stride, o);
        assert_eq!(
            one(&uniform(stride)),
            expect(&uniform(1)),
            "uniform {start} {stride}"
        );
        let normal = |stride: u64| move |s: u64, o: &mut [f64]| fill_normal_f64(9, 1, s, stride, o);
        assert_eq!(
            one(&normal(stride)),
            expect(&normal(1)),
            "normal {start} {stride}"
        );
        let mut f32s = vec![0f32; n];
        fill_uniform_f32(3, 0, start, stride, &mut f32s);
        for (j, v) in f32s.iter().enumerate() {
            let mut w = [0f32];
            fill_uniform_f32(3, 0, index(j as u64), 1, &mut w);
            assert_eq!(*v, w[0]);
        }
        let mut ints = vec![0i64; n];
        fill_integers_i64(4, 2, start, stride, -5, 1000, &mut ints);
        for (j, v) in ints.iter().enumerate() {
            let mut w = [0i64];
            fill_integers_i64(4, 2, index(j as u64), 1, -5, 1000, &mut w);
            assert_eq!(*v, w[0]);
        }
    }
}

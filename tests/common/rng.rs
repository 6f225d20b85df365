//! The one hand-written pseudo-random generator of the tests, for inputs that should look
//! random and be the same on every run. It needs only `std`, so a file outside
//! `tests/common` can include it on its own (from a bench:
//! `#[path = "../tests/common/rng.rs"] mod rng;`), and the unit tests of both crates do
//! (`test_rng` in `src/lib.rs` and `kernels/src/lib.rs`). It is independent of
//! `chunkwise::random`, which is under test (and which the benches' inputs come from).

#![allow(dead_code, unreachable_pub, missing_docs)]

/// A small deterministic generator: a 64-bit LCG whose output is mixed (xorshift and
/// multiply), so that its low bits are as usable as its high ones.
#[derive(Clone, Debug)]
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Lcg {
        Lcg(seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(0x2545_F491_4F6C_DD1D))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let x = self.0;
        // xorshift the output so that low bits are usable too
        (x ^ (x >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9) ^ (x >> 32)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in [lo, hi).
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo) as u64) as i64
    }

    /// Uniform (up to a negligible modulo bias) in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// `±10^e` with `e` uniform in [lo, hi] and either sign: values spread over many
    /// magnitudes.
    pub fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        let v = 10f64.powf(self.range(lo, hi));
        if self.next_u64() & 1 == 0 { v } else { -v }
    }

    /// `n` values uniform in [lo, hi).
    pub fn values(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|_| self.range(lo, hi)).collect()
    }
}

//! Moments: [`Moments`] (var, std, and the mean read off the same states) over
//! [`MomentState`] (Welford/Chan, or shifted sums for f32 data).

use std::marker::PhantomData;

use super::{Reducer, SoaReducer, SoaStates, Statistic};
use crate::dtype::{FloatElement, Numeric};
use crate::simd::{fold_columns2, fold_columns3, fold_lanes};

/// Count, mean and sum of squared deviations (Welford/Chan): the state of `var` and `std`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MomentState {
    /// Number of values.
    pub count: u64,
    /// Their mean.
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
}
crate::bytes::fixed_bytes_fields!(MomentState {
    count: u64,
    mean: f64,
    m2: f64
});

impl MomentState {
    /// Chan et al.'s parallel merge of two states.
    ///
    /// Where either mean is not finite (the data held an infinity or a NaN), the mean is the
    /// count-weighted sum of the two, as IEEE arithmetic gives the mean of all values
    /// (`inf` with finite values, NaN with `-inf` or NaN), and the deviations are NaN.
    pub fn merge(&mut self, other: &MomentState) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        let n = (self.count + other.count) as f64;
        let w = other.count as f64 / n;
        if !(self.mean.is_finite() && other.mean.is_finite()) {
            self.mean = self.mean * (1.0 - w) + other.mean * w;
            self.m2 = f64::NAN;
        } else {
            let delta = other.mean - self.mean;
            self.mean += delta * w;
            self.m2 += other.m2 + delta * delta * self.count as f64 * w;
        }
        self.count += other.count;
    }

    /// The state of one value.
    fn of(x: f64) -> MomentState {
        MomentState {
            count: 1,
            mean: x,
            m2: 0.0,
        }
    }
}

/// What [`Moments`] finishes its states into.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MomentOutput {
    /// The mean.
    Mean,
    /// The variance with `ddof` delta degrees of freedom.
    Variance {
        /// Delta degrees of freedom: the sum of squares is divided by `count - ddof`.
        ddof: f64,
    },
    /// The standard deviation with `ddof` delta degrees of freedom.
    StdDev {
        /// Delta degrees of freedom, as for [`MomentOutput::Variance`].
        ddof: f64,
    },
}

/// Rows a tile folds about one shift before it re-centres (see [`Moments`]).
const SHIFT_BLOCK: u64 = 1024;

/// `var` / `std` (and `nanvar`-style skipping when `skip_nan`), or the mean read off the
/// same states when it is merged with one of them.
///
/// How a tile's lanes are folded depends on the precision of the result:
/// - for `f64` results, Welford's update, one value at a time;
/// - for `f32` results (f32 data), shifted sums in f64: each lane keeps a shift `K` (its
///   first value, or 0 if that is not finite), `S1 = Σ(x - K)` and `S2 = Σ(x - K)²`, so a
///   value costs a subtraction, two additions and a multiplication. `x - K` and its square
///   are exact in f64.
///
/// **Accuracy of the shifted sums.** `M2 = S2 - S1²/n`, and `S2 = M2 + n (mean - K)²`. With
/// `K` one of the values, `M2 ≥ (mean - K)²`, so `S2 ≤ (n + 1) M2` and the rounding of `S2`
/// costs at most about `n² ε64` of `M2` (relatively). Every `SHIFT_BLOCK` (1024) rows the lanes
/// re-centre on their running mean, rounded to f32 (so that `x - K` stays exact); from
/// there `S2` is at most `(1 + b/n₀)` times `M2` for the `b ≤ 1024` rows since, so the
/// bound stays near `3 · 1024² · ε64 ≈ 4e-10`, far below f32's `6e-8`.
///
/// **The mean** read off these states is `(K n + S1) / n`, where `K n` is exact, so it is
/// correctly rounded to f32 wherever `S1` is exact: when a lane's values within a tile span
/// less than 2¹⁸ in magnitude. Otherwise, and where tiles merge (Chan's update), its error is
/// a few `ε64` of the largest magnitude involved: the f32 result then differs from the
/// compensated sum of `mean()` alone only if the mean is below about 1e-8 of the values
/// (heavy cancellation), in its last bits.
///
/// ```
/// use chunkwise_kernels::reduce::{MomentOutput, Moments, Reducer};
/// let std = Moments::<f32>::new(MomentOutput::StdDev { ddof: 0.0 }, false);
/// let mut state = std.init();
/// std.fold_run(&mut state, &[1.0, 2.0, 3.0, 4.0], 0);
/// assert!((std.finish(&state) - 1.25f32.sqrt()).abs() < 1e-6);
/// ```
#[derive(Debug)]
pub struct Moments<T> {
    output: MomentOutput,
    skip_nan: bool,
    _t: PhantomData<fn(T)>,
}

impl<T: Numeric> Moments<T> {
    /// A reducer into `output`, skipping NaN when `skip_nan`.
    pub fn new(output: MomentOutput, skip_nan: bool) -> Self {
        Moments {
            output,
            skip_nan,
            _t: PhantomData,
        }
    }

    /// Whether tiles' lanes fold by shifted sums (see the type's documentation).
    fn shifted_sums(&self) -> bool {
        !self.skip_nan && <T::Real as FloatElement>::MANTISSA_DIGITS <= 24
    }
}

impl<T: Numeric> Reducer for Moments<T> {
    type In = T;
    type State = MomentState;
    type Held = SoaStates;
    type Out = T::Real;
    fn init(&self) -> MomentState {
        MomentState::default()
    }
    fn fold_run(&self, state: &mut MomentState, xs: &[T], _: u64) {
        // Two passes over the run (it is in cache), then a merge: accurate and fast.
        let values = xs
            .iter()
            .map(|&x| T::as_f64(x))
            .filter(|x| !(self.skip_nan && x.is_nan()));
        let (n, sum) = values.clone().fold((0u64, 0.0), |(n, s), x| (n + 1, s + x));
        if n == 0 {
            return;
        }
        let mean = sum / n as f64;
        let m2 = values.map(|x| (x - mean) * (x - mean)).sum();
        state.merge(&MomentState { count: n, mean, m2 });
    }
    fn fold_lanes(&self, states: &mut [MomentState], xs: &[T], _: u64) {
        let skip_nan = self.skip_nan;
        fold_lanes(states, xs, |s: &mut MomentState, x: T| {
            let x = T::as_f64(x);
            if !(skip_nan && x.is_nan()) {
                s.merge(&MomentState::of(x));
            }
        });
    }
    fn combine(&self, into: &mut MomentState, other: &MomentState) {
        into.merge(other);
    }
    fn finish(&self, state: &MomentState) -> T::Real {
        // As NumPy: `var` divides by `max(count - ddof, 0)` (an infinity, or NaN when every
        // value is the same), `nanvar` gives NaN where no degree of freedom is left.
        let spread = |ddof: f64| {
            let dof = state.count as f64 - ddof;
            match (dof > 0.0, self.skip_nan) {
                (true, _) => state.m2 / dof,
                (false, false) => state.m2 / 0.0,
                (false, true) => f64::NAN,
            }
        };
        T::Real::from_f64(match self.output {
            MomentOutput::Mean if state.count == 0 => f64::NAN,
            MomentOutput::Mean => state.mean,
            MomentOutput::Variance { ddof } => spread(ddof),
            MomentOutput::StdDev { ddof } => spread(ddof).sqrt(),
        })
    }
    fn statistic(&self) -> Option<Statistic> {
        match self.output {
            MomentOutput::Mean => Some(Statistic::Mean {
                skip_nan: self.skip_nan,
            }),
            _ => None,
        }
    }
    fn shift_invariant(&self) -> bool {
        matches!(
            self.output,
            MomentOutput::Variance { .. } | MomentOutput::StdDev { .. }
        )
    }
    fn finishing(&self, wanted: Statistic) -> Option<Self> {
        let Statistic::Mean { skip_nan } = wanted;
        (self.shifted_sums() && skip_nan == self.skip_nan)
            .then(|| Moments::new(MomentOutput::Mean, skip_nan))
    }
}

impl<T: Numeric> SoaReducer for Moments<T> {
    fn fields_of(&self, state: &MomentState) -> [f64; 3] {
        [state.count as f64, state.mean, state.m2]
    }
    fn state_of(&self, [count, mean, m2]: [f64; 3]) -> MomentState {
        MomentState {
            count: count as u64,
            mean,
            m2,
        }
    }
    fn fold_lanes_soa(
        &self,
        counts: &mut [f64],
        means: &mut [f64],
        m2s: &mut [f64],
        xs: &[T],
        seen: u64,
    ) {
        if self.shifted_sums() {
            // While the tile is folded the columns hold K, S1 and S2; `end_soa` turns them
            // into states.
            let (shifts, s1s, s2s) = (counts, means, m2s);
            if seen == 0 {
                fold_columns3(shifts, s1s, s2s, xs, |k, s1, s2, x: T| {
                    let x = T::as_f64(x);
                    // An infinite shift would turn the later values into NaN.
                    *k = if x.is_finite() { x } else { 0.0 };
                    *s1 = x - *k;
                    *s2 = *s1 * *s1;
                });
                return;
            }
            if seen.is_multiple_of(SHIFT_BLOCK) {
                recentre::<T>(shifts, s1s, s2s, seen);
            }
            fold_columns3(shifts, s1s, s2s, xs, |k, s1, s2, x: T| {
                let d = T::as_f64(x) - *k;
                *s1 += d;
                *s2 += d * d;
            });
            return;
        }
        if !self.skip_nan {
            // Every lane has taken `seen` values: they share one reciprocal, and the counts
            // are set once, by `end_soa`.
            let inv = 1.0 / (seen + 1) as f64;
            fold_columns2(means, m2s, xs, |mean, m2, x: T| {
                let x = T::as_f64(x);
                let delta = x - *mean;
                *mean += delta * inv;
                *m2 += delta * (x - *mean);
            });
            return;
        }
        for (((count, mean), m2), &x) in counts.iter_mut().zip(means).zip(m2s).zip(xs) {
            let x = T::as_f64(x);
            if x.is_nan() {
                continue;
            }
            *count += 1.0;
            let delta = x - *mean;
            *mean += delta / *count;
            *m2 += delta * (x - *mean);
        }
    }
    fn end_soa(
        &self,
        counts: &mut [f64],
        means: &mut [f64],
        m2s: &mut [f64],
        offered: u64,
        lanes: bool,
    ) {
        if self.skip_nan {
            return;
        }
        if lanes && self.shifted_sums() && offered > 0 {
            let n = offered as f64;
            for ((k, s1), s2) in counts.iter_mut().zip(means.iter_mut()).zip(m2s.iter_mut()) {
                let (mean, m2) = shifted_moments(*k, *s1, *s2, n);
                (*k, *s1, *s2) = (n, mean, m2);
            }
            return;
        }
        counts.fill(offered as f64);
    }
}

/// The mean and the sum of squared deviations of `n` values with shifted sums `s1`, `s2`
/// about `shift` (an f32 value, so `shift * n` is exact). NaN and infinities propagate as in
/// a direct computation.
fn shifted_moments(shift: f64, s1: f64, s2: f64, n: f64) -> (f64, f64) {
    let mean = (shift * n + s1) / n;
    let m2 = s2 - s1 * s1 / n;
    // Rounding can take a tiny sum of squares below zero; NaN stays NaN.
    (mean, if m2 < 0.0 { 0.0 } else { m2 })
}

/// Moves each lane's shift to its running mean over the `seen` values folded so far,
/// rounded to the data's type (so that `x - K` stays exact), where that mean is finite (a
/// non-finite one keeps the old shift, so that it propagates).
fn recentre<T: Numeric>(shifts: &mut [f64], s1s: &mut [f64], s2s: &mut [f64], seen: u64) {
    let n = seen as f64;
    for ((k, s1), s2) in shifts.iter_mut().zip(s1s.iter_mut()).zip(s2s.iter_mut()) {
        let (mean, _) = shifted_moments(*k, *s1, *s2, n);
        let shift = <T::Real as Numeric>::as_f64(T::Real::from_f64(mean));
        if shift.is_finite() {
            // Σ(x - K') = S1 + n c and Σ(x - K')² = S2 + 2 c S1 + n c², with c = K - K'.
            let c = *k - shift;
            (*k, *s1, *s2) = (shift, *s1 + n * c, *s2 + c * (2.0 * *s1 + n * c));
        }
    }
}

//! Moments: [`Moments`] (var, std) over [`MomentState`] (Welford/Chan).

use std::marker::PhantomData;

use super::Reducer;
use crate::dtype::{FloatElement, Numeric};
use crate::simd::{fold_columns2, fold_lanes};

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

impl MomentState {
    /// Chan et al.'s parallel merge of two states.
    pub fn merge(&mut self, other: &MomentState) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        let n = (self.count + other.count) as f64;
        let delta = other.mean - self.mean;
        let w = other.count as f64 / n;
        self.mean += delta * w;
        self.m2 += other.m2 + delta * delta * self.count as f64 * w;
        self.count += other.count;
    }
}

/// `var` / `std` with `ddof` (and `nanvar`-style skipping when `skip_nan`).
#[derive(Debug)]
pub struct Moments<T> {
    ddof: f64,
    sqrt: bool,
    skip_nan: bool,
    _t: PhantomData<fn(T)>,
}

impl<T> Moments<T> {
    /// A variance (`sqrt == false`) or standard deviation with `ddof` delta degrees of freedom.
    pub fn new(ddof: f64, sqrt: bool, skip_nan: bool) -> Self {
        Moments {
            ddof,
            sqrt,
            skip_nan,
            _t: PhantomData,
        }
    }
}

impl<T: Numeric> Reducer for Moments<T> {
    type In = T;
    type State = MomentState;
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
        if !self.skip_nan {
            // The lanes of one call have seen the same rows (a call covers part of one row of
            // the tile, and every lane of that row gets one value per row), so they share one
            // count and one reciprocal.
            let n = states.first().map_or(0, |f| f.count) + 1;
            let inv = 1.0 / n as f64;
            fold_lanes(states, xs, |s: &mut MomentState, x: T| {
                let x = T::as_f64(x);
                let delta = x - s.mean;
                s.mean += delta * inv;
                s.m2 += delta * (x - s.mean);
                s.count = n;
            });
            return;
        }
        for (s, &x) in states.iter_mut().zip(xs) {
            let x = T::as_f64(x);
            if self.skip_nan && x.is_nan() {
                continue;
            }
            s.count += 1;
            let delta = x - s.mean;
            s.mean += delta / s.count as f64;
            s.m2 += delta * (x - s.mean);
        }
    }
    fn uses_soa(&self) -> bool {
        true
    }
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
    fn end_soa(&self, counts: &mut [f64], _: &mut [f64], _: &mut [f64], offered: u64) {
        if !self.skip_nan {
            counts.fill(offered as f64);
        }
    }
    fn combine(&self, into: &mut MomentState, other: &MomentState) {
        into.merge(other);
    }
    fn finish(&self, state: &MomentState) -> T::Real {
        let var = state.m2 / (state.count as f64 - self.ddof);
        let var = if state.count as f64 - self.ddof <= 0.0 {
            f64::NAN
        } else {
            var
        };
        T::Real::from_f64(if self.sqrt { var.sqrt() } else { var })
    }
}

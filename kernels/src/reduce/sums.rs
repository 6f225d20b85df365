//! Sums and products: [`FloatSum`] (sum, mean, nansum) and [`Fold`] (wrapping sum or product).

use std::marker::PhantomData;

use super::{CompensatedSum, Reducer, Statistic, pairwise_sum};
use crate::dtype::{FloatElement, Numeric};
use crate::simd::{fold_columns2, fold_columns3, fold_lanes};

/// State of a float sum or mean: a compensated f64 sum and the number of values in it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SumState {
    /// Neumaier-compensated sum.
    pub sum: CompensatedSum,
    /// Number of values folded in that were not skipped.
    pub count: u64,
}

/// Float sum (and, with `skip_nan`, `nansum`); accumulates in f64.
#[derive(Debug)]
pub struct FloatSum<T> {
    skip_nan: bool,
    mean: bool,
    _t: PhantomData<fn(T)>,
}

impl<T> FloatSum<T> {
    /// A sum; `skip_nan` treats NaN as absent; `mean` divides by the count at the end.
    pub fn new(skip_nan: bool, mean: bool) -> Self {
        FloatSum {
            skip_nan,
            mean,
            _t: PhantomData,
        }
    }
}

impl<T: Numeric> Reducer for FloatSum<T> {
    type In = T;
    type State = SumState;
    type Out = T::Real;
    fn init(&self) -> SumState {
        SumState::default()
    }
    fn fold_run(&self, state: &mut SumState, xs: &[T], _: u64) {
        if self.skip_nan && xs.iter().any(|&x| T::is_nan(x)) {
            let kept: Vec<T> = xs.iter().copied().filter(|&x| !T::is_nan(x)).collect();
            state.sum.add(pairwise_sum(&kept));
            state.count += kept.len() as u64;
        } else {
            state.sum.add(pairwise_sum(xs));
            state.count += xs.len() as u64;
        }
    }
    fn fold_lanes(&self, states: &mut [SumState], xs: &[T], _: u64) {
        let skip_nan = self.skip_nan;
        fold_lanes(states, xs, |s: &mut SumState, x: T| {
            let x = T::as_f64(x);
            let keep = !(skip_nan && x.is_nan());
            s.sum.add(if keep { x } else { 0.0 });
            s.count += u64::from(keep);
        });
    }
    fn uses_soa(&self) -> bool {
        true
    }
    fn fields_of(&self, state: &SumState) -> [f64; 3] {
        [state.sum.sum, state.sum.compensation, state.count as f64]
    }
    fn state_of(&self, [sum, compensation, count]: [f64; 3]) -> SumState {
        SumState {
            sum: CompensatedSum { sum, compensation },
            count: count as u64,
        }
    }
    fn fold_lanes_soa(
        &self,
        sums: &mut [f64],
        comps: &mut [f64],
        counts: &mut [f64],
        xs: &[T],
        _seen: u64,
    ) {
        if !self.skip_nan {
            // Every value counts: the counts are set once, by `end_soa`.
            fold_columns2(sums, comps, xs, |s, c, x: T| {
                CompensatedSum::add_to(s, c, T::as_f64(x));
            });
            return;
        }
        fold_columns3(sums, comps, counts, xs, |s, c, n, x: T| {
            let x = T::as_f64(x);
            let keep = !x.is_nan();
            CompensatedSum::add_to(s, c, if keep { x } else { 0.0 });
            *n += if keep { 1.0 } else { 0.0 };
        });
    }
    fn end_soa(&self, _: &mut [f64], _: &mut [f64], counts: &mut [f64], offered: u64, _: bool) {
        if !self.skip_nan {
            counts.fill(offered as f64);
        }
    }
    fn statistic(&self) -> Option<Statistic> {
        self.mean.then_some(Statistic::Mean {
            skip_nan: self.skip_nan,
        })
    }
    fn combine(&self, into: &mut SumState, other: &SumState) {
        into.sum.merge(&other.sum);
        into.count += other.count;
    }
    fn finish(&self, state: &SumState) -> T::Real {
        let total = state.sum.value();
        let v = if self.mean {
            total / state.count as f64
        } else {
            total
        };
        T::Real::from_f64(v)
    }
}

/// Integer sum or product, wrapping like NumPy's fixed-width integers. Also the float product.
#[derive(Debug)]
pub struct Fold<T> {
    product: bool,
    _t: PhantomData<fn(T)>,
}

impl<T> Fold<T> {
    /// A wrapping sum (`product == false`) or product.
    pub fn new(product: bool) -> Self {
        Fold {
            product,
            _t: PhantomData,
        }
    }
}

impl<T: Numeric> Reducer for Fold<T> {
    type In = T;
    type State = T;
    type Out = T;
    fn init(&self) -> T {
        if self.product { T::ONE } else { T::ZERO }
    }
    fn fold_run(&self, state: &mut T, xs: &[T], _: u64) {
        let op = if self.product { T::mul } else { T::add };
        *state = xs.iter().fold(*state, |a, &b| op(a, b));
    }
    fn fold_lanes(&self, states: &mut [T], xs: &[T], _: u64) {
        let op = if self.product { T::mul } else { T::add };
        for (s, &x) in states.iter_mut().zip(xs) {
            *s = op(*s, x);
        }
    }
    fn combine(&self, into: &mut T, other: &T) {
        let op = if self.product { T::mul } else { T::add };
        *into = op(*into, *other);
    }
    fn finish(&self, state: &T) -> T {
        *state
    }
}

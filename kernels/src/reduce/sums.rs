//! Sums and products: [`FloatSum`] (float sum, mean, nansum) and [`Fold`] (integer and
//! `bool` sums in 64 bits, and products); [`visit_sum_reducer`] picks the one that sums an
//! element type.

use std::marker::PhantomData;

use super::{
    CompensatedSum, Reducer, SoaReducer, SoaStates, Statistic, pairwise_sum,
    pairwise_sum_skipping_nan,
};
use crate::dtype::{Element, FloatElement, Numeric, SumKindVisitor};
use crate::simd::{fold_columns2, fold_columns3, fold_lanes};

/// State of a float sum or mean: a compensated f64 sum and the number of values in it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SumState {
    /// Neumaier-compensated sum.
    pub sum: CompensatedSum,
    /// Number of values folded in that were not skipped.
    pub count: u64,
}
crate::bytes::fixed_bytes_fields!(SumState {
    sum: CompensatedSum,
    count: u64
});

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
    type Held = SoaStates;
    fn init(&self) -> SumState {
        SumState::default()
    }
    fn fold_run(&self, state: &mut SumState, xs: &[T], _: u64) {
        if self.skip_nan {
            let (sum, kept) = pairwise_sum_skipping_nan(xs);
            state.sum.add(sum);
            state.count += kept;
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

impl<T: Numeric> SoaReducer for FloatSum<T> {
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
}

/// A sum or product of values of `T` accumulated in `A`, each value converted to `A` as it
/// is folded (Rust's `as`, so `bool` counts as 0 or 1): integer sums and products wrap in
/// `A` like NumPy's fixed-width integers. It is every integer and `bool` sum (in
/// [`Element::Sum`], 64 bits wide) and every product; float sums are [`FloatSum`].
#[derive(Debug)]
pub struct Fold<T, A = T> {
    product: bool,
    skip_nan: bool,
    _t: PhantomData<fn(T) -> A>,
}

impl<T, A> Fold<T, A> {
    /// A sum (`product == false`) or product; `skip_nan` leaves NaN values out (`nansum`,
    /// `nanprod`), which only floats have.
    pub fn new(product: bool, skip_nan: bool) -> Self {
        Fold {
            product,
            skip_nan,
            _t: PhantomData,
        }
    }
}

impl<T: Element, A: Numeric> Fold<T, A> {
    /// `acc` with `x` folded in.
    #[inline(always)]
    fn step(&self, acc: A, x: T) -> A {
        let x = x.cast::<A>();
        if self.product {
            let x = if self.skip_nan && A::is_nan(x) {
                A::ONE
            } else {
                x
            };
            A::mul(acc, x)
        } else {
            let x = if self.skip_nan && A::is_nan(x) {
                A::ZERO
            } else {
                x
            };
            A::add(acc, x)
        }
    }
}

impl<T: Element, A: Numeric> Reducer for Fold<T, A> {
    type In = T;
    type State = A;
    type Out = A;
    type Held = Vec<Self::State>;
    fn init(&self) -> A {
        if self.product { A::ONE } else { A::ZERO }
    }
    fn fold_run(&self, state: &mut A, xs: &[T], _: u64) {
        // Separate loops, so that each is a plain reduction the compiler vectorises.
        *state = match (self.product, self.skip_nan) {
            (false, false) => xs.iter().fold(*state, |a, &x| A::add(a, x.cast())),
            (true, false) => xs.iter().fold(*state, |a, &x| A::mul(a, x.cast())),
            _ => xs.iter().fold(*state, |a, &x| self.step(a, x)),
        };
    }
    fn fold_lanes(&self, states: &mut [A], xs: &[T], _: u64) {
        for (s, &x) in states.iter_mut().zip(xs) {
            *s = self.step(*s, x);
        }
    }
    fn combine(&self, into: &mut A, other: &A) {
        let op = if self.product { A::mul } else { A::add };
        *into = op(*into, *other);
    }
    fn finish(&self, state: &A) -> A {
        *state
    }
}

/// A computation over a reducer of data of `In` into `Out`, whatever the reducer's type:
/// [`visit_sum_reducer`] hands it the reducer that sums an element type, whose type depends
/// on the element type.
pub trait ReducerVisitor<In: Element, Out: Element> {
    /// What the visit returns.
    type Output;
    /// Called with the reducer.
    fn visit<R: Reducer<In = In, Out = Out>>(self, reducer: R) -> Self::Output;
}

/// Hands `visitor` the reducer of `sum` of `T` (of `nansum` with `skip_nan`), in
/// [`Element::Sum`] as NumPy's: a wrapping [`Fold`] for `bool` and integers, a
/// [`FloatSum`] (compensated in f64) for floats.
pub fn visit_sum_reducer<T: Element, V: ReducerVisitor<T, T::Sum>>(
    skip_nan: bool,
    visitor: V,
) -> V::Output {
    T::visit_sum_kind(SumInSumType { skip_nan, visitor })
}

/// Hands `visitor` the reducer that sums values of `T` in `T` itself (not in
/// [`Element::Sum`]), as `sum_as::<T>()` asks: a wrapping [`Fold`] for integers (where
/// NaN skipping is moot), a [`FloatSum`] (compensated in f64, NaN skipped when
/// `skip_nan`) for floats.
pub fn visit_own_sum_reducer<T: Numeric, V: ReducerVisitor<T, T>>(
    skip_nan: bool,
    visitor: V,
) -> V::Output {
    T::visit_sum_kind(SumInOwnType { skip_nan, visitor })
}

/// [`visit_sum_reducer`] once the element type's kind of sum is known.
struct SumInSumType<V> {
    skip_nan: bool,
    visitor: V,
}

impl<T: Element, V: ReducerVisitor<T, T::Sum>> SumKindVisitor<T> for SumInSumType<V> {
    type Output = V::Output;
    fn wrapping(self) -> V::Output {
        self.visitor
            .visit(Fold::<T, T::Sum>::new(false, self.skip_nan))
    }
    fn float(self) -> V::Output
    where
        T: FloatElement,
    {
        self.visitor.visit(FloatSum::<T>::new(self.skip_nan, false))
    }
}

/// [`visit_own_sum_reducer`] once the element type's kind of sum is known.
struct SumInOwnType<V> {
    skip_nan: bool,
    visitor: V,
}

impl<T: Numeric, V: ReducerVisitor<T, T>> SumKindVisitor<T> for SumInOwnType<V> {
    type Output = V::Output;
    fn wrapping(self) -> V::Output {
        self.visitor.visit(Fold::<T>::new(false, false))
    }
    fn float(self) -> V::Output
    where
        T: FloatElement,
    {
        self.visitor.visit(FloatSum::<T>::new(self.skip_nan, false))
    }
}

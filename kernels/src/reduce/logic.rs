//! Boolean and counting reductions: [`AnyAll`] and [`Count`].

use std::marker::PhantomData;

use super::Reducer;
use crate::dtype::Element;

/// Boolean `any` / `all`.
#[derive(Debug)]
pub struct AnyAll {
    all: bool,
}

impl AnyAll {
    /// `any` (`all == false`) or `all`.
    pub fn new(all: bool) -> Self {
        AnyAll { all }
    }
}

impl Reducer for AnyAll {
    type In = bool;
    type State = bool;
    type Out = bool;
    type Held = Vec<Self::State>;
    fn init(&self) -> bool {
        self.all
    }
    fn fold_run(&self, state: &mut bool, xs: &[bool], _: u64) {
        *state = if self.all {
            *state && xs.iter().all(|&x| x)
        } else {
            *state || xs.iter().any(|&x| x)
        };
    }
    fn fold_lanes(&self, states: &mut [bool], xs: &[bool], _: u64) {
        for (s, &x) in states.iter_mut().zip(xs) {
            *s = if self.all { *s && x } else { *s || x };
        }
    }
    fn combine(&self, into: &mut bool, other: &bool) {
        *into = if self.all {
            *into && *other
        } else {
            *into || *other
        };
    }
    fn finish(&self, state: &bool) -> bool {
        *state
    }
}

/// Which values a [`Count`] counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counted {
    /// Values that are not zero (not `false`): NumPy's `count_nonzero`.
    Nonzero,
    /// Values that are not NaN (every value of integers and `bool`s): flox's and pandas'
    /// `count`.
    NotNan,
}

/// Number of values of a kind ([`Counted`]).
#[derive(Debug)]
pub struct Count<T> {
    counted: Counted,
    _t: PhantomData<fn(T)>,
}

impl<T> Count<T> {
    /// A count of the values `counted` names.
    pub fn new(counted: Counted) -> Self {
        Count {
            counted,
            _t: PhantomData,
        }
    }
}

impl<T: Element> Count<T> {
    #[inline(always)]
    fn counts(&self, x: T) -> bool {
        match self.counted {
            Counted::Nonzero => x != T::default(),
            Counted::NotNan => !T::is_nan(x),
        }
    }
}

impl<T: Element> Reducer for Count<T> {
    type In = T;
    type State = u64;
    type Out = u64;
    type Held = Vec<Self::State>;
    fn init(&self) -> u64 {
        0
    }
    fn fold_run(&self, state: &mut u64, xs: &[T], _: u64) {
        *state += xs.iter().filter(|&&x| self.counts(x)).count() as u64;
    }
    fn fold_lanes(&self, states: &mut [u64], xs: &[T], _: u64) {
        for (s, &x) in states.iter_mut().zip(xs) {
            *s += u64::from(self.counts(x));
        }
    }
    fn combine(&self, into: &mut u64, other: &u64) {
        *into += *other;
    }
    fn finish(&self, state: &u64) -> u64 {
        *state
    }
}

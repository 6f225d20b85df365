//! Boolean and counting reductions: [`AnyAll`], [`CountNonzero`] and [`CountValid`].

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

/// Number of non-zero (true) values.
#[derive(Debug)]
pub struct CountNonzero<T>(PhantomData<fn(T)>);

impl<T> Default for CountNonzero<T> {
    fn default() -> Self {
        CountNonzero(PhantomData)
    }
}

impl<T: Element> Reducer for CountNonzero<T> {
    type In = T;
    type State = u64;
    type Out = u64;
    type Held = Vec<Self::State>;
    fn init(&self) -> u64 {
        0
    }
    fn fold_run(&self, state: &mut u64, xs: &[T], _: u64) {
        *state += xs.iter().filter(|&&x| x != T::default()).count() as u64;
    }
    fn fold_lanes(&self, states: &mut [u64], xs: &[T], _: u64) {
        for (s, &x) in states.iter_mut().zip(xs) {
            *s += u64::from(x != T::default());
        }
    }
    fn combine(&self, into: &mut u64, other: &u64) {
        *into += *other;
    }
    fn finish(&self, state: &u64) -> u64 {
        *state
    }
}

/// Number of values that are not NaN (flox's and pandas' `count`); of integers and
/// `bool`s, the number of values.
#[derive(Debug)]
pub struct CountValid<T>(PhantomData<fn(T)>);

impl<T> Default for CountValid<T> {
    fn default() -> Self {
        CountValid(PhantomData)
    }
}

impl<T: Element> Reducer for CountValid<T> {
    type In = T;
    type State = u64;
    type Out = u64;
    type Held = Vec<Self::State>;
    fn init(&self) -> u64 {
        0
    }
    fn fold_run(&self, state: &mut u64, xs: &[T], _: u64) {
        *state += xs.iter().filter(|&&x| !T::is_nan(x)).count() as u64;
    }
    fn fold_lanes(&self, states: &mut [u64], xs: &[T], _: u64) {
        for (s, &x) in states.iter_mut().zip(xs) {
            *s += u64::from(!T::is_nan(x));
        }
    }
    fn combine(&self, into: &mut u64, other: &u64) {
        *into += *other;
    }
    fn finish(&self, state: &u64) -> u64 {
        *state
    }
}

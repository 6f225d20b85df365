//! Extremes: [`MinMax`] (min, max, nanmin, nanmax), [`ArgMinMax`] (argmin, argmax) and
//! [`Edge`] (first, last).

use std::marker::PhantomData;

use super::Reducer;
use crate::dtype::Element;

/// Which extreme a [`MinMax`] reduction looks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extreme {
    /// The smallest value.
    Min,
    /// The largest value.
    Max,
}

/// State of a min/max/argmin/argmax: the best value so far and where it was.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BestState<T> {
    /// Best value seen (NaN once a NaN was seen, unless NaNs are skipped).
    pub value: T,
    /// Its reduced-space index.
    pub position: u64,
    /// Whether any (non-skipped) value was seen.
    pub seen: bool,
}
crate::bytes::fixed_bytes_fields!(BestState<T> {
    value: T,
    position: u64,
    seen: bool
});

/// `min`/`max` (NaN propagates, like NumPy), `nanmin`/`nanmax` (NaN skipped), and with
/// `arg`, `argmin`/`argmax` (first occurrence; the first NaN wins, like NumPy).
#[derive(Debug)]
pub struct MinMax<T> {
    extreme: Extreme,
    skip_nan: bool,
    _t: PhantomData<fn(T)>,
}

impl<T> MinMax<T> {
    /// A min or max reduction.
    pub fn new(extreme: Extreme, skip_nan: bool) -> Self {
        MinMax {
            extreme,
            skip_nan,
            _t: PhantomData,
        }
    }
}

impl<T: Element> MinMax<T> {
    /// Whether `x` replaces `best` (strictly better, or the first NaN).
    #[inline(always)]
    fn better(&self, x: T, best: &BestState<T>) -> bool {
        if !best.seen {
            return !(self.skip_nan && T::is_nan(x));
        }
        if T::is_nan(x) {
            return !self.skip_nan && !T::is_nan(best.value);
        }
        match self.extreme {
            Extreme::Min => x < best.value,
            Extreme::Max => x > best.value,
        }
    }

    #[inline(always)]
    fn offer(&self, state: &mut BestState<T>, x: T, position: u64) {
        if self.better(x, state) {
            *state = BestState {
                value: x,
                position,
                seen: true,
            };
        }
    }
}

impl<T: Element> MinMax<T> {
    fn fold_run_impl(&self, state: &mut BestState<T>, xs: &[T], position: u64) {
        for (k, &x) in xs.iter().enumerate() {
            self.offer(state, x, position + k as u64);
        }
    }
    fn fold_lanes_impl(&self, states: &mut [BestState<T>], xs: &[T], position: u64) {
        for (s, &x) in states.iter_mut().zip(xs) {
            self.offer(s, x, position);
        }
    }
    /// Merges two states. Partial results do not arrive in position order when several
    /// axes are reduced (tile (0, 1) holds earlier flat positions than tile (1, 0) in some
    /// rows), so ties go to the smaller position, not to the state combined first.
    fn combine_impl(&self, into: &mut BestState<T>, other: &BestState<T>) {
        if !other.seen {
            return;
        }
        let tie = into.seen
            && (other.value == into.value || (T::is_nan(other.value) && T::is_nan(into.value)));
        if tie {
            if other.position < into.position {
                into.position = other.position;
            }
        } else if self.better(other.value, into) {
            *into = *other;
        }
    }
}

impl<T: Element> Reducer for MinMax<T> {
    type In = T;
    type State = BestState<T>;
    type Out = T;
    type Held = Vec<Self::State>;
    fn init(&self) -> BestState<T> {
        let value = if self.skip_nan {
            T::from_scalar(crate::dtype::Scalar::Float(f64::NAN))
        } else {
            T::default()
        };
        BestState {
            value,
            position: 0,
            seen: false,
        }
    }
    fn fold_run(&self, state: &mut BestState<T>, xs: &[T], position: u64) {
        self.fold_run_impl(state, xs, position)
    }
    fn fold_lanes(&self, states: &mut [BestState<T>], xs: &[T], position: u64) {
        self.fold_lanes_impl(states, xs, position)
    }
    fn combine(&self, into: &mut BestState<T>, other: &BestState<T>) {
        self.combine_impl(into, other)
    }
    fn finish(&self, state: &BestState<T>) -> T {
        state.value
    }
    fn has_identity(&self) -> bool {
        false
    }
}

/// `argmin`/`argmax`: the reduced-space index of the first extreme value; with `skip_nan`,
/// `nanargmin`/`nanargmax`, for which a slice of NaN only has no result
/// ([`Reducer::defined`] is false).
#[derive(Debug)]
pub struct ArgMinMax<T>(MinMax<T>);

impl<T> ArgMinMax<T> {
    /// An argmin or argmax reduction: NaN counts as the extreme, like NumPy's, or is
    /// skipped if `skip_nan`.
    pub fn new(extreme: Extreme, skip_nan: bool) -> Self {
        ArgMinMax(MinMax::new(extreme, skip_nan))
    }
}

impl<T: Element> Reducer for ArgMinMax<T> {
    type In = T;
    type State = BestState<T>;
    type Out = u64;
    type Held = Vec<Self::State>;
    fn init(&self) -> BestState<T> {
        self.0.init()
    }
    fn fold_run(&self, state: &mut BestState<T>, xs: &[T], position: u64) {
        self.0.fold_run_impl(state, xs, position)
    }
    fn fold_lanes(&self, states: &mut [BestState<T>], xs: &[T], position: u64) {
        self.0.fold_lanes_impl(states, xs, position)
    }
    fn combine(&self, into: &mut BestState<T>, other: &BestState<T>) {
        self.0.combine_impl(into, other)
    }
    fn finish(&self, state: &BestState<T>) -> u64 {
        state.position
    }
    fn defined(&self, state: &BestState<T>) -> bool {
        state.seen
    }
    fn needs_positions(&self) -> bool {
        true
    }
    fn has_identity(&self) -> bool {
        false
    }
}

/// Which end of the reduced values an [`Edge`] reduction keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The value at the smallest position.
    First,
    /// The value at the largest position.
    Last,
}

/// `first`/`last` (flox's): the value at the first or last position, or with `skip_nan`
/// (`nanfirst`/`nanlast`) the first or last that is not NaN. States compare positions, so
/// partial results may be combined in any order.
#[derive(Debug)]
pub struct Edge<T> {
    end: End,
    skip_nan: bool,
    _t: PhantomData<fn(T)>,
}

impl<T> Edge<T> {
    /// A first or last reduction.
    pub fn new(end: End, skip_nan: bool) -> Self {
        Edge {
            end,
            skip_nan,
            _t: PhantomData,
        }
    }
}

impl<T: Element> Edge<T> {
    /// Whether a value at `position` replaces `best`.
    #[inline(always)]
    fn replaces(&self, position: u64, best: &BestState<T>) -> bool {
        !best.seen
            || match self.end {
                End::First => position < best.position,
                End::Last => position > best.position,
            }
    }

    #[inline(always)]
    fn offer(&self, state: &mut BestState<T>, x: T, position: u64) {
        if !(self.skip_nan && T::is_nan(x)) && self.replaces(position, state) {
            *state = BestState {
                value: x,
                position,
                seen: true,
            };
        }
    }
}

impl<T: Element> Reducer for Edge<T> {
    type In = T;
    type State = BestState<T>;
    type Out = T;
    type Held = Vec<Self::State>;
    fn init(&self) -> BestState<T> {
        BestState {
            value: T::from_scalar(crate::dtype::Scalar::Float(f64::NAN)),
            position: 0,
            seen: false,
        }
    }
    fn fold_run(&self, state: &mut BestState<T>, xs: &[T], position: u64) {
        // Only the run's first (or last) value that is not skipped can win.
        let pick = match self.end {
            End::First => xs.iter().position(|&x| !(self.skip_nan && T::is_nan(x))),
            End::Last => xs.iter().rposition(|&x| !(self.skip_nan && T::is_nan(x))),
        };
        if let Some(k) = pick {
            self.offer(state, xs[k], position + k as u64);
        }
    }
    fn fold_lanes(&self, states: &mut [BestState<T>], xs: &[T], position: u64) {
        for (s, &x) in states.iter_mut().zip(xs) {
            self.offer(s, x, position);
        }
    }
    fn combine(&self, into: &mut BestState<T>, other: &BestState<T>) {
        if other.seen && self.replaces(other.position, into) {
            *into = *other;
        }
    }
    /// The kept value; NaN (or zero for integers) where every value was skipped.
    fn finish(&self, state: &BestState<T>) -> T {
        state.value
    }
    fn needs_positions(&self) -> bool {
        true
    }
    fn has_identity(&self) -> bool {
        false
    }
}

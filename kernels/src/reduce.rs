//! Reductions of a tile over a set of axes into partial states, and the states themselves.
//!
//! A reduction is a [`Reducer`]: an initial state, two ways to fold data into states (a
//! contiguous run into one state, or a row into a row of states, one per lane), a `combine`
//! of two states and a `finish`. [`ReduceLayout`] maps a tile's C-order elements onto the
//! states of the partial result, so a fused producer can hand over strips in any sizes.
//! Sums are accurate: pairwise within a run, compensated (Neumaier/Kahan) across runs and
//! tiles; all folds are deterministic, so results do not depend on scheduling.

use std::fmt::Debug;
use std::marker::PhantomData;

use multiversion::multiversion;

use crate::dtype::{Element, FloatElement, Numeric};
use crate::simd::fold_lanes;

/// A reduction: folding values into states, combining states, finishing a state into a value.
pub trait Reducer: Send + Sync + Debug + 'static {
    /// Element type of the reduced data.
    type In: Element;
    /// Partial state.
    type State: Clone + Send + Sync + Debug + 'static;
    /// Element type of the result.
    type Out: Element;
    /// The state of an empty reduction.
    fn init(&self) -> Self::State;
    /// Folds a run of values into one state; `position` is the reduced-space index of
    /// `xs[0]` (consecutive for the run).
    fn fold_run(&self, state: &mut Self::State, xs: &[Self::In], position: u64);
    /// Folds one value into each lane: `states[j]` takes `xs[j]`; all share `position`.
    /// [`ReduceLayout::fold`] guarantees that the lanes of one call have taken the same
    /// number of values before (they are part of one row of a tile).
    fn fold_lanes(&self, states: &mut [Self::State], xs: &[Self::In], position: u64);
    /// Merges `other` (data that comes after) into `into`.
    fn combine(&self, into: &mut Self::State, other: &Self::State);
    /// The result of a state.
    fn finish(&self, state: &Self::State) -> Self::Out;
    /// Whether the fold needs element positions (argmin, argmax).
    fn needs_positions(&self) -> bool {
        false
    }
    /// Whether an empty reduction has a defined result (false for min, max, argmin, argmax).
    fn has_identity(&self) -> bool {
        true
    }
}

/// How the elements of one tile map onto the partial states of a reduction over some axes.
#[derive(Clone, Debug)]
pub struct ReduceLayout {
    /// Tile extents after merging neighbouring axes of the same kind.
    dims: Vec<usize>,
    /// Per merged axis: reduced or kept.
    reduced: Vec<bool>,
    /// Per merged axis: stride in the state array (0 for reduced axes).
    state_strides: Vec<usize>,
    /// Number of partial states (product of kept extents).
    n_states: usize,
    /// For position-aware reducers: origin and array extents per (unmerged) axis.
    positions: Option<Positions>,
}

#[derive(Clone, Debug)]
struct Positions {
    origin: Vec<usize>,
    array_shape: Vec<usize>,
}

impl ReduceLayout {
    /// The layout of a tile of `shape` at `origin` in an array of `array_shape`, reduced
    /// over the axes flagged in `reduced`. With `positions`, the fold receives reduced-space
    /// indices (and axes are not merged).
    pub fn new(
        shape: &[usize],
        origin: &[usize],
        array_shape: &[usize],
        reduced: &[bool],
        positions: bool,
    ) -> ReduceLayout {
        let mut dims: Vec<usize> = Vec::new();
        let mut kinds: Vec<bool> = Vec::new();
        for (&extent, &is_reduced) in shape.iter().zip(reduced) {
            if !positions && kinds.last() == Some(&is_reduced) {
                *dims.last_mut().expect("kinds and dims grow together") *= extent;
            } else {
                dims.push(extent);
                kinds.push(is_reduced);
            }
        }
        if dims.is_empty() {
            dims.push(1);
            kinds.push(false);
        }
        let mut state_strides = vec![0; dims.len()];
        let mut n_states = 1;
        for axis in (0..dims.len()).rev() {
            if !kinds[axis] {
                state_strides[axis] = n_states;
                n_states *= dims[axis];
            }
        }
        let positions = positions.then(|| Positions {
            origin: origin.to_vec(),
            array_shape: array_shape.to_vec(),
        });
        ReduceLayout {
            dims,
            reduced: kinds,
            state_strides,
            n_states,
            positions,
        }
    }

    /// Number of partial states this tile reduces to.
    pub fn n_states(&self) -> usize {
        self.n_states
    }

    /// Number of elements in the tile.
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    /// Whether the tile has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Folds the C-order elements `offset..offset + xs.len()` of the tile into `states`.
    pub fn fold<R: Reducer>(
        &self,
        reducer: &R,
        states: &mut [R::State],
        offset: usize,
        xs: &[R::In],
    ) {
        let last = self.dims.len() - 1;
        let row = self.dims[last];
        let last_reduced = self.reduced[last];
        let mut done = 0;
        while done < xs.len() {
            let flat = offset + done;
            let col = flat % row;
            let run = (row - col).min(xs.len() - done);
            let mut rest = flat / row;
            let mut base = 0;
            let mut coords_position = 0u64;
            // Unravel the row index over the outer axes.
            let mut outer = [0usize; 16];
            let mut outer_vec;
            let outer_idx: &mut [usize] = if last <= 16 {
                &mut outer[..last]
            } else {
                outer_vec = vec![0; last];
                &mut outer_vec
            };
            for axis in (0..last).rev() {
                let i = rest % self.dims[axis];
                rest /= self.dims[axis];
                outer_idx[axis] = i;
                base += i * self.state_strides[axis];
            }
            if let Some(pos) = &self.positions {
                // Ravel of the global coordinates over the reduced axes.
                let mut stride = 1u64;
                for axis in (0..=last).rev() {
                    if self.reduced[axis] {
                        let local = if axis == last { col } else { outer_idx[axis] };
                        coords_position += (pos.origin[axis] + local) as u64 * stride;
                        stride *= pos.array_shape[axis] as u64;
                    }
                }
            }
            let piece = &xs[done..done + run];
            if last_reduced {
                reducer.fold_run(&mut states[base], piece, coords_position);
            } else {
                reducer.fold_lanes(
                    &mut states[base + col..base + col + run],
                    piece,
                    coords_position,
                );
            }
            done += run;
        }
    }
}

/// Pairwise sum in f64 (blocks of 8 accumulators, halves above 256 elements): error grows
/// like log(n), and the loop vectorises.
pub fn pairwise_sum<T: Numeric>(xs: &[T]) -> f64 {
    const BLOCK: usize = 256;
    if xs.len() <= BLOCK {
        block_sum(xs)
    } else {
        let half = (xs.len() / 2).next_multiple_of(8);
        pairwise_sum(&xs[..half]) + pairwise_sum(&xs[half..])
    }
}

/// The sum of up to a few hundred values with 8 accumulators, vectorised per CPU.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn block_sum<T: Numeric>(xs: &[T]) -> f64 {
    {
        let mut acc = [0.0f64; 8];
        let chunks = xs.chunks_exact(8);
        let tail = chunks.remainder();
        for c in chunks {
            for k in 0..8 {
                acc[k] += T::as_f64(c[k]);
            }
        }
        let mut s =
            ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        for &x in tail {
            s += T::as_f64(x);
        }
        s
    }
}

/// A compensated (Neumaier) sum in f64: `sum + compensation` is the running total.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CompensatedSum {
    /// The running sum.
    pub sum: f64,
    /// Rounding error carried alongside.
    pub compensation: f64,
}

impl CompensatedSum {
    /// Adds `x` with error compensation.
    #[inline(always)]
    pub fn add(&mut self, x: f64) {
        let t = self.sum + x;
        // Branch-free select, so loops over many sums vectorise.
        let (big, small) = if self.sum.abs() >= x.abs() {
            (self.sum, x)
        } else {
            (x, self.sum)
        };
        self.compensation += (big - t) + small;
        self.sum = t;
    }

    /// Adds another compensated sum.
    #[inline(always)]
    pub fn merge(&mut self, other: &CompensatedSum) {
        self.add(other.sum);
        self.compensation += other.compensation;
    }

    /// The total.
    #[inline(always)]
    pub fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

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

impl<T: Numeric> MinMax<T> {
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

impl<T: Numeric> MinMax<T> {
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

impl<T: Numeric> Reducer for MinMax<T> {
    type In = T;
    type State = BestState<T>;
    type Out = T;
    fn init(&self) -> BestState<T> {
        let value = if self.skip_nan {
            T::from_scalar(crate::dtype::Scalar::Float(f64::NAN))
        } else {
            T::ZERO
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

/// `argmin`/`argmax`: the reduced-space index of the first extreme value.
#[derive(Debug)]
pub struct ArgMinMax<T>(MinMax<T>);

impl<T> ArgMinMax<T> {
    /// An argmin or argmax reduction (NaN counts as the extreme, like NumPy).
    pub fn new(extreme: Extreme) -> Self {
        ArgMinMax(MinMax::new(extreme, false))
    }
}

impl<T: Numeric> Reducer for ArgMinMax<T> {
    type In = T;
    type State = BestState<T>;
    type Out = u64;
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
    fn needs_positions(&self) -> bool {
        true
    }
    fn has_identity(&self) -> bool {
        false
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn reduce_tile<R: Reducer>(
        r: &R,
        shape: &[usize],
        reduced: &[bool],
        xs: &[R::In],
        strip: usize,
    ) -> Vec<R::Out> {
        let origin = vec![0; shape.len()];
        let layout = ReduceLayout::new(shape, &origin, shape, reduced, r.needs_positions());
        let mut states = vec![r.init(); layout.n_states()];
        for (k, chunk) in xs.chunks(strip).enumerate() {
            layout.fold(r, &mut states, k * strip, chunk);
        }
        states.iter().map(|s| r.finish(s)).collect()
    }

    #[test]
    fn axis_sums_match_direct_loops_for_any_strip_size() {
        let shape = [3, 4, 5];
        let xs: Vec<f64> = (0..60).map(|i| (i * 7 % 11) as f64 - 3.5).collect();
        let at = |i: usize, j: usize, k: usize| xs[i * 20 + j * 5 + k];
        for strip in [1, 3, 7, 60] {
            let r = FloatSum::<f64>::new(false, false);
            let over_1 = reduce_tile(&r, &shape, &[false, true, false], &xs, strip);
            for i in 0..3 {
                for k in 0..5 {
                    let want: f64 = (0..4).map(|j| at(i, j, k)).sum();
                    assert!((over_1[i * 5 + k] - want).abs() < 1e-12);
                }
            }
            let over_02 = reduce_tile(&r, &shape, &[true, false, true], &xs, strip);
            for (j, &got) in over_02.iter().enumerate() {
                let want: f64 = (0..3)
                    .flat_map(|i| (0..5).map(move |k| (i, k)))
                    .map(|(i, k)| at(i, j, k))
                    .sum();
                assert!((got - want).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn compensated_sum_is_exact_where_naive_is_not() {
        let xs = [1e16, 1.0, -1e16, 1.0];
        let r = FloatSum::<f64>::new(false, false);
        assert_eq!(reduce_tile(&r, &[4], &[true], &xs, 1), vec![2.0]);
        assert_eq!(reduce_tile(&r, &[4, 1], &[true, false], &xs, 1), vec![2.0]);
    }

    #[test]
    fn argmin_positions_and_nan_rules() {
        let xs = [3.0, 1.0, 1.0, f64::NAN, 0.0, 5.0];
        let r = ArgMinMax::<f64>::new(Extreme::Min);
        assert_eq!(reduce_tile(&r, &[6], &[true], &xs, 2), vec![3]);
        let xs = [3.0, 1.0, 4.0, 1.0, 0.5, 9.0];
        assert_eq!(reduce_tile(&r, &[2, 3], &[false, true], &xs, 4), vec![1, 1]);
        assert_eq!(
            reduce_tile(&r, &[2, 3], &[true, false], &xs, 4),
            vec![1, 1, 0]
        );
        let m = MinMax::<f64>::new(Extreme::Max, true);
        assert_eq!(
            reduce_tile(&m, &[3], &[true], &[1.0, f64::NAN, 2.0], 1),
            vec![2.0]
        );
        let m = MinMax::<f64>::new(Extreme::Max, false);
        assert!(reduce_tile(&m, &[3], &[true], &[1.0, f64::NAN, 2.0], 1)[0].is_nan());
    }

    #[test]
    fn moments_merge_matches_two_pass() {
        let xs: Vec<f64> = (0..37)
            .map(|i| ((i * 13 % 17) as f64).sin() * 1e3 + 1e6)
            .collect();
        let mean = xs.iter().sum::<f64>() / 37.0;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 36.0;
        let r = Moments::<f64>::new(1.0, false, false);
        for strip in [1, 5, 37] {
            let got = reduce_tile(&r, &[37], &[true], &xs, strip)[0];
            assert!((got - var).abs() <= 1e-9 * var, "{got} vs {var}");
            let lanes = reduce_tile(&r, &[37, 1], &[true, false], &xs, strip)[0];
            assert!((lanes - var).abs() <= 1e-9 * var, "{lanes} vs {var}");
        }
    }
}

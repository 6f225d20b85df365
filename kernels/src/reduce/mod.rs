//! Reductions of a tile over a set of axes into partial states, and the states themselves.
//!
//! A reduction is a [`Reducer`]: an initial state, two ways to fold data into states (a
//! contiguous run into one state, or a row into a row of states, one per lane), a `combine`
//! of two states and a `finish`. A tile's states are held as the reducer says
//! ([`Reducer::Held`]): one by one, or as columns for a [`SoaReducer`]. [`ReduceLayout`] maps a tile's C-order elements onto the
//! states of the partial result, so a fused producer can hand over strips in any sizes.
//! Sums are accurate: pairwise within a run, compensated (Neumaier/Kahan) across runs and
//! tiles; all folds are deterministic, so results do not depend on scheduling.

mod extremes;
mod logic;
mod moments;
mod sums;
#[cfg(test)]
mod tests;

use std::fmt::Debug;
use std::ops::Range;

use multiversion::multiversion;

use crate::bytes::{FixedBytes, fixed_bytes_fields};
use crate::dtype::{Element, Numeric};

pub use extremes::{ArgMinMax, BestState, Edge, End, Extreme, MinMax};
pub use logic::{AnyAll, Count, Counted};
pub use moments::{MomentOutput, MomentState, Moments};
pub use sums::{
    FloatSum, Fold, ReducerVisitor, SumState, visit_own_sum_reducer, visit_sum_reducer,
};

/// A reduction: folding values into states, combining states, finishing a state into a value.
pub trait Reducer: Sized + Send + Sync + Debug + 'static {
    /// Element type of the reduced data.
    type In: Element;
    /// Partial state.
    type State: Clone + Send + Sync + Debug + FixedBytes + 'static;
    /// Element type of the result.
    type Out: Element;
    /// How the states of a tile are held while it is folded: one by one
    /// (`Vec<Self::State>`), or as columns ([`SoaStates`], for a [`SoaReducer`]).
    type Held: TileStates<Self>;
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
    /// Whether `state` has a result: false for a slice whose values were all skipped where
    /// no result stands for that (`nanargmin` of NaN only, which NumPy refuses too). A
    /// computation that would finish such a state fails instead.
    fn defined(&self, _state: &Self::State) -> bool {
        true
    }
    /// Whether the fold needs element positions (argmin, argmax).
    fn needs_positions(&self) -> bool {
        false
    }
    /// Whether an empty reduction has a defined result (false for min, max, argmin, argmax).
    fn has_identity(&self) -> bool {
        true
    }
    /// What this reducer computes, where an optimiser may find it in another's states.
    fn statistic(&self) -> Option<Statistic> {
        None
    }
    /// Whether the result is, in exact arithmetic, the same for the data shifted by any
    /// finite constant (as a variance or a standard deviation is): an optimiser may then
    /// reduce `x` in place of `x - c` or `x + c`, saving the operation and its rounding.
    fn shift_invariant(&self) -> bool {
        false
    }
    /// A reducer with this one's fold and states that finishes them into `wanted`, if these
    /// states hold it to the precision of the result type (see [`Moments`] for the one
    /// case). Reductions of the same data can then fold once for both.
    fn finishing(&self, _wanted: Statistic) -> Option<Self> {
        None
    }
}

/// A reducer whose tile states are folded as [`SoaStates`]: three f64 fields per state held
/// as three columns, so that folds of many lanes vectorise (sums and moments). Its
/// [`Reducer::Held`] is [`SoaStates`].
pub trait SoaReducer: Reducer {
    /// A state as its three fields.
    fn fields_of(&self, state: &Self::State) -> [f64; 3];
    /// The state of three fields.
    fn state_of(&self, fields: [f64; 3]) -> Self::State;
    /// [`Reducer::fold_lanes`] on columns: lane `j`'s fields are `a[j]`, `b[j]`, `c[j]`.
    /// Every lane has been offered `seen` values of this tile before, so a count that is
    /// the same for every lane need not be stored lane by lane on each call (the store is a
    /// third of a fold's memory traffic): [`SoaReducer::end_soa`] can set it once.
    fn fold_lanes_soa(
        &self,
        a: &mut [f64],
        b: &mut [f64],
        c: &mut [f64],
        xs: &[Self::In],
        seen: u64,
    );
    /// Completes a tile's column states once it is folded: each state has been offered
    /// `offered` values, by [`SoaReducer::fold_lanes_soa`] if `lanes` (else by
    /// [`Reducer::fold_run`] on the states the fields give).
    fn end_soa(&self, a: &mut [f64], b: &mut [f64], c: &mut [f64], offered: u64, lanes: bool);
}

/// The partial states of one tile while it is folded, held as the reducer `R` chooses
/// ([`Reducer::Held`]).
pub trait TileStates<R: Reducer>: Send + 'static {
    /// `n` states of an empty reduction.
    fn start(reducer: &R, n: usize) -> Self;
    /// Folds the C-order elements `offset..offset + xs.len()` of the tile of `layout`.
    fn fold(&mut self, reducer: &R, layout: &ReduceLayout, offset: usize, xs: &[R::In]);
    /// The states once every element of the tile of `layout` is folded.
    fn end(self, reducer: &R, layout: &ReduceLayout) -> Vec<R::State>;
}

/// States held one by one: any reducer can fold into them.
impl<R: Reducer> TileStates<R> for Vec<R::State> {
    fn start(reducer: &R, n: usize) -> Self {
        vec![reducer.init(); n]
    }
    fn fold(&mut self, reducer: &R, layout: &ReduceLayout, offset: usize, xs: &[R::In]) {
        layout.fold(reducer, self, offset, xs);
    }
    fn end(self, _: &R, _: &ReduceLayout) -> Vec<R::State> {
        self
    }
}

/// States held as columns, for the reducers that define them.
impl<R: SoaReducer> TileStates<R> for SoaStates {
    fn start(reducer: &R, n: usize) -> Self {
        SoaStates::new(n, reducer.fields_of(&reducer.init()))
    }
    fn fold(&mut self, reducer: &R, layout: &ReduceLayout, offset: usize, xs: &[R::In]) {
        layout.fold_soa(reducer, self, offset, xs);
    }
    fn end(mut self, reducer: &R, layout: &ReduceLayout) -> Vec<R::State> {
        let (a, b, c) = self.all_columns();
        reducer.end_soa(a, b, c, layout.values_per_state(), layout.folds_lanes());
        (0..self.len())
            .map(|i| reducer.state_of(self.get(i)))
            .collect()
    }
}

/// A result that several reducers' states may hold (see [`Reducer::finishing`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Statistic {
    /// The arithmetic mean, skipping NaN or not.
    Mean {
        /// Whether NaN values are left out.
        skip_nan: bool,
    },
}

/// The states of one tile as three columns of f64 fields (see [`SoaReducer`]).
#[derive(Clone, Debug)]
pub struct SoaStates {
    n: usize,
    /// Field 0 of every state, then field 1, then field 2.
    fields: Vec<f64>,
}

impl SoaStates {
    /// `n` copies of the state of `fields`.
    pub fn new(n: usize, fields: [f64; 3]) -> SoaStates {
        let mut all = Vec::with_capacity(3 * n);
        for f in fields {
            all.extend(std::iter::repeat_n(f, n));
        }
        SoaStates { n, fields: all }
    }

    /// Number of states.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether there is no state.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The fields of state `i`.
    pub fn get(&self, i: usize) -> [f64; 3] {
        [
            self.fields[i],
            self.fields[self.n + i],
            self.fields[2 * self.n + i],
        ]
    }

    /// Sets the fields of state `i`.
    pub fn set(&mut self, i: usize, fields: [f64; 3]) {
        self.fields[i] = fields[0];
        self.fields[self.n + i] = fields[1];
        self.fields[2 * self.n + i] = fields[2];
    }

    /// The three columns of all the states.
    pub fn all_columns(&mut self) -> (&mut [f64], &mut [f64], &mut [f64]) {
        self.columns(0..self.n)
    }

    /// The three columns of the states in `range`.
    pub fn columns(&mut self, range: Range<usize>) -> (&mut [f64], &mut [f64], &mut [f64]) {
        let (first, rest) = self.fields.split_at_mut(self.n);
        let (second, third) = rest.split_at_mut(self.n);
        (
            &mut first[range.clone()],
            &mut second[range.clone()],
            &mut third[range],
        )
    }
}

/// One piece of a strip that [`ReduceLayout`] folds: `run` elements from `done`, into the
/// state at `base` (reduced last axis) or the lanes from `base + col`, which have each been
/// offered `seen` values of the tile before.
struct Piece {
    done: usize,
    run: usize,
    base: usize,
    col: usize,
    position: u64,
    seen: u64,
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
    /// Values each state was offered before this tile (by the tiles folded into the same
    /// states before it, see [`ReduceLayout::after`]).
    before: u64,
}

#[derive(Clone, Debug)]
struct Positions {
    origin: Vec<usize>,
    array_shape: Vec<usize>,
}

impl ReduceLayout {
    /// The layout of a tile of `shape` at `origin` in an array of `array_shape`, reduced
    /// over the axes flagged in `reduced`. With `positions`, the fold receives reduced-space
    /// indices (and axes are not merged); without, reduced axes of length 1 are left out
    /// and neighbouring axes of one kind merged.
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
            // A reduced axis of length 1 reduces nothing: a thin tile of a long reduced axis
            // folds each element into its own state, in lanes, not in runs of one.
            if !positions && is_reduced && extent == 1 {
                continue;
            }
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
            before: 0,
        }
    }

    /// This layout for a tile folded into states that were offered `before` values per
    /// state by earlier tiles (a partial that folds several thin tiles, one after the
    /// other): column states count on from there.
    pub fn after(mut self, before: u64) -> ReduceLayout {
        self.before = before;
        self
    }

    /// Number of partial states this tile reduces to.
    pub fn n_states(&self) -> usize {
        self.n_states
    }

    /// Number of values each state is offered by the whole tile (and by the tiles folded
    /// before it, see [`ReduceLayout::after`]).
    pub fn values_per_state(&self) -> u64 {
        self.before
            + self
                .dims
                .iter()
                .zip(&self.reduced)
                .filter(|(_, reduced)| **reduced)
                .map(|(&extent, _)| extent as u64)
                .product::<u64>()
    }

    /// Whether the tile is folded row by row into lanes of states (the last axis is kept),
    /// rather than in runs into one state each.
    pub fn folds_lanes(&self) -> bool {
        !self.reduced[self.dims.len() - 1]
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
        let last_reduced = self.reduced[self.dims.len() - 1];
        self.for_each_piece(offset, xs.len(), |p| {
            let piece = &xs[p.done..p.done + p.run];
            if last_reduced {
                reducer.fold_run(&mut states[p.base], piece, p.position);
            } else {
                let lanes = p.base + p.col..p.base + p.col + p.run;
                reducer.fold_lanes(&mut states[lanes], piece, p.position);
            }
        });
    }

    /// [`ReduceLayout::fold`] into states held as columns (for a [`SoaReducer`]).
    pub fn fold_soa<R: SoaReducer>(
        &self,
        reducer: &R,
        states: &mut SoaStates,
        offset: usize,
        xs: &[R::In],
    ) {
        let last_reduced = self.reduced[self.dims.len() - 1];
        self.for_each_piece(offset, xs.len(), |p| {
            let piece = &xs[p.done..p.done + p.run];
            if last_reduced {
                let mut state = reducer.state_of(states.get(p.base));
                reducer.fold_run(&mut state, piece, p.position);
                states.set(p.base, reducer.fields_of(&state));
            } else {
                let (a, b, c) = states.columns(p.base + p.col..p.base + p.col + p.run);
                reducer.fold_lanes_soa(a, b, c, piece, p.seen);
            }
        });
    }

    /// Splits the tile elements `offset..offset + len` at row ends, with each piece's states.
    fn for_each_piece(&self, offset: usize, len: usize, mut f: impl FnMut(Piece)) {
        let last = self.dims.len() - 1;
        let row = self.dims[last];
        let mut done = 0;
        while done < len {
            let flat = offset + done;
            let col = flat % row;
            let run = (row - col).min(len - done);
            let mut rest = flat / row;
            let mut base = 0;
            let mut position = 0u64;
            // The row's index among the tile's rows of the same lanes: the values its lanes
            // were offered before (and before the tile).
            let mut seen = self.before;
            let mut seen_stride = 1u64;
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
                if self.reduced[axis] {
                    seen += i as u64 * seen_stride;
                    seen_stride *= self.dims[axis] as u64;
                }
            }
            if let Some(pos) = &self.positions {
                // Ravel of the global coordinates over the reduced axes.
                let mut stride = 1u64;
                for axis in (0..=last).rev() {
                    if self.reduced[axis] {
                        let local = if axis == last { col } else { outer_idx[axis] };
                        position += (pos.origin[axis] + local) as u64 * stride;
                        stride *= pos.array_shape[axis] as u64;
                    }
                }
            }
            f(Piece {
                done,
                run,
                base,
                col,
                position,
                seen,
            });
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

/// The sum in f64 of the values of `xs` that are not NaN, pairwise as [`pairwise_sum`],
/// and how many they are.
pub fn pairwise_sum_skipping_nan<T: Numeric>(xs: &[T]) -> (f64, u64) {
    const BLOCK: usize = 256;
    if xs.len() <= BLOCK {
        block_sum_skipping_nan(xs)
    } else {
        let half = (xs.len() / 2).next_multiple_of(8);
        let (a, m) = pairwise_sum_skipping_nan(&xs[..half]);
        let (b, n) = pairwise_sum_skipping_nan(&xs[half..]);
        (a + b, m + n)
    }
}

/// [`block_sum`] of the values that are not NaN (read as 0 and not counted), without a
/// branch, so it vectorises as `block_sum` does.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn block_sum_skipping_nan<T: Numeric>(xs: &[T]) -> (f64, u64) {
    {
        let mut acc = [0.0f64; 8];
        let mut kept = [0.0f64; 8];
        let chunks = xs.chunks_exact(8);
        let tail = chunks.remainder();
        for c in chunks {
            for k in 0..8 {
                let x = T::as_f64(c[k]);
                let keep = !x.is_nan();
                acc[k] += if keep { x } else { 0.0 };
                kept[k] += if keep { 1.0 } else { 0.0 };
            }
        }
        let mut s =
            ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        let mut n = kept.iter().sum::<f64>() as u64;
        for &x in tail {
            let x = T::as_f64(x);
            if !x.is_nan() {
                s += x;
                n += 1;
            }
        }
        (s, n)
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
fixed_bytes_fields!(CompensatedSum {
    sum: f64,
    compensation: f64
});

impl CompensatedSum {
    /// Adds `x` with error compensation.
    #[inline(always)]
    pub fn add(&mut self, x: f64) {
        Self::add_to(&mut self.sum, &mut self.compensation, x);
    }

    /// [`CompensatedSum::add`] on a sum and compensation held apart (in columns).
    #[inline(always)]
    pub fn add_to(sum: &mut f64, compensation: &mut f64, x: f64) {
        let t = *sum + x;
        // Branch-free select, so loops over many sums vectorise.
        let (big, small) = if sum.abs() >= x.abs() {
            (*sum, x)
        } else {
            (x, *sum)
        };
        *compensation += (big - t) + small;
        *sum = t;
    }

    /// Adds another compensated sum.
    #[inline(always)]
    pub fn merge(&mut self, other: &CompensatedSum) {
        self.add(other.sum);
        self.compensation += other.compensation;
    }

    /// The total. Once the running sum is not finite (an infinity or NaN was added, or the
    /// sum overflowed) it is the total, as IEEE arithmetic gives it: the compensation is
    /// then meaningless (`inf - inf` made it NaN).
    #[inline(always)]
    pub fn value(&self) -> f64 {
        if self.sum.is_finite() {
            self.sum + self.compensation
        } else {
            self.sum
        }
    }
}

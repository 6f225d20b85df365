//! Reductions of a tile over a set of axes into partial states, and the states themselves.
//!
//! A reduction is a [`Reducer`]: an initial state, two ways to fold data into states (a
//! contiguous run into one state, or a row into a row of states, one per lane), a `combine`
//! of two states and a `finish`. [`ReduceLayout`] maps a tile's C-order elements onto the
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

use multiversion::multiversion;

use crate::dtype::{Element, Numeric};

pub use extremes::{ArgMinMax, BestState, Extreme, MinMax};
pub use logic::{AnyAll, CountNonzero};
pub use moments::{MomentState, Moments};
pub use sums::{FloatSum, Fold, SumState};

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

//! Reducers with their state type erased, so the graph can hold any of them, and the
//! composite reducer that folds several reductions of the same data in one pass.

use std::any::Any;
use std::fmt::Debug;
use std::sync::Arc;

use chunkwise_kernels::dtype::{DType, Element, Strip};
use chunkwise_kernels::reduce::{ReduceLayout, Reducer, Statistic, TileStates};
use chunkwise_kernels::strip::{InputTile, Program, TilePosition};
use chunkwise_kernels::view::strip_start_before;
use ndarray::{ArrayD, IxDyn};

use super::encode::Reader;
use super::value::{StateTile, TupleTile, Value, tile_value};
use crate::error::{Error, ExecError, Result};

/// Partial states of one tile while it is being folded.
pub(crate) type States = Box<dyn Any + Send>;

/// A reduction as the graph and executor see it: states folded from strips, combines of
/// partial states, and the finish into result tiles.
pub(crate) trait ErasedReducer: Send + Sync + Debug {
    fn name(&self) -> String;
    fn in_dtype(&self) -> DType;
    fn out_dtype(&self) -> DType;
    /// Bytes of one partial state.
    fn state_bytes(&self) -> usize;
    /// Bytes per element of the finished result (of every part, for merged reductions).
    fn finished_bytes(&self) -> usize {
        self.out_dtype().size()
    }
    fn has_identity(&self) -> bool;
    fn needs_positions(&self) -> bool;
    /// See [`Reducer::statistic`].
    fn statistic(&self) -> Option<Statistic>;
    /// See [`Reducer::shift_invariant`].
    fn shift_invariant(&self) -> bool {
        false
    }
    /// [`Reducer::finishing`], named `name` in plans.
    fn finishing(&self, wanted: Statistic, name: String) -> Option<Arc<dyn ErasedReducer>>;
    /// `n` initial states.
    fn start(&self, n: usize) -> States;
    /// Folds the tile elements `offset..offset + strip.len()` into `states`.
    fn fold(&self, states: &mut States, layout: &ReduceLayout, offset: usize, strip: Strip<'_>);
    /// The states folded over a tile of `layout` as a value (a tile of `shape`).
    fn end(&self, states: States, layout: &ReduceLayout, shape: Vec<usize>) -> Value;
    /// States of several tiles (all of one shape) combined in order.
    fn combine(&self, parts: &[&Value]) -> Result<Value>;
    /// The result tile (of `shape`) of a tile of states.
    fn finish(&self, states: &Value, shape: &[usize]) -> Result<Value>;
    /// A tile of this reducer's states read back from its encoding (see
    /// [`encode`](super::encode)).
    fn decode_states(&self, reader: &mut Reader<'_>) -> Result<Value>;
}

/// Partial states of one tile: `program` over `inputs`, folded strip by strip.
pub(crate) fn partial(
    reducer: &dyn ErasedReducer,
    program: &Program,
    inputs: &[InputTile<'_>],
    tile: TilePosition<'_>,
    reduced: &[bool],
    strip_len: usize,
) -> Value {
    let mut fold = PartialFold::new(reducer, program, tile, reduced, strip_len);
    fold.fold_upto(inputs, tile.len());
    fold.end()
}

/// Elements of each tile a grouped partial folds before going on to the next tile: the
/// states of a piece (up to 24 bytes each) stay in cache while every tile of the group is
/// folded into them.
const GROUP_PIECE: usize = 1 << 14;

/// The partial states of several thin tiles of one shape (next to each other along the
/// reduced axes, one value per state each; see `Reduce::partial_fans`), folded into one set
/// of states: piece by piece, each piece of every tile in turn, so a state is offered the
/// tiles' values in their order while its piece stays in cache. `tiles` holds each tile's
/// inputs and position.
pub(crate) fn grouped_partial(
    reducer: &dyn ErasedReducer,
    program: &Program,
    tiles: &[(Vec<InputTile<'_>>, TilePosition<'_>)],
    reduced: &[bool],
    strip_len: usize,
) -> Value {
    let mut before = 0;
    let layouts: Vec<ReduceLayout> = tiles
        .iter()
        .map(|(_, tile)| {
            let own = ReduceLayout::new(
                tile.shape,
                tile.origin,
                tile.array_shape,
                reduced,
                reducer.needs_positions(),
            );
            let values = own.values_per_state();
            let layout = own.after(before);
            before += values;
            layout
        })
        .collect();
    let last = tiles.last().expect("a group holds a tile").1;
    let mut states = reducer.start(layouts[0].n_states());
    let len = last.len();
    let mut start = 0;
    while start < len {
        let mut end = (start + GROUP_PIECE).min(len);
        if end < len {
            end = strip_start_before(last.shape, strip_len, end);
        }
        if end <= start {
            end = len;
        }
        for ((inputs, tile), layout) in tiles.iter().zip(&layouts) {
            program.run_range(inputs, *tile, start..end, strip_len, |offset, strip| {
                reducer.fold(&mut states, layout, offset, strip)
            });
        }
        start = end;
    }
    let shape = last
        .shape
        .iter()
        .zip(reduced)
        .map(|(&n, &r)| if r { 1 } else { n })
        .collect();
    reducer.end(states, layouts.last().expect("a layout per tile"), shape)
}

/// The partial states of one tile, folded as its elements become available: all at once
/// ([`partial`]), or piece by piece while a source decodes it.
pub(crate) struct PartialFold<'a> {
    reducer: &'a dyn ErasedReducer,
    program: &'a Program,
    tile: TilePosition<'a>,
    reduced: &'a [bool],
    strip_len: usize,
    layout: ReduceLayout,
    states: States,
    /// Elements folded so far (C order).
    done: usize,
}

impl<'a> PartialFold<'a> {
    pub(crate) fn new(
        reducer: &'a dyn ErasedReducer,
        program: &'a Program,
        tile: TilePosition<'a>,
        reduced: &'a [bool],
        strip_len: usize,
    ) -> PartialFold<'a> {
        let layout = ReduceLayout::new(
            tile.shape,
            tile.origin,
            tile.array_shape,
            reduced,
            reducer.needs_positions(),
        );
        let states = reducer.start(layout.n_states());
        PartialFold {
            reducer,
            program,
            tile,
            reduced,
            strip_len,
            layout,
            states,
            done: 0,
        }
    }

    /// Elements folded so far.
    #[cfg(test)]
    fn done(&self) -> usize {
        self.done
    }

    /// Folds the elements from the last call's end up to `upto`, or up to the last whole
    /// strip before it: the strips are those [`partial`] folds, so that the result does not
    /// depend on how the tile arrived. `inputs` hold at least the elements up to `upto`.
    pub(crate) fn fold_upto(&mut self, inputs: &[InputTile<'_>], upto: usize) {
        let len = self.tile.len();
        let upto = if upto >= len {
            len
        } else {
            strip_start_before(self.tile.shape, self.strip_len, upto)
        };
        if upto <= self.done {
            return;
        }
        let (reducer, layout, states) = (self.reducer, &self.layout, &mut self.states);
        self.program.run_range(
            inputs,
            self.tile,
            self.done..upto,
            self.strip_len,
            |offset, strip| reducer.fold(states, layout, offset, strip),
        );
        self.done = upto;
    }

    /// Forgets everything folded: the tile starts again.
    pub(crate) fn restart(&mut self) {
        self.states = self.reducer.start(self.layout.n_states());
        self.done = 0;
    }

    /// The partial states of the tile (every element folded).
    pub(crate) fn end(self) -> Value {
        let shape = self
            .tile
            .shape
            .iter()
            .zip(self.reduced)
            .map(|(&n, &r)| if r { 1 } else { n })
            .collect();
        self.reducer.end(self.states, &self.layout, shape)
    }
}

#[derive(Debug)]
struct Erased<R> {
    reducer: R,
    name: String,
}

/// Erases a reducer's types; `name` is what plans print.
pub(crate) fn erase<R: Reducer>(reducer: R, name: impl Into<String>) -> Arc<dyn ErasedReducer> {
    Arc::new(Erased {
        reducer,
        name: name.into(),
    })
}

impl<R: Reducer> Erased<R> {
    fn states<'a>(&self, value: &'a Value) -> Result<&'a StateTile<R::State>> {
        value.get::<StateTile<R::State>>()
    }
}

impl<R: Reducer> ErasedReducer for Erased<R> {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn in_dtype(&self) -> DType {
        R::In::DTYPE
    }
    fn out_dtype(&self) -> DType {
        R::Out::DTYPE
    }
    fn state_bytes(&self) -> usize {
        std::mem::size_of::<R::State>()
    }
    fn has_identity(&self) -> bool {
        self.reducer.has_identity()
    }
    fn needs_positions(&self) -> bool {
        self.reducer.needs_positions()
    }
    fn statistic(&self) -> Option<Statistic> {
        self.reducer.statistic()
    }
    fn shift_invariant(&self) -> bool {
        self.reducer.shift_invariant()
    }
    fn finishing(&self, wanted: Statistic, name: String) -> Option<Arc<dyn ErasedReducer>> {
        Some(erase(self.reducer.finishing(wanted)?, name))
    }
    fn start(&self, n: usize) -> States {
        Box::new(R::Held::start(&self.reducer, n))
    }
    fn fold(&self, states: &mut States, layout: &ReduceLayout, offset: usize, strip: Strip<'_>) {
        let xs = R::In::from_strip(strip);
        states
            .downcast_mut::<R::Held>()
            .expect("states from start()")
            .fold(&self.reducer, layout, offset, xs);
    }
    fn end(&self, states: States, layout: &ReduceLayout, shape: Vec<usize>) -> Value {
        let states = states
            .downcast::<R::Held>()
            .expect("states from start()")
            .end(&self.reducer, layout);
        Arc::new(StateTile { states, shape })
    }
    fn combine(&self, parts: &[&Value]) -> Result<Value> {
        let first = self.states(parts[0])?;
        let mut states = first.states.clone();
        for part in &parts[1..] {
            for (into, other) in states.iter_mut().zip(&self.states(part)?.states) {
                self.reducer.combine(into, other);
            }
        }
        Ok(Arc::new(StateTile {
            states,
            shape: first.shape.clone(),
        }))
    }
    fn finish(&self, states: &Value, shape: &[usize]) -> Result<Value> {
        let states = &self.states(states)?.states;
        if !states.iter().all(|s| self.reducer.defined(s)) {
            return Err(Error::Exec(ExecError::AllNanSlice {
                op: self.name.clone(),
            }));
        }
        let values: Vec<R::Out> = states.iter().map(|s| self.reducer.finish(s)).collect();
        let array = ArrayD::from_shape_vec(IxDyn(shape), values)
            .expect("one state per element of the result tile");
        Ok(tile_value(array))
    }
    fn decode_states(&self, reader: &mut Reader<'_>) -> Result<Value> {
        reader.states::<R::State>()
    }
}

/// Several reductions of the same data: one pass over each tile folds every strip into all
/// of them. Values are [`TupleTile`]s with one part per reduction.
///
/// A reduction whose result another's states also hold (the mean of f32 data, in the
/// states of its variance) is not folded: it finishes that reduction's states.
#[derive(Debug)]
pub(crate) struct Several {
    parts: Vec<Arc<dyn ErasedReducer>>,
    /// Per part: the part whose states it finishes (itself when it folds its own).
    states_of: Vec<usize>,
}

impl Several {
    /// The reductions `parts`, each folded unless another's states hold its result.
    pub(crate) fn new(mut parts: Vec<Arc<dyn ErasedReducer>>) -> Several {
        let mut states_of: Vec<usize> = (0..parts.len()).collect();
        for k in 0..parts.len() {
            let Some(wanted) = parts[k].statistic() else {
                continue;
            };
            // Parts that compute a statistic of their own are not asked to hold another's,
            // so no part both finishes another's states and has its own finished.
            let holder = (0..parts.len())
                .filter(|&j| parts[j].statistic().is_none())
                .find_map(|j| Some((j, parts[j].finishing(wanted, parts[k].name())?)));
            if let Some((j, reducer)) = holder {
                parts[k] = reducer;
                states_of[k] = j;
            }
        }
        Several { parts, states_of }
    }

    /// The reducer that finishes part `k` from the part `k` of these states (which may be
    /// another part's states, see [`Several::new`]).
    pub(crate) fn part(&self, k: usize) -> Arc<dyn ErasedReducer> {
        Arc::clone(&self.parts[k])
    }

    fn each(value: &Value) -> Result<&[Value]> {
        Ok(&value.get::<TupleTile>()?.parts)
    }

    fn folds_own(&self, k: usize) -> bool {
        self.states_of[k] == k
    }

    /// One value per part: `f(k)` for the parts that fold, and the value of the part whose
    /// states they finish for the others.
    fn per_folded_part(&self, mut f: impl FnMut(usize) -> Result<Value>) -> Result<Value> {
        let mut parts: Vec<Option<Value>> = (0..self.parts.len())
            .map(|k| self.folds_own(k).then(|| f(k)).transpose())
            .collect::<Result<_>>()?;
        for k in 0..parts.len() {
            if !self.folds_own(k) {
                parts[k] = parts[self.states_of[k]].clone();
            }
        }
        let parts = parts
            .into_iter()
            .map(|p| p.expect("every part holds a folding part's value"))
            .collect();
        Ok(Arc::new(TupleTile { parts }))
    }
}

impl ErasedReducer for Several {
    fn name(&self) -> String {
        self.parts
            .iter()
            .enumerate()
            .map(|(k, p)| match self.folds_own(k) {
                true => p.name(),
                false => format!(
                    "{} (from {})",
                    p.name(),
                    self.parts[self.states_of[k]].name()
                ),
            })
            .collect::<Vec<_>>()
            .join(" + ")
    }
    fn in_dtype(&self) -> DType {
        self.parts[0].in_dtype()
    }
    fn out_dtype(&self) -> DType {
        self.parts[0].out_dtype()
    }
    fn state_bytes(&self) -> usize {
        (0..self.parts.len())
            .filter(|&k| self.folds_own(k))
            .map(|k| self.parts[k].state_bytes())
            .sum()
    }
    fn finished_bytes(&self) -> usize {
        self.parts.iter().map(|p| p.finished_bytes()).sum()
    }
    fn has_identity(&self) -> bool {
        self.parts.iter().all(|p| p.has_identity())
    }
    fn needs_positions(&self) -> bool {
        self.parts.iter().any(|p| p.needs_positions())
    }
    fn statistic(&self) -> Option<Statistic> {
        None
    }
    fn finishing(&self, _: Statistic, _: String) -> Option<Arc<dyn ErasedReducer>> {
        None
    }
    fn start(&self, n: usize) -> States {
        Box::new(
            (0..self.parts.len())
                .map(|k| self.folds_own(k).then(|| self.parts[k].start(n)))
                .collect::<Vec<Option<States>>>(),
        )
    }
    fn fold(&self, states: &mut States, layout: &ReduceLayout, offset: usize, strip: Strip<'_>) {
        let states = states
            .downcast_mut::<Vec<Option<States>>>()
            .expect("states from start()");
        for (part, s) in self.parts.iter().zip(states.iter_mut()) {
            if let Some(s) = s {
                part.fold(s, layout, offset, strip);
            }
        }
    }
    fn end(&self, states: States, layout: &ReduceLayout, shape: Vec<usize>) -> Value {
        let mut states = *states
            .downcast::<Vec<Option<States>>>()
            .expect("states from start()");
        self.per_folded_part(|k| {
            let s = states[k].take().expect("a folding part has states");
            Ok(self.parts[k].end(s, layout, shape.clone()))
        })
        .expect("ending folded states cannot fail")
    }
    fn combine(&self, parts: &[&Value]) -> Result<Value> {
        self.per_folded_part(|k| {
            let kth: Vec<&Value> = parts
                .iter()
                .map(|v| Ok(&Self::each(v)?[k]))
                .collect::<Result<_>>()?;
            self.parts[k].combine(&kth)
        })
    }
    fn finish(&self, states: &Value, shape: &[usize]) -> Result<Value> {
        let parts = self
            .parts
            .iter()
            .zip(Self::each(states)?)
            .map(|(p, s)| p.finish(s, shape))
            .collect::<Result<_>>()?;
        Ok(Arc::new(TupleTile { parts }))
    }
    fn decode_states(&self, reader: &mut Reader<'_>) -> Result<Value> {
        reader.tuple(|k, r| match self.parts.get(k) {
            Some(part) => part.decode_states(r),
            None => Err(crate::error::Error::Exec(
                crate::error::ExecError::TileEncoding(format!(
                    "more parts than the {} reductions",
                    self.parts.len()
                )),
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use chunkwise_kernels::reduce::FloatSum;
    use chunkwise_kernels::strip::ValueRef;

    use super::*;

    #[test]
    fn a_partial_fold_that_restarts_forgets_what_it_folded() {
        let sum = erase(FloatSum::<f64>::new(false, false), "sum");
        let identity = Program {
            inputs: vec![DType::F64],
            steps: Vec::new(),
            output: ValueRef::Input(0),
        };
        let (origin, shape) = ([0, 0], [4, 3]);
        let tile = TilePosition {
            origin: &origin,
            shape: &shape,
            array_shape: &shape,
        };
        let reduced = [true, false];
        let values: Vec<f64> = (0..12).map(f64::from).collect();
        let whole = [InputTile::Full(Strip::F64(&values))];
        let finished = |states: &Value| {
            let tile = sum.finish(states, &[1, 3]).unwrap();
            f64::from_strip(tile.strip().unwrap()).to_vec()
        };
        let want = finished(&partial(&*sum, &identity, &whole, tile, &reduced, 2));
        assert_eq!(want, vec![18.0, 22.0, 26.0]);
        // Pieces as a decoder hands them over, with a false start.
        let mut fold = PartialFold::new(&*sum, &identity, tile, &reduced, 2);
        let garbage = vec![1e9; 7];
        fold.fold_upto(&[InputTile::Full(Strip::F64(&garbage))], 7);
        fold.restart();
        assert_eq!(fold.done(), 0);
        // Strips of 2 end at each row end (rows of 3): 0..2, 2..3, 3..5, 5..6, ...
        for (upto, folded) in [(4, 3), (4, 3), (5, 5), (10, 9), (12, 12)] {
            fold.fold_upto(&[InputTile::Full(Strip::F64(&values[..upto]))], upto);
            assert_eq!(fold.done(), folded, "whole strips only, until the end");
        }
        assert_eq!(fold.done(), 12);
        assert_eq!(finished(&fold.end()), want);
    }
}

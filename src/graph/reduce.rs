//! Reducers with their state type erased, so the graph can hold any of them.

use std::fmt::Debug;
use std::sync::Arc;

use chunkwise_kernels::dtype::{DType, Element, Strip};
use chunkwise_kernels::reduce::{ReduceLayout, Reducer};
use chunkwise_kernels::strip::{Program, TilePosition};
use ndarray::{ArrayD, IxDyn};

use super::value::{StateTile, Value, tile_value};

/// A reduction as the graph and executor see it: partial states of a tile, combines of
/// partial states, and the finish into result tiles.
pub(crate) trait ErasedReducer: Send + Sync + Debug {
    fn name(&self) -> String;
    fn in_dtype(&self) -> DType;
    fn out_dtype(&self) -> DType;
    /// Bytes of one partial state.
    fn state_bytes(&self) -> usize;
    fn has_identity(&self) -> bool;
    /// Partial states of one tile: `program` over `inputs`, folded strip by strip.
    fn partial(
        &self,
        program: &Program,
        inputs: &[Strip<'_>],
        tile: TilePosition<'_>,
        reduced: &[bool],
        strip_len: usize,
    ) -> Value;
    /// States of several tiles (all of one shape) combined in order.
    fn combine(&self, parts: &[&Value]) -> Value;
    /// The result tile (of `shape`) of a tile of states.
    fn finish(&self, states: &Value, shape: &[usize]) -> Value;
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
    fn states<'a>(&self, value: &'a Value) -> &'a StateTile<R::State> {
        value
            .as_any()
            .downcast_ref::<StateTile<R::State>>()
            .expect("a reduction's partial results all come from the same reducer")
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

    fn partial(
        &self,
        program: &Program,
        inputs: &[Strip<'_>],
        tile: TilePosition<'_>,
        reduced: &[bool],
        strip_len: usize,
    ) -> Value {
        let r = &self.reducer;
        let layout = ReduceLayout::new(
            tile.shape,
            tile.origin,
            tile.array_shape,
            reduced,
            r.needs_positions(),
        );
        let mut states = vec![r.init(); layout.n_states()];
        program.run(inputs, tile, strip_len, |offset, strip| {
            layout.fold(r, &mut states, offset, R::In::from_strip(strip))
        });
        let shape = tile
            .shape
            .iter()
            .zip(reduced)
            .map(|(&n, &r)| if r { 1 } else { n })
            .collect();
        Arc::new(StateTile { states, shape })
    }

    fn combine(&self, parts: &[&Value]) -> Value {
        let first = self.states(parts[0]);
        let mut states = first.states.clone();
        for part in &parts[1..] {
            for (into, other) in states.iter_mut().zip(&self.states(part).states) {
                self.reducer.combine(into, other);
            }
        }
        Arc::new(StateTile {
            states,
            shape: first.shape.clone(),
        })
    }

    fn finish(&self, states: &Value, shape: &[usize]) -> Value {
        let values: Vec<R::Out> = self
            .states(states)
            .states
            .iter()
            .map(|s| self.reducer.finish(s))
            .collect();
        let array = ArrayD::from_shape_vec(IxDyn(shape), values)
            .expect("one state per element of the result tile");
        tile_value(array)
    }
}

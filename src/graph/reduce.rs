//! Reducers with their state type erased, so the graph can hold any of them, and the
//! composite reducer that folds several reductions of the same data in one pass.

use std::any::Any;
use std::fmt::Debug;
use std::sync::Arc;

use chunkwise_kernels::dtype::{DType, Element, Strip};
use chunkwise_kernels::reduce::{ReduceLayout, Reducer, SoaStates};
use chunkwise_kernels::strip::{InputTile, Program, TilePosition};
use ndarray::{ArrayD, IxDyn};

use super::value::{StateTile, TupleTile, Value, tile_value};

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
    fn has_identity(&self) -> bool;
    fn needs_positions(&self) -> bool;
    /// `n` initial states.
    fn start(&self, n: usize) -> States;
    /// Folds the tile elements `offset..offset + strip.len()` into `states`.
    fn fold(&self, states: &mut States, layout: &ReduceLayout, offset: usize, strip: Strip<'_>);
    /// The folded states as a value (a tile of `shape`); each state was offered `offered`
    /// values.
    fn end(&self, states: States, offered: u64, shape: Vec<usize>) -> Value;
    /// States of several tiles (all of one shape) combined in order.
    fn combine(&self, parts: &[&Value]) -> Value;
    /// The result tile (of `shape`) of a tile of states.
    fn finish(&self, states: &Value, shape: &[usize]) -> Value;
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
    let layout = ReduceLayout::new(
        tile.shape,
        tile.origin,
        tile.array_shape,
        reduced,
        reducer.needs_positions(),
    );
    let mut states = reducer.start(layout.n_states());
    program.run(inputs, tile, strip_len, |offset, strip| {
        reducer.fold(&mut states, &layout, offset, strip)
    });
    let shape = tile
        .shape
        .iter()
        .zip(reduced)
        .map(|(&n, &r)| if r { 1 } else { n })
        .collect();
    reducer.end(states, layout.values_per_state(), shape)
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
    fn needs_positions(&self) -> bool {
        self.reducer.needs_positions()
    }
    fn start(&self, n: usize) -> States {
        let init = self.reducer.init();
        if self.reducer.uses_soa() {
            Box::new(SoaStates::new(n, self.reducer.fields_of(&init)))
        } else {
            Box::new(vec![init; n])
        }
    }
    fn fold(&self, states: &mut States, layout: &ReduceLayout, offset: usize, strip: Strip<'_>) {
        let xs = R::In::from_strip(strip);
        if let Some(columns) = states.downcast_mut::<SoaStates>() {
            layout.fold_soa(&self.reducer, columns, offset, xs);
            return;
        }
        let states = states
            .downcast_mut::<Vec<R::State>>()
            .expect("states from start()");
        layout.fold(&self.reducer, states, offset, xs);
    }
    fn end(&self, states: States, offered: u64, shape: Vec<usize>) -> Value {
        let states = match states.downcast::<SoaStates>() {
            Ok(mut columns) => {
                let (a, b, c) = columns.all_columns();
                self.reducer.end_soa(a, b, c, offered);
                (0..columns.len())
                    .map(|i| self.reducer.state_of(columns.get(i)))
                    .collect()
            }
            Err(states) => *states
                .downcast::<Vec<R::State>>()
                .expect("states from start()"),
        };
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

/// Several reductions of the same data: one pass over each tile folds every strip into all
/// of them. Values are [`TupleTile`]s with one part per reduction.
#[derive(Debug)]
pub(crate) struct Several {
    pub(crate) parts: Vec<Arc<dyn ErasedReducer>>,
}

impl Several {
    fn each(value: &Value) -> &[Value] {
        &value
            .as_any()
            .downcast_ref::<TupleTile>()
            .expect("values of several reductions")
            .parts
    }

    /// Combines the `k`-th parts of `values` with `f`, for every part.
    fn per_part(&self, values: &[&Value], f: impl Fn(usize, &[&Value]) -> Value) -> Value {
        let parts = (0..self.parts.len())
            .map(|k| {
                let kth: Vec<&Value> = values.iter().map(|v| &Self::each(v)[k]).collect();
                f(k, &kth)
            })
            .collect();
        Arc::new(TupleTile { parts })
    }
}

impl ErasedReducer for Several {
    fn name(&self) -> String {
        self.parts
            .iter()
            .map(|p| p.name())
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
        self.parts.iter().map(|p| p.state_bytes()).sum()
    }
    fn has_identity(&self) -> bool {
        self.parts.iter().all(|p| p.has_identity())
    }
    fn needs_positions(&self) -> bool {
        self.parts.iter().any(|p| p.needs_positions())
    }
    fn start(&self, n: usize) -> States {
        Box::new(
            self.parts
                .iter()
                .map(|p| p.start(n))
                .collect::<Vec<States>>(),
        )
    }
    fn fold(&self, states: &mut States, layout: &ReduceLayout, offset: usize, strip: Strip<'_>) {
        let states = states
            .downcast_mut::<Vec<States>>()
            .expect("states from start()");
        for (part, s) in self.parts.iter().zip(states.iter_mut()) {
            part.fold(s, layout, offset, strip);
        }
    }
    fn end(&self, states: States, offered: u64, shape: Vec<usize>) -> Value {
        let states = *states
            .downcast::<Vec<States>>()
            .expect("states from start()");
        let parts = self
            .parts
            .iter()
            .zip(states)
            .map(|(p, s)| p.end(s, offered, shape.clone()))
            .collect();
        Arc::new(TupleTile { parts })
    }
    fn combine(&self, parts: &[&Value]) -> Value {
        self.per_part(parts, |k, kth| self.parts[k].combine(kth))
    }
    fn finish(&self, states: &Value, shape: &[usize]) -> Value {
        self.per_part(&[states], |k, kth| self.parts[k].finish(kth[0], shape))
    }
}

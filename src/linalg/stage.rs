//! The building block of the linear-algebra graphs: a *stage* is a blockwise node whose
//! tiles are computed by a closure from tiles of earlier stages, as a tile algorithm
//! (PLASMA-style) writes them: `L[k][k] = potrf(A[k][k])`, `L[i][k] = trsm(A[i][k], L[k][k])`.
//!
//! Only the tiles some consumer asks for become tasks (the planner lowers on demand), so a
//! stage may be declared on a whole grid and used on one triangle of it.

use std::fmt;
use std::sync::Arc;

use chunkwise_kernels::dtype::{Element, FloatElement};
use ndarray::{ArrayD, IxDyn};

use crate::chunks::ChunkGrid;
use crate::error::Result;
use crate::graph::{
    BlockMap, Blockwise, DType, Node, NodeKind, Pick, TupleTile, Value, tile_value,
};

/// Which input tiles a tile reads: `(input number, block index)`, in the order `run` gets them.
type DepsFn = dyn Fn(&[usize]) -> Vec<(usize, Vec<usize>)> + Send + Sync;
/// Computes the tile of a block (of a shape) from its input tiles.
type RunFn = dyn Fn(&[usize], &[usize], &[&Value]) -> Result<Value> + Send + Sync;

/// A blockwise map given by two closures.
struct StageMap {
    name: String,
    deps: Box<DepsFn>,
    run: Box<RunFn>,
    scratch_bytes: usize,
}

impl fmt::Debug for StageMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StageMap")
            .field("name", &self.name)
            .finish()
    }
}

impl BlockMap for StageMap {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn deps(&self, block: &[usize]) -> Vec<(usize, Vec<usize>)> {
        (self.deps)(block)
    }
    fn run(&self, block: &[usize], shape: &[usize], inputs: &[&Value]) -> Result<Value> {
        (self.run)(block, shape, inputs)
    }
    fn scratch_bytes(&self) -> usize {
        self.scratch_bytes
    }
}

/// A stage of a tile algorithm, to be finished with [`Stage::run`].
pub(crate) struct Stage {
    name: String,
    grid: ChunkGrid,
    dtype: DType,
    inputs: Vec<Arc<Node>>,
    scratch_bytes: usize,
}

impl Stage {
    /// A stage named `name` producing tiles of `dtype` on `grid`, reading `inputs`.
    pub(crate) fn new(
        name: impl Into<String>,
        grid: ChunkGrid,
        dtype: DType,
        inputs: Vec<Arc<Node>>,
    ) -> Stage {
        Stage {
            name: name.into(),
            grid,
            dtype,
            inputs,
            scratch_bytes: 0,
        }
    }

    /// Declares the working memory of one tile beyond its inputs and result (planned
    /// against the budget).
    pub(crate) fn scratch(mut self, bytes: usize) -> Stage {
        self.scratch_bytes = bytes;
        self
    }

    /// The node: tile `block` reads `deps(block)` and is computed by `run(block, shape,
    /// tiles)`.
    pub(crate) fn run(
        self,
        deps: impl Fn(&[usize]) -> Vec<(usize, Vec<usize>)> + Send + Sync + 'static,
        run: impl Fn(&[usize], &[usize], &[&Value]) -> Result<Value> + Send + Sync + 'static,
    ) -> Arc<Node> {
        let map: Arc<dyn BlockMap> = Arc::new(StageMap {
            name: self.name,
            deps: Box::new(deps),
            run: Box::new(run),
            scratch_bytes: self.scratch_bytes,
        });
        Node::new(
            NodeKind::Blockwise(Blockwise {
                inputs: self.inputs,
                map,
            }),
            self.grid,
            self.dtype,
        )
    }
}

/// A row-major matrix tile borrowed from a value.
pub(crate) struct MatrixTile<'a, T> {
    pub(crate) data: &'a [T],
    pub(crate) rows: usize,
    pub(crate) cols: usize,
}

/// Part `index` of a tuple value (or the value itself for part 0), as its concrete type.
pub(crate) fn part_ref<D: 'static>(value: &Value, index: usize) -> &D {
    let any = value.as_any();
    let found = match any.downcast_ref::<TupleTile>() {
        Some(tuple) => tuple.parts[index].as_any().downcast_ref::<D>(),
        None => {
            debug_assert_eq!(index, 0, "a plain tile has one part");
            any.downcast_ref::<D>()
        }
    };
    found.expect("a linear-algebra stage reads the tile types its producer makes")
}

/// The array tile of a value (part `part` of a tuple value, or the value itself for part 0).
pub(crate) fn array_part<T: Element>(value: &Value, part: usize) -> &ArrayD<T> {
    part_ref::<ArrayD<T>>(value, part)
}

/// A 2-D tile (or part of a tuple value) as a row-major matrix.
pub(crate) fn matrix<T: Element>(value: &Value, part: usize) -> MatrixTile<'_, T> {
    let array = array_part::<T>(value, part);
    let (rows, cols) = match array.shape() {
        [r, c] => (*r, *c),
        [r] => (*r, 1),
        other => unreachable!("a matrix tile, found shape {other:?}"),
    };
    MatrixTile {
        data: array.as_slice().expect("C-order tiles"),
        rows,
        cols,
    }
}

/// A value holding `values` as a tile of `shape`.
pub(crate) fn tile_of<T: Element>(values: Vec<T>, shape: &[usize]) -> Value {
    tile_value(ArrayD::from_shape_vec(IxDyn(shape), values).expect("one value per element"))
}

/// Several tiles computed by one task (the first gives the task's shape).
pub(crate) fn tuple(parts: Vec<Value>) -> Value {
    Arc::new(TupleTile { parts })
}

/// The part of a tuple value (or a plain value as its only part).
pub(crate) fn part(value: &Value, index: usize) -> Value {
    match value.as_any().downcast_ref::<TupleTile>() {
        Some(tuple) => tuple.parts[index].clone(),
        None => value.clone(),
    }
}

/// Part `index` of the one tile `from` of `source`, as a node of one tile on `grid` (a factor
/// taken out of a factorization's result).
pub(crate) fn pick_part(
    grid: ChunkGrid,
    dtype: DType,
    source: &Arc<Node>,
    from: Vec<usize>,
    index: usize,
) -> Arc<Node> {
    let map: Arc<dyn BlockMap> = Arc::new(Pick {
        k: index,
        from: Some(from),
    });
    Node::new(
        NodeKind::Blockwise(Blockwise {
            inputs: vec![source.clone()],
            map,
        }),
        grid,
        dtype,
    )
}

/// A node on `grid` whose tile `block` is tile `pick(block)` of one of `sources` (a tile of
/// zeros where `pick` gives `None`): how the stages of an algorithm become its result array.
/// `part` selects a part of tuple tiles.
pub(crate) fn assemble<T: FloatElement>(
    name: &str,
    grid: ChunkGrid,
    sources: Vec<Arc<Node>>,
    pick: impl Fn(&[usize]) -> Option<(usize, Vec<usize>, usize)> + Send + Sync + 'static,
) -> Arc<Node> {
    let pick = Arc::new(pick);
    let deps_pick = pick.clone();
    Stage::new(name, grid, T::DTYPE, sources).run(
        move |block| {
            deps_pick(block)
                .map(|(input, at, _)| vec![(input, at)])
                .unwrap_or_default()
        },
        move |block, shape, tiles| match pick(block) {
            Some((_, _, index)) => Ok(part(tiles[0], index)),
            None => Ok(tile_of(vec![T::ZERO; shape.iter().product()], shape)),
        },
    )
}

//! The building block of the linear-algebra graphs: a *stage* is a blockwise node whose
//! tiles are computed by a closure from tiles of earlier stages, as a tile algorithm
//! (PLASMA-style) writes them: `L[k][k] = potrf(A[k][k])`, `L[i][k] = trsm(A[i][k], L[k][k])`.
//!
//! Only the tiles some consumer asks for become tasks (the planner lowers on demand), so a
//! stage may be declared on a whole grid and used on one triangle of it.

use std::sync::Arc;

use chunkwise_kernels::dtype::{Element, FloatElement};
use ndarray::ArrayD;

use crate::chunks::ChunkGrid;
use crate::graph::{Blockwise, DType, Node, NodeKind};
pub(crate) use crate::ops::blockwise::blockwise;
use crate::tile::{BlockMap, Pick, Value};
pub(crate) use crate::tile::{TileData, part, tile_of, tuple};

/// A row-major matrix tile borrowed from a value.
pub(crate) struct MatrixTile<'a, T> {
    pub(crate) data: &'a [T],
    pub(crate) rows: usize,
    pub(crate) cols: usize,
}

/// Part `index` of a tuple value (or the value itself for part 0), as its concrete type.
/// A stage reads the tile types its producer makes, so a mismatch is a bug (and the task's
/// panic becomes an error naming it).
pub(crate) fn part_ref<D: TileData>(value: &Value, index: usize) -> &D {
    let found = match value.get::<crate::tile::TupleTile>() {
        Ok(tuple) => tuple.parts[index].get::<D>(),
        Err(_) => value.get::<D>(),
    };
    found.unwrap_or_else(|e| panic!("a linear-algebra stage read the wrong tile: {e}"))
}

/// The array tile of a value (part `part` of a tuple value, or the value itself for part 0).
pub(crate) fn array_part<T: Element>(value: &Value, part: usize) -> &ArrayD<T> {
    part_ref::<ArrayD<T>>(value, part)
}

/// The magnitude at or below which a pivot or diagonal entry of an `n x n` matrix is zero
/// to working precision: `n * eps` times `largest`, a 0-d tile holding the largest
/// magnitude of the whole matrix (or of its diagonal), so that whether the matrix is
/// singular does not depend on its tiles.
pub(crate) fn zero_tolerance<T: FloatElement>(n: usize, largest: &Value) -> T {
    let largest = array_part::<T>(largest, 0).iter().copied().next();
    T::from_f64(n as f64) * T::epsilon() * largest.unwrap_or(T::ZERO)
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
        item_bytes: dtype.size(),
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
    // A picked tile exists already, but the executor counts it as this task's too.
    blockwise(name, grid, T::DTYPE, sources).run(
        move |block| {
            deps_pick(block)
                .map(|(input, at, _)| vec![(input, at)])
                .unwrap_or_default()
        },
        move |block, tiles| match pick(block.index) {
            Some((_, _, index)) => part(tiles[0], index),
            None => Ok(tile_of(vec![T::ZERO; block.len()], block.shape)),
        },
    )
}

//! Running one task: gathering its input tiles and calling the kernel of its kind.

use chunkwise_kernels::dtype::StripVec;
use chunkwise_kernels::strip::{InputTile, Program, Step, TilePosition, ValueRef};
use chunkwise_kernels::view::c_strides;

use super::plan::{Task, TaskKind};
use crate::chunks::ChunkGrid;
use crate::error::{Error, ExecError, PlanError, Result};
use crate::graph::{ElemInput, Elemwise, Gathered, NodeKind, Reduce, Source};
use crate::tile::{PartialFold, TilePiece, Value, grouped_partial, new_tile, partial};

/// Computes `task` from the results of its dependencies (in `deps` order).
pub(crate) fn run_task(task: &Task, inputs: &[Value], strip_len: usize) -> Result<Value> {
    let node = &task.node;
    match (&task.kind, &node.kind) {
        (TaskKind::Source, NodeKind::Source(Source::Generator(op))) => {
            let program = Program {
                inputs: Vec::new(),
                steps: vec![Step {
                    op: op.clone(),
                    args: Vec::new(),
                }],
                output: ValueRef::Step(0),
            };
            Ok(run_program(
                &program,
                &[],
                &node.grid,
                &task.block,
                strip_len,
            ))
        }
        (TaskKind::Source, NodeKind::Source(Source::Tiles(src))) => {
            let value = src.tile(&task.block, &node.grid.block_ranges(&task.block))?;
            let expected = node.grid.block_shape(&task.block);
            if value.shape() != expected.as_slice() {
                return Err(Error::Exec(ExecError::TileShape {
                    task: task.describe(),
                    expected,
                    found: value.shape().to_vec(),
                }));
            }
            Ok(value)
        }
        (TaskKind::Source, NodeKind::Invalid(e)) => Err(e.clone()),
        (TaskKind::Elemwise, NodeKind::Elemwise(e)) => {
            if let Some(tile) = whole_source_tile(e, &node.grid, &task.block, inputs) {
                return Ok(tile);
            }
            let gathered = Gathered::new(&e.inputs, &node.grid, &task.block, inputs.iter());
            Ok(run_program(
                &e.program,
                &gathered.tiles(),
                &node.grid,
                &task.block,
                strip_len,
            ))
        }
        (TaskKind::Blockwise, NodeKind::Blockwise(b)) => {
            let refs: Vec<&Value> = inputs.iter().collect();
            let shape = node.grid.block_shape(&task.block);
            let value = b.map.run(&task.block, &shape, &refs)?;
            check_tile(task, &value, &shape)?;
            Ok(value)
        }
        (TaskKind::Partial, NodeKind::Reduce(r)) => {
            let shape = r.in_grid.block_shape(&task.block);
            let origin = r.in_grid.block_origin(&task.block);
            let array_shape = r.in_grid.shape();
            let tile = TilePosition {
                origin: &origin,
                shape: &shape,
                array_shape: &array_shape,
            };
            if r.partial_fans().iter().any(|&fan| fan > 1) {
                let blocks = r.partial_blocks(&task.block);
                return Ok(grouped(r, &blocks, inputs, strip_len));
            }
            match task.streamed {
                Some(k) => streamed_partial(task, r, k, inputs, tile, strip_len),
                None => Ok(partial(
                    &*r.reducer,
                    &r.program,
                    &Gathered::new(&r.inputs, &r.in_grid, &task.block, inputs.iter()).tiles(),
                    tile,
                    &r.reduced,
                    strip_len,
                )),
            }
        }
        (TaskKind::Combine { .. }, NodeKind::Reduce(r)) => {
            let refs: Vec<&Value> = inputs.iter().collect();
            r.reducer.combine(&refs)
        }
        (TaskKind::Finish, NodeKind::Reduce(r)) => {
            let refs: Vec<&Value> = inputs.iter().collect();
            let combined = if refs.len() == 1 {
                refs[0].clone()
            } else {
                r.reducer.combine(&refs)?
            };
            r.reducer
                .finish(&combined, &node.grid.block_shape(&task.block))
        }
        (TaskKind::Receive { .. }, _) => Err(Error::Plan(PlanError::InvalidPlan {
            pass: "distribution".into(),
            reason: format!("{} was run here instead of received", task.describe()),
        })),
        (kind, _) => unreachable!("task kind {kind:?} does not match node {}", node.label()),
    }
}

/// An error naming the task unless `value`, the tile a blockwise task returned, has the
/// block's `shape` and (for an array tile) the node's dtype: a map that breaks its contract
/// is reported where it happens, not as a panic or a wrong answer further on.
fn check_tile(task: &Task, value: &Value, shape: &[usize]) -> Result<()> {
    if value.shape() != shape {
        return Err(Error::Exec(ExecError::TileShape {
            task: task.describe(),
            expected: shape.to_vec(),
            found: value.shape().to_vec(),
        }));
    }
    match value.strip().map(|s| s.dtype()) {
        Some(found) if found != task.node.dtype => Err(Error::Exec(ExecError::TileDType {
            task: task.describe(),
            expected: task.node.dtype,
            found,
        })),
        _ => Ok(()),
    }
}

/// The one tile a view reads, when tile `block` of the view is exactly that tile (an
/// aligned slice such as `x[:, :-17]` in a `roll`, or a rechunk that keeps a tile): it is
/// passed on, not copied.
fn whole_source_tile(
    e: &Elemwise,
    grid: &ChunkGrid,
    block: &[usize],
    inputs: &[Value],
) -> Option<Value> {
    let [input] = e.inputs.as_slice() else {
        return None;
    };
    let [tile] = inputs else { return None };
    if !e.program.steps.is_empty() || tile.shape() != grid.block_shape(block).as_slice() {
        return None;
    }
    let pieces = input.pieces(grid, block);
    let whole = pieces.blocks.len() == 1
        && pieces.corners[0].iter().all(|&c| c == 0)
        && input.view.strides(&c_strides(tile.shape()))
            == c_strides(tile.shape())
                .iter()
                .map(|&s| s as isize)
                .collect::<Vec<_>>();
    whole.then(|| tile.clone())
}

/// The partial states of several thin tiles (`blocks` of the input grid, next to each
/// other along the reduced axes) folded into one set of states; `deps` holds their inputs
/// block after block.
fn grouped(r: &Reduce, blocks: &[Vec<usize>], deps: &[Value], strip_len: usize) -> Value {
    let array_shape = r.in_grid.shape();
    let places: Vec<(Vec<usize>, Vec<usize>)> = blocks
        .iter()
        .map(|b| (r.in_grid.block_shape(b), r.in_grid.block_origin(b)))
        .collect();
    let mut values = deps.iter();
    let gathered: Vec<Gathered<'_>> = blocks
        .iter()
        .map(|block| Gathered::new(&r.inputs, &r.in_grid, block, values.by_ref()))
        .collect();
    let tiles: Vec<_> = gathered
        .iter()
        .zip(&places)
        .map(|(g, (shape, origin))| {
            let tile = TilePosition {
                origin,
                shape,
                array_shape: &array_shape,
            };
            (g.tiles(), tile)
        })
        .collect();
    grouped_partial(&*r.reducer, &r.program, &tiles, &r.reduced, strip_len)
}

/// The partial states of a tile whose input `streamed` the task reads itself: each piece
/// of that input's tile is folded as soon as the source has decoded it, while it is still in
/// cache. `deps` are the tiles of the other inputs, in order.
fn streamed_partial(
    task: &Task,
    r: &Reduce,
    streamed: usize,
    deps: &[Value],
    tile: TilePosition<'_>,
    strip_len: usize,
) -> Result<Value> {
    let input = &r.inputs[streamed].node;
    let NodeKind::Source(Source::Tiles(source)) = &input.kind else {
        unreachable!("the plan streams tile sources only")
    };
    let others: Vec<ElemInput> = r
        .inputs
        .iter()
        .enumerate()
        .filter(|&(k, _)| k != streamed)
        .map(|(_, i)| i.clone())
        .collect();
    let others = Gathered::new(&others, &r.in_grid, &task.block, deps.iter());
    let others = others.tiles();
    let mut fold = PartialFold::new(&*r.reducer, &r.program, tile, &r.reduced, strip_len);
    let ranges = input.grid.block_ranges(&task.block);
    // The most elements the source handed over (more than the tile is an error).
    let mut handed = 0;
    source.stream_tile(&task.block, &ranges, &mut |piece| match piece {
        TilePiece::Restart => {
            fold.restart();
            handed = 0;
        }
        TilePiece::Prefix(prefix) => {
            handed = prefix.len();
            if handed <= tile.len() {
                let mut inputs = others.clone();
                inputs.insert(streamed, InputTile::Full(prefix));
                fold.fold_upto(&inputs, handed);
            }
        }
    })?;
    if handed != tile.len() {
        // Element counts: a stream hands over elements, not a shape.
        return Err(Error::Exec(ExecError::TileShape {
            task: task.describe(),
            expected: vec![tile.len()],
            found: vec![handed],
        }));
    }
    Ok(fold.end())
}

/// Evaluates a program into a new tile of `block` of `grid`.
fn run_program(
    program: &Program,
    strips: &[InputTile<'_>],
    grid: &ChunkGrid,
    block: &[usize],
    strip_len: usize,
) -> Value {
    let shape = grid.block_shape(block);
    let origin = grid.block_origin(block);
    let array_shape = grid.shape();
    let tile = TilePosition {
        origin: &origin,
        shape: &shape,
        array_shape: &array_shape,
    };
    let len = tile.len();
    let mut out = StripVec::zeros(program.out_dtype(), len);
    program.run_into(strips, tile, strip_len, out.head_mut(len));
    new_tile(out, &shape)
}

#[cfg(test)]
mod tests {
    use std::ops::Range;
    use std::sync::Arc;

    use chunkwise_kernels::dtype::Element;
    use ndarray::{ArrayD, IxDyn};

    use crate::array::Array;
    use crate::chunks::ChunkGrid;
    use crate::graph::{DType, Node, NodeKind, Source};
    use crate::tile::{TilePiece, TileSource, Value, tile_value};

    /// Tiles of `i * 10 + j`, streamed in pieces of 5 elements after a false start of
    /// garbage that is then taken back (as when a fast decoder gives up at the end).
    #[derive(Debug)]
    struct FalseStart;

    impl FalseStart {
        fn values(ranges: &[Range<usize>]) -> Vec<f64> {
            ranges[0]
                .clone()
                .flat_map(|i| ranges[1].clone().map(move |j| (i * 10 + j) as f64))
                .collect()
        }
    }

    impl TileSource for FalseStart {
        fn name(&self) -> String {
            "false-start".into()
        }
        fn tile(&self, _: &[usize], ranges: &[Range<usize>]) -> crate::error::Result<Value> {
            let shape: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
            let tile = ArrayD::from_shape_vec(IxDyn(&shape), Self::values(ranges));
            Ok(tile_value(tile.expect("one value per element")))
        }
        fn streams(&self, _: &ChunkGrid) -> bool {
            true
        }
        fn stream_tile(
            &self,
            _: &[usize],
            ranges: &[Range<usize>],
            receive: &mut dyn FnMut(TilePiece<'_>),
        ) -> crate::error::Result<()> {
            let values = Self::values(ranges);
            let garbage = vec![1e9; values.len()];
            // A whole tile of garbage (a frame with stray bytes after it), then taken back.
            receive(TilePiece::Prefix(f64::to_strip(&garbage)));
            receive(TilePiece::Restart);
            for end in (5..values.len()).step_by(5).chain([values.len()]) {
                receive(TilePiece::Prefix(f64::to_strip(&values[..end])));
            }
            Ok(())
        }
    }

    #[test]
    fn a_streamed_source_that_restarts_is_folded_once() {
        let grid = ChunkGrid::regular(&[6, 7], &[4, 3]).unwrap();
        let node = Node::new(
            NodeKind::Source(Source::Tiles(Arc::new(FalseStart))),
            grid,
            DType::F64,
        );
        let x = Array::<f64>::from_node(node);
        let plan = x.sum_axis(0).explain().unwrap();
        assert!(plan.contains("folded as it is decoded"), "{plan}");
        let sums = x.sum_axis(0).compute().unwrap();
        let rows = x.sum_axis(1).compute().unwrap();
        for j in 0..7 {
            let want: f64 = (0..6).map(|i| (i * 10 + j) as f64).sum();
            assert_eq!(sums[[j]], want);
        }
        for i in 0..6 {
            let want: f64 = (0..7).map(|j| (i * 10 + j) as f64).sum();
            assert_eq!(rows[[i]], want);
        }
    }

    /// A block map that returns, for each block, a tile of `shape` (the block's own when
    /// `None`) of `f32` or of the node's `f64`.
    #[derive(Debug)]
    struct Liar {
        shape: Option<Vec<usize>>,
        f32: bool,
    }

    impl crate::tile::BlockMap for Liar {
        fn name(&self) -> String {
            "liar".into()
        }
        fn deps(&self, _: &[usize]) -> Vec<(usize, Vec<usize>)> {
            Vec::new()
        }
        fn run(&self, _: &[usize], shape: &[usize], _: &[&Value]) -> crate::error::Result<Value> {
            let shape = IxDyn(self.shape.as_deref().unwrap_or(shape));
            Ok(if self.f32 {
                tile_value(ArrayD::<f32>::zeros(shape))
            } else {
                tile_value(ArrayD::<f64>::zeros(shape))
            })
        }
        fn memory(&self, _: &[usize], _: &[usize]) -> crate::tile::TileMemory {
            crate::tile::TileMemory::default()
        }
    }

    fn liar(shape: Option<Vec<usize>>, f32: bool) -> Array<f64> {
        let grid = ChunkGrid::regular(&[4, 6], &[2, 3]).unwrap();
        let kind = NodeKind::Blockwise(crate::graph::Blockwise {
            inputs: Vec::new(),
            map: Arc::new(Liar { shape, f32 }),
        });
        Array::from_node(Node::new(kind, grid, DType::F64))
    }

    #[test]
    fn a_blockwise_tile_of_the_wrong_shape_or_dtype_is_an_error_naming_the_block() {
        use crate::error::{Error, ExecError};
        assert_eq!(liar(None, false).compute().unwrap().shape(), &[4, 6]);
        // Also where the tile is not the output but is reduced further.
        for x in [
            liar(Some(vec![3, 2]), false),
            liar(Some(vec![3, 2]), false).sum_axis(0),
        ] {
            match x.compute_with(&crate::Config::default().threads(1)) {
                Err(Error::Exec(ExecError::TileShape {
                    task,
                    expected,
                    found,
                })) => {
                    assert!(task.contains("(Blockwise liar) block [0, 0]"), "{task}");
                    assert_eq!((expected, found), (vec![2, 3], vec![3, 2]));
                }
                other => panic!("expected TileShape, got {other:?}"),
            }
        }
        match liar(None, true).compute_with(&crate::Config::default().threads(1)) {
            Err(Error::Exec(ExecError::TileDType {
                task,
                expected,
                found,
            })) => {
                assert!(task.contains("(Blockwise liar) block [0, 0]"), "{task}");
                assert_eq!((expected, found), (DType::F64, DType::F32));
            }
            other => panic!("expected TileDType, got {other:?}"),
        }
    }

    #[test]
    fn a_view_tile_that_is_one_whole_source_tile_is_passed_on() {
        let x = crate::from_ndarray(&ndarray::Array2::<f64>::zeros((4, 6)), [2, 3]).unwrap();
        let view = x.slice(ndarray::s![.., ..5]).unwrap();
        let NodeKind::Elemwise(e) = &view.node.kind else {
            panic!("a slice is a view");
        };
        let tile = tile_value(ArrayD::<f64>::zeros(IxDyn(&[2, 3])));
        let passed =
            super::whole_source_tile(e, &view.node.grid, &[0, 0], std::slice::from_ref(&tile));
        assert!(passed.is_some_and(|p| Arc::ptr_eq(&p, &tile)));
        // Columns 3..5 are part of a source tile: gathered, not passed on.
        let part = super::whole_source_tile(e, &view.node.grid, &[0, 1], &[tile]);
        assert!(part.is_none());
        // A transposed view of a square tile is not the tile.
        let y = crate::from_ndarray(&ndarray::Array2::<f64>::zeros((2, 2)), [2, 2]).unwrap();
        let t = y.transpose();
        let NodeKind::Elemwise(e) = &t.node.kind else {
            panic!("a transpose is a view");
        };
        let square = tile_value(ArrayD::<f64>::zeros(IxDyn(&[2, 2])));
        assert!(super::whole_source_tile(e, &t.node.grid, &[0, 0], &[square]).is_none());
    }
}

//! The last pass: checks the plan and changes nothing. [`check`] also runs after every pass
//! (see [`optimize`](super::optimize)), so a broken plan names the pass that broke it.

use std::sync::Arc;

use super::Pass;
use crate::chunks::{AxisChunks, ChunkGrid, SourceAxis};
use crate::error::{Error, PlanError, Result};
use crate::graph::{Blockwise, DType, ElemInput, Node, NodeKind, Reduce, Source};

/// Rejects programs whose inputs or result disagree with the nodes around them.
pub(crate) struct Validate;

fn check_inputs(
    inputs: &[ElemInput],
    program: &chunkwise_kernels::strip::Program,
) -> Result<(), String> {
    if inputs.len() != program.inputs.len() {
        return Err(format!(
            "{} inputs for a program of {}",
            inputs.len(),
            program.inputs.len()
        ));
    }
    for (k, (input, &dtype)) in inputs.iter().zip(&program.inputs).enumerate() {
        if input.node.dtype != dtype {
            return Err(format!(
                "input {k} is {} but the program reads {dtype}",
                input.node.dtype
            ));
        }
    }
    Ok(())
}

impl Pass for Validate {
    fn name(&self) -> &'static str {
        "validate"
    }
    fn run(&self, roots: &[Arc<Node>]) -> Result<(Vec<Arc<Node>>, bool)> {
        check(roots).map_err(|reason| {
            Error::Plan(PlanError::InvalidPlan {
                pass: "graph builder".into(),
                reason,
            })
        })?;
        Ok((roots.to_vec(), false))
    }
}

/// What is wrong with the graph below `roots`, if anything: the first problem found,
/// naming the node.
///
/// Per node kind: a generator gives the node's dtype; an elementwise program reads its
/// inputs' dtypes and gives the node's, over inputs on the node's grid (length 1 where
/// broadcast); a reduction's inputs are on its `in_grid`, its output grid is the one its
/// reduced axes and `keepdims` leave, and its reducer reads the prelude's dtype and gives
/// the node's; a blockwise map names, for a bounded sample of output blocks (see
/// [`sample_blocks`]), only inputs that exist and blocks inside their grids. Nodes that
/// read an invalid node are skipped: the building error is reported instead.
pub(crate) fn check(roots: &[Arc<Node>]) -> Result<(), String> {
    let mut stack: Vec<Arc<Node>> = roots.to_vec();
    let mut seen = std::collections::HashSet::new();
    while let Some(node) = stack.pop() {
        if !seen.insert(node.id) {
            continue;
        }
        let reads_invalid = node
            .inputs()
            .iter()
            .any(|i| matches!(i.kind, NodeKind::Invalid(_)));
        let problem = match &node.kind {
            _ if reads_invalid => Ok(()),
            NodeKind::Source(Source::Generator(op)) => {
                same_dtype("generator", op.out_dtype(), &node)
            }
            NodeKind::Source(Source::Tiles(_)) | NodeKind::Invalid(_) => Ok(()),
            NodeKind::Elemwise(e) => check_inputs(&e.inputs, &e.program)
                .and_then(|()| check_grids(&e.inputs, &node.grid))
                .and_then(|()| same_dtype("program", e.program.out_dtype(), &node)),
            NodeKind::Reduce(r) => check_reduce(&node, r),
            NodeKind::Blockwise(b) => check_blockwise(&node, b),
        };
        if let Err(reason) = problem {
            return Err(format!("node #{} ({}): {reason}", node.id, node.label()));
        }
        stack.extend(node.inputs().into_iter().cloned());
    }
    Ok(())
}

/// An error unless `what` gives the dtype of `node`.
fn same_dtype(what: &str, dtype: DType, node: &Node) -> Result<(), String> {
    if dtype == node.dtype {
        Ok(())
    } else {
        Err(format!("{what} gives {dtype} for a {} node", node.dtype))
    }
}

/// Whether two axes have the same chunks (their representations are canonical, but a
/// short axis is also compared chunk by chunk).
fn same_chunks(a: &AxisChunks, b: &AxisChunks) -> bool {
    a == b || (a.count() == b.count() && a.count() <= 4096 && a.sizes() == b.sizes())
}

/// An error unless each input's view has the shape of `grid` and reads inside its node:
/// one index per source axis, each view axis followed by one source axis at most.
fn check_grids(inputs: &[ElemInput], grid: &ChunkGrid) -> Result<(), String> {
    let shape = grid.shape();
    for (k, input) in inputs.iter().enumerate() {
        let view = &input.view;
        let source = input.node.shape();
        if view.shape != shape {
            return Err(format!(
                "input {k} is viewed as {:?} for data of {shape:?}",
                view.shape
            ));
        }
        if view.source.len() != source.len() {
            return Err(format!(
                "input {k} has {} axes but its view reads {}",
                source.len(),
                view.source.len()
            ));
        }
        let mut followed = vec![false; shape.len()];
        for (axis, (s, &len)) in view.source.iter().zip(&source).enumerate() {
            let (first, last) = match *s {
                SourceAxis::Fixed(i) => (i as isize, i as isize),
                SourceAxis::Mapped {
                    axis: a,
                    start,
                    step,
                } => {
                    if a >= shape.len() || std::mem::replace(&mut followed[a], true) {
                        return Err(format!("input {k}: view axis {a} is read twice or absent"));
                    }
                    if shape[a] == 0 {
                        continue;
                    }
                    let last = start as isize + step * (shape[a] as isize - 1);
                    (start as isize, last)
                }
            };
            if first.min(last) < 0 || first.max(last) >= len as isize {
                return Err(format!(
                    "input {k} reads indices {first}..={last} of axis {axis} of length {len}"
                ));
            }
        }
    }
    Ok(())
}

/// The checks of a reduction (see [`check`]).
fn check_reduce(node: &Node, r: &Reduce) -> Result<(), String> {
    check_inputs(&r.inputs, &r.program)?;
    if r.program.out_dtype() != r.reducer.in_dtype() {
        return Err(format!(
            "prelude gives {}, the reducer reads {}",
            r.program.out_dtype(),
            r.reducer.in_dtype()
        ));
    }
    same_dtype("the reducer", r.reducer.out_dtype(), node)?;
    if r.reduced.len() != r.in_grid.ndim() {
        return Err(format!(
            "{} reduced-axis flags for data of {} axes",
            r.reduced.len(),
            r.in_grid.ndim()
        ));
    }
    check_grids(&r.inputs, &r.in_grid)?;
    let expected: Vec<AxisChunks> = (0..r.in_grid.ndim())
        .filter_map(|axis| match (r.reduced[axis], r.keepdims) {
            (false, _) => Some(r.in_grid.axis(axis).clone()),
            (true, true) => Some(AxisChunks::single(1)),
            (true, false) => None,
        })
        .collect();
    let consistent = expected.len() == node.ndim()
        && expected
            .iter()
            .enumerate()
            .all(|(axis, chunks)| same_chunks(chunks, node.grid.axis(axis)));
    if !consistent {
        let texts = |axes: Vec<String>| format!("[{}]", axes.join(", "));
        return Err(format!(
            "output chunks {} do not follow from reducing {:?} of data chunked {} (keepdims {}): \
             expected {}",
            texts(node.grid.axis_texts()),
            r.reduced,
            texts(r.in_grid.axis_texts()),
            r.keepdims,
            texts(expected.iter().map(AxisChunks::text).collect())
        ));
    }
    Ok(())
}

/// The most output blocks of a blockwise node whose dependencies [`check`] asks for.
const SAMPLED_BLOCKS: usize = 64;

/// Output blocks to check in a grid of `nblocks` blocks per axis: all of them when there
/// are at most [`SAMPLED_BLOCKS`]; else the corners (first or last block along each axis)
/// when there are few enough of them, else the first block, the last block and the blocks
/// last along one axis and first along the others. None for an empty grid.
fn sample_blocks(nblocks: &[usize]) -> Vec<Vec<usize>> {
    if nblocks.contains(&0) {
        return Vec::new();
    }
    let total = nblocks
        .iter()
        .try_fold(1usize, |n, &b| n.checked_mul(b))
        .unwrap_or(usize::MAX);
    if total <= SAMPLED_BLOCKS {
        let ranges: Vec<std::ops::Range<usize>> = nblocks.iter().map(|&n| 0..n).collect();
        return crate::chunks::box_indices(&ranges).collect();
    }
    let last: Vec<usize> = nblocks.iter().map(|&n| n - 1).collect();
    if nblocks.len() <= SAMPLED_BLOCKS.ilog2() as usize {
        let ranges: Vec<std::ops::Range<usize>> = nblocks.iter().map(|_| 0..2).collect();
        return crate::chunks::box_indices(&ranges)
            .map(|corner| corner.iter().zip(&last).map(|(&c, &l)| c * l).collect())
            .collect();
    }
    let mut blocks = vec![vec![0; nblocks.len()], last.clone()];
    for (axis, &l) in last.iter().enumerate() {
        let mut block = vec![0; nblocks.len()];
        block[axis] = l;
        blocks.push(block);
    }
    blocks
}

/// The checks of a blockwise node (see [`check`]).
fn check_blockwise(node: &Node, b: &Blockwise) -> Result<(), String> {
    for block in sample_blocks(&node.grid.nblocks()) {
        for (i, dep) in b.map.deps(&block) {
            let Some(input) = b.inputs.get(i) else {
                return Err(format!(
                    "block {block:?} reads input {i}, but the node has {} input(s)",
                    b.inputs.len()
                ));
            };
            let grid = input.grid.nblocks();
            if dep.len() != grid.len() {
                return Err(format!(
                    "block {block:?} reads block {dep:?} of input {i}, which has {} axes",
                    grid.len()
                ));
            }
            if dep.iter().zip(&grid).any(|(&d, &n)| d >= n) {
                return Err(format!(
                    "block {block:?} reads block {dep:?} of input {i}, outside its grid of \
                     {grid:?} blocks"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunks::View;
    use crate::graph::Elemwise;
    use crate::tile::{BlockMap, TileMemory, Value};
    use chunkwise_kernels::strip::Program;

    /// A block map that reads, for output block `b`, block `b + shift` of input `input`
    /// (with `ndim` axes given).
    #[derive(Debug)]
    struct Reads {
        input: usize,
        shift: Vec<usize>,
        ndim: usize,
    }

    impl BlockMap for Reads {
        fn name(&self) -> String {
            "reads".into()
        }
        fn deps(&self, block: &[usize]) -> Vec<(usize, Vec<usize>)> {
            let dep = (0..self.ndim).map(|a| block[a] + self.shift[a]).collect();
            vec![(self.input, dep)]
        }
        fn run(&self, _: &[usize], _: &[usize], inputs: &[&Value]) -> crate::error::Result<Value> {
            Ok(inputs[0].clone())
        }
        fn memory(&self, _: &[usize], _: &[usize]) -> TileMemory {
            TileMemory::default()
        }
    }

    fn data(shape: (usize, usize), chunks: [usize; 2]) -> Arc<Node> {
        let dense = ndarray::Array2::<f64>::zeros(shape);
        crate::from_ndarray(&dense, chunks).unwrap().node.clone()
    }

    fn blockwise(x: &Arc<Node>, map: Reads) -> Arc<Node> {
        let kind = NodeKind::Blockwise(Blockwise {
            inputs: vec![x.clone()],
            map: Arc::new(map),
        });
        Node::new(kind, x.grid.clone(), x.dtype)
    }

    fn problem(node: Arc<Node>) -> String {
        check(&[node]).expect_err("the graph is broken")
    }

    #[test]
    fn blockwise_dependencies_outside_the_inputs_are_named() {
        let x = data((4, 6), [2, 3]);
        let reads = |input, shift: Vec<usize>, ndim| Reads { input, shift, ndim };
        assert_eq!(check(&[blockwise(&x, reads(0, vec![0, 0], 2))]), Ok(()));
        let text = problem(blockwise(&x, reads(0, vec![0, 1], 2)));
        assert!(text.contains("(Blockwise reads)"), "{text}");
        assert!(
            text.contains(
                "block [0, 1] reads block [0, 2] of input 0, outside its grid of [2, 2] blocks"
            ),
            "{text}"
        );
        let text = problem(blockwise(&x, reads(1, vec![0, 0], 2)));
        assert!(
            text.contains("block [0, 0] reads input 1, but the node has 1 input(s)"),
            "{text}"
        );
        let text = problem(blockwise(&x, reads(0, vec![0], 1)));
        assert!(
            text.contains("reads block [0] of input 0, which has 2 axes"),
            "{text}"
        );
    }

    #[test]
    fn a_large_grid_is_checked_at_its_corners() {
        // 100 x 100 blocks: only the last row of blocks reads past the input.
        let x = data((200, 200), [2, 2]);
        let text = problem(blockwise(
            &x,
            Reads {
                input: 0,
                shift: vec![1, 0],
                ndim: 2,
            },
        ));
        assert!(
            text.contains("block [99, 0] reads block [100, 0]"),
            "{text}"
        );
        assert_eq!(sample_blocks(&[100, 100]).len(), 4);
        assert_eq!(sample_blocks(&[3, 3]).len(), 9);
        assert_eq!(sample_blocks(&[2; 10]).len(), 12);
        assert!(sample_blocks(&[2; 10]).contains(&vec![1; 10]));
        assert!(sample_blocks(&[4, 0]).is_empty());
    }

    #[test]
    fn programs_of_the_wrong_dtype_or_rank_are_named() {
        let x = data((4, 6), [2, 3]);
        let elemwise = |inputs: Vec<ElemInput>, program: Program, grid: &ChunkGrid, dtype| {
            let kind = NodeKind::Elemwise(Elemwise { inputs, program });
            Node::new(kind, grid.clone(), dtype)
        };
        let aligned = || vec![ElemInput::aligned(x.clone())];
        // Reads f32 from an f64 input.
        let text = problem(elemwise(
            aligned(),
            Program::identity(DType::F32),
            &x.grid,
            DType::F32,
        ));
        assert!(
            text.contains("input 0 is float64 but the program reads float32"),
            "{text}"
        );
        // Gives f64 for an f32 node.
        let text = problem(elemwise(
            aligned(),
            Program::identity(DType::F64),
            &x.grid,
            DType::F32,
        ));
        assert!(
            text.contains("program gives float64 for a float32 node"),
            "{text}"
        );
        // A 1-d input of a 2-d node.
        let row = crate::arange::<f64>(0.0, 6.0, 1.0, [3])
            .unwrap()
            .node
            .clone();
        let text = problem(elemwise(
            vec![ElemInput::aligned(row)],
            Program::identity(DType::F64),
            &x.grid,
            DType::F64,
        ));
        assert!(
            text.contains("input 0 is viewed as [6] for data of [4, 6]"),
            "{text}"
        );
        // A view reading past the end of its input.
        let past_end = ElemInput {
            node: x.clone(),
            view: View {
                shape: vec![4, 6],
                source: vec![
                    SourceAxis::Mapped {
                        axis: 0,
                        start: 2,
                        step: 1,
                    },
                    SourceAxis::Fixed(0),
                ],
            },
        };
        let text = problem(elemwise(
            vec![past_end],
            Program::identity(DType::F64),
            &x.grid,
            DType::F64,
        ));
        assert!(
            text.contains("input 0 reads indices 2..=5 of axis 0 of length 4"),
            "{text}"
        );
        // A generator of f64 values on an f32 node.
        let fill = Arc::new(crate::ops::generators::Fill(1.0f64));
        let text = problem(Node::new(
            NodeKind::Source(Source::Generator(fill)),
            x.grid.clone(),
            DType::F32,
        ));
        assert!(
            text.contains("generator gives float64 for a float32 node"),
            "{text}"
        );
    }

    #[test]
    fn reductions_whose_grids_or_dtypes_disagree_are_named() {
        let x = crate::Array::<f64>::from_node(data((4, 6), [2, 3]));
        let sum = x.sum_axis(0).node.clone();
        let NodeKind::Reduce(r) = &sum.kind else {
            panic!("a reduction")
        };
        assert_eq!(check(std::slice::from_ref(&sum)), Ok(()));
        let rebuilt = |r: Reduce, grid: &ChunkGrid, dtype| {
            Node::new(NodeKind::Reduce(r), grid.clone(), dtype)
        };
        // keepdims without the kept axis in the output grid.
        let keep = Reduce {
            keepdims: true,
            ..r.clone()
        };
        let text = problem(rebuilt(keep, &sum.grid, sum.dtype));
        assert!(text.contains("do not follow from reducing"), "{text}");
        // The data's shape is not the input's view's.
        let other = Reduce {
            in_grid: ChunkGrid::regular(&[5, 6], &[2, 3]).unwrap(),
            ..r.clone()
        };
        let text = problem(rebuilt(other, &sum.grid, sum.dtype));
        assert!(text.contains("input 0 is viewed as [4, 6]"), "{text}");
        // An f32 node for an f64 sum.
        let text = problem(rebuilt(r.clone(), &sum.grid, DType::F32));
        assert!(
            text.contains("the reducer gives float64 for a float32 node"),
            "{text}"
        );
    }

    #[test]
    fn graphs_the_operations_build_are_valid_after_every_pass() {
        let a = crate::random::uniform::<f64>(3, 0.0, 1.0, &[9, 8], [4, 3]).unwrap();
        let b = crate::arange::<f64>(0.0, 8.0, 1.0, [5]).unwrap();
        let sliced = a.slice(ndarray::s![1..8;2, ..]).unwrap();
        let roots = [
            (&a + &b)
                .sin()
                .sum_with(&crate::Reduction::axis(0).keepdims(true)),
            (&a - &a.mean_axis(0)).std_axis(0, 1.0),
            a.transpose().rechunk([3, 5]).unwrap().max_axis(1),
            &sliced * 2.0,
            (&a * 2.0).transpose().matmul(&a).unwrap(),
        ];
        let nodes: Vec<Arc<Node>> = roots.iter().map(|r| r.node.clone()).collect();
        // A budget of one byte makes every contraction chain one step per link.
        for (fuse, budget) in [(false, u64::MAX), (true, u64::MAX), (true, 1)] {
            crate::optimize::optimize(&nodes, fuse, budget, 2).unwrap();
        }
        assert_eq!(check(&nodes), Ok(()));
    }
}

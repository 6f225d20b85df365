//! The tile stages of a contraction (see `linalg::contract`): how an operand's
//! tile is read by GEMM, the chains of links that accumulate each output tile, the upper
//! triangle and its mirror for `x @ x.T`, and the per-step partial products of a small
//! result, summed as a reduction tree.

use std::sync::Arc;

use chunkwise_kernels::dtype::FloatElement;
use chunkwise_kernels::linalg::{Op, gemm, mirror_upper, syrk, transpose_into};
use ndarray::{ArrayD, IxDyn};

use super::contract::LINK_INPUT_BYTES;
use super::stage::{array_part, blockwise, tile_of};
use crate::array::{Array, Reduction};
use crate::chunks::ChunkGrid;
use crate::graph::Node;
use crate::ops::blockwise::Role;
use crate::tile::{TileMemory, Value};

/// How one operand's tile becomes a stack of matrices: which axes are batch, rows and
/// columns of `op(matrix)`, and whether the stored tile is read as is.
#[derive(Clone, Debug)]
pub(super) struct OperandLayout {
    /// The tile's axes in (batch, free, contracted) order for `a`, (batch, contracted,
    /// free) for `b`: the order of the matrices `gemm` reads.
    order: Vec<usize>,
    /// The stored order is `order` itself (no copy, `Op::Plain`), or `order` with its two
    /// matrix groups swapped (no copy, `Op::Transposed`); otherwise the tile is copied
    /// into `order`.
    op: Option<Op>,
}

impl OperandLayout {
    /// `groups`: the axes of (batch, first matrix group, second matrix group).
    pub(super) fn new(groups: [Vec<usize>; 3]) -> OperandLayout {
        let [batch, first, second] = groups;
        let order: Vec<usize> = batch.iter().chain(&first).chain(&second).copied().collect();
        let swapped: Vec<usize> = batch.iter().chain(&second).chain(&first).copied().collect();
        let stored: Vec<usize> = (0..order.len()).collect();
        let op = if order == stored {
            Some(Op::Plain)
        } else if swapped == stored {
            Some(Op::Transposed)
        } else {
            None
        };
        OperandLayout { order, op }
    }

    /// The tile's elements in an order `gemm` reads with the returned `Op`.
    fn elements<'a, T: FloatElement>(
        &self,
        tile: &'a ArrayD<T>,
    ) -> (std::borrow::Cow<'a, [T]>, Op) {
        match self.op {
            Some(op) => (tile.as_slice().expect("C-order tiles").into(), op),
            None => {
                let permuted = tile.view().permuted_axes(IxDyn(&self.order));
                let owned: Vec<T> = permuted.as_standard_layout().iter().copied().collect();
                (owned.into(), Op::Plain)
            }
        }
    }
}

/// The operands of a contraction as its tasks read them.
#[derive(Debug)]
pub(super) struct Operands {
    /// The operands on the tiles the contraction reads (one node for `x @ x.T`).
    pub(super) a: Arc<Node>,
    pub(super) b: Arc<Node>,
    pub(super) layout_a: OperandLayout,
    pub(super) layout_b: OperandLayout,
    /// Per operand axis: where its block index comes from.
    pub(super) source_a: Vec<BlockSource>,
    pub(super) source_b: Vec<BlockSource>,
    pub(super) dims: Dims,
    /// The result is symmetric (`x @ x.T`): its diagonal tiles by `syrk`.
    pub(super) symmetric: bool,
    /// Every combination of blocks of the contracted axes.
    pub(super) k_blocks: Vec<Vec<usize>>,
}

impl Operands {
    /// Bytes of the largest operand tiles of one contracted step.
    pub(super) fn pair_bytes<T>(&self) -> usize {
        (self.a.grid.max_tile_len() + self.b.grid.max_tile_len()) * size_of::<T>()
    }

    /// Scratch of a task: operand tiles in an order BLAS cannot read directly are copied.
    fn copy_bytes<T>(&self) -> u64 {
        let copies = match (self.layout_a.op, self.layout_b.op) {
            (Some(_), Some(_)) => 0,
            (None, Some(_)) => self.a.grid.max_tile_len(),
            (Some(_), None) => self.b.grid.max_tile_len(),
            (None, None) => self.a.grid.max_tile_len() + self.b.grid.max_tile_len(),
        };
        (copies * size_of::<T>()) as u64
    }

    /// The tiles (input 0: `a`, input 1: `b`) that output `block` reads for the contracted
    /// steps `ks`, in pairs.
    fn deps(&self, block: &[usize], ks: &[Vec<usize>]) -> Vec<(usize, Vec<usize>)> {
        ks.iter()
            .flat_map(|k| {
                [
                    (0, block_of(&self.source_a, block, k)),
                    (1, block_of(&self.source_b, block, k)),
                ]
            })
            .collect()
    }

    /// Whether output `block` is a diagonal tile of a symmetric result.
    fn diagonal(&self, block: &[usize]) -> bool {
        self.symmetric && block[0] == block[1]
    }
}

/// The result tiles as chains: each output tile sums its contracted steps in links of at
/// most [`LINK_INPUT_BYTES`] of operand tiles, each link accumulating into the previous
/// link's tile. Of a symmetric result only the upper triangle of tiles is ever asked for.
pub(super) fn chain<T: FloatElement>(operands: Arc<Operands>, grid: &ChunkGrid) -> Arc<Node> {
    let per_link = (LINK_INPUT_BYTES / operands.pair_bytes::<T>().max(1)).max(1);
    let links: Vec<Vec<Vec<usize>>> = if operands.k_blocks.is_empty() {
        vec![Vec::new()]
    } else {
        operands
            .k_blocks
            .chunks(per_link)
            .map(<[_]>::to_vec)
            .collect()
    };
    let mut previous: Option<Arc<Node>> = None;
    for link in links {
        let mut inputs = vec![operands.a.clone(), operands.b.clone()];
        inputs.extend(previous.clone());
        let has_previous = previous.is_some();
        let name = format!(
            "contract[{} of {} k-tiles]",
            link.len(),
            operands.k_blocks.len().max(1)
        );
        let (deps_of, run_of) = (operands.clone(), operands.clone());
        let link = Arc::new(link);
        let deps_link = link.clone();
        let stage = blockwise(name, grid.clone(), T::DTYPE, inputs)
            .scratch({
                let bytes = operands.copy_bytes::<T>();
                move |_| bytes
            })
            .run(
                move |block| {
                    let mut deps = Vec::new();
                    if has_previous {
                        deps.push((2, block.to_vec()));
                    }
                    deps.extend(deps_of.deps(block, &deps_link));
                    deps
                },
                move |b, tiles| {
                    let (start, pairs) = match has_previous {
                        true => (Some(tiles[0]), &tiles[1..]),
                        false => (None, tiles),
                    };
                    let diagonal = run_of.diagonal(b.index);
                    let out = accumulate::<T>(start, pairs, b.shape, &run_of, diagonal);
                    Ok(tile_of(out, b.shape))
                },
            );
        previous = Some(stage);
    }
    previous.expect("at least one link")
}

/// A symmetric result from its upper triangle of tiles `upper`: tile `(i, j)` below the
/// diagonal is the transpose of tile `(j, i)` (a blocked copy, not a product).
pub(super) fn mirrored<T: FloatElement>(upper: &Arc<Node>) -> Arc<Node> {
    let size = size_of::<T>() as u64;
    blockwise(
        "mirror upper tiles",
        upper.grid.clone(),
        T::DTYPE,
        vec![upper.clone()],
    )
    // A tile of the upper triangle exists already, but the executor counts it as this
    // task's too.
    .memory(move |block| TileMemory {
        output: block.len() as u64 * size,
        scratch: 0,
    })
    .run(
        |block| vec![(0, vec![block[0].min(block[1]), block[0].max(block[1])])],
        |block, tiles| {
            let [i, j] = block.index else {
                unreachable!("a symmetric result is a matrix")
            };
            if i <= j {
                return Ok(tiles[0].clone());
            }
            let source = array_part::<T>(tiles[0], 0);
            let (rows, cols) = (source.shape()[0], source.shape()[1]);
            let mut out = vec![T::ZERO; rows * cols];
            transpose_into(source.as_slice().expect("C order"), rows, cols, &mut out);
            Ok(tile_of(out, block.shape))
        },
    )
}

/// A result of one tile, small beside the operand tiles it reads (`x.T @ x` for a tall
/// `x`): one task per contracted step computes that step's product (a node of
/// [`Role::Partials`], axis 0 the steps), and a reduction sums them as a tree. Each task
/// reads the operand tiles of its step only, so several such products of the same tiles
/// (`x.T @ x` and `x.T @ y`) can share one task and one read (`merge-partials`).
pub(super) fn partial_sums<T: FloatElement>(
    operands: Arc<Operands>,
    grid: &ChunkGrid,
) -> Arc<Node> {
    let steps = operands.k_blocks.len();
    let out_shape = grid.shape();
    let partials = ChunkGrid::from_valid(
        std::iter::once(vec![1; steps])
            .chain(out_shape.iter().map(|&n| vec![n]))
            .collect(),
    );
    let ndim = out_shape.len();
    let (deps_of, run_of) = (operands.clone(), operands.clone());
    let node = blockwise(
        format!("contract partials[{steps} k-tiles]"),
        partials,
        T::DTYPE,
        vec![operands.a.clone(), operands.b.clone()],
    )
    .role(Role::Partials)
    .scratch({
        let bytes = operands.copy_bytes::<T>();
        move |_| bytes
    })
    .run(
        move |block| {
            let k = std::slice::from_ref(&deps_of.k_blocks[block[0]]);
            deps_of.deps(&vec![0; ndim], k)
        },
        move |b, tiles| {
            let diagonal = run_of.diagonal(&vec![0; ndim]);
            let out = accumulate::<T>(None, tiles, &b.shape[1..], &run_of, diagonal);
            Ok(tile_of(out, b.shape))
        },
    );
    Array::<T>::from_node(node)
        .sum_with(&Reduction::axes([0]))
        .node
}

/// Where an operand axis takes its block index from, for an output block and a contracted
/// block combination.
#[derive(Clone, Copy, Debug)]
pub(super) enum BlockSource {
    Output(usize),
    Contracted(usize),
}

fn block_of(sources: &[BlockSource], out: &[usize], k: &[usize]) -> Vec<usize> {
    sources
        .iter()
        .map(|s| match *s {
            BlockSource::Output(o) => out[o],
            BlockSource::Contracted(c) => k[c],
        })
        .collect()
}

/// Numbers of batch, free-a and free-b axes (the canonical output order).
#[derive(Clone, Copy, Debug)]
pub(super) struct Dims {
    pub(super) batch: usize,
    pub(super) free_a: usize,
    pub(super) free_b: usize,
}

/// `start + sum over pairs of a @ b`, per batch element, for an output tile of `shape`
/// (canonical order). A `diagonal` tile of a symmetric result takes `syrk` (both tiles of
/// each pair are one tile), its lower triangle copied from the upper one.
fn accumulate<T: FloatElement>(
    start: Option<&Value>,
    pairs: &[&Value],
    shape: &[usize],
    operands: &Operands,
    diagonal: bool,
) -> Vec<T> {
    let mut out = match start {
        Some(tile) => array_part::<T>(tile, 0)
            .as_slice()
            .expect("C order")
            .to_vec(),
        None => vec![T::ZERO; shape.iter().product()],
    };
    let dims = operands.dims;
    let batch: usize = shape[..dims.batch].iter().product();
    let m: usize = shape[dims.batch..dims.batch + dims.free_a].iter().product();
    let n: usize = shape[dims.batch + dims.free_a..dims.batch + dims.free_a + dims.free_b]
        .iter()
        .product();
    for pair in pairs.chunks(2) {
        let (a, b) = (array_part::<T>(pair[0], 0), array_part::<T>(pair[1], 0));
        let k = a.len().checked_div(m * batch).unwrap_or(0);
        let (a_data, op_a) = operands.layout_a.elements(a);
        if diagonal {
            syrk(op_a, m, k, T::ONE, &a_data, T::ONE, &mut out);
            continue;
        }
        let (b_data, op_b) = operands.layout_b.elements(b);
        for e in 0..batch {
            gemm(
                op_a,
                op_b,
                m,
                n,
                k,
                T::ONE,
                &a_data[e * m * k..(e + 1) * m * k],
                &b_data[e * k * n..(e + 1) * k * n],
                T::ONE,
                &mut out[e * m * n..(e + 1) * m * n],
            );
        }
    }
    if diagonal {
        mirror_upper(&mut out, m);
    }
    out
}

//! The tile stages of a contraction (see `linalg::contract`): the chains of links that accumulate each output tile, the upper
//! triangle and its mirror for `x @ x.T`, and the per-step partial products of a small
//! result, summed as a reduction tree.

use std::sync::Arc;

use chunkwise_kernels::dtype::FloatElement;
use chunkwise_kernels::linalg::{gemm_strided, mirror_upper, syrk_strided, transpose_into};

use super::contract::LINK_INPUT_BYTES;
use super::operand::OperandTiles;
use super::stage::{array_part, blockwise, tile_of};
use crate::array::{Array, Reduction};
use crate::chunks::ChunkGrid;
use crate::graph::Node;
use crate::ops::blockwise::{Chain, Role};
use crate::tile::{TileMemory, Value};

/// The operands of a contraction as its tasks read them.
#[derive(Debug)]
pub(super) struct Operands {
    /// Where the blocks of `a` and `b` are read (one node for `x @ x.T`).
    pub(super) a: OperandTiles,
    pub(super) b: OperandTiles,
    /// Per operand axis (in its window node's order): where its block index comes from.
    pub(super) source_a: Vec<BlockSource>,
    pub(super) source_b: Vec<BlockSource>,
    pub(super) dims: Dims,
    /// The result is symmetric (`x @ x.T`): its diagonal tiles by `syrk`.
    pub(super) symmetric: bool,
    /// Every combination of blocks of the contracted axes.
    pub(super) k_blocks: Vec<Vec<usize>>,
}

impl Operands {
    /// The nodes whose tiles the tasks read (input 0: `a`, input 1: `b`).
    pub(super) fn inputs(&self) -> Vec<Arc<Node>> {
        vec![self.a.window.node.clone(), self.b.window.node.clone()]
    }

    /// Bytes of the largest operand tiles of one contracted step.
    pub(super) fn pair_bytes<T>(&self) -> usize {
        let tiles = self.a.window.node.grid.max_tile_len() + self.b.window.node.grid.max_tile_len();
        tiles * size_of::<T>()
    }

    /// Scratch of a task: operand blocks in an order BLAS cannot read in place are copied.
    fn copy_bytes<T>(&self) -> u64 {
        (self.a.copy_bytes::<T>() + self.b.copy_bytes::<T>()) as u64
    }

    /// The operand blocks of output `block` at the contracted step `k`.
    fn blocks(&self, block: &[usize], k: &[usize]) -> [Vec<usize>; 2] {
        [
            block_of(&self.source_a, block, k),
            block_of(&self.source_b, block, k),
        ]
    }

    /// The tiles (input 0: `a`, input 1: `b`) that output `block` reads for the contracted
    /// steps `ks`, in pairs.
    fn deps(&self, block: &[usize], ks: &[Vec<usize>]) -> Vec<(usize, Vec<usize>)> {
        ks.iter()
            .flat_map(|k| {
                let [a, b] = self.blocks(block, k);
                [(0, self.a.tile_of(&a)), (1, self.b.tile_of(&b))]
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
/// The last link can rebuild the chain with shorter links ([`Role::Chain`]), which the
/// `relink-contractions` pass does under a budget too small for these.
pub(super) fn chain<T: FloatElement>(operands: Arc<Operands>, grid: &ChunkGrid) -> Arc<Node> {
    let steps_per_link = (LINK_INPUT_BYTES / operands.pair_bytes::<T>().max(1)).max(1);
    let inputs = operands.inputs();
    chain_of_links::<T>(operands, grid, &inputs, steps_per_link)
}

/// The chain of [`chain`] in links of `steps_per_link` contracted steps, reading the
/// operands from `inputs` (`a`, then `b`: the operands' nodes or their rewrites).
fn chain_of_links<T: FloatElement>(
    operands: Arc<Operands>,
    grid: &ChunkGrid,
    inputs: &[Arc<Node>],
    steps_per_link: usize,
) -> Arc<Node> {
    let links: Vec<Vec<Vec<usize>>> = if operands.k_blocks.is_empty() {
        vec![Vec::new()]
    } else {
        operands
            .k_blocks
            .chunks(steps_per_link)
            .map(<[_]>::to_vec)
            .collect()
    };
    let count = links.len();
    let mut previous: Option<Arc<Node>> = None;
    for (i, link) in links.into_iter().enumerate() {
        let mut link_inputs = inputs[..2].to_vec();
        link_inputs.extend(previous.clone());
        let has_previous = previous.is_some();
        let name = format!(
            "contract[{} of {} k-tiles]",
            link.len(),
            operands.k_blocks.len().max(1)
        );
        let mut builder = blockwise(name, grid.clone(), T::DTYPE, link_inputs).scratch({
            let bytes = operands.copy_bytes::<T>();
            move |_| bytes
        });
        if i + 1 == count {
            let (operands, grid) = (operands.clone(), grid.clone());
            builder = builder.role(Role::Chain(Chain {
                step_bytes: operands.pair_bytes::<T>() as u64,
                steps_per_link,
                rebuild: Arc::new(move |inputs, steps| {
                    chain_of_links::<T>(operands.clone(), &grid, inputs, steps)
                }),
            }));
        }
        let (deps_of, run_of) = (operands.clone(), operands.clone());
        let link = Arc::new(link);
        let deps_link = link.clone();
        let stage = builder.run(
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
                let out = accumulate::<T>(start, pairs, b.index, &link, b.shape, &run_of);
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
        operands.inputs(),
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
            let k = std::slice::from_ref(&run_of.k_blocks[b.index[0]]);
            let out = accumulate::<T>(None, tiles, &vec![0; ndim], k, &b.shape[1..], &run_of);
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

/// `start + sum over the contracted steps ks of a @ b`, per batch element, for output tile
/// `block` of `shape` (canonical order); `pairs` holds the source tiles of `a` and `b` of
/// each step. Each operand block is read in place (see `linalg::operand`). A diagonal tile
/// of a symmetric result takes `syrk` (both blocks of each step are one block), its lower
/// triangle copied from the upper one.
fn accumulate<T: FloatElement>(
    start: Option<&Value>,
    pairs: &[&Value],
    block: &[usize],
    ks: &[Vec<usize>],
    shape: &[usize],
    operands: &Operands,
) -> Vec<T> {
    let mut out = match start {
        Some(tile) => array_part::<T>(tile, 0)
            .as_slice()
            .expect("C order")
            .to_vec(),
        None => vec![T::ZERO; shape.iter().product()],
    };
    let diagonal = operands.diagonal(block);
    let dims = operands.dims;
    let batch: usize = shape[..dims.batch].iter().product();
    let m: usize = shape[dims.batch..dims.batch + dims.free_a].iter().product();
    let n: usize = shape[dims.batch + dims.free_a..dims.batch + dims.free_a + dims.free_b]
        .iter()
        .product();
    for (k, pair) in ks.iter().zip(pairs.chunks(2)) {
        let [block_a, block_b] = operands.blocks(block, k);
        let a = operands.a.matrices(array_part::<T>(pair[0], 0), &block_a);
        let depth: usize = operands
            .a
            .grid
            .block_shape(&block_a)
            .iter()
            .product::<usize>();
        let depth = depth.checked_div(m * batch).unwrap_or(0);
        if diagonal {
            syrk_strided(m, depth, T::ONE, a.get(0), T::ONE, &mut out);
            continue;
        }
        let b = operands.b.matrices(array_part::<T>(pair[1], 0), &block_b);
        for (e, c) in out.chunks_mut((m * n).max(1)).take(batch).enumerate() {
            gemm_strided(m, n, depth, T::ONE, a.get(e), b.get(e), T::ONE, c, n);
        }
    }
    if diagonal {
        mirror_upper(&mut out, m);
    }
    out
}

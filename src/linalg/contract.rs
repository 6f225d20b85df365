//! Two-operand tensor contractions, the one kernel behind `matmul` (batched), `tensordot`
//! and `einsum`.
//!
//! Every axis is named by a letter. Letters of both operands that the output keeps are
//! *batch* axes, letters of both that it drops are *contracted*; the others are *free*
//! (kept from one operand) or summed away beforehand. Each output tile is the sum over the
//! contracted tiles of GEMMs (one per batch element) accumulated into one buffer, with
//! BLAS `beta = 1`: the partial products are never materialised. The contracted tiles are
//! split into a chain of links whose inputs hold at most [`LINK_INPUT_BYTES`], each link
//! accumulating into the previous link's tile, so a task's memory is bounded whatever the
//! contracted length.

use std::sync::Arc;

use chunkwise_kernels::dtype::FloatElement;
use chunkwise_kernels::linalg::{Op, gemm};
use ndarray::{ArrayD, IxDyn};

use super::stage::{array_part, blockwise, tile_of};
use crate::array::{Array, Reduction};
use crate::chunks::{ChunkGrid, box_indices, refine};
use crate::error::{BuildError, Error, Result};
use crate::ops::rechunk::rechunk;
use crate::tile::Value;

/// The most bytes of operand tiles one link of a contraction chain reads.
pub const LINK_INPUT_BYTES: usize = 256 << 20;

/// A contraction: the letters naming the axes of each operand and of the output.
#[derive(Clone, Debug)]
pub(super) struct Spec {
    pub(super) a: Vec<char>,
    pub(super) b: Vec<char>,
    pub(super) out: Vec<char>,
}

/// The contraction `spec` of `a` and `b`. With `broadcast`, a batch axis of length 1 in
/// one operand stretches to the other's length (NumPy's `matmul`); otherwise shared
/// letters must have equal lengths.
pub(super) fn contract<T: FloatElement>(
    op: &str,
    a: &Array<T>,
    b: &Array<T>,
    spec: &Spec,
    broadcast: bool,
) -> Result<Array<T>> {
    let invalid = |reason: String| {
        Error::Build(BuildError::InvalidArgument {
            op: op.into(),
            reason,
        })
    };
    for (name, letters, ndim) in [
        ("first operand", &spec.a, a.ndim()),
        ("second operand", &spec.b, b.ndim()),
    ] {
        if letters.len() != ndim {
            return Err(invalid(format!(
                "{} letters for the {name}, which has {ndim} axes",
                letters.len()
            )));
        }
    }
    for (name, letters) in [
        ("first operand", &spec.a),
        ("second operand", &spec.b),
        ("output", &spec.out),
    ] {
        if let Some(c) = repeated(letters) {
            return Err(invalid(format!(
                "letter '{c}' repeats in the {name} (diagonals are not supported)"
            )));
        }
    }
    if let Some(c) = spec
        .out
        .iter()
        .find(|c| !spec.a.contains(c) && !spec.b.contains(c))
    {
        return Err(invalid(format!(
            "output letter '{c}' names no operand axis"
        )));
    }
    // Lengths of shared letters; a length-1 batch axis is dropped to broadcast.
    let (mut a, mut b, mut spec) = (a.clone(), b.clone(), spec.clone());
    let (a_shape, b_shape) = (a.shape(), b.shape());
    let mut drop_a = Vec::new();
    let mut drop_b = Vec::new();
    for (i, c) in spec.a.iter().enumerate() {
        if let Some(j) = spec.b.iter().position(|d| d == c) {
            let (la, lb) = (a_shape[i], b_shape[j]);
            if la == lb {
                continue;
            }
            let batch = spec.out.contains(c);
            if broadcast && batch && la == 1 {
                drop_a.push(i);
            } else if broadcast && batch && lb == 1 {
                drop_b.push(j);
            } else {
                return Err(Error::Build(BuildError::ShapeMismatch {
                    op: format!("{op} (axis '{c}')"),
                    expected: vec![la],
                    found: vec![lb],
                }));
            }
        }
    }
    (a, spec.a) = without_axes(&a, &spec.a, &drop_a)?;
    (b, spec.b) = without_axes(&b, &spec.b, &drop_b)?;
    // Letters of one operand that the output drops are summed first.
    (a, spec.a) = sum_unshared(&a, &spec.a, &spec.b, &spec.out)?;
    (b, spec.b) = sum_unshared(&b, &spec.b, &spec.a, &spec.out)?;
    Ok(Array::from_node(contract_nodes::<T>(&a, &b, &spec)))
}

fn repeated(letters: &[char]) -> Option<char> {
    letters
        .iter()
        .enumerate()
        .find(|(i, c)| letters[..*i].contains(c))
        .map(|(_, c)| *c)
}

/// `x` without the (length-1) axes `drop`, and its letters.
fn without_axes<T: FloatElement>(
    x: &Array<T>,
    letters: &[char],
    drop: &[usize],
) -> Result<(Array<T>, Vec<char>)> {
    if drop.is_empty() {
        return Ok((x.clone(), letters.to_vec()));
    }
    let axes: Vec<isize> = drop.iter().map(|&a| a as isize).collect();
    let kept = (0..letters.len())
        .filter(|a| !drop.contains(a))
        .map(|a| letters[a])
        .collect();
    Ok((x.squeeze(Some(&axes))?, kept))
}

/// `x` summed over its letters that neither `other` nor `out` has.
fn sum_unshared<T: FloatElement>(
    x: &Array<T>,
    letters: &[char],
    other: &[char],
    out: &[char],
) -> Result<(Array<T>, Vec<char>)> {
    let summed: Vec<isize> = (0..letters.len())
        .filter(|&i| !other.contains(&letters[i]) && !out.contains(&letters[i]))
        .map(|i| i as isize)
        .collect();
    if summed.is_empty() {
        return Ok((x.clone(), letters.to_vec()));
    }
    let kept = (0..letters.len())
        .filter(|&i| !summed.contains(&(i as isize)))
        .map(|i| letters[i])
        .collect();
    Ok((x.sum_with(&Reduction::axes(&summed)), kept))
}

/// How one operand's tile becomes a stack of matrices: which axes are batch, rows and
/// columns of `op(matrix)`, and whether the stored tile is read as is.
#[derive(Clone, Debug)]
struct OperandLayout {
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
    fn new(groups: [Vec<usize>; 3]) -> OperandLayout {
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

/// The contraction after broadcasting and pre-summing: every letter of `a` and `b` is
/// batch, free or contracted.
fn contract_nodes<T: FloatElement>(
    a: &Array<T>,
    b: &Array<T>,
    spec: &Spec,
) -> Arc<crate::graph::Node> {
    let pos = |letters: &[char], c: char| letters.iter().position(|&d| d == c);
    let batch: Vec<char> = spec
        .out
        .iter()
        .copied()
        .filter(|c| spec.a.contains(c) && spec.b.contains(c))
        .collect();
    let free_a: Vec<char> = spec
        .out
        .iter()
        .copied()
        .filter(|c| spec.a.contains(c) && !spec.b.contains(c))
        .collect();
    let free_b: Vec<char> = spec
        .out
        .iter()
        .copied()
        .filter(|c| spec.b.contains(c) && !spec.a.contains(c))
        .collect();
    let contracted: Vec<char> = spec
        .a
        .iter()
        .copied()
        .filter(|c| spec.b.contains(c) && !spec.out.contains(c))
        .collect();

    // Shared letters get the common refinement of both operands' tiles.
    let (ca, cb) = (a.node.grid.chunks(), b.node.grid.chunks());
    let chunks_of = |c: char| -> Vec<usize> {
        match (pos(&spec.a, c), pos(&spec.b, c)) {
            (Some(i), Some(j)) => refine(&ca[i], &cb[j]),
            (Some(i), None) => ca[i].clone(),
            (None, Some(j)) => cb[j].clone(),
            (None, None) => unreachable!("every letter names an axis"),
        }
    };
    let a_node = rechunk(
        &a.node,
        ChunkGrid::from_valid(spec.a.iter().map(|&c| chunks_of(c)).collect()),
    );
    let b_node = rechunk(
        &b.node,
        ChunkGrid::from_valid(spec.b.iter().map(|&c| chunks_of(c)).collect()),
    );

    // The output in canonical order (batch, free a, free b), permuted to `out` at the end.
    let canonical: Vec<char> = batch
        .iter()
        .chain(&free_a)
        .chain(&free_b)
        .copied()
        .collect();
    let grid = ChunkGrid::from_valid(canonical.iter().map(|&c| chunks_of(c)).collect());
    let axes_in = |letters: &[char], group: &[char]| -> Vec<usize> {
        group
            .iter()
            .map(|&c| pos(letters, c).expect("letter of this operand"))
            .collect()
    };
    let layout_a = OperandLayout::new([
        axes_in(&spec.a, &batch),
        axes_in(&spec.a, &free_a),
        axes_in(&spec.a, &contracted),
    ]);
    let layout_b = OperandLayout::new([
        axes_in(&spec.b, &batch),
        axes_in(&spec.b, &contracted),
        axes_in(&spec.b, &free_b),
    ]);
    // Per operand axis: where its block index comes from (an output axis or a contracted one).
    let source = |letters: &[char]| -> Vec<BlockSource> {
        letters
            .iter()
            .map(|c| match canonical.iter().position(|d| d == c) {
                Some(o) => BlockSource::Output(o),
                None => BlockSource::Contracted(
                    contracted.iter().position(|d| d == c).expect("contracted"),
                ),
            })
            .collect()
    };
    let (source_a, source_b) = (source(&spec.a), source(&spec.b));
    let contracted_blocks: Vec<usize> = contracted.iter().map(|&c| chunks_of(c).len()).collect();
    let ranges: Vec<std::ops::Range<usize>> = contracted_blocks.iter().map(|&n| 0..n).collect();
    let k_blocks: Vec<Vec<usize>> = box_indices(&ranges).collect();

    // Links of the chain: as many contracted tiles as fit LINK_INPUT_BYTES.
    let pair_bytes =
        (a_node.grid.max_tile_len() + b_node.grid.max_tile_len()) * std::mem::size_of::<T>();
    let per_link = (LINK_INPUT_BYTES / pair_bytes.max(1)).max(1);
    let group_lens = Dims {
        batch: batch.len(),
        free_a: free_a.len(),
        free_b: free_b.len(),
    };
    let mut previous: Option<Arc<crate::graph::Node>> = None;
    let links: Vec<Vec<Vec<usize>>> = if k_blocks.is_empty() {
        vec![Vec::new()]
    } else {
        k_blocks.chunks(per_link).map(<[_]>::to_vec).collect()
    };
    for link in links {
        let mut inputs = vec![a_node.clone(), b_node.clone()];
        inputs.extend(previous.clone());
        let (source_a, source_b) = (source_a.clone(), source_b.clone());
        let deps_link = link.clone();
        let has_previous = previous.is_some();
        let (layout_a, layout_b) = (layout_a.clone(), layout_b.clone());
        let name = format!(
            "contract[{} of {} k-tiles]",
            link.len(),
            k_blocks.len().max(1)
        );
        // Operand tiles in an order BLAS cannot read directly are copied.
        let copies = match (layout_a.op, layout_b.op) {
            (Some(_), Some(_)) => 0,
            (None, Some(_)) => a_node.grid.max_tile_len(),
            (Some(_), None) => b_node.grid.max_tile_len(),
            (None, None) => a_node.grid.max_tile_len() + b_node.grid.max_tile_len(),
        };
        let stage = blockwise(name, grid.clone(), T::DTYPE, inputs)
            .scratch(move |_| (copies * size_of::<T>()) as u64)
            .run(
                move |block| {
                    let mut deps = Vec::new();
                    if has_previous {
                        deps.push((2, block.to_vec()));
                    }
                    for k in &deps_link {
                        deps.push((0, block_of(&source_a, block, k)));
                        deps.push((1, block_of(&source_b, block, k)));
                    }
                    deps
                },
                move |b, tiles| {
                    let shape = b.shape;
                    let (start, pairs) = if has_previous {
                        (Some(tiles[0]), &tiles[1..])
                    } else {
                        (None, tiles)
                    };
                    Ok(accumulate::<T>(
                        start, pairs, shape, group_lens, &layout_a, &layout_b,
                    ))
                },
            );
        previous = Some(stage);
    }
    let result = previous.expect("at least one link");
    let to_out: Vec<isize> = spec
        .out
        .iter()
        .map(|c| {
            canonical
                .iter()
                .position(|d| d == c)
                .expect("output letter") as isize
        })
        .collect();
    crate::ops::layout::permute(&result, &to_out).expect("a permutation of the output axes")
}

/// Where an operand axis takes its block index from, for an output block and a contracted
/// block combination.
#[derive(Clone, Copy, Debug)]
enum BlockSource {
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
struct Dims {
    batch: usize,
    free_a: usize,
    free_b: usize,
}

/// `start + sum over pairs of a @ b`, per batch element, for an output tile of `shape`
/// (canonical order).
fn accumulate<T: FloatElement>(
    start: Option<&Value>,
    pairs: &[&Value],
    shape: &[usize],
    dims: Dims,
    layout_a: &OperandLayout,
    layout_b: &OperandLayout,
) -> Value {
    let mut out = match start {
        Some(tile) => array_part::<T>(tile, 0)
            .as_slice()
            .expect("C order")
            .to_vec(),
        None => vec![T::ZERO; shape.iter().product()],
    };
    let batch: usize = shape[..dims.batch].iter().product();
    let m: usize = shape[dims.batch..dims.batch + dims.free_a].iter().product();
    let n: usize = shape[dims.batch + dims.free_a..dims.batch + dims.free_a + dims.free_b]
        .iter()
        .product();
    for pair in pairs.chunks(2) {
        let (a, b) = (array_part::<T>(pair[0], 0), array_part::<T>(pair[1], 0));
        let k = a.len().checked_div(m * batch).unwrap_or(0);
        let (a_data, op_a) = layout_a.elements(a);
        let (b_data, op_b) = layout_b.elements(b);
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
    tile_of(out, shape)
}

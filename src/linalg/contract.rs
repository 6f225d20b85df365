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
//!
//! Operands are read as they are stored (see `operand`):
//! - a transposed operand (`x.T`, any axis permutation) is read untransposed, its tiles
//!   passed to GEMM with the transpose flag: no transposed copy exists;
//! - a windowed operand (`x[1:, 3:]`, a slice of a transpose, a tile-misaligned window) is
//!   read from its source's tiles through GEMM's leading dimension: no sliced copy exists,
//!   and no rechunk aligns the operands' tiles (the blocks of their common refinement are
//!   each read in place);
//! - `x @ x.T` and `x.T @ x` compute the upper triangle of tiles only, the diagonal tiles
//!   by `syrk` (half a GEMM's flops), the lower tiles as blocked transposes of the upper;
//! - a result of one tile much smaller than the tiles it reads (`x.T @ x` for a tall `x`)
//!   is one partial product per contracted step, summed as a reduction tree: products of
//!   the same tiles (`x.T @ x`, `x.T @ y`) then share one task per step, so each tile of
//!   `x` is read once (the `merge-partials` pass).

use std::sync::Arc;

use chunkwise_kernels::dtype::FloatElement;

use super::contract_stages::{BlockSource, Dims, Operands, chain, mirrored, partial_sums};
use super::operand::{OperandLayout, OperandTiles, Window};
use crate::array::{Array, Reduction};
use crate::chunks::{ChunkGrid, box_indices, refine};
use crate::error::{BuildError, Error, Result};
use crate::graph::Node;

/// The most bytes of operand tiles one link of a contraction chain reads (fewer under a
/// memory budget smaller than twice this per worker thread: the chains are then rebuilt
/// with shorter links when the graph is optimised).
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

/// The contraction after broadcasting and pre-summing: every letter of `a` and `b` is
/// batch, free or contracted.
fn contract_nodes<T: FloatElement>(a: &Array<T>, b: &Array<T>, spec: &Spec) -> Arc<Node> {
    // A view operand (transposed, windowed) is read from its source's tiles: its letters
    // follow the source's axes, and GEMM reads its blocks in place (see `operand`).
    let (wa, wb) = (Window::of(&a.node, &spec.a), Window::of(&b.node, &spec.b));
    let spec = Spec {
        a: wa.letters.clone(),
        b: wb.letters.clone(),
        out: spec.out.clone(),
    };
    let pos = |letters: &[char], c: char| letters.iter().position(|&d| d == c);
    let of = |letters: &[char], keep: &dyn Fn(&char) -> bool| -> Vec<char> {
        letters.iter().copied().filter(|c| keep(c)).collect()
    };
    let batch = of(&spec.out, &|c| spec.a.contains(c) && spec.b.contains(c));
    let free_a = of(&spec.out, &|c| spec.a.contains(c) && !spec.b.contains(c));
    let free_b = of(&spec.out, &|c| spec.b.contains(c) && !spec.a.contains(c));
    let contracted = of(&spec.a, &|c| spec.b.contains(c) && !spec.out.contains(c));
    // `x @ x.T` and `x.T @ x` (the same elements of one node on both sides, its free axis
    // the same axis): the result is symmetric, so only its upper triangle of tiles is
    // computed.
    let symmetric = wa.same_elements(&wb)
        && batch.is_empty()
        && free_a.len() == 1
        && free_b.len() == 1
        && spec
            .a
            .iter()
            .zip(&spec.b)
            .all(|(&x, &y)| x == y || (x == free_a[0] && y == free_b[0]));

    // Shared letters get the common refinement of both operands' chunks; every block of
    // it lies inside one tile of each operand's source, so nothing is rechunked.
    let chunks_of = |c: char| -> Vec<usize> {
        match (pos(&spec.a, c), pos(&spec.b, c)) {
            (Some(i), Some(j)) => refine(&wa.chunks[i], &wb.chunks[j]),
            (Some(i), None) => wa.chunks[i].clone(),
            (None, Some(j)) => wb.chunks[j].clone(),
            (None, None) => unreachable!("every letter names an axis"),
        }
    };
    let grid_of =
        |letters: &[char]| ChunkGrid::from_valid(letters.iter().map(|&c| chunks_of(c)).collect());

    // The output in canonical order (batch, free a, free b), permuted to `out` at the end.
    let canonical: Vec<char> = [&batch[..], &free_a, &free_b].concat();
    let grid = grid_of(&canonical);
    let axes_in = |letters: &[char], group: &[char]| -> Vec<usize> {
        group
            .iter()
            .map(|&c| pos(letters, c).expect("letter of this operand"))
            .collect()
    };
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
    let ranges: Vec<std::ops::Range<usize>> =
        contracted.iter().map(|&c| 0..chunks_of(c).len()).collect();
    let (grid_a, grid_b) = (grid_of(&spec.a), grid_of(&spec.b));
    let operands = Operands {
        a: OperandTiles {
            grid: grid_a,
            layout: OperandLayout::new([
                axes_in(&spec.a, &batch),
                axes_in(&spec.a, &free_a),
                axes_in(&spec.a, &contracted),
            ]),
            window: wa,
        },
        b: OperandTiles {
            grid: grid_b,
            layout: OperandLayout::new([
                axes_in(&spec.b, &batch),
                axes_in(&spec.b, &contracted),
                axes_in(&spec.b, &free_b),
            ]),
            window: wb,
        },
        source_a: source(&spec.a),
        source_b: source(&spec.b),
        dims: Dims {
            batch: batch.len(),
            free_a: free_a.len(),
            free_b: free_b.len(),
        },
        symmetric,
        k_blocks: box_indices(&ranges).collect(),
    };
    let pair_bytes = operands.pair_bytes::<T>();
    let out_bytes = grid.max_tile_len() * size_of::<T>();
    let small_output = grid.n_blocks() == 1 && grid.shape().iter().all(|&n| n > 0);
    let result = if small_output && operands.k_blocks.len() > 1 && 4 * out_bytes <= pair_bytes {
        partial_sums::<T>(Arc::new(operands), &grid)
    } else {
        let upper = chain::<T>(Arc::new(operands), &grid);
        match symmetric {
            true => mirrored::<T>(&upper),
            false => upper,
        }
    };
    let to_out: Vec<isize> = spec
        .out
        .iter()
        .map(|c| pos(&canonical, *c).expect("output letter") as isize)
        .collect();
    crate::ops::layout::permute(&result, &to_out).expect("a permutation of the output axes")
}

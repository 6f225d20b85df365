//! Tiled triangular solves: block forward (or back) substitution, one stage per block row
//! of the solution.

use std::sync::Arc;

use chunkwise_kernels::dtype::FloatElement;
use chunkwise_kernels::linalg::{Op, Triangular, gemm, solve_left};

use super::finite::{Region, checked};
use super::stage::{assemble, blockwise, matrix, tile_of, zero_tolerance};
use super::{largest_magnitude, square_size, with_rhs};
use crate::array::Array;
use crate::chunks::{ChunkGrid, refine};
use crate::error::{Error, LinalgError, Result};
use crate::graph::Node;
use crate::ops::rechunk::rechunk;

/// Solves `a @ x = b` for `x`, where `a` is triangular (`lower` or upper; the other
/// triangle is not read) and `b` a vector or matrix with as many rows as `a`.
///
/// Block substitution: the solution's block row `i` is `A[i][i]^-1 (B[i] - sum_j A[i][j]
/// X[j])` over the blocks `j` already solved, one task per block row and column tile of
/// `b`. A zero diagonal entry (to working precision) gives [`LinalgError::Singular`]; a
/// NaN or an infinity in the triangle of `a` or in `b` gives [`LinalgError::NotFinite`]
/// (the other triangle is not read).
///
/// ```
/// let l = chunkwise::from_ndarray(&ndarray::arr2(&[[2.0, 0.0], [1.0, 4.0]]), [1, 1]).unwrap();
/// let b = chunkwise::from_ndarray(&ndarray::arr1(&[2.0, 9.0]), [1]).unwrap();
/// let x = chunkwise::linalg::solve_triangular(&l, &b, true).unwrap();
/// assert_eq!(x.compute().unwrap().into_raw_vec_and_offset().0, vec![1.0, 2.0]);
/// ```
pub fn solve_triangular<T: FloatElement>(
    a: &Array<T>,
    b: &Array<T>,
    lower: bool,
) -> Result<Array<T>> {
    let n = square_size("solve_triangular", a)?;
    let triangle = if lower { Region::Lower } else { Region::Upper };
    let a = checked("solve_triangular", "a", a, triangle);
    // Diagonal entries are zero to working precision against the largest of the whole
    // diagonal, so that whether `a` is singular does not depend on its tiles.
    let index: Vec<i64> = (0..n as i64).collect();
    let largest = largest_magnitude(&a.vindex(&[&index, &index])?)?;
    with_rhs("solve_triangular", n, b, |b| {
        let x = substitute::<T>(&a.node, &b.node, lower, Some(&largest.node));
        Ok(Array::from_node(x))
    })
}

/// The block substitution on nodes (see [`solve_triangular`]). A diagonal entry is zero to
/// working precision when at most `n * eps` times `largest` (a 0-d node) in magnitude, or
/// without it, `n_tile * eps` times the largest diagonal entry of its tile.
pub(super) fn substitute<T: FloatElement>(
    a: &Arc<Node>,
    b: &Arc<Node>,
    lower: bool,
    largest: Option<&Arc<Node>>,
) -> Arc<Node> {
    let (ac, bc) = (a.grid.chunks(), b.grid.chunks());
    let tiles = refine(&refine(&ac[0], &ac[1]), &bc[0]);
    let a = rechunk(a, ChunkGrid::from_valid(vec![tiles.clone(), tiles.clone()]));
    let grid = ChunkGrid::from_valid(vec![tiles.clone(), bc[1].clone()]);
    let b = rechunk(b, grid.clone());
    let offsets = grid.offsets(0).to_vec();
    let nt = tiles.len();
    let order: Vec<usize> = if lower {
        (0..nt).collect()
    } else {
        (0..nt).rev().collect()
    };
    let n = offsets.last().copied().unwrap_or(0);
    // solved[i]: the stage of block row i (inputs: a, b, `largest` if given, then the block
    // rows before it).
    let mut solved: Vec<Option<Arc<Node>>> = vec![None; nt];
    let first_earlier = 2 + usize::from(largest.is_some());
    for (step, &i) in order.iter().enumerate() {
        let earlier: Vec<usize> = order[..step].to_vec();
        let mut inputs = vec![a.clone(), b.clone()];
        inputs.extend(largest.cloned());
        inputs.extend(
            earlier
                .iter()
                .map(|&j| solved[j].clone().expect("solved before")),
        );
        let deps_earlier = earlier.clone();
        let origin = offsets[i];
        let stage = blockwise("triangular solve", grid.clone(), T::DTYPE, inputs).run(
            move |block| {
                let c = block[1];
                let mut deps = vec![(0, vec![i, i]), (1, vec![i, c])];
                if first_earlier > 2 {
                    deps.push((2, vec![]));
                }
                for (input, &j) in deps_earlier.iter().enumerate() {
                    deps.push((0, vec![i, j]));
                    deps.push((first_earlier + input, vec![j, c]));
                }
                deps
            },
            move |b, tiles| {
                let (block, shape) = (b.index, b.shape);
                let (diag, rhs) = (matrix::<T>(tiles[0], 0), matrix::<T>(tiles[1], 0));
                let tolerance = (first_earlier > 2).then(|| zero_tolerance::<T>(n, tiles[2]));
                let mut x = rhs.data.to_vec();
                for pair in tiles[first_earlier..].chunks(2) {
                    let (aij, xj) = (matrix::<T>(pair[0], 0), matrix::<T>(pair[1], 0));
                    gemm(
                        Op::Plain,
                        Op::Plain,
                        rhs.rows,
                        rhs.cols,
                        aij.cols,
                        -T::ONE,
                        aij.data,
                        xj.data,
                        T::ONE,
                        &mut x,
                    );
                }
                check_diagonal(
                    diag.data,
                    diag.rows,
                    tolerance,
                    &[block[0], block[0]],
                    origin,
                )?;
                let t = Triangular {
                    data: diag.data,
                    n: diag.rows,
                    lower,
                    unit_diagonal: false,
                };
                solve_left(t, Op::Plain, &mut x, rhs.cols);
                Ok(tile_of(x, shape))
            },
        );
        solved[i] = Some(stage);
    }
    let sources: Vec<Arc<Node>> = solved.into_iter().map(|s| s.expect("every row")).collect();
    assemble::<T>("triangular solution", grid, sources, |block| {
        Some((block[0], block.to_vec(), 0))
    })
}

/// An error naming the first diagonal entry of the `n x n` tile `data` that is at most
/// `tolerance` in magnitude (by default: zero relative to the tile's largest diagonal
/// entry; `origin`: the tile's first global row).
fn check_diagonal<T: FloatElement>(
    data: &[T],
    n: usize,
    tolerance: Option<T>,
    tile: &[usize],
    origin: usize,
) -> Result<()> {
    let diagonal = || (0..n).map(|i| data[i * n + i].abs());
    let tolerance = tolerance.unwrap_or_else(|| {
        let largest = diagonal().fold(T::ZERO, |m, x| m.max(x));
        T::from_f64(n as f64) * T::epsilon() * largest
    });
    match diagonal().position(|x| x <= tolerance || !x.is_finite()) {
        Some(pivot) => Err(Error::Linalg(LinalgError::Singular {
            tile: tile.to_vec(),
            pivot: origin + pivot,
        })),
        None => Ok(()),
    }
}

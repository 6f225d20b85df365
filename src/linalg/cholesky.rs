//! Tiled Cholesky factorization: the right-looking algorithm as a DAG of tile tasks
//! (POTRF on diagonal tiles, TRSM on the panel below, SYRK/GEMM updates of the trailing
//! matrix), as PLASMA schedules it.

use std::sync::Arc;

use chunkwise_kernels::dtype::FloatElement;
use chunkwise_kernels::linalg::{
    Op, Triangular, cholesky_lower, cholesky_lower_scratch, gemm, solve_right,
};

use super::finite::{Region, checked};
use super::square_size;
use super::stage::{assemble, blockwise, matrix, tile_of};
use crate::array::Array;
use crate::chunks::{ChunkGrid, refine};
use crate::error::{Error, LinalgError, Result};
use crate::graph::Node;
use crate::ops::rechunk::rechunk;

/// The Cholesky factor `l` (lower triangular, `a = l @ l^T`) of a symmetric
/// positive-definite matrix, as NumPy returns it (`l.transpose()` is Dask's upper factor).
/// Only the lower triangle of `a` is read.
///
/// The matrix is tiled with the same tiles on both axes (the common refinement of its row
/// and column tiles). For each diagonal tile `k`: `L[k][k] = potrf(A[k][k])`, then
/// `L[i][k] = A[i][k] L[k][k]^-T` below it, then `A[i][j] -= L[i][k] L[j][k]^T` for the
/// trailing tiles; every step is a separate task, so steps overlap as their inputs allow.
/// A matrix that is not positive definite gives [`LinalgError::NotPositiveDefinite`] naming the
/// diagonal tile and row where a pivot was not positive; a NaN or an infinity in the lower
/// triangle gives [`LinalgError::NotFinite`] (the upper triangle is not read).
///
/// ```
/// let a = ndarray::arr2(&[[4.0f64, 2.0, 0.4], [2.0, 5.0, 1.0], [0.4, 1.0, 3.0]]);
/// let l = chunkwise::linalg::cholesky(&chunkwise::from_ndarray(&a, [2, 2]).unwrap()).unwrap();
/// let l = l.compute().unwrap().into_dimensionality::<ndarray::Ix2>().unwrap();
/// assert!((l.dot(&l.t()) - &a).iter().all(|d| d.abs() < 1e-12));
/// ```
pub fn cholesky<T: FloatElement>(a: &Array<T>) -> Result<Array<T>> {
    square_size("cholesky", a)?;
    let a = checked("cholesky", "a", a, Region::Lower);
    let chunks = a.node.grid.chunks();
    let tiles = refine(&chunks[0], &chunks[1]);
    let grid = ChunkGrid::from_valid(vec![tiles.clone(), tiles.clone()]);
    let offsets = grid.offsets(0).to_vec();
    let nt = tiles.len();
    let mut trailing = rechunk(&a.node, grid.clone());
    let (mut diagonal, mut panels) = (Vec::new(), Vec::new());
    for (k, &origin) in offsets.iter().enumerate().take(nt) {
        let diag = blockwise(
            "cholesky potrf",
            grid.clone(),
            T::DTYPE,
            vec![trailing.clone()],
        )
        .scratch(|b| cholesky_lower_scratch::<T>(b.shape[0]) as u64)
        .run(
            |block| vec![(0, block.to_vec())],
            move |b, inputs| {
                let (block, shape) = (b.index, b.shape);
                let tile = matrix::<T>(inputs[0], 0);
                let l = cholesky_lower(tile.data, tile.rows).map_err(|pivot| {
                    Error::Linalg(LinalgError::NotPositiveDefinite {
                        tile: block.to_vec(),
                        pivot: origin + pivot,
                    })
                })?;
                Ok(tile_of(l, shape))
            },
        );
        let panel = blockwise(
            "cholesky trsm",
            grid.clone(),
            T::DTYPE,
            vec![trailing.clone(), diag.clone()],
        )
        .run(
            move |block| vec![(0, block.to_vec()), (1, vec![k, k])],
            |b, inputs| {
                let shape = b.shape;
                let (b, l) = (matrix::<T>(inputs[0], 0), matrix::<T>(inputs[1], 0));
                let mut x = b.data.to_vec();
                let l = Triangular {
                    data: l.data,
                    n: l.rows,
                    lower: true,
                    unit_diagonal: false,
                };
                solve_right(l, Op::Transposed, &mut x, b.rows);
                Ok(tile_of(x, shape))
            },
        );
        trailing = update_trailing::<T>(&grid, &trailing, &panel, k);
        diagonal.push(diag);
        panels.push(panel);
    }
    let sources: Vec<Arc<Node>> = diagonal.into_iter().chain(panels).collect();
    Ok(Array::from_node(assemble::<T>(
        "cholesky l",
        grid,
        sources,
        move |block| {
            let (i, j) = (block[0], block[1]);
            match i.cmp(&j) {
                std::cmp::Ordering::Equal => Some((j, block.to_vec(), 0)),
                std::cmp::Ordering::Greater => Some((nt + j, block.to_vec(), 0)),
                std::cmp::Ordering::Less => None,
            }
        },
    )))
}

/// The trailing matrix after step `k`: `A[i][j] - L[i][k] L[j][k]^T` (SYRK on the diagonal,
/// GEMM below it; only the lower triangle is ever asked for).
fn update_trailing<T: FloatElement>(
    grid: &ChunkGrid,
    trailing: &Arc<Node>,
    panel: &Arc<Node>,
    k: usize,
) -> Arc<Node> {
    blockwise(
        "cholesky update",
        grid.clone(),
        T::DTYPE,
        vec![trailing.clone(), panel.clone()],
    )
    .run(
        move |block| {
            vec![
                (0, block.to_vec()),
                (1, vec![block[0], k]),
                (1, vec![block[1], k]),
            ]
        },
        |b, inputs| {
            let shape = b.shape;
            let c = matrix::<T>(inputs[0], 0);
            let (li, lj) = (matrix::<T>(inputs[1], 0), matrix::<T>(inputs[2], 0));
            let mut out = c.data.to_vec();
            gemm(
                Op::Plain,
                Op::Transposed,
                c.rows,
                c.cols,
                li.cols,
                -T::ONE,
                li.data,
                lj.data,
                T::ONE,
                &mut out,
            );
            Ok(tile_of(out, shape))
        },
    )
}

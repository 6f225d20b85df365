//! Solvers built on the factorizations: `solve` and `inv` (LU), `lstsq` (TSQR).

use std::sync::Arc;

use chunkwise_kernels::dtype::FloatElement;

use super::finite::{Region, checked};
use super::lu::{LuStages, permute_rows};
use super::qr::qr_of;
use super::stage::{array_part, blockwise, matrix, tile_of};
use super::svd::svd_of;
use super::triangular::substitute;
use super::{column_wise, largest_magnitude, matrix_shape, square_size, with_rhs};
use crate::array::{Array, Reduction};
use crate::chunks::ChunkGrid;
use crate::error::{BuildError, Error, Result};
use crate::graph::Node;
use crate::ops::rechunk::rechunk;

/// Solves `a @ x = b` for a square `a` and a vector or matrix `b`, by LU with partial
/// pivoting and two triangular solves. A singular `a` gives
/// [`LinalgError::Singular`](crate::LinalgError::Singular); a NaN or an infinity in `a` or
/// `b` gives [`LinalgError::NotFinite`](crate::LinalgError::NotFinite).
///
/// ```
/// let a = chunkwise::from_ndarray(&ndarray::arr2(&[[3.0f64, 1.0], [1.0, 2.0]]), [1, 1]).unwrap();
/// let b = chunkwise::from_ndarray(&ndarray::arr1(&[9.0, 8.0]), [1]).unwrap();
/// let x = chunkwise::linalg::solve(&a, &b).unwrap().compute().unwrap();
/// assert!((x[[0]] - 2.0).abs() < 1e-14 && (x[[1]] - 3.0).abs() < 1e-14);
/// ```
pub fn solve<T: FloatElement>(a: &Array<T>, b: &Array<T>) -> Result<Array<T>> {
    let n = square_size("solve", a)?;
    let a = checked("solve", "a", a, Region::All);
    with_rhs("solve", n, b, |b| lu_solve(&a, b))
}

/// Solves `a @ x = b` by LU for a matrix `b`, both already checked to be finite.
fn lu_solve<T: FloatElement>(a: &Array<T>, b: &Array<T>) -> Result<Array<T>> {
    let f = LuStages::<T>::new(a)?;
    let permuted = gather_rows::<T>(&b.node, &f.row_order(), &f.grid().chunks()[0]);
    let y = substitute::<T>(&f.l(), &permuted, true, None);
    // U's diagonal is the pivots, zero against the largest entry of `a` as the LU found
    // them (against the largest of their own tile, a pivot grown large elsewhere would
    // make a good one look zero, depending on the tiles).
    let x = substitute::<T>(&f.u(), &y, false, Some(f.largest()));
    Ok(Array::from_node(x))
}

/// The inverse of a square matrix: `solve(a, I)`. A singular `a` gives
/// [`LinalgError::Singular`](crate::LinalgError::Singular); a NaN or an infinity in `a`
/// gives [`LinalgError::NotFinite`](crate::LinalgError::NotFinite).
///
/// ```
/// let a = chunkwise::from_ndarray(&ndarray::arr2(&[[2.0, 0.0], [0.0, 4.0]]), [1, 2]).unwrap();
/// let inv = chunkwise::linalg::inv(&a).unwrap().compute().unwrap();
/// assert_eq!(inv[[1, 1]], 0.25);
/// ```
pub fn inv<T: FloatElement>(a: &Array<T>) -> Result<Array<T>> {
    let n = square_size("inv", a)?;
    let identity = crate::eye::<T>(n, n, 0, crate::Chunks::Sizes(a.chunks().chunks().to_vec()))?;
    lu_solve(&checked("inv", "a", a, Region::All), &identity)
}

/// `b` with its rows reordered (row `i` is row `order[i]` of `b`), on row tiles `tiles`.
fn gather_rows<T: FloatElement>(b: &Arc<Node>, order: &Arc<Node>, tiles: &[usize]) -> Arc<Node> {
    let columns = b.grid.chunks()[1].clone();
    let n = tiles.iter().sum();
    // Whole columns of b are read by every tile of the result.
    let b = rechunk(b, ChunkGrid::from_valid(vec![vec![n], columns.clone()]));
    let grid = ChunkGrid::from_valid(vec![tiles.to_vec(), columns]);
    let origins = grid.clone();
    let size = size_of::<T>() as u64;
    blockwise("permute rows", grid, T::DTYPE, vec![b, order.clone()])
        // A copy of the whole column and `permute_rows`' copy of it; the tile is cut from
        // the first.
        .scratch(move |b| (2 * n * b.shape[1] - b.len()) as u64 * size)
        .run(
            |block| vec![(0, vec![0, block[1]]), (1, vec![0])],
            move |b, tiles| {
                let (block, shape) = (b.index, b.shape);
                let column = matrix::<T>(tiles[0], 0);
                let order = array_part::<u64>(tiles[1], 0).as_slice().expect("C order");
                let first = origins.block_origin(block)[0];
                let mut rows = column.data.to_vec();
                permute_rows(&mut rows, order, column.cols);
                let out = rows[first * column.cols..(first + shape[0]) * column.cols].to_vec();
                Ok(tile_of(out, shape))
            },
        )
}

/// The result of [`lstsq`].
#[derive(Clone, Debug)]
pub struct Lstsq<T: FloatElement> {
    /// The `x` minimising `|a @ x - b|` (a vector or matrix, as `b`).
    pub solution: Array<T>,
    /// Squared residual norms `|a @ x - b|^2`, per column of `b` (a 0-d array for a vector `b`).
    pub residuals: Array<T>,
    /// The singular values of `a`, non-increasing.
    pub singular_values: Array<T>,
}

/// The least-squares solution of `a @ x = b` for a tall matrix `a` of full column rank
/// (`m >= n`, the columns in one tile): `a = q r` by TSQR, then `r x = q^T b`. An `a`
/// whose rank is short to working precision (a diagonal entry of `r` at most `n * eps`
/// times the largest entry of `r`) gives
/// [`LinalgError::Singular`](crate::LinalgError::Singular), where NumPy would return the
/// minimum-norm solution; a NaN or an infinity in `a` or `b` gives
/// [`LinalgError::NotFinite`](crate::LinalgError::NotFinite).
///
/// ```
/// // Fit y = 1 + 2 t exactly.
/// let t = ndarray::Array1::<f64>::linspace(0.0, 1.0, 50);
/// let a = ndarray::stack![ndarray::Axis(1), ndarray::Array1::ones(50), t.clone()];
/// let y = t.mapv(|t| 1.0 + 2.0 * t);
/// let fit = chunkwise::linalg::lstsq(
///     &chunkwise::from_ndarray(&a, [10, 2]).unwrap(),
///     &chunkwise::from_ndarray(&y, [10]).unwrap(),
/// ).unwrap();
/// let x = fit.solution.compute().unwrap();
/// assert!((x[[0]] - 1.0).abs() < 1e-12 && (x[[1]] - 2.0).abs() < 1e-12);
/// ```
pub fn lstsq<T: FloatElement>(a: &Array<T>, b: &Array<T>) -> Result<Lstsq<T>> {
    let (m, n) = matrix_shape("lstsq", a)?;
    b.check()?;
    if m < n {
        return Err(Error::Build(BuildError::InvalidArgument {
            op: "lstsq".into(),
            reason: format!(
                "a tall matrix is needed (rows >= columns), found shape {:?}",
                a.shape()
            ),
        }));
    }
    if b.shape().first() != Some(&m) || b.ndim() > 2 {
        return Err(Error::Build(BuildError::ShapeMismatch {
            op: "lstsq (b: a vector or matrix with the rows of a)".into(),
            expected: vec![m],
            found: b.shape(),
        }));
    }
    let (a, b) = (
        checked("lstsq", "a", a, Region::All),
        checked("lstsq", "b", b, Region::All),
    );
    let (q, r) = qr_of(&a)?;
    // Rank deficient when a diagonal entry of `r` is zero against its largest entry: the
    // diagonal alone would miss a column that is a multiple of a smaller one before it
    // (its size is then in `r` above the diagonal).
    let largest = largest_magnitude(&r)?;
    let solution = column_wise(&q.transpose().matmul(&b)?, |qtb| {
        let x = substitute::<T>(&r.node, &qtb.node, false, Some(&largest.node));
        Ok(Array::from_node(x))
    })?;
    let residuals = (&a.matmul(&solution)? - &b)
        .powi(2)
        .sum_with(&Reduction::axis(0));
    let (_, singular_values, _) = svd_of(&r)?;
    Ok(Lstsq {
        solution,
        residuals,
        singular_values,
    })
}

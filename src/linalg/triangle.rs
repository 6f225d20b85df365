//! The triangles of a matrix: `tril` and `triu` as in NumPy.

use chunkwise_kernels::dtype::FloatElement;

use super::matrix_shape;
use super::stage::{blockwise, matrix, tile_of};
use crate::array::Array;
use crate::error::Result;

/// The lower triangle of `a`: elements with `col - row > k` set to zero (`k = 0` keeps the
/// diagonal, `k = -1` drops it).
///
/// ```
/// let a = chunkwise::ones::<f64>(&[3, 3], [2, 2]).unwrap();
/// let l = chunkwise::linalg::tril(&a, 0).unwrap().compute().unwrap();
/// assert_eq!(l.sum(), 6.0);
/// ```
pub fn tril<T: FloatElement>(a: &Array<T>, k: i64) -> Result<Array<T>> {
    keep_where(a, "tril", move |row, col| col as i64 - row as i64 <= k)
}

/// The upper triangle of `a`: elements with `col - row < k` set to zero.
pub fn triu<T: FloatElement>(a: &Array<T>, k: i64) -> Result<Array<T>> {
    keep_where(a, "triu", move |row, col| col as i64 - row as i64 >= k)
}

fn keep_where<T: FloatElement>(
    a: &Array<T>,
    name: &str,
    keep: impl Fn(usize, usize) -> bool + Send + Sync + 'static,
) -> Result<Array<T>> {
    matrix_shape(name, a)?;
    let grid = a.node.grid.clone();
    let origins = grid.clone();
    Ok(Array::from_node(
        blockwise(name, grid, T::DTYPE, vec![a.node.clone()]).run(
            |block| vec![(0, block.to_vec())],
            move |b, tiles| {
                let (block, shape) = (b.index, b.shape);
                let tile = matrix::<T>(tiles[0], 0);
                let origin = origins.block_origin(block);
                let mut out = tile.data.to_vec();
                for (i, row) in out.chunks_mut(tile.cols.max(1)).enumerate() {
                    for (j, x) in row.iter_mut().enumerate() {
                        if !keep(origin[0] + i, origin[1] + j) {
                            *x = T::ZERO;
                        }
                    }
                }
                Ok(tile_of(out, shape))
            },
        ),
    ))
}

//! The check every factorization and solver runs on its inputs first: a stage that hands
//! each tile on unchanged (the same buffer, not a copy) once it has found no NaN or
//! infinity where the factorization reads. Factoring such input gives meaningless results
//! (a finite, orthonormal `Q` for a matrix with a NaN; "singular" for one with an
//! infinity), so the rule, for every function of this module that factors or solves, is:
//! a non-finite value in an input gives [`LinalgError::NotFinite`], naming the operation,
//! the input, its tile (in the input's own chunking) and the element.
//!
//! The check runs once per input tile, before any rechunking or transposition, so the
//! error names the tile and element as the caller sees them. It costs one scan of each
//! tile (vectorised, `O(m n)` against the factorization's `O(m n^2)`); the factorizations'
//! own stages and products then run on checked data only.

use chunkwise_kernels::dtype::FloatElement;
pub(super) use chunkwise_kernels::linalg::Region;
use chunkwise_kernels::linalg::first_non_finite;

use super::stage::{array_part, blockwise};
use crate::array::Array;
use crate::error::{Error, LinalgError};

/// `a`, input `input` ("a" or "b") of `op`, with every tile checked as it passes: the
/// tile's elements in `region` (by their position in `a`) must be finite, or computing
/// fails with [`LinalgError::NotFinite`]. `a` is a vector or a matrix.
pub(super) fn checked<T: FloatElement>(
    op: &str,
    input: &str,
    a: &Array<T>,
    region: Region,
) -> Array<T> {
    let grid = a.node.grid.clone();
    let (op, input) = (op.to_string(), input.to_string());
    // The task declares its tile as its output (the default), though it hands on the input's
    // buffer: the check is usually the input tile's last reader, so the buffer lives on as
    // this tile (and the executor counts it so).
    let node = blockwise("check finite", grid.clone(), T::DTYPE, vec![a.node.clone()]).run(
        |block| vec![(0, block.to_vec())],
        move |b, tiles| {
            let block = b.index;
            let origin = grid.block_origin(block);
            check_tile(array_part::<T>(tiles[0], 0), &origin, region).map_err(
                |(index, value)| {
                    Error::Linalg(LinalgError::NotFinite {
                        op: op.clone(),
                        input: input.clone(),
                        tile: block.to_vec(),
                        index,
                        value,
                    })
                },
            )?;
            Ok(tiles[0].clone())
        },
    );
    Array::from_node(node)
}

/// Checks the vector or matrix tile `tile` whose first element is `origin` in the whole
/// array: `Err((index in the array, value))` for its first non-finite element in `region`.
fn check_tile<T: FloatElement>(
    tile: &ndarray::ArrayD<T>,
    origin: &[usize],
    region: Region,
) -> std::result::Result<(), (Vec<usize>, f64)> {
    let data = tile.as_slice().expect("C-order tiles");
    // A vector is checked as a one-column matrix.
    let (rows, cols) = match *tile.shape() {
        [rows, cols] => (rows, cols),
        [rows] => (rows, 1),
        ref other => unreachable!("vector or matrix tiles, found shape {other:?}"),
    };
    let corner = [origin[0], origin.get(1).copied().unwrap_or(0)];
    match first_non_finite(data, rows, cols, corner, region) {
        None => Ok(()),
        Some((i, j)) => {
            let index = [corner[0] + i, corner[1] + j];
            let value = data[i * cols + j].to_f64().unwrap_or(f64::NAN);
            Err((index[..origin.len()].to_vec(), value))
        }
    }
}

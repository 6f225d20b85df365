//! Finding NaNs and infinities in a tile before it is factored. The factorizations here
//! assume finite input: given a NaN, faer's Householder QR treats the column as already
//! reduced and returns a finite, orthonormal `Q`, and LU and Cholesky report a singular or
//! indefinite matrix. Callers check with [`first_non_finite`] first (an `O(rows * cols)`
//! scan against the `O(rows * cols^2)` factorization).

use crate::dtype::FloatElement;

/// The elements of a matrix that a check reads, by their position in the whole matrix
/// (a tile knows its place through its origin).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    /// Every element.
    All,
    /// The lower triangle with the diagonal (row >= column).
    Lower,
    /// The upper triangle with the diagonal (row <= column).
    Upper,
}

/// The first element in row-major order (local row, local column) of the row-major
/// `rows x cols` tile `tile` that lies in `region` and is NaN or infinite. The tile's first
/// element is element `origin` (row, column) of the whole matrix, which decides what lies
/// in a triangle.
///
/// ```
/// use chunkwise_kernels::linalg::{first_non_finite, Region};
/// let tile = [1.0, f64::NAN, 3.0, 4.0]; // [[1, NaN], [3, 4]]
/// assert_eq!(first_non_finite(&tile, 2, 2, [0, 0], Region::All), Some((0, 1)));
/// assert_eq!(first_non_finite(&tile, 2, 2, [0, 0], Region::Lower), None);
/// // The same tile below the diagonal of a larger matrix: all of it is lower.
/// assert_eq!(first_non_finite(&tile, 2, 2, [4, 0], Region::Lower), Some((0, 1)));
/// ```
pub fn first_non_finite<T: FloatElement>(
    tile: &[T],
    rows: usize,
    cols: usize,
    origin: [usize; 2],
    region: Region,
) -> Option<(usize, usize)> {
    let tile = &tile[..rows * cols];
    if region == Region::All {
        if all_finite(tile) {
            return None;
        }
        let at = tile.iter().position(|x| !x.is_finite())?;
        return Some((at / cols, at % cols));
    }
    for (i, row) in tile.chunks_exact(cols.max(1)).enumerate() {
        // The local columns of this row inside the triangle.
        let diagonal = (origin[0] + i).saturating_sub(origin[1]);
        let columns = match region {
            Region::Lower => 0..(origin[0] + i + 1).saturating_sub(origin[1]).min(cols),
            _ => diagonal.min(cols)..cols,
        };
        let start = columns.start;
        let part = &row[columns];
        if !all_finite(part) {
            return part
                .iter()
                .position(|x| !x.is_finite())
                .map(|j| (i, start + j));
        }
    }
    None
}

/// Whether every value is finite. A branch-free AND over blocks of values, which the
/// compiler vectorises, stopping at the first block that holds a bad value.
pub fn all_finite<T: FloatElement>(values: &[T]) -> bool {
    values
        .chunks(256)
        .all(|block| block.iter().fold(true, |ok, x| ok & x.is_finite()))
}

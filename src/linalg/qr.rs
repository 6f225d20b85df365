//! QR factorizations: TSQR for tall-and-skinny matrices (a QR per row tile, then QR of the
//! stacked `R` factors as a tree, `Q` formed on demand from the tree's factors) and a
//! short-and-wide variant. Each tile's QR is a [`TileQr`]: CholeskyQR2 where its check
//! passes, Householder reflectors otherwise.

use std::any::Any;
use std::sync::Arc;

use chunkwise_kernels::dtype::{FloatElement, Strip};
use chunkwise_kernels::linalg::TileQr;

use super::finite::{Region, checked};
use super::matrix_shape;
use super::stage::{blockwise, matrix, part, part_ref, pick_part, tile_of, tuple};
use crate::array::Array;
use crate::chunks::ChunkGrid;
use crate::error::Result;
use crate::graph::Node;
use crate::ops::rechunk::rechunk;
use crate::tile::{TileData, TileMemory, Value};

/// The QR factorization `a = q @ r`: `q` (m x k) has orthonormal columns and `r` (k x n)
/// is upper triangular, with `k = min(m, n)`.
///
/// A tall matrix (`m >= n`) is factored by TSQR: its columns must fit one tile, its rows
/// may be as many as storage holds. Each row tile is factored on its own; the stacked `R`
/// factors are factored again as a tree (each node no larger than a leaf tile), and `q` is
/// formed tile by tile from the tree's factors only if it is used. A wide
/// matrix (`m < n`) is factored through its leading `m x m` block: `q` from its QR, then
/// `r = q^T a`.
///
/// A NaN or an infinity anywhere in `a` gives
/// [`LinalgError::NotFinite`](crate::LinalgError::NotFinite) when computed.
///
/// ```
/// let a = chunkwise::random::normal::<f64>(1, 0.0, 1.0, &[1000, 20], [250, 20]).unwrap();
/// let (q, r) = chunkwise::linalg::qr(&a).unwrap();
/// let back = q.matmul(&r).unwrap().compute().unwrap();
/// let a = a.compute().unwrap();
/// assert!((&back - &a).iter().all(|d| d.abs() < 1e-12));
/// ```
pub fn qr<T: FloatElement>(a: &Array<T>) -> Result<(Array<T>, Array<T>)> {
    matrix_shape("qr", a)?;
    qr_of(&checked("qr", "a", a, Region::All))
}

/// [`qr`] of a matrix already checked to be finite.
pub(super) fn qr_of<T: FloatElement>(a: &Array<T>) -> Result<(Array<T>, Array<T>)> {
    let (m, n) = matrix_shape("qr", a)?;
    if m >= n {
        let tree = Tsqr::<T>::new(&a.node);
        Ok((Array::from_node(tree.q()), Array::from_node(tree.r())))
    } else {
        let lead = a.slice(ndarray::s![.., ..m])?.rechunk([m, m])?;
        let (q, _) = qr_of(&lead)?;
        // Exactly upper triangular, where rounding leaves tiny values below the diagonal.
        let r = super::triu(&q.transpose().matmul(a)?, 0)?;
        Ok((q, r))
    }
}

/// The QR factors of one tile of a TSQR tree, as a tile value.
#[derive(Debug)]
pub(super) struct QrTile<T> {
    pub(super) qr: TileQr<T>,
    shape: [usize; 2],
}

impl<T: FloatElement> TileData for QrTile<T> {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn nbytes(&self) -> usize {
        self.qr.nbytes()
    }
    fn strip(&self) -> Option<Strip<'_>> {
        None
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn describe(&self) -> String {
        format!("the QR factors of a {:?} tile", self.shape)
    }
    /// QR factors stay in the process that made them: the tasks that apply them run where
    /// their leaf was factored (`beside_first_input`), and a tile sent on withholds them.
    fn encode_into(&self, _: &mut crate::tile::encode::Writer) -> Result<()> {
        Err(crate::error::Error::Exec(
            crate::error::ExecError::TileEncoding(format!("{} have no encoding", self.describe())),
        ))
    }
}

/// Factors the row-major `rows x n` matrix `data`: (QR factors, `R`).
fn factor<T: FloatElement>(data: &[T], rows: usize, n: usize) -> Value {
    let qr = TileQr::new(data, rows, n);
    let r = tile_of(qr.r(), &[n, n]);
    tuple(vec![
        Arc::new(QrTile {
            qr,
            shape: [rows, n],
        }),
        r,
    ])
}

/// The memory of [`factor`] on `rows x n` (beyond the `stacked` bytes its caller copies
/// the matrix into): the QR factors (at most [`TileQr::nbytes_bound`]: the method depends on
/// the values) and `R`, and the factorization's scratch.
fn factor_memory<T: FloatElement>(rows: usize, n: usize, stacked: usize) -> TileMemory {
    let r = rows.min(n) * n * size_of::<T>();
    TileMemory {
        output: (TileQr::<T>::nbytes_bound(rows, n) + r) as u64,
        scratch: (TileQr::<T>::scratch_bytes(rows, n) + stacked) as u64,
    }
}

fn tile_qr<T: FloatElement>(value: &Value) -> &TileQr<T> {
    &part_ref::<QrTile<T>>(value, 0).qr
}

/// The stages of a TSQR: the leaves (one QR per row tile of `a`) and the levels of the
/// tree that factors their stacked `R`s, each stage's tiles holding (QR factors,
/// `R`).
struct Tsqr<T> {
    /// Columns of `a`.
    n: usize,
    /// The levels, leaves first.
    levels: Vec<Level>,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T: FloatElement> Tsqr<T> {
    /// Builds the factorization stages of the tall matrix `a` (m >= n).
    fn new(a: &Arc<Node>) -> Tsqr<T> {
        let shape = a.shape();
        let n = shape[1];
        let rows = merge_short_tiles(&a.grid.chunks()[0], n);
        let a = rechunk(a, ChunkGrid::from_valid(vec![rows.clone(), vec![n]]));
        let leaves = blockwise("tsqr leaf qr", a.grid.clone(), T::DTYPE, vec![a])
            .memory(move |b| factor_memory::<T>(b.shape[0], n, 0))
            .run(
                |block| vec![(0, block.to_vec())],
                move |b, tiles| {
                    let shape = b.shape;
                    let tile = matrix::<T>(tiles[0], 0);
                    Ok(factor(tile.data, shape[0], n))
                },
            );
        // Stack as many R factors per tree node as make a matrix no larger than a leaf.
        let fan_in = (rows.iter().copied().max().unwrap_or(n) / n.max(1)).max(2);
        let mut levels = Vec::new();
        let (mut stage, mut count) = (leaves, rows.len());
        while count > 1 {
            let groups = count.div_ceil(fan_in);
            let parents = (0..count).map(|i| (i / fan_in, i % fan_in)).collect();
            let sizes: Vec<usize> = (0..groups)
                .map(|g| (count - g * fan_in).min(fan_in) * n)
                .collect();
            let grid = ChunkGrid::from_valid(vec![sizes, vec![n]]);
            let next = blockwise("tsqr tree qr", grid, T::DTYPE, vec![stage.clone()])
                // The children's `R` factors are copied into one matrix, then factored.
                .memory(move |b| factor_memory::<T>(b.shape[0], n, b.len() * size_of::<T>()))
                .run(
                    move |block| {
                        let first = block[0] * fan_in;
                        (first..(first + fan_in).min(count))
                            .map(|child| (0, vec![child, 0]))
                            .collect()
                    },
                    move |b, tiles| {
                        let shape = b.shape;
                        let mut stacked: Vec<T> = Vec::with_capacity(shape[0] * n);
                        for tile in tiles {
                            stacked.extend_from_slice(matrix::<T>(&part(tile, 1)?, 0).data);
                        }
                        Ok(factor(&stacked, shape[0], n))
                    },
                );
            levels.push(Level {
                stage: stage.clone(),
                parents,
            });
            (stage, count) = (next, groups);
        }
        levels.push(Level {
            stage,
            parents: Vec::new(),
        });
        Tsqr {
            n,
            levels,
            _t: std::marker::PhantomData,
        }
    }

    /// `R` (n x n, upper triangular): the top of the tree's.
    fn r(&self) -> Arc<Node> {
        let top = self.levels.last().expect("a tree has a top").stage.clone();
        let n = self.n;
        pick_part(
            ChunkGrid::from_valid(vec![vec![n], vec![n]]),
            T::DTYPE,
            &top,
            vec![0, 0],
            1,
        )
    }

    /// `Q` on the grid of `a`'s row tiles: top-down, each tile's QR factors
    /// applied to its rows of the product of the levels above.
    fn q(&self) -> Arc<Node> {
        let n = self.n;
        let top = &self.levels.last().expect("a tree has a top").stage;
        let mut above = blockwise("tsqr q", top.grid.clone(), T::DTYPE, vec![top.clone()])
            .beside_first_input()
            .scratch(move |b| TileQr::<T>::thin_q_scratch(b.shape[0], n) as u64)
            .run(
                |block| vec![(0, block.to_vec())],
                move |_, tiles| {
                    let qr = tile_qr::<T>(tiles[0]);
                    Ok(tile_of(qr.thin_q(), &[qr.nrows(), n]))
                },
            );
        for Level { stage, parents } in self.levels.iter().rev().skip(1) {
            let parents = parents.clone();
            let deps_parents = parents.clone();
            above = blockwise(
                "tsqr q",
                stage.grid.clone(),
                T::DTYPE,
                vec![stage.clone(), above],
            )
            .beside_first_input()
            .scratch(move |b| TileQr::<T>::q_times_scratch(b.shape[0], n, n) as u64)
            .run(
                move |block| {
                    let (parent, _) = deps_parents[block[0]];
                    vec![(0, block.to_vec()), (1, vec![parent, 0])]
                },
                move |b, tiles| {
                    let (block, shape) = (b.index, b.shape);
                    let qr = tile_qr::<T>(tiles[0]);
                    let (_, position) = parents[block[0]];
                    let parent_q = matrix::<T>(tiles[1], 0);
                    let rows = &parent_q.data[position * n * n..(position + 1) * n * n];
                    Ok(tile_of(qr.q_times(rows, n), shape))
                },
            );
        }
        above
    }
}

/// One level of a TSQR tree.
struct Level {
    /// Tiles of (QR factors, `R`).
    stage: Arc<Node>,
    /// Per tile: the parent's tile in the level above, and the position among its children.
    parents: Vec<(usize, usize)>,
}

/// Row tile sizes where every tile has at least `n` rows (short tiles merged into their
/// neighbours), so that each leaf's `R` is square.
fn merge_short_tiles(rows: &[usize], n: usize) -> Vec<usize> {
    let mut merged: Vec<usize> = Vec::new();
    let mut pending = 0;
    for &r in rows {
        pending += r;
        if pending >= n {
            merged.push(pending);
            pending = 0;
        }
    }
    if pending > 0 {
        match merged.last_mut() {
            Some(last) => *last += pending,
            None => merged.push(pending),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::merge_short_tiles;

    #[test]
    fn short_row_tiles_are_merged_until_each_holds_n_rows() {
        assert_eq!(merge_short_tiles(&[5, 5, 5], 4), vec![5, 5, 5]);
        assert_eq!(merge_short_tiles(&[2, 2, 5, 1], 4), vec![4, 6]);
        assert_eq!(merge_short_tiles(&[1, 1], 4), vec![2]);
    }
}

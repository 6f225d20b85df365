//! LU factorization with partial pivoting, panel by panel, and the solvers built on it.
//!
//! Pivoting scheme: the same as LAPACK's blocked `getrf` with the tile width as block size.
//! For each column panel `k` (one tile wide, all rows from its diagonal down), one task
//! factors the whole panel with partial pivoting, choosing each pivot among all remaining
//! rows of the matrix; one task per trailing column panel then applies the panel's row
//! interchanges, solves for its tile of `U` and updates the rest of its column (GEMM).
//! Later interchanges are applied to the earlier columns of `L` when `L` is assembled.

use std::sync::Arc;

use chunkwise_kernels::dtype::{Element, FloatElement};
use chunkwise_kernels::linalg::{
    Op, Triangular, gemm, lu_partial_pivoting_scratch, lu_partial_pivoting_within, solve_left,
};

use super::finite::{Region, checked};
use super::stage::{
    array_part, assemble, blockwise, matrix, pick_part, tile_of, tuple, zero_tolerance,
};
use super::{largest_magnitude, square_size};
use crate::array::Array;
use crate::chunks::{ChunkGrid, refine};
use crate::error::{Error, LinalgError, Result};
use crate::graph::Node;
use crate::ops::rechunk::rechunk;
use crate::tile::TileMemory;

/// The LU factorization with partial pivoting `a = p @ l @ u` of a square matrix, as
/// SciPy's `linalg.lu` returns it: `p` a permutation matrix, `l` unit lower triangular
/// (every entry at most 1 in magnitude), `u` upper triangular. Tiles are the common
/// refinement of the row and column tiles, on both axes. A singular matrix (a pivot at
/// most `n * eps` times the largest entry of `a` in magnitude, however `a` is tiled) gives
/// [`LinalgError::Singular`] naming the panel's diagonal tile and the pivot; a NaN or an
/// infinity in `a` gives [`LinalgError::NotFinite`].
///
/// ```
/// let a = ndarray::arr2(&[[1.0f64, 2.0], [3.0, 4.0]]);
/// let (p, l, u) = chunkwise::linalg::lu(&chunkwise::from_ndarray(&a, [1, 1]).unwrap()).unwrap();
/// let back = p.matmul(&l).unwrap().matmul(&u).unwrap().compute().unwrap();
/// assert!((&back - &a.into_dyn()).iter().all(|d| d.abs() < 1e-14));
/// ```
pub fn lu<T: FloatElement>(a: &Array<T>) -> Result<(Array<T>, Array<T>, Array<T>)> {
    square_size("lu", a)?;
    let f = LuStages::<T>::new(&checked("lu", "a", a, Region::All))?;
    Ok((
        Array::from_node(f.p()),
        Array::from_node(f.l()),
        Array::from_node(f.u()),
    ))
}

/// The stages of a panel LU (see the module documentation).
pub(super) struct LuStages<T> {
    /// Square tiles of both axes.
    grid: ChunkGrid,
    /// Per panel `k`: (LU of the panel, row order of the panel's rows).
    panels: Vec<Arc<Node>>,
    /// Per panel `k`: its row order alone (u64 positions, relative to its first row).
    pivots: Vec<Arc<Node>>,
    /// Per panel `k` but the last: the trailing columns after step `k`, each tile holding
    /// (updated rest of the column, the tile of `U` in block row `k`).
    columns: Vec<Arc<Node>>,
    /// The largest magnitude of an entry of `a` (0-d): pivots are zero to working precision
    /// against it.
    largest: Arc<Node>,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T: FloatElement> LuStages<T> {
    /// The stages for `a`, already checked to be finite.
    pub(super) fn new(a: &Array<T>) -> Result<LuStages<T>> {
        let n = square_size("lu", a)?;
        let chunks = a.node.grid.chunks();
        let tiles = refine(&chunks[0], &chunks[1]);
        let grid = ChunkGrid::from_valid(vec![tiles.clone(), tiles.clone()]);
        let offsets = grid.offsets(0).to_vec();
        let nt = tiles.len();
        // A pivot is zero to working precision against the largest entry of the whole
        // matrix, not of its panel: so whether the matrix is singular does not depend on
        // how it is cut into tiles.
        let largest = largest_magnitude(a)?.node;
        // The matrix as full-height column panels.
        let mut trailing = rechunk(&a.node, ChunkGrid::from_valid(vec![vec![n], tiles.clone()]));
        let (mut panels, mut pivots, mut columns) = (Vec::new(), Vec::new(), Vec::new());
        for k in 0..nt {
            let (origin, width) = (offsets[k], tiles[k]);
            let height = n - origin;
            let panel_grid = ChunkGrid::from_valid(vec![vec![height], vec![width]]);
            let panel = blockwise(
                "lu panel getrf",
                panel_grid,
                T::DTYPE,
                vec![trailing.clone(), largest.clone()],
            )
            // The LU factors and the row order (u64s: the kernel's usizes, converted in place).
            .memory(move |_| TileMemory {
                output: (height * width * size_of::<T>() + height * size_of::<u64>()) as u64,
                scratch: lu_partial_pivoting_scratch::<T>(height, width) as u64,
            })
            .run(
                |_| vec![(0, vec![0, 0]), (1, vec![])],
                move |b, tiles| {
                    let shape = b.shape;
                    let mut lu = matrix::<T>(tiles[0], 0).data.to_vec();
                    let tolerance = zero_tolerance::<T>(n, tiles[1]);
                    let order = lu_partial_pivoting_within(&mut lu, height, width, tolerance);
                    let order = order.map_err(|pivot| {
                        Error::Linalg(LinalgError::Singular {
                            tile: vec![k, k],
                            pivot: origin + pivot,
                        })
                    })?;
                    let order: Vec<u64> = order.into_iter().map(|r| r as u64).collect();
                    Ok(tuple(vec![tile_of(lu, shape), tile_of(order, &[height])]))
                },
            );
            let order = pick_part(
                ChunkGrid::from_valid(vec![vec![height]]),
                u64::DTYPE,
                &panel,
                vec![0, 0],
                1,
            );
            if k + 1 < nt {
                trailing = Self::update(&trailing, &panel, &tiles[k + 1..], width, height - width);
                columns.push(trailing.clone());
            }
            panels.push(panel);
            pivots.push(order);
        }
        Ok(LuStages {
            grid,
            panels,
            pivots,
            columns,
            largest,
            _t: std::marker::PhantomData,
        })
    }

    /// The trailing column panels after a step: each applies the panel's interchanges to its
    /// column, solves for its tile of `U` and updates the rows below. The panel is `width`
    /// columns wide, with `below` rows below its diagonal tile.
    fn update(
        trailing: &Arc<Node>,
        panel: &Arc<Node>,
        widths: &[usize],
        width: usize,
        below: usize,
    ) -> Arc<Node> {
        let grid = ChunkGrid::from_valid(vec![vec![below], widths.to_vec()]);
        blockwise(
            "lu column update",
            grid,
            T::DTYPE,
            vec![trailing.clone(), panel.clone()],
        )
        // The column permuted (a copy, and `permute_rows`' copy of it), then its two parts
        // copied out: the rest of the column and the tile of `U` (the panel's width rows).
        .memory(move |b| {
            let column = ((below + width) * b.shape[1] * size_of::<T>()) as u64;
            TileMemory {
                output: column,
                scratch: column,
            }
        })
        .run(
            |block| vec![(0, vec![0, block[1] + 1]), (1, vec![0, 0])],
            move |b, tiles| {
                let shape = b.shape;
                let column = matrix::<T>(tiles[0], 0);
                let lu = matrix::<T>(tiles[1], 0);
                let (cols, width) = (column.cols, lu.cols);
                let mut permuted = column.data.to_vec();
                permute_rows(&mut permuted, order_of(tiles[1], 1), cols);
                let (top, rest) = permuted.split_at_mut(width * cols);
                let l_top = Triangular {
                    data: &lu.data[..width * width],
                    n: width,
                    lower: true,
                    unit_diagonal: true,
                };
                solve_left(l_top, Op::Plain, top, cols);
                gemm(
                    Op::Plain,
                    Op::Plain,
                    below,
                    cols,
                    width,
                    -T::ONE,
                    &lu.data[width * width..],
                    top,
                    T::ONE,
                    rest,
                );
                let u_tile = tile_of(top.to_vec(), &[width, cols]);
                Ok(tuple(vec![tile_of(rest.to_vec(), shape), u_tile]))
            },
        )
    }

    fn tiles(&self) -> Vec<usize> {
        self.grid.axis(0).sizes()
    }

    /// The row order of the whole factorization (u64): row `i` of `l @ u` is row
    /// `order[i]` of `a`.
    pub(super) fn row_order(&self) -> Arc<Node> {
        let n: usize = self.tiles().iter().sum();
        let offsets = self.grid.offsets(0).to_vec();
        let nt = self.pivots.len();
        blockwise(
            "lu row order",
            ChunkGrid::from_valid(vec![vec![n]]),
            u64::DTYPE,
            self.pivots.clone(),
        )
        // `permute_rows` copies the rows it reorders: at most all of them.
        .scratch(move |_| (n * size_of::<u64>()) as u64)
        .run(
            move |_| (0..nt).map(|k| (k, vec![0])).collect(),
            move |_, tiles| {
                let mut rows: Vec<u64> = (0..n as u64).collect();
                for (k, tile) in tiles.iter().enumerate() {
                    permute_rows(&mut rows[offsets[k]..], order_of(tile, 0), 1);
                }
                Ok(tile_of(rows, &[n]))
            },
        )
    }

    /// `p`: the permutation matrix with `a = p @ l @ u`, on the factorization's tiles.
    fn p(&self) -> Arc<Node> {
        let rows = self.row_order();
        let origins = self.grid.clone();
        blockwise("lu p", self.grid.clone(), T::DTYPE, vec![rows]).run(
            |_| vec![(0, vec![0])],
            move |b, tiles| {
                let (block, shape) = (b.index, b.shape);
                let rows = order_of(tiles[0], 0);
                let origin = origins.block_origin(block);
                let mut out = vec![T::ZERO; shape[0] * shape[1]];
                for j in 0..shape[1] {
                    let r = rows[origin[1] + j] as usize;
                    if (origin[0]..origin[0] + shape[0]).contains(&r) {
                        out[(r - origin[0]) * shape[1] + j] = T::ONE;
                    }
                }
                Ok(tile_of(out, shape))
            },
        )
    }

    /// `l`: unit lower triangular; column panel `k` with the interchanges of the later
    /// panels applied to its rows.
    pub(super) fn l(&self) -> Arc<Node> {
        let tiles = self.tiles().to_vec();
        let offsets = self.grid.offsets(0).to_vec();
        let (nt, n) = (tiles.len(), tiles.iter().sum::<usize>());
        let mut columns = Vec::new();
        for k in 0..nt {
            let (origin, width) = (offsets[k], tiles[k]);
            let grid = ChunkGrid::from_valid(vec![tiles[k..].to_vec(), vec![width]]);
            let mut inputs = vec![self.panels[k].clone()];
            inputs.extend(self.pivots[k + 1..].iter().cloned());
            let later = nt - k - 1;
            let starts: Vec<usize> = offsets[k + 1..nt].iter().map(|o| o - origin).collect();
            let row_offsets = grid.offsets(0).to_vec();
            let height = n - origin;
            let size = size_of::<T>();
            let column = blockwise("lu l column", grid, T::DTYPE, inputs)
                // The whole panel copied, and `permute_rows`' copy of it; the tile is cut
                // from the first.
                .scratch(move |b| ((2 * height * width - b.len()) * size) as u64)
                .run(
                    move |_| {
                        let mut deps = vec![(0, vec![0, 0])];
                        deps.extend((0..later).map(|j| (1 + j, vec![0])));
                        deps
                    },
                    move |b, tiles| {
                        let (block, shape) = (b.index, b.shape);
                        let lu = matrix::<T>(tiles[0], 0);
                        let mut l = lu.data.to_vec();
                        for i in 0..width {
                            l[i * width + i] = T::ONE;
                            l[i * width + i + 1..(i + 1) * width].fill(T::ZERO);
                        }
                        for (j, tile) in tiles[1..].iter().enumerate() {
                            permute_rows(&mut l[starts[j] * width..], order_of(tile, 0), width);
                        }
                        let first = row_offsets[block[0]];
                        Ok(tile_of(
                            l[first * width..(first + shape[0]) * width].to_vec(),
                            shape,
                        ))
                    },
                );
            columns.push(column);
        }
        assemble::<T>("lu l", self.grid.clone(), columns, |block| {
            let (i, k) = (block[0], block[1]);
            (i >= k).then(|| (k, vec![i - k, 0], 0))
        })
    }

    /// `u`: upper triangular; diagonal tiles from the panels, the rest from the column
    /// updates.
    pub(super) fn u(&self) -> Arc<Node> {
        let tiles = self.tiles().to_vec();
        let nt = tiles.len();
        let diagonal = self.panels.iter().zip(&tiles).map(|(panel, &width)| {
            let grid = ChunkGrid::from_valid(vec![vec![width], vec![width]]);
            blockwise("lu u diagonal", grid, T::DTYPE, vec![panel.clone()]).run(
                |_| vec![(0, vec![0, 0])],
                move |b, tiles| {
                    let shape = b.shape;
                    let lu = matrix::<T>(tiles[0], 0);
                    let mut u = lu.data[..width * width].to_vec();
                    for i in 0..width {
                        u[i * width..i * width + i].fill(T::ZERO);
                    }
                    Ok(tile_of(u, shape))
                },
            )
        });
        let sources: Vec<Arc<Node>> = diagonal.chain(self.columns.iter().cloned()).collect();
        assemble::<T>("lu u", self.grid.clone(), sources, move |block| {
            let (k, j) = (block[0], block[1]);
            match j.cmp(&k) {
                std::cmp::Ordering::Equal => Some((k, vec![0, 0], 0)),
                std::cmp::Ordering::Greater => Some((nt + k, vec![0, j - k - 1], 1)),
                std::cmp::Ordering::Less => None,
            }
        })
    }

    /// The factorization's tiles (square, on both axes).
    pub(super) fn grid(&self) -> &ChunkGrid {
        &self.grid
    }

    /// The largest magnitude of an entry of `a` (0-d), against which the pivots were found
    /// not to be zero.
    pub(super) fn largest(&self) -> &Arc<Node> {
        &self.largest
    }
}

/// A row order (u64 positions) held in part `index` of a tile.
fn order_of(tile: &crate::tile::Value, index: usize) -> &[u64] {
    array_part::<u64>(tile, index)
        .as_slice()
        .expect("C-order tiles")
}

/// Reorders the rows (of `width` elements) of `data`: row `i` becomes the old row
/// `order[i]`. Rows past `order.len()` stay.
pub(super) fn permute_rows<X: Element>(data: &mut [X], order: &[u64], width: usize) {
    let old = data[..order.len() * width].to_vec();
    for (i, &r) in order.iter().enumerate() {
        let r = r as usize;
        data[i * width..(i + 1) * width].copy_from_slice(&old[r * width..(r + 1) * width]);
    }
}

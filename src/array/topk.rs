//! Top-k and sorting along an axis: Dask's `topk` and `argtopk`, NumPy's `sort` and
//! `argsort`.
//!
//! Top-k is tree-reduced on the [`blockwise`] builder: each tile keeps its `k` best
//! values per lane (with their positions along the axis), and each combine keeps the `k`
//! best of up to `split_every` such partials, so a task holds a tile or a few partials of
//! `k` values per lane, never the whole axis. Sorting needs the whole axis in a task: the
//! axis is made one chunk inside the plan, and the planner refuses a task over the memory
//! budget before anything runs.

use std::sync::Arc;

use chunkwise_kernels::dtype::Element;
use chunkwise_kernels::topk::{sort_with_positions, top_k};
use ndarray::{ArrayD, Axis, IxDyn};

use super::Array;
use super::map_blocks::invalid;
use crate::chunks::{AxisChunks, ChunkGrid};
use crate::error::Result;
use crate::graph::Node;
use crate::ops::blockwise::blockwise;
use crate::ops::layout::normalize_axis;
use crate::ops::rechunk::rechunk;
use crate::ops::reduction::DEFAULT_SPLIT_EVERY;
use crate::tile::{TileMemory, Value, part, tile_value, tuple};

/// `grid` with axis `axis` replaced by `chunks`.
fn with_axis(grid: &ChunkGrid, axis: usize, chunks: AxisChunks) -> ChunkGrid {
    let mut axes: Vec<AxisChunks> = (0..grid.ndim()).map(|a| grid.axis(a).clone()).collect();
    axes[axis] = chunks;
    ChunkGrid::from_axes(axes)
}

/// The memory of a task whose tile of `len` elements holds values of `T` and positions.
fn pairs_memory<T: Element>(len: usize) -> TileMemory {
    TileMemory {
        output: (len * (size_of::<T>() + size_of::<u64>())) as u64,
        scratch: 0,
    }
}

/// Tiles of values and positions of `shape`, lane `j` along `axis` filled by `lane(j)`
/// (lanes in C order of the other axes), best first.
fn lanes_of<T: Element>(
    shape: &[usize],
    axis: usize,
    mut lane: impl FnMut(usize) -> Vec<(T, u64)>,
) -> Value {
    let mut values = ArrayD::<T>::from_elem(IxDyn(shape), T::default());
    let mut positions = ArrayD::<u64>::zeros(IxDyn(shape));
    let lanes = values.lanes_mut(Axis(axis)).into_iter();
    for (j, (mut v, mut p)) in lanes.zip(positions.lanes_mut(Axis(axis))).enumerate() {
        for (i, (value, position)) in lane(j).into_iter().enumerate() {
            v[i] = value;
            p[i] = position;
        }
    }
    tuple(vec![tile_value(values), tile_value(positions)])
}

/// The `want` best per lane along `axis` of partial tiles (tuples of values and their
/// positions), as one such tile of `shape`.
fn merge<T: Element>(
    tiles: &[&Value],
    shape: &[usize],
    axis: usize,
    want: usize,
    largest: bool,
) -> Result<Value> {
    let held: Vec<(Value, Value)> = tiles
        .iter()
        .map(|t| Ok((part(t, 0)?, part(t, 1)?)))
        .collect::<Result<_>>()?;
    let arrays: Vec<(&ArrayD<T>, &ArrayD<u64>)> = held
        .iter()
        .map(|(v, p)| Ok((v.array::<T>()?, p.array::<u64>()?)))
        .collect::<Result<_>>()?;
    let mut lanes: Vec<_> = arrays
        .iter()
        .map(|(v, p)| {
            (
                v.lanes(Axis(axis)).into_iter(),
                p.lanes(Axis(axis)).into_iter(),
            )
        })
        .collect();
    Ok(lanes_of::<T>(shape, axis, |_| {
        let mut candidates = Vec::new();
        for (values, positions) in lanes.iter_mut() {
            let values = values.next().expect("one lane per output lane");
            let positions = positions.next().expect("one lane per output lane");
            candidates.extend(values.iter().copied().zip(positions.iter().copied()));
        }
        top_k(candidates.into_iter(), want, largest)
    }))
}

/// The node of tuple tiles (the `|k|` best values along `axis`, best first, and their
/// positions), in one chunk along `axis`.
fn best<T: Element>(
    array: &Array<T>,
    op: &str,
    k: isize,
    axis: isize,
    split_every: usize,
) -> Result<Arc<Node>> {
    array.check()?;
    let axis = normalize_axis(axis, array.ndim())?;
    let len = array.shape()[axis];
    let want = k.unsigned_abs();
    if k == 0 || want > len {
        let why = format!("k = {k} must be non-zero and at most the axis length {len}");
        return Err(invalid(op, why));
    }
    if split_every < 2 {
        let why = format!("split_every must be at least 2, got {split_every}");
        return Err(invalid(op, why));
    }
    let largest = k > 0;
    let input = array.chunks().axis(axis).clone();
    let mut sizes: Vec<usize> = input.sizes().iter().map(|&c| c.min(want)).collect();
    let grid = with_axis(array.chunks(), axis, AxisChunks::from_sizes(sizes.clone()));
    let mut node = blockwise(
        format!("{op} chunk"),
        grid,
        T::DTYPE,
        vec![array.node.clone()],
    )
    .memory(|block| pairs_memory::<T>(block.len()))
    .run(
        |block| vec![(0, block.to_vec())],
        move |block, tiles| {
            let tile = tiles[0].array::<T>()?;
            let origin = input.start(block.index[axis]) as u64;
            let mut lanes = tile.lanes(Axis(axis)).into_iter();
            Ok(lanes_of::<T>(block.shape, axis, |_| {
                let lane = lanes.next().expect("one input lane per output lane");
                top_k(lane.iter().copied().zip(origin..), want, largest)
            }))
        },
    );
    while sizes.len() > 1 {
        let next: Vec<usize> = sizes
            .chunks(split_every)
            .map(|group| group.iter().sum::<usize>().min(want))
            .collect();
        let grid = with_axis(array.chunks(), axis, AxisChunks::from_sizes(next.clone()));
        let n = sizes.len();
        node = blockwise(format!("{op} combine"), grid, T::DTYPE, vec![node])
            .memory(|block| pairs_memory::<T>(block.len()))
            .run(
                move |block| {
                    let first = block[axis] * split_every;
                    let deps = first..(first + split_every).min(n);
                    let at = |b: usize| {
                        let mut index = block.to_vec();
                        index[axis] = b;
                        (0, index)
                    };
                    deps.map(at).collect()
                },
                move |block, tiles| merge::<T>(tiles, block.shape, axis, want, largest),
            );
        sizes = next;
    }
    Ok(node)
}

/// The part `index` of the tuple tiles of `node`, as an array of `U`.
fn part_of<U: Element>(node: Arc<Node>, index: usize, name: &str) -> Array<U> {
    let grid = node.grid.clone();
    let node = blockwise(name, grid, U::DTYPE, vec![node])
        .memory(|_| TileMemory::default())
        .run(
            |block| vec![(0, block.to_vec())],
            move |_, tiles| part(tiles[0], index),
        );
    Array::from_node(node)
}

/// Top-k and sorting along an axis.
impl<T: Element> Array<T> {
    /// Dask's `topk(x, k, axis)`: the `k` largest elements along `axis`, largest first, or
    /// for a negative `k` the `-k` smallest, smallest first. NaN counts as larger than any
    /// number (NumPy's sort order). `k` must be non-zero and at most the axis length.
    /// Tree-reduced with Dask's default fan-in (see [`Array::topk_split_every`]).
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[5, 1, 9, 3, 7, 2]), [2])?;
    /// assert_eq!(x.topk(2, 0)?.compute()?.into_raw_vec_and_offset().0, vec![9, 7]);
    /// assert_eq!(x.topk(-2, 0)?.compute()?.into_raw_vec_and_offset().0, vec![1, 2]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn topk(&self, k: isize, axis: isize) -> Result<Array<T>> {
        self.topk_split_every(k, axis, DEFAULT_SPLIT_EVERY)
    }

    /// [`Array::topk`] with at most `split_every` (at least 2) partial results per combine.
    pub fn topk_split_every(&self, k: isize, axis: isize, split_every: usize) -> Result<Array<T>> {
        let node = best(self, "topk", k, axis, split_every)?;
        Ok(part_of(node, 0, "topk values"))
    }

    /// Dask's `argtopk(x, k, axis)`: the positions along `axis` of the elements
    /// [`Array::topk`] returns, in the same order; of equal values, the earlier position
    /// comes first.
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[5.0, 1.0, 9.0, 5.0]), [3])?;
    /// assert_eq!(x.argtopk(3, 0)?.compute()?.into_raw_vec_and_offset().0, vec![2, 0, 3]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn argtopk(&self, k: isize, axis: isize) -> Result<Array<u64>> {
        self.argtopk_split_every(k, axis, DEFAULT_SPLIT_EVERY)
    }

    /// [`Array::argtopk`] with at most `split_every` partial results per combine.
    pub fn argtopk_split_every(
        &self,
        k: isize,
        axis: isize,
        split_every: usize,
    ) -> Result<Array<u64>> {
        let node = best(self, "argtopk", k, axis, split_every)?;
        Ok(part_of(node, 1, "argtopk positions"))
    }

    /// NumPy's `sort(x, axis)`: each lane along `axis` in ascending order, NaN last. The
    /// axis becomes one chunk inside the plan (the other axes keep their chunks); a task
    /// that would not fit the memory budget fails the planning with
    /// [`PlanError::TaskOverBudget`](crate::PlanError::TaskOverBudget) before anything runs.
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr2(&[[3, 1, 2], [0, 5, 4]]), [1, 2])?;
    /// let sorted = x.sort(1)?.compute()?;
    /// assert_eq!(sorted, ndarray::arr2(&[[1, 2, 3], [0, 4, 5]]).into_dyn());
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn sort(&self, axis: isize) -> Result<Array<T>> {
        let node = self.sorted(axis)?;
        Ok(part_of(node, 0, "sort values"))
    }

    /// NumPy's stable `argsort(x, axis, kind="stable")`: the positions that sort each lane
    /// (see [`Array::sort`]).
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[2.0, f64::NAN, 1.0, 2.0]), [3])?;
    /// assert_eq!(x.argsort(0)?.compute()?.into_raw_vec_and_offset().0, vec![2, 0, 3, 1]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn argsort(&self, axis: isize) -> Result<Array<u64>> {
        let node = self.sorted(axis)?;
        Ok(part_of(node, 1, "argsort positions"))
    }

    /// The node of tuple tiles (sorted lanes along `axis`, their positions), `axis` whole.
    fn sorted(&self, axis: isize) -> Result<Arc<Node>> {
        self.check()?;
        let axis = normalize_axis(axis, self.ndim())?;
        let len = self.shape()[axis];
        let grid = with_axis(self.chunks(), axis, AxisChunks::single(len));
        let whole = rechunk(&self.node, grid.clone());
        let node = blockwise("sort", grid, T::DTYPE, vec![whole])
            .memory(|block| {
                let mut memory = pairs_memory::<T>(block.len());
                memory.scratch = memory.output;
                memory
            })
            .run(
                |block| vec![(0, block.to_vec())],
                move |block, tiles| {
                    let tile = tiles[0].array::<T>()?;
                    let mut lanes = tile.lanes(Axis(axis)).into_iter();
                    Ok(lanes_of::<T>(block.shape, axis, |_| {
                        let lane = lanes.next().expect("one input lane per output lane");
                        let mut values: Vec<T> = lane.iter().copied().collect();
                        let mut positions: Vec<u64> = (0..values.len() as u64).collect();
                        sort_with_positions(&mut values, &mut positions);
                        values.into_iter().zip(positions).collect()
                    }))
                },
            );
        Ok(node)
    }
}

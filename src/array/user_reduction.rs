//! User reductions on a tree of fixed shape, as Dask's `da.reduction`: `chunk` on each
//! block, `combine` on groups of partial results, `aggregate` at the top. Built level by
//! level on the [`blockwise`] builder: each combine reads at most `split_every` partials,
//! so a task's memory is bounded and the tree depends only on the chunks, never on the
//! thread count (results are the same bit for bit on every run).

use std::sync::Arc;

use chunkwise_kernels::dtype::Element;
use ndarray::{ArrayD, Axis};

use super::map_blocks::{BlockResult, invalid, user_tile};
use super::{Array, Reduction};
use crate::chunks::{AxisChunks, ChunkGrid, box_indices};
use crate::error::Result;
use crate::graph::fan_in;
use crate::ops::blockwise::{Block, blockwise};
use crate::ops::reduction::reduced_axes;

/// The grid of partial results: kept axes chunked as `input`, reduced axis `a` as
/// `counts[a]` chunks of length 1 (one partial per group of blocks).
fn partial_grid(input: &ChunkGrid, reduced: &[bool], counts: &[usize]) -> ChunkGrid {
    let axes = (0..reduced.len()).map(|a| match reduced[a] {
        true => AxisChunks::regular(counts[a], 1),
        false => input.axis(a).clone(),
    });
    ChunkGrid::from_axes(axes.collect())
}

/// The partials (of a level with `counts` per reduced axis) that partial `block` of the
/// next level combines: `fan` per reduced axis, in C order.
fn group(
    reduced: &[bool],
    counts: &[usize],
    fan: usize,
    block: &[usize],
) -> Vec<(usize, Vec<usize>)> {
    let ranges: Vec<_> = (0..reduced.len())
        .map(|a| match reduced[a] {
            true => block[a] * fan..(block[a] * fan).saturating_add(fan).min(counts[a]),
            false => block[a]..block[a] + 1,
        })
        .collect();
    box_indices(&ranges).map(|b| (0, b)).collect()
}

/// A user reduction of `array` as `how` says (axes, `keepdims`, `split_every`), Dask's
/// `da.reduction(x, chunk, aggregate, combine=...)`:
///
/// - `chunk(block, axes)` maps each block to a partial result of element type `P` with the
///   reduced `axes` kept as length 1 (the other axes as the block's);
/// - `combine(partials, axes)` merges a **list** of partials (at most `split_every`, in C
///   order of their blocks) into one partial of the same shape; it is not called when
///   every reduced axis has at most the fan-in of blocks;
/// - `aggregate(partials, axes)` turns the last list of partials into the result block,
///   still with the reduced axes as length 1 (they are removed afterwards unless
///   `keepdims`).
///
/// `axes` are the reduced axes, sorted, non-negative. Partials are handed over as lists,
/// not concatenated: nothing is copied, and a task holds its partials and its output only.
/// Each reduced axis combines `split_every^(1/k)` partials per task (k reduced axes, at
/// least 2), as the built-in reductions do. Errors from any of the functions become
/// [`ExecError::UserFunction`](crate::ExecError::UserFunction) naming the stage and block;
/// results of the wrong shape are errors too.
///
/// A sum of squares over axis 0:
/// ```
/// use chunkwise::{Reduction, reduction};
/// use ndarray::{ArrayD, Axis};
/// let x = chunkwise::arange::<f64>(0.0, 12.0, 1.0, [2])?;
/// let add = |parts: &[&ArrayD<f64>], _: &[usize]| -> chunkwise::BlockResult<f64> {
///     Ok(parts[1..].iter().fold(parts[0].clone(), |acc, p| acc + *p))
/// };
/// let ss = reduction(
///     &x,
///     |b, _| Ok(b.mapv(|v| v * v).sum_axis(Axis(0)).insert_axis(Axis(0))),
///     add,
///     add,
///     &Reduction::axis(0).split_every(2),
/// )?;
/// assert_eq!(ss.compute_scalar()?, 506.0);
/// # Ok::<(), chunkwise::Error>(())
/// ```
pub fn reduction<T: Element, P: Element, U: Element>(
    array: &Array<T>,
    chunk: impl Fn(&ArrayD<T>, &[usize]) -> BlockResult<P> + Send + Sync + 'static,
    combine: impl Fn(&[&ArrayD<P>], &[usize]) -> BlockResult<P> + Send + Sync + 'static,
    aggregate: impl Fn(&[&ArrayD<P>], &[usize]) -> BlockResult<U> + Send + Sync + 'static,
    how: &Reduction,
) -> Result<Array<U>> {
    array.check()?;
    let reduced = reduced_axes(how.axes.as_deref(), array.ndim(), "reduction")?;
    if how.split_every < 2 {
        let why = format!("split_every must be at least 2, got {}", how.split_every);
        return Err(invalid("reduction", why));
    }
    let axes: Arc<[usize]> = (0..reduced.len()).filter(|&a| reduced[a]).collect();
    let fan = fan_in(how.split_every, axes.len());
    let input = array.chunks().clone();
    let mut counts = input.nblocks();
    let grid = partial_grid(&input, &reduced, &counts);
    let chunk_axes = axes.clone();
    let mut node = blockwise("reduction chunk", grid, P::DTYPE, vec![array.node.clone()])
        .arrays::<T, P>(
            |block| vec![(0, block.to_vec())],
            move |block, tiles| user_tile("reduction chunk", block, chunk(tiles[0], &chunk_axes)),
        );
    let combine = Arc::new(combine);
    while (0..reduced.len()).any(|a| reduced[a] && counts[a] > fan) {
        let next: Vec<usize> = (0..reduced.len())
            .map(|a| {
                if reduced[a] {
                    counts[a].div_ceil(fan)
                } else {
                    counts[a]
                }
            })
            .collect();
        let (deps_reduced, deps_counts) = (reduced.clone(), counts.clone());
        let (combine, axes) = (combine.clone(), axes.clone());
        let grid = partial_grid(&input, &reduced, &next);
        node = blockwise("reduction combine", grid, P::DTYPE, vec![node]).arrays::<P, P>(
            move |block| group(&deps_reduced, &deps_counts, fan, block),
            move |block, tiles| user_tile("reduction combine", block, combine(tiles, &axes)),
        );
        counts = next;
    }
    let keepdims = how.keepdims;
    let out_axes = (0..reduced.len()).filter_map(|a| match (reduced[a], keepdims) {
        (false, _) => Some(input.axis(a).clone()),
        (true, true) => Some(AxisChunks::single(1)),
        (true, false) => None,
    });
    let grid = ChunkGrid::from_axes(out_axes.collect());
    // A result block's index (or shape) with the reduced axes kept (as 0).
    let kept_reduced = reduced.clone();
    let kept = Arc::new(move |out: &[usize]| -> Vec<usize> {
        let mut out = out.iter().copied();
        let full = kept_reduced.iter().map(|&r| {
            let next = match r && !keepdims {
                true => None,
                false => out.next(),
            };
            if r { 0 } else { next.unwrap_or(0) }
        });
        full.collect()
    });
    let deps_kept = kept.clone();
    let node = blockwise("reduction aggregate", grid, U::DTYPE, vec![node]).arrays::<P, U>(
        move |block| group(&reduced, &counts, usize::MAX, &deps_kept(block)),
        move |block, tiles| {
            let index = kept(block.index);
            let mut shape = kept(block.shape);
            for &a in axes.iter() {
                shape[a] = 1;
            }
            let whole = Block {
                index: &index,
                shape: &shape,
            };
            let mut result = user_tile("reduction aggregate", &whole, aggregate(tiles, &axes))?;
            if !keepdims {
                for &a in axes.iter().rev() {
                    result = result.remove_axis(Axis(a));
                }
            }
            Ok(result)
        },
    );
    Ok(Array::from_node(node))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fan_in_splits_evenly_over_reduced_axes() {
        assert_eq!(fan_in(16, 1), 16);
        assert_eq!(fan_in(16, 2), 4);
        assert_eq!(fan_in(16, 3), 2);
        assert_eq!(fan_in(2, 2), 2);
        assert_eq!(fan_in(9, 0), 9);
    }

    #[test]
    fn groups_cover_each_partial_once_in_c_order() {
        let (reduced, counts) = ([true, false, true], [5, 3, 2]);
        let block = [2, 1, 0];
        let deps: Vec<Vec<usize>> = group(&reduced, &counts, 2, &block)
            .into_iter()
            .map(|(input, b)| {
                assert_eq!(input, 0);
                b
            })
            .collect();
        // Axis 0: partials 4..5 (the last, short group); axis 2: 0..2; axis 1 kept.
        assert_eq!(deps, vec![vec![4, 1, 0], vec![4, 1, 1]]);
        let all = group(&reduced, &counts, usize::MAX, &[0, 2, 0]);
        assert_eq!(all.len(), 10);
    }
}

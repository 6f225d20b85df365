//! `block`: an array assembled from nested lists of arrays, as NumPy's `np.block`, by
//! joins of their tiles ([`concatenate`] at each level).

use chunkwise_kernels::dtype::Element;

use super::Array;
use super::map_blocks::invalid;
use super::structure::concatenate;
use crate::error::Result;

/// Nested lists of arrays for [`block_nested`]: the innermost lists are joined along the
/// last axis, the lists of those along the axis before it, and so on.
#[derive(Clone, Debug)]
pub enum Block<'a, T: Element> {
    /// One array.
    Array(&'a Array<T>),
    /// A list of blocks, all of the same depth.
    List(Vec<Block<'a, T>>),
}

impl<T: Element> Block<'_, T> {
    /// How deep the lists go (0 for an array), or an error for lists of different depths
    /// or empty ones.
    fn depth(&self) -> Result<usize> {
        let Block::List(items) = self else {
            return Ok(0);
        };
        let depths = items.iter().map(Block::depth).collect::<Result<Vec<_>>>()?;
        match depths.split_first() {
            None => Err(invalid("block", "an empty list".into())),
            Some((first, rest)) if rest.iter().all(|d| d == first) => Ok(first + 1),
            Some(_) => Err(invalid(
                "block",
                format!("lists of depths {depths:?} side by side (they must be equal)"),
            )),
        }
    }

    /// The most axes of an array in the block.
    fn max_ndim(&self) -> usize {
        match self {
            Block::Array(a) => a.ndim(),
            Block::List(items) => items.iter().map(Block::max_ndim).max().unwrap_or(0),
        }
    }

    /// The block as an array of `ndim` axes, its lists (`depth` deep) joined from the
    /// axis `ndim - depth` on.
    fn assemble(&self, depth: usize, ndim: usize) -> Result<Array<T>> {
        match self {
            Block::Array(a) => {
                let lead: Vec<isize> = (0..(ndim - a.ndim()) as isize).collect();
                a.expand_dims(&lead)
            }
            Block::List(items) => {
                let parts = items
                    .iter()
                    .map(|b| b.assemble(depth - 1, ndim))
                    .collect::<Result<Vec<_>>>()?;
                let refs: Vec<&Array<T>> = parts.iter().collect();
                concatenate(&refs, -(depth as isize))
            }
        }
    }
}

/// The array made of nested lists of arrays, as NumPy's `np.block`: arrays with fewer
/// axes than the result (the most axes of any array, at least the depth of the lists) get
/// leading axes of length 1; the innermost lists are joined along the last axis, the next
/// level along the axis before it, and so on. Tiles are passed on as they are.
///
/// ```
/// use chunkwise::Block;
/// let a = chunkwise::ones::<f64>(&[2, 2], [2, 2]).unwrap();
/// let b = chunkwise::zeros::<f64>(&[2, 3], [2, 3]).unwrap();
/// let c = chunkwise::zeros::<f64>(&[1, 5], [1, 5]).unwrap();
/// let rows = Block::List(vec![
///     Block::List(vec![Block::Array(&a), Block::Array(&b)]),
///     Block::List(vec![Block::Array(&c)]),
/// ]);
/// let m = chunkwise::block_nested(&rows).unwrap();
/// assert_eq!(m.shape(), vec![3, 5]);
/// ```
pub fn block_nested<T: Element>(blocks: &Block<'_, T>) -> Result<Array<T>> {
    let depth = blocks.depth()?;
    blocks.assemble(depth, blocks.max_ndim().max(depth))
}

/// A 2-level [`block_nested`]: `rows[i][j]` are joined along the last axis within each row,
/// then the rows along the axis before it (NumPy's `np.block([[a, b], [c, d]])`).
///
/// ```
/// let a = chunkwise::arange::<i64>(0, 2, 1, [2]).unwrap();
/// let b = chunkwise::arange::<i64>(2, 4, 1, [2]).unwrap();
/// let m = chunkwise::block(&[&[&a, &b], &[&b, &a]]).unwrap();
/// assert_eq!(m.compute().unwrap(), ndarray::arr2(&[[0, 1, 2, 3], [2, 3, 0, 1]]).into_dyn());
/// ```
pub fn block<T: Element>(rows: &[&[&Array<T>]]) -> Result<Array<T>> {
    let nested = rows
        .iter()
        .map(|row| Block::List(row.iter().map(|&a| Block::Array(a)).collect()))
        .collect();
    block_nested(&Block::List(nested))
}

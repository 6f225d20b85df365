//! `unique` as a tree on the blockwise builder: level 0 finds the distinct values (and
//! their counts) of each input tile, each level above merges up to `split_every` sorted
//! lists of the level below, until one is left. Each level is a node on a 1-d grid of
//! blocks of length 1 (the input blocks in C order at level 0); its tiles are [`Distinct`]
//! lists, not arrays.

use std::any::Any;
use std::sync::Arc;

use chunkwise_kernels::dtype::{DType, Element, Strip};
use chunkwise_kernels::unique::{
    Counted, distinct, distinct_scratch, merge_distinct, unique_order,
};

use super::blockwise::{Block, blockwise};
use crate::chunks::{AxisChunks, ChunkGrid, unravel};
use crate::error::{Error, ExecError, Result};
use crate::graph::{Node, fan_in};
use crate::tile::encode::Writer;
use crate::tile::{TileData, TileMemory, Value, tile_of};

/// The sorted distinct values of some input tiles and their counts, as a tile of a
/// `unique` tree (of the block's shape, `[1]`).
#[derive(Debug)]
pub(crate) struct Distinct<T> {
    pub(crate) counted: Counted<T>,
    shape: Vec<usize>,
}

impl<T: Element> TileData for Distinct<T> {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn nbytes(&self) -> usize {
        self.counted.nbytes()
    }
    fn strip(&self) -> Option<Strip<'_>> {
        None
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn describe(&self) -> String {
        format!("{} distinct {} values", self.counted.len(), T::DTYPE)
    }
    /// Distinct lists stay in the process that made them (no executor moves them yet).
    fn encode_into(&self, _: &mut Writer) -> Result<()> {
        Err(Error::Exec(ExecError::TileEncoding(format!(
            "{} have no encoding",
            self.describe()
        ))))
    }
}

/// The node whose one tile is the [`Distinct`] values of all of `input` (of those where
/// `mask`, on `input`'s grid, is true, if given), merged in a tree of fan-in `split_every`
/// (at least 2).
pub(crate) fn distinct_tree<T: Element>(
    input: &Arc<Node>,
    mask: Option<&Arc<Node>>,
    split_every: usize,
) -> Arc<Node> {
    let fan = fan_in(split_every, 1);
    let nblocks = input.grid.nblocks();
    let tile_lens: Vec<u64> = (0..input.grid.n_blocks())
        .map(|b| {
            let shape = input.grid.block_shape(&unravel(b, &nblocks));
            shape.iter().product::<usize>() as u64
        })
        .collect();
    // Per block of the level: at most this many distinct values.
    let mut bounds: Vec<u64> = tile_lens.iter().map(|&n| most_distinct::<T>(n)).collect();
    let tile_bounds = bounds.clone();
    let masked = mask.is_some();
    let inputs: Vec<Arc<Node>> = [input].into_iter().chain(mask).cloned().collect();
    let mut node = blockwise("unique (tile)", marks(bounds.len()), T::DTYPE, inputs)
        .memory(move |block| {
            let len = tile_lens[block.index[0]];
            // A masked tile's selected values are copied first.
            let selected = if masked {
                len * size_of::<T>() as u64
            } else {
                0
            };
            TileMemory {
                output: list_bytes::<T>(tile_bounds[block.index[0]]),
                scratch: selected + distinct_scratch::<T>(len as usize),
            }
        })
        .run(
            move |block| {
                let index = unravel(block[0], &nblocks);
                match masked {
                    true => vec![(0, index.clone()), (1, index)],
                    false => vec![(0, index)],
                }
            },
            |block, tiles| {
                let tile = tiles[0].array::<T>()?;
                let counted = match tiles.get(1) {
                    Some(mask) => {
                        let mask = mask.array::<bool>()?;
                        let picked: Vec<T> = tile
                            .iter()
                            .zip(mask.iter())
                            .filter_map(|(&v, &keep)| keep.then_some(v))
                            .collect();
                        distinct(&picked)
                    }
                    None => match tile.as_slice() {
                        Some(values) => distinct(values),
                        None => distinct(&tile.iter().copied().collect::<Vec<T>>()),
                    },
                };
                Ok(distinct_tile(block, counted))
            },
        );
    while bounds.len() > 1 {
        let below = bounds.len();
        let next: Vec<u64> = bounds
            .chunks(fan)
            .map(|group| most_distinct::<T>(group.iter().sum()))
            .collect();
        let merged_bounds = next.clone();
        node = blockwise("unique (merge)", marks(next.len()), T::DTYPE, vec![node])
            .memory(move |block| TileMemory {
                output: list_bytes::<T>(merged_bounds[block.index[0]]),
                scratch: 0,
            })
            .run(
                move |block| {
                    let first = block[0] * fan;
                    (first..(first + fan).min(below))
                        .map(|j| (0, vec![j]))
                        .collect()
                },
                |block, tiles| {
                    let lists = tiles
                        .iter()
                        .map(|t| Ok(&t.get::<Distinct<T>>()?.counted))
                        .collect::<Result<Vec<_>>>()?;
                    Ok(distinct_tile(block, merge_distinct(&lists)))
                },
            );
        bounds = next;
    }
    node
}

/// Per element of `values`, the index of its value in the one [`Distinct`] tile of `top`
/// (the distinct values of `values`, from [`distinct_tree`]), on `values`' grid.
pub(crate) fn inverse_indices<T: Element>(values: &Arc<Node>, top: &Arc<Node>) -> Arc<Node> {
    let inputs = vec![values.clone(), top.clone()];
    blockwise("unique (inverse)", values.grid.clone(), DType::U64, inputs).run(
        |block| vec![(0, block.to_vec()), (1, vec![0])],
        |block, tiles| {
            let tile = tiles[0].array::<T>()?;
            let found = &tiles[1].get::<Distinct<T>>()?.counted.values;
            let index = |x: &T| {
                found
                    .binary_search_by(|v| unique_order(v, x))
                    .map_err(|_| {
                        Error::Exec(ExecError::TileType {
                            expected: "a value among the distinct values".into(),
                            found: "a value the distinct values miss".into(),
                        })
                    })
                    .map(|i| i as u64)
            };
            let indices = tile.iter().map(index).collect::<Result<Vec<u64>>>()?;
            Ok(tile_of(indices, block.shape))
        },
    )
}

/// A 1-d grid of `n` blocks of length 1.
fn marks(n: usize) -> ChunkGrid {
    ChunkGrid::from_axes(vec![AxisChunks::regular(n, 1)])
}

/// At most how many distinct values `n` values of `T` hold: `n`, or fewer for types of one
/// or two bytes (256 or 65536 values at most).
fn most_distinct<T: Element>(n: u64) -> u64 {
    match size_of::<T>() {
        1 => n.min(1 << 8),
        2 => n.min(1 << 16),
        _ => n,
    }
}

/// Bytes of a list of `n` distinct values of `T` with their counts.
fn list_bytes<T: Element>(n: u64) -> u64 {
    n * (size_of::<T>() + size_of::<u64>()) as u64
}

/// `counted` as the tile of `block`.
fn distinct_tile<T: Element>(block: &Block<'_>, counted: Counted<T>) -> Value {
    Arc::new(Distinct {
        counted,
        shape: block.shape.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_distinct_tile_reports_its_block_and_refuses_encoding() {
        let tile = Distinct {
            counted: distinct(&[3i64, 1, 3]),
            shape: vec![1],
        };
        assert_eq!(tile.shape(), &[1]);
        assert!(tile.strip().is_none());
        assert_eq!(tile.nbytes(), 2 * (8 + 8));
        assert_eq!(tile.describe(), "2 distinct int64 values");
        let value: Value = Arc::new(tile);
        assert!(matches!(
            crate::tile::encode::encode(&value),
            Err(Error::Exec(ExecError::TileEncoding(_)))
        ));
    }

    #[test]
    fn bounds_are_capped_by_the_values_a_type_holds() {
        assert_eq!(most_distinct::<u8>(10_000), 256);
        assert_eq!(most_distinct::<bool>(3), 3);
        assert_eq!(most_distinct::<i16>(1 << 20), 1 << 16);
        assert_eq!(most_distinct::<f32>(1 << 20), 1 << 20);
        assert_eq!(list_bytes::<u16>(10), 100);
    }
}

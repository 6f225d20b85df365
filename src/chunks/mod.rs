//! Chunk-grid arithmetic: regular and irregular chunks, `auto` chunking to a byte target,
//! block index to element ranges, and unifying grids for broadcasting.

use std::ops::Range;

use crate::error::{BuildError, Error, Result};

/// The default tile size that `Chunks::Auto` aims for: 128 MiB.
pub const DEFAULT_TILE_BYTES: usize = 128 << 20;

/// How a caller asks for chunks.
///
/// ```
/// use chunkwise::Chunks;
/// let regular: Chunks = [100, 50].into();
/// let irregular = Chunks::Sizes(vec![vec![3, 3, 4]]);
/// let auto = Chunks::Auto;
/// # let _ = (regular, irregular, auto);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Chunks {
    /// Tiles of about [`DEFAULT_TILE_BYTES`].
    Auto,
    /// Tiles of about this many bytes.
    Bytes(usize),
    /// The same chunk length along each axis (the last chunk may be shorter).
    Shape(Vec<usize>),
    /// Explicit chunk lengths per axis (they must add up to the axis length).
    Sizes(Vec<Vec<usize>>),
}

impl From<Vec<usize>> for Chunks {
    fn from(shape: Vec<usize>) -> Chunks {
        Chunks::Shape(shape)
    }
}

impl From<&[usize]> for Chunks {
    fn from(shape: &[usize]) -> Chunks {
        Chunks::Shape(shape.to_vec())
    }
}

impl<const N: usize> From<[usize; N]> for Chunks {
    fn from(shape: [usize; N]) -> Chunks {
        Chunks::Shape(shape.to_vec())
    }
}

/// The tile grid of an array: chunk lengths per axis.
///
/// ```
/// use chunkwise::ChunkGrid;
/// let grid = ChunkGrid::regular(&[10, 4], &[4, 4]).unwrap();
/// assert_eq!(grid.chunks(), &[vec![4, 4, 2], vec![4]]);
/// assert_eq!(grid.block_ranges(&[2, 0]), vec![8..10, 0..4]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChunkGrid {
    chunks: Vec<Vec<usize>>,
    /// Per axis, the start of each chunk (plus the axis length at the end).
    offsets: Vec<Vec<usize>>,
}

impl ChunkGrid {
    /// The grid for `shape` that `spec` asks for, with `itemsize`-byte elements.
    pub fn new(shape: &[usize], spec: &Chunks, itemsize: usize) -> Result<ChunkGrid> {
        match spec {
            Chunks::Auto => Ok(Self::auto(shape, itemsize, DEFAULT_TILE_BYTES)),
            Chunks::Bytes(target) => Ok(Self::auto(shape, itemsize, *target)),
            Chunks::Shape(chunk_shape) => Self::regular(shape, chunk_shape),
            Chunks::Sizes(sizes) => Self::from_sizes(shape, sizes.clone()),
        }
    }

    /// Regular chunks of `chunk_shape` (the last chunk along an axis may be shorter).
    pub fn regular(shape: &[usize], chunk_shape: &[usize]) -> Result<ChunkGrid> {
        let invalid = |reason: String| {
            Error::Build(BuildError::InvalidChunks {
                shape: shape.to_vec(),
                chunks: vec![chunk_shape.to_vec()],
                reason,
            })
        };
        if chunk_shape.len() != shape.len() {
            return Err(invalid(format!(
                "{} chunk lengths for {} axes",
                chunk_shape.len(),
                shape.len()
            )));
        }
        let mut chunks = Vec::with_capacity(shape.len());
        for (axis, (&len, &c)) in shape.iter().zip(chunk_shape).enumerate() {
            if len == 0 {
                chunks.push(vec![0]);
                continue;
            }
            if c == 0 {
                return Err(invalid(format!(
                    "chunk length 0 on axis {axis} of length {len}"
                )));
            }
            let mut sizes = vec![c; len / c];
            if len % c != 0 {
                sizes.push(len % c);
            }
            chunks.push(sizes);
        }
        Ok(Self::from_valid(chunks))
    }

    /// Explicit chunk lengths per axis; they must add up to each axis length, and only a
    /// zero-length axis may have a zero-length chunk.
    pub fn from_sizes(shape: &[usize], chunks: Vec<Vec<usize>>) -> Result<ChunkGrid> {
        let invalid = |reason: String| {
            Error::Build(BuildError::InvalidChunks {
                shape: shape.to_vec(),
                chunks: chunks.clone(),
                reason,
            })
        };
        if chunks.len() != shape.len() {
            return Err(invalid(format!(
                "{} axes of chunks for {} axes",
                chunks.len(),
                shape.len()
            )));
        }
        for (axis, (sizes, &len)) in chunks.iter().zip(shape).enumerate() {
            let total: usize = sizes.iter().sum();
            if total != len {
                return Err(invalid(format!(
                    "chunks on axis {axis} add up to {total}, the axis has length {len}"
                )));
            }
            if sizes.is_empty() {
                return Err(invalid(format!("no chunk on axis {axis}")));
            }
            if len > 0 && sizes.contains(&0) {
                return Err(invalid(format!("zero-length chunk on axis {axis}")));
            }
        }
        Ok(Self::from_valid(chunks))
    }

    /// Chunks of about `target_bytes` per tile: the longest chunk axis is halved until a
    /// tile fits, so tiles stay as square as the shape allows.
    pub fn auto(shape: &[usize], itemsize: usize, target_bytes: usize) -> ChunkGrid {
        let mut chunk: Vec<usize> = shape.iter().map(|&n| n.max(1)).collect();
        let target = (target_bytes / itemsize.max(1)).max(1);
        while chunk.iter().product::<usize>() > target {
            let (axis, _) = chunk
                .iter()
                .enumerate()
                .max_by_key(|&(i, &c)| (c, usize::MAX - i))
                .expect("the product of no chunk is 1, which fits");
            chunk[axis] = chunk[axis].div_ceil(2);
        }
        Self::regular(shape, &chunk).expect("auto chunks are positive and match the rank")
    }

    /// A grid with one tile of the whole shape.
    pub fn single(shape: &[usize]) -> ChunkGrid {
        Self::from_valid(shape.iter().map(|&n| vec![n]).collect())
    }

    pub(crate) fn from_valid(chunks: Vec<Vec<usize>>) -> ChunkGrid {
        let offsets = chunks
            .iter()
            .map(|sizes| {
                let mut acc = 0;
                let mut offs = Vec::with_capacity(sizes.len() + 1);
                offs.push(0);
                for &s in sizes {
                    acc += s;
                    offs.push(acc);
                }
                offs
            })
            .collect();
        ChunkGrid { chunks, offsets }
    }

    /// Chunk lengths per axis.
    pub fn chunks(&self) -> &[Vec<usize>] {
        &self.chunks
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.chunks.len()
    }

    /// The array shape this grid tiles.
    pub fn shape(&self) -> Vec<usize> {
        self.offsets
            .iter()
            .map(|o| *o.last().expect("offsets start at 0"))
            .collect()
    }

    /// Number of blocks per axis.
    pub fn nblocks(&self) -> Vec<usize> {
        self.chunks.iter().map(Vec::len).collect()
    }

    /// Total number of blocks.
    pub fn n_blocks(&self) -> usize {
        self.chunks.iter().map(Vec::len).product()
    }

    /// Shape of block `block`.
    pub fn block_shape(&self, block: &[usize]) -> Vec<usize> {
        block
            .iter()
            .zip(&self.chunks)
            .map(|(&b, sizes)| sizes[b])
            .collect()
    }

    /// Global index of block `block`'s first element.
    pub fn block_origin(&self, block: &[usize]) -> Vec<usize> {
        block
            .iter()
            .zip(&self.offsets)
            .map(|(&b, offs)| offs[b])
            .collect()
    }

    /// Element ranges of block `block`, per axis.
    pub fn block_ranges(&self, block: &[usize]) -> Vec<Range<usize>> {
        block
            .iter()
            .zip(&self.offsets)
            .map(|(&b, offs)| offs[b]..offs[b + 1])
            .collect()
    }

    /// Start offsets of the chunks along `axis`, followed by the axis length.
    pub fn offsets(&self, axis: usize) -> &[usize] {
        &self.offsets[axis]
    }

    /// The largest number of elements in one tile.
    pub fn max_tile_len(&self) -> usize {
        self.chunks
            .iter()
            .map(|s| s.iter().copied().max().unwrap_or(0))
            .product()
    }

    /// The block along `axis` that holds element `index`.
    pub fn block_of(&self, axis: usize, index: usize) -> usize {
        let offs = &self.offsets[axis];
        offs.partition_point(|&o| o <= index)
            .saturating_sub(1)
            .min(self.chunks[axis].len() - 1)
    }

    /// The blocks along `axis` that hold elements of `range` (the block at its start for an
    /// empty range, so that every tile depends on at least one input block).
    pub(crate) fn blocks_overlapping(&self, axis: usize, range: &Range<usize>) -> Range<usize> {
        let last = range.end.max(range.start + 1) - 1;
        self.block_of(axis, range.start)..self.block_of(axis, last) + 1
    }

    /// The blocks of this grid that hold elements of `ranges`, per axis.
    pub(crate) fn blocks_overlapping_all(&self, ranges: &[Range<usize>]) -> Vec<Range<usize>> {
        ranges
            .iter()
            .enumerate()
            .map(|(axis, r)| self.blocks_overlapping(axis, r))
            .collect()
    }

    /// All block indices in C order.
    pub fn blocks(&self) -> impl Iterator<Item = Vec<usize>> + '_ {
        let nb = self.nblocks();
        let total: usize = nb.iter().product();
        (0..total).map(move |flat| unravel(flat, &nb))
    }
}

/// The multi-index of flat C-order index `flat` in `shape`.
pub(crate) fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for axis in (0..shape.len()).rev() {
        idx[axis] = flat % shape[axis].max(1);
        flat /= shape[axis].max(1);
    }
    idx
}

/// Every index in the box `ranges` (one range per axis), in C order.
pub(crate) fn box_indices(ranges: &[Range<usize>]) -> impl Iterator<Item = Vec<usize>> + '_ {
    let counts: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
    let total: usize = counts.iter().product();
    (0..total).map(move |flat| {
        unravel(flat, &counts)
            .into_iter()
            .zip(ranges)
            .map(|(o, r)| r.start + o)
            .collect()
    })
}

/// The flat C-order index of `idx` in `shape`.
pub(crate) fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |acc, (&i, &n)| acc * n + i)
}

/// The common refinement of two chunkings of one axis: every boundary of either.
pub(crate) fn refine(a: &[usize], b: &[usize]) -> Vec<usize> {
    let bounds = |sizes: &[usize]| {
        sizes
            .iter()
            .scan(0, |acc, &s| {
                *acc += s;
                Some(*acc)
            })
            .collect::<Vec<_>>()
    };
    let (ba, bb) = (bounds(a), bounds(b));
    let mut all: Vec<usize> = ba.iter().chain(&bb).copied().collect();
    all.sort_unstable();
    all.dedup();
    let mut prev = 0;
    let mut out = Vec::with_capacity(all.len());
    for edge in all {
        if edge > prev {
            out.push(edge - prev);
            prev = edge;
        }
    }
    if out.is_empty() {
        out.push(0);
    }
    out
}

/// NumPy broadcasting of two shapes.
pub(crate) fn broadcast_shapes(op: &str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let ndim = a.len().max(b.len());
    let pad = |s: &[usize]| -> Vec<usize> {
        std::iter::repeat_n(1, ndim - s.len())
            .chain(s.iter().copied())
            .collect()
    };
    let (pa, pb) = (pad(a), pad(b));
    pa.iter()
        .zip(&pb)
        .map(|(&x, &y)| match (x, y) {
            _ if x == y => Ok(x),
            (1, _) => Ok(y),
            (_, 1) => Ok(x),
            _ => Err(Error::Build(BuildError::Broadcast {
                op: op.to_string(),
                left: a.to_vec(),
                right: b.to_vec(),
            })),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_and_irregular_grids() {
        let g = ChunkGrid::regular(&[10, 0, 3], &[4, 5, 3]).unwrap();
        assert_eq!(g.chunks(), &[vec![4, 4, 2], vec![0], vec![3]]);
        assert_eq!(g.shape(), vec![10, 0, 3]);
        assert_eq!(g.n_blocks(), 3);
        assert_eq!(g.block_of(0, 9), 2);
        assert_eq!(g.block_of(0, 4), 1);
        let g = ChunkGrid::from_sizes(&[7], vec![vec![2, 5]]).unwrap();
        assert_eq!(g.block_origin(&[1]), vec![2]);
        assert!(matches!(
            ChunkGrid::from_sizes(&[7], vec![vec![2, 4]]),
            Err(Error::Build(BuildError::InvalidChunks { .. }))
        ));
        assert!(matches!(
            ChunkGrid::regular(&[7], &[0]),
            Err(Error::Build(BuildError::InvalidChunks { .. }))
        ));
        assert!(matches!(
            ChunkGrid::regular(&[7], &[1, 1]),
            Err(Error::Build(BuildError::InvalidChunks { .. }))
        ));
        let zero_d = ChunkGrid::regular(&[], &[]).unwrap();
        assert_eq!(zero_d.n_blocks(), 1);
        assert_eq!(
            zero_d.blocks().collect::<Vec<_>>(),
            vec![Vec::<usize>::new()]
        );
    }

    #[test]
    fn auto_chunks_fit_the_target() {
        let g = ChunkGrid::auto(&[20000, 20000], 8, 32 << 20);
        assert!(g.max_tile_len() * 8 <= 32 << 20);
        assert!(g.max_tile_len() * 8 > 8 << 20, "{:?}", g.chunks()[0][0]);
        let small = ChunkGrid::auto(&[10, 10], 8, 1 << 20);
        assert_eq!(small.n_blocks(), 1);
    }

    #[test]
    fn refinement_and_broadcast() {
        assert_eq!(refine(&[4, 4, 2], &[5, 5]), vec![4, 1, 3, 2]);
        assert_eq!(refine(&[0], &[0]), vec![0]);
        assert_eq!(
            broadcast_shapes("t", &[3, 1, 5], &[4, 1]).unwrap(),
            vec![3, 4, 5]
        );
        assert!(broadcast_shapes("t", &[3], &[4]).is_err());
        assert_eq!(broadcast_shapes("t", &[], &[2]).unwrap(), vec![2]);
    }
}

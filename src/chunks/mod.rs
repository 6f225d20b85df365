//! Chunk-grid arithmetic: regular and irregular chunks, `auto` chunking to a byte target,
//! block index to element ranges, and unifying grids for broadcasting.

use std::ops::Range;

use ndarray::{ArrayBase, IxDyn, RawData, Slice};

use crate::error::{BuildError, Error, Result};

mod axis;
mod broadcast;
mod groups;
mod reshape;
mod stored;
mod view;

pub(crate) use axis::AxisChunks;
pub(crate) use broadcast::{broadcast_deps, broadcast_grids, broadcast_target};
pub use groups::GroupMethod;
pub(crate) use groups::{GroupLayout, NO_GROUP};
pub(crate) use reshape::ReshapePlan;
pub(crate) use stored::{chunk_counts, clipped_lengths, is_multiple_shape};
pub(crate) use view::{Pieces, SourceAxis, View};

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
/// A regular axis (all chunks of one length but the last) is held as its length and chunk
/// length, so a grid costs O(rank) however many tiles it has; only irregular axes list
/// their chunks. Lookups (`block_ranges`, `block_of`, ...) never list the chunks.
///
/// ```
/// use chunkwise::ChunkGrid;
/// let grid = ChunkGrid::regular(&[10, 4], &[4, 4]).unwrap();
/// assert_eq!(grid.chunks(), &[vec![4, 4, 2], vec![4]]);
/// assert_eq!(grid.block_ranges(&[2, 0]), vec![8..10, 0..4]);
/// let huge = ChunkGrid::regular(&[1 << 40, 1 << 40], &[1000, 1000]).unwrap();
/// assert_eq!(huge.block_ranges(&[5, 0]), vec![5000..6000, 0..1000]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChunkGrid {
    axes: Vec<AxisChunks>,
}

impl ChunkGrid {
    /// The grid for `shape` that `spec` asks for, with `itemsize`-byte elements. A shape
    /// whose size in bytes exceeds `isize::MAX` is refused (`BuildError::TooLarge`).
    pub fn new(shape: &[usize], spec: &Chunks, itemsize: usize) -> Result<ChunkGrid> {
        check_size(shape, itemsize)?;
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
        let mut axes = Vec::with_capacity(shape.len());
        for (axis, (&len, &c)) in shape.iter().zip(chunk_shape).enumerate() {
            if len > 0 && c == 0 {
                return Err(invalid(format!(
                    "chunk length 0 on axis {axis} of length {len}"
                )));
            }
            axes.push(AxisChunks::regular(len, c));
        }
        Ok(ChunkGrid { axes })
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
            let total = sizes.iter().try_fold(0usize, |acc, &s| acc.checked_add(s));
            if total != Some(len) {
                let total = total.map_or("more than usize::MAX".into(), |t| t.to_string());
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
        let fits = |chunk: &[usize]| {
            chunk
                .iter()
                .try_fold(1usize, |acc, &c| acc.checked_mul(c))
                .is_some_and(|len| len <= target)
        };
        while !fits(&chunk) {
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
        ChunkGrid {
            axes: shape.iter().map(|&n| AxisChunks::single(n)).collect(),
        }
    }

    /// The grid of valid chunk lists (checked by the caller).
    pub(crate) fn from_valid(chunks: Vec<Vec<usize>>) -> ChunkGrid {
        ChunkGrid {
            axes: chunks.into_iter().map(AxisChunks::from_sizes).collect(),
        }
    }

    /// The grid of these axes.
    pub(crate) fn from_axes(axes: Vec<AxisChunks>) -> ChunkGrid {
        ChunkGrid { axes }
    }

    /// The chunks of `axis`.
    pub(crate) fn axis(&self, axis: usize) -> &AxisChunks {
        &self.axes[axis]
    }

    /// Chunk lengths per axis, listed: this costs memory per chunk along each axis, so it is
    /// meant for small grids (tests, printing); lookups have accessors of their own.
    pub fn chunks(&self) -> Vec<Vec<usize>> {
        self.axes.iter().map(AxisChunks::sizes).collect()
    }

    /// The chunk length along `axis` if that axis is regular (all chunks of this length
    /// but the last, which may be shorter).
    ///
    /// ```
    /// use chunkwise::ChunkGrid;
    /// let grid = ChunkGrid::from_sizes(&[10, 6], vec![vec![4, 4, 2], vec![2, 4]]).unwrap();
    /// assert_eq!(grid.regular_chunk(0), Some(4));
    /// assert_eq!(grid.regular_chunk(1), None);
    /// ```
    pub fn regular_chunk(&self, axis: usize) -> Option<usize> {
        self.axes[axis].regular_chunk()
    }

    /// Per axis, the chunk length of a regular axis or the list of an irregular one: the
    /// grid in words, without listing the chunks of regular axes.
    pub(crate) fn axis_texts(&self) -> Vec<String> {
        self.axes.iter().map(AxisChunks::text).collect()
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.axes.len()
    }

    /// The array shape this grid tiles.
    pub fn shape(&self) -> Vec<usize> {
        self.axes.iter().map(AxisChunks::len).collect()
    }

    /// Number of blocks per axis.
    pub fn nblocks(&self) -> Vec<usize> {
        self.axes.iter().map(AxisChunks::count).collect()
    }

    /// Total number of blocks (saturating at `usize::MAX`).
    pub fn n_blocks(&self) -> usize {
        self.axes
            .iter()
            .fold(1usize, |acc, a| acc.saturating_mul(a.count()))
    }

    /// Shape of block `block`.
    pub fn block_shape(&self, block: &[usize]) -> Vec<usize> {
        block
            .iter()
            .zip(&self.axes)
            .map(|(&b, axis)| axis.size(b))
            .collect()
    }

    /// Global index of block `block`'s first element.
    pub fn block_origin(&self, block: &[usize]) -> Vec<usize> {
        block
            .iter()
            .zip(&self.axes)
            .map(|(&b, axis)| axis.start(b))
            .collect()
    }

    /// Element ranges of block `block`, per axis.
    pub fn block_ranges(&self, block: &[usize]) -> Vec<Range<usize>> {
        block
            .iter()
            .zip(&self.axes)
            .map(|(&b, axis)| axis.range(b))
            .collect()
    }

    /// The length of chunk `b` along `axis`.
    pub fn chunk_len(&self, axis: usize, b: usize) -> usize {
        self.axes[axis].size(b)
    }

    /// The start of chunk `b` along `axis` (the axis length for `b` = the number of chunks).
    pub fn block_start(&self, axis: usize, b: usize) -> usize {
        self.axes[axis].start(b)
    }

    /// Start offsets of the chunks along `axis`, followed by the axis length (listed: for
    /// small grids; [`ChunkGrid::block_start`] looks one up).
    pub fn offsets(&self, axis: usize) -> Vec<usize> {
        let a = &self.axes[axis];
        (0..=a.count()).map(|b| a.start(b)).collect()
    }

    /// The largest number of elements in one tile (saturating at `usize::MAX`).
    pub fn max_tile_len(&self) -> usize {
        self.axes
            .iter()
            .fold(1usize, |acc, a| acc.saturating_mul(a.max_size()))
    }

    /// The block along `axis` that holds element `index`.
    pub fn block_of(&self, axis: usize, index: usize) -> usize {
        self.axes[axis].chunk_of(index)
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

    /// Per axis, the longest chunk length that divides every chunk boundary of this grid and
    /// of `other` (a grid of the same shape): a regular grid whose chunks lie each inside
    /// one chunk of both.
    pub(crate) fn common_chunk(&self, other: &ChunkGrid) -> Vec<usize> {
        let shape = self.shape();
        (0..self.ndim())
            .map(|axis| {
                self.offsets(axis)
                    .into_iter()
                    .chain(other.offsets(axis))
                    .filter(|&o| o < shape[axis])
                    .fold(shape[axis], axis::gcd)
                    .max(1)
            })
            .collect()
    }

    /// The blocks of this grid that block `block` of `other` (a grid of the same array)
    /// overlaps, in C order: the input tiles a regrid to `other` reads for that block.
    pub(crate) fn blocks_under(&self, other: &ChunkGrid, block: &[usize]) -> Vec<Vec<usize>> {
        box_indices(&self.blocks_overlapping_all(&other.block_ranges(block))).collect()
    }

    /// The grid of `region` (one range per axis, inside the shape) cut at this grid's chunk
    /// boundaries, so that each of its tiles lies in one chunk. Costs the number of chunks
    /// the region overlaps, not the grid's.
    pub(crate) fn restrict(&self, region: &[Range<usize>]) -> ChunkGrid {
        let axes = region
            .iter()
            .enumerate()
            .map(|(axis, r)| {
                let a = &self.axes[axis];
                let mut cuts: Vec<usize> = self
                    .blocks_overlapping(axis, r)
                    .map(|b| {
                        let chunk = a.range(b);
                        chunk
                            .end
                            .min(r.end)
                            .saturating_sub(chunk.start.max(r.start))
                    })
                    .filter(|&n| n > 0)
                    .collect();
                if cuts.is_empty() {
                    cuts.push(0);
                }
                AxisChunks::from_sizes(cuts)
            })
            .collect();
        ChunkGrid { axes }
    }

    /// Whether this is the regular grid of `chunk_shape` over its shape: every block has
    /// that shape, but the last along an axis, which is cut at the axis end.
    pub(crate) fn is_regular_of(&self, chunk_shape: &[usize]) -> bool {
        ChunkGrid::regular(&self.shape(), chunk_shape).is_ok_and(|regular| regular == *self)
    }

    /// All block indices in C order.
    pub fn blocks(&self) -> impl Iterator<Item = Vec<usize>> + '_ {
        let nb = self.nblocks();
        let total = self.n_blocks();
        (0..total).map(move |flat| unravel(flat, &nb))
    }
}

/// Checks that an array of `shape` with `itemsize`-byte elements can exist: its size in
/// bytes (counting an axis of length 0 as 1, so that its grid's block count fits too) must
/// not exceed `isize::MAX`, NumPy's limit and Rust's for one allocation. Returns the number
/// of elements.
pub(crate) fn check_size(shape: &[usize], itemsize: usize) -> Result<usize> {
    let bytes = shape
        .iter()
        .try_fold(itemsize.max(1), |acc, &n| acc.checked_mul(n.max(1)));
    match bytes {
        Some(b) if b <= isize::MAX as usize => Ok(shape.iter().product()),
        _ => Err(Error::Build(BuildError::TooLarge {
            shape: shape.to_vec(),
            itemsize,
        })),
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

/// Where two boxes of one array (one range per axis each) overlap: the overlap in the
/// local coordinates of `a`, and in those of `b` (empty ranges if they do not overlap).
pub(crate) fn overlap_local(
    a: &[Range<usize>],
    b: &[Range<usize>],
) -> (Vec<Range<usize>>, Vec<Range<usize>>) {
    a.iter()
        .zip(b)
        .map(|(a, b)| {
            let start = a.start.max(b.start);
            let end = a.end.min(b.end).max(start);
            (
                start - a.start..end - a.start,
                start - b.start..end - b.start,
            )
        })
        .unzip()
}

/// The shape of the box `ranges` (one range per axis).
pub(crate) fn box_shape(ranges: &[Range<usize>]) -> Vec<usize> {
    ranges.iter().map(|r| r.len()).collect()
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

/// The part of `view` (read-only or writable) inside `ranges`.
pub(crate) fn sub_view<S: RawData>(
    mut view: ArrayBase<S, IxDyn>,
    ranges: &[Range<usize>],
) -> ArrayBase<S, IxDyn> {
    view.slice_each_axis_inplace(|ax| {
        let r = &ranges[ax.axis.index()];
        Slice::from(r.start as isize..r.end as isize)
    });
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlaps_of_boxes_in_local_coordinates_and_blocks_under_another_grid() {
        let (in_a, in_b) = overlap_local(&[0..4, 2..6], &[3..8, 0..4]);
        assert_eq!(in_a, vec![3..4, 0..2]);
        assert_eq!(in_b, vec![0..1, 2..4]);
        let (in_a, in_b) = overlap_local(&[0..2, 0..1], &[5..9, 0..1]);
        assert!(in_a[0].is_empty() && in_b[0].is_empty());
        let from = ChunkGrid::regular(&[10, 6], &[4, 3]).unwrap();
        let to = ChunkGrid::regular(&[10, 6], &[5, 6]).unwrap();
        // Block [1, 0] of `to` is rows 5..10, columns 0..6: rows in blocks 1 and 2 of
        // `from`, columns in both of its blocks.
        assert_eq!(
            from.common_chunk(&to),
            vec![1, 3],
            "boundaries 4, 5, 8 and 3"
        );
        assert_eq!(
            from.blocks_under(&to, &[1, 0]),
            vec![vec![1, 0], vec![1, 1], vec![2, 0], vec![2, 1]]
        );
    }

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
    fn regular_grids_are_recognised() {
        let g = ChunkGrid::regular(&[10, 3], &[4, 3]).unwrap();
        assert!(g.is_regular_of(&[4, 3]));
        assert!(
            g.is_regular_of(&[4, 5]),
            "one chunk of 3 is also one of 5 cut at 3"
        );
        assert!(!g.is_regular_of(&[5, 3]));
        assert!(!g.is_regular_of(&[4]), "another rank");
        let listed = ChunkGrid::from_sizes(&[10], vec![vec![4, 4, 2]]).unwrap();
        let uneven = ChunkGrid::from_sizes(&[10], vec![vec![4, 2, 4]]).unwrap();
        assert!(
            listed.is_regular_of(&[4]),
            "listed lengths of a regular grid"
        );
        assert!(!uneven.is_regular_of(&[4]));
    }

    #[test]
    fn box_shapes() {
        assert_eq!(box_shape(&[2..5, 0..0, 7..8]), vec![3, 0, 1]);
        assert_eq!(box_shape(&[]), Vec::<usize>::new());
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

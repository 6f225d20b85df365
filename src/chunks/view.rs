//! Views as index maps: which source element each element of a view reads.
//!
//! Slices (any offset, any step, reversed), integer indices, transposes, new axes and
//! broadcasts are all one kind of map: every source axis is either held at one index or
//! read at `start + step * i` along one axis `i` of the view. Such maps compose (a slice
//! of a transpose of a slice is again one map), so a chain of views collapses into one,
//! and for any box of the view they name the source tiles it touches and where in each
//! ([`View::pieces`]): the executor reads them in place, with no intermediate tile.

use std::ops::Range;

use super::ChunkGrid;

/// Where one source axis of a [`View`] is read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SourceAxis {
    /// At one index, whatever the view's position (an integer index, or an axis of length 1
    /// broadcast).
    Fixed(usize),
    /// At `start + step * i`, where `i` is the view's position along its axis `axis`.
    Mapped {
        axis: usize,
        start: usize,
        step: isize,
    },
}

/// An index map from a view of `shape` into its source. Each view axis is read by at most
/// one source axis; one that none reads is broadcast (the source does not vary along it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct View {
    /// The view's shape.
    pub(crate) shape: Vec<usize>,
    /// Per source axis, where it is read.
    pub(crate) source: Vec<SourceAxis>,
}

/// The source tiles a box of a view reads: along each view axis the box is cut into
/// segments that each lie in one source tile; the pieces are the products of segments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pieces {
    /// Per view axis: where its segments begin, relative to the box's start (from 0).
    pub(crate) cuts: Vec<Vec<usize>>,
    /// Per piece (C order over the segments): its source block.
    pub(crate) blocks: Vec<Vec<usize>>,
    /// Per piece: the index in its source tile of the element at the piece's first corner.
    pub(crate) corners: Vec<Vec<usize>>,
}

/// One segment of a view axis: where it begins (relative to the box), the source block, and
/// the local index in that block of its first element.
#[derive(Clone, Copy, Debug)]
struct Segment {
    begin: usize,
    block: usize,
    local: usize,
}

impl View {
    /// The view of a whole array of `shape`, element for element.
    pub(crate) fn identity(shape: &[usize]) -> View {
        View {
            shape: shape.to_vec(),
            source: (0..shape.len())
                .map(|axis| SourceAxis::Mapped {
                    axis,
                    start: 0,
                    step: 1,
                })
                .collect(),
        }
    }

    /// NumPy broadcasting of a source of `source_shape` to `shape` (leading axes added,
    /// axes of length 1 repeated). The caller has checked that the shapes broadcast.
    pub(crate) fn broadcast(source_shape: &[usize], shape: &[usize]) -> View {
        let lead = shape.len() - source_shape.len();
        View {
            shape: shape.to_vec(),
            source: source_shape
                .iter()
                .enumerate()
                .map(|(a, &len)| {
                    if len == shape[lead + a] {
                        SourceAxis::Mapped {
                            axis: lead + a,
                            start: 0,
                            step: 1,
                        }
                    } else {
                        SourceAxis::Fixed(0)
                    }
                })
                .collect(),
        }
    }

    /// Whether the view reads a source of `source_shape` element for element.
    pub(crate) fn is_identity(&self, source_shape: &[usize]) -> bool {
        self.shape == source_shape
            && self.source.iter().enumerate().all(
                |(a, s)| matches!(s, SourceAxis::Mapped { axis, start: 0, step: 1 } if *axis == a),
            )
    }

    /// Whether the view keeps every element's neighbours: each source axis is held at one
    /// index or read with step 1 along its own view axis, in order, and every view axis
    /// longer than 1 is read (a slice with step 1, integer indices, new axes). Values made
    /// from element positions (generators) are then made at the positions read, offset per
    /// axis (the `Translated` generator of the ops layer).
    pub(crate) fn is_translation(&self) -> bool {
        let mut last_axis = None;
        for s in &self.source {
            if let SourceAxis::Mapped { axis, step, .. } = *s {
                if step != 1 || last_axis.is_some_and(|last| axis <= last) {
                    return false;
                }
                last_axis = Some(axis);
            }
        }
        (0..self.shape.len()).all(|axis| self.shape[axis] <= 1 || !self.broadcasts(axis))
    }

    /// Whether view axis `axis` is broadcast: no source axis varies along it.
    pub(crate) fn broadcasts(&self, axis: usize) -> bool {
        !self
            .source
            .iter()
            .any(|s| matches!(s, SourceAxis::Mapped { axis: a, .. } if *a == axis))
    }

    /// Whether the view reads some source element more than once (a broadcast axis longer
    /// than 1): work fused through it would be repeated.
    pub(crate) fn repeats(&self) -> bool {
        (0..self.shape.len()).any(|axis| self.shape[axis] > 1 && self.broadcasts(axis))
    }

    /// The view that reads this view's source through `outer`, a view of this view: one map
    /// for the two.
    pub(crate) fn then(&self, outer: &View) -> View {
        let source = self
            .source
            .iter()
            .map(|s| match *s {
                SourceAxis::Fixed(i) => SourceAxis::Fixed(i),
                SourceAxis::Mapped { axis, start, step } => match outer.source[axis] {
                    SourceAxis::Fixed(j) => SourceAxis::Fixed(offset(start, step, j)),
                    SourceAxis::Mapped {
                        axis: o,
                        start: s2,
                        step: st2,
                    } => SourceAxis::Mapped {
                        axis: o,
                        start: offset(start, step, s2),
                        step: step * st2,
                    },
                },
            })
            .collect();
        View {
            shape: outer.shape.clone(),
            source,
        }
    }

    /// Per view axis, how far in a source tile with C-order `strides` one step goes (0 on
    /// broadcast axes).
    pub(crate) fn strides(&self, source_strides: &[usize]) -> Vec<isize> {
        let mut strides = vec![0; self.shape.len()];
        for (s, &stride) in self.source.iter().zip(source_strides) {
            if let SourceAxis::Mapped { axis, step, .. } = *s {
                strides[axis] = step * stride as isize;
            }
        }
        strides
    }

    /// The source tiles (of a source chunked as `grid`) that the box `ranges` of the view
    /// reads, and where. A box with no element reads no tile.
    pub(crate) fn pieces(&self, ranges: &[Range<usize>], grid: &ChunkGrid) -> Pieces {
        let per_source: Vec<Vec<Segment>> = self
            .source
            .iter()
            .enumerate()
            .map(|(a, s)| match *s {
                SourceAxis::Fixed(i) => {
                    let chunks = grid.axis(a);
                    let block = chunks.chunk_of(i);
                    vec![Segment {
                        begin: 0,
                        block,
                        local: i - chunks.start(block),
                    }]
                }
                SourceAxis::Mapped { axis, start, step } => {
                    segments(grid, a, start, step, ranges[axis].clone())
                }
            })
            .collect();
        // The source axis each view axis follows (none for broadcast axes).
        let mut follows: Vec<Option<usize>> = vec![None; self.shape.len()];
        for (a, s) in self.source.iter().enumerate() {
            if let SourceAxis::Mapped { axis, .. } = *s {
                follows[axis] = Some(a);
            }
        }
        let empty = ranges.iter().any(|r| r.is_empty());
        let cuts: Vec<Vec<usize>> = follows
            .iter()
            .map(|f| match f {
                _ if empty => Vec::new(),
                Some(a) => per_source[*a].iter().map(|s| s.begin).collect(),
                None => vec![0],
            })
            .collect();
        let counts: Vec<usize> = cuts.iter().map(Vec::len).collect();
        let total: usize = counts.iter().product();
        let mut blocks = Vec::with_capacity(total);
        let mut corners = Vec::with_capacity(total);
        for flat in 0..total {
            let which = super::unravel(flat, &counts);
            let (block, corner): (Vec<usize>, Vec<usize>) = self
                .source
                .iter()
                .enumerate()
                .map(|(a, s)| {
                    let segment = match *s {
                        SourceAxis::Fixed(_) => per_source[a][0],
                        SourceAxis::Mapped { axis, .. } => per_source[a][which[axis]],
                    };
                    (segment.block, segment.local)
                })
                .unzip();
            blocks.push(block);
            corners.push(corner);
        }
        Pieces {
            cuts,
            blocks,
            corners,
        }
    }
}

impl View {
    /// How the view reads a source of `source_shape`, NumPy-style, for plans: the slice of
    /// each source axis, then the order of the view's axes where they are permuted and the
    /// shape where the view broadcasts. `None` for the identity.
    pub(crate) fn text(&self, source_shape: &[usize]) -> Option<String> {
        if self.is_identity(source_shape) {
            return None;
        }
        let mut order = Vec::new();
        let slices: Vec<String> = self
            .source
            .iter()
            .zip(source_shape)
            .map(|(s, &len)| match *s {
                SourceAxis::Fixed(i) => i.to_string(),
                SourceAxis::Mapped { axis, start, step } => {
                    order.push(axis);
                    let n = self.shape[axis];
                    let end = start as isize + step * n as isize;
                    match step {
                        1 if start == 0 && n == len => ":".to_string(),
                        1 => format!("{start}:{end}"),
                        _ if end < 0 => format!("{start}::{step}"),
                        _ => format!("{start}:{end}:{step}"),
                    }
                }
            })
            .collect();
        let mut text = format!("[{}]", slices.join(", "));
        if order.windows(2).any(|w| w[0] > w[1]) {
            text += &format!(" axes {order:?}");
        }
        if self.shape.len() != order.len() {
            text += &format!(" to {:?}", self.shape);
        }
        Some(text)
    }
}

/// `start + step * i`, an index the view reads.
fn offset(start: usize, step: isize, i: usize) -> usize {
    (start as isize + step * i as isize) as usize
}

/// The segments of view positions `range` read along source axis `axis` of `grid` at
/// `start + step * i`: one per source tile holding some of them.
fn segments(
    grid: &ChunkGrid,
    axis: usize,
    start: usize,
    step: isize,
    range: Range<usize>,
) -> Vec<Segment> {
    let chunks = grid.axis(axis);
    let stride = step.unsigned_abs();
    let mut out = Vec::new();
    let mut i = range.start;
    while i < range.end {
        let s = offset(start, step, i);
        let block = chunks.chunk_of(s);
        let first = chunks.start(block);
        // Positions left in this tile, moving forward or backward through it.
        let in_tile = if step > 0 {
            (first + chunks.size(block) - s).div_ceil(stride)
        } else {
            (s - first) / stride + 1
        };
        out.push(Segment {
            begin: i - range.start,
            block,
            local: s - first,
        });
        i += in_tile.min(range.end - i);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(axis: usize, start: usize, step: isize) -> SourceAxis {
        SourceAxis::Mapped { axis, start, step }
    }

    #[test]
    fn composition_is_one_map_for_a_chain() {
        // x[2:, ::-1] of a 10 x 8 source, then its transpose, then [1, 3:5].
        let slice = View {
            shape: vec![8, 8],
            source: vec![mapped(0, 2, 1), mapped(1, 7, -1)],
        };
        let transpose = View {
            shape: vec![8, 8],
            source: vec![mapped(1, 0, 1), mapped(0, 0, 1)],
        };
        let pick = View {
            shape: vec![2],
            source: vec![SourceAxis::Fixed(1), mapped(0, 3, 1)],
        };
        let whole = slice.then(&transpose).then(&pick);
        // pick[k] = transpose[1, 3 + k] = slice[3 + k, 1] = x[5 + k, 6].
        assert_eq!(whole.shape, vec![2]);
        assert_eq!(whole.source, vec![mapped(0, 5, 1), SourceAxis::Fixed(6)]);
    }

    #[test]
    fn pieces_of_a_misaligned_strided_reversed_box() {
        // Source 10 x 9 in tiles of 4 x 3; the view reads x[1 + i, 8 - 2 j].
        let grid = ChunkGrid::regular(&[10, 9], &[4, 3]).unwrap();
        let view = View {
            shape: vec![9, 5],
            source: vec![mapped(0, 1, 1), mapped(1, 8, -2)],
        };
        let pieces = view.pieces(&[2..7, 0..5], &grid);
        // Rows 3..8 of x: tiles 0 (row 3), 1 (rows 4..8). Columns 8, 6, 4, 2, 0: tiles 2
        // (8, 6), 1 (4), 0 (2, 0).
        assert_eq!(pieces.cuts, vec![vec![0, 1], vec![0, 2, 3]]);
        assert_eq!(
            pieces.blocks,
            vec![
                vec![0, 2],
                vec![0, 1],
                vec![0, 0],
                vec![1, 2],
                vec![1, 1],
                vec![1, 0]
            ]
        );
        assert_eq!(pieces.corners[0], vec![3, 2]);
        assert_eq!(pieces.corners[2], vec![3, 2]);
        assert_eq!(pieces.corners[4], vec![0, 1]);
    }

    #[test]
    fn a_step_longer_than_a_tile_skips_tiles() {
        let grid = ChunkGrid::regular(&[20], &[3]).unwrap();
        let view = View {
            shape: vec![3],
            source: vec![mapped(0, 1, 7)],
        };
        // Reads 1, 8, 15: tiles 0, 2, 5.
        let pieces = view.pieces(std::slice::from_ref(&(0..3)), &grid);
        assert_eq!(pieces.blocks, vec![vec![0], vec![2], vec![5]]);
        assert_eq!(pieces.corners, vec![vec![1], vec![2], vec![0]]);
    }

    #[test]
    fn broadcasts_and_identity() {
        let view = View::broadcast(&[3, 1], &[2, 3, 4]);
        assert!(view.broadcasts(0) && !view.broadcasts(1) && view.broadcasts(2));
        assert!(view.repeats());
        assert_eq!(view.strides(&[1, 1]), vec![0, 1, 0]);
        assert!(View::identity(&[2, 3]).is_identity(&[2, 3]));
        assert!(!View::broadcast(&[1, 3], &[1, 3]).repeats());
        let grid = ChunkGrid::regular(&[3, 1], &[2, 1]).unwrap();
        let pieces = view.pieces(&[0..2, 1..3, 0..4], &grid);
        assert_eq!(pieces.blocks, vec![vec![0, 0], vec![1, 0]]);
        assert_eq!(pieces.cuts, vec![vec![0], vec![0, 1], vec![0]]);
        assert!(view.pieces(&[0..0, 1..3, 0..4], &grid).blocks.is_empty());
        assert_eq!(view.text(&[3, 1]).as_deref(), Some("[:, 0] to [2, 3, 4]"));
    }

    #[test]
    fn plans_show_views_numpy_style() {
        let slice = View {
            shape: vec![8, 4],
            source: vec![mapped(0, 2, 1), mapped(1, 7, -2)],
        };
        assert_eq!(slice.text(&[10, 8]).as_deref(), Some("[2:10, 7::-2]"));
        let transpose = View {
            shape: vec![8, 10],
            source: vec![mapped(1, 0, 1), mapped(0, 0, 1)],
        };
        assert_eq!(
            transpose.text(&[10, 8]).as_deref(),
            Some("[:, :] axes [1, 0]")
        );
        assert_eq!(View::identity(&[3]).text(&[3]), None);
    }
}

//! Program inputs read through an index map: slices (any offset, any step), transposes,
//! broadcasts and misaligned tiles, read straight from the source tiles.
//!
//! A [`TileView`] describes how the elements of an output tile are found in one or more
//! source tiles. Along each output axis the tile is cut into segments, each lying in one
//! source tile; the product of the segments are the *pieces*, and each piece reads its
//! source tile at a corner with a stride per output axis (negative for reversed slices,
//! the source's row length for transposes, 0 for broadcast axes). A strip of the output is
//! gathered row by row, a run per piece: a `memcpy` where the run is contiguous in its
//! source, a repeated value where it is broadcast, a strided read otherwise. A strip that
//! lies in one contiguous run of one piece is not copied at all
//! ([`TileView::contiguous`]).

use crate::dtype::{Element, Strip, StripMut};

/// One piece of a [`TileView`]: the part of the output tile that one source tile holds.
#[derive(Clone, Debug)]
pub struct ViewPiece<'a> {
    /// The source tile's elements (C order).
    pub data: Strip<'a>,
    /// Index in `data` of the element at the piece's first output position.
    pub corner: usize,
    /// Per output axis of the view: how far in `data` one step along that axis goes.
    pub strides: Vec<isize>,
}

/// An output tile's elements as pieces of source tiles. See the [module](self) docs.
#[derive(Clone, Debug)]
pub struct TileView<'a> {
    /// The output tile's shape. Axes of length 1 may be left out: they do not change the
    /// C-order position of any element.
    pub shape: Vec<usize>,
    /// Per axis of `shape`: where its segments begin, ascending from 0.
    pub cuts: Vec<Vec<usize>>,
    /// The pieces, in C order over the segments of each axis.
    pub pieces: Vec<ViewPiece<'a>>,
}

impl TileView<'_> {
    /// Number of elements of the output tile.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the output tile holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The output elements `offset..offset + len` (C order) as one slice of a source tile,
    /// when they are one: they lie in one row and one piece that reads that row forward and
    /// contiguously, or the view is one piece laid out like the output tile.
    pub fn contiguous(&self, offset: usize, len: usize) -> Option<Strip<'_>> {
        let ndim = self.shape.len();
        if ndim == 0 {
            let piece = &self.pieces[0];
            return Some(piece.data.slice(piece.corner..piece.corner + len));
        }
        if let [piece] = self.pieces.as_slice()
            && c_strides(&self.shape)
                .iter()
                .zip(&piece.strides)
                .all(|(&c, &s)| c as isize == s)
        {
            let start = piece.corner + offset;
            return Some(piece.data.slice(start..start + len));
        }
        let row = self.shape[ndim - 1];
        let col = offset % row;
        if col + len > row {
            return None;
        }
        let (piece, start) = self.locate(offset);
        let last_cut = &self.cuts[ndim - 1];
        let segment = segment_of(last_cut, col);
        let segment_end = last_cut.get(segment + 1).copied().unwrap_or(row);
        if piece.strides[ndim - 1] != 1 || col + len > segment_end {
            return None;
        }
        Some(piece.data.slice(start..start + len))
    }

    /// Where, after `offset`, the run of output elements that one piece reads forward and
    /// contiguously ends within its row (`None` where the piece does not read them so):
    /// strips cut there are read in place instead of copied.
    pub fn run_end(&self, offset: usize) -> Option<usize> {
        let ndim = self.shape.len();
        if ndim == 0 || self.pieces.len() == 1 {
            return None;
        }
        let row = self.shape[ndim - 1];
        let col = offset % row;
        let (piece, _) = self.locate(offset);
        if piece.strides[ndim - 1] != 1 {
            return None;
        }
        let cuts = &self.cuts[ndim - 1];
        let end = cuts.get(segment_of(cuts, col) + 1).copied().unwrap_or(row);
        Some(offset - col + end)
    }

    /// The piece holding output element `offset`, and that element's index in its data.
    fn locate(&self, offset: usize) -> (&ViewPiece<'_>, usize) {
        let row = self.shape.last().copied().unwrap_or(1);
        let col = offset % row;
        let base = self.row_pieces(offset / row);
        let last_cuts = &self.cuts[self.shape.len() - 1];
        let segment = segment_of(last_cuts, col);
        let piece = &self.pieces[base * last_cuts.len() + segment];
        let start = piece.corner as isize
            + self.row_offset(offset / row, piece)
            + (col - last_cuts[segment]) as isize * piece.strides[self.shape.len() - 1];
        (piece, start as usize)
    }

    /// Copies the output elements `offset..offset + out.len()` (C order) into `out`.
    pub fn gather(&self, offset: usize, out: StripMut<'_>) {
        macro_rules! gather_each {
            ($($v:ident),*) => {
                match out {
                    $(StripMut::$v(o) => self.gather_typed(offset, o),)*
                }
            };
        }
        gather_each!(Bool, I8, I16, I32, I64, U8, U16, U32, U64, F32, F64)
    }

    fn gather_typed<T: Element>(&self, offset: usize, out: &mut [T]) {
        let ndim = self.shape.len();
        if ndim == 0 {
            if let Some(first) = out.first_mut() {
                let piece = &self.pieces[0];
                *first = T::from_strip(piece.data)[piece.corner];
            }
            return;
        }
        let row = self.shape[ndim - 1];
        let last_cuts = &self.cuts[ndim - 1];
        let mut done = 0;
        while done < out.len() {
            let flat = offset + done;
            let col = flat % row;
            let run = (row - col).min(out.len() - done);
            let base = self.row_pieces(flat / row);
            let mut c = col;
            let mut segment = segment_of(last_cuts, col);
            while c < col + run {
                let lo = last_cuts[segment];
                let hi = last_cuts.get(segment + 1).copied().unwrap_or(row);
                let end = hi.min(col + run);
                let piece = &self.pieces[base * last_cuts.len() + segment];
                let stride = piece.strides[ndim - 1];
                let start = piece.corner as isize
                    + self.row_offset(flat / row, piece)
                    + (c - lo) as isize * stride;
                copy_run(
                    T::from_strip(piece.data),
                    start,
                    stride,
                    &mut out[done + c - col..done + end - col],
                );
                c = end;
                segment += 1;
            }
            done += run;
        }
    }

    /// Copies the whole output tile into `out` (C order, [`TileView::len`] elements), piece
    /// by piece: each piece's part of every 2-D slab (its last two axes) is one
    /// [`copy_block`], so a transposed piece is copied in cache-blocked squares and every
    /// output element is written once. [`TileView::gather`] goes strip by strip along output
    /// rows instead, which for a transpose reads one element per source row: a whole column
    /// of cache lines (and pages) for every output row.
    pub fn gather_tile(&self, out: StripMut<'_>) {
        macro_rules! gather_each {
            ($($v:ident),*) => {
                match out {
                    $(StripMut::$v(o) => self.gather_tile_typed(o),)*
                }
            };
        }
        gather_each!(Bool, I8, I16, I32, I64, U8, U16, U32, U64, F32, F64)
    }

    fn gather_tile_typed<T: Element>(&self, out: &mut [T]) {
        let ndim = self.shape.len();
        if ndim < 2 || self.is_empty() {
            return self.gather_typed(0, out);
        }
        let counts: Vec<usize> = self.cuts.iter().map(Vec::len).collect();
        let out_strides = c_strides(&self.shape);
        let (rows_axis, cols_axis) = (ndim - 2, ndim - 1);
        for (p, piece) in self.pieces.iter().enumerate() {
            // The piece's box: per axis, its segment's range.
            let mut rest = p;
            let mut bounds = vec![(0, 0); ndim];
            for axis in (0..ndim).rev() {
                let segment = rest % counts[axis];
                rest /= counts[axis];
                let cuts = &self.cuts[axis];
                let end = cuts.get(segment + 1).copied().unwrap_or(self.shape[axis]);
                bounds[axis] = (cuts[segment], end);
            }
            let data = T::from_strip(piece.data);
            let (rows, cols) = (
                bounds[rows_axis].1 - bounds[rows_axis].0,
                bounds[cols_axis].1 - bounds[cols_axis].0,
            );
            // Every slab of the piece: an index of each leading axis within the box.
            let lead: Vec<usize> = bounds[..rows_axis].iter().map(|(lo, hi)| hi - lo).collect();
            for slab in 0..lead.iter().product::<usize>() {
                let (mut src, mut dst) = (piece.corner as isize, 0);
                let mut rest = slab;
                for axis in (0..rows_axis).rev() {
                    let i = rest % lead[axis];
                    rest /= lead[axis];
                    src += i as isize * piece.strides[axis];
                    dst += (bounds[axis].0 + i) * out_strides[axis];
                }
                dst += bounds[rows_axis].0 * out_strides[rows_axis] + bounds[cols_axis].0;
                copy_block(
                    data,
                    src,
                    (piece.strides[rows_axis], piece.strides[cols_axis]),
                    (rows, cols),
                    &mut out[dst..],
                    out_strides[rows_axis],
                );
            }
        }
    }

    /// The index of the first piece of output row `row` (C order over every axis but the
    /// last): the pieces of one row are consecutive, one per segment of the last axis.
    fn row_pieces(&self, row: usize) -> usize {
        let mut rest = row;
        let mut base = 0;
        let mut piece_stride = 1;
        for axis in (0..self.shape.len() - 1).rev() {
            let extent = self.shape[axis];
            let cuts = &self.cuts[axis];
            base += segment_of(cuts, rest % extent) * piece_stride;
            rest /= extent;
            piece_stride *= cuts.len();
        }
        base
    }

    /// How far from its corner `piece` holds the first element of output row `row` (were
    /// the piece's segment of the last axis to start at column 0).
    fn row_offset(&self, row: usize, piece: &ViewPiece<'_>) -> isize {
        let mut rest = row;
        let mut offset = 0;
        for axis in (0..self.shape.len() - 1).rev() {
            let extent = self.shape[axis];
            let i = rest % extent;
            rest /= extent;
            let cuts = &self.cuts[axis];
            offset += (i - cuts[segment_of(cuts, i)]) as isize * piece.strides[axis];
        }
        offset
    }
}

/// The segment (index into `cuts`, which starts at 0) holding index `i`.
fn segment_of(cuts: &[usize], i: usize) -> usize {
    cuts.partition_point(|&c| c <= i) - 1
}

/// C-order strides (in elements) of a tile of `shape`.
pub fn c_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for axis in (0..shape.len().saturating_sub(1)).rev() {
        strides[axis] = strides[axis + 1] * shape[axis + 1];
    }
    strides
}

/// Copies `out.len()` elements of `data`, `stride` apart from `start`, into `out`.
fn copy_run<T: Copy>(data: &[T], start: isize, stride: isize, out: &mut [T]) {
    let start = usize::try_from(start).expect("a view reads inside its source tile");
    match stride {
        1 => out.copy_from_slice(&data[start..start + out.len()]),
        0 => out.fill(data[start]),
        _ => {
            for (k, o) in out.iter_mut().enumerate() {
                *o = data[(start as isize + k as isize * stride) as usize];
            }
        }
    }
}

/// The side of the squares [`copy_block`] copies a strided matrix in: 32 x 32 elements
/// read from 32 source rows stay in L1 (32 cache lines) while the 32 output rows are
/// written, for every element type up to 8 bytes.
pub const COPY_BLOCK: usize = 32;

/// Copies the `rows x cols` matrix that `src` holds from `start` on, one step along its rows
/// and columns `strides` apart, into `dst` (row-major, rows `dst_stride` apart). Where the
/// columns are contiguous (or broadcast) each row is one run; otherwise (a transpose, a
/// step) the matrix is copied in [`COPY_BLOCK`]-square blocks, each block reading a few
/// cache lines of each of its source rows, so every source line is read from memory once
/// instead of once per output row.
///
/// ```
/// use chunkwise_kernels::view::copy_block;
/// let src = [0, 1, 2, 3, 4, 5]; // 2 x 3
/// let mut dst = [0; 6];
/// copy_block(&src, 0, (1, 3), (3, 2), &mut dst, 2); // its transpose
/// assert_eq!(dst, [0, 3, 1, 4, 2, 5]);
/// ```
pub fn copy_block<T: Copy>(
    src: &[T],
    start: isize,
    strides: (isize, isize),
    (rows, cols): (usize, usize),
    dst: &mut [T],
    dst_stride: usize,
) {
    let (row_stride, col_stride) = strides;
    if rows == 0 || cols == 0 {
        return;
    }
    if matches!(col_stride, 0 | 1) || rows == 1 {
        for r in 0..rows {
            let at = r * dst_stride;
            copy_run(
                src,
                start + r as isize * row_stride,
                col_stride,
                &mut dst[at..at + cols],
            );
        }
        return;
    }
    // Every element read is inside `src` and every one written inside `dst`: the positions
    // are linear in (row, column), so the matrix's corners bound them.
    let at = |r: usize, c: usize| start + r as isize * row_stride + c as isize * col_stride;
    let corners = [
        at(0, 0),
        at(rows - 1, 0),
        at(0, cols - 1),
        at(rows - 1, cols - 1),
    ];
    assert!(
        corners.iter().all(|&i| i >= 0 && (i as usize) < src.len())
            && dst.len() >= (rows - 1) * dst_stride + cols
            && dst_stride >= cols,
        "copy_block reads or writes outside its slices"
    );
    for r0 in (0..rows).step_by(COPY_BLOCK) {
        let r1 = (r0 + COPY_BLOCK).min(rows);
        for c0 in (0..cols).step_by(COPY_BLOCK) {
            // Along the block's output rows (contiguous writes); the block's source lines
            // stay in L1 while they are read.
            let c1 = (c0 + COPY_BLOCK).min(cols);
            for r in r0..r1 {
                let first = at(r, 0);
                for c in c0..c1 {
                    // SAFETY: inside both slices, as asserted above.
                    unsafe {
                        *dst.get_unchecked_mut(r * dst_stride + c) =
                            *src.get_unchecked((first + c as isize * col_stride) as usize);
                    }
                }
            }
        }
    }
}

/// Where strips of `strip_len` elements of a tile of `shape` begin and end: a strip never
/// crosses the end of a row (the last axis longer than 1) when rows are at least half a
/// strip long, so that views read whole-row strips in place. Returns where the strip that
/// holds `offset` ends (strip boundaries are fixed positions: a range folded piece by
/// piece is cut where the whole tile is).
pub fn strip_end(shape: &[usize], strip_len: usize, offset: usize) -> usize {
    let strip_len = strip_len.max(1);
    match row_len(shape) {
        Some(row) if row >= strip_len.div_ceil(2) => {
            let row_start = offset - offset % row;
            let col = offset - row_start;
            row_start + ((col / strip_len + 1) * strip_len).min(row)
        }
        _ => (offset / strip_len + 1) * strip_len,
    }
}

/// Whether strips of a tile of `shape` are whole rows or parts of one (see [`strip_end`]):
/// then strips may also be cut where a view's source tile changes.
pub fn strips_in_rows(shape: &[usize], strip_len: usize) -> bool {
    row_len(shape).is_some_and(|row| row >= strip_len.max(1).div_ceil(2))
}

/// The last strip start at or before `upto` (see [`strip_end`]): strips folded up to it are
/// the same whichever way a tile arrived.
pub fn strip_start_before(shape: &[usize], strip_len: usize, upto: usize) -> usize {
    let strip_len = strip_len.max(1);
    match row_len(shape) {
        Some(row) if row >= strip_len.div_ceil(2) => {
            let row_start = upto - upto % row;
            row_start + (upto - row_start) / strip_len * strip_len
        }
        _ => upto - upto % strip_len,
    }
}

/// The length of the tile's rows: its last axis longer than 1.
fn row_len(shape: &[usize]) -> Option<usize> {
    shape.iter().rev().copied().find(|&n| n > 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4 x 6 output read from a 6 x 8 source in 3 x 4 tiles through
    /// `source[1 + i, 7 - j]` (a misaligned, reversed slice): four pieces.
    #[test]
    fn a_reversed_misaligned_slice_gathers_from_four_tiles() {
        let source: Vec<f64> = (0..48).map(f64::from).collect();
        // Tiles of the source, each in C order.
        let tile = |bi: usize, bj: usize| -> Vec<f64> {
            (0..3)
                .flat_map(|i| (0..4).map(move |j| ((bi * 3 + i) * 8 + bj * 4 + j) as f64))
                .collect()
        };
        let tiles = [tile(0, 1), tile(0, 0), tile(1, 1), tile(1, 0)];
        // Rows 1..3 lie in tile row 0 (local 1..3), rows 3..5 in tile row 1 (local 0..2);
        // columns 7,6,5,4 lie in tile column 1 (local 3..0), 3,2 in column 0 (local 3, 2).
        let cuts = vec![vec![0, 2], vec![0, 4]];
        let corner = |li: usize, lj: usize| li * 4 + lj;
        let pieces = vec![
            (0, corner(1, 3)),
            (1, corner(1, 3)),
            (2, corner(0, 3)),
            (3, corner(0, 3)),
        ]
        .into_iter()
        .map(|(t, c)| ViewPiece {
            data: f64::to_strip(&tiles[t]),
            corner: c,
            strides: vec![4, -1],
        })
        .collect();
        let view = TileView {
            shape: vec![4, 6],
            cuts,
            pieces,
        };
        let expected: Vec<f64> = (0..4)
            .flat_map(|i| (0..6).map(move |j| (1 + i) * 8 + 7 - j))
            .map(|k| source[k])
            .collect();
        for strip in [1, 3, 5, 24] {
            let mut out = vec![0.0; 24];
            for start in (0..24).step_by(strip) {
                let end = (start + strip).min(24);
                view.gather(start, f64::to_strip_mut(&mut out[start..end]));
            }
            assert_eq!(out, expected, "strips of {strip}");
        }
        assert!(view.contiguous(0, 2).is_none(), "reversed rows are copied");
        let mut whole = vec![0.0; 24];
        view.gather_tile(f64::to_strip_mut(&mut whole));
        assert_eq!(whole, expected, "the whole tile at once");
    }

    #[test]
    fn a_forward_slice_within_a_row_is_read_in_place() {
        // 2 x 3 output = source[1.., 1..] of a 3 x 4 tile.
        let data: Vec<i32> = (0..12).collect();
        let view = TileView {
            shape: vec![2, 3],
            cuts: vec![vec![0], vec![0]],
            pieces: vec![ViewPiece {
                data: i32::to_strip(&data),
                corner: 5,
                strides: vec![4, 1],
            }],
        };
        let Some(Strip::I32(row)) = view.contiguous(3, 3) else {
            panic!("a row of a forward slice is one run")
        };
        assert_eq!(row, &[9, 10, 11]);
        assert!(view.contiguous(2, 2).is_none(), "crosses a row end");
        let mut out = vec![0; 6];
        view.gather(0, i32::to_strip_mut(&mut out));
        assert_eq!(out, vec![5, 6, 7, 9, 10, 11]);
    }

    #[test]
    fn transposes_broadcasts_and_zero_d_views() {
        // out[i, j] = data[j, i] of a 3 x 2 tile, and a broadcast column.
        let data: Vec<u8> = (0..6).collect();
        let transposed = TileView {
            shape: vec![2, 3],
            cuts: vec![vec![0], vec![0]],
            pieces: vec![ViewPiece {
                data: u8::to_strip(&data),
                corner: 0,
                strides: vec![1, 2],
            }],
        };
        let mut out = vec![0; 6];
        transposed.gather(0, u8::to_strip_mut(&mut out));
        assert_eq!(out, vec![0, 2, 4, 1, 3, 5]);
        let column = TileView {
            shape: vec![3, 2],
            cuts: vec![vec![0], vec![0]],
            pieces: vec![ViewPiece {
                data: u8::to_strip(&data),
                corner: 1,
                strides: vec![2, 0],
            }],
        };
        column.gather(0, u8::to_strip_mut(&mut out));
        assert_eq!(out, vec![1, 1, 3, 3, 5, 5]);
        let scalar = TileView {
            shape: vec![],
            cuts: vec![],
            pieces: vec![ViewPiece {
                data: u8::to_strip(&data),
                corner: 4,
                strides: vec![],
            }],
        };
        let mut one = [0u8];
        scalar.gather(0, u8::to_strip_mut(&mut one));
        assert_eq!(one, [4]);
    }

    #[test]
    fn blocked_copies_of_transposed_pieces_match_strided_gathers() {
        // out[i, j, k] = src[i, k, j] of a 3 x 70 x 45 source cut into pieces along the
        // last two output axes (45 and 70 long: more than one block each way).
        let (d0, d1, d2) = (3, 70, 45);
        let data: Vec<i64> = (0..(d0 * d1 * d2) as i64).collect();
        let cuts = vec![vec![0, 2], vec![0, 33], vec![0, 40, 41]];
        let mut pieces = Vec::new();
        for &i in &cuts[0] {
            for &j in &cuts[1] {
                for &k in &cuts[2] {
                    pieces.push(ViewPiece {
                        data: i64::to_strip(&data),
                        corner: i * d1 * d2 + k * d2 + j,
                        strides: vec![(d1 * d2) as isize, 1, d2 as isize],
                    });
                }
            }
        }
        let view = TileView {
            shape: vec![d0, d2, d1],
            cuts,
            pieces,
        };
        let mut strided = vec![0; data.len()];
        view.gather(0, i64::to_strip_mut(&mut strided));
        let mut blocked = vec![0; data.len()];
        view.gather_tile(i64::to_strip_mut(&mut blocked));
        assert_eq!(blocked, strided);
        assert_eq!(
            blocked[d1 + 2],
            ((2 * d2) + 1) as i64,
            "out[0, 1, 2] = src[0, 2, 1]"
        );
    }

    #[test]
    fn strips_end_at_row_ends_for_long_rows_only() {
        // Rows of 3000 with strips of 2048: 2048, 952, 2048, ...
        assert_eq!(strip_end(&[4, 3000], 2048, 0), 2048);
        assert_eq!(strip_end(&[4, 3000], 2048, 2048), 3000);
        assert_eq!(strip_end(&[4, 3000], 2048, 2100), 3000, "fixed boundaries");
        assert_eq!(strip_start_before(&[4, 3000], 2048, 2500), 2048);
        assert_eq!(strip_start_before(&[4, 3000], 2048, 5100), 5048);
        // Trailing axes of length 1 do not count; short rows are crossed.
        assert_eq!(strip_end(&[4, 3000, 1], 2048, 2048), 3000);
        assert_eq!(strip_end(&[1200, 10], 2048, 0), 2048);
        assert!(!strips_in_rows(&[1200, 10], 2048) && strips_in_rows(&[4, 3000], 2048));
        assert_eq!(strip_start_before(&[1200, 10], 2048, 5000), 4096);
    }

    #[test]
    fn runs_end_where_a_forward_piece_ends() {
        // 2 x 5 output over two source tiles of 3 columns: columns 0..2 in one, 2..5 in the
        // other.
        let data: Vec<f64> = (0..30).map(f64::from).collect();
        let piece = |corner| ViewPiece {
            data: f64::to_strip(&data),
            corner,
            strides: vec![6, 1],
        };
        let view = TileView {
            shape: vec![2, 5],
            cuts: vec![vec![0], vec![0, 2]],
            pieces: vec![piece(1), piece(10)],
        };
        assert_eq!(view.run_end(0), Some(2));
        assert_eq!(view.run_end(6), Some(7));
        assert_eq!(view.run_end(7), Some(10));
        assert!(view.contiguous(7, 3).is_some());
    }
}

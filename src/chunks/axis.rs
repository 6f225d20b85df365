//! The chunks of one axis: a regular axis as (length, chunk length), in O(1) memory
//! whatever its number of chunks; only an irregular axis lists its chunks.

use std::ops::Range;

/// The chunks of one axis.
///
/// The form is canonical (a list of chunks that is regular is always stored as
/// [`AxisChunks::Regular`], with the longest chunk as `chunk`), so two axes are equal
/// exactly when their chunks are.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum AxisChunks {
    /// `len` elements in chunks of `chunk`, except that the first is `shift` shorter and
    /// the last may be shorter: the regular chunks of `len + shift` elements with the first
    /// `shift` cut off (a contiguous slice of a regular axis). `shift < chunk` and `chunk`
    /// is the longest chunk; an empty axis is `{0, 0, 0}`, one empty chunk.
    Regular {
        len: usize,
        chunk: usize,
        shift: usize,
    },
    /// Chunk lengths and the start of each chunk, followed by the axis length.
    Explicit {
        sizes: Vec<usize>,
        offsets: Vec<usize>,
    },
}

impl AxisChunks {
    /// `len` elements in chunks of `chunk` (positive unless `len` is 0).
    pub(crate) fn regular(len: usize, chunk: usize) -> AxisChunks {
        Self::shifted(len, chunk, chunk)
    }

    /// `len` elements: a first chunk of `first`, then chunks of `chunk` (`0 < first <=
    /// chunk` unless `len` is 0), the last possibly shorter.
    pub(crate) fn shifted(len: usize, chunk: usize, first: usize) -> AxisChunks {
        debug_assert!(
            len == 0 || (0 < first && first <= chunk),
            "{len} {chunk} {first}"
        );
        if len <= first {
            return Self::single(len);
        }
        if len - first <= chunk {
            // Two chunks: the longer one is the chunk length.
            let chunk = first.max(len - first);
            return AxisChunks::Regular {
                len,
                chunk,
                shift: chunk - first,
            };
        }
        AxisChunks::Regular {
            len,
            chunk,
            shift: chunk - first,
        }
    }

    /// One chunk of the whole axis.
    pub(crate) fn single(len: usize) -> AxisChunks {
        AxisChunks::Regular {
            len,
            chunk: len,
            shift: 0,
        }
    }

    /// The axis with these chunk lengths (at least one; only an empty axis has empty
    /// chunks), stored as regular when it is.
    pub(crate) fn from_sizes(sizes: Vec<usize>) -> AxisChunks {
        let len: usize = sizes.iter().sum();
        let n = sizes.len();
        let chunk = sizes.iter().copied().max().unwrap_or(0);
        let (first, last) = (sizes[0], sizes[n - 1]);
        let regular = if len == 0 {
            n == 1
        } else {
            first > 0
                && last > 0
                && sizes
                    .iter()
                    .skip(1)
                    .take(n.saturating_sub(2))
                    .all(|&s| s == chunk)
        };
        if regular {
            return Self::shifted(len, chunk, first);
        }
        let mut offsets = Vec::with_capacity(n + 1);
        let mut acc = 0;
        offsets.push(0);
        for &s in &sizes {
            acc += s;
            offsets.push(acc);
        }
        AxisChunks::Explicit { sizes, offsets }
    }

    /// The axis length.
    pub(crate) fn len(&self) -> usize {
        match self {
            AxisChunks::Regular { len, .. } => *len,
            AxisChunks::Explicit { offsets, .. } => offsets[offsets.len() - 1],
        }
    }

    /// The number of chunks (1 for an empty regular axis).
    #[inline]
    pub(crate) fn count(&self) -> usize {
        match self {
            AxisChunks::Regular { len: 0, .. } => 1,
            AxisChunks::Regular { len, chunk, shift } => {
                let first = chunk - shift;
                1 + (len.saturating_sub(first)).div_ceil(*chunk)
            }
            AxisChunks::Explicit { sizes, .. } => sizes.len(),
        }
    }

    /// The chunk length if the axis is regular: every chunk of this length but the last,
    /// which may be shorter.
    pub(crate) fn regular_chunk(&self) -> Option<usize> {
        match self {
            AxisChunks::Regular {
                chunk, shift: 0, ..
            } => Some(*chunk),
            _ => None,
        }
    }

    /// The length of chunk `b`.
    #[inline]
    pub(crate) fn size(&self, b: usize) -> usize {
        match self {
            AxisChunks::Regular { len, .. } => {
                let start = self.start(b);
                assert!(start < *len || b == 0, "chunk {b} of an axis of {len}");
                self.start(b + 1) - start
            }
            AxisChunks::Explicit { sizes, .. } => sizes[b],
        }
    }

    /// The start of chunk `b` (the axis length for `b` = the number of chunks).
    #[inline]
    pub(crate) fn start(&self, b: usize) -> usize {
        match self {
            AxisChunks::Regular { len, chunk, shift } => {
                (b.saturating_mul(*chunk).saturating_sub(*shift)).min(*len)
            }
            AxisChunks::Explicit { offsets, .. } => offsets[b],
        }
    }

    /// The element range of chunk `b`.
    #[inline]
    pub(crate) fn range(&self, b: usize) -> Range<usize> {
        self.start(b)..self.start(b) + self.size(b)
    }

    /// The chunk that holds element `index` (the last chunk for indices past the end).
    #[inline]
    pub(crate) fn chunk_of(&self, index: usize) -> usize {
        let last = self.count() - 1;
        match self {
            AxisChunks::Regular { chunk: 0, .. } => 0,
            AxisChunks::Regular { chunk, shift, .. } => {
                (index.saturating_add(*shift) / chunk).min(last)
            }
            AxisChunks::Explicit { offsets, .. } => offsets
                .partition_point(|&o| o <= index)
                .saturating_sub(1)
                .min(last),
        }
    }

    /// The longest chunk.
    pub(crate) fn max_size(&self) -> usize {
        match self {
            AxisChunks::Regular { chunk, .. } => *chunk,
            AxisChunks::Explicit { sizes, .. } => sizes.iter().copied().max().unwrap_or(0),
        }
    }

    /// Every chunk length (as many as there are chunks: for small axes only).
    pub(crate) fn sizes(&self) -> Vec<usize> {
        match self {
            AxisChunks::Regular { .. } => (0..self.count()).map(|b| self.size(b)).collect(),
            AxisChunks::Explicit { sizes, .. } => sizes.clone(),
        }
    }

    /// The chunks in words: the length of a regular axis, else the list (abridged when a
    /// shifted regular axis has many chunks).
    pub(crate) fn text(&self) -> String {
        match self {
            AxisChunks::Regular {
                chunk, shift: 0, ..
            } => chunk.to_string(),
            AxisChunks::Regular { chunk, .. } if self.count() > 64 => {
                format!(
                    "[{}, {chunk}, {chunk}, ..., {}]",
                    self.size(0),
                    self.size(self.count() - 1)
                )
            }
            _ => format!("{:?}", self.sizes()),
        }
    }

    /// The chunks of the elements `start..end` of this axis taken every `stride`, in
    /// ascending order of index (`descending`: from `end - 1` down), one chunk per chunk
    /// of this axis that holds selected elements: each lies in one chunk of this axis.
    ///
    /// Regular when this axis is regular and `stride` divides its chunk length or is at
    /// least that long; otherwise listed, which costs the number of chunks selected from,
    /// refused with `None` beyond `max_listed`.
    pub(crate) fn select(
        &self,
        start: usize,
        end: usize,
        stride: usize,
        descending: bool,
        max_listed: usize,
    ) -> Option<AxisChunks> {
        let count = end.saturating_sub(start).div_ceil(stride);
        let index_at = |k: usize| {
            if descending {
                end - 1 - k * stride
            } else {
                start + k * stride
            }
        };
        // The number of selected elements, from the `k`-th on, in that element's chunk.
        let piece = |k: usize| {
            let g = index_at(k);
            let chunk = self.range(self.chunk_of(g));
            let room = if descending {
                (g - chunk.start) / stride + 1
            } else {
                (chunk.end - 1 - g) / stride + 1
            };
            room.min(count - k)
        };
        if count == 0 {
            return Some(Self::single(0));
        }
        if let AxisChunks::Regular { chunk, .. } = *self {
            if stride >= chunk {
                return Some(Self::regular(count, 1));
            }
            if chunk % stride == 0 {
                return Some(Self::shifted(count, chunk / stride, piece(0)));
            }
            // The chunks spanned, about one piece each: refused before listing any.
            let (a, b) = (
                self.chunk_of(index_at(0)),
                self.chunk_of(index_at(count - 1)),
            );
            if a.abs_diff(b) >= max_listed {
                return None;
            }
        }
        let mut sizes = Vec::new();
        let mut k = 0;
        while k < count {
            if sizes.len() >= max_listed {
                return None;
            }
            let n = piece(k);
            sizes.push(n);
            k += n;
        }
        Some(Self::from_sizes(sizes))
    }

    /// The chunk length and shift of a regular axis with at least one element.
    fn regular_parts(&self) -> Option<(usize, usize)> {
        match *self {
            AxisChunks::Regular { chunk, shift, .. } if chunk > 0 => Some((chunk, shift)),
            _ => None,
        }
    }

    /// The largest total length of the chunks of this axis that one chunk of `to` (the same
    /// axis chunked otherwise) overlaps. Between two regular axes the overlaps repeat with a
    /// period of `chunk / gcd(chunk, to's chunk)` chunks of `to` after the first, so only
    /// one period (and the last chunk) is looked at.
    pub(crate) fn largest_overlap(&self, to: &AxisChunks) -> usize {
        let n = to.count();
        let overlap = |b: usize| {
            let r = to.range(b);
            let last = r.end.max(r.start + 1) - 1;
            self.start(self.chunk_of(last) + 1) - self.start(self.chunk_of(r.start))
        };
        let looked_at = match (self.regular_parts(), to.regular_parts()) {
            (Some((a, _)), Some((c, _))) => (a / gcd(a, c) + 2).min(n),
            _ => n,
        };
        (0..looked_at)
            .chain([n - 1])
            .map(overlap)
            .max()
            .unwrap_or(0)
    }

    /// The common refinement of two chunkings of one axis: every boundary of either. Two
    /// regular axes whose boundaries are all boundaries of the finer one refine to it, in
    /// O(1).
    pub(crate) fn refine(&self, other: &AxisChunks) -> AxisChunks {
        if self == other {
            return self.clone();
        }
        if let (Some((a, sa)), Some((b, sb))) = (self.regular_parts(), other.regular_parts())
            && self.len() == other.len()
        {
            if a % b == 0 && sa % b == sb {
                return other.clone();
            }
            if b % a == 0 && sb % a == sa {
                return self.clone();
            }
        }
        AxisChunks::from_sizes(super::refine(&self.sizes(), &other.sizes()))
    }
}

/// The greatest common divisor.
pub(super) fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every accessor of `axis` against the explicit list `sizes`.
    fn agrees(axis: &AxisChunks, sizes: &[usize]) {
        assert_eq!(axis.sizes(), sizes);
        assert_eq!(axis.count(), sizes.len());
        assert_eq!(axis.len(), sizes.iter().sum::<usize>());
        let mut start = 0;
        for (b, &s) in sizes.iter().enumerate() {
            assert_eq!(axis.range(b), start..start + s, "chunk {b} of {sizes:?}");
            for i in start..start + s {
                assert_eq!(axis.chunk_of(i), b, "element {i} of {sizes:?}");
            }
            start += s;
        }
        assert_eq!(axis.start(sizes.len()), start);
    }

    #[test]
    fn regular_lists_are_stored_regular() {
        for sizes in [vec![4, 4, 2], vec![4, 4, 4], vec![7], vec![0], vec![1; 5]] {
            let axis = AxisChunks::from_sizes(sizes.clone());
            assert!(axis.regular_chunk().is_some(), "{sizes:?}");
            assert_eq!(axis, AxisChunks::regular(axis.len(), sizes[0]), "{sizes:?}");
            agrees(&axis, &sizes);
        }
        for sizes in [vec![2, 5], vec![4, 2, 4], vec![0, 0], vec![3, 3, 0]] {
            let axis = AxisChunks::from_sizes(sizes.clone());
            assert!(axis.regular_chunk().is_none(), "{sizes:?}");
            agrees(&axis, &sizes);
        }
        assert_eq!(
            AxisChunks::regular(10, 100),
            AxisChunks::from_sizes(vec![10])
        );
    }

    #[test]
    fn huge_regular_axes_cost_nothing() {
        let axis = AxisChunks::regular(usize::MAX, 3);
        assert_eq!(axis.count(), usize::MAX / 3);
        assert_eq!(axis.chunk_of(usize::MAX - 1), usize::MAX / 3 - 1);
        assert_eq!(axis.range(1), 3..6);
        assert_eq!(axis.start(axis.count()), usize::MAX);
    }

    /// Every axis of up to `max_len` elements: regular (also shifted), and listed.
    fn axes(max_len: usize) -> Vec<AxisChunks> {
        let mut all = vec![AxisChunks::single(0)];
        for len in 1..=max_len {
            for chunk in 1..=len {
                for first in 1..=chunk {
                    all.push(AxisChunks::shifted(len, chunk, first));
                }
            }
        }
        all.push(AxisChunks::from_sizes(vec![3, 1, 4, 1, 5]));
        all.push(AxisChunks::from_sizes(vec![2, 7, 1]));
        all
    }

    #[test]
    fn shifted_regular_axes_agree_with_their_lists() {
        for axis in axes(12) {
            let sizes = axis.sizes();
            agrees(&axis, &sizes);
            // The canonical form: the list gives the same axis back.
            assert_eq!(AxisChunks::from_sizes(sizes.clone()), axis, "{sizes:?}");
        }
        assert_eq!(
            AxisChunks::from_sizes(vec![2, 4, 4, 1]),
            AxisChunks::Regular {
                len: 11,
                chunk: 4,
                shift: 2
            }
        );
    }

    #[test]
    fn selections_agree_with_a_walk_over_the_elements() {
        for axis in axes(9) {
            let len = axis.len();
            for start in 0..=len {
                for end in start..=len {
                    for stride in 1..=len.max(1) + 1 {
                        for descending in [false, true] {
                            let mut picked: Vec<usize> = (start..end).step_by(stride).collect();
                            if descending {
                                picked = (start..end).rev().step_by(stride).collect();
                            }
                            // One piece per run of picked elements in one chunk.
                            let mut expected: Vec<usize> = Vec::new();
                            let mut last = None;
                            for &g in &picked {
                                let b = axis.chunk_of(g);
                                match expected.last_mut() {
                                    Some(n) if last == Some(b) => *n += 1,
                                    _ => expected.push(1),
                                }
                                last = Some(b);
                            }
                            if expected.is_empty() {
                                expected.push(0);
                            }
                            let found = axis
                                .select(start, end, stride, descending, usize::MAX)
                                .unwrap();
                            assert_eq!(
                                found.sizes(),
                                expected,
                                "{axis:?} {start}..{end};{stride} {descending}"
                            );
                        }
                    }
                }
            }
        }
        let huge = AxisChunks::regular(1 << 40, 1 << 10);
        assert_eq!(
            huge.select(5, 1 << 40, 4, false, 16),
            Some(AxisChunks::shifted((1 << 38) - 1, 1 << 8, 255))
        );
        assert_eq!(huge.select(0, 1 << 40, 3, false, 16), None);
    }

    #[test]
    fn largest_overlap_of_regular_axes_looks_at_one_period() {
        let (list, all) = (axes(10), axes(10));
        for from in &list {
            for to in all.iter().filter(|t| t.len() == from.len()) {
                let every: usize = (0..to.count())
                    .map(|b| {
                        let r = to.range(b);
                        let last = r.end.max(r.start + 1) - 1;
                        from.start(from.chunk_of(last) + 1) - from.start(from.chunk_of(r.start))
                    })
                    .max()
                    .unwrap_or(0);
                assert_eq!(from.largest_overlap(to), every, "{from:?} {to:?}");
                let refined = from.refine(to);
                assert_eq!(
                    refined.sizes(),
                    crate::chunks::refine(&from.sizes(), &to.sizes()),
                    "{from:?} {to:?}"
                );
            }
        }
        let huge = AxisChunks::regular(1 << 60, 3);
        assert_eq!(huge.largest_overlap(&AxisChunks::regular(1 << 60, 4)), 6);
    }

    #[test]
    fn refinement() {
        let a = AxisChunks::regular(10, 4);
        let b = AxisChunks::regular(10, 2);
        assert_eq!(a.refine(&b), b);
        let c = AxisChunks::regular(10, 5);
        agrees(&a.refine(&c), &[4, 1, 3, 2]);
        let huge = AxisChunks::regular(1 << 60, 1 << 20);
        assert_eq!(
            huge.refine(&AxisChunks::regular(1 << 60, 1 << 10)),
            AxisChunks::regular(1 << 60, 1 << 10)
        );
    }
}

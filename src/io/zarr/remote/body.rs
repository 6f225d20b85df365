//! A value fetched from object storage, kept as the pieces its body arrived in.
//!
//! Gathering a body of many megabytes into one buffer copies every byte once more, on the
//! thread that drives the connections. A [`Body`] keeps the pieces instead: the zstd
//! decoder reads them in place (see `direct::stream_zstd`), and a byte range that lies in
//! one piece is that piece's bytes, shared, not copied.

use std::ops::Range;
use std::sync::Arc;

use zarrs::storage::Bytes;

/// The pieces of one value, in order (see the module's documentation).
#[derive(Clone)]
pub(crate) struct Body {
    pieces: Arc<[Bytes]>,
    /// Where each piece starts in the value, and the value's length last.
    starts: Arc<[u64]>,
}

impl Body {
    /// The value made of `pieces`, in order (empty pieces are left out).
    pub(crate) fn new(pieces: Vec<Bytes>) -> Body {
        let pieces: Arc<[Bytes]> = pieces.into_iter().filter(|p| !p.is_empty()).collect();
        let mut starts = Vec::with_capacity(pieces.len() + 1);
        let mut at = 0u64;
        starts.push(at);
        for piece in pieces.iter() {
            at += piece.len() as u64;
            starts.push(at);
        }
        Body {
            pieces,
            starts: starts.into(),
        }
    }

    /// The value's length in bytes.
    pub(crate) fn len(&self) -> u64 {
        *self.starts.last().expect("starts holds the length")
    }

    /// The pieces, in order.
    pub(crate) fn pieces(&self) -> &[Bytes] {
        &self.pieces
    }

    /// The bytes `range` of the value (within its length): the piece's own bytes where
    /// the range lies in one piece, else a copy of the range.
    pub(crate) fn slice(&self, range: Range<u64>) -> Bytes {
        if range.is_empty() {
            return Bytes::new();
        }
        // The last piece that starts at or before the range.
        let first = self.starts.partition_point(|&s| s <= range.start) - 1;
        let offset = |piece: usize, at: u64| (at - self.starts[piece]) as usize;
        if range.end <= self.starts[first + 1] {
            return self.pieces[first].slice(offset(first, range.start)..offset(first, range.end));
        }
        let mut joined = Vec::with_capacity((range.end - range.start) as usize);
        for (piece, bytes) in self.pieces.iter().enumerate().skip(first) {
            let (start, end) = (self.starts[piece], self.starts[piece + 1]);
            if start >= range.end {
                break;
            }
            let from = offset(piece, range.start.max(start));
            let to = offset(piece, range.end.min(end));
            joined.extend_from_slice(&bytes[from..to]);
        }
        joined.into()
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Body({} bytes in {} pieces)",
            self.len(),
            self.pieces.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_cut_from_the_pieces_as_from_the_joined_value() {
        let value: Vec<u8> = (0..=255).collect();
        let pieces = [0..0, 0..7, 7..7, 7..100, 100..101, 101..256]
            .map(|r| Bytes::copy_from_slice(&value[r]))
            .to_vec();
        let body = Body::new(pieces);
        assert_eq!(body.len(), 256);
        assert_eq!(body.pieces().len(), 4);
        for start in 0..=256u64 {
            for end in start..=256 {
                let cut = body.slice(start..end);
                assert_eq!(
                    &cut[..],
                    &value[start as usize..end as usize],
                    "{start}..{end}"
                );
            }
        }
        // A range inside one piece shares its bytes.
        let piece = &body.pieces()[1];
        let inner = body.slice(10..90);
        assert_eq!(inner.as_ptr(), piece[3..].as_ptr());
        assert_eq!(Body::new(Vec::new()).len(), 0);
        assert!(Body::new(Vec::new()).slice(0..0).is_empty());
    }
}

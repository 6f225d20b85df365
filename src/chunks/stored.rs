//! Arithmetic on the chunk grids that stored arrays declare in their metadata: lengths and
//! counts in `u64`, as the metadata gives them, checked before any `ChunkGrid` is built.

/// The lengths along an axis of `extent` elements of the chunks that a stored grid declares
/// `declared` long, in order, each cut at the axis end (a stored grid's chunks may run past
/// the array's extent); `[0]` for an axis with no chunk.
pub(crate) fn clipped_lengths(extent: u64, declared: &[u64]) -> Vec<usize> {
    let mut start = 0u64;
    let mut lengths: Vec<usize> = declared
        .iter()
        .map(|&len| {
            let len = len.min(extent - start);
            start += len;
            len as usize
        })
        .collect();
    if lengths.is_empty() {
        lengths.push(0);
    }
    lengths
}

/// The number of chunks of `chunk_shape` along each axis of `shape`, counting a partial
/// chunk at the end. No chunk length may be 0.
pub(crate) fn chunk_counts(shape: &[u64], chunk_shape: &[u64]) -> Vec<u64> {
    shape
        .iter()
        .zip(chunk_shape)
        .map(|(&len, &chunk)| len.div_ceil(chunk))
        .collect()
}

/// Whether boxes of `inner` tile a box of `outer` exactly: the same number of axes, and
/// each length of `outer` a non-zero multiple of the non-zero length of `inner` (a shard
/// shape made of whole chunks).
pub(crate) fn is_multiple_shape(outer: &[usize], inner: &[usize]) -> bool {
    outer.len() == inner.len()
        && outer
            .iter()
            .zip(inner)
            .all(|(&o, &i)| o > 0 && i > 0 && o % i == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_chunks_are_cut_at_the_axis_end() {
        // A regular grid of 4 over 10 elements: 4, 4, then 2 of the last 4.
        assert_eq!(clipped_lengths(10, &[4, 4, 4]), vec![4, 4, 2]);
        // Irregular chunks that fit exactly are kept.
        assert_eq!(clipped_lengths(7, &[2, 5]), vec![2, 5]);
        // Chunks past the end are empty.
        assert_eq!(clipped_lengths(3, &[5, 5]), vec![3, 0]);
        // An axis without chunks (length 0) has one empty chunk.
        assert_eq!(clipped_lengths(0, &[]), vec![0]);
    }

    #[test]
    fn chunks_are_counted_per_axis() {
        assert_eq!(chunk_counts(&[10, 8, 1], &[4, 8, 3]), vec![3, 1, 1]);
        assert_eq!(chunk_counts(&[0], &[5]), vec![0]);
        assert_eq!(chunk_counts(&[u64::MAX], &[1 << 32]), vec![1 << 32]);
    }

    #[test]
    fn shard_shapes_are_whole_chunks() {
        assert!(is_multiple_shape(&[8, 6], &[4, 3]));
        assert!(is_multiple_shape(&[4], &[4]));
        assert!(
            !is_multiple_shape(&[8, 5], &[4, 3]),
            "5 is not a multiple of 3"
        );
        assert!(!is_multiple_shape(&[0, 6], &[4, 3]), "empty shard");
        assert!(!is_multiple_shape(&[8], &[4, 3]), "another rank");
        assert!(!is_multiple_shape(&[8], &[0]), "empty chunk");
    }
}

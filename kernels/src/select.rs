//! Boolean selection within a tile: the elements (or blocks of elements) whose mask is true.

/// Appends to `out` the selected blocks of `values`, in order.
///
/// `values` is `outer` rows, each of `mask.len()` blocks of `inner` contiguous elements;
/// block `j` of every row is kept where `mask[j]` is true. So a C-order tile of shape
/// `pre ++ mask_shape ++ post` is selected along its mask axes with `outer` the product of
/// `pre` and `inner` that of `post`.
///
/// ```
/// use chunkwise_kernels::select::select_blocks;
/// // Two rows of three blocks of two elements; keep blocks 0 and 2.
/// let values = [0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15];
/// let mut out = Vec::new();
/// select_blocks(&values, &[true, false, true], 2, 2, &mut out);
/// assert_eq!(out, vec![0, 1, 4, 5, 10, 11, 14, 15]);
/// ```
pub fn select_blocks<T: Copy>(
    values: &[T],
    mask: &[bool],
    outer: usize,
    inner: usize,
    out: &mut Vec<T>,
) {
    debug_assert_eq!(values.len(), outer * mask.len() * inner);
    let row = mask.len() * inner;
    if inner == 1 {
        for r in 0..outer {
            let row_values = &values[r * row..(r + 1) * row];
            out.extend(
                row_values
                    .iter()
                    .zip(mask)
                    .filter_map(|(&v, &keep)| keep.then_some(v)),
            );
        }
        return;
    }
    for r in 0..outer {
        for (j, _) in mask.iter().enumerate().filter(|(_, keep)| **keep) {
            let start = r * row + j * inner;
            out.extend_from_slice(&values[start..start + inner]);
        }
    }
}

/// Number of true elements of `mask`.
pub fn count_true(mask: &[bool]) -> usize {
    mask.iter().map(|&b| b as usize).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_elements_and_blocks_in_row_order() {
        let values: Vec<u32> = (0..24).collect();
        let mask = [false, true, true, false];
        // 3 rows of 4 single elements, then 2 rows of 4 blocks of 3.
        let mut out = Vec::new();
        select_blocks(&values[..12], &mask, 3, 1, &mut out);
        assert_eq!(out, vec![1, 2, 5, 6, 9, 10]);
        out.clear();
        select_blocks(&values, &mask, 2, 3, &mut out);
        assert_eq!(out, vec![3, 4, 5, 6, 7, 8, 15, 16, 17, 18, 19, 20]);
        assert_eq!(count_true(&mask), 2);
    }
}

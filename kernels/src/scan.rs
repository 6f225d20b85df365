//! Scans (cumulative sums, products, any associative operation) of C-order tiles along one
//! axis, seen as `outer` blocks of `len` slices of `inner` contiguous elements. The loops run
//! over whole slices, so an operation such as `+` vectorises along `inner`.

/// The inclusive scan along the axis, in place: slice `i` becomes
/// `op(... op(op(x[0], x[1]), x[2]) ..., x[i])`, left to right.
///
/// ```
/// use chunkwise_kernels::scan::scan_in_place;
/// // A 2 x 3 tile scanned along axis 0 (outer 1, len 2, inner 3), then along axis 1.
/// let mut tile = [1, 2, 3, 10, 20, 30];
/// scan_in_place(&mut tile, 1, 2, 3, |a, b| a + b);
/// assert_eq!(tile, [1, 2, 3, 11, 22, 33]);
/// scan_in_place(&mut tile, 2, 3, 1, |a, b| a + b);
/// assert_eq!(tile, [1, 3, 6, 11, 33, 66]);
/// ```
pub fn scan_in_place<T: Copy>(
    data: &mut [T],
    outer: usize,
    len: usize,
    inner: usize,
    op: impl Fn(T, T) -> T,
) {
    debug_assert_eq!(data.len(), outer * len * inner);
    for block in data.chunks_exact_mut((len * inner).max(1)).take(outer) {
        for i in 1..len {
            let (done, rest) = block.split_at_mut(i * inner);
            let previous = &done[(i - 1) * inner..];
            for (x, &p) in rest[..inner].iter_mut().zip(previous) {
                *x = op(p, *x);
            }
        }
    }
}

/// The fold of the slices along the axis, left to right: `outer * inner` elements, the
/// last slice of [`scan_in_place`]'s result. `len` must be at least 1.
///
/// ```
/// use chunkwise_kernels::scan::fold_slices;
/// assert_eq!(fold_slices(&[1, 2, 3, 10, 20, 30], 1, 2, 3, |a, b| a + b), vec![11, 22, 33]);
/// ```
pub fn fold_slices<T: Copy>(
    data: &[T],
    outer: usize,
    len: usize,
    inner: usize,
    op: impl Fn(T, T) -> T,
) -> Vec<T> {
    debug_assert!(len >= 1 && data.len() == outer * len * inner);
    let mut out = Vec::with_capacity(outer * inner);
    for block in data.chunks_exact((len * inner).max(1)).take(outer) {
        let start = out.len();
        out.extend_from_slice(&block[..inner]);
        for slice in block[inner..].chunks_exact(inner.max(1)) {
            for (acc, &x) in out[start..].iter_mut().zip(slice) {
                *acc = op(*acc, x);
            }
        }
    }
    out
}

/// Applies a carry (`outer * inner` elements, one slice per outer block) from the left to
/// every slice: `x[o, i, j] = op(carry[o, j], x[o, i, j])`.
///
/// ```
/// use chunkwise_kernels::scan::apply_carry;
/// let mut tile = [1, 2, 3, 4];
/// apply_carry(&mut tile, &[100, 200], 1, 2, 2, |a, b| a + b);
/// assert_eq!(tile, [101, 202, 103, 204]);
/// ```
pub fn apply_carry<T: Copy>(
    data: &mut [T],
    carry: &[T],
    outer: usize,
    len: usize,
    inner: usize,
    op: impl Fn(T, T) -> T,
) {
    debug_assert_eq!(carry.len(), outer * inner);
    for (block, carry) in data
        .chunks_exact_mut((len * inner).max(1))
        .zip(carry.chunks_exact(inner.max(1)))
        .take(outer)
    {
        for slice in block.chunks_exact_mut(inner.max(1)) {
            for (x, &c) in slice.iter_mut().zip(carry) {
                *x = op(c, *x);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The product of 2 x 2 integer matrices: associative, not commutative.
    fn matmul(a: [i64; 4], b: [i64; 4]) -> [i64; 4] {
        [
            a[0] * b[0] + a[1] * b[2],
            a[0] * b[1] + a[1] * b[3],
            a[2] * b[0] + a[3] * b[2],
            a[2] * b[1] + a[3] * b[3],
        ]
    }

    #[test]
    fn scans_keep_the_order_of_a_non_commutative_operation() {
        // 2 x 3 x 2 matrices; scan along the middle axis, then fold and carry.
        let data: Vec<[i64; 4]> = (0..12).map(|i| [1, i, (i % 3) - 1, 2]).collect();
        let mut scanned = data.clone();
        scan_in_place(&mut scanned, 2, 3, 2, matmul);
        for o in 0..2 {
            for j in 0..2 {
                let mut product = data[o * 6 + j];
                for i in 1..3 {
                    product = matmul(product, data[o * 6 + i * 2 + j]);
                    assert_eq!(scanned[o * 6 + i * 2 + j], product);
                }
            }
        }
        let folds = fold_slices(&data, 2, 3, 2, matmul);
        assert_eq!(
            folds,
            vec![scanned[4], scanned[5], scanned[10], scanned[11]]
        );
        let mut carried = data.clone();
        apply_carry(&mut carried, &[[0, 1, 1, 0]; 4], 2, 3, 2, matmul);
        assert_eq!(carried[3], matmul([0, 1, 1, 0], data[3]));
    }

    #[test]
    fn folds_and_carries_agree_with_a_whole_scan() {
        let data: Vec<i64> = (1..=24).collect();
        let (outer, len, inner) = (2, 4, 3);
        let mut whole = data.clone();
        scan_in_place(&mut whole, outer, len, inner, |a, b| a + b);
        // Split the axis into two tiles of 2: scan each, carry the first's fold into the second.
        let tile = |part: usize| -> Vec<i64> {
            (0..outer)
                .flat_map(|o| {
                    let start = o * len * inner + part * 2 * inner;
                    data[start..start + 2 * inner].to_vec()
                })
                .collect()
        };
        let (first, mut second) = (tile(0), tile(1));
        let carry = fold_slices(&first, outer, 2, inner, |a, b| a + b);
        scan_in_place(&mut second, outer, 2, inner, |a, b| a + b);
        apply_carry(&mut second, &carry, outer, 2, inner, |a, b| a + b);
        for o in 0..outer {
            let expected = &whole[o * len * inner + 2 * inner..(o + 1) * len * inner];
            assert_eq!(&second[o * 2 * inner..(o + 1) * 2 * inner], expected);
        }
    }
}

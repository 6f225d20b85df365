//! The Gram matrix `aᵀa` of a tall row-major tile, as CholeskyQR needs it: a register-blocked
//! kernel that reads the rows where they lie (a few at a time, from L1), where a BLAS SYRK
//! first packs both operands and reaches only about half of GEMM's speed at `n ~ 100`.

use multiversion::multiversion;
use num_traits::Float;

use crate::dtype::FloatElement;

/// Rows of `a` copied (zero-padded to whole register blocks) and folded at a time.
const CHUNK_ROWS: usize = 64;

/// Adds `aᵀa` to the lower triangle (and diagonal) of the row-major `n x n` matrix `gram`,
/// for the row-major `m x n` matrix `a`. The strict upper triangle is not touched.
///
/// ```
/// let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // 3 x 2
/// let mut gram = [0.0; 4];
/// chunkwise_kernels::linalg::add_gram(&mut gram, &a, 3, 2);
/// assert_eq!(gram, [35.0, 0.0, 44.0, 56.0]);
/// ```
pub fn add_gram<T: FloatElement>(gram: &mut [T], a: &[T], m: usize, n: usize) {
    assert!(
        gram.len() >= n * n && a.len() >= m * n,
        "add_gram: operands too short"
    );
    if n == 0 {
        return;
    }
    // The block of `aᵀa` kept in registers: 8 x 8 with 32 vector registers (AVX-512),
    // 4 x 8 with 16 (AVX2); one row of it is one AVX-512 register of f64. Without FMA
    // instructions, `mul_add` would be a library call: multiply, then add.
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return add_gram_blocked::<T, 8, 8, true>(gram, a, m, n);
        }
        if std::arch::is_x86_feature_detected!("fma") {
            return add_gram_blocked::<T, 4, 8, true>(gram, a, m, n);
        }
    }
    add_gram_blocked::<T, 4, 8, false>(gram, a, m, n)
}

/// Bytes that [`add_gram`] allocates for an `n`-column matrix (whatever its rows): the sums
/// and one chunk of rows, both padded to whole register blocks.
///
/// ```
/// // 10 columns are padded to 16: 16 x 16 sums and a chunk of 64 rows of 16.
/// assert_eq!(chunkwise_kernels::linalg::add_gram_scratch::<f64>(10), (16 * 16 + 64 * 16) * 8);
/// ```
pub fn add_gram_scratch<T: FloatElement>(n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    // Every register blocking is NR = 8 columns wide.
    let width = n.next_multiple_of(8);
    (width * width + CHUNK_ROWS * width) * size_of::<T>()
}

/// [`add_gram`] in `MR x NR` register blocks (`MR` divides `NR`), with fused
/// multiply-adds if `FUSED`.
fn add_gram_blocked<T: FloatElement, const MR: usize, const NR: usize, const FUSED: bool>(
    gram: &mut [T],
    a: &[T],
    m: usize,
    n: usize,
) {
    let width = n.next_multiple_of(NR);
    let mut sums = vec![T::ZERO; width * width];
    let mut chunk = vec![T::ZERO; CHUNK_ROWS * width];
    for rows in a[..m * n].chunks(CHUNK_ROWS * n) {
        let count = rows.len() / n;
        for (row, padded) in rows.chunks(n).zip(chunk.chunks_mut(width)) {
            // The padding columns stay zero.
            padded[..n].copy_from_slice(row);
        }
        add_chunk::<T, MR, NR, FUSED>(&mut sums, &chunk[..count * width], width);
    }
    for i in 0..n {
        for j in 0..=i {
            gram[i * n + j] += sums[i * width + j];
        }
    }
}

/// Adds `chunkᵀ chunk` to the `MR x NR` blocks of `sums` (both `width` columns wide) that
/// hold any of its lower triangle.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn add_chunk<T: FloatElement, const MR: usize, const NR: usize, const FUSED: bool>(
    sums: &mut [T],
    chunk: &[T],
    width: usize,
) {
    for ib in (0..width).step_by(MR) {
        for jb in (0..width).step_by(NR).take_while(|&jb| jb < ib + MR) {
            let mut block = [[T::ZERO; NR]; MR];
            for (u, lane) in block.iter_mut().enumerate() {
                lane.copy_from_slice(&sums[(ib + u) * width + jb..][..NR]);
            }
            for row in chunk.chunks_exact(width) {
                let right: &[T; NR] = row[jb..jb + NR].try_into().expect("NR columns");
                for (u, lane) in block.iter_mut().enumerate() {
                    let left = row[ib + u];
                    for (sum, &r) in lane.iter_mut().zip(right) {
                        *sum = if FUSED {
                            Float::mul_add(left, r, *sum)
                        } else {
                            *sum + left * r
                        };
                    }
                }
            }
            for (u, lane) in block.iter().enumerate() {
                sums[(ib + u) * width + jb..][..NR].copy_from_slice(lane);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type AddGram = fn(&mut [f64], &[f64], usize, usize);

    #[test]
    fn every_register_blocking_matches_the_definition() {
        // Widths that are not whole blocks, and row counts that are not whole chunks.
        for (m, n) in [(1, 1), (5, 3), (200, 20), (130, 17), (64, 8)] {
            let a: Vec<f64> = (0..m * n)
                .map(|i| ((i * 37 % 101) as f64 - 50.0) / 7.0)
                .collect();
            let mut expected = vec![-1.0; n * n];
            for i in 0..n {
                for j in 0..=i {
                    expected[i * n + j] += (0..m).map(|r| a[r * n + i] * a[r * n + j]).sum::<f64>();
                }
            }
            let blockings: [AddGram; 3] = [
                add_gram_blocked::<f64, 8, 8, true>,
                add_gram_blocked::<f64, 4, 8, true>,
                add_gram_blocked::<f64, 4, 8, false>,
            ];
            for add in blockings {
                let mut gram = vec![-1.0; n * n];
                add(&mut gram, &a, m, n);
                for (found, want) in gram.iter().zip(&expected) {
                    assert!(
                        (found - want).abs() <= 1e-9 * want.abs().max(1.0),
                        "{m} x {n}"
                    );
                }
            }
        }
        let mut none: [f64; 0] = [];
        add_gram(&mut none, &[], 10, 0);
    }
}

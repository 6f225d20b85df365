//! Dense tile linear algebra: GEMM on row-major tiles through faer.
//!
//! faer is pure Rust with run-time CPU dispatch (AVX-512 / AVX2 / baseline), so the default
//! build needs no C compiler for BLAS; inside a task it runs single-threaded (the rayon pool
//! of the executor gives the parallelism).

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

/// `out += a * b` for row-major `a` (m x k), `b` (k x n) and `out` (m x n), on one thread.
pub fn gemm_accumulate_f64(out: &mut [f64], a: &[f64], b: &[f64], m: usize, n: usize, k: usize) {
    let lhs = MatRef::from_row_major_slice(a, m, k);
    let rhs = MatRef::from_row_major_slice(b, k, n);
    let dst = MatMut::from_row_major_slice_mut(out, m, n);
    matmul(dst, Accum::Add, lhs, rhs, 1.0, Par::Seq);
}

/// `out += a * b` for f32 (see [`gemm_accumulate_f64`]).
pub fn gemm_accumulate_f32(out: &mut [f32], a: &[f32], b: &[f32], m: usize, n: usize, k: usize) {
    let lhs = MatRef::from_row_major_slice(a, m, k);
    let rhs = MatRef::from_row_major_slice(b, k, n);
    let dst = MatMut::from_row_major_slice_mut(out, m, n);
    matmul(dst, Accum::Add, lhs, rhs, 1.0f32, Par::Seq);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulates_a_product_into_the_output() {
        let (m, n, k) = (3, 4, 5);
        let a: Vec<f64> = (0..m * k).map(|i| i as f64 * 0.5 - 2.0).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i % 7) as f64 - 3.0).collect();
        let mut out = vec![1.0; m * n];
        gemm_accumulate_f64(&mut out, &a, &b, m, n, k);
        for i in 0..m {
            for j in 0..n {
                let want: f64 = 1.0 + (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum::<f64>();
                assert!((out[i * n + j] - want).abs() < 1e-12);
            }
        }
    }
}

//! Tile GEMM and SYRK through faer's matmul (the `faer-gemm` feature): pure Rust with run-time
//! CPU dispatch, for builds without BLIS's C build. One thread inside tile tasks, like the
//! BLAS paths; [`set_threads`] gives a single call more (a benchmark's baseline).

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicUsize, Ordering};

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::traits::ComplexField;
use faer::{Accum, MatMut, MatRef, Par};
use num_traits::Float;

use super::Op;

/// Threads of each call (1: tile tasks).
static THREADS: AtomicUsize = AtomicUsize::new(1);

/// Sets the threads of later calls.
pub(super) fn set_threads(threads: usize) {
    THREADS.store(threads.max(1), Ordering::Relaxed);
}

fn par() -> Par {
    match THREADS.load(Ordering::Relaxed) {
        1 => Par::Seq,
        n => Par::rayon(n),
    }
}

/// `op(stored)`, which is `rows x cols`, from the row-major `stored` (`rows x cols` for
/// [`Op::Plain`], `cols x rows` for [`Op::Transposed`]).
fn operand<T>(op: Op, stored: &[T], rows: usize, cols: usize) -> MatRef<'_, T> {
    let stored = &stored[..rows * cols];
    match op {
        Op::Plain => MatRef::from_row_major_slice(stored, rows, cols),
        Op::Transposed => MatRef::from_row_major_slice(stored, cols, rows).transpose(),
    }
}

/// `c = alpha * op(a) @ op(b) + beta * c`, row-major and contiguous; with `beta = 0` the
/// elements of `c` are not read (it may be uninitialised).
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm<T: ComplexField + Float>(
    op_a: Op,
    op_b: Op,
    m: usize,
    n: usize,
    k: usize,
    alpha: T,
    a: &[T],
    b: &[T],
    beta: T,
    c: &mut [MaybeUninit<T>],
) {
    let c = scaled(&mut c[..m * n], beta, |_| true, n);
    let accum = if beta == T::zero() {
        Accum::Replace
    } else {
        Accum::Add
    };
    matmul(
        MatMut::from_row_major_slice_mut(c, m, n),
        accum,
        operand(op_a, a, m, k),
        operand(op_b, b, k, n),
        alpha,
        par(),
    );
}

/// The upper triangle of `c = alpha * op(a) @ op(a)ᵀ + beta * c`; the strict lower triangle
/// is neither read nor written.
#[allow(clippy::too_many_arguments)]
pub(super) fn syrk<T: ComplexField + Float>(
    op: Op,
    n: usize,
    k: usize,
    alpha: T,
    a: &[T],
    beta: T,
    c: &mut [T],
) {
    // SAFETY: `[T]` and `[MaybeUninit<T>]` have the same layout, and only initialised values
    // are written through the view.
    let c = unsafe { std::slice::from_raw_parts_mut(c.as_mut_ptr().cast(), c.len()) };
    let c = scaled(&mut c[..n * n], beta, |(i, j)| j >= i, n);
    let lhs = operand(op, a, n, k);
    triangular::matmul(
        MatMut::from_row_major_slice_mut(c, n, n),
        BlockStructure::TriangularUpper,
        if beta == T::zero() {
            Accum::Replace
        } else {
            Accum::Add
        },
        lhs,
        BlockStructure::Rectangular,
        lhs.transpose(),
        BlockStructure::Rectangular,
        alpha,
        par(),
    );
}

/// `c` (row-major, `cols` wide) with the elements that `keep` selects multiplied by `beta`
/// (set to zero, unread, when `beta` is zero, so that faer never reads an uninitialised or
/// NaN value there); the others are left as they are.
fn scaled<T: Float>(
    c: &mut [MaybeUninit<T>],
    beta: T,
    keep: impl Fn((usize, usize)) -> bool,
    cols: usize,
) -> &mut [T] {
    for (i, x) in c.iter_mut().enumerate() {
        if !keep((i / cols, i % cols)) {
            continue;
        }
        if beta == T::zero() {
            x.write(T::zero());
        } else if beta != T::one() {
            // SAFETY: with a nonzero beta the caller's `c` holds values (BLAS reads it too).
            let v = unsafe { x.assume_init() };
            x.write(v * beta);
        }
    }
    // SAFETY: every element is initialised: written above, or (nonzero beta, or outside
    // `keep`, which only SYRK's initialised `c` has) given initialised by the caller.
    unsafe { std::slice::from_raw_parts_mut(c.as_mut_ptr().cast(), c.len()) }
}

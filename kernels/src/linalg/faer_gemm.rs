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

use super::{MatrixRef, Op};

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

/// `op(a)`, which is `rows x cols`, as a contiguous row-major matrix: the stored matrix
/// itself when its rows are adjacent, else a copy of it. (faer's strided views gave wrong
/// products in `gemm_in_f32` under the `faer-gemm` feature; the copies keep this fallback
/// path on the views faer was tested with. BLAS builds read every operand in place.)
fn operand<T: Copy>(a: MatrixRef<'_, T>, rows: usize, cols: usize) -> std::borrow::Cow<'_, [T]> {
    let (stored_rows, stored_cols) = match a.op {
        Op::Plain => (rows, cols),
        Op::Transposed => (cols, rows),
    };
    if a.ld == stored_cols || stored_rows <= 1 {
        return std::borrow::Cow::Borrowed(&a.data[..stored_rows * stored_cols]);
    }
    std::borrow::Cow::Owned(packed(a.data, stored_rows, stored_cols, a.ld))
}

/// The `rows x cols` row-major matrix whose rows are `ld` apart in `data`, rows adjacent.
fn packed<T: Copy>(data: &[T], rows: usize, cols: usize, ld: usize) -> Vec<T> {
    let mut copy = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        copy.extend_from_slice(&data[r * ld..][..cols]);
    }
    copy
}

/// The view of `op(a)` (rows x cols) over its contiguous storage `stored`.
fn view<T>(op: Op, stored: &[T], rows: usize, cols: usize) -> MatRef<'_, T> {
    match op {
        Op::Plain => MatRef::from_row_major_slice(stored, rows, cols),
        Op::Transposed => MatRef::from_row_major_slice(stored, cols, rows).transpose(),
    }
}

/// Runs `f` on `c` (m x n, rows `ldc` apart) as a contiguous m x n matrix: `c` itself when
/// its rows are adjacent, else a copy that is written back row by row afterwards.
fn with_contiguous<T: Copy>(c: &mut [T], m: usize, n: usize, ldc: usize, f: impl FnOnce(&mut [T])) {
    if ldc == n || m <= 1 {
        f(&mut c[..m * n]);
        return;
    }
    let mut copy = packed(c, m, n, ldc);
    f(&mut copy);
    for r in 0..m {
        c[r * ldc..][..n].copy_from_slice(&copy[r * n..][..n]);
    }
}

/// `c = alpha * op(a) @ op(b) + beta * c`, row-major with leading dimensions; with `beta =
/// 0` the elements of `c` are not read (it may be uninitialised).
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm<T: ComplexField + Float>(
    m: usize,
    n: usize,
    k: usize,
    alpha: T,
    a: MatrixRef<'_, T>,
    b: MatrixRef<'_, T>,
    beta: T,
    c: &mut [MaybeUninit<T>],
    ldc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    let c = scaled(&mut c[..(m - 1) * ldc + n], beta, |_| true, n, ldc);
    let accum = if beta == T::zero() {
        Accum::Replace
    } else {
        Accum::Add
    };
    let (sa, sb) = (operand(a, m, k), operand(b, k, n));
    with_contiguous(c, m, n, ldc, |c| {
        matmul(
            MatMut::from_row_major_slice_mut(c, m, n),
            accum,
            view(a.op, &sa, m, k),
            view(b.op, &sb, k, n),
            alpha,
            par(),
        )
    });
}

/// The upper triangle of `c = alpha * op(a) @ op(a)ᵀ + beta * c` (`c` n x n, rows `ldc`
/// apart); the strict lower triangle is neither read nor written.
pub(super) fn syrk<T: ComplexField + Float>(
    n: usize,
    k: usize,
    alpha: T,
    a: MatrixRef<'_, T>,
    beta: T,
    c: &mut [T],
    ldc: usize,
) {
    if n == 0 {
        return;
    }
    // SAFETY: `[T]` and `[MaybeUninit<T>]` have the same layout, and only initialised values
    // are written through the view.
    let c = unsafe { std::slice::from_raw_parts_mut(c.as_mut_ptr().cast(), c.len()) };
    let c = scaled(&mut c[..(n - 1) * ldc + n], beta, |(i, j)| j >= i, n, ldc);
    let stored = operand(a, n, k);
    let lhs = view(a.op, &stored, n, k);
    with_contiguous(c, n, n, ldc, |c| {
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
        )
    });
}

/// `c` (row-major, `cols` wide, rows `ld` apart) with the elements that `keep` selects
/// multiplied by `beta` (set to zero, unread, when `beta` is zero, so that faer never reads
/// an uninitialised or NaN value there); the others (and the gaps between rows) are left as
/// they are.
fn scaled<T: Float>(
    c: &mut [MaybeUninit<T>],
    beta: T,
    keep: impl Fn((usize, usize)) -> bool,
    cols: usize,
    ld: usize,
) -> &mut [T] {
    for (i, x) in c.iter_mut().enumerate() {
        let (row, col) = (i / ld, i % ld);
        if col >= cols || !keep((row, col)) {
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
    // SAFETY: every element of the matrix is initialised: written above, or (nonzero beta,
    // or outside `keep`, which only SYRK's initialised `c` has) given initialised by the
    // caller. The gaps between rows are never read through the returned slice's matrix view.
    unsafe { std::slice::from_raw_parts_mut(c.as_mut_ptr().cast(), c.len()) }
}

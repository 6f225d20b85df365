//! Tile GEMM through BLAS (`blas-src`: BLIS built from source by default, called through its
//! typed API with the kernels chosen for this CPU; or a system OpenBLAS through CBLAS with
//! the `openblas` feature), or through faer's matmul with the `faer-gemm` feature (no C
//! build), kept single-threaded inside tile tasks: the executor's rayon pool gives the
//! parallelism.

use std::mem::MaybeUninit;
#[cfg(any(feature = "blis", feature = "openblas"))]
use std::os::raw::c_int;
use std::sync::Once;

#[cfg(feature = "openblas")]
use cblas_sys::{CBLAS_LAYOUT, CBLAS_TRANSPOSE};

#[cfg(feature = "blis")]
use super::blis;

// Links the BLAS library that `blas-src` selects.
#[cfg(any(feature = "blis", feature = "openblas"))]
extern crate blas_src;

/// How an operand of [`gemm`] enters the product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// As stored.
    Plain,
    /// Transposed.
    Transposed,
}

impl Op {
    #[cfg(feature = "openblas")]
    fn cblas(self) -> CBLAS_TRANSPOSE {
        match self {
            Op::Plain => CBLAS_TRANSPOSE::CblasNoTrans,
            Op::Transposed => CBLAS_TRANSPOSE::CblasTrans,
        }
    }

    #[cfg(feature = "blis")]
    fn blis(self) -> c_int {
        match self {
            Op::Plain => blis::NO_TRANSPOSE,
            Op::Transposed => blis::TRANSPOSE,
        }
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// The element types CBLAS computes with: `f32` and `f64` (sealed).
pub trait BlasScalar: Copy + sealed::Sealed {
    /// `c = alpha * op(a) * op(b) + beta * c`, all row-major with leading dimensions. With
    /// `beta = 0`, `c` is only written (BLAS does not read `C` then), so it may be
    /// uninitialised.
    ///
    /// # Safety
    ///
    /// `a`, `b` and `c` must hold the matrices that `m`, `n`, `k` and the leading
    /// dimensions describe (BLAS is not told the slices' lengths); [`gemm`] checks this.
    #[allow(clippy::too_many_arguments)]
    unsafe fn raw_gemm(
        op_a: Op,
        op_b: Op,
        m: usize,
        n: usize,
        k: usize,
        alpha: Self,
        a: &[Self],
        lda: usize,
        b: &[Self],
        ldb: usize,
        beta: Self,
        c: &mut [MaybeUninit<Self>],
        ldc: usize,
    );

    /// The upper triangle of `c = alpha * op(a) @ op(a)ᵀ + beta * c` (BLAS `syrk`), row-major:
    /// `op(a)` is n x k; `c` is n x n with leading dimension `ldc`. The strict lower triangle
    /// of `c` is neither read nor written.
    ///
    /// # Safety
    ///
    /// `a` and `c` must hold the matrices that `n`, `k` and the leading dimensions describe;
    /// [`syrk`] checks this.
    #[allow(clippy::too_many_arguments)]
    unsafe fn raw_syrk(
        op: Op,
        n: usize,
        k: usize,
        alpha: Self,
        a: &[Self],
        lda: usize,
        beta: Self,
        c: &mut [Self],
        ldc: usize,
    );
}

macro_rules! blas_scalar {
    ($t:ty, $cgemm:ident, $csyrk:ident, $bgemm:ident, $bsyrk:ident) => {
        impl BlasScalar for $t {
            unsafe fn raw_gemm(
                op_a: Op,
                op_b: Op,
                m: usize,
                n: usize,
                k: usize,
                alpha: Self,
                a: &[Self],
                lda: usize,
                b: &[Self],
                ldb: usize,
                beta: Self,
                c: &mut [MaybeUninit<Self>],
                ldc: usize,
            ) {
                if m == 0 || n == 0 {
                    return;
                }
                init_blas();
                // The caller guarantees the extents (`checked_gemm` checks them); BLAS reads
                // and writes only inside them.
                #[cfg(feature = "openblas")]
                unsafe {
                    cblas_sys::$cgemm(
                        CBLAS_LAYOUT::CblasRowMajor,
                        op_a.cblas(),
                        op_b.cblas(),
                        to_int(m),
                        to_int(n),
                        to_int(k),
                        alpha,
                        a.as_ptr(),
                        to_int(lda.max(1)),
                        b.as_ptr(),
                        to_int(ldb.max(1)),
                        beta,
                        c.as_mut_ptr().cast::<Self>(),
                        to_int(ldc.max(1)),
                    )
                }
                // Row-major: the row stride is the leading dimension, the column stride 1
                // (for a transposed operand, of the matrix as stored).
                #[cfg(feature = "blis")]
                unsafe {
                    blis::$bgemm(
                        op_a.blis(),
                        op_b.blis(),
                        to_dim(m),
                        to_dim(n),
                        to_dim(k),
                        &alpha,
                        a.as_ptr(),
                        to_dim(lda.max(1)),
                        1,
                        b.as_ptr(),
                        to_dim(ldb.max(1)),
                        1,
                        &beta,
                        c.as_mut_ptr().cast::<Self>(),
                        to_dim(ldc.max(1)),
                        1,
                        blis::cntx(),
                        std::ptr::null(),
                    )
                }
                #[cfg(feature = "faer-gemm")]
                super::faer_gemm::gemm(
                    m,
                    n,
                    k,
                    alpha,
                    super::MatrixRef {
                        data: a,
                        op: op_a,
                        ld: lda,
                    },
                    super::MatrixRef {
                        data: b,
                        op: op_b,
                        ld: ldb,
                    },
                    beta,
                    c,
                    ldc,
                );
            }

            unsafe fn raw_syrk(
                op: Op,
                n: usize,
                k: usize,
                alpha: Self,
                a: &[Self],
                lda: usize,
                beta: Self,
                c: &mut [Self],
                ldc: usize,
            ) {
                if n == 0 {
                    return;
                }
                init_blas();
                // The caller guarantees the extents (`syrk` checks them).
                #[cfg(feature = "openblas")]
                unsafe {
                    cblas_sys::$csyrk(
                        CBLAS_LAYOUT::CblasRowMajor,
                        cblas_sys::CBLAS_UPLO::CblasUpper,
                        op.cblas(),
                        to_int(n),
                        to_int(k),
                        alpha,
                        a.as_ptr(),
                        to_int(lda.max(1)),
                        beta,
                        c.as_mut_ptr(),
                        to_int(ldc.max(1)),
                    )
                }
                #[cfg(feature = "blis")]
                unsafe {
                    blis::$bsyrk(
                        blis::UPPER,
                        op.blis(),
                        to_dim(n),
                        to_dim(k),
                        &alpha,
                        a.as_ptr(),
                        to_dim(lda.max(1)),
                        1,
                        &beta,
                        c.as_mut_ptr(),
                        to_dim(ldc.max(1)),
                        1,
                        blis::cntx(),
                        std::ptr::null(),
                    )
                }
                #[cfg(feature = "faer-gemm")]
                super::faer_gemm::syrk(
                    n,
                    k,
                    alpha,
                    super::MatrixRef {
                        data: a,
                        op,
                        ld: lda,
                    },
                    beta,
                    c,
                    ldc,
                );
            }
        }
    };
}

blas_scalar!(f32, cblas_sgemm, cblas_ssyrk, bli_sgemm_ex, bli_ssyrk_ex);
blas_scalar!(f64, cblas_dgemm, cblas_dsyrk, bli_dgemm_ex, bli_dsyrk_ex);

#[cfg(feature = "openblas")]
fn to_int(x: usize) -> c_int {
    c_int::try_from(x).expect("a tile dimension fits a BLAS int")
}

#[cfg(feature = "blis")]
fn to_dim(x: usize) -> blis::Dim {
    blis::Dim::try_from(x).expect("a tile dimension fits a BLIS dim_t")
}

/// A row-major matrix read where it is stored: its first element at `data[0]`, its stored
/// rows `ld` (the leading dimension) elements apart, entering a product as `op` says. A
/// block of a larger row-major tile (a slice `x[r0.., c0..]`, or a piece of a tile) is the
/// tile's data from the block's first element, with the tile's row length as `ld`: BLAS
/// reads it in place, with no copy.
#[derive(Clone, Copy, Debug)]
pub struct MatrixRef<'a, T> {
    /// The elements from the matrix's first one on.
    pub data: &'a [T],
    /// How the stored matrix enters the product.
    pub op: Op,
    /// Elements between the starts of two stored rows (at least the stored row length).
    pub ld: usize,
}

impl<'a, T> MatrixRef<'a, T> {
    /// A contiguous matrix whose `op` is `rows x cols` (stored `cols x rows` when
    /// transposed).
    pub fn contiguous(data: &'a [T], op: Op, rows: usize, cols: usize) -> Self {
        let ld = if op == Op::Plain { cols } else { rows };
        MatrixRef { data, op, ld }
    }

    /// Asserts that the matrix holds `op(self)` of `rows x cols` (a caller's bug
    /// otherwise: BLAS is not told the slice's length).
    fn check(&self, rows: usize, cols: usize, name: &str) {
        let (stored_rows, stored_cols) = match self.op {
            Op::Plain => (rows, cols),
            Op::Transposed => (cols, rows),
        };
        assert!(
            self.ld >= stored_cols
                && self.data.len() >= stored_len(stored_rows, stored_cols, self.ld),
            "{name} holds {} elements with leading dimension {}, not a stored {stored_rows} x {stored_cols}",
            self.data.len(),
            self.ld
        );
    }
}

/// Elements from the first to the last of a row-major `rows x cols` matrix whose rows are
/// `ld` apart.
fn stored_len(rows: usize, cols: usize, ld: usize) -> usize {
    match rows * cols {
        0 => 0,
        _ => (rows - 1) * ld + cols,
    }
}

/// `c = alpha * op(a) @ op(b) + beta * c` for contiguous row-major matrices: `op(a)` is
/// m x k, `op(b)` is k x n and `c` is m x n. `beta = 1` accumulates into `c`.
///
/// ```
/// use chunkwise_kernels::linalg::{gemm, Op};
/// let a = [1.0, 2.0, 3.0, 4.0]; // [[1, 2], [3, 4]]
/// let mut c = [1.0; 4];
/// gemm(Op::Plain, Op::Transposed, 2, 2, 2, 1.0, &a, &a, 1.0, &mut c);
/// assert_eq!(c, [6.0, 12.0, 12.0, 26.0]); // a @ a.T + 1
/// ```
#[allow(clippy::too_many_arguments)]
pub fn gemm<T: BlasScalar>(
    op_a: Op,
    op_b: Op,
    m: usize,
    n: usize,
    k: usize,
    alpha: T,
    a: &[T],
    b: &[T],
    beta: T,
    c: &mut [T],
) {
    let (a, b) = (
        MatrixRef::contiguous(a, op_a, m, k),
        MatrixRef::contiguous(b, op_b, k, n),
    );
    gemm_strided(m, n, k, alpha, a, b, beta, c, n);
}

/// [`gemm`] on matrices read in place ([`MatrixRef`]: blocks of larger tiles, through their
/// leading dimensions), into `c` whose rows are `ldc` apart: `c = alpha * op(a) @ op(b) +
/// beta * c`, with `op(a)` m x k and `op(b)` k x n.
///
/// ```
/// use chunkwise_kernels::linalg::{gemm_strided, MatrixRef, Op};
/// // x is 3 x 3; its block x[1.., 1..] times its block x[..2, ..2], transposed.
/// let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
/// let a = MatrixRef { data: &x[4..], op: Op::Plain, ld: 3 }; // [[5, 6], [8, 9]]
/// let b = MatrixRef { data: &x[..], op: Op::Transposed, ld: 3 }; // [[1, 4], [2, 5]]
/// let mut c = [0.0; 4];
/// gemm_strided(2, 2, 2, 1.0, a, b, 0.0, &mut c, 2);
/// assert_eq!(c, [17.0, 50.0, 26.0, 77.0]);
/// ```
#[allow(clippy::too_many_arguments)]
pub fn gemm_strided<T: BlasScalar>(
    m: usize,
    n: usize,
    k: usize,
    alpha: T,
    a: MatrixRef<'_, T>,
    b: MatrixRef<'_, T>,
    beta: T,
    c: &mut [T],
    ldc: usize,
) {
    // A `[T]` viewed as `[MaybeUninit<T>]`: BLAS writes only finished values into it.
    let c = unsafe { std::slice::from_raw_parts_mut(c.as_mut_ptr().cast(), c.len()) };
    checked_gemm(m, n, k, alpha, a, b, beta, c, ldc);
}

/// [`gemm`] with `beta = 0` into uninitialised memory: `c = alpha * op(a) @ op(b)`, every
/// element of `c[..m * n]` written, none read.
///
/// ```
/// use chunkwise_kernels::linalg::{gemm_uninit, Op};
/// use std::mem::MaybeUninit;
/// let a = [1.0, 2.0, 3.0, 4.0]; // [[1, 2], [3, 4]]
/// let mut c = Vec::with_capacity(4);
/// gemm_uninit(Op::Plain, Op::Plain, 2, 2, 2, 1.0, &a, &a, &mut c.spare_capacity_mut()[..4]);
/// unsafe { c.set_len(4) };
/// assert_eq!(c, [7.0, 10.0, 15.0, 22.0]);
/// ```
#[allow(clippy::too_many_arguments)]
pub fn gemm_uninit<T: BlasScalar + num_traits::Zero>(
    op_a: Op,
    op_b: Op,
    m: usize,
    n: usize,
    k: usize,
    alpha: T,
    a: &[T],
    b: &[T],
    c: &mut [MaybeUninit<T>],
) {
    if k == 0 {
        // An empty sum: zeros, whatever the BLAS does with k = 0.
        c[..m * n].fill(MaybeUninit::new(T::zero()));
        return;
    }
    let (a, b) = (
        MatrixRef::contiguous(a, op_a, m, k),
        MatrixRef::contiguous(b, op_b, k, n),
    );
    checked_gemm(m, n, k, alpha, a, b, T::zero(), c, n);
}

#[allow(clippy::too_many_arguments)]
fn checked_gemm<T: BlasScalar>(
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
    a.check(m, k, "gemm's a");
    b.check(k, n, "gemm's b");
    assert!(
        ldc >= n && c.len() >= stored_len(m, n, ldc),
        "gemm's c holds {} elements with leading dimension {ldc}, not {m} x {n}",
        c.len()
    );
    // SAFETY: the lengths were checked above against the extents and leading dimensions.
    unsafe {
        T::raw_gemm(
            a.op, b.op, m, n, k, alpha, a.data, a.ld, b.data, b.ld, beta, c, ldc,
        )
    };
}

/// The symmetric product `c = alpha * op(a) @ op(a)ᵀ + beta * c` (BLAS `syrk`, half the
/// flops of the [`gemm`] that gives it) for contiguous row-major matrices: `op(a)` is n x k
/// (`a` is stored n x k for [`Op::Plain`], k x n for [`Op::Transposed`], which gives
/// `aᵀ @ a`), `c` is n x n. Only the upper triangle of `c` (diagonal included) is computed;
/// [`mirror_upper`] copies it to the lower one.
///
/// ```
/// use chunkwise_kernels::linalg::{mirror_upper, syrk, Op};
/// let a = [1.0, 2.0, 3.0, 4.0]; // [[1, 2], [3, 4]]
/// let mut c = [0.0; 4];
/// syrk(Op::Plain, 2, 2, 1.0, &a, 0.0, &mut c);
/// mirror_upper(&mut c, 2);
/// assert_eq!(c, [5.0, 11.0, 11.0, 25.0]); // a @ a.T
/// ```
#[allow(clippy::too_many_arguments)]
pub fn syrk<T: BlasScalar>(op: Op, n: usize, k: usize, alpha: T, a: &[T], beta: T, c: &mut [T]) {
    syrk_strided(n, k, alpha, MatrixRef::contiguous(a, op, n, k), beta, c);
}

/// [`syrk`] of a matrix read in place ([`MatrixRef`]): the upper triangle of the n x n
/// `c = alpha * op(a) @ op(a)ᵀ + beta * c`, `op(a)` n x k.
///
/// ```
/// use chunkwise_kernels::linalg::{syrk_strided, MatrixRef, Op};
/// let x = [1.0, 2.0, 0.0, 3.0, 4.0, 0.0]; // [[1, 2], [3, 4]] in rows of 3
/// let mut c = [0.0; 4];
/// syrk_strided(2, 2, 1.0, MatrixRef { data: &x, op: Op::Plain, ld: 3 }, 0.0, &mut c);
/// assert_eq!((c[0], c[1], c[3]), (5.0, 11.0, 25.0));
/// ```
pub fn syrk_strided<T: BlasScalar>(
    n: usize,
    k: usize,
    alpha: T,
    a: MatrixRef<'_, T>,
    beta: T,
    c: &mut [T],
) {
    a.check(n, k, "syrk's a");
    assert!(
        c.len() >= n * n,
        "syrk's c holds {} elements, not {n} x {n}",
        c.len()
    );
    // SAFETY: the lengths were checked above against the extents and leading dimensions.
    unsafe { T::raw_syrk(a.op, n, k, alpha, a.data, a.ld, beta, c, n) };
}

/// Copies the upper triangle of the row-major n x n matrix `c` to its lower triangle (after
/// [`syrk`]), in cache-sized blocks.
pub fn mirror_upper<T: Copy>(c: &mut [T], n: usize) {
    const B: usize = 32;
    let c = &mut c[..n * n];
    for i0 in (0..n).step_by(B) {
        for j0 in (0..=i0).step_by(B) {
            // Block (i0, j0) of the lower triangle from block (j0, i0) of the upper one.
            for i in i0..(i0 + B).min(n) {
                for j in j0..(j0 + B).min(i) {
                    c[i * n + j] = c[j * n + i];
                }
            }
        }
    }
}

/// The BLAS library this build links (or faer, with the `faer-gemm` feature).
pub const BLAS_LIBRARY: &str = if cfg!(feature = "openblas") {
    "OpenBLAS (system)"
} else if cfg!(feature = "faer-gemm") {
    "faer (pure Rust)"
} else {
    "BLIS (vendored)"
};

#[cfg(feature = "openblas")]
unsafe extern "C" {
    fn openblas_set_num_threads(n: c_int);
}

#[cfg(feature = "blis")]
unsafe extern "C" {
    fn bli_thread_set_num_threads(n: i64);
}

/// Runs `f` with `threads` BLAS threads, then goes back to one: for a single multi-threaded
/// BLAS call (a benchmark's baseline) outside tile tasks, which assume one thread each.
pub fn with_blas_threads<R>(threads: usize, f: impl FnOnce() -> R) -> R {
    init_blas();
    set_blas_threads(threads.max(1));
    let result = f();
    set_blas_threads(1);
    result
}

fn set_blas_threads(threads: usize) {
    #[cfg(feature = "openblas")]
    unsafe {
        openblas_set_num_threads(threads as c_int)
    };
    #[cfg(feature = "blis")]
    unsafe {
        bli_thread_set_num_threads(threads as i64)
    };
    #[cfg(feature = "faer-gemm")]
    super::faer_gemm::set_threads(threads);
}

/// The BLIS sub-configuration whose kernels tile GEMM uses when chunkwise chose it from the
/// CPU's features (`"skx"` with AVX-512, `"zen3"` with AVX2 and FMA), or `None` where the
/// BLAS chooses by itself (a `BLIS_ARCH_TYPE` set by the user, another CPU, or the
/// `openblas` or `faer-gemm` feature).
///
/// The choice reaches BLIS as an argument of each call (its typed API with a kernel
/// context), not through the environment: the process's state is left as it was.
///
/// ```
/// let kernels = chunkwise_kernels::linalg::blas_kernels();
/// assert!(matches!(kernels, None | Some("skx") | Some("zen3")));
/// ```
pub fn blas_kernels() -> Option<&'static str> {
    #[cfg(feature = "blis")]
    return blis::chosen();
    #[cfg(not(feature = "blis"))]
    None
}

/// Once per process, before the first BLAS call: one BLAS thread per caller. (BLIS's kernel
/// context is looked up on its first use, see `blis`.)
fn init_blas() {
    static INIT: Once = Once::new();
    INIT.call_once(|| set_blas_threads(1));
}

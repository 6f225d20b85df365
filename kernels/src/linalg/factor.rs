//! Dense factorizations of one tile through faer (pure Rust, run-time CPU dispatch), on one
//! thread: Cholesky, LU with partial pivoting, SVD and triangular solves (the QR of a
//! TSQR tile is in `tile_qr`).
//!
//! Tiles are row-major slices; faer views them in place (a row-major matrix is a
//! column-major view of its transpose) or copies them into column-major storage where its
//! algorithms prefer that (SVD).
//!
//! The input must be finite: NaNs and infinities give meaningless factors or a wrong
//! breakdown (a NaN pivot reads as "not positive", an infinity makes every pivot "zero to
//! working precision"). Check with [`first_non_finite`](super::first_non_finite) first.

use crate::dtype::FloatElement;
use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::svd::ComputeSvdVectors;
use faer::linalg::{cholesky, lu, svd, triangular_solve};
use faer::{Mat, MatMut, MatRef, Par};

use super::Op;

/// The Cholesky factor `L` (lower, row-major, zeros above the diagonal) of the symmetric
/// positive-definite `n x n` matrix `a` (only its lower triangle is read), or the index of
/// the first pivot that was not positive. The lower triangle must be finite (see the module
/// documentation).
///
/// ```
/// let l = chunkwise_kernels::linalg::cholesky_lower(&[4.0, 2.0, 2.0, 5.0], 2).unwrap();
/// assert_eq!(l, vec![2.0, 0.0, 1.0, 2.0]);
/// ```
pub fn cholesky_lower<T: FloatElement>(a: &[T], n: usize) -> Result<Vec<T>, usize> {
    // Column-major storage of the row-major `a` is its transpose; faer reads the lower
    // triangle, which is the lower triangle of `a` transposed: copy it the right way round.
    let mut factor = MatRef::from_row_major_slice(a, n, n).to_owned();
    let mut buffer = MemBuffer::new(cholesky::llt::factor::cholesky_in_place_scratch::<T>(
        n,
        Par::Seq,
        Default::default(),
    ));
    cholesky::llt::factor::cholesky_in_place(
        factor.as_mut(),
        Default::default(),
        Par::Seq,
        MemStack::new(&mut buffer),
        Default::default(),
    )
    .map_err(|cholesky::llt::factor::LltError::NonPositivePivot { index }| index)?;
    let zero = T::ZERO;
    let mut out = vec![zero; n * n];
    for i in 0..n {
        for j in 0..=i {
            out[i * n + j] = factor[(i, j)];
        }
    }
    Ok(out)
}

/// Bytes that [`cholesky_lower`] of an `n x n` matrix allocates beyond the `n x n` factor it
/// returns: a column-major copy of the matrix (faer's storage, columns padded to whole
/// 64-byte lines) and faer's workspace (`cholesky_in_place_scratch`).
///
/// ```
/// // At least the copy of the matrix.
/// assert!(chunkwise_kernels::linalg::cholesky_lower_scratch::<f64>(100) >= 100 * 100 * 8);
/// ```
pub fn cholesky_lower_scratch<T: FloatElement>(n: usize) -> usize {
    mat_bytes::<T>(n, n)
        + stack_bytes(cholesky::llt::factor::cholesky_in_place_scratch::<T>(
            n,
            Par::Seq,
            Default::default(),
        ))
}

/// A triangular `n x n` matrix stored row-major (the other triangle is not read).
#[derive(Clone, Copy, Debug)]
pub struct Triangular<'a, T> {
    /// The elements, row-major.
    pub data: &'a [T],
    /// Rows and columns.
    pub n: usize,
    /// Whether the lower triangle holds the matrix (else the upper one).
    pub lower: bool,
    /// Whether the diagonal is taken as ones (unit triangular, as in an LU's `L`).
    pub unit_diagonal: bool,
}

/// Solves `op(t) @ x = b` in place: `b` is row-major `n x nrhs` and becomes `x`. Needs no
/// scratch (faer solves in place, in recursive blocks).
///
/// ```
/// use chunkwise_kernels::linalg::{solve_left, Op, Triangular};
/// let l = [2.0, 0.0, 1.0, 4.0];
/// let mut b = [2.0, 9.0];
/// solve_left(Triangular { data: &l, n: 2, lower: true, unit_diagonal: false }, Op::Plain, &mut b, 1);
/// assert_eq!(b, [1.0, 2.0]);
/// ```
pub fn solve_left<T: FloatElement>(t: Triangular<'_, T>, op: Op, b: &mut [T], nrhs: usize) {
    let rhs = MatMut::from_row_major_slice_mut(b, t.n, nrhs);
    solve_in_place(t, op, rhs);
}

/// Solves `x @ op(t) = b` in place: `b` is row-major `nrows x n` and becomes `x`. Needs no
/// scratch, as [`solve_left`].
pub fn solve_right<T: FloatElement>(t: Triangular<'_, T>, op: Op, b: &mut [T], nrows: usize) {
    // x op(t) = b  <=>  op(t)^T x^T = b^T, and b^T is a column-major view of b.
    let rhs = MatMut::from_row_major_slice_mut(b, nrows, t.n).transpose_mut();
    let flipped = match op {
        Op::Plain => Op::Transposed,
        Op::Transposed => Op::Plain,
    };
    solve_in_place(t, flipped, rhs);
}

fn solve_in_place<T: FloatElement>(t: Triangular<'_, T>, op: Op, rhs: MatMut<'_, T>) {
    let stored = MatRef::from_row_major_slice(t.data, t.n, t.n);
    let (tri, lower) = match op {
        Op::Plain => (stored, t.lower),
        Op::Transposed => (stored.transpose(), !t.lower),
    };
    use triangular_solve as ts;
    match (lower, t.unit_diagonal) {
        (true, false) => ts::solve_lower_triangular_in_place(tri, rhs, Par::Seq),
        (true, true) => ts::solve_unit_lower_triangular_in_place(tri, rhs, Par::Seq),
        (false, false) => ts::solve_upper_triangular_in_place(tri, rhs, Par::Seq),
        (false, true) => ts::solve_unit_upper_triangular_in_place(tri, rhs, Par::Seq),
    }
}

/// LU factorization with partial pivoting of the row-major `m x n` matrix `a` (`m >= n`),
/// in place: afterwards `a` holds `U` in its upper triangle and the unit lower `L` below.
/// Returns the row order `p` (row `i` of `P a` is row `p[i]` of `a`), or the index of the
/// first pivot that is zero to working precision, `|u_ii| <= max(m, n) * eps * max|a|`
/// (the columns are linearly dependent: the matrix is singular). `a` must be finite.
pub fn lu_partial_pivoting<T: FloatElement>(
    a: &mut [T],
    m: usize,
    n: usize,
) -> Result<Vec<usize>, usize> {
    let largest = a.iter().fold(T::ZERO, |acc, &x| acc.max(x.abs()));
    let tolerance = T::from_f64(m.max(n) as f64) * T::epsilon() * largest;
    lu_partial_pivoting_within(a, m, n, tolerance)
}

/// [`lu_partial_pivoting`] with the pivots at most `tolerance` in magnitude counted as zero:
/// for a panel of a larger matrix, a tolerance from that matrix (so that whether it is
/// singular does not depend on how it is cut into panels).
///
/// ```
/// use chunkwise_kernels::linalg::lu_partial_pivoting_within;
/// // The second column of this panel is rounding noise next to a matrix of scale 1.
/// let mut panel = [1.0, 0.0, 0.0, 1e-17];
/// assert_eq!(lu_partial_pivoting_within(&mut panel, 2, 2, 4.0 * f64::EPSILON), Err(1));
/// ```
pub fn lu_partial_pivoting_within<T: FloatElement>(
    a: &mut [T],
    m: usize,
    n: usize,
    tolerance: T,
) -> Result<Vec<usize>, usize> {
    let mut perm = vec![0usize; m];
    let mut perm_inv = vec![0usize; m];
    let mut buffer = MemBuffer::new(
        lu::partial_pivoting::factor::lu_in_place_scratch::<usize, T>(
            m,
            n,
            Par::Seq,
            Default::default(),
        ),
    );
    let mut matrix = MatMut::from_row_major_slice_mut(a, m, n);
    lu::partial_pivoting::factor::lu_in_place(
        matrix.as_mut(),
        &mut perm,
        &mut perm_inv,
        Par::Seq,
        MemStack::new(&mut buffer),
        Default::default(),
    );
    match (0..m.min(n)).find(|&i| matrix[(i, i)].abs() <= tolerance) {
        Some(pivot) => Err(pivot),
        None => Ok(perm),
    }
}

/// Bytes that [`lu_partial_pivoting`] of an `m x n` matrix allocates beyond the matrix it
/// factors in place and the row order it returns (`m` `usize`s): the inverse row order and
/// faer's workspace (`lu_in_place_scratch`).
///
/// ```
/// use chunkwise_kernels::linalg::lu_partial_pivoting_scratch;
/// assert!(lu_partial_pivoting_scratch::<f64>(100, 10) >= 100 * size_of::<usize>());
/// ```
pub fn lu_partial_pivoting_scratch<T: FloatElement>(m: usize, n: usize) -> usize {
    m * size_of::<usize>()
        + stack_bytes(
            lu::partial_pivoting::factor::lu_in_place_scratch::<usize, T>(
                m,
                n,
                Par::Seq,
                Default::default(),
            ),
        )
}

/// Bytes that [`thin_svd`] of an `m x n` matrix allocates beyond the factors it returns
/// (whose bytes are [`SvdFactors::bytes_for`]): a column-major copy of the matrix, faer's
/// singular values and vectors before they are laid out row-major, and faer's workspace
/// (`svd_scratch`).
///
/// ```
/// use chunkwise_kernels::linalg::thin_svd_scratch;
/// // At least the copy of the matrix and faer's two sets of vectors.
/// assert!(thin_svd_scratch::<f64>(64, 32) >= (64 * 32 + 64 * 32 + 32 * 32) * 8);
/// ```
pub fn thin_svd_scratch<T: FloatElement>(m: usize, n: usize) -> usize {
    let k = m.min(n);
    mat_bytes::<T>(m, n)
        + mat_bytes::<T>(k, 1)
        + mat_bytes::<T>(m, k)
        + mat_bytes::<T>(n, k)
        + stack_bytes(svd::svd_scratch::<T>(
            m,
            n,
            ComputeSvdVectors::Thin,
            ComputeSvdVectors::Thin,
            Par::Seq,
            Default::default(),
        ))
}

/// The thin SVD of the row-major `m x n` matrix `a`: `(u, s, vt)` with `u` `m x k`,
/// `s` the `k` singular values in non-increasing order and `vt` `k x n` (`k = min(m, n)`),
/// all row-major; `None` if the iteration did not converge. `a` must be finite.
pub fn thin_svd<T: FloatElement>(a: &[T], m: usize, n: usize) -> Option<SvdFactors<T>> {
    let k = m.min(n);
    // faer's iteration loses tiny entries (their squares underflow: 1e-170 in f64) and
    // overflows on huge ones: as LAPACK's drivers do, a matrix whose largest entry lies
    // outside [sqrt(min positive) / eps, its inverse] is scaled to a largest entry of 1,
    // and its singular values scaled back.
    let largest = a.iter().fold(T::ZERO, |acc, &x| acc.max(x.abs()));
    let small = T::min_positive_value().sqrt() / T::epsilon();
    let scale = match largest > T::ZERO && (largest < small || largest > small.recip()) {
        true => largest,
        false => T::ONE,
    };
    let matrix = Mat::<T>::from_fn(m, n, |i, j| a[i * n + j] / scale);
    let mut s = faer::diag::Diag::<T>::zeros(k);
    let mut u = Mat::<T>::zeros(m, k);
    let mut v = Mat::<T>::zeros(n, k);
    let mut buffer = MemBuffer::new(svd::svd_scratch::<T>(
        m,
        n,
        ComputeSvdVectors::Thin,
        ComputeSvdVectors::Thin,
        Par::Seq,
        Default::default(),
    ));
    svd::svd(
        matrix.as_ref(),
        s.as_mut(),
        Some(u.as_mut()),
        Some(v.as_mut()),
        Par::Seq,
        MemStack::new(&mut buffer),
        Default::default(),
    )
    .ok()?;
    Some(SvdFactors {
        u: row_major(u.as_ref()),
        s: (0..k).map(|i| s[i] * scale).collect(),
        vt: row_major(v.as_ref().transpose()),
    })
}

/// The factors of a thin SVD, row-major (see [`thin_svd`]).
#[derive(Clone, Debug)]
pub struct SvdFactors<T> {
    /// Left singular vectors, `m x k`.
    pub u: Vec<T>,
    /// Singular values, non-increasing.
    pub s: Vec<T>,
    /// Right singular vectors transposed, `k x n`.
    pub vt: Vec<T>,
}

impl<T> SvdFactors<T> {
    /// Bytes held.
    pub fn nbytes(&self) -> usize {
        (self.u.len() + self.s.len() + self.vt.len()) * size_of::<T>()
    }

    /// Bytes of the factors of an `m x n` matrix (what [`SvdFactors::nbytes`] gives for the
    /// result of [`thin_svd`]), computed without factoring.
    ///
    /// ```
    /// use chunkwise_kernels::linalg::SvdFactors;
    /// assert_eq!(SvdFactors::<f64>::bytes_for(5, 3), (5 * 3 + 3 + 3 * 3) * 8);
    /// ```
    pub fn bytes_for(m: usize, n: usize) -> usize {
        let k = m.min(n);
        (m * k + k + k * n) * size_of::<T>()
    }
}

/// Writes the transpose of the row-major `rows x cols` matrix `src` into `dst` (row-major
/// `cols x rows`), in cache-sized blocks ([`copy_block`](crate::view::copy_block)). (A
/// row-major matrix's transpose is its column-major storage, and the other way round.)
pub fn transpose_into<T: Copy>(src: &[T], rows: usize, cols: usize, dst: &mut [T]) {
    crate::view::copy_block(src, 0, (1, cols as isize), (cols, rows), dst, rows);
}

/// Bytes of a faer `Mat<T>` of `rows x cols`: faer pads each column of an element type whose
/// size is a power of two to a whole number of 64-byte lines (its storage alignment).
pub(super) fn mat_bytes<T>(rows: usize, cols: usize) -> usize {
    let size = size_of::<T>();
    let align = if size.is_power_of_two() {
        align_of::<T>().max(64)
    } else {
        align_of::<T>()
    };
    let rows = if size > 0 && align > size {
        rows.next_multiple_of(align / size)
    } else {
        rows
    };
    size * rows * cols
}

/// Bytes of the buffer a faer workspace requirement allocates (`MemBuffer::new`).
pub(super) fn stack_bytes(req: StackReq) -> usize {
    req.size_bytes()
}

/// The elements of `m` in row-major order.
fn row_major<T: Copy>(m: MatRef<'_, T>) -> Vec<T> {
    let mut out = Vec::with_capacity(m.nrows() * m.ncols());
    for i in 0..m.nrows() {
        out.extend((0..m.ncols()).map(|j| m[(i, j)]));
    }
    out
}

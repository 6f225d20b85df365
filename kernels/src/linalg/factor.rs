//! Dense factorizations of one tile through faer (pure Rust, run-time CPU dispatch), on one
//! thread: QR, Cholesky, LU with partial pivoting, SVD and triangular solves.
//!
//! Tiles are row-major slices; faer views them in place (a row-major matrix is a
//! column-major view of its transpose) or copies them into column-major storage where its
//! algorithms prefer that (QR, SVD).

use crate::dtype::FloatElement;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::svd::ComputeSvdVectors;
use faer::linalg::{cholesky, householder, lu, qr, svd, triangular_solve};
use faer::{Conj, Mat, MatMut, MatRef, Par};

use super::Op;

/// The Cholesky factor `L` (lower, row-major, zeros above the diagonal) of the symmetric
/// positive-definite `n x n` matrix `a` (only its lower triangle is read), or the index of
/// the first pivot that was not positive.
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

/// Solves `op(t) @ x = b` in place: `b` is row-major `n x nrhs` and becomes `x`.
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

/// Solves `x @ op(t) = b` in place: `b` is row-major `nrows x n` and becomes `x`.
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

/// The QR factorization of an `m x n` tile, held in Householder form: `Q` is applied on
/// demand and never formed unless asked.
///
/// A tall tile is factored in row blocks of a few MiB (each QR runs in cache, about 1.7x
/// faster than one QR of the whole tile), whose stacked `R` factors are factored again:
/// a TSQR inside the tile.
#[derive(Debug)]
pub struct HouseholderQr<T> {
    rows: usize,
    cols: usize,
    shape: QrShape<T>,
}

#[derive(Debug)]
enum QrShape<T> {
    /// One Householder QR.
    Leaf(LeafQr<T>),
    /// Row blocks factored one by one, then their stacked `R` factors.
    Blocked {
        blocks: Vec<HouseholderQr<T>>,
        top: Box<HouseholderQr<T>>,
    },
}

/// Bytes of one row block of a blocked tile QR.
const QR_BLOCK_BYTES: usize = 3 << 20;

impl<T: FloatElement> HouseholderQr<T> {
    /// Factors the row-major `m x n` matrix `a`.
    ///
    /// ```
    /// use chunkwise_kernels::linalg::HouseholderQr;
    /// let a = [3.0f64, 1.0, 4.0, 2.0]; // [[3, 1], [4, 2]]
    /// let qr = HouseholderQr::new(&a, 2, 2);
    /// let (q, r) = (qr.thin_q(), qr.r());
    /// // q @ r == a
    /// assert!((q[0] * r[0] + q[1] * r[2] - 3.0).abs() < 1e-12);
    /// assert!((q[2] * r[1] + q[3] * r[3] - 2.0).abs() < 1e-12);
    /// ```
    pub fn new(a: &[T], m: usize, n: usize) -> Self {
        let block_rows = (QR_BLOCK_BYTES / (n.max(1) * std::mem::size_of::<T>())).max(2 * n);
        let shape = if n > 0 && m >= 2 * block_rows {
            let count = m / block_rows;
            let blocks: Vec<HouseholderQr<T>> = (0..count)
                .map(|b| {
                    let end = if b + 1 == count {
                        m
                    } else {
                        (b + 1) * block_rows
                    };
                    let rows = end - b * block_rows;
                    HouseholderQr::new(&a[b * block_rows * n..end * n], rows, n)
                })
                .collect();
            let stacked: Vec<T> = blocks.iter().flat_map(|b| b.r()).collect();
            let top = HouseholderQr::new(&stacked, count * n, n);
            QrShape::Blocked {
                blocks,
                top: Box::new(top),
            }
        } else {
            QrShape::Leaf(LeafQr::new(a, m, n))
        };
        HouseholderQr {
            rows: m,
            cols: n,
            shape,
        }
    }

    /// Rows of the factored matrix.
    pub fn nrows(&self) -> usize {
        self.rows
    }

    /// `min(rows, columns)`: the columns of the thin `Q`, the rows of `R`.
    pub fn rank_bound(&self) -> usize {
        self.rows.min(self.cols)
    }

    /// Bytes held.
    pub fn nbytes(&self) -> usize {
        match &self.shape {
            QrShape::Leaf(leaf) => leaf.nbytes(),
            QrShape::Blocked { blocks, top } => {
                blocks.iter().map(HouseholderQr::nbytes).sum::<usize>() + top.nbytes()
            }
        }
    }

    /// `R`, row-major `k x n` with `k = min(m, n)`, zeros below the diagonal.
    pub fn r(&self) -> Vec<T> {
        match &self.shape {
            QrShape::Leaf(leaf) => leaf.r(),
            QrShape::Blocked { top, .. } => top.r(),
        }
    }

    /// `Q[:, :k] @ top`, row-major `m x ncols`, for a row-major `k x ncols` matrix `top`:
    /// the Householder reflectors applied to `top` stacked on zeros.
    pub fn q_times(&self, top: &[T], ncols: usize) -> Vec<T> {
        let mut out = Vec::with_capacity(self.rows * ncols);
        self.append_q_times(top, ncols, &mut out);
        out
    }

    /// Appends [`HouseholderQr::q_times`] to `out`. A blocked tile appends block by block,
    /// so each block's rows are written once and transformed while still in cache.
    fn append_q_times(&self, top: &[T], ncols: usize, out: &mut Vec<T>) {
        match &self.shape {
            QrShape::Leaf(leaf) => leaf.append_q_times(top, ncols, out),
            QrShape::Blocked {
                blocks,
                top: stacked,
            } => {
                let middle = stacked.q_times(top, ncols);
                let n = self.cols;
                for (b, block) in blocks.iter().enumerate() {
                    block.append_q_times(&middle[b * n * ncols..(b + 1) * n * ncols], ncols, out);
                }
            }
        }
    }

    /// The thin `Q`, row-major `m x k`.
    pub fn thin_q(&self) -> Vec<T> {
        let k = self.rank_bound();
        let mut identity = vec![T::ZERO; k * k];
        for i in 0..k {
            identity[i * k + i] = T::ONE;
        }
        self.q_times(&identity, k)
    }
}

/// One Householder QR through faer.
#[derive(Debug)]
struct LeafQr<T> {
    /// `R` in the upper triangle, the Householder vectors below it (column-major, `m x n`,
    /// no padding: the transpose of the row-major input).
    factors: Vec<T>,
    rows: usize,
    cols: usize,
    /// The block Householder coefficients.
    coeff: Mat<T>,
}

impl<T: FloatElement> LeafQr<T> {
    fn new(a: &[T], m: usize, n: usize) -> Self {
        // Column-major storage is the transpose of the row-major tile.
        let mut factors = vec![T::ZERO; m * n];
        transpose_into(a, m, n, &mut factors);
        let k = m.min(n);
        let (block, params) = qr_tuning::<T>(m, n);
        let mut coeff = Mat::<T>::zeros(block, k);
        let mut buffer = MemBuffer::new(qr::no_pivoting::factor::qr_in_place_scratch::<T>(
            m,
            n,
            block,
            Par::Seq,
            params.into(),
        ));
        if k > 0 {
            qr::no_pivoting::factor::qr_in_place(
                MatMut::from_column_major_slice_mut(&mut factors, m, n),
                coeff.as_mut(),
                Par::Seq,
                MemStack::new(&mut buffer),
                params.into(),
            );
        }
        LeafQr {
            factors,
            rows: m,
            cols: n,
            coeff,
        }
    }

    fn nbytes(&self) -> usize {
        (self.factors.len() + self.coeff.nrows() * self.coeff.ncols()) * std::mem::size_of::<T>()
    }

    fn r(&self) -> Vec<T> {
        let (m, n) = (self.rows, self.cols);
        let k = m.min(n);
        let mut out = vec![T::ZERO; k * n];
        for i in 0..k {
            for j in i..n {
                out[i * n + j] = self.factors[j * m + i];
            }
        }
        out
    }

    fn append_q_times(&self, top: &[T], ncols: usize, out: &mut Vec<T>) {
        let (m, k) = (self.rows, self.rows.min(self.cols));
        // The reflectors are applied in place to the row-major rows appended here: `top`
        // in the first k rows, zeros below. (faer's blocked application is GEMM-based and
        // takes any strides, so no column-major copy is needed.)
        let start = out.len();
        out.extend_from_slice(&top[..k * ncols]);
        out.resize(start + m * ncols, T::ZERO);
        if k > 0 && ncols > 0 {
            let block = self.coeff.nrows();
            let mut buffer = MemBuffer::new(
                householder::apply_block_householder_sequence_on_the_left_in_place_scratch::<T>(
                    m, block, ncols,
                ),
            );
            householder::apply_block_householder_sequence_on_the_left_in_place_with_conj(
                MatRef::from_column_major_slice(&self.factors, m, self.cols).subcols(0, k),
                self.coeff.as_ref(),
                Conj::No,
                MatMut::from_row_major_slice_mut(&mut out[start..], m, ncols),
                Par::Seq,
                MemStack::new(&mut buffer),
            );
        }
    }
}

/// faer's block size and blocking threshold for the QR of an `m x n` matrix. For a tall
/// matrix (`m >= 8 n`, such as the 3 MiB row blocks of a TSQR tile of up to about 200
/// columns), blocks of 16 reflectors whose panels are factored unblocked measured 8-10%
/// faster on one core than faer's defaults (blocks of 48 for a 3932 x 100 block, panels
/// split recursively down to single columns), and the Householder application to form `Q`
/// as fast. Other shapes keep faer's defaults.
fn qr_tuning<T: FloatElement>(m: usize, n: usize) -> (usize, qr::no_pivoting::factor::QrParams) {
    let mut params: qr::no_pivoting::factor::QrParams = faer::Auto::<T>::auto();
    let block = if m >= 8 * n {
        params.blocking_threshold = usize::MAX;
        16
    } else {
        qr::no_pivoting::factor::recommended_block_size::<T>(m, n)
    };
    (block.min(m.min(n)).max(1), params)
}

/// LU factorization with partial pivoting of the row-major `m x n` matrix `a` (`m >= n`),
/// in place: afterwards `a` holds `U` in its upper triangle and the unit lower `L` below.
/// Returns the row order `p` (row `i` of `P a` is row `p[i]` of `a`), or the index of the
/// first pivot that is zero to working precision, `|u_ii| <= max(m, n) * eps * max|a|`
/// (the columns are linearly dependent: the matrix is singular).
pub fn lu_partial_pivoting<T: FloatElement>(
    a: &mut [T],
    m: usize,
    n: usize,
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
    let largest = a.iter().fold(T::ZERO, |acc, &x| acc.max(x.abs()));
    let tolerance = T::from_f64(m.max(n) as f64) * T::epsilon() * largest;
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

/// The thin SVD of the row-major `m x n` matrix `a`: `(u, s, vt)` with `u` `m x k`,
/// `s` the `k` singular values in non-increasing order and `vt` `k x n` (`k = min(m, n)`),
/// all row-major; `None` if the iteration did not converge.
pub fn thin_svd<T: FloatElement>(a: &[T], m: usize, n: usize) -> Option<SvdFactors<T>> {
    let k = m.min(n);
    let matrix = MatRef::from_row_major_slice(a, m, n).to_owned();
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
        s: (0..k).map(|i| s[i]).collect(),
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

/// Writes the transpose of the row-major `rows x cols` matrix `src` into `dst` (row-major
/// `cols x rows`), in cache-sized blocks. (A row-major matrix's transpose is its
/// column-major storage, and the other way round.)
pub fn transpose_into<T: Copy>(src: &[T], rows: usize, cols: usize, dst: &mut [T]) {
    const B: usize = 8;
    let (src, dst) = (&src[..rows * cols], &mut dst[..rows * cols]);
    let (full_rows, full_cols) = (rows - rows % B, cols - cols % B);
    // 8 x 8 blocks through a local array: contiguous 8-element reads and writes.
    for i0 in (0..full_rows).step_by(B) {
        for j0 in (0..full_cols).step_by(B) {
            let mut block = [[src[0]; B]; B];
            for (r, row) in block.iter_mut().enumerate() {
                row.copy_from_slice(&src[(i0 + r) * cols + j0..(i0 + r) * cols + j0 + B]);
            }
            for c in 0..B {
                let out = &mut dst[(j0 + c) * rows + i0..(j0 + c) * rows + i0 + B];
                for (r, o) in out.iter_mut().enumerate() {
                    *o = block[r][c];
                }
            }
        }
    }
    // The edges: the last rows (all columns) and the last columns of the full rows.
    for i in full_rows..rows {
        for j in 0..cols {
            dst[j * rows + i] = src[i * cols + j];
        }
    }
    for i in 0..full_rows {
        for j in full_cols..cols {
            dst[j * rows + i] = src[i * cols + j];
        }
    }
}

/// The elements of `m` in row-major order.
fn row_major<T: Copy>(m: MatRef<'_, T>) -> Vec<T> {
    let mut out = Vec::with_capacity(m.nrows() * m.ncols());
    for i in 0..m.nrows() {
        out.extend((0..m.ncols()).map(|j| m[(i, j)]));
    }
    out
}

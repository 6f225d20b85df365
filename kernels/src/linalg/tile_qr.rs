//! The QR factorization of one tile, on one thread, in the form TSQR needs: `R`, and `Q`
//! applied on demand to a small matrix (`Q @ top`), never formed unless asked.
//!
//! Two methods, chosen per tile:
//! - **CholeskyQR2** for tall double-precision tiles: `R1 = chol(AᵀA)`, `Q1 = A R1⁻¹`, then
//!   the same once more on `Q1` (`R2 = chol(Q1ᵀQ1)`), so `A = Q1 R2⁻¹ · R2 R1`. Every step is
//!   a matrix product or a triangular solve (BLAS-3), and applying `Q` is one GEMM with
//!   `Q1`. The second pass makes `Q` orthonormal to working precision when the first `Q1`
//!   is close enough to orthonormal (Yamamoto, Nakatsukasa, Yanagisawa and Fukaya, 2015),
//!   which holds for condition numbers up to about 10⁸ and is checked on the computed
//!   `Q1ᵀQ1` of every tile, not assumed.
//! - **Householder** (faer) otherwise: wide or short tiles, single precision (the Gram
//!   matrix squares the condition number, and `f32` has too little headroom for that),
//!   and every tile where CholeskyQR2 is not safe (the Cholesky factorization of `AᵀA`
//!   broke down, or `Q1ᵀQ1` is farther than [`GRAM_TOLERANCE`] from the identity:
//!   condition numbers beyond about 10⁸). A tall tile is factored in row blocks of a few
//!   MiB (each QR runs in cache, about 1.7x faster than one QR of the whole tile), whose
//!   stacked `R` factors are factored again: a TSQR inside the tile.
//!
//! The tile must be finite: a NaN fails CholeskyQR2's check, and faer's Householder QR then
//! takes the NaN column as already reduced and returns a finite, orthonormal `Q`. Check
//! with [`first_non_finite`](super::first_non_finite) first.

use crate::dtype::FloatElement;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::{householder, qr, triangular_solve};
use faer::{Conj, Mat, MatMut, MatRef, Par};

use super::blas::{Op, gemm_uninit};
use super::factor::{
    cholesky_lower, cholesky_lower_scratch, mat_bytes, stack_bytes, transpose_into,
};
use super::gram::{add_gram, add_gram_scratch};

/// The QR factorization of an `m x n` tile; see the module documentation.
#[derive(Debug)]
pub struct TileQr<T> {
    rows: usize,
    cols: usize,
    shape: QrShape<T>,
}

/// How a tile was factored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QrMethod {
    /// Householder reflectors (faer), possibly in row blocks.
    Householder,
    /// CholeskyQR2 with its a-posteriori orthogonality check passed.
    CholeskyQr2,
}

#[derive(Debug)]
enum QrShape<T> {
    /// One Householder QR.
    Householder(LeafQr<T>),
    /// Row blocks factored one by one (Householder), then their stacked `R` factors.
    Blocked {
        blocks: Vec<TileQr<T>>,
        top: Box<TileQr<T>>,
    },
    /// CholeskyQR2.
    Gram(GramQr<T>),
}

/// Bytes of one row block of a blocked Householder tile QR.
const QR_BLOCK_BYTES: usize = 3 << 20;

/// Bytes of the row blocks in which CholeskyQR2's second pass solves for `Q1` and adds to
/// `Q1ᵀQ1` while they are in cache.
const GRAM_BLOCK_BYTES: usize = 512 << 10;

/// The largest Frobenius distance of the first pass's `Q1ᵀQ1` from the identity that
/// CholeskyQR2 accepts. At 1/2, `Q1`'s condition number is at most √3, so the second pass
/// (a CholeskyQR of a matrix that well conditioned) leaves `Q` orthonormal to working
/// precision; larger distances mean `A` is too ill-conditioned and the tile falls back to
/// Householder.
pub const GRAM_TOLERANCE: f64 = 0.5;

impl<T: FloatElement> TileQr<T> {
    /// Factors the row-major `m x n` matrix `a`: by CholeskyQR2 where that is safe, else
    /// by Householder reflectors. The factors hold at most [`TileQr::nbytes_bound`] bytes,
    /// and factoring needs at most [`TileQr::scratch_bytes`] more.
    ///
    /// ```
    /// use chunkwise_kernels::linalg::{QrMethod, TileQr};
    /// let a = [3.0f64, 1.0, 4.0, 2.0, 0.0, 5.0, 1.0, 1.0]; // [[3, 1], [4, 2], [0, 5], [1, 1]]
    /// let qr = TileQr::new(&a, 4, 2);
    /// assert_eq!(qr.method(), QrMethod::CholeskyQr2); // tall (m >= 2n), well conditioned
    /// let (q, r) = (qr.thin_q(), qr.r());
    /// // q @ r == a, row by row
    /// for i in 0..4 {
    ///     for j in 0..2 {
    ///         let x = q[i * 2] * r[j] + q[i * 2 + 1] * r[2 + j];
    ///         assert!((x - a[i * 2 + j]).abs() < 1e-12);
    ///     }
    /// }
    /// ```
    pub fn new(a: &[T], m: usize, n: usize) -> Self {
        let shape = match GramQr::try_new(a, m, n) {
            Some(gram) => QrShape::Gram(gram),
            None => return Self::householder(a, m, n),
        };
        TileQr {
            rows: m,
            cols: n,
            shape,
        }
    }

    /// Factors `a` by Householder reflectors, in row blocks if it is tall.
    pub fn householder(a: &[T], m: usize, n: usize) -> Self {
        let (block_rows, blocks) = householder_blocks::<T>(m, n);
        let shape = if let Some(count) = blocks {
            let blocks: Vec<TileQr<T>> = (0..count)
                .map(|b| {
                    let end = if b + 1 == count {
                        m
                    } else {
                        (b + 1) * block_rows
                    };
                    let rows = end - b * block_rows;
                    TileQr::householder(&a[b * block_rows * n..end * n], rows, n)
                })
                .collect();
            // Allocated once at its final size, so that `householder_footprint` can count it.
            let mut stacked: Vec<T> = Vec::with_capacity(count * n * n);
            for block in &blocks {
                stacked.extend_from_slice(&block.r());
            }
            let top = TileQr::householder(&stacked, count * n, n);
            QrShape::Blocked {
                blocks,
                top: Box::new(top),
            }
        } else {
            QrShape::Householder(LeafQr::new(a, m, n))
        };
        TileQr {
            rows: m,
            cols: n,
            shape,
        }
    }

    /// How the tile was factored.
    pub fn method(&self) -> QrMethod {
        match self.shape {
            QrShape::Gram(_) => QrMethod::CholeskyQr2,
            QrShape::Householder(_) | QrShape::Blocked { .. } => QrMethod::Householder,
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
            QrShape::Householder(leaf) => leaf.nbytes(),
            QrShape::Blocked { blocks, top } => {
                blocks.iter().map(TileQr::nbytes).sum::<usize>() + top.nbytes()
            }
            QrShape::Gram(gram) => gram.nbytes(),
        }
    }

    /// `R`, row-major `k x n` with `k = min(m, n)`, zeros below the diagonal.
    pub fn r(&self) -> Vec<T> {
        match &self.shape {
            QrShape::Householder(leaf) => leaf.r(),
            QrShape::Blocked { top, .. } => top.r(),
            QrShape::Gram(gram) => gram.r.clone(),
        }
    }

    /// `Q[:, :k] @ top`, row-major `m x ncols`, for a row-major `k x ncols` matrix `top`.
    /// Its scratch is at most [`TileQr::q_times_scratch`].
    pub fn q_times(&self, top: &[T], ncols: usize) -> Vec<T> {
        let mut out = Vec::with_capacity(self.rows * ncols);
        self.append_q_times(top, ncols, &mut out);
        out
    }

    /// Appends [`TileQr::q_times`] to `out`. A blocked tile appends block by block, so
    /// each block's rows are written once and transformed while still in cache.
    fn append_q_times(&self, top: &[T], ncols: usize, out: &mut Vec<T>) {
        match &self.shape {
            QrShape::Householder(leaf) => leaf.append_q_times(top, ncols, out),
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
            QrShape::Gram(gram) => gram.append_q_times(top, ncols, out),
        }
    }

    /// The thin `Q`, row-major `m x k`.
    ///
    /// Its scratch is [`TileQr::thin_q_scratch`].
    pub fn thin_q(&self) -> Vec<T> {
        let k = self.rank_bound();
        let mut identity = vec![T::ZERO; k * k];
        for i in 0..k {
            identity[i * k + i] = T::ONE;
        }
        self.q_times(&identity, k)
    }
}

/// What a tile QR of an `m x n` tile needs, computed without factoring: the companions of
/// [`TileQr::new`], [`TileQr::q_times`] and [`TileQr::thin_q`]. The method depends on the
/// values (CholeskyQR2's check), so each figure is the larger of the two methods' where
/// both may be chosen. Buffers that faer's and the BLAS's matrix products keep per thread
/// are not counted.
impl<T: FloatElement> TileQr<T> {
    /// The most [`TileQr::nbytes`] of the factors of an `m x n` tile.
    ///
    /// ```
    /// use chunkwise_kernels::linalg::TileQr;
    /// let a: Vec<f64> = (0..40).map(|i| ((i * 7 % 11) as f64).sin()).collect();
    /// let qr = TileQr::new(&a, 10, 4);
    /// assert!(qr.nbytes() <= TileQr::<f64>::nbytes_bound(10, 4));
    /// ```
    pub fn nbytes_bound(m: usize, n: usize) -> usize {
        let householder = householder_footprint::<T>(m, n).nbytes;
        gram_footprint::<T>(m, n).map_or(householder, |gram| gram.nbytes.max(householder))
    }

    /// The most bytes [`TileQr::new`] of an `m x n` tile allocates beyond
    /// [`TileQr::nbytes_bound`]: faer's workspace, its padding of the block Householder
    /// coefficients, the Gram matrices and Cholesky factors of CholeskyQR2, the stacked `R`
    /// factors of a blocked tile (the input is only read).
    pub fn scratch_bytes(m: usize, n: usize) -> usize {
        let householder = householder_footprint::<T>(m, n).peak;
        let peak = gram_footprint::<T>(m, n).map_or(householder, |gram| gram.peak.max(householder));
        peak.saturating_sub(Self::nbytes_bound(m, n))
    }

    /// The most bytes [`TileQr::q_times`] with `ncols` columns allocates, for the factors of
    /// an `m x n` tile, beyond the `m x ncols` product it returns.
    pub fn q_times_scratch(m: usize, n: usize, ncols: usize) -> usize {
        let householder = householder_q_times_scratch::<T>(m, n, ncols);
        match gram_footprint::<T>(m, n) {
            // `R2⁻¹ top` (the product is then one BLAS GEMM).
            Some(_) => householder.max(n * ncols * size_of::<T>()),
            None => householder,
        }
    }

    /// The most bytes [`TileQr::thin_q`] allocates, for the factors of an `m x n` tile,
    /// beyond the `m x k` `Q` it returns (`k = min(m, n)`): the `k x k` identity it
    /// multiplies, and [`TileQr::q_times_scratch`].
    pub fn thin_q_scratch(m: usize, n: usize) -> usize {
        let k = m.min(n);
        k * k * size_of::<T>() + Self::q_times_scratch(m, n, k)
    }
}

/// The memory of one way of factoring a tile.
#[derive(Clone, Copy, Debug)]
struct Footprint {
    /// Bytes of the factors as [`TileQr::nbytes`] counts them.
    nbytes: usize,
    /// Bytes allocated for the factors (faer pads its matrices' columns).
    kept: usize,
    /// The most bytes allocated at once while factoring, the kept ones among them.
    peak: usize,
}

/// The row blocks of a blocked Householder tile QR, as [`TileQr::householder`] cuts them:
/// the rows of a full block, and the number of blocks (`None` if the tile is one block).
fn householder_blocks<T>(m: usize, n: usize) -> (usize, Option<usize>) {
    let block_rows = (QR_BLOCK_BYTES / (n.max(1) * size_of::<T>())).max(2 * n);
    let blocked = n > 0 && m >= 2 * block_rows;
    (block_rows, blocked.then(|| m / block_rows))
}

/// [`TileQr::householder`] of an `m x n` tile, mirrored without factoring.
fn householder_footprint<T: FloatElement>(m: usize, n: usize) -> Footprint {
    let size = size_of::<T>();
    let (block_rows, Some(count)) = householder_blocks::<T>(m, n) else {
        let k = m.min(n);
        let (block, params) = qr_tuning::<T>(m, n);
        let kept = m * n * size + mat_bytes::<T>(block, k);
        let workspace =
            qr::no_pivoting::factor::qr_in_place_scratch::<T>(m, n, block, Par::Seq, params.into());
        return Footprint {
            nbytes: (m * n + block * k) * size,
            kept,
            peak: kept + stack_bytes(workspace),
        };
    };
    let (mut nbytes, mut kept, mut peak) = (0, 0, 0);
    for b in 0..count {
        let rows = if b + 1 == count {
            m - b * block_rows
        } else {
            block_rows
        };
        let block = householder_footprint::<T>(rows, n);
        peak = peak.max(kept + block.peak);
        nbytes += block.nbytes;
        kept += block.kept;
    }
    // The stacked R factors, filled one block's `R` (a temporary copy) at a time, then
    // factored.
    let stacked = count * n * n * size;
    let top = householder_footprint::<T>(count * n, n);
    peak = peak
        .max(kept + stacked + n * n * size)
        .max(kept + stacked + top.peak);
    Footprint {
        nbytes: nbytes + top.nbytes,
        kept: kept + top.kept,
        peak,
    }
}

/// [`TileQr::q_times`] of a Householder factorization of an `m x n` tile with `ncols`
/// columns: its scratch beyond the product.
fn householder_q_times_scratch<T: FloatElement>(m: usize, n: usize, ncols: usize) -> usize {
    let (block_rows, Some(count)) = householder_blocks::<T>(m, n) else {
        let k = m.min(n);
        if k == 0 || ncols == 0 {
            return 0;
        }
        let (block, _) = qr_tuning::<T>(m, n);
        return stack_bytes(
            householder::apply_block_householder_sequence_on_the_left_in_place_scratch::<T>(
                m, block, ncols,
            ),
        );
    };
    // The stacked factors' product (`count n x ncols`), then each block's rows of the
    // result, written into the product being returned.
    let middle = count * n * ncols * size_of::<T>();
    let top = householder_q_times_scratch::<T>(count * n, n, ncols);
    let blocks = (0..count)
        .map(|b| {
            let rows = if b + 1 == count {
                m - b * block_rows
            } else {
                block_rows
            };
            householder_q_times_scratch::<T>(rows, n, ncols)
        })
        .max()
        .unwrap_or(0);
    middle + top.max(blocks)
}

/// CholeskyQR2 of an `m x n` tile ([`GramQr::try_new`]), mirrored without factoring, or
/// `None` where it does not apply. A tile whose check fails frees all of this before it is
/// factored by Householder reflectors.
fn gram_footprint<T: FloatElement>(m: usize, n: usize) -> Option<Footprint> {
    if !GramQr::<T>::applies(m, n) {
        return None;
    }
    let size = size_of::<T>();
    let square = n * n * size;
    let mat = mat_bytes::<T>(n, n);
    // `checked_cholesky`: `cholesky_lower` (its copy, workspace and factor), then the factor
    // copied into a faer matrix.
    let cholesky = (cholesky_lower_scratch::<T>(n) + square).max(square + mat);
    let gram = add_gram_scratch::<T>(n);
    let q1 = m * n * size;
    // The Gram matrix throughout; then L1; then Q1; then L2, their product and R.
    let peak = [
        square + gram,
        square + cholesky,
        square + mat + q1 + gram,
        square + mat + q1 + cholesky,
        square + mat + q1 + mat + mat + square,
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    Some(Footprint {
        nbytes: q1 + 2 * square,
        kept: q1 + mat + square,
        peak,
    })
}

/// A CholeskyQR2 factorization: `A = Q1 R2⁻¹ · R`, `R = R2 R1`.
#[derive(Debug)]
struct GramQr<T> {
    /// `Q1 = A R1⁻¹`, row-major `m x n`: within [`GRAM_TOLERANCE`] of orthonormal (`Q1ᵀQ1`
    /// from the identity, Frobenius norm).
    q1: Vec<T>,
    /// `L2 = R2ᵀ`, lower triangular `n x n`.
    l2: Mat<T>,
    /// `R = R2 R1`, row-major `n x n`, zeros below the diagonal.
    r: Vec<T>,
}

impl<T: FloatElement> GramQr<T> {
    /// CholeskyQR2 of the row-major `m x n` matrix `a`, or `None` where it does not apply
    /// (not tall, not double precision) or is not safe (see [`GRAM_TOLERANCE`]).
    fn try_new(a: &[T], m: usize, n: usize) -> Option<Self> {
        if !Self::applies(m, n) {
            return None;
        }
        let mut gram = vec![T::ZERO; n * n];
        add_gram(&mut gram, a, m, n);
        let l1 = checked_cholesky(&gram, n, None)?;
        // The second pass, in row blocks that stay in cache: each block's rows of Q1 are
        // solved for (Q1 L1ᵀ = A, that is L1 Q1ᵀ = Aᵀ, and Q1ᵀ is a column-major view of
        // Q1), then added to Q1ᵀQ1 before the next block is read.
        let block_rows = (GRAM_BLOCK_BYTES / (n * std::mem::size_of::<T>())).max(1);
        let mut q1 = Vec::with_capacity(m * n);
        gram.fill(T::ZERO);
        for rows in a[..m * n].chunks(block_rows * n) {
            let start = q1.len();
            q1.extend_from_slice(rows);
            let block = &mut q1[start..];
            let count = block.len() / n;
            triangular_solve::solve_lower_triangular_in_place(
                l1.as_ref(),
                MatMut::from_row_major_slice_mut(block, count, n).transpose_mut(),
                Par::Seq,
            );
            add_gram(&mut gram, block, count, n);
        }
        let l2 = checked_cholesky(&gram, n, Some(GRAM_TOLERANCE))?;
        // R = R2 R1 = (L1 L2)ᵀ.
        let product = &l1 * &l2;
        let mut r = vec![T::ZERO; n * n];
        for i in 0..n {
            for j in i..n {
                r[i * n + j] = product[(j, i)];
            }
        }
        Some(GramQr { q1, l2, r })
    }

    /// Whether CholeskyQR2 is tried on an `m x n` tile: a tall one, in double precision.
    fn applies(m: usize, n: usize) -> bool {
        let double_precision = T::epsilon().to_f64().is_some_and(|eps| eps < 1e-10);
        n > 0 && m >= 2 * n && double_precision
    }

    fn nbytes(&self) -> usize {
        (self.q1.len() + self.l2.nrows() * self.l2.ncols() + self.r.len())
            * std::mem::size_of::<T>()
    }

    /// `Q @ top = Q1 (R2⁻¹ top)`: a small triangular solve, then one GEMM.
    fn append_q_times(&self, top: &[T], ncols: usize, out: &mut Vec<T>) {
        let n = self.l2.nrows();
        let m = self.q1.len() / n;
        let mut scaled = top[..n * ncols].to_vec();
        triangular_solve::solve_upper_triangular_in_place(
            self.l2.transpose(),
            MatMut::from_row_major_slice_mut(&mut scaled, n, ncols),
            Par::Seq,
        );
        let start = out.len();
        out.reserve(m * ncols);
        gemm_uninit(
            Op::Plain,
            Op::Plain,
            m,
            ncols,
            n,
            T::ONE,
            &self.q1,
            &scaled,
            &mut out.spare_capacity_mut()[..m * ncols],
        );
        // `gemm_uninit` wrote all `m * ncols` elements.
        unsafe { out.set_len(start + m * ncols) };
    }
}

/// The lower Cholesky factor of the symmetric `n x n` matrix whose lower triangle `lower`
/// holds (row-major), or `None` if the factorization breaks down or (given a tolerance) the
/// matrix is farther than that from the identity in the Frobenius norm (a NaN anywhere also
/// gives `None`).
fn checked_cholesky<T: FloatElement>(
    lower: &[T],
    n: usize,
    tolerance: Option<f64>,
) -> Option<Mat<T>> {
    if let Some(tolerance) = tolerance {
        let mut squares = 0.0;
        for i in 0..n {
            let d = lower[i * n + i].to_f64()? - 1.0;
            squares += d * d;
            for j in 0..i {
                let off = lower[i * n + j].to_f64()?;
                squares += 2.0 * off * off;
            }
        }
        let distance = squares.sqrt();
        if distance.is_nan() || distance > tolerance {
            return None;
        }
    }
    // `cholesky_lower` reads the lower triangle and leaves zeros above the diagonal.
    let factor = cholesky_lower(lower, n).ok()?;
    Some(MatRef::from_row_major_slice(&factor, n, n).to_owned())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gram_check_accepts_within_its_tolerance_and_rejects_beyond() {
        // The identity with e at (1, 0) and (0, 1) is e√2 from the identity (Frobenius).
        let near = |e: f64| vec![1.0, 0.0, 0.0, e, 1.0, 0.0, 0.0, 0.0, 1.0];
        assert!(checked_cholesky(&near(0.3), 3, Some(GRAM_TOLERANCE)).is_some());
        assert!(checked_cholesky(&near(0.4), 3, Some(GRAM_TOLERANCE)).is_none());
        assert!(checked_cholesky(&near(0.4), 3, None).is_some());
        assert!(checked_cholesky(&near(f64::NAN), 3, Some(GRAM_TOLERANCE)).is_none());
        // Not positive definite: no factor, with or without the check.
        assert!(checked_cholesky(&near(1.5), 3, None).is_none());
        // The factor: L Lᵀ reproduces the matrix, zeros above the diagonal.
        let l = checked_cholesky(&near(0.3), 3, None).unwrap();
        let product = &l * l.transpose();
        for i in 0..3 {
            for j in 0..3 {
                let want = if i == j {
                    1.0
                } else if i + j == 1 {
                    0.3
                } else {
                    0.0
                };
                assert!((product[(i, j)] - want).abs() < 1e-15);
                if j > i {
                    assert_eq!(l[(i, j)], 0.0);
                }
            }
        }
    }
}

//! Singular value decompositions: exact through TSQR for tall-and-skinny (or short-and-wide)
//! matrices, and randomized for a low-rank approximation of any matrix.

use chunkwise_kernels::dtype::FloatElement;
use chunkwise_kernels::linalg::{SvdFactors, thin_svd, thin_svd_scratch};

use super::finite::{Region, checked};
use super::matrix_shape;
use super::qr::qr_of;
use super::stage::{blockwise, matrix, pick_part, tile_of, tuple};
use crate::array::Array;
use crate::chunks::ChunkGrid;
use crate::error::{BuildError, Error, LinalgError, Result};
use crate::tile::TileMemory;

/// The thin SVD `a = u @ diag(s) @ vt` of a tall-and-skinny or short-and-wide matrix:
/// `u` (m x k) and `vt` (k x n) have orthonormal columns and rows, `s` holds the `k =
/// min(m, n)` singular values in non-increasing order.
///
/// A tall matrix is factored as `a = q r` by TSQR, then `r = u_r s vt` in one tile, and
/// `u = q u_r`; a wide matrix through its transpose. The smaller dimension must fit one
/// tile. A NaN or an infinity anywhere in `a` gives
/// [`LinalgError::NotFinite`](crate::LinalgError::NotFinite) when computed.
///
/// ```
/// let a = chunkwise::random::uniform::<f64>(3, -1.0, 1.0, &[600, 8], [200, 8]).unwrap();
/// let (u, s, vt) = chunkwise::linalg::svd(&a).unwrap();
/// let s = s.compute().unwrap().into_raw_vec_and_offset().0;
/// assert!(s.windows(2).all(|w| w[0] >= w[1]));
/// assert_eq!(u.shape(), vec![600, 8]);
/// assert_eq!(vt.shape(), vec![8, 8]);
/// ```
pub fn svd<T: FloatElement>(a: &Array<T>) -> Result<(Array<T>, Array<T>, Array<T>)> {
    svd_checking("svd", a)
}

/// [`svd`] of `a`, checked to be finite as input "a" of `op`.
pub(super) fn svd_checking<T: FloatElement>(
    op: &str,
    a: &Array<T>,
) -> Result<(Array<T>, Array<T>, Array<T>)> {
    matrix_shape(op, a)?;
    svd_of(&checked(op, "a", a, Region::All))
}

/// [`svd`] of a matrix already checked to be finite.
pub(super) fn svd_of<T: FloatElement>(a: &Array<T>) -> Result<(Array<T>, Array<T>, Array<T>)> {
    let (m, n) = matrix_shape("svd", a)?;
    if m < n {
        let (u, s, vt) = svd_of(&a.transpose())?;
        return Ok((vt.transpose(), s, u.transpose()));
    }
    let (q, r) = qr_of(a)?;
    // One task factors R; its three results are picked apart.
    let factors = blockwise(
        "svd of r",
        r.node.grid.clone(),
        T::DTYPE,
        vec![r.node.clone()],
    )
    .memory(move |_| TileMemory {
        output: SvdFactors::<T>::bytes_for(n, n) as u64,
        scratch: thin_svd_scratch::<T>(n, n) as u64,
    })
    .run(
        |_| vec![(0, vec![0, 0])],
        move |_, tiles| {
            let r = matrix::<T>(tiles[0], 0);
            let f = thin_svd(r.data, n, n).ok_or_else(|| {
                Error::Linalg(LinalgError::NotConverged {
                    op: "svd of the R factor".into(),
                })
            })?;
            Ok(tuple(vec![
                tile_of(f.u, &[n, n]),
                tile_of(f.s, &[n]),
                tile_of(f.vt, &[n, n]),
            ]))
        },
    );
    let pick = |index: usize, shape: &[usize]| {
        Array::<T>::from_node(pick_part(
            ChunkGrid::single(shape),
            T::DTYPE,
            &factors,
            vec![0, 0],
            index,
        ))
    };
    let (u_r, s, vt) = (pick(0, &[n, n]), pick(1, &[n]), pick(2, &[n, n]));
    Ok((q.matmul(&u_r)?, s, vt))
}

/// Options of [`svd_compressed`].
#[derive(Clone, Copy, Debug)]
pub struct SvdCompressed {
    /// Power iterations (`a a^T` applied this many times to the sample): more iterations
    /// give better singular vectors when the spectrum decays slowly.
    pub power_iterations: usize,
    /// Extra sample columns beyond the rank asked for.
    pub oversampling: usize,
    /// Seed of the Gaussian test matrix.
    pub seed: u64,
}

impl Default for SvdCompressed {
    /// Two power iterations, ten extra columns, seed 0.
    fn default() -> Self {
        SvdCompressed {
            power_iterations: 2,
            oversampling: 10,
            seed: 0,
        }
    }
}

/// A rank-`k` approximation `a ~ u @ diag(s) @ vt` by randomized SVD (Halko, Martinsson and
/// Tropp 2011): sample the range of `a` with a Gaussian test matrix, refine it by power
/// iterations (each re-orthonormalised by TSQR), project `a` onto it and take the exact SVD
/// of the small projection. Any matrix whose row tiles hold `k + oversampling` columns.
/// A NaN or an infinity anywhere in `a` gives
/// [`LinalgError::NotFinite`](crate::LinalgError::NotFinite) when computed.
///
/// ```
/// use chunkwise::linalg::{svd_compressed, SvdCompressed};
/// // A rank-2 matrix: the approximation of rank 2 is exact.
/// let x = chunkwise::random::normal::<f64>(1, 0.0, 1.0, &[300, 2], [100, 2]).unwrap();
/// let y = chunkwise::random::normal::<f64>(2, 0.0, 1.0, &[2, 200], [2, 100]).unwrap();
/// let a = x.matmul(&y).unwrap();
/// let (u, s, vt) = svd_compressed(&a, 2, SvdCompressed::default()).unwrap();
/// let s = s.compute().unwrap().into_dimensionality::<ndarray::Ix1>().unwrap();
/// let s_matrix = chunkwise::from_ndarray(&ndarray::Array2::from_diag(&s), [2, 2]).unwrap();
/// let back = u.matmul(&s_matrix).unwrap().matmul(&vt).unwrap().compute().unwrap();
/// let a = a.compute().unwrap();
/// assert!((&back - &a).iter().all(|d| d.abs() < 1e-9));
/// ```
pub fn svd_compressed<T: FloatElement>(
    a: &Array<T>,
    k: usize,
    options: SvdCompressed,
) -> Result<(Array<T>, Array<T>, Array<T>)> {
    let (m, n) = matrix_shape("svd_compressed", a)?;
    let samples = k.saturating_add(options.oversampling).min(m.min(n));
    if k == 0 || k > m.min(n) {
        return Err(Error::Build(BuildError::InvalidArgument {
            op: "svd_compressed".into(),
            reason: format!("rank {k} must be between 1 and min(m, n) = {}", m.min(n)),
        }));
    }
    let a = &checked("svd_compressed", "a", a, Region::All);
    let column_tiles = a.node.grid.chunks()[1].clone();
    let omega = crate::random::normal::<T>(
        options.seed,
        T::ZERO,
        T::ONE,
        &[n, samples],
        crate::Chunks::Sizes(vec![column_tiles, vec![samples]]),
    )?;
    let (mut q, _) = qr_of(&a.matmul(&omega)?)?;
    for _ in 0..options.power_iterations {
        let (z, _) = qr_of(&a.transpose().matmul(&q)?)?;
        (q, _) = qr_of(&a.matmul(&z)?)?;
    }
    // The projection b = q^T a is short and wide: its SVD goes through b^T.
    let b = q.transpose().matmul(a)?;
    let (u_b, s, vt) = svd_of(&b)?;
    let u = q.matmul(&u_b.slice(ndarray::s![.., ..k])?)?;
    Ok((
        u,
        s.slice(ndarray::s![..k])?,
        vt.slice(ndarray::s![..k, ..])?,
    ))
}

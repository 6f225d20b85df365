//! Non-finite input in every factorization and solver: a NaN, `+inf` or `-inf` in the first
//! tile, a middle tile or the last element gives `LinalgError::NotFinite` naming the
//! operation, the input, its tile (in the input's own chunking) and the element; never a
//! finite Q, R, U or x, and never a misleading "singular" or "not positive definite".
//! Cholesky and triangular solves read one triangle: a bad value in the other one is not
//! read and leaves the result as it is without it (checked against the clean result).
#![allow(missing_docs)]

mod common;

use chunkwise::linalg::{self, SvdCompressed};
use chunkwise::{Array, Error, LinalgError, Norm, Result, from_ndarray};
use ndarray::{Array1, Array2, ArrayD, Ix2};

/// The values that must be refused.
const BAD: [f64; 3] = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY];

fn dense(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
    common::dense_f64(&[rows, cols], seed)
        .into_dimensionality::<Ix2>()
        .unwrap()
}

/// A well-conditioned square matrix (diagonally dominant).
fn square(n: usize, seed: u64) -> Array2<f64> {
    dense(n, n, seed) + Array2::<f64>::eye(n) * (2 * n) as f64
}

/// A symmetric positive-definite matrix.
fn spd(n: usize, seed: u64) -> Array2<f64> {
    let g = dense(n, n, seed);
    g.dot(&g.t()) + Array2::<f64>::eye(n) * n as f64
}

/// A well-conditioned lower triangular matrix.
fn lower(n: usize, seed: u64) -> Array2<f64> {
    let mut a = square(n, seed);
    a.indexed_iter_mut()
        .filter(|((i, j), _)| j > i)
        .for_each(|(_, x)| *x = 0.0);
    a
}

fn tiled<D: ndarray::Dimension>(a: &ndarray::Array<f64, D>, chunks: &[usize]) -> Array<f64> {
    from_ndarray(a, chunks.to_vec()).unwrap()
}

fn with_value<D: ndarray::Dimension>(
    a: &ndarray::Array<f64, D>,
    index: &[usize],
    x: f64,
) -> ndarray::Array<f64, D> {
    let mut a = a.clone();
    *a.view_mut().into_dyn().get_mut(index).unwrap() = x;
    a
}

/// Every output of a factorization, computed.
type Outputs = Result<Vec<ArrayD<f64>>>;

fn all(arrays: &[&Array<f64>]) -> Outputs {
    arrays.iter().map(|a| a.compute()).collect()
}

/// Asserts that `outputs` is `NotFinite` for `op`, `input`, naming `tile` and `index`.
fn assert_not_finite(outputs: Outputs, op: &str, input: &str, tile: &[usize], index: &[usize]) {
    match outputs {
        Err(Error::Linalg(LinalgError::NotFinite {
            op: o,
            input: i,
            tile: t,
            index: x,
            ..
        })) => {
            assert_eq!(
                (o.as_str(), i.as_str(), t.as_slice(), x.as_slice()),
                (op, input, tile, index),
                "the error names the operation, input, tile and element"
            );
        }
        Err(other) => panic!("{op} ({input} bad at {index:?}): expected NotFinite, got {other}"),
        Ok(values) => {
            let finite = values.iter().all(|v| v.iter().all(|x| x.is_finite()));
            panic!(
                "{op} ({input} bad at {index:?}): expected NotFinite, got a result \
                 (all values finite: {finite})"
            )
        }
    }
}

/// For each bad value at each `(index, tile)`, `run` on `a` with that value is refused; the
/// clean `a` is not.
fn refuses<D: ndarray::Dimension>(
    op: &str,
    input: &str,
    a: &ndarray::Array<f64, D>,
    chunks: &[usize],
    places: &[(&[usize], &[usize])],
    run: impl Fn(&Array<f64>) -> Outputs,
) {
    let clean = run(&tiled(a, chunks)).unwrap_or_else(|e| panic!("{op} of the clean input: {e}"));
    assert!(clean.iter().all(|v| v.iter().all(|x| x.is_finite())));
    for &(index, tile) in places {
        for x in BAD {
            let bad = tiled(&with_value(a, index, x), chunks);
            assert_not_finite(run(&bad), op, input, tile, index);
        }
    }
}

/// First tile, a middle tile, the last element of a 40 x 4 matrix in row tiles of 10.
const TALL: [(&[usize], &[usize]); 3] =
    [(&[1, 2], &[0, 0]), (&[17, 1], &[1, 0]), (&[39, 3], &[3, 0])];
/// The same in a 4 x 40 matrix in column tiles of 10: the first tile lies in the leading
/// 4 x 4 block that a wide QR factors, the others beyond it.
const WIDE: [(&[usize], &[usize]); 3] =
    [(&[2, 1], &[0, 0]), (&[2, 17], &[0, 1]), (&[3, 39], &[0, 3])];
/// The same in a 6 x 6 matrix in 2 x 2 tiles, all in the lower triangle.
const SQUARE: [(&[usize], &[usize]); 3] =
    [(&[1, 0], &[0, 0]), (&[3, 2], &[1, 1]), (&[5, 5], &[2, 2])];
/// The same in the upper triangle.
const SQUARE_UPPER: [(&[usize], &[usize]); 3] =
    [(&[0, 1], &[0, 0]), (&[2, 3], &[1, 1]), (&[5, 5], &[2, 2])];
/// A 6-vector in tiles of 2.
const VECTOR: [(&[usize], &[usize]); 3] = [(&[0], &[0]), (&[3], &[1]), (&[5], &[2])];

#[test]
fn qr_of_a_tall_or_wide_matrix_refuses_non_finite_values() {
    let qr = |a: &Array<f64>| {
        let (q, r) = linalg::qr(a)?;
        all(&[&q, &r])
    };
    refuses("qr", "a", &dense(40, 4, 1), &[10, 4], &TALL, qr);
    refuses("qr", "a", &dense(4, 40, 2), &[4, 10], &WIDE, qr);
    // f32 (always Householder, never CholeskyQR2) is checked the same way.
    let mut a = dense(40, 4, 1).mapv(|x| x as f32);
    a[[17, 1]] = f32::NAN;
    let (q, _) = linalg::qr(&from_ndarray(&a, [10, 4]).unwrap()).unwrap();
    match q.compute() {
        Err(Error::Linalg(LinalgError::NotFinite { index, tile, .. })) => {
            assert_eq!((index, tile), (vec![17, 1], vec![1, 0]));
        }
        other => panic!("f32 qr with a NaN: expected NotFinite, got {other:?}"),
    }
}

#[test]
fn svd_and_the_two_norm_refuse_non_finite_values() {
    let svd = |a: &Array<f64>| {
        let (u, s, vt) = linalg::svd(a)?;
        all(&[&u, &s, &vt])
    };
    refuses("svd", "a", &dense(40, 4, 3), &[10, 4], &TALL, svd);
    refuses("svd", "a", &dense(4, 40, 4), &[4, 10], &WIDE, svd);
    let norm = |a: &Array<f64>| all(&[&a.norm(Norm::Two)?]);
    refuses("norm", "a", &dense(40, 4, 5), &[10, 4], &TALL, norm);
    refuses("norm", "a", &dense(4, 40, 6), &[4, 10], &WIDE, norm);
}

#[test]
fn svd_compressed_refuses_non_finite_values() {
    let places: [(&[usize], &[usize]); 3] = [
        (&[1, 2], &[0, 0]),
        (&[14, 12], &[1, 1]),
        (&[29, 19], &[2, 1]),
    ];
    refuses(
        "svd_compressed",
        "a",
        &dense(30, 20, 7),
        &[10, 10],
        &places,
        |a| {
            let (u, s, vt) = linalg::svd_compressed(a, 3, SvdCompressed::default())?;
            all(&[&u, &s, &vt])
        },
    );
}

#[test]
fn cholesky_refuses_non_finite_values_in_the_lower_triangle_and_ignores_the_upper() {
    let a = spd(6, 8);
    let cholesky = |a: &Array<f64>| all(&[&linalg::cholesky(a)?]);
    refuses("cholesky", "a", &a, &[2, 2], &SQUARE, cholesky);
    let clean = cholesky(&tiled(&a, &[2, 2])).unwrap();
    for x in BAD {
        let upper = with_value(&a, &[2, 5], x);
        assert_eq!(cholesky(&tiled(&upper, &[2, 2])).unwrap(), clean);
    }
}

#[test]
fn lu_solve_and_inv_refuse_non_finite_values() {
    let a = square(6, 9);
    refuses("lu", "a", &a, &[2, 2], &SQUARE_UPPER, |a| {
        let (p, l, u) = linalg::lu(a)?;
        all(&[&p, &l, &u])
    });
    refuses("inv", "a", &a, &[2, 2], &SQUARE, |a| {
        all(&[&linalg::inv(a)?])
    });
    let b = Array1::from_iter((0..6).map(|i| i as f64 - 2.5));
    let b_tiled = tiled(&b, &[2]);
    refuses("solve", "a", &a, &[2, 2], &SQUARE, |a| {
        all(&[&linalg::solve(a, &b_tiled)?])
    });
    let a_tiled = tiled(&a, &[2, 2]);
    refuses("solve", "b", &b, &[2], &VECTOR, |b| {
        all(&[&linalg::solve(&a_tiled, b)?])
    });
}

#[test]
fn solve_triangular_refuses_non_finite_values_in_its_triangle_and_ignores_the_other() {
    let l = lower(6, 10);
    let b = dense(6, 3, 11);
    let b_tiled = tiled(&b, &[2, 3]);
    let solve = |lower: bool| {
        let b_tiled = b_tiled.clone();
        move |a: &Array<f64>| all(&[&linalg::solve_triangular(a, &b_tiled, lower)?])
    };
    refuses("solve_triangular", "a", &l, &[2, 2], &SQUARE, solve(true));
    let u = l.t().to_owned();
    refuses(
        "solve_triangular",
        "a",
        &u,
        &[2, 2],
        &SQUARE_UPPER,
        solve(false),
    );
    let l_tiled = tiled(&l, &[2, 2]);
    let places: [(&[usize], &[usize]); 3] =
        [(&[0, 2], &[0, 0]), (&[3, 1], &[1, 0]), (&[5, 2], &[2, 0])];
    refuses("solve_triangular", "b", &b, &[2, 3], &places, |b| {
        all(&[&linalg::solve_triangular(&l_tiled, b, true)?])
    });
    // The other triangle is not read: the solution is the clean one.
    let clean = solve(true)(&l_tiled).unwrap();
    for x in BAD {
        let other = with_value(&l, &[1, 4], x);
        assert_eq!(solve(true)(&tiled(&other, &[2, 2])).unwrap(), clean);
    }
}

#[test]
fn lstsq_refuses_non_finite_values_in_a_and_b() {
    let a = dense(40, 4, 12);
    let b = Array1::from_iter((0..40).map(|i| (i as f64 * 0.3).sin()));
    let lstsq = |a: &Array<f64>, b: &Array<f64>| {
        let fit = linalg::lstsq(a, b)?;
        all(&[&fit.solution, &fit.residuals, &fit.singular_values])
    };
    let b_tiled = tiled(&b, &[10]);
    refuses("lstsq", "a", &a, &[10, 4], &TALL, |a| lstsq(a, &b_tiled));
    let a_tiled = tiled(&a, &[10, 4]);
    let places: [(&[usize], &[usize]); 3] = [(&[1], &[0]), (&[17], &[1]), (&[39], &[3])];
    refuses("lstsq", "b", &b, &[10], &places, |b| lstsq(&a_tiled, b));
}

//! Tiled factorizations (QR, SVD, Cholesky, LU) and solvers against dense oracles: products
//! by ndarray's own `dot`, singular values and solutions by faer on the whole matrix.
//!
//! Tolerances: a backward-stable factorization of an `m x n` matrix reproduces it within a
//! modest multiple of `max(m, n) * eps * |a|`; each test states the multiple it allows
//! (100, generous for the tile-by-tile summation orders) and the norm it scales by.
#![allow(missing_docs)]

mod common;

use chunkwise::linalg::{self, SvdCompressed};
use chunkwise::{Array, Chunks, Config, Error, from_ndarray};
use ndarray::{Array1, Array2, Ix1, Ix2};

fn dense(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
    common::dense_f64(&[rows, cols], seed)
        .into_dimensionality::<Ix2>()
        .unwrap()
}

fn tiled(a: &Array2<f64>, chunks: Chunks) -> Array<f64> {
    from_ndarray(a, chunks).unwrap()
}

fn computed(a: &Array<f64>) -> Array2<f64> {
    a.compute().unwrap().into_dimensionality::<Ix2>().unwrap()
}

fn max_abs(a: &Array2<f64>) -> f64 {
    a.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Asserts `found` equals `expected` within `multiple * size * eps * scale`.
fn assert_near(found: &Array2<f64>, expected: &Array2<f64>, size: usize, scale: f64, what: &str) {
    assert_eq!(found.shape(), expected.shape(), "{what}: shape");
    let tolerance = 100.0 * size as f64 * f64::EPSILON * scale.max(1.0);
    let error = max_abs(&(found - expected));
    assert!(
        error <= tolerance,
        "{what}: error {error:e} over tolerance {tolerance:e}"
    );
}

fn identity(n: usize) -> Array2<f64> {
    Array2::eye(n)
}

/// A symmetric positive-definite matrix `g g^T + n I`, condition number about 5.
fn spd(n: usize, seed: u64) -> Array2<f64> {
    let g = dense(n, n, seed);
    g.dot(&g.t()) + identity(n) * n as f64
}

fn upper_triangular(r: &Array2<f64>) -> bool {
    r.indexed_iter().all(|((i, j), &x)| i <= j || x == 0.0)
}

fn lower_triangular(l: &Array2<f64>) -> bool {
    l.indexed_iter().all(|((i, j), &x)| i >= j || x == 0.0)
}

#[test]
fn tsqr_reproduces_tall_matrices_with_irregular_row_tiles() {
    let cases = [
        (400, 12, Chunks::Shape(vec![50, 12])),
        // Irregular rows, tiles shorter than the columns (merged), columns in two tiles.
        (
            97,
            10,
            Chunks::Sizes(vec![vec![3, 40, 7, 20, 27], vec![4, 6]]),
        ),
        // Many tiles: a tree of several levels.
        (600, 5, Chunks::Shape(vec![7, 5])),
        // One tile.
        (30, 30, Chunks::Shape(vec![30, 30])),
    ];
    for (m, n, chunks) in cases {
        let a = dense(m, n, m as u64);
        let (q, r) = linalg::qr(&tiled(&a, chunks)).unwrap();
        let (q, r) = (computed(&q), computed(&r));
        assert_eq!(
            (q.shape(), r.shape()),
            ([m, n].as_slice(), [n, n].as_slice())
        );
        assert!(upper_triangular(&r), "R is upper triangular");
        assert_near(&q.dot(&r), &a, m, max_abs(&a), "A = QR");
        assert_near(&q.t().dot(&q), &identity(n), m, 1.0, "Q^T Q = I");
    }
}

#[test]
fn qr_of_a_short_wide_matrix() {
    let (m, n) = (6, 50);
    let a = dense(m, n, 3);
    let (q, r) = linalg::qr(&tiled(&a, Chunks::Shape(vec![4, 16]))).unwrap();
    let (q, r) = (computed(&q), computed(&r));
    assert_eq!(
        (q.shape(), r.shape()),
        ([m, m].as_slice(), [m, n].as_slice())
    );
    assert!(upper_triangular(&r.slice(ndarray::s![.., ..m]).to_owned()));
    assert_near(&q.dot(&r), &a, n, max_abs(&a), "A = QR");
    assert_near(&q.t().dot(&q), &identity(m), n, 1.0, "Q^T Q = I");
}

#[test]
fn r_alone_does_not_form_q() {
    let a = tiled(&dense(200, 4, 9), Chunks::Shape(vec![20, 4]));
    let (q, r) = linalg::qr(&a).unwrap();
    // Q's tasks exist only in Q's plan.
    assert!(q.task_count(&Config::default()).unwrap() > r.task_count(&Config::default()).unwrap());
    assert!(!r.explain().unwrap().contains("tsqr q"));
}

/// Singular values of a dense matrix by faer (the oracle).
fn singular_values(a: &Array2<f64>) -> Vec<f64> {
    let m = faer::Mat::<f64>::from_fn(a.nrows(), a.ncols(), |i, j| a[[i, j]]);
    m.singular_values().unwrap()
}

fn check_svd(a: &Array2<f64>, u: &Array<f64>, s: &Array<f64>, vt: &Array<f64>) {
    let (u, vt) = (computed(u), computed(vt));
    let s: Array1<f64> = s.compute().unwrap().into_dimensionality::<Ix1>().unwrap();
    let k = a.nrows().min(a.ncols());
    let size = a.nrows().max(a.ncols());
    let scale = max_abs(a);
    let expected = Array1::from(singular_values(a));
    let s_error = (&s - &expected).iter().fold(0.0f64, |m, x| m.max(x.abs()));
    assert!(
        s_error <= 100.0 * size as f64 * f64::EPSILON * expected[0],
        "singular values: {s_error:e}"
    );
    assert_near(&(&u * &s).dot(&vt), a, size, scale, "A = U S V^T");
    assert_near(&u.t().dot(&u), &identity(k), size, 1.0, "U^T U = I");
    assert_near(&vt.dot(&vt.t()), &identity(k), size, 1.0, "V^T V = I");
}

#[test]
fn svd_of_tall_and_wide_matrices() {
    let tall = dense(300, 9, 4);
    let (u, s, vt) = linalg::svd(&tiled(&tall, Chunks::Shape(vec![40, 9]))).unwrap();
    check_svd(&tall, &u, &s, &vt);
    let wide = dense(7, 120, 5);
    let (u, s, vt) = linalg::svd(&tiled(&wide, Chunks::Shape(vec![7, 25]))).unwrap();
    check_svd(&wide, &u, &s, &vt);
}

#[test]
fn svd_compressed_recovers_a_low_rank_matrix_and_the_leading_singular_values() {
    // Exactly rank 3: the rank-3 approximation reproduces it.
    let x = dense(150, 3, 6);
    let y = dense(3, 90, 7);
    let a = x.dot(&y);
    let options = SvdCompressed {
        power_iterations: 1,
        oversampling: 5,
        seed: 42,
    };
    let (u, s, vt) =
        linalg::svd_compressed(&tiled(&a, Chunks::Shape(vec![40, 30])), 3, options).unwrap();
    let (u, vt) = (computed(&u), computed(&vt));
    let s: Array1<f64> = s.compute().unwrap().into_dimensionality::<Ix1>().unwrap();
    assert_eq!(
        (u.shape(), s.len(), vt.shape()),
        ([150, 3].as_slice(), 3, [3, 90].as_slice())
    );
    assert_near(
        &(&u * &s).dot(&vt),
        &a,
        150,
        max_abs(&a),
        "rank-3 A = U S V^T",
    );
    let expected = singular_values(&a);
    for i in 0..3 {
        assert!((s[i] - expected[i]).abs() <= 1e-10 * expected[0], "s[{i}]");
    }
    // The same seed gives the same factors.
    let again = linalg::svd_compressed(&tiled(&a, Chunks::Shape(vec![40, 30])), 3, options)
        .unwrap()
        .1
        .compute()
        .unwrap();
    assert_eq!(again, s.into_dyn());
}

#[test]
fn svd_compressed_rejects_a_rank_out_of_range() {
    let a = tiled(&dense(10, 8, 1), Chunks::Shape(vec![5, 8]));
    for k in [0, 9] {
        let err = linalg::svd_compressed(&a, k, SvdCompressed::default()).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    }
}

#[test]
fn cholesky_reproduces_spd_matrices_with_irregular_tiles() {
    let cases = [
        (48, Chunks::Shape(vec![16, 16])),
        // Row and column tiles differ: both become their common refinement.
        (37, Chunks::Sizes(vec![vec![10, 20, 7], vec![15, 22]])),
        (5, Chunks::Shape(vec![5, 5])),
    ];
    for (n, chunks) in cases {
        let a = spd(n, n as u64);
        let l = computed(&linalg::cholesky(&tiled(&a, chunks)).unwrap());
        assert!(lower_triangular(&l));
        assert_near(&l.dot(&l.t()), &a, n, max_abs(&a), "A = L L^T");
        // The factor is unique: compare with faer's dense one.
        let dense_l = faer::Mat::<f64>::from_fn(n, n, |i, j| a[[i, j]])
            .llt(faer::Side::Lower)
            .unwrap();
        let oracle = Array2::from_shape_fn((n, n), |(i, j)| dense_l.L()[(i, j)]);
        assert_near(&l, &oracle, n, max_abs(&oracle), "L = faer's L");
    }
}

#[test]
fn cholesky_of_an_indefinite_matrix_names_the_tile_and_pivot() {
    let n = 12;
    let mut a = spd(n, 2);
    // Make row/column 9 break positive definiteness: a large negative diagonal entry.
    a[[9, 9]] = -1000.0;
    let err = linalg::cholesky(&tiled(&a, Chunks::Shape(vec![4, 4])))
        .unwrap()
        .compute()
        .unwrap_err();
    assert_eq!(
        err,
        Error::NotPositiveDefinite {
            tile: vec![2, 2],
            pivot: 9
        }
    );
}

#[test]
fn square_only_operations_reject_other_shapes() {
    let a = tiled(&dense(6, 4, 1), Chunks::Shape(vec![3, 4]));
    let err = linalg::cholesky(&a).unwrap_err();
    assert!(
        matches!(err, Error::NotSquare { ref shape, .. } if shape == &vec![6, 4]),
        "{err}"
    );
    let v = from_ndarray(&Array1::<f64>::zeros(4), [2]).unwrap();
    assert!(matches!(
        linalg::qr(&v).unwrap_err(),
        Error::InvalidArgument { .. }
    ));
}

//! Tiled factorizations (QR, SVD, Cholesky, LU) and solvers against dense oracles: products
//! by ndarray's own `dot`, singular values and solutions by faer on the whole matrix.
//!
//! Tolerances: a backward-stable factorization of an `m x n` matrix reproduces it within a
//! modest multiple of `max(m, n) * eps * |a|`; each test states the multiple it allows
//! (100, generous for the tile-by-tile summation orders) and the norm it scales by.
#![allow(missing_docs)]

mod common;

use chunkwise::linalg::{self, SvdCompressed};
use chunkwise::{Array, BuildError, Chunks, Config, Error, LinalgError, from_ndarray};
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

/// `rows x cols` with singular values from 1 down to `10^-digits`: columns of a random
/// matrix graded by powers of ten, then mixed by an orthogonal matrix (faer's QR of a
/// random one), so that no column scaling undoes the conditioning.
fn ill_conditioned(rows: usize, cols: usize, digits: f64, seed: u64) -> Array2<f64> {
    let mut graded = dense(rows, cols, seed);
    for (j, mut column) in graded.columns_mut().into_iter().enumerate() {
        column *= 10f64.powf(-digits * j as f64 / (cols - 1) as f64);
    }
    let random = dense(cols, cols, seed + 1);
    let q = faer::Mat::<f64>::from_fn(cols, cols, |i, j| random[[i, j]])
        .qr()
        .compute_thin_Q();
    graded.dot(&Array2::from_shape_fn((cols, cols), |(i, j)| q[(i, j)]))
}

#[test]
fn tsqr_stays_orthonormal_for_ill_conditioned_tiles() {
    // Tall f64 tiles take CholeskyQR2 where its check passes and Householder where it does
    // not: here one tile (condition number 1e12) among well-conditioned ones, then a
    // matrix ill-conditioned throughout. Q must be orthonormal to working precision either
    // way, which CholeskyQR2 alone could not give at this condition number.
    let (m, n) = (600, 12);
    let mut mixed = dense(m, n, 31);
    mixed
        .slice_mut(ndarray::s![100..200, ..])
        .assign(&ill_conditioned(100, n, 12.0, 32));
    for a in [mixed, ill_conditioned(m, n, 12.0, 33)] {
        let (q, r) = linalg::qr(&tiled(&a, Chunks::Shape(vec![100, n]))).unwrap();
        let (q, r) = (computed(&q), computed(&r));
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
        assert!(
            matches!(err, Error::Build(BuildError::InvalidArgument { .. })),
            "{err}"
        );
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
        Error::Linalg(LinalgError::NotPositiveDefinite {
            tile: vec![2, 2],
            pivot: 9
        })
    );
}

#[test]
fn square_only_operations_reject_other_shapes() {
    let a = tiled(&dense(6, 4, 1), Chunks::Shape(vec![3, 4]));
    let err = linalg::cholesky(&a).unwrap_err();
    assert!(
        matches!(err, Error::Linalg(LinalgError::NotSquare { ref shape, .. }) if shape == &vec![6, 4]),
        "{err}"
    );
    let v = from_ndarray(&Array1::<f64>::zeros(4), [2]).unwrap();
    assert!(matches!(
        linalg::qr(&v).unwrap_err(),
        Error::Build(BuildError::InvalidArgument { .. })
    ));
}

/// A well-conditioned general matrix: random entries plus `n` on the diagonal.
fn general(n: usize, seed: u64) -> Array2<f64> {
    dense(n, n, seed) + identity(n) * n as f64 * 0.5
}

#[test]
fn lu_reproduces_the_matrix_with_pivoting_across_tiles() {
    let cases = [
        (40, Chunks::Shape(vec![10, 10])),
        (23, Chunks::Sizes(vec![vec![5, 11, 7], vec![12, 11]])),
        (6, Chunks::Shape(vec![6, 6])),
    ];
    for (n, chunks) in cases {
        // Plain random entries: pivoting is needed (small leading pivots are likely).
        let a = dense(n, n, 100 + n as u64);
        let (p, l, u) = linalg::lu(&tiled(&a, chunks)).unwrap();
        let (p, l, u) = (computed(&p), computed(&l), computed(&u));
        assert!(lower_triangular(&l) && upper_triangular(&u));
        assert!(l.diag().iter().all(|&d| d == 1.0), "unit diagonal");
        assert!(
            l.iter().all(|x| x.abs() <= 1.0),
            "partial pivoting bounds L by 1"
        );
        // P is a permutation matrix.
        assert!(p.iter().all(|&x| x == 0.0 || x == 1.0));
        assert_near(&p.dot(&p.t()), &identity(n), n, 1.0, "P P^T = I");
        let scale = max_abs(&a) * n as f64;
        assert_near(&p.dot(&l).dot(&u), &a, n, scale, "A = P L U");
    }
}

#[test]
fn solve_and_inv_match_a_dense_solver() {
    let n = 30;
    let a = general(n, 8);
    let b = dense(n, 4, 9);
    let x = computed(
        &linalg::solve(
            &tiled(&a, Chunks::Shape(vec![8, 8])),
            &tiled(&b, Chunks::Shape(vec![8, 3])),
        )
        .unwrap(),
    );
    // Residual and faer's dense solution.
    assert_near(&a.dot(&x), &b, n, max_abs(&b) * 4.0, "A x = b");
    let fa = faer::Mat::<f64>::from_fn(n, n, |i, j| a[[i, j]]);
    let fb = faer::Mat::<f64>::from_fn(n, 4, |i, j| b[[i, j]]);
    use faer::linalg::solvers::Solve;
    let fx = fa.partial_piv_lu().solve(&fb);
    let oracle = Array2::from_shape_fn((n, 4), |(i, j)| fx[(i, j)]);
    assert_near(&x, &oracle, n, 10.0, "x = faer's x");
    // A vector right-hand side gives a vector.
    let v = b.column(0).to_owned();
    let xv = linalg::solve(
        &tiled(&a, Chunks::Shape(vec![8, 8])),
        &from_ndarray(&v, [8]).unwrap(),
    )
    .unwrap()
    .compute()
    .unwrap();
    assert_eq!(xv.shape(), &[n]);
    // The inverse.
    let inverse = computed(&linalg::inv(&tiled(&a, Chunks::Shape(vec![7, 7]))).unwrap());
    assert_near(&a.dot(&inverse), &identity(n), n, 10.0, "A inv(A) = I");
}

#[test]
fn solve_triangular_lower_and_upper() {
    let n = 25;
    let a = general(n, 10);
    let b = dense(n, 3, 11);
    for lower in [true, false] {
        let t = if lower {
            Array2::from_shape_fn((n, n), |(i, j)| if i >= j { a[[i, j]] } else { 0.0 })
        } else {
            Array2::from_shape_fn((n, n), |(i, j)| if i <= j { a[[i, j]] } else { 0.0 })
        };
        // The other triangle of the input is not read: fill it with garbage.
        let stored = &t
            + &Array2::from_shape_fn((n, n), |(i, j)| {
                if (lower && j > i) || (!lower && i > j) {
                    1e6
                } else {
                    0.0
                }
            });
        let x = computed(
            &linalg::solve_triangular(
                &tiled(&stored, Chunks::Sizes(vec![vec![10, 15], vec![4, 21]])),
                &tiled(&b, Chunks::Shape(vec![6, 2])),
                lower,
            )
            .unwrap(),
        );
        assert_near(&t.dot(&x), &b, n, max_abs(&b) * 4.0, "T x = b");
    }
}

#[test]
fn singular_matrices_are_reported_with_the_tile_and_pivot() {
    // Column 13 is a copy of column 2: singular, found in the panel of tile 3 (rows 12..16).
    let n = 16;
    let mut a = general(n, 12);
    let copy = a.column(2).to_owned();
    a.column_mut(13).assign(&copy);
    let err = linalg::solve(
        &tiled(&a, Chunks::Shape(vec![4, 4])),
        &tiled(&dense(n, 1, 1), Chunks::Shape(vec![4, 1])),
    )
    .unwrap()
    .compute()
    .unwrap_err();
    match err {
        Error::Linalg(LinalgError::Singular { tile, pivot }) => {
            assert_eq!(tile, vec![3, 3]);
            assert_eq!(pivot, 13);
        }
        other => panic!("expected Singular, got {other}"),
    }
    // A triangular matrix with a zero on its diagonal.
    let mut t = Array2::<f64>::eye(8);
    t[[5, 5]] = 0.0;
    let err = linalg::solve_triangular(
        &tiled(&t, Chunks::Shape(vec![4, 4])),
        &tiled(&dense(8, 1, 2), Chunks::Shape(vec![4, 1])),
        true,
    )
    .unwrap()
    .compute()
    .unwrap_err();
    assert_eq!(
        err,
        Error::Linalg(LinalgError::Singular {
            tile: vec![1, 1],
            pivot: 5
        })
    );
}

#[test]
fn lstsq_matches_the_normal_equations_solution() {
    let (m, n) = (200, 6);
    let a = dense(m, n, 13);
    let b = dense(m, 2, 14);
    let fit = linalg::lstsq(
        &tiled(&a, Chunks::Shape(vec![32, 6])),
        &tiled(&b, Chunks::Shape(vec![32, 2])),
    )
    .unwrap();
    let x = computed(&fit.solution);
    // Oracle: faer's dense QR least squares.
    let fa = faer::Mat::<f64>::from_fn(m, n, |i, j| a[[i, j]]);
    let fb = faer::Mat::<f64>::from_fn(m, 2, |i, j| b[[i, j]]);
    use faer::linalg::solvers::SolveLstsq;
    let fx = fa.qr().solve_lstsq(&fb);
    let oracle = Array2::from_shape_fn((n, 2), |(i, j)| fx[(i, j)]);
    assert_near(&x, &oracle, m, 10.0, "x = faer's least-squares x");
    let residuals = fit.residuals.compute().unwrap();
    let expected = (&a.dot(&oracle) - &b)
        .mapv(|d| d * d)
        .sum_axis(ndarray::Axis(0));
    for j in 0..2 {
        assert!((residuals[[j]] - expected[j]).abs() <= 1e-10 * expected[j]);
    }
    let s = fit.singular_values.compute().unwrap();
    let oracle_s = singular_values(&a);
    for (i, e) in oracle_s.iter().enumerate() {
        assert!((s[[i]] - e).abs() <= 1e-12 * oracle_s[0]);
    }
}

#[test]
fn lstsq_refuses_a_column_that_is_a_multiple_of_a_smaller_one() {
    // The second column is 1000.7 times the first, rounded: rank one to working
    // precision, whichever column comes first. R's diagonal alone (14 and about 1e-12)
    // would pass the second column as independent when it comes second.
    let column = Array1::from_iter((1..=8).map(f64::from));
    let b = from_ndarray(&Array1::from_iter((0..8).map(|i| f64::from(i == 0))), [8]).unwrap();
    let multiple = column.mapv(|c| 1000.7 * c);
    for columns in [[&column, &multiple], [&multiple, &column]] {
        let a = ndarray::stack![ndarray::Axis(1), *columns[0], *columns[1]];
        let fit = linalg::lstsq(&from_ndarray(&a, [4, 2]).unwrap(), &b).unwrap();
        match fit.solution.compute() {
            Err(Error::Linalg(LinalgError::Singular { pivot: 1, .. })) => {}
            other => panic!("expected Singular at pivot 1, got {other:?}"),
        }
    }
    // Ill-conditioned but of full rank (singular values 1 and 1e-10): solved.
    let a = ndarray::arr2(&[[1.0f64, 0.0], [0.0, 1e-10], [0.0, 0.0]]);
    let b = ndarray::arr1(&[2.0f64, 3e-10, 0.0]);
    let fit = linalg::lstsq(
        &from_ndarray(&a, [2, 2]).unwrap(),
        &from_ndarray(&b, [2]).unwrap(),
    )
    .unwrap();
    let x = fit.solution.compute().unwrap();
    assert!(
        (x[[0]] - 2.0).abs() < 1e-12 && (x[[1]] - 3.0).abs() < 1e-6,
        "{x}"
    );
}

#[test]
fn solvers_check_shapes() {
    let a = tiled(&general(6, 1), Chunks::Shape(vec![3, 3]));
    let b = tiled(&dense(5, 1, 1), Chunks::Shape(vec![5, 1]));
    assert!(matches!(
        linalg::solve(&a, &b).unwrap_err(),
        Error::Build(BuildError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        linalg::solve_triangular(&a, &b, true).unwrap_err(),
        Error::Build(BuildError::ShapeMismatch { .. })
    ));
    let wide = tiled(&dense(3, 6, 1), Chunks::Shape(vec![3, 3]));
    assert!(matches!(
        linalg::lu(&wide).unwrap_err(),
        Error::Linalg(LinalgError::NotSquare { .. })
    ));
    assert!(matches!(
        linalg::inv(&wide).unwrap_err(),
        Error::Linalg(LinalgError::NotSquare { .. })
    ));
    assert!(matches!(
        linalg::lstsq(&wide, &b).unwrap_err(),
        Error::Build(BuildError::InvalidArgument { .. })
    ));
}

#[test]
fn factorizations_in_f32() {
    // Tolerances scale with f32's epsilon (1.2e-7): 100 * size * eps * |a|, as above.
    let tolerance = |size: usize, scale: f64| 100.0 * size as f64 * f32::EPSILON as f64 * scale;
    let to32 = |a: &Array2<f64>| a.mapv(|x| x as f32);
    let back = |a: &Array<f32>| -> Array2<f64> {
        a.compute()
            .unwrap()
            .into_dimensionality::<Ix2>()
            .unwrap()
            .mapv(f64::from)
    };
    let worst = |a: &Array2<f64>, b: &Array2<f64>| max_abs(&(a - b));
    // QR of a tall matrix.
    let a = dense(120, 6, 21).mapv(|x| f64::from(x as f32));
    let (q, r) = linalg::qr(&from_ndarray(&to32(&a), [30, 6]).unwrap()).unwrap();
    let (q, r) = (back(&q), back(&r));
    assert!(worst(&q.dot(&r), &a) <= tolerance(120, max_abs(&a)));
    // Cholesky and solve.
    let s = spd(20, 22).mapv(|x| f64::from(x as f32));
    let l = back(&linalg::cholesky(&from_ndarray(&to32(&s), [8, 8]).unwrap()).unwrap());
    assert!(worst(&l.dot(&l.t()), &s) <= tolerance(20, max_abs(&s)));
    let b = dense(20, 2, 23).mapv(|x| f64::from(x as f32));
    let x = back(
        &linalg::solve(
            &from_ndarray(&to32(&s), [8, 8]).unwrap(),
            &from_ndarray(&to32(&b), [8, 2]).unwrap(),
        )
        .unwrap(),
    );
    assert!(worst(&s.dot(&x), &b) <= tolerance(20, max_abs(&s) * max_abs(&x)));
}

#[test]
fn singular_values_of_tiny_and_huge_matrices_are_scaled_exactly() {
    // [[3, 1], [1, 2]] is symmetric positive definite: its singular values are its
    // eigenvalues, (5 ± √5) / 2; times a scale whose squares underflow or overflow.
    let exact = [(5.0 + 5f64.sqrt()) / 2.0, (5.0 - 5f64.sqrt()) / 2.0];
    let base = ndarray::arr2(&[[3.0, 1.0], [1.0, 2.0]]);
    for scale in [1e-300, 1e-170, 1.0, 1e160, 1e300] {
        let a = from_ndarray(&(&base * scale), [2, 2]).unwrap();
        let s = linalg::svd(&a).unwrap().1.compute().unwrap();
        for (got, want) in s.iter().zip(exact) {
            assert!(
                (got / scale - want).abs() <= 1e-14 * want,
                "{scale:e}: {s:e}"
            );
        }
    }
    for scale in [1e-30f32, 1e25] {
        let a = from_ndarray(&(base.mapv(|v| v as f32) * scale), [1, 2]).unwrap();
        let s = linalg::svd(&a).unwrap().1.compute().unwrap();
        for (got, want) in s.iter().zip(exact) {
            assert!(
                ((got / scale) as f64 - want).abs() <= 1e-5 * want,
                "{scale:e}: {s:e}"
            );
        }
    }
}

#[test]
fn whether_a_matrix_is_singular_does_not_depend_on_its_tiles() {
    // Exactly singular (the third column is the first): each tiling finds it, also where
    // one column panel holds only rounding noise next to the matrix.
    let singular = ndarray::arr2(&[[-0.8, 0.8, -0.8], [0.7, 0.1, 0.7], [0.1, -0.3, 0.1]]);
    let b = ndarray::arr1(&[1.0, 2.0, 3.0]);
    for tile in [1, 2, 3] {
        let a = from_ndarray(&singular, [tile, tile]).unwrap();
        let x = linalg::solve(&a, &from_ndarray(&b, [tile]).unwrap()).unwrap();
        assert!(
            matches!(
                x.compute(),
                Err(Error::Linalg(LinalgError::Singular { .. }))
            ),
            "tiles of {tile}"
        );
    }
    // A regular matrix solves the same with each tiling.
    let regular = ndarray::arr2(&[[4.0f64, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]]);
    for tile in [1, 2, 3] {
        let a = from_ndarray(&regular, [tile, tile]).unwrap();
        let x = linalg::solve(&a, &from_ndarray(&b, [tile]).unwrap()).unwrap();
        let x = x
            .compute()
            .unwrap()
            .into_dimensionality::<ndarray::Ix1>()
            .unwrap();
        let residual = regular.dot(&x) - &b;
        assert!(residual.iter().all(|r| r.abs() < 1e-14), "tiles of {tile}");
    }
    // Partial pivoting grows U's last pivot to 1.99^48 (2e14) in a well-conditioned matrix:
    // the pivots of 1 before it are not zero against the largest entry of `a` (1), however
    // the matrix is tiled, in `lu` as in `solve`.
    let n = 49;
    let growth = Array2::from_shape_fn((n, n), |(i, j)| match (i, j) {
        (_, j) if j == n - 1 => 1.0,
        (i, j) if i == j => 1.0,
        (i, j) if i > j => -0.99,
        _ => 0.0,
    });
    let b = Array1::<f64>::ones(n);
    for tile in [1, 25, 49] {
        let a = from_ndarray(&growth, [tile, tile]).unwrap();
        assert!(
            linalg::lu(&a).unwrap().2.compute().is_ok(),
            "lu, tiles of {tile}"
        );
        let x = linalg::solve(&a, &from_ndarray(&b, [tile]).unwrap()).unwrap();
        let x = x
            .compute()
            .unwrap_or_else(|e| panic!("tiles of {tile}: {e}"));
        assert!(x.iter().all(|v| v.is_finite()), "tiles of {tile}");
        let inverse = linalg::inv(&a).unwrap().compute();
        assert!(inverse.is_ok(), "inv, tiles of {tile}");
    }
    // A triangular matrix with a diagonal entry at rounding level next to the largest: the
    // same answer with tiles of one (where a tile's own diagonal would pass it) and two.
    let graded = ndarray::arr2(&[[1.0f64, 0.0], [0.5, 1e-17]]);
    let ones = ndarray::arr1(&[1.0f64, 1.0]);
    for tile in [1, 2] {
        let a = from_ndarray(&graded, [tile, tile]).unwrap();
        let x = linalg::solve_triangular(&a, &from_ndarray(&ones, [tile]).unwrap(), true);
        assert!(
            matches!(
                x.unwrap().compute(),
                Err(Error::Linalg(LinalgError::Singular { pivot: 1, .. }))
            ),
            "tiles of {tile}"
        );
    }
}

//! Tiled matrix products against a dense product computed here (plain triple loop in f64).
#![allow(missing_docs)]

use chunkwise::{Chunks, Error, from_ndarray};
use ndarray::{Array2, ArrayD, IxDyn};

fn matrix(rows: usize, cols: usize, seed: usize) -> Array2<f64> {
    Array2::from_shape_fn((rows, cols), |(i, j)| {
        (((i * 31 + j * 17 + seed * 7) % 23) as f64 - 11.0) / 7.0
    })
}

fn dense_product(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
    let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
    Array2::from_shape_fn((m, n), |(i, j)| (0..k).map(|p| a[[i, p]] * b[[p, j]]).sum())
}

#[test]
fn tiled_products_match_a_dense_product_with_irregular_and_mismatched_tiles() {
    let cases = [
        (
            7,
            5,
            9,
            Chunks::Shape(vec![3, 2]),
            Chunks::Shape(vec![4, 4]),
        ),
        (
            10,
            12,
            6,
            Chunks::Sizes(vec![vec![1, 9], vec![5, 7]]),
            Chunks::Sizes(vec![vec![2, 3, 7], vec![6]]),
        ),
        (
            16,
            16,
            16,
            Chunks::Shape(vec![4, 4]),
            Chunks::Shape(vec![4, 8]),
        ),
        (
            3,
            0,
            4,
            Chunks::Shape(vec![3, 1]),
            Chunks::Shape(vec![1, 2]),
        ),
    ];
    for (m, k, n, ca, cb) in cases {
        let (a, b) = (matrix(m, k, 1), matrix(k, n, 2));
        let x = from_ndarray(&a, ca)
            .unwrap()
            .matmul(&from_ndarray(&b, cb).unwrap())
            .unwrap();
        let got = x.compute().unwrap();
        let want = dense_product(&a, &b).into_dyn();
        assert_eq!(got.shape(), want.shape());
        // Each entry is a sum of k products of values below 2 in magnitude.
        let tolerance = 1e-13 * (k as f64 + 1.0) * 4.0;
        assert!(
            got.iter()
                .zip(want.iter())
                .all(|(g, w)| (g - w).abs() <= tolerance),
            "{m}x{k}x{n}"
        );
    }
}

#[test]
fn vectors_and_f32() {
    let a = matrix(6, 4, 3);
    let v: Vec<f64> = (0..4).map(|i| i as f64 - 1.5).collect();
    let x = from_ndarray(&a, [4, 3]).unwrap();
    let vx = from_ndarray(&ndarray::arr1(&v), [3]).unwrap();
    let mv = x.matmul(&vx).unwrap().compute().unwrap();
    let want: Vec<f64> = (0..6)
        .map(|i| (0..4).map(|p| a[[i, p]] * v[p]).sum())
        .collect();
    assert_eq!(mv.shape(), &[6]);
    assert!(mv.iter().zip(&want).all(|(g, w)| (g - w).abs() < 1e-12));
    let u: Vec<f64> = (0..6).map(|i| 0.5 * i as f64).collect();
    let vm = from_ndarray(&ndarray::arr1(&u), [4])
        .unwrap()
        .matmul(&x)
        .unwrap()
        .compute()
        .unwrap();
    let want: Vec<f64> = (0..4)
        .map(|j| (0..6).map(|p| u[p] * a[[p, j]]).sum())
        .collect();
    assert!(vm.iter().zip(&want).all(|(g, w)| (g - w).abs() < 1e-12));

    let a32 = a.mapv(|v| v as f32);
    let b32 = matrix(4, 5, 4).mapv(|v| v as f32);
    let got = from_ndarray(&a32, [2, 2])
        .unwrap()
        .matmul(&from_ndarray(&b32, [3, 5]).unwrap())
        .unwrap()
        .compute()
        .unwrap();
    let want = dense_product(&a32.mapv(f64::from), &b32.mapv(f64::from));
    assert!(
        got.iter()
            .zip(want.iter())
            .all(|(g, w)| (f64::from(*g) - w).abs() < 1e-5)
    );
}

#[test]
fn shape_errors() {
    let a = from_ndarray(&matrix(3, 4, 0), [3, 4]).unwrap();
    let b = from_ndarray(&matrix(5, 2, 0), [5, 2]).unwrap();
    assert!(matches!(a.matmul(&b), Err(Error::ShapeMismatch { .. })));
    let cube = from_ndarray(&ArrayD::<f64>::zeros(IxDyn(&[2, 2, 2])), [2, 2, 2]).unwrap();
    assert!(matches!(
        cube.matmul(&a),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn dot_outer_and_norms_match_dense_computations() {
    use chunkwise::Norm;
    let a = matrix(7, 5, 5);
    let x = from_ndarray(&a, Chunks::Sizes(vec![vec![3, 4], vec![2, 3]])).unwrap();
    let close = |got: f64, want: f64| (got - want).abs() <= 1e-12 * want.abs().max(1.0);
    let fro: f64 = a.iter().map(|v| v * v).sum::<f64>().sqrt();
    let one = (0..5)
        .map(|j| (0..7).map(|i| a[[i, j]].abs()).sum::<f64>())
        .fold(0.0, f64::max);
    let inf = (0..7)
        .map(|i| (0..5).map(|j| a[[i, j]].abs()).sum::<f64>())
        .fold(0.0, f64::max);
    assert!(close(
        x.norm(Norm::Frobenius).unwrap().compute_scalar().unwrap(),
        fro
    ));
    assert!(close(
        x.norm(Norm::One).unwrap().compute_scalar().unwrap(),
        one
    ));
    assert!(close(
        x.norm(Norm::Inf).unwrap().compute_scalar().unwrap(),
        inf
    ));
    // The spectral norm: the largest singular value, by faer on the dense matrix.
    let spectral = faer::Mat::<f64>::from_fn(7, 5, |i, j| a[[i, j]])
        .singular_values()
        .unwrap()[0];
    assert!(close(
        x.norm(Norm::Two).unwrap().compute_scalar().unwrap(),
        spectral
    ));

    let u: Vec<f64> = (0..9).map(|i| (i as f64 - 4.0) * 0.75).collect();
    let w: Vec<f64> = (0..9).map(|i| 1.0 / (i as f64 + 1.0)).collect();
    let (ux, wx) = (
        from_ndarray(&ndarray::arr1(&u), [4]).unwrap(),
        from_ndarray(&ndarray::arr1(&w), [2]).unwrap(),
    );
    assert!(close(
        ux.norm(Norm::Two).unwrap().compute_scalar().unwrap(),
        u.iter().map(|v| v * v).sum::<f64>().sqrt()
    ));
    assert!(close(
        ux.norm(Norm::One).unwrap().compute_scalar().unwrap(),
        u.iter().map(|v| v.abs()).sum()
    ));
    assert!(close(
        ux.norm(Norm::Inf).unwrap().compute_scalar().unwrap(),
        3.0
    ));
    let dot: f64 = u.iter().zip(&w).map(|(a, b)| a * b).sum();
    let got = ux.dot(&wx).unwrap();
    assert_eq!(got.shape(), Vec::<usize>::new());
    assert!(close(got.compute_scalar().unwrap(), dot));
    let outer = ux.outer(&wx).unwrap().compute().unwrap();
    assert_eq!(outer.shape(), &[9, 9]);
    assert!((0..9).all(|i| (0..9).all(|j| outer[[i, j]] == u[i] * w[j])));
    assert!(matches!(x.outer(&ux), Err(Error::InvalidArgument { .. })));
}

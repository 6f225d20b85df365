//! Tiled matrix products against a dense product computed here (plain triple loop in f64).
#![allow(missing_docs)]

use chunkwise::{BuildError, Chunks, Error, from_ndarray};
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
    assert!(matches!(
        a.matmul(&b),
        Err(Error::Build(BuildError::ShapeMismatch { .. }))
    ));
    let cube = from_ndarray(&ArrayD::<f64>::zeros(IxDyn(&[2, 2, 2])), [2, 2, 2]).unwrap();
    assert!(matches!(
        cube.matmul(&a),
        Err(Error::Build(BuildError::ShapeMismatch { .. }))
    ));
    let scalar = from_ndarray(&ArrayD::<f64>::zeros(IxDyn(&[])), Vec::<usize>::new()).unwrap();
    assert!(matches!(
        scalar.matmul(&a),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
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
    // As NumPy: every norm of an empty vector or matrix is 0.
    for shape in [vec![0], vec![0, 3], vec![3, 0], vec![0, 0]] {
        let empty = chunkwise::zeros::<f64>(&shape, vec![2; shape.len()]).unwrap();
        for norm in [Norm::One, Norm::Two, Norm::Inf, Norm::Frobenius] {
            let value = empty.norm(norm).unwrap().compute_scalar().unwrap();
            assert_eq!(value, 0.0, "{shape:?} {norm:?}");
        }
    }

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
    assert!(matches!(
        x.outer(&ux),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
}

/// `einsum` of two operands by definition (see [`dense_einsum_of`]).
fn dense_einsum(a: &ArrayD<f64>, la: &str, b: &ArrayD<f64>, lb: &str, lout: &str) -> ArrayD<f64> {
    dense_einsum_of(&[(a, la), (b, lb)], lout)
}

/// `einsum` by definition, the oracle for contractions: for every combination of letter
/// values, the product of the operands' entries is added to the output's entry. A letter
/// repeated in one operand indexes each of its axes alike; an axis of length 1 is read at
/// 0 whatever its letter's value (broadcasting).
fn dense_einsum_of(operands: &[(&ArrayD<f64>, &str)], lout: &str) -> ArrayD<f64> {
    let mut sizes = std::collections::BTreeMap::new();
    for (x, letters) in operands {
        for (c, &n) in letters.chars().zip(x.shape()) {
            let size = sizes.entry(c).or_insert(n);
            *size = (*size).max(n);
        }
    }
    let letters: Vec<char> = sizes.keys().copied().collect();
    let out_shape: Vec<usize> = lout.chars().map(|c| sizes[&c]).collect();
    let mut out = ArrayD::<f64>::zeros(IxDyn(&out_shape));
    let total: usize = letters.iter().map(|c| sizes[c]).product();
    for flat in 0..total {
        let mut rest = flat;
        let mut value = std::collections::HashMap::new();
        for c in letters.iter().rev() {
            value.insert(*c, rest % sizes[c]);
            rest /= sizes[c];
        }
        let entry = |x: &ArrayD<f64>, l: &str| -> f64 {
            let index: Vec<usize> = l
                .chars()
                .zip(x.shape())
                .map(|(c, &n)| if n == 1 { 0 } else { value[&c] })
                .collect();
            x[IxDyn(&index)]
        };
        let product: f64 = operands.iter().map(|(x, l)| entry(x, l)).product();
        let at: Vec<usize> = lout.chars().map(|c| value[&c]).collect();
        out[IxDyn(&at)] += product;
    }
    out
}

fn tensor(shape: &[usize], seed: usize) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(shape), |i| {
        use ndarray::Dimension;
        let s: usize = i
            .slice()
            .iter()
            .enumerate()
            .map(|(d, &x)| (d + 3) * x)
            .sum();
        (((s * 13 + seed * 7) % 19) as f64 - 9.0) / 5.0
    })
}

fn assert_close_arrays(got: &ArrayD<f64>, want: &ArrayD<f64>, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
            "{what}: {g} vs {w}"
        );
    }
}

#[test]
fn batched_matmul_broadcasts_leading_axes_like_numpy() {
    // (a shape, a tiles, b shape, b tiles, oracle letters of a, of b, of the output)
    type Case<'a> = (
        &'a [usize],
        &'a [usize],
        &'a [usize],
        &'a [usize],
        &'a str,
        &'a str,
        &'a str,
    );
    let cases: [Case; 4] = [
        // Same batch.
        (
            &[3, 4, 5],
            &[2, 2, 3],
            &[3, 5, 2],
            &[1, 3, 2],
            "bxy",
            "byz",
            "bxz",
        ),
        // Broadcast a batch axis of length 1.
        (
            &[1, 4, 5],
            &[1, 3, 5],
            &[3, 5, 2],
            &[2, 5, 1],
            "xy",
            "byz",
            "bxz",
        ),
        // Stack @ matrix and matrix @ stack.
        (
            &[2, 3, 4, 5],
            &[1, 2, 3, 2],
            &[5, 6],
            &[2, 4],
            "abxy",
            "yz",
            "abxz",
        ),
        (&[4, 5], &[2, 2], &[3, 5, 2], &[2, 3, 2], "xy", "byz", "bxz"),
    ];
    for (sa, ca, sb, cb, la, lb, lout) in cases {
        let (a, b) = (tensor(sa, 1), tensor(sb, 2));
        let got = from_ndarray(&a, ca.to_vec())
            .unwrap()
            .matmul(&from_ndarray(&b, cb.to_vec()).unwrap())
            .unwrap()
            .compute()
            .unwrap();
        // A length-1 batch axis of `a` is broadcast: the oracle drops it.
        let a_oracle = if la.len() < sa.len() {
            a.index_axis(ndarray::Axis(0), 0).to_owned()
        } else {
            a.clone()
        };
        let want = dense_einsum(&a_oracle, la, &b, lb, lout);
        assert_close_arrays(&got, &want, &format!("{sa:?} @ {sb:?}"));
    }
    let err = from_ndarray(&tensor(&[2, 3, 4], 1), [1, 3, 4])
        .unwrap()
        .matmul(&from_ndarray(&tensor(&[3, 4, 2], 2), [1, 4, 2]).unwrap())
        .unwrap_err();
    assert!(
        matches!(err, Error::Build(BuildError::ShapeMismatch { .. })),
        "{err}"
    );
}

#[test]
fn tensordot_and_einsum_match_the_definition() {
    use chunkwise::linalg::{einsum, tensordot};
    let a = tensor(&[4, 3, 5], 3);
    let b = tensor(&[5, 4, 2], 4);
    let (ta, tb) = (
        from_ndarray(&a, [3, 2, 2]).unwrap(),
        from_ndarray(&b, [5, 3, 1]).unwrap(),
    );
    let got = tensordot(&ta, &tb, &[0, 2], &[1, 0])
        .unwrap()
        .compute()
        .unwrap();
    assert_close_arrays(&got, &dense_einsum(&a, "ijk", &b, "kil", "jl"), "tensordot");
    let specs = [
        ("ijk,kil->jl", "ijk", "kil", "jl"),
        ("ijk,kil->lj", "ijk", "kil", "lj"),
        // Batch axis i, contracted k; j and l free.
        ("ijk,kil->ijl", "ijk", "kil", "ijl"),
        // Implicit output: letters that appear once, sorted.
        ("ijk,kil", "ijk", "kil", "jl"),
        // An outer product with a batch axis (nothing contracted).
        ("ijk,kil->ijkl", "ijk", "kil", "ijkl"),
        // j summed in a alone.
        ("ijk,kil->l", "ijk", "kil", "l"),
    ];
    for (spec, la, lb, lout) in specs {
        let got = einsum(spec, &[&ta, &tb]).unwrap().compute().unwrap();
        assert_close_arrays(&got, &dense_einsum(&a, la, &b, lb, lout), spec);
    }
    // One operand: a transpose and a sum.
    let one = einsum("ijk->kj", &[&ta]).unwrap().compute().unwrap();
    let want = a.sum_axis(ndarray::Axis(0)).reversed_axes();
    assert_close_arrays(&one, &want.into_dyn(), "ijk->kj");
    for bad in [
        "ii,ij->j",
        "ij,jk->iq",
        "i...,j",
        "ij,jk,kl",
        "ijk,kil->ii",
        "i..jk,kil",
        "ij...,kil->j",
        "ijk,k%l",
    ] {
        assert!(
            matches!(
                einsum(bad, &[&ta, &tb]),
                Err(Error::Build(BuildError::InvalidArgument { .. }))
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        einsum("ijk,ijl->kl", &[&ta, &tb]),
        Err(Error::Build(BuildError::ShapeMismatch { .. }))
    ));
}

#[test]
fn einsum_diagonals_ellipses_broadcasts_and_chains_match_the_definition() {
    use chunkwise::linalg::einsum;
    // (spec, operands as (shape, tiles, oracle letters), oracle output letters)
    type Case<'a> = (&'a str, Vec<(&'a [usize], &'a [usize], &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        // The trace, the diagonal, and a diagonal across the first and last axes.
        ("ii", vec![(&[5, 5], &[2, 3], "ii")], ""),
        ("ii->i", vec![(&[5, 5], &[3, 2], "ii")], "i"),
        ("iji->j", vec![(&[4, 3, 4], &[3, 2, 1], "iji")], "j"),
        ("iij->ji", vec![(&[3, 3, 2], &[2, 2, 1], "iij")], "ji"),
        // A diagonal with a batch axis, against another operand.
        (
            "bii,bi->b",
            vec![(&[3, 4, 4], &[2, 3, 2], "bii"), (&[3, 4], &[1, 4], "bi")],
            "b",
        ),
        // '...' aligned at the right and broadcast (a length 1 against 4).
        (
            "...ij,...jk",
            vec![
                (&[3, 1, 2, 3], &[2, 1, 1, 2], "pqij"),
                (&[4, 3, 2], &[3, 2, 2], "qjk"),
            ],
            "pqik",
        ),
        (
            "...i,...i",
            vec![(&[3], &[2], "i"), (&[2, 3], &[1, 3], "pi")],
            "p",
        ),
        ("i...->...", vec![(&[2, 3, 4], &[1, 2, 3], "ipq")], "pq"),
        ("...ij->...ji", vec![(&[2, 3, 4], &[1, 2, 3], "pij")], "pji"),
        ("a...b->...", vec![(&[2, 3], &[1, 2], "ab")], ""),
        // A contracted letter of length 1 broadcasts, as do free ones.
        (
            "ij,jk->ik",
            vec![(&[2, 1], &[1, 1], "ij"), (&[3, 4], &[2, 3], "jk")],
            "ik",
        ),
        (
            "ij,ij->ji",
            vec![(&[1, 3], &[1, 2], "ij"), (&[2, 1], &[1, 1], "ij")],
            "ji",
        ),
        // Three and four operands, explicit and implicit.
        (
            "ij,jk,kl->il",
            vec![
                (&[3, 4], &[2, 3], "ij"),
                (&[4, 5], &[3, 2], "jk"),
                (&[5, 2], &[5, 1], "kl"),
            ],
            "il",
        ),
        (
            "ij,jk,kl",
            vec![
                (&[3, 4], &[3, 4], "ij"),
                (&[4, 5], &[1, 5], "jk"),
                (&[5, 2], &[2, 2], "kl"),
            ],
            "il",
        ),
        (
            "i,i,i,i->",
            vec![
                (&[6], &[4], "i"),
                (&[6], &[5], "i"),
                (&[6], &[6], "i"),
                (&[6], &[1], "i"),
            ],
            "",
        ),
        (
            "ab,bc,ca->b",
            vec![
                (&[3, 4], &[2, 2], "ab"),
                (&[4, 2], &[3, 1], "bc"),
                (&[2, 3], &[2, 2], "ca"),
            ],
            "b",
        ),
    ];
    for (seed, (spec, operands, lout)) in cases.into_iter().enumerate() {
        let dense: Vec<ArrayD<f64>> = operands
            .iter()
            .enumerate()
            .map(|(k, (shape, _, _))| tensor(shape, seed * 5 + k))
            .collect();
        let tiled: Vec<_> = operands
            .iter()
            .zip(&dense)
            .map(|((_, tiles, _), x)| from_ndarray(x, tiles.to_vec()).unwrap())
            .collect();
        let refs: Vec<_> = tiled.iter().collect();
        let got = einsum(spec, &refs).unwrap().compute().unwrap();
        let oracle: Vec<_> = dense.iter().zip(&operands).map(|(x, o)| (x, o.2)).collect();
        assert_close_arrays(&got, &dense_einsum_of(&oracle, lout), spec);
    }
    // A diagonal of unequal lengths, letters whose lengths differ (neither 1).
    let a = from_ndarray(&tensor(&[2, 3], 0), [1, 3]).unwrap();
    let b = from_ndarray(&tensor(&[2, 4], 1), [2, 2]).unwrap();
    for (spec, operands) in [("ii->", vec![&a]), ("ij,ij->i", vec![&a, &b])] {
        assert!(
            matches!(
                einsum(spec, &operands),
                Err(Error::Build(BuildError::ShapeMismatch { .. }))
            ),
            "{spec}"
        );
    }
}

#[test]
fn a_long_inner_dimension_is_accumulated_in_a_chain_of_bounded_links() {
    use chunkwise::linalg::LINK_INPUT_BYTES;
    // Tiles of 2 MiB: each link holds at most LINK_INPUT_BYTES of operand tiles.
    let (m, k, n) = (512, 512 * 40, 512);
    let a = chunkwise::random::uniform::<f64>(1, -1.0, 1.0, &[m, k], [m, 512]).unwrap();
    let b = chunkwise::random::uniform::<f64>(2, -1.0, 1.0, &[k, n], [512, n]).unwrap();
    let c = a.matmul(&b).unwrap();
    let plan = c.explain().unwrap();
    let links = plan.matches("contract[").count();
    let per_link = LINK_INPUT_BYTES / (2 * 512 * 512 * 8);
    assert_eq!(links, 40usize.div_ceil(per_link), "{plan}");
    let got = c.compute().unwrap();
    let (a, b) = (a.compute().unwrap(), b.compute().unwrap());
    let a2 = a.into_dimensionality::<ndarray::Ix2>().unwrap();
    let b2 = b.into_dimensionality::<ndarray::Ix2>().unwrap();
    let want = a2.dot(&b2).into_dyn();
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-9 * (1.0 + w.abs()));
    }
}

/// Arguments NumPy refuses or handles at the edge: a tensordot axis paired twice is an
/// error (not a silently summed axis), a 0 x 0 system factors and solves to empty results,
/// and an oversampling near `usize::MAX` is clamped, not an overflow.
#[test]
fn edge_arguments_of_factorizations_and_contractions() {
    use chunkwise::linalg::{
        SvdCompressed, inv, lu, solve, solve_triangular, svd_compressed, tensordot,
    };
    let a = chunkwise::ones::<f64>(&[3, 4], [2, 2]).unwrap();
    let b = chunkwise::ones::<f64>(&[3, 5], [2, 2]).unwrap();
    for (a_axes, b_axes) in [([0, 1], [0, 0]), ([0, 0], [0, 1]), ([0, 1], [0, -2])] {
        let err = tensordot(&a, &b, &a_axes, &b_axes).err();
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("paired twice"),
            "{a_axes:?} {b_axes:?}: {message}"
        );
    }
    let empty = chunkwise::zeros::<f64>(&[0, 0], [1, 1]).unwrap();
    let rhs = chunkwise::zeros::<f64>(&[0], [1]).unwrap();
    assert_eq!(inv(&empty).unwrap().compute().unwrap().shape(), [0, 0]);
    assert_eq!(solve(&empty, &rhs).unwrap().compute().unwrap().shape(), [0]);
    for lower in [true, false] {
        let x = solve_triangular(&empty, &rhs, lower).unwrap();
        assert_eq!(x.compute().unwrap().shape(), [0]);
    }
    let (p, l, u) = lu(&empty).unwrap();
    for factor in [p, l, u] {
        assert_eq!(factor.compute().unwrap().shape(), [0, 0]);
    }
    let tall = chunkwise::random::uniform::<f64>(3, -1.0, 1.0, &[10, 4], [5, 4]).unwrap();
    let options = SvdCompressed {
        oversampling: usize::MAX,
        ..Default::default()
    };
    let (uu, s, vt) = svd_compressed(&tall, 2, options).unwrap();
    assert_eq!(uu.compute().unwrap().shape(), [10, 2]);
    assert_eq!(s.compute().unwrap().shape(), [2]);
    assert_eq!(vt.compute().unwrap().shape(), [2, 4]);
}

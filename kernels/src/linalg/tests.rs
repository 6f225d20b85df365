use super::*;
use crate::test_rng::Lcg;

/// Row-major `a (m x k) @ b (k x n)` by the definition, in f64.
fn naive(a: &[f64], b: &[f64], m: usize, n: usize, k: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            out[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
        }
    }
    out
}

fn transpose(a: &[f64], m: usize, n: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            out[j * m + i] = a[i * n + j];
        }
    }
    out
}

/// Deterministic values in [-1, 1) that do not repeat in short patterns.
fn values(len: usize, seed: u64) -> Vec<f64> {
    Lcg::new(seed).values(len, -1.0, 1.0)
}

fn assert_close(found: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(found.len(), expected.len());
    for (i, (f, e)) in found.iter().zip(expected).enumerate() {
        assert!((f - e).abs() <= tol, "element {i}: {f} vs {e}");
    }
}

#[test]
fn gemm_accumulates_with_every_transpose() {
    let (m, n, k) = (7, 5, 6);
    let a = values(m * k, 1);
    let b = values(k * n, 2);
    let product = naive(&a, &b, m, n, k);
    for (op_a, op_b) in [
        (Op::Plain, Op::Plain),
        (Op::Transposed, Op::Plain),
        (Op::Plain, Op::Transposed),
        (Op::Transposed, Op::Transposed),
    ] {
        let a_stored = if op_a == Op::Plain {
            a.clone()
        } else {
            transpose(&a, m, k)
        };
        let b_stored = if op_b == Op::Plain {
            b.clone()
        } else {
            transpose(&b, k, n)
        };
        let mut c = vec![1.0; m * n];
        gemm(op_a, op_b, m, n, k, -2.0, &a_stored, &b_stored, 1.0, &mut c);
        let expected: Vec<f64> = product.iter().map(|p| 1.0 - 2.0 * p).collect();
        assert_close(&c, &expected, 1e-12);
    }
}

/// Vector and single-element shapes (unit strides on both axes) and a size past BLIS's
/// small-matrix path, with every transpose: the kernels chosen for the CPU (`blis`) or the
/// CBLAS call agree with the definition.
#[test]
fn gemm_of_vector_and_large_shapes_with_every_transpose() {
    for (m, n, k) in [
        (1, 1, 1),
        (1, 5, 3),
        (4, 1, 3),
        (4, 5, 1),
        (1, 1, 9),
        (300, 170, 260),
    ] {
        let a = values(m * k, 5);
        let b = values(k * n, 6);
        let product = naive(&a, &b, m, n, k);
        for op_a in [Op::Plain, Op::Transposed] {
            for op_b in [Op::Plain, Op::Transposed] {
                let a_stored = if op_a == Op::Plain {
                    a.clone()
                } else {
                    transpose(&a, m, k)
                };
                let b_stored = if op_b == Op::Plain {
                    b.clone()
                } else {
                    transpose(&b, k, n)
                };
                let mut c = vec![1.0; m * n];
                gemm(op_a, op_b, m, n, k, 1.0, &a_stored, &b_stored, 0.5, &mut c);
                let expected: Vec<f64> = product.iter().map(|p| p + 0.5).collect();
                assert_close(&c, &expected, 1e-10);
            }
        }
    }
}

#[test]
fn blas_syrk_gives_the_upper_triangle_of_gemm_in_f32_and_f64() {
    let (n, k) = (9, 13);
    let a = values(n * k, 3);
    let at = transpose(&a, n, k);
    for (op, stored) in [(Op::Plain, &a), (Op::Transposed, &at)] {
        // op(stored) is a (n x k): syrk gives a @ a.T, gemm the same from both operands.
        let mut want = vec![1.0; n * n];
        gemm(Op::Plain, Op::Plain, n, n, k, 2.0, &a, &at, 0.5, &mut want);
        let mut got = vec![1.0; n * n];
        syrk(op, n, k, 2.0, stored, 0.5, &mut got);
        for i in 0..n {
            for j in 0..n {
                let expected = if j >= i { want[i * n + j] } else { 1.0 };
                assert!(
                    (got[i * n + j] - expected).abs() <= 1e-12,
                    "({i}, {j}) {op:?}"
                );
            }
        }
        mirror_upper(&mut got, n);
        assert_close(&got, &want, 1e-12);
        assert!((0..n).all(|i| (0..n).all(|j| got[i * n + j] == got[j * n + i])));
        // f32: the same against f32 gemm.
        let (a32, s32): (Vec<f32>, Vec<f32>) = (
            a.iter().map(|&x| x as f32).collect(),
            stored.iter().map(|&x| x as f32).collect(),
        );
        let at32: Vec<f32> = at.iter().map(|&x| x as f32).collect();
        let mut want32 = vec![0.0f32; n * n];
        gemm(
            Op::Plain,
            Op::Plain,
            n,
            n,
            k,
            1.0,
            &a32,
            &at32,
            0.0,
            &mut want32,
        );
        let mut got32 = vec![0.0f32; n * n];
        syrk(op, n, k, 1.0, &s32, 0.0, &mut got32);
        mirror_upper(&mut got32, n);
        assert!(
            got32
                .iter()
                .zip(&want32)
                .all(|(g, w)| (g - w).abs() <= 1e-4)
        );
    }
    // Sizes past the mirror's block size.
    let n = 70;
    let mut c: Vec<f64> = values(n * n, 4);
    mirror_upper(&mut c, n);
    assert!((0..n).all(|i| (0..n).all(|j| c[i * n + j] == c[j * n + i])));
}

#[test]
fn gemm_in_f32() {
    let a: Vec<f32> = values(12, 3).iter().map(|&x| x as f32).collect();
    let b: Vec<f32> = values(12, 4).iter().map(|&x| x as f32).collect();
    let mut c = vec![0.0f32; 9];
    gemm(Op::Plain, Op::Plain, 3, 3, 4, 1.0, &a, &b, 0.0, &mut c);
    let a64: Vec<f64> = a.iter().map(|&x| x as f64).collect();
    let b64: Vec<f64> = b.iter().map(|&x| x as f64).collect();
    let c64: Vec<f64> = c.iter().map(|&x| x as f64).collect();
    assert_close(&c64, &naive(&a64, &b64, 3, 3, 4), 1e-5);
}

/// A symmetric positive-definite matrix: `g g^T + n I`.
fn spd(n: usize, seed: u64) -> Vec<f64> {
    let g = values(n * n, seed);
    let mut a = naive(&g, &transpose(&g, n, n), n, n, n);
    for i in 0..n {
        a[i * n + i] += n as f64;
    }
    a
}

#[test]
fn cholesky_reproduces_the_matrix() {
    let n = 9;
    let a = spd(n, 5);
    let l = cholesky_lower(&a, n).unwrap();
    for i in 0..n {
        for j in i + 1..n {
            assert_eq!(l[i * n + j], 0.0);
        }
    }
    assert_close(&naive(&l, &transpose(&l, n, n), n, n, n), &a, 1e-12);
}

#[test]
fn cholesky_names_the_first_non_positive_pivot() {
    // Leading 2 x 2 block is positive definite; the third pivot is 1 - 4 = -3.
    let a = [1.0, 0.0, 2.0, 0.0, 1.0, 0.0, 2.0, 0.0, 1.0];
    assert_eq!(cholesky_lower(&a, 3), Err(2));
}

#[test]
fn triangular_solves_on_both_sides_and_transposed() {
    let n = 6;
    let mut l = values(n * n, 7);
    for i in 0..n {
        l[i * n + i] = 3.0 + i as f64;
        for j in i + 1..n {
            l[i * n + j] = 0.0;
        }
    }
    let lt = transpose(&l, n, n);
    let x = values(n * 4, 8);
    for (lower, op) in [(true, Op::Plain), (true, Op::Transposed)] {
        let t = Triangular {
            data: &l,
            n,
            lower,
            unit_diagonal: false,
        };
        let effective = if op == Op::Plain { &l } else { &lt };
        // Left: op(l) @ x = b.
        let mut b = naive(effective, &x, n, 4, n);
        solve_left(t, op, &mut b, 4);
        assert_close(&b, &x, 1e-12);
        // Right: y @ op(l) = c, with y (4 x n).
        let y = values(4 * n, 9);
        let mut c = naive(&y, effective, 4, n, n);
        solve_right(t, op, &mut c, 4);
        assert_close(&c, &y, 1e-12);
    }
    // Upper (the transpose stored) and a unit diagonal.
    let t = Triangular {
        data: &lt,
        n,
        lower: false,
        unit_diagonal: true,
    };
    let mut unit = lt.clone();
    for i in 0..n {
        unit[i * n + i] = 1.0;
    }
    let mut b = naive(&unit, &x, n, 4, n);
    solve_left(t, Op::Plain, &mut b, 4);
    assert_close(&b, &x, 1e-12);
}

/// Checks `a == q r`, `qᵀq == I`, `r` upper triangular and `q_times` against the thin `Q`,
/// all to `tol`.
fn assert_is_qr_of(qr: &TileQr<f64>, a: &[f64], m: usize, n: usize, tol: f64) {
    let k = m.min(n);
    let (q, r) = (qr.thin_q(), qr.r());
    assert_close(&naive(&q, &r, m, n, k), a, tol);
    // Orthonormal columns.
    let qtq = naive(&transpose(&q, m, k), &q, k, k, m);
    let identity: Vec<f64> = (0..k * k)
        .map(|i| f64::from(u8::from(i % (k + 1) == 0)))
        .collect();
    assert_close(&qtq, &identity, tol);
    // R is upper triangular.
    for i in 0..k {
        for j in 0..i.min(n) {
            assert_eq!(r[i * n + j], 0.0);
        }
    }
    // Q applied to a k x 3 matrix equals the thin Q times it.
    let top = values(k * 3, 11);
    assert_close(&qr.q_times(&top, 3), &naive(&q, &top, m, 3, k), tol);
}

/// A matrix with singular values from 1 down to `10^-digits`: `values` with column `j`
/// scaled by `10^(-digits * j / (n - 1))`, then its columns mixed by an orthogonal matrix
/// (so that no column scaling undoes the conditioning).
fn ill_conditioned(m: usize, n: usize, digits: f64, seed: u64) -> Vec<f64> {
    let mut graded = values(m * n, seed);
    for (i, x) in graded.iter_mut().enumerate() {
        *x *= 10f64.powf(-digits * (i % n) as f64 / (n - 1) as f64);
    }
    let mixing = TileQr::householder(&values(n * n, seed + 1), n, n).thin_q();
    naive(&graded, &mixing, m, n, n)
}

#[test]
fn qr_reproduces_tall_and_wide_matrices_by_either_method() {
    // Tall tiles (m >= 2n) take CholeskyQR2, others Householder. Through Householder,
    // (200, 20) is tall enough for blocks of 16 reflectors with unblocked panels (and a
    // last block of 4), and (30000, 40) is factored in row blocks (a TSQR inside the tile).
    for (m, n, method) in [
        (40, 7, QrMethod::CholeskyQr2),
        (7, 7, QrMethod::Householder),
        (5, 9, QrMethod::Householder),
        (200, 20, QrMethod::CholeskyQr2),
        (30_000, 40, QrMethod::CholeskyQr2),
    ] {
        let a = values(m * n, 10 + m as u64);
        let qr = TileQr::new(&a, m, n);
        assert_eq!(qr.method(), method, "{m} x {n}");
        assert_is_qr_of(&qr, &a, m, n, 1e-12);
        let householder = TileQr::householder(&a, m, n);
        assert_eq!(householder.method(), QrMethod::Householder);
        assert_is_qr_of(&householder, &a, m, n, 1e-12);
    }
}

#[test]
fn cholesky_qr2_keeps_q_orthonormal_up_to_its_check_and_falls_back_beyond() {
    let (m, n) = (2000, 30);
    // Condition number 1e5: the first pass's Q1 is off by about 1e-6, the second pass
    // corrects it to working precision.
    let a = ill_conditioned(m, n, 5.0, 21);
    let qr = TileQr::new(&a, m, n);
    assert_eq!(qr.method(), QrMethod::CholeskyQr2);
    assert_is_qr_of(&qr, &a, m, n, 1e-12);
    // Condition numbers 1e12 and infinity (a zero column: AᵀA is singular): Householder.
    let ill = ill_conditioned(m, n, 12.0, 22);
    let mut singular = values(m * n, 23);
    for row in singular.chunks_mut(n) {
        row[4] = 0.0;
    }
    for a in [ill, singular] {
        let qr = TileQr::new(&a, m, n);
        assert_eq!(qr.method(), QrMethod::Householder);
        assert_is_qr_of(&qr, &a, m, n, 1e-12);
    }
}

#[test]
fn either_method_keeps_q_orthonormal_across_condition_numbers() {
    // Around where CholeskyQR2 stops being safe (about 1e8): whichever method a tile
    // takes, Q is orthonormal and reproduces A to working precision.
    let (m, n) = (1000, 20);
    let mut methods = Vec::new();
    for digits in [6.0, 7.0, 7.5, 8.0, 8.5, 9.0] {
        let a = ill_conditioned(m, n, digits, 25);
        let qr = TileQr::new(&a, m, n);
        methods.push(qr.method());
        assert_is_qr_of(&qr, &a, m, n, 1e-12);
    }
    assert_eq!(methods[0], QrMethod::CholeskyQr2);
    assert_eq!(methods[5], QrMethod::Householder);
}

#[test]
fn gemm_into_uninitialised_memory_writes_every_element() {
    let (m, n, k) = (5, 4, 3);
    let (a, b) = (values(m * k, 26), values(k * n, 27));
    let mut c = Vec::with_capacity(m * n);
    gemm_uninit(
        Op::Plain,
        Op::Plain,
        m,
        n,
        k,
        1.0,
        &a,
        &b,
        &mut c.spare_capacity_mut()[..m * n],
    );
    unsafe { c.set_len(m * n) };
    assert_close(&c, &naive(&a, &b, m, n, k), 1e-14);
    // An empty inner dimension: zeros, not whatever the memory held.
    let mut c = vec![std::mem::MaybeUninit::new(f64::NAN); m * n];
    gemm_uninit(Op::Plain, Op::Plain, m, n, 0, 1.0, &[], &[], &mut c);
    assert!(c.iter().all(|x| unsafe { x.assume_init() } == 0.0));
}

#[test]
fn single_precision_tiles_take_householder() {
    let (m, n) = (300, 10);
    let a: Vec<f32> = values(m * n, 24).iter().map(|&x| x as f32).collect();
    let qr = TileQr::new(&a, m, n);
    assert_eq!(qr.method(), QrMethod::Householder);
    let back: Vec<f64> = qr.thin_q().iter().map(|&x| f64::from(x)).collect();
    let r: Vec<f64> = qr.r().iter().map(|&x| f64::from(x)).collect();
    let a: Vec<f64> = a.iter().map(|&x| f64::from(x)).collect();
    assert_close(&naive(&back, &r, m, n, n), &a, 1e-5);
}

#[test]
fn lu_with_partial_pivoting_reproduces_the_rows() {
    let (m, n) = (12, 5);
    let a = values(m * n, 12);
    let mut lu = a.clone();
    let p = lu_partial_pivoting(&mut lu, m, n).unwrap();
    let mut l = vec![0.0; m * n];
    let mut u = vec![0.0; n * n];
    for i in 0..m {
        for j in 0..n {
            match i.cmp(&j) {
                std::cmp::Ordering::Greater => l[i * n + j] = lu[i * n + j],
                std::cmp::Ordering::Equal => {
                    l[i * n + j] = 1.0;
                    u[i * n + j] = lu[i * n + j];
                }
                std::cmp::Ordering::Less => u[i * n + j] = lu[i * n + j],
            }
        }
    }
    // Partial pivoting keeps every multiplier at most 1 in magnitude.
    assert!(l.iter().all(|x| x.abs() <= 1.0));
    let permuted: Vec<f64> = p
        .iter()
        .flat_map(|&r| a[r * n..(r + 1) * n].to_vec())
        .collect();
    assert_close(&naive(&l, &u, m, n, n), &permuted, 1e-12);
}

#[test]
fn lu_reports_a_zero_pivot() {
    // The second column is twice the first.
    let mut a = vec![1.0, 2.0, 3.0, 6.0, -1.0, -2.0];
    assert_eq!(lu_partial_pivoting(&mut a, 3, 2), Err(1));
}

#[test]
fn svd_reproduces_the_matrix() {
    for (m, n) in [(30, 6), (6, 11)] {
        let a = values(m * n, 13);
        let f = thin_svd(&a, m, n).unwrap();
        let k = m.min(n);
        assert!(f.s.windows(2).all(|w| w[0] >= w[1]));
        let mut us = f.u.clone();
        for i in 0..m {
            for j in 0..k {
                us[i * k + j] *= f.s[j];
            }
        }
        assert_close(&naive(&us, &f.vt, m, n, k), &a, 1e-12);
    }
}

#[test]
fn transposes_of_every_edge_shape() {
    for (rows, cols) in [(1, 1), (3, 5), (8, 8), (9, 17), (16, 3), (33, 40)] {
        let src: Vec<f64> = (0..rows * cols).map(|x| x as f64).collect();
        let mut dst = vec![0.0; rows * cols];
        super::factor::transpose_into(&src, rows, cols, &mut dst);
        assert_eq!(dst, transpose(&src, rows, cols), "{rows} x {cols}");
    }
}

#[test]
fn the_first_non_finite_element_of_a_region_is_found_as_a_scan_finds_it() {
    let (rows, cols) = (7, 300);
    let in_region = |region: Region, r: usize, c: usize| match region {
        Region::All => true,
        Region::Lower => r >= c,
        Region::Upper => r <= c,
    };
    for origin in [[0, 0], [3, 0], [0, 5], [290, 0], [0, 400]] {
        for region in [Region::All, Region::Lower, Region::Upper] {
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                for at in [
                    0,
                    1,
                    cols + 2,
                    3 * cols + 4,
                    3 * cols + 299,
                    rows * cols - 1,
                ] {
                    let mut tile = values(rows * cols, 17);
                    tile[at] = bad;
                    tile[rows * cols - 1 - at / 2] = bad;
                    // The oracle: every element in turn, by its global position.
                    let expected =
                        (0..rows * cols)
                            .map(|p| (p / cols, p % cols))
                            .find(|&(i, j)| {
                                in_region(region, origin[0] + i, origin[1] + j)
                                    && !tile[i * cols + j].is_finite()
                            });
                    let found = first_non_finite(&tile, rows, cols, origin, region);
                    assert_eq!(found, expected, "{region:?} at {origin:?}, {bad} at {at}");
                }
            }
        }
        let clean = values(rows * cols, 18);
        assert_eq!(
            first_non_finite(&clean, rows, cols, origin, Region::All),
            None
        );
        assert!(all_finite(&clean));
    }
}

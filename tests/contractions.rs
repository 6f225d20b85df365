//! Contractions read views: transposed operands through GEMM's transpose flag (no
//! transposed copy in the plan), `x @ x.T` by its upper triangle of tiles (exactly
//! symmetric), and the products of a tall `x` (`x.T @ x`, `x.T @ y`, with `x.sum(0)`) in
//! one pass over its tiles, within a memory budget that holding `x` would exceed. Values
//! against ndarray's `dot` of the computed inputs.

#![allow(missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chunkwise::{Array, Chunks, Config, FloatElement, compute_many, compute_many_with, from_fn};
use chunkwise::{from_ndarray, linalg, random};
use ndarray::{Array2, ArrayD, Ix2, IxDyn};

fn matrix<T: FloatElement>(rows: usize, cols: usize, seed: usize) -> Array2<T> {
    Array2::from_shape_fn((rows, cols), |(i, j)| {
        T::from_f64((((i * 31 + j * 17 + seed * 7) % 23) as f64 - 11.0) / 7.0)
    })
}

fn as_matrix<T: FloatElement>(x: &Array<T>) -> Array2<T> {
    x.compute().unwrap().into_dimensionality::<Ix2>().unwrap()
}

/// The largest difference between `got` and `want`, relative to the largest of `want`.
fn relative_error<T: FloatElement>(got: &ArrayD<T>, want: &ArrayD<T>) -> f64 {
    assert_eq!(got.shape(), want.shape());
    let scale = want
        .iter()
        .fold(1.0f64, |m, w| m.max(w.to_f64().unwrap().abs()));
    got.iter().zip(want).fold(0.0f64, |m, (g, w)| {
        m.max((g.to_f64().unwrap() - w.to_f64().unwrap()).abs() / scale)
    })
}

/// Whether a plan holds a transposed copy: a node that only reads its input through a
/// permutation of its axes (its label shows the view, NumPy-style: `in0 = [:, :] axes
/// [1, 0]`).
fn has_transpose_copy(plan: &str) -> bool {
    plan.lines()
        .any(|l| l.contains("Elemwise in0 with in0 = ") && l.contains(" axes ["))
}

fn tolerance<T: FloatElement>() -> f64 {
    if T::MANTISSA_DIGITS < 30 { 1e-5 } else { 1e-13 }
}

fn transposed_operands_case<T: FloatElement>() {
    // a is k x m and b is n x k, stored on irregular and mismatched tiles.
    let (m, k, n) = (11, 13, 7);
    let a = from_ndarray(
        &matrix::<T>(k, m, 1),
        Chunks::Sizes(vec![vec![5, 1, 7], vec![4, 7]]),
    )
    .unwrap();
    let b = from_ndarray(
        &matrix::<T>(n, k, 2),
        Chunks::Sizes(vec![vec![3, 4], vec![6, 7]]),
    )
    .unwrap();
    let c = from_ndarray(&matrix::<T>(k, n, 3), [4, 3]).unwrap();
    let (da, db, dc) = (as_matrix(&a), as_matrix(&b), as_matrix(&c));
    let cases: [(Array<T>, Array2<T>); 4] = [
        (a.transpose().matmul(&c).unwrap(), da.t().dot(&dc)),
        (
            c.transpose().matmul(&b.transpose()).unwrap(),
            dc.t().dot(&db.t()),
        ),
        (
            a.transpose().matmul(&b.transpose()).unwrap(),
            da.t().dot(&db.t()),
        ),
        (b.matmul(&a.transpose().transpose()).unwrap(), db.dot(&da)),
    ];
    for (k, (product, want)) in cases.into_iter().enumerate() {
        let plan = product.explain().unwrap();
        assert!(!has_transpose_copy(&plan), "case {k}:\n{plan}");
        let got = product.compute().unwrap();
        let error = relative_error(&got, &want.into_dyn());
        assert!(error <= tolerance::<T>(), "case {k}: {error}");
    }
    // A stack of matrices with its last two axes swapped (einsum and matmul).
    let stack = from_ndarray(
        &ArrayD::from_shape_fn(IxDyn(&[2, k, m]), |i| {
            T::from_f64(((i[0] * 5 + i[1] * 3 + i[2]) % 11) as f64 - 5.0)
        }),
        Chunks::Sizes(vec![vec![1, 1], vec![6, 7], vec![5, 6]]),
    )
    .unwrap();
    let swapped = stack.swap_axes(1, 2).unwrap();
    let product = swapped.matmul(&c).unwrap();
    assert!(!has_transpose_copy(&product.explain().unwrap()));
    let got = product.compute().unwrap();
    let dense = stack.compute().unwrap();
    for e in 0..2 {
        let slab = dense
            .index_axis(ndarray::Axis(0), e)
            .into_dimensionality::<Ix2>()
            .unwrap();
        let want = slab.t().dot(&dc).into_dyn();
        let got_e = got.index_axis(ndarray::Axis(0), e).to_owned();
        assert!(relative_error(&got_e, &want) <= tolerance::<T>());
    }
    let by_letters = linalg::einsum("bkm,kn->bmn", &[&stack, &c]).unwrap();
    assert!(relative_error(&by_letters.compute().unwrap(), &got) <= tolerance::<T>());
}

#[test]
fn transposed_operands_on_either_side_match_ndarray_dot() {
    transposed_operands_case::<f64>();
    transposed_operands_case::<f32>();
}

fn symmetric_case<T: FloatElement>() {
    let tilings = [
        (9, 14, Chunks::Sizes(vec![vec![4, 5], vec![3, 11]])),
        (17, 5, Chunks::Sizes(vec![vec![2, 7, 1, 7], vec![5]])),
        (12, 12, Chunks::Shape(vec![5, 4])),
        (6, 30, Chunks::Shape(vec![6, 4])),
    ];
    for (rows, cols, chunks) in tilings {
        let x = from_ndarray(&matrix::<T>(rows, cols, 4), chunks).unwrap();
        let dense = as_matrix(&x);
        for (product, want) in [
            (x.matmul(&x.transpose()).unwrap(), dense.dot(&dense.t())),
            (x.transpose().matmul(&x).unwrap(), dense.t().dot(&dense)),
        ] {
            let plan = product.explain().unwrap();
            assert!(!has_transpose_copy(&plan), "{plan}");
            let got = product
                .compute()
                .unwrap()
                .into_dimensionality::<Ix2>()
                .unwrap();
            assert_eq!(got, got.t(), "{rows} x {cols}: exactly symmetric");
            let error = relative_error(&got.into_dyn(), &want.into_dyn());
            assert!(error <= tolerance::<T>(), "{rows} x {cols}: {error}");
        }
    }
}

#[test]
fn symmetric_products_are_exactly_symmetric_and_match_ndarray_dot() {
    symmetric_case::<f64>();
    symmetric_case::<f32>();
}

/// The task count of the node whose plan line contains `label`.
fn tasks_of(plan: &str, label: &str) -> String {
    let line = plan
        .lines()
        .find(|l| l.contains(label))
        .unwrap_or_else(|| panic!("no {label} in\n{plan}"));
    let at = line.find("tasks: ").expect("a task count");
    line[at..].split(',').next().unwrap().to_string()
}

#[test]
fn a_symmetric_product_computes_the_upper_triangle_of_tiles() {
    // 3 x 3 output tiles from one link each: 6 products (3 by syrk), 3 mirrored.
    let x = random::uniform::<f64>(1, 0.0, 1.0, &[30, 20], [10, 20]).unwrap();
    let plan = x.matmul(&x.transpose()).unwrap().sum().explain().unwrap();
    assert!(!has_transpose_copy(&plan), "{plan}");
    assert_eq!(tasks_of(&plan, "contract[1 of 1 k-tiles]"), "tasks: 6 tile");
    assert_eq!(tasks_of(&plan, "mirror upper tiles"), "tasks: 9 tile");
}

/// A tall source whose tile function counts its calls.
fn counting(rows: usize, cols: usize, tile: usize, seed: u64) -> (Array<f64>, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let x = from_fn(&[rows, cols], [tile, cols], move |_, ranges| {
        counter.fetch_add(1, Ordering::SeqCst);
        ArrayD::from_shape_fn(IxDyn(&[ranges[0].len(), ranges[1].len()]), |i| {
            let (r, c) = (
                (ranges[0].start + i[0]) as u64,
                (ranges[1].start + i[1]) as u64,
            );
            ((r * 7919 + c * 104_729 + seed * 31) % 1000) as f64 / 500.0 - 1.0
        })
    })
    .unwrap();
    (x, calls)
}

#[test]
fn gram_products_and_column_sums_read_each_tile_of_x_once() {
    let (rows, cols, tile) = (900, 6, 100);
    let (x, calls) = counting(rows, cols, tile, 1);
    let (y, _) = counting(rows, 1, tile, 2);
    let (dx, dy) = (as_matrix(&x), as_matrix(&y));
    calls.store(0, Ordering::SeqCst);
    let xt = x.transpose();
    let (gram, xty, sums) = (
        xt.matmul(&x).unwrap(),
        xt.matmul(&y).unwrap(),
        x.sum_axis(0),
    );
    let results = compute_many(&[&gram, &xty, &sums]).unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        rows / tile,
        "each tile of x read once"
    );
    assert!(relative_error(&results[0], &dx.t().dot(&dx).into_dyn()) <= 1e-13);
    assert!(relative_error(&results[1], &dx.t().dot(&dy).into_dyn()) <= 1e-13);
    let want = dx.sum_axis(ndarray::Axis(0)).into_dyn();
    assert!(relative_error(&results[2], &want) <= 1e-13);
    let g = results[0].view().into_dimensionality::<Ix2>().unwrap();
    assert_eq!(g, g.t(), "exactly symmetric");
}

#[test]
fn a_budget_below_the_transposed_tiles_runs_the_normal_equations() {
    // x: 32 tiles of 4,000 x 8 f64 (256 KB each, 8 MB in all); a budget of 2 MB holds a
    // few tiles, not x nor x.T.
    let (rows, cols, tile) = (128_000, 8, 4_000);
    let x = random::uniform::<f64>(5, -1.0, 1.0, &[rows, cols], [tile, cols]).unwrap();
    let y = random::uniform::<f64>(6, -1.0, 1.0, &[rows, 1], [tile, 1]).unwrap();
    let config = Config::default().memory_budget(2 << 20).threads(2);
    let xt = x.transpose();
    let (gram, xty) = (xt.matmul(&x).unwrap(), xt.matmul(&y).unwrap());
    let solution = linalg::solve(&gram, &xty).unwrap();
    let results = compute_many_with(&[&gram, &xty, &solution], &config).unwrap();
    let (dx, dy) = (as_matrix(&x), as_matrix(&y));
    let (want_gram, want_xty) = (dx.t().dot(&dx), dx.t().dot(&dy));
    assert!(relative_error(&results[0], &want_gram.clone().into_dyn()) <= 1e-12);
    assert!(relative_error(&results[1], &want_xty.clone().into_dyn()) <= 1e-12);
    // The solution solves the dense normal equations.
    let s = results[2].view().into_dimensionality::<Ix2>().unwrap();
    let residual = want_gram.dot(&s) - &want_xty;
    assert!(residual.iter().all(|r| r.abs() <= 1e-8), "{residual}");
    let plan = solution.explain_with(&config).unwrap();
    assert!(!has_transpose_copy(&plan), "{plan}");
    assert_eq!(
        tasks_of(&plan, "merged contract partials"),
        "tasks: 32 tile"
    );
    // One pass: each tile of x is generated once (reading it again per product would fit
    // the budget too, at twice the work).
    assert_eq!(tasks_of(&plan, "Source uniform[seed=5"), "tasks: 32 tile");
}

#[test]
fn the_plan_of_a_symmetric_product_reads_the_untransposed_tiles() {
    // 2 x 2 output tiles: 3 products (the upper triangle), the lower tile mirrored; both
    // operands are the tiles of x, read as stored.
    let x = random::uniform::<f64>(1, 0.0, 1.0, &[6, 4], [3, 4]).unwrap();
    let config = Config::default().memory_budget(1 << 30).threads(2);
    let plan = x
        .matmul(&x.transpose())
        .unwrap()
        .explain_with(&config)
        .unwrap();
    assert_eq!(
        plan,
        "plan: 9 tasks, 2 threads, projected peak 32.3 KiB of budget 1.0 GiB\n\
         #0 Blockwise mirror upper tiles  [shape [6, 6] float64 in 4 tile(s) of 3x3]  tasks: 4 tile, up to 72 B each\n\
         \x20 #1 Blockwise contract[1 of 1 k-tiles]  [shape [6, 6] float64 in 4 tile(s) of 3x3]  tasks: 3 tile, up to 72 B each\n\
         \x20   #2 Source uniform[seed=1, 0..1]  [shape [6, 4] float64 in 2 tile(s) of 3x4]  tasks: 2 tile, up to 16.1 KiB each\n\
         \x20   (#2 again)\n"
    );
}

/// Whether a plan copies an operand before a contraction: a node that only reads its input
/// through a view (`Elemwise in0 with in0 = [1:, 3:]`), or a rechunk.
fn has_operand_copy(plan: &str) -> bool {
    plan.lines()
        .any(|l| l.contains("Elemwise in0 with in0 = ") || l.contains("rechunk"))
}

/// `x` on irregular tiles: the sizes cycle through `sizes` along each axis.
fn tiled<T: FloatElement>(dense: &Array2<T>, rows: &[usize], cols: &[usize]) -> Array<T> {
    let cut = |len: usize, sizes: &[usize]| {
        let mut out = Vec::new();
        let mut left = len;
        for &s in sizes.iter().cycle() {
            if left == 0 {
                break;
            }
            out.push(s.min(left));
            left -= s.min(left);
        }
        out
    };
    let (r, c) = dense.dim();
    from_ndarray(dense, Chunks::Sizes(vec![cut(r, rows), cut(c, cols)])).unwrap()
}

fn sliced_operands_case<T: FloatElement>() {
    use ndarray::s;
    let (da, db) = (matrix::<T>(17, 13, 1), matrix::<T>(13, 11, 2));
    // Tile sizes (cycled) of a's rows and columns, then b's.
    let chunkings: [[&[usize]; 4]; 3] = [
        [&[5, 1, 7], &[4, 7], &[3, 6], &[5, 2]],
        [&[1], &[13], &[13], &[1, 2]],
        [&[6], &[6], &[6], &[6]],
    ];
    for [ar, ac, br, bc] in chunkings {
        let (a, b) = (tiled(&da, ar, ac), tiled(&db, br, bc));
        let at = a.transpose();
        let dat = da.t().to_owned();
        // (product, dense value, read in place)
        let cases: Vec<(Array<T>, Array2<T>, bool)> = vec![
            // A misaligned window of each operand, the contracted axis cut differently.
            (
                a.slice(s![1.., 3..])
                    .unwrap()
                    .matmul(&b.slice(s![3.., 2..]).unwrap())
                    .unwrap(),
                da.slice(s![1.., 3..]).dot(&db.slice(s![3.., 2..])),
                true,
            ),
            // A window inside one tile, and a 1-row window.
            (
                a.slice(s![2..5, 1..4])
                    .unwrap()
                    .matmul(&b.slice(s![5..8, ..]).unwrap())
                    .unwrap(),
                da.slice(s![2..5, 1..4]).dot(&db.slice(s![5..8, ..])),
                true,
            ),
            (
                a.slice(s![7..8, ..]).unwrap().matmul(&b).unwrap(),
                da.slice(s![7..8, ..]).dot(&db),
                true,
            ),
            // A slice of a transpose, and a transpose of a slice.
            (
                at.slice(s![2.., 1..14])
                    .unwrap()
                    .matmul(&a.slice(s![1..14, 3..]).unwrap())
                    .unwrap(),
                dat.slice(s![2.., 1..14]).dot(&da.slice(s![1..14, 3..])),
                true,
            ),
            (
                b.slice(s![..12, 1..])
                    .unwrap()
                    .transpose()
                    .matmul(&a.slice(s![3..15, ..]).unwrap().transpose().transpose())
                    .unwrap(),
                db.slice(s![..12, 1..]).t().dot(&da.slice(s![3..15, ..])),
                true,
            ),
            // A window on both sides of `x.T @ x`: symmetric, by syrk, exactly.
            (
                a.slice(s![2.., 1..12])
                    .unwrap()
                    .transpose()
                    .matmul(&a.slice(s![2.., 1..12]).unwrap())
                    .unwrap(),
                da.slice(s![2.., 1..12]).t().dot(&da.slice(s![2.., 1..12])),
                true,
            ),
            // Different windows of one node: not symmetric.
            (
                a.slice(s![1.., ..])
                    .unwrap()
                    .transpose()
                    .matmul(&a.slice(s![..16, ..]).unwrap())
                    .unwrap(),
                da.slice(s![1.., ..]).t().dot(&da.slice(s![..16, ..])),
                true,
            ),
            // Rows taken with a step: a longer leading dimension, read in place, on
            // either side, transposed or not, and on both sides of a symmetric product.
            (
                a.slice(s![..;2, ..]).unwrap().matmul(&b).unwrap(),
                da.slice(s![..;2, ..]).dot(&db),
                true,
            ),
            (
                a.slice(s![2..;3, 1..7])
                    .unwrap()
                    .matmul(&b.slice(s![1..;2, 3..]).unwrap())
                    .unwrap(),
                da.slice(s![2..;3, 1..7]).dot(&db.slice(s![1..;2, 3..])),
                true,
            ),
            (
                a.slice(s![1..;3, 2..])
                    .unwrap()
                    .transpose()
                    .matmul(&a.slice(s![..;3, 4..]).unwrap())
                    .unwrap(),
                da.slice(s![1..;3, 2..]).t().dot(&da.slice(s![..;3, 4..])),
                true,
            ),
            (
                a.slice(s![1..;2, ..])
                    .unwrap()
                    .transpose()
                    .matmul(&a.slice(s![1..;2, ..]).unwrap())
                    .unwrap(),
                da.slice(s![1..;2, ..]).t().dot(&da.slice(s![1..;2, ..])),
                true,
            ),
            // A step along the last axis (columns not contiguous) and reversed slices are
            // computed as nodes first (values only).
            (
                a.slice(s![.., ..;2])
                    .unwrap()
                    .matmul(&b.slice(s![..;-2, ..]).unwrap())
                    .unwrap(),
                da.slice(s![.., ..;2]).dot(&db.slice(s![..;-2, ..])),
                false,
            ),
            // Empty windows: an empty result, and an empty contracted axis (zeros).
            (
                a.slice(s![4..4, ..]).unwrap().matmul(&b).unwrap(),
                da.slice(s![4..4, ..]).dot(&db),
                false,
            ),
            (
                a.slice(s![.., 5..5])
                    .unwrap()
                    .matmul(&b.slice(s![5..5, ..]).unwrap())
                    .unwrap(),
                da.slice(s![.., 5..5]).dot(&db.slice(s![5..5, ..])),
                false,
            ),
        ];
        for (k, (product, want, in_place)) in cases.into_iter().enumerate() {
            let plan = product.explain().unwrap();
            if in_place {
                assert!(!has_operand_copy(&plan), "case {k} ({ar:?}):\n{plan}");
            }
            let got = product.compute().unwrap();
            let error = relative_error(&got, &want.into_dyn());
            assert!(error <= tolerance::<T>(), "case {k} ({ar:?}): {error}");
        }
    }
}

#[test]
fn sliced_operands_are_read_in_place_and_match_ndarray_dot() {
    sliced_operands_case::<f64>();
    sliced_operands_case::<f32>();
}

#[test]
fn a_windowed_symmetric_product_is_exactly_symmetric() {
    let dense = matrix::<f64>(20, 9, 4);
    let x = tiled(&dense, &[7, 3], &[4, 5]);
    let w = x.slice(ndarray::s![3..18, 1..]).unwrap();
    let product = w.transpose().matmul(&w).unwrap();
    let plan = product.explain().unwrap();
    assert!(plan.contains("mirror upper tiles"), "{plan}");
    let got = product.compute().unwrap();
    let g = got.view().into_dimensionality::<Ix2>().unwrap();
    assert_eq!(g, g.t(), "exactly symmetric");
    let part = dense.slice(ndarray::s![3..18, 1..]);
    assert!(relative_error(&got, &part.t().dot(&part).into_dyn()) <= 1e-13);
}

#[test]
fn windowed_stacks_and_tensordot_read_their_sources() {
    // A stack of matrices windowed on every axis, its matrix axes swapped, times a matrix;
    // and tensordot over two axes of a window (the refinement keeps parts of an inner
    // contracted axis: those blocks are copied in the task, not as a node).
    let stack = ArrayD::from_shape_fn(IxDyn(&[3, 9, 8]), |i| {
        ((i[0] * 5 + i[1] * 3 + i[2]) % 11) as f64 - 5.0
    });
    let x = from_ndarray(
        &stack,
        Chunks::Sizes(vec![vec![2, 1], vec![4, 5], vec![3, 5]]),
    )
    .unwrap();
    let c = from_ndarray(&matrix::<f64>(7, 4, 3), [3, 2]).unwrap();
    let window = x.slice(ndarray::s![1.., 1..8, 1..]).unwrap();
    let product = window.swap_axes(1, 2).unwrap().matmul(&c).unwrap();
    assert!(!has_operand_copy(&product.explain().unwrap()));
    let got = product.compute().unwrap();
    let dc = as_matrix(&c);
    for e in 0..2 {
        let slab = stack
            .slice(ndarray::s![1 + e, 1..8, 1..])
            .into_dimensionality::<Ix2>()
            .unwrap();
        let want = slab.t().dot(&dc).into_dyn();
        let got_e = got.index_axis(ndarray::Axis(0), e).to_owned();
        assert!(relative_error(&got_e, &want) <= 1e-13, "batch {e}");
    }
    // Steps along the batch axis and the stored rows (the matrix axes swapped): offsets
    // and a longer leading dimension, still in place.
    let stepped = x.slice(ndarray::s![..;2, 1..;3, 1..]).unwrap();
    let rows = from_ndarray(&matrix::<f64>(3, 4, 5), [2, 4]).unwrap();
    let product = stepped.swap_axes(1, 2).unwrap().matmul(&rows).unwrap();
    assert!(!has_operand_copy(&product.explain().unwrap()));
    let got = product.compute().unwrap();
    let drows = as_matrix(&rows);
    for (e, z) in [0, 2].into_iter().enumerate() {
        let slab = stack
            .slice(ndarray::s![z, 1..;3, 1..])
            .into_dimensionality::<Ix2>()
            .unwrap();
        let want = slab.t().dot(&drows).into_dyn();
        let got_e = got.index_axis(ndarray::Axis(0), e).to_owned();
        assert!(relative_error(&got_e, &want) <= 1e-13, "stepped batch {e}");
    }
    let y = from_ndarray(
        &ArrayD::from_shape_fn(IxDyn(&[7, 7, 2]), |i| {
            ((i[0] * 3 + i[1] * 2 + i[2]) % 7) as f64 - 3.0
        }),
        Chunks::Sizes(vec![vec![7], vec![2, 5], vec![1, 1]]),
    )
    .unwrap();
    let summed = linalg::tensordot(&window, &y, &[1, 2], &[0, 1]).unwrap();
    assert!(!has_operand_copy(&summed.explain().unwrap()));
    let dy = y.compute().unwrap();
    let got = summed.compute().unwrap();
    for e in 0..2 {
        for j in 0..2 {
            let mut want = 0.0;
            for p in 0..7 {
                for q in 0..7 {
                    want += stack[[1 + e, 1 + p, 1 + q]] * dy[[p, q, j]];
                }
            }
            assert!((got[[e, j]] - want).abs() <= 1e-12, "({e}, {j})");
        }
    }
    // The same over a window with a step along a contracted axis: its blocks are copied
    // in the task, the step taken there.
    let stepped = x.slice(ndarray::s![.., 1..;2, ..]).unwrap();
    let z = from_ndarray(
        &ArrayD::from_shape_fn(IxDyn(&[4, 8, 2]), |i| {
            ((i[0] * 5 + i[1] + i[2] * 3) % 9) as f64 - 4.0
        }),
        Chunks::Sizes(vec![vec![4], vec![2, 6], vec![2]]),
    )
    .unwrap();
    let summed = linalg::tensordot(&stepped, &z, &[1, 2], &[0, 1]).unwrap();
    assert!(!has_operand_copy(&summed.explain().unwrap()));
    let dz = z.compute().unwrap();
    let got = summed.compute().unwrap();
    for e in 0..3 {
        for j in 0..2 {
            let mut want = 0.0;
            for p in 0..4 {
                for q in 0..8 {
                    want += stack[[e, 1 + 2 * p, q]] * dz[[p, q, j]];
                }
            }
            assert!((got[[e, j]] - want).abs() <= 1e-12, "stepped ({e}, {j})");
        }
    }
}

#[test]
fn reductions_of_elementwise_work_share_the_pass_over_x() {
    let (rows, cols, tile) = (700, 5, 100);
    let (x, calls) = counting(rows, cols, tile, 3);
    let (y, _) = counting(rows, 1, tile, 4);
    let (dx, dy) = (as_matrix(&x), as_matrix(&y));
    calls.store(0, Ordering::SeqCst);
    let xt = x.transpose();
    let (gram, xty) = (xt.matmul(&x).unwrap(), xt.matmul(&y).unwrap());
    let doubled = (&x * 2.0).sum_axis(0);
    let squares = x.powi(2).mean_axis(0);
    let results = compute_many(&[&gram, &xty, &doubled, &squares]).unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        rows / tile,
        "each tile of x read once"
    );
    assert!(relative_error(&results[0], &dx.t().dot(&dx).into_dyn()) <= 1e-13);
    assert!(relative_error(&results[1], &dx.t().dot(&dy).into_dyn()) <= 1e-13);
    let want = (&dx * 2.0).sum_axis(ndarray::Axis(0)).into_dyn();
    assert!(relative_error(&results[2], &want) <= 1e-13);
    let want = dx
        .mapv(|v| v * v)
        .mean_axis(ndarray::Axis(0))
        .unwrap()
        .into_dyn();
    assert!(relative_error(&results[3], &want) <= 1e-13);
}

#[test]
fn dot_of_more_axes_pairs_every_stack_of_one_with_every_stack_of_the_other() {
    let a = ArrayD::from_shape_fn(IxDyn(&[2, 3, 4]), |i| (i[0] * 12 + i[1] * 4 + i[2]) as f64);
    let b = ArrayD::from_shape_fn(IxDyn(&[3, 4, 5]), |i| {
        ((i[0] + 2 * i[1] + 3 * i[2]) % 7) as f64
    });
    let v = ArrayD::from_shape_fn(IxDyn(&[4]), |i| i[0] as f64 - 1.5);
    let lazy = |x: &ArrayD<f64>, tile: usize| {
        let chunks: Vec<usize> = x.shape().iter().map(|&n| n.min(tile)).collect();
        from_ndarray(x, chunks).unwrap()
    };
    // NumPy: dot(a, b)[i, j, k, m] = sum over l of a[i, j, l] * b[k, l, m].
    let want = ArrayD::from_shape_fn(IxDyn(&[2, 3, 3, 5]), |o| {
        (0..4)
            .map(|l| a[[o[0], o[1], l]] * b[[o[2], l, o[3]]])
            .sum::<f64>()
    });
    let got = lazy(&a, 2).dot(&lazy(&b, 3)).unwrap().compute().unwrap();
    assert_eq!(got, want);
    // A vector meets the last axis of `a`, or the second-to-last of `b`.
    let want = ArrayD::from_shape_fn(IxDyn(&[2, 3]), |o| {
        (0..4).map(|l| a[[o[0], o[1], l]] * v[[l]]).sum::<f64>()
    });
    assert_eq!(
        lazy(&a, 2).dot(&lazy(&v, 3)).unwrap().compute().unwrap(),
        want
    );
    let want = ArrayD::from_shape_fn(IxDyn(&[3, 5]), |o| {
        (0..4).map(|l| v[[l]] * b[[o[0], l, o[1]]]).sum::<f64>()
    });
    assert_eq!(
        lazy(&v, 3).dot(&lazy(&b, 2)).unwrap().compute().unwrap(),
        want
    );
    // A 0-d operand scales.
    let two = from_ndarray(&ndarray::arr0(2.0).into_dyn(), Vec::<usize>::new()).unwrap();
    assert_eq!(two.dot(&lazy(&a, 2)).unwrap().compute().unwrap(), &a * 2.0);
}

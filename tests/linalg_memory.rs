//! The planner sees what the factorizations' tasks hold: each stage declares its output
//! (tuples of factors, pivots) and its kernel's scratch, so a budget below what a
//! factorization needs is refused before anything runs, and a sufficient one gives the same
//! results as before.
#![allow(missing_docs)]

mod common;

use chunkwise::{Config, Error, PlanError, from_ndarray};
use chunkwise_kernels::linalg::{TileQr, cholesky_lower_scratch, lu_partial_pivoting_scratch};
use ndarray::{Array2, Ix2};

fn dense(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
    common::dense_f64(&[rows, cols], seed)
        .into_dimensionality::<Ix2>()
        .unwrap()
}

/// The bytes of "up to X each" on the line of the plan that names `stage` (to the 0.1 of a
/// unit that the plan prints).
fn largest_task(plan: &str, stage: &str) -> f64 {
    let line = plan
        .lines()
        .find(|line| line.contains(stage))
        .unwrap_or_else(|| panic!("no {stage} in\n{plan}"));
    let after = line.split("up to ").nth(1).expect("a task size");
    let mut words = after.split_whitespace();
    let value: f64 = words.next().unwrap().parse().unwrap();
    let unit = match words.next().unwrap() {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        other => panic!("unit {other}"),
    };
    value * unit
}

#[test]
fn a_budget_below_the_tsqr_factors_is_refused_at_plan_time() {
    // 16 leaves of 250 x 20: Q needs every leaf's factors at once (the tree above them
    // runs before any leaf's rows of Q are formed).
    let (m, n, rows) = (4000, 20, 250);
    let a = dense(m, n, 1);
    let (q, _) = chunkwise::linalg::qr(&from_ndarray(&a, [rows, n]).unwrap()).unwrap();
    let leaf = TileQr::<f64>::nbytes_bound(rows, n) + n * n * 8;
    let factors = (m / rows * leaf) as u64;
    // More than one tile per leaf: the factors and `R` (CholeskyQR2 keeps Q1, L2 and R).
    assert!(leaf > rows * n * 8);

    let config = Config::default().threads(1);
    let needed = match q.compute_with(&config.clone().memory_budget(factors - 1)) {
        Err(Error::Plan(PlanError::PeakOverBudget { needed, budget, .. })) => {
            assert_eq!(budget, factors - 1);
            needed
        }
        other => panic!("expected PeakOverBudget, got {other:?}"),
    };
    assert!(needed >= factors, "needed {needed} < factors {factors}");

    // With the budget the plan asked for, the same Q as without a budget, and Q R = A.
    let enough = config.memory_budget(needed);
    let (found, report) = q.compute_report(&enough).unwrap();
    assert!(
        report.peak_bytes <= needed,
        "{} > {needed}",
        report.peak_bytes
    );
    assert!(
        report.peak_bytes >= factors,
        "{} < {factors}",
        report.peak_bytes
    );
    let unbounded = q.compute().unwrap();
    assert_eq!(found, unbounded);
    let q2 = found.into_dimensionality::<Ix2>().unwrap();
    let r = q2.t().dot(&a);
    let error = (&q2.dot(&r) - &a)
        .iter()
        .fold(0.0f64, |e, x| e.max(x.abs()));
    assert!(error < 1e-10, "Q Qᵀ A differs from A by {error:e}");
}

#[test]
fn factorization_tasks_declare_their_kernels_scratch() {
    // Cholesky: each diagonal tile's task holds its factor and faer's copy and workspace.
    let (n, tile) = (300, 100);
    let g = dense(n, n, 2);
    let spd = g.dot(&g.t()) + Array2::<f64>::eye(n) * n as f64;
    let l = chunkwise::linalg::cholesky(&from_ndarray(&spd, [tile, tile]).unwrap()).unwrap();
    let plan = l.explain().unwrap();
    let potrf = (tile * tile * 8 + cholesky_lower_scratch::<f64>(tile)) as f64;
    assert!(
        largest_task(&plan, "cholesky potrf") >= 0.99 * potrf,
        "{plan}"
    );
    let found = l.compute().unwrap().into_dimensionality::<Ix2>().unwrap();
    let error = (&found.dot(&found.t()) - &spd)
        .iter()
        .fold(0.0f64, |e, x| e.max(x.abs()));
    assert!(error < 1e-9, "L Lᵀ differs from A by {error:e}");

    // LU: the first panel's task holds the factored panel, its row order and the workspace.
    let a = dense(n, n, 3);
    let (p, lower, upper) =
        chunkwise::linalg::lu(&from_ndarray(&a, [tile, tile]).unwrap()).unwrap();
    let plan = upper.explain().unwrap();
    let panel = (n * tile * 8 + n * 8 + lu_partial_pivoting_scratch::<f64>(n, tile)) as f64;
    assert!(
        largest_task(&plan, "lu panel getrf") >= 0.99 * panel,
        "{plan}"
    );
    let back = p
        .matmul(&lower)
        .unwrap()
        .matmul(&upper)
        .unwrap()
        .compute()
        .unwrap()
        .into_dimensionality::<Ix2>()
        .unwrap();
    let error = (&back - &a).iter().fold(0.0f64, |e, x| e.max(x.abs()));
    assert!(error < 1e-9, "P L U differs from A by {error:e}");
}

/// A contraction link that reads one tile for each of several inner blocks (the inner
/// tiles of the operands differ) holds that tile once: the planner counts it once, as the
/// executor holds it, and accepts a budget that fits the tile, not a multiple of it.
#[test]
fn a_tile_read_for_several_inner_blocks_counts_once() {
    // One 32 MiB tile of x, read by each link for its 64-row inner blocks of y.
    let x = chunkwise::random::uniform::<f64>(1, -1.0, 1.0, &[1024, 4096], [1024, 4096]).unwrap();
    let y = chunkwise::random::uniform::<f64>(2, -1.0, 1.0, &[4096, 1024], [64, 512]).unwrap();
    let product = x.matmul(&y).unwrap();
    let budget = Config::default().memory_budget(128 << 20);
    let plan = product.explain_with(&budget);
    assert!(plan.is_ok(), "{:?}", plan.err());
    // Below the tile itself it is refused, before anything runs.
    let refused = product.explain_with(&Config::default().memory_budget(32 << 20));
    assert!(
        matches!(refused, Err(Error::Plan(PlanError::TaskOverBudget { .. }))),
        "{refused:?}"
    );
}

/// A budget too small for the links a contraction's chains were built with (256 MiB of
/// operand tiles each) rebuilds them shorter: the product is computed within the budget,
/// equal to the dense one, where a link of all 32 inner tiles pairs (32 MiB) was refused.
#[test]
fn a_small_budget_shortens_the_links_of_a_contraction() {
    let (m, k, tile) = (256, 8192, 256);
    let x = chunkwise::random::uniform::<f64>(3, -1.0, 1.0, &[m, k], [tile, tile]).unwrap();
    let y = chunkwise::random::uniform::<f64>(4, -1.0, 1.0, &[k, m], [tile, tile]).unwrap();
    let product = x.matmul(&y).unwrap();

    let ample = Config::default().threads(2).memory_budget(1 << 30);
    let unbounded = product.explain_with(&ample).unwrap();
    assert!(
        unbounded.contains("contract[32 of 32 k-tiles]"),
        "{unbounded}"
    );
    // Two workers with 16 MiB: links of at most 4 MiB of operand tiles, 4 pairs of 1 MiB.
    let budget = 16 << 20;
    let config = Config::default().threads(2).memory_budget(budget);
    let plan = product.explain_with(&config).unwrap();
    let links: Vec<usize> = plan
        .split("contract[")
        .skip(1)
        .map(|rest| rest.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(!links.is_empty() && links.iter().all(|&n| n == 4), "{plan}");

    let (found, report) = product.compute_report(&config).unwrap();
    assert!(
        report.peak_bytes <= budget,
        "{} > {budget}",
        report.peak_bytes
    );
    let (x, y) = (x.compute().unwrap(), y.compute().unwrap());
    let x = x.into_dimensionality::<Ix2>().unwrap();
    let y = y.into_dimensionality::<Ix2>().unwrap();
    let expected = x.dot(&y);
    let found = found.into_dimensionality::<Ix2>().unwrap();
    let error = (&found - &expected)
        .iter()
        .fold(0.0f64, |e, d| e.max(d.abs()));
    assert!(error < 1e-10, "differs from the dense product by {error:e}");
}

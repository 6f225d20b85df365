//! Property test of the memory budget (issue 12, item 13): random graphs (chains of
//! elementwise steps, rechunks between random grids, slices, transposes, a second source on
//! its own grid, sums and maxima over random axes, several outputs computed together) under
//! random budgets and one to three threads. A plan the planner refuses is refused with a
//! `PlanError` before any tile is read, and the budget the error names is raised to until
//! the plan is accepted; every accepted plan must finish with the dense result and a
//! measured peak within its budget.

#![allow(missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chunkwise::{Array, Chunks, Config, Error, PlanError, Reduction};
use ndarray::{ArrayD, Axis, IxDyn, s};
use proptest::prelude::*;

/// One step of a chain, with its random parameters (chunk sizes and slice bounds are read
/// off the raw numbers against the shape the chain has reached).
#[derive(Clone, Debug)]
enum Step {
    /// `x * mul + add`.
    Affine {
        mul: i8,
        add: i8,
    },
    /// `x + y`, `y` a second source of the same shape on its own grid.
    AddOther {
        seeds: Vec<usize>,
    },
    /// Rechunk to random irregular chunks.
    Rechunk {
        seeds: Vec<usize>,
    },
    /// A non-empty slice, bounds in hundredths of each axis.
    Slice {
        rows: (u8, u8),
        cols: (u8, u8),
    },
    Transpose,
}

/// How a chain ends.
#[derive(Clone, Debug)]
enum End {
    Keep,
    /// Sum over axis 0, axis 1, or both (`None`).
    Sum(Option<usize>, usize),
    Max(Option<usize>, usize),
}

#[derive(Clone, Debug)]
struct Case {
    shape: (usize, usize),
    seeds: Vec<usize>,
    chains: Vec<(Vec<Step>, End)>,
    threads: usize,
    fuse: bool,
    strip_len: usize,
    budget: u64,
}

/// Chunk lengths for an axis of `len`, read off `seeds` (cycled): each at most 8.
fn chunk_sizes(len: usize, seeds: &[usize]) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut left = len;
    let mut k = 0;
    while left > 0 {
        let size = (1 + seeds[k % seeds.len()] % 8).min(left);
        sizes.push(size);
        left -= size;
        k += 1;
    }
    sizes
}

/// A grid for a 2-d `shape`: rows read off `seeds`, columns off them reversed.
fn grid(shape: &[usize], seeds: &[usize]) -> Chunks {
    let reversed: Vec<usize> = seeds.iter().rev().copied().collect();
    Chunks::Sizes(vec![
        chunk_sizes(shape[0], seeds),
        chunk_sizes(shape[1], &reversed),
    ])
}

/// The values of source number `k` (integers, so every sum is exact in any order).
fn value(k: usize, i: usize, j: usize) -> f64 {
    ((i * 7 + j * 13 + k * 5) % 17) as f64 - 8.0
}

/// Source `k` of `shape` on the grid `seeds` give, counting every tile it reads.
fn source(k: usize, shape: &[usize], seeds: &[usize], reads: &Arc<AtomicUsize>) -> Array<f64> {
    let reads = reads.clone();
    chunkwise::from_fn::<f64, _>(shape, grid(shape, seeds), move |_, ranges| {
        reads.fetch_add(1, Ordering::SeqCst);
        ArrayD::from_shape_fn(IxDyn(&[ranges[0].len(), ranges[1].len()]), |ix| {
            value(k, ranges[0].start + ix[0], ranges[1].start + ix[1])
        })
    })
    .unwrap()
}

fn dense_source(k: usize, shape: &[usize]) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(shape), |ix| value(k, ix[0], ix[1]))
}

/// `(start, end)` in hundredths of `len` as a non-empty range.
fn bounds(len: usize, (a, b): (u8, u8)) -> (usize, usize) {
    let start = (usize::from(a) * len / 101).min(len - 1);
    let end = (start + 1 + usize::from(b) * (len - start) / 101).min(len);
    (start, end)
}

/// Builds every chain lazily and densely; returns the lazy outputs and the dense oracle.
fn build(case: &Case, reads: &Arc<AtomicUsize>) -> (Vec<Array<f64>>, Vec<ArrayD<f64>>) {
    let base_shape = [case.shape.0, case.shape.1];
    let x = source(0, &base_shape, &case.seeds, reads);
    let x_dense = dense_source(0, &base_shape);
    let mut lazy = Vec::new();
    let mut dense = Vec::new();
    for (c, (steps, end)) in case.chains.iter().enumerate() {
        let (mut a, mut d) = (x.clone(), x_dense.clone());
        for (n, step) in steps.iter().enumerate() {
            match step {
                Step::Affine { mul, add } => {
                    let (m, p) = (f64::from(*mul), f64::from(*add));
                    a = &a * m + p;
                    d = d.mapv(|v| v * m + p);
                }
                Step::AddOther { seeds } => {
                    let k = 1 + c * 10 + n;
                    a = &a + &source(k, d.shape(), seeds, reads);
                    d = &d + &dense_source(k, d.shape());
                }
                Step::Rechunk { seeds } => {
                    a = a.rechunk(grid(d.shape(), seeds)).unwrap();
                }
                Step::Slice { rows, cols } => {
                    let (r0, r1) = bounds(d.shape()[0], *rows);
                    let (c0, c1) = bounds(d.shape()[1], *cols);
                    a = a.slice(s![r0..r1, c0..c1]).unwrap();
                    d = d.slice(s![r0..r1, c0..c1]).to_owned().into_dyn();
                }
                Step::Transpose => {
                    a = a.transpose();
                    d = d.t().to_owned();
                }
            }
        }
        let how = |axis: &Option<usize>, split: &usize| {
            let how = match axis {
                Some(axis) => Reduction::axis(*axis as isize),
                None => Reduction::all(),
            };
            how.split_every(*split)
        };
        let max = |d: &ArrayD<f64>, axis: Option<usize>| match axis {
            Some(axis) => d.fold_axis(Axis(axis), f64::NEG_INFINITY, |m, &v| m.max(v)),
            None => ArrayD::from_elem(IxDyn(&[]), d.fold(f64::NEG_INFINITY, |m, &v| m.max(v))),
        };
        let (a, d) = match end {
            End::Keep => (a, d),
            End::Sum(axis, split) => (
                a.sum_with(&how(axis, split)),
                match axis {
                    Some(axis) => d.sum_axis(Axis(*axis)),
                    None => ArrayD::from_elem(IxDyn(&[]), d.sum()),
                },
            ),
            End::Max(axis, split) => (a.max_with(&how(axis, split)), max(&d, *axis)),
        };
        lazy.push(a);
        dense.push(d);
    }
    (lazy, dense)
}

fn seeds() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(0usize..64, 1..6)
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (-3i8..=3, -5i8..=5).prop_map(|(mul, add)| Step::Affine { mul, add }),
        seeds().prop_map(|seeds| Step::AddOther { seeds }),
        seeds().prop_map(|seeds| Step::Rechunk { seeds }),
        seeds().prop_map(|seeds| Step::Rechunk { seeds }),
        (any::<(u8, u8)>(), any::<(u8, u8)>()).prop_map(|(rows, cols)| Step::Slice { rows, cols }),
        Just(Step::Transpose),
    ]
}

fn end() -> impl Strategy<Value = End> {
    let axis = prop_oneof![Just(None), Just(Some(0)), Just(Some(1))];
    prop_oneof![
        Just(End::Keep),
        (axis.clone(), 2usize..5).prop_map(|(a, s)| End::Sum(a, s)),
        (axis, 2usize..5).prop_map(|(a, s)| End::Max(a, s)),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        (1usize..=20, 1usize..=20),
        seeds(),
        proptest::collection::vec((proptest::collection::vec(step(), 0..5), end()), 1..=3),
        1usize..=3,
        any::<bool>(),
        prop_oneof![Just(1usize), Just(4), Just(16), Just(64)],
        // Log-uniform from 16 bytes (below any tile) to 16 KiB (room for most graphs).
        (4u32..14).prop_flat_map(|e| (1u64 << e)..(2u64 << e)),
    )
        .prop_map(
            |(shape, seeds, chains, threads, fuse, strip_len, budget)| Case {
                shape,
                seeds,
                chains,
                threads,
                fuse,
                strip_len,
                budget,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn accepted_plans_finish_within_their_budget(case in case()) {
        let reads = Arc::new(AtomicUsize::new(0));
        let (lazy, dense) = build(&case, &reads);
        let outputs: Vec<&Array<f64>> = lazy.iter().collect();
        let mut budget = case.budget;
        for _ in 0..10 {
            let config = Config::default()
                .threads(case.threads)
                .fuse(case.fuse)
                .strip_len(case.strip_len)
                .memory_budget(budget);
            match chunkwise::compute_many_report(&outputs, &config) {
                Ok((values, report)) => {
                    prop_assert_eq!(&values, &dense);
                    prop_assert_eq!(report.budget, budget);
                    prop_assert!(
                        report.peak_bytes <= budget,
                        "peak {} over the budget {}",
                        report.peak_bytes,
                        budget
                    );
                    return Ok(());
                }
                Err(Error::Plan(
                    PlanError::TaskOverBudget { needed, budget: b, .. }
                    | PlanError::PeakOverBudget { needed, budget: b, .. },
                )) => {
                    prop_assert_eq!(b, budget);
                    prop_assert!(needed > budget, "needs {} within the budget {}", needed, budget);
                    prop_assert_eq!(reads.load(Ordering::SeqCst), 0, "tiles read before refusing");
                    budget = needed;
                }
                Err(e) => prop_assert!(false, "at budget {}: {}", budget, e),
            }
        }
        prop_assert!(false, "still refused at budget {}", budget);
    }
}

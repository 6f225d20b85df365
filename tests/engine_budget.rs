//! The memory budget: tasks or plan orders over it are refused before anything runs, a
//! budget just large enough runs within it (with one worker or two), and large fused
//! reductions and elementwise results stream through a small one.

#![allow(missing_docs)]

mod common;

use std::sync::atomic::Ordering;

use chunkwise::{Array, Config, Error, ExecError, PlanError, random};
use common::*;
use ndarray::{ArrayD, IxDyn};

#[test]
fn a_task_over_the_budget_is_refused_before_anything_runs() {
    let (x, calls, _) = counting_source(&[1000, 1000], &[500, 500]);
    let budget = 1 << 20; // a tile is 2 MB
    let cfg = Config::default().memory_budget(budget);
    for result in [
        x.compute_with(&cfg).map(|_| ()),
        x.sum().compute_with(&cfg).map(|_| ()),
        (&x * 2.0).compute_with(&cfg).map(|_| ()),
    ] {
        match result {
            Err(Error::Plan(PlanError::TaskOverBudget {
                needed,
                budget: b,
                task,
            })) => {
                assert_eq!(b, budget);
                assert!(needed > budget, "{needed}");
                assert!(task.contains("block"), "{task}");
            }
            other => panic!("expected TaskOverBudget, got {other:?}"),
        }
    }
    assert!(matches!(
        x.task_count(&cfg),
        Err(Error::Plan(PlanError::TaskOverBudget { .. }))
    ));
    assert!(matches!(
        x.persist_with(&cfg),
        Err(Error::Plan(PlanError::TaskOverBudget { .. }))
    ));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

/// The smallest budget at which `run` succeeds, found by raising the budget by what each
/// error says is missing; returns it with the peak the run reported.
fn minimal_budget(run: &dyn Fn(u64) -> Result<chunkwise::Report, Error>) -> (u64, u64) {
    let mut budget = 1u64;
    for _ in 0..50 {
        match run(budget) {
            Ok(report) => return (budget, report.peak_bytes),
            Err(Error::Plan(
                PlanError::TaskOverBudget { needed, .. } | PlanError::PeakOverBudget { needed, .. },
            )) => budget = needed,
            Err(Error::Exec(ExecError::BudgetExhausted { held, needed, .. })) => {
                budget = held + needed
            }
            Err(e) => panic!("unexpected error at budget {budget}: {e}"),
        }
    }
    panic!("no budget found");
}

#[test]
fn a_budget_just_large_enough_succeeds_within_it() {
    let (x, _, dense) = counting_source(&[400, 400], &[100, 100]);
    let tile = 100 * 100 * 8;
    let one = Config::default().threads(1);
    let arrays: Vec<(&str, Array<f64>, ArrayD<f64>)> = vec![
        ("source", x.clone(), dense.clone()),
        ("x * 2", &x * 2.0, dense.mapv(|v| v * 2.0)),
        ("sin(x) + x", x.sin() + &x, dense.mapv(|v| v.sin() + v)),
        ("transpose", x.transpose(), dense.t().to_owned()),
        (
            "sum",
            (&x * 2.0).sum(),
            ArrayD::from_elem(IxDyn(&[]), dense.sum() * 2.0),
        ),
        (
            "sum axis 0",
            x.sum_axis(0),
            dense.sum_axis(ndarray::Axis(0)),
        ),
    ];
    for (name, y, want) in arrays {
        let (budget, peak) =
            minimal_budget(&|b| y.compute_report(&one.clone().memory_budget(b)).map(|r| r.1));
        assert!(peak <= budget, "{name}: peak {peak} over budget {budget}");
        // no more than a few tiles: the work is streamed
        assert!(budget <= 4 * tile as u64, "{name}: needs {budget}");
        let (got, report) = y
            .compute_report(&one.clone().memory_budget(budget))
            .unwrap();
        assert!(report.peak_bytes <= budget);
        assert_eq!(report.budget, budget);
        assert_close(&got, &want, 1e-12);
    }
}

/// The serial order fits in the budget, but with two workers the executor starts a second
/// source tile while the first one's consumer has not run, and then nothing can start.
#[test]
fn a_budget_that_fits_one_worker_also_fits_two() {
    let (x, _, dense) = counting_source(&[400, 400], &[100, 100]);
    let y = &x * 2.0;
    let (budget, _) = minimal_budget(&|b| {
        y.compute_report(&Config::default().threads(1).memory_budget(b))
            .map(|r| r.1)
    });
    let two = Config::default().threads(2).memory_budget(budget);
    let (got, report) = y.compute_report(&two).unwrap();
    assert!(report.peak_bytes <= budget);
    assert_eq!(got, dense.mapv(|v| v * 2.0));
}

/// Every task fits, but the plan order must hold every tile of `y` (read by the sum and the
/// mean first, by the anomaly `y - y.mean()` once the mean is known) at once: planning refuses that before anything runs, naming the task
/// at the peak and the budget the plan needs, and that budget runs it.
#[test]
fn a_plan_whose_order_does_not_fit_is_refused_before_anything_runs() {
    let (x, calls, dense) = counting_source(&[64, 64], &[16, 16]);
    let y = x.rechunk([8, 32]).unwrap(); // not a source: its tiles cannot be read again
    let (total, anomaly) = (y.sum(), &y - &y.mean());
    let tile: u64 = 8 * 32 * 8;
    let config = |budget: u64| {
        Config::default()
            .threads(2)
            .strip_len(64) // scratch well below a tile
            .memory_budget(budget)
    };
    let needed = match chunkwise::compute_many_report(&[&total, &anomaly], &config(8 * tile)) {
        Err(Error::Plan(PlanError::PeakOverBudget {
            task,
            held,
            needed,
            budget,
        })) => {
            assert_eq!(budget, 8 * tile);
            assert!(needed > budget && held < needed, "{held} {needed}");
            assert!(task.contains("block"), "{task}");
            needed
        }
        other => panic!("expected PeakOverBudget, got {other:?}"),
    };
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // y is 32 KiB: the order holds nearly all of it.
    assert!(needed >= 12 * tile, "{needed}");
    let (values, report) =
        chunkwise::compute_many_report(&[&total, &anomaly], &config(needed)).unwrap();
    assert!(
        report.peak_bytes <= needed,
        "{} > {needed}",
        report.peak_bytes
    );
    assert_close(
        &values[0],
        &ArrayD::from_elem(IxDyn(&[]), dense.sum()),
        1e-12,
    );
    let mean = dense.mean().unwrap();
    assert_close(&values[1], &dense.mapv(|v| v - mean), 1e-12);
}

#[test]
fn a_large_fused_reduction_runs_in_a_small_budget() {
    let x = random::uniform::<f64>(1, 0.0, 1.0, &[2000, 2000], [100, 100]).unwrap();
    let y = (&x * 2.0).sum();
    let budget = 4 << 20;
    let (got, report) = y
        .compute_report(&Config::default().memory_budget(budget))
        .unwrap();
    assert!(report.peak_bytes <= budget, "{}", report.peak_bytes);
    let value = got.scalar();
    assert!((value / 4e6 - 1.0).abs() < 0.01, "{value}");
    // the same value without a budget (the tree does not depend on it)
    let free = y.compute().unwrap().scalar();
    assert_eq!(value.to_bits(), free.to_bits());
    // the peak does not grow with the array when the tiles stay the same
    let peak = |n: usize| {
        let x = random::uniform::<f64>(1, 0.0, 1.0, &[n, n], [100, 100]).unwrap();
        (&x * 2.0)
            .sum()
            .compute_report(&Config::default().memory_budget(budget))
            .unwrap()
            .1
            .peak_bytes
    };
    let (small, large) = (peak(1000), peak(4000));
    assert!(
        large as f64 <= 1.5 * small as f64,
        "peak {small} for 1000^2, {large} for 4000^2"
    );
}

#[test]
fn elementwise_results_are_streamed_to_the_output() {
    // a materialised result is held by the caller, not the budget: only tiles in flight count
    let x = random::normal::<f64>(1, 0.0, 1.0, &[1000, 1000], [100, 100]).unwrap();
    let y = (&x + 1.0).abs();
    let budget = 1 << 20;
    let (got, report) = y
        .compute_report(&Config::default().memory_budget(budget))
        .unwrap();
    assert!(report.peak_bytes <= budget, "{}", report.peak_bytes);
    assert_eq!(got.shape(), &[1000, 1000]);
}

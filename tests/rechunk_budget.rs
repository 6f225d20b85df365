//! Rechunking rows into columns with a memory budget much smaller than the array, in memory
//! (through the grids' common refinement) and through a temporary Zarr store.
#![allow(missing_docs)]

use chunkwise::Config;

#[test]
fn rows_to_columns_within_a_small_budget() {
    let n = 800;
    let budget: u64 = 1 << 20; // the array is 5 MiB
    let config = Config::default().memory_budget(budget).threads(2);
    let x = chunkwise::random::uniform::<f64>(4, 0.0, 1.0, &[n, n], [n, 20]).unwrap();
    let dense = x.compute().unwrap();

    let in_memory = x.rechunk([20, n]).unwrap();
    assert_eq!(in_memory.chunks().chunks()[0], vec![20; n / 20]);
    let (values, report) = in_memory.compute_report(&config).unwrap();
    assert_eq!(values, dense);
    assert!(
        report.peak_bytes <= budget,
        "{} > {budget}",
        report.peak_bytes
    );

    let dir = std::env::temp_dir().join(format!("chunkwise-rechunk-budget-{}", std::process::id()));
    let via_store = x.rechunk_via_store([20, n], &dir).unwrap();
    let (values, report) = via_store.compute_report(&config).unwrap();
    assert_eq!(values, dense);
    assert!(
        report.peak_bytes <= budget,
        "{} > {budget}",
        report.peak_bytes
    );
    drop(via_store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 12, item 13: rows of 512 x 512 tiles regridded into 8192 x 32 columns, then summed
/// down the columns. Serially this fits in 40 MiB; with two workers the executor used to start
/// source tiles ahead of the plan order until the tiles held left no room for the columns
/// that would free them, and failed with `BudgetExhausted` mid-run. Accepted must mean done.
#[test]
fn a_plan_accepted_for_its_budget_finishes_on_two_threads() {
    let n = 8192;
    let value = |i: usize, j: usize| ((i * 31 + j * 17) % 1000) as f64;
    let x = chunkwise::from_fn::<f64, _>(&[n, n], [512, 512], move |_, ranges| {
        ndarray::ArrayD::from_shape_fn(ndarray::IxDyn(&[ranges[0].len(), ranges[1].len()]), |ix| {
            value(ranges[0].start + ix[0], ranges[1].start + ix[1])
        })
    })
    .unwrap();
    let sums = x.rechunk([n, 32]).unwrap().sum_axis(0);
    // Integers well below 2^53: every order of summation gives the exact column sums.
    let want: Vec<f64> = (0..n).map(|j| (0..n).map(|i| value(i, j)).sum()).collect();
    let budget: u64 = 40 << 20;
    for threads in [1, 2] {
        let config = Config::default().threads(threads).memory_budget(budget);
        let (got, report) = sums.compute_report(&config).unwrap();
        assert_eq!(
            got.as_slice().unwrap(),
            want.as_slice(),
            "{threads} threads"
        );
        assert!(
            report.peak_bytes <= budget,
            "{threads} threads: peak {} > {budget}",
            report.peak_bytes
        );
    }
}

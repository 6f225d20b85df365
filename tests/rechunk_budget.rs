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

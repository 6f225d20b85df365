//! A Zarr-to-Zarr pipeline on an array four times the memory budget: the result matches a
//! dense computation on a slice, and the process's peak resident memory stays under the
//! budget plus a small constant. Alone in its test binary, so the measured memory is its own.
#![allow(missing_docs)]

use chunkwise::Config;
use chunkwise::io::zarr::{self, WriteOptions};
use ndarray::{Axis, s};

fn rss_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

#[test]
fn standardising_an_array_four_times_the_budget_stays_within_it() {
    let budget: u64 = 64 << 20;
    let (nt, ny, nx) = (1280, 256, 256); // 320 MiB of f32: 5x the budget
    let chunks = [80, 64, 64];
    let dir = std::env::temp_dir().join(format!("chunkwise-out-of-core-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = Config::default().memory_budget(budget).threads(2);
    let bytes = (nt * ny * nx * 4) as u64;
    assert!(
        bytes >= 4 * budget,
        "the array ({bytes} bytes) must be at least 4x the budget"
    );

    // The input, written tile by tile from a generator.
    let x = chunkwise::random::normal::<f32>(3, 10.0, 2.0, &[nt, ny, nx], chunks).unwrap();
    let x = &x + &chunkwise::arange::<f32>(0.0, nx as f32, 1.0, [64]).unwrap();
    x.to_zarr(&dir, "x", &WriteOptions::default().config(config.clone()))
        .unwrap();

    // The pipeline, Zarr to Zarr, measured from here.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = rss_mib("VmRSS:");
    let x = zarr::open(&dir, "x").unwrap().into_typed::<f32>().unwrap();
    let standardised = (&x - &x.mean_axis(0)) / x.std_axis(0, 0.0);
    let report = standardised
        .to_zarr(&dir, "z", &WriteOptions::default().config(config.clone()))
        .unwrap();
    let peak = rss_mib("VmHWM:");
    let grown = peak - before;
    println!(
        "peak RSS {peak:.0} MiB ({grown:.0} MiB above the {before:.0} MiB before), tracked peak {} MiB, budget {} MiB",
        report.peak_bytes >> 20,
        budget >> 20
    );
    assert!(report.peak_bytes <= budget);
    // Under the budget plus a small constant (allocator slack, zarrs buffers, thread stacks).
    assert!(
        grown <= (budget >> 20) as f64 + 48.0,
        "RSS grew by {grown:.0} MiB for a {} MiB budget",
        budget >> 20
    );

    // Check a slice against a dense computation of the same thing.
    let column = x.slice(s![.., 0..8, 0..8]).unwrap().compute().unwrap();
    let mean = column.mean_axis(Axis(0)).unwrap();
    let std = column.std_axis(Axis(0), 0.0);
    let want = (&column - &mean) / &std;
    let got = zarr::open(&dir, "z")
        .unwrap()
        .into_typed::<f32>()
        .unwrap()
        .slice(s![.., 0..8, 0..8])
        .unwrap()
        .compute()
        .unwrap();
    let worst = got
        .iter()
        .zip(want.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "largest difference {worst}");
    let _ = std::fs::remove_dir_all(&dir);
}

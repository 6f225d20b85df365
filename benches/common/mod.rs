//! What the benchmarks share: the size divisor, the process's resident memory, and median
//! timing. Each bench uses part of it.

#![allow(dead_code)]

use std::time::{Duration, Instant};

/// `CHUNKWISE_BENCH_SCALE`: every side is divided by it for a quick run (default 1).
pub(crate) fn scale() -> usize {
    std::env::var("CHUNKWISE_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1)
}

/// Resets the kernel's record of this process's peak resident memory.
#[allow(dead_code)]
pub(crate) fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A memory figure of this process in MiB from `/proc/self/status`: `"VmRSS:"` (now) or
/// `"VmHWM:"` (peak since the last reset).
#[allow(dead_code)]
pub(crate) fn rss_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Median wall time of `reps` runs, and the last run's result.
pub(crate) fn median<R>(reps: usize, mut f: impl FnMut() -> R) -> (Duration, R) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..reps {
        let t = Instant::now();
        let r = f();
        times.push(t.elapsed());
        last = Some(r);
    }
    times.sort();
    (times[times.len() / 2], last.expect("at least one run"))
}

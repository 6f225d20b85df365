//! `cargo bench --bench core`: the core engine's workloads beside in-process baselines.
//!
//! Each figure is measured in this run, next to its baseline, and printed as a ratio:
//! - fused `(sin(x)^2 + cos(y)^2 * 2 - x / (y + 1)).sum()` on random 20000 x 20000 f64 in
//!   2000 x 2000 tiles, against the same expression done densely with ndarray on
//!   10000 x 10000 (per element), single-threaded and with a parallel zip;
//! - `mean` and `std` along axis 0 of a random 20000 x 20000 f64 array, and f32 (whose
//!   mean is read off the moments' states);
//! - scheduler overhead: `(ones + 1).sum()` on 10000 x 10000 in 100 x 100 tiles.
//!
//! Set `CHUNKWISE_BENCH_SCALE=4` (say) to divide every side by that factor for a quick run.
#![allow(missing_docs)]

mod common;

use common::{median, reset_peak_rss, rss_mib, scale};

use std::time::Duration;

use chunkwise::prelude::*;
use ndarray::{Array2, Axis, Zip};

fn ns_per(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e9 / n as f64
}

fn dense_inputs(n: usize) -> (Array2<f64>, Array2<f64>) {
    let x = chunkwise::random::uniform::<f64>(11, 0.0, 1.0, &[n, n], [n.min(2000), n.min(2000)])
        .unwrap();
    let y = chunkwise::random::uniform::<f64>(12, 0.0, 1.0, &[n, n], [n.min(2000), n.min(2000)])
        .unwrap();
    let to2 = |a: ndarray::ArrayD<f64>| a.into_dimensionality::<ndarray::Ix2>().unwrap();
    (to2(x.compute().unwrap()), to2(y.compute().unwrap()))
}

fn fused(threads: usize) {
    let s = scale();
    let (n, c) = (20_000 / s, 2000 / s);
    println!(
        "\n== fused (sin(x)^2 + cos(y)^2 * 2 - x / (y + 1)).sum(), {n} x {n} f64 in {c} x {c} tiles"
    );
    let x = chunkwise::random::uniform::<f64>(1, 0.0, 1.0, &[n, n], [c, c]).unwrap();
    let y = chunkwise::random::uniform::<f64>(2, 0.0, 1.0, &[n, n], [c, c]).unwrap();
    let expr = (x.sin().powi(2) + y.cos().powi(2) * 2.0 - &x / (&y + 1.0)).sum();
    let config = Config::default().threads(threads);
    reset_peak_rss();
    let base_rss = rss_mib("VmRSS:");
    let (t, (value, report)) = median(3, || expr.compute_report(&config).unwrap());
    let rss = rss_mib("VmHWM:") - base_rss;
    let ours = ns_per(t, n * n);
    println!(
        "chunkwise ({threads} threads, inputs generated in the kernel): {:.3} s, {:.2} ns/element, sum {:.6e}, {} tasks, peak {:.1} MiB held, peak RSS growth {:.0} MiB (a tile is {:.0} MiB)",
        t.as_secs_f64(),
        ours,
        value[[]],
        report.tasks,
        report.peak_bytes as f64 / 1048576.0,
        rss,
        (c * c * 8) as f64 / 1048576.0
    );

    let nd = n / 2;
    let (xd, yd) = dense_inputs(nd);
    let (t1, v1) = median(3, || {
        let e = xd.mapv(f64::sin).mapv(|v| v * v) + yd.mapv(f64::cos).mapv(|v| v * v) * 2.0
            - &xd / &yd.mapv(|v| v + 1.0);
        e.sum()
    });
    let (t2, v2) = median(3, || {
        Zip::from(&xd).and(&yd).fold(0.0, |acc, &a, &b| {
            acc + (a.sin().powi(2) + b.cos().powi(2) * 2.0 - a / (b + 1.0))
        })
    });
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let (t3, v3) = median(3, || {
        pool.install(|| {
            Zip::from(&xd).and(&yd).par_fold(
                || 0.0,
                |acc, &a, &b| acc + (a.sin().powi(2) + b.cos().powi(2) * 2.0 - a / (b + 1.0)),
                |a, b| a + b,
            )
        })
    });
    let _ = (v1, v2, v3);
    for (name, t) in [
        ("ndarray, NumPy-style temporaries, 1 thread", t1),
        ("ndarray, one fused Zip loop, 1 thread", t2),
        ("ndarray, parallel fused Zip (par_fold)", t3),
    ] {
        let per = ns_per(t, nd * nd);
        println!(
            "  baseline {name} on {nd} x {nd}: {per:.2} ns/element -> chunkwise is {:.2}x faster",
            per / ours
        );
    }
}

fn reductions(threads: usize) {
    mean_std::<f64>(threads);
    mean_std::<f32>(threads);
}

/// `mean` and `std` along axis 0 of random `T` data, computed together, beside ndarray's.
fn mean_std<T: FloatElement + num_traits::FromPrimitive>(threads: usize) {
    let s = scale();
    let (n, c) = (20_000 / s, 2000 / s);
    let dtype = T::DTYPE;
    println!("\n== mean and std along axis 0, random {n} x {n} {dtype} in {c} x {c} tiles");
    let x = chunkwise::random::uniform::<T>(3, T::zero(), T::one(), &[n, n], [c, c]).unwrap();
    let (mean, std) = (x.mean_axis(0), x.std_axis(0, 0.0));
    let config = Config::default().threads(threads);
    reset_peak_rss();
    let base_rss = rss_mib("VmRSS:");
    let (t, _) = median(3, || {
        chunkwise::compute_many_with(&[&mean, &std], &config).unwrap()
    });
    let rss = rss_mib("VmHWM:") - base_rss;
    let ours = ns_per(t, n * n);
    println!(
        "chunkwise ({threads} threads, compute_many: one pass folds mean and std, the generator fused in): {:.3} s, {:.2} ns/element, peak RSS growth {rss:.0} MiB",
        t.as_secs_f64(),
        ours
    );
    let nd = n / 2;
    let (xd, _) = dense_inputs(nd);
    let xd = xd.mapv(<T as FloatElement>::from_f64);
    let (td, _) = median(3, || {
        (
            xd.mean_axis(Axis(0)).unwrap(),
            xd.std_axis(Axis(0), T::zero()),
        )
    });
    let per = ns_per(td, nd * nd);
    println!(
        "  baseline ndarray mean_axis + std_axis on {nd} x {nd} (inputs in memory), 1 thread: {per:.2} ns/element -> chunkwise is {:.2}x faster",
        per / ours
    );
}

fn overhead(threads: usize) {
    let s = scale();
    let (n, c) = (10_000 / s, 100);
    println!("\n== scheduler overhead: (ones + 1).sum() on {n} x {n} in {c} x {c} tiles");
    let x = chunkwise::ones::<f64>(&[n, n], [c, c]).unwrap();
    let e = (&x + 1.0).sum();
    let config = Config::default().threads(threads);
    let (t, (value, report)) = median(5, || e.compute_report(&config).unwrap());
    assert_eq!(value[[]], 2.0 * (n * n) as f64);
    println!(
        "chunkwise: {:.4} s for {} tasks: {:.2} us per task ({:.2} ns/element)",
        t.as_secs_f64(),
        report.tasks,
        t.as_secs_f64() * 1e6 / report.tasks as f64,
        ns_per(t, n * n)
    );
    let dense = Array2::<f64>::ones((n, n));
    let (td, _) = median(5, || (&dense + 1.0).sum());
    println!(
        "  baseline ndarray (&ones + 1.0).sum(), 1 thread: {:.4} s -> chunkwise is {:.2}x faster",
        td.as_secs_f64(),
        td.as_secs_f64() / t.as_secs_f64()
    );
}

fn main() {
    // Measured as a batch application runs: malloc keeps tile buffers for reuse, large
    // results get huge pages (opt-in, process-wide: see `tune_allocator`).
    chunkwise::tune_allocator();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "chunkwise core bench: {threads} threads, scale 1/{}",
        scale()
    );
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let run = |name: &str| which.is_empty() || which.iter().any(|w| w == name);
    if run("fused") {
        fused(threads);
    }
    if run("reductions") {
        reductions(threads);
    }
    if run("overhead") {
        overhead(threads);
    }
}

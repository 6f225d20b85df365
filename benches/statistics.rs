//! `cargo bench --bench statistics`: the statistics workloads of
//! `../shared/peers/dask_baseline.py` of the same names, each beside an in-process dense
//! baseline with its result checked against the baseline's:
//! - `histogram`: 100 bins over (0, 1) of uniform random 16000 x 16000 f64 in 2000 x 2000
//!   tiles; baseline: a parallel fold over rows of the materialised array into per-thread
//!   counts (the bin by one multiplication, checked against NumPy's edges);
//! - `topk`: the 100 largest of 5e7 uniform random f64 in chunks of 5e6; baseline: a
//!   parallel `select_nth_unstable` over copies of the chunks of the materialised array,
//!   then of the candidates;
//! - `cumsum`: the last row of `x.cumsum(0)` of uniform random 16000 x 16000 f64 in
//!   2000 x 2000 tiles; baseline: running column sums over the materialised array in
//!   parallel bands of columns;
//! - `quantile`: the per-pixel median over axis 0 of uniform random (1000, 500, 500) f64
//!   in (100, 250, 250) tiles; baseline: per pixel, its values gathered from the
//!   materialised array and selected, pixels in parallel;
//! - `groupby_month`: the mean and standard deviation per calendar month of daily
//!   (3650, 180, 360) f32 in (73, 180, 360) tiles, in one pass (`GroupBy::aggregate`);
//!   baseline: per band of pixels in parallel, per-month sums, then squared deviations,
//!   over the materialised array.
//!
//! chunkwise's times include generating the random inputs (in the kernels, as Dask's do);
//! the baselines' exclude it: they start from arrays in memory. Peak RSS is the growth of
//! this process's high-water mark over the run. Name some workloads with
//! `CHUNKWISE_BENCH_ONLY=histogram,topk` (or as arguments); `CHUNKWISE_BENCH_SCALE=4`
//! divides every size by 4 for a quick run.
#![allow(missing_docs)]

mod common;

use chunkwise::{GroupFunc, compute_many_with};
use common::{Workload, config, explain, median, pool, report, run_selected, with_peak_rss};
use rayon::prelude::*;

fn histogram(s: usize) {
    let (n, c, bins) = (16_000 / s, 2000 / s, 100);
    let x = chunkwise::random::uniform::<f64>(1, 0.0, 1.0, &[n, n], [c, c]).unwrap();
    let (counts, edges) = x.histogram(bins, (0.0, 1.0)).unwrap();
    let cfg = config();
    let (rss, (t, got)) = with_peak_rss(|| median(3, || counts.compute_with(&cfg).unwrap()));

    let (rss_b, (tb, want)) = with_peak_rss(|| {
        let dense = x.compute().unwrap();
        let xs = dense.as_slice().unwrap();
        let pool = pool();
        median(3, || {
            pool.install(|| {
                xs.par_chunks(1 << 16)
                    .fold(
                        || vec![0u64; bins],
                        |mut counts, part| {
                            for &v in part {
                                if !(0.0..=1.0).contains(&v) {
                                    continue;
                                }
                                let mut i = ((v * bins as f64) as usize).min(bins - 1);
                                if v < edges[i] {
                                    i -= 1;
                                } else if i + 1 < bins && v >= edges[i + 1] {
                                    i += 1;
                                }
                                counts[i] += 1;
                            }
                            counts
                        },
                    )
                    .reduce(
                        || vec![0u64; bins],
                        |a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect(),
                    )
            })
        })
    });
    let got: Vec<u64> = got.into_raw_vec_and_offset().0;
    assert_eq!(got, want, "histogram counts differ from the baseline's");
    let check = format!(
        "counts equal the baseline's, total {}",
        got.iter().sum::<u64>()
    );
    report(
        &format!("histogram {bins} bins, {n}^2 in {c}^2 tiles"),
        (t, rss),
        (tb, rss_b),
        "dense ndarray, parallel fold into per-thread counts, input in memory",
        &check,
    );
}

fn topk(s: usize) {
    let (n, c, k) = (50_000_000 / s, 5_000_000 / s, 100);
    let x = chunkwise::random::uniform::<f64>(2, 0.0, 1.0, &[n], [c]).unwrap();
    let top = x.topk(k as isize, 0).unwrap();
    let cfg = config();
    let (rss, (t, got)) = with_peak_rss(|| median(3, || top.compute_with(&cfg).unwrap()));

    let (rss_b, (tb, want)) = with_peak_rss(|| {
        let dense = x.compute().unwrap();
        let xs = dense.as_slice().unwrap();
        let pool = pool();
        let largest_first = |a: &f64, b: &f64| b.total_cmp(a);
        median(3, || {
            pool.install(|| {
                let mut candidates: Vec<f64> = xs
                    .par_chunks(c)
                    .flat_map_iter(|chunk| {
                        let mut copy = chunk.to_vec();
                        copy.select_nth_unstable_by(k - 1, largest_first);
                        copy.truncate(k);
                        copy
                    })
                    .collect();
                candidates.select_nth_unstable_by(k - 1, largest_first);
                candidates.truncate(k);
                candidates.sort_by(largest_first);
                candidates
            })
        })
    });
    let got: Vec<f64> = got.into_raw_vec_and_offset().0;
    assert_eq!(got, want, "top values differ from the baseline's");
    let check = format!("values equal the baseline's, largest {:.12}", got[0]);
    report(
        &format!("topk {k} largest of {n} in chunks of {c}"),
        (t, rss),
        (tb, rss_b),
        "dense ndarray, parallel select_nth_unstable per chunk then of the candidates, input in memory",
        &check,
    );
}

fn cumsum(s: usize) {
    let (n, c) = (16_000 / s, 2000 / s);
    let x = chunkwise::random::uniform::<f64>(3, 0.0, 1.0, &[n, n], [c, c]).unwrap();
    let last = x.cumsum(0).unwrap().slice(ndarray::s![-1, ..]).unwrap();
    let cfg = config();
    let (rss, (t, got)) = with_peak_rss(|| median(3, || last.compute_with(&cfg).unwrap()));

    let (rss_b, (tb, want)) = with_peak_rss(|| {
        let dense = x.compute().unwrap();
        let xs = dense.as_slice().unwrap();
        let pool = pool();
        median(3, || {
            // The running sum down each column, in order, columns in parallel bands.
            pool.install(|| {
                let bands: Vec<Vec<f64>> = (0..n)
                    .into_par_iter()
                    .step_by(c)
                    .map(|j0| {
                        let width = c.min(n - j0);
                        let mut run = vec![0.0; width];
                        for row in xs.chunks_exact(n) {
                            for (acc, &v) in run.iter_mut().zip(&row[j0..j0 + width]) {
                                *acc += v;
                            }
                        }
                        run
                    })
                    .collect();
                bands.concat()
            })
        })
    });
    let got = got.into_raw_vec_and_offset().0;
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs() / b.abs())
        .fold(0.0, f64::max);
    assert!(
        worst < 1e-12,
        "cumsum differs from the baseline's by {worst:e}"
    );
    report(
        &format!("cumsum x.cumsum(0)[-1] of {n}^2 in {c}^2 tiles"),
        (t, rss),
        (tb, rss_b),
        "dense ndarray, running column sums in parallel bands, input in memory",
        &format!("last row agrees within {worst:.1e} (relative)"),
    );
}

fn quantile(s: usize) {
    let (t, ny, nx) = (1000 / s, 500 / s, 500 / s);
    let x = chunkwise::random::uniform::<f64>(5, 0.0, 1.0, &[t, ny, nx], [t / 10, ny / 2, nx / 2])
        .unwrap();
    let median_t = x.median_axis(0);
    let cfg = config();
    let (rss, (time, got)) = with_peak_rss(|| median(3, || median_t.compute_with(&cfg).unwrap()));

    let (rss_b, (tb, want)) = with_peak_rss(|| {
        let dense = x.compute().unwrap();
        let xs = dense.as_slice().unwrap();
        let cells = ny * nx;
        let pool = pool();
        median(3, || {
            // Per pixel: its t values gathered and selected (the middle two, averaged).
            pool.install(|| {
                (0..cells)
                    .into_par_iter()
                    .map_init(
                        || vec![0.0; t],
                        |lane, p| {
                            for (k, v) in lane.iter_mut().enumerate() {
                                *v = xs[k * cells + p];
                            }
                            let (_, &mut high, _) =
                                lane.select_nth_unstable_by(t / 2, f64::total_cmp);
                            let low = lane[..t / 2].iter().copied().fold(f64::MIN, f64::max);
                            if t % 2 == 0 { (low + high) / 2.0 } else { high }
                        },
                    )
                    .collect::<Vec<f64>>()
            })
        })
    });
    let got = got.into_raw_vec_and_offset().0;
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        worst <= 1e-15,
        "median differs from the baseline's by {worst:e}"
    );
    report(
        &format!(
            "quantile median over axis 0 of ({t}, {ny}, {nx}) f64 in ({}, {}, {}) tiles",
            t / 10,
            ny / 2,
            nx / 2
        ),
        (time, rss),
        (tb, rss_b),
        "dense ndarray, per-pixel select_nth_unstable in parallel, input in memory",
        &format!("medians agree within {worst:.1e}"),
    );
}

fn groupby_month(s: usize) {
    let (days, ny, nx) = (3650 / s, 180 / s, 360 / s);
    let x = chunkwise::random::uniform::<f64>(6, 0.0, 1.0, &[days, ny, nx], [73, ny, nx])
        .unwrap()
        .astype::<f32>();
    let month: Vec<usize> = (0..days).map(|d| d % 365 * 12 / 365).collect();
    let stats = x
        .groupby(0, &month)
        .unwrap()
        .aggregate(&[GroupFunc::Mean, GroupFunc::Std { ddof: 0.0 }]);
    let cfg = config();
    explain(&stats[1]);
    let (rss, (time, got)) = with_peak_rss(|| {
        median(3, || {
            compute_many_with(&[&stats[0], &stats[1]], &cfg).unwrap()
        })
    });

    let (rss_b, (tb, want)) = with_peak_rss(|| {
        let dense = x.compute().unwrap();
        let xs = dense.as_slice().unwrap();
        let cells = ny * nx;
        let mut days_of = [0.0f64; 12];
        for &m in &month {
            days_of[m] += 1.0;
        }
        let pool = pool();
        median(3, || {
            pool.install(|| {
                // Per band of pixels: month sums, then squared deviations from the means.
                let band = 4096;
                let bands: Vec<(Vec<f64>, Vec<f64>)> = (0..cells.div_ceil(band))
                    .into_par_iter()
                    .map(|b| {
                        let pixels = b * band..((b + 1) * band).min(cells);
                        let w = pixels.len();
                        let mut mean = vec![0.0f64; 12 * w];
                        for (d, &m) in month.iter().enumerate() {
                            let row = &xs[d * cells + pixels.start..d * cells + pixels.end];
                            for (acc, &v) in mean[m * w..(m + 1) * w].iter_mut().zip(row) {
                                *acc += f64::from(v);
                            }
                        }
                        for (m, n) in days_of.iter().enumerate() {
                            mean[m * w..(m + 1) * w].iter_mut().for_each(|v| *v /= n);
                        }
                        let mut var = vec![0.0f64; 12 * w];
                        for (d, &m) in month.iter().enumerate() {
                            let row = &xs[d * cells + pixels.start..d * cells + pixels.end];
                            let means = &mean[m * w..(m + 1) * w];
                            for ((acc, &v), mu) in
                                var[m * w..(m + 1) * w].iter_mut().zip(row).zip(means)
                            {
                                *acc += (f64::from(v) - mu).powi(2);
                            }
                        }
                        (mean, var)
                    })
                    .collect();
                let mut means = vec![0.0f64; 12 * cells];
                let mut stds = vec![0.0f64; 12 * cells];
                for (b, (mean, var)) in bands.iter().enumerate() {
                    let start = b * band;
                    let w = mean.len() / 12;
                    for m in 0..12 {
                        for k in 0..w {
                            means[m * cells + start + k] = mean[m * w + k];
                            stds[m * cells + start + k] = (var[m * w + k] / days_of[m]).sqrt();
                        }
                    }
                }
                (means, stds)
            })
        })
    });
    let worst = [(&got[0], &want.0), (&got[1], &want.1)]
        .iter()
        .flat_map(|(a, b)| a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs() / y.abs()))
        .fold(0.0, f64::max);
    // The statistics of f32 data are f32, as NumPy's and flox's are.
    assert!(
        worst <= 1e-6,
        "monthly statistics differ from the baseline's by {worst:e}"
    );
    report(
        &format!("groupby_month mean+std of ({days}, {ny}, {nx}) f32 in (73, {ny}, {nx}) tiles"),
        (time, rss),
        (tb, rss_b),
        "dense ndarray, per-month sums then deviations in parallel pixel bands, input in memory",
        &format!("means and stds agree within {worst:.1e} (relative)"),
    );
}

fn main() {
    // Measured as a batch application runs: malloc keeps tile buffers for reuse, large
    // results get huge pages (opt-in, process-wide: see `tune_allocator`).
    chunkwise::tune_allocator();
    let workloads: [Workload; 5] = [
        ("histogram", histogram),
        ("topk", topk),
        ("cumsum", cumsum),
        ("quantile", quantile),
        ("groupby_month", groupby_month),
    ];
    run_selected("statistics", &workloads);
}

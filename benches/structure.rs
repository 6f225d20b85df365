//! `cargo bench --bench structure`: reshape and the joins and pads of tiles, the workloads
//! of `../shared/peers/dask_baseline.py` of the same names, each beside a dense ndarray
//! computation in the same run, its result checked against it:
//! - `reshape_climatology`: random (7300, 90, 180) f32 in (73, 90, 180) tiles reshaped to
//!   (20, 365, 90, 180) (no rechunk: each 73-day tile is a tile of the result), then the
//!   std over axes (0, 1) of the anomaly from the mean over axis 0; baseline: the same two
//!   passes over the materialised array, in parallel;
//! - `mask_mean`: `a[a > 100].mean()` (`a.mask(&a.greater(100))?.mean()`) of a 1000^3 u8
//!   Zarr cube in 250^3 chunks (blosc zstd, bitshuffle), read from the store in the run;
//!   baseline: the masked mean of the cube read into memory first (reading not timed);
//!   the first run writes the cube into `target/bench-structure` (its memory then shows in
//!   that run's figure: run it again);
//! - `concat_pad`: `roll(pad(concatenate([a, b], 0), ((5, 5), (0, 7)), reflect), 17, 1)`
//!   then the std over axis 0, with random a 12000 x 12000 and b 4000 x 12000 f64 in
//!   1500 x 1500 tiles; baseline: column sums and sums of squares over the materialised
//!   a and b (the reflected rows counted twice), then the columns padded and rolled.
//!
//! chunkwise's times include generating the random inputs (in the kernels, as Dask's do);
//! the baselines' exclude it: they start from arrays in memory. Peak RSS is the growth of
//! this process's high-water mark over the run (the baselines' include their materialised
//! inputs, but a baseline runs after chunkwise in the same process and may reuse memory
//! chunkwise freed, so its growth can read low). Each workload runs in a process of its own; name some with
//! `CHUNKWISE_BENCH_ONLY=concat_pad` (or as arguments). `CHUNKWISE_BENCH_SCALE=4` divides
//! the sizes by 4 for a quick run; `CHUNKWISE_BENCH_EXPLAIN=1` prints the plans.
#![allow(missing_docs)]

mod common;

use common::{Workload, check_close, config, explain, median, report, run_selected, with_peak_rss};

use chunkwise::io::zarr::{self, BloscCompressor, BloscShuffle, Compression, WriteOptions};
use chunkwise::prelude::*;
use chunkwise::{Pad, concatenate};
use ndarray::{Array1, Ix2};
use rayon::prelude::*;

fn reshape_climatology(s: usize) {
    let (years, days, ny, nx) = (20, 365, 90 / s, 180 / s);
    let t = years * days;
    let x = chunkwise::random::uniform::<f32>(4, 0.0, 1.0, &[t, ny, nx], [73, ny, nx]).unwrap();
    let r = x
        .reshape(&[years as isize, days as isize, ny as isize, nx as isize])
        .unwrap();
    let anomaly = &r - &r.mean_axis(0);
    let expr = anomaly.std_with(&Reduction::axes([0, 1]), 0.0);
    explain(&expr);
    let cfg = config();
    let (rss, (time, got)) = with_peak_rss(|| median(3, || expr.compute_report(&cfg).unwrap()));
    let (got, report_run) = got;
    drop(expr);

    let (rss_b, (tb, want)) = with_peak_rss(|| {
        let dense = x.compute().unwrap();
        let flat = dense.as_slice().unwrap();
        let (rows, cells) = (days, ny * nx);
        median(3, || {
            // The mean over the years of each (day, cell), then the std over (year, day)
            // of each cell's anomaly, from its sums (the anomaly's mean is near 0).
            let mean: Vec<f32> = (0..rows * cells)
                .into_par_iter()
                .map(|k| (0..years).map(|y| flat[y * rows * cells + k]).sum::<f32>() / years as f32)
                .collect();
            let (s1, s2) = (0..years * rows)
                .into_par_iter()
                .fold(
                    || (vec![0.0f64; cells], vec![0.0f64; cells]),
                    |(mut s1, mut s2), row| {
                        let day = row % rows;
                        let lane = &flat[row * cells..][..cells];
                        let m = &mean[day * cells..][..cells];
                        for c in 0..cells {
                            let d = f64::from(lane[c] - m[c]);
                            s1[c] += d;
                            s2[c] += d * d;
                        }
                        (s1, s2)
                    },
                )
                .reduce(
                    || (vec![0.0; cells], vec![0.0; cells]),
                    |(mut a1, mut a2), (b1, b2)| {
                        a1.iter_mut().zip(b1).for_each(|(a, b)| *a += b);
                        a2.iter_mut().zip(b2).for_each(|(a, b)| *a += b);
                        (a1, a2)
                    },
                );
            let n = (years * rows) as f64;
            let std: Vec<f64> = s1
                .iter()
                .zip(&s2)
                .map(|(a, b)| (b / n - (a / n) * (a / n)).max(0.0).sqrt())
                .collect();
            std
        })
    });
    let got: Vec<f64> = got.iter().map(|&v| f64::from(v)).collect();
    let check = check_close("std per cell", &got, &want, 1e-4)
        + &format!(
            "; {} tasks, peak {:.0} MiB held",
            report_run.tasks,
            report_run.peak_bytes as f64 / 1048576.0
        );
    report(
        &format!(
            "reshape_climatology ({t}, {ny}, {nx}) f32 in 73-day tiles -> ({years}, {days}, {ny}, {nx})"
        ),
        (time, rss),
        (tb, rss_b),
        "dense ndarray, two parallel passes over the materialised array",
        &check,
    );
}

fn concat_pad(s: usize) {
    let (n, c) = (12_000 / s, 1500 / s);
    let a = chunkwise::random::uniform::<f64>(5, 0.0, 1.0, &[n, n], [c, c]).unwrap();
    let b = chunkwise::random::uniform::<f64>(6, 0.0, 1.0, &[n / 3, n], [c, c]).unwrap();
    let (pad_rows, pad_cols, shift) = (5, 7, 17);
    let joined = concatenate(&[&a, &b], 0).unwrap();
    let padded = joined
        .pad(&[(pad_rows, pad_rows), (0, pad_cols)], Pad::Reflect)
        .unwrap();
    let expr = padded.roll(shift, 1).unwrap().std_axis(0, 0.0);
    explain(&expr);
    let cfg = config();
    let (rss, (time, got)) = with_peak_rss(|| median(3, || expr.compute_report(&cfg).unwrap()));
    let (got, report_run) = got;
    drop(expr);

    let (rss_b, (tb, want)) = with_peak_rss(|| {
        let to2 = |x: &Array<f64>| x.compute().unwrap().into_dimensionality::<Ix2>().unwrap();
        let (ad, bd) = (to2(&a), to2(&b));
        let rows = n + n / 3;
        median(3, || {
            // Row r of the joined array, and how often it appears in the padded one (the
            // reflected rows 1..=5 and rows-6..rows-1 twice).
            let weight = |r: usize| {
                1.0 + f64::from(u8::from(
                    (1..=pad_rows).contains(&r) || (rows - 1 - pad_rows..rows - 1).contains(&r),
                ))
            };
            let (s1, s2) = (0..rows)
                .into_par_iter()
                .fold(
                    || (vec![0.0f64; n], vec![0.0f64; n]),
                    |(mut s1, mut s2), r| {
                        let row = if r < n { ad.row(r) } else { bd.row(r - n) };
                        let w = weight(r);
                        for (k, &v) in row.iter().enumerate() {
                            s1[k] += w * v;
                            s2[k] += w * v * v;
                        }
                        (s1, s2)
                    },
                )
                .reduce(
                    || (vec![0.0; n], vec![0.0; n]),
                    |(mut a1, mut a2), (b1, b2)| {
                        a1.iter_mut().zip(b1).for_each(|(a, b)| *a += b);
                        a2.iter_mut().zip(b2).for_each(|(a, b)| *a += b);
                        (a1, a2)
                    },
                );
            let count = (rows + 2 * pad_rows) as f64;
            let std_of = |k: usize| {
                let m = s1[k] / count;
                (s2[k] / count - m * m).max(0.0).sqrt()
            };
            // Columns padded by reflection, then rolled.
            let width = n + pad_cols;
            let column = |j: usize| if j < n { j } else { 2 * (n - 1) - j };
            Array1::from_shape_fn(width, |o| {
                std_of(column((o + width - shift as usize % width) % width))
            })
        })
    });
    let check = check_close(
        "std per column",
        got.as_slice().unwrap(),
        want.as_slice().unwrap(),
        1e-9,
    ) + &format!(
        "; {} tasks, peak {:.0} MiB held",
        report_run.tasks,
        report_run.peak_bytes as f64 / 1048576.0
    );
    report(
        &format!(
            "concat_pad {n}^2 + {}x{n} in {c}^2 tiles, pad reflect, roll, std axis 0",
            n / 3
        ),
        (time, rss),
        (tb, rss_b),
        "dense ndarray, parallel column sums over the materialised inputs",
        &check,
    );
}

/// The u8 cube of `mask_mean` in a Zarr store (blosc zstd, bitshuffle, as Dask's side
/// writes it), written once into `target/bench-structure`; or the store that
/// `CHUNKWISE_MASK_STORE` names (such as the one `dask_baseline.py mask_mean` wrote), read
/// as its root array.
fn mask_store(n: usize) -> (std::path::PathBuf, &'static str) {
    if let Some(store) = std::env::var_os("CHUNKWISE_MASK_STORE") {
        return (store.into(), "");
    }
    let dir = std::path::PathBuf::from("target/bench-structure").join(format!("mask_u8_{n}"));
    if !dir.join("cube").exists() {
        let c = n / 4;
        let cube = chunkwise::random::integers::<u8>(13, 0, 255, &[n, n, n], [c, c, c]).unwrap();
        let options = WriteOptions::default()
            .chunks([c, c, c])
            .compression(Compression::Blosc {
                cname: BloscCompressor::Zstd,
                clevel: 3,
                shuffle: BloscShuffle::BitShuffle,
            });
        cube.to_zarr(&dir, "cube", &options).unwrap();
    }
    (dir, "cube")
}

fn mask_mean(s: usize) {
    let n = 1000 / s;
    let (store, name) = mask_store(n);
    let open = || {
        zarr::open(&store, name)
            .unwrap()
            .into_typed::<u8>()
            .unwrap()
    };
    let cfg = config();
    let expr = {
        let a = open();
        a.mask(&a.greater(100)).unwrap().mean()
    };
    explain(&expr);
    let (rss, (time, got)) = with_peak_rss(|| median(3, || expr.compute_report(&cfg).unwrap()));
    let (got, report_run) = got;
    drop(expr);

    let (rss_b, (tb, want)) = with_peak_rss(|| {
        let dense = open().compute().unwrap();
        let flat = dense.as_slice().unwrap();
        median(3, || {
            let (sum, count) = flat
                .par_chunks(1 << 16)
                .map(|part| {
                    part.iter()
                        .filter(|&&v| v > 100)
                        .fold((0u64, 0u64), |(s, c), &v| (s + u64::from(v), c + 1))
                })
                .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
            sum as f64 / count as f64
        })
    });
    let check = check_close("mean", &[got.iter().copied().sum::<f64>()], &[want], 1e-12)
        + &format!(
            "; {} tasks, peak {:.0} MiB held",
            report_run.tasks,
            report_run.peak_bytes as f64 / 1048576.0
        );
    report(
        &format!(
            "mask_mean a[a > 100].mean() of a {n}^3 u8 Zarr cube (blosc zstd, bitshuffle) from {}",
            store.display()
        ),
        (time, rss),
        (tb, rss_b),
        "the masked mean of the cube read into memory, in parallel (reading not timed)",
        &check,
    );
}

fn main() {
    // Measured as a batch application runs: malloc keeps tile buffers for reuse, large
    // results get huge pages (opt-in, process-wide: see `tune_allocator`).
    chunkwise::tune_allocator();
    let workloads: [Workload; 3] = [
        ("reshape_climatology", reshape_climatology),
        ("mask_mean", mask_mean),
        ("concat_pad", concat_pad),
    ];
    run_selected("structure", &workloads);
}

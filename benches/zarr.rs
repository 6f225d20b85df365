//! `cargo bench --bench zarr`: Zarr throughput and the climate job, each beside a baseline
//! measured in the same run.
//!
//! - write, and read-and-sum, a 10000 x 10000 f64 array in 1000 x 1000 chunks with zstd level
//!   1 and with blosc lz4: MB/s, against a plain sequential zarrs loop over the same chunks;
//! - the climate job (time mean, anomaly, its standard deviation over time, written to
//!   Zarr) on 3650 x 360 x 720 f32 in (365, 90, 180) chunks: time and peak RSS; with
//!   `CHUNKWISE_CLIMATE_STORE=<path of an array>` also on that array (Dask's input, say);
//!   then the climate demo's outputs (time mean, anomaly std, anomaly) written by one
//!   `Group::store` (one pass) against three separate `to_zarr` calls;
//!
//! - rechunk 20000 x 20000 f64 from (20000, 100) to (100, 20000) tiles through a temporary
//!   Zarr store (the rows-to-columns case), each output tile then summed: time and peak RSS.
//!
//! - read and sum a 10000 x 10000 f64 array in 1000 x 1000 zstd chunks from a local S3
//!   server (moto, started by the bench) with 5 ms added to every request (and with none)
//!   by a delaying proxy in a process of its own (benches/common/delay_proxy.rs), against
//!   Dask + zarr-python reading the same bucket through fsspec/s3fs (benches/s3_dask.py) in
//!   the same run: wall time, and the CPU time each client takes per read. Needs the
//!   `object-store` feature (`cargo bench --bench zarr --features object-store -- s3`),
//!   moto in the interop venv (`$CHUNKWISE_ZARR_PYTHON` or target/zarr-venv) and s3fs in
//!   the peers venv (target/peers, or `$CHUNKWISE_PEERS_PYTHON`).
//!
//! `CHUNKWISE_BENCH_SCALE=4` divides every side by 4 for a quick run. Name workloads
//! (`throughput`, `climate`) as arguments to run only those.
#![allow(missing_docs)]

mod common;

use common::{reset_peak_rss, rss_mib, scale};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chunkwise::io::zarr::{
    self, BloscCompressor, BloscShuffle, Compression, Dataset, WriteMode, WriteOptions,
};
use zarrs::array::Array as ZArray;

fn bench_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from("target/bench-zarr").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn dir_mb(path: &Path) -> f64 {
    fn walk(p: &Path) -> u64 {
        std::fs::read_dir(p)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| {
                        let m = e.metadata().map(|m| m.len()).unwrap_or(0);
                        if e.path().is_dir() {
                            walk(&e.path())
                        } else {
                            m
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(path) as f64 / 1e6
}

/// Median wall time of three runs of `f`.
fn median_seconds(f: impl FnMut()) -> f64 {
    three_runs(f).median
}

/// Wall times of three runs: the first, the fastest and the median.
struct Runs {
    first: f64,
    min: f64,
    median: f64,
}

/// Runs `f` three times.
fn three_runs(mut f: impl FnMut()) -> Runs {
    let mut times: Vec<f64> = (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    let first = times[0];
    times.sort_by(f64::total_cmp);
    Runs {
        first,
        min: times[0],
        median: times[1],
    }
}

/// The sequential baseline: one zarrs array, chunks stored and then read one after another.
fn sequential_zarrs(
    dir: &Path,
    dense: &ndarray::ArrayD<f64>,
    chunk: usize,
    options: &WriteOptions,
) -> (f64, f64) {
    // Create the array metadata the same way (to_zarr of an empty 0-task array is not
    // possible), by writing a tiny array and reusing its metadata document.
    let n = dense.shape()[0];
    let probe = chunkwise::zeros::<f64>(&[n, n], [chunk, chunk]).unwrap();
    probe
        .to_zarr(dir, "x", &options.clone().mode(WriteMode::Overwrite))
        .unwrap();
    let store = Arc::new(zarrs::filesystem::FilesystemStore::new(dir).unwrap());
    let array = ZArray::open(store, "/x").unwrap();
    let blocks = n / chunk;
    let write = median_seconds(|| {
        for i in 0..blocks {
            for j in 0..blocks {
                let tile = dense
                    .slice(ndarray::s![
                        i * chunk..(i + 1) * chunk,
                        j * chunk..(j + 1) * chunk
                    ])
                    .to_owned();
                array.store_chunk(&[i as u64, j as u64], &tile).unwrap();
            }
        }
    });
    let read = median_seconds(|| {
        let mut total = 0.0;
        for i in 0..blocks {
            for j in 0..blocks {
                let tile: ndarray::ArrayD<f64> =
                    array.retrieve_chunk(&[i as u64, j as u64]).unwrap();
                total += tile.sum();
            }
        }
        assert!(total.is_finite());
    });
    (write, read)
}

fn throughput() {
    let (n, c) = (10_000 / scale(), 1000 / scale());
    let mb = (n * n * 8) as f64 / 1e6;
    println!("\n== Zarr throughput: {n} x {n} f64 in {c} x {c} chunks ({mb:.0} MB)");
    let x = chunkwise::random::uniform::<f64>(5, 0.0, 1.0, &[n, n], [c, c])
        .unwrap()
        .persist()
        .unwrap();
    let dense = x.compute().unwrap();
    let cases = [
        ("zstd level 1", Compression::Zstd { level: 1 }),
        (
            "blosc lz4",
            Compression::Blosc {
                cname: BloscCompressor::Lz4,
                clevel: 5,
                shuffle: BloscShuffle::Shuffle,
            },
        ),
    ];
    for (name, compression) in cases {
        let options = WriteOptions::default()
            .chunks([c, c])
            .compression(compression)
            .mode(WriteMode::Overwrite);
        let dir = bench_dir("throughput");
        let write = median_seconds(|| {
            x.to_zarr(&dir, "x", &options).unwrap();
        });
        let disk = dir_mb(&dir);
        let lazy = zarr::open(&dir, "x").unwrap().into_typed::<f64>().unwrap();
        let read = median_seconds(|| {
            let total = lazy.sum().compute_scalar().unwrap();
            assert!((total - dense.sum()).abs() < 1e-6 * total.abs());
        });
        let base = bench_dir("throughput-baseline");
        let (bw, br) = sequential_zarrs(&base, &dense, c, &options);
        println!(
            "{name}: write {:.0} MB/s (sequential zarrs loop {:.0} MB/s, {:.2}x), read+sum {:.0} MB/s (loop {:.0} MB/s, {:.2}x), {disk:.0} MB on disk",
            mb / write,
            mb / bw,
            bw / write,
            mb / read,
            mb / br,
            br / read
        );
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&base);
    }
}

fn climate() {
    let s = scale();
    let (days, nlat, nlon) = (3650 / s, 360 / s, 720 / s);
    let chunks = [365 / s, 90 / s, 180 / s];
    println!("\n== climate job: {days} x {nlat} x {nlon} f32 in {chunks:?} chunks");
    let dir = bench_dir("climate");
    let input =
        chunkwise::random::uniform::<f32>(7, 250.0, 310.0, &[days, nlat, nlon], chunks).unwrap();
    let options = WriteOptions::default()
        .chunks(chunks)
        .dimension_names(["time", "lat", "lon"])
        .attribute("units", "K");
    let t = Instant::now();
    input.to_zarr(&dir, "in", &options).unwrap();
    println!(
        "input written in {:.1} s ({:.0} MB on disk)",
        t.elapsed().as_secs_f64(),
        dir_mb(&dir)
    );
    climate_job("chunkwise", &dir, "in", &dir);
    group_write(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    // The same job on a store written elsewhere, such as the one dask_baseline.py's recipe
    // writes (`x.to_zarr(store + "/in.zarr")`): CHUNKWISE_CLIMATE_STORE=<store>/in.zarr.
    if let Some(store) = std::env::var_os("CHUNKWISE_CLIMATE_STORE") {
        let store = PathBuf::from(store);
        let out = bench_dir("climate-out");
        climate_job(&format!("{}", store.display()), &store, "", &out);
        let _ = std::fs::remove_dir_all(&out);
    }
}

/// The climate job on array `array` of the store `dir`, written to `out`: the median of
/// three runs and the peak RSS.
fn climate_job(label: &str, dir: &Path, array: &str, out: &Path) {
    reset_peak_rss();
    let base = rss_mib("VmRSS:");
    // The median of three runs, as ../shared/peers/dask_baseline.py reports Dask's.
    let runs = three_runs(|| {
        let tas = zarr::open(dir, array).unwrap().into_typed::<f32>().unwrap();
        let anomaly_std = (&tas - &tas.mean_axis(0)).std_axis(0, 0.0);
        let options = WriteOptions::default()
            .dimension_names(["lat", "lon"])
            .attribute("units", "K")
            .mode(WriteMode::Overwrite);
        anomaly_std.to_zarr(out, "out", &options).unwrap();
    });
    println!(
        "{label}: median {:.2} s of 3 (min {:.2}, first {:.2}), peak RSS {:.0} MiB (the process held {base:.0} MiB before the job)",
        runs.median,
        runs.min,
        runs.first,
        rss_mib("VmHWM:")
    );
}

/// The climate demo's three outputs of array `in` of `dir`: one `Group::store` against
/// three `to_zarr` calls, the median of three runs each.
fn group_write(dir: &Path) {
    let outputs = || {
        let tas = zarr::open(dir, "in").unwrap().into_typed::<f32>().unwrap();
        let mean = tas.mean_axis(0);
        let anomaly = &tas - &mean;
        let std = anomaly.std_axis(0, 0.0);
        (mean, std, anomaly)
    };
    let options = || WriteOptions::default().mode(WriteMode::Overwrite);
    let three = median_seconds(|| {
        let (mean, std, anomaly) = outputs();
        mean.to_zarr(dir, "mean", &options()).unwrap();
        std.to_zarr(dir, "std", &options()).unwrap();
        anomaly.to_zarr(dir, "anomaly", &options()).unwrap();
    });
    let group = zarr::open_group(dir, "/").unwrap();
    let one = median_seconds(|| {
        let (mean, std, anomaly) = outputs();
        let dataset = Dataset::new()
            .array("mean", &mean, options())
            .array("std", &std, options())
            .array("anomaly", &anomaly, options());
        group.store(&dataset).unwrap();
    });
    println!(
        "mean, anomaly std and anomaly written: one Group::store {one:.2} s, three to_zarr {three:.2} s (medians of 3; {:.2}x)",
        three / one
    );
}

fn rechunk() {
    let s = scale();
    let (n, c) = (20_000 / s, 100 / s.min(100));
    println!(
        "\n== rechunk {n} x {n} f64 from ({n}, {c}) to ({c}, {n}) tiles, through a temporary Zarr store"
    );
    let dir = bench_dir("rechunk");
    let x = chunkwise::random::uniform::<f64>(8, 0.0, 1.0, &[n, n], [n, c]).unwrap();
    let y = x.rechunk_via_store([c, n], &dir).unwrap().sum_axis(1);
    reset_peak_rss();
    let base = rss_mib("VmRSS:");
    let t = Instant::now();
    let (_, report) = y.compute_report(&chunkwise::Config::default()).unwrap();
    let took = t.elapsed().as_secs_f64();
    println!(
        "chunkwise: {took:.2} s for {:.0} MB ({:.0} MB/s through the store), peak RSS {:.0} MiB (process {base:.0} MiB before), tracked peak {:.0} MiB",
        (n * n * 8) as f64 / 1e6,
        (n * n * 8) as f64 / 1e6 / took,
        rss_mib("VmHWM:"),
        report.peak_bytes as f64 / 1048576.0
    );
    drop(y);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs each workload in a process of its own, so that its peak RSS is its own.
#[cfg(feature = "object-store")]
#[path = "../tests/common/s3_util.rs"]
mod s3_util;

#[cfg(feature = "object-store")]
#[path = "common/delay_proxy.rs"]
mod delay_proxy;

/// Reading from object storage, against Dask on the same bucket.
mod s3 {
    /// Without the feature, the workload says how to run it.
    #[cfg(not(feature = "object-store"))]
    pub(crate) fn s3() {
        println!("\n== S3 read+sum: skipped (build with --features object-store)");
    }

    #[cfg(feature = "object-store")]
    pub(crate) use with_feature::s3;

    #[cfg(feature = "object-store")]
    mod with_feature {
        use std::path::{Path, PathBuf};
        use std::process::Command;

        use chunkwise::Config;
        use chunkwise::io::zarr::{self, Compression, Store, WriteOptions};

        use crate::common::{child_cpu_seconds, process_cpu_seconds, scale};
        use crate::delay_proxy::ProxyProcess;
        use crate::s3_util;
        use crate::three_runs;

        /// `$CHUNKWISE_ZARR_PYTHON` or target/zarr-venv's Python, if it has moto.
        fn moto_python() -> Option<PathBuf> {
            let venv = PathBuf::from("target/zarr-venv/bin/python");
            let python = std::env::var_os("CHUNKWISE_ZARR_PYTHON")
                .map(PathBuf::from)
                .filter(|p| p.is_file())
                .or_else(|| venv.is_file().then_some(venv));
            s3_util::with_moto(python)
        }

        /// The peers venv's Python (Dask, zarr-python; `$CHUNKWISE_PEERS_PYTHON` or
        /// target/peers), if it has s3fs.
        fn peers_python() -> Option<PathBuf> {
            let python = std::env::var_os("CHUNKWISE_PEERS_PYTHON")
                .map_or_else(|| PathBuf::from("target/peers/bin/python"), PathBuf::from);
            let ok = Command::new(&python)
                .args(["-c", "import dask, zarr, s3fs"])
                .status()
                .is_ok_and(|s| s.success());
            ok.then_some(python)
        }

        /// Dask's median seconds for the sum through `endpoint`, and the CPU seconds its
        /// process takes per run.
        fn dask(python: &Path, endpoint: &str, url: &str) -> Option<(f64, f64)> {
            let out = Command::new(python)
                .args(["benches/s3_dask.py", endpoint, url, "x"])
                .output()
                .ok()?;
            let text = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() {
                println!("  dask failed: {}", String::from_utf8_lossy(&out.stderr));
                return None;
            }
            let line = text.lines().find(|l| l.starts_with("RESULT"))?;
            println!("  {line}");
            let field = |name: &str| -> Option<f64> {
                line.split_whitespace()
                    .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))?
                    .parse()
                    .ok()
            };
            Some((field("median_s")?, field("cpu_s")?))
        }

        /// The CPU time that the S3 server and the proxy take while a client reads: they
        /// share the machine's cores with it.
        struct ServersCpu {
            pids: [u32; 2],
            before: [f64; 2],
        }

        impl ServersCpu {
            fn start(moto: &s3_util::Server, proxy: &ProxyProcess) -> ServersCpu {
                let pids = [moto.pid(), proxy.pid()];
                ServersCpu {
                    pids,
                    before: pids.map(child_cpu_seconds),
                }
            }

            /// "CPU per read of moto ..., of the proxy ...": their CPU time since
            /// [`ServersCpu::start`], divided by the `reads` made since.
            fn per_read(&self, reads: f64) -> String {
                let [moto, proxy] =
                    [0, 1].map(|i| (child_cpu_seconds(self.pids[i]) - self.before[i]) / reads);
                format!("CPU per read of moto {moto:.2} s, of the proxy {proxy:.2} s")
            }
        }

        pub(crate) fn s3() {
            let (n, c) = (10_000 / scale(), 1000 / scale());
            let mb = (n * n * 8) as f64 / 1e6;
            println!("\n== S3 read+sum: {n} x {n} f64 in {c} x {c} zstd chunks ({mb:.0} MB), moto");
            let Some(python) = moto_python() else { return };
            let peers = peers_python();
            if peers.is_none() {
                println!("  (no Dask figure: target/peers lacks dask or s3fs)");
            }
            // Objects kept in moto's memory (above 5 MB it spills each to a temporary file,
            // read again for every GET): the server shares the cores of both clients.
            let in_memory = [("MOTO_S3_DEFAULT_KEY_BUFFER_SIZE", "67108864")];
            let moto = s3_util::moto(&python, &in_memory);
            s3_util::create_bucket(moto.port, "bench");
            let url = "s3://bench/sum.zarr";
            let store = Store::from_url_with(url, &s3_util::options(&moto.url())).unwrap();
            let x = chunkwise::random::uniform::<f64>(5, 0.0, 1.0, &[n, n], [c, c]).unwrap();
            let options = WriteOptions::default().compression(Compression::Zstd { level: 1 });
            let t = std::time::Instant::now();
            x.to_zarr(&store, "x", &options).unwrap();
            println!("  write to moto: {:.2} s", t.elapsed().as_secs_f64());
            let expected = x.sum().compute().unwrap().sum();

            let upstream = ([127, 0, 0, 1], moto.port).into();
            let exe = std::env::current_exe().expect("the bench binary");
            for delay in [0, 5] {
                let delay_ms = std::time::Duration::from_millis(delay);
                let proxy = ProxyProcess::spawn(&exe, upstream, delay_ms);
                println!("  -- {delay} ms added per request (proxy {})", proxy.url());
                let store = Store::from_url_with(url, &s3_util::options(&proxy.url())).unwrap();
                let (mut ours, mut our_cpu) = (f64::NAN, f64::NAN);
                for (what, config) in [
                    (
                        "each tile fetched when its task runs",
                        Config::default().io_concurrency(0),
                    ),
                    ("tiles fetched ahead (io_concurrency 16)", Config::default()),
                ] {
                    // Opening the array is timed too, as in Dask's runs.
                    let servers = ServersCpu::start(&moto, &proxy);
                    let cpu_before = process_cpu_seconds();
                    let runs = three_runs(|| {
                        let array = zarr::open(&store, "x").unwrap();
                        let array = array.into_typed::<f64>().unwrap();
                        let sum = array.sum().compute_with(&config).unwrap().sum();
                        assert!((sum - expected).abs() <= 1e-6 * expected.abs());
                    });
                    our_cpu = (process_cpu_seconds() - cpu_before) / 3.0;
                    println!(
                        "  chunkwise, {what}: median {:.3} s (min {:.3}, first {:.3}), {:.0} MB/s, CPU {our_cpu:.2} s per read; {}",
                        runs.median,
                        runs.min,
                        runs.first,
                        mb / runs.median,
                        servers.per_read(3.0)
                    );
                    ours = runs.median;
                }
                let servers = ServersCpu::start(&moto, &proxy);
                if let Some(peers) = &peers
                    && let Some((theirs, their_cpu)) = dask(peers, &proxy.url(), url)
                {
                    println!("  Dask: {}", servers.per_read(3.0));
                    println!(
                        "  chunkwise (fetched ahead) {ours:.3} s vs Dask {theirs:.3} s: {:.2}x; client CPU per read {our_cpu:.2} s vs {their_cpu:.2} s: {:.2}x",
                        theirs / ours,
                        their_cpu / our_cpu
                    );
                }
            }
        }
    }
}

fn main() {
    // Measured as a batch application runs: malloc keeps tile buffers for reuse, large
    // results get huge pages (opt-in, process-wide: see `tune_allocator`).
    chunkwise::tune_allocator();
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    // The S3 workload's delaying proxy, in a process of its own.
    #[cfg(feature = "object-store")]
    if let [command, upstream, delay_ms] = which.as_slice()
        && command == "delay-proxy"
    {
        delay_proxy::serve(upstream, delay_ms);
    }
    let workloads: [(&str, fn()); 4] = [
        ("throughput", throughput),
        ("climate", climate),
        ("rechunk", rechunk),
        ("s3", s3::s3),
    ];
    if let [name] = which.as_slice()
        && let Some((_, run)) = workloads.iter().find(|(w, _)| w == name)
    {
        run();
        return;
    }
    println!("chunkwise zarr bench, scale 1/{}", scale());
    let exe = std::env::current_exe().expect("the bench binary");
    for (name, _) in workloads {
        if which.is_empty() || which.iter().any(|w| w == name) {
            let status = std::process::Command::new(&exe)
                .arg(name)
                .status()
                .expect("run a workload");
            assert!(status.success(), "workload {name} failed");
        }
    }
}

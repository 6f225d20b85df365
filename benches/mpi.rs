//! `cargo bench --features mpi --bench mpi`: distributed runs under `mpirun` on this machine.
//!
//! Started by cargo, the bench starts itself under `mpirun -np N` (N = 1 to 4; more ranks
//! than cores are oversubscribed) and prints, per workload:
//! - the time on 2 ranks of 1 thread against 1 process of 2 threads (the same cores: the
//!   cost of going through MPI), measured in the same run, the baseline process started
//!   the same way as the ranks (by `mpirun`, fresh, computing without the cluster);
//! - the bytes the ranks sent each other against the least that the workload's data
//!   placement must send (see `lower_bound`);
//! - a weak-scaling table (1 to 4 ranks, the data growing with the ranks): time, bytes
//!   moved and the balance of tasks between the ranks.
//!
//! Messages go by Open MPI's default transport (on one machine: shared memory, with a
//! single copy through CMA where the kernel allows it).
//!
//! The two sides of the comparison take turns, three rounds (`CHUNKWISE_MPI_ROUNDS` sets
//! how many), and each keeps its best. Set `CHUNKWISE_BENCH_SCALE=4` (say) for a quick run, `CHUNKWISE_MPI_SIZE=4` for four
//! times the data in the 2-rank comparison (longer runs, steadier ratios), and
//! `CHUNKWISE_BENCH_ONLY=fused,tsqr` to pick workloads.
#![allow(missing_docs)]

mod common;

use common::{env_factor, scale};

use std::process::Command;
use std::time::Instant;

use chunkwise::Report;
use chunkwise::io::zarr::{self, WriteMode, WriteOptions};
use chunkwise::mpi::{Cluster, Gather};
use chunkwise::prelude::*;

/// The workloads, each with the bytes its data placement must move on `ranks` ranks.
const WORKLOADS: [&str; 6] = ["fused", "mean_std", "rechunk", "matmul", "tsqr", "zarr"];

/// One workload at size factor `grow` (weak scaling): what to compute, and the least bytes
/// that must move on `ranks` ranks when the inputs are split by rows (result gathered on
/// rank 0 included).
struct Workload {
    run: Box<dyn Fn(&Config) -> Report>,
    lower_bound: Box<dyn Fn(usize) -> u64>,
    what: String,
}

fn workload(name: &str, grow: usize, dir: &std::path::Path) -> Workload {
    let s = scale();
    let f64s = 8u64;
    match name {
        "fused" => {
            let (n, c) = (8192 * grow / s, 1024 / s);
            let m = 8192 / s;
            let x = chunkwise::random::uniform::<f64>(1, 0.0, 1.0, &[n, m], [c, m]).unwrap();
            let y = chunkwise::random::uniform::<f64>(2, 0.0, 1.0, &[n, m], [c, m]).unwrap();
            let expr = (x.sin().powi(2) + y.cos().powi(2) * 2.0 - &x / (&y + 1.0)).sum();
            Workload {
                what: format!("fused elementwise + sum, {n} x {m} f64"),
                run: Box::new(move |config| expr.compute_report(config).unwrap().1),
                // One partial sum from each other rank (state: sum and compensation).
                lower_bound: Box::new(move |ranks| (ranks as u64 - 1) * 2 * f64s),
            }
        }
        "mean_std" => {
            let (n, c, m) = (8192 * grow / s, 512 / s, 4096 / s);
            let x = chunkwise::random::normal::<f64>(3, 0.0, 1.0, &[n, m], [c, m]).unwrap();
            let mean = x.mean_axis(0);
            let std = x.std_axis(0, 0.0);
            Workload {
                what: format!("mean and std over axis 0, {n} x {m} f64"),
                run: Box::new(move |config| {
                    chunkwise::compute_many_report(&[&mean, &std], config)
                        .unwrap()
                        .1
                }),
                // Per other rank, one row of (count, mean, M2) states (the mean is read off
                // the std's states).
                lower_bound: Box::new(move |ranks| (ranks as u64 - 1) * m as u64 * 3 * f64s),
            }
        }
        "rechunk" => {
            let (n, m) = (8192 * grow / s, 4096 / s);
            let x = chunkwise::random::uniform::<f64>(4, 0.0, 1.0, &[n, m], [512 / s, m]).unwrap();
            let y = x.rechunk([n, 256 / s]).unwrap().sum_axis(0);
            Workload {
                what: format!("rechunk rows to columns, then sum over rows, {n} x {m} f64"),
                run: Box::new(move |config| y.compute_report(config).unwrap().1),
                // Rows split by rank, columns too: all but a rank's own 1/ranks of its rows.
                lower_bound: Box::new(move |ranks| {
                    let total = (n * m) as u64 * f64s;
                    total - total / ranks as u64
                }),
            }
        }
        "matmul" => {
            let n = 2048 * grow / s;
            let k = 2048 / s;
            let a = chunkwise::random::uniform::<f64>(5, 0.0, 1.0, &[n, k], [512 / s, k]).unwrap();
            let b = chunkwise::random::uniform::<f64>(6, 0.0, 1.0, &[k, k], [512 / s, k]).unwrap();
            let c = a.matmul(&b).unwrap().sum();
            Workload {
                what: format!("({n} x {k}) @ ({k} x {k}) f64, summed"),
                run: Box::new(move |config| c.compute_report(config).unwrap().1),
                // Rows of A and of B split by rank: each rank needs the (ranks - 1) / ranks
                // of B it does not hold, (ranks - 1) times B in all.
                lower_bound: Box::new(move |ranks| (ranks as u64 - 1) * (k * k) as u64 * f64s),
            }
        }
        "tsqr" => {
            let (n, k) = (200_000 * grow / s, 50);
            let a =
                chunkwise::random::normal::<f64>(7, 0.0, 1.0, &[n, k], [20_000 / s, k]).unwrap();
            let (_, r) = chunkwise::linalg::qr(&a).unwrap();
            Workload {
                what: format!("TSQR R of {n} x {k} f64"),
                run: Box::new(move |config| r.compute_report(config).unwrap().1),
                // One k x k R factor from each other rank.
                lower_bound: Box::new(move |ranks| (ranks as u64 - 1) * (k * k) as u64 * f64s),
            }
        }
        "zarr" => {
            let (n, m) = (8192 * grow / s, 2048 / s);
            let path = dir.join(format!("in-{grow}"));
            let out = dir.join(format!("out-{grow}"));
            let options = WriteOptions::default().chunks([512 / s, m]);
            Workload {
                what: format!("Zarr to Zarr, x * 0.5 - 1, {n} x {m} f32"),
                run: Box::new(move |config| {
                    let x = zarr::open(&path, "x").unwrap().into_typed::<f32>().unwrap();
                    let options = options
                        .clone()
                        .mode(WriteMode::Overwrite)
                        .config(config.clone());
                    (&x * 0.5 - 1.0).to_zarr(&out, "y", &options).unwrap()
                }),
                // Every chunk is read and written by the same rank.
                lower_bound: Box::new(|_| 0),
            }
        }
        other => panic!("no workload {other}"),
    }
}

/// Writes the Zarr input of weak-scaling factor `grow`, once.
fn zarr_input(grow: usize, dir: &std::path::Path) {
    let s = scale();
    let (n, m) = (8192 * grow / s, 2048 / s);
    let path = dir.join(format!("in-{grow}"));
    if path.join("x").exists() {
        return;
    }
    let x = chunkwise::random::uniform::<f32>(8, 0.0, 1.0, &[n, m], [512 / s, m]).unwrap();
    x.to_zarr(&path, "x", &WriteOptions::default().chunks([512 / s, m]))
        .unwrap();
}

/// The best of three runs: (seconds, report).
fn best(run: &dyn Fn() -> Report, barrier: &dyn Fn()) -> (f64, Report) {
    let mut best: Option<(f64, Report)> = None;
    for _ in 0..3 {
        barrier();
        let start = Instant::now();
        let report = run();
        barrier();
        let t = start.elapsed().as_secs_f64();
        if best.as_ref().is_none_or(|(b, _)| t < *b) {
            best = Some((t, report));
        }
    }
    best.expect("three runs")
}

/// Inside `mpirun`: runs `names` at factor `grow` and prints one line per workload and rank.
fn rank_main(names: &[String], grow: usize, dir: &std::path::Path) {
    let cluster = Cluster::init().unwrap();
    if cluster.is_root() {
        zarr_input(grow, dir);
    }
    cluster.barrier();
    // Results on every rank, so every rank gets its report (they are small here).
    let threads = env_factor("CHUNKWISE_MPI_THREADS");
    let mut config = Config::default()
        .threads(threads)
        .on(&cluster)
        .gather(Gather::All);
    if std::env::var("CHUNKWISE_MPI_OFF").is_ok() {
        // The baseline: this process alone, with the same start as the ranks.
        config.cluster = None;
    }
    for name in names {
        let w = workload(name, grow, dir);
        let (t, report) = best(&|| (w.run)(&config), &|| cluster.barrier());
        println!(
            "RESULT {name} rank={} ranks={} seconds={t:.4} tasks={} moved={} bound={} what={}",
            cluster.rank(),
            cluster.size(),
            report.tasks,
            report.bytes_moved,
            (w.lower_bound)(cluster.size()),
            w.what
        );
    }
}

struct Line {
    name: String,
    seconds: f64,
    tasks: usize,
    moved: u64,
    bound: u64,
    what: String,
}

/// Starts `ranks` processes of this bench on `names` at factor `grow`; their result lines.
/// `alone` makes it one process of 2 threads that computes without the cluster: the
/// baseline, started the same way as the ranks (a fresh process, its allocator cold).
fn mpirun(
    ranks: usize,
    names: &[&str],
    grow: usize,
    dir: &std::path::Path,
    alone: bool,
) -> Vec<Line> {
    let exe = std::env::current_exe().unwrap();
    let mut command = Command::new("mpirun");
    if alone {
        command
            .env("CHUNKWISE_MPI_OFF", "1")
            .env("CHUNKWISE_MPI_THREADS", "2");
    }
    let output = command
        .args([
            "--oversubscribe",
            "--allow-run-as-root",
            "--bind-to",
            "none",
            "-np",
        ])
        .arg(ranks.to_string())
        .arg(exe)
        .env("CHUNKWISE_MPI_BENCH", names.join(","))
        .env("CHUNKWISE_MPI_GROW", grow.to_string())
        .env("CHUNKWISE_MPI_DIR", dir)
        .output()
        .expect("mpirun (install Open MPI)");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "mpirun failed:\n{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    text.lines()
        .filter_map(|l| l.strip_prefix("RESULT "))
        .map(|l| {
            let (head, what) = l.split_once(" what=").unwrap();
            let mut parts = head.split(' ');
            let name = parts.next().unwrap().to_string();
            let field = |key: &str| -> String {
                head.split(' ')
                    .find_map(|p| p.strip_prefix(&format!("{key}=")))
                    .unwrap()
                    .to_string()
            };
            Line {
                name,
                seconds: field("seconds").parse().unwrap(),
                tasks: field("tasks").parse().unwrap(),
                moved: field("moved").parse().unwrap(),
                bound: field("bound").parse().unwrap(),
                what: what.to_string(),
            }
        })
        .collect()
}

/// The workloads `CHUNKWISE_BENCH_ONLY` names (all by default).
fn chosen() -> Vec<&'static str> {
    let only = std::env::var("CHUNKWISE_BENCH_ONLY").unwrap_or_default();
    WORKLOADS
        .into_iter()
        .filter(|w| only.is_empty() || only.split(',').any(|o| o == *w))
        .collect()
}

fn main() {
    let dir = std::env::temp_dir().join("chunkwise-mpi-bench");
    if let Ok(names) = std::env::var("CHUNKWISE_MPI_BENCH") {
        let grow = std::env::var("CHUNKWISE_MPI_GROW")
            .unwrap()
            .parse()
            .unwrap();
        let names: Vec<String> = names.split(',').map(str::to_string).collect();
        return rank_main(&names, grow, &dir);
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    std::fs::create_dir_all(&dir).unwrap();
    let mib = |b: u64| b as f64 / 1048576.0;
    println!("== 2 ranks x 1 thread against 1 process x 2 threads (same machine)");
    println!(
        "{:<10} {:>9} {:>9} {:>7} {:>12} {:>12}  workload",
        "", "1 x 2 s", "2 x 1 s", "ratio", "moved MiB", "bound MiB"
    );
    let size = env_factor("CHUNKWISE_MPI_SIZE");
    let names = chosen();
    // The two sides take turns, round after round, so that a slow spell of this shared
    // machine falls on both; each keeps its best round.
    let mut one = Vec::new();
    let mut two = Vec::new();
    let rounds = std::env::var("CHUNKWISE_MPI_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    for _ in 0..rounds {
        two.push(mpirun(2, &names, size, &dir, false));
        one.push(mpirun(1, &names, size, &dir, true));
    }
    let slowest_rank = |run: &[Line], name: &str| {
        run.iter()
            .filter(|l| l.name == name)
            .map(|l| l.seconds)
            .fold(0.0, f64::max)
    };
    let best_round = |runs: &[Vec<Line>], name: &str| {
        runs.iter()
            .map(|run| slowest_rank(run, name))
            .fold(f64::INFINITY, f64::min)
    };
    for &name in &names {
        let single = best_round(&one, name);
        let t = best_round(&two, name);
        let lines: Vec<&Line> = two[0].iter().filter(|l| l.name == name).collect();
        println!(
            "{name:<10} {single:>9.3} {t:>9.3} {:>6.2}x {:>12.3} {:>12.3}  {}",
            single / t,
            mib(lines[0].moved),
            mib(lines[0].bound),
            lines[0].what
        );
    }
    println!("\n== weak scaling: the data grows with the ranks (oversubscribed past 2 cores)");
    println!(
        "{:<10} {:>5} {:>9} {:>12} {:>12} {:>16}",
        "", "ranks", "seconds", "moved MiB", "bound MiB", "tasks max/mean"
    );
    for name in ["fused", "mean_std", "rechunk", "tsqr"] {
        if !names.contains(&name) {
            continue;
        }
        for ranks in 1..=4 {
            let lines = mpirun(ranks, &[name], ranks, &dir, false);
            let t = lines.iter().map(|l| l.seconds).fold(0.0, f64::max);
            let tasks: Vec<usize> = lines.iter().map(|l| l.tasks).collect();
            let mean = tasks.iter().sum::<usize>() as f64 / tasks.len() as f64;
            let max = *tasks.iter().max().unwrap() as f64;
            println!(
                "{name:<10} {ranks:>5} {t:>9.3} {:>12.3} {:>12.3} {:>16.2}",
                mib(lines[0].moved),
                mib(lines[0].bound),
                max / mean
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

//! Distributed runs under a real `mpirun` (Open MPI or MPICH), on 1 to 4 processes.
//!
//! Each test starts `mpirun -np N` on this test binary's ignored `rank_main` entry with a
//! case name; every rank runs the case on the cluster and checks its result bit for bit
//! against the same computation run in this one process (and that against a dense
//! `ndarray` oracle where the operation has one). A rank whose check fails panics, which
//! fails `mpirun` and so the test.
//!
//! Run with `cargo test --features mpi --test mpi` (needs `mpirun` on the path).

#![cfg(feature = "mpi")]
#![allow(missing_docs)]

use std::path::{Path, PathBuf};

#[path = "common/zarr_util.rs"]
mod zarr_util;

use std::process::Command;
use std::time::Duration;
use zarr_util::TempDir;

use chunkwise::io::zarr::{self, WriteOptions};
use chunkwise::mpi::{Cluster, Gather};
use chunkwise::prelude::*;
use chunkwise::{Error, ExecError};
use ndarray::{ArrayD, IxDyn};

/// Runs `case` on `ranks` processes; panics with their output if `mpirun` fails.
fn mpirun(ranks: usize, case: &str, dir: &Path) {
    let (output, text) = start(ranks, case, dir);
    assert!(
        output.status.success(),
        "{case} on {ranks} ranks failed:\n{text}"
    );
    let passed = text.matches(&format!("case {case} passed")).count();
    assert_eq!(passed, ranks, "{case} on {ranks} ranks:\n{text}");
}

/// Runs `case` on `ranks` processes: how `mpirun` ended, and what the ranks printed.
fn start(ranks: usize, case: &str, dir: &Path) -> (std::process::Output, String) {
    let exe = std::env::current_exe().expect("the test binary");
    let output = Command::new("mpirun")
        .args(["--oversubscribe", "--allow-run-as-root", "-np"])
        .arg(ranks.to_string())
        .arg(exe)
        .args([
            "--exact",
            "rank_main",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CHUNKWISE_MPI_CASE", case)
        .env("CHUNKWISE_MPI_DIR", dir)
        // Open MPI as root in a container: no CMA/ptrace, so shared memory by copy.
        .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot start mpirun (install Open MPI): {e}"));
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, text)
}

#[test]
fn computations_are_bit_identical_on_1_to_4_ranks() {
    let dir = TempDir::new("mpi-compute");
    for ranks in 1..=4 {
        mpirun(ranks, "compute", dir.path());
    }
}

#[test]
fn zarr_to_zarr_writes_every_chunk_once_on_1_to_4_ranks() {
    for ranks in 1..=4 {
        let dir = TempDir::new(&format!("mpi-zarr{ranks}"));
        mpirun(ranks, "zarr", dir.path());
    }
}

#[test]
fn a_failing_task_on_one_rank_stops_every_rank_with_its_error() {
    let dir = TempDir::new("mpi-fail");
    mpirun(3, "panic", dir.path());
    mpirun(2, "corrupt_chunk", dir.path());
}

#[test]
fn each_rank_keeps_its_memory_budget() {
    let dir = TempDir::new("mpi-budget");
    mpirun(3, "budget", dir.path());
}

#[test]
fn a_task_longer_than_the_time_out_does_not_end_the_job() {
    let dir = TempDir::new("mpi-slow");
    mpirun(2, "slow", dir.path());
}

#[test]
fn a_failure_while_another_rank_runs_a_long_task_ends_alike_on_every_rank() {
    let dir = TempDir::new("mpi-fail-slow");
    mpirun(2, "fail_while_slow", dir.path());
}

#[test]
fn ranks_that_plan_different_computations_fail_alike() {
    let dir = TempDir::new("mpi-different");
    mpirun(2, "different", dir.path());
}

#[test]
fn a_computation_on_some_ranks_only_ends_the_job_instead_of_hanging() {
    let dir = TempDir::new("mpi-root_only");
    let began = std::time::Instant::now();
    let (output, text) = start(2, "root_only", dir.path());
    assert!(!output.status.success(), "the job cannot succeed:\n{text}");
    assert!(text.contains("did not finish within"), "{text}");
    assert!(began.elapsed() < Duration::from_secs(30), "{text}");
}

/// The entry `mpirun` starts: runs the case named by `CHUNKWISE_MPI_CASE`.
#[test]
#[ignore = "run by the other tests under mpirun"]
fn rank_main() {
    let case = std::env::var("CHUNKWISE_MPI_CASE").expect("a case");
    let dir = PathBuf::from(std::env::var("CHUNKWISE_MPI_DIR").expect("a directory"));
    let cluster = Cluster::init().unwrap();
    let config = Config::default()
        .threads(1)
        .on(&cluster)
        .exchange_timeout(Duration::from_secs(60));
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match case.as_str() {
        "compute" => compute_cases(&cluster, &config),
        "zarr" => zarr_case(&cluster, &config, &dir),
        "panic" => panic_case(&cluster, &config),
        "corrupt_chunk" => corrupt_chunk_case(&cluster, &config, &dir),
        "budget" => budget_case(&cluster, &config),
        "slow" => slow_case(&cluster, &config),
        "different" => different_case(&cluster, &config),
        "fail_while_slow" => fail_while_slow_case(&cluster, &config),
        "root_only" => root_only_case(&cluster, &config),
        other => panic!("no case {other}"),
    }));
    if run.is_err() {
        // The other ranks may wait in a collective for this one: end the whole job.
        eprintln!("case {case} failed on rank {}", cluster.rank());
        cluster.abort(1);
    }
    println!("case {case} passed on rank {}", cluster.rank());
}

/// The single-process run that a distributed one must match bit for bit.
fn local() -> Config {
    Config::default().threads(2)
}

/// Checks `x` computed on the cluster (gathered on rank 0, then on every rank) against
/// the single-process result, bit for bit.
fn same<T: Element + PartialEq + std::fmt::Debug>(
    what: &str,
    x: &Array<T>,
    cluster: &Cluster,
    config: &Config,
) -> ArrayD<T> {
    let expected = x.compute_with(&local()).unwrap();
    let gathered = x.compute_gathered(config).unwrap();
    assert_eq!(
        gathered.is_some(),
        cluster.is_root(),
        "{what}: gathered on rank 0 only"
    );
    if let Some(result) = gathered {
        assert_eq!(result, expected, "{what}: rank 0 differs from one process");
    }
    let (everywhere, report) = x
        .compute_report(&config.clone().gather(Gather::All))
        .unwrap();
    assert_eq!(
        everywhere,
        expected,
        "{what}: differs on rank {}",
        cluster.rank()
    );
    if std::env::var("CHUNKWISE_MPI_VERBOSE").is_ok() {
        eprintln!(
            "{what}: rank {} ran {} tasks, {} bytes moved",
            cluster.rank(),
            report.tasks,
            report.bytes_moved
        );
    }
    // Each rank ran its share, and tiles moved between them.
    let (_, alone) = x.compute_report(&local()).unwrap();
    if cluster.size() > 1 {
        assert!(
            report.tasks < alone.tasks + alone.tasks / 2,
            "{what}: {} tasks",
            report.tasks
        );
        assert!(report.bytes_moved > 0, "{what}: nothing moved");
    } else {
        assert_eq!(report.bytes_moved, 0, "{what}: one rank sends nothing");
    }
    expected
}

fn close(a: &ArrayD<f64>, b: &ArrayD<f64>, tol: f64) -> bool {
    a.shape() == b.shape()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= tol * (1.0 + y.abs()))
}

fn compute_cases(cluster: &Cluster, config: &Config) {
    let dense = ArrayD::from_shape_fn(IxDyn(&[300, 200]), |i| {
        ((i[0] * 37 + i[1] * 11) % 101) as f64 / 7.0 - 3.0
    });
    let x = chunkwise::from_ndarray(&dense, [64, 50]).unwrap();

    // A fused elementwise chain into a reduction.
    let fused = ((&x * 2.0 + 1.0).sin()).sum();
    let got = same("fused sum", &fused, cluster, config);
    let oracle: f64 = dense.iter().map(|v| (v * 2.0 + 1.0).sin()).sum();
    assert!((got.first().unwrap() - oracle).abs() < 1e-9 * oracle.abs().max(1.0));

    // Mean and standard deviation along an axis, and an anomaly from the mean.
    let mean = same("mean", &x.mean_axis(0), cluster, config);
    let oracle = dense.mean_axis(ndarray::Axis(0)).unwrap();
    assert!(close(&mean, &oracle, 1e-12));
    let std = same("std", &x.std_axis(0, 1.0), cluster, config);
    let oracle = dense.std_axis(ndarray::Axis(0), 1.0);
    assert!(close(&std, &oracle, 1e-12));
    same("anomaly", &(&x - &x.mean_axis(0)), cluster, config);

    // Generated data: every rank makes its own tiles.
    let noise = chunkwise::random::normal::<f64>(5, 0.0, 1.0, &[1000, 60], [100, 60]).unwrap();
    same("generated mean", &noise.mean_axis(0), cluster, config);

    // Rechunk to a grid that cuts across every tile.
    let rechunked = same("rechunk", &x.rechunk([45, 170]).unwrap(), cluster, config);
    assert_eq!(rechunked, dense);

    // Matrix product (tiles of both operands move).
    let b = chunkwise::from_ndarray(&dense.t().to_owned(), [50, 64]).unwrap();
    let product = same("matmul", &x.matmul(&b).unwrap(), cluster, config);
    let d2 = dense.clone().into_dimensionality::<ndarray::Ix2>().unwrap();
    let oracle = d2.dot(&d2.t()).into_dyn();
    assert!(close(&product, &oracle, 1e-10));

    // Budgets that differ between ranks: all plan under the least (rank 0's here, which
    // shortens the links of the contraction's chains), so that their tasks are the same;
    // the sums are those of one process, bit for bit.
    let u = chunkwise::random::uniform::<f64>(3, -1.0, 1.0, &[128, 4096], [128, 128]).unwrap();
    let v = chunkwise::random::uniform::<f64>(4, -1.0, 1.0, &[4096, 128], [128, 128]).unwrap();
    let product = u.matmul(&v).unwrap();
    let budget = match cluster.is_root() {
        true => 4 << 20,
        false => 1 << 30,
    };
    let uneven = config.clone().memory_budget(budget).gather(Gather::All);
    let (got, _) = product.compute_report(&uneven).unwrap();
    assert_eq!(
        got,
        product.compute_with(&local()).unwrap(),
        "rank {}",
        cluster.rank()
    );

    // TSQR: the tree's R factors move, each tile's QR factors stay where they were made.
    let tall = chunkwise::random::normal::<f64>(9, 0.0, 1.0, &[2000, 12], [250, 12]).unwrap();
    let (q, r) = chunkwise::linalg::qr(&tall).unwrap();
    let q = same("tsqr q", &q, cluster, config);
    let r = same("tsqr r", &r, cluster, config);
    let a = tall.compute_with(&local()).unwrap();
    let q2 = q.into_dimensionality::<ndarray::Ix2>().unwrap();
    let r2 = r.into_dimensionality::<ndarray::Ix2>().unwrap();
    assert!(close(&q2.dot(&r2).into_dyn(), &a, 1e-10), "Q R = A");
}

fn zarr_case(cluster: &Cluster, config: &Config, dir: &Path) {
    let dense = ArrayD::from_shape_fn(IxDyn(&[120, 90]), |i| (i[0] * 1000 + i[1]) as f32);
    if cluster.is_root() {
        let x = chunkwise::from_ndarray(&dense, [30, 30]).unwrap();
        x.to_zarr(dir, "in", &WriteOptions::default().chunks([30, 30]))
            .unwrap();
    }
    cluster.barrier();
    let x = zarr::open(dir, "in").unwrap().into_typed::<f32>().unwrap();
    let y = (&x * 0.5 - 1.0).rechunk([40, 45]).unwrap();
    let options = WriteOptions::default()
        .chunks([40, 45])
        .config(config.clone());
    let report = y.to_zarr(dir, "out", &options).unwrap();
    let _ = report;
    cluster.barrier();
    // Every rank reads the written array in one process: what one process would compute.
    let written = zarr::open(dir, "out").unwrap().into_typed::<f32>().unwrap();
    let written = written.compute_with(&local()).unwrap();
    let expected = dense.mapv(|v| v * 0.5 - 1.0);
    assert_eq!(written, expected);
    let chunks = std::fs::read_dir(dir.join("out").join("c")).map(|d| d.count());
    assert!(chunks.is_ok(), "chunks written under out/c");
    // Each process would write its own intermediate array: refused on every rank, and
    // computed in one process it is the rechunked array.
    let scratch = dir.join(format!("scratch-{}", cluster.rank()));
    let via_store = x.rechunk_via_store([120, 10], &scratch).unwrap();
    let refused = via_store.sum_axis(0).compute_with(config).unwrap_err();
    let message = refused.to_string();
    assert!(
        message.contains("rechunk_via_store") && message.contains("distributed run"),
        "{message}"
    );
    assert_eq!(via_store.compute_with(&local()).unwrap(), dense);
    // An overwrite that reads its own target (staged: rank 0 exchanges the directories at
    // the end) replaces it for every rank: a handle any rank opened before refuses to read
    // (as in one process: each rank computes alone here, by its own record of erasures),
    // and one opened again reads the new values.
    let old = zarr::open(dir, "out").unwrap().into_typed::<f32>().unwrap();
    let overwrite = options.mode(zarr::WriteMode::Overwrite);
    (&old * 2.0).to_zarr(dir, "out", &overwrite).unwrap();
    let stale = old.sum().compute_with(&local());
    assert!(
        stale
            .as_ref()
            .is_err_and(|e| e.to_string().contains("open it again")),
        "rank {}: {stale:?}",
        cluster.rank()
    );
    let new = zarr::open(dir, "out").unwrap().into_typed::<f32>().unwrap();
    assert_eq!(
        new.compute_with(&local()).unwrap(),
        expected.mapv(|v| v * 2.0)
    );
}

fn panic_case(cluster: &Cluster, config: &Config) {
    let x = chunkwise::arange::<f64>(0.0, 1000.0, 1.0, [100]).unwrap();
    // The last block runs on the last rank.
    let bad = x
        .map_blocks(|b| {
            if b[0] == 900.0 {
                panic!("boom in the last block");
            }
            Ok(b.clone())
        })
        .unwrap()
        .sum();
    let err = bad.compute_gathered(config).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("boom in the last block"),
        "rank {}: {text}",
        cluster.rank()
    );
    let last = cluster.size() - 1;
    if cluster.rank() != last {
        assert!(
            matches!(&err, Error::Exec(ExecError::OnRank { rank, .. }) if *rank == last),
            "rank {}: {err:?}",
            cluster.rank()
        );
    }
    // The ranks stay usable: the next computation runs.
    let sum = x.sum().compute_gathered(config).unwrap();
    if let Some(sum) = sum {
        assert_eq!(*sum.first().unwrap(), 499_500.0);
    }
}

fn corrupt_chunk_case(cluster: &Cluster, config: &Config, dir: &Path) {
    let dense = ArrayD::from_shape_fn(IxDyn(&[64, 64]), |i| (i[0] + i[1]) as f64);
    let name = "corrupt";
    if cluster.is_root() {
        let _ = std::fs::remove_dir_all(dir.join(name));
        let x = chunkwise::from_ndarray(&dense, [16, 64]).unwrap();
        x.to_zarr(dir, name, &WriteOptions::default().chunks([16, 64]))
            .unwrap();
        // A chunk that the last rank reads: garbage where compressed data should be.
        std::fs::write(dir.join(name).join("c").join("3").join("0"), b"not a chunk").unwrap();
        // A missing chunk reads as the fill value, as in one process.
        std::fs::remove_file(dir.join(name).join("c").join("0").join("0")).unwrap();
    }
    cluster.barrier();
    let x = zarr::open(dir, name).unwrap().into_typed::<f64>().unwrap();
    let err = x.sum().compute_gathered(config).unwrap_err();
    assert!(
        err.to_string().contains("c/3/0"),
        "rank {}: {err}",
        cluster.rank()
    );
    let head = x.slice(ndarray::s![0..48, ..]).unwrap().sum();
    same("missing chunk", &head, cluster, config);
    cluster.barrier();
}

fn budget_case(cluster: &Cluster, config: &Config) {
    let dense = ArrayD::from_shape_fn(IxDyn(&[2000, 100]), |i| (i[0] % 17 + i[1]) as f64);
    let x = chunkwise::from_ndarray(&dense, [100, 100]).unwrap();
    let anomaly = &x - &x.mean_axis(0);
    let budget = 1 << 20;
    let tight = config.clone().memory_budget(budget).gather(Gather::All);
    let (result, report) = anomaly.compute_report(&tight).unwrap();
    assert_eq!(result, anomaly.compute_with(&local()).unwrap());
    assert!(
        report.peak_bytes <= budget,
        "rank {}: peak {} over the budget {budget}",
        cluster.rank(),
        report.peak_bytes
    );
    // Tiles waiting for another rank to take them are held beside the budget: at most the
    // tiles this rank makes for others (here: its share of the result, sent to two ranks).
    let result_bytes = (2000 * 100 * 8) as u64;
    assert!(report.peak_sending_bytes <= result_bytes, "{report:?}");
}

fn slow_case(cluster: &Cluster, config: &Config) {
    let config = config.clone().exchange_timeout(Duration::from_millis(800));
    let x = chunkwise::arange::<f64>(0.0, 1000.0, 1.0, [100]).unwrap();
    // The last block (on rank 1) takes several time-outs. Rank 0 waits for its tile, then
    // rank 1 waits for rank 0 to finish, each hearing the other work meanwhile.
    let slow = x
        .map_blocks(|b| {
            if b[0] == 900.0 {
                std::thread::sleep(Duration::from_secs(4));
            }
            Ok(b.clone())
        })
        .unwrap()
        .sum();
    let began = std::time::Instant::now();
    let result = slow.compute_gathered(&config).unwrap();
    assert!(began.elapsed() >= Duration::from_secs(4));
    if cluster.is_root() {
        assert_eq!(result.unwrap().sum(), 499_500.0);
    }
    // The same cluster runs again: no sign of the last run is taken for one of this run.
    same("after a slow run", &x.cumsum(0).unwrap(), cluster, &config);
}

fn fail_while_slow_case(cluster: &Cluster, config: &Config) {
    let config = config.clone().exchange_timeout(Duration::from_millis(800));
    let x = chunkwise::arange::<f64>(0.0, 1000.0, 1.0, [100]).unwrap();
    // Rank 0's first block fails at once, while rank 1's first block takes several
    // time-outs: rank 0 waits for it to end, hearing it work, instead of ending the job.
    let rank = cluster.rank();
    let bad = x
        .map_blocks(move |b| {
            match rank {
                0 if b[0] == 0.0 => panic!("boom in the first block"),
                1 => std::thread::sleep(Duration::from_secs(3)),
                _ => {}
            }
            Ok(b.clone())
        })
        .unwrap()
        .sum();
    let err = bad.compute_gathered(&config).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("boom in the first block"),
        "rank {rank}: {text}"
    );
    // The ranks stay usable: nothing of the failed run is taken for the next one.
    same(
        "after a failure during a long task",
        &x.cumsum(0).unwrap(),
        cluster,
        &config,
    );
}

fn different_case(cluster: &Cluster, config: &Config) {
    // Mistakes: the ranks chunk the array differently, so their tasks differ; or they
    // compute another operation, in tasks of the same shapes.
    let chunk = if cluster.is_root() { 10 } else { 20 };
    let x = chunkwise::arange::<f64>(0.0, 100.0, 1.0, [chunk]).unwrap();
    let z = chunkwise::arange::<f64>(0.0, 100.0, 1.0, [10]).unwrap();
    let other = match cluster.is_root() {
        true => &z + 1.0,
        false => &z * 2.0,
    };
    for mistake in [x.sum(), other.sum()] {
        let err = mistake.compute_gathered(config).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("planned different computations"), "{text}");
    }
    // The cluster is still in step: the same computation runs.
    let y = chunkwise::arange::<f64>(0.0, 100.0, 1.0, [10]).unwrap();
    same(
        "after plans that differed",
        &y.cumsum(0).unwrap(),
        cluster,
        config,
    );
}

fn root_only_case(cluster: &Cluster, config: &Config) {
    // A mistake: only rank 0 computes. It waits for the others, then ends the job.
    if cluster.is_root() {
        let config = config.clone().exchange_timeout(Duration::from_secs(2));
        let x = chunkwise::arange::<f64>(0.0, 100.0, 1.0, [10]).unwrap();
        let result = x.sum().compute_gathered(&config);
        panic!("rank 0 returned {result:?}");
    }
    // The other rank waits here (as a real program would go on) until the job ends.
    std::thread::sleep(Duration::from_secs(60));
}

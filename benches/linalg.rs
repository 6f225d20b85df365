//! `cargo bench --bench linalg`: tiled linear algebra beside dense single calls of the same
//! size in the same run.
//!
//! - matmul 8192² f64 in 2048² tiles and 4096² f32 in 1024² tiles, in GFLOP/s, against one
//!   BLAS GEMM call on all cores (and one faer call, for the BLIS-versus-faer figure);
//! - tile kernels on one thread: GEMM (BLAS and faer), Cholesky, LU, and a TSQR tile by
//!   Householder and by CholeskyQR2;
//! - TSQR of 2,000,000 x 100 f64 in 100,000-row tiles (Q and R), against faer's dense QR on
//!   all cores;
//! - Cholesky of an 8192² SPD f64 matrix in 1024² tiles, against faer's dense Cholesky;
//! - matmul of two 16384² f64 matrices stored in Zarr, written to Zarr, with a memory budget
//!   of 2 GiB: time and peak RSS;
//! - `aat`: `(a @ a.T).sum()` of a 10240² f64 matrix in 4096² tiles (upper triangle of
//!   tiles, diagonal by syrk, no transposed copy), against one dense BLAS `syrk` (what NumPy
//!   calls for `an @ an.T`) and one dense GEMM on all cores;
//! - `gram`: `solve(x.T @ x, x.T @ y)` for a lazily generated 3,000,000 x 120 f64 `x` in
//!   200,000-row tiles and `y` 3,000,000 x 1 (one pass over `x`): time and peak RSS, beside
//!   Dask's 6.9 s (measured on a Zen 4 for the issue).
//!
//! `CHUNKWISE_BENCH_SCALE=4` divides the sizes by 4; `CHUNKWISE_BENCH_ONLY=tsqr,cholesky`
//! runs some cases (matmul, kernels, tsqr, cholesky, zarr, aat, gram). With more than one selected,
//! each runs in a process of its own.
#![allow(missing_docs)]

mod common;

use common::{reset_peak_rss, rss_mib, scale};

use std::time::Instant;

use chunkwise::io::zarr::{self, Compression, WriteOptions};
use chunkwise::{Config, FloatElement, linalg};
use chunkwise_kernels::linalg::{BLAS_LIBRARY, Op, gemm, with_blas_threads};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};

fn best_of<R>(reps: usize, mut f: impl FnMut() -> R) -> f64 {
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

/// Uniform values in [0, 1) of the given shape, row-major.
fn uniform(seed: u64, shape: &[usize]) -> Vec<f64> {
    let array = chunkwise::random::uniform::<f64>(seed, 0.0, 1.0, shape, shape.to_vec());
    array
        .unwrap()
        .compute()
        .unwrap()
        .into_raw_vec_and_offset()
        .0
}

fn threads() -> usize {
    std::thread::available_parallelism()
        .map(|t| t.get())
        .unwrap_or(1)
}

fn matmul_case<T: FloatElement>(n: usize, tile: usize) {
    let name = std::any::type_name::<T>();
    let a = chunkwise::random::uniform::<T>(1, T::ZERO, T::ONE, &[n, n], [tile, tile])
        .unwrap()
        .persist()
        .unwrap();
    let b = chunkwise::random::uniform::<T>(2, T::ZERO, T::ONE, &[n, n], [tile, tile])
        .unwrap()
        .persist()
        .unwrap();
    let product = a.matmul(&b).unwrap();
    let flops = 2.0 * (n as f64).powi(3);
    let ours = best_of(3, || product.compute().unwrap());
    let (da, db) = (a.compute().unwrap(), b.compute().unwrap());
    let (da, db) = (da.as_slice().unwrap(), db.as_slice().unwrap());
    let mut out = vec![T::ZERO; n * n];
    let blas = with_blas_threads(threads(), || {
        best_of(3, || {
            gemm(
                Op::Plain,
                Op::Plain,
                n,
                n,
                n,
                T::ONE,
                da,
                db,
                T::ZERO,
                &mut out,
            )
        })
    });
    let faer_call = best_of(3, || {
        let dst = MatMut::from_row_major_slice_mut(&mut out, n, n);
        matmul(
            dst,
            Accum::Replace,
            MatRef::from_row_major_slice(da, n, n),
            MatRef::from_row_major_slice(db, n, n),
            T::ONE,
            Par::rayon(threads()),
        );
    });
    let g = |s: f64| flops / s / 1e9;
    println!(
        "matmul {n}² {name} in {tile}² tiles: {:.1} GFLOP/s ({ours:.2} s) | one {BLAS_LIBRARY} GEMM call on {} threads: {:.1} GFLOP/s -> {:.2}x | one faer call: {:.1} GFLOP/s -> {:.2}x",
        g(ours),
        threads(),
        g(blas),
        blas / ours,
        g(faer_call),
        faer_call / ours,
    );
}

/// Single-thread tile kernels: the choice of BLAS for GEMM and faer for factorizations.
fn kernels(s: usize) {
    let n = 2048 / s;
    let a = uniform(7, &[n, n]);
    let mut c = vec![0.0; n * n];
    let flops = 2.0 * (n as f64).powi(3);
    let blas = best_of(3, || {
        gemm(Op::Plain, Op::Plain, n, n, n, 1.0, &a, &a, 0.0, &mut c)
    });
    let faer_gemm = best_of(3, || {
        matmul(
            MatMut::from_row_major_slice_mut(&mut c, n, n),
            Accum::Replace,
            MatRef::from_row_major_slice(&a, n, n),
            MatRef::from_row_major_slice(&a, n, n),
            1.0,
            Par::Seq,
        )
    });
    println!(
        "tile GEMM {n}² f64 on one thread: {BLAS_LIBRARY} {:.1} GFLOP/s, faer {:.1} GFLOP/s -> BLAS/faer {:.2}x",
        flops / blas / 1e9,
        flops / faer_gemm / 1e9,
        faer_gemm / blas
    );
    let spd: Vec<f64> = (0..n * n)
        .map(|i| {
            if i / n == i % n {
                n as f64
            } else {
                a[i].min(a[(i % n) * n + i / n])
            }
        })
        .collect();
    let chol = best_of(3, || {
        chunkwise_kernels::linalg::cholesky_lower(&spd, n).unwrap()
    });
    let mut lu_input = a.clone();
    let lu = best_of(1, || {
        lu_input.copy_from_slice(&a);
        chunkwise_kernels::linalg::lu_partial_pivoting(&mut lu_input, n, n).unwrap()
    });
    println!(
        "tile factorizations on one thread (faer): Cholesky {n}² {:.1} GFLOP/s, LU {n}² {:.1} GFLOP/s",
        (n as f64).powi(3) / 3.0 / chol / 1e9,
        2.0 * (n as f64).powi(3) / 3.0 / lu / 1e9,
    );
    tsqr_tile(s);
}

/// One TSQR leaf on one thread: factoring a tall tile and applying its `Q`, by Householder
/// reflectors (faer) and by CholeskyQR2, and the Gram matrix CholeskyQR2 is built on.
fn tsqr_tile(s: usize) {
    use chunkwise_kernels::linalg::{QrMethod, TileQr, add_gram};
    let (m, k) = (100_000 / s, 100);
    let tall = uniform(8, &[m, k]);
    let householder = best_of(3, || TileQr::householder(&tall, m, k));
    let cholesky_qr2 = best_of(3, || TileQr::new(&tall, m, k));
    let (h, c) = (TileQr::householder(&tall, m, k), TileQr::new(&tall, m, k));
    assert_eq!(c.method(), QrMethod::CholeskyQr2);
    let top = uniform(9, &[k, k]);
    let apply_h = best_of(3, || h.q_times(&top, k));
    let apply_c = best_of(3, || c.q_times(&top, k));
    let mut gram = vec![0.0; k * k];
    let ours = best_of(3, || add_gram(&mut gram, &tall, m, k));
    let mut lower = Mat::<f64>::zeros(k, k);
    let faer_gram = best_of(3, || {
        use faer::linalg::matmul::triangular::{BlockStructure, matmul};
        let a = MatRef::from_row_major_slice(&tall, m, k);
        matmul(
            lower.as_mut(),
            BlockStructure::TriangularLower,
            Accum::Replace,
            a.transpose(),
            BlockStructure::Rectangular,
            a,
            BlockStructure::Rectangular,
            1.0,
            Par::Seq,
        )
    });
    println!(
        "TSQR tile {m} x {k} on one thread: factor by Householder {:.1} ms, by CholeskyQR2 {:.1} ms -> {:.2}x; Q @ ({k} x {k}) {:.1} ms vs {:.1} ms -> {:.2}x; Gram aᵀa {:.1} ms vs faer's triangular product {:.1} ms -> {:.2}x",
        householder * 1e3,
        cholesky_qr2 * 1e3,
        householder / cholesky_qr2,
        apply_h * 1e3,
        apply_c * 1e3,
        apply_h / apply_c,
        ours * 1e3,
        faer_gram * 1e3,
        faer_gram / ours
    );
}

fn tsqr(s: usize) {
    let (m, n, tile) = (2_000_000 / s, 100, 100_000 / s);
    let a = chunkwise::random::uniform::<f64>(3, 0.0, 1.0, &[m, n], [tile, n])
        .unwrap()
        .persist()
        .unwrap();
    let (q, r) = linalg::qr(&a).unwrap();
    let ours = best_of(2, || chunkwise::compute_many(&[&q, &r]).unwrap());
    let r_only = best_of(2, || r.compute().unwrap());
    let dense = a.compute().unwrap();
    let dense = dense.as_slice().unwrap();
    let full = best_of(2, || {
        let matrix = MatRef::from_row_major_slice(dense, m, n).to_owned();
        let qr = dense_qr(matrix);
        std::hint::black_box(qr)
    });
    println!(
        "TSQR {m} x {n} f64 in {tile}-row tiles, Q and R: {ours:.2} s (R alone {r_only:.2} s) | faer dense QR (Q and R) on {} threads: {full:.2} s -> {:.2}x",
        threads(),
        full / ours
    );
}

/// faer's dense QR on all cores: (thin Q, R).
fn dense_qr(mut a: Mat<f64>) -> (Mat<f64>, Mat<f64>) {
    let (m, n) = a.shape();
    let par = Par::rayon(threads());
    let block = faer::linalg::qr::no_pivoting::factor::recommended_block_size::<f64>(m, n);
    let mut coeff = Mat::<f64>::zeros(block, n);
    let mut buffer = MemBuffer::new(
        faer::linalg::qr::no_pivoting::factor::qr_in_place_scratch::<f64>(
            m,
            n,
            block,
            par,
            Default::default(),
        )
        .or(faer::linalg::householder::apply_block_householder_sequence_on_the_left_in_place_scratch::<f64>(m, block, n)),
    );
    faer::linalg::qr::no_pivoting::factor::qr_in_place(
        a.as_mut(),
        coeff.as_mut(),
        par,
        MemStack::new(&mut buffer),
        Default::default(),
    );
    let r = Mat::from_fn(n, n, |i, j| if i <= j { a[(i, j)] } else { 0.0 });
    let mut q = Mat::<f64>::zeros(m, n);
    for i in 0..n {
        q[(i, i)] = 1.0;
    }
    faer::linalg::householder::apply_block_householder_sequence_on_the_left_in_place_with_conj(
        a.as_ref(),
        coeff.as_ref(),
        faer::Conj::No,
        q.as_mut(),
        par,
        MemStack::new(&mut buffer),
    );
    (q, r)
}

fn cholesky(s: usize) {
    let (n, tile) = (8192 / s, 1024 / s);
    // (R + R^T) / 2 + n I with R uniform in [0, 1): symmetric, diagonally dominant.
    let r = chunkwise::random::uniform::<f64>(4, 0.0, 1.0, &[n, n], [tile, tile]).unwrap();
    let a = ((&r + &r.transpose()) * 0.5
        + chunkwise::eye::<f64>(n, n, 0, [tile, tile]).unwrap() * n as f64)
        .persist()
        .unwrap();
    let l = linalg::cholesky(&a).unwrap();
    let ours = best_of(3, || l.compute().unwrap());
    let dense = a.compute().unwrap();
    let dense = dense.as_slice().unwrap();
    let full = best_of(3, || {
        MatRef::from_row_major_slice(dense, n, n)
            .to_owned()
            .llt(faer::Side::Lower)
            .unwrap()
    });
    let flops = (n as f64).powi(3) / 3.0;
    println!(
        "Cholesky {n}² f64 in {tile}² tiles: {ours:.2} s ({:.1} GFLOP/s) | faer dense Cholesky on {} threads: {full:.2} s ({:.1} GFLOP/s) -> {:.2}x",
        flops / ours / 1e9,
        threads(),
        flops / full / 1e9,
        full / ours
    );
}

fn zarr_matmul(s: usize) {
    let (n, tile) = (16384 / s, 2048 / s);
    let budget: u64 = 2 << 30;
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-linalg-zarr");
    let _ = std::fs::remove_dir_all(&dir);
    let options = WriteOptions::default().compression(Compression::None);
    for (seed, name) in [(5, "a"), (6, "b")] {
        chunkwise::random::uniform::<f64>(seed, -1.0, 1.0, &[n, n], [tile, tile])
            .unwrap()
            .to_zarr(&dir, name, &options)
            .unwrap();
    }
    let a = zarr::open(&dir, "a").unwrap().into_typed::<f64>().unwrap();
    let b = zarr::open(&dir, "b").unwrap().into_typed::<f64>().unwrap();
    let config = Config::default().memory_budget(budget);
    let out = options.clone().config(config.clone());
    println!(
        "{}",
        a.matmul(&b)
            .unwrap()
            .explain_with(&config)
            .unwrap()
            .lines()
            .next()
            .unwrap_or_default()
    );
    reset_peak_rss();
    let before = rss_mib("VmRSS:");
    let t = Instant::now();
    a.matmul(&b).unwrap().to_zarr(&dir, "c", &out).unwrap();
    let took = t.elapsed().as_secs_f64();
    let peak = rss_mib("VmHWM:");
    // Check one tile of the result against the dense product of its panels.
    let c = zarr::open(&dir, "c").unwrap().into_typed::<f64>().unwrap();
    let rows = a.slice(ndarray::s![..tile, ..]).unwrap().compute().unwrap();
    let cols = b.slice(ndarray::s![.., ..tile]).unwrap().compute().unwrap();
    let want = rows
        .into_dimensionality::<ndarray::Ix2>()
        .unwrap()
        .dot(&cols.into_dimensionality::<ndarray::Ix2>().unwrap());
    let got = c
        .slice(ndarray::s![..tile, ..tile])
        .unwrap()
        .compute()
        .unwrap();
    let error = (&got - &want.into_dyn())
        .iter()
        .fold(0.0f64, |m, d| m.max(d.abs()));
    println!(
        "out-of-core matmul {n}² f64 Zarr -> Zarr in {tile}² chunks, budget {} MiB: {took:.1} s ({:.1} GFLOP/s), peak RSS {peak:.0} MiB (at start {before:.0} MiB) -> {:.2} of the budget; largest difference of tile (0, 0) from ndarray's dense product of its panels: {error:.1e}",
        budget >> 20,
        2.0 * (n as f64).powi(3) / took / 1e9,
        peak / (budget >> 20) as f64
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `(a @ a.T).sum()` beside one dense symmetric product on all cores.
fn aat(s: usize) {
    use chunkwise_kernels::linalg::syrk;
    let (n, tile) = (10240 / s, 4096 / s);
    let a = chunkwise::random::uniform::<f64>(11, 0.0, 1.0, &[n, n], [tile, tile])
        .unwrap()
        .persist()
        .unwrap();
    let total = a.matmul(&a.transpose()).unwrap().sum();
    let plan = total.explain().unwrap();
    assert!(!has_transpose_copy(&plan), "a transposed copy:\n{plan}");
    let ours = best_of(2, || total.compute().unwrap());
    let dense = a.compute().unwrap();
    let dense = dense.as_slice().unwrap();
    let mut out = vec![0.0; n * n];
    let (dense_syrk, dense_gemm) = with_blas_threads(threads(), || {
        let syrk_time = best_of(2, || syrk(Op::Plain, n, n, 1.0, dense, 0.0, &mut out));
        let gemm_time = best_of(2, || {
            gemm(
                Op::Plain,
                Op::Transposed,
                n,
                n,
                n,
                1.0,
                dense,
                dense,
                0.0,
                &mut out,
            )
        });
        (syrk_time, gemm_time)
    });
    println!(
        "(a @ a.T).sum() {n}² f64 in {tile}² tiles: {ours:.2} s | one {BLAS_LIBRARY} syrk on {} threads (NumPy's call for an @ an.T): {dense_syrk:.2} s -> ours/syrk {:.2}x | one GEMM an @ an.T: {dense_gemm:.2} s -> ours/GEMM {:.2}x",
        threads(),
        ours / dense_syrk,
        ours / dense_gemm,
    );
}

/// `solve(x.T @ x, x.T @ y)` of a lazily generated tall `x`: time and peak RSS.
fn gram(s: usize) {
    let (m, n, tile) = (3_000_000 / s, 120, 200_000 / s);
    let x = chunkwise::random::uniform::<f64>(12, 0.0, 1.0, &[m, n], [tile, n]).unwrap();
    let y = chunkwise::random::uniform::<f64>(13, 0.0, 1.0, &[m, 1], [tile, 1]).unwrap();
    let xt = x.transpose();
    let beta = linalg::solve(&xt.matmul(&x).unwrap(), &xt.matmul(&y).unwrap()).unwrap();
    let plan = beta.explain().unwrap();
    assert!(!has_transpose_copy(&plan), "a transposed copy:\n{plan}");
    reset_peak_rss();
    let before = rss_mib("VmRSS:");
    let took = best_of(2, || beta.compute().unwrap());
    let peak = rss_mib("VmHWM:");
    const DASK_SECONDS: f64 = 6.9;
    println!(
        "solve(x.T @ x, x.T @ y), x {m} x {n} f64 in {tile}-row tiles (generated, one pass): {took:.2} s, peak RSS {peak:.0} MiB (at start {before:.0} MiB) | Dask 6.9 s on a Zen 4 -> {:.1}x",
        DASK_SECONDS / took
    );
}

/// A named workload, run at a size scale.
type Workload = (&'static str, fn(usize));

fn matmuls(s: usize) {
    matmul_case::<f64>(8192 / s, 2048 / s);
    matmul_case::<f32>(4096 / s, 1024 / s);
}

/// Runs the workloads that `CHUNKWISE_BENCH_ONLY` names (comma-separated; all if unset).
/// One workload runs here; several run each in a process of its own, so that each starts
/// from a fresh heap (the tiles a previous workload freed change the page faults of the
/// next: TSQR measured up to 1.5x slower after the matmuls) and its peak RSS is its own.
fn main() {
    // Measured as a batch application runs: malloc keeps tile buffers for reuse, large
    // results get huge pages (opt-in, process-wide: see `tune_allocator`).
    chunkwise::tune_allocator();
    let s = scale();
    let workloads: [Workload; 7] = [
        ("matmul", matmuls),
        ("kernels", kernels),
        ("tsqr", tsqr),
        ("cholesky", cholesky),
        ("zarr", zarr_matmul),
        ("aat", aat),
        ("gram", gram),
    ];
    let only = std::env::var("CHUNKWISE_BENCH_ONLY").unwrap_or_default();
    let selected: Vec<&Workload> = workloads
        .iter()
        .filter(|(name, _)| only.is_empty() || only.split(',').any(|o| o == *name))
        .collect();
    if let [(_, run)] = selected.as_slice() {
        run(s);
        return;
    }
    for (name, _) in selected {
        let status = std::process::Command::new(std::env::current_exe().expect("this bench"))
            .env("CHUNKWISE_BENCH_ONLY", name)
            .status()
            .expect("the bench runs itself");
        assert!(status.success(), "the {name} workload failed");
    }
}

/// Whether a plan holds a transposed copy: a node that only reads its input through a
/// permutation of its axes (`Elemwise in0 with in0 = [:, :] axes [1, 0]`).
fn has_transpose_copy(plan: &str) -> bool {
    plan.lines()
        .any(|l| l.contains("Elemwise in0 with in0 = ") && l.contains(" axes ["))
}

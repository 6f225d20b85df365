//! `cargo bench --bench views`: views (misaligned slices) and halos (`map_overlap`), the
//! workloads of `../shared/peers/dask_baseline.py` of the same names, each beside an
//! in-process baseline with its result checked against the baseline's:
//! - `stencil`: a five-point Laplacian from misaligned slices of random 16000 x 16000 f64
//!   in 2000 x 2000 tiles, the mean of its square; baseline: one parallel ndarray `Zip`
//!   over the five slices of the materialised array;
//! - `shifted_diff`: `z = (v[1:, :-1] - v[:-1, :-1]) / 0.25 - (u[:-1, 1:] - u[:-1, :-1]) / 0.5`
//!   and `z.mean(axis=2)` on random (1500, 1500, 60) f64 in (1500, 1500, 1) tiles;
//!   baseline: a parallel loop over the output on the materialised `u` and `v`;
//! - `overlap_window`: a 10 x 10 window of a depth-1 reflecting `map_overlap(2b - 1)` of random
//!   8000 x 8000 in 40 x 40 tiles (40,000 tiles), graph building included (target: under
//!   50 ms); baseline: the same window of the fused `2x - 1` without a halo;
//! - `overlap_smooth`: a 7 x 7 moving average through a depth-3 periodic `map_overlap` of
//!   random 16000 x 16000 in 1000 x 1000 tiles, then the sum; baseline: the same block
//!   function over row bands of a materialised, periodically padded array, in parallel;
//! - `transpose`: the kernel of a transpose computed alone (`a.t().compute()`, or fed to a
//!   sink): one (2048 / scale) x 2048 f64 tile copied transposed on one thread, by the blocked copy (`TileView::gather_tile`),
//!   by the strip-by-strip strided gather it replaces, and as a plain contiguous copy;
//!   element rates and their ratios, measured side by side.
//!
//! chunkwise's times include generating the random inputs (in the kernels, as Dask's do);
//! the baselines' exclude it (and the padding): they start from arrays in memory. Peak RSS
//! is the growth of this process's high-water mark over the run (the baselines' include
//! their materialised inputs). Each workload runs in a process of its own, so one's memory
//! does not show in another's; name some with `CHUNKWISE_BENCH_ONLY=stencil,shifted_diff`
//! (or as arguments). `CHUNKWISE_BENCH_SCALE=4` divides every side by 4 for a quick run.
#![allow(missing_docs)]
// ndarray's `s![1..-1]` is a meaningful slice, not an empty Rust range
#![allow(clippy::reversed_empty_ranges)]

mod common;

use common::{Workload, config, explain, median, pool, report, run_selected, with_peak_rss};

use std::time::{Duration, Instant};

use chunkwise::prelude::*;
use chunkwise::{Boundary, MapOverlap};
use ndarray::{Array2, Array3, ArrayD, ArrayView2, Ix2, Ix3, Zip, s};
use rayon::prelude::*;

fn random(seed: u64, shape: &[usize], chunks: &[usize]) -> Array<f64> {
    chunkwise::random::uniform::<f64>(seed, 0.0, 1.0, shape, chunks.to_vec()).unwrap()
}

/// Computes `x`, and says how many tasks the run had and the most bytes it held at once.
fn run(x: &Array<f64>, cfg: &Config) -> (ArrayD<f64>, String) {
    let (value, report) = x.compute_report(cfg).unwrap();
    let plan = format!(
        "{} tasks, peak {:.0} MiB held",
        report.tasks,
        report.peak_bytes as f64 / 1048576.0
    );
    (value, plan)
}

/// [`run`] for a 0-d result.
fn scalar(x: &Array<f64>, cfg: &Config) -> (f64, String) {
    let (value, plan) = run(x, cfg);
    (value.into_iter().next().unwrap(), plan)
}

fn sl(a: &Array<f64>, info: impl AsRef<[ndarray::SliceInfoElem]>) -> Array<f64> {
    a.slice(info).unwrap()
}

fn dense2(x: &Array<f64>) -> Array2<f64> {
    x.compute().unwrap().into_dimensionality::<Ix2>().unwrap()
}

/// Asserts `got` within `rel` of `want` (relative to the larger magnitude, at least 1).
fn assert_close(what: &str, got: f64, want: f64, rel: f64) -> String {
    let err = (got - want).abs();
    let tol = rel * got.abs().max(want.abs()).max(1.0);
    assert!(
        err <= tol,
        "{what}: chunkwise {got:e}, baseline {want:e} (difference {err:e} over {tol:e})"
    );
    format!("{what} {got:.12e}, agrees within {err:.1e}")
}

fn stencil(s: usize) {
    let (n, c) = (16_000 / s, 2000 / s);
    let x = random(1, &[n, n], &[c, c]);
    let lap = sl(&x, s![2.., 1..-1])
        + sl(&x, s![..-2, 1..-1])
        + sl(&x, s![1..-1, 2..])
        + sl(&x, s![1..-1, ..-2])
        - sl(&x, s![1..-1, 1..-1]) * 4.0;
    let expr = (&lap * &lap).mean();
    explain(&expr);
    let cfg = config();
    let (rss, (t, (value, plan))) = with_peak_rss(|| median(3, || scalar(&expr, &cfg)));
    drop(expr);

    let (rss_b, (tb, want)) = with_peak_rss(|| {
        let xd = dense2(&x);
        let pool = pool();
        median(3, || {
            pool.install(|| {
                Zip::from(xd.slice(s![1..-1, 1..-1]))
                    .and(xd.slice(s![2.., 1..-1]))
                    .and(xd.slice(s![..-2, 1..-1]))
                    .and(xd.slice(s![1..-1, 2..]))
                    .and(xd.slice(s![1..-1, ..-2]))
                    .par_fold(
                        || 0.0,
                        |acc, &c, &a, &b, &l, &r| {
                            let v = a + b + l + r - 4.0 * c;
                            acc + v * v
                        },
                        |a, b| a + b,
                    )
            }) / ((n - 2) * (n - 2)) as f64
        })
    });
    let check = assert_close("mean of the square", value, want, 1e-10) + "; " + &plan;
    report(
        &format!("stencil {n}^2 in {c}^2 tiles"),
        (t, rss),
        (tb, rss_b),
        "dense ndarray, parallel Zip over the five slices, input in memory",
        &check,
    );
}

fn shifted_diff(s: usize) {
    let (nx, ny, nt) = (1500 / s, 1500 / s, 60);
    let u = random(2, &[nx, ny, nt], &[nx, ny, 1]);
    let v = random(3, &[nx, ny, nt], &[nx, ny, 1]);
    let z = (sl(&v, s![1.., ..-1]) - sl(&v, s![..-1, ..-1])) / 0.25
        - (sl(&u, s![..-1, 1..]) - sl(&u, s![..-1, ..-1])) / 0.5;
    let expr = z.mean_axis(2);
    explain(&expr);
    let cfg = config();
    let (rss, (t, (got, plan))) = with_peak_rss(|| median(3, || run(&expr, &cfg)));
    drop(expr);

    let (rss_b, (tb, want)) = with_peak_rss(|| {
        let to3 = |a: &Array<f64>| a.compute().unwrap().into_dimensionality::<Ix3>().unwrap();
        let (ud, vd): (Array3<f64>, Array3<f64>) = (to3(&u), to3(&v));
        let (us, vs) = (ud.as_slice().unwrap(), vd.as_slice().unwrap());
        // the `nt` values of (i, j), contiguous in C order
        fn lane(a: &[f64], at: usize, nt: usize) -> &[f64] {
            &a[at * nt..][..nt]
        }
        let pool = pool();
        let timed = median(3, || {
            let mut out = Array2::<f64>::zeros((nx - 1, ny - 1));
            pool.install(|| {
                Zip::indexed(&mut out).par_for_each(|(i, j), o| {
                    let at = i * ny + j;
                    let (v1, v0) = (lane(vs, at + ny, nt), lane(vs, at, nt));
                    let (u1, u0) = (lane(us, at + 1, nt), lane(us, at, nt));
                    let mut acc = 0.0;
                    for t in 0..nt {
                        acc += (v1[t] - v0[t]) / 0.25 - (u1[t] - u0[t]) / 0.5;
                    }
                    *o = acc / nt as f64;
                })
            });
            out
        });
        drop((ud, vd));
        timed
    });
    let got = got.into_dimensionality::<Ix2>().unwrap();
    assert_eq!(got.dim(), want.dim());
    let err = Zip::from(&got)
        .and(&want)
        .fold(0.0f64, |m, a, b| m.max((a - b).abs()));
    assert!(err <= 1e-11, "shifted_diff: largest difference {err:e}");
    report(
        &format!("shifted_diff ({nx}, {ny}, {nt}) in ({nx}, {ny}, 1) tiles"),
        (t, rss),
        (tb, rss_b),
        "dense ndarray, parallel loop over the output, inputs in memory",
        &format!("all {} means agree within {err:.1e}; {plan}", got.len()),
    );
}

fn overlap_window(s: usize) {
    let (n, c) = (8000 / s, 40);
    let at = n / 2;
    let cfg = config();
    let window = s![at..at + 10, at..at + 10];
    let how = MapOverlap::new().depth(1).boundary(Boundary::Reflect);
    let job = || {
        let x = random(4, &[n, n], &[c, c]);
        let y = x
            .map_overlap(&how, |b, _| Ok(b.mapv(|v| v * 2.0 - 1.0)))
            .unwrap();
        y.slice(window).unwrap().compute_with(&cfg).unwrap()
    };
    let (rss, (cold, (t, got))) = with_peak_rss(|| {
        let start = Instant::now();
        job();
        (start.elapsed(), median(5, job))
    });
    let baseline = || {
        let x = random(4, &[n, n], &[c, c]);
        (&x * 2.0 - 1.0)
            .slice(window)
            .unwrap()
            .compute_with(&cfg)
            .unwrap()
    };
    let (rss_b, (tb, fused)) = with_peak_rss(|| median(5, baseline));
    // the window of the input itself, through the same closure
    let want: ArrayD<f64> = random(4, &[n, n], &[c, c])
        .slice(window)
        .unwrap()
        .compute()
        .unwrap()
        .mapv(|v| v * 2.0 - 1.0);
    assert_eq!(got, want, "overlap_window: the window differs from 2x - 1");
    let err = Zip::from(&fused)
        .and(&want)
        .fold(0.0f64, |m, a, b| m.max((a - b).abs()));
    assert!(
        err <= 1e-15,
        "overlap_window: the fused 2x - 1 differs by {err:e}"
    );
    let tiles = (n / c) * (n / c);
    report(
        &format!("overlap_window 10x10 of {n}^2 in {c}^2 tiles ({tiles} tiles), graph included"),
        (t, rss),
        (tb, rss_b),
        "chunkwise, the same window of the fused 2x - 1 without a halo",
        &format!(
            "first run {:.1} ms, median {:.1} ms: target < 50 ms {}; the window equals 2x - 1",
            cold.as_secs_f64() * 1e3,
            t.as_secs_f64() * 1e3,
            if t < Duration::from_millis(50) {
                "met"
            } else {
                "MISSED"
            }
        ),
    );
}

/// The `(2d + 1)^2`-point moving average of a grown block, at the block's own elements
/// (zeros in the halo, which `map_overlap` trims): separable, a pass down the columns and
/// one along the rows.
fn smooth(g: ArrayView2<'_, f64>, d: usize) -> Array2<f64> {
    let (h, w) = (g.nrows() - 2 * d, g.ncols() - 2 * d);
    let mut cols = Array2::<f64>::zeros((h, g.ncols()));
    for i in 0..=2 * d {
        cols += &g.slice(s![i..i + h, ..]);
    }
    let mut out = Array2::<f64>::zeros(g.dim());
    let mut inner = out.slice_mut(s![d..d + h, d..d + w]);
    for j in 0..=2 * d {
        inner += &cols.slice(s![.., j..j + w]);
    }
    let k = ((2 * d + 1) * (2 * d + 1)) as f64;
    inner.mapv_inplace(|v| v / k);
    out
}

/// `x` padded by `d` on every side as NumPy's `np.pad(x, d, mode="wrap")`.
fn pad_periodic(x: &Array2<f64>, d: usize) -> Array2<f64> {
    let n = x.nrows();
    let m = x.ncols();
    let mut p = Array2::<f64>::zeros((n + 2 * d, m + 2 * d));
    p.slice_mut(s![d..d + n, d..d + m]).assign(x);
    p.slice_mut(s![..d, d..d + m])
        .assign(&x.slice(s![n - d.., ..]));
    p.slice_mut(s![n + d.., d..d + m])
        .assign(&x.slice(s![..d, ..]));
    let left = p.slice(s![.., m..m + d]).to_owned();
    p.slice_mut(s![.., ..d]).assign(&left);
    let right = p.slice(s![.., d..2 * d]).to_owned();
    p.slice_mut(s![.., m + d..]).assign(&right);
    p
}

fn overlap_smooth(s: usize) {
    let (n, c, d) = (16_000 / s, 1000 / s, 3);
    let x = random(5, &[n, n], &[c, c]);
    let how = MapOverlap::new().depth(d).boundary(Boundary::Periodic);
    let y = x
        .map_overlap(&how, move |g, _| {
            let g = g.view().into_dimensionality::<Ix2>()?;
            Ok(smooth(g, d).into_dyn())
        })
        .unwrap();
    let expr = y.sum();
    explain(&expr);
    let cfg = config();
    let (rss, (t, (value, plan))) = with_peak_rss(|| median(3, || scalar(&expr, &cfg)));
    drop(expr);

    let (rss_b, (tb, want)) = with_peak_rss(|| {
        let p = pad_periodic(&dense2(&x), d);
        let pool = pool();
        let bands: Vec<usize> = (0..n).step_by(c).collect();
        median(3, || {
            pool.install(|| {
                bands
                    .par_iter()
                    .map(|&r0| {
                        let r1 = (r0 + c).min(n);
                        smooth(p.slice(s![r0..r1 + 2 * d, ..]), d).sum()
                    })
                    .sum::<f64>()
            })
        })
    });
    let check = assert_close("sum", value, want, 1e-11) + "; " + &plan;
    report(
        &format!("overlap_smooth 7x7 mean, {n}^2 in {c}^2 tiles, periodic"),
        (t, rss),
        (tb, rss_b),
        "dense ndarray, the same block function over row bands of the padded array, in memory",
        &check,
    );
}

/// Elements per nanosecond of `f` over `elements` (the median of 7 runs) and its result.
fn rate<R>(elements: usize, f: impl FnMut() -> R) -> (f64, R) {
    let (t, r) = median(7, f);
    (elements as f64 / t.as_nanos() as f64, r)
}

fn transpose(s: usize) {
    use chunkwise_kernels::dtype::Element;
    use chunkwise_kernels::strip::{InputTile, Program, TilePosition};
    use chunkwise_kernels::view::{TileView, ViewPiece};
    let (rows, cols) = (2048 / s.max(1), 2048);
    let n = rows * cols;
    let src: Vec<f64> = (0..n).map(|i| i as f64).collect();
    // out[i, j] = src[j, i]: the view of a transpose, one piece.
    let view = TileView {
        shape: vec![cols, rows],
        cuts: vec![vec![0], vec![0]],
        pieces: vec![ViewPiece {
            data: f64::to_strip(&src),
            corner: 0,
            strides: vec![1, cols as isize],
        }],
    };
    let program = Program::identity(chunkwise::DType::F64);
    let shape = [cols, rows];
    let tile = TilePosition {
        origin: &[0, 0],
        shape: &shape,
        array_shape: &shape,
    };
    let inputs = [InputTile::View(&view)];
    let strip = chunkwise_kernels::strip::DEFAULT_STRIP_LEN;
    let mut out = vec![0.0; n];
    let (blocked, _) = rate(n, || {
        program.run_into(&inputs, tile, strip, f64::to_strip_mut(&mut out));
    });
    let want = out.clone();
    // The path before: strips along output rows, each gathered with strided reads into a
    // strip buffer, then copied into the tile.
    let (strided, _) = rate(n, || {
        program.run(&inputs, tile, strip, |offset, part| {
            let part = f64::from_strip(part);
            out[offset..offset + part.len()].copy_from_slice(part);
        });
    });
    assert_eq!(
        out, want,
        "the strided gather gives the blocked copy's tile"
    );
    let (plain, _) = rate(n, || out.copy_from_slice(&src));
    println!(
        "transpose of one {rows} x {cols} f64 tile, one thread, elements per ns (median of 7):\n\
         \x20 blocked copy {blocked:.3}, strided strip gather (before) {strided:.3}, \
         contiguous copy {plain:.3}\n\
         \x20 blocked / strided {:.2}x, blocked / contiguous copy {:.2}",
        blocked / strided,
        blocked / plain
    );
}

fn main() {
    // Measured as a batch application runs: malloc keeps tile buffers for reuse, large
    // results get huge pages (opt-in, process-wide: see `tune_allocator`).
    chunkwise::tune_allocator();
    let workloads: [Workload; 5] = [
        ("stencil", stencil),
        ("shifted_diff", shifted_diff),
        ("overlap_window", overlap_window),
        ("overlap_smooth", overlap_smooth),
        ("transpose", transpose),
    ];
    run_selected("views", &workloads);
}

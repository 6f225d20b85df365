//! Plans: fusion in the task count, `explain` and `to_dot`, shared work (`compute_many` and
//! `persist` compute each source tile once), merged reductions, traces and reports.

#![allow(missing_docs)]

mod common;

use std::sync::atomic::Ordering;

use chunkwise::{Array, BuildError, Chunks, Config, Error, compute_many, from_fn, random};
use common::*;
use ndarray::{ArrayD, IxDyn};

#[test]
fn fusion_shows_in_the_task_count() {
    let x = random::uniform::<f64>(1, -1.0, 1.0, &[400, 400], [100, 100]).unwrap();
    assert_eq!(x.n_tiles(), 16);
    let y = (&x + 1.0).sin() * 2.0;
    assert_eq!(y.task_count(&Config::default()).unwrap(), 16);
    let unfused = y.task_count(&Config::default().fuse(false)).unwrap();
    assert!(unfused > 16, "{unfused}");
    let fused_values = y.compute().unwrap();
    let unfused_values = y.compute_with(&Config::default().fuse(false)).unwrap();
    assert_same_f64(&fused_values, &unfused_values);
    let dense = x.compute().unwrap().mapv(|v| (v + 1.0).sin() * 2.0);
    assert_close(&fused_values, &dense, 2e-15);
    // the report counts the tasks the plan has
    let (_, report) = y.compute_report(&Config::default()).unwrap();
    assert_eq!(report.tasks, 16);
    let (_, report) = y.compute_report(&Config::default().fuse(false)).unwrap();
    assert_eq!(report.tasks, unfused);
    // reductions: the chain fuses into the partial step
    let s = y.sum();
    let fused = s.task_count(&Config::default()).unwrap();
    let unfused = s.task_count(&Config::default().fuse(false)).unwrap();
    assert!(fused < unfused, "{fused} vs {unfused}");
    assert!(fused <= 16 + 2, "{fused}");
    let a = s.compute().unwrap().scalar();
    let b = s
        .compute_with(&Config::default().fuse(false))
        .unwrap()
        .scalar();
    assert!(close(a, b, 1e-14), "{a} vs {b}");
}

#[test]
fn explain_shows_one_fused_reduction() {
    let x = random::uniform::<f64>(1, 0.0, 1.0, &[300, 300], [100, 100]).unwrap();
    let y = random::normal::<f64>(2, 0.0, 1.0, &[300, 300], [100, 100]).unwrap();
    let plan = (&x * &y).sum().explain().unwrap();
    let reduce_lines: Vec<&str> = plan.lines().filter(|l| l.contains("Reduce")).collect();
    assert_eq!(reduce_lines.len(), 1, "{plan}");
    assert!(reduce_lines[0].contains("mul("), "{plan}");
    assert!(
        !plan
            .lines()
            .any(|l| l.trim_start().starts_with('#') && l.contains("Elemwise")),
        "{plan}"
    );
    // with fusion off the multiplication is its own node
    let unfused = (&x * &y)
        .sum()
        .explain_with(&Config::default().fuse(false))
        .unwrap();
    assert!(unfused.lines().any(|l| l.contains("Elemwise")), "{unfused}");
    // errors are reported, not printed
    let bad = &x + &random::uniform::<f64>(1, 0.0, 1.0, &[3], [3]).unwrap();
    assert!(matches!(
        bad.explain(),
        Err(Error::Build(BuildError::Broadcast { .. }))
    ));
    assert!(matches!(
        bad.to_dot(),
        Err(Error::Build(BuildError::Broadcast { .. }))
    ));
    assert!(matches!(
        bad.task_count(&Config::default()),
        Err(Error::Build(BuildError::Broadcast { .. }))
    ));
}

#[test]
fn to_dot_is_graphviz() {
    let x = random::uniform::<f64>(1, 0.0, 1.0, &[20, 20], [10, 10]).unwrap();
    let dot = (x.transpose() + &x).sum_axis(0).to_dot().unwrap();
    assert!(dot.starts_with("digraph"), "{dot}");
    assert!(dot.contains("->"), "{dot}");
    assert!(dot.trim_end().ends_with('}'), "{dot}");
}

#[test]
fn compute_many_computes_each_source_tile_once() {
    let (x, calls, dense) = counting_source(&[40, 30], &[10, 10]);
    assert_eq!(x.n_tiles(), 12);
    let results = compute_many(&[&x.sum(), &x.max(), &x.mean_axis(0)]).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 12);
    let total: f64 = dense.iter().sum();
    assert!(close(results[0].first().copied().unwrap(), total, 1e-12));
    assert_eq!(
        results[1].first().copied().unwrap(),
        dense.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    );
    assert_close(
        &results[2],
        &dense.mean_axis(ndarray::Axis(0)).unwrap(),
        1e-13,
    );
    // elementwise results of one source
    calls.store(0, Ordering::SeqCst);
    let results = compute_many(&[&(&x + 1.0), &x.sin(), &x]).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 12);
    assert_eq!(results[0], dense.mapv(|v| v + 1.0));
    assert_eq!(results[2], dense);
    // the same array twice
    calls.store(0, Ordering::SeqCst);
    let s = x.sum();
    let results = compute_many(&[&s, &s]).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 12);
    assert_eq!(results[0], results[1]);
    // an error in one array is reported
    let bad = &x + &from_fn(&[3], [3], |_, _| ArrayD::<f64>::zeros(IxDyn(&[3]))).unwrap();
    assert!(matches!(
        compute_many(&[&x, &bad]),
        Err(Error::Build(BuildError::Broadcast { .. }))
    ));
}

#[test]
fn persist_computes_once() {
    let (x, calls, dense) = counting_source(&[40, 30], &[10, 10]);
    let p = x.persist().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 12);
    assert_eq!(p.compute().unwrap(), dense);
    assert_eq!(p.compute().unwrap(), dense);
    let s = (&p * 2.0).sum().compute().unwrap().scalar();
    assert!(close(s, 2.0 * dense.iter().sum::<f64>(), 1e-12));
    assert_eq!(
        p.slice(ndarray::s![5..15, -1]).unwrap().compute().unwrap(),
        dense.slice(ndarray::s![5..15, -1]).to_owned().into_dyn()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 12);
    assert_eq!(p.chunks(), x.chunks());
    // persisting a computed expression keeps its values, and its inputs are not needed again
    let q = (x.cos() * 3.0).persist().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 24);
    assert_close(&q.compute().unwrap(), &dense.mapv(|v| v.cos() * 3.0), 2e-15);
    let _ = q.max().compute().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 24);
    // persisting an array that holds an error reports it
    let bad = &x + &x.sum_axis(0).insert_axis(1).unwrap();
    assert!(matches!(
        bad.persist(),
        Err(Error::Build(BuildError::Broadcast { .. }))
    ));
}

/// Reductions of one expression over the same axes run as one merged pass in
/// `compute_many`; each result must equal the reduction computed on its own, bit for bit.
#[test]
fn merged_reductions_equal_separate_ones() {
    let x = random::uniform::<f64>(
        9,
        -1.0,
        1.0,
        &[37, 23],
        Chunks::Sizes(vec![vec![10, 20, 7], vec![5, 18]]),
    )
    .unwrap();
    let e = x.sin() * 3.0 + 0.5;
    let (mean, std, sum, max) = (
        e.mean_axis(0),
        e.std_axis(0, 1.0),
        e.sum_axis(0),
        e.max_axis(0),
    );
    let merged = compute_many(&[&mean, &std, &sum, &max]).unwrap();
    for (together, alone) in merged.iter().zip([&mean, &std, &sum, &max]) {
        let alone = alone.compute().unwrap();
        assert_eq!(together.shape(), alone.shape());
        assert!(
            together
                .iter()
                .zip(alone.iter())
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }
    // The dense oracle for one of them.
    let dense = e.compute().unwrap();
    let want = dense.sum_axis(ndarray::Axis(0));
    assert_close(&merged[2], &want, 1e-12);
    // One pass: the plan holds a single reduction with all four parts.
    let plan = compute_plan_of_four(&e);
    assert!(plan.contains("mean + std + sum + max"), "{plan}");
}

fn compute_plan_of_four(e: &Array<f64>) -> String {
    // explain() shows one root; merging shows on a root that reads all four.
    let (mean, std, sum, max) = (
        e.mean_axis(0),
        e.std_axis(0, 1.0),
        e.sum_axis(0),
        e.max_axis(0),
    );
    let combined = &(&(&mean + &std) + &sum) + &max;
    combined.explain_with(&Config::default()).unwrap()
}

#[test]
fn trace_has_one_event_per_task() {
    let x = random::uniform::<f64>(1, 0.0, 1.0, &[400, 400], [100, 100]).unwrap();
    let y = (&x * 2.0).sum_axis(0);
    let (_, report) = y.compute_report(&Config::default().trace(true)).unwrap();
    assert_eq!(report.trace.len(), report.tasks);
    assert_eq!(report.tasks, y.task_count(&Config::default()).unwrap());
    for e in &report.trace {
        assert!(e.end >= e.start, "{e:?}");
        assert!(e.thread < report.threads.max(1), "{e:?}");
        assert!(!e.name.is_empty());
    }
    let json = report.chrome_trace_json();
    assert!(json.starts_with("{\"traceEvents\":["), "{json}");
    assert!(json.ends_with("]}"), "{json}");
    assert_eq!(json.matches("\"ph\":\"X\"").count(), report.tasks);
    // braces and brackets balance outside strings
    let (mut depth, mut in_string, mut escaped) = (0i64, false, false);
    for c in json.chars() {
        match (in_string, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (true, false, '"') => in_string = false,
            (false, _, '"') => in_string = true,
            (false, _, '{' | '[') => depth += 1,
            (false, _, '}' | ']') => depth -= 1,
            _ => {}
        }
        assert!(depth >= 0);
    }
    assert_eq!(depth, 0);
    // without tracing, no events
    let (_, report) = y.compute_report(&Config::default()).unwrap();
    assert!(report.trace.is_empty());
    assert_eq!(report.chrome_trace_json(), "{\"traceEvents\":[]}");
}

#[test]
fn report_fields() {
    let x = random::uniform::<f64>(1, 0.0, 1.0, &[100, 100], [50, 50]).unwrap();
    let cfg = Config::default().threads(2).memory_budget(1 << 24);
    let (_, report) = x.sum().compute_report(&cfg).unwrap();
    assert_eq!(report.threads, 2);
    assert_eq!(report.budget, 1 << 24);
    assert!(report.peak_bytes > 0);
    assert!(report.tasks >= 4);
    assert_eq!(Config::default().threads(3).worker_threads(), 3);
    assert!(Config::default().worker_threads() >= 1);
}

/// A program with shared work, a slice, a rechunk, a reduction and a panicking closure.
fn deterministic_program() -> Array<f64> {
    let x = random::uniform::<f64>(3, -1.0, 1.0, &[40, 30], [16, 7]).unwrap();
    let y = from_fn::<f64, _>(&[40, 30], [8, 30], |_, ranges| {
        assert!(ranges[0].start < 32, "no tile past row 32");
        ArrayD::from_elem(IxDyn(&[ranges[0].len(), ranges[1].len()]), 1.0)
    })
    .unwrap();
    let shifted = x
        .slice(ndarray::s![1.., ..])
        .unwrap()
        .rechunk([13, 30])
        .unwrap();
    (&shifted * 2.0 + &y.slice(ndarray::s![..39, ..]).unwrap()).sum_axis(0) + x.max_axis(0)
}

#[test]
fn the_same_program_builds_the_same_plan_whatever_the_process_built_before() {
    let first = deterministic_program();
    let want = (
        first.explain().unwrap(),
        first.to_dot().unwrap(),
        first.compute().unwrap_err().to_string(),
    );
    assert!(
        want.2.contains("node #"),
        "errors name nodes by number: {}",
        want.2
    );
    // Other nodes made first, and the same program built on several threads at once: the
    // process-wide node counter differs for each, the plan must not.
    let others: Vec<Array<f64>> = (0..50)
        .map(|i| random::uniform::<f64>(i, 0.0, 1.0, &[i as usize + 1], [1]).unwrap())
        .collect();
    let built: Vec<(String, String, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let p = deterministic_program();
                    let text = (p.explain().unwrap(), p.to_dot().unwrap());
                    (text.0, text.1, p.compute().unwrap_err().to_string())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    drop(others);
    for got in built {
        assert_eq!(got, want);
    }
}

#[test]
fn a_window_of_a_large_map_overlap_plans_only_the_tiles_under_it() {
    // 40,000 tiles of 40 x 40; the 10 x 10 window lies in one tile, whose depth-1 halo
    // reaches its 8 neighbours: 1 map_overlap task and 9 generator tiles, plus the view.
    let x = random::uniform::<f64>(1, 0.0, 1.0, &[8000, 8000], [40, 40]).unwrap();
    assert_eq!(x.n_tiles(), 40_000);
    let options = chunkwise::MapOverlap::new()
        .depth(1)
        .boundary(chunkwise::Boundary::Reflect);
    let y = x
        .map_overlap(&options, |b: &ArrayD<f64>, _| Ok(b.mapv(|v| v * 2.0 - 1.0)))
        .unwrap();
    let window = y.slice(ndarray::s![4005..4015, 4005..4015]).unwrap();
    let tasks = window.task_count(&Config::default()).unwrap();
    assert!(tasks <= 12, "{tasks} tasks for one tile's window");
    let got = window.compute().unwrap();
    let want = x
        .slice(ndarray::s![4005..4015, 4005..4015])
        .unwrap()
        .compute()
        .unwrap()
        .mapv(|v| v * 2.0 - 1.0);
    assert_same_f64(&got, &want);
}

/// An anomaly reduced over two axes, with the mean broadcast along the first: the plan
/// walks the partials that one mean tile serves one after another (down the columns), so
/// the mean and the tiles it was made from are dropped column by column instead of every
/// tile being held until all the means exist.
#[test]
fn partials_walk_along_the_axis_an_input_is_broadcast_along() {
    let x = random::uniform::<f64>(3, 0.0, 1.0, &[400, 30, 20], [10, 30, 20]).unwrap();
    // Tiles of (1, 10, 30, 20), made by a blockwise step: held until read.
    let r = x.reshape(&[20, 20, 30, 20]).unwrap();
    let anomaly = &r - &r.mean_with(&chunkwise::Reduction::axis(0).keepdims(true));
    let spread = anomaly.std_with(&chunkwise::Reduction::axes([0, 1]), 0.0);
    let (values, report) = spread
        .compute_report(&Config::default().threads(1).strip_len(16))
        .unwrap();
    let all_tiles = (400 * 30 * 20 * 8) as u64;
    assert!(
        report.peak_bytes < all_tiles * 3 / 4,
        "peak {} of {all_tiles}",
        report.peak_bytes
    );
    // Checked against the dense definition.
    let dense = r.compute().unwrap();
    let mean = dense.mean_axis(ndarray::Axis(0)).unwrap();
    let d = &dense - &mean.insert_axis(ndarray::Axis(0));
    let var = ArrayD::from_shape_fn(IxDyn(&[30, 20]), |i| {
        let lane: Vec<f64> = d
            .indexed_iter()
            .filter(|(j, _)| j[2] == i[0] && j[3] == i[1])
            .map(|(_, &v)| v)
            .collect();
        let m = lane.iter().sum::<f64>() / lane.len() as f64;
        (lane.iter().map(|v| (v - m).powi(2)).sum::<f64>() / lane.len() as f64).sqrt()
    });
    assert!(values.iter().zip(&var).all(|(a, b)| (a - b).abs() <= 1e-10));
}

/// The forward differences of issue 14's `shifted_diff` on random arrays: the slices of the
/// generated arrays are made in the reduction's kernel at the positions they read, so the
/// plan holds no generated tile, and the values are those of the dense slices.
#[test]
fn generators_read_through_step_1_slices_are_made_inside_the_consuming_kernel() {
    use ndarray::{Axis, s};
    let (nx, ny, nt) = (9, 7, 5);
    let u = random::uniform::<f64>(2, 0.0, 1.0, &[nx, ny, nt], [nx, ny, 1]).unwrap();
    let v = random::uniform::<f64>(3, 0.0, 1.0, &[nx, ny, nt], [4, 3, 2]).unwrap();
    let z = (&v.slice(s![1.., ..-1]).unwrap() - &v.slice(s![..-1, ..-1]).unwrap()) / 0.25
        - (&u.slice(s![..-1, 1..]).unwrap() - &u.slice(s![..-1, ..-1]).unwrap()) / 0.5;
    let mean = z.mean_axis(2);
    let plan = mean.explain().unwrap();
    assert!(
        !plan.contains("Source"),
        "no generated tile is made:\n{plan}"
    );
    assert!(
        plan.contains("uniform[seed=3, 0..1][1:9, 0:6, :]"),
        "{plan}"
    );

    let (ud, vd) = (u.compute().unwrap(), v.compute().unwrap());
    let zd = (&vd.slice(s![1.., ..-1, ..]) - &vd.slice(s![..-1, ..-1, ..])) / 0.25
        - (&ud.slice(s![..-1, 1.., ..]) - &ud.slice(s![..-1, ..-1, ..])) / 0.5;
    let want = zd.mean_axis(Axis(2)).unwrap();
    let got = mean.compute().unwrap();
    assert_eq!(got.shape(), want.shape());
    for (g, w) in got.iter().zip(want.iter()) {
        assert!(close(*g, *w, 1e-12), "{g} != {w}");
    }
}

/// Integer indices and elementwise work on a generator, read through a translation, fuse
/// too; a view that moves elements relative to each other (a step, a reversal) reads the
/// generated tiles instead. Both give the generated array's values.
#[test]
fn translated_generators_agree_with_the_generated_array_and_others_stay_tiles() {
    use ndarray::s;
    let x = random::normal::<f64>(7, 0.0, 1.0, &[6, 10, 8], [4, 3, 5]).unwrap();
    let dense = x.compute().unwrap();

    let shifted = (&x * 2.0 + 1.0).slice(s![2, 3..9, 1..]).unwrap() + 0.5;
    let plan = shifted.explain().unwrap();
    assert!(
        !plan.contains("Source"),
        "fused through the translation:\n{plan}"
    );
    let want = dense.slice(s![2, 3..9, 1..]).mapv(|v| v * 2.0 + 1.0 + 0.5);
    assert_eq!(shifted.compute().unwrap(), want.into_dyn());

    let stepped = x.slice(s![1, 1..9;2, ..]).unwrap() + 0.5;
    assert!(stepped.explain().unwrap().contains("Source"));
    let want = dense.slice(s![1, 1..9;2, ..]).mapv(|v| v + 0.5);
    assert_eq!(stepped.compute().unwrap(), want.into_dyn());

    let reversed = x.slice(s![.., ..;-1, 2..]).unwrap() * 3.0;
    assert!(reversed.explain().unwrap().contains("Source"));
    let want = dense.slice(s![.., ..;-1, 2..]).mapv(|v| v * 3.0);
    assert_eq!(reversed.compute().unwrap(), want.into_dyn());
}

/// `roll(pad(concatenate([a, b])), ...).std(axis=0)` reads the last column of tiles of the
/// padded join for the first output column and again for the last: the plan runs the
/// second reader (and the partial that folds it) right after the first, so that column is
/// not held across the run. Depth first, the 13 tiles of that column were held at once.
#[test]
fn a_tile_read_at_both_ends_of_a_reduction_is_not_held_in_between() {
    let (n, c) = (120, 15);
    let a = random::uniform::<f64>(5, 0.0, 1.0, &[n, n], [c, c]).unwrap();
    let b = random::uniform::<f64>(6, 0.0, 1.0, &[n / 3, n], [c, c]).unwrap();
    let joined = chunkwise::concatenate(&[&a, &b], 0).unwrap();
    let padded = joined
        .pad(&[(5, 5), (0, 7)], chunkwise::Pad::Reflect)
        .unwrap();
    let rolled = padded.roll(17, 1).unwrap();
    let std = rolled.std_with(&chunkwise::Reduction::axis(0), 0.0);
    let (got, report) = std
        .compute_report(&Config::default().threads(1).strip_len(16))
        .unwrap();
    let tile = (c * c * 8) as u64;
    assert!(
        report.peak_bytes <= 6 * tile,
        "peak {} bytes, {} tiles",
        report.peak_bytes,
        report.peak_bytes as f64 / tile as f64
    );
    let dense = rolled.compute().unwrap();
    let want = dense.std_axis(ndarray::Axis(0), 0.0);
    for (g, w) in got.iter().zip(want.iter()) {
        assert!(close(*g, *w, 1e-12), "{g} != {w}");
    }
}

/// A generator read through many translations (a five-point stencil of a random array,
/// or of elementwise work on one) is made once per tile and read, not made again at each
/// of the five positions; the values are the same either way.
#[test]
#[allow(clippy::reversed_empty_ranges)] // ndarray's `s![1..-1]` is a meaningful slice
fn a_generator_read_through_many_translations_is_made_once() {
    use ndarray::s;
    let u = random::uniform::<f64>(4, 0.0, 1.0, &[12, 10], [5, 4]).unwrap();
    for x in [u.clone(), (&u * 2.0).sin()] {
        let sl = |info: &[ndarray::SliceInfoElem]| x.slice(info).unwrap();
        let lap = &(&(&sl(s![2.., 1..-1].as_ref()) + &sl(s![..-2, 1..-1].as_ref()))
            + &(&sl(s![1..-1, 2..].as_ref()) + &sl(s![1..-1, ..-2].as_ref())))
            - &(sl(s![1..-1, 1..-1].as_ref()) * 4.0);
        let plan = lap.explain().unwrap();
        assert_eq!(
            plan.matches("uniform[").count(),
            1,
            "the values are made once per tile:\n{plan}"
        );
        let d = x.compute().unwrap();
        let mut want = d.slice(s![2.., 1..-1]).to_owned();
        want += &d.slice(s![..-2, 1..-1]);
        want += &d.slice(s![1..-1, 2..]);
        want += &d.slice(s![1..-1, ..-2]);
        want -= &d.slice(s![1..-1, 1..-1]).mapv(|v| v * 4.0);
        let got = lap.compute().unwrap();
        for (g, w) in got.iter().zip(want.iter()) {
            assert!(close(*g, *w, 1e-12), "{g} != {w}");
        }
    }
}

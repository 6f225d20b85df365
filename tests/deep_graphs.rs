//! Graphs far deeper than a thread's stack: a scan along an axis of many thousand chunks, a
//! time-stepping loop of thousands of steps, a chain of elementwise steps beyond what one
//! kernel fuses. Each is planned, computed, explained and dropped on cargo's test threads
//! (2 MiB of stack), and a graph too deep to plan is an error, not an abort.

#![allow(missing_docs)]

use chunkwise::{Error, PlanError};
use ndarray::{ArrayD, Axis, IxDyn, s};

#[test]
fn a_scan_along_twenty_thousand_chunks_plans_computes_and_drops() {
    let n = 40_000;
    let x = chunkwise::arange::<i64>(0, n, 1, [2]).unwrap();
    let sums = x.cumsum(0).unwrap();
    // The last element needs every carry before it: a chain 20,000 nodes deep.
    let last = sums.slice(s![-1..]).unwrap();
    assert_eq!(last.compute().unwrap()[[0]], n * (n - 1) / 2);
    let dense = ndarray::Array1::from_iter(0..n).into_dyn();
    let mut want = dense.clone();
    want.accumulate_axis_inplace(Axis(0), |&prev, cur| *cur += prev);
    assert_eq!(sums.compute().unwrap(), want);
    assert!(last.explain().unwrap().contains("cumsum carry 19999"));
    drop((sums, last));
}

#[test]
fn a_time_stepping_loop_of_thousands_of_steps_matches_the_dense_loop() {
    // Each step reads its neighbours (a halo) and moves tiles between two chunkings: no
    // step fuses with the next, so the graph is thousands of nodes deep.
    let steps = 3000;
    let start = ArrayD::from_shape_fn(IxDyn(&[60]), |i| (i[0] % 7) as f64);
    let mut lazy = chunkwise::from_ndarray(&start, [10]).unwrap();
    let mut dense = start.clone();
    for step in 0..steps {
        let chunks = if step % 2 == 0 { 20 } else { 10 };
        lazy = lazy
            .rechunk([chunks])
            .unwrap()
            .map_blocks(|b| Ok(b.mapv(|v| 0.5 * v + 1.0)))
            .unwrap();
        dense.mapv_inplace(|v| 0.5 * v + 1.0);
    }
    assert_eq!(lazy.compute().unwrap(), dense);
    // The plan's text grows as its nodes, not as the square of its depth: lines are
    // indented a bounded amount, and say their level beyond it.
    let plan = lazy.explain().unwrap();
    let longest = plan.lines().map(str::len).max().unwrap();
    assert!(longest < 400, "a line of {longest} bytes");
    assert!(plan.contains("[level 5000] "), "{}", &plan[..2000]);
}

#[test]
fn a_chain_of_elementwise_steps_is_fused_into_kernels_of_bounded_length() {
    let steps = 2000;
    let start = ArrayD::from_shape_fn(IxDyn(&[50]), |i| i[0] as f64);
    let mut lazy = chunkwise::from_ndarray(&start, [25]).unwrap();
    let mut dense = start.clone();
    for k in 0..steps {
        let a = 1.0 + (k % 3) as f64 * 1e-3;
        lazy = &(&lazy * a) - 0.25;
        dense.mapv_inplace(|v| v * a - 0.25);
    }
    let got = lazy.compute().unwrap();
    for (g, w) in got.iter().zip(&dense) {
        assert!((g - w).abs() <= 1e-12 * w.abs().max(1.0), "{g} vs {w}");
    }
    // 4000 steps in kernels of at most 256 fused steps: more than 15 of them, each a
    // task per tile, and the plan says why each stopped growing.
    let plan = lazy.explain().unwrap();
    let stops = plan.matches("a program of the most steps fused").count();
    assert!((15..=16).contains(&stops), "{stops} stops");
    let tasks = lazy.task_count(&chunkwise::Config::default()).unwrap();
    assert!((2 * 16..=2 * 17).contains(&tasks), "{tasks} tasks");
}

#[test]
fn a_graph_too_deep_to_plan_is_an_error_and_drops_without_recursion() {
    let mut x = chunkwise::ones::<f32>(&[4], [2]).unwrap();
    for _ in 0..300_000 {
        x = x.map_blocks(|b| Ok(b + 1.0)).unwrap();
    }
    match x.compute() {
        Err(Error::Plan(PlanError::GraphTooDeep { depth, .. })) => assert!(depth > 300_000),
        other => panic!("expected GraphTooDeep, got {other:?}"),
    }
    let message = x.sum().compute().unwrap_err().to_string();
    assert!(
        message.contains("persist an intermediate result"),
        "{message}"
    );
    // Dropped here: 300,000 nodes, each the only holder of the one before.
    drop(x);
}

#[test]
fn chains_held_inside_closures_drop_without_recursion() {
    // A power iteration: each product's contraction holds its operands in its block map
    // too, not only as its inputs.
    let m = chunkwise::eye::<f64>(4, 4, 0, [2, 2]).unwrap();
    let mut x = chunkwise::ones::<f64>(&[4, 1], [2, 1]).unwrap();
    for _ in 0..20_000 {
        x = m.matmul(&x).unwrap();
    }
    drop(x);
    // A user closure that captures the array before it.
    let mut y = chunkwise::ones::<f32>(&[4], [2]).unwrap();
    for _ in 0..100_000 {
        let before = y.clone();
        y = y
            .map_blocks(move |b| Ok(b + before.shape()[0] as f32))
            .unwrap();
    }
    drop(y);
}

#[test]
fn a_contraction_relinked_into_a_long_chain_plans_on_a_stack_that_fits() {
    // 10,000 tiles along the summed axis fit one link; under a small budget with four
    // threads the optimiser relinks them into a chain of thousands of links, far deeper
    // than the graph it was given.
    let a = chunkwise::ones::<f64>(&[100, 1_000_000], [100, 100]).unwrap();
    let b = chunkwise::ones::<f64>(&[1_000_000, 100], [100, 100]).unwrap();
    let product = a.matmul(&b).unwrap();
    let tight = chunkwise::Config::default()
        .memory_budget(2 << 20)
        .threads(4);
    let plan = product.explain_with(&tight).unwrap();
    assert!(
        plan.contains("[level "),
        "{}",
        &plan[..plan.len().min(3000)]
    );
}

#[test]
fn a_deep_graph_held_in_thread_local_storage_drops_as_the_thread_ends() {
    // The thread's storage is torn down in the reverse order of first use: the array's slot
    // after anything chunkwise keeps per thread, which must still work then.
    thread_local! {
        static HELD: std::cell::RefCell<Option<chunkwise::Array<f32>>> =
            const { std::cell::RefCell::new(None) };
    }
    let worker = std::thread::Builder::new().stack_size(2 << 20).spawn(|| {
        let mut y = chunkwise::ones::<f32>(&[4], [2]).unwrap();
        HELD.with(|held| *held.borrow_mut() = Some(y.clone()));
        for _ in 0..100_000 {
            y = y.map_blocks(|b| Ok(b + 1.0)).unwrap();
        }
        assert_eq!(
            y.slice(ndarray::s![..1]).unwrap().compute().unwrap()[[0]],
            100_001.0
        );
        HELD.with(|held| *held.borrow_mut() = Some(y));
    });
    worker.unwrap().join().unwrap();
}

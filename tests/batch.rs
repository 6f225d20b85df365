//! `Batch`: arrays of different element types computed in one run, against the same
//! arrays computed one by one.

#![allow(missing_docs)]

mod common;

use std::sync::atomic::Ordering;

use chunkwise::{Batch, BuildError, Config, Error};
use common::*;

#[test]
fn a_batch_equals_separate_computes_and_reads_its_input_once() {
    let (x, calls, dense) = counting_source(&[12, 10], &[5, 4]);
    let tiles = 3 * 3;
    let ints = (&x * 10.0).astype::<i32>();
    let mean = x.mean_axis(0);
    let nonzero = ints.count_nonzero();
    let argmax = x.argmax_axis(1);
    let total = ints.sum();
    let flags = x.greater(0.0);

    let mut batch = Batch::new();
    let h_mean = batch.add(&mean);
    let h_nonzero = batch.add(&nonzero);
    let h_argmax = batch.add(&argmax);
    let h_total = batch.add(&total);
    let h_flags = batch.add(&flags);
    let (out, report) = batch.compute_report(&Config::default()).unwrap();
    assert_eq!(
        calls.swap(0, Ordering::SeqCst),
        tiles,
        "each input tile read once"
    );

    let config = Config::default();
    let separate_tasks = mean.task_count(&config).unwrap()
        + nonzero.task_count(&config).unwrap()
        + argmax.task_count(&config).unwrap()
        + total.task_count(&config).unwrap()
        + flags.task_count(&config).unwrap();
    assert!(
        report.tasks < separate_tasks,
        "{} tasks together, {separate_tasks} apart",
        report.tasks
    );

    assert_eq!(out.get(h_mean).unwrap(), mean.compute().unwrap());
    assert_eq!(out.get(h_nonzero).unwrap(), nonzero.compute().unwrap());
    assert_eq!(out.get(h_argmax).unwrap(), argmax.compute().unwrap());
    assert_eq!(out.get(h_total).unwrap(), total.compute().unwrap());
    assert_eq!(out.get(h_flags).unwrap(), flags.compute().unwrap());
    // and against the dense data itself
    let want_total: i64 = dense.iter().map(|&v| (v * 10.0) as i32 as i64).sum();
    assert_eq!(out.get(h_total).unwrap()[[]], want_total);
    assert_eq!(out.get(h_flags).unwrap(), dense.mapv(|v| v > 0.0));
    // separately, every array reads the tiles again
    assert!(calls.load(Ordering::SeqCst) > tiles);
}

#[test]
fn handles_of_another_batch_and_invalid_arrays_are_errors() {
    let x = chunkwise::arange::<i64>(0, 6, 1, [4]).unwrap();
    let mut first = Batch::new();
    let sum = first.add(&x.sum());
    let mut second = Batch::new();
    let _ = second.add(&x.sum());
    let out = second.compute().unwrap();
    assert!(matches!(
        out.get(sum).unwrap_err(),
        Error::Build(BuildError::InvalidArgument { .. })
    ));
    assert_eq!(first.compute().unwrap().get(sum).unwrap()[[]], 15);
    let y = chunkwise::arange::<i64>(0, 5, 1, [4]).unwrap();
    let mut bad = Batch::new();
    bad.add(&(&x + &y));
    assert!(matches!(
        bad.compute().unwrap_err(),
        Error::Build(BuildError::Broadcast { .. })
    ));
    // an empty batch computes to nothing
    assert!(Batch::new().compute().is_ok());
}

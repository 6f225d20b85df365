#![allow(missing_docs)]
use chunkwise::{Config, Error, from_fn};
use ndarray::{ArrayD, IxDyn};
use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};
#[test]
fn scratch() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let x = from_fn(&[400, 400], [100, 100], move |_, r| {
        c.fetch_add(1, Ordering::SeqCst);
        let s: Vec<usize> = r.iter().map(|r| r.len()).collect();
        ArrayD::from_shape_fn(IxDyn(&s), |i| (i[0] + i[1]) as f64)
    })
    .unwrap();
    for (name, y) in [
        ("x", x.clone()),
        ("x*2", &x * 2.0),
        ("sum", (&x * 2.0).sum()),
        ("sum0", x.sum_axis(0)),
        ("T", x.transpose()),
        ("sin+x", x.sin() + &x),
    ] {
        let mut budget = 1u64;
        for _ in 0..10 {
            match y.compute_report(&Config::default().memory_budget(budget)) {
                Err(Error::TaskOverBudget { needed, task, .. }) => {
                    println!("{name} budget {budget}: over, needed {needed} by {task}");
                    budget = needed;
                }
                Err(e) => {
                    println!("{name} budget {budget}: {e}");
                    break;
                }
                Ok((_, r)) => {
                    println!(
                        "{name} budget {budget}: ok peak {} tasks {}",
                        r.peak_bytes, r.tasks
                    );
                    break;
                }
            }
        }
        for threads in [1, 2] {
            let r = y.compute_report(&Config::default().threads(threads).memory_budget(budget));
            println!(
                "  threads {threads} at {budget}: {:?}",
                r.map(|(_, r)| r.peak_bytes).map_err(|e| e.to_string())
            );
        }
    }
    println!("calls {}", calls.load(Ordering::SeqCst));
}

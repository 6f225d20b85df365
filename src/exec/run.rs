//! The executor: runs a plan's tasks on a rayon pool inside a memory budget.
//!
//! One coordinating loop (on the calling thread) owns all bookkeeping: which tasks are ready,
//! which tiles are held and how many bytes they take. It starts the ready task that comes
//! first in plan order (depth first from the outputs, so reductions and sinks consume partial
//! results early) whenever a worker is free and the task's projected bytes fit in the budget
//! beside everything held; tiles are dropped the moment their last consumer finishes.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use rayon::ThreadPool;

use super::config::Config;
use super::plan::Plan;
use super::progress::Progress;
use super::task::run_task;
use super::trace::TraceEvent;
use crate::error::{Error, Result};
use crate::graph::Value;

/// What a computation did: task count, memory, time, and the trace if one was asked for.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Report {
    /// Tasks run.
    pub tasks: usize,
    /// Largest number of bytes held by tiles plus reserved by running tasks at any moment.
    pub peak_bytes: u64,
    /// The memory budget the run kept to.
    pub budget: u64,
    /// Worker threads.
    pub threads: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// Per-task events, when `Config::trace` is on.
    pub trace: Vec<TraceEvent>,
}

impl Report {
    /// The trace in Chrome / Perfetto JSON (open it at `ui.perfetto.dev` or `chrome://tracing`).
    pub fn chrome_trace_json(&self) -> String {
        super::trace::chrome_json(&self.trace)
    }
}

/// A shared pool per thread count, built once.
fn pool(threads: usize) -> Result<Arc<ThreadPool>> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<ThreadPool>>>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(pool) = pools.get(&threads) {
        return Ok(pool.clone());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("chunkwise-{i}"))
        .build()
        .map_err(|e| Error::ThreadPool(e.to_string()))?;
    let pool = Arc::new(pool);
    pools.insert(threads, pool.clone());
    Ok(pool)
}

struct Done {
    task: usize,
    result: Result<Value>,
    event: Option<TraceEvent>,
}

/// Runs `plan`; `sink(output, block, tile)` receives each output tile as soon as it exists.
pub(crate) fn execute(
    plan: Arc<Plan>,
    config: &Config,
    sink: &mut dyn FnMut(usize, &[usize], &Value),
) -> Result<Report> {
    let start = Instant::now();
    let threads = config.worker_threads();
    let budget = config.budget_bytes();
    let pool = pool(threads)?;
    let n = plan.tasks.len();
    let consumers = plan.consumers();

    // Output tiles are held until the sink took them.
    let mut output_of: Vec<Vec<(usize, Vec<usize>)>> = vec![Vec::new(); n];
    for (o, blocks) in plan.outputs.iter().enumerate() {
        for (block, t) in blocks {
            output_of[*t].push((o, block.clone()));
        }
    }
    let mut waiting_deps: Vec<usize> = plan.tasks.iter().map(|t| t.deps.len()).collect();
    let mut readers: Vec<usize> = consumers.iter().map(Vec::len).collect();
    let mut values: Vec<Option<Value>> = vec![None; n];
    let mut ready: BinaryHeap<Reverse<usize>> = (0..n)
        .filter(|&t| waiting_deps[t] == 0)
        .map(Reverse)
        .collect();

    let (tx, rx) = mpsc::channel::<Done>();
    let progress = Progress::new(n as u64, config.progress);
    let mut held = 0u64;
    let mut reserved = 0u64;
    let mut peak = 0u64;
    let mut running = 0usize;
    let mut finished = 0usize;
    let mut failure: Option<Error> = None;
    let mut trace = Vec::new();
    let strip_len = config.strip_len;
    let tracing = config.trace;

    while finished < n && (failure.is_none() || running > 0) {
        // Start what fits, in plan order.
        while failure.is_none() && running < threads {
            let Some(&Reverse(t)) = ready.peek() else {
                break;
            };
            let need = plan.tasks[t].run_bytes();
            if held + reserved + need > budget {
                if running == 0 {
                    failure = Some(Error::BudgetExhausted {
                        task: plan.tasks[t].describe(),
                        held,
                        needed: need,
                        budget,
                    });
                }
                break;
            }
            ready.pop();
            reserved += need;
            peak = peak.max(held + reserved);
            running += 1;
            let inputs: Vec<Value> = plan.tasks[t]
                .deps
                .iter()
                .map(|&d| {
                    values[d]
                        .clone()
                        .expect("dependencies finish before their consumers")
                })
                .collect();
            let plan = plan.clone();
            let tx = tx.clone();
            pool.spawn(move || {
                let began = Instant::now();
                let task = &plan.tasks[t];
                let result = catch_unwind(AssertUnwindSafe(|| run_task(task, &inputs, strip_len)))
                    .unwrap_or_else(|payload| {
                        Err(Error::TaskPanicked {
                            task: task.describe(),
                            message: panic_message(&payload),
                        })
                    });
                drop(inputs);
                let event = tracing.then(|| TraceEvent {
                    name: task.describe(),
                    start: began.duration_since(start),
                    end: Instant::now().duration_since(start),
                    thread: rayon::current_thread_index().unwrap_or(0),
                    bytes: result.as_ref().map(|v| v.nbytes() as u64).unwrap_or(0),
                });
                let _ = tx.send(Done {
                    task: t,
                    result,
                    event,
                });
            });
        }
        if running == 0 {
            break;
        }
        let done = rx.recv().expect("workers hold a sender until they report");
        running -= 1;
        finished += 1;
        let t = done.task;
        reserved -= plan.tasks[t].run_bytes();
        trace.extend(done.event);
        progress.tick();
        let value = match done.result {
            Ok(v) => v,
            Err(e) => {
                failure.get_or_insert(e);
                continue;
            }
        };
        held += value.nbytes() as u64;
        peak = peak.max(held + reserved);
        for (o, block) in &output_of[t] {
            sink(*o, block, &value);
        }
        // Release inputs whose last reader this was.
        for &d in &plan.tasks[t].deps {
            readers[d] -= 1;
            if readers[d] == 0
                && let Some(v) = values[d].take()
            {
                held -= v.nbytes() as u64;
            }
        }
        if readers[t] == 0 {
            held -= value.nbytes() as u64;
        } else {
            values[t] = Some(value);
        }
        for &c in &consumers[t] {
            waiting_deps[c] -= 1;
            if waiting_deps[c] == 0 {
                ready.push(Reverse(c));
            }
        }
    }
    progress.finish();
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(Report {
        tasks: n,
        peak_bytes: peak,
        budget,
        threads,
        elapsed: start.elapsed(),
        trace,
    })
}

fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

//! The executor: runs a plan's tasks on a rayon pool inside a memory budget.
//!
//! All bookkeeping (which tasks are ready, which tiles are held, how many bytes they take)
//! lives in one [`State`] behind a mutex. A worker that finishes a task takes the lock,
//! records the result, frees the inputs whose last reader this was, and starts the ready
//! tasks that come first in plan order (depth first from the outputs, so reductions and
//! sinks consume partial results early) while a worker is free and the task's projected
//! bytes fit in the budget beside everything held. No coordinating thread sits between
//! tasks, so a task costs a few microseconds of scheduling.
//!
//! # Why an accepted plan always finishes
//!
//! Planning accepts a plan only if running its tasks one after another in plan order fits
//! the budget, and records for each task `k` what that order still needs from `k` on
//! (`Plan::needs`). The executor keeps that order possible at every moment. Call `next`
//! the first task in plan order that has not started. Starting `next` itself is always safe.
//! A task started ahead of `next` holds its tile early, so it is admitted only if
//! `needs[next]`, plus the outputs of every task started ahead whose tile is still held or
//! to come, plus its own output fit the budget. This keeps the invariant
//! `needs[next] + ahead <= budget`, which means: let the running tasks finish, then run the
//! rest one by one in plan order; each finds the tiles that order would hold (or fewer,
//! since work done ahead has freed some) plus at most `ahead` bytes, so it fits. When no
//! task is running, every task before `next` is done, so `next` is ready and fits: the
//! executor never waits on tiles that no admissible task would free (a banker's check,
//! at the cost of a few additions per task).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use rayon::{Scope, ThreadPool};

use super::config::Config;
use super::plan::Plan;
use super::plan::TaskKind;
use super::prefetch::Prefetcher;
use super::progress::Progress;
use super::task::run_task;
use super::trace::TraceEvent;
use crate::error::{Error, ExecError, Result};
use crate::tile::Value;
use crate::tile::encode::encode;

/// What a computation did: task count, memory, time, and the trace if one was asked for.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Report {
    /// Tasks run (in a distributed run: this process's tasks, and the tiles it received
    /// from others).
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
    /// Bytes of encoded tiles this process sent to others, in a distributed run (0 in one
    /// process).
    pub bytes_sent: u64,
    /// Bytes of encoded tiles all the processes of a distributed run sent.
    pub bytes_moved: u64,
    /// In a distributed run, the most bytes of encoded tiles this process held at once for
    /// other processes that had not yet taken them: held beside `peak_bytes`, outside the
    /// budget (while any wait, no task starts ahead of plan order).
    pub peak_sending_bytes: u64,
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
        .map_err(|e| Error::Exec(ExecError::ThreadPool(e.to_string())))?;
    let pool = Arc::new(pool);
    pools.insert(threads, pool.clone());
    Ok(pool)
}

/// Receives each output tile: (output number, block index, tile). Workers call it
/// concurrently, each with a different block, so that copying large tiles out runs in
/// parallel (and off the bookkeeping lock). An error (or a panic) stops the run like a
/// failed task.
pub(crate) type Outputs<'a> = dyn Fn(usize, &[usize], &Value) -> Result<()> + Sync + 'a;

/// Runs a lowered plan: the one seam between planning and running, so that another
/// executor (many processes, a cluster) runs the same plans. An executor runs every task
/// once its dependencies have run, keeps within `config`'s memory budget, hands each output
/// tile to `outputs` once, and stops at the first error.
pub(crate) trait Executor: Sync {
    /// Runs `plan`.
    fn execute(&self, plan: &Plan, config: &Config, outputs: &Outputs<'_>) -> Result<Report>;
}

/// The executor of one process: tasks on a rayon pool of `Config::threads` workers (see
/// the module's documentation).
pub(crate) struct RayonExecutor;

impl Executor for RayonExecutor {
    fn execute(&self, plan: &Plan, config: &Config, outputs: &Outputs<'_>) -> Result<Report> {
        execute(plan, config, outputs, None)
    }
}

/// Moves tiles between this process and others, for one process's part of a distributed
/// run: its plan has receive tasks (`TaskKind::Receive`) standing for tasks that other
/// processes run, and lists in `Plan::sends` the processes that read each task's result.
/// The executor admits a receive task like any other (its tile's bytes reserved within the
/// budget) but hands it to the link instead of a worker; the link calls
/// [`Exchange::deliver`] when the tile has arrived. A task whose result other processes
/// read is encoded by the worker that ran it and queued for the link to send.
pub(crate) trait Link: Sync {
    /// Serves `exchange` until the run has finished or failed. It runs on a thread of its
    /// own beside the workers.
    fn serve(&self, exchange: &Exchange<'_, '_, '_>);
}

/// An encoded result that other processes read.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))] // used by the `mpi` executor
pub(crate) struct Outgoing {
    /// The task (in this process's plan) that made it.
    pub(crate) task: usize,
    /// The encoded tile (see `tile::encode`).
    pub(crate) bytes: Vec<u8>,
    /// The ranks it goes to.
    pub(crate) to: Vec<usize>,
}

/// What changed since a link last asked (see [`Exchange::poll`]).
#[cfg_attr(not(feature = "mpi"), allow(dead_code))] // used by the `mpi` executor
pub(crate) struct Polled {
    /// Receive tasks admitted since the last poll.
    pub(crate) receives: Vec<usize>,
    /// Results to send.
    pub(crate) outgoing: Vec<Outgoing>,
    /// Every task has finished (received tiles delivered, results queued).
    pub(crate) finished: bool,
    /// A task is running on a worker.
    pub(crate) working: bool,
    /// The run failed (here, or as told by [`Exchange::fail`]).
    pub(crate) failed: bool,
}

/// The executor's bookkeeping, shared by the workers.
struct State<'a> {
    plan: &'a Plan,
    consumers: Vec<Vec<usize>>,
    /// Per task: the outputs (and blocks) it gives.
    output_of: Vec<Vec<(usize, Vec<usize>)>>,
    waiting_deps: Vec<usize>,
    readers: Vec<usize>,
    values: Vec<Option<Value>>,
    ready: BinaryHeap<Reverse<usize>>,
    /// The first task in plan order that has not started.
    next: usize,
    /// Per task: whether it started.
    started: Vec<bool>,
    /// Per task: whether it started ahead of `next` and its output (to come, or held) still
    /// counts in `ahead`.
    is_ahead: Vec<bool>,
    /// Projected output bytes of the tasks started ahead of `next` whose tiles are running
    /// or held.
    ahead: u64,
    held: u64,
    reserved: u64,
    peak: u64,
    running: usize,
    /// Tasks finished (run, or received).
    completed: usize,
    /// Receive tasks admitted and not yet handed to the link.
    receives: Vec<usize>,
    /// Receive tasks admitted whose tiles have not arrived.
    awaiting: usize,
    /// Encoded results queued for the link.
    outbox: Vec<Outgoing>,
    /// Bytes of encoded results queued or being sent.
    sending: u64,
    /// The most bytes of encoded results queued or being sent at once.
    peak_sending: u64,
    failure: Option<Error>,
    trace: Vec<TraceEvent>,
    progress: Progress,
    /// Chunks of upcoming reads fetched ahead (object stores); their bytes count
    /// like tiles started ahead of plan order.
    prefetch: Prefetcher<'a>,
}

/// What every task needs to know besides the shared state.
struct Run<'a> {
    state: Mutex<State<'a>>,
    /// Receives output tiles outside the state's lock, so that copying a large tile out
    /// (into a result array) does not hold up the other workers' bookkeeping.
    outputs: &'a Outputs<'a>,
    threads: usize,
    budget: u64,
    strip_len: usize,
    tracing: bool,
    start: Instant,
    /// The computation's `tracing` span: the parent of each task's span, whichever worker
    /// thread runs it.
    span: tracing::Span,
}

impl<'a> Run<'a> {
    fn lock(&self) -> MutexGuard<'_, State<'a>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts ready tasks, in plan order, while workers are free and memory fits.
    fn launch<'s>(&'s self, state: &mut State<'a>, scope: &Scope<'s>)
    where
        'a: 's,
    {
        while state.failure.is_none() {
            let Some(&Reverse(t)) = state.ready.peek() else {
                break;
            };
            let task = &state.plan.tasks[t];
            let receive = matches!(task.kind, TaskKind::Receive { .. });
            if !receive && state.running >= self.threads {
                break;
            }
            let need = task.run_bytes();
            let in_order = t == state.next;
            // Ahead of plan order, only if the plan order can still finish beside it (see
            // the module's documentation) and beside the results waiting to be sent.
            // The task's own fetched bytes are part of its `need`.
            let fetched = state.prefetch.bytes - state.prefetch.held_for(t);
            let queued = if in_order { 0 } else { state.sending };
            let safe = in_order
                || state.plan.needs[state.next]
                    .saturating_add(state.ahead + fetched + queued + task.out_bytes)
                    <= self.budget;
            if !safe || state.held + state.reserved + fetched + queued + need > self.budget {
                // With nothing running, every task before `next` is done, so `t` is `next`
                // and fits unless a task's tile outgrew its projection.
                if state.running == 0 && state.awaiting == 0 {
                    state.failure = Some(Error::Exec(ExecError::BudgetExhausted {
                        task: task.describe(),
                        held: state.held,
                        needed: need,
                        budget: self.budget,
                    }));
                }
                break;
            }
            state.ready.pop();
            state.start(t, in_order);
            state.prefetch.hand_over(t);
            state.reserved += need;
            state.peak = state.peak.max(state.held + state.reserved);
            if receive {
                state.receives.push(t);
                state.awaiting += 1;
                continue;
            }
            state.running += 1;
            let inputs: Vec<Value> = task
                .deps
                .iter()
                .map(|&d| {
                    state.values[d]
                        .clone()
                        .expect("dependencies finish before their consumers")
                })
                .collect();
            scope.spawn(move |scope| self.run_one(t, inputs, scope));
        }
        self.fetch_ahead(state);
    }

    /// Starts fetching the chunks of upcoming reads, while the plan order can still
    /// finish beside them (the rule for tasks started ahead) and they fit beside what is
    /// held and reserved.
    fn fetch_ahead(&self, state: &mut State<'a>) {
        if state.failure.is_some() || state.next >= state.started.len() {
            return;
        }
        let order = state.plan.needs[state.next].saturating_add(state.ahead);
        let now = state.held + state.reserved;
        let budget = self.budget;
        let State {
            prefetch, started, ..
        } = state;
        prefetch.advance(started, |fetched| {
            order.saturating_add(fetched) <= budget && now.saturating_add(fetched) <= budget
        });
        state.peak = state.peak.max(now + state.prefetch.bytes);
    }

    /// Runs task `t` on this worker, records its result, and starts what became ready.
    fn run_one<'s>(&'s self, t: usize, inputs: Vec<Value>, scope: &Scope<'s>)
    where
        'a: 's,
    {
        let plan: &Plan = self.lock().plan;
        let task = &plan.tasks[t];
        let began = Instant::now();
        // The span too: an application's tracing subscriber runs inside it.
        let result = caught(
            || task.describe(),
            || {
                let span = tracing::debug_span!(
                    parent: &self.span,
                    "task",
                    node = task.node_number,
                    kind = ?task.kind,
                    block = ?task.block,
                    op = %task.node.label(),
                );
                span.in_scope(|| run_task(task, &inputs, self.strip_len))
            },
        );
        drop(inputs);
        let event = self.tracing.then(|| TraceEvent {
            name: task.describe(),
            start: began.duration_since(self.start),
            end: Instant::now().duration_since(self.start),
            thread: rayon::current_thread_index().unwrap_or(0),
            bytes: result.as_ref().map(|v| v.nbytes() as u64).unwrap_or(0),
        });
        // Results that other processes read are encoded here, in parallel, not by the link.
        let readers = plan.sends.get(t).filter(|to| !to.is_empty());
        let outgoing = match (&result, readers) {
            (Ok(value), Some(to)) => match caught(
                || format!("{}, encoding it for another process", task.describe()),
                || encode(value),
            ) {
                Ok(bytes) => Some(Outgoing {
                    task: t,
                    bytes,
                    to: to.clone(),
                }),
                Err(e) => {
                    self.lock().failure.get_or_insert(e);
                    None
                }
            },
            _ => None,
        };
        let mut state = self.lock();
        state.running -= 1;
        state.prefetch.release(t);
        state.trace.extend(event);
        if let Some(outgoing) = outgoing {
            state.sending += outgoing.bytes.len() as u64;
            state.peak_sending = state.peak_sending.max(state.sending);
            state.outbox.push(outgoing);
        }
        self.finish(state, t, result, scope);
    }

    /// Records the result of task `t` (run here, or received), starts what became ready,
    /// and hands an output tile to `outputs`.
    fn finish<'s>(
        &'s self,
        mut state: MutexGuard<'_, State<'a>>,
        t: usize,
        result: Result<Value>,
        scope: &Scope<'s>,
    ) where
        'a: 's,
    {
        let task = &state.plan.tasks[t];
        state.reserved -= task.run_bytes();
        state.progress.tick();
        let delivery = match result {
            Ok(value) => {
                let outputs = state.output_of[t].clone();
                state.complete(t, value.clone());
                (!outputs.is_empty()).then_some((outputs, value))
            }
            Err(e) => {
                state.failure.get_or_insert(e);
                None
            }
        };
        self.launch(&mut state, scope);
        let plan = state.plan;
        drop(state);
        if let Some((outputs, value)) = delivery {
            for (o, block) in &outputs {
                let delivered = caught(
                    || format!("{}, delivering it as an output", plan.tasks[t].describe()),
                    || (self.outputs)(*o, block, &value),
                );
                if let Err(e) = delivered {
                    self.lock().failure.get_or_insert(e);
                    break;
                }
            }
        }
    }
}

/// A link's handle on a running executor: what to receive and send, and where to deliver
/// what arrived.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))] // used by the `mpi` executor
pub(crate) struct Exchange<'e, 'a, 's> {
    run: &'s Run<'a>,
    scope: &'e Scope<'s>,
}

#[cfg_attr(not(feature = "mpi"), allow(dead_code))] // used by the `mpi` executor
impl<'a: 's, 's> Exchange<'_, 'a, 's> {
    /// The plan this process runs.
    pub(crate) fn plan(&self) -> &'a Plan {
        self.run.lock().plan
    }

    /// Takes the receive tasks admitted and the results queued since the last poll.
    pub(crate) fn poll(&self) -> Polled {
        let mut state = self.run.lock();
        Polled {
            receives: std::mem::take(&mut state.receives),
            outgoing: std::mem::take(&mut state.outbox),
            finished: state.completed == state.plan.tasks.len(),
            working: state.running > 0,
            failed: state.failure.is_some(),
        }
    }

    /// Hands the received tile of receive task `t` (or the error of receiving it) to the
    /// executor.
    pub(crate) fn deliver(&self, t: usize, result: Result<Value>) {
        let mut state = self.run.lock();
        state.awaiting -= 1;
        self.run.finish(state, t, result, self.scope);
    }

    /// Notes that `bytes` of queued results have been sent (which may let tasks start
    /// ahead of plan order).
    pub(crate) fn sent(&self, bytes: u64) {
        let mut state = self.run.lock();
        state.sending -= bytes;
        self.run.launch(&mut state, self.scope);
    }

    /// Stops the run with `error` (a failure elsewhere, a lost peer).
    pub(crate) fn fail(&self, error: Error) {
        self.run.lock().failure.get_or_insert(error);
    }
}

impl State<'_> {
    /// Marks task `t` started: moves `next` past the started tasks (whose tiles are then
    /// no longer ahead of it), or counts `t`'s output as ahead.
    fn start(&mut self, t: usize, in_order: bool) {
        self.started[t] = true;
        if !in_order {
            self.is_ahead[t] = true;
            self.ahead += self.plan.tasks[t].out_bytes;
            return;
        }
        while self.next < self.started.len() && self.started[self.next] {
            self.not_ahead(self.next);
            self.next += 1;
        }
    }

    /// Stops counting task `t`'s output as ahead of `next` (it is freed, or `next` passed it).
    fn not_ahead(&mut self, t: usize) {
        if self.is_ahead[t] {
            self.is_ahead[t] = false;
            self.ahead -= self.plan.tasks[t].out_bytes;
        }
    }

    /// Records task `t`'s result: releases inputs whose last reader this was, and marks
    /// consumers ready. (The caller hands output tiles to `outputs`.)
    fn complete(&mut self, t: usize, value: Value) {
        self.completed += 1;
        let bytes = value.nbytes() as u64;
        self.held += bytes;
        self.peak = self.peak.max(self.held + self.reserved);
        for &d in &self.plan.tasks[t].deps {
            self.readers[d] -= 1;
            if self.readers[d] == 0
                && let Some(v) = self.values[d].take()
            {
                self.held -= v.nbytes() as u64;
                self.not_ahead(d);
            }
        }
        if self.readers[t] == 0 {
            self.held -= bytes;
            self.not_ahead(t);
        } else {
            self.values[t] = Some(value);
        }
        for i in 0..self.consumers[t].len() {
            let c = self.consumers[t][i];
            self.waiting_deps[c] -= 1;
            if self.waiting_deps[c] == 0 {
                self.ready.push(Reverse(c));
            }
        }
    }
}

/// Runs `plan`; `outputs(output, block, tile)` receives each output tile as soon as it exists.
/// With a `link`, the plan is one process's part of a distributed run, and the link moves
/// tiles on a thread of the pool beside the `Config::threads` workers.
pub(crate) fn execute(
    plan: &Plan,
    config: &Config,
    outputs: &Outputs<'_>,
    link: Option<&dyn Link>,
) -> Result<Report> {
    let start = Instant::now();
    let threads = config.worker_threads();
    let budget = config.budget_bytes();
    let pool = pool(threads + usize::from(link.is_some()))?;
    let n = plan.tasks.len();
    let consumers = plan.consumers();
    let mut output_of: Vec<Vec<(usize, Vec<usize>)>> = vec![Vec::new(); n];
    for (o, blocks) in plan.outputs.iter().enumerate() {
        for (block, t) in blocks {
            output_of[*t].push((o, block.clone()));
        }
    }
    let waiting_deps: Vec<usize> = plan.tasks.iter().map(|t| t.deps.len()).collect();
    let ready = (0..n)
        .filter(|&t| waiting_deps[t] == 0)
        .map(Reverse)
        .collect();
    let readers = consumers.iter().map(Vec::len).collect();
    let state = State {
        plan,
        consumers,
        output_of,
        waiting_deps,
        readers,
        values: vec![None; n],
        ready,
        next: 0,
        started: vec![false; n],
        is_ahead: vec![false; n],
        ahead: 0,
        held: 0,
        reserved: 0,
        peak: 0,
        running: 0,
        completed: 0,
        receives: Vec::new(),
        awaiting: 0,
        outbox: Vec::new(),
        sending: 0,
        peak_sending: 0,
        failure: None,
        trace: Vec::new(),
        progress: Progress::new(n as u64, config.progress),
        prefetch: Prefetcher::new(plan, config.io_concurrency),
    };
    let run = Run {
        state: Mutex::new(state),
        outputs,
        threads,
        budget,
        strip_len: config.strip_len,
        tracing: config.trace,
        start,
        span: tracing::info_span!("compute", tasks = n, threads, budget),
    };
    // Entered on the calling thread for the whole run, so that a subscriber times it.
    run.span.in_scope(|| {
        pool.scope(|scope| {
            let mut state = run.lock();
            run.launch(&mut state, scope);
            drop(state);
            if let Some(link) = link {
                link.serve(&Exchange { run: &run, scope });
            }
        })
    });
    let state = run.state.into_inner().unwrap_or_else(|p| p.into_inner());
    state.progress.finish();
    if let Some(e) = state.failure {
        return Err(e);
    }
    Ok(Report {
        tasks: n,
        peak_bytes: state.peak,
        budget,
        threads,
        elapsed: start.elapsed(),
        trace: state.trace,
        bytes_sent: 0,
        bytes_moved: 0,
        peak_sending_bytes: state.peak_sending,
    })
}

/// What `work` returns, or, if it panics, `ExecError::TaskPanicked` naming `what` it was
/// doing: a panic in a task (a user's closure, or a bug of ours) becomes the run's error,
/// and the task is counted as ended like any other.
fn caught<R>(what: impl FnOnce() -> String, work: impl FnOnce() -> Result<R>) -> Result<R> {
    catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|payload| {
        Err(Error::Exec(ExecError::TaskPanicked {
            task: what(),
            message: panic_message(&payload),
        }))
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

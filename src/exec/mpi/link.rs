//! The executor of a distributed run: each process runs its share of the plan on its own
//! rayon pool, inside its own memory budget, and a link thread moves tiles between the
//! processes with non-blocking MPI sends and receives while the workers compute.
//!
//! Messages go over a communicator duplicated for the run, so that nothing of one run (a
//! message never received after a failure) can be taken for a tile of the next. A data
//! message carries one encoded tile and is tagged with its task's number in the whole plan
//! (plus one); tag 0 tells the other processes that this one failed.
//!
//! A run ends with every process agreeing on its outcome: a non-blocking all-reduce of the
//! lowest failed rank, then that rank's error broadcast to the others, so every process
//! returns the same error, naming the rank and the task. A process that hears of a failure
//! stops starting tasks; one that waits for a tile, or for the others at the end, longer
//! than the time-out after the last sign of work from the others (see [`alive`]), fails
//! (and at the end aborts the MPI job) instead of hanging.
//!
//! [`alive`]: super::alive

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::raw::c_int;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mpi::collective::SystemOperation;
use mpi::point_to_point::{Destination, MatchedReceiveVec, Source};
use mpi::request::StaticScope;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives};

use super::alive::Liveness;
use super::cluster::{Cluster, agree, agree_while, distributed, least_waiting, pause};
use super::place::{Share, place, share};
use super::tally::{Sends, Tally, complete, forget, incomplete};
use crate::error::{Error, ExecError, Result};
use crate::exec::config::Config;
use crate::exec::plan::{Plan, TaskKind};
use crate::exec::run::{Exchange, Executor, Link, Outputs, Report, execute};
use crate::graph::{self, NodeKind};
use crate::tile::Value;
use crate::tile::encode::decode;

/// The tag that tells the other processes this one failed.
const FAILED: c_int = 0;

/// An error naming the first node of `plan` whose tiles can be computed only within one
/// process (see [`BlockMap::single_process`](crate::tile::block_map::BlockMap::single_process)).
fn refuse_single_process(plan: &Plan) -> Result<()> {
    for task in &plan.tasks {
        if let NodeKind::Blockwise(b) = &task.node.kind
            && let Some(why) = b.map.single_process()
        {
            return Err(distributed(&format!(
                "{} cannot run in a distributed run: {why}",
                b.map.name()
            )));
        }
    }
    Ok(())
}

/// A digest of what `plan` computes: the same in every process that builds the same
/// program, as tasks are matched across processes by their numbers. It covers the tasks
/// and, for each node, its kind, type, chunks and label (the operation, for a stored
/// source only its kind: ranks may open one store by different paths). User functions
/// are known by their names only.
fn digest(plan: &Plan) -> u64 {
    let mut hasher = DefaultHasher::new();
    plan.tasks.len().hash(&mut hasher);
    let mut nodes = HashSet::new();
    for task in &plan.tasks {
        std::mem::discriminant(&task.kind).hash(&mut hasher);
        if let TaskKind::Combine { level } = task.kind {
            level.hash(&mut hasher);
        }
        (task.node_number, &task.block, &task.deps, task.out_bytes).hash(&mut hasher);
        if nodes.insert(task.node_number) {
            let node = &task.node;
            (std::mem::discriminant(&node.kind), node.dtype, &node.grid).hash(&mut hasher);
            if !matches!(node.kind, NodeKind::Source(graph::Source::Tiles(_))) {
                node.label().hash(&mut hasher);
            }
        }
    }
    hasher.finish()
}

/// Runs plans on the processes of a [`Cluster`], each process its share.
pub(crate) struct MpiExecutor<'c> {
    pub(crate) cluster: &'c Cluster,
}

impl Executor for MpiExecutor<'_> {
    fn execute(&self, plan: &Plan, config: &Config, outputs: &Outputs<'_>) -> Result<Report> {
        let cluster = self.cluster;
        let (world, _calls) = cluster.serialize();
        let rank = cluster.rank();
        let timeout = config.exchange_timeout;
        // The least digest and the greatest (the least of the complements) are equal when
        // every process planned the same.
        let digest = digest(plan);
        let here = || "is ready to run".to_string();
        let [least, complement] =
            least_waiting(world, rank, [digest, !digest], timeout, here, || false);
        // Every process places the same plan the same way; each checks its own share
        // against the budget, and all agree before any runs (a process that never comes,
        // a program that computes on some ranks only, ends the job after the time-out).
        let planned = (|| {
            // A node that cannot be distributed is named first (its label may differ by
            // process, as the intermediate array of `rechunk_via_store` does).
            refuse_single_process(plan)?;
            if least != !complement {
                return Err(distributed(
                    "the processes planned different computations: every rank must build \
                     the same arrays and compute them together",
                ));
            }
            if plan.tasks.len() >= cluster.tag_limit() as usize {
                return Err(distributed(&format!(
                    "{} tasks, more than this MPI library's {} message tags",
                    plan.tasks.len(),
                    cluster.tag_limit()
                )));
            }
            let owner = place(plan, cluster.size());
            let share = share(plan, &owner, rank, cluster.size(), &|r| {
                config.gather.includes(r)
            });
            share.plan.check_budget(config.budget_bytes())?;
            Ok(share)
        })();
        let share = agree(world, rank, planned, timeout)?;
        let comm = world.duplicate();
        let link = MpiLink {
            comm: &comm,
            rank,
            ranks: cluster.size(),
            whole: plan,
            share: &share,
            timeout,
            sent: AtomicU64::new(0),
            live: Mutex::new(Liveness::new(world, timeout)),
            tally: Mutex::new(Tally::new(cluster.size())),
            unfinished: Mutex::new(Vec::new()),
        };
        let outcome = execute(&share.plan, config, outputs, Some(&link));
        let mut live = lock(&link.live);
        let agreed = agree_while(&comm, rank, outcome, timeout, || live.heard());
        live.finish();
        link.finish();
        let mut report = agreed?;
        report.bytes_sent = link.sent.load(Ordering::Relaxed);
        let mut moved = 0u64;
        comm.all_reduce_into(&report.bytes_sent, &mut moved, SystemOperation::sum());
        report.bytes_moved = moved;
        Ok(report)
    }
}

/// The link of one process (see the module's documentation).
struct MpiLink<'r> {
    comm: &'r SimpleCommunicator,
    rank: usize,
    ranks: usize,
    whole: &'r Plan,
    share: &'r Share,
    timeout: Duration,
    sent: AtomicU64,
    /// Signs of work, sent and heard while the run goes on.
    live: Mutex<Liveness>,
    /// The messages sent and received on `comm`.
    tally: Mutex<Tally>,
    /// Sends a failed run left in flight, completed by [`MpiLink::finish`].
    unfinished: Mutex<Vec<Sending>>,
}

/// The value of `mutex`, whoever panicked holding it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

// SAFETY: the link calls MPI (through `comm`) only from the one thread that serves the
// exchange, while the thread that started the run waits for the pool (holding the
// cluster's call lock); MPI was initialised for at least `MPI_THREAD_SERIALIZED`.
unsafe impl Sync for MpiLink<'_> {}

/// An encoded tile being sent: its buffer (handed to MPI for the sends' lifetime) and the
/// sends still in flight.
struct Sending {
    buffer: &'static [u8],
    requests: Sends,
}

impl Sending {
    /// Whether every send has completed (those that did not are kept).
    fn progress(&mut self) -> bool {
        self.requests = incomplete(std::mem::take(&mut self.requests));
        self.requests.is_empty()
    }

    /// Waits for every send to complete, then frees the buffer.
    fn complete(mut self) {
        complete(&mut self.requests);
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        if self.requests.is_empty() {
            // SAFETY: the buffer was leaked from a `Box<[u8]>` in `MpiLink::send`, and no
            // send reads it any more.
            drop(unsafe { Box::from_raw(self.buffer as *const [u8] as *mut [u8]) });
        } else {
            // A run that ended without completing them: MPI may still read the buffer, so
            // it is leaked with its sends.
            forget(&mut self.requests);
        }
    }
}

impl Link for MpiLink<'_> {
    fn serve(&self, exchange: &Exchange<'_, '_, '_>) {
        let plan = exchange.plan();
        let mut sending: Vec<Sending> = Vec::new();
        // Admitted receive tasks whose tiles have not come: (task, rank, tag).
        let mut awaiting: Vec<(usize, usize, c_int)> = Vec::new();
        let mut last_arrival = Instant::now();
        let mut live = lock(&self.live);
        // The notice of this process's failure, once sent.
        let mut told: Option<Sending> = None;
        let mut idle = 0u32;
        loop {
            let polled = exchange.poll();
            let mut progress = !polled.receives.is_empty() || !polled.outgoing.is_empty();
            for t in polled.receives {
                let TaskKind::Receive { from } = plan.tasks[t].kind else {
                    unreachable!("only receive tasks are handed to the link")
                };
                awaiting.push((t, from, self.tag(t)));
            }
            for outgoing in polled.outgoing {
                // A failed run's tiles are neither sent nor received: no one would use them
                // (those already on their way are taken by `finish`).
                if polled.failed {
                    exchange.sent(outgoing.bytes.len() as u64);
                    continue;
                }
                if outgoing.bytes.len() > c_int::MAX as usize {
                    exchange.fail(distributed(&format!(
                        "{} makes a tile of {} bytes, more than one MPI message holds \
                         (2 GiB): use smaller chunks",
                        plan.tasks[outgoing.task].describe(),
                        outgoing.bytes.len()
                    )));
                    exchange.sent(outgoing.bytes.len() as u64);
                    continue;
                }
                let tag = self.tag(outgoing.task);
                sending.push(self.send(outgoing.bytes, &outgoing.to, tag));
            }
            sending.retain_mut(|s| {
                let done = s.progress();
                if done {
                    exchange.sent(s.buffer.len() as u64);
                    progress = true;
                }
                !done
            });
            if let Some((_, status)) = self
                .comm
                .any_process()
                .immediate_matched_probe_with_tag(FAILED)
                .map(|probed| probed.matched_receive_vec::<u8>())
            {
                lock(&self.tally).received(status.source_rank() as usize);
                exchange.fail(Error::Exec(ExecError::OnRank {
                    rank: status.source_rank() as usize,
                    message: "stopped by its failure".into(),
                }));
            }
            let mut k = 0;
            while !polled.failed && k < awaiting.len() {
                let (t, from, tag) = awaiting[k];
                let probe = self
                    .comm
                    .process_at_rank(from as c_int)
                    .immediate_matched_probe_with_tag(tag);
                match probe {
                    Some(probed) => {
                        let (bytes, _) = probed.matched_receive_vec::<u8>();
                        lock(&self.tally).received(from);
                        exchange.deliver(t, self.decode(t, &bytes));
                        awaiting.swap_remove(k);
                        progress = true;
                        last_arrival = Instant::now();
                    }
                    None => k += 1,
                }
            }
            if polled.failed {
                // Tell the others to stop. The failure is settled when every process agrees
                // (see `agree`), and the messages no one took are received then (see
                // `finish`).
                if told.is_none() {
                    let peers: Vec<usize> = (0..self.ranks).filter(|&r| r != self.rank).collect();
                    told = Some(self.send(vec![1], &peers, FAILED));
                }
                // Tasks that are running finish before the run ends: meanwhile the others,
                // which wait for this process, hear that it works.
                if !polled.working {
                    break;
                }
                live.beat(true);
                live.heard();
                pause(u32::MAX);
                continue;
            }
            if polled.finished && sending.is_empty() {
                break;
            }
            live.beat(polled.working || progress);
            let heard = live.heard();
            if awaiting.is_empty() || heard {
                last_arrival = Instant::now();
            } else if last_arrival.elapsed() > self.timeout {
                let (t, from, _) = awaiting[0];
                exchange.fail(distributed(&format!(
                    "no tile from rank {from} for {}, nor any sign of work from the others, \
                     within {:?}",
                    plan.tasks[t].describe(),
                    self.timeout
                )));
                continue;
            }
            idle = if progress { 0 } else { idle.saturating_add(1) };
            pause(idle);
        }
        lock(&self.unfinished).extend(sending.into_iter().chain(told));
    }
}

impl MpiLink<'_> {
    /// Receives every message of the run still on its way to this process, and completes
    /// the sends a failed run left in flight, so that nothing of this run is left on its
    /// communicator (see [`Tally`]). Collective, once the run's outcome is agreed.
    fn finish(&self) {
        lock(&self.tally).drain(self.comm);
        for sending in lock(&self.unfinished).drain(..) {
            sending.complete();
        }
    }

    /// The tag of the messages carrying the tile of task `t` of this share.
    fn tag(&self, t: usize) -> c_int {
        (self.share.global[t] + 1) as c_int
    }

    /// Starts sending `bytes` to each of `to`.
    fn send(&self, bytes: Vec<u8>, to: &[usize], tag: c_int) -> Sending {
        let buffer: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        let mut tally = lock(&self.tally);
        let requests = to
            .iter()
            .map(|&peer| {
                tally.sent(peer);
                self.sent.fetch_add(buffer.len() as u64, Ordering::Relaxed);
                self.comm
                    .process_at_rank(peer as c_int)
                    .immediate_send_with_tag(StaticScope, buffer, tag)
            })
            .collect();
        Sending { buffer, requests }
    }

    /// The tile received for receive task `t`: partial states are decoded by the reducer of
    /// the task that made them.
    fn decode(&self, t: usize, bytes: &[u8]) -> Result<Value> {
        let producer = &self.whole.tasks[self.share.global[t]];
        let reducer = match (&producer.kind, &producer.node.kind) {
            (TaskKind::Partial | TaskKind::Combine { .. }, NodeKind::Reduce(r)) => {
                Some(&*r.reducer)
            }
            _ => None,
        };
        decode(bytes, reducer)
    }
}

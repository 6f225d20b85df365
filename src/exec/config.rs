//! How a computation runs: threads, memory budget, progress, tracing, fusion.

use chunkwise_kernels::strip::DEFAULT_STRIP_LEN;

use super::memory::default_budget;
use crate::error::Result;

/// Settings of one computation.
///
/// ```
/// use chunkwise::Config;
/// let config = Config::default().threads(2).memory_budget(512 << 20).progress(false);
/// assert_eq!(config.threads, 2);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// Bytes that tiles, partial results and task scratch may hold at once; `None` means
    /// half of the memory this process may use ([`physical_memory`](crate::physical_memory):
    /// the machine's, or its cgroup's limit where that is smaller).
    pub memory_budget: Option<u64>,
    /// Show a progress bar (default: on when the environment variable `CHUNKWISE_PROGRESS`
    /// is `1` or `true`).
    pub progress: bool,
    /// Record a per-task trace (see `Report::trace`).
    pub trace: bool,
    /// Fuse elementwise chains (and fuse them into reductions). On by default.
    pub fuse: bool,
    /// Elements per strip in fused kernels.
    pub strip_len: usize,
    /// Source tasks on object storage whose chunks are fetched ahead, in plan order, while
    /// earlier tasks compute (within the memory budget); 0 fetches each tile only when its
    /// task runs. The requests of one store in flight at once are bounded by its
    /// `RemoteOptions::max_requests` of the io layer.
    pub io_concurrency: usize,
    /// The MPI processes the computation runs on (see [`Config::on`]); `None`: this process.
    #[cfg(feature = "mpi")]
    pub cluster: Option<super::mpi::Cluster>,
    /// Where a distributed computation's result goes (rank 0 by default).
    #[cfg(feature = "mpi")]
    pub gather: super::mpi::Gather,
    /// How long a process of a distributed run waits for a tile from another, or for the
    /// others at the end, after the last sign of work from the others (a process sends
    /// them while its tasks run, however long a task takes: a task that never ends keeps
    /// the others waiting), before it fails (and at the end, aborts the job) instead of
    /// hanging.
    #[cfg(feature = "mpi")]
    pub exchange_timeout: std::time::Duration,
}

impl Default for Config {
    fn default() -> Config {
        let progress = std::env::var("CHUNKWISE_PROGRESS")
            .map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
            .unwrap_or(false);
        Config {
            threads: 0,
            memory_budget: None,
            progress,
            trace: false,
            fuse: true,
            strip_len: DEFAULT_STRIP_LEN,
            io_concurrency: 16,
            #[cfg(feature = "mpi")]
            cluster: None,
            #[cfg(feature = "mpi")]
            gather: super::mpi::Gather::Root,
            #[cfg(feature = "mpi")]
            exchange_timeout: super::mpi::DEFAULT_EXCHANGE_TIMEOUT,
        }
    }
}

impl Config {
    /// Sets the number of worker threads (0: one per core).
    pub fn threads(mut self, threads: usize) -> Config {
        self.threads = threads;
        self
    }

    /// Sets the memory budget in bytes.
    pub fn memory_budget(mut self, bytes: u64) -> Config {
        self.memory_budget = Some(bytes);
        self
    }

    /// Shows or hides the progress bar.
    pub fn progress(mut self, on: bool) -> Config {
        self.progress = on;
        self
    }

    /// Records a per-task trace.
    pub fn trace(mut self, on: bool) -> Config {
        self.trace = on;
        self
    }

    /// Turns fusion on or off.
    pub fn fuse(mut self, on: bool) -> Config {
        self.fuse = on;
        self
    }

    /// Sets the strip length of fused kernels.
    pub fn strip_len(mut self, len: usize) -> Config {
        self.strip_len = len.max(1);
        self
    }

    /// Sets how many tasks reading object storage have their chunks fetched ahead (0: none).
    pub fn io_concurrency(mut self, tasks: usize) -> Config {
        self.io_concurrency = tasks;
        self
    }

    /// Runs computations on the processes of `cluster`, each its share of the tiles, with
    /// this config's threads and memory budget per process. Every process must run the same
    /// computations in the same order.
    #[cfg(feature = "mpi")]
    pub fn on(mut self, cluster: &super::mpi::Cluster) -> Config {
        self.cluster = Some(cluster.clone());
        self
    }

    /// Sets where a distributed computation's result goes.
    #[cfg(feature = "mpi")]
    pub fn gather(mut self, gather: super::mpi::Gather) -> Config {
        self.gather = gather;
        self
    }

    /// Sets how long a process of a distributed run waits for the others after their last
    /// sign of work (see [`Config::exchange_timeout`](Config#structfield.exchange_timeout)).
    #[cfg(feature = "mpi")]
    pub fn exchange_timeout(mut self, timeout: std::time::Duration) -> Config {
        self.exchange_timeout = timeout;
        self
    }

    /// Whether a computation under this config hands its result to this process: always in
    /// one process; in a distributed run, on the ranks it is gathered on.
    pub(crate) fn gathers_here(&self) -> bool {
        #[cfg(feature = "mpi")]
        if let Some(cluster) = &self.cluster {
            return self.gather.includes(cluster.rank());
        }
        true
    }

    /// The outcome of a step every process of the computation took (`outcome` here): in a
    /// distributed run, the same on every rank (the error of the lowest rank that failed,
    /// if any did), and no rank goes on before every rank has come here.
    pub(crate) fn agree<T>(&self, outcome: Result<T>) -> Result<T> {
        #[cfg(feature = "mpi")]
        if let Some(cluster) = &self.cluster {
            return cluster.agree(outcome, self.exchange_timeout);
        }
        outcome
    }

    /// Runs `step` in one process of the computation (rank 0 of a distributed run, once
    /// every rank has come here) and gives every process its answer: for storage that one
    /// process writes (metadata) and the others then read.
    pub(crate) fn on_root(&self, step: impl FnOnce() -> Result<String>) -> Result<String> {
        #[cfg(feature = "mpi")]
        if let Some(cluster) = &self.cluster {
            return cluster.on_root(step, self.exchange_timeout);
        }
        step()
    }

    /// This process's rank in the computation's cluster (0 in one process).
    pub(crate) fn rank(&self) -> usize {
        #[cfg(feature = "mpi")]
        if let Some(cluster) = &self.cluster {
            return cluster.rank();
        }
        0
    }

    /// The number of worker threads this config gives.
    pub fn worker_threads(&self) -> usize {
        if self.threads == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            self.threads
        }
    }

    /// The memory budget this config gives, in bytes.
    pub fn budget_bytes(&self) -> u64 {
        self.memory_budget.unwrap_or_else(default_budget)
    }

    /// The memory budget and worker threads a computation is planned with: in a
    /// distributed run the least of every process's (each sees its own machine's memory
    /// and cores), so that all plan the same tasks; this process's otherwise.
    pub(crate) fn planning_limits(&self) -> (u64, usize) {
        #[cfg(feature = "mpi")]
        if let Some(cluster) = &self.cluster {
            let mine = [self.budget_bytes(), self.worker_threads() as u64];
            let [budget, threads] = cluster.least(mine, self.exchange_timeout);
            return (budget, threads as usize);
        }
        self.own_limits()
    }

    /// This process's memory budget and worker threads.
    pub(crate) fn own_limits(&self) -> (u64, usize) {
        (self.budget_bytes(), self.worker_threads())
    }
}

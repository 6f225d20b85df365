//! How a computation runs: threads, memory budget, progress, tracing, fusion.

use chunkwise_kernels::strip::DEFAULT_STRIP_LEN;

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
    /// half of the physical memory.
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
    /// Let the allocator keep freed tile buffers for reuse (glibc: raise the mmap and trim
    /// thresholds, once per process) instead of unmapping and faulting them in again for every
    /// tile. On by default; `CHUNKWISE_KEEP_BUFFERS=0` turns it off.
    pub keep_buffers: bool,
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
            keep_buffers: std::env::var("CHUNKWISE_KEEP_BUFFERS").map_or(true, |v| v != "0"),
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

    /// Lets the allocator keep freed tile buffers for reuse (see the field's documentation).
    pub fn keep_buffers(mut self, on: bool) -> Config {
        self.keep_buffers = on;
        self
    }

    /// Sets the strip length of fused kernels.
    pub fn strip_len(mut self, len: usize) -> Config {
        self.strip_len = len.max(1);
        self
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
        self.memory_budget.unwrap_or_else(|| physical_memory() / 2)
    }
}

/// Physical memory in bytes (from `/proc/meminfo`; 8 GiB where it cannot be read).
pub fn physical_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        })
        .unwrap_or(8 << 30)
}

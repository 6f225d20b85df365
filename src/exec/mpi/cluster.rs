//! The processes of an MPI job, as the handle a [`Config`](crate::Config) runs on.

use std::os::raw::{c_int, c_void};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mpi::collective::SystemOperation;
use mpi::topology::SimpleCommunicator;
use mpi::traits::Root;

use mpi::Threading;
use mpi::environment::Universe;
use mpi::raw::AsRaw;
use mpi::traits::{Communicator, CommunicatorCollectives};

use crate::error::{Error, ExecError, Result};

/// The processes of an MPI job (`mpirun -np N`, `srun`): every process runs the same program,
/// builds the same arrays, and computes them together when its [`Config`](crate::Config)
/// runs [`on`](crate::Config::on) the cluster.
///
/// Made once per program with [`Cluster::init`]; MPI is finalised when the last clone (the
/// cluster and the configs holding it) is dropped.
///
/// ```no_run
/// use chunkwise::{Config, mpi::Cluster};
/// let cluster = Cluster::init()?;
/// let config = Config::default().on(&cluster);
/// let x = chunkwise::random::normal::<f64>(7, 0.0, 1.0, &[4096, 4096], [1024, 1024])?;
/// // Every rank computes its share of the tiles; rank 0 gets the result.
/// if let Some(total) = x.sum().compute_gathered(&config)? {
///     println!("sum {}", total.first().unwrap());
/// }
/// # Ok::<(), chunkwise::Error>(())
/// ```
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
    /// The largest message tag (at least 32767 by the standard).
    tag_limit: u32,
    /// Held while a computation runs: MPI is called from one thread at a time (the
    /// library is initialised for `MPI_THREAD_SERIALIZED` at least).
    calls: Mutex<()>,
    /// Dropped last: finalises MPI.
    _universe: Universe,
}

// SAFETY: the communicator is an MPI handle; MPI was initialised with at least
// `MPI_THREAD_SERIALIZED`, and every use of it goes through `Cluster::serialize`, so no two
// threads call MPI at once.
unsafe impl Send for Inner {}
// SAFETY: as above.
unsafe impl Sync for Inner {}

impl Cluster {
    /// Initialises MPI (with threads: `MPI_THREAD_MULTIPLE` if the library offers it, at
    /// least `MPI_THREAD_SERIALIZED`). Fails if MPI was initialised already in this process
    /// or offers too little thread support.
    pub fn init() -> Result<Cluster> {
        let (universe, threading) = mpi::initialize_with_threading(Threading::Multiple)
            .ok_or_else(|| distributed("MPI is initialised already in this process"))?;
        if threading < Threading::Serialized {
            return Err(distributed(&format!(
                "the MPI library offers {threading:?} thread support; chunkwise needs \
                 Serialized or Multiple"
            )));
        }
        let world = universe.world();
        let tag_limit = tag_upper_bound(&world);
        Ok(Cluster {
            inner: Arc::new(Inner {
                rank: world.rank() as usize,
                size: world.size() as usize,
                world,
                tag_limit,
                calls: Mutex::new(()),
                _universe: universe,
            }),
        })
    }

    /// This process's rank, `0..size()`.
    pub fn rank(&self) -> usize {
        self.inner.rank
    }

    /// The number of processes.
    pub fn size(&self) -> usize {
        self.inner.size
    }

    /// Whether this is rank 0, which gathers results and writes Zarr metadata.
    pub fn is_root(&self) -> bool {
        self.inner.rank == 0
    }

    /// Waits until every process has come here.
    pub fn barrier(&self) {
        let (world, _calls) = self.serialize();
        world.barrier();
    }

    /// The world communicator, with the right to call MPI until the guard is dropped.
    pub(crate) fn serialize(&self) -> (&SimpleCommunicator, MutexGuard<'_, ()>) {
        let calls = self.inner.calls.lock().unwrap_or_else(|p| p.into_inner());
        (&self.inner.world, calls)
    }

    /// The outcome of a step every rank took (`outcome` here): the same on every rank, the
    /// error of the lowest rank that failed if any did (see [`agree`]).
    pub(crate) fn agree<T>(&self, outcome: Result<T>, timeout: Duration) -> Result<T> {
        let (world, _calls) = self.serialize();
        agree(world, self.rank(), outcome, timeout)
    }

    /// The least of each of `values` over all processes, on every process (once every
    /// process has come here).
    pub(crate) fn least<const N: usize>(&self, values: [u64; N], timeout: Duration) -> [u64; N] {
        let (world, _calls) = self.serialize();
        let here = || "is ready to plan".to_string();
        least_waiting(world, self.rank(), values, timeout, here, || false)
    }

    /// Runs `step` on rank 0 only, once every rank has come here, and gives every rank its
    /// answer (or its error).
    pub(crate) fn on_root(
        &self,
        step: impl FnOnce() -> Result<String>,
        timeout: Duration,
    ) -> Result<String> {
        let (world, _calls) = self.serialize();
        let outcome = match self.is_root() {
            true => step(),
            false => Ok(String::new()),
        };
        let answer = agree(world, self.rank(), outcome, timeout)?.into_bytes();
        let answer = broadcast_bytes(world, 0, answer);
        String::from_utf8(answer).map_err(|_| distributed("rank 0 sent a path that is not UTF-8"))
    }

    /// Ends every process of the job with `code` (`MPI_Abort`): for a failure that leaves
    /// the processes out of step, where waiting would hang.
    pub fn abort(&self, code: i32) -> ! {
        self.inner.world.abort(code)
    }

    /// The largest tag a message may carry.
    pub(crate) fn tag_limit(&self) -> u32 {
        self.inner.tag_limit
    }
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cluster(rank {} of {})", self.rank(), self.size())
    }
}

impl PartialEq for Cluster {
    fn eq(&self, other: &Cluster) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

/// Where [`compute`](crate::Array::compute_with) puts the result of a distributed run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Gather {
    /// On rank 0 only (the others get `None` from
    /// [`compute_gathered`](crate::Array::compute_gathered)).
    #[default]
    Root,
    /// On every rank (each result tile sent to every other rank).
    All,
}

impl Gather {
    /// Whether rank `rank` receives the result.
    pub(crate) fn includes(self, rank: usize) -> bool {
        match self {
            Gather::Root => rank == 0,
            Gather::All => true,
        }
    }
}

/// The time a process waits for a tile from another, or for the others at the end of a
/// run, before it gives up with an error (see `Config::exchange_timeout`).
pub const DEFAULT_EXCHANGE_TIMEOUT: Duration = Duration::from_secs(300);

/// `MPI_TAG_UB` of `world`.
fn tag_upper_bound(world: &SimpleCommunicator) -> u32 {
    let mut value: *mut c_int = std::ptr::null_mut();
    let mut found: c_int = 0;
    // SAFETY: `MPI_TAG_UB` is a predefined attribute of the world communicator; MPI stores
    // a pointer to its value in `value`, set when `found` is true.
    unsafe {
        mpi::ffi::MPI_Comm_get_attr(
            world.as_raw(),
            mpi::ffi::MPI_TAG_UB as c_int,
            (&mut value as *mut *mut c_int).cast::<c_void>(),
            &mut found,
        );
        if found != 0 && !value.is_null() {
            (*value).max(32767) as u32
        } else {
            32767
        }
    }
}

pub(crate) fn distributed(what: &str) -> Error {
    Error::Exec(ExecError::Distributed(what.to_string()))
}

/// Waits a little when nothing happened, longer the longer nothing happens (up to half a
/// millisecond), so that an idle link leaves the cores to the workers.
pub(crate) fn pause(idle: u32) {
    match idle {
        0..=16 => std::hint::spin_loop(),
        17..=64 => std::thread::yield_now(),
        _ => std::thread::sleep(Duration::from_micros(u64::from(idle.min(500)))),
    }
}

/// The outcome every process agrees on: `outcome` if every process succeeded, else the
/// error of the lowest failed rank (its own error on that rank, [`ExecError::OnRank`] on
/// the others). A process that does not come within `timeout` aborts the MPI job.
pub(crate) fn agree<T>(
    comm: &SimpleCommunicator,
    rank: usize,
    outcome: Result<T>,
    timeout: Duration,
) -> Result<T> {
    agree_while(comm, rank, outcome, timeout, || false)
}

/// [`agree`], where the time-out counts from the last time `heard` says that another
/// process showed signs of work.
pub(crate) fn agree_while<T>(
    comm: &SimpleCommunicator,
    rank: usize,
    outcome: Result<T>,
    timeout: Duration,
    heard: impl FnMut() -> bool,
) -> Result<T> {
    // A process stopped by another's failure defers to it.
    const STOPPED: u64 = u64::MAX - 1;
    let mine: u64 = match &outcome {
        Ok(_) => u64::MAX,
        Err(Error::Exec(ExecError::OnRank { .. })) => STOPPED,
        Err(_) => rank as u64,
    };
    let here = || match &outcome {
        Ok(_) => "succeeded".to_string(),
        Err(e) => format!("failed ({e})"),
    };
    let [first] = least_waiting(comm, rank, [mine], timeout, here, heard);
    if first == u64::MAX || first == STOPPED {
        // Every process succeeded, or each was stopped by a failure none of them owns
        // (cannot happen: the first failure stops the others).
        return outcome;
    }
    let message = match &outcome {
        Err(e) if first == rank as u64 => e.to_string().into_bytes(),
        _ => Vec::new(),
    };
    let message = broadcast_bytes(comm, first as usize, message);
    match outcome {
        Err(e) if first == rank as u64 => Err(e),
        _ => Err(Error::Exec(ExecError::OnRank {
            rank: first as usize,
            message: String::from_utf8_lossy(&message).into_owned(),
        })),
    }
}

/// The least of each of `values` over all processes, on every process. A process that does
/// not come within `timeout` (counted from the last time `heard` said that another showed
/// signs of work) aborts the MPI job, saying what this one did (`here`).
pub(crate) fn least_waiting<const N: usize>(
    comm: &SimpleCommunicator,
    rank: usize,
    values: [u64; N],
    timeout: Duration,
    here: impl Fn() -> String,
    mut heard: impl FnMut() -> bool,
) -> [u64; N] {
    let mut least = [0u64; N];
    mpi::request::scope(|scope| {
        let mut request = comm.immediate_all_reduce_into(
            scope,
            &values[..],
            &mut least[..],
            SystemOperation::min(),
        );
        let mut start = Instant::now();
        let mut idle = 0;
        loop {
            match request.test() {
                Ok(_) => break,
                Err(pending) => request = pending,
            }
            if heard() {
                start = Instant::now();
            }
            if start.elapsed() > timeout {
                eprintln!(
                    "chunkwise: rank {rank} {}, and the other processes did not finish \
                     within {timeout:?} of their last sign of work: aborting the MPI job",
                    here()
                );
                comm.abort(2);
            }
            idle += 1;
            pause(idle);
        }
    });
    least
}

/// `bytes` of rank `root`, on every rank (the others pass anything).
fn broadcast_bytes(comm: &SimpleCommunicator, root: usize, mut bytes: Vec<u8>) -> Vec<u8> {
    let root = comm.process_at_rank(root as c_int);
    let mut len = bytes.len() as u64;
    root.broadcast_into(&mut len);
    bytes.resize(len as usize, 0);
    if len > 0 {
        root.broadcast_into(&mut bytes[..]);
    }
    bytes
}

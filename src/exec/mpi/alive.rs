//! Signs of work between the processes of a run, so that a process waiting for the others
//! tells a slow task from a process that does nothing.
//!
//! While a process works (a task ran, or a tile moved, since its last sign), its link sends
//! every other process a one-byte message on a communicator of the run's own, once every
//! quarter of the exchange time-out. A process waiting for a tile, or for the others at the
//! end of the run, counts its time-out from the last sign it heard. So a task that takes
//! longer than the time-out no longer ends the job, while a process that never joined the
//! run, or a run in which every process waits for another, still does.
//!
//! Every sign is received before the communicator is freed ([`Liveness::finish`]; see
//! [`Tally`]).
//!
//! A task that never ends (a user function that hangs) keeps its process sending signs, so
//! the others wait for it as long as it runs, as they would in one process.

use std::os::raw::c_int;
use std::time::{Duration, Instant};

use mpi::point_to_point::{Destination, MatchedReceiveVec, Source};
use mpi::request::StaticScope;
use mpi::topology::SimpleCommunicator;
use mpi::traits::Communicator;

use super::tally::{Sends, Tally, complete, forget, incomplete};

/// What a sign carries (nothing but its coming).
static SIGN: [u8; 1] = [1];
const TAG: c_int = 1;

/// The least time between two signs, however short the time-out.
const LEAST_INTERVAL: Duration = Duration::from_millis(10);

/// One process's signs: those it sent and those it heard (see the module's documentation).
pub(crate) struct Liveness {
    comm: SimpleCommunicator,
    rank: usize,
    every: Duration,
    last_sent: Instant,
    worked: bool,
    tally: Tally,
    sends: Sends,
}

impl Liveness {
    /// Signs for a run on the processes of `world` whose waits time out after `timeout`.
    /// Collective: every process of `world` calls it.
    pub(crate) fn new(world: &SimpleCommunicator, timeout: Duration) -> Liveness {
        Liveness {
            comm: world.duplicate(),
            rank: world.rank() as usize,
            every: (timeout / 4).max(LEAST_INTERVAL),
            last_sent: Instant::now(),
            worked: false,
            tally: Tally::new(world.size() as usize),
            sends: Vec::new(),
        }
    }

    /// Notes whether this process `worked` since the last call, and sends the others a sign
    /// when one is due and it worked since the last one.
    pub(crate) fn beat(&mut self, worked: bool) {
        self.worked |= worked;
        self.sends = incomplete(std::mem::take(&mut self.sends));
        if !self.worked || self.last_sent.elapsed() < self.every {
            return;
        }
        for peer in (0..self.comm.size() as usize).filter(|&p| p != self.rank) {
            self.tally.sent(peer);
            let to = self.comm.process_at_rank(peer as c_int);
            self.sends
                .push(to.immediate_send_with_tag(StaticScope, &SIGN[..], TAG));
        }
        self.last_sent = Instant::now();
        self.worked = false;
    }

    /// Receives the signs that have come; whether there were any.
    pub(crate) fn heard(&mut self) -> bool {
        let mut any = false;
        while let Some((_, status)) = self
            .comm
            .any_process()
            .immediate_matched_probe_with_tag(TAG)
            .map(|probed| probed.matched_receive_vec::<u8>())
        {
            self.tally.received(status.source_rank() as usize);
            any = true;
        }
        any
    }

    /// Receives the signs still on their way and completes this process's sends, once no
    /// process sends any more. Collective: every process of the run calls it, after the
    /// run's outcome is agreed.
    pub(crate) fn finish(&mut self) {
        self.tally.drain(&self.comm);
        complete(&mut self.sends);
    }
}

impl Drop for Liveness {
    fn drop(&mut self) {
        // Only where a run ended before `finish` (the job is ending); the buffer is static.
        forget(&mut self.sends);
    }
}

//! Counting the messages of a run on a communicator, so that every one is received before
//! the communicator is freed: a message left unreceived could be taken by a later
//! communicator that reuses its context (as MPI libraries may).

use std::os::raw::c_int;

use mpi::point_to_point::{MatchedReceiveVec, Source};
use mpi::request::{Request, StaticScope};
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives};

/// Messages sent to each process and received from each, on one communicator.
pub(crate) struct Tally {
    sent_to: Vec<u64>,
    received_from: Vec<u64>,
}

impl Tally {
    /// No messages yet, among `ranks` processes.
    pub(crate) fn new(ranks: usize) -> Tally {
        Tally {
            sent_to: vec![0; ranks],
            received_from: vec![0; ranks],
        }
    }

    /// Notes a message sent to `rank`.
    pub(crate) fn sent(&mut self, rank: usize) {
        self.sent_to[rank] += 1;
    }

    /// Notes a message received from `rank`.
    pub(crate) fn received(&mut self, rank: usize) {
        self.received_from[rank] += 1;
    }

    /// Receives, and drops, every message sent to this process on `comm` that it has not
    /// received. Collective: every process calls it once none sends on `comm` any more.
    pub(crate) fn drain(&mut self, comm: &SimpleCommunicator) {
        let mut coming = vec![0u64; self.sent_to.len()];
        comm.all_to_all_into(&self.sent_to[..], &mut coming[..]);
        for (from, &coming) in coming.iter().enumerate() {
            let sender = comm.process_at_rank(from as c_int);
            while self.received_from[from] < coming {
                drop(sender.matched_probe().matched_receive_vec::<u8>());
                self.received_from[from] += 1;
            }
        }
    }
}

/// Sends in flight, each reading a buffer that outlives it.
pub(crate) type Sends = Vec<Request<'static, [u8], StaticScope>>;

/// Waits for every send of `requests` to complete.
pub(crate) fn complete(requests: &mut Sends) {
    for request in requests.drain(..) {
        request.wait();
    }
}

/// Forgets the sends of `requests` (MPI completes them or never): where a run ends without
/// completing them, as the job is ending; their buffers must be leaked with them.
pub(crate) fn forget(requests: &mut Sends) {
    for request in requests.drain(..) {
        std::mem::forget(request);
    }
}

/// The sends of `requests` that have not completed (those that have are done with).
pub(crate) fn incomplete(requests: Sends) -> Sends {
    requests
        .into_iter()
        .filter_map(|request| request.test().err())
        .collect()
}

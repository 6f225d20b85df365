//! Fetching chunks concurrently on the I/O runtime, ahead of the tasks that decode them.
//!
//! A task (or the executor, for a task to come) takes a [`Lease`] on the store keys it will
//! read: each key not already fetched or in flight becomes one GET on the I/O runtime, at
//! most `max_requests` of the store in flight at once. The store's reads then wait for
//! the key's value instead of asking the server, so the chunks of a tile arrive together
//! and those of upcoming tiles arrive while the compute threads decode earlier ones. A
//! value is kept while a lease on its key lives, and dropped with the last one. A value
//! larger than the lease allows (more than any chunk of its array can take) is refused
//! from the size the server announces, before its body is read. A large value is kept as
//! the pieces its body arrived in ([`Body`]), not copied into one buffer.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use futures::{FutureExt, TryStreamExt};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use zarrs::storage::{Bytes, StorageError, StoreKey};
use zarrs_object_store::object_store::{self, ObjectStore, ObjectStoreExt, path::Path};

use super::body::Body;
use super::client::keyed;

/// Values smaller than this that arrive in several pieces are gathered into one buffer of
/// their own size (one that arrives in one piece is kept as it is, as `object_store`'s
/// `bytes()` keeps it); larger ones are kept in the pieces their body arrived in. A piece
/// shares the HTTP client's read buffer (a few hundred KiB at most), so a value kept in
/// pieces may keep up to two such buffers alive beside its own bytes: a small share of a
/// large value, not of a small one, whose copy costs little.
const KEPT_IN_PIECES_FROM: u64 = 4 << 20;

/// What a GET gave: the value (`None`: no such key), or the error's message.
type Outcome = std::result::Result<Option<Body>, String>;

/// One key's value, once its GET has finished.
#[derive(Default)]
struct Slot {
    outcome: Mutex<Option<Outcome>>,
    arrived: Condvar,
}

impl Slot {
    fn fill(&self, outcome: Outcome) {
        *self.outcome.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
        self.arrived.notify_all();
    }

    /// The value, after waiting for it to arrive.
    fn wait(&self) -> Outcome {
        let mut outcome = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(outcome) = outcome.as_ref() {
                return outcome.clone();
            }
            outcome = self
                .arrived
                .wait(outcome)
                .unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Keys fetched or in flight, each with the number of leases on it.
type Slots = HashMap<String, (Arc<Slot>, usize)>;

struct Shared {
    client: Arc<dyn ObjectStore>,
    runtime: &'static Runtime,
    requests: Arc<Semaphore>,
    slots: Mutex<Slots>,
}

/// The chunks fetched ahead for a store (see the module's documentation).
#[derive(Clone)]
pub(crate) struct Fetcher(Arc<Shared>);

impl Fetcher {
    pub(crate) fn new(
        client: Arc<dyn ObjectStore>,
        runtime: &'static Runtime,
        max_requests: usize,
    ) -> Fetcher {
        Fetcher(Arc::new(Shared {
            client,
            runtime,
            requests: Arc::new(Semaphore::new(max_requests.max(1))),
            slots: Mutex::new(HashMap::new()),
        }))
    }

    fn slots(&self) -> MutexGuard<'_, Slots> {
        self.0.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts fetching `keys` (those not fetched or in flight already), each of at most
    /// `limit` bytes if given, and keeps their values until the lease is dropped. Returns
    /// at once.
    pub(crate) fn lease(&self, keys: Vec<StoreKey>, limit: Option<u64>) -> Lease {
        let mut slots = self.slots();
        for key in &keys {
            if let Some((_, leases)) = slots.get_mut(key.as_str()) {
                *leases += 1;
                continue;
            }
            let slot = Arc::new(Slot::default());
            slots.insert(key.as_str().to_string(), (slot.clone(), 1));
            let (client, requests, key) =
                (self.0.client.clone(), self.0.requests.clone(), key.clone());
            let get = async move {
                match requests.acquire_owned().await {
                    Ok(_permit) => get_at_most(&*client, &key, limit).await,
                    Err(e) => Err(e.to_string()),
                }
            };
            self.0.runtime.spawn(async move {
                // A panic in the client must not leave the readers waiting for ever.
                let outcome = AssertUnwindSafe(get)
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| Err("the request panicked in the client".into()));
                slot.fill(outcome);
            });
        }
        Lease {
            fetcher: self.clone(),
            keys,
        }
    }

    /// The value of `key` if a lease holds it (after waiting for its GET to finish);
    /// `None` if no lease does.
    pub(crate) fn fetched(
        &self,
        key: &StoreKey,
    ) -> Option<std::result::Result<Option<Body>, StorageError>> {
        let slot = self.slots().get(key.as_str())?.0.clone();
        Some(slot.wait().map_err(|message| keyed(key, message)))
    }
}

/// The value of `key` (`None` if there is none), refused from the size the server
/// announces, before its body is read, if that is more than `limit` bytes.
async fn get_at_most(client: &dyn ObjectStore, key: &StoreKey, limit: Option<u64>) -> Outcome {
    let got = match client.get(&Path::from(key.as_str())).await {
        Ok(got) => got,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    // Whole values only: `meta.size` is the value's size.
    match limit {
        Some(limit) if got.meta.size > limit => Err(format!(
            "{} bytes stored, more than a chunk of at most {limit} bytes can take \
             (not downloaded)",
            got.meta.size
        )),
        _ => {
            let size = got.range.end - got.range.start;
            let mut body = got.into_stream();
            let (mut pieces, mut received) = (Vec::new(), 0u64);
            while let Some(piece) = body.try_next().await.map_err(|e| e.to_string())? {
                received += piece.len() as u64;
                if received > size {
                    return Err(format!("more than the {size} bytes announced were sent"));
                }
                pieces.push(piece);
            }
            if received != size {
                return Err(format!("{received} bytes received of the {size} announced"));
            }
            if size < KEPT_IN_PIECES_FROM && pieces.len() > 1 {
                pieces = vec![Bytes::from(pieces.concat())];
            }
            Ok(Some(Body::new(pieces)))
        }
    }
}

/// Keys kept fetched (see [`Fetcher::lease`]); dropping the lease releases them.
pub(crate) struct Lease {
    fetcher: Fetcher,
    keys: Vec<StoreKey>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut slots = self.fetcher.slots();
        for key in &self.keys {
            if let Some((_, leases)) = slots.get_mut(key.as_str()) {
                *leases -= 1;
                if *leases == 0 {
                    slots.remove(key.as_str());
                }
            }
        }
    }
}

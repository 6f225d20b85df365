//! Stored nodes that a write of this process erased, so that no computation reads an array
//! erased (or replaced) under it.
//!
//! A Zarr reader takes a missing chunk for the fill value: an array erased while a lazy
//! computation still reads it would read as fill values, and one replaced by an overwrite
//! would give the new array's chunks through the old array's metadata. Both are silent
//! wrong answers, so two guards stand in the way:
//! - a write that erases a node before writing its replacement (an overwrite that cannot be
//!   staged: the node is the store's root, or the store has no directories) first checks
//!   that its own computation reads nothing at or below that node
//!   ([`refuse_reading`]), and refuses before anything is erased;
//! - every erasure (such an overwrite, a group's, the old node after a staged overwrite's
//!   exchange) is noted ([`note_erased`]), and a source opened before it refuses to read
//!   ([`erased_since`]): it must be opened again.
//!
//! Erasures by other processes are not seen (the README says what their readers see).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::store::Store;
use crate::error::{BuildError, Error, Result};
use crate::graph::{Node, NodeKind, Source};

/// A node of a store, as text that starts with the text of every node above it: the
/// store (its absolute directory, its URL, or the address of its storage), then the node's
/// path and a `/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Place(String);

impl Place {
    pub(crate) fn of(store: &Store, node_path: &str) -> Place {
        let root = match (&store.path, &store.url) {
            // Canonical where the directory exists (it does for whatever is read or
            // erased), so that two spellings of one store are one place.
            (Some(dir), _) => std::fs::canonicalize(dir)
                .or_else(|_| std::path::absolute(dir))
                .unwrap_or_else(|_| dir.clone())
                .display()
                .to_string(),
            (None, Some(url)) => url.clone(),
            (None, None) => format!("storage@{:p}", Arc::as_ptr(&store.raw).cast::<()>()),
        };
        let node = node_path.trim_matches('/');
        let place = match node.is_empty() {
            true => format!("{}/", root.trim_end_matches('/')),
            false => format!("{}/{node}/", root.trim_end_matches('/')),
        };
        Place(place)
    }

    /// The stored node that `node` reads, if it is a source of one.
    pub(super) fn read_by(node: &Node) -> Option<Place> {
        match &node.kind {
            NodeKind::Source(Source::Tiles(source)) => source.stored_place().map(Place),
            _ => None,
        }
    }

    /// Whether `other` is this node or below it.
    pub(super) fn covers(&self, other: &Place) -> bool {
        other.0.starts_with(&self.0)
    }

    /// The place as text (store, then node path).
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// Counts erasures: a source remembers the count when it is opened.
static ERASURES: AtomicU64 = AtomicU64::new(0);

/// Each erased place with the count after its latest erasure.
static ERASED: Mutex<Vec<(Place, u64)>> = Mutex::new(Vec::new());

/// The number of erasures so far (what a source opened now remembers).
pub(crate) fn erasures() -> u64 {
    ERASURES.load(Ordering::Acquire)
}

/// Notes that `place` and everything below it were erased (or replaced).
pub(crate) fn note_erased(place: Place) {
    let mut erased = ERASED.lock().unwrap_or_else(|p| p.into_inner());
    let count = ERASURES.fetch_add(1, Ordering::AcqRel) + 1;
    match erased.iter_mut().find(|(p, _)| *p == place) {
        Some(entry) => entry.1 = count,
        None => erased.push((place, count)),
    }
}

/// Whether `place`, or a node above it, was erased after `opened` erasures had been noted.
pub(crate) fn erased_since(place: &Place, opened: u64) -> bool {
    if erasures() == opened {
        return false;
    }
    let erased = ERASED.lock().unwrap_or_else(|p| p.into_inner());
    erased
        .iter()
        .any(|(p, count)| *count > opened && p.covers(place))
}

/// Why an overwrite refuses to read the node it erases first.
pub(crate) const ERASED_FIRST: &str = "which this overwrite erases before it writes (an \
    overwrite is staged beside the old node only below the root of a directory store)";

/// Why a resumed write refuses to read the array it writes into.
pub(crate) const RESUMED: &str = "which this resumed write writes into (a resume continues \
    a write of the same data, skipping the chunks stored already)";

/// An error if the computation of `input` reads an array at or below `place`, which a write
/// (`op`) must not read, for the reason `why`.
pub(crate) fn refuse_reading(input: &Arc<Node>, place: &Place, op: &str, why: &str) -> Result<()> {
    let mut stack = vec![input];
    let mut seen = std::collections::HashSet::new();
    while let Some(node) = stack.pop() {
        if !seen.insert(Arc::as_ptr(node)) {
            continue;
        }
        if let Some(read) = Place::read_by(node)
            && place.covers(&read)
        {
            return Err(Error::Build(BuildError::InvalidArgument {
                op: op.into(),
                reason: format!(
                    "the computation reads {}, {why}; write to another path, or compute first",
                    read.as_str()
                ),
            }));
        }
        stack.extend(node.inputs());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_covers_itself_and_what_is_below_it_only() {
        let store = Store::directory("/tmp/s.zarr").unwrap();
        let (root, g, gx, gy) = (
            Place::of(&store, "/"),
            Place::of(&store, "/g"),
            Place::of(&store, "/g/x"),
            Place::of(&store, "/gy"),
        );
        assert!(root.covers(&gx) && g.covers(&gx) && g.covers(&g));
        assert!(!g.covers(&gy) && !gx.covers(&g));
        let other = Store::directory("/tmp/s.zarr2").unwrap();
        assert!(!root.covers(&Place::of(&other, "/")));
    }

    #[test]
    fn erasures_are_seen_by_what_was_opened_before_them_only() {
        let store = Store::directory("/tmp/erasure-test.zarr").unwrap();
        let x = Place::of(&store, "/g/x");
        let opened = erasures();
        assert!(!erased_since(&x, opened));
        note_erased(Place::of(&store, "/g"));
        assert!(erased_since(&x, opened));
        assert!(!erased_since(&x, erasures()));
        assert!(!erased_since(&Place::of(&store, "/h"), opened));
    }
}

//! Appends: an array grown along one axis ([`Array::append_zarr`](crate::Array::append_zarr)),
//! or every array of a group that has one dimension, together ([`Group::append`]).
//!
//! The new part is written first, into chunks past the stored shape that readers do not
//! see; the stored shapes grow only once all of them are written. So a refused or failed
//! append leaves the arrays as they were, and a killed one leaves the old arrays, whole.
//!
//! A group's arrays grow one metadata document at a time, which no store updates together,
//! and the consolidated metadata above them is rewritten after. So before the first shape
//! changes, a journal (the key `.chunkwise-append.json`: in the group for a group's append,
//! in the array for an array's alone) records every array's shape before and after; it is
//! erased once all have grown. A failure undoes the shapes grown so far: the append then
//! failed as a whole, and running it again is right. Where that cannot be done (the process
//! was killed, or the store failed again), the journal stays: the next append undoes the
//! interrupted one first, as if it had failed before growing anything ([`Group::append`]
//! undoes those of the group and of each of its arrays), and
//! [`Group::complete_interrupted_append`] completes a group's instead (its data is all
//! written).
//!
//! [`Group::append`]: super::Group::append
//! [`Group::complete_interrupted_append`]: super::Group::complete_interrupted_append

use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use zarrs::storage::{StoreKey, WritableStorageTraits};

use super::dataset::Dataset;
use super::document::read_stored;
use super::erasure::{Place, refuse_reading};
use super::hierarchy::{
    key, refresh_consolidated_above, set_stored_shape, stored_layout, write_json,
};
use super::paths::child_path;
use super::store::Store;
use super::write::region_sink;
use crate::error::{BuildError, Error, Result};
use crate::exec::{Config, Report, run_sinks};
use crate::graph::Node;

const GROUP_APPEND: &str = "Group::append";

/// The key, in a group, of the journal of an append growing its arrays' shapes.
const JOURNAL: &str = ".chunkwise-append.json";

/// One array's append, checked: the sink that writes the new part past the stored shape,
/// the region it goes into, and the shape to store once it is written.
pub(crate) struct Append {
    node_path: String,
    input: Arc<Node>,
    sink: Arc<Node>,
    region: Vec<Range<usize>>,
    old: Vec<u64>,
    grown: Vec<u64>,
}

impl Append {
    /// Checks the append of `input` along `axis` to the array at `node_path` of `store`,
    /// for `op`: the other axes must match, and the element type (see [`region_sink`]).
    /// Nothing is written.
    pub(crate) fn prepare(
        store: &Store,
        node_path: &str,
        input: &Arc<Node>,
        axis: usize,
        op: &str,
    ) -> Result<Append> {
        if let Some(e) = input.first_error() {
            return Err(e);
        }
        let mut handle = store.open_array(node_path)?;
        let old: Vec<usize> = handle.shape().iter().map(|&n| n as usize).collect();
        let shape = input.shape();
        let fits = old.len() == shape.len()
            && axis < old.len()
            && (0..old.len()).all(|a| a == axis || old[a] == shape[a]);
        if !fits {
            let mut expected = old.clone();
            if axis < expected.len() {
                expected[axis] = shape.get(axis).copied().unwrap_or(0);
            }
            return Err(Error::Build(BuildError::ShapeMismatch {
                op: format!("{op} along axis {axis} of {node_path}"),
                expected,
                found: shape,
            }));
        }
        let mut grown = old.clone();
        grown[axis] = old[axis].saturating_add(shape[axis]);
        crate::chunks::check_size(&grown, input.dtype.size())?;
        let grown: Vec<u64> = grown.iter().map(|&n| n as u64).collect();
        // Grown in this handle only: the stored metadata changes after the data is written.
        handle
            .set_shape(grown.clone())
            .map_err(|e| store.error(node_path, e))?;
        let region: Vec<Range<usize>> = (0..old.len())
            .map(|a| match a == axis {
                true => old[a]..old[a] + shape[a],
                false => 0..old[a],
            })
            .collect();
        let sink = region_sink(input, op, store.clone(), Arc::new(handle), &region)?;
        Ok(Append {
            node_path: node_path.to_string(),
            input: input.clone(),
            sink,
            region,
            old: old.iter().map(|&n| n as u64).collect(),
            grown,
        })
    }
}

/// Computes `appends` in one run, then grows their stored shapes (on the root rank) and
/// the consolidated metadata above them, under a journal in the node at `journal_in` (the
/// group of a group's append, the array of an array's alone): a failure while they grow
/// undoes those grown so far.
pub(crate) fn run_appends(
    store: &Store,
    appends: &[Append],
    journal_in: &str,
    config: &Config,
) -> Result<Report> {
    let sinks: Vec<Arc<Node>> = appends.iter().map(|a| a.sink.clone()).collect();
    let report = run_sinks(&sinks, config)?;
    let growth = Growth {
        arrays: appends
            .iter()
            .map(|a| Grown {
                path: a.node_path.clone(),
                from: a.old.clone(),
                to: a.grown.clone(),
            })
            .collect(),
        complete: false,
    };
    config.on_root(|| {
        growth.grow_journaled(store, journal_in)?;
        Ok(String::new())
    })?;
    Ok(report)
}

/// The shapes an append grows, once its data is written: what a journal records.
#[derive(Serialize, Deserialize)]
struct Growth {
    arrays: Vec<Grown>,
    /// Every array grew and the consolidated metadata was refreshed: only the journal's
    /// erasure failed, and there is nothing to undo.
    #[serde(default)]
    complete: bool,
}

/// One array's stored shape before and after an append.
#[derive(Clone, Serialize, Deserialize)]
struct Grown {
    path: String,
    from: Vec<u64>,
    to: Vec<u64>,
}

/// What to make of an append that stopped while its arrays grew.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Recovery {
    /// Grow the arrays still at their old shape: the append as a whole.
    Complete,
    /// Give the grown arrays their old shape again: no append at all.
    Undo,
}

impl Grown {
    /// The shape `recovery` stores.
    fn shape(&self, recovery: Recovery) -> &[u64] {
        match recovery {
            Recovery::Complete => &self.to,
            Recovery::Undo => &self.from,
        }
    }
}

impl Growth {
    /// Stores each array's shape that `recovery` gives (only the shape: the rest of each
    /// document stays as its writer wrote it).
    fn set_shapes(&self, store: &Store, recovery: Recovery) -> Result<()> {
        for array in &self.arrays {
            set_stored_shape(store, &array.path, array.shape(recovery))?;
        }
        Ok(())
    }

    /// Consolidates again, once, each parent of the arrays that has consolidated metadata
    /// and the groups above it: it would still give the shapes before.
    fn refresh(&self, store: &Store) -> Result<()> {
        refresh_consolidated_above(store, self.arrays.iter().map(|a| a.path.as_str()))
    }

    /// [`Growth::set_shapes`], then [`Growth::refresh`].
    fn store_shapes(&self, store: &Store, recovery: Recovery) -> Result<()> {
        self.set_shapes(store, recovery)?;
        self.refresh(store)
    }

    /// Grows the shapes under a journal in the node at `journal_in`, erased once all have
    /// grown and the consolidated metadata is refreshed. If that fails, the shapes grown so
    /// far are undone, so that the append failed as a whole and can be run again; if
    /// undoing fails too, the journal stays, and the error says how to recover.
    fn grow_journaled(&self, store: &Store, journal_in: &str) -> Result<()> {
        write_json(store, journal_in, JOURNAL, self)?;
        let key = key(store, journal_in, JOURNAL)?;
        let Err(failed) = self.store_shapes(store, Recovery::Complete) else {
            return settle_complete(store, journal_in, &key);
        };
        if let Err(undo_failed) = self.set_shapes(store, Recovery::Undo) {
            return Err(store.error(
                key.as_str(),
                format!(
                    "{failed}; undoing the shapes grown so far failed too ({undo_failed}): \
                     the arrays may be left half grown, with this journal. The next append \
                     (Group::append, or append_zarr of an array grown alone) undoes that \
                     append first; Group::complete_interrupted_append completes a group's \
                     instead (its data is written)"
                ),
            ));
        }
        // The shapes are the old ones again: the journal has nothing left to undo (one left
        // behind is erased by the next append, which finds nothing to change).
        erase_journal(store, &key).map_err(|e| {
            store.error(
                key.as_str(),
                format!(
                    "{failed}; the shapes are the old ones again, but this journal could not \
                     be erased ({e})"
                ),
            )
        })?;
        match self.refresh(store) {
            Ok(()) => Err(failed),
            // As when the refresh failed first (a document it cannot read): the consolidated
            // metadata may still give grown shapes where it was rewritten before.
            Err(again) => Err(store.error(
                key.as_str(),
                format!(
                    "{failed}; the shapes are the old ones again, but the consolidated \
                     metadata above them could not be refreshed ({again}): consolidate \
                     again once that is fixed"
                ),
            )),
        }
    }
}

/// The key of the journal in the node at `journal_in` (a group, or an array appended to
/// alone), and what it records, if there is one.
fn read_journal(store: &Store, journal_in: &str) -> Result<Option<(StoreKey, Growth)>> {
    let Some(growth) = read_stored(store, journal_in, JOURNAL)? else {
        return Ok(None);
    };
    Ok(Some((key(store, journal_in, JOURNAL)?, growth)))
}

/// Erases the journal at `key`, once what it records is done or undone.
fn erase_journal(store: &Store, key: &StoreKey) -> Result<()> {
    store
        .raw
        .erase(key)
        .map_err(|e| store.error(key.as_str(), e))
}

/// An error if an interrupted append of the group holding the array at `node_path` (its
/// journal is there) grows that array too: `op` growing it alone would overwrite the data
/// that completing that append exposes, and leave lengths the journal does not know.
pub(crate) fn refuse_growing_alone(store: &Store, node_path: &str, op: &str) -> Result<()> {
    let group_path = match node_path.rsplit_once('/') {
        Some((parent, _)) if !parent.is_empty() => parent,
        _ => "/",
    };
    match read_journal(store, group_path)? {
        Some((key, growth)) if growth.arrays.iter().any(|a| a.path == node_path) => {
            Err(Error::Build(BuildError::InvalidArgument {
                op: op.into(),
                reason: format!(
                    "an interrupted Group::append of {group_path} grows {node_path} too (its \
                     journal {key} is there): the next Group::append undoes it, and \
                     Group::complete_interrupted_append completes it; grow the array alone \
                     after that"
                ),
            }))
        }
        _ => Ok(()),
    }
}

/// Completes or undoes (`recovery`) the append that a killed process or a failing store
/// left half done, if its journal is in the node at `journal_in` (a group, or an array
/// appended to alone), then erases the journal; whether there was one (a journal of a
/// complete append, which could not be erased then, is erased and does not count). Only
/// the arrays whose shape changes are written; the consolidated metadata above all of them
/// is refreshed (the append may have stopped before it was). An error, keeping the journal,
/// if an array has neither shape the journal gives for it: something else changed it since.
pub(crate) fn recover_interrupted(
    store: &Store,
    journal_in: &str,
    recovery: Recovery,
) -> Result<bool> {
    let Some((key, growth)) = read_journal(store, journal_in)? else {
        return Ok(false);
    };
    if growth.complete {
        erase_journal(store, &key)?;
        return Ok(false);
    }
    let mut changing = Growth {
        arrays: Vec::new(),
        complete: false,
    };
    for array in &growth.arrays {
        let now = match stored_layout(store, &array.path)? {
            Some(layout) if layout.shape == array.shape(recovery) => continue,
            Some(layout) if layout.shape == array.from || layout.shape == array.to => {
                changing.arrays.push(array.clone());
                continue;
            }
            Some(layout) => format!("has the shape {:?}", layout.shape),
            None => "is gone".to_string(),
        };
        return Err(store.error(
            key.as_str(),
            format!(
                "an interrupted append was to grow {} from {:?} to {:?}, but it {now} now: \
                 check the group, then erase this journal",
                array.path, array.from, array.to
            ),
        ));
    }
    changing.set_shapes(store, recovery)?;
    growth.refresh(store)?;
    match recovery {
        Recovery::Complete => settle_complete(store, journal_in, &key)?,
        // A journal left beside the old shapes undoes nothing: the next append erases it.
        Recovery::Undo => erase_journal(store, &key)?,
    }
    Ok(true)
}

/// Erases the journal at `key` (in the node at `journal_in`) of an append that is complete;
/// if that fails, marks it complete, so that the next append erases it and undoes nothing;
/// if that fails too, an error that says to erase it.
fn settle_complete(store: &Store, journal_in: &str, key: &StoreKey) -> Result<()> {
    let Err(erase_failed) = erase_journal(store, key) else {
        return Ok(());
    };
    let complete = Growth {
        arrays: Vec::new(),
        complete: true,
    };
    match write_json(store, journal_in, JOURNAL, &complete) {
        Ok(()) => {
            tracing::warn!(
                "the append is complete, but its journal {key} could not be erased \
                 ({erase_failed}): it is marked complete, and the next append erases it"
            );
            Ok(())
        }
        Err(mark_failed) => Err(store.error(
            key.as_str(),
            format!(
                "the append is complete, but its journal could neither be erased \
                 ({erase_failed}) nor marked complete ({mark_failed}): erase it before the \
                 next append, which would otherwise undo this one"
            ),
        )),
    }
}

/// The error of a group append that cannot be made.
fn refused(reason: String) -> Error {
    Error::Build(BuildError::InvalidArgument {
        op: GROUP_APPEND.into(),
        reason,
    })
}

/// Appends every array of `dataset` to the array of its name in the group at `group_path`
/// of `store` along dimension `dim` (see [`Group::append`]).
///
/// [`Group::append`]: super::Group::append
pub(crate) fn append_dataset(
    store: &Store,
    group_path: &str,
    dataset: &Dataset,
    dim: &str,
) -> Result<Report> {
    let config = dataset.run_config();
    // An append that stopped while the shapes grew is undone first (the lengths it left
    // disagree): it failed, and this may be the same append run again.
    config.on_root(|| {
        if recover_interrupted(store, group_path, Recovery::Undo)? {
            tracing::warn!(
                "undid an interrupted append of the group {group_path} of {}",
                store.describe()
            );
        }
        // And appends of one of the arrays it grows alone (their journals are in the
        // arrays): left in place, one would later shrink what this append grows.
        let group = super::open_group(store.clone(), group_path)?;
        let grown = dataset.names();
        for name in group
            .arrays()
            .iter()
            .filter(|n| grown.contains(&n.as_str()))
        {
            let array_path = child_path(group_path, name);
            if recover_interrupted(store, &array_path, Recovery::Undo)? {
                tracing::warn!(
                    "undid an interrupted append of {array_path} of {}",
                    store.describe()
                );
            }
        }
        Ok(String::new())
    })?;
    let checks = || -> Result<Vec<Append>> {
        dataset.check()?;
        // Listed now: arrays added since the group was opened must grow too.
        let group = super::open_group(store.clone(), group_path)?;
        let appends = prepare_appends(store, &group, dataset, dim)?;
        refuse_left_out(store, &group, dataset, dim)?;
        refuse_reading_each_other(store, &appends)?;
        Ok(appends)
    };
    // Every rank refuses, or none: the writes below are collective.
    let appends = config.agree(checks())?;
    run_appends(store, &appends, group_path, config)
}

/// The append of each array of `dataset` to its namesake in `group` along `dim`: each has
/// the dimension (and, where the dataset names its dimensions, the stored ones), and all
/// grow from one length by one length.
fn prepare_appends(
    store: &Store,
    group: &super::Group,
    dataset: &Dataset,
    dim: &str,
) -> Result<Vec<Append>> {
    if dataset.names().is_empty() {
        return Err(refused(format!(
            "the dataset has no array to append along {dim:?}"
        )));
    }
    let mut appends = Vec::new();
    let mut lengths: Option<(usize, usize, &str)> = None;
    for (name, node, options) in dataset.entries() {
        if !group.arrays().iter().any(|a| a == name) {
            return Err(refused(format!(
                "the group has no array {name:?} to append to"
            )));
        }
        let node_path = child_path(group.path(), name);
        let stored = stored_dimension_names(store, &node_path)?;
        let axes: Vec<usize> = (0..stored.len())
            .filter(|&a| stored[a].as_deref() == Some(dim))
            .collect();
        let axis = match axes[..] {
            [axis] => axis,
            [] => {
                return Err(refused(format!(
                    "the array {name:?} has no dimension {dim:?}"
                )));
            }
            _ => {
                return Err(refused(format!(
                    "the array {name:?} has the dimension {dim:?} more than once {stored:?}: \
                     an append grows one axis"
                )));
            }
        };
        // Appended by position: dimension names that say otherwise would transpose it.
        if let Some(named) = &options.dimension_names
            && named.iter().map(Some).ne(stored.iter().map(Option::as_ref))
        {
            return Err(refused(format!(
                "{name:?} has the dimensions {named:?}, the stored array {stored:?}"
            )));
        }
        let append = Append::prepare(store, &node_path, node, axis, GROUP_APPEND)?;
        // Every array grows from one length by one length, as xarray's dimension does.
        let (old, new) = (append.region[axis].start, append.region[axis].len());
        match lengths {
            Some((o, n, first)) if (o, n) != (old, new) => {
                return Err(refused(format!(
                    "{first:?} appends {n} to a length of {o} along {dim:?}, {name:?} {new} \
                     to {old}: the arrays of a dimension grow together (if some were grown \
                     alone, append their part to the others with append_zarr first)"
                )));
            }
            _ => lengths = Some((old, new, name)),
        }
        appends.push(append);
    }
    Ok(appends)
}

/// An error if `group` has an array with dimension `dim` that `dataset` leaves out: it
/// would keep its length, and xarray could not open the group.
fn refuse_left_out(
    store: &Store,
    group: &super::Group,
    dataset: &Dataset,
    dim: &str,
) -> Result<()> {
    let appended = dataset.names();
    for kept in group
        .arrays()
        .iter()
        .filter(|a| !appended.contains(&a.as_str()))
    {
        let node_path = child_path(group.path(), kept);
        let names = stored_dimension_names(store, &node_path)?;
        if names.iter().flatten().any(|d| d == dim) {
            return Err(refused(format!(
                "the group's array {kept:?} has the dimension {dim:?} too, and would keep \
                 its length: append it with the others"
            )));
        }
    }
    Ok(())
}

/// An error if the input of one of `appends` reads an array another grows: it could see
/// that array's last chunk rewritten. (A read of its own target is checked by its sink.)
fn refuse_reading_each_other(store: &Store, appends: &[Append]) -> Result<()> {
    for (i, append) in appends.iter().enumerate() {
        for (_, other) in appends.iter().enumerate().filter(|(j, _)| *j != i) {
            let place = Place::of(store, &other.node_path);
            refuse_reading(
                &append.input,
                &place,
                GROUP_APPEND,
                "which this append grows",
            )?;
        }
    }
    Ok(())
}

/// The dimension names stored for the array at `node_path` (none if it has none).
fn stored_dimension_names(store: &Store, node_path: &str) -> Result<Vec<Option<String>>> {
    let layout = stored_layout(store, node_path)?;
    Ok(layout.and_then(|l| l.dimension_names).unwrap_or_default())
}

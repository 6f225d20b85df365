//! Appends: an array grown along one axis ([`Array::append_zarr`](crate::Array::append_zarr)),
//! or every array of a group that has one dimension, together ([`Group::append`]).
//!
//! The new part is written first, into chunks past the stored shape that readers do not
//! see; the stored shapes grow only once all of them are written. So a refused or failed
//! append leaves the arrays as they were, and a killed one leaves the old arrays, whole
//! (or, killed between the shape updates of a group's arrays, the first of them grown).
//!
//! [`Group::append`]: super::Group::append

use std::ops::Range;
use std::sync::Arc;

use super::dataset::Dataset;
use super::erasure::{Place, refuse_reading};
use super::hierarchy::{refresh_consolidated, set_stored_shape};
use super::read::dimension_names;
use super::store::{Handle, Store};
use super::write::region_sink;
use crate::error::{BuildError, Error, Result};
use crate::exec::{Config, Report, run_sinks};
use crate::graph::Node;

/// One array's append, checked: the array grown in this handle only (the stored metadata
/// changes after the data is written), and the region the new part goes into.
pub(crate) struct Append {
    node_path: String,
    handle: Arc<Handle>,
    region: Vec<Range<usize>>,
    grown: Vec<u64>,
}

impl Append {
    /// Checks an append of an array of `shape` (elements of `itemsize` bytes) along `axis`
    /// to the array `handle` at `node_path`, for `op` (the other axes must match), and
    /// grows the handle.
    pub(crate) fn prepare(
        store: &Store,
        mut handle: Handle,
        node_path: &str,
        (shape, itemsize): (&[usize], usize),
        axis: usize,
        op: &str,
    ) -> Result<Append> {
        let old: Vec<usize> = handle.shape().iter().map(|&n| n as usize).collect();
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
                found: shape.to_vec(),
            }));
        }
        let mut grown = old.clone();
        grown[axis] = old[axis].saturating_add(shape[axis]);
        crate::chunks::check_size(&grown, itemsize)?;
        let grown: Vec<u64> = grown.iter().map(|&n| n as u64).collect();
        handle
            .set_shape(grown.clone())
            .map_err(|e| store.error(node_path, e))?;
        let region = (0..old.len())
            .map(|a| match a == axis {
                true => old[a]..old[a] + shape[a],
                false => 0..old[a],
            })
            .collect();
        Ok(Append {
            node_path: node_path.to_string(),
            handle: Arc::new(handle),
            region,
            grown,
        })
    }

    /// The sink that writes `input` into the new part (see [`region_sink`]).
    pub(crate) fn sink(&self, input: &Arc<Node>, store: &Store, op: &str) -> Result<Arc<Node>> {
        region_sink(input, op, store.clone(), self.handle.clone(), &self.region)
    }
}

/// Computes the `sinks` of `appends` in one run, then grows the stored shapes (on the root
/// rank) and the consolidated metadata above them.
pub(crate) fn run_appends(
    store: &Store,
    appends: &[Append],
    sinks: &[Arc<Node>],
    config: &Config,
) -> Result<Report> {
    let report = run_sinks(sinks, config)?;
    config.on_root(|| {
        // Only the shapes change: the rest of each document stays as its writer wrote it.
        for append in appends {
            set_stored_shape(store, &append.node_path, &append.grown)?;
        }
        // Consolidated metadata above the arrays would still give the old shapes: the
        // groups above each parent consolidated again, once.
        let mut refreshed: Vec<&str> = Vec::new();
        for append in appends {
            let parent = append.node_path.rsplit_once('/').map_or("", |(p, _)| p);
            if !refreshed.contains(&parent) {
                refresh_consolidated(store, &append.node_path)?;
                refreshed.push(parent);
            }
        }
        Ok(String::new())
    })?;
    Ok(report)
}

/// Appends every array of `dataset` to the array of its name in the group at `group_path`
/// (which holds `arrays`) along dimension `dim` (see [`Group::append`]).
///
/// [`Group::append`]: super::Group::append
pub(crate) fn append_dataset(
    store: &Store,
    group_path: &str,
    arrays: &[String],
    dataset: &Dataset,
    dim: &str,
) -> Result<Report> {
    const OP: &str = "Group::append";
    let config = dataset.run_config();
    let invalid = |reason: String| {
        Error::Build(BuildError::InvalidArgument {
            op: OP.into(),
            reason,
        })
    };
    let child = |name: &str| format!("{}/{name}", group_path.trim_end_matches('/'));
    let checks = || -> Result<(Vec<Append>, Vec<Arc<Node>>)> {
        dataset.check()?;
        let mut appends = Vec::new();
        let mut lengths: Option<(usize, usize, &str)> = None;
        for (name, node, _) in dataset.entries() {
            if !arrays.iter().any(|a| a == name) {
                return Err(invalid(format!(
                    "the group has no array {name:?} to append to"
                )));
            }
            let node_path = child(name);
            let handle = open_handle(store, &node_path)?;
            let axis = dimension_names(&handle)
                .and_then(|names| names.iter().position(|d| d.as_deref() == Some(dim)))
                .ok_or_else(|| invalid(format!("the array {name:?} has no dimension {dim:?}")))?;
            let input = (&node.shape()[..], node.dtype.size());
            let append = Append::prepare(store, handle, &node_path, input, axis, OP)?;
            // Every array grows from one length by one length, as xarray's dimension does.
            let (old, new) = (append.region[axis].start, append.region[axis].len());
            match lengths {
                Some((o, n, first)) if (o, n) != (old, new) => {
                    return Err(invalid(format!(
                        "{first:?} appends {n} to a length of {o} along {dim:?}, {name:?} \
                         {new} to {old}: the arrays of a dimension grow together"
                    )));
                }
                _ => lengths = Some((old, new, name)),
            }
            appends.push(append);
        }
        // Arrays of the dimension left out would disagree with the others: xarray could
        // not open the group.
        let appended = dataset.names();
        for kept in arrays.iter().filter(|a| !appended.contains(&a.as_str())) {
            let has_dim = match open_handle(store, &child(kept)) {
                Ok(handle) => dimension_names(&handle)
                    .is_some_and(|names| names.iter().flatten().any(|d| d == dim)),
                Err(e) => {
                    return Err(invalid(format!(
                        "the group's array {kept:?} cannot be read ({e}), so whether it has \
                         the dimension {dim:?} is unknown"
                    )));
                }
            };
            if has_dim {
                return Err(invalid(format!(
                    "the group's array {kept:?} has the dimension {dim:?} too, and would \
                     keep its length: append it with the others"
                )));
            }
        }
        // An array's own new part is checked by its sink; a read of another array that
        // this append grows could see its last chunk rewritten.
        let mut sinks = Vec::new();
        for (i, (_, node, _)) in dataset.entries().enumerate() {
            let others = appends.iter().enumerate().filter(|(j, _)| *j != i);
            for (_, other) in others {
                let place = Place::of(store, &other.node_path);
                refuse_reading(node, &place, OP, "which this append grows")?;
            }
            sinks.push(appends[i].sink(node, store, OP)?);
        }
        Ok((appends, sinks))
    };
    // Every rank refuses, or none: the writes below are collective.
    let (appends, sinks) = config.agree(checks())?;
    run_appends(store, &appends, &sinks, config)
}

/// The array at `node_path` of `store`.
pub(crate) fn open_handle(store: &Store, node_path: &str) -> Result<Handle> {
    zarrs::array::Array::open(store.storage.clone(), node_path)
        .map_err(|e| store.error(node_path, e))
}

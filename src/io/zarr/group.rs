//! Zarr groups: creating them with attributes, their arrays and subgroups, and writing
//! several arrays into one in a single pass.

use std::sync::Arc;

use serde_json::{Map, Value as Json};
use zarrs::group::Group as ZGroup;
use zarrs::node::NodeMetadata;
use zarrs::storage::store::MemoryStore;

use super::append::{Recovery, append_dataset, recover_interrupted};
use super::dataset::Dataset;
use super::erasure::{ERASED_FIRST, Place, note_erased, refuse_reading};
use super::hierarchy::{
    NodeKind, consolidate_metadata, consolidate_root, consolidated_children, ensure_parents,
    is_consolidated, node_kind, refresh_consolidated, stored_layout, write_group,
};
use super::metadata::ZarrVersion;
use super::paths::{child_path, new_node_path};
use super::staging::{can_stage, is_own_entry};
use super::store::{IntoStore, Store};
use super::write::{WriteMode, discard_failed, make_room, plan_write, refuse_reading_targets};
use super::{AnyArray, node_path, open};
use crate::error::{BuildError, Error, Result, StorageError};
use crate::exec::{Config, Report, run_sinks};

/// How [`create_group`] writes a group: Zarr version, attributes, and what to do if a node
/// exists at its path.
///
/// ```
/// use chunkwise::io::zarr::{GroupOptions, WriteMode, ZarrVersion};
/// let options = GroupOptions::default()
///     .version(ZarrVersion::V2)
///     .attribute("title", "daily temperature")
///     .mode(WriteMode::Overwrite);
/// # let _ = options;
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct GroupOptions {
    /// Zarr format (v3 by default); arrays stored through the group use it too.
    pub version: ZarrVersion,
    /// The group's attributes (e.g. CF's `title`, `Conventions`).
    pub attributes: Map<String, Json>,
    /// If a node exists at the path: [`WriteMode::Create`] refuses; [`WriteMode::Overwrite`]
    /// erases it and everything below it; [`WriteMode::Resume`] keeps a group of the same
    /// version and its arrays, replacing its attributes.
    pub mode: WriteMode,
}

impl Default for GroupOptions {
    fn default() -> GroupOptions {
        GroupOptions {
            version: ZarrVersion::V3,
            attributes: Map::new(),
            mode: WriteMode::Create,
        }
    }
}

impl GroupOptions {
    /// Sets the Zarr format.
    pub fn version(mut self, version: ZarrVersion) -> Self {
        self.version = version;
        self
    }
    /// Adds an attribute.
    pub fn attribute(mut self, key: &str, value: impl Into<Json>) -> Self {
        self.attributes.insert(key.to_string(), value.into());
        self
    }
    /// Sets what to do if a node exists at the path.
    pub fn mode(mut self, mode: WriteMode) -> Self {
        self.mode = mode;
        self
    }
}

/// A Zarr group: its attributes, the arrays and groups directly in it.
#[derive(Clone, Debug)]
pub struct Group {
    store: Store,
    path: String,
    version: ZarrVersion,
    attributes: Map<String, Json>,
    arrays: Vec<String>,
    groups: Vec<String>,
}

/// Creates a group at `path` in `store` (`"/"` or `""` for the root) with the options'
/// attributes, and the groups above it where they are missing. Arrays are then written
/// into it by [`Group::store`]; to write a whole group and its arrays in one step (staged,
/// when it replaces one), use [`Dataset::to_zarr`].
///
/// An Overwrite below the root of a directory store is atomic: the new group is written
/// beside the old node under a hidden name and exchanged with it in one step, then the old
/// node is erased (see [`Dataset::to_zarr`]). At the root, or in other stores, the old node
/// is erased first.
///
/// ```
/// use chunkwise::io::zarr::{self, Dataset, GroupOptions, WriteOptions};
/// let dir = std::env::temp_dir().join(format!("chunkwise-doc-group-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let group = zarr::create_group(&dir, "/", &GroupOptions::default().attribute("title", "demo"))
///     .unwrap();
/// let x = chunkwise::arange::<f64>(0.0, 6.0, 1.0, [3]).unwrap();
/// let dataset = Dataset::new()
///     .coord("t", vec![10.0, 20.0, 30.0, 40.0, 50.0, 60.0], WriteOptions::default().units("s"))
///     .array("x", &x, WriteOptions::default().dimension_names(["t"]).units("m"))
///     .array("x2", &(&x * &x), WriteOptions::default().dimension_names(["t"]));
/// group.store(&dataset).unwrap();
/// let group = zarr::open_group(&dir, "/").unwrap();
/// assert_eq!(group.arrays(), ["t", "x", "x2"]);
/// assert_eq!(group.attributes()["title"], "demo");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn create_group(store: impl IntoStore, path: &str, options: &GroupOptions) -> Result<Group> {
    let store = store.into_store()?;
    let node_path = group_path(&store, path)?;
    let config = Config::default();
    match options.mode {
        WriteMode::Overwrite => replace_group(&store, &node_path, options, &config, |_| {
            Ok(Report::default())
        })
        .map(|(group, _)| group),
        WriteMode::Create | WriteMode::Resume => {
            write_new_group(&store, &node_path, options)?;
            open_group(store, &node_path)
        }
    }
}

/// The node path of a group to write at `path`: the store must be writable, and the names
/// must not be reserved (see [`new_node_path`]).
fn group_path(store: &Store, path: &str) -> Result<String> {
    store.check_writable()?;
    new_node_path(path)
}

/// Writes the group of a Create or Resume (see [`GroupOptions::mode`]).
fn write_new_group(store: &Store, node_path: &str, options: &GroupOptions) -> Result<()> {
    let exists = || {
        Error::Storage(StorageError::AlreadyExists {
            path: format!("{}{node_path}", store.describe()),
        })
    };
    // A group kept by Resume keeps its consolidated metadata, with the new attributes.
    let reconsolidate = options.mode == WriteMode::Resume && is_consolidated(store, node_path)?;
    match (node_kind(store, node_path)?, options.mode) {
        (None, _) => {}
        (Some(NodeKind::Group(version)), WriteMode::Resume) if version == options.version => {}
        (Some(NodeKind::Group(version)), WriteMode::Resume) => {
            return Err(Error::Build(BuildError::InvalidArgument {
                op: "create_group (resume)".into(),
                reason: format!(
                    "the group at {node_path} is Zarr {version:?}, the options ask for {:?}",
                    options.version
                ),
            }));
        }
        (Some(_), _) => return Err(exists()),
    }
    ensure_parents(store, node_path, options.version)?;
    write_group(store, node_path, options.version, &options.attributes)?;
    if reconsolidate {
        consolidate_metadata(store, node_path)?;
    }
    // Readers of consolidated metadata above the group see it too.
    refresh_consolidated(store, node_path)
}

/// Replaces whatever is at `node_path` (also where no metadata says a node is there: an
/// implicit group, or a store written without a root group) by a new group, which `fill`
/// writes arrays into before it is published.
///
/// Below the root of a directory store the new group is staged beside the old node and
/// exchanged with it once `fill` has succeeded ([`make_room`]): a failed or killed
/// replacement leaves the old node whole, and `fill` may read it. Elsewhere the old node is
/// erased first (the caller has checked that `fill` does not read it). In a distributed
/// run, rank 0 writes the group's metadata and publishes it; every rank runs `fill`.
fn replace_group(
    store: &Store,
    node_path: &str,
    options: &GroupOptions,
    config: &Config,
    fill: impl FnOnce(&Group) -> Result<Report>,
) -> Result<(Group, Report)> {
    let mut staging = None;
    let target = config.on_root(|| {
        let (target, staged) = make_room(store, node_path)?;
        staging = staged;
        ensure_parents(store, node_path, options.version)?;
        write_group(store, &target, options.version, &options.attributes)?;
        Ok(target)
    })?;
    let report = fill(&open_group(store, &target)?)?;
    let published = config.on_root(|| {
        if let Some(staging) = staging.take() {
            staging.publish().map_err(|e| store.error(node_path, e))?;
        }
        // Readers of consolidated metadata above the group see it too.
        refresh_consolidated(store, node_path)?;
        Ok(String::new())
    });
    // Every process notes the replacement (rank 0 made it), also where a step after it
    // failed: a source any of them opened there before must not read on.
    note_erased(Place::of(store, node_path));
    published?;
    Ok((open_group(store, node_path)?, report))
}

/// Writes `dataset` as the group at `path` of `store` (see [`Dataset::to_zarr`]).
pub(crate) fn store_dataset(
    dataset: &Dataset,
    store: Store,
    path: &str,
    options: &GroupOptions,
) -> Result<Report> {
    let node_path = group_path(&store, path)?;
    // Every array checked first, so that a refused dataset writes nothing (not even the
    // group's attributes): against the store itself for Create and Resume (an array there
    // refuses, or must be resumable), against an empty store for Overwrite (which replaces
    // whatever is there).
    let checked_in = match options.mode {
        WriteMode::Overwrite => Store::from_storage(Arc::new(MemoryStore::new())),
        WriteMode::Create | WriteMode::Resume => store.clone(),
    };
    let config = dataset.run_config();
    let checks = || -> Result<()> {
        dataset.check()?;
        for (name, node, array_options) in dataset.entries() {
            let array_options = array_options.clone().version(options.version);
            let child = child_path(&node_path, name);
            plan_write(node, &checked_in, &child, &array_options)?;
        }
        // And against the arrays a group kept by Resume keeps.
        if options.mode == WriteMode::Resume
            && let Ok(group) = open_group(&store, &node_path)
        {
            dataset.check_beside(&store, &group)?;
        }
        Ok(())
    };
    // Every rank refuses, or none: the writes below are collective.
    config.agree(checks())?;
    match options.mode {
        WriteMode::Overwrite => {
            if !can_stage(&store, &node_path) {
                let place = Place::of(&store, &node_path);
                for (_, node, _) in dataset.entries() {
                    refuse_reading(node, &place, "Dataset::to_zarr (overwrite)", ERASED_FIRST)?;
                }
            }
            replace_group(&store, &node_path, options, config, |group| {
                group.store(dataset)
            })
            .map(|(_, report)| report)
        }
        WriteMode::Create | WriteMode::Resume => {
            config
                .on_root(|| write_new_group(&store, &node_path, options).map(|()| String::new()))?;
            open_group(&store, &node_path)?.store(dataset)
        }
    }
}

/// Opens the group at `path` in `store` (reads its metadata and lists its children).
pub fn open_group(store: impl IntoStore, path: &str) -> Result<Group> {
    let store = store.into_store()?;
    let node_path = node_path(path)?;
    let version = match node_kind(&store, &node_path)? {
        Some(NodeKind::Group(version)) => version,
        Some(NodeKind::Array) => {
            return Err(Error::Storage(StorageError::NotAGroup {
                path: format!("{}{node_path}", store.describe()),
                child: "open_group".into(),
            }));
        }
        None => {
            return Err(store.error(&node_path, "no group here (no .zgroup or zarr.json)"));
        }
    };
    let mut group =
        ZGroup::open(store.storage.clone(), &node_path).map_err(|e| store.error(&node_path, e))?;
    let attributes = group.attributes().clone();
    // Listed where the store can list (always current: zarrs would list a v3 group from
    // its consolidated metadata, which misses what was added without consolidating, as
    // zarr-python's `create_array` adds); else (HTTP, or a custom store that cannot) from
    // the consolidated metadata, as zarr-python and xarray open such groups.
    group.set_consolidated_metadata(None);
    let (arrays, groups) = match group.children(false) {
        Ok(children) => {
            let names = |want_array: bool| {
                let mut names: Vec<String> = children
                    .iter()
                    .filter(|c| matches!(c.metadata(), NodeMetadata::Array(_)) == want_array)
                    .map(|c| {
                        let path = c.path().as_str();
                        path.rsplit('/').next().unwrap_or_default().to_string()
                    })
                    .filter(|name| !is_own_entry(name))
                    .collect();
                names.sort();
                names
            };
            (names(true), names(false))
        }
        // A store that lists says why it did not (an unreadable child): the consolidated
        // metadata may not know the group as it is.
        Err(e) if store.lists() => return Err(store.error(&node_path, e)),
        Err(e) => consolidated_children(&store, &node_path)?.ok_or_else(|| {
            store.error(
                &node_path,
                format!("{e}; no consolidated metadata here or above lists its children"),
            )
        })?,
    };
    Ok(Group {
        arrays,
        groups,
        store,
        path: node_path,
        version,
        attributes,
    })
}

impl Group {
    /// The group's attributes.
    pub fn attributes(&self) -> &Map<String, Json> {
        &self.attributes
    }

    /// The group's attributes for writing elsewhere, with the values a JSON value cannot
    /// hold exactly as placeholders that chunkwise writes back as they were stored, as
    /// [`AnyArray::attributes_to_copy`] gives an array's (and [`attribute_text`] shows).
    /// Reads the group's metadata again.
    ///
    /// [`attribute_text`]: super::attribute_text
    ///
    /// ```
    /// use chunkwise::io::zarr::{self, GroupOptions};
    /// let dir = std::env::temp_dir().join(format!("chunkwise-doc-groupattrs-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let options = GroupOptions::default().attribute("big", 1u64 << 40);
    /// zarr::create_group(&dir, "g", &options)?;
    /// // An integer beyond 64 bits, as Python writes 2**70.
    /// let meta = dir.join("g/zarr.json");
    /// let text = std::fs::read_to_string(&meta).unwrap();
    /// std::fs::write(&meta, text.replace("1099511627776", "1180591620717411303424")).unwrap();
    /// let group = zarr::open_group(&dir, "g")?;
    /// assert_eq!(group.attributes()["big"], 1.1805916207174113e21);
    /// let exact = group.attributes_to_copy()?;
    /// assert_eq!(zarr::attribute_text(&exact["big"]), "1180591620717411303424");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn attributes_to_copy(&self) -> Result<Map<String, Json>> {
        super::hierarchy::attributes_to_copy(&self.store, &self.path, &self.attributes)
    }

    /// Names of the arrays directly in the group, sorted.
    pub fn arrays(&self) -> &[String] {
        &self.arrays
    }

    /// Names of the groups directly in the group, sorted.
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// The group's node path (`/` for the root).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The group's Zarr format.
    pub fn version(&self) -> ZarrVersion {
        self.version
    }

    /// The node path of the child `name`.
    fn child(&self, name: &str) -> String {
        child_path(&self.path, name)
    }

    /// The dimension names of the array `name` of this group (`None` if it has none), read
    /// from its metadata alone: also for an array of a type chunkwise cannot open, such as
    /// the string variables xarray writes.
    ///
    /// ```
    /// use chunkwise::io::zarr::{self, Dataset, GroupOptions, WriteOptions};
    /// let dir = std::env::temp_dir().join(format!("chunkwise-doc-dims-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let tas = chunkwise::zeros::<f32>(&[2, 3], [2, 3])?;
    /// Dataset::new()
    ///     .array("tas", &tas, WriteOptions::default().dimension_names(["time", "lat"]))
    ///     .to_zarr(&dir, "/", &GroupOptions::default())?;
    /// let group = zarr::open_group(&dir, "/")?;
    /// let names = group.dimension_names("tas")?;
    /// assert_eq!(names, Some(vec![Some("time".to_string()), Some("lat".to_string())]));
    /// assert!(group.dimension_names("missing").is_err());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn dimension_names(&self, name: &str) -> Result<Option<Vec<Option<String>>>> {
        let path = self.child(name);
        match stored_layout(&self.store, &path)? {
            Some(layout) => Ok(layout.dimension_names),
            None => Err(self.store.error(&path, "no array here")),
        }
    }

    /// Opens the array `name` of this group.
    pub fn array(&self, name: &str) -> Result<AnyArray> {
        open(&self.store, &self.child(name))
    }

    /// Opens the group `name` of this group.
    pub fn group(&self, name: &str) -> Result<Group> {
        open_group(&self.store, &self.child(name))
    }

    /// Creates the group `name` in this group (in this group's Zarr version; the options'
    /// version is not used).
    pub fn create_group(&self, name: &str, options: &GroupOptions) -> Result<Group> {
        let options = options.clone().version(self.version);
        create_group(&self.store, &self.child(name), &options)
    }

    /// Computes every array of `dataset` and writes each into this group, in one plan and
    /// one run: inputs the arrays share are read and computed once. Each array is written
    /// by the rules of [`Array::to_zarr`](crate::Array::to_zarr) (its own chunks,
    /// compression, fill value and write mode; one task per stored chunk; an overwrite
    /// staged and published whole), in this group's Zarr version. Every array is checked
    /// before anything is written. Afterwards the group's consolidated metadata is written
    /// (v2 `.zmetadata`, v3 in `zarr.json`), as xarray reads it, and, for a group below
    /// the store's root, the root's too (where xarray looks for it) if it has none yet and
    /// every node of the store can be read; groups above that have some are consolidated
    /// again.
    pub fn store(&self, dataset: &Dataset) -> Result<Report> {
        let config = dataset.run_config();
        let checks = dataset
            .check()
            .and_then(|()| dataset.check_beside(&self.store, self));
        let plans = config.agree(checks.and_then(|()| {
            dataset
                .entries()
                .map(|(name, node, options)| {
                    let options = options.clone().version(self.version);
                    plan_write(node, &self.store, &self.child(name), &options)
                })
                .collect::<Result<Vec<_>>>()
                .and_then(|plans| refuse_reading_targets(&plans).map(|()| plans))
        }))?;
        let mut prepared = Vec::with_capacity(plans.len());
        for plan in plans {
            // A later array that cannot be prepared erases those prepared before it.
            match plan.prepare(config) {
                Ok(write) => prepared.push(write),
                Err(failed) => return Err(discard_failed(&prepared, config, failed)),
            }
        }
        let sinks: Vec<_> = prepared.iter().map(|p| p.sink.clone()).collect();
        let report = if sinks.is_empty() {
            Report::default()
        } else {
            run_sinks(&sinks, config).map_err(|failed| discard_failed(&prepared, config, failed))?
        };
        let replaced: Vec<Place> = prepared.iter().filter_map(|w| w.replaces.clone()).collect();
        let published = config.on_root(|| {
            for write in prepared {
                write.publish()?;
            }
            consolidate_metadata(&self.store, &self.path)?;
            refresh_consolidated(&self.store, &self.path)?;
            consolidate_root(&self.store, &self.path);
            Ok(String::new())
        });
        // Every process notes the arrays replaced (rank 0 replaced them), also where a
        // later step failed (see `write_new`).
        replaced.into_iter().for_each(note_erased);
        published?;
        Ok(report)
    }

    /// Appends every array of `dataset` to the array of its name in this group along the
    /// dimension `dim`, in one run, as xarray's `Dataset.to_zarr(append_dim=...)` grows a
    /// dataset (a day's data and its `time` coordinate): inputs the arrays share are read
    /// once, and the stored shapes grow only once all the new data is written.
    ///
    /// Each array is appended as it is stored (its chunks, codecs and fill value: the
    /// dataset's write options are not used), along the axis its dimension names call
    /// `dim`; the other axes must match. Refused before anything is written: an empty
    /// dataset, an array the group does not have or that has no dimension `dim` (or has it
    /// twice), arrays that would not grow from
    /// one length by one length, an array of the group with dimension `dim` that the
    /// dataset leaves out (it would keep its length, and xarray could not open the
    /// group), dimension names in the dataset's options other than the stored ones, and a
    /// computation that reads an array the append grows, other than its own target as
    /// [`Array::to_zarr_region`](crate::Array::to_zarr_region) allows.
    ///
    /// The arrays' shapes grow one metadata document at a time, under a journal in the
    /// group (the key `.chunkwise-append.json`) that is erased once all have grown. A
    /// failure in between undoes the shapes grown so far, so that the append failed as a
    /// whole and can be run again. Killed in between (or if undoing fails too), it leaves
    /// lengths that disagree and the journal: the next append undoes it first, and
    /// [`Group::complete_interrupted_append`] completes it instead.
    ///
    /// ```
    /// use chunkwise::io::zarr::{self, Dataset, GroupOptions, WriteOptions};
    /// let dir = std::env::temp_dir().join(format!("chunkwise-doc-append-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let day = |first: f64| {
    ///     let tas = chunkwise::full::<f64>(&[2, 3], first, [2, 3]).unwrap();
    ///     Dataset::new()
    ///         .coord("time", vec![first, first + 1.0], WriteOptions::default())
    ///         .array("tas", &tas, WriteOptions::default().dimension_names(["time", "lat"]))
    /// };
    /// day(0.0).to_zarr(&dir, "/", &GroupOptions::default()).unwrap();
    /// let group = zarr::open_group(&dir, "/").unwrap();
    /// group.append(&day(2.0), "time").unwrap();
    /// let time = group.array("time").unwrap().into_typed::<f64>().unwrap().compute().unwrap();
    /// assert_eq!(time.as_slice().unwrap(), [0.0, 1.0, 2.0, 3.0]);
    /// assert_eq!(group.array("tas").unwrap().shape(), [4, 3]);
    /// // Appending to tas alone would leave time shorter: refused.
    /// let tas = chunkwise::full::<f64>(&[1, 3], 9.0, [1, 3]).unwrap();
    /// let alone = Dataset::new().array("tas", &tas, WriteOptions::default());
    /// assert!(group.append(&alone, "time").is_err());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn append(&self, dataset: &Dataset, dim: &str) -> Result<Report> {
        self.store.check_writable()?;
        append_dataset(&self.store, &self.path, dataset, dim)
    }

    /// Completes an append of this group that was killed while its arrays' shapes grew
    /// (see [`Group::append`]), instead of letting the next append undo it: grows each
    /// array that still has its old length (its new data is written already), then erases
    /// the append's journal. Returns whether there was one. An error, keeping the journal,
    /// if an array has since changed in another way. Call it from one process, and do not
    /// append the same data again. (While the journal is there,
    /// [`Array::append_zarr`](crate::Array::append_zarr) of one of the arrays it grows is
    /// refused: it would overwrite the data this exposes.)
    ///
    /// ```
    /// use chunkwise::io::zarr::{self, Dataset, GroupOptions, WriteOptions};
    /// let dir = std::env::temp_dir().join(format!("chunkwise-doc-complete-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let time = Dataset::new().coord("time", vec![0.0, 1.0], WriteOptions::default());
    /// time.to_zarr(&dir, "/", &GroupOptions::default()).unwrap();
    /// let group = zarr::open_group(&dir, "/").unwrap();
    /// group.append(&time, "time").unwrap();
    /// // That append finished: nothing is left to complete.
    /// assert!(!group.complete_interrupted_append().unwrap());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn complete_interrupted_append(&self) -> Result<bool> {
        self.store.check_writable()?;
        recover_interrupted(&self.store, &self.path, Recovery::Complete)
    }
}

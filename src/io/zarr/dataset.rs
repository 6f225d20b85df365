//! Several arrays, with coordinates, to write into one group in one pass (as an xarray
//! `Dataset` is written).

use std::collections::HashMap;
use std::sync::Arc;

use chunkwise_kernels::dtype::Element;
use ndarray::Array1;

use super::dynamic::AnyArray;
use super::group::GroupOptions;
use super::store::IntoStore;
use super::write::WriteOptions;
use crate::array::Array;
use crate::error::{BuildError, Error, Result};
use crate::exec::{Config, Report};
use crate::graph::Node;

/// Arrays of any element types, each with its name and [`WriteOptions`], and 1-D
/// coordinate arrays, to write into a group in one pass with
/// [`Group::store`](super::Group::store). The arrays' dimension names tie them to the
/// coordinates, as xarray reads them: a coordinate `lat` is the array named `lat` whose
/// only dimension is `lat`.
///
/// ```
/// use chunkwise::io::zarr::{Dataset, WriteOptions};
/// let t = chunkwise::arange::<f32>(0.0, 12.0, 1.0, [12]).unwrap().reshape(&[3, 4]).unwrap();
/// let dataset = Dataset::new()
///     .coord("y", vec![0.0, 1.0, 2.0], WriteOptions::default())
///     .coord("x", vec![0.5, 1.5, 2.5, 3.5], WriteOptions::default().units("m"))
///     .array("t", &t, WriteOptions::default().dimension_names(["y", "x"]).units("K"));
/// assert_eq!(dataset.names(), ["y", "x", "t"]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    arrays: Vec<(String, Arc<Node>, WriteOptions)>,
    /// The first error met while building (reported by `store`).
    error: Option<Error>,
    config: Config,
}

/// The error for a dataset that cannot be written.
fn invalid(reason: String) -> Error {
    Error::Build(BuildError::InvalidArgument {
        op: "Dataset".into(),
        reason,
    })
}

impl Dataset {
    /// An empty dataset.
    pub fn new() -> Dataset {
        Dataset::default()
    }

    /// Adds the array `array` as `name`, written with `options` (but in the group's Zarr
    /// version, and run with the dataset's [`config`](Dataset::config), not the options').
    /// Give it dimension names so that xarray can open it.
    pub fn array<T: Element>(
        mut self,
        name: &str,
        array: &Array<T>,
        options: WriteOptions,
    ) -> Self {
        self.arrays
            .push((name.to_string(), array.node.clone(), options));
        self
    }

    /// Adds an array of an element type known only at run time (as [`zarr::open`]
    /// returns it), e.g. to copy a variable from another store. Its dimension names are
    /// kept unless `options` gives others.
    ///
    /// [`zarr::open`]: super::open
    pub fn any_array(mut self, name: &str, array: &AnyArray, options: WriteOptions) -> Self {
        let names: Option<Vec<String>> = array
            .dimension_names()
            .and_then(|names| names.iter().cloned().collect());
        let options = match (&options.dimension_names, names) {
            (None, Some(names)) => options.dimension_names(names),
            _ => options,
        };
        self.arrays
            .push((name.to_string(), array.node().clone(), options));
        self
    }

    /// Adds the 1-D coordinate `name` with `values` (a `Vec<f64>` or an `ndarray`
    /// `Array1<f64>`), in one chunk, with the dimension name `name`.
    pub fn coord(
        mut self,
        name: &str,
        values: impl Into<Array1<f64>>,
        options: WriteOptions,
    ) -> Self {
        let values = values.into();
        let len = values.len().max(1);
        match crate::from_ndarray(&values, [len]) {
            Ok(array) => self.array(name, &array, options.dimension_names([name])),
            Err(e) => {
                self.error.get_or_insert(e);
                self
            }
        }
    }

    /// Computes every array and writes the dataset as the group at `path` of `store`, in
    /// one plan and one run, as xarray's `Dataset.to_zarr` does: the group with the
    /// options' attributes, each array by the rules of [`Group::store`], and consolidated
    /// metadata. Every array is checked before anything is written.
    ///
    /// [`WriteMode::Overwrite`] replaces whatever is at `path`. Below the root of a
    /// directory store it is atomic: the new group is written beside the old node under a
    /// hidden name and exchanged with it once every array is written, so a failed or
    /// killed write leaves the old group whole, and the arrays may be computed from the
    /// group they replace. At the root, or in other stores, the old node is erased first,
    /// and a dataset computed from it is refused before anything is erased.
    ///
    /// ```
    /// use chunkwise::io::zarr::{self, Dataset, GroupOptions, WriteMode, WriteOptions};
    /// let dir = std::env::temp_dir().join(format!("chunkwise-doc-ds-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let x = chunkwise::arange::<f64>(0.0, 4.0, 1.0, [2]).unwrap();
    /// let first = Dataset::new().array("x", &x, WriteOptions::default().dimension_names(["t"]));
    /// first.to_zarr(&dir, "run", &GroupOptions::default()).unwrap();
    ///
    /// // Replace the group by one computed from it.
    /// let old = zarr::open(&dir, "run/x").unwrap().into_typed::<f64>().unwrap();
    /// let second = Dataset::new().array("x2", &(&old * 2.0), WriteOptions::default());
    /// let replace = GroupOptions::default().mode(WriteMode::Overwrite);
    /// second.to_zarr(&dir, "run", &replace).unwrap();
    /// let group = zarr::open_group(&dir, "run").unwrap();
    /// assert_eq!(group.arrays(), ["x2"]);
    /// let x2 = group.array("x2").unwrap().into_typed::<f64>().unwrap();
    /// assert_eq!(x2.compute().unwrap().as_slice().unwrap(), [0.0, 2.0, 4.0, 6.0]);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    ///
    /// [`Group::store`]: super::Group::store
    /// [`WriteMode::Overwrite`]: super::WriteMode::Overwrite
    pub fn to_zarr(
        &self,
        store: impl IntoStore,
        path: &str,
        options: &GroupOptions,
    ) -> Result<Report> {
        super::group::store_dataset(self, store.into_store()?, path, options)
    }

    /// Sets how the computation runs.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The names of the arrays, in the order they were added.
    pub fn names(&self) -> Vec<&str> {
        self.arrays
            .iter()
            .map(|(name, _, _)| name.as_str())
            .collect()
    }

    pub(crate) fn entries(&self) -> impl Iterator<Item = (&str, &Arc<Node>, &WriteOptions)> {
        self.arrays.iter().map(|(n, node, o)| (n.as_str(), node, o))
    }

    pub(crate) fn run_config(&self) -> &Config {
        &self.config
    }

    /// Checks names (one path component each, no duplicates) and dimensions (each name has
    /// one length across the arrays, as xarray requires).
    pub(crate) fn check(&self) -> Result<()> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let mut lengths: HashMap<&str, (usize, &str)> = HashMap::new();
        for (i, (name, node, options)) in self.arrays.iter().enumerate() {
            if name.is_empty() || name.contains('/') || name.starts_with('.') {
                return Err(invalid(format!(
                    "array name {name:?}: a name is one path component, not empty and not \
                     starting with a dot"
                )));
            }
            if name == "zarr.json" {
                return Err(invalid(
                    "array name \"zarr.json\": the name of a group's metadata key".into(),
                ));
            }
            if self.arrays[..i].iter().any(|(other, _, _)| other == name) {
                return Err(invalid(format!("the array name {name:?} is used twice")));
            }
            let Some(dims) = &options.dimension_names else {
                continue;
            };
            for (dim, len) in dims.iter().zip(node.shape()) {
                match lengths.get(dim.as_str()) {
                    Some(&(seen, by)) if seen != len => {
                        return Err(invalid(format!(
                            "dimension {dim:?} has length {seen} in {by:?} and {len} in {name:?}"
                        )));
                    }
                    _ => {
                        lengths.insert(dim, (len, name));
                    }
                }
            }
        }
        Ok(())
    }

    /// An error if an array of the dataset gives a dimension another length than an array
    /// already in `group` (of `store`) that the dataset keeps (one it does not write again): xarray
    /// refuses to open a group whose arrays disagree. The kept arrays are judged by their
    /// metadata documents alone, so arrays of types chunkwise cannot open count too.
    pub(crate) fn check_beside(&self, store: &super::Store, group: &super::Group) -> Result<()> {
        let written: Vec<&str> = self
            .arrays
            .iter()
            .map(|(name, _, _)| name.as_str())
            .collect();
        for kept in group
            .arrays()
            .iter()
            .filter(|n| !written.contains(&n.as_str()))
        {
            let path = super::paths::child_path(group.path(), kept);
            let Some(stored) = super::hierarchy::stored_layout(store, &path)? else {
                continue;
            };
            let stored_dims = stored.dimension_names.unwrap_or_default();
            for (dim, &stored_len) in stored_dims.iter().zip(&stored.shape) {
                let Some(dim) = dim else { continue };
                for (name, node, options) in &self.arrays {
                    let dims = options.dimension_names.as_deref().unwrap_or(&[]);
                    let len = dims.iter().zip(node.shape()).find(|(d, _)| *d == dim);
                    if let Some((_, len)) = len.filter(|(_, len)| *len as u64 != stored_len) {
                        return Err(invalid(format!(
                            "dimension {dim:?} has length {stored_len} in the group's array \
                             {kept:?} and {len} in {name:?}: xarray cannot open a group whose \
                             arrays disagree (write into another group, or {kept:?} too)"
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

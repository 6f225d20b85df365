//! Zarr groups: their arrays and attributes.

use serde_json::{Map, Value as Json};
use zarrs::group::Group as ZGroup;
use zarrs::node::NodeMetadata;

use super::staging::is_staging;
use super::store::{IntoStore, Store};
use super::{AnyArray, node_path, open};
use crate::error::Result;

/// A Zarr group: its attributes and the arrays directly in it.
#[derive(Clone, Debug)]
pub struct Group {
    store: Store,
    path: String,
    attributes: Map<String, Json>,
    arrays: Vec<String>,
}

/// Opens the group at `path` in `store` (reads its metadata and lists its children).
pub fn open_group(store: impl IntoStore, path: &str) -> Result<Group> {
    let store = store.into_store()?;
    let node_path = node_path(path)?;
    let group =
        ZGroup::open(store.storage.clone(), &node_path).map_err(|e| store.error(&node_path, e))?;
    let attributes = group.attributes().clone();
    let children = group
        .children(false)
        .map_err(|e| store.error(&node_path, e))?;
    let mut arrays: Vec<String> = children
        .iter()
        .filter(|c| matches!(c.metadata(), NodeMetadata::Array(_)))
        .map(|c| {
            c.path()
                .as_str()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .filter(|name| !is_staging(name))
        .collect();
    arrays.sort();
    Ok(Group {
        store,
        path: node_path,
        attributes,
        arrays,
    })
}

impl Group {
    /// The group's attributes.
    pub fn attributes(&self) -> &Map<String, Json> {
        &self.attributes
    }

    /// Names of the arrays directly in the group, sorted.
    pub fn arrays(&self) -> &[String] {
        &self.arrays
    }

    /// Opens the array `name` of this group.
    pub fn array(&self, name: &str) -> Result<AnyArray> {
        open(
            &self.store,
            &format!("{}/{}", self.path.trim_end_matches('/'), name),
        )
    }
}

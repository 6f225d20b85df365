//! The Zarr hierarchy around arrays: group metadata (v2 `.zgroup` + `.zattrs`, v3
//! `zarr.json` with `node_type` group), the groups above a written array, and consolidated
//! metadata (v2 `.zmetadata`, v3 inline in the group's `zarr.json`) as zarr-python writes it.

use serde_json::{Map, Value as Json, json};
use zarrs::storage::{
    ListableStorageTraits, ReadableStorageTraits, StoreKey, WritableStorageTraits,
};

use super::bare_floats::unmark;
use super::document::{Document, Documents, raw, read_stored};
use super::metadata::ZarrVersion;
use super::read::{data_type_name, dtype_named};
use super::staging::is_own_entry;
use super::store::Store;
use super::write::node_prefix;
use crate::error::{Error, Result, StorageError};

/// What holds metadata at a node path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NodeKind {
    Array,
    Group(ZarrVersion),
}

/// The key `name` in the node at `node_path`.
pub(crate) fn key(store: &Store, node_path: &str, name: &str) -> Result<StoreKey> {
    let prefix = node_prefix(store, node_path)?;
    StoreKey::new(format!("{}{name}", prefix.as_str())).map_err(|e| store.error(node_path, e))
}

/// The shape and dimension names of a stored array, as its metadata documents give them.
pub(crate) struct StoredLayout {
    pub(crate) shape: Vec<u64>,
    /// v3 `dimension_names`, else v2 `_ARRAY_DIMENSIONS` (`None` if it has neither).
    pub(crate) dimension_names: Option<Vec<Option<String>>>,
    /// The data type as written: v3 `data_type`, v2 `dtype` (a document as its JSON text).
    pub(crate) data_type: String,
}

/// The [`StoredLayout`] of the array at `node_path`, read from its metadata documents
/// alone (one or two reads, where opening it takes more): also for an array of a type
/// chunkwise cannot open (a string variable). `None` if no array is there.
pub(crate) fn stored_layout(store: &Store, node_path: &str) -> Result<Option<StoredLayout>> {
    let (array, names) = match read_json(store, node_path, "zarr.json")? {
        Some(meta) if meta.get("node_type").and_then(Json::as_str) == Some("array") => {
            let names = meta.get("dimension_names").cloned();
            (meta, names)
        }
        Some(_) => return Ok(None),
        None => match read_json(store, node_path, ".zarray")? {
            Some(meta) => {
                let attrs = read_json(store, node_path, ".zattrs")?;
                let names = attrs.and_then(|a| a.get("_ARRAY_DIMENSIONS").cloned());
                (meta, names)
            }
            None => return Ok(None),
        },
    };
    let shape = array
        .get("shape")
        .and_then(Json::as_array)
        .and_then(|s| s.iter().map(Json::as_u64).collect::<Option<Vec<u64>>>())
        .ok_or_else(|| store.error(node_path, "array metadata without a valid shape"))?;
    let dimension_names = names.and_then(|n| {
        let names = n.as_array()?;
        Some(names.iter().map(|d| d.as_str().map(String::from)).collect())
    });
    let data_type = data_type_name(&array);
    Ok(Some(StoredLayout {
        shape,
        dimension_names,
        data_type,
    }))
}

/// What to say where zarrs cannot open the array at `node_path` (its error is `error`):
/// that a group is there (naming its arrays, one of which was likely meant), or that the
/// array's data type is one chunkwise does not read (zarrs may reject such metadata before
/// the type, as for a v2 `<U4` with a null fill value); else `error` itself.
pub(crate) fn why_unopenable(store: &Store, node_path: &str, error: Error) -> Error {
    match node_kind(store, node_path) {
        Ok(Some(NodeKind::Group(_))) => {
            // One listing, not a read of each child: this is an error path.
            let contents = match child_names(store, node_path) {
                Ok(names) if names.is_empty() => "it holds nothing".to_string(),
                Ok(names) => format!("it holds: {}", names.join(", ")),
                Err(_) => "name an array in it".to_string(),
            };
            Error::Storage(StorageError::NotAnArray {
                path: format!("{}{node_path}", store.describe()),
                contents,
            })
        }
        Ok(Some(NodeKind::Array)) => match stored_layout(store, node_path) {
            Ok(Some(layout)) if dtype_named(&layout.data_type).is_none() => {
                Error::Storage(StorageError::UnsupportedDataType {
                    path: node_path.to_string(),
                    dtype: layout.data_type,
                })
            }
            _ => error,
        },
        _ => error,
    }
}

/// The names of the nodes directly in the group at `node_path` (arrays and groups), from
/// one listing of the store.
fn child_names(store: &Store, node_path: &str) -> Result<Vec<String>> {
    let prefix = node_prefix(store, node_path)?;
    let listing = store
        .raw
        .list_dir(&prefix)
        .map_err(|e| store.error(prefix.as_str(), e))?;
    let mut names: Vec<String> = listing
        .prefixes()
        .iter()
        .map(|child| child.as_str()[prefix.as_str().len()..].trim_end_matches('/'))
        .filter(|name| !name.is_empty() && !is_own_entry(name))
        .map(String::from)
        .collect();
    names.sort();
    Ok(names)
}

/// The Zarr version of the group at `path` in `store`, from its metadata alone (`None`
/// where no group is: nothing, or an array).
///
/// ```
/// use chunkwise::io::zarr::{self, GroupOptions, ZarrVersion};
/// let dir = std::env::temp_dir().join(format!("chunkwise-doc-gv-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// zarr::create_group(&dir, "g", &GroupOptions::default().version(ZarrVersion::V2))?;
/// assert_eq!(zarr::group_version(&dir, "g")?, Some(ZarrVersion::V2));
/// assert_eq!(zarr::group_version(&dir, "g/nothing")?, None);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), chunkwise::Error>(())
/// ```
pub fn group_version(store: impl super::IntoStore, path: &str) -> Result<Option<ZarrVersion>> {
    let store = store.into_store()?;
    Ok(match node_kind(&store, &super::node_path(path)?)? {
        Some(NodeKind::Group(version)) => Some(version),
        _ => None,
    })
}

/// The attributes of the array or group at `node_path` as stored (v3 `attributes`, v2 `.zattrs`),
/// with the values a JSON value cannot hold exactly as placeholders that chunkwise writes
/// back as stored (see `bare_floats`).
pub(crate) fn stored_attributes(store: &Store, node_path: &str) -> Result<Map<String, Json>> {
    let attributes = match read_json(store, node_path, "zarr.json")? {
        Some(meta) => meta.get("attributes").cloned(),
        None => read_json(store, node_path, ".zattrs")?,
    };
    Ok(match attributes {
        Some(Json::Object(attributes)) => attributes,
        _ => Map::new(),
    })
}

/// `attributes`, as the reader of the node at `node_path` gives them, with the values a
/// JSON value cannot hold exactly as the placeholders of [`stored_attributes`]: what
/// `attributes_to_copy` of arrays and groups gives.
pub(crate) fn attributes_to_copy(
    store: &Store,
    node_path: &str,
    attributes: &Map<String, Json>,
) -> Result<Map<String, Json>> {
    let stored = stored_attributes(store, node_path)?;
    let exact = |(key, value): (&String, &Json)| {
        let value = stored.get(key).unwrap_or(value).clone();
        (key.clone(), value)
    };
    Ok(attributes.iter().map(exact).collect())
}

/// The JSON text of an attribute value as it is stored, for a value of
/// [`AnyArray::attributes_to_copy`](super::AnyArray::attributes_to_copy) or
/// [`Group::attributes_to_copy`](super::Group::attributes_to_copy): their placeholders
/// are written as the bare `NaN`, `Infinity` or `-Infinity` of zarr-python, or the integer
/// beyond 64 bits, that they stand for. Any other value gives its JSON text. For showing
/// attributes as they are (`chunkwise info` does), where a JSON value cannot tell the
/// number NaN from the string `"NaN"`.
///
/// ```
/// use chunkwise::io::zarr::{self, WriteOptions};
/// let dir = std::env::temp_dir().join(format!("chunkwise-doc-attrtext-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let x = chunkwise::arange::<f64>(0.0, 4.0, 1.0, [2])?;
/// let options = WriteOptions::default().attribute("note", "NaN").attribute("valid_max", "x");
/// x.to_zarr(&dir, "x", &options)?;
/// // valid_max as zarr-python stores a float NaN: a bare token.
/// let meta = dir.join("x/zarr.json");
/// let text = std::fs::read_to_string(&meta).unwrap();
/// std::fs::write(&meta, text.replace(r#""x""#, "NaN")).unwrap();
/// let x = zarr::open(&dir, "x")?;
/// // Read as JSON values, the number and the string look alike ...
/// assert_eq!(x.attributes()["valid_max"], x.attributes()["note"]);
/// // ... and as stored they do not.
/// let exact = x.attributes_to_copy()?;
/// assert_eq!(zarr::attribute_text(&exact["valid_max"]), "NaN");
/// assert_eq!(zarr::attribute_text(&exact["note"]), r#""NaN""#);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), chunkwise::Error>(())
/// ```
pub fn attribute_text(value: &Json) -> String {
    unmark(value.to_string())
}

/// The JSON value at `name` of the node at `node_path`, if the key exists (values a JSON
/// value cannot hold exactly as placeholders, see `bare_floats`).
fn read_json(store: &Store, node_path: &str, name: &str) -> Result<Option<Json>> {
    read_stored(store, node_path, name)
}

/// Writes `value` as the key `name` of the node at `node_path`.
pub(crate) fn write_json(
    store: &Store,
    node_path: &str,
    name: &str,
    value: &impl serde::Serialize,
) -> Result<()> {
    let key = key(store, node_path, name)?;
    let text = serde_json::to_string_pretty(value).map_err(|e| store.error(key.as_str(), e))?;
    store
        .raw
        .set(&key, unmark(text).into_bytes().into())
        .map_err(|e| store.error(key.as_str(), e))
}

/// Sets the `shape` of the stored array at `node_path` in its metadata document (v3
/// `zarr.json`, v2 `.zarray`), leaving every other field as its writer wrote it (zarrs
/// writes codecs without settings as bare names, which zarr-python 3.1 cannot read).
pub(crate) fn set_stored_shape(store: &Store, node_path: &str, shape: &[u64]) -> Result<()> {
    for name in ["zarr.json", ".zarray"] {
        if let Some(mut meta) = Document::read(store, node_path, name)? {
            meta.set("shape", &shape);
            return meta.write(store, node_path, name);
        }
    }
    Err(store.error(node_path, "array metadata is missing"))
}

/// What the node at `node_path` is, from its metadata keys (`None` where there is none).
pub(crate) fn node_kind(store: &Store, node_path: &str) -> Result<Option<NodeKind>> {
    if let Some(meta) = read_json(store, node_path, "zarr.json")? {
        return Ok(Some(match meta.get("node_type").and_then(Json::as_str) {
            Some("group") => NodeKind::Group(ZarrVersion::V3),
            _ => NodeKind::Array,
        }));
    }
    let exists = |name| -> Result<bool> {
        let key = key(store, node_path, name)?;
        let size = store
            .raw
            .size_key(&key)
            .map_err(|e| store.error(key.as_str(), e))?;
        Ok(size.is_some())
    };
    if exists(".zarray")? {
        Ok(Some(NodeKind::Array))
    } else if exists(".zgroup")? {
        Ok(Some(NodeKind::Group(ZarrVersion::V2)))
    } else {
        Ok(None)
    }
}

/// Writes the metadata of a group at `node_path` (replacing any group metadata there).
pub(crate) fn write_group(
    store: &Store,
    node_path: &str,
    version: ZarrVersion,
    attributes: &Map<String, Json>,
) -> Result<()> {
    match version {
        ZarrVersion::V2 => {
            write_json(store, node_path, ".zgroup", &json!({"zarr_format": 2}))?;
            write_json(
                store,
                node_path,
                ".zattrs",
                &Json::Object(attributes.clone()),
            )
        }
        ZarrVersion::V3 => write_json(
            store,
            node_path,
            "zarr.json",
            &json!({"zarr_format": 3, "node_type": "group", "attributes": attributes}),
        ),
    }
}

/// The node paths above `node_path` and `node_path` itself, from the root down.
pub(crate) fn ancestors_and_self(node_path: &str) -> Vec<String> {
    let mut nodes = ancestors(node_path);
    nodes.push(node_path.to_string());
    nodes
}

/// The node paths above `node_path`, from the root down (none for the root).
pub(crate) fn ancestors(node_path: &str) -> Vec<String> {
    let parts: Vec<&str> = node_path
        .trim_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    (0..parts.len())
        .map(|n| format!("/{}", parts[..n].join("/")))
        .collect()
}

/// Creates the groups above `node_path` that do not exist (in `version`, without
/// attributes), so that the store stays a hierarchy Zarr readers can walk. An array above
/// `node_path` is an error. (A node below a group of the other Zarr version is written:
/// readers of the group do not list it, but open it by its path.)
pub(crate) fn ensure_parents(store: &Store, node_path: &str, version: ZarrVersion) -> Result<()> {
    for parent in ancestors(node_path) {
        match node_kind(store, &parent)? {
            Some(NodeKind::Group(_)) => {}
            Some(NodeKind::Array) => {
                return Err(Error::Storage(StorageError::NotAGroup {
                    path: format!("{}{parent}", store.describe()),
                    child: node_path.to_string(),
                }));
            }
            None => write_group(store, &parent, version, &Map::new())?,
        }
    }
    Ok(())
}

/// The metadata keys of every node under the group at `node_path` (not the group's own),
/// relative to it, found by walking down through nodes only (chunk directories are not
/// listed). Staging directories of overwrites in progress are left out.
fn descendants(store: &Store, node_path: &str) -> Result<Vec<(String, String)>> {
    let mut found = Vec::new();
    // Groups still to list, by their path relative to the group ("" for the group).
    let mut pending = vec![String::new()];
    while let Some(relative) = pending.pop() {
        let group = match relative.is_empty() {
            true => node_path.to_string(),
            false => super::paths::child_path(node_path, &relative),
        };
        for name in child_names(store, &group)? {
            let rel = match relative.is_empty() {
                true => name,
                false => format!("{relative}/{name}"),
            };
            let child_path = super::paths::child_path(node_path, &rel);
            let kind = node_kind(store, &child_path)?;
            if kind.is_none() {
                continue;
            }
            for meta in ["zarr.json", ".zarray", ".zgroup", ".zattrs"] {
                if store
                    .raw
                    .size_key(&key(store, &child_path, meta)?)
                    .map_err(|e| store.error(&child_path, e))?
                    .is_some()
                {
                    found.push((rel.clone(), meta.to_string()));
                }
            }
            // Only groups hold nodes: an array's directory holds its chunks (every chunk
            // key of a v2 array with `.` separators, listed at once).
            if matches!(kind, Some(NodeKind::Group(_))) {
                pending.push(rel);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Writes consolidated metadata for the group at `node_path`, as zarr-python 3 does: in v2
/// a `.zmetadata` key holding every metadata document below (and of) the group; in v3 a
/// `consolidated_metadata` entry in the group's `zarr.json`, holding the `zarr.json` of
/// every node below it under its path relative to the group. Readers that use consolidated
/// metadata (xarray by default) see only what was there when this ran: call it again after
/// adding arrays. [`Group::store`](super::Group::store) does.
///
/// ```
/// use chunkwise::io::zarr::{self, WriteOptions};
/// let dir = std::env::temp_dir().join(format!("chunkwise-doc-cons-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let x = chunkwise::arange::<f64>(0.0, 4.0, 1.0, [2]).unwrap();
/// x.to_zarr(&dir, "x", &WriteOptions::default()).unwrap();
/// zarr::consolidate_metadata(&dir, "/").unwrap();
/// let root: serde_json::Value =
///     serde_json::from_slice(&std::fs::read(dir.join("zarr.json")).unwrap()).unwrap();
/// assert!(root["consolidated_metadata"]["metadata"]["x"].is_object());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn consolidate_metadata(store: impl super::IntoStore, path: &str) -> Result<()> {
    let store = store.into_store()?;
    let node_path = super::node_path(path)?;
    let version = match node_kind(&store, &node_path)? {
        Some(NodeKind::Group(version)) => version,
        _ => {
            return Err(Error::Storage(StorageError::NotAGroup {
                path: format!("{}{node_path}", store.describe()),
                child: "(consolidated metadata)".into(),
            }));
        }
    };
    let documents = descendants(&store, &node_path)?;
    let mut metadata = Documents::new();
    match version {
        ZarrVersion::V2 => {
            for name in [".zgroup", ".zattrs"] {
                if let Some(doc) = Document::read(&store, &node_path, name)? {
                    metadata.insert(name.to_string(), doc.to_raw());
                }
            }
            // Only v2 documents: a v2 reader neither lists nor reads v3 nodes.
            for (rel, name) in documents.into_iter().filter(|(_, n)| n != "zarr.json") {
                let child = super::paths::child_path(&node_path, &rel);
                if let Some(doc) = Document::read(&store, &child, &name)? {
                    metadata.insert(format!("{rel}/{name}"), doc.to_raw());
                }
            }
            let mut consolidated = Document::default();
            consolidated.set("metadata", &metadata);
            consolidated.set("zarr_consolidated_format", &1);
            consolidated.write(&store, &node_path, ".zmetadata")
        }
        ZarrVersion::V3 => {
            for (rel, name) in documents.iter().filter(|(_, n)| n == "zarr.json") {
                let child = super::paths::child_path(&node_path, rel);
                if let Some(mut doc) = Document::read(&store, &child, name)? {
                    if doc.get::<String>("node_type").as_deref() == Some("group") {
                        // As zarr-python: nested groups' children are listed flat above.
                        doc.set("consolidated_metadata", &inline(&Documents::new()));
                    }
                    metadata.insert(rel.clone(), doc.to_raw());
                }
            }
            let mut group = Document::read(&store, &node_path, "zarr.json")?.unwrap_or_default();
            group.set("consolidated_metadata", &inline(&metadata));
            group.write(&store, &node_path, "zarr.json")
        }
    }
}

/// Whether the group at `node_path` holds consolidated metadata.
pub(crate) fn is_consolidated(store: &Store, node_path: &str) -> Result<bool> {
    Ok(match node_kind(store, node_path)? {
        Some(NodeKind::Group(ZarrVersion::V2)) => store
            .raw
            .size_key(&key(store, node_path, ".zmetadata")?)
            .map_err(|e| store.error(node_path, e))?
            .is_some(),
        Some(NodeKind::Group(ZarrVersion::V3)) => read_json(store, node_path, "zarr.json")?
            .is_some_and(|m| m.get("consolidated_metadata").is_some_and(Json::is_object)),
        _ => false,
    })
}

/// Consolidates the store's root group, where it has no consolidated metadata yet and
/// `node_path` (just consolidated) is below it: xarray and zarr-python 3 read a nested
/// group's consolidated metadata at the root (`xr.open_zarr(store, group="a/b")`), where
/// xarray writes it. Best effort: a store whose other nodes cannot all be read (one of
/// another program, damaged) keeps its root as it was (xarray then reads the group without
/// consolidated metadata), and the write that asked stands.
pub(crate) fn consolidate_root(store: &Store, node_path: &str) {
    let below_root = !node_path.trim_matches('/').is_empty();
    let unconsolidated_group = || -> Result<bool> {
        Ok(matches!(node_kind(store, "/")?, Some(NodeKind::Group(_)))
            && !is_consolidated(store, "/")?)
    };
    if below_root
        && let Err(e) = unconsolidated_group().and_then(|needed| match needed {
            true => consolidate_metadata(store, "/"),
            false => Ok(()),
        })
    {
        tracing::warn!("consolidating the root of {}: {e}", store.describe());
    }
}

/// Consolidates again every group above `node_path` that holds consolidated metadata, so
/// that readers relying on it see the node just written.
pub(crate) fn refresh_consolidated(store: &Store, node_path: &str) -> Result<()> {
    for parent in ancestors(node_path) {
        if is_consolidated(store, &parent)? {
            consolidate_metadata(store, &parent)?;
        }
    }
    Ok(())
}

/// [`refresh_consolidated`] above each of the nodes at `node_paths`, once for the nodes
/// of one group (they have the same groups above them).
pub(crate) fn refresh_consolidated_above<'a>(
    store: &Store,
    node_paths: impl IntoIterator<Item = &'a str>,
) -> Result<()> {
    let mut refreshed: Vec<String> = Vec::new();
    for node_path in node_paths {
        let parent = ancestors(node_path).pop().unwrap_or_default();
        if !refreshed.contains(&parent) {
            refresh_consolidated(store, node_path)?;
            refreshed.push(parent);
        }
    }
    Ok(())
}

/// The names of the arrays and of the groups directly in the group at `node_path`, from
/// consolidated metadata: the group's own, or else that of the nearest group above it that
/// has some (zarr-python lists every node below a group there). `None` if no group on the
/// way up has consolidated metadata, or the nearest one does not know the group (stale).
pub(crate) fn consolidated_children(
    store: &Store,
    node_path: &str,
) -> Result<Option<(Vec<String>, Vec<String>)>> {
    for holder in ancestors_and_self(node_path).iter().rev() {
        let Some(nodes) = consolidated_nodes(store, holder)? else {
            continue;
        };
        // The group's path below the holder ("" for the holder itself).
        let below = node_path[holder.len()..].trim_matches('/');
        if !below.is_empty() && nodes.get(below) != Some(&false) {
            return Ok(None);
        }
        let (mut arrays, mut groups) = (Vec::new(), Vec::new());
        for (path, &is_array) in &nodes {
            let name = match below.is_empty() {
                true => Some(path.as_str()),
                false => path.strip_prefix(below).and_then(|p| p.strip_prefix('/')),
            };
            if let Some(name) = name.filter(|n| !n.is_empty() && !n.contains('/')) {
                match is_array {
                    true => arrays.push(name.to_string()),
                    false => groups.push(name.to_string()),
                }
            }
        }
        arrays.sort();
        groups.sort();
        return Ok(Some((arrays, groups)));
    }
    Ok(None)
}

/// The nodes that the consolidated metadata of the group at `node_path` lists, by path
/// relative to it, each with whether it is an array; `None` if it has none.
fn consolidated_nodes(
    store: &Store,
    node_path: &str,
) -> Result<Option<std::collections::BTreeMap<String, bool>>> {
    let mut nodes = std::collections::BTreeMap::new();
    if let Some(v2) = read_json(store, node_path, ".zmetadata")? {
        let Some(metadata) = v2.get("metadata").and_then(Json::as_object) else {
            return Ok(None);
        };
        for key in metadata.keys() {
            if let Some(path) = key.strip_suffix("/.zarray") {
                nodes.insert(path.to_string(), true);
            } else if let Some(path) = key.strip_suffix("/.zgroup") {
                nodes.insert(path.to_string(), false);
            }
        }
        return Ok(Some(nodes));
    }
    let v3 = read_json(store, node_path, "zarr.json")?;
    let Some(metadata) = v3.as_ref().and_then(|group| {
        group
            .get("consolidated_metadata")?
            .get("metadata")?
            .as_object()
    }) else {
        return Ok(None);
    };
    for (path, document) in metadata {
        let is_array = document.get("node_type").and_then(Json::as_str) == Some("array");
        nodes.insert(path.clone(), is_array);
    }
    Ok(Some(nodes))
}

/// An inline consolidated metadata entry (v3).
fn inline(metadata: &Documents) -> Documents {
    let entry = [
        ("kind", raw(&"inline")),
        ("must_understand", raw(&false)),
        ("metadata", raw(metadata)),
    ];
    entry.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::ancestors;

    #[test]
    fn ancestors_run_from_the_root_down() {
        assert_eq!(ancestors("/"), Vec::<String>::new());
        assert_eq!(ancestors("/a"), vec!["/"]);
        assert_eq!(ancestors("/a/b/c"), vec!["/", "/a", "/a/b"]);
    }
}

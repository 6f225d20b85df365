//! Node paths and store keys that stay inside their store.
//!
//! Every path a user names and every key a write or delete touches is checked here before
//! anything reaches the filesystem: no component may be empty, made only of dots (`.`,
//! `..`), or hold a backslash or NUL. So no key can resolve outside the store's root, and no
//! chunk key (whatever its metadata's key encoding says) outside its array's node.

use crate::error::{Error, Result, StorageError};

/// Why `component` of a path or key is refused, if it is.
fn unsafe_component(component: &str) -> Option<&'static str> {
    if component.is_empty() {
        Some("an empty component")
    } else if component.chars().all(|c| c == '.') {
        Some("a component of dots only (such as `.` or `..`)")
    } else if component.contains(['\\', '\0']) {
        Some("a backslash or NUL character")
    } else {
        None
    }
}

/// Why the relative `key` (components joined by `/`, no leading or trailing `/`) could
/// reach outside the directory it is joined to, if it could.
pub(crate) fn unsafe_key(key: &str) -> Option<&'static str> {
    if key.is_empty() {
        return Some("an empty key");
    }
    key.split('/').find_map(unsafe_component)
}

/// The error for a refused path or key.
fn refused(path: &str, reason: &str) -> Error {
    Error::Storage(StorageError::UnsafePath {
        path: path.to_string(),
        reason: reason.to_string(),
    })
}

/// The node path of the user's `path` in zarrs form (`/a/b`; `/` for the root, which `""`
/// and `"/"` name). Refuses paths that could reach outside the store or name a node
/// ambiguously: empty components (`a//b`), `.`, `..`, backslashes and NUL.
pub(crate) fn node_path(path: &str) -> Result<String> {
    if path.is_empty() || path == "/" {
        return Ok("/".to_string());
    }
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    match unsafe_key(trimmed) {
        Some(reason) => Err(refused(path, reason)),
        None => Ok(format!("/{trimmed}")),
    }
}

/// Why `name` cannot name a node that is written, if it cannot: a reader would take the
/// node for a metadata key of the group above (Zarr's), or for one of chunkwise's own
/// entries (staging directories, scratch, journals), which readers do not list.
fn reserved_name(name: &str) -> Option<&'static str> {
    match name {
        "zarr.json" | ".zarray" | ".zgroup" | ".zattrs" | ".zmetadata" => {
            Some("the name of a Zarr metadata key")
        }
        _ if super::staging::is_own_entry(name) => {
            Some("the name of one of chunkwise's own entries (staging, scratch or journal)")
        }
        _ => None,
    }
}

/// [`node_path`] of a node to write (an array or a group): its components must not be
/// reserved names either (Zarr's metadata keys, such as `zarr.json` or `.zarray`, and
/// chunkwise's own hidden entries).
pub(crate) fn new_node_path(path: &str) -> Result<String> {
    let node_path = node_path(path)?;
    match node_path.split('/').find_map(reserved_name) {
        Some(reason) => Err(refused(path, reason)),
        None => Ok(node_path),
    }
}

/// Checks that `key`, written or erased on behalf of the node at `node_path`, lies under
/// that node: a chunk key encoding in stored metadata must not lead a write elsewhere.
pub(crate) fn check_key_under(node_path: &str, key: &str) -> Result<()> {
    let node = node_path.trim_matches('/');
    let inside = node.is_empty()
        || key
            .strip_prefix(node)
            .is_some_and(|rest| rest.starts_with('/'));
    if !inside {
        return Err(refused(key, "a chunk key outside its array's node"));
    }
    match unsafe_key(key) {
        Some(reason) => Err(refused(key, reason)),
        None => Ok(()),
    }
}

/// The node path of `name` (one or more components) below the node at `parent`.
pub(crate) fn child_path(parent: &str, name: &str) -> String {
    format!("{}/{name}", parent.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_paths_are_normalised_or_refused() {
        assert_eq!(node_path("").unwrap(), "/");
        assert_eq!(node_path("/").unwrap(), "/");
        assert_eq!(node_path("a").unwrap(), "/a");
        assert_eq!(node_path("/a/b/").unwrap(), "/a/b");
        assert_eq!(node_path("a.b/..c").unwrap(), "/a.b/..c");
        for bad in [
            ".",
            "..",
            "../victim",
            "x/.",
            "x/..",
            "a//b",
            "//",
            "a/./b",
            "...",
            "a\\b",
            "a\0",
            "/../x",
        ] {
            let err = node_path(bad).unwrap_err();
            assert!(
                matches!(err, Error::Storage(StorageError::UnsafePath { .. })),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn keys_must_stay_under_their_node() {
        check_key_under("/a", "a/c/0/0").unwrap();
        check_key_under("/", "c/0").unwrap();
        check_key_under("/a/b", "a/b/0.0").unwrap();
        for (node, key) in [
            ("/a", "a/c/0/0/../../../../escaped"),
            ("/a", "ab/c/0"),
            ("/a", "b/c/0"),
            ("/a", "a"),
            ("/", "../x"),
            ("/", "c//0"),
        ] {
            assert!(check_key_under(node, key).is_err(), "{node} {key}");
        }
    }
}

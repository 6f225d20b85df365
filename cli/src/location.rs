//! Where an array lives: a store and the array's path in it, named on the command line as
//! one path (`data/in.zarr/tas`).

use std::path::{Path, PathBuf};

/// An array's store (a directory) and its path inside the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Location {
    /// The store's root directory.
    pub(crate) store: PathBuf,
    /// The node's path in the store (`/` for the root).
    pub(crate) path: String,
}

impl Location {
    /// Splits `arg` after its last component that ends in `.zarr`: `out.zarr/stats/tas`
    /// is the node `/stats/tas` of the store `out.zarr`. A path without such a component
    /// is a store whose root is the node.
    pub(crate) fn parse(arg: &str) -> Location {
        let path = Path::new(arg);
        let components: Vec<_> = path.components().collect();
        let root = components
            .iter()
            .rposition(|c| c.as_os_str().to_string_lossy().ends_with(".zarr"));
        match root {
            Some(i) => {
                let store: PathBuf = components[..=i].iter().collect();
                let inner: Vec<String> = components[i + 1..]
                    .iter()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                Location {
                    store,
                    path: format!("/{}", inner.join("/")),
                }
            }
            None => Location {
                store: path.to_path_buf(),
                path: "/".into(),
            },
        }
    }
}

impl Location {
    /// The array here, opened lazily.
    pub(crate) fn open(&self) -> chunkwise::Result<chunkwise::io::zarr::AnyArray> {
        chunkwise::io::zarr::open(&self.store, &self.path)
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.path.as_str() {
            "/" => write!(f, "{}", self.store.display()),
            path => write!(f, "{}{}", self.store.display(), path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_after_the_last_zarr_component() {
        let l = Location::parse("data/in.zarr/stats/tas");
        assert_eq!(l.store, PathBuf::from("data/in.zarr"));
        assert_eq!(l.path, "/stats/tas");
        let root = Location::parse("/tmp/x.zarr");
        assert_eq!(
            (root.store, root.path),
            (PathBuf::from("/tmp/x.zarr"), "/".into())
        );
        let plain = Location::parse("/tmp/array");
        assert_eq!(plain.path, "/");
    }
}

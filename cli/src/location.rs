//! Where an array lives: a store and the array's path in it, named on the command line as
//! one path (`data/in.zarr/tas`) or URL (`s3://bucket/data/in.zarr/tas`).

use std::path::{Path, PathBuf};

/// An array's store (a directory, or an object store's URL) and its path inside the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Location {
    /// The store's root directory or URL.
    pub(crate) store: String,
    /// The node's path in the store (`/` for the root).
    pub(crate) path: String,
}

impl Location {
    /// Splits `arg` after its last component that ends in `.zarr`: `out.zarr/stats/tas`
    /// is the node `/stats/tas` of the store `out.zarr`. A path without such a component
    /// is a store whose root is the node.
    pub(crate) fn parse(arg: &str) -> Location {
        if let Some((scheme, rest)) = arg.split_once("://") {
            return Self::parse_url(scheme, rest);
        }
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
                    store: store.to_string_lossy().into_owned(),
                    path: format!("/{}", inner.join("/")),
                }
            }
            None => Location {
                store: arg.to_string(),
                path: "/".into(),
            },
        }
    }

    /// [`Location::parse`] of `scheme://rest`: split after the last `.zarr` component of
    /// the URL's path in the same way (the bucket or host is never the split point).
    fn parse_url(scheme: &str, rest: &str) -> Location {
        let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        let root = parts
            .iter()
            .skip(1)
            .rposition(|c| c.ends_with(".zarr"))
            .map_or(parts.len() - 1, |i| i + 1);
        Location {
            store: format!("{scheme}://{}", parts[..=root].join("/")),
            path: format!("/{}", parts[root + 1..].join("/")),
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
            "/" => write!(f, "{}", self.store),
            path => write!(f, "{}{}", self.store, path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_after_the_last_zarr_component() {
        let l = Location::parse("data/in.zarr/stats/tas");
        assert_eq!(l.store, "data/in.zarr");
        assert_eq!(l.path, "/stats/tas");
        let root = Location::parse("/tmp/x.zarr");
        assert_eq!((root.store, root.path), ("/tmp/x.zarr".into(), "/".into()));
        let plain = Location::parse("/tmp/array");
        assert_eq!((plain.store, plain.path), ("/tmp/array".into(), "/".into()));
    }

    #[test]
    fn urls_split_after_the_last_zarr_component_of_their_path() {
        let l = Location::parse("s3://bucket/data/in.zarr/stats/tas");
        assert_eq!(
            (l.store.as_str(), l.path.as_str()),
            ("s3://bucket/data/in.zarr", "/stats/tas")
        );
        let l = Location::parse("https://host.zarr/x.zarr");
        assert_eq!(
            (l.store.as_str(), l.path.as_str()),
            ("https://host.zarr/x.zarr", "/")
        );
        let l = Location::parse("s3://bucket/prefix/array/");
        assert_eq!(
            (l.store.as_str(), l.path.as_str()),
            ("s3://bucket/prefix/array", "/")
        );
        let l = Location::parse("s3://bucket.zarr");
        assert_eq!(
            (l.store.as_str(), l.path.as_str()),
            ("s3://bucket.zarr", "/")
        );
    }
}

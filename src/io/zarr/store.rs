//! Where Zarr data lives: a filesystem directory (the default) or any zarrs store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use zarrs::array::Array as ZArray;
use zarrs::storage::{ReadableWritableListableStorage, ReadableWritableListableStorageTraits};

use super::local::LocalStore;

use crate::error::{Error, Result, StorageError};

/// The zarrs array handle, opened on a [`Store`]'s storage, that sources and sinks share.
pub(crate) type Handle = ZArray<dyn ReadableWritableListableStorageTraits>;

/// A Zarr store: a local directory, or any store of the `zarrs` crate.
///
/// Writes to a directory store go through a temporary file and an atomic rename, so a chunk
/// on disk is always either its old or its new content, even if the process is killed.
///
/// ```
/// use chunkwise::io::zarr::Store;
/// let dir = std::env::temp_dir().join("chunkwise-doc-store");
/// let store = Store::directory(&dir).unwrap();
/// # let _ = store;
/// ```
#[derive(Clone)]
pub struct Store {
    pub(crate) storage: ReadableWritableListableStorage,
    /// The directory, for stores on the filesystem (used in messages and cleanup).
    pub(crate) path: Option<PathBuf>,
    /// Whether writes to the directory reach the disk before they are published.
    pub(crate) synced: bool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.path {
            Some(p) => write!(f, "Store({})", p.display()),
            None => f.write_str("Store(custom)"),
        }
    }
}

impl Store {
    /// A store in the directory `path` (created when something is written). Every value is
    /// written to a temporary file and renamed into place, so a killed process leaves each
    /// chunk old or new.
    pub fn directory(path: impl AsRef<Path>) -> Result<Store> {
        Self::local(path.as_ref(), false)
    }

    /// Like [`Store::directory`], and each value is also on the disk (`fsync`) before it is
    /// renamed into place, so chunks survive a power loss too. Slower.
    pub fn directory_synced(path: impl AsRef<Path>) -> Result<Store> {
        Self::local(path.as_ref(), true)
    }

    fn local(path: &Path, sync: bool) -> Result<Store> {
        let store = LocalStore::new(path.to_path_buf(), sync).map_err(|message| {
            Error::Storage(StorageError::Storage {
                path: path.display().to_string(),
                message,
            })
        })?;
        Ok(Store {
            storage: Arc::new(store),
            path: Some(path.to_path_buf()),
            synced: sync,
        })
    }

    /// Any store of the `zarrs` crate (in memory, instrumented, remote...).
    pub fn from_storage(storage: ReadableWritableListableStorage) -> Store {
        Store {
            storage,
            path: None,
            synced: false,
        }
    }

    /// A short description for messages.
    pub(crate) fn describe(&self) -> String {
        match &self.path {
            Some(p) => p.display().to_string(),
            None => "custom store".to_string(),
        }
    }

    /// The error for a storage failure at `what` in this store.
    pub(crate) fn error(&self, what: &str, e: impl std::fmt::Display) -> Error {
        Error::Storage(StorageError::Storage {
            path: format!("{}/{}", self.describe(), what.trim_start_matches('/')),
            message: e.to_string(),
        })
    }
}

/// What `open` and `to_zarr` accept as a store: a path (`&str`, `&Path`, `PathBuf`) for a
/// directory store, or a [`Store`].
pub trait IntoStore {
    /// The store.
    fn into_store(self) -> Result<Store>;
}

impl IntoStore for &Path {
    fn into_store(self) -> Result<Store> {
        Store::directory(self)
    }
}

impl IntoStore for &PathBuf {
    fn into_store(self) -> Result<Store> {
        Store::directory(self)
    }
}

impl IntoStore for PathBuf {
    fn into_store(self) -> Result<Store> {
        Store::directory(self)
    }
}

impl IntoStore for &str {
    fn into_store(self) -> Result<Store> {
        Store::directory(self)
    }
}

impl IntoStore for &Store {
    fn into_store(self) -> Result<Store> {
        Ok(self.clone())
    }
}

impl IntoStore for Store {
    fn into_store(self) -> Result<Store> {
        Ok(self)
    }
}

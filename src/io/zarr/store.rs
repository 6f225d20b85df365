//! Where Zarr data lives: a filesystem directory (the default), object storage named by a
//! URL (`s3://`, `https://`; the `object-store` feature), or any zarrs store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use zarrs::array::Array as ZArray;
use zarrs::storage::byte_range::ByteRange;
use zarrs::storage::{
    Bytes, ReadableWritableListableStorage, ReadableWritableListableStorageTraits, StoreKey,
};

use super::bare_floats::QuotedFloats;
use super::hierarchy::why_unopenable;
use super::local::LocalStore;
#[cfg(feature = "object-store")]
use super::remote::RemoteStorage;
use super::remote::{RemoteOptions, StoreUrl, is_url};

use crate::error::{Error, Result, StorageError};

/// The zarrs array handle, opened on a [`Store`]'s storage, that sources and sinks share.
pub(crate) type Handle = ZArray<dyn ReadableWritableListableStorageTraits>;

/// A Zarr store: a local directory, object storage (`s3://bucket/path`, read and write;
/// `https://host/path`, read only; with the `object-store` feature), or any store of the
/// `zarrs` crate.
///
/// Writes to a directory store go through a temporary file and an atomic rename, so a chunk
/// on disk is always either its old or its new content, even if the process is killed.
/// On S3 each chunk is one PUT, which S3 makes atomic: a reader sees the old object or the
/// new one.
///
/// ```
/// use chunkwise::io::zarr::Store;
/// let dir = std::env::temp_dir().join("chunkwise-doc-store");
/// let store = Store::directory(&dir).unwrap();
/// # let _ = store;
/// ```
#[derive(Clone)]
pub struct Store {
    /// What zarrs reads and writes: the store, its metadata documents read with bare
    /// `NaN`/`Infinity` tokens quoted (see `bare_floats`).
    pub(crate) storage: ReadableWritableListableStorage,
    /// The store as given, for documents chunkwise rewrites itself and for its identity.
    pub(crate) raw: ReadableWritableListableStorage,
    /// The directory, for stores on the filesystem (used in messages and cleanup).
    pub(crate) path: Option<PathBuf>,
    /// Whether writes to the directory reach the disk before they are published.
    pub(crate) synced: bool,
    /// The URL, for stores on object storage.
    pub(crate) url: Option<String>,
    /// The object storage client, whose chunk reads can be fetched ahead.
    #[cfg(feature = "object-store")]
    pub(crate) remote: Option<Arc<RemoteStorage>>,
}

/// Chunks of an object store fetched ahead and kept until this is dropped (see
/// [`Store::fetch`]).
pub(crate) struct FetchLease {
    #[cfg(feature = "object-store")]
    _lease: super::remote::Lease,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.describe())
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
            path: Some(path.to_path_buf()),
            synced: sync,
            ..Store::from_storage(Arc::new(store))
        })
    }

    /// Any store of the `zarrs` crate (in memory, instrumented, remote...).
    pub fn from_storage(storage: ReadableWritableListableStorage) -> Store {
        Store {
            storage: Arc::new(QuotedFloats(storage.clone())),
            raw: storage,
            path: None,
            synced: false,
            url: None,
            #[cfg(feature = "object-store")]
            remote: None,
        }
    }

    /// The store at `url`: `s3://bucket/path` (S3 or an S3-compatible server) or
    /// `http(s)://host/path` (read only), reached as the environment says
    /// ([`RemoteOptions::from_env`]: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL`, ...). Needs the
    /// `object-store` cargo feature (an error naming it otherwise). Nothing is requested
    /// until an array or group is opened.
    ///
    /// ```
    /// use chunkwise::io::zarr::Store;
    /// let opened = Store::from_url("s3://bucket/data.zarr");
    /// assert_eq!(opened.is_ok(), cfg!(feature = "object-store"));
    /// assert!(Store::from_url("gs://bucket/x").is_err());
    /// ```
    pub fn from_url(url: &str) -> Result<Store> {
        Self::from_url_with(url, &RemoteOptions::from_env())
    }

    /// [`Store::from_url`] with the endpoint, credentials and retries of `options`.
    pub fn from_url_with(url: &str, options: &RemoteOptions) -> Result<Store> {
        let parsed = StoreUrl::parse(url)?;
        #[cfg(feature = "object-store")]
        {
            let remote = Arc::new(RemoteStorage::open(&parsed, options)?);
            Ok(Store {
                url: Some(parsed.text),
                remote: Some(remote.clone()),
                ..Store::from_storage(remote)
            })
        }
        #[cfg(not(feature = "object-store"))]
        {
            let _ = options;
            Err(Error::Storage(StorageError::FeatureMissing {
                url: parsed.text,
                feature: "object-store".into(),
            }))
        }
    }

    /// Starts fetching `keys` concurrently if this store is on object storage, and keeps
    /// them until the lease is dropped: reads of these keys then wait for the fetched
    /// values instead of asking the server one by one. A value of more than `limit` bytes
    /// is refused unread. `None` for other stores.
    pub(crate) fn fetch(&self, keys: Vec<StoreKey>, limit: Option<u64>) -> Option<FetchLease> {
        #[cfg(feature = "object-store")]
        {
            let remote = self.remote.as_ref()?;
            Some(FetchLease {
                _lease: remote.fetcher.lease(keys, limit),
            })
        }
        #[cfg(not(feature = "object-store"))]
        {
            let _ = (keys, limit);
            None
        }
    }

    /// The value of `key` as the pieces its body arrived in, if a lease (see
    /// [`Store::fetch`]) holds it, after waiting for its GET; `None` if no lease holds it,
    /// if there is no such key, or if the GET failed (a read of the key then says why).
    pub(crate) fn fetched_pieces(&self, key: &StoreKey) -> Option<Vec<Bytes>> {
        #[cfg(feature = "object-store")]
        {
            let body = self.remote.as_ref()?.fetcher.fetched(key)?.ok()??;
            Some(body.pieces().to_vec())
        }
        #[cfg(not(feature = "object-store"))]
        {
            let _ = key;
            None
        }
    }

    /// Whether this store is on object storage (its chunks are worth fetching ahead).
    pub(crate) fn is_remote(&self) -> bool {
        self.url.is_some()
    }

    /// The Zarr array at `node_path`, its storage failures named by its path (and said
    /// plainly where the node is a group or of a type chunkwise does not read).
    pub(crate) fn open_array(&self, node_path: &str) -> Result<Handle> {
        ZArray::open(self.storage.clone(), node_path)
            .map_err(|e| why_unopenable(self, node_path, self.error(node_path, e)))
    }

    /// Whether the store is known to list its keys: a directory or an S3 store (not an
    /// HTTP store, nor a custom one, which may not).
    pub(crate) fn lists(&self) -> bool {
        #[cfg(feature = "object-store")]
        if let Some(remote) = &self.remote {
            return remote.read_only().is_none();
        }
        self.path.is_some()
    }

    /// An error unless the store can be written (HTTP stores only read).
    pub(crate) fn check_writable(&self) -> Result<()> {
        #[cfg(feature = "object-store")]
        if let Some(reason) = self.remote.as_ref().and_then(|r| r.read_only()) {
            return Err(Error::Storage(StorageError::ReadOnly {
                store: self.describe(),
                reason: reason.to_string(),
            }));
        }
        Ok(())
    }

    /// A short description for messages.
    pub(crate) fn describe(&self) -> String {
        match (&self.path, &self.url) {
            (Some(p), _) => p.display().to_string(),
            (None, Some(url)) => url.clone(),
            (None, None) => "custom store".to_string(),
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
/// directory store, a URL (`&str` or `String` starting with a scheme, `s3://bucket/path`
/// or `https://host/path`: [`Store::from_url`]), or a [`Store`].
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
        if is_url(self) {
            Store::from_url(self)
        } else {
            Store::directory(self)
        }
    }
}

impl IntoStore for &String {
    fn into_store(self) -> Result<Store> {
        self.as_str().into_store()
    }
}

impl IntoStore for String {
    fn into_store(self) -> Result<Store> {
        self.as_str().into_store()
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

/// The `ranges` of a whole stored `value`, each checked to lie inside it (an error saying
/// which does not).
pub(crate) fn slices(
    value: &Bytes,
    ranges: Vec<ByteRange>,
) -> std::result::Result<Vec<Bytes>, String> {
    slices_of(value.len() as u64, ranges, |r| {
        value.slice(r.start as usize..r.end as usize)
    })
}

/// [`slices`] of a value of `len` bytes that `cut` cuts ranges from.
pub(crate) fn slices_of(
    len: u64,
    ranges: Vec<ByteRange>,
    cut: impl Fn(std::ops::Range<u64>) -> Bytes,
) -> std::result::Result<Vec<Bytes>, String> {
    ranges
        .into_iter()
        .map(|range| {
            let bounds = match range {
                ByteRange::FromStart(start, None) => Some(start..len),
                ByteRange::FromStart(start, Some(n)) => start.checked_add(n).map(|e| start..e),
                ByteRange::Suffix(n) => len.checked_sub(n).map(|s| s..len),
            };
            match bounds {
                Some(r) if r.start <= r.end && r.end <= len => Ok(cut(r)),
                _ => Err(format!("byte range {range} outside a value of {len} bytes")),
            }
        })
        .collect()
}

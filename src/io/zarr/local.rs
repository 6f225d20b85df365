//! The directory store: zarrs' filesystem store, with keys checked to stay inside the
//! directory and whole-value writes made atomic by a temporary file and a rename.
//!
//! A killed process leaves every key with its old or its new content: the rename replaces
//! the key in one step, and data written before it is in the page cache whatever happens to
//! the process. Surviving a power loss as well needs the data on the disk before the rename:
//! [`Store::directory_synced`](super::Store::directory_synced) asks for that (one `fsync` per
//! chunk, measured at about a third of the write throughput on this project's machines).
//!
//! Each write has a temporary file of its own, created exclusively (`O_EXCL | O_NOFOLLOW`)
//! under a unique name in the key's directory, so two writers of one key never share bytes
//! (the last rename wins, and every published value is whole) and a symlink planted at a
//! temporary name is never followed.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use zarrs::filesystem::FilesystemStore;
use zarrs::storage::byte_range::ByteRangeIterator;
use zarrs::storage::{
    Bytes, ListableStorageTraits, MaybeBytesIterator, OffsetBytesIterator, ReadableStorageTraits,
    StorageError, StoreKey, StoreKeys, StoreKeysPrefixes, StorePrefix, WritableStorageTraits,
};

use super::paths::unsafe_key;
use super::staging::remove_tree;

/// What every temporary file name of chunkwise's writes ends with.
const TEMPORARY_SUFFIX: &str = ".chunkwise-tmp";

/// Whether `name` is a temporary file whose writer (the pid in its name) is no longer
/// running on this machine.
pub(crate) fn is_stale_temporary(name: &str) -> bool {
    let pid = name
        .strip_suffix(TEMPORARY_SUFFIX)
        .and_then(|rest| rest.rsplit('.').next())
        .and_then(|unique| unique.split('-').next())
        .and_then(|pid| pid.parse::<u32>().ok());
    pid.is_some_and(|pid| !super::staging::process_alive(pid))
}

/// A name for a new temporary file beside `path`: hidden, unique to this process and call.
fn temporary_beside(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let unique = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    path.with_file_name(format!(
        ".{name}.{}-{unique}-{nanos:08x}{TEMPORARY_SUFFIX}",
        std::process::id()
    ))
}

/// The error for a key that could reach outside the store.
fn refused(key: &str, reason: &str) -> StorageError {
    StorageError::Other(format!("refused key {key:?}: it has {reason}"))
}

/// Checks a key before it is joined to the store's directory.
fn check_key(key: &StoreKey) -> Result<(), StorageError> {
    match unsafe_key(key.as_str()) {
        Some(reason) => Err(refused(key.as_str(), reason)),
        None => Ok(()),
    }
}

/// Checks a prefix (the root, or components each followed by `/`).
fn check_prefix(prefix: &StorePrefix) -> Result<(), StorageError> {
    let inner = prefix.as_str().trim_end_matches('/');
    match unsafe_key(inner) {
        Some(reason) if !prefix.as_str().is_empty() => Err(refused(prefix.as_str(), reason)),
        _ => Ok(()),
    }
}

/// A directory of Zarr keys with atomic whole-value writes.
#[derive(Debug)]
pub(crate) struct LocalStore {
    fs: FilesystemStore,
    root: PathBuf,
    /// Whether each value reaches the disk before it is renamed into place.
    sync: bool,
}

impl LocalStore {
    pub(crate) fn new(root: PathBuf, sync: bool) -> Result<LocalStore, String> {
        let fs = FilesystemStore::new(&root).map_err(|e| e.to_string())?;
        Ok(LocalStore { fs, root, sync })
    }

    /// Writes `value` to a new temporary file beside `path` and renames it into place.
    fn replace(&self, path: &Path, value: &[u8]) -> std::io::Result<()> {
        let (temporary, mut file) = loop {
            let temporary = temporary_beside(path);
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&temporary)
            {
                Ok(file) => break (temporary, file),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        };
        let written = file
            .write_all(value)
            .and_then(|()| if self.sync { file.sync_all() } else { Ok(()) })
            .and_then(|()| std::fs::rename(&temporary, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        written
    }
}

impl ReadableStorageTraits for LocalStore {
    fn get_partial_many<'a>(
        &'a self,
        key: &StoreKey,
        byte_ranges: ByteRangeIterator<'a>,
    ) -> Result<MaybeBytesIterator<'a>, StorageError> {
        check_key(key)?;
        self.fs.get_partial_many(key, byte_ranges)
    }
    fn size_key(&self, key: &StoreKey) -> Result<Option<u64>, StorageError> {
        check_key(key)?;
        self.fs.size_key(key)
    }
    fn supports_get_partial(&self) -> bool {
        self.fs.supports_get_partial()
    }
}

impl ListableStorageTraits for LocalStore {
    fn list(&self) -> Result<StoreKeys, StorageError> {
        self.fs.list()
    }
    fn list_prefix(&self, prefix: &StorePrefix) -> Result<StoreKeys, StorageError> {
        check_prefix(prefix)?;
        self.fs.list_prefix(prefix)
    }
    fn list_dir(&self, prefix: &StorePrefix) -> Result<StoreKeysPrefixes, StorageError> {
        check_prefix(prefix)?;
        self.fs.list_dir(prefix)
    }
    fn size_prefix(&self, prefix: &StorePrefix) -> Result<u64, StorageError> {
        check_prefix(prefix)?;
        self.fs.size_prefix(prefix)
    }
}

impl WritableStorageTraits for LocalStore {
    fn set(&self, key: &StoreKey, value: Bytes) -> Result<(), StorageError> {
        check_key(key)?;
        let path = self.root.join(key.as_str());
        let write = || -> std::io::Result<()> {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            self.replace(&path, &value)
        };
        write().map_err(|e| StorageError::from(std::sync::Arc::new(e)))
    }
    fn set_partial_many(
        &self,
        key: &StoreKey,
        offset_values: OffsetBytesIterator,
    ) -> Result<(), StorageError> {
        // In-place partial writes (never used by chunkwise's sinks, which write whole chunks
        // or shards) go to the filesystem store directly.
        check_key(key)?;
        self.fs.set_partial_many(key, offset_values)
    }
    fn erase(&self, key: &StoreKey) -> Result<(), StorageError> {
        check_key(key)?;
        self.fs.erase(key)
    }
    fn erase_prefix(&self, prefix: &StorePrefix) -> Result<(), StorageError> {
        check_prefix(prefix)?;
        match prefix.as_str() {
            // The root: what it holds, not the directory itself, which may be a link the
            // user made to where the data lives (removing it would leave the old data
            // there and write the new data elsewhere).
            "" => erase_entries(&self.root).map_err(StorageError::from),
            _ => self.fs.erase_prefix(prefix),
        }
    }
    fn supports_set_partial(&self) -> bool {
        self.fs.supports_set_partial()
    }
}

/// Removes everything in `dir` (links as links, never followed); a missing `dir` holds
/// nothing.
fn erase_entries(dir: &Path) -> std::io::Result<()> {
    let mut entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    entries.try_for_each(|entry| remove_tree(&entry?.path()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporaries_of_dead_writers_are_stale_and_those_of_live_ones_not() {
        let own = temporary_beside(Path::new("a/c/0.1"));
        let own = own.file_name().unwrap().to_str().unwrap();
        assert!(
            own.starts_with(".0.1.") && own.ends_with(TEMPORARY_SUFFIX),
            "{own}"
        );
        assert!(!is_stale_temporary(own));
        // A pid above the kernel's limit (2^22) is never alive.
        assert!(is_stale_temporary(".0.1.4294967-3-0badcafe.chunkwise-tmp"));
        assert!(!is_stale_temporary("0.1"));
        assert!(!is_stale_temporary(".0.1.x-3-0.chunkwise-tmp"));
    }

    #[test]
    fn whole_values_replace_keys_through_a_temporary_file() {
        let root =
            std::env::temp_dir().join(format!("chunkwise-local-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for sync in [false, true] {
            let store = LocalStore::new(root.clone(), sync).unwrap();
            let key = StoreKey::new("a/c/0/1").unwrap();
            store.set(&key, Bytes::from(vec![1u8; 100])).unwrap();
            store.set(&key, Bytes::from(vec![2u8; 10])).unwrap();
            assert_eq!(store.get(&key).unwrap().unwrap().to_vec(), vec![2u8; 10]);
            let keys = store.list().unwrap();
            assert!(
                keys.iter().all(|k| !k.as_str().ends_with(TEMPORARY_SUFFIX)),
                "{keys:?}"
            );
        }
        let _ = std::fs::remove_dir_all(&root);
    }
}

//! The directory store: zarrs' filesystem store, with whole-value writes made atomic by a
//! temporary file and a rename.
//!
//! A killed process leaves every key with its old or its new content: the rename replaces
//! the key in one step, and data written before it is in the page cache whatever happens to
//! the process. Surviving a power loss as well needs the data on the disk before the rename:
//! [`Store::directory_synced`](super::Store::directory_synced) asks for that (one `fsync` per
//! chunk, measured at about a third of the write throughput on this project's machines).

use std::io::Write;
use std::path::PathBuf;

use zarrs::filesystem::FilesystemStore;
use zarrs::storage::byte_range::ByteRangeIterator;
use zarrs::storage::{
    Bytes, ListableStorageTraits, MaybeBytesIterator, OffsetBytesIterator, ReadableStorageTraits,
    StorageError, StoreKey, StoreKeys, StoreKeysPrefixes, StorePrefix, WritableStorageTraits,
};

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
}

impl ReadableStorageTraits for LocalStore {
    fn get_partial_many<'a>(
        &'a self,
        key: &StoreKey,
        byte_ranges: ByteRangeIterator<'a>,
    ) -> Result<MaybeBytesIterator<'a>, StorageError> {
        self.fs.get_partial_many(key, byte_ranges)
    }
    fn size_key(&self, key: &StoreKey) -> Result<Option<u64>, StorageError> {
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
        self.fs.list_prefix(prefix)
    }
    fn list_dir(&self, prefix: &StorePrefix) -> Result<StoreKeysPrefixes, StorageError> {
        self.fs.list_dir(prefix)
    }
    fn size_prefix(&self, prefix: &StorePrefix) -> Result<u64, StorageError> {
        self.fs.size_prefix(prefix)
    }
}

impl WritableStorageTraits for LocalStore {
    fn set(&self, key: &StoreKey, value: Bytes) -> Result<(), StorageError> {
        let path = self.root.join(key.as_str());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| StorageError::from(std::sync::Arc::new(e)))?;
        }
        let mut temporary = path.clone().into_os_string();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&temporary)?;
            file.write_all(&value)?;
            if self.sync {
                file.sync_all()?;
            }
            std::fs::rename(&temporary, &path)
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
        self.fs.set_partial_many(key, offset_values)
    }
    fn erase(&self, key: &StoreKey) -> Result<(), StorageError> {
        self.fs.erase(key)
    }
    fn erase_prefix(&self, prefix: &StorePrefix) -> Result<(), StorageError> {
        self.fs.erase_prefix(prefix)
    }
    fn supports_set_partial(&self) -> bool {
        self.fs.supports_set_partial()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                keys.iter().all(|k| !k.as_str().ends_with(".tmp")),
                "{keys:?}"
            );
        }
        let _ = std::fs::remove_dir_all(&root);
    }
}

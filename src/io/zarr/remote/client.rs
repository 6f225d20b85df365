//! The object storage clients behind a [`Store`](super::super::Store): Apache Arrow's
//! `object_store` (S3 and HTTP, with retries and backoff) through zarrs' adapter, run on
//! chunkwise's I/O runtime, and presented to zarrs as a synchronous store whose reads are
//! served from the [`Fetcher`]'s chunks when a task has fetched them ahead.

use std::sync::{Arc, OnceLock};

use futures::{StreamExt, TryStreamExt};
use tokio::runtime::Runtime;
use zarrs::storage::byte_range::{ByteRange, ByteRangeIterator};
use zarrs::storage::{
    Bytes, ListableStorageTraits, MaybeBytesIterator, OffsetBytesIterator, ReadableStorageTraits,
    StorageError, StoreKey, StoreKeys, StoreKeysPrefixes, StorePrefix, WritableStorageTraits,
};
use zarrs_object_store::AsyncObjectStore;
use zarrs_object_store::object_store::ObjectStore;
use zarrs_object_store::object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use zarrs_object_store::object_store::http::HttpBuilder;
use zarrs_object_store::object_store::path::Path;
use zarrs_object_store::object_store::prefix::PrefixStore;
use zarrs_object_store::object_store::{BackoffConfig, ClientOptions, RetryConfig};
use zarrs_storage::storage_adapter::async_to_sync::{
    AsyncToSyncBlockOn, AsyncToSyncStorageAdapter,
};
use zarrs_storage::{AsyncReadableStorageTraits, AsyncWritableStorageTraits};

use super::body::Body;
use super::fetch::Fetcher;
use super::literal_keys::LiteralKeys;
use super::options::RemoteOptions;
use super::url::{Scheme, StoreUrl};
use crate::error::{Error, Result, StorageError as CrateStorageError};
use crate::io::zarr::store::slices_of;

/// The async store every client is seen through.
pub(crate) type AsyncStore = AsyncObjectStore<Arc<dyn ObjectStore>>;

/// The I/O runtime: a small multi-threaded tokio runtime, shared by every object store of
/// the process and started on first use. Its threads wait on the network (and drive the
/// connections); chunks are decoded on the compute threads, so the two never compete.
pub(crate) fn io_runtime() -> Result<&'static Runtime> {
    static RUNTIME: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("chunkwise-io")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| {
            Error::Storage(CrateStorageError::Storage {
                path: "object storage".into(),
                message: format!("cannot start the I/O runtime: {e}"),
            })
        })
}

/// Runs futures of the clients from a synchronous caller on the I/O runtime's reactor:
/// the caller's thread polls the future, the runtime's threads drive its connections.
/// Unlike `Runtime::block_on`, this works (blocking the thread) also when the caller is
/// itself inside some async runtime.
#[derive(Clone, Copy)]
pub(crate) struct IoBlockOn(pub(crate) &'static Runtime);

impl AsyncToSyncBlockOn for IoBlockOn {
    fn block_on<F: core::future::Future>(&self, future: F) -> F::Output {
        let _context = self.0.enter();
        futures::executor::block_on(future)
    }
}

/// The environment variables of the credential sources that the AWS tools find by
/// themselves where no keys are given: a web identity (EKS's service accounts), a
/// container's credentials (ECS tasks, EKS Pod Identity). Without them, the client asks
/// the instance metadata service.
const AMBIENT_CREDENTIAL_VARS: [&str; 7] = [
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_ENDPOINT_URL_STS",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
];

/// `builder` with the credential sources of [`AMBIENT_CREDENTIAL_VARS`] that the
/// environment sets.
fn with_ambient_credentials(mut builder: AmazonS3Builder) -> AmazonS3Builder {
    for name in AMBIENT_CREDENTIAL_VARS {
        if let (Ok(value), Ok(key)) = (
            std::env::var(name),
            name.to_ascii_lowercase().parse::<AmazonS3ConfigKey>(),
        ) {
            builder = builder.with_config(key, value);
        }
    }
    builder
}

/// The client `url` names, configured by `options`, below the URL's path.
fn client(url: &StoreUrl, options: &RemoteOptions) -> Result<Arc<dyn ObjectStore>> {
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: options.retries.initial_backoff,
            max_backoff: options.retries.max_backoff,
            base: 2.0,
        },
        max_retries: options.retries.max_retries,
        retry_timeout: options.retries.timeout,
    };
    let bad = |e: zarrs_object_store::object_store::Error| {
        Error::Storage(CrateStorageError::BadUrl {
            url: url.text.clone(),
            reason: e.to_string(),
        })
    };
    let store: Arc<dyn ObjectStore> = match url.scheme {
        Scheme::S3 => {
            let mut builder = AmazonS3Builder::new()
                .with_bucket_name(&url.authority)
                .with_region(options.region.as_deref().unwrap_or("us-east-1"))
                .with_retry(retry)
                .with_skip_signature(options.anonymous);
            if let Some(endpoint) = &options.endpoint {
                // A local server (MinIO, moto, Ceph) speaks plain HTTP and is addressed by
                // path (`endpoint/bucket/key`), as the AWS tools address custom endpoints.
                builder = builder
                    .with_endpoint(endpoint)
                    .with_allow_http(endpoint.starts_with("http://"));
            }
            if let Some(id) = &options.access_key_id {
                builder = builder.with_access_key_id(id);
            }
            if let Some(secret) = &options.secret_access_key {
                builder = builder.with_secret_access_key(secret);
            }
            if let Some(token) = &options.session_token {
                builder = builder.with_token(token);
            }
            if options.access_key_id.is_none() && !options.anonymous {
                builder = with_ambient_credentials(builder);
            }
            Arc::new(builder.build().map_err(bad)?)
        }
        Scheme::Http => {
            let client = ClientOptions::new().with_allow_http(url.authority.starts_with("http://"));
            let builder = HttpBuilder::new()
                .with_url(&url.authority)
                .with_client_options(client)
                .with_retry(retry);
            Arc::new(builder.build().map_err(bad)?)
        }
    };
    // The URL's path names the keys as stored (`~user/données.zarr`), as the keys below
    // do: an s3:// path is the key itself, an https:// path may be percent-encoded.
    let store = match url.prefix.is_empty() {
        true => store,
        false => {
            let prefix = match url.scheme {
                Scheme::Http => Path::from_url_path(&url.prefix),
                _ => Path::parse(&url.prefix),
            };
            let prefix = prefix.map_err(|e| bad(e.into()))?;
            Arc::new(PrefixStore::new(store, prefix))
        }
    };
    Ok(Arc::new(LiteralKeys(store)))
}

/// A Zarr store on object storage, as zarrs' synchronous storage traits see it.
pub(crate) struct RemoteStorage {
    sync: AsyncToSyncStorageAdapter<AsyncStore, IoBlockOn>,
    /// The same client, for whole-value reads (one GET, where the adapter would ask for
    /// the size first).
    client: Arc<AsyncStore>,
    block_on: IoBlockOn,
    /// Chunks fetched ahead by the tasks that read them.
    pub(crate) fetcher: Fetcher,
    /// The object store below zarrs' adapter (for erasing a prefix in batches).
    objects: Arc<dyn ObjectStore>,
    /// Why the store refuses writes (HTTP), if it does. Such a store cannot list either
    /// (a web server lists nothing that a client can rely on).
    read_only: Option<String>,
    url: String,
}

impl std::fmt::Debug for RemoteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RemoteStorage({})", self.url)
    }
}

impl RemoteStorage {
    /// The store at `url`.
    pub(crate) fn open(url: &StoreUrl, options: &RemoteOptions) -> Result<RemoteStorage> {
        let runtime = io_runtime()?;
        let raw = client(url, options)?;
        let client = Arc::new(AsyncObjectStore::new(raw.clone()));
        let block_on = IoBlockOn(runtime);
        let read_only = (url.scheme == Scheme::Http)
            .then(|| "HTTP stores are read-only (write to s3:// or a directory)".to_string());
        Ok(RemoteStorage {
            sync: AsyncToSyncStorageAdapter::new(client.clone(), block_on),
            fetcher: Fetcher::new(raw.clone(), runtime, options.request_limit()),
            objects: raw,
            client,
            block_on,
            read_only,
            url: url.text.clone(),
        })
    }

    /// Why writes are refused, if they are.
    pub(crate) fn read_only(&self) -> Option<&str> {
        self.read_only.as_deref()
    }

    /// An error, at once, for a listing an HTTP store cannot give (rather than a request
    /// that a web server refuses, retried as a server error).
    fn refuse_listing(&self) -> std::result::Result<(), StorageError> {
        match &self.read_only {
            Some(_) => Err(StorageError::Other(format!(
                "{}: HTTP stores cannot list (groups there are opened through their \
                 consolidated metadata)",
                self.url
            ))),
            None => Ok(()),
        }
    }

    fn refuse_writes(&self) -> std::result::Result<(), StorageError> {
        match &self.read_only {
            Some(reason) => Err(StorageError::Other(format!("{}: {reason}", self.url))),
            None => Ok(()),
        }
    }
}

/// `error` of a request on `key`, naming the key: an I/O error (the value could not be
/// had), which readers tell apart from a value that does not decode.
pub(crate) fn keyed(key: &StoreKey, error: impl std::fmt::Display) -> StorageError {
    StorageError::from(Arc::new(std::io::Error::other(format!("{key}: {error}"))))
}

impl ReadableStorageTraits for RemoteStorage {
    fn get_partial_many<'a>(
        &'a self,
        key: &StoreKey,
        byte_ranges: ByteRangeIterator<'a>,
    ) -> std::result::Result<MaybeBytesIterator<'a>, StorageError> {
        let ranges: Vec<ByteRange> = byte_ranges.collect();
        let value = match self.fetcher.fetched(key) {
            Some(fetched) => fetched?,
            None if ranges
                .iter()
                .all(|r| matches!(r, ByteRange::FromStart(0, None))) =>
            {
                self.block_on
                    .block_on(self.client.get(key))
                    .map_err(|e| keyed(key, e))?
                    .map(|value| Body::new(vec![value]))
            }
            None => {
                return self
                    .sync
                    .get_partial_many(key, Box::new(ranges.into_iter()))
                    .map_err(|e| keyed(key, e));
            }
        };
        match value {
            Some(value) => Ok(Some(Box::new(
                slices_of(value.len(), ranges, |r| value.slice(r))
                    .map_err(|e| keyed(key, e))?
                    .into_iter()
                    .map(Ok),
            ))),
            None => Ok(None),
        }
    }

    fn size_key(&self, key: &StoreKey) -> std::result::Result<Option<u64>, StorageError> {
        match self.fetcher.fetched(key) {
            Some(fetched) => Ok(fetched?.map(|v| v.len())),
            None => self.sync.size_key(key).map_err(|e| keyed(key, e)),
        }
    }

    fn supports_get_partial(&self) -> bool {
        true
    }
}

impl ListableStorageTraits for RemoteStorage {
    fn list(&self) -> std::result::Result<StoreKeys, StorageError> {
        self.refuse_listing()?;
        self.sync.list()
    }
    fn list_prefix(&self, prefix: &StorePrefix) -> std::result::Result<StoreKeys, StorageError> {
        self.refuse_listing()?;
        self.sync.list_prefix(prefix)
    }
    fn list_dir(
        &self,
        prefix: &StorePrefix,
    ) -> std::result::Result<StoreKeysPrefixes, StorageError> {
        self.refuse_listing()?;
        self.sync.list_dir(prefix)
    }
    fn size_prefix(&self, prefix: &StorePrefix) -> std::result::Result<u64, StorageError> {
        self.refuse_listing()?;
        self.sync.size_prefix(prefix)
    }
}

/// Whole values are written by one PUT each, which S3 makes atomic: a reader sees the old
/// object or the new one, never a part.
impl WritableStorageTraits for RemoteStorage {
    fn set(&self, key: &StoreKey, value: Bytes) -> std::result::Result<(), StorageError> {
        self.refuse_writes()?;
        self.block_on
            .block_on(self.client.set(key, value))
            .map_err(|e| keyed(key, e))
    }
    fn set_partial_many(
        &self,
        key: &StoreKey,
        offset_values: OffsetBytesIterator,
    ) -> std::result::Result<(), StorageError> {
        self.refuse_writes()?;
        self.sync
            .set_partial_many(key, offset_values)
            .map_err(|e| keyed(key, e))
    }
    fn erase(&self, key: &StoreKey) -> std::result::Result<(), StorageError> {
        self.refuse_writes()?;
        self.sync.erase(key).map_err(|e| keyed(key, e))
    }
    /// Lists the keys under `prefix` and deletes them in batches. (zarrs' adapter passes
    /// the listed paths, spelled as stored, back as paths to delete, which
    /// [`LiteralKeys`] would decode a second time: a node `x%41` would erase `xA`.)
    fn erase_prefix(&self, prefix: &StorePrefix) -> std::result::Result<(), StorageError> {
        self.refuse_writes()?;
        let keys = self.sync.list_prefix(prefix)?;
        let paths = keys
            .iter()
            .map(|key| Ok(Path::from(key.as_str())))
            .collect::<Vec<_>>();
        let deleted = self
            .objects
            .delete_stream(futures::stream::iter(paths).boxed());
        self.block_on
            .block_on(deleted.try_collect::<Vec<_>>())
            .map(drop)
            .map_err(|e| StorageError::Other(format!("{}{}: {e}", self.url, prefix.as_str())))
    }
    fn supports_set_partial(&self) -> bool {
        false
    }
}

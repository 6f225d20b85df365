//! Zarr on object storage: store URLs (`s3://bucket/path`, `https://host/path`) and how to
//! reach them, and, with the `object-store` cargo feature, the clients and the concurrent
//! chunk fetches that keep many requests in flight while the compute threads decode.

#[cfg(feature = "object-store")]
mod body;
#[cfg(feature = "object-store")]
mod client;
#[cfg(feature = "object-store")]
mod fetch;
#[cfg(feature = "object-store")]
mod literal_keys;
mod options;
mod profile;
mod url;

#[cfg(feature = "object-store")]
pub(crate) use client::RemoteStorage;
#[cfg(feature = "object-store")]
pub(crate) use fetch::Lease;
pub use options::{RemoteOptions, Retries};
pub(crate) use url::{StoreUrl, is_url};

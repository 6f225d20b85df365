//! Object keys spelled as the Zarr keys they store.
//!
//! zarrs (and the fetcher) name objects with `object_store`'s `Path::from`, which
//! percent-encodes characters outside a safe set: the array `température` would be stored
//! under the key `temp%C3%A9rature`, and `q[0]` under `q%5B0%5D`. zarr-python, fsspec and
//! the AWS tools store and look up the key as it is spelled, so neither side would find
//! the other's nodes (and the HTTP client encoded the `%` once more). [`LiteralKeys`] sits
//! between them and the S3 or HTTP client and turns each path back into the key it encodes;
//! listings already give keys as stored. A listed location must therefore not be passed
//! back as a path (it would be decoded twice): `RemoteStorage::erase_prefix` deletes the
//! listed keys by their encoded paths.

use std::fmt;
use std::ops::Range;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use zarrs::storage::Bytes;
use zarrs_object_store::object_store::path::Path;
use zarrs_object_store::object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

/// An object store whose paths, encoded by `Path::from`, name the keys they encode.
#[derive(Debug)]
pub(crate) struct LiteralKeys<T>(pub(crate) T);

/// The key that `path` (made by `Path::from`) encodes: the path itself where decoding
/// gives no valid path (a control character).
pub(crate) fn literal(path: &Path) -> Path {
    Path::from_url_path(path.as_ref()).unwrap_or_else(|_| path.clone())
}

impl<T: fmt::Display> fmt::Display for LiteralKeys<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[async_trait]
impl<T: ObjectStore> ObjectStore for LiteralKeys<T> {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.0.put_opts(&literal(location), payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.0.put_multipart_opts(&literal(location), opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.0.get_opts(&literal(location), options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.0.get_ranges(&literal(location), ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let literals = locations.map(|location| location.map(|l| literal(&l)));
        self.0.delete_stream(literals.boxed())
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.0.list(prefix.map(literal).as_ref())
    }

    /// `offset` is a location as listed (spelled as stored): it is passed as it is.
    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.0
            .list_with_offset(prefix.map(literal).as_ref(), offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.0
            .list_with_delimiter(prefix.map(literal).as_ref())
            .await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.0
            .copy_opts(&literal(from), &literal(to), options)
            .await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.0
            .rename_opts(&literal(from), &literal(to), options)
            .await
    }
}

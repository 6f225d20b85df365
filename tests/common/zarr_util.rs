//! Helpers of the Zarr tests: fresh temporary store directories, value formulas that the
//! Python interop scripts (tests/interop/zarr_check.py) evaluate independently, reading an
//! array back, listing a store's files and counting its reads and writes.
//!
//! The formulas give the element at C-order flat index `i` of an array; each is exact in
//! IEEE arithmetic (one correctly rounded division and subtraction), so Rust and NumPy agree
//! bit for bit.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::ffi::OsStr;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chunkwise::io::zarr::{self, IntoStore, Store};
use ndarray::{ArrayBase, ArrayD, ArrayViewD, Data, Dimension, IxDyn};
use zarrs::filesystem::FilesystemStore;
use zarrs::storage::storage_adapter::performance_metrics::PerformanceMetricsStorageAdapter;

/// A fresh directory under the system's temporary directory, removed on drop (kept, with
/// its path printed, when the test fails and `CHUNKWISE_KEEP_STORES` is set).
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "chunkwise-zarr-{name}-{}-{n}-{nanos}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the temporary directory");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() && std::env::var_os("CHUNKWISE_KEEP_STORES").is_some() {
            eprintln!("test failed: store kept at {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// An element type with a value formula (mirrored in tests/interop/zarr_check.py).
pub trait Formula: chunkwise::Element + PartialEq + Debug {
    /// The value at C-order flat index `i`.
    fn at(i: usize) -> Self;
    /// Equality where NaN equals NaN.
    fn same(a: Self, b: Self) -> bool {
        a == b
    }
}

impl Formula for f64 {
    fn at(i: usize) -> f64 {
        ((i * 37) % 101) as f64 / 7.0 - 3.0
    }
    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }
}

impl Formula for f32 {
    fn at(i: usize) -> f32 {
        ((i * 37) % 101) as f32 / 7.0f32 - 3.0f32
    }
    fn same(a: f32, b: f32) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }
}

impl Formula for i32 {
    fn at(i: usize) -> i32 {
        ((i * 7919) % 2001) as i32 - 1000
    }
}

impl Formula for u8 {
    fn at(i: usize) -> u8 {
        ((i * 13) % 256) as u8
    }
}

impl Formula for bool {
    fn at(i: usize) -> bool {
        i.is_multiple_of(3) || i.is_multiple_of(7)
    }
}

/// The formula's values over `shape`.
pub fn formula<T: Formula>(shape: &[usize]) -> ArrayD<T> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(T::at).collect()).unwrap()
}

const SETUP: &str = "python3 -m venv target/zarr-venv && target/zarr-venv/bin/pip install 'zarr==3.1.*' numpy xarray 'moto[server]==5.*' s3fs";

/// The Python with zarr-python: `$CHUNKWISE_ZARR_PYTHON`, else `target/zarr-venv/bin/python`;
/// `None` (after saying so) to skip, unless `CHUNKWISE_REQUIRE_INTEROP=1`: then it panics.
pub fn python() -> Option<PathBuf> {
    let from_env = std::env::var_os("CHUNKWISE_ZARR_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/zarr-venv/bin/python");
    if let Some(p) = from_env.iter().chain([&venv]).find(|p| p.is_file()) {
        return Some(p.clone());
    }
    if require_interop() {
        panic!(
            "CHUNKWISE_REQUIRE_INTEROP=1 but zarr-python was not found (CHUNKWISE_ZARR_PYTHON={:?}, {} missing); set up with: {SETUP}",
            from_env,
            venv.display()
        );
    }
    println!("skipped: zarr-python not found (set up with: {SETUP})");
    None
}

/// Runs the helper script `name` of tests/interop with `args`.
pub fn interop_script(
    python: &Path,
    name: &str,
    args: &[impl AsRef<OsStr>],
) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(name);
    std::process::Command::new(python)
        .arg(&script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()))
}

/// Whether the interoperability tests must run (`CHUNKWISE_REQUIRE_INTEROP=1`).
pub fn require_interop() -> bool {
    std::env::var("CHUNKWISE_REQUIRE_INTEROP").as_deref() == Ok("1")
}

/// Whether two arrays have the same shape and the same elements (NaN equal to NaN).
pub fn same<T: Formula>(a: &ArrayViewD<'_, T>, b: &ArrayViewD<'_, T>) -> bool {
    a.shape() == b.shape() && a.iter().zip(b.iter()).all(|(&x, &y)| T::same(x, y))
}

/// Asserts [`same`], showing both arrays when they differ.
#[track_caller]
pub fn assert_same<T, S, D>(found: &ArrayD<T>, expected: &ArrayBase<S, D>, what: &str)
where
    T: Formula,
    S: Data<Elem = T>,
    D: Dimension,
{
    let expected = expected.view().into_dyn();
    if !same(&found.view(), &expected) {
        let first = found
            .indexed_iter()
            .zip(expected.iter())
            .find(|((_, x), y)| !T::same(**x, **y))
            .map(|((i, x), y)| {
                format!(
                    "first difference at {:?}: found {x:?}, expected {y:?}",
                    i.slice()
                )
            });
        panic!(
            "{what}: values differ (shapes {:?} and {:?}); {}\nfound:\n{found:?}\nexpected:\n{expected:?}",
            found.shape(),
            expected.shape(),
            first.unwrap_or_default()
        );
    }
}

/// The element at row-major index `index` of `shape` as a flat index.
pub fn flat(index: &[usize], shape: &[usize]) -> usize {
    index.iter().zip(shape).fold(0, |acc, (&i, &n)| acc * n + i)
}

/// Dimension names used for an array of `ndim` axes.
pub fn dim_names(ndim: usize) -> Vec<String> {
    ["z", "y", "x"][3 - ndim..]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// The relative path of every file under `dir` (sorted, `/`-separated).
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if let Ok(rel) = p.strip_prefix(root) {
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push(parts.join("/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The files of the array `name` in the store `dir` that are not metadata.
pub fn chunk_files(dir: &Path, name: &str) -> Vec<String> {
    files_under(&dir.join(name))
        .into_iter()
        .filter(|f| !matches!(f.as_str(), "zarr.json" | ".zarray" | ".zattrs" | ".zgroup"))
        .collect()
}

/// The array `name` of `store` opened as `T`.
#[track_caller]
pub fn open_typed<T: chunkwise::Element>(store: impl IntoStore, name: &str) -> chunkwise::Array<T> {
    zarr::open(store, name)
        .unwrap_or_else(|e| panic!("open {name}: {e}"))
        .into_typed::<T>()
        .unwrap()
}

/// The array `name` of `store` opened as `T` and computed.
#[track_caller]
pub fn read_back<T: chunkwise::Element>(store: impl IntoStore, name: &str) -> ArrayD<T> {
    open_typed::<T>(store, name).compute().unwrap()
}

/// A store over `dir` that counts its reads and writes.
pub fn counted(
    dir: &Path,
) -> (
    Store,
    Arc<PerformanceMetricsStorageAdapter<FilesystemStore>>,
) {
    let fs = Arc::new(FilesystemStore::new(dir).unwrap());
    let metrics = Arc::new(PerformanceMetricsStorageAdapter::new(fs));
    (Store::from_storage(metrics.clone()), metrics)
}

/// Asserts that `err` is a corrupt chunk whose key ends with `key`.
#[track_caller]
pub fn assert_corrupt_chunk(err: &chunkwise::Error, key: &str, label: &str) {
    match err {
        chunkwise::Error::Storage(chunkwise::StorageError::CorruptChunk { key: found, .. }) => {
            assert!(
                found.ends_with(key),
                "{label}: error names {found}, not {key}"
            )
        }
        other => panic!("{label}: expected CorruptChunk naming {key}, got {other:?}"),
    }
}

/// One honest zstd frame (level 1) of `bytes`.
pub fn zstd_frame(bytes: &[u8]) -> Vec<u8> {
    // SAFETY: the destination has zstd's bound as capacity, the source is `bytes`.
    unsafe {
        let bound = zstd_sys::ZSTD_compressBound(bytes.len());
        let mut out = Vec::<u8>::with_capacity(bound);
        let n = zstd_sys::ZSTD_compress(
            out.as_mut_ptr().cast(),
            bound,
            bytes.as_ptr().cast(),
            bytes.len(),
            1,
        );
        assert_eq!(zstd_sys::ZSTD_isError(n), 0);
        out.set_len(n);
        out
    }
}

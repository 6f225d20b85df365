//! Writes never reach outside their node and never lose data: unsafe paths and chunk keys
//! are refused before anything is touched, temporaries never follow symlinks, concurrent
//! writers publish whole chunks, and a write killed at any moment leaves the old array or
//! the new one, whole (or one that `Resume` completes bit-exactly).
//!
//! The crash and concurrency tests run writers in child processes: this test binary run
//! again with `CHUNKWISE_SAFETY_CHILD` set, so that they can be killed with SIGKILL.
#![allow(missing_docs)]

mod common;
#[path = "common/zarr_util.rs"]
mod zarr_util;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chunkwise::io::zarr::{
    self, Compression, Dataset, GroupOptions, Store, WriteMode, WriteOptions, ZarrVersion,
};
use chunkwise::{Array, BuildError, Config, Error, StorageError};
use common::Lcg;
use ndarray::{ArrayD, IxDyn};
use zarr_util::TempDir;

/// The element at `index` of the arrays the writers produce (`salt` tells writers apart).
fn value(index: &[usize], salt: f64) -> f64 {
    (index[0] * 10_007 + index[1]) as f64 * 0.5 + salt
}

/// A lazy array of `value`s whose tiles each take `delay_ms` to make, so that a child's
/// write lasts long enough to be killed part-way.
fn slow_array(shape: &[usize], chunks: [usize; 2], salt: f64, delay_ms: u64) -> Array<f64> {
    chunkwise::from_fn(shape, chunks, move |_, ranges| {
        std::thread::sleep(Duration::from_millis(delay_ms));
        let shape: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
        ArrayD::from_shape_fn(IxDyn(&shape), |i| {
            value(&[i[0] + ranges[0].start, i[1] + ranges[1].start], salt)
        })
    })
    .unwrap()
}

fn expected(shape: &[usize], origin: [usize; 2], salt: f64) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(shape), |i| {
        value(&[i[0] + origin[0], i[1] + origin[1]], salt)
    })
}

fn read(store: impl zarr::IntoStore, path: &str) -> chunkwise::Result<ArrayD<f64>> {
    zarr::open(store, path)?.into_typed::<f64>()?.compute()
}

const SHAPE: [usize; 2] = [400, 300];
const CHUNKS: [usize; 2] = [50, 50];
const OLD: f64 = -1.0e6;

fn options(mode: WriteMode) -> WriteOptions {
    WriteOptions::default()
        .chunks(CHUNKS)
        .mode(mode)
        .compression(Compression::Zstd { level: 1 })
        .config(Config::default().threads(2))
}

/// Files beside the array's node, inside and outside the store, that no write may touch.
struct Sentinels {
    files: Vec<PathBuf>,
}

impl Sentinels {
    fn plant(dir: &TempDir) -> Sentinels {
        let files = vec![
            dir.join("victim/precious.txt"),
            dir.join("store/sentinel.txt"),
            dir.join("store/sibling/zarr.json"),
        ];
        for f in &files {
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, f.display().to_string()).unwrap();
        }
        Sentinels { files }
    }

    fn check(&self) {
        for f in &self.files {
            assert_eq!(
                std::fs::read_to_string(f).unwrap_or_default(),
                f.display().to_string(),
                "{} changed",
                f.display()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// The child process: runs one write, as `CHUNKWISE_SAFETY_CHILD=<job>` says.

/// The entry point of the child processes (does nothing in the normal test run).
#[test]
fn child_process_entry() {
    let Ok(job) = std::env::var("CHUNKWISE_SAFETY_CHILD") else {
        return;
    };
    let store = PathBuf::from(std::env::var("CHUNKWISE_SAFETY_STORE").unwrap());
    let salt: f64 = std::env::var("CHUNKWISE_SAFETY_SALT").map_or(0.0, |s| s.parse().unwrap());
    let repeat: usize = std::env::var("CHUNKWISE_SAFETY_REPEAT").map_or(1, |s| s.parse().unwrap());
    for _ in 0..repeat {
        match job.as_str() {
            "create" | "overwrite" | "resume" => {
                let mode = match job.as_str() {
                    "create" => WriteMode::Create,
                    "overwrite" => WriteMode::Overwrite,
                    _ => WriteMode::Resume,
                };
                slow_array(&SHAPE, CHUNKS, salt, 10)
                    .to_zarr(&store, "a", &options(mode))
                    .unwrap();
            }
            "region" => {
                slow_array(&[250, 220], [60, 70], salt, 10)
                    .to_zarr_region(&store, "a", &[70..320, 40..260], &Config::default())
                    .unwrap();
            }
            "append" => {
                slow_array(&[230, SHAPE[1]], [60, 70], salt, 10)
                    .append_zarr(&store, "a", 0, &Config::default())
                    .unwrap();
            }
            "group_overwrite" => {
                let dataset = Dataset::new()
                    .array(
                        "a",
                        &slow_array(&SHAPE, CHUNKS, salt, 10),
                        options(WriteMode::Create),
                    )
                    .array(
                        "b",
                        &slow_array(&SHAPE, CHUNKS, salt + 1.0, 10),
                        options(WriteMode::Create),
                    )
                    .config(Config::default().threads(2));
                let replace = GroupOptions::default().mode(WriteMode::Overwrite);
                dataset.to_zarr(&store, "g", &replace).unwrap();
            }
            "whole" => {
                chunkwise::full(&[1000, 1000], salt, [500, 500])
                    .unwrap()
                    .to_zarr_region(&store, "a", &[0..1000, 0..1000], &Config::default())
                    .unwrap();
            }
            other => panic!("unknown child job {other}"),
        }
    }
}

fn spawn(job: &str, store: &Path, salt: f64, repeat: usize) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CHUNKWISE_SAFETY_CHILD", job)
        .env("CHUNKWISE_SAFETY_STORE", store)
        .env("CHUNKWISE_SAFETY_SALT", salt.to_string())
        .env("CHUNKWISE_SAFETY_REPEAT", repeat.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Runs `job` in a child and kills it with SIGKILL after `after` (if it still runs).
fn run_and_kill(job: &str, store: &Path, salt: f64, after: Duration) {
    let mut child = spawn(job, store, salt, 1);
    std::thread::sleep(after);
    let _ = child.kill();
    let _ = child.wait();
}

/// The stored array's chunk files and staging directories must not include temporaries
/// once a write has completed.
fn assert_no_leftovers(store: &Path) {
    assert_leftovers(store, true);
}

/// No staging directory is left, and nothing but hidden temporaries of killed writers.
fn assert_no_leftovers_but_temporaries(store: &Path) {
    assert_leftovers(store, false);
}

fn assert_leftovers(store: &Path, temporaries_too: bool) {
    let mut stack = vec![store.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let temporary = name.starts_with('.') && name.ends_with(".chunkwise-tmp");
            let left_over = name.contains("chunkwise-staging") || (temporaries_too && temporary);
            assert!(!left_over, "left over: {}", entry.path().display());
            assert!(
                temporary || !name.starts_with('.') || name.starts_with(".z"),
                "unknown hidden file: {}",
                entry.path().display()
            );
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Paths and keys.

#[test]
fn unsafe_node_paths_are_refused_before_anything_is_written_or_erased() {
    let dir = TempDir::new("unsafe-paths");
    let sentinels = Sentinels::plant(&dir);
    let store = dir.join("store");
    let x = chunkwise::full(&[4, 4], 3.0f64, [2, 2]).unwrap();
    x.to_zarr(&store, "x", &WriteOptions::default()).unwrap();
    let bad = [
        "../victim",
        ".",
        "..",
        "x/.",
        "x/..",
        "./x",
        "x/../x",
        "a//b",
        "x/./y",
        "...",
        "a\\b",
    ];
    for path in bad {
        for mode in [WriteMode::Create, WriteMode::Overwrite, WriteMode::Resume] {
            let err = x
                .to_zarr(&store, path, &WriteOptions::default().mode(mode))
                .unwrap_err();
            assert!(
                matches!(err, Error::Storage(StorageError::UnsafePath { .. })),
                "{path:?} {mode:?}: {err}"
            );
        }
        let region = x.to_zarr_region(&store, path, &[0..4, 0..4], &Config::default());
        let append = x.append_zarr(&store, path, 0, &Config::default());
        let opened = zarr::open(&store, path).map(|_| ());
        let group = zarr::open_group(&store, path).map(|_| ());
        for (what, result) in [
            ("region", region.map(|_| ())),
            ("append", append.map(|_| ())),
            ("open", opened),
            ("open_group", group),
        ] {
            assert!(
                matches!(result, Err(Error::Storage(StorageError::UnsafePath { .. }))),
                "{what} {path:?}: {result:?}"
            );
        }
        sentinels.check();
        assert_eq!(read(&store, "x").unwrap(), x.compute().unwrap());
    }
}

/// A node named as a metadata key (`g/zarr.json`, `g/.zarray`) would make its group
/// unreadable, and one named as chunkwise's hidden entries would not be listed: both are
/// refused, as arrays and as groups, anywhere in the path, and nothing is written.
#[test]
fn nodes_named_as_metadata_keys_or_hidden_entries_are_refused() {
    for version in [ZarrVersion::V2, ZarrVersion::V3] {
        let dir = TempDir::new("reserved-names");
        let store = dir.join("store");
        let x = chunkwise::full(&[4], 1.0f64, [4]).unwrap();
        let group = GroupOptions::default().version(version);
        zarr::create_group(&store, "g", &group).unwrap();
        let reserved = [
            "g/zarr.json",
            "g/.zarray",
            "g/.zgroup",
            "g/.zattrs",
            "g/.zmetadata",
            "g/.zarray/x",
            ".chunkwise-scratch/x",
            "g/.chunkwise-append.json",
            "g/.x.chunkwise-staging-host-1-0",
        ];
        for path in reserved {
            let options = WriteOptions::default().version(version);
            let err = x.to_zarr(&store, path, &options).unwrap_err();
            assert!(
                matches!(err, Error::Storage(StorageError::UnsafePath { .. })),
                "{path}: {err}"
            );
            let err = zarr::create_group(&store, path, &group).unwrap_err();
            assert!(
                matches!(err, Error::Storage(StorageError::UnsafePath { .. })),
                "{path}: {err}"
            );
        }
        let g = zarr::open_group(&store, "g").unwrap();
        assert!(
            g.arrays().is_empty() && g.groups().is_empty(),
            "{version:?}"
        );
        // Nothing but the group's own metadata is in it.
        for entry in std::fs::read_dir(store.join("g")).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert!(
                [".zgroup", ".zattrs", "zarr.json"].contains(&name.as_str()),
                "{version:?}: {name} written in g"
            );
        }
        // Other names with a dot stay allowed, as Zarr allows them.
        x.to_zarr(
            &store,
            "g/.hidden",
            &WriteOptions::default().version(version),
        )
        .unwrap();
    }
}

/// A fresh directory with sentinels, and a store in it holding a 4 x 4 array `a` of ones
/// in chunks of `chunks`.
fn ones_in_a_store(name: &str, chunks: [usize; 2]) -> (TempDir, Sentinels, PathBuf) {
    let dir = TempDir::new(name);
    let sentinels = Sentinels::plant(&dir);
    let store = dir.join("store");
    chunkwise::full(&[4, 4], 1.0f64, chunks)
        .unwrap()
        .to_zarr(&store, "a", &WriteOptions::default().chunks(chunks))
        .unwrap();
    (dir, sentinels, store)
}

#[test]
fn a_symlink_at_a_temporary_name_is_never_followed() {
    let (dir, sentinels, store) = ones_in_a_store("symlink-tmp", [4, 4]);
    // The temporary name that writes used before, and any name of ours an attacker could
    // plant: the write must neither write through nor publish the link.
    let target = dir.join("victim/precious.txt");
    let chunk = store.join("a/c/0/0");
    std::os::unix::fs::symlink(&target, store.join("a/c/0/0.tmp")).unwrap();
    let twos = chunkwise::full(&[4, 4], 2.0f64, [2, 2]).unwrap();
    twos.to_zarr_region(&store, "a", &[0..4, 0..4], &Config::default())
        .unwrap();
    sentinels.check();
    let meta = std::fs::symlink_metadata(&chunk).unwrap();
    assert!(meta.file_type().is_file(), "the chunk is a regular file");
    assert_eq!(read(&store, "a").unwrap(), twos.compute().unwrap());
}

#[test]
fn chunk_keys_that_lead_outside_the_node_are_refused() {
    let (dir, sentinels, store) = ones_in_a_store("key-escape", [2, 2]);
    let meta_path = store.join("a/zarr.json");
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    meta["chunk_key_encoding"] = serde_json::json!({
        "name": "zarrs.default_suffix",
        "configuration": {"separator": "/", "suffix": "/../../../../escaped"}
    });
    std::fs::write(&meta_path, meta.to_string()).unwrap();
    // No chunk stored yet (all fill value), so `a/c/0/0/../../../..` can resolve.
    std::fs::remove_dir_all(store.join("a/c")).unwrap();
    let listing = |p: &Path| {
        let mut names: Vec<_> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    };
    let (before_dir, before_store) = (listing(dir.path()), listing(&store));
    let result = chunkwise::full(&[2, 2], 5.0f64, [2, 2])
        .unwrap()
        .to_zarr_region(&store, "a", &[0..2, 0..2], &Config::default());
    assert!(
        matches!(result, Err(Error::Storage(StorageError::UnsafePath { .. }))),
        "{result:?}"
    );
    // Reading through such keys is refused too (it would read outside the store).
    assert!(read(&store, "a").is_err());
    assert_eq!(listing(dir.path()), before_dir);
    assert_eq!(listing(&store), before_store);
    assert!(!dir.join("escaped").exists() && !store.join("escaped").exists());
    sentinels.check();
}

// ---------------------------------------------------------------------------------------
// Overwrite, append and resume.

/// A 6 x 6 array whose user closure fails on one of its four tiles.
fn failing_on_one_tile() -> Array<f64> {
    chunkwise::from_fn(&[6, 6], [3, 3], |block, ranges| {
        assert!(block != [1, 1], "the user's closure fails on one tile");
        let shape: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
        ArrayD::from_elem(IxDyn(&shape), 1.0f64)
    })
    .unwrap()
}

#[test]
fn a_failed_overwrite_keeps_the_old_array_whole() {
    let dir = TempDir::new("failed-overwrite");
    let store = dir.join("store");
    let old = chunkwise::full(&[6, 6], 7.0f64, [3, 3]).unwrap();
    old.to_zarr(&store, "g/a", &WriteOptions::default())
        .unwrap();
    let failing = failing_on_one_tile();
    let result = failing.to_zarr(
        &store,
        "g/a",
        &WriteOptions::default().mode(WriteMode::Overwrite),
    );
    assert!(result.is_err());
    assert_eq!(read(&store, "g/a").unwrap(), old.compute().unwrap());
    assert_no_leftovers(&store);
    let mut names: Vec<_> = std::fs::read_dir(store.join("g"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    // The array and the metadata of its group (written by the first write), nothing else.
    assert_eq!(names, ["a", "zarr.json"]);
    // A successful one replaces it, with nothing left beside it.
    let new = chunkwise::full(&[5, 2], 2.0f64, [2, 2]).unwrap();
    new.to_zarr(
        &store,
        "g/a",
        &WriteOptions::default().mode(WriteMode::Overwrite),
    )
    .unwrap();
    assert_eq!(read(&store, "g/a").unwrap(), new.compute().unwrap());
    assert_no_leftovers(&store);
}

/// The sorted names of the arrays of the group at `path`.
fn arrays_of(store: &Path, path: &str) -> Vec<String> {
    zarr::open_group(store, path).unwrap().arrays().to_vec()
}

#[test]
fn a_group_overwrite_may_compute_from_the_group_it_replaces() {
    let dir = TempDir::new("group-overwrite-reads-old");
    let store = dir.join("store");
    let (a, b) = (
        slow_array(&[7, 5], [3, 2], 1.0, 0),
        slow_array(&[7, 5], [3, 2], 2.0, 0),
    );
    let first = Dataset::new()
        .array("a", &a, WriteOptions::default())
        .array("b", &b, WriteOptions::default());
    first
        .to_zarr(&store, "g", &GroupOptions::default())
        .unwrap();
    let open = |name: &str| {
        zarr::open(&store, name)
            .unwrap()
            .into_typed::<f64>()
            .unwrap()
    };
    let (old_a, old_b) = (open("g/a"), open("g/b"));
    let second = Dataset::new().array("sum", &(&old_a + &old_b), WriteOptions::default());
    let replace = GroupOptions::default()
        .mode(WriteMode::Overwrite)
        .attribute("title", "second");
    second.to_zarr(&store, "g", &replace).unwrap();
    let want = expected(&[7, 5], [0, 0], 1.0) + expected(&[7, 5], [0, 0], 2.0);
    assert_eq!(read(&store, "g/sum").unwrap(), want);
    let group = zarr::open_group(&store, "g").unwrap();
    assert_eq!(group.arrays(), ["sum"]);
    assert_eq!(group.attributes()["title"], "second");
    assert_no_leftovers(&store);
    // The arrays opened before the overwrite are gone: reading them is an error, not the
    // fill values that their missing chunks would give.
    let error = old_a.compute().unwrap_err().to_string();
    assert!(error.contains("open it again"), "{error}");
}

#[test]
fn a_failed_group_overwrite_keeps_the_old_group_whole() {
    let dir = TempDir::new("failed-group-overwrite");
    let store = dir.join("store");
    let old = chunkwise::full(&[6, 6], 7.0f64, [3, 3]).unwrap();
    let first = Dataset::new()
        .array("a", &old, WriteOptions::default())
        .array("b", &old, WriteOptions::default());
    first
        .to_zarr(&store, "g", &GroupOptions::default().attribute("v", 1))
        .unwrap();
    let failing = failing_on_one_tile();
    let second = Dataset::new()
        .array("a", &old, WriteOptions::default())
        .array("c", &failing, WriteOptions::default());
    let replace = GroupOptions::default().mode(WriteMode::Overwrite);
    assert!(second.to_zarr(&store, "g", &replace).is_err());
    assert_eq!(arrays_of(&store, "g"), ["a", "b"]);
    assert_eq!(zarr::open_group(&store, "g").unwrap().attributes()["v"], 1);
    for name in ["g/a", "g/b"] {
        assert_eq!(read(&store, name).unwrap(), old.compute().unwrap());
    }
    assert_no_leftovers(&store);
    // A dataset refused by its checks writes nothing either.
    let bad = Dataset::new().array("a/b", &old, WriteOptions::default());
    assert!(bad.to_zarr(&store, "g", &replace).is_err());
    assert_eq!(arrays_of(&store, "g"), ["a", "b"]);
}

#[test]
fn an_overwrite_that_must_erase_what_it_reads_first_is_refused_before_erasing() {
    // At a directory store's root there is no place to stage: the old node is erased first.
    let dir = TempDir::new("refused-erasing-overwrite");
    let store = dir.join("store");
    let old = chunkwise::full(&[4, 4], 3.0f64, [2, 2]).unwrap();
    Dataset::new()
        .array("x", &old, WriteOptions::default())
        .to_zarr(&store, "/", &GroupOptions::default())
        .unwrap();
    let x = zarr::open(&store, "x")
        .unwrap()
        .into_typed::<f64>()
        .unwrap();
    let replace = GroupOptions::default().mode(WriteMode::Overwrite);
    let error = Dataset::new()
        .array("y", &(&x * 2.0), WriteOptions::default())
        .to_zarr(&store, "/", &replace)
        .unwrap_err();
    assert!(
        matches!(error, Error::Build(BuildError::InvalidArgument { .. })),
        "{error}"
    );
    assert_eq!(read(&store, "x").unwrap(), old.compute().unwrap());
    // A root overwrite that does not read the old group goes ahead.
    Dataset::new()
        .array("y", &old, WriteOptions::default())
        .to_zarr(&store, "/", &replace)
        .unwrap();
    assert_eq!(arrays_of(&store, "/"), ["y"]);

    // Stores without directories erase an overwritten array first too.
    let memory = Store::from_storage(std::sync::Arc::new(
        zarrs::storage::store::MemoryStore::new(),
    ));
    old.to_zarr(&memory, "x", &WriteOptions::default()).unwrap();
    let x = zarr::open(&memory, "x")
        .unwrap()
        .into_typed::<f64>()
        .unwrap();
    let overwrite = WriteOptions::default().mode(WriteMode::Overwrite);
    let error = (&x + 1.0).to_zarr(&memory, "x", &overwrite).unwrap_err();
    assert!(
        error.to_string().contains("erases before it writes"),
        "{error}"
    );
    assert_eq!(x.compute().unwrap(), old.compute().unwrap());
    // So does one array of a group's store, where another array reads it.
    let group = zarr::create_group(&memory, "g", &GroupOptions::default()).unwrap();
    group
        .store(&Dataset::new().array("a", &old, WriteOptions::default()))
        .unwrap();
    let a = zarr::open(&memory, "g/a")
        .unwrap()
        .into_typed::<f64>()
        .unwrap();
    let zeros = chunkwise::full(&[4, 4], 0.0f64, [2, 2]).unwrap();
    let both = Dataset::new().array("a", &zeros, overwrite.clone()).array(
        "b",
        &(&a * 2.0),
        WriteOptions::default(),
    );
    let error = group.store(&both).unwrap_err();
    assert!(
        error.to_string().contains("erases before it writes"),
        "{error}"
    );
    assert_eq!(read(&memory, "g/a").unwrap(), old.compute().unwrap());
}

#[test]
fn chunks_too_large_to_decode_are_refused_before_anything_is_written() {
    let dir = TempDir::new("huge-chunks");
    let store = dir.join("store");
    let x = chunkwise::arange::<f64>(0.0, 10.0, 1.0, [5]).unwrap();
    let huge = WriteOptions::default().chunks([1usize << 40]);
    assert!(x.to_zarr(&store, "x", &huge).is_err());
    assert!(!store.join("x").exists(), "a refused array left metadata");
    // An overwrite of an array in a store without directories leaves the old one.
    let memory = Store::from_storage(std::sync::Arc::new(
        zarrs::storage::store::MemoryStore::new(),
    ));
    x.to_zarr(&memory, "x", &WriteOptions::default()).unwrap();
    let zeros = chunkwise::zeros::<f64>(&[10], [5]).unwrap();
    assert!(
        zeros
            .to_zarr(&memory, "x", &huge.clone().mode(WriteMode::Overwrite))
            .is_err()
    );
    assert_eq!(read(&memory, "x").unwrap(), x.compute().unwrap());
}

#[test]
fn an_array_erased_or_replaced_after_it_was_opened_is_not_read() {
    let dir = TempDir::new("erased-after-open");
    let store = dir.join("store");
    let old = chunkwise::full(&[4, 4], 3.0f64, [2, 2]).unwrap();
    old.to_zarr(&store, "g/x", &WriteOptions::default())
        .unwrap();
    // Replaced by a staged overwrite with an array of the same metadata: the old handle
    // would read the new chunks.
    let x = zarr::open(&store, "g/x")
        .unwrap()
        .into_typed::<f64>()
        .unwrap();
    let overwrite = WriteOptions::default().mode(WriteMode::Overwrite);
    (&old + 1.0).to_zarr(&store, "g/x", &overwrite).unwrap();
    assert!(x.compute().is_err());
    let x = zarr::open(&store, "g/x")
        .unwrap()
        .into_typed::<f64>()
        .unwrap();
    assert_eq!(x.compute().unwrap(), (&old + 1.0).compute().unwrap());
    // Erased with its group: its chunks would read as fill values.
    zarr::create_group(
        &store,
        "g",
        &GroupOptions::default().mode(WriteMode::Overwrite),
    )
    .unwrap();
    let error = x.sum().compute().unwrap_err();
    assert!(
        matches!(error, Error::Storage(StorageError::Storage { .. })),
        "{error}"
    );
}

#[test]
fn a_refused_append_leaves_the_array_as_it_was() {
    let dir = TempDir::new("refused-append");
    let store = dir.join("store");
    let base = chunkwise::full(&[4, 3], 1.0f64, [2, 2]).unwrap();
    base.to_zarr(&store, "a", &WriteOptions::default()).unwrap();
    let meta = std::fs::read(store.join("a/zarr.json")).unwrap();
    for _ in 0..2 {
        let err = chunkwise::full(&[2, 3], 1.0f32, [2, 2])
            .unwrap()
            .append_zarr(&store, "a", 0, &Config::default())
            .unwrap_err();
        assert!(
            matches!(err, Error::Build(BuildError::DTypeMismatch { .. })),
            "{err}"
        );
        assert_eq!(std::fs::read(store.join("a/zarr.json")).unwrap(), meta);
        assert_eq!(read(&store, "a").unwrap(), base.compute().unwrap());
    }
    // An append whose computation fails leaves the shape too.
    let failing = chunkwise::from_fn(&[2, 3], [2, 2], |block, ranges| {
        assert!(block != [0, 1], "fails on one tile");
        let shape: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
        ArrayD::from_elem(IxDyn(&shape), 9.0f64)
    })
    .unwrap();
    assert!(
        failing
            .append_zarr(&store, "a", 0, &Config::default())
            .is_err()
    );
    assert_eq!(read(&store, "a").unwrap(), base.compute().unwrap());
}

#[test]
fn resume_rewrites_torn_and_missing_chunks() {
    let dir = TempDir::new("resume-torn");
    let store = dir.join("store");
    let x = slow_array(&SHAPE, CHUNKS, 0.0, 0);
    x.to_zarr(&store, "a", &options(WriteMode::Create)).unwrap();
    // A chunk cut short (as a writer outside chunkwise, or a power loss, leaves it), one
    // replaced by garbage, and one missing.
    let torn = store.join("a/c/1/2");
    let bytes = std::fs::read(&torn).unwrap();
    std::fs::write(&torn, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(store.join("a/c/3/0"), b"not a zstd frame").unwrap();
    std::fs::remove_file(store.join("a/c/7/5")).unwrap();
    assert!(read(&store, "a").is_err());
    x.to_zarr(&store, "a", &options(WriteMode::Resume)).unwrap();
    assert_eq!(read(&store, "a").unwrap(), expected(&SHAPE, [0, 0], 0.0));
}

// ---------------------------------------------------------------------------------------
// Writers killed at random moments.

/// A fresh directory with sentinels, and a store in it holding array `a` of [`SHAPE`],
/// all [`OLD`], in chunks of [`CHUNKS`].
fn old_array_in_a_store(name: &str) -> (TempDir, Sentinels, PathBuf) {
    let dir = TempDir::new(name);
    let sentinels = Sentinels::plant(&dir);
    let store = dir.join("store");
    chunkwise::full(&SHAPE, OLD, CHUNKS)
        .unwrap()
        .to_zarr(&store, "a", &options(WriteMode::Create))
        .unwrap();
    (dir, sentinels, store)
}

/// Kill moments spread over a child's run (its tiles take 10 ms each, about 0.3 s in all
/// on two threads, after the process starts).
fn kill_moments(seed: u64) -> Vec<Duration> {
    let mut rng = Lcg::new(seed);
    (0..5)
        .map(|_| Duration::from_millis(20 + (rng.unit() * 400.0) as u64))
        .collect()
}

#[test]
fn killed_create_and_resume_are_completed_bit_exactly_by_resume() {
    for (round, after) in kill_moments(11).into_iter().enumerate() {
        let dir = TempDir::new("kill-create");
        let sentinels = Sentinels::plant(&dir);
        let store = dir.join("store");
        run_and_kill("create", &store, 0.0, after);
        // A resume killed in turn, then one that runs to the end.
        if zarr::open(&store, "a").is_ok() {
            run_and_kill("resume", &store, 0.0, after / 2);
        }
        let mode = if zarr::open(&store, "a").is_ok() {
            WriteMode::Resume
        } else {
            WriteMode::Create
        };
        slow_array(&SHAPE, CHUNKS, 0.0, 0)
            .to_zarr(&store, "a", &options(mode))
            .unwrap();
        assert_eq!(
            read(&store, "a").unwrap(),
            expected(&SHAPE, [0, 0], 0.0),
            "round {round}"
        );
        assert_no_leftovers(&store);
        sentinels.check();
    }
}

/// Whether a staging directory of an overwrite of `a` is in `store`.
fn staging_beside(store: &Path) -> bool {
    std::fs::read_dir(store).unwrap().flatten().any(|entry| {
        let name = entry.file_name().to_string_lossy().into_owned();
        name.starts_with(".a.chunkwise-staging-")
    })
}

/// A resume of an array beside which an overwrite's staging directory is (the overwrite was
/// killed, or runs on another machine sharing the directory) is refused: the array there
/// is the old one, whose chunks it would keep as if they were its own. The overwrite, run
/// again, replaces the array.
#[test]
fn a_resume_is_refused_where_an_overwrite_was_interrupted() {
    let (_dir, sentinels, store) = old_array_in_a_store("resume-after-overwrite");
    // An overwrite staged on another machine: this process does not erase it as stale.
    let staged = store.join(".a.chunkwise-staging-elsewhere-1-0");
    std::fs::create_dir(&staged).unwrap();
    let new = slow_array(&SHAPE, CHUNKS, 0.0, 0);
    let err = new
        .to_zarr(&store, "a", &options(WriteMode::Resume))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains(".a.chunkwise-staging-elsewhere-1-0"),
        "{err}"
    );
    assert_eq!(
        read(&store, "a").unwrap(),
        ArrayD::from_elem(IxDyn(&SHAPE), OLD)
    );
    new.to_zarr(&store, "a", &options(WriteMode::Overwrite))
        .unwrap();
    assert_eq!(read(&store, "a").unwrap(), expected(&SHAPE, [0, 0], 0.0));
    // An overwrite of the group above: the array in it is the old group's.
    new.to_zarr(&store, "g/b", &options(WriteMode::Create))
        .unwrap();
    std::fs::create_dir(store.join(".g.chunkwise-staging-elsewhere-2-0")).unwrap();
    let err = new
        .to_zarr(&store, "g/b", &options(WriteMode::Resume))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains(".g.chunkwise-staging-elsewhere-2-0"),
        "{err}"
    );
    // A node whose name merely begins like the staged one is not taken for it.
    new.to_zarr(&store, "gg", &options(WriteMode::Create))
        .unwrap();
    new.to_zarr(&store, "gg", &options(WriteMode::Resume))
        .unwrap();
    sentinels.check();
}

#[test]
fn a_killed_overwrite_leaves_the_old_array_or_the_new_one() {
    let old = ArrayD::from_elem(IxDyn(&SHAPE), OLD);
    let new = expected(&SHAPE, [0, 0], 0.0);
    for (round, after) in kill_moments(12).into_iter().enumerate() {
        let (_dir, sentinels, store) = old_array_in_a_store("kill-overwrite");
        run_and_kill("overwrite", &store, 0.0, after);
        let got = read(&store, "a").unwrap();
        assert!(got == old || got == new, "round {round}: a mixed array");
        eprintln!(
            "overwrite killed after {after:?}: {} array",
            if got == old { "old" } else { "new" }
        );
        sentinels.check();
        // Killed while staging: a resume would keep the old chunks, and is refused.
        if got == old && staging_beside(&store) {
            let resumed = slow_array(&SHAPE, CHUNKS, 0.0, 0)
                .to_zarr(&store, "a", &options(WriteMode::Resume))
                .unwrap_err();
            assert!(resumed.to_string().contains("overwrite"), "{resumed}");
            assert_eq!(read(&store, "a").unwrap(), old);
        }
        // The next overwrite completes and clears what the killed one left.
        slow_array(&SHAPE, CHUNKS, 0.0, 0)
            .to_zarr(&store, "a", &options(WriteMode::Overwrite))
            .unwrap();
        assert_eq!(read(&store, "a").unwrap(), new);
        assert_no_leftovers(&store);
    }
    // A child that is never killed publishes the new array.
    let (_dir, _, store) = old_array_in_a_store("kill-overwrite-late");
    run_and_kill("overwrite", &store, 0.0, Duration::from_secs(30));
    assert_eq!(read(&store, "a").unwrap(), new);
    assert_no_leftovers(&store);
}

#[test]
fn a_killed_group_overwrite_leaves_the_old_group_or_the_new_one() {
    let old = ArrayD::from_elem(IxDyn(&SHAPE), OLD);
    let new = [expected(&SHAPE, [0, 0], 0.0), expected(&SHAPE, [0, 0], 1.0)];
    let old_group = |store: &Path| {
        let old = chunkwise::full(&SHAPE, OLD, CHUNKS).unwrap();
        Dataset::new()
            .array("a", &old, options(WriteMode::Create))
            .array("b", &old, options(WriteMode::Create))
            .array("c", &old, options(WriteMode::Create))
            .to_zarr(store, "g", &GroupOptions::default())
            .unwrap();
    };
    // Tiles of both arrays (10 ms each) take about 0.6 s on two threads, after the start;
    // the last moment comes after the end.
    let moments =
        (kill_moments(14).into_iter().map(|t| t * 3).take(3)).chain([Duration::from_secs(4)]);
    for (round, after) in moments.enumerate() {
        let dir = TempDir::new("kill-group-overwrite");
        let sentinels = Sentinels::plant(&dir);
        let store = dir.join("store");
        old_group(&store);
        run_and_kill("group_overwrite", &store, 0.0, after);
        let arrays = arrays_of(&store, "g");
        let got = [read(&store, "g/a").unwrap(), read(&store, "g/b").unwrap()];
        let kept = arrays == ["a", "b", "c"] && got.iter().all(|a| *a == old);
        let replaced = arrays == ["a", "b"] && got == new;
        assert!(
            kept || replaced,
            "round {round}: neither the old group nor the new one"
        );
        eprintln!(
            "group overwrite killed after {after:?}: {} group",
            if kept { "old" } else { "new" }
        );
        sentinels.check();
        // The next overwrite completes and clears what the killed one left.
        assert!(
            spawn("group_overwrite", &store, 0.0, 1)
                .wait()
                .unwrap()
                .success()
        );
        assert_eq!(
            [read(&store, "g/a").unwrap(), read(&store, "g/b").unwrap()],
            new
        );
        assert_no_leftovers(&store);
    }
}

#[test]
fn a_killed_region_write_leaves_each_chunk_old_or_new_and_a_rerun_completes_it() {
    let region = [70..320, 40..260];
    for (round, after) in kill_moments(13).into_iter().enumerate() {
        let (_dir, sentinels, store) = old_array_in_a_store("kill-region");
        run_and_kill("region", &store, 0.0, after);
        let got = read(&store, "a").unwrap();
        let is_new = |i: usize, j: usize| {
            region[0].contains(&i)
                && region[1].contains(&j)
                && got[[i, j]] == value(&[i - region[0].start, j - region[1].start], 0.0)
        };
        // Per stored chunk: its part in the region is all old or all new; the rest is old.
        for ci in 0..SHAPE[0] / CHUNKS[0] {
            for cj in 0..SHAPE[1] / CHUNKS[1] {
                let cells: Vec<(usize, usize)> = (ci * CHUNKS[0]..(ci + 1) * CHUNKS[0])
                    .flat_map(|i| (cj * CHUNKS[1]..(cj + 1) * CHUNKS[1]).map(move |j| (i, j)))
                    .collect();
                let inside: Vec<_> = cells
                    .iter()
                    .filter(|&&(i, j)| region[0].contains(&i) && region[1].contains(&j))
                    .collect();
                let new_cells = inside.iter().filter(|&&&(i, j)| is_new(i, j)).count();
                assert!(
                    new_cells == 0 || new_cells == inside.len(),
                    "round {round}: chunk ({ci}, {cj}) is torn"
                );
                for &(i, j) in &cells {
                    if !is_new(i, j) {
                        assert_eq!(got[[i, j]], OLD, "round {round}: ({i}, {j})");
                    }
                }
            }
        }
        sentinels.check();
        slow_array(&[250, 220], [60, 70], 0.0, 0)
            .to_zarr_region(&store, "a", &region, &Config::default())
            .unwrap();
        let done = read(&store, "a").unwrap();
        for ((i, j), &v) in done.indexed_iter().map(|(ix, v)| ((ix[0], ix[1]), v)) {
            let want = if region[0].contains(&i) && region[1].contains(&j) {
                value(&[i - region[0].start, j - region[1].start], 0.0)
            } else {
                OLD
            };
            assert_eq!(v, want, "({i}, {j})");
        }
        // The killed writer may have left hidden temporaries (a region write does not list
        // the array to find them; Resume and Overwrite remove them), but nothing else.
        assert_no_leftovers_but_temporaries(&store);
    }
}

#[test]
fn a_killed_append_leaves_the_old_array_or_the_grown_one() {
    let old = expected(&SHAPE, [0, 0], 0.0);
    let mut grown = ArrayD::zeros(IxDyn(&[SHAPE[0] + 230, SHAPE[1]]));
    grown
        .slice_mut(ndarray::s![..SHAPE[0], ..])
        .assign(&old.view().into_dimensionality::<ndarray::Ix2>().unwrap());
    grown.slice_mut(ndarray::s![SHAPE[0].., ..]).assign(
        &expected(&[230, SHAPE[1]], [0, 0], 0.5)
            .into_dimensionality::<ndarray::Ix2>()
            .unwrap(),
    );
    let grown = grown.into_dyn();
    for (round, after) in kill_moments(14).into_iter().enumerate() {
        let dir = TempDir::new("kill-append");
        let sentinels = Sentinels::plant(&dir);
        let store = dir.join("store");
        slow_array(&SHAPE, CHUNKS, 0.0, 0)
            .to_zarr(&store, "a", &options(WriteMode::Create))
            .unwrap();
        run_and_kill("append", &store, 0.5, after);
        let got = read(&store, "a").unwrap();
        assert!(
            got == old || got == grown,
            "round {round}: shape {:?}",
            got.shape()
        );
        eprintln!("append killed after {after:?}: shape {:?}", got.shape());
        sentinels.check();
    }
}

// ---------------------------------------------------------------------------------------
// Two uncoordinated writers of the same chunks.

#[test]
fn concurrent_writers_of_one_chunk_publish_whole_chunks() {
    let dir = TempDir::new("concurrent");
    let store = dir.join("store");
    chunkwise::full(&[1000, 1000], 0.0f64, [500, 500])
        .unwrap()
        .to_zarr(
            &store,
            "a",
            &WriteOptions::default()
                .chunks([500, 500])
                .compression(Compression::None),
        )
        .unwrap();
    let mut writers = [
        spawn("whole", &store, 1.0, 8),
        spawn("whole", &store, 2.0, 8),
    ];
    let check_chunks = |got: &ArrayD<f64>| {
        for ci in 0..2 {
            for cj in 0..2 {
                let chunk = got.slice(ndarray::s![
                    ci * 500..(ci + 1) * 500,
                    cj * 500..(cj + 1) * 500
                ]);
                let first = chunk[[0, 0]];
                assert!(
                    chunk.iter().all(|&v| v == first),
                    "chunk ({ci}, {cj}) mixes writers"
                );
            }
        }
    };
    // Read while they write: every chunk a reader sees decodes and is one writer's.
    let mut reads = 0;
    while writers.iter_mut().any(|w| w.try_wait().unwrap().is_none()) {
        let got = read(&store, "a").unwrap_or_else(|e| panic!("read during writes: {e}"));
        check_chunks(&got);
        reads += 1;
    }
    for w in &mut writers {
        assert!(w.wait().unwrap().success());
    }
    let got = read(&store, "a").unwrap();
    check_chunks(&got);
    assert!(got.iter().all(|&v| v == 1.0 || v == 2.0));
    assert!(reads > 0);
    assert_no_leftovers(&store);
}

#[test]
fn a_store_that_is_a_link_is_overwritten_where_it_points() {
    let dir = TempDir::new("root-link");
    let real = dir.join("real");
    let link = dir.join("link");
    std::fs::create_dir_all(&real).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let old = chunkwise::full(&[4, 4], 3.0f64, [2, 2]).unwrap();
    old.to_zarr(&link, "/", &WriteOptions::default()).unwrap();
    let new = chunkwise::full(&[6], 5.0f64, [3]).unwrap();
    let overwrite = WriteOptions::default().mode(WriteMode::Overwrite);
    new.to_zarr(&link, "/", &overwrite).unwrap();
    let kind = std::fs::symlink_metadata(&link).unwrap().file_type();
    assert!(kind.is_symlink(), "the link was replaced by a directory");
    assert_eq!(read(&real, "/").unwrap(), new.compute().unwrap());
    // The same for a group written at the root.
    let replace = GroupOptions::default().mode(WriteMode::Overwrite);
    Dataset::new()
        .array("y", &old, WriteOptions::default())
        .to_zarr(&link, "/", &replace)
        .unwrap();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(read(&real, "y").unwrap(), old.compute().unwrap());
}

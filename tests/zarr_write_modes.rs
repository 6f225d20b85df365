//! Writing over what a store holds: `Create` refuses an existing array or group,
//! `Overwrite` replaces it, `Resume` finishes an interrupted write (v2, v3, sharded) and
//! refuses or corrects a mismatched one; both at the store root too.

#![allow(missing_docs)]

#[path = "common/zarr_util.rs"]
mod zarr_util;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chunkwise::io::zarr::{self, WriteMode, WriteOptions, ZarrVersion};
use chunkwise::{
    Array, BuildError, Config, DType, Error, ExecError, StorageError, from_fn, from_ndarray,
};
use ndarray::{ArrayD, s};
use zarr_util::*;
use zarrs::filesystem::FilesystemStore;

#[test]
fn existing_arrays_create_overwrite() {
    let dir = TempDir::new("exists");
    let d = dir.path();
    let old = formula::<f64>(&[20]);
    from_ndarray(&old, [5])
        .unwrap()
        .to_zarr(d, "a", &WriteOptions::default())
        .unwrap();

    let new = formula::<i32>(&[7]);
    let y = from_ndarray(&new, [3]).unwrap();
    let err = y.to_zarr(d, "a", &WriteOptions::default()).unwrap_err();
    assert!(
        matches!(&err, Error::Storage(StorageError::AlreadyExists { path }) if path.contains('a')),
        "{err:?}"
    );
    let kept = read_back::<f64>(d, "a");
    assert_same(&kept, &old, "old data after a refused write");

    // Overwrite: another shape and type; the old chunks are gone.
    y.to_zarr(d, "a", &WriteOptions::default().mode(WriteMode::Overwrite))
        .unwrap();
    let back = zarr::open(d, "a").unwrap();
    assert_eq!(back.shape(), vec![7]);
    assert_same(
        &back.into_typed::<i32>().unwrap().compute().unwrap(),
        &new,
        "overwritten",
    );
    assert_eq!(chunk_files(d, "a"), vec!["c/0", "c/1", "c/2"]);

    // Overwrite a v3 array with a v2 one: the v3 metadata must not survive.
    y.to_zarr(
        d,
        "a",
        &WriteOptions::default()
            .version(ZarrVersion::V2)
            .mode(WriteMode::Overwrite),
    )
    .unwrap();
    let files = files_under(&d.join("a"));
    assert!(!files.contains(&"zarr.json".to_string()), "{files:?}");
    assert_eq!(chunk_files(d, "a"), vec!["0", "1", "2"]);
    let back = zarr::open(d, "a").unwrap();
    assert_same(
        &back.into_typed::<i32>().unwrap().compute().unwrap(),
        &new,
        "v2 over v3",
    );

    // Overwrite where nothing exists is a plain write.
    y.to_zarr(
        d,
        "fresh",
        &WriteOptions::default().mode(WriteMode::Overwrite),
    )
    .unwrap();
    assert_same(&read_back::<i32>(d, "fresh"), &new, "fresh");
}

/// Plants the temporary file that a write killed while storing `key` (in the store `dir`)
/// leaves beside it: `.<name>.<pid>-<n>-<nanos>.chunkwise-tmp`, with a pid above the
/// kernel's limit (2^22), so never a live one.
fn plant_leftover_temporary(dir: &Path, key: &str) {
    let (parent, name) = key.rsplit_once('/').unwrap();
    let parent = dir.join(parent);
    std::fs::create_dir_all(&parent).unwrap();
    std::fs::write(
        parent.join(format!(".{name}.4294967-0-0.chunkwise-tmp")),
        b"partial",
    )
    .unwrap();
}

/// `data` in [4, 4] tiles from a generator that counts its calls in `calls` and panics on
/// block `crash_at`, if given.
fn source(
    data: &Arc<ArrayD<f64>>,
    crash_at: Option<[usize; 2]>,
    calls: &Arc<AtomicUsize>,
) -> Array<f64> {
    let shape = data.shape().to_vec();
    let (data, calls) = (data.clone(), calls.clone());
    from_fn(&shape, [4, 4], move |block, ranges| {
        if crash_at.is_some_and(|at| block == at) {
            panic!("simulated crash in block {block:?}");
        }
        calls.fetch_add(1, Ordering::SeqCst);
        data.slice(s![ranges[0].clone(), ranges[1].clone()])
            .to_owned()
            .into_dyn()
    })
    .unwrap()
}

/// Writes `data` as the array `a` of `d` with `options` on one thread, from a source that
/// panics on block `crash_at`: asserts that the write failed with that panic and returns
/// the units stored before it. It stands for a killed write: in `Resume` mode, a failed
/// write keeps what it stored (in the others it erases it, as a killed one cannot).
fn interrupted_write(
    d: &Path,
    data: &Arc<ArrayD<f64>>,
    crash_at: [usize; 2],
    options: &WriteOptions,
) -> Vec<String> {
    let failing = source(data, Some(crash_at), &Arc::default());
    let one_thread = options
        .clone()
        .mode(WriteMode::Resume)
        .config(Config::default().threads(1));
    let err = failing.to_zarr(d, "a", &one_thread).unwrap_err();
    assert!(
        matches!(err, Error::Exec(ExecError::TaskPanicked { .. })),
        "{err:?}"
    );
    chunk_files(d, "a")
}

/// Asserts that the array `a` of `d` holds byte for byte the files that a clean write of
/// `data` with `options` stores (as `clean`, beside it).
fn assert_stores_what_a_clean_write_does(
    d: &Path,
    data: &ArrayD<f64>,
    options: &WriteOptions,
    label: &str,
) {
    from_ndarray(data, [4, 4])
        .unwrap()
        .to_zarr(d, "clean", options)
        .unwrap();
    let files = files_under(&d.join("a"));
    assert_eq!(files, files_under(&d.join("clean")), "{label}: files");
    for f in &files {
        let a = std::fs::read(d.join("a").join(f)).unwrap();
        let b = std::fs::read(d.join("clean").join(f)).unwrap();
        assert!(a == b, "{label}: {f} differs from a clean write");
    }
}

/// Writes the formula over [12, 12] (tiles [4, 4]) from a generator that panics on block
/// [1, 1], then resumes with a counting generator; checks the calls, the values, the temporaries'
/// cleanup, and that the stored files equal those of a clean write.
fn resume_case(name: &str, options: WriteOptions) {
    let units = 9;
    let dir = TempDir::new(&format!("resume-{name}"));
    let d = dir.path();
    let data = Arc::new(formula::<f64>(&[12, 12]));
    let stored = interrupted_write(d, &data, [1, 1], &options);
    eprintln!("{name}: units stored before the crash: {stored:?}");
    assert!(
        stored.len() < units,
        "{name}: the failing unit was stored: {stored:?}"
    );
    // A killed atomic write leaves a hidden temporary beside the chunk's key
    // (`.<name>.<pid>-<n>-<nanos>.chunkwise-tmp`); put one next to a stored chunk and one
    // for the chunk that was never written.
    let last = if options.version == ZarrVersion::V2 {
        "a/1.1"
    } else {
        "a/c/1/1"
    };
    plant_leftover_temporary(d, last);
    if let Some(first) = stored.first() {
        plant_leftover_temporary(d, &format!("a/{first}"));
    }

    let calls = Arc::new(AtomicUsize::new(0));
    let good = source(&data, None, &calls);
    good.to_zarr(d, "a", &options.clone().mode(WriteMode::Resume))
        .unwrap_or_else(|e| panic!("{name}: resume failed: {e}"));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        units - stored.len(),
        "{name}: tiles computed on resume ({} of {units} units were stored)",
        stored.len()
    );
    let files = files_under(&d.join("a"));
    assert!(
        files.iter().all(|f| !f.ends_with(".chunkwise-tmp")),
        "{name}: temporary keys left: {files:?}"
    );
    let back = read_back::<f64>(d, "a");
    assert_same(&back, &data, name);

    assert_stores_what_a_clean_write_does(d, &data, &options, name);

    // Resuming a complete array computes nothing.
    calls.store(0, Ordering::SeqCst);
    good.to_zarr(d, "a", &options.clone().mode(WriteMode::Resume))
        .unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "{name}: resume of a complete array"
    );

    // Resume onto an array of another shape is refused.
    let other = from_ndarray(&formula::<f64>(&[12, 8]), [4, 4]).unwrap();
    let err = other
        .to_zarr(d, "a", &options.clone().mode(WriteMode::Resume))
        .unwrap_err();
    assert!(
        matches!(err, Error::Build(BuildError::ShapeMismatch { .. })),
        "{name}: {err:?}"
    );
}

#[test]
fn resume_v3() {
    resume_case("v3", WriteOptions::default().chunks([4, 4]));
}

#[test]
fn resume_v2() {
    let options = WriteOptions::default()
        .version(ZarrVersion::V2)
        .chunks([4, 4]);
    resume_case("v2", options);
}

#[test]
fn resume_v3_sharded() {
    // Shards of [8, 8] over [12, 12]: 4 units.
    let options = WriteOptions::default().chunks([4, 4]).shards([8, 8]);
    resume_case_sharded(options);
}

/// The sharded variant: units hold unequal numbers of tiles (4, 2, 2, 1).
fn resume_case_sharded(options: WriteOptions) {
    let dir = TempDir::new("resume-sharded");
    let d = dir.path();
    let data = Arc::new(formula::<f64>(&[12, 12]));
    let stored = interrupted_write(d, &data, [2, 2], &options);
    eprintln!("sharded: shards stored before the crash: {stored:?}");
    assert!(!stored.contains(&"c/1/1".to_string()), "{stored:?}");
    plant_leftover_temporary(d, "a/c/1/1");
    if let Some(first) = stored.first() {
        plant_leftover_temporary(d, &format!("a/{first}"));
    }

    // Tiles per shard: [0, 0] holds 4, [0, 1] and [1, 0] hold 2, [1, 1] holds 1.
    let per_shard = |key: &str| match key {
        "c/0/0" => 4,
        "c/0/1" | "c/1/0" => 2,
        "c/1/1" => 1,
        other => panic!("unexpected key {other}"),
    };
    let missing: usize = ["c/0/0", "c/0/1", "c/1/0", "c/1/1"]
        .iter()
        .filter(|k| !stored.contains(&k.to_string()))
        .map(|k| per_shard(k))
        .sum();

    let calls = Arc::new(AtomicUsize::new(0));
    let good = source(&data, None, &calls);
    good.to_zarr(d, "a", &options.clone().mode(WriteMode::Resume))
        .unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        missing,
        "tiles computed on resume (stored: {stored:?})"
    );
    let files = files_under(&d.join("a"));
    assert!(
        files.iter().all(|f| !f.ends_with(".chunkwise-tmp")),
        "temporary keys left: {files:?}"
    );
    let back = read_back::<f64>(d, "a");
    assert_same(&back, &data, "sharded resume");
    assert_stores_what_a_clean_write_does(d, &data, &options, "sharded");
}

#[test]
fn resume_with_another_chunking_is_refused_or_correct() {
    let dir = TempDir::new("resume-rechunked");
    let d = dir.path();
    let data = Arc::new(formula::<f64>(&[12, 12]));
    // An interrupted write in chunks [4, 4]: 4 of 9 chunks stored (one thread, panics at [1, 1]).
    interrupted_write(d, &data, [1, 1], &WriteOptions::default().chunks([4, 4]));
    // Resumed with chunks [6, 6]: either refused, or the array must hold the data.
    let good = from_ndarray(&data, [6, 6]).unwrap();
    let resumed = WriteOptions::default()
        .chunks([6, 6])
        .mode(WriteMode::Resume);
    if good.to_zarr(d, "a", &resumed).is_ok() {
        let back = open_typed::<f64>(d, "a");
        assert_same(
            &back.compute().unwrap(),
            &data,
            "resumed with chunks [6, 6]",
        );
    }
}

#[test]
fn resume_with_another_element_type_is_an_error() {
    let dir = TempDir::new("resume-dtype");
    let d = dir.path();
    let data = formula::<f64>(&[8, 8]);
    from_ndarray(&data, [4, 4])
        .unwrap()
        .to_zarr(d, "a", &WriteOptions::default())
        .unwrap();
    std::fs::remove_file(d.join("a/c/1/1")).unwrap();
    let other = from_ndarray(&formula::<f32>(&[8, 8]), [4, 4]).unwrap();
    let resumed = WriteOptions::default().mode(WriteMode::Resume);
    assert!(other.to_zarr(d, "a", &resumed).is_err());
    let back = zarr::open(d, "a").unwrap();
    assert_eq!(back.dtype(), DType::F64);
}

#[test]
fn resume_writes_again_a_torn_edge_chunk() {
    // The last chunk (8..10 of a 4-long chunk) is written in part: its writer reads it
    // back first, so a torn copy of it must not stop the resume.
    let dir = TempDir::new("resume-torn-edge");
    let d = dir.path();
    for version in [ZarrVersion::V3, ZarrVersion::V2] {
        let x = chunkwise::arange::<f64>(0.0, 10.0, 1.0, [4]).unwrap();
        let options = WriteOptions::default().version(version);
        x.to_zarr(d, "x", &options.clone().mode(WriteMode::Overwrite))
            .unwrap();
        let last = match version {
            ZarrVersion::V3 => "x/c/2",
            ZarrVersion::V2 => "x/2",
        };
        std::fs::write(d.join(last), b"").unwrap();
        x.to_zarr(d, "x", &options.mode(WriteMode::Resume)).unwrap();
        let back = zarr::open(d, "x").unwrap().into_typed::<f64>().unwrap();
        assert_eq!(back.compute().unwrap(), x.compute().unwrap(), "{version:?}");
    }
}

#[test]
fn resume_refuses_a_stored_array_of_another_format() {
    let dir = TempDir::new("resume-format");
    let d = dir.path();
    let x = chunkwise::arange::<f64>(0.0, 12.0, 1.0, [4]).unwrap();
    let v2 = WriteOptions::default()
        .version(ZarrVersion::V2)
        .compression(zarr::Compression::Gzip { level: 2 })
        .fill_value(-1.0);
    x.to_zarr(d, "x", &v2).unwrap();
    std::fs::remove_file(d.join("x/1")).unwrap();
    let resume = |options: WriteOptions| x.to_zarr(d, "x", &options.mode(WriteMode::Resume));
    for (options, difference) in [
        (WriteOptions::default(), "version"),
        (
            v2.clone().compression(zarr::Compression::Zstd { level: 1 }),
            "compression",
        ),
        (v2.clone().fill_value(f64::NAN), "fill value"),
    ] {
        let error = resume(options).unwrap_err().to_string();
        assert!(error.contains(difference), "{error}");
    }
    assert!(!d.join("x/1").exists(), "a refused resume wrote a chunk");
    resume(v2).unwrap();
    let back = zarr::open(d, "x").unwrap().into_typed::<f64>().unwrap();
    assert_eq!(back.compute().unwrap(), x.compute().unwrap());
}

#[test]
fn overwrite_and_resume_at_the_store_root() {
    let dir = TempDir::new("root");
    let d = dir.path();
    let data = formula::<f64>(&[8]);
    let x = from_ndarray(&data, [4]).unwrap();
    x.to_zarr(d, "", &WriteOptions::default()).unwrap();
    let back = open_typed::<f64>(d, "");
    assert_same(&back.compute().unwrap(), &data, "root array");
    for mode in [WriteMode::Overwrite, WriteMode::Resume] {
        x.to_zarr(d, "", &WriteOptions::default().mode(mode))
            .unwrap_or_else(|e| panic!("{mode:?} at the root: {e}"));
    }
}

#[test]
fn create_refuses_to_replace_a_group() {
    use zarrs::group::GroupBuilder;
    let dir = TempDir::new("over-group");
    let d = dir.path();
    let fs = Arc::new(FilesystemStore::new(d).unwrap());
    GroupBuilder::new()
        .build(fs, "/g")
        .unwrap()
        .store_metadata()
        .unwrap();
    let x = from_ndarray(&formula::<f64>(&[8]), [4]).unwrap();
    x.to_zarr(d, "g/a", &WriteOptions::default()).unwrap();
    let result = x.to_zarr(d, "g", &WriteOptions::default());
    let group = zarr::open_group(d, "g");
    assert!(
        matches!(
            result,
            Err(Error::Storage(StorageError::AlreadyExists { .. }))
        ),
        "writing an array over the group g: {result:?}; the group now opens as {group:?}"
    );
    assert_eq!(group.unwrap().arrays(), ["a"]);
}

#[test]
fn resume_without_an_existing_array_writes_it() {
    let dir = TempDir::new("resume-new");
    let data = formula::<u8>(&[9, 5]);
    from_ndarray(&data, [4, 4])
        .unwrap()
        .to_zarr(
            dir.path(),
            "a",
            &WriteOptions::default().mode(WriteMode::Resume),
        )
        .unwrap();
    let back = open_typed::<u8>(dir.path(), "a");
    assert_same(&back.compute().unwrap(), &data, "resume onto nothing");
}

/// A write that fails (here a generator's panic, after some chunks were stored) erases
/// the array it had started, chunks and metadata, in either Zarr version, so that no
/// reader takes the part written for the whole array; a file that is not the array's,
/// under its path, stays. A write in `Resume` mode keeps what it stored, to be resumed.
#[test]
fn a_failed_write_leaves_no_partial_array() {
    for version in [ZarrVersion::V2, ZarrVersion::V3] {
        let dir = TempDir::new(&format!("failed-{version:?}"));
        let d = dir.path();
        let data = Arc::new(formula::<f64>(&[12, 12]));
        std::fs::create_dir_all(d.join("a")).unwrap();
        std::fs::write(d.join("a/notes.txt"), "not the array's").unwrap();
        let options = WriteOptions::default().version(version);
        let failing = source(&data, Some([2, 1]), &Arc::default());
        let one_thread = options.config(Config::default().threads(1));
        let err = failing.to_zarr(d, "a", &one_thread).unwrap_err();
        assert!(
            matches!(err, Error::Exec(ExecError::TaskPanicked { .. })),
            "{version:?}: {err:?}"
        );
        assert_eq!(files_under(&d.join("a")), ["notes.txt"], "{version:?}");
        assert!(zarr::open(d, "a").is_err(), "{version:?}: the array opens");

        let resumable = one_thread.clone().mode(WriteMode::Resume);
        failing.to_zarr(d, "b", &resumable).unwrap_err();
        let kept = chunk_files(d, "b");
        assert!(
            !kept.is_empty() && kept.len() < 9,
            "{version:?}: a failed resumable write keeps its chunks: {kept:?}"
        );
        let calls = Arc::new(AtomicUsize::new(0));
        source(&data, None, &calls)
            .to_zarr(d, "b", &resumable)
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 9 - kept.len(), "{version:?}");
        assert_same(&read_back::<f64>(d, "b"), &data, "resumed after a failure");
    }
}

//! Zarr round trips: every element type, compression and layout in v2, v3 and sharded v3;
//! tiles that differ from the storage chunks; one store write per unit; 0-d and empty arrays.

#![allow(missing_docs)]

#[path = "common/zarr_util.rs"]
mod zarr_util;

use std::path::Path;

use chunkwise::io::zarr::{
    self, BloscCompressor, BloscShuffle, Compression, WriteOptions, ZarrVersion,
};
use chunkwise::{ChunkGrid, Chunks, DType, from_ndarray};
use ndarray::{ArrayD, IxDyn};
use zarr_util::*;

const COMPRESSIONS: [Compression; 5] = [
    Compression::None,
    Compression::Zstd { level: 3 },
    Compression::Blosc {
        cname: BloscCompressor::Lz4,
        clevel: 5,
        shuffle: BloscShuffle::Shuffle,
    },
    Compression::Blosc {
        cname: BloscCompressor::Zstd,
        clevel: 3,
        shuffle: BloscShuffle::BitShuffle,
    },
    Compression::Gzip { level: 5 },
];

/// (shape, tiles = storage chunks, shards): 1-d to 3-d, none a multiple of the chunks.
fn layouts() -> Vec<(Vec<usize>, Vec<usize>, Vec<usize>)> {
    vec![
        (vec![23], vec![5], vec![10]),
        (vec![13, 9], vec![4, 4], vec![8, 8]),
        (vec![5, 6, 7], vec![2, 4, 3], vec![4, 4, 6]),
    ]
}

/// Number of write units (chunks, or shards) of `shape` cut in `unit`.
fn n_units(shape: &[usize], unit: &[usize]) -> usize {
    shape
        .iter()
        .zip(unit)
        .map(|(n, u)| n.div_ceil(*u))
        .product()
}

/// Writes the formula over `shape` (tiles `tiles`) with `options`, reads it back through
/// `open` and checks dtype, shape, default tile grid (the write units) and values.
fn roundtrip<T: Formula>(
    dir: &Path,
    name: &str,
    shape: &[usize],
    tiles: &[usize],
    options: &WriteOptions,
) {
    let what = format!("{name} {:?} {:?}", options.version, options.compression);
    let data = formula::<T>(shape);
    let x = from_ndarray(&data, tiles.to_vec()).unwrap();
    x.to_zarr(dir, name, options)
        .unwrap_or_else(|e| panic!("{what}: to_zarr failed: {e}"));
    let any = zarr::open(dir, name).unwrap_or_else(|e| panic!("{what}: open failed: {e}"));
    assert_eq!(any.dtype(), T::DTYPE, "{what}");
    assert_eq!(any.shape(), shape, "{what}");
    let chunks = options.chunks.clone().unwrap_or_else(|| tiles.to_vec());
    let unit = options.shards.clone().unwrap_or(chunks);
    assert_eq!(
        any.chunks(),
        &ChunkGrid::regular(shape, &unit).unwrap(),
        "{what}: default tile grid"
    );
    // Units equal to the fill value everywhere may be left out (possible for bool here).
    let stored = chunk_files(dir, name).len();
    if T::DTYPE == DType::Bool {
        assert!(
            stored <= n_units(shape, &unit),
            "{what}: {stored} stored units"
        );
    } else {
        assert_eq!(stored, n_units(shape, &unit), "{what}: stored units");
    }
    let back = any.into_typed::<T>().unwrap().compute().unwrap();
    assert_same(&back, &data, &what);
}

/// Every element type, compression and layout in one format, sharded or not.
fn roundtrip_all(version: ZarrVersion, sharded: bool) {
    let dir = TempDir::new("roundtrip");
    let mut k = 0;
    for compression in COMPRESSIONS {
        for (shape, chunks, shards) in layouts() {
            let mut options = WriteOptions::default()
                .version(version)
                .compression(compression)
                .chunks(&chunks);
            if sharded {
                options = options.shards(&shards);
            }
            let d = dir.path();
            roundtrip::<f64>(d, &format!("a{k}_f64"), &shape, &chunks, &options);
            roundtrip::<f32>(d, &format!("a{k}_f32"), &shape, &chunks, &options);
            roundtrip::<i32>(d, &format!("a{k}_i32"), &shape, &chunks, &options);
            roundtrip::<u8>(d, &format!("a{k}_u8"), &shape, &chunks, &options);
            roundtrip::<bool>(d, &format!("a{k}_bool"), &shape, &chunks, &options);
            k += 1;
        }
    }
}

#[test]
fn roundtrip_v2() {
    roundtrip_all(ZarrVersion::V2, false);
}

#[test]
fn roundtrip_v3() {
    roundtrip_all(ZarrVersion::V3, false);
}

#[test]
fn roundtrip_v3_sharded() {
    roundtrip_all(ZarrVersion::V3, true);
}

#[test]
fn tiles_that_differ_from_the_storage_chunks() {
    let dir = TempDir::new("rechunked");
    let data = formula::<f64>(&[17, 11]);
    let d = dir.path();

    // Tiles [5, 3] stored in chunks [4, 4].
    let x = from_ndarray(&data, [5, 3]).unwrap();
    x.to_zarr(d, "a", &WriteOptions::default().chunks([4, 4]))
        .unwrap();
    let a = zarr::open(d, "a").unwrap();
    assert_eq!(a.chunks(), &ChunkGrid::regular(&[17, 11], &[4, 4]).unwrap());
    assert_same(
        &a.into_typed::<f64>().unwrap().compute().unwrap(),
        &data,
        "a",
    );

    // Rechunked before writing, then stored in shards of chunks, and in v2.
    let y = from_ndarray(&data, [17, 11])
        .unwrap()
        .rechunk([6, 2])
        .unwrap();
    y.to_zarr(
        d,
        "b",
        &WriteOptions::default().chunks([4, 4]).shards([8, 8]),
    )
    .unwrap();
    y.to_zarr(
        d,
        "c",
        &WriteOptions::default()
            .version(ZarrVersion::V2)
            .chunks([7, 5]),
    )
    .unwrap();
    assert_same(&read_back::<f64>(d, "b"), &data, "b");
    assert_same(&read_back::<f64>(d, "c"), &data, "c");

    // Irregular tiles with no chunk shape given: the first tile's shape is the chunk shape.
    let z = from_ndarray(&data, Chunks::Sizes(vec![vec![3, 9, 5], vec![2, 9]])).unwrap();
    z.to_zarr(d, "d", &WriteOptions::default()).unwrap();
    let back = zarr::open(d, "d").unwrap();
    assert_eq!(
        back.chunks(),
        &ChunkGrid::regular(&[17, 11], &[3, 2]).unwrap()
    );
    assert_same(
        &back.into_typed::<f64>().unwrap().compute().unwrap(),
        &data,
        "d",
    );

    // A computed expression, not just a source.
    let e = &x * 2.0 + 1.0;
    e.to_zarr(d, "e", &WriteOptions::default().chunks([6, 6]))
        .unwrap();
    let expected = data.mapv(|v| v * 2.0 + 1.0);
    assert_same(&read_back::<f64>(d, "e"), &expected, "e");
}

#[test]
fn each_write_unit_is_stored_once() {
    let dir = TempDir::new("writes");
    let (store, metrics) = counted(dir.path());
    let data = formula::<f64>(&[40, 40]);
    // Tiles [6, 7] over storage chunks [4, 4]: 100 chunks, each written by one task.
    let x = from_ndarray(&data, [6, 7]).unwrap();
    x.to_zarr(&store, "a", &WriteOptions::default().chunks([4, 4]))
        .unwrap();
    assert_eq!(
        metrics.writes(),
        100 + 1 + 1,
        "100 chunks, the metadata and the root group's (created by this first write)"
    );
    metrics.reset();
    x.to_zarr(
        &store,
        "b",
        &WriteOptions::default().chunks([4, 4]).shards([20, 20]),
    )
    .unwrap();
    assert_eq!(metrics.writes(), 4 + 1, "4 shards and the metadata");
    assert_same(&read_back::<f64>(&store, "b"), &data, "b");
}

#[test]
fn zero_dimensional_and_empty_arrays() {
    let dir = TempDir::new("edge");
    let d = dir.path();
    for version in [ZarrVersion::V2, ZarrVersion::V3] {
        let name = format!("scalar_{version:?}");
        let x = from_ndarray(&formula::<f64>(&[3, 4]), [2, 2])
            .unwrap()
            .sum();
        let expected = x.compute().unwrap();
        x.to_zarr(d, &name, &WriteOptions::default().version(version))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let back = open_typed::<f64>(d, &name);
        assert_eq!(back.shape(), Vec::<usize>::new());
        assert_same(&back.compute().unwrap(), &expected, &name);

        let name = format!("empty_{version:?}");
        let e = from_ndarray(&ArrayD::<i32>::zeros(IxDyn(&[0, 5])), [2, 2]).unwrap();
        e.to_zarr(d, &name, &WriteOptions::default().version(version))
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        let back = open_typed::<i32>(d, &name);
        assert_eq!(back.shape(), vec![0, 5]);
        assert_eq!(back.compute().unwrap().shape(), &[0, 5]);
    }
}

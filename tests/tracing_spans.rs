//! `tracing` spans: a subscriber installed by the application sees the plan, the
//! computation, each task (with its node and block) and each Zarr tile read and write, with
//! how each tile read was decoded.

#![allow(missing_docs)]

#[path = "common/spans.rs"]
mod spans;
#[path = "common/zarr_util.rs"]
mod zarr_util;

use chunkwise::io::zarr::{
    self, BloscCompressor, BloscShuffle, Compression, OpenOptions, WriteOptions,
};
use chunkwise::{Config, from_fn};
use ndarray::{ArrayD, IxDyn};
use zarr_util::TempDir;

// One test in this binary, so that the counts of spans of every kind are this test's.
#[test]
fn plan_task_and_io_spans_reach_a_subscriber() {
    let spans = spans::spans();
    let dir = TempDir::new("tracing");
    let ones = from_fn::<f64, _>(&[8, 6], [4, 3], |_, ranges| {
        let shape: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
        ArrayD::from_elem(IxDyn(&shape), 1.0)
    })
    .unwrap();
    ones.to_zarr(dir.path(), "a", &WriteOptions::default())
        .unwrap();
    let open = |name: &str| {
        zarr::open(dir.path(), name)
            .unwrap()
            .into_typed::<f64>()
            .unwrap()
    };
    let total = (&open("a") + 1.0).sum();
    let value = total.compute_with(&Config::default().threads(2)).unwrap();
    assert_eq!(value.sum(), 96.0);

    let plans = spans.named("plan");
    assert_eq!(plans.len(), 2, "{plans:?}");
    assert!(plans.iter().all(|f| f.contains("tasks=")), "{plans:?}");
    assert_eq!(spans.named("compute").len(), 2);
    let tasks = spans.named("task");
    // Four blocks written, then four read-and-add-and-sum partials and their combine.
    assert!(tasks.len() >= 9, "{tasks:?}");
    for block in ["[0, 0]", "[0, 1]", "[1, 0]", "[1, 1]"] {
        assert!(
            tasks.iter().any(|f| f.contains(&format!("block={block}"))),
            "no task span for block {block}: {tasks:?}"
        );
    }
    assert!(tasks.iter().all(|f| f.contains("node=")), "{tasks:?}");
    assert_eq!(spans.named("zarr_write").len(), 4);
    // Each tile is one zstd chunk (the default compression), decoded block by block from
    // its file as the sum folds it.
    let reads = spans.zarr_reads("/a");
    assert_eq!(reads.len(), 4, "{reads:?}");
    let from_file = "decoded=\"zstd blocks of the chunk file\"";
    assert!(reads.iter().all(|f| f.contains(from_file)), "{reads:?}");

    // Blosc chunks are decompressed whole into their tiles; a tile of two chunks (opened
    // with tiles of its own), and chunks of a layout without a fast path, go through
    // zarrs' codec pipeline.
    let blosc = Compression::Blosc {
        cname: BloscCompressor::Lz4,
        clevel: 5,
        shuffle: BloscShuffle::Shuffle,
    };
    let pipeline = "zarrs codec pipeline";
    let layouts = [
        ("blosc", blosc, [4, 3], "chunk decompressed whole"),
        ("raw", Compression::None, [4, 3], pipeline),
        ("rows", Compression::default(), [4, 6], pipeline),
    ];
    for (name, compression, tiles, how) in layouts {
        let options = WriteOptions::default()
            .compression(compression)
            .chunks([4, 3]);
        ones.to_zarr(dir.path(), name, &options).unwrap();
        let tiles = OpenOptions {
            chunks: Some(tiles.into()),
        };
        let read = zarr::open_with(dir.path(), name, &tiles).unwrap();
        let read = read.into_typed::<f64>().unwrap().compute().unwrap();
        assert_eq!(read, ones.compute().unwrap(), "{name}");
        let reads = spans.zarr_reads(&format!("/{name}"));
        let expected = format!("decoded={how:?}");
        assert!(!reads.is_empty(), "{name}");
        assert!(
            reads.iter().all(|f| f.contains(&expected)),
            "{name}: {reads:?}"
        );
    }
}

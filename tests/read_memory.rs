//! What reading a stored tile holds besides the tile (the encoded chunk, a chunk decoded
//! before its part is copied out) counts in the memory budget: the run's tracked peak
//! bounds the bytes really allocated, measured by a counting allocator. Alone in its test
//! binary, so that the allocations counted are its own.
#![allow(missing_docs)]

#[path = "common/zarr_util.rs"]
mod zarr_util;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use chunkwise::Config;
use chunkwise::io::zarr::{self, Compression, WriteOptions};
use zarr_util::TempDir;

/// The system allocator, counting the bytes live now and the most live since a reset.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: the caller's layout, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let grown = new_size - layout.size();
            let live = LIVE.fetch_add(grown, Ordering::Relaxed) + grown;
            PEAK.fetch_max(live, Ordering::Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: as for `alloc` and `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The bytes allocated at most while `run` ran, above what was live when it started.
fn allocated_peak<R>(run: impl FnOnce() -> R) -> (R, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let result = run();
    (result, PEAK.load(Ordering::Relaxed) - before)
}

#[test]
fn the_tracked_peak_of_a_read_bounds_what_it_allocates() {
    let dir = TempDir::new("read-memory");
    let store = dir.join("store");
    // Random doubles barely compress: an encoded chunk is nearly a tile's size. Gzip chunks
    // go through zarrs' codec pipeline, which holds the encoded chunk and a decoded one
    // beside the tile it fills.
    let (n, c) = (1024, 512);
    let x = chunkwise::random::uniform::<f64>(3, 0.0, 1.0, &[n, n], [c, c]).unwrap();
    let expected = (&x * 2.0).compute().unwrap();
    for (what, compression) in [
        ("gzip", Compression::Gzip { level: 1 }),
        ("zstd", Compression::Zstd { level: 1 }),
    ] {
        let options = WriteOptions::default().compression(compression);
        x.to_zarr(&store, what, &options).unwrap();
        let stored = zarr::open(&store, what)
            .unwrap()
            .into_typed::<f64>()
            .unwrap();
        // One thread: one tile read at a time. Not a reduction, so no source is folded as
        // it is decoded: each tile is read whole.
        let config = Config::default().threads(1);
        let twice = &stored * 2.0;
        let ((values, report), allocated) =
            allocated_peak(|| twice.compute_report(&config).unwrap());
        assert_eq!(values, expected);
        let tile = (c * c * 8) as u64;
        // The result is allocated whole by `compute` (beside the budget, which bounds the
        // tiles of the run); the rest (plan, queues, codec state) within a quarter tile.
        let result = (n * n * 8) as u64;
        assert!(
            allocated as u64 <= report.peak_bytes + result + tile / 4,
            "{what}: allocated {allocated} bytes, tracked peak {} ({} tiles of {tile})",
            report.peak_bytes,
            report.peak_bytes as f64 / tile as f64
        );
        eprintln!(
            "{what}: allocated {:.2} tiles beside the result, tracked {:.2}",
            (allocated as u64).saturating_sub(result) as f64 / tile as f64,
            report.peak_bytes as f64 / tile as f64
        );
    }
}

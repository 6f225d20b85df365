//! `cargo bench --bench sizes`: how long the huge cases of tests/sizes.rs take. Each is
//! answered from the shapes alone (O(rank), or O(tasks) refused before it starts), so it
//! should take micro- to milliseconds where work per chunk or per element would take
//! minutes; each line gives the median time beside the bound the tests once asserted.
//!
//! - open a 10^12 x 10^12 array (refused as too large) and a 2^30 x 2^30 one in 8 x 8
//!   chunks (2^54 of them), then write a 3 x 10 region into it;
//! - a regular grid of 2^40 x 449,390 chunks; elementwise work, printing and slices of
//!   2^40-element arrays in 2^10- and 2^12-element tiles;
//! - plans refused for too many tasks (2^40 tiles, 2^34 partial sums, a u32 range tile by
//!   tile) and a result too large to allocate (a petabyte).
//!
//! Name workloads (`open`, `grids`, `refusals`) as arguments to run only those.
#![allow(missing_docs)]

mod common;
#[path = "../tests/common/huge_zarr.rs"]
mod huge_zarr;

use std::time::Duration;

use chunkwise::io::zarr;
use chunkwise::{BuildError, ChunkGrid, Config, Error, ExecError, PlanError};
use common::median;
use huge_zarr::{write_chunk, write_metadata};
use ndarray::{ArrayD, IxDyn, s};

/// Times `f` (median of 5 runs) and prints it beside `bound`; returns the last result.
fn measure<R>(what: &str, bound: Duration, f: impl FnMut() -> R) -> R {
    let (t, r) = median(5, f);
    let note = if t < bound {
        ""
    } else {
        "  <-- over the bound"
    };
    println!(
        "{what:<50} {:>12.2} us   (bound {:>2} s: {:.1e} of it){note}",
        t.as_secs_f64() * 1e6,
        bound.as_secs(),
        t.as_secs_f64() / bound.as_secs_f64()
    );
    r
}

fn store(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "chunkwise-bench-sizes-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn open() {
    println!("\n== opening and writing arrays of 10^24 and 2^60 elements");
    let d = store("open-1e12");
    write_metadata(
        &d,
        "a",
        &[1_000_000_000_000, 1_000_000_000_000],
        &[1000, 1000],
    );
    let opened = measure(
        "open 10^12 x 10^12 (refused: too large)",
        Duration::from_secs(5),
        || zarr::open(&d, "a"),
    );
    assert!(matches!(
        opened,
        Err(Error::Build(BuildError::TooLarge { .. }))
    ));
    std::fs::remove_dir_all(&d).unwrap();

    let d = store("sparse");
    let (n, c) = (1usize << 30, 8usize);
    write_metadata(&d, "a", &[n as u64, n as u64], &[c as u64, c as u64]);
    write_chunk(&d, "a", c, 5, 7);
    let a = measure(
        "open 2^30 x 2^30 in 8 x 8 chunks (2^54 chunks)",
        Duration::from_secs(5),
        || zarr::open(&d, "a").unwrap().into_typed::<f32>().unwrap(),
    );
    assert_eq!(a.shape(), vec![n, n]);
    let patch = ArrayD::from_shape_fn(IxDyn(&[3, 10]), |i| (i[0] * 10 + i[1]) as f32 + 0.5);
    let region = [1_000_006..1_000_009, 2_000_005..2_000_015];
    let x = chunkwise::from_ndarray(&patch, [3, 10]).unwrap();
    measure(
        "write a 3 x 10 region into it (6 chunks)",
        Duration::from_secs(20),
        || {
            x.to_zarr_region(&d, "a", &region, &Config::default())
                .unwrap()
        },
    );
    let back = a
        .slice(s![1_000_006..1_000_009, 2_000_005..2_000_015])
        .unwrap();
    assert_eq!(back.compute().unwrap(), patch);
    std::fs::remove_dir_all(&d).unwrap();
}

fn grids() {
    println!("\n== grids and arrays of 2^40 elements");
    let (n, m) = (1usize << 40, 3usize << 20);
    let grid = measure(
        "ChunkGrid::regular 2^40 x 3 * 2^20 in 1 x 7",
        Duration::from_secs(1),
        || ChunkGrid::regular(&[n, m], &[1, 7]).unwrap(),
    );
    assert_eq!(grid.nblocks(), vec![n, m.div_ceil(7)]);
    let x = chunkwise::arange::<i64>(0, n as i64, 1, [1 << 10]).unwrap();
    let y = chunkwise::full(&[n], 3i64, [1 << 12]).unwrap();
    let z = measure(
        "x * y, tiles of 2^10 and 2^12",
        Duration::from_secs(1),
        || &x * &y,
    );
    let text = measure("format!(\"{z:?}\")", Duration::from_secs(1), || {
        format!("{z:?}")
    });
    assert!(text.contains(&format!("shape [{n}]")));
    let every_fourth = measure("z.slice(s![5..;4])", Duration::from_secs(1), || {
        z.slice(s![5..;4]).unwrap()
    });
    assert_eq!(every_fourth.shape(), vec![(n - 5).div_ceil(4)]);
    let every_third = measure(
        "z.slice(s![..;3]) (refused: a tile per tile)",
        Duration::from_secs(1),
        || z.slice(s![..;3]),
    );
    assert!(matches!(
        every_third,
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
}

fn refusals() {
    println!("\n== plans refused before they are made");
    let limit = Duration::from_secs(10);
    let too_many =
        |r: &Result<_, Error>| matches!(r, Err(Error::Plan(PlanError::TooManyTasks { .. })));
    let x = chunkwise::ones::<u8>(&[1 << 40], [1]).unwrap();
    let r = measure("task_count of 2^40 tiles", limit, || {
        x.task_count(&Config::default())
    });
    assert!(too_many(&r.map(|_| ())));
    let total = chunkwise::zeros::<u8>(&[1 << 34], [1]).unwrap().sum();
    let r = measure("sum of 2^34 one-element tiles", limit, || {
        total.compute_scalar()
    });
    assert!(too_many(&r.map(|_| ())));
    let range = chunkwise::arange::<u32>(0, u32::MAX, 1, [1]).unwrap();
    let r = measure(
        "max of a u32 range tile by tile (2^32 tiles)",
        limit,
        || range.max().compute_scalar(),
    );
    assert!(too_many(&r.map(|_| ())));
    let huge = chunkwise::zeros::<u8>(&[1 << 50], [1 << 33]).unwrap();
    let roomy = Config::default().memory_budget(1 << 40);
    let r = measure(
        "compute a petabyte (refused: cannot allocate)",
        limit,
        || huge.compute_with(&roomy),
    );
    assert!(matches!(
        r,
        Err(Error::Exec(ExecError::ResultAllocation { .. }))
    ));
}

fn main() {
    // Measured as a batch application runs: malloc keeps tile buffers for reuse, large
    // results get huge pages (opt-in, process-wide: see `tune_allocator`).
    chunkwise::tune_allocator();
    println!("chunkwise sizes bench: times of the huge cases of tests/sizes.rs");
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let run = |name: &str| which.is_empty() || which.iter().any(|w| w == name);
    if run("open") {
        open();
    }
    if run("grids") {
        grids();
    }
    if run("refusals") {
        refusals();
    }
}

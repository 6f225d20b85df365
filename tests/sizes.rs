//! Sizes that overflow or explode are refused with clear errors: huge chunk grids cost
//! O(rank), shapes too large to exist are `BuildError::TooLarge`, plans with too many
//! tasks are `PlanError::TooManyTasks` before anything is allocated per task, and integer
//! ranges are exact.
//!
//! These tests check values only; how long the huge cases take (well under a second where
//! work per chunk or per element would take minutes) is measured by `benches/sizes.rs`.
#![allow(missing_docs)]

#[path = "common/huge_zarr.rs"]
mod huge_zarr;

use chunkwise::io::zarr;
use chunkwise::prelude::*;
use chunkwise::{BuildError, ChunkGrid, Config, Error, PlanError};
use huge_zarr::{stored_value, write_chunk, write_metadata};
use ndarray::{ArrayD, IxDyn, s};

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("chunkwise-sizes-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn is_too_large<T>(result: &Result<T, Error>) -> bool {
    matches!(result, Err(Error::Build(BuildError::TooLarge { .. })))
}

fn is_too_many_tasks<T>(result: &Result<T, Error>) -> bool {
    matches!(result, Err(Error::Plan(PlanError::TooManyTasks { .. })))
}

#[test]
fn opening_a_shape_too_large_to_exist_is_refused_at_once() {
    let d = dir("open-1e12");
    write_metadata(
        &d,
        "a",
        &[1_000_000_000_000, 1_000_000_000_000],
        &[1000, 1000],
    );
    let opened = zarr::open(&d, "a");
    assert!(is_too_large(&opened), "{:?}", opened.map(|a| a.shape()));
    let message = opened.unwrap_err().to_string();
    assert!(message.contains("1000000000000"), "{message}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_huge_sparse_array_opens_in_o_rank_and_a_slice_reads_only_its_chunks() {
    let d = dir("sparse");
    // 2^60 elements in 2^54 chunks of 8 x 8 (2^27 chunks along each axis).
    let (n, c) = (1usize << 30, 8usize);
    write_metadata(&d, "a", &[n as u64, n as u64], &[c as u64, c as u64]);
    write_chunk(&d, "a", c, 5, 7);
    write_chunk(&d, "a", c, 6, 7);
    let a = zarr::open(&d, "a").unwrap().into_typed::<f32>().unwrap();
    assert_eq!(a.shape(), vec![n, n]);
    assert_eq!(a.chunks().nblocks(), vec![n / c, n / c]);
    assert_eq!(a.chunks().regular_chunk(0), Some(c));
    // Rows 44..52 cross chunk rows 5 and 6, columns 60..66 chunk columns 7 (written) and
    // 8 (never written: the fill value).
    let region = a.slice(s![44..52, 60..66]).unwrap();
    let expected = ArrayD::from_shape_fn(IxDyn(&[8, 6]), |i| {
        let (row, col) = (44 + i[0], 60 + i[1]);
        if col / c == 7 {
            stored_value(row, col)
        } else {
            -1.0
        }
    });
    assert_eq!(region.compute().unwrap(), expected);
    // Four stored chunks are read (two of them missing), each cut to its piece.
    assert!(region.task_count(&Config::default()).unwrap() <= 8);
    assert_eq!(
        region.sum().compute_scalar().unwrap(),
        expected.iter().sum::<f32>()
    );

    // A region written into the huge array touches only its chunks.
    let patch = ArrayD::from_shape_fn(IxDyn(&[3, 10]), |i| (i[0] * 10 + i[1]) as f32 + 0.5);
    let region = [1_000_006..1_000_009, 2_000_005..2_000_015];
    chunkwise::from_ndarray(&patch, [3, 10])
        .unwrap()
        .to_zarr_region(&d, "a", &region, &Config::default())
        .unwrap();
    let back = a
        .slice(s![1_000_000..1_000_016, 2_000_000..2_000_016])
        .unwrap()
        .compute()
        .unwrap();
    let expected = ArrayD::from_shape_fn(IxDyn(&[16, 16]), |i| {
        let (row, col) = (1_000_000 + i[0], 2_000_000 + i[1]);
        if region[0].contains(&row) && region[1].contains(&col) {
            patch[[row - region[0].start, col - region[1].start]]
        } else {
            -1.0
        }
    });
    assert_eq!(back, expected);
    // Two chunk rows x two chunk columns were written, and nothing else.
    let written: usize = std::fs::read_dir(d.join("a").join("c"))
        .unwrap()
        .map(|row| std::fs::read_dir(row.unwrap().path()).unwrap().count())
        .sum();
    assert_eq!(written, 2 + 2 * 2);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn huge_regular_grids_cost_o_rank_and_answer_lookups() {
    let (n, m) = (1usize << 40, 3usize << 20);
    let grid = ChunkGrid::regular(&[n, m], &[1, 7]).unwrap();
    assert_eq!(grid.nblocks(), vec![n, m.div_ceil(7)]);
    assert_eq!(grid.regular_chunk(1), Some(7));
    assert_eq!(grid.n_blocks(), n * m.div_ceil(7));
    assert_eq!(grid.block_ranges(&[n - 1, 5]), vec![n - 1..n, 35..42]);
    let last = m.div_ceil(7) - 1;
    assert_eq!(grid.block_shape(&[0, last]), vec![1, m - 7 * last]);
    assert_eq!(grid.block_of(1, m - 1), last);
    assert_eq!(grid.block_origin(&[12, 3]), vec![12, 21]);
    assert_eq!(grid.max_tile_len(), 7);
    // The same grid listed is equal to it.
    let small = ChunkGrid::regular(&[10, 9], &[4, 3]).unwrap();
    let listed = ChunkGrid::from_sizes(&[10, 9], vec![vec![4, 4, 2], vec![3, 3, 3]]).unwrap();
    assert_eq!(small, listed);
    assert_eq!(small.chunks(), &[vec![4, 4, 2], vec![3, 3, 3]]);

    // Arrays over such grids: elementwise work between different regular chunkings, a
    // reduction of a slice, printing, all without work per chunk.
    let x = chunkwise::arange::<i64>(0, n as i64, 1, [1 << 10]).unwrap();
    let y = chunkwise::full(&[n], 3i64, [1 << 12]).unwrap();
    let z = &x * &y;
    assert_eq!(z.chunks().regular_chunk(0), Some(1 << 10));
    let text = format!("{z:?}");
    assert!(text.contains(&format!("shape [{n}]")), "{text}");
    // Slices of a regular axis stay regular: contiguous ones, and steps that divide the
    // chunk length (every fourth element: 256 per tile).
    let every_fourth = z.slice(s![5..;4]).unwrap();
    assert_eq!(every_fourth.shape(), vec![(n - 5).div_ceil(4)]);
    assert_eq!(every_fourth.chunks().block_ranges(&[1]), vec![255..511]);
    let head = every_fourth.slice(s![250..260]).unwrap();
    let expected: Vec<i64> = (250..260).map(|k| 3 * (5 + 4 * k)).collect();
    assert_eq!(
        head.compute().unwrap().into_raw_vec_and_offset().0,
        expected
    );
    let tail = z.slice(s![3..]).unwrap().slice(s![-5..;-1]).unwrap();
    let expected: Vec<i64> = (n - 5..n).rev().map(|i| 3 * i as i64).collect();
    assert_eq!(
        tail.compute().unwrap().into_raw_vec_and_offset().0,
        expected
    );
    // A step that does not divide the chunk length would cut a tile per input tile (2^30
    // of them): refused, with advice, instead of listing them.
    let every_third = z.slice(s![..;3]);
    assert!(
        matches!(&every_third, Err(Error::Build(BuildError::InvalidArgument { reason, .. })) if reason.contains("rechunk")),
        "{every_third:?}"
    );
}

#[test]
fn shapes_too_large_to_exist_are_refused_when_built() {
    let big = [1usize << 33, 1 << 33];
    assert!(is_too_large(&chunkwise::ones::<f64>(
        &big,
        [1 << 20, 1 << 20]
    )));
    assert!(is_too_large(&chunkwise::ones::<u8>(&big, Chunks::Auto)));
    assert!(is_too_large(&chunkwise::zeros::<f64>(
        &[1 << 60],
        [1 << 30]
    )));
    assert!(is_too_large(&chunkwise::full(
        &[1 << 61],
        1.0f64,
        [1 << 30]
    )));
    assert!(is_too_large(&chunkwise::eye::<f32>(
        1 << 32,
        1 << 32,
        0,
        [1 << 16, 1 << 16]
    )));
    assert!(is_too_large(&chunkwise::linspace::<f64>(
        0.0,
        1.0,
        usize::MAX,
        [1 << 30]
    )));
    assert!(is_too_large(&chunkwise::random::uniform::<f64>(
        1,
        0.0,
        1.0,
        &big,
        [1 << 20, 1 << 20]
    )));
    assert!(is_too_large(&chunkwise::from_fn(&big, [1, 1], |_, _| {
        ArrayD::<f32>::zeros(IxDyn(&[1, 1]))
    })));
    // The largest that may exist still builds (lazily).
    let fits = chunkwise::ones::<u8>(&[1 << 31, 1 << 31], [1 << 16, 1 << 16]).unwrap();
    assert_eq!(fits.len(), 1 << 62);
    // Broadcasting and products whose results would be too large.
    let column = chunkwise::ones::<u8>(&[1 << 33, 1], [1 << 30, 1]).unwrap();
    let row = chunkwise::ones::<u8>(&[1, 1 << 33], [1, 1 << 30]).unwrap();
    assert!(is_too_large(&(&column + &row).check()));
    assert!(is_too_large(&(&column * &row).sum().check()));
    let v = chunkwise::ones::<f32>(&[1 << 33], [1 << 30]).unwrap();
    assert!(is_too_large(&v.outer(&v).and_then(|p| p.check())));
}

#[test]
fn plans_with_too_many_tasks_are_refused_before_they_are_made() {
    // 2^40 output tiles.
    let x = chunkwise::ones::<u8>(&[1 << 40], [1]).unwrap();
    let counted = x.task_count(&Config::default());
    assert!(is_too_many_tasks(&counted), "{counted:?}");
    let message = counted.unwrap_err().to_string();
    assert!(message.contains("larger chunks"), "{message}");
    // One output tile, but 2^34 partial sums.
    let total = chunkwise::zeros::<u8>(&[1 << 34], [1]).unwrap().sum();
    assert!(is_too_many_tasks(&total.compute_scalar()));
    // A whole u32 range, tile by tile (4 billion elements of 4 bytes: it may exist).
    let range = chunkwise::arange::<u32>(0, u32::MAX, 1, [1]).unwrap();
    assert_eq!(range.len(), u32::MAX as usize);
    assert!(is_too_many_tasks(&range.max().compute_scalar()));
    // The full i64 range cannot exist at all (2^64 - 1 values of 8 bytes).
    assert!(is_too_large(&chunkwise::arange::<i64>(
        i64::MIN,
        i64::MAX,
        1,
        [1 << 20]
    )));

    // A plan that is accepted, but whose result cannot be allocated (a petabyte in 2^17
    // tiles, under a budget that fits a tile): an error before anything runs.
    let huge = chunkwise::zeros::<u8>(&[1 << 50], [1 << 33]).unwrap();
    let roomy = Config::default().memory_budget(1 << 40);
    let computed = huge.compute_with(&roomy);
    assert!(
        matches!(
            computed,
            Err(Error::Exec(chunkwise::ExecError::ResultAllocation { .. }))
        ),
        "{:?}",
        computed.map(|r| r.len())
    );

    // The limit follows the budget: bookkeeping per task must fit it.
    // (Tiles of 2: one partial per tile. Tiles of 1 are thin, and one partial folds several.)
    let many = chunkwise::zeros::<u8>(&[400_000], [2]).unwrap().sum();
    let small = Config::default().memory_budget(1 << 20);
    assert!(is_too_many_tasks(&many.task_count(&small)));
    let large = Config::default().memory_budget(1 << 30);
    assert!(many.task_count(&large).unwrap() > 200_000);
}

/// `arange` of type `T` from `start` to `stop` by `step` against the same range counted in
/// i128.
fn check_int_range<T>(start: T, stop: T, step: T)
where
    T: chunkwise::Numeric + Into<i128> + std::fmt::Debug,
{
    let (a, b, s): (i128, i128, i128) = (start.into(), stop.into(), step.into());
    let mut expected = Vec::new();
    let mut v = a;
    while (s > 0 && v < b) || (s < 0 && v > b) {
        expected.push(v);
        v += s;
    }
    let x = chunkwise::arange::<T>(start, stop, step, [3]).unwrap();
    let found: Vec<i128> = x
        .compute()
        .unwrap()
        .into_raw_vec_and_offset()
        .0
        .into_iter()
        .map(Into::into)
        .collect();
    assert_eq!(found, expected, "arange({start:?}, {stop:?}, {step:?})");
}

#[test]
fn integer_ranges_are_exact() {
    let big = 1i64 << 53;
    check_int_range(big + 1, big + 5, 1);
    check_int_range(i64::MAX - 10, i64::MAX, 3);
    check_int_range(i64::MIN + 7, i64::MIN, -2);
    check_int_range(i64::MIN, i64::MAX, 1 << 62);
    check_int_range(i64::MAX, i64::MIN, -(1 << 62));
    check_int_range(u64::MAX - 3, u64::MAX, 1);
    check_int_range(0, u64::MAX, 1 << 62);
    check_int_range(u32::MAX - 4, u32::MAX, 1);
    check_int_range(i32::MAX, i32::MIN, i32::MIN);
    check_int_range(i32::MIN, i32::MAX, i32::MAX);
    check_int_range(i16::MAX, i16::MIN, -5000);
    check_int_range(u16::MAX - 6, u16::MAX, 2);
    check_int_range(i8::MIN, i8::MAX, 1);
    check_int_range(i8::MAX, i8::MIN, -1);
    check_int_range(0u8, u8::MAX, 1);
    check_int_range(10u8, 3, 1);
    check_int_range(-3i32, 11, 4);
    check_int_range(11i32, -3, -4);
    // As in NumPy, a step of 0 is an error.
    assert!(matches!(
        chunkwise::arange::<i32>(0, 5, 0, [2]),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
}

#[test]
fn float_ranges_keep_numpys_semantics() {
    let values = |x: Array<f64>| x.compute().unwrap().into_raw_vec_and_offset().0;
    // NumPy: len(np.arange(0, 1, 0.1)) == 10; np.arange(0, 0.3, 0.1) has 3 values.
    let tenths = values(chunkwise::arange::<f64>(0.0, 1.0, 0.1, [4]).unwrap());
    let expected: Vec<f64> = (0..10).map(|i| i as f64 * 0.1).collect();
    assert_eq!(tenths, expected);
    assert_eq!(
        chunkwise::arange::<f64>(0.0, 0.3, 0.1, [4]).unwrap().len(),
        3
    );
    let down = values(chunkwise::arange::<f64>(1.0, 0.0, -0.25, [3]).unwrap());
    assert_eq!(down, vec![1.0, 0.75, 0.5, 0.25]);
    assert!(chunkwise::arange::<f64>(0.0, f64::INFINITY, 1.0, [3]).is_err());
    assert!(chunkwise::arange::<f64>(0.0, 1e300, 1e-300, [3]).is_err());
}

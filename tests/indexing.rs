//! Integer indexing (`take`, `outer_index`, `vindex`) on random shapes and irregular
//! chunkings against the same selections made directly on the dense `ndarray`, plus the
//! tiles a take reads and its errors.

#![allow(missing_docs)]

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use chunkwise::{BuildError, Chunks, Error, ExecError, from_ndarray};
use common::*;
use ndarray::{ArrayD, Axis, IxDyn, Slice};
use proptest::prelude::*;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

/// `dense` as a lazy array in tiles of `chunks`, from a source that counts the tiles it
/// makes.
fn counting(dense: ArrayD<f64>, chunks: Chunks) -> (chunkwise::Array<f64>, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let shape = dense.shape().to_vec();
    let x = chunkwise::from_fn(&shape, chunks, move |_, ranges| {
        counter.fetch_add(1, Ordering::SeqCst);
        let mut view = dense.view();
        for (axis, r) in ranges.iter().enumerate() {
            view.slice_axis_inplace(Axis(axis), Slice::from(r.clone()));
        }
        view.to_owned()
    })
    .unwrap();
    (x, calls)
}

/// Raw numbers that [`in_range`] maps to indices (negative ones among them).
fn raw_indices() -> impl Strategy<Value = Vec<i64>> {
    proptest::collection::vec(0i64..1000, 0..12)
}

/// `raw` as valid indices of an axis of `len`, from `-len` to `len - 1`.
fn in_range(raw: &[i64], len: usize) -> Vec<i64> {
    let n = len as i64;
    raw.iter().map(|r| r % (2 * n) - n).collect()
}

/// NumPy's reading of a valid index.
fn positive(i: i64, len: usize) -> usize {
    if i < 0 {
        (i + len as i64) as usize
    } else {
        i as usize
    }
}

/// The dense oracle of `take`: `a.select` at the indices made positive.
fn take_dense(a: &ArrayD<f64>, list: &[i64], axis: usize) -> ArrayD<f64> {
    let len = a.shape()[axis];
    let resolved: Vec<usize> = list.iter().map(|&i| positive(i, len)).collect();
    a.select(Axis(axis), &resolved)
}

/// The dense oracle of `vindex`: point `k` is `a[lists[0][k], lists[1][k], ...]` followed by
/// the axes not indexed.
fn vindex_dense(a: &ArrayD<f64>, lists: &[Vec<i64>]) -> ArrayD<f64> {
    let k = lists.len();
    let n = lists[0].len();
    let mut shape = vec![n];
    shape.extend_from_slice(&a.shape()[k..]);
    let mut out = ArrayD::zeros(IxDyn(&shape));
    for p in 0..n {
        let mut sub = a.view();
        for list in lists {
            let i = positive(list[p], sub.shape()[0]);
            sub = sub.index_axis_move(Axis(0), i);
        }
        out.index_axis_mut(Axis(0), p).assign(&sub);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn take_equals_numpy_take(
        (shape, chunks) in shape_and_chunks(7),
        (raw, index_chunks) in raw_indices().prop_flat_map(|r| {
            let n = r.len();
            (Just(r), chunks_for(n))
        }),
        seed in 0u64..1000,
        pick in 0usize..1000,
    ) {
        let ndim = shape.len();
        let a = integer_valued(&shape, seed);
        let x = from_ndarray(&a, Chunks::Sizes(chunks.clone())).unwrap();
        let axis = pick % ndim;
        let list = in_range(&raw, shape[axis]);
        let want = take_dense(&a, &list, axis);
        // in memory, then fused arithmetic on the result
        let y = x.take(&list, axis as isize).unwrap();
        prop_assert_eq!(y.shape(), want.shape().to_vec());
        prop_assert_eq!(y.compute().unwrap(), want.clone());
        prop_assert_eq!((&y * 2.0).compute().unwrap(), want.mapv(|v| v * 2.0));
        // the same indices counted from the end of the axis
        let negative: Vec<i64> = list.iter().map(|&i| positive(i, shape[axis]) as i64 - shape[axis] as i64).collect();
        prop_assert_eq!(x.take(&negative, axis as isize - ndim as isize).unwrap().compute().unwrap(), want.clone());
        // lazy indices, in chunks of their own
        let lazy = from_ndarray(&ndarray::Array1::from(list.clone()), Chunks::Sizes(vec![index_chunks])).unwrap();
        prop_assert_eq!(x.take(&lazy, axis as isize).unwrap().compute().unwrap(), want);
    }

    #[test]
    fn take_reads_only_the_tiles_its_indices_touch(
        (shape, chunks) in shape_and_chunks(7),
        raw in raw_indices(),
        pick in 0usize..1000,
    ) {
        let ndim = shape.len();
        let axis = pick % ndim;
        let list = in_range(&raw, shape[axis]);
        prop_assume!(!list.is_empty());
        let dense = integer_valued(&shape, 7);
        let (x, calls) = counting(dense.clone(), Chunks::Sizes(chunks.clone()));
        let y = x.take(&list, axis as isize).unwrap();
        prop_assert_eq!(y.compute().unwrap(), take_dense(&dense, &list, axis));
        let along = &chunks[axis];
        let block_of = |i: usize| {
            let mut start = 0;
            along.iter().position(|&s| { start += s; i < start }).unwrap()
        };
        let touched: BTreeSet<usize> = list.iter().map(|&i| block_of(positive(i, shape[axis]))).collect();
        let others: usize = (0..ndim).filter(|&a| a != axis).map(|a| chunks[a].len()).product();
        prop_assert_eq!(calls.load(Ordering::SeqCst), touched.len() * others);
    }

    #[test]
    fn outer_index_equals_successive_takes(
        (shape, chunks) in shape_and_chunks(7),
        raws in proptest::collection::vec(proptest::option::of(raw_indices()), 0..4),
        seed in 0u64..1000,
    ) {
        let a = integer_valued(&shape, seed);
        let x = from_ndarray(&a, Chunks::Sizes(chunks)).unwrap();
        let lists: Vec<Option<Vec<i64>>> = raws
            .iter()
            .take(shape.len())
            .enumerate()
            .map(|(axis, raw)| raw.as_ref().map(|r| in_range(r, shape[axis])))
            .collect();
        let mut want = a.clone();
        for (axis, list) in lists.iter().enumerate() {
            if let Some(list) = list {
                want = take_dense(&want, list, axis);
            }
        }
        let refs: Vec<Option<&[i64]>> = lists.iter().map(|l| l.as_deref()).collect();
        prop_assert_eq!(x.outer_index(&refs).unwrap().compute().unwrap(), want);
    }

    #[test]
    fn vindex_picks_points(
        (shape, chunks) in shape_and_chunks(7),
        raws in proptest::collection::vec(0i64..1000, 0..30),
        k in 1usize..4,
        seed in 0u64..1000,
    ) {
        let k = k.min(shape.len());
        let n = raws.len() / k;
        let lists: Vec<Vec<i64>> = (0..k).map(|a| in_range(&raws[a * n..(a + 1) * n], shape[a])).collect();
        let a = integer_valued(&shape, seed);
        let x = from_ndarray(&a, Chunks::Sizes(chunks)).unwrap();
        let refs: Vec<&[i64]> = lists.iter().map(|l| l.as_slice()).collect();
        let y = x.vindex(&refs).unwrap();
        let want = vindex_dense(&a, &lists);
        prop_assert_eq!(y.shape(), want.shape().to_vec());
        prop_assert_eq!((&y + 1.0).compute().unwrap(), want.mapv(|v| v + 1.0));
    }
}

#[test]
fn take_within_one_tile_reads_that_tile_alone() {
    let (x, calls, dense) = counting_source(&[20, 6], &[5, 3]);
    // unsorted and repeated, all in rows 5..10 (tile 1 along axis 0)
    let y = x.take(&[7, 5, 9, 7, -11], 0).unwrap();
    assert_eq!(
        y.compute().unwrap(),
        take_dense(&dense, &[7, 5, 9, 7, 9], 0)
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "one row of tiles: 2 tiles along axis 1"
    );
    assert_eq!(y.task_count(&chunkwise::Config::default()).unwrap(), 4);
}

#[test]
fn evenly_spaced_indices_are_a_slice() {
    let a = integer_valued(&[12, 3], 1);
    let x = from_ndarray(&a, [4, 3]).unwrap();
    for list in [vec![1i64, 2, 3, 4, 5], vec![9, 6, 3, 0], vec![-1], vec![]] {
        let y = x.take(&list, 0).unwrap();
        assert_eq!(y.compute().unwrap(), take_dense(&a, &list, 0), "{list:?}");
        let plan = y.explain().unwrap();
        assert!(!plan.contains("take"), "{list:?}: {plan}");
    }
    let plan = x.take(&[3, 1, 2], 0).unwrap().explain().unwrap();
    assert!(plan.contains("take"), "{plan}");
}

#[test]
fn output_chunks_follow_the_index_order_in_pieces_of_few_tiles() {
    let a = integer_valued(&[40], 3);
    let x = from_ndarray(&a, [4]).unwrap();
    // ten tiles, one index in each, in reverse order with a repeat: chunks of at most 4
    let list: Vec<i64> = vec![37, 33, 29, 25, 21, 17, 13, 9, 5, 1, 37, 2];
    let y = x.take(&list, 0).unwrap();
    assert_eq!(y.chunks().chunks(), &[vec![4, 4, 4]]);
    assert_eq!(y.compute().unwrap(), take_dense(&a, &list, 0));
    // one element per tile: a chunk ends before a ninth source tile
    let x1 = from_ndarray(&a, [10]).unwrap();
    let y1 = x1.take(&[39, 0, 10, 20, 30, 1, 11, 21, 31, 2], 0).unwrap();
    assert_eq!(y1.chunks().chunks(), &[vec![10]]);
    let many = from_ndarray(&a, [1])
        .unwrap()
        .take(&[5, 3, 1, 0, 2, 4], 0)
        .unwrap();
    assert_eq!(many.chunks().chunks(), &[vec![1; 6]]);
}

#[test]
fn lazy_indices_stay_lazy_and_are_checked_at_compute() {
    let a = integer_valued(&[9, 2], 5);
    let x = from_ndarray(&a, [4, 2]).unwrap();
    let computed = chunkwise::arange::<i64>(0, 6, 1, [4]).unwrap() * 2 - 3; // -3, -1, ..., 7
    let y = x.take(&computed, 0).unwrap();
    assert_eq!(
        y.compute().unwrap(),
        take_dense(&a, &[-3, -1, 1, 3, 5, 7], 0)
    );
    let far = chunkwise::arange::<i64>(7, 11, 1, [2]).unwrap();
    let err = x.take(&far, 0).unwrap().compute().unwrap_err();
    assert!(
        matches!(
            err,
            Error::Exec(ExecError::IndexOutOfBounds {
                index: 9,
                axis: 0,
                len: 9
            })
        ),
        "{err:?}"
    );
    let wide = from_ndarray(&ndarray::arr1(&[u64::MAX]), [1]).unwrap();
    let err = x.take(&wide, 0).unwrap().compute().unwrap_err();
    assert!(
        matches!(err, Error::Exec(ExecError::IndexOutOfBounds { .. })),
        "{err:?}"
    );
    let small = from_ndarray(&ndarray::arr1(&[8u64, 0, 8]), [2]).unwrap();
    assert_eq!(
        x.take(&small, 0).unwrap().compute().unwrap(),
        take_dense(&a, &[8, 0, 8], 0)
    );
}

#[test]
fn bad_indices_are_errors() {
    let a = integer_valued(&[5, 3], 2);
    let x = from_ndarray(&a, [2, 2]).unwrap();
    let out_of_bounds = |e: Error| matches!(e, Error::Build(BuildError::IndexOutOfBounds { .. }));
    assert!(out_of_bounds(x.take(&[5], 0).unwrap_err()));
    assert!(out_of_bounds(x.take(&[-6], 0).unwrap_err()));
    assert!(out_of_bounds(x.take(&[0, i64::MIN], 1).unwrap_err()));
    assert!(out_of_bounds(x.vindex(&[&[0], &[3]]).unwrap_err()));
    assert!(out_of_bounds(
        x.outer_index(&[None, Some(&[3][..])]).unwrap_err()
    ));
    assert!(matches!(
        x.take(&[0], 2).unwrap_err(),
        Error::Build(BuildError::AxisOutOfRange { axis: 2, ndim: 2 })
    ));
    assert!(matches!(
        x.vindex(&[&[0, 1], &[0]]).unwrap_err(),
        Error::Build(BuildError::ShapeMismatch { .. })
    ));
    let invalid = |e: Error| matches!(e, Error::Build(BuildError::InvalidArgument { .. }));
    assert!(invalid(x.vindex(&[]).unwrap_err()));
    assert!(invalid(x.vindex(&[&[0], &[0], &[0]]).unwrap_err()));
    assert!(invalid(
        x.outer_index::<&[i64]>(&[None, None, None]).unwrap_err()
    ));
    let two_d = from_ndarray(&ndarray::arr2(&[[0i64, 1]]), [1, 2]).unwrap();
    assert!(invalid(x.take(&two_d, 0).unwrap_err()));
    // an empty axis has no valid index, but takes an empty list
    let empty = from_ndarray(&ArrayD::<f64>::zeros(IxDyn(&[0, 2])), [1, 2]).unwrap();
    assert!(out_of_bounds(empty.take(&[0], 0).unwrap_err()));
    let none = empty.take(Vec::<i64>::new(), 0).unwrap();
    assert_eq!(none.compute().unwrap().shape(), &[0, 2]);
}

#[test]
fn a_lazy_take_reads_the_whole_axis_within_the_budget() {
    let a = integer_valued(&[100, 10], 9);
    let x = from_ndarray(&a, [10, 10]).unwrap();
    // each task of a lazy take holds the ten tiles along axis 0 (8000 bytes)
    let lazy = chunkwise::arange::<i64>(0, 3, 1, [3]).unwrap();
    let small = chunkwise::Config::default().memory_budget(4000);
    let err = x.take(&lazy, 0).unwrap().compute_with(&small).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Plan(chunkwise::PlanError::TaskOverBudget { .. })
        ),
        "{err:?}"
    );
    // the same indices in memory read one tile
    let eager = x.take(&[2, 0, 1], 0).unwrap().compute_with(&small).unwrap();
    assert_eq!(eager, take_dense(&a, &[2, 0, 1], 0));
    let enough = chunkwise::Config::default().memory_budget(1 << 20);
    let got = x.take(&lazy, 0).unwrap().compute_with(&enough).unwrap();
    assert_eq!(got, take_dense(&a, &[0, 1, 2], 0));
}

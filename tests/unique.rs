//! `unique` (NumPy's `np.unique`, with `return_counts=True`) against a dense oracle: the
//! dense array's elements counted in a `BTreeMap` (integers) or sorted by `total_cmp` after
//! making NaN and zeros canonical (floats), over random shapes and irregular chunkings;
//! the shape of the tree, fusion before it, and errors by kind.

#![allow(missing_docs)]

mod common;

use std::collections::BTreeMap;

use chunkwise::{BuildError, Chunks, Config, Error, from_ndarray};
use common::*;
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;

/// Distinct values and their counts, for types with a total order.
fn counted_ord<T: Ord + Copy>(values: impl Iterator<Item = T>) -> (Vec<T>, Vec<u64>) {
    let mut seen = BTreeMap::new();
    for v in values {
        *seen.entry(v).or_insert(0u64) += 1;
    }
    seen.into_iter().unzip()
}

/// Distinct values and their counts of floats, NumPy's way: every NaN one value (last),
/// `-0.0` the same as `0.0`.
fn counted_f64(values: impl Iterator<Item = f64>) -> (Vec<f64>, Vec<u64>) {
    let mut canonical: Vec<f64> = values
        .map(|v| {
            if v.is_nan() {
                f64::NAN
            } else if v == 0.0 {
                0.0
            } else {
                v
            }
        })
        .collect();
    canonical.sort_by(f64::total_cmp);
    let mut out: (Vec<f64>, Vec<u64>) = (Vec::new(), Vec::new());
    for v in canonical {
        match out.0.last() {
            Some(last) if last.total_cmp(&v).is_eq() => *out.1.last_mut().unwrap() += 1,
            _ => {
                out.0.push(v);
                out.1.push(1);
            }
        }
    }
    out
}

/// Floats equal as `unique` counts them (NaN equals NaN, `-0.0` equals `0.0`).
fn same_floats(found: &[f64], expected: &[f64]) -> bool {
    found.len() == expected.len()
        && found
            .iter()
            .zip(expected)
            .all(|(a, b)| (a.is_nan() && b.is_nan()) || a == b)
}

fn flat<T: Clone>(a: ArrayD<T>) -> Vec<T> {
    assert_eq!(a.ndim(), 1, "a 1-d result");
    a.into_raw_vec_and_offset().0
}

/// A shape of 0 to 3 axes of lengths 0 to 7 (empty axes included), an irregular chunking of
/// it, a seed and a `split_every`.
fn case() -> impl Strategy<Value = (Vec<usize>, Vec<Vec<usize>>, u64, usize)> {
    proptest::collection::vec(0usize..8, 0..4).prop_flat_map(|shape| {
        let chunks: Vec<BoxedStrategy<Vec<usize>>> = shape.iter().map(|&n| chunks_for(n)).collect();
        (Just(shape), chunks, any::<u64>(), 2usize..6)
    })
}

/// Floats drawn from a few (so values repeat), NaN of both signs and both zeros among them.
fn pooled_floats(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let pool = [
        f64::NAN,
        -f64::NAN,
        -0.0,
        0.0,
        1.5,
        -3.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e300,
    ];
    let mut g = Lcg::new(seed);
    let n = shape.iter().product();
    let v = (0..n)
        .map(|_| pool[g.below(pool.len() as u64) as usize])
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn integers_with_many_repeats_match_counting((shape, chunks, seed, split) in case()) {
        let data = dense_small_i32(&shape, seed);
        let x = from_ndarray(&data, Chunks::Sizes(chunks)).unwrap();
        let (values, counts) = x.unique_with(split).compute_with_counts().unwrap();
        let expected = counted_ord(data.iter().copied());
        prop_assert_eq!(flat(values), expected.0.clone());
        prop_assert_eq!(flat(counts), expected.1);
        prop_assert_eq!(flat(x.unique().compute().unwrap()), expected.0.clone());
        prop_assert_eq!(x.unique().count().unwrap(), expected.0.len());
    }

    #[test]
    fn floats_with_nan_and_signed_zeros_match_counting((shape, chunks, seed, split) in case()) {
        let data = pooled_floats(&shape, seed);
        let x = from_ndarray(&data, Chunks::Sizes(chunks.clone())).unwrap();
        let (values, counts) = x.unique_with(split).compute_with_counts().unwrap();
        let expected = counted_f64(data.iter().copied());
        let values = flat(values);
        prop_assert!(same_floats(&values, &expected.0), "{:?} vs {:?}", values, expected.0);
        prop_assert_eq!(flat(counts), expected.1.clone());

        let single = data.mapv(|v| v as f32);
        let y = from_ndarray(&single, Chunks::Sizes(chunks)).unwrap();
        let (values, counts) = y.unique_with(split).compute_with_counts().unwrap();
        let values: Vec<f64> = flat(values).into_iter().map(f64::from).collect();
        let expected = counted_f64(single.iter().map(|&v| f64::from(v)));
        prop_assert!(same_floats(&values, &expected.0), "{:?} vs {:?}", values, expected.0);
        prop_assert_eq!(flat(counts), expected.1);
    }

    #[test]
    fn inverse_indices_rebuild_the_array((shape, chunks, seed, split) in case()) {
        // Integers: the index of each element's value among the sorted distinct values.
        let data = dense_small_i32(&shape, seed);
        let x = from_ndarray(&data, Chunks::Sizes(chunks.clone())).unwrap();
        let inverse = x.unique_with(split).inverse().unwrap().compute().unwrap();
        let sorted = counted_ord(data.iter().copied()).0;
        prop_assert_eq!(inverse.shape(), data.shape());
        for (&v, &i) in data.iter().zip(inverse.iter()) {
            prop_assert_eq!(sorted[i as usize], v);
        }
        // Floats: NaN of either sign is one value, as are both zeros.
        let floats = pooled_floats(&shape, seed);
        let y = from_ndarray(&floats, Chunks::Sizes(chunks)).unwrap();
        let inverse = y.unique().inverse().unwrap().compute().unwrap();
        let sorted = counted_f64(floats.iter().copied()).0;
        for (&v, &i) in floats.iter().zip(inverse.iter()) {
            let found = sorted[i as usize];
            prop_assert!((v.is_nan() && found.is_nan()) || v == found, "{} at {}", v, i);
        }
    }

    #[test]
    fn unsigned_bytes_and_bools_match_counting((shape, chunks, seed, split) in case()) {
        let wide = dense_i32(&shape, seed);
        let bytes = wide.mapv(|v| (v * 5) as u8);
        let x = from_ndarray(&bytes, Chunks::Sizes(chunks.clone())).unwrap();
        let (values, counts) = x.unique_with(split).compute_with_counts().unwrap();
        let expected = counted_ord(bytes.iter().copied());
        prop_assert_eq!(flat(values), expected.0);
        prop_assert_eq!(flat(counts), expected.1);

        let flags = x.greater(100u8);
        let (values, counts) = flags.unique_with(split).compute_with_counts().unwrap();
        let expected = counted_ord(bytes.iter().map(|&v| v > 100));
        prop_assert_eq!(flat(values), expected.0);
        prop_assert_eq!(flat(counts), expected.1);
    }
}

#[test]
fn empty_arrays_have_no_distinct_values() {
    for shape in [vec![0], vec![3, 0], vec![0, 4, 2]] {
        let data = ArrayD::<f64>::zeros(IxDyn(&shape));
        let chunks: Vec<usize> = shape.iter().map(|&n| n.max(1)).collect();
        let x = from_ndarray(&data, chunks).unwrap();
        let (values, counts) = x.unique().compute_with_counts().unwrap();
        assert_eq!(values.shape(), &[0]);
        assert_eq!(counts.shape(), &[0]);
        assert_eq!(x.unique().count().unwrap(), 0);
        let sized = x.unique().compute_chunk_sizes().unwrap();
        assert_eq!(sized.shape(), vec![0]);
        assert_eq!(sized.compute().unwrap().len(), 0);
    }
}

#[test]
fn one_element_is_its_own_unique_value() {
    let scalar = from_ndarray(&ndarray::arr0(-0.0f64).into_dyn(), Vec::<usize>::new()).unwrap();
    let (values, counts) = scalar.unique().compute_with_counts().unwrap();
    assert_eq!(flat(values), vec![0.0]);
    assert_eq!(flat(counts), vec![1]);
    let one = from_ndarray(&ndarray::arr1(&[f64::NAN]), [1]).unwrap();
    let values = flat(one.unique().compute().unwrap());
    assert!(values.len() == 1 && values[0].is_nan(), "{values:?}");
}

#[test]
fn computed_chunk_sizes_give_an_array_of_the_values() {
    let data = dense_small_i32(&[30, 7], 3);
    let x = from_ndarray(&data, [4, 3]).unwrap();
    let expected = counted_ord(data.iter().copied()).0;
    let values = x.unique().compute_chunk_sizes().unwrap();
    assert_eq!(values.shape(), vec![expected.len()]);
    let tail = values.slice(ndarray::s![1..]).unwrap().compute().unwrap();
    assert_eq!(flat(tail), expected[1..].to_vec());
}

/// Tile counts of the plan's nodes whose line names `what`, in the order printed.
fn tiles_of(plan: &str, what: &str) -> Vec<usize> {
    plan.lines()
        .filter(|line| line.contains(what))
        .map(|line| {
            let before = line.split(" tile(s)").next().unwrap();
            before.rsplit(' ').next().unwrap().parse().unwrap()
        })
        .collect()
}

#[test]
fn the_tree_merges_at_most_split_every_lists_per_task() {
    // 37 tiles, merged 3 at a time: 13, 5, 2 and 1 lists.
    let data = dense_i32(&[37, 4], 9);
    let x = from_ndarray(&data, [1, 4]).unwrap();
    let unique = x.unique_with(3);
    let plan = unique.explain().unwrap();
    assert_eq!(tiles_of(&plan, "unique (tile)"), vec![37], "{plan}");
    assert_eq!(
        tiles_of(&plan, "unique (merge)"),
        vec![1, 2, 5, 13],
        "{plan}"
    );
    let config = Config::default();
    let merges =
        unique.task_count(&config).unwrap() - x.unique_with(37).task_count(&config).unwrap();
    // A fan-in of 37 merges once; of 3, 21 times.
    assert_eq!(merges, 13 + 5 + 2 + 1 - 1);
    let expected = counted_ord(data.iter().copied());
    let (values, counts) = unique.compute_with_counts().unwrap();
    assert_eq!((flat(values), flat(counts)), expected);
}

#[test]
fn an_elementwise_chain_before_unique_is_one_fused_program() {
    let data = dense_small_i32(&[20, 6], 4);
    let x = from_ndarray(&data, [6, 4]).unwrap();
    let chain = ((&x * 3) + 1).map(|v: i32| v.abs() % 7);
    let plan = chain.unique().explain().unwrap();
    let elementwise: Vec<&str> = plan.lines().filter(|l| l.contains("Elemwise")).collect();
    assert_eq!(elementwise.len(), 1, "{plan}");
    let expected = counted_ord(data.iter().map(|&v| (v * 3 + 1).abs() % 7));
    let (values, counts) = chain.unique().compute_with_counts().unwrap();
    assert_eq!((flat(values), flat(counts)), expected);
}

#[test]
fn failed_arrays_and_bad_arguments_are_errors_by_kind() {
    let a = from_ndarray(&dense_f64(&[4, 3], 1), [2, 2]).unwrap();
    let b = from_ndarray(&dense_f64(&[5], 2), [2]).unwrap();
    let broken = &a + &b;
    let unique = broken.unique();
    let broadcast =
        |r: Result<(), Error>| matches!(r, Err(Error::Build(BuildError::Broadcast { .. })));
    assert!(broadcast(unique.check()));
    assert!(broadcast(unique.compute().map(|_| ())));
    assert!(broadcast(unique.compute_with_counts().map(|_| ())));
    assert!(broadcast(unique.count().map(|_| ())));
    assert!(broadcast(unique.compute_chunk_sizes().map(|_| ())));
    assert!(broadcast(unique.explain().map(|_| ())));
    for split in [0, 1] {
        assert!(matches!(
            a.unique_with(split).compute(),
            Err(Error::Build(BuildError::InvalidArgument { .. }))
        ));
    }
}

#[test]
fn tasks_declare_at_most_the_values_a_type_can_hold() {
    // 64 tiles of 4096 values, merged in one task: as bytes (256 values at most) the
    // lists fit a 1 MiB budget; as i32 (one distinct value per element at most) the merge
    // of 64 lists of up to 4096 values and counts does not.
    let data = dense_i32(&[64 * 4096], 5);
    let bytes = data.mapv(|v| v as u8);
    let tight = Config::default().memory_budget(1 << 20);
    let x = from_ndarray(&bytes, [4096]).unwrap().unique_with(64);
    assert!(x.explain_with(&tight).is_ok());
    let (values, counts) = x.compute_with_counts_with(&tight).unwrap();
    assert_eq!(
        (flat(values), flat(counts)),
        counted_ord(bytes.iter().copied())
    );
    let wide = from_ndarray(&data, [4096]).unwrap().unique_with(64);
    assert!(matches!(
        wide.explain_with(&tight),
        Err(Error::Plan(chunkwise::PlanError::TaskOverBudget { .. }))
    ));
    let (values, _) = wide.compute_with_counts().unwrap();
    assert_eq!(flat(values), counted_ord(data.iter().copied()).0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn selections_match_counting_what_they_select(
        (shape, chunks, seed, split) in case(),
        threshold in -5i32..5,
    ) {
        let data = dense_small_i32(&shape, seed);
        prop_assume!(!shape.is_empty());
        let x = from_ndarray(&data, Chunks::Sizes(chunks)).unwrap();
        let picked = x.mask(&x.less(threshold)).unwrap();
        let (values, counts) = picked.unique_with(split).compute_with_counts().unwrap();
        let expected = counted_ord(data.iter().copied().filter(|&v| v < threshold));
        prop_assert_eq!((flat(values), flat(counts)), expected);

        // Whole slices along the last axis, where its index is even.
        let last = shape.len() - 1;
        let keep: Vec<bool> = (0..shape[last]).map(|i| i % 2 == 0).collect();
        let condition = from_ndarray(&ndarray::Array1::from(keep.clone()), [2]).unwrap();
        let columns = x.compress(&condition, last as isize).unwrap();
        let (values, counts) = columns.unique_with(split).compute_with_counts().unwrap();
        let kept = data
            .indexed_iter()
            .filter(|(index, _)| keep[index[last]])
            .map(|(_, &v)| v);
        prop_assert_eq!((flat(values), flat(counts)), counted_ord(kept));
    }
}

#[test]
fn a_selection_is_not_selected_into_an_array_before_unique() {
    let data = dense_small_i32(&[40, 10], 8);
    let x = from_ndarray(&data, [8, 5]).unwrap();
    let unique = x.mask(&x.greater(0)).unwrap().unique();
    let plan = unique.explain().unwrap();
    assert!(!plan.contains("select"), "{plan}");
    assert!(!plan.contains("count selected"), "{plan}");
    let expected = counted_ord(data.iter().copied().filter(|&v| v > 0));
    let (values, counts) = unique.compute_with_counts().unwrap();
    assert_eq!((flat(values), flat(counts)), expected);
}

#[test]
fn a_selections_unique_has_no_inverse() {
    let x = from_ndarray(&ndarray::arr1(&[3, 1, 3]).into_dyn(), [2]).unwrap();
    let picked = x.mask(&x.greater(1)).unwrap().unique();
    let err = picked.inverse().unwrap_err();
    assert!(err.to_string().contains("compute_chunk_sizes"), "{err}");
}

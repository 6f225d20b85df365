//! reshape and ravel on random shapes and irregular chunkings, against ndarray's C-order
//! reshape; the plans they make (no rechunk where tiles split or merge whole) and errors.

#![allow(missing_docs)]

mod common;

use chunkwise::{BuildError, Chunks, Error, from_ndarray};
use common::*;
use ndarray::{ArrayD, IxDyn, Order};
use proptest::prelude::*;

/// `a` in `shape`, its elements in C order (the oracle).
fn dense_reshape(a: &ArrayD<f64>, shape: &[usize]) -> ArrayD<f64> {
    a.to_shape((IxDyn(shape), Order::RowMajor))
        .unwrap()
        .to_owned()
}

/// Products of consecutive runs of `factors`, cut where `cuts` says, with 1s put in where
/// `ones` says.
fn group(factors: &[usize], cuts: &[bool], ones: &[bool]) -> Vec<usize> {
    let mut shape = Vec::new();
    let mut run = 1;
    for (k, &f) in factors.iter().enumerate() {
        run *= f;
        if cuts[k] || k + 1 == factors.len() {
            shape.push(run);
            run = 1;
        }
        if ones[k] {
            shape.push(1);
        }
    }
    shape
}

/// An input shape, an irregular chunking of it, and a shape of the same size: both are
/// the same factors grouped differently (the output's in another order when `mix`), so
/// reshapes split, merge, and do both at once.
fn reshape_case() -> impl Strategy<Value = (Vec<usize>, Vec<Vec<usize>>, Vec<usize>)> {
    let factors = proptest::collection::vec(1usize..5, 1..6);
    factors
        .prop_flat_map(|f| {
            let n = f.len();
            let flags = || proptest::collection::vec(proptest::bool::weighted(0.4), n);
            (Just(f), flags(), flags(), flags(), flags(), any::<bool>())
        })
        .prop_flat_map(|(f, cut_in, ones_in, cut_out, ones_out, mix)| {
            let from = group(&f, &cut_in, &ones_in);
            let mut g = f.clone();
            if mix {
                g.reverse();
            }
            let to = group(&g, &cut_out, &ones_out);
            let chunks: Vec<BoxedStrategy<Vec<usize>>> =
                from.iter().map(|&n| chunks_for(n)).collect();
            (Just(from), chunks, Just(to))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn reshape_equals_the_c_order_reshape(
        (from, chunks, to) in reshape_case(),
        seed in 0u64..1000,
        unknown in 0usize..8,
    ) {
        let a = dense_f64(&from, seed);
        let x = from_ndarray(&a, Chunks::Sizes(chunks)).unwrap();
        let mut asked: Vec<isize> = to.iter().map(|&n| n as isize).collect();
        if unknown < asked.len() {
            asked[unknown] = -1;
        }
        let y = x.reshape(&asked).unwrap();
        prop_assert_eq!(y.shape(), to.clone());
        let want = dense_reshape(&a, &to);
        prop_assert_eq!(y.compute().unwrap(), want.clone());
        // Elementwise work after the reshape, and a reduction over it.
        let z = (&y * 2.0 + 1.0).compute().unwrap();
        prop_assert_eq!(z, want.mapv(|v| v * 2.0 + 1.0));
        let flat = x.ravel().unwrap();
        prop_assert_eq!(flat.compute().unwrap(), dense_reshape(&a, &[a.len()]));
    }
}

#[test]
fn splitting_a_leading_axis_along_whole_tiles_does_not_rechunk() {
    let x = chunkwise::zeros::<f32>(&[7300, 90, 180], [73, 90, 180]).unwrap();
    let y = x.reshape(&[20, 365, -1, -1]);
    assert!(y.is_err(), "two -1");
    let y = x.reshape(&[20, 365, 90, 180]).unwrap();
    assert_eq!(y.chunks().chunks()[..2], [vec![1; 20], vec![73; 5]]);
    let plan = y.explain().unwrap();
    assert!(plan.contains("reshape"), "{plan}");
    assert!(!plan.contains("rechunk"), "{plan}");
    // Merging whole rows back: no rechunk either.
    let back = y.reshape(&[7300, 90, 180]).unwrap();
    assert_eq!(back.chunks().chunks()[0], vec![73; 100]);
    assert!(!back.explain().unwrap().contains("rechunk"));
}

#[test]
fn a_merge_rechunks_only_the_trailing_axes_and_explain_shows_it() {
    let a = dense_f64(&[6, 4, 5], 3);
    let x = from_ndarray(&a, Chunks::Sizes(vec![vec![2, 4], vec![3, 1], vec![2, 3]])).unwrap();
    let y = x.reshape(&[24, 5]).unwrap();
    assert_eq!(y.chunks().chunks(), vec![vec![8, 16], vec![2, 3]]);
    let plan = y.explain().unwrap();
    let (rechunk, reshape) = (plan.find("rechunk"), plan.find("reshape"));
    assert!(rechunk.is_some() && reshape.is_some(), "{plan}");
    assert!(reshape < rechunk, "the reshape reads the rechunk: {plan}");
    // The rechunk joins axis 1 into one chunk and keeps the others' chunks.
    let line = plan.lines().find(|l| l.contains("rechunk")).unwrap();
    assert!(line.contains("[2, 4]x4x[2, 3]"), "{plan}");
    assert_eq!(y.compute().unwrap(), dense_reshape(&a, &[24, 5]));
    let total = (&y * &y).sum().compute_scalar().unwrap();
    let want: f64 = a.iter().map(|v| v * v).sum();
    assert!(
        (total - want).abs() <= 1e-9 * want.abs(),
        "{total} vs {want}"
    );
}

#[test]
fn empty_and_zero_d_arrays_reshape() {
    let a = ArrayD::<f64>::zeros(IxDyn(&[0, 3]));
    let x = from_ndarray(&a, Chunks::Sizes(vec![vec![0], vec![2, 1]])).unwrap();
    let y = x.reshape(&[3, 0, 2, 0]).unwrap();
    assert_eq!(y.shape(), vec![3, 0, 2, 0]);
    assert_eq!(y.compute().unwrap().shape(), &[3, 0, 2, 0]);
    assert_eq!(x.ravel().unwrap().shape(), vec![0]);
    assert!(
        x.reshape(&[-1, 0]).is_err(),
        "-1 is ambiguous among 0 elements"
    );
    let s = dense_f64(&[], 5);
    let x = from_ndarray(&s, Chunks::Sizes(vec![])).unwrap();
    let y = x.reshape(&[1, 1, -1]).unwrap();
    assert_eq!(y.compute().unwrap(), dense_reshape(&s, &[1, 1, 1]));
    assert_eq!(y.reshape(&[]).unwrap().compute().unwrap(), s);
}

#[test]
fn bad_shapes_are_errors() {
    let x = chunkwise::zeros::<f64>(&[4, 6], [3, 3]).unwrap();
    let huge = isize::MAX / 2;
    for shape in [
        &[5, 5][..],
        &[-1, -1],
        &[-2, 12],
        &[-1, 7],
        &[0, -1],
        &[25],
        &[huge, huge, 4],
    ] {
        match x.reshape(shape) {
            Err(Error::Build(BuildError::InvalidArgument { op, .. })) => assert_eq!(op, "reshape"),
            other => panic!("{shape:?}: {other:?}"),
        }
    }
}

//! flip, roll, pad, concatenate and tile on random shapes and irregular chunkings, against
//! the same operations written directly on the dense `ndarray` (NumPy's definitions).

#![allow(missing_docs)]

mod common;

use chunkwise::{Array, Chunks, Pad, from_ndarray};
use common::*;
use ndarray::{ArrayD, Axis, IxDyn};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn structure_ops_equal_their_dense_definitions(
        (shape, chunks) in shape_and_chunks(7),
        (other_len, other_chunks) in (1usize..6).prop_flat_map(|n| (Just(n), chunks_for(n))),
        seed in 0u64..1000,
        pick in 0usize..1000,
    ) {
        let ndim = shape.len();
        let a = integer_valued(&shape, seed);
        let x = from_ndarray(&a, Chunks::Sizes(chunks.clone())).unwrap();
        let axis = pick % ndim;
        // flip of one axis, then fused arithmetic.
        let mut want = a.clone();
        want.invert_axis(Axis(axis));
        let got = (&x.flip(Some(&[axis as isize])).unwrap() * 2.0 + 1.0).compute().unwrap();
        prop_assert_eq!(got, want.mapv(|v| v * 2.0 + 1.0));
        // roll by any shift.
        let shift = (pick as isize % 11) - 5;
        let n = shape[axis] as isize;
        let want = ArrayD::from_shape_fn(a.raw_dim(), |idx| {
            let mut from = idx.clone();
            from[axis] = (idx[axis] as isize - shift).rem_euclid(n) as usize;
            a[&from]
        });
        prop_assert_eq!(x.roll(shift, axis as isize).unwrap().compute().unwrap(), want);
        // pad in each mode, widths up to what the mode allows.
        let modes = [Pad::Constant(-3.0), Pad::Edge, Pad::Reflect, Pad::Symmetric, Pad::Wrap];
        let mode = modes[pick % modes.len()];
        let widths: Vec<(usize, usize)> = shape
            .iter()
            .enumerate()
            .map(|(k, &n)| {
                let limit = if matches!(mode, Pad::Reflect) { n - 1 } else { n };
                let limit = if matches!(mode, Pad::Constant(_)) { 3 } else { limit };
                ((pick / (k + 1)) % (limit + 1), (pick / (k + 2)) % (limit + 1))
            })
            .collect();
        let padded_shape: Vec<usize> =
            shape.iter().zip(&widths).map(|(n, (b, e))| n + b + e).collect();
        let want = ArrayD::from_shape_fn(IxDyn(&padded_shape), |idx| {
            let from: Option<Vec<usize>> = (0..ndim)
                .map(|k| {
                    numpy_pad_source(&mode, idx[k] as isize - widths[k].0 as isize, shape[k] as isize)
                        .map(|i| i as usize)
                })
                .collect();
            match (from, mode) {
                (Some(from), _) => a[IxDyn(&from)],
                (None, Pad::Constant(c)) => c,
                (None, _) => unreachable!("only constants have no source"),
            }
        });
        prop_assert_eq!(x.pad(&widths, mode).unwrap().compute().unwrap(), want);
        // concatenate with an array chunked otherwise, along `axis`.
        let mut other_shape = shape.clone();
        other_shape[axis] = other_len;
        let b = integer_valued(&other_shape, seed + 1);
        let mut sizes: Vec<Vec<usize>> = other_shape.iter().map(|&n| vec![n]).collect();
        sizes[axis] = other_chunks;
        let y: Array<f64> = from_ndarray(&b, Chunks::Sizes(sizes)).unwrap();
        let want = ndarray::concatenate(Axis(axis), &[a.view(), b.view()]).unwrap();
        let joined = chunkwise::concatenate(&[&x, &y], axis as isize).unwrap();
        prop_assert_eq!(joined.compute().unwrap(), want.clone());
        prop_assert_eq!(joined.sum().compute().unwrap().scalar(), want.sum());
        // tile with small repetitions.
        let reps: Vec<usize> = (0..ndim).map(|k| 1 + (pick >> k) % 3).collect();
        let tiled_shape: Vec<usize> = shape.iter().zip(&reps).map(|(n, r)| n * r).collect();
        let want = ArrayD::from_shape_fn(IxDyn(&tiled_shape), |idx| {
            let from: Vec<usize> = (0..ndim).map(|k| idx[k] % shape[k]).collect();
            a[IxDyn(&from)]
        });
        prop_assert_eq!(x.tile(&reps).unwrap().compute().unwrap(), want);
    }
}

#[test]
fn views_of_the_structure_ops_fuse_into_one_reduction() {
    let x = chunkwise::random::uniform::<f64>(1, 0.0, 1.0, &[40, 30], [16, 7]).unwrap();
    let y = x.flip(Some(&[0])).unwrap().moveaxis(&[0], &[1]).unwrap();
    let node_lines = |plan: &str| -> Vec<String> {
        plan.lines()
            .skip(1)
            .filter(|l| l.contains('#') && !l.contains("again"))
            .map(String::from)
            .collect()
    };
    // One reduction reading x (computed once: a generator is not read through a view that
    // moves elements) through two views, the arithmetic fused into it.
    let total = (&y * 2.0 - &x.transpose()).sum();
    let plan = total.explain().unwrap();
    let nodes = node_lines(&plan);
    assert_eq!(nodes.len(), 2, "{plan}");
    assert!(
        nodes[0].contains("Reduce sum") && nodes[0].contains("in0 = [39::-1, :] axes [1, 0]"),
        "{plan}"
    );
    assert!(nodes[1].contains("Source uniform"), "{plan}");
    let dense = x.compute().unwrap();
    let want = dense.sum();
    let got = total.compute_scalar().unwrap();
    assert!((got - want).abs() <= 1e-9 * want.abs(), "{got} vs {want}");
    // Broadcast to two copies, `y * 2` is computed once into tiles and read twice, not
    // fused (that would compute it twice).
    let z = x.transpose().broadcast_to(&[2, 30, 40]).unwrap();
    let total = (&y * 2.0 - &z).sum();
    let plan = total.explain().unwrap();
    let nodes = node_lines(&plan);
    assert_eq!(nodes.len(), 3, "{plan}");
    assert!(
        nodes[0].contains("broadcast input: its tile is repeated"),
        "{plan}"
    );
    let got = total.compute_scalar().unwrap();
    let want = 2.0 * want;
    assert!((got - want).abs() <= 1e-9 * want.abs(), "{got} vs {want}");
}

//! block, repeat and the wide and linear-ramp modes of pad on random shapes and irregular
//! chunkings, against NumPy's definitions written out on the dense `ndarray`.

#![allow(missing_docs)]

mod common;

use chunkwise::{Block, BuildError, Chunks, Error, Pad, from_ndarray};
use common::*;
use ndarray::{ArrayD, Axis, IxDyn, concatenate};
use proptest::prelude::*;

/// NumPy's `pad` of one axis of length `n` in a mirrored or wrapped mode, as it does it:
/// the pad areas filled in repeated steps (`_set_reflect_both`, `_set_wrap_both`), each
/// from what is filled so far. Returns where each padded position reads from.
fn numpy_pad_sources(n: usize, before: usize, after: usize, mode: &Pad<f64>) -> Vec<usize> {
    let total = before + n + after;
    let mut p: Vec<Option<usize>> = vec![None; total];
    for k in 0..n {
        p[before + k] = Some(k);
    }
    if matches!(mode, Pad::Reflect) && n == 1 {
        // NumPy extends a singleton axis as its edge in reflect mode.
        return vec![0; total];
    }
    let (mut left, mut right) = (before, after);
    while left > 0 || right > 0 {
        let valid = total - left - right;
        match mode {
            Pad::Wrap => {
                let period = valid / n * n;
                let (mut new_left, mut new_right) = (0, 0);
                if left > 0 {
                    let end = left + period;
                    let from = end - period.min(left);
                    let src: Vec<_> = p[from..end].to_vec();
                    let to = if left > period {
                        new_left = left - period;
                        left - period
                    } else {
                        0
                    };
                    p[to..to + src.len()].copy_from_slice(&src);
                }
                if right > 0 {
                    let from = total - right - period;
                    let src: Vec<_> = p[from..from + period.min(right)].to_vec();
                    if right > period {
                        new_right = right - period;
                    }
                    let to = total - right;
                    p[to..to + src.len()].copy_from_slice(&src);
                }
                (left, right) = (new_left, new_right);
            }
            _ => {
                let symmetric = matches!(mode, Pad::Symmetric);
                let (length, edge) = match symmetric {
                    true => (valid / n * n, 1),
                    false => ((valid - 1) / (n - 1) * (n - 1), 0),
                };
                if left > 0 {
                    let chunk = length.min(left);
                    let stop = left - edge;
                    for k in 0..chunk {
                        p[left - 1 - k] = p[stop + 1 + k];
                    }
                    left -= chunk;
                }
                if right > 0 {
                    let chunk = length.min(right);
                    // Reads backwards from position total - right + edge - 2.
                    let start = total - right + edge - 2;
                    for k in 0..chunk {
                        p[total - right + k] = p[start - k];
                    }
                    right -= chunk;
                }
            }
        }
    }
    p.into_iter()
        .map(|s| s.expect("every position filled"))
        .collect()
}

/// NumPy's `pad` of `a` in a mirrored or wrapped mode, one axis after the other.
fn dense_pad(a: &ArrayD<f64>, widths: &[(usize, usize)], mode: &Pad<f64>) -> ArrayD<f64> {
    let mut out = a.clone();
    for (axis, &(before, after)) in widths.iter().enumerate() {
        let sources = numpy_pad_sources(out.shape()[axis], before, after, mode);
        out = out.select(Axis(axis), &sources);
    }
    out
}

/// NumPy's `linear_ramp` pad of `a` with one end value: `np.linspace(end, edge, width,
/// endpoint=False)` on each side, from the outside in, one axis after the other.
fn dense_ramp(a: &ArrayD<f64>, widths: &[(usize, usize)], end: f64) -> ArrayD<f64> {
    let mut out = a.clone();
    for (axis, &(before, after)) in widths.iter().enumerate() {
        let n = out.shape()[axis];
        let side = |width: usize, edge_at: usize, from_outside: bool| {
            let edge = out.index_axis(Axis(axis), edge_at).to_owned();
            let lanes: Vec<ArrayD<f64>> = (0..width)
                .map(|k| {
                    let i = if from_outside { k } else { width - 1 - k } as f64;
                    edge.mapv(|e| i * ((e - end) / width as f64) + end)
                        .insert_axis(Axis(axis))
                })
                .collect();
            let views: Vec<_> = lanes.iter().map(|l| l.view()).collect();
            let mut shape = out.shape().to_vec();
            shape[axis] = 0;
            if views.is_empty() {
                ArrayD::zeros(IxDyn(&shape))
            } else {
                concatenate(Axis(axis), &views).unwrap()
            }
        };
        let (start, end_side) = (side(before, 0, true), side(after, n - 1, false));
        out = concatenate(Axis(axis), &[start.view(), out.view(), end_side.view()]).unwrap();
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn wide_mirrored_and_wrapped_pads_equal_numpy(
        (shape, chunks) in shape_and_chunks(6),
        widths in proptest::collection::vec((0usize..14, 0usize..14), 3),
        mode in 0usize..3,
        seed in 0u64..1000,
    ) {
        let mode = [Pad::Reflect, Pad::Symmetric, Pad::Wrap][mode];
        let widths = &widths[..shape.len()];
        let a = integer_valued(&shape, seed);
        let x = from_ndarray(&a, Chunks::Sizes(chunks)).unwrap();
        let got = x.pad(widths, mode).unwrap();
        let want = dense_pad(&a, widths, &mode);
        prop_assert_eq!(got.shape(), want.shape().to_vec());
        prop_assert_eq!(got.compute().unwrap(), want.clone());
        // Fused arithmetic on the padded views.
        prop_assert_eq!((&got * 2.0 - 1.0).compute().unwrap(), want.mapv(|v| v * 2.0 - 1.0));
    }

    #[test]
    fn linear_ramp_pads_equal_numpy(
        (shape, chunks) in shape_and_chunks(6),
        widths in proptest::collection::vec((0usize..5, 0usize..5), 3),
        end in -8.0f64..8.0,
        seed in 0u64..1000,
    ) {
        let widths = &widths[..shape.len()];
        let a = integer_valued(&shape, seed);
        let x = from_ndarray(&a, Chunks::Sizes(chunks)).unwrap();
        let got = x.pad(widths, Pad::LinearRamp(end)).unwrap().compute().unwrap();
        let want = dense_ramp(&a, widths, end);
        prop_assert_eq!(got.shape(), want.shape());
        for (g, w) in got.iter().zip(want.iter()) {
            prop_assert!((g - w).abs() <= 1e-12 * w.abs().max(1.0), "{} vs {}", g, w);
        }
    }

    #[test]
    fn repeat_equals_numpy(
        (shape, chunks) in shape_and_chunks(6),
        repeats in 0usize..4,
        pick in 0usize..3,
        seed in 0u64..1000,
    ) {
        let axis = pick % shape.len();
        let a = integer_valued(&shape, seed);
        let x = from_ndarray(&a, Chunks::Sizes(chunks)).unwrap();
        let got = x.repeat(repeats, axis as isize).unwrap();
        // NumPy's repeat: element i of the result along the axis is element i / repeats.
        let sources: Vec<usize> = (0..shape[axis] * repeats).map(|i| i / repeats).collect();
        let want = a.select(Axis(axis), &sources);
        prop_assert_eq!(got.compute().unwrap(), want.clone());
        prop_assert_eq!((&got + 1.0).sum().compute_scalar().unwrap(), want.sum() + want.len() as f64);
    }

    #[test]
    fn block_equals_numpy(
        rows in proptest::collection::vec(1usize..4, 1..3),
        widths in proptest::collection::vec(1usize..4, 1..3),
        seed in 0u64..1000,
    ) {
        // A grid of blocks: block (i, j) has rows[i] rows and widths[j] columns, in
        // chunks of 2 (so tiles are cut differently in each block).
        let dense: Vec<Vec<ArrayD<f64>>> = rows.iter().enumerate().map(|(i, &r)| {
            widths.iter().enumerate().map(|(j, &w)| integer_valued(&[r, w], seed + 10 * i as u64 + j as u64)).collect()
        }).collect();
        let lazy: Vec<Vec<chunkwise::Array<f64>>> = dense.iter().map(|row| {
            row.iter().map(|d| from_ndarray(d, [2, 2]).unwrap()).collect()
        }).collect();
        let refs: Vec<Vec<&chunkwise::Array<f64>>> = lazy.iter().map(|r| r.iter().collect()).collect();
        let rows_of: Vec<&[&chunkwise::Array<f64>]> = refs.iter().map(|r| r.as_slice()).collect();
        let got = chunkwise::block(&rows_of).unwrap().compute().unwrap();
        let joined: Vec<ArrayD<f64>> = dense.iter().map(|row| {
            let views: Vec<_> = row.iter().map(|d| d.view()).collect();
            concatenate(Axis(1), &views).unwrap()
        }).collect();
        let views: Vec<_> = joined.iter().map(|d| d.view()).collect();
        prop_assert_eq!(got, concatenate(Axis(0), &views).unwrap());
    }
}

#[test]
fn block_promotes_arrays_to_the_depth_and_rejects_ragged_lists() {
    // np.block([[a1, b1], [c2]]) with 1-d a1, b1 of length 2 and c2 of shape (1, 4).
    let a = integer_valued(&[2], 1);
    let b = integer_valued(&[2], 2);
    let c = integer_valued(&[1, 4], 3);
    let (xa, xb, xc) = (
        from_ndarray(&a, [1]).unwrap(),
        from_ndarray(&b, [2]).unwrap(),
        from_ndarray(&c, [1, 3]).unwrap(),
    );
    let nested = Block::List(vec![
        Block::List(vec![Block::Array(&xa), Block::Array(&xb)]),
        Block::List(vec![Block::Array(&xc)]),
    ]);
    let got = chunkwise::block_nested(&nested).unwrap().compute().unwrap();
    let top = concatenate(Axis(0), &[a.view(), b.view()])
        .unwrap()
        .insert_axis(Axis(0));
    let want = concatenate(Axis(0), &[top.view(), c.view()]).unwrap();
    assert_eq!(got, want);
    // Depth 3 with 2-d arrays: a new leading axis.
    let deep = Block::List(vec![Block::List(vec![Block::List(vec![Block::Array(
        &xc,
    )])])]);
    assert_eq!(
        chunkwise::block_nested(&deep).unwrap().shape(),
        vec![1, 1, 4]
    );
    let ragged = Block::List(vec![
        Block::Array(&xa),
        Block::List(vec![Block::Array(&xb)]),
    ]);
    let empty: Block<'_, f64> = Block::List(vec![]);
    // (2,) becomes (1, 2), which does not join (2, 4) along the last axis.
    let tall = from_ndarray(&integer_valued(&[2, 4], 5), [2, 2]).unwrap();
    let mismatched = Block::List(vec![Block::Array(&xa), Block::Array(&tall)]);
    for bad in [ragged, empty, mismatched] {
        match chunkwise::block_nested(&bad) {
            Err(Error::Build(BuildError::InvalidArgument { .. })) => {}
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}

#[test]
fn repeat_and_pad_errors() {
    let x = from_ndarray(&integer_valued(&[3, 4], 1), [2, 2]).unwrap();
    assert!(matches!(
        x.repeat(2, 2),
        Err(Error::Build(BuildError::AxisOutOfRange { .. }))
    ));
    let empty = from_ndarray(
        &ArrayD::<f64>::zeros(IxDyn(&[0, 2])),
        Chunks::Sizes(vec![vec![0], vec![2]]),
    )
    .unwrap();
    assert_eq!(empty.repeat(3, 0).unwrap().shape(), vec![0, 2]);
    assert_eq!(x.repeat(0, 1).unwrap().shape(), vec![3, 0]);
    for mode in [Pad::Reflect, Pad::Wrap, Pad::LinearRamp(0.0)] {
        assert!(matches!(
            empty.pad(&[(1, 0), (0, 0)], mode),
            Err(Error::Build(BuildError::InvalidArgument { .. }))
        ));
    }
    // A singleton axis padded in any periodic mode repeats its element (NumPy's legacy rule).
    let one = from_ndarray(&integer_valued(&[1, 2], 4), [1, 2]).unwrap();
    let want = one.compute().unwrap().select(Axis(0), &[0; 6]);
    for mode in [Pad::Reflect, Pad::Symmetric, Pad::Wrap] {
        assert_eq!(
            one.pad(&[(3, 2), (0, 0)], mode).unwrap().compute().unwrap(),
            want
        );
    }
}

#[test]
fn a_constant_pad_keeps_irregular_tiles_of_the_other_axes() {
    // Rows in tiles of 2 and 3: the constant block before the columns takes the same row
    // tiles, so joining it moves none of the array's tiles (no rechunk in the plan).
    let dense = integer_valued(&[5, 4], 9);
    let x = from_ndarray(&dense, Chunks::Sizes(vec![vec![2, 3], vec![3, 1]])).unwrap();
    let padded = x.pad(&[(0, 0), (2, 0)], Pad::Constant(-1.0)).unwrap();
    let plan = padded.explain().unwrap();
    assert!(!plan.contains("rechunk"), "{plan}");
    assert_eq!(padded.chunks().chunks()[0], vec![2, 3]);
    let constant = ArrayD::from_elem(IxDyn(&[5, 2]), -1.0);
    let want = concatenate(Axis(1), &[constant.view(), dense.view()]).unwrap();
    assert_eq!(padded.compute().unwrap(), want);
}

//! Slicing, axis rearrangements and rechunking against ndarray's own operations.

#![allow(missing_docs)]
// ndarray's `s![7..3]` and `s![1..-1]` are meaningful slices, not empty Rust ranges
#![allow(clippy::reversed_empty_ranges)]

mod common;

use std::sync::atomic::Ordering;

use chunkwise::{Array, BuildError, Chunks, Element, Error, from_ndarray};
use common::*;
use ndarray::{ArrayD, Axis, IxDyn, NewAxis, SliceInfoElem, s};

fn arr<T: Element>(dense: &ArrayD<T>, chunks: &Chunks) -> Array<T> {
    from_ndarray(dense, chunks.clone()).unwrap()
}

fn sizes(v: &[&[usize]]) -> Chunks {
    Chunks::Sizes(v.iter().map(|x| x.to_vec()).collect())
}

/// Slices with ndarray's semantics, checked against `ArrayBase::slice` on the dense array.
fn check_slices(shape: &[usize], chunks: Chunks, specs: Vec<Vec<SliceInfoElem>>) {
    let a = dense_f64(shape, shape.iter().sum::<usize>() as u64);
    let x = arr(&a, &chunks);
    for spec in specs {
        let want = a.slice(spec.as_slice()).to_owned();
        let y = x
            .slice(&spec)
            .unwrap_or_else(|e| panic!("{spec:?} on {shape:?}: {e}"));
        assert_eq!(y.shape(), want.shape(), "{spec:?} on {shape:?}");
        assert_eq!(
            y.compute().unwrap(),
            want,
            "{spec:?} on {shape:?} {chunks:?}"
        );
        // and work on the slice afterwards, fused or not
        let got = (&y * 2.0 + 1.0).compute().unwrap();
        assert_eq!(
            got,
            want.mapv(|v| v * 2.0 + 1.0),
            "{spec:?} then arithmetic"
        );
    }
}

fn v(info: impl AsRef<[SliceInfoElem]>) -> Vec<SliceInfoElem> {
    info.as_ref().to_vec()
}

#[test]
fn slicing_1d_irregular_chunks() {
    let specs = vec![
        v(s![..]),
        v(s![2..7]),
        v(s![..;2]),
        v(s![1..;3]),
        v(s![..;-1]),
        v(s![2..8;-2]),
        v(s![-3..]),
        v(s![..-2]),
        v(s![-8..-2;-3]),
        v(s![5..5]),
        v(s![7..3]),
        v(s![7..3;-1]),
        v(s![..;20]),
        v(s![..;-20]),
        v(s![9..]),
        v(s![10..]),
        v(s![10..;-1]),
        v(s![0..0;-2]),
        v(s![3]),
        v(s![-1]),
        v(s![-10]),
        v(s![NewAxis, 2..5]),
        v(s![1..9;-4, NewAxis]),
        v(s![NewAxis, -4, NewAxis]),
    ];
    check_slices(&[10], sizes(&[&[3, 1, 4, 2]]), specs.clone());
    check_slices(&[10], Chunks::Shape(vec![1]), specs.clone());
    check_slices(&[10], Chunks::Shape(vec![10]), specs);
}

#[test]
fn slicing_2d_to_4d() {
    check_slices(
        &[6, 5],
        sizes(&[&[3, 1, 2], &[2, 3]]),
        vec![
            v(s![.., ..]),
            v(s![1..5, 2]),
            v(s![-1, ..;-1]),
            v(s![..;2, 1..;2]),
            v(s![NewAxis, 3, NewAxis, ..;-2]),
            v(s![4..1, ..]),
            v(s![.., -2..]),
            v(s![2..6;-3, 0..5;4]),
            v(s![..;-1, ..;-1]),
            v(s![3, 4]),
            v(s![-6, -5]),
            v(s![5..;-1, 1..4;-2]),
        ],
    );
    check_slices(
        &[4, 3, 5],
        sizes(&[&[1, 3], &[3], &[2, 2, 1]]),
        vec![
            v(s![1.., .., ..;-2]),
            v(s![-1, 1, -1]),
            v(s![..;3, NewAxis, 1..3, 2..]),
            v(s![..;-2, 2, 1..4;-1]),
            v(s![2..2, .., ..]),
        ],
    );
    check_slices(
        &[2, 3, 4, 5],
        Chunks::Shape(vec![1, 2, 3, 2]),
        vec![
            v(s![1, ..;-1, 1..3, ..;2]),
            v(s![.., NewAxis, -1, ..;-3, 4]),
            v(s![..;-1, 1..2, ..;5, 1..-1]),
        ],
    );
    check_slices(
        &[4, 0],
        Chunks::Shape(vec![2, 2]),
        vec![v(s![1..3, ..]), v(s![..;-1, ..;-1]), v(s![2, ..])],
    );
    check_slices(
        &[],
        Chunks::Shape(vec![]),
        vec![v(s![]), v(s![NewAxis]), v(s![NewAxis, NewAxis])],
    );
}

#[test]
fn slicing_with_fewer_indices_than_axes_pads_with_full_ranges() {
    let a = dense_f64(&[5, 4, 3], 1);
    let x = arr(&a, &Chunks::Shape(vec![2, 3, 2]));
    assert_eq!(
        x.slice(s![1..3]).unwrap().compute().unwrap(),
        a.slice(s![1..3, .., ..]).to_owned().into_dyn()
    );
    assert_eq!(
        x.slice(s![-1, ..;-1]).unwrap().compute().unwrap(),
        a.slice(s![-1, ..;-1, ..]).to_owned().into_dyn()
    );
    assert_eq!(
        x.slice(s![NewAxis]).unwrap().compute().unwrap(),
        a.slice(s![NewAxis, .., .., ..]).to_owned().into_dyn()
    );
}

#[test]
fn slices_of_slices_and_of_computed_arrays() {
    let a = dense_f64(&[9, 8], 2);
    let x = arr(&a, &sizes(&[&[4, 1, 4], &[3, 3, 2]]));
    let y = x
        .slice(s![1..;2, ..;-1])
        .unwrap()
        .slice(s![..;-1, 1..6;2])
        .unwrap();
    let want = a
        .slice(s![1..;2, ..;-1])
        .slice(s![..;-1, 1..6;2])
        .to_owned()
        .into_dyn();
    assert_eq!(y.compute().unwrap(), want);
    let z = x.sin().slice(s![2..7, -1]).unwrap();
    assert_close(
        &z.compute().unwrap(),
        &a.slice(s![2..7, -1]).mapv(f64::sin).into_dyn(),
        2e-15,
    );
    // a slice combined with an unsliced array of another grid
    let b = dense_f64(&[4, 8], 3);
    let w = &x.slice(s![1..;2, ..]).unwrap() - &arr(&b, &Chunks::Shape(vec![3, 5]));
    assert_eq!(w.compute().unwrap(), &a.slice(s![1..;2, ..]) - &b);
}

/// A step longer than the axis takes one element (NumPy's `a[::2**63 - 1]`), also the
/// longest steps of either sign, and in a slice of such a slice.
#[test]
fn steps_longer_than_the_axis_take_one_element() {
    let a = dense_f64(&[9, 8], 4);
    let x = arr(&a, &sizes(&[&[4, 1, 4], &[3, 3, 2]]));
    for (rows, cols) in [
        (isize::MAX, 1),
        (isize::MIN, 3),
        (9, isize::MAX),
        (-10, isize::MIN),
    ] {
        let y = x.slice(s![..;rows, 1..;cols]).unwrap();
        let want = a.slice(s![..;rows, 1..;cols]).to_owned().into_dyn();
        assert_eq!(y.compute().unwrap(), want, "steps {rows}, {cols}");
        let z = y.slice(s![..;-1, ..;isize::MAX]).unwrap();
        let want = want.slice(s![..;-1, ..;isize::MAX]).to_owned().into_dyn();
        assert_eq!(
            z.compute().unwrap(),
            want,
            "steps {rows}, {cols}, then -1, max"
        );
    }
}

#[test]
fn slicing_errors() {
    let x = arr(&dense_f64(&[10, 4], 1), &Chunks::Shape(vec![3, 3]));
    let oob = |r: Result<Array<f64>, Error>| {
        matches!(r, Err(Error::Build(BuildError::IndexOutOfBounds { .. })))
    };
    assert!(oob(x.slice(s![10, ..])));
    assert!(oob(x.slice(s![-11, ..])));
    assert!(oob(x.slice(s![.., 4])));
    assert!(oob(x.slice(s![.., -5])));
    assert!(oob(x.slice(s![..11, ..])));
    assert!(oob(x.slice(s![11.., ..])));
    assert!(oob(x.slice(s![-11.., ..])));
    match x.slice(s![2, 7]) {
        Err(Error::Build(BuildError::IndexOutOfBounds { index, axis, len })) => {
            assert_eq!((index, axis, len), (7, 1, 4))
        }
        other => panic!("expected IndexOutOfBounds, got {other:?}"),
    }
    let step0 = [SliceInfoElem::Slice {
        start: 0,
        end: None,
        step: 0,
    }];
    assert!(matches!(
        x.slice(step0),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
    let step0_second = [
        SliceInfoElem::Index(1),
        SliceInfoElem::Slice {
            start: 0,
            end: Some(2),
            step: 0,
        },
    ];
    assert!(matches!(
        x.slice(step0_second),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
    assert!(matches!(
        x.slice(s![1, 1, 1]),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
    // slicing an array that already holds an error reports that error
    let bad = &x + &arr(&dense_f64(&[3], 2), &Chunks::Shape(vec![3]));
    assert!(matches!(
        bad.slice(s![1, ..]),
        Err(Error::Build(BuildError::Broadcast { .. }))
    ));
}

fn value_at(i: usize, j: usize) -> f64 {
    i as f64 * 1000.0 + j as f64
}

#[test]
fn slicing_computes_only_the_touched_tiles() {
    let data = ArrayD::from_shape_fn(IxDyn(&[1000, 1000]), |i| value_at(i[0], i[1]));
    let (x, calls) = counting_source_of(data, &[100, 100]);
    let y = x.slice(s![150..160, 220..230]).unwrap();
    let got = y.compute().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(got[[0, 0]], value_at(150, 220));
    assert_eq!(got[[9, 9]], value_at(159, 229));

    calls.store(0, Ordering::SeqCst);
    let got = x
        .slice(s![95..105, 0..10])
        .unwrap()
        .sum()
        .compute()
        .unwrap()
        .scalar();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let want: f64 = (95..105)
        .flat_map(|i| (0..10).map(move |j| value_at(i, j)))
        .sum();
    assert_eq!(got, want);

    calls.store(0, Ordering::SeqCst);
    let got = x.slice(s![..;500, 5]).unwrap().compute().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(got.as_slice().unwrap(), &[value_at(0, 5), value_at(500, 5)]);

    calls.store(0, Ordering::SeqCst);
    let got = (x.slice(s![-1, -1]).unwrap() + 1.0)
        .compute()
        .unwrap()
        .scalar();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(got, value_at(999, 999) + 1.0);

    // through a transpose and elementwise work
    calls.store(0, Ordering::SeqCst);
    let got = (x.transpose() * 2.0)
        .slice(s![310..320;-3, 7])
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        got.as_slice().unwrap(),
        &[
            2.0 * value_at(7, 319),
            2.0 * value_at(7, 316),
            2.0 * value_at(7, 313),
            2.0 * value_at(7, 310)
        ]
    );

    // after a rechunk: the input tiles that the needed output tile overlaps
    calls.store(0, Ordering::SeqCst);
    let got = x
        .rechunk([300, 300])
        .unwrap()
        .slice(s![150..160, 220..230])
        .unwrap()
        .compute()
        .unwrap();
    assert!(
        calls.load(Ordering::SeqCst) <= 9,
        "{}",
        calls.load(Ordering::SeqCst)
    );
    assert_eq!(got[[3, 4]], value_at(153, 224));

    // the whole array: every tile once
    calls.store(0, Ordering::SeqCst);
    let _ = x.max().compute().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 100);
}

/// All permutations of `0..n`.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for pos in 0..=p.len() {
            let mut q = p.clone();
            q.insert(pos, n - 1);
            out.push(q);
        }
    }
    out
}

#[test]
fn transposes_and_permutations() {
    for (k, case) in cases().into_iter().enumerate() {
        let a = dense_f64(&case.shape, 50 + k as u64);
        let x = arr(&a, &case.chunks);
        let nd = case.shape.len();
        assert_eq!(
            x.transpose().compute().unwrap(),
            a.t().to_owned(),
            "{case:?}"
        );
        for perm in permutations(nd) {
            let axes: Vec<isize> = perm.iter().map(|&p| p as isize).collect();
            let y = x.permute_axes(&axes).unwrap();
            let want = a
                .clone()
                .permuted_axes(IxDyn(&perm))
                .as_standard_layout()
                .to_owned();
            assert_eq!(y.compute().unwrap(), want, "{case:?} {perm:?}");
            // negative axis numbers mean the same
            let neg: Vec<isize> = perm.iter().map(|&p| p as isize - nd as isize).collect();
            assert_eq!(x.permute_axes(&neg).unwrap().compute().unwrap(), want);
            // the chunks follow the axes
            for (out_axis, &in_axis) in perm.iter().enumerate() {
                assert_eq!(y.chunks().chunks()[out_axis], x.chunks().chunks()[in_axis]);
            }
        }
        for i in 0..nd {
            for j in 0..nd {
                let mut want = a.clone();
                want.swap_axes(i, j);
                let got = x
                    .swap_axes(i as isize, j as isize - nd as isize)
                    .unwrap()
                    .compute()
                    .unwrap();
                assert_eq!(
                    got,
                    want.as_standard_layout().to_owned(),
                    "{case:?} swap {i} {j}"
                );
            }
        }
    }
}

#[test]
fn insert_axis_and_squeeze() {
    for (k, case) in cases().into_iter().enumerate() {
        let a = dense_f64(&case.shape, 60 + k as u64);
        let x = arr(&a, &case.chunks);
        let nd = case.shape.len();
        for pos in 0..=nd {
            let want = a.clone().insert_axis(Axis(pos));
            assert_eq!(
                x.insert_axis(pos as isize).unwrap().compute().unwrap(),
                want,
                "{case:?} at {pos}"
            );
            let neg = pos as isize - (nd as isize + 1);
            assert_eq!(
                x.insert_axis(neg).unwrap().compute().unwrap(),
                want,
                "{case:?} at {neg}"
            );
        }
        // squeeze everything of length 1
        let kept: Vec<usize> = case.shape.iter().copied().filter(|&n| n != 1).collect();
        let want = a.clone().into_shape_with_order(IxDyn(&kept)).unwrap();
        assert_eq!(
            x.squeeze(None).unwrap().compute().unwrap(),
            want,
            "{case:?}"
        );
        // squeeze one named axis of length 1
        for axis in (0..nd).filter(|&i| case.shape[i] == 1) {
            let want = a.index_axis(Axis(axis), 0).to_owned();
            assert_eq!(
                x.squeeze(Some(&[axis as isize]))
                    .unwrap()
                    .compute()
                    .unwrap(),
                want
            );
            assert_eq!(
                x.squeeze(Some(&[axis as isize - nd as isize]))
                    .unwrap()
                    .compute()
                    .unwrap(),
                want
            );
        }
        // insert then squeeze is the identity
        let round = x
            .insert_axis(0)
            .unwrap()
            .insert_axis(-1)
            .unwrap()
            .squeeze(Some(&[0, -1]))
            .unwrap();
        assert_eq!(round.compute().unwrap(), a);
    }
}

#[test]
fn axis_errors() {
    let x = arr(&dense_f64(&[2, 1, 3], 1), &Chunks::Shape(vec![1, 1, 2]));
    assert!(matches!(
        x.permute_axes(&[0, 0, 1]),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
    assert!(matches!(
        x.permute_axes(&[0, 1]),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
    assert!(matches!(
        x.permute_axes(&[0, 1, 2, 0]),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
    assert!(matches!(
        x.permute_axes(&[0, 1, 3]),
        Err(Error::Build(BuildError::AxisOutOfRange {
            axis: 3,
            ndim: 3
        }))
    ));
    assert!(matches!(
        x.swap_axes(0, 3),
        Err(Error::Build(BuildError::AxisOutOfRange { .. }))
    ));
    assert!(matches!(
        x.swap_axes(-4, 0),
        Err(Error::Build(BuildError::AxisOutOfRange { .. }))
    ));
    assert!(matches!(
        x.insert_axis(4),
        Err(Error::Build(BuildError::AxisOutOfRange { .. }))
    ));
    assert!(matches!(
        x.insert_axis(-5),
        Err(Error::Build(BuildError::AxisOutOfRange { .. }))
    ));
    assert!(matches!(
        x.squeeze(Some(&[0])),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
    assert!(matches!(
        x.squeeze(Some(&[1, 2])),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
    assert!(matches!(
        x.squeeze(Some(&[3])),
        Err(Error::Build(BuildError::AxisOutOfRange { .. }))
    ));
    assert_eq!(x.squeeze(Some(&[1, -2])).unwrap().shape(), vec![2, 3]);
    assert!(matches!(
        x.rechunk([1, 1]),
        Err(Error::Build(BuildError::InvalidChunks { .. }))
    ));
    assert!(matches!(
        x.rechunk(Chunks::Sizes(vec![vec![1], vec![1], vec![3]])),
        Err(Error::Build(BuildError::InvalidChunks { .. }))
    ));
    assert!(matches!(
        x.rechunk([0, 1, 1]),
        Err(Error::Build(BuildError::InvalidChunks { .. }))
    ));
}

/// Irregular chunks for `shape`: pieces of 1, 2, 3, ... until the axis is covered.
fn growing_chunks(shape: &[usize]) -> Chunks {
    Chunks::Sizes(
        shape
            .iter()
            .map(|&n| {
                if n == 0 {
                    return vec![0];
                }
                let mut out = Vec::new();
                let (mut left, mut next) = (n, 1);
                while left > 0 {
                    let c = next.min(left);
                    out.push(c);
                    left -= c;
                    next += 1;
                }
                out
            })
            .collect(),
    )
}

#[test]
fn rechunk_round_trips() {
    for (k, case) in cases().into_iter().enumerate() {
        let a = dense_f64(&case.shape, 70 + k as u64);
        let x = arr(&a, &case.chunks);
        let target = growing_chunks(&case.shape);
        let y = x.rechunk(target.clone()).unwrap();
        if let Chunks::Sizes(s) = &target {
            assert_eq!(y.chunks().chunks(), s.as_slice());
        }
        assert_eq!(y.compute().unwrap(), a, "{case:?}");
        let back = y.rechunk(case.chunks.clone()).unwrap();
        assert_eq!(back.chunks(), x.chunks());
        assert_eq!(back.compute().unwrap(), a);
        // one tile, and tiles of one element
        let whole: Vec<usize> = case.shape.iter().map(|&n| n.max(1)).collect();
        assert_eq!(x.rechunk(whole).unwrap().compute().unwrap(), a);
        let ones = vec![1; case.shape.len()];
        let tiny = x.rechunk(ones).unwrap();
        assert_eq!(
            tiny.n_tiles(),
            case.shape.iter().map(|&n| n.max(1)).product::<usize>()
        );
        assert_eq!((tiny * 3.0).compute().unwrap(), a.mapv(|v| v * 3.0));
        // Auto and Bytes chunkings keep the values
        assert_eq!(x.rechunk(Chunks::Auto).unwrap().compute().unwrap(), a);
        assert_eq!(x.rechunk(Chunks::Bytes(64)).unwrap().compute().unwrap(), a);
    }
}

#[test]
fn rechunk_of_computed_and_boolean_arrays() {
    let a = dense_f64(&[30, 20], 8);
    let x = arr(&a, &Chunks::Shape(vec![7, 6]));
    let y = (x.cos() + 1.0)
        .rechunk(sizes(&[&[1, 29], &[10, 3, 7]]))
        .unwrap();
    assert_close(&y.compute().unwrap(), &a.mapv(|v| v.cos() + 1.0), 1e-12);
    let b = x.greater(0.0).rechunk([4, 4]).unwrap();
    assert_eq!(b.compute().unwrap(), a.mapv(|v| v > 0.0));
    let s = y.rechunk([30, 20]).unwrap().sum_axis(1).compute().unwrap();
    let want = a.mapv(|v| v.cos() + 1.0).sum_axis(Axis(1));
    assert_close(&s, &want, 1e-13);
}

#[test]
fn transpose_of_an_errored_array_reports_the_error() {
    let a = chunkwise::zeros::<f64>(&[3], [3]).unwrap();
    let b = chunkwise::zeros::<f64>(&[4], [4]).unwrap();
    let bad = &a + &b;
    assert!(matches!(
        bad.transpose().check(),
        Err(Error::Build(BuildError::Broadcast { .. }))
    ));
}

#[test]
fn swap_axes_of_an_errored_array_reports_the_original_error() {
    let a = chunkwise::zeros::<f64>(&[2, 3], [2, 3]).unwrap();
    let b = chunkwise::zeros::<f64>(&[4, 3], [4, 3]).unwrap();
    let bad = &a + &b;
    assert!(matches!(
        bad.swap_axes(0, 1),
        Err(Error::Build(BuildError::Broadcast { .. }))
    ));
}

#[test]
fn flip_broadcast_to_moveaxis_and_expand_dims_match_ndarray() {
    let a = dense_f64(&[5, 4, 3], 71);
    let x = arr(&a, &sizes(&[&[2, 3], &[1, 3], &[3]]));
    // flip: any axes, negative numbers, all axes; fused with more work afterwards.
    for axes in [None, Some(vec![0]), Some(vec![-1, 1]), Some(vec![])] {
        let mut want = a.clone();
        let flipped: Vec<usize> = match &axes {
            None => (0..3).collect(),
            Some(list) => list.iter().map(|&k| (k + 3) as usize % 3).collect(),
        };
        for &k in &flipped {
            want.invert_axis(Axis(k));
        }
        let y = x.flip(axes.as_deref()).unwrap();
        assert_eq!(y.compute().unwrap(), want, "flip {axes:?}");
        let sum = (&y - &x).compute().unwrap();
        assert_eq!(sum, &want - &a, "flip {axes:?} minus x");
    }
    // broadcast_to: new leading axes and a repeated axis of length 1.
    let col = dense_f64(&[4, 1], 72);
    let c = arr(&col, &sizes(&[&[3, 1], &[1]]));
    let want = col.broadcast(IxDyn(&[2, 4, 3])).unwrap().to_owned();
    let b = c.broadcast_to(&[2, 4, 3]).unwrap();
    assert_eq!(b.compute().unwrap(), want);
    assert_eq!(
        b.chunks().chunks()[1],
        vec![3, 1],
        "a kept axis keeps its chunks"
    );
    let total = (&b * 2.0).sum().compute().unwrap().scalar();
    assert!(
        (total - 2.0 * want.sum()).abs() <= 1e-12 * want.len() as f64,
        "{total}"
    );
    // moveaxis: as NumPy's (the other axes keep their order).
    let cases: [(&[isize], &[isize], [usize; 3]); 3] = [
        (&[0], &[-1], [1, 2, 0]),
        (&[2, 0], &[0, 1], [2, 0, 1]),
        (&[1], &[1], [0, 1, 2]),
    ];
    for (source, destination, perm) in cases {
        let want = a.clone().permuted_axes(IxDyn(&perm));
        let y = x.moveaxis(source, destination).unwrap();
        assert_eq!(
            y.compute().unwrap(),
            want,
            "moveaxis {source:?} {destination:?}"
        );
    }
    // expand_dims: positions in the result.
    let y = x.expand_dims(&[0, -1, 2]).unwrap();
    assert_eq!(y.shape(), vec![1, 5, 1, 4, 3, 1]);
    let want = a
        .clone()
        .insert_axis(Axis(0))
        .insert_axis(Axis(2))
        .insert_axis(Axis(5));
    assert_eq!(y.compute().unwrap(), want);
}

#[test]
fn flip_broadcast_to_moveaxis_and_expand_dims_errors() {
    let x = chunkwise::zeros::<f64>(&[3, 4], [2, 2]).unwrap();
    let invalid = |r: chunkwise::Result<Array<f64>>| match r {
        Err(Error::Build(e)) => e.to_string(),
        other => panic!("expected a build error, got {:?}", other.map(|a| a.shape())),
    };
    assert!(invalid(x.flip(Some(&[0, -2]))).contains("twice"));
    assert!(matches!(
        x.flip(Some(&[2])),
        Err(Error::Build(BuildError::AxisOutOfRange { .. }))
    ));
    assert!(x.broadcast_to(&[3, 5]).is_err());
    assert!(invalid(x.broadcast_to(&[3, 1])).contains("does not broadcast"));
    assert!(
        invalid(x.broadcast_to(&[4])).contains("does not broadcast")
            || x.broadcast_to(&[4]).is_err()
    );
    assert!(invalid(x.moveaxis(&[0], &[0, 1])).contains("destinations"));
    assert!(invalid(x.expand_dims(&[1, 1])).contains("twice"));
    assert!(matches!(
        x.expand_dims(&[4]),
        Err(Error::Build(BuildError::AxisOutOfRange { .. }))
    ));
}

#[test]
fn concatenate_stack_and_roll_match_ndarray() {
    let a = dense_f64(&[5, 4], 81);
    let b = dense_f64(&[3, 4], 82);
    let x = arr(&a, &sizes(&[&[2, 3], &[3, 1]]));
    // Chunked otherwise along axis 1: rechunked to x's chunks there.
    let y = arr(&b, &sizes(&[&[3], &[2, 2]]));
    let empty = arr(&ArrayD::<f64>::zeros(IxDyn(&[0, 4])), &sizes(&[&[0], &[4]]));
    let c = chunkwise::concatenate(&[&x, &empty, &y], 0).unwrap();
    let want = ndarray::concatenate(Axis(0), &[a.view(), b.view()]).unwrap();
    assert_eq!(c.compute().unwrap(), want);
    assert_eq!(c.chunks().chunks(), &[vec![2, 3, 3], vec![3, 1]]);
    // Fused work on the result, and a reduction across the seam.
    assert_eq!((&c * 2.0).compute().unwrap(), &want * 2.0);
    let sums = c.sum_axis(0).compute().unwrap();
    let want_sums = want.sum_axis(Axis(0));
    for (g, w) in sums.iter().zip(&want_sums) {
        assert!((g - w).abs() <= 1e-12, "{g} vs {w}");
    }
    // Along the last axis, with a negative axis number.
    let d = dense_f64(&[5, 2], 83);
    let z = arr(&d, &sizes(&[&[2, 3], &[2]]));
    let c = chunkwise::concatenate(&[&x, &z], -1).unwrap();
    let want = ndarray::concatenate(Axis(1), &[a.view(), d.view()]).unwrap();
    assert_eq!(c.compute().unwrap(), want);
    // stack: a new axis anywhere.
    for axis in [0isize, 1, 2, -1] {
        let s = chunkwise::stack(&[&x, &x, &x], axis).unwrap();
        let k = axis.rem_euclid(3) as usize;
        let want = ndarray::stack(Axis(k), &[a.view(), a.view(), a.view()]).unwrap();
        assert_eq!(s.compute().unwrap(), want, "stack along {axis}");
    }
    // roll: positive, negative, whole turns, along either axis.
    for (shift, axis) in [(2isize, 0isize), (-1, 0), (5, 0), (7, 1), (-6, -1), (0, 1)] {
        let k = axis.rem_euclid(2) as usize;
        let n = a.shape()[k] as isize;
        let want = ArrayD::from_shape_fn(a.raw_dim(), |idx| {
            let mut from = idx.clone();
            from[k] = ((idx[k] as isize - shift).rem_euclid(n)) as usize;
            a[&from]
        });
        let r = x.roll(shift, axis).unwrap();
        assert_eq!(r.compute().unwrap(), want, "roll {shift} along {axis}");
    }
}

#[test]
fn concatenate_errors() {
    let x = chunkwise::zeros::<f64>(&[3, 4], [2, 2]).unwrap();
    let y = chunkwise::zeros::<f64>(&[3, 5], [2, 2]).unwrap();
    let message = |r: chunkwise::Result<Array<f64>>| match r {
        Err(Error::Build(e)) => e.to_string(),
        other => panic!("expected a build error, got {:?}", other.map(|a| a.shape())),
    };
    assert!(message(chunkwise::concatenate(&[&x, &y], 0)).contains("does not match"));
    assert!(message(chunkwise::concatenate::<f64>(&[], 0)).contains("no array"));
    assert!(matches!(
        chunkwise::concatenate(&[&x, &y], 2),
        Err(Error::Build(BuildError::AxisOutOfRange { .. }))
    ));
    let scalar = chunkwise::zeros::<f64>(&[], []).unwrap();
    assert!(message(chunkwise::concatenate(&[&scalar, &scalar], 0)).contains("0-d"));
    assert!(chunkwise::stack(&[&x, &y], 0).is_err());
}

#[test]
fn pad_split_and_tile_match_numpy_semantics() {
    use chunkwise::Pad;
    let a = dense_f64(&[5, 4], 91);
    let x = arr(&a, &sizes(&[&[2, 3], &[1, 3]]));
    let modes = [
        Pad::Constant(-7.5),
        Pad::Edge,
        Pad::Reflect,
        Pad::Symmetric,
        Pad::Wrap,
    ];
    for mode in modes {
        for widths in [[(2, 1), (0, 3)], [(4, 0), (1, 1)], [(0, 0), (3, 2)]] {
            let p = x.pad(&widths, mode).unwrap();
            let shape = [5 + widths[0].0 + widths[0].1, 4 + widths[1].0 + widths[1].1];
            let want = ArrayD::from_shape_fn(IxDyn(&shape), |idx| {
                let i = numpy_pad_source(&mode, idx[0] as isize - widths[0].0 as isize, 5);
                let j = numpy_pad_source(&mode, idx[1] as isize - widths[1].0 as isize, 4);
                match (i, j, mode) {
                    (Some(i), Some(j), _) => a[[i as usize, j as usize]],
                    (_, _, Pad::Constant(c)) => c,
                    _ => unreachable!("only constants have no source"),
                }
            });
            assert_eq!(p.compute().unwrap(), want, "{mode:?} {widths:?}");
        }
    }
    // Wider than the axis: padded in repeated steps (values checked in
    // tests/block_repeat_pad.rs). Not one pair per axis: an error.
    let wide = x.pad(&[(5, 0), (0, 9)], Pad::Reflect).unwrap();
    assert_eq!(wide.shape(), vec![10, 13]);
    assert!(x.pad(&[(1, 1)], Pad::Edge).is_err());
    // split_at, array_split and split: the parts join back to the whole.
    let parts = x.split_at(&[1, 1, 4, 9], 0).unwrap();
    let lengths: Vec<usize> = parts.iter().map(|p| p.shape()[0]).collect();
    assert_eq!(lengths, vec![1, 0, 3, 1, 0]);
    for (p, (start, end)) in parts.iter().zip([(0, 1), (1, 1), (1, 4), (4, 5), (5, 5)]) {
        assert_eq!(
            p.compute().unwrap(),
            a.slice(s![start..end, ..]).to_owned().into_dyn()
        );
    }
    let lengths: Vec<usize> = x
        .array_split(3, -1)
        .unwrap()
        .iter()
        .map(|p| p.shape()[1])
        .collect();
    assert_eq!(lengths, vec![2, 1, 1]);
    assert!(x.split(3, 1).is_err() && x.split(2, 1).is_ok());
    assert!(x.split_at(&[3, 1], 0).is_err());
    // tile: repetitions along each axis, and a leading axis added.
    let t = x.tile(&[2, 1, 3]).unwrap();
    assert_eq!(t.shape(), vec![2, 5, 12]);
    let want = ArrayD::from_shape_fn(IxDyn(&[2, 5, 12]), |idx| a[[idx[1], idx[2] % 4]]);
    assert_eq!(t.compute().unwrap(), want);
    assert_eq!(x.tile(&[0, 2]).unwrap().shape(), vec![0, 8]);
}

#[test]
fn transposes_of_large_tiles_and_strided_views_match_ndarray() {
    // Tiles larger than the blocked copy's 32 x 32 squares, with ragged edges, 1-row tiles
    // and views that step, reverse and slice transposes; computed alone, fed to a rechunk
    // (a blockwise consumer) and to elementwise work.
    let a = dense_f64(&[150, 97], 7);
    let b = dense_f64(&[97, 150], 8);
    for chunks in [
        sizes(&[&[70, 80], &[45, 52]]),
        sizes(&[&[1, 149], &[97]]),
        sizes(&[&[33, 33, 33, 51], &[1, 64, 32]]),
    ] {
        let x = arr(&a, &chunks);
        let y = arr(&b, &Chunks::Shape(vec![40, 64]));
        let t = x.transpose();
        assert_eq!(t.compute().unwrap(), a.t().to_owned(), "{chunks:?}");
        let views: [(Array<f64>, ArrayD<f64>); 4] = [
            (
                t.slice(s![3..90, 5..]).unwrap(),
                a.t().slice(s![3..90, 5..]).into_dyn().to_owned(),
            ),
            (
                t.slice(s![..;-3, 1..;2]).unwrap(),
                a.t().slice(s![..;-3, 1..;2]).into_dyn().to_owned(),
            ),
            (
                x.slice(s![10..140, ..]).unwrap().transpose(),
                a.slice(s![10..140, ..]).t().into_dyn().to_owned(),
            ),
            (
                t.slice(s![4..4, ..]).unwrap(),
                a.t().slice(s![4..4, ..]).into_dyn().to_owned(),
            ),
        ];
        for (k, (view, want)) in views.into_iter().enumerate() {
            assert_eq!(view.compute().unwrap(), want, "{chunks:?} view {k}");
        }
        let rechunked = t.rechunk(Chunks::Shape(vec![50, 50])).unwrap();
        assert_eq!(rechunked.compute().unwrap(), a.t().to_owned());
        let sum = (&t + &y).compute().unwrap();
        assert_eq!(sum, &a.t() + &b, "{chunks:?}");
    }
}

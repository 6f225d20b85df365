//! `map_overlap` against a dense oracle: the whole array padded by hand as NumPy's `np.pad`
//! pads it (`symmetric`, `wrap`, `edge`, `constant`; no padding for `none`), the same
//! stencil applied to it densely, the pad cut off. Irregular and one-element chunks,
//! depths from 0 to 3x the chunk (past the whole axis), the same on both sides or not,
//! constants that differ per axis, several inputs (broadcast against each other), trim on
//! and off.

#![allow(missing_docs)]

mod common;

use chunkwise::{
    Array, Boundary, BuildError, Chunks, Error, ExecError, MapOverlap, from_ndarray, map_overlap,
};
use common::*;
use ndarray::{ArrayD, Axis, IxDyn, Slice};

fn arr(dense: &ArrayD<f64>, chunks: Chunks) -> Array<f64> {
    from_ndarray(dense, chunks).unwrap()
}

fn sizes(v: &[&[usize]]) -> Chunks {
    Chunks::Sizes(v.iter().map(|s| s.to_vec()).collect())
}

const MODES: [Boundary; 5] = [
    Boundary::None,
    Boundary::Reflect,
    Boundary::Periodic,
    Boundary::Nearest,
    Boundary::Constant(-3.5),
];

/// The same depth on both sides of every axis.
fn sym(depth: &[usize]) -> Vec<(usize, usize)> {
    depth.iter().map(|&d| (d, d)).collect()
}

/// The source element of each padded position of an axis of `n` elements padded by `d`
/// on both sides (`None`: the constant).
fn pad_sources(n: usize, d: usize, mode: Boundary) -> Vec<Option<usize>> {
    pad_sources_asym(n, (d, d), mode)
}

/// The source element of each padded position of an axis of `n` elements padded by `b`
/// before and `a` after (`None`: the constant), built as NumPy describes its modes: copies
/// of the axis (or of the axis and its mirror image) laid end to end around it, or the
/// edge repeated.
fn pad_sources_asym(n: usize, (b, a): (usize, usize), mode: Boundary) -> Vec<Option<usize>> {
    let core: Vec<usize> = (0..n).collect();
    let unit: Vec<usize> = match mode {
        Boundary::Periodic => core.clone(),
        Boundary::Reflect => core.iter().chain(core.iter().rev()).copied().collect(),
        Boundary::Nearest => {
            let left = vec![Some(0); b];
            let right = vec![Some(n - 1); a];
            return left
                .into_iter()
                .chain(core.iter().map(|&i| Some(i)))
                .chain(right)
                .collect();
        }
        Boundary::Constant(_) => {
            return std::iter::repeat_n(None, b)
                .chain(core.iter().map(|&i| Some(i)))
                .chain(std::iter::repeat_n(None, a))
                .collect();
        }
        _ => return core.into_iter().map(Some).collect(),
    };
    // Enough copies of the unit before and after: the core sits at the start of one.
    let copies = b.max(a) / unit.len() + 2;
    let tiled: Vec<usize> = (0..2 * copies).flat_map(|_| unit.iter().copied()).collect();
    let at = copies * unit.len();
    tiled[at - b..at + n + a].iter().map(|&i| Some(i)).collect()
}

#[test]
fn the_oracle_pads_as_numpy_does_past_the_whole_axis() {
    // np.pad(np.arange(3), 4, mode) and np.pad(np.arange(2), 5, mode), printed by NumPy.
    let src = |n, d, m| -> Vec<usize> { pad_sources(n, d, m).into_iter().flatten().collect() };
    assert_eq!(
        src(3, 4, Boundary::Reflect),
        [2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0]
    );
    assert_eq!(
        src(3, 4, Boundary::Periodic),
        [2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
    );
    assert_eq!(
        src(3, 4, Boundary::Nearest),
        [0, 0, 0, 0, 0, 1, 2, 2, 2, 2, 2]
    );
    assert_eq!(
        src(2, 5, Boundary::Reflect),
        [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1]
    );
    assert_eq!(
        src(2, 5, Boundary::Periodic),
        [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0]
    );
}

/// The array padded along every axis as `np.pad` would (`fill` for constants): one axis
/// after the other, each padding the array the axes before it padded, so that a later
/// axis's constant covers the corners.
fn pad(dense: &ArrayD<f64>, depth: &[usize], modes: &[Boundary]) -> ArrayD<f64> {
    pad_asym(dense, &sym(depth), modes)
}

/// [`pad`] by `(before, after)` per axis.
fn pad_asym(dense: &ArrayD<f64>, depth: &[(usize, usize)], modes: &[Boundary]) -> ArrayD<f64> {
    let mut out = dense.clone();
    for axis in 0..dense.ndim() {
        let n = out.shape()[axis];
        let src = pad_sources_asym(n, depth[axis], modes[axis]);
        let fill = match modes[axis] {
            Boundary::Constant(v) => v,
            _ => 0.0,
        };
        let mut shape = out.shape().to_vec();
        shape[axis] = src.len();
        let mut padded = ArrayD::from_elem(IxDyn(&shape), fill);
        for (k, s) in src.iter().enumerate() {
            if let Some(s) = s {
                padded
                    .index_axis_mut(Axis(axis), k)
                    .assign(&out.index_axis(Axis(axis), *s));
            }
        }
        out = padded;
    }
    out
}

/// A star stencil of radius `r`: at each element the sum of the elements up to `r` away
/// along each axis (the centre counted once per axis), those outside `g` left out. With
/// r = 1 on 2-D, `star(g, 1) - 6 g` is the five-point Laplacian.
fn star(g: &ArrayD<f64>, r: usize) -> ArrayD<f64> {
    let mut out = ArrayD::zeros(g.raw_dim());
    for (idx, o) in out.indexed_iter_mut() {
        for axis in 0..g.ndim() {
            let i = idx[axis];
            for j in i.saturating_sub(r)..(i + r + 1).min(g.shape()[axis]) {
                let mut at = idx.clone();
                at[axis] = j;
                *o += g[at];
            }
        }
    }
    out
}

/// The five-point (2-D) Laplacian with neighbours outside `g` left out.
fn laplacian(g: &ArrayD<f64>) -> ArrayD<f64> {
    star(g, 1) - g * 6.0
}

/// `padded` (padded by `(before, after)` per axis, as `modes` say) without its pad.
fn crop(padded: &ArrayD<f64>, depth: &[(usize, usize)], modes: &[Boundary]) -> ArrayD<f64> {
    let mut v = padded.view();
    for (axis, (&(b, a), m)) in depth.iter().zip(modes).enumerate() {
        if *m != Boundary::None {
            let n = v.shape()[axis];
            v.slice_axis_inplace(Axis(axis), Slice::from(b..n - a));
        }
    }
    v.to_owned()
}

/// `stencil` on the dense array padded as `modes` say, the pad cut off.
fn oracle(
    dense: &ArrayD<f64>,
    depth: &[usize],
    modes: &[Boundary],
    stencil: impl Fn(&ArrayD<f64>) -> ArrayD<f64>,
) -> ArrayD<f64> {
    oracle_asym(dense, &sym(depth), modes, stencil)
}

/// [`oracle`] with `(before, after)` depths per axis.
fn oracle_asym(
    dense: &ArrayD<f64>,
    depth: &[(usize, usize)],
    modes: &[Boundary],
    stencil: impl Fn(&ArrayD<f64>) -> ArrayD<f64>,
) -> ArrayD<f64> {
    crop(&stencil(&pad_asym(dense, depth, modes)), depth, modes)
}

/// At each element the sum of the box from `before` elements before it to `after` after
/// it along every axis (corners included), those outside `g` left out, in C order over
/// the box.
fn box_sum(g: &ArrayD<f64>, depth: &[(usize, usize)]) -> ArrayD<f64> {
    let mut out = ArrayD::zeros(g.raw_dim());
    for (idx, o) in out.indexed_iter_mut() {
        let bx = g.slice_each_axis(|ax| {
            let (k, i) = (ax.axis.index(), idx[ax.axis.index()]);
            let (b, a) = depth[k];
            Slice::from(i.saturating_sub(b)..(i + a + 1).min(g.shape()[k]))
        });
        *o = bx.iter().fold(0.0, |acc, v| acc + v);
    }
    out
}

/// The 2-D and 1-D cases: irregular chunks, one-element chunks, one chunk per axis.
fn cases() -> Vec<(ArrayD<f64>, Chunks, usize)> {
    vec![
        // (values, chunks, a chunk length for the depths)
        (dense_f64(&[7, 6], 1), sizes(&[&[3, 1, 3], &[2, 4]]), 3),
        (dense_f64(&[5, 4], 2), sizes(&[&[1; 5], &[1; 4]]), 1),
        (dense_f64(&[10], 3), sizes(&[&[3, 1, 4, 2]]), 3),
        (dense_f64(&[4, 3], 4), sizes(&[&[4], &[3]]), 4),
    ]
}

#[test]
fn star_sums_match_the_padded_dense_oracle_for_every_mode_and_depth() {
    for (dense, chunks, chunk) in cases() {
        let a = arr(&dense, chunks);
        let nd = dense.ndim();
        for depth in [0, 1, chunk, 3 * chunk] {
            for mode in MODES {
                let how = MapOverlap::new().depth(depth).boundary(mode);
                let got = a
                    .map_overlap(&how, move |g, _| Ok(star(g, depth)))
                    .unwrap()
                    .compute()
                    .unwrap();
                let expected = oracle(&dense, &vec![depth; nd], &[mode; 2][..nd], |p| {
                    star(p, depth)
                });
                assert_same_f64(&got, &expected);
            }
        }
    }
}

#[test]
fn laplacian_with_a_mode_and_depth_per_axis() {
    let dense = dense_f64(&[9, 8], 5);
    let a = arr(&dense, sizes(&[&[2, 4, 1, 2], &[3, 1, 4]]));
    for (m0, m1) in [
        (Boundary::Reflect, Boundary::Periodic),
        (Boundary::Nearest, Boundary::None),
        (Boundary::Constant(0.0), Boundary::Reflect),
    ] {
        // Depth 2 on axis 0 (more than the Laplacian needs), 1 on axis 1.
        let how = MapOverlap::new().depths([2, 1]).boundaries([m0, m1]);
        let got = a
            .map_overlap(&how, |g, _| Ok(laplacian(g)))
            .unwrap()
            .compute()
            .unwrap();
        let expected = oracle(&dense, &[2, 1], &[m0, m1], laplacian);
        assert_same_f64(&got, &expected);
    }
}

#[test]
fn untrimmed_blocks_are_the_grown_blocks() {
    let dense = dense_f64(&[7, 5], 6);
    let a = arr(&dense, sizes(&[&[3, 1, 3], &[2, 3]]));
    for mode in MODES {
        for depth in [1, 4] {
            let how = MapOverlap::new().depth(depth).boundary(mode).trim(false);
            let got = a.map_overlap(&how, |g, _| Ok(g.clone())).unwrap();
            let padded = pad(&dense, &[depth; 2], &[mode; 2]);
            // Block b's grown range in the padded array's coordinates.
            let grown = |len: usize, starts: &[usize], lens: &[usize], b: usize| {
                if mode == Boundary::None {
                    let (s, e) = (starts[b], starts[b] + lens[b]);
                    s.saturating_sub(depth)..(e + depth).min(len)
                } else {
                    starts[b]..starts[b] + lens[b] + 2 * depth
                }
            };
            let (rows, cols) = ([3, 1, 3], [2, 3]);
            let (row_starts, col_starts) = ([0, 3, 4], [0, 2]);
            let mut expected_rows = Vec::new();
            for i in 0..3 {
                let mut row_blocks = Vec::new();
                for j in 0..2 {
                    let r = grown(7, &row_starts, &rows, i);
                    let c = grown(5, &col_starts, &cols, j);
                    row_blocks.push(
                        padded
                            .slice_each_axis(|ax| {
                                let r = if ax.axis.index() == 0 { &r } else { &c };
                                Slice::from(r.clone())
                            })
                            .to_owned(),
                    );
                }
                let views: Vec<_> = row_blocks.iter().map(|b| b.view()).collect();
                expected_rows.push(ndarray::concatenate(Axis(1), &views).unwrap());
            }
            let views: Vec<_> = expected_rows.iter().map(|b| b.view()).collect();
            let expected = ndarray::concatenate(Axis(0), &views).unwrap();
            assert_eq!(got.shape(), expected.shape().to_vec(), "{mode:?} {depth}");
            assert_same_f64(&got.compute().unwrap(), &expected);
        }
    }
}

#[test]
fn untrimmed_results_with_given_chunks() {
    let dense = dense_f64(&[6], 7);
    let a = arr(&dense, sizes(&[&[2, 4]]));
    // Each block keeps its first grown element: the one `depth` before its own start.
    let how = MapOverlap::new()
        .depth(3)
        .boundary(Boundary::Periodic)
        .trim(false)
        .chunks(vec![vec![1, 1]]);
    let firsts = a
        .map_overlap(&how, |g, _| {
            Ok(g.slice_axis(Axis(0), Slice::from(..1)).to_owned())
        })
        .unwrap();
    assert_eq!(
        firsts.compute().unwrap().into_raw_vec_and_offset().0,
        vec![dense[[3]], dense[[5]]]
    );
    // Fewer output chunks than input blocks: block 1 gives none, and is read as halo.
    let how = MapOverlap::new()
        .asymmetric_depths([(0, 3)])
        .trim(false)
        .chunks(vec![vec![5]]);
    let sums = a
        .map_overlap(&how, |g, _| {
            assert_eq!(g.len(), 5);
            Ok(g.clone())
        })
        .unwrap();
    assert_eq!(sums.chunks().chunks(), vec![vec![5]]);
    assert_same_f64(
        &sums.compute().unwrap(),
        &dense.slice(ndarray::s![..5]).to_owned().into_dyn(),
    );
    for bad in [vec![vec![1, 1, 1]], vec![vec![]]] {
        let how = MapOverlap::new().depth(1).trim(false).chunks(bad);
        let reason = invalid_argument(a.map_overlap(&how, |g, _| Ok(g.clone())).unwrap_err());
        assert!(reason.contains("first 1 or more input blocks"), "{reason}");
    }
}

#[test]
fn two_inputs_chunked_differently() {
    let da = dense_f64(&[8, 6], 8);
    let db = dense_f64(&[8, 6], 9);
    let a = arr(&da, sizes(&[&[3, 5], &[2, 2, 2]]));
    let b = arr(&db, sizes(&[&[4, 4], &[1, 5]]));
    for mode in MODES {
        let how = MapOverlap::new().depth(2).boundary(mode);
        let got = map_overlap(&[&a, &b], &how, |g, info| {
            // The second input's halo is there too; the result uses its core only.
            let prod = star(g[0], 2) * g[1];
            let core_b = g[1].slice_each_axis(|ax| Slice::from(info.core[ax.axis.index()].clone()));
            assert_eq!(core_b.shape(), info.block_shape().as_slice());
            Ok(prod)
        })
        .unwrap()
        .compute()
        .unwrap();
        let expected = oracle(&da, &[2, 2], &[mode; 2], |p| star(p, 2)) * &db;
        assert_same_f64(&got, &expected);
    }
}

#[test]
fn block_info_places_the_core_inside_the_grown_block() {
    let a = arr(&dense_f64(&[7], 1), sizes(&[&[3, 1, 3]]));
    let how = MapOverlap::new().depth(2).boundary(Boundary::None);
    let cores = a
        .map_overlap(&how, |g, info| {
            let c = &info.core[0];
            Ok(g.mapv(|_| (c.start * 10 + c.end) as f64))
        })
        .unwrap()
        .compute()
        .unwrap();
    // Block 0 grows right only (core 0..3), block 1 both ways (2..3), block 2 left (2..5).
    assert_eq!(
        cores.into_raw_vec_and_offset().0,
        vec![3.0, 3.0, 3.0, 23.0, 25.0, 25.0, 25.0]
    );
}

#[test]
fn elementwise_work_fuses_after_map_overlap() {
    let dense = dense_f64(&[7, 6], 1);
    let a = arr(&dense, sizes(&[&[3, 1, 3], &[2, 4]]));
    let how = MapOverlap::new().depth(1).boundary(Boundary::Reflect);
    let m = a.map_overlap(&how, |g, _| Ok(laplacian(g))).unwrap();
    let total = ((&m * 2.0) + 1.0).sum();
    let plan = total.explain().unwrap();
    assert!(plan.contains("Blockwise map_overlap"), "{plan}");
    assert!(!plan.contains("Elemwise"), "{plan}");
    let expected: f64 = oracle(&dense, &[1, 1], &[Boundary::Reflect; 2], laplacian)
        .iter()
        .map(|v| v * 2.0 + 1.0)
        .sum();
    let got = total.compute_scalar().unwrap();
    assert!(close(got, expected, 1e-12), "{got} vs {expected}");
}

#[test]
fn integer_arrays_and_constant_boundaries_convert_as_as_does() {
    let x = chunkwise::arange::<i32>(0, 5, 1, [2]).unwrap();
    let how = MapOverlap::new()
        .depth(1)
        .boundary(Boundary::Constant(7.9))
        .trim(false);
    let got = x.map_overlap(&how, |g, _| Ok(g.clone())).unwrap();
    assert_eq!(
        got.compute().unwrap().into_raw_vec_and_offset().0,
        vec![7, 0, 1, 2, 1, 2, 3, 4, 3, 4, 7]
    );
}

fn invalid_argument(err: Error) -> String {
    match err {
        Error::Build(BuildError::InvalidArgument { reason, .. }) => reason,
        other => panic!("expected an invalid argument, got {other:?}"),
    }
}

#[test]
fn bad_arguments_are_build_errors() {
    let a = arr(&dense_f64(&[4, 3], 1), sizes(&[&[2, 2], &[3]]));
    let keep = |g: &ArrayD<f64>, _: &chunkwise::BlockInfo| Ok(g.clone());
    let reason = invalid_argument(
        a.map_overlap(&MapOverlap::new().depths([1]), keep)
            .unwrap_err(),
    );
    assert!(reason.contains("depths given for 1 axes"), "{reason}");
    let reason = invalid_argument(
        a.map_overlap(&MapOverlap::new().chunks(vec![vec![4], vec![3]]), keep)
            .unwrap_err(),
    );
    assert!(reason.contains("trim(false)"), "{reason}");
    // Shapes that do not broadcast against each other.
    let b = arr(&dense_f64(&[4, 2], 1), sizes(&[&[2, 2], &[2]]));
    let err = map_overlap(&[&a, &b], &MapOverlap::new(), |g, _| Ok(g[0].clone())).unwrap_err();
    match err {
        Error::Build(BuildError::Broadcast { left, right, .. }) => {
            assert_eq!((left, right), (vec![4, 3], vec![4, 2]));
        }
        other => panic!("expected a broadcast error, got {other:?}"),
    }
    // Growing an empty axis by reflection is an error, as np.pad's; constants and none work.
    let empty = arr(&ArrayD::zeros(IxDyn(&[0])), Chunks::Shape(vec![3]));
    let how = MapOverlap::new().depth(1).boundary(Boundary::Reflect);
    let reason = invalid_argument(empty.map_overlap(&how, keep).unwrap_err());
    assert!(reason.contains("axis 0 is empty"), "{reason}");
    for mode in [Boundary::None, Boundary::Constant(1.0)] {
        let how = MapOverlap::new().depth(2).boundary(mode);
        let got = empty.map_overlap(&how, keep).unwrap().compute().unwrap();
        assert_eq!(got.shape(), &[0]);
    }
}

#[test]
fn a_block_of_the_wrong_shape_is_a_tile_shape_error() {
    let a = arr(&dense_f64(&[6], 1), sizes(&[&[3, 3]]));
    let how = MapOverlap::new().depth(1).boundary(Boundary::Nearest);
    // With trim the function must return the grown shape (5), not the core's (3).
    let err = a
        .map_overlap(&how, |g, _| {
            Ok(g.slice_axis(Axis(0), Slice::from(1..4)).to_owned())
        })
        .unwrap()
        .compute()
        .unwrap_err();
    match err {
        Error::Exec(ExecError::TileShape {
            task,
            expected,
            found,
        }) => {
            assert!(task.starts_with("map_overlap block"), "{task}");
            assert_eq!((expected, found), (vec![5], vec![3]));
        }
        other => panic!("expected a tile shape error, got {other:?}"),
    }
}

#[test]
fn a_task_reads_only_the_tiles_its_grown_block_touches() {
    use std::sync::atomic::Ordering;
    // 40 tiles of 5; the window 20..25 is block 4. With depth 7 it reads blocks 2..=6.
    let (x, calls, dense) = counting_source(&[200], &[5]);
    let how = MapOverlap::new().depth(7).boundary(Boundary::None);
    let m = x.map_overlap(&how, |g, _| Ok(star(g, 7))).unwrap();
    let window = m.slice(ndarray::s![20..25]).unwrap().compute().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 5);
    let expected = oracle(&dense, &[7], &[Boundary::None], |p| star(p, 7));
    assert_same_f64(
        &window,
        &expected.slice(ndarray::s![20..25]).to_owned().into_dyn(),
    );
    // Periodic at the left edge: block 0 also reads the last two blocks (190..200).
    calls.store(0, Ordering::SeqCst);
    let how = MapOverlap::new().depth(7).boundary(Boundary::Periodic);
    let m = x.map_overlap(&how, |g, _| Ok(star(g, 7))).unwrap();
    let first = m.slice(ndarray::s![0..5]).unwrap().compute().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 5, "blocks 38, 39, 0, 1, 2");
    let expected = oracle(&dense, &[7], &[Boundary::Periodic], |p| star(p, 7));
    assert_same_f64(
        &first,
        &expected.slice(ndarray::s![0..5]).to_owned().into_dyn(),
    );
}

#[test]
fn zero_dimensional_arrays_have_no_halo() {
    let x = from_ndarray(&ndarray::arr0(2.5).into_dyn(), Chunks::Shape(vec![])).unwrap();
    let got = x
        .map_overlap(&MapOverlap::new().depths([]), |g, _| Ok(g * 2.0))
        .unwrap();
    assert_eq!(
        got.compute().unwrap().into_raw_vec_and_offset().0,
        vec![5.0]
    );
}

/// A small random chunking of an axis of `n` elements (one-element chunks likely).
fn random_chunks(g: &mut Lcg, n: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut left = n;
    while left > 0 {
        let c = (g.int(1, 5) as usize).min(left);
        out.push(c);
        left -= c;
    }
    if out.is_empty() {
        out.push(0);
    }
    out
}

const ALL_MODES: [Boundary; 6] = [
    Boundary::None,
    Boundary::Reflect,
    Boundary::Periodic,
    Boundary::Nearest,
    Boundary::Constant(-3.5),
    Boundary::Constant(7.25),
];

#[test]
fn asymmetric_depths_match_the_padded_dense_oracle() {
    let mut g = Lcg::new(71);
    for case in 0..40 {
        let nd = 1 + case % 2;
        let shape: Vec<usize> = (0..nd).map(|_| g.int(1, 9) as usize).collect();
        let chunks: Vec<Vec<usize>> = shape.iter().map(|&n| random_chunks(&mut g, n)).collect();
        let depth: Vec<(usize, usize)> = shape
            .iter()
            .map(|&n| {
                let mut d = || [0, 1, 2, n, 2 * n + 1][g.below(5) as usize];
                (d(), d())
            })
            .collect();
        let modes: Vec<Boundary> = (0..nd).map(|_| ALL_MODES[g.below(6) as usize]).collect();
        let dense = dense_f64(&shape, case as u64);
        let a = arr(&dense, Chunks::Sizes(chunks.clone()));
        let how = MapOverlap::new()
            .asymmetric_depths(&depth)
            .boundaries(&modes);
        let d = depth.clone();
        let got = a
            .map_overlap(&how, move |g, _| Ok(box_sum(g, &d)))
            .unwrap()
            .compute()
            .unwrap();
        let expected = oracle_asym(&dense, &depth, &modes, |p| box_sum(p, &depth));
        assert_same_f64(&got, &expected);
        // Untrimmed, the blocks laid end to end are the padded array's windows.
        if nd == 1 {
            let how = how.trim(false);
            let got = a.map_overlap(&how, |g, _| Ok(g.clone())).unwrap();
            let padded = pad_asym(&dense, &depth, &modes);
            let (n, (b, af)) = (shape[0], depth[0]);
            let mut expected = Vec::new();
            let mut start = 0usize;
            for c in &chunks[0] {
                let (lo, hi) = match modes[0] {
                    Boundary::None => (start.saturating_sub(b), (start + c + af).min(n)),
                    _ => (start, start + c + b + af),
                };
                expected.extend(padded.slice(ndarray::s![lo..hi]).iter().copied());
                start += c;
            }
            let got = got.compute().unwrap().into_raw_vec_and_offset().0;
            assert_eq!(got, expected, "{depth:?} {modes:?} {chunks:?}");
        }
    }
}

#[test]
fn constants_may_differ_per_axis_and_the_last_axis_covers_the_corners() {
    // np.pad(np.zeros((1, 1)), 1, constant_values=((1, 1), (2, 2))), printed by NumPy: the
    // corners are axis 1's constant.
    let zero = arr(&ArrayD::zeros(IxDyn(&[1, 1])), sizes(&[&[1], &[1]]));
    let how = MapOverlap::new()
        .depth(1)
        .boundaries([Boundary::Constant(1.0), Boundary::Constant(2.0)])
        .trim(false);
    let grown = zero.map_overlap(&how, |g, _| Ok(g.clone())).unwrap();
    assert_eq!(
        grown.compute().unwrap().into_raw_vec_and_offset().0,
        [2., 1., 2., 2., 0., 2., 2., 1., 2.]
    );
    let dense = dense_f64(&[5, 4, 3], 12);
    let a = arr(&dense, sizes(&[&[2, 1, 2], &[3, 1], &[1, 2]]));
    let (c1, c2, c3) = (
        Boundary::Constant(1.5),
        Boundary::Constant(-2.0),
        Boundary::Constant(0.25),
    );
    for modes in [
        [c1, c2, c3],
        [c1, Boundary::Reflect, c3],
        [Boundary::Periodic, c2, c1],
        [c3, Boundary::Nearest, Boundary::None],
        [c1, c1, c2],
    ] {
        for depth in [[1, 2, 1], [3, 0, 4]] {
            let d = sym(&depth);
            let how = MapOverlap::new().depths(depth).boundaries(modes);
            let dd = d.clone();
            let got = a
                .map_overlap(&how, move |g, _| Ok(box_sum(g, &dd)))
                .unwrap()
                .compute()
                .unwrap();
            let expected = oracle_asym(&dense, &d, &modes, |p| box_sum(p, &d));
            assert_same_f64(&got, &expected);
        }
    }
}

/// `dense` broadcast to `shape` (NumPy's `np.broadcast_to`).
fn broadcast_to(dense: &ArrayD<f64>, shape: &[usize]) -> ArrayD<f64> {
    dense.broadcast(IxDyn(shape)).unwrap().to_owned()
}

#[test]
fn inputs_of_different_shapes_broadcast_as_numpy_does() {
    // x (6, 7), a row (7,), a column (6, 1), a scalar-like (1, 1): the function sees each
    // grown as if broadcast to (6, 7) first, so every mode pads the broadcast values.
    let dx = dense_f64(&[6, 7], 1);
    let drow = dense_f64(&[7], 2);
    let dcol = dense_f64(&[6, 1], 3);
    let done = dense_f64(&[1, 1], 4);
    let x = arr(&dx, sizes(&[&[2, 1, 3], &[3, 4]]));
    let row = arr(&drow, sizes(&[&[1, 5, 1]]));
    let col = arr(&dcol, sizes(&[&[4, 2], &[1]]));
    let one = arr(&done, sizes(&[&[1], &[1]]));
    let full: Vec<ArrayD<f64>> = [&dx, &drow, &dcol, &done]
        .iter()
        .map(|d| broadcast_to(d, &[6, 7]))
        .collect();
    let depth = vec![(1, 2), (3, 0)];
    let combine = |g: &[&ArrayD<f64>], d: &[(usize, usize)]| {
        box_sum(g[0], d) * g[1] + box_sum(g[2], d) - g[3]
    };
    for m0 in ALL_MODES {
        for m1 in [Boundary::Periodic, Boundary::Constant(1.0)] {
            let modes = [m0, m1];
            let how = MapOverlap::new()
                .asymmetric_depths(&depth)
                .boundaries(modes);
            let d = depth.clone();
            let got = map_overlap(&[&x, &row, &col, &one], &how, move |g, _| {
                for k in 1..4 {
                    assert_eq!(g[k].shape(), g[0].shape());
                }
                Ok(combine(g, &d))
            })
            .unwrap();
            assert_eq!(got.shape(), vec![6, 7]);
            assert_eq!(
                got.chunks().chunks(),
                vec![vec![2, 1, 1, 2], vec![1, 2, 3, 1]]
            );
            let padded: Vec<ArrayD<f64>> =
                full.iter().map(|f| pad_asym(f, &depth, &modes)).collect();
            let refs: Vec<&ArrayD<f64>> = padded.iter().collect();
            let expected = crop(&combine(&refs, &depth), &depth, &modes);
            assert_same_f64(&got.compute().unwrap(), &expected);
        }
    }
}

#[test]
fn broadcast_inputs_read_their_own_tiles_only() {
    use std::sync::atomic::Ordering;
    // A (1, 40) row in tiles of 5 against a (3, 40) array: each task reads the row's tiles
    // its halo touches along axis 1 and nothing more.
    let (row, calls) = counting_source_of(dense_f64(&[1, 40], 5), &[1, 5]);
    let x = chunkwise::ones::<f64>(&[3, 40], [1, 5]).unwrap();
    let how = MapOverlap::new().depths([1, 2]).boundary(Boundary::None);
    let m = map_overlap(&[&x, &row], &how, |g, _| Ok(g[0] * g[1])).unwrap();
    let block = m
        .slice(ndarray::s![1..2, 10..15])
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3, "row tiles 1, 2, 3");
    let dense = dense_f64(&[1, 40], 5);
    assert_same_f64(
        &block,
        &dense.slice(ndarray::s![.., 10..15]).to_owned().into_dyn(),
    );
}

#[test]
fn halos_deeper_than_memory_are_refused_before_planning() {
    let x = chunkwise::arange::<f64>(0.0, 4.0, 1.0, [2]).unwrap();
    for boundary in [Boundary::Constant(0.0), Boundary::Reflect] {
        let how = MapOverlap::new().depth(1 << 40).boundary(boundary);
        let error = map_overlap(&[&x], &how, |g, _| Ok(g[0].clone()));
        assert!(
            matches!(
                &error,
                Err(Error::Build(BuildError::InvalidArgument { reason, .. }))
                    if reason.contains("more than half of the memory")
            ),
            "{boundary:?}"
        );
    }
}

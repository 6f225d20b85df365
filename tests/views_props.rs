//! Property tests of views inside fused expressions, against the same views and arithmetic
//! on the dense `ndarray`.
//!
//! Each case takes an array of 1 to 3 axes (lengths 1 to 20) on an irregular grid (one-element
//! chunks included), cuts two views of it with different offsets along each axis (same
//! step, so the two have one shape but misaligned tile grids, as `x[1:] - x[:-1]`), sends
//! both through one random chain of views (slices with any start, stop and step, single
//! indices, new axes, transposes, permutations, swaps, inserted axes, squeezes), combines
//! them elementwise, takes more views of the combination, broadcasts it against a second
//! array of another shape and grid (sometimes itself a transpose), takes views of that, and
//! ends with a plain compute or a sum or mean over one axis or all. Data are small integers
//! in f64 and every scalar is a power of two or a small integer, so each value and each sum
//! is exact: the results must equal the dense ones exactly (the means within a few ulps).
//! The same expressions on non-integer data must give the same bits on 1, 2 and 3 threads.
//!
//! The random choices come from one list of numbers, read in turn by an interpreter that
//! knows the current shape; a number past the list's end reads as 0, which always picks the
//! simplest option, so proptest's shrinking (shorter lists, smaller numbers) shrinks the
//! expression. A failure prints the recipe.
//!
//! Halos over views: `map_overlap` of a random chain of views (depth 0 to 3, past the
//! axis's length too; periodic, reflecting, nearest and constant boundaries) with a stencil,
//! then more views, against the stencil of the dense array padded as `np.pad` pads.
//!
//! Beside it, a fused expression of misaligned slices (a five-point Laplacian, a reversed
//! and transposed slice broadcast against a row) and its reductions must be bit-identical
//! whatever the thread count.

#![allow(missing_docs)]
// ndarray's `s![1..-1]` is a meaningful slice, not an empty Rust range
#![allow(clippy::reversed_empty_ranges)]

mod common;

use std::fmt::Write as _;

use chunkwise::{Array, Boundary, Chunks, Config, MapOverlap, from_ndarray};
use common::*;
use ndarray::{ArrayD, Axis, Dimension, IxDyn, SliceInfoElem, s};
use proptest::prelude::*;

/// The largest number of axes a chain may grow to (new axes, inserted axes).
const MAX_NDIM: usize = 4;

/// Integer-valued floats in [-8, 8), deterministic in `seed`.
fn small_ints(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let mut g = Lcg::new(seed);
    let n = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|_| g.int(-8, 8) as f64).collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}

/// Random choices read in turn; past the end of the list every choice is 0 (the simplest).
struct Choices<'a> {
    vals: &'a [u32],
    pos: usize,
}

impl Choices<'_> {
    /// A number in `0..n` (0 when `n` is 0).
    fn pick(&mut self, n: usize) -> usize {
        let v = self.vals.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        if n == 0 { 0 } else { v as usize % n }
    }

    fn coin(&mut self) -> bool {
        self.pick(2) == 1
    }

    /// One of `options`, the first being the simplest.
    fn one_of<T: Copy>(&mut self, options: &[T]) -> T {
        options[self.pick(options.len())]
    }

    /// Random positive chunk lengths adding up to `len` (cut after each element with
    /// probability about 1/3).
    fn chunks(&mut self, len: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut run = 0;
        for i in 0..len {
            run += 1;
            if i + 1 < len && self.pick(3) == 2 {
                out.push(run);
                run = 0;
            }
        }
        out.push(run);
        out
    }

    /// `axis` of `ndim` axes, written as a negative index half the time.
    fn axis_index(&mut self, axis: usize, ndim: usize) -> isize {
        if self.coin() {
            axis as isize - ndim as isize
        } else {
            axis as isize
        }
    }
}

/// One view, applied to the lazy and to the dense array alike.
#[derive(Clone, Debug)]
enum View {
    Slice(Vec<SliceInfoElem>),
    Transpose,
    Permute(Vec<isize>),
    Swap(isize, isize),
    Insert(isize),
    /// `None`: every axis of length 1.
    Squeeze(Option<Vec<isize>>),
}

fn resolve(axis: isize, ndim: usize) -> usize {
    if axis < 0 {
        (axis + ndim as isize) as usize
    } else {
        axis as usize
    }
}

impl View {
    fn lazy(&self, a: &Array<f64>) -> Array<f64> {
        let r = match self {
            View::Slice(info) => a.slice(info),
            View::Transpose => Ok(a.transpose()),
            View::Permute(axes) => a.permute_axes(axes),
            View::Swap(i, j) => a.swap_axes(*i, *j),
            View::Insert(k) => a.insert_axis(*k),
            View::Squeeze(axes) => a.squeeze(axes.as_deref()),
        };
        r.unwrap_or_else(|e| panic!("{self:?} on shape {:?}: {e}", a.shape()))
    }

    fn dense(&self, a: &ArrayD<f64>) -> ArrayD<f64> {
        let nd = a.ndim();
        match self {
            View::Slice(info) => a.slice(info.as_slice()).to_owned(),
            View::Transpose => a.clone().reversed_axes(),
            View::Permute(axes) => {
                let axes: Vec<usize> = axes.iter().map(|&k| resolve(k, nd)).collect();
                a.clone().permuted_axes(IxDyn(&axes))
            }
            View::Swap(i, j) => {
                let mut b = a.clone();
                b.swap_axes(resolve(*i, nd), resolve(*j, nd));
                b
            }
            View::Insert(k) => a.clone().insert_axis(Axis(resolve(*k, nd + 1))),
            View::Squeeze(axes) => {
                let mut drop: Vec<usize> = match axes {
                    None => (0..nd).filter(|&k| a.shape()[k] == 1).collect(),
                    Some(list) => list.iter().map(|&k| resolve(k, nd)).collect(),
                };
                drop.sort_unstable();
                let mut b = a.clone();
                for &k in drop.iter().rev() {
                    b = b.index_axis_move(Axis(k), 0);
                }
                b
            }
        }
    }

    /// The shape after this view, from the dense rule (used while generating).
    fn shape_after(&self, shape: &[usize]) -> Vec<usize> {
        self.dense(&ArrayD::zeros(IxDyn(shape))).shape().to_vec()
    }
}

/// A slice element selecting `start..end` with `step`, the bounds written as ndarray
/// allows: from the start or (half the time) from the end, `None` for the end where it is
/// the axis's end.
fn range_elem(c: &mut Choices, start: usize, end: usize, len: usize, step: isize) -> SliceInfoElem {
    let start = if c.coin() {
        start as isize - len as isize
    } else {
        start as isize
    };
    let end = match c.pick(3) {
        0 if end == len => None,
        1 if end < len => Some(end as isize - len as isize),
        _ => Some(end as isize),
    };
    SliceInfoElem::Slice { start, end, step }
}

const STEPS: [isize; 7] = [1, -1, 2, -2, 3, -3, 5];

/// A random view of an array of `shape`, or `None` (no view).
fn gen_view(c: &mut Choices, shape: &[usize]) -> Option<View> {
    let nd = shape.len();
    let view = match c.pick(8) {
        0 => return None,
        1 | 7 => {
            let mut info = Vec::new();
            let mut kept = 0;
            for (k, &len) in shape.iter().enumerate() {
                let last = k + 1 == nd;
                match c.pick(4) {
                    // a single index, as long as some axis remains
                    3 if !(last && kept == 0) => {
                        let i = c.pick(len);
                        let i = if c.coin() {
                            i as isize - len as isize
                        } else {
                            i as isize
                        };
                        info.push(SliceInfoElem::Index(i));
                    }
                    1 | 2 => {
                        let w = 1 + c.pick(len);
                        let start = c.pick(len - w + 1);
                        let step = c.one_of(&STEPS);
                        info.push(range_elem(c, start, start + w, len, step));
                        kept += 1;
                    }
                    _ => {
                        info.push(SliceInfoElem::Slice {
                            start: 0,
                            end: None,
                            step: 1,
                        });
                        kept += 1;
                    }
                }
            }
            if kept < MAX_NDIM && c.pick(3) == 2 {
                let at = c.pick(info.len() + 1);
                info.insert(at, SliceInfoElem::NewAxis);
            }
            View::Slice(info)
        }
        2 => View::Transpose,
        3 => {
            // Fisher-Yates on the axes
            let mut axes: Vec<usize> = (0..nd).collect();
            for i in (1..nd).rev() {
                let j = c.pick(i + 1);
                axes.swap(i, j);
            }
            View::Permute(axes.iter().map(|&k| c.axis_index(k, nd)).collect())
        }
        4 => {
            let (i, j) = (c.pick(nd), c.pick(nd));
            View::Swap(c.axis_index(i, nd), c.axis_index(j, nd))
        }
        5 if nd < MAX_NDIM => {
            let k = c.pick(nd + 1);
            View::Insert(c.axis_index(k, nd + 1))
        }
        6 => {
            let ones: Vec<usize> = (0..nd).filter(|&k| shape[k] == 1).collect();
            // keep at least one axis
            if ones.is_empty() || ones.len() == nd {
                return None;
            }
            if c.coin() {
                View::Squeeze(None)
            } else {
                let k = ones[c.pick(ones.len())];
                View::Squeeze(Some(vec![c.axis_index(k, nd)]))
            }
        }
        _ => return None,
    };
    Some(view)
}

/// Up to `max` random views, applied in turn to an array of `shape`.
fn gen_chain(c: &mut Choices, shape: &[usize], max: usize) -> (Vec<View>, Vec<usize>) {
    let mut shape = shape.to_vec();
    let mut chain = Vec::new();
    for _ in 0..c.pick(max + 1) {
        if let Some(v) = gen_view(c, &shape) {
            shape = v.shape_after(&shape);
            chain.push(v);
        }
    }
    (chain, shape)
}

fn apply_lazy(chain: &[View], a: &Array<f64>) -> Array<f64> {
    chain.iter().fold(a.clone(), |a, v| v.lazy(&a))
}

fn apply_dense(chain: &[View], a: &ArrayD<f64>) -> ArrayD<f64> {
    chain.iter().fold(a.clone(), |a, v| v.dense(&a))
}

/// Two views of an array of `shape` with one shape and, along some axes, different offsets
/// (or different single indices).
fn gen_pair(c: &mut Choices, shape: &[usize]) -> (View, View) {
    let nd = shape.len();
    let (mut first, mut second) = (Vec::new(), Vec::new());
    let mut kept = 0;
    for (k, &len) in shape.iter().enumerate() {
        let last = k + 1 == nd;
        match c.pick(4) {
            3 if len >= 2 && !(last && kept == 0) => {
                let i = c.pick(len);
                let j = (i + 1 + c.pick(len - 1)) % len;
                first.push(SliceInfoElem::Index(i as isize));
                second.push(SliceInfoElem::Index(j as isize - len as isize));
            }
            1 | 2 if len >= 2 => {
                let shift = 1 + c.pick((len - 1).min(3));
                let w = len - shift;
                let o1 = c.pick(shift + 1);
                let o2 = (o1 + 1 + c.pick(shift)) % (shift + 1);
                let step = c.one_of(&STEPS[..4]);
                first.push(range_elem(c, o1, o1 + w, len, step));
                second.push(range_elem(c, o2, o2 + w, len, step));
                kept += 1;
            }
            _ => {
                let full = SliceInfoElem::Slice {
                    start: 0,
                    end: None,
                    step: 1,
                };
                first.push(full);
                second.push(full);
                kept += 1;
            }
        }
    }
    (View::Slice(first), View::Slice(second))
}

/// How two operands of one shape are combined (all exact on small integers).
fn combine_lazy(op: usize, a: &Array<f64>, b: &Array<f64>) -> Array<f64> {
    match op {
        0 => a - b,
        1 => a + &(b * 2.0),
        2 => (a - b) / 0.25 - b * 0.5,
        3 => a * b,
        _ => (a - b).abs() - a,
    }
}

fn combine_dense(op: usize, a: &ArrayD<f64>, b: &ArrayD<f64>) -> ArrayD<f64> {
    match op {
        0 => a - b,
        1 => a + &(b * 2.0),
        2 => (a - b) / 0.25 - b * 0.5,
        3 => a * b,
        _ => (a - b).mapv(f64::abs) - a,
    }
}

/// How the expression meets the broadcast operand `y`.
fn broadcast_lazy(op: usize, e: &Array<f64>, y: &Array<f64>) -> Array<f64> {
    match op {
        0 => e + y,
        1 => y - e,
        _ => e * y,
    }
}

fn broadcast_dense(op: usize, e: &ArrayD<f64>, y: &ArrayD<f64>) -> ArrayD<f64> {
    match op {
        0 => zip_dense(e, y, |a, b| a + b),
        1 => zip_dense(e, y, |a, b| b - a),
        _ => zip_dense(e, y, |a, b| a * b),
    }
}

/// The final step.
#[derive(Clone, Copy, Debug)]
enum Finish {
    Compute,
    Sum,
    SumAxis(isize),
    Mean,
    MeanAxis(isize),
}

/// One random case: the lazy expression, its dense value, the config, and the recipe.
struct Built {
    lazy: Array<f64>,
    dense: ArrayD<f64>,
    finish: Finish,
    config: Config,
    recipe: String,
}

/// The data of a case: `small_ints` (exact sums) or `dense_f64` (rounding in every sum).
type Data = fn(&[usize], u64) -> ArrayD<f64>;

fn build(shape: &[usize], chunks: &[Vec<usize>], seed: u64, choices: &[u32], data: Data) -> Built {
    let c = &mut Choices {
        vals: choices,
        pos: 0,
    };
    let mut recipe = format!("x: shape {shape:?}, chunks {chunks:?}, seed {seed}\n");
    let xd = data(shape, seed);
    let x = from_ndarray(&xd, Chunks::Sizes(chunks.to_vec())).unwrap();

    // two misaligned views of x, through one chain, combined
    let (v1, v2) = gen_pair(c, shape);
    let after = v1.shape_after(shape);
    let (common_chain, _) = gen_chain(c, &after, 3);
    let op = c.pick(5);
    let _ = writeln!(
        recipe,
        "a = {v1:?}, b = {v2:?}, both then {common_chain:?}, combined by op {op}"
    );
    let a = apply_lazy(&common_chain, &v1.lazy(&x));
    let b = apply_lazy(&common_chain, &v2.lazy(&x));
    let ad = apply_dense(&common_chain, &v1.dense(&xd));
    let bd = apply_dense(&common_chain, &v2.dense(&xd));
    let mut e = combine_lazy(op, &a, &b);
    let mut ed = combine_dense(op, &ad, &bd);

    // views of the combination
    let (after_chain, eshape) = gen_chain(c, ed.shape(), 3);
    let _ = writeln!(recipe, "then {after_chain:?}");
    e = apply_lazy(&after_chain, &e);
    ed = apply_dense(&after_chain, &ed);
    assert_eq!(e.shape(), eshape);

    // against a broadcast operand of another shape and grid
    let bop = c.pick(4);
    if bop > 0 {
        let lead = c.pick(eshape.len() + 1);
        let yshape: Vec<usize> = eshape[lead..]
            .iter()
            .map(|&n| if c.pick(3) == 2 { 1 } else { n })
            .collect();
        let yd = data(&yshape, seed ^ 0x5eed);
        let transposed = c.coin();
        let y = if transposed {
            // stored with its axes reversed, read through a transpose
            let stored = yd.clone().reversed_axes().as_standard_layout().into_owned();
            let ychunks: Vec<Vec<usize>> = stored.shape().iter().map(|&n| c.chunks(n)).collect();
            let _ = writeln!(
                recipe,
                "op {} with y: shape {yshape:?}, stored transposed in chunks {ychunks:?}",
                bop - 1
            );
            from_ndarray(&stored, Chunks::Sizes(ychunks))
                .unwrap()
                .transpose()
        } else {
            let ychunks: Vec<Vec<usize>> = yshape.iter().map(|&n| c.chunks(n)).collect();
            let _ = writeln!(
                recipe,
                "op {} with y: shape {yshape:?}, chunks {ychunks:?}",
                bop - 1
            );
            from_ndarray(&yd, Chunks::Sizes(ychunks)).unwrap()
        };
        e = broadcast_lazy(bop - 1, &e, &y);
        ed = broadcast_dense(bop - 1, &ed, &yd);
        // and views of the broadcast result
        let (late_chain, lshape) = gen_chain(c, ed.shape(), 2);
        let _ = writeln!(recipe, "then {late_chain:?}");
        e = apply_lazy(&late_chain, &e);
        ed = apply_dense(&late_chain, &ed);
        assert_eq!(e.shape(), lshape);
    }

    let nd = ed.ndim();
    let finish = match c.pick(5) {
        0 => Finish::Compute,
        1 => Finish::Sum,
        3 => Finish::Mean,
        k if nd > 0 => {
            let axis = c.pick(nd);
            let axis = c.axis_index(axis, nd);
            if k == 2 {
                Finish::SumAxis(axis)
            } else {
                Finish::MeanAxis(axis)
            }
        }
        _ => Finish::Sum,
    };
    let config = Config::default()
        .fuse(c.pick(4) != 3)
        .threads(1 + c.pick(2))
        .strip_len(c.one_of(&[2048, 1, 3, 7]));
    let _ = writeln!(recipe, "finish {finish:?}, {config:?}");
    Built {
        lazy: e,
        dense: ed,
        finish,
        config,
        recipe,
    }
}

fn array_strategy() -> impl Strategy<Value = (Vec<usize>, Vec<Vec<usize>>)> {
    proptest::collection::vec(1usize..=20, 1..=3).prop_flat_map(|shape| {
        let chunks: Vec<BoxedStrategy<Vec<usize>>> = shape.iter().map(|&n| chunks_for(n)).collect();
        (Just(shape), chunks)
    })
}

/// The dense value of the finish (exact for sums and plain values; means are one division
/// away from exact).
fn finish_dense(finish: Finish, d: &ArrayD<f64>) -> ArrayD<f64> {
    let nd = d.ndim();
    let sum = |xs: &[f64]| xs.iter().sum::<f64>();
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    match finish {
        Finish::Compute => d.clone(),
        Finish::Sum => reduce_dense(&d.view(), None, false, sum),
        Finish::Mean => reduce_dense(&d.view(), None, false, mean),
        Finish::SumAxis(k) => reduce_dense(&d.view(), Some(&[resolve(k, nd)]), false, sum),
        Finish::MeanAxis(k) => reduce_dense(&d.view(), Some(&[resolve(k, nd)]), false, mean),
    }
}

fn finish_lazy(finish: Finish, e: &Array<f64>) -> Array<f64> {
    match finish {
        Finish::Compute => e.clone(),
        Finish::Sum => e.sum(),
        Finish::Mean => e.mean(),
        Finish::SumAxis(k) => e.sum_axis(k),
        Finish::MeanAxis(k) => e.mean_axis(k),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn views_in_fused_expressions_equal_dense(
        (shape, chunks) in array_strategy(),
        seed in 0u64..1000,
        choices in proptest::collection::vec(any::<u32>(), 0..200),
    ) {
        let case = build(&shape, &chunks, seed, &choices, small_ints);
        let got = finish_lazy(case.finish, &case.lazy)
            .compute_with(&case.config)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{}", case.recipe)))?;
        let want = finish_dense(case.finish, &case.dense);
        prop_assert_eq!(got.shape(), want.shape(), "{}", case.recipe);
        let exact = !matches!(case.finish, Finish::Mean | Finish::MeanAxis(_));
        for ((idx, g), w) in got.indexed_iter().zip(want.iter()) {
            let ok = if exact { g == w } else { close(*g, *w, 4.0 * f64::EPSILON) };
            prop_assert!(ok, "at {:?}: got {}, expected {}\n{}", idx.slice(), g, w, case.recipe);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn views_in_fused_expressions_are_bit_identical_across_thread_counts(
        (shape, chunks) in array_strategy(),
        seed in 0u64..1000,
        choices in proptest::collection::vec(any::<u32>(), 0..200),
    ) {
        let case = build(&shape, &chunks, seed, &choices, dense_f64);
        let e = finish_lazy(case.finish, &case.lazy);
        let run = |threads: usize| {
            e.compute_with(&case.config.clone().threads(threads))
                .map_err(|err| TestCaseError::fail(format!("{err}\n{}", case.recipe)))
        };
        let first = run(1)?;
        for threads in [2, 3] {
            let got = run(threads)?;
            prop_assert_eq!(got.shape(), first.shape(), "{}", case.recipe);
            for ((idx, g), f) in got.indexed_iter().zip(first.iter()) {
                prop_assert!(
                    g.to_bits() == f.to_bits() || (g.is_nan() && f.is_nan()),
                    "at {:?} on {} threads: {:e}, on 1 thread: {:e}\n{}",
                    idx.slice(), threads, g, f, case.recipe
                );
            }
        }
    }
}

/// The recipe of one fixed case, for the regression tests below.
fn run_fixed(shape: &[usize], chunks: &[&[usize]], seed: u64, choices: &[u32]) {
    let chunks: Vec<Vec<usize>> = chunks.iter().map(|c| c.to_vec()).collect();
    let case = build(shape, &chunks, seed, choices, small_ints);
    let got = finish_lazy(case.finish, &case.lazy)
        .compute_with(&case.config)
        .unwrap_or_else(|e| panic!("{e}\n{}", case.recipe));
    let want = finish_dense(case.finish, &case.dense);
    assert_eq!(got.shape(), want.shape(), "{}", case.recipe);
    assert_close(&got, &want, 4.0 * f64::EPSILON);
}

#[test]
fn forward_difference_on_one_element_chunks() {
    // x[1:] - x[:-1] and x[:-1] - x[1:] on one-element tiles: every output tile reads two
    let xd = small_ints(&[9], 3);
    let x = from_ndarray(&xd, [1]).unwrap();
    let d = &x.slice(s![1..]).unwrap() - &x.slice(s![..-1]).unwrap();
    let want = (&xd.slice(s![1..]) - &xd.slice(s![..-1])).into_dyn();
    assert_eq!(d.compute().unwrap(), want);
    assert_eq!(d.sum().compute_scalar().unwrap(), want.sum());
    // and the default case of the generator: no choices at all
    run_fixed(&[9], &[&[1; 9]], 3, &[]);
}

/// `x` in irregular tiles, and a five-point Laplacian of it from misaligned slices, a
/// reversed and transposed slice of it times a broadcast row, and reductions of both.
fn misaligned_expressions(x: &Array<f64>, row: &Array<f64>) -> Vec<Array<f64>> {
    macro_rules! sl {
        ($($t:tt)*) => { x.slice(s![$($t)*]).unwrap() };
    }
    let lap = sl![2.., 1..-1] + sl![..-2, 1..-1] + sl![1..-1, 2..] + sl![1..-1, ..-2]
        - sl![1..-1, 1..-1] * 4.0;
    let flipped = sl![..;-1, 3..;2].transpose() * row - sl![.., 1..43;2].transpose();
    vec![
        (&lap * &lap).mean(),
        lap.sum_axis(0),
        lap.mean_axis(1),
        lap.clone(),
        flipped.sum_axis(-1),
        flipped.sum(),
        (&flipped * &flipped).mean_axis(0),
    ]
}

fn misaligned_dense(xd: &ArrayD<f64>, rowd: &ArrayD<f64>) -> Vec<ArrayD<f64>> {
    macro_rules! sl {
        ($($t:tt)*) => { xd.slice(s![$($t)*]).to_owned().into_dyn() };
    }
    let lap = sl![2.., 1..-1] + sl![..-2, 1..-1] + sl![1..-1, 2..] + sl![1..-1, ..-2]
        - sl![1..-1, 1..-1] * 4.0;
    let left = sl![..;-1, 3..;2].reversed_axes();
    let flipped = zip_dense(&left, rowd, |a, b| a * b) - sl![.., 1..43;2].reversed_axes();
    let sq = |a: &ArrayD<f64>| a * a;
    let all = |a: &ArrayD<f64>| ndarray::arr0(a.sum()).into_dyn();
    vec![
        ndarray::arr0(sq(&lap).mean().unwrap()).into_dyn(),
        lap.sum_axis(Axis(0)),
        lap.mean_axis(Axis(1)).unwrap(),
        lap.clone(),
        flipped.sum_axis(Axis(1)),
        all(&flipped),
        sq(&flipped).mean_axis(Axis(0)).unwrap(),
    ]
}

#[test]
fn misaligned_views_are_bit_identical_across_thread_counts() {
    // non-integer data, so the order of additions shows in the last bits
    let (rows, cols) = (61, 45);
    let xd = dense_f64(&[rows, cols], 77);
    let row_chunks = vec![7, 1, 13, 2, 9, 9, 1, 19];
    let col_chunks = vec![4, 4, 1, 11, 3, 22];
    let x = from_ndarray(&xd, Chunks::Sizes(vec![row_chunks, col_chunks])).unwrap();
    // `flipped` has shape (21, 61): a row of 61 broadcasts along its first axis
    let rowd = dense_f64(&[rows], 78);
    let row = from_ndarray(&rowd, Chunks::Sizes(vec![vec![30, 1, 30]])).unwrap();
    let exprs = misaligned_expressions(&x, &row);
    let want = misaligned_dense(&xd, &rowd);

    let run = |threads: usize| -> Vec<ArrayD<f64>> {
        let config = Config::default().threads(threads);
        exprs
            .iter()
            .map(|e| e.compute_with(&config).unwrap())
            .collect()
    };
    let first = run(1);
    for (got, want) in first.iter().zip(&want) {
        assert_close(got, want, 1e-12);
    }
    // and all at once (one plan sharing the slices), on each thread count, twice
    let refs: Vec<&Array<f64>> = exprs.iter().collect();
    for threads in [1, 2, 3] {
        for _ in 0..2 {
            for (k, (got, base)) in run(threads).iter().zip(&first).enumerate() {
                assert_eq!(got.shape(), base.shape(), "expression {k}");
                assert_same_f64(got, base);
            }
            let config = Config::default().threads(threads);
            let many = chunkwise::compute_many_with(&refs, &config).unwrap();
            for (got, base) in many.iter().zip(&first) {
                assert_same_f64(got, base);
            }
        }
    }
}

/// `a` padded by `d` on both sides of every axis as `np.pad` pads: `wrap`, `symmetric`, `edge`
/// or a constant (the modes of [`Boundary`]'s `Periodic`, `Reflect`, `Nearest`, `Constant`),
/// for any depth.
fn pad_dense(a: &ArrayD<f64>, d: usize, boundary: Boundary) -> ArrayD<f64> {
    let shape: Vec<usize> = a.shape().iter().map(|&n| n + 2 * d).collect();
    ArrayD::from_shape_fn(IxDyn(&shape), |idx| {
        let mut at = Vec::with_capacity(a.ndim());
        for (k, &p) in idx.slice().iter().enumerate() {
            let (i, n) = (p as isize - d as isize, a.shape()[k] as isize);
            at.push(match boundary {
                Boundary::Periodic => i.rem_euclid(n),
                Boundary::Reflect => {
                    let j = i.rem_euclid(2 * n);
                    if j >= n { 2 * n - 1 - j } else { j }
                }
                Boundary::Nearest => i.clamp(0, n - 1),
                Boundary::Constant(v) if !(0..n).contains(&i) => return v,
                _ => i,
            } as usize);
        }
        a[IxDyn(&at)]
    })
}

/// A stencil of depth `d` on a block whose own elements are at `core`: the sum over axes of
/// `g[p + d e_k] - g[p - d e_k]` at those elements, zero in the halo.
fn stencil_block(g: &ArrayD<f64>, core: &[std::ops::Range<usize>], d: usize) -> ArrayD<f64> {
    let full = |k: usize, shift: isize| -> Vec<SliceInfoElem> {
        core.iter()
            .enumerate()
            .map(|(j, r)| {
                let off = if j == k { shift } else { 0 };
                SliceInfoElem::from((r.start as isize + off)..(r.end as isize + off))
            })
            .collect()
    };
    let mut out = ArrayD::zeros(g.raw_dim());
    for k in 0..g.ndim() {
        let delta =
            &g.slice(full(k, d as isize).as_slice()) - &g.slice(full(k, -(d as isize)).as_slice());
        let mut own = out.slice_mut(full(k, 0).as_slice());
        own += &delta;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn map_overlap_of_views_equals_dense(
        (shape, chunks) in array_strategy(),
        seed in 0u64..1000,
        choices in proptest::collection::vec(any::<u32>(), 0..120),
    ) {
        // views of x, a halo of depth d (past the axis's length too) read across the view's
        // tiles, a stencil, views of the result, and a reduction or not
        let c = &mut Choices { vals: &choices, pos: 0 };
        let xd = small_ints(&shape, seed);
        let x = from_ndarray(&xd, Chunks::Sizes(chunks.clone())).unwrap();
        let (before, vshape) = gen_chain(c, &shape, 3);
        let d = c.pick(4);
        let boundary = c.one_of(&[
            Boundary::Periodic,
            Boundary::Reflect,
            Boundary::Nearest,
            Boundary::Constant(3.0),
        ]);
        let how = MapOverlap::new().depth(d).boundary(boundary);
        let y = apply_lazy(&before, &x)
            .map_overlap(&how, move |g, info| Ok(stencil_block(g, &info.core, d)))
            .unwrap();
        let vd = apply_dense(&before, &xd);
        let padded = pad_dense(&vd, d, boundary);
        let inner: Vec<SliceInfoElem> = vd
            .shape()
            .iter()
            .map(|&n| SliceInfoElem::from(d..d + n))
            .collect();
        let core: Vec<_> = padded.shape().iter().map(|&n| d..n - d).collect();
        let yd = stencil_block(&padded, &core, d).slice(inner.as_slice()).to_owned();
        let (after, _) = gen_chain(c, yd.shape(), 2);
        let finish = if c.coin() { Finish::Sum } else { Finish::Compute };
        let recipe = format!(
            "x: shape {shape:?}, chunks {chunks:?}, seed {seed}; views {before:?} (shape \
             {vshape:?}); depth {d}, {boundary:?}; then {after:?}; {finish:?}"
        );
        let got = finish_lazy(finish, &apply_lazy(&after, &y))
            .compute()
            .map_err(|e| TestCaseError::fail(format!("{e}\n{recipe}")))?;
        let want = finish_dense(finish, &apply_dense(&after, &yd));
        prop_assert_eq!(got.shape(), want.shape(), "{}", recipe);
        for ((idx, g), w) in got.indexed_iter().zip(want.iter()) {
            prop_assert!(g == w, "at {:?}: got {}, expected {}\n{}", idx.slice(), g, w, recipe);
        }
    }
}

//! Shared helpers of the integration tests: deterministic dense inputs, sources that count
//! their calls, a set of shapes with chunkings, dense (ndarray-only) oracles for broadcasting
//! and reductions, and float comparisons that treat NaN as equal to NaN.

#![allow(dead_code, unreachable_pub, missing_docs)]

mod rng;

pub use rng::Lcg;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chunkwise::{Array, Chunks};
use ndarray::{ArrayD, ArrayViewD, Dimension, IxDyn, Zip};

fn n_of(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Floats in [-10, 10) (never exactly 0), deterministic in `seed`.
pub fn dense_f64(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let mut g = Lcg::new(seed);
    let v: Vec<f64> = (0..n_of(shape))
        .map(|_| {
            let x = g.range(-10.0, 10.0);
            if x == 0.0 { 0.5 } else { x }
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}

/// Floats in [lo, hi), deterministic in `seed`.
pub fn dense_f64_in(shape: &[usize], seed: u64, lo: f64, hi: f64) -> ArrayD<f64> {
    let mut g = Lcg::new(seed);
    let v: Vec<f64> = (0..n_of(shape)).map(|_| g.range(lo, hi)).collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}

/// `dense_f64` rounded to f32.
pub fn dense_f32(shape: &[usize], seed: u64) -> ArrayD<f32> {
    dense_f64(shape, seed).mapv(|x| x as f32)
}

/// Integers in [-50, 50), deterministic in `seed`.
pub fn dense_i32(shape: &[usize], seed: u64) -> ArrayD<i32> {
    let mut g = Lcg::new(seed);
    let v: Vec<i32> = (0..n_of(shape)).map(|_| g.int(-50, 50) as i32).collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}

/// Integers in [-4, 4) (many ties and zeros), deterministic in `seed`.
pub fn dense_small_i32(shape: &[usize], seed: u64) -> ArrayD<i32> {
    let mut g = Lcg::new(seed);
    let v: Vec<i32> = (0..n_of(shape)).map(|_| g.int(-4, 4) as i32).collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}

/// A boolean pattern: true at flat indices where `(i * 7 + seed) % 3 != 0`.
pub fn dense_bool(shape: &[usize], seed: u64) -> ArrayD<bool> {
    let v: Vec<bool> = (0..n_of(shape))
        .map(|i| !(i as u64 * 7 + seed).is_multiple_of(3))
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}

/// `data` as a lazy array in tiles of `chunks`, from a source that counts its calls.
pub fn counting_source_of(data: ArrayD<f64>, chunks: &[usize]) -> (Array<f64>, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let shape = data.shape().to_vec();
    let x = chunkwise::from_fn(&shape, chunks.to_vec(), move |_, ranges| {
        counter.fetch_add(1, Ordering::SeqCst);
        let mut view = data.view();
        for (axis, r) in ranges.iter().enumerate() {
            view.slice_axis_inplace(ndarray::Axis(axis), ndarray::Slice::from(r.clone()));
        }
        view.to_owned()
    })
    .unwrap();
    (x, calls)
}

/// [`counting_source_of`] `dense_f64(shape, 4242)`, returned beside it.
pub fn counting_source(
    shape: &[usize],
    chunks: &[usize],
) -> (Array<f64>, Arc<AtomicUsize>, ArrayD<f64>) {
    let dense = dense_f64(shape, 4242);
    let (x, calls) = counting_source_of(dense.clone(), chunks);
    (x, calls, dense)
}

/// A shape and a chunking of it.
#[derive(Clone, Debug)]
pub struct Case {
    pub shape: Vec<usize>,
    pub chunks: Chunks,
}

impl Case {
    pub fn new(shape: &[usize], chunks: Chunks) -> Case {
        Case {
            shape: shape.to_vec(),
            chunks,
        }
    }
}

fn reg(shape: &[usize], chunks: &[usize]) -> Case {
    Case::new(shape, Chunks::Shape(chunks.to_vec()))
}

fn irr(shape: &[usize], sizes: &[&[usize]]) -> Case {
    Case::new(
        shape,
        Chunks::Sizes(sizes.iter().map(|s| s.to_vec()).collect()),
    )
}

/// Shapes with chunkings: 0-d, zero-length axes, size-1 axes, 1-d to 4-d, regular and
/// irregular chunks.
pub fn cases() -> Vec<Case> {
    vec![
        reg(&[], &[]),
        reg(&[0], &[3]),
        reg(&[1], &[1]),
        reg(&[7], &[3]),
        irr(&[10], &[&[3, 1, 4, 2]]),
        reg(&[4, 0], &[2, 2]),
        reg(&[1, 5], &[1, 2]),
        reg(&[5, 6], &[2, 4]),
        irr(&[6, 5], &[&[3, 1, 2], &[2, 3]]),
        reg(&[3, 1, 4], &[2, 1, 3]),
        irr(&[4, 3, 5], &[&[1, 3], &[3], &[2, 2, 1]]),
        reg(&[2, 3, 4, 5], &[1, 2, 3, 2]),
        // Tiles with two reduced extents above 1 around a kept one (axes 0 and 2).
        reg(&[4, 3, 5, 6], &[2, 3, 5, 6]),
        irr(&[3, 2, 1, 4], &[&[2, 1], &[1, 1], &[1], &[3, 1]]),
    ]
}

/// The non-empty cases of at least one dimension (for reductions that need elements).
pub fn nonempty_cases() -> Vec<Case> {
    cases()
        .into_iter()
        .filter(|c| !c.shape.is_empty() && n_of(&c.shape) > 0)
        .collect()
}

/// Whether two floats agree within `rel_tol` (relative to the larger magnitude), treating
/// NaN as equal to NaN and requiring infinities to match exactly.
pub fn close(a: f64, e: f64, rel_tol: f64) -> bool {
    if a.is_nan() || e.is_nan() {
        return a.is_nan() && e.is_nan();
    }
    if a.is_infinite() || e.is_infinite() {
        return a == e;
    }
    (a - e).abs() <= rel_tol * a.abs().max(e.abs()) || a == e
}

/// Asserts equal shapes and elementwise `close` values.
pub fn assert_close<T: Copy + Into<f64> + std::fmt::Debug>(
    actual: &ArrayD<T>,
    expected: &ArrayD<T>,
    rel_tol: f64,
) {
    assert_eq!(actual.shape(), expected.shape(), "shapes differ");
    for ((idx, &a), &e) in actual.indexed_iter().zip(expected.iter()) {
        assert!(
            close(a.into(), e.into(), rel_tol),
            "at {:?}: got {:?}, expected {:?} (rel_tol {rel_tol:e})",
            idx.slice(),
            a,
            e
        );
    }
}

/// Asserts equal shapes and `|a - e| <= tol[i]` per element (NaN == NaN).
pub fn assert_within(actual: &ArrayD<f64>, expected: &ArrayD<f64>, tol: &ArrayD<f64>) {
    assert_eq!(actual.shape(), expected.shape(), "shapes differ");
    for (((idx, &a), &e), &t) in actual.indexed_iter().zip(expected.iter()).zip(tol.iter()) {
        let ok = if a.is_nan() || e.is_nan() {
            a.is_nan() && e.is_nan()
        } else {
            a == e || (a - e).abs() <= t
        };
        assert!(
            ok,
            "at {:?}: got {a:e}, expected {e:e}, tolerance {t:e}",
            idx.slice()
        );
    }
}

/// Asserts bit-identical floats (NaN payloads aside).
pub fn assert_same_f64(actual: &ArrayD<f64>, expected: &ArrayD<f64>) {
    assert_eq!(actual.shape(), expected.shape(), "shapes differ");
    for ((idx, &a), &e) in actual.indexed_iter().zip(expected.iter()) {
        assert!(
            a.to_bits() == e.to_bits() || (a.is_nan() && e.is_nan()),
            "at {:?}: got {a:e}, expected {e:e}",
            idx.slice()
        );
    }
}

/// NumPy broadcasting of two shapes (None if incompatible).
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let pad = |s: &[usize]| -> Vec<usize> {
        std::iter::repeat_n(1, n - s.len())
            .chain(s.iter().copied())
            .collect()
    };
    let (pa, pb) = (pad(a), pad(b));
    pa.iter()
        .zip(&pb)
        .map(|(&x, &y)| {
            if x == y || y == 1 {
                Some(x)
            } else if x == 1 {
                Some(y)
            } else {
                None
            }
        })
        .collect()
}

/// `f(a, b)` elementwise with NumPy broadcasting, densely.
pub fn zip_dense<A: Copy, B: Copy, U>(
    a: &ArrayD<A>,
    b: &ArrayD<B>,
    f: impl Fn(A, B) -> U,
) -> ArrayD<U> {
    let shape = broadcast_shape(a.shape(), b.shape()).expect("broadcastable shapes");
    let av = a.broadcast(IxDyn(&shape)).unwrap();
    let bv = b.broadcast(IxDyn(&shape)).unwrap();
    Zip::from(&av).and(&bv).map_collect(|&x, &y| f(x, y))
}

/// `f(c, a, b)` elementwise with broadcasting of all three, densely.
pub fn zip3_dense<C: Copy, A: Copy, B: Copy, U>(
    c: &ArrayD<C>,
    a: &ArrayD<A>,
    b: &ArrayD<B>,
    f: impl Fn(C, A, B) -> U,
) -> ArrayD<U> {
    let s = broadcast_shape(c.shape(), a.shape()).expect("broadcastable");
    let s = broadcast_shape(&s, b.shape()).expect("broadcastable");
    let cv = c.broadcast(IxDyn(&s)).unwrap();
    let av = a.broadcast(IxDyn(&s)).unwrap();
    let bv = b.broadcast(IxDyn(&s)).unwrap();
    Zip::from(&cv)
        .and(&av)
        .and(&bv)
        .map_collect(|&x, &y, &z| f(x, y, z))
}

/// Dense reduction: for each position of the kept axes, `f` receives the reduced elements in
/// C order over the reduced axes (so a position in the slice is the reduced-space flat index).
/// `axes` must be distinct and in range; `None` reduces all axes.
pub fn reduce_dense<T: Clone, U>(
    a: &ArrayViewD<'_, T>,
    axes: Option<&[usize]>,
    keepdims: bool,
    f: impl Fn(&[T]) -> U,
) -> ArrayD<U> {
    let ndim = a.ndim();
    let reduced: Vec<bool> = (0..ndim)
        .map(|i| axes.is_none_or(|ax| ax.contains(&i)))
        .collect();
    let kept: Vec<usize> = (0..ndim).filter(|&i| !reduced[i]).collect();
    let red: Vec<usize> = (0..ndim).filter(|&i| reduced[i]).collect();
    let order: Vec<usize> = kept.iter().chain(&red).copied().collect();
    let permuted = a.view().permuted_axes(IxDyn(&order));
    let std_layout = permuted.as_standard_layout();
    let kept_len: usize = kept.iter().map(|&i| a.shape()[i]).product();
    let red_len: usize = red.iter().map(|&i| a.shape()[i]).product();
    let flat: Vec<T> = std_layout.iter().cloned().collect();
    let out_shape: Vec<usize> = (0..ndim)
        .filter_map(|i| match (reduced[i], keepdims) {
            (false, _) => Some(a.shape()[i]),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect();
    let values: Vec<U> = (0..kept_len)
        .map(|k| f(&flat[k * red_len..(k + 1) * red_len]))
        .collect();
    ArrayD::from_shape_vec(IxDyn(&out_shape), values).unwrap()
}

/// Every subset of `0..ndim` (as sorted axis lists), the empty one included.
pub fn axis_subsets(ndim: usize) -> Vec<Vec<usize>> {
    (0..1usize << ndim)
        .map(|mask| (0..ndim).filter(|i| mask >> i & 1 == 1).collect())
        .collect()
}

/// The axes as `isize` for `Reduction::axes`.
pub fn iaxes(axes: &[usize]) -> Vec<isize> {
    axes.iter().map(|&a| a as isize).collect()
}

/// The single element of a 0-d result.
pub trait ScalarOf<T> {
    fn scalar(self) -> T;
}

impl<T: Clone> ScalarOf<T> for ArrayD<T> {
    fn scalar(self) -> T {
        assert_eq!(self.ndim(), 0, "a 0-d result, got shape {:?}", self.shape());
        self.first().expect("a 0-d array has one element").clone()
    }
}

/// A proptest strategy of random positive chunk lengths adding up to `len` (one-element
/// chunks frequent; `[0]` for an empty axis).
pub fn chunks_for(len: usize) -> proptest::strategy::BoxedStrategy<Vec<usize>> {
    use proptest::prelude::*;
    if len == 0 {
        return Just(vec![0]).boxed();
    }
    proptest::collection::vec(proptest::bool::weighted(0.35), len - 1)
        .prop_map(move |cuts| {
            let mut out = Vec::new();
            let mut run = 1;
            for cut in cuts {
                if cut {
                    out.push(run);
                    run = 1;
                } else {
                    run += 1;
                }
            }
            out.push(run);
            debug_assert_eq!(out.iter().sum::<usize>(), len);
            out
        })
        .boxed()
}

/// Integer-valued f64 data in [0, 16), so results of structure and indexing operations
/// compare exactly.
pub fn integer_valued(shape: &[usize], seed: u64) -> ArrayD<f64> {
    dense_f64(shape, seed).mapv(|v| (v * 16.0).floor())
}

/// A proptest strategy of a shape of 1 to 3 axes of lengths 1 to `max_len`, and an
/// irregular chunking of it (see [`chunks_for`]).
pub fn shape_and_chunks(
    max_len: usize,
) -> proptest::strategy::BoxedStrategy<(Vec<usize>, Vec<Vec<usize>>)> {
    use proptest::prelude::*;
    proptest::collection::vec(1usize..max_len + 1, 1..4)
        .prop_flat_map(|shape| {
            let chunks: Vec<BoxedStrategy<Vec<usize>>> =
                shape.iter().map(|&n| chunks_for(n)).collect();
            (Just(shape), chunks)
        })
        .boxed()
}

/// NumPy's `np.pad` of one axis, written directly: where element `i` of the padded axis
/// (of a source of length `n`, counted from the first source element) is read from, or
/// `None` for the constant.
pub fn numpy_pad_source(mode: &chunkwise::Pad<f64>, i: isize, n: isize) -> Option<isize> {
    use chunkwise::Pad;
    if (0..n).contains(&i) {
        return Some(i);
    }
    Some(match mode {
        Pad::Constant(_) => return None,
        Pad::Edge => i.clamp(0, n - 1),
        Pad::Reflect if i < 0 => -i,
        Pad::Reflect => 2 * (n - 1) - i,
        Pad::Symmetric if i < 0 => -i - 1,
        Pad::Symmetric => 2 * n - 1 - i,
        Pad::Wrap => i.rem_euclid(n),
        other => panic!("{other:?} does not read its pad from the array"),
    })
}

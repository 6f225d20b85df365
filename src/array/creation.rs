//! Creating arrays: from memory, constants, ranges, the identity, a user function.

use std::marker::PhantomData;
use std::ops::Range;
use std::sync::Arc;

use chunkwise_kernels::dtype::{Element, FloatElement, Numeric, Scalar};
use chunkwise_kernels::strip::StripOp;
use ndarray::{ArrayBase, ArrayD, Data, Dimension};

use super::Array;
use crate::chunks::{ChunkGrid, Chunks};
use crate::error::{BuildError, Error, Result};
use crate::graph::{Node, NodeKind, Source};
use crate::ops::generators::{Eye, Fill, FloatSteps, IntSteps, Ramp};
use crate::ops::sources::{FromFn, InMemory};

/// An array whose elements come from a position generator.
pub(crate) fn generated<T: Element>(
    shape: &[usize],
    chunks: impl Into<Chunks>,
    op: Arc<dyn StripOp>,
) -> Result<Array<T>> {
    let grid = ChunkGrid::new(shape, &chunks.into(), T::DTYPE.size())?;
    Ok(generated_on(grid, op))
}

/// An array on `grid` whose elements come from a position generator.
pub(crate) fn generated_on<T: Element>(grid: ChunkGrid, op: Arc<dyn StripOp>) -> Array<T> {
    Array::from_node(Node::new(
        NodeKind::Source(Source::Generator(op)),
        grid,
        T::DTYPE,
    ))
}

/// A chunked array over a copy of `array`'s data.
///
/// ```
/// let a = ndarray::arr2(&[[1.0, 2.0], [3.0, 4.0]]);
/// let x = chunkwise::from_ndarray(&a, [1, 2]).unwrap();
/// assert_eq!(x.n_tiles(), 2);
/// assert_eq!(x.compute().unwrap(), a.into_dyn());
/// ```
pub fn from_ndarray<T, S, D>(array: &ArrayBase<S, D>, chunks: impl Into<Chunks>) -> Result<Array<T>>
where
    T: Element,
    S: Data<Elem = T>,
    D: Dimension,
{
    let owned: ArrayD<T> = array.to_owned().into_dyn();
    let grid = ChunkGrid::new(owned.shape(), &chunks.into(), T::DTYPE.size())?;
    let source = InMemory {
        array: Arc::new(owned),
    };
    Ok(Array::from_node(Node::new(
        NodeKind::Source(Source::Tiles(Arc::new(source))),
        grid,
        T::DTYPE,
    )))
}

/// An array filled with `value`.
///
/// ```
/// let x = chunkwise::full(&[2, 3], 7u8, [1, 3]).unwrap();
/// assert!(x.compute().unwrap().iter().all(|&v| v == 7));
/// ```
pub fn full<T: Element>(shape: &[usize], value: T, chunks: impl Into<Chunks>) -> Result<Array<T>> {
    generated(shape, chunks, Arc::new(Fill(value)))
}

/// An array of zeros (`false` for bool).
pub fn zeros<T: Element>(shape: &[usize], chunks: impl Into<Chunks>) -> Result<Array<T>> {
    full(shape, T::default(), chunks)
}

/// An array of ones.
pub fn ones<T: Numeric>(shape: &[usize], chunks: impl Into<Chunks>) -> Result<Array<T>> {
    full(shape, T::ONE, chunks)
}

/// Values from `start` up to (not including) `stop`, `step` apart (NumPy's `arange`).
///
/// Integer ranges are exact for every integer type (integer arithmetic, whatever the
/// magnitude); float ranges follow NumPy (`ceil((stop - start) / step)` values, each
/// `start + i * step` in f64). A step of 0, a non-finite argument, or a range too long to
/// exist is an error.
///
/// ```
/// let x = chunkwise::arange::<i32>(2, 11, 3, [2]).unwrap();
/// assert_eq!(x.compute().unwrap().into_raw_vec_and_offset().0, vec![2, 5, 8]);
/// let y = chunkwise::arange::<u64>(u64::MAX - 2, u64::MAX, 1, [2]).unwrap();
/// assert_eq!(y.compute().unwrap().into_raw_vec_and_offset().0, vec![u64::MAX - 2, u64::MAX - 1]);
/// ```
pub fn arange<T: Numeric>(
    start: T,
    stop: T,
    step: T,
    chunks: impl Into<Chunks>,
) -> Result<Array<T>> {
    match (int_value(start), int_value(stop), int_value(step)) {
        (Some(a), Some(b), Some(s)) => int_arange::<T>(a, b, s, chunks),
        _ => float_arange(start, stop, step, chunks),
    }
}

/// An integer element's value (`None` for floats).
fn int_value<T: Element>(v: T) -> Option<i128> {
    match v.to_scalar() {
        Scalar::Int(v) => Some(v.into()),
        Scalar::UInt(v) => Some(v.into()),
        Scalar::Bool(v) => Some(v.into()),
        Scalar::Float(_) => None,
    }
}

/// [`arange`] of an integer type, in exact integer arithmetic.
fn int_arange<T: Numeric>(
    start: i128,
    stop: i128,
    step: i128,
    chunks: impl Into<Chunks>,
) -> Result<Array<T>> {
    if step == 0 {
        return Err(Error::Build(BuildError::InvalidArgument {
            op: "arange".into(),
            reason: format!("start {start}, stop {stop}, step 0: the step must be non-zero"),
        }));
    }
    // |stop - start| < 2^65 and |step| >= 1: no overflow in i128.
    let span = if step > 0 { stop - start } else { start - stop };
    let count = if span > 0 {
        (span - 1) / step.abs() + 1
    } else {
        0
    };
    let n = usize::try_from(count).map_err(|_| {
        Error::Build(BuildError::InvalidArgument {
            op: "arange".into(),
            reason: format!("start {start}, stop {stop}, step {step}: {count} values, more than an array can hold"),
        })
    })?;
    generated(
        &[n],
        chunks,
        Arc::new(Ramp::<T, _> {
            values: IntSteps { start, step },
            _t: PhantomData,
        }),
    )
}

/// [`arange`] of a float type (NumPy's semantics).
fn float_arange<T: Numeric>(
    start: T,
    stop: T,
    step: T,
    chunks: impl Into<Chunks>,
) -> Result<Array<T>> {
    let (a, b, s) = (T::as_f64(start), T::as_f64(stop), T::as_f64(step));
    if s == 0.0 || !s.is_finite() || !a.is_finite() || !b.is_finite() {
        return Err(Error::Build(BuildError::InvalidArgument {
            op: "arange".into(),
            reason: format!("start {a}, stop {b}, step {s}: the step must be finite and non-zero"),
        }));
    }
    let count = ((b - a) / s).ceil().max(0.0);
    if count >= usize::MAX as f64 {
        return Err(Error::Build(BuildError::InvalidArgument {
            op: "arange".into(),
            reason: format!(
                "start {a}, stop {b}, step {s}: {count} values, more than an array can hold"
            ),
        }));
    }
    let n = count as usize;
    generated(
        &[n],
        chunks,
        Arc::new(Ramp::<T, _> {
            values: FloatSteps {
                start: a,
                step: s,
                end: None,
            },
            _t: PhantomData,
        }),
    )
}

/// `num` values evenly spaced from `start` to `stop` inclusive (NumPy's `linspace`).
///
/// ```
/// let x = chunkwise::linspace::<f64>(0.0, 1.0, 5, [2]).unwrap();
/// assert_eq!(x.compute().unwrap().into_raw_vec_and_offset().0, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
/// ```
pub fn linspace<T: FloatElement>(
    start: T,
    stop: T,
    num: usize,
    chunks: impl Into<Chunks>,
) -> Result<Array<T>> {
    let (a, b) = (T::as_f64(start), T::as_f64(stop));
    let step = if num > 1 {
        (b - a) / (num - 1) as f64
    } else {
        0.0
    };
    let end = (num > 1).then(|| ((num - 1) as u64, b));
    generated(
        &[num],
        chunks,
        Arc::new(Ramp::<T, _> {
            values: FloatSteps {
                start: a,
                step,
                end,
            },
            _t: PhantomData,
        }),
    )
}

/// An `n x m` matrix with ones on diagonal `k` (0: main, positive: above).
///
/// ```
/// let x = chunkwise::eye::<f64>(3, 4, 1, [2, 2]).unwrap().compute().unwrap();
/// assert_eq!(x[[0, 1]], 1.0);
/// assert_eq!(x[[1, 1]], 0.0);
/// ```
pub fn eye<T: Numeric>(n: usize, m: usize, k: i64, chunks: impl Into<Chunks>) -> Result<Array<T>> {
    let op = Eye::<T> {
        k,
        cols: m.max(1) as u64,
        _t: PhantomData,
    };
    generated(&[n, m], chunks, Arc::new(op))
}

/// An array whose tiles come from `f(block_index, element_ranges)`, called when a tile is
/// needed (on a worker thread). A tile of the wrong shape, or a panic in `f`, is an error of
/// the computation that names the block.
///
/// ```
/// use ndarray::{ArrayD, IxDyn};
/// let x = chunkwise::from_fn(&[4, 4], [2, 2], |_block, ranges| {
///     let shape: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
///     ArrayD::from_shape_fn(IxDyn(&shape), |i| (ranges[0].start + i[0]) as f64)
/// })
/// .unwrap();
/// assert_eq!(x.compute().unwrap()[[3, 0]], 3.0);
/// ```
pub fn from_fn<T, F>(shape: &[usize], chunks: impl Into<Chunks>, f: F) -> Result<Array<T>>
where
    T: Element,
    F: Fn(&[usize], &[Range<usize>]) -> ArrayD<T> + Send + Sync + 'static,
{
    let grid = ChunkGrid::new(shape, &chunks.into(), T::DTYPE.size())?;
    let source = FromFn { f, _t: PhantomData };
    Ok(Array::from_node(Node::new(
        NodeKind::Source(Source::Tiles(Arc::new(source))),
        grid,
        T::DTYPE,
    )))
}

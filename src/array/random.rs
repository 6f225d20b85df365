//! Random arrays from a counter-based generator (Philox4x32-10): each value depends only on
//! the seed and the element's position, so the same seed gives the same array whatever the
//! chunking and the thread count.
//!
//! ```
//! let a = chunkwise::random::uniform::<f64>(42, 0.0, 1.0, &[100, 100], [30, 70]).unwrap();
//! let b = chunkwise::random::uniform::<f64>(42, 0.0, 1.0, &[100, 100], [100, 9]).unwrap();
//! assert_eq!(a.compute().unwrap(), b.compute().unwrap());
//! ```

use std::marker::PhantomData;
use std::sync::Arc;

use chunkwise_kernels::dtype::{DType, FloatElement, Numeric, Scalar};

use super::Array;
use super::creation::generated;
use crate::chunks::Chunks;
use crate::error::{BuildError, Error, Result};
use crate::ops::generators::{Distribution, Random, RandomIntegers};

/// Uniform floats on `[low, high)`.
pub fn uniform<T: FloatElement>(
    seed: u64,
    low: T,
    high: T,
    shape: &[usize],
    chunks: impl Into<Chunks>,
) -> Result<Array<T>> {
    let (low, high) = (T::as_f64(low), T::as_f64(high));
    let valid = low.is_finite() && high.is_finite() && low < high;
    random_floats::<T>(
        seed,
        Distribution::Uniform { low, high },
        valid,
        shape,
        chunks,
    )
}

/// Normal floats with `mean` and standard deviation `std`.
pub fn normal<T: FloatElement>(
    seed: u64,
    mean: T,
    std: T,
    shape: &[usize],
    chunks: impl Into<Chunks>,
) -> Result<Array<T>> {
    let (mean, std) = (T::as_f64(mean), T::as_f64(std));
    let valid = mean.is_finite() && std.is_finite() && std >= 0.0;
    random_floats::<T>(
        seed,
        Distribution::Normal { mean, std },
        valid,
        shape,
        chunks,
    )
}

/// Random floats from `distribution`, or an error naming its parameters when not `valid`.
fn random_floats<T: FloatElement>(
    seed: u64,
    distribution: Distribution,
    valid: bool,
    shape: &[usize],
    chunks: impl Into<Chunks>,
) -> Result<Array<T>> {
    if !valid {
        let (op, reason) = match distribution {
            Distribution::Uniform { low, high } => (
                "uniform",
                format!("need finite low < high, got {low} and {high}"),
            ),
            Distribution::Normal { mean, std } => (
                "normal",
                format!("need a finite mean and std >= 0, got {mean} and {std}"),
            ),
        };
        return Err(Error::Build(BuildError::InvalidArgument {
            op: op.into(),
            reason,
        }));
    }
    let op = Random::<T> {
        seed,
        distribution,
        _t: PhantomData,
    };
    generated(shape, chunks, Arc::new(op))
}

/// Integers uniform on `[low, high)`.
///
/// ```
/// let x = chunkwise::random::integers::<i32>(1, -5, 3, &[1000], [128]).unwrap();
/// let v = x.compute().unwrap();
/// assert!(v.iter().all(|&i| (-5..3).contains(&i)));
/// ```
pub fn integers<T: Numeric>(
    seed: u64,
    low: T,
    high: T,
    shape: &[usize],
    chunks: impl Into<Chunks>,
) -> Result<Array<T>> {
    let as_i128 = |v: T| match v.to_scalar() {
        Scalar::Int(i) => i as i128,
        Scalar::UInt(u) => u as i128,
        _ => 0,
    };
    let (lo, hi) = (as_i128(low), as_i128(high));
    if matches!(T::DTYPE, DType::F32 | DType::F64) || lo >= hi {
        return Err(Error::Build(BuildError::InvalidArgument {
            op: "integers".into(),
            reason: format!("need an integer type and low < high, got {lo} and {hi}"),
        }));
    }
    let op = RandomIntegers::<T> {
        seed,
        low: lo,
        span: (hi - lo) as u64,
        _t: PhantomData,
    };
    generated(shape, chunks, Arc::new(op))
}

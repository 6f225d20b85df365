//! Position generators: sources whose value at each element depends only on its global
//! position (constants, ranges, the identity matrix, counter-based random numbers). They run
//! strip by strip inside fused kernels, so a random input never exists as a whole tile.

use std::fmt::Debug;
use std::sync::Arc;

use chunkwise_kernels::dtype::{DType, Element, FloatElement, Numeric, Scalar, Strip, StripMut};
use chunkwise_kernels::random::fill_integers_i64;
use chunkwise_kernels::simd::map_in_place;
use chunkwise_kernels::strip::{StripAt, StripOp, TilePosition};

use crate::chunks::{SourceAxis, View};

/// The same value everywhere.
#[derive(Debug)]
pub(crate) struct Fill<T>(pub(crate) T);

impl<T: Element> StripOp for Fill<T> {
    fn name(&self) -> String {
        format!("full[{:?}]", self.0)
    }
    fn out_dtype(&self) -> DType {
        T::DTYPE
    }
    fn eval(&self, _: &[Strip<'_>], _: StripAt<'_>, out: StripMut<'_>) {
        T::from_strip_mut(out).fill(self.0);
    }
}

/// A range: the value at global linear index `i` is `values.at(i)`, in f64 ([`FloatSteps`],
/// NumPy's float `arange` and `linspace`) or exactly in i128 ([`IntSteps`], integer
/// `arange`).
#[derive(Debug)]
pub(crate) struct Ramp<T, V> {
    pub(crate) values: V,
    pub(crate) _t: std::marker::PhantomData<fn() -> T>,
}

/// The values of a [`Ramp`] by global linear index.
pub(crate) trait Steps: Debug + Send + Sync + 'static {
    /// `start` and `step`, for plans.
    fn describe(&self) -> String;
    /// The value at global linear index `i`.
    fn at(&self, i: u64) -> Scalar;
}

/// `start + i * step` in f64; the index `end.0`, if any, is exactly `end.1` (linspace's
/// endpoint).
#[derive(Debug)]
pub(crate) struct FloatSteps {
    pub(crate) start: f64,
    pub(crate) step: f64,
    pub(crate) end: Option<(u64, f64)>,
}

impl Steps for FloatSteps {
    fn describe(&self) -> String {
        format!("start={}, step={}", self.start, self.step)
    }
    fn at(&self, i: u64) -> Scalar {
        Scalar::Float(match self.end {
            Some((last, end)) if i == last => end,
            _ => self.start + i as f64 * self.step,
        })
    }
}

/// `start + i * step` exactly, in i128, where every value of every integer type and every
/// step between two of them fits. The builder ensures that every value of the range fits
/// the element type.
#[derive(Debug)]
pub(crate) struct IntSteps {
    pub(crate) start: i128,
    pub(crate) step: i128,
}

impl Steps for IntSteps {
    fn describe(&self) -> String {
        format!("start={}, step={}", self.start, self.step)
    }
    fn at(&self, i: u64) -> Scalar {
        int_scalar(self.start + i128::from(i) * self.step)
    }
}

impl<T: Element, V: Steps> StripOp for Ramp<T, V> {
    fn name(&self) -> String {
        format!("ramp[{}]", self.values.describe())
    }
    fn out_dtype(&self) -> DType {
        T::DTYPE
    }
    fn eval(&self, _: &[Strip<'_>], at: StripAt<'_>, out: StripMut<'_>) {
        let out = T::from_strip_mut(out);
        at.tile
            .for_each_run(at.offset, out.len(), |o, linear, len, stride| {
                for (k, v) in out[o..o + len].iter_mut().enumerate() {
                    *v = T::from_scalar(self.values.at(linear + k as u64 * stride));
                }
            });
    }
}

/// A generator read through a view that keeps every element's neighbours (see
/// [`View::is_translation`]): it makes, at each position of the view, the value it makes at
/// the source position read there. A slice `x[1:, :-1]` of a random array fuses into its
/// consumer as the random numbers of the source positions, with no tile of them made.
#[derive(Debug)]
pub(crate) struct Translated {
    /// The generator, making values of the source array.
    pub(crate) op: Arc<dyn StripOp>,
    /// The view, a translation.
    pub(crate) view: View,
    /// The shape of the array the generator makes.
    pub(crate) source_shape: Vec<usize>,
}

impl StripOp for Translated {
    fn name(&self) -> String {
        let at = self.view.text(&self.source_shape).unwrap_or_default();
        format!("{}{at}", self.op.name())
    }
    fn out_dtype(&self) -> DType {
        self.op.out_dtype()
    }
    fn eval(&self, args: &[Strip<'_>], at: StripAt<'_>, out: StripMut<'_>) {
        // The strip's tile seen in the source: the same elements in the same C order
        // (axes held at one index become axes of length 1).
        let (origin, shape): (Vec<usize>, Vec<usize>) = self
            .view
            .source
            .iter()
            .map(|s| match *s {
                SourceAxis::Fixed(i) => (i, 1),
                SourceAxis::Mapped { axis, start, .. } => {
                    (start + at.tile.origin[axis], at.tile.shape[axis])
                }
            })
            .unzip();
        let tile = TilePosition {
            origin: &origin,
            shape: &shape,
            array_shape: &self.source_shape,
        };
        self.op.eval(
            args,
            StripAt {
                tile,
                offset: at.offset,
            },
            out,
        );
    }
}

/// An integer as the [`Scalar`] that holds it (values of integer element types fit one).
pub(crate) fn int_scalar(value: i128) -> Scalar {
    if value < 0 {
        Scalar::Int(value as i64)
    } else {
        Scalar::UInt(value as u64)
    }
}

/// Ones on the `k`-th diagonal of a matrix with `cols` columns, zeros elsewhere.
#[derive(Debug)]
pub(crate) struct Eye<T> {
    pub(crate) k: i64,
    pub(crate) cols: u64,
    pub(crate) _t: std::marker::PhantomData<fn() -> T>,
}

impl<T: Numeric> StripOp for Eye<T> {
    fn name(&self) -> String {
        format!("eye[k={}]", self.k)
    }
    fn out_dtype(&self) -> DType {
        T::DTYPE
    }
    fn eval(&self, _: &[Strip<'_>], at: StripAt<'_>, out: StripMut<'_>) {
        let out = T::from_strip_mut(out);
        at.tile
            .for_each_run(at.offset, out.len(), |o, linear, len, stride| {
                for (k, v) in out[o..o + len].iter_mut().enumerate() {
                    let i = linear + k as u64 * stride;
                    let (row, col) = ((i / self.cols) as i64, (i % self.cols) as i64);
                    *v = if col - row == self.k { T::ONE } else { T::ZERO };
                }
            });
    }
}

/// Which distribution a [`Random`] generator draws from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Distribution {
    /// Uniform on [low, high).
    Uniform { low: f64, high: f64 },
    /// Normal with this mean and standard deviation.
    Normal { mean: f64, std: f64 },
}

/// Counter-based random floats: Philox keyed by the seed, counter from the element's
/// global position, so values do not depend on chunking or threads.
#[derive(Debug)]
pub(crate) struct Random<T> {
    pub(crate) seed: u64,
    pub(crate) distribution: Distribution,
    pub(crate) _t: std::marker::PhantomData<fn() -> T>,
}

impl<T: FloatElement> StripOp for Random<T> {
    fn name(&self) -> String {
        match self.distribution {
            Distribution::Uniform { low, high } => {
                format!("uniform[seed={}, {low}..{high}]", self.seed)
            }
            Distribution::Normal { mean, std } => {
                format!("normal[seed={}, {mean}, {std}]", self.seed)
            }
        }
    }
    fn out_dtype(&self) -> DType {
        T::DTYPE
    }
    fn eval(&self, _: &[Strip<'_>], at: StripAt<'_>, out: StripMut<'_>) {
        let out = T::from_strip_mut(out);
        at.tile
            .for_each_run(at.offset, out.len(), |o, linear, len, stride| {
                let run = &mut out[o..o + len];
                match self.distribution {
                    Distribution::Uniform { low, high } => {
                        T::fill_uniform(self.seed, 0, linear, stride, run);
                        if (low, high) != (0.0, 1.0) {
                            let (low, width) = (T::from_f64(low), T::from_f64(high - low));
                            map_in_place(run, |v| low + v * width);
                        }
                    }
                    Distribution::Normal { mean, std } => {
                        T::fill_normal(self.seed, 1, linear, stride, run);
                        if (mean, std) != (0.0, 1.0) {
                            let (mean, std) = (T::from_f64(mean), T::from_f64(std));
                            map_in_place(run, |v| mean + v * std);
                        }
                    }
                }
            });
    }
}

/// Counter-based random integers, uniform on [low, high) for any integer type.
///
/// Draws come from the kernel's i64 generator on `[i64::MIN, i64::MIN + span)` and are
/// shifted to `low`, so spans up to 2^64 - 1 (all of `u64` or `i64`) work.
#[derive(Debug)]
pub(crate) struct RandomIntegers<T> {
    pub(crate) seed: u64,
    pub(crate) low: i128,
    pub(crate) span: u64,
    pub(crate) _t: std::marker::PhantomData<fn() -> T>,
}

impl<T: Numeric> StripOp for RandomIntegers<T> {
    fn name(&self) -> String {
        format!(
            "integers[seed={}, {}..{}]",
            self.seed,
            self.low,
            self.low + self.span as i128
        )
    }
    fn out_dtype(&self) -> DType {
        T::DTYPE
    }
    fn eval(&self, _: &[Strip<'_>], at: StripAt<'_>, out: StripMut<'_>) {
        let out = T::from_strip_mut(out);
        let mut buffer = vec![0i64; out.len()];
        let high = (i64::MIN as i128 + self.span as i128) as i64;
        at.tile
            .for_each_run(at.offset, out.len(), |o, linear, len, stride| {
                fill_integers_i64(
                    self.seed,
                    2,
                    linear,
                    stride,
                    i64::MIN,
                    high,
                    &mut buffer[o..o + len],
                );
            });
        for (v, &x) in out.iter_mut().zip(&buffer) {
            *v = T::from_scalar(int_scalar(self.low + (x as i128 - i64::MIN as i128)));
        }
    }
}

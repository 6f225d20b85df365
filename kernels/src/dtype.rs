//! Element types: the run-time `DType` tag, typed strips, and the `Element` / `Numeric` /
//! `FloatElement` traits that every kernel is generic over.
//!
//! Kernels see strips of values as typed slices. Where the type is known only at run time
//! (a fused program mixes `f64` arithmetic with a `bool` comparison), a slice travels as a
//! [`Strip`], an enum with one variant per dtype, and a typed kernel takes its slice back with
//! [`Element::from_strip`]. The match is per strip, never per element.

use std::fmt::Debug;

use crate::bytes::FixedBytes;
use crate::math::StripFloat;

/// The element type of an array, known at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DType {
    /// `bool`
    Bool,
    /// `i8`
    I8,
    /// `i16`
    I16,
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `u8`
    U8,
    /// `u16`
    U16,
    /// `u32`
    U32,
    /// `u64`
    U64,
    /// `f32`
    F32,
    /// `f64`
    F64,
}

impl DType {
    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            DType::Bool | DType::I8 | DType::U8 => 1,
            DType::I16 | DType::U16 => 2,
            DType::I32 | DType::U32 | DType::F32 => 4,
            DType::I64 | DType::U64 | DType::F64 => 8,
        }
    }

    /// The NumPy-style name (`"float64"`, `"int32"`, `"bool"`).
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::U8 => "uint8",
            DType::U16 => "uint16",
            DType::U32 => "uint32",
            DType::U64 => "uint64",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A read-only strip of elements whose type is known at run time.
#[derive(Clone, Copy, Debug)]
#[allow(missing_docs)]
pub enum Strip<'a> {
    Bool(&'a [bool]),
    I8(&'a [i8]),
    I16(&'a [i16]),
    I32(&'a [i32]),
    I64(&'a [i64]),
    U8(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
    U64(&'a [u64]),
    F32(&'a [f32]),
    F64(&'a [f64]),
}

/// A writable strip of elements whose type is known at run time.
#[derive(Debug)]
#[allow(missing_docs)]
pub enum StripMut<'a> {
    Bool(&'a mut [bool]),
    I8(&'a mut [i8]),
    I16(&'a mut [i16]),
    I32(&'a mut [i32]),
    I64(&'a mut [i64]),
    U8(&'a mut [u8]),
    U16(&'a mut [u16]),
    U32(&'a mut [u32]),
    U64(&'a mut [u64]),
    F32(&'a mut [f32]),
    F64(&'a mut [f64]),
}

/// An owned buffer of elements whose type is known at run time (strip scratch space).
#[derive(Clone, Debug)]
#[allow(missing_docs)]
pub enum StripVec {
    Bool(Vec<bool>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// Applies `$body` to the typed payload of any strip enum, binding it to `$v`.
macro_rules! each_variant {
    ($enum:ident, $value:expr, $v:ident => $body:expr) => {
        match $value {
            $enum::Bool($v) => $body,
            $enum::I8($v) => $body,
            $enum::I16($v) => $body,
            $enum::I32($v) => $body,
            $enum::I64($v) => $body,
            $enum::U8($v) => $body,
            $enum::U16($v) => $body,
            $enum::U32($v) => $body,
            $enum::U64($v) => $body,
            $enum::F32($v) => $body,
            $enum::F64($v) => $body,
        }
    };
}

impl StripVec {
    /// A zeroed buffer of `len` elements of `dtype`.
    pub fn zeros(dtype: DType, len: usize) -> StripVec {
        match dtype {
            DType::Bool => StripVec::Bool(vec![false; len]),
            DType::I8 => StripVec::I8(vec![0; len]),
            DType::I16 => StripVec::I16(vec![0; len]),
            DType::I32 => StripVec::I32(vec![0; len]),
            DType::I64 => StripVec::I64(vec![0; len]),
            DType::U8 => StripVec::U8(vec![0; len]),
            DType::U16 => StripVec::U16(vec![0; len]),
            DType::U32 => StripVec::U32(vec![0; len]),
            DType::U64 => StripVec::U64(vec![0; len]),
            DType::F32 => StripVec::F32(vec![0.0; len]),
            DType::F64 => StripVec::F64(vec![0.0; len]),
        }
    }

    /// The first `len` elements, read-only.
    pub fn head(&self, len: usize) -> Strip<'_> {
        each_variant!(StripVec, self, v => Element::to_strip(&v[..len]))
    }

    /// The first `len` elements, writable.
    pub fn head_mut(&mut self, len: usize) -> StripMut<'_> {
        each_variant!(StripVec, self, v => Element::to_strip_mut(&mut v[..len]))
    }
}

/// A computation generic over the element type, applied to the typed vector inside a
/// [`StripVec`] by [`StripVec::visit`].
pub trait VecVisitor {
    /// What the visit returns.
    type Output;
    /// Called with the typed vector.
    fn visit<T: Element>(self, values: Vec<T>) -> Self::Output;
}

impl StripVec {
    /// Hands the typed vector to `visitor`.
    pub fn visit<V: VecVisitor>(self, visitor: V) -> V::Output {
        each_variant!(StripVec, self, v => visitor.visit(v))
    }
}

impl<'a> Strip<'a> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        each_variant!(Strip, self, v => v.len())
    }

    /// Whether the strip holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The run-time element type.
    pub fn dtype(&self) -> DType {
        each_variant!(Strip, self, v => element_dtype(v))
    }

    /// Elements `range` of this strip.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Strip<'a> {
        each_variant!(Strip, *self, v => Element::to_strip(&v[range]))
    }
}

impl<'a> StripMut<'a> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        each_variant!(StripMut, self, v => v.len())
    }

    /// Whether the strip holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Elements `range` of this strip, reborrowed.
    pub fn slice_mut(&mut self, range: std::ops::Range<usize>) -> StripMut<'_> {
        each_variant!(StripMut, self, v => Element::to_strip_mut(&mut v[range]))
    }

    /// Copies `src` (same dtype and length) into this strip.
    pub fn copy_from(&mut self, src: Strip<'_>) {
        each_variant!(StripMut, self, v => v.copy_from_slice(Element::from_strip(src)))
    }
}

fn element_dtype<T: Element>(_: &[T]) -> DType {
    T::DTYPE
}

/// A value of any dtype, used for scalar operands and `as`-style casts between dtypes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    /// A boolean.
    Bool(bool),
    /// Any signed integer.
    Int(i64),
    /// Any unsigned integer.
    UInt(u64),
    /// Any float.
    Float(f64),
}

/// An element type of arrays: `bool`, the signed and unsigned integers, `f32`, `f64`.
///
/// The trait ties a Rust type to its [`DType`] tag and to the matching [`Strip`] variants.
pub trait Element:
    Copy + Send + Sync + Debug + PartialEq + PartialOrd + Default + FixedBytes + 'static
{
    /// The run-time tag of this type.
    const DTYPE: DType;
    /// Takes the typed slice back from a strip. Panics if the dtype differs, which the graph
    /// builder rules out by checking dtypes when an operation is created.
    fn from_strip(strip: Strip<'_>) -> &[Self];
    /// Takes the typed slice back from a writable strip (same contract as `from_strip`).
    fn from_strip_mut(strip: StripMut<'_>) -> &mut [Self];
    /// Wraps a typed slice.
    fn to_strip(slice: &[Self]) -> Strip<'_>;
    /// Wraps a typed writable slice.
    fn to_strip_mut(slice: &mut [Self]) -> StripMut<'_>;
    /// This value as a [`Scalar`].
    fn to_scalar(self) -> Scalar;
    /// A value from a [`Scalar`], with Rust's `as` semantics (saturating float to int,
    /// wrapping between integers, `x != 0` to bool).
    fn from_scalar(s: Scalar) -> Self;
    /// `as`-style conversion to another element type.
    #[inline(always)]
    fn cast<U: Element>(self) -> U {
        U::from_scalar(self.to_scalar())
    }
    /// Whether this value is NaN (never, for integers and `bool`).
    fn is_nan(a: Self) -> bool;
    /// The type that sums and products of this type accumulate in and return, as NumPy's
    /// do: `i64` for `bool` and the signed integers, `u64` for the unsigned ones, the type
    /// itself for floats. Sums and products in it wrap on overflow, as NumPy's do (silently).
    type Sum: Numeric;
    /// Hands `visitor` the way sums of this type accumulate (wrapping in [`Element::Sum`]
    /// for `bool` and integers, compensated in f64 for floats), so that the reduce layer
    /// can pick its sum reducers for any element type.
    fn visit_sum_kind<V: SumKindVisitor<Self>>(visitor: V) -> V::Output;
}

/// A computation that depends on how sums of `T` accumulate, handed the answer by
/// [`Element::visit_sum_kind`]. The reduce layer picks the reducers of `sum` with it.
pub trait SumKindVisitor<T: Element> {
    /// What the visit returns.
    type Output;
    /// `T` is `bool` or an integer: sums wrap in [`Element::Sum`], as NumPy's do.
    fn wrapping(self) -> Self::Output;
    /// `T` is a float: sums are compensated in f64 and returned in `T`.
    fn float(self) -> Self::Output
    where
        T: FloatElement;
}

/// [`Element::visit_sum_kind`] of an `int` (or `bool`) or a `float` type.
macro_rules! visit_sum_kind {
    (int, $visitor:ident) => {
        $visitor.wrapping()
    };
    (float, $visitor:ident) => {
        $visitor.float()
    };
}

/// [`Element::is_nan`] of an `int` or a `float` type.
macro_rules! is_nan {
    (int, $a:ident) => {{
        let _ = $a;
        false
    }};
    (float, $a:ident) => {
        $a.is_nan()
    };
}

macro_rules! impl_element {
    ($t:ty, $variant:ident, $scalar:ident, $sum:ty, $kind:ident) => {
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            type Sum = $sum;
            fn visit_sum_kind<V: SumKindVisitor<Self>>(visitor: V) -> V::Output {
                visit_sum_kind!($kind, visitor)
            }
            #[inline(always)]
            fn is_nan(a: Self) -> bool {
                is_nan!($kind, a)
            }
            #[inline]
            fn from_strip(strip: Strip<'_>) -> &[Self] {
                match strip {
                    Strip::$variant(v) => v,
                    other => panic!(
                        "dtype invariant broken: expected {}, got {}",
                        Self::DTYPE,
                        other.dtype()
                    ),
                }
            }
            #[inline]
            fn from_strip_mut(strip: StripMut<'_>) -> &mut [Self] {
                match strip {
                    StripMut::$variant(v) => v,
                    _ => panic!("dtype invariant broken: expected writable {}", Self::DTYPE),
                }
            }
            #[inline]
            fn to_strip(slice: &[Self]) -> Strip<'_> {
                Strip::$variant(slice)
            }
            #[inline]
            fn to_strip_mut(slice: &mut [Self]) -> StripMut<'_> {
                StripMut::$variant(slice)
            }
            #[inline(always)]
            fn to_scalar(self) -> Scalar {
                Scalar::$scalar(self as _)
            }
            #[inline(always)]
            fn from_scalar(s: Scalar) -> Self {
                match s {
                    Scalar::Bool(b) => b as u8 as $t,
                    Scalar::Int(v) => v as $t,
                    Scalar::UInt(v) => v as $t,
                    Scalar::Float(v) => v as $t,
                }
            }
        }
    };
}

impl_element!(i8, I8, Int, i64, int);
impl_element!(i16, I16, Int, i64, int);
impl_element!(i32, I32, Int, i64, int);
impl_element!(i64, I64, Int, i64, int);
impl_element!(u8, U8, UInt, u64, int);
impl_element!(u16, U16, UInt, u64, int);
impl_element!(u32, U32, UInt, u64, int);
impl_element!(u64, U64, UInt, u64, int);
impl_element!(f32, F32, Float, f32, float);
impl_element!(f64, F64, Float, f64, float);

impl Element for bool {
    const DTYPE: DType = DType::Bool;
    type Sum = i64;
    fn visit_sum_kind<V: SumKindVisitor<Self>>(visitor: V) -> V::Output {
        visitor.wrapping()
    }
    #[inline(always)]
    fn is_nan(_: Self) -> bool {
        false
    }
    #[inline]
    fn from_strip(strip: Strip<'_>) -> &[Self] {
        match strip {
            Strip::Bool(v) => v,
            other => panic!(
                "dtype invariant broken: expected bool, got {}",
                other.dtype()
            ),
        }
    }
    #[inline]
    fn from_strip_mut(strip: StripMut<'_>) -> &mut [Self] {
        match strip {
            StripMut::Bool(v) => v,
            _ => panic!("dtype invariant broken: expected writable bool"),
        }
    }
    #[inline]
    fn to_strip(slice: &[Self]) -> Strip<'_> {
        Strip::Bool(slice)
    }
    #[inline]
    fn to_strip_mut(slice: &mut [Self]) -> StripMut<'_> {
        StripMut::Bool(slice)
    }
    #[inline(always)]
    fn to_scalar(self) -> Scalar {
        Scalar::Bool(self)
    }
    #[inline(always)]
    fn from_scalar(s: Scalar) -> Self {
        match s {
            Scalar::Bool(b) => b,
            Scalar::Int(v) => v != 0,
            Scalar::UInt(v) => v != 0,
            Scalar::Float(v) => v != 0.0,
        }
    }
}

/// Numeric element types (integers and floats): the arithmetic that kernels apply.
///
/// Integer arithmetic wraps on overflow and integer division or remainder by zero gives 0
/// (NumPy's result), so no kernel can panic on data.
pub trait Numeric: Element {
    /// The additive identity.
    const ZERO: Self;
    /// The multiplicative identity.
    const ONE: Self;
    /// The smallest value (negative infinity for floats).
    const LOWEST: Self;
    /// The largest value (infinity for floats).
    const HIGHEST: Self;
    /// The float type that means and variances of this type are computed in.
    type Real: FloatElement;
    /// `a + b`
    fn add(a: Self, b: Self) -> Self;
    /// `a - b`
    fn sub(a: Self, b: Self) -> Self;
    /// `a * b`
    fn mul(a: Self, b: Self) -> Self;
    /// `a / b`
    fn div(a: Self, b: Self) -> Self;
    /// `a % b` (sign of the dividend, like Rust's `%`)
    fn rem(a: Self, b: Self) -> Self;
    /// `-a` (wrapping for unsigned integers)
    fn neg(a: Self) -> Self;
    /// `|a|`
    fn abs(a: Self) -> Self;
    /// Conversion to the type that statistics are computed in.
    fn to_real(a: Self) -> Self::Real;
    /// Conversion to f64 (for accumulating sums of floats).
    fn as_f64(a: Self) -> f64;
}

macro_rules! impl_numeric_int {
    ($($t:ty),*) => {$(
        impl Numeric for $t {
            const ZERO: Self = 0;
            const ONE: Self = 1;
            const LOWEST: Self = <$t>::MIN;
            const HIGHEST: Self = <$t>::MAX;
            type Real = f64;
            #[inline(always)] fn add(a: Self, b: Self) -> Self { a.wrapping_add(b) }
            #[inline(always)] fn sub(a: Self, b: Self) -> Self { a.wrapping_sub(b) }
            #[inline(always)] fn mul(a: Self, b: Self) -> Self { a.wrapping_mul(b) }
            #[inline(always)] fn div(a: Self, b: Self) -> Self {
                if b == 0 { 0 } else { a.wrapping_div(b) }
            }
            #[inline(always)] fn rem(a: Self, b: Self) -> Self {
                if b == 0 { 0 } else { a.wrapping_rem(b) }
            }
            #[inline(always)] fn neg(a: Self) -> Self { (0 as $t).wrapping_sub(a) }
            #[inline(always)] fn abs(a: Self) -> Self {
                #[allow(unused_comparisons)]
                if a < 0 { (0 as $t).wrapping_sub(a) } else { a }
            }
            #[inline(always)] fn to_real(a: Self) -> f64 { a as f64 }
            #[inline(always)] fn as_f64(a: Self) -> f64 { a as f64 }
        }
    )*};
}

impl_numeric_int!(i8, i16, i32, i64, u8, u16, u32, u64);

macro_rules! impl_numeric_float {
    ($($t:ty),*) => {$(
        impl Numeric for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const LOWEST: Self = <$t>::NEG_INFINITY;
            const HIGHEST: Self = <$t>::INFINITY;
            type Real = $t;
            #[inline(always)] fn add(a: Self, b: Self) -> Self { a + b }
            #[inline(always)] fn sub(a: Self, b: Self) -> Self { a - b }
            #[inline(always)] fn mul(a: Self, b: Self) -> Self { a * b }
            #[inline(always)] fn div(a: Self, b: Self) -> Self { a / b }
            #[inline(always)] fn rem(a: Self, b: Self) -> Self { a % b }
            #[inline(always)] fn neg(a: Self) -> Self { -a }
            #[inline(always)] fn abs(a: Self) -> Self { a.abs() }
            #[inline(always)] fn to_real(a: Self) -> Self { a }
            #[inline(always)] fn as_f64(a: Self) -> f64 { a as f64 }
        }
    )*};
}

impl_numeric_float!(f32, f64);

/// The float element types, `f32` and `f64`, with vectorised strip math and random fills.
pub trait FloatElement:
    Numeric<Sum = Self, Real = Self>
    + num_traits::Float
    + StripFloat
    + crate::linalg::BlasScalar
    + faer::traits::RealField
{
    /// Number of significant binary digits (24 for f32, 53 for f64).
    const MANTISSA_DIGITS: u32;
    /// Conversion from f64 (rounding for f32).
    fn from_f64(x: f64) -> Self;
    /// Uniform values in [0, 1) for the elements at global indices `start..`.
    fn fill_uniform(seed: u64, stream: u32, start: u64, stride: u64, out: &mut [Self]);
    /// Standard normal values for the elements at global indices `start + j * stride`.
    fn fill_normal(seed: u64, stream: u32, start: u64, stride: u64, out: &mut [Self]);
}

impl FloatElement for f32 {
    const MANTISSA_DIGITS: u32 = f32::MANTISSA_DIGITS;
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn fill_uniform(seed: u64, stream: u32, start: u64, stride: u64, out: &mut [Self]) {
        crate::random::fill_uniform_f32(seed, stream, start, stride, out)
    }
    fn fill_normal(seed: u64, stream: u32, start: u64, stride: u64, out: &mut [Self]) {
        crate::random::fill_normal_f32(seed, stream, start, stride, out)
    }
}

impl FloatElement for f64 {
    const MANTISSA_DIGITS: u32 = f64::MANTISSA_DIGITS;
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    fn fill_uniform(seed: u64, stream: u32, start: u64, stride: u64, out: &mut [Self]) {
        crate::random::fill_uniform_f64(seed, stream, start, stride, out)
    }
    fn fill_normal(seed: u64, stream: u32, start: u64, stride: u64, out: &mut [Self]) {
        crate::random::fill_normal_f64(seed, stream, start, stride, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_follow_as_semantics() {
        assert_eq!(300i32.cast::<u8>(), 44);
        assert_eq!((-1.5f64).cast::<i32>(), -1);
        assert_eq!(f64::NAN.cast::<i64>(), 0);
        assert!(2.0f32.cast::<bool>());
        assert!(!0u8.cast::<bool>());
        assert_eq!(true.cast::<f64>(), 1.0);
        assert_eq!(u64::MAX.cast::<i64>(), -1);
    }

    #[test]
    fn integer_arithmetic_never_panics() {
        assert_eq!(<i32 as Numeric>::div(7, 0), 0);
        assert_eq!(<i32 as Numeric>::rem(7, 0), 0);
        assert_eq!(<i8 as Numeric>::div(i8::MIN, -1), i8::MIN);
        assert_eq!(<u8 as Numeric>::add(250, 10), 4);
        assert_eq!(<u8 as Numeric>::neg(1), 255);
        assert_eq!(<i8 as Numeric>::abs(i8::MIN), i8::MIN);
    }

    #[test]
    fn strips_round_trip() {
        let data = [1.0f64, 2.0, 3.0];
        let s = f64::to_strip(&data);
        assert_eq!(s.dtype(), DType::F64);
        assert_eq!(f64::from_strip(s.slice(1..3)), &[2.0, 3.0]);
        let mut buf = StripVec::zeros(DType::F64, 3);
        buf.head_mut(3).copy_from(s);
        assert_eq!(f64::from_strip(buf.head(2)), &[1.0, 2.0]);
    }
}

//! The elementwise operations that fused programs are made of.
//!
//! Each is a [`StripOp`]: one `match` on the operation per strip, then a tight typed loop
//! that the compiler vectorises. Scalars ride inside the operation (`x + 2` is one operand).

use std::fmt::Debug;
use std::marker::PhantomData;

use chunkwise_kernels::dtype::{DType, Element, FloatElement, Numeric, Strip, StripMut};
use chunkwise_kernels::math::{BinaryFn, UnaryFn};
use chunkwise_kernels::simd::{map1, map2, map3};
use chunkwise_kernels::strip::{OpKind, StripAt, StripOp};

/// Where the scalar operand of a binary operation sits, if there is one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum ScalarSide<T> {
    /// Both operands are arrays.
    None,
    /// `scalar op array`.
    Left(T),
    /// `array op scalar`.
    Right(T),
}

impl<T: Debug> ScalarSide<T> {
    fn arity(&self) -> usize {
        if matches!(self, ScalarSide::None) {
            2
        } else {
            1
        }
    }

    fn decorate(&self, name: &str) -> String {
        match self {
            ScalarSide::None => name.to_string(),
            ScalarSide::Left(v) => format!("{name}[lhs={v:?}]"),
            ScalarSide::Right(v) => format!("{name}[rhs={v:?}]"),
        }
    }
}

/// Applies `f` pairwise over two array operands, or one array and the scalar, in a loop
/// vectorised for the running CPU.
#[inline(always)]
fn zip_apply<A: Element, O: Element>(
    args: &[Strip<'_>],
    scalar: ScalarSide<A>,
    out: &mut [O],
    f: impl Fn(A, A) -> O,
) {
    match scalar {
        ScalarSide::None => map2(A::from_strip(args[0]), A::from_strip(args[1]), out, f),
        ScalarSide::Left(s) => map1(A::from_strip(args[0]), out, |y| f(s, y)),
        ScalarSide::Right(s) => map1(A::from_strip(args[0]), out, |x| f(x, s)),
    }
}

/// Arithmetic between numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    /// NaN-propagating maximum (NumPy's `maximum`).
    Maximum,
    /// NaN-propagating minimum (NumPy's `minimum`).
    Minimum,
}

/// `a op b` for numeric arrays and scalars.
#[derive(Debug)]
pub(crate) struct Arith<T> {
    pub(crate) op: ArithOp,
    pub(crate) scalar: ScalarSide<T>,
}

#[inline(always)]
fn maximum<T: Numeric>(a: T, b: T) -> T {
    if T::is_nan(a) || a > b { a } else { b }
}

#[inline(always)]
fn minimum<T: Numeric>(a: T, b: T) -> T {
    if T::is_nan(a) || a < b { a } else { b }
}

impl<T: Numeric> StripOp for Arith<T> {
    fn name(&self) -> String {
        let name = match self.op {
            ArithOp::Add => "add",
            ArithOp::Sub => "sub",
            ArithOp::Mul => "mul",
            ArithOp::Div => "div",
            ArithOp::Rem => "rem",
            ArithOp::Maximum => "maximum",
            ArithOp::Minimum => "minimum",
        };
        self.scalar.decorate(name)
    }
    fn out_dtype(&self) -> DType {
        T::DTYPE
    }
    fn eval(&self, args: &[Strip<'_>], _: StripAt<'_>, out: StripMut<'_>) {
        debug_assert_eq!(args.len(), self.scalar.arity());
        let out = T::from_strip_mut(out);
        match self.op {
            ArithOp::Add => zip_apply(args, self.scalar, out, T::add),
            ArithOp::Sub => zip_apply(args, self.scalar, out, T::sub),
            ArithOp::Mul => zip_apply(args, self.scalar, out, T::mul),
            ArithOp::Div => zip_apply(args, self.scalar, out, T::div),
            ArithOp::Rem => zip_apply(args, self.scalar, out, T::rem),
            ArithOp::Maximum => zip_apply(args, self.scalar, out, maximum),
            ArithOp::Minimum => zip_apply(args, self.scalar, out, minimum),
        }
    }
    fn kind(&self) -> OpKind {
        match (self.op, self.scalar) {
            (ArithOp::Add, ScalarSide::None) => OpKind::Add,
            (ArithOp::Sub, ScalarSide::None) => OpKind::Sub,
            _ => OpKind::Other,
        }
    }
}

/// Unary operations on any number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NumUnaryOp {
    Neg,
    Abs,
    /// -1, 0 or 1 (NaN stays NaN).
    Signum,
}

/// `-x`, `|x|`, `signum(x)` for numbers.
#[derive(Debug)]
pub(crate) struct NumUnary<T> {
    pub(crate) op: NumUnaryOp,
    pub(crate) _t: PhantomData<fn(T)>,
}

impl<T: Numeric> StripOp for NumUnary<T> {
    fn name(&self) -> String {
        match self.op {
            NumUnaryOp::Neg => "neg",
            NumUnaryOp::Abs => "abs",
            NumUnaryOp::Signum => "signum",
        }
        .into()
    }
    fn out_dtype(&self) -> DType {
        T::DTYPE
    }
    fn eval(&self, args: &[Strip<'_>], _: StripAt<'_>, out: StripMut<'_>) {
        let (xs, out) = (T::from_strip(args[0]), T::from_strip_mut(out));
        match self.op {
            NumUnaryOp::Neg => map1(xs, out, T::neg),
            NumUnaryOp::Abs => map1(xs, out, T::abs),
            NumUnaryOp::Signum => map1(xs, out, |x| {
                if T::is_nan(x) {
                    x
                } else if x > T::ZERO {
                    T::ONE
                } else if x < T::ZERO {
                    T::neg(T::ONE)
                } else {
                    T::ZERO
                }
            }),
        }
    }
}

/// A vectorised float function (`sin`, `exp`, ...).
#[derive(Debug)]
pub(crate) struct FloatUnary<T> {
    pub(crate) f: UnaryFn,
    pub(crate) _t: PhantomData<fn(T)>,
}

impl<T: FloatElement> StripOp for FloatUnary<T> {
    fn name(&self) -> String {
        self.f.name().into()
    }
    fn out_dtype(&self) -> DType {
        T::DTYPE
    }
    fn eval(&self, args: &[Strip<'_>], _: StripAt<'_>, out: StripMut<'_>) {
        T::unary(self.f, T::from_strip(args[0]), T::from_strip_mut(out));
    }
}

/// A vectorised float function of two arguments (`atan2`, `hypot`, `powf`).
#[derive(Debug)]
pub(crate) struct FloatBinary<T> {
    pub(crate) f: BinaryFn,
    pub(crate) scalar: ScalarSide<T>,
}

impl<T: FloatElement> StripOp for FloatBinary<T> {
    fn name(&self) -> String {
        self.scalar.decorate(self.f.name())
    }
    fn out_dtype(&self) -> DType {
        T::DTYPE
    }
    fn eval(&self, args: &[Strip<'_>], _: StripAt<'_>, out: StripMut<'_>) {
        let out = T::from_strip_mut(out);
        match self.scalar {
            ScalarSide::None => {
                T::binary(self.f, T::from_strip(args[0]), T::from_strip(args[1]), out)
            }
            ScalarSide::Left(s) => {
                let filled = vec![s; out.len()];
                T::binary(self.f, &filled, T::from_strip(args[0]), out)
            }
            ScalarSide::Right(s) => {
                let filled = vec![s; out.len()];
                T::binary(self.f, T::from_strip(args[0]), &filled, out)
            }
        }
    }
}

/// `x.powi(n)`.
#[derive(Debug)]
pub(crate) struct Powi<T> {
    pub(crate) n: i32,
    pub(crate) _t: PhantomData<fn(T)>,
}

impl<T: FloatElement> StripOp for Powi<T> {
    fn name(&self) -> String {
        format!("powi[{}]", self.n)
    }
    fn out_dtype(&self) -> DType {
        T::DTYPE
    }
    fn eval(&self, args: &[Strip<'_>], _: StripAt<'_>, out: StripMut<'_>) {
        let (xs, out) = (T::from_strip(args[0]), T::from_strip_mut(out));
        match self.n {
            // Small powers as multiplications: exact as std's powi, and vectorised.
            2 => map1(xs, out, |x| x * x),
            3 => map1(xs, out, |x| x * x * x),
            _ => <T as chunkwise_kernels::math::StripFloat>::powi(xs, self.n, out),
        }
    }
}

/// Comparisons, giving booleans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// `a cmp b` for arrays and scalars of any element type.
#[derive(Debug)]
pub(crate) struct Compare<T> {
    pub(crate) op: CmpOp,
    pub(crate) scalar: ScalarSide<T>,
}

impl<T: Element> StripOp for Compare<T> {
    fn name(&self) -> String {
        let name = match self.op {
            CmpOp::Eq => "eq",
            CmpOp::Ne => "ne",
            CmpOp::Lt => "lt",
            CmpOp::Le => "le",
            CmpOp::Gt => "gt",
            CmpOp::Ge => "ge",
        };
        self.scalar.decorate(name)
    }
    fn out_dtype(&self) -> DType {
        DType::Bool
    }
    fn eval(&self, args: &[Strip<'_>], _: StripAt<'_>, out: StripMut<'_>) {
        let out = bool::from_strip_mut(out);
        match self.op {
            CmpOp::Eq => zip_apply(args, self.scalar, out, |a: T, b| a == b),
            CmpOp::Ne => zip_apply(args, self.scalar, out, |a: T, b| a != b),
            CmpOp::Lt => zip_apply(args, self.scalar, out, |a: T, b| a < b),
            CmpOp::Le => zip_apply(args, self.scalar, out, |a: T, b| a <= b),
            CmpOp::Gt => zip_apply(args, self.scalar, out, |a: T, b| a > b),
            CmpOp::Ge => zip_apply(args, self.scalar, out, |a: T, b| a >= b),
        }
    }
}

/// Boolean logic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LogicOp {
    And,
    Or,
    Xor,
    Not,
}

/// `a & b`, `a | b`, `a ^ b`, `!a` on booleans.
#[derive(Debug)]
pub(crate) struct Logic {
    pub(crate) op: LogicOp,
    pub(crate) scalar: ScalarSide<bool>,
}

impl StripOp for Logic {
    fn name(&self) -> String {
        let name = match self.op {
            LogicOp::And => "and",
            LogicOp::Or => "or",
            LogicOp::Xor => "xor",
            LogicOp::Not => "not",
        };
        self.scalar.decorate(name)
    }
    fn out_dtype(&self) -> DType {
        DType::Bool
    }
    fn eval(&self, args: &[Strip<'_>], _: StripAt<'_>, out: StripMut<'_>) {
        let out = bool::from_strip_mut(out);
        match self.op {
            LogicOp::And => zip_apply(args, self.scalar, out, |a, b| a & b),
            LogicOp::Or => zip_apply(args, self.scalar, out, |a, b| a | b),
            LogicOp::Xor => zip_apply(args, self.scalar, out, |a, b| a ^ b),
            LogicOp::Not => map1(bool::from_strip(args[0]), out, |x: bool| !x),
        }
    }
}

/// Float classification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClassifyOp {
    Nan,
    Finite,
    Infinite,
}

/// `isnan`, `isfinite`, `isinf` (integers are never NaN and always finite).
#[derive(Debug)]
pub(crate) struct Classify<T> {
    pub(crate) op: ClassifyOp,
    pub(crate) _t: PhantomData<fn(T)>,
}

impl<T: Numeric> StripOp for Classify<T> {
    fn name(&self) -> String {
        match self.op {
            ClassifyOp::Nan => "isnan",
            ClassifyOp::Finite => "isfinite",
            ClassifyOp::Infinite => "isinf",
        }
        .into()
    }
    fn out_dtype(&self) -> DType {
        DType::Bool
    }
    fn eval(&self, args: &[Strip<'_>], _: StripAt<'_>, out: StripMut<'_>) {
        let (xs, out) = (T::from_strip(args[0]), bool::from_strip_mut(out));
        let float = is_float::<T>();
        match self.op {
            ClassifyOp::Nan => map1(xs, out, T::is_nan),
            ClassifyOp::Finite => map1(xs, out, |x| {
                !float || (!T::is_nan(x) && x != T::HIGHEST && x != T::LOWEST)
            }),
            ClassifyOp::Infinite => map1(xs, out, |x| float && (x == T::HIGHEST || x == T::LOWEST)),
        }
    }
}

fn is_float<T: Element>() -> bool {
    matches!(T::DTYPE, DType::F32 | DType::F64)
}

/// `where(cond, a, b)`: `a` where `cond`, else `b`.
#[derive(Debug)]
pub(crate) struct Select<T>(pub(crate) PhantomData<fn(T)>);

impl<T: Element> StripOp for Select<T> {
    fn name(&self) -> String {
        "where".into()
    }
    fn out_dtype(&self) -> DType {
        T::DTYPE
    }
    fn eval(&self, args: &[Strip<'_>], _: StripAt<'_>, out: StripMut<'_>) {
        let cond = bool::from_strip(args[0]);
        let (a, b) = (T::from_strip(args[1]), T::from_strip(args[2]));
        map3(
            cond,
            a,
            b,
            T::from_strip_mut(out),
            |c, x, y| if c { x } else { y },
        );
    }
}

/// `as`-style conversion between element types.
#[derive(Debug)]
pub(crate) struct Cast<T, U>(pub(crate) PhantomData<fn(T) -> U>);

impl<T: Element, U: Element> StripOp for Cast<T, U> {
    fn name(&self) -> String {
        format!("astype[{}]", U::DTYPE)
    }
    fn out_dtype(&self) -> DType {
        U::DTYPE
    }
    fn eval(&self, args: &[Strip<'_>], _: StripAt<'_>, out: StripMut<'_>) {
        map1(T::from_strip(args[0]), U::from_strip_mut(out), |x| {
            x.cast::<U>()
        });
    }
}

/// A user closure applied to each element; called in a typed loop over the strip.
pub(crate) struct MapFn<T, U, F> {
    pub(crate) f: F,
    pub(crate) _t: PhantomData<fn(T) -> U>,
}

impl<T, U, F> Debug for MapFn<T, U, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("map(closure)")
    }
}

impl<T: Element, U: Element, F: Fn(T) -> U + Send + Sync + 'static> StripOp for MapFn<T, U, F> {
    fn name(&self) -> String {
        "map".into()
    }
    fn out_dtype(&self) -> DType {
        U::DTYPE
    }
    fn eval(&self, args: &[Strip<'_>], _: StripAt<'_>, out: StripMut<'_>) {
        map1(T::from_strip(args[0]), U::from_strip_mut(out), &self.f);
    }
}

/// A user closure of two elements.
pub(crate) struct ZipMapFn<A, B, U, F> {
    pub(crate) f: F,
    pub(crate) _t: PhantomData<fn(A, B) -> U>,
}

impl<A, B, U, F> Debug for ZipMapFn<A, B, U, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("zip_map(closure)")
    }
}

impl<A: Element, B: Element, U: Element, F: Fn(A, B) -> U + Send + Sync + 'static> StripOp
    for ZipMapFn<A, B, U, F>
{
    fn name(&self) -> String {
        "zip_map".into()
    }
    fn out_dtype(&self) -> DType {
        U::DTYPE
    }
    fn eval(&self, args: &[Strip<'_>], _: StripAt<'_>, out: StripMut<'_>) {
        map2(
            A::from_strip(args[0]),
            B::from_strip(args[1]),
            U::from_strip_mut(out),
            &self.f,
        );
    }
}

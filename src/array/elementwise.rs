//! Elementwise methods: math functions, comparisons, selection, casts and user closures.
//! All are lazy; chains of them fuse into one kernel per tile.

use std::marker::PhantomData;
use std::sync::Arc;

use chunkwise_kernels::dtype::{Element, FloatElement, Numeric};
use chunkwise_kernels::math::{BinaryFn, UnaryFn};
use chunkwise_kernels::strip::StripOp;

use super::Array;
use crate::ops::elementwise::elemwise;
use crate::ops::strip_ops::{
    Arith, ArithOp, Cast, Classify, ClassifyOp, CmpOp, Compare, FloatBinary, FloatUnary, MapFn,
    NumUnary, NumUnaryOp, Powi, ScalarSide, Select, ZipMapFn,
};

/// The other operand of a binary operation: an array or a scalar.
#[derive(Clone, Debug)]
pub enum Operand<T: Element> {
    /// An array (broadcast against the first operand).
    Array(Array<T>),
    /// A scalar.
    Scalar(T),
}

/// Things that can be the other operand of a binary operation: `&Array<T>`, `Array<T>`, `T`.
pub trait IntoOperand<T: Element> {
    /// The operand.
    fn into_operand(self) -> Operand<T>;
}

impl<T: Element> IntoOperand<T> for T {
    fn into_operand(self) -> Operand<T> {
        Operand::Scalar(self)
    }
}

impl<T: Element> IntoOperand<T> for Array<T> {
    fn into_operand(self) -> Operand<T> {
        Operand::Array(self)
    }
}

impl<T: Element> IntoOperand<T> for &Array<T> {
    fn into_operand(self) -> Operand<T> {
        Operand::Array(self.clone())
    }
}

impl<T: Element> Array<T> {
    /// `op` applied to this array alone.
    pub(crate) fn unary_op<U: Element>(&self, op: Arc<dyn StripOp>) -> Array<U> {
        Array::from_node(elemwise(&[&self.node], op))
    }

    /// `make(scalar position)` applied to this array and `other`.
    pub(crate) fn binary_op<U: Element>(
        &self,
        other: Operand<T>,
        make: impl FnOnce(ScalarSide<T>) -> Arc<dyn StripOp>,
    ) -> Array<U> {
        match other {
            Operand::Array(b) => {
                Array::from_node(elemwise(&[&self.node, &b.node], make(ScalarSide::None)))
            }
            Operand::Scalar(s) => {
                Array::from_node(elemwise(&[&self.node], make(ScalarSide::Right(s))))
            }
        }
    }
}

/// Comparisons (giving `Array<bool>`), selection, casts and closures: any element type.
impl<T: Element> Array<T> {
    fn compare(&self, op: CmpOp, other: impl IntoOperand<T>) -> Array<bool> {
        self.binary_op(other.into_operand(), |scalar| {
            Arc::new(Compare { op, scalar })
        })
    }

    /// `self == other`, elementwise.
    pub fn equal(&self, other: impl IntoOperand<T>) -> Array<bool> {
        self.compare(CmpOp::Eq, other)
    }

    /// `self != other`, elementwise.
    pub fn not_equal(&self, other: impl IntoOperand<T>) -> Array<bool> {
        self.compare(CmpOp::Ne, other)
    }

    /// `self < other`, elementwise.
    ///
    /// ```
    /// let x = chunkwise::arange::<i64>(0, 6, 1, [4]).unwrap();
    /// assert_eq!(x.less(3).compute().unwrap().iter().filter(|&&b| b).count(), 3);
    /// ```
    pub fn less(&self, other: impl IntoOperand<T>) -> Array<bool> {
        self.compare(CmpOp::Lt, other)
    }

    /// `self <= other`, elementwise.
    pub fn less_equal(&self, other: impl IntoOperand<T>) -> Array<bool> {
        self.compare(CmpOp::Le, other)
    }

    /// `self > other`, elementwise.
    pub fn greater(&self, other: impl IntoOperand<T>) -> Array<bool> {
        self.compare(CmpOp::Gt, other)
    }

    /// `self >= other`, elementwise.
    pub fn greater_equal(&self, other: impl IntoOperand<T>) -> Array<bool> {
        self.compare(CmpOp::Ge, other)
    }

    /// Conversion to another element type with Rust's `as` semantics.
    ///
    /// ```
    /// let x = chunkwise::linspace::<f64>(-1.5, 1.5, 4, [4]).unwrap();
    /// let v = x.astype::<i32>().compute().unwrap();
    /// assert_eq!(v.into_raw_vec_and_offset().0, vec![-1, 0, 0, 1]);
    /// ```
    pub fn astype<U: Element>(&self) -> Array<U> {
        if U::DTYPE == T::DTYPE {
            return Array::from_node(self.node.clone());
        }
        self.unary_op(Arc::new(Cast::<T, U>(PhantomData)))
    }

    /// `f` applied to each element. The closure is called in a typed loop over strips of
    /// each tile, fused with the elementwise work around it; a panic in it becomes an error
    /// of the computation naming the tile.
    ///
    /// ```
    /// let x = chunkwise::arange::<i32>(0, 4, 1, [2]).unwrap();
    /// let y = x.map(|v| (v * v) as f64);
    /// assert_eq!(y.compute().unwrap().into_raw_vec_and_offset().0, vec![0.0, 1.0, 4.0, 9.0]);
    /// ```
    pub fn map<U: Element>(&self, f: impl Fn(T) -> U + Send + Sync + 'static) -> Array<U> {
        self.unary_op(Arc::new(MapFn { f, _t: PhantomData }))
    }

    /// `f` applied to pairs of elements of `self` and `other` (broadcast).
    pub fn zip_map<B: Element, U: Element>(
        &self,
        other: &Array<B>,
        f: impl Fn(T, B) -> U + Send + Sync + 'static,
    ) -> Array<U> {
        let op = Arc::new(ZipMapFn { f, _t: PhantomData });
        Array::from_node(elemwise(&[&self.node, &other.node], op))
    }
}

/// The array of `node`, whatever its element type, converted to `U` as [`Array::astype`]
/// converts (the node itself when it holds `U`).
pub(crate) fn cast_node<U: Element>(node: Arc<crate::graph::Node>) -> Array<U> {
    crate::tile::with_dtype!(node.dtype, S => Array::<S>::from_node(node).astype::<U>())
}

/// `a` where `cond` is true, else `b` (all three broadcast together).
///
/// ```
/// let x = chunkwise::arange::<f64>(0.0, 4.0, 1.0, [3]).unwrap();
/// let y = chunkwise::where_(&x.greater(1.5), &x, 0.0).compute().unwrap();
/// assert_eq!(y.into_raw_vec_and_offset().0, vec![0.0, 0.0, 2.0, 3.0]);
/// ```
pub fn where_<T: Element>(
    cond: &Array<bool>,
    a: impl IntoOperand<T>,
    b: impl IntoOperand<T>,
) -> Array<T> {
    let as_array = |o: Operand<T>| match o {
        Operand::Array(a) => a,
        Operand::Scalar(s) => super::creation::generated_on(
            cond.chunks().clone(),
            Arc::new(crate::ops::generators::Fill(s)),
        ),
    };
    let (a, b) = (as_array(a.into_operand()), as_array(b.into_operand()));
    Array::from_node(elemwise(
        &[&cond.node, &a.node, &b.node],
        Arc::new(Select::<T>(PhantomData)),
    ))
}

/// Arithmetic helpers on numbers.
impl<T: Numeric> Array<T> {
    pub(crate) fn arith(&self, op: ArithOp, other: impl IntoOperand<T>) -> Array<T> {
        self.binary_op(other.into_operand(), |scalar| {
            Arc::new(Arith { op, scalar })
        })
    }

    fn num_unary(&self, op: NumUnaryOp) -> Array<T> {
        self.unary_op(Arc::new(NumUnary::<T> {
            op,
            _t: PhantomData,
        }))
    }

    /// Elementwise maximum (NaN propagates, like NumPy's `maximum`).
    pub fn maximum(&self, other: impl IntoOperand<T>) -> Array<T> {
        self.arith(ArithOp::Maximum, other)
    }

    /// Elementwise minimum (NaN propagates, like NumPy's `minimum`).
    pub fn minimum(&self, other: impl IntoOperand<T>) -> Array<T> {
        self.arith(ArithOp::Minimum, other)
    }

    /// Values limited to `[low, high]`.
    ///
    /// ```
    /// let x = chunkwise::arange::<i32>(0, 6, 1, [4]).unwrap();
    /// assert_eq!(x.clip(1, 3).compute().unwrap().into_raw_vec_and_offset().0, vec![1, 1, 2, 3, 3, 3]);
    /// ```
    pub fn clip(&self, low: T, high: T) -> Array<T> {
        self.maximum(low).minimum(high)
    }

    /// Absolute value.
    pub fn abs(&self) -> Array<T> {
        self.num_unary(NumUnaryOp::Abs)
    }

    /// -1, 0 or 1 by sign (NaN stays NaN; 0 for zero, like NumPy's `sign`).
    pub fn signum(&self) -> Array<T> {
        self.num_unary(NumUnaryOp::Signum)
    }

    fn classify(&self, op: ClassifyOp) -> Array<bool> {
        self.unary_op(Arc::new(Classify::<T> {
            op,
            _t: PhantomData,
        }))
    }

    /// Whether each element is NaN.
    pub fn isnan(&self) -> Array<bool> {
        self.classify(ClassifyOp::Nan)
    }

    /// Whether each element is finite.
    pub fn isfinite(&self) -> Array<bool> {
        self.classify(ClassifyOp::Finite)
    }

    /// Whether each element is infinite.
    pub fn isinf(&self) -> Array<bool> {
        self.classify(ClassifyOp::Infinite)
    }
}

macro_rules! float_unary_methods {
    ($($(#[$doc:meta])* $name:ident => $f:ident;)*) => {
        /// Math functions on floats, vectorised per instruction set.
        impl<T: FloatElement> Array<T> {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> Array<T> {
                    self.unary_op(Arc::new(FloatUnary::<T> { f: UnaryFn::$f, _t: PhantomData }))
                }
            )*
        }
    };
}

float_unary_methods! {
    /// Square root.
    sqrt => Sqrt;
    /// Cube root.
    cbrt => Cbrt;
    /// `e^x`.
    exp => Exp;
    /// `2^x`.
    exp2 => Exp2;
    /// `e^x - 1`, accurate near 0.
    exp_m1 => ExpM1;
    /// Natural logarithm.
    ln => Ln;
    /// Base-2 logarithm.
    log2 => Log2;
    /// Base-10 logarithm.
    log10 => Log10;
    /// `ln(1 + x)`, accurate near 0.
    ln_1p => Ln1p;
    /// Sine.
    ///
    /// ```
    /// let x = chunkwise::zeros::<f64>(&[3], [2]).unwrap();
    /// assert!(x.sin().compute().unwrap().iter().all(|&v| v == 0.0));
    /// ```
    sin => Sin;
    /// Cosine.
    cos => Cos;
    /// Tangent.
    tan => Tan;
    /// Arcsine.
    asin => Asin;
    /// Arccosine.
    acos => Acos;
    /// Arctangent.
    atan => Atan;
    /// Hyperbolic sine.
    sinh => Sinh;
    /// Hyperbolic cosine.
    cosh => Cosh;
    /// Hyperbolic tangent.
    tanh => Tanh;
    /// Largest integer not above.
    floor => Floor;
    /// Smallest integer not below.
    ceil => Ceil;
    /// Nearest integer, halves away from zero (Rust's `round`).
    round => Round;
    /// Integer part.
    trunc => Trunc;
    /// `1 / x`.
    recip => Recip;
}

/// Float functions of two arguments and powers.
impl<T: FloatElement> Array<T> {
    fn float_binary(&self, f: BinaryFn, other: impl IntoOperand<T>) -> Array<T> {
        self.binary_op(other.into_operand(), |scalar| {
            Arc::new(FloatBinary { f, scalar })
        })
    }

    /// Four-quadrant arctangent of `self / other`.
    pub fn atan2(&self, other: impl IntoOperand<T>) -> Array<T> {
        self.float_binary(BinaryFn::Atan2, other)
    }

    /// `sqrt(self^2 + other^2)` without overflow.
    pub fn hypot(&self, other: impl IntoOperand<T>) -> Array<T> {
        self.float_binary(BinaryFn::Hypot, other)
    }

    /// `self^other`.
    pub fn powf(&self, other: impl IntoOperand<T>) -> Array<T> {
        self.float_binary(BinaryFn::Powf, other)
    }

    /// `self^n` for an integer `n`.
    ///
    /// ```
    /// let x = chunkwise::full(&[2], 3.0f64, [2]).unwrap();
    /// assert_eq!(x.powi(2).compute().unwrap()[[0]], 9.0);
    /// ```
    pub fn powi(&self, n: i32) -> Array<T> {
        self.unary_op(Arc::new(Powi::<T> { n, _t: PhantomData }))
    }
}

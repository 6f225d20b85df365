//! Operator overloads: `+ - * / %` and unary `-` on numeric arrays (with arrays, references
//! and scalars on either side), `& | ^ !` on boolean arrays. A shape mismatch does not panic:
//! the result records the error, and `check()` or `compute()` reports it.

use std::marker::PhantomData;
use std::ops::{Add, BitAnd, BitOr, BitXor, Div, Mul, Neg, Not, Rem, Sub};
use std::sync::Arc;

use chunkwise_kernels::dtype::Numeric;

use super::Array;
use crate::ops::elementwise::elemwise;
use crate::ops::strip_ops::{Arith, ArithOp, Logic, LogicOp, NumUnary, NumUnaryOp, ScalarSide};

macro_rules! arith_operator {
    ($Trait:ident, $method:ident, $op:ident) => {
        impl<T: Numeric> $Trait<&Array<T>> for &Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: &Array<T>) -> Array<T> {
                self.arith(ArithOp::$op, rhs)
            }
        }
        impl<T: Numeric> $Trait<Array<T>> for Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: Array<T>) -> Array<T> {
                self.arith(ArithOp::$op, &rhs)
            }
        }
        impl<T: Numeric> $Trait<&Array<T>> for Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: &Array<T>) -> Array<T> {
                self.arith(ArithOp::$op, rhs)
            }
        }
        impl<T: Numeric> $Trait<Array<T>> for &Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: Array<T>) -> Array<T> {
                self.arith(ArithOp::$op, &rhs)
            }
        }
        impl<T: Numeric> $Trait<T> for &Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: T) -> Array<T> {
                self.arith(ArithOp::$op, rhs)
            }
        }
        impl<T: Numeric> $Trait<T> for Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: T) -> Array<T> {
                self.arith(ArithOp::$op, rhs)
            }
        }
    };
}

arith_operator!(Add, add, Add);
arith_operator!(Sub, sub, Sub);
arith_operator!(Mul, mul, Mul);
arith_operator!(Div, div, Div);
arith_operator!(Rem, rem, Rem);

/// `scalar op array` for each concrete numeric type (the orphan rule forbids a generic impl).
macro_rules! scalar_left_operators {
    ($($t:ty),*) => {$(
        scalar_left_operators!(@one $t, Add, add, Add);
        scalar_left_operators!(@one $t, Sub, sub, Sub);
        scalar_left_operators!(@one $t, Mul, mul, Mul);
        scalar_left_operators!(@one $t, Div, div, Div);
        scalar_left_operators!(@one $t, Rem, rem, Rem);
    )*};
    (@one $t:ty, $Trait:ident, $method:ident, $op:ident) => {
        impl $Trait<&Array<$t>> for $t {
            type Output = Array<$t>;
            fn $method(self, rhs: &Array<$t>) -> Array<$t> {
                rhs.unary_op(Arc::new(Arith { op: ArithOp::$op, scalar: ScalarSide::Left(self) }))
            }
        }
        impl $Trait<Array<$t>> for $t {
            type Output = Array<$t>;
            fn $method(self, rhs: Array<$t>) -> Array<$t> {
                rhs.unary_op(Arc::new(Arith { op: ArithOp::$op, scalar: ScalarSide::Left(self) }))
            }
        }
    };
}

scalar_left_operators!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);

impl<T: Numeric> Neg for &Array<T> {
    type Output = Array<T>;
    fn neg(self) -> Array<T> {
        self.unary_op(Arc::new(NumUnary::<T> {
            op: NumUnaryOp::Neg,
            _t: PhantomData,
        }))
    }
}

impl<T: Numeric> Neg for Array<T> {
    type Output = Array<T>;
    fn neg(self) -> Array<T> {
        -&self
    }
}

macro_rules! logic_operator {
    ($Trait:ident, $method:ident, $op:ident) => {
        impl $Trait<&Array<bool>> for &Array<bool> {
            type Output = Array<bool>;
            fn $method(self, rhs: &Array<bool>) -> Array<bool> {
                let op = Arc::new(Logic {
                    op: LogicOp::$op,
                    scalar: ScalarSide::None,
                });
                Array::from_node(elemwise(&[&self.node, &rhs.node], op))
            }
        }
        impl $Trait<Array<bool>> for Array<bool> {
            type Output = Array<bool>;
            fn $method(self, rhs: Array<bool>) -> Array<bool> {
                (&self).$method(&rhs)
            }
        }
        impl $Trait<bool> for &Array<bool> {
            type Output = Array<bool>;
            fn $method(self, rhs: bool) -> Array<bool> {
                self.unary_op(Arc::new(Logic {
                    op: LogicOp::$op,
                    scalar: ScalarSide::Right(rhs),
                }))
            }
        }
    };
}

logic_operator!(BitAnd, bitand, And);
logic_operator!(BitOr, bitor, Or);
logic_operator!(BitXor, bitxor, Xor);

impl Not for &Array<bool> {
    type Output = Array<bool>;
    fn not(self) -> Array<bool> {
        self.unary_op(Arc::new(Logic {
            op: LogicOp::Not,
            scalar: ScalarSide::None,
        }))
    }
}

impl Not for Array<bool> {
    type Output = Array<bool>;
    fn not(self) -> Array<bool> {
        !&self
    }
}

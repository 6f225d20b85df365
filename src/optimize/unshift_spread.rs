//! The `unshift-spread` pass: the variance or standard deviation of a floating-point
//! `x - c`, `x + c` or `c ± x`, where `c` is constant along the reduced axes (an anomaly
//! such as `x - x.mean_axis(0)`), becomes the same reduction of `x`.
//!
//! The two are equal in exact arithmetic (a spread does not move when the data is shifted
//! by a constant), and reducing `x` skips the subtraction and its rounding; where `c` is
//! also a reduction of `x` (its mean), `merge-reductions` can then fold both in one read of
//! `x`. Where `c` is not finite the spread of `x ± c` is NaN, so the result is kept NaN
//! there: `where(isfinite(c), spread(x), NaN)`. (Only where `x ± c` itself overflows does
//! the result differ: it stays finite.)
//!
//! The pass recognises the shift by the program's structure: a single step whose
//! [`OpKind`] is `Add` or `Sub` over two array operands of a float type, read by a
//! reduction whose reducer says it is
//! [shift-invariant](crate::tile::ErasedReducer::shift_invariant).

use std::marker::PhantomData;
use std::sync::Arc;

use chunkwise_kernels::dtype::{DType, FloatElement};
use chunkwise_kernels::strip::{OpKind, Program, ValueRef};

use super::{Pass, rewrite};
use crate::chunks::{SourceAxis, View};
use crate::error::Result;
use crate::graph::{ElemInput, Node, NodeKind, Reduce, Source};
use crate::ops::elementwise::{elemwise, viewed};
use crate::ops::generators::Fill;
use crate::ops::strip_ops::{Classify, ClassifyOp, Select};

/// Reduces `x` in place of `x ± c` for spreads; see the module documentation.
pub(crate) struct UnshiftSpread;

impl Pass for UnshiftSpread {
    fn name(&self) -> &'static str {
        "unshift-spread"
    }

    /// Rewrites every spread of a constant shift below `roots`.
    fn run(&self, roots: &[Arc<Node>]) -> Result<(Vec<Arc<Node>>, bool)> {
        Ok(rewrite(roots, &unshifted))
    }
}

/// The replacement of `node` if it is the spread of a constant shift.
fn unshifted(node: &Arc<Node>) -> Option<Arc<Node>> {
    let NodeKind::Reduce(r) = &node.kind else {
        return None;
    };
    let (x, c) = shift_operands(r)?;
    // The spread of a float is of that float: `c`, `x` and the result share one dtype.
    if node.dtype != x.node.dtype {
        return None;
    }
    let spread = Node::new(
        NodeKind::Reduce(Reduce {
            inputs: vec![x.clone()],
            program: Program::identity(x.node.dtype),
            ..r.clone()
        }),
        node.grid.clone(),
        node.dtype,
    );
    // `c` is constant along the reduced axes: read at index 0 of each, it lines up with the
    // result (whose axes are the kept ones, or all with the reduced ones of length 1).
    let mut kept = 0..;
    let to_reduced = View {
        shape: node.shape(),
        source: r
            .reduced
            .iter()
            .map(|&reduced| {
                if reduced && !r.keepdims {
                    SourceAxis::Fixed(0)
                } else {
                    SourceAxis::Mapped {
                        axis: kept.next().expect("an unbounded range"),
                        start: 0,
                        step: 1,
                    }
                }
            })
            .collect(),
    };
    let shift = viewed(&c.node, c.view.then(&to_reduced), node.grid.clone());
    match node.dtype {
        DType::F32 => Some(nan_unless_finite::<f32>(&spread, &shift, f32::NAN)),
        DType::F64 => Some(nan_unless_finite::<f64>(&spread, &shift, f64::NAN)),
        _ => None,
    }
}

/// `(x, c)` if `r` is a shift-invariant reduction of nothing but a float `x ± c` or `c ± x`
/// whose `c` is constant along every reduced axis and whose `x` is aligned with the data.
fn shift_operands(r: &Reduce) -> Option<(&ElemInput, &ElemInput)> {
    let reads_one_input = r.program.steps.is_empty()
        && r.program.output == ValueRef::Input(0)
        && r.inputs.len() == 1
        && r.inputs[0].view.is_identity(&r.inputs[0].node.shape());
    if !r.reducer.shift_invariant() || !reads_one_input || !r.reduced.contains(&true) {
        return None;
    }
    let NodeKind::Elemwise(e) = &r.inputs[0].node.kind else {
        return None;
    };
    let [step] = e.program.steps.as_slice() else {
        return None;
    };
    let dtype = step.op.out_dtype();
    let is_shift = matches!(step.op.kind(), OpKind::Add | OpKind::Sub)
        && matches!(dtype, DType::F32 | DType::F64)
        && step.args == [ValueRef::Input(0), ValueRef::Input(1)]
        && e.program.output == ValueRef::Step(0)
        && e.inputs.len() == 2
        && e.inputs.iter().all(|i| i.node.dtype == dtype)
        && r.reducer.in_dtype() == dtype;
    if !is_shift {
        return None;
    }
    // `x` may be read through any view: the reduction of it reads it through that view.
    let shape = r.in_grid.shape();
    let constant = |c: &ElemInput| {
        (0..r.reduced.len()).all(|a| !r.reduced[a] || c.view.broadcasts(a) || shape[a] == 1)
    };
    match (&e.inputs[0], &e.inputs[1]) {
        (x, c) if constant(c) => Some((x, c)),
        (c, x) if constant(c) => Some((x, c)),
        _ => None,
    }
}

/// `where(isfinite(shift), spread, nan)`, built as the array API builds it.
fn nan_unless_finite<T: FloatElement>(spread: &Arc<Node>, shift: &Arc<Node>, nan: T) -> Arc<Node> {
    let finite = elemwise(
        &[shift],
        Arc::new(Classify::<T> {
            op: ClassifyOp::Finite,
            _t: PhantomData,
        }),
    );
    let nan = Node::new(
        NodeKind::Source(Source::Generator(Arc::new(Fill(nan)))),
        finite.grid.clone(),
        T::DTYPE,
    );
    elemwise(&[&finite, spread, &nan], Arc::new(Select::<T>(PhantomData)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::plan_text;

    fn plan(roots: &[Arc<Node>]) -> String {
        plan_text(roots, &|_| String::new())
    }

    #[test]
    fn the_variance_of_an_anomaly_reduces_the_data() {
        let x = crate::from_ndarray(&ndarray::Array2::<f64>::zeros((4, 6)), [2, 3]).unwrap();
        let anomaly = &x - &x.mean_axis(0);
        let var = anomaly.var_axis(0, 1.0);
        let (out, changed) = UnshiftSpread.run(std::slice::from_ref(&var.node)).unwrap();
        assert!(changed);
        assert_eq!(
            plan(&out),
            "#0 Elemwise where(in0, in1, in2)  [shape [6] float64 in 2 tile(s) of 3]\n\
             \x20 #1 Elemwise isfinite(in0)  [shape [6] bool in 2 tile(s) of 3]\n\
             \x20   #2 Reduce mean over axes [0]  [shape [6] float64 in 2 tile(s) of 3]\n\
             \x20     #3 Source from_ndarray[4, 6]  [shape [4, 6] float64 in 4 tile(s) of 2x3]\n\
             \x20 #4 Reduce var over axes [0]  [shape [6] float64 in 2 tile(s) of 3]\n\
             \x20   (#3 again)\n\
             \x20 #5 Source full[NaN]  [shape [6] float64 in 2 tile(s) of 3]\n"
        );
        // Run again, nothing is left to rewrite.
        assert!(!UnshiftSpread.run(&out).unwrap().1);
    }

    #[test]
    fn shifts_that_vary_along_the_reduced_axes_are_kept() {
        let x = crate::random::uniform::<f64>(1, 0.0, 1.0, &[4, 6], [2, 3]).unwrap();
        let y = crate::random::uniform::<f64>(2, 0.0, 1.0, &[4, 6], [2, 3]).unwrap();
        let row = x.mean_axis(0);
        for kept in [
            (&x + &y).std(0.0),                                           // both vary
            (&x - &row).std_axis(1, 0.0), // `row` varies along axis 1
            (&x * &row).var_axis(0, 0.0), // not a shift
            (&x - &row).mean_axis(0),     // not a spread
            (&x.astype::<i64>() - &row.astype::<i64>()).var_axis(0, 0.0), // integers wrap
        ] {
            let (_, changed) = UnshiftSpread.run(std::slice::from_ref(&kept.node)).unwrap();
            assert!(!changed, "{}", plan(std::slice::from_ref(&kept.node)));
        }
    }
}

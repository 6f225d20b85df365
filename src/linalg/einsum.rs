//! `tensordot` and `einsum`: contractions named by axes or by letters.

use chunkwise_kernels::dtype::FloatElement;

use super::contract::{Spec, contract};
use crate::array::{Array, Reduction};
use crate::error::{BuildError, Error, Result};
use crate::ops::layout::normalize_axis;

/// The sum of products of `a` and `b` over the axes `a_axes` of `a` paired with `b_axes`
/// of `b` (NumPy's `tensordot(a, b, axes=(a_axes, b_axes))`): the result has the other
/// axes of `a`, then the other axes of `b`. Paired axes must have equal lengths; their
/// tiles are aligned to the common refinement.
///
/// Each output tile accumulates, for every tile combination of the contracted axes, one
/// GEMM per element of its batch into one buffer (BLAS `beta = 1`); the contracted tiles
/// are taken in links of at most [`LINK_INPUT_BYTES`](super::LINK_INPUT_BYTES), so memory
/// per task is bounded.
///
/// ```
/// let a = chunkwise::ones::<f64>(&[3, 4, 5], [2, 2, 5]).unwrap();
/// let b = chunkwise::ones::<f64>(&[4, 3, 2], [4, 3, 1]).unwrap();
/// let c = chunkwise::linalg::tensordot(&a, &b, &[1, 0], &[0, 1]).unwrap();
/// assert_eq!(c.shape(), vec![5, 2]);
/// assert!(c.compute().unwrap().iter().all(|&x| x == 12.0));
/// ```
pub fn tensordot<T: FloatElement>(
    a: &Array<T>,
    b: &Array<T>,
    a_axes: &[isize],
    b_axes: &[isize],
) -> Result<Array<T>> {
    a.check()?;
    b.check()?;
    if a_axes.len() != b_axes.len() {
        return Err(Error::Build(BuildError::InvalidArgument {
            op: "tensordot".into(),
            reason: format!(
                "{} axes of the first operand paired with {} of the second",
                a_axes.len(),
                b_axes.len()
            ),
        }));
    }
    let a_axes: Vec<usize> = a_axes
        .iter()
        .map(|&x| normalize_axis(x, a.ndim()))
        .collect::<Result<_>>()?;
    let b_axes: Vec<usize> = b_axes
        .iter()
        .map(|&x| normalize_axis(x, b.ndim()))
        .collect::<Result<_>>()?;
    let letter =
        |i: usize| char::from_u32('a' as u32 + i as u32).expect("few enough axes for letters");
    let a_letters: Vec<char> = (0..a.ndim()).map(letter).collect();
    let mut fresh = a.ndim();
    let b_letters: Vec<char> = (0..b.ndim())
        .map(|j| match b_axes.iter().position(|&x| x == j) {
            Some(p) => a_letters[a_axes[p]],
            None => {
                fresh += 1;
                letter(fresh - 1)
            }
        })
        .collect();
    let out: Vec<char> = (0..a.ndim())
        .filter(|i| !a_axes.contains(i))
        .map(|i| a_letters[i])
        .chain(
            (0..b.ndim())
                .filter(|j| !b_axes.contains(j))
                .map(|j| b_letters[j]),
        )
        .collect();
    let spec = Spec {
        a: a_letters,
        b: b_letters,
        out,
    };
    contract("tensordot", a, b, &spec, false)
}

/// Einstein summation over one or two operands, as NumPy's `einsum` with explicit or
/// implicit output (`"ij,jk->ik"`, `"bij,bjk->bik"`, `"ij,ij->i"`, `"ij->ji"`, `"ij"`):
/// letters of both operands that the output drops are contracted, letters the output
/// keeps from both are batch axes, and letters of one operand that the output drops are
/// summed. In implicit mode the output is the letters that appear once, in alphabetical
/// order. A letter has one length in both operands (NumPy also broadcasts a length of 1
/// against another; here that is a shape mismatch: `broadcast_to` the operand first). Not
/// supported: repeated letters within one operand (diagonals), `...`.
///
/// ```
/// let a = chunkwise::from_ndarray(&ndarray::arr2(&[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]), [1, 3]).unwrap();
/// let b = chunkwise::ones::<f64>(&[3, 2], [3, 1]).unwrap();
/// let c = chunkwise::linalg::einsum("ij,jk->ki", &[&a, &b]).unwrap().compute().unwrap();
/// assert_eq!(c[[1, 0]], 3.0);
/// assert_eq!(c[[0, 1]], 12.0);
/// ```
pub fn einsum<T: FloatElement>(spec: &str, operands: &[&Array<T>]) -> Result<Array<T>> {
    let invalid = |reason: String| {
        Error::Build(BuildError::InvalidArgument {
            op: format!("einsum(\"{spec}\")"),
            reason,
        })
    };
    let (inputs, output) = match spec.split_once("->") {
        Some((inputs, output)) => (inputs, Some(output)),
        None => (spec, None),
    };
    let terms: Vec<Vec<char>> = inputs
        .split(',')
        .map(|t| t.chars().filter(|c| !c.is_whitespace()).collect())
        .collect();
    if let Some(bad) = spec
        .chars()
        .find(|c| !(c.is_ascii_alphabetic() || " ,->".contains(*c)))
    {
        return Err(invalid(format!(
            "'{bad}' (only letters, ',' and '->'; '...' is not supported)"
        )));
    }
    if terms.len() != operands.len() || !(1..=2).contains(&terms.len()) {
        return Err(invalid(format!(
            "{} terms for {} operands (one or two operands)",
            terms.len(),
            operands.len()
        )));
    }
    let out: Vec<char> = match output {
        Some(o) => o.chars().filter(|c| !c.is_whitespace()).collect(),
        None => {
            let all: Vec<char> = terms.concat();
            let mut once: Vec<char> = all
                .iter()
                .copied()
                .filter(|c| all.iter().filter(|d| *d == c).count() == 1)
                .collect();
            once.sort_unstable();
            once
        }
    };
    match operands {
        [a] => one_operand(a, &terms[0], &out).map_err(|e| match e {
            Error::Build(BuildError::InvalidArgument { reason, .. }) => invalid(reason),
            other => other,
        }),
        [a, b] => contract(
            &format!("einsum(\"{spec}\")"),
            a,
            b,
            &Spec {
                a: terms[0].clone(),
                b: terms[1].clone(),
                out,
            },
            false,
        ),
        _ => unreachable!("one or two operands were checked"),
    }
}

/// One-operand `einsum`: sums over the dropped letters, then orders the axes as `out`.
fn one_operand<T: FloatElement>(a: &Array<T>, letters: &[char], out: &[char]) -> Result<Array<T>> {
    let invalid = |reason: String| {
        Error::Build(BuildError::InvalidArgument {
            op: "einsum".into(),
            reason,
        })
    };
    if letters.len() != a.ndim() {
        return Err(invalid(format!(
            "{} letters for an operand of {} axes",
            letters.len(),
            a.ndim()
        )));
    }
    for (i, c) in letters.iter().enumerate() {
        if letters[..i].contains(c) {
            return Err(invalid(format!(
                "letter '{c}' repeats (diagonals are not supported)"
            )));
        }
    }
    if let Some(c) = out.iter().find(|c| !letters.contains(c)) {
        return Err(invalid(format!("output letter '{c}' names no axis")));
    }
    let summed: Vec<isize> = (0..letters.len())
        .filter(|&i| !out.contains(&letters[i]))
        .map(|i| i as isize)
        .collect();
    let kept: Vec<char> = letters
        .iter()
        .copied()
        .filter(|c| out.contains(c))
        .collect();
    let reduced = if summed.is_empty() {
        a.clone()
    } else {
        a.sum_with(&Reduction::axes(&summed))
    };
    let order: Vec<isize> = out
        .iter()
        .map(|c| kept.iter().position(|d| d == c).expect("kept letter") as isize)
        .collect();
    reduced.permute_axes(&order)
}

//! `tensordot` and `einsum`: contractions named by axes or by letters.

use std::collections::HashMap;

use chunkwise_kernels::dtype::FloatElement;

use super::contract::{Spec, contract};
use crate::array::{Array, Reduction};
use crate::error::{BuildError, Error, Result};
use crate::ops::layout::{broadcast_to_in, normalize_axis};

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
    for (axes, operand) in [(&a_axes, "first"), (&b_axes, "second")] {
        if let Some(k) = (1..axes.len()).find(|&k| axes[..k].contains(&axes[k])) {
            return Err(Error::Build(BuildError::InvalidArgument {
                op: "tensordot".into(),
                reason: format!(
                    "axis {} of the {operand} operand is paired twice (as NumPy, each axis \
                     at most once)",
                    axes[k]
                ),
            }));
        }
    }
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

/// Einstein summation, as NumPy's `einsum` with explicit or implicit output
/// (`"ij,jk->ik"`, `"bij,bjk->bik"`, `"...ij,...jk"`, `"ii->i"`, `"ij,jk,kl->il"`):
/// - letters of several operands that the output drops are contracted, letters the output
///   keeps from several are batch axes, and letters of one operand that the output drops
///   are summed;
/// - a letter repeated within one operand takes its diagonal (`"ii"` is the trace);
/// - `...` stands for the axes no letter names; the operands' `...` axes are aligned at
///   their right end and broadcast, and an explicit output must place them (`"...ij->...i"`);
/// - a letter of length 1 in one operand broadcasts against its length in another;
/// - in implicit mode the output is the `...` axes, then the letters that appear once, in
///   alphabetical order.
///
/// Three or more operands are contracted pairwise, left to right, each intermediate
/// keeping the letters that later operands or the output name. The order is not optimised
/// (as opt_einsum would): order the operands so that neighbours share letters
/// (`"ij,kl,jl->ik"` first forms the outer product of the first two).
///
/// ```
/// let a = chunkwise::from_ndarray(&ndarray::arr2(&[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]), [1, 3]).unwrap();
/// let b = chunkwise::ones::<f64>(&[3, 2], [3, 1]).unwrap();
/// let c = chunkwise::linalg::einsum("ij,jk->ki", &[&a, &b]).unwrap().compute().unwrap();
/// assert_eq!(c[[1, 0]], 3.0);
/// assert_eq!(c[[0, 1]], 12.0);
/// let square = chunkwise::from_ndarray(&ndarray::arr2(&[[1.0, 2.0], [3.0, 4.0]]), [1, 1]).unwrap();
/// let trace = chunkwise::linalg::einsum("ii", &[&square]).unwrap().compute().unwrap();
/// assert_eq!(trace.sum(), 5.0);
/// ```
pub fn einsum<T: FloatElement>(spec: &str, operands: &[&Array<T>]) -> Result<Array<T>> {
    let op = format!("einsum(\"{spec}\")");
    for x in operands {
        x.check()?;
    }
    let ndims: Vec<usize> = operands.iter().map(|x| x.ndim()).collect();
    let subscripts = Subscripts::parse(spec, &ndims).map_err(|reason| {
        Error::Build(BuildError::InvalidArgument {
            op: op.clone(),
            reason,
        })
    })?;
    let mut terms = Vec::with_capacity(operands.len());
    for (x, letters) in operands.iter().zip(&subscripts.terms) {
        terms.push(diagonals(x, letters, &op)?);
    }
    let lengths = common_lengths(&terms, &op)?;
    let terms = broadcast(&terms, &lengths)?;
    let out = &subscripts.out;
    let (mut result, mut letters) = terms[0].clone();
    if terms.len() == 1 {
        return one_operand(&result, &letters, out);
    }
    for (i, (x, x_letters)) in terms.iter().enumerate().skip(1) {
        // What the output or a later operand names; all of the output at the last step.
        let kept: Vec<char> = match i + 1 == terms.len() {
            true => out.clone(),
            false => {
                let later =
                    |c: &char| out.contains(c) || terms[i + 1..].iter().any(|(_, l)| l.contains(c));
                let mut kept: Vec<char> = letters.iter().copied().filter(later).collect();
                for &c in x_letters {
                    if later(&c) && !kept.contains(&c) {
                        kept.push(c);
                    }
                }
                kept
            }
        };
        let spec = Spec {
            a: letters,
            b: x_letters.clone(),
            out: kept.clone(),
        };
        result = contract(&op, &result, x, &spec, false)?;
        letters = kept;
    }
    Ok(result)
}

/// The label of the `k`-th axis that `...` stands for, counted from the first axis of the
/// longest `...` (the operands' `...` axes are aligned at their right end).
fn ellipsis_label(k: usize) -> char {
    char::from_u32(0xE000 + k as u32).expect("a character of the private use area")
}

/// A letter for messages: `...` for the axes it stands for.
fn shown(c: char) -> String {
    match c.is_ascii_alphabetic() {
        true => format!("'{c}'"),
        false => "an axis of '...'".into(),
    }
}

/// One term of a spec: its letters, and how many come before its `...` if it has one.
struct Term {
    letters: Vec<char>,
    ellipsis_at: Option<usize>,
}

impl Term {
    fn parse(text: &str) -> std::result::Result<Term, String> {
        let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let (before, after) = text.split_once("...").unwrap_or((&text, ""));
        let letters: Vec<char> = before.chars().chain(after.chars()).collect();
        match letters.iter().find(|c| !c.is_ascii_alphabetic()) {
            Some('.') => Err(format!("a '.' outside '...' in \"{text}\"")),
            Some(bad) => Err(format!("'{bad}' (letters, ',', '->' and '...' only)")),
            None => Ok(Term {
                ellipsis_at: (text.len() != letters.len()).then(|| before.chars().count()),
                letters,
            }),
        }
    }

    /// The letters, with `...` replaced by the labels of its `length` axes, the last of
    /// `longest`.
    fn expanded(&self, length: usize, longest: usize) -> Vec<char> {
        let mut letters = self.letters.clone();
        if let Some(at) = self.ellipsis_at {
            let labels = (longest - length..longest).map(ellipsis_label);
            letters.splice(at..at, labels);
        }
        letters
    }
}

/// A spec whose `...` are replaced by labels of their own and whose output is explicit.
struct Subscripts {
    terms: Vec<Vec<char>>,
    out: Vec<char>,
}

impl Subscripts {
    /// Parses `spec` for operands of `ndims` axes.
    fn parse(spec: &str, ndims: &[usize]) -> std::result::Result<Subscripts, String> {
        let (inputs, output) = match spec.split_once("->") {
            Some((inputs, output)) => (inputs, Some(Term::parse(output)?)),
            None => (spec, None),
        };
        let terms: Vec<Term> = inputs
            .split(',')
            .map(Term::parse)
            .collect::<Result<_, _>>()?;
        if terms.len() != ndims.len() || ndims.is_empty() {
            return Err(format!(
                "{} terms for {} operands",
                terms.len(),
                ndims.len()
            ));
        }
        // How many axes each operand's `...` stands for.
        let mut lengths = Vec::with_capacity(terms.len());
        for (term, &ndim) in terms.iter().zip(ndims) {
            let named = term.letters.len();
            match term.ellipsis_at {
                Some(_) if named <= ndim => lengths.push(ndim - named),
                None if named == ndim => lengths.push(0),
                _ => return Err(format!("{named} letters for an operand of {ndim} axes")),
            }
        }
        let longest = lengths.iter().copied().max().unwrap_or(0);
        let terms: Vec<Vec<char>> = terms
            .iter()
            .zip(&lengths)
            .map(|(term, &length)| term.expanded(length, longest))
            .collect();
        let out = match output {
            Some(term) if term.ellipsis_at.is_some() || longest == 0 => {
                term.expanded(longest, longest)
            }
            Some(_) => {
                return Err(format!(
                    "the output has no '...' for the {longest} axes the operands' '...' stand for"
                ));
            }
            None => {
                let all = terms.concat();
                let mut once: Vec<char> = all
                    .iter()
                    .copied()
                    .filter(|c| {
                        c.is_ascii_alphabetic() && all.iter().filter(|d| *d == c).count() == 1
                    })
                    .collect();
                once.sort_unstable();
                (0..longest).map(ellipsis_label).chain(once).collect()
            }
        };
        for (i, c) in out.iter().enumerate() {
            if out[..i].contains(c) {
                return Err(format!("output letter {} repeats", shown(*c)));
            }
            if !terms.iter().any(|t| t.contains(c)) {
                return Err(format!("output letter {} names no axis", shown(*c)));
            }
        }
        Ok(Subscripts { terms, out })
    }
}

/// `x` with each letter that `letters` repeats taken once, on its diagonal (`"ii"` of a
/// square matrix is its diagonal); the diagonal's axis comes first. Returns the array and
/// its letters.
fn diagonals<T: FloatElement>(
    x: &Array<T>,
    letters: &[char],
    op: &str,
) -> Result<(Array<T>, Vec<char>)> {
    let (mut x, mut letters) = (x.clone(), letters.to_vec());
    while let Some(c) =
        (0..letters.len()).find_map(|i| letters[..i].contains(&letters[i]).then_some(letters[i]))
    {
        let axes: Vec<usize> = (0..letters.len()).filter(|&i| letters[i] == c).collect();
        let shape = x.shape();
        let n = shape[axes[0]];
        if let Some(&other) = axes.iter().find(|&&a| shape[a] != n) {
            return Err(Error::Build(BuildError::ShapeMismatch {
                op: format!("{op}: the diagonal of {}", shown(c)),
                expected: vec![n],
                found: vec![shape[other]],
            }));
        }
        let source: Vec<isize> = axes.iter().map(|&a| a as isize).collect();
        let front: Vec<isize> = (0..axes.len() as isize).collect();
        let positions: Vec<i64> = (0..n as i64).collect();
        let lists = vec![positions.as_slice(); axes.len()];
        x = x.moveaxis(&source, &front)?.vindex(&lists)?;
        letters = std::iter::once(c)
            .chain(letters.iter().copied().filter(|&d| d != c))
            .collect();
    }
    Ok((x, letters))
}

/// The operands broadcast to the letters' `lengths`. A letter broadcast from length 1 is
/// cut as an operand of its full length is, so that no tile runs the whole length.
fn broadcast<T: FloatElement>(
    terms: &[(Array<T>, Vec<char>)],
    lengths: &HashMap<char, usize>,
) -> Result<Vec<(Array<T>, Vec<char>)>> {
    let cut = |c: &char| {
        terms.iter().find_map(|(x, letters)| {
            let axis = letters.iter().position(|d| d == c)?;
            (x.shape()[axis] == lengths[c]).then(|| x.node.grid.axis(axis).clone())
        })
    };
    terms
        .iter()
        .map(|(x, letters)| {
            let shape: Vec<usize> = letters.iter().map(|c| lengths[c]).collect();
            let x = match x.shape() == shape {
                true => x.clone(),
                false => {
                    let chunks: Vec<_> = letters.iter().map(cut).collect();
                    Array::from_node(broadcast_to_in(&x.node, &shape, &chunks)?)
                }
            };
            Ok((x, letters.clone()))
        })
        .collect()
}

/// Each letter's length: the one length other than 1 that operands give it (a length of
/// 1 broadcasts), or 1.
fn common_lengths<T: FloatElement>(
    terms: &[(Array<T>, Vec<char>)],
    op: &str,
) -> Result<HashMap<char, usize>> {
    let mut lengths = HashMap::new();
    for (x, letters) in terms {
        for (&c, n) in letters.iter().zip(x.shape()) {
            let length = lengths.entry(c).or_insert(n);
            match (*length, n) {
                (a, b) if a == b || b == 1 => {}
                (1, b) => *length = b,
                (a, b) => {
                    return Err(Error::Build(BuildError::ShapeMismatch {
                        op: format!("{op}: the length of {}", shown(c)),
                        expected: vec![a],
                        found: vec![b],
                    }));
                }
            }
        }
    }
    Ok(lengths)
}

/// One-operand `einsum` (its letters distinct, one per axis): sums over the dropped
/// letters, then orders the axes as `out`.
fn one_operand<T: FloatElement>(a: &Array<T>, letters: &[char], out: &[char]) -> Result<Array<T>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broadcast_letter_is_cut_as_the_operand_of_its_full_length() {
        let a = crate::ones::<f64>(&[1, 4, 4], [1, 2, 2]).unwrap();
        let b = crate::ones::<f64>(&[50, 4, 4], [5, 2, 2]).unwrap();
        let terms = [(a, vec!['b', 'i', 'j']), (b, vec!['b', 'j', 'k'])];
        let lengths = common_lengths(&terms, "test").unwrap();
        let broadcast = broadcast(&terms, &lengths).unwrap();
        let grid = &broadcast[0].0.node.grid;
        assert_eq!(broadcast[0].0.shape(), [50, 4, 4]);
        assert_eq!(grid.axis(0), terms[1].0.node.grid.axis(0));
        assert_eq!(grid.axis(1), terms[0].0.node.grid.axis(1));
    }
}

//! Generalized ufunc signatures, as NumPy writes them: `"(m,n),(n,p)->(m,p)"`. Each
//! argument lists its core dimensions by name; a name shared by several arguments is one
//! length; a dimension named by an integer has that length.

use std::collections::BTreeMap;

use crate::error::{BuildError, Error, Result};

/// A parsed signature: the core dimension names of each input and each output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Signature {
    pub(crate) inputs: Vec<Vec<String>>,
    pub(crate) outputs: Vec<Vec<String>>,
}

/// The core shapes of a call: per input and per output, the lengths of its core dimensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CoreShapes {
    pub(crate) inputs: Vec<Vec<usize>>,
    pub(crate) outputs: Vec<Vec<usize>>,
}

fn invalid(op: &str, reason: String) -> Error {
    Error::Build(BuildError::InvalidArgument {
        op: op.to_string(),
        reason,
    })
}

impl Signature {
    /// Parses `text` (whitespace around names and brackets is ignored). At least one input and one output; each
    /// dimension a name (letters, digits, `_`, not starting with a digit) or an integer.
    pub(crate) fn parse(op: &str, text: &str) -> Result<Signature> {
        let bad = |why: &str| invalid(op, format!("signature {text:?}: {why}"));
        let (inputs, outputs) = text
            .split_once("->")
            .ok_or_else(|| bad("no \"->\" between inputs and outputs"))?;
        let inputs = arguments(inputs).map_err(|why| bad(&format!("inputs: {why}")))?;
        let outputs = arguments(outputs).map_err(|why| bad(&format!("outputs: {why}")))?;
        if inputs.is_empty() || outputs.is_empty() {
            return Err(bad("needs at least one input and one output"));
        }
        Ok(Signature { inputs, outputs })
    }

    /// The core shapes of inputs of `shapes`: each input's trailing axes are its core
    /// dimensions, a name has one length wherever it appears, and names only in outputs
    /// take their length from `output_sizes`. An error names the input and dimension at
    /// fault.
    pub(crate) fn core_shapes(
        &self,
        op: &str,
        shapes: &[Vec<usize>],
        output_sizes: &[(String, usize)],
    ) -> Result<CoreShapes> {
        if shapes.len() != self.inputs.len() {
            let why = format!(
                "the signature takes {} inputs, {} given",
                self.inputs.len(),
                shapes.len()
            );
            return Err(invalid(op, why));
        }
        let mut sizes: BTreeMap<&str, (usize, String)> = BTreeMap::new();
        for (k, (dims, shape)) in self.inputs.iter().zip(shapes).enumerate() {
            let Some(loop_nd) = shape.len().checked_sub(dims.len()) else {
                let why = format!(
                    "input {k} of shape {shape:?} has fewer axes than its core dimensions ({})",
                    dims.join(",")
                );
                return Err(invalid(op, why));
            };
            for (name, &len) in dims.iter().zip(&shape[loop_nd..]) {
                bind(op, &mut sizes, name, len, format!("input {k}"))?;
            }
        }
        for (name, len) in output_sizes {
            let known = self.inputs.iter().chain(&self.outputs).flatten();
            if !known.clone().any(|d| d == name) {
                let why = format!("output_sizes names {name:?}, not a dimension of the signature");
                return Err(invalid(op, why));
            }
            bind(op, &mut sizes, name, *len, "output_sizes".into())?;
        }
        let length = |name: &String| -> Result<usize> {
            match (sizes.get(name.as_str()), name.parse::<usize>()) {
                (Some(&(len, _)), _) | (None, Ok(len)) => Ok(len),
                (None, Err(_)) => Err(invalid(
                    op,
                    format!(
                        "core dimension {name:?} appears only in outputs; give its length \
                         with output_sizes"
                    ),
                )),
            }
        };
        let core = |args: &[Vec<String>]| -> Result<Vec<Vec<usize>>> {
            args.iter()
                .map(|dims| dims.iter().map(length).collect())
                .collect()
        };
        Ok(CoreShapes {
            inputs: core(&self.inputs)?,
            outputs: core(&self.outputs)?,
        })
    }
}

/// Records that dimension `name` has length `len` (as `what` says), or an error if it has
/// another length already (or another than its integer name).
fn bind<'a>(
    op: &str,
    sizes: &mut BTreeMap<&'a str, (usize, String)>,
    name: &'a str,
    len: usize,
    what: String,
) -> Result<()> {
    let (known, from) = match (sizes.get(name), name.parse::<usize>()) {
        (Some((known, from)), _) => (*known, from.clone()),
        (None, Ok(fixed)) => (fixed, "the signature".into()),
        (None, Err(_)) => {
            sizes.insert(name, (len, what));
            return Ok(());
        }
    };
    if known != len {
        let why = format!(
            "core dimension {name:?} has length {known} in {from} but {len} in {what} \
             (core dimensions do not broadcast)"
        );
        return Err(invalid(op, why));
    }
    Ok(())
}

/// The arguments of one side of a signature: `(a,b),(),(c)`, possibly none.
fn arguments(text: &str) -> std::result::Result<Vec<Vec<String>>, String> {
    let mut args = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let body = rest
            .strip_prefix('(')
            .ok_or_else(|| format!("expected \"(\" at {rest:?}"))?;
        let (dims, after) = body
            .split_once(')')
            .ok_or_else(|| format!("no \")\" closing {rest:?}"))?;
        args.push(dimensions(dims)?);
        let after = after.trim_start();
        rest = match after.strip_prefix(',') {
            Some(next) if next.trim().is_empty() => return Err("a trailing \",\"".into()),
            Some(next) => next.trim_start(),
            None if after.is_empty() => after,
            None => return Err(format!("expected \",\" before {after:?}")),
        };
    }
    Ok(args)
}

/// The dimension names inside one argument's parentheses.
fn dimensions(text: &str) -> std::result::Result<Vec<String>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|name| {
            let name = name.trim();
            let is_word = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            let is_number = name.chars().all(|c| c.is_ascii_digit());
            let starts_ok = name
                .chars()
                .next()
                .is_some_and(|c| !c.is_ascii_digit() || is_number);
            match is_word && starts_ok && (!is_number || name.parse::<usize>().is_ok()) {
                true => Ok(name.to_string()),
                false => Err(format!("{name:?} is not a dimension name")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(args: &[&[&str]]) -> Vec<Vec<String>> {
        args.iter()
            .map(|a| a.iter().map(|s| s.to_string()).collect())
            .collect()
    }

    #[test]
    fn parses_numpy_signatures() {
        let s = Signature::parse("t", " (m, n),(n,p) -> (m,p)").unwrap();
        assert_eq!(s.inputs, names(&[&["m", "n"], &["n", "p"]]));
        assert_eq!(s.outputs, names(&[&["m", "p"]]));
        let s = Signature::parse("t", "( ) -> ()").unwrap();
        assert_eq!((s.inputs, s.outputs), (names(&[&[]]), names(&[&[]])));
        let s = Signature::parse("t", "(i)->(),()").unwrap();
        assert_eq!(s.outputs, names(&[&[], &[]]));
        let s = Signature::parse("t", "(i,3)->(i)").unwrap();
        assert_eq!(s.inputs, names(&[&["i", "3"]]));
    }

    #[test]
    fn refuses_malformed_signatures() {
        for bad in [
            "",
            "(i)",
            "(i)->",
            "->(i)",
            "(i)(j)->()",
            "(i),->()",
            "(i->()",
            "i->()",
            "(i,)->()",
            "(i j)->()",
            "(1i)->()",
            "(i?)->()",
            "(i)->()->()",
            "(i)->(),",
        ] {
            let err = Signature::parse("t", bad).unwrap_err();
            assert!(
                matches!(err, Error::Build(BuildError::InvalidArgument { .. })),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn core_shapes_bind_names_across_arguments() {
        let s = Signature::parse("t", "(m,n),(n)->(m),(k),(2)").unwrap();
        let shapes = s
            .core_shapes("t", &[vec![7, 3, 4], vec![4]], &[("k".into(), 5)])
            .unwrap();
        assert_eq!(shapes.inputs, vec![vec![3, 4], vec![4]]);
        assert_eq!(shapes.outputs, vec![vec![3], vec![5], vec![2]]);
        // A mismatch, a missing output size, too few axes, a fixed length broken.
        assert!(
            s.core_shapes("t", &[vec![3, 4], vec![5]], &[("k".into(), 1)])
                .is_err()
        );
        assert!(s.core_shapes("t", &[vec![3, 4], vec![4]], &[]).is_err());
        assert!(
            s.core_shapes("t", &[vec![4], vec![4]], &[("k".into(), 1)])
                .is_err()
        );
        assert!(
            s.core_shapes("t", &[vec![3, 4]], &[("k".into(), 1)])
                .is_err()
        );
        assert!(
            s.core_shapes("t", &[vec![3, 4], vec![4]], &[("z".into(), 1)])
                .is_err()
        );
        let fixed = Signature::parse("t", "(i,3)->(i)").unwrap();
        assert!(fixed.core_shapes("t", &[vec![2, 4]], &[]).is_err());
        assert!(fixed.core_shapes("t", &[vec![2, 3]], &[]).is_ok());
    }
}

//! Joining and shifting arrays: `concatenate`, `stack`, `roll`.

use chunkwise_kernels::dtype::Element;

use super::Array;
use crate::error::Result;
use crate::ops::{concat, layout};

/// `arrays` joined along `axis` (negative counting from the end), as NumPy's
/// `concatenate`: they agree on every other axis. Each tile of the result is a tile of
/// one input, passed on as it is; inputs chunked otherwise along the other axes are
/// rechunked to the first one's chunks.
///
/// ```
/// let a = chunkwise::arange::<i64>(0, 3, 1, [2]).unwrap();
/// let b = chunkwise::arange::<i64>(10, 12, 1, [2]).unwrap();
/// let c = chunkwise::concatenate(&[&a, &b], 0).unwrap();
/// assert_eq!(c.compute().unwrap().into_raw_vec_and_offset().0, vec![0, 1, 2, 10, 11]);
/// assert_eq!(c.chunks().chunks(), &[vec![2, 1, 2]]);
/// ```
pub fn concatenate<T: Element>(arrays: &[&Array<T>], axis: isize) -> Result<Array<T>> {
    for a in arrays {
        a.check()?;
    }
    let nodes: Vec<_> = arrays.iter().map(|a| a.node.clone()).collect();
    Ok(Array::from_node(concat::concatenate(&nodes, axis)?))
}

/// `arrays` (all of one shape) joined along a new axis at `axis` of the result, as NumPy's
/// `stack`.
///
/// ```
/// let a = chunkwise::zeros::<f32>(&[2, 3], [1, 3]).unwrap();
/// let s = chunkwise::stack(&[&a, &a, &a], -1).unwrap();
/// assert_eq!(s.shape(), vec![2, 3, 3]);
/// ```
pub fn stack<T: Element>(arrays: &[&Array<T>], axis: isize) -> Result<Array<T>> {
    let expanded = arrays
        .iter()
        .map(|a| a.expand_dims(&[axis]))
        .collect::<Result<Vec<_>>>()?;
    let refs: Vec<&Array<T>> = expanded.iter().collect();
    concatenate(&refs, axis)
}

impl<T: Element> Array<T> {
    /// The elements shifted by `shift` along `axis`, those pushed past the end coming back
    /// at the start, as NumPy's `roll` (negative shifts go the other way): the two slices
    /// of `self`, joined.
    ///
    /// ```
    /// let x = chunkwise::arange::<i64>(0, 5, 1, [2]).unwrap();
    /// let y = x.roll(2, 0).unwrap();
    /// assert_eq!(y.compute().unwrap().into_raw_vec_and_offset().0, vec![3, 4, 0, 1, 2]);
    /// ```
    pub fn roll(&self, shift: isize, axis: isize) -> Result<Array<T>> {
        self.check()?;
        let axis = layout::normalize_axis(axis, self.ndim())?;
        let n = self.shape()[axis] as isize;
        if n == 0 {
            return Ok(self.clone());
        }
        let cut = (n - shift.rem_euclid(n)) as isize;
        if cut == n {
            return Ok(self.clone());
        }
        let part = |start: isize, end: isize| {
            let info: Vec<ndarray::SliceInfoElem> = (0..self.ndim())
                .map(|a| {
                    let (start, end) = if a == axis {
                        (start, Some(end))
                    } else {
                        (0, None)
                    };
                    ndarray::SliceInfoElem::Slice {
                        start,
                        end,
                        step: 1,
                    }
                })
                .collect();
            self.slice(info)
        };
        concatenate(&[&part(cut, n)?, &part(0, cut)?], axis as isize)
    }
}

//! Reshaping: `reshape` and `ravel`, lazy, each tile of the result one tile of the input.

use chunkwise_kernels::dtype::Element;

use super::Array;
use super::map_blocks::invalid;
use crate::chunks::Chunks;
use crate::error::Result;
use crate::ops::reshape;

/// Reshaping.
impl<T: Element> Array<T> {
    /// The elements in C order, in `shape` (one length may be `-1`: whatever makes the
    /// sizes agree), as NumPy's `reshape`.
    ///
    /// The axes of the two shapes are matched in groups (several axes merged into one, or
    /// one split into several), and only what the new shape needs is rechunked, as Dask
    /// does: merged axes after the first become one chunk, a split axis keeps its tiles
    /// when they end on the new axes' rows. Then each tile of the result is one tile of the
    /// input read in the new shape. `explain()` shows any rechunk before the reshape.
    ///
    /// ```
    /// let x = chunkwise::arange::<i64>(0, 12, 1, [4]).unwrap();
    /// let y = x.reshape(&[3, -1]).unwrap();
    /// assert_eq!(y.shape(), vec![3, 4]);
    /// assert_eq!(y.chunks().chunks(), &[vec![1, 1, 1], vec![4]]);
    /// assert_eq!(y.compute().unwrap(), ndarray::Array::from_shape_vec((3, 4), (0..12).collect()).unwrap().into_dyn());
    /// assert!(x.reshape(&[5, -1]).is_err());
    /// ```
    pub fn reshape(&self, shape: &[isize]) -> Result<Array<T>> {
        self.check()?;
        let shape = self.resolve_shape(shape)?;
        if shape.iter().product::<usize>() == 0 {
            let chunks = shape.iter().map(|&n| vec![n]).collect();
            return super::creation::zeros(&shape, Chunks::Sizes(chunks));
        }
        Ok(Array::from_node(reshape::reshape(&self.node, &shape)))
    }

    /// The elements in C order, in one axis (NumPy's `ravel`): `reshape(&[-1])`.
    ///
    /// ```
    /// let x = chunkwise::zeros::<f32>(&[2, 3, 4], [1, 3, 4]).unwrap();
    /// let flat = x.ravel().unwrap();
    /// assert_eq!(flat.shape(), vec![24]);
    /// assert_eq!(flat.chunks().chunks(), &[vec![12, 12]]);
    /// ```
    pub fn ravel(&self) -> Result<Array<T>> {
        self.reshape(&[-1])
    }

    /// `shape` with its `-1` resolved, checked against the array's size.
    fn resolve_shape(&self, shape: &[isize]) -> Result<Vec<usize>> {
        let size: usize = self.shape().iter().product();
        let bad = |reason: String| invalid("reshape", reason);
        if let Some(&n) = shape.iter().find(|&&n| n < -1) {
            return Err(bad(format!("length {n} in {shape:?}")));
        }
        let unknown: Vec<usize> = (0..shape.len()).filter(|&a| shape[a] == -1).collect();
        if unknown.len() > 1 {
            return Err(bad(format!("more than one -1 in {shape:?}")));
        }
        let known = shape
            .iter()
            .filter(|&&n| n >= 0)
            .try_fold(1usize, |acc, &n| acc.checked_mul(n as usize));
        let mut resolved: Vec<usize> = shape.iter().map(|&n| n.max(0) as usize).collect();
        match (known, unknown.first()) {
            (Some(known), Some(&a)) if known > 0 && size.is_multiple_of(known) => {
                resolved[a] = size / known;
            }
            (Some(known), None) if known == size => {}
            _ => {
                return Err(bad(format!(
                    "an array of {size} elements (shape {:?}) cannot take shape {shape:?}",
                    self.shape()
                )));
            }
        }
        Ok(resolved)
    }
}

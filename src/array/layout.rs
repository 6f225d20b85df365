//! Slicing, axis rearrangements and rechunking.

use ndarray::SliceInfoElem;

use super::Array;
use crate::chunks::{ChunkGrid, Chunks};
use crate::error::Result;
use crate::graph::Node;
use crate::ops::{layout, rechunk, slicing};
use chunkwise_kernels::dtype::Element;

/// Slicing, axes and tiles.
impl<T: Element> Array<T> {
    /// A slice, with ndarray's `s![..]` syntax and semantics: ranges, steps (a negative step
    /// walks the range backwards), single indices (which drop the axis) and `NewAxis`. Only
    /// the tiles the slice touches are ever computed.
    ///
    /// ```
    /// use ndarray::s;
    /// let x = chunkwise::arange::<i64>(0, 10, 1, [3]).unwrap();
    /// let y = x.slice(s![1..8;-3]).unwrap();
    /// assert_eq!(y.compute().unwrap().into_raw_vec_and_offset().0, vec![7, 4, 1]);
    /// ```
    pub fn slice(&self, info: impl AsRef<[SliceInfoElem]>) -> Result<Array<T>> {
        self.check()?;
        Ok(Array::from_node(slicing::slice(&self.node, info.as_ref())?))
    }

    /// Axes reversed.
    pub fn transpose(&self) -> Array<T> {
        let axes: Vec<isize> = (0..self.ndim() as isize).rev().collect();
        // A reversal is a permutation: the only possible error is one recorded earlier.
        self.permute_axes(&axes)
            .unwrap_or_else(|e| Array::from_node(Node::invalid(e, T::DTYPE)))
    }

    /// Axes in the order `axes` (output axis `k` is input axis `axes[k]`).
    ///
    /// ```
    /// let x = chunkwise::zeros::<f32>(&[2, 3, 4], [1, 3, 2]).unwrap();
    /// assert_eq!(x.permute_axes(&[2, 0, 1]).unwrap().shape(), vec![4, 2, 3]);
    /// ```
    pub fn permute_axes(&self, axes: &[isize]) -> Result<Array<T>> {
        self.check()?;
        Ok(Array::from_node(layout::permute(&self.node, axes)?))
    }

    /// Axes `a` and `b` exchanged.
    pub fn swap_axes(&self, a: isize, b: isize) -> Result<Array<T>> {
        self.check()?;
        let ndim = self.ndim();
        let (a, b) = (
            layout::normalize_axis(a, ndim)?,
            layout::normalize_axis(b, ndim)?,
        );
        let mut axes: Vec<isize> = (0..ndim as isize).collect();
        axes.swap(a, b);
        self.permute_axes(&axes)
    }

    /// A new axis of length 1 at `axis`.
    pub fn insert_axis(&self, axis: isize) -> Result<Array<T>> {
        self.check()?;
        Ok(Array::from_node(layout::insert_axis(&self.node, axis)?))
    }

    /// Without the given axes of length 1 (all of them when `axes` is `None`).
    pub fn squeeze(&self, axes: Option<&[isize]>) -> Result<Array<T>> {
        self.check()?;
        Ok(Array::from_node(layout::squeeze(&self.node, axes)?))
    }

    /// The elements in reverse order along `axes` (all axes when `None`), as NumPy's
    /// `flip`. A view: elementwise work and reductions read it in place.
    ///
    /// ```
    /// let x = chunkwise::arange::<i64>(0, 5, 1, [2]).unwrap();
    /// let y = x.flip(None).unwrap();
    /// assert_eq!(y.compute().unwrap().into_raw_vec_and_offset().0, vec![4, 3, 2, 1, 0]);
    /// ```
    pub fn flip(&self, axes: Option<&[isize]>) -> Result<Array<T>> {
        self.check()?;
        Ok(Array::from_node(layout::flip(&self.node, axes)?))
    }

    /// Repeated to `shape` as NumPy broadcasts (leading axes added, axes of length 1
    /// repeated), as NumPy's `broadcast_to`; a view, nothing is copied. New and repeated
    /// axes are one chunk (rechunk them for smaller tiles).
    ///
    /// ```
    /// let row = chunkwise::arange::<f64>(0.0, 3.0, 1.0, [3]).unwrap();
    /// let grid = row.broadcast_to(&[2, 3]).unwrap();
    /// assert_eq!(grid.compute().unwrap(), ndarray::arr2(&[[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]).into_dyn());
    /// ```
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Array<T>> {
        self.check()?;
        Ok(Array::from_node(layout::broadcast_to(&self.node, shape)?))
    }

    /// Axes `source` moved to positions `destination`, the others kept in order, as
    /// NumPy's `moveaxis`.
    ///
    /// ```
    /// let x = chunkwise::zeros::<f32>(&[2, 3, 4], [1, 3, 2]).unwrap();
    /// assert_eq!(x.moveaxis(&[0], &[-1]).unwrap().shape(), vec![3, 4, 2]);
    /// ```
    pub fn moveaxis(&self, source: &[isize], destination: &[isize]) -> Result<Array<T>> {
        self.check()?;
        Ok(Array::from_node(layout::moveaxis(
            &self.node,
            source,
            destination,
        )?))
    }

    /// New axes of length 1 at positions `axes` of the result, as NumPy's `expand_dims`.
    ///
    /// ```
    /// let x = chunkwise::zeros::<f32>(&[2, 3], [1, 3]).unwrap();
    /// assert_eq!(x.expand_dims(&[0, -1]).unwrap().shape(), vec![1, 2, 3, 1]);
    /// ```
    pub fn expand_dims(&self, axes: &[isize]) -> Result<Array<T>> {
        self.check()?;
        Ok(Array::from_node(layout::expand_dims(&self.node, axes)?))
    }

    /// The same values on another tile grid.
    ///
    /// ```
    /// let x = chunkwise::arange::<f64>(0.0, 10.0, 1.0, [3]).unwrap();
    /// let y = x.rechunk([5]).unwrap();
    /// assert_eq!(y.chunks().chunks(), &[vec![5, 5]]);
    /// assert_eq!(y.compute().unwrap(), x.compute().unwrap());
    /// ```
    pub fn rechunk(&self, chunks: impl Into<Chunks>) -> Result<Array<T>> {
        self.check()?;
        let grid = ChunkGrid::new(&self.shape(), &chunks.into(), T::DTYPE.size())?;
        Ok(Array::from_node(rechunk::rechunk(&self.node, grid)))
    }
}

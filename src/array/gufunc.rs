//! `apply_gufunc`: a function of core dimensions applied over the loop dimensions of its
//! inputs, as NumPy's generalized ufuncs and Dask's `da.apply_gufunc`. The graph building
//! is `ops::gufunc`; this is the typed API and its argument checks.

use std::sync::Arc;

use chunkwise_kernels::dtype::Element;
use ndarray::{ArrayD, ArrayViewD};

use super::Array;
use super::map_blocks::{BoxError, invalid};
use crate::chunks::{ChunkGrid, broadcast_grids};
use crate::error::Result;
use crate::graph::Node;
use crate::ops::gufunc::signature::Signature;
use crate::ops::gufunc::{CoreOutputs, GufuncLayout, gufunc};

/// What a gufunc's function returns for one loop index: its core outputs in the
/// signature's order (each of the shape the signature gives it), or an error that the
/// computation reports as [`ExecError::UserFunction`](crate::ExecError::UserFunction).
pub type CoreResult<U> = std::result::Result<Vec<ArrayD<U>>, BoxError>;

/// A generalized ufunc (NumPy's gufunc, Dask's `apply_gufunc`): a signature such as
/// `"(m,n),(n)->(m)"` naming the **core dimensions** of each input and output, and the
/// lengths of core dimensions that only outputs have. Apply it with [`Gufunc::apply`]
/// (any number of outputs of one type), [`Gufunc::apply_one`] or [`Gufunc::apply_pair`]
/// (two outputs of two types).
///
/// - Each input's trailing axes are its core dimensions; its leading axes are **loop
///   dimensions**, broadcast together across inputs as NumPy's (leading axes added,
///   length-1 axes repeated). A name shared by several arguments must have one length
///   (core dimensions do not broadcast); a dimension named by an integer has that length.
/// - The function is called once per loop index with views of the inputs' core parts and
///   returns the core outputs; output `j` is an array of the loop shape followed by its
///   core dimensions.
/// - Core dimensions are made whole in each task inside the plan, and inputs chunked
///   differently along a loop dimension are rechunked to the common refinement; the loop
///   dimensions are split so that a task stays near 64 MiB. There is never an error asking
///   for a rechunk.
/// - All inputs have one element type `T` (use [`Array::astype`] to mix). The outputs of
///   [`Gufunc::apply`] have one element type `U`; [`Gufunc::apply_pair`] gives two outputs
///   of two types (NumPy's `output_dtypes`).
/// - All outputs come from **one** call of the function per loop index, by one task per
///   tile.
///
/// Errors: a malformed signature, a wrong number of inputs, an input with fewer axes than
/// its core dimensions, a core dimension of two lengths, loop dimensions that do not
/// broadcast, or an output-only dimension without a length fail `apply` (and the other
/// entry points, which also check the signature's number of outputs) with a
/// [`BuildError`](crate::BuildError). While computing, an `Err` from the function is
/// [`ExecError::UserFunction`](crate::ExecError::UserFunction), a core output of the wrong
/// shape [`ExecError::TileShape`](crate::ExecError::TileShape), and a panic
/// [`ExecError::TaskPanicked`](crate::ExecError::TaskPanicked).
///
/// ```
/// use chunkwise::Gufunc;
/// use ndarray::{arr0, arr2};
/// // Per row: the mean and the maximum over the last axis, split in two chunks.
/// let x = chunkwise::from_ndarray(&arr2(&[[1.0, 2.0, 6.0], [4.0, 0.0, 5.0]]), [1, 2])?;
/// let [mean, max] = <[_; 2]>::try_from(Gufunc::new("(i)->(),()").apply(&[&x], |cores| {
///     let row = &cores[0];
///     let max = row.fold(f64::NEG_INFINITY, |m, &v| m.max(v));
///     Ok(vec![arr0(row.mean().unwrap_or(f64::NAN)).into_dyn(), arr0(max).into_dyn()])
/// })?)
/// .unwrap();
/// assert_eq!(mean.compute()?.into_raw_vec_and_offset().0, vec![3.0, 3.0]);
/// assert_eq!(max.compute()?.into_raw_vec_and_offset().0, vec![6.0, 5.0]);
/// # Ok::<(), chunkwise::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Gufunc {
    signature: String,
    output_sizes: Vec<(String, usize)>,
    name: Option<String>,
}

impl Gufunc {
    /// A gufunc of `signature` (NumPy's syntax, whitespace ignored): e.g. `"(i),(i)->()"`,
    /// `"(m,n)->(n)"`, `"(m,n),(n,p)->(m,p)"`, `"()->()"`, `"(i)->(),()"`. A malformed
    /// signature is reported by [`Gufunc::apply`].
    pub fn new(signature: &str) -> Gufunc {
        Gufunc {
            signature: signature.to_string(),
            output_sizes: Vec::new(),
            name: None,
        }
    }

    /// The lengths of core dimensions that appear only in outputs (Dask's `output_sizes`),
    /// such as `k` in `"(i)->(k)"`.
    ///
    /// ```
    /// use chunkwise::Gufunc;
    /// let x = chunkwise::from_ndarray(&ndarray::arr2(&[[1.0, 5.0], [3.0, 2.0]]), [1, 1])?;
    /// // Per row: its minimum and maximum, as a new core axis of length 2.
    /// let range = Gufunc::new("(i)->(k)").output_sizes(&[("k", 2)]).apply_one(&[&x], |c| {
    ///     let lo = c[0].fold(f64::INFINITY, |m, &v| m.min(v));
    ///     let hi = c[0].fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    ///     Ok(ndarray::arr1(&[lo, hi]).into_dyn())
    /// })?;
    /// assert_eq!(range.compute()?, ndarray::arr2(&[[1.0, 5.0], [2.0, 3.0]]).into_dyn());
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn output_sizes(mut self, sizes: &[(&str, usize)]) -> Gufunc {
        let given = sizes.iter().map(|&(name, len)| (name.to_string(), len));
        self.output_sizes.extend(given);
        self
    }

    /// The name shown in plans and errors (default `apply_gufunc`).
    pub fn name(mut self, name: impl Into<String>) -> Gufunc {
        self.name = Some(name.into());
        self
    }

    /// Applies `f` at every loop index of `inputs`: one lazy array per output of the
    /// signature, in its order (see [`Gufunc`] for the rules and errors).
    ///
    /// ```
    /// use chunkwise::Gufunc;
    /// use ndarray::{Ix1, Ix2};
    /// // Matrix-vector products of a stack of two 2x3 matrices with one vector.
    /// let a = chunkwise::arange::<f64>(0.0, 12.0, 1.0, [5])?.reshape(&[2, 2, 3])?;
    /// let v = chunkwise::from_ndarray(&ndarray::arr1(&[1.0, 0.0, 2.0]), [2])?;
    /// let out = Gufunc::new("(m,n),(n)->(m)").apply(&[&a, &v], |c| {
    ///     let (m, v) = (c[0].view().into_dimensionality::<Ix2>()?, c[1].view().into_dimensionality::<Ix1>()?);
    ///     Ok(vec![m.dot(&v).into_dyn()])
    /// })?;
    /// assert_eq!(out[0].compute()?, ndarray::arr2(&[[4.0, 13.0], [22.0, 31.0]]).into_dyn());
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn apply<T: Element, U: Element>(
        &self,
        inputs: &[&Array<T>],
        f: impl Fn(&[ArrayViewD<'_, T>]) -> CoreResult<U> + Send + Sync + 'static,
    ) -> Result<Vec<Array<U>>> {
        let nodes = self.nodes(inputs, f)?;
        Ok(nodes.into_iter().map(Array::from_node).collect())
    }

    /// [`Gufunc::apply`] for a signature of one output: `f` returns that output's core
    /// array.
    ///
    /// ```
    /// use chunkwise::Gufunc;
    /// // Inner products along the last axis, the loop axes broadcast: (2, 1) with (3,).
    /// let x = chunkwise::ones::<f64>(&[2, 1, 4], [1, 1, 2])?;
    /// let y = chunkwise::ones::<f64>(&[3, 4], [2, 4])?;
    /// let dot = Gufunc::new("(i),(i)->()")
    ///     .apply_one(&[&x, &y], |c| {
    ///         let dot: f64 = c[0].iter().zip(c[1].iter()).map(|(a, b)| a * b).sum();
    ///         Ok(ndarray::arr0(dot).into_dyn())
    ///     })?;
    /// assert_eq!(dot.shape(), vec![2, 3]);
    /// assert!(dot.compute()?.iter().all(|&v| v == 4.0));
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn apply_one<T: Element, U: Element>(
        &self,
        inputs: &[&Array<T>],
        f: impl Fn(&[ArrayViewD<'_, T>]) -> std::result::Result<ArrayD<U>, BoxError>
        + Send
        + Sync
        + 'static,
    ) -> Result<Array<U>> {
        self.expect_outputs("apply_one", 1)?;
        let mut arrays = self.apply(inputs, move |cores| Ok(vec![f(cores)?]))?;
        Ok(arrays.remove(0))
    }

    /// [`Gufunc::apply`] for a signature of two outputs of two element types (NumPy's and
    /// Dask's `output_dtypes`): `f` returns the pair of core arrays, and both come from
    /// one call per loop index.
    ///
    /// ```
    /// use chunkwise::Gufunc;
    /// use ndarray::arr0;
    /// // Per row: the largest value and its position.
    /// let x = chunkwise::from_ndarray(&ndarray::arr2(&[[1.0, 7.0, 3.0], [9.0, 2.0, 4.0]]), [1, 2])?;
    /// let (max, at) = Gufunc::new("(i)->(),()").apply_pair(&[&x], |c| {
    ///     let (at, max) = c[0].iter().enumerate().fold((0, f64::NEG_INFINITY), |best, (i, &v)| {
    ///         if v > best.1 { (i, v) } else { best }
    ///     });
    ///     Ok((arr0(max).into_dyn(), arr0(at as u64).into_dyn()))
    /// })?;
    /// assert_eq!(max.compute()?.into_raw_vec_and_offset().0, vec![7.0, 9.0]);
    /// assert_eq!(at.compute()?.into_raw_vec_and_offset().0, vec![1, 0]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn apply_pair<T: Element, A: Element, B: Element>(
        &self,
        inputs: &[&Array<T>],
        f: impl Fn(&[ArrayViewD<'_, T>]) -> std::result::Result<(ArrayD<A>, ArrayD<B>), BoxError>
        + Send
        + Sync
        + 'static,
    ) -> Result<(Array<A>, Array<B>)> {
        self.expect_outputs("apply_pair", 2)?;
        let [a, b] = <[Arc<Node>; 2]>::try_from(self.nodes(inputs, f)?)
            .expect("a signature of two outputs gives two nodes");
        Ok((Array::from_node(a), Array::from_node(b)))
    }

    /// The operation's name in plans and errors.
    fn op(&self) -> &str {
        self.name.as_deref().unwrap_or("apply_gufunc")
    }

    /// An error unless the signature has `n` outputs (what `entry` returns).
    fn expect_outputs(&self, entry: &str, n: usize) -> Result<()> {
        let outputs = Signature::parse(self.op(), &self.signature)?.outputs.len();
        if outputs != n {
            let why = format!("{entry} needs a signature of {n} outputs, this one has {outputs}");
            return Err(invalid(self.op(), why));
        }
        Ok(())
    }

    /// The output nodes of `f` at every loop index of `inputs`, after checking them
    /// against the signature.
    fn nodes<T: Element, O: CoreOutputs>(
        &self,
        inputs: &[&Array<T>],
        f: impl Fn(&[ArrayViewD<'_, T>]) -> std::result::Result<O, BoxError> + Send + Sync + 'static,
    ) -> Result<Vec<Arc<Node>>> {
        let op = self.op();
        let signature = Signature::parse(op, &self.signature)?;
        for a in inputs {
            a.check()?;
        }
        let shapes: Vec<Vec<usize>> = inputs.iter().map(|a| a.shape()).collect();
        let cores = signature.core_shapes(op, &shapes, &self.output_sizes)?;
        let loop_grids: Vec<ChunkGrid> = inputs
            .iter()
            .zip(&cores.inputs)
            .map(|(a, core)| {
                let loop_nd = a.ndim() - core.len();
                ChunkGrid::from_axes((0..loop_nd).map(|k| a.chunks().axis(k).clone()).collect())
            })
            .collect();
        let (loop_axes, broadcast) = broadcast_grids(op, &loop_grids)?;
        let layout = GufuncLayout {
            loop_axes,
            broadcast,
            input_cores: cores.inputs,
            output_cores: cores.outputs,
        };
        let nodes: Vec<_> = inputs.iter().map(|a| a.node.clone()).collect();
        Ok(gufunc::<T, O>(op, &nodes, layout, Arc::new(f)))
    }
}

/// Dask's `da.apply_gufunc(f, signature, *inputs)`: [`Gufunc::new`]`(signature)`
/// [`.apply`](Gufunc::apply)`(inputs, f)`, one lazy array per output.
///
/// ```
/// // Column means of each 3x2 matrix of a stack: "(m,n)->(n)".
/// let x = chunkwise::arange::<f64>(0.0, 12.0, 1.0, [4])?.reshape(&[2, 3, 2])?;
/// let means = chunkwise::apply_gufunc("(m,n)->(n)", &[&x], |c| {
///     Ok(vec![c[0].mean_axis(ndarray::Axis(0)).expect("m > 0")])
/// })?;
/// assert_eq!(means[0].compute()?, ndarray::arr2(&[[2.0, 3.0], [8.0, 9.0]]).into_dyn());
/// # Ok::<(), chunkwise::Error>(())
/// ```
pub fn apply_gufunc<T: Element, U: Element>(
    signature: &str,
    inputs: &[&Array<T>],
    f: impl Fn(&[ArrayViewD<'_, T>]) -> CoreResult<U> + Send + Sync + 'static,
) -> Result<Vec<Array<U>>> {
    Gufunc::new(signature).apply(inputs, f)
}

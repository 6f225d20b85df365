//! Tiled matrix products: each output tile accumulates its k-panel products into one buffer
//! (GEMM with beta = 1), so the partial products are never materialised.

use std::marker::PhantomData;
use std::sync::Arc;

use chunkwise_kernels::dtype::FloatElement;
use chunkwise_kernels::linalg::{Op, gemm};
use ndarray::{ArrayD, IxDyn};

use crate::array::Array;
use crate::chunks::{ChunkGrid, refine};
use crate::error::{Error, Result};
use crate::graph::{BlockMap, Blockwise, Node, NodeKind, Value, tile_value};
use crate::ops::rechunk::rechunk;

/// Output tile (i, j) = sum over k of A(i, k) B(k, j).
#[derive(Debug)]
struct MatmulTiles<T> {
    k_blocks: usize,
    _t: PhantomData<fn() -> T>,
}

impl<T: FloatElement> BlockMap for MatmulTiles<T> {
    fn name(&self) -> String {
        format!("matmul[{} k-panels]", self.k_blocks)
    }

    fn deps(&self, block: &[usize]) -> Vec<(usize, Vec<usize>)> {
        (0..self.k_blocks)
            .flat_map(|k| [(0, vec![block[0], k]), (1, vec![k, block[1]])])
            .collect()
    }

    fn run(&self, _: &[usize], shape: &[usize], inputs: &[&Value]) -> Result<Value> {
        let (m, n) = (shape[0], shape[1]);
        let mut out = vec![T::ZERO; m * n];
        for pair in inputs.chunks(2) {
            let a = pair[0]
                .as_any()
                .downcast_ref::<ArrayD<T>>()
                .expect("tiles of T");
            let b = pair[1]
                .as_any()
                .downcast_ref::<ArrayD<T>>()
                .expect("tiles of T");
            let k = a.shape()[1];
            let (a, b) = (
                a.as_slice().expect("C-order tiles"),
                b.as_slice().expect("C-order tiles"),
            );
            gemm(
                Op::Plain,
                Op::Plain,
                m,
                n,
                k,
                T::ONE,
                a,
                b,
                T::ONE,
                &mut out,
            );
        }
        Ok(tile_value(
            ArrayD::from_shape_vec(IxDyn(shape), out).expect("m x n values"),
        ))
    }
}

/// Matrix products.
impl<T: FloatElement> Array<T> {
    /// The matrix product `self @ other` for 2-D arrays; a 1-D operand is a vector (as in
    /// NumPy: `matrix @ vector` and `vector @ matrix` give vectors). Tiles along the inner
    /// dimension are aligned first (rechunked to the common refinement when they differ).
    ///
    /// ```
    /// let a = chunkwise::from_ndarray(&ndarray::arr2(&[[1.0, 2.0], [3.0, 4.0]]), [1, 2]).unwrap();
    /// let v = chunkwise::from_ndarray(&ndarray::arr1(&[1.0, -1.0]), [1]).unwrap();
    /// assert_eq!(a.matmul(&v).unwrap().compute().unwrap().into_raw_vec_and_offset().0, vec![-1.0, -1.0]);
    /// ```
    pub fn matmul(&self, other: &Array<T>) -> Result<Array<T>> {
        self.check()?;
        other.check()?;
        match (self.ndim(), other.ndim()) {
            (2, 2) => Ok(Array::from_node(matmul_2d::<T>(&self.node, &other.node)?)),
            (2, 1) => self.matmul(&other.insert_axis(1)?)?.squeeze(Some(&[1])),
            (1, 2) => self.insert_axis(0)?.matmul(other)?.squeeze(Some(&[0])),
            (1, 1) => self
                .insert_axis(0)?
                .matmul(&other.insert_axis(1)?)?
                .squeeze(None),
            (a, b) => Err(Error::InvalidArgument {
                op: "matmul".into(),
                reason: format!("operands with {a} and {b} axes (1 or 2 supported)"),
            }),
        }
    }
}

/// Products of vectors.
impl<T: FloatElement> Array<T> {
    /// The dot product of two vectors (a 0-d array), or the matrix product for matrices
    /// (NumPy's `dot` for 1-D and 2-D operands).
    pub fn dot(&self, other: &Array<T>) -> Result<Array<T>> {
        self.matmul(other)
    }

    /// The outer product of two vectors: `out[i, j] = self[i] * other[j]`.
    ///
    /// ```
    /// let a = chunkwise::arange::<f64>(1.0, 3.0, 1.0, [1]).unwrap();
    /// let b = chunkwise::arange::<f64>(1.0, 4.0, 1.0, [2]).unwrap();
    /// let o = a.outer(&b).unwrap().compute().unwrap();
    /// assert_eq!(o[[1, 2]], 6.0);
    /// ```
    pub fn outer(&self, other: &Array<T>) -> Result<Array<T>> {
        if self.ndim() != 1 || other.ndim() != 1 {
            return Err(Error::InvalidArgument {
                op: "outer".into(),
                reason: format!(
                    "operands with {} and {} axes (vectors only)",
                    self.ndim(),
                    other.ndim()
                ),
            });
        }
        Ok(&self.insert_axis(1)? * &other.insert_axis(0)?)
    }
}

fn matmul_2d<T: FloatElement>(a: &Arc<Node>, b: &Arc<Node>) -> Result<Arc<Node>> {
    let (sa, sb) = (a.shape(), b.shape());
    if sa[1] != sb[0] {
        return Err(Error::ShapeMismatch {
            op: "matmul (inner dimensions)".into(),
            expected: vec![sa[1]],
            found: vec![sb[0]],
        });
    }
    let inner = refine(&a.grid.chunks()[1], &b.grid.chunks()[0]);
    let a = rechunk(
        a,
        ChunkGrid::from_valid(vec![a.grid.chunks()[0].clone(), inner.clone()]),
    );
    let b = rechunk(
        b,
        ChunkGrid::from_valid(vec![inner.clone(), b.grid.chunks()[1].clone()]),
    );
    let grid = ChunkGrid::from_valid(vec![a.grid.chunks()[0].clone(), b.grid.chunks()[1].clone()]);
    let map: Arc<dyn BlockMap> = Arc::new(MatmulTiles::<T> {
        k_blocks: inner.len(),
        _t: PhantomData,
    });
    let dtype = a.dtype;
    Ok(Node::new(
        NodeKind::Blockwise(Blockwise {
            inputs: vec![a, b],
            map,
        }),
        grid,
        dtype,
    ))
}

//! `map_blocks`: a user function applied to each block of one or several arrays, as Dask's
//! `da.map_blocks`. One function on the [`blockwise`] builder: the graph, optimiser and
//! executor see an ordinary blockwise node (so elementwise work on the result fuses after
//! it as after any other).

use std::ops::Range;
use std::sync::Arc;

use chunkwise_kernels::dtype::Element;
use ndarray::ArrayD;

use super::Array;
use crate::chunks::{AxisChunks, ChunkGrid, broadcast_deps, broadcast_grids, broadcast_target};
use crate::error::{BuildError, Error, ExecError, Result};
use crate::graph::Node;
use crate::ops::blockwise::{Block, blockwise};
use crate::ops::layout::normalize_axis;
use crate::ops::rechunk::rechunk;

/// The error a user function may return: any error type converts to it with `?` or
/// `.into()` (`std::io::Error`, `String`, `&str`, ...).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a user block function returns: the output block, or an error that the computation
/// reports as [`ExecError::UserFunction`] naming the block.
///
/// ```
/// use chunkwise::{BlockResult, Error, ExecError};
/// fn checked(block: &ndarray::ArrayD<f64>) -> BlockResult<f64> {
///     if block.iter().any(|v| v.is_nan()) {
///         return Err("NaN in input".into());
///     }
///     Ok(block.mapv(f64::sqrt))
/// }
/// let x = chunkwise::from_ndarray(&ndarray::arr1(&[4.0, f64::NAN]), [1])?;
/// let err = x.map_blocks(checked)?.compute().unwrap_err();
/// assert!(matches!(err, Error::Exec(ExecError::UserFunction { block, .. }) if block == [1]));
/// # Ok::<(), chunkwise::Error>(())
/// ```
pub type BlockResult<U> = std::result::Result<ArrayD<U>, BoxError>;

/// Where a block lies in the array being computed: the argument of the block functions of
/// [`map_blocks`](crate::map_blocks()) and [`blockwise`](crate::blockwise()) (Dask's
/// `block_info[None]`).
///
/// ```
/// use chunkwise::MapBlocks;
/// let x = chunkwise::arange::<i64>(0, 10, 1, [4]).unwrap();
/// // Each block holds the first element index of its block.
/// let starts = x
///     .map_blocks_with(&MapBlocks::new(), |b, info| {
///         assert_eq!(info.shape, vec![10]);
///         assert_eq!(info.nblocks, vec![3]);
///         Ok(b.mapv(|_| info.ranges[0].start as i64))
///     })
///     .unwrap();
/// assert_eq!(starts.compute().unwrap().into_raw_vec_and_offset().0,
///            vec![0, 0, 0, 0, 4, 4, 4, 4, 8, 8]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlockInfo {
    /// The block's index in the output grid.
    pub index: Vec<usize>,
    /// The block's element ranges in the output array, per axis.
    pub ranges: Vec<Range<usize>>,
    /// The output array's shape.
    pub shape: Vec<usize>,
    /// The number of blocks of the output array, per axis.
    pub nblocks: Vec<usize>,
    /// Where the block's own elements lie in the block the function gets, per axis: all
    /// of it for `map_blocks` and `blockwise`; the grown block without its halo for
    /// [`map_overlap`](crate::map_overlap()).
    pub core: Vec<Range<usize>>,
}

impl BlockInfo {
    /// The info of block `index` of `grid`.
    pub(crate) fn new(grid: &ChunkGrid, index: &[usize]) -> BlockInfo {
        let ranges = grid.block_ranges(index);
        BlockInfo {
            index: index.to_vec(),
            core: ranges.iter().map(|r| 0..r.len()).collect(),
            ranges,
            shape: grid.shape(),
            nblocks: grid.nblocks(),
        }
    }

    /// The shape the function must return for this block.
    pub fn block_shape(&self) -> Vec<usize> {
        self.ranges.iter().map(|r| r.len()).collect()
    }
}

/// The tile a user function returned for `block`, or the error it returned (as
/// [`ExecError::UserFunction`]), or a [`ExecError::TileShape`] error if its shape is not the
/// block's.
pub(crate) fn user_tile<U>(
    task: &str,
    block: &Block<'_>,
    result: BlockResult<U>,
) -> Result<ArrayD<U>> {
    let tile = result.map_err(|e| {
        Error::Exec(ExecError::UserFunction {
            task: task.to_string(),
            block: block.index.to_vec(),
            message: e.to_string(),
        })
    })?;
    if tile.shape() != block.shape {
        return Err(Error::Exec(ExecError::TileShape {
            task: format!("{task} block {:?}", block.index),
            expected: block.shape.to_vec(),
            found: tile.shape().to_vec(),
        }));
    }
    Ok(tile)
}

/// An invalid argument of operation `op`.
pub(crate) fn invalid(op: &str, reason: String) -> Error {
    Error::Build(BuildError::InvalidArgument {
        op: op.to_string(),
        reason,
    })
}

/// How [`map_blocks`](crate::map_blocks()) lays out its output: Dask's `chunks=`,
/// `drop_axis=` and `new_axis=`, a name for plans and errors, and the scratch memory the
/// function needs per block (planned against the memory budget).
///
/// Output block `b` is computed from input block `b` (with dropped axes removed from, and new
/// axes inserted into, the block index). By default the output has the inputs' chunks, and
/// new axes have length 1.
///
/// ```
/// use chunkwise::MapBlocks;
/// let how = MapBlocks::new().drop_axis([1]).new_axis([0]).name("per-row stats");
/// # let _ = how;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapBlocks {
    chunks: Option<Vec<Vec<usize>>>,
    drop_axis: Vec<isize>,
    new_axis: Vec<isize>,
    name: Option<String>,
    scratch: u64,
}

impl MapBlocks {
    /// Output chunks like the inputs', no axis dropped or added.
    pub fn new() -> MapBlocks {
        MapBlocks::default()
    }

    /// The output's chunk lengths per axis (Dask's `chunks=`): as many chunks per axis as
    /// the output has blocks (one on a new axis, whose length this sets).
    ///
    /// ```
    /// use chunkwise::MapBlocks;
    /// let x = chunkwise::arange::<f64>(0.0, 6.0, 1.0, [4])?;
    /// // Each block of 4 and 2 elements keeps its first one.
    /// let firsts = x.map_blocks_with(&MapBlocks::new().chunks(vec![vec![1, 1]]), |b, _| {
    ///     Ok(b.slice(ndarray::s![..1]).to_owned().into_dyn())
    /// })?;
    /// assert_eq!(firsts.compute()?.into_raw_vec_and_offset().0, vec![0.0, 4.0]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn chunks(mut self, sizes: Vec<Vec<usize>>) -> MapBlocks {
        self.chunks = Some(sizes);
        self
    }

    /// Axes of the (broadcast) inputs that the function removes; each must be in one chunk
    /// (rechunk it first, or use [`reduction`](crate::reduction())).
    pub fn drop_axis(mut self, axes: impl AsRef<[isize]>) -> MapBlocks {
        self.drop_axis = axes.as_ref().to_vec();
        self
    }

    /// Axes of the output that the function adds (positions in the output), of length 1
    /// unless [`MapBlocks::chunks`] says otherwise.
    ///
    /// ```
    /// use chunkwise::MapBlocks;
    /// let x = chunkwise::ones::<f64>(&[5], [2])?;
    /// let column = x.map_blocks_with(&MapBlocks::new().new_axis([1]), |b, _| {
    ///     Ok(b.clone().insert_axis(ndarray::Axis(1)))
    /// })?;
    /// assert_eq!(column.shape(), vec![5, 1]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn new_axis(mut self, axes: impl AsRef<[isize]>) -> MapBlocks {
        self.new_axis = axes.as_ref().to_vec();
        self
    }

    /// The name shown in plans and in errors (default `map_blocks`).
    pub fn name(mut self, name: impl Into<String>) -> MapBlocks {
        self.name = Some(name.into());
        self
    }

    /// Working memory the function needs per block beyond its inputs and output.
    pub fn scratch(mut self, bytes: u64) -> MapBlocks {
        self.scratch = bytes;
        self
    }
}

/// The inputs of a broadcast blockwise operation, unified: `nd` axes, each input aligned
/// with the trailing ones.
pub(crate) struct Unified {
    pub(crate) nodes: Vec<Arc<Node>>,
    /// Per input, per own axis: whether it broadcasts (length 1 against a longer axis).
    pub(crate) broadcast: Vec<Vec<bool>>,
    /// The common chunks of each axis.
    pub(crate) axes: Vec<AxisChunks>,
}

/// Per output axis, the common input axis it is (`None`: a new axis).
fn output_sources(op: &str, nd: usize, options: &MapBlocks) -> Result<Vec<Option<usize>>> {
    let mut dropped = vec![false; nd];
    for &a in &options.drop_axis {
        let a = normalize_axis(a, nd)?;
        if std::mem::replace(&mut dropped[a], true) {
            return Err(invalid(op, format!("axis {a} dropped twice")));
        }
    }
    let kept: Vec<usize> = (0..nd).filter(|&a| !dropped[a]).collect();
    let mut new = vec![false; kept.len() + options.new_axis.len()];
    for &a in &options.new_axis {
        let a = normalize_axis(a, new.len())?;
        if std::mem::replace(&mut new[a], true) {
            return Err(invalid(op, format!("new axis {a} given twice")));
        }
    }
    let mut kept = kept.into_iter();
    Ok(new
        .iter()
        .map(|&n| if n { None } else { kept.next() })
        .collect())
}

/// The output grid: the common `axes` that `sources` keeps (dropped ones must be one chunk)
/// and new axes of length 1, or the chunks `options` gives (as many per axis).
fn output_grid(
    op: &str,
    axes: &[AxisChunks],
    sources: &[Option<usize>],
    options: &MapBlocks,
) -> Result<ChunkGrid> {
    for (a, chunks) in axes.iter().enumerate() {
        if !sources.contains(&Some(a)) && chunks.count() != 1 {
            return Err(invalid(
                op,
                format!(
                    "dropped axis {a} has {} chunks; it must be one chunk (rechunk it first, \
                     or use chunkwise::reduction)",
                    chunks.count()
                ),
            ));
        }
    }
    let default: Vec<AxisChunks> = sources
        .iter()
        .map(|s| s.map_or_else(|| AxisChunks::single(1), |a| axes[a].clone()))
        .collect();
    let Some(sizes) = &options.chunks else {
        return Ok(ChunkGrid::from_axes(default));
    };
    if sizes.len() != default.len() {
        return Err(invalid(
            op,
            format!(
                "chunks for {} axes, the output has {}",
                sizes.len(),
                default.len()
            ),
        ));
    }
    for (k, (given, axis)) in sizes.iter().zip(&default).enumerate() {
        if given.len() != axis.count() {
            return Err(invalid(
                op,
                format!(
                    "{} chunks given on output axis {k}, which has {} blocks",
                    given.len(),
                    axis.count()
                ),
            ));
        }
    }
    let shape: Vec<usize> = sizes.iter().map(|s| s.iter().sum()).collect();
    ChunkGrid::from_sizes(&shape, sizes.clone())
}

/// Broadcasts `inputs` against each other (NumPy's rules, leading axes added), and rechunks
/// those whose chunks differ on an axis they share to the common refinement of them. An
/// error if there is no input or one records an error.
pub(crate) fn unify<T: Element>(op: &str, inputs: &[&Array<T>]) -> Result<Unified> {
    if inputs.is_empty() {
        return Err(invalid(op, "no input array".into()));
    }
    for a in inputs {
        a.check()?;
    }
    let grids: Vec<ChunkGrid> = inputs.iter().map(|a| a.chunks().clone()).collect();
    let (axes, broadcast) = broadcast_grids(op, &grids)?;
    let nodes = inputs
        .iter()
        .zip(&broadcast)
        .map(|(a, bc)| rechunk(&a.node, broadcast_target(a.chunks(), bc, &axes)))
        .collect();
    Ok(Unified {
        nodes,
        broadcast,
        axes,
    })
}

/// Applies `f` to each block of `inputs` (Dask's `da.map_blocks`): output block `b` is
/// `f(&[input blocks at b], &info)`.
///
/// - Inputs broadcast against each other as in NumPy (leading axes added, length-1 axes
///   repeated): an input with fewer axes is aligned with the trailing ones and its blocks
///   are handed over with its own number of axes; on a length-1 axis its one block goes to
///   every output block. The function broadcasts within the blocks if it needs to.
/// - Inputs chunked differently along an axis they share are **rechunked** to the common
///   refinement of their chunks (every chunk boundary of any of them), as Dask's
///   `unify_chunks` does, so an output block is always one block of each input.
/// - All inputs have one element type `T` (use [`Array::astype`] to mix); the output's is
///   `U`.
/// - [`MapBlocks`] sets the output chunks, dropped and new axes, a name and scratch memory.
///
/// The function runs once per output block, perhaps on several threads at once. An `Err`
/// it returns becomes [`ExecError::UserFunction`] naming the block; a block of the wrong
/// shape becomes [`ExecError::TileShape`]; a panic becomes [`ExecError::TaskPanicked`].
///
/// ```
/// use chunkwise::{MapBlocks, map_blocks};
/// use ndarray::Axis;
/// let x = chunkwise::from_ndarray(&ndarray::Array2::<f64>::ones((4, 6)), [2, 6])?;
/// let row = chunkwise::arange::<f64>(0.0, 6.0, 1.0, [6])?;
/// // Per block: the sum over axis 1 of x * row (axis 1 is one chunk, so it can be dropped).
/// let dots = map_blocks(&[&x, &row], &MapBlocks::new().drop_axis([1]), |b, _| {
///     Ok((b[0] * b[1]).sum_axis(Axis(1)))
/// })?;
/// assert_eq!(dots.compute()?.into_raw_vec_and_offset().0, vec![15.0; 4]);
/// # Ok::<(), chunkwise::Error>(())
/// ```
pub fn map_blocks<T: Element, U: Element>(
    inputs: &[&Array<T>],
    options: &MapBlocks,
    f: impl Fn(&[&ArrayD<T>], &BlockInfo) -> BlockResult<U> + Send + Sync + 'static,
) -> Result<Array<U>> {
    let name = options.name.clone().unwrap_or_else(|| "map_blocks".into());
    let Unified {
        nodes,
        broadcast,
        axes,
    } = unify(&name, inputs)?;
    let source = output_sources(&name, axes.len(), options)?;
    let grid = output_grid(&name, &axes, &source, options)?;
    let nd = axes.len();
    let deps = move |block: &[usize]| {
        let mut common = vec![0; nd];
        for (k, s) in source.iter().enumerate() {
            if let Some(a) = s {
                common[*a] = block[k];
            }
        }
        broadcast_deps(&broadcast, &common)
    };
    let (scratch, info_grid) = (options.scratch, grid.clone());
    let node = blockwise(name.clone(), grid, U::DTYPE, nodes)
        .scratch(move |_| scratch)
        .arrays::<T, U>(deps, move |block, tiles| {
            user_tile(
                &name,
                block,
                f(tiles, &BlockInfo::new(&info_grid, block.index)),
            )
        });
    Ok(Array::from_node(node))
}

/// User functions on blocks.
impl<T: Element> Array<T> {
    /// Applies `f` to each block (Dask's `x.map_blocks(f)`): the output has the same chunks,
    /// its element type is the one `f` returns. An `Err` from `f` becomes
    /// [`ExecError::UserFunction`](crate::ExecError::UserFunction) naming the block; a block
    /// of another shape than its input is an error too.
    ///
    /// ```
    /// let x = chunkwise::arange::<f64>(0.0, 10.0, 1.0, [3])?;
    /// let even = x.map_blocks(|b| Ok(b.mapv(|v| v as i64 % 2 == 0)))?;
    /// assert_eq!(even.compute()?.iter().filter(|&&e| e).count(), 5);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn map_blocks<U: Element>(
        &self,
        f: impl Fn(&ArrayD<T>) -> BlockResult<U> + Send + Sync + 'static,
    ) -> Result<Array<U>> {
        map_blocks(&[self], &MapBlocks::new(), move |blocks, _| f(blocks[0]))
    }

    /// Applies `f` to each block with the block's position ([`BlockInfo`]), laid out as
    /// `options` says (output chunks, dropped and new axes): see
    /// [`map_blocks`](crate::map_blocks()).
    ///
    /// ```
    /// use chunkwise::MapBlocks;
    /// use ndarray::Axis;
    /// let x = chunkwise::ones::<f32>(&[6, 4], [2, 4])?;
    /// // Row sums: axis 1 is one chunk, so each block can drop it.
    /// let sums = x.map_blocks_with(&MapBlocks::new().drop_axis([1]), |b, _| {
    ///     Ok(b.sum_axis(Axis(1)))
    /// })?;
    /// assert_eq!(sums.compute()?.into_raw_vec_and_offset().0, vec![4.0; 6]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn map_blocks_with<U: Element>(
        &self,
        options: &MapBlocks,
        f: impl Fn(&ArrayD<T>, &BlockInfo) -> BlockResult<U> + Send + Sync + 'static,
    ) -> Result<Array<U>> {
        map_blocks(&[self], options, move |blocks, info| f(blocks[0], info))
    }
}

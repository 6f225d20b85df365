//! Generalized ufuncs (NumPy's `apply_gufunc`): a user function of the core dimensions of
//! its inputs, applied at every index of the loop dimensions (the leading ones, broadcast
//! together).
//!
//! The inputs are rechunked inside the plan so that each tile holds its core dimensions
//! whole and all inputs share the loop chunks (split so a task stays near 64 MiB). One
//! blockwise task per tile then calls the function once per loop index and gathers every
//! output of it: a tuple tile when there are several outputs, from which one cheap node per
//! output takes its part.

mod outputs;
pub(crate) mod signature;

pub(crate) use outputs::CoreOutputs;

use std::sync::Arc;

use chunkwise_kernels::dtype::Element;
use ndarray::{ArrayD, ArrayViewD, Axis, Dimension, IxDyn};

use super::blockwise::blockwise;
use super::rechunk::{regridded, whole_along};
use crate::chunks::{AxisChunks, ChunkGrid, broadcast_target};
use crate::error::{Error, ExecError, Result};
use crate::graph::Node;
use crate::tile::{TileMemory, Value, part, tuple};

/// The largest tile a gufunc task aims for (inputs and outputs of one loop chunk): 64 MiB,
/// or the inputs' largest tile if larger.
const TARGET_TILE_BYTES: usize = 64 << 20;

/// The error a user function returns (any error type, boxed).
type UserError = Box<dyn std::error::Error + Send + Sync>;

/// The user function: the core views of the inputs at one loop index to the core outputs
/// (`O`), or its error.
pub(crate) type CoreFn<T, O> =
    dyn Fn(&[ArrayViewD<'_, T>]) -> std::result::Result<O, UserError> + Send + Sync;

/// How the inputs of a gufunc line up, as the array layer checked them.
pub(crate) struct GufuncLayout {
    /// The common chunks of the (broadcast) loop dimensions.
    pub(crate) loop_axes: Vec<AxisChunks>,
    /// Per input, per own loop axis: whether it broadcasts (length 1 against a longer axis).
    pub(crate) broadcast: Vec<Vec<bool>>,
    /// Per input, the lengths of its core dimensions (its trailing axes).
    pub(crate) input_cores: Vec<Vec<usize>>,
    /// Per output, the lengths of its core dimensions.
    pub(crate) output_cores: Vec<Vec<usize>>,
}

/// The output nodes of `f` applied to `inputs` (elements of `T`, laid out as `layout`
/// says) at every loop index: output `j` has the loop axes, then its core axes, and the
/// element type `O` gives it.
pub(crate) fn gufunc<T: Element, O: CoreOutputs>(
    name: &str,
    inputs: &[Arc<Node>],
    layout: GufuncLayout,
    f: Arc<CoreFn<T, O>>,
) -> Vec<Arc<Node>> {
    let GufuncLayout {
        loop_axes,
        broadcast,
        input_cores,
        output_cores,
    } = layout;
    let nloop = loop_axes.len();
    let dtypes = O::dtypes(output_cores.len());
    // Bytes of one loop index's core outputs.
    let out_per_loop = output_cores
        .iter()
        .zip(&dtypes)
        .map(|(core, dtype)| core_bytes(std::slice::from_ref(core), dtype.size()))
        .fold(0, usize::saturating_add);
    let per_loop_index = core_bytes(&input_cores, T::DTYPE.size()).saturating_add(out_per_loop);
    let loop_axes = split_loop(inputs, &loop_axes, per_loop_index);
    let nodes: Vec<Arc<Node>> = inputs
        .iter()
        .zip(&broadcast)
        .zip(&input_cores)
        .map(|((node, bc), core)| {
            let own = broadcast_target(&node.grid, bc, &loop_axes);
            regridded(node, with_core(&own, core))
        })
        .collect();
    let loop_grid = ChunkGrid::from_axes(loop_axes);
    let output_grids: Vec<ChunkGrid> = output_cores
        .iter()
        .map(|core| with_core(&loop_grid, core))
        .collect();
    let task = blockwise(name, output_grids[0].clone(), dtypes[0], nodes)
        .memory(move |block| {
            let loop_len: usize = block.shape[..nloop].iter().product();
            TileMemory {
                output: loop_len.saturating_mul(out_per_loop) as u64,
                scratch: 0,
            }
        })
        .run(
            {
                let (broadcast, input_cores) = (broadcast.clone(), input_cores.clone());
                move |block| input_blocks(&block[..nloop], &broadcast, &input_cores)
            },
            {
                let name = name.to_string();
                move |block, tiles| {
                    let tiles = tiles
                        .iter()
                        .map(|t| t.array::<T>())
                        .collect::<Result<Vec<_>>>()?;
                    let loop_shape = &block.shape[..nloop];
                    let run = TileRun {
                        name: &name,
                        block: block.index,
                        broadcast: &broadcast,
                        output_cores: &output_cores,
                    };
                    let mut outputs = run.outputs(&tiles, loop_shape, &*f)?;
                    Ok(match outputs.len() {
                        1 => outputs.remove(0),
                        _ => tuple(outputs),
                    })
                }
            },
        );
    if output_grids.len() == 1 {
        return vec![task];
    }
    let core0 = output_grids[0].ndim() - nloop;
    output_grids
        .into_iter()
        .enumerate()
        .zip(dtypes)
        .map(|((j, grid), dtype)| {
            blockwise(
                format!("{name} output {j}"),
                grid,
                dtype,
                vec![task.clone()],
            )
            .memory(|_| TileMemory::default())
            .run(
                move |block| {
                    let mut index = block[..nloop].to_vec();
                    index.resize(nloop + core0, 0);
                    vec![(0, index)]
                },
                move |_, tiles| part(tiles[0], j),
            )
        })
        .collect()
}

/// Bytes of the core parts of arguments of core shapes `cores`, at one loop index.
fn core_bytes(cores: &[Vec<usize>], itemsize: usize) -> usize {
    cores
        .iter()
        .map(|c| c.iter().product::<usize>().saturating_mul(itemsize))
        .fold(0, usize::saturating_add)
}

/// The common loop chunks, split (the leading axes first) so that the tiles of one loop
/// chunk, of `per_loop_index` bytes per loop index (inputs and outputs), hold about
/// [`TARGET_TILE_BYTES`] (or the inputs' largest tile, if larger).
fn split_loop(
    inputs: &[Arc<Node>],
    loop_axes: &[AxisChunks],
    per_loop_index: usize,
) -> Vec<AxisChunks> {
    let largest = inputs
        .iter()
        .map(|n| n.grid.max_tile_len() * n.dtype.size())
        .max()
        .unwrap_or(0);
    // The loop axes, and one axis standing for the bytes of one loop index, kept whole.
    let mut axes = loop_axes.to_vec();
    axes.push(AxisChunks::single(per_loop_index));
    let mut whole = vec![false; loop_axes.len()];
    whole.push(true);
    let grid = whole_along(
        &ChunkGrid::from_axes(axes),
        &whole,
        1,
        largest.max(TARGET_TILE_BYTES),
    );
    (0..loop_axes.len()).map(|a| grid.axis(a).clone()).collect()
}

/// `grid` with the axes of `core`, each one chunk, added after its own.
fn with_core(grid: &ChunkGrid, core: &[usize]) -> ChunkGrid {
    let axes = (0..grid.ndim())
        .map(|a| grid.axis(a).clone())
        .chain(core.iter().map(|&len| AxisChunks::single(len)))
        .collect();
    ChunkGrid::from_axes(axes)
}

/// The tiles the task of loop block `block` reads: per input, its own loop blocks (block 0
/// where it broadcasts) and block 0 of its core axes.
fn input_blocks(
    block: &[usize],
    broadcast: &[Vec<bool>],
    input_cores: &[Vec<usize>],
) -> Vec<(usize, Vec<usize>)> {
    crate::chunks::broadcast_deps(broadcast, block)
        .into_iter()
        .zip(input_cores)
        .map(|((k, mut index), core)| {
            index.resize(index.len() + core.len(), 0);
            (k, index)
        })
        .collect()
}

/// What one task needs to call the function over its tile.
struct TileRun<'a> {
    name: &'a str,
    block: &'a [usize],
    broadcast: &'a [Vec<bool>],
    output_cores: &'a [Vec<usize>],
}

impl TileRun<'_> {
    /// The output tiles: `f` called at each index of `loop_shape` (in C order) on the core
    /// views of `tiles`, its results checked against the signature's core shapes.
    fn outputs<T: Element, O: CoreOutputs>(
        &self,
        tiles: &[&ArrayD<T>],
        loop_shape: &[usize],
        f: &CoreFn<T, O>,
    ) -> Result<Vec<Value>> {
        let loop_len: usize = loop_shape.iter().product();
        let capacity: Vec<usize> = self
            .output_cores
            .iter()
            .map(|c| loop_len * c.iter().product::<usize>())
            .collect();
        let mut gathered = O::gathered(&capacity);
        for index in ndarray::indices(IxDyn(loop_shape)) {
            let index = index.slice();
            let cores: Vec<ArrayViewD<'_, T>> = tiles
                .iter()
                .zip(self.broadcast)
                .map(|(tile, bc)| core_view(tile, &index[index.len() - bc.len()..], bc))
                .collect();
            let result = f(&cores).map_err(|e| self.failed(index, e.to_string()))?;
            let shapes = result.shapes();
            if shapes.len() != self.output_cores.len() {
                let why = format!(
                    "returned {} outputs, the signature has {}",
                    shapes.len(),
                    self.output_cores.len()
                );
                return Err(self.failed(index, why));
            }
            for (j, (shape, core)) in shapes.iter().zip(self.output_cores).enumerate() {
                if shape != core {
                    return Err(Error::Exec(ExecError::TileShape {
                        task: format!(
                            "{} output {j} (block {:?}, loop index {index:?} in the block)",
                            self.name, self.block
                        ),
                        expected: core.clone(),
                        found: shape.to_vec(),
                    }));
                }
            }
            result.append(&mut gathered);
        }
        let shapes: Vec<Vec<usize>> = self
            .output_cores
            .iter()
            .map(|core| loop_shape.iter().chain(core).copied().collect())
            .collect();
        Ok(O::tiles(gathered, &shapes))
    }

    /// The error of the function at loop index `index` of the task's tile.
    fn failed(&self, index: &[usize], message: String) -> Error {
        Error::Exec(ExecError::UserFunction {
            task: self.name.to_string(),
            block: self.block.to_vec(),
            message: format!("at loop index {index:?} of the block: {message}"),
        })
    }
}

/// The core part of `tile` at its own loop index `index` (0 where it broadcasts).
fn core_view<'a, T>(tile: &'a ArrayD<T>, index: &[usize], broadcast: &[bool]) -> ArrayViewD<'a, T> {
    let mut view = tile.view();
    for (&i, &bc) in index.iter().zip(broadcast) {
        view = view.index_axis_move(Axis(0), if bc { 0 } else { i });
    }
    view
}

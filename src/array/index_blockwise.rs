//! `blockwise` in index notation, as Dask's `da.blockwise`: `"ik"` from `(a, "ij")` and
//! `(b, "jk")` computes output block `(i, k)` from the blocks of `a` and `b` along the
//! contracted index `j`. One function on the [`blockwise`](crate::ops::blockwise::blockwise)
//! builder, like every structural operation.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use chunkwise_kernels::dtype::Element;
use ndarray::{ArrayD, IxDyn};

use super::Array;
use super::map_blocks::{BlockInfo, BlockResult, invalid, user_tile};
use crate::chunks::sub_view;
use crate::chunks::{AxisChunks, ChunkGrid, box_indices};
use crate::error::Result;
use crate::ops::blockwise::blockwise as build;

/// New chunk lengths of an output index.
#[derive(Clone)]
enum Adjust {
    Sizes(Vec<usize>),
    Map(Arc<dyn Fn(usize) -> usize + Send + Sync>),
}

/// Options of [`blockwise`](crate::blockwise()): Dask's `new_axes`, `adjust_chunks` and
/// `concatenate`, a name for plans and errors.
///
/// ```
/// use chunkwise::BlockwiseOptions;
/// let how = BlockwiseOptions::new()
///     .new_axis('n', 3)
///     .adjust_chunks('i', |len| len / 2)
///     .chunk_sizes('k', [1, 1])
///     .concatenate(true)
///     .name("halve");
/// # let _ = how;
/// ```
#[derive(Clone, Default)]
pub struct BlockwiseOptions {
    new_axes: BTreeMap<char, usize>,
    adjust: BTreeMap<char, Adjust>,
    concatenate: bool,
    name: Option<String>,
}

impl fmt::Debug for BlockwiseOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockwiseOptions")
            .field("new_axes", &self.new_axes)
            .field("adjust_chunks", &self.adjust.keys().collect::<Vec<_>>())
            .field("concatenate", &self.concatenate)
            .field("name", &self.name)
            .finish()
    }
}

impl BlockwiseOptions {
    /// No new axes, chunks as the inputs', blocks handed over as lists.
    pub fn new() -> BlockwiseOptions {
        BlockwiseOptions::default()
    }

    /// An output index that no input has, of length `len` (one chunk).
    ///
    /// ```
    /// use chunkwise::{BlockwiseOptions, blockwise};
    /// let x = chunkwise::arange::<f64>(1.0, 4.0, 1.0, [2])?;
    /// // Powers 0, 1, 2 of each element along a new index p.
    /// let how = BlockwiseOptions::new().new_axis('p', 3);
    /// let powers = blockwise("ip", &[(&x, "i")], &how, |v, info| {
    ///     let (b, shape) = (v[0][0], info.block_shape());
    ///     Ok(ndarray::ArrayD::from_shape_fn(shape, |q| b[q[0]].powi(q[1] as i32)))
    /// })?;
    /// assert_eq!(powers.compute()?[[2, 2]], 9.0);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn new_axis(mut self, index: char, len: usize) -> BlockwiseOptions {
        self.new_axes.insert(index, len);
        self
    }

    /// The output chunks along `index` are `f(input chunk length)`: for a function that
    /// changes the length of its blocks along an index.
    ///
    /// ```
    /// use chunkwise::{BlockwiseOptions, blockwise};
    /// let x = chunkwise::arange::<i64>(0, 10, 1, [4])?;
    /// // Every other element of each block (blocks of 4, 4, 2 become 2, 2, 1).
    /// let how = BlockwiseOptions::new().adjust_chunks('i', |n| n.div_ceil(2));
    /// let halves = blockwise("i", &[(&x, "i")], &how, |v, _| {
    ///     Ok(v[0][0].slice(ndarray::s![..;2]).to_owned().into_dyn())
    /// })?;
    /// assert_eq!(halves.compute()?.into_raw_vec_and_offset().0, vec![0, 2, 4, 6, 8]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn adjust_chunks(
        mut self,
        index: char,
        f: impl Fn(usize) -> usize + Send + Sync + 'static,
    ) -> BlockwiseOptions {
        self.adjust.insert(index, Adjust::Map(Arc::new(f)));
        self
    }

    /// The output chunks along `index` are `sizes` (one per block of the index).
    pub fn chunk_sizes(mut self, index: char, sizes: impl AsRef<[usize]>) -> BlockwiseOptions {
        self.adjust
            .insert(index, Adjust::Sizes(sizes.as_ref().to_vec()));
        self
    }

    /// Hand the function each input's blocks along its contracted indices concatenated into
    /// one array (Dask's `concatenate=True`) instead of as a list. The concatenation holds
    /// the whole contracted extent in memory (planned as the task's scratch): lists keep a
    /// task's memory to its tiles.
    pub fn concatenate(mut self, on: bool) -> BlockwiseOptions {
        self.concatenate = on;
        self
    }

    /// The name shown in plans and in errors (default `blockwise`).
    pub fn name(mut self, name: impl Into<String>) -> BlockwiseOptions {
        self.name = Some(name.into());
        self
    }
}

/// One input as the output's blocks read it.
struct IndexedInput {
    /// Per own axis: the output axis it follows (`None`: contracted), and whether it
    /// broadcasts (length 1 against a longer index: always block 0).
    axes: Vec<(Option<usize>, bool)>,
    /// The input's grid.
    grid: ChunkGrid,
}

impl IndexedInput {
    /// The blocks read for output block `block`: C order over the contracted axes.
    fn blocks(&self, block: &[usize]) -> Vec<Vec<usize>> {
        let ranges: Vec<_> = self
            .axes
            .iter()
            .enumerate()
            .map(|(k, &(out, bc))| match (out, bc) {
                (_, true) => 0..1,
                (Some(o), false) => block[o]..block[o] + 1,
                (None, false) => 0..self.grid.axis(k).count(),
            })
            .collect();
        box_indices(&ranges).collect()
    }

    /// The concatenation of `tiles` (the blocks for output block `block`) along the
    /// contracted axes.
    fn concatenate<T: Element>(&self, block: &[usize], tiles: &[&ArrayD<T>]) -> ArrayD<T> {
        let blocks = self.blocks(block);
        let origin = self.grid.block_origin(&blocks[0]);
        let shape: Vec<usize> = (0..self.axes.len())
            .map(|k| match self.axes[k] {
                (None, false) => self.grid.axis(k).len(),
                _ => self.grid.chunk_len(k, blocks[0][k]),
            })
            .collect();
        let mut out = ArrayD::<T>::default(IxDyn(&shape));
        for (b, tile) in blocks.iter().zip(tiles) {
            let ranges: Vec<_> = self
                .grid
                .block_ranges(b)
                .into_iter()
                .zip(&origin)
                .map(|(r, &o)| r.start - o..r.end - o)
                .collect();
            sub_view(out.view_mut(), &ranges).assign(*tile);
        }
        out
    }

    /// Elements of the largest concatenation (every contracted axis whole).
    fn concatenated_len(&self) -> u64 {
        let axes = self.axes.iter().enumerate();
        axes.map(|(k, &(out, bc))| match (out, bc) {
            (None, false) => self.grid.axis(k).len() as u64,
            _ => self.grid.axis(k).max_size() as u64,
        })
        .product()
    }
}

/// The chunks of each index, from the inputs that have it: inputs of length 1 on an index
/// broadcast; the others must agree on its chunks.
fn index_chunks<T: Element>(
    op: &str,
    inputs: &[(&Array<T>, &str)],
) -> Result<BTreeMap<char, AxisChunks>> {
    let mut found: BTreeMap<char, (usize, AxisChunks)> = BTreeMap::new();
    for (n, (a, index)) in inputs.iter().enumerate() {
        for (k, c) in index.chars().enumerate() {
            let chunks = a.chunks().axis(k);
            match found.get(&c) {
                Some((_, seen)) if seen == chunks || chunks.len() == 1 => {}
                Some((m, seen)) if seen.len() != 1 => {
                    return Err(invalid(
                        op,
                        format!(
                            "index '{c}' is chunked as {:?} in input {m} and as {:?} in input \
                             {n}; rechunk one of them",
                            seen.sizes(),
                            chunks.sizes()
                        ),
                    ));
                }
                _ => {
                    found.insert(c, (n, chunks.clone()));
                }
            }
        }
    }
    Ok(found.into_iter().map(|(c, (_, ch))| (c, ch)).collect())
}

/// Checks that `index` has `ndim` distinct letters.
fn check_index(op: &str, what: &str, index: &str, ndim: usize) -> Result<()> {
    let mut seen = Vec::new();
    for c in index.chars() {
        if !c.is_ascii_alphabetic() {
            return Err(invalid(
                op,
                format!("{what} index \"{index}\": '{c}' is not a letter"),
            ));
        }
        if seen.contains(&c) {
            return Err(invalid(
                op,
                format!("{what} index \"{index}\" repeats '{c}'"),
            ));
        }
        seen.push(c);
    }
    if seen.len() != ndim {
        return Err(invalid(
            op,
            format!(
                "{what} index \"{index}\" has {} letters for {ndim} axes",
                seen.len()
            ),
        ));
    }
    Ok(())
}

/// The output chunks along `index`: `chunks`, adjusted as `options` says.
fn adjusted(
    op: &str,
    c: char,
    chunks: &AxisChunks,
    options: &BlockwiseOptions,
) -> Result<Vec<usize>> {
    match options.adjust.get(&c) {
        None => Ok(chunks.sizes()),
        Some(Adjust::Map(f)) => Ok(chunks.sizes().into_iter().map(|n| f(n)).collect()),
        Some(Adjust::Sizes(sizes)) if sizes.len() == chunks.count() => Ok(sizes.clone()),
        Some(Adjust::Sizes(sizes)) => Err(invalid(
            op,
            format!(
                "{} chunk sizes given for index '{c}', which has {} blocks",
                sizes.len(),
                chunks.count()
            ),
        )),
    }
}

/// The output grid: per output index, its chunks (or a new axis's one chunk), adjusted.
fn output_grid(
    op: &str,
    out: &[char],
    chunks: &BTreeMap<char, AxisChunks>,
    options: &BlockwiseOptions,
) -> Result<ChunkGrid> {
    let mut sizes = Vec::with_capacity(out.len());
    for c in out {
        let axis = match (chunks.get(c), options.new_axes.get(c)) {
            (Some(axis), _) => axis.clone(),
            (None, Some(&len)) => AxisChunks::single(len),
            (None, None) => return Err(invalid(op, format!("output index '{c}' is in no input"))),
        };
        sizes.push(adjusted(op, *c, &axis, options)?);
    }
    let shape: Vec<usize> = sizes.iter().map(|s| s.iter().sum()).collect();
    ChunkGrid::from_sizes(&shape, sizes)
}

/// Dask's `da.blockwise` in index notation: output block `(i, k, ..)` (the letters of
/// `out_index`) is `f(blocks, &info)`, where `blocks[n]` holds the blocks of input `n` that
/// share the output block's indices, taken along the input's **contracted** indices (those
/// not in `out_index`) in C order: one block when it has none. With
/// [`BlockwiseOptions::concatenate`], `blocks[n]` is one array, those blocks concatenated
/// along the contracted axes.
///
/// - Each index string has one distinct ASCII letter per axis of its input; `out_index`
///   has distinct letters, each found in an input or given by
///   [`BlockwiseOptions::new_axis`].
/// - Inputs sharing an index must be chunked alike along it (rechunk one otherwise): a
///   mismatch is a `BuildError`, not a silent rechunk. An input of length 1 on an index
///   broadcasts (its one block goes with every block of the index).
/// - Output chunks follow the indices, changed by [`BlockwiseOptions::adjust_chunks`] or
///   [`BlockwiseOptions::chunk_sizes`]; the function must return blocks of those shapes.
/// - Errors from `f` and blocks of the wrong shape are errors, as in
///   [`map_blocks`](crate::map_blocks()).
///
/// A matrix product, one block per `(i, k)` summed over `j`:
/// ```
/// use chunkwise::{BlockwiseOptions, blockwise};
/// let a = chunkwise::from_ndarray(&ndarray::Array2::<f64>::eye(4), [2, 2])?;
/// let dense_b = ndarray::Array::from_shape_fn((4, 2), |(i, j)| (2 * i + j) as f64).into_dyn();
/// let b = chunkwise::from_ndarray(&dense_b, [2, 1])?;
/// let none = BlockwiseOptions::new();
/// let c = blockwise("ik", &[(&a, "ij"), (&b, "jk")], &none, |blocks, info| {
///     let mut sum = ndarray::Array2::<f64>::zeros((info.block_shape()[0], info.block_shape()[1]));
///     for (x, y) in blocks[0].iter().zip(blocks[1]) {
///         let x = x.view().into_dimensionality::<ndarray::Ix2>()?;
///         sum += &x.dot(&y.view().into_dimensionality::<ndarray::Ix2>()?);
///     }
///     Ok(sum.into_dyn())
/// })?;
/// assert_eq!(c.compute()?, dense_b);
/// # Ok::<(), chunkwise::Error>(())
/// ```
pub fn blockwise<T: Element, U: Element>(
    out_index: &str,
    inputs: &[(&Array<T>, &str)],
    options: &BlockwiseOptions,
    f: impl Fn(&[&[&ArrayD<T>]], &BlockInfo) -> BlockResult<U> + Send + Sync + 'static,
) -> Result<Array<U>> {
    let name = options.name.clone().unwrap_or_else(|| "blockwise".into());
    let op = name.as_str();
    let out: Vec<char> = out_index.chars().collect();
    check_index(op, "output", out_index, out.len())?;
    for (n, (a, index)) in inputs.iter().enumerate() {
        a.check()?;
        check_index(op, &format!("input {n}"), index, a.ndim())?;
    }
    let chunks = index_chunks(op, inputs)?;
    if inputs.is_empty() {
        return Err(invalid(op, "no input array".into()));
    }
    for c in options.new_axes.keys() {
        if !out.contains(c) || chunks.contains_key(c) {
            let why = "must be an output index that no input has";
            return Err(invalid(op, format!("new axis '{c}' {why}")));
        }
    }
    if let Some(c) = options.adjust.keys().find(|c| !out.contains(c)) {
        return Err(invalid(
            op,
            format!("adjust_chunks of '{c}', not an output index"),
        ));
    }
    let grid = output_grid(op, &out, &chunks, options)?;
    let indexed: Arc<Vec<IndexedInput>> = Arc::new(
        inputs
            .iter()
            .map(|(a, index)| IndexedInput {
                axes: index
                    .chars()
                    .enumerate()
                    .map(|(k, c)| {
                        (
                            out.iter().position(|&o| o == c),
                            a.shape()[k] != chunks[&c].len(),
                        )
                    })
                    .collect(),
                grid: a.chunks().clone(),
            })
            .collect(),
    );
    let concatenate = options.concatenate;
    let scratch = match concatenate {
        true => {
            indexed
                .iter()
                .map(IndexedInput::concatenated_len)
                .sum::<u64>()
                * T::DTYPE.size() as u64
        }
        false => 0,
    };
    let (deps_ops, info_grid) = (indexed.clone(), grid.clone());
    let nodes = inputs.iter().map(|(a, _)| a.node.clone()).collect();
    let node = build(name.clone(), grid, U::DTYPE, nodes)
        .scratch(move |_| scratch)
        .arrays::<T, U>(
            move |block| {
                let per_input = deps_ops.iter().enumerate();
                per_input
                    .flat_map(|(n, o)| o.blocks(block).into_iter().map(move |b| (n, b)))
                    .collect()
            },
            move |block, tiles| {
                let mut lists: Vec<&[&ArrayD<T>]> = Vec::with_capacity(indexed.len());
                let mut rest = tiles;
                let mut joined = Vec::new();
                for o in indexed.iter() {
                    let (mine, tail) = rest.split_at(o.blocks(block.index).len());
                    rest = tail;
                    lists.push(mine);
                    if concatenate {
                        joined.push(o.concatenate(block.index, mine));
                    }
                }
                let joined: Vec<&ArrayD<T>> = joined.iter().collect();
                let joined: Vec<&[&ArrayD<T>]> = joined.chunks(1).collect();
                let blocks = if concatenate { &joined } else { &lists };
                let result = f(blocks, &BlockInfo::new(&info_grid, block.index));
                user_tile(&name, block, result)
            },
        );
    Ok(Array::from_node(node))
}

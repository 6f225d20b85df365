//! The one way to build a node whose tiles move between blocks: output tile `block` is
//! computed by a closure from the input tiles that `deps(block)` names, as a tile algorithm
//! writes it (`L[i][k] = trsm(A[i][k], L[k][k])`), a slice picks a tile, or a write stores
//! one. Every structural operation (slicing, axis maps, rechunking, the Zarr sink, the
//! stages of linear algebra, `map_blocks`) is a function on this builder, with no change
//! to graph, optimiser or executor.
//!
//! Only the tiles some consumer asks for become tasks (the planner lowers on demand), so a
//! node may be declared on a whole grid and used on part of it.

use std::fmt;
use std::sync::Arc;

use chunkwise_kernels::dtype::{DType, Element};
use ndarray::ArrayD;

use crate::chunks::{AxisChunks, ChunkGrid};
use crate::error::Result;
use crate::graph::{Blockwise, Node, NodeKind};
use crate::tile::{BlockMap, TileMemory, TileSink, Value, Written, tile_value};

/// Which input tiles a tile reads: `(input number, block index)`, in the order `run` gets them.
type DepsFn = dyn Fn(&[usize]) -> Vec<(usize, Vec<usize>)> + Send + Sync;
/// Computes the tile of a block from its input tiles.
type RunFn = dyn Fn(&Block<'_>, &[&Value]) -> Result<Value> + Send + Sync;
/// The memory of a block's task.
type MemoryFn = dyn Fn(&Block<'_>) -> TileMemory + Send + Sync;

/// The output block a closure computes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Block<'a> {
    /// The block's index in the node's grid.
    pub(crate) index: &'a [usize],
    /// The tile's shape.
    pub(crate) shape: &'a [usize],
}

impl Block<'_> {
    /// Elements of the tile.
    pub(crate) fn len(&self) -> usize {
        self.shape.iter().product()
    }
}

/// What a closure map is, beyond its closures, for the code that looks into a graph.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Role {
    /// Nothing more to know.
    #[default]
    Opaque,
    /// Partial results, one per block of axis 0 (the other axes have one block), each from
    /// a group of input tiles, that a consumer sums: one task may compute them together
    /// with those of other such nodes that read the same tiles (the `merge-partials` pass),
    /// so that the tiles are read once.
    Partials,
    /// The last link of a chain of links (see [`Chain`]).
    Chain(Chain),
}

/// A chain of nodes, each link adding the products of some input tiles into the previous
/// link's tile (a contraction's output tiles, see `linalg::contract`), as the last link
/// knows it: a pass may rebuild the chain with links that read fewer tiles, where the
/// memory budget is too small for a link of the length chosen when the graph was built.
#[derive(Clone)]
pub(crate) struct Chain {
    /// Bytes of the largest input tiles one step of the chain reads.
    pub(crate) step_bytes: u64,
    /// Steps per link.
    pub(crate) steps_per_link: usize,
    /// The chain again, reading the inputs of the last link but its previous link's tile
    /// (those it was built on, or their rewrites), in links of the given steps.
    pub(crate) rebuild: Arc<RebuildFn>,
}

/// Builds a [`Chain`] again from its inputs, in links of the given steps.
type RebuildFn = dyn Fn(&[Arc<Node>], usize) -> Arc<Node> + Send + Sync;

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chain")
            .field("step_bytes", &self.step_bytes)
            .field("steps_per_link", &self.steps_per_link)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Chain {
    fn eq(&self, other: &Chain) -> bool {
        Arc::ptr_eq(&self.rebuild, &other.rebuild)
            && (self.step_bytes, self.steps_per_link) == (other.step_bytes, other.steps_per_link)
    }
}

impl Eq for Chain {}

/// The role of `node`'s map ([`Role::Opaque`] for other nodes).
pub(crate) fn role_of(node: &Node) -> &Role {
    const OPAQUE: &Role = &Role::Opaque;
    match &node.kind {
        NodeKind::Blockwise(b) => b
            .map
            .as_any()
            .and_then(|any| any.downcast_ref::<ClosureMap>())
            .map_or(OPAQUE, |map| &map.role),
        _ => OPAQUE,
    }
}

/// A block map given by closures.
struct ClosureMap {
    name: String,
    role: Role,
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))] // used by the `mpi` executor
    beside_first_input: bool,
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))] // used by the `mpi` executor
    single_process: Option<String>,
    deps: Box<DepsFn>,
    run: Box<RunFn>,
    memory: Box<MemoryFn>,
}

impl fmt::Debug for ClosureMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockMap")
            .field("name", &self.name)
            .finish()
    }
}

impl BlockMap for ClosureMap {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn deps(&self, block: &[usize]) -> Vec<(usize, Vec<usize>)> {
        (self.deps)(block)
    }
    fn run(&self, block: &[usize], shape: &[usize], inputs: &[&Value]) -> Result<Value> {
        (self.run)(
            &Block {
                index: block,
                shape,
            },
            inputs,
        )
    }
    fn memory(&self, block: &[usize], shape: &[usize]) -> TileMemory {
        (self.memory)(&Block {
            index: block,
            shape,
        })
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn runs_beside_first_input(&self) -> bool {
        self.beside_first_input
    }
    fn single_process(&self) -> Option<&str> {
        self.single_process.as_deref()
    }
}

/// A blockwise node being built; finish it with [`BlockwiseBuilder::run`] or
/// [`BlockwiseBuilder::arrays`].
pub(crate) struct BlockwiseBuilder {
    name: String,
    grid: ChunkGrid,
    dtype: DType,
    inputs: Vec<Arc<Node>>,
    memory: Box<MemoryFn>,
    role: Role,
    beside_first_input: bool,
    single_process: Option<String>,
}

/// A node named `name` with tiles of `dtype` on `grid`, reading `inputs`. By default a
/// block's task holds its output tile (of `dtype`) and no scratch.
pub(crate) fn blockwise(
    name: impl Into<String>,
    grid: ChunkGrid,
    dtype: DType,
    inputs: Vec<Arc<Node>>,
) -> BlockwiseBuilder {
    let size = dtype.size() as u64;
    BlockwiseBuilder {
        name: name.into(),
        grid,
        dtype,
        inputs,
        memory: Box::new(move |block| TileMemory {
            output: block.len() as u64 * size,
            scratch: 0,
        }),
        role: Role::Opaque,
        beside_first_input: false,
        single_process: None,
    }
}

impl BlockwiseBuilder {
    /// Declares the scratch of each block's task (working memory beyond its inputs and
    /// output, planned against the budget).
    pub(crate) fn scratch(self, bytes: impl Fn(&Block<'_>) -> u64 + Send + Sync + 'static) -> Self {
        let size = self.dtype.size() as u64;
        self.memory(move |block| TileMemory {
            output: block.len() as u64 * size,
            scratch: bytes(block),
        })
    }

    /// Declares the whole memory of each block's task, for tiles that are not one array of
    /// the node's dtype (tuples of factors, tiles passed through without a copy).
    pub(crate) fn memory(
        mut self,
        memory: impl Fn(&Block<'_>) -> TileMemory + Send + Sync + 'static,
    ) -> Self {
        self.memory = Box::new(memory);
        self
    }

    /// Says what the node is (see [`Role`]).
    pub(crate) fn role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    /// Makes each block's task run where its first dependency's tile is, in a distributed
    /// run: for tiles that do not travel between processes (QR factors).
    pub(crate) fn beside_first_input(mut self) -> Self {
        self.beside_first_input = true;
        self
    }

    /// Says that the node's tiles can be computed only within one process, and `why`: a
    /// distributed run refuses a plan holding the node.
    pub(crate) fn single_process(mut self, why: impl Into<String>) -> Self {
        self.single_process = Some(why.into());
        self
    }

    /// The node: tile `block` reads `deps(block)` and is `run(block, tiles)`.
    pub(crate) fn run(
        self,
        deps: impl Fn(&[usize]) -> Vec<(usize, Vec<usize>)> + Send + Sync + 'static,
        run: impl Fn(&Block<'_>, &[&Value]) -> Result<Value> + Send + Sync + 'static,
    ) -> Arc<Node> {
        let map: Arc<dyn BlockMap> = Arc::new(ClosureMap {
            name: self.name,
            role: self.role,
            beside_first_input: self.beside_first_input,
            single_process: self.single_process,
            deps: Box::new(deps),
            run: Box::new(run),
            memory: self.memory,
        });
        Node::new(
            NodeKind::Blockwise(Blockwise {
                inputs: self.inputs,
                map,
            }),
            self.grid,
            self.dtype,
        )
    }

    /// [`BlockwiseBuilder::run`] on array tiles: every input tile is an array of `T`, the
    /// result an array of `U` (the node's dtype).
    pub(crate) fn arrays<T: Element, U: Element>(
        self,
        deps: impl Fn(&[usize]) -> Vec<(usize, Vec<usize>)> + Send + Sync + 'static,
        run: impl Fn(&Block<'_>, &[&ArrayD<T>]) -> Result<ArrayD<U>> + Send + Sync + 'static,
    ) -> Arc<Node> {
        debug_assert_eq!(self.dtype, U::DTYPE, "{}", self.name);
        self.run(deps, move |block, tiles| {
            let arrays = tiles
                .iter()
                .map(|t| t.array::<T>())
                .collect::<Result<Vec<_>>>()?;
            Ok(tile_value(run(block, &arrays)?))
        })
    }
}

/// The node that hands every tile of `input` to `sink` (except those it holds already): one
/// element per block, its tasks holding no memory once done.
pub(crate) fn sink(input: Arc<Node>, sink: Arc<dyn TileSink>) -> Arc<Node> {
    let marks = ChunkGrid::from_axes(
        input
            .grid
            .nblocks()
            .iter()
            .map(|&n| AxisChunks::regular(n, 1))
            .collect(),
    );
    let name = sink.name();
    let deps_sink = sink.clone();
    blockwise(name, marks, DType::U8, vec![input])
        .memory(|_| TileMemory::default())
        .run(
            move |block| match deps_sink.holds(block) {
                true => Vec::new(),
                false => vec![(0, block.to_vec())],
            },
            move |block, tiles| {
                if let Some(tile) = tiles.first() {
                    sink.write(block.index, tile)?;
                }
                Ok(Arc::new(Written {
                    shape: block.shape.to_vec(),
                }))
            },
        )
}

//! The logical graph: nodes of a few primitive kinds, each with shape, dtype and chunk grid.
//!
//! - [`NodeKind::Source`]: tiles from memory, a user generator, or a position generator
//!   (zeros, arange, random) that can be fused into elementwise kernels.
//! - [`NodeKind::Elemwise`]: a fused elementwise [`Program`] over inputs on the same grid.
//! - [`NodeKind::Blockwise`]: an output tile as a function of input tiles chosen by an index
//!   map (slicing, transposes, rechunks, `map_blocks`).
//! - [`NodeKind::Reduce`]: per-tile partial reductions (with a fused elementwise prelude),
//!   combined as a tree of fixed shape.
//! - [`NodeKind::Invalid`]: an error found while building, reported by `compute()`.

mod deep;
mod display;

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) use chunkwise_kernels::dtype::DType;
use chunkwise_kernels::dtype::Strip;
use chunkwise_kernels::strip::{InputTile, Program, StripOp};
use chunkwise_kernels::view::{TileView, ViewPiece, c_strides};

use crate::chunks::{ChunkGrid, Pieces, View};
use crate::error::Error;
use crate::tile::{BlockMap, ErasedReducer, TileSource, Value};

/// Identity of a node within this process: shared work is recognised by it. It depends on
/// how many nodes the process made before, so it is never shown nor sent: plans, errors and
/// executors name nodes by their [`node_numbers`], which depend only on the graph.
pub(crate) type NodeId = u64;

fn next_id() -> NodeId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A node of the logical graph.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) id: NodeId,
    pub(crate) kind: NodeKind,
    pub(crate) grid: ChunkGrid,
    pub(crate) dtype: DType,
    /// What the optimiser passes decided about this node and want plans to show (such as
    /// why an input was not fused into it); empty for nodes as the user built them.
    pub(crate) notes: Vec<Note>,
    /// The first building error in this node or anything it reads, found as it is made
    /// (so that checking a graph does not walk it: building a chain of `n` operations,
    /// each checked, takes a time that grows as `n`, not as its square).
    error: Option<Error>,
}

/// A decision of an optimiser pass about a node, recorded when the pass decides, for plans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Note {
    /// The node's input number `input` was not fused into it, for `reason`.
    NotFused {
        /// The input's position in [`Node::inputs`].
        input: usize,
        /// Why the fusion pass refused it.
        reason: &'static str,
    },
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::NotFused { input, reason } => write!(f, "in{input} not fused: {reason}"),
        }
    }
}

/// The primitive kinds of node.
#[derive(Debug)]
pub(crate) enum NodeKind {
    Source(Source),
    Elemwise(Elemwise),
    Blockwise(Blockwise),
    Reduce(Reduce),
    Invalid(Error),
}

/// Where a source's tiles come from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// A value per element from its global position (constants, ranges, random numbers):
    /// fusable into elementwise programs.
    Generator(Arc<dyn StripOp>),
    /// Whole tiles (in-memory arrays, user generator functions).
    Tiles(Arc<dyn TileSource>),
}

/// An input of an elementwise program or a reduction's prelude: a node read through a
/// [`View`] of the consumer's shape. The view is the identity for an input on the
/// consumer's grid; it slices, transposes or broadcasts the node otherwise, and then a
/// consumer's tile may read several of the node's tiles (the view's pieces).
#[derive(Debug, Clone)]
pub(crate) struct ElemInput {
    pub(crate) node: Arc<Node>,
    pub(crate) view: View,
}

impl ElemInput {
    /// An input read element for element.
    pub(crate) fn aligned(node: Arc<Node>) -> ElemInput {
        let view = View::identity(&node.shape());
        ElemInput { node, view }
    }

    /// Whether a consumer on `grid` reads this input tile for tile, element for element.
    pub(crate) fn is_aligned(&self, grid: &ChunkGrid) -> bool {
        self.view.is_identity(&self.node.shape()) && self.node.grid == *grid
    }

    /// The input's tiles that the consumer's tile `block` of `grid` reads, and where.
    pub(crate) fn pieces(&self, grid: &ChunkGrid, block: &[usize]) -> Pieces {
        self.view.pieces(&grid.block_ranges(block), &self.node.grid)
    }
}

/// The program inputs of a task: whole tiles, or views of the tiles it read (see
/// [`ElemInput::pieces`]), as the executor and passes that run programs hand them over.
pub(crate) struct Gathered<'a> {
    inputs: Vec<GatheredInput<'a>>,
}

enum GatheredInput<'a> {
    Full(Strip<'a>),
    View(TileView<'a>),
}

impl<'a> Gathered<'a> {
    /// The inputs `specs` of the consumer tile `block` of `grid`, from `values`: the tiles
    /// the plan read for it, input after input (one per aligned input, the view's pieces
    /// otherwise).
    pub(crate) fn new(
        specs: &[ElemInput],
        grid: &ChunkGrid,
        block: &[usize],
        values: impl IntoIterator<Item = &'a Value>,
    ) -> Self {
        let strip = |value: &'a Value| value.strip().expect("elementwise inputs are array tiles");
        let mut values = values.into_iter();
        let inputs = specs
            .iter()
            .map(|spec| {
                if spec.is_aligned(grid) {
                    let first = values.next().expect("one tile per aligned input");
                    return GatheredInput::Full(strip(first));
                }
                let pieces = spec.pieces(grid, block);
                let tiles: Vec<&Value> = values.by_ref().take(pieces.blocks.len()).collect();
                let shape = grid.block_shape(block);
                // Axes of length 1 do not move an element's C-order position: left out.
                let kept: Vec<usize> = (0..shape.len()).filter(|&a| shape[a] != 1).collect();
                let pieces_read = tiles
                    .iter()
                    .zip(&pieces.corners)
                    .map(|(tile, corner)| {
                        let source_strides = c_strides(tile.shape());
                        let strides = spec.view.strides(&source_strides);
                        ViewPiece {
                            data: strip(tile),
                            corner: corner.iter().zip(&source_strides).map(|(c, s)| c * s).sum(),
                            strides: kept.iter().map(|&a| strides[a]).collect(),
                        }
                    })
                    .collect();
                GatheredInput::View(TileView {
                    shape: kept.iter().map(|&a| shape[a]).collect(),
                    cuts: kept.iter().map(|&a| pieces.cuts[a].clone()).collect(),
                    pieces: pieces_read,
                })
            })
            .collect();
        Gathered { inputs }
    }

    /// The inputs as a program reads them.
    pub(crate) fn tiles(&self) -> Vec<InputTile<'_>> {
        self.inputs
            .iter()
            .map(|input| match input {
                GatheredInput::Full(strip) => InputTile::Full(*strip),
                GatheredInput::View(view) => InputTile::View(view),
            })
            .collect()
    }
}

/// A fused elementwise kernel.
#[derive(Debug, Clone)]
pub(crate) struct Elemwise {
    pub(crate) inputs: Vec<ElemInput>,
    pub(crate) program: Program,
}

/// A blockwise node.
#[derive(Debug, Clone)]
pub(crate) struct Blockwise {
    pub(crate) inputs: Vec<Arc<Node>>,
    pub(crate) map: Arc<dyn BlockMap>,
}

/// A reduction over `axes` of the result of `program` applied to `inputs` (the identity
/// program on one input unless an elementwise chain was fused in).
#[derive(Debug, Clone)]
pub(crate) struct Reduce {
    pub(crate) inputs: Vec<ElemInput>,
    pub(crate) program: Program,
    /// The grid of the reduced data (the grid the inputs are aligned to).
    pub(crate) in_grid: ChunkGrid,
    /// Per input axis: whether it is reduced.
    pub(crate) reduced: Vec<bool>,
    pub(crate) keepdims: bool,
    /// Total fan-in of one combine task.
    pub(crate) split_every: usize,
    pub(crate) reducer: Arc<dyn ErasedReducer>,
}

/// The most bytes of partial states one combine of a reduction reads (at least two
/// partials): an axis reduction of large tiles (the mean over time of thin time slices)
/// combines few partials at a time, so that few are held at once.
pub(crate) const COMBINE_INPUT_BYTES: usize = 128 << 20;

impl Reduce {
    /// The most partials one combine reads: `split_every`, and at most
    /// [`COMBINE_INPUT_BYTES`] of them (at least 2).
    pub(crate) fn combine_fan(&self) -> usize {
        let kept: usize = (0..self.reduced.len())
            .filter(|&a| !self.reduced[a])
            .map(|a| self.in_grid.axis(a).max_size())
            .product();
        let partial_bytes = (kept * self.reducer.state_bytes()).max(1);
        let by_bytes = (COMBINE_INPUT_BYTES / partial_bytes).max(2);
        self.split_every.min(by_bytes).max(2)
    }

    /// The reduced axes in the order partials are grouped along them: first those along
    /// which an input is broadcast (a mean over that axis, in an anomaly), so the plan
    /// walks the tiles that one input tile serves one after another and that input (and
    /// the tiles it was made from) can be dropped; then the others, the last first.
    pub(crate) fn grouping_order(&self) -> Vec<usize> {
        let n = self.reduced.len();
        let broadcast = |a: usize| self.inputs.iter().any(|i| i.view.broadcasts(a));
        let reduced = (0..n).rev().filter(|&a| self.reduced[a]);
        let first: Vec<usize> = reduced.clone().filter(|&a| broadcast(a)).collect();
        first
            .iter()
            .copied()
            .chain(reduced.filter(|a| !first.contains(a)))
            .collect()
    }

    /// Per axis, how many blocks of a tree level of `counts` blocks one combine reads (1 on
    /// kept axes): along the axes of [`Reduce::grouping_order`] (the last reduced axes
    /// first, unless an input is broadcast along another), as many as
    /// [`Reduce::combine_fan`] allows, so that a combine reads whole runs of neighbouring
    /// partials in C order and the plan, which follows the tree, walks the tiles row by
    /// row (a stencil then holds about one row of its source's tiles). Every level reduces
    /// at least one axis.
    pub(crate) fn fans(&self, counts: &[usize]) -> Vec<usize> {
        let mut left = self.combine_fan();
        let mut fans = vec![1; counts.len()];
        for a in self.grouping_order() {
            if counts[a] > 1 && left >= 2 {
                fans[a] = counts[a].min(left);
                left /= fans[a];
            }
        }
        fans
    }
}

/// The most bytes of input tiles one partial of thin tiles reads.
pub(crate) const PARTIAL_INPUT_BYTES: usize = 256 << 20;

impl Reduce {
    /// Per axis, how many input tiles one partial task folds into its one set of states: 1,
    /// except for thin tiles (every reduced axis chunked by 1, as time slices reduced over
    /// time), whose states are larger than their data: then neighbouring tiles along the
    /// reduced axes (the last first) are folded together, up to `split_every` tiles and
    /// [`PARTIAL_INPUT_BYTES`] of them. So a mean over 60 thin slices keeps a few sets of
    /// states, not 60, and combines a few. Not for reducers that need positions.
    pub(crate) fn partial_fans(&self) -> Vec<usize> {
        let n = self.reduced.len();
        let mut fans = vec![1; n];
        let per_state: usize = (0..n)
            .filter(|&a| self.reduced[a])
            .map(|a| self.in_grid.axis(a).max_size())
            .product();
        if self.reducer.needs_positions() || per_state > 1 {
            return fans;
        }
        let mut distinct: Vec<&Arc<Node>> = self.inputs.iter().map(|i| &i.node).collect();
        distinct.sort_by_key(|n| n.id);
        distinct.dedup_by_key(|n| n.id);
        let itemsizes: usize = distinct.iter().map(|n| n.dtype.size()).sum();
        let tile_bytes = (self.in_grid.max_tile_len() * itemsizes).max(1);
        let mut left = self.split_every.min(PARTIAL_INPUT_BYTES / tile_bytes);
        let counts = self.in_grid.nblocks();
        for a in self.grouping_order() {
            if counts[a] > 1 && left >= 2 {
                fans[a] = counts[a].min(left);
                left /= fans[a];
            }
        }
        fans
    }

    /// The blocks of the box `ranges`, in the order the tree reads them: the axes of
    /// [`Reduce::grouping_order`] fastest, the first of them innermost.
    pub(crate) fn walk(&self, ranges: &[std::ops::Range<usize>]) -> Vec<Vec<usize>> {
        let inner = self.grouping_order();
        let order: Vec<usize> = (0..ranges.len())
            .filter(|a| !inner.contains(a))
            .chain(inner.iter().rev().copied())
            .collect();
        let permuted: Vec<std::ops::Range<usize>> =
            order.iter().map(|&a| ranges[a].clone()).collect();
        crate::chunks::box_indices(&permuted)
            .map(|index| {
                let mut block = vec![0; ranges.len()];
                for (k, &a) in order.iter().enumerate() {
                    block[a] = index[k];
                }
                block
            })
            .collect()
    }

    /// The input blocks that partial `block` (of the partials' level) folds, in the order
    /// of [`Reduce::walk`].
    pub(crate) fn partial_blocks(&self, block: &[usize]) -> Vec<Vec<usize>> {
        let counts = self.in_grid.nblocks();
        let ranges: Vec<std::ops::Range<usize>> = self
            .partial_fans()
            .iter()
            .zip(block)
            .zip(&counts)
            .map(|((&fan, &b), &n)| b * fan..((b + 1) * fan).min(n))
            .collect();
        self.walk(&ranges)
    }
}

/// Fan-in per reduced axis of a reduction tree over `n_reduced` axes whose combines read at
/// most `split_every` partials each: the same on every axis, at least 2. Every reduction
/// tree (built-in and user reductions) is cut by this rule, which depends on neither the
/// data nor the threads.
pub(crate) fn fan_in(split_every: usize, n_reduced: usize) -> usize {
    let n = n_reduced.max(1) as f64;
    ((split_every as f64).powf(1.0 / n).floor() as usize).max(2)
}

impl Node {
    /// A node of `kind` on `grid`. A node too large to exist (see
    /// [`check_size`](crate::chunks::check_size)), such as the broadcast of two long vectors,
    /// becomes an invalid node that records the error, whatever operation made it.
    pub(crate) fn new(kind: NodeKind, grid: ChunkGrid, dtype: DType) -> Arc<Node> {
        Node::with_notes(kind, grid, dtype, Vec::new())
    }

    /// [`Node::new`] with the notes of the pass that made it.
    pub(crate) fn with_notes(
        kind: NodeKind,
        grid: ChunkGrid,
        dtype: DType,
        notes: Vec<Note>,
    ) -> Arc<Node> {
        if let Err(e) = crate::chunks::check_size(&grid.shape(), dtype.size())
            && !matches!(kind, NodeKind::Invalid(_))
        {
            return Node::invalid(e, dtype);
        }
        let error = match &kind {
            NodeKind::Invalid(e) => Some(e.clone()),
            _ => inputs_of(&kind).into_iter().find_map(|i| i.error.clone()),
        };
        Arc::new(Node {
            id: next_id(),
            kind,
            grid,
            dtype,
            notes,
            error,
        })
    }

    /// A node that records a building error.
    pub(crate) fn invalid(error: Error, dtype: DType) -> Arc<Node> {
        Node::new(NodeKind::Invalid(error), ChunkGrid::single(&[]), dtype)
    }

    pub(crate) fn shape(&self) -> Vec<usize> {
        self.grid.shape()
    }

    pub(crate) fn ndim(&self) -> usize {
        self.grid.ndim()
    }

    /// The nodes this node reads.
    pub(crate) fn inputs(&self) -> Vec<&Arc<Node>> {
        inputs_of(&self.kind)
    }

    /// A copy of this node reading `inputs` (in the order of [`Node::inputs`]) instead,
    /// with the same notes.
    pub(crate) fn with_inputs(&self, inputs: Vec<Arc<Node>>) -> Arc<Node> {
        let mut new = inputs.into_iter();
        let mut next = || new.next().expect("one new input per input");
        let mut remap = |list: &[ElemInput]| -> Vec<ElemInput> {
            list.iter()
                .map(|i| ElemInput {
                    node: next(),
                    view: i.view.clone(),
                })
                .collect()
        };
        let kind = match &self.kind {
            NodeKind::Source(s) => NodeKind::Source(s.clone()),
            NodeKind::Invalid(e) => NodeKind::Invalid(e.clone()),
            NodeKind::Elemwise(e) => NodeKind::Elemwise(Elemwise {
                inputs: remap(&e.inputs),
                program: e.program.clone(),
            }),
            NodeKind::Reduce(r) => NodeKind::Reduce(Reduce {
                inputs: remap(&r.inputs),
                ..r.clone()
            }),
            NodeKind::Blockwise(b) => NodeKind::Blockwise(Blockwise {
                inputs: b.inputs.iter().map(|_| next()).collect(),
                map: b.map.clone(),
            }),
        };
        Node::with_notes(kind, self.grid.clone(), self.dtype, self.notes.clone())
    }

    /// The first building error in this node or anything it reads.
    pub(crate) fn first_error(&self) -> Option<Error> {
        self.error.clone()
    }

    /// A short label: the kind and what it computes.
    pub(crate) fn label(&self) -> String {
        match &self.kind {
            NodeKind::Source(Source::Generator(op)) => format!("Source {}", op.name()),
            NodeKind::Source(Source::Tiles(src)) => format!("Source {}", src.name()),
            NodeKind::Elemwise(e) => format!(
                "Elemwise {}{}",
                display::program_text(&e.program),
                views_text(&e.inputs)
            ),
            NodeKind::Blockwise(b) => format!("Blockwise {}", b.map.name()),
            NodeKind::Reduce(r) => {
                let axes: Vec<usize> = r
                    .reduced
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| **r)
                    .map(|(i, _)| i)
                    .collect();
                let prelude = if r.program.steps.is_empty() {
                    String::new()
                } else {
                    format!(" of {}", display::program_text(&r.program))
                };
                format!(
                    "Reduce {} over axes {:?}{}{}{}",
                    r.reducer.name(),
                    axes,
                    prelude,
                    views_text(&r.inputs),
                    if r.keepdims { " keepdims" } else { "" }
                )
            }
            NodeKind::Invalid(e) => format!("Invalid: {e}"),
        }
    }
}

/// The nodes that a node of `kind` reads, in order (see [`Node::inputs`]).
fn inputs_of(kind: &NodeKind) -> Vec<&Arc<Node>> {
    match kind {
        NodeKind::Source(_) | NodeKind::Invalid(_) => Vec::new(),
        NodeKind::Elemwise(e) => e.inputs.iter().map(|i| &i.node).collect(),
        NodeKind::Blockwise(b) => b.inputs.iter().collect(),
        NodeKind::Reduce(r) => r.inputs.iter().map(|i| &i.node).collect(),
    }
}

/// The views through which a program reads its inputs, for labels: ` with in1 = [1:9, :]`
/// (nothing where every input is read element for element).
fn views_text(inputs: &[ElemInput]) -> String {
    let views: Vec<String> = inputs
        .iter()
        .enumerate()
        .filter_map(|(k, i)| Some(format!("in{k} = {}", i.view.text(&i.node.shape())?)))
        .collect();
    if views.is_empty() {
        String::new()
    } else {
        format!(" with {}", views.join(", "))
    }
}

pub(crate) use deep::with_stack_for;
pub(crate) use display::{node_numbers, plan_text, to_dot};

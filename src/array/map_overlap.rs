//! `map_overlap`: a user function applied to each block grown by a halo read from its
//! neighbours, as Dask's `da.map_overlap`. One function on the [`blockwise`] builder: a
//! task reads every input tile its grown box touches (any depth, including more than a
//! chunk, and the wrapped or mirrored tiles at the array's edges) and assembles the grown
//! block from them; no padded copy of the array exists. Elementwise work on the result
//! fuses after it as after any blockwise node.

use std::ops::Range;

use chunkwise_kernels::dtype::Element;
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn};

use super::Array;
use super::map_blocks::{BlockInfo, BlockResult, Unified, invalid, unify, user_tile};
use crate::chunks::{AxisChunks, ChunkGrid, box_indices, ravel, sub_view};
use crate::error::Result;
use crate::ops::blockwise::{Block, blockwise};

/// What a grown block holds beyond the array's edge along an axis (Dask's `boundary=`).
/// Modes other than [`Boundary::None`] pad as NumPy's `np.pad` does, for any depth (a halo
/// longer than the axis keeps reflecting or wrapping, as `np.pad` does).
///
/// ```
/// use chunkwise::{Boundary, MapOverlap};
/// let x = chunkwise::arange::<f64>(0.0, 4.0, 1.0, [2])?;
/// let grown = |b: Boundary| {
///     x.map_overlap(&MapOverlap::new().depth(2).boundary(b).trim(false), |g, _| Ok(g.clone()))?
///         .compute()
///         .map(|a| a.into_raw_vec_and_offset().0)
/// };
/// // Blocks [0, 1] and [2, 3], each grown by 2 on both sides.
/// assert_eq!(grown(Boundary::Reflect)?, [1., 0., 0., 1., 2., 3., 0., 1., 2., 3., 3., 2.]);
/// assert_eq!(grown(Boundary::Periodic)?, [2., 3., 0., 1., 2., 3., 0., 1., 2., 3., 0., 1.]);
/// assert_eq!(grown(Boundary::Nearest)?, [0., 0., 0., 1., 2., 3., 0., 1., 2., 3., 3., 3.]);
/// assert_eq!(grown(Boundary::Constant(9.0))?, [9., 9., 0., 1., 2., 3., 0., 1., 2., 3., 9., 9.]);
/// assert_eq!(grown(Boundary::None)?, [0., 1., 2., 3., 0., 1., 2., 3.]);
/// # Ok::<(), chunkwise::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[non_exhaustive]
pub enum Boundary {
    /// No halo beyond the edge: blocks at the array's edge grow only inwards (Dask's
    /// `'none'`, its default).
    #[default]
    None,
    /// The mirror image with the edge element repeated: `[b a | a b c | c b]` (Dask's
    /// `'reflect'`, NumPy's pad mode `"symmetric"`).
    Reflect,
    /// Wraps around: `[b c | a b c | a b]` (Dask's `'periodic'`, NumPy's `"wrap"`).
    Periodic,
    /// The edge element repeated: `[a a | a b c | c c]` (Dask's `'nearest'`, NumPy's
    /// `"edge"`).
    Nearest,
    /// A constant (converted to the element type as `as` does): `[v v | a b c | v v]`.
    Constant(f64),
}

/// A setting given for every axis at once or per axis.
#[derive(Clone, Debug, PartialEq)]
enum PerAxis<V> {
    All(V),
    Axes(Vec<V>),
}

impl<V: Clone> PerAxis<V> {
    /// The setting of each of `nd` axes.
    fn resolve(&self, op: &str, what: &str, nd: usize) -> Result<Vec<V>> {
        match self {
            PerAxis::All(v) => Ok(vec![v.clone(); nd]),
            PerAxis::Axes(v) if v.len() == nd => Ok(v.clone()),
            PerAxis::Axes(v) => Err(invalid(
                op,
                format!("{what} given for {} axes, the array has {nd}", v.len()),
            )),
        }
    }
}

/// How [`map_overlap`](crate::map_overlap()) grows and trims blocks: the halo depth (the
/// same on both sides, or before and after apart) and the [`Boundary`] per axis (Dask's
/// `depth=` and `boundary=`, default 0 and `none`), whether
/// to trim the halo off the results (`trim=`, default true), the output chunks when not
/// trimming, a name for plans and errors, and the function's scratch memory per block.
///
/// ```
/// use chunkwise::{Boundary, MapOverlap};
/// let how = MapOverlap::new()
///     .depths([1, 0])
///     .boundaries([Boundary::Periodic, Boundary::None])
///     .name("smooth rows");
/// # let _ = how;
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct MapOverlap {
    /// Halo elements before and after a block.
    depth: PerAxis<(usize, usize)>,
    boundary: PerAxis<Boundary>,
    trim: bool,
    chunks: Option<Vec<Vec<usize>>>,
    name: Option<String>,
    scratch: u64,
}

impl Default for MapOverlap {
    fn default() -> MapOverlap {
        MapOverlap {
            depth: PerAxis::All((0, 0)),
            boundary: PerAxis::All(Boundary::None),
            trim: true,
            chunks: None,
            name: None,
            scratch: 0,
        }
    }
}

impl MapOverlap {
    /// Depth 0 and [`Boundary::None`] on every axis, trimmed results.
    pub fn new() -> MapOverlap {
        MapOverlap::default()
    }

    /// The halo depth on every axis: elements shared with the neighbours on each side. Any
    /// depth works, including more than a chunk or the whole axis.
    pub fn depth(mut self, depth: usize) -> MapOverlap {
        self.depth = PerAxis::All((depth, depth));
        self
    }

    /// The halo depth per axis (one per axis of the inputs).
    pub fn depths(mut self, depths: impl AsRef<[usize]>) -> MapOverlap {
        self.depth = PerAxis::Axes(depths.as_ref().iter().map(|&d| (d, d)).collect());
        self
    }

    /// The halo depth per axis as `(before, after)`: elements taken from the preceding and
    /// from the following neighbours (Dask's asymmetric `depth={0: (1, 2)}`; where Dask
    /// allows it with `boundary='none'` only, every [`Boundary`] works here, padding as
    /// `np.pad(x, [(before, after), ...])` does).
    ///
    /// ```
    /// use chunkwise::{Boundary, MapOverlap};
    /// let x = chunkwise::arange::<f64>(0.0, 4.0, 1.0, [2])?;
    /// // Blocks [0, 1] and [2, 3], each grown by nothing before and 1 after.
    /// let how = MapOverlap::new()
    ///     .asymmetric_depths([(0, 1)])
    ///     .boundary(Boundary::Constant(9.0))
    ///     .trim(false);
    /// let grown = x.map_overlap(&how, |g, _| Ok(g.clone()))?.compute()?;
    /// assert_eq!(grown.into_raw_vec_and_offset().0, [0., 1., 2., 2., 3., 9.]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn asymmetric_depths(mut self, depths: impl AsRef<[(usize, usize)]>) -> MapOverlap {
        self.depth = PerAxis::Axes(depths.as_ref().to_vec());
        self
    }

    /// The boundary mode on every axis.
    pub fn boundary(mut self, boundary: Boundary) -> MapOverlap {
        self.boundary = PerAxis::All(boundary);
        self
    }

    /// The boundary mode per axis (one per axis of the inputs). Axes may pad with different
    /// constants: where the pads of several axes meet (the corners), the value is the one
    /// of the last axis that pads there with a constant, as `np.pad` (which pads one axis
    /// after the other) and Dask give it.
    pub fn boundaries(mut self, boundaries: impl AsRef<[Boundary]>) -> MapOverlap {
        self.boundary = PerAxis::Axes(boundaries.as_ref().to_vec());
        self
    }

    /// Whether to cut the halo off each result block (default true: the function returns
    /// blocks of the grown shape and the result has the inputs' chunks). With `false` the
    /// function's blocks are the result's, of the grown shape unless
    /// [`MapOverlap::chunks`] says otherwise.
    pub fn trim(mut self, trim: bool) -> MapOverlap {
        self.trim = trim;
        self
    }

    /// The output's chunk lengths per axis when not trimming (Dask's `chunks=`): as many
    /// chunks per axis as the inputs have blocks, or fewer: output block `b` is still
    /// computed from input block `b` grown, and the input blocks past the last output
    /// block give no block of their own (their elements reach the blocks before them as
    /// halo only, as the last windows of [`Array::rolling`] read them). An error with
    /// `trim(true)`.
    pub fn chunks(mut self, sizes: Vec<Vec<usize>>) -> MapOverlap {
        self.chunks = Some(sizes);
        self
    }

    /// The name shown in plans and in errors (default `map_overlap`).
    pub fn name(mut self, name: impl Into<String>) -> MapOverlap {
        self.name = Some(name.into());
        self
    }

    /// Working memory the function needs per block beyond its grown inputs and output.
    pub fn scratch(mut self, bytes: u64) -> MapOverlap {
        self.scratch = bytes;
        self
    }
}

/// The halo of one axis: its depths before and after a block and its boundary, and the
/// axis's chunks.
#[derive(Clone, Debug)]
struct AxisHalo {
    before: usize,
    after: usize,
    boundary: Boundary,
    chunks: AxisChunks,
}

/// A stretch of a grown block along one axis: `dst` in the grown block's coordinates, read
/// from `src` (the position of the input block in [`AxisPlan::blocks`], a range local to
/// that block, and whether it runs backwards; one element repeated over all of `dst` if
/// the range has one), or the constant where `src` is `None`.
#[derive(Clone, Debug, PartialEq)]
struct Run {
    dst: Range<usize>,
    src: Option<(usize, Range<usize>, bool)>,
}

/// Where the grown block of one input block comes from along one axis.
#[derive(Clone, Debug, PartialEq)]
struct AxisPlan {
    /// Halo elements before and after the block's own.
    before: usize,
    after: usize,
    /// The input blocks read, ascending.
    blocks: Vec<usize>,
    runs: Vec<Run>,
}

impl AxisHalo {
    /// The element of the axis at virtual position `i` (negative or past the end in the
    /// halo), as NumPy's pad modes map it; `None` for a constant.
    fn source(&self, i: isize) -> Option<usize> {
        let n = self.chunks.len() as isize;
        if (0..n).contains(&i) {
            return Some(i as usize);
        }
        match self.boundary {
            Boundary::Periodic => Some(i.rem_euclid(n) as usize),
            Boundary::Reflect => {
                let j = i.rem_euclid(2 * n);
                Some(if j < n { j } else { 2 * n - 1 - j } as usize)
            }
            Boundary::Nearest => Some(i.clamp(0, n - 1) as usize),
            Boundary::Constant(_) | Boundary::None => None,
        }
    }

    /// The plan of block `b` along this axis.
    fn plan(&self, b: usize) -> AxisPlan {
        let n = self.chunks.len();
        let core = self.chunks.range(b);
        let (before, after) = match self.boundary {
            Boundary::None => (self.before.min(core.start), self.after.min(n - core.end)),
            _ => (self.before, self.after),
        };
        let lo = core.start as isize - before as isize;
        let mut runs: Vec<Run> = Vec::new();
        // The current run's last source element, and its step (-1, 0 for an element
        // repeated, or 1; none while the run has one element).
        let mut last: Option<(usize, Option<isize>)> = None;
        for (k, i) in (lo..(core.end + after) as isize).enumerate() {
            let src = self.source(i);
            let step = match (runs.last(), src, last) {
                (Some(Run { src: None, .. }), None, _) => Some(0),
                (Some(Run { src: Some(r), .. }), Some(s), Some((prev, run_step))) => {
                    let step = s as isize - prev as isize;
                    let same = self.chunks.chunk_of(s) == r.0 && step.abs() <= 1;
                    (same && run_step.is_none_or(|st| st == step)).then_some(step)
                }
                _ => None,
            };
            if let Some(step) = step {
                let run = runs.last_mut().expect("a run to extend");
                run.dst.end = k + 1;
                if let (Some(r), Some(s)) = (run.src.as_mut(), src) {
                    let local = s - self.chunks.start(r.0);
                    r.1 = r.1.start.min(local)..r.1.end.max(local + 1);
                    r.2 = step < 0;
                    last = Some((s, Some(step)));
                }
                continue;
            }
            runs.push(Run {
                dst: k..k + 1,
                src: src.map(|s| {
                    let blk = self.chunks.chunk_of(s);
                    let local = s - self.chunks.start(blk);
                    (blk, local..local + 1, false)
                }),
            });
            last = src.map(|s| (s, None));
        }
        // Block numbers to positions in the ascending list of blocks read.
        let mut blocks: Vec<usize> = runs
            .iter()
            .filter_map(|r| r.src.as_ref())
            .map(|s| s.0)
            .collect();
        blocks.sort_unstable();
        blocks.dedup();
        if blocks.is_empty() {
            // An empty axis: the task still reads its own (empty) block.
            blocks.push(b);
        }
        for run in &mut runs {
            if let Some(src) = run.src.as_mut() {
                src.0 = blocks.binary_search(&src.0).expect("a block read");
            }
        }
        AxisPlan {
            before,
            after,
            blocks,
            runs,
        }
    }
}

/// The plans of block `index` along every axis.
fn plans(halos: &[AxisHalo], index: &[usize]) -> Vec<AxisPlan> {
    halos.iter().zip(index).map(|(h, &b)| h.plan(b)).collect()
}

/// The plans of an input that broadcasts along the axes `broadcast` marks (its length-1
/// axes against longer ones, and the leading axes it lacks): there its one element stands
/// for every element the common plan reads.
fn input_plans(plans: &[AxisPlan], broadcast: &[bool]) -> Vec<AxisPlan> {
    plans
        .iter()
        .zip(broadcast)
        .map(|(p, &bc)| match bc {
            false => p.clone(),
            true => AxisPlan {
                blocks: vec![0],
                runs: p
                    .runs
                    .iter()
                    .map(|r| Run {
                        dst: r.dst.clone(),
                        src: r.src.as_ref().map(|_| (0, 0..1, false)),
                    })
                    .collect(),
                ..*p
            },
        })
        .collect()
}

/// The blocks of an input (its own axes: the last `own_ndim`) that its `plans` read, in C
/// order over the per-axis lists.
fn input_blocks(plans: &[AxisPlan], own_ndim: usize) -> Vec<Vec<usize>> {
    let lists: Vec<Range<usize>> = plans.iter().map(|p| 0..p.blocks.len()).collect();
    let lead = plans.len() - own_ndim;
    box_indices(&lists)
        .map(|at| {
            plans[lead..]
                .iter()
                .zip(&at[lead..])
                .map(|(p, &k)| p.blocks[k])
                .collect()
        })
        .collect()
}

/// The grown shape of the block the plans describe.
fn grown_shape(plans: &[AxisPlan]) -> Vec<usize> {
    plans
        .iter()
        .map(|p| p.runs.last().map_or(0, |r| r.dst.end))
        .collect()
}

/// The grown block assembled from `tiles` (the blocks `plans` name, in C order over the
/// per-axis lists, with the plans' number of axes). Where the boundary of some axes is a
/// constant, the value is `fills[a]` of the last such axis `a` (`np.pad` pads one axis
/// after the other, so the last one's constant covers the corners).
fn assemble<T: Element>(plans: &[AxisPlan], tiles: &[ArrayViewD<'_, T>], fills: &[T]) -> ArrayD<T> {
    let mut grown = ArrayD::from_elem(IxDyn(&grown_shape(plans)), T::default());
    let counts: Vec<usize> = plans.iter().map(|p| p.blocks.len()).collect();
    let run_ranges: Vec<Range<usize>> = plans.iter().map(|p| 0..p.runs.len()).collect();
    for pick in box_indices(&run_ranges) {
        let runs: Vec<&Run> = plans.iter().zip(&pick).map(|(p, &r)| &p.runs[r]).collect();
        let dst: Vec<Range<usize>> = runs.iter().map(|r| r.dst.clone()).collect();
        if let Some(axis) = runs.iter().rposition(|r| r.src.is_none()) {
            sub_view(grown.view_mut(), &dst).fill(fills[axis]);
            continue;
        }
        let srcs: Vec<&(usize, Range<usize>, bool)> =
            runs.iter().filter_map(|r| r.src.as_ref()).collect();
        let tile_at: Vec<usize> = srcs.iter().map(|s| s.0).collect();
        let src: Vec<Range<usize>> = srcs.iter().map(|s| s.1.clone()).collect();
        let mut from = sub_view(tiles[ravel(&tile_at, &counts)].view(), &src);
        for (axis, s) in srcs.iter().enumerate() {
            if s.2 {
                from.invert_axis(Axis(axis));
            }
        }
        sub_view(grown.view_mut(), &dst).assign(&from);
    }
    grown
}

/// The output grid: the inputs' when trimming, else the grown blocks' or the given chunks.
fn output_grid(op: &str, halos: &[AxisHalo], options: &MapOverlap) -> Result<ChunkGrid> {
    match (&options.chunks, options.trim) {
        (Some(_), true) => Err(invalid(
            op,
            "output chunks are given only with trim(false); trimmed results have the \
             inputs' chunks"
                .into(),
        )),
        (None, true) => Ok(ChunkGrid::from_axes(
            halos.iter().map(|h| h.chunks.clone()).collect(),
        )),
        (None, false) => Ok(ChunkGrid::from_axes(
            halos
                .iter()
                .map(|h| {
                    let sizes = (0..h.chunks.count())
                        .map(|b| {
                            let p = h.plan(b);
                            p.before + h.chunks.size(b) + p.after
                        })
                        .collect();
                    AxisChunks::from_sizes(sizes)
                })
                .collect(),
        )),
        (Some(sizes), false) => {
            if sizes.len() != halos.len()
                || sizes
                    .iter()
                    .zip(halos)
                    .any(|(s, h)| s.is_empty() || s.len() > h.chunks.count())
            {
                return Err(invalid(
                    op,
                    format!(
                        "chunks {sizes:?} do not give one length for each of the first 1 or \
                         more input blocks ({:?} blocks)",
                        halos.iter().map(|h| h.chunks.count()).collect::<Vec<_>>()
                    ),
                ));
            }
            let shape: Vec<usize> = sizes.iter().map(|s| s.iter().sum()).collect();
            ChunkGrid::from_sizes(&shape, sizes.clone())
        }
    }
}

/// Applies `f` to each block of `inputs` grown by a halo from its neighbours (Dask's
/// `da.map_overlap`): `f(&[grown input blocks], &info)`.
///
/// - Along each axis a block `[start, end)` grows to `[start - before, end + after)` (the
///   depths, [`MapOverlap::depth`] or [`MapOverlap::asymmetric_depths`]); the task reads
///   every input block that range touches, however deep, and the blocks the [`Boundary`]
///   mode wraps or mirrors to past the array's edges. With [`Boundary::None`] edge blocks
///   grow only inwards.
/// - The inputs broadcast against each other as NumPy's do (leading axes added, length-1
///   axes repeated), and depths and boundaries are given for the axes of the broadcast
///   shape. `f` gets every input as if it had been broadcast to that shape first (so all
///   its blocks have one grown shape); only the tiles themselves are read, never a
///   broadcast copy of the array. Chunks that differ along an axis the inputs share are
///   refined to the common boundaries of all of them (one rechunk). All inputs have one
///   element type `T`; the output's is `U`.
/// - `info` ([`BlockInfo`]) describes the block's core: its index and element `ranges` in
///   the common grid, and `core`, where those elements lie inside the grown block.
/// - With `trim` (the default) `f` returns a block of the grown shape and the halo is cut
///   off it, so the result has the inputs' (broadcast) shape and chunks. Without it, `f`'s
///   blocks are the result's blocks: of the grown shape, or of the lengths
///   [`MapOverlap::chunks`] gives.
/// - For every mode but `None` the halo is NumPy's `np.pad` of the array (`symmetric`,
///   `wrap`, `edge`, `constant`), for any depth; growing an empty axis by `reflect`,
///   `periodic` or `nearest` is an error, as in NumPy.
///
/// An `Err` from `f` becomes [`ExecError::UserFunction`](crate::ExecError::UserFunction)
/// naming the block; a block of the wrong shape is an
/// [`ExecError::TileShape`](crate::ExecError::TileShape) error.
///
/// ```
/// use chunkwise::{Boundary, MapOverlap, map_overlap};
/// use ndarray::s;
/// let a = chunkwise::arange::<f64>(0.0, 6.0, 1.0, [2])?;
/// let b = chunkwise::ones::<f64>(&[6], [3])?;
/// // a[i - 1] + a[i + 1] + b[i], with a wrapping around.
/// let how = MapOverlap::new().depth(1).boundary(Boundary::Periodic);
/// let c = map_overlap(&[&a, &b], &how, |g, _| {
///     let n = g[0].len();
///     let mut out = g[1].clone();
///     let sum = &g[0].slice(s![..n - 2]) + &g[0].slice(s![2..]);
///     out.slice_mut(s![1..n - 1]).zip_mut_with(&sum, |o, s| *o += s);
///     Ok(out)
/// })?;
/// assert_eq!(c.compute()?.into_raw_vec_and_offset().0, vec![7., 3., 5., 7., 9., 5.]);
///
/// // Broadcasting: a row of weights against a 2 x 6 array, depth 1 along axis 1 only.
/// let x = chunkwise::ones::<f64>(&[2, 6], [1, 4])?;
/// let how = MapOverlap::new().depths([0, 1]).boundary(Boundary::Nearest);
/// let y = map_overlap(&[&x, &a], &how, |g, _| {
///     assert_eq!(g[0].shape(), g[1].shape());
///     Ok(g[0] * g[1])
/// })?;
/// assert_eq!(y.shape(), vec![2, 6]);
/// assert_eq!(y.sum().compute_scalar()?, 30.0);
/// # Ok::<(), chunkwise::Error>(())
/// ```
pub fn map_overlap<T: Element, U: Element>(
    inputs: &[&Array<T>],
    options: &MapOverlap,
    f: impl Fn(&[&ArrayD<T>], &BlockInfo) -> BlockResult<U> + Send + Sync + 'static,
) -> Result<Array<U>> {
    let name = options.name.clone().unwrap_or_else(|| "map_overlap".into());
    let Unified {
        nodes,
        broadcast,
        axes,
    } = unify(&name, inputs)?;
    let grid = ChunkGrid::from_axes(axes);
    let nd = grid.ndim();
    // Per input, per common axis: whether it broadcasts there (leading axes included).
    let broadcast: Vec<Vec<bool>> = broadcast
        .iter()
        .map(|bc| {
            let mut all = vec![true; nd - bc.len()];
            all.extend(bc);
            all
        })
        .collect();
    let own_ndims: Vec<usize> = inputs.iter().map(|a| a.ndim()).collect();
    let depths = options.depth.resolve(&name, "depths", nd)?;
    let boundaries = options.boundary.resolve(&name, "boundaries", nd)?;
    let halos: Vec<AxisHalo> = (0..nd)
        .map(|a| AxisHalo {
            before: depths[a].0,
            after: depths[a].1,
            boundary: boundaries[a],
            chunks: grid.axis(a).clone(),
        })
        .collect();
    for (a, h) in halos.iter().enumerate() {
        let pads = !matches!(h.boundary, Boundary::None | Boundary::Constant(_));
        if pads && h.before + h.after > 0 && h.chunks.len() == 0 {
            return Err(invalid(
                &name,
                format!("axis {a} is empty: {:?} cannot grow it", h.boundary),
            ));
        }
    }
    // Each task holds a grown tile (and its plan is made element by element): a halo
    // that makes one larger than half the memory is refused before anything is planned.
    let grown_bytes = halos.iter().fold(T::DTYPE.size() as u64, |bytes, h| {
        let mut len = h
            .chunks
            .max_size()
            .saturating_add(h.before)
            .saturating_add(h.after);
        if matches!(h.boundary, Boundary::None) {
            len = len.min(h.chunks.len());
        }
        bytes.saturating_mul(len as u64)
    });
    let grown = format!("a tile grown by depths {depths:?}");
    crate::exec::check_built_bytes(&name, &grown, grown_bytes)?;
    let fills: Vec<T> = boundaries
        .iter()
        .map(|b| match b {
            Boundary::Constant(v) => v.cast::<T>(),
            _ => T::default(),
        })
        .collect();
    let out_grid = output_grid(&name, &halos, options)?;
    let deps_halos = halos.clone();
    let deps_broadcast = broadcast.clone();
    let deps_ndims = own_ndims.clone();
    let deps = move |block: &[usize]| {
        let plans = plans(&deps_halos, block);
        deps_broadcast
            .iter()
            .zip(&deps_ndims)
            .enumerate()
            .flat_map(|(k, (bc, &own))| {
                input_blocks(&input_plans(&plans, bc), own)
                    .into_iter()
                    .map(move |b| (k, b))
            })
            .collect()
    };
    let memory_halos = halos.clone();
    let (scratch, trim) = (options.scratch, options.trim);
    let n_inputs = nodes.len();
    let grown_bytes = (n_inputs * T::DTYPE.size() + U::DTYPE.size()) as u64;
    let node = blockwise(name.clone(), out_grid, U::DTYPE, nodes)
        .scratch(move |block| {
            let grown: usize = grown_shape(&plans(&memory_halos, block.index))
                .iter()
                .product();
            scratch + grown as u64 * grown_bytes
        })
        .arrays::<T, U>(deps, move |block, tiles| {
            let plans = plans(&halos, block.index);
            let mut rest = tiles;
            let mut grown = Vec::with_capacity(broadcast.len());
            for (bc, &own) in broadcast.iter().zip(&own_ndims) {
                let plans = input_plans(&plans, bc);
                let count: usize = plans.iter().map(|p| p.blocks.len()).product();
                let (mine, others) = rest.split_at(count);
                rest = others;
                // The tiles with the leading axes they lack, of length 1.
                let views: Vec<ArrayViewD<'_, T>> = mine
                    .iter()
                    .map(|t| {
                        let mut v = t.view();
                        for _ in own..nd {
                            v.insert_axis_inplace(Axis(0));
                        }
                        v
                    })
                    .collect();
                grown.push(assemble(&plans, &views, &fills));
            }
            let grown_refs: Vec<&ArrayD<T>> = grown.iter().collect();
            let mut info = BlockInfo::new(&grid, block.index);
            info.core = plans
                .iter()
                .zip(&info.ranges)
                .map(|(p, r)| p.before..p.before + r.len())
                .collect();
            let result = f(&grown_refs, &info);
            if !trim {
                return user_tile(&name, block, result);
            }
            let shape = grown_shape(&plans);
            let grown_block = Block {
                index: block.index,
                shape: &shape,
            };
            let tile = user_tile(&name, &grown_block, result)?;
            Ok(sub_view(tile.view(), &info.core).to_owned())
        });
    Ok(Array::from_node(node))
}

/// User functions on blocks with a halo.
impl<T: Element> Array<T> {
    /// Applies `f` to each block grown by a halo from its neighbours, as `options` says
    /// (depth and [`Boundary`] per axis, trim): see [`map_overlap`](crate::map_overlap()).
    ///
    /// ```
    /// use chunkwise::{Boundary, MapOverlap};
    /// use ndarray::s;
    /// let x = chunkwise::arange::<f64>(0.0, 5.0, 1.0, [2])?;
    /// // A 3-point moving sum, the edge element repeated past the ends.
    /// let how = MapOverlap::new().depth(1).boundary(Boundary::Nearest);
    /// let sums = x.map_overlap(&how, |g, _| {
    ///     let n = g.len();
    ///     let mut out = g.clone();
    ///     let inner = &g.slice(s![..n - 2]) + &g.slice(s![1..n - 1]) + &g.slice(s![2..]);
    ///     out.slice_mut(s![1..n - 1]).assign(&inner);
    ///     Ok(out)
    /// })?;
    /// assert_eq!(sums.compute()?.into_raw_vec_and_offset().0, vec![1., 3., 6., 9., 11.]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn map_overlap<U: Element>(
        &self,
        options: &MapOverlap,
        f: impl Fn(&ArrayD<T>, &BlockInfo) -> BlockResult<U> + Send + Sync + 'static,
    ) -> Result<Array<U>> {
        map_overlap(&[self], options, move |blocks, info| f(blocks[0], info))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn halo(sizes: &[usize], depth: usize, boundary: Boundary) -> AxisHalo {
        AxisHalo {
            before: depth,
            after: depth,
            boundary,
            chunks: AxisChunks::from_sizes(sizes.to_vec()),
        }
    }

    #[test]
    fn runs_of_a_reflected_halo_deeper_than_the_axis() {
        // Axis [0 1 | 2], block 0 grown by 4: the symmetric extension 2 2 1 0 | 0 1 | 2 2 1 0.
        let p = halo(&[2, 1], 4, Boundary::Reflect).plan(0);
        assert_eq!((p.before, p.after), (4, 4));
        assert_eq!(p.blocks, vec![0, 1]);
        let src: Vec<_> = p
            .runs
            .iter()
            .map(|r| (r.dst.clone(), r.src.clone()))
            .collect();
        assert_eq!(
            src,
            vec![
                (0..2, Some((1, 0..1, false))),
                (2..4, Some((0, 0..2, true))),
                (4..6, Some((0, 0..2, false))),
                (6..8, Some((1, 0..1, false))),
                (8..10, Some((0, 0..2, true))),
            ]
        );
        // Nearest on block 1 (element 2) grown by 5: 0 0 0 0 1 | 2 | 2 2 2 2 2, the
        // repeats one run each.
        let p = halo(&[2, 1], 5, Boundary::Nearest).plan(1);
        let src: Vec<_> = p
            .runs
            .iter()
            .map(|r| (r.dst.clone(), r.src.clone()))
            .collect();
        assert_eq!(
            src,
            vec![
                (0..4, Some((0, 0..1, false))),
                (4..5, Some((0, 1..2, false))),
                (5..11, Some((1, 0..1, false))),
            ]
        );
    }

    #[test]
    fn asymmetric_depths_and_broadcast_inputs() {
        // Axis [0 1 | 2 3 | 4 5], nothing before, 3 after: block 0 reads all three blocks,
        // block 2 none but its own (the edge), block 1 its own and block 2.
        let h = AxisHalo {
            before: 0,
            after: 3,
            ..halo(&[2, 2, 2], 0, Boundary::None)
        };
        let p = h.plan(0);
        assert_eq!((p.before, p.after, p.blocks.clone()), (0, 3, vec![0, 1, 2]));
        let p = h.plan(1);
        assert_eq!((p.before, p.after, p.blocks.clone()), (0, 2, vec![1, 2]));
        let p = h.plan(2);
        assert_eq!((p.before, p.after, p.blocks.clone()), (0, 0, vec![2]));
        // A broadcast input reads its one block, its one element repeated over each run.
        let wrap = AxisHalo {
            before: 1,
            after: 0,
            ..halo(&[2, 2, 2], 0, Boundary::Constant(1.0))
        };
        let plans = [wrap.plan(0), h.plan(1)];
        let own = input_plans(&plans, &[true, false]);
        assert_eq!(own[0].blocks, vec![0]);
        assert_eq!(
            own[0].runs,
            vec![
                Run {
                    dst: 0..1,
                    src: None
                },
                Run {
                    dst: 1..3,
                    src: Some((0, 0..1, false))
                },
            ]
        );
        assert_eq!(own[1], plans[1]);
        // Its blocks have its own axes: the leading broadcast one dropped.
        assert_eq!(input_blocks(&own, 1), vec![vec![1], vec![2]]);
        assert_eq!(input_blocks(&own, 2), vec![vec![0, 1], vec![0, 2]]);
    }

    #[test]
    fn none_grows_edge_blocks_inwards_only() {
        let h = halo(&[3, 1, 4], 2, Boundary::None);
        let p = h.plan(0);
        assert_eq!((p.before, p.after, p.blocks.clone()), (0, 2, vec![0, 1, 2]));
        let p = h.plan(2);
        assert_eq!((p.before, p.after, p.blocks.clone()), (2, 0, vec![0, 1, 2]));
    }
}

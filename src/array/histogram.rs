//! Histograms and counting, with NumPy's semantics: `histogram`, `histogram2d`,
//! `histogramdd`, `bincount` and `digitize`.
//!
//! Counting is tree-reduced: one task per tile bins the tile in one pass into a partial
//! histogram (a tile of its own, the bins along new axes), and combines add up to
//! `split_every` partials at a time, so a task holds a tile and a few histograms, and the
//! result is the same bit for bit whatever the thread count. `digitize` is elementwise and
//! fuses with the work around it.

use std::sync::Arc;

use chunkwise_kernels::dtype::{DType, Numeric};
use chunkwise_kernels::histogram::{BinEdges, count_bins, digitize, fill_bincount, fill_bins};
use ndarray::{ArrayD, IxDyn, Zip};

use super::Array;
use super::map_blocks::invalid;
use super::reductions::Reduction;
use super::user_reduction::reduction;
use crate::chunks::{AxisChunks, ChunkGrid};
use crate::error::{BuildError, Error, ExecError, Result};
use crate::ops::blockwise::blockwise;
use crate::ops::rechunk::rechunk;
use crate::ops::reduction::DEFAULT_SPLIT_EVERY;
use crate::tile::tile_value;

/// The bins of a histogram along one dimension: a count of equal bins over a range
/// (NumPy's `bins=n, range=(lo, hi)`), or explicit edges (`bins=edges`), which must not
/// decrease. The last bin is closed on the right, as in NumPy.
///
/// ```
/// use chunkwise::Bins;
/// let even = Bins::count(10, (0.0, 1.0));
/// let edges = Bins::edges([0.0, 0.1, 0.5, 1.0]);
/// # let _ = (even, edges);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Bins {
    /// `count` bins of equal width over `range` (inclusive).
    Count {
        /// Number of bins (at least 1).
        count: usize,
        /// The first and last edge (finite, `lo <= hi`, and far enough apart, as NumPy
        /// requires, for `count` bins of a finite, nonzero width).
        range: (f64, f64),
    },
    /// Bins between these edges (at least two, not decreasing, not NaN).
    Edges(Vec<f64>),
}

impl Bins {
    /// `count` bins of equal width over `range`.
    pub fn count(count: usize, range: (f64, f64)) -> Bins {
        Bins::Count { count, range }
    }

    /// Bins between `edges`.
    pub fn edges(edges: impl Into<Vec<f64>>) -> Bins {
        Bins::Edges(edges.into())
    }

    /// The checked edges, or an error naming `op`.
    fn resolve(&self, op: &str) -> Result<BinEdges> {
        match self {
            Bins::Count { count, range } => {
                let (lo, hi) = *range;
                if *count == 0 {
                    return Err(invalid(op, "the number of bins must be at least 1".into()));
                }
                if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                    let why = format!("range ({lo}, {hi}) must be finite with lo <= hi");
                    return Err(invalid(op, why));
                }
                // The edges are made now, whole: refused, as NumPy's MemoryError, where
                // they would take more than half of the memory this process may use.
                let edge_bytes = (*count as u64).saturating_add(1).saturating_mul(8);
                crate::exec::check_built_bytes(
                    op,
                    &format!("the edges of {count} bins"),
                    edge_bytes,
                )?;
                let bins = BinEdges::uniform(*count, lo, hi);
                // As NumPy: a range too wide for f64 (its width overflows) or too narrow
                // for the count (edges repeat) has no finite bins of equal width.
                let edges = bins.edges();
                if !edges.iter().all(|e| e.is_finite()) || edges.windows(2).any(|w| w[0] >= w[1]) {
                    let why = format!(
                        "too many bins for the data range ({lo}, {hi}): cannot create {count} \
                         finite-sized bins"
                    );
                    return Err(invalid(op, why));
                }
                Ok(bins)
            }
            Bins::Edges(edges) => {
                if edges.len() < 2 || edges.iter().any(|e| e.is_nan()) {
                    let why = format!("bin edges need at least two numbers, got {edges:?}");
                    return Err(invalid(op, why));
                }
                if edges.windows(2).any(|w| w[0] > w[1]) {
                    let why = "bins must increase monotonically".to_string();
                    return Err(invalid(op, why));
                }
                Ok(BinEdges::from_edges(edges.clone()))
            }
        }
    }
}

/// Fills one tile's partial histogram from its coordinate tiles (and weights).
type Fill<T, C> = dyn Fn(&[&[T]], Option<&[f64]>, &mut [C]) -> Result<()> + Send + Sync;

/// The histogram of `samples` (arrays of one shape, one per dimension of the histogram)
/// with `weights`, of shape `bins`: each tile is binned by `fill` into a partial histogram,
/// and the partials are added up in a tree.
fn binned<T: Numeric, C: Numeric>(
    op: &str,
    samples: &[&Array<T>],
    weights: Option<&Array<f64>>,
    bins: Vec<usize>,
    fill: Arc<Fill<T, C>>,
) -> Result<Array<C>> {
    let first = samples
        .first()
        .ok_or_else(|| invalid(op, "no sample arrays".into()))?;
    let shape = first.shape();
    for array in samples {
        array.check()?;
    }
    if let Some(w) = weights {
        w.check()?;
    }
    let shapes = samples
        .iter()
        .map(|s| s.shape())
        .chain(weights.map(|w| w.shape()));
    if let Some(found) = shapes.into_iter().find(|s| *s != shape) {
        return Err(Error::Build(BuildError::ShapeMismatch {
            op: op.to_string(),
            expected: shape,
            found,
        }));
    }
    // Every input on the first sample's grid, so a task reads one tile of each.
    let grid = first.chunks().clone();
    let inputs = samples
        .iter()
        .map(|s| &s.node)
        .chain(weights.map(|w| &w.node));
    let nodes: Vec<_> = inputs.map(|node| rechunk(node, grid.clone())).collect();
    let ndim = shape.len();
    let n_samples = samples.len();
    let axes = grid
        .nblocks()
        .into_iter()
        .map(|n| AxisChunks::regular(n, 1));
    let axes = axes.chain(bins.iter().map(|&n| AxisChunks::single(n)));
    let partial_grid = ChunkGrid::from_axes(axes.collect());
    let n_inputs = nodes.len();
    let name = format!("{op} partial");
    let partial = blockwise(name, partial_grid, C::DTYPE, nodes).run(
        move |block| (0..n_inputs).map(|k| (k, block[..ndim].to_vec())).collect(),
        move |block, tiles| {
            let coords: Vec<_> = tiles[..n_samples]
                .iter()
                .map(|t| t.array::<T>().map(|a| a.as_standard_layout()))
                .collect::<Result<_>>()?;
            let coords: Vec<&[T]> = coords.iter().map(|c| c.as_slice().unwrap_or(&[])).collect();
            let weights = match tiles.get(n_samples) {
                Some(t) => Some(t.array::<f64>()?.as_standard_layout()),
                None => None,
            };
            let mut counts = vec![C::ZERO; block.len()];
            fill(
                &coords,
                weights.as_ref().and_then(|w| w.as_slice()),
                &mut counts,
            )?;
            let tile = ArrayD::from_shape_vec(IxDyn(block.shape), counts)
                .expect("one count per bin of the partial tile");
            Ok(tile_value(tile))
        },
    );
    let add = |parts: &[&ArrayD<C>], _: &[usize]| -> super::map_blocks::BlockResult<C> {
        let mut total = parts[0].clone();
        for part in &parts[1..] {
            Zip::from(&mut total)
                .and(*part)
                .for_each(|t, &p| *t = C::add(*t, p));
        }
        Ok(total)
    };
    let reduced: Vec<isize> = (0..ndim as isize).collect();
    let how = Reduction::axes(reduced).split_every(DEFAULT_SPLIT_EVERY);
    reduction(
        &Array::<C>::from_node(partial),
        |partial, _| Ok(partial.clone()),
        add,
        add,
        &how,
    )
}

/// The counts (`u64`) of `samples` in `bins`, one dimension per sample array.
fn counts<T: Numeric>(
    op: &str,
    samples: &[&Array<T>],
    bins: &[Bins],
) -> Result<(Array<u64>, Vec<Vec<f64>>)> {
    let edges = resolve_all(op, samples.len(), bins)?;
    let shape = edges.iter().map(|e| e.len()).collect();
    let kept = edges.clone();
    let fill = move |coords: &[&[T]], _: Option<&[f64]>, counts: &mut [u64]| {
        match (&kept[..], coords) {
            ([bins], [xs]) => count_bins(bins, xs, counts),
            _ => fill_bins(&kept, coords, |bin, _| counts[bin] += 1),
        }
        Ok(())
    };
    let counts = binned(op, samples, None, shape, Arc::new(fill))?;
    Ok((counts, edges.iter().map(|e| e.edges().to_vec()).collect()))
}

/// The weighted counts (`f64`) of `samples` in `bins`, as densities if `density`.
fn weighted<T: Numeric>(
    op: &str,
    samples: &[&Array<T>],
    bins: &[Bins],
    weights: Option<&Array<f64>>,
    density: bool,
) -> Result<(Array<f64>, Vec<Vec<f64>>)> {
    let edges = resolve_all(op, samples.len(), bins)?;
    let shape = edges.iter().map(|e| e.len()).collect();
    let kept = edges.clone();
    let fill = move |coords: &[&[T]], w: Option<&[f64]>, sums: &mut [f64]| {
        match w {
            Some(w) => fill_bins(&kept, coords, |bin, j| sums[bin] += w[j]),
            None => fill_bins(&kept, coords, |bin, _| sums[bin] += 1.0),
        }
        Ok(())
    };
    let mut sums = binned(op, samples, weights, shape, Arc::new(fill))?;
    let edges: Vec<Vec<f64>> = edges.iter().map(|e| e.edges().to_vec()).collect();
    if density {
        let widths: Vec<Vec<f64>> = edges
            .iter()
            .map(|e| e.windows(2).map(|w| w[1] - w[0]).collect())
            .collect();
        sums = sums.map_blocks(move |h| {
            let total: f64 = h.sum();
            let mut density = h.clone();
            for (index, value) in density.indexed_iter_mut() {
                let volume: f64 = (0..widths.len()).map(|d| widths[d][index[d]]).product();
                *value = *value / total / volume;
            }
            Ok(density)
        })?;
    }
    Ok((sums, edges))
}

/// The checked edges of `bins`, one per sample array.
fn resolve_all(op: &str, n_samples: usize, bins: &[Bins]) -> Result<Vec<BinEdges>> {
    if bins.len() != n_samples {
        let why = format!("{} bin specs for {n_samples} sample arrays", bins.len());
        return Err(invalid(op, why));
    }
    bins.iter().map(|b| b.resolve(op)).collect()
}

/// Histograms and counting.
impl<T: Numeric> Array<T> {
    /// NumPy's `histogram(x, bins, range)`: the number of elements in each of `bins` equal
    /// bins over `range` (the last bin closed on the right; NaN and values outside the
    /// range are not counted), and the `bins + 1` edges. The counts are lazy, the edges
    /// known at once. As NumPy, a range whose width overflows f64, or too narrow for
    /// `bins` distinct edges, is an error.
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[0.0, 0.5, 1.0, 2.0, 2.5]), [2])?;
    /// let (counts, edges) = x.histogram(2, (0.0, 2.0))?;
    /// assert_eq!(edges, vec![0.0, 1.0, 2.0]);
    /// assert_eq!(counts.compute()?.into_raw_vec_and_offset().0, vec![2, 2]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn histogram(&self, bins: usize, range: (f64, f64)) -> Result<(Array<u64>, Vec<f64>)> {
        self.histogram_of(&Bins::count(bins, range))
    }

    /// NumPy's `histogram(x, bins=edges)`: counts between monotonic `edges` (see
    /// [`Array::histogram`]).
    ///
    /// ```
    /// let x = chunkwise::arange::<i32>(0, 10, 1, [3])?;
    /// let (counts, _) = x.histogram_edges(&[0.0, 5.0, 9.0])?;
    /// assert_eq!(counts.compute()?.into_raw_vec_and_offset().0, vec![5, 5]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn histogram_edges(&self, edges: &[f64]) -> Result<(Array<u64>, Vec<f64>)> {
        self.histogram_of(&Bins::edges(edges))
    }

    /// The counts in `bins` (see [`Array::histogram`]).
    pub fn histogram_of(&self, bins: &Bins) -> Result<(Array<u64>, Vec<f64>)> {
        let (counts, mut edges) = self::counts("histogram", &[self], std::slice::from_ref(bins))?;
        Ok((counts, edges.remove(0)))
    }

    /// NumPy's `histogram(x, bins, weights=w, density=d)`: the sums of `weights` (an array
    /// of this array's shape; each element counts 1 without) per bin, divided by the total
    /// and the bin width if `density` (so the result integrates to 1 over the range).
    ///
    /// ```
    /// use chunkwise::Bins;
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[0.5, 1.5, 1.5]), [2])?;
    /// let w = chunkwise::from_ndarray(&ndarray::arr1(&[2.0, 1.0, 0.5]), [3])?;
    /// let (sums, _) = x.histogram_weighted(&Bins::count(2, (0.0, 2.0)), Some(&w), false)?;
    /// assert_eq!(sums.compute()?.into_raw_vec_and_offset().0, vec![2.0, 1.5]);
    /// let (density, _) = x.histogram_weighted(&Bins::count(2, (0.0, 4.0)), None, true)?;
    /// assert_eq!(density.compute()?.into_raw_vec_and_offset().0, vec![0.5, 0.0]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn histogram_weighted(
        &self,
        bins: &Bins,
        weights: Option<&Array<f64>>,
        density: bool,
    ) -> Result<(Array<f64>, Vec<f64>)> {
        let bins = std::slice::from_ref(bins);
        let (sums, mut edges) = weighted("histogram", &[self], bins, weights, density)?;
        Ok((sums, edges.remove(0)))
    }

    /// NumPy's `bincount(x, minlength)` of a 1-d array of non-negative integers: how
    /// often each value `0..minlength` occurs. The number of bins must be known before
    /// anything runs (as in Dask, which needs `minlength` too), so a value of
    /// `minlength` or more fails the computation with
    /// [`ExecError::BinOutOfRange`](crate::ExecError::BinOutOfRange), as a negative value
    /// does.
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[1u8, 3, 1, 0]), [3])?;
    /// assert_eq!(x.bincount(5)?.compute()?.into_raw_vec_and_offset().0, vec![1, 2, 0, 1, 0]);
    /// assert!(x.bincount(3)?.compute().is_err());
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn bincount(&self, minlength: usize) -> Result<Array<u64>> {
        self.check_bincount(minlength)?;
        let fill = move |coords: &[&[T]], _: Option<&[f64]>, counts: &mut [u64]| {
            fill_bincount(coords[0], minlength, |bin, _| counts[bin] += 1)
                .map_err(|value| out_of_range(value, minlength))
        };
        binned("bincount", &[self], None, vec![minlength], Arc::new(fill))
    }

    /// NumPy's `bincount(x, weights, minlength)`: the sums of `weights` (a 1-d array of this
    /// array's length) per value (see [`Array::bincount`]).
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[1i64, 1, 0]), [2])?;
    /// let w = chunkwise::from_ndarray(&ndarray::arr1(&[0.5, 0.25, 2.0]), [1])?;
    /// let sums = x.bincount_weighted(&w, 3)?.compute()?;
    /// assert_eq!(sums.into_raw_vec_and_offset().0, vec![2.0, 0.75, 0.0]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn bincount_weighted(&self, weights: &Array<f64>, minlength: usize) -> Result<Array<f64>> {
        self.check_bincount(minlength)?;
        let fill = move |coords: &[&[T]], w: Option<&[f64]>, sums: &mut [f64]| {
            let w = w.unwrap_or(&[]);
            fill_bincount(coords[0], minlength, |bin, j| sums[bin] += w[j])
                .map_err(|value| out_of_range(value, minlength))
        };
        binned(
            "bincount",
            &[self],
            Some(weights),
            vec![minlength],
            Arc::new(fill),
        )
    }

    /// The checks of `bincount`: integers, one axis, a known number of bins.
    fn check_bincount(&self, minlength: usize) -> Result<()> {
        self.check()?;
        if matches!(T::DTYPE, DType::F32 | DType::F64) {
            let why = format!("needs integers, got {}", T::DTYPE);
            return Err(invalid("bincount", why));
        }
        if self.ndim() != 1 {
            let why = format!("needs a 1-d array, got shape {:?}", self.shape());
            return Err(invalid("bincount", why));
        }
        if minlength == 0 {
            let why = "minlength must be at least 1: the number of bins must be known before \
                       computing, as in Dask"
                .to_string();
            return Err(invalid("bincount", why));
        }
        Ok(())
    }

    /// NumPy's `digitize(x, bins, right)`: per element, the index of the bin it falls in
    /// (`bins[i-1] <= x < bins[i]` for increasing bins, `bins[i-1] < x <= bins[i]` if
    /// `right`; mirrored for decreasing bins). Elementwise, fused with the work around it.
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[0.2, 6.4, 3.0, 1.6]), [3])?;
    /// let i = x.digitize(&[0.0, 1.0, 2.5, 4.0, 10.0], false)?;
    /// assert_eq!(i.compute()?.into_raw_vec_and_offset().0, vec![1, 4, 3, 2]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn digitize(&self, bins: &[f64], right: bool) -> Result<Array<i64>> {
        self.check()?;
        if bins.iter().any(|b| b.is_nan()) {
            return Err(invalid("digitize", "bins must not hold NaN".into()));
        }
        let increasing = bins.windows(2).all(|w| w[0] <= w[1]);
        if !increasing && !bins.windows(2).all(|w| w[0] >= w[1]) {
            let why = "bins must be monotonically increasing or decreasing".to_string();
            return Err(invalid("digitize", why));
        }
        let bins: Arc<[f64]> = bins.into();
        Ok(self.map(move |x| digitize(T::as_f64(x), &bins, right, increasing) as i64))
    }
}

/// The error of a `bincount` value outside its bins.
fn out_of_range(value: f64, bins: usize) -> Error {
    Error::Exec(ExecError::BinOutOfRange { value, bins })
}

/// NumPy's `histogramdd` of `samples`, one array per dimension (all of one shape, any
/// chunks: they are aligned on the first's), with `bins` per dimension: the counts as an
/// array of one axis per dimension, and the edges per dimension. Points outside any range
/// (or with a NaN coordinate) are not counted.
///
/// ```
/// use chunkwise::{Bins, histogramdd};
/// let x = chunkwise::from_ndarray(&ndarray::arr1(&[0.5, 1.5, 1.5]), [2])?;
/// let y = chunkwise::from_ndarray(&ndarray::arr1(&[0.5, 0.5, 3.0]), [3])?;
/// let bins = [Bins::count(2, (0.0, 2.0)), Bins::edges([0.0, 1.0, 4.0])];
/// let (counts, edges) = histogramdd(&[&x, &y], &bins)?;
/// assert_eq!(edges[1], vec![0.0, 1.0, 4.0]);
/// assert_eq!(counts.compute()?, ndarray::arr2(&[[1, 0], [1, 1]]).into_dyn());
/// # Ok::<(), chunkwise::Error>(())
/// ```
pub fn histogramdd<T: Numeric>(
    samples: &[&Array<T>],
    bins: &[Bins],
) -> Result<(Array<u64>, Vec<Vec<f64>>)> {
    counts("histogramdd", samples, bins)
}

/// [`histogramdd`] with `weights` (an array of the samples' shape) and `density` (the
/// sums divided by their total and the volume of each bin), as NumPy's.
pub fn histogramdd_weighted<T: Numeric>(
    samples: &[&Array<T>],
    bins: &[Bins],
    weights: Option<&Array<f64>>,
    density: bool,
) -> Result<(Array<f64>, Vec<Vec<f64>>)> {
    weighted("histogramdd", samples, bins, weights, density)
}

/// NumPy's `histogram2d(x, y, bins)`: [`histogramdd`] of two arrays, returning the counts
/// (`x` along axis 0) and the edges of `x` and of `y`.
///
/// ```
/// use chunkwise::{Bins, histogram2d};
/// let x = chunkwise::from_ndarray(&ndarray::arr1(&[0.0, 1.0, 2.0]), [2])?;
/// let (counts, _, y_edges) = histogram2d(&x, &x, &Bins::count(2, (0.0, 2.0)), &Bins::count(1, (0.0, 2.0)))?;
/// assert_eq!(y_edges, vec![0.0, 2.0]);
/// assert_eq!(counts.compute()?, ndarray::arr2(&[[1], [2]]).into_dyn());
/// # Ok::<(), chunkwise::Error>(())
/// ```
pub fn histogram2d<T: Numeric>(
    x: &Array<T>,
    y: &Array<T>,
    x_bins: &Bins,
    y_bins: &Bins,
) -> Result<(Array<u64>, Vec<f64>, Vec<f64>)> {
    let bins = [x_bins.clone(), y_bins.clone()];
    let (counts, mut edges) = self::counts("histogram2d", &[x, y], &bins)?;
    let y_edges = edges.pop().expect("two dimensions");
    let x_edges = edges.pop().expect("two dimensions");
    Ok((counts, x_edges, y_edges))
}

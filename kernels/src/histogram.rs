//! Binning values as NumPy's `histogram`, `digitize` and `bincount` do, one tile at a time.
//!
//! A value `x` falls in bin `i` of edges `e_0 <= e_1 <= ... <= e_n` when `e_i <= x < e_{i+1}`,
//! the last bin closed on the right (`e_{n-1} <= x <= e_n`); values outside `[e_0, e_n]`
//! and NaN fall in no bin. Of equal edges, the bin between them stays empty. Uniform bins
//! find a value's bin by one multiplication and then check it against the edges (as NumPy
//! does), so both kinds of bins give the same answer for the same edges.

use multiversion::multiversion;

use crate::dtype::Numeric;

/// The edges of the bins along one dimension, and a fast way to find a value's bin.
#[derive(Clone, Debug, PartialEq)]
pub struct BinEdges {
    edges: Vec<f64>,
    /// For bins of equal width: the first edge and bins per unit.
    uniform: Option<(f64, f64)>,
    /// For bins of equal width: how far (in bins) `(x - lo) * per_unit` may lie from
    /// where `x` falls among the computed edges, if well under a bin.
    tolerance: Option<f64>,
}

impl BinEdges {
    /// `count` bins of equal width over `[lo, hi]`, with NumPy's edges
    /// (`linspace(lo, hi, count + 1)`: `lo + i * (hi - lo) / count`, the last exactly `hi`).
    /// Where `lo == hi`, the range is `[lo - 0.5, hi + 0.5]`, as NumPy's.
    ///
    /// The caller checks that `count >= 1` and `lo <= hi` are finite.
    ///
    /// ```
    /// use chunkwise_kernels::histogram::BinEdges;
    /// let bins = BinEdges::uniform(4, 0.0, 1.0);
    /// assert_eq!(bins.edges(), &[0.0, 0.25, 0.5, 0.75, 1.0]);
    /// assert_eq!(bins.bin_of(1.0), Some(3));
    /// assert_eq!(bins.bin_of(0.25), Some(1));
    /// assert_eq!(bins.bin_of(f64::NAN), None);
    /// ```
    pub fn uniform(count: usize, lo: f64, hi: f64) -> BinEdges {
        debug_assert!(count >= 1 && lo <= hi, "checked by the caller");
        let (lo, hi) = match lo == hi {
            true => (lo - 0.5, hi + 0.5),
            false => (lo, hi),
        };
        let step = (hi - lo) / count as f64;
        let mut edges: Vec<f64> = (0..=count).map(|i| lo + i as f64 * step).collect();
        edges[count] = hi;
        let per_unit = count as f64 / (hi - lo);
        // The product and each edge carry a few roundings, each relative to the larger
        // of |lo|, |hi| (in bins: times `per_unit`) or to the bin index: 16 units of
        // roundoff of their sum bound them all, with room to spare.
        let tolerance =
            8.0 * f64::EPSILON * ((lo.abs() + hi.abs()) * per_unit + count as f64 + 1.0);
        BinEdges {
            edges,
            uniform: Some((lo, per_unit)),
            tolerance: (tolerance < 0.25).then_some(tolerance),
        }
    }

    /// Bins between the given edges; the caller checks that there are at least two and
    /// that they do not decrease.
    pub fn from_edges(edges: Vec<f64>) -> BinEdges {
        debug_assert!(edges.len() >= 2, "checked by the caller");
        BinEdges {
            edges,
            uniform: None,
            tolerance: None,
        }
    }

    /// The edges, one more than the bins.
    pub fn edges(&self) -> &[f64] {
        &self.edges
    }

    /// Number of bins.
    pub fn len(&self) -> usize {
        self.edges.len() - 1
    }

    /// Whether there is no bin (never, for bins made by the constructors).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bin of `x`, if any (see the module documentation).
    #[inline(always)]
    pub fn bin_of(&self, x: f64) -> Option<usize> {
        let e = &self.edges;
        let n = e.len() - 1;
        if !(x >= e[0] && x <= e[n]) {
            return None;
        }
        let mut i = match self.uniform {
            // In range, so the product is in [0, n] up to rounding: the cast saturates.
            Some((lo, per_unit)) => (((x - lo) * per_unit) as usize).min(n - 1),
            None => e.partition_point(|&edge| edge <= x).clamp(1, n) - 1,
        };
        // The multiplication may be one bin off at an edge; equal edges may need more steps.
        while i > 0 && x < e[i] {
            i -= 1;
        }
        while i + 1 < n && x >= e[i + 1] {
            i += 1;
        }
        Some(i)
    }
}

/// Hands `add(bin, j)` the flat bin (C order over the dimensions) of each element `j` that
/// falls in a bin of every dimension: `coords[d][j]` is the coordinate of element `j` along
/// dimension `d`, binned by `bins[d]`. All coordinate slices have the same length.
///
/// ```
/// use chunkwise_kernels::histogram::{BinEdges, fill_bins};
/// let bins = [BinEdges::uniform(2, 0.0, 2.0), BinEdges::from_edges(vec![0.0, 10.0, 20.0])];
/// let (x, y) = ([0.5f64, 1.5, 1.5, 3.0], [15.0f64, 5.0, 20.0, 1.0]);
/// let mut counts = [0u64; 4];
/// fill_bins(&bins, &[&x[..], &y[..]], |bin, _| counts[bin] += 1);
/// assert_eq!(counts, [0, 1, 1, 1]);
/// ```
#[inline]
pub fn fill_bins<T: Numeric>(
    bins: &[BinEdges],
    coords: &[&[T]],
    mut add: impl FnMut(usize, usize),
) {
    if let ([b], [xs]) = (bins, coords) {
        for (j, &x) in xs.iter().enumerate() {
            if let Some(i) = b.bin_of(T::as_f64(x)) {
                add(i, j);
            }
        }
        return;
    }
    let len = coords.first().map_or(0, |c| c.len());
    'elements: for j in 0..len {
        let mut flat = 0;
        for (b, xs) in bins.iter().zip(coords) {
            match b.bin_of(T::as_f64(xs[j])) {
                Some(i) => flat = flat * b.len() + i,
                None => continue 'elements,
            }
        }
        add(flat, j);
    }
}

/// Adds to `counts` (one per bin of `bins`) the number of values of `xs` in each bin: the
/// counts [`fill_bins`] gives for one dimension, faster for bins of equal width. The bin
/// of such a value is the integer part of `(x - lo) * per_unit` where its fraction is
/// farther from 0 and 1 than the rounding can move it (almost always); other values (near
/// an edge, outside the range, NaN) take [`BinEdges::bin_of`].
///
/// ```
/// use chunkwise_kernels::histogram::{BinEdges, count_bins};
/// let mut counts = [0u64; 2];
/// count_bins(&BinEdges::uniform(2, 0.0, 1.0), &[0.0, 0.5, 1.0, 2.0, f64::NAN], &mut counts);
/// assert_eq!(counts, [1, 2]);
/// ```
pub fn count_bins<T: Numeric>(bins: &BinEdges, xs: &[T], counts: &mut [u64]) {
    const BLOCK: usize = 512;
    let n = bins.len();
    assert_eq!(counts.len(), n, "one count per bin");
    let (Some((lo, per_unit)), Some(tolerance)) = (bins.uniform, bins.tolerance) else {
        return fill_bins(std::slice::from_ref(bins), &[xs], |bin, _| counts[bin] += 1);
    };
    if n >= i32::MAX as usize {
        return fill_bins(std::slice::from_ref(bins), &[xs], |bin, _| counts[bin] += 1);
    }
    // Bin `n` counts the values in no bin; dropped at the end.
    let mut all = vec![0u64; n + 1];
    let mut guessed = [0u32; BLOCK];
    for block in xs.chunks(BLOCK) {
        let guessed = &mut guessed[..block.len()];
        clear_bins(block, lo, per_unit, tolerance, n, guessed);
        for (&x, &bin) in block.iter().zip(guessed.iter()) {
            let bin = match bin {
                UNSURE => bins.bin_of(T::as_f64(x)).unwrap_or(n),
                clear => clear as usize,
            };
            all[bin] += 1;
        }
    }
    for (c, a) in counts.iter_mut().zip(&all) {
        *c += a;
    }
}

/// What [`clear_bins`] gives a value whose bin the product does not settle.
const UNSURE: u32 = u32::MAX;

/// Per value of `xs`, the integer part of `(x - lo) * per_unit` where its fraction is more
/// than `tolerance` from 0 and 1 and it is a bin below `n`, else [`UNSURE`]. No branch, so
/// the loop vectorises (compiled per instruction set).
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn clear_bins<T: Numeric>(
    xs: &[T],
    lo: f64,
    per_unit: f64,
    tolerance: f64,
    n: usize,
    out: &mut [u32],
) {
    let last = n as f64;
    for (o, &x) in out.iter_mut().zip(xs) {
        let f = (T::as_f64(x) - lo) * per_unit;
        // Clamped by selects (NaN becomes -1), which vectorise where `max`/`min` with
        // their NaN rules do not.
        let f = if f >= 0.0 { f } else { -1.0 };
        let f = if f < last { f } else { last };
        // SAFETY: `f` is finite and in [-1, n], and the caller checked n < i32::MAX, so
        // the conversion is exact and in range; the unchecked form is one vector
        // instruction where `as` adds saturation fix-ups that cost three times the loop.
        let i = unsafe { f.to_int_unchecked::<i32>() };
        let fraction = f - f64::from(i);
        let clear =
            (fraction > tolerance) & (fraction < 1.0 - tolerance) & (i >= 0) & (i < n as i32);
        *o = if clear { i as u32 } else { UNSURE };
    }
}

/// Hands `add(bin, j)` the value of each element `j` of `xs` as a bin of `bincount` with
/// `len` bins, or returns the first value that is negative or not below `len`.
///
/// ```
/// use chunkwise_kernels::histogram::fill_bincount;
/// let mut counts = [0u64; 3];
/// assert_eq!(fill_bincount(&[2i32, 0, 2], 3, |b, _| counts[b] += 1), Ok(()));
/// assert_eq!(counts, [1, 0, 2]);
/// assert_eq!(fill_bincount(&[1i32, 3], 3, |_, _| ()), Err(3.0));
/// ```
#[inline]
pub fn fill_bincount<T: Numeric>(
    xs: &[T],
    len: usize,
    mut add: impl FnMut(usize, usize),
) -> Result<(), f64> {
    for (j, &x) in xs.iter().enumerate() {
        let v = T::as_f64(x);
        if !(v >= 0.0 && v < len as f64) {
            return Err(v);
        }
        add(v as usize, j);
    }
    Ok(())
}

/// NumPy's `digitize(x, bins, right)`: for bins that increase, the number of edges `<= x`
/// (`< x` if `right`); for bins that decrease, the number of edges `> x` (`>= x` if
/// `right`). NaN sorts after every number, as in NumPy.
///
/// ```
/// use chunkwise_kernels::histogram::digitize;
/// let bins = [0.0, 1.0, 2.0];
/// assert_eq!(digitize(1.0, &bins, false, true), 2);
/// assert_eq!(digitize(1.0, &bins, true, true), 1);
/// assert_eq!(digitize(f64::NAN, &bins, false, true), 3);
/// assert_eq!(digitize(1.0, &[2.0, 1.0, 0.0], false, false), 1);
/// ```
#[inline]
pub fn digitize(x: f64, bins: &[f64], right: bool, increasing: bool) -> usize {
    if x.is_nan() {
        return if increasing { bins.len() } else { 0 };
    }
    match (increasing, right) {
        (true, false) => bins.partition_point(|&b| b <= x),
        (true, true) => bins.partition_point(|&b| b < x),
        (false, false) => bins.partition_point(|&b| b > x),
        (false, true) => bins.partition_point(|&b| b >= x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bin by the definition, searching the edges one by one.
    fn by_definition(edges: &[f64], x: f64) -> Option<usize> {
        let n = edges.len() - 1;
        if !(x >= edges[0] && x <= edges[n]) {
            return None;
        }
        (0..n).rev().find(|&i| edges[i] <= x)
    }

    #[test]
    fn uniform_bins_agree_with_the_definition_on_and_near_every_edge() {
        for &(count, lo, hi) in &[(7usize, -1.3, 2.9), (100, 0.0, 1.0), (3, 1e-300, 1e-299)] {
            let bins = BinEdges::uniform(count, lo, hi);
            for &e in bins.edges() {
                for x in [e, e.next_down(), e.next_up()] {
                    assert_eq!(bins.bin_of(x), by_definition(bins.edges(), x), "{x}");
                }
            }
        }
    }

    #[test]
    fn counting_agrees_with_binning_one_by_one() {
        let cases = [
            (7usize, -1.3, 2.9),
            (100, 0.0, 1.0),
            (5, 1e15, 1e15 + 3.0),
            (3, 2.0, 2.0),
        ];
        for (count, lo, hi) in cases {
            let bins = BinEdges::uniform(count, lo, hi);
            let mut xs: Vec<f64> = bins
                .edges()
                .iter()
                .flat_map(|&e| [e, e.next_down(), e.next_up()])
                .collect();
            xs.extend((0..1000).map(|k| lo - 1.0 + (hi - lo + 2.0) * k as f64 / 999.0));
            xs.extend([f64::NAN, f64::INFINITY, f64::NEG_INFINITY]);
            let mut fast = vec![0u64; count];
            count_bins(&bins, &xs, &mut fast);
            let mut slow = vec![0u64; count];
            for &x in &xs {
                if let Some(i) = by_definition(bins.edges(), x) {
                    slow[i] += 1;
                }
            }
            assert_eq!(fast, slow, "{count} bins over ({lo}, {hi})");
        }
    }

    #[test]
    fn equal_edges_leave_their_bin_empty() {
        let bins = BinEdges::from_edges(vec![0.0, 1.0, 1.0, 2.0]);
        assert_eq!(bins.bin_of(1.0), Some(2));
        assert_eq!(bins.bin_of(0.5), Some(0));
        let closed = BinEdges::from_edges(vec![0.0, 1.0, 1.0]);
        assert_eq!(closed.bin_of(1.0), Some(1));
    }

    #[test]
    fn an_empty_range_is_widened_by_a_half_each_side() {
        let bins = BinEdges::uniform(2, 3.0, 3.0);
        assert_eq!(bins.edges(), &[2.5, 3.0, 3.5]);
    }
}

//! Distinct values with their counts, in NumPy's `unique` order: ascending, every NaN after
//! every number and all NaN one value (`equal_nan=True`), `-0.0` and `0.0` one value.
//!
//! [`distinct`] finds them in one tile (a sort and one pass); [`merge_distinct`] merges
//! sorted lists of them (a k-way merge that sums the counts of equal values), so a tree of
//! merges finds them over many tiles.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::dtype::{DType, Element};

/// NumPy's order for `unique`: ascending, NaN after every number and equal to every NaN;
/// `-0.0` equals `0.0`.
///
/// ```
/// use chunkwise_kernels::unique::unique_order;
/// use std::cmp::Ordering;
/// assert_eq!(unique_order(&f64::NAN, &f64::INFINITY), Ordering::Greater);
/// assert_eq!(unique_order(&f64::NAN, &-f64::NAN), Ordering::Equal);
/// assert_eq!(unique_order(&-0.0, &0.0), Ordering::Equal);
/// assert_eq!(unique_order(&3i32, &-4), Ordering::Greater);
/// ```
#[inline]
pub fn unique_order<T: Element>(a: &T, b: &T) -> Ordering {
    match (T::is_nan(*a), T::is_nan(*b)) {
        (false, false) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
        (a_nan, b_nan) => a_nan.cmp(&b_nan),
    }
}

/// Distinct values in [`unique_order`], each with how many times it occurs.
///
/// ```
/// use chunkwise_kernels::unique::distinct;
/// let found = distinct(&[7u8, 7, 2]);
/// assert_eq!((found.len(), found.is_empty()), (2, false));
/// assert_eq!(found.nbytes(), 2 * (1 + 8));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counted<T> {
    /// The distinct values, ascending.
    pub values: Vec<T>,
    /// How many times each value occurs.
    pub counts: Vec<u64>,
}

impl<T: Element> Counted<T> {
    /// Number of distinct values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there is no value.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Bytes held (by the values and counts).
    pub fn nbytes(&self) -> usize {
        self.values.len() * size_of::<T>() + self.counts.len() * size_of::<u64>()
    }

    /// Appends `value`, met `count` times, not below the last value: it adds to the last
    /// count when it equals the last value.
    fn push(&mut self, value: T, count: u64) {
        match (self.values.last(), self.counts.last_mut()) {
            (Some(last), Some(n)) if unique_order(last, &value) == Ordering::Equal => *n += count,
            _ => {
                self.values.push(value);
                self.counts.push(count);
            }
        }
    }
}

/// The values a table of counts covers when `distinct` counts instead of sorting: the
/// offset that makes the type's lowest value 0, and the table's length. Only `bool` and the
/// integers of one or two bytes are counted so.
fn count_table<T: Element>() -> Option<(i64, usize)> {
    match T::DTYPE {
        DType::Bool | DType::U8 => Some((0, 1 << 8)),
        DType::I8 => Some((1 << 7, 1 << 8)),
        DType::U16 => Some((0, 1 << 16)),
        DType::I16 => Some((1 << 15, 1 << 16)),
        _ => None,
    }
}

/// Whether [`distinct`] counts `len` values of `T` in a table (O(len), for small integer
/// types once the tile is not much smaller than the table) rather than sorting a copy.
fn counts_in_table<T: Element>(len: usize) -> Option<(i64, usize)> {
    count_table::<T>().filter(|&(_, table)| len >= table / 8)
}

/// The scratch memory, in bytes, that [`distinct`] of `len` values of `T` needs besides
/// its result: a sorted copy of the values, or a table of counts.
///
/// ```
/// use chunkwise_kernels::unique::distinct_scratch;
/// assert_eq!(distinct_scratch::<f64>(1000), 8000);
/// assert_eq!(distinct_scratch::<u8>(1000), 256 * 8);
/// ```
pub fn distinct_scratch<T: Element>(len: usize) -> u64 {
    match counts_in_table::<T>(len) {
        Some((_, table)) => (table * size_of::<u64>()) as u64,
        None => (len * size_of::<T>()) as u64,
    }
}

/// The distinct values of `values` and their counts. Equal values (NaN of any payload,
/// zeros of either sign) keep one of them. Values of one or two bytes are counted in a
/// table, others sorted (see [`distinct_scratch`] for the memory each needs).
///
/// ```
/// use chunkwise_kernels::unique::distinct;
/// let found = distinct(&[3.0, f64::NAN, -0.0, 3.0, 0.0, f64::NAN, 1.5]);
/// assert_eq!(found.values[..3], [0.0, 1.5, 3.0]);
/// assert!(found.values[3].is_nan());
/// assert_eq!(found.counts, vec![2, 1, 2, 2]);
/// ```
pub fn distinct<T: Element>(values: &[T]) -> Counted<T> {
    match counts_in_table::<T>(values.len()) {
        Some((offset, table)) => distinct_by_table(values, offset, table),
        None => distinct_by_sorting(values),
    }
}

/// [`distinct`] through a table of `table` counts, value `v` at `v + offset`.
fn distinct_by_table<T: Element>(values: &[T], offset: i64, table: usize) -> Counted<T> {
    let mut seen = vec![0u64; table];
    for &v in values {
        seen[(v.cast::<i64>() + offset) as usize] += 1;
    }
    let (values, counts) = seen
        .iter()
        .enumerate()
        .filter(|&(_, &n)| n > 0)
        .map(|(k, &n)| ((k as i64 - offset).cast::<T>(), n))
        .unzip();
    Counted { values, counts }
}

/// [`distinct`] through a sorted copy of `values`, cut to its distinct values in place.
fn distinct_by_sorting<T: Element>(values: &[T]) -> Counted<T> {
    let mut sorted = values.to_vec();
    // NaN moved last first, so that the numbers sort with one comparison each.
    let numbers = nan_last(&mut sorted);
    sorted[..numbers].sort_unstable_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
    let mut counts = Vec::new();
    let mut kept = 0;
    for k in 0..sorted.len() {
        if kept > 0 && unique_order(&sorted[kept - 1], &sorted[k]) == Ordering::Equal {
            *counts.last_mut().expect("a count per kept value") += 1;
        } else {
            sorted[kept] = sorted[k];
            kept += 1;
            counts.push(1);
        }
    }
    sorted.truncate(kept);
    sorted.shrink_to_fit();
    counts.shrink_to_fit();
    Counted {
        values: sorted,
        counts,
    }
}

/// Moves the NaN of `values` after the other values (in no particular order); returns how
/// many values are not NaN. Nothing moves for integers.
fn nan_last<T: Element>(values: &mut [T]) -> usize {
    let mut numbers = 0;
    for k in 0..values.len() {
        if !T::is_nan(values[k]) {
            values.swap(numbers, k);
            numbers += 1;
        }
    }
    numbers
}

/// The head of one list in a merge: its next value, and the list's position (earlier
/// lists first among equal values, so the merge does not depend on the heap's order).
struct Head<T> {
    value: T,
    list: usize,
}

impl<T: Element> Ord for Head<T> {
    /// Reversed, so that the max-heap hands out the smallest head first.
    fn cmp(&self, other: &Self) -> Ordering {
        unique_order(&other.value, &self.value).then(other.list.cmp(&self.list))
    }
}

impl<T: Element> PartialOrd for Head<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T: Element> PartialEq for Head<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<T: Element> Eq for Head<T> {}

/// The distinct values of several [`Counted`] lists together, counts of equal values
/// summed: a k-way merge, in time linear in their total length (times `log k`).
///
/// ```
/// use chunkwise_kernels::unique::{distinct, merge_distinct};
/// let (a, b) = (distinct(&[5, 1, 5]), distinct(&[2, 5, 9, 9]));
/// let both = merge_distinct(&[&a, &b]);
/// assert_eq!(both.values, vec![1, 2, 5, 9]);
/// assert_eq!(both.counts, vec![1, 1, 3, 2]);
/// ```
pub fn merge_distinct<T: Element>(lists: &[&Counted<T>]) -> Counted<T> {
    let total: usize = lists.iter().map(|l| l.len()).sum();
    let mut out = Counted {
        values: Vec::with_capacity(total),
        counts: Vec::with_capacity(total),
    };
    let mut next = vec![0usize; lists.len()];
    let mut heap: BinaryHeap<Head<T>> = lists
        .iter()
        .enumerate()
        .filter_map(|(list, l)| l.values.first().map(|&value| Head { value, list }))
        .collect();
    while let Some(Head { value, list }) = heap.pop() {
        let at = next[list];
        out.push(value, lists[list].counts[at]);
        next[list] = at + 1;
        if let Some(&value) = lists[list].values.get(at + 1) {
            heap.push(Head { value, list });
        }
    }
    out.values.shrink_to_fit();
    out.counts.shrink_to_fit();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Lcg;

    /// Distinct values and counts by a quadratic scan: each value is compared with the
    /// ones already found.
    fn by_scan(values: &[f64]) -> Vec<(f64, u64)> {
        let same = |a: f64, b: f64| (a.is_nan() && b.is_nan()) || a == b;
        let mut found: Vec<(f64, u64)> = Vec::new();
        for &v in values {
            match found.iter_mut().find(|(f, _)| same(*f, v)) {
                Some((_, n)) => *n += 1,
                None => found.push((v, 1)),
            }
        }
        found.sort_by(|a, b| unique_order(&a.0, &b.0));
        found
    }

    fn pairs(c: &Counted<f64>) -> Vec<(f64, u64)> {
        c.values
            .iter()
            .copied()
            .zip(c.counts.iter().copied())
            .collect()
    }

    fn same_pairs(a: &[(f64, u64)], b: &[(f64, u64)]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| unique_order(&x.0, &y.0) == Ordering::Equal && x.1 == y.1)
    }

    /// Values drawn from a few, with NaN and both zeros among them.
    fn sample(rng: &mut Lcg, n: usize) -> Vec<f64> {
        let pool = [
            f64::NAN,
            -0.0,
            0.0,
            1.0,
            -2.5,
            f64::INFINITY,
            7.0,
            -f64::NAN,
        ];
        (0..n)
            .map(|_| pool[rng.below(pool.len() as u64) as usize])
            .collect()
    }

    #[test]
    fn distinct_matches_a_scan() {
        let mut rng = Lcg::new(11);
        for n in [0, 1, 2, 5, 40, 300] {
            let values = sample(&mut rng, n);
            assert!(
                same_pairs(&pairs(&distinct(&values)), &by_scan(&values)),
                "{values:?}"
            );
        }
    }

    #[test]
    fn small_integers_counted_in_a_table_match_sorting() {
        let mut rng = Lcg::new(13);
        for n in [0, 10, 40, 5000, 20000] {
            let wide: Vec<i64> = (0..n).map(|_| rng.int(-40000, 40000)).collect();
            let i16s: Vec<i16> = wide.iter().map(|&v| v as i16).collect();
            let u16s: Vec<u16> = wide.iter().map(|&v| v as u16).collect();
            let i8s: Vec<i8> = wide.iter().map(|&v| v as i8).collect();
            let bools: Vec<bool> = wide.iter().map(|&v| v % 3 == 0).collect();
            assert_eq!(distinct(&i16s), distinct_by_sorting(&i16s));
            assert_eq!(distinct(&u16s), distinct_by_sorting(&u16s));
            assert_eq!(distinct(&i8s), distinct_by_sorting(&i8s));
            assert_eq!(distinct(&bools), distinct_by_sorting(&bools));
        }
        assert!(counts_in_table::<i16>(20000).is_some());
        assert!(counts_in_table::<i8>(40).is_some());
        assert!(counts_in_table::<i16>(10).is_none());
    }

    #[test]
    fn merging_lists_matches_distinct_of_them_all() {
        let mut rng = Lcg::new(12);
        for k in [0, 1, 2, 3, 16] {
            let parts: Vec<Vec<f64>> = (0..k)
                .map(|_| {
                    let n = rng.below(30) as usize;
                    sample(&mut rng, n)
                })
                .collect();
            let lists: Vec<Counted<f64>> = parts.iter().map(|p| distinct(p)).collect();
            let merged = merge_distinct(&lists.iter().collect::<Vec<_>>());
            let all: Vec<f64> = parts.concat();
            assert!(same_pairs(&pairs(&merged), &by_scan(&all)), "{parts:?}");
        }
    }
}

//! The `k` best of a run of values, as NumPy orders them: NaN after every number (so it
//! counts as the largest), ties broken by position (the earlier first), so results do not
//! depend on how the values were split into tiles.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::dtype::Element;

/// NumPy's sort order of two values: NaN after every number, NaN equal to NaN.
#[inline(always)]
pub fn sort_order<T: Element>(a: T, b: T) -> Ordering {
    match (T::is_nan(a), T::is_nan(b)) {
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
    }
}

/// A candidate in the heap: the heap's top is the worst kept candidate.
struct Candidate<T> {
    value: T,
    position: u64,
    largest: bool,
}

impl<T: Element> Candidate<T> {
    /// `Less` when `self` is better (comes first in the result).
    fn rank(&self, other: &Self) -> Ordering {
        let by_value = sort_order(self.value, other.value);
        let by_value = if self.largest {
            by_value.reverse()
        } else {
            by_value
        };
        by_value.then(self.position.cmp(&other.position))
    }
}

impl<T: Element> PartialEq for Candidate<T> {
    fn eq(&self, other: &Self) -> bool {
        self.rank(other) == Ordering::Equal
    }
}
impl<T: Element> Eq for Candidate<T> {}
impl<T: Element> PartialOrd for Candidate<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T: Element> Ord for Candidate<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank(other)
    }
}

/// The `k` best `(value, position)` pairs of `items`, best first: the largest values if
/// `largest`, else the smallest; of equal values, the smaller position. Fewer than `k` if
/// there are fewer items. One comparison per item once `k` are held (a heap of `k`).
///
/// ```
/// use chunkwise_kernels::topk::top_k;
/// let xs = [3.0, f64::NAN, 5.0, 3.0, -1.0];
/// let items = xs.iter().copied().zip(0u64..);
/// let best = top_k(items.clone(), 3, true);
/// assert!(best[0].0.is_nan());
/// assert_eq!(&best[1..], &[(5.0, 2), (3.0, 0)]);
/// assert_eq!(top_k(items, 2, false), vec![(-1.0, 4), (3.0, 0)]);
/// ```
pub fn top_k<T: Element>(
    items: impl Iterator<Item = (T, u64)>,
    k: usize,
    largest: bool,
) -> Vec<(T, u64)> {
    if k == 0 {
        return Vec::new();
    }
    let mut heap: BinaryHeap<Candidate<T>> = BinaryHeap::with_capacity(k + 1);
    // The value of the worst kept candidate once `k` are held: a value strictly worse
    // (false for NaN on either side) is rejected by one comparison.
    let mut threshold: Option<T> = None;
    for (value, position) in items {
        if let Some(t) = threshold
            && (if largest { value < t } else { value > t })
        {
            continue;
        }
        let candidate = Candidate {
            value,
            position,
            largest,
        };
        if heap.len() < k {
            heap.push(candidate);
        } else if let Some(mut worst) = heap.peek_mut()
            && candidate < *worst
        {
            *worst = candidate;
        }
        if heap.len() == k {
            threshold = heap.peek().map(|worst| worst.value);
        }
    }
    heap.into_sorted_vec()
        .into_iter()
        .map(|c| (c.value, c.position))
        .collect()
}

/// Sorts `values` as NumPy's `sort` does (NaN last), and `positions` with them: the result
/// is stable, so `positions` become NumPy's stable `argsort` when they start as `0..n`.
///
/// ```
/// use chunkwise_kernels::topk::sort_with_positions;
/// let mut v = vec![2.0, f64::NAN, 1.0, 2.0];
/// let mut p: Vec<u64> = (0..4).collect();
/// sort_with_positions(&mut v, &mut p);
/// assert_eq!(p, vec![2, 0, 3, 1]);
/// ```
pub fn sort_with_positions<T: Element>(values: &mut [T], positions: &mut [u64]) {
    let mut pairs: Vec<(T, u64)> = values
        .iter()
        .copied()
        .zip(positions.iter().copied())
        .collect();
    pairs.sort_by(|a, b| sort_order(a.0, b.0));
    for ((v, p), (value, position)) in values.iter_mut().zip(positions.iter_mut()).zip(pairs) {
        *v = value;
        *p = position;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_is_the_head_of_a_stable_sort() {
        let xs: Vec<i32> = (0..200).map(|i| (i * 37 % 23) - 11).collect();
        for k in [1, 5, 23, 200, 300] {
            for largest in [true, false] {
                let mut all: Vec<(i32, u64)> = xs.iter().copied().zip(0u64..).collect();
                all.sort_by(|a, b| match largest {
                    true => b.0.cmp(&a.0),
                    false => a.0.cmp(&b.0),
                });
                all.truncate(k);
                assert_eq!(top_k(xs.iter().copied().zip(0u64..), k, largest), all);
            }
        }
    }
}

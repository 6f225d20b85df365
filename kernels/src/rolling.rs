//! Reductions over sliding windows along one axis: NumPy's
//! `sliding_window_view(x, w, axis).<op>(axis=-1)`, every lane in O(n) whatever the window.
//!
//! One driver ([`rolling`]) slides a window along each lane and asks a small per-reduction
//! state for each window's value: running compensated sums for sums and means, running
//! shifted sums of deviations for variances, a monotone deque for minima and maxima. Every
//! `w` windows the state starts over from the window's own elements (O(w) work every `w`
//! steps, so O(n) in all), so rounding errors never build up along the lane, and an
//! infinity or NaN that has left the window leaves no trace.

use std::collections::VecDeque;

use ndarray::{ArrayD, ArrayView1, ArrayViewD, Axis, IxDyn, Zip};

use crate::dtype::{Element, Numeric, Scalar};

/// The reduction over each window.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum RollingOp {
    /// The window's sum (accumulated in f64, compensated, and returned in the element type).
    Sum,
    /// The window's mean (accumulated as [`RollingOp::Sum`]).
    Mean,
    /// The window's variance with `ddof` delta degrees of freedom, divided by
    /// `max(w - ddof, 0)` as NumPy and the crate's `var` divide (an infinity where the
    /// window has no more than `ddof` elements, NaN if they are also all equal).
    Var {
        /// Delta degrees of freedom: the sum of squared deviations is divided by `w - ddof`.
        ddof: f64,
    },
    /// The square root of [`RollingOp::Var`].
    Std {
        /// Delta degrees of freedom.
        ddof: f64,
    },
    /// The window's smallest element (NaN if the window holds a NaN, as `np.min`).
    Min,
    /// The window's largest element (NaN if the window holds a NaN, as `np.max`).
    Max,
}

/// The reduction of every window of `window` consecutive elements of `x` along `axis`:
/// the result has `n - window + 1` elements along `axis` (none if `window > n`), element
/// `i` reducing `x[i..i + window]`; the other axes are `x`'s.
///
/// Sums, means and variances are accumulated in f64, non-finite values counted apart (a
/// window with a NaN, or with both infinities, sums to NaN; one with an infinity to it; a
/// variance with any of them is NaN, as NumPy's two-pass one is). A variance whose window
/// holds one value repeated is exactly 0. Every state starts over from the window's own
/// elements every `window` steps (and a variance also when it would lose more than a few
/// bits to cancellation, after a jump in the data), so no error builds up along the lane.
///
/// Panics if `window` is 0 or `axis` is out of range (the graph layer checks both).
///
/// ```
/// use chunkwise_kernels::rolling::{RollingOp, rolling};
/// let x = ndarray::arr1(&[1.0, 3.0, f64::NAN, 2.0, 5.0, 4.0]).into_dyn();
/// let max = rolling(x.view(), 0, 2, RollingOp::Max);
/// assert_eq!(max.as_slice().unwrap()[3..], [5.0, 5.0]);
/// assert!(max[[1]].is_nan());
/// let sum = rolling(x.view(), 0, 3, RollingOp::Sum);
/// assert_eq!(sum.as_slice().unwrap()[3], 11.0);
/// ```
pub fn rolling<T: Numeric>(
    x: ArrayViewD<'_, T>,
    axis: usize,
    window: usize,
    op: RollingOp,
) -> ArrayD<T> {
    assert!(window > 0, "a window of 0 elements");
    let n = x.len_of(Axis(axis));
    let m = (n + 1).saturating_sub(window);
    let mut shape = x.shape().to_vec();
    shape[axis] = m;
    let mut out = ArrayD::from_elem(IxDyn(&shape), T::default());
    if m == 0 || out.is_empty() {
        return out;
    }
    let target = Target {
        x,
        out: &mut out,
        axis,
        window,
    };
    match op {
        RollingOp::Sum => target.fill(Sums::new(false)),
        RollingOp::Mean => target.fill(Sums::new(true)),
        RollingOp::Var { ddof } => target.fill(Deviations::new(ddof, false)),
        RollingOp::Std { ddof } => target.fill(Deviations::new(ddof, true)),
        RollingOp::Min => target.fill(Extremes::new(false)),
        RollingOp::Max => target.fill(Extremes::new(true)),
    }
    out
}

/// The scratch memory (bytes) [`rolling`] needs beyond its input and output, for lanes of
/// `lane_len` elements of `T`: a copy of the lane and its results, and the deque of
/// [`RollingOp::Min`] and [`RollingOp::Max`].
pub fn rolling_scratch<T: Element>(lane_len: usize, window: usize, op: RollingOp) -> usize {
    let lanes = 2 * lane_len * size_of::<T>();
    match op {
        RollingOp::Min | RollingOp::Max => lanes + window.min(lane_len) * size_of::<(usize, T)>(),
        _ => lanes,
    }
}

/// The running state of one reduction over a window sliding along a lane.
trait WindowState<T> {
    /// Starts over on `window`, whose first element is at `start` in the lane.
    fn anchor(&mut self, start: usize, window: &[T]);
    /// Slides the window by one: `old` (its index in the lane, and its value) leaves,
    /// `new` enters.
    fn slide(&mut self, old: (usize, T), new: (usize, T));
    /// The window's reduction.
    fn value(&self) -> T;
    /// Whether the state has lost too much accuracy to go on sliding, so that the driver
    /// starts it over on the current window.
    fn stale(&self) -> bool {
        false
    }
}

/// Where [`rolling`] writes: the input, the output, the axis and the window.
struct Target<'a, 'b, T> {
    x: ArrayViewD<'a, T>,
    out: &'b mut ArrayD<T>,
    axis: usize,
    window: usize,
}

impl<T: Numeric> Target<'_, '_, T> {
    /// Slides `state` along every lane.
    fn fill<S: WindowState<T>>(self, mut state: S) {
        let w = self.window;
        let m = self.out.len_of(Axis(self.axis));
        let (mut lane_buf, mut values) = (Vec::new(), vec![T::default(); m]);
        Zip::from(self.x.lanes(Axis(self.axis)))
            .and(self.out.lanes_mut(Axis(self.axis)))
            .for_each(|lane, mut out| {
                lane_buf.clear();
                lane_buf.extend(lane.iter().copied());
                let x = &lane_buf[..];
                for (j, v) in values.iter_mut().enumerate() {
                    if j % w != 0 {
                        state.slide((j - 1, x[j - 1]), (j + w - 1, x[j + w - 1]));
                    }
                    if j % w == 0 || state.stale() {
                        state.anchor(j, &x[j..j + w]);
                    }
                    *v = state.value();
                }
                out.assign(&ArrayView1::from(&values[..]));
            });
    }
}

fn nan<T: Element>() -> T {
    T::from_scalar(Scalar::Float(f64::NAN))
}

/// A Neumaier-compensated f64 sum: `hi + lo` is the sum of the values added, with an error
/// that does not grow with their number.
#[derive(Clone, Copy, Debug, Default)]
struct Compensated {
    hi: f64,
    lo: f64,
}

impl Compensated {
    fn add(&mut self, x: f64) {
        let t = self.hi + x;
        self.lo += if self.hi.abs() >= x.abs() {
            (self.hi - t) + x
        } else {
            (x - t) + self.hi
        };
        self.hi = t;
    }

    fn value(&self) -> f64 {
        self.hi + self.lo
    }
}

/// The non-finite values of a window, counted apart from the finite ones.
#[derive(Clone, Copy, Debug, Default)]
struct NonFinite {
    nan: usize,
    pos_inf: usize,
    neg_inf: usize,
}

impl NonFinite {
    /// Counts `x` (`by` is 1 as it enters, -1 as it leaves) if it is not finite; whether it
    /// is finite.
    fn count(&mut self, x: f64, by: isize) -> bool {
        let slot = if x.is_nan() {
            &mut self.nan
        } else if x == f64::INFINITY {
            &mut self.pos_inf
        } else if x == f64::NEG_INFINITY {
            &mut self.neg_inf
        } else {
            return true;
        };
        *slot = slot.wrapping_add_signed(by);
        false
    }

    /// The sum of the window if it holds a non-finite value: NaN with a NaN or with both
    /// infinities, else the infinity it holds.
    fn sum(&self) -> Option<f64> {
        match (self.nan > 0, self.pos_inf > 0, self.neg_inf > 0) {
            (true, _, _) | (_, true, true) => Some(f64::NAN),
            (_, true, false) => Some(f64::INFINITY),
            (_, false, true) => Some(f64::NEG_INFINITY),
            _ => None,
        }
    }
}

/// Running sums (and means) of a window: the finite values compensated, the others counted.
struct Sums {
    mean: bool,
    count: usize,
    sum: Compensated,
    non_finite: NonFinite,
}

impl Sums {
    fn new(mean: bool) -> Sums {
        Sums {
            mean,
            count: 0,
            sum: Compensated::default(),
            non_finite: NonFinite::default(),
        }
    }

    fn add(&mut self, x: f64, by: isize) {
        if self.non_finite.count(x, by) {
            self.sum.add(if by > 0 { x } else { -x });
        }
    }
}

impl<T: Numeric> WindowState<T> for Sums {
    fn anchor(&mut self, _: usize, window: &[T]) {
        *self = Sums::new(self.mean);
        self.count = window.len();
        for &x in window {
            self.add(T::as_f64(x), 1);
        }
    }

    fn slide(&mut self, old: (usize, T), new: (usize, T)) {
        self.add(T::as_f64(old.1), -1);
        self.add(T::as_f64(new.1), 1);
    }

    fn value(&self) -> T {
        let sum = self.non_finite.sum().unwrap_or_else(|| self.sum.value());
        let v = if self.mean {
            sum / self.count as f64
        } else {
            sum
        };
        T::from_scalar(Scalar::Float(v))
    }
}

/// Running sums of the deviations of a window's values from a shift (the mean of the
/// window it last started over on): `m2 = S2 - S1^2 / n`, with both sums compensated.
/// `m2` loses the bits by which `S2` exceeds it; where that passes [`STALE_BITS`] (the
/// window's mean has moved far from the shift, after a jump in the data) the state starts
/// over on the window, two-pass. A state starts over at most once per step, and a fresh
/// one is not stale, so a lane costs O(n) unless its windows' means keep jumping.
struct Deviations {
    ddof: f64,
    std: bool,
    count: usize,
    shift: f64,
    s1: Compensated,
    s2: Compensated,
    non_finite: NonFinite,
    /// How many equal values end the window (a window of one value repeated has variance 0
    /// exactly), and the last of them.
    same: usize,
    last: f64,
}

impl Deviations {
    fn new(ddof: f64, std: bool) -> Deviations {
        Deviations {
            ddof,
            std,
            count: 0,
            shift: 0.0,
            s1: Compensated::default(),
            s2: Compensated::default(),
            non_finite: NonFinite::default(),
            same: 0,
            last: f64::NAN,
        }
    }

    fn add(&mut self, x: f64, by: isize) {
        if self.non_finite.count(x, by) {
            let d = x - self.shift;
            let sign = by as f64;
            self.s1.add(sign * d);
            self.s2.add(sign * (d * d));
        }
    }

    /// Notes `x` as the newest element of the window.
    fn newest(&mut self, x: f64) {
        self.same = if x == self.last { self.same + 1 } else { 1 };
        self.last = x;
    }
}

/// The bits of accuracy a running variance may lose before it starts over.
const STALE_BITS: i32 = 10;

impl Deviations {
    /// The sum of squared deviations from the window's mean, and the sum of squared
    /// deviations from the shift it is computed from.
    fn m2(&self) -> (f64, f64) {
        let s1 = self.s1.value();
        let s2 = self.s2.value();
        ((s2 - s1 * s1 / self.count as f64).max(0.0), s2)
    }
}

impl<T: Numeric> WindowState<T> for Deviations {
    fn anchor(&mut self, _: usize, window: &[T]) {
        let mut fresh = Deviations::new(self.ddof, self.std);
        let mut sum = Compensated::default();
        let mut finite = 0usize;
        for &x in window {
            let x = T::as_f64(x);
            if x.is_finite() {
                sum.add(x);
                finite += 1;
            }
        }
        fresh.shift = if finite > 0 {
            sum.value() / finite as f64
        } else {
            0.0
        };
        fresh.count = window.len();
        for &x in window {
            let x = T::as_f64(x);
            fresh.add(x, 1);
            fresh.newest(x);
        }
        *self = fresh;
    }

    fn slide(&mut self, old: (usize, T), new: (usize, T)) {
        let new = T::as_f64(new.1);
        self.add(T::as_f64(old.1), -1);
        self.add(new, 1);
        self.newest(new);
    }

    fn value(&self) -> T {
        // Divided by `max(n - ddof, 0)`, as NumPy divides: 0 / 0 is NaN.
        let dof = (self.count as f64 - self.ddof).max(0.0);
        let var = if self.non_finite.sum().is_some() {
            f64::NAN
        } else if self.same >= self.count {
            0.0 / dof
        } else {
            self.m2().0 / dof
        };
        T::from_scalar(Scalar::Float(if self.std { var.sqrt() } else { var }))
    }

    fn stale(&self) -> bool {
        let (m2, s2) = self.m2();
        self.non_finite.sum().is_none()
            && self.same < self.count
            && m2 < s2 * f64::powi(2.0, -STALE_BITS)
    }
}

/// The window's extreme: a deque of the candidates (index, value), best first, each better
/// than every later one and later than every earlier one; NaNs are only counted.
struct Extremes<T> {
    max: bool,
    deque: VecDeque<(usize, T)>,
    nan: usize,
}

impl<T: Numeric> Extremes<T> {
    fn new(max: bool) -> Extremes<T> {
        Extremes {
            max,
            deque: VecDeque::new(),
            nan: 0,
        }
    }

    fn push(&mut self, i: usize, x: T) {
        if <T as Element>::is_nan(x) {
            self.nan += 1;
            return;
        }
        // Candidates no better than x can never be the extreme again.
        while let Some(&(_, b)) = self.deque.back() {
            if (self.max && b <= x) || (!self.max && b >= x) {
                self.deque.pop_back();
            } else {
                break;
            }
        }
        self.deque.push_back((i, x));
    }
}

impl<T: Numeric> WindowState<T> for Extremes<T> {
    fn anchor(&mut self, start: usize, window: &[T]) {
        self.deque.clear();
        self.nan = 0;
        for (k, &x) in window.iter().enumerate() {
            self.push(start + k, x);
        }
    }

    fn slide(&mut self, (i, x): (usize, T), new: (usize, T)) {
        if <T as Element>::is_nan(x) {
            self.nan -= 1;
        } else if self.deque.front().is_some_and(|&(j, _)| j == i) {
            self.deque.pop_front();
        }
        self.push(new.0, new.1);
    }

    fn value(&self) -> T {
        match self.deque.front() {
            Some(&(_, v)) if self.nan == 0 => v,
            _ => nan(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Lcg;
    use ndarray::{ArrayD, Dimension};

    /// Each window reduced from scratch: f64 sums, two-pass variances.
    fn naive(x: &[f64], w: usize, op: RollingOp) -> Vec<f64> {
        x.windows(w)
            .map(|win| {
                let sum: f64 = win.iter().sum();
                let mean = sum / w as f64;
                let m2: f64 = win.iter().map(|v| (v - mean) * (v - mean)).sum();
                let var = |ddof: f64| m2 / (w as f64 - ddof).max(0.0);
                let ext = |max: bool| {
                    win.iter().copied().fold(None::<f64>, |acc, v| match acc {
                        Some(a) if a.is_nan() => Some(a),
                        _ if v.is_nan() => Some(v),
                        Some(a) if (max && a >= v) || (!max && a <= v) => Some(a),
                        _ => Some(v),
                    })
                };
                match op {
                    RollingOp::Sum => sum,
                    RollingOp::Mean => mean,
                    RollingOp::Var { ddof } => var(ddof),
                    RollingOp::Std { ddof } => var(ddof).sqrt(),
                    RollingOp::Min => ext(false).unwrap(),
                    RollingOp::Max => ext(true).unwrap(),
                }
            })
            .collect()
    }

    const OPS: [RollingOp; 7] = [
        RollingOp::Sum,
        RollingOp::Mean,
        RollingOp::Var { ddof: 0.0 },
        RollingOp::Std { ddof: 1.0 },
        RollingOp::Var { ddof: 3.0 },
        RollingOp::Min,
        RollingOp::Max,
    ];

    fn close(a: f64, e: f64, tol: f64) -> bool {
        (a.is_nan() && e.is_nan()) || a == e || (a - e).abs() <= tol
    }

    #[test]
    fn windows_match_a_naive_reduction_with_nan_and_infinities() {
        let mut g = Lcg::new(5);
        for case in 0..60 {
            let n = 1 + g.below(40) as usize;
            let x: Vec<f64> = (0..n)
                .map(|_| match g.below(30) {
                    0 if case % 3 == 0 => f64::NAN,
                    1 if case % 4 == 0 => f64::INFINITY,
                    2 if case % 5 == 0 => f64::NEG_INFINITY,
                    3 | 4 => 2.5,
                    _ => g.range(-10.0, 10.0),
                })
                .collect();
            for w in [1, 2, 3, n / 2 + 1, n] {
                for op in OPS {
                    let got = rolling(
                        ArrayD::from_shape_vec(IxDyn(&[n]), x.clone())
                            .unwrap()
                            .view(),
                        0,
                        w,
                        op,
                    );
                    let expected = naive(&x, w, op);
                    assert_eq!(got.len(), n - w + 1);
                    for (k, (&a, &e)) in got.iter().zip(&expected).enumerate() {
                        assert!(
                            close(a, e, 1e-12 * w as f64 * 100.0),
                            "{op:?} w {w} at {k}: {a} vs {e} in {x:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn lanes_along_any_axis_and_integers() {
        let x = ArrayD::from_shape_fn(IxDyn(&[3, 5, 2]), |i| {
            ((i[0] * 7 + i[1] * 3 + i[2] * 5) % 11) as i32 - 4
        });
        for axis in 0..3 {
            let w = 2;
            let max = rolling(x.view(), axis, w, RollingOp::Max);
            let min = rolling(x.view(), axis, w, RollingOp::Min);
            let mut shape = x.shape().to_vec();
            shape[axis] -= w - 1;
            assert_eq!(max.shape(), &shape[..]);
            for (idx, &v) in max.indexed_iter() {
                let mut at = idx.slice().to_vec();
                let a = x[&at[..]];
                at[axis] += 1;
                let b = x[&at[..]];
                assert_eq!((v, min[&idx]), (a.max(b), a.min(b)));
            }
        }
        // A window longer than the axis leaves it empty.
        assert_eq!(rolling(x.view(), 0, 4, RollingOp::Sum).shape(), &[0, 5, 2]);
    }

    #[test]
    fn sums_do_not_keep_the_rounding_of_values_that_left_the_window() {
        // A huge value, then ones: once it has left, the windows sum to exactly 3.
        let mut x = vec![1e17, -3e16];
        x.extend(std::iter::repeat_n(1.0, 1000));
        let sums = rolling(ndarray::arr1(&x).into_dyn().view(), 0, 3, RollingOp::Sum);
        assert!(
            sums.iter().skip(2).all(|&s| s == 3.0),
            "{:?}",
            &sums.as_slice().unwrap()[..8]
        );
        // An infinity that left the window leaves no NaN behind.
        let x = [f64::INFINITY, 1.0, 2.0, 3.0, 4.0];
        let sums = rolling(ndarray::arr1(&x).into_dyn().view(), 0, 2, RollingOp::Sum);
        assert_eq!(sums.as_slice().unwrap(), [f64::INFINITY, 3.0, 5.0, 7.0]);
        // A long lane of values with a large offset: variances as the two-pass ones.
        let mut g = Lcg::new(9);
        let x: Vec<f64> = (0..5000)
            .map(|i| 1e6 + i as f64 * 0.5 + g.range(-1.0, 1.0))
            .collect();
        let var = rolling(
            ndarray::arr1(&x).into_dyn().view(),
            0,
            7,
            RollingOp::Var { ddof: 1.0 },
        );
        for (a, e) in var.iter().zip(naive(&x, 7, RollingOp::Var { ddof: 1.0 })) {
            assert!((a - e).abs() <= 1e-9 * e.abs(), "{a} vs {e}");
        }
        // Constant windows have variance 0 exactly.
        let x = [0.1, 0.1, 0.1, 0.1, 0.3, 0.3, 0.3];
        let var = rolling(
            ndarray::arr1(&x).into_dyn().view(),
            0,
            3,
            RollingOp::Var { ddof: 0.0 },
        );
        assert_eq!((var[[0]], var[[1]], var[[4]]), (0.0, 0.0, 0.0));
    }

    #[test]
    fn scratch_counts_the_lane_copies_and_the_deque() {
        assert_eq!(rolling_scratch::<f64>(10, 3, RollingOp::Sum), 160);
        assert_eq!(rolling_scratch::<f32>(10, 30, RollingOp::Max), 80 + 10 * 16);
    }
}

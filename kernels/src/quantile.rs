//! Quantiles of lanes (the values along the reduced axes, for each position of the other
//! axes) by selection, not sorting: O(n) per lane and quantile.

use crate::dtype::Numeric;

/// How a quantile between two data points is taken, as NumPy's `method`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum QuantileMethod {
    /// Linear interpolation between the two neighbours (NumPy's default).
    #[default]
    Linear,
    /// The lower neighbour.
    Lower,
    /// The higher neighbour.
    Higher,
    /// The nearer neighbour (halves to the even index, as NumPy's).
    Nearest,
    /// The mean of the two neighbours.
    Midpoint,
}

/// NumPy's interpolation between `a` and `b` at `t` in [0, 1]: from the nearer end, and
/// `a` itself when `a == b`.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    if a == b {
        return a;
    }
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

/// The quantile `q` (in [0, 1]) of `values` (not empty, no NaN) by `method`; reorders
/// `values`.
///
/// ```
/// use chunkwise_kernels::quantile::{QuantileMethod, quantile_of};
/// let mut v = [4.0, 1.0, 3.0, 2.0];
/// assert_eq!(quantile_of(&mut v, 0.5, QuantileMethod::Linear), 2.5);
/// assert_eq!(quantile_of(&mut v, 0.5, QuantileMethod::Lower), 2.0);
/// ```
pub fn quantile_of(values: &mut [f64], q: f64, method: QuantileMethod) -> f64 {
    let n = values.len();
    let h = (n - 1) as f64 * q;
    let lo = (h.floor() as usize).min(n - 1);
    let hi = (lo + 1).min(n - 1);
    let (_, &mut low, right) = values.select_nth_unstable_by(lo, f64::total_cmp);
    let high = || match hi == lo {
        true => low,
        false => right.iter().copied().fold(f64::INFINITY, f64::min),
    };
    match method {
        QuantileMethod::Lower => low,
        QuantileMethod::Higher if h > lo as f64 => high(),
        QuantileMethod::Higher => low,
        QuantileMethod::Nearest => {
            let frac = h - lo as f64;
            let up = frac > 0.5 || (frac == 0.5 && lo % 2 == 1);
            if up { high() } else { low }
        }
        // As NumPy: halfway by `lerp`, which does not overflow where `low + high` would.
        QuantileMethod::Midpoint if h > lo as f64 => lerp(low, high(), 0.5),
        QuantileMethod::Midpoint => low,
        QuantileMethod::Linear => lerp(low, high(), h - lo as f64),
    }
}

/// Lanes gathered at a time from a tile whose lanes are strided.
const LANES: usize = 16;

/// The quantiles `qs` of each lane of a C-order tile seen as `outer` x `len` x `inner`
/// (a lane: the `len` values at one `(outer, inner)` position, read as f64), written to
/// `out` as
/// `qs.len()` x `outer` x `inner`. A lane holding NaN gives NaN, or with `skip_nan` its
/// other values do (NaN when there are none). `len` must be at least 1.
///
/// ```
/// use chunkwise_kernels::quantile::{QuantileMethod, lane_quantiles};
/// // A 3 x 2 tile: the median of each column (outer 1, len 3, inner 2).
/// let tile = [1.0, 10.0, 3.0, f64::NAN, 2.0, 30.0];
/// let mut out = [0.0; 2];
/// lane_quantiles(&tile, (1, 3, 2), &[0.5], QuantileMethod::Linear, true, &mut out);
/// assert_eq!(out, [2.0, 20.0]);
/// ```
pub fn lane_quantiles<T: Numeric>(
    data: &[T],
    (outer, len, inner): (usize, usize, usize),
    qs: &[f64],
    method: QuantileMethod,
    skip_nan: bool,
    out: &mut [f64],
) {
    debug_assert_eq!(data.len(), outer * len * inner);
    debug_assert_eq!(out.len(), qs.len() * outer * inner);
    let lanes = outer * inner;
    let mut buffer = vec![0.0; LANES * len];
    for o in 0..outer {
        let block = &data[o * len * inner..(o + 1) * len * inner];
        for i0 in (0..inner).step_by(LANES) {
            let width = LANES.min(inner - i0);
            // Gather `width` lanes: row r holds `width` contiguous values.
            for r in 0..len {
                let row = &block[r * inner + i0..r * inner + i0 + width];
                for (w, &x) in row.iter().enumerate() {
                    buffer[w * len + r] = T::as_f64(x);
                }
            }
            for w in 0..width {
                let lane = &mut buffer[w * len..(w + 1) * len];
                let at = o * inner + i0 + w;
                write_quantiles(lane, qs, method, skip_nan, |k, v| out[k * lanes + at] = v);
            }
        }
    }
}

/// The quantiles of one lane, handed to `put(k, value)` for quantile `k`.
fn write_quantiles(
    lane: &mut [f64],
    qs: &[f64],
    method: QuantileMethod,
    skip_nan: bool,
    mut put: impl FnMut(usize, f64),
) {
    let mut kept = lane.len();
    if lane.iter().any(|x| x.is_nan()) {
        if !skip_nan {
            return (0..qs.len()).for_each(|k| put(k, f64::NAN));
        }
        kept = 0;
        for i in 0..lane.len() {
            if !lane[i].is_nan() {
                lane[kept] = lane[i];
                kept += 1;
            }
        }
    }
    for (k, &q) in qs.iter().enumerate() {
        let value = match kept {
            0 => f64::NAN,
            _ => quantile_of(&mut lane[..kept], q, method),
        };
        put(k, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NumPy's definitions on a sorted copy.
    fn by_sorting(values: &[f64], q: f64, method: QuantileMethod) -> f64 {
        let mut s = values.to_vec();
        s.sort_by(f64::total_cmp);
        let h = (s.len() - 1) as f64 * q;
        let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
        match method {
            QuantileMethod::Lower => s[lo],
            QuantileMethod::Higher => s[hi],
            QuantileMethod::Nearest => s[h.round_ties_even() as usize],
            QuantileMethod::Midpoint => (s[lo] + s[hi]) / 2.0,
            QuantileMethod::Linear => lerp(s[lo], s[hi], h - lo as f64),
        }
    }

    #[test]
    fn selection_equals_sorting_for_every_method() {
        let methods = [
            QuantileMethod::Linear,
            QuantileMethod::Lower,
            QuantileMethod::Higher,
            QuantileMethod::Nearest,
            QuantileMethod::Midpoint,
        ];
        for n in [1usize, 2, 3, 4, 7, 10, 33] {
            let values: Vec<f64> = (0..n).map(|i| ((i * 37 + 11) % 17) as f64 * 0.25).collect();
            for q in [0.0, 0.1, 0.25, 0.5, 0.5 / (n as f64), 0.75, 0.9, 1.0] {
                for method in methods {
                    let mut v = values.clone();
                    assert_eq!(
                        quantile_of(&mut v, q, method),
                        by_sorting(&values, q, method),
                        "n {n} q {q} {method:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn strided_lanes_are_gathered_in_groups() {
        // 2 x 5 x 19 (inner wider than one group), quantiles 0.3 and 1.
        let (outer, len, inner) = (2, 5, 19);
        let data: Vec<f64> = (0..outer * len * inner)
            .map(|i| ((i * 7919) % 101) as f64)
            .collect();
        let qs = [0.3, 1.0];
        let mut out = vec![0.0; qs.len() * outer * inner];
        lane_quantiles(
            &data,
            (outer, len, inner),
            &qs,
            QuantileMethod::Linear,
            false,
            &mut out,
        );
        for o in 0..outer {
            for i in 0..inner {
                let lane: Vec<f64> = (0..len).map(|r| data[(o * len + r) * inner + i]).collect();
                for (k, &q) in qs.iter().enumerate() {
                    assert_eq!(
                        out[k * outer * inner + o * inner + i],
                        by_sorting(&lane, q, QuantileMethod::Linear)
                    );
                }
            }
        }
    }
}

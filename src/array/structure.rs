//! Joining, splitting, repeating, padding and shifting arrays: `concatenate`, `stack`,
//! `split`, `tile`, `repeat`, `pad`, `roll`. All are lazy; most are slices, views and joins
//! of tiles, and the tiles they pass on are not copied (`repeat` and linear ramps compute
//! theirs).

use chunkwise_kernels::dtype::Element;

use super::Array;
use super::derived::along;
use super::map_blocks::invalid;
use crate::chunks::{AxisChunks, Chunks, check_size};
use crate::error::Result;

/// The most pieces (copies, periods) that `tile` and `pad` join along one axis: each is a
/// tile of the result or more, so many more would make a graph too large to build or run.
const MAX_PIECES: usize = 1 << 24;

/// An error for `op` if it would join more than [`MAX_PIECES`] pieces along an axis.
fn check_pieces(op: &str, pieces: usize) -> Result<()> {
    if pieces <= MAX_PIECES {
        return Ok(());
    }
    let why = format!(
        "it would join {pieces} pieces along one axis, each a tile or more of the \
         result: more than {MAX_PIECES}"
    );
    Err(invalid(op, why))
}
use crate::ops::{concat, layout, ramp, repeat};

/// How [`Array::pad`] fills the new elements (NumPy's `np.pad` modes). The mirrored and
/// wrapped modes take any width: wider than the axis, they repeat (NumPy's padding in
/// repeated steps).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Pad<T> {
    /// One value.
    Constant(T),
    /// The edge element repeated.
    Edge,
    /// Values in equal steps from this end value (at the outer end) to the edge element,
    /// which is not repeated: NumPy's `linear_ramp` with one end value for both sides
    /// (computed in f64; integers rounded down, as NumPy's `linspace` rounds them).
    LinearRamp(T),
    /// Mirrored about the edge element, which is not repeated (`[3, 2 | 1, 2, 3]`).
    Reflect,
    /// Mirrored about the edge, which is repeated (`[2, 1 | 1, 2, 3]`).
    Symmetric,
    /// The other end's elements (`[2, 3 | 1, 2, 3]`).
    Wrap,
}

impl<T> Pad<T> {
    /// Where position `i` of an axis of length `n` (at least 2) padded in a mirrored or
    /// wrapped mode reads from: these modes extend the axis periodically.
    fn periodic_source(&self, i: isize, n: isize) -> isize {
        match self {
            Pad::Reflect => {
                let m = i.rem_euclid(2 * n - 2);
                if m < n { m } else { 2 * n - 2 - m }
            }
            Pad::Symmetric => {
                let m = i.rem_euclid(2 * n);
                if m < n { m } else { 2 * n - 1 - m }
            }
            _ => i.rem_euclid(n),
        }
    }
}

/// `arrays` joined along `axis` (negative counting from the end), as NumPy's
/// `concatenate`: they agree on every other axis. Each tile of the result is a tile of
/// one input, passed on as it is; inputs chunked otherwise along the other axes are
/// rechunked to the first one's chunks.
///
/// ```
/// let a = chunkwise::arange::<i64>(0, 3, 1, [2]).unwrap();
/// let b = chunkwise::arange::<i64>(10, 12, 1, [2]).unwrap();
/// let c = chunkwise::concatenate(&[&a, &b], 0).unwrap();
/// assert_eq!(c.compute().unwrap().into_raw_vec_and_offset().0, vec![0, 1, 2, 10, 11]);
/// assert_eq!(c.chunks().chunks(), &[vec![2, 1, 2]]);
/// ```
pub fn concatenate<T: Element>(arrays: &[&Array<T>], axis: isize) -> Result<Array<T>> {
    for a in arrays {
        a.check()?;
    }
    let nodes: Vec<_> = arrays.iter().map(|a| a.node.clone()).collect();
    Ok(Array::from_node(concat::concatenate(&nodes, axis)?))
}

/// `arrays` (all of one shape) joined along a new axis at `axis` of the result, as NumPy's
/// `stack`.
///
/// ```
/// let a = chunkwise::zeros::<f32>(&[2, 3], [1, 3]).unwrap();
/// let s = chunkwise::stack(&[&a, &a, &a], -1).unwrap();
/// assert_eq!(s.shape(), vec![2, 3, 3]);
/// ```
pub fn stack<T: Element>(arrays: &[&Array<T>], axis: isize) -> Result<Array<T>> {
    let expanded = arrays
        .iter()
        .map(|a| a.expand_dims(&[axis]))
        .collect::<Result<Vec<_>>>()?;
    let refs: Vec<&Array<T>> = expanded.iter().collect();
    concatenate(&refs, axis)
}

impl<T: Element> Array<T> {
    /// The elements shifted by `shift` along `axis`, those pushed past the end coming back
    /// at the start, as NumPy's `roll` (negative shifts go the other way): the two slices
    /// of `self`, joined.
    ///
    /// ```
    /// let x = chunkwise::arange::<i64>(0, 5, 1, [2]).unwrap();
    /// let y = x.roll(2, 0).unwrap();
    /// assert_eq!(y.compute().unwrap().into_raw_vec_and_offset().0, vec![3, 4, 0, 1, 2]);
    /// ```
    pub fn roll(&self, shift: isize, axis: isize) -> Result<Array<T>> {
        self.check()?;
        let axis = layout::normalize_axis(axis, self.ndim())?;
        let n = self.shape()[axis] as isize;
        if n == 0 {
            return Ok(self.clone());
        }
        let cut = (n - shift.rem_euclid(n)) as isize;
        if cut == n {
            return Ok(self.clone());
        }
        let (n, cut) = (n as usize, cut as usize);
        let ndim = self.ndim();
        let end = self.slice(along(ndim, axis, cut, n))?;
        let start = self.slice(along(ndim, axis, 0, cut))?;
        concatenate(&[&end, &start], axis as isize)
    }

    /// The parts of `self` between the positions `indices` along `axis`, as NumPy's
    /// `split` with a list of indices (ascending; positions past the end give empty
    /// parts). Each part is a view.
    ///
    /// ```
    /// let x = chunkwise::arange::<i64>(0, 6, 1, [4]).unwrap();
    /// let parts = x.split_at(&[2, 5], 0).unwrap();
    /// let lengths: Vec<usize> = parts.iter().map(|p| p.shape()[0]).collect();
    /// assert_eq!(lengths, vec![2, 3, 1]);
    /// ```
    pub fn split_at(&self, indices: &[usize], axis: isize) -> Result<Vec<Array<T>>> {
        self.check()?;
        let axis = layout::normalize_axis(axis, self.ndim())?;
        let n = self.shape()[axis];
        if indices.windows(2).any(|w| w[0] > w[1]) {
            return Err(invalid(
                "split",
                format!("indices {indices:?} are not ascending"),
            ));
        }
        let mut bounds = vec![0];
        bounds.extend(indices.iter().map(|&i| i.min(n)));
        bounds.push(n);
        bounds
            .windows(2)
            .map(|w| self.slice(along(self.ndim(), axis, w[0], w[1])))
            .collect()
    }

    /// `sections` parts along `axis` as equal as can be (the first `n % sections` one
    /// longer), as NumPy's `array_split`.
    ///
    /// ```
    /// let x = chunkwise::arange::<i64>(0, 7, 1, [4]).unwrap();
    /// let lengths: Vec<usize> = x.array_split(3, 0).unwrap().iter().map(|p| p.shape()[0]).collect();
    /// assert_eq!(lengths, vec![3, 2, 2]);
    /// ```
    pub fn array_split(&self, sections: usize, axis: isize) -> Result<Vec<Array<T>>> {
        self.check()?;
        if sections == 0 {
            return Err(invalid("array_split", "0 sections".into()));
        }
        let a = layout::normalize_axis(axis, self.ndim())?;
        let n = self.shape()[a];
        let (size, longer) = (n / sections, n % sections);
        let indices: Vec<usize> = (1..sections).map(|k| k * size + k.min(longer)).collect();
        self.split_at(&indices, axis)
    }

    /// `sections` equal parts along `axis`, as NumPy's `split` with a number: an error
    /// unless `sections` divides the axis length.
    ///
    /// ```
    /// let x = chunkwise::arange::<i64>(0, 6, 1, [4]).unwrap();
    /// assert_eq!(x.split(3, 0).unwrap().len(), 3);
    /// assert!(x.split(4, 0).is_err());
    /// ```
    pub fn split(&self, sections: usize, axis: isize) -> Result<Vec<Array<T>>> {
        self.check()?;
        let a = layout::normalize_axis(axis, self.ndim())?;
        let n = self.shape()[a];
        if sections == 0 || !n.is_multiple_of(sections) {
            return Err(invalid(
                "split",
                format!(
                    "{sections} sections do not divide axis {a} of length {n} equally (array_split does not need that)"
                ),
            ));
        }
        self.array_split(sections, axis)
    }

    /// `self` repeated `reps[k]` times along axis `k`, as NumPy's `tile` (with more
    /// repetitions than axes, leading axes are added first): copies of the same tiles,
    /// joined, never copied.
    ///
    /// ```
    /// let x = chunkwise::arange::<i64>(0, 2, 1, [2]).unwrap();
    /// let t = x.tile(&[2, 3]).unwrap();
    /// assert_eq!(t.shape(), vec![2, 6]);
    /// assert_eq!(t.compute().unwrap().into_raw_vec_and_offset().0, vec![0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
    /// ```
    pub fn tile(&self, reps: &[usize]) -> Result<Array<T>> {
        self.check()?;
        let lead = reps.len().saturating_sub(self.ndim());
        let mut out = if lead > 0 {
            self.expand_dims(&(0..lead as isize).collect::<Vec<_>>())?
        } else {
            self.clone()
        };
        let offset = out.ndim() - reps.len();
        let mut shape = out.shape();
        for (k, &r) in reps.iter().enumerate() {
            shape[offset + k] = shape[offset + k].saturating_mul(r);
        }
        check_size(&shape, T::DTYPE.size())?;
        for &r in reps {
            check_pieces("tile", r)?;
        }
        for (k, &r) in reps.iter().enumerate() {
            let axis = offset + k;
            out = match r {
                0 => out.slice(along(out.ndim(), axis, 0, 0))?,
                1 => out,
                _ => concatenate(&vec![&out; r], axis as isize)?,
            };
        }
        Ok(out)
    }

    /// Each element repeated `repeats` times along `axis`, as NumPy's `repeat` with one
    /// count. Each tile of the result is one tile of `self` repeated (`repeats` times
    /// longer along `axis`).
    ///
    /// ```
    /// let x = chunkwise::arange::<i64>(0, 3, 1, [2]).unwrap();
    /// let y = x.repeat(2, 0).unwrap();
    /// assert_eq!(y.compute().unwrap().into_raw_vec_and_offset().0, vec![0, 0, 1, 1, 2, 2]);
    /// assert_eq!(y.chunks().chunks(), &[vec![4, 2]]);
    /// ```
    pub fn repeat(&self, repeats: usize, axis: isize) -> Result<Array<T>> {
        self.check()?;
        let ndim = self.ndim();
        let axis = layout::normalize_axis(axis, ndim)?;
        match repeats {
            1 => Ok(self.clone()),
            0 => self.slice(along(ndim, axis, 0, 0)),
            _ if self.shape()[axis] == 0 => Ok(self.clone()),
            _ => {
                let mut shape = self.shape();
                shape[axis] = shape[axis].saturating_mul(repeats);
                check_size(&shape, T::DTYPE.size())?;
                Ok(Array::from_node(repeat::repeat(&self.node, repeats, axis)))
            }
        }
    }

    /// `self` with `widths[k] = (before, after)` elements added along axis `k`, filled as
    /// `mode` says (NumPy's `np.pad` with a width pair per axis). The new parts are views
    /// of `self` (edges, mirrors, the other end), ramps from its edges or constant tiles,
    /// joined to `self`'s own tiles, which are passed on as they are.
    ///
    /// ```
    /// use chunkwise::Pad;
    /// let x = chunkwise::arange::<i64>(1, 4, 1, [2]).unwrap();
    /// let p = x.pad(&[(2, 1)], Pad::Reflect).unwrap();
    /// assert_eq!(p.compute().unwrap().into_raw_vec_and_offset().0, vec![3, 2, 1, 2, 3, 2]);
    /// let wide = x.pad(&[(4, 0)], Pad::Wrap).unwrap();
    /// assert_eq!(wide.compute().unwrap().into_raw_vec_and_offset().0, vec![3, 1, 2, 3, 1, 2, 3]);
    /// let y = chunkwise::arange::<f64>(1.0, 3.0, 1.0, [2]).unwrap();
    /// let ramp = y.pad(&[(2, 2)], Pad::LinearRamp(5.0)).unwrap();
    /// assert_eq!(ramp.compute().unwrap().into_raw_vec_and_offset().0, vec![5.0, 3.0, 1.0, 2.0, 3.5, 5.0]);
    /// ```
    pub fn pad(&self, widths: &[(usize, usize)], mode: Pad<T>) -> Result<Array<T>> {
        self.check()?;
        let ndim = self.ndim();
        if widths.len() != ndim {
            return Err(invalid(
                "pad",
                format!("{} width pairs for an array of {ndim} axes", widths.len()),
            ));
        }
        let mut out = self.clone();
        for (axis, &(before, after)) in widths.iter().enumerate() {
            if before == 0 && after == 0 {
                continue;
            }
            if out.shape()[axis] == 0 && !matches!(mode, Pad::Constant(_)) {
                return Err(invalid(
                    "pad",
                    format!("axis {axis} is empty: only Constant padding can extend it"),
                ));
            }
            let (start, end) = (
                out.pad_side(axis, before, true, mode)?,
                out.pad_side(axis, after, false, mode)?,
            );
            out = concatenate(&[&start, &out, &end], axis as isize)?;
        }
        Ok(out)
    }

    /// The `width` elements that `mode` pads `self` with before (`at_start`) or after
    /// `axis` (not empty unless the mode is `Constant`).
    fn pad_side(
        &self,
        axis: usize,
        width: usize,
        at_start: bool,
        mode: Pad<T>,
    ) -> Result<Array<T>> {
        let ndim = self.ndim();
        let n = self.shape()[axis];
        let part = |start: usize, end: usize| self.slice(along(ndim, axis, start, end));
        if width == 0 {
            return part(0, 0);
        }
        let mut shape = self.shape();
        shape[axis] = width;
        let edge = || if at_start { part(0, 1) } else { part(n - 1, n) };
        match mode {
            Pad::Constant(value) => {
                // `self`'s tiles across the axis, so that joining them moves none of its
                // tiles; along it, tiles as large as its largest.
                let mut chunks = self.chunks().chunks();
                let largest = chunks[axis].iter().copied().max().unwrap_or(1).max(1);
                chunks[axis] = AxisChunks::regular(width, largest).sizes();
                super::creation::full(&shape, value, Chunks::Sizes(chunks))
            }
            Pad::LinearRamp(end) => {
                let ramp = ramp::linear_ramp(&edge()?.node, axis, width, end, at_start);
                Ok(Array::from_node(ramp))
            }
            // Every periodic mode of an axis of one element repeats it.
            Pad::Edge | Pad::Reflect | Pad::Symmetric | Pad::Wrap if n == 1 => {
                edge()?.broadcast_to(&shape)
            }
            Pad::Edge => edge()?.broadcast_to(&shape),
            Pad::Reflect | Pad::Symmetric | Pad::Wrap => {
                // Runs of consecutive positions that read consecutive elements, forwards
                // or backwards: each a slice of `self`, flipped when backwards.
                // About one piece per period of the axis.
                check_pieces("pad", width / n + 2)?;
                let (n, width) = (n as isize, width as isize);
                let (mut i, stop) = if at_start {
                    (-width, 0)
                } else {
                    (n, n + width)
                };
                let mut pieces = Vec::new();
                while i < stop {
                    let s = mode.periodic_source(i, n);
                    let step = match i + 1 < stop {
                        true => mode.periodic_source(i + 1, n) - s,
                        false => 1,
                    };
                    let mut len = 1;
                    while step.abs() == 1
                        && i + len < stop
                        && mode.periodic_source(i + len, n) == s + step * len
                    {
                        len += 1;
                    }
                    pieces.push(match step {
                        -1 => part((s - len + 1) as usize, (s + 1) as usize)?
                            .flip(Some(&[axis as isize]))?,
                        _ => part(s as usize, (s + len) as usize)?,
                    });
                    i += len;
                }
                let refs: Vec<&Array<T>> = pieces.iter().collect();
                concatenate(&refs, axis as isize)
            }
        }
    }
}

//! Fused elementwise evaluation: a [`Program`] of strip operations run over a tile strip by
//! strip.
//!
//! A fused chain of elementwise work is a small straight-line program: each [`Step`] applies
//! one [`StripOp`] to operands that are tile inputs or earlier steps. [`Program::run`] walks
//! the tile in strips of a few thousand elements; every step writes its strip into a scratch
//! buffer that stays in cache, so no step ever allocates a full-tile temporary, and each
//! operation is a tight loop over slices (dispatched once per strip, never per element).

use std::fmt::Debug;
use std::ops::Range;
use std::sync::Arc;

use crate::dtype::{DType, Strip, StripMut, StripVec};
use crate::view::{TileView, strip_end, strips_in_rows};

/// The default number of elements per strip: small enough that a step's scratch buffer
/// stays in L1/L2, large enough that per-strip dispatch costs nothing measurable.
pub const DEFAULT_STRIP_LEN: usize = 2048;

/// Operations with up to this many operands gather them without allocating.
const MAX_INLINE_ARGS: usize = 4;

/// Where a tile lies in its array, so that generators (random numbers, `arange`) can give each
/// element a value that depends on its global position only.
#[derive(Clone, Copy, Debug)]
pub struct TilePosition<'a> {
    /// Global index of the tile's first element, per axis.
    pub origin: &'a [usize],
    /// Tile extent per axis.
    pub shape: &'a [usize],
    /// Whole array extent per axis.
    pub array_shape: &'a [usize],
}

impl TilePosition<'_> {
    /// Number of elements in the tile.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the tile holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f(strip_offset, global_linear_index, run_len, global_stride)` for each run of
    /// elements along the tile's last axis longer than 1 (its rows), covering the tile-flat
    /// range `offset..offset + len`: the run's elements are `global_stride` apart in the whole
    /// array (C order), 1 unless the tile is thinner than the array along its last axes.
    pub fn for_each_run(
        &self,
        offset: usize,
        len: usize,
        mut f: impl FnMut(usize, u64, usize, u64),
    ) {
        let ndim = self.shape.len();
        if ndim == 0 {
            if len > 0 {
                f(0, 0, 1, 1);
            }
            return;
        }
        let r = (0..ndim)
            .rev()
            .find(|&a| self.shape[a] > 1)
            .unwrap_or(ndim - 1);
        let row = self.shape[r];
        let along: u64 = self.array_shape[r + 1..]
            .iter()
            .map(|&n| n as u64)
            .product();
        let mut done = 0;
        while done < len {
            let flat = offset + done;
            let col = flat % row;
            let run = (row - col).min(len - done);
            // Global linear index of the run's first element.
            let mut rest = flat / row;
            let mut linear = 0u64;
            let mut stride = 1u64;
            for axis in (0..ndim).rev() {
                let local = match axis.cmp(&r) {
                    std::cmp::Ordering::Greater => 0,
                    std::cmp::Ordering::Equal => col,
                    std::cmp::Ordering::Less => {
                        let extent = self.shape[axis];
                        let i = rest % extent;
                        rest /= extent;
                        i
                    }
                };
                linear += (self.origin[axis] + local) as u64 * stride;
                stride *= self.array_shape[axis] as u64;
            }
            f(done, linear, run, along);
            done += run;
        }
    }
}

/// An input tile of a program: a whole tile of the output's shape, or elements read through
/// a [`TileView`] (a slice, transpose or broadcast of source tiles) without being copied out.
#[derive(Clone, Copy, Debug)]
pub enum InputTile<'a> {
    /// A tile of the output tile's shape, in C order.
    Full(Strip<'a>),
    /// The output tile's elements as pieces of source tiles.
    View(&'a TileView<'a>),
}

/// The strip being evaluated: its tile and its offset in the tile (C order).
#[derive(Clone, Copy, Debug)]
pub struct StripAt<'a> {
    /// The tile the strip belongs to.
    pub tile: TilePosition<'a>,
    /// Flat offset of the strip's first element in the tile.
    pub offset: usize,
}

/// One elementwise operation on strips: arithmetic, a math function, a comparison, a cast,
/// a generator (no argument), or a user closure.
pub trait StripOp: Send + Sync + Debug {
    /// A short name for plans, such as `"sin"`, `"add"` or `"uniform(seed=1)"`.
    fn name(&self) -> String;
    /// The dtype this operation produces.
    fn out_dtype(&self) -> DType;
    /// Computes `out` from `args` (each as long as `out`). Generators use `at` for positions.
    fn eval(&self, args: &[Strip<'_>], at: StripAt<'_>, out: StripMut<'_>);
    /// What the operation computes, as far as graph passes that rewrite programs by their
    /// structure need to know ([`OpKind::Other`] for everything they leave alone).
    fn kind(&self) -> OpKind {
        OpKind::Other
    }
}

/// What a [`StripOp`] computes, described for graph passes: they match on this, never on
/// [`StripOp::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpKind {
    /// `a + b` of two array operands (no scalar), in the operation's output type.
    Add,
    /// `a - b` of two array operands (no scalar), in the operation's output type.
    Sub,
    /// Any other operation.
    Other,
}

/// A reference to a value of a program: one of its input tiles, or the result of an earlier
/// step. Steps read them, and the program returns one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueRef {
    /// The program's input tile number `i`.
    Input(usize),
    /// The result of step number `i` (always an earlier step).
    Step(usize),
}

/// One operation of a program with its operands.
#[derive(Clone, Debug)]
pub struct Step {
    /// The operation.
    pub op: Arc<dyn StripOp>,
    /// Its operands, in order.
    pub args: Vec<ValueRef>,
}

/// A straight-line program of strip operations: a fused elementwise kernel.
#[derive(Clone, Debug)]
pub struct Program {
    /// The dtype of each input tile.
    pub inputs: Vec<DType>,
    /// Steps, each reading inputs or earlier steps.
    pub steps: Vec<Step>,
    /// Which operand is the program's result.
    pub output: ValueRef,
}

impl Program {
    /// The program that passes its single input through.
    pub fn identity(dtype: DType) -> Program {
        Program {
            inputs: vec![dtype],
            steps: Vec::new(),
            output: ValueRef::Input(0),
        }
    }

    /// The dtype of an operand.
    pub fn dtype_of(&self, operand: ValueRef) -> DType {
        match operand {
            ValueRef::Input(i) => self.inputs[i],
            ValueRef::Step(i) => self.steps[i].op.out_dtype(),
        }
    }

    /// The dtype of the program's result.
    pub fn out_dtype(&self) -> DType {
        self.dtype_of(self.output)
    }

    /// Whether the program returns its one input as it is (no step).
    pub fn is_identity(&self) -> bool {
        self.steps.is_empty() && self.inputs.len() == 1 && self.output == ValueRef::Input(0)
    }

    /// Scratch bytes that [`Program::run`] allocates for strips of `strip_len` elements.
    pub fn scratch_bytes(&self, strip_len: usize) -> usize {
        self.steps
            .iter()
            .map(|s| s.op.out_dtype().size() * strip_len)
            .sum()
    }

    /// Evaluates the program over a tile, strip by strip, handing each result strip with its
    /// flat offset to `sink`. Full inputs are whole tiles in C order (`tile.len()` long);
    /// broadcast inputs are repeated into a strip-sized buffer, strip by strip.
    pub fn run(
        &self,
        inputs: &[InputTile<'_>],
        tile: TilePosition<'_>,
        strip_len: usize,
        sink: impl FnMut(usize, Strip<'_>),
    ) {
        self.run_range(inputs, tile, 0..tile.len(), strip_len, sink);
    }

    /// [`Program::run`] over the tile's elements `range` (C order) only. Full inputs need
    /// hold only the elements up to `range.end`: a tile that arrives piece by piece can be
    /// evaluated as it comes.
    pub fn run_range(
        &self,
        inputs: &[InputTile<'_>],
        tile: TilePosition<'_>,
        range: Range<usize>,
        strip_len: usize,
        mut sink: impl FnMut(usize, Strip<'_>),
    ) {
        debug_assert_eq!(inputs.len(), self.inputs.len());
        let total = range.end.min(tile.len());
        // Buffers as long as the longest strip; where strips end does not depend on the range.
        let buffer_len = strip_len
            .max(1)
            .min(total.saturating_sub(range.start).max(1));
        let mut scratch: Vec<StripVec> = self
            .steps
            .iter()
            .map(|s| StripVec::zeros(s.op.out_dtype(), buffer_len))
            .collect();
        // A strip buffer per view input, for strips it cannot read in place.
        let mut gathered: Vec<Option<StripVec>> = inputs
            .iter()
            .zip(&self.inputs)
            .map(|(input, &dtype)| match input {
                InputTile::Full(_) => None,
                InputTile::View(_) => Some(StripVec::zeros(dtype, buffer_len)),
            })
            .collect();
        let cut_at_views = strips_in_rows(tile.shape, strip_len)
            && inputs.iter().any(|i| matches!(i, InputTile::View(_)));
        let mut offset = range.start;
        // Per input, its strip read in place (reused across strips: no allocation per strip).
        let mut in_place: Vec<Option<Strip<'_>>> = Vec::with_capacity(inputs.len());
        while offset < total {
            // Strips also end where a view input's source tile changes, so that each input
            // reads its strip in place where it can.
            let mut end = strip_end(tile.shape, strip_len, offset).min(total);
            if cut_at_views {
                for input in inputs {
                    if let InputTile::View(view) = input
                        && let Some(run_end) = view.run_end(offset)
                    {
                        end = end.min(run_end);
                    }
                }
            }
            let len = end - offset;
            let range = offset..offset + len;
            let at = StripAt { tile, offset };
            in_place.clear();
            in_place.extend(inputs.iter().map(|input| match input {
                InputTile::Full(strip) => Some(strip.slice(range.clone())),
                InputTile::View(view) => view.contiguous(offset, len),
            }));
            for ((input, buffer), place) in inputs.iter().zip(gathered.iter_mut()).zip(&in_place) {
                if let (InputTile::View(view), Some(buffer), None) = (input, buffer, place) {
                    view.gather(offset, buffer.head_mut(len));
                }
            }
            let input_strip = |i: usize| match (&in_place[i], &gathered[i]) {
                (Some(strip), _) => *strip,
                (None, Some(buffer)) => buffer.head(len),
                (None, None) => unreachable!("inputs not read in place are views with buffers"),
            };
            for (k, step) in self.steps.iter().enumerate() {
                let (done, rest) = scratch.split_at_mut(k);
                let operand = |o: &ValueRef| match *o {
                    ValueRef::Input(i) => input_strip(i),
                    ValueRef::Step(j) => done[j].head(len),
                };
                // Operands gathered on the stack: no allocation per strip.
                let mut inline = [Strip::Bool(&[]); MAX_INLINE_ARGS];
                let spilled: Vec<Strip<'_>>;
                let args: &[Strip<'_>] = if step.args.len() <= MAX_INLINE_ARGS {
                    for (slot, o) in inline.iter_mut().zip(&step.args) {
                        *slot = operand(o);
                    }
                    &inline[..step.args.len()]
                } else {
                    spilled = step.args.iter().map(operand).collect();
                    &spilled
                };
                step.op.eval(args, at, rest[0].head_mut(len));
            }
            match self.output {
                ValueRef::Input(i) => sink(offset, input_strip(i)),
                ValueRef::Step(j) => sink(offset, scratch[j].head(len)),
            }
            offset += len;
        }
    }

    /// Evaluates the program over a tile into `out` (C order, `tile.len()` long).
    pub fn run_into(
        &self,
        inputs: &[InputTile<'_>],
        tile: TilePosition<'_>,
        strip_len: usize,
        mut out: StripMut<'_>,
    ) {
        // A view computed alone (a transpose, a slice) is one blocked copy of its pieces.
        if let ([InputTile::View(view)], true) = (inputs, self.is_identity()) {
            view.gather_tile(out);
            return;
        }
        self.run(inputs, tile, strip_len, |offset, strip| {
            out.slice_mut(offset..offset + strip.len()).copy_from(strip)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::Element;

    #[derive(Debug)]
    struct AddF64;
    impl StripOp for AddF64 {
        fn name(&self) -> String {
            "add".into()
        }
        fn out_dtype(&self) -> DType {
            DType::F64
        }
        fn eval(&self, args: &[Strip<'_>], _: StripAt<'_>, out: StripMut<'_>) {
            let (a, b) = (f64::from_strip(args[0]), f64::from_strip(args[1]));
            for ((o, x), y) in f64::from_strip_mut(out).iter_mut().zip(a).zip(b) {
                *o = x + y;
            }
        }
    }

    /// Writes each element's global linear index: checks `for_each_run`.
    #[derive(Debug)]
    struct Position;
    impl StripOp for Position {
        fn name(&self) -> String {
            "position".into()
        }
        fn out_dtype(&self) -> DType {
            DType::F64
        }
        fn eval(&self, _: &[Strip<'_>], at: StripAt<'_>, out: StripMut<'_>) {
            let out = f64::from_strip_mut(out);
            at.tile
                .for_each_run(at.offset, out.len(), |o, linear, len, stride| {
                    for (k, v) in out[o..o + len].iter_mut().enumerate() {
                        *v = (linear + k as u64 * stride) as f64;
                    }
                });
        }
    }

    #[test]
    fn program_with_shared_step_matches_direct_loop() {
        // out = (x + pos) + (x + pos)
        let program = Program {
            inputs: vec![DType::F64],
            steps: vec![
                Step {
                    op: Arc::new(Position),
                    args: vec![],
                },
                Step {
                    op: Arc::new(AddF64),
                    args: vec![ValueRef::Input(0), ValueRef::Step(0)],
                },
                Step {
                    op: Arc::new(AddF64),
                    args: vec![ValueRef::Step(1), ValueRef::Step(1)],
                },
            ],
            output: ValueRef::Step(2),
        };
        // A 3 x 5 tile at (2, 4) of a 10 x 20 array; strips of 4 cross rows.
        let (origin, shape, array_shape) = ([2, 4], [3, 5], [10, 20]);
        let tile = TilePosition {
            origin: &origin,
            shape: &shape,
            array_shape: &array_shape,
        };
        let x: Vec<f64> = (0..15).map(|i| i as f64 * 0.5).collect();
        let mut out = vec![0.0; 15];
        program.run_into(
            &[InputTile::Full(f64::to_strip(&x))],
            tile,
            4,
            f64::to_strip_mut(&mut out),
        );
        for r in 0..3 {
            for c in 0..5 {
                let pos = ((2 + r) * 20 + 4 + c) as f64;
                assert_eq!(out[r * 5 + c], 2.0 * (x[r * 5 + c] + pos));
            }
        }
        assert_eq!(program.scratch_bytes(4), 3 * 4 * 8);
    }

    #[test]
    fn broadcast_inputs_repeat_without_copying_the_tile() {
        // A 3 x 4 tile reading a (1, 4) row and a (3, 1) column, in strips of 5.
        let program = Program {
            inputs: vec![DType::F64, DType::F64],
            steps: vec![Step {
                op: Arc::new(AddF64),
                args: vec![ValueRef::Input(0), ValueRef::Input(1)],
            }],
            output: ValueRef::Step(0),
        };
        const ROW: [f64; 4] = [1.0, 2.0, 3.0, 4.0];
        const COLUMN: [f64; 3] = [10.0, 20.0, 30.0];
        // The row repeats down axis 0 (stride 0), the column along axis 1.
        let view = |data: &'static [f64], strides: Vec<isize>| TileView {
            shape: vec![3, 4],
            cuts: vec![vec![0], vec![0]],
            pieces: vec![crate::view::ViewPiece {
                data: f64::to_strip(data),
                corner: 0,
                strides,
            }],
        };
        let (row_view, column_view) = (view(&ROW, vec![0, 1]), view(&COLUMN, vec![1, 0]));
        let inputs = [InputTile::View(&row_view), InputTile::View(&column_view)];
        let tile = TilePosition {
            origin: &[0, 0],
            shape: &[3, 4],
            array_shape: &[3, 4],
        };
        let mut out = vec![0.0; 12];
        program.run_into(&inputs, tile, 5, f64::to_strip_mut(&mut out));
        for r in 0..3 {
            for c in 0..4 {
                assert_eq!(out[r * 4 + c], ROW[c] + COLUMN[r]);
            }
        }
    }

    #[test]
    fn identity_program_and_zero_d_tile() {
        let program = Program::identity(DType::F64);
        let tile = TilePosition {
            origin: &[],
            shape: &[],
            array_shape: &[],
        };
        let mut seen = Vec::new();
        program.run(
            &[InputTile::Full(f64::to_strip(&[7.0]))],
            tile,
            16,
            |offset, strip| seen.push((offset, f64::from_strip(strip).to_vec())),
        );
        assert_eq!(seen, vec![(0, vec![7.0])]);
    }
}

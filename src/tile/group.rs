//! Grouped reductions on tiles: the rows of some tiles folded into partial states per
//! group (through any [`ErasedReducer`], so every reduction and merged reductions work
//! grouped), the states of several such results combined group by group, and finished
//! into the rows of an output tile along the group axis.

use std::any::Any;
use std::ops::Range;
use std::sync::Arc;

use chunkwise_kernels::dtype::{DType, Scalar, Strip, StripVec};
use chunkwise_kernels::reduce::ReduceLayout;

use super::encode::Writer;
use super::reduce::{ErasedReducer, States};
use super::value::{TileData, Value, new_tile};
use crate::chunks::NO_GROUP;
use crate::error::{Error, ExecError, Result};

/// Partial states per group: for each group present, in ascending order, a tile of the
/// reducer's states of the tiles' shape with the grouped axis of length 1.
#[derive(Debug)]
pub(crate) struct GroupStates {
    pub(crate) groups: Vec<(u32, Value)>,
    /// The shape of the node's block (one element along the grouped axis).
    shape: Vec<usize>,
}

impl TileData for GroupStates {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn nbytes(&self) -> usize {
        self.groups.iter().map(|(_, v)| v.nbytes()).sum()
    }
    fn strip(&self) -> Option<Strip<'_>> {
        None
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn describe(&self) -> String {
        format!("partial states of {} groups", self.groups.len())
    }
    /// Group states stay in the process that made them (no executor moves them yet).
    fn encode_into(&self, _: &mut Writer) -> Result<()> {
        Err(Error::Exec(ExecError::TileEncoding(format!(
            "{} have no encoding",
            self.describe()
        ))))
    }
}

/// A tile the grouped reduction reads: its elements and shape, and where it starts along
/// the grouped axis.
pub(crate) struct GroupedTile<'a> {
    pub(crate) data: Strip<'a>,
    pub(crate) shape: &'a [usize],
    pub(crate) start: usize,
}

/// The grouped axis of a tile as (rows before it, its length, elements after it): a tile
/// is `outer` blocks of `rows` rows of `inner` contiguous elements.
fn split_at_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        shape[..axis].iter().product(),
        shape[axis],
        shape[axis + 1..].iter().product(),
    )
}

/// How a run of `rows` rows of one group (from `start` along an axis of `axis_len`) maps
/// onto that group's states: the reduced middle axis of (outer, rows, inner), or of
/// (outer, rows) when rows are single elements, so each row folds as one run per state.
/// Positions are always on, so that no axis is merged away and every run of a group
/// folds the same way (lanes or runs), as the states' end expects.
fn run_layout(
    outer: usize,
    rows: usize,
    inner: usize,
    start: usize,
    axis_len: usize,
) -> ReduceLayout {
    if inner == 1 {
        ReduceLayout::new(
            &[outer, rows],
            &[0, start],
            &[outer, axis_len],
            &[false, true],
            true,
        )
    } else {
        ReduceLayout::new(
            &[outer, rows, inner],
            &[0, start, 0],
            &[outer, axis_len, inner],
            &[false, true, false],
            true,
        )
    }
}

/// The runs of equal codes among `codes` (one tile's, along the grouped axis) whose group
/// is in `groups`: (first row, code, length).
fn label_runs(codes: &[u32], groups: &Range<usize>) -> Vec<(usize, u32, usize)> {
    let mut runs = Vec::new();
    let mut l0 = 0;
    while l0 < codes.len() {
        let code = codes[l0];
        let run = codes[l0..].iter().take_while(|&&c| c == code).count();
        if code != NO_GROUP && groups.contains(&(code as usize)) {
            runs.push((l0, code, run));
        }
        l0 += run;
    }
    runs
}

/// The number of groups of `runs`.
fn groups_of(runs: &[(usize, u32, usize)]) -> usize {
    let mut codes: Vec<u32> = runs.iter().map(|&(_, code, _)| code).collect();
    codes.sort_unstable();
    codes.dedup();
    codes.len()
}

/// Per group of `runs`, ascending: the rows of its runs, in order.
fn columns_by_group(runs: &[(usize, u32, usize)]) -> Vec<(u32, Vec<usize>)> {
    let mut by_group: Vec<(u32, Vec<usize>)> = Vec::new();
    let mut order: Vec<&(usize, u32, usize)> = runs.iter().collect();
    order.sort_by_key(|&&(l0, code, _)| (code, l0));
    for &&(l0, code, run) in &order {
        match by_group.last_mut() {
            Some((c, columns)) if *c == code => columns.extend(l0..l0 + run),
            _ => by_group.push((code, (l0..l0 + run).collect())),
        }
    }
    by_group
}

/// The elements `columns` of each of the `outer` rows (of `rows` elements) of `data`, row
/// after row.
fn gather_columns(data: Strip<'_>, outer: usize, rows: usize, columns: &[usize]) -> StripVec {
    let mut out = StripVec::zeros(data.dtype(), outer * columns.len());
    super::with_dtype!(data.dtype(), T => {
        use chunkwise_kernels::dtype::Element;
        let xs = T::from_strip(data);
        let into = T::from_strip_mut(out.head_mut(outer * columns.len()));
        for (o, row) in into.chunks_exact_mut(columns.len().max(1)).enumerate().take(outer) {
            let source = &xs[o * rows..(o + 1) * rows];
            for (x, &c) in row.iter_mut().zip(columns) {
                *x = source[c];
            }
        }
    });
    out
}

/// The slot of a group, started with `n` states if it is new.
fn started<'s>(slot: &'s mut Option<Slot>, n: usize, reducer: &dyn ErasedReducer) -> &'s mut Slot {
    slot.get_or_insert_with(|| Slot {
        states: reducer.start(n),
        seen: 0,
    })
}

/// One group's states while tiles are folded, and the values each state was offered.
struct Slot {
    states: States,
    seen: u64,
}

/// The states per group of the rows of `tiles` (in order along `axis`, of `axis_len`
/// elements) whose group (`codes`, per element of the axis) is in `groups`.
pub(crate) fn fold_groups(
    reducer: &dyn ErasedReducer,
    tiles: &[GroupedTile<'_>],
    axis: usize,
    axis_len: usize,
    codes: &[u32],
    groups: Range<usize>,
    block_shape: Vec<usize>,
) -> GroupStates {
    let Some(first) = tiles.first() else {
        return GroupStates {
            groups: Vec::new(),
            shape: block_shape,
        };
    };
    let (outer, _, inner) = split_at_axis(first.shape, axis);
    let mut slots: Vec<Option<Slot>> = (0..groups.len()).map(|_| None).collect();
    for tile in tiles {
        let (_, rows, _) = split_at_axis(tile.shape, axis);
        let tile_codes = &codes[tile.start..tile.start + rows];
        let runs = label_runs(tile_codes, &groups);
        let fragmented = outer > 1 || runs.len() > groups_of(&runs);
        if inner == 1 && fragmented && !reducer.needs_positions() {
            // Groups of single elements along rows (the grouped axis last): each group's
            // elements of every row are gathered first, then folded in one call, a run per
            // row, rather than in a call per run of every row.
            for (code, columns) in columns_by_group(&runs) {
                let slot = started(
                    &mut slots[code as usize - groups.start],
                    outer * inner,
                    reducer,
                );
                let gathered = gather_columns(tile.data, outer, rows, &columns);
                let layout = run_layout(outer, columns.len(), 1, 0, axis_len).after(slot.seen);
                reducer.fold(
                    &mut slot.states,
                    &layout,
                    0,
                    gathered.head(outer * columns.len()),
                );
                slot.seen += columns.len() as u64;
            }
            continue;
        }
        for &(l0, code, run) in &runs {
            let slot = started(
                &mut slots[code as usize - groups.start],
                outer * inner,
                reducer,
            );
            let layout = run_layout(outer, run, inner, tile.start + l0, axis_len).after(slot.seen);
            for o in 0..outer {
                let from = (o * rows + l0) * inner;
                let rows_of_run = tile.data.slice(from..from + run * inner);
                reducer.fold(&mut slot.states, &layout, o * run * inner, rows_of_run);
            }
            slot.seen += run as u64;
        }
    }
    let mut kept = first.shape.to_vec();
    kept[axis] = 1;
    let groups = slots
        .into_iter()
        .enumerate()
        .filter_map(|(k, slot)| {
            let slot = slot?;
            let layout = run_layout(outer, slot.seen as usize, inner, 0, axis_len);
            let code = (groups.start + k) as u32;
            Some((code, reducer.end(slot.states, &layout, kept.clone())))
        })
        .collect();
    GroupStates {
        groups,
        shape: block_shape,
    }
}

/// The states of `parts` (results of [`fold_groups`] or of this, in order along the axis)
/// combined group by group.
pub(crate) fn combine_groups(
    reducer: &dyn ErasedReducer,
    parts: &[&Value],
    block_shape: Vec<usize>,
) -> Result<GroupStates> {
    let parts: Vec<&GroupStates> = parts
        .iter()
        .map(|p| p.get::<GroupStates>())
        .collect::<Result<_>>()?;
    let mut codes: Vec<u32> = parts
        .iter()
        .flat_map(|p| p.groups.iter().map(|(c, _)| *c))
        .collect();
    codes.sort_unstable();
    codes.dedup();
    let groups = codes
        .into_iter()
        .map(|code| {
            let states: Vec<&Value> = parts
                .iter()
                .filter_map(|p| {
                    let k = p.groups.binary_search_by_key(&code, |(c, _)| *c).ok()?;
                    Some(&p.groups[k].1)
                })
                .collect();
            let combined = match states.as_slice() {
                [only] => Arc::clone(only),
                _ => reducer.combine(&states)?,
            };
            Ok((code, combined))
        })
        .collect::<Result<_>>()?;
    Ok(GroupStates {
        groups,
        shape: block_shape,
    })
}

/// How the results of one reduction are read from combined group states.
pub(crate) struct GroupFinish {
    /// The reducer that finishes the states (for merged reductions, one part's).
    pub(crate) finisher: Arc<dyn ErasedReducer>,
    /// The reducer that folded the states (the merged reductions, or `finisher`).
    pub(crate) folder: Arc<dyn ErasedReducer>,
    /// For merged reductions: which part of the folded states `finisher` reads.
    pub(crate) part: Option<usize>,
}

impl GroupFinish {
    fn finish(&self, states: &Value, shape: &[usize]) -> Result<Value> {
        match self.part {
            Some(k) => self.finisher.finish(&super::part(states, k)?, shape),
            None => self.finisher.finish(states, shape),
        }
    }

    /// The result of a group with no element: the finished empty states where the
    /// reduction has an identity (a sum of 0, a mean of NaN), NaN otherwise.
    fn empty(&self, shape: &[usize], axis: usize, axis_len: usize) -> Result<Value> {
        if !self.finisher.has_identity() {
            return Ok(nan_tile(self.finisher.out_dtype(), shape));
        }
        let (outer, _, inner) = split_at_axis(shape, axis);
        let layout = run_layout(outer, 0, inner, 0, axis_len);
        let states = self
            .folder
            .end(self.folder.start(outer * inner), &layout, shape.to_vec());
        self.finish(&states, shape)
    }

    /// The output tile of `shape` (the groups `groups` along `axis`) from their combined
    /// `states`: each group's result in its row, groups without states as [`Self::empty`].
    pub(crate) fn tile(
        &self,
        states: &Value,
        groups: Range<usize>,
        shape: &[usize],
        axis: usize,
        axis_len: usize,
    ) -> Result<Value> {
        let states = states.get::<GroupStates>()?;
        let (outer, _, inner) = split_at_axis(shape, axis);
        let mut kept = shape.to_vec();
        kept[axis] = 1;
        let dtype = self.finisher.out_dtype();
        let mut out = StripVec::zeros(dtype, shape.iter().product());
        let mut empty = None;
        let mut held = states.groups.iter().peekable();
        for (row, code) in groups.clone().enumerate() {
            let result = match held.next_if(|(c, _)| *c as usize == code) {
                Some((_, s)) => self.finish(s, &kept)?,
                None => match &empty {
                    Some(e) => Arc::clone(e),
                    None => empty.insert(self.empty(&kept, axis, axis_len)?).clone(),
                },
            };
            let data = result.strip().ok_or_else(|| {
                Error::Exec(ExecError::TileType {
                    expected: format!("an array tile of {dtype}"),
                    found: result.describe(),
                })
            })?;
            let mut into = out.head_mut(outer * groups.len() * inner);
            for o in 0..outer {
                let at = (o * groups.len() + row) * inner;
                into.slice_mut(at..at + inner)
                    .copy_from(data.slice(o * inner..(o + 1) * inner));
            }
        }
        Ok(new_tile(out, shape))
    }
}

/// A tile of `shape` of NaN as `dtype` holds it.
fn nan_tile(dtype: DType, shape: &[usize]) -> Value {
    super::with_dtype!(dtype, T => {
        use chunkwise_kernels::dtype::Element;
        let nan = T::from_scalar(Scalar::Float(f64::NAN));
        super::tile_of(vec![nan; shape.iter().product()], shape)
    })
}

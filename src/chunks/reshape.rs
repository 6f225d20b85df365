//! The chunks of a reshape (Dask's `reshape_rechunk`, generalised): the axes of the two
//! shapes are matched in groups of equal size (axes of length 1 aside), and within each
//! group every tile of the input is a run of consecutive elements in C order that is one
//! tile of the output. Only what a group needs is rechunked: merged axes become one chunk
//! after the first that is not chunked by ones, and a split axis is rechunked only when its
//! tile boundaries do not fall on the output's rows.
//!
//! A group's axes are chunked "at level `k`" when the axes before `k` are chunked by ones
//! and the axes after `k` are one chunk: then each tile is a run of consecutive elements of
//! the group, and its tiles in C order of their block indices follow each other. Such a
//! chunking is known by the ends of its runs (its "flat ends").

use super::{AxisChunks, ChunkGrid, ravel, unravel};

/// The grids of a reshape: the input is rechunked to `input`, then output tile `b` is input
/// tile [`ReshapePlan::source_block`]`(b)`, its elements in the same C order.
#[derive(Clone, Debug)]
pub(crate) struct ReshapePlan {
    /// The chunks the input needs (its own chunks where the reshape allows).
    pub(crate) input: ChunkGrid,
    /// The chunks of the result.
    pub(crate) output: ChunkGrid,
    /// Matched axes: (input axes, output axes), none of length 1.
    groups: Vec<(Vec<usize>, Vec<usize>)>,
}

impl ReshapePlan {
    /// The plan for reshaping an array on `grid` to `shape`, of the same positive number of
    /// elements.
    pub(crate) fn new(grid: &ChunkGrid, shape: &[usize]) -> ReshapePlan {
        let from = grid.shape();
        let groups = match_axes(&from, shape);
        let mut input: Vec<AxisChunks> = (0..from.len()).map(|a| grid.axis(a).clone()).collect();
        let mut output: Vec<AxisChunks> = shape.iter().map(|&n| AxisChunks::single(n)).collect();
        for (ins, outs) in &groups {
            let in_lens: Vec<usize> = ins.iter().map(|&a| from[a]).collect();
            let out_lens: Vec<usize> = outs.iter().map(|&a| shape[a]).collect();
            let own: Vec<Vec<usize>> = ins.iter().map(|&a| grid.axis(a).sizes()).collect();
            let (in_chunks, out_chunks) = group_chunks(&in_lens, own, &out_lens);
            for (&a, c) in ins.iter().zip(in_chunks) {
                input[a] = AxisChunks::from_sizes(c);
            }
            for (&a, c) in outs.iter().zip(out_chunks) {
                output[a] = AxisChunks::from_sizes(c);
            }
        }
        ReshapePlan {
            input: ChunkGrid::from_axes(input),
            output: ChunkGrid::from_axes(output),
            groups,
        }
    }

    /// The block of `input` whose tile is output block `block`.
    pub(crate) fn source_block(&self, block: &[usize]) -> Vec<usize> {
        let mut source = vec![0; self.input.ndim()];
        let (in_counts, out_counts) = (self.input.nblocks(), self.output.nblocks());
        for (ins, outs) in &self.groups {
            let at: Vec<usize> = outs.iter().map(|&a| block[a]).collect();
            let counts: Vec<usize> = outs.iter().map(|&a| out_counts[a]).collect();
            let tile = ravel(&at, &counts);
            let counts: Vec<usize> = ins.iter().map(|&a| in_counts[a]).collect();
            for (&a, b) in ins.iter().zip(unravel(tile, &counts)) {
                source[a] = b;
            }
        }
        source
    }
}

/// The axes of `from` and `to` (equal products, none 0) in groups of equal product, each
/// as small as can be; axes of length 1 belong to none.
fn match_axes(from: &[usize], to: &[usize]) -> Vec<(Vec<usize>, Vec<usize>)> {
    let ins: Vec<usize> = (0..from.len()).filter(|&a| from[a] != 1).collect();
    let outs: Vec<usize> = (0..to.len()).filter(|&a| to[a] != 1).collect();
    let (mut i, mut o) = (0, 0);
    let mut groups = Vec::new();
    while i < ins.len() && o < outs.len() {
        let (mut group_in, mut group_out) = (vec![ins[i]], vec![outs[o]]);
        let (mut p, mut q) = (from[ins[i]], to[outs[o]]);
        (i, o) = (i + 1, o + 1);
        while p != q {
            if p < q {
                p *= from[ins[i]];
                group_in.push(ins[i]);
                i += 1;
            } else {
                q *= to[outs[o]];
                group_out.push(outs[o]);
                o += 1;
            }
        }
        groups.push((group_in, group_out));
    }
    groups
}

/// The chunks of one group: `(input, output)` chunks per axis, the input's `own` chunks
/// kept where they can be.
fn group_chunks(
    in_lens: &[usize],
    own: Vec<Vec<usize>>,
    out_lens: &[usize],
) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
    let in_chunks = at_own_level(in_lens, own);
    let ends = flat_ends(in_lens, &in_chunks);
    if let Some(out_chunks) = at_some_level(out_lens, &ends) {
        return (in_chunks, out_chunks);
    }
    // The runs do not fall on the output's rows: rechunk, to tiles of about the size of the
    // input's largest.
    let largest = in_chunks
        .iter()
        .map(|c| c.iter().max().copied().unwrap_or(1));
    let tile: usize = largest.product();
    let row = |j: usize| out_lens[j + 1..].iter().product::<usize>();
    let out_chunks = if in_lens.len() == 1 && tile < row(0) {
        // A split axis in tiles shorter than the output's first axis's rows: tiles of whole
        // rows of the deepest level that fits.
        let j = (0..out_lens.len())
            .find(|&j| row(j) <= tile)
            .expect("the last level's rows are single elements");
        level_chunks(
            out_lens,
            j,
            AxisChunks::regular(out_lens[j], tile / row(j)).sizes(),
        )
    } else {
        // Runs of whole rows of both shapes, their ends near the input's.
        let step = lcm(row_of(in_lens), row(0));
        let total: usize = in_lens.iter().product();
        let mut rounded: Vec<usize> = Vec::new();
        for &e in &flat_ends(in_lens, &level_chunks(in_lens, 0, in_chunks[0].clone())) {
            let r = ((e + step / 2) / step * step).clamp(step, total);
            if rounded.last() != Some(&r) {
                rounded.push(r);
            }
        }
        at_some_level(out_lens, &rounded).expect("whole rows fit level 0")
    };
    let ends = flat_ends(out_lens, &out_chunks);
    let in_chunks = at_some_level(in_lens, &ends).expect("whole rows or a single axis fit");
    (in_chunks, out_chunks)
}

/// The elements in one row of axis 0 (the product of the other lengths).
fn row_of(lens: &[usize]) -> usize {
    lens[1..].iter().product()
}

fn lcm(a: usize, b: usize) -> usize {
    let (mut x, mut y) = (a, b);
    while y != 0 {
        (x, y) = (y, x % y);
    }
    a / x * b
}

/// `own` chunks made to a level, as little changed as can be: the level is the first axis
/// not chunked by ones, and the axes after it become one chunk.
fn at_own_level(lens: &[usize], own: Vec<Vec<usize>>) -> Vec<Vec<usize>> {
    let k = (0..lens.len())
        .find(|&a| own[a].iter().any(|&c| c != 1))
        .unwrap_or(lens.len() - 1);
    level_chunks(lens, k, own[k].clone())
}

/// Chunks of ones before axis `k`, `chunks` along it, whole axes after it.
fn level_chunks(lens: &[usize], k: usize, chunks: Vec<usize>) -> Vec<Vec<usize>> {
    (0..lens.len())
        .map(|a| match a.cmp(&k) {
            std::cmp::Ordering::Less => vec![1; lens[a]],
            std::cmp::Ordering::Equal => chunks.clone(),
            std::cmp::Ordering::Greater => vec![lens[a]],
        })
        .collect()
}

/// The ends of the runs of a chunking at a level, in order.
fn flat_ends(lens: &[usize], chunks: &[Vec<usize>]) -> Vec<usize> {
    let k = (0..lens.len())
        .find(|&a| chunks[a].len() != lens[a] || a + 1 == lens.len())
        .unwrap_or(0);
    let inner: usize = lens[k + 1..].iter().product();
    let rows: usize = lens[..k].iter().product();
    let row = lens[k] * inner;
    let mut ends = Vec::with_capacity(rows * chunks[k].len());
    for r in 0..rows {
        let mut at = r * row;
        for &c in &chunks[k] {
            at += c * inner;
            ends.push(at);
        }
    }
    ends
}

/// A chunking of `lens` at some level whose runs end at `ends`, if there is one.
fn at_some_level(lens: &[usize], ends: &[usize]) -> Option<Vec<Vec<usize>>> {
    (0..lens.len()).find_map(|k| {
        let inner: usize = lens[k + 1..].iter().product();
        let row = lens[k] * inner;
        if ends.iter().any(|e| e % inner != 0) {
            return None;
        }
        let mut chunks = Vec::new();
        let mut last = 0;
        for &e in ends.iter().take_while(|&&e| e <= row) {
            chunks.push((e - last) / inner);
            last = e;
        }
        let chunks = level_chunks(lens, k, chunks);
        (chunks[k].iter().sum::<usize>() == lens[k] && flat_ends(lens, &chunks) == ends)
            .then_some(chunks)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(shape: &[usize], chunks: &[&[usize]], to: &[usize]) -> ReshapePlan {
        let grid =
            ChunkGrid::from_sizes(shape, chunks.iter().map(|c| c.to_vec()).collect()).unwrap();
        ReshapePlan::new(&grid, to)
    }

    #[test]
    fn splitting_whole_tiles_of_a_leading_axis_keeps_them() {
        let p = plan(
            &[7300, 90, 180],
            &[&[73; 100], &[90], &[180]],
            &[20, 365, 90, 180],
        );
        assert_eq!(p.input.chunks()[0], vec![73; 100]);
        assert_eq!(
            p.output.chunks(),
            vec![vec![1; 20], vec![73; 5], vec![90], vec![180]]
        );
        assert_eq!(p.source_block(&[3, 2, 0, 0]), vec![17, 0, 0]);
    }

    #[test]
    fn merging_keeps_the_leading_chunks_and_joins_the_rest() {
        let p = plan(&[6, 4, 5], &[&[2, 4], &[3, 1], &[5]], &[24, 5]);
        assert_eq!(p.input.chunks(), vec![vec![2, 4], vec![4], vec![5]]);
        assert_eq!(p.output.chunks(), vec![vec![8, 16], vec![5]]);
    }

    #[test]
    fn a_split_across_rows_is_rechunked_to_whole_rows() {
        // Rows of 4: the boundary at 6 moves to 8 (the nearer multiple of 4).
        let p = plan(&[12], &[&[6, 6]], &[3, 4]);
        assert_eq!(p.input.chunks(), vec![vec![8, 4]]);
        assert_eq!(p.output.chunks(), vec![vec![2, 1], vec![4]]);
        // Tiles shorter than a row: runs of as many elements along the deepest axis whose
        // elements are not longer than a tile.
        let p = plan(&[24], &[&[3; 8]], &[2, 3, 4]);
        assert_eq!(
            p.output.chunks(),
            vec![vec![1, 1], vec![1, 1, 1], vec![3, 1]]
        );
        assert_eq!(p.input.chunks(), vec![[3, 1].repeat(6)]);
    }

    #[test]
    fn axes_of_length_one_join_no_group() {
        let p = plan(&[1, 6, 1], &[&[1], &[2, 4], &[1]], &[6, 1, 1]);
        assert_eq!(p.output.chunks(), vec![vec![2, 4], vec![1], vec![1]]);
        assert_eq!(p.source_block(&[1, 0, 0]), vec![0, 1, 0]);
    }
}

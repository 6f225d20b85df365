//! Where the groups of a grouped reduction lie among the tiles of the grouped axis, and
//! which groups each output tile holds: flox's strategies (map-reduce, cohorts, blockwise)
//! as choices of output chunks along the group axis.

use std::ops::Range;

use super::AxisChunks;

/// The code of an element that belongs to no group (its label is not an expected group).
pub(crate) const NO_GROUP: u32 = u32::MAX;

/// How a grouped reduction ([`GroupBy`](crate::GroupBy)) gathers each group's values, as
/// flox's `method`. Every method gives the same result; they differ in which tiles each
/// output tile reads.
///
/// ```
/// use chunkwise::GroupMethod;
/// let chosen = GroupMethod::default();
/// assert_eq!(chosen, GroupMethod::Auto);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GroupMethod {
    /// Chosen from the labels: [`GroupMethod::Blockwise`] where every group lies inside
    /// one tile and tiles hold two groups or more on average, else
    /// [`GroupMethod::Cohorts`] (which is map-reduce where all groups share tiles).
    #[default]
    Auto,
    /// Each input tile folds its rows into states per group; the states of each output
    /// tile's groups are combined in a tree over all the tiles that hold any of them.
    /// Output tiles hold as many consecutive groups as fit the state budget.
    MapReduce,
    /// Output tiles are cut between cohorts, runs of consecutive groups linked by shared
    /// tiles, so that an output tile reads only its cohorts' tiles: for sorted labels
    /// (resampling) or labels that recur in step with the tiles (days of the year in
    /// monthly tiles). Cohorts are joined while an output tile has room.
    Cohorts,
    /// Every group lies inside one tile: each output tile is the groups of one input tile,
    /// reduced without any combine. An error where a group spans tiles.
    Blockwise,
}

/// The output chunks of a grouped reduction and the input tiles each one reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GroupLayout {
    /// Per output chunk along the group axis: its groups (codes), consecutive.
    pub(crate) chunks: Vec<Range<usize>>,
    /// Per output chunk: the blocks of the grouped axis that hold any of its groups, in
    /// order.
    pub(crate) tiles: Vec<Vec<usize>>,
}

impl GroupLayout {
    /// The layout of `ngroups` groups given per element of the grouped axis (chunked as
    /// `axis`) by `codes` ([`NO_GROUP`] for none), by `method`, with at most `max_groups`
    /// groups per output chunk (except for [`GroupMethod::Blockwise`]). An error says why
    /// the method cannot be used.
    pub(crate) fn new(
        codes: &[u32],
        ngroups: usize,
        axis: &AxisChunks,
        method: GroupMethod,
        max_groups: usize,
    ) -> Result<GroupLayout, String> {
        let tiles_of = tiles_of_groups(codes, ngroups, axis);
        let max_groups = max_groups.max(1);
        let chunks = match method {
            GroupMethod::MapReduce => split_runs(std::slice::from_ref(&(0..ngroups)), max_groups),
            GroupMethod::Auto => match blockwise_chunks(&tiles_of, axis.count()) {
                // Groups inside tiles, and tiles of several groups each on average: no
                // combine at all.
                Ok(chunks)
                    if chunks.len() * 2 <= ngroups
                        && chunks.iter().all(|c| c.len() <= max_groups) =>
                {
                    chunks
                }
                _ => cohort_chunks(&tiles_of, axis.count(), max_groups),
            },
            GroupMethod::Cohorts => cohort_chunks(&tiles_of, axis.count(), max_groups),
            GroupMethod::Blockwise => blockwise_chunks(&tiles_of, axis.count())?,
        };
        let tiles = chunks
            .iter()
            .map(|chunk| union(&tiles_of[chunk.clone()], axis.count()))
            .collect();
        Ok(GroupLayout { chunks, tiles })
    }

    /// The output chunks as chunks of the group axis.
    pub(crate) fn axis(&self) -> AxisChunks {
        AxisChunks::from_sizes(self.chunks.iter().map(|c| c.len()).collect())
    }
}

/// Per group: the blocks of `axis` that hold any of its elements, in order.
fn tiles_of_groups(codes: &[u32], ngroups: usize, axis: &AxisChunks) -> Vec<Vec<usize>> {
    let mut tiles_of: Vec<Vec<usize>> = vec![Vec::new(); ngroups];
    for block in 0..axis.count() {
        for &code in &codes[axis.range(block)] {
            if code == NO_GROUP {
                continue;
            }
            let tiles = &mut tiles_of[code as usize];
            if tiles.last() != Some(&block) {
                tiles.push(block);
            }
        }
    }
    tiles_of
}

/// The sorted union of some groups' tile lists, out of `ntiles` tiles.
fn union(lists: &[Vec<usize>], ntiles: usize) -> Vec<usize> {
    let mut read = vec![false; ntiles];
    for &tile in lists.iter().flatten() {
        read[tile] = true;
    }
    (0..ntiles).filter(|&t| read[t]).collect()
}

/// Cohorts: runs of consecutive groups linked by shared tiles (each group shares a tile
/// with the groups of the run before it; groups in no tile join the run before them).
fn cohorts(tiles_of: &[Vec<usize>], ntiles: usize) -> Vec<Range<usize>> {
    let mut runs: Vec<Range<usize>> = Vec::new();
    let mut in_run = vec![false; ntiles];
    for (g, tiles) in tiles_of.iter().enumerate() {
        let linked = tiles.is_empty() || tiles.iter().any(|&t| in_run[t]);
        match runs.last_mut() {
            Some(run) if linked => run.end = g + 1,
            _ => {
                in_run.fill(false);
                runs.push(g..g + 1);
            }
        }
        for &t in tiles {
            in_run[t] = true;
        }
    }
    if runs.is_empty() {
        runs.push(0..0);
    }
    runs
}

/// Output chunks cut between cohorts, joined while a chunk holds at most `most` groups.
fn cohort_chunks(tiles_of: &[Vec<usize>], ntiles: usize, most: usize) -> Vec<Range<usize>> {
    merge_runs(&split_runs(&cohorts(tiles_of, ntiles), most), most)
}

/// `runs`, each cut into pieces of at most `most` groups.
fn split_runs(runs: &[Range<usize>], most: usize) -> Vec<Range<usize>> {
    let mut pieces = Vec::new();
    for run in runs {
        let mut start = run.start;
        loop {
            let end = (start + most).min(run.end);
            pieces.push(start..end);
            if end >= run.end {
                break;
            }
            start = end;
        }
    }
    pieces
}

/// Neighbouring `runs` joined while a chunk holds at most `most` groups.
fn merge_runs(runs: &[Range<usize>], most: usize) -> Vec<Range<usize>> {
    let mut chunks: Vec<Range<usize>> = Vec::new();
    for run in runs {
        match chunks.last_mut() {
            Some(chunk) if chunk.len() + run.len() <= most => chunk.end = run.end,
            _ => chunks.push(run.clone()),
        }
    }
    chunks
}

/// One chunk per tile that holds groups: its groups, which must lie in no other tile and
/// follow those of the tiles before (groups in no tile join the chunk before them).
fn blockwise_chunks(tiles_of: &[Vec<usize>], ntiles: usize) -> Result<Vec<Range<usize>>, String> {
    let mut first_of_tile: Vec<Option<usize>> = vec![None; ntiles];
    let mut last_tile = None;
    for (g, tiles) in tiles_of.iter().enumerate() {
        match tiles.as_slice() {
            [] => {}
            &[tile] => {
                if last_tile.is_some_and(|last| tile < last) {
                    return Err(format!(
                        "group {g} lies in tile {tile}, before a group of a smaller code: \
                         blockwise needs the groups in order along the axis"
                    ));
                }
                last_tile = Some(tile);
                first_of_tile[tile].get_or_insert(g);
            }
            &[a, b, ..] => {
                return Err(format!(
                    "group {g} spans tiles {a} and {b}: blockwise needs every group inside \
                     one tile (rechunk along the axis, or use map-reduce or cohorts)"
                ));
            }
        }
    }
    let mut starts: Vec<usize> = first_of_tile.into_iter().flatten().collect();
    if starts.first() != Some(&0) {
        // Groups before the first tile's (in no tile) join the first chunk.
        match starts.first_mut() {
            Some(first) => *first = 0,
            None => starts.push(0),
        }
    }
    let ends = starts.iter().skip(1).copied().chain([tiles_of.len()]);
    Ok(starts.iter().zip(ends).map(|(&s, e)| s..e).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(
        codes: &[u32],
        ngroups: usize,
        chunk: usize,
        method: GroupMethod,
        most: usize,
    ) -> GroupLayout {
        let axis = AxisChunks::regular(codes.len(), chunk);
        GroupLayout::new(codes, ngroups, &axis, method, most).unwrap()
    }

    #[test]
    fn map_reduce_reads_every_tile_of_its_groups_and_splits_by_size() {
        // Cyclic labels 0 1 2 0 1 2 in tiles of 2.
        let codes = [0, 1, 2, 0, 1, 2];
        let l = layout(&codes, 3, 2, GroupMethod::MapReduce, 2);
        assert_eq!(l.chunks, vec![0..2, 2..3]);
        assert_eq!(l.tiles, vec![vec![0, 1, 2], vec![1, 2]]);
    }

    #[test]
    fn cohorts_cut_where_the_tiles_change() {
        // Sorted labels: 0 0 0 | 1 1 1 | 2 2 3 | 3 4 4, tiles of 3.
        let codes = [0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 4];
        let l = layout(&codes, 5, 3, GroupMethod::Cohorts, 3);
        assert_eq!(l.chunks, vec![0..2, 2..5]);
        assert_eq!(l.tiles, vec![vec![0, 1], vec![2, 3]]);
        // Without a size limit, one chunk (map-reduce).
        let all = layout(&codes, 5, 3, GroupMethod::Auto, 100);
        assert_eq!(all.chunks, vec![0..5]);
        // Groups inside tiles of two or more: Auto takes each tile's groups alone.
        let inside = layout(&[0, 0, 1, 2, 3, 3], 4, 3, GroupMethod::Auto, 100);
        assert_eq!(inside.chunks, vec![0..2, 2..4]);
        assert_eq!(inside.tiles, vec![vec![0], vec![1]]);
    }

    #[test]
    fn blockwise_takes_the_groups_of_each_tile() {
        let codes = [0, 0, 1, 2, 2, 2, 4, 4, NO_GROUP];
        let l = layout(&codes, 5, 3, GroupMethod::Blockwise, 1);
        // Group 3 is in no tile: it joins the chunk before it.
        assert_eq!(l.chunks, vec![0..2, 2..4, 4..5]);
        assert_eq!(l.tiles, vec![vec![0], vec![1], vec![2]]);
        let spans = GroupLayout::new(
            &[0, 0, 0, 0],
            1,
            &AxisChunks::regular(4, 2),
            GroupMethod::Blockwise,
            1,
        );
        assert!(spans.unwrap_err().contains("spans tiles 0 and 1"));
    }

    #[test]
    fn no_groups_is_one_empty_chunk() {
        let l = layout(&[NO_GROUP; 4], 0, 2, GroupMethod::Auto, 8);
        assert_eq!(l.chunks, vec![0..0]);
        assert!(l.tiles[0].is_empty());
        assert_eq!(l.axis().len(), 0);
    }
}

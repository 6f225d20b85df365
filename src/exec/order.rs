//! The order of a plan's tasks: depth first from the outputs, with each task that frees at
//! least as much memory as it makes moved up to the moment it can run.
//!
//! Depth first from the outputs consumes partial results early, but a tile read by two
//! far-apart consumers stays held between them. `roll(pad(...), 17, axis=1).std(axis=0)`
//! reads the last column of tiles of the padded array for the first output column and again
//! for the last one: in depth-first order a whole column of tiles is held across the run.
//! Once the first reader has run, the second can run at once, and running it (a view of the
//! tile, then the partial reduction that folds it) releases the tile instead of holding it.
//! A task is moved only when it frees at least what it makes, so moving it never raises the
//! memory held after it.

/// A valid order of tasks given in a valid (dependencies first) order by `deps`: the same
/// order, except that a task which frees at least as many bytes as it makes (its result
/// minus the results of the dependencies it is the last reader of) runs as soon as all its
/// dependencies have. `out_bytes[t]` is the size of task `t`'s result; a task no other task
/// reads makes nothing that is held (its result is handed to an output at once).
pub(crate) fn release_early(deps: &[Vec<usize>], out_bytes: &[u64]) -> Vec<usize> {
    let n = deps.len();
    let mut consumers = vec![Vec::new(); n];
    for (t, ds) in deps.iter().enumerate() {
        for &d in ds {
            if consumers[d].last() != Some(&t) {
                consumers[d].push(t);
            }
        }
    }
    let mut order = Order {
        deps,
        out_bytes,
        waiting: deps.iter().map(|ds| distinct(ds).count()).collect(),
        readers_left: consumers.iter().map(Vec::len).collect(),
        consumers,
        emitted: vec![false; n],
        order: Vec::with_capacity(n),
    };
    for t in 0..n {
        if !order.emitted[t] {
            order.emit_with_releases(t);
        }
    }
    order.order
}

struct Order<'a> {
    deps: &'a [Vec<usize>],
    out_bytes: &'a [u64],
    /// Per task, the consumers that read it (each once).
    consumers: Vec<Vec<usize>>,
    /// Per task, how many of its dependency entries have not been emitted.
    waiting: Vec<usize>,
    /// Per task, how many of its consumers have not been emitted.
    readers_left: Vec<usize>,
    emitted: Vec<bool>,
    order: Vec<usize>,
}

impl Order<'_> {
    /// Emits `first`, then every task that became ready and frees at least what it makes,
    /// and so on from those.
    fn emit_with_releases(&mut self, first: usize) {
        let mut stack = vec![first];
        while let Some(t) = stack.pop() {
            if self.emitted[t] || self.waiting[t] > 0 {
                continue;
            }
            if t != first && !self.frees_what_it_makes(t) {
                continue;
            }
            self.emitted[t] = true;
            self.order.push(t);
            for &c in &self.consumers[t] {
                self.waiting[c] -= 1;
                if self.waiting[c] == 0 {
                    stack.push(c);
                }
            }
            for d in distinct(&self.deps[t]) {
                self.readers_left[d] -= 1;
                // The one reader left of `d` may now free it.
                if self.readers_left[d] == 1
                    && let Some(&last) = self.consumers[d].iter().find(|&&c| !self.emitted[c])
                {
                    stack.push(last);
                }
            }
        }
    }

    /// Whether running `t` now frees at least the bytes of its result.
    fn frees_what_it_makes(&self, t: usize) -> bool {
        let freed: u64 = distinct(&self.deps[t])
            .filter(|&d| self.readers_left[d] == 1)
            .map(|d| self.out_bytes[d])
            .sum();
        let made = if self.consumers[t].is_empty() {
            0
        } else {
            self.out_bytes[t]
        };
        made <= freed
    }
}

/// The distinct entries of `deps` (a task may read one tile twice).
fn distinct(deps: &[usize]) -> impl Iterator<Item = usize> {
    let mut deps = deps.to_vec();
    deps.sort_unstable();
    deps.dedup();
    deps.into_iter()
}

#[cfg(test)]
mod tests {
    use super::release_early;

    fn is_valid(order: &[usize], deps: &[Vec<usize>]) -> bool {
        let mut position = vec![usize::MAX; deps.len()];
        for (p, &t) in order.iter().enumerate() {
            position[t] = p;
        }
        order.len() == deps.len()
            && deps
                .iter()
                .enumerate()
                .all(|(t, ds)| ds.iter().all(|&d| position[d] < position[t]))
    }

    #[test]
    fn a_second_reader_that_releases_a_tile_runs_right_after_the_first() {
        // 0: a big tile; 1: a small view of it read by output 2; 3, 4: unrelated work;
        // 5: a big view of 0 (frees 0), 6: a reduction of 5 (frees 5).
        let deps = vec![vec![], vec![0], vec![1], vec![], vec![3], vec![0], vec![5]];
        let bytes = vec![100, 1, 1, 100, 1, 90, 1];
        let order = release_early(&deps, &bytes);
        assert_eq!(order, vec![0, 1, 5, 6, 2, 3, 4]);
        assert!(is_valid(&order, &deps));
    }

    #[test]
    fn a_task_that_makes_more_than_it_frees_keeps_its_place() {
        let deps = vec![vec![], vec![0], vec![], vec![0, 2], vec![3]];
        let bytes = vec![10, 1, 10, 50, 1];
        // 3 waits for 2 anyway; with 2 before it, it would still make 50 for 20 freed.
        let order = release_early(&deps, &bytes);
        assert_eq!(order, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn orders_stay_valid_with_repeated_and_shared_dependencies() {
        // Pseudo-random DAGs: each task reads up to three earlier ones, some twice.
        let mut state = 12345u64;
        let mut next = |m: usize| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize % m
        };
        for n in [1, 2, 5, 30, 200] {
            let mut deps = Vec::new();
            let mut bytes = Vec::new();
            for t in 0..n {
                let k = if t == 0 { 0 } else { next(4) };
                let ds: Vec<usize> = (0..k).map(|_| next(t)).collect();
                deps.push(ds);
                bytes.push(next(100) as u64);
            }
            let order = release_early(&deps, &bytes);
            assert!(is_valid(&order, &deps), "n = {n}: {order:?}");
        }
    }
}

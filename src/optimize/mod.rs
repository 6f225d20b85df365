//! Graph passes: the var/std of a constant shift rewritten, fusion of elementwise chains
//! (into each other, and into reductions), merges of work that reads the same tiles, then
//! a validation that changes nothing.
//!
//! Culling needs no pass of its own: the graph reachable from the outputs is all there is,
//! and the planner creates tasks only for the blocks that the outputs need, so slicing a huge
//! array computes only the tiles it touches.

mod fuse_elemwise;
mod fuse_reduce;
mod fusion;
mod merge_partials;
mod merge_reductions;
mod relink;
mod unshift_spread;
mod validate;

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{Error, PlanError, Result};
use crate::graph::{Node, NodeId, with_stack_for};

/// One graph-to-graph pass.
pub(crate) trait Pass: Sync {
    /// The pass's name, for plans and errors.
    fn name(&self) -> &'static str;
    /// The rewritten roots, and whether anything changed.
    fn run(&self, roots: &[Arc<Node>]) -> Result<(Vec<Arc<Node>>, bool)>;
}

/// The passes in order:
/// 1. `merge-partials` before anything else: partial products of the same tiles
///    (`x.T @ x`, `x.T @ y`) and reductions over axis 0 of those tiles (`x.sum(0)`) become
///    one task per tile of `x`. Before the fusions, because `fuse-into-reduce` would fuse
///    a generated `x` into the reduction (which would then generate it again) instead of
///    letting it read the tiles that the products read. It runs even without `fuse`: it
///    fuses no arithmetic, and without it a plan reads those tiles once per product (or
///    holds them all in between);
/// 2. `unshift-spread` next, because it looks for the var/std of one unfused `x ± c`
///    node: after `fuse-elementwise` the shift would be one step of a longer program, and
///    after `fuse-into-reduce` part of the reduction's prelude. The `x` it exposes is then
///    fused like any other input, and the mean inside an anomaly `x - x.mean()` is left for
///    `merge-reductions` to fold with the spread;
/// 3. `fuse-elementwise` next, so chains become single programs (generators inlined);
/// 4. `fuse-into-reduce` next, so a reduction swallows the already-fused chain that feeds it;
/// 5. `merge-reductions` after that, because only fused reductions show that they read the
///    same data through the same program (`mean` and `std` of one expression);
/// 6. `relink-contractions` after the rewrites of the contractions' operands, so that a
///    rebuilt chain reads the rewritten operands: under a `budget` shared by `threads`
///    workers too small for the links of a contraction's chains, they become shorter;
/// 7. `validate` last: it changes nothing and rejects a plan whose shapes or dtypes a pass
///    broke, naming the pass.
///
/// Without `fuse` only `merge-partials`, `relink-contractions` and `validate` run: the graph
/// is otherwise computed as the user built it (the variance of `x - c` then computes
/// `x - c`).
pub(crate) fn passes(fuse: bool, budget: u64, threads: usize) -> Vec<Box<dyn Pass>> {
    let mut list: Vec<Box<dyn Pass>> = vec![Box::new(merge_partials::MergePartials)];
    if fuse {
        list.push(Box::new(unshift_spread::UnshiftSpread));
        list.push(Box::new(fuse_elemwise::FuseElemwise));
        list.push(Box::new(fuse_reduce::FuseIntoReduce));
        list.push(Box::new(merge_reductions::MergeReductions));
    }
    list.push(Box::new(relink::RelinkContractions { budget, threads }));
    list.push(Box::new(validate::Validate));
    list
}

/// Runs the [`passes`], each on a stack that fits the depth of the graph it is given (see
/// [`with_stack_for`]: a pass may make the graph deeper, as relinking a contraction does);
/// after each one, checks that the roots kept their shapes and dtypes.
pub(crate) fn optimize(
    roots: &[Arc<Node>],
    fuse: bool,
    budget: u64,
    threads: usize,
) -> Result<Vec<Arc<Node>>> {
    let mut current = roots.to_vec();
    for pass in passes(fuse, budget, threads) {
        let (next, _changed) = with_stack_for(&current, || pass.run(&current))?;
        validate::check(&next).map_err(|reason| {
            Error::Plan(PlanError::InvalidPlan {
                pass: pass.name().to_string(),
                reason,
            })
        })?;
        for (before, after) in current.iter().zip(&next) {
            if before.shape() != after.shape() || before.dtype != after.dtype {
                return Err(Error::Plan(PlanError::InvalidPlan {
                    pass: pass.name().to_string(),
                    reason: format!(
                        "output changed from {:?} {} to {:?} {}",
                        before.shape(),
                        before.dtype,
                        after.shape(),
                        after.dtype
                    ),
                }));
            }
        }
        current = next;
    }
    Ok(current)
}

/// Rebuilds the graph below `roots` bottom-up: `f` sees each node after its inputs were
/// rewritten and may return a replacement. Shared nodes are rewritten once.
pub(crate) fn rewrite(
    roots: &[Arc<Node>],
    f: &dyn Fn(&Arc<Node>) -> Option<Arc<Node>>,
) -> (Vec<Arc<Node>>, bool) {
    rewrite_from(roots, &|_, rebuilt| f(rebuilt))
}

/// A node's replacement, if any, from the node as it was and as rebuilt on rewritten inputs.
pub(crate) type RewriteFn<'a> = dyn Fn(&Arc<Node>, &Arc<Node>) -> Option<Arc<Node>> + 'a;

/// [`rewrite`], with `f` seeing the node as it was too (`f(original, rebuilt)`): for a pass
/// that keeps what it knew about the original nodes for their rewrites.
pub(crate) fn rewrite_from(roots: &[Arc<Node>], f: &RewriteFn<'_>) -> (Vec<Arc<Node>>, bool) {
    fn visit(node: &Arc<Node>, f: &RewriteFn, memo: &mut HashMap<NodeId, Arc<Node>>) -> Arc<Node> {
        if let Some(done) = memo.get(&node.id) {
            return done.clone();
        }
        let new_inputs: Vec<Arc<Node>> = node
            .inputs()
            .into_iter()
            .map(|i| visit(i, f, memo))
            .collect();
        let unchanged = node
            .inputs()
            .iter()
            .zip(&new_inputs)
            .all(|(a, b)| Arc::ptr_eq(a, b));
        let rebuilt = if unchanged {
            node.clone()
        } else {
            node.with_inputs(new_inputs)
        };
        let result = f(node, &rebuilt).unwrap_or(rebuilt);
        memo.insert(node.id, result.clone());
        result
    }
    let mut memo = HashMap::new();
    let out: Vec<Arc<Node>> = roots.iter().map(|r| visit(r, f, &mut memo)).collect();
    let changed = roots.iter().zip(&out).any(|(a, b)| !Arc::ptr_eq(a, b));
    (out, changed)
}

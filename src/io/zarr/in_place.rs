//! Region writes that read the array they write (in-place updates).
//!
//! The tasks of a region write run in any order, each writing one stored unit (chunk or
//! shard). A task that reads elements of the region which another task writes may read
//! them before or after they are rewritten, so the result would depend on the schedule. A
//! read of the target is safe when it cannot race its own write:
//!
//! - it reads no element of the region;
//! - it reads each written element for the task that writes that element, and nothing
//!   else of the region: every view between the write and the read moves elements without
//!   mixing them (slices with step 1, integer indices, new axes), and together they map
//!   the write's elements onto the region itself (`x[a:b] = f(x[a:b])`, elementwise);
//! - it happens below a reduction or blockwise result of one tile that every task needs
//!   (through elementwise work only): that tile is computed, from all its reads, before any
//!   task writes (`x[...] = x / x.max()`).
//!
//! Anything else that reads the region (a stencil, a shift, a transpose, a reduction along
//! some axes, a user's block function) is refused before anything is written.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;

use super::erasure::Place;
use crate::chunks::{SourceAxis, View};
use crate::error::{BuildError, Error, Result};
use crate::graph::{Node, NodeKind, Source};

/// An error if computing `input`, to be written into `region` of the stored array at
/// `target`, reads elements of the region in a way that may race the write (see the
/// module's documentation).
pub(crate) fn refuse_racing_reads(
    input: &Arc<Node>,
    target: &Place,
    region: &[Range<usize>],
) -> Result<()> {
    // Per node reached: the view from the write's elements to the node's (`None` where
    // elements are not followed), and whether only elementwise work lies between.
    let start = Reach {
        node: input.clone(),
        view: Some(View::identity(&input.shape())),
        elementwise: true,
    };
    let mut stack = vec![start];
    let mut seen = HashSet::new();
    while let Some(reach) = stack.pop() {
        if !seen.insert((reach.node.id, reach.view.clone(), reach.elementwise)) {
            continue;
        }
        let Reach {
            node,
            view,
            elementwise,
        } = reach;
        match &node.kind {
            NodeKind::Source(Source::Tiles(source)) => {
                let Some(read) = source.stored_place() else {
                    continue;
                };
                if target.covers(&Place::from_text(read)) && races(&node, view.as_ref(), region) {
                    return Err(Error::Build(BuildError::InvalidArgument {
                        op: "to_zarr_region".into(),
                        reason: format!(
                            "the computation reads elements of the region it writes into \
                             {} other than element for element (a stencil, shift, \
                             transpose or partial reduction of the same array): tasks \
                             write in any order, so a task could read what another already \
                             rewrote; write to another array, or compute first",
                            target.as_str()
                        ),
                    }));
                }
            }
            NodeKind::Source(Source::Generator(_)) | NodeKind::Invalid(_) => {}
            NodeKind::Elemwise(e) => {
                for input in &e.inputs {
                    stack.push(Reach {
                        node: input.node.clone(),
                        view: view.as_ref().map(|v| input.view.then(v)),
                        elementwise,
                    });
                }
            }
            // A result of one tile that every writing task needs is complete, with all
            // its reads, before the first task writes.
            NodeKind::Reduce(_) | NodeKind::Blockwise(_)
                if elementwise && node.grid.n_blocks() == 1 => {}
            NodeKind::Reduce(_) | NodeKind::Blockwise(_) => {
                for input in node.inputs() {
                    stack.push(Reach {
                        node: input.clone(),
                        view: None,
                        elementwise: false,
                    });
                }
            }
        }
    }
    Ok(())
}

/// A node reached from the written array, and how.
struct Reach {
    node: Arc<Node>,
    view: Option<View>,
    elementwise: bool,
}

/// Whether reading `source` (a stored array's elements) through `view` from the written
/// elements (or any of its elements, where `view` is `None`) may race the write of
/// `region`: it reads elements of the region, other than exactly the written ones.
fn races(source: &Node, view: Option<&View>, region: &[Range<usize>]) -> bool {
    let read = match view {
        Some(view) if is_region_itself(view, region) => return false,
        Some(view) => match image(view) {
            Some(read) => read,
            None => return false, // reads nothing
        },
        None => source.shape().into_iter().map(|n| 0..n).collect(),
    };
    read.len() == region.len()
        && read
            .iter()
            .zip(region)
            .all(|(r, w)| r.start.max(w.start) < r.end.min(w.end))
}

/// Whether `view` maps each written element to the same element of the region.
fn is_region_itself(view: &View, region: &[Range<usize>]) -> bool {
    view.source.len() == region.len()
        && view.shape.len() == region.len()
        && view
            .source
            .iter()
            .zip(region)
            .enumerate()
            .all(|(a, (s, r))| {
                view.shape[a] == r.len()
                    && *s
                        == SourceAxis::Mapped {
                            axis: a,
                            start: r.start,
                            step: 1,
                        }
            })
}

/// The box of source elements `view` reads, per source axis; `None` if it reads none.
fn image(view: &View) -> Option<Vec<Range<usize>>> {
    if view.shape.contains(&0) {
        return None;
    }
    let range = |s: &SourceAxis| match *s {
        SourceAxis::Fixed(i) => i..i + 1,
        SourceAxis::Mapped { axis, start, step } => {
            let last = start as isize + step * (view.shape[axis] as isize - 1);
            let (low, high) = (start.min(last as usize), start.max(last as usize));
            low..high + 1
        }
    };
    Some(view.source.iter().map(range).collect())
}

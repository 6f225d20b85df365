//! Quantiles over a set of axes: the array is rechunked inside the plan so that each tile
//! holds the reduced axes whole (the other axes split so a tile stays small), then each
//! tile's lanes are selected, never sorted.

use std::borrow::Cow;
use std::sync::Arc;

use chunkwise_kernels::dtype::{Element, FloatElement, Numeric};
use chunkwise_kernels::quantile::{QuantileMethod, lane_quantiles};
use ndarray::{ArrayD, IxDyn};

use super::blockwise::blockwise;
use super::rechunk::{regridded, whole_along};
use crate::chunks::{AxisChunks, ChunkGrid};
use crate::graph::Node;

/// The largest tile a quantile task reads: 64 MiB, or the input's largest tile if larger.
const TARGET_TILE_BYTES: usize = 64 << 20;

/// What a quantile reduction computes.
#[derive(Clone, Debug)]
pub(crate) struct QuantileSpec {
    /// The quantiles, each in [0, 1].
    pub(crate) qs: Vec<f64>,
    /// How between data points.
    pub(crate) method: QuantileMethod,
    /// Whether NaN values are left out (`nanquantile`) or make the result NaN.
    pub(crate) skip_nan: bool,
    /// Whether the reduced axes stay, with length 1.
    pub(crate) keepdims: bool,
}

/// The quantiles of `node` (elements of `T`) over the axes marked in `reduced`, as `R`
/// (`T::Real`): a leading axis of `spec.qs.len()`, then the kept axes (and the reduced ones
/// as length 1 with `keepdims`).
pub(crate) fn quantiles<T: Numeric>(
    node: &Arc<Node>,
    reduced: &[bool],
    spec: QuantileSpec,
) -> Arc<Node> {
    let itemsize = node.dtype.size();
    let target = (node.grid.max_tile_len() * itemsize).max(TARGET_TILE_BYTES);
    let whole = regridded(node, whole_along(&node.grid, reduced, itemsize, target));
    let ndim = reduced.len();
    let reduced: Arc<[bool]> = reduced.into();
    let out_axes: Vec<AxisChunks> = [AxisChunks::single(spec.qs.len())]
        .into_iter()
        .chain((0..ndim).filter_map(|a| match (reduced[a], spec.keepdims) {
            (false, _) => Some(whole.grid.axis(a).clone()),
            (true, true) => Some(AxisChunks::single(1)),
            (true, false) => None,
        }))
        .collect();
    let deps_reduced = reduced.clone();
    let deps_keepdims = spec.keepdims;
    blockwise(
        "quantile",
        ChunkGrid::from_axes(out_axes),
        <T::Real as Element>::DTYPE,
        vec![whole.clone()],
    )
    .arrays::<T, T::Real>(
        move |block| {
            // Skip the quantile axis; reduced axes are block 0 (one chunk).
            let mut kept = block[1..].iter();
            let input = (0..ndim)
                .map(|a| match (deps_reduced[a], deps_keepdims) {
                    (false, _) => *kept.next().expect("a kept axis"),
                    (true, true) => {
                        kept.next();
                        0
                    }
                    (true, false) => 0,
                })
                .collect();
            vec![(0, input)]
        },
        move |block, tiles| {
            let lanes = Lanes::of(tiles[0], &reduced);
            let mut out = vec![0.0; spec.qs.len() * lanes.outer * lanes.inner];
            lane_quantiles(
                &lanes.values,
                (lanes.outer, lanes.len, lanes.inner),
                &spec.qs,
                spec.method,
                spec.skip_nan,
                &mut out,
            );
            let out = out.into_iter().map(T::Real::from_f64).collect();
            Ok(ArrayD::from_shape_vec(IxDyn(block.shape), out).expect("one value per lane"))
        },
    )
}

/// A tile's values seen as `outer` x `len` x `inner`, with the lanes (the values along
/// the reduced axes) of length `len`: the tile itself when those axes are adjacent (the
/// usual case, one axis), else a copy with them moved last.
struct Lanes<'a, T: Clone> {
    values: Cow<'a, [T]>,
    outer: usize,
    len: usize,
    inner: usize,
}

impl<'a, T: Numeric> Lanes<'a, T> {
    /// The lanes of `tile` over the axes marked in `reduced`.
    fn of(tile: &'a ArrayD<T>, reduced: &[bool]) -> Lanes<'a, T> {
        let shape = tile.shape();
        let values = || Cow::Borrowed(tile.as_slice().expect("tiles are in C order"));
        let (Some(first), Some(last)) = (
            reduced.iter().position(|&r| r),
            reduced.iter().rposition(|&r| r),
        ) else {
            // Nothing reduced (a 0-d tile, or no axes): each value is a lane of its own.
            return Lanes {
                values: values(),
                outer: tile.len(),
                len: 1,
                inner: 1,
            };
        };
        let len: usize = (0..shape.len())
            .filter(|&a| reduced[a])
            .map(|a| shape[a])
            .product();
        if reduced[first..=last].iter().all(|&r| r) {
            return Lanes {
                values: values(),
                outer: shape[..first].iter().product(),
                len,
                inner: shape[last + 1..].iter().product(),
            };
        }
        let order: Vec<usize> = (0..shape.len())
            .filter(|&a| !reduced[a])
            .chain((0..shape.len()).filter(|&a| reduced[a]))
            .collect();
        let moved: Vec<T> = tile
            .view()
            .permuted_axes(IxDyn(&order))
            .iter()
            .copied()
            .collect();
        Lanes {
            outer: moved.len() / len.max(1),
            values: Cow::Owned(moved),
            len,
            inner: 1,
        }
    }
}

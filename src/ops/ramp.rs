//! NumPy's `linear_ramp` padding: values going in equal steps from an end value to the
//! edge element of an axis (the edge itself not included).

use std::sync::Arc;

use chunkwise_kernels::dtype::{DType, Element};
use ndarray::{ArrayD, Axis, IxDyn, Zip};

use super::blockwise::blockwise;
use crate::chunks::{AxisChunks, ChunkGrid};
use crate::graph::Node;

/// The `width` (positive) elements that pad `edge` (one element long along `axis`) before
/// the axis (`at_start`) or after it: `np.linspace(end, edge, width, endpoint=False)`,
/// read from the outside in. Integer results are rounded down, as NumPy's `linspace`
/// rounds them.
pub(crate) fn linear_ramp<T: Element>(
    edge: &Arc<Node>,
    axis: usize,
    width: usize,
    end: T,
    at_start: bool,
) -> Arc<Node> {
    let axes: Vec<AxisChunks> = (0..edge.ndim())
        .map(|a| match a == axis {
            true => AxisChunks::single(width),
            false => edge.grid.axis(a).clone(),
        })
        .collect();
    let grid = ChunkGrid::from_axes(axes);
    let builder = blockwise("linear_ramp", grid, T::DTYPE, vec![edge.clone()]);
    let float = matches!(T::DTYPE, DType::F32 | DType::F64);
    let end_f64: f64 = end.cast();
    builder.arrays::<T, T>(
        |block| vec![(0, block.to_vec())],
        move |block, tiles| {
            let edges = tiles[0].index_axis(Axis(axis), 0);
            let mut out = ArrayD::<T>::default(IxDyn(block.shape));
            for (k, mut lane) in out.axis_iter_mut(Axis(axis)).enumerate() {
                // Steps from the outer end of the pad.
                let steps = if at_start { k } else { width - 1 - k } as f64;
                Zip::from(&mut lane).and(&edges).for_each(|o, &e| {
                    let step = (e.cast::<f64>() - end_f64) / width as f64;
                    let v = steps * step + end_f64;
                    *o = if float { v } else { v.floor() }.cast();
                });
            }
            Ok(out)
        },
    )
}

//! User operations written in terms of the graph's primitives: each checks its arguments
//! and builds nodes; none has its own executor path.

pub(crate) mod blockwise;
pub(crate) mod elementwise;
pub(crate) mod generators;
pub(crate) mod index_blockwise;
pub(crate) mod layout;
pub(crate) mod map_blocks;
pub(crate) mod rechunk;
pub(crate) mod reduction;
pub(crate) mod slicing;
pub(crate) mod sources;
pub(crate) mod strip_ops;
pub(crate) mod user_reduction;

/// Runs `$body` with the type alias `$T` standing for the element type of `$dtype`.
macro_rules! with_dtype {
    ($dtype:expr, $T:ident => $body:expr) => {{
        use chunkwise_kernels::dtype::DType;
        match $dtype {
            DType::Bool => {
                type $T = bool;
                $body
            }
            DType::I8 => {
                type $T = i8;
                $body
            }
            DType::I16 => {
                type $T = i16;
                $body
            }
            DType::I32 => {
                type $T = i32;
                $body
            }
            DType::I64 => {
                type $T = i64;
                $body
            }
            DType::U8 => {
                type $T = u8;
                $body
            }
            DType::U16 => {
                type $T = u16;
                $body
            }
            DType::U32 => {
                type $T = u32;
                $body
            }
            DType::U64 => {
                type $T = u64;
                $body
            }
            DType::F32 => {
                type $T = f32;
                $body
            }
            DType::F64 => {
                type $T = f64;
                $body
            }
            other => unreachable!("dtype {other} has no element type"),
        }
    }};
}
pub(crate) use with_dtype;

use ndarray::{ArrayBase, IxDyn, RawData, Slice};
use std::ops::Range;

/// The part of `view` (read-only or writable) inside `ranges`.
pub(crate) fn sub_view<S: RawData>(
    mut view: ArrayBase<S, IxDyn>,
    ranges: &[Range<usize>],
) -> ArrayBase<S, IxDyn> {
    view.slice_each_axis_inplace(|ax| {
        let r = &ranges[ax.axis.index()];
        Slice::from(r.start as isize..r.end as isize)
    });
    view
}

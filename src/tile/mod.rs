//! The task contract: what a task reads, computes and returns, below the graph and above
//! the kernels.
//!
//! - [`value`]: computed tiles ([`Value`]): array tiles, partial reduction states, tuples
//!   of them, read back through checked, typed accessors.
//! - [`reduce`]: reducers with their state type erased, the per-tile fold of a reduction
//!   and the composite reducer of merged reductions.
//! - [`group`]: grouped reductions: rows folded into states per group, combined and
//!   finished group by group.
//! - [`source`]: [`TileSource`] (tiles that enter: memory, generators, Zarr chunks) and
//!   [`TileSink`] (tiles that leave: Zarr chunks).
//! - [`block_map`]: [`BlockMap`], how a blockwise node computes a tile, and the memory it
//!   declares per block.
//! - [`encode`]: tiles and states as bytes, in a stable, versioned layout, for executors
//!   that move them between processes.

/// Runs `$body` with the type alias `$T` standing for the element type of `$dtype`: how a
/// run-time dtype picks a typed code path.
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

pub(crate) mod block_map;
// Read by the executors that move tiles between processes; until one lands, by its tests.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod encode;
pub(crate) mod group;
pub(crate) mod reduce;
pub(crate) mod source;
pub(crate) mod value;

pub(crate) use block_map::{BlockMap, Pick, TileMemory};
pub(crate) use reduce::{ErasedReducer, PartialFold, Several, erase, grouped_partial, partial};
pub(crate) use source::{Prefetched, TilePiece, TileSink, TileSource};
pub(crate) use value::{
    TileData, TupleTile, Value, Written, new_tile, part, tile_of, tile_value, tuple,
};

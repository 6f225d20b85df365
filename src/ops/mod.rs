//! User operations written in terms of the graph's primitives: each checks its arguments
//! and builds nodes; none has its own executor path.

pub(crate) mod blockwise;
pub(crate) mod concat;
pub(crate) mod elementwise;
pub(crate) mod gather;
pub(crate) mod generators;
pub(crate) mod groupby;
pub(crate) mod gufunc;
pub(crate) mod layout;
pub(crate) mod quantile;
pub(crate) mod ramp;
pub(crate) mod rechunk;
pub(crate) mod reduction;
pub(crate) mod repeat;
pub(crate) mod reshape;
pub(crate) mod scan;
pub(crate) mod select;
pub(crate) mod slicing;
pub(crate) mod sources;
pub(crate) mod strip_ops;
pub(crate) mod unique;

pub(crate) use crate::tile::with_dtype;

pub(crate) use crate::chunks::sub_view;

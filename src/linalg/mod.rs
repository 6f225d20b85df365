//! Linear algebra on tiled matrices, built from the graph's primitives and tile kernels.

mod matmul;
mod norm;

pub use norm::Norm;

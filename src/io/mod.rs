//! Sources and sinks of the graph outside memory: Zarr storage.

pub mod zarr;

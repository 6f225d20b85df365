//! Zarr arrays far larger than any disk, written by hand: the metadata of a v3 array of any
//! shape, and single chunks of a sparse pattern of values. Shared by tests/sizes.rs and
//! benches/sizes.rs.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::path::Path;

/// Writes the metadata of a v3 array (uncompressed little-endian f32, fill value -1,
/// chunk keys `c/i/j`) at `store/name`, in a v3 group at the store's root.
pub fn write_metadata(store: &Path, name: &str, shape: &[u64], chunks: &[u64]) {
    let dir = store.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        store.join("zarr.json"),
        r#"{"zarr_format": 3, "node_type": "group", "attributes": {}}"#,
    )
    .unwrap();
    let meta = format!(
        r#"{{"zarr_format": 3, "node_type": "array", "shape": {shape:?}, "data_type": "float32",
            "chunk_grid": {{"name": "regular", "configuration": {{"chunk_shape": {chunks:?}}}}},
            "chunk_key_encoding": {{"name": "default", "configuration": {{"separator": "/"}}}},
            "fill_value": -1.0, "codecs": [{{"name": "bytes", "configuration": {{"endian": "little"}}}}],
            "attributes": {{}}}}"#
    );
    std::fs::write(dir.join("zarr.json"), meta).unwrap();
}

/// The value that [`write_chunk`] stores at `(row, col)`.
pub fn stored_value(row: usize, col: usize) -> f32 {
    ((row % 1000) * 1000 + col % 1000) as f32
}

/// Writes chunk `(i, j)` (of `c` x `c` elements) of [`stored_value`]s by hand.
pub fn write_chunk(store: &Path, name: &str, c: usize, i: usize, j: usize) {
    let dir = store.join(name).join("c").join(i.to_string());
    std::fs::create_dir_all(&dir).unwrap();
    let mut bytes = Vec::with_capacity(c * c * 4);
    for r in 0..c {
        for k in 0..c {
            bytes.extend_from_slice(&stored_value(i * c + r, j * c + k).to_le_bytes());
        }
    }
    std::fs::write(dir.join(j.to_string()), bytes).unwrap();
}

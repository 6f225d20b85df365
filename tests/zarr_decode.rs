//! Decoding stored chunks: corrupt, truncated or padded chunks are errors that name the chunk
//! (and what does not touch them still reads); reductions fold zstd chunks as they are
//! decoded, beside other inputs and through chunks of several frames.

#![allow(missing_docs)]

#[path = "common/zarr_util.rs"]
mod zarr_util;

use std::path::Path;

use chunkwise::from_ndarray;
use chunkwise::io::zarr::{Compression, WriteOptions, ZarrVersion};
use ndarray::{ArrayD, s};
use zarr_util::*;

/// Overwrites the file at `path` with bytes no codec accepts.
fn corrupt(path: &Path) {
    assert!(path.is_file(), "{} is not a chunk file", path.display());
    std::fs::write(path, b"this is not a compressed chunk, just garbage bytes").unwrap();
}

#[test]
fn corrupt_chunks_are_named() {
    let dir = TempDir::new("corrupt");
    let d = dir.path();
    let data = formula::<f64>(&[8, 8]);
    let x = from_ndarray(&data, [4, 4]).unwrap();
    let zstd = Compression::Zstd { level: 3 };
    let cases = [
        ("v3", WriteOptions::default().compression(zstd), "v3/c/1/0"),
        (
            "v2",
            WriteOptions::default()
                .version(ZarrVersion::V2)
                .compression(zstd),
            "v2/1.0",
        ),
        (
            "sh",
            WriteOptions::default()
                .compression(zstd)
                .chunks([2, 2])
                .shards([4, 4]),
            "sh/c/1/0",
        ),
        // Uncompressed: the same bytes are not a chunk of the right size.
        (
            "raw",
            WriteOptions::default().compression(Compression::None),
            "raw/c/1/0",
        ),
    ];
    for (name, options, key) in cases {
        x.to_zarr(d, name, &options).unwrap();
        corrupt(&d.join(key));
        let a = open_typed::<f64>(d, name);
        assert_corrupt_chunk(&a.compute().unwrap_err(), key, name);
        // What does not touch the corrupt chunk still reads.
        let top = a.slice(s![0..4, ..]).unwrap().compute().unwrap();
        assert_same(&top, &data.slice(s![0..4, ..]).to_owned(), name);
    }
}

#[test]
fn truncated_or_padded_zstd_chunks_are_named() {
    // Whole zstd chunks in a directory are streamed from their files straight into the
    // tile; a frame cut short, or followed by stray bytes, must still be an error naming
    // the chunk, never a silently short or padded tile.
    let dir = TempDir::new("truncated");
    let d = dir.path();
    let data = formula::<f64>(&[8, 8]);
    let x = from_ndarray(&data, [4, 4]).unwrap();
    let options = WriteOptions::default().compression(Compression::Zstd { level: 1 });
    type Edit = fn(&mut Vec<u8>);
    let edits: [(&str, Edit); 2] = [
        ("cut", |bytes| bytes.truncate(bytes.len() / 2)),
        ("padded", |bytes| bytes.extend_from_slice(b"stray bytes")),
    ];
    for (name, edit) in edits {
        x.to_zarr(d, name, &options).unwrap();
        let key = format!("{name}/c/1/1");
        let mut bytes = std::fs::read(d.join(&key)).unwrap();
        edit(&mut bytes);
        std::fs::write(d.join(&key), bytes).unwrap();
        let a = open_typed::<f64>(d, name);
        assert_corrupt_chunk(&a.compute().unwrap_err(), &key, name);
        // A reduction reads the chunks itself, folding them as they are decoded: the padded
        // frame is decoded whole before the stray bytes show, and must not count either.
        for reduced in [a.sum_axis(0), a.sum()] {
            let err = reduced.compute().unwrap_err();
            assert_corrupt_chunk(&err, &key, name);
        }
    }
}

#[test]
fn reductions_fold_zstd_chunks_as_they_are_decoded() {
    // A reduction that is a zstd array's only reader reads the chunks itself and folds each
    // 128 KiB block as zstd decodes it. Chunks of 211 KiB (and edge chunks of 155 KiB) take
    // two blocks each; tiles reduced over the lanes and along the rows fold different ways.
    let dir = TempDir::new("streamed");
    let d = dir.path();
    let data = formula::<f32>(&[130, 24, 30]).mapv(|v| 280.0 + v);
    let options = WriteOptions::default()
        .chunks([75, 24, 30])
        .compression(Compression::Zstd { level: 1 });
    from_ndarray(&data, [130, 24, 30])
        .unwrap()
        .to_zarr(d, "x", &options)
        .unwrap();
    let x = open_typed::<f32>(d, "x");
    let (mean, std) = (x.mean_axis(0), x.std_axis(0, 0.0));
    let plan = std.explain().unwrap();
    assert!(
        plan.contains("folded as it is decoded"),
        "the source is not streamed:\n{plan}"
    );
    let wide = data.mapv(f64::from);
    let check = |got: ArrayD<f32>, axes: &[usize], f: &dyn Fn(&[f64]) -> f64| {
        let mut want = wide.clone();
        for &axis in axes.iter().rev() {
            want = want.map_axis(ndarray::Axis(axis), |lane| f(&lane.to_vec()));
        }
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (f64::from(*g) - w).abs() <= 1e-6 * w.abs().max(1.0),
                "{g} vs {w}"
            );
        }
    };
    let dense_mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    let dense_std = |xs: &[f64]| {
        let m = dense_mean(xs);
        (xs.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / xs.len() as f64).sqrt()
    };
    let both = chunkwise::compute_many(&[&mean, &std]).unwrap();
    check(both[0].clone(), &[0], &dense_mean);
    check(both[1].clone(), &[0], &dense_std);
    check(x.mean_axis(2).compute().unwrap(), &[2], &dense_mean);
    let total = x.sum().compute_scalar().unwrap();
    let want: f64 = wide.sum();
    assert!(
        (f64::from(total) - want).abs() <= 1e-6 * want,
        "{total} vs {want}"
    );

    // With other inputs beside the streamed one, from the middle of a tile on: a weight
    // broadcast along time, and a second stored array (read by a task of its own).
    let weights = formula::<f32>(&[1, 24, 30]).mapv(|v| 0.5 + v / 4096.0);
    let w = from_ndarray(&weights, [1, 24, 30]).unwrap();
    let weighted = (&x * &w).sum_axis(0).compute().unwrap();
    let want = (&data * &weights)
        .mapv(f64::from)
        .sum_axis(ndarray::Axis(0));
    for (g, w) in weighted.iter().zip(&want) {
        assert!((f64::from(*g) - w).abs() <= 1e-6 * w.abs(), "{g} vs {w}");
    }
    from_ndarray(&data, [75, 24, 30])
        .unwrap()
        .to_zarr(d, "y", &options)
        .unwrap();
    let y = open_typed::<f32>(d, "y");
    let both = (&x - &y).sum().compute_scalar().unwrap();
    assert_eq!(both, 0.0);

    // A chunk of two frames: the block-by-block decoder gives up after the first frame (its
    // blocks already folded) and the tile comes again, whole, from zarrs' general path.
    let key = d.join("x/c/0/0/0");
    let first = data.slice(s![0..75, .., ..]).to_owned();
    let bytes: Vec<u8> = first.iter().flat_map(|v| v.to_le_bytes()).collect();
    let (head, tail) = bytes.split_at(bytes.len() / 2);
    let mut two_frames = zstd_frame(head);
    two_frames.extend(zstd_frame(tail));
    std::fs::write(&key, two_frames).unwrap();
    let x = open_typed::<f32>(d, "x");
    assert_same(&x.compute().unwrap(), &data, "two frames");
    check(x.mean_axis(0).compute().unwrap(), &[0], &dense_mean);
    check(x.std_axis(0, 0.0).compute().unwrap(), &[0], &dense_std);
}

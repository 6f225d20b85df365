//! `cargo bench --bench linalg`: tiled matmul beside one multi-threaded GEMM call of the same
//! size in the same run (faer, all cores), in GFLOP/s.
//!
//! - 8192 x 8192 f64 in 2048 x 2048 tiles;
//! - 4096 x 4096 f32 in 1024 x 1024 tiles.
//!
//! `CHUNKWISE_BENCH_SCALE=4` divides the sides by 4.
#![allow(missing_docs)]

mod common;

use common::scale;

use std::time::Instant;

use chunkwise::FloatElement;
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

fn best_of<R>(reps: usize, mut f: impl FnMut() -> R) -> f64 {
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

fn case<T: FloatElement + faer::traits::ComplexField>(n: usize, tile: usize, one: T) {
    let threads = std::thread::available_parallelism()
        .map(|t| t.get())
        .unwrap_or(1);
    let name = std::any::type_name::<T>();
    let a = chunkwise::random::uniform::<T>(1, T::ZERO, one, &[n, n], [tile, tile])
        .unwrap()
        .persist()
        .unwrap();
    let b = chunkwise::random::uniform::<T>(2, T::ZERO, one, &[n, n], [tile, tile])
        .unwrap()
        .persist()
        .unwrap();
    let product = a.matmul(&b).unwrap();
    let flops = 2.0 * (n as f64).powi(3);
    let ours = best_of(3, || product.compute().unwrap());
    let (da, db) = (a.compute().unwrap(), b.compute().unwrap());
    let (da, db) = (da.as_slice().unwrap(), db.as_slice().unwrap());
    let mut out = vec![T::ZERO; n * n];
    let single = best_of(3, || {
        let dst = MatMut::from_row_major_slice_mut(&mut out, n, n);
        matmul(
            dst,
            Accum::Replace,
            MatRef::from_row_major_slice(da, n, n),
            MatRef::from_row_major_slice(db, n, n),
            one,
            Par::rayon(threads),
        );
    });
    println!(
        "matmul {n} x {n} {name} in {tile} x {tile} tiles: {:.1} GFLOP/s ({ours:.2} s); one faer GEMM call on {threads} threads: {:.1} GFLOP/s ({single:.2} s) -> {:.2}x",
        flops / ours / 1e9,
        flops / single / 1e9,
        single / ours
    );
}

fn main() {
    let s = scale();
    case::<f64>(8192 / s, 2048 / s, 1.0);
    case::<f32>(4096 / s, 1024 / s, 1.0);
}

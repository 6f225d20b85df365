//! Property tests: random shapes, random chunkings, random chains of elementwise operations,
//! optionally followed by a sum or mean over a random set of axes; the chunked result must
//! equal the dense one. TSQR of random tall matrices on random row tiles, with columns
//! graded over up to twelve orders of magnitude. And the f32 mean, variance and standard
//! deviation computed together (one fold of shifted sums) over random axes and chunkings.

#![allow(missing_docs)]

mod common;

use chunkwise::{Array, Chunks, Config, Reduction, from_ndarray, linalg, where_};
use common::*;
use ndarray::ArrayD;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    AddScalar(f64),
    MulArray,
    Sin,
    Abs,
    MaxScalar(f64),
    WhereGreater(f64),
}

#[derive(Clone, Debug)]
struct Red {
    /// `None`: all axes.
    axes: Option<Vec<usize>>,
    keepdims: bool,
    split_every: usize,
    mean: bool,
}

#[derive(Clone, Debug)]
struct Input {
    shape: Vec<usize>,
    chunks_x: Vec<Vec<usize>>,
    /// Shape of the second operand: the same, or 1 on some axes (broadcast).
    shape_y: Vec<usize>,
    chunks_y: Vec<Vec<usize>>,
    seed: u64,
    ops: Vec<Op>,
    red: Option<Red>,
    fuse: bool,
    threads: usize,
    strip_len: usize,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let scalar = (-12i32..=12).prop_map(|k| f64::from(k) * 0.25);
    prop_oneof![
        scalar.clone().prop_map(Op::AddScalar),
        Just(Op::MulArray),
        Just(Op::Sin),
        Just(Op::Abs),
        scalar.clone().prop_map(Op::MaxScalar),
        scalar.prop_map(Op::WhereGreater),
    ]
}

fn red_strategy(ndim: usize) -> impl Strategy<Value = Red> {
    (
        any::<bool>(),
        0u32..(1u32 << ndim),
        any::<bool>(),
        2usize..6,
        any::<bool>(),
    )
        .prop_map(move |(all, mask, keepdims, split_every, mean)| Red {
            axes: if all {
                None
            } else {
                Some((0..ndim).filter(|i| mask >> i & 1 == 1).collect())
            },
            keepdims,
            split_every,
            mean,
        })
}

fn input_strategy() -> impl Strategy<Value = Input> {
    proptest::collection::vec(0usize..12, 0..=3).prop_flat_map(|shape| {
        let ndim = shape.len();
        let chunks_x: Vec<BoxedStrategy<Vec<usize>>> =
            shape.iter().map(|&n| chunks_for(n)).collect();
        let shape_y = (0u32..(1u32 << ndim)).prop_flat_map({
            let shape = shape.clone();
            move |bmask| {
                let shape_y: Vec<usize> = shape
                    .iter()
                    .enumerate()
                    .map(|(i, &n)| if bmask >> i & 1 == 1 { 1 } else { n })
                    .collect();
                let chunks: Vec<BoxedStrategy<Vec<usize>>> =
                    shape_y.iter().map(|&n| chunks_for(n)).collect();
                (Just(shape_y), chunks)
            }
        });
        (
            Just(shape),
            chunks_x,
            shape_y,
            any::<u64>(),
            proptest::collection::vec(op_strategy(), 1..=5),
            proptest::option::of(red_strategy(ndim)),
            any::<bool>(),
            1usize..=2,
            prop_oneof![Just(1usize), Just(3), Just(2048)],
        )
            .prop_map(
                |(
                    shape,
                    chunks_x,
                    (shape_y, chunks_y),
                    seed,
                    ops,
                    red,
                    fuse,
                    threads,
                    strip_len,
                )| Input {
                    shape,
                    chunks_x,
                    shape_y,
                    chunks_y,
                    seed,
                    ops,
                    red,
                    fuse,
                    threads,
                    strip_len,
                },
            )
    })
}

/// Applies the chain to the chunked and the dense array side by side.
fn run_chain(input: &Input) -> (Array<f64>, ArrayD<f64>) {
    let a = dense_f64(&input.shape, input.seed);
    let b = dense_f64(&input.shape_y, input.seed.wrapping_add(1));
    let x = from_ndarray(&a, Chunks::Sizes(input.chunks_x.clone())).unwrap();
    let y = from_ndarray(&b, Chunks::Sizes(input.chunks_y.clone())).unwrap();
    let (mut cur, mut dense) = (x, a);
    for op in &input.ops {
        match *op {
            Op::AddScalar(s) => {
                cur = &cur + s;
                dense = dense.mapv(|v| v + s);
            }
            Op::MulArray => {
                cur = &cur * &y;
                dense = zip_dense(&dense, &b, |u, v| u * v);
            }
            Op::Sin => {
                cur = cur.sin();
                dense = dense.mapv(f64::sin);
            }
            Op::Abs => {
                cur = cur.abs();
                dense = dense.mapv(f64::abs);
            }
            Op::MaxScalar(s) => {
                cur = cur.maximum(s);
                dense = dense.mapv(|v| if v > s { v } else { s });
            }
            Op::WhereGreater(t) => {
                cur = where_(&cur.greater(t), &cur, &y);
                dense = zip_dense(&dense, &b, |u, v| if u > t { u } else { v });
            }
        }
    }
    (cur, dense)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn chunked_equals_dense(input in input_strategy()) {
        let (chunked, dense) = run_chain(&input);
        let cfg = Config::default().fuse(input.fuse).threads(input.threads).strip_len(input.strip_len);
        match &input.red {
            None => {
                let got = chunked.compute_with(&cfg).unwrap();
                prop_assert_eq!(got.shape(), dense.shape());
                for (g, w) in got.iter().zip(dense.iter()) {
                    prop_assert!((g - w).abs() <= 1e-12 * w.abs().max(1.0), "{} vs {}", g, w);
                }
            }
            Some(red) => {
                let how = match &red.axes {
                    None => Reduction::all(),
                    Some(axes) => Reduction::axes(iaxes(axes)),
                }
                .keepdims(red.keepdims)
                .split_every(red.split_every);
                let got = if red.mean { chunked.mean_with(&how) } else { chunked.sum_with(&how) };
                let got = got.compute_with(&cfg).unwrap();
                let mean = red.mean;
                let want = reduce_dense(&dense.view(), red.axes.as_deref(), red.keepdims, |xs| {
                    let s: f64 = xs.iter().sum();
                    if mean { s / xs.len() as f64 } else { s }
                });
                let tol = reduce_dense(&dense.view(), red.axes.as_deref(), red.keepdims, |xs| {
                    let abs: f64 = xs.iter().map(|v| v.abs().max(1.0)).sum();
                    let t = 1e-12 * abs;
                    if mean { t / xs.len().max(1) as f64 } else { t }
                });
                prop_assert_eq!(got.shape(), want.shape());
                for ((g, w), t) in got.iter().zip(want.iter()).zip(tol.iter()) {
                    let ok = if w.is_nan() { g.is_nan() } else { (g - w).abs() <= *t };
                    prop_assert!(ok, "{} vs {} (tolerance {})", g, w, t);
                }
            }
        }
    }

    #[test]
    fn rechunk_and_slice_round_trip(
        (shape, chunks_a, chunks_b) in proptest::collection::vec(0usize..10, 0..=3).prop_flat_map(|shape| {
            let a: Vec<BoxedStrategy<Vec<usize>>> = shape.iter().map(|&n| chunks_for(n)).collect();
            let b: Vec<BoxedStrategy<Vec<usize>>> = shape.iter().map(|&n| chunks_for(n)).collect();
            (Just(shape), a, b)
        }),
        step in prop_oneof![Just(1isize), Just(2), Just(-1), Just(-3)],
    ) {
        let a = dense_f64(&shape, 5);
        let x = from_ndarray(&a, Chunks::Sizes(chunks_a)).unwrap();
        let y = x.rechunk(Chunks::Sizes(chunks_b.clone())).unwrap();
        prop_assert_eq!(y.chunks().chunks(), chunks_b.as_slice());
        prop_assert_eq!(y.compute().unwrap(), a.clone());
        // every axis stepped by `step`
        let info: Vec<ndarray::SliceInfoElem> = shape
            .iter()
            .map(|_| ndarray::SliceInfoElem::Slice { start: 0, end: None, step })
            .collect();
        let want = a.slice(info.as_slice()).to_owned();
        prop_assert_eq!(y.slice(&info).unwrap().compute().unwrap(), want.clone());
        let total = y.slice(&info).unwrap().sum().compute().unwrap().scalar();
        let abs: f64 = want.iter().map(|v| v.abs()).sum();
        prop_assert!((total - want.sum()).abs() <= 1e-13 * abs, "{} vs {}", total, want.sum());
    }

    #[test]
    fn tsqr_of_random_tall_matrices(
        (m, n, tile, cols) in (1usize..12).prop_flat_map(|n| (n..300, Just(n))).prop_flat_map(|(m, n)| {
            (Just(m), Just(n), 1..=m, chunks_for(n))
        }),
        digits in 0.0f64..12.0,
        seed in 0u64..1000,
    ) {
        // Columns scaled by up to 10^-digits, then mixed: tiles from well conditioned to
        // far beyond CholeskyQR2's limit, so both tile methods (and the fallback) are hit.
        let mut a = dense_f64(&[m, n], seed)
            .into_dimensionality::<ndarray::Ix2>()
            .unwrap();
        for (j, mut column) in a.columns_mut().into_iter().enumerate() {
            column *= 10f64.powf(-digits * j as f64 / n.max(2) as f64);
        }
        let mix = dense_f64(&[n, n], seed + 1).into_dimensionality::<ndarray::Ix2>().unwrap()
            + ndarray::Array2::<f64>::eye(n) * n as f64;
        let a = a.dot(&mix);
        // Row tiles of `tile` rows (shorter ones are merged by TSQR): long tiles take
        // CholeskyQR2 where it is safe, short ones and the tree's nodes vary.
        let rows: Vec<usize> = (0..m).step_by(tile).map(|start| tile.min(m - start)).collect();
        let x = from_ndarray(&a, Chunks::Sizes(vec![rows, cols])).unwrap();
        let (q, r) = linalg::qr(&x).unwrap();
        let q = q.compute().unwrap().into_dimensionality::<ndarray::Ix2>().unwrap();
        let r = r.compute().unwrap().into_dimensionality::<ndarray::Ix2>().unwrap();
        prop_assert_eq!((q.dim(), r.dim()), ((m, n), (n, n)));
        let scale = a.iter().fold(1.0f64, |s, v| s.max(v.abs()));
        let tol = 100.0 * m as f64 * f64::EPSILON;
        let residual = (&q.dot(&r) - &a).iter().fold(0.0f64, |s, v| s.max(v.abs()));
        prop_assert!(residual <= tol * scale, "A = QR: {} over {}", residual, tol * scale);
        let orth = (&q.t().dot(&q) - &ndarray::Array2::<f64>::eye(n))
            .iter()
            .fold(0.0f64, |s, v| s.max(v.abs()));
        prop_assert!(orth <= tol, "QᵀQ = I: {} over {}", orth, tol);
        prop_assert!(r.indexed_iter().all(|((i, j), &v)| i <= j || v == 0.0));
    }

    #[test]
    fn f32_mean_and_spread_computed_together_match_dense(
        // A long first axis now and then, past the 1024-row re-centring.
        (shape, chunks) in (proptest::collection::vec(1usize..8, 1..=3), proptest::bool::weighted(0.3))
            .prop_map(|(mut shape, long)| {
                if long {
                    shape[0] = 2500;
                }
                shape
            })
            .prop_flat_map(|shape| {
                // The long axis in tiles of over 1024 rows, so that tiles re-centre.
                let chunks: Vec<BoxedStrategy<Vec<usize>>> = shape
                    .iter()
                    .map(|&n| match n {
                        2500 => prop_oneof![Just(vec![2500]), Just(vec![1100, 1400])].boxed(),
                        _ => chunks_for(n),
                    })
                    .collect();
                (Just(shape), chunks)
            }),
        axes_mask in 1u8..8,
        offset in prop_oneof![Just(0.0f64), Just(280.0), Just(1e5)],
        scale in prop_oneof![Just(1e-3f64), Just(1.0), Just(60.0)],
        seed in 0u64..1000,
        strip_len in prop_oneof![Just(7usize), Just(2048)],
    ) {
        // The f32 mean read off the moments' shifted sums, and the variance and standard
        // deviation from them, against the dense f64 two-pass values of the same f32 data.
        let a = dense_f64(&shape, seed).mapv(|v| (offset + scale * v) as f32);
        let axes: Vec<usize> = (0..shape.len()).filter(|k| axes_mask & (1 << k) != 0).collect();
        prop_assume!(!axes.is_empty());
        let x = from_ndarray(&a, Chunks::Sizes(chunks)).unwrap();
        let how = Reduction::axes(iaxes(&axes));
        let (mean, var, std) = (x.mean_with(&how), x.var_with(&how, 0.0), x.std_with(&how, 1.0));
        let cfg = Config::default().strip_len(strip_len);
        let got = chunkwise::compute_many_with(&[&mean, &var, &std], &cfg).unwrap();
        let wide = a.mapv(f64::from);
        let two_pass = |xs: &[f64], ddof: f64| {
            let m = xs.iter().sum::<f64>() / xs.len() as f64;
            (m, xs.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (xs.len() as f64 - ddof))
        };
        let dense = |f: &dyn Fn(&[f64]) -> f64| reduce_dense(&wide.view(), Some(&axes), false, f);
        let largest = |xs: &[f64]| xs.iter().fold(0.0f64, |s, v| s.max(v.abs()));
        let eps = f32::EPSILON as f64;
        let checks = [
            (dense(&|xs| two_pass(xs, 0.0).0), dense(&|xs| 0.6 * eps * two_pass(xs, 0.0).0.abs() + 1e-12 * largest(xs))),
            (dense(&|xs| two_pass(xs, 0.0).1), dense(&|xs| 2.0 * eps * two_pass(xs, 0.0).1 + 1e-13 * largest(xs).powi(2))),
            (dense(&|xs| two_pass(xs, 1.0).1.sqrt()), dense(&|xs| 2.0 * eps * two_pass(xs, 1.0).1.sqrt() + 1e-7 * largest(xs))),
        ];
        for (result, (want, tol)) in got.iter().zip(&checks) {
            for ((g, w), t) in result.iter().zip(want.iter()).zip(tol.iter()) {
                let g = f64::from(*g);
                let ok = if w.is_nan() { g.is_nan() } else { (g - w).abs() <= *t };
                prop_assert!(ok, "{} vs {} (tolerance {})", g, w, t);
            }
        }
    }
}

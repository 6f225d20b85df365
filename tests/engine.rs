//! Creation functions, random numbers, user sources, fusion, plans, shared work, persist,
//! the memory budget and traces.

#![allow(missing_docs)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chunkwise::{
    Array, BuildError, Chunks, Config, Error, ExecError, PlanError, compute_many, from_fn, random,
};
use common::*;
use ndarray::{ArrayD, IxDyn, arr1};

// ---------------------------------------------------------------- creation

#[test]
fn constant_arrays() {
    let z = chunkwise::zeros::<f64>(&[3, 4], [2, 3])
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(z, ArrayD::<f64>::zeros(IxDyn(&[3, 4])));
    let b = chunkwise::zeros::<bool>(&[5], [2])
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(b, ArrayD::from_elem(IxDyn(&[5]), false));
    let o = chunkwise::ones::<i32>(&[2, 3, 4], [1, 2, 3])
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(o, ArrayD::from_elem(IxDyn(&[2, 3, 4]), 1));
    let f = chunkwise::full(&[], 7.5f64, Chunks::Shape(vec![]))
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(f, ArrayD::from_elem(IxDyn(&[]), 7.5));
    let e = chunkwise::full(&[0, 3], -1i8, [2, 2])
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(e.shape(), &[0, 3]);
    let irregular = chunkwise::full(
        &[6, 5],
        2u16,
        Chunks::Sizes(vec![vec![3, 1, 2], vec![2, 3]]),
    )
    .unwrap();
    assert_eq!(irregular.n_tiles(), 6);
    assert_eq!(
        irregular.compute().unwrap(),
        ArrayD::from_elem(IxDyn(&[6, 5]), 2u16)
    );
    assert!(matches!(
        chunkwise::zeros::<f64>(&[3], [0]),
        Err(Error::Build(BuildError::InvalidChunks { .. }))
    ));
    assert!(matches!(
        chunkwise::zeros::<f64>(&[3, 3], [2]),
        Err(Error::Build(BuildError::InvalidChunks { .. }))
    ));
    assert!(matches!(
        chunkwise::zeros::<f64>(&[5], Chunks::Sizes(vec![vec![2, 2]])),
        Err(Error::Build(BuildError::InvalidChunks { .. }))
    ));
}

fn arange_dense(start: f64, stop: f64, step: f64) -> Vec<f64> {
    let n = ((stop - start) / step).ceil().max(0.0) as usize;
    (0..n).map(|i| start + i as f64 * step).collect()
}

#[test]
fn arange_for_integers_and_floats() {
    let x = chunkwise::arange::<i64>(-3, 10, 2, [3])
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(x, arr1(&[-3i64, -1, 1, 3, 5, 7, 9]).into_dyn());
    let x = chunkwise::arange::<i32>(10, 0, -3, [2])
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(x, arr1(&[10, 7, 4, 1]).into_dyn());
    let x = chunkwise::arange::<u8>(0, 255, 50, [4])
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(x, arr1(&[0u8, 50, 100, 150, 200, 250]).into_dyn());
    let x = chunkwise::arange::<i32>(-5, 5, 1, Chunks::Sizes(vec![vec![3, 1, 6]]))
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(x, ArrayD::from_shape_fn(IxDyn(&[10]), |i| i[0] as i32 - 5));
    for (start, stop, step, chunk) in [
        (1.0, -2.0, -0.5, 4),
        (0.0, 1.0, 0.1, 3),
        (-2.5, 7.25, 0.75, 5),
        (10.0, -10.0, -3.3, 1),
        (0.0, 1000.0, 1.0, 128),
    ] {
        let x = chunkwise::arange::<f64>(start, stop, step, [chunk])
            .unwrap()
            .compute()
            .unwrap();
        assert_eq!(
            x.into_raw_vec_and_offset().0,
            arange_dense(start, stop, step),
            "{start} {stop} {step}"
        );
    }
    let x = chunkwise::arange::<f32>(0.0, 3.0, 0.25, [5])
        .unwrap()
        .compute()
        .unwrap();
    let want: Vec<f32> = arange_dense(0.0, 3.0, 0.25)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    assert_eq!(x.into_raw_vec_and_offset().0, want);
    // empty ranges
    assert_eq!(
        chunkwise::arange::<i32>(5, 5, 1, [3]).unwrap().shape(),
        vec![0]
    );
    assert_eq!(
        chunkwise::arange::<i32>(0, 10, -1, [3])
            .unwrap()
            .compute()
            .unwrap()
            .shape(),
        &[0]
    );
    assert_eq!(
        chunkwise::arange::<f64>(1.0, 0.0, 0.5, [3])
            .unwrap()
            .compute()
            .unwrap()
            .len(),
        0
    );
    // bad steps
    assert!(matches!(
        chunkwise::arange::<i32>(0, 10, 0, [3]),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
    assert!(matches!(
        chunkwise::arange::<f64>(0.0, 1.0, f64::NAN, [3]),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
    assert!(matches!(
        chunkwise::arange::<f64>(0.0, f64::INFINITY, 1.0, [3]),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
}

#[test]
fn linspace_values_and_endpoint() {
    for (a, b, n, chunk) in [
        (0.0, 1.0, 5, 2),
        (-1.0, 2.0, 7, 3),
        (3.0, 3.0, 4, 4),
        (1.0, -1.0, 101, 10),
        (0.1, 0.7, 13, 5),
    ] {
        let x = chunkwise::linspace::<f64>(a, b, n, [chunk])
            .unwrap()
            .compute()
            .unwrap();
        let step = (b - a) / (n - 1) as f64;
        let mut want: Vec<f64> = (0..n).map(|i| a + i as f64 * step).collect();
        *want.last_mut().unwrap() = b;
        assert_eq!(x.into_raw_vec_and_offset().0, want, "{a} {b} {n}");
    }
    let one = chunkwise::linspace::<f64>(2.5, 9.0, 1, [3])
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(one, arr1(&[2.5]).into_dyn());
    let none = chunkwise::linspace::<f64>(2.5, 9.0, 0, [3])
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(none.shape(), &[0]);
    let x = chunkwise::linspace::<f32>(0.0, 1.0, 11, [4])
        .unwrap()
        .compute()
        .unwrap();
    let want: Vec<f32> = (0..11)
        .map(|i| {
            if i == 10 {
                1.0
            } else {
                (i as f64 * 0.1) as f32
            }
        })
        .collect();
    assert_eq!(x.into_raw_vec_and_offset().0, want);
}

#[test]
fn eye_on_and_off_the_diagonal() {
    for (n, m, k) in [
        (4, 6, -1),
        (4, 6, 0),
        (4, 6, 2),
        (4, 6, 5),
        (4, 6, 6),
        (4, 6, -4),
        (5, 3, -1),
        (5, 3, 1),
        (3, 3, 0),
        (1, 1, 0),
    ] {
        for chunks in [vec![3, 4], vec![1, 1], vec![n.max(1), m.max(1)]] {
            let x = chunkwise::eye::<f64>(n, m, k, chunks.clone())
                .unwrap()
                .compute()
                .unwrap();
            let want = ArrayD::from_shape_fn(IxDyn(&[n, m]), |i| {
                if i[1] as i64 - i[0] as i64 == k {
                    1.0
                } else {
                    0.0
                }
            });
            assert_eq!(x, want, "eye({n}, {m}, {k}) in {chunks:?}");
        }
    }
    let x = chunkwise::eye::<i32>(6, 4, -2, Chunks::Sizes(vec![vec![1, 4, 1], vec![3, 1]]))
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(
        x,
        ArrayD::from_shape_fn(IxDyn(&[6, 4]), |i| (i[1] as i64 - i[0] as i64 == -2) as i32)
    );
    assert_eq!(
        chunkwise::eye::<f64>(0, 3, 0, [2, 2])
            .unwrap()
            .compute()
            .unwrap()
            .shape(),
        &[0, 3]
    );
    assert_eq!(
        chunkwise::eye::<f64>(3, 0, 0, [2, 2])
            .unwrap()
            .compute()
            .unwrap()
            .shape(),
        &[3, 0]
    );
}

// ---------------------------------------------------------------- random numbers

#[test]
fn random_values_do_not_depend_on_chunks_or_threads() {
    let shape = [150, 130];
    let chunkings = vec![
        Chunks::Shape(vec![150, 130]),
        Chunks::Shape(vec![37, 64]),
        Chunks::Shape(vec![7, 130]),
        Chunks::Shape(vec![1, 1000]),
        Chunks::Sizes(vec![vec![100, 1, 49], vec![3, 127]]),
    ];
    let reference_u = random::uniform::<f64>(9, 0.0, 1.0, &shape, [50, 50])
        .unwrap()
        .compute()
        .unwrap();
    let reference_n = random::normal::<f32>(9, 0.0, 1.0, &shape, [50, 50])
        .unwrap()
        .compute()
        .unwrap();
    let reference_i = random::integers::<i64>(9, -100, 100, &shape, [50, 50])
        .unwrap()
        .compute()
        .unwrap();
    for chunks in chunkings {
        for threads in [1, 2] {
            let cfg = Config::default().threads(threads);
            let u = random::uniform::<f64>(9, 0.0, 1.0, &shape, chunks.clone()).unwrap();
            assert_eq!(
                u.compute_with(&cfg).unwrap(),
                reference_u,
                "{chunks:?} {threads}"
            );
            let n = random::normal::<f32>(9, 0.0, 1.0, &shape, chunks.clone()).unwrap();
            assert_eq!(
                n.compute_with(&cfg).unwrap(),
                reference_n,
                "{chunks:?} {threads}"
            );
            let i = random::integers::<i64>(9, -100, 100, &shape, chunks.clone()).unwrap();
            assert_eq!(
                i.compute_with(&cfg).unwrap(),
                reference_i,
                "{chunks:?} {threads}"
            );
            // fused into other work, with a small strip length, the values are the same
            let cfg = cfg.strip_len(5);
            assert_eq!((&u * 1.0).compute_with(&cfg).unwrap(), reference_u);
            let m = u.max().compute_with(&cfg).unwrap().scalar();
            assert_eq!(
                m,
                reference_u
                    .iter()
                    .copied()
                    .fold(f64::NEG_INFINITY, f64::max)
            );
        }
    }
    // a slice of a random array is the same slice of the whole
    let u = random::uniform::<f64>(9, 0.0, 1.0, &shape, [37, 64]).unwrap();
    let part = u
        .slice(ndarray::s![40..90;3, -5..])
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(
        part,
        reference_u
            .slice(ndarray::s![40..90;3, -5..])
            .to_owned()
            .into_dyn()
    );
}

#[test]
fn different_seeds_give_different_values() {
    let a = random::uniform::<f64>(1, 0.0, 1.0, &[10_000], [1000])
        .unwrap()
        .compute()
        .unwrap();
    let b = random::uniform::<f64>(2, 0.0, 1.0, &[10_000], [1000])
        .unwrap()
        .compute()
        .unwrap();
    let same = a.iter().zip(&b).filter(|(p, q)| p == q).count();
    assert!(same < 10, "{same} equal values");
    let c = random::normal::<f64>(1, 0.0, 1.0, &[10_000], [1000])
        .unwrap()
        .compute()
        .unwrap();
    let same = a.iter().zip(&c).filter(|(p, q)| p == q).count();
    assert!(same < 10, "uniform and normal share {same} values");
    // neighbours are not equal either (positions are keyed)
    let same = a
        .iter()
        .zip(a.iter().skip(1))
        .filter(|(p, q)| p == q)
        .count();
    assert!(same < 10);
    let i1 = random::integers::<i32>(1, 0, 1_000_000, &[1000], [100])
        .unwrap()
        .compute()
        .unwrap();
    let i2 = random::integers::<i32>(2, 0, 1_000_000, &[1000], [100])
        .unwrap()
        .compute()
        .unwrap();
    assert!(i1.iter().zip(&i2).filter(|(p, q)| p == q).count() < 5);
}

fn mean_std(v: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = v.clone().count() as f64;
    let mean = v.clone().sum::<f64>() / n;
    let var = v.map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[test]
fn uniform_distribution() {
    let x = random::uniform::<f64>(3, 0.0, 1.0, &[100_000], [4096])
        .unwrap()
        .compute()
        .unwrap();
    assert!(x.iter().all(|&v| (0.0..1.0).contains(&v)));
    let (mean, std) = mean_std(x.iter().copied());
    assert!((mean - 0.5).abs() < 0.005, "mean {mean}");
    assert!((std - (1.0f64 / 12.0).sqrt()).abs() < 0.005, "std {std}");
    // a histogram of 10 bins is flat within 5%
    let mut bins = [0usize; 10];
    for &v in &x {
        bins[(v * 10.0) as usize] += 1;
    }
    assert!(
        bins.iter().all(|&b| (9_500..=10_500).contains(&b)),
        "{bins:?}"
    );
    let y = random::uniform::<f64>(4, -2.0, 5.0, &[300, 300], [128, 77])
        .unwrap()
        .compute()
        .unwrap();
    assert!(y.iter().all(|&v| (-2.0..5.0).contains(&v)));
    let (mean, _) = mean_std(y.iter().copied());
    assert!((mean - 1.5).abs() < 0.05, "mean {mean}");
    let z = random::uniform::<f32>(5, -1.0, 1.0, &[100_000], [5000])
        .unwrap()
        .compute()
        .unwrap();
    assert!(z.iter().all(|&v| (-1.0..1.0).contains(&v)));
    let (mean, _) = mean_std(z.iter().map(|&v| v as f64));
    assert!(mean.abs() < 0.01, "mean {mean}");
    let w = random::uniform::<f32>(6, 0.0, 1.0, &[100_000], [5000])
        .unwrap()
        .compute()
        .unwrap();
    assert!(w.iter().all(|&v| (0.0..1.0).contains(&v)));
    // the mean computed by the library agrees
    let m = random::uniform::<f64>(3, 0.0, 1.0, &[100_000], [4096])
        .unwrap()
        .mean()
        .compute()
        .unwrap()
        .scalar();
    assert!((m - 0.5).abs() < 0.005);
    assert!(matches!(
        random::uniform::<f64>(1, 1.0, 1.0, &[3], [3]),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
    assert!(matches!(
        random::uniform::<f64>(1, 2.0, 1.0, &[3], [3]),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
    assert!(matches!(
        random::uniform::<f64>(1, 0.0, f64::INFINITY, &[3], [3]),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
}

#[test]
fn normal_distribution() {
    let x = random::normal::<f64>(7, 0.0, 1.0, &[100_000], [3000])
        .unwrap()
        .compute()
        .unwrap();
    let (mean, std) = mean_std(x.iter().copied());
    assert!(mean.abs() < 0.015, "mean {mean}");
    assert!((std - 1.0).abs() < 0.015, "std {std}");
    assert!(x.iter().all(|v| v.is_finite()));
    // about 68.3% within one standard deviation, 95.4% within two
    let within1 = x.iter().filter(|v| v.abs() < 1.0).count() as f64 / 1e5;
    let within2 = x.iter().filter(|v| v.abs() < 2.0).count() as f64 / 1e5;
    assert!((within1 - 0.6827).abs() < 0.01, "{within1}");
    assert!((within2 - 0.9545).abs() < 0.005, "{within2}");
    let y = random::normal::<f32>(8, 3.0, 2.0, &[100_000], [3000])
        .unwrap()
        .compute()
        .unwrap();
    let (mean, std) = mean_std(y.iter().map(|&v| v as f64));
    assert!((mean - 3.0).abs() < 0.03, "mean {mean}");
    assert!((std - 2.0).abs() < 0.03, "std {std}");
    let z = random::normal::<f64>(9, 5.0, 0.0, &[10], [3])
        .unwrap()
        .compute()
        .unwrap();
    assert!(z.iter().all(|&v| v == 5.0));
    assert!(matches!(
        random::normal::<f64>(1, 0.0, -1.0, &[3], [3]),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
    assert!(matches!(
        random::normal::<f64>(1, f64::NAN, 1.0, &[3], [3]),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
}

#[test]
fn integers_within_range() {
    let x = random::integers::<i32>(1, -5, 3, &[20_000], [999])
        .unwrap()
        .compute()
        .unwrap();
    assert!(x.iter().all(|v| (-5..3).contains(v)));
    for v in -5..3 {
        let count = x.iter().filter(|&&w| w == v).count();
        assert!((2_250..=2_750).contains(&count), "{v}: {count}");
    }
    let y = random::integers::<u8>(2, 10, 255, &[10_000], [1000])
        .unwrap()
        .compute()
        .unwrap();
    assert!(y.iter().all(|&v| (10..255).contains(&v)));
    assert!(y.iter().any(|&v| v == 254) && y.iter().any(|&v| v == 10));
    let z = random::integers::<i64>(3, -1_000_000_000_000, 1_000_000_000_000, &[10_000], [1000])
        .unwrap();
    let z = z.compute().unwrap();
    assert!(
        z.iter()
            .all(|v| (-1_000_000_000_000..1_000_000_000_000).contains(v))
    );
    assert!(z.iter().any(|&v| v < -500_000_000_000) && z.iter().any(|&v| v > 500_000_000_000));
    let one = random::integers::<i32>(4, 7, 8, &[100], [30])
        .unwrap()
        .compute()
        .unwrap();
    assert!(one.iter().all(|&v| v == 7));
    assert!(matches!(
        random::integers::<f64>(1, 0.0, 10.0, &[3], [3]),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
    assert!(matches!(
        random::integers::<i32>(1, 5, 5, &[3], [3]),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
}

#[test]
fn integers_accept_ranges_beyond_f64_precision() {
    let low = 1i64 << 53;
    let x = random::integers::<i64>(1, low, low + 1, &[8], [3])
        .unwrap()
        .compute()
        .unwrap();
    assert!(x.iter().all(|&v| v == low));
    let top = random::integers::<i64>(1, i64::MAX - 1, i64::MAX, &[8], [3])
        .unwrap()
        .compute()
        .unwrap();
    assert!(top.iter().all(|&v| v == i64::MAX - 1));
}

#[test]
fn integers_u64_above_i64_max() {
    let x = random::integers::<u64>(1, 0, u64::MAX, &[1000], [300])
        .unwrap()
        .compute()
        .unwrap();
    assert!(x.iter().any(|&v| v > 1 << 63));
    let y = random::integers::<u64>(1, 10, (1 << 63) + 5, &[1000], [300])
        .unwrap()
        .compute()
        .unwrap();
    assert!(y.iter().all(|&v| (10..(1 << 63) + 5).contains(&v)));
}

// ---------------------------------------------------------------- user sources

fn counting_source(
    shape: &[usize],
    chunks: &[usize],
) -> (Array<f64>, Arc<AtomicUsize>, ArrayD<f64>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let dense = dense_f64(shape, 4242);
    let data = dense.clone();
    let x = from_fn(shape, chunks.to_vec(), move |_, ranges| {
        counter.fetch_add(1, Ordering::SeqCst);
        let mut view = data.view();
        for (axis, r) in ranges.iter().enumerate() {
            view.slice_axis_inplace(ndarray::Axis(axis), ndarray::Slice::from(r.clone()));
        }
        view.to_owned()
    })
    .unwrap();
    (x, calls, dense)
}

#[test]
fn from_fn_gives_block_indices_and_ranges() {
    let x = from_fn(
        &[5, 7],
        Chunks::Sizes(vec![vec![2, 3], vec![4, 3]]),
        |block, ranges| {
            let shape: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
            ArrayD::from_shape_fn(IxDyn(&shape), |i| {
                (block[0] * 10 + block[1]) as f64 * 1000.0
                    + ((ranges[0].start + i[0]) * 7 + ranges[1].start + i[1]) as f64
            })
        },
    )
    .unwrap();
    let got = x.compute().unwrap();
    let want = ArrayD::from_shape_fn(IxDyn(&[5, 7]), |i| {
        let block = (usize::from(i[0] >= 2), usize::from(i[1] >= 4));
        (block.0 * 10 + block.1) as f64 * 1000.0 + (i[0] * 7 + i[1]) as f64
    });
    assert_eq!(got, want);
}

#[test]
fn from_fn_tile_of_the_wrong_shape_is_an_error() {
    let x = from_fn(&[5, 4], [2, 2], |_, _| ArrayD::<f64>::zeros(IxDyn(&[2, 2]))).unwrap();
    match x.compute() {
        Err(Error::Exec(ExecError::TileShape {
            task,
            expected,
            found,
        })) => {
            assert_eq!(expected, vec![1, 2]);
            assert_eq!(found, vec![2, 2]);
            assert!(task.contains("block [2, "), "{task}");
        }
        other => panic!("expected TileShape, got {other:?}"),
    }
    // a tile with the wrong number of axes, consumed by a reduction
    let y = from_fn(&[4], [2], |_, _| ArrayD::<f64>::zeros(IxDyn(&[2, 1]))).unwrap();
    assert!(matches!(
        y.sum().compute(),
        Err(Error::Exec(ExecError::TileShape { .. }))
    ));
    // a panicking source
    let z = from_fn(&[4], [2], |block, ranges| {
        assert!(block[0] == 0, "no block {block:?}");
        ArrayD::<f64>::zeros(IxDyn(&[ranges[0].len()]))
    })
    .unwrap();
    match z.compute() {
        Err(Error::Exec(ExecError::TaskPanicked { task, message })) => {
            assert!(task.contains("block [1]"), "{task}");
            assert!(message.contains("no block [1]"), "{message}");
        }
        other => panic!("expected TaskPanicked, got {other:?}"),
    }
}

// ---------------------------------------------------------------- plans and fusion

#[test]
fn fusion_shows_in_the_task_count() {
    let x = random::uniform::<f64>(1, -1.0, 1.0, &[400, 400], [100, 100]).unwrap();
    assert_eq!(x.n_tiles(), 16);
    let y = (&x + 1.0).sin() * 2.0;
    assert_eq!(y.task_count(&Config::default()).unwrap(), 16);
    let unfused = y.task_count(&Config::default().fuse(false)).unwrap();
    assert!(unfused > 16, "{unfused}");
    let fused_values = y.compute().unwrap();
    let unfused_values = y.compute_with(&Config::default().fuse(false)).unwrap();
    assert_same_f64(&fused_values, &unfused_values);
    let dense = x.compute().unwrap().mapv(|v| (v + 1.0).sin() * 2.0);
    assert_close(&fused_values, &dense, 2e-15);
    // the report counts the tasks the plan has
    let (_, report) = y.compute_report(&Config::default()).unwrap();
    assert_eq!(report.tasks, 16);
    let (_, report) = y.compute_report(&Config::default().fuse(false)).unwrap();
    assert_eq!(report.tasks, unfused);
    // reductions: the chain fuses into the partial step
    let s = y.sum();
    let fused = s.task_count(&Config::default()).unwrap();
    let unfused = s.task_count(&Config::default().fuse(false)).unwrap();
    assert!(fused < unfused, "{fused} vs {unfused}");
    assert!(fused <= 16 + 2, "{fused}");
    let a = s.compute().unwrap().scalar();
    let b = s
        .compute_with(&Config::default().fuse(false))
        .unwrap()
        .scalar();
    assert!(close(a, b, 1e-14), "{a} vs {b}");
}

#[test]
fn explain_shows_one_fused_reduction() {
    let x = random::uniform::<f64>(1, 0.0, 1.0, &[300, 300], [100, 100]).unwrap();
    let y = random::normal::<f64>(2, 0.0, 1.0, &[300, 300], [100, 100]).unwrap();
    let plan = (&x * &y).sum().explain().unwrap();
    let reduce_lines: Vec<&str> = plan.lines().filter(|l| l.contains("Reduce")).collect();
    assert_eq!(reduce_lines.len(), 1, "{plan}");
    assert!(reduce_lines[0].contains("mul("), "{plan}");
    assert!(
        !plan
            .lines()
            .any(|l| l.trim_start().starts_with('#') && l.contains("Elemwise")),
        "{plan}"
    );
    // with fusion off the multiplication is its own node
    let unfused = (&x * &y)
        .sum()
        .explain_with(&Config::default().fuse(false))
        .unwrap();
    assert!(unfused.lines().any(|l| l.contains("Elemwise")), "{unfused}");
    // errors are reported, not printed
    let bad = &x + &random::uniform::<f64>(1, 0.0, 1.0, &[3], [3]).unwrap();
    assert!(matches!(
        bad.explain(),
        Err(Error::Build(BuildError::Broadcast { .. }))
    ));
    assert!(matches!(
        bad.to_dot(),
        Err(Error::Build(BuildError::Broadcast { .. }))
    ));
    assert!(matches!(
        bad.task_count(&Config::default()),
        Err(Error::Build(BuildError::Broadcast { .. }))
    ));
}

#[test]
fn to_dot_is_graphviz() {
    let x = random::uniform::<f64>(1, 0.0, 1.0, &[20, 20], [10, 10]).unwrap();
    let dot = (x.transpose() + &x).sum_axis(0).to_dot().unwrap();
    assert!(dot.starts_with("digraph"), "{dot}");
    assert!(dot.contains("->"), "{dot}");
    assert!(dot.trim_end().ends_with('}'), "{dot}");
}

// ---------------------------------------------------------------- shared work and persist

#[test]
fn compute_many_computes_each_source_tile_once() {
    let (x, calls, dense) = counting_source(&[40, 30], &[10, 10]);
    assert_eq!(x.n_tiles(), 12);
    let results = compute_many(&[&x.sum(), &x.max(), &x.mean_axis(0)]).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 12);
    let total: f64 = dense.iter().sum();
    assert!(close(results[0].first().copied().unwrap(), total, 1e-12));
    assert_eq!(
        results[1].first().copied().unwrap(),
        dense.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    );
    assert_close(
        &results[2],
        &dense.mean_axis(ndarray::Axis(0)).unwrap(),
        1e-13,
    );
    // elementwise results of one source
    calls.store(0, Ordering::SeqCst);
    let results = compute_many(&[&(&x + 1.0), &x.sin(), &x]).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 12);
    assert_eq!(results[0], dense.mapv(|v| v + 1.0));
    assert_eq!(results[2], dense);
    // the same array twice
    calls.store(0, Ordering::SeqCst);
    let s = x.sum();
    let results = compute_many(&[&s, &s]).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 12);
    assert_eq!(results[0], results[1]);
    // an error in one array is reported
    let bad = &x + &from_fn(&[3], [3], |_, _| ArrayD::<f64>::zeros(IxDyn(&[3]))).unwrap();
    assert!(matches!(
        compute_many(&[&x, &bad]),
        Err(Error::Build(BuildError::Broadcast { .. }))
    ));
}

#[test]
fn persist_computes_once() {
    let (x, calls, dense) = counting_source(&[40, 30], &[10, 10]);
    let p = x.persist().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 12);
    assert_eq!(p.compute().unwrap(), dense);
    assert_eq!(p.compute().unwrap(), dense);
    let s = (&p * 2.0).sum().compute().unwrap().scalar();
    assert!(close(s, 2.0 * dense.iter().sum::<f64>(), 1e-12));
    assert_eq!(
        p.slice(ndarray::s![5..15, -1]).unwrap().compute().unwrap(),
        dense.slice(ndarray::s![5..15, -1]).to_owned().into_dyn()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 12);
    assert_eq!(p.chunks(), x.chunks());
    // persisting a computed expression keeps its values, and its inputs are not needed again
    let q = (x.cos() * 3.0).persist().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 24);
    assert_close(&q.compute().unwrap(), &dense.mapv(|v| v.cos() * 3.0), 2e-15);
    let _ = q.max().compute().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 24);
    // persisting an array that holds an error reports it
    let bad = &x + &x.sum_axis(0).insert_axis(1).unwrap();
    assert!(matches!(
        bad.persist(),
        Err(Error::Build(BuildError::Broadcast { .. }))
    ));
}

// ---------------------------------------------------------------- memory budget

#[test]
fn a_task_over_the_budget_is_refused_before_anything_runs() {
    let (x, calls, _) = counting_source(&[1000, 1000], &[500, 500]);
    let budget = 1 << 20; // a tile is 2 MB
    let cfg = Config::default().memory_budget(budget);
    for result in [
        x.compute_with(&cfg).map(|_| ()),
        x.sum().compute_with(&cfg).map(|_| ()),
        (&x * 2.0).compute_with(&cfg).map(|_| ()),
    ] {
        match result {
            Err(Error::Plan(PlanError::TaskOverBudget {
                needed,
                budget: b,
                task,
            })) => {
                assert_eq!(b, budget);
                assert!(needed > budget, "{needed}");
                assert!(task.contains("block"), "{task}");
            }
            other => panic!("expected TaskOverBudget, got {other:?}"),
        }
    }
    assert!(matches!(
        x.task_count(&cfg),
        Err(Error::Plan(PlanError::TaskOverBudget { .. }))
    ));
    assert!(matches!(
        x.persist_with(&cfg),
        Err(Error::Plan(PlanError::TaskOverBudget { .. }))
    ));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

/// The smallest budget at which `run` succeeds, found by raising the budget by what each
/// error says is missing; returns it with the peak the run reported.
fn minimal_budget(run: &dyn Fn(u64) -> Result<chunkwise::Report, Error>) -> (u64, u64) {
    let mut budget = 1u64;
    for _ in 0..50 {
        match run(budget) {
            Ok(report) => return (budget, report.peak_bytes),
            Err(Error::Plan(
                PlanError::TaskOverBudget { needed, .. } | PlanError::PeakOverBudget { needed, .. },
            )) => budget = needed,
            Err(Error::Exec(ExecError::BudgetExhausted { held, needed, .. })) => {
                budget = held + needed
            }
            Err(e) => panic!("unexpected error at budget {budget}: {e}"),
        }
    }
    panic!("no budget found");
}

#[test]
fn a_budget_just_large_enough_succeeds_within_it() {
    let (x, _, dense) = counting_source(&[400, 400], &[100, 100]);
    let tile = 100 * 100 * 8;
    let one = Config::default().threads(1);
    let arrays: Vec<(&str, Array<f64>, ArrayD<f64>)> = vec![
        ("source", x.clone(), dense.clone()),
        ("x * 2", &x * 2.0, dense.mapv(|v| v * 2.0)),
        ("sin(x) + x", x.sin() + &x, dense.mapv(|v| v.sin() + v)),
        ("transpose", x.transpose(), dense.t().to_owned()),
        (
            "sum",
            (&x * 2.0).sum(),
            ArrayD::from_elem(IxDyn(&[]), dense.sum() * 2.0),
        ),
        (
            "sum axis 0",
            x.sum_axis(0),
            dense.sum_axis(ndarray::Axis(0)),
        ),
    ];
    for (name, y, want) in arrays {
        let (budget, peak) =
            minimal_budget(&|b| y.compute_report(&one.clone().memory_budget(b)).map(|r| r.1));
        assert!(peak <= budget, "{name}: peak {peak} over budget {budget}");
        // no more than a few tiles: the work is streamed
        assert!(budget <= 4 * tile as u64, "{name}: needs {budget}");
        let (got, report) = y
            .compute_report(&one.clone().memory_budget(budget))
            .unwrap();
        assert!(report.peak_bytes <= budget);
        assert_eq!(report.budget, budget);
        assert_close(&got, &want, 1e-12);
    }
}

/// The serial order fits in the budget, but with two workers the executor starts a second
/// source tile while the first one's consumer has not run, and then nothing can start.
#[test]
fn a_budget_that_fits_one_worker_also_fits_two() {
    let (x, _, dense) = counting_source(&[400, 400], &[100, 100]);
    let y = &x * 2.0;
    let (budget, _) = minimal_budget(&|b| {
        y.compute_report(&Config::default().threads(1).memory_budget(b))
            .map(|r| r.1)
    });
    let two = Config::default().threads(2).memory_budget(budget);
    let (got, report) = y.compute_report(&two).unwrap();
    assert!(report.peak_bytes <= budget);
    assert_eq!(got, dense.mapv(|v| v * 2.0));
}

/// Every task fits, but the plan order must hold every tile of `y` (read by the sum first,
/// by `y * 2` later) at once: planning refuses that before anything runs, naming the task
/// at the peak and the budget the plan needs, and that budget runs it.
#[test]
fn a_plan_whose_order_does_not_fit_is_refused_before_anything_runs() {
    let (x, calls, dense) = counting_source(&[64, 64], &[16, 16]);
    let y = x.rechunk([8, 32]).unwrap(); // not a source: its tiles cannot be read again
    let (total, doubled) = (y.sum(), &y * 2.0);
    let tile: u64 = 8 * 32 * 8;
    let config = |budget: u64| {
        Config::default()
            .threads(2)
            .strip_len(64) // scratch well below a tile
            .memory_budget(budget)
    };
    let needed = match chunkwise::compute_many_report(&[&total, &doubled], &config(8 * tile)) {
        Err(Error::Plan(PlanError::PeakOverBudget {
            task,
            held,
            needed,
            budget,
        })) => {
            assert_eq!(budget, 8 * tile);
            assert!(needed > budget && held < needed, "{held} {needed}");
            assert!(task.contains("block"), "{task}");
            needed
        }
        other => panic!("expected PeakOverBudget, got {other:?}"),
    };
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // y is 32 KiB: the order holds nearly all of it.
    assert!(needed >= 12 * tile, "{needed}");
    let (values, report) =
        chunkwise::compute_many_report(&[&total, &doubled], &config(needed)).unwrap();
    assert!(
        report.peak_bytes <= needed,
        "{} > {needed}",
        report.peak_bytes
    );
    assert_close(
        &values[0],
        &ArrayD::from_elem(IxDyn(&[]), dense.sum()),
        1e-12,
    );
    assert_eq!(values[1], dense.mapv(|v| v * 2.0));
}

#[test]
fn a_large_fused_reduction_runs_in_a_small_budget() {
    let x = random::uniform::<f64>(1, 0.0, 1.0, &[2000, 2000], [100, 100]).unwrap();
    let y = (&x * 2.0).sum();
    let budget = 4 << 20;
    let (got, report) = y
        .compute_report(&Config::default().memory_budget(budget))
        .unwrap();
    assert!(report.peak_bytes <= budget, "{}", report.peak_bytes);
    let value = got.scalar();
    assert!((value / 4e6 - 1.0).abs() < 0.01, "{value}");
    // the same value without a budget (the tree does not depend on it)
    let free = y.compute().unwrap().scalar();
    assert_eq!(value.to_bits(), free.to_bits());
    // the peak does not grow with the array when the tiles stay the same
    let peak = |n: usize| {
        let x = random::uniform::<f64>(1, 0.0, 1.0, &[n, n], [100, 100]).unwrap();
        (&x * 2.0)
            .sum()
            .compute_report(&Config::default().memory_budget(budget))
            .unwrap()
            .1
            .peak_bytes
    };
    let (small, large) = (peak(1000), peak(4000));
    assert!(
        large as f64 <= 1.5 * small as f64,
        "peak {small} for 1000^2, {large} for 4000^2"
    );
}

#[test]
fn elementwise_results_are_streamed_to_the_output() {
    // a materialised result is held by the caller, not the budget: only tiles in flight count
    let x = random::normal::<f64>(1, 0.0, 1.0, &[1000, 1000], [100, 100]).unwrap();
    let y = (&x + 1.0).abs();
    let budget = 1 << 20;
    let (got, report) = y
        .compute_report(&Config::default().memory_budget(budget))
        .unwrap();
    assert!(report.peak_bytes <= budget, "{}", report.peak_bytes);
    assert_eq!(got.shape(), &[1000, 1000]);
}

// ---------------------------------------------------------------- traces

#[test]
fn trace_has_one_event_per_task() {
    let x = random::uniform::<f64>(1, 0.0, 1.0, &[400, 400], [100, 100]).unwrap();
    let y = (&x * 2.0).sum_axis(0);
    let (_, report) = y.compute_report(&Config::default().trace(true)).unwrap();
    assert_eq!(report.trace.len(), report.tasks);
    assert_eq!(report.tasks, y.task_count(&Config::default()).unwrap());
    for e in &report.trace {
        assert!(e.end >= e.start, "{e:?}");
        assert!(e.thread < report.threads.max(1), "{e:?}");
        assert!(!e.name.is_empty());
    }
    let json = report.chrome_trace_json();
    assert!(json.starts_with("{\"traceEvents\":["), "{json}");
    assert!(json.ends_with("]}"), "{json}");
    assert_eq!(json.matches("\"ph\":\"X\"").count(), report.tasks);
    // braces and brackets balance outside strings
    let (mut depth, mut in_string, mut escaped) = (0i64, false, false);
    for c in json.chars() {
        match (in_string, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (true, false, '"') => in_string = false,
            (false, _, '"') => in_string = true,
            (false, _, '{' | '[') => depth += 1,
            (false, _, '}' | ']') => depth -= 1,
            _ => {}
        }
        assert!(depth >= 0);
    }
    assert_eq!(depth, 0);
    // without tracing, no events
    let (_, report) = y.compute_report(&Config::default()).unwrap();
    assert!(report.trace.is_empty());
    assert_eq!(report.chrome_trace_json(), "{\"traceEvents\":[]}");
}

#[test]
fn report_fields() {
    let x = random::uniform::<f64>(1, 0.0, 1.0, &[100, 100], [50, 50]).unwrap();
    let cfg = Config::default().threads(2).memory_budget(1 << 24);
    let (_, report) = x.sum().compute_report(&cfg).unwrap();
    assert_eq!(report.threads, 2);
    assert_eq!(report.budget, 1 << 24);
    assert!(report.peak_bytes > 0);
    assert!(report.tasks >= 4);
    assert_eq!(Config::default().threads(3).worker_threads(), 3);
    assert!(Config::default().worker_threads() >= 1);
}

/// Reductions of one expression over the same axes run as one merged pass in
/// `compute_many`; each result must equal the reduction computed on its own, bit for bit.
#[test]
fn merged_reductions_equal_separate_ones() {
    let x = random::uniform::<f64>(
        9,
        -1.0,
        1.0,
        &[37, 23],
        Chunks::Sizes(vec![vec![10, 20, 7], vec![5, 18]]),
    )
    .unwrap();
    let e = x.sin() * 3.0 + 0.5;
    let (mean, std, sum, max) = (
        e.mean_axis(0),
        e.std_axis(0, 1.0),
        e.sum_axis(0),
        e.max_axis(0),
    );
    let merged = compute_many(&[&mean, &std, &sum, &max]).unwrap();
    for (together, alone) in merged.iter().zip([&mean, &std, &sum, &max]) {
        let alone = alone.compute().unwrap();
        assert_eq!(together.shape(), alone.shape());
        assert!(
            together
                .iter()
                .zip(alone.iter())
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }
    // The dense oracle for one of them.
    let dense = e.compute().unwrap();
    let want = dense.sum_axis(ndarray::Axis(0));
    assert_close(&merged[2], &want, 1e-12);
    // One pass: the plan holds a single reduction with all four parts.
    let plan = compute_plan_of_four(&e);
    assert!(plan.contains("mean + std + sum + max"), "{plan}");
}

fn compute_plan_of_four(e: &Array<f64>) -> String {
    // explain() shows one root; merging shows on a root that reads all four.
    let (mean, std, sum, max) = (
        e.mean_axis(0),
        e.std_axis(0, 1.0),
        e.sum_axis(0),
        e.max_axis(0),
    );
    let combined = &(&(&mean + &std) + &sum) + &max;
    combined.explain_with(&Config::default()).unwrap()
}

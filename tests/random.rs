//! `chunkwise::random`: values that depend on the seed alone (not on chunks or threads),
//! the uniform and normal distributions, and integer ranges.

#![allow(missing_docs)]

mod common;

use chunkwise::{BuildError, Chunks, Config, Error, random};
use common::*;

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

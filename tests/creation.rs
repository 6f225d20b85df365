//! Creation functions (`zeros`, `ones`, `full`, `arange`, `linspace`, `eye`) and user
//! sources (`from_fn`): values, chunks, and the errors of a source that misbehaves.

#![allow(missing_docs)]

use chunkwise::{BuildError, Chunks, Error, ExecError, from_fn};
use ndarray::{ArrayD, IxDyn, arr1};

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

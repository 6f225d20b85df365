//! `map_blocks`, `blockwise` in index notation and user reductions against dense ndarray
//! oracles, on irregular chunks.

#![allow(missing_docs)]

mod common;

use std::sync::{Arc, Mutex};

use chunkwise::{
    Array, BlockInfo, BlockResult, BlockwiseOptions, BuildError, Chunks, Config, Error, ExecError,
    MapBlocks, Reduction, blockwise, from_ndarray, map_blocks, reduction,
};
use common::*;
use ndarray::{ArrayD, Axis, Ix2, IxDyn, Zip};

fn arr(dense: &ArrayD<f64>, chunks: Chunks) -> Array<f64> {
    from_ndarray(dense, chunks).unwrap()
}

fn sizes(v: &[&[usize]]) -> Chunks {
    Chunks::Sizes(v.iter().map(|s| s.to_vec()).collect())
}

/// A 6x5 array on irregular chunks, and its values.
fn irregular() -> (ArrayD<f64>, Array<f64>) {
    let dense = dense_f64(&[6, 5], 1);
    let a = arr(&dense, sizes(&[&[3, 1, 2], &[2, 3]]));
    (dense, a)
}

fn invalid_argument(err: Error) -> String {
    match err {
        Error::Build(BuildError::InvalidArgument { reason, .. }) => reason,
        other => panic!("expected an invalid argument, got {other:?}"),
    }
}

#[test]
fn map_blocks_changes_dtype_on_every_case() {
    for case in cases() {
        let dense = dense_f64(&case.shape, 2);
        let a = arr(&dense, case.chunks.clone());
        let signs = a
            .map_blocks(|b| Ok(b.mapv(|v| if v > 0.0 { 1i32 } else { -1 })))
            .unwrap();
        assert_eq!(signs.chunks(), a.chunks(), "{case:?}");
        let expected = dense.mapv(|v| if v > 0.0 { 1i32 } else { -1 });
        assert_eq!(signs.compute().unwrap(), expected, "{case:?}");
    }
}

#[test]
fn block_info_gives_each_blocks_place() {
    for case in cases() {
        let dense = dense_f64(&case.shape, 3);
        let a = arr(&dense, case.chunks.clone());
        let seen = Arc::new(Mutex::new(Vec::<BlockInfo>::new()));
        let record = seen.clone();
        // Each element becomes its flat index in the array, from the block's ranges.
        let flat = a
            .map_blocks_with(&MapBlocks::new(), move |b, info| {
                record.lock().unwrap().push(info.clone());
                assert_eq!(info.block_shape(), b.shape());
                let out = ArrayD::from_shape_fn(b.raw_dim(), |local| {
                    let mut flat = 0;
                    for (k, r) in info.ranges.iter().enumerate() {
                        flat = flat * info.shape[k] + r.start + local[k];
                    }
                    flat as u64
                });
                Ok(out)
            })
            .unwrap();
        let n: usize = case.shape.iter().product();
        let expected = ArrayD::from_shape_vec(IxDyn(&case.shape), (0..n as u64).collect()).unwrap();
        assert_eq!(flat.compute().unwrap(), expected, "{case:?}");
        let mut seen = seen.lock().unwrap().clone();
        seen.sort_by(|x, y| x.index.cmp(&y.index));
        let grid = a.chunks();
        let blocks: Vec<Vec<usize>> = grid.blocks().collect();
        assert_eq!(seen.len(), blocks.len(), "{case:?}");
        for (info, block) in seen.iter().zip(&blocks) {
            assert_eq!(&info.index, block);
            assert_eq!(info.ranges, grid.block_ranges(block));
            assert_eq!(info.shape, case.shape);
            assert_eq!(info.nblocks, grid.nblocks());
        }
    }
}

#[test]
fn map_blocks_with_given_chunks() {
    let (dense, a) = irregular();
    // Each block keeps its first row: 3 blocks of one row.
    let how = MapBlocks::new().chunks(vec![vec![1, 1, 1], vec![2, 3]]);
    let firsts = a
        .map_blocks_with(&how, |b, _| {
            Ok(b.slice_axis(Axis(0), (0..1).into()).to_owned())
        })
        .unwrap();
    assert_eq!(firsts.shape(), vec![3, 5]);
    let rows: Vec<_> = [0, 3, 4]
        .iter()
        .map(|&i| dense.index_axis(Axis(0), i))
        .collect();
    let expected = ndarray::stack(Axis(0), &rows).unwrap();
    assert_eq!(firsts.compute().unwrap(), expected);
    // As many chunks as blocks, per axis.
    let bad = a.map_blocks_with(
        &MapBlocks::new().chunks(vec![vec![3], vec![2, 3]]),
        |b, _| Ok(b.clone()),
    );
    assert!(invalid_argument(bad.unwrap_err()).contains("output axis 0"));
}

#[test]
fn drop_axis_sums_a_whole_axis() {
    let dense = dense_f64(&[6, 5], 4);
    let a = arr(&dense, sizes(&[&[3, 1, 2], &[5]]));
    let sums = a
        .map_blocks_with(&MapBlocks::new().drop_axis([1]), |b, _| {
            Ok(b.sum_axis(Axis(1)))
        })
        .unwrap();
    assert_eq!(sums.chunks().chunks(), vec![vec![3, 1, 2]]);
    assert_same_f64(&sums.compute().unwrap(), &dense.sum_axis(Axis(1)));
    // A dropped axis in several chunks is refused at build time.
    let (_, split) = irregular();
    let err = split
        .map_blocks_with(&MapBlocks::new().drop_axis([-1]), |b, _| {
            Ok(b.sum_axis(Axis(1)))
        })
        .unwrap_err();
    assert!(invalid_argument(err).contains("dropped axis 1 has 2 chunks"));
}

#[test]
fn new_axis_of_length_one_and_given_length() {
    let (dense, a) = irregular();
    let last = a
        .map_blocks_with(&MapBlocks::new().new_axis([2]), |b, _| {
            Ok(b.clone().insert_axis(Axis(2)))
        })
        .unwrap();
    assert_eq!(last.shape(), vec![6, 5, 1]);
    assert_eq!(last.compute().unwrap(), dense.clone().insert_axis(Axis(2)));
    // A leading axis of length 2: the block and its double.
    let how = MapBlocks::new()
        .new_axis([0])
        .chunks(vec![vec![2], vec![3, 1, 2], vec![2, 3]]);
    let pair = a
        .map_blocks_with(&how, |b, _| {
            Ok(ndarray::stack(Axis(0), &[b.view(), (b * 2.0).view()])?)
        })
        .unwrap();
    let expected = ndarray::stack(Axis(0), &[dense.view(), (&dense * 2.0).view()]).unwrap();
    assert_eq!(pair.compute().unwrap(), expected);
}

#[test]
fn several_inputs_aligned_broadcast_and_rechunked() {
    let (da, a) = irregular();
    // Same shape, other chunks: both are rechunked to the common refinement.
    let db = dense_f64(&[6, 5], 5);
    let b = arr(&db, sizes(&[&[2, 4], &[4, 1]]));
    // Fewer axes, and a length-1 axis.
    let dc = dense_f64(&[5], 6);
    let c = arr(&dc, sizes(&[&[1, 4]]));
    let dd = dense_f64(&[6, 1], 7);
    let d = arr(&dd, sizes(&[&[3, 3], &[1]]));
    let out = map_blocks(&[&a, &b, &c, &d], &MapBlocks::new(), |x, info| {
        assert_eq!(x[2].ndim(), 1);
        assert_eq!(x[3].shape()[1], 1);
        assert_eq!(x[0].shape(), info.block_shape().as_slice());
        Ok(&(&(x[0] * x[1]) + x[2]) + x[3])
    })
    .unwrap();
    assert_eq!(
        out.chunks().chunks(),
        vec![vec![2, 1, 1, 2], vec![1, 1, 2, 1]]
    );
    let expected = &(&(&da * &db) + &dc) + &dd;
    assert_same_f64(&out.compute().unwrap(), &expected);
    // Aligned inputs keep their grid.
    let twice = map_blocks(&[&a, &a], &MapBlocks::new(), |x, _| Ok(x[0] + x[1])).unwrap();
    assert_eq!(twice.chunks(), a.chunks());
    assert_same_f64(&twice.compute().unwrap(), &(&da * 2.0));
    // Shapes that do not broadcast.
    let e = arr(&dense_f64(&[4], 8), sizes(&[&[4]]));
    let err = map_blocks(&[&a, &e], &MapBlocks::new(), |x, _| Ok(x[0].clone())).unwrap_err();
    assert!(
        matches!(err, Error::Build(BuildError::Broadcast { .. })),
        "{err:?}"
    );
}

#[test]
fn an_error_of_the_function_names_the_block() {
    let (_, a) = irregular();
    let failing = a
        .map_blocks_with(&MapBlocks::new().name("load"), |b, info| {
            if info.index == [1, 1] {
                let io = std::io::Error::new(std::io::ErrorKind::NotFound, "tile.bin missing");
                return Err(io.into());
            }
            Ok(b.clone())
        })
        .unwrap();
    let err = (&failing + 1.0).sum().compute().unwrap_err();
    match &err {
        Error::Exec(ExecError::UserFunction {
            task,
            block,
            message,
        }) => {
            assert_eq!(task, "load");
            assert_eq!(block, &vec![1, 1]);
            assert_eq!(message, "tile.bin missing");
        }
        other => panic!("expected a user-function error, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "load failed on block [1, 1]: tile.bin missing"
    );
}

#[test]
fn a_block_of_the_wrong_shape_is_an_error() {
    let (_, a) = irregular();
    let wrong = a
        .map_blocks(|b| Ok(b.slice_axis(Axis(1), (0..1).into()).to_owned()))
        .unwrap();
    match wrong.compute().unwrap_err() {
        Error::Exec(ExecError::TileShape {
            task,
            expected,
            found,
        }) => {
            assert!(task.starts_with("map_blocks block"), "{task}");
            assert_eq!(found[1], 1);
            assert_eq!(expected[0], found[0]);
            assert_ne!(expected[1], 1);
        }
        other => panic!("expected a tile shape error, got {other:?}"),
    }
}

#[test]
fn elementwise_work_fuses_after_map_blocks() {
    let (dense, a) = irregular();
    let m = a.map_blocks(|b| Ok(b.mapv(f64::abs))).unwrap();
    let total = ((&m * 2.0) + 1.0).sum();
    let plan = total.explain().unwrap();
    assert!(plan.contains("Blockwise map_blocks"), "{plan}");
    assert!(
        plan.contains("Reduce sum over axes [0, 1] of add"),
        "{plan}"
    );
    assert!(!plan.contains("Elemwise"), "{plan}");
    let expected: f64 = dense.iter().map(|v| v.abs() * 2.0 + 1.0).sum();
    let got = total.compute_scalar().unwrap();
    assert!(close(got, expected, 1e-12), "{got} vs {expected}");
}

/// A matrix product of one block per `(i, k)` over the blocks along `j`.
fn matmul_blocks(a: &[&ArrayD<f64>], b: &[&ArrayD<f64>]) -> ArrayD<f64> {
    let (m, n) = (a[0].shape()[0], b[0].shape()[1]);
    let mut sum = ndarray::Array2::<f64>::zeros((m, n));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        let x = x.view().into_dimensionality::<Ix2>().unwrap();
        let y = y.view().into_dimensionality::<Ix2>().unwrap();
        sum += &x.dot(&y);
    }
    sum.into_dyn()
}

#[test]
fn blockwise_matmul_with_and_without_concatenate() {
    let (m, k, n) = (7, 6, 5);
    let da = dense_f64(&[m, k], 9);
    let db = dense_f64(&[k, n], 10);
    let a = arr(&da, sizes(&[&[3, 4], &[2, 1, 3]]));
    let b = arr(&db, sizes(&[&[2, 1, 3], &[4, 1]]));
    let expected = da
        .view()
        .into_dimensionality::<Ix2>()
        .unwrap()
        .dot(&db.view().into_dimensionality::<Ix2>().unwrap())
        .into_dyn();
    let lists = blockwise(
        "ik",
        &[(&a, "ij"), (&b, "jk")],
        &BlockwiseOptions::new(),
        |x, _| {
            assert_eq!(x[0].len(), 3);
            Ok(matmul_blocks(x[0], x[1]))
        },
    )
    .unwrap();
    assert_eq!(lists.chunks().chunks(), vec![vec![3, 4], vec![4, 1]]);
    assert_within(
        &lists.compute().unwrap(),
        &expected,
        &expected.mapv(|_| 1e-12),
    );
    let concatenated = blockwise(
        "ik",
        &[(&a, "ij"), (&b, "jk")],
        &BlockwiseOptions::new().concatenate(true),
        move |x, info| {
            assert_eq!(x[0].len(), 1);
            assert_eq!(x[0][0].shape(), [info.block_shape()[0], k]);
            assert_eq!(x[1][0].shape(), [k, info.block_shape()[1]]);
            Ok(matmul_blocks(x[0], x[1]))
        },
    )
    .unwrap();
    assert_within(
        &concatenated.compute().unwrap(),
        &expected,
        &expected.mapv(|_| 1e-12),
    );
}

#[test]
fn blockwise_outer_product_with_a_new_index() {
    let dx = dense_f64(&[5], 11);
    let dy = dense_f64(&[4], 12);
    let x = arr(&dx, sizes(&[&[2, 3]]));
    let y = arr(&dy, sizes(&[&[1, 2, 1]]));
    let how = BlockwiseOptions::new().new_axis('s', 3);
    // out[i, j, s] = x[i] * y[j] * s
    let outer = blockwise("ijs", &[(&x, "i"), (&y, "j")], &how, |v, info| {
        let shape = info.block_shape();
        Ok(ArrayD::from_shape_fn(IxDyn(&shape), |p| {
            v[0][0][p[0]] * v[1][0][p[1]] * p[2] as f64
        }))
    })
    .unwrap();
    assert_eq!(
        outer.chunks().chunks(),
        vec![vec![2, 3], vec![1, 2, 1], vec![3]]
    );
    let expected = ArrayD::from_shape_fn(IxDyn(&[5, 4, 3]), |p| dx[p[0]] * dy[p[1]] * p[2] as f64);
    assert_eq!(outer.compute().unwrap(), expected);
}

#[test]
fn blockwise_adjusts_chunks() {
    let (dense, a) = irregular();
    // Each block keeps its first row and last column: row chunks become 1, column chunks 1.
    let how = BlockwiseOptions::new()
        .adjust_chunks('i', |_| 1)
        .chunk_sizes('j', [1, 1]);
    let corners = blockwise("ij", &[(&a, "ij")], &how, |v, _| {
        let b = v[0][0];
        let last = b.shape()[1] - 1;
        Ok(ndarray::arr2(&[[b[[0, last]]]]).into_dyn())
    })
    .unwrap();
    assert_eq!(corners.chunks().chunks(), vec![vec![1, 1, 1], vec![1, 1]]);
    let expected = ndarray::arr2(&[
        [dense[[0, 1]], dense[[0, 4]]],
        [dense[[3, 1]], dense[[3, 4]]],
        [dense[[4, 1]], dense[[4, 4]]],
    ])
    .into_dyn();
    assert_eq!(corners.compute().unwrap(), expected);
    // A contraction that the output keeps as chunks of length 1: per-block column sums.
    let how = BlockwiseOptions::new().adjust_chunks('j', |_| 1);
    let col_sums = blockwise("j", &[(&a, "ij")], &how, |v, _| {
        let mut acc = v[0][0].sum_axis(Axis(0)).sum_axis(Axis(0));
        for b in &v[0][1..] {
            acc += &b.sum_axis(Axis(0)).sum_axis(Axis(0));
        }
        Ok(acc.insert_axis(Axis(0)))
    })
    .unwrap();
    let per_block = ndarray::arr1(&[
        dense.slice(ndarray::s![.., 0..2]).sum(),
        dense.slice(ndarray::s![.., 2..5]).sum(),
    ])
    .into_dyn();
    assert_within(
        &col_sums.compute().unwrap(),
        &per_block,
        &per_block.mapv(|_| 1e-12),
    );
}

#[test]
fn blockwise_rejects_bad_indices() {
    let (_, a) = irregular();
    let b = arr(&dense_f64(&[5, 4], 13), sizes(&[&[5], &[4]]));
    let id = |v: &[&[&ArrayD<f64>]], _: &BlockInfo| -> BlockResult<f64> { Ok(v[0][0].clone()) };
    let none = BlockwiseOptions::new();
    let reason = |r: chunkwise::Result<Array<f64>>| invalid_argument(r.unwrap_err());
    assert!(reason(blockwise("ij", &[(&a, "ii")], &none, id)).contains("repeats 'i'"));
    assert!(reason(blockwise("ii", &[(&a, "ij")], &none, id)).contains("repeats 'i'"));
    assert!(reason(blockwise("ik", &[(&a, "ij")], &none, id)).contains("'k' is in no input"));
    assert!(reason(blockwise("i", &[(&a, "i")], &none, id)).contains("1 letters for 2 axes"));
    assert!(reason(blockwise("i1", &[(&a, "ij")], &none, id)).contains("not a letter"));
    // j is chunked [2, 3] in a and [5] in b.
    let err = reason(blockwise("ik", &[(&a, "ij"), (&b, "jk")], &none, id));
    assert!(
        err.contains("index 'j' is chunked as [2, 3] in input 0 and as [5] in input 1"),
        "{err}"
    );
    let new_i = BlockwiseOptions::new().new_axis('i', 2);
    assert!(reason(blockwise("ij", &[(&a, "ij")], &new_i, id)).contains("new axis 'i'"));
    let wrong_sizes = BlockwiseOptions::new().chunk_sizes('j', [5]);
    assert!(reason(blockwise("ij", &[(&a, "ij")], &wrong_sizes, id)).contains("has 2 blocks"));
}

/// Sum of squares as a user reduction.
fn sum_of_squares(x: &Array<f64>, how: &Reduction) -> Array<f64> {
    let add = |parts: &[&ArrayD<f64>], _: &[usize]| -> BlockResult<f64> {
        Ok(parts[1..].iter().fold(parts[0].clone(), |acc, p| acc + *p))
    };
    reduction(
        x,
        |b, axes| {
            let mut s = b.mapv(|v| v * v);
            for &a in axes {
                s = s.sum_axis(Axis(a)).insert_axis(Axis(a));
            }
            Ok(s)
        },
        add,
        add,
        how,
    )
    .unwrap()
}

/// Largest absolute value as a user reduction.
fn max_abs(x: &Array<f64>, how: &Reduction) -> Array<f64> {
    let fold = |b: &ArrayD<f64>, axes: &[usize]| {
        let mut m = b.mapv(f64::abs);
        for &a in axes {
            m = m
                .fold_axis(Axis(a), 0.0, |acc: &f64, v| acc.max(*v))
                .insert_axis(Axis(a));
        }
        m
    };
    let merge = |parts: &[&ArrayD<f64>], _: &[usize]| -> BlockResult<f64> {
        let mut acc = parts[0].clone();
        for p in &parts[1..] {
            Zip::from(&mut acc).and(*p).for_each(|a, &b| *a = a.max(b));
        }
        Ok(acc)
    };
    reduction(x, move |b, axes| Ok(fold(b, axes)), merge, merge, how).unwrap()
}

/// The dense reduction of `dense` over `axes` by `f` on each lane, axis by axis (so `f`
/// must be associative: a sum, a max).
fn dense_reduce(
    dense: &ArrayD<f64>,
    axes: &[usize],
    keepdims: bool,
    f: fn(&[f64]) -> f64,
) -> ArrayD<f64> {
    let mut out = dense.clone();
    for &a in axes.iter().rev() {
        out = out.map_axis(Axis(a), |lane| f(&lane.to_vec()));
    }
    if keepdims {
        for &a in axes {
            out = out.insert_axis(Axis(a));
        }
    }
    out
}

#[test]
fn reductions_match_dense_for_any_split_every() {
    for case in nonempty_cases() {
        // Whole numbers, so that sums of squares are exact whatever the tree's shape.
        let dense = dense_f64(&case.shape, 14).mapv(f64::round);
        let x = arr(&dense, case.chunks.clone());
        let nd = case.shape.len();
        let mut axis_sets: Vec<Vec<usize>> = (0..nd).map(|a| vec![a]).collect();
        axis_sets.push((0..nd).collect());
        if nd >= 3 {
            axis_sets.push(vec![0, 2]);
        }
        for axes in axis_sets {
            let iaxes: Vec<isize> = axes.iter().map(|&a| a as isize).collect();
            for keepdims in [false, true] {
                let squares = dense.mapv(|v| v * v);
                let ss_dense = dense_reduce(&squares, &axes, keepdims, |l| l.iter().sum());
                let max_dense = dense_reduce(&dense.mapv(f64::abs), &axes, keepdims, |l| {
                    l.iter().fold(0.0, |m: f64, &v| m.max(v))
                });
                for split_every in [2, 3, 4, 16] {
                    let how = Reduction::axes(&iaxes)
                        .keepdims(keepdims)
                        .split_every(split_every);
                    let at = format!("{case:?} axes {axes:?} split_every {split_every}");
                    let ss = sum_of_squares(&x, &how).compute().unwrap();
                    assert_eq!(ss, ss_dense, "{at}");
                    assert_eq!(max_abs(&x, &how).compute().unwrap(), max_dense, "{at}");
                }
            }
        }
    }
}

#[test]
fn reduction_results_do_not_depend_on_threads() {
    let dense = dense_f64(&[40, 30], 15);
    let x = arr(&dense, sizes(&[&[7, 9, 11, 13], &[5, 25]]));
    let how = Reduction::all().split_every(3);
    let ss = sum_of_squares(&x, &how);
    let one = ss.compute_with(&Config::default().threads(1)).unwrap();
    let two = ss.compute_with(&Config::default().threads(2)).unwrap();
    assert_eq!(one, two);
}

#[test]
fn reduction_errors_and_shapes() {
    let (_, a) = irregular();
    let add = |parts: &[&ArrayD<f64>], _: &[usize]| -> BlockResult<f64> { Ok(parts[0].clone()) };
    // A chunk result that keeps the reduced axis at full length.
    let wrong = reduction(&a, |b, _| Ok(b.clone()), add, add, &Reduction::axis(0)).unwrap();
    assert!(matches!(
        wrong.compute().unwrap_err(),
        Error::Exec(ExecError::TileShape { task, .. }) if task.starts_with("reduction chunk")
    ));
    let failing = reduction(
        &a,
        |b, _| Ok(b.sum_axis(Axis(0)).insert_axis(Axis(0))),
        |_: &[&ArrayD<f64>], _: &[usize]| Err("cannot combine".into()),
        add,
        &Reduction::axis(0).split_every(2),
    )
    .unwrap();
    match failing.compute().unwrap_err() {
        Error::Exec(ExecError::UserFunction { task, message, .. }) => {
            assert_eq!(task, "reduction combine");
            assert_eq!(message, "cannot combine");
        }
        other => panic!("expected a user-function error, got {other:?}"),
    }
    let bad_axis = reduction(&a, |b, _| Ok(b.clone()), add, add, &Reduction::axis(2));
    assert!(matches!(
        bad_axis.unwrap_err(),
        Error::Build(BuildError::AxisOutOfRange { .. })
    ));
    let bad_split = reduction(
        &a,
        |b, _| Ok(b.clone()),
        add,
        add,
        &Reduction::all().split_every(1),
    );
    assert!(invalid_argument(bad_split.unwrap_err()).contains("split_every"));
}

#[test]
fn reduction_of_a_big_lazy_array_runs_in_a_small_budget() {
    // 32 MB of random numbers in 400 tiles of 80 kB, reduced within 2 MiB.
    let x = chunkwise::random::uniform::<f64>(3, -1.0, 1.0, &[2000, 2000], [100, 100]).unwrap();
    let budget = 2 << 20;
    let config = Config::default().memory_budget(budget);
    let how = Reduction::all().split_every(4);
    let (ss, report) = sum_of_squares(&x, &how).compute_report(&config).unwrap();
    assert!(
        report.peak_bytes <= budget,
        "{} > {budget}",
        report.peak_bytes
    );
    let expected = (&x * &x).sum().compute_scalar().unwrap();
    assert!(close(ss[[]], expected, 1e-9), "{} vs {expected}", ss[[]]);
    // Over one axis, keeping the other: partials are rows of the tiles.
    let (cols, report) = max_abs(&x, &Reduction::axis(0))
        .compute_report(&config)
        .unwrap();
    assert!(
        report.peak_bytes <= budget,
        "{} > {budget}",
        report.peak_bytes
    );
    assert_eq!(cols, x.abs().max_axis(0).compute().unwrap());
}

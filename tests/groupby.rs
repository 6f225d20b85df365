//! Grouped reductions against flox's semantics written on the dense `ndarray`: random
//! shapes, chunkings and grouped axes; label layouts that are sorted, cyclic, random, one
//! group, or more groups than tiles; NaN placements; every method; expected groups with
//! absent ones; runs; errors by kind.

#![allow(missing_docs)]

mod common;

use chunkwise::{BuildError, Error, GroupFunc, GroupMethod, QuantileMethod, from_ndarray};
use common::*;
use ndarray::{ArrayD, Axis, IxDyn};
use proptest::prelude::*;

const METHODS: [GroupMethod; 4] = [
    GroupMethod::Auto,
    GroupMethod::MapReduce,
    GroupMethod::Cohorts,
    GroupMethod::Blockwise,
];

/// Every reduction, with the NaN-skipping ones.
fn all_funcs() -> Vec<GroupFunc> {
    use GroupFunc::*;
    vec![
        Sum,
        NanSum,
        Prod,
        NanProd,
        Mean,
        NanMean,
        Var { ddof: 0.0 },
        NanVar { ddof: 1.0 },
        Std { ddof: 1.0 },
        NanStd { ddof: 0.0 },
        Min,
        Max,
        NanMin,
        NanMax,
        Count,
        First,
        Last,
        NanFirst,
        NanLast,
        ArgMin,
        ArgMax,
    ]
}

/// flox's (NumPy's) result of `func` on the values of one group's lane, with their indices
/// along the axis, in order.
fn oracle(func: GroupFunc, lane: &[(usize, f64)]) -> f64 {
    use GroupFunc::*;
    let values: Vec<f64> = lane.iter().map(|&(_, v)| v).collect();
    let valid: Vec<(usize, f64)> = lane.iter().copied().filter(|(_, v)| !v.is_nan()).collect();
    let kept: Vec<f64> = valid.iter().map(|&(_, v)| v).collect();
    let moments = |xs: &[f64], ddof: f64, root: bool| {
        let n = xs.len() as f64;
        if n - ddof <= 0.0 {
            return f64::NAN;
        }
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - ddof);
        if root { var.sqrt() } else { var }
    };
    let extreme = |xs: &[f64], min: bool| {
        if xs.iter().any(|v| v.is_nan()) {
            return f64::NAN;
        }
        let pick = |a: f64, b: f64| if min { a.min(b) } else { a.max(b) };
        xs.iter().copied().reduce(pick).unwrap_or(f64::NAN)
    };
    let arg = |min: bool| -> f64 {
        if let Some(&(i, _)) = lane.iter().find(|(_, v)| v.is_nan()) {
            return i as f64;
        }
        let best = extreme(&values, min);
        lane.iter()
            .find(|(_, v)| *v == best)
            .map_or(f64::NAN, |&(i, _)| i as f64)
    };
    match func {
        Sum => values.iter().sum(),
        NanSum => kept.iter().sum(),
        Prod => values.iter().product(),
        NanProd => kept.iter().product(),
        Mean => values.iter().sum::<f64>() / values.len() as f64,
        NanMean => kept.iter().sum::<f64>() / kept.len() as f64,
        Var { ddof } => moments(&values, ddof, false),
        NanVar { ddof } => moments(&kept, ddof, false),
        Std { ddof } => moments(&values, ddof, true),
        NanStd { ddof } => moments(&kept, ddof, true),
        Min => extreme(&values, true),
        Max => extreme(&values, false),
        NanMin => extreme(&kept, true),
        NanMax => extreme(&kept, false),
        Count => kept.len() as f64,
        First => values.first().copied().unwrap_or(f64::NAN),
        Last => values.last().copied().unwrap_or(f64::NAN),
        NanFirst => kept.first().copied().unwrap_or(f64::NAN),
        NanLast => kept.last().copied().unwrap_or(f64::NAN),
        ArgMin => arg(true),
        ArgMax => arg(false),
        NanArgMin | NanArgMax => {
            let best = extreme(&kept, matches!(func, NanArgMin));
            valid
                .iter()
                .find(|(_, v)| *v == best)
                .map_or(f64::NAN, |&(i, _)| i as f64)
        }
    }
}

/// The dense grouped reduction: `codes` per element along `axis` (`None`: no group).
fn dense(
    a: &ArrayD<f64>,
    axis: usize,
    codes: &[Option<usize>],
    ngroups: usize,
    func: GroupFunc,
) -> ArrayD<f64> {
    let mut shape = a.shape().to_vec();
    shape[axis] = ngroups;
    ArrayD::from_shape_fn(IxDyn(&shape), |idx| {
        let g = idx[axis];
        let lane: Vec<(usize, f64)> = (0..a.shape()[axis])
            .filter(|&i| codes[i] == Some(g))
            .map(|i| {
                let mut at: Vec<usize> = (0..a.ndim()).map(|d| idx[d]).collect();
                at[axis] = i;
                (i, a[IxDyn(&at)])
            })
            .collect();
        oracle(func, &lane)
    })
}

fn same(actual: &ArrayD<f64>, expected: &ArrayD<f64>, what: &str) {
    assert_eq!(actual.shape(), expected.shape(), "{what}");
    for (x, e) in actual.iter().zip(expected) {
        let ok = (x.is_nan() && e.is_nan()) || (x - e).abs() <= 1e-9 * (1.0 + e.abs());
        assert!(
            ok,
            "{what}: {x} != {e}\nactual {actual}\nexpected {expected}"
        );
    }
}

/// A layout of labels along an axis of `len`: sorted, cyclic, random, one group, or one
/// group per element.
fn labels(layout: usize, len: usize, ngroups: usize, seed: u64) -> Vec<usize> {
    (0..len)
        .map(|i| match layout {
            0 => i * ngroups / len,
            1 => i % ngroups,
            2 => ((i as u64 * 2654435761 + seed) % 97) as usize % ngroups,
            3 => 7,
            _ => i,
        })
        .collect()
}

/// The codes of `labels` grouped by distinct sorted label (as `groupby` numbers them).
fn codes_of(labels: &[usize]) -> (Vec<Option<usize>>, usize) {
    let mut groups = labels.to_vec();
    groups.sort();
    groups.dedup();
    let codes = labels
        .iter()
        .map(|l| groups.binary_search(l).ok())
        .collect();
    (codes, groups.len())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_reduction_matches_the_dense_groups(
        (shape, chunks) in shape_and_chunks(9),
        axis_pick in 0usize..3,
        layout in 0usize..5,
        ngroups in 1usize..5,
        seed in 0u64..1000,
        nans in any::<bool>(),
        method in 0usize..3,
        split_every in 2usize..5,
    ) {
        let axis = axis_pick % shape.len();
        let mut a = integer_valued(&shape, seed);
        if nans {
            for (k, v) in a.iter_mut().enumerate() {
                if (k as u64 + seed).is_multiple_of(5) {
                    *v = f64::NAN;
                }
            }
        }
        let x = from_ndarray(&a, chunkwise::Chunks::Sizes(chunks)).unwrap();
        let labels = labels(layout, shape[axis], ngroups, seed);
        let (codes, n) = codes_of(&labels);
        let by = x.groupby(axis as isize, &labels).unwrap()
            .method(METHODS[method])
            .split_every(split_every);
        let funcs = all_funcs();
        let results = {
            let arrays = by.aggregate(&funcs);
            chunkwise::compute_many(&arrays.iter().collect::<Vec<_>>()).unwrap()
        };
        for (func, result) in funcs.iter().zip(&results) {
            same(result, &dense(&a, axis, &codes, n, *func), &format!("{func:?} {layout}"));
        }
        // One reduction alone (not merged with others) and a typed result.
        let count = by.count().compute().unwrap().mapv(|c| c as f64);
        same(&count, &dense(&a, axis, &codes, n, GroupFunc::Count), "count alone");
        let mean = by.mean().compute().unwrap();
        same(&mean, &dense(&a, axis, &codes, n, GroupFunc::Mean), "mean alone");
    }
}

#[test]
fn blockwise_method_reduces_each_tile_alone() {
    // Sorted labels whose groups never cross the tiles of 4.
    let a = dense_f64(&[12, 3], 5);
    let x = from_ndarray(&a, [4, 2]).unwrap();
    let labels = [0, 0, 1, 1, 2, 2, 2, 2, 3, 4, 4, 4];
    let (codes, n) = codes_of(&labels);
    let by = x
        .groupby(0, &labels)
        .unwrap()
        .method(GroupMethod::Blockwise);
    let var = by.var(1.0);
    assert_eq!(var.chunks().chunks()[0], vec![2, 1, 2]);
    same(
        &var.compute().unwrap(),
        &dense(&a, 0, &codes, n, GroupFunc::Var { ddof: 1.0 }),
        "var",
    );
    // No combine: one fold per output tile.
    let plan = var.explain().unwrap();
    assert!(!plan.contains("combine"), "{plan}");
}

#[test]
fn expected_groups_fill_absent_groups_and_skip_unexpected_labels() {
    let a = dense_f64(&[7, 2], 9);
    let x = from_ndarray(&a, [3, 2]).unwrap();
    let labels = ["b", "z", "a", "b", "b", "a", "z"];
    let by = x.groupby_expected(0, &labels, &["a", "none", "b"]).unwrap();
    let codes: Vec<Option<usize>> = labels
        .iter()
        .map(|l| ["a", "none", "b"].iter().position(|g| g == l))
        .collect();
    for func in [
        GroupFunc::Sum,
        GroupFunc::Mean,
        GroupFunc::Min,
        GroupFunc::First,
        GroupFunc::Count,
    ] {
        let got = by.aggregate(&[func]).remove(0).compute().unwrap();
        same(&got, &dense(&a, 0, &codes, 3, func), &format!("{func:?}"));
    }
    // The absent group has no integer minimum or argmin: a clear error, before computing.
    let ints = from_ndarray(&a.mapv(|v| (v * 10.0) as i32), [3, 2]).unwrap();
    let err = ints
        .groupby_expected(0, &labels, &["a", "none", "b"])
        .unwrap()
        .min()
        .compute();
    assert!(matches!(err, Err(Error::Build(_))), "{err:?}");
    let err = by.argmin().compute();
    assert!(matches!(err, Err(Error::Build(_))), "{err:?}");
}

#[test]
fn runs_make_a_group_of_each_run_of_equal_labels() {
    let a = dense_f64(&[4, 10], 2);
    let x = from_ndarray(&a, [2, 3]).unwrap();
    let labels = [1, 1, 1, 2, 2, 1, 1, 3, 3, 3];
    let by = x.groupby_runs(1, &labels).unwrap();
    assert_eq!(by.groups(), &[1, 2, 1, 3]);
    let codes: Vec<Option<usize>> = [0, 0, 0, 1, 1, 2, 2, 3, 3, 3]
        .iter()
        .map(|&c| Some(c))
        .collect();
    same(
        &by.max().compute().unwrap(),
        &dense(&a, 1, &codes, 4, GroupFunc::Max),
        "max",
    );
}

#[test]
fn many_groups_are_chunked_along_the_group_axis() {
    // 600 groups of a wide array: the group axis is cut so no output tile holds all of
    // them, and never one tile per group.
    let len = 1200;
    let a = dense_f64(&[len, 2000], 4);
    let x = from_ndarray(&a, [100, 2000]).unwrap();
    let labels: Vec<usize> = (0..len).map(|i| i / 2).collect();
    let sums = x.groupby(0, &labels).unwrap().sum();
    let chunks = &sums.chunks().chunks()[0];
    assert!(chunks.len() > 1 && chunks.len() < 600, "{chunks:?}");
    let expected = a.to_shape((600, 2, 2000)).unwrap().sum_axis(Axis(1));
    same(&sums.compute().unwrap(), &expected.into_dyn(), "sums");
}

#[test]
fn integer_data_sums_and_counts_in_their_types() {
    let a = ArrayD::from_shape_fn(IxDyn(&[6, 2]), |i| (i[0] * 3 + i[1]) as u8);
    let x = from_ndarray(&a, [4, 1]).unwrap();
    let by = x.groupby(0, &[0, 1, 0, 1, 0, 1]).unwrap();
    let sums = by.sum().compute().unwrap();
    assert_eq!(sums.into_raw_vec_and_offset().0, vec![18u64, 21, 27, 30]);
    let last = by.last().compute().unwrap();
    assert_eq!(last.into_raw_vec_and_offset().0, vec![12u8, 13, 15, 16]);
    let argmax = by.argmax().compute().unwrap();
    assert_eq!(argmax.into_raw_vec_and_offset().0, vec![4u64, 4, 5, 5]);
}

#[test]
fn nanargmin_of_a_group_of_nan_only_fails_to_compute() {
    let a = ndarray::arr1(&[f64::NAN, 1.0, f64::NAN, 0.5]).into_dyn();
    let x = from_ndarray(&a, [3]).unwrap();
    let by = x.groupby(0, &[0, 1, 0, 1]).unwrap();
    assert!(matches!(by.nanargmin().compute(), Err(Error::Exec(_))));
    // Group 0 has a value that is not NaN once the first element is.
    let y = from_ndarray(&ndarray::arr1(&[f64::NAN, 1.0, 2.0, 0.5]).into_dyn(), [3]).unwrap();
    let found = y
        .groupby(0, &[0, 1, 0, 1])
        .unwrap()
        .nanargmin()
        .compute()
        .unwrap();
    assert_eq!(found.into_raw_vec_and_offset().0, vec![2, 3]);
}

#[test]
fn bad_groupings_are_errors() {
    let x = from_ndarray(&dense_f64(&[6, 2], 1), [2, 2]).unwrap();
    assert!(matches!(x.groupby(0, &[1, 2, 3]), Err(Error::Build(_))));
    assert!(matches!(x.groupby(2, &[1, 2]), Err(Error::Build(_))));
    assert!(matches!(
        x.groupby_expected(0, &[1; 6], &[1, 1]),
        Err(Error::Build(_))
    ));
    let spanning = x
        .groupby(0, &[0, 0, 0, 1, 1, 1])
        .unwrap()
        .method(GroupMethod::Blockwise);
    let err = spanning.sum().compute().unwrap_err();
    assert!(err.to_string().contains("spans tiles"), "{err}");
    let fan = x.groupby(0, &[0; 6]).unwrap().split_every(1);
    assert!(matches!(fan.sum().compute(), Err(Error::Build(_))));
}

#[test]
fn a_quantile_out_of_range_is_refused_even_when_every_group_is_empty() {
    let x = from_ndarray(&dense_f64(&[6, 2], 3), [3, 2]).unwrap();
    let present = x.groupby(0, &[0, 0, 1, 1, 2, 2]).unwrap();
    // Labels 7 only, none of the expected ones: every group is empty.
    let absent = x.groupby_expected(0, &[7; 6], &[0, 1]).unwrap();
    for by in [&present, &absent] {
        for q in [-0.1, 1.5, f64::NAN] {
            let error = by
                .quantile(q, QuantileMethod::Linear)
                .compute()
                .unwrap_err();
            assert!(
                matches!(error, Error::Build(BuildError::InvalidArgument { .. })),
                "q = {q}: {error}"
            );
        }
    }
    assert!(
        absent
            .median()
            .compute()
            .unwrap()
            .iter()
            .all(|v| v.is_nan())
    );
}

#[test]
fn quantiles_of_each_group_match_numpy_on_the_gathered_lanes() {
    let mut a = dense_f64(&[40, 3, 4], 12);
    a[[5, 1, 2]] = f64::NAN;
    let x = from_ndarray(&a, [7, 2, 3]).unwrap();
    let labels = labels(1, 40, 3, 0);
    let by = x.groupby_expected(0, &labels, &[0, 1, 2, 3]).unwrap();
    let lane = |g: usize, j: usize, k: usize, skip: bool| -> Vec<f64> {
        let mut v: Vec<f64> = (0..40)
            .filter(|&i| labels[i] == g)
            .map(|i| a[[i, j, k]])
            .filter(|v| !(skip && v.is_nan()))
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    for skip in [false, true] {
        let got = match skip {
            true => by.nanmedian(),
            false => by.median(),
        };
        let got = got.compute().unwrap();
        assert_eq!(got.shape(), &[4, 3, 4]);
        for g in 0..4 {
            for j in 0..3 {
                for k in 0..4 {
                    let v = lane(g, j, k, skip);
                    let want = if v.is_empty() || v.iter().any(|x| x.is_nan()) {
                        f64::NAN
                    } else {
                        let n = v.len();
                        if n % 2 == 1 {
                            v[n / 2]
                        } else {
                            (v[n / 2 - 1] + v[n / 2]) / 2.0
                        }
                    };
                    let x = got[[g, j, k]];
                    assert!(
                        (x.is_nan() && want.is_nan()) || (x - want).abs() < 1e-12,
                        "group {g} ({j}, {k}) skip {skip}: {x} != {want}"
                    );
                }
            }
        }
    }
}

//! Boolean selection (`mask`, `compress`, `nonzero`, `flatnonzero`, `argwhere`) against
//! NumPy's definitions written on the dense `ndarray`: the selected elements in C order,
//! reductions of them, chunk sizes once computed, and the errors for what needs them.

#![allow(missing_docs)]

mod common;
#[path = "common/zarr_util.rs"]
mod zarr_util;

use chunkwise::{BuildError, Chunks, Error, Reduction, from_ndarray};
use common::*;
use ndarray::{ArrayD, Axis, Dimension, IxDyn};
use proptest::prelude::*;

/// NumPy's `x[m]` with `m` of `x`'s leading shape: the selected sub-arrays in C order.
fn select_leading(x: &ArrayD<f64>, m: &ArrayD<bool>) -> ArrayD<f64> {
    let k = m.ndim();
    let rest: Vec<usize> = x.shape()[k..].to_vec();
    let inner: usize = rest.iter().product();
    let flat = x
        .as_standard_layout()
        .into_owned()
        .into_raw_vec_and_offset()
        .0;
    let mut out = Vec::new();
    let mut count = 0;
    for (j, &keep) in m.iter().enumerate() {
        if keep {
            out.extend_from_slice(&flat[j * inner..(j + 1) * inner]);
            count += 1;
        }
    }
    ArrayD::from_shape_vec(IxDyn(&[vec![count], rest].concat()), out).unwrap()
}

/// NumPy's `x.compress(c, axis)` for `c` as long as the axis.
fn compress_axis(x: &ArrayD<f64>, c: &[bool], axis: usize) -> ArrayD<f64> {
    let kept: Vec<usize> = (0..c.len()).filter(|&i| c[i]).collect();
    x.select(Axis(axis), &kept)
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-9 * (1.0 + b.abs())
}

/// Sample variance with `ddof` of `values` (NaN when too few), two-pass.
fn variance(values: &[f64], ddof: f64) -> f64 {
    let n = values.len() as f64;
    if n <= ddof {
        return f64::NAN;
    }
    let mean = values.iter().sum::<f64>() / n;
    values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - ddof)
}

/// A shape of 1 to 3 axes of lengths 1 to 7 with an irregular chunking, and a mask density.
fn case() -> impl Strategy<Value = (Vec<usize>, Vec<Vec<usize>>, u64, u8)> {
    proptest::collection::vec(1usize..8, 1..4).prop_flat_map(|shape| {
        let chunks: Vec<BoxedStrategy<Vec<usize>>> = shape.iter().map(|&n| chunks_for(n)).collect();
        (Just(shape), chunks, any::<u64>(), 0u8..5)
    })
}

/// Data in [0, 16) integers, and the mask `data < threshold` for a density of 0 to 4/4.
fn masked_case(shape: &[usize], seed: u64, density: u8) -> (ArrayD<f64>, f64) {
    let data = dense_f64(shape, seed).mapv(|v| (v * 16.0).floor());
    (data, 4.0 * density as f64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn full_masks_select_and_reduce_as_numpy((shape, chunks, seed, density) in case()) {
        let (data, threshold) = masked_case(&shape, seed, density);
        let m = data.mapv(|v| v < threshold);
        let expected = select_leading(&data, &m);
        let x = from_ndarray(&data, Chunks::Sizes(chunks)).unwrap();
        let sel = x.mask(&x.less(threshold)).unwrap();
        prop_assert_eq!(sel.compute().unwrap(), expected.clone());
        let values: Vec<f64> = expected.iter().copied().collect();
        prop_assert_eq!(sel.count().compute_scalar().unwrap(), values.len() as u64);
        prop_assert!(close(sel.sum().compute_scalar().unwrap(), values.iter().sum()));
        let mean = sel.mean().compute_scalar().unwrap();
        prop_assert!(close(mean, values.iter().sum::<f64>() / values.len() as f64));
        prop_assert!(close(sel.var(1.0).compute_scalar().unwrap(), variance(&values, 1.0)));
        match values.iter().copied().reduce(f64::min) {
            Some(min) => prop_assert_eq!(sel.min().compute_scalar().unwrap(), min),
            None => {
                let empty = sel.min().compute_scalar();
                let is_empty_error = matches!(empty, Err(Error::Build(BuildError::EmptyReduction { .. })));
                prop_assert!(is_empty_error);
            }
        }
        let sized = sel.compute_chunk_sizes().unwrap();
        prop_assert_eq!(sized.shape(), vec![values.len()]);
        prop_assert_eq!(sized.compute().unwrap(), expected);
    }

    #[test]
    fn compress_keeps_the_other_axes((shape, chunks, seed, density) in case()) {
        let (data, threshold) = masked_case(&shape, seed, density);
        let axis = shape.len() - 1;
        let n = shape[axis];
        let cond: Vec<bool> = (0..n).map(|i| ((i as u64 * 7 + seed) % 16) as f64 >= 16.0 - threshold).collect();
        let x = from_ndarray(&data, Chunks::Sizes(chunks.clone())).unwrap();
        let c = from_ndarray(&ndarray::arr1(&cond), [2]).unwrap();
        let sel = x.compress(&c, axis as isize).unwrap();
        let expected = compress_axis(&data, &cond, axis);
        prop_assert_eq!(sel.compute().unwrap(), expected.clone());
        // Summing the known axes keeps the selection; summing the selected one ends it.
        if axis > 0 {
            let rows = sel.sum_with(&Reduction::axis(0));
            prop_assert_eq!(rows.shape()[axis - 1], None);
            prop_assert_eq!(rows.compute().unwrap(), expected.sum_axis(Axis(0)));
        }
        let per_row = sel.sum_with(&Reduction::axis(axis as isize)).into_array().unwrap();
        prop_assert_eq!(per_row.compute().unwrap(), expected.sum_axis(Axis(axis)));
        let kept = sel.mean_with(&Reduction::axis(axis as isize).keepdims(true)).into_array().unwrap();
        prop_assert_eq!(kept.shape(), [&shape[..axis], &[1]].concat());
    }

    #[test]
    fn nonzero_flatnonzero_and_argwhere_index_as_numpy((shape, chunks, seed, density) in case()) {
        let (data, threshold) = masked_case(&shape, seed, density);
        let flags = data.mapv(|v| if v < threshold { v + 1.0 } else { 0.0 });
        let x = from_ndarray(&flags, Chunks::Sizes(chunks)).unwrap();
        let ndim = shape.len();
        let hits: Vec<Vec<usize>> = flags
            .indexed_iter()
            .filter(|(_, v)| **v != 0.0)
            .map(|(i, _)| i.slice().to_vec())
            .collect();
        let nonzero = x.nonzero().unwrap();
        for (axis, sel) in nonzero.iter().enumerate() {
            let expected: Vec<u64> = hits.iter().map(|h| h[axis] as u64).collect();
            prop_assert_eq!(sel.compute().unwrap().into_raw_vec_and_offset().0, expected);
        }
        let flat: Vec<u64> = flags.iter().enumerate().filter(|(_, v)| **v != 0.0).map(|(i, _)| i as u64).collect();
        prop_assert_eq!(x.flatnonzero().unwrap().compute().unwrap().into_raw_vec_and_offset().0, flat);
        let rows = x.argwhere().unwrap().compute().unwrap();
        prop_assert_eq!(rows.shape(), &[hits.len(), ndim][..]);
        let expected: Vec<u64> = hits.iter().flatten().map(|&i| i as u64).collect();
        prop_assert_eq!(rows.into_raw_vec_and_offset().0, expected);
    }
}

#[test]
fn a_leading_mask_selects_rows_and_elementwise_work_stays_selected() {
    let data = dense_f64(&[9, 4], 3);
    let x = from_ndarray(&data, [4, 3]).unwrap();
    let rows = ndarray::arr1(&[true, false, true, true, false, false, true, false, true]);
    let m = from_ndarray(&rows, [5]).unwrap();
    let sel = x.mask(&m).unwrap();
    assert_eq!(sel.shape(), vec![None, Some(4)]);
    let expected = select_leading(&data, &rows.into_dyn());
    let doubled = sel.map(|v| v * 2.0 + 1.0);
    assert_eq!(doubled.compute().unwrap(), expected.mapv(|v| v * 2.0 + 1.0));
    let other = (&x * 3.0).mask(&m).unwrap();
    let both = sel.zip_map(&other, |a, b| a + b).unwrap();
    assert_eq!(both.compute().unwrap(), expected.mapv(|v| 4.0 * v));
    let combined = &(&sel * 2.0) - &other;
    assert_eq!(
        combined.compute().unwrap(),
        expected.mapv(|v| v * 2.0 - v * 3.0)
    );
    let per_column = sel.max_with(&Reduction::axis(0)).into_array().unwrap();
    assert_eq!(
        per_column.compute().unwrap(),
        expected.fold_axis(Axis(0), f64::MIN, |a, b| a.max(*b))
    );
}

#[test]
fn nan_that_the_mask_selects_propagates_and_nan_it_drops_does_not() {
    let data = ndarray::arr1(&[1.0, f64::NAN, 3.0, 5.0, f64::NAN, 7.0]).into_dyn();
    let x = from_ndarray(&data, [4]).unwrap();
    let drops_nan =
        from_ndarray(&ndarray::arr1(&[true, false, true, true, false, true]), [3]).unwrap();
    let keeps_nan = from_ndarray(
        &ndarray::arr1(&[true, true, false, false, false, false]),
        [3],
    )
    .unwrap();
    let clean = x.mask(&drops_nan).unwrap();
    assert_eq!(clean.mean().compute_scalar().unwrap(), 4.0);
    assert!(close(clean.std(0.0).compute_scalar().unwrap(), 5f64.sqrt()));
    assert_eq!(clean.min().compute_scalar().unwrap(), 1.0);
    let dirty = x.mask(&keeps_nan).unwrap();
    for value in [
        dirty.mean(),
        dirty.var(0.0),
        dirty.min(),
        dirty.max(),
        dirty.sum(),
    ] {
        assert!(value.compute_scalar().unwrap().is_nan());
    }
}

#[test]
fn integer_selections_reduce_exactly() {
    let x = chunkwise::arange::<u8>(0, 250, 1, [64]).unwrap();
    let high = x.mask(&x.greater(100)).unwrap();
    assert_eq!(
        high.sum().compute_scalar().unwrap(),
        (101..250u64).sum::<u64>()
    );
    assert_eq!(high.mean().compute_scalar().unwrap(), 175.0);
    assert_eq!(high.min().compute_scalar().unwrap(), 101);
    assert_eq!(high.max().compute_scalar().unwrap(), 249);
    let none = x.mask(&x.greater(250)).unwrap();
    assert_eq!(none.count().compute_scalar().unwrap(), 0);
    assert!(none.mean().compute_scalar().unwrap().is_nan());
    assert!(matches!(
        none.max().compute_scalar(),
        Err(Error::Build(BuildError::EmptyReduction { .. }))
    ));
    assert_eq!(none.compute().unwrap().len(), 0);
}

#[test]
fn chunk_sizes_follow_the_mask_tiles_in_c_order() {
    // A mask over two axes chunked along both is made one tile along the second first,
    // so the selected axis has one chunk per row block, in C order.
    let data = dense_f64(&[6, 6], 11);
    let x = from_ndarray(&data, [4, 2]).unwrap();
    let sel = x.mask(&x.greater(0.5)).unwrap();
    let sized = sel.compute_chunk_sizes().unwrap();
    let first = data
        .slice(ndarray::s![..4, ..])
        .iter()
        .filter(|&&v| v > 0.5)
        .count();
    let second = data
        .slice(ndarray::s![4.., ..])
        .iter()
        .filter(|&&v| v > 0.5)
        .count();
    assert_eq!(sized.chunks().chunks(), &[vec![first, second]]);
    // With chunk sizes known, an array operation works.
    let picked = select_leading(&data, &data.mapv(|v| v > 0.5));
    assert_eq!(
        sized.slice(ndarray::s![1..3]).unwrap().compute().unwrap(),
        picked.slice(ndarray::s![1..3]).to_owned().into_dyn()
    );
}

#[test]
fn what_needs_chunk_sizes_is_an_error_naming_compute_chunk_sizes() {
    let x = chunkwise::arange::<f64>(0.0, 10.0, 1.0, [4]).unwrap();
    let a = x.mask(&x.greater(2.0)).unwrap();
    let b = x.mask(&x.greater(3.0)).unwrap();
    let e = a.zip_map(&b, |p, q| p + q).unwrap_err();
    assert!(matches!(
        e,
        Error::Build(BuildError::UnknownChunkSizes { .. })
    ));
    assert!(e.to_string().contains("compute_chunk_sizes()"));
    let mixed = &a + &b;
    assert!(matches!(
        mixed.check(),
        Err(Error::Build(BuildError::UnknownChunkSizes { .. }))
    ));
    assert!(matches!(
        mixed.sum().compute(),
        Err(Error::Build(BuildError::UnknownChunkSizes { .. }))
    ));
    let e = a.clone().into_array().unwrap_err();
    assert!(matches!(
        e,
        Error::Build(BuildError::UnknownChunkSizes { .. })
    ));
    // Bad masks are shape errors, found when the selection is built.
    let short = chunkwise::zeros::<bool>(&[9], [4]).unwrap();
    assert!(matches!(
        x.mask(&short),
        Err(Error::Build(BuildError::ShapeMismatch { .. }))
    ));
    assert!(matches!(
        x.compress(&chunkwise::zeros::<bool>(&[11], [4]).unwrap(), 0),
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
    assert!(matches!(
        x.compress(&short, 1),
        Err(Error::Build(BuildError::AxisOutOfRange { .. }))
    ));
    assert!(matches!(
        a.sum_with(&Reduction::axis(3)).compute(),
        Err(Error::Build(BuildError::AxisOutOfRange { .. }))
    ));
}

#[test]
fn a_masked_mean_is_one_fused_reduction_that_never_selects() {
    let x = chunkwise::random::uniform::<f64>(7, 0.0, 200.0, &[400, 300], [100, 100]).unwrap();
    let mean = x.mask(&x.greater(100.0)).unwrap().mean();
    let plan = mean.explain().unwrap();
    assert!(!plan.contains("select"), "{plan}");
    assert!(!plan.contains("count selected"), "{plan}");
    // Checked against the same numbers selected densely.
    let dense = x.compute().unwrap();
    let picked: Vec<f64> = dense.iter().copied().filter(|&v| v > 100.0).collect();
    let expected = picked.iter().sum::<f64>() / picked.len() as f64;
    assert!(close(mean.compute_scalar().unwrap(), expected));
}

#[test]
fn a_selection_with_computed_chunk_sizes_writes_to_zarr() {
    let data = dense_f64(&[20, 3], 5);
    let x = from_ndarray(&data, [6, 3]).unwrap();
    let rows = x.sum_axis(1).greater(1.5);
    let sized = x.mask(&rows).unwrap().compute_chunk_sizes().unwrap();
    let dir = zarr_util::TempDir::new("selection");
    let options = chunkwise::io::zarr::WriteOptions::default().chunks([4, 3]);
    sized.to_zarr(dir.path(), "picked", &options).unwrap();
    let back = chunkwise::io::zarr::open(dir.path(), "picked")
        .unwrap()
        .into_typed::<f64>()
        .unwrap()
        .compute()
        .unwrap();
    let keep = data.sum_axis(Axis(1)).mapv(|v| v > 1.5).into_dyn();
    assert_eq!(back, select_leading(&data, &keep));
}

#[test]
fn empty_arrays_select_nothing() {
    let x = chunkwise::zeros::<f64>(&[0, 4], [2, 2]).unwrap();
    let sel = x.mask(&x.greater(0.0)).unwrap();
    assert_eq!(sel.compute().unwrap().len(), 0);
    assert_eq!(sel.count().compute_scalar().unwrap(), 0);
    assert!(sel.mean().compute_scalar().unwrap().is_nan());
    let rows = chunkwise::zeros::<bool>(&[4], [3]).unwrap();
    let y = chunkwise::ones::<i32>(&[3, 4], [2, 3]).unwrap();
    let none = y.compress(&rows, 1).unwrap();
    assert_eq!(none.compute().unwrap().shape(), &[3, 0]);
    assert_eq!(
        none.sum_with(&Reduction::axis(1))
            .into_array()
            .unwrap()
            .compute()
            .unwrap(),
        ndarray::arr1(&[0i64, 0, 0]).into_dyn()
    );
}

#[test]
fn reductions_along_the_other_axes_keep_the_selection() {
    // np.compress(keep, x, axis=1).min(axis=0) and .max(axis=0): the dropped columns have
    // nothing selected, and must not make the kept ones an empty reduction.
    let data = dense_f64(&[5, 6], 11);
    let x = from_ndarray(&data, [2, 4]).unwrap();
    let keep = [true, false, true, false, false, true];
    let c = from_ndarray(&ndarray::arr1(&keep), [4]).unwrap();
    let sel = x.compress(&c, 1).unwrap();
    let expected = compress_axis(&data, &keep, 1);
    let min = sel.min_with(&Reduction::axis(0)).compute().unwrap();
    assert_eq!(min, expected.fold_axis(Axis(0), f64::MAX, |a, b| a.min(*b)));
    let max = sel.max_with(&Reduction::axis(0)).compute().unwrap();
    assert_eq!(max, expected.fold_axis(Axis(0), f64::MIN, |a, b| a.max(*b)));
    let sum = sel.sum_with(&Reduction::axis(0)).compute().unwrap();
    assert_close(&sum, &expected.sum_axis(Axis(0)), 1e-12);
    // Rows selected by a leading mask, reduced along the rows' other axis.
    let rows = [false, true, true, false, true];
    let m = from_ndarray(&ndarray::arr1(&rows), [2]).unwrap();
    let per_row = x.mask(&m).unwrap().min_with(&Reduction::axis(1));
    let expected = select_leading(&data, &ndarray::arr1(&rows).into_dyn());
    assert_eq!(
        per_row.compute().unwrap(),
        expected.fold_axis(Axis(1), f64::MAX, |a, b| a.min(*b))
    );
}

#[test]
fn computed_chunk_sizes_have_no_empty_chunk_and_scans_rolling_and_coarsen_work_on_them() {
    let x = chunkwise::arange::<f64>(0.0, 10.0, 1.0, [4]).unwrap();
    // The first tile (0..4) selects nothing.
    let s = x
        .mask(&x.greater(5.0))
        .unwrap()
        .compute_chunk_sizes()
        .unwrap();
    assert_eq!(s.chunks().chunks(), &[vec![2, 2]]);
    let values = [6.0, 7.0, 8.0, 9.0];
    let cumsum: Vec<f64> = values
        .iter()
        .scan(0.0, |acc, v| {
            *acc += v;
            Some(*acc)
        })
        .collect();
    assert_eq!(
        s.cumsum(0)
            .unwrap()
            .compute()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        cumsum
    );
    let rolling = s.rolling(2, 0).sum().unwrap().compute().unwrap();
    assert_eq!(rolling.into_raw_vec_and_offset().0, vec![13.0, 15.0, 17.0]);
    let coarse = s.coarsen(chunkwise::Coarsen::Sum, [2], false).unwrap();
    assert_eq!(
        coarse.compute().unwrap().into_raw_vec_and_offset().0,
        vec![13.0, 17.0]
    );
    // Nothing selected: one empty chunk, and an empty scan.
    let none = x
        .mask(&x.greater(99.0))
        .unwrap()
        .compute_chunk_sizes()
        .unwrap();
    assert_eq!(none.chunks().chunks(), &[vec![0]]);
    assert_eq!(none.cumsum(0).unwrap().compute().unwrap().len(), 0);
}

#[test]
fn zero_dimensional_arrays_index_as_numpy() {
    // NumPy: flatnonzero ravels first ([0] or []); argwhere gives (1, 0) or (0, 0).
    for (value, hits) in [(7.0, 1usize), (0.0, 0)] {
        let x = from_ndarray(&ndarray::arr0(value).into_dyn(), Vec::<usize>::new()).unwrap();
        let flat = x.flatnonzero().unwrap().compute().unwrap();
        assert_eq!(flat.into_raw_vec_and_offset().0, vec![0u64; hits]);
        let rows = x.argwhere().unwrap().compute().unwrap();
        assert_eq!(rows.shape(), &[hits, 0][..]);
        // NumPy 2 refuses nonzero of a 0-d array.
        assert!(matches!(
            x.nonzero(),
            Err(Error::Build(BuildError::InvalidArgument { .. }))
        ));
        // A 0-d mask is refused with a reason (not a shape "mismatch" of [] and []).
        let m = x.map(|v: f64| v > 1.0);
        let Err(Error::Build(BuildError::InvalidArgument { reason, .. })) = x.mask(&m) else {
            panic!("a 0-d mask is refused");
        };
        assert!(reason.contains("0-d mask"), "{reason}");
    }
}

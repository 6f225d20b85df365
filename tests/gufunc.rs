//! `apply_gufunc` against dense `ndarray` oracles: inner products over random broadcast
//! loop shapes and chunkings (core axes cut in many tiles, merged inside the plan), column
//! means, matrix-vector products, two outputs from one call, a new core dimension, and the
//! errors by kind.

#![allow(missing_docs)]

mod common;

use chunkwise::{Array, BuildError, Error, ExecError, Gufunc, apply_gufunc, from_ndarray};
use common::*;
use ndarray::{ArrayD, ArrayViewD, Axis, arr0, arr1};

/// Random chunk lengths for `shape` (each from 1 to the axis length).
fn random_chunks(shape: &[usize], g: &mut Lcg) -> Vec<usize> {
    shape
        .iter()
        .map(|&n| g.int(1, n.max(1) as i64 + 1) as usize)
        .collect()
}

/// `data` as a lazy array in random chunks.
fn chunked(data: &ArrayD<f64>, g: &mut Lcg) -> Array<f64> {
    from_ndarray(data, random_chunks(data.shape(), g)).unwrap()
}

/// A loop shape of up to 3 axes, and two shapes that broadcast to it: each a suffix of it
/// with some axes replaced by 1.
fn broadcast_pair(g: &mut Lcg) -> [Vec<usize>; 2] {
    let nd = g.below(4) as usize;
    let full: Vec<usize> = (0..nd).map(|_| g.int(1, 5) as usize).collect();
    [0, 1].map(|_| {
        let keep = g.below(nd as u64 + 1) as usize;
        full[nd - keep..]
            .iter()
            .map(|&n| if g.below(4) == 0 { 1 } else { n })
            .collect()
    })
}

fn with_core(loop_shape: &[usize], core: &[usize]) -> Vec<usize> {
    loop_shape.iter().chain(core).copied().collect()
}

fn scalar(v: f64) -> ArrayD<f64> {
    arr0(v).into_dyn()
}

fn dot(c: &[ArrayViewD<'_, f64>]) -> ArrayD<f64> {
    scalar(c[0].iter().zip(c[1].iter()).map(|(a, b)| a * b).sum())
}

#[test]
fn inner_products_over_random_broadcast_loops_and_chunkings() {
    let mut g = Lcg::new(16);
    for case in 0..40 {
        let [lx, ly] = broadcast_pair(&mut g);
        let n = g.below(7) as usize;
        let x = dense_f64(&with_core(&lx, &[n]), case);
        let y = dense_f64(&with_core(&ly, &[n]), case + 100);
        let (cx, cy) = (chunked(&x, &mut g), chunked(&y, &mut g));
        let out = Gufunc::new("(i),(i)->()")
            .apply_one(&[&cx, &cy], move |c| {
                // The core axis arrives whole, however it was chunked.
                match c[0].len() == n && c[1].len() == n {
                    true => Ok(dot(c)),
                    false => Err(format!("core lengths {} and {}", c[0].len(), c[1].len()).into()),
                }
            })
            .unwrap();
        let expected = (&x * &y).sum_axis(Axis(x.ndim().max(y.ndim()) - 1));
        let found = out.compute().unwrap();
        assert_close(&found, &expected, 1e-12);
    }
}

#[test]
fn column_means() {
    let mut g = Lcg::new(3);
    for (case, shape) in [vec![5, 4], vec![3, 6, 2], vec![2, 2, 7, 3]]
        .iter()
        .enumerate()
    {
        let x = dense_f64(shape, case as u64);
        let out = apply_gufunc("(m,n)->(n)", &[&chunked(&x, &mut g)], |c| {
            Ok(vec![c[0].mean_axis(Axis(0)).expect("m > 0")])
        })
        .unwrap();
        let expected = x.mean_axis(Axis(shape.len() - 2)).unwrap();
        assert_close(&out[0].compute().unwrap(), &expected, 1e-12);
    }
}

#[test]
fn matrix_vector_products_broadcast_the_vector() {
    let mut g = Lcg::new(5);
    let a = dense_f64(&[3, 4, 5], 1);
    for v_shape in [vec![5], vec![1, 5], vec![3, 5]] {
        let v = dense_f64(&v_shape, 2);
        let out = Gufunc::new("(m,n),(n)->(m)")
            .apply(&[&chunked(&a, &mut g), &chunked(&v, &mut g)], |c| {
                let m = c[0].view().into_dimensionality::<ndarray::Ix2>()?;
                let v = c[1].view().into_dimensionality::<ndarray::Ix1>()?;
                Ok(vec![m.dot(&v).into_dyn()])
            })
            .unwrap();
        let v_rows = v.clone().insert_axis(Axis(v.ndim() - 1));
        let expected = (&a * &v_rows).sum_axis(Axis(2));
        assert_close(&out[0].compute().unwrap(), &expected, 1e-12);
    }
}

#[test]
fn two_outputs_come_from_one_call_per_loop_index() {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = calls.clone();
    let x = dense_f64(&[4, 3, 6], 9);
    let cx = from_ndarray(&x, [3, 2, 4]).unwrap();
    let out = Gufunc::new("(i)->(),()")
        .apply(&[&cx], move |c| {
            seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let min = c[0].fold(f64::INFINITY, |m, &v| m.min(v));
            let max = c[0].fold(f64::NEG_INFINITY, |m, &v| m.max(v));
            Ok(vec![scalar(min), scalar(max)])
        })
        .unwrap();
    let [min, max] = <[Array<f64>; 2]>::try_from(out).unwrap();
    assert_eq!(min.chunks().chunks(), vec![vec![3, 1], vec![2, 1]]);
    let both = chunkwise::compute_many(&[&min, &max]).unwrap();
    let last = Axis(2);
    assert_eq!(both[0], x.fold_axis(last, f64::INFINITY, |m, &v| m.min(v)));
    assert_eq!(
        both[1],
        x.fold_axis(last, f64::NEG_INFINITY, |m, &v| m.max(v))
    );
    assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 12);
}

#[test]
fn a_new_core_dimension_from_output_sizes() {
    let x = dense_f64(&[5, 4], 4);
    let out = Gufunc::new("(i)->(k)")
        .output_sizes(&[("k", 3)])
        .apply_one(&[&from_ndarray(&x, [2, 1]).unwrap()], |c| {
            let lane = &c[0];
            Ok(arr1(&[lane.sum(), lane[0], lane[lane.len() - 1]]).into_dyn())
        })
        .unwrap();
    assert_eq!(out.shape(), vec![5, 3]);
    let expected = ndarray::stack(
        Axis(1),
        &[
            x.sum_axis(Axis(1)).view(),
            x.index_axis(Axis(1), 0),
            x.index_axis(Axis(1), 3),
        ],
    )
    .unwrap();
    assert_close(&out.compute().unwrap(), &expected, 1e-12);
}

#[test]
fn elementwise_signature_integer_inputs_and_fixed_dimensions() {
    let x = dense_i32(&[6, 3], 7);
    let cx = from_ndarray(&x, [4, 2]).unwrap();
    let twice = Gufunc::new("()->()")
        .apply_one(&[&cx], |c| Ok(c[0].mapv(|v| v as f64 * 2.0)))
        .unwrap();
    assert_eq!(twice.compute().unwrap(), x.mapv(|v| v as f64 * 2.0));
    let firsts = Gufunc::new("(3)->(2)")
        .apply_one(&[&cx], |c| {
            Ok(c[0].slice(ndarray::s![..2]).to_owned().into_dyn())
        })
        .unwrap();
    assert_eq!(
        firsts.compute().unwrap(),
        x.slice(ndarray::s![.., ..2]).into_dyn()
    );
}

#[test]
fn loop_axes_split_when_cores_are_large() {
    // 100 loop indices of 8 MiB each: no tile over 64 MiB, nothing computed.
    let x = chunkwise::zeros::<f64>(&[100, 1 << 20], [100, 1 << 16]).unwrap();
    let out = Gufunc::new("(i)->()")
        .apply_one(&[&x], |c| Ok(scalar(c[0].sum())))
        .unwrap();
    let chunks = out.chunks().chunks();
    assert!(chunks[0].iter().all(|&c| c <= 8), "{chunks:?}");
    assert_eq!(chunks[0].iter().sum::<usize>(), 100);
}

#[test]
fn generated_inputs_compute_on_the_gufunc_grid() {
    let x = chunkwise::random::uniform::<f64>(7, 0.0, 1.0, &[6, 10], [4, 3]).unwrap();
    let dense = x.compute().unwrap();
    let sums = Gufunc::new("(i)->()")
        .apply_one(&[&x], |c| Ok(scalar(c[0].sum())))
        .unwrap();
    assert_close(&sums.compute().unwrap(), &dense.sum_axis(Axis(1)), 1e-12);
}

fn build_error(result: chunkwise::Result<Vec<Array<f64>>>) -> BuildError {
    match result {
        Err(Error::Build(e)) => e,
        other => panic!("expected a BuildError, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn argument_errors_by_kind() {
    let x = from_ndarray(&dense_f64(&[3, 4], 1), [2, 2]).unwrap();
    let y = from_ndarray(&dense_f64(&[3, 5], 2), [2, 2]).unwrap();
    let z = from_ndarray(&dense_f64(&[2, 4], 3), [2, 2]).unwrap();
    let ok = |_: &[ArrayViewD<'_, f64>]| -> chunkwise::CoreResult<f64> { Ok(vec![scalar(0.0)]) };
    let invalid = |e: BuildError| matches!(e, BuildError::InvalidArgument { .. });
    for bad in [
        "(i),(i)",
        "(i)(i)->()",
        "(i),(i)->",
        "(i j),(i)->()",
        "(i?),(i)->()",
    ] {
        assert!(
            invalid(build_error(apply_gufunc(bad, &[&x, &y], ok))),
            "{bad}"
        );
    }
    // Wrong number of inputs; core lengths 4 and 5; an input with fewer axes than its
    // core dimensions; an output-only dimension without a length.
    assert!(invalid(build_error(apply_gufunc("(i),(i)->()", &[&x], ok))));
    assert!(invalid(build_error(apply_gufunc(
        "(i),(i)->()",
        &[&x, &y],
        ok
    ))));
    assert!(invalid(build_error(apply_gufunc("(a,b,c)->()", &[&x], ok))));
    assert!(invalid(build_error(apply_gufunc("(i)->(k)", &[&x], ok))));
    let one = Gufunc::new("(i)->(),()").apply_one(&[&x], |_| Ok(scalar(0.0)));
    assert!(matches!(
        one,
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
    // Loop axes 3 and 2 do not broadcast.
    let e = build_error(apply_gufunc("(i),(i)->()", &[&x, &z], ok));
    assert!(matches!(e, BuildError::Broadcast { .. }), "{e:?}");
}

fn exec_error(result: chunkwise::Result<Vec<Array<f64>>>) -> ExecError {
    match result.unwrap()[0].compute() {
        Err(Error::Exec(e)) => e,
        other => panic!("expected an ExecError, got {other:?}"),
    }
}

#[test]
fn function_errors_by_kind() {
    let x = from_ndarray(&dense_f64(&[4, 3], 1), [2, 2]).unwrap();
    let panics = apply_gufunc("(i)->()", &[&x], |c| match c[0][0] > 100.0 {
        true => Ok(vec![scalar(0.0)]),
        false => panic!("no"),
    });
    assert!(matches!(exec_error(panics), ExecError::TaskPanicked { .. }));
    let wrong_shape = apply_gufunc("(i)->()", &[&x], |c| Ok(vec![c[0].to_owned()]));
    let e = exec_error(wrong_shape);
    assert!(
        matches!(&e, ExecError::TileShape { expected, found, .. } if expected.is_empty() && found == &[3]),
        "{e:?}"
    );
    let too_many = apply_gufunc("(i)->()", &[&x], |_| Ok(vec![scalar(0.0), scalar(1.0)]));
    assert!(matches!(
        exec_error(too_many),
        ExecError::UserFunction { .. }
    ));
    let fails = apply_gufunc("(i)->()", &[&x], |_| Err("bad lane".into()));
    let e = exec_error(fails);
    assert!(
        matches!(&e, ExecError::UserFunction { message, .. } if message.contains("bad lane")),
        "{e:?}"
    );
}

#[test]
fn empty_loop_axes_give_empty_outputs() {
    // A zero-length loop axis beside large cores, and an empty core.
    let x = chunkwise::zeros::<f64>(&[0, 1 << 24], [1, 1 << 20]).unwrap();
    let out = Gufunc::new("(i)->()")
        .apply_one(&[&x], |c| Ok(scalar(c[0].sum())))
        .unwrap();
    assert_eq!(out.compute().unwrap().shape(), &[0]);
    let y = chunkwise::zeros::<f64>(&[3, 0], [2, 1]).unwrap();
    let sums = Gufunc::new("(i)->()")
        .apply_one(&[&y], |c| Ok(scalar(c[0].sum())))
        .unwrap();
    assert_eq!(
        sums.compute().unwrap(),
        ndarray::Array1::<f64>::zeros(3).into_dyn()
    );
}

#[test]
fn two_outputs_of_two_types() {
    let mut g = Lcg::new(11);
    let x = dense_f64(&[3, 4, 7], 12);
    // Per lane: the values sorted (a core output) and the position of the largest.
    let (sorted, argmax) = Gufunc::new("(i)->(i),()")
        .apply_pair(&[&chunked(&x, &mut g)], |c| {
            let mut v: Vec<f64> = c[0].iter().copied().collect();
            let at = (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b });
            v.sort_by(f64::total_cmp);
            Ok((
                ArrayD::from_shape_vec(vec![v.len()], v)?,
                arr0(at as u64).into_dyn(),
            ))
        })
        .unwrap();
    let mut expected = x.clone();
    for mut lane in expected.lanes_mut(Axis(2)) {
        let mut v = lane.to_vec();
        v.sort_by(f64::total_cmp);
        lane.assign(&ndarray::Array1::from(v));
    }
    assert_eq!(sorted.compute().unwrap(), expected);
    let positions = x.map_axis(Axis(2), |lane| {
        (0..lane.len()).fold(0, |b, i| if lane[i] > lane[b] { i } else { b }) as u64
    });
    assert_eq!(argmax.compute().unwrap(), positions);
    let one = Gufunc::new("(i)->()").apply_pair(&[&sorted], |c| {
        Ok((c[0].to_owned(), c[0].mapv(|v| v as u64)))
    });
    assert!(matches!(
        one,
        Err(Error::Build(BuildError::InvalidArgument { .. }))
    ));
}

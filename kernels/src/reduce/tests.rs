use super::*;

fn reduce_tile<R: Reducer>(
    r: &R,
    shape: &[usize],
    reduced: &[bool],
    xs: &[R::In],
    strip: usize,
) -> Vec<R::Out> {
    let origin = vec![0; shape.len()];
    let layout = ReduceLayout::new(shape, &origin, shape, reduced, r.needs_positions());
    let mut states = vec![r.init(); layout.n_states()];
    for (k, chunk) in xs.chunks(strip).enumerate() {
        layout.fold(r, &mut states, k * strip, chunk);
    }
    states.iter().map(|s| r.finish(s)).collect()
}

#[test]
fn axis_sums_match_direct_loops_for_any_strip_size() {
    let shape = [3, 4, 5];
    let xs: Vec<f64> = (0..60).map(|i| (i * 7 % 11) as f64 - 3.5).collect();
    let at = |i: usize, j: usize, k: usize| xs[i * 20 + j * 5 + k];
    for strip in [1, 3, 7, 60] {
        let r = FloatSum::<f64>::new(false, false);
        let over_1 = reduce_tile(&r, &shape, &[false, true, false], &xs, strip);
        for i in 0..3 {
            for k in 0..5 {
                let want: f64 = (0..4).map(|j| at(i, j, k)).sum();
                assert!((over_1[i * 5 + k] - want).abs() < 1e-12);
            }
        }
        let over_02 = reduce_tile(&r, &shape, &[true, false, true], &xs, strip);
        for (j, &got) in over_02.iter().enumerate() {
            let want: f64 = (0..3)
                .flat_map(|i| (0..5).map(move |k| (i, k)))
                .map(|(i, k)| at(i, j, k))
                .sum();
            assert!((got - want).abs() < 1e-12);
        }
    }
}

#[test]
fn compensated_sum_is_exact_where_naive_is_not() {
    let xs = [1e16, 1.0, -1e16, 1.0];
    let r = FloatSum::<f64>::new(false, false);
    assert_eq!(reduce_tile(&r, &[4], &[true], &xs, 1), vec![2.0]);
    assert_eq!(reduce_tile(&r, &[4, 1], &[true, false], &xs, 1), vec![2.0]);
}

#[test]
fn argmin_positions_and_nan_rules() {
    let xs = [3.0, 1.0, 1.0, f64::NAN, 0.0, 5.0];
    let r = ArgMinMax::<f64>::new(Extreme::Min);
    assert_eq!(reduce_tile(&r, &[6], &[true], &xs, 2), vec![3]);
    let xs = [3.0, 1.0, 4.0, 1.0, 0.5, 9.0];
    assert_eq!(reduce_tile(&r, &[2, 3], &[false, true], &xs, 4), vec![1, 1]);
    assert_eq!(
        reduce_tile(&r, &[2, 3], &[true, false], &xs, 4),
        vec![1, 1, 0]
    );
    let m = MinMax::<f64>::new(Extreme::Max, true);
    assert_eq!(
        reduce_tile(&m, &[3], &[true], &[1.0, f64::NAN, 2.0], 1),
        vec![2.0]
    );
    let m = MinMax::<f64>::new(Extreme::Max, false);
    assert!(reduce_tile(&m, &[3], &[true], &[1.0, f64::NAN, 2.0], 1)[0].is_nan());
}

#[test]
fn moments_merge_matches_two_pass() {
    let xs: Vec<f64> = (0..37)
        .map(|i| ((i * 13 % 17) as f64).sin() * 1e3 + 1e6)
        .collect();
    let mean = xs.iter().sum::<f64>() / 37.0;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 36.0;
    let r = Moments::<f64>::new(1.0, false, false);
    for strip in [1, 5, 37] {
        let got = reduce_tile(&r, &[37], &[true], &xs, strip)[0];
        assert!((got - var).abs() <= 1e-9 * var, "{got} vs {var}");
        let lanes = reduce_tile(&r, &[37, 1], &[true, false], &xs, strip)[0];
        assert!((lanes - var).abs() <= 1e-9 * var, "{lanes} vs {var}");
    }
}

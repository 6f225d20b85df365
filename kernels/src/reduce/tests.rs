use super::*;

/// How a test holds a tile's states: the states' type for reducer `R`.
trait Holding<R: Reducer> {
    /// The tile's states.
    type States: TileStates<R>;
}

/// A vector of states (which any reducer can fold into).
#[derive(Clone, Copy)]
struct OneByOne;

/// [`SoaStates`], as the engine holds the states of a [`SoaReducer`].
#[derive(Clone, Copy)]
struct Columns;

impl<R: Reducer> Holding<R> for OneByOne {
    type States = Vec<R::State>;
}

impl<R: SoaReducer> Holding<R> for Columns {
    type States = SoaStates;
}

/// A tile of `shape` reduced over the `reduced` axes, folded `strip` elements at a time
/// into states held as `H` says.
fn fold_tile<R: Reducer, H: Holding<R>>(
    r: &R,
    shape: &[usize],
    reduced: &[bool],
    xs: &[R::In],
    strip: usize,
    _held: H,
) -> Vec<R::Out> {
    let origin = vec![0; shape.len()];
    let layout = ReduceLayout::new(shape, &origin, shape, reduced, r.needs_positions());
    let mut states = H::States::start(r, layout.n_states());
    for (k, xs) in xs.chunks(strip).enumerate() {
        states.fold(r, &layout, k * strip, xs);
    }
    states.end(r, &layout).iter().map(|s| r.finish(s)).collect()
}

#[test]
fn axis_sums_match_direct_loops_for_any_strip_size() {
    let shape = [3, 4, 5];
    let xs: Vec<f64> = (0..60).map(|i| (i * 7 % 11) as f64 - 3.5).collect();
    let at = |i: usize, j: usize, k: usize| xs[i * 20 + j * 5 + k];
    for strip in [1, 3, 7, 60] {
        let r = FloatSum::<f64>::new(false, false);
        let over_1 = fold_tile(&r, &shape, &[false, true, false], &xs, strip, OneByOne);
        for i in 0..3 {
            for k in 0..5 {
                let want: f64 = (0..4).map(|j| at(i, j, k)).sum();
                assert!((over_1[i * 5 + k] - want).abs() < 1e-12);
            }
        }
        let over_02 = fold_tile(&r, &shape, &[true, false, true], &xs, strip, OneByOne);
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
    assert_eq!(fold_tile(&r, &[4], &[true], &xs, 1, OneByOne), vec![2.0]);
    assert_eq!(
        fold_tile(&r, &[4, 1], &[true, false], &xs, 1, OneByOne),
        vec![2.0]
    );
}

#[test]
fn argmin_positions_and_nan_rules() {
    let xs = [3.0, 1.0, 1.0, f64::NAN, 0.0, 5.0];
    let r = ArgMinMax::<f64>::new(Extreme::Min, false);
    assert_eq!(fold_tile(&r, &[6], &[true], &xs, 2, OneByOne), vec![3]);
    let xs = [3.0, 1.0, 4.0, 1.0, 0.5, 9.0];
    assert_eq!(
        fold_tile(&r, &[2, 3], &[false, true], &xs, 4, OneByOne),
        vec![1, 1]
    );
    assert_eq!(
        fold_tile(&r, &[2, 3], &[true, false], &xs, 4, OneByOne),
        vec![1, 1, 0]
    );
    let m = MinMax::<f64>::new(Extreme::Max, true);
    assert_eq!(
        fold_tile(&m, &[3], &[true], &[1.0, f64::NAN, 2.0], 1, OneByOne),
        vec![2.0]
    );
    let m = MinMax::<f64>::new(Extreme::Max, false);
    assert!(fold_tile(&m, &[3], &[true], &[1.0, f64::NAN, 2.0], 1, OneByOne)[0].is_nan());
}

#[test]
fn moments_merge_matches_two_pass() {
    let xs: Vec<f64> = (0..37)
        .map(|i| ((i * 13 % 17) as f64).sin() * 1e3 + 1e6)
        .collect();
    let mean = xs.iter().sum::<f64>() / 37.0;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 36.0;
    let r = Moments::<f64>::new(MomentOutput::Variance { ddof: 1.0 }, false);
    for strip in [1, 5, 37] {
        let got = fold_tile(&r, &[37], &[true], &xs, strip, OneByOne)[0];
        assert!((got - var).abs() <= 1e-9 * var, "{got} vs {var}");
        let lanes = fold_tile(&r, &[37, 1], &[true, false], &xs, strip, OneByOne)[0];
        assert!((lanes - var).abs() <= 1e-9 * var, "{lanes} vs {var}");
    }
}

/// The mean and variance (ddof 0) of `xs` in f64, two passes.
fn two_pass(xs: &[f64]) -> (f64, f64) {
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / xs.len() as f64;
    (mean, var)
}

#[test]
fn f32_lanes_fold_by_shifted_sums_across_recentring() {
    // 3000 rows (two re-centrings) of 5 lanes with a large offset and a drift: the shifts
    // and sums carried across the re-centrings must give the two-pass results.
    let (rows, lanes) = (3000, 5);
    let xs: Vec<f32> = (0..rows * lanes)
        .map(|i| {
            let (row, lane) = (i / lanes, i % lanes);
            1e4 + (row as f32) * 0.01 * lane as f32 + ((i * 7919 % 1013) as f32) / 1013.0
        })
        .collect();
    let mean = Moments::<f32>::new(MomentOutput::Mean, false);
    let var = Moments::<f32>::new(MomentOutput::Variance { ddof: 0.0 }, false);
    for strip in [7, 5 * 1024, xs.len()] {
        let means = fold_tile(&mean, &[rows, lanes], &[true, false], &xs, strip, Columns);
        let vars = fold_tile(&var, &[rows, lanes], &[true, false], &xs, strip, Columns);
        for lane in 0..lanes {
            let column: Vec<f64> = (0..rows).map(|r| xs[r * lanes + lane] as f64).collect();
            let (m, v) = two_pass(&column);
            // Rounded once to f32: within half an f32 ulp, plus the f64 error.
            assert!((means[lane] as f64 - m).abs() <= 0.6 * f32::EPSILON as f64 * m);
            assert!((vars[lane] as f64 - v).abs() <= 0.6 * f32::EPSILON as f64 * v);
        }
    }
}

#[test]
fn shifted_sums_keep_the_ieee_results_of_infinities_and_nan() {
    let inf = f32::INFINITY;
    // Per column: (values, mean); the variance is NaN wherever a value is not finite.
    let columns: [(&[f32], f32); 6] = [
        (&[inf, 1.0, 2.0], inf),
        (&[1.0, 2.0, -inf], -inf),
        (&[inf, 1.0, -inf], f32::NAN),
        (&[1.0, f32::NAN, 2.0], f32::NAN),
        (&[-inf, -inf, 3.0], -inf),
        (&[1.0, 2.0, 4.0], 7.0 / 3.0),
    ];
    let rows = 3;
    let xs: Vec<f32> = (0..rows)
        .flat_map(|r| columns.iter().map(move |(c, _)| c[r]))
        .collect();
    let shape = [rows, columns.len()];
    let mean = Moments::<f32>::new(MomentOutput::Mean, false);
    let var = Moments::<f32>::new(MomentOutput::Variance { ddof: 0.0 }, false);
    let means = fold_tile(&mean, &shape, &[true, false], &xs, 4, Columns);
    let vars = fold_tile(&var, &shape, &[true, false], &xs, 4, Columns);
    for (k, (column, want)) in columns.iter().enumerate() {
        let same = means[k] == *want || (means[k].is_nan() && want.is_nan());
        assert!(same, "column {k}: mean {} vs {want}", means[k]);
        let finite = column.iter().all(|v| v.is_finite());
        assert_eq!(vars[k].is_nan(), !finite, "column {k}: var {}", vars[k]);
    }
    assert!((vars[5] as f64 - two_pass(&[1.0, 2.0, 4.0]).1).abs() < 1e-6);
    // Across re-centrings (every 1024 rows): an infinity early on, a NaN late.
    let rows = 2100;
    let xs: Vec<f32> = (0..rows)
        .flat_map(|r| {
            let early = if r == 3 { inf } else { 1.0 };
            let late = if r == 2000 { f32::NAN } else { 2.0 };
            [early, late, r as f32]
        })
        .collect();
    let means = fold_tile(&mean, &[rows, 3], &[true, false], &xs, 1000, Columns);
    let vars = fold_tile(&var, &[rows, 3], &[true, false], &xs, 1000, Columns);
    assert_eq!(means[0], inf);
    assert!(means[1].is_nan() && vars[0].is_nan() && vars[1].is_nan());
    assert_eq!(means[2], (rows - 1) as f32 / 2.0);
    // Merging tiles keeps them too: an infinite mean with a finite one stays infinite.
    let mut state = MomentState {
        count: 2,
        mean: f64::INFINITY,
        m2: f64::NAN,
    };
    state.merge(&MomentState {
        count: 3,
        mean: 1.0,
        m2: 2.0,
    });
    assert_eq!((state.count, state.mean), (5, f64::INFINITY));
    assert!(state.m2.is_nan());
}

#[test]
fn only_f32_moments_give_the_mean_from_their_states() {
    let wanted = Statistic::Mean { skip_nan: false };
    let std = |skip_nan| Moments::<f32>::new(MomentOutput::StdDev { ddof: 1.0 }, skip_nan);
    assert!(std(false).finishing(wanted).is_some());
    assert!(std(true).finishing(wanted).is_none());
    let wide = Moments::<f64>::new(MomentOutput::StdDev { ddof: 1.0 }, false);
    assert!(wide.finishing(wanted).is_none());
    assert_eq!(FloatSum::<f32>::new(false, true).statistic(), Some(wanted));
    assert_eq!(FloatSum::<f32>::new(false, false).statistic(), None);
}

#[test]
fn f32_mean_off_the_moments_is_correctly_rounded_under_cancellation() {
    // Centred data: values near ±1e4 whose mean is tiny (pairs that cancel exactly, then a
    // tiny value and a zero: about 3e-9). `K + S1/n` would be off by about ε64·1e4, many
    // f32 ulps of the mean; `(K n + S1) / n` is exact before its one rounding.
    let (rows, lanes) = (364, 4);
    let xs: Vec<f32> = (0..rows * lanes)
        .map(|i| {
            let (row, lane) = (i / lanes, i % lanes);
            let magnitude = 1e4 + ((row / 2 * 31 + lane * 7) % 97) as f32 / 64.0;
            match row {
                362 => (lane + 1) as f32 * 2f32.powi(-20),
                363 => 0.0,
                _ if row % 2 == 0 => magnitude,
                _ => -magnitude,
            }
        })
        .collect();
    let mean = Moments::<f32>::new(MomentOutput::Mean, false);
    let got = fold_tile(&mean, &[rows, lanes], &[true, false], &xs, 50, Columns);
    let alone = FloatSum::<f32>::new(false, true);
    let compensated = fold_tile(&alone, &[rows, lanes], &[true, false], &xs, 50, Columns);
    for lane in 0..lanes {
        // The values span 2^-20 to 2^14: their f64 sum is exact.
        let exact: f64 = (0..rows).map(|r| xs[r * lanes + lane] as f64).sum();
        let want = (exact / rows as f64) as f32;
        assert_eq!(got[lane], want, "lane {lane}");
        assert_eq!(compensated[lane], want, "lane {lane}");
    }
}

#[test]
fn compensated_sums_of_infinities_are_the_ieee_ones() {
    let sum = FloatSum::<f64>::new(false, false);
    let cases: [(&[f64], f64); 4] = [
        (&[f64::INFINITY, 1.0], f64::INFINITY),
        (&[1.0, f64::NEG_INFINITY, 2.0], f64::NEG_INFINITY),
        (&[f64::INFINITY, f64::NEG_INFINITY], f64::NAN),
        (&[f64::MAX, f64::MAX], f64::INFINITY),
    ];
    for (xs, want) in cases {
        let n = xs.len();
        for got in [
            fold_tile(&sum, &[n], &[true], xs, 1, OneByOne)[0],
            fold_tile(&sum, &[n, 1], &[true, false], xs, 1, Columns)[0],
        ] {
            assert!(
                got == want || (got.is_nan() && want.is_nan()),
                "{xs:?}: {got}"
            );
        }
    }
}

#[test]
fn folds_accumulate_in_the_wide_type_as_they_read() {
    // 300 values of 255 along runs and along lanes, in strips that split rows: a u8
    // accumulator would wrap, u64 holds 76500.
    let xs = vec![255u8; 600];
    let sum = Fold::<u8, u64>::new(false, false);
    for strip in [1, 7, 600] {
        let runs = fold_tile(&sum, &[2, 300], &[false, true], &xs, strip, OneByOne);
        assert_eq!(runs, vec![76_500, 76_500]);
        let lanes = fold_tile(&sum, &[300, 2], &[true, false], &xs, strip, OneByOne);
        assert_eq!(lanes, vec![76_500, 76_500]);
    }
    // Signed values widen with their sign; products wrap in 64 bits, not in 8.
    let signed = [-128i8, -128, 127, -1];
    let total = fold_tile(
        &Fold::<i8, i64>::new(false, false),
        &[4],
        &[true],
        &signed,
        3,
        OneByOne,
    );
    assert_eq!(total, vec![-130]);
    let product = fold_tile(
        &Fold::<i8, i64>::new(true, false),
        &[4],
        &[true],
        &signed,
        3,
        OneByOne,
    );
    assert_eq!(product, vec![-(128 * 128 * 127)]);
    // Booleans count as 0 and 1.
    let flags = [true, false, true, true];
    let count = fold_tile(
        &Fold::<bool, i64>::new(false, false),
        &[2, 2],
        &[true, false],
        &flags,
        1,
        OneByOne,
    );
    assert_eq!(count, vec![2, 1]);
    // nanprod and nansum leave NaN out; prod keeps it.
    let floats = [2.0, f64::NAN, 4.0];
    let nanprod = fold_tile(
        &Fold::<f64>::new(true, true),
        &[3],
        &[true],
        &floats,
        2,
        OneByOne,
    );
    assert_eq!(nanprod, vec![8.0]);
    let lanes = fold_tile(
        &Fold::<f64>::new(true, true),
        &[1, 3],
        &[true, false],
        &floats,
        2,
        OneByOne,
    );
    assert_eq!(lanes, vec![2.0, 1.0, 4.0]);
    let nansum = fold_tile(
        &Fold::<f64>::new(false, true),
        &[3],
        &[true],
        &floats,
        1,
        OneByOne,
    );
    assert_eq!(nansum, vec![6.0]);
    let prod = fold_tile(
        &Fold::<f64>::new(true, false),
        &[3],
        &[true],
        &floats,
        1,
        OneByOne,
    );
    assert!(prod[0].is_nan());
}

/// Folds `xs` as one run with whichever reducer it is handed, and finishes the state.
struct SumOf<'a, T>(&'a [T]);

impl<T: Element, O: Element> ReducerVisitor<T, O> for SumOf<'_, T> {
    type Output = O;
    fn visit<R: Reducer<In = T, Out = O>>(self, reducer: R) -> O {
        let mut state = reducer.init();
        reducer.fold_run(&mut state, self.0, 0);
        reducer.finish(&state)
    }
}

#[test]
fn sum_reducers_follow_the_element_type() {
    // Integers and bool sum in 64 bits, wrapping; floats are compensated in f64.
    assert_eq!(visit_sum_reducer(false, SumOf(&[200u8, 100])), 300u64);
    assert_eq!(visit_sum_reducer(false, SumOf(&[true, true, false])), 2i64);
    assert_eq!(
        visit_sum_reducer(false, SumOf(&[i64::MAX, 1])),
        i64::MIN,
        "wraps as NumPy's"
    );
    assert_eq!(
        visit_sum_reducer(false, SumOf(&[1e8f32, 1.0, -1e8])),
        1.0f32
    );
    assert_eq!(
        visit_sum_reducer(true, SumOf(&[1.0f64, f64::NAN, 2.0])),
        3.0
    );
    // In the type itself: u8 wraps, floats still compensated and NaN-skipping on demand.
    assert_eq!(visit_own_sum_reducer(false, SumOf(&[200u8, 100])), 44u8);
    assert_eq!(
        visit_own_sum_reducer(false, SumOf(&[1e8f32, 1.0, -1e8])),
        1.0f32
    );
    assert!(visit_own_sum_reducer(false, SumOf(&[1.0f64, f64::NAN])).is_nan());
    assert_eq!(visit_own_sum_reducer(true, SumOf(&[1.0f64, f64::NAN])), 1.0);
}

#[test]
fn nan_skipping_pairwise_sums_match_a_filtered_sum() {
    for len in [0usize, 7, 8, 300, 1001] {
        let xs: Vec<f64> = (0..len)
            .map(|i| if i % 5 == 3 { f64::NAN } else { i as f64 * 0.5 })
            .collect();
        let kept: Vec<f64> = xs.iter().copied().filter(|x| !x.is_nan()).collect();
        let (sum, count) = pairwise_sum_skipping_nan(&xs);
        assert_eq!(count, kept.len() as u64);
        assert_eq!(sum, kept.iter().sum::<f64>(), "len {len}");
    }
}

//! Reductions: over all axes, one axis, or a set of axes, with `keepdims` and the tree's
//! fan-in (`split_every`). Each partial step fuses the elementwise chain that feeds it.

use chunkwise_kernels::dtype::{Element, FloatElement, Numeric};
use chunkwise_kernels::reduce::{
    AnyAll, ArgMinMax, Count, Counted, Extreme, FloatSum, Fold, MinMax, MomentOutput, Moments,
    Reducer, ReducerVisitor, visit_own_sum_reducer, visit_sum_reducer,
};

use super::Array;
use crate::ops::reduction::{DEFAULT_SPLIT_EVERY, reduce};
use crate::tile::erase;

/// Which axes a reduction runs over, and how.
///
/// ```
/// use chunkwise::Reduction;
/// let over_time = Reduction::axes([0]).keepdims(true).split_every(8);
/// # let _ = over_time;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reduction {
    pub(crate) axes: Option<Vec<isize>>,
    pub(crate) keepdims: bool,
    pub(crate) split_every: usize,
}

impl Default for Reduction {
    fn default() -> Reduction {
        Reduction {
            axes: None,
            keepdims: false,
            split_every: DEFAULT_SPLIT_EVERY,
        }
    }
}

impl Reduction {
    /// Over all axes.
    pub fn all() -> Reduction {
        Reduction::default()
    }

    /// Over the given axes (negative counts from the end).
    pub fn axes(axes: impl AsRef<[isize]>) -> Reduction {
        Reduction {
            axes: Some(axes.as_ref().to_vec()),
            ..Reduction::default()
        }
    }

    /// Over one axis.
    pub fn axis(axis: isize) -> Reduction {
        Reduction::axes([axis])
    }

    /// Keep reduced axes with length 1.
    pub fn keepdims(mut self, keep: bool) -> Reduction {
        self.keepdims = keep;
        self
    }

    /// Fan-in of the combine tree: one combine reads at most `split_every` partial results,
    /// neighbours in C order (whole runs along the last reduced axis first, then rows of
    /// them), and at most 256 MiB of them. Must be at least 2.
    pub fn split_every(mut self, n: usize) -> Reduction {
        self.split_every = n;
        self
    }
}

impl<T: Element> Array<T> {
    /// The reduction of this array by `reducer`, as `how` says.
    pub(super) fn reduce_by<R: Reducer<In = T>>(
        &self,
        how: &Reduction,
        reducer: R,
        name: &str,
    ) -> Array<R::Out> {
        let node = reduce(
            &self.node,
            how.axes.as_deref(),
            how.keepdims,
            how.split_every,
            erase(reducer, name),
        );
        Array::from_node(node)
    }
}

/// The reduction of `array` as `how` says by the reducer it is handed: for reducers whose
/// type depends on the element type ([`visit_sum_reducer`]).
struct ReduceBy<'a, T: Element> {
    array: &'a Array<T>,
    how: &'a Reduction,
    name: &'a str,
}

impl<T: Element, O: Element> ReducerVisitor<T, O> for ReduceBy<'_, T> {
    type Output = Array<O>;
    fn visit<R: Reducer<In = T, Out = O>>(self, reducer: R) -> Array<O> {
        self.array.reduce_by(self.how, reducer, self.name)
    }
}

/// Defines `name()` (all axes), `name_axis(axis)` and `name_with(&Reduction)` for one
/// reduction, from the expression that makes its reducer, or (after `via`) from the
/// function that hands a [`ReduceBy`] a reducer whose type depends on the element type.
macro_rules! reduction_methods {
    ($bound:path; via $($(#[$doc:meta])* $name:ident, $axis:ident, $with:ident -> $out:ty = $visit:ident($arg:expr);)*) => {
        /// Reductions.
        impl<T: $bound> Array<T> {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> Array<$out> {
                    self.$with(&Reduction::all())
                }
                #[doc = concat!("[`Array::", stringify!($name), "`] along one axis.")]
                pub fn $axis(&self, axis: isize) -> Array<$out> {
                    self.$with(&Reduction::axis(axis))
                }
                #[doc = concat!("[`Array::", stringify!($name), "`] as `how` says (axes, keepdims, split_every).")]
                pub fn $with(&self, how: &Reduction) -> Array<$out> {
                    $visit($arg, ReduceBy { array: self, how, name: stringify!($name) })
                }
            )*
        }
    };
    ($bound:path; $($(#[$doc:meta])* $name:ident, $axis:ident, $with:ident -> $out:ty = $make:expr;)*) => {
        /// Reductions.
        impl<T: $bound> Array<T> {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> Array<$out> {
                    self.$with(&Reduction::all())
                }
                #[doc = concat!("[`Array::", stringify!($name), "`] along one axis.")]
                pub fn $axis(&self, axis: isize) -> Array<$out> {
                    self.$with(&Reduction::axis(axis))
                }
                #[doc = concat!("[`Array::", stringify!($name), "`] as `how` says (axes, keepdims, split_every).")]
                pub fn $with(&self, how: &Reduction) -> Array<$out> {
                    self.reduce_by(how, $make, stringify!($name))
                }
            )*
        }
    };
}

reduction_methods! { Element; via
    /// Sum, in [`Element::Sum`] as NumPy's: `bool` and signed integers sum into `i64`,
    /// unsigned integers into `u64` (so 300 `u8` ones sum to 300), floats into their own
    /// type, compensated and accumulated in f64. Integer sums wrap on 64-bit overflow, as
    /// NumPy's do (silently); float sums are compensated in f64, more accurate than NumPy's
    /// pairwise sums in the float's own type, so their last bits may differ.
    /// [`Array::sum_as`] sums in another type.
    ///
    /// ```
    /// let x = chunkwise::arange::<f64>(0.0, 100.0, 1.0, [7]).unwrap();
    /// assert_eq!(x.sum().compute_scalar().unwrap(), 4950.0);
    /// let ones = chunkwise::ones::<u8>(&[300], [128]).unwrap();
    /// assert_eq!(ones.sum().compute_scalar().unwrap(), 300u64);
    /// let flags = ones.greater(0u8);
    /// assert_eq!(flags.sum().compute_scalar().unwrap(), 300i64);
    /// ```
    sum, sum_axis, sum_with -> T::Sum = visit_sum_reducer(false);
    /// Sum ignoring NaN, in [`Element::Sum`] (see [`Array::sum`]).
    nansum, nansum_axis, nansum_with -> T::Sum = visit_sum_reducer(true);
}

reduction_methods! { Element;
    /// Product, in [`Element::Sum`] as NumPy's (see [`Array::sum`]): integer products wrap
    /// on 64-bit overflow, float products are plain products in their own type.
    /// [`Array::prod_as`] multiplies in another type.
    ///
    /// ```
    /// let x = chunkwise::full::<u8>(&[4], 16, [3]).unwrap();
    /// assert_eq!(x.prod().compute_scalar().unwrap(), 65536u64);
    /// ```
    prod, prod_axis, prod_with -> T::Sum = Fold::<T, T::Sum>::new(true, false);
    /// Product ignoring NaN (as if it were 1), in [`Element::Sum`] (see [`Array::prod`]).
    nanprod, nanprod_axis, nanprod_with -> T::Sum = Fold::<T, T::Sum>::new(true, true);
    /// Number of elements that are not zero (not `false`).
    count_nonzero, count_nonzero_axis, count_nonzero_with -> u64 = Count::<T>::new(Counted::Nonzero);
    /// Minimum (NaN propagates); an error for an empty selection. Of `bool`: whether all
    /// are true, as NumPy's.
    min, min_axis, min_with -> T = MinMax::<T>::new(Extreme::Min, false);
    /// Maximum (NaN propagates); an error for an empty selection. Of `bool`: whether any
    /// is true.
    max, max_axis, max_with -> T = MinMax::<T>::new(Extreme::Max, false);
    /// Minimum ignoring NaN (NaN where all are NaN).
    nanmin, nanmin_axis, nanmin_with -> T = MinMax::<T>::new(Extreme::Min, true);
    /// Maximum ignoring NaN (NaN where all are NaN).
    nanmax, nanmax_axis, nanmax_with -> T = MinMax::<T>::new(Extreme::Max, true);
    /// Index of the first minimum: the flat index over all axes, or the index along the
    /// axis. The first NaN counts as the minimum, like NumPy (and the first `false` of
    /// `bool`s).
    argmin, argmin_axis, argmin_with -> u64 = ArgMinMax::<T>::new(Extreme::Min, false);
    /// Index of the first maximum (see [`Array::argmin`]).
    argmax, argmax_axis, argmax_with -> u64 = ArgMinMax::<T>::new(Extreme::Max, false);
    /// Index of the first minimum ignoring NaN, as NumPy's `nanargmin` (see
    /// [`Array::argmin`]). A slice of NaN only has no such index: computing it fails with
    /// [`ExecError::AllNanSlice`](crate::ExecError::AllNanSlice), as NumPy raises.
    ///
    /// ```
    /// let a = ndarray::arr2(&[[f64::NAN, 2.0, 1.0], [0.5, f64::NAN, 3.0]]);
    /// let x = chunkwise::from_ndarray(&a, [1, 2]).unwrap();
    /// assert_eq!(x.nanargmin().compute_scalar().unwrap(), 3);
    /// let rows = x.nanargmax_axis(1).compute().unwrap();
    /// assert_eq!(rows.into_raw_vec_and_offset().0, vec![1, 2]);
    /// let nan = chunkwise::full::<f64>(&[2], f64::NAN, [1]).unwrap();
    /// assert!(nan.nanargmin().compute().is_err());
    /// ```
    nanargmin, nanargmin_axis, nanargmin_with -> u64 = ArgMinMax::<T>::new(Extreme::Min, true);
    /// Index of the first maximum ignoring NaN (see [`Array::nanargmin`]).
    nanargmax, nanargmax_axis, nanargmax_with -> u64 = ArgMinMax::<T>::new(Extreme::Max, true);
}

reduction_methods! { Numeric;
    /// Arithmetic mean; of integers in f64, as NumPy's: each value is converted to f64 and
    /// summed with compensation, so no integer sum under it wraps. (The mean of a `bool`
    /// array is that of `astype::<u8>()`.)
    ///
    /// ```
    /// let x = chunkwise::full::<u8>(&[300], 200, [128]).unwrap();
    /// assert_eq!(x.mean().compute_scalar().unwrap(), 200.0);
    /// ```
    mean, mean_axis, mean_with -> T::Real = FloatSum::<T>::new(false, true);
    /// Mean ignoring NaN.
    nanmean, nanmean_axis, nanmean_with -> T::Real = FloatSum::<T>::new(true, true);
}

/// Reductions accumulated in a type of the caller's choosing, as NumPy's `dtype=` argument:
/// each element is converted to `U` with Rust's `as` (as [`Array::astype`]; the conversion
/// is fused into the reduction, no tile of `U` is made), then reduced as an array of `U`.
impl<T: Element> Array<T> {
    /// Sum over all axes in `U`, wrapping on overflow for integers: `sum_as::<u8>()` of
    /// 300 `u8` ones is 44, as NumPy's `sum(dtype=np.uint8)`. A float `U` is summed as
    /// [`Array::sum`] sums floats (compensated in f64, then rounded to `U`), so it can be
    /// more accurate than NumPy's.
    ///
    /// ```
    /// let ones = chunkwise::ones::<u8>(&[300], [128]).unwrap();
    /// assert_eq!(ones.sum_as::<u8>().compute_scalar().unwrap(), 44);
    /// assert_eq!(ones.sum_as::<f32>().compute_scalar().unwrap(), 300.0);
    /// ```
    pub fn sum_as<U: Numeric>(&self) -> Array<U> {
        self.sum_as_with(&Reduction::all())
    }

    /// [`Array::sum_as`] as `how` says (axes, keepdims, split_every).
    pub fn sum_as_with<U: Numeric>(&self, how: &Reduction) -> Array<U> {
        self.own_sum(how, false, "sum")
    }

    /// Sum ignoring NaN over all axes in `U` (see [`Array::sum_as`]): a NaN counts as 0,
    /// as in NumPy's `nansum(dtype=...)` (it converts to 0 in an integer `U`, and is
    /// skipped in a float one).
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[1.5, f64::NAN, 2.5]), [2]).unwrap();
    /// assert_eq!(x.nansum_as::<f32>().compute_scalar().unwrap(), 4.0f32);
    /// ```
    pub fn nansum_as<U: Numeric>(&self) -> Array<U> {
        self.nansum_as_with(&Reduction::all())
    }

    /// [`Array::nansum_as`] as `how` says (axes, keepdims, split_every).
    pub fn nansum_as_with<U: Numeric>(&self, how: &Reduction) -> Array<U> {
        self.own_sum(how, true, "nansum")
    }

    /// The sum in `U` of the elements converted to `U`, NaN skipped if `skip_nan`.
    fn own_sum<U: Numeric>(&self, how: &Reduction, skip_nan: bool, name: &str) -> Array<U> {
        let array = self.astype::<U>();
        let by = ReduceBy {
            array: &array,
            how,
            name,
        };
        visit_own_sum_reducer(skip_nan, by)
    }

    /// Product over all axes in `U` (see [`Array::sum_as`]).
    ///
    /// ```
    /// let x = chunkwise::full::<u8>(&[4], 16, [3]).unwrap();
    /// assert_eq!(x.prod_as::<u16>().compute_scalar().unwrap(), 0);
    /// ```
    pub fn prod_as<U: Numeric>(&self) -> Array<U> {
        self.prod_as_with(&Reduction::all())
    }

    /// [`Array::prod_as`] as `how` says (axes, keepdims, split_every).
    pub fn prod_as_with<U: Numeric>(&self, how: &Reduction) -> Array<U> {
        self.astype::<U>()
            .reduce_by(how, Fold::<U>::new(true, false), "prod")
    }

    /// Mean over all axes in the float type `U`, as NumPy's `mean(dtype=...)` with a
    /// float dtype: the result is a `U` (the sum is compensated in f64 whatever `U`).
    ///
    /// ```
    /// let x = chunkwise::arange::<i64>(0, 4, 1, [3]).unwrap();
    /// assert_eq!(x.mean_as::<f32>().compute_scalar().unwrap(), 1.5f32);
    /// ```
    pub fn mean_as<U: FloatElement>(&self) -> Array<U> {
        self.mean_as_with(&Reduction::all())
    }

    /// [`Array::mean_as`] as `how` says (axes, keepdims, split_every).
    pub fn mean_as_with<U: FloatElement>(&self, how: &Reduction) -> Array<U> {
        self.astype::<U>().mean_with(how)
    }

    /// Variance over all axes in the float type `U` (see [`Array::var`]), as NumPy's
    /// `var(dtype=...)` with a float dtype.
    ///
    /// ```
    /// let x = chunkwise::arange::<i32>(1, 5, 1, [3]).unwrap();
    /// assert_eq!(x.var_as::<f32>(0.0).compute_scalar().unwrap(), 1.25f32);
    /// ```
    pub fn var_as<U: FloatElement>(&self, ddof: f64) -> Array<U> {
        self.var_as_with(&Reduction::all(), ddof)
    }

    /// [`Array::var_as`] as `how` says (axes, keepdims, split_every).
    pub fn var_as_with<U: FloatElement>(&self, how: &Reduction, ddof: f64) -> Array<U> {
        self.astype::<U>().var_with(how, ddof)
    }

    /// Standard deviation over all axes in the float type `U` (see [`Array::var_as`]).
    pub fn std_as<U: FloatElement>(&self, ddof: f64) -> Array<U> {
        self.std_as_with(&Reduction::all(), ddof)
    }

    /// [`Array::std_as`] as `how` says (axes, keepdims, split_every).
    pub fn std_as_with<U: FloatElement>(&self, how: &Reduction, ddof: f64) -> Array<U> {
        self.astype::<U>().std_with(how, ddof)
    }
}

/// Boolean reductions.
impl Array<bool> {
    /// Whether any element is true.
    pub fn any(&self) -> Array<bool> {
        self.any_with(&Reduction::all())
    }

    /// Whether any element along `axis` is true.
    pub fn any_axis(&self, axis: isize) -> Array<bool> {
        self.any_with(&Reduction::axis(axis))
    }

    /// [`Array::any`] as `how` says.
    pub fn any_with(&self, how: &Reduction) -> Array<bool> {
        self.reduce_by(how, AnyAll::new(false), "any")
    }

    /// Whether all elements are true.
    pub fn all(&self) -> Array<bool> {
        self.all_with(&Reduction::all())
    }

    /// Whether all elements along `axis` are true.
    pub fn all_axis(&self, axis: isize) -> Array<bool> {
        self.all_with(&Reduction::axis(axis))
    }

    /// [`Array::all`] as `how` says.
    pub fn all_with(&self, how: &Reduction) -> Array<bool> {
        self.reduce_by(how, AnyAll::new(true), "all")
    }
}

/// Defines `name(ddof)`, `name_axis(axis, ddof)` and `name_with(&Reduction, ddof)` for one
/// reduction of (count, mean, M2) states that finishes into `$output`.
macro_rules! moment_methods {
    ($($(#[$doc:meta])* $name:ident, $axis:ident, $with:ident = $output:ident, skip_nan: $skip:expr;)*) => {
        /// Variance and standard deviation, from (count, mean, M2) states merged pairwise.
        impl<T: Numeric> Array<T> {
            $(
                $(#[$doc])*
                pub fn $name(&self, ddof: f64) -> Array<T::Real> {
                    self.$with(&Reduction::all(), ddof)
                }
                #[doc = concat!("[`Array::", stringify!($name), "`] along one axis.")]
                pub fn $axis(&self, axis: isize, ddof: f64) -> Array<T::Real> {
                    self.$with(&Reduction::axis(axis), ddof)
                }
                #[doc = concat!("[`Array::", stringify!($name), "`] as `how` says (axes, keepdims, split_every).")]
                pub fn $with(&self, how: &Reduction, ddof: f64) -> Array<T::Real> {
                    let output = MomentOutput::$output { ddof };
                    self.reduce_by(how, Moments::<T>::new(output, $skip), stringify!($name))
                }
            )*
        }
    };
}

moment_methods! {
    /// Variance with `ddof` delta degrees of freedom (0: population, 1: sample). As NumPy's,
    /// the sum of squared deviations is divided by `max(count - ddof, 0)`: where no degree
    /// of freedom is left the result is infinite, or NaN if the values are all equal.
    ///
    /// ```
    /// let x = chunkwise::arange::<f64>(1.0, 5.0, 1.0, [3]).unwrap();
    /// assert_eq!(x.var(1.0).compute_scalar().unwrap(), 5.0 / 3.0);
    /// ```
    var, var_axis, var_with = Variance, skip_nan: false;
    /// Standard deviation with `ddof` delta degrees of freedom.
    std, std_axis, std_with = StdDev, skip_nan: false;
    /// Variance ignoring NaN, as NumPy's `nanvar` (NaN where a slice has no more than
    /// `ddof` values that are not NaN).
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[1.0, f64::NAN, 3.0]), [2]).unwrap();
    /// assert_eq!(x.nanvar(0.0).compute_scalar().unwrap(), 1.0);
    /// ```
    nanvar, nanvar_axis, nanvar_with = Variance, skip_nan: true;
    /// Standard deviation ignoring NaN, as NumPy's `nanstd` (see [`Array::nanvar`]).
    nanstd, nanstd_axis, nanstd_with = StdDev, skip_nan: true;
}

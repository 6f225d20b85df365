//! Grouped reductions, as flox's `groupby_reduce` and xarray's `groupby(...).mean()`: the
//! elements along one axis are grouped by labels held in memory, and each group is reduced
//! along that axis, which becomes the group axis of the result. The array stays chunked:
//! each tile is folded into states per group, combined in a tree per output chunk.

use std::sync::Arc;

use chunkwise_kernels::dtype::{DType, Element, Numeric, Scalar};
use chunkwise_kernels::reduce::{
    ArgMinMax, Count, Counted, Edge, End, Extreme, FloatSum, Fold, MinMax, MomentOutput, Moments,
    Reducer, ReducerVisitor, visit_sum_reducer,
};

use super::quantile::{QuantileMethod, check_quantile};
use super::structure::concatenate;
use super::{Array, Reduction};
use crate::chunks::{AxisChunks, Chunks, GroupMethod, NO_GROUP};
use crate::error::{BuildError, Error, Result};
use crate::graph::Node;
use crate::ops::groupby::{Grouping, finish_groups, group_states, groups_per_tile};
use crate::ops::layout::normalize_axis;
use crate::ops::reduction::DEFAULT_SPLIT_EVERY;
use crate::tile::group::GroupFinish;
use crate::tile::{ErasedReducer, Several, erase};

/// One reduction of the groups of a [`GroupBy`], by flox's names; several of them are
/// computed in one pass by [`GroupBy::aggregate`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GroupFunc {
    /// Sum (0 for a group with no element).
    Sum,
    /// Sum ignoring NaN.
    NanSum,
    /// Product (1 for a group with no element).
    Prod,
    /// Product ignoring NaN.
    NanProd,
    /// Arithmetic mean.
    Mean,
    /// Mean ignoring NaN.
    NanMean,
    /// Variance with `ddof` delta degrees of freedom.
    Var {
        /// Delta degrees of freedom.
        ddof: f64,
    },
    /// Variance ignoring NaN.
    NanVar {
        /// Delta degrees of freedom.
        ddof: f64,
    },
    /// Standard deviation with `ddof` delta degrees of freedom.
    Std {
        /// Delta degrees of freedom.
        ddof: f64,
    },
    /// Standard deviation ignoring NaN.
    NanStd {
        /// Delta degrees of freedom.
        ddof: f64,
    },
    /// Minimum (NaN propagates).
    Min,
    /// Maximum (NaN propagates).
    Max,
    /// Minimum ignoring NaN.
    NanMin,
    /// Maximum ignoring NaN.
    NanMax,
    /// Number of values that are not NaN.
    Count,
    /// The value at the group's first position along the axis.
    First,
    /// The value at the group's last position.
    Last,
    /// The first value that is not NaN.
    NanFirst,
    /// The last value that is not NaN.
    NanLast,
    /// Index along the axis (of the whole array) of the group's first minimum.
    ArgMin,
    /// Index along the axis of the group's first maximum.
    ArgMax,
    /// [`GroupFunc::ArgMin`] ignoring NaN.
    NanArgMin,
    /// [`GroupFunc::ArgMax`] ignoring NaN.
    NanArgMax,
}

/// Erases the reducer it is handed (for reducers whose type depends on the element type).
struct EraseAs(&'static str);

impl<T: Element, O: Element> ReducerVisitor<T, O> for EraseAs {
    type Output = Arc<dyn ErasedReducer>;
    fn visit<R: Reducer<In = T, Out = O>>(self, reducer: R) -> Arc<dyn ErasedReducer> {
        erase(reducer, self.0)
    }
}

impl GroupFunc {
    /// The name plans show.
    fn name(self) -> &'static str {
        match self {
            GroupFunc::Sum => "sum",
            GroupFunc::NanSum => "nansum",
            GroupFunc::Prod => "prod",
            GroupFunc::NanProd => "nanprod",
            GroupFunc::Mean => "mean",
            GroupFunc::NanMean => "nanmean",
            GroupFunc::Var { .. } => "var",
            GroupFunc::NanVar { .. } => "nanvar",
            GroupFunc::Std { .. } => "std",
            GroupFunc::NanStd { .. } => "nanstd",
            GroupFunc::Min => "min",
            GroupFunc::Max => "max",
            GroupFunc::NanMin => "nanmin",
            GroupFunc::NanMax => "nanmax",
            GroupFunc::Count => "count",
            GroupFunc::First => "first",
            GroupFunc::Last => "last",
            GroupFunc::NanFirst => "nanfirst",
            GroupFunc::NanLast => "nanlast",
            GroupFunc::ArgMin => "argmin",
            GroupFunc::ArgMax => "argmax",
            GroupFunc::NanArgMin => "nanargmin",
            GroupFunc::NanArgMax => "nanargmax",
        }
    }

    /// The reducer of this reduction of elements of `T`.
    fn reducer<T: Numeric>(self) -> Arc<dyn ErasedReducer> {
        let name = self.name();
        let moments = |output, skip_nan| erase(Moments::<T>::new(output, skip_nan), name);
        match self {
            GroupFunc::Sum => visit_sum_reducer::<T, _>(false, EraseAs(name)),
            GroupFunc::NanSum => visit_sum_reducer::<T, _>(true, EraseAs(name)),
            GroupFunc::Prod => erase(Fold::<T, T::Sum>::new(true, false), name),
            GroupFunc::NanProd => erase(Fold::<T, T::Sum>::new(true, true), name),
            GroupFunc::Mean => erase(FloatSum::<T>::new(false, true), name),
            GroupFunc::NanMean => erase(FloatSum::<T>::new(true, true), name),
            GroupFunc::Var { ddof } => moments(MomentOutput::Variance { ddof }, false),
            GroupFunc::NanVar { ddof } => moments(MomentOutput::Variance { ddof }, true),
            GroupFunc::Std { ddof } => moments(MomentOutput::StdDev { ddof }, false),
            GroupFunc::NanStd { ddof } => moments(MomentOutput::StdDev { ddof }, true),
            GroupFunc::Min => erase(MinMax::<T>::new(Extreme::Min, false), name),
            GroupFunc::Max => erase(MinMax::<T>::new(Extreme::Max, false), name),
            GroupFunc::NanMin => erase(MinMax::<T>::new(Extreme::Min, true), name),
            GroupFunc::NanMax => erase(MinMax::<T>::new(Extreme::Max, true), name),
            GroupFunc::Count => erase(Count::<T>::new(Counted::NotNan), name),
            GroupFunc::First => erase(Edge::<T>::new(End::First, false), name),
            GroupFunc::Last => erase(Edge::<T>::new(End::Last, false), name),
            GroupFunc::NanFirst => erase(Edge::<T>::new(End::First, true), name),
            GroupFunc::NanLast => erase(Edge::<T>::new(End::Last, true), name),
            GroupFunc::ArgMin => erase(ArgMinMax::<T>::new(Extreme::Min, false), name),
            GroupFunc::ArgMax => erase(ArgMinMax::<T>::new(Extreme::Max, false), name),
            GroupFunc::NanArgMin => erase(ArgMinMax::<T>::new(Extreme::Min, true), name),
            GroupFunc::NanArgMax => erase(ArgMinMax::<T>::new(Extreme::Max, true), name),
        }
    }
}

/// An array grouped along one axis by labels, ready to be reduced group by group: made by
/// [`Array::groupby`], [`Array::groupby_expected`] or [`Array::groupby_runs`]. Each
/// reduction gives an array whose grouped axis has one element per group, in the order of
/// [`GroupBy::groups`], chunked by groups as [`GroupMethod`] decides.
///
/// The monthly climatology of daily data, with the mean and standard deviation folded in
/// one pass:
///
/// ```
/// use chunkwise::GroupFunc;
/// let days = 730;
/// let x = chunkwise::random::uniform::<f64>(7, 0.0, 1.0, &[days, 4, 5], [73, 4, 5])?;
/// let month: Vec<usize> = (0..days).map(|d| d % 365 * 12 / 365).collect();
/// let by_month = x.groupby(0, &month)?;
/// assert_eq!(by_month.groups(), &(0..12).collect::<Vec<_>>()[..]);
/// let stats = by_month.aggregate(&[GroupFunc::Mean, GroupFunc::Std { ddof: 0.0 }]);
/// let mean = stats[0].compute()?;
/// assert_eq!(mean.shape(), &[12, 4, 5]);
/// // January is days 0..31 of each year.
/// let dense = x.compute()?;
/// let january: f64 = (0..days).filter(|d| d % 365 < 31).map(|d| dense[[d, 0, 0]]).sum::<f64>() / 62.0;
/// assert!((mean[[0, 0, 0]] - january).abs() < 1e-12);
/// # Ok::<(), chunkwise::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct GroupBy<T: Element, L> {
    array: Array<T>,
    groups: Vec<L>,
    grouping: Grouping,
    /// Elements along the axis per group.
    counts: Vec<usize>,
}

/// Grouping along an axis.
impl<T: Numeric> Array<T> {
    /// Groups the elements along `axis` by `labels` (one per element of the axis): the
    /// groups are the distinct labels, in ascending order (flox's and xarray's default).
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[1.0, 2.0, 3.0, 4.0, 5.0]), [2])?;
    /// let sums = x.groupby(0, &["b", "a", "b", "a", "c"])?.sum();
    /// assert_eq!(sums.compute()?.into_raw_vec_and_offset().0, vec![6.0, 4.0, 5.0]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn groupby<L: Ord + Clone>(&self, axis: isize, labels: &[L]) -> Result<GroupBy<T, L>> {
        let mut groups = labels.to_vec();
        groups.sort();
        groups.dedup();
        self.groupby_expected(axis, labels, &groups)
    }

    /// Groups the elements along `axis` by `labels` into the groups `expected`, in that
    /// order (flox's `expected_groups`): an expected group that no label names gives the
    /// reduction of nothing (0 for a sum, NaN for a mean or a minimum), and elements whose
    /// label is not expected are left out.
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[1.0f64, 2.0, 3.0, 4.0]), [2])?;
    /// let by = x.groupby_expected(0, &[3, 1, 3, 9], &[1, 2, 3])?;
    /// let counts = by.count().compute()?;
    /// assert_eq!(counts.into_raw_vec_and_offset().0, vec![1, 0, 2]);
    /// let means = by.mean().compute()?;
    /// assert!(means[1].is_nan());
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn groupby_expected<L: Ord + Clone>(
        &self,
        axis: isize,
        labels: &[L],
        expected: &[L],
    ) -> Result<GroupBy<T, L>> {
        let mut sorted: Vec<(&L, usize)> = expected.iter().zip(0..).collect();
        sorted.sort();
        if sorted.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(invalid("expected groups must be distinct"));
        }
        let codes =
            labels.iter().map(
                |label| match sorted.binary_search_by(|(g, _)| (*g).cmp(label)) {
                    Ok(k) => sorted[k].1 as u32,
                    Err(_) => NO_GROUP,
                },
            );
        self.grouped_by(axis, codes.collect(), labels.len(), expected.to_vec())
    }

    /// Groups consecutive runs of equal labels along `axis`, as a resampling does: each run
    /// is a group of its own, even where a label comes back later. The groups are the
    /// runs' labels, in order.
    ///
    /// ```
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[1.0, 2.0, 3.0, 4.0, 5.0]), [2])?;
    /// let by = x.groupby_runs(0, &["jan", "jan", "feb", "jan", "jan"])?;
    /// assert_eq!(by.groups(), &["jan", "feb", "jan"]);
    /// assert_eq!(by.sum().compute()?.into_raw_vec_and_offset().0, vec![3.0, 3.0, 9.0]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn groupby_runs<L: PartialEq + Clone>(
        &self,
        axis: isize,
        labels: &[L],
    ) -> Result<GroupBy<T, L>> {
        let mut groups: Vec<L> = Vec::new();
        let mut codes = Vec::with_capacity(labels.len());
        for (i, label) in labels.iter().enumerate() {
            if i == 0 || labels[i - 1] != *label {
                groups.push(label.clone());
            }
            codes.push((groups.len() - 1) as u32);
        }
        self.grouped_by(axis, codes, labels.len(), groups)
    }

    /// The grouping of `axis` by `codes` (of `nlabels` labels) into `groups`.
    fn grouped_by<L>(
        &self,
        axis: isize,
        codes: Vec<u32>,
        nlabels: usize,
        groups: Vec<L>,
    ) -> Result<GroupBy<T, L>> {
        self.check()?;
        let axis = normalize_axis(axis, self.ndim())?;
        let len = self.shape()[axis];
        if nlabels != len {
            return Err(invalid(&format!(
                "{nlabels} labels for an axis of {len} elements"
            )));
        }
        if groups.len() >= NO_GROUP as usize {
            return Err(invalid("more groups than a u32 can number"));
        }
        let mut counts = vec![0; groups.len()];
        for &c in codes.iter().filter(|&&c| c != NO_GROUP) {
            counts[c as usize] += 1;
        }
        Ok(GroupBy {
            array: self.clone(),
            grouping: Grouping {
                axis,
                codes: codes.into(),
                ngroups: groups.len(),
                method: GroupMethod::Auto,
                split_every: DEFAULT_SPLIT_EVERY,
            },
            groups,
            counts,
        })
    }
}

fn invalid(reason: &str) -> Error {
    Error::Build(BuildError::InvalidArgument {
        op: "groupby".into(),
        reason: reason.into(),
    })
}

impl<T: Element, L> GroupBy<T, L> {
    /// The groups, in the order of the group axis of every result.
    pub fn groups(&self) -> &[L] {
        &self.groups
    }

    /// The grouped axis.
    pub fn axis(&self) -> usize {
        self.grouping.axis
    }

    /// Chooses how the groups are gathered (see [`GroupMethod`]; the result is the same).
    pub fn method(mut self, method: GroupMethod) -> Self {
        self.grouping.method = method;
        self
    }

    /// Fan-in of the combine tree (at least 2; Dask's default 16).
    pub fn split_every(mut self, n: usize) -> Self {
        self.grouping.split_every = n;
        self
    }
}

/// Defines one method per grouped reduction: its name, its result's element type, and the
/// [`GroupFunc`] that computes it.
macro_rules! group_methods {
    ($($(#[$doc:meta])* $name:ident -> $out:ty = $func:expr;)*) => {
        /// Reductions of each group.
        impl<T: Numeric, L> GroupBy<T, L> {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> Array<$out> {
                    Array::from_node(self.reduced(&[$func]).remove(0))
                }
            )*
        }
    };
    ($($(#[$doc:meta])* $name:ident(ddof) -> $out:ty = $func:ident;)*) => {
        /// Moments of each group.
        impl<T: Numeric, L> GroupBy<T, L> {
            $(
                $(#[$doc])*
                pub fn $name(&self, ddof: f64) -> Array<$out> {
                    Array::from_node(self.reduced(&[GroupFunc::$func { ddof }]).remove(0))
                }
            )*
        }
    };
}

group_methods! {
    /// Sum of each group, in [`Element::Sum`] as [`Array::sum`].
    sum -> T::Sum = GroupFunc::Sum;
    /// Sum of each group ignoring NaN.
    nansum -> T::Sum = GroupFunc::NanSum;
    /// Product of each group, in [`Element::Sum`] as [`Array::prod`].
    prod -> T::Sum = GroupFunc::Prod;
    /// Product of each group ignoring NaN.
    nanprod -> T::Sum = GroupFunc::NanProd;
    /// Mean of each group (NaN for an empty group).
    mean -> T::Real = GroupFunc::Mean;
    /// Mean of each group ignoring NaN.
    nanmean -> T::Real = GroupFunc::NanMean;
    /// Minimum of each group (NaN propagates; NaN for an empty group of floats).
    min -> T = GroupFunc::Min;
    /// Maximum of each group.
    max -> T = GroupFunc::Max;
    /// Minimum of each group ignoring NaN.
    nanmin -> T = GroupFunc::NanMin;
    /// Maximum of each group ignoring NaN.
    nanmax -> T = GroupFunc::NanMax;
    /// Number of values of each group that are not NaN.
    count -> u64 = GroupFunc::Count;
    /// The value at each group's first position along the axis.
    first -> T = GroupFunc::First;
    /// The value at each group's last position along the axis.
    last -> T = GroupFunc::Last;
    /// Each group's first value that is not NaN (NaN where there is none).
    nanfirst -> T = GroupFunc::NanFirst;
    /// Each group's last value that is not NaN.
    nanlast -> T = GroupFunc::NanLast;
    /// Index along the axis (of the whole array) of each group's first minimum.
    argmin -> u64 = GroupFunc::ArgMin;
    /// Index along the axis of each group's first maximum.
    argmax -> u64 = GroupFunc::ArgMax;
    /// [`GroupBy::argmin`] ignoring NaN (a group of NaN only fails to compute, as
    /// [`Array::nanargmin`]).
    nanargmin -> u64 = GroupFunc::NanArgMin;
    /// [`GroupBy::argmax`] ignoring NaN.
    nanargmax -> u64 = GroupFunc::NanArgMax;
}

group_methods! {
    /// Variance of each group with `ddof` delta degrees of freedom.
    var(ddof) -> T::Real = Var;
    /// Standard deviation of each group.
    std(ddof) -> T::Real = Std;
    /// Variance of each group ignoring NaN.
    nanvar(ddof) -> T::Real = NanVar;
    /// Standard deviation of each group ignoring NaN.
    nanstd(ddof) -> T::Real = NanStd;
}

impl<T: Numeric, L> GroupBy<T, L> {
    /// Several reductions of the groups computed in one pass over the array, each as f64
    /// (flox's `func=[...]`): every tile is folded once into the states of all of them, and
    /// results that others' states hold (a mean beside a variance) are finished from
    /// those.
    pub fn aggregate(&self, funcs: &[GroupFunc]) -> Vec<Array<f64>> {
        self.reduced(funcs)
            .into_iter()
            .map(super::cast_node::<f64>)
            .collect()
    }

    /// The result node of each of `funcs`, folded together.
    fn reduced(&self, funcs: &[GroupFunc]) -> Vec<Arc<Node>> {
        let reducers: Vec<Arc<dyn ErasedReducer>> =
            funcs.iter().map(|f| f.reducer::<T>()).collect();
        match self.try_reduced(&reducers) {
            Ok(nodes) => nodes,
            Err(e) => reducers
                .iter()
                .map(|r| Node::invalid(e.clone(), r.out_dtype()))
                .collect(),
        }
    }

    fn try_reduced(&self, reducers: &[Arc<dyn ErasedReducer>]) -> Result<Vec<Arc<Node>>> {
        self.array.check()?;
        if let Some(empty) = self.counts.iter().position(|&n| n == 0) {
            let no_fill = reducers
                .iter()
                .find(|r| !r.has_identity() && !matches!(r.out_dtype(), DType::F32 | DType::F64));
            if let Some(r) = no_fill {
                return Err(Error::Build(BuildError::InvalidArgument {
                    op: format!("groupby {}", r.name()),
                    reason: format!(
                        "group {empty} has no element, and {} of nothing has no value in {}",
                        r.name(),
                        r.out_dtype()
                    ),
                }));
            }
        }
        let finishes: Vec<GroupFinish> = match reducers {
            [one] => vec![GroupFinish {
                finisher: Arc::clone(one),
                folder: Arc::clone(one),
                part: None,
            }],
            _ => {
                let several = Several::new(reducers.to_vec());
                let finishers: Vec<_> = (0..reducers.len()).map(|k| several.part(k)).collect();
                let folder: Arc<dyn ErasedReducer> = Arc::new(several);
                finishers
                    .into_iter()
                    .enumerate()
                    .map(|(k, finisher)| GroupFinish {
                        finisher,
                        folder: Arc::clone(&folder),
                        part: Some(k),
                    })
                    .collect()
            }
        };
        let input = &self.array.node;
        let folder = Arc::clone(&finishes[0].folder);
        let (states, layout) = group_states(input, &self.grouping, folder)?;
        Ok(finishes
            .into_iter()
            .map(|finish| finish_groups(input, &states, &layout, self.grouping.axis, finish))
            .collect())
    }
}

/// Quantiles of each group: each group's rows are gathered ([`Array::take`]) and its lanes
/// selected as [`Array::quantile`] does (the axis made whole inside the plan), one branch
/// of the plan per group, so these suit tens to hundreds of groups rather than many
/// thousands. A group with no element gives NaN.
impl<T: Numeric, L> GroupBy<T, L> {
    /// The quantile `q` (in [0, 1]) of each group by `method` (NaN where a lane holds
    /// NaN).
    ///
    /// ```
    /// use chunkwise::QuantileMethod;
    /// let x = chunkwise::from_ndarray(&ndarray::arr1(&[1.0f64, 9.0, 3.0, 7.0, 5.0]), [2])?;
    /// let by = x.groupby(0, &[0, 1, 0, 1, 0])?;
    /// let q = by.quantile(0.5, QuantileMethod::Linear).compute()?;
    /// assert_eq!(q.into_raw_vec_and_offset().0, vec![3.0, 8.0]);
    /// # Ok::<(), chunkwise::Error>(())
    /// ```
    pub fn quantile(&self, q: f64, method: QuantileMethod) -> Array<T::Real> {
        self.quantile_by(q, method, false)
    }

    /// [`GroupBy::quantile`] leaving NaN out (NaN where a group's lane is all NaN).
    pub fn nanquantile(&self, q: f64, method: QuantileMethod) -> Array<T::Real> {
        self.quantile_by(q, method, true)
    }

    /// The median of each group.
    pub fn median(&self) -> Array<T::Real> {
        self.quantile(0.5, QuantileMethod::Linear)
    }

    /// The median of each group leaving NaN out.
    pub fn nanmedian(&self) -> Array<T::Real> {
        self.nanquantile(0.5, QuantileMethod::Linear)
    }

    fn quantile_by(&self, q: f64, method: QuantileMethod, skip_nan: bool) -> Array<T::Real> {
        self.try_quantile(q, method, skip_nan)
            .unwrap_or_else(|e| Array::from_node(Node::invalid(e, <T::Real as Element>::DTYPE)))
    }

    fn try_quantile(
        &self,
        q: f64,
        method: QuantileMethod,
        skip_nan: bool,
    ) -> Result<Array<T::Real>> {
        // Checked here too: with every group empty, no group's quantile would check it.
        check_quantile(q)?;
        let axis = self.grouping.axis;
        let mut rows: Vec<Vec<i64>> = vec![Vec::new(); self.grouping.ngroups];
        for (i, &code) in self.grouping.codes.iter().enumerate() {
            if code != NO_GROUP {
                rows[code as usize].push(i as i64);
            }
        }
        let how = Reduction::axis(axis as isize).keepdims(true);
        let mut chunks = self.array.chunks().chunks();
        chunks[axis] = vec![1];
        let mut shape = self.array.shape();
        shape[axis] = 1;
        let nan = <T::Real as Element>::from_scalar(Scalar::Float(f64::NAN));
        let parts = rows
            .into_iter()
            .map(|rows| match rows.is_empty() {
                true => crate::full(&shape, nan, Chunks::Sizes(chunks.clone())),
                false => {
                    let group = self.array.take(rows, axis as isize)?;
                    Ok(match skip_nan {
                        true => group.nanquantile(q, &how, method),
                        false => group.quantile(q, &how, method),
                    })
                }
            })
            .collect::<Result<Vec<_>>>()?;
        if parts.is_empty() {
            shape[axis] = 0;
            chunks[axis] = vec![0];
            return crate::full(&shape, nan, Chunks::Sizes(chunks));
        }
        let joined = concatenate(&parts.iter().collect::<Vec<_>>(), axis as isize)?;
        // The group axis chunked as the other grouped reductions chunk it.
        let size = <T::Real as Element>::DTYPE.size();
        let per_tile = groups_per_tile(&self.array.node, axis, size);
        chunks[axis] = AxisChunks::regular(parts.len(), per_tile).sizes();
        joined.rechunk(Chunks::Sizes(chunks))
    }
}

//! The commands: each opens its input lazily, builds the operation on it and streams the
//! result into a new Zarr array, tile by tile, within the memory budget.

use chunkwise::io::zarr::{
    self, AnyArray, Compression, Dataset, GroupOptions, WriteMode, WriteOptions, ZarrVersion,
};
use chunkwise::{Array, Config, DType, Reduction, Report, StorageError};
use ndarray::SliceInfoElem;
use serde_json::Value as Json;

use crate::location::Location;

/// A failure of a command, as the user should read it.
pub(crate) type Failure = Box<dyn std::error::Error>;

/// Options every writing command shares.
#[derive(Clone, Debug, Default)]
pub(crate) struct Output {
    /// Replace an existing array at the output path, and the coordinates of its group
    /// that disagree with the output if they label nothing else.
    pub(crate) overwrite: bool,
    /// Worker threads (all cores when `None`).
    pub(crate) threads: Option<usize>,
    /// Show a progress bar.
    pub(crate) progress: bool,
    /// When the command ran and its command line: the line it adds to the output's
    /// `history` attribute.
    pub(crate) history: String,
}

impl Output {
    fn config(&self) -> Config {
        // `--progress` turns the bar on; `CHUNKWISE_PROGRESS` may have turned it on already.
        let config = Config::default();
        let progress = self.progress || config.progress;
        let config = config.progress(progress);
        match self.threads {
            Some(n) => config.threads(n),
            None => config,
        }
    }

    /// Write options for an output with dimensions `dims`, the input's attributes and its
    /// Zarr version and compression.
    fn options(&self, input: &AnyArray, dims: Vec<String>) -> Result<WriteOptions, Failure> {
        let mode = match self.overwrite {
            true => WriteMode::Overwrite,
            false => WriteMode::Create,
        };
        let format = input.format();
        let mut options = WriteOptions::default()
            .mode(mode)
            .config(self.config())
            .version(format.version)
            .dimension_names(dims);
        if let Some(compression) = format.compression {
            options = options.compression(compression);
        }
        options.attributes.extend(kept_attributes(input)?);
        // The newest line first, as CDO and NCO write it.
        let history = match input.attributes().get("history").and_then(Json::as_str) {
            Some(before) => format!("{}\n{before}", self.history),
            None => self.history.clone(),
        };
        Ok(options.attribute("history", history))
    }

    /// [`Output::options`] for a rewrite of `input`'s stored values: its storage format
    /// (chunks, shards, fill value) too.
    fn rewrite_options(&self, input: &AnyArray) -> Result<WriteOptions, Failure> {
        Ok(self
            .options(input, dims(input))?
            .keep_format(input.format()))
    }

    /// [`Output::options`] for f64 values decoded from `input`: without its packing
    /// attributes, NaN (missing) as the fill value, in the input's storage chunks along
    /// the axes it keeps (all but `reduced`).
    fn decoded_options(
        &self,
        input: &AnyArray,
        reduced: Option<usize>,
    ) -> Result<WriteOptions, Failure> {
        let mut names = dims(input);
        let mut chunks = input.format().chunks.clone();
        if let Some(axis) = reduced {
            names.remove(axis);
            chunks.remove(axis);
        }
        let mut options = self
            .options(input, names)?
            .fill_value(f64::NAN)
            .chunks(chunks);
        options
            .attributes
            .retain(|key, _| !PACKING.contains(&key.as_str()) && !RANGES.contains(&key.as_str()));
        Ok(options)
    }
}

/// `input`'s attributes but those the writer writes itself: the fill value (from the
/// options' fill value), the dimension names, and `history` (which a command extends).
/// Each is copied as stored (a bare `NaN` stays a float for the readers of the output).
fn kept_attributes(input: &AnyArray) -> Result<serde_json::Map<String, Json>, Failure> {
    let mut attributes = input.attributes_to_copy()?;
    attributes
        .retain(|key, _| !["history", "_ARRAY_DIMENSIONS", "_FillValue"].contains(&key.as_str()));
    Ok(attributes)
}

/// The attributes that say how a variable is packed: decoded values drop them.
const PACKING: [&str; 5] = [
    "scale_factor",
    "add_offset",
    "_FillValue",
    "missing_value",
    "_Unsigned",
];

/// The attributes that bound the input's values (in its packed units, where it is
/// packed): a statistic or an anomaly of them has other bounds, and a reader that masks
/// values outside them (CDO, netCDF) would mask good ones, so decoded values drop them.
const RANGES: [&str; 4] = ["valid_min", "valid_max", "valid_range", "actual_range"];

/// The input's dimension names, with `axis<k>` for unnamed ones.
fn dims(input: &AnyArray) -> Vec<String> {
    let named = input.dimension_names().unwrap_or(&[]);
    (0..input.shape().len())
        .map(|k| match named.get(k) {
            Some(Some(name)) => name.clone(),
            _ => format!("axis{k}"),
        })
        .collect()
}

/// The axis that `dim` names: a dimension name, or an axis number.
fn axis_of(input: &AnyArray, dim: &str) -> Result<usize, Failure> {
    let names = dims(input);
    if let Some(axis) = names.iter().position(|n| n == dim) {
        return Ok(axis);
    }
    let ndim = input.shape().len() as isize;
    if ndim == 0 {
        return Err(format!("the array is 0-dimensional: it has no dimension {dim:?}").into());
    }
    match dim.parse::<isize>() {
        Ok(axis) if (-ndim..ndim).contains(&axis) => Ok(axis.rem_euclid(ndim) as usize),
        _ => Err(format!(
            "no dimension {dim:?}; the dimensions are {}",
            names.join(", ")
        )
        .into()),
    }
}

/// A description of the array or group at `location`: a line per array (dtype, shape,
/// chunks, dimensions) and its attributes, groups with everything below them.
pub(crate) fn info(location: &Location) -> Result<String, Failure> {
    let array_error = match location.open() {
        Ok(array) => return Ok(describe(&location.path, &array)),
        Err(e) => e,
    };
    let group = zarr::open_group(&location.store, &location.path).map_err(|group_error| {
        format!("{location}: not an array ({array_error}), nor a group ({group_error})")
    })?;
    let mut out = String::new();
    describe_group(&group, &mut out)?;
    Ok(out)
}

/// Appends the description of `group`, its arrays and its groups, depth first.
fn describe_group(group: &zarr::Group, out: &mut String) -> Result<(), Failure> {
    out.push_str(&format!("{} (group)\n", group.path()));
    out.push_str(&attributes(group.attributes_to_copy(), group.attributes()));
    let below = |name: &str| match group.path() {
        "/" => format!("/{name}"),
        p => format!("{p}/{name}"),
    };
    // A node chunkwise cannot read (a data type or codec it does not support) is listed
    // with the reason, and the others are still described.
    for name in group.arrays() {
        match group.array(name) {
            Ok(array) => out.push_str(&describe(&below(name), &array)),
            Err(e) => out.push_str(&format!("{}  (not readable: {e})\n", below(name))),
        }
    }
    for name in group.groups() {
        match group.group(name) {
            Ok(child) => describe_group(&child, out)?,
            Err(e) => out.push_str(&format!("{} (group, not readable: {e})\n", below(name))),
        }
    }
    Ok(())
}

fn describe(path: &str, array: &AnyArray) -> String {
    let format = array.format();
    let shards = match &format.shards {
        Some(shards) => format!("  shards {shards:?}"),
        None => String::new(),
    };
    let compression = match format.compression {
        Some(c) => format!("{c:?}"),
        None => "other codecs".into(),
    };
    format!(
        "{path}  {}  shape {:?}  chunks {:?}{shards}  dims [{}]  v{}  {compression}\n{}",
        array.dtype(),
        array.shape(),
        format.chunks,
        dims(array).join(", "),
        match format.version {
            ZarrVersion::V2 => 2,
            ZarrVersion::V3 => 3,
        },
        attributes(array.attributes_to_copy(), array.attributes())
    )
}

/// A line per attribute, each value as it is stored (zarr-python's bare `NaN` apart from
/// the string `"NaN"`, integers beyond 64 bits exact): from `exact`, the attributes to copy,
/// or where their metadata could not be read again, from `read` (as JSON values).
fn attributes(
    exact: chunkwise::Result<serde_json::Map<String, Json>>,
    read: &serde_json::Map<String, Json>,
) -> String {
    let map = exact.unwrap_or_else(|_| read.clone());
    map.iter()
        .filter(|(key, _)| key.as_str() != "_ARRAY_DIMENSIONS")
        .map(|(key, value)| format!("    {key}: {}\n", zarr::attribute_text(value)))
        .collect()
}

/// The reductions `reduce` offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Op {
    /// Arithmetic mean.
    Mean,
    /// Standard deviation (population, ddof 0).
    Std,
    /// Minimum.
    Min,
    /// Maximum.
    Max,
    /// Sum.
    Sum,
    /// Median.
    Median,
}

/// `op` over `axis`, skipping missing values (NaN), as xarray and CDO do.
fn reduced(x: &Array<f64>, op: Op, axis: usize) -> Array<f64> {
    let how = Reduction::axis(axis as isize);
    match op {
        Op::Mean => x.nanmean_with(&how),
        Op::Std => x.nanstd_with(&how, 0.0),
        Op::Min => x.nanmin_with(&how),
        Op::Max => x.nanmax_with(&how),
        Op::Sum => x.nansum_with(&how),
        Op::Median => x.nanmedian_with(&how),
    }
}

/// `op` over dimension `dim` of `input`'s physical values (decoded as xarray decodes CF
/// variables: packed values unpacked, fill and missing values NaN and skipped), as f64,
/// written to `output`.
pub(crate) fn reduce(
    op: Op,
    dim: &str,
    input: &Location,
    output: &Location,
    how: &Output,
) -> Result<Report, Failure> {
    let x = input.open()?;
    let axis = axis_of(&x, dim)?;
    let result = reduced(&x.decode_cf::<f64>()?, op, axis);
    let options = how.decoded_options(&x, Some(axis))?;
    let written = Written::new(input, output, how);
    written.store(Values::Decoded(result), options, None)
}

/// The anomaly of `input`'s physical values (decoded as in [`reduce`]) from their mean
/// over `dim` (missing values skipped), as f64.
pub(crate) fn anomaly(
    dim: &str,
    input: &Location,
    output: &Location,
    how: &Output,
) -> Result<Report, Failure> {
    let x = input.open()?;
    let axis = axis_of(&x, dim)?;
    let values = x.decode_cf::<f64>()?;
    let mean = values.nanmean_with(&Reduction::axis(axis as isize).keepdims(true));
    let result = &values - &mean;
    let options = how.decoded_options(&x, None)?;
    let written = Written::new(input, output, how);
    written.store(Values::Decoded(result), options, None)
}

/// The values a command writes: physical values decoded as f64, or stored values in their
/// own element type.
enum Values {
    Decoded(Array<f64>),
    Stored(Box<AnyArray>),
}

/// The output of a command written with coordinates: the array, and beside it (in the
/// output's group) the input's coordinates of its dimensions that the group lacks, as
/// xarray finds coordinates (1-D arrays named as their dimension, in the input's group,
/// and those its CF `coordinates` attribute names). Coordinates the group has must agree
/// with the output's, or be replaced by `--overwrite` where they label nothing else; an
/// output that would relabel another array of the group is refused before anything is
/// written.
struct Written<'a> {
    input: &'a Location,
    output: &'a Location,
    how: &'a Output,
}

impl<'a> Written<'a> {
    fn new(input: &'a Location, output: &'a Location, how: &'a Output) -> Self {
        Written { input, output, how }
    }

    /// Writes `values` with `options`, and the coordinates of its dimensions (see
    /// [`Written`]); `sliced` is the dimension that the output took a slice of, and the
    /// slice. An output at the root of its store is an array alone (a store's root cannot
    /// hold coordinates too).
    fn store(
        &self,
        values: Values,
        options: WriteOptions,
        sliced: Option<(&str, SliceInfoElem)>,
    ) -> Result<Report, Failure> {
        let (store, path) = (&self.output.store, self.output.path.as_str());
        let (parent, name) = split_node(path);
        if name.is_empty() {
            return Ok(match values {
                Values::Decoded(x) => x.to_zarr(store, path, &options)?,
                Values::Stored(x) => x.to_zarr(store, path, &options)?,
            });
        }
        let dims = options.dimension_names.clone().unwrap_or_default();
        // xarray takes an array named as one of its dimensions for that dimension's
        // coordinate (unless it is 1-D): its values would label the others.
        if dims.iter().any(|d| d == name) && dims != [name] {
            return Err(format!(
                "the output '{name}' would be named as one of its dimensions ({}), which \
                 xarray takes for that dimension's coordinate: name it otherwise",
                dims.join(", ")
            )
            .into());
        }
        // A new group takes the version of the group it goes in, whose readers would not
        // list it otherwise (`convert` refuses an explicit other version).
        let version = group_of_output(self.output).map_or(options.version, |(_, v)| v);
        let (coordinates, carried) = self.coordinates(&dims, &sliced)?;
        let mut options = options;
        // The CF `coordinates` attribute names only the auxiliary coordinates carried.
        if let Some(carried) = carried {
            match carried.is_empty() {
                true => options.attributes.remove("coordinates"),
                false => options
                    .attributes
                    .insert("coordinates".into(), Json::from(carried.join(" "))),
            };
        }
        let shape = match &values {
            Values::Decoded(x) => x.shape(),
            Values::Stored(x) => x.shape(),
        };
        let dataset = Dataset::new().config(self.how.config());
        let mut dataset = match &values {
            Values::Decoded(x) => dataset.array(name, x, options),
            Values::Stored(x) => dataset.any_array(name, x, options),
        };
        let at = |node: &str| format!("{store}{}/{node}", parent.trim_end_matches('/'));
        let opened = zarr::open_group(store, parent);
        let mut sorted = Sorted::default();
        if let Ok(group) = &opened {
            let index_shapes = dims.iter().zip(&shape).map(|(d, &n)| (d.clone(), vec![n]));
            let aux_shapes = coordinates
                .iter()
                .filter(|c| !dims.contains(&c.name))
                .map(|c| (c.name.clone(), c.values.shape()));
            let shapes: Vec<_> = index_shapes.chain(aux_shapes).collect();
            sorted = sort_coordinates(group, name, &shapes, &coordinates, self.how.overwrite, at)?;
            refuse_relabelling(group, (name, &at(name)), &sorted, &coordinates)?;
        }
        for coord in coordinates {
            if coord.name == name || sorted.present.contains(&coord.name) {
                continue;
            }
            let mode = match sorted.replaced.iter().any(|(r, _)| *r == coord.name) {
                true => WriteMode::Overwrite,
                false => WriteMode::Create,
            };
            let mut options = WriteOptions::default()
                .keep_format(coord.values.format())
                .mode(mode);
            options.attributes = kept_attributes(&coord.values)?;
            let options = options.dimension_names(coord.dims.iter().map(String::as_str));
            dataset = dataset.any_array(&coord.name, &coord.values, options);
        }
        store_in_group(store, parent, opened, &dataset, version)
    }

    /// The input's coordinates that go beside an output of dimensions `dims`, sliced as
    /// the output is: the 1-D arrays of the input's group named as one of `dims` (xarray's
    /// index coordinates), and the auxiliary coordinates its CF `coordinates` attribute
    /// names whose dimensions are all among `dims` (2-D `lat` and `lon` of a curvilinear
    /// grid, a scalar `height`). With them, the names of the auxiliary coordinates carried,
    /// if the input has a `coordinates` attribute. None of either if the input's group
    /// cannot be opened (with a warning), or the input is a store's root.
    fn coordinates(
        &self,
        dims: &[String],
        sliced: &Option<(&str, SliceInfoElem)>,
    ) -> Result<(Vec<Coordinate>, Option<Vec<String>>), Failure> {
        let (parent, input_name) = split_node(&self.input.path);
        let group = match zarr::open_group(&self.input.store, parent) {
            Ok(group) => group,
            // None carried: the output's `coordinates` attribute names none.
            Err(e) => {
                if !input_name.is_empty() {
                    eprintln!(
                        "chunkwise: warning: no coordinates are written beside the output: \
                         the input's group cannot be opened ({e})"
                    );
                }
                return Ok((Vec::new(), Some(Vec::new())));
            }
        };
        let input = self.input.open()?;
        let auxiliary: Option<Vec<String>> =
            input.attributes().contains_key("coordinates").then(|| {
                cf_coordinates(input.attributes())
                    .into_iter()
                    .map(String::from)
                    .collect()
            });
        // A coordinate that cannot be read (a string type) is not carried: said, not silent.
        let readable = |name: &String| match group.array(name) {
            Ok(array) => Some(array),
            Err(e) => {
                if group.arrays().contains(name) {
                    eprintln!(
                        "chunkwise: warning: the coordinate '{name}' is not written beside the \
                         output ({e})"
                    );
                }
                None
            }
        };
        let index = dims.iter().filter_map(|dim| {
            let array = readable(dim)?;
            let own = dims_of(&array);
            (array.shape().len() == 1 && own.first().is_none_or(|d| d == dim))
                .then(|| (dim.clone(), array, vec![dim.clone()]))
        });
        let aux = auxiliary
            .iter()
            .flatten()
            .filter(|name| !dims.contains(name))
            // Unreadable ones are mentioned only where they would label the output.
            .filter(|name| match group.dimension_names(name) {
                Ok(Some(own)) => own
                    .iter()
                    .all(|d| d.as_ref().is_some_and(|d| dims.contains(d))),
                _ => true,
            })
            .filter_map(|name| {
                let array = readable(name)?;
                let own = dims_of(&array);
                (own.len() == array.shape().len() && own.iter().all(|d| dims.contains(d)))
                    .then(|| (name.clone(), array, own))
            });
        let mut coordinates = Vec::new();
        let listed = |name: &String| group.arrays().contains(name);
        for (name, values, own) in index.chain(aux).filter(|(name, _, _)| listed(name)) {
            let values = match sliced {
                Some((along, range)) if own.iter().any(|d| d == along) => {
                    let info: Vec<SliceInfoElem> = own
                        .iter()
                        .map(|d| {
                            if d == along {
                                *range
                            } else {
                                SliceInfoElem::from(..)
                            }
                        })
                        .collect();
                    values.slice(info)?
                }
                _ => values,
            };
            coordinates.push(Coordinate {
                name,
                values,
                dims: own,
            });
        }
        let (_, output) = split_node(&self.output.path);
        let carried = auxiliary.map(|names| {
            names
                .into_iter()
                .filter(|n| n != output && coordinates.iter().any(|c| c.name == *n))
                .collect()
        });
        Ok((coordinates, carried))
    }
}

/// Stores `dataset` in the group at `parent` of `store` (`opened`, if it could be
/// opened), or, where there is none, as a new group of `version` with its arrays, in one
/// step: a refused output writes nothing, not even the group.
fn store_in_group(
    store: &str,
    parent: &str,
    opened: chunkwise::Result<zarr::Group>,
    dataset: &Dataset,
    version: ZarrVersion,
) -> Result<Report, Failure> {
    match opened {
        Ok(group) => Ok(group.store(dataset)?),
        Err(_) if zarr::open(store, parent).is_ok() => {
            Err(format!("{store}{parent} is an array: an output cannot go in it").into())
        }
        Err(unopened) => {
            let options = GroupOptions::default().version(version);
            match dataset.to_zarr(store, parent, &options) {
                // Something is there that is not a group chunkwise can open: why not.
                Err(chunkwise::Error::Storage(StorageError::AlreadyExists { .. })) => {
                    Err(unopened.into())
                }
                written => Ok(written?),
            }
        }
    }
}

/// A coordinate that goes beside an output: its name, values and dimension names.
struct Coordinate {
    name: String,
    values: AnyArray,
    dims: Vec<String>,
}

/// The coordinates of an output already in its group: those that agree with the output
/// (kept as they are), and those that `--overwrite` replaces by the input's (each with why
/// it disagrees).
#[derive(Default)]
struct Sorted {
    present: Vec<String>,
    replaced: Vec<(String, String)>,
}

/// Sorts the output's coordinates of `shapes` (name and shape) that `group` has already
/// (see [`Sorted`]), or refuses the output: a coordinate that disagrees with it and that
/// `overwrite` does not allow replacing, or that the input does not have, or that cannot
/// be read. `at` names a node of the group in messages.
fn sort_coordinates(
    group: &zarr::Group,
    name: &str,
    shapes: &[(String, Vec<usize>)],
    coordinates: &[Coordinate],
    overwrite: bool,
    at: impl Fn(&str) -> String,
) -> Result<Sorted, Failure> {
    let mut sorted = Sorted::default();
    for (coord, shape) in shapes {
        if coord == name || !group.arrays().contains(coord) {
            continue;
        }
        let theirs = group.array(coord).map_err(|e| {
            format!(
                "{} cannot be read ({e}), and xarray may take it as the output's coordinate \
                 (write the output into another group)",
                at(coord)
            )
        })?;
        let ours = coordinates.iter().find(|c| c.name == *coord);
        let why = match agrees(&theirs, coord, shape, ours.map(|c| &c.values)) {
            Ok(()) => {
                sorted.present.push(coord.clone());
                continue;
            }
            Err(why) => format!("{} {why}", at(coord)),
        };
        match (overwrite, ours.is_some()) {
            (true, true) => sorted.replaced.push((coord.clone(), why)),
            (false, true) => {
                return Err(format!(
                    "{why} (write the output into another group, or replace the coordinate \
                     with --overwrite if it labels nothing else)"
                )
                .into());
            }
            (_, false) => {
                return Err(format!("{why} (write the output into another group)").into());
            }
        }
    }
    Ok(sorted)
}

/// Refuses an output that would relabel another array of its `group`, as xarray gives an
/// array every coordinate whose dimensions are all among its own, and those its CF
/// `coordinates` attribute names:
/// - the output `name` (`shown` in messages) must not be a coordinate of another array;
/// - a coordinate that `--overwrite` replaces must label no array but the output and its
///   coordinates (a scalar coordinate labels every array).
///
/// A coordinate new to the group that labels an array already there is written, with a
/// warning: that array had no labels of that name before.
fn refuse_relabelling(
    group: &zarr::Group,
    (name, shown): (&str, &str),
    sorted: &Sorted,
    coordinates: &[Coordinate],
) -> Result<(), Failure> {
    let ours = |array: &str| {
        array == name
            || sorted.present.iter().any(|p| p == array)
            || coordinates.iter().any(|c| c.name == array)
    };
    for other in group.arrays().iter().filter(|a| !ours(a)) {
        let (own, named): (Vec<String>, Vec<String>) = match group.array(other) {
            Ok(array) => {
                let named = cf_coordinates(array.attributes());
                (
                    dims_of(&array),
                    named.into_iter().map(String::from).collect(),
                )
            }
            // Its attributes are unknown: it may be labelled by what is replaced.
            Err(e) if !sorted.replaced.is_empty() => {
                return Err(format!(
                    "{}, and --overwrite does not replace it: the group's array '{other}' may \
                     use it, and cannot be read ({e})",
                    sorted.replaced[0].1
                )
                .into());
            }
            // Its dimensions, from its metadata alone (a string variable), tell whether the
            // output would label it.
            Err(_) => {
                let dims = group.dimension_names(other)?.unwrap_or_default();
                (dims.into_iter().flatten().collect(), Vec::new())
            }
        };
        // How `coord` of dimensions `dims` labels `other`, if it does.
        let labels = |coord: &str, dims: &[String]| -> Option<&str> {
            if named.iter().any(|n| n == coord) {
                Some("its coordinates attribute names it")
            } else if dims.is_empty() {
                Some("a scalar coordinate labels every array")
            } else {
                dims.iter()
                    .all(|d| own.contains(d))
                    .then_some("its dimensions are all the array's")
            }
        };
        if own.iter().chain(&named).any(|d| d == name) {
            return Err(format!(
                "{shown} would be a coordinate of the group's array '{other}' (write the \
                 output into another group, or under another name)"
            )
            .into());
        }
        for (coord, why) in &sorted.replaced {
            let old = dims_of(&group.array(coord)?);
            let new = coordinates.iter().find(|c| c.name == *coord);
            let how = labels(coord, &old).or_else(|| new.and_then(|c| labels(coord, &c.dims)));
            if let Some(how) = how {
                return Err(format!(
                    "{why}, and --overwrite does not replace it: it also labels the group's \
                     array '{other}' ({how}; write the output into another group)"
                )
                .into());
            }
        }
        let added = coordinates.iter().filter(|c| {
            c.name != name && !sorted.present.contains(&c.name) && !group.arrays().contains(&c.name)
        });
        for coord in added.filter(|c| labels(&c.name, &c.dims).is_some()) {
            eprintln!(
                "chunkwise: warning: the coordinate '{}' written beside the output also \
                 labels the group's array '{other}', which had none of that name",
                coord.name
            );
        }
    }
    Ok(())
}

/// The names a CF `coordinates` attribute lists (none if there is none).
fn cf_coordinates(attributes: &serde_json::Map<String, Json>) -> Vec<&str> {
    attributes
        .get("coordinates")
        .and_then(Json::as_str)
        .map_or_else(Vec::new, |names| names.split_whitespace().collect())
}

/// Why `theirs`, the array `coord` of the output's group, cannot be the coordinate `coord`
/// of the output, of `shape`, if it cannot: xarray takes it as the coordinate of every
/// array of the group with its dimensions, so it must have that shape and, where the input
/// has the coordinate (`ours`), its values, `units` and `calendar` (a group holds one
/// coordinate of each name: outputs on other grids go into groups of their own).
fn agrees(
    theirs: &AnyArray,
    coord: &str,
    shape: &[usize],
    ours: Option<&AnyArray>,
) -> Result<(), Failure> {
    if theirs.shape() != shape {
        return Err(format!(
            "exists with shape {:?}, but the output's coordinate '{coord}' has shape \
             {shape:?}: xarray would take it as the output's coordinate",
            theirs.shape()
        )
        .into());
    }
    let Some(ours) = ours else { return Ok(()) };
    // The same numbers in other units (days since another date, another calendar) are
    // other labels.
    for key in ["units", "calendar"] {
        let (a, b) = (theirs.attributes().get(key), ours.attributes().get(key));
        if a != b {
            return Err(format!(
                "exists with another '{key}' than the input's coordinate ({} vs {}): xarray \
                 would label the output with it",
                a.unwrap_or(&Json::Null),
                b.unwrap_or(&Json::Null)
            )
            .into());
        }
    }
    if let Some((i, a, b)) = first_difference(theirs, ours)? {
        return Err(format!(
            "exists with other values than the input's coordinate (at {i}: {a} vs {b}): \
             xarray would label the output with them",
        )
        .into());
    }
    Ok(())
}

/// The first element where `a` and `b` (of one shape) differ as xarray reads them, as its
/// flat index and the two values, or `None` if they are equal: every value as xarray
/// decodes it (fill and missing values NaN, equal to NaN; packed values unpacked), and
/// integers that are not packed nor missing exactly, as int64 timestamps in nanoseconds
/// are not exact as f64.
fn first_difference(
    a: &AnyArray,
    b: &AnyArray,
) -> Result<Option<(usize, String, String)>, Failure> {
    let (x, y) = (
        a.decode_cf::<f64>()?.compute()?,
        b.decode_cf::<f64>()?.compute()?,
    );
    let packed = |v: &AnyArray| {
        let attributes = v.attributes();
        attributes.contains_key("scale_factor") || attributes.contains_key("add_offset")
    };
    let integral = |v: &AnyArray| !matches!(v.dtype(), DType::F32 | DType::F64) && !packed(v);
    if integral(a) && integral(b) {
        // As i64: one to one, a u64 above i64::MAX wrapping to a negative value, which
        // the decoded comparison below tells from a true negative one.
        let (p, q) = (a.astype::<i64>().compute()?, b.astype::<i64>().compute()?);
        let shown = |array: &AnyArray, value: i64| match array.dtype() {
            DType::U64 => (value as u64).to_string(),
            _ => value.to_string(),
        };
        // Where both are missing, their raw fill values may differ.
        let decoded = |w: &ndarray::ArrayD<f64>| w.iter().copied().collect::<Vec<f64>>();
        let (u, v) = (decoded(&x), decoded(&y));
        let differs =
            |(i, (p, q)): &(usize, (&i64, &i64))| p != q && !(u[*i].is_nan() && v[*i].is_nan());
        if let Some((i, (p, q))) = p.iter().zip(&q).enumerate().find(differs) {
            return Ok(Some((i, shown(a, *p), shown(b, *q))));
        }
    }
    let same = |u: &f64, v: &f64| u == v || (u.is_nan() && v.is_nan());
    Ok(x.iter()
        .zip(&y)
        .enumerate()
        .find(|(_, (u, v))| !same(u, v))
        .map(|(i, (u, v))| (i, u.to_string(), v.to_string())))
}

/// A node path as its parent group's path and its name (empty for the root).
fn split_node(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some(("", name)) => ("/", name),
        Some((parent, name)) => (parent, name),
        None => ("/", path),
    }
}

/// The nearest group that exists at or above `path` in `store`, and its Zarr version (read
/// from each node's metadata alone: a group whose children chunkwise cannot all read is
/// still found).
fn enclosing_group(store: &str, path: &str) -> Option<(String, ZarrVersion)> {
    let mut path = path;
    loop {
        if let Ok(Some(version)) = zarr::group_version(store, path) {
            return Some((path.to_string(), version));
        }
        if path.trim_matches('/').is_empty() {
            return None;
        }
        path = split_node(path).0;
    }
}

/// The group that `output` goes in ([`enclosing_group`] of its parent) and its version;
/// none for an output at its store's root, which replaces what is there.
fn group_of_output(output: &Location) -> Option<(String, ZarrVersion)> {
    let (parent, name) = split_node(&output.path);
    match name.is_empty() {
        true => None,
        false => enclosing_group(&output.store, parent),
    }
}

/// The dimension names an array has.
fn dims_of(array: &AnyArray) -> Vec<String> {
    array
        .dimension_names()
        .unwrap_or(&[])
        .iter()
        .flatten()
        .cloned()
        .collect()
}

/// How `convert` and `rechunk` store their output.
#[derive(Clone, Debug, Default)]
pub(crate) struct Format {
    /// The compression (the writer's default when `None`).
    pub(crate) compression: Option<Compression>,
    /// The Zarr version (the writer's default when `None`).
    pub(crate) version: Option<ZarrVersion>,
    /// Storage chunks (the input's when `None`).
    pub(crate) chunks: Option<Vec<usize>>,
    /// Shards, as chunks per shard along each axis (the input's when `None`; `1,1,...`
    /// for none).
    pub(crate) shards: Option<Vec<usize>>,
}

/// `input` rewritten as `format` says (codec, version, chunks, shards): `convert`, and
/// `rechunk` with chunks alone.
pub(crate) fn convert(
    format: &Format,
    input: &Location,
    output: &Location,
    how: &Output,
) -> Result<Report, Failure> {
    let x = input.open()?;
    let ndim = x.shape().len();
    for (what, lengths) in [("chunk", &format.chunks), ("shard", &format.shards)] {
        if let Some(lengths) = lengths.as_ref().filter(|l| l.len() != ndim) {
            return Err(format!("{} {what} lengths for {ndim} dimensions", lengths.len()).into());
        }
    }
    let mut options = how.rewrite_options(&x)?;
    if let Some(c) = format.compression {
        options = options.compression(c);
    }
    if let Some(v) = format.version {
        // A group holds arrays of its own version (readers of the other do not list them).
        if let Some((group, version)) = group_of_output(output)
            && version != v
        {
            return Err(format!(
                "{}{group} is a Zarr {version:?} group: a {v:?} array cannot go in it",
                output.store,
            )
            .into());
        }
        options = options.version(v);
    }
    let mut options = in_output_version(options, output);
    if let Some(chunks) = &format.chunks {
        options = options.chunks(chunks);
        // New chunks are stored unsharded unless shards are asked for.
        options.shards = None;
    }
    if let Some(per_shard) = &format.shards {
        let chunks = options
            .chunks
            .clone()
            .unwrap_or_else(|| x.format().chunks.clone());
        let shards = per_shard
            .iter()
            .zip(&chunks)
            .map(|(&n, &c)| {
                n.checked_mul(c)
                    .ok_or_else(|| format!("a shard of {n} chunks of {c} is too long"))
            })
            .collect::<Result<Vec<usize>, String>>()?;
        options.shards = match per_shard.iter().all(|&n| n == 1) {
            true => None,
            false if options.version == ZarrVersion::V2 => {
                return Err("Zarr v2 has no sharding: --shards needs a v3 output \
                            (--zarr-version 3, outside a v2 group)"
                    .into());
            }
            false => Some(shards),
        };
    }
    let written = Written::new(input, output, how);
    written.store(Values::Stored(Box::new(x)), options, None)
}

/// `options` in the Zarr version of the group the output goes in, if it goes in one (its
/// readers would not list an array of the other), else in their own. Zarr v2 has no
/// sharding: a v2 output keeps no shards of its input.
fn in_output_version(mut options: WriteOptions, output: &Location) -> WriteOptions {
    if let Some((_, version)) = group_of_output(output) {
        options = options.version(version);
    }
    if options.version == ZarrVersion::V2 {
        options.shards = None;
    }
    options
}

/// The elements `start:stop:step` of dimension `dim` of `input`, as NumPy takes them.
pub(crate) fn slice(
    dim: &str,
    (start, stop, step): (Option<isize>, Option<isize>, isize),
    input: &Location,
    output: &Location,
    how: &Output,
) -> Result<Report, Failure> {
    let x = input.open()?;
    let axis = axis_of(&x, dim)?;
    let range = numpy_slice(x.shape()[axis], start, stop, step)?;
    let mut info = vec![SliceInfoElem::from(..); x.shape().len()];
    info[axis] = range;
    let sliced = x.slice(&info)?;
    let options = in_output_version(how.rewrite_options(&x)?, output);
    let names = dims(&x);
    let written = Written::new(input, output, how);
    written.store(
        Values::Stored(Box::new(sliced)),
        options,
        Some((names[axis].as_str(), range)),
    )
}

/// NumPy's `start:stop:step` of an axis of length `len` (negative indices from the end,
/// bounds clipped to the axis, a negative step walking back from `start`), as ndarray's
/// slice of the same elements.
fn numpy_slice(
    len: usize,
    start: Option<isize>,
    stop: Option<isize>,
    step: isize,
) -> Result<SliceInfoElem, Failure> {
    if step == 0 {
        return Err("the step must not be 0".into());
    }
    let n = len as isize;
    // Python's slice.indices: the bounds an index is clipped to.
    let (lower, upper) = if step > 0 { (0, n) } else { (-1, n - 1) };
    let clip = |index: Option<isize>, default: isize| match index {
        None => default,
        Some(i) if i < 0 => (i + n).max(lower),
        Some(i) => i.min(upper),
    };
    let (first, end) = match step > 0 {
        true => (clip(start, lower), clip(stop, upper)),
        false => (clip(start, upper), clip(stop, lower)),
    };
    let empty = SliceInfoElem::Slice {
        start: 0,
        end: Some(0),
        step: 1,
    };
    Ok(match step > 0 {
        true if first < end => SliceInfoElem::Slice {
            start: first,
            end: Some(end),
            step,
        },
        // ndarray walks a negative step back from the end of its range.
        false if first > end => SliceInfoElem::Slice {
            start: end + 1,
            end: Some(first + 1),
            step,
        },
        _ => empty,
    })
}

#[cfg(test)]
mod tests {
    use super::numpy_slice;
    use ndarray::Array1;

    /// The elements of `0..len` that `numpy_slice` takes.
    fn taken(len: usize, start: Option<isize>, stop: Option<isize>, step: isize) -> Vec<usize> {
        let range = numpy_slice(len, start, stop, step).unwrap();
        let x = Array1::from_iter(0..len);
        let info = ndarray::SliceInfo::<_, ndarray::Ix1, ndarray::Ix1>::try_from([range]).unwrap();
        x.slice(info).to_vec()
    }

    #[test]
    fn slices_take_what_numpy_takes() {
        // Each against Python's list(range(10))[start:stop:step].
        assert_eq!(taken(10, Some(2), Some(5), 1), [2, 3, 4]);
        assert_eq!(taken(10, Some(-3), None, 1), [7, 8, 9]);
        assert_eq!(taken(10, Some(-365), None, 1), (0..10).collect::<Vec<_>>());
        assert_eq!(taken(10, Some(0), Some(100), 3), [0, 3, 6, 9]);
        assert_eq!(taken(10, None, None, -1), (0..10).rev().collect::<Vec<_>>());
        assert_eq!(
            taken(10, Some(-1), Some(0), -1),
            [9, 8, 7, 6, 5, 4, 3, 2, 1]
        );
        assert_eq!(taken(10, Some(8), Some(2), -3), [8, 5]);
        assert_eq!(taken(10, Some(0), Some(10), -1), Vec::<usize>::new());
        assert_eq!(taken(10, Some(5), Some(5), 1), Vec::<usize>::new());
        assert_eq!(taken(10, Some(20), None, -2), [9, 7, 5, 3, 1]);
        assert_eq!(taken(0, None, None, 1), Vec::<usize>::new());
        assert!(numpy_slice(10, None, None, 0).is_err());
    }
}

//! The commands: each opens its input lazily, builds the operation on it and streams the
//! result into a new Zarr array, tile by tile, within the memory budget.

use chunkwise::io::zarr::{self, AnyArray, Compression, WriteMode, WriteOptions, ZarrVersion};
use chunkwise::{Array, Config, DType, Element, Reduction, Report};
use ndarray::SliceInfoElem;
use serde_json::Value as Json;

use crate::location::Location;

/// A failure of a command, as the user should read it.
pub(crate) type Failure = Box<dyn std::error::Error>;

/// Options every writing command shares.
#[derive(Clone, Debug, Default)]
pub(crate) struct Output {
    /// Replace an existing array at the output path.
    pub(crate) overwrite: bool,
    /// Worker threads (all cores when `None`).
    pub(crate) threads: Option<usize>,
    /// Show a progress bar.
    pub(crate) progress: bool,
    /// The command line, recorded in the output's `history` attribute.
    pub(crate) history: String,
}

impl Output {
    fn config(&self) -> Config {
        let config = Config::default().progress(self.progress);
        match self.threads {
            Some(n) => config.threads(n),
            None => config,
        }
    }

    /// Write options for an output with dimensions `dims` and the input's attributes.
    fn options(&self, input: &AnyArray, dims: Vec<String>) -> WriteOptions {
        let mode = match self.overwrite {
            true => WriteMode::Overwrite,
            false => WriteMode::Create,
        };
        let mut options = WriteOptions::default()
            .mode(mode)
            .config(self.config())
            .dimension_names(dims);
        for (key, value) in input.attributes() {
            if key != "history" && key != "_ARRAY_DIMENSIONS" {
                options = options.attribute(key, value.clone());
            }
        }
        let history = match input.attributes().get("history").and_then(Json::as_str) {
            Some(before) => format!("{before}\n{}", self.history),
            None => self.history.clone(),
        };
        options.attribute("history", history)
    }

    /// [`Output::options`] for f64 values decoded from `input`: without its packing
    /// attributes, NaN (missing) as the fill value.
    fn decoded_options(&self, input: &AnyArray, dims: Vec<String>) -> WriteOptions {
        let mut options = self.options(input, dims).fill_value(f64::NAN);
        options
            .attributes
            .retain(|key, _| !PACKING.contains(&key.as_str()));
        options
    }
}

/// The attributes that say how a variable is packed: decoded values drop them.
const PACKING: [&str; 5] = [
    "scale_factor",
    "add_offset",
    "_FillValue",
    "missing_value",
    "_Unsigned",
];

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
    match dim.parse::<usize>() {
        Ok(axis) if axis < names.len() => Ok(axis),
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
    if let Ok(array) = location.open() {
        return Ok(describe(&location.path, &array));
    }
    let group = zarr::open_group(&location.store, &location.path)
        .map_err(|e| format!("{location}: neither an array nor a group ({e})"))?;
    let mut out = String::new();
    describe_group(&group, &mut out)?;
    Ok(out)
}

/// Appends the description of `group`, its arrays and its groups, depth first.
fn describe_group(group: &zarr::Group, out: &mut String) -> Result<(), Failure> {
    out.push_str(&format!("{} (group)\n", group.path()));
    out.push_str(&attributes(group.attributes()));
    let below = |name: &str| match group.path() {
        "/" => format!("/{name}"),
        p => format!("{p}/{name}"),
    };
    for name in group.arrays() {
        out.push_str(&describe(&below(name), &group.array(name)?));
    }
    for name in group.groups() {
        describe_group(&group.group(name)?, out)?;
    }
    Ok(())
}

fn describe(path: &str, array: &AnyArray) -> String {
    let chunks: Vec<usize> = (0..array.shape().len())
        .map(|axis| array.chunks().chunk_len(axis, 0))
        .collect();
    format!(
        "{path}  {}  shape {:?}  chunks {:?}  dims [{}]\n{}",
        array.dtype(),
        array.shape(),
        chunks,
        dims(array).join(", "),
        attributes(array.attributes())
    )
}

fn attributes(map: &serde_json::Map<String, Json>) -> String {
    map.iter()
        .filter(|(key, _)| key.as_str() != "_ARRAY_DIMENSIONS")
        .map(|(key, value)| format!("    {key}: {value}\n"))
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
    let mut names = dims(&x);
    names.remove(axis);
    let result = reduced(&x.decode_cf::<f64>()?, op, axis);
    Ok(result.to_zarr(&output.store, &output.path, &how.decoded_options(&x, names))?)
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
    Ok(result.to_zarr(
        &output.store,
        &output.path,
        &how.decoded_options(&x, dims(&x)),
    )?)
}

/// Rewrites an array in its own element type with `options`, after taking `slice` of it
/// (a range of one axis) if given.
struct Rewrite<'a> {
    slice: Option<(usize, SliceInfoElem)>,
    output: &'a Location,
    options: WriteOptions,
}

impl Rewrite<'_> {
    fn run<T: Element>(&self, x: Array<T>) -> chunkwise::Result<Report> {
        let x = match self.slice {
            Some((axis, range)) => {
                let mut info = vec![SliceInfoElem::from(..); x.ndim()];
                info[axis] = range;
                x.slice(info)?
            }
            None => x,
        };
        x.to_zarr(&self.output.store, &self.output.path, &self.options)
    }

    /// [`Rewrite::run`] on `x` in its stored element type.
    fn run_any(&self, x: &AnyArray) -> chunkwise::Result<Report> {
        match x.dtype() {
            DType::Bool => self.run(x.astype::<bool>()),
            DType::I8 => self.run(x.astype::<i8>()),
            DType::I16 => self.run(x.astype::<i16>()),
            DType::I32 => self.run(x.astype::<i32>()),
            DType::I64 => self.run(x.astype::<i64>()),
            DType::U8 => self.run(x.astype::<u8>()),
            DType::U16 => self.run(x.astype::<u16>()),
            DType::U32 => self.run(x.astype::<u32>()),
            DType::U64 => self.run(x.astype::<u64>()),
            DType::F32 => self.run(x.astype::<f32>()),
            _ => self.run(x.astype::<f64>()),
        }
    }
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
    /// Shards, as chunks per shard along each axis (none when `None`).
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
    let mut options = how.options(&x, dims(&x));
    if let Some(c) = format.compression {
        options = options.compression(c);
    }
    if let Some(v) = format.version {
        options = options.version(v);
    }
    if let Some(chunks) = &format.chunks {
        options = options.chunks(chunks);
    }
    if let Some(shards) = &format.shards {
        options = options.shards(shards);
    }
    let rewrite = Rewrite {
        slice: None,
        output,
        options,
    };
    Ok(rewrite.run_any(&x)?)
}

/// The elements `start..stop` by `step` of dimension `dim` of `input`.
pub(crate) fn slice(
    dim: &str,
    (start, stop, step): (isize, Option<isize>, isize),
    input: &Location,
    output: &Location,
    how: &Output,
) -> Result<Report, Failure> {
    let x = input.open()?;
    let range = SliceInfoElem::Slice {
        start,
        end: stop,
        step,
    };
    let rewrite = Rewrite {
        slice: Some((axis_of(&x, dim)?, range)),
        output,
        options: how.options(&x, dims(&x)),
    };
    Ok(rewrite.run_any(&x)?)
}

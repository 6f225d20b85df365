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
    fn options(&self, input: &AnyArray, dims: Option<Vec<String>>) -> WriteOptions {
        let mode = match self.overwrite {
            true => WriteMode::Overwrite,
            false => WriteMode::Create,
        };
        let mut options = WriteOptions::default().mode(mode).config(self.config());
        if let Some(dims) = dims {
            options = options.dimension_names(dims);
        }
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
}

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
    if let Ok(array) = zarr::open(&location.store, &location.path) {
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

fn reduced(x: &Array<f64>, op: Op, axis: usize) -> Array<f64> {
    let how = Reduction::axis(axis as isize);
    match op {
        Op::Mean => x.mean_with(&how),
        Op::Std => x.std_with(&how, 0.0),
        Op::Min => x.min_with(&how),
        Op::Max => x.max_with(&how),
        Op::Sum => x.sum_with(&how),
        Op::Median => x.median_with(&how),
    }
}

/// `op` over dimension `dim` of `input`, as f64, written to `output`.
pub(crate) fn reduce(
    op: Op,
    dim: &str,
    input: &Location,
    output: &Location,
    how: &Output,
) -> Result<Report, Failure> {
    let x = zarr::open(&input.store, &input.path)?;
    let axis = axis_of(&x, dim)?;
    let mut names = dims(&x);
    names.remove(axis);
    let result = reduced(&x.astype::<f64>(), op, axis);
    Ok(result.to_zarr(&output.store, &output.path, &how.options(&x, Some(names)))?)
}

/// The anomaly from the mean over `dim`, as f64.
pub(crate) fn anomaly(
    dim: &str,
    input: &Location,
    output: &Location,
    how: &Output,
) -> Result<Report, Failure> {
    let x = zarr::open(&input.store, &input.path)?;
    let axis = axis_of(&x, dim)?;
    let values = x.astype::<f64>();
    let mean = values.mean_with(&Reduction::axis(axis as isize).keepdims(true));
    let result = &values - &mean;
    Ok(result.to_zarr(
        &output.store,
        &output.path,
        &how.options(&x, Some(dims(&x))),
    )?)
}

/// A computation on an array of any element type, run on the input's own type.
trait Typed {
    fn run<T: Element>(&self, x: Array<T>) -> chunkwise::Result<Report>;
}

fn on_own_type(x: &AnyArray, job: &impl Typed) -> chunkwise::Result<Report> {
    match x.dtype() {
        DType::Bool => job.run(x.astype::<bool>()),
        DType::I8 => job.run(x.astype::<i8>()),
        DType::I16 => job.run(x.astype::<i16>()),
        DType::I32 => job.run(x.astype::<i32>()),
        DType::I64 => job.run(x.astype::<i64>()),
        DType::U8 => job.run(x.astype::<u8>()),
        DType::U16 => job.run(x.astype::<u16>()),
        DType::U32 => job.run(x.astype::<u32>()),
        DType::U64 => job.run(x.astype::<u64>()),
        DType::F32 => job.run(x.astype::<f32>()),
        _ => job.run(x.astype::<f64>()),
    }
}

/// Writes an array of the input's type with `options`, after `edit`.
struct Write<'a, F> {
    edit: F,
    output: &'a Location,
    options: WriteOptions,
}

/// What a writing command does to the array before it is written.
trait Edit {
    fn apply<T: Element>(&self, x: Array<T>) -> chunkwise::Result<Array<T>>;
}

impl<F: Edit> Typed for Write<'_, F> {
    fn run<T: Element>(&self, x: Array<T>) -> chunkwise::Result<Report> {
        let edited = self.edit.apply(x)?;
        edited.to_zarr(&self.output.store, &self.output.path, &self.options)
    }
}

/// No change: the array is rewritten as the options say.
struct Unchanged;

impl Edit for Unchanged {
    fn apply<T: Element>(&self, x: Array<T>) -> chunkwise::Result<Array<T>> {
        Ok(x)
    }
}

/// The elements `start..stop` by `step` along one axis.
struct SliceAxis {
    axis: usize,
    start: isize,
    stop: Option<isize>,
    step: isize,
}

impl Edit for SliceAxis {
    fn apply<T: Element>(&self, x: Array<T>) -> chunkwise::Result<Array<T>> {
        let mut info = vec![SliceInfoElem::from(..); x.ndim()];
        info[self.axis] = SliceInfoElem::Slice {
            start: self.start,
            end: self.stop,
            step: self.step,
        };
        x.slice(info)
    }
}

/// `input` rewritten in storage chunks `chunks`.
pub(crate) fn rechunk(
    chunks: &[usize],
    input: &Location,
    output: &Location,
    how: &Output,
) -> Result<Report, Failure> {
    let x = zarr::open(&input.store, &input.path)?;
    if chunks.len() != x.shape().len() {
        return Err(format!(
            "{} chunk lengths for {} dimensions",
            chunks.len(),
            x.shape().len()
        )
        .into());
    }
    let options = how.options(&x, Some(dims(&x))).chunks(chunks);
    let job = Write {
        edit: Unchanged,
        output,
        options,
    };
    Ok(on_own_type(&x, &job)?)
}

/// How `convert` stores its output.
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

/// `input` rewritten as `format` says (codec, version, chunks, shards).
pub(crate) fn convert(
    format: &Format,
    input: &Location,
    output: &Location,
    how: &Output,
) -> Result<Report, Failure> {
    let x = zarr::open(&input.store, &input.path)?;
    let mut options = how.options(&x, Some(dims(&x)));
    if let Some(c) = &format.compression {
        options = options.compression(*c);
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
    let job = Write {
        edit: Unchanged,
        output,
        options,
    };
    Ok(on_own_type(&x, &job)?)
}

/// The elements `start..stop` by `step` of dimension `dim` of `input`.
pub(crate) fn slice(
    dim: &str,
    (start, stop, step): (isize, Option<isize>, isize),
    input: &Location,
    output: &Location,
    how: &Output,
) -> Result<Report, Failure> {
    let x = zarr::open(&input.store, &input.path)?;
    let axis = axis_of(&x, dim)?;
    let edit = SliceAxis {
        axis,
        start,
        stop,
        step,
    };
    let options = how.options(&x, Some(dims(&x)));
    let job = Write {
        edit,
        output,
        options,
    };
    Ok(on_own_type(&x, &job)?)
}

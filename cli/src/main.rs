//! `chunkwise`: a CDO-style command-line tool on Zarr stores, computed out of core with
//! chunkwise (tile by tile, in parallel, within the memory budget).
//!
//! Arrays are named by one path: the store, then the array's path in it, split after the
//! last component that ends in `.zarr` (`data/in.zarr/tas` is the array `/tas` of the store
//! `data/in.zarr`; a path without such a component is a store whose root is the array).
//!
//! Stores on object storage are named by URL in the same way (built with the
//! `object-store` feature, on by default): `s3://bucket/data/in.zarr/tas` (input or output;
//! credentials, region and endpoint from the environment as the AWS tools read it:
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` or
//! `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`, `AWS_SKIP_SIGNATURE`,
//! else the `AWS_PROFILE` profile of `~/.aws/credentials` and `~/.aws/config`; see
//! `RemoteOptions::from_env`), `https://host/data/in.zarr/tas` (input only).
//!
//! ```text
//! chunkwise info data/in.zarr
//! chunkwise reduce --op mean --dim time data/in.zarr/tas out.zarr/tas_mean
//! chunkwise anomaly --dim time data/in.zarr/tas out.zarr/tas_anom
//! chunkwise rechunk --chunks 1460,10,10 data/in.zarr/tas out.zarr/tas_ts
//! chunkwise convert --codec blosc --zarr-version 2 data/in.zarr/tas out.zarr/tas
//! chunkwise slice --dim time --start 0 --stop 365 data/in.zarr/tas out.zarr/first_year
//! chunkwise reduce --op max --dim time s3://bucket/in.zarr/tas s3://bucket/out.zarr/tas_max
//! ```

mod commands;
mod history;
mod location;

use std::process::ExitCode;

use chunkwise::io::zarr::{BloscCompressor, BloscShuffle, Compression, ZarrVersion};
use clap::{Args, Parser, Subcommand, ValueEnum};

use commands::{Failure, Format, Op, Output};
use location::Location;

/// The command line (its `--help` text is the package description).
#[derive(Parser, Debug)]
#[command(name = "chunkwise", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Describe an array, or a group and its arrays: dtype, shape, chunks, dimensions,
    /// attributes.
    Info {
        /// The array or group (`store.zarr` or `store.zarr/path`).
        path: String,
    },
    /// Reduce an array over one dimension (the result is f64).
    Reduce {
        /// The reduction.
        #[arg(long, value_enum)]
        op: Op,
        /// The dimension: its name or its number (negative from the last, as in NumPy).
        #[arg(long, allow_negative_numbers = true)]
        dim: String,
        #[command(flatten)]
        io: InOut,
    },
    /// The anomaly from the mean over one dimension (the result is f64).
    Anomaly {
        /// The dimension: its name or its number (negative from the last, as in NumPy).
        #[arg(long, allow_negative_numbers = true)]
        dim: String,
        #[command(flatten)]
        io: InOut,
    },
    /// Rewrite an array in other storage chunks.
    Rechunk {
        /// Chunk lengths, one per dimension (`1460,10,10`).
        #[arg(long, value_delimiter = ',', required = true)]
        chunks: Vec<usize>,
        #[command(flatten)]
        io: InOut,
    },
    /// Rewrite an array with another codec, Zarr version, chunking or sharding.
    Convert {
        /// The compression codec.
        #[arg(long, value_enum)]
        codec: Option<Codec>,
        /// The codec's level (zstd -131072 to 22, blosc 0-9, gzip 0-9).
        #[arg(long, requires = "codec", allow_negative_numbers = true)]
        level: Option<i32>,
        /// The Zarr version of the output.
        #[arg(long, value_parser = ["2", "3"])]
        zarr_version: Option<String>,
        /// Storage chunk lengths, one per dimension.
        #[arg(long, value_delimiter = ',')]
        chunks: Option<Vec<usize>>,
        /// Shards (Zarr v3), as chunks per shard along each dimension (`1,1,...`: none;
        /// the input's when not given).
        #[arg(long, value_delimiter = ',')]
        shards: Option<Vec<usize>>,
        #[command(flatten)]
        io: InOut,
    },
    /// Take a range of one dimension (NumPy's `start:stop:step`: negative indices from the
    /// end, bounds clipped to the dimension).
    Slice {
        /// The dimension: its name or its number (negative from the last, as in NumPy).
        #[arg(long, allow_negative_numbers = true)]
        dim: String,
        /// First index (the first, or the last for a negative step, when not given).
        #[arg(long, allow_negative_numbers = true)]
        start: Option<isize>,
        /// Where to stop, not included (past the end, or before the start for a negative
        /// step, when not given).
        #[arg(long, allow_negative_numbers = true)]
        stop: Option<isize>,
        /// Step (negative to reverse).
        #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
        step: isize,
        #[command(flatten)]
        io: InOut,
    },
}

/// The input and output arrays and how the output is written.
#[derive(Args, Debug)]
struct InOut {
    /// The input array (`store.zarr/path`, `s3://bucket/store.zarr/path` or
    /// `https://host/store.zarr/path`).
    input: String,
    /// The output array (`store.zarr/path` or `s3://bucket/store.zarr/path`); its store is
    /// created if needed.
    output: String,
    /// Replace the output array if it exists, and the coordinates of its group that
    /// disagree with it if they label nothing else.
    #[arg(long)]
    overwrite: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Show a progress bar.
    #[arg(long)]
    progress: bool,
}

/// Compression codecs of `convert`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Codec {
    /// No compression.
    None,
    /// Zstandard.
    Zstd,
    /// Blosc with LZ4 and byte shuffling.
    Blosc,
    /// Gzip.
    Gzip,
}

impl InOut {
    fn locations(&self) -> (Location, Location, Output) {
        let output = Output {
            overwrite: self.overwrite,
            threads: self.threads,
            progress: self.progress,
            history: history::entry(std::env::args(), std::time::SystemTime::now()),
        };
        (
            Location::parse(&self.input),
            Location::parse(&self.output),
            output,
        )
    }
}

/// The compression `codec` at `level` (its default when `None`), or why the level is not
/// one of the codec's.
fn compression(codec: Codec, level: Option<i32>) -> Result<Compression, Failure> {
    let level_in = |range: std::ops::RangeInclusive<i32>, default: i32| {
        let level = level.unwrap_or(default);
        match range.contains(&level) {
            true => Ok(level),
            false => Err(format!(
                "level {level} of {codec:?}: the levels are {} to {}",
                range.start(),
                range.end()
            )),
        }
    };
    Ok(match codec {
        Codec::None if level.is_some() => return Err("no compression has no level".into()),
        Codec::None => Compression::None,
        Codec::Zstd => Compression::Zstd {
            level: level_in(-131_072..=22, 3)?,
        },
        Codec::Blosc => Compression::Blosc {
            cname: BloscCompressor::Lz4,
            clevel: level_in(0..=9, 5)? as u8,
            shuffle: BloscShuffle::Shuffle,
        },
        Codec::Gzip => Compression::Gzip {
            level: level_in(0..=9, 6)? as u32,
        },
    })
}

/// Prints `text` to standard output; a reader that stopped reading (`| head`) is not an
/// error.
fn print_out(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn run(command: Command) -> Result<(), Failure> {
    let report = match command {
        Command::Info { path } => {
            return print_out(&commands::info(&Location::parse(&path))?);
        }
        Command::Reduce { op, dim, io } => {
            let (input, output, how) = io.locations();
            commands::reduce(op, &dim, &input, &output, &how)?
        }
        Command::Anomaly { dim, io } => {
            let (input, output, how) = io.locations();
            commands::anomaly(&dim, &input, &output, &how)?
        }
        Command::Rechunk { chunks, io } => {
            let (input, output, how) = io.locations();
            let format = Format {
                chunks: Some(chunks),
                ..Format::default()
            };
            commands::convert(&format, &input, &output, &how)?
        }
        Command::Convert {
            codec,
            level,
            zarr_version,
            chunks,
            shards,
            io,
        } => {
            let (input, output, how) = io.locations();
            let format = Format {
                compression: codec.map(|c| compression(c, level)).transpose()?,
                version: zarr_version.map(|v| match v.as_str() {
                    "2" => ZarrVersion::V2,
                    _ => ZarrVersion::V3,
                }),
                chunks,
                shards,
            };
            commands::convert(&format, &input, &output, &how)?
        }
        Command::Slice {
            dim,
            start,
            stop,
            step,
            io,
        } => {
            let (input, output, how) = io.locations();
            commands::slice(&dim, (start, stop, step), &input, &output, &how)?
        }
    };
    eprintln!(
        "{} tasks in {:.2} s, peak {:.1} MiB of a {:.1} MiB budget",
        report.tasks,
        report.elapsed.as_secs_f64(),
        report.peak_bytes as f64 / (1 << 20) as f64,
        report.budget as f64 / (1 << 20) as f64
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chunkwise: {}", message(&*e));
            ExitCode::FAILURE
        }
    }
}

/// A failure as the tool's user should read it: in the tool's terms where the library's
/// message names its API.
fn message(failure: &(dyn std::error::Error + 'static)) -> String {
    use chunkwise::{Error, StorageError};
    match failure.downcast_ref::<Error>() {
        Some(Error::Storage(StorageError::AlreadyExists { path })) => {
            format!(
                "{path} already exists (--overwrite replaces what is there: an array, or a \
                 group with everything in it)"
            )
        }
        _ => failure.to_string(),
    }
}

//! The crate's error type.

use chunkwise_kernels::dtype::DType;

/// Everything that can go wrong when building or computing an array: one variant per layer,
/// each holding that layer's error. Messages are the layer's own.
///
/// ```
/// use chunkwise::{BuildError, Error};
/// let a = chunkwise::zeros::<f64>(&[3], [3]).unwrap();
/// let b = chunkwise::zeros::<f64>(&[4], [4]).unwrap();
/// let err = (&a + &b).compute().unwrap_err();
/// assert!(matches!(err, Error::Build(BuildError::Broadcast { .. })));
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Building the graph: shapes, chunks, dtypes, axes, arguments.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// Planning: a task over the memory budget, an invalid plan.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Running tasks: the budget exhausted, a panicking closure, a wrong tile.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// Zarr stores and files.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Linear algebra.
    #[error(transparent)]
    Linalg(#[from] LinalgError),
}

/// Errors found while building the graph, before anything runs: shapes, chunks, dtypes,
/// axes and arguments. An operator such as `+` that cannot return a `Result` records the
/// error in the array it returns, and `compute()` reports it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Two shapes cannot be broadcast together.
    #[error("cannot broadcast shapes {left:?} and {right:?} (in {op})")]
    Broadcast {
        /// The operation.
        op: String,
        /// Shape of the left operand.
        left: Vec<usize>,
        /// Shape of the right operand.
        right: Vec<usize>,
    },
    /// A shape is not what an operation needs.
    #[error("shape mismatch in {op}: expected {expected:?}, found {found:?}")]
    ShapeMismatch {
        /// The operation.
        op: String,
        /// The shape it needs.
        expected: Vec<usize>,
        /// The shape it got.
        found: Vec<usize>,
    },
    /// Chunk sizes that do not tile the shape.
    #[error("chunks {chunks:?} do not tile shape {shape:?}: {reason}")]
    InvalidChunks {
        /// Array shape.
        shape: Vec<usize>,
        /// The chunks asked for.
        chunks: Vec<Vec<usize>>,
        /// What is wrong.
        reason: String,
    },
    /// An axis number beyond the array's dimensions.
    #[error("axis {axis} is out of range for an array of {ndim} dimensions")]
    AxisOutOfRange {
        /// The axis asked for.
        axis: isize,
        /// Number of dimensions of the array.
        ndim: usize,
    },
    /// An index beyond an axis' length.
    #[error("index {index} is out of bounds for axis {axis} of length {len}")]
    IndexOutOfBounds {
        /// The index asked for.
        index: isize,
        /// The axis.
        axis: usize,
        /// Its length.
        len: usize,
    },
    /// An array of another element type than expected.
    #[error("dtype mismatch: expected {expected}, found {found}")]
    DTypeMismatch {
        /// The dtype needed.
        expected: DType,
        /// The dtype found.
        found: DType,
    },
    /// A reduction without identity (min, argmax, ...) over zero elements.
    #[error("{op} of an empty selection has no value (axis of length 0)")]
    EmptyReduction {
        /// The reduction.
        op: String,
    },
    /// An array too large to exist: its size in bytes exceeds `isize::MAX` (NumPy's
    /// limit, and Rust's for one allocation), or its element count overflows `usize`.
    #[error(
        "an array of shape {shape:?} with {itemsize}-byte elements would hold more than \
         isize::MAX bytes"
    )]
    TooLarge {
        /// The shape asked for.
        shape: Vec<usize>,
        /// Bytes per element.
        itemsize: usize,
    },
    /// An operation that needs chunk sizes known only after computing: those of the axis
    /// a boolean mask selects.
    #[error(
        "{op} needs the chunk sizes of a boolean selection, known only after computing: \
         call compute_chunk_sizes() first"
    )]
    UnknownChunkSizes {
        /// The operation.
        op: String,
    },
    /// An argument outside what the operation accepts.
    #[error("invalid argument to {op}: {reason}")]
    InvalidArgument {
        /// The operation.
        op: String,
        /// What is wrong.
        reason: String,
    },
}

/// Errors found while planning a computation, before any task runs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// A single task needs more memory than the whole budget: found before anything runs.
    /// It names the task that needs the most, so a budget of `needed` fits every task.
    #[error(
        "task {task} needs {needed} bytes but the memory budget is {budget} bytes; \
         use smaller chunks or a larger budget"
    )]
    TaskOverBudget {
        /// The task.
        task: String,
        /// Bytes it needs (inputs, output and scratch).
        needed: u64,
        /// The budget.
        budget: u64,
    },
    /// Every task fits on its own, but the plan's order (depth first from the outputs) must
    /// hold tiles for later tasks while one runs, and together they exceed the budget: found
    /// before anything runs. The executor runs a plan only if this order fits, so that it can
    /// always finish.
    #[error(
        "the plan needs {needed} bytes but the memory budget is {budget} bytes: task {task} \
         needs {needed} bytes while {held} bytes of tiles are held for later tasks; use \
         smaller chunks or a larger budget"
    )]
    PeakOverBudget {
        /// The task at the plan's peak.
        task: String,
        /// Bytes of tiles held for later tasks while it runs (its inputs among them).
        held: u64,
        /// Bytes the plan needs at its peak: the held tiles plus the task's own output and
        /// scratch. A budget of this size runs the plan.
        needed: u64,
        /// The budget.
        budget: u64,
    },
    /// The plan would need more tasks than the planner keeps track of: each task costs
    /// bookkeeping memory, so the limit follows the memory budget. Found before any task
    /// is made.
    #[error(
        "the plan needs at least {tasks} tasks, more than the limit of {limit} for this memory \
         budget; use larger chunks"
    )]
    TooManyTasks {
        /// Tasks the plan needs (a lower bound when planning stopped early).
        tasks: u128,
        /// The most tasks a plan may have.
        limit: u64,
    },
    /// The graph is a chain of more nodes than planning can follow (a loop of very many
    /// steps, each reading the last): found before anything runs.
    #[error(
        "the graph is {depth} nodes deep: {reason}; compute or persist an intermediate \
         result to cut it"
    )]
    GraphTooDeep {
        /// Nodes on the longest path of inputs.
        depth: usize,
        /// Why it cannot be planned.
        reason: String,
    },
    /// An optimiser pass produced an invalid plan (a bug in that pass).
    #[error("optimiser pass {pass} produced an invalid plan: {reason}")]
    InvalidPlan {
        /// The pass at fault.
        pass: String,
        /// What is wrong with the plan.
        reason: String,
    },
}

/// Errors while tasks run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// The tiles held in memory leave no room for any task that could run next.
    #[error(
        "memory budget of {budget} bytes exhausted: {held} bytes of tiles are held and the \
         next task {task} needs {needed}"
    )]
    BudgetExhausted {
        /// The task that could not start.
        task: String,
        /// Bytes held by live tiles.
        held: u64,
        /// Bytes the task needs.
        needed: u64,
        /// The budget.
        budget: u64,
    },
    /// A panic while computing a tile: in a user closure or generator, or (a bug) in
    /// chunkwise's own work around it, such as encoding the tile for another process.
    #[error("a panic while computing {task}: {message}")]
    TaskPanicked {
        /// The task, with its node and block index.
        task: String,
        /// The panic message.
        message: String,
    },
    /// A user function (of `map_blocks`, `blockwise` or `reduction`) returned an error.
    #[error("{task} failed on block {block:?}: {message}")]
    UserFunction {
        /// The operation and stage (`map_blocks`, `reduction combine`, or the name given).
        task: String,
        /// The output block whose computation failed.
        block: Vec<usize>,
        /// The function's error message.
        message: String,
    },
    /// A generator or user function returned a tile of the wrong shape.
    #[error("{task} returned a tile of shape {found:?}, expected {expected:?}")]
    TileShape {
        /// The task.
        task: String,
        /// The shape the block has.
        expected: Vec<usize>,
        /// The shape returned.
        found: Vec<usize>,
    },
    /// A task returned a tile of another element type than its node's (a bug in the
    /// operation that built the node).
    #[error("{task} returned a tile of {found}, expected {expected}")]
    TileDType {
        /// The task, with its node and block index.
        task: String,
        /// The node's element type.
        expected: DType,
        /// The element type of the tile returned.
        found: DType,
    },
    /// The memory for a computed result could not be allocated.
    #[error(
        "cannot allocate the result of shape {shape:?} ({bytes} bytes); compute a slice of \
         it, or write it with to_zarr"
    )]
    ResultAllocation {
        /// The result's shape.
        shape: Vec<usize>,
        /// Its size in bytes.
        bytes: u128,
    },
    /// An index read from a lazy index array (of `take`) is out of range of its axis.
    #[error("index {index} is out of bounds for axis {axis} of length {len}")]
    IndexOutOfBounds {
        /// The index found.
        index: i128,
        /// The axis indexed.
        axis: usize,
        /// Its length.
        len: usize,
    },
    /// A value that `bincount` cannot count: negative, or not below the number of bins
    /// (`minlength`), which must be known before computing.
    #[error(
        "bincount: value {value} is outside the bins 0..{bins} (pass a minlength above the \
         largest value)"
    )]
    BinOutOfRange {
        /// The value found.
        value: f64,
        /// The number of bins.
        bins: usize,
    },
    /// A reduction that skips NaN (`nanargmin`, `nanargmax`) met a slice of NaN only, which
    /// has no result (NumPy raises "All-NaN slice encountered").
    #[error("{op}: All-NaN slice encountered")]
    AllNanSlice {
        /// The reduction.
        op: String,
    },
    /// The thread pool could not be created.
    #[error("cannot build the thread pool: {0}")]
    ThreadPool(String),
    /// A tile is not of the type its consumer reads: a bug in a block map or in the plan.
    #[error("a tile holds {found} where {expected} was expected")]
    TileType {
        /// What the consumer reads.
        expected: String,
        /// What the tile holds.
        found: String,
    },
    /// Bytes that do not decode as a tile (see `tile::encode`), or a tile that has no
    /// encoding.
    #[error("tile encoding: {0}")]
    TileEncoding(String),
    /// A distributed run failed on another process: its rank and its error (which names
    /// the task and tile).
    #[error("rank {rank} failed: {message}")]
    OnRank {
        /// The rank that failed first.
        rank: usize,
        /// Its error.
        message: String,
    },
    /// A distributed run lost touch with another process: a tile or an answer did not
    /// arrive within the time-out.
    #[error("distributed run: {0}")]
    Distributed(String),
    /// The result of a distributed computation was gathered on other ranks (see
    /// `Config::gather`).
    #[error(
        "the result was gathered on rank 0, not on rank {rank}: use `compute_gathered`, or gather on every rank"
    )]
    NotGatheredHere {
        /// This process's rank.
        rank: usize,
    },
}

/// Errors of Zarr stores and files: missing or unreadable data, corrupt chunks, refused
/// writes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// A store, array or group that cannot be read or written.
    #[error("storage error at {path}: {message}")]
    Storage {
        /// The store and node path.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A stored chunk that cannot be decoded (decompression or checksum failure).
    #[error("corrupt chunk {key}: {message}")]
    CorruptChunk {
        /// The chunk's store key.
        key: String,
        /// What the codec said.
        message: String,
    },
    /// A stored data type that chunkwise has no element type for.
    #[error("array {path} has data type {dtype}, which chunkwise does not support")]
    UnsupportedDataType {
        /// The array's path.
        path: String,
        /// The stored data type.
        dtype: String,
    },
    /// Writing would replace an existing array, and the write mode does not allow it.
    #[error(
        "an array or group already exists at {path} (set WriteMode::Overwrite or WriteMode::Resume in the array's WriteOptions, or a group's GroupOptions: a group's mode is not its arrays')"
    )]
    AlreadyExists {
        /// The array's path.
        path: String,
    },
    /// A group was needed where an array (or nothing) is stored.
    #[error("{path} is not a group (needed for {child})")]
    NotAGroup {
        /// The store and node path.
        path: String,
        /// What needed the group.
        child: String,
    },
    /// An array was asked for where a group is stored.
    #[error("{path} is a group, not an array ({contents})")]
    NotAnArray {
        /// The store and node path.
        path: String,
        /// What the group holds, to name one of its arrays instead.
        contents: String,
    },
    /// A node path or store key that could reach outside its store or node (`..`, `.`,
    /// empty components, backslashes), refused before anything is read, written or erased.
    #[error("refused path {path}: it has {reason}")]
    UnsafePath {
        /// The path or key as given.
        path: String,
        /// What makes it unsafe.
        reason: String,
    },
    /// A store URL that cannot be opened: an unknown scheme, no bucket, or a malformed
    /// endpoint.
    #[error("cannot open the store {url}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A store URL whose kind of storage this build of chunkwise leaves out.
    #[error(
        "cannot open the store {url}: object storage needs chunkwise's cargo feature \"{feature}\" (build with `--features {feature}`)"
    )]
    FeatureMissing {
        /// The URL as given.
        url: String,
        /// The cargo feature to enable.
        feature: String,
    },
    /// A write to a store that only reads (an HTTP store).
    #[error("cannot write to {store}: {reason}")]
    ReadOnly {
        /// The store.
        store: String,
        /// Why it only reads.
        reason: String,
    },
    /// Writing a plan or trace file failed.
    #[error("I/O error on {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The system's message.
        message: String,
    },
}

/// Errors of linear algebra: shapes a factorization cannot take, and matrices it cannot
/// factor (naming the tile and pivot where it broke down).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LinalgError {
    /// A square matrix was needed.
    #[error("{op} needs a square matrix, found shape {shape:?}")]
    NotSquare {
        /// The operation.
        op: String,
        /// The shape found.
        shape: Vec<usize>,
    },
    /// A Cholesky factorization met a pivot that is not positive.
    #[error(
        "matrix is not positive definite: the Cholesky factorization broke down in diagonal \
         tile {tile:?} at pivot {pivot} (row {pivot} of the matrix)"
    )]
    NotPositiveDefinite {
        /// The diagonal tile (block index) being factored.
        tile: Vec<usize>,
        /// The global row of the failing pivot.
        pivot: usize,
    },
    /// An LU factorization or a triangular solve met a zero pivot (to working precision).
    #[error("matrix is singular: zero pivot at row/column {pivot} of the matrix, in tile {tile:?}")]
    Singular {
        /// The tile (block index) whose pivot is zero.
        tile: Vec<usize>,
        /// The global column of the zero pivot.
        pivot: usize,
    },
    /// A factorization or solver met a NaN or an infinity in one of its inputs (which it
    /// checks tile by tile before factoring: results would be meaningless).
    #[error(
        "{op}: input {input} holds the non-finite value {value} at index {index:?} (in its \
         tile {tile:?}); factorizations and solvers need finite values"
    )]
    NotFinite {
        /// The operation.
        op: String,
        /// Which input: `a` (the matrix) or `b` (the right-hand side).
        input: String,
        /// The tile (block index, in the input's own chunking) holding the value.
        tile: Vec<usize>,
        /// The element's index in the input.
        index: Vec<usize>,
        /// The value met: NaN, +inf or -inf (as f64).
        value: f64,
    },
    /// An iterative kernel (the SVD) did not converge.
    #[error("{op} did not converge")]
    NotConverged {
        /// The operation.
        op: String,
    },
}

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! Computed tiles and partial states, shared between tasks without copying, and read back
//! by type through checked accessors (never a bare downcast at the call site).

use std::any::Any;
use std::fmt::Debug;
use std::sync::Arc;

use chunkwise_kernels::bytes::FixedBytes;
use chunkwise_kernels::dtype::{Element, Strip, StripVec, VecVisitor};
use ndarray::{ArrayD, IxDyn};

use super::encode::Writer;
use crate::error::{Error, ExecError, Result};

/// A computed tile (or a tile of partial reduction states), held until its last consumer ran.
pub(crate) type Value = Arc<dyn TileData>;

/// What the executor needs to know of a computed value, whatever its type.
pub(crate) trait TileData: Any + Send + Sync + Debug {
    fn as_any(&self) -> &dyn Any;
    /// Bytes of memory the value holds.
    fn nbytes(&self) -> usize;
    /// The elements in C order, if this is an array tile.
    fn strip(&self) -> Option<Strip<'_>>;
    /// The tile's shape.
    fn shape(&self) -> &[usize];
    /// What the value holds, for error messages ("an f64 tile", "partial states").
    fn describe(&self) -> String;
    /// Appends the value's record (see [`encode`](super::encode)), or refuses for values that
    /// have no encoding.
    fn encode_into(&self, out: &mut Writer) -> Result<()>;
}

impl dyn TileData {
    /// The value as a `D`, or an error naming what it holds instead.
    pub(crate) fn get<D: TileData>(&self) -> Result<&D> {
        self.as_any().downcast_ref::<D>().ok_or_else(|| {
            Error::Exec(ExecError::TileType {
                expected: std::any::type_name::<D>().to_string(),
                found: self.describe(),
            })
        })
    }

    /// The value as an array tile of `T`.
    pub(crate) fn array<T: Element>(&self) -> Result<&ArrayD<T>> {
        self.as_any().downcast_ref::<ArrayD<T>>().ok_or_else(|| {
            Error::Exec(ExecError::TileType {
                expected: format!("an array tile of {}", T::DTYPE),
                found: self.describe(),
            })
        })
    }
}

/// Part `index` of a value that a task computed with others ([`TupleTile`]), or the value
/// itself (part 0 of a plain value).
pub(crate) fn part(value: &Value, index: usize) -> Result<Value> {
    match value.as_any().downcast_ref::<TupleTile>() {
        Some(tuple) => tuple.parts.get(index).cloned().ok_or_else(|| {
            Error::Exec(ExecError::TileType {
                expected: format!("a tuple of more than {index} parts"),
                found: value.describe(),
            })
        }),
        None if index == 0 => Ok(value.clone()),
        None => Err(Error::Exec(ExecError::TileType {
            expected: format!("a tuple with a part {index}"),
            found: value.describe(),
        })),
    }
}

impl<T: Element> TileData for ArrayD<T> {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn nbytes(&self) -> usize {
        self.len() * std::mem::size_of::<T>()
    }
    fn strip(&self) -> Option<Strip<'_>> {
        self.as_slice().map(T::to_strip)
    }
    fn shape(&self) -> &[usize] {
        ArrayD::shape(self)
    }
    fn describe(&self) -> String {
        format!("an array tile of {} {:?}", T::DTYPE, self.shape())
    }
    fn encode_into(&self, out: &mut Writer) -> Result<()> {
        out.array(self);
        Ok(())
    }
}

/// Wraps an array as a tile value, in C order.
pub(crate) fn tile_value<T: Element>(array: ArrayD<T>) -> Value {
    if array.is_standard_layout() {
        Arc::new(array)
    } else {
        Arc::new(array.as_standard_layout().into_owned())
    }
}

/// A tile of `shape` holding `values` in C order.
pub(crate) fn tile_of<T: Element>(values: Vec<T>, shape: &[usize]) -> Value {
    let array = ArrayD::from_shape_vec(IxDyn(shape), values)
        .expect("the vector holds one element per tile element");
    Arc::new(array)
}

/// A tile of `shape` holding the elements of `values` in C order.
pub(crate) fn new_tile(values: StripVec, shape: &[usize]) -> Value {
    struct MakeTile<'a>(&'a [usize]);
    impl VecVisitor for MakeTile<'_> {
        type Output = Value;
        fn visit<T: Element>(self, values: Vec<T>) -> Value {
            tile_of(values, self.0)
        }
    }
    values.visit(MakeTile(shape))
}

/// Partial reduction states of one tile, in C order of the kept axes.
#[derive(Debug)]
pub(crate) struct StateTile<S> {
    pub(crate) states: Vec<S>,
    pub(crate) shape: Vec<usize>,
}

impl<S: FixedBytes + Send + Sync + Debug + 'static> TileData for StateTile<S> {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn nbytes(&self) -> usize {
        self.states.len() * std::mem::size_of::<S>()
    }
    fn strip(&self) -> Option<Strip<'_>> {
        None
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn describe(&self) -> String {
        format!("partial states {:?}", self.shape)
    }
    fn encode_into(&self, out: &mut Writer) -> Result<()> {
        out.states(&self.states, &self.shape);
        Ok(())
    }
}

/// Tiles of several results that one task computes together (merged reductions, the factors
/// of a factorization). Parts may share one value.
#[derive(Debug)]
pub(crate) struct TupleTile {
    pub(crate) parts: Vec<Value>,
}

/// Several values computed by one task, as one value (the first part gives its shape).
pub(crate) fn tuple(parts: Vec<Value>) -> Value {
    Arc::new(TupleTile { parts })
}

impl TileData for TupleTile {
    fn as_any(&self) -> &dyn Any {
        self
    }
    /// Each part once: parts may share one value (states that several reductions read).
    fn nbytes(&self) -> usize {
        self.parts
            .iter()
            .enumerate()
            .filter(|&(k, p)| !self.parts[..k].iter().any(|q| Arc::ptr_eq(p, q)))
            .map(|(_, p)| p.nbytes())
            .sum()
    }
    fn strip(&self) -> Option<Strip<'_>> {
        None
    }
    fn shape(&self) -> &[usize] {
        self.parts[0].shape()
    }
    fn describe(&self) -> String {
        let parts: Vec<String> = self.parts.iter().map(|p| p.describe()).collect();
        format!("a tuple of ({})", parts.join(", "))
    }
    fn encode_into(&self, out: &mut Writer) -> Result<()> {
        out.tuple(&self.parts)
    }
}

/// A part of a tuple tile that was not sent with the others (it has no encoding): it
/// names what it stands for, and every reader refuses it.
#[derive(Debug)]
pub(crate) struct Withheld {
    pub(crate) shape: Vec<usize>,
    /// What the part was ([`TileData::describe`] where it was made).
    pub(crate) what: String,
}

impl TileData for Withheld {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn nbytes(&self) -> usize {
        0
    }
    fn strip(&self) -> Option<Strip<'_>> {
        None
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn describe(&self) -> String {
        format!("{}, withheld by the process that made it", self.what)
    }
    /// A withheld part has nothing to send (a tuple holding it withholds it again).
    fn encode_into(&self, _: &mut Writer) -> Result<()> {
        Err(Error::Exec(ExecError::TileEncoding(self.describe())))
    }
}

/// What a sink task leaves behind: nothing but the fact that its block was written (a
/// block of the sink node's grid, one element per written tile).
#[derive(Debug)]
pub(crate) struct Written {
    pub(crate) shape: Vec<usize>,
}

impl TileData for Written {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn nbytes(&self) -> usize {
        0
    }
    fn strip(&self) -> Option<Strip<'_>> {
        None
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn describe(&self) -> String {
        "a written block".into()
    }
    fn encode_into(&self, out: &mut Writer) -> Result<()> {
        out.written(&self.shape);
        Ok(())
    }
}

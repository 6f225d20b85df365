//! Tiles and partial states as bytes, for executors that move them between processes.
//!
//! The layout is versioned and stable; every number is little-endian:
//!
//! ```text
//! encoded := "CWTL" version:u8 record            (version 1)
//! record  := 0 dtype:u8 shape payload            an array tile, elements in C order
//!          | 1 count:u32 (record | 3 part:u32)*  a tuple; `3 part` repeats an earlier part
//!          | 2 width:u32 shape payload           partial states of `width` bytes each
//!          | 4 shape                             a written block (no payload)
//!          | 5 shape len:u32 utf8*len            a tuple part withheld (see below)
//! shape   := ndim:u8 extent:u64*ndim
//! dtype   := 0 bool, 1 i8, 2 i16, 3 i32, 4 i64, 5 u8, 6 u16, 7 u32, 8 u64, 9 f32, 10 f64
//! ```
//!
//! A part of a tuple that has no encoding (a tile's QR factors, which the tasks that apply
//! them read where they were made) is written as a *withheld* record naming it; it decodes
//! to a [`Withheld`] tile that every reader refuses, so only the other parts travel.
//!
//! States are opaque bytes to everyone but their reducer, so [`decode`] takes the reducer
//! that made them; array tiles and tuples of them decode without one. Decoding checks every
//! length against the bytes at hand before it allocates, so corrupt or hostile bytes give an
//! error, never a huge allocation or a panic.

use std::sync::Arc;

use chunkwise_kernels::bytes::{FixedBytes, put_all, take_all};
use chunkwise_kernels::dtype::{DType, Element};
use ndarray::{ArrayD, IxDyn};

use super::reduce::ErasedReducer;
use super::value::{StateTile, TupleTile, Value, Withheld, Written};
use crate::error::{Error, ExecError, Result};

const MAGIC: &[u8; 4] = b"CWTL";
/// The layout version written, and the only one read.
pub(crate) const VERSION: u8 = 1;

const ARRAY: u8 = 0;
const TUPLE: u8 = 1;
const STATES: u8 = 2;
const REPEAT: u8 = 3;
const WRITTEN: u8 = 4;
const WITHHELD: u8 = 5;

/// Element types by their code in the layout (the position in this list; append only).
const DTYPES: [DType; 11] = [
    DType::Bool,
    DType::I8,
    DType::I16,
    DType::I32,
    DType::I64,
    DType::U8,
    DType::U16,
    DType::U32,
    DType::U64,
    DType::F32,
    DType::F64,
];

/// The bytes of `value` in the layout above.
pub(crate) fn encode(value: &Value) -> Result<Vec<u8>> {
    let mut out = Writer {
        bytes: Vec::with_capacity(value.nbytes() + 64),
    };
    out.bytes.extend_from_slice(MAGIC);
    out.bytes.push(VERSION);
    value.encode_into(&mut out)?;
    Ok(out.bytes)
}

/// The value encoded in `bytes`; partial states are decoded by `states`, the reducer that
/// made them.
pub(crate) fn decode(bytes: &[u8], states: Option<&dyn ErasedReducer>) -> Result<Value> {
    let mut reader = Reader { bytes, at: 0 };
    if reader.take(4)? != MAGIC {
        return Err(corrupt("not an encoded tile (no CWTL magic)"));
    }
    let version = reader.u8()?;
    if version != VERSION {
        return Err(corrupt(&format!(
            "layout version {version}; this build reads version {VERSION}"
        )));
    }
    let value = match states {
        Some(reducer) => reducer.decode_states(&mut reader)?,
        None => reader.value()?,
    };
    if reader.at != bytes.len() {
        return Err(corrupt(&format!(
            "{} bytes after the tile",
            bytes.len() - reader.at
        )));
    }
    Ok(value)
}

fn corrupt(what: &str) -> Error {
    Error::Exec(ExecError::TileEncoding(what.to_string()))
}

/// Appends records (see the module's layout).
pub(crate) struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    fn shape(&mut self, shape: &[usize]) {
        self.bytes.push(shape.len() as u8);
        for &n in shape {
            (n as u64).put(&mut self.bytes);
        }
    }

    /// An array tile.
    pub(crate) fn array<T: Element>(&mut self, array: &ArrayD<T>) {
        let code = DTYPES
            .iter()
            .position(|&d| d == T::DTYPE)
            .expect("every element type has a code");
        self.bytes.extend_from_slice(&[ARRAY, code as u8]);
        self.shape(array.shape());
        match array.as_slice() {
            Some(values) => put_all(values, &mut self.bytes),
            None => array.iter().for_each(|v| v.put(&mut self.bytes)),
        }
    }

    /// A tile of partial states.
    pub(crate) fn states<S: FixedBytes>(&mut self, states: &[S], shape: &[usize]) {
        self.bytes.push(STATES);
        (S::LEN as u32).put(&mut self.bytes);
        self.shape(shape);
        put_all(states, &mut self.bytes);
    }

    /// A tuple of values; a part that is an earlier part (the same value) is repeated by
    /// reference, so that decoding shares it again.
    pub(crate) fn tuple(&mut self, parts: &[Value]) -> Result<()> {
        self.bytes.push(TUPLE);
        (parts.len() as u32).put(&mut self.bytes);
        for (k, part) in parts.iter().enumerate() {
            match parts[..k].iter().position(|p| Arc::ptr_eq(p, part)) {
                Some(j) => {
                    self.bytes.push(REPEAT);
                    (j as u32).put(&mut self.bytes);
                }
                None => {
                    let start = self.bytes.len();
                    if part.encode_into(self).is_err() {
                        self.bytes.truncate(start);
                        self.withheld(part);
                    }
                }
            }
        }
        Ok(())
    }

    /// A part that stays where it was made: its shape and what it is.
    fn withheld(&mut self, part: &Value) {
        self.bytes.push(WITHHELD);
        self.shape(part.shape());
        let what = match part.get::<Withheld>() {
            Ok(withheld) => withheld.what.clone(),
            Err(_) => part.describe(),
        };
        (what.len() as u32).put(&mut self.bytes);
        self.bytes.extend_from_slice(what.as_bytes());
    }

    /// A written block.
    pub(crate) fn written(&mut self, shape: &[usize]) {
        self.bytes.push(WRITTEN);
        self.shape(shape);
    }
}

/// Reads records back, checking every length against the bytes left.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| corrupt(&format!("truncated at byte {}", self.at)))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn fixed<T: FixedBytes>(&mut self) -> Result<T> {
        T::take(self.take(T::LEN)?).ok_or_else(|| corrupt("an invalid number"))
    }

    fn tag(&mut self, expected: u8, what: &str) -> Result<()> {
        let tag = self.u8()?;
        if tag != expected {
            return Err(corrupt(&format!("record {tag} where {what} was expected")));
        }
        Ok(())
    }

    /// A shape and its element count, refused when its payload of `width`-byte elements
    /// could not fit in the bytes left.
    fn shape(&mut self, width: usize) -> Result<(Vec<usize>, usize)> {
        let ndim = self.u8()? as usize;
        let shape = (0..ndim)
            .map(|_| {
                let n: u64 = self.fixed()?;
                usize::try_from(n).map_err(|_| corrupt("an extent beyond this machine"))
            })
            .collect::<Result<Vec<usize>>>()?;
        let left = self.bytes.len() - self.at;
        let count = shape
            .iter()
            .try_fold(1usize, |acc, &n| acc.checked_mul(n))
            .filter(|&count| count.saturating_mul(width) <= left)
            .ok_or_else(|| corrupt(&format!("shape {shape:?} exceeds the {left} bytes left")))?;
        Ok((shape, count))
    }

    /// Any record that decodes without a reducer.
    fn value(&mut self) -> Result<Value> {
        match self.u8()? {
            ARRAY => self.array_body(),
            TUPLE => self.tuple_body(|r| r.value()),
            WRITTEN => {
                let (shape, _) = self.shape(0)?;
                Ok(Arc::new(Written { shape }))
            }
            WITHHELD => {
                let (shape, _) = self.shape(0)?;
                let len: u32 = self.fixed()?;
                let what = std::str::from_utf8(self.take(len as usize)?)
                    .map_err(|_| corrupt("a withheld part's name is not UTF-8"))?;
                Ok(Arc::new(Withheld {
                    shape,
                    what: what.to_string(),
                }))
            }
            STATES => Err(corrupt("partial states decode only with their reducer")),
            other => Err(corrupt(&format!("unknown record {other}"))),
        }
    }

    fn array_body(&mut self) -> Result<Value> {
        let code = self.u8()? as usize;
        let dtype = *DTYPES
            .get(code)
            .ok_or_else(|| corrupt(&format!("unknown dtype code {code}")))?;
        super::with_dtype!(dtype, T => self.array_of::<T>())
    }

    fn array_of<T: Element>(&mut self) -> Result<Value> {
        let (shape, count) = self.shape(T::LEN)?;
        let values: Vec<T> = take_all(self.take(count * T::LEN)?)
            .ok_or_else(|| corrupt(&format!("invalid {} values", T::DTYPE)))?;
        let array =
            ArrayD::from_shape_vec(IxDyn(&shape), values).map_err(|e| corrupt(&e.to_string()))?;
        Ok(Arc::new(array))
    }

    /// The rest of a tuple record, each new part read by `part`.
    pub(crate) fn tuple_body(
        &mut self,
        mut part: impl FnMut(&mut Reader<'a>) -> Result<Value>,
    ) -> Result<Value> {
        let count: u32 = self.fixed()?;
        // Each part takes at least one byte.
        if count as usize > self.bytes.len() - self.at {
            return Err(corrupt(&format!("a tuple of {count} parts")));
        }
        let mut parts: Vec<Value> = Vec::with_capacity(count as usize);
        for _ in 0..count {
            if self.bytes.get(self.at) == Some(&REPEAT) {
                self.at += 1;
                let j: u32 = self.fixed()?;
                let earlier = parts
                    .get(j as usize)
                    .ok_or_else(|| corrupt(&format!("a repeat of part {j} before it")))?;
                parts.push(earlier.clone());
            } else {
                parts.push(part(self)?);
            }
        }
        if parts.is_empty() {
            return Err(corrupt("an empty tuple"));
        }
        Ok(Arc::new(TupleTile { parts }))
    }

    /// A tuple record of parts decoded by `part(k)`.
    pub(crate) fn tuple(
        &mut self,
        mut part: impl FnMut(usize, &mut Reader<'a>) -> Result<Value>,
    ) -> Result<Value> {
        self.tag(TUPLE, "a tuple")?;
        let mut k = 0;
        self.tuple_body(|r| {
            let v = part(k, r);
            k += 1;
            v
        })
    }

    /// A states record of `S`.
    pub(crate) fn states<S: FixedBytes + Send + Sync + std::fmt::Debug + 'static>(
        &mut self,
    ) -> Result<Value> {
        self.tag(STATES, "partial states")?;
        let width: u32 = self.fixed()?;
        if width as usize != S::LEN {
            return Err(corrupt(&format!(
                "states of {width} bytes for a reducer whose states have {}",
                S::LEN
            )));
        }
        let (shape, count) = self.shape(S::LEN)?;
        let states: Vec<S> = take_all(self.take(count * S::LEN)?)
            .ok_or_else(|| corrupt("invalid partial states"))?;
        Ok(Arc::new(StateTile { states, shape }))
    }
}

#[cfg(test)]
mod tests {
    use chunkwise_kernels::reduce::{FloatSum, Fold, MomentOutput, Moments};
    use ndarray::array;

    use super::*;
    use crate::tile::reduce::{Several, erase};
    use crate::tile::value::{TileData, tile_value, tuple};

    fn same_array<T: Element>(a: &Value, b: &Value) {
        assert_eq!(a.array::<T>().unwrap(), b.array::<T>().unwrap());
    }

    #[test]
    fn array_tiles_round_trip_with_dtype_and_shape() {
        let f = tile_value(array![[1.5f64, -0.0], [f64::INFINITY, 3.0]].into_dyn());
        same_array::<f64>(&decode(&encode(&f).unwrap(), None).unwrap(), &f);
        let b = tile_value(array![[true, false, true]].into_dyn());
        same_array::<bool>(&decode(&encode(&b).unwrap(), None).unwrap(), &b);
        let i = tile_value(ndarray::ArrayD::<i16>::zeros(IxDyn(&[0, 4])));
        same_array::<i16>(&decode(&encode(&i).unwrap(), None).unwrap(), &i);
        // A transposed (not C-order) array is encoded in C order.
        let t = array![[1u32, 2], [3, 4]].reversed_axes().into_dyn();
        let back = decode(&encode(&(Arc::new(t.clone()) as Value)).unwrap(), None).unwrap();
        assert_eq!(back.array::<u32>().unwrap(), &t);
        assert!(back.array::<u32>().unwrap().is_standard_layout());
    }

    /// A tile with no encoding, like a tile's QR factors.
    #[derive(Debug)]
    struct Local;

    impl TileData for Local {
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
        fn nbytes(&self) -> usize {
            0
        }
        fn strip(&self) -> Option<chunkwise_kernels::dtype::Strip<'_>> {
            None
        }
        fn shape(&self) -> &[usize] {
            &[3, 2]
        }
        fn describe(&self) -> String {
            "local factors".into()
        }
        fn encode_into(&self, _: &mut Writer) -> Result<()> {
            Err(corrupt("no encoding"))
        }
    }

    #[test]
    fn a_tuple_part_with_no_encoding_is_withheld_and_the_others_travel() {
        let r = tile_value(array![[2.0f64, 1.0], [0.0, 3.0]].into_dyn());
        let local: Value = Arc::new(Local);
        assert!(encode(&local).is_err(), "alone, it cannot be sent");
        let factors = tuple(vec![local, r.clone()]);
        let back = decode(&encode(&factors).unwrap(), None).unwrap();
        let back = back.get::<TupleTile>().unwrap();
        same_array::<f64>(&back.parts[1], &r);
        let withheld = back.parts[0].get::<Withheld>().unwrap();
        assert_eq!(withheld.shape, vec![3, 2]);
        assert!(back.parts[0].describe().contains("local factors, withheld"));
        // A reader expecting the factors is refused, naming them.
        let err = back.parts[0].array::<f64>().unwrap_err().to_string();
        assert!(err.contains("local factors"), "{err}");
        // Sent on again, the part stays withheld under its first name.
        let again = decode(&encode(&tuple(back.parts.clone())).unwrap(), None).unwrap();
        let again = again.get::<TupleTile>().unwrap();
        assert_eq!(
            again.parts[0].get::<Withheld>().unwrap().what,
            "local factors"
        );
    }

    #[test]
    fn the_layout_is_the_documented_one() {
        let v = tile_value(array![[1u8, 2, 3]].into_dyn());
        let bytes = encode(&v).unwrap();
        let mut want = b"CWTL".to_vec();
        want.extend([1, ARRAY, 5, 2]); // version, array, u8, two axes
        want.extend(1u64.to_le_bytes());
        want.extend(3u64.to_le_bytes());
        want.extend([1, 2, 3]);
        assert_eq!(bytes, want);
    }

    /// The partial states of `reducer` over the rows of a 2x2 tile of `data`.
    fn fold_rows(reducer: &dyn ErasedReducer, data: &Value) -> Value {
        let layout = chunkwise_kernels::reduce::ReduceLayout::new(
            &[2, 2],
            &[0, 0],
            &[2, 2],
            &[true, false],
            false,
        );
        let mut states = reducer.start(layout.n_states());
        reducer.fold(&mut states, &layout, 0, data.strip().unwrap());
        reducer.end(states, &layout, vec![1, 2])
    }

    #[test]
    fn states_round_trip_through_their_reducer() {
        let sum = erase(FloatSum::<f64>::new(false, false), "sum");
        let data = tile_value(array![[1.0f64, 2.0], [4.0, 8.0]].into_dyn());
        let one = fold_rows(&*sum, &data);
        let back = decode(&encode(&one).unwrap(), Some(&*sum)).unwrap();
        let finished = sum.finish(&back, &[1, 2]).unwrap();
        assert_eq!(
            finished.array::<f64>().unwrap(),
            &array![[5.0, 10.0]].into_dyn()
        );
        assert!(
            decode(&encode(&one).unwrap(), None).is_err(),
            "states need a reducer"
        );
        // States of another width (a plain f64 fold's, 8 bytes, not a sum's 24).
        let plain = erase(Fold::<f64, f64>::new(false, false), "fold");
        let err = decode(&encode(&one).unwrap(), Some(&*plain)).unwrap_err();
        assert!(err.to_string().contains("states of"), "{err}");
    }

    #[test]
    fn merged_reductions_round_trip_and_their_shared_states_stay_shared() {
        // The mean of f32 data is finished from the states of its variance: two parts, one
        // value.
        let mean = erase(FloatSum::<f32>::new(false, true), "mean");
        let var = erase(
            Moments::<f32>::new(MomentOutput::Variance { ddof: 0.0 }, false),
            "var",
        );
        let several = Several::new(vec![mean, var]);
        let data = tile_value(array![[1.0f32, 2.0], [4.0, 8.0]].into_dyn());
        let merged = fold_rows(&several, &data);
        let back = decode(&encode(&merged).unwrap(), Some(&several)).unwrap();
        let parts = &back.get::<TupleTile>().unwrap().parts;
        assert!(
            Arc::ptr_eq(&parts[0], &parts[1]),
            "the shared part stays shared"
        );
        assert_eq!(back.nbytes(), merged.nbytes());
        let finished = several.finish(&back, &[1, 2]).unwrap();
        let mean = crate::tile::part(&finished, 0).unwrap();
        let var = crate::tile::part(&finished, 1).unwrap();
        assert_eq!(
            mean.array::<f32>().unwrap(),
            &array![[2.5f32, 5.0]].into_dyn()
        );
        assert_eq!(
            var.array::<f32>().unwrap(),
            &array![[2.25f32, 9.0]].into_dyn()
        );
    }

    #[test]
    fn corrupt_bytes_are_errors_not_panics_or_huge_allocations() {
        let v = tile_value(array![[1.0f32, 2.0, 3.0]].into_dyn());
        let good = encode(&v).unwrap();
        for cut in 0..good.len() {
            assert!(decode(&good[..cut], None).is_err(), "truncated at {cut}");
        }
        let mut extra = good.clone();
        extra.push(0);
        assert!(decode(&extra, None).is_err(), "trailing bytes");
        let mut version = good.clone();
        version[4] = 9;
        let err = decode(&version, None).unwrap_err();
        assert!(err.to_string().contains("version 9"), "{err}");
        // A shape of 2^40 x 2^40 elements in a few bytes.
        let mut huge = b"CWTL\x01\x00\x0a\x02".to_vec();
        huge.extend((1u64 << 40).to_le_bytes());
        huge.extend((1u64 << 40).to_le_bytes());
        let err = decode(&huge, None).unwrap_err();
        assert!(err.to_string().contains("exceeds"), "{err}");
        let mut bad_bool = b"CWTL\x01\x00\x00\x01".to_vec();
        bad_bool.extend(1u64.to_le_bytes());
        bad_bool.push(2);
        assert!(decode(&bad_bool, None).is_err(), "2 is no bool");
        let err = decode(b"CWTL\x01\x01\x02\x00\x00\x00\x03\x05\x00\x00\x00", None).unwrap_err();
        assert!(err.to_string().contains("repeat of part 5"), "{err}");
        let nested = tuple(vec![v.clone(), v.clone()]);
        let back = decode(&encode(&nested).unwrap(), None).unwrap();
        same_array::<f32>(&crate::tile::part(&back, 1).unwrap(), &v);
    }
}

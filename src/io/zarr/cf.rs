//! Decoding of CF-packed variables, as xarray's `decode_cf` (`mask_and_scale`) does on read:
//! elements equal to the fill value or to a `missing_value` become NaN, and the others are
//! unpacked as `stored * scale_factor + add_offset`.
//!
//! The fill value is the one xarray masks by ([`CfFill`]): the array's `fill_value` in Zarr
//! v2 (its `_FillValue` attribute where that is null), the `_FillValue` attribute in v3
//! (numbers, `"NaN"`-style strings, or floats as base64 of their little-endian f64 bytes,
//! as xarray writes them). Values that mean "missing" are compared as NumPy compares them:
//! rounded to the element type for floats, by exact value for integers (a value an integer
//! type cannot hold matches nothing).
//!
//! `_Unsigned = "true"` reads signed integers as unsigned (netCDF-3's unsigned bytes), and
//! `_Unsigned = "false"` unsigned integers as signed, as xarray does (which acts on these
//! two strings alone): the values are reinterpreted in the integer type of the same width
//! and the other signedness, and a `missing_value` is compared with them there. The fill
//! value is compared in the type it was written in: the stored one, except a `_FillValue`
//! attribute with `"false"`, which is signed.

use std::sync::Arc;

use chunkwise_kernels::dtype::{DType, Element, FloatElement, Scalar};
use serde_json::{Map, Value as Json};

use super::fill::{FillValue, base64_decode};
use crate::array::{Array, where_};
use crate::error::{BuildError, Error, Result};
use crate::graph::Node;
use crate::tile::with_dtype;

/// How a stored variable is packed: the values that mean "missing", and the linear map
/// from stored to physical values.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Packing {
    /// The fill values (xarray's `_FillValue`), each with where it is compared.
    fills: Vec<(Scalar, Compared)>,
    /// The `missing_value`s.
    missing_values: Vec<Scalar>,
    scale_factor: Option<f64>,
    add_offset: Option<f64>,
    /// What `_Unsigned` says the stored integers hold, if it says.
    signedness: Option<Signedness>,
}

/// The integers that `_Unsigned` says are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Signedness {
    /// `"true"`: signed integers hold unsigned values.
    Unsigned,
    /// `"false"`: unsigned integers hold signed values.
    Signed,
}

/// The fill value xarray masks by, and where the store gives it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum CfFill {
    /// The array's own `fill_value` (Zarr v2): a value of the stored type.
    Metadata(Json),
    /// The `_FillValue` attribute.
    Attribute(Json),
}

impl CfFill {
    /// The fill value.
    pub(crate) fn value(&self) -> &Json {
        match self {
            CfFill::Metadata(value) | CfFill::Attribute(value) => value,
        }
    }
}

/// Where a value that means "missing" is compared with the stored elements.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Compared {
    /// In the stored type.
    Stored,
    /// In the type `_Unsigned` reinterprets them as (the stored type where it does not).
    Viewed,
}

impl Packing {
    /// The packing that `fill` (the fill value xarray masks by, if any) and the CF
    /// attributes `missing_value`, `scale_factor`, `add_offset` and `_Unsigned` describe.
    pub(crate) fn read(fill: Option<&CfFill>, attributes: &Map<String, Json>) -> Result<Packing> {
        let scalars = |value: Option<&Json>| -> Result<Vec<Scalar>> {
            let values = value.map(as_list).unwrap_or_default();
            values
                .into_iter()
                .map(|v| scalar(v).ok_or_else(|| bad("a fill value", v)))
                .collect()
        };
        let number = |name: &str| -> Result<Option<f64>> {
            let Some(value) = attributes.get(name) else {
                return Ok(None);
            };
            match as_list(value).as_slice() {
                [v] => match scalar(v) {
                    Some(Scalar::Float(f)) => Ok(Some(f)),
                    Some(Scalar::Int(i)) => Ok(Some(i as f64)),
                    Some(Scalar::UInt(u)) => Ok(Some(u as f64)),
                    _ => Err(bad(name, value)),
                },
                _ => Err(bad(name, value)),
            }
        };
        let signedness = match attributes.get("_Unsigned").and_then(Json::as_str) {
            Some("true") => Some(Signedness::Unsigned),
            Some("false") => Some(Signedness::Signed),
            _ => None,
        };
        // An attribute's fill value of unsigned integers that hold signed ones is signed;
        // any other is of the stored type.
        let compared = match (fill, signedness) {
            (Some(CfFill::Attribute(_)), Some(Signedness::Signed)) => Compared::Viewed,
            _ => Compared::Stored,
        };
        let fills = scalars(fill.map(CfFill::value))?;
        Ok(Packing {
            fills: fills.into_iter().map(|f| (f, compared)).collect(),
            missing_values: scalars(attributes.get("missing_value"))?,
            scale_factor: number("scale_factor")?,
            add_offset: number("add_offset")?,
            signedness,
        })
    }

    /// The physical values of `stored` (any element type) as `T`. A fill value that the
    /// type it is compared in cannot hold, where `_Unsigned` reinterprets the integers, is
    /// refused, as xarray (NumPy's `OverflowError`) refuses it.
    pub(crate) fn decode<T: FloatElement>(&self, stored: &Arc<Node>) -> Result<Array<T>> {
        let viewed = self.viewed_type(stored.dtype);
        if viewed != stored.dtype {
            for &(fill, compared) in &self.fills {
                let dtype = match compared {
                    Compared::Stored => stored.dtype,
                    Compared::Viewed => viewed,
                };
                if !with_dtype!(dtype, X => in_type::<X>(fill).is_some()) {
                    return Err(Error::Build(BuildError::InvalidArgument {
                        op: "decode_cf".into(),
                        reason: format!(
                            "the fill value {} does not fit {dtype}, the type that \
                             _Unsigned makes it a value of",
                            as_f64(fill)
                        ),
                    }));
                }
            }
        }
        Ok(
            with_dtype!(stored.dtype, S => self.decode_typed::<S, T>(Array::from_node(stored.clone()))),
        )
    }

    /// The type `_Unsigned` reads integers of type `stored` as: the integer type of the
    /// same width and the other signedness, or `stored` itself where it does not apply.
    fn viewed_type(&self, stored: DType) -> DType {
        use DType::{I8, I16, I32, I64, U8, U16, U32, U64};
        use Signedness::{Signed, Unsigned};
        match (self.signedness, stored) {
            (Some(Unsigned), I8) => U8,
            (Some(Unsigned), I16) => U16,
            (Some(Unsigned), I32) => U32,
            (Some(Unsigned), I64) => U64,
            (Some(Signed), U8) => I8,
            (Some(Signed), U16) => I16,
            (Some(Signed), U32) => I32,
            (Some(Signed), U64) => I64,
            _ => stored,
        }
    }

    /// Decodes `stored`, its integers first reinterpreted as `_Unsigned` says.
    fn decode_typed<S: Element, T: FloatElement>(&self, stored: Array<S>) -> Array<T> {
        let viewed = self.viewed_type(S::DTYPE);
        if viewed == S::DTYPE {
            return self.decode_as::<S, S, T>(stored);
        }
        match viewed {
            DType::U8 => self.decode_as::<S, u8, T>(stored),
            DType::U16 => self.decode_as::<S, u16, T>(stored),
            DType::U32 => self.decode_as::<S, u32, T>(stored),
            DType::U64 => self.decode_as::<S, u64, T>(stored),
            DType::I8 => self.decode_as::<S, i8, T>(stored),
            DType::I16 => self.decode_as::<S, i16, T>(stored),
            DType::I32 => self.decode_as::<S, i32, T>(stored),
            DType::I64 => self.decode_as::<S, i64, T>(stored),
            other => unreachable!("_Unsigned reinterprets integers as integers, not {other}"),
        }
    }

    /// Decodes `stored` viewed as `V` (an integer type of the same width, or `S` itself).
    fn decode_as<S: Element, V: Element, T: FloatElement>(&self, stored: Array<S>) -> Array<T> {
        // Between integers of one width, `as` keeps the bits.
        let viewed = stored.astype::<V>();
        let missing = (self.fills.iter().copied())
            .chain(self.missing_values.iter().map(|&m| (m, Compared::Viewed)));
        let mut is_missing: Option<Array<bool>> = None;
        for (value, compared) in missing {
            let equal = match compared {
                Compared::Stored => equal_to(&stored, value),
                Compared::Viewed => equal_to(&viewed, value),
            };
            let Some(equal) = equal else { continue };
            is_missing = Some(match is_missing {
                Some(m) => &m | &equal,
                None => equal,
            });
        }
        let mut values = viewed.astype::<T>();
        if let Some(scale) = self.scale_factor {
            values = values * T::from_f64(scale);
        }
        if let Some(offset) = self.add_offset {
            values = values + T::from_f64(offset);
        }
        match is_missing {
            Some(m) => where_(&m, T::nan(), &values),
            None => values,
        }
    }
}

/// Where `array` equals `value` as NumPy compares them (see [`in_type`]; NaN matches NaN);
/// `None` where its type cannot hold `value`, so that nothing matches.
fn equal_to<E: Element>(array: &Array<E>, value: Scalar) -> Option<Array<bool>> {
    let value = in_type::<E>(value)?;
    Some(match E::is_nan(value) {
        true => array.not_equal(array),
        false => array.equal(value),
    })
}

/// `fill` as a value of `S`, compared as NumPy compares an array of `S` with it: rounded to
/// `S` for floats; for integers and booleans only if `S` holds it exactly.
fn in_type<S: Element>(fill: Scalar) -> Option<S> {
    let value = S::from_scalar(fill);
    if matches!(S::DTYPE, DType::F32 | DType::F64) {
        return Some(value);
    }
    let exact = match (fill, value.to_scalar()) {
        (Scalar::Float(f), back) => f.fract() == 0.0 && as_f64(back) == f,
        (Scalar::Bool(b), back) => as_f64(back) == f64::from(u8::from(b)),
        (given, back) => as_i128(given) == as_i128(back),
    };
    exact.then_some(value)
}

fn as_f64(s: Scalar) -> f64 {
    match s {
        Scalar::Bool(b) => f64::from(u8::from(b)),
        Scalar::Int(i) => i as f64,
        Scalar::UInt(u) => u as f64,
        Scalar::Float(f) => f,
    }
}

/// An integer or boolean scalar as i128 (floats are never compared this way).
fn as_i128(s: Scalar) -> Option<i128> {
    match s {
        Scalar::Bool(b) => Some(i128::from(b)),
        Scalar::Int(i) => Some(i128::from(i)),
        Scalar::UInt(u) => Some(i128::from(u)),
        Scalar::Float(_) => None,
    }
}

/// A JSON value, or each element of a JSON list.
fn as_list(value: &Json) -> Vec<&Json> {
    match value {
        Json::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// A fill value as [`scalar`] reads it, integers kept exact.
pub(crate) fn fill_of(value: &Json) -> Option<FillValue> {
    Some(match scalar(value)? {
        Scalar::Bool(b) => FillValue::Integer(b.into()),
        Scalar::Int(i) => FillValue::Integer(i.into()),
        Scalar::UInt(u) => FillValue::Integer(u.into()),
        Scalar::Float(f) => FillValue::Float(f),
    })
}

/// A number as Zarr and xarray write it in JSON: a number, `true`/`false`, `"NaN"`,
/// `"Infinity"`, `"-Infinity"`, a hex string of the float's bits (`"0x7fc00000"`, Zarr v3),
/// or base64 of its little-endian f64 bytes (xarray's v3 `_FillValue` for floats).
fn scalar(value: &Json) -> Option<Scalar> {
    match value {
        Json::Bool(b) => Some(Scalar::Bool(*b)),
        Json::Number(n) => n
            .as_i64()
            .map(Scalar::Int)
            .or_else(|| n.as_u64().map(Scalar::UInt))
            .or_else(|| n.as_f64().map(Scalar::Float)),
        Json::String(s) => match s.as_str() {
            "NaN" => Some(Scalar::Float(f64::NAN)),
            "Infinity" => Some(Scalar::Float(f64::INFINITY)),
            "-Infinity" => Some(Scalar::Float(f64::NEG_INFINITY)),
            hex if hex.starts_with("0x") => {
                let bits = u64::from_str_radix(&hex[2..], 16).ok()?;
                match hex.len() - 2 {
                    8 => Some(Scalar::Float(f64::from(f32::from_bits(bits as u32)))),
                    16 => Some(Scalar::Float(f64::from_bits(bits))),
                    _ => None,
                }
            }
            encoded => {
                let bytes: [u8; 8] = base64_decode(encoded)?.try_into().ok()?;
                Some(Scalar::Float(f64::from_le_bytes(bytes)))
            }
        },
        _ => None,
    }
}

fn bad(what: &str, value: &Json) -> Error {
    Error::Build(BuildError::InvalidArgument {
        op: "decode_cf".into(),
        reason: format!("{what} of {value} is not a number"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fill_values_are_read_in_every_form_zarr_and_xarray_write() {
        assert_eq!(scalar(&json!(-32767)), Some(Scalar::Int(-32767)));
        assert_eq!(scalar(&json!(u64::MAX)), Some(Scalar::UInt(u64::MAX)));
        assert_eq!(scalar(&json!(1.5)), Some(Scalar::Float(1.5)));
        assert!(matches!(scalar(&json!("NaN")), Some(Scalar::Float(f)) if f.is_nan()));
        assert_eq!(
            scalar(&json!("-Infinity")),
            Some(Scalar::Float(f64::NEG_INFINITY))
        );
        // xarray: base64.standard_b64encode(struct.pack("<d", nan)) == b"AAAAAAAA+H8="
        assert!(matches!(scalar(&json!("AAAAAAAA+H8=")), Some(Scalar::Float(f)) if f.is_nan()));
        // struct.pack("<d", -9999.0)
        let b64 = "AAAAAICHw8A=";
        assert_eq!(scalar(&json!(b64)), Some(Scalar::Float(-9999.0)));
        assert_eq!(scalar(&json!("0x3fc00000")), Some(Scalar::Float(1.5)));
        assert_eq!(
            scalar(&json!("0x3ff8000000000000")),
            Some(Scalar::Float(1.5))
        );
        assert_eq!(scalar(&json!("abc")), None);
    }

    #[test]
    fn integer_fill_values_match_only_what_the_type_holds() {
        assert_eq!(in_type::<i16>(Scalar::Int(-32767)), Some(-32767));
        assert_eq!(in_type::<i16>(Scalar::Float(-32767.0)), Some(-32767));
        assert_eq!(in_type::<i16>(Scalar::Int(40000)), None);
        assert_eq!(in_type::<i16>(Scalar::Float(0.5)), None);
        assert_eq!(in_type::<u8>(Scalar::Int(-1)), None);
        assert_eq!(in_type::<u64>(Scalar::UInt(u64::MAX)), Some(u64::MAX));
        // Floats are rounded to the stored type, as NumPy compares them.
        assert_eq!(
            in_type::<f32>(Scalar::Float(9.969209968386869e36)),
            Some(9.96921e36_f32)
        );
    }

    #[test]
    fn unsigned_is_read_from_the_two_strings_xarray_reads() {
        let signedness = |value: Json| {
            let attributes = json!({ "_Unsigned": value });
            Packing::read(None, attributes.as_object().unwrap())
                .unwrap()
                .signedness
        };
        assert_eq!(signedness(json!("true")), Some(Signedness::Unsigned));
        assert_eq!(signedness(json!("false")), Some(Signedness::Signed));
        for ignored in [json!(true), json!("TRUE"), json!("yes")] {
            assert_eq!(signedness(ignored), None);
        }
    }

    #[test]
    fn attributes_are_read_as_numbers_or_refused() {
        let attributes = |v: Json| v.as_object().unwrap().clone();
        let p = Packing::read(
            Some(&CfFill::Metadata(json!(-32767))),
            &attributes(
                json!({"scale_factor": 0.01, "add_offset": [273], "missing_value": [-1, -2]}),
            ),
        )
        .unwrap();
        assert_eq!(p.fills, [(Scalar::Int(-32767), Compared::Stored)]);
        assert_eq!(p.missing_values, [Scalar::Int(-1), Scalar::Int(-2)]);
        assert_eq!((p.scale_factor, p.add_offset), (Some(0.01), Some(273.0)));
        assert_eq!(
            Packing::read(None, &Map::new()).unwrap(),
            Packing::default()
        );
        let e = Packing::read(None, &attributes(json!({"scale_factor": "big"}))).unwrap_err();
        assert!(e.to_string().contains("scale_factor"), "{e}");
    }
}

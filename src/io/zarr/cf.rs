//! Decoding of CF-packed variables, as xarray's `decode_cf` (`mask_and_scale`) does on read:
//! elements equal to the fill value or to a `missing_value` become NaN, and the others are
//! unpacked as `stored * scale_factor + add_offset`.
//!
//! The fill value is the one xarray masks by: the array's `fill_value` in Zarr v2 (its
//! `_FillValue` attribute where that is null), the `_FillValue` attribute in v3 (numbers, `"NaN"`-style strings, or floats as base64 of
//! their little-endian f64 bytes, as xarray writes them). Fill values are compared in the
//! stored type, as NumPy compares them: rounded to it for floats, by exact value for
//! integers (a fill value an integer type cannot hold matches nothing). Signed integers
//! with `_Unsigned = "true"` (netCDF-3's unsigned bytes) are read as unsigned.

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
    missing: Vec<Scalar>,
    scale_factor: Option<f64>,
    add_offset: Option<f64>,
    /// `_Unsigned = "true"`: signed integers hold unsigned values (netCDF-3's bytes).
    unsigned: bool,
}

impl Packing {
    /// The packing that `fill` (the fill value xarray masks by, if any) and the CF
    /// attributes `missing_value`, `scale_factor` and `add_offset` describe.
    pub(crate) fn read(fill: Option<&Json>, attributes: &Map<String, Json>) -> Result<Packing> {
        let mut missing = Vec::new();
        for value in fill.into_iter().chain(attributes.get("missing_value")) {
            for v in as_list(value) {
                missing.push(scalar(v).ok_or_else(|| bad("a fill value", v))?);
            }
        }
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
        let unsigned = match attributes.get("_Unsigned") {
            Some(Json::String(s)) => s.eq_ignore_ascii_case("true"),
            Some(Json::Bool(b)) => *b,
            _ => false,
        };
        Ok(Packing {
            missing,
            scale_factor: number("scale_factor")?,
            add_offset: number("add_offset")?,
            unsigned,
        })
    }

    /// The physical values of `stored` (any element type) as `T`.
    pub(crate) fn decode<T: FloatElement>(&self, stored: &Arc<Node>) -> Array<T> {
        with_dtype!(stored.dtype, S => self.decode_typed::<S, T>(Array::from_node(stored.clone())))
    }

    fn decode_typed<S: Element, T: FloatElement>(&self, stored: Array<S>) -> Array<T> {
        let mut is_missing: Option<Array<bool>> = None;
        for &fill in &self.missing {
            let Some(fill) = in_type::<S>(fill) else {
                continue;
            };
            let equal = match S::is_nan(fill) {
                true => stored.not_equal(&stored),
                false => stored.equal(fill),
            };
            is_missing = Some(match is_missing {
                Some(m) => &m | &equal,
                None => equal,
            });
        }
        // Compared in the stored type: the unsigned view of a signed integer is a
        // bijection, so its fill values match the same elements.
        let mut values = match (self.unsigned, S::DTYPE) {
            (true, DType::I8) => stored.astype::<u8>().astype::<T>(),
            (true, DType::I16) => stored.astype::<u16>().astype::<T>(),
            (true, DType::I32) => stored.astype::<u32>().astype::<T>(),
            (true, DType::I64) => stored.astype::<u64>().astype::<T>(),
            _ => stored.astype::<T>(),
        };
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
    fn attributes_are_read_as_numbers_or_refused() {
        let attributes = |v: Json| v.as_object().unwrap().clone();
        let p = Packing::read(
            Some(&json!(-32767)),
            &attributes(
                json!({"scale_factor": 0.01, "add_offset": [273], "missing_value": [-1, -2]}),
            ),
        )
        .unwrap();
        assert_eq!(
            p.missing,
            [Scalar::Int(-32767), Scalar::Int(-1), Scalar::Int(-2)]
        );
        assert_eq!((p.scale_factor, p.add_offset), (Some(0.01), Some(273.0)));
        assert_eq!(
            Packing::read(None, &Map::new()).unwrap(),
            Packing::default()
        );
        let e = Packing::read(None, &attributes(json!({"scale_factor": "big"}))).unwrap_err();
        assert!(e.to_string().contains("scale_factor"), "{e}");
    }
}

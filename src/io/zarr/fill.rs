//! Fill values as zarr-python and xarray read them.
//!
//! Defaults follow zarr-python 3.1 for v3 (`0`, `0.0`, `false`). In v2, xarray takes the
//! array's `fill_value` as netCDF's `_FillValue` and masks equal elements as missing, so a
//! default of `0.0` would turn real zeros into NaN: the v2 default is `null` (no fill value,
//! which the v2 specification allows; missing chunks then read as zeros). In v3 xarray masks
//! by the `_FillValue` attribute instead, so a fill value the user asks for is also written
//! there, encoded as xarray encodes it.

use serde_json::{Value as Json, json};

use super::metadata::ZarrVersion;
use crate::error::{BuildError, Error, Result};
use chunkwise_kernels::dtype::DType;

/// A fill value to write (see [`WriteOptions::fill_value`](super::WriteOptions::fill_value)),
/// and the one an array is stored with (see [`StoredFormat`](super::StoredFormat)): a float,
/// or an integer kept exact (an `f64` rounds the 64-bit integers beyond 2^53, such as
/// netCDF's default int64 fill value, -9223372036854775806).
///
/// ```
/// use chunkwise::io::zarr::FillValue;
/// assert_eq!(FillValue::from(-1.5), FillValue::Float(-1.5));
/// let netcdf = FillValue::from(-9223372036854775806i64);
/// assert_eq!(netcdf, FillValue::Integer(-9223372036854775806));
/// assert_eq!(netcdf.to_string(), "-9223372036854775806");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FillValue {
    /// A float (NaN and the infinities included).
    Float(f64),
    /// An integer (`true` and `false` are 1 and 0).
    Integer(i128),
}

impl From<f64> for FillValue {
    fn from(value: f64) -> FillValue {
        FillValue::Float(value)
    }
}

impl From<f32> for FillValue {
    fn from(value: f32) -> FillValue {
        FillValue::Float(value.into())
    }
}

impl From<bool> for FillValue {
    fn from(value: bool) -> FillValue {
        FillValue::Integer(value.into())
    }
}

/// `From` for each integer type.
macro_rules! integer_fill_values {
    ($($int:ty),*) => {$(
        impl From<$int> for FillValue {
            fn from(value: $int) -> FillValue {
                FillValue::Integer(value.into())
            }
        }
    )*};
}
integer_fill_values!(i8, i16, i32, i64, u8, u16, u32, u64);

impl std::fmt::Display for FillValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FillValue::Float(value) => write!(f, "{value}"),
            FillValue::Integer(value) => write!(f, "{value}"),
        }
    }
}

impl FillValue {
    /// The value as a float (rounded, for integers beyond 2^53).
    pub fn as_f64(self) -> f64 {
        match self {
            FillValue::Float(value) => value,
            FillValue::Integer(value) => value as f64,
        }
    }

    /// The value as an integer, if it is one exactly.
    fn as_integer(self) -> Option<i128> {
        match self {
            // Exact: an f64 with no fraction converts to i128 without rounding (an infinity
            // or NaN has none, and saturates or gives 0: refused by the fraction test).
            FillValue::Float(value) => (value.fract() == 0.0).then_some(value as i128),
            FillValue::Integer(value) => Some(value),
        }
    }

    /// Whether the two are the same value: NaN is NaN, and `-1.0` is `-1`.
    pub(crate) fn same_as(self, other: FillValue) -> bool {
        match (self, other) {
            (FillValue::Float(a), FillValue::Float(b)) => a == b || (a.is_nan() && b.is_nan()),
            (a, b) => a.as_integer().is_some_and(|a| Some(a) == b.as_integer()),
        }
    }
}

/// The error for a fill value the element type cannot hold.
fn unrepresentable(value: FillValue, dtype: DType) -> Error {
    Error::Build(BuildError::InvalidArgument {
        op: "to_zarr".into(),
        reason: format!(
            "fill value {value} is not a value of element type {}",
            dtype.name()
        ),
    })
}

/// `value` as an integer of `dtype`'s range, if it is one.
fn integer_in(value: FillValue, dtype: DType) -> Option<i128> {
    let (min, max): (i128, i128) = match dtype {
        DType::I8 => (i8::MIN.into(), i8::MAX.into()),
        DType::I16 => (i16::MIN.into(), i16::MAX.into()),
        DType::I32 => (i32::MIN.into(), i32::MAX.into()),
        DType::I64 => (i64::MIN.into(), i64::MAX.into()),
        DType::U8 => (0, u8::MAX.into()),
        DType::U16 => (0, u16::MAX.into()),
        DType::U32 => (0, u32::MAX.into()),
        DType::U64 => (0, u64::MAX.into()),
        DType::Bool => (0, 1),
        _ => return None,
    };
    value.as_integer().filter(|int| (min..=max).contains(int))
}

/// A float in Zarr's JSON form (`"NaN"`, `"Infinity"`, `"-Infinity"` or a number).
fn float_json(value: f64) -> Json {
    if value.is_nan() {
        json!("NaN")
    } else if value.is_infinite() {
        json!(if value > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(value)
    }
}

/// The checked fill value of `dtype`: the float itself or the integer it equals.
enum Fill {
    Float(f64),
    Int(i128),
    Bool(bool),
}

fn checked(value: FillValue, dtype: DType) -> Result<Fill> {
    match dtype {
        DType::F64 => Ok(Fill::Float(value.as_f64())),
        // Rounded to the nearest f32, as NumPy does; the value written is that f32.
        DType::F32 => Ok(Fill::Float(f64::from(value.as_f64() as f32))),
        DType::Bool => integer_in(value, dtype)
            .map(|i| Fill::Bool(i == 1))
            .ok_or_else(|| unrepresentable(value, dtype)),
        _ => integer_in(value, dtype)
            .map(Fill::Int)
            .ok_or_else(|| unrepresentable(value, dtype)),
    }
}

/// The `fill_value` of the array metadata.
pub(crate) fn fill_value_json(
    dtype: DType,
    version: ZarrVersion,
    value: Option<FillValue>,
) -> Result<Json> {
    let Some(value) = value else {
        return Ok(match (version, dtype) {
            (ZarrVersion::V2, _) => Json::Null,
            (ZarrVersion::V3, DType::Bool) => json!(false),
            (ZarrVersion::V3, DType::F32 | DType::F64) => json!(0.0),
            (ZarrVersion::V3, _) => json!(0),
        });
    };
    Ok(match checked(value, dtype)? {
        Fill::Float(f) => float_json(f),
        Fill::Int(i) => int_json(i),
        Fill::Bool(b) => json!(b),
    })
}

/// The `_FillValue` attribute xarray reads in v3 for a fill value the user set: floats as
/// base64 of their little-endian f64 bytes, integers and booleans as themselves.
pub(crate) fn xarray_fill_attribute(dtype: DType, value: FillValue) -> Result<Json> {
    Ok(match checked(value, dtype)? {
        Fill::Float(f) => json!(base64(&f.to_le_bytes())),
        Fill::Int(i) => int_json(i),
        Fill::Bool(b) => json!(b),
    })
}

/// An integer in range of i64 or u64 as JSON (checked by [`integer_in`]).
fn int_json(i: i128) -> Json {
    match i64::try_from(i) {
        Ok(n) => json!(n),
        Err(_) => json!(u64::try_from(i).unwrap_or(u64::MAX)),
    }
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= group.len() {
                out.push(ALPHABET[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 (with padding) decoded, if `text` is that: the inverse of [`base64`]
/// (xarray's v3 `_FillValue` of floats, read by `cf`).
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let text = text.as_bytes();
    if text.is_empty() || !text.len().is_multiple_of(4) {
        return None;
    }
    let groups = text.len() / 4;
    let mut out = Vec::with_capacity(groups * 3);
    for (g, group) in text.chunks(4).enumerate() {
        // At most two `=`, and only at the end of the text.
        let pad = group.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && g + 1 < groups) {
            return None;
        }
        let mut n = 0u32;
        for &c in &group[..4 - pad] {
            n = (n << 6) | digit(c)?;
        }
        n <<= 6 * pad as u32;
        out.extend_from_slice(&n.to_be_bytes()[1..4 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_is_encoded_as_xarray_does() {
        // xarray: base64.standard_b64encode(struct.pack("<d", nan)) == b"AAAAAAAA+H8="
        assert_eq!(
            xarray_fill_attribute(DType::F32, f64::NAN.into()).unwrap(),
            json!("AAAAAAAA+H8=")
        );
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64_decode("YWI="), Some(b"ab".to_vec()));
        assert_eq!(base64_decode("YWJj"), Some(b"abc".to_vec()));
        // Text that is not base64 (as a corrupt `_FillValue` may hold) is refused.
        for bad in ["====", "A===", "YQ==YWJj", "YW=j", "YWJ", "YW!j"] {
            assert_eq!(base64_decode(bad), None, "{bad}");
        }
        assert_eq!(
            base64_decode(&base64(&(-9999.0f64).to_le_bytes())),
            Some((-9999.0f64).to_le_bytes().to_vec())
        );
    }

    #[test]
    fn defaults_follow_zarr_python_and_spare_v2_zeros() {
        let v3 = |d| fill_value_json(d, ZarrVersion::V3, None).unwrap();
        assert_eq!(v3(DType::F64), json!(0.0));
        assert_eq!(v3(DType::I32), json!(0));
        assert_eq!(v3(DType::Bool), json!(false));
        assert_eq!(
            fill_value_json(DType::F64, ZarrVersion::V2, None).unwrap(),
            Json::Null
        );
    }

    #[test]
    fn values_are_checked_against_the_type() {
        let v2 = |d, v: FillValue| fill_value_json(d, ZarrVersion::V2, Some(v));
        assert_eq!(v2(DType::F64, f64::NAN.into()).unwrap(), json!("NaN"));
        assert_eq!(v2(DType::I16, (-9999.0).into()).unwrap(), json!(-9999));
        assert_eq!(v2(DType::I16, (-9999).into()).unwrap(), json!(-9999));
        assert!(v2(DType::U64, (u64::MAX as f64).into()).is_err());
        assert!(v2(DType::U8, 256.0.into()).is_err());
        assert!(v2(DType::I32, 0.5.into()).is_err());
        assert!(v2(DType::I32, f64::NAN.into()).is_err());
        assert!(v2(DType::I32, f64::INFINITY.into()).is_err());
        assert_eq!(v2(DType::Bool, 1.0.into()).unwrap(), json!(true));
        assert_eq!(v2(DType::Bool, true.into()).unwrap(), json!(true));
        // 64-bit integers exactly, which an f64 would round to a neighbour.
        let netcdf = -9_223_372_036_854_775_806i64;
        assert_eq!(v2(DType::I64, netcdf.into()).unwrap(), json!(netcdf));
        assert_eq!(v2(DType::U64, u64::MAX.into()).unwrap(), json!(u64::MAX));
        assert!(v2(DType::I64, u64::MAX.into()).is_err());
        // An integer for a float array is that float.
        assert_eq!(v2(DType::F64, (-1).into()).unwrap(), json!(-1.0));
    }

    #[test]
    fn fill_values_are_the_same_as_numbers() {
        let same = |a: FillValue, b: FillValue| a.same_as(b) && b.same_as(a);
        assert!(same(f64::NAN.into(), f64::NAN.into()));
        assert!(same((-1.0).into(), (-1).into()));
        assert!(!same(0.5.into(), 0.into()));
        assert!(!same(f64::NAN.into(), 0.into()));
        assert!(!same(
            (-(2f64.powi(63))).into(),
            (-9_223_372_036_854_775_806i64).into()
        ));
    }
}

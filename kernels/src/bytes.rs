//! Fixed-width little-endian encodings of elements and reduction states, so that tiles and
//! partial results can leave the process (a multi-process executor sends them).
//!
//! The encoding of a type never changes once released: it is part of the tile layout that
//! `chunkwise::tile` versions.

/// A value with an encoding of exactly [`FixedBytes::LEN`] bytes.
///
/// ```
/// use chunkwise_kernels::bytes::FixedBytes;
/// let mut out = Vec::new();
/// (-2.5f64).put(&mut out);
/// true.put(&mut out);
/// assert_eq!(out.len(), f64::LEN + bool::LEN);
/// assert_eq!(f64::take(&out[..8]), Some(-2.5));
/// assert_eq!(bool::take(&out[8..]), Some(true));
/// assert_eq!(bool::take(&[7]), None, "a bool is 0 or 1");
/// ```
pub trait FixedBytes: Sized {
    /// Bytes of one encoded value.
    const LEN: usize;
    /// Appends the encoding of `self` to `out`.
    fn put(&self, out: &mut Vec<u8>);
    /// The value encoded in `bytes` (exactly [`FixedBytes::LEN`] of them), or `None` if they
    /// encode no value of the type.
    fn take(bytes: &[u8]) -> Option<Self>;
}

macro_rules! fixed_bytes_le {
    ($($t:ty),*) => {$(
        impl FixedBytes for $t {
            const LEN: usize = size_of::<$t>();
            #[inline]
            fn put(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            #[inline]
            fn take(bytes: &[u8]) -> Option<Self> {
                Some(<$t>::from_le_bytes(bytes.try_into().ok()?))
            }
        }
    )*};
}
fixed_bytes_le!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);

impl FixedBytes for bool {
    const LEN: usize = 1;
    fn put(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
    fn take(bytes: &[u8]) -> Option<Self> {
        match bytes {
            [0] => Some(false),
            [1] => Some(true),
            _ => None,
        }
    }
}

/// Implements [`FixedBytes`] for a struct as its fields in order.
macro_rules! fixed_bytes_fields {
    ($name:ident $(<$g:ident>)? { $($field:ident: $ft:ty),* $(,)? }) => {
        impl$(<$g: $crate::bytes::FixedBytes>)? $crate::bytes::FixedBytes for $name$(<$g>)? {
            const LEN: usize = 0 $(+ <$ft as $crate::bytes::FixedBytes>::LEN)*;
            fn put(&self, out: &mut Vec<u8>) {
                $(self.$field.put(out);)*
            }
            fn take(bytes: &[u8]) -> Option<Self> {
                if bytes.len() != Self::LEN {
                    return None;
                }
                let mut at = 0;
                $(
                    let end = at + <$ft as $crate::bytes::FixedBytes>::LEN;
                    let $field = <$ft as $crate::bytes::FixedBytes>::take(&bytes[at..end])?;
                    #[allow(unused_assignments)]
                    {
                        at = end;
                    }
                )*
                Some($name { $($field),* })
            }
        }
    };
}
pub(crate) use fixed_bytes_fields;

/// Appends the encodings of `values` to `out`.
pub fn put_all<T: FixedBytes>(values: &[T], out: &mut Vec<u8>) {
    out.reserve(values.len() * T::LEN);
    for v in values {
        v.put(out);
    }
}

/// The values encoded back to back in `bytes`, or `None` if its length is not a multiple of
/// [`FixedBytes::LEN`] or a value does not decode.
pub fn take_all<T: FixedBytes>(bytes: &[u8]) -> Option<Vec<T>> {
    if T::LEN == 0 || !bytes.len().is_multiple_of(T::LEN) {
        return None;
    }
    bytes.chunks_exact(T::LEN).map(T::take).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Pair<T> {
        a: T,
        n: u64,
    }
    fixed_bytes_fields!(Pair<T> { a: T, n: u64 });

    #[test]
    fn values_and_structs_round_trip_little_endian() {
        let mut out = Vec::new();
        0x0102_0304u32.put(&mut out);
        assert_eq!(out, [4, 3, 2, 1], "little-endian");
        let pairs = vec![Pair { a: -1.5f32, n: 7 }, Pair { a: f32::NAN, n: 0 }];
        let mut out = Vec::new();
        put_all(&pairs, &mut out);
        assert_eq!(out.len(), 2 * (4 + 8));
        let back: Vec<Pair<f32>> = take_all(&out).unwrap();
        assert_eq!(back[0], pairs[0]);
        assert!(back[1].a.is_nan() && back[1].n == 0);
        assert!(take_all::<Pair<f32>>(&out[1..]).is_none(), "a torn record");
        assert!(take_all::<bool>(&[0, 1, 2]).is_none(), "2 is no bool");
    }
}

//! Metadata documents with bare `NaN`, `Infinity` and `-Infinity`.
//!
//! zarr-python writes its JSON with Python's `json.dumps(allow_nan=True)`, so a float
//! attribute that is not finite (`valid_max = nan`, a netCDF `missing_value` of NaN) is
//! stored as a bare token, which is not JSON: zarrs, like every strict parser, refuses the
//! whole document, and with it the array or the group (and a consolidated `.zmetadata` that
//! holds it). Reading, each bare token outside strings becomes the string of the same
//! spelling, the one the Zarr v3 specification gives such fill values (`"NaN"`), which
//! chunkwise's CF decoding reads as the float.
//!
//! Where chunkwise rewrites a stored document itself (an append's new shape, consolidated
//! metadata) or copies an array's attributes to another (`AnyArray::attributes_to_copy`),
//! the values stay as stored: [`Spelling::Marked`] quotes the bare tokens, and integers
//! beyond 64 bits (which a JSON value would hold as a float), with a marker that [`unmark`]
//! turns back into the token after serialising.

use std::borrow::Cow;

use zarrs::storage::byte_range::{ByteRange, ByteRangeIterator};
use zarrs::storage::{
    Bytes, ListableStorageTraits, MaybeBytesIterator, OffsetBytesIterator, ReadableStorageTraits,
    ReadableWritableListableStorage, StorageError, StoreKey, StoreKeys, StoreKeysPrefixes,
    StorePrefix, WritableStorageTraits,
};

use super::store::slices;

/// The bare tokens, longest first where one starts another.
const TOKENS: [&str; 3] = ["-Infinity", "Infinity", "NaN"];

/// What [`Spelling::Marked`] puts before a bare token: a control character (which a JSON
/// document escapes, so it is `\u0001` serialised) and a number drawn once per process, so
/// that no string a document holds is taken for a marked token.
fn mark() -> &'static str {
    static MARK: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    MARK.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let nonce = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        format!("\u{1}{nonce:016x}:")
    })
}

/// [`mark`] as serialised JSON spells it.
fn mark_escaped() -> String {
    mark().replace('\u{1}', "\\u0001")
}

/// How [`quote`] spells a bare token as a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Spelling {
    /// `NaN` becomes `"NaN"`: what readers see.
    Plain,
    /// `NaN` becomes a marked string that [`unmark`] turns back into `NaN`.
    Marked,
}

/// Whether `key` names a metadata document (v3 `zarr.json`; v2 `.zarray`, `.zgroup`,
/// `.zattrs`, `.zmetadata`).
pub(crate) fn is_metadata_key(key: &str) -> bool {
    let name = key.rsplit('/').next().unwrap_or(key);
    matches!(
        name,
        "zarr.json" | ".zarray" | ".zgroup" | ".zattrs" | ".zmetadata"
    )
}

/// `text` with each bare `NaN`, `Infinity` and `-Infinity` outside strings quoted as
/// `spelling` says, and (when marked) each integer a JSON value cannot hold exactly (beyond
/// 64 bits); borrowed when there is none.
pub(crate) fn quote(text: &[u8], spelling: Spelling) -> Cow<'_, [u8]> {
    let mark = match spelling {
        Spelling::Marked => mark_escaped(),
        Spelling::Plain => String::new(),
    };
    let mut out: Option<Vec<u8>> = None;
    let (mut in_string, mut escaped) = (false, false);
    let mut copied = 0;
    let mut i = 0;
    while i < text.len() {
        let byte = text[i];
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if byte == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        let token = match TOKENS.iter().find(|t| text[i..].starts_with(t.as_bytes())) {
            Some(bare) => Some(bare.len()),
            None if byte == b'-' || byte.is_ascii_digit() => {
                let len = text[i..]
                    .iter()
                    .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                    .unwrap_or(text.len() - i);
                let number = &text[i..i + len];
                let exact = number.iter().any(|b| matches!(b, b'.' | b'e' | b'E'))
                    || std::str::from_utf8(number)
                        .is_ok_and(|n| n.parse::<i64>().is_ok() || n.parse::<u64>().is_ok());
                match spelling == Spelling::Marked && !exact {
                    true => Some(len),
                    false => {
                        i += len;
                        continue;
                    }
                }
            }
            None => None,
        };
        match token {
            Some(len) => {
                let out = out.get_or_insert_with(|| Vec::with_capacity(text.len() + 64));
                out.extend_from_slice(&text[copied..i]);
                out.push(b'"');
                out.extend_from_slice(mark.as_bytes());
                out.extend_from_slice(&text[i..i + len]);
                out.push(b'"');
                i += len;
                copied = i;
            }
            None => i += 1,
        }
    }
    match out {
        Some(mut out) => {
            out.extend_from_slice(&text[copied..]);
            Cow::Owned(out)
        }
        None => Cow::Borrowed(text),
    }
}

/// Serialised JSON with the strings [`Spelling::Marked`] made turned back into the tokens
/// they stand for.
pub(crate) fn unmark(json: String) -> String {
    let start = format!("\"{}", mark_escaped());
    if !json.contains(&start) {
        return json;
    }
    let mut out = String::with_capacity(json.len());
    let mut rest = json.as_str();
    while let Some(at) = rest.find(&start) {
        let token_start = at + start.len();
        // A marked string holds a token and nothing that needs escaping: it ends at the
        // next quote. Anything else (a placeholder a program edited) stays a string.
        let len = rest[token_start..].find('"').unwrap_or(0);
        let token = &rest[token_start..token_start + len];
        let integer = token.strip_prefix('-').unwrap_or(token);
        if TOKENS.contains(&token)
            || (!integer.is_empty() && integer.bytes().all(|b| b.is_ascii_digit()))
        {
            out.push_str(&rest[..at]);
            out.push_str(token);
            rest = &rest[token_start + len + 1..];
        } else {
            out.push_str(&rest[..token_start]);
            rest = &rest[token_start..];
        }
    }
    out.push_str(rest);
    out
}

/// The token a string made by [`Spelling::Marked`] quoting stands for, if it is one.
#[cfg(test)]
fn marked_token(value: &str) -> Option<&str> {
    value.strip_prefix(mark())
}

/// A store whose metadata documents are read with their bare tokens quoted
/// ([`Spelling::Plain`]); everything else passes through unchanged.
pub(crate) struct QuotedFloats(pub(crate) ReadableWritableListableStorage);

impl ReadableStorageTraits for QuotedFloats {
    fn get(&self, key: &StoreKey) -> Result<Option<Bytes>, StorageError> {
        match is_metadata_key(key.as_str()) {
            true => Ok(self
                .0
                .get(key)?
                .map(|value| match quote(&value, Spelling::Plain) {
                    Cow::Borrowed(_) => value,
                    Cow::Owned(quoted) => Bytes::from(quoted),
                })),
            false => self.0.get(key),
        }
    }
    fn get_partial_many<'a>(
        &'a self,
        key: &StoreKey,
        byte_ranges: ByteRangeIterator<'a>,
    ) -> Result<MaybeBytesIterator<'a>, StorageError> {
        if !is_metadata_key(key.as_str()) {
            return self.0.get_partial_many(key, byte_ranges);
        }
        // Documents are read whole; the ranges apply to the quoted text.
        let ranges: Vec<ByteRange> = byte_ranges.collect();
        let Some(value) = self.get(key)? else {
            return Ok(None);
        };
        let parts =
            slices(&value, ranges).map_err(|e| StorageError::Other(format!("{key}: {e}")))?;
        Ok(Some(Box::new(parts.into_iter().map(Ok))))
    }
    fn size_key(&self, key: &StoreKey) -> Result<Option<u64>, StorageError> {
        // A document's size is that of its quoted text: read whole (chunkwise's own
        // checks for a document's presence ask the store as given).
        if is_metadata_key(key.as_str()) {
            return Ok(self.get(key)?.map(|value| value.len() as u64));
        }
        self.0.size_key(key)
    }
    fn supports_get_partial(&self) -> bool {
        self.0.supports_get_partial()
    }
}

impl ListableStorageTraits for QuotedFloats {
    fn list(&self) -> Result<StoreKeys, StorageError> {
        self.0.list()
    }
    fn list_prefix(&self, prefix: &StorePrefix) -> Result<StoreKeys, StorageError> {
        self.0.list_prefix(prefix)
    }
    fn list_dir(&self, prefix: &StorePrefix) -> Result<StoreKeysPrefixes, StorageError> {
        self.0.list_dir(prefix)
    }
    fn size_prefix(&self, prefix: &StorePrefix) -> Result<u64, StorageError> {
        self.0.size_prefix(prefix)
    }
}

impl WritableStorageTraits for QuotedFloats {
    fn set(&self, key: &StoreKey, value: Bytes) -> Result<(), StorageError> {
        // Attributes copied with their placeholders (`AnyArray::attributes_to_copy`) are
        // written as they were stored.
        let value = match is_metadata_key(key.as_str()) {
            true => match String::from_utf8(value.to_vec()) {
                Ok(text) => Bytes::from(unmark(text)),
                Err(_) => value,
            },
            false => value,
        };
        self.0.set(key, value)
    }
    fn set_partial_many(
        &self,
        key: &StoreKey,
        offset_values: OffsetBytesIterator,
    ) -> Result<(), StorageError> {
        self.0.set_partial_many(key, offset_values)
    }
    fn erase(&self, key: &StoreKey) -> Result<(), StorageError> {
        self.0.erase(key)
    }
    fn erase_prefix(&self, prefix: &StorePrefix) -> Result<(), StorageError> {
        self.0.erase_prefix(prefix)
    }
    fn supports_set_partial(&self) -> bool {
        self.0.supports_set_partial()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value as Json, json};

    fn plain(text: &str) -> Json {
        serde_json::from_slice(&quote(text.as_bytes(), Spelling::Plain)).unwrap()
    }

    #[test]
    fn bare_tokens_outside_strings_become_strings_and_nothing_else_changes() {
        let text = r#"{"a": NaN, "b": [Infinity, -Infinity, -1.5e3], "NaN": "x NaN \" Infinity", "c": {"d": NaN}}"#;
        assert_eq!(
            plain(text),
            json!({"a": "NaN", "b": ["Infinity", "-Infinity", -1.5e3],
                   "NaN": "x NaN \" Infinity", "c": {"d": "NaN"}})
        );
        let strict = r#"{"a": "NaN", "b": [1, true, null], "c": "\\"}"#;
        assert!(matches!(
            quote(strict.as_bytes(), Spelling::Plain),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn marked_tokens_are_written_back_bare_and_strings_stay_strings() {
        let text =
            "{\n  \"a\": NaN,\n  \"b\": [\n    -Infinity,\n    \"NaN\"\n  ],\n  \"c\": Infinity\n}";
        let marked: Json =
            serde_json::from_slice(&quote(text.as_bytes(), Spelling::Marked)).unwrap();
        assert_eq!(marked_token(marked["a"].as_str().unwrap()), Some("NaN"));
        assert_eq!(marked["b"][1], json!("NaN"));
        let written = unmark(serde_json::to_string_pretty(&marked).unwrap());
        assert_eq!(written, text);
        // Python reads the bare tokens back as floats: checked by the tests that hand
        // chunkwise's rewrites to zarr-python.
    }

    #[test]
    fn integers_beyond_64_bits_are_marked_and_written_back_as_they_were() {
        let text = r#"{"big":1180591620717411303424,"neg":-18446744073709551617,"max":18446744073709551615,"min":-9223372036854775808,"x":[1.5e+300,-2,0.1],"s":"123456789012345678901234"}"#;
        let marked: Json =
            serde_json::from_slice(&quote(text.as_bytes(), Spelling::Marked)).unwrap();
        let big = marked["big"].as_str().and_then(marked_token);
        assert_eq!(big, Some("1180591620717411303424"));
        assert!(marked["neg"].is_string());
        assert_eq!(marked["max"], json!(u64::MAX));
        assert_eq!(marked["min"], json!(i64::MIN));
        assert_eq!(marked["x"], json!([1.5e300, -2, 0.1]));
        assert_eq!(unmark(serde_json::to_string(&marked).unwrap()), text);
        // Read plainly, they are the floats serde reads.
        assert!(plain(text)["big"].is_f64());
    }

    #[test]
    fn placeholders_a_program_edited_stay_strings() {
        let marked: Json = serde_json::from_slice(&quote(b"[NaN, 1]", Spelling::Marked)).unwrap();
        let edited = format!("{} K", marked[0].as_str().unwrap());
        let written = unmark(serde_json::to_string(&json!([edited, marked[0]])).unwrap());
        assert!(written.ends_with(",NaN]"), "{written}");
        let back: Json =
            serde_json::from_slice(&quote(written.as_bytes(), Spelling::Plain)).expect(&written);
        assert_eq!(back, json!([edited, "NaN"]));
    }

    #[test]
    fn strings_like_the_mark_stay_strings() {
        let text = r#"{"a":NaN,"b":"\u0001NaN"}"#;
        let quoted: Json =
            serde_json::from_slice(&quote(text.as_bytes(), Spelling::Marked)).unwrap();
        let written = unmark(serde_json::to_string(&quoted).unwrap());
        assert_eq!(written, text);
    }

    #[test]
    fn only_metadata_documents_are_read_quoted() {
        for key in [
            "zarr.json",
            "g/a/zarr.json",
            ".zarray",
            "a/.zattrs",
            ".zmetadata",
        ] {
            assert!(is_metadata_key(key), "{key}");
        }
        for key in ["a/c/0/0", "a/0.0", "zarr.json/x", "a/.zarray.tmp"] {
            assert!(!is_metadata_key(key), "{key}");
        }
    }
}

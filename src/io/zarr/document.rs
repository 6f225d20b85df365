//! Metadata documents that chunkwise rewrites itself (an append's new shape, consolidated
//! metadata), kept as their writers wrote them.
//!
//! A [`Document`] holds each top-level field as its JSON text, so a rewrite replaces only the
//! fields it sets and copies every other one verbatim: attributes that a JSON value would
//! change (integers beyond 64 bits, which it reads as floats; zarr-python's bare `NaN`,
//! which it cannot hold) stay as they were, also in the consolidated metadata that embeds
//! other nodes' documents.

use indexmap::IndexMap;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::{RawValue, to_raw_value};
use zarrs::storage::{ReadableStorageTraits, WritableStorageTraits};

use super::bare_floats::{Spelling, quote, unmark};
use super::hierarchy::key;
use super::store::Store;
use crate::error::Result;

/// The top-level fields of a metadata document, in their order, each as its JSON text.
#[derive(Default)]
pub(crate) struct Document {
    fields: IndexMap<String, Box<RawValue>>,
}

impl Document {
    /// The document `name` of the node at `node_path` (`None` if there is none), as stored.
    pub(crate) fn read(store: &Store, node_path: &str, name: &str) -> Result<Option<Document>> {
        Ok(read_stored(store, node_path, name)?.map(|fields| Document { fields }))
    }

    /// The field `name` read as a `T`; `None` if it is missing or is no `T`.
    pub(crate) fn get<T: DeserializeOwned>(&self, name: &str) -> Option<T> {
        serde_json::from_str(self.fields.get(name)?.get()).ok()
    }

    /// Sets the field `name` (in its place if the document has it, else last) to `value`
    /// (numbers, strings, arrays of them, [`Documents`]: see [`raw`]).
    pub(crate) fn set(&mut self, name: &str, value: &impl Serialize) {
        self.fields.insert(name.to_string(), raw(value));
    }

    /// The whole document as one JSON text, to embed in another.
    pub(crate) fn to_raw(&self) -> Box<RawValue> {
        raw(&self.fields)
    }

    /// Writes the document as the key `name` of the node at `node_path`, laid out as one
    /// (see [`pretty`]), also where it embeds documents as their writers laid them out.
    pub(crate) fn write(&self, store: &Store, node_path: &str, name: &str) -> Result<()> {
        let key = key(store, node_path, name)?;
        let text = serde_json::to_string(&self.fields).map_err(|e| store.error(key.as_str(), e))?;
        store
            .raw
            .set(&key, unmark(pretty(&text)).into_bytes().into())
            .map_err(|e| store.error(key.as_str(), e))
    }
}

/// The JSON text `text` laid out as zarr-python and serde_json's pretty printer lay it out:
/// one member or element per line, indented by two spaces per level, `": "` after a key,
/// `{}` and `[]` when empty. Only whitespace outside strings changes: strings, numbers
/// and bare tokens are copied as they are.
fn pretty(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut depth = 0usize;
    let new_line = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n("  ", depth));
    };
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(bytes.len());
                out.push_str(&text[start..i]);
            }
            open @ (b'{' | b'[') => {
                let close = if open == b'{' { b'}' } else { b']' };
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                if bytes.get(i) == Some(&close) {
                    i += 1;
                    out.push_str(if open == b'{' { "{}" } else { "[]" });
                } else {
                    out.push(char::from(open));
                    depth += 1;
                    new_line(&mut out, depth);
                }
            }
            close @ (b'}' | b']') => {
                depth = depth.saturating_sub(1);
                new_line(&mut out, depth);
                out.push(char::from(close));
                i += 1;
            }
            b',' => {
                out.push(',');
                new_line(&mut out, depth);
                i += 1;
            }
            b':' => {
                out.push_str(": ");
                i += 1;
            }
            byte if byte.is_ascii_whitespace() => i += 1,
            _ => {
                // A number, a literal or a bare token: up to the next structural byte.
                while i < bytes.len()
                    && !matches!(bytes[i], b'"' | b'{' | b'}' | b'[' | b']' | b',' | b':')
                    && !bytes[i].is_ascii_whitespace()
                {
                    i += 1;
                }
                out.push_str(&text[start..i]);
            }
        }
    }
    out
}

/// The document `name` of the node at `node_path` read as a `T` (`None` if there is none),
/// with the values a JSON value cannot hold exactly as placeholders (see `bare_floats`).
pub(crate) fn read_stored<T: DeserializeOwned>(
    store: &Store,
    node_path: &str,
    name: &str,
) -> Result<Option<T>> {
    let key = key(store, node_path, name)?;
    let Some(bytes) = store
        .raw
        .get(&key)
        .map_err(|e| store.error(key.as_str(), e))?
    else {
        return Ok(None);
    };
    serde_json::from_slice(&quote(&bytes, Spelling::Marked))
        .map(Some)
        .map_err(|e| store.error(key.as_str(), format!("not a valid metadata document: {e}")))
}

/// Documents (or fields) by their paths, in order: the `metadata` of consolidated metadata.
pub(crate) type Documents = IndexMap<String, Box<RawValue>>;

/// The JSON text of `value`: strings, numbers, booleans and [`Documents`], which always
/// serialise.
pub(crate) fn raw(value: &impl Serialize) -> Box<RawValue> {
    to_raw_value(value).expect("values without maps of non-string keys serialise")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value as Json, json};

    #[test]
    fn fields_not_set_are_copied_verbatim() {
        let text = r#"{"shape": [2], "attributes": {"big": 1180591620717411303424, "nan": NaN, "x": 1.0e-300}, "z": null}"#;
        let dir = std::env::temp_dir().join(format!("chunkwise-document-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("zarr.json"), text).unwrap();
        let store = Store::directory(&dir).unwrap();
        let mut doc = Document::read(&store, "/", "zarr.json").unwrap().unwrap();
        assert_eq!(doc.get::<Vec<u64>>("shape"), Some(vec![2]));
        doc.set("shape", &[5u64]);
        doc.set("added", &"last");
        doc.write(&store, "/", "zarr.json").unwrap();
        let written = std::fs::read_to_string(dir.join("zarr.json")).unwrap();
        let compact: String = written.split_whitespace().collect();
        assert!(
            compact.contains(r#"{"big":1180591620717411303424,"nan":NaN,"x":1.0e-300}"#),
            "{written}"
        );
        let fields: Vec<&str> = written
            .lines()
            .filter_map(|l| l.strip_prefix("  \"")?.split('"').next())
            .collect();
        assert_eq!(fields, ["shape", "attributes", "z", "added"], "{written}");
        let back: Json =
            serde_json::from_slice(&quote(written.as_bytes(), Spelling::Plain)).unwrap();
        assert_eq!(back["shape"], json!([5]));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn documents_embedding_others_are_laid_out_as_one() {
        // An embedded document laid out by another writer (four spaces, members on one
        // line), strings holding structural characters, and empty containers.
        let text = "{\"metadata\": {\"a/zarr.json\": {\n    \"shape\": [3,\n 4],\n    \"attributes\": \
                    {\"s\": \"{ [a, b]: \\\"c\\\" }\", \"nan\": NaN}, \"codecs\": [ ], \
                    \"e\": { }}}, \"n\": -1.5e-3}";
        let expected = r#"{
  "metadata": {
    "a/zarr.json": {
      "shape": [
        3,
        4
      ],
      "attributes": {
        "s": "{ [a, b]: \"c\" }",
        "nan": NaN
      },
      "codecs": [],
      "e": {}
    }
  },
  "n": -1.5e-3
}"#;
        assert_eq!(pretty(text), expected);
        // serde_json's own layout is kept as it is.
        let value = json!({"a": [1, {"b": null}], "c": {}, "d": "x"});
        let serde = serde_json::to_string_pretty(&value).unwrap();
        assert_eq!(pretty(&serde_json::to_string(&value).unwrap()), serde);
    }
}

//! Store URLs: `s3://bucket/prefix` and `http(s)://host/path`, told apart from paths of
//! directory stores, and parsed without any client.

use crate::error::{Error, Result, StorageError};

/// The kind of object storage a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// S3 or an S3-compatible server (`s3://`): read and write.
    S3,
    /// A plain web server (`http://`, `https://`): read only.
    Http,
}

/// A parsed store URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoreUrl {
    pub(crate) scheme: Scheme,
    /// The URL as given, without trailing slashes (for messages).
    pub(crate) text: String,
    /// The S3 bucket, or the HTTP URL's `scheme://host[:port]`.
    pub(crate) authority: String,
    /// The path below the bucket or host, without leading or trailing slashes (`""` for
    /// the root).
    pub(crate) prefix: String,
}

/// Whether `text` names a store by URL (`scheme://...`) rather than a directory: a scheme
/// of letters, digits, `+`, `-` or `.`, starting with a letter, then `://`.
pub(crate) fn is_url(text: &str) -> bool {
    match text.split_once("://") {
        Some((scheme, _)) => {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

fn bad(url: &str, reason: impl Into<String>) -> Error {
    Error::Storage(StorageError::BadUrl {
        url: url.to_string(),
        reason: reason.into(),
    })
}

impl StoreUrl {
    /// Parses `text`, refusing schemes other than `s3`, `http` and `https`, URLs without a
    /// bucket or host, and paths with empty or dot-only components (which object stores
    /// would resolve differently from a filesystem).
    pub(crate) fn parse(text: &str) -> Result<StoreUrl> {
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(bad(text, "not a URL (scheme://...)"));
        };
        let rest = rest.trim_end_matches('/');
        let scheme_kind = match scheme.to_ascii_lowercase().as_str() {
            "s3" | "s3a" => Scheme::S3,
            "http" | "https" => Scheme::Http,
            other => {
                return Err(bad(
                    text,
                    format!("the scheme {other:?} is not supported (s3://, http://, https://)"),
                ));
            }
        };
        let (authority, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if authority.is_empty() {
            let what = match scheme_kind {
                Scheme::S3 => "bucket",
                Scheme::Http => "host",
            };
            return Err(bad(text, format!("it names no {what}")));
        }
        if authority.contains(['?', '#']) || prefix.contains(['?', '#']) {
            return Err(bad(text, "queries and fragments are not supported"));
        }
        if !prefix.is_empty()
            && let Some(reason) = super::super::paths::unsafe_key(prefix)
        {
            return Err(bad(text, format!("its path has {reason}")));
        }
        let authority = match scheme_kind {
            Scheme::S3 => authority.to_string(),
            Scheme::Http => format!("{}://{authority}", scheme.to_ascii_lowercase()),
        };
        Ok(StoreUrl {
            scheme: scheme_kind,
            text: format!("{scheme}://{rest}"),
            authority,
            prefix: prefix.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_paths() {
        assert!(is_url("s3://bucket/a"));
        assert!(is_url("https://example.org/x.zarr"));
        assert!(is_url("gs://bucket"));
        assert!(!is_url("data/in.zarr"));
        assert!(!is_url("/tmp/a://b"));
        assert!(!is_url("./s3:/x"));
    }

    #[test]
    fn s3_and_http_urls_parse() {
        let u = StoreUrl::parse("s3://bucket/data/in.zarr/").unwrap();
        assert_eq!(
            (u.scheme, u.authority.as_str(), u.prefix.as_str()),
            (Scheme::S3, "bucket", "data/in.zarr")
        );
        assert_eq!(u.text, "s3://bucket/data/in.zarr");
        let root = StoreUrl::parse("s3://bucket").unwrap();
        assert_eq!(root.prefix, "");
        let h = StoreUrl::parse("http://127.0.0.1:8000/store.zarr").unwrap();
        assert_eq!(
            (h.scheme, h.authority.as_str(), h.prefix.as_str()),
            (Scheme::Http, "http://127.0.0.1:8000", "store.zarr")
        );
    }

    #[test]
    fn bad_urls_say_why() {
        let message = |url: &str| StoreUrl::parse(url).unwrap_err().to_string();
        assert!(message("gs://bucket/x").contains("\"gs\" is not supported"));
        assert!(message("s3:///x").contains("no bucket"));
        assert!(message("https://").contains("no host"));
        assert!(message("s3://bucket/a/../b").contains("dots only"));
        assert!(message("s3://bucket/a//b").contains("empty component"));
        assert!(message("https://host/x?y=1").contains("queries"));
    }
}

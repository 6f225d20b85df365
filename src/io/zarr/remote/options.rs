//! How to reach object storage: endpoint, region, credentials, retries and request
//! concurrency, from the environment as the AWS tools read it, or set in code.

use std::path::Path;
use std::time::Duration;

use super::profile::Profile;

/// Retries of failed requests: transient failures (timeouts, connection errors, HTTP 5xx
/// and 429) are retried with exponential backoff (with jitter), up to `max_retries` times
/// and within `timeout` of the first attempt; then the request fails with an error naming
/// its key.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Retries {
    /// Retries after the first attempt (0: none).
    pub max_retries: usize,
    /// The wait before the first retry; each next wait is about twice as long.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
    /// No retry starts later than this after the first attempt.
    pub timeout: Duration,
}

impl Default for Retries {
    fn default() -> Retries {
        Retries {
            max_retries: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(15),
            timeout: Duration::from_secs(180),
        }
    }
}

impl Retries {
    /// Sets the number of retries.
    pub fn max_retries(mut self, n: usize) -> Retries {
        self.max_retries = n;
        self
    }
    /// Sets the first wait and the longest.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Retries {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }
    /// Sets how long after the first attempt retries may start.
    pub fn timeout(mut self, timeout: Duration) -> Retries {
        self.timeout = timeout;
        self
    }
}

/// How [`Store::from_url_with`](super::super::Store::from_url_with) reaches object
/// storage. [`RemoteOptions::from_env`] reads what the AWS command-line tools read;
/// [`RemoteOptions::default`] sets nothing (credentials then come from the sources the AWS
/// tools find by themselves: a web identity token (`AWS_WEB_IDENTITY_TOKEN_FILE` and
/// `AWS_ROLE_ARN`, EKS), a container's credentials (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`
/// on ECS, `AWS_CONTAINER_CREDENTIALS_FULL_URI` with its token file for EKS Pod Identity),
/// else the instance metadata service).
///
/// ```
/// use chunkwise::io::zarr::{RemoteOptions, Retries};
/// let options = RemoteOptions::default()
///     .endpoint("http://127.0.0.1:9000")
///     .region("us-east-1")
///     .credentials("key", "secret", None)
///     .retries(Retries::default().max_retries(3));
/// assert_eq!(options.region.as_deref(), Some("us-east-1"));
/// // Debug output never shows the secrets.
/// assert!(!format!("{options:?}").contains("\"secret\""));
/// ```
#[derive(Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct RemoteOptions {
    /// The S3 endpoint (`http://127.0.0.1:9000` for a local server); AWS's when `None`.
    /// Plain `http://` endpoints are allowed.
    pub endpoint: Option<String>,
    /// The region (`us-east-1` when `None` and none is found).
    pub region: Option<String>,
    /// The access key id.
    pub access_key_id: Option<String>,
    /// The secret access key.
    pub secret_access_key: Option<String>,
    /// The session token of temporary credentials.
    pub session_token: Option<String>,
    /// Send requests unsigned (public buckets), without looking for credentials.
    pub anonymous: bool,
    /// Retries of failed requests.
    pub retries: Retries,
    /// The most requests one store has in flight at once (0: 64).
    pub max_requests: usize,
}

/// Every field but the secret access key and the session token, which show as `<redacted>`
/// (options end up in logs and error reports).
impl std::fmt::Debug for RemoteOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |secret: &Option<String>| secret.as_ref().map(|_| "<redacted>");
        f.debug_struct("RemoteOptions")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &redacted(&self.secret_access_key))
            .field("session_token", &redacted(&self.session_token))
            .field("anonymous", &self.anonymous)
            .field("retries", &self.retries)
            .field("max_requests", &self.max_requests)
            .finish()
    }
}

/// The environment variables [`RemoteOptions::from_env`] reads, in the order of precedence
/// of each setting (as the AWS command-line tools read them).
const ENDPOINT_VARS: [&str; 2] = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"];
const REGION_VARS: [&str; 2] = ["AWS_REGION", "AWS_DEFAULT_REGION"];

impl RemoteOptions {
    /// The options the environment gives, as the AWS tools read it:
    /// - credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
    ///   `AWS_SESSION_TOKEN`, else from the profile (`aws_access_key_id`, ... in
    ///   `~/.aws/credentials`, then in `~/.aws/config`);
    /// - the region from `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the profile's
    ///   `region`;
    /// - the endpoint from `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`, else the
    ///   profile's S3 `endpoint_url` (under `s3 =`), else its `endpoint_url`;
    /// - unsigned requests if `AWS_SKIP_SIGNATURE` is `true` or `1`.
    ///
    /// The profile is `AWS_PROFILE`, else `default`; the files are
    /// `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE`, else `~/.aws/credentials` and
    /// `~/.aws/config` (`[profile NAME]` sections there). Missing files give nothing.
    pub fn from_env() -> RemoteOptions {
        Self::from_sources(&|name| std::env::var(name).ok(), &|path| {
            std::fs::read_to_string(path).ok()
        })
    }

    /// [`RemoteOptions::from_env`] with the variables read through `var` and the files
    /// through `read`.
    fn from_sources(
        var: &impl Fn(&str) -> Option<String>,
        read: &impl Fn(&Path) -> Option<String>,
    ) -> RemoteOptions {
        let set = |name: &str| var(name).filter(|v| !v.is_empty());
        let first = |names: &[&str]| names.iter().find_map(|n| set(n));
        let profile = Profile::load(&set, read);
        // Credentials come as a whole, from the environment or from the profile.
        let credential = |key: &str, variable: &str| match set("AWS_ACCESS_KEY_ID") {
            Some(_) => set(variable),
            None => profile.get(key),
        };
        RemoteOptions {
            endpoint: first(&ENDPOINT_VARS)
                .or_else(|| profile.get("s3.endpoint_url"))
                .or_else(|| profile.get("endpoint_url")),
            region: first(&REGION_VARS).or_else(|| profile.get("region")),
            access_key_id: credential("aws_access_key_id", "AWS_ACCESS_KEY_ID"),
            secret_access_key: credential("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY"),
            session_token: credential("aws_session_token", "AWS_SESSION_TOKEN"),
            anonymous: set("AWS_SKIP_SIGNATURE")
                .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true")),
            ..RemoteOptions::default()
        }
    }

    /// Sets the endpoint.
    pub fn endpoint(mut self, url: impl Into<String>) -> RemoteOptions {
        self.endpoint = Some(url.into());
        self
    }
    /// Sets the region.
    pub fn region(mut self, region: impl Into<String>) -> RemoteOptions {
        self.region = Some(region.into());
        self
    }
    /// Sets the credentials (and the session token of temporary ones).
    pub fn credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> RemoteOptions {
        self.access_key_id = Some(access_key_id.into());
        self.secret_access_key = Some(secret_access_key.into());
        self.session_token = session_token;
        self
    }
    /// Sends requests unsigned (public buckets).
    pub fn anonymous(mut self, on: bool) -> RemoteOptions {
        self.anonymous = on;
        self
    }
    /// Sets the retries.
    pub fn retries(mut self, retries: Retries) -> RemoteOptions {
        self.retries = retries;
        self
    }
    /// Sets the most requests in flight at once.
    pub fn max_requests(mut self, n: usize) -> RemoteOptions {
        self.max_requests = n;
        self
    }

    /// The most requests in flight at once.
    #[cfg_attr(not(feature = "object-store"), allow(dead_code))]
    pub(crate) fn request_limit(&self) -> usize {
        if self.max_requests == 0 {
            64
        } else {
            self.max_requests
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> RemoteOptions {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RemoteOptions::from_sources(&|name| vars.get(name).cloned(), &|_| None)
    }

    #[test]
    fn the_environment_is_read_as_the_aws_tools_read_it() {
        let o = from(&[
            ("AWS_ACCESS_KEY_ID", "id"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
        ]);
        assert_eq!(o.access_key_id.as_deref(), Some("id"));
        assert_eq!(o.secret_access_key.as_deref(), Some("secret"));
        assert_eq!(o.session_token.as_deref(), Some("token"));
        assert_eq!(o.region.as_deref(), Some("eu-west-1"));
        assert_eq!(o.endpoint.as_deref(), Some("http://127.0.0.1:1"));
        assert!(!o.anonymous);
        // The more specific variables win.
        let o = from(&[
            ("AWS_REGION", "us-west-2"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ENDPOINT_URL", "http://a"),
            ("AWS_ENDPOINT_URL_S3", "http://b"),
            ("AWS_SKIP_SIGNATURE", "true"),
        ]);
        assert_eq!(o.region.as_deref(), Some("us-west-2"));
        assert_eq!(o.endpoint.as_deref(), Some("http://b"));
        assert!(o.anonymous);
        assert_eq!(from(&[]), RemoteOptions::default());
    }

    #[test]
    fn the_profile_fills_what_the_environment_leaves_unset() {
        let credentials = "[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = s\n";
        let config = "[profile dev]\nregion = ap-south-1\ns3 =\n  endpoint_url = http://c\n";
        let options = |vars: &[(&str, &str)]| {
            let vars: HashMap<&str, &str> = vars.iter().copied().collect();
            RemoteOptions::from_sources(&|n| vars.get(n).map(|v| v.to_string()), &|p| match p
                .file_name()?
                .to_str()?
            {
                "credentials" => Some(credentials.to_string()),
                "config" => Some(config.to_string()),
                _ => None,
            })
        };
        let o = options(&[("HOME", "/h"), ("AWS_PROFILE", "dev")]);
        assert_eq!(o.access_key_id.as_deref(), Some("AKIDDEV"));
        assert_eq!(o.secret_access_key.as_deref(), Some("s"));
        assert_eq!(o.session_token, None);
        assert_eq!(o.region.as_deref(), Some("ap-south-1"));
        assert_eq!(o.endpoint.as_deref(), Some("http://c"));
        // The environment wins, and its credentials are not mixed with the profile's.
        let o = options(&[
            ("HOME", "/h"),
            ("AWS_PROFILE", "dev"),
            ("AWS_ACCESS_KEY_ID", "id"),
            ("AWS_REGION", "us-east-2"),
            ("AWS_ENDPOINT_URL", "http://e"),
        ]);
        assert_eq!(o.access_key_id.as_deref(), Some("id"));
        assert_eq!(o.secret_access_key, None);
        assert_eq!(o.region.as_deref(), Some("us-east-2"));
        assert_eq!(o.endpoint.as_deref(), Some("http://e"));
        // The default profile has no section in these files.
        assert_eq!(options(&[("HOME", "/h")]), RemoteOptions::default());
    }
}

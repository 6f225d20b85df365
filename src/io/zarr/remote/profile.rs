//! The AWS shared configuration files (`~/.aws/credentials` and `~/.aws/config`), read as
//! the AWS command-line tools and SDKs read them, for the settings the environment leaves
//! unset.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The settings of one profile, merged from both files: keys as written
/// (`aws_access_key_id`, `region`, `endpoint_url`, ...), and the keys of a nested section
/// under its name (`s3.endpoint_url` from `s3 =` followed by indented lines, in the
/// profile or in the `[services NAME]` section its `services = NAME` names).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Profile {
    settings: HashMap<String, String>,
}

impl Profile {
    /// The profile the environment names (`AWS_PROFILE`, else `default`), read from the
    /// files it names (`AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE`, else
    /// `credentials` and `config` in `$HOME/.aws`). A setting in the credentials file wins
    /// over the same setting in the config file, and credentials come as a whole from one
    /// file (a key id in the credentials file takes no session token from the config
    /// file). The services section the profile names gives its service endpoints (`s3 =`
    /// then `endpoint_url = ...`), as the AWS SDKs read them. Files that are missing or
    /// unreadable give nothing.
    pub(crate) fn load(
        var: &impl Fn(&str) -> Option<String>,
        read: &impl Fn(&Path) -> Option<String>,
    ) -> Profile {
        let name = var("AWS_PROFILE").unwrap_or_else(|| "default".to_string());
        let home = var("HOME").map(|h| PathBuf::from(h).join(".aws"));
        let file = |variable: &str, default: &str| {
            var(variable)
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(default)))
        };
        let mut profile = Profile::default();
        // The config file names profiles `[profile NAME]`, except `[default]`; the
        // credentials file names them `[NAME]`.
        let config_section = match name.as_str() {
            "default" => "default".to_string(),
            _ => format!("profile {name}"),
        };
        if let Some(text) = file("AWS_CONFIG_FILE", "config").and_then(|p| read(&p)) {
            profile.settings.extend(section(&text, &config_section));
            // The services section's endpoints win over those nested in the profile.
            if let Some(services) = profile.settings.get("services").cloned() {
                profile
                    .settings
                    .extend(section(&text, &format!("services {services}")));
            }
        }
        if let Some(text) =
            file("AWS_SHARED_CREDENTIALS_FILE", "credentials").and_then(|p| read(&p))
        {
            let credentials = section(&text, &name);
            if credentials.contains_key("aws_access_key_id") {
                for key in CREDENTIAL_KEYS {
                    profile.settings.remove(key);
                }
            }
            profile.settings.extend(credentials);
        }
        profile
    }

    /// The value of `key` (`region`, `s3.endpoint_url`), if set and not empty.
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        self.settings.get(key).filter(|v| !v.is_empty()).cloned()
    }
}

/// The settings that make up one set of credentials.
const CREDENTIAL_KEYS: [&str; 3] = [
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
];

/// The settings of section `[name]` of an INI-style AWS file. Lines starting with `#` or
/// `;` are comments; an indented line belongs to the nested section opened by the last
/// key with an empty value (`s3 =`), and is named `s3.key`.
fn section(text: &str, name: &str) -> HashMap<String, String> {
    let mut settings = HashMap::new();
    let mut inside = false;
    let mut nested: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let Some(header) = trimmed.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            inside = header.split_whitespace().collect::<Vec<_>>().join(" ") == name;
            nested = None;
            continue;
        }
        let Some((key, value)) = trimmed.split_once('=') else {
            continue;
        };
        if !inside {
            continue;
        }
        let (key, value) = (key.trim().to_string(), value.trim().to_string());
        let indented = line.starts_with([' ', '\t']);
        match (&nested, indented) {
            (Some(parent), true) => {
                settings.insert(format!("{parent}.{key}"), value);
            }
            _ if value.is_empty() => nested = Some(key),
            _ => {
                nested = None;
                settings.insert(key, value);
            }
        }
    }
    settings
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "\
# a comment
[default]
region = eu-west-1

[profile dev]
region = us-west-2
endpoint_url = http://127.0.0.1:9000
s3 =
  endpoint_url = http://127.0.0.1:9001
  addressing_style = path
output = json
";
    const SERVICES: &str = "\
[profile local]
region = us-east-1
aws_access_key_id = AKIDCONFIG
aws_secret_access_key = secret-config
aws_session_token = token-config
s3 =
  endpoint_url = http://127.0.0.1:9003
services = local-s3

[services local-s3]
s3 =
  endpoint_url = http://127.0.0.1:9002
";
    const CREDENTIALS: &str = "\
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = secret-default

[dev]
aws_access_key_id=AKIDDEV
aws_secret_access_key=secret-dev
; temporary
aws_session_token = token-dev

[local]
aws_access_key_id = AKIDLOCAL
aws_secret_access_key = secret-local
";

    fn load(vars: &[(&str, &str)]) -> Profile {
        let vars: HashMap<&str, &str> = vars.iter().copied().collect();
        Profile::load(
            &|n: &str| vars.get(n).map(|v| v.to_string()),
            &|p: &Path| match p.to_str() {
                Some("/home/u/.aws/config") | Some("/elsewhere/config") => {
                    Some(format!("{CONFIG}\n{SERVICES}"))
                }
                Some("/home/u/.aws/credentials") => Some(CREDENTIALS.to_string()),
                _ => None,
            },
        )
    }

    #[test]
    fn the_default_profile_is_read_from_both_files_under_home() {
        let p = load(&[("HOME", "/home/u")]);
        assert_eq!(p.get("aws_access_key_id").as_deref(), Some("AKIDDEFAULT"));
        assert_eq!(
            p.get("aws_secret_access_key").as_deref(),
            Some("secret-default")
        );
        assert_eq!(p.get("region").as_deref(), Some("eu-west-1"));
        assert_eq!(p.get("aws_session_token"), None);
        assert_eq!(p.get("endpoint_url"), None);
    }

    #[test]
    fn a_named_profile_reads_its_own_sections_with_nested_settings() {
        let p = load(&[("HOME", "/home/u"), ("AWS_PROFILE", "dev")]);
        assert_eq!(p.get("aws_access_key_id").as_deref(), Some("AKIDDEV"));
        assert_eq!(p.get("aws_session_token").as_deref(), Some("token-dev"));
        assert_eq!(p.get("region").as_deref(), Some("us-west-2"));
        assert_eq!(
            p.get("endpoint_url").as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(
            p.get("s3.endpoint_url").as_deref(),
            Some("http://127.0.0.1:9001")
        );
        // A key after the nested section is the profile's own again.
        assert_eq!(p.get("output").as_deref(), Some("json"));
        assert_eq!(p.get("addressing_style"), None);
    }

    #[test]
    fn the_files_may_be_named_by_the_environment_or_be_missing() {
        let p = load(&[
            ("HOME", "/home/u"),
            ("AWS_CONFIG_FILE", "/elsewhere/config"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nowhere/credentials"),
        ]);
        assert_eq!(p.get("region").as_deref(), Some("eu-west-1"));
        assert_eq!(p.get("aws_access_key_id"), None);
        assert_eq!(load(&[]), Profile::default());
        assert_eq!(
            load(&[("HOME", "/home/u"), ("AWS_PROFILE", "none")]),
            Profile::default()
        );
    }

    /// The endpoint of the services section the profile names (over one nested in the
    /// profile itself); the credentials of the
    /// credentials file as a whole, without the config file's session token.
    #[test]
    fn services_sections_and_credentials_as_a_whole() {
        let p = load(&[("HOME", "/home/u"), ("AWS_PROFILE", "local")]);
        assert_eq!(
            p.get("s3.endpoint_url").as_deref(),
            Some("http://127.0.0.1:9002")
        );
        assert_eq!(p.get("aws_access_key_id").as_deref(), Some("AKIDLOCAL"));
        assert_eq!(
            p.get("aws_secret_access_key").as_deref(),
            Some("secret-local")
        );
        assert_eq!(p.get("aws_session_token"), None);
        // Without a credentials file, the config file's credentials, token included.
        let p = load(&[
            ("HOME", "/home/u"),
            ("AWS_PROFILE", "local"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nowhere/credentials"),
        ]);
        assert_eq!(p.get("aws_access_key_id").as_deref(), Some("AKIDCONFIG"));
        assert_eq!(p.get("aws_session_token").as_deref(), Some("token-config"));
    }
}

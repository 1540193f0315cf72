//! qualytics-cli's `config.yaml`, as `qualytics auth init` and `auth login` write it (PyYAML's
//! `safe_dump`, in `$QUALYTICS_CONFIG_HOME`, else `~/.qualytics`, mode 0644 by the umask):
//!
//! ```yaml
//! url: https://acme.qualytics.io/api/
//! token: eyJhbGciOi…
//! ssl_verify: true
//! ```
//!
//! One instance per file: one context, platform qualytics, the URL without its `/api/`.

use std::path::{Path, PathBuf};

use serde_norway::Value;

use crate::config::Storage;
use crate::env_vars::parse_bool;
use crate::error::{Error, Result};
use crate::platform::common::strip_base_path;
use crate::platform::import::{
    Candidate, Current, Parsed, VendorImport, home, parse_yaml, string, var, vendor_candidate,
};
use crate::platform::kind::PlatformKind;
use crate::platform::qualytics::profile::PROFILE;
use crate::settings::url::check_url;

/// qualytics-cli's config folder, read by `context import qualytics` (default `~/.qualytics`).
pub const QUALYTICS_CONFIG_HOME: &str = "QUALYTICS_CONFIG_HOME";

/// qualytics-cli as a source of contexts.
pub const SOURCE: VendorImport = VendorImport {
    name: "qualytics",
    what: WHAT,
    help: || {
        format!(
            "qualytics (qualytics-cli): ${QUALYTICS_CONFIG_HOME}/config.yaml, else \
             ~/.qualytics/config.yaml; one context, named {DEFAULT_NAME} unless --name"
        )
    },
    one_context: Some(DEFAULT_NAME),
    default_path: |_os, env| default_source(env),
    parse,
};

/// The name the file goes by in messages.
pub const WHAT: &str = "qualytics-cli config";
/// The context's name unless `--name`.
pub const DEFAULT_NAME: &str = "qualytics";

/// `$QUALYTICS_CONFIG_HOME/config.yaml` (a leading `~` is the home folder, as qualytics-cli
/// expands it), else `~/.qualytics/config.yaml`.
pub fn default_source(env: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf> {
    let dir = match var(env, QUALYTICS_CONFIG_HOME) {
        Some(dir) => match dir.strip_prefix('~') {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                home(env, WHAT)?.join(rest.trim_start_matches('/'))
            }
            _ => PathBuf::from(dir),
        },
        None => home(env, WHAT)?.join(".qualytics"),
    };
    Ok(dir.join("config.yaml"))
}

/// The file's one context, named `name`; it becomes current when none is.
pub fn parse(text: &str, path: &Path, name: &str, storage: Storage) -> Result<Parsed> {
    let value = parse_yaml(text, path, WHAT)?;
    if value.is_null() {
        return Ok(Parsed::default());
    }
    if !value.is_mapping() {
        return Err(Error::config(format!(
            "the {WHAT} {} is not a YAML mapping",
            path.display()
        )));
    }
    let entry = candidate(&value, name, storage).map_err(|reason| (name.to_string(), reason));
    Ok(Parsed {
        entries: vec![entry],
        current: Some(Current::IfNone(name.to_string())),
    })
}

fn candidate(v: &Value, name: &str, storage: Storage) -> std::result::Result<Candidate, String> {
    let url = string(v, "url").ok_or("it has no url")?;
    let url = strip_base_path(&url, PROFILE.base_path.unwrap_or("")).to_string();
    check_url(&url).map_err(|_| "its url is not http:// or https://".to_string())?;
    let token = string(v, "token").ok_or("it has no token")?;
    let ssl_verify = match v.get("ssl_verify") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => parse_bool(s).unwrap_or(true),
        _ => true,
    };
    Ok(vendor_candidate(
        name,
        url,
        PlatformKind::Qualytics,
        &token,
        !ssl_verify,
        None,
        storage,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::platform::import::fixed_env as env;

    #[test]
    fn the_default_path_follows_qualytics_config_home_then_home() {
        let e = env(&[("QUALYTICS_CONFIG_HOME", "/q/uat"), ("HOME", "/h")]);
        assert_eq!(default_source(&e).unwrap(), Path::new("/q/uat/config.yaml"));
        let e = env(&[
            ("QUALYTICS_CONFIG_HOME", "~/.qualytics-uat"),
            ("HOME", "/h"),
        ]);
        assert_eq!(
            default_source(&e).unwrap(),
            Path::new("/h/.qualytics-uat/config.yaml")
        );
        let e = env(&[("QUALYTICS_CONFIG_HOME", ""), ("HOME", "/h")]);
        assert_eq!(
            default_source(&e).unwrap(),
            Path::new("/h/.qualytics/config.yaml")
        );
        let e = env(&[]);
        assert_eq!(default_source(&e).unwrap_err().exit_code(), 1);
    }

    #[test]
    fn url_token_and_ssl_verify_become_one_context() {
        let p = Path::new("config.yaml");
        let text = "url: https://acme.qualytics.io/api/\ntoken: eyJ.x.y\nssl_verify: false\n";
        let parsed = parse(text, p, "qualytics", Storage::File).unwrap();
        let c = parsed.entries[0].as_ref().ok().unwrap();
        assert_eq!(c.name, "qualytics");
        assert_eq!(c.context.url, "https://acme.qualytics.io");
        assert_eq!(c.context.platform, PlatformKind::Qualytics);
        assert!(c.context.skip_ssl);
        assert_eq!(c.secret.expose(), "eyJ.x.y");
        let text = "url: https://acme.qualytics.io/api/\ntoken: t\nssl_verify: true\n";
        let parsed = parse(text, p, "prod", Storage::File).unwrap();
        let c = parsed.entries[0].as_ref().ok().unwrap();
        assert!(!c.context.skip_ssl);
        assert_eq!(c.name, "prod");
        let parsed = parse("url: https://q.example.com/api/\n", p, "q", Storage::File).unwrap();
        assert_eq!(
            parsed.entries[0].as_ref().err().unwrap().1,
            "it has no token"
        );
        assert!(parse("", p, "q", Storage::File).unwrap().entries.is_empty());
        let e = parse("url: [\ntoken: eyJsecret", p, "q", Storage::File).unwrap_err();
        assert!(e.message.contains("line "), "{}", e.message);
        assert!(!e.message.contains("eyJsecret"), "{}", e.message);
    }
}

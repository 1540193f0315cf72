//! rsconnect-python's `servers.json`, as `rsconnect add` writes it (`json.dumps`, indent 4, mode
//! 0600): an object keyed by nickname.
//!
//! ```json
//! {
//!     "prod": {"name": "prod", "url": "https://connect.example.com/rsc", "api_key": "…",
//!              "insecure": false, "ca_cert": "-----BEGIN CERTIFICATE-----\n…"},
//!     "shiny": {"name": "shiny", "url": "https://api.shinyapps.io", "account_name": "me",
//!               "token": "…", "secret": "…"}
//! }
//! ```
//!
//! Each Posit Connect server with an `api_key` becomes a context of its nickname. Other entries
//! (shinyapps.io and Posit Cloud accounts, Connect Cloud and OAuth logins, Snowflake servers)
//! carry no key `sts` can use and are skipped, each with its reason.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::Value;

use crate::config::Storage;
use crate::env_vars::{self as ev, parse_bool};
use crate::error::{Error, Result};
use crate::platform::common::strip_base_path;
use crate::platform::import::{
    Candidate, Current, Parsed, VendorImport, home, var, vendor_candidate,
};
use crate::platform::kind::PlatformKind;
use crate::platform::posit_connect::profile::PROFILE;
use crate::settings::url::check_url;

/// The Windows roaming application-data folder; rsconnect-python keeps its folder under it there.
pub const APPDATA: &str = "APPDATA";

/// rsconnect-python as a source of contexts.
pub const SOURCE: VendorImport = VendorImport {
    name: "rsconnect",
    what: WHAT,
    help: || {
        format!(
            "rsconnect (rsconnect-python): servers.json in ${}/rsconnect-python/, else \
             ~/.rsconnect-python/ (macOS: ~/Library/Application Support/rsconnect-python/, \
             Windows: %{APPDATA}%\\rsconnect-python\\); one Posit Connect context per server \
             with an API key",
            ev::XDG_CONFIG_HOME
        )
    },
    one_context: None,
    default_path: default_source,
    parse: |text, path, _name, storage| parse(text, path, storage),
};

/// The name the file goes by in messages.
pub const WHAT: &str = "rsconnect-python server list";

/// rsconnect-python's folder on `os`: `$XDG_CONFIG_HOME/rsconnect-python` else
/// `~/.rsconnect-python` (Linux), `~/Library/Application Support/rsconnect-python` (macOS),
/// `%APPDATA%\rsconnect-python` else `~/.rsconnect-python` (Windows), `~/.rsconnect-python`
/// elsewhere; `servers.json` in it.
pub fn default_source(os: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf> {
    let under = |var_name: &str| -> Result<PathBuf> {
        Ok(match var(env, var_name) {
            Some(dir) => PathBuf::from(dir).join("rsconnect-python"),
            None => home(env, WHAT)?.join(".rsconnect-python"),
        })
    };
    let dir = match os {
        "linux" => under(ev::XDG_CONFIG_HOME)?,
        "windows" => under(APPDATA)?,
        "macos" => home(env, WHAT)?
            .join("Library")
            .join("Application Support")
            .join("rsconnect-python"),
        _ => home(env, WHAT)?.join(".rsconnect-python"),
    };
    Ok(dir.join("servers.json"))
}

/// Every entry, in nickname order (as `rsconnect list` shows them). The entry marked `default`,
/// else the only one, becomes current when no context is.
pub fn parse(text: &str, path: &Path, storage: Storage) -> Result<Parsed> {
    // Only the place: serde_json's words stay out, as they could quote a value.
    let value: Value = serde_json::from_str(text).map_err(|e| {
        Error::config(format!(
            "the {WHAT} {} is not valid JSON at line {} column {}",
            path.display(),
            e.line(),
            e.column()
        ))
    })?;
    let Value::Object(servers) = value else {
        return Err(Error::config(format!(
            "the {WHAT} {} is not a JSON object of servers",
            path.display()
        )));
    };
    let entries = servers
        .iter()
        .map(|(nickname, entry)| {
            let name = nickname.trim();
            if name.is_empty() {
                return Err(("(no name)".to_string(), "it has no name".to_string()));
            }
            candidate(name, entry, storage).map_err(|reason| (name.to_string(), reason))
        })
        .collect();
    let current = servers
        .iter()
        .find(|(_, e)| e.get("default") == Some(&Value::Bool(true)))
        .or_else(|| servers.iter().next().filter(|_| servers.len() == 1))
        .map(|(nickname, _)| Current::IfNone(nickname.trim().to_string()));
    Ok(Parsed { entries, current })
}

fn candidate(
    name: &str,
    entry: &Value,
    storage: Storage,
) -> std::result::Result<Candidate, String> {
    if !entry.is_object() {
        return Err("it is not a JSON object".into());
    }
    let field = |key: &str| {
        entry
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let url = field("url").unwrap_or_default();
    if field("snowflake_connection_name").is_some() {
        return Err(
            "it is a Snowflake (SPCS) server: its API key works only beside a \
                    Snowflake login"
                .into(),
        );
    }
    if field("connect_cloud_account_name").is_some() {
        return Err("it is a Posit Connect Cloud account: an OAuth login, no API key".into());
    }
    let Some(api_key) = field("api_key") else {
        let lower = url.to_ascii_lowercase();
        return Err(if lower.contains("shinyapps.io") {
            "it is a shinyapps.io account: a token and secret, no Posit Connect API key".into()
        } else if lower.contains("posit.cloud") || lower.contains("rstudio.cloud") {
            "it is a Posit Cloud account: a token and secret, no Posit Connect API key".into()
        } else if field("oauth_client_id").is_some() {
            "it is an OAuth login, no API key".into()
        } else if field("account_name").is_some() || field("secret").is_some() {
            "it is a cloud account: a token and secret, no Posit Connect API key".into()
        } else {
            "it has no api_key".into()
        });
    };
    if url.is_empty() {
        return Err("it has no url".into());
    }
    // rsconnect keeps the URL the user typed, `/__api__` sometimes included.
    let url = strip_base_path(url, PROFILE.base_path.unwrap_or("")).to_string();
    check_url(&url).map_err(|_| "its url is not http:// or https://".to_string())?;
    let skip_ssl = match entry.get("insecure") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => parse_bool(s).unwrap_or(false),
        _ => false,
    };
    let ca = match field("ca_cert") {
        Some(pem) if !skip_ssl => Some(ca_data(pem)?),
        _ => None,
    };
    Ok(vendor_candidate(
        name,
        url,
        PlatformKind::PositConnect,
        api_key,
        skip_ssl,
        ca,
        storage,
    ))
}

/// `ca_cert` as the config keeps a CA: base64 of the PEM. rsconnect stores the PEM text itself
/// (`--cacert` is read as text); data that is base64 of a PEM already is kept as it is.
fn ca_data(text: &str) -> std::result::Result<String, String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    if text.contains(BEGIN) {
        let mut pem = text.to_string();
        if !pem.ends_with('\n') {
            pem.push('\n');
        }
        return Ok(base64::engine::general_purpose::STANDARD.encode(pem));
    }
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    match base64::engine::general_purpose::STANDARD.decode(&compact) {
        Ok(bytes) if String::from_utf8_lossy(&bytes).contains(BEGIN) => Ok(compact),
        _ => Err("its ca_cert holds no PEM certificate".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::platform::import::fixed_env as env;

    #[test]
    fn the_default_path_is_rsconnects_on_each_os() {
        let all = [
            ("XDG_CONFIG_HOME", "/x"),
            ("HOME", "/h"),
            ("APPDATA", "/appdata"),
        ];
        let e = env(&all);
        let path = |os: &str| default_source(os, &e).unwrap();
        assert_eq!(path("linux"), Path::new("/x/rsconnect-python/servers.json"));
        assert_eq!(
            path("macos"),
            Path::new("/h/Library/Application Support/rsconnect-python/servers.json")
        );
        assert_eq!(
            path("windows"),
            Path::new("/appdata/rsconnect-python/servers.json")
        );
        assert_eq!(
            path("freebsd"),
            Path::new("/h/.rsconnect-python/servers.json")
        );
        let e = env(&[("HOME", "/h"), ("XDG_CONFIG_HOME", "")]);
        assert_eq!(
            default_source("linux", &e).unwrap(),
            Path::new("/h/.rsconnect-python/servers.json")
        );
        assert_eq!(
            default_source("windows", &e).unwrap(),
            Path::new("/h/.rsconnect-python/servers.json")
        );
        assert_eq!(
            default_source("linux", &env(&[])).unwrap_err().exit_code(),
            1
        );
    }

    const SERVERS: &str = r#"{
    "prod": {"name": "prod", "url": "https://connect.example.com/rsc/__api__", "api_key": "k-prod",
             "insecure": false, "ca_cert": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"},
    "lab": {"name": "lab", "url": "https://lab.example.com", "api_key": "k-lab", "insecure": true,
            "ca_cert": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", "default": true},
    "shiny": {"name": "shiny", "url": "https://api.shinyapps.io", "account_name": "me",
              "token": "T", "secret": "S"},
    "cloud": {"name": "cloud", "url": "https://api.posit.cloud", "account_name": "me",
              "token": "T", "secret": "S"},
    "snow": {"name": "snow", "url": "https://x.snowflakecomputing.app", "api_key": "k",
             "snowflake_connection_name": "dev"},
    "badca": {"name": "badca", "url": "https://b.example.com", "api_key": "k", "ca_cert": "junk"}
}"#;

    #[test]
    fn connect_servers_become_contexts_and_the_rest_is_skipped_with_a_reason() {
        let parsed = parse(SERVERS, Path::new("servers.json"), Storage::File).unwrap();
        let ok: Vec<&Candidate> = parsed
            .entries
            .iter()
            .filter_map(|e| e.as_ref().ok())
            .collect();
        let names: Vec<&str> = ok.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["lab", "prod"]);
        let (lab, prod) = (ok[0], ok[1]);
        assert_eq!(prod.context.url, "https://connect.example.com/rsc");
        assert_eq!(prod.context.platform, PlatformKind::PositConnect);
        assert_eq!(prod.secret.expose(), "k-prod");
        assert!(!prod.context.skip_ssl);
        let ca = prod.context.ca_cert_base64_data.as_deref().unwrap();
        let pem = base64::engine::general_purpose::STANDARD
            .decode(ca)
            .unwrap();
        assert!(
            String::from_utf8(pem)
                .unwrap()
                .starts_with("-----BEGIN CERTIFICATE-----\nMIIB\n")
        );
        assert!(lab.context.skip_ssl);
        assert_eq!(lab.context.ca_cert_base64_data, None);
        let skipped: Vec<(&str, &str)> = parsed
            .entries
            .iter()
            .filter_map(|e| e.as_ref().err())
            .map(|(n, r)| (n.as_str(), r.as_str()))
            .collect();
        assert_eq!(skipped.len(), 4, "{skipped:?}");
        let reason = |name: &str| skipped.iter().find(|(n, _)| *n == name).unwrap().1;
        assert!(reason("shiny").contains("shinyapps.io"));
        assert!(reason("cloud").contains("Posit Cloud"));
        assert!(reason("snow").contains("Snowflake"));
        assert!(reason("badca").contains("ca_cert"));
        assert!(matches!(parsed.current, Some(Current::IfNone(ref n)) if n == "lab"));
        // A CA already in base64 stays as it is.
        let b64 = base64::engine::general_purpose::STANDARD.encode("-----BEGIN CERTIFICATE-----\n");
        assert_eq!(ca_data(&b64).unwrap(), b64);
    }

    #[test]
    fn a_file_that_does_not_parse_names_line_and_column_but_no_value() {
        let text = "{\n    \"prod\": {\"api_key\": \"k-secret-value\",\n    \"url\" \"x\"}\n}";
        let e = parse(text, Path::new("servers.json"), Storage::File).unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(e.message.contains("at line 3 column"), "{}", e.message);
        assert!(!e.message.contains("k-secret-value"), "{}", e.message);
        let e = parse("[]", Path::new("servers.json"), Storage::File).unwrap_err();
        assert!(e.message.contains("not a JSON object"), "{}", e.message);
    }
}

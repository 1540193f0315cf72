//! The official Go `sts` CLI's `config.yaml` (`sts context import`, the default source): the
//! `contexts:` format, or the older one where the file is one bare context.

use std::path::{Path, PathBuf};

use serde_norway::Value;

use crate::config::{self, Auth, Context, Storage};
use crate::env_vars::{self as ev, parse_bool};
use crate::error::{Error, Result};
use crate::platform::import::{Candidate, Current, Parsed, VendorImport, parse_yaml, string};
use crate::secret::Secret;
use crate::settings::url::check_url;

/// The name the Go CLI's file goes by in messages.
const GO_WHAT: &str = "Go CLI config";

/// The Go CLI as a source of contexts.
pub const SOURCE: VendorImport = VendorImport {
    name: "stackstate-cli",
    what: GO_WHAT,
    help: || {
        format!(
            "stackstate-cli (the Go CLI): ${}/stackstate-cli/config.yaml, else \
             ~/.config/stackstate-cli/config.yaml (both the `contexts:` format and the older \
             single-context one)",
            ev::XDG_CONFIG_HOME
        )
    },
    one_context: None,
    default_path: default_source,
    parse: |text, path, _name, storage| Ok(go_parsed(parse_go_config(text, path)?, storage)),
};

/// Where the Go CLI keeps its config: `$XDG_CONFIG_HOME/stackstate-cli/config.yaml`, else
/// `~/.config/stackstate-cli/config.yaml` (on every OS). `env` gives a variable, empty as unset.
pub fn default_source(_os: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf> {
    let base = match env(crate::env_vars::XDG_CONFIG_HOME).filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match env(crate::env_vars::HOME).filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".config"),
            None => {
                return Err(Error::config(
                    "cannot find the Go CLI's config (neither XDG_CONFIG_HOME nor HOME is set); \
                     name it with --from PATH",
                ));
            }
        },
    };
    Ok(base.join("stackstate-cli").join("config.yaml"))
}

/// One context of the Go config, as far as we import it.
#[derive(Debug, Clone, PartialEq)]
pub struct GoContext {
    pub name: String,
    pub url: Option<String>,
    pub api_token: Option<String>,
    pub service_token: Option<String>,
    pub api_path: Option<String>,
    pub skip_ssl: bool,
    pub ca_cert_base64_data: Option<String>,
}

/// The Go config: its contexts in file order and its current context.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GoConfig {
    pub contexts: Vec<GoContext>,
    pub current_context: Option<String>,
}

/// Parses the Go CLI's YAML: the `contexts:` format, or the older one where the file is one bare
/// context (named `default`, and current).
pub fn parse_go_config(text: &str, path: &Path) -> Result<GoConfig> {
    let value = parse_yaml(text, path, GO_WHAT)?;
    if value.is_null() {
        return Ok(GoConfig::default());
    }
    if !value.is_mapping() {
        return Err(Error::config(format!(
            "the Go CLI config {} is not a YAML mapping",
            path.display()
        )));
    }
    match value.get("contexts") {
        Some(list) => {
            let items = match list {
                Value::Null => &[][..],
                Value::Sequence(items) => items.as_slice(),
                _ => {
                    return Err(Error::config(format!(
                        "`contexts` in the Go CLI config {} is not a list",
                        path.display()
                    )));
                }
            };
            let contexts = items
                .iter()
                .map(|item| {
                    let name = string(item, "name").unwrap_or_default();
                    let ctx = item.get("context").unwrap_or(&Value::Null);
                    go_context(name, ctx)
                })
                .collect();
            Ok(GoConfig {
                contexts,
                current_context: string(&value, "current-context"),
            })
        }
        None => Ok(GoConfig {
            contexts: vec![go_context("default".to_string(), &value)],
            current_context: Some("default".to_string()),
        }),
    }
}

fn go_context(name: String, v: &Value) -> GoContext {
    GoContext {
        name,
        url: string(v, "url"),
        api_token: string(v, "api-token"),
        service_token: string(v, "service-token"),
        api_path: string(v, "api-path"),
        skip_ssl: match v.get("skip-ssl") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => parse_bool(s).unwrap_or(false),
            _ => false,
        },
        ca_cert_base64_data: string(v, "ca-cert-base64-data"),
    }
}

/// The Go CLI's contexts as entries; its current context stays current.
fn go_parsed(go: GoConfig, storage: Storage) -> Parsed {
    let entries = go
        .contexts
        .into_iter()
        .map(|ctx| {
            let name = ctx.name.clone();
            if name.is_empty() {
                return Err(("(no name)".to_string(), "it has no name".to_string()));
            }
            candidate(ctx, storage).map_err(|reason| (name, reason))
        })
        .collect();
    Parsed {
        entries,
        current: go.current_context.map(Current::Always),
    }
}

/// A context of ours for a Go context, or why it cannot be imported.
fn candidate(go: GoContext, storage: Storage) -> std::result::Result<Candidate, String> {
    let url = go.url.ok_or("it has no url")?;
    check_url(&url).map_err(|_| "its url is not http:// or https://".to_string())?;
    let credential = match (go.api_token, go.service_token) {
        (Some(_), Some(_)) => return Err("it has both an api-token and a service-token".into()),
        (Some(t), None) => (Auth::ApiToken, Secret::new(t)),
        (None, Some(t)) => (Auth::ServiceToken, Secret::new(t)),
        (None, None) => {
            return Err(
                "it has no api-token or service-token (a Kubernetes token is never \
                        saved)"
                    .into(),
            );
        }
    };
    let (auth, secret) = credential;
    Ok(Candidate {
        name: go.name,
        context: Context {
            url,
            platform: Default::default(),
            api_path: go
                .api_path
                .unwrap_or_else(|| config::DEFAULT_API_PATH.to_string()),
            auth,
            storage,
            skip_ssl: go.skip_ssl,
            ca_cert_base64_data: if go.skip_ssl {
                None
            } else {
                go.ca_cert_base64_data
            },
            credential_id: config::new_credential_id(),
            extra: Default::default(),
        },
        secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: &str = "\
contexts:
    - name: prod
      context:
        url: https://prod.example.com
        service-token: svctok-prod
        api-path: /api
    - name: dev
      context:
        url: http://dev.example.com/
        api-token: api-dev
        api-path: /api/v1
        skip-ssl: true
    - name: broken
      context:
        api-token: x
    - name: both
      context:
        url: https://x
        api-token: a
        service-token: b
current-context: dev
";

    const LEGACY: &str = "\
url: https://legacy.example.com
service-token: svctok-legacy
api-path: /api
";

    #[test]
    fn parses_both_formats_and_names_the_legacy_context_default() {
        let p = Path::new("config.yaml");
        let go = parse_go_config(NEW, p).unwrap();
        assert_eq!(go.contexts.len(), 4);
        assert_eq!(go.current_context.as_deref(), Some("dev"));
        assert_eq!(go.contexts[1].api_path.as_deref(), Some("/api/v1"));
        assert!(go.contexts[1].skip_ssl);
        let legacy = parse_go_config(LEGACY, p).unwrap();
        assert_eq!(legacy.contexts.len(), 1);
        assert_eq!(legacy.contexts[0].name, "default");
        assert_eq!(legacy.current_context.as_deref(), Some("default"));
        assert_eq!(parse_go_config("", p).unwrap(), GoConfig::default());
        let e = parse_go_config("contexts: [\n  - name: svctok-secret\n  bad", p).unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(!e.message.contains("svctok-secret"), "{}", e.message);
        assert!(parse_go_config("- a\n- b\n", p).is_err());
    }

    #[test]
    fn the_default_source_follows_xdg() {
        let env = |k: &str| match k {
            "XDG_CONFIG_HOME" => Some("/x".to_string()),
            "HOME" => Some("/h".to_string()),
            _ => None,
        };
        assert_eq!(
            default_source("linux", &env).unwrap(),
            Path::new("/x/stackstate-cli/config.yaml")
        );
        let env = |k: &str| (k == "HOME").then(|| "/h".to_string());
        assert_eq!(
            default_source("linux", &env).unwrap(),
            Path::new("/h/.config/stackstate-cli/config.yaml")
        );
    }
}

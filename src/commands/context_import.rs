//! `sts context import`: the contexts of the Go CLI's `config.yaml` become contexts of ours, their
//! tokens going to the OS keyring (or, when asked, the 0600 `credentials.toml`). The source file is
//! only read. A name that already exists is skipped unless `--overwrite`, so a second run changes
//! nothing. Returns a report; never prints, and no message built here contains a token.

use std::path::{Path, PathBuf};

use serde_norway::Value;

use crate::config::{self, Auth, Context, Storage};
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::settings::{self, Credential, parse_bool, secret_store};

/// Where the Go CLI keeps its config: `$XDG_CONFIG_HOME/stackstate-cli/config.yaml`, else
/// `~/.config/stackstate-cli/config.yaml` (on every OS). `env` gives a variable, empty as unset.
pub fn default_source(env: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf> {
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
    let value: Value = serde_norway::from_str(text).map_err(|e| {
        // Only the place: the parser's words could quote a token.
        let place = e
            .location()
            .map(|l| format!(" at line {} column {}", l.line(), l.column()))
            .unwrap_or_default();
        Error::config(format!(
            "the Go CLI config {} is not valid YAML{place}",
            path.display()
        ))
    })?;
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

/// A non-empty string field, trimmed.
fn string(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub source: PathBuf,
    /// Imported contexts, in the source's order.
    pub imported: Vec<(String, Context)>,
    /// Contexts left out, with the reason.
    pub skipped: Vec<(String, String)>,
    /// The context this run made current (the source's current one, when it was imported).
    pub current_context: Option<String>,
    /// Things to say on stderr (an old credential that stayed behind).
    pub warnings: Vec<String>,
}

/// A context ready to import, its secret beside it.
struct Candidate {
    name: String,
    context: Context,
    secret: Secret,
}

/// Imports the Go config at `source` into the config file at `config_path`.
pub fn import(
    source: &Path,
    config_path: &Path,
    overwrite: bool,
    insecure_storage: bool,
) -> Result<ImportReport> {
    // Bounded (CONTRACT §5): `--from /dev/zero` is an error, not an out-of-memory abort.
    let read = crate::fsutil::read_bounded(source, crate::fsutil::MAX_FILE_BYTES)
        .map_err(|e| match e {
            crate::fsutil::ReadError::Io(io) => io,
            other => std::io::Error::other(other.to_string()),
        })
        .and_then(|bytes| {
            String::from_utf8(bytes).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not valid UTF-8")
            })
        });
    let text = match read {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::config(format!(
                "no Go CLI config at {}: name it with --from PATH",
                source.display()
            )));
        }
        Err(e) => {
            return Err(Error::config(format!(
                "cannot read the Go CLI config {}: {e}",
                source.display()
            )));
        }
    };
    let go = parse_go_config(&text, source)?;
    let storage = if insecure_storage {
        Storage::File
    } else {
        Storage::Keyring
    };
    let mut report = ImportReport {
        source: source.to_path_buf(),
        ..Default::default()
    };

    // Check each context on its own first; what is left can be imported.
    let mut candidates: Vec<Candidate> = Vec::new();
    for ctx in go.contexts {
        let name = ctx.name.clone();
        if name.is_empty() {
            report
                .skipped
                .push(("(no name)".to_string(), "it has no name".to_string()));
            continue;
        }
        match candidate(ctx, storage) {
            Ok(_) if candidates.iter().any(|c| c.name == name) => report
                .skipped
                .push((name, "the name appears twice in the source".to_string())),
            Ok(c) => candidates.push(c),
            Err(reason) => report.skipped.push((name, reason)),
        }
    }

    // The config file must parse before anything is written; a name that exists is skipped
    // unless --overwrite. Nothing to do means no write at all, so a second run changes nothing.
    let existing = config::load(config_path)?.unwrap_or_default();
    let exists = |name: &str| existing.contexts.contains_key(name);
    if !overwrite {
        for c in candidates.iter().filter(|c| exists(&c.name)) {
            report.skipped.push((
                c.name.clone(),
                "a context of that name exists (--overwrite replaces it)".to_string(),
            ));
        }
        candidates.retain(|c| !exists(&c.name));
    }
    if candidates.is_empty() {
        return Ok(report);
    }

    let store = secret_store(storage, config_path)?;
    let mut written: Vec<String> = Vec::new();
    let source_current = go.current_context;
    let result = config::update(config_path, |config| {
        let mut replaced = Vec::new();
        let mut imported = Vec::new();
        for c in &candidates {
            if config.contexts.contains_key(&c.name) && !overwrite {
                // Saved by someone else since we looked.
                continue;
            }
            store
                .as_dyn()
                .set_labelled(
                    &c.context.credential_id,
                    &c.secret,
                    &crate::credentials::label(&c.name, &c.context.url),
                )
                .map_err(|e| {
                    Error::new(
                        e.kind,
                        format!(
                            "cannot store the token of context '{}': {}; nothing was imported",
                            c.name, e.message
                        ),
                    )
                })?;
            written.push(c.context.credential_id.clone());
            if let Some(old) = config.contexts.insert(c.name.clone(), c.context.clone()) {
                replaced.push((c.name.clone(), old));
            }
            imported.push((c.name.clone(), c.context.clone()));
        }
        let current = source_current
            .filter(|name| imported.iter().any(|(n, _)| n == name))
            .inspect(|name| config.current_context = Some(name.clone()));
        Ok((imported, replaced, current))
    });
    match result {
        Ok((imported, replaced, current)) => {
            report.imported = imported;
            report.current_context = current;
            for (name, old) in replaced {
                let forgotten = secret_store(old.storage, config_path)
                    .and_then(|s| s.as_dyn().delete(&old.credential_id));
                if let Err(e) = forgotten {
                    report
                        .warnings
                        .push(format!("the old credential of '{name}' stayed behind: {e}"));
                }
            }
            Ok(report)
        }
        Err(e) => {
            for id in &written {
                let _ = store.as_dyn().delete(id);
            }
            Err(e)
        }
    }
}

/// A context of ours for a Go context, or why it cannot be imported.
fn candidate(go: GoContext, storage: Storage) -> std::result::Result<Candidate, String> {
    let url = go.url.ok_or("it has no url")?;
    settings::check_url(&url).map_err(|_| "its url is not http:// or https://".to_string())?;
    let credential = match (go.api_token, go.service_token) {
        (Some(_), Some(_)) => return Err("it has both an api-token and a service-token".into()),
        (Some(t), None) => Credential::ApiToken(Secret::new(t)),
        (None, Some(t)) => Credential::ServiceToken(Secret::new(t)),
        (None, None) => {
            return Err(
                "it has no api-token or service-token (a Kubernetes token is never \
                        saved)"
                    .into(),
            );
        }
    };
    let auth = match credential {
        Credential::ApiToken(_) => Auth::ApiToken,
        _ => Auth::ServiceToken,
    };
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
        secret: credential.secret().clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::{FileStore, SecretStore};

    const NEW: &str = "\
contexts:
    - name: prod
      context:
        url: https://prod.example.com
        service-token: svctok-prod
        api-path: /api
        admin-api-path: \"\"
        skip-ssl: false
    - name: dev
      context:
        url: http://dev.example.com/
        api-token: api-dev
        api-path: /api/v1
        skip-ssl: true
        ca-cert-base64-data: ignored-with-skip-ssl
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
    fn imports_good_contexts_skips_the_rest_and_a_second_run_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("config.yaml");
        std::fs::write(&source, NEW).unwrap();
        let path = dir.path().join("sts/config.toml");
        let r = import(&source, &path, false, true).unwrap();
        let names: Vec<&str> = r.imported.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["prod", "dev"]);
        let skipped: Vec<&str> = r.skipped.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(skipped, ["broken", "both"]);
        assert_eq!(r.current_context.as_deref(), Some("dev"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("svctok-prod") && !text.contains("api-dev"),
            "{text}"
        );
        let config = config::load(&path).unwrap().unwrap();
        let dev = &config.contexts["dev"];
        assert_eq!((dev.auth, dev.skip_ssl), (Auth::ApiToken, true));
        assert_eq!(dev.ca_cert_base64_data, None);
        let store = FileStore::beside(&path);
        assert_eq!(
            store.get(&dev.credential_id).unwrap().unwrap().expose(),
            "api-dev"
        );

        let again = import(&source, &path, false, true).unwrap();
        assert!(again.imported.is_empty());
        assert_eq!(again.current_context, None);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        assert_eq!(std::fs::read_to_string(&source).unwrap(), NEW);

        let over = import(&source, &path, true, true).unwrap();
        assert_eq!(over.imported.len(), 2);
        let config = config::load(&path).unwrap().unwrap();
        assert!(
            store.get(&dev.credential_id).unwrap().is_none(),
            "old secret forgotten"
        );
        assert_eq!(
            store
                .get(&config.contexts["dev"].credential_id)
                .unwrap()
                .unwrap()
                .expose(),
            "api-dev"
        );
    }

    #[test]
    fn a_missing_source_is_exit_1_and_the_default_source_follows_xdg() {
        let dir = tempfile::tempdir().unwrap();
        let e = import(
            &dir.path().join("nope.yaml"),
            &dir.path().join("c.toml"),
            false,
            true,
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 1);
        let env = |k: &str| match k {
            "XDG_CONFIG_HOME" => Some("/x".to_string()),
            "HOME" => Some("/h".to_string()),
            _ => None,
        };
        assert_eq!(
            default_source(&env).unwrap(),
            Path::new("/x/stackstate-cli/config.yaml")
        );
        let env = |k: &str| (k == "HOME").then(|| "/h".to_string());
        assert_eq!(
            default_source(&env).unwrap(),
            Path::new("/h/.config/stackstate-cli/config.yaml")
        );
    }
}

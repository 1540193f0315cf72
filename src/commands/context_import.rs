//! `sts context import`: another CLI's saved credentials become contexts of ours, their tokens
//! going to the OS keyring (or, when asked, the 0600 `credentials.toml`). Three sources: the Go
//! CLI's `config.yaml` (this file), qualytics-cli's `config.yaml` ([`qualytics`]) and
//! rsconnect-python's `servers.json` ([`rsconnect`]); each is read into [`Parsed`] entries and
//! imported the same way. The source file is only read. A name that already exists is skipped
//! unless `--overwrite`, so a second run changes nothing. Returns a report; never prints, and no
//! message built here contains a token.

mod qualytics;
mod rsconnect;

pub use crate::outcome::ImportReport;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_norway::Value;

use crate::cli::ImportSource;
use crate::config::{self, Auth, Context, Storage};
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::settings::{self, Credential, parse_bool};

/// A source file larger than this is refused (CONTRACT §5: reads are bounded).
const MAX_SOURCE_BYTES: u64 = 1024 * 1024;

/// What to import and how: the command's flags, resolved.
#[derive(Debug, Clone, Default)]
pub struct ImportRequest {
    pub source: ImportSource,
    /// `--from`; `None`: where the source's CLI keeps its file.
    pub from: Option<PathBuf>,
    /// `--name`: the name of the one context of a qualytics import.
    pub name: Option<String>,
    pub overwrite: bool,
    pub insecure_storage: bool,
}

/// `context import`: checks the flags, finds the source file (`--from`, else the source's default
/// path on this OS, from `env`), and imports it into the config file at `config_path`.
pub fn run(
    req: &ImportRequest,
    config_path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ImportReport> {
    if let Some(name) = &req.name {
        if req.source != ImportSource::Qualytics {
            return Err(Error::usage(
                "--name names the one context of `context import qualytics`; the stackstate-cli \
                 and rsconnect sources name each context after its entry",
            ));
        }
        if name.trim().is_empty() {
            return Err(Error::usage("--name must not be empty"));
        }
    }
    let source = match &req.from {
        Some(path) => path.clone(),
        None => default_source_for(req.source, std::env::consts::OS, env)?,
    };
    import(req, &source, config_path)
}

/// Where each source's CLI keeps its file on `os` (as `std::env::consts::OS` names it).
pub fn default_source_for(
    source: ImportSource,
    os: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<PathBuf> {
    match source {
        ImportSource::StackstateCli => default_source(env),
        ImportSource::Qualytics => qualytics::default_source(env),
        ImportSource::Rsconnect => rsconnect::default_source(os, env),
    }
}

/// An environment variable, empty as unset.
fn var(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name).filter(|v| !v.is_empty())
}

/// The home folder (`HOME`), or an error that names `what` and `--from`.
fn home(env: &dyn Fn(&str) -> Option<String>, what: &str) -> Result<PathBuf> {
    var(env, crate::env_vars::HOME)
        .map(PathBuf::from)
        .ok_or_else(|| {
            Error::config(format!(
                "cannot find the {what} (HOME is not set); name it with --from PATH"
            ))
        })
}

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

/// YAML, or an error naming the file and the place; only the place, since the parser's words
/// could quote a token.
fn parse_yaml(text: &str, path: &Path, what: &str) -> Result<Value> {
    serde_norway::from_str(text).map_err(|e| {
        let place = e
            .location()
            .map(|l| format!(" at line {} column {}", l.line(), l.column()))
            .unwrap_or_default();
        Error::config(format!(
            "the {what} {} is not valid YAML{place}",
            path.display()
        ))
    })
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

/// A context ready to import, its secret beside it.
#[derive(Debug)]
struct Candidate {
    name: String,
    context: Context,
    secret: Secret,
}

/// A source file read into contexts of ours: each entry as a candidate, or its name and why it
/// cannot be imported, in the source's order; and the one that should become current.
#[derive(Debug, Default)]
struct Parsed {
    entries: Vec<std::result::Result<Candidate, (String, String)>>,
    current: Option<Current>,
}

/// Which imported context becomes current.
#[derive(Debug)]
enum Current {
    /// The source's current context: made current whatever was current before (the Go CLI's
    /// own notion of current, as the import always did).
    Always(String),
    /// The source's only or default entry: made current only when no context is current yet,
    /// so importing another platform's credentials never moves a user off their context.
    IfNone(String),
}

/// The name the Go CLI's file goes by in messages.
const GO_WHAT: &str = "Go CLI config";

/// Imports `req.source`'s file at `source` into the config file at `config_path`.
pub fn import(req: &ImportRequest, source: &Path, config_path: &Path) -> Result<ImportReport> {
    let what = match req.source {
        ImportSource::StackstateCli => GO_WHAT,
        ImportSource::Qualytics => qualytics::WHAT,
        ImportSource::Rsconnect => rsconnect::WHAT,
    };
    let (text, mode) = read_source(source, what)?;
    let storage = if req.insecure_storage {
        Storage::File
    } else {
        Storage::Keyring
    };
    let parsed = match req.source {
        ImportSource::StackstateCli => go_parsed(parse_go_config(&text, source)?, storage),
        ImportSource::Qualytics => {
            let name = req.name.as_deref().map(str::trim);
            qualytics::parse(
                &text,
                source,
                name.unwrap_or(qualytics::DEFAULT_NAME),
                storage,
            )?
        }
        ImportSource::Rsconnect => rsconnect::parse(&text, source, storage)?,
    };
    let (mut report, tokens) = import_parsed(parsed, source, config_path, req.overwrite, storage)?;
    if tokens > 0 {
        report.source_warnings = plain_text_warnings(source, mode, tokens);
    }
    Ok(report)
}

/// The source's text and its permission bits. A missing file is exit 1 naming the path looked
/// at; so is one that cannot be read, is larger than 1 MiB or is not UTF-8.
fn read_source(path: &Path, what: &str) -> Result<(String, Option<u32>)> {
    let cannot = |reason: String| {
        Error::config(format!(
            "cannot read the {what} {}: {reason}",
            path.display()
        ))
    };
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::config(format!(
                "no {what} at {}: name it with --from PATH",
                path.display()
            )));
        }
        Err(e) => return Err(cannot(e.to_string())),
    };
    let meta = file.metadata().map_err(|e| cannot(e.to_string()))?;
    if meta.is_dir() {
        return Err(cannot("it is a folder".into()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_SOURCE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| cannot(e.to_string()))?;
    if bytes.len() as u64 > MAX_SOURCE_BYTES {
        return Err(cannot("it is larger than 1 MiB".into()));
    }
    let text = String::from_utf8(bytes).map_err(|_| cannot("it is not valid UTF-8".into()))?;
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        Some(meta.permissions().mode() & 0o7777)
    };
    #[cfg(not(unix))]
    let mode = None;
    Ok((text, mode))
}

/// The ⚠️ lines after an import: the source still holds the tokens in plain text (`sts` never
/// changes it), and, when its mode lets its group or others read it, that too.
fn plain_text_warnings(source: &Path, mode: Option<u32>, tokens: usize) -> Vec<String> {
    let path = source.display();
    let (what, them) = if tokens == 1 {
        ("the token", "it")
    } else {
        ("the tokens", "them")
    };
    let mut warnings = vec![format!(
        "{path} still holds {what} in plain text (sts never changes it): remove {them} there \
         once nothing else needs {them}"
    )];
    if let Some(mode) = mode.filter(|m| m & 0o044 != 0) {
        warnings.push(format!(
            "{path} is readable by other users (mode {mode:04o}): chmod 600 it, or delete it"
        ));
    }
    warnings
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

/// Imports the entries of a source. Returns the report and how many tokens of the source we could
/// import (imported now, or before under a name that exists).
fn import_parsed(
    parsed: Parsed,
    source: &Path,
    config_path: &Path,
    overwrite: bool,
    storage: Storage,
) -> Result<(ImportReport, usize)> {
    let mut report = ImportReport {
        source: source.to_path_buf(),
        ..Default::default()
    };

    // Check each entry on its own first; what is left can be imported.
    let mut candidates: Vec<Candidate> = Vec::new();
    for entry in parsed.entries {
        match entry {
            Err(skipped) => report.skipped.push(skipped),
            Ok(c) if c.secret.expose().chars().any(char::is_control) => report.skipped.push((
                c.name,
                "its token holds a control character, which no HTTP header may carry".to_string(),
            )),
            Ok(c) if candidates.iter().any(|k| k.name == c.name) => report
                .skipped
                .push((c.name, "the name appears twice in the source".to_string())),
            Ok(c) => candidates.push(c),
        }
    }
    let tokens = candidates.len();

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
        return Ok((report, tokens));
    }
    // Crash-safe (CONTRACT §5): every new credential id is noted in the config before the store
    // is touched, so a kill at any moment leaves no orphan ([`credentials::store_secrets_and_change`]).
    let source_current = parsed.current;
    let labels: Vec<String> = candidates
        .iter()
        .map(|c| crate::credentials::label(&c.name, &c.context.url))
        .collect();
    let new: Vec<crate::credentials::NewSecret> = candidates
        .iter()
        .zip(&labels)
        .map(|(c, label)| crate::credentials::NewSecret {
            id: &c.context.credential_id,
            secret: &c.secret,
            label,
        })
        .collect();
    let ((imported, current), warning) =
        crate::credentials::store_secrets_and_change(config_path, storage, &new, |config| {
            let none_current = config
                .current_context
                .as_ref()
                .is_none_or(|c| !config.contexts.contains_key(c));
            let mut unused = Vec::new();
            let mut imported = Vec::new();
            for c in &candidates {
                if config.contexts.contains_key(&c.name) && !overwrite {
                    // Saved by someone else since we looked: its new secret goes again.
                    unused.push((storage, c.context.credential_id.clone()));
                    continue;
                }
                if let Some(old) = config.contexts.insert(c.name.clone(), c.context.clone()) {
                    unused.push((old.storage, old.credential_id));
                }
                imported.push((c.name.clone(), c.context.clone()));
            }
            let current = match source_current {
                Some(Current::Always(name)) => Some(name),
                Some(Current::IfNone(name)) if none_current => Some(name),
                _ => None,
            }
            .filter(|name| imported.iter().any(|(n, _)| n == name))
            .inspect(|name| config.current_context = Some(name.clone()));
            Ok(((imported, current), unused))
        })
        .map_err(|e| {
            Error::new(
                e.kind,
                format!(
                    "cannot store the tokens: {}; nothing was imported",
                    e.message
                ),
            )
        })?;
    report.imported = imported;
    report.current_context = current;
    if let Some(w) = warning {
        report
            .warnings
            .push(format!("the old credential of a replaced context {w}"));
    }
    Ok((report, tokens))
}

/// A context of ours for another platform's server: the server's URL, an API token, no
/// `api-path` of its own (StackState's only). `None` CA data with `skip_ssl`.
fn vendor_candidate(
    name: &str,
    url: String,
    platform: crate::platform::PlatformKind,
    token: &str,
    skip_ssl: bool,
    ca_cert_base64_data: Option<String>,
    storage: Storage,
) -> Candidate {
    Candidate {
        name: name.to_string(),
        context: Context {
            url,
            platform,
            api_path: config::DEFAULT_API_PATH.to_string(),
            auth: Auth::ApiToken,
            storage,
            skip_ssl,
            ca_cert_base64_data: if skip_ssl { None } else { ca_cert_base64_data },
            credential_id: config::new_credential_id(),
            extra: Default::default(),
        },
        secret: Secret::new(token),
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

    /// A Go CLI import, `--insecure-storage` (tests have no keyring), maybe `--overwrite`.
    fn go_import(source: &Path, config: &Path, overwrite: bool) -> Result<ImportReport> {
        let req = ImportRequest {
            overwrite,
            insecure_storage: true,
            ..Default::default()
        };
        import(&req, source, config)
    }

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
        let r = go_import(&source, &path, false).unwrap();
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

        let again = go_import(&source, &path, false).unwrap();
        assert!(again.imported.is_empty());
        assert_eq!(again.current_context, None);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        assert_eq!(std::fs::read_to_string(&source).unwrap(), NEW);

        let over = go_import(&source, &path, true).unwrap();
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
        let e = go_import(
            &dir.path().join("nope.yaml"),
            &dir.path().join("c.toml"),
            false,
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

//! `renewals.toml` (CONTRACT §12): read bounded, checked whole before anything happens. Each
//! entry is checked against its context's platform (its kind, its create-time fields, the
//! retirement it asks for); a problem is exit 3 naming the entry and its line, a context that
//! does not exist exit 8.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use serde::Deserialize;

use crate::commands::deliver::Delivery;
use crate::config::Config;
use crate::error::{Error, Kind, Result};
use crate::fsutil;
use crate::platform::{CreateInput, OldTokenFate, Platform, PlatformKind, TokenKind};
use crate::with_platform;

/// The renewals file's name beside the config.
pub const FILE_NAME: &str = "renewals.toml";

const MAX_SIZE: u64 = 1 << 20;

const KEYS: &[&str] = &[
    "context",
    "kind",
    "name",
    "lifetime",
    "renew-before",
    "overlap",
    "retire",
    "description",
    "roles",
    "scopes",
    "service-user",
    "dedicated-subject",
    "deliver-file",
    "deliver-command",
    "verify-command",
];

/// Which kind of credential an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CredKind {
    ServiceToken,
    IngestionApiKey,
}

impl CredKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredKind::ServiceToken => "service-token",
            CredKind::IngestionApiKey => "ingestion-api-key",
        }
    }
}

/// One checked entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// 1-based, in file order.
    pub index: usize,
    pub line: usize,
    pub context: String,
    pub platform: PlatformKind,
    pub kind: CredKind,
    pub name: String,
    /// As written (`90d`), for the expiry of each new token.
    pub lifetime: Option<String>,
    /// Renew when less than this is left.
    pub renew_before: Option<Duration>,
    pub overlap: Option<Duration>,
    /// `None`: the platform's default.
    pub retire: Option<OldTokenFate>,
    pub input: CreateInput,
    pub delivery: Delivery,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    credential: Vec<toml::Spanned<toml::Table>>,
}

/// `--file` > `STS_CLI_RENEWALS` > `renewals.toml` beside the config.
pub fn resolve(flag: Option<&Path>, env: Option<String>, config_path: &Path) -> PathBuf {
    crate::config::file_beside(flag, env, config_path, FILE_NAME)
}

/// Reads and checks the whole file against the config's contexts.
pub fn load(path: &Path, config: Option<&Config>) -> Result<Vec<Entry>> {
    let shown = path.display();
    let bytes = fsutil::read_bounded(path, MAX_SIZE)
        .map_err(|e| Error::usage(format!("the renewals file {shown}: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::usage(format!("the renewals file {shown} is not UTF-8")))?;
    let raw: Raw = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| line_of(&text, s.start)).unwrap_or(1);
        Error::usage(format!("{shown} line {line}: {}", e.message()))
    })?;
    let mut entries = Vec::new();
    let mut unknown_context = None;
    for (i, spanned) in raw.credential.iter().enumerate() {
        let line = line_of(&text, spanned.span().start);
        let table = spanned.get_ref();
        let name = table.get("name").and_then(|v| v.as_str()).unwrap_or("");
        let at = |message: String| {
            let label = if name.is_empty() {
                String::new()
            } else {
                format!(" ('{name}')")
            };
            Error::usage(format!(
                "{shown} line {line}: credential {}{label}: {message}",
                i + 1
            ))
        };
        match check(table, i + 1, line, config) {
            Ok(entry) => entries.push(entry),
            Err(Checked::Usage(m)) => return Err(at(m)),
            Err(Checked::NoContext(c)) => {
                unknown_context.get_or_insert_with(|| {
                    Error::new(
                        Kind::NotFound,
                        format!(
                            "{shown} line {line}: credential {}: context '{c}' does not exist",
                            i + 1
                        ),
                    )
                });
            }
        }
    }
    if let Some(e) = unknown_context {
        return Err(e);
    }
    for (i, a) in entries.iter().enumerate() {
        if let Some(b) = entries[..i]
            .iter()
            .find(|b| b.context == a.context && b.kind == a.kind && b.name == a.name)
        {
            return Err(Error::usage(format!(
                "{shown} line {}: credential {} repeats credential {} (context '{}', {} '{}')",
                a.line,
                a.index,
                b.index,
                a.context,
                a.kind.as_str(),
                a.name
            )));
        }
    }
    Ok(entries)
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

enum Checked {
    Usage(String),
    NoContext(String),
}

impl From<String> for Checked {
    fn from(s: String) -> Self {
        Checked::Usage(s)
    }
}

fn string(t: &toml::Table, key: &str) -> std::result::Result<Option<String>, String> {
    match t.get(key) {
        None => Ok(None),
        Some(toml::Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("`{key}` must be a string")),
    }
}

fn strings(t: &toml::Table, key: &str) -> std::result::Result<Vec<String>, String> {
    match t.get(key) {
        None => Ok(Vec::new()),
        Some(toml::Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("`{key}` must be a list of strings"))
            })
            .collect(),
        Some(_) => Err(format!("`{key}` must be a list of strings")),
    }
}

fn duration(t: &toml::Table, key: &str) -> std::result::Result<Option<Duration>, String> {
    string(t, key)?
        .map(|v| crate::dates::parse_duration(&v).map_err(|e| format!("`{key}` = \"{v}\": {e}")))
        .transpose()
}

fn check(
    t: &toml::Table,
    index: usize,
    line: usize,
    config: Option<&Config>,
) -> std::result::Result<Entry, Checked> {
    if let Some(k) = t.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!("unknown key `{k}`").into());
    }
    let required = |key: &str| -> std::result::Result<String, String> {
        match string(t, key)? {
            Some(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(format!("`{key}` is missing")),
        }
    };
    let context = required("context")?;
    let kind = match required("kind")?.as_str() {
        "service-token" => CredKind::ServiceToken,
        "ingestion-api-key" => CredKind::IngestionApiKey,
        other => {
            return Err(format!(
                "`kind` = \"{other}\": use \"service-token\" or \"ingestion-api-key\""
            )
            .into());
        }
    };
    let name = required("name")?;
    let lifetime = string(t, "lifetime")?;
    let lifetime_d = duration(t, "lifetime")?;
    let renew_before = duration(t, "renew-before")?.or(lifetime_d.map(|l| l / 3));
    let overlap = duration(t, "overlap")?;
    let delivery = Delivery {
        file: string(t, "deliver-file")?.map(PathBuf::from),
        command: string(t, "deliver-command")?,
        verify_command: string(t, "verify-command")?,
        ..Delivery::default()
    };
    if !delivery.delivers() {
        return Err(
            "no delivery: give `deliver-file`, `deliver-command` or both"
                .to_string()
                .into(),
        );
    }
    if let Some(path) = &delivery.file {
        fsutil::check_regular_or_absent(path)
            .map_err(|e| format!("`deliver-file` {}: {e}", path.display()))?;
        delivery
            .check()
            .map_err(|e| e.message.replace("--deliver-file", "`deliver-file`"))?;
    }
    let input = CreateInput {
        name: name.clone(),
        roles: strings(t, "roles")?,
        scopes: strings(t, "scopes")?,
        expiration: lifetime.clone(),
        dedicated_subject: string(t, "dedicated-subject")?,
        description: string(t, "description")?,
        service_user: string(t, "service-user")?,
        scim_only: false,
    };
    let retire_text = string(t, "retire")?;
    let Some(ctx) = config.and_then(|c| c.contexts.get(&context)) else {
        return Err(Checked::NoContext(context));
    };
    let platform = ctx.platform;
    let retire = with_platform!(platform, P => {
        match kind {
            CredKind::ServiceToken => {
                check_kind::<<P as Platform>::ServiceTokens>(&input, retire_text.as_deref())?
            }
            CredKind::IngestionApiKey => {
                if !platform.profile().ingestion_keys {
                    return Err(format!(
                        "`kind` = \"ingestion-api-key\": {} has no ingestion API keys",
                        platform.display()
                    )
                    .into());
                }
                check_kind::<<P as Platform>::IngestionKeys>(&input, retire_text.as_deref())?
            }
        }
    });
    Ok(Entry {
        index,
        line,
        context,
        platform,
        kind,
        name,
        lifetime,
        renew_before,
        overlap,
        retire,
        input,
        delivery,
    })
}

/// The entry's create-time fields and retirement, checked by the kind itself.
fn check_kind<K: TokenKind>(
    input: &CreateInput,
    retire: Option<&str>,
) -> std::result::Result<Option<OldTokenFate>, String> {
    K::create_request(input, Utc::now()).map_err(|e| {
        e.message
            .replace("--dedicatedSubject", "`dedicated-subject`")
            .replace("--description", "`description`")
            .replace("--service-user", "`service-user`")
            .replace("--scopes", "`scopes`")
            .replace("--roles", "`roles`")
            .replace("--expiration", "`lifetime`")
            .replace("--name", "`name`")
    })?;
    if !input.scopes.is_empty() {
        K::check_scopes().map_err(|e| format!("`scopes`: {}", e.message))?;
    }
    match retire {
        None => Ok(None),
        Some("delete") => Ok(Some(OldTokenFate::Delete)),
        Some("keep") => Ok(Some(OldTokenFate::Keep)),
        Some("revoke") => {
            K::check_revoke().map_err(|e| format!("`retire` = \"revoke\": {}", e.message))?;
            Ok(Some(OldTokenFate::Revoke))
        }
        Some(other) => Err(format!(
            "`retire` = \"{other}\": use \"delete\", \"revoke\" or \"keep\""
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        toml::from_str(
            "[contexts.prod]\nurl = \"http://h\"\nauth = \"service-token\"\ncredential-id = \"a\"\n\n[contexts.posit]\nurl = \"http://h\"\nauth = \"service-token\"\ncredential-id = \"b\"\n\
             platform = \"posit-connect\"\n",
        )
        .unwrap()
    }

    fn load_text(text: &str) -> Result<Vec<Entry>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("renewals.toml");
        std::fs::write(&path, text).unwrap();
        load(&path, Some(&config()))
    }

    const GOOD: &str = r#"
[[credential]]
context = "prod"
kind = "ingestion-api-key"
name = "otel"
lifetime = "90d"
deliver-command = "true"
"#;

    #[test]
    fn a_good_entry_is_read_with_its_defaults() {
        let e = load_text(GOOD).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].line, 2);
        assert_eq!(e[0].renew_before, Some(Duration::from_secs(30 * 86400)));
        assert_eq!(e[0].retire, None);
    }

    #[test]
    fn each_problem_names_the_entry_and_line() {
        let cases = [
            (
                format!("{GOOD}colour = \"red\"\n"),
                "unknown key `colour`",
                3,
            ),
            (
                GOOD.replace("lifetime = \"90d\"", "lifetime = \"9x\""),
                "`lifetime`",
                3,
            ),
            (
                GOOD.replace("deliver-command = \"true\"", ""),
                "no delivery",
                3,
            ),
            (
                GOOD.replace("ingestion-api-key", "service-token")
                    .replace("name = \"otel\"", "name = \"otel\"\nscopes = [\"a\"]"),
                "scopes",
                3,
            ),
        ];
        for (text, want, code) in cases {
            let e = load_text(&text).unwrap_err();
            assert_eq!(e.exit_code(), code, "{}", e.message);
            assert!(e.message.contains(want), "{}", e.message);
            assert!(e.message.contains("line 2: credential 1"), "{}", e.message);
        }
        let e = load_text(&GOOD.replace("\"prod\"", "\"nope\"")).unwrap_err();
        assert_eq!(e.exit_code(), 8, "{}", e.message);
        assert!(e.message.contains("'nope'"));
    }
}

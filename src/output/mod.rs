//! The one place that prints: tables, JSON, success, warning and error lines, and verbose logs
//! (CONTRACT §1–§3, §6). Data goes to stdout; messages and logs go to stderr.

use std::io::{self, IsTerminal, Write};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::api::models::{
    GeneratedIngestionApiKeyResponse, IngestionApiKey, ServerInfo, ServiceToken,
    ServiceTokenCreatedResponse,
};
use crate::cli::OutputFormat;
use crate::config::{Config, Context};
use crate::dates::render_expiration;
use crate::error::Error;
use crate::settings::OutputSettings;

mod progress;
mod table;
use ColumnKind::{Date, Id, Text};
pub use progress::Spinner;
pub use table::{ColumnKind, TableOptions, render_table, render_table_with};

const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// How and where to print, decided once from the settings and the terminals.
#[derive(Debug, Clone)]
pub struct Printer {
    pub format: OutputFormat,
    /// Emoji symbols (`✅`); `[SUCCESS]` etc. when colour was turned off.
    symbols: bool,
    /// ANSI colour on stdout (a terminal, colour not turned off, text mode).
    stdout_color: bool,
    /// ANSI colour on stderr (a terminal, colour not turned off, text mode).
    stderr_color: bool,
    /// A spinner on stderr while a request is slow (a terminal, colour on, no verbose log).
    spinner: bool,
    /// Terminal width to fit tables to; `None` when stdout is not a terminal (never wrap).
    width: Option<u16>,
    /// The header line of tables (`--no-headers` turns it off).
    headers: bool,
}

impl Printer {
    pub fn new(settings: &OutputSettings) -> Printer {
        let stdout_tty = io::stdout().is_terminal();
        let width = if stdout_tty {
            terminal_size::terminal_size_of(io::stdout()).map(|(w, _)| w.0)
        } else {
            None
        };
        let stderr_tty = io::stderr().is_terminal();
        let text = settings.format == OutputFormat::Text;
        Printer {
            format: settings.format,
            symbols: !settings.no_color,
            stdout_color: stdout_tty && !settings.no_color && text,
            stderr_color: stderr_tty && !settings.no_color && text,
            spinner: stderr_tty && !settings.no_color && settings.verbosity == 0,
            width,
            headers: true,
        }
    }

    /// The same printer without the header line of tables (`--no-headers`).
    pub fn without_headers(mut self, no_headers: bool) -> Printer {
        self.headers = !no_headers;
        self
    }

    /// A spinner on stderr that shows after about 200 ms and is erased when dropped; `None`
    /// when stderr is not a terminal, colour is off or a verbose log is written.
    pub fn spinner(&self) -> Option<Spinner> {
        self.spinner.then(Spinner::start)
    }

    /// A printer for tests: no terminal, so no colour and no wrapping.
    pub fn plain(format: OutputFormat, no_color: bool) -> Printer {
        Printer {
            format,
            symbols: !no_color,
            stdout_color: false,
            stderr_color: false,
            spinner: false,
            width: None,
            headers: true,
        }
    }

    pub fn is_json(&self) -> bool {
        self.format == OutputFormat::Json
    }

    fn symbol(&self, emoji: &'static str, word: &'static str) -> &'static str {
        if self.symbols { emoji } else { word }
    }

    /// `✅ <message>` on stdout.
    pub fn success_line(&self, message: &str) -> String {
        let line = format!("{} {}", self.symbol("✅", "[SUCCESS]"), message);
        format!("{}\n", paint(&line, GREEN, self.stdout_color))
    }

    /// `✅ <message><secret>` on stdout, the secret bold on a colour terminal. The one place a
    /// freshly created secret is written.
    fn success_with_secret(&self, message: &str, secret: &str) -> io::Result<()> {
        let secret = clean(secret);
        let secret = if self.stdout_color {
            format!("{BOLD}{secret}{RESET}")
        } else {
            secret
        };
        write_stdout(&self.success_line(&format!("{message}{secret}")))
    }

    /// `⚠️ <message>` on stderr.
    pub fn warn(&self, message: &str) {
        let line = format!("{} {}", self.symbol("⚠️", "[WARN]"), message);
        write_stderr(&format!("{}\n", paint(&line, YELLOW, self.stderr_color)));
    }

    /// The error on stderr: `❌ <message>`, or the JSON error object.
    pub fn error(&self, err: &Error) {
        write_stderr(&self.error_text(err));
    }

    pub fn error_text(&self, err: &Error) -> String {
        if self.is_json() {
            let mut v = json!({"error": true, "error-message": err.message});
            if let Some(status) = err.status {
                v["status"] = json!(status);
            }
            pretty(&v)
        } else {
            let line = format!("{} {}", self.symbol("❌", "[ERROR]"), err.message);
            format!("{}\n", paint(&line, RED, self.stderr_color))
        }
    }

    /// A verbose log line on stderr.
    pub fn log(&self, line: &str) {
        write_stderr(&format!("{line}\n"));
    }

    fn json(&self, value: &Value) -> io::Result<()> {
        write_stdout(&pretty(value))
    }

    /// A table on stdout (`empty` when there are no rows), fitted to the terminal, its header
    /// coloured there and left out with `--no-headers`. Any command of any platform prints its
    /// rows through here.
    pub fn table(
        &self,
        headers: &[&str],
        rows: &[Vec<String>],
        kinds: &[ColumnKind],
        empty: &str,
    ) -> io::Result<()> {
        if rows.is_empty() {
            return write_stdout(&format!("{empty}\n"));
        }
        let options = TableOptions {
            width: self.width,
            no_headers: !self.headers,
            color: self.stdout_color,
        };
        write_stdout(&render_table_with(headers, rows, kinds, options))
    }

    pub fn service_token_created(&self, created: &ServiceTokenCreatedResponse) -> io::Result<()> {
        if self.is_json() {
            return self.json(&json!({"service-token": to_value(created)}));
        }
        self.success_with_secret("Service token created: ", &created.token)
    }

    pub fn service_tokens(&self, tokens: &[ServiceToken], now: DateTime<Utc>) -> io::Result<()> {
        if self.is_json() {
            return self.json(&json!({"service-tokens": to_value(&tokens)}));
        }
        let rows: Vec<Vec<String>> = tokens
            .iter()
            .map(|t| {
                vec![
                    opt(t.id),
                    clean(&t.name),
                    expiration(t.expiration, now),
                    format!(
                        "[{}]",
                        t.roles
                            .iter()
                            .map(|r| clean(r))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                    t.dedicated_subject
                        .as_deref()
                        .map_or_else(|| "-".into(), clean),
                ]
            })
            .collect();
        self.table(
            &["ID", "NAME", "EXPIRATION", "ROLES", "DEDICATED_SUBJECT"],
            &rows,
            &[Id, Text, Date, Text, Text],
            "No service tokens found.",
        )
    }

    pub fn ingestion_api_key_created(
        &self,
        created: &GeneratedIngestionApiKeyResponse,
    ) -> io::Result<()> {
        if self.is_json() {
            return self.json(&json!({"ingestion-api-key": to_value(created)}));
        }
        self.success_with_secret("Ingestion API Key generated: ", &created.api_key)
    }

    pub fn ingestion_api_keys(
        &self,
        keys: &[IngestionApiKey],
        now: DateTime<Utc>,
    ) -> io::Result<()> {
        if self.is_json() {
            return self.json(&json!({"ingestion-api-keys": to_value(&keys)}));
        }
        let rows: Vec<Vec<String>> = keys
            .iter()
            .map(|k| {
                vec![
                    opt(k.id),
                    clean(&k.name),
                    expiration(k.expiration, now),
                    k.description.as_deref().map_or_else(|| "-".into(), clean),
                ]
            })
            .collect();
        self.table(
            &["ID", "NAME", "EXPIRATION", "DESCRIPTION"],
            &rows,
            &[Id, Text, Date, Text],
            "No ingestion api keys found.",
        )
    }

    /// Text: the success line of one deleted id (printed as each is deleted).
    pub fn deleted_line(&self, what: Deleted, id: i64) -> io::Result<()> {
        write_stdout(&self.success_line(&format!("{}{id}", what.text())))
    }

    /// JSON, after all ids were tried: the id when one was asked for, the list of deleted ids
    /// when several were.
    pub fn deleted_json(&self, what: Deleted, deleted: &[i64], several: bool) -> io::Result<()> {
        let ids = if several {
            json!(deleted)
        } else {
            json!(deleted.first())
        };
        self.json(&json!({ what.json_key(): ids }))
    }

    /// Text: `✅ Connection verified to <url> (Platform version: <v>)`; nothing in JSON mode.
    pub fn connection_verified(&self, url: &str, info: &ServerInfo) -> io::Result<()> {
        if self.is_json() {
            return Ok(());
        }
        let v = &info.version;
        let version = match &info.platform_version {
            Some(pv) => format!("Platform version: {}", clean(pv)),
            None => format!(
                "SUSE Observability version: {}.{}.{}",
                v.major, v.minor, v.patch
            ),
        };
        write_stdout(&self.success_line(&format!(
            "Connection verified to {} ({version})",
            clean(url)
        )))
    }

    /// `✅ Saved context: '<name>'` (as the Go CLI), and on stderr `Current context set to
    /// <name>` when the save switched away from another current context.
    pub fn context_saved(
        &self,
        name: &str,
        ctx: &Context,
        saved: &crate::commands::context::Saved,
    ) -> io::Result<()> {
        if let Some(warning) = &saved.warning {
            self.warn(warning);
        }
        if self.is_json() {
            self.json(&json!({"context": context_json(ctx), "current-context": name}))?;
        } else {
            write_stdout(&self.success_line(&format!("Saved context: '{name}'")))?;
        }
        if saved.switched_from.is_some() {
            write_stderr(&format!("Current context set to {}\n", clean(name)));
        }
        Ok(())
    }

    /// `context list`: a table, `*` marking the current context.
    pub fn contexts(&self, config: Option<&Config>) -> io::Result<()> {
        let current = config.and_then(|c| c.current_context.as_deref());
        let contexts: Vec<(&String, &Context)> = config
            .map(|c| c.contexts.iter().collect())
            .unwrap_or_default();
        if self.is_json() {
            let list: Vec<Value> = contexts
                .iter()
                .map(|(name, ctx)| {
                    json!({
                        "name": name,
                        "context": context_json(ctx),
                        "current": current == Some(name.as_str()),
                    })
                })
                .collect();
            return self.json(&json!({ "contexts": list }));
        }
        let rows: Vec<Vec<String>> = contexts
            .iter()
            .map(|(name, ctx)| {
                vec![
                    clean(name),
                    clean(&ctx.url),
                    ctx.auth.to_string(),
                    ctx.storage.to_string(),
                    if current == Some(name.as_str()) {
                        "*"
                    } else {
                        ""
                    }
                    .to_string(),
                ]
            })
            .collect();
        self.table(
            &["NAME", "URL", "AUTH", "STORAGE", "CURRENT"],
            &rows,
            &[Id, Id, Text, Text, Text],
            "No contexts found.",
        )
    }

    /// `context show`: the name alone, or the JSON of the context.
    pub fn context_shown(&self, name: &str, ctx: &Context) -> io::Result<()> {
        if self.is_json() {
            return self.json(&json!({"current-context": context_json(ctx), "name": name}));
        }
        write_stdout(&format!("{name}\n"))
    }

    pub fn context_set(&self, name: &str) -> io::Result<()> {
        if self.is_json() {
            return self.json(&json!({ "current-context": name }));
        }
        write_stdout(&format!("Current context set to {name}\n"))
    }

    /// `✅ Deleted context '<name>'`, then `⚠️ no context is current now` when it was current.
    pub fn context_deleted(&self, name: &str, was_current: bool) -> io::Result<()> {
        if self.is_json() {
            self.json(&json!({ "deleted context": name }))?;
        } else {
            write_stdout(&self.success_line(&format!("Deleted context '{name}'")))?;
        }
        if was_current {
            self.warn("no context is current now");
        }
        Ok(())
    }

    /// `✅ Renamed context '<old>' to '<new>'`; JSON `{"renamed-context": {"from", "to"}}`.
    pub fn context_renamed(
        &self,
        old: &str,
        new: &str,
        renamed: &crate::commands::context::Renamed,
    ) -> io::Result<()> {
        if let Some(warning) = &renamed.warning {
            self.warn(warning);
        }
        if self.is_json() {
            return self.json(&json!({"renamed-context": {"from": old, "to": new}}));
        }
        write_stdout(&self.success_line(&format!(
            "Renamed context '{}' to '{}'",
            clean(old),
            clean(new)
        )))
    }

    /// `context validate`: the connection line, then `✅ Context <name> is valid.`
    pub fn context_valid(&self, name: &str, url: &str, info: &ServerInfo) -> io::Result<()> {
        if self.is_json() {
            return self.json(&json!({
                "connected": true,
                "context": name,
                "server-info": to_value(info),
            }));
        }
        self.connection_verified(url, info)?;
        write_stdout(&self.success_line(&format!("Context {name} is valid.")))
    }
}

/// Rotation, `verify` and `context import` (issue 8).
impl Printer {
    /// What a service-token rotation did, step by step: the new secret (once), its id, the
    /// context it went to, the old token's fate. Nothing when no token was created.
    pub fn service_token_rotated(
        &self,
        r: &crate::commands::rotate::ServiceTokenRotation,
    ) -> io::Result<()> {
        for w in &r.warnings {
            self.warn(w);
        }
        let Some(created) = &r.created else {
            return Ok(());
        };
        if self.is_json() {
            return self.json(&json!({
                "service-token": to_value(created),
                "old-id": r.old_id,
                "new-id": r.new_id,
                "saved-to-context": r.saved_to_context,
                "old-deleted": r.old_deleted,
            }));
        }
        self.success_with_secret("Service token created: ", &created.token)?;
        self.rotation_steps(
            "service token",
            r.old_id,
            r.new_id,
            r.old_deleted,
            r.keep_old,
            r.saved_to_context.as_deref(),
        )
    }

    /// What an ingestion-API-key rotation did.
    pub fn ingestion_api_key_rotated(
        &self,
        r: &crate::commands::rotate::IngestionApiKeyRotation,
    ) -> io::Result<()> {
        for w in &r.warnings {
            self.warn(w);
        }
        let Some(created) = &r.created else {
            return Ok(());
        };
        if self.is_json() {
            return self.json(&json!({
                "ingestion-api-key": to_value(created),
                "old-id": r.old_id,
                "new-id": r.new_id,
                "old-deleted": r.old_deleted,
            }));
        }
        self.success_with_secret("Ingestion API Key generated: ", &created.api_key)?;
        self.rotation_steps(
            "ingestion API key",
            r.old_id,
            r.new_id,
            r.old_deleted,
            r.keep_old,
            None,
        )
    }

    fn rotation_steps(
        &self,
        what: &str,
        old_id: i64,
        new_id: Option<i64>,
        old_deleted: bool,
        keep_old: bool,
        context: Option<&str>,
    ) -> io::Result<()> {
        let mut text = String::new();
        if let Some(id) = new_id {
            text += &self.success_line(&format!("New {what} id: {id} (replaces {old_id})"));
        }
        if let Some(name) = context {
            text += &self.success_line(&format!("Context '{name}' now uses the new {what}"));
        }
        if old_deleted {
            text += &self.success_line(&format!("Old {what} deleted: {old_id}"));
        } else if keep_old {
            text += &self.success_line(&format!("Old {what} kept (--keep-old): {old_id}"));
        }
        write_stdout(&text)
    }

    /// `ingestion-api-key verify` of a live key.
    pub fn ingestion_api_key_valid(&self) -> io::Result<()> {
        if self.is_json() {
            return self.json(&json!({ "valid": true }));
        }
        write_stdout(&self.success_line("The ingestion API key is valid."))
    }

    /// `context import`: each imported context, each skipped one (a warning), the new current
    /// context.
    pub fn contexts_imported(
        &self,
        r: &crate::commands::context_import::ImportReport,
    ) -> io::Result<()> {
        for w in &r.warnings {
            self.warn(w);
        }
        if self.is_json() {
            let imported: Vec<Value> = r
                .imported
                .iter()
                .map(|(name, ctx)| json!({"name": name, "context": context_json(ctx)}))
                .collect();
            let skipped: Vec<Value> = r
                .skipped
                .iter()
                .map(|(name, reason)| json!({"name": name, "reason": reason}))
                .collect();
            return self.json(&json!({
                "source": r.source.display().to_string(),
                "imported": imported,
                "skipped": skipped,
                "current-context": r.current_context,
            }));
        }
        for (name, reason) in &r.skipped {
            self.warn(&format!("Skipped context '{}': {}", clean(name), reason));
        }
        let mut text = String::new();
        for (name, ctx) in &r.imported {
            text += &self.success_line(&format!(
                "Imported context '{}' ({}, {})",
                clean(name),
                ctx.auth,
                ctx.storage
            ));
        }
        if r.imported.is_empty() {
            text += &format!("No contexts imported from {}.\n", r.source.display());
        }
        if let Some(name) = &r.current_context {
            text += &format!("Current context set to {}\n", clean(name));
        }
        write_stdout(&text)
    }
}

/// What a delete command deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    ServiceToken,
    IngestionApiKey,
}

impl Deleted {
    fn text(self) -> &'static str {
        match self {
            Deleted::ServiceToken => "Service token deleted: ",
            Deleted::IngestionApiKey => "Ingestion Api Key deleted: ",
        }
    }

    fn json_key(self) -> &'static str {
        match self {
            Deleted::ServiceToken => "deleted-service-token",
            Deleted::IngestionApiKey => "deleted-ingestion-api-key",
        }
    }
}

/// A context as `context list/show/save -o json` show it: the config's fields, no secret and no
/// credential id.
fn context_json(ctx: &Context) -> Value {
    let mut v = json!({
        "url": ctx.url,
        "api-path": ctx.api_path,
        "auth": ctx.auth.as_str(),
        "storage": ctx.storage.as_str(),
        "skip-ssl": ctx.skip_ssl,
    });
    if let Some(ca) = &ctx.ca_cert_base64_data {
        v["ca-cert-base64-data"] = json!(ca);
    }
    v
}

/// Serializes a model through `serde_json::Value`, which sorts object keys like the Go CLI.
fn to_value<T: Serialize + ?Sized>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Two-space indented JSON and a newline.
pub fn pretty(value: &Value) -> String {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
    s.push('\n');
    s
}

fn opt(v: Option<i64>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

fn expiration(v: Option<i64>, now: DateTime<Utc>) -> String {
    v.map_or_else(|| "-".into(), |ms| render_expiration(ms, now))
}

/// A server string made safe for one table cell: control characters (newlines, ESC) become spaces.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Writes to stdout in one go. A closed pipe comes back as `BrokenPipe` for `main` to end quietly.
pub fn write_stdout(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Writes to stderr; a failure to write an error message has nowhere to go, so it is dropped.
pub fn write_stderr(text: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// `text` in an ANSI colour when `on`.
fn paint(text: &str, color: &str, on: bool) -> String {
    if on {
        format!("{color}{text}{RESET}")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-10T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn service_token_rows_use_dashes_brackets_and_utc_dates() {
        let tokens = [ServiceToken {
            id: Some(7),
            name: "n\x1b[31m".into(),
            expiration: Some(1_735_689_600_000),
            roles: vec!["a".into(), "b".into()],
            ..Default::default()
        }];
        let rows: Vec<Vec<String>> = tokens
            .iter()
            .map(|t| {
                vec![
                    opt(t.id),
                    clean(&t.name),
                    expiration(t.expiration, now()),
                    format!("[{}]", t.roles.join(" ")),
                    t.dedicated_subject
                        .as_deref()
                        .map_or_else(|| "-".into(), clean),
                ]
            })
            .collect();
        assert_eq!(
            rows[0],
            ["7", "n [31m", "2025-01-01 (expired)", "[a b]", "-"]
        );
        assert_eq!(expiration(None, now()), "-");
        assert_eq!(expiration(Some(i64::MIN), now()), i64::MIN.to_string());
    }

    #[test]
    fn errors_print_as_text_or_json() {
        let e = Error::usage("404 Not Found: no such token").with_status(404);
        let text = Printer::plain(OutputFormat::Text, false);
        assert_eq!(text.error_text(&e), "❌ 404 Not Found: no such token\n");
        let plain = Printer::plain(OutputFormat::Text, true);
        assert_eq!(plain.error_text(&Error::usage("bad")), "[ERROR] bad\n");
        let json = Printer::plain(OutputFormat::Json, false);
        assert_eq!(
            json.error_text(&e),
            "{\n  \"error\": true,\n  \"error-message\": \"404 Not Found: no such token\",\n  \"status\": 404\n}\n"
        );
        assert_eq!(
            json.error_text(&Error::usage("x")),
            "{\n  \"error\": true,\n  \"error-message\": \"x\"\n}\n"
        );
    }

    #[test]
    fn json_keys_are_sorted_and_unknown_fields_kept() {
        let t: ServiceToken = serde_json::from_str(
            r#"{"zeta":1,"roles":["r"],"name":"n","id":3,"alpha":{"b":1,"a":2}}"#,
        )
        .unwrap();
        let s = pretty(&json!({"service-tokens": to_value(&vec![t])}));
        assert_eq!(
            s,
            "{\n  \"service-tokens\": [\n    {\n      \"alpha\": {\n        \"a\": 2,\n        \"b\": 1\n      },\n      \"id\": 3,\n      \"name\": \"n\",\n      \"roles\": [\n        \"r\"\n      ],\n      \"zeta\": 1\n    }\n  ]\n}\n"
        );
    }

    #[test]
    fn colour_wraps_whole_lines() {
        assert_eq!(paint("✅ Done", GREEN, true), "\x1b[32m✅ Done\x1b[0m");
        assert_eq!(paint("✅ Done", GREEN, false), "✅ Done");
    }

    #[test]
    fn success_symbols_follow_no_color() {
        assert_eq!(
            Printer::plain(OutputFormat::Text, false).success_line("Done"),
            "✅ Done\n"
        );
        assert_eq!(
            Printer::plain(OutputFormat::Text, true).success_line("Done"),
            "[SUCCESS] Done\n"
        );
    }
}

//! The one place that prints: tables, JSON, success, warning and error lines, and verbose logs
//! (CONTRACT §1–§3, §6). Data goes to stdout; messages and logs go to stderr.

use std::io::{self, IsTerminal, Write};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::api::models::{
    GeneratedIngestionApiKeyResponse, IngestionApiKey, ServerInfo, ServiceToken,
    ServiceTokenCreatedResponse,
};
use crate::cli::OutputFormat;
use crate::config::{Config, Context};
use crate::dates::render_expiration;
use crate::error::Error;
use crate::settings::OutputSettings;

const CYAN: &str = "\x1b[36m";
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
    width: Option<usize>,
    /// The header line of tables (`--no-headers` turns it off).
    headers: bool,
}

impl Printer {
    pub fn new(settings: &OutputSettings) -> Printer {
        let stdout_tty = io::stdout().is_terminal();
        let width = if stdout_tty {
            terminal_size::terminal_size_of(io::stdout()).map(|(w, _)| w.0 as usize)
        } else {
            None
        };
        let stderr_tty = io::stderr().is_terminal();
        let text = settings.format == OutputFormat::Text;
        let stderr_ansi = stderr_tty && !settings.no_color && (text || settings.verbosity == 0);
        crate::redact::set_ansi(stdout_tty && !settings.no_color && text, stderr_ansi);
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
        let message = crate::redact::content(message);
        let line = format!("{} {}", self.symbol("✅", "[SUCCESS]"), message);
        format!("{}\n", paint(&line, GREEN, self.stdout_color))
    }

    /// `✅ <message><secret>` on stdout, the secret bold on a colour terminal. The one place a
    /// freshly created secret is written.
    fn success_with_secret(&self, message: &str, secret: &str) -> io::Result<()> {
        let shown = crate::redact::content_except(secret, Some(secret));
        let shown = if self.stdout_color {
            format!("{BOLD}{shown}{RESET}")
        } else {
            shown
        };
        let message = crate::redact::content(message);
        let line = format!("{} {message}{shown}", self.symbol("✅", "[SUCCESS]"));
        let line = format!("{}\n", paint(&line, GREEN, self.stdout_color));
        write_out(crate::redact::Stream::Stdout, &line, Some(secret))
    }

    /// `⚠️ <message>` on stderr.
    pub fn warn(&self, message: &str) {
        let message = crate::redact::content(message);
        let line = format!("{} {}", self.symbol("⚠️", "[WARN]"), message);
        write_stderr(&format!("{}\n", paint(&line, YELLOW, self.stderr_color)));
    }

    /// The error on stderr: `❌ <message>`, or the JSON error object.
    pub fn error(&self, err: &Error) {
        if self.is_json() {
            // Redacted value by value in `pretty`: the text step would not spare JSON keys.
            let _ = write_raw(crate::redact::Stream::Stderr, &self.error_text(err));
        } else {
            write_stderr(&self.error_text(err));
        }
    }

    pub fn error_text(&self, err: &Error) -> String {
        if self.is_json() {
            let mut v = json!({"error": true, "error-message": err.message});
            if let Some(status) = err.status {
                v["status"] = json!(status);
            }
            pretty(&v)
        } else {
            let message = crate::redact::content(&err.message);
            let line = format!("{} {}", self.symbol("❌", "[ERROR]"), message);
            format!("{}\n", paint(&line, RED, self.stderr_color))
        }
    }

    /// A verbose log line on stderr.
    pub fn log(&self, line: &str) {
        write_stderr(&format!("{}\n", crate::redact::content(line)));
    }

    fn json(&self, value: &Value) -> io::Result<()> {
        write_raw(crate::redact::Stream::Stdout, &pretty(value))
    }

    /// JSON holding a freshly created secret: every known secret is masked but that one.
    fn json_with_secret(&self, value: &Value, secret: &str) -> io::Result<()> {
        write_raw(
            crate::redact::Stream::Stdout,
            &pretty_except(value, Some(secret)),
        )
    }

    fn table(&self, headers: &[&str], rows: Vec<Vec<String>>, empty: &str) -> io::Result<()> {
        if rows.is_empty() {
            return write_stdout(&format!("{empty}\n"));
        }
        let headers = self.headers.then_some(headers);
        write_stdout(&render_rows(headers, &rows, self.width, self.stdout_color))
    }

    pub fn service_token_created(&self, created: &ServiceTokenCreatedResponse) -> io::Result<()> {
        if self.is_json() {
            return self
                .json_with_secret(&json!({"service-token": to_value(created)}), &created.token);
        }
        self.success_with_secret("Service token created: ", &created.token)
    }

    pub fn service_tokens(&self, tokens: &[ServiceToken], now: DateTime<Utc>) -> io::Result<()> {
        if self.is_json() {
            return self.json(&json!({"service-tokens": to_value(&tokens)}));
        }
        let rows = tokens
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
            rows,
            "No service tokens found.",
        )
    }

    pub fn ingestion_api_key_created(
        &self,
        created: &GeneratedIngestionApiKeyResponse,
    ) -> io::Result<()> {
        if self.is_json() {
            return self.json_with_secret(
                &json!({"ingestion-api-key": to_value(created)}),
                &created.api_key,
            );
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
        let rows = keys
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
            rows,
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

    pub fn context_saved(&self, name: &str, ctx: &Context) -> io::Result<()> {
        if self.is_json() {
            return self.json(&json!({"context": context_json(ctx), "current-context": name}));
        }
        write_stdout(&self.success_line(&format!("Saved context: '{name}'")))
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
        let rows = contexts
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
            rows,
            "No contexts found.",
        )
    }

    /// `context show`: the name alone, or the JSON of the context.
    pub fn context_shown(&self, name: &str, ctx: &Context) -> io::Result<()> {
        if self.is_json() {
            return self.json(&json!({"current-context": context_json(ctx), "name": name}));
        }
        write_stdout(&format!("{}\n", clean(name)))
    }

    pub fn context_set(&self, name: &str) -> io::Result<()> {
        if self.is_json() {
            return self.json(&json!({ "current-context": name }));
        }
        write_stdout(&format!("Current context set to {}\n", clean(name)))
    }

    pub fn context_deleted(&self, name: &str) -> io::Result<()> {
        if self.is_json() {
            return self.json(&json!({ "deleted context": name }));
        }
        write_stdout(&self.success_line(&format!("Deleted context '{name}'")))
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
            return self.json_with_secret(
                &json!({
                    "service-token": to_value(created),
                    "old-id": r.old_id,
                    "new-id": r.new_id,
                    "saved-to-context": r.saved_to_context,
                    "old-deleted": r.old_deleted,
                }),
                &created.token,
            );
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
            return self.json_with_secret(
                &json!({
                    "ingestion-api-key": to_value(created),
                    "old-id": r.old_id,
                    "new-id": r.new_id,
                    "old-deleted": r.old_deleted,
                }),
                &created.api_key,
            );
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

/// Two-space indented JSON and a newline, known secrets masked in its string values and
/// terminal controls escaped (CONTRACT §6; see [`crate::redact`]).
pub fn pretty(value: &Value) -> String {
    pretty_except(value, None)
}

fn pretty_except(value: &Value, allowed: Option<&str>) -> String {
    let mut value = value.clone();
    crate::redact::json_value_except(&mut value, allowed);
    let s = serde_json::to_string_pretty(&value).unwrap_or_else(|_| "null".into());
    let mut s = crate::redact::json_text(&s);
    s.push('\n');
    s
}

fn opt(v: Option<i64>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

fn expiration(v: Option<i64>, now: DateTime<Utc>) -> String {
    v.map_or_else(|| "-".into(), |ms| render_expiration(ms, now))
}

/// A server or file string made safe for one table cell or message: known secrets masked,
/// control characters (newlines, ESC, U+009B) and bidirectional overrides shown escaped
/// (`\u001b`), never raw.
pub fn clean(s: &str) -> String {
    crate::redact::content(s)
}

/// Writes to stdout in one go, through the redaction step ([`crate::redact::text`]). A closed
/// pipe comes back as `BrokenPipe` for `main` to end quietly.
pub fn write_stdout(text: &str) -> io::Result<()> {
    write_out(crate::redact::Stream::Stdout, text, None)
}

/// Writes to stderr through the redaction step; a failure to write an error message has nowhere
/// to go, so it is dropped.
pub fn write_stderr(text: &str) {
    let _ = write_out(crate::redact::Stream::Stderr, text, None);
}

/// The one sink of printed text: redacted (all known secrets but `allowed`), then written.
fn write_out(stream: crate::redact::Stream, text: &str, allowed: Option<&str>) -> io::Result<()> {
    write_raw(stream, &crate::redact::text_except(text, stream, allowed))
}

/// Writes text that is already redacted (JSON, masked value by value).
fn write_raw(stream: crate::redact::Stream, text: &str) -> io::Result<()> {
    match stream {
        crate::redact::Stream::Stdout => {
            let mut out = io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()
        }
        crate::redact::Stream::Stderr => {
            let mut err = io::stderr().lock();
            err.write_all(text.as_bytes())?;
            err.flush()
        }
    }
}

/// A table as the Go CLI prints it: no border, no header separator, columns joined by ` | `,
/// left-aligned, no trailing spaces. With `width`, columns shrink (widest first) and cells wrap to
/// fit it; without, lines are never wrapped.
pub fn render_table(
    headers: &[&str],
    rows: &[Vec<String>],
    width: Option<usize>,
    color: bool,
) -> String {
    render_rows(Some(headers), rows, width, color)
}

/// [`render_table`], with the header line left out when `headers` is `None` (the columns are
/// then as wide as their cells).
pub fn render_rows(
    headers: Option<&[&str]>,
    rows: &[Vec<String>],
    width: Option<usize>,
    color: bool,
) -> String {
    let n = headers.map_or_else(|| rows.first().map_or(0, Vec::len), <[&str]>::len);
    let mut widths: Vec<usize> = match headers {
        Some(h) => h.iter().map(|h| h.width()).collect(),
        None => vec![0; n],
    };
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(n) {
            widths[i] = widths[i].max(cell.width());
        }
    }
    if let Some(max) = width {
        let available = max.saturating_sub(3 * n.saturating_sub(1));
        let floor: Vec<usize> = (0..n)
            .map(|i| {
                headers
                    .and_then(|h| h.get(i))
                    .map_or(0, |h| h.width())
                    .max(4)
            })
            .collect();
        while widths.iter().sum::<usize>() > available {
            // Shrink the widest column that can still shrink.
            let Some((i, _)) = widths
                .iter()
                .enumerate()
                .filter(|(i, w)| **w > floor[*i])
                .max_by_key(|(_, w)| **w)
            else {
                break;
            };
            widths[i] -= 1;
        }
    }
    let mut out = String::new();
    if let Some(headers) = headers {
        let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        render_row(&mut out, &header, &widths, color);
    }
    for row in rows {
        render_row(&mut out, row, &widths, false);
    }
    out
}

fn render_row(out: &mut String, row: &[String], widths: &[usize], color: bool) {
    let cells: Vec<Vec<String>> = widths
        .iter()
        .enumerate()
        .map(|(i, w)| wrap(row.get(i).map_or("", String::as_str), *w))
        .collect();
    let height = cells.iter().map(Vec::len).max().unwrap_or(1);
    for line in 0..height {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let part = cell.get(line).map_or("", String::as_str);
            if i > 0 {
                text.push_str(" | ");
            }
            let pad = widths[i].saturating_sub(part.width());
            if color {
                text.push_str(CYAN);
                text.push_str(part);
                text.push_str(RESET);
            } else {
                text.push_str(part);
            }
            text.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(text.trim_end_matches(' '));
        out.push('\n');
    }
}

/// `text` in an ANSI colour when `on`.
fn paint(text: &str, color: &str, on: bool) -> String {
    if on {
        format!("{color}{text}{RESET}")
    } else {
        text.to_string()
    }
}

/// A spinner on stderr, drawn by its own thread from about 200 ms after it starts until it is
/// dropped, which erases it before anything else is printed.
pub struct Spinner {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Spinner {
    const DELAY: std::time::Duration = std::time::Duration::from_millis(200);
    const FRAME: std::time::Duration = std::time::Duration::from_millis(100);
    const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

    fn start() -> Spinner {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            use std::sync::mpsc::RecvTimeoutError::Timeout;
            if rx.recv_timeout(Self::DELAY) != Err(Timeout) {
                return;
            }
            let mut frame = 0;
            loop {
                write_stderr(&format!(
                    "\r{} Awaiting server response..",
                    Self::FRAMES[frame % Self::FRAMES.len()]
                ));
                frame += 1;
                if rx.recv_timeout(Self::FRAME) != Err(Timeout) {
                    break;
                }
            }
            // Back to the start of the line, and the line erased.
            write_stderr("\r\x1b[2K");
        });
        Spinner {
            stop: Some(tx),
            thread: Some(thread),
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Wraps a cell to `width` columns: at spaces when it can, inside a word when it must.
fn wrap(cell: &str, width: usize) -> Vec<String> {
    if cell.width() <= width || width == 0 {
        return vec![cell.to_string()];
    }
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut line_width = 0;
    for word in cell.split(' ') {
        let w = word.width();
        let gap = usize::from(!line.is_empty());
        if line_width + gap + w <= width {
            if gap == 1 {
                line.push(' ');
            }
            line.push_str(word);
            line_width += gap + w;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            line_width = 0;
        }
        for c in word.chars() {
            let cw = c.width().unwrap_or(0);
            if line_width + cw > width && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                line_width = 0;
            }
            line.push(c);
            line_width += cw;
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
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
    fn tables_match_the_go_look() {
        let rows = vec![
            vec!["1".into(), "a".into()],
            vec!["22".into(), "bbb".into()],
        ];
        assert_eq!(
            render_table(&["A", "B"], &rows, None, false),
            "A  | B\n1  | a\n22 | bbb\n"
        );
        assert_eq!(
            render_table(&["A", "B"], &[vec!["1".into(), "2".into()]], None, true),
            "\x1b[36mA\x1b[0m | \x1b[36mB\x1b[0m\n1 | 2\n"
        );
    }

    #[test]
    fn tables_never_wrap_without_a_width_and_fit_one_when_given() {
        let long = "word ".repeat(40).trim_end().to_string();
        let rows = vec![vec!["1".into(), long.clone()]];
        let unwrapped = render_table(&["ID", "DESCRIPTION"], &rows, None, false);
        assert_eq!(unwrapped.lines().count(), 2);
        let wrapped = render_table(&["ID", "DESCRIPTION"], &rows, Some(40), false);
        assert!(wrapped.lines().count() > 2);
        assert!(wrapped.lines().all(|l| l.width() <= 40), "{wrapped}");
        let joined: Vec<&str> = wrapped
            .lines()
            .skip(1)
            .map(|l| l.split(" | ").nth(1).unwrap_or("").trim())
            .collect();
        assert_eq!(joined.join(" "), long);
        // A word longer than the column is cut, not lost.
        let rows = vec![vec!["1".into(), "x".repeat(100)]];
        let wrapped = render_table(&["ID", "DESCRIPTION"], &rows, Some(30), false);
        assert!(wrapped.lines().all(|l| l.width() <= 30), "{wrapped}");
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
            ["7", "n\\u001b[31m", "2025-01-01 (expired)", "[a b]", "-"]
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
    fn no_headers_leaves_the_rows_and_colour_wraps_whole_lines() {
        let rows = vec![vec!["1".into(), "a".into()], vec!["22".into(), "b".into()]];
        assert_eq!(render_rows(None, &rows, None, false), "1  | a\n22 | b\n");
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

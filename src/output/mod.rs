//! The one place that prints: tables, JSON, success, warning and error lines, and verbose logs
//! (CONTRACT §1–§3, §6). Data goes to stdout; messages and logs go to stderr.

mod api;
mod fleet;
mod jsonl;
pub mod prometheus;
pub mod renewals;
mod usage_error;
pub use fleet::FleetProgress;
pub use usage_error::clap_error;

use std::io::{self, IsTerminal, Write};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::cli::OutputFormat;
use crate::config::{Config, Context};
use crate::error::Error;
use crate::http::client::Observer;
use crate::platform::{
    Created, Listed, Nouns, OldTokenFate, Rotation, Token, TokenId, TokenKind, Validation,
};
use crate::settings::OutputSettings;

use cells::{cell_text, push_cells};

mod cells;
mod progress;
mod stream;
mod table;
use ColumnKind::{Id, Text};
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
    /// The saved context in use (`context` of `-o jsonl`).
    context: Option<String>,
}

/// What a list's output needs of its kind, so that one copy of the list writers serves every
/// kind.
#[derive(Debug, Clone, Copy)]
pub struct ListKind {
    pub platform: crate::platform::PlatformKind,
    pub nouns: &'static Nouns,
    pub columns: &'static [crate::platform::Column],
}

impl ListKind {
    pub fn of<K: TokenKind>() -> ListKind {
        ListKind {
            platform: K::PLATFORM,
            nouns: const { &K::NOUNS },
            columns: K::COLUMNS,
        }
    }
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
            context: None,
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
            context: None,
        }
    }

    /// JSON or JSON lines: commands without a line form print their JSON on one line.
    pub fn is_json(&self) -> bool {
        matches!(self.format, OutputFormat::Json | OutputFormat::Jsonl)
    }

    pub fn is_jsonl(&self) -> bool {
        self.format == OutputFormat::Jsonl
    }

    /// The same printer, naming the saved context in use (`-o jsonl`).
    pub fn in_context(mut self, context: Option<String>) -> Printer {
        self.context = context;
        self
    }

    /// `-o prometheus` (CONTRACT §13).
    pub fn is_prometheus(&self) -> bool {
        self.format == OutputFormat::Prometheus
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
            if let Some(code) = err.server_code {
                v["server-code"] = json!(code);
            }
            if self.is_jsonl() {
                return jsonl::line(v, None);
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
        if self.is_jsonl() {
            return write_raw(
                crate::redact::Stream::Stdout,
                &jsonl::line(value.clone(), None),
            );
        }
        write_raw(crate::redact::Stream::Stdout, &pretty(value))
    }

    /// JSON holding a freshly created secret: every known secret is masked but that one.
    fn json_with_secret(&self, value: &Value, secret: &str) -> io::Result<()> {
        write_raw(
            crate::redact::Stream::Stdout,
            &pretty_except(value, Some(secret)),
        )
    }

    /// Whether a table is written as a piped one (no terminal width, no colour).
    fn piped_table(&self) -> bool {
        self.width.is_none() && !self.stdout_color
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
        if self.piped_table() {
            let mut out = stream::stdout();
            let masker = crate::redact::Masker::now(None);
            stream::write_piped_table(&mut out, headers, self.headers, rows, &masker)?;
            return out.flush();
        }
        let options = TableOptions {
            width: self.width,
            no_headers: !self.headers,
            color: self.stdout_color,
        };
        write_stdout(&render_table_with(headers, rows, kinds, options))
    }

    /// A created token or key: its secret once on stdout; the new id on stderr where the kind
    /// says so. JSON: the server's object under the kind's key.
    pub fn created<K: TokenKind>(&self, created: &Created) -> io::Result<()> {
        if self.is_jsonl() {
            return self.jsonl_created::<K>(created);
        }
        if self.is_json() {
            return self
                .json_with_secret(&json!({ K::NOUNS.json_one: created.json }), &created.secret);
        }
        self.success_with_secret(K::NOUNS.created, &created.secret)?;
        if let Some(id) = created.id.as_ref().filter(|_| K::SAYS_NEW_ID) {
            write_stderr(&format!(
                "{} id: {}\n",
                capitalised(K::NOUNS.one),
                clean(&id.text)
            ));
        }
        Ok(())
    }

    /// A list: the kind's columns, each token's cells as the platform gave them; JSON the
    /// server's objects. Takes the tokens: nothing is done with them after.
    pub fn tokens<K: TokenKind>(&self, tokens: Listed, now: DateTime<Utc>) -> io::Result<()> {
        let written = self.write_tokens(ListKind::of::<K>(), &tokens, now);
        // A list is the last thing its process does: the rows are left to the operating system,
        // which takes the memory back whole, rather than freed one allocation at a time (on
        // 10,000 rows, as long as writing them).
        std::mem::forget(tokens);
        written
    }

    fn write_tokens(&self, kind: ListKind, tokens: &Listed, now: DateTime<Utc>) -> io::Result<()> {
        if self.is_jsonl() {
            return self.jsonl_tokens(kind, tokens, now);
        }
        if self.is_json() {
            let mut out = stream::stdout();
            let masker = crate::redact::Masker::now(None);
            // A large answer is searched for secrets here, by two threads, before its rows are
            // written by two (each row would ask, and one thread would search it alone).
            tokens.search_answer(&masker);
            stream::write_json_rows(
                &mut out,
                kind.nouns.json_list,
                tokens.len(),
                &|i, out| {
                    tokens
                        .write_json(i, out, &masker, true, 2)
                        .unwrap_or(Ok(()))
                },
                &masker,
            )?;
            return out.flush();
        }
        let headers: Vec<&str> = kind.columns.iter().map(|c| c.header).collect();
        if self.piped_table() && !tokens.is_empty() {
            let masker = crate::redact::Masker::now(None);
            let rows = stream::MadeRows {
                rows: tokens.len(),
                make: |r: usize, row: &mut stream::RowText| {
                    tokens.with_cells_of(r, |t| push_cells(row, t, kind.columns, now, &masker));
                },
            };
            let mut out = stream::stdout();
            stream::write_piped_table(&mut out, &headers, self.headers, &rows, &masker)?;
            return out.flush();
        }
        let kinds: Vec<ColumnKind> = kind
            .columns
            .iter()
            .map(|c| if c.wraps { Text } else { Id })
            .collect();
        let rows: Vec<Vec<String>> = tokens
            .iter()
            .map(|t| {
                t.cells_of(kind.columns)
                    .map(|(_, c)| cell_text(&c, &t, now))
                    .collect()
            })
            .collect();
        self.table(&headers, &rows, &kinds, kind.nouns.empty)
    }

    /// `get`: one token, the list's columns as `FIELD | VALUE` rows; JSON the server's object.
    pub fn token<K: TokenKind>(&self, token: Token, now: DateTime<Utc>) -> io::Result<()> {
        if self.is_jsonl() {
            return self.jsonl_tokens(ListKind::of::<K>(), &Listed::from(vec![token]), now);
        }
        if self.is_json() {
            return self.json(&token.json);
        }
        let rows: Vec<Vec<String>> = token
            .cells_of(K::COLUMNS)
            .map(|(c, cell)| vec![c.header.to_string(), cell_text(&cell, &token, now)])
            .collect();
        self.table(&["FIELD", "VALUE"], &rows, &[Id, Text], K::NOUNS.empty)
    }

    /// Text: the success line of one deleted (revoked, restored) id, printed as each is done.
    pub fn done_line(&self, done: Done, nouns: &Nouns, id: &TokenId) -> io::Result<()> {
        let text = match done {
            Done::Deleted => nouns.deleted.to_string(),
            Done::Revoked => format!("{} revoked: ", capitalised(nouns.one)),
            Done::Restored => format!("{} restored: ", capitalised(nouns.one)),
        };
        write_stdout(&self.success_line(&format!("{text}{}", clean(&id.text))))
    }

    /// JSON, after all ids were tried: the id when one was asked for, the list of ids done
    /// when several were.
    pub fn done_json(
        &self,
        done: Done,
        nouns: &Nouns,
        ids: &[TokenId],
        several: bool,
    ) -> io::Result<()> {
        let ids = if several {
            Value::from(ids.iter().map(TokenId::json).collect::<Vec<_>>())
        } else {
            ids.first().map_or(Value::Null, TokenId::json)
        };
        let key = match done {
            Done::Deleted => nouns.json_deleted.to_string(),
            Done::Revoked => format!("revoked-{}", nouns.json_one),
            Done::Restored => format!("restored-{}", nouns.json_one),
        };
        self.json(&json!({ key: ids }))
    }

    /// `service-user list`: `ID | USER ID | NAME | ROLE | TEAMS`.
    pub fn service_users(&self, users: &[Value]) -> io::Result<()> {
        if self.is_json() {
            return self.json(&json!({ "service-users": users }));
        }
        let text = |u: &Value, k: &str| {
            u.get(k)
                .map(|v| match v {
                    Value::String(s) => clean(s),
                    Value::Null => "-".into(),
                    other => other.to_string(),
                })
                .unwrap_or_else(|| "-".into())
        };
        let rows: Vec<Vec<String>> = users
            .iter()
            .map(|u| {
                let teams: Vec<String> = u
                    .get("teams")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).map(clean).collect())
                    .unwrap_or_default();
                vec![
                    text(u, "id"),
                    text(u, "user_id"),
                    text(u, "name"),
                    text(u, "role"),
                    format!("[{}]", teams.join(" ")),
                ]
            })
            .collect();
        self.table(
            &["ID", "USER ID", "NAME", "ROLE", "TEAMS"],
            &rows,
            &[Id, Id, Text, Text, Text],
            "No service users found.",
        )
    }

    /// `service-user create`: `✅ Service user created: <user_id> (id <id>)`.
    pub fn service_user_created(&self, user: &Value) -> io::Result<()> {
        if self.is_json() {
            return self.json(&json!({ "service-user": user }));
        }
        let login = user.get("user_id").and_then(Value::as_str).unwrap_or("?");
        let id = user.get("id").map_or_else(|| "?".into(), Value::to_string);
        write_stdout(&self.success_line(&format!(
            "Service user created: {} (id {})",
            clean(login),
            clean(&id)
        )))
    }

    /// `service-token scopes`: `SCOPE | DESCRIPTION`.
    pub fn scopes(&self, scopes: &[(String, String, Value)]) -> io::Result<()> {
        if self.is_json() {
            let list: Vec<&Value> = scopes.iter().map(|(_, _, v)| v).collect();
            return self.json(&json!({ "service-token-scopes": list }));
        }
        let rows: Vec<Vec<String>> = scopes
            .iter()
            .map(|(n, d, _)| vec![clean(n), dash(d)])
            .collect();
        self.table(
            &["SCOPE", "DESCRIPTION"],
            &rows,
            &[Id, Text],
            "No service token scopes found.",
        )
    }

    /// Text: `✅ Connection verified to <url> (<summary>)`, the validation's warnings on stderr;
    /// nothing on stdout in JSON mode.
    pub fn connection_verified(&self, url: &str, v: &Validation) -> io::Result<()> {
        for w in &v.warnings {
            self.warn(w);
        }
        if self.is_json() {
            return Ok(());
        }
        write_stdout(&self.success_line(&format!(
            "Connection verified to {} ({})",
            clean(url),
            clean(&v.summary)
        )))
    }

    /// `✅ Saved context: '<name>'` (as the Go CLI), and on stderr `Current context set to
    /// <name>` when the save switched away from another current context.
    pub fn context_saved(
        &self,
        name: &str,
        ctx: &Context,
        saved: &crate::outcome::Saved,
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
                    ctx.platform.to_string(),
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
            &["NAME", "URL", "PLATFORM", "AUTH", "STORAGE", "CURRENT"],
            &rows,
            &[Text, Text, Id, Text, Text, Id],
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
        renamed: &crate::outcome::Renamed,
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
    pub fn context_valid(&self, name: &str, url: &str, v: &Validation) -> io::Result<()> {
        if self.is_json() {
            for w in &v.warnings {
                self.warn(w);
            }
            return self.json(&json!({
                "connected": true,
                "context": name,
                "server-info": v.json,
            }));
        }
        self.connection_verified(url, v)?;
        write_stdout(&self.success_line(&format!("Context {name} is valid.")))
    }
}

impl Observer for Printer {
    fn warn(&self, message: &str) {
        Printer::warn(self, message);
    }

    fn log(&self, line: &str) {
        Printer::log(self, line);
    }

    fn waiting(&self) -> Option<Box<dyn std::any::Any>> {
        self.spinner()
            .map(|s| Box::new(s) as Box<dyn std::any::Any>)
    }

    fn boxed(&self) -> Box<dyn Observer> {
        Box::new(self.clone())
    }
}

/// Rotation, `verify` and `context import` (issue 8).
impl Printer {
    /// What a rotation did, step by step: the new secret (once), its id, the context it went
    /// to, the old one's fate. Nothing when nothing was created.
    pub fn rotated<K: TokenKind>(&self, r: &Rotation) -> io::Result<()> {
        for w in &r.warnings {
            self.warn(w);
        }
        let Some(created) = &r.created else {
            return Ok(());
        };
        let what = K::NOUNS.one;
        let old = &r.old_id.text;
        if self.is_jsonl() {
            return self.jsonl_created::<K>(created);
        }
        if self.is_json() {
            let mut v = json!({
                K::NOUNS.json_one: created.json,
                "old-id": r.old_id.json(),
                "new-id": r.new_id.as_ref().map(TokenId::json),
                "old-deleted": r.fate == OldTokenFate::Delete && r.fate_done,
            });
            if K::ROTATED_CAN_BE_SAVED.is_none() {
                v["saved-to-context"] = json!(r.saved_to_context);
            }
            if r.fate == OldTokenFate::Revoke {
                v["old-revoked"] = json!(r.fate_done);
            }
            // CONTRACT §12.
            v["delivered"] = json!(r.delivered);
            v["verified"] = json!(r.verified);
            if let Some(at) = r.old_retires_at.and_then(crate::dates::rfc3339_millis) {
                v["old-retires-at"] = json!(at);
            }
            return self.json_with_secret(&v, &created.secret);
        }
        self.success_with_secret(K::NOUNS.created, &created.secret)?;
        let mut text = String::new();
        if let Some(id) = &r.new_id {
            text += &self.success_line(&format!(
                "New {what} id: {} (replaces {old})",
                clean(&id.text)
            ));
        }
        if let Some(path) = &r.delivered_file {
            text += &self.success_line(&format!("Delivered to {}", clean(path)));
        }
        if r.delivered.contains(&"command") {
            text += &self.success_line("Delivered by command");
        }
        if r.verified {
            text += &self.success_line("Verified");
        }
        if let Some(name) = &r.saved_to_context {
            text += &self.success_line(&format!("Context '{name}' now uses the new {what}"));
        }
        if let Some(at) = r.old_retires_at.and_then(crate::dates::rfc3339_millis) {
            text += &format!("⏳ Old {what} {old} retires at {at}\n");
            return write_stdout(&text);
        }
        match (r.fate, r.fate_done) {
            (OldTokenFate::Delete, true) => {
                text += &self.success_line(&format!("Old {what} deleted: {old}"));
            }
            (OldTokenFate::Revoke, true) => {
                text += &self.success_line(&format!("Old {what} revoked: {old}"));
            }
            (OldTokenFate::Keep, _) if K::DEFAULT_FATE == OldTokenFate::Keep => {
                text += &self.success_line(&format!("Old {what} kept: {old}"));
                write_stdout(&text)?;
                self.warn(&format!(
                    "install the new key in its consumer, then delete the old one: `{} delete {old}`",
                    K::NOUNS.command
                ));
                return Ok(());
            }
            (OldTokenFate::Keep, _) => {
                text += &self.success_line(&format!("Old {what} kept (--keep-old): {old}"));
            }
            _ => {}
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
    pub fn contexts_imported(&self, r: &crate::outcome::ImportReport) -> io::Result<()> {
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

/// What was done to each id of a delete, revoke or restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    Deleted,
    Revoked,
    Restored,
}

impl Done {
    pub fn verb(self) -> &'static str {
        match self {
            Done::Deleted => "delete",
            Done::Revoked => "revoke",
            Done::Restored => "restore",
        }
    }
}

/// A context as `context list/show/save -o json` show it: the config's fields, no secret and no
/// credential id.
fn context_json(ctx: &Context) -> Value {
    let mut v = json!({
        "url": ctx.url,
        "platform": ctx.platform.as_str(),
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

/// Two-space indented JSON and a newline, known secrets masked in its string values and
/// terminal controls escaped (CONTRACT §6; see [`crate::redact`]).
pub fn pretty(value: &Value) -> String {
    pretty_except(value, None)
}

fn pretty_except(value: &Value, allowed: Option<&str>) -> String {
    pretty_owned(value.clone(), allowed)
}

/// [`pretty_except`] of a value the caller gives up, masked in place (no copy of a large list).
fn pretty_owned(mut value: Value, allowed: Option<&str>) -> String {
    crate::redact::json_value_except(&mut value, allowed);
    let s = serde_json::to_string_pretty(&value).unwrap_or_else(|_| "null".into());
    let mut s = crate::redact::json_text(&s);
    s.push('\n');
    s
}

fn dash(s: &str) -> String {
    if s.is_empty() { "-".into() } else { clean(s) }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
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
        let t: crate::platform::stackstate::wire::ServiceToken = serde_json::from_str(
            r#"{"zeta":1,"roles":["r"],"name":"n","id":3,"alpha":{"b":1,"a":2}}"#,
        )
        .unwrap();
        let s = pretty(&json!({"service-tokens": [serde_json::to_value(&t).unwrap()]}));
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

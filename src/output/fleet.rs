//! Printing of `-A, --all-contexts` (CONTRACT §10) and `sts auth` (§11): one table or one JSON
//! document over every context, a `⚠️ context <name>: …` line per failing one, and the progress
//! line while contexts answer.

use std::io::{self, Write};
use std::time::Duration;

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};

use super::ColumnKind::{Date, Id, Text};
use super::jsonl::{self, error_json};
use super::{Printer, cell_text, clean, write_stdout};
use crate::config;
use crate::error::Error;
use crate::outcome::{AuthStatus, ContextResult};
use crate::platform::{Cell, INGESTION_KEYS, Nouns, Platform, Token, Validation};

impl Printer {
    /// The same printer without the per-request spinner: under `-A` the progress line says
    /// how far the contexts are.
    pub fn without_spinner(&self) -> Printer {
        let mut p = self.clone();
        p.spinner = false;
        p
    }

    /// `N/M contexts` on stderr, drawn only on a terminal, from about 200 ms on, while more than
    /// one context is still answering; erased when dropped.
    pub fn fleet_progress(&self, total: usize) -> FleetProgress {
        FleetProgress::start(total as u64, self.spinner && total > 1)
    }

    /// `⚠️ context <name>: <one-line error>` for each failing context.
    pub fn context_failures<T>(&self, results: &[ContextResult<T>]) {
        for r in results {
            if let Err(e) = &r.result {
                self.warn(&format!(
                    "context {}: {}",
                    clean(&r.name),
                    config::one_line(&e.message)
                ));
            }
        }
    }

    /// `service-token list -A`, `ingestion-api-key list -A`: `CONTEXT | PLATFORM | ID | NAME |
    /// STATUS | EXPIRATION | LAST USED`, sorted by context, then name. The tokens are taken out
    /// of `results` as they are written, each context's dropped once written, so that a large
    /// list is never held twice (the failures stay for the exit code).
    pub fn fleet_tokens(
        &self,
        nouns: &Nouns,
        results: &mut [ContextResult<Vec<Token>>],
        now: DateTime<Utc>,
    ) -> io::Result<()> {
        if self.is_jsonl() {
            return self.jsonl_fleet_tokens(nouns, results, now);
        }
        self.context_failures(results);
        if self.is_json() {
            let masker = crate::redact::Masker::now(None);
            let mut fleet = super::stream::FleetJson::start(super::stream::stdout(), &masker)?;
            for r in results.iter_mut() {
                let fields = context_entry(r, |_| None);
                match &mut r.result {
                    Ok(tokens) => {
                        let tokens = std::mem::take(tokens);
                        let rows = tokens.iter().map(|t| t.json.transient());
                        fleet.entry(&fields, Some((nouns.json_list, rows)))?;
                    }
                    Err(_) => fleet.entry(&fields, None::<(&str, Vec<Value>)>)?,
                }
            }
            return fleet.finish()?.flush();
        }
        let mut rows: Vec<Vec<String>> = Vec::new();
        for r in results.iter_mut() {
            let Ok(tokens) = &mut r.result else { continue };
            let mut tokens = std::mem::take(tokens);
            tokens.sort_by(|a, b| a.name.cmp(&b.name));
            let context = clean(&r.name);
            for t in tokens {
                rows.push(vec![
                    context.clone(),
                    r.platform.as_str().to_string(),
                    cell_text(&Cell::TokenId, &t, now),
                    clean(&t.name),
                    cell_text(&Cell::Status, &t, now),
                    cell_text(&Cell::Expiration(t.expires), &t, now),
                    cell_text(&Cell::LastUsed(t.last_used), &t, now),
                ]);
            }
        }
        self.fleet_table(
            &[
                "CONTEXT",
                "PLATFORM",
                "ID",
                "NAME",
                "STATUS",
                "EXPIRATION",
                "LAST USED",
            ],
            rows,
            &[Text, Id, Id, Text, Id, Date, Date],
            nouns.empty,
        )
    }

    /// `context validate -A`: `CONTEXT | PLATFORM | URL | RESULT` (`ok` or the one-line error).
    pub fn fleet_validations(&self, results: &[ContextResult<Validation>]) -> io::Result<()> {
        for r in results {
            if let Ok(v) = &r.result {
                for w in &v.warnings {
                    self.warn(&format!("context {}: {w}", clean(&r.name)));
                }
            }
        }
        self.context_failures(results);
        if self.is_json() {
            let contexts: Vec<Value> = results
                .iter()
                .map(|r| context_entry(r, |v| Some(("server-info", v.json.clone()))))
                .collect();
            return self.json(&json!({ "contexts": contexts }));
        }
        let rows = results
            .iter()
            .map(|r| {
                vec![
                    clean(&r.name),
                    r.platform.as_str().to_string(),
                    clean(&r.url),
                    match &r.result {
                        Ok(_) => "ok".to_string(),
                        Err(e) => clean(&config::one_line(&e.message)),
                    },
                ]
            })
            .collect();
        self.fleet_table(
            &["CONTEXT", "PLATFORM", "URL", "RESULT"],
            rows,
            &[Text, Id, Text, Text],
            "No contexts found.",
        )
    }

    /// `sts auth status`: what a command would use, where each part came from, and whether it
    /// authenticates. Never the secret.
    pub fn auth_status(
        &self,
        s: &AuthStatus,
        answer: &Result<Validation, Error>,
    ) -> io::Result<()> {
        if let Ok(v) = answer {
            for w in &v.warnings {
                self.warn(w);
            }
        }
        if self.is_json() {
            return self.json(&auth_status_json(s, answer));
        }
        let mut text = String::new();
        let line = |label: &str, value: &str, source: &str| {
            format!("{label:<12}{} ({})\n", clean(value), clean(source))
        };
        text += &line("URL:", &s.url, &s.url_source);
        text += &line("Platform:", s.platform.as_str(), &s.platform_source);
        text += &match (&s.context, &s.context_source) {
            (Some(name), Some(source)) => line("Context:", name, source),
            (Some(name), None) => format!("{:<12}{}\n", "Context:", clean(name)),
            (None, _) => format!("{:<12}none\n", "Context:"),
        };
        text += &line("Credential:", s.credential_kind, &s.credential_source);
        write_stdout(&text)?;
        match answer {
            Ok(v) => self.connection_verified(&s.url, v),
            Err(_) => Ok(()),
        }
    }

    /// `sts auth status -A`: one entry per saved context.
    pub fn fleet_auth_status(
        &self,
        results: &[(AuthStatus, Result<Validation, Error>)],
    ) -> io::Result<()> {
        for (s, answer) in results {
            match answer {
                Ok(v) => {
                    for w in &v.warnings {
                        self.warn(&format!("context {}: {w}", clean(s.context_name())));
                    }
                }
                Err(e) => self.warn(&format!(
                    "context {}: {}",
                    clean(s.context_name()),
                    config::one_line(&e.message)
                )),
            }
        }
        if self.is_json() {
            let contexts: Vec<Value> = results
                .iter()
                .map(|(s, a)| auth_status_json(s, a))
                .collect();
            return self.json(&json!({ "contexts": contexts }));
        }
        let rows = results
            .iter()
            .map(|(s, answer)| {
                vec![
                    clean(s.context_name()),
                    s.platform.as_str().to_string(),
                    clean(&s.url),
                    format!("{} ({})", s.credential_kind, s.credential_source),
                    match answer {
                        Ok(v) => clean(&format!("ok ({})", v.summary)),
                        Err(e) => clean(&config::one_line(&e.message)),
                    },
                ]
            })
            .collect();
        self.fleet_table(
            &["CONTEXT", "PLATFORM", "URL", "CREDENTIAL", "RESULT"],
            rows,
            &[Text, Id, Text, Text, Text],
            "No contexts found.",
        )
    }

    /// `sts auth token`: the secret and a newline, nothing else; JSON `{"token", "kind"}`.
    pub fn auth_token(&self, secret: &str, kind: &str) -> io::Result<()> {
        if self.is_json() {
            return self.json_with_secret(&json!({ "token": secret, "kind": kind }), secret);
        }
        super::write_out(
            crate::redact::Stream::Stdout,
            &format!("{secret}\n"),
            Some(secret),
        )
    }

    /// `-o jsonl` of a list under `-A`: a line per token, written straight from it as a list of
    /// one context writes it, and a line per failing context.
    fn jsonl_fleet_tokens(
        &self,
        nouns: &Nouns,
        results: &mut [ContextResult<Vec<Token>>],
        now: DateTime<Utc>,
    ) -> io::Result<()> {
        let keys = nouns.json_one == INGESTION_KEYS.json_one;
        let masker = crate::redact::Masker::now(None);
        let mut out = super::stream::stdout();
        for r in results.iter_mut() {
            match &mut r.result {
                Ok(tokens) => {
                    let tokens = crate::platform::Listed::from(std::mem::take(tokens));
                    let context = Some(r.name.as_str());
                    let kind = crate::with_platform!(r.platform, P => if keys {
                        super::ListKind::of::<<P as Platform>::IngestionKeys>()
                    } else {
                        super::ListKind::of::<<P as Platform>::ServiceTokens>()
                    });
                    jsonl::write_lines(&mut out, context, kind, &tokens, now, &masker)?;
                }
                Err(e) => {
                    let line = jsonl::line(jsonl::error_line(&r.name, r.platform, e), None);
                    out.write_all(line.as_bytes())?;
                }
            }
        }
        out.flush()
    }

    /// The one call to the table renderer for this file's tables.
    fn fleet_table(
        &self,
        headers: &[&str],
        rows: Vec<Vec<String>>,
        kinds: &[super::ColumnKind],
        empty: &str,
    ) -> io::Result<()> {
        self.table(headers, &rows, kinds, empty)
    }
}

/// `{"context", "platform", "url", <key>: …}` or `{…, "error": {"error-message", "status"?,
/// "exit-code"}}`.
/// (`ok` may give nothing: the caller then writes that member itself.)
fn context_entry<T>(r: &ContextResult<T>, ok: impl Fn(&T) -> Option<(&str, Value)>) -> Value {
    let mut v = json!({
        "context": r.name,
        "platform": r.platform.as_str(),
        "url": r.url,
    });
    match &r.result {
        Ok(t) => {
            if let Some((key, value)) = ok(t) {
                v[key] = value;
            }
        }
        Err(e) => v["error"] = error_json(e),
    }
    v
}

fn auth_status_json(s: &AuthStatus, answer: &Result<Validation, Error>) -> Value {
    let mut v = json!({
        "url": s.url,
        "platform": s.platform.as_str(),
        "credential": {"kind": s.credential_kind, "source": s.credential_source},
        "sources": {
            "url": s.url_source,
            "platform": s.platform_source,
            "credential": s.credential_source,
        },
        "connected": answer.is_ok(),
    });
    if let Some(name) = &s.context {
        v["context"] = json!(name);
        v["sources"]["context"] = json!(s.context_source);
    }
    match answer {
        Ok(info) => v["server-info"] = info.json.clone(),
        Err(e) => v["error"] = error_json(e),
    }
    v
}

/// The progress line of `-A` (`3/20 contexts`).
pub struct FleetProgress {
    bar: ProgressBar,
    /// Set while the line shows, so that a Ctrl-C clears it.
    shown: std::sync::Arc<std::sync::Mutex<Option<super::progress::LineShown>>>,
    /// Set once at most one context is left: the line is gone and stays gone.
    over: std::sync::Arc<std::sync::Mutex<bool>>,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FleetProgress {
    const DELAY: Duration = Duration::from_millis(200);

    fn start(total: u64, enabled: bool) -> FleetProgress {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {pos}/{len} contexts") {
            bar.set_style(style);
        }
        let over = std::sync::Arc::new(std::sync::Mutex::new(false));
        let shown = std::sync::Arc::new(std::sync::Mutex::new(None));
        if !enabled {
            return FleetProgress {
                bar,
                shown,
                over,
                stop: None,
                thread: None,
            };
        }
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (drawn, drawn_over, line) = (bar.clone(), over.clone(), shown.clone());
        let thread = std::thread::spawn(move || {
            use std::sync::mpsc::RecvTimeoutError::Timeout;
            if rx.recv_timeout(Self::DELAY) != Err(Timeout) {
                return;
            }
            let over = drawn_over.lock().unwrap_or_else(|e| e.into_inner());
            if !*over {
                *line.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(super::progress::LineShown::new());
                drawn.set_draw_target(super::progress::stderr_target());
                drawn.enable_steady_tick(Duration::from_millis(100));
            }
        });
        FleetProgress {
            bar,
            shown,
            over,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    /// One more context has answered.
    pub fn done(&self) {
        let mut over = self.over.lock().unwrap_or_else(|e| e.into_inner());
        self.bar.inc(1);
        let left = self
            .bar
            .length()
            .unwrap_or(0)
            .saturating_sub(self.bar.position());
        if left <= 1 && !*over {
            // At most one context left: nothing to show any more.
            *over = true;
            self.bar.finish_and_clear();
            self.bar.set_draw_target(ProgressDrawTarget::hidden());
            self.shown.lock().unwrap_or_else(|e| e.into_inner()).take();
        }
    }
}

impl Drop for FleetProgress {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let over = self.over.lock().unwrap_or_else(|e| e.into_inner());
        if !*over {
            self.bar.finish_and_clear();
        }
        self.shown.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

//! `sts renew` (CONTRACT §12): keeps the credentials of `renewals.toml` alive. The file is
//! checked whole first; then every context runs at once (at most eight, each with its saved
//! credential only, through the all-contexts engine), one list request per context and kind,
//! and each entry under its credential's lock: what the journal holds taken up, due
//! retirements done, a missing token created, a due one rotated, the rest `ok`.

pub mod file;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Utc;

use self::file::{CredKind, Entry};
use crate::cli::{Cli, RenewArgs};
use crate::commands::all_contexts::engine as fanout;
use crate::commands::journaled::{self, Log};
use crate::commands::rotate::{self, RotateRequest};
use crate::commands::{Failure, block_on};
use crate::config;
use crate::error::{Error, Result};
use crate::http::client::{Client, Observer};
use crate::journal::Journal;
use crate::output::Printer;
use crate::output::renewals::{JournalRow, RenewRow};
use crate::platform::{Platform, Rotation, Status, Token, TokenId, TokenKind};
use crate::settings::{self, OutputSettings, Sources};
use crate::{env_vars as ev, with_platform};

/// What a run was asked.
#[derive(Debug, Clone, Copy)]
struct Options {
    dry_run: bool,
    force: bool,
    lock_timeout: Duration,
}

pub fn run(
    cli: &Cli,
    a: &RenewArgs,
    out: OutputSettings,
    printer: &Printer,
    src: &Sources,
) -> Result<(), Failure> {
    let global = &cli.global;
    let (config_path, named) = src.config_path(global)?;
    let journal = Journal::resolve(
        a.journal.as_deref(),
        (src.env)(ev::STS_CLI_JOURNAL),
        &config_path,
    );
    if a.status {
        return status(&journal, printer);
    }
    if !a.forget.is_empty() {
        return forget(&journal, &a.forget, printer);
    }
    let config = config::load(&config_path)?;
    if config.is_none() && named {
        return Err(settings::missing_config(&config_path).into());
    }
    let path = file::resolve(
        a.file.as_deref(),
        (src.env)(ev::STS_CLI_RENEWALS),
        &config_path,
    );
    let mut entries = file::load(&path, config.as_ref())?;
    for name in &a.only {
        if !entries.iter().any(|e| &e.name == name) {
            return Err(Error::usage(format!(
                "--only {name}: no credential of that name in {}",
                path.display()
            ))
            .into());
        }
    }
    if !a.only.is_empty() {
        entries.retain(|e| a.only.contains(&e.name));
    }
    // The journal must be readable before anything happens.
    journal.load()?;
    if let Some(w) = fanout::ignored_warning(&fanout::ignored_inputs(global, src.env)) {
        printer.warn(&w.replacen("-A", "renew", 1));
    }
    let timeout = settings::resolve_timeout(global, src)?;
    let opts = Options {
        dry_run: a.dry_run,
        force: a.force,
        lock_timeout: timeout,
    };
    let wanted: BTreeSet<&str> = entries.iter().map(|e| e.context.as_str()).collect();
    let targets: Vec<_> = fanout::targets(config.as_ref(), None, |_| true)
        .into_iter()
        .filter(|t| wanted.contains(t.name.as_str()))
        .collect();
    let mut warnings = Vec::new();
    let (credentials, reader) = fanout::credentials(&config_path, &targets, &mut warnings);
    for w in &warnings {
        printer.warn(w);
    }
    let jobs = targets.into_iter().zip(credentials).collect();
    let observer = printer.without_spinner();
    let on_done = || {};
    let entries_ref = &entries;
    let journal_ref = &journal;
    let observer_ref: &dyn Observer = &observer;
    let results = block_on(async {
        Ok(fanout::run_each(
            jobs,
            reader,
            timeout,
            out,
            observer_ref,
            &on_done,
            |client, target| {
                let name = target.name.clone();
                let platform = target.context.platform;
                async move {
                    let mine: Vec<&Entry> =
                        entries_ref.iter().filter(|e| e.context == name).collect();
                    Ok(with_platform!(platform, P => {
                        run_context::<P>(&client, observer_ref, &mine, journal_ref, opts).await
                    }))
                }
            },
        )
        .await)
    })?;
    // Rows in file order; a context that could not start fails each of its entries.
    let mut rows: Vec<(usize, RenewRow)> = Vec::new();
    for r in results {
        match r.result {
            Ok(done) => rows.extend(done),
            Err(e) => {
                for entry in entries.iter().filter(|x| x.context == r.name) {
                    rows.push((
                        entry.index,
                        row(entry, "ok", None, None, None, Some(e.clone())),
                    ));
                }
            }
        }
    }
    rows.sort_by_key(|(i, _)| *i);
    let rows: Vec<RenewRow> = rows.into_iter().map(|(_, r)| r).collect();
    printer.renewals(&rows)?;
    match rows.iter().find_map(|r| r.error.as_ref()) {
        Some(e) => Err(Failure::Reported(e.exit_code())),
        None => Ok(()),
    }
}

fn row(
    entry: &Entry,
    action: &'static str,
    id: Option<&TokenId>,
    old_id: Option<&TokenId>,
    expires: Option<i64>,
    error: Option<Error>,
) -> RenewRow {
    RenewRow {
        context: entry.context.clone(),
        kind: entry.kind.as_str(),
        name: entry.name.clone(),
        action,
        id: id.map(TokenId::json),
        old_id: old_id.map(TokenId::json),
        expires,
        error,
    }
}

/// Every entry of one context: one list per kind, then each entry in file order.
async fn run_context<P: Platform>(
    client: &Client,
    observer: &dyn Observer,
    entries: &[&Entry],
    journal: &Journal,
    opts: Options,
) -> Vec<(usize, RenewRow)> {
    let mut rows = Vec::new();
    for kind in [CredKind::ServiceToken, CredKind::IngestionApiKey] {
        let of_kind: Vec<&Entry> = entries.iter().copied().filter(|e| e.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        let done = match kind {
            CredKind::ServiceToken => {
                run_kind::<P::ServiceTokens>(client, observer, &of_kind, journal, opts).await
            }
            CredKind::IngestionApiKey => {
                run_kind::<P::IngestionKeys>(client, observer, &of_kind, journal, opts).await
            }
        };
        rows.extend(done);
    }
    rows
}

async fn run_kind<K: TokenKind>(
    client: &Client,
    observer: &dyn Observer,
    entries: &[&Entry],
    journal: &Journal,
    opts: Options,
) -> Vec<(usize, RenewRow)> {
    let mut list = match K::list(client).await {
        Ok(list) => list,
        Err(e) => {
            return entries
                .iter()
                .map(|entry| {
                    (
                        entry.index,
                        row(entry, "ok", None, None, None, Some(e.clone())),
                    )
                })
                .collect();
        }
    };
    let mut rows = Vec::new();
    for entry in entries {
        let r = if opts.dry_run {
            plan::<K>(client, entry, journal, &list, opts)
        } else {
            renew_one::<K>(client, observer, entry, journal, &mut list, opts).await
        };
        rows.push((entry.index, r));
    }
    rows
}

/// The current token of an entry: the journal's, else the one live token of that name.
/// `Err` names several live ones the journal does not know.
fn current<'a, K: TokenKind>(
    entry: &Entry,
    known: &crate::journal::Entry,
    list: &'a [Token],
) -> Result<Option<&'a Token>> {
    if let Some(id) = &known.current {
        return Ok(list.iter().find(|t| t.id.text == id));
    }
    let now = Utc::now();
    let live: Vec<&Token> = list
        .iter()
        .filter(|t| {
            K::name_matches(&entry.name, &t.name)
                && t.status(now) == Status::Active
                && !known.knows(&t.id.text)
        })
        .collect();
    match live.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        several => Err(Error::usage(format!(
            "{} live {}s are named '{}' ({}) and the journal knows none of them: delete the \
             strays so that one is left",
            several.len(),
            K::NOUNS.one,
            entry.name,
            several
                .iter()
                .map(|t| t.id.text.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Whether a token is due for renewal.
fn due(entry: &Entry, token: &Token, force: bool) -> bool {
    let now = Utc::now();
    if force || token.status(now) != Status::Active {
        return true;
    }
    match (token.expires, entry.renew_before) {
        (Some(exp), Some(before)) => {
            exp - now.timestamp_millis() < i64::try_from(before.as_millis()).unwrap_or(i64::MAX)
        }
        _ => false,
    }
}

/// `--dry-run`: what would be done, from the list and the journal, changing nothing.
fn plan<K: TokenKind>(
    client: &Client,
    entry: &Entry,
    journal: &Journal,
    list: &[Token],
    opts: Options,
) -> RenewRow {
    let key = journaled::key::<K>(client, &entry.name);
    let known = match journal.get(&key) {
        Ok(k) => k,
        Err(e) => return row(entry, "ok", None, None, None, Some(e)),
    };
    let cur = match current::<K>(entry, &known, list) {
        Ok(c) => c,
        Err(e) => return row(entry, "ok", None, None, None, Some(e)),
    };
    let now = Utc::now().timestamp_millis();
    let retire_due = known.retire.iter().any(|r| {
        list.iter().any(|t| t.id.text == r.id)
            && journaled::due_at::<K>(r, list).is_none_or(|at| at <= now)
    });
    match cur {
        None => row(entry, "would-create", None, None, None, None),
        Some(t) if due(entry, t, opts.force) || known.rotation.is_some() => {
            row(entry, "would-renew", Some(&t.id), None, t.expires, None)
        }
        Some(t) if retire_due => row(entry, "would-retire", Some(&t.id), None, t.expires, None),
        Some(t) => row(entry, "ok", Some(&t.id), None, t.expires, None),
    }
}

/// One entry, under its credential's lock.
async fn renew_one<K: TokenKind>(
    client: &Client,
    observer: &dyn Observer,
    entry: &Entry,
    journal: &Journal,
    list: &mut Vec<Token>,
    opts: Options,
) -> RenewRow {
    let key = journaled::key::<K>(client, &entry.name);
    let log = match Log::lock(journal, &key, opts.lock_timeout) {
        Ok(l) => l,
        Err(e) => return row(entry, "ok", None, None, None, Some(e)),
    };
    if log.waited {
        // Another run had it: what it did is in the list now.
        match K::list(client).await {
            Ok(l) => *list = l,
            Err(e) => return row(entry, "ok", None, None, None, Some(e)),
        }
    }
    match renew_locked::<K>(client, observer, entry, &log, list, opts).await {
        Ok(r) => r,
        Err(e) => row(entry, "ok", None, None, None, Some(e)),
    }
}

async fn renew_locked<K: TokenKind>(
    client: &Client,
    observer: &dyn Observer,
    entry: &Entry,
    log: &Log,
    list: &[Token],
    opts: Options,
) -> Result<RenewRow> {
    let taken = journaled::open::<K>(client, log, list, K::DELIVERED_FATE).await?;
    let known = log.entry()?;
    let mut cur = current::<K>(entry, &known, list)?;
    if let Some(t) = cur
        && known.current.is_none()
    {
        // A token sts never delivered: adopted as it is, delivered at its first renewal.
        let id = t.id.text.to_string();
        log.update(|e| {
            e.current = Some(id);
            e.delivered = false;
        })?;
    }
    if cur.is_some_and(|t| taken.retired.iter().any(|r| *r == t.id.text)) {
        cur = None;
    }
    let unfinished = !known.superseded.is_empty();
    let request = |old: Option<&Token>| {
        let mut req = RotateRequest::new(
            old.map_or_else(TokenId::missing, |t| t.id.clone()),
            entry.retire.unwrap_or(K::DEFAULT_FATE),
        );
        req.fate_is_default = entry.retire.is_none();
        req.overlap = entry.overlap;
        req.delivery = entry.delivery.clone();
        req.context_name = entry.context.clone();
        req.expiration = entry.lifetime.clone();
        req.lock_timeout = opts.lock_timeout;
        req
    };
    let (action, old, create) = match cur {
        None => {
            let req = request(None);
            let create = K::create_request(&entry.input, Utc::now())?;
            ("created", None, Some((req, create)))
        }
        Some(t) if due(entry, t, opts.force) || unfinished => {
            let req = request(Some(t));
            let create = K::rotation_request(t, entry.lifetime.as_deref(), None, Utc::now())?;
            ("renewed", Some(t), Some((req, create)))
        }
        Some(t) => {
            let action = if taken.retired.is_empty() {
                "ok"
            } else {
                "retired"
            };
            return Ok(row(entry, action, Some(&t.id), None, t.expires, None));
        }
    };
    let Some((req, create)) = create else {
        unreachable!("every other case returned")
    };
    let blank = Rotation::new(req.old_id.clone(), req.fate);
    let (r, failure) =
        rotate::replace::<K>(client, observer, &req, old, list, create, log, blank).await;
    for w in &r.warnings {
        observer.warn(w);
    }
    let expires = r.created.as_ref().and_then(|c| K::created_times(&c.json).1);
    let old_id = old.map(|t| &t.id);
    Ok(row(
        entry,
        action,
        r.new_id.as_ref(),
        old_id,
        expires,
        failure,
    ))
}

/// `renew --status`: what the journal holds, changing nothing.
fn status(journal: &Journal, printer: &Printer) -> Result<(), Failure> {
    let file = journal.load()?;
    let rows: Vec<JournalRow> = file
        .credential
        .iter()
        .map(|(key, e)| {
            let mut pending = Vec::new();
            if let Some(s) = &e.rotation {
                pending.push(format!(
                    "unfinished rotation of {} (new id {}, started {})",
                    s.old_id.as_deref().unwrap_or("-"),
                    s.new_id.as_deref().unwrap_or("unknown"),
                    s.started
                ));
            }
            for r in &e.retire {
                pending.push(format!(
                    "{} {}{}",
                    r.how,
                    r.id,
                    r.due
                        .as_deref()
                        .map(|d| format!(" at {d}"))
                        .unwrap_or_default()
                ));
            }
            for s in &e.superseded {
                pending.push(format!("superseded {s}"));
            }
            if !e.ambiguous.is_empty() {
                pending.push(format!("stray ids {}", e.ambiguous.join(", ")));
            }
            JournalRow {
                credential: key.clone(),
                current: e.current.clone(),
                pending,
            }
        })
        .collect();
    printer.journal_status(&rows)?;
    Ok(())
}

/// `renew --forget ID…`: each id dropped from the journal, the server untouched.
fn forget(journal: &Journal, ids: &[String], printer: &Printer) -> Result<(), Failure> {
    let keys: Vec<String> = journal.load()?.credential.into_keys().collect();
    for id in ids {
        let mut found = false;
        for key in &keys {
            found |= journal.update(key, |e| e.forget(id))?;
        }
        if !found {
            return Err(Error::usage(format!("the journal holds no id {id}")).into());
        }
        crate::output::write_stdout(&printer.success_line(&format!(
            "Forgot {id}: the journal no longer tracks it (the server was not touched)"
        )))?;
    }
    Ok(())
}

//! `-A, --all-contexts` (CONTRACT §10): one command for every saved context at once. The
//! engine (`engine.rs`) runs a task per context; these are the commands built on it.

pub mod engine;

use std::future::Future;
use std::time::Duration;

use chrono::Utc;

use self::engine as fanout;
use self::engine::{ContextJob, KeyringReader};
use crate::cli::Cli;
use crate::commands::list_filter::ListFilter;
use crate::commands::{Failure, block_on};
use crate::config;
use crate::error::{Error, Kind, Result};
use crate::http::client::Client;
use crate::outcome::ContextResult;
use crate::output::Printer;
use crate::platform::{self, INGESTION_KEYS, Platform, PlatformKind, SERVICE_TOKENS, TokenKind};
use crate::settings::{self, OutputSettings, Sources};
use crate::{with_platform, with_service_tokens};

/// The saved contexts `-A` runs for, each with its saved credential (read all at once), and
/// the per-context deadline. Warns once when URL or token flags or env vars are set, since
/// `-A` ignores them.
pub(crate) fn prepare(
    cli: &Cli,
    printer: &Printer,
    src: &Sources,
    wanted: impl Fn(PlatformKind) -> bool,
) -> Result<(Vec<ContextJob>, KeyringReader, Duration), Failure> {
    let global = &cli.global;
    if let Some(w) = fanout::ignored_warning(&fanout::ignored_inputs(global, src.env)) {
        printer.warn(&w);
    }
    let platform = settings::explicit_platform(global, src)?;
    let timeout = settings::resolve_timeout(global, src)?;
    let (config_path, named) = src.config_path(global)?;
    let config = config::load(&config_path)?;
    if config.is_none() && named {
        return Err(settings::missing_config(&config_path).into());
    }
    // No saved context at all (of `--platform`'s) is an error: a nightly check must not pass
    // while checking nothing (CONTRACT §14). Contexts that merely lack the kind are a warning.
    if fanout::targets(config.as_ref(), platform, |_| true).is_empty() {
        return Err(Error::new(
            Kind::NotFound,
            format!(
                "no saved contexts{}: save one with `sts context save`",
                platform.map_or_else(String::new, |p| format!(" of platform {p}"))
            ),
        )
        .into());
    }
    let targets = fanout::targets(config.as_ref(), platform, wanted);
    if targets.is_empty() {
        printer.warn(&format!(
            "no saved contexts{} have this kind of credential",
            platform.map_or_else(String::new, |p| format!(" of platform {p}"))
        ));
    }
    let mut warnings = Vec::new();
    let (credentials, reader) = fanout::credentials(&config_path, &targets, &mut warnings);
    for w in &warnings {
        printer.warn(w);
    }
    Ok((
        targets.into_iter().zip(credentials).collect(),
        reader,
        timeout,
    ))
}

/// Runs `task` for every context, with the progress line on a terminal.
fn run_all<T, F, Fut>(
    jobs: Vec<ContextJob>,
    reader: KeyringReader,
    timeout: Duration,
    out: OutputSettings,
    printer: &Printer,
    task: F,
) -> Result<Vec<ContextResult<T>>, Failure>
where
    F: Fn(Client, PlatformKind) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let observer = printer.without_spinner();
    let progress = printer.fleet_progress(jobs.len());
    let on_done = || progress.done();
    block_on(async {
        Ok(fanout::run_all(jobs, reader, timeout, out, &observer, &on_done, task).await)
    })
}

/// The platform's validation request for every context.
pub(crate) fn validate_each(
    jobs: Vec<ContextJob>,
    reader: KeyringReader,
    timeout: Duration,
    out: OutputSettings,
    printer: &Printer,
) -> Result<Vec<ContextResult<platform::Validation>>, Failure> {
    run_all(
        jobs,
        reader,
        timeout,
        out,
        printer,
        |client, platform| async move { platform::validate(platform, &client).await },
    )
}

/// The exit code of the first failing context, else `--fail-if-any`'s.
fn verdict<T>(
    results: &[ContextResult<T>],
    rows: usize,
    filter: Option<(&ListFilter, &platform::Nouns)>,
) -> Result<(), Failure> {
    if let Some(code) = ContextResult::first_failure(results) {
        return Err(Failure::Reported(code));
    }
    if let Some((filter, nouns)) = filter {
        filter.check(rows, nouns)?;
    }
    Ok(())
}

/// `service-token list -A` (every platform) and `ingestion-api-key list -A` (StackState only).
pub fn list_all(
    cli: &Cli,
    keys: bool,
    filter: &ListFilter,
    out: OutputSettings,
    printer: &Printer,
    src: &Sources,
) -> Result<(), Failure> {
    let (jobs, reader, timeout) =
        prepare(cli, printer, src, |p| !keys || p.profile().ingestion_keys)?;
    let jobs_platforms: Vec<PlatformKind> = jobs.iter().map(|(t, _)| t.context.platform).collect();
    if let Some(w) = filter.last_use_warning(jobs_platforms.iter().copied()) {
        printer.warn(&w);
    }
    let mut results = if keys {
        run_all(
            jobs,
            reader,
            timeout,
            out,
            printer,
            |client, platform| async move {
                with_platform!(platform, P => <P as Platform>::IngestionKeys::list(&client).await)
            },
        )?
    } else {
        run_all(
            jobs,
            reader,
            timeout,
            out,
            printer,
            |client, platform| async move {
                with_service_tokens!(platform, K => K::list(&client).await)
            },
        )?
    };
    let now = Utc::now();
    let mut rows = 0;
    for r in &mut results {
        if let Ok(tokens) = &mut r.result {
            filter.apply(tokens, now);
            rows += tokens.len();
        }
    }
    let nouns = if keys {
        &INGESTION_KEYS
    } else {
        &SERVICE_TOKENS
    };
    if printer.is_prometheus() {
        return super::metrics::print_all(printer, nouns, results, rows, filter, now);
    }
    printer.fleet_tokens(nouns, &mut results, now)?;
    verdict(&results, rows, Some((filter, nouns)))
}

/// `context validate -A`.
pub fn validate_all(
    cli: &Cli,
    out: OutputSettings,
    printer: &Printer,
    src: &Sources,
) -> Result<(), Failure> {
    let (jobs, reader, timeout) = prepare(cli, printer, src, |_| true)?;
    let results = validate_each(jobs, reader, timeout, out, printer)?;
    printer.fleet_validations(&results)?;
    verdict(&results, 0, None)
}

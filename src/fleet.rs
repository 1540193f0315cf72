//! The `sts` binary's side of `-A, --all-contexts` (CONTRACT §10) and `sts auth` (§11): read
//! the inputs, run the commands' code, hand the results to the printer, pick the exit code.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use sts_cli::api::client::Client;
use sts_cli::cli::{AuthCommand, Cli};
use sts_cli::commands::auth::{self, AuthStatus};
use sts_cli::commands::fanout::{self, ContextResult, Job, KeyringReader};
use sts_cli::commands::list_filter::ListFilter;
use sts_cli::config;
use sts_cli::error::{Error, Result};
use sts_cli::output::Printer;
use sts_cli::platform::stackstate::{IngestionApiKeys, ServiceTokens};
use sts_cli::platform::{self, PlatformKind, TokenKind};
use sts_cli::settings::{self, OutputSettings, Sources};
use sts_cli::with_service_tokens;

use super::{Failure, block_on};

/// The saved contexts `-A` runs for, each with its saved credential (read all at once), and
/// the per-context deadline. Warns once when URL or token flags or env vars are set, since
/// `-A` ignores them.
fn prepare(
    cli: &Cli,
    printer: &Printer,
    src: &Sources,
    wanted: impl Fn(PlatformKind) -> bool,
) -> Result<(Vec<Job>, KeyringReader, Duration), Failure> {
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
    let targets = fanout::targets(config.as_ref(), platform, wanted);
    if targets.is_empty() {
        printer.warn(&format!(
            "no saved contexts{}: save one with `sts context save`",
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
    jobs: Vec<Job>,
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
fn validate_each(
    jobs: Vec<Job>,
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
    filter: Option<(&ListFilter, &sts_cli::platform::Nouns)>,
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
    if let Some(w) = filter.last_use_warning(jobs.iter().map(|(t, _)| t.context.platform)) {
        printer.warn(&w);
    }
    let mut results = if keys {
        run_all(
            jobs,
            reader,
            timeout,
            out,
            printer,
            |client, _| async move { IngestionApiKeys::list(&client).await },
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
        &IngestionApiKeys::NOUNS
    } else {
        &ServiceTokens::NOUNS
    };
    if printer.is_prometheus() {
        return super::metrics::print_all(printer, nouns, results, rows, filter, now);
    }
    printer.fleet_tokens(nouns, &results, now)?;
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

/// `sts auth status [-A]`, `sts auth token`.
pub fn run_auth(
    cli: &Cli,
    cmd: &AuthCommand,
    out: OutputSettings,
    printer: &Printer,
    src: &mut Sources,
) -> Result<(), Failure> {
    match cmd {
        AuthCommand::Status(a) if a.all_contexts => {
            let (jobs, reader, timeout) = prepare(cli, printer, src, |_| true)?;
            let statuses: Vec<AuthStatus> = jobs
                .iter()
                .map(|(t, _)| AuthStatus::of_context(t))
                .collect();
            let results = validate_each(jobs, reader, timeout, out, printer)?;
            let code = ContextResult::first_failure(&results);
            let pairs: Vec<(AuthStatus, Result<platform::Validation>)> = statuses
                .into_iter()
                .zip(results.into_iter().map(|r| r.result))
                .collect();
            printer.fleet_auth_status(&pairs)?;
            code.map_or(Ok(()), |c| Err(Failure::Reported(c)))
        }
        AuthCommand::Status(_) => {
            let (settings, sources) = settings::resolve_with_sources(&cli.global, out, src)?;
            for w in &settings.warnings {
                printer.warn(w);
            }
            let status = AuthStatus::of(&settings, &sources);
            let answer: Result<platform::Validation, Error> = block_on(async {
                Ok(match Client::new(&settings, printer) {
                    Ok(client) => platform::validate(settings.platform, &client).await,
                    Err(e) => Err(e),
                })
            })?;
            printer.auth_status(&status, &answer)?;
            match answer {
                Ok(_) => Ok(()),
                // The JSON document already holds the error.
                Err(e) if printer.is_json() => Err(Failure::Reported(e.exit_code())),
                Err(e) => Err(e.into()),
            }
        }
        AuthCommand::Token => {
            let settings = settings::resolve(&cli.global, out, src)?;
            for w in &settings.warnings {
                printer.warn(w);
            }
            let kind = auth::kind_name(settings.credential.kind());
            Ok(printer.auth_token(settings.credential.secret().expose(), kind)?)
        }
    }
}

//! CONTRACT §13: `-o prometheus` on the lists (one context or `-A`)
//! and `sts exporter`. A context that fails is its `sts_context_up 0` series, with a ⚠️ line on
//! stderr, and does not fail the command; other errors keep their exit codes.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::cli::{
    Cli, Command, ExporterArgs, IngestionApiKeyCommand, OutputFormat, ServiceTokenCommand,
};
use crate::commands::all_contexts::engine as fanout;
use crate::commands::exporter::{self, ExporterSettings, Shared, server};
use crate::commands::list_filter::ListFilter;
use crate::config;
use crate::error::{Error, Kind, Result};
use crate::http::client::Client;
use crate::outcome::ContextResult;
use crate::output::prometheus;
use crate::output::{self, Printer};
use crate::platform::{Nouns, Parts, Token, TokenKind};
use crate::settings::{self, OutputSettings, Provenance, Settings, Sources};
use chrono::{DateTime, Utc};

use super::Failure;

/// `-o prometheus` is for the two lists; more than one `-c` is for `exporter`.
pub fn check_command(cli: &Cli, out: OutputSettings) -> Result<(), Failure> {
    let list = matches!(
        cli.command,
        Command::ServiceToken(ServiceTokenCommand::List(_))
            | Command::IngestionApiKey(IngestionApiKeyCommand::List(_))
    );
    if out.format == OutputFormat::Prometheus && !list {
        return Err(Error::usage(
            "-o prometheus is for `service-token list` and `ingestion-api-key list` (and \
             `sts exporter` serves the same metrics)",
        )
        .into());
    }
    if cli.global.contexts.len() > 1 && !matches!(cli.command, Command::Exporter(_)) {
        return Err(Error::usage(
            "--context may be given once (only `sts exporter` takes several)",
        )
        .into());
    }
    Ok(())
}

/// `-o prometheus` of one context's list. The context label is the saved context's name, or the
/// server URL when no saved context applies. The list is made into records as it is decoded,
/// never held as rows.
pub async fn print_one<K: TokenKind>(
    printer: &Printer,
    settings: &Settings,
    provenance: &Provenance,
    client: &Client,
    personal: bool,
    filter: &ListFilter,
) -> Result<(), Failure> {
    let now = Utc::now();
    if let Some(w) = filter.last_use_warning([K::PLATFORM]) {
        printer.warn(&w);
    }
    let context = provenance
        .context
        .clone()
        .unwrap_or_else(|| settings.url.clone());
    let record = |t: &Token| {
        filter.matches(t, now).then(|| {
            prometheus::CredentialRecord::of(&context, K::PLATFORM, K::NOUNS.json_one, t, now)
        })
    };
    let listed = if personal {
        K::list_personal(client)
            .await
            .map(|rows| rows.iter().filter_map(record).collect::<Vec<_>>().into())
    } else {
        K::list_map(client, record).await
    };
    let result = ContextResult {
        name: context.clone(),
        platform: settings.platform,
        url: settings.url.clone(),
        result: listed,
    };
    print_records(printer, &K::NOUNS, result, filter, now)
}

/// [`print_one`]'s records, written.
fn print_records(
    printer: &Printer,
    nouns: &Nouns,
    result: ContextResult<Parts<prometheus::CredentialRecord>>,
    filter: &ListFilter,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    printer.context_failures(std::slice::from_ref(&result));
    let (credentials, contexts) = prometheus::records_of_one(result, now);
    let rows = credentials.len();
    let failed = contexts.iter().any(|c| !c.up);
    let parts = [&credentials.first[..], &credentials.second[..]];
    prometheus::write_rendered(&mut std::io::stdout().lock(), parts, &contexts)?;
    std::mem::forget(credentials);
    if !failed {
        filter.check(rows, nouns)?;
    }
    Ok(())
}

/// `-o prometheus` of the lists of several contexts (`-A`), or of one. Takes the lists, so that
/// the server's objects are dropped once the records are made.
pub fn print_all(
    printer: &Printer,
    nouns: &Nouns,
    results: Vec<ContextResult<Vec<Token>>>,
    rows: usize,
    filter: &ListFilter,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    printer.context_failures(&results);
    let failed = ContextResult::first_failure(&results).is_some();
    let (credentials, contexts) = prometheus::records_of(nouns.json_one, results, now);
    prometheus::write_rendered(
        &mut std::io::stdout().lock(),
        [&credentials, &[]],
        &contexts,
    )?;
    // The last thing the process does: the records are left to the operating system, which
    // takes the memory back whole, rather than freed one allocation at a time.
    std::mem::forget(credentials);
    if !failed {
        filter.check(rows, nouns)?;
    }
    Ok(())
}

/// `sts exporter`.
pub fn run_exporter(
    cli: &Cli,
    args: &ExporterArgs,
    out: OutputSettings,
    printer: &Printer,
    src: &Sources,
) -> Result<(), Failure> {
    let global = &cli.global;
    let refresh = match crate::dates::parse_duration(&args.refresh) {
        Ok(d) if !d.is_zero() => d,
        Ok(_) => return Err(Error::usage("--refresh must be more than 0").into()),
        Err(e) => return Err(Error::usage(format!("invalid --refresh: {e}")).into()),
    };
    let listen: SocketAddr = args.listen.parse().map_err(|_| {
        Error::usage(format!(
            "invalid --listen {:?}: give an address and a port, e.g. 127.0.0.1:9879",
            args.listen
        ))
    })?;
    if let Some(w) = fanout::ignored_warning(&fanout::ignored_inputs(global, src.env)) {
        printer.warn(&w.replacen("-A", "the exporter", 1));
    }
    let (config_path, named) = src.config_path(global)?;
    let loaded = config::load(&config_path)?;
    if loaded.is_none() && named {
        return Err(settings::missing_config(&config_path).into());
    }
    let settings = ExporterSettings {
        config_path,
        platform: settings::explicit_platform(global, src)?,
        names: global.contexts.clone(),
        timeout: settings::resolve_timeout(global, src)?,
        refresh,
        output: out,
    };
    exporter::check(&settings)?;
    if loaded.is_none_or(|c| c.contexts.is_empty()) {
        printer.warn("no saved contexts: save one with `sts context save`");
    }

    let listener = std::net::TcpListener::bind(listen)
        .map_err(|e| Error::new(Kind::Config, format!("cannot listen on {listen}: {e}")))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::config(format!("cannot listen on {listen}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::config(format!("cannot listen on {listen}: {e}")))?;
    if !addr.ip().is_loopback() {
        printer.warn(&format!(
            "listening on {addr}, beyond loopback: anyone who reaches it can read the token names"
        ));
    }
    output::write_stdout(&format!(
        "sts exporter listening on http://{addr}/metrics\n"
    ))?;

    let shared = Shared::new();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let observer = printer.without_spinner();
    let _refresher =
        exporter::spawn_refresher(settings, Arc::clone(&shared), Box::new(observer), stop_rx);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::config(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|e| Error::config(format!("cannot listen on {addr}: {e}")))?;
        server::serve(listener, shared, server::Limits::default(), stopped()).await;
        Ok::<(), Error>(())
    })?;
    drop(stop_tx);
    // The refresh thread may be waiting for a platform: it is not waited for.
    runtime.shutdown_background();
    Ok(())
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

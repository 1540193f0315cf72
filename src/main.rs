//! `sts`: argv → cli → settings → api client → commands → output. This is the one place that turns
//! an error into an exit code (CONTRACT §6).

use std::ffi::OsString;
use std::io;
use std::path::Path;

use chrono::Utc;
use clap::Parser;
use clap::error::ErrorKind;

use clap::CommandFactory;
use sts_cli::api::client::Client;
use sts_cli::api::models::ServerInfo;
use sts_cli::cli::{
    Cli, Command, ContextArgs, ContextCommand, ContextSaveArgs, IngestionApiKeyCommand,
    ServiceTokenCommand,
};
use sts_cli::commands::{self, context, ingestion_api_key, service_token};
use sts_cli::config;
use sts_cli::env_vars;
use sts_cli::error::{Error, Kind};
use sts_cli::output::{self, Deleted, Printer};
use sts_cli::settings::{self, OutputSettings, Settings, Sources};

/// Why a command did not succeed.
enum Failure {
    /// Not reported yet: `main` prints it and exits with its code.
    Error(Error),
    /// Already reported on stderr (deletes of several ids); exit with this code.
    Reported(i32),
    /// Writing the output failed (a closed pipe ends quietly).
    Io(io::Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Error(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Io(e)
    }
}

fn main() {
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        output::write_stderr(&format!("❌ Internal error in sts: {what}\n"));
    }));
    std::process::exit(real_main());
}

fn real_main() -> i32 {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => return clap_error(e, &argv),
    };
    let out = OutputSettings::resolve(&cli.global, &env_vars::get);
    let printer = Printer::new(&out);
    match run(&cli, out, &printer) {
        Ok(()) => 0,
        Err(Failure::Error(e)) => {
            printer.error(&e);
            e.exit_code()
        }
        Err(Failure::Reported(code)) => code,
        Err(Failure::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(Failure::Io(e)) => {
            printer.error(&Error::new(
                Kind::Config,
                format!("cannot write the output: {e}"),
            ));
            1
        }
    }
}

/// What to do, its input checked before any request.
enum Job {
    ServiceTokenCreate(sts_cli::api::models::NewServiceTokenRequest),
    ServiceTokenList,
    ServiceTokenDelete(Vec<i64>),
    IngestionApiKeyCreate(sts_cli::api::models::GenerateIngestionApiKeyRequest),
    IngestionApiKeyList,
    IngestionApiKeyDelete(Vec<i64>),
}

fn run(cli: &Cli, out: OutputSettings, printer: &Printer) -> Result<(), Failure> {
    let mut read_line = || {
        let mut line = String::new();
        io::stdin().read_line(&mut line).map(|_| line)
    };
    let default_config = config::resolve_path(None, None).ok();
    let mut src = Sources {
        env: &env_vars::get,
        read_stdin_line: &mut read_line,
        default_k8s_token_path: Path::new(settings::DEFAULT_K8S_SA_TOKEN_PATH),
        default_config_path: default_config.as_deref(),
    };
    match &cli.command {
        Command::Context(args) => run_context(cli, args, out, printer, &mut src),
        _ => run_api(cli, out, printer, &mut src),
    }
}

fn run_api(
    cli: &Cli,
    out: OutputSettings,
    printer: &Printer,
    src: &mut Sources,
) -> Result<(), Failure> {
    let now = Utc::now();
    let job = match &cli.command {
        Command::ServiceToken(ServiceTokenCommand::Create(a)) => {
            Job::ServiceTokenCreate(service_token::create_request(a, now)?)
        }
        Command::ServiceToken(ServiceTokenCommand::List) => Job::ServiceTokenList,
        Command::ServiceToken(ServiceTokenCommand::Delete(a)) => {
            Job::ServiceTokenDelete(commands::parse_ids(a)?)
        }
        Command::IngestionApiKey(IngestionApiKeyCommand::Create(a)) => {
            Job::IngestionApiKeyCreate(ingestion_api_key::create_request(a, now)?)
        }
        Command::IngestionApiKey(IngestionApiKeyCommand::List) => Job::IngestionApiKeyList,
        Command::IngestionApiKey(IngestionApiKeyCommand::Delete(a)) => {
            Job::IngestionApiKeyDelete(commands::parse_ids(a)?)
        }
        Command::Context(_) => unreachable!("context commands run in run_context"),
    };

    let settings = settings::resolve(&cli.global, out, src)?;
    for warning in &settings.warnings {
        printer.warn(warning);
    }

    block_on(async {
        let client = Client::new(&settings, printer)?;
        match job {
            Job::ServiceTokenCreate(req) => {
                let created = service_token::create(&client, &req).await?;
                printer.service_token_created(&created)?;
            }
            Job::ServiceTokenList => {
                printer.service_tokens(&service_token::list(&client).await?, Utc::now())?;
            }
            Job::ServiceTokenDelete(ids) => {
                delete_each(printer, Deleted::ServiceToken, &ids, |id| {
                    service_token::delete(&client, id)
                })
                .await?;
            }
            Job::IngestionApiKeyCreate(req) => {
                let created = ingestion_api_key::create(&client, &req).await?;
                printer.ingestion_api_key_created(&created)?;
            }
            Job::IngestionApiKeyList => {
                printer.ingestion_api_keys(&ingestion_api_key::list(&client).await?, Utc::now())?;
            }
            Job::IngestionApiKeyDelete(ids) => {
                delete_each(printer, Deleted::IngestionApiKey, &ids, |id| {
                    ingestion_api_key::delete(&client, id)
                })
                .await?;
            }
        }
        Ok(())
    })
}

/// Runs a future on a current-thread runtime.
fn block_on<T>(fut: impl std::future::Future<Output = Result<T, Failure>>) -> Result<T, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::config(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(fut)
}

/// `GET /server/info` with these settings, version checked.
fn server_info(settings: &Settings, printer: &Printer) -> Result<ServerInfo, Failure> {
    block_on(async {
        let client = Client::new(settings, printer)?;
        Ok(context::server_info(&client).await?)
    })
}

/// `sts context …` (CONTRACT §4).
fn run_context(
    cli: &Cli,
    args: &ContextArgs,
    out: OutputSettings,
    printer: &Printer,
    src: &mut Sources,
) -> Result<(), Failure> {
    let global = &cli.global;
    let (config_path, _) = src.config_path(global)?;
    match &args.command {
        None if context::docs_form_given(global, &args.save) => {
            context_save(cli, &args.save, out, printer, src, &config_path)
        }
        None => {
            // A bare `sts context` prints its help, as the Go CLI.
            let help = Cli::command()
                .try_get_matches_from(["sts", "context", "--help"])
                .map_or_else(|e| e.render().to_string(), |_| String::new());
            output::write_stdout(&help)?;
            Ok(())
        }
        Some(ContextCommand::Save(save)) => {
            context_save(cli, save, out, printer, src, &config_path)
        }
        Some(ContextCommand::List) => Ok(printer.contexts(config::load(&config_path)?.as_ref())?),
        Some(ContextCommand::Show) => {
            let config = context::load_existing(&config_path)?;
            let (name, ctx) = context::context_in_effect(&config, src.context_name(global))?;
            Ok(printer.context_shown(&name, &ctx)?)
        }
        Some(ContextCommand::Set(a)) => {
            context::set_current(&config_path, &a.name)?;
            Ok(printer.context_set(&a.name)?)
        }
        Some(ContextCommand::Delete(a)) => {
            context::delete(&config_path, &a.name)?;
            Ok(printer.context_deleted(&a.name)?)
        }
        Some(ContextCommand::Validate(a)) => {
            let config = context::load_existing(&config_path)?;
            let name = a.name.clone().or_else(|| src.context_name(global));
            let (name, ctx) = context::context_in_effect(&config, name)?;
            let mut warnings = Vec::new();
            let credential = context::saved_credential(&config_path, &name, &ctx, &mut warnings)?;
            for warning in &warnings {
                printer.warn(warning);
            }
            let timeout = settings::resolve_timeout(global, src)?;
            let settings = Settings::for_context(&ctx, credential, timeout, out)?;
            let info = server_info(&settings, printer)?;
            Ok(printer.context_valid(&name, &ctx.url, &info)?)
        }
    }
}

/// `context save`: check the flags and the config file, validate the credential against the
/// server (unless `--skip-validate`), then store the secret and the context.
fn context_save(
    cli: &Cli,
    args: &ContextSaveArgs,
    out: OutputSettings,
    printer: &Printer,
    src: &mut Sources,
    config_path: &Path,
) -> Result<(), Failure> {
    let req = context::save_request(&cli.global, args, src)?;
    // A config file that does not parse stops the save before anything happens.
    config::load(config_path)?;
    if !req.skip_validate {
        let timeout = settings::resolve_timeout(&cli.global, src)?;
        let settings = Settings::for_context(&req.context, req.credential.clone(), timeout, out)?;
        let info = server_info(&settings, printer)?;
        printer.connection_verified(&req.context.url, &info)?;
    }
    if let Some(warning) = context::save(config_path, &req)? {
        printer.warn(&warning);
    }
    Ok(printer.context_saved(&req.name, &req.context)?)
}

/// Deletes each id in turn. One id: its error is the command's. Several: every id is tried, each
/// failure reported on stderr, and the exit code is that of the first failure.
async fn delete_each<F, Fut>(
    printer: &Printer,
    what: Deleted,
    ids: &[i64],
    delete: F,
) -> Result<(), Failure>
where
    F: Fn(i64) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let several = ids.len() > 1;
    let mut deleted = Vec::new();
    let mut first_failure = None;
    for &id in ids {
        match delete(id).await {
            Ok(()) => {
                deleted.push(id);
                if !printer.is_json() {
                    printer.deleted_line(what, id)?;
                }
            }
            Err(mut e) => {
                e.message = format!("cannot delete {id}: {}", e.message);
                if !several {
                    return Err(e.into());
                }
                printer.error(&e);
                first_failure.get_or_insert(e.exit_code());
            }
        }
    }
    if printer.is_json() {
        printer.deleted_json(what, &deleted, several)?;
    }
    match first_failure {
        Some(code) => Err(Failure::Reported(code)),
        None => Ok(()),
    }
}

/// clap's own errors: help and version exit 0; a usage error exits 3 (clap says 2), printed as
/// `❌ …`, or as the JSON error when `-o json` was asked for.
fn clap_error(e: clap::Error, argv: &[OsString]) -> i32 {
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let text = e.render().to_string();
            return match output::write_stdout(&text) {
                Ok(()) => 0,
                Err(err) if err.kind() == io::ErrorKind::BrokenPipe => 0,
                Err(_) => 1,
            };
        }
        _ => {}
    }
    let text = e.render().to_string();
    let text = text.trim_end();
    let text = text.strip_prefix("error: ").unwrap_or(text);
    let json = wants_json(argv);
    let no_color = argv.iter().any(|a| a == "--no-color")
        || env_vars::get(env_vars::NO_COLOR).is_some()
        || env_vars::get(env_vars::TERM).is_some_and(|t| t.eq_ignore_ascii_case("dumb"));
    let printer = Printer::plain(
        if json {
            sts_cli::cli::OutputFormat::Json
        } else {
            sts_cli::cli::OutputFormat::Text
        },
        no_color,
    );
    if json {
        // The first paragraph, on one line (it may list the missing arguments).
        let first = text.split("\n\n").next().unwrap_or("usage error");
        let first = first.split_whitespace().collect::<Vec<_>>().join(" ");
        printer.error(&Error::usage(first));
    } else {
        // The first line as an error, then clap's tip and usage lines as they are.
        let mut lines = text.splitn(2, '\n');
        let first = lines.next().unwrap_or("usage error");
        printer.error(&Error::usage(first));
        if let Some(rest) = lines.next() {
            output::write_stderr(&format!("{rest}\n"));
        }
    }
    Kind::Usage.exit_code()
}

/// Whether the command line asks for `-o json`, for errors that come before it is parsed.
fn wants_json(argv: &[OsString]) -> bool {
    let args: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    args.iter().enumerate().any(|(i, a)| {
        matches!(a.as_str(), "--output=json" | "-ojson" | "-o=json")
            || (matches!(a.as_str(), "-o" | "--output")
                && args.get(i + 1).is_some_and(|n| n == "json"))
    })
}

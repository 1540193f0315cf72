//! `sts`: argv → cli → settings → api client → commands → output. This is the one place that turns
//! an error into an exit code (CONTRACT §6).

use std::ffi::OsString;
use std::io;
use std::path::Path;

use chrono::Utc;
use clap::error::ErrorKind;

use clap::{CommandFactory, FromArgMatches};
use sts_cli::api::client::Client;
use sts_cli::api::models::ServerInfo;
use sts_cli::cli::{
    Cli, Command, ContextArgs, ContextCommand, ContextSaveArgs, IngestionApiKeyCommand,
    ServiceTokenCommand,
};
use sts_cli::commands::expiry_filter::{self, ExpiryFilter};
use sts_cli::commands::rotate::{self, ContextTarget};
use sts_cli::commands::{self, context, context_import, ingestion_api_key, service_token};
use sts_cli::completion;
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
    // `COMPLETE=<shell> sts -- <words>`: a Tab in a shell whose completion script is loaded.
    sts_cli::completion::complete_if_asked();
    let argv: Vec<OsString> = std::env::args_os().collect();
    let cli = match parse(&argv) {
        Ok(cli) => cli,
        Err(e) => return clap_error(e, &argv),
    };
    let out = OutputSettings::resolve(&cli.global, &env_vars::get);
    let printer = Printer::new(&out).without_headers(no_headers(&cli.command));
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

/// `sts --version`: the version and the commit it was built from. Only the parser sees it; the
/// generated man pages and reference use the plain version, so they do not change with each commit.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("STS_GIT_COMMIT"),
    ")"
);

fn parse(argv: &[OsString]) -> Result<Cli, clap::Error> {
    let mut matches = Cli::command().version(VERSION).try_get_matches_from(argv)?;
    Cli::from_arg_matches_mut(&mut matches)
}

/// `--no-headers` of the list commands.
fn no_headers(command: &Command) -> bool {
    match command {
        Command::ServiceToken(ServiceTokenCommand::List(a))
        | Command::IngestionApiKey(IngestionApiKeyCommand::List(a)) => a.no_headers,
        Command::Context(ContextArgs {
            command: Some(ContextCommand::List(a)),
            ..
        }) => a.no_headers,
        _ => false,
    }
}

/// What to do, its input checked before any request.
enum Job {
    ServiceTokenCreate(sts_cli::api::models::NewServiceTokenRequest),
    ServiceTokenList(Option<ExpiryFilter>),
    ServiceTokenDelete(Vec<i64>),
    ServiceTokenRotate {
        id: i64,
        expiration: Option<String>,
        target: Option<ContextTarget>,
        keep_old: bool,
    },
    IngestionApiKeyCreate(sts_cli::api::models::GenerateIngestionApiKeyRequest),
    IngestionApiKeyList(Option<ExpiryFilter>),
    IngestionApiKeyDelete(Vec<i64>),
    IngestionApiKeyRotate {
        id: i64,
        expiration: Option<String>,
        keep_old: bool,
    },
    IngestionApiKeyVerify(sts_cli::secret::Secret),
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
        Command::Completion(a) => Ok(output::write_stdout(&completion::script(a.shell))?),
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
        Command::ServiceToken(ServiceTokenCommand::List(a)) => {
            Job::ServiceTokenList(ExpiryFilter::from_args(a)?)
        }
        Command::ServiceToken(ServiceTokenCommand::Rotate(a)) => {
            commands::expiration_millis(a.expiration.as_deref(), now)?;
            let target = match &a.save_to_context {
                Some(name) => Some(ContextTarget::resolve(
                    &src.config_path(&cli.global)?.0,
                    name,
                    settings::resolve_timeout(&cli.global, src)?,
                    out,
                )?),
                None => None,
            };
            Job::ServiceTokenRotate {
                id: commands::parse_id(a.id())?,
                expiration: a.expiration.clone(),
                target,
                keep_old: a.keep_old,
            }
        }
        Command::ServiceToken(ServiceTokenCommand::Delete(a)) => {
            Job::ServiceTokenDelete(commands::parse_ids(a)?)
        }
        Command::IngestionApiKey(IngestionApiKeyCommand::Create(a)) => {
            Job::IngestionApiKeyCreate(ingestion_api_key::create_request(a, now)?)
        }
        Command::IngestionApiKey(IngestionApiKeyCommand::List(a)) => {
            Job::IngestionApiKeyList(ExpiryFilter::from_args(a)?)
        }
        Command::IngestionApiKey(IngestionApiKeyCommand::Rotate(a)) => {
            commands::expiration_millis(a.expiration.as_deref(), now)?;
            Job::IngestionApiKeyRotate {
                id: commands::parse_id(a.id())?,
                expiration: a.expiration.clone(),
                keep_old: a.keep_old,
            }
        }
        Command::IngestionApiKey(IngestionApiKeyCommand::Verify(a)) => {
            let g = &cli.global;
            if [&g.api_token, &g.service_token, &g.k8s_sa_token]
                .iter()
                .any(|t| t.as_deref() == Some("-"))
            {
                return Err(Error::usage(
                    "verify reads the key from stdin, so the token cannot come from stdin too: \
                     pass it in an env var (STS_CLI_SERVICE_TOKEN, STS_CLI_API_TOKEN)",
                )
                .into());
            }
            Job::IngestionApiKeyVerify(ingestion_api_key::verify_key(
                a.key.as_deref(),
                src.read_stdin_line,
            )?)
        }
        Command::IngestionApiKey(IngestionApiKeyCommand::Delete(a)) => {
            Job::IngestionApiKeyDelete(commands::parse_ids(a)?)
        }
        Command::Context(_) | Command::Completion(_) => {
            unreachable!("context and completion commands run in run")
        }
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
            Job::ServiceTokenList(filter) => {
                let mut tokens = service_token::list(&client).await?;
                let now = Utc::now();
                expiry_filter::retain(&mut tokens, filter, now, |t| t.expiration);
                printer.service_tokens(&tokens, now)?;
            }
            Job::ServiceTokenRotate {
                id,
                expiration,
                target,
                keep_old,
            } => {
                let (report, failure) = rotate::rotate_service_token(
                    &client,
                    printer,
                    id,
                    expiration.as_deref(),
                    target.as_ref(),
                    keep_old,
                )
                .await;
                printer.service_token_rotated(&report)?;
                if let Some(e) = failure {
                    return Err(e.into());
                }
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
            Job::IngestionApiKeyList(filter) => {
                let mut keys = ingestion_api_key::list(&client).await?;
                let now = Utc::now();
                expiry_filter::retain(&mut keys, filter, now, |k| k.expiration);
                printer.ingestion_api_keys(&keys, now)?;
            }
            Job::IngestionApiKeyRotate {
                id,
                expiration,
                keep_old,
            } => {
                let (report, failure) =
                    rotate::rotate_ingestion_api_key(&client, id, expiration.as_deref(), keep_old)
                        .await;
                printer.ingestion_api_key_rotated(&report)?;
                if let Some(e) = failure {
                    return Err(e.into());
                }
            }
            Job::IngestionApiKeyVerify(key) => {
                ingestion_api_key::verify(&client, &key).await?;
                printer.ingestion_api_key_valid()?;
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
        Some(ContextCommand::List(_)) => {
            Ok(printer.contexts(config::load(&config_path)?.as_ref())?)
        }
        Some(ContextCommand::Show) => {
            let config = context::load_existing(&config_path)?;
            let (name, ctx) = context::context_in_effect(&config, src.context_name(global))?;
            Ok(printer.context_shown(&name, &ctx)?)
        }
        Some(ContextCommand::Set(a)) => {
            context::set_current(&config_path, a.name())?;
            Ok(printer.context_set(a.name())?)
        }
        Some(ContextCommand::Delete(a)) => {
            let was_current = context::delete(&config_path, a.name())?;
            Ok(printer.context_deleted(a.name(), was_current)?)
        }
        Some(ContextCommand::Rename(a)) => {
            let renamed = context::rename(&config_path, &a.old, &a.new)?;
            Ok(printer.context_renamed(&a.old, a.new.trim(), &renamed)?)
        }
        Some(ContextCommand::Import(a)) => {
            let source = match &a.from {
                Some(path) => std::path::PathBuf::from(path),
                None => context_import::default_source(src.env)?,
            };
            let report =
                context_import::import(&source, &config_path, a.overwrite, a.insecure_storage)?;
            Ok(printer.contexts_imported(&report)?)
        }
        Some(ContextCommand::Validate(a)) => {
            let config = context::load_existing(&config_path)?;
            let name = a.name().or_else(|| src.context_name(global));
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
    // A config file that does not parse, or no keyring, stops the save before any request.
    config::load(config_path)?;
    context::check_secret_store(&req)?;
    if !req.skip_validate {
        let timeout = settings::resolve_timeout(&cli.global, src)?;
        let settings = Settings::for_context(&req.context, req.credential.clone(), timeout, out)?;
        let info = server_info(&settings, printer)?;
        printer.connection_verified(&req.context.url, &info)?;
    }
    let saved = context::save(config_path, &req)?;
    Ok(printer.context_saved(&req.name, &req.context, &saved)?)
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

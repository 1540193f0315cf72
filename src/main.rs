//! `sts`: argv → cli → settings → api client → commands → output. This is the one place that turns
//! an error into an exit code (CONTRACT §6).

use std::ffi::OsString;
use std::io;
use std::path::Path;

use chrono::Utc;
use clap::error::ErrorKind;

use clap::{CommandFactory, FromArgMatches};
use sts_cli::api::client::Client;
use sts_cli::cli::{
    Cli, Command, ContextArgs, ContextCommand, ContextSaveArgs, IngestionApiKeyCommand, ListArgs,
    ServiceTokenCommand, ServiceUserCommand,
};
use sts_cli::commands::list_filter::ListFilter;
use sts_cli::commands::token::{self, ContextTarget, RotateRequest};
use sts_cli::commands::{context, context_import};
use sts_cli::completion;
use sts_cli::config;
use sts_cli::env_vars;
use sts_cli::error::{Error, Kind};
use sts_cli::output::{self, Done, Printer};
use sts_cli::platform::stackstate::{self, IngestionApiKeys};
use sts_cli::platform::{
    self, CreateInput, Nouns, OldTokenFate, PlatformKind, TokenId, TokenKind, Validation, qualytics,
};
use sts_cli::settings::{self, OutputSettings, Settings, Sources};
use sts_cli::with_service_tokens;

mod fleet;
mod metrics;

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
    let contexts: Vec<String> = matches
        .get_many::<String>("context")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    let mut cli = Cli::from_arg_matches_mut(&mut matches)?;
    cli.global.contexts = contexts;
    Ok(cli)
}

/// `--no-headers` of the list commands.
fn no_headers(command: &Command) -> bool {
    match command {
        Command::ServiceUser(ServiceUserCommand::List(a)) => a.no_headers,
        Command::ServiceToken(ServiceTokenCommand::List(a))
        | Command::IngestionApiKey(IngestionApiKeyCommand::List(a)) => a.no_headers,
        Command::Context(ContextArgs {
            command: Some(ContextCommand::List(a)),
            ..
        }) => a.no_headers,
        _ => false,
    }
}

fn run(cli: &Cli, out: OutputSettings, printer: &Printer) -> Result<(), Failure> {
    // One line of at most 64 KiB (CONTRACT §5), so `/dev/zero` on stdin is an error.
    let mut read_line = sts_cli::fsutil::read_stdin_line;
    let default_config = config::resolve_path(None, None).ok();
    let mut src = Sources {
        env: &env_vars::get,
        read_stdin_line: &mut read_line,
        default_k8s_token_path: Path::new(settings::DEFAULT_K8S_SA_TOKEN_PATH),
        default_config_path: default_config.as_deref(),
    };
    metrics::check_command(cli, out)?;
    match &cli.command {
        Command::Exporter(a) => metrics::run_exporter(cli, a, out, printer, &src),
        Command::Context(args) => run_context(cli, args, out, printer, &mut src),
        Command::Completion(a) => Ok(output::write_stdout(&completion::script(a.shell))?),
        Command::Auth(cmd) => fleet::run_auth(cli, cmd, out, printer, &mut src),
        Command::ServiceToken(ServiceTokenCommand::List(a)) if a.all_contexts => {
            fleet::list_all(cli, false, &list_filter(a)?, out, printer, &src)
        }
        Command::IngestionApiKey(IngestionApiKeyCommand::List(a)) if a.all_contexts => {
            fleet::list_all(cli, true, &list_filter(a)?, out, printer, &src)
        }
        Command::ServiceToken(cmd) => {
            let platform = settings::platform_hint(&cli.global, &src);
            with_service_tokens!(platform, K => {
                let job = service_token_job::<K>(cli, cmd, out, &src)?;
                run_tokens::<K>(cli, job, out, printer, &mut src)
            })
        }
        Command::ServiceUser(cmd) => run_service_users(cli, cmd, out, printer, &mut src),
        Command::IngestionApiKey(cmd) => {
            let platform = settings::platform_hint(&cli.global, &src);
            if !platform.profile().ingestion_keys {
                return Err(Error::usage(format!(
                    "ingestion API keys exist only on StackState; this command is for {}{}",
                    platform.display(),
                    settings::saved_context(&cli.global, &src)
                        .ok()
                        .flatten()
                        .map(|s| format!(" (context '{}' is {})", s.name, s.context.platform))
                        .unwrap_or_default()
                ))
                .into());
            }
            let job = ingestion_api_key_job(cli, cmd, out, &mut src)?;
            run_tokens::<IngestionApiKeys>(cli, job, out, printer, &mut src)
        }
    }
}

/// A token or key command, its input checked before any request.
enum Job<K: TokenKind> {
    Create(K::Request),
    List { filter: ListFilter, personal: bool },
    Delete { ids: Vec<TokenId>, revoke: bool },
    Revoke(Vec<TokenId>),
    Restore(Vec<TokenId>),
    Rotate(Box<RotateRequest>),
    Scopes,
    Verify(sts_cli::secret::Secret),
}

fn list_filter(a: &ListArgs) -> Result<ListFilter, Error> {
    ListFilter::new(
        a.expiring_within.as_deref(),
        a.expired,
        a.unused_for.as_deref(),
        &a.status,
        a.fail_if_any,
    )
}

fn rotate_request<K: TokenKind>(
    cli: &Cli,
    id: &str,
    expiration: Option<&str>,
    save_to_context: Option<&str>,
    fate: OldTokenFate,
    out: OutputSettings,
    src: &Sources,
) -> Result<RotateRequest, Failure> {
    let old_id = K::parse_id(id, "-i, --id")?;
    stackstate::expiration_millis(expiration, Utc::now())?;
    let target = match save_to_context {
        Some(name) => Some(ContextTarget::resolve::<K>(
            &src.config_path(&cli.global)?.0,
            name,
            settings::resolve_timeout(&cli.global, src)?,
            out,
        )?),
        None => None,
    };
    Ok(RotateRequest {
        old_id,
        expiration: expiration.map(str::to_string),
        name: None,
        target,
        fate,
    })
}

fn service_token_job<K: TokenKind>(
    cli: &Cli,
    cmd: &ServiceTokenCommand,
    out: OutputSettings,
    src: &Sources,
) -> Result<Job<K>, Failure> {
    let now = Utc::now();
    Ok(match cmd {
        ServiceTokenCommand::Create(a) => {
            let input = CreateInput {
                name: a.name.clone(),
                roles: a.roles.clone(),
                scopes: a.scopes.clone(),
                expiration: a.expiration.clone(),
                dedicated_subject: a.dedicated_subject.clone(),
                service_user: a.service_user.clone(),
                scim_only: a.scim_only,
                ..Default::default()
            };
            Job::Create(K::create_request(&input, now)?)
        }
        ServiceTokenCommand::List(a) => {
            if a.personal {
                K::check_personal()?;
            }
            Job::List {
                filter: list_filter(a)?,
                personal: a.personal,
            }
        }
        ServiceTokenCommand::Delete(a) => {
            if a.revoke {
                K::check_revoke()?;
            }
            Job::Delete {
                ids: token::parse_ids::<K>(&a.ids.ids, &a.ids.id_flags)?,
                revoke: a.revoke,
            }
        }
        ServiceTokenCommand::Revoke(a) => {
            K::check_revoke()?;
            Job::Revoke(token::parse_ids::<K>(&a.ids, &a.id_flags)?)
        }
        ServiceTokenCommand::Restore(a) => {
            K::check_revoke()?;
            Job::Restore(token::parse_ids::<K>(&a.ids, &a.id_flags)?)
        }
        ServiceTokenCommand::Rotate(a) => {
            let fate = if a.keep_old {
                OldTokenFate::Keep
            } else if a.delete_old {
                OldTokenFate::Delete
            } else {
                K::DEFAULT_FATE
            };
            let mut req = rotate_request::<K>(
                cli,
                a.id(),
                a.expiration.as_deref(),
                a.save_to_context.as_deref(),
                fate,
                out,
                src,
            )?;
            req.name = a.name.clone();
            Job::Rotate(Box::new(req))
        }
        ServiceTokenCommand::Scopes => {
            K::check_scopes()?;
            Job::Scopes
        }
    })
}

fn ingestion_api_key_job(
    cli: &Cli,
    cmd: &IngestionApiKeyCommand,
    out: OutputSettings,
    src: &mut Sources,
) -> Result<Job<IngestionApiKeys>, Failure> {
    let now = Utc::now();
    Ok(match cmd {
        IngestionApiKeyCommand::Create(a) => {
            let input = CreateInput {
                name: a.name.clone(),
                description: a.description.clone(),
                expiration: a.expiration.clone(),
                ..Default::default()
            };
            Job::Create(IngestionApiKeys::create_request(&input, now)?)
        }
        IngestionApiKeyCommand::List(a) => {
            if a.personal {
                IngestionApiKeys::check_personal()?;
            }
            Job::List {
                filter: list_filter(a)?,
                personal: false,
            }
        }
        IngestionApiKeyCommand::Delete(a) => {
            if a.revoke {
                IngestionApiKeys::check_revoke()?;
            }
            Job::Delete {
                ids: token::parse_ids::<IngestionApiKeys>(&a.ids.ids, &a.ids.id_flags)?,
                revoke: false,
            }
        }
        IngestionApiKeyCommand::Rotate(a) => {
            Job::Rotate(Box::new(rotate_request::<IngestionApiKeys>(
                cli,
                a.id(),
                a.expiration.as_deref(),
                None,
                if a.keep_old {
                    OldTokenFate::Keep
                } else {
                    OldTokenFate::Delete
                },
                out,
                src,
            )?))
        }
        IngestionApiKeyCommand::Verify(a) => {
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
            Job::Verify(stackstate::verify_key(
                a.key.as_deref(),
                src.read_stdin_line,
            )?)
        }
    })
}

/// `sts service-user …` (Qualytics).
fn run_service_users(
    cli: &Cli,
    cmd: &ServiceUserCommand,
    out: OutputSettings,
    printer: &Printer,
    src: &mut Sources,
) -> Result<(), Failure> {
    let platform = settings::platform_hint(&cli.global, src);
    if platform != PlatformKind::Qualytics {
        return Err(platform::unsupported(
            platform,
            "service users",
            "they are Qualytics' only (service tokens of service users); use --platform qualytics",
        )
        .into());
    }
    if let ServiceUserCommand::Create(a) = cmd
        && (a.name.trim().is_empty() || a.role.trim().is_empty())
    {
        return Err(Error::usage("--name and --role must not be empty").into());
    }
    let settings = settings::resolve(&cli.global, out, src)?;
    for warning in &settings.warnings {
        printer.warn(warning);
    }
    block_on(async {
        let client = Client::new(&settings, printer)?;
        match cmd {
            ServiceUserCommand::List(_) => {
                let users = qualytics::service_users(&client).await?;
                printer.service_users(&users)?;
            }
            ServiceUserCommand::Create(a) => {
                let user =
                    qualytics::create_service_user(&client, &a.name, &a.role, &a.teams).await?;
                printer.service_user_created(&user)?;
            }
        }
        Ok(())
    })
}

/// Runs a token or key command of kind `K` with the resolved settings.
fn run_tokens<K: TokenKind>(
    cli: &Cli,
    job: Job<K>,
    out: OutputSettings,
    printer: &Printer,
    src: &mut Sources,
) -> Result<(), Failure> {
    let (settings, provenance) = settings::resolve_with_sources(&cli.global, out, src)?;
    if settings.platform != K::PLATFORM {
        return Err(Error::usage(format!(
            "this command was checked for {} but the settings name {}: set --platform",
            K::PLATFORM,
            settings.platform
        ))
        .into());
    }
    for warning in &settings.warnings {
        printer.warn(warning);
    }
    block_on(async {
        let client = Client::new(&settings, printer)?;
        match job {
            Job::Create(req) => {
                let created = K::create(&client, &req).await?;
                printer.created::<K>(&created)?;
            }
            Job::List { filter, personal } => {
                let listed = if personal {
                    K::list_personal(&client).await
                } else {
                    K::list(&client).await
                };
                if printer.is_prometheus() {
                    return metrics::print_one::<K>(
                        printer,
                        &settings,
                        &provenance,
                        listed,
                        &filter,
                    );
                }
                let mut tokens = listed?;
                let now = Utc::now();
                if let Some(w) = filter.last_use_warning([K::PLATFORM]) {
                    printer.warn(&w);
                }
                filter.apply(&mut tokens, now);
                let rows = tokens.len();
                printer.tokens::<K>(tokens, now)?;
                filter.check(rows, &K::NOUNS)?;
            }
            Job::Rotate(req) => {
                let (report, failure) = token::rotate::<K>(&client, printer, &req).await;
                printer.rotated::<K>(&report)?;
                if let Some(e) = failure {
                    return Err(e.into());
                }
            }
            Job::Delete { ids, revoke } => {
                let client = &client;
                each_id(printer, Done::Deleted, &K::NOUNS, &ids, |id| async move {
                    if revoke {
                        K::revoke(client, &id).await?;
                    }
                    K::delete(client, &id).await
                })
                .await?;
            }
            Job::Revoke(ids) => {
                let client = &client;
                each_id(printer, Done::Revoked, &K::NOUNS, &ids, |id| async move {
                    K::revoke(client, &id).await
                })
                .await?;
            }
            Job::Restore(ids) => {
                let client = &client;
                each_id(printer, Done::Restored, &K::NOUNS, &ids, |id| async move {
                    K::restore(client, &id).await
                })
                .await?;
            }
            Job::Scopes => {
                let scopes = K::scopes(&client).await?;
                printer.scopes(&scopes)?;
            }
            Job::Verify(key) => {
                stackstate::verify_ingestion_key(&client, &key).await?;
                printer.ingestion_api_key_valid()?;
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

/// The platform's validation request with these settings.
fn validation(settings: &Settings, printer: &Printer) -> Result<Validation, Failure> {
    block_on(async {
        let client = Client::new(settings, printer)?;
        Ok(platform::validate(settings.platform, &client).await?)
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
        None if settings::save::docs_form_given(global, &args.save) => {
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
            let req = context_import::ImportRequest {
                source: a.source,
                from: a.from.as_ref().map(std::path::PathBuf::from),
                name: a.name.clone(),
                overwrite: a.overwrite,
                insecure_storage: a.insecure_storage,
            };
            let report = context_import::run(&req, &config_path, src.env)?;
            printer.contexts_imported(&report)?;
            for warning in &report.source_warnings {
                printer.warn(&output::clean(warning));
            }
            Ok(())
        }
        Some(ContextCommand::Validate(a)) if a.all_contexts => {
            fleet::validate_all(cli, out, printer, src)
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
            let info = validation(&settings, printer)?;
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
    let req = settings::save::save_request(&cli.global, args, src)?;
    // A config file that does not parse, or no keyring, stops the save before any request.
    config::load(config_path)?;
    context::check_secret_store(&req)?;
    if !req.skip_validate {
        let timeout = settings::resolve_timeout(&cli.global, src)?;
        let settings = Settings::for_context(&req.context, req.credential.clone(), timeout, out)?;
        let info = validation(&settings, printer)?;
        printer.connection_verified(&req.context.url, &info)?;
    }
    let saved = context::save(config_path, &req)?;
    Ok(printer.context_saved(&req.name, &req.context, &saved)?)
}

/// Deletes (revokes, restores) each id in turn. One id: its error is the command's. Several:
/// every id is tried, each failure reported on stderr, and the exit code is that of the first
/// failure.
async fn each_id<F, Fut>(
    printer: &Printer,
    done: Done,
    nouns: &Nouns,
    ids: &[TokenId],
    delete: F,
) -> Result<(), Failure>
where
    F: Fn(TokenId) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let several = ids.len() > 1;
    let mut deleted = Vec::new();
    let mut first_failure = None;
    for id in ids {
        match delete(id.clone()).await {
            Ok(()) => {
                deleted.push(id.clone());
                if !printer.is_json() {
                    printer.done_line(done, nouns, id)?;
                }
            }
            Err(e) => {
                let e = e.reworded(format!("cannot {} {}: {}", done.verb(), id.text, e.message));
                if !several {
                    return Err(e.into());
                }
                printer.error(&e);
                first_failure.get_or_insert(e.exit_code());
            }
        }
    }
    if printer.is_json() {
        printer.done_json(done, nouns, &deleted, several)?;
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

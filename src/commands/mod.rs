//! What each command means: check its input, resolve its settings once, call the platform, hand
//! the result to the printer. One module per area; [`run`] is the one dispatch.

pub mod all_contexts;
pub mod api;
pub mod auth;
pub mod context;
pub mod context_import;
pub mod deliver;
pub mod expiry_filter;
pub mod exporter;
pub mod go_cli;
pub mod journaled;
pub mod list_filter;
pub mod metrics;
pub mod renew;
pub mod rotate;
pub mod service_users;
pub mod tokens;

use std::io;
use std::path::Path;

use crate::cli::{
    Cli, Command, ContextArgs, ContextCommand, IngestionApiKeyCommand, ServiceTokenCommand,
    ServiceUserCommand,
};
use crate::completion;
use crate::config;
use crate::env_vars;
use crate::error::Error;
use crate::output::{self, Printer};
use crate::platform::Platform;
use crate::settings::{self, OutputSettings, Sources};
use crate::{with_platform, with_service_tokens};

/// Why a command did not succeed.
pub enum Failure {
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

/// Runs the command `cli` names, with its output settings, reporting through `printer`.
pub fn run(cli: &Cli, out: OutputSettings, printer: &Printer) -> Result<(), Failure> {
    // One line of at most 64 KiB (CONTRACT §5), so `/dev/zero` on stdin is an error.
    let mut read_line = crate::fsutil::read_stdin_line;
    let default_config = config::resolve_path(None, None).ok();
    let mut src = Sources {
        env: &env_vars::get,
        read_stdin_line: &mut read_line,
        default_k8s_token_path: Path::new(settings::DEFAULT_K8S_SA_TOKEN_PATH),
        default_config_path: default_config.as_deref(),
        config_cache: Default::default(),
    };
    metrics::check_command(cli, out)?;
    match &cli.command {
        Command::Exporter(a) => metrics::run_exporter(cli, a, out, printer, &src),
        Command::Context(args) => context::run(cli, args, out, printer, &mut src),
        Command::Completion(a) => Ok(output::write_stdout(&completion::script(a.shell))?),
        Command::Auth(cmd) => auth::run(cli, cmd, out, printer, &mut src),
        Command::Api(a) => api::run(cli, a, out, printer, &mut src),
        Command::Renew(a) => renew::run(cli, a, out, printer, &src),
        Command::ServiceToken(ServiceTokenCommand::List(a)) if a.all_contexts => {
            all_contexts::list_all(cli, false, &tokens::list_filter(a)?, out, printer, &src)
        }
        Command::IngestionApiKey(IngestionApiKeyCommand::List(a)) if a.all_contexts => {
            all_contexts::list_all(cli, true, &tokens::list_filter(a)?, out, printer, &src)
        }
        Command::ServiceToken(cmd) => {
            let platform = settings::platform_hint(&cli.global, &src);
            with_service_tokens!(platform, K => {
                let job = tokens::service_token_job::<K>(cli, cmd, out, &src)?;
                tokens::run::<K>(cli, job, out, printer, &mut src)
            })
        }
        Command::ServiceUser(cmd) => service_users::run(cli, cmd, out, printer, &mut src),
        Command::IngestionApiKey(cmd) => {
            let platform = settings::platform_hint(&cli.global, &src);
            if !platform.profile().ingestion_keys {
                let saved = settings::saved_context(&cli.global, &src).ok().flatten();
                return Err(tokens::no_ingestion_keys(platform, saved).into());
            }
            with_platform!(platform, P => {
                type K = <P as Platform>::IngestionKeys;
                let job = tokens::ingestion_api_key_job::<K>(cli, cmd, out, &mut src)?;
                tokens::run::<K>(cli, job, out, printer, &mut src)
            })
        }
    }
}

/// `--no-headers` of the list commands.
pub fn no_headers(command: &Command) -> bool {
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

/// Runs a future on a current-thread runtime.
pub(crate) fn block_on<T>(
    fut: impl std::future::Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::config(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(fut)
}

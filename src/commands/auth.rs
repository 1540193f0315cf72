//! `sts auth` (CONTRACT §11): which credential an API command would use right now, where each
//! part of it came from, and (`auth token`) the secret itself for another tool.

use super::all_contexts::{prepare, validate_each};
use super::{Failure, block_on};
use crate::cli::{AuthCommand, Cli};
use crate::error::{Error, Result};
use crate::outcome::{AuthStatus, ContextResult, kind_name};
use crate::output::Printer;
use crate::platform;
use crate::settings::{self, OutputSettings, Sources};

/// `sts auth status [-A]`, `sts auth token`.
pub fn run(
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
                Ok(match settings.client(printer) {
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
            let kind = kind_name(settings.credential.kind());
            Ok(printer.auth_token(settings.credential.secret().expose(), kind)?)
        }
    }
}

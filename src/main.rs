//! `sts`: argv → cli → settings → platform / http → commands → output. This is the one place that
//! turns an error into an exit code (CONTRACT §6).

use std::ffi::OsString;
use std::io;

use clap::{CommandFactory, FromArgMatches};
use sts_cli::cli::Cli;
use sts_cli::commands::{self, Failure};
use sts_cli::env_vars;
use sts_cli::error::{Error, Kind};
use sts_cli::output::{self, Printer};
use sts_cli::settings::OutputSettings;

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
        // A command of the Go CLI's (CONTRACT §14), else the usage error.
        Err(e) => {
            return commands::go_cli::hand_off(e, &argv)
                .unwrap_or_else(|e| output::clap_error(e, &argv));
        }
    };
    let out = OutputSettings::resolve(&cli.global, &env_vars::get);
    let printer = Printer::new(&out).without_headers(commands::no_headers(&cli.command));
    match commands::run(&cli, out, &printer) {
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

/// Parses `argv`. The trimmed help of [`sts_cli::cli::finish`] changes only what help and usage
/// errors show, and it builds the whole command tree, so a command line that parses does without
/// it; help and errors are made again from the finished command.
fn parse(argv: &[OsString]) -> Result<Cli, clap::Error> {
    let mut matches = match Cli::command().version(VERSION).try_get_matches_from(argv) {
        Ok(matches) => matches,
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayVersion => return Err(e),
        Err(_) => {
            sts_cli::cli::finish(Cli::command().version(VERSION)).try_get_matches_from(argv)?
        }
    };
    // `-c` may repeat (`sts exporter`); the derive keeps the last, so all are read here.
    let contexts: Vec<String> = matches
        .get_many::<String>("context")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    let mut cli = Cli::from_arg_matches_mut(&mut matches)?;
    cli.global.contexts = contexts;
    Ok(cli)
}

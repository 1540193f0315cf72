//! How clap's own errors are shown (before a command runs): help and version on stdout, a usage
//! error as one `❌` line (or the JSON error), with exit 3 instead of clap's 2.

use std::ffi::OsString;
use std::io;

use clap::error::ErrorKind;

use super::{Printer, write_stderr, write_stdout};
use crate::cli::OutputFormat;
use crate::error::Error;

/// clap's own errors: help and version exit 0; a usage error exits 3 (clap says 2), printed as
/// `❌ …`, or as the JSON error when `-o json` was asked for.
pub fn clap_error(e: clap::Error, argv: &[OsString]) -> i32 {
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let text = e.render().to_string();
            return match write_stdout(&text) {
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
        || crate::env_vars::get(crate::env_vars::NO_COLOR).is_some()
        || crate::env_vars::get(crate::env_vars::TERM)
            .is_some_and(|t| t.eq_ignore_ascii_case("dumb"));
    let printer = Printer::plain(
        if json {
            OutputFormat::Json
        } else {
            OutputFormat::Text
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
        if asks_a_version(&e) {
            write_stderr("  tip: `sts --version` prints the version (sub-commands have none)\n");
        }
        if let Some(rest) = lines.next() {
            write_stderr(&format!("{rest}\n"));
        }
    }
    crate::error::Kind::Usage.exit_code()
}

/// `-V` or `--version` after a sub-command (CONTRACT §14: no `-V` below the top).
fn asks_a_version(e: &clap::Error) -> bool {
    use clap::error::{ContextKind, ContextValue};
    e.kind() == ErrorKind::UnknownArgument
        && matches!(
            e.get(ContextKind::InvalidArg),
            Some(ContextValue::String(a)) if a == "-V" || a == "--version"
        )
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

//! Shell completion (`sts completion <shell>`): the scripts are clap_complete's dynamic
//! registrations, which call `COMPLETE=<shell> sts -- <words>` at each Tab, so saved context names
//! can be offered after `--context`/`-c` and the `--name` of `context set/delete/validate`.

use std::ffi::OsStr;
use std::path::PathBuf;

use clap::CommandFactory;
use clap_complete::engine::{ArgValueCompleter, CompletionCandidate};
use clap_complete::env::{CompleteEnv, Shells};

use crate::cli::{Cli, CompletionShell};
use crate::config;
use crate::env_vars;

/// The environment variable that turns a run of `sts` into a completion request.
pub const COMPLETE_VAR: &str = "COMPLETE";

/// Answers a completion request and exits when `COMPLETE` is set; returns otherwise. Must run
/// before anything is printed.
pub fn complete_if_asked() {
    CompleteEnv::with_factory(command)
        .var(COMPLETE_VAR)
        .bin("sts")
        .completer("sts")
        .complete();
}

/// The command line's model with the completers of context names attached: `--context`, and the
/// names that `context set`, `delete`, `rename` and `validate` take. The clap definitions do not
/// know this module; it adds to them.
pub fn command() -> clap::Command {
    let names = || ArgValueCompleter::new(context_names);
    crate::cli::hide_unused(Cli::command())
        .mut_arg("context", |a| a.add(names()))
        .mut_subcommand("context", |c| {
            ["set", "delete", "rename", "validate"]
                .into_iter()
                .fold(c, |c, sub| {
                    c.mut_subcommand(sub, |s| {
                        let ids: Vec<String> = s
                            .get_arguments()
                            .map(|a| a.get_id().to_string())
                            .filter(|id| ["name", "name_flag", "old"].contains(&id.as_str()))
                            .collect();
                        ids.into_iter()
                            .fold(s, |s, id| s.mut_arg(id, |a| a.add(names())))
                    })
                })
        })
}

impl CompletionShell {
    /// The name clap_complete knows the shell by.
    pub fn name(self) -> &'static str {
        match self {
            CompletionShell::Bash => "bash",
            CompletionShell::Zsh => "zsh",
            CompletionShell::Fish => "fish",
            CompletionShell::Powershell => "powershell",
            CompletionShell::Elvish => "elvish",
        }
    }

    /// The checked-in file of the script, under `completions/`.
    pub fn file_name(self) -> &'static str {
        match self {
            CompletionShell::Bash => "sts.bash",
            CompletionShell::Zsh => "_sts",
            CompletionShell::Fish => "sts.fish",
            CompletionShell::Powershell => "_sts.ps1",
            CompletionShell::Elvish => "sts.elv",
        }
    }

    pub const ALL: [CompletionShell; 5] = [
        CompletionShell::Bash,
        CompletionShell::Zsh,
        CompletionShell::Fish,
        CompletionShell::Powershell,
        CompletionShell::Elvish,
    ];
}

/// The completion script of a shell. It names `sts` (found on `PATH`), never the path of the
/// binary that wrote it.
pub fn script(shell: CompletionShell) -> String {
    let mut buf = Vec::new();
    let shells = Shells::builtins();
    let completer = shells
        .completer(shell.name())
        .expect("clap_complete knows every shell of CompletionShell");
    completer
        .write_registration(COMPLETE_VAR, "sts", "sts", "sts", &mut buf)
        .expect("writing to a Vec cannot fail");
    let text = String::from_utf8_lossy(&buf);
    // One leading blank line and trailing spaces in the templates make noisy diffs.
    let mut out: String = text
        .trim_matches('\n')
        .lines()
        .map(|l| format!("{}\n", l.trim_end()))
        .collect();
    if shell == CompletionShell::Zsh && !out.starts_with("#compdef") {
        out.insert_str(0, "#compdef sts\n");
    }
    out
}

/// The saved context names that start with what was typed, from the config file named by
/// `STS_CLI_CONFIG` or the default one. A missing or broken file offers nothing.
pub fn context_names(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(current) = current.to_str() else {
        return Vec::new();
    };
    let env_path = env_vars::get(env_vars::STS_CLI_CONFIG).map(PathBuf::from);
    let Ok(path) = config::resolve_path(None, env_path.as_deref()) else {
        return Vec::new();
    };
    let Ok(Some(config)) = config::load(&path) else {
        return Vec::new();
    };
    config
        .contexts
        .iter()
        .filter(|(name, _)| name.starts_with(current))
        // Escaped, so no control byte from a hand-edited config reaches the shell, and a newline
        // never splits a candidate.
        .map(|(name, ctx)| {
            CompletionCandidate::new(crate::redact::content(name))
                .help(Some(crate::redact::content(&ctx.url).into()))
        })
        .collect()
}

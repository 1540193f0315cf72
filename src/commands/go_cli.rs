//! Living beside the Go CLI (CONTRACT §14). The Go `sts` has commands beyond ours (topology,
//! monitors, stackpacks, settings): a first argument that is not a command of ours runs it, found
//! as `STS_CLI_GO_BINARY` or `sts-go` on `PATH`, with the same arguments, standard streams and exit
//! code. The server and credential of the context in effect go with it as the Go CLI's own
//! variables (`STS_CLI_URL` and the token variable of the credential's kind), unless the user
//! already steers it by environment or flags; it never sees our config or keyring.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, FromArgMatches};

use crate::cli::{Cli, GlobalArgs};
use crate::env_vars as ev;
use crate::error::Error;
use crate::output::{self, Printer};
use crate::platform::{AuthScheme, CredentialKind};
use crate::settings::{self, Credential, OutputSettings, Sources};

/// The name the Go CLI is looked for on `PATH` (its own name, `sts`, is ours).
pub const GO_BINARY_NAME: &str = ev::GO_BINARY_ON_PATH;

/// Set in the Go CLI's environment: a hand-off from within a hand-off is refused.
const HANDED_OFF: &str = ev::STS_CLI_HANDED_OFF;

/// The headers the Go CLI sends its token variables in: a credential is handed over only when the
/// platform of the context sends it the same way, so the Go CLI presents it as `sts` would.
const GO_TOKENS: [(CredentialKind, &str, &str); 2] = [
    (
        CredentialKind::ApiToken,
        ev::STS_CLI_API_TOKEN,
        "X-API-Token",
    ),
    (
        CredentialKind::ServiceToken,
        ev::STS_CLI_SERVICE_TOKEN,
        "X-API-Key",
    ),
];

/// Flags and variables that steer the Go CLI to a server or give it a credential: with any of
/// them, nothing of a context is handed over (a context's credential goes to its own server only).
const STEERING_FLAGS: [&str; 4] = ["--url", "--api-token", "--service-token", "--k8s-sa-token"];
const STEERING_VARS: [&str; 4] = [
    ev::STS_CLI_URL,
    ev::STS_CLI_API_TOKEN,
    ev::STS_CLI_SERVICE_TOKEN,
    ev::STS_CLI_K8S_SA_TOKEN,
];

/// When `err` is clap's "unrecognized subcommand" for the first command of `argv`: runs the Go CLI
/// and returns its exit code, or reports why it cannot run (exit 3). Any other error comes back.
pub fn hand_off(err: clap::Error, argv: &[OsString]) -> Result<i32, clap::Error> {
    let unknown = match err.get(ContextKind::InvalidSubcommand) {
        Some(ContextValue::String(unknown)) if err.kind() == ErrorKind::InvalidSubcommand => {
            unknown.clone()
        }
        _ => return Err(err),
    };
    let Some(position) = first_command(argv).filter(|&i| argv[i] == OsStr::new(&unknown)) else {
        return Err(err);
    };
    let unknown = unknown.as_str();
    let global = globals_before(&argv[..position]);
    let out = OutputSettings::resolve(&global, &ev::get);
    let printer = Printer::new(&out);
    let binary = match find_binary(unknown) {
        Ok(Some(binary)) => binary,
        Ok(None) => return Ok(output::clap_error(with_hint(err), argv)),
        Err(e) => {
            printer.error(&e);
            return Ok(e.exit_code());
        }
    };
    let env = match handed_over(&global, argv, &printer) {
        Ok(env) => env,
        Err(e) => {
            printer.error(&e);
            return Ok(e.exit_code());
        }
    };
    Ok(run(&binary, &argv[1..], &env, &printer))
}

/// The usual usage error, with a tip that names the variable.
fn with_hint(mut err: clap::Error) -> clap::Error {
    let mut tips = match err.get(ContextKind::Suggested) {
        Some(ContextValue::StyledStrs(tips)) => tips.clone(),
        _ => Vec::new(),
    };
    tips.push(
        format!(
            "a command that sts does not have runs the Go CLI: set {} to its path, or put it \
             on PATH as {GO_BINARY_NAME}",
            ev::STS_CLI_GO_BINARY
        )
        .into(),
    );
    err.insert(ContextKind::Suggested, ContextValue::StyledStrs(tips));
    err
}

/// The index in `argv` of the first argument that is neither an option nor an option's value.
fn first_command(argv: &[OsString]) -> Option<usize> {
    let model = Cli::command();
    let takes_value = |a: &clap::Arg| a.get_action().takes_values();
    let longs: Vec<String> = model
        .get_arguments()
        .filter(|a| takes_value(a))
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect();
    let shorts: Vec<String> = model
        .get_arguments()
        .filter(|a| takes_value(a))
        .filter_map(|a| a.get_short().map(|s| format!("-{s}")))
        .collect();
    let mut i = 1;
    while i < argv.len() {
        let arg = argv[i].to_string_lossy();
        if arg == "--" {
            return (i + 1 < argv.len()).then_some(i + 1);
        }
        if !arg.starts_with('-') || arg == "-" {
            return Some(i);
        }
        if longs.iter().any(|l| *l == arg) || shorts.iter().any(|s| *s == arg) {
            i += 1;
        }
        i += 1;
    }
    None
}

/// Our global options given before the command (the ones after it are the Go CLI's).
fn globals_before(prefix: &[OsString]) -> GlobalArgs {
    Cli::command()
        .subcommand_required(false)
        .arg_required_else_help(false)
        .try_get_matches_from(prefix)
        .ok()
        .and_then(|m| GlobalArgs::from_arg_matches(&m).ok())
        .unwrap_or_default()
}

/// `STS_CLI_GO_BINARY` (a path, or a name on `PATH`), else `sts-go` on `PATH`; never `sts` itself.
fn find_binary(command: &str) -> Result<Option<PathBuf>, Error> {
    if ev::get(HANDED_OFF).is_some() {
        return Err(Error::usage(format!(
            "`{command}` is not a command of sts, and this sts was run by the Go CLI it handed \
             `{command}` to: {} must name the Go CLI, not sts",
            ev::STS_CLI_GO_BINARY
        )));
    }
    let binary = match ev::get(ev::STS_CLI_GO_BINARY) {
        Some(named) => Some(executable(&named).ok_or_else(|| {
            Error::usage(format!(
                "{}={named} is not an executable file: point it at the Go CLI",
                ev::STS_CLI_GO_BINARY
            ))
        })?),
        None => executable(GO_BINARY_NAME),
    };
    let Some(binary) = binary else {
        return Ok(None);
    };
    if is_this_program(&binary) {
        return Err(Error::usage(format!(
            "{} is sts itself, which has no `{command}` command: point {} at the Go CLI",
            binary.display(),
            ev::STS_CLI_GO_BINARY
        )));
    }
    Ok(Some(binary))
}

/// A path (with a folder in it) that is an executable file, or a name found on `PATH`.
fn executable(name: &str) -> Option<PathBuf> {
    let path = Path::new(name);
    if path.components().count() > 1 || path.is_absolute() {
        return is_executable(path).then(|| path.to_path_buf());
    }
    let dirs = std::env::var_os("PATH")?;
    std::env::split_paths(&dirs)
        .filter(|d| !d.as_os_str().is_empty())
        .flat_map(|d| {
            let plain = d.join(name);
            let exe = d.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
            [plain, exe]
        })
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// Whether `path` is the running `sts`: the same canonical path, or the same file (a hard link).
fn is_this_program(path: &Path) -> bool {
    let Ok(me) = std::env::current_exe() else {
        return false;
    };
    let canonical = |p: &Path| std::fs::canonicalize(p).ok();
    if canonical(path).is_some_and(|p| Some(p) == canonical(&me)) {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(a), Ok(b)) = (std::fs::metadata(path), std::fs::metadata(&me)) {
            return a.dev() == b.dev() && a.ino() == b.ino();
        }
    }
    false
}

/// The Go CLI's variables for the context in effect: its URL and its credential in the token
/// variable of its kind (and its API path and TLS settings), when the user steers the Go CLI
/// neither by those variables nor by flags and the platform sends the credential as the Go CLI
/// does. A context asked for by name must be readable; the current one, when it is not, is
/// skipped with a warning.
fn handed_over(
    global: &GlobalArgs,
    argv: &[OsString],
    printer: &Printer,
) -> Result<Vec<(&'static str, String)>, Error> {
    let steered = STEERING_VARS.iter().any(|v| ev::get(v).is_some())
        || argv.iter().skip(1).any(|a| {
            let a = a.to_string_lossy();
            STEERING_FLAGS
                .iter()
                .any(|f| a == *f || a.starts_with(&format!("{f}=")))
        });
    if steered {
        return Ok(Vec::new());
    }
    let mut read_line = || Ok(String::new());
    let default_config = crate::config::resolve_path(None, None).ok();
    let src = Sources {
        env: &ev::get,
        read_stdin_line: &mut read_line,
        default_k8s_token_path: Path::new(settings::DEFAULT_K8S_SA_TOKEN_PATH),
        default_config_path: default_config.as_deref(),
        config_cache: Default::default(),
    };
    let named = global.context.is_some() || ev::get(ev::STS_CLI_CONTEXT).is_some();
    let context = |src: &Sources| -> Result<Vec<(&'static str, String)>, Error> {
        let Some(saved) = settings::saved_context(global, src)? else {
            return Ok(Vec::new());
        };
        let mut warnings = Vec::new();
        let credential = saved.credential(&mut warnings)?;
        for w in &warnings {
            printer.warn(w);
        }
        let ctx = &saved.context;
        let Some((_, var, _)) = GO_TOKENS.iter().find(|(kind, _, header)| {
            *kind == credential.kind()
                && ctx.platform.auth(*kind).ok() == Some(AuthScheme { header, prefix: "" })
        }) else {
            return Ok(Vec::new());
        };
        let secret = match &credential {
            Credential::ApiToken(s) | Credential::ServiceToken(s) | Credential::K8sSaToken(s) => {
                s.expose().to_string()
            }
        };
        let mut env = vec![(ev::STS_CLI_URL, ctx.url.clone()), (*var, secret)];
        env.push((ev::STS_CLI_API_PATH, ctx.api_path.clone()));
        if ctx.skip_ssl {
            env.push((ev::STS_SKIP_SSL, "true".into()));
        }
        if let Some(ca) = &ctx.ca_cert_base64_data {
            env.push((ev::STS_CA_CERT_BASE64_DATA, ca.clone()));
        }
        Ok(env)
    };
    match context(&src) {
        Ok(env) => Ok(env),
        Err(e) if named => Err(e),
        Err(e) => {
            printer.warn(&format!(
                "the current context is not handed to the Go CLI: {}",
                e.message
            ));
            Ok(Vec::new())
        }
    }
}

/// Runs the Go CLI with `args` and `env` (plus the hand-off mark), its streams ours; its exit
/// code, or 128 + the signal that ended it. `sts` waits through a Ctrl-C, which the Go CLI gets
/// too, so that its own exit code is the one passed on.
fn run(binary: &Path, args: &[OsString], env: &[(&'static str, String)], printer: &Printer) -> i32 {
    let mut command = Command::new(binary);
    command.args(args).env(HANDED_OFF, "1");
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            let e = Error::usage(format!("cannot run the Go CLI {}: {e}", binary.display()));
            printer.error(&e);
            return e.exit_code();
        }
    };
    #[cfg(unix)]
    // SAFETY: the child has exec'd already (spawn returns after exec), so only this process
    // ignores SIGINT from now on, while it waits.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
    match child.wait() {
        Ok(status) => status.code().unwrap_or_else(|| {
            #[cfg(unix)]
            {
                use std::os::unix::process::ExitStatusExt;
                status.signal().map_or(1, |s| 128 + s)
            }
            #[cfg(not(unix))]
            {
                1
            }
        }),
        Err(e) => {
            let e = Error::usage(format!("waiting for the Go CLI failed: {e}"));
            printer.error(&e);
            e.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_command_is_the_first_argument_that_is_no_option_or_value() {
        assert_eq!(first_command(&argv(&["sts", "topology", "list"])), Some(1));
        assert_eq!(
            first_command(&argv(&["sts", "-c", "prod", "-v", "topology"])),
            Some(4)
        );
        assert_eq!(
            first_command(&argv(&["sts", "--context=prod", "--no-color", "monitor"])),
            Some(3)
        );
        assert_eq!(first_command(&argv(&["sts", "-o", "json"])), None);
        assert_eq!(first_command(&argv(&["sts", "--", "x"])), Some(2));
    }

    #[test]
    fn globals_before_the_command_are_ours() {
        let g = globals_before(&argv(&["sts", "-c", "prod", "--config", "/x"]));
        assert_eq!(g.context.as_deref(), Some("prod"));
        assert_eq!(g.config.as_deref(), Some("/x"));
    }
}

//! The files generated from the clap model and checked in: the completion scripts in
//! `completions/`, the man pages in `docs/man/` and the command reference `docs/reference.md`.
//! Nothing in them depends on the commit or the machine. `tests/it/generated_docs.rs` fails when one
//! is stale; [`REGENERATE`] rewrites them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::cli::CompletionShell;
use crate::completion;

/// The command that rewrites every generated file.
pub const REGENERATE: &str =
    "UPDATE_GENERATED=1 cargo test --all-features --test it generated_docs";

/// The folders whose every file is generated (a file no longer generated there is stale too).
pub const GENERATED_DIRS: [&str; 2] = ["completions", "docs/man"];

/// The command reference, relative to the repository.
pub const REFERENCE: &str = "docs/reference.md";

/// One generated file: its path relative to the repository root, and its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    pub path: PathBuf,
    pub contents: Vec<u8>,
}

/// Every generated file of this command model (`sts_cli::cli::Cli::command()`, whose version has
/// no commit in it).
pub fn files(cmd: clap::Command) -> Vec<GeneratedFile> {
    // No wrapping to the width of whatever terminal runs the generator.
    let cmd = crate::cli::finish(cmd.disable_help_subcommand(true).term_width(0));
    let mut out: Vec<GeneratedFile> = CompletionShell::ALL
        .iter()
        .map(|&shell| GeneratedFile {
            path: Path::new("completions").join(shell.file_name()),
            contents: completion::script(shell).into_bytes(),
        })
        .collect();
    for (_, c) in commands(&cmd, "") {
        let man = clap_mangen::Man::new(c.clone());
        let mut page = Vec::new();
        man.render(&mut page)
            .expect("rendering to a Vec cannot fail");
        out.push(GeneratedFile {
            path: Path::new("docs/man").join(man.get_filename()),
            contents: page,
        });
    }
    out.push(GeneratedFile {
        path: PathBuf::from(REFERENCE),
        contents: reference(&cmd).into_bytes(),
    });
    out
}

/// What is stale under `root`: a generated file missing or different on disk, or a file in a
/// generated folder that is no longer generated. Empty when everything is up to date.
pub fn stale(root: &Path, files: &[GeneratedFile]) -> Vec<String> {
    let mut problems = Vec::new();
    for f in files {
        match std::fs::read(root.join(&f.path)) {
            Ok(on_disk) if on_disk == f.contents => {}
            Ok(_) => problems.push(format!("{} differs", f.path.display())),
            Err(_) => problems.push(format!("{} is missing", f.path.display())),
        }
    }
    for dir in GENERATED_DIRS {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = Path::new(dir).join(entry.file_name());
            if !files.iter().any(|f| f.path == path) {
                problems.push(format!("{} is no longer generated", path.display()));
            }
        }
    }
    problems.sort();
    problems
}

/// `Ok` when nothing is stale under `root`; else the message that lists what is stale and says
/// how to regenerate it.
pub fn check(root: &Path, files: &[GeneratedFile]) -> Result<(), String> {
    let stale = stale(root, files);
    if stale.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the generated completions, man pages or command reference are stale:\n  {}\n\
         regenerate them with:\n  {REGENERATE}",
        stale.join("\n  ")
    ))
}

/// Writes every generated file under `root` and removes the files of the generated folders that
/// are no longer generated.
pub fn write(root: &Path, files: &[GeneratedFile]) -> std::io::Result<()> {
    for dir in GENERATED_DIRS {
        if let Ok(entries) = std::fs::read_dir(root.join(dir)) {
            for entry in entries.flatten() {
                let path = Path::new(dir).join(entry.file_name());
                if !files.iter().any(|f| f.path == path) {
                    std::fs::remove_file(root.join(&path))?;
                }
            }
        }
    }
    for f in files {
        let path = root.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if std::fs::read(&path).ok().as_deref() != Some(&f.contents[..]) {
            std::fs::write(&path, &f.contents)?;
        }
    }
    Ok(())
}

/// The command and its visible sub-commands with their full names (`sts service-token create`),
/// depth first, parents before children.
fn commands(cmd: &clap::Command, prefix: &str) -> Vec<(String, clap::Command)> {
    let name = format!("{prefix}{}", cmd.get_name());
    let mut out = vec![(name.clone(), cmd.clone())];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        out.extend(commands(sub, &format!("{name} ")));
    }
    out
}

/// The Markdown command reference.
fn reference(root: &clap::Command) -> String {
    let all = commands(root, "");
    let mut md = String::new();
    md.push_str("# sts command reference\n\n");
    let _ = writeln!(
        md,
        "Generated from the command model by `{REGENERATE}`: do not edit by hand. Every command \
         also takes `-h`/`--help`, and the global options of [`sts`](#sts).\n"
    );
    for (name, _) in &all {
        let depth = name.split(' ').count() - 1;
        let _ = writeln!(md, "{}- [`{name}`](#{})", "  ".repeat(depth), anchor(name));
    }
    for (i, (name, c)) in all.iter().enumerate() {
        md.push('\n');
        command_section(&mut md, name, c, i == 0);
    }
    md
}

/// GitHub's anchor of a heading made of a command name.
fn anchor(name: &str) -> String {
    name.replace(' ', "-")
}

fn command_section(md: &mut String, name: &str, cmd: &clap::Command, is_root: bool) {
    let _ = writeln!(md, "## {name}\n");
    let about = cmd
        .get_long_about()
        .or(cmd.get_about())
        .map(|s| s.to_string())
        .unwrap_or_default();
    if !about.is_empty() {
        let _ = writeln!(md, "{}\n", about.trim());
    }
    let usage = cmd.clone().render_usage().to_string();
    let usage = usage.strip_prefix("Usage: ").unwrap_or(&usage);
    let _ = writeln!(md, "```text\n{}\n```\n", usage.trim());

    let subs: Vec<&clap::Command> = cmd.get_subcommands().filter(|s| !s.is_hide_set()).collect();
    if !subs.is_empty() {
        md.push_str("| Command | Description |\n|---|---|\n");
        for s in subs {
            let sub_name = format!("{name} {}", s.get_name());
            let _ = writeln!(
                md,
                "| [`{sub_name}`](#{}) | {} |",
                anchor(&sub_name),
                cell(&s.get_about().map(|a| a.to_string()).unwrap_or_default())
            );
        }
        md.push('\n');
    }

    let args: Vec<&clap::Arg> = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
        .filter(|a| is_root || !a.is_global_set())
        .collect();
    if !args.is_empty() {
        md.push_str(if is_root {
            "| Option (global) | Env var | Description |\n|---|---|---|\n"
        } else {
            "| Option | Env var | Description |\n|---|---|---|\n"
        });
        for a in args {
            let (help, env) = split_env(&a.get_help().map(|h| h.to_string()).unwrap_or_default());
            let mut help = help;
            let values: Vec<String> = a
                .get_possible_values()
                .iter()
                .filter(|v| !v.is_hide_set())
                .map(|v| format!("`{}`", v.get_name()))
                .collect();
            if !values.is_empty() {
                let _ = write!(help, " (one of {})", values.join(", "));
            }
            let defaults: Vec<String> = a
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            if !defaults.is_empty() && a.get_action().takes_values() {
                let _ = write!(help, " [default: {}]", defaults.join(","));
            }
            if a.is_required_set() {
                help.push_str(" (required)");
            }
            let env = env.map(|e| format!("`{e}`")).unwrap_or_default();
            let _ = writeln!(md, "| `{}` | {env} | {} |", flag(a), cell(help.trim()));
        }
        md.push('\n');
    }

    let (text, examples) = split_examples(
        &cmd.get_after_help()
            .map(|h| h.to_string())
            .unwrap_or_default(),
    );
    if !text.is_empty() {
        let _ = writeln!(md, "{text}\n");
    }
    let examples = if examples.is_empty() {
        fallback_examples(cmd, name)
    } else {
        examples
    };
    md.push_str("Examples:\n\n```sh\n");
    for e in examples {
        let _ = writeln!(md, "{e}");
    }
    md.push_str("```\n");
}

/// `-n, --name <NAME>`, `--skip-ssl`, `[ID]...`.
fn flag(a: &clap::Arg) -> String {
    let value_names: Vec<String> = a
        .get_value_names()
        .map(|v| v.iter().map(|n| n.to_string()).collect())
        .unwrap_or_else(|| vec![a.get_id().as_str().to_uppercase()]);
    let value = value_names
        .iter()
        .map(|n| format!("<{n}>"))
        .collect::<Vec<_>>()
        .join(" ");
    if a.is_positional() {
        let multiple = a.get_num_args().is_some_and(|n| n.max_values() > 1);
        return if multiple {
            format!("{value}...")
        } else {
            value
        };
    }
    let mut names = Vec::new();
    if let Some(s) = a.get_short() {
        names.push(format!("-{s}"));
    }
    if let Some(l) = a.get_long() {
        names.push(format!("--{l}"));
    }
    let mut text = names.join(", ");
    if a.get_action().takes_values() {
        text.push(' ');
        text.push_str(&value);
    }
    text
}

/// Splits `… [env: NAME]` into the help without it and `NAME`.
fn split_env(help: &str) -> (String, Option<String>) {
    let Some(start) = help.find("[env: ") else {
        return (help.split_whitespace().collect::<Vec<_>>().join(" "), None);
    };
    let rest = &help[start + 6..];
    let Some(end) = rest.find(']') else {
        return (help.to_string(), None);
    };
    let env = rest[..end].trim().to_string();
    let text = format!("{}{}", &help[..start], &rest[end + 1..]);
    (
        text.split_whitespace().collect::<Vec<_>>().join(" "),
        Some(env),
    )
}

/// Splits an after-help into its prose and the lines of its `Examples:` block.
fn split_examples(after: &str) -> (String, Vec<String>) {
    let Some(at) = after.find("Examples:") else {
        return (after.trim().to_string(), Vec::new());
    };
    let examples = after[at + "Examples:".len()..]
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    (after[..at].trim().to_string(), examples)
}

/// Examples of the commands whose help has none: a few written here, else the usage with the
/// required arguments filled in by their value names.
fn fallback_examples(cmd: &clap::Command, name: &str) -> Vec<String> {
    let written: &[&str] = match name {
        "sts" => &[
            "export STS_CLI_URL=https://observability.example.com",
            "export STS_CLI_SERVICE_TOKEN=\"$TOKEN\"",
            "sts service-token list",
        ],
        "sts service-token" => &["sts service-token list", "sts service-token --help"],
        "sts service-token list" => &[
            "sts service-token list",
            "sts service-token list -o json",
            "sts service-token list --no-headers | cut -d'|' -f1",
        ],
        "sts ingestion-api-key" => &["sts ingestion-api-key list"],
        "sts ingestion-api-key list" => &[
            "sts ingestion-api-key list",
            "sts ingestion-api-key list --no-headers | awk -F' [|] ' '{print $2}'",
        ],
        "sts context show" => &[
            "sts context show",
            "sts --context prod context show -o json",
        ],
        "sts context set" => &["sts context set --name prod"],
        "sts context delete" => &["sts context delete --name staging"],
        "sts context validate" => &["sts context validate", "sts context validate --name prod"],
        _ => &[],
    };
    if !written.is_empty() {
        return written.iter().map(|s| s.to_string()).collect();
    }
    let mut line = name.to_string();
    for a in cmd
        .get_arguments()
        .filter(|a| a.is_required_set() && !a.is_global_set())
    {
        line.push(' ');
        line.push_str(&flag(a).replace(", ", " ").replace("-n --", "--"));
    }
    vec![line]
}

/// Text made safe for one Markdown table cell.
fn cell(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_is_split_from_the_help() {
        assert_eq!(
            split_env("Server URL, http:// or https:// [env: STS_CLI_URL]"),
            (
                "Server URL, http:// or https://".to_string(),
                Some("STS_CLI_URL".to_string())
            )
        );
        assert_eq!(split_env("No  env"), ("No env".to_string(), None));
    }

    #[test]
    fn examples_are_split_from_the_after_help() {
        let (text, ex) = split_examples("Some prose.\n\nExamples:\n  sts a\n  sts b");
        assert_eq!(text, "Some prose.");
        assert_eq!(ex, ["sts a", "sts b"]);
    }
}

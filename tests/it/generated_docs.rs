//! The completion scripts, man pages and command reference are generated from the clap model and
//! checked in. This test fails when one of them is stale; run it with `UPDATE_GENERATED=1` to
//! rewrite them: `UPDATE_GENERATED=1 cargo test --all-features --test it generated_docs`.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{Arg, ArgAction, CommandFactory};
use sts_cli::cli::Cli;
use sts_cli::docgen::{self, REGENERATE};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn updating() -> bool {
    std::env::var("UPDATE_GENERATED").is_ok_and(|v| !v.is_empty() && v != "0")
}

#[test]
fn checked_in_files_are_up_to_date() {
    let files = docgen::files(Cli::command());
    if updating() {
        docgen::write(&root(), &files).expect("write the generated files");
    }
    if let Err(message) = docgen::check(&root(), &files) {
        panic!("{message}");
    }
}

/// The same model with one more flag on `service-token create`, not regenerated.
#[test]
fn a_flag_added_without_regenerating_is_caught() {
    let cmd = Cli::command().mut_subcommand("service-token", |st| {
        st.mut_subcommand("create", |c| {
            c.arg(
                Arg::new("brand_new")
                    .long("brand-new")
                    .action(ArgAction::SetTrue)
                    .help("A flag added without regenerating"),
            )
        })
    });
    let files = docgen::files(cmd);
    let message = docgen::check(&root(), &files).expect_err("a new flag must make files stale");
    assert!(message.contains(REGENERATE), "{message}");
    for stale in [
        "docs/man/sts-service-token-create.1 differs",
        "docs/reference.md differs",
    ] {
        assert!(message.contains(stale), "{stale} not in:\n{message}");
    }
    // The dynamic completion scripts ask `sts` for the words, so they stay as they are.
    assert!(!message.contains("completions/"), "{message}");
}

#[test]
fn a_leftover_file_in_a_generated_folder_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    let files = docgen::files(Cli::command());
    docgen::write(dir.path(), &files).unwrap();
    assert_eq!(docgen::check(dir.path(), &files), Ok(()));
    std::fs::write(dir.path().join("docs/man/sts-old.1"), "x").unwrap();
    let message = docgen::check(dir.path(), &files).unwrap_err();
    assert!(
        message.contains("docs/man/sts-old.1 is no longer generated"),
        "{message}"
    );
    docgen::write(dir.path(), &files).unwrap();
    assert!(!dir.path().join("docs/man/sts-old.1").exists());
}

#[test]
fn nothing_generated_names_a_path_or_a_commit() {
    let version = Command::new(env!("CARGO_BIN_EXE_sts"))
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8(version.stdout).unwrap();
    let commit = version
        .split("(commit ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or_else(|| panic!("no commit in {version:?}"))
        .to_string();
    for f in docgen::files(Cli::command()) {
        let text = String::from_utf8(f.contents).unwrap();
        assert!(!text.contains("(commit "), "{}", f.path.display());
        assert!(
            commit == "unknown" || !text.contains(&commit),
            "{}",
            f.path.display()
        );
        assert!(!text.contains("target/"), "{}", f.path.display());
        assert!(
            !text.contains(env!("CARGO_MANIFEST_DIR")),
            "{}",
            f.path.display()
        );
    }
}

#[test]
fn the_reference_has_every_command_flag_env_var_and_an_example() {
    let reference = std::fs::read_to_string(root().join(docgen::REFERENCE)).unwrap();
    let cmd = sts_cli::cli::command();
    fn walk(cmd: &clap::Command, name: &str, reference: &str) {
        let section = reference
            .split(&format!("\n## {name}\n"))
            .nth(1)
            .unwrap_or_else(|| panic!("no section for {name}"));
        let section = section.split("\n## ").next().unwrap();
        let example = section
            .split("Examples:\n\n```sh\n")
            .nth(1)
            .unwrap_or_else(|| panic!("{name} has no example"));
        assert!(
            example.contains(name),
            "the example of {name} does not run it"
        );
        for a in cmd.get_arguments() {
            if a.is_global_set() && name != "sts" || a.is_hide_set() {
                continue;
            }
            if let Some(long) = a.get_long().filter(|l| *l != "help" && *l != "version") {
                assert!(section.contains(&format!("--{long}")), "{name}: --{long}");
            }
        }
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            walk(sub, &format!("{name} {}", sub.get_name()), reference);
        }
    }
    walk(&cmd, "sts", &reference);
    for env in [
        "STS_CLI_URL",
        "STS_CLI_SERVICE_TOKEN",
        "STS_CLI_CONTEXT",
        "NO_COLOR",
    ] {
        assert!(reference.contains(&format!("| `{env}` |")), "{env}");
    }
}

/// groff renders the page with every warning turned on and prints none.
#[test]
fn man_pages_render_without_warnings() {
    let man = root().join("docs/man");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&man)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pages.sort();
    assert!(pages.len() > 10, "{pages:?}");
    for page in &pages {
        let out = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .arg(page)
            .output()
            .expect("groff (apt package groff-base) runs");
        assert!(out.status.success(), "{}", page.display());
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "",
            "groff warns on {}",
            page.display()
        );
    }
    let out = man_l(&man.join("sts-service-token-create.1"));
    assert!(out.contains("sts-service-token-create"), "{out}");
    assert!(out.contains("--roles"), "{out}");
    assert!(out.contains("--expiration"), "{out}");
}

/// `man -l <page>`, rendered as plain text.
fn man_l(page: &Path) -> String {
    let out = Command::new("man")
        .arg("-l")
        .arg(page)
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "80")
        .env("MAN_KEEP_FORMATTING", "0")
        .env("LANG", "C.UTF-8")
        .output()
        .expect("man (apt package man-db) runs");
    assert!(
        out.status.success(),
        "man -l failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Strip the overstrike bold/underline of a tty-less man.
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut plain = String::new();
    for c in text.chars() {
        if c == '\u{8}' {
            plain.pop();
        } else {
            plain.push(c);
        }
    }
    plain
}

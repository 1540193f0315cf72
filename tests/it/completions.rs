//! The checked-in completion scripts, loaded in real shells (bash, fish, zsh) with the built `sts`
//! first on `PATH`: sub-commands complete, and so do the saved context names.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::{TestEnv, repo_root};

/// A TestEnv with the contexts `prod` and `staging` saved (no server needed).
fn env_with_contexts() -> TestEnv {
    let env = TestEnv::new();
    for name in ["prod", "staging"] {
        env.sts()
            .args([
                "context",
                "save",
                "--name",
                name,
                "--url",
                "http://127.0.0.1:9",
                "--service-token",
                "t",
                "--skip-validate",
                "--insecure-storage",
            ])
            .assert()
            .success();
    }
    env
}

fn sts_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_sts"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A shell with only PATH (the built `sts` first), HOME and XDG_CONFIG_HOME of the TestEnv.
fn shell(env: &TestEnv, program: &str) -> Command {
    let mut cmd = Command::new(program);
    let path = format!(
        "{}:{}",
        sts_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    cmd.env_clear()
        .env("PATH", path)
        .env("HOME", env.home())
        .env("XDG_CONFIG_HOME", env.config_home())
        .env("LANG", "C.UTF-8")
        .current_dir(repo_root());
    cmd
}

/// Runs the shell command with a deadline; returns stdout.
fn run(mut cmd: Command) -> String {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the shell is installed (scripts/install-test-tools)");
    let (stdout, out_drain) = crate::common::drain_joinable(child.stdout.take().unwrap());
    let (stderr, err_drain) = crate::common::drain_joinable(child.stderr.take().unwrap());
    let status =
        crate::common::wait_within(&mut child, Duration::from_secs(60)).unwrap_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the shell did not finish within 60 s")
        });
    // The pipes are read to their end.
    out_drain.join().unwrap();
    err_drain.join().unwrap();
    let out = stdout.lock().unwrap().clone();
    let err = stderr.lock().unwrap().clone();
    assert!(status.success(), "shell failed: {err}\n{out}");
    out
}

/// What each section `== <name>` of the output lists, one candidate a line (the part before a
/// tab or a colon, the description cut off).
fn sections(out: &str) -> Vec<(String, Vec<String>)> {
    let mut all: Vec<(String, Vec<String>)> = Vec::new();
    for line in out.lines() {
        if let Some(name) = line.strip_prefix("== ") {
            all.push((name.to_string(), Vec::new()));
        } else if let Some((_, list)) = all.last_mut() {
            let word = line.split(['\t', ':']).next().unwrap_or("").trim();
            if !word.is_empty() {
                list.push(word.to_string());
            }
        }
    }
    all
}

fn assert_offers(out: &str) {
    let got = sections(out);
    let find = |name: &str| {
        got.iter()
            .find(|(n, _)| n == name)
            .map(|(_, l)| l.clone())
            .unwrap_or_else(|| panic!("no section {name} in:\n{out}"))
    };
    assert!(find("sub").contains(&"create".to_string()), "{out}");
    assert_eq!(find("context"), ["prod", "staging"], "{out}");
    assert_eq!(find("context-c"), ["prod", "staging"], "{out}");
    assert_eq!(find("set-name"), ["prod"], "{out}");
    assert!(find("none").is_empty(), "{out}");
}

#[test]
fn bash_completes_sub_commands_and_context_names() {
    let env = env_with_contexts();
    let script = r#"
set -u
source completions/sts.bash
complete -p sts >/dev/null || { echo "sts has no completion"; exit 1; }
# What readline does on Tab: COMP_* set, the function called with command, word, previous word.
offer() {
    local label=$1; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    COMP_TYPE=9; COMPREPLY=()
    _clap_complete_sts sts "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    echo "== $label"
    if ((${#COMPREPLY[@]})); then printf '%s\n' "${COMPREPLY[@]}"; fi
}
offer sub sts service-token c
offer context sts --context ''
offer context-c sts -c ''
offer set-name sts context set --name p
offer none sts --context zzz
"#;
    let mut cmd = shell(&env, "bash");
    cmd.args(["--norc", "--noprofile", "-c", script]);
    assert_offers(&run(cmd));
}

#[test]
fn fish_completes_sub_commands_and_context_names() {
    let env = env_with_contexts();
    let script = r#"
source completions/sts.fish
function offer
    echo "== $argv[1]"
    complete --do-complete "$argv[2]"
end
offer sub 'sts service-token c'
offer context 'sts --context '
offer context-c 'sts -c '
offer set-name 'sts context set --name p'
offer none 'sts --context zzz'
"#;
    let mut cmd = shell(&env, "fish");
    cmd.args(["--no-config", "-c", script]);
    assert_offers(&run(cmd));
}

/// zsh: the checked-in `_sts` runs in a real zsh with `words`/`CURRENT` set as the completion
/// system sets them, and `_describe` replaced by a function that prints what it is given.
#[test]
fn zsh_completes_sub_commands_and_context_names() {
    let env = env_with_contexts();
    let script = r#"
compdef() { : }
_describe() { print -rl -- "${(@P)${@[-1]}}" }
source completions/_sts
offer() {
    local label=$1; shift
    words=("$@"); CURRENT=$#
    print -r -- "== $label"
    _clap_dynamic_completer_sts
}
offer sub sts service-token c
offer context sts --context ''
offer context-c sts -c ''
offer set-name sts context set --name p
offer none sts --context zzz
"#;
    let mut cmd = shell(&env, "zsh");
    cmd.args(["-f", "-c", script]);
    assert_offers(&run(cmd));
}

/// The completion protocol itself, as zsh's script calls it.
#[test]
fn the_zsh_protocol_answers_context_names() {
    let env = env_with_contexts();
    let out = env
        .sts()
        .env("COMPLETE", "zsh")
        .env("_CLAP_IFS", "\n")
        .env("_CLAP_COMPLETE_INDEX", "2")
        .args(["--", "sts", "--context", ""])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "prod:http://127.0.0.1:9\nstaging:http://127.0.0.1:9"
    );
}

#[test]
fn sts_completion_prints_the_checked_in_scripts() {
    let env = TestEnv::new();
    for (shell, file) in [
        ("bash", "sts.bash"),
        ("zsh", "_sts"),
        ("fish", "sts.fish"),
        ("powershell", "_sts.ps1"),
        ("elvish", "sts.elv"),
    ] {
        let out = env.sts().args(["completion", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let checked_in = std::fs::read(repo_root().join("completions").join(file)).unwrap();
        assert_eq!(out.stdout, checked_in, "{shell}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            !text.contains(env!("CARGO_BIN_EXE_sts")),
            "{shell} names a path"
        );
    }
    let out = env.sts().args(["completion", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
}

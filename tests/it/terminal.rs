//! Terminal manners: in a real terminal (a tmux pane of 80 columns) tables are coloured and fitted
//! to the pane and a slow request shows a spinner on stderr; piped, there is no ANSI escape, no
//! wrapped row and no spinner. Also `--no-headers` and `--version`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::cli_util::run;
use crate::common::{Sandbox, TestEnv};
use unicode_width::UnicodeWidthStr;

const PANE_WIDTH: usize = 80;

/// Service tokens whose rows are wider than 80 columns.
fn seed_wide_tokens(sb: &Sandbox) -> usize {
    let roles = [
        "stackstate-k8s-troubleshooter",
        "stackstate-power-user",
        "stackstate-admin",
    ];
    for i in 0..3 {
        sb.create_service_token(
            &format!("a-service-token-with-a-rather-long-name-number-{i}"),
            &roles,
        );
    }
    3
}

/// A tmux server of its own (its socket in a temporary folder), ended when dropped.
struct Tmux {
    dir: tempfile::TempDir,
}

impl Tmux {
    fn start() -> Tmux {
        let tmux = Tmux {
            dir: tempfile::tempdir().unwrap(),
        };
        let status = tmux
            .cmd()
            .args([
                "new-session",
                "-d",
                "-s",
                "t",
                "-x",
                &PANE_WIDTH.to_string(),
                "-y",
                "50",
                "sh",
            ])
            .status()
            .expect("tmux is installed (scripts/install-test-tools)");
        assert!(status.success());
        tmux
    }

    fn cmd(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.arg("-S")
            .arg(self.dir.path().join("sock"))
            .args(["-f", "/dev/null"]);
        cmd
    }

    /// Runs a script in a new window of the pane size; the window stays after it ends.
    fn run_script(&self, name: &str, script: &str) {
        let path = self.dir.path().join(format!("{name}.sh"));
        std::fs::write(&path, format!("{script}\necho __DONE__\nexec sleep 600\n")).unwrap();
        let status = self
            .cmd()
            .args(["new-window", "-t", "t:", "-n", name, "sh"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The pane of a window: `-e` keeps the escape sequences, `-J` joins lines the terminal
    /// wrapped (so a row that overflowed the pane shows as one long line).
    fn capture(&self, name: &str, escapes: bool) -> String {
        let mut cmd = self.cmd();
        cmd.args(["capture-pane", "-p", "-J", "-t", &format!("t:{name}")]);
        if escapes {
            cmd.arg("-e");
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the pane until `done` says yes, within 30 s.
    fn wait_for(&self, name: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = self.capture(name, false);
            if done(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "the pane never got there:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

/// A shell line that runs the built `sts` with a clean environment against the sandbox.
fn sts_line(env: &TestEnv, sb: &Sandbox, extra_env: &str, args: &str) -> String {
    format!(
        "env -i PATH=/usr/bin:/bin HOME='{}' XDG_CONFIG_HOME='{}' TERM=xterm-256color {extra_env} \
         STS_CLI_URL='{}' STS_CLI_API_TOKEN='{}' '{}' {args}",
        env.home().display(),
        env.config_home().display(),
        sb.url,
        sb.admin_token,
        sts_bin().display()
    )
}

fn sts_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sts"))
}

fn table_lines(pane: &str) -> Vec<&str> {
    pane.lines()
        .skip_while(|l| !l.starts_with("ID"))
        .take_while(|l| !l.starts_with("__DONE__"))
        .collect()
}

#[test]
fn a_terminal_gets_colour_and_a_fitted_table_a_pipe_gets_neither() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    std::fs::create_dir_all(env.config_home()).unwrap();
    let rows = seed_wide_tokens(&sb);
    let tmux = Tmux::start();

    tmux.run_script("tty", &sts_line(&env, &sb, "", "service-token list"));
    let pane = tmux.wait_for("tty", |t| t.contains("__DONE__"));
    let coloured = tmux.capture("tty", true);
    assert!(
        coloured.contains("\x1b[36m"),
        "no cyan header:\n{coloured:?}"
    );
    let lines = table_lines(&pane);
    assert!(
        lines.len() > rows + 1,
        "long rows were not wrapped:\n{pane}"
    );
    for line in &lines {
        assert!(
            line.width() <= PANE_WIDTH,
            "a line overflows the pane:\n{pane}"
        );
        // Wrapped inside its cells: every line still has the four column separators.
        assert_eq!(line.matches('|').count(), 4, "{line:?} in\n{pane}");
    }

    tmux.run_script("pipe", &sts_line(&env, &sb, "", "service-token list | cat"));
    let pane = tmux.wait_for("pipe", |t| t.contains("__DONE__"));
    assert!(!tmux.capture("pipe", true).contains('\x1b'));
    let lines = table_lines(&pane);
    assert_eq!(lines.len(), rows + 1, "{pane}");
    assert!(lines.iter().any(|l| l.width() > PANE_WIDTH), "{pane}");

    tmux.run_script(
        "nocolor",
        &sts_line(&env, &sb, "NO_COLOR=1", "service-token list"),
    );
    tmux.wait_for("nocolor", |t| t.contains("__DONE__"));
    assert!(!tmux.capture("nocolor", true).contains('\x1b'));

    tmux.run_script(
        "flag",
        &sts_line(&env, &sb, "", "service-token list --no-color"),
    );
    tmux.wait_for("flag", |t| t.contains("__DONE__"));
    assert!(!tmux.capture("flag", true).contains('\x1b'));

    // Straight into a pipe (no terminal at all): no escape, one line per row.
    let piped = run(env
        .sts_at(&sb.url, &sb.admin_token, true)
        .args(["service-token", "list"]))
    .ok();
    assert!(!piped.stdout.contains('\x1b'));
    assert_eq!(piped.stdout.lines().count(), rows + 1);
}

#[test]
fn error_and_success_lines_are_coloured_on_a_terminal_only() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let tmux = Tmux::start();
    tmux.run_script("err", &sts_line(&env, &sb, "", "service-token delete 1"));
    let pane = tmux.wait_for("err", |t| t.contains("__DONE__"));
    assert!(pane.contains("❌"), "{pane}");
    assert!(tmux.capture("err", true).contains("\x1b[31m"));

    let piped =
        run(env
            .sts_at(&sb.url, &sb.admin_token, true)
            .args(["service-token", "delete", "1"]));
    assert!(piped.stderr.starts_with("❌ "), "{}", piped.stderr);
    assert!(!piped.stderr.contains('\x1b'));
}

/// A request that hangs: the spinner shows on the terminal while it waits, and is erased when the
/// command ends.
#[test]
fn a_slow_request_shows_a_spinner_on_a_terminal_only() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    sb.fault(json!({"count": 1, "path": "/api/security/tokens", "hang": true}));
    let tmux = Tmux::start();
    tmux.run_script(
        "slow",
        &sts_line(&env, &sb, "", "service-token list --timeout 4s"),
    );
    tmux.wait_for("slow", |t| t.contains("Awaiting server response"));
    let pane = tmux.wait_for("slow", |t| t.contains("__DONE__"));
    assert!(!pane.contains("Awaiting server response"), "{pane}");
    assert!(pane.contains("❌"), "{pane}");

    sb.fault(json!({"count": 1, "path": "/api/security/tokens", "delay_ms": 800}));
    let piped = run(env
        .sts_at(&sb.url, &sb.admin_token, true)
        .args(["service-token", "list"]))
    .ok();
    assert!(!piped.stderr.contains("Awaiting"), "{}", piped.stderr);
    assert_eq!(piped.stderr, "");
}

#[test]
fn no_headers_leaves_only_the_rows() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let rows = seed_wide_tokens(&sb);
    let out = run(env.sts_at(&sb.url, &sb.admin_token, true).args([
        "service-token",
        "list",
        "--no-headers",
    ]))
    .ok();
    assert_eq!(out.stdout.lines().count(), rows, "{}", out.stdout);
    assert!(out.stdout.lines().all(|l| !l.starts_with("ID")));
    let first: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| l.split(" | ").next().unwrap())
        .collect();
    assert!(
        first.iter().all(|id| id.trim().parse::<i64>().is_ok()),
        "{first:?}"
    );

    let out = run(env.sts_at(&sb.url, &sb.admin_token, true).args([
        "ingestion-api-key",
        "list",
        "--no-headers",
    ]))
    .ok();
    assert_eq!(out.stdout, "No ingestion api keys found.\n");

    for name in ["a", "b"] {
        run(env.sts().args([
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
        ]))
        .ok();
    }
    let out = run(env.sts().args(["context", "list", "--no-headers"])).ok();
    let names: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| l.split(" | ").next().unwrap().trim())
        .collect();
    assert_eq!(names, ["a", "b"], "{}", out.stdout);
    let with = run(env.sts().args(["context", "list"])).ok();
    assert!(with.stdout.starts_with("NAME"));
}

#[test]
fn version_names_the_commit() {
    let out = run(TestEnv::new().sts().arg("--version")).ok();
    let expected_start = format!("sts {} (commit ", env!("CARGO_PKG_VERSION"));
    assert!(out.stdout.starts_with(&expected_start), "{}", out.stdout);
    let commit = out.stdout[expected_start.len()..]
        .trim_end()
        .trim_end_matches(')');
    assert!(
        commit == "unknown" || commit.chars().all(|c| c.is_ascii_hexdigit()) && commit.len() >= 7,
        "{commit:?}"
    );
    // `git rev-parse` agrees when git and the repository are here.
    if let Ok(git) = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .output()
        && git.status.success()
        && std::env::var_os("STS_GIT_COMMIT").is_none()
    {
        assert_eq!(commit, String::from_utf8_lossy(&git.stdout).trim());
    }
}

//! Living beside the Go CLI (CONTRACT §14, issue 22): a command `sts` does not have runs the Go
//! CLI (`STS_CLI_GO_BINARY`, else `sts-go` on `PATH`) with exactly the same arguments, its
//! streams and exit code passed through, and the context in effect handed over as the Go CLI's
//! own variables. A stand-in executable records what it was given.

use std::path::{Path, PathBuf};

use crate::cli_util::{Run, run};
use crate::common::{Sandbox, TestEnv};

/// A stand-in for the Go CLI: writes its arguments (one a line) and its `STS_*` variables to
/// files beside it, says something on both streams, exits 42.
struct StandIn {
    dir: tempfile::TempDir,
}

impl StandIn {
    fn new(name: &str) -> StandIn {
        let dir = tempfile::tempdir().unwrap();
        let script = format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{0}/argv'\nenv | grep '^STS_' | sort > '{0}/env'\n\
             echo 'from the go cli'\necho 'go cli error' >&2\nexit 42\n",
            dir.path().display()
        );
        let path = dir.path().join(name);
        std::fs::write(&path, script).unwrap();
        make_executable(&path);
        StandIn { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn argv(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("argv"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The `STS_*` variables it saw, `NAME=value` a line.
    fn env(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("env")).unwrap()
    }

    fn ran(&self) -> bool {
        self.dir.path().join("argv").exists()
    }
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn save(env: &TestEnv, sb: &Sandbox, name: &str, flag: &str, token: &str) {
    run(env
        .sts()
        .args(["context", "save", "--name", name, "--url", &sb.url])
        .args([flag, "-", "--insecure-storage"])
        .write_stdin(format!("{token}\n")))
    .ok();
}

fn go(env: &TestEnv, binary: &Path, args: &[&str]) -> Run {
    run(env
        .sts()
        .env("STS_CLI_GO_BINARY", binary)
        .env("PATH", "/usr/bin:/bin")
        .args(args))
}

#[test]
fn an_unknown_command_runs_the_go_cli_with_the_context_in_effect() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let go_cli = StandIn::new("go-sts");
    save(&env, &sb, "prod", "--api-token", &sb.admin_token);

    let r = go(&env, &go_cli.path("go-sts"), &["topology", "list", "--foo"]);
    assert_eq!(r.code, 42, "{}", r.stderr);
    assert_eq!(r.stdout, "from the go cli\n");
    assert_eq!(r.stderr, "go cli error\n");
    assert_eq!(go_cli.argv(), ["topology", "list", "--foo"]);
    let seen = go_cli.env();
    assert!(
        seen.contains(&format!("STS_CLI_URL={}\n", sb.url)),
        "{seen}"
    );
    assert!(
        seen.contains(&format!("STS_CLI_API_TOKEN={}\n", sb.admin_token)),
        "{seen}"
    );
    assert!(!seen.contains("STS_CLI_SERVICE_TOKEN"), "{seen}");

    // Options of ours before the command pass through too; `-c` picks the context handed over.
    let token = sb.create_service_token("for-the-go-cli", &["stackstate-admin"]);
    save(&env, &sb, "ci", "--service-token", &token);
    run(env.sts().args(["context", "use", "prod"])).ok();
    let r = go(
        &env,
        &go_cli.path("go-sts"),
        &["-c", "ci", "monitor", "list", "-o", "json"],
    );
    assert_eq!(r.code, 42, "{}", r.stderr);
    assert_eq!(go_cli.argv(), ["-c", "ci", "monitor", "list", "-o", "json"]);
    let seen = go_cli.env();
    assert!(
        seen.contains(&format!("STS_CLI_SERVICE_TOKEN={token}\n")),
        "{seen}"
    );
    assert!(!seen.contains("STS_CLI_API_TOKEN"), "{seen}");

    // What the user already gives the Go CLI is left alone, and no saved credential goes along.
    let r = run(env
        .sts()
        .env("STS_CLI_GO_BINARY", go_cli.path("go-sts"))
        .env("STS_CLI_URL", "https://elsewhere.example")
        .args(["topology", "list"]));
    assert_eq!(r.code, 42, "{}", r.stderr);
    let seen = go_cli.env();
    assert!(
        seen.contains("STS_CLI_URL=https://elsewhere.example\n"),
        "{seen}"
    );
    assert!(!seen.contains("TOKEN"), "{seen}");
    let r = go(
        &env,
        &go_cli.path("go-sts"),
        &["topology", "list", "--url", "https://elsewhere.example"],
    );
    assert_eq!(r.code, 42, "{}", r.stderr);
    assert!(!go_cli.env().contains("TOKEN"), "{}", go_cli.env());

    // No context at all: it still runs, with nothing handed over.
    let bare = TestEnv::new();
    let r = go(&bare, &go_cli.path("go-sts"), &["stackpack", "list"]);
    assert_eq!(r.code, 42, "{}", r.stderr);
    assert!(!go_cli.env().contains("STS_CLI_URL"), "{}", go_cli.env());
}

#[test]
fn sts_go_on_path_is_found_and_our_own_commands_are_never_handed_off() {
    let env = TestEnv::new();
    let go_cli = StandIn::new("sts-go");
    let r = run(env
        .sts()
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", go_cli.dir.path().display()),
        )
        .args(["settings", "describe"]));
    assert_eq!(r.code, 42, "{}", r.stderr);
    assert_eq!(go_cli.argv(), ["settings", "describe"]);

    // A misspelt sub-command of ours is our usage error, not the Go CLI's.
    let other = StandIn::new("go-sts");
    let r = go(&env, &other.path("go-sts"), &["context", "lst"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("unrecognized subcommand 'lst'"),
        "{}",
        r.stderr
    );
    assert!(!other.ran());
}

#[test]
fn without_a_go_cli_or_with_sts_itself_it_is_exit_3() {
    let env = TestEnv::new();
    let r = run(env
        .sts()
        .env("PATH", "/usr/bin:/bin")
        .args(["topology", "list"]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("❌ unrecognized subcommand 'topology'"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("STS_CLI_GO_BINARY"), "{}", r.stderr);

    let sts = PathBuf::from(env!("CARGO_BIN_EXE_sts"));
    let r = go(&env, &sts, &["topology", "list"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("is sts itself"), "{}", r.stderr);
    // A symbolic link and a hard link to it are sts too.
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&sts, dir.path().join("link")).unwrap();
    let r = go(&env, &dir.path().join("link"), &["topology"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("is sts itself"), "{}", r.stderr);
    if std::fs::hard_link(&sts, dir.path().join("hard")).is_ok() {
        let r = go(&env, &dir.path().join("hard"), &["topology"]);
        assert_eq!(r.code, 3, "{}", r.stderr);
        assert!(r.stderr.contains("is sts itself"), "{}", r.stderr);
    }

    // A Go CLI that hands the command back to sts: the inner sts refuses, exit 3 passed on.
    let wrapper = dir.path().join("wrapper");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\nexec '{}' \"$@\"\n", sts.display()),
    )
    .unwrap();
    make_executable(&wrapper);
    let r = go(&env, &wrapper, &["topology", "list"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("must name the Go CLI, not sts"),
        "{}",
        r.stderr
    );

    // A variable that names no executable file.
    let r = go(&env, &dir.path().join("missing"), &["topology"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("is not an executable file"),
        "{}",
        r.stderr
    );
}

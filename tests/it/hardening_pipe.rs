//! A closed stdout (`sts … | head -1`) ends quietly with exit 0 (STYLE "Errors"), in text, JSON
//! and jsonl, for both list commands. The output must be larger than the pipe buffer (64 KiB)
//! for `sts` to meet the closed pipe at all, so the sandbox is seeded with 1,500 rows of each,
//! and 5,000 more service tokens: a list of more than 4,096 rows is made by two threads, and the
//! one not writing must stop too.

use std::process::Command;

use serde_json::json;

use crate::common::{Sandbox, TestEnv, send_json};

const ROWS: u64 = 1500;

fn seeded() -> Sandbox {
    let sb = Sandbox::start();
    let (status, body) = send_json(
        sb.http()
            .post(format!("{}/_sandbox/seed", sb.url))
            .header("X-API-Token", &sb.admin_token),
        Some(json!({"service_tokens": ROWS + 5000, "ingestion_api_keys": ROWS})),
    );
    assert!(status < 300, "seed: {status} {body}");
    sb
}

/// `sts <args> | head -1` in bash: (first line, stderr of the pipeline, sts's exit code).
fn head_1(env: &TestEnv, sb: &Sandbox, args: &str) -> (String, String, String) {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            r#""$STS" {args} | head -1; echo "rc=${{PIPESTATUS[0]}}" >&2"#
        ))
        .env("STS", env!("CARGO_BIN_EXE_sts"))
        .env("STS_CLI_URL", &sb.url)
        .env("STS_CLI_API_TOKEN", &sb.admin_token)
        .env("HOME", env.home())
        .env("XDG_CONFIG_HOME", env.config_home())
        .env("RUST_BACKTRACE", "1")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let rc = stderr.lines().last().unwrap_or_default().trim().to_string();
    let quiet = stderr
        .trim_end()
        .strip_suffix(&rc)
        .unwrap_or(&stderr)
        .to_string();
    (String::from_utf8_lossy(&out.stdout).into_owned(), quiet, rc)
}

#[test]
fn head_1_of_a_long_list_exits_0_with_nothing_on_stderr() {
    let sb = seeded();
    let env = TestEnv::new();
    // The whole output really is larger than a pipe buffer.
    let full = Command::new(env!("CARGO_BIN_EXE_sts"))
        .args(["service-token", "list", "-o", "json"])
        .env("STS_CLI_URL", &sb.url)
        .env("STS_CLI_API_TOKEN", &sb.admin_token)
        .env("HOME", env.home())
        .output()
        .unwrap();
    assert!(full.status.success());
    assert!(full.stdout.len() > 64 * 1024, "{} bytes", full.stdout.len());

    for (args, first) in [
        ("service-token list", "ID"),
        ("service-token list -o json", "{"),
        ("service-token list -o jsonl", "{"),
        ("ingestion-api-key list", "ID"),
        ("ingestion-api-key list -o json", "{"),
        ("service-token list --no-headers", ""),
    ] {
        let (stdout, stderr, rc) = head_1(&env, &sb, args);
        assert_eq!(rc, "rc=0", "{args}: {stderr}");
        assert_eq!(stderr, "", "{args}: stderr not empty");
        assert_eq!(stdout.lines().count(), 1, "{args}: {stdout}");
        assert!(stdout.starts_with(first), "{args}: {stdout}");
    }
}

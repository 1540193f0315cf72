//! Helpers shared by the `tests/cli_*.rs` end-to-end tests of the `sts` binary.
#![allow(dead_code)]

use serde_json::Value;

use crate::common::{Sandbox, TestEnv};

/// What a finished `sts` run left: exit code, stdout, stderr.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {:?}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }

    pub fn stderr_json(&self) -> Value {
        serde_json::from_str(&self.stderr)
            .unwrap_or_else(|e| panic!("stderr is not JSON ({e}): {:?}", self.stderr))
    }

    /// Asserts success and returns self.
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "sts failed\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts this exit code, and that nothing panicked.
    pub fn fails(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "unexpected exit code\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self.no_panic()
    }

    pub fn no_panic(self) -> Run {
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"),
            "{}",
            self.stderr
        );
        self
    }
}

/// Runs a prepared command.
pub fn run(cmd: &mut assert_cmd::Command) -> Run {
    let out = cmd.output().expect("run sts");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `sts <args>` against the sandbox with its admin token (`STS_CLI_API_TOKEN`).
pub fn admin(env: &TestEnv, sb: &Sandbox, args: &[&str]) -> Run {
    run(env.sts_at(&sb.url, &sb.admin_token, true).args(args))
}

/// `sts <args>` against any URL with the sandbox's admin token.
pub fn admin_at(env: &TestEnv, url: &str, sb: &Sandbox, args: &[&str]) -> Run {
    run(env.sts_at(url, &sb.admin_token, true).args(args))
}

/// The service tokens as the server lists them (through the admin API, not through `sts`).
pub fn server_tokens(sb: &Sandbox) -> Vec<Value> {
    let (status, body) = sb.admin("GET", "/security/tokens", None);
    assert_eq!(status, 200, "{body}");
    body.as_array().expect("array").clone()
}

/// The ingestion API keys as the server lists them.
pub fn server_keys(sb: &Sandbox) -> Vec<Value> {
    let (status, body) = sb.admin("GET", "/security/ingestion/api_keys", None);
    assert_eq!(status, 200, "{body}");
    body.as_array().expect("array").clone()
}

/// The one server object with this name.
pub fn named<'a>(items: &'a [Value], name: &str) -> &'a Value {
    let found: Vec<&Value> = items.iter().filter(|v| v["name"] == name).collect();
    assert_eq!(found.len(), 1, "one {name:?} expected in {items:?}");
    found[0]
}

/// Creates an ingestion API key through the admin API; returns its id.
pub fn create_key(sb: &Sandbox, name: &str) -> i64 {
    let (status, body) = sb.admin(
        "POST",
        "/security/ingestion/api_keys",
        Some(serde_json::json!({"name": name})),
    );
    assert_eq!(status, 200, "{body}");
    body["id"].as_i64().expect("id")
}

/// The id of the service token with this name.
pub fn token_id(sb: &Sandbox, name: &str) -> i64 {
    named(&server_tokens(sb), name)["id"].as_i64().expect("id")
}

/// Snapshot filters: ids (with their column padding), secrets, URLs.
pub fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"svctok-[A-Za-z0-9_\-]+", "svctok-[SECRET]"),
        (r"iapikey-[A-Za-z0-9_\-]+", "iapikey-[SECRET]"),
        (r"http://127\.0\.0\.1:\d+", "[URL]"),
        (r"(?m)^ID +\|", "ID |"),
        (r"(?m)^\d{1,19} +\|", "[ID] |"),
        (r"deleted: \d{1,19}", "deleted: [ID]"),
    ]
}

/// Asserts a text snapshot with the filters above.
#[macro_export]
macro_rules! snap {
    ($name:expr, $value:expr) => {
        insta::with_settings!({filters => $crate::cli_util::filters(), prepend_module_to_snapshot => true, omit_expression => true}, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

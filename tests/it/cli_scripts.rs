//! Scripts (issue 22, CONTRACT §14): `-o jsonl` with the same keys on every platform and kind,
//! and `-A` with no saved context.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::cli_util::{Run, run};
use crate::common::{Sandbox, TestEnv, free_port};

const KEYS: [&str; 10] = [
    "context",
    "created",
    "detail",
    "expires",
    "id",
    "kind",
    "last-used",
    "name",
    "platform",
    "status",
];

/// Every line of stdout as JSON.
fn lines(r: &Run) -> Vec<Value> {
    r.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().expect("object").keys().cloned().collect()
}

fn assert_time_or_null(v: &Value, key: &str) {
    match &v[key] {
        Value::Null => {}
        Value::String(s) => {
            let t = chrono::DateTime::parse_from_rfc3339(s)
                .unwrap_or_else(|e| panic!("{key} {s:?}: {e}"));
            assert_eq!(t.offset().local_minus_utc(), 0, "{key} {s:?} is not UTC");
        }
        other => panic!("{key} is {other}"),
    }
}

/// The line of a token: exactly the common keys (and `secret` when `secret`), `id` a string.
fn assert_token_line(v: &Value, secret: bool) {
    let mut want: BTreeSet<String> = KEYS.iter().map(|k| k.to_string()).collect();
    if secret {
        want.insert("secret".into());
    }
    assert_eq!(keys(v), want, "{v}");
    for k in ["created", "expires", "last-used"] {
        assert_time_or_null(v, k);
    }
    assert!(v["detail"].is_object(), "{v}");
    assert!(v["name"].is_string() && v["status"].is_string(), "{v}");
}

fn save(env: &TestEnv, name: &str, url: &str, platform: &str, token: &str, validate: bool) {
    let mut cmd = env.sts();
    cmd.args(["context", "save", "--name", name, "--url", url])
        .args(["--platform", platform, "--api-token", token])
        .arg("--insecure-storage");
    if !validate {
        cmd.arg("--skip-validate");
    }
    run(&mut cmd).ok();
}

#[test]
fn jsonl_has_the_same_keys_on_every_platform_for_creates_and_lists_under_a() {
    let env = TestEnv::new();
    let ss = Sandbox::start();
    let posit = Sandbox::start_platform("posit-connect", &[]);
    let qualytics = Sandbox::start_platform("qualytics", &["--service-user", "Loader:Admin"]);
    let dead = format!("http://127.0.0.1:{}", free_port());
    save(&env, "dead", &dead, "stackstate", "svctok-dead", false);
    for (name, sb) in [("ss", &ss), ("posit", &posit), ("dq", &qualytics)] {
        save(&env, name, &sb.url, &sb.platform, &sb.admin_token, true);
    }
    let (_, users) = qualytics.admin("GET", "/users?type=Service", None);
    let user = users["items"][0]["id"].to_string();

    // A create on each platform: one line, its secret under `secret`, the context named.
    let creates: [(&str, Vec<&str>); 3] = [
        ("ss", vec!["--roles", "stackstate-admin"]),
        ("posit", vec!["--scopes", "identity:manage"]),
        ("dq", vec!["--service-user", &user]),
    ];
    for (context, extra) in creates {
        let r = run(env
            .sts()
            .args(["-c", context, "service-token", "create", "--name", "ci-bot"])
            .args(["--expiration", "30d", "-o", "jsonl"])
            .args(extra))
        .ok();
        let got = lines(&r);
        assert_eq!(got.len(), 1, "{}", r.stdout);
        let v = &got[0];
        assert_token_line(v, true);
        assert!(v["secret"].as_str().is_some_and(|s| s.len() >= 8), "{v}");
        assert_eq!(v["context"], context);
        assert_eq!(v["kind"], "service-token");
        assert_eq!(v["name"], "ci-bot");
        assert_eq!(v["status"], "active");
        assert!(v["expires"].is_string(), "{v}");
        if context == "ss" {
            assert!(
                v["id"].is_null(),
                "StackState's create answer has no id: {v}"
            );
        } else {
            assert!(v["id"].is_string(), "{v}");
        }
    }

    // `list -A`: a line per token, a line for the failing context, the same keys everywhere.
    let r = run(env
        .sts()
        .args(["service-token", "list", "-A", "-o", "jsonl"]));
    assert_eq!(r.code, 4, "{}", r.stderr);
    let got = lines(&r);
    let mut platforms = BTreeSet::new();
    let mut errors = 0;
    for v in &got {
        if v.get("error").is_some() {
            errors += 1;
            assert_eq!(
                keys(v),
                ["context", "error", "platform"]
                    .iter()
                    .map(|k| k.to_string())
                    .collect(),
                "{v}"
            );
            assert_eq!(v["context"], "dead");
            assert_eq!(v["error"]["exit-code"], 4);
            assert!(v["error"]["error-message"].is_string());
            continue;
        }
        assert_token_line(v, false);
        assert!(v["id"].is_string(), "{v}");
        assert_eq!(v["kind"], "service-token");
        platforms.insert(v["platform"].as_str().unwrap().to_string());
    }
    assert_eq!(errors, 1, "{}", r.stdout);
    assert_eq!(
        platforms,
        ["posit-connect", "qualytics", "stackstate"]
            .iter()
            .map(|k| k.to_string())
            .collect()
    );
    let bots: Vec<&Value> = got.iter().filter(|v| v["name"] == "ci-bot").collect();
    assert_eq!(bots.len(), 3, "{}", r.stdout);
    let ss_bot = bots.iter().find(|v| v["context"] == "ss").unwrap();
    assert_eq!(ss_bot["detail"]["roles"][0], "stackstate-admin");
    let posit_bot = bots.iter().find(|v| v["context"] == "posit").unwrap();
    assert_eq!(posit_bot["detail"]["scopes"][0], "identity:manage");
    assert!(posit_bot["created"].is_string(), "{posit_bot}");
    let dq_bot = bots.iter().find(|v| v["context"] == "dq").unwrap();
    assert!(dq_bot["detail"]["service-user"].is_string(), "{dq_bot}");
    // No secret on a list line.
    assert!(!r.stdout.contains("\"secret\""));

    // Ingestion keys: the same keys, their own kind.
    let r = run(env
        .sts()
        .args(["-c", "ss", "ingestion-api-key", "create", "--name", "otel"])
        .args(["--description", "collector", "-o", "jsonl"]))
    .ok();
    let v = &lines(&r)[0];
    assert_token_line(v, true);
    assert_eq!(v["kind"], "ingestion-api-key");
    assert!(v["id"].is_string(), "{v}");
    assert_eq!(v["detail"]["description"], "collector");
    let r = run(env
        .sts()
        .args(["-c", "ss", "ingestion-api-key", "list", "-o", "jsonl"]))
    .ok();
    for v in lines(&r) {
        assert_token_line(&v, false);
        assert_eq!(v["context"], "ss");
    }
}

#[test]
fn all_contexts_with_no_saved_context_is_exit_8() {
    let env = TestEnv::new();
    for args in [
        vec!["service-token", "list", "-A"],
        vec!["service-token", "list", "-A", "--fail-if-any"],
        vec![
            "ingestion-api-key",
            "list",
            "-A",
            "--expiring-within",
            "14d",
            "--fail-if-any",
        ],
        vec!["context", "validate", "-A"],
    ] {
        let r = run(env.sts().args(&args)).fails(8);
        assert!(
            r.stderr.contains("no saved contexts"),
            "{args:?}: {}",
            r.stderr
        );
    }
    // Contexts, but none of `--platform`'s.
    save(
        &env,
        "prod",
        &format!("http://127.0.0.1:{}", free_port()),
        "stackstate",
        "svctok-x",
        false,
    );
    let r = run(env
        .sts()
        .args(["service-token", "list", "-A", "--platform", "qualytics"]))
    .fails(8);
    assert!(
        r.stderr.contains("no saved contexts of platform qualytics"),
        "{}",
        r.stderr
    );
}

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

/// One platform's kind: how `sts` reaches it, how a create is asked, an id that is not there.
struct Kind<'a> {
    sb: &'a Sandbox,
    noun: &'a str,
    create: Vec<String>,
    /// The second token of one name, where a platform wants it elsewhere (another user).
    create_twin: Option<Vec<String>>,
    missing_id: &'a str,
    /// Qualytics deletes only revoked tokens.
    delete_extra: &'a [&'a str],
}

fn get_name_delete_and_ignore_not_found(env: &TestEnv, k: &Kind) {
    let at = || {
        let mut cmd = env.sts_at(&k.sb.url, &k.sb.admin_token, true);
        cmd.env("STS_CLI_PLATFORM", &k.sb.platform);
        cmd
    };
    let sts = |args: &[&str]| run(at().args(args));
    let create = |name: &str, args: &[String]| {
        let r = run(at().args([k.noun, "create", "--name", name]).args(args)).ok();
        assert!(!r.stdout.is_empty());
    };
    create("twin", &k.create);
    create("twin", k.create_twin.as_ref().unwrap_or(&k.create));
    create("solo", &k.create);
    // `--name` on a list: exactly that name.
    let listed = lines(&sts(&[k.noun, "list", "--name", "solo", "-o", "jsonl"]).ok());
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["name"], "solo");
    let solo = listed[0]["id"].as_str().unwrap().to_string();
    let twins = lines(&sts(&[k.noun, "list", "--name", "twin", "-o", "jsonl"]).ok());
    assert_eq!(twins.len(), 2);

    // `get`: FIELD | VALUE rows; JSON the server's object.
    let got = sts(&[k.noun, "get", &solo]).ok();
    assert!(got.stdout.starts_with("FIELD"), "{}", got.stdout);
    assert!(
        got.stdout
            .lines()
            .any(|l| l.starts_with("NAME") && l.ends_with("solo")),
        "{}",
        got.stdout
    );
    assert!(got.stdout.contains(&solo));
    let json = sts(&[k.noun, "get", &solo, "-o", "json"]).ok().json();
    assert_eq!(json["name"], "solo", "{json}");
    let r = sts(&[k.noun, "get", k.missing_id]).fails(3);
    assert!(r.stderr.contains(k.missing_id), "{}", r.stderr);

    // `delete --name`: several of that name is exit 3 naming their ids, nothing deleted.
    let mut args = vec![k.noun, "delete", "--name", "twin"];
    args.extend(k.delete_extra);
    let r = sts(&args).fails(3);
    for t in &twins {
        assert!(r.stderr.contains(t["id"].as_str().unwrap()), "{}", r.stderr);
    }
    assert_eq!(lines(&sts(&[k.noun, "list", "-o", "jsonl"]).ok()).len(), 3);
    // One of that name: deleted.
    let mut args = vec![k.noun, "delete", "--name", "solo"];
    args.extend(k.delete_extra);
    let r = sts(&args).ok();
    assert!(r.stdout.contains(&solo), "{}", r.stdout);
    assert!(lines(&sts(&[k.noun, "list", "--name", "solo", "-o", "jsonl"]).ok()).is_empty());
    // Again: no such name is exit 3, and exit 0 with a note under --ignore-not-found.
    sts(&args).fails(3);
    args.push("--ignore-not-found");
    let r = sts(&args).ok();
    assert!(r.stderr.contains("solo"), "{}", r.stderr);
    // By id, twice: a 404 is exit 3, or exit 0 with a note.
    let mut args = vec![k.noun, "delete", &solo];
    args.extend(k.delete_extra);
    sts(&args).fails(3);
    args.push("--ignore-not-found");
    let r = sts(&args).ok();
    assert!(r.stderr.contains("not found"), "{}", r.stderr);
}

#[test]
fn get_name_delete_by_name_and_ignore_not_found_on_every_platform() {
    let env = TestEnv::new();
    let ss = Sandbox::start();
    let posit = Sandbox::start_platform("posit-connect", &[]);
    let qualytics = Sandbox::start_platform(
        "qualytics",
        &[
            "--service-user",
            "Loader:Admin",
            "--service-user",
            "Other:Admin",
        ],
    );
    let (_, users) = qualytics.admin("GET", "/users?type=Service", None);
    let user = users["items"][0]["id"].to_string();
    let other = users["items"][1]["id"].to_string();
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    for k in [
        Kind {
            sb: &ss,
            noun: "service-token",
            create: strings(&["--roles", "stackstate-admin"]),
            create_twin: None,
            missing_id: "424242",
            delete_extra: &[],
        },
        Kind {
            sb: &ss,
            noun: "ingestion-api-key",
            create: vec![],
            create_twin: None,
            missing_id: "424242",
            delete_extra: &[],
        },
        Kind {
            sb: &posit,
            noun: "service-token",
            create: strings(&["--scopes", "identity:manage"]),
            create_twin: None,
            missing_id: "0b0e2d3c-1111-4222-8333-944455556666",
            delete_extra: &[],
        },
        Kind {
            sb: &qualytics,
            noun: "service-token",
            create: strings(&["--service-user", &user]),
            create_twin: Some(strings(&["--service-user", &other])),
            missing_id: "424242",
            delete_extra: &["--revoke"],
        },
    ] {
        get_name_delete_and_ignore_not_found(&env, &k);
    }
    // Revoke and restore (Qualytics): a 404 is exit 3, or exit 0 with a note.
    let sts = |args: &[&str]| {
        run(env
            .sts_at(&qualytics.url, &qualytics.admin_token, true)
            .env("STS_CLI_PLATFORM", "qualytics")
            .args(args))
    };
    for verb in ["revoke", "restore"] {
        sts(&["service-token", verb, "424242"]).fails(3);
        let r = sts(&["service-token", verb, "424242", "--ignore-not-found"]).ok();
        assert!(r.stderr.contains("not found"), "{verb}: {}", r.stderr);
    }
}

#[test]
fn api_sends_one_request_with_the_credential_in_effect_and_prints_the_body() {
    let env = TestEnv::new();
    let ss = Sandbox::start();
    let posit = Sandbox::start_platform("posit-connect", &[]);
    let qualytics = Sandbox::start_platform("qualytics", &["--service-user", "Loader:Admin"]);
    let at = |sb: &Sandbox| {
        let mut cmd = env.sts_at(&sb.url, &sb.admin_token, true);
        cmd.env("STS_CLI_PLATFORM", &sb.platform);
        cmd
    };

    // GET on each platform: the body as it came.
    let r = run(at(&ss).args(["api", "/server/info"])).ok();
    let (_, info) = ss.admin("GET", "/server/info", None);
    assert_eq!(r.json(), info);
    let r = run(at(&posit).args(["api", "/v1/user"])).ok();
    assert!(r.json()["username"].is_string(), "{}", r.stdout);
    let r = run(at(&qualytics).args(["api", "/user-tokens"])).ok();
    assert!(r.json().is_array(), "{}", r.stdout);

    // POST with the body from stdin: the new token's secret is the caller's to keep.
    let r = run(at(&ss)
        .args(["api", "-X", "POST", "/security/tokens", "--input", "-"])
        .write_stdin(r#"{"name": "api-made", "roles": ["stackstate-admin"]}"#))
    .ok();
    let made = r.json();
    assert_eq!(made["name"], "api-made");
    assert!(
        made["token"]
            .as_str()
            .is_some_and(|t| t.len() >= 8 && t != "***"),
        "{made}"
    );
    let names: Vec<Value> = crate::cli_util::server_tokens(&ss)
        .into_iter()
        .map(|t| t["name"].clone())
        .collect();
    assert!(names.contains(&Value::from("api-made")), "{names:?}");

    // A 404 is exit 3 with the body on stdout; a bad credential exit 4.
    let r = run(at(&ss).args(["api", "/no/such/path"])).fails(3);
    assert!(!r.stdout.is_empty(), "{}", r.stderr);
    assert!(r.stderr.contains("404"), "{}", r.stderr);
    let r = run(env
        .sts_at(&ss.url, "svctok-wrong-token", false)
        .args(["api", "/server/info"]));
    assert_eq!(r.code, 4, "{}", r.stderr);

    // Never another server.
    for path in ["https://elsewhere/x", "//elsewhere/x"] {
        let r = run(at(&ss).args(["api", path])).fails(3);
        assert!(r.stderr.contains("not a URL"), "{}", r.stderr);
    }
    let r = run(at(&ss).args(["api", "/server/info", "-H", "X-API-Key: other"])).fails(3);
    assert!(r.stderr.contains("-H"), "{}", r.stderr);
}

#[test]
fn context_save_with_the_wrong_platform_names_the_url_and_the_platform_that_answered() {
    let env = TestEnv::new();
    let sandboxes = [
        Sandbox::start(),
        Sandbox::start_platform("posit-connect", &[]),
        Sandbox::start_platform("qualytics", &["--service-user", "Loader:Admin"]),
    ];
    let mut pairs = 0;
    for sb in &sandboxes {
        for wrong in ["stackstate", "posit-connect", "qualytics"] {
            if wrong == sb.platform {
                continue;
            }
            pairs += 1;
            let r = run(env
                .sts()
                .args(["context", "save", "--name", "x", "--url", &sb.url])
                .args(["--platform", wrong, "--api-token", &sb.admin_token])
                .arg("--insecure-storage"))
            .fails(3);
            assert!(
                r.stderr.contains("404"),
                "{wrong} on {}: {}",
                sb.platform,
                r.stderr
            );
            assert!(
                r.stderr.contains(&format!("asked {}/", sb.url)),
                "{wrong} on {}: {}",
                sb.platform,
                r.stderr
            );
            assert!(
                r.stderr
                    .contains(&format!("add --platform {}", sb.platform)),
                "{wrong} on {}: {}",
                sb.platform,
                r.stderr
            );
        }
    }
    assert_eq!(pairs, 6);
}

#[test]
fn a_short_expiry_warns_and_a_create_that_timed_out_says_it_may_exist() {
    let env = TestEnv::new();
    let ss = Sandbox::start();
    let sts = |args: &[&str]| run(env.sts_at(&ss.url, &ss.admin_token, true).args(args));
    let r = sts(&[
        "service-token",
        "create",
        "--name",
        "brief",
        "--roles",
        "stackstate-admin",
        "--expiration",
        "1m",
    ])
    .ok();
    assert!(r.stderr.contains("less than an hour"), "{}", r.stderr);
    let r = sts(&[
        "service-token",
        "create",
        "--name",
        "month",
        "--roles",
        "stackstate-admin",
        "--expiration",
        "30d",
    ])
    .ok();
    assert!(!r.stderr.contains("less than an hour"), "{}", r.stderr);

    ss.fault(serde_json::json!({"method": "POST", "count": 1, "hang": true}));
    let r = sts(&[
        "service-token",
        "create",
        "--name",
        "late",
        "--roles",
        "stackstate-admin",
        "--timeout",
        "1s",
    ])
    .fails(4);
    assert!(r.stderr.contains("may have been created"), "{}", r.stderr);
    assert!(
        r.stderr.contains("sts service-token list --name 'late'"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_unknown_context_name_suggests_the_nearest_saved_one() {
    let env = TestEnv::new();
    let url = format!("http://127.0.0.1:{}", free_port());
    save(&env, "production", &url, "stackstate", "svctok-x", false);
    let r = run(env.sts().args(["context", "use", "prodution"])).fails(8);
    assert!(
        r.stderr.contains("did you mean 'production'?"),
        "{}",
        r.stderr
    );
    let r = run(env.sts().args(["context", "use", "qa"])).fails(8);
    assert!(!r.stderr.contains("did you mean"), "{}", r.stderr);
}

#[test]
fn after_deleting_the_current_context_the_next_command_names_the_others() {
    let env = TestEnv::new();
    let url = format!("http://127.0.0.1:{}", free_port());
    save(&env, "staging", &url, "stackstate", "svctok-x", false);
    save(&env, "prod", &url, "stackstate", "svctok-y", false);
    run(env.sts().args(["context", "delete", "--name", "prod"])).ok();
    let r = run(env.sts().args(["service-token", "list"])).fails(1);
    assert!(
        r.stderr
            .contains("no context is current: `sts context use <one of staging>`"),
        "{}",
        r.stderr
    );
}

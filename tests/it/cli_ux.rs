//! Issue 14 end to end: positional forms, `context use` and `rename`, deleting the current
//! context, the note when `context save` switches the current context, the keyring checked
//! before any request, keyring labels, and the `Global options` help heading. The built `sts`
//! against a real `sts-sandbox` and a real gnome-keyring on a private session bus.

use serde_json::{Value, json};

use crate::cli_util::run;
use crate::common::secret_service::{SecretService, empty_runtime_dir};
use crate::common::{Sandbox, TestEnv};

/// `sts` for this user, with the session bus of `keyring`.
fn sts_with(env: &TestEnv, keyring: &SecretService) -> assert_cmd::Command {
    let mut cmd = env.sts();
    for (k, v) in keyring.env() {
        cmd.env(k, v);
    }
    cmd
}

fn save(env: &TestEnv, keyring: &SecretService, name: &str, url: &str, token: &str) -> String {
    let out = run(sts_with(env, keyring)
        .args(["context", "save", "--name", name, "--url", url])
        .args(["--service-token", token]))
    .ok();
    assert!(
        out.stdout.contains(&format!("✅ Saved context: '{name}'")),
        "{}",
        out.stdout
    );
    out.stderr
}

/// The `label = …` lines `secret-tool search --all service sts` prints.
fn labels(keyring: &SecretService) -> Vec<String> {
    keyring
        .secret_tool_search("sts")
        .lines()
        .filter_map(|l| l.strip_prefix("label = ").map(str::to_string))
        .collect()
}

#[test]
fn positional_forms_use_rename_and_deleting_the_current_context() {
    let sandbox = Sandbox::start();
    let prod_token = sandbox.create_service_token("prod", &["stackstate-admin"]);
    let staging_token = sandbox.create_service_token("staging", &["stackstate-admin"]);
    let keyring = SecretService::start();
    let env = TestEnv::new();

    // The first save makes its context current without a note; the second switches, and says so.
    let err = save(&env, &keyring, "prod", &sandbox.url, &prod_token);
    assert!(!err.contains("Current context set to"), "{err}");
    assert_eq!(
        labels(&keyring),
        [format!("sts: context prod ({})", sandbox.url)]
    );
    let err = save(&env, &keyring, "staging", &sandbox.url, &staging_token);
    assert_eq!(err, "Current context set to staging\n");
    let err = save(&env, &keyring, "staging", &sandbox.url, &staging_token);
    assert!(err.is_empty(), "staging was current already: {err}");

    // set NAME, use NAME, set --name NAME.
    let out = run(sts_with(&env, &keyring).args(["context", "set", "prod"])).ok();
    assert_eq!(out.stdout, "Current context set to prod\n");
    let out = run(sts_with(&env, &keyring).args(["context", "use", "staging"])).ok();
    assert_eq!(out.stdout, "Current context set to staging\n");
    run(sts_with(&env, &keyring).args(["context", "show"])).ok();
    let out = run(sts_with(&env, &keyring).args(["context", "show"])).ok();
    assert_eq!(out.stdout, "staging\n");
    run(sts_with(&env, &keyring).args(["context", "use", "missing"])).fails(8);
    run(sts_with(&env, &keyring).args(["context", "set", "prod", "--name", "staging"])).fails(3);
    run(sts_with(&env, &keyring).args(["context", "set"])).fails(3);

    // validate NAME.
    let out = run(sts_with(&env, &keyring).args(["context", "validate", "prod"])).ok();
    assert!(
        out.stdout.contains("✅ Context prod is valid."),
        "{}",
        out.stdout
    );

    // rename OLD NEW: the same secret under the new name, the current context follows.
    let out = run(sts_with(&env, &keyring).args(["context", "rename", "staging", "live"])).ok();
    assert_eq!(out.stdout, "✅ Renamed context 'staging' to 'live'\n");
    let out = run(sts_with(&env, &keyring).args(["context", "show"])).ok();
    assert_eq!(out.stdout, "live\n");
    let found = keyring.secret_tool_search("sts");
    assert_eq!(found.matches(&staging_token).count(), 1, "{found}");
    let mut labels_now = labels(&keyring);
    labels_now.sort();
    assert_eq!(
        labels_now,
        [
            format!("sts: context live ({})", sandbox.url),
            format!("sts: context prod ({})", sandbox.url),
        ],
        "the item was relabelled"
    );
    let out = run(sts_with(&env, &keyring).args([
        "--context",
        "live",
        "service-token",
        "list",
        "-o",
        "json",
    ]))
    .ok();
    assert_eq!(out.json()["service-tokens"].as_array().unwrap().len(), 2);
    // A NEW that exists is exit 3, and nothing changes.
    run(sts_with(&env, &keyring).args(["context", "rename", "live", "prod"])).fails(3);
    run(sts_with(&env, &keyring).args(["context", "rename", "nope", "other"])).fails(8);
    let out =
        run(sts_with(&env, &keyring).args(["context", "rename", "prod", "old-prod", "-o", "json"]))
            .ok();
    assert_eq!(
        out.json(),
        json!({"renamed-context": {"from": "prod", "to": "old-prod"}})
    );
    run(sts_with(&env, &keyring).args(["--context", "old-prod", "service-token", "list"])).ok();

    // delete NAME: the current context may go, with a warning; then the last one.
    let out = run(sts_with(&env, &keyring).args(["context", "delete", "live"])).ok();
    assert_eq!(out.stdout, "✅ Deleted context 'live'\n");
    assert_eq!(out.stderr, "⚠️ no context is current now\n");
    assert!(!keyring.secret_tool_search("sts").contains(&staging_token));
    let out = run(sts_with(&env, &keyring).args(["context", "list", "-o", "json"])).ok();
    let contexts = out.json()["contexts"].clone();
    assert_eq!(contexts.as_array().unwrap().len(), 1, "{contexts}");
    assert_eq!(contexts[0]["current"], Value::Bool(false));
    let out = run(sts_with(&env, &keyring).args(["context", "delete", "--name", "old-prod"])).ok();
    assert_eq!(out.stdout, "✅ Deleted context 'old-prod'\n");
    assert_eq!(out.stderr, "", "old-prod was not current");
    let out = run(sts_with(&env, &keyring).args(["context", "list"])).ok();
    assert_eq!(out.stdout, "No contexts found.\n");
    assert!(labels(&keyring).is_empty(), "{:?}", labels(&keyring));
}

#[test]
fn rotate_takes_the_id_as_a_positional_argument_or_by_id() {
    let sandbox = Sandbox::start();
    let env = TestEnv::new();
    let sts = || env.sts_at(&sandbox.url, &sandbox.admin_token, true);
    sandbox.create_service_token("ci", &["stackstate-admin"]);
    let list = |what: &str| -> Vec<i64> {
        let out = run(sts().args([what, "list", "-o", "json"])).ok();
        let key = if what == "service-token" {
            "service-tokens"
        } else {
            "ingestion-api-keys"
        };
        out.json()[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect()
    };
    let old = list("service-token")[0];
    let out = run(sts().args(["service-token", "rotate", &old.to_string(), "-o", "json"])).ok();
    let v = out.json();
    assert_eq!(v["old-id"], old);
    assert_eq!(v["old-deleted"], true);
    let new = list("service-token")[0];
    assert_ne!(new, old);
    run(sts().args([
        "service-token",
        "rotate",
        "--id",
        &new.to_string(),
        "--keep-old",
    ]))
    .ok();
    assert_eq!(list("service-token").len(), 2);
    run(sts().args(["service-token", "rotate", "1", "--id", "2"])).fails(3);
    run(sts().args(["service-token", "rotate"])).fails(3);

    run(sts().args(["ingestion-api-key", "create", "--name", "otel"])).ok();
    let old = list("ingestion-api-key")[0];
    let out = run(sts().args([
        "ingestion-api-key",
        "rotate",
        &old.to_string(),
        "-o",
        "json",
    ]))
    .ok();
    assert_eq!(out.json()["old-id"], old);
    let keys = list("ingestion-api-key");
    assert_eq!(keys.len(), 1);
    assert_ne!(keys[0], old);
}

#[test]
fn without_a_session_bus_save_fails_before_any_request() {
    let sandbox = Sandbox::start();
    let token = sandbox.create_service_token("ctx", &["stackstate-admin"]);
    let before = sandbox.api_request_total();
    let env = TestEnv::new();
    let (_runtime, runtime) = empty_runtime_dir();
    let out = run(env
        .sts()
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("XDG_RUNTIME_DIR", &runtime)
        .args([
            "context",
            "save",
            "--url",
            &sandbox.url,
            "--service-token",
            &token,
        ]))
    .fails(6);
    assert!(out.stderr.contains("--insecure-storage"), "{}", out.stderr);
    assert_eq!(
        sandbox.api_request_total(),
        before,
        "a request was sent before the keyring was checked"
    );
    assert!(!env.config_home().join("sts/config.toml").exists());

    // The same save validates and stores with --insecure-storage.
    run(env
        .sts()
        .env("XDG_RUNTIME_DIR", &runtime)
        .args([
            "context",
            "save",
            "--url",
            &sandbox.url,
            "--service-token",
            &token,
        ])
        .arg("--insecure-storage"))
    .ok();
    assert_eq!(sandbox.request_count("GET /api/server/info"), 1);
}

#[test]
fn help_lists_the_command_s_own_options_first_and_global_ones_under_their_heading() {
    let env = TestEnv::new();
    let out = run(env.sts().args(["service-token", "create", "--help"])).ok();
    let help = out.stdout;
    // Piped: the command's own options, then one short global section (CONTRACT §14).
    assert!(
        help.lines().count() <= 45,
        "{} lines:\n{help}",
        help.lines().count()
    );
    let own = help.find("--roles").expect("own option listed");
    let heading = help
        .find("\nGlobal options (all of them: sts --help):\n")
        .expect("a Global options heading that points to sts --help");
    let global = help.find("--context <NAME>").expect("global option listed");
    assert!(own < heading && heading < global, "{help}");
    for hidden in [
        "--url",
        "--api-token",
        "--ca-cert-path",
        "--k8s-sa-token",
        "-V,",
    ] {
        assert!(!help.contains(hidden), "{hidden} in\n{help}");
    }
    // All of them in `sts --help`, the top line naming every platform, `--api-token` saying how
    // each platform sends it.
    let top = run(env.sts().arg("--help")).ok().stdout;
    let flat = top.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.starts_with(
            "Command-line client for the service tokens of StackState, Posit Connect and Qualytics"
        ),
        "{top}"
    );
    for global in [
        "--url <URL>",
        "--api-token <TOKEN>",
        "--ca-cert-path",
        "-V, --version",
    ] {
        assert!(top.contains(global), "{global} not in\n{top}");
    }
    assert!(
        flat.contains("sent as X-API-Token (StackState), Authorization: Key TOKEN (Posit Connect), Authorization: Bearer TOKEN (Qualytics);"),
        "{top}"
    );

    let out = run(env.sts().args(["context", "save", "--help"])).ok();
    let help = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains("[env: STS_CLI_URL] (`context save` takes it from the command line only)"),
        "{help}"
    );
    let out = run(env.sts().args(["context", "rename", "--help"])).ok();
    assert!(out.stdout.contains("<OLD> <NEW>"), "{}", out.stdout);
}

#[test]
fn ingestion_keys_offer_no_service_token_flags_and_no_sub_command_takes_v() {
    let env = TestEnv::new();
    for (sub, absent) in [
        ("list", &["--personal", "--unused-for"][..]),
        ("delete", &["--revoke"][..]),
    ] {
        let help = run(env.sts().args(["ingestion-api-key", sub, "--help"]))
            .ok()
            .stdout;
        for flag in absent {
            assert!(!help.contains(flag), "{flag} in\n{help}");
        }
    }
    // The service tokens' list still offers them.
    let help = run(env.sts().args(["service-token", "list", "--help"]))
        .ok()
        .stdout;
    assert!(
        help.contains("--personal") && help.contains("--unused-for"),
        "{help}"
    );
    // And `--personal` given anyway is refused before any request.
    let r = run(env.sts_at("http://127.0.0.1:9", "t", true).args([
        "ingestion-api-key",
        "list",
        "--personal",
    ]));
    assert_eq!(r.code, 3, "{}", r.stderr);

    for args in [
        &["service-token", "list", "-V"][..],
        &["context", "--version"],
        &["ingestion-api-key", "create", "-V"],
    ] {
        let r = run(env.sts().args(args));
        assert_eq!(r.code, 3, "{args:?}: {}{}", r.stdout, r.stderr);
        assert_eq!(r.stdout, "", "{args:?}");
        let first = r.stderr.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("❌ unexpected argument '-"),
            "{}",
            r.stderr
        );
        assert!(
            r.stderr.contains("`sts --version` prints the version"),
            "{}",
            r.stderr
        );
    }
    let r = run(env.sts().arg("-V")).ok();
    assert!(r.stdout.starts_with("sts "), "{}", r.stdout);
}

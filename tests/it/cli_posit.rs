//! `sts` against Posit Connect (CONTRACT §9, §9.1): the built binary against a real
//! `sts-sandbox --platform posit-connect`, contexts in a real gnome-keyring Secret Service, the
//! clock moved instead of waiting.

use crate::cli_util::{Run, run};
use crate::common::secret_service::SecretService;
use crate::common::{Prism, Sandbox, TestEnv, send_json};
use serde_json::{Value, json};

const TOKENS: &str = "/v1/system/service-tokens";
const PUBLISHER_KEY: &str = "publisher-key-0123456789";

fn posit() -> Sandbox {
    Sandbox::start_platform("posit-connect", &["--publisher-key", PUBLISHER_KEY])
}

/// `sts` on Posit Connect by env vars, as the sandbox's administrator.
fn sts(env: &TestEnv, sb: &Sandbox) -> assert_cmd::Command {
    let mut cmd = env.sts_at(&sb.url, &sb.admin_token, true);
    cmd.env("STS_CLI_PLATFORM", "posit-connect");
    cmd
}

fn with_keyring(mut cmd: assert_cmd::Command, keyring: &SecretService) -> assert_cmd::Command {
    for (k, v) in keyring.env() {
        cmd.env(k, v);
    }
    cmd
}

/// The tokens as the server lists them.
fn server_tokens(sb: &Sandbox) -> Vec<Value> {
    let (status, list) = sb.admin("GET", TOKENS, None);
    assert_eq!(status, 200, "{list}");
    list.as_array().expect("array").clone()
}

fn named<'a>(tokens: &'a [Value], name: &str) -> Vec<&'a Value> {
    tokens.iter().filter(|t| t["name"] == name).collect()
}

/// Every request the sandbox served under `/__api__`.
fn api_requests(sb: &Sandbox) -> u64 {
    match sb.requests() {
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| k.contains(" /__api__/"))
            .filter_map(|(_, v)| v.as_u64())
            .sum(),
        other => panic!("requests: {other}"),
    }
}

/// `GET /scim/v2/Users` at the server's root with a service token, as an identity provider.
fn scim_use(sb: &Sandbox, key: &str) -> u16 {
    let (status, _) = send_json(
        sb.http()
            .get(format!("{}/scim/v2/Users", sb.url))
            .header("Authorization", format!("Bearer {key}")),
        None,
    );
    status
}

fn created_key(r: &Run) -> String {
    r.stdout
        .trim()
        .strip_prefix("✅ Service token created: ")
        .unwrap_or_else(|| panic!("no created line: {}", r.stdout))
        .to_string()
}

/// The column names of a table's header line.
fn header(table: &str) -> Vec<String> {
    table
        .lines()
        .next()
        .unwrap_or("")
        .split(" | ")
        .map(|c| c.trim().to_string())
        .collect()
}

fn row_of<'a>(table: &'a str, needle: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no row with {needle}:\n{table}"))
}

#[test]
fn the_whole_posit_flow_with_a_context_in_the_keyring() {
    let sb = posit();
    let keyring = SecretService::start();
    let env = TestEnv::new();

    // The context: saved with its platform, validated with GET /v1/user, key in the keyring.
    let save = run(with_keyring(env.sts(), &keyring)
        .args([
            "context",
            "save",
            "--name",
            "scim",
            "--platform",
            "posit-connect",
        ])
        .args(["--url", &sb.url, "--api-token", "-"])
        .write_stdin(format!("{}\n", sb.admin_token)))
    .ok();
    assert!(
        save.stdout.contains(&format!(
            "✅ Connection verified to {} (Posit Connect, user ",
            sb.url
        )),
        "{}",
        save.stdout
    );
    let config = std::fs::read_to_string(env.config_home().join("sts/config.toml")).unwrap();
    assert!(config.contains("platform = \"posit-connect\""), "{config}");
    assert!(!config.contains(&sb.admin_token), "{config}");
    let list = run(with_keyring(env.sts(), &keyring).args(["context", "list"])).ok();
    assert_eq!(
        header(&list.stdout),
        ["NAME", "URL", "PLATFORM", "AUTH", "STORAGE", "CURRENT"]
    );
    assert!(list.stdout.contains("posit-connect"), "{}", list.stdout);
    let ctx = || with_keyring(env.sts(), &keyring);

    // Create with two scopes: the key once on stdout, the guid on stderr; one request.
    let before = api_requests(&sb);
    let created = run(ctx()
        .args(["service-token", "create", "--name", "okta"])
        .args([
            "--scopes",
            "identity:manage",
            "--scopes",
            "nameservice:read",
        ]))
    .ok();
    assert_eq!(api_requests(&sb), before + 1);
    let key = created_key(&created);
    let guid = created
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("Service token id: "))
        .unwrap_or_else(|| panic!("no id line: {}", created.stderr))
        .to_string();
    let tokens = server_tokens(&sb);
    assert_eq!(named(&tokens, "okta")[0]["guid"], guid.as_str());
    assert_eq!(
        named(&tokens, "okta")[0]["scopes"],
        json!(["identity:manage", "nameservice:read"])
    );

    // Listed: never used, active; the key nowhere.
    let before = api_requests(&sb);
    let listed = run(ctx().args(["service-token", "list"])).ok();
    assert_eq!(api_requests(&sb), before + 1);
    assert_eq!(
        header(&listed.stdout),
        [
            "ID",
            "NAME",
            "SCOPES",
            "CREATED",
            "EXPIRATION",
            "LAST USED",
            "STATUS"
        ]
    );
    let row = row_of(&listed.stdout, &guid);
    assert!(
        row.contains("never") && row.contains("active"),
        "{}",
        listed.stdout
    );
    assert!(row.contains("[identity:manage nameservice:read]"), "{row}");
    assert!(!listed.stdout.contains(&key));

    // Used by the identity provider on SCIM, then two hours pass: LAST USED is an age.
    assert_eq!(scim_use(&sb, &key), 200);
    sb.clock(7200);
    let listed = run(ctx().args(["service-token", "list"])).ok();
    assert!(
        row_of(&listed.stdout, &guid).contains("2h ago"),
        "{}",
        listed.stdout
    );

    // A one-hour token is gone from the list once the clock passes two hours.
    let short = run(ctx()
        .args(["service-token", "create", "--name", "short"])
        .args(["--scopes", "identity:manage", "--expiration", "1h"]))
    .ok();
    let short_key = created_key(&short);
    let json = run(ctx().args(["service-token", "list", "-o", "json"]))
        .ok()
        .json();
    assert_eq!(
        named(json["service-tokens"].as_array().unwrap(), "short").len(),
        1
    );
    sb.clock(7200);
    let json = run(ctx().args(["service-token", "list", "-o", "json"]))
        .ok()
        .json();
    assert!(named(json["service-tokens"].as_array().unwrap(), "short").is_empty());
    assert_eq!(scim_use(&sb, &short_key), 401);

    // Rotate: same name and scopes, a new guid, the old one kept (its consumer needs the new
    // key first) and said so.
    let rotated = run(ctx().args(["service-token", "rotate", &guid])).ok();
    let new_key = created_key(&Run {
        code: 0,
        stdout: rotated.stdout.lines().next().unwrap_or("").to_string(),
        stderr: String::new(),
    });
    assert!(
        rotated
            .stdout
            .contains(&format!("Old service token kept: {guid}"))
    );
    assert!(
        rotated
            .stderr
            .contains(&format!("sts service-token delete {guid}")),
        "{}",
        rotated.stderr
    );
    let tokens = server_tokens(&sb);
    let okta = named(&tokens, "okta");
    assert_eq!(okta.len(), 2, "{tokens:?}");
    assert!(
        okta.iter()
            .all(|t| t["scopes"] == json!(["identity:manage", "nameservice:read"]))
    );
    assert_eq!(scim_use(&sb, &key), 200);
    assert_eq!(scim_use(&sb, &new_key), 200);
    let new_guid = okta
        .iter()
        .map(|t| t["guid"].as_str().unwrap().to_string())
        .find(|g| *g != guid)
        .unwrap();

    // --delete-old deletes it at once; JSON says so.
    let out = run(ctx().args([
        "service-token",
        "rotate",
        &new_guid,
        "--delete-old",
        "-o",
        "json",
    ]))
    .ok()
    .json();
    assert_eq!(out["old-id"], new_guid.as_str());
    assert_eq!(out["old-deleted"], true);
    assert!(out["service-token"]["key"].is_string(), "{out}");
    let tokens = server_tokens(&sb);
    assert_eq!(named(&tokens, "okta").len(), 2);
    assert!(tokens.iter().all(|t| t["guid"] != new_guid.as_str()));

    // Delete by guid: one request; a second time it is a clear 404.
    let before = api_requests(&sb);
    let deleted = run(ctx().args(["service-token", "delete", &guid])).ok();
    assert_eq!(api_requests(&sb), before + 1);
    assert_eq!(
        deleted.stdout,
        format!("✅ Service token deleted: {guid}\n")
    );
    let again = run(ctx().args(["service-token", "delete", &guid])).fails(3);
    assert!(
        again.stderr.contains(&format!("no service token {guid}")),
        "{}",
        again.stderr
    );
    // The key is in no output or file but the one create line.
    assert!(
        !std::fs::read_to_string(env.config_home().join("sts/config.toml"))
            .unwrap()
            .contains(&key)
    );
}

#[test]
fn scopes_list_and_one_request_per_command() {
    let sb = posit();
    let env = TestEnv::new();
    let before = api_requests(&sb);
    let out = run(sts(&env, &sb).args(["service-token", "scopes"])).ok();
    assert_eq!(api_requests(&sb), before + 1);
    assert!(out.stdout.starts_with("SCOPE"), "{}", out.stdout);
    assert!(out.stdout.contains("identity:manage"));
    assert!(out.stdout.contains("nameservice:read"));
    let json = run(sts(&env, &sb).args(["service-token", "scopes", "-o", "json"]))
        .ok()
        .json();
    assert_eq!(json["service-token-scopes"].as_array().unwrap().len(), 2);
}

#[test]
fn publisher_keys_wrong_keys_and_server_errors() {
    let sb = posit();
    let env = TestEnv::new();
    // A publisher's key may not manage tokens: exit 3 with the server's text.
    let r = run(env
        .sts_at(&sb.url, PUBLISHER_KEY, true)
        .env("STS_CLI_PLATFORM", "posit-connect")
        .args([
            "service-token",
            "create",
            "--name",
            "p",
            "--scopes",
            "identity:manage",
        ]))
    .fails(3);
    assert!(r.stderr.starts_with("❌ 403 Forbidden: "), "{}", r.stderr);
    // And `context save` warns that the user is no administrator.
    let save = run(env
        .sts()
        .args([
            "context",
            "save",
            "--platform",
            "posit-connect",
            "--insecure-storage",
        ])
        .args(["--url", &sb.url, "--api-token", PUBLISHER_KEY]))
    .ok();
    assert!(
        save.stderr.contains("not an administrator"),
        "{}",
        save.stderr
    );
    // A wrong key is exit 4.
    run(env
        .sts_at(&sb.url, "wrong-key-0123456789", true)
        .env("STS_CLI_PLATFORM", "posit-connect")
        .args(["service-token", "list"]))
    .fails(4);
    // A server error body shows `error`, and JSON keeps Posit's code.
    let r = run(sts(&env, &sb).args([
        "service-token",
        "create",
        "--name",
        "bad",
        "--scopes",
        "no-such-scope",
        "-o",
        "json",
    ]))
    .fails(3);
    let e = r.stderr_json();
    assert_eq!(e["status"], 400);
    assert!(e["server-code"].is_i64(), "{e}");
    assert!(
        e["error-message"]
            .as_str()
            .unwrap()
            .starts_with("400 Bad Request: ")
    );
}

#[test]
fn what_connect_lacks_is_refused_before_any_request() {
    let sb = posit();
    let env = TestEnv::new();
    let guid = "3c1f5b8e-0a2d-4e6f-9b7a-1d2c3e4f5a6b";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["service-token", "create", "--name", "x", "--roles", "a"],
            "scopes, not roles",
        ),
        (
            vec!["service-token", "create", "--name", "x"],
            "--scopes needs at least one scope",
        ),
        (vec!["service-token", "revoke", guid], "no revoke"),
        (vec!["service-token", "restore", guid], "no revoke"),
        (vec!["service-token", "delete", "107484341630693"], "guid"),
        (vec!["service-token", "rotate", "12"], "guid"),
        (
            vec!["service-token", "rotate", guid, "--save-to-context", "x"],
            "--save-to-context",
        ),
        (vec!["ingestion-api-key", "list"], "only on StackState"),
        (
            vec!["ingestion-api-key", "create", "--name", "k"],
            "only on StackState",
        ),
        (
            vec!["service-token", "list", "--api-path", "/x"],
            "--api-path",
        ),
        (vec!["service-token", "list", "--personal"], "Qualytics"),
        (vec!["service-user", "list"], "Qualytics"),
    ];
    for (args, says) in cases {
        let r = run(sts(&env, &sb).args(&args)).fails(3);
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
    }
    // A Connect service token as the management credential.
    let r = run(env
        .sts()
        .env("STS_CLI_URL", &sb.url)
        .env("STS_CLI_PLATFORM", "posit-connect")
        .env("STS_CLI_SERVICE_TOKEN", "some-service-token")
        .args(["service-token", "list"]))
    .fails(3);
    assert!(
        r.stderr.contains("cannot manage service tokens"),
        "{}",
        r.stderr
    );
    assert_eq!(api_requests(&sb), 0, "{}", sb.requests());
}

#[test]
fn connect_server_and_connect_api_key_alone_run_a_list() {
    let sb = posit();
    let env = TestEnv::new();
    let (status, _) = sb.admin(
        "POST",
        TOKENS,
        Some(json!({"name": "from-env", "scopes": ["identity:manage"]})),
    );
    assert_eq!(status, 200);
    let r = run(env
        .sts()
        .env("CONNECT_SERVER", &sb.url)
        .env("CONNECT_API_KEY", &sb.admin_token)
        .args(["service-token", "list"]))
    .ok();
    assert!(r.stdout.contains("from-env"), "{}", r.stdout);
    // With the base path on the URL it is not doubled.
    let r = run(env
        .sts()
        .env("CONNECT_SERVER", format!("{}/__api__/", sb.url))
        .env("CONNECT_API_KEY", &sb.admin_token)
        .args(["service-token", "list"]))
    .ok();
    assert!(r.stdout.contains("from-env"), "{}", r.stdout);
    // CONNECT_API_KEY is never sent to a StackState server.
    let ss = Sandbox::start();
    let r = run(env
        .sts()
        .env("STS_CLI_URL", &ss.url)
        .env("CONNECT_API_KEY", &sb.admin_token)
        .args(["service-token", "list"]))
    .fails(1);
    assert!(r.stderr.contains("no token"), "{}", r.stderr);
    assert_eq!(ss.api_request_total(), 0);
}

#[test]
fn a_context_of_another_platform_on_its_own_url_is_refused() {
    let sb = posit();
    let env = TestEnv::new();
    run(env
        .sts()
        .args([
            "context",
            "save",
            "--platform",
            "posit-connect",
            "--insecure-storage",
        ])
        .args(["--url", &sb.url, "--api-token", &sb.admin_token]))
    .ok();
    let r = run(env
        .sts()
        .args(["--platform", "stackstate", "service-token", "list"]))
    .fails(3);
    assert!(r.stderr.contains("posit-connect"), "{}", r.stderr);
    // The saved context alone: Posit Connect.
    run(env.sts().args(["service-token", "list"])).ok();
}

#[test]
fn every_posit_operation_conforms_to_its_document_through_prism() {
    let sb = posit();
    let prism = Prism::proxy_for("posit-connect", &sb.url);
    let env = TestEnv::new();
    let through = || {
        let mut cmd = env.sts_at(&prism.url, &sb.admin_token, true);
        cmd.env("STS_CLI_PLATFORM", "posit-connect");
        cmd
    };
    run(env
        .sts()
        .args([
            "context",
            "save",
            "--platform",
            "posit-connect",
            "--insecure-storage",
        ])
        .args(["--url", &prism.url, "--api-token", &sb.admin_token]))
    .ok();
    run(env.sts().args(["context", "validate"])).ok();
    run(through().args(["service-token", "scopes"])).ok();
    let created = run(through()
        .args(["service-token", "create", "--name", "p"])
        .args(["--scopes", "identity:manage", "--expiration", "30d"]))
    .ok();
    let guid = created
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("Service token id: "))
        .unwrap()
        .to_string();
    run(through().args([
        "service-token",
        "create",
        "--name",
        "q",
        "--scopes",
        "nameservice:read",
    ]))
    .ok();
    run(through().args(["service-token", "list"])).ok();
    run(through().args(["service-token", "list", "-o", "json"])).ok();
    // Rotated: q, whose scope has no SCIM use, so its check stays inside the document (a
    // rotation's SCIM check is tested without Prism, in cli_deliver).
    let tokens = server_tokens(&sb);
    let q = named(&tokens, "q")[0]["guid"].as_str().unwrap().to_string();
    run(through().args(["service-token", "rotate", &q, "--delete-old"])).ok();
    run(through().args(["service-token", "delete", &guid])).ok();
    run(through().args(["service-token", "delete", &guid])).fails(3);
    prism.assert_no_error_violations();
}

#[test]
fn random_answers_never_panic_and_never_show_a_key_from_a_list() {
    let env = TestEnv::new();
    for seed in [1, 2, 3, 4, 5] {
        let prism = Prism::mock_dynamic_for("posit-connect", seed);
        let sts = || {
            let mut cmd = env.sts_at(&prism.url, "some-admin-key-0123", true);
            cmd.env("STS_CLI_PLATFORM", "posit-connect");
            cmd
        };
        run(sts().args(["service-token", "list"])).ok();
        let json = run(sts().args(["service-token", "list", "-o", "json"]))
            .ok()
            .json();
        for t in json["service-tokens"].as_array().unwrap() {
            assert!(t.get("key").is_none(), "seed {seed}: {t}");
        }
        for fmt in ["text", "json"] {
            run(sts().args([
                "service-token",
                "delete",
                "3c1f5b8e-0a2d-4e6f-9b7a-1d2c3e4f5a6b",
                "-o",
                fmt,
            ]))
            .ok();
        }
        let scopes = run(sts().args(["service-token", "scopes"]));
        assert!(scopes.code == 0 || scopes.code == 3, "{}", scopes.stderr);
        scopes.no_panic();
    }
}

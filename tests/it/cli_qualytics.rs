//! `sts` against Qualytics (CONTRACT §9, §9.2): the built binary against a real
//! `sts-sandbox --platform qualytics`, contexts in a real gnome-keyring Secret Service, the clock
//! moved instead of waiting.

use crate::cli_util::{Run, run};
use crate::common::secret_service::SecretService;
use crate::common::{Prism, Sandbox, TestEnv, now_ms};
use serde_json::{Value, json};

const DAY_MS: i64 = 86_400_000;

fn qualytics() -> Sandbox {
    Sandbox::start_platform(
        "qualytics",
        &[
            "--service-user",
            "Nightly Loader:Admin",
            "--service-user",
            "Viewer Bot:Member",
        ],
    )
}

/// `sts` on Qualytics by env vars, as the sandbox's Admin.
fn sts(env: &TestEnv, sb: &Sandbox) -> assert_cmd::Command {
    let mut cmd = env.sts_at(&sb.url, &sb.admin_token, true);
    cmd.env("STS_CLI_PLATFORM", "qualytics");
    cmd
}

/// `sts` on Qualytics with this token.
fn sts_as(env: &TestEnv, sb: &Sandbox, token: &str) -> assert_cmd::Command {
    let mut cmd = env.sts_at(&sb.url, token, false);
    cmd.env("STS_CLI_PLATFORM", "qualytics");
    cmd
}

fn api_requests(sb: &Sandbox) -> u64 {
    sb.api_request_total()
}

fn created(r: &Run) -> (String, String) {
    let secret = r
        .stdout
        .trim()
        .strip_prefix("✅ Service token created: ")
        .unwrap_or_else(|| panic!("no created line: {}", r.stdout))
        .to_string();
    let id = r
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("Service token id: "))
        .unwrap_or_else(|| panic!("no id line: {}", r.stderr))
        .to_string();
    (secret, id)
}

fn service_tokens(env: &TestEnv, sb: &Sandbox) -> Vec<Value> {
    run(sts(env, sb).args(["service-token", "list", "-o", "json"]))
        .ok()
        .json()["service-tokens"]
        .as_array()
        .unwrap()
        .clone()
}

fn by_id<'a>(tokens: &'a [Value], id: &str) -> &'a Value {
    tokens
        .iter()
        .find(|t| t["id"].as_i64().map(|n| n.to_string()).as_deref() == Some(id))
        .unwrap_or_else(|| panic!("no token {id} in {tokens:?}"))
}

fn row_of<'a>(table: &'a str, id: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.split(" | ").next().map(str::trim) == Some(id))
        .unwrap_or_else(|| panic!("no row {id}:\n{table}"))
}

#[test]
fn service_users_are_listed_and_created() {
    let sb = qualytics();
    let env = TestEnv::new();
    let list = run(sts(&env, &sb).args(["service-user", "list"])).ok();
    assert!(
        list.stdout.contains("nightly_loader@service"),
        "{}",
        list.stdout
    );
    assert!(list.stdout.contains("viewer_bot@service"));
    let made = run(sts(&env, &sb).args([
        "service-user",
        "create",
        "--name",
        "Ops Bot",
        "--role",
        "Member",
        "--team",
        "Ops",
    ]))
    .ok();
    assert!(
        made.stdout
            .starts_with("✅ Service user created: ops_bot@service (id "),
        "{}",
        made.stdout
    );
    let json = run(sts(&env, &sb).args(["service-user", "list", "-o", "json"]))
        .ok()
        .json();
    let ops = json["service-users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user_id"] == "ops_bot@service")
        .cloned()
        .unwrap();
    assert_eq!(ops["teams"], json!(["Public", "Ops"]));
}

#[test]
fn tokens_by_id_and_by_login_with_their_checks() {
    let sb = qualytics();
    let env = TestEnv::new();
    let users = run(sts(&env, &sb).args(["service-user", "list", "-o", "json"]))
        .ok()
        .json();
    let loader_id = users["service-users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user_id"] == "nightly_loader@service")
        .unwrap()["id"]
        .to_string();

    // By numeric id: one request; 30 days are 29–30 days out.
    let before = api_requests(&sb);
    let r = run(sts(&env, &sb).args([
        "service-token",
        "create",
        "--name",
        "loader-prod",
        "--service-user",
        &loader_id,
        "--expiration",
        "30d",
    ]))
    .ok();
    assert_eq!(api_requests(&sb), before + 1);
    let (_, id) = created(&r);
    let tokens = service_tokens(&env, &sb);
    let t = by_id(&tokens, &id);
    let expires = chrono::DateTime::parse_from_rfc3339(t["expiration"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    let days = (expires - now_ms()) as f64 / DAY_MS as f64;
    assert!((29.0..=30.0).contains(&days), "{days}");

    // By login: the name is resolved first (a second request).
    let before = api_requests(&sb);
    run(sts(&env, &sb).args([
        "service-token",
        "create",
        "--name",
        "loader-dev",
        "--service-user",
        "nightly_loader@service",
    ]))
    .ok();
    assert_eq!(api_requests(&sb), before + 2);

    // A duplicate name for that user: exit 3, said clearly.
    let r = run(sts(&env, &sb).args([
        "service-token",
        "create",
        "--name",
        "loader-dev",
        "--service-user",
        "Nightly Loader",
    ]))
    .fails(3);
    assert!(
        r.stderr.contains(
            "a token named 'loader-dev' already exists for service user nightly_loader@service"
        ),
        "{}",
        r.stderr
    );
    // An unknown service user: exit 3 naming the candidates.
    let r = run(sts(&env, &sb).args([
        "service-token",
        "create",
        "--name",
        "x",
        "--service-user",
        "nobody@service",
    ]))
    .fails(3);
    assert!(r.stderr.contains("nightly_loader@service"), "{}", r.stderr);

    // Refused before any request.
    let before = api_requests(&sb);
    let long = "n".repeat(300);
    for (args, says) in [
        (
            vec!["--name", "y", "--service-user", "2", "--expiration", "400d"],
            "at most 365",
        ),
        (
            vec!["--name", "y", "--service-user", "2", "--roles", "Admin"],
            "roles",
        ),
        (
            vec!["--name", long.as_str(), "--service-user", "2"],
            "at most 255",
        ),
        (vec!["--name", "y"], "--service-user"),
        (
            vec!["--name", "y", "--service-user", "2", "--scopes", "a"],
            "scopes",
        ),
    ] {
        let r = run(sts(&env, &sb).args(["service-token", "create"]).args(&args)).fails(3);
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
    }
    for args in [
        vec!["service-token", "scopes"],
        vec!["ingestion-api-key", "list"],
        vec!["service-token", "delete", "abc"],
    ] {
        run(sts(&env, &sb).args(&args)).fails(3);
    }
    assert_eq!(api_requests(&sb), before);
}

#[test]
fn a_token_acts_as_its_user_and_its_use_shows() {
    let sb = qualytics();
    let env = TestEnv::new();
    let (admin_token, id) = created(
        &run(sts(&env, &sb).args([
            "service-token",
            "create",
            "--name",
            "loader",
            "--service-user",
            "nightly_loader@service",
        ]))
        .ok(),
    );
    let list = run(sts(&env, &sb).args(["service-token", "list"])).ok();
    let row = row_of(&list.stdout, &id);
    assert!(row.contains("never") && row.contains("active"), "{row}");
    assert!(
        row.contains("nightly_loader@service") && row.contains("Admin"),
        "{row}"
    );

    // The token authenticates as its service user: its own list.
    let own =
        run(sts_as(&env, &sb, &admin_token).args(["service-token", "list", "--personal"])).ok();
    assert!(own.stdout.contains("loader"), "{}", own.stdout);
    sb.clock(3 * 3600);
    let list = run(sts(&env, &sb).args(["service-token", "list"])).ok();
    assert!(
        row_of(&list.stdout, &id).contains("3h ago"),
        "{}",
        list.stdout
    );

    // A Member's token may not list the service tokens: exit 3.
    let (member_token, _) = created(
        &run(sts(&env, &sb).args([
            "service-token",
            "create",
            "--name",
            "viewer",
            "--service-user",
            "viewer_bot@service",
        ]))
        .ok(),
    );
    let r = run(sts_as(&env, &sb, &member_token).args(["service-token", "list"])).fails(3);
    assert!(r.stderr.starts_with("❌ 403 Forbidden"), "{}", r.stderr);
    // The JWT's own expiry shows in the connection line; none here.
    let r = run(env
        .sts()
        .args([
            "context",
            "save",
            "--platform",
            "qualytics",
            "--insecure-storage",
        ])
        .args(["--url", &sb.url, "--service-token", &member_token]))
    .ok();
    assert!(r.stdout.contains("(Qualytics)"), "{}", r.stdout);
}

#[test]
fn revoke_restore_delete_and_expiry() {
    let sb = qualytics();
    let env = TestEnv::new();
    let (secret, id) = created(
        &run(sts(&env, &sb).args([
            "service-token",
            "create",
            "--name",
            "loader",
            "--service-user",
            "nightly_loader@service",
            "--expiration",
            "10d",
        ]))
        .ok(),
    );
    let works = |code: i32| {
        run(sts_as(&env, &sb, &secret).args(["service-token", "list", "--personal"])).fails(code);
    };
    works(0);
    // An active token is not deleted: exit 3 with the hint.
    let r = run(sts(&env, &sb).args(["service-token", "delete", &id])).fails(3);
    assert!(
        r.stderr.contains(&format!(
            "service token {id} is active: revoke it first (sts service-token revoke {id}), or delete --revoke"
        )),
        "{}",
        r.stderr
    );
    // Revoke: the token stops working (401, exit 4); restore: it works again.
    let before = api_requests(&sb);
    let r = run(sts(&env, &sb).args(["service-token", "revoke", &id])).ok();
    assert_eq!(api_requests(&sb), before + 1);
    assert_eq!(r.stdout, format!("✅ Service token revoked: {id}\n"));
    works(4);
    let list = run(sts(&env, &sb).args(["service-token", "list"])).ok();
    assert!(
        row_of(&list.stdout, &id).contains("revoked"),
        "{}",
        list.stdout
    );
    let r = run(sts(&env, &sb).args(["service-token", "restore", &id, "-o", "json"])).ok();
    assert_eq!(r.json()["restored-service-token"].to_string(), id);
    works(0);

    // Expired (the clock passes 10 days): shown expired, cannot be restored.
    sb.clock(11 * 86_400);
    let list = run(sts(&env, &sb).args(["service-token", "list"])).ok();
    assert!(
        row_of(&list.stdout, &id).contains("expired"),
        "{}",
        list.stdout
    );
    works(4);
    run(sts(&env, &sb).args(["service-token", "revoke", &id])).ok();
    run(sts(&env, &sb).args(["service-token", "restore", &id])).fails(3);

    // delete --revoke: two requests for an active token.
    let (_, other) = created(
        &run(sts(&env, &sb).args([
            "service-token",
            "create",
            "--name",
            "other",
            "--service-user",
            "2",
        ]))
        .ok(),
    );
    let before = api_requests(&sb);
    run(sts(&env, &sb).args(["service-token", "delete", &other, "--revoke"])).ok();
    assert_eq!(api_requests(&sb), before + 2);
    let ids: Vec<String> = service_tokens(&env, &sb)
        .iter()
        .map(|t| t["id"].to_string())
        .collect();
    assert!(!ids.contains(&other), "{ids:?}");
}

#[test]
fn rotate_revokes_the_old_token_and_saves_the_new_one() {
    let sb = qualytics();
    let keyring = SecretService::start();
    let env = TestEnv::new();
    let (old_secret, old_id) = created(
        &run(sts(&env, &sb).args([
            "service-token",
            "create",
            "--name",
            "pipeline",
            "--service-user",
            "nightly_loader@service",
            "--expiration",
            "90d",
        ]))
        .ok(),
    );
    // A context that uses the old token, in the keyring.
    let with_keyring = || {
        let mut cmd = env.sts();
        for (k, v) in keyring.env() {
            cmd.env(k, v);
        }
        cmd
    };
    run(with_keyring()
        .args([
            "context",
            "save",
            "--name",
            "etl",
            "--platform",
            "qualytics",
        ])
        .args(["--url", &sb.url, "--service-token", "-"])
        .write_stdin(format!("{old_secret}\n")))
    .ok();

    let r = run(with_keyring()
        .env("STS_CLI_URL", &sb.url)
        .env("STS_CLI_API_TOKEN", &sb.admin_token)
        .env("STS_CLI_PLATFORM", "qualytics")
        .args([
            "service-token",
            "rotate",
            &old_id,
            "--save-to-context",
            "etl",
        ]))
    .ok();
    assert!(
        r.stdout
            .contains("Context 'etl' now uses the new service token"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains(&format!("Old service token revoked: {old_id}")),
        "{}",
        r.stdout
    );
    let tokens = service_tokens(&env, &sb);
    let old = by_id(&tokens, &old_id);
    assert_eq!(old["active"], false);
    let fresh: Vec<&Value> = tokens
        .iter()
        .filter(|t| {
            t["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("pipeline (rotated "))
        })
        .collect();
    assert_eq!(fresh.len(), 1, "{tokens:?}");
    assert_eq!(fresh[0]["active"], true);
    assert_eq!(fresh[0]["user"]["user_id"], "nightly_loader@service");
    // The context works with the new token; the old one no longer does.
    let v = run(with_keyring().args(["context", "validate", "etl"])).ok();
    assert!(
        v.stdout.contains("(Qualytics, token expires "),
        "{}",
        v.stdout
    );
    run(with_keyring().args(["--context", "etl", "service-token", "list", "--personal"])).ok();
    run(sts_as(&env, &sb, &old_secret).args(["service-token", "list", "--personal"])).fails(4);
}

#[test]
fn qualytics_env_vars_alone_run_a_list() {
    let sb = qualytics();
    let env = TestEnv::new();
    run(sts(&env, &sb).args([
        "service-token",
        "create",
        "--name",
        "from-env",
        "--service-user",
        "2",
    ]))
    .ok();
    let r = run(env
        .sts()
        .env("QUALYTICS_URL", format!("{}/api/", sb.url))
        .env("QUALYTICS_TOKEN", &sb.admin_token)
        .args(["service-token", "list"]))
    .ok();
    assert!(r.stdout.contains("from-env"), "{}", r.stdout);
    // Both ecosystems' URLs and nothing else naming one: say which.
    let r = run(env
        .sts()
        .env("QUALYTICS_URL", &sb.url)
        .env("CONNECT_SERVER", &sb.url)
        .env("QUALYTICS_TOKEN", &sb.admin_token)
        .args(["service-token", "list"]))
    .fails(3);
    assert!(r.stderr.contains("--platform"), "{}", r.stderr);
}

#[test]
fn every_qualytics_operation_conforms_to_its_document_through_prism() {
    let sb = qualytics();
    let prism = Prism::proxy_for("qualytics", &sb.url);
    let env = TestEnv::new();
    let through = || {
        let mut cmd = env.sts_at(&prism.url, &sb.admin_token, true);
        cmd.env("STS_CLI_PLATFORM", "qualytics");
        cmd
    };
    run(env
        .sts()
        .args([
            "context",
            "save",
            "--platform",
            "qualytics",
            "--insecure-storage",
        ])
        .args(["--url", &prism.url, "--api-token", &sb.admin_token]))
    .ok();
    run(through().args(["service-user", "list"])).ok();
    run(through().args([
        "service-user",
        "create",
        "--name",
        "Prism Bot",
        "--role",
        "Admin",
    ]))
    .ok();
    let (_, id) = created(
        &run(through().args([
            "service-token",
            "create",
            "--name",
            "p",
            "--service-user",
            "prism_bot@service",
            "--expiration",
            "30d",
            "--scim-only",
        ]))
        .ok(),
    );
    run(through().args(["service-token", "list"])).ok();
    run(through().args(["service-token", "list", "--personal", "-o", "json"])).ok();
    run(through().args(["service-token", "revoke", &id])).ok();
    run(through().args(["service-token", "restore", &id])).ok();
    run(through().args(["service-token", "rotate", &id])).ok();
    run(through().args(["service-token", "delete", &id])).ok();
    prism.assert_no_error_violations();
}

#[test]
fn random_answers_never_panic() {
    let env = TestEnv::new();
    for seed in [1, 2, 3, 4, 5] {
        let prism = Prism::mock_dynamic_for("qualytics", seed);
        let sts = || {
            let mut cmd = env.sts_at(&prism.url, "some-admin-token-0123", true);
            cmd.env("STS_CLI_PLATFORM", "qualytics");
            cmd
        };
        for fmt in ["text", "json"] {
            run(sts().args(["service-token", "list", "-o", fmt])).ok();
            run(sts().args(["service-token", "list", "--personal", "-o", fmt])).ok();
            run(sts().args(["service-user", "list", "-o", fmt])).ok();
            run(sts().args(["service-token", "revoke", "7", "-o", fmt])).ok();
            run(sts().args(["service-token", "restore", "7", "-o", fmt])).ok();
            run(sts().args(["service-token", "delete", "7", "-o", fmt])).ok();
        }
        let json = run(sts().args(["service-token", "list", "-o", "json"]))
            .ok()
            .json();
        for t in json["service-tokens"].as_array().unwrap() {
            assert!(t.get("bearer_token").is_none(), "seed {seed}: {t}");
        }
        // A create: the secret, or one clear error when the answer lacks it.
        let r = run(sts().args([
            "service-token",
            "create",
            "--name",
            "n",
            "--service-user",
            "3",
        ]));
        assert!(r.code == 0 || r.code == 3, "{}", r.stderr);
        if r.code == 3 {
            assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        }
        r.no_panic();
    }
}

#[test]
fn put_and_delete_are_retried_and_a_retried_delete_answered_404_counts_as_deleted() {
    let sb = qualytics();
    let env = TestEnv::new();
    let (_, id) = created(
        &run(sts(&env, &sb).args([
            "service-token",
            "create",
            "--name",
            "flaky",
            "--service-user",
            "2",
        ]))
        .ok(),
    );
    let path = format!("/api/user-tokens/{id}");
    // A revoke whose first answer is a 503 is retried.
    sb.fault(json!({"method": "PUT", "path": path, "count": 1, "status": 503}));
    run(sts(&env, &sb).args(["service-token", "revoke", &id])).ok();
    assert_eq!(sb.request_count("PUT /api/user-tokens/{id}"), 2);
    // Deleted behind sts's back, then a lost first answer: the retry's 404 means it is gone.
    let (status, _) = sb.admin("DELETE", &format!("/user-tokens/{id}"), None);
    assert_eq!(status, 204);
    sb.fault(json!({"method": "DELETE", "path": path, "count": 1, "status": 503}));
    run(sts(&env, &sb).args(["service-token", "delete", &id])).ok();
    // Without a retry, a 404 is an error.
    let r = run(sts(&env, &sb).args(["service-token", "delete", &id])).fails(3);
    assert!(r.stderr.contains("404"), "{}", r.stderr);
}

//! Exit codes and error messages (CONTRACT §1, §6, §7) of `sts` against a real `sts-sandbox`.

use serde_json::json;

use crate::cli_util::{admin, run};
use crate::common::{Sandbox, TestEnv, free_port};

#[test]
fn usage_errors_exit_3() {
    let env = TestEnv::new();
    let url = "http://127.0.0.1:9";
    let r = run(env
        .sts_at(url, "t", true)
        .args(["service-token", "list", "--bogus"]))
    .fails(3);
    assert!(
        r.stderr.starts_with("❌ ") && r.stderr.contains("--bogus"),
        "{}",
        r.stderr
    );
    let r = run(env
        .sts_at(url, "t", true)
        .args(["service-token", "create", "--name", "x"]))
    .fails(3);
    assert!(r.stderr.contains("--roles"), "{}", r.stderr);
    let r = run(env
        .sts_at(url, "t", true)
        .args(["service-token", "delete", "--id", "foo"]))
    .fails(3);
    assert!(
        r.stderr
            .contains(r#"invalid argument "foo" for "-i, --id""#),
        "{}",
        r.stderr
    );
    run(env.sts_at(url, "t", true).args(["service-token", "delete"])).fails(3);
    run(env
        .sts_at(url, "t", true)
        .args(["service-token", "frobnicate"]))
    .fails(3);
    run(env
        .sts_at(url, "t", true)
        .args(["ingestion-api-key", "list", "-o", "yaml"]))
    .fails(3);
    let r = run(env
        .sts_at(url, "t", true)
        .args(["service-token", "list", "--timeout", "soon"]))
    .fails(3);
    assert!(r.stderr.contains("timeout"), "{}", r.stderr);
    // -o json: the usage error is a JSON error too.
    let r =
        run(env
            .sts_at(url, "t", true)
            .args(["-o", "json", "service-token", "list", "--bogus"]))
        .fails(3);
    assert_eq!(r.stderr_json()["error"], true);
}

#[test]
fn help_and_version_exit_0() {
    let env = TestEnv::new();
    for args in [
        &["--help"][..],
        &["--version"],
        &["service-token", "--help"],
        &["service-token", "create", "--help"],
        &["ingestion-api-key", "delete", "-h"],
        &[],
        &["service-token"],
    ] {
        let r = run(env.sts().args(args)).fails(0);
        assert!(!r.stdout.is_empty(), "{args:?}");
    }
    let r = run(env.sts().arg("--version")).ok();
    assert!(r.stdout.starts_with("sts "), "{}", r.stdout);
}

#[test]
fn no_url_anywhere_exits_1() {
    let env = TestEnv::new();
    let r = run(env
        .sts()
        .args(["service-token", "list", "--api-token", "t"]))
    .fails(1);
    assert!(
        r.stderr.contains("--url") && r.stderr.contains("STS_CLI_URL"),
        "{}",
        r.stderr
    );
    let r = run(env.sts().env("STS_CLI_URL", "").args([
        "service-token",
        "list",
        "--api-token",
        "t",
        "-o",
        "json",
    ]))
    .fails(1);
    assert!(
        r.stderr_json()["error-message"]
            .as_str()
            .unwrap()
            .contains("STS_CLI_URL")
    );
    // No token anywhere (and no pod token file): exit 1 too.
    let r = run(env
        .sts()
        .args(["service-token", "list", "--url", "http://127.0.0.1:9"]))
    .fails(1);
    assert!(r.stderr.contains("STS_CLI_SERVICE_TOKEN"), "{}", r.stderr);
}

#[test]
fn credentials_two_kinds_in_one_group_exit_3() {
    let env = TestEnv::new();
    let url = "http://127.0.0.1:9";
    let r = run(env.sts().args([
        "service-token",
        "list",
        "--url",
        url,
        "--api-token",
        "a",
        "--service-token",
        "b",
    ]))
    .fails(3);
    assert!(
        r.stderr.contains("--api-token and --service-token"),
        "{}",
        r.stderr
    );
    run(env
        .sts()
        .env("STS_CLI_URL", url)
        .env("STS_CLI_API_TOKEN", "a")
        .env("STS_CLI_K8S_SA_TOKEN", "b")
        .args(["service-token", "list"]))
    .fails(3);
}

#[test]
fn context_flag_names_a_context_that_does_not_exist() {
    let env = TestEnv::new();
    let r = run(env.sts_at("http://127.0.0.1:9", "t", true).args([
        "service-token",
        "list",
        "--context",
        "prod",
    ]))
    .fails(8);
    assert!(
        r.stderr.contains("context 'prod' not found"),
        "{}",
        r.stderr
    );
    run(env
        .sts_at("http://127.0.0.1:9", "t", true)
        .env("STS_CLI_CONTEXT", "x")
        .args(["service-token", "list"]))
    .fails(8);
    // --config parses.
    run(env.sts().args([
        "service-token",
        "--config",
        "/nonexistent/config.toml",
        "--help",
    ]))
    .ok();
}

#[test]
fn k8s_tokens_from_flag_and_file() {
    let sb = Sandbox::start_with(&["--k8s-sa-token", "k8s-secret"]);
    let env = TestEnv::new();
    run(env.sts().args([
        "service-token",
        "list",
        "--url",
        &sb.url,
        "--k8s-sa-token",
        "k8s-secret",
    ]))
    .ok();
    let file = env.dir.path().join("token");
    std::fs::write(&file, "k8s-secret\n").unwrap();
    run(env
        .sts()
        .env("STS_CLI_URL", &sb.url)
        .env("STS_CLI_K8S_SA_TOKEN_PATH", &file)
        .args(["service-token", "list"]))
    .ok();
    // A folder where the file should be: unreadable, exit 5 (CI runs as root, so no chmod).
    let r = run(env.sts().args([
        "service-token",
        "list",
        "--url",
        &sb.url,
        "--k8s-sa-token-path",
        env.dir.path().to_str().unwrap(),
    ]))
    .fails(5);
    assert!(r.stderr.contains("token file"), "{}", r.stderr);
    assert_eq!(sb.request_count("GET /api/security/tokens"), 2);
}

#[test]
fn http_401_exits_4_and_403_404_exit_3() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let r = run(env
        .sts_at(&sb.url, "svctok-not-a-token", false)
        .args(["service-token", "list"]))
    .fails(4);
    assert!(r.stderr.contains("401"), "{}", r.stderr);
    let r = run(env
        .sts_at(&sb.url, "nope", true)
        .args(["service-token", "list", "-o", "json"]))
    .fails(4);
    assert_eq!(r.stderr_json()["status"], 401);
    assert!(r.stdout.is_empty());

    let reader = sb.create_service_token("reader", &["stackstate-k8s-troubleshooter"]);
    let r = run(env
        .sts_at(&sb.url, &reader, false)
        .args(["ingestion-api-key", "list"]))
    .fails(3);
    assert!(r.stderr.contains("403"), "{}", r.stderr);

    let r = admin(&env, &sb, &["service-token", "delete", "107484341630693"]).fails(3);
    assert!(
        r.stderr.starts_with("❌ ") && r.stderr.contains("404 Not Found"),
        "{}",
        r.stderr
    );
    let r = admin(
        &env,
        &sb,
        &[
            "ingestion-api-key",
            "delete",
            "--id",
            "250558013078953",
            "-o",
            "json",
        ],
    )
    .fails(3);
    let e = r.stderr_json();
    assert_eq!(e["error"], true);
    assert_eq!(e["status"], 404);
    assert!(e["error-message"].as_str().unwrap().contains("404"));
}

#[test]
fn server_error_bodies_are_shown() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let body = json!({
        "_type": "ErrorsResponse",
        "errors": [{"_type": "InternalError", "message": "the database is on fire"}],
        "serverTimestamp": 1, "trackingKey": "abc"
    });
    sb.fault(json!({"method": "GET", "path": "/api/security/tokens", "count": 1, "status": 500, "body": body}));
    let r = admin(&env, &sb, &["service-token", "list"]).fails(3);
    assert_eq!(
        r.stderr,
        "❌ 500 Internal Server Error: the database is on fire\n"
    );

    sb.fault(json!({"method": "POST", "count": 1, "status": 500, "body": body}));
    let r = admin(
        &env,
        &sb,
        &["ingestion-api-key", "create", "-n", "x", "-o", "json"],
    )
    .fails(3);
    assert_eq!(
        r.stderr_json(),
        json!({"error": true, "error-message": "500 Internal Server Error: the database is on fire", "status": 500})
    );

    // A plain-text body: its first line.
    sb.fault(json!({"method": "POST", "count": 1, "status": 409, "body": "already there\nmore", "content_type": "text/plain"}));
    let r = admin(
        &env,
        &sb,
        &["service-token", "create", "-n", "x", "--roles", "r"],
    )
    .fails(3);
    assert_eq!(r.stderr, "❌ 409 Conflict: already there\n");

    // HTML from a proxy: one line.
    sb.fault(json!({"method": "POST", "count": 1, "status": 502, "body": "<html><body><h1>502</h1></body></html>", "content_type": "text/html"}));
    let r = admin(
        &env,
        &sb,
        &["service-token", "create", "-n", "x", "--roles", "r"],
    )
    .fails(3);
    assert_eq!(
        r.stderr,
        "❌ 502 Bad Gateway (the server answered with HTML, not JSON)\n"
    );

    // A 2xx body that does not decode.
    sb.fault(json!({"method": "GET", "count": 1, "status": 200, "body": "surprise", "content_type": "text/plain"}));
    let r = admin(&env, &sb, &["ingestion-api-key", "list"]).fails(3);
    assert!(r.stderr.contains("could not be decoded"), "{}", r.stderr);
}

#[test]
fn server_rejects_a_past_expiry_with_its_typed_400() {
    // The client checks expirations itself, so provoke the typed 400 through a fault.
    let sb = Sandbox::start();
    let env = TestEnv::new();
    sb.fault(json!({"method": "POST", "count": 1, "status": 400,
        "body": {"_type": "ServiceTokenInvalidExpiryError", "message": "expiry date is in the past"}}));
    let r = admin(
        &env,
        &sb,
        &["service-token", "create", "-n", "x", "--roles", "r"],
    )
    .fails(3);
    assert_eq!(r.stderr, "❌ 400 Bad Request: expiry date is in the past\n");
}

#[test]
fn gets_and_deletes_are_retried_posts_are_not() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    sb.fault(json!({"method": "GET", "count": 2, "status": 503, "retry_after": 0}));
    admin(&env, &sb, &["service-token", "list"]).ok();
    assert_eq!(sb.request_count("GET /api/security/tokens"), 3);

    // Four attempts at most; the last answer stands (exit 3).
    sb.fault(json!({"method": "GET", "count": 10, "status": 502, "retry_after": 0}));
    let r = admin(&env, &sb, &["ingestion-api-key", "list"]).fails(3);
    assert!(r.stderr.contains("502"), "{}", r.stderr);
    assert_eq!(sb.request_count("GET /api/security/ingestion/api_keys"), 4);

    sb.fault(json!({"method": "DELETE", "count": 10, "status": 503, "retry_after": 0}));
    admin(&env, &sb, &["service-token", "delete", "1"]).fails(3);
    assert_eq!(sb.request_count("DELETE /api/security/tokens/{id}"), 4);

    sb.fault(json!({"method": "POST", "count": 1, "status": 503}));
    admin(
        &env,
        &sb,
        &["service-token", "create", "-n", "x", "--roles", "r"],
    )
    .fails(3);
    assert_eq!(sb.request_count("POST /api/security/tokens"), 1);
}

#[test]
fn connection_refused_and_timeouts_exit_4() {
    let env = TestEnv::new();
    let url = format!("http://127.0.0.1:{}", free_port());
    let r = run(env.sts_at(&url, "t", true).args(["service-token", "list"])).fails(4);
    assert!(
        r.stderr.starts_with("❌ could not connect to "),
        "{}",
        r.stderr
    );
    let r = run(env.sts_at(&url, "t", true).args([
        "service-token",
        "create",
        "-n",
        "x",
        "--roles",
        "r",
        "-o",
        "json",
    ]))
    .fails(4);
    let e = r.stderr_json();
    assert_eq!(e["error"], true);
    assert!(e.get("status").is_none());

    let sb = Sandbox::start();
    sb.fault(json!({"method": "GET", "count": 10, "hang": true}));
    // A hanging server: the --timeout ends it (the harness's own 60 s kill would be exit -1).
    let r = admin(&env, &sb, &["service-token", "list", "--timeout", "1s"]).fails(4);
    assert!(r.stderr.contains("timeout"), "{}", r.stderr);
}

#[test]
fn ca_options_unreadable_file_5_and_garbage_certificate_11() {
    let env = TestEnv::new();
    let url = format!("https://127.0.0.1:{}", free_port());
    let r = run(env.sts_at(&url, "t", true).args([
        "service-token",
        "list",
        "--ca-cert-path",
        env.dir.path().to_str().unwrap(),
    ]))
    .fails(5);
    assert!(r.stderr.contains("CA file"), "{}", r.stderr);
    let garbage = env.dir.path().join("ca.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    run(env
        .sts_at(&url, "t", true)
        .env("STS_CA_CERT_PATH", &garbage)
        .args(["service-token", "list"]))
    .fails(11);
    run(env.sts_at(&url, "t", true).args([
        "service-token",
        "list",
        "--ca-cert-base64-data",
        "!!!",
    ]))
    .fails(11);
    // --skip-ssl parses as a global flag and warns.
    let r = run(env
        .sts_at(&url, "t", true)
        .args(["service-token", "list", "--skip-ssl"]))
    .fails(4);
    assert!(r.stderr.contains("not verified"), "{}", r.stderr);
}

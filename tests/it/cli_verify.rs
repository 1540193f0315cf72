//! `sts ingestion-api-key verify` end to end (issue 8): the key from stdin, exit 0 when it is
//! live and 3 when it is not.

use crate::cli_util::{admin, run};
use crate::common::{Sandbox, TestEnv};
use serde_json::json;

/// Generates a key through the admin API; returns (id, secret).
fn generate(sb: &Sandbox, name: &str) -> (i64, String) {
    let (status, body) = sb.admin(
        "POST",
        "/security/ingestion/api_keys",
        Some(json!({"name": name})),
    );
    assert_eq!(status, 200, "{body}");
    (
        body["id"].as_i64().unwrap(),
        body["apiKey"].as_str().unwrap().to_string(),
    )
}

fn verify(env: &TestEnv, sb: &Sandbox, key: &str, args: &[&str]) -> crate::cli_util::Run {
    run(env
        .sts_at(&sb.url, &sb.admin_token, true)
        .args(["ingestion-api-key", "verify"])
        .args(args)
        .write_stdin(format!("{key}\n")))
}

#[test]
fn verify_answers_0_for_a_live_key_and_3_for_a_deleted_one() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let (id, key) = generate(&sb, "agent");

    let r = verify(&env, &sb, &key, &[]).ok();
    assert_eq!(r.stdout, "✅ The ingestion API key is valid.\n");
    let r = verify(&env, &sb, &key, &["--key", "-", "-o", "json"]).ok();
    assert_eq!(r.json(), json!({"valid": true}));

    admin(&env, &sb, &["ingestion-api-key", "delete", &id.to_string()]).ok();
    let r = verify(&env, &sb, &key, &[]).fails(3);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr.contains("the ingestion API key is not valid"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains(&key),
        "the key is never shown: {}",
        r.stderr
    );
    let r = verify(&env, &sb, &key, &["-o", "json"]).fails(3);
    assert_eq!(r.stderr_json()["status"], 403);
    assert_eq!(
        sb.request_count("POST /api/security/ingestion/authorize"),
        4
    );
}

#[test]
fn verify_takes_the_key_from_stdin_only_and_keeps_it_out_of_logs() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let (_, key) = generate(&sb, "agent");

    // A key on the command line is refused before any request.
    let r = verify(&env, &sb, "", &["--key", &key]).fails(3);
    assert!(r.stderr.contains("--key takes only `-`"), "{}", r.stderr);
    assert!(!r.stderr.contains(&key));
    verify(&env, &sb, "", &[]).fails(3);
    assert_eq!(
        sb.request_count("POST /api/security/ingestion/authorize"),
        0
    );

    // -vv logs the request body with the key as ***.
    let r = verify(&env, &sb, &key, &["-vv"]).ok();
    assert!(r.stderr.contains("\"apiKey\":\"***\""), "{}", r.stderr);
    assert!(!r.stderr.contains(&key), "{}", r.stderr);
}

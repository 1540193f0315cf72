//! `--expiring-within` and `--expired` on the `list` commands end to end (issue 8).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::cli_util::admin;
use crate::common::{Sandbox, TestEnv};
use serde_json::{Value, json};

const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn expiring_within_7d_shows_exactly_the_tokens_and_keys_expiring_in_the_next_7_days() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let now = now_ms();
    for (name, days) in [
        ("d1", Some(1)),
        ("d6", Some(6)),
        ("d8", Some(8)),
        ("d30", Some(30)),
        ("never", None),
    ] {
        let mut token = json!({"name": name, "roles": ["stackstate-admin"]});
        let mut key = json!({"name": name});
        if let Some(d) = days {
            token["expiryDate"] = json!(now + d * DAY_MS);
            key["expiration"] = json!(now + d * DAY_MS);
        }
        assert_eq!(sb.admin("POST", "/security/tokens", Some(token)).0, 200);
        assert_eq!(
            sb.admin("POST", "/security/ingestion/api_keys", Some(key))
                .0,
            200
        );
    }

    let r = admin(
        &env,
        &sb,
        &[
            "service-token",
            "list",
            "--expiring-within",
            "7d",
            "-o",
            "json",
        ],
    )
    .ok();
    assert_eq!(names(&r.json()["service-tokens"]), ["d1", "d6"]);
    let r = admin(
        &env,
        &sb,
        &[
            "ingestion-api-key",
            "list",
            "--expiring-within",
            "7d",
            "-o",
            "json",
        ],
    )
    .ok();
    assert_eq!(names(&r.json()["ingestion-api-keys"]), ["d1", "d6"]);

    // Text: the same rows under the header.
    let r = admin(
        &env,
        &sb,
        &["service-token", "list", "--expiring-within", "7d"],
    )
    .ok();
    let rows: Vec<&str> = r.stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{}", r.stdout);
    assert!(
        rows[0].contains(" d1 ") && rows[1].contains(" d6 "),
        "{}",
        r.stdout
    );

    // Nothing expired yet; nothing in a minute.
    let r = admin(&env, &sb, &["service-token", "list", "--expired"]).ok();
    assert_eq!(r.stdout, "No service tokens found.\n");
    let r = admin(
        &env,
        &sb,
        &["ingestion-api-key", "list", "--expiring-within", "1m"],
    )
    .ok();
    assert_eq!(r.stdout, "No ingestion api keys found.\n");
    let r = admin(
        &env,
        &sb,
        &["service-token", "list", "--expiring-within", "7days"],
    )
    .fails(3);
    assert!(r.stderr.contains("--expiring-within"), "{}", r.stderr);
}

#[test]
fn expired_shows_the_past_ones_and_with_expiring_within_either_matches() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    let now = now_ms();
    // The sandbox refuses a past expiry, as the real server does: serve such a list instead.
    let list = json!([
        {"id": 1, "name": "old", "roles": ["r"], "expiration": now - DAY_MS},
        {"id": 2, "name": "soon", "roles": ["r"], "expiration": now + 2 * DAY_MS},
        {"id": 3, "name": "later", "roles": ["r"], "expiration": now + 60 * DAY_MS},
        {"id": 4, "name": "never", "roles": ["r"]}
    ]);
    let serve = |n: u64| {
        sb.fault(json!({"method": "GET", "path": "/api/security/tokens", "count": n, "status": 200, "body": list}));
    };
    serve(2);
    let r = admin(
        &env,
        &sb,
        &["service-token", "list", "--expired", "-o", "json"],
    )
    .ok();
    assert_eq!(names(&r.json()["service-tokens"]), ["old"]);
    let r = admin(&env, &sb, &["service-token", "list", "--expired"]).ok();
    assert!(
        r.stdout.contains("(expired)") && r.stdout.lines().count() == 2,
        "{}",
        r.stdout
    );
    serve(1);
    let r = admin(
        &env,
        &sb,
        &[
            "service-token",
            "list",
            "--expired",
            "--expiring-within",
            "7d",
            "-o",
            "json",
        ],
    )
    .ok();
    assert_eq!(names(&r.json()["service-tokens"]), ["old", "soon"]);
}

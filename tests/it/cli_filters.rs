//! `--expiring-within` and `--expired` on the `list` commands end to end (issue 8).

use crate::cli_util::admin;
use crate::common::{Sandbox, TestEnv, now_ms};
use serde_json::{Value, json};

const DAY_MS: i64 = 86_400_000;

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

#[test]
fn unused_for_status_and_fail_if_any_on_one_context() {
    // Qualytics: last use is known; a revoked token has status `revoked`.
    let sb = Sandbox::start_platform("qualytics", &["--service-user", "Loader:Admin"]);
    let env = TestEnv::new();
    let (status, page) = sb.admin("GET", "/users?type=Service", None);
    assert_eq!(status, 200, "{page}");
    let user = page["items"][0]["id"].as_i64().unwrap();
    let mut ids = Vec::new();
    for name in ["used", "idle", "off"] {
        let (status, created) = sb.admin(
            "POST",
            "/user-tokens",
            Some(json!({"name": name, "user_id": user})),
        );
        assert_eq!(status, 200, "{created}");
        ids.push(created["id"].clone());
        if name == "used" {
            let bearer = format!("Bearer {}", created["bearer_token"].as_str().unwrap());
            assert_eq!(sb.call("GET", "/user-tokens", Some(&bearer), None).0, 200);
        }
    }
    let off = format!("/user-tokens/{}", ids[2]);
    assert_eq!(sb.admin("PUT", &off, Some(json!({"revoke": true}))).0, 200);
    let list = |extra: &[&str]| {
        let mut args = vec![
            "service-token",
            "list",
            "--platform",
            "qualytics",
            "-o",
            "json",
        ];
        args.extend_from_slice(extra);
        admin(&env, &sb, &args)
    };

    let r = list(&["--unused-for", "1d"]).ok();
    assert_eq!(names(&r.json()["service-tokens"]), ["idle", "off"]);
    assert!(!r.stderr.contains("last-use"), "{}", r.stderr);
    let r = list(&["--status", "revoked"]).ok();
    assert_eq!(names(&r.json()["service-tokens"]), ["off"]);
    let r = list(&["--status", "active", "--status", "revoked"]).ok();
    assert_eq!(names(&r.json()["service-tokens"]).len(), 3);
    let r = list(&["--status", "expired", "--fail-if-any"]).ok();
    assert_eq!(names(&r.json()["service-tokens"]), Vec::<String>::new());
    // Rows left: they are printed, then exit 7.
    let r = list(&["--unused-for", "1d", "--status", "active", "--fail-if-any"]).fails(7);
    assert_eq!(names(&r.json()["service-tokens"]), ["idle"]);
    // Two days later the used one is idle too.
    sb.clock(2 * 86_400);
    let r = list(&["--unused-for", "1d", "--status", "active"]).ok();
    assert_eq!(names(&r.json()["service-tokens"]), ["idle", "used"]);
    let r = list(&["--status", "sleeping"]).fails(3);
    assert!(r.stderr.contains("sleeping"), "{}", r.stderr);
}

#[test]
fn unused_for_on_stackstate_matches_nothing_and_says_so_once() {
    let sb = Sandbox::start();
    let env = TestEnv::new();
    sb.create_service_token("t", &["stackstate-admin"]);
    let r = admin(&env, &sb, &["service-token", "list", "--unused-for", "30d"]).ok();
    assert_eq!(r.stdout, "No service tokens found.\n");
    assert_eq!(
        r.stderr.matches("no last-use data").count(),
        1,
        "{}",
        r.stderr
    );
    let r = admin(&env, &sb, &["service-token", "list", "--fail-if-any"]).fails(7);
    assert!(r.stdout.contains(" t "), "{}", r.stdout);
    assert!(r.stderr.contains("--fail-if-any"), "{}", r.stderr);
}

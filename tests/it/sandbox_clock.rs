//! `POST /_sandbox/clock {"advance_s": N}` (CONTRACT §9.3): ages everything the sandbox keeps by N
//! seconds, on every platform, while the sandbox keeps reading the real clock. Tests move the
//! clock instead of waiting for an expiry.

use crate::common::{Sandbox, now_ms, send_json};
use serde_json::{Value, json};

fn clock_request(sb: &Sandbox, header: Option<(&str, &str)>, body: Value) -> (u16, Value) {
    let mut req = sb.http().post(format!("{}/_sandbox/clock", sb.url));
    if let Some((name, value)) = header {
        req = req.header(name, value);
    }
    send_json(req, Some(body))
}

fn stackstate_token(sb: &Sandbox, name: &str) -> Value {
    let (status, list) = sb.admin("GET", "/security/tokens", None);
    assert_eq!(status, 200, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no token {name} in {list}"))
}

fn with_key(sb: &Sandbox, token: &str) -> u16 {
    let req = sb
        .http()
        .get(format!("{}/server/info", sb.api()))
        .header("X-API-Key", token);
    send_json(req, None).0
}

#[test]
fn stackstate_tokens_and_keys_age_and_expire() {
    let sb = Sandbox::start();
    let in_an_hour = now_ms() + 3_600_000;
    let (status, created) = sb.admin(
        "POST",
        "/security/tokens",
        Some(json!({"name": "hourly", "roles": ["stackstate-admin"], "expiryDate": in_an_hour})),
    );
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["expiration"], json!(in_an_hour));
    let token = created["token"].as_str().unwrap().to_string();
    let lasting = sb.create_service_token("lasting", &["stackstate-admin"]);
    let (status, key) = sb.admin(
        "POST",
        "/security/ingestion/api_keys",
        Some(json!({"name": "agent", "expiration": in_an_hour})),
    );
    assert_eq!(status, 200, "{key}");
    let api_key = key["apiKey"].as_str().unwrap().to_string();

    let before = stackstate_token(&sb, "hourly");
    assert_eq!(before["expiration"], json!(in_an_hour));
    assert_eq!(with_key(&sb, &token), 200);

    sb.clock(7200);
    let after = stackstate_token(&sb, "hourly");
    assert_eq!(
        after["expiration"].as_i64().unwrap(),
        in_an_hour - 7_200_000,
        "the expiry moved two hours into the past"
    );
    assert_eq!(
        before["lastUpdateTimestamp"].as_i64().unwrap()
            - after["lastUpdateTimestamp"].as_i64().unwrap(),
        7_200_000
    );
    assert_eq!(with_key(&sb, &token), 401, "the token has expired");
    assert_eq!(
        with_key(&sb, &lasting),
        200,
        "one without expiry still works"
    );
    let (status, _) = sb.admin(
        "POST",
        "/security/ingestion/authorize",
        Some(json!({"apiKey": api_key})),
    );
    assert_eq!(status, 403, "the ingestion key has expired");
    let (_, keys) = sb.admin("GET", "/security/ingestion/api_keys", None);
    assert_eq!(
        keys[0]["expiration"].as_i64().unwrap(),
        in_an_hour - 7_200_000
    );

    // New creates still take real times: an expiry an hour from now is in the future.
    let (status, fresh) = sb.admin(
        "POST",
        "/security/tokens",
        Some(json!({"name": "fresh", "roles": ["stackstate-admin"], "expiryDate": now_ms() + 3_600_000})),
    );
    assert_eq!(status, 200, "{fresh}");
    assert_eq!(with_key(&sb, fresh["token"].as_str().unwrap()), 200);
    let listed = stackstate_token(&sb, "fresh");
    assert_eq!(listed["expiration"], fresh["expiration"]);
}

#[test]
fn the_clock_needs_the_admin_token_and_a_sane_step() {
    for platform in ["stackstate", "posit-connect", "qualytics"] {
        let sb = Sandbox::start_platform(platform, &[]);
        let admin = sb.admin_token.clone();
        let (status, body) =
            clock_request(&sb, Some(("X-API-Token", &admin)), json!({"advance_s": 60}));
        assert_eq!(
            (status, body["offset_s"].as_i64()),
            (200, Some(60)),
            "{platform}: {body}"
        );
        let (status, body) =
            clock_request(&sb, Some(("X-API-Token", &admin)), json!({"advance_s": 30}));
        assert_eq!(body["offset_s"], json!(90), "{platform}: {status} {body}");
        let (status, _) = clock_request(&sb, None, json!({"advance_s": 60}));
        assert_eq!(status, 401, "{platform}");
        let (status, _) = clock_request(
            &sb,
            Some(("X-API-Token", "wrong")),
            json!({"advance_s": 60}),
        );
        assert_eq!(status, 401, "{platform}");
        for bad in [
            json!({"advance_s": -1}),
            json!({}),
            json!({"advance": 5}),
            json!({"advance_s": "1h"}),
        ] {
            let (status, _) = clock_request(&sb, Some(("X-API-Token", &admin)), bad.clone());
            assert_eq!(status, 400, "{platform}: {bad}");
        }
    }
}

#[test]
fn posit_times_age_with_the_clock() {
    let sb = Sandbox::start_platform("posit-connect", &[]);
    let expiry = (chrono::Utc::now() + chrono::Duration::days(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (status, created) = sb.admin(
        "POST",
        "/v1/system/service-tokens",
        Some(json!({"name": "idp", "scopes": ["identity:manage"], "expires_at": expiry})),
    );
    assert_eq!(status, 200, "{created}");
    let scim = send_json(
        sb.http().get(format!("{}/scim/v2/Users", sb.url)).header(
            "Authorization",
            format!("Bearer {}", created["key"].as_str().unwrap()),
        ),
        None,
    );
    assert_eq!(scim.0, 200);
    let time = |v: &Value, field: &str| {
        chrono::DateTime::parse_from_rfc3339(v[field].as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    };
    let (_, before) = sb.admin("GET", "/v1/system/service-tokens", None);
    sb.clock(86_400);
    let (_, after) = sb.admin("GET", "/v1/system/service-tokens", None);
    for field in ["created_time", "active_time", "expires_at"] {
        assert_eq!(
            time(&before[0], field) - time(&after[0], field),
            86_400_000,
            "{field}: {before} then {after}"
        );
    }
}

#[test]
fn the_clock_is_kept_in_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let args = [
        "--state",
        state.to_str().unwrap(),
        "--admin-token",
        "clock-admin-1",
    ];
    let sb = Sandbox::start_with(&args);
    let in_an_hour = now_ms() + 3_600_000;
    let (status, created) = sb.admin(
        "POST",
        "/security/tokens",
        Some(json!({"name": "hourly", "roles": ["stackstate-admin"], "expiryDate": in_an_hour})),
    );
    assert_eq!(status, 200);
    sb.clock(1800);
    assert!(sb.terminate().success());

    let sb = Sandbox::start_with(&args);
    let listed = stackstate_token(&sb, "hourly");
    assert_eq!(
        listed["expiration"].as_i64().unwrap(),
        in_an_hour - 1_800_000
    );
    assert_eq!(with_key(&sb, created["token"].as_str().unwrap()), 200);
    sb.clock(1800);
    assert_eq!(with_key(&sb, created["token"].as_str().unwrap()), 401);
}

#[test]
fn qualytics_times_age_with_the_clock() {
    let sb = Sandbox::start_platform("qualytics", &["--service-user", "Loader:Admin"]);
    let (_, page) = sb.admin("GET", "/users?type=Service", None);
    let user = &page["items"][0];
    let (status, created) = sb.admin(
        "POST",
        "/user-tokens",
        Some(json!({"name": "t", "user_id": user["id"], "expires_in_days": 30})),
    );
    assert_eq!(status, 200, "{created}");
    let auth = format!("Bearer {}", created["bearer_token"].as_str().unwrap());
    assert_eq!(sb.call("GET", "/user-tokens", Some(&auth), None).0, 200);
    let time = |v: &Value, field: &str| {
        chrono::DateTime::parse_from_rfc3339(v[field].as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    };
    let (_, before) = sb.admin("GET", "/user-tokens/service", None);
    let (_, users_before) = sb.admin("GET", "/users?type=Service", None);
    sb.clock(3600);
    let (_, after) = sb.admin("GET", "/user-tokens/service", None);
    let (_, users_after) = sb.admin("GET", "/users?type=Service", None);
    for field in ["created", "expiration", "last_used"] {
        assert_eq!(
            time(&before[0], field) - time(&after[0], field),
            3_600_000,
            "{field}: {before} then {after}"
        );
    }
    assert_eq!(
        time(&users_before["items"][0], "created_at")
            - time(&users_after["items"][0], "created_at"),
        3_600_000
    );
}

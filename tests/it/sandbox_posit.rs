//! `sts-sandbox --platform posit-connect` (CONTRACT §9.3): administrator and publisher keys,
//! service tokens (create, list, scopes, delete, validation), `/v1/user`, `/server_settings`, SCIM
//! use and `active_time`, expiry, request counting, persistence. Driven directly against the real
//! binary on a free loopback port.

use std::collections::BTreeSet;

use crate::common::{Sandbox, send_json};
use serde_json::{Value, json};

const TOKENS: &str = "/v1/system/service-tokens";
const PUBLISHER_KEY: &str = "publisher-key-0123456789";

fn posit(extra: &[&str]) -> Sandbox {
    Sandbox::start_platform("posit-connect", extra)
}

fn key(k: &str) -> String {
    format!("Key {k}")
}

fn bearer(k: &str) -> String {
    format!("Bearer {k}")
}

/// Asserts an `APIError` with this code: `code` and `error` present, nothing else but `payload`.
fn assert_api_error(body: &Value, code: i64) {
    assert_eq!(body["code"], json!(code), "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    let fields: BTreeSet<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert!(
        fields
            .iter()
            .all(|f| ["code", "error", "payload"].contains(f)),
        "{body}"
    );
}

fn create(sb: &Sandbox, body: Value) -> Value {
    let (status, created) = sb.admin("POST", TOKENS, Some(body));
    assert_eq!(status, 200, "create: {created}");
    created
}

fn list(sb: &Sandbox) -> Vec<Value> {
    let (status, list) = sb.admin("GET", TOKENS, None);
    assert_eq!(status, 200, "list: {list}");
    list.as_array().expect("a bare array").clone()
}

fn scim(sb: &Sandbox, authorization: Option<&str>) -> (u16, Value) {
    let mut req = sb.http().get(format!("{}/scim/v2/Users", sb.url));
    if let Some(a) = authorization {
        req = req.header("Authorization", a);
    }
    send_json(req, None)
}

fn is_uuid_v4(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
        && &s[14..15] == "4"
        && matches!(&s[19..20], "8" | "9" | "a" | "b")
}

fn in_hours(h: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(h))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[test]
fn server_settings_report_the_version() {
    let sb = posit(&[]);
    let (status, body) = sb.call("GET", "/server_settings", None, None);
    assert_eq!((status, body), (200, json!({"version": "2026.01.0"})));
    let sb = posit(&["--server-version", "2025.09.1"]);
    let (_, body) = sb.call("GET", "/server_settings", Some(&key(&sb.admin_token)), None);
    assert_eq!(body["version"], "2025.09.1");
}

#[test]
fn keys_are_administrators_publishers_or_nobody() {
    let sb = posit(&["--publisher-key", PUBLISHER_KEY]);
    let (status, me) = sb.admin("GET", "/v1/user", None);
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user_role"], "administrator");
    assert!(me["guid"].as_str().is_some_and(is_uuid_v4), "{me}");
    assert!(me["username"].is_string(), "{me}");

    let publisher = key(PUBLISHER_KEY);
    let (status, me) = sb.call("GET", "/v1/user", Some(&publisher), None);
    assert_eq!(
        (status, me["user_role"].as_str()),
        (200, Some("publisher")),
        "{me}"
    );
    for (method, path, body) in [
        ("GET", TOKENS.to_string(), None),
        (
            "POST",
            TOKENS.to_string(),
            Some(json!({"name": "n", "scopes": ["identity:manage"]})),
        ),
        ("GET", format!("{TOKENS}/scopes"), None),
        (
            "DELETE",
            format!("{TOKENS}/3c9a6f0e-8d21-4b7e-9f35-2a61d0c4e8b7"),
            None,
        ),
    ] {
        let (status, err) = sb.call(method, &path, Some(&publisher), body);
        assert_eq!(status, 403, "{method} {path}: {err}");
        assert_api_error(&err, 22);
    }

    let (status, err) = sb.call("GET", TOKENS, Some("Key not-a-known-key"), None);
    assert_eq!(status, 401, "{err}");
    assert_api_error(&err, 30);
    let (status, err) = sb.call("GET", "/v1/user", Some("Key not-a-known-key"), None);
    assert_eq!(status, 401, "{err}");
    assert_api_error(&err, 30);
    let (status, err) = sb.call("GET", TOKENS, None, None);
    assert_eq!(status, 401, "{err}");
    assert_api_error(&err, 24);
    // The admin key is a Key, not a bearer token.
    let (status, err) = sb.call("GET", TOKENS, Some(&bearer(&sb.admin_token)), None);
    assert_eq!(status, 401, "{err}");
    assert_api_error(&err, 30);
}

#[test]
fn a_service_token_has_no_user_and_manages_nothing() {
    let sb = posit(&[]);
    let created = create(&sb, json!({"name": "scim", "scopes": ["identity:manage"]}));
    let secret = created["key"].as_str().unwrap();
    for auth in [bearer(secret), key(secret)] {
        let (status, err) = sb.call("GET", "/v1/user", Some(&auth), None);
        assert_eq!(status, 403, "{err}");
        assert_api_error(&err, 22);
        let (status, err) = sb.call("GET", TOKENS, Some(&auth), None);
        assert_eq!(status, 403, "{err}");
        assert_api_error(&err, 22);
    }
}

#[test]
fn create_answers_the_key_once_and_list_shows_exactly_the_documented_fields() {
    let sb = posit(&[]);
    let expiry = in_hours(24 * 90);
    let created = create(
        &sb,
        json!({"name": "Okta provisioning", "scopes": ["identity:manage"], "expires_at": expiry}),
    );
    let fields: BTreeSet<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        fields,
        BTreeSet::from([
            "guid",
            "name",
            "key",
            "scopes",
            "created_time",
            "expires_at"
        ]),
        "{created}"
    );
    let guid = created["guid"].as_str().unwrap();
    assert!(is_uuid_v4(guid), "{guid}");
    assert!(created["key"].as_str().unwrap().len() >= 32, "{created}");
    assert_eq!(created["expires_at"], json!(expiry));
    assert_eq!(created["scopes"], json!(["identity:manage"]));
    assert!(
        chrono::DateTime::parse_from_rfc3339(created["created_time"].as_str().unwrap()).is_ok(),
        "{created}"
    );

    // Names are not unique; a token without expiry has a null `expires_at`.
    let twin = create(
        &sb,
        json!({"name": "Okta provisioning", "scopes": ["nameservice:read", "identity:manage"]}),
    );
    assert_eq!(twin["expires_at"], Value::Null);
    assert_ne!(twin["guid"], created["guid"]);
    assert_ne!(twin["key"], created["key"]);

    let listed = list(&sb);
    assert_eq!(listed.len(), 2);
    for t in &listed {
        let fields: BTreeSet<&str> = t.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            fields,
            BTreeSet::from(["guid", "name", "scopes", "created_time", "expires_at"]),
            "a never-used token has no active_time, and no list item has a key: {t}"
        );
        assert_eq!(t["name"], "Okta provisioning");
    }
    assert!(listed.iter().any(|t| t["guid"] == created["guid"]));
}

#[test]
fn scopes_are_the_documents_two() {
    let sb = posit(&[]);
    let (status, body) = sb.admin("GET", &format!("{TOKENS}/scopes"), None);
    assert_eq!(status, 200, "{body}");
    let scopes = body["scopes"].as_array().unwrap();
    let names: Vec<&str> = scopes.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["identity:manage", "nameservice:read"]);
    assert!(
        scopes
            .iter()
            .all(|s| s["description"].as_str().is_some_and(|d| !d.is_empty()))
    );
}

#[test]
fn create_refuses_bad_input_with_an_api_error() {
    let sb = posit(&[]);
    let past = in_hours(-1);
    for bad in [
        json!({"name": "n"}),
        json!({"name": "n", "scopes": []}),
        json!({"name": "n", "scopes": ["server-settings:read"]}),
        json!({"name": "n", "scopes": ["identity:manage"], "expires_at": past}),
        json!({"name": "n", "scopes": ["identity:manage"], "expires_at": "next week"}),
        json!({"name": "n", "scopes": ["identity:manage"], "roles": ["x"]}),
        json!({"name": "", "scopes": ["identity:manage"]}),
        json!({"name": "n", "scopes": "identity:manage"}),
    ] {
        let (status, err) = sb.admin("POST", TOKENS, Some(bad.clone()));
        assert_eq!(status, 400, "{bad}: {err}");
        assert_api_error(&err, err["code"].as_i64().unwrap());
    }
    let (status, err) = sb.admin("POST", TOKENS, Some(json!({"name": "n", "scopes": []})));
    assert_eq!(status, 400);
    assert_api_error(&err, 25);
    assert!(list(&sb).is_empty());
}

#[test]
fn delete_answers_204_then_404_and_refuses_a_malformed_guid() {
    let sb = posit(&[]);
    let created = create(&sb, json!({"name": "n", "scopes": ["identity:manage"]}));
    let guid = created["guid"].as_str().unwrap();
    let secret = created["key"].as_str().unwrap();
    let (status, body) = sb.admin("DELETE", &format!("{TOKENS}/{guid}"), None);
    assert_eq!((status, body), (204, Value::Null));
    assert!(list(&sb).is_empty());
    let (status, _) = scim(&sb, Some(&bearer(secret)));
    assert_eq!(status, 401, "a deleted token stops working");
    let (status, err) = sb.admin("DELETE", &format!("{TOKENS}/{guid}"), None);
    assert_eq!(status, 404, "{err}");
    assert_api_error(&err, 4);
    let (status, err) = sb.admin("DELETE", &format!("{TOKENS}/not-a-guid"), None);
    assert_eq!(status, 400, "{err}");
    assert_api_error(&err, 3);
}

#[test]
fn scim_use_sets_active_time_at_most_every_15_minutes() {
    let sb = posit(&[]);
    let scim_token = create(&sb, json!({"name": "idp", "scopes": ["identity:manage"]}));
    let reader = create(&sb, json!({"name": "ns", "scopes": ["nameservice:read"]}));
    let secret = scim_token["key"].as_str().unwrap();

    let (status, body) = scim(&sb, Some(&bearer(secret)));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
    assert_eq!(
        (body["totalResults"].as_i64(), body["Resources"].clone()),
        (Some(0), json!([]))
    );

    let active = |sb: &Sandbox| -> Option<String> {
        list(sb)
            .into_iter()
            .find(|t| t["guid"] == scim_token["guid"])
            .and_then(|t| t["active_time"].as_str().map(str::to_string))
    };
    let first = active(&sb).expect("active_time set by the SCIM call");
    let first_ms = chrono::DateTime::parse_from_rfc3339(&first)
        .unwrap()
        .timestamp_millis();

    // Ten minutes later another use leaves it alone; it has moved ten minutes into the past.
    sb.clock(600);
    let (status, _) = scim(&sb, Some(&bearer(secret)));
    assert_eq!(status, 200);
    let second = active(&sb).unwrap();
    let second_ms = chrono::DateTime::parse_from_rfc3339(&second)
        .unwrap()
        .timestamp_millis();
    assert_eq!(first_ms - second_ms, 600_000, "{first} then {second}");

    // Past 15 minutes, the next use refreshes it.
    sb.clock(300);
    let (status, _) = scim(&sb, Some(&bearer(secret)));
    assert_eq!(status, 200);
    let third = active(&sb).unwrap();
    let third_ms = chrono::DateTime::parse_from_rfc3339(&third)
        .unwrap()
        .timestamp_millis();
    assert!(third_ms > second_ms, "{second} then {third}");

    // Without identity:manage: 403; unknown, missing or an API key: 401.
    let (status, _) = scim(&sb, Some(&bearer(reader["key"].as_str().unwrap())));
    assert_eq!(status, 403);
    assert!(
        list(&sb)
            .iter()
            .find(|t| t["guid"] == reader["guid"])
            .is_some_and(|t| t.get("active_time").is_none()),
        "a refused use sets no active_time"
    );
    assert_eq!(scim(&sb, Some("Bearer unknown-token-000000")).0, 401);
    assert_eq!(scim(&sb, None).0, 401);
    assert_eq!(scim(&sb, Some(&key(&sb.admin_token))).0, 401);
}

#[test]
fn an_expired_token_stops_working_and_disappears() {
    let sb = posit(&[]);
    let expiring = create(
        &sb,
        json!({"name": "soon", "scopes": ["identity:manage"], "expires_at": in_hours(1)}),
    );
    let lasting = create(&sb, json!({"name": "later", "scopes": ["identity:manage"]}));
    let secret = expiring["key"].as_str().unwrap();
    assert_eq!(scim(&sb, Some(&bearer(secret))).0, 200);

    sb.clock(7200);
    assert_eq!(scim(&sb, Some(&bearer(secret))).0, 401);
    let listed = list(&sb);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["guid"], lasting["guid"]);
    let (status, err) = sb.admin(
        "DELETE",
        &format!("{TOKENS}/{}", expiring["guid"].as_str().unwrap()),
        None,
    );
    assert_eq!(status, 404, "{err}");
    assert_eq!(
        scim(&sb, Some(&bearer(lasting["key"].as_str().unwrap()))).0,
        200
    );
}

#[test]
fn requests_are_counted_per_templated_path() {
    let sb = posit(&[]);
    let created = create(&sb, json!({"name": "n", "scopes": ["identity:manage"]}));
    list(&sb);
    list(&sb);
    scim(&sb, Some(&bearer(created["key"].as_str().unwrap())));
    let guid = created["guid"].as_str().unwrap();
    sb.admin("DELETE", &format!("{TOKENS}/{guid}"), None);
    sb.call("GET", "/server_settings", None, None);
    assert_eq!(sb.request_count("GET /__api__/v1/system/service-tokens"), 2);
    assert_eq!(
        sb.request_count("POST /__api__/v1/system/service-tokens"),
        1
    );
    assert_eq!(
        sb.request_count("DELETE /__api__/v1/system/service-tokens/{guid}"),
        1
    );
    assert_eq!(sb.request_count("GET /scim/v2/Users"), 1);
    assert_eq!(sb.request_count("GET /__api__/server_settings"), 1);
    assert_eq!(sb.api_request_total(), 5);
}

#[test]
fn faults_apply_to_posit_paths_with_an_api_error_body() {
    let sb = posit(&[]);
    sb.fault(json!({"method": "GET", "path": "/__api__/v1/system/service-tokens", "count": 1, "status": 503}));
    let (status, err) = sb.admin("GET", TOKENS, None);
    assert_eq!(status, 503);
    assert_api_error(&err, 1);
    assert_eq!(sb.admin("GET", TOKENS, None).0, 200);
    let (status, _) = send_json(
        sb.http()
            .post(format!("{}/_sandbox/faults", sb.url))
            .header("X-API-Token", &sb.admin_token),
        Some(json!({"path": "/api/server/info", "count": 1, "status": 500})),
    );
    assert_eq!(status, 400, "a StackState path is no Posit path");
    // The control API takes the admin token as X-API-Token only.
    let (status, _) = send_json(
        sb.http()
            .get(format!("{}/_sandbox/requests", sb.url))
            .header("Authorization", key(&sb.admin_token)),
        None,
    );
    assert_eq!(status, 401);
}

#[test]
fn tokens_survive_a_restart_with_state() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("posit.json");
    let state_arg = state.to_str().unwrap();
    let sb = posit(&["--state", state_arg, "--admin-token", "posit-admin-key-1"]);
    let created = create(&sb, json!({"name": "idp", "scopes": ["identity:manage"]}));
    let secret = created["key"].as_str().unwrap().to_string();
    assert_eq!(scim(&sb, Some(&bearer(&secret))).0, 200);
    assert!(sb.terminate().success());
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(!text.contains(&secret), "the state file holds no key");

    let sb = posit(&["--state", state_arg, "--admin-token", "posit-admin-key-1"]);
    let listed = list(&sb);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["guid"], created["guid"]);
    assert!(listed[0]["active_time"].is_string(), "{listed:?}");
    assert_eq!(scim(&sb, Some(&bearer(&secret))).0, 200);
}

#[test]
fn unknown_paths_and_methods_answer_api_errors() {
    let sb = posit(&[]);
    let (status, err) = sb.admin("GET", "/v1/nothing", None);
    assert_eq!(status, 404);
    assert_api_error(&err, 4);
    let (status, err) = sb.admin("PUT", TOKENS, Some(json!({})));
    assert_eq!(status, 405);
    assert_api_error(&err, 2);
    // StackState's paths are not served.
    let (status, _) = send_json(
        sb.http()
            .get(format!("{}/api/server/info", sb.url))
            .header("X-API-Token", &sb.admin_token),
        None,
    );
    assert_eq!(status, 404);
}

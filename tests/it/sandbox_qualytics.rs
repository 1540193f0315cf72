//! `sts-sandbox --platform qualytics` (CONTRACT §9.3): the Admin token, issued JWTs and what
//! they may do, `last_used`, revoke/restore/delete rules, 400/409/422, service users (seeded,
//! created, paged), expiry through the clock, persistence of the signing key, request counting.
//! Driven directly against the real binary on a free loopback port.

use crate::common::{Sandbox, send_json};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

const SEEDS: [&str; 4] = [
    "--service-user",
    "Nightly Loader:Admin",
    "--service-user",
    "Catalog Sync:Member",
];

fn qualytics(extra: &[&str]) -> Sandbox {
    Sandbox::start_platform("qualytics", extra)
}

fn seeded() -> Sandbox {
    qualytics(&SEEDS)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn assert_detail(body: &Value) {
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
}

fn assert_validation(body: &Value, field: &str) {
    let problems = body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    assert!(
        problems.iter().any(|p| p["loc"]
            .as_array()
            .is_some_and(|loc| loc.last() == Some(&json!(field)))
            && p["msg"].is_string()),
        "no problem about {field}: {body}"
    );
}

/// The numeric id of the service user with this login.
fn user_id(sb: &Sandbox, login: &str) -> i64 {
    let (status, page) = sb.admin("GET", "/users?type=Service&size=1000", None);
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user_id"] == login)
        .and_then(|u| u["id"].as_i64())
        .unwrap_or_else(|| panic!("no {login} in {page}"))
}

fn create_token(sb: &Sandbox, body: Value) -> Value {
    let (status, created) = sb.admin("POST", "/user-tokens", Some(body));
    assert_eq!(status, 200, "create: {created}");
    created
}

/// A service token for the seeded `nightly_loader@service` (Admin) or `catalog_sync@service`
/// (Member).
fn token_for(sb: &Sandbox, login: &str, name: &str, days: Option<i64>) -> Value {
    let id = user_id(sb, login);
    create_token(
        sb,
        json!({"name": name, "user_id": id, "expires_in_days": days}),
    )
}

fn secret(created: &Value) -> String {
    created["bearer_token"].as_str().unwrap().to_string()
}

fn service_list(sb: &Sandbox) -> Vec<Value> {
    let (status, list) = sb.admin("GET", "/user-tokens/service", None);
    assert_eq!(status, 200, "{list}");
    list.as_array().expect("a bare array").clone()
}

fn listed(sb: &Sandbox, id: &Value) -> Value {
    service_list(sb)
        .into_iter()
        .find(|t| &t["id"] == id)
        .unwrap_or_else(|| panic!("token {id} not listed"))
}

fn jwt_part(jwt: &str, i: usize) -> Value {
    let part = jwt.split('.').nth(i).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url, no padding")).unwrap()
}

fn millis(t: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap_or_else(|| panic!("{t} is no time")))
        .unwrap()
        .timestamp_millis()
}

#[test]
fn status_answers_with_or_without_a_token() {
    let sb = qualytics(&[]);
    assert_eq!(
        sb.call("GET", "/status", None, None),
        (200, json!({"status": "ok"}))
    );
    assert_eq!(sb.admin("GET", "/status", None).0, 200);
}

#[test]
fn only_known_bearer_tokens_authenticate() {
    let sb = seeded();
    let (status, body) = sb.admin("GET", "/user-tokens", None);
    assert_eq!((status, body), (200, json!([])));
    for auth in [
        None,
        Some("Bearer not-a-token".to_string()),
        Some(format!("Key {}", sb.admin_token)),
        Some(
            "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0NSJ9.c2lnbmF0dXJl".to_string(),
        ),
    ] {
        let (status, body) = sb.call("GET", "/user-tokens/service", auth.as_deref(), None);
        assert_eq!(status, 401, "{auth:?}: {body}");
        assert_detail(&body);
    }
}

#[test]
fn seeded_service_users_are_listed_with_derived_logins() {
    let sb = seeded();
    let (status, page) = sb.admin("GET", "/users?type=Service", None);
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(page["total"], json!(2), "{page}");
    let loader = &items[0];
    assert_eq!(loader["user_id"], "nightly_loader@service");
    assert_eq!(loader["user_name"], "nightly_loader");
    assert_eq!(loader["name"], "Nightly Loader");
    assert_eq!(loader["role"], "Admin");
    assert_eq!(loader["user_type"], "Service");
    assert_eq!(loader["teams"], json!(["Public"]));
    assert!(
        loader["id"].is_i64() && loader["id"] != json!(1),
        "{loader}"
    );
    assert_eq!(items[1]["user_id"], "catalog_sync@service");
    assert_eq!(items[1]["role"], "Member");
    // Without the filter, the Admin (a person, id 1) is there too.
    let (_, all) = sb.admin("GET", "/users", None);
    let admin = &all["items"][0];
    assert_eq!(
        (
            admin["id"].as_i64(),
            admin["user_id"].as_str(),
            admin["user_type"].as_str()
        ),
        (Some(1), Some("admin@sandbox"), Some("Human"))
    );
}

#[test]
fn a_service_token_is_a_signed_jwt_with_the_user_and_exp() {
    let sb = seeded();
    let loader = user_id(&sb, "nightly_loader@service");
    let before = chrono::Utc::now().timestamp();
    let created = create_token(
        &sb,
        json!({"name": "loader-prod", "user_id": loader, "expires_in_days": 30}),
    );
    let after = chrono::Utc::now().timestamp();
    let jwt = secret(&created);
    assert_eq!(jwt.split('.').count(), 3, "{jwt}");
    assert!(!jwt.contains('='), "no padding: {jwt}");
    assert_eq!(jwt_part(&jwt, 0)["alg"], "HS256");
    let claims = jwt_part(&jwt, 1);
    assert_eq!(claims["sub"], json!(loader.to_string()), "{claims}");
    let exp = claims["exp"].as_i64().expect("exp claim");
    assert!(
        (before + 30 * 86_400..=after + 30 * 86_400).contains(&exp),
        "{claims}"
    );

    assert!(created["id"].is_i64());
    assert_eq!(created["name"], "loader-prod");
    assert_eq!(created["active"], json!(true));
    assert_eq!(created["last_used"], Value::Null);
    let expiration = millis(&created["expiration"]);
    assert!((expiration / 1000 - exp).abs() <= 1, "{created}");
    assert_eq!(created["user"]["id"], json!(loader));
    assert_eq!(created["user"]["user_id"], "nightly_loader@service");
    assert_eq!(created["user"]["user_type"], "Service");

    // A token that never expires has no exp claim and a null expiration.
    let never = create_token(&sb, json!({"name": "forever", "user_id": loader}));
    assert_eq!(never["expiration"], Value::Null);
    assert!(jwt_part(&secret(&never), 1).get("exp").is_none());

    // Lists never carry the secret.
    let list = service_list(&sb);
    assert_eq!(list.len(), 2);
    assert!(
        list.iter().all(|t| t.get("bearer_token").is_none()),
        "{list:?}"
    );
}

#[test]
fn an_issued_token_acts_as_its_service_user_and_records_its_use() {
    let sb = seeded();
    let admin_token = token_for(&sb, "nightly_loader@service", "loader", None);
    let member_token = token_for(&sb, "catalog_sync@service", "catalog", None);
    let admin_auth = bearer(&secret(&admin_token));
    let member_auth = bearer(&secret(&member_token));

    let (status, list) = sb.call("GET", "/user-tokens/service", Some(&admin_auth), None);
    assert_eq!(status, 200, "an Admin service user manages: {list}");
    let (status, err) = sb.call("GET", "/user-tokens/service", Some(&member_auth), None);
    assert_eq!(status, 403, "{err}");
    assert_detail(&err);
    let (status, err) = sb.call("GET", "/users?type=Service", Some(&member_auth), None);
    assert_eq!(status, 403, "{err}");
    let (status, own) = sb.call("GET", "/user-tokens", Some(&member_auth), None);
    assert_eq!(status, 200, "any user lists its own tokens: {own}");
    let own = own.as_array().unwrap();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["id"], member_token["id"]);

    // last_used is set on every use.
    let first = millis(&listed(&sb, &member_token["id"])["last_used"]);
    sb.clock(60);
    let aged = millis(&listed(&sb, &member_token["id"])["last_used"]);
    assert_eq!(first - aged, 60_000);
    sb.call("GET", "/user-tokens", Some(&member_auth), None);
    let again = millis(&listed(&sb, &member_token["id"])["last_used"]);
    assert!(again > aged, "used again: {aged} then {again}");
}

#[test]
fn revoke_restore_and_delete_follow_the_rules() {
    let sb = seeded();
    let created = token_for(&sb, "nightly_loader@service", "loader", Some(365));
    let id = created["id"].as_i64().unwrap();
    let auth = bearer(&secret(&created));
    let path = format!("/user-tokens/{id}");

    let (status, err) = sb.admin("DELETE", &path, None);
    assert_eq!(status, 409, "an active token is not deleted: {err}");
    assert_detail(&err);

    let (status, revoked) = sb.admin("PUT", &path, Some(json!({"revoke": true})));
    assert_eq!(
        (status, revoked["active"].clone()),
        (200, json!(false)),
        "{revoked}"
    );
    assert_eq!(revoked["id"], json!(id));
    let (status, err) = sb.call("GET", "/user-tokens", Some(&auth), None);
    assert_eq!(status, 401, "a revoked token: {err}");
    assert_eq!(listed(&sb, &json!(id))["active"], json!(false));

    let (status, restored) = sb.admin("PUT", &path, Some(json!({"revoke": false})));
    assert_eq!(
        (status, restored["active"].clone()),
        (200, json!(true)),
        "{restored}"
    );
    assert_eq!(sb.call("GET", "/user-tokens", Some(&auth), None).0, 200);

    sb.admin("PUT", &path, Some(json!({"revoke": true})));
    let (status, body) = sb.admin("DELETE", &path, None);
    assert_eq!((status, body), (204, Value::Null));
    assert!(service_list(&sb).is_empty());
    let (status, err) = sb.admin("DELETE", &path, None);
    assert_eq!(status, 404, "{err}");
    assert_detail(&err);
    assert_eq!(sb.admin("PUT", &path, Some(json!({"revoke": true}))).0, 404);
    assert_eq!(sb.call("GET", "/user-tokens", Some(&auth), None).0, 401);

    let (status, err) = sb.admin("PUT", "/user-tokens/abc", Some(json!({"revoke": true})));
    assert_eq!(status, 422, "{err}");
    let (status, err) = sb.admin("PUT", &path, Some(json!({})));
    assert_eq!(status, 422, "{err}");
    assert_validation(&err, "revoke");
}

#[test]
fn a_member_cannot_revoke_a_service_token() {
    let sb = seeded();
    let target = token_for(&sb, "nightly_loader@service", "loader", None);
    let member = token_for(&sb, "catalog_sync@service", "catalog", None);
    let path = format!("/user-tokens/{}", target["id"]);
    let (status, err) = sb.call(
        "PUT",
        &path,
        Some(&bearer(&secret(&member))),
        Some(json!({"revoke": true})),
    );
    assert_eq!(status, 403, "{err}");
    assert_eq!(listed(&sb, &target["id"])["active"], json!(true));
}

#[test]
fn create_refuses_duplicates_non_service_users_and_bad_lifetimes() {
    let sb = seeded();
    let loader = user_id(&sb, "nightly_loader@service");
    let catalog = user_id(&sb, "catalog_sync@service");
    create_token(&sb, json!({"name": "prod", "user_id": loader}));
    let (status, err) = sb.admin(
        "POST",
        "/user-tokens",
        Some(json!({"name": "prod", "user_id": loader})),
    );
    assert_eq!(status, 409, "{err}");
    assert_detail(&err);
    create_token(&sb, json!({"name": "prod", "user_id": catalog}));

    let (status, err) = sb.admin(
        "POST",
        "/user-tokens",
        Some(json!({"name": "x", "user_id": 1})),
    );
    assert_eq!(status, 400, "the Admin is no service user: {err}");
    assert_detail(&err);
    let (status, err) = sb.admin(
        "POST",
        "/user-tokens",
        Some(json!({"name": "x", "user_id": 9999})),
    );
    assert_eq!(status, 404, "{err}");

    for days in [0, 366, -5] {
        let (status, err) = sb.admin(
            "POST",
            "/user-tokens",
            Some(json!({"name": "x", "user_id": loader, "expires_in_days": days})),
        );
        assert_eq!(status, 422, "{days} days: {err}");
        assert_validation(&err, "expires_in_days");
    }
    for (body, field) in [
        (json!({"user_id": loader}), "name"),
        (json!({"name": "x".repeat(256), "user_id": loader}), "name"),
        (
            json!({"name": "x", "user_id": "nightly_loader@service"}),
            "user_id",
        ),
    ] {
        let (status, err) = sb.admin("POST", "/user-tokens", Some(body.clone()));
        assert_eq!(status, 422, "{body}: {err}");
        assert_validation(&err, field);
    }
    let (status, _) = sb.admin(
        "POST",
        "/user-tokens",
        Some(json!({"name": "x", "expires_in_days": 365})),
    );
    assert_eq!(status, 200, "365 days is allowed");
    assert_eq!(service_list(&sb).len(), 2);
}

#[test]
fn personal_tokens_belong_to_the_caller() {
    let sb = seeded();
    let personal = create_token(&sb, json!({"name": "laptop", "expires_in_days": 30}));
    assert_eq!(personal["user"]["id"], json!(1));
    assert_eq!(personal["user"]["user_id"], "admin@sandbox");
    assert_eq!(personal["user"]["user_type"], "Human");
    let (_, own) = sb.admin("GET", "/user-tokens", None);
    assert_eq!(own.as_array().unwrap().len(), 1);
    assert!(
        service_list(&sb).is_empty(),
        "a personal token is no service token"
    );
    // It authenticates as the Admin.
    let auth = bearer(&secret(&personal));
    assert_eq!(
        sb.call("GET", "/user-tokens/service", Some(&auth), None).0,
        200
    );
    // A service user cannot see it, even an Admin one.
    let loader = token_for(&sb, "nightly_loader@service", "loader", None);
    let (status, _) = sb.call(
        "PUT",
        &format!("/user-tokens/{}", personal["id"]),
        Some(&bearer(&secret(&loader))),
        Some(json!({"revoke": true})),
    );
    assert_eq!(status, 404);
    let (_, own) = sb.call("GET", "/user-tokens", Some(&bearer(&secret(&loader))), None);
    assert_eq!(own.as_array().unwrap().len(), 1, "only its own: {own}");
}

#[test]
fn expiry_follows_the_clock_not_the_jwt() {
    let sb = seeded();
    let created = token_for(&sb, "nightly_loader@service", "daily", Some(1));
    let lasting = token_for(&sb, "nightly_loader@service", "lasting", None);
    let jwt = secret(&created);
    let exp = jwt_part(&jwt, 1)["exp"].as_i64().unwrap();
    let auth = bearer(&jwt);
    assert_eq!(sb.call("GET", "/user-tokens", Some(&auth), None).0, 200);
    let expiration = millis(&listed(&sb, &created["id"])["expiration"]);

    sb.clock(2 * 86_400);
    let (status, err) = sb.call("GET", "/user-tokens", Some(&auth), None);
    assert_eq!(status, 401, "expired: {err}");
    assert_eq!(
        jwt_part(&jwt, 1)["exp"].as_i64(),
        Some(exp),
        "the claim does not move"
    );
    let row = listed(&sb, &created["id"]);
    assert_eq!(expiration - millis(&row["expiration"]), 2 * 86_400_000);
    assert!(millis(&row["expiration"]) < chrono::Utc::now().timestamp_millis());
    assert_eq!(
        sb.call(
            "GET",
            "/user-tokens",
            Some(&bearer(&secret(&lasting))),
            None
        )
        .0,
        200
    );

    let path = format!("/user-tokens/{}", created["id"]);
    let (status, err) = sb.admin("PUT", &path, Some(json!({"revoke": false})));
    assert_eq!(status, 400, "an expired token is not restored: {err}");
    assert_detail(&err);
    let (status, _) = sb.admin("PUT", &path, Some(json!({"revoke": true})));
    assert_eq!(status, 200, "it can be revoked");
    let (status, _) = sb.admin("PUT", &path, Some(json!({"revoke": false})));
    assert_eq!(status, 400);
    assert_eq!(sb.admin("DELETE", &path, None).0, 204);
}

#[test]
fn service_users_are_created_and_paged() {
    let sb = qualytics(&[]);
    let (status, user) = sb.admin(
        "POST",
        "/users",
        Some(json!({"name": "Nightly Loader", "role": "Member", "teams": ["Ingestion"]})),
    );
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["user_id"], "nightly_loader@service");
    assert_eq!(user["email"], "nightly_loader@service");
    assert_eq!(user["teams"], json!(["Public", "Ingestion"]));
    assert_eq!(user["user_type"], "Service");
    assert_eq!(user["last_login"], Value::Null);
    assert_eq!(user["deleted_at"], Value::Null);
    assert!(user["created_at"].is_string());
    let (status, err) = sb.admin(
        "POST",
        "/users",
        Some(json!({"name": "nightly loader", "role": "Admin"})),
    );
    assert_eq!(status, 409, "same derived login: {err}");
    let (status, err) = sb.admin(
        "POST",
        "/users",
        Some(json!({"name": "x", "role": "Owner"})),
    );
    assert_eq!(status, 422, "{err}");
    assert_validation(&err, "role");
    let (status, err) = sb.admin("POST", "/users", Some(json!({"name": "x"})));
    assert_eq!(status, 422, "{err}");

    for i in 1..=6 {
        let (status, body) = sb.admin(
            "POST",
            "/users",
            Some(json!({"name": format!("Loader {i}"), "role": "Member"})),
        );
        assert_eq!(status, 200, "{body}");
    }
    let (_, page) = sb.admin("GET", "/users?type=Service&page=1&size=3", None);
    assert_eq!(
        (
            page["total"].as_i64(),
            page["page"].as_i64(),
            page["size"].as_i64()
        ),
        (Some(7), Some(1), Some(3))
    );
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    // A client pages until a short or empty page.
    let mut logins = Vec::new();
    for page in 1.. {
        let (status, body) = sb.admin(
            "GET",
            &format!("/users?type=Service&page={page}&size=3"),
            None,
        );
        assert_eq!(status, 200, "{body}");
        let items = body["items"].as_array().unwrap();
        logins.extend(
            items
                .iter()
                .map(|u| u["user_id"].as_str().unwrap().to_string()),
        );
        if items.len() < 3 {
            assert_eq!(page, 3);
            break;
        }
    }
    let mut unique = logins.clone();
    unique.dedup();
    assert_eq!((logins.len(), unique.len()), (7, 7), "{logins:?}");
    let (_, empty) = sb.admin("GET", "/users?type=Service&page=9&size=3", None);
    assert_eq!(empty["items"], json!([]));
    for bad in ["page=0", "size=0", "page=x"] {
        let (status, _) = sb.admin("GET", &format!("/users?type=Service&{bad}"), None);
        assert_eq!(status, 422, "{bad}");
    }
}

#[test]
fn the_signing_key_and_tokens_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("qualytics.json");
    let mut args = vec![
        "--state",
        state.to_str().unwrap(),
        "--admin-token",
        "q-admin-token-1",
    ];
    args.extend_from_slice(&SEEDS);
    let sb = qualytics(&args);
    let created = token_for(&sb, "nightly_loader@service", "loader", Some(30));
    let jwt = secret(&created);
    assert!(sb.terminate().success());

    let text = std::fs::read_to_string(&state).unwrap();
    assert!(!text.contains(&jwt), "the state file holds no token");
    let saved: Value = serde_json::from_str(&text).unwrap();
    let key = STANDARD
        .decode(
            saved["qualytics"]["jwt_key"]
                .as_str()
                .expect("the key in the state"),
        )
        .unwrap();
    let verify = |jwt: &str| {
        let (input, signature) = jwt.rsplit_once('.').unwrap();
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
        mac.update(input.as_bytes());
        mac.verify_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap())
            .is_ok()
    };
    assert!(verify(&jwt), "HS256 with the kept key");

    // Restarted with the same seeds: no second copy of the users, the old token still works,
    // and a new one is signed with the same key.
    let sb = qualytics(&args);
    let (_, page) = sb.admin("GET", "/users?type=Service", None);
    assert_eq!(page["total"], json!(2), "{page}");
    assert_eq!(
        sb.call("GET", "/user-tokens", Some(&bearer(&jwt)), None).0,
        200
    );
    let fresh = token_for(&sb, "catalog_sync@service", "catalog", None);
    assert!(verify(&secret(&fresh)));
    assert_ne!(fresh["id"], created["id"]);
}

#[test]
fn requests_are_counted_and_faults_answer_in_fastapi_style() {
    let sb = seeded();
    let created = token_for(&sb, "nightly_loader@service", "loader", None);
    let path = format!("/user-tokens/{}", created["id"]);
    sb.admin("PUT", &path, Some(json!({"revoke": true})));
    sb.admin("DELETE", &path, None);
    service_list(&sb);
    assert_eq!(sb.request_count("PUT /api/user-tokens/{id}"), 1);
    assert_eq!(sb.request_count("DELETE /api/user-tokens/{id}"), 1);
    assert_eq!(sb.request_count("POST /api/user-tokens"), 1);
    assert_eq!(sb.request_count("GET /api/users"), 1);
    assert_eq!(sb.request_count("GET /api/user-tokens/service"), 1);

    sb.fault(json!({"path": "/api/user-tokens/service", "count": 1, "status": 503}));
    let (status, err) = sb.admin("GET", "/user-tokens/service", None);
    assert_eq!(status, 503);
    assert_eq!(err, json!({"detail": "injected fault"}));
    let (status, err) = sb.admin("GET", "/nothing", None);
    assert_eq!(status, 404);
    assert_detail(&err);
    let (status, _) = send_json(
        sb.http()
            .get(format!("{}/_sandbox/requests", sb.url))
            .header("Authorization", bearer(&sb.admin_token)),
        None,
    );
    assert_eq!(status, 401, "the control API takes X-API-Token");
}

#[test]
fn a_seed_with_an_unknown_role_refuses_to_start() {
    let err = Sandbox::try_start(&["--platform", "qualytics", "--service-user", "Loader:Owner"])
        .err()
        .expect("refused");
    assert!(err.contains("Loader:Owner"), "{err}");
    let err = Sandbox::try_start(&["--platform", "qualytics", "--service-user", "no-role"])
        .err()
        .expect("refused");
    assert!(err.contains("NAME:ROLE"), "{err}");
    let err = Sandbox::try_start(&["--platform", "posit"])
        .err()
        .expect("refused");
    assert!(err.contains("posit-connect"), "{err}");
}

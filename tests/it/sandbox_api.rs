//! `sts-sandbox` API behaviour (CONTRACT §8): authentication, validation, authorize, ids and
//! secrets, concurrency. Driven directly against the real binary on a free loopback port.

use std::collections::HashSet;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use crate::common::{Sandbox, now_ms, send_json};
use serde_json::{Value, json};

const ADMIN_ROLE: &str = "stackstate-admin";
const TROUBLESHOOTER: &str = "stackstate-k8s-troubleshooter";

/// A request on an API path with one header (or none); returns status and body.
fn call(
    sb: &Sandbox,
    method: &str,
    path: &str,
    header: Option<(&str, &str)>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = sb
        .http()
        .request(method.parse().unwrap(), format!("{}{}", sb.api(), path));
    if let Some((name, value)) = header {
        req = req.header(name, value);
    }
    send_json(req, body)
}

/// Asserts a `GenericErrorsResponse` body, as the spec defines it.
fn assert_generic_error(body: &Value) {
    assert_eq!(body["_type"], "ErrorsResponse", "{body}");
    assert!(body["serverTimestamp"].is_i64(), "{body}");
    assert!(body["trackingKey"].is_string(), "{body}");
    let errors = body["errors"].as_array().expect("errors array");
    assert!(!errors.is_empty(), "{body}");
    for e in errors {
        assert_eq!(e["_type"], "InternalError", "{body}");
        assert!(e["message"].is_string(), "{body}");
    }
}

fn assert_typed_error(body: &Value, kind: &str) {
    assert_eq!(body["_type"], kind, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// The id of the service token called `name` in the list.
fn token_id(sb: &Sandbox, name: &str) -> i64 {
    let (status, list) = sb.admin("GET", "/security/tokens", None);
    assert_eq!(status, 200, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .and_then(|t| t["id"].as_i64())
        .unwrap_or_else(|| panic!("no token {name} in {list}"))
}

fn generate_key(sb: &Sandbox, body: Value) -> Value {
    let (status, key) = sb.admin("POST", "/security/ingestion/api_keys", Some(body));
    assert_eq!(status, 200, "generate key: {key}");
    key
}

fn authorize(sb: &Sandbox, query: &str, api_key: &str) -> u16 {
    let admin = ("X-API-Token", sb.admin_token.as_str());
    let path = format!("/security/ingestion/authorize{query}");
    call(
        sb,
        "POST",
        &path,
        Some(admin),
        Some(json!({"apiKey": api_key})),
    )
    .0
}

#[test]
fn server_info_answers_the_admin_token_and_refuses_no_credential() {
    let sb = Sandbox::start_with(&["--server-version", "6.1.2"]);
    let resp = sb
        .http()
        .get(format!("{}/server/info", sb.api()))
        .header("X-API-Token", &sb.admin_token)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let info: Value = serde_json::from_str(&resp.text().unwrap()).unwrap();
    let v = &info["version"];
    assert_eq!(
        (
            v["major"].as_i64(),
            v["minor"].as_i64(),
            v["patch"].as_i64()
        ),
        (Some(6), Some(1), Some(2))
    );
    assert!(
        v["diff"].is_string() && v["commit"].is_string() && v["isDev"].is_boolean(),
        "{info}"
    );
    let mode = info["deploymentMode"].as_str().unwrap_or_default();
    assert!(["Saas", "SelfHosted"].contains(&mode), "{info}");
    assert_eq!(info["platformVersion"], "6.1.2");

    let (status, body) = call(&sb, "GET", "/server/info", None, None);
    assert_eq!(status, 401, "{body}");
    assert_generic_error(&body);

    let admin = ("X-API-Token", sb.admin_token.as_str());
    let (status, body) = call(&sb, "GET", "/server/status", Some(admin), None);
    assert_eq!(status, 200, "{body}");
    assert!(body.is_object(), "{body}");
    assert_eq!(call(&sb, "GET", "/server/status", None, None).0, 401);
}

#[test]
fn a_service_token_authenticates_by_both_headers_until_deleted() {
    let sb = Sandbox::start();
    let token = sb.create_service_token("ci", &[ADMIN_ROLE]);
    let bearer = format!("ApiKey {token}");
    let key = ("X-API-Key", token.as_str());
    let auth = ("Authorization", bearer.as_str());
    assert_eq!(call(&sb, "GET", "/security/tokens", Some(key), None).0, 200);
    assert_eq!(
        call(&sb, "GET", "/security/tokens", Some(auth), None).0,
        200
    );
    assert_eq!(call(&sb, "GET", "/server/info", Some(auth), None).0, 200);

    let id = token_id(&sb, "ci");
    let (status, body) = sb.admin("DELETE", &format!("/security/tokens/{id}"), None);
    assert_eq!((status, body), (204, Value::Null));
    for header in [key, auth] {
        let (status, body) = call(&sb, "GET", "/server/info", Some(header), None);
        assert_eq!(status, 401, "{body}");
        assert_generic_error(&body);
    }
}

#[test]
fn a_token_without_the_admin_role_reads_but_cannot_manage() {
    let sb = Sandbox::start();
    let token = sb.create_service_token("viewer", &[TROUBLESHOOTER]);
    let key = ("X-API-Key", token.as_str());
    for (method, path, body) in [
        ("GET", "/security/tokens", None),
        (
            "POST",
            "/security/tokens",
            Some(json!({"name": "x", "roles": [ADMIN_ROLE]})),
        ),
        ("DELETE", "/security/tokens/123456789012345", None),
        ("GET", "/security/ingestion/api_keys", None),
        (
            "POST",
            "/security/ingestion/api_keys",
            Some(json!({"name": "x"})),
        ),
        (
            "DELETE",
            "/security/ingestion/api_keys/123456789012345",
            None,
        ),
    ] {
        let (status, resp) = call(&sb, method, path, Some(key), body);
        assert_eq!(status, 403, "{method} {path}: {resp}");
        assert_generic_error(&resp);
    }
    assert_eq!(call(&sb, "GET", "/server/info", Some(key), None).0, 200);
    assert_eq!(call(&sb, "GET", "/server/status", Some(key), None).0, 200);
    let (status, roles) = call(&sb, "GET", "/user/session/availableRoles", Some(key), None);
    assert_eq!((status, roles), (200, json!({"roles": [TROUBLESHOOTER]})));
    let live = generate_key(&sb, json!({"name": "k"}));
    let body = json!({"apiKey": live["apiKey"]});
    let (status, _) = call(
        &sb,
        "POST",
        "/security/ingestion/authorize",
        Some(key),
        Some(body),
    );
    assert_eq!(status, 204);
    // Nothing was created by the refused calls.
    let (_, list) = sb.admin("GET", "/security/tokens", None);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
}

#[test]
fn k8s_service_account_tokens_have_admin_rights_and_others_are_refused() {
    let sb = Sandbox::start_with(&["--k8s-sa-token", "sa-one", "--k8s-sa-token", "sa-two"]);
    for sa in ["sa-one", "sa-two"] {
        let bearer = ("X-API-ServiceBearer", sa);
        let (status, body) = call(&sb, "GET", "/security/tokens", Some(bearer), None);
        assert_eq!(status, 200, "{body}");
        assert!(body.is_array(), "{body}");
        let create = json!({"name": sa, "roles": [ADMIN_ROLE]});
        assert_eq!(
            call(&sb, "POST", "/security/tokens", Some(bearer), Some(create)).0,
            200
        );
    }
    for header in [
        ("X-API-ServiceBearer", "sa-three"),
        ("X-API-Token", "not-the-admin-token"),
        ("X-API-Key", "svctok-unknown"),
        ("Authorization", "ApiKey svctok-unknown"),
        ("Authorization", "Bearer sa-one"),
    ] {
        let (status, body) = call(&sb, "GET", "/server/info", Some(header), None);
        assert_eq!(status, 401, "{header:?}: {body}");
        assert_generic_error(&body);
    }
}

#[test]
fn expired_tokens_are_refused_and_expired_keys_not_authorized() {
    let sb = Sandbox::start();
    let expiry = now_ms() + 60_000;
    let create = json!({"name": "short", "roles": [ADMIN_ROLE], "expiryDate": expiry});
    let (status, created) = sb.admin("POST", "/security/tokens", Some(create));
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["expiration"], expiry);
    let token = created["token"].as_str().unwrap().to_string();
    let key = generate_key(&sb, json!({"name": "short", "expiration": expiry}));
    let api_key = key["apiKey"].as_str().unwrap();
    assert_eq!(
        call(
            &sb,
            "GET",
            "/server/info",
            Some(("X-API-Key", &token)),
            None
        )
        .0,
        200
    );
    assert_eq!(authorize(&sb, "", api_key), 204);

    // A minute passes, on the sandbox's clock.
    sb.clock(120);
    let (status, body) = call(
        &sb,
        "GET",
        "/server/info",
        Some(("X-API-Key", &token)),
        None,
    );
    assert_eq!(status, 401, "{body}");
    assert_generic_error(&body);
    assert_eq!(authorize(&sb, "", api_key), 403);
}

#[test]
fn each_validation_error_has_its_status_and_body() {
    let sb = Sandbox::start();
    let past = now_ms() - 60_000;
    let generic_400 = [
        ("/security/tokens", json!({"roles": [ADMIN_ROLE]})),
        ("/security/tokens", json!({"name": "n"})),
        (
            "/security/tokens",
            json!({"name": 5, "roles": [ADMIN_ROLE]}),
        ),
        ("/security/tokens", json!({"name": "n", "roles": "admin"})),
        (
            "/security/tokens",
            json!({"name": "n", "roles": [], "expiryDate": "soon"}),
        ),
        (
            "/security/ingestion/api_keys",
            json!({"description": "no name"}),
        ),
        (
            "/security/ingestion/api_keys",
            json!({"name": "n", "expiration": 1.5}),
        ),
        ("/security/ingestion/authorize", json!({})),
    ];
    for (path, body) in generic_400 {
        let (status, resp) = sb.admin("POST", path, Some(body.clone()));
        assert_eq!(status, 400, "{path} {body}: {resp}");
        assert_generic_error(&resp);
    }

    let body = json!({"name": "old", "roles": [ADMIN_ROLE], "expiryDate": past});
    let (status, resp) = sb.admin("POST", "/security/tokens", Some(body));
    assert_eq!(status, 400, "{resp}");
    assert_typed_error(&resp, "ServiceTokenInvalidExpiryError");
    let body = json!({"name": "old", "expiration": past});
    let (status, resp) = sb.admin("POST", "/security/ingestion/api_keys", Some(body));
    assert_eq!(status, 400, "{resp}");
    assert_typed_error(&resp, "IngestionApiKeyInvalidExpiryError");

    for path in [
        "/security/tokens/123456789012345",
        "/security/ingestion/api_keys/123456789012345",
    ] {
        let (status, resp) = sb.admin("DELETE", path, None);
        assert_eq!(status, 404, "{path}: {resp}");
        assert_generic_error(&resp);
    }
    let (status, resp) = sb.admin("DELETE", "/security/tokens/not-a-number", None);
    assert_eq!(status, 400, "{resp}");
    assert_generic_error(&resp);

    // Malformed JSON and an empty body.
    for raw in ["{\"name\": \"x\", \"roles\": [", ""] {
        let req = sb
            .http()
            .post(format!("{}/security/tokens", sb.api()))
            .header("X-API-Token", &sb.admin_token)
            .header("Content-Type", "application/json")
            .body(raw);
        let (status, resp) = send_json(req, None);
        assert_eq!(status, 400, "{raw:?}: {resp}");
        assert_generic_error(&resp);
    }

    // Nothing above created anything.
    assert_eq!(sb.admin("GET", "/security/tokens", None).1, json!([]));
    assert_eq!(
        sb.admin("GET", "/security/ingestion/api_keys", None).1,
        json!([])
    );
}

#[test]
fn a_body_over_64_kib_is_413_and_just_under_is_accepted() {
    let sb = Sandbox::start();
    for path in ["/security/tokens", "/security/ingestion/api_keys"] {
        let big = json!({"name": "x".repeat(65 * 1024), "roles": [ADMIN_ROLE]});
        let (status, resp) = sb.admin("POST", path, Some(big));
        assert_eq!(status, 413, "{path}: {resp}");
        assert_generic_error(&resp);
    }
    let fits = json!({"name": "y".repeat(63 * 1024), "roles": [ADMIN_ROLE]});
    assert_eq!(sb.admin("POST", "/security/tokens", Some(fits)).0, 200);
}

#[test]
fn unknown_paths_and_methods_answer_generic_errors() {
    let sb = Sandbox::start();
    let (status, body) = sb.admin("GET", "/no/such/thing", None);
    assert_eq!(status, 404, "{body}");
    assert_generic_error(&body);
    let (status, body) = sb.admin("PUT", "/security/tokens", None);
    assert_eq!(status, 405, "{body}");
    assert_generic_error(&body);
}

#[test]
fn authorize_accepts_live_keys_and_the_receiver_key_only_when_asked() {
    let sb = Sandbox::start_with(&["--receiver-api-key", "receiver-secret"]);
    let key = generate_key(&sb, json!({"name": "pipeline"}));
    let api_key = key["apiKey"].as_str().unwrap();
    assert_eq!(authorize(&sb, "", api_key), 204);
    assert_eq!(authorize(&sb, "?withReceiverKey=true", api_key), 204);
    assert_eq!(authorize(&sb, "", "iapikey-unknown"), 403);

    assert_eq!(authorize(&sb, "", "receiver-secret"), 403);
    assert_eq!(
        authorize(&sb, "?withReceiverKey=false", "receiver-secret"),
        403
    );
    assert_eq!(
        authorize(&sb, "?withReceiverKey=true", "receiver-secret"),
        204
    );
    assert_eq!(
        authorize(&sb, "?withReceiverKey=true", "receiver-other"),
        403
    );

    let id = key["id"].as_i64().unwrap();
    let path = format!("/security/ingestion/api_keys/{id}");
    assert_eq!(sb.admin("DELETE", &path, None).0, 204);
    assert_eq!(authorize(&sb, "", api_key), 403);
    assert_eq!(sb.admin("DELETE", &path, None).0, 404);

    // Authorize itself needs a credential.
    let body = Some(json!({"apiKey": "receiver-secret"}));
    let (status, _) = call(
        &sb,
        "POST",
        "/security/ingestion/authorize?withReceiverKey=true",
        None,
        body,
    );
    assert_eq!(status, 401);
}

#[test]
fn ids_prefixes_and_secrets_are_as_the_real_server_makes_them() {
    let sb = Sandbox::start();
    let before = now_ms();
    let in_a_day = before + 24 * 3600 * 1000;
    let create = json!({
        "name": "full", "roles": [ADMIN_ROLE, TROUBLESHOOTER],
        "expiryDate": in_a_day, "dedicatedSubject": "ci-bot",
    });
    let (status, created) = sb.admin("POST", "/security/tokens", Some(create));
    assert_eq!(status, 200, "{created}");
    assert!(
        created.get("id").is_none(),
        "create token answer has no id: {created}"
    );
    assert_eq!(created["name"], "full");
    assert_eq!(created["expiration"], in_a_day);
    let token = created["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("svctok-") && token.len() > 20, "{token}");
    let bare_token = sb.create_service_token("bare", &[ADMIN_ROLE]);

    let key = generate_key(
        &sb,
        json!({"name": "k", "description": "d", "expiration": in_a_day}),
    );
    let api_key = key["apiKey"].as_str().unwrap().to_string();
    assert!(
        api_key.starts_with("iapikey-") && api_key.len() > 20,
        "{api_key}"
    );
    assert_eq!(
        (&key["name"], &key["description"], &key["expiration"]),
        (&json!("k"), &json!("d"), &json!(in_a_day))
    );
    for field in ["id", "lastUpdateTimestamp"] {
        assert!(
            key[field].as_i64().is_some_and(|v| v >= before),
            "{field}: {key}"
        );
    }
    let bare_key = generate_key(&sb, json!({"name": "bare"}));
    assert!(
        bare_key.get("description").is_none() && bare_key.get("expiration").is_none(),
        "{bare_key}"
    );

    let (_, tokens) = sb.admin("GET", "/security/tokens", None);
    let (_, keys) = sb.admin("GET", "/security/ingestion/api_keys", None);
    let mut ids = HashSet::new();
    for row in tokens
        .as_array()
        .unwrap()
        .iter()
        .chain(keys.as_array().unwrap())
    {
        let id = row["id"].as_i64().expect("id");
        assert!(id > 0 && id.to_string().len() == 15, "{row}");
        assert!(ids.insert(id), "duplicate id {id}");
        assert!(
            row["lastUpdateTimestamp"]
                .as_i64()
                .is_some_and(|t| t >= before),
            "{row}"
        );
    }
    assert_eq!(ids.len(), 4);
    let full = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "full")
        .unwrap();
    assert_eq!(full["roles"], json!([ADMIN_ROLE, TROUBLESHOOTER]));
    assert_eq!(full["expiration"], in_a_day);
    assert_eq!(full["dedicatedSubject"], "ci-bot");
    let bare = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "bare")
        .unwrap();
    assert!(
        bare.get("expiration").is_none() && bare.get("dedicatedSubject").is_none(),
        "{bare}"
    );
    assert_eq!(keys[0]["description"], "d");

    let listed = format!("{tokens}{keys}");
    for secret in [
        &token,
        &bare_token,
        &api_key,
        &bare_key["apiKey"].as_str().unwrap().to_string(),
    ] {
        assert!(
            !listed.contains(secret.as_str()),
            "secret in a list response"
        );
    }
    assert!(
        !listed.contains("svctok-") && !listed.contains("iapikey-"),
        "{listed}"
    );
}

#[test]
fn names_need_not_be_unique() {
    let sb = Sandbox::start();
    let a = sb.create_service_token("same", &[ADMIN_ROLE]);
    let b = sb.create_service_token("same", &[ADMIN_ROLE]);
    assert_ne!(a, b);
    generate_key(&sb, json!({"name": "same"}));
    generate_key(&sb, json!({"name": "same"}));
    assert_eq!(
        sb.admin("GET", "/security/tokens", None)
            .1
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        sb.admin("GET", "/security/ingestion/api_keys", None)
            .1
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn fifty_concurrent_creates_get_fifty_distinct_ids() {
    let sb = Sandbox::start();
    let barrier = Arc::new(Barrier::new(50));
    let tokens: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let barrier = Arc::clone(&barrier);
                let (api, admin) = (sb.api(), sb.admin_token.clone());
                scope.spawn(move || {
                    // A client of its own: its own connection.
                    let client = reqwest::blocking::Client::builder()
                        .timeout(Duration::from_secs(30))
                        .build()
                        .unwrap();
                    barrier.wait();
                    let req = client
                        .post(format!("{api}/security/tokens"))
                        .header("X-API-Token", admin);
                    let body = json!({"name": format!("c-{i:02}"), "roles": [ADMIN_ROLE]});
                    let (status, created) = send_json(req, Some(body));
                    assert_eq!(status, 200, "{created}");
                    created["token"].as_str().unwrap().to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(tokens.iter().collect::<HashSet<_>>().len(), 50);
    let (_, list) = sb.admin("GET", "/security/tokens", None);
    let list = list.as_array().unwrap();
    let ids: HashSet<i64> = list.iter().filter_map(|t| t["id"].as_i64()).collect();
    let names: HashSet<&str> = list.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!((list.len(), ids.len(), names.len()), (50, 50, 50));
    for token in &tokens {
        assert_eq!(
            call(&sb, "GET", "/server/info", Some(("X-API-Key", token)), None).0,
            200
        );
    }
}

#[test]
fn two_sandboxes_at_once_get_different_ports() {
    let a = Sandbox::start();
    let b = Sandbox::start();
    assert_ne!(a.url, b.url);
    assert_ne!(a.admin_token, b.admin_token);
    assert_eq!(a.admin("GET", "/server/info", None).0, 200);
    assert_eq!(b.admin("GET", "/server/info", None).0, 200);
    // Each only knows its own admin token.
    let (status, _) = call(
        &a,
        "GET",
        "/server/info",
        Some(("X-API-Token", &b.admin_token)),
        None,
    );
    assert_eq!(status, 401);
}

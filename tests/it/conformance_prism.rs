//! Conformance: every operation of the official OpenAPI document, driven through
//! `prism proxy --errors` in front of a real `sts-sandbox`. Prism turns any request or response
//! that breaks the spec into a 422/500 and logs it; these tests fail on either.
//!
//! Error answers (401, 403, 404, 413, …) are mostly undeclared in the spec, or would be intercepted
//! by Prism itself, so they are tested directly against the sandbox in `sandbox_*.rs`.

use crate::common::{Prism, Sandbox, send_json};
use serde_json::{Value, json};

/// One call through Prism with a credential header; returns the status and body.
fn call(
    prism: &Prism,
    sandbox: &Sandbox,
    method: &str,
    path: &str,
    header: (&str, &str),
    body: Option<Value>,
) -> (u16, Value) {
    let req = sandbox
        .http()
        .request(method.parse().unwrap(), format!("{}{}", prism.api(), path))
        .header(header.0, header.1);
    send_json(req, body)
}

#[test]
fn every_operation_success_path_conforms_to_the_spec() {
    let sandbox = Sandbox::start_with(&["--receiver-api-key", "receiver-key-1"]);
    let prism = Prism::proxy(&sandbox.url);
    let admin = ("X-API-Token", sandbox.admin_token.as_str());
    let in_a_year = chrono::Utc::now().timestamp_millis() + 365 * 24 * 3600 * 1000;

    let (status, info) = call(&prism, &sandbox, "GET", "/server/info", admin, None);
    assert_eq!(status, 200, "server info: {info}");
    assert!(info["version"]["major"].is_i64(), "{info}");

    let (status, roles) = call(
        &prism,
        &sandbox,
        "GET",
        "/user/session/availableRoles",
        admin,
        None,
    );
    assert_eq!(status, 200, "available roles: {roles}");

    // Service tokens: create (bare and with every optional field), list, use, delete.
    let (status, created) = call(
        &prism,
        &sandbox,
        "POST",
        "/security/tokens",
        admin,
        Some(json!({"name": "ci-bare", "roles": ["stackstate-admin"]})),
    );
    assert_eq!(status, 200, "create token: {created}");
    let token = created["token"].as_str().unwrap().to_string();
    let (status, full) = call(
        &prism,
        &sandbox,
        "POST",
        "/security/tokens",
        admin,
        Some(json!({
            "name": "ci-full",
            "roles": ["stackstate-k8s-troubleshooter", "stackstate-admin"],
            "expiryDate": in_a_year,
            "dedicatedSubject": "ci-subject"
        })),
    );
    assert_eq!(status, 200, "create token with all fields: {full}");
    assert_eq!(full["expiration"], json!(in_a_year));

    let service = ("X-API-Key", token.as_str());
    let (status, list) = call(&prism, &sandbox, "GET", "/security/tokens", service, None);
    assert_eq!(
        status, 200,
        "list tokens with the new service token: {list}"
    );
    let tokens = list.as_array().expect("token list is an array");
    assert_eq!(tokens.len(), 2);
    let full_id = tokens
        .iter()
        .find(|t| t["name"] == "ci-full")
        .and_then(|t| t["id"].as_i64())
        .expect("ci-full listed with an id");

    // Ingestion API keys: create (bare and full), list, authorize, delete.
    let (status, key) = call(
        &prism,
        &sandbox,
        "POST",
        "/security/ingestion/api_keys",
        service,
        Some(json!({"name": "agent"})),
    );
    assert_eq!(status, 200, "create key: {key}");
    let (status, key_full) = call(
        &prism,
        &sandbox,
        "POST",
        "/security/ingestion/api_keys",
        admin,
        Some(json!({"name": "otel", "description": "collector", "expiration": in_a_year})),
    );
    assert_eq!(status, 200, "create key with all fields: {key_full}");
    let (status, keys) = call(
        &prism,
        &sandbox,
        "GET",
        "/security/ingestion/api_keys",
        admin,
        None,
    );
    assert_eq!(status, 200, "list keys: {keys}");
    assert_eq!(keys.as_array().map(Vec::len), Some(2), "{keys}");

    let api_key = key["apiKey"].as_str().unwrap();
    let (status, _) = call(
        &prism,
        &sandbox,
        "POST",
        "/security/ingestion/authorize",
        admin,
        Some(json!({"apiKey": api_key})),
    );
    assert_eq!(status, 204, "authorize a live key");
    let (status, _) = call(
        &prism,
        &sandbox,
        "POST",
        "/security/ingestion/authorize?withReceiverKey=true",
        admin,
        Some(json!({"apiKey": "receiver-key-1"})),
    );
    assert_eq!(status, 204, "authorize the receiver key");
    let (status, _) = call(
        &prism,
        &sandbox,
        "POST",
        "/security/ingestion/authorize",
        admin,
        Some(json!({"apiKey": "iapikey-not-a-key"})),
    );
    assert_eq!(status, 403, "authorize an unknown key (a declared answer)");

    let key_id = key["id"].as_i64().unwrap();
    let (status, body) = call(
        &prism,
        &sandbox,
        "DELETE",
        &format!("/security/ingestion/api_keys/{key_id}"),
        admin,
        None,
    );
    assert_eq!(status, 204, "delete key: {body}");
    let (status, body) = call(
        &prism,
        &sandbox,
        "DELETE",
        &format!("/security/tokens/{full_id}"),
        service,
        None,
    );
    assert_eq!(status, 204, "delete token: {body}");

    prism.assert_no_error_violations();
}

#[test]
fn the_k8s_service_bearer_conforms_too() {
    let sandbox = Sandbox::start_with(&["--k8s-sa-token", "k8s-sa-secret"]);
    let prism = Prism::proxy(&sandbox.url);
    let bearer = ("X-API-ServiceBearer", "k8s-sa-secret");
    let (status, info) = call(&prism, &sandbox, "GET", "/server/info", bearer, None);
    assert_eq!(status, 200, "{info}");
    let (status, list) = call(&prism, &sandbox, "GET", "/security/tokens", bearer, None);
    assert_eq!(status, 200, "{list}");
    prism.assert_no_error_violations();
}

/// The check itself must be able to fail: a response that breaks the schema (injected through the
/// sandbox's faults) is reported by Prism as an error-level violation.
#[test]
fn a_response_that_breaks_the_spec_is_caught() {
    let sandbox = Sandbox::start();
    let prism = Prism::proxy(&sandbox.url);
    sandbox.fault(json!({
        "method": "GET",
        "path": "/api/server/info",
        "count": 1,
        "status": 200,
        "body": {"version": "not an object"}
    }));
    let (status, _) = call(
        &prism,
        &sandbox,
        "GET",
        "/server/info",
        ("X-API-Token", sandbox.admin_token.as_str()),
        None,
    );
    assert_eq!(status, 500, "Prism answers a broken response with 500");
    assert!(
        !prism.error_violations().is_empty(),
        "Prism logged no violation:\n{}",
        prism.log()
    );
}

/// One call through Prism with an `Authorization` header; returns the status and body.
fn call_auth(
    prism: &Prism,
    sandbox: &Sandbox,
    method: &str,
    path: &str,
    authorization: &str,
    body: Option<Value>,
) -> (u16, Value) {
    call(
        prism,
        sandbox,
        method,
        path,
        ("Authorization", authorization),
        body,
    )
}

#[test]
fn every_posit_connect_operation_conforms_to_its_document() {
    let sandbox = Sandbox::start_platform("posit-connect", &["--publisher-key", "publisher-key-1"]);
    let prism = Prism::proxy_for("posit-connect", &sandbox.url);
    let admin = format!("Key {}", sandbox.admin_token);
    let tokens = "/v1/system/service-tokens";
    let in_a_year = (chrono::Utc::now() + chrono::Duration::days(365))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);

    let (status, settings) = call_auth(&prism, &sandbox, "GET", "/server_settings", &admin, None);
    assert_eq!(status, 200, "server settings: {settings}");
    let (status, me) = call_auth(&prism, &sandbox, "GET", "/v1/user", &admin, None);
    assert_eq!(
        (status, me["user_role"].as_str()),
        (200, Some("administrator")),
        "{me}"
    );
    let (status, me) = call_auth(
        &prism,
        &sandbox,
        "GET",
        "/v1/user",
        "Key publisher-key-1",
        None,
    );
    assert_eq!(
        (status, me["user_role"].as_str()),
        (200, Some("publisher")),
        "{me}"
    );
    let (status, scopes) = call_auth(
        &prism,
        &sandbox,
        "GET",
        &format!("{tokens}/scopes"),
        &admin,
        None,
    );
    assert_eq!(status, 200, "scopes: {scopes}");

    let (status, bare) = call_auth(
        &prism,
        &sandbox,
        "POST",
        tokens,
        &admin,
        Some(json!({"name": "Okta provisioning", "scopes": ["identity:manage"]})),
    );
    assert_eq!(status, 200, "create: {bare}");
    let (status, full) = call_auth(
        &prism,
        &sandbox,
        "POST",
        tokens,
        &admin,
        Some(json!({
            "name": "Name-service reader",
            "scopes": ["nameservice:read", "identity:manage"],
            "expires_at": in_a_year
        })),
    );
    assert_eq!(status, 200, "create with expiry: {full}");
    let (status, never) = call_auth(
        &prism,
        &sandbox,
        "POST",
        tokens,
        &admin,
        Some(json!({"name": "explicit null", "scopes": ["identity:manage"], "expires_at": null})),
    );
    assert_eq!(status, 200, "create with a null expiry: {never}");

    // A SCIM use (directly: SCIM is outside the document) gives one token an active_time.
    let scim = send_json(
        sandbox
            .http()
            .get(format!("{}/scim/v2/Users", sandbox.url))
            .header(
                "Authorization",
                format!("Bearer {}", bare["key"].as_str().unwrap()),
            ),
        None,
    );
    assert_eq!(scim.0, 200, "{:?}", scim.1);
    let (status, list) = call_auth(&prism, &sandbox, "GET", tokens, &admin, None);
    assert_eq!(status, 200, "list: {list}");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert!(
        list.iter().any(|t| t["active_time"].is_string()),
        "{list:?}"
    );

    // Declared error answers.
    let (status, err) = call_auth(
        &prism,
        &sandbox,
        "POST",
        tokens,
        &admin,
        Some(json!({"name": "no scope", "scopes": []})),
    );
    assert_eq!(status, 400, "empty scopes: {err}");
    let (status, err) = call_auth(&prism, &sandbox, "GET", tokens, "Key publisher-key-1", None);
    assert_eq!(status, 403, "publisher: {err}");
    let (status, err) = call_auth(&prism, &sandbox, "GET", tokens, "Key unknown-key-1", None);
    assert_eq!(status, 401, "unknown key: {err}");
    let (status, err) = call_auth(
        &prism,
        &sandbox,
        "DELETE",
        &format!("{tokens}/3c9a6f0e-8d21-4b7e-9f35-2a61d0c4e8b7"),
        &admin,
        None,
    );
    assert_eq!(status, 404, "unknown guid: {err}");

    for created in [&bare, &full, &never] {
        let guid = created["guid"].as_str().unwrap();
        let (status, body) = call_auth(
            &prism,
            &sandbox,
            "DELETE",
            &format!("{tokens}/{guid}"),
            &admin,
            None,
        );
        assert_eq!(status, 204, "delete: {body}");
    }
    prism.assert_no_error_violations();
}

/// Posit declares `additionalProperties: false`: an answer with one field too many is caught.
#[test]
fn a_posit_answer_with_an_extra_field_is_caught() {
    let sandbox = Sandbox::start_platform("posit-connect", &[]);
    let prism = Prism::proxy_for("posit-connect", &sandbox.url);
    sandbox.fault(json!({
        "method": "GET",
        "path": "/__api__/v1/system/service-tokens/scopes",
        "count": 1,
        "status": 200,
        "body": {"scopes": [], "total": 0}
    }));
    let admin = format!("Key {}", sandbox.admin_token);
    let (status, _) = call_auth(
        &prism,
        &sandbox,
        "GET",
        "/v1/system/service-tokens/scopes",
        &admin,
        None,
    );
    assert_eq!(status, 500, "Prism answers a broken response with 500");
    assert!(
        !prism.error_violations().is_empty(),
        "Prism logged no violation:\n{}",
        prism.log()
    );
}

#[test]
fn every_qualytics_operation_conforms_to_its_document() {
    let sandbox = Sandbox::start_platform(
        "qualytics",
        &[
            "--service-user",
            "Nightly Loader:Admin",
            "--service-user",
            "Catalog Sync:Member",
        ],
    );
    let prism = Prism::proxy_for("qualytics", &sandbox.url);
    let admin = format!("Bearer {}", sandbox.admin_token);

    let (status, body) = call_auth(&prism, &sandbox, "GET", "/status", &admin, None);
    assert_eq!(status, 200, "status: {body}");
    let status_without = send_json(sandbox.http().get(format!("{}/status", prism.api())), None);
    assert_eq!(
        status_without.0, 200,
        "status without a token: {:?}",
        status_without.1
    );

    let (status, page) = call_auth(
        &prism,
        &sandbox,
        "GET",
        "/users?type=Service&page=1&size=1",
        &admin,
        None,
    );
    assert_eq!(status, 200, "users: {page}");
    let (status, page) = call_auth(&prism, &sandbox, "GET", "/users?type=Service", &admin, None);
    assert_eq!(status, 200, "users: {page}");
    let id_of = |login: &str| {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["user_id"] == login)
            .and_then(|u| u["id"].as_i64())
            .unwrap()
    };
    let (loader, catalog) = (
        id_of("nightly_loader@service"),
        id_of("catalog_sync@service"),
    );
    let (status, user) = call_auth(
        &prism,
        &sandbox,
        "POST",
        "/users",
        &admin,
        Some(json!({"name": "IdP Provisioning", "role": "Member", "teams": ["Identity"]})),
    );
    assert_eq!(status, 200, "create user: {user}");
    let (status, user) = call_auth(
        &prism,
        &sandbox,
        "POST",
        "/users",
        &admin,
        Some(json!({"name": "Bare User", "role": "Manager"})),
    );
    assert_eq!(status, 200, "create user without teams: {user}");

    let (status, yearly) = call_auth(
        &prism,
        &sandbox,
        "POST",
        "/user-tokens",
        &admin,
        Some(json!({"name": "loader-prod", "user_id": loader, "expires_in_days": 365})),
    );
    assert_eq!(status, 200, "create service token: {yearly}");
    let (status, scim) = call_auth(
        &prism,
        &sandbox,
        "POST",
        "/user-tokens",
        &admin,
        Some(
            json!({"name": "IdP", "user_id": catalog, "expires_in_days": null, "scim_endpoints_only": true}),
        ),
    );
    assert_eq!(status, 200, "create SCIM token: {scim}");
    let (status, personal) = call_auth(
        &prism,
        &sandbox,
        "POST",
        "/user-tokens",
        &admin,
        Some(json!({"name": "Laptop CLI", "expires_in_days": 30})),
    );
    assert_eq!(status, 200, "create personal token: {personal}");

    // The new Admin service token lists (and so gets a last_used).
    let service = format!("Bearer {}", yearly["bearer_token"].as_str().unwrap());
    let (status, list) = call_auth(
        &prism,
        &sandbox,
        "GET",
        "/user-tokens/service",
        &service,
        None,
    );
    assert_eq!(status, 200, "service list: {list}");
    let (status, list) = call_auth(
        &prism,
        &sandbox,
        "GET",
        "/user-tokens/service",
        &admin,
        None,
    );
    assert_eq!(status, 200, "service list: {list}");
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|t| t["last_used"].is_string()),
        "{list}"
    );
    let (status, own) = call_auth(&prism, &sandbox, "GET", "/user-tokens", &admin, None);
    assert_eq!(status, 200, "personal list: {own}");

    let path = format!("/user-tokens/{}", scim["id"]);
    for revoke in [true, false, true] {
        let (status, body) = call_auth(
            &prism,
            &sandbox,
            "PUT",
            &path,
            &admin,
            Some(json!({"revoke": revoke})),
        );
        assert_eq!(status, 200, "revoke {revoke}: {body}");
    }
    let (status, body) = call_auth(&prism, &sandbox, "DELETE", &path, &admin, None);
    assert_eq!(status, 204, "delete: {body}");

    // Declared error answers.
    let duplicate = json!({"name": "loader-prod", "user_id": loader});
    let (status, err) = call_auth(
        &prism,
        &sandbox,
        "POST",
        "/user-tokens",
        &admin,
        Some(duplicate),
    );
    assert_eq!(status, 409, "duplicate: {err}");
    let (status, err) = call_auth(
        &prism,
        &sandbox,
        "POST",
        "/user-tokens",
        &admin,
        Some(json!({"name": "x", "user_id": 1})),
    );
    assert_eq!(status, 400, "not a service user: {err}");
    let active = format!("/user-tokens/{}", yearly["id"]);
    let (status, err) = call_auth(&prism, &sandbox, "DELETE", &active, &admin, None);
    assert_eq!(status, 409, "active: {err}");
    let (status, err) = call_auth(
        &prism,
        &sandbox,
        "DELETE",
        "/user-tokens/99999",
        &admin,
        None,
    );
    assert_eq!(status, 404, "unknown: {err}");
    let (status, err) = call_auth(
        &prism,
        &sandbox,
        "POST",
        "/users",
        &admin,
        Some(json!({"name": "Nightly Loader", "role": "Member"})),
    );
    assert_eq!(status, 409, "duplicate user: {err}");
    let member = call_auth(
        &prism,
        &sandbox,
        "POST",
        "/user-tokens",
        &admin,
        Some(json!({"name": "catalog", "user_id": catalog})),
    )
    .1;
    let member = format!("Bearer {}", member["bearer_token"].as_str().unwrap());
    let (status, err) = call_auth(
        &prism,
        &sandbox,
        "GET",
        "/user-tokens/service",
        &member,
        None,
    );
    assert_eq!(status, 403, "member: {err}");
    let (status, err) = call_auth(
        &prism,
        &sandbox,
        "GET",
        "/user-tokens",
        "Bearer not-a-token",
        None,
    );
    assert_eq!(status, 401, "unknown token: {err}");

    // Restoring an expired token (the clock moves directly at the sandbox).
    let (status, daily) = call_auth(
        &prism,
        &sandbox,
        "POST",
        "/user-tokens",
        &admin,
        Some(json!({"name": "daily", "user_id": loader, "expires_in_days": 1})),
    );
    assert_eq!(status, 200, "{daily}");
    sandbox.clock(2 * 86_400);
    let (status, list) = call_auth(
        &prism,
        &sandbox,
        "GET",
        "/user-tokens/service",
        &admin,
        None,
    );
    assert_eq!(status, 200, "list with an expired token: {list}");
    let (status, err) = call_auth(
        &prism,
        &sandbox,
        "PUT",
        &format!("/user-tokens/{}", daily["id"]),
        &admin,
        Some(json!({"revoke": false})),
    );
    assert_eq!(status, 400, "restore an expired token: {err}");

    prism.assert_no_error_violations();
}

/// The Qualytics check can fail too: a token list whose item lacks required fields is caught.
#[test]
fn a_qualytics_answer_that_breaks_its_document_is_caught() {
    let sandbox = Sandbox::start_platform("qualytics", &[]);
    let prism = Prism::proxy_for("qualytics", &sandbox.url);
    sandbox.fault(json!({
        "method": "GET",
        "path": "/api/user-tokens/service",
        "count": 1,
        "status": 200,
        "body": [{"id": "not a number", "name": "x"}]
    }));
    let admin = format!("Bearer {}", sandbox.admin_token);
    let (status, _) = call_auth(
        &prism,
        &sandbox,
        "GET",
        "/user-tokens/service",
        &admin,
        None,
    );
    assert_eq!(status, 500, "Prism answers a broken response with 500");
    assert!(
        !prism.error_violations().is_empty(),
        "Prism logged no violation:\n{}",
        prism.log()
    );
}

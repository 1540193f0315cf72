//! `sts-sandbox` control API: injected faults, request counts, seeding, admin-only access.

use std::time::{Duration, Instant};

use crate::common::{Sandbox, send_json};
use serde_json::{Value, json};

/// A control API request with an optional header.
fn control(
    sb: &Sandbox,
    method: &str,
    path: &str,
    header: Option<(&str, &str)>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = sb.http().request(
        method.parse().unwrap(),
        format!("{}/_sandbox{}", sb.url, path),
    );
    if let Some((name, value)) = header {
        req = req.header(name, value);
    }
    send_json(req, body)
}

fn admin_get(sb: &Sandbox, path: &str) -> reqwest::blocking::Response {
    sb.http()
        .get(format!("{}{}", sb.api(), path))
        .header("X-API-Token", &sb.admin_token)
        .send()
        .unwrap()
}

#[test]
fn a_status_fault_answers_the_next_n_requests_then_the_real_answer() {
    let sb = Sandbox::start();
    sb.fault(json!({"method": "get", "path": "/api/server/info", "count": 2, "status": 503, "retry_after": 7}));
    // Not matching: another path, another method.
    assert_eq!(sb.admin("GET", "/server/status", None).0, 200);
    assert_eq!(sb.admin("POST", "/server/info", None).0, 405);
    for _ in 0..2 {
        let resp = admin_get(&sb, "/server/info");
        assert_eq!(resp.status().as_u16(), 503);
        assert_eq!(resp.headers()["retry-after"], "7");
        assert_eq!(resp.headers()["content-type"], "application/json");
        let body: Value = serde_json::from_str(&resp.text().unwrap()).unwrap();
        assert_eq!(body["_type"], "ErrorsResponse", "{body}");
        assert_eq!(body["errors"][0]["message"], "injected fault");
    }
    let resp = admin_get(&sb, "/server/info");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.headers().get("retry-after").is_none());
    assert_eq!(sb.request_count("GET /api/server/info"), 3);
}

#[test]
fn a_fault_body_is_sent_raw_or_serialized_with_its_content_type() {
    let sb = Sandbox::start();
    sb.fault(json!({"count": 1, "status": 502, "body": "<html>bad gateway</html>", "content_type": "text/html"}));
    sb.fault(json!({"count": 1, "status": 200, "body": {"surprise": [1, 2]}}));
    let resp = admin_get(&sb, "/security/tokens");
    assert_eq!(resp.status().as_u16(), 502);
    assert_eq!(resp.headers()["content-type"], "text/html");
    assert_eq!(resp.text().unwrap(), "<html>bad gateway</html>");
    let resp = admin_get(&sb, "/security/tokens");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.text().unwrap(), r#"{"surprise":[1,2]}"#);
    assert_eq!(sb.admin("GET", "/security/tokens", None), (200, json!([])));
}

#[test]
fn a_fault_on_a_templated_path_catches_any_id_and_the_change_does_not_happen() {
    let sb = Sandbox::start();
    let token = sb.create_service_token("victim", &["stackstate-admin"]);
    let (_, list) = sb.admin("GET", "/security/tokens", None);
    let id = list[0]["id"].as_i64().unwrap();
    sb.fault(
        json!({"method": "DELETE", "path": "/api/security/tokens/{id}", "count": 1, "status": 500}),
    );
    let path = format!("/security/tokens/{id}");
    assert_eq!(sb.admin("DELETE", &path, None).0, 500);
    assert_eq!(
        sb.admin("GET", "/security/tokens", None)
            .1
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A fault on the exact path works too.
    sb.fault(json!({"path": format!("/api/security/tokens/{id}"), "count": 1, "status": 429}));
    assert_eq!(sb.admin("DELETE", &path, None).0, 429);
    assert_eq!(sb.admin("DELETE", &path, None).0, 204);
    let req = sb
        .http()
        .get(format!("{}/server/info", sb.api()))
        .header("X-API-Key", token);
    assert_eq!(send_json(req, None).0, 401);
    assert_eq!(sb.request_count("DELETE /api/security/tokens/{id}"), 3);
}

#[test]
fn a_delay_fault_waits_then_gives_the_real_answer() {
    let sb = Sandbox::start();
    sb.fault(json!({"path": "/api/server/info", "count": 1, "delay_ms": 700}));
    let started = Instant::now();
    let (status, body) = sb.admin("GET", "/server/info", None);
    let took = started.elapsed();
    assert_eq!(status, 200, "{body}");
    assert!(body["version"].is_object(), "{body}");
    assert!(
        took >= Duration::from_millis(650),
        "answered after {took:?}"
    );
    sb.fault(json!({"count": 1, "delay_ms": 300, "status": 504}));
    let started = Instant::now();
    assert_eq!(sb.admin("GET", "/server/info", None).0, 504);
    assert!(started.elapsed() >= Duration::from_millis(250));
    // The faults are used up: the next answer is the real one.
    assert_eq!(sb.admin("GET", "/server/info", None).0, 200);
}

#[test]
fn a_hang_fault_never_answers_and_the_next_request_is_served() {
    let sb = Sandbox::start();
    sb.fault(json!({"path": "/api/server/info", "count": 1, "hang": true}));
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_millis(800))
        .build()
        .unwrap();
    let err = client
        .get(format!("{}/server/info", sb.api()))
        .header("X-API-Token", &sb.admin_token)
        .send()
        .expect_err("a hung request got an answer");
    assert!(err.is_timeout(), "{err}");
    assert_eq!(sb.admin("GET", "/server/info", None).0, 200);
}

#[test]
fn deleting_faults_clears_them() {
    let sb = Sandbox::start();
    sb.fault(json!({"count": 5, "status": 500}));
    sb.fault(json!({"count": 5, "hang": true}));
    let admin = ("X-API-Token", sb.admin_token.as_str());
    let (status, _) = control(&sb, "DELETE", "/faults", Some(admin), None);
    assert_eq!(status, 204);
    assert_eq!(sb.admin("GET", "/server/info", None).0, 200);
}

#[test]
fn faults_do_not_touch_the_control_api() {
    let sb = Sandbox::start();
    sb.fault(json!({"count": 1, "status": 500}));
    assert!(sb.requests().is_object());
    assert_eq!(sb.admin("GET", "/server/info", None).0, 500);
}

#[test]
fn a_fault_that_makes_no_sense_is_400() {
    let sb = Sandbox::start();
    let admin = ("X-API-Token", sb.admin_token.as_str());
    for bad in [
        json!({"status": 500}),
        json!({"count": 0, "status": 500}),
        json!({"count": 1, "status": 1000}),
        json!({"count": 1, "path": "/_sandbox/requests", "status": 500}),
        json!({"count": 1, "statuss": 500}),
        json!({"count": "one"}),
    ] {
        let (status, body) = control(&sb, "POST", "/faults", Some(admin), Some(bad.clone()));
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["_type"], "ErrorsResponse", "{body}");
    }
    assert_eq!(sb.admin("GET", "/server/info", None).0, 200);
}

#[test]
fn requests_counts_everything_under_api_by_route_and_unknown_paths_as_one() {
    let sb = Sandbox::start();
    sb.create_service_token("t", &["stackstate-admin"]);
    sb.fault(json!({"count": 1, "status": 503}));
    assert_eq!(sb.admin("GET", "/security/tokens", None).0, 503);
    assert_eq!(sb.admin("GET", "/security/tokens", None).0, 200);
    let anonymous = sb.http().get(format!("{}/server/info", sb.api()));
    assert_eq!(send_json(anonymous, None).0, 401);
    assert_eq!(
        sb.admin("DELETE", "/security/tokens/123456789012345", None)
            .0,
        404
    );
    assert_eq!(
        sb.admin("DELETE", "/security/ingestion/api_keys/42", None)
            .0,
        404
    );
    assert_eq!(sb.admin("GET", "/nowhere/7", None).0, 404);
    assert_eq!(
        sb.requests(),
        json!({
            "POST /api/security/tokens": 1,
            "GET /api/security/tokens": 2,
            "GET /api/server/info": 1,
            "DELETE /api/security/tokens/{id}": 1,
            "DELETE /api/security/ingestion/api_keys/{id}": 1,
            "GET /api/(unknown)": 1,
        })
    );
    assert_eq!(sb.api_request_total(), 7);
}

#[test]
fn the_control_api_takes_the_admin_token_only() {
    let sb = Sandbox::start_with(&["--k8s-sa-token", "sa"]);
    let service = sb.create_service_token("admin-role", &["stackstate-admin"]);
    let bearer = format!("ApiKey {service}");
    for header in [
        None,
        Some(("X-API-Token", "wrong")),
        Some(("X-API-Key", service.as_str())),
        Some(("Authorization", bearer.as_str())),
        Some(("X-API-ServiceBearer", "sa")),
    ] {
        for (method, path, body) in [
            ("GET", "/requests", None),
            ("POST", "/faults", Some(json!({"count": 1, "status": 500}))),
            ("DELETE", "/faults", None),
            ("POST", "/seed", Some(json!({"service_tokens": 1}))),
        ] {
            let (status, resp) = control(&sb, method, path, header, body);
            assert_eq!(status, 401, "{method} {path} with {header:?}: {resp}");
            assert_eq!(resp["_type"], "ErrorsResponse", "{resp}");
        }
    }
    // None of that was queued or seeded, nor counted as API traffic.
    assert_eq!(
        sb.admin("GET", "/security/tokens", None)
            .1
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(sb.request_count("GET /_sandbox/requests"), 0);
}

#[test]
fn seeding_creates_ten_thousand_rows_quickly() {
    let sb = Sandbox::start();
    let admin = ("X-API-Token", sb.admin_token.as_str());
    let body = json!({"service_tokens": 10_000, "ingestion_api_keys": 25});
    let (status, resp) = control(&sb, "POST", "/seed", Some(admin), Some(body));
    assert!(status < 300, "{resp}");
    let (status, tokens) = sb.admin("GET", "/security/tokens", None);
    assert_eq!(status, 200);
    let tokens = tokens.as_array().unwrap();
    assert_eq!(tokens.len(), 10_000);
    assert_eq!(tokens[0]["name"], "seed-00001");
    assert_eq!(tokens[9_999]["name"], "seed-10000");
    assert_eq!(tokens[0]["roles"], json!(["stackstate-admin"]));
    assert!(tokens.iter().any(|t| t["expiration"].is_i64()));
    assert!(tokens.iter().any(|t| t.get("expiration").is_none()));
    let (_, keys) = sb.admin("GET", "/security/ingestion/api_keys", None);
    assert_eq!(keys.as_array().unwrap().len(), 25);
}

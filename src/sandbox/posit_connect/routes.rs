//! Posit Connect's `/__api__` operations: service tokens, their scopes, the current user, the
//! server settings.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use rand::distr::{Alphanumeric, SampleString};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::auth::{Administrator, Caller};
use super::data::{StoredToken, random_uuid, uuid_from};
use super::error::{PositError, PositJson, code};
use super::options::PositConnect;
use crate::platform::posit_connect::wire;
use crate::sandbox::emulator::App;
use crate::sandbox::requests::is_uuid;
use crate::sandbox::secrets::hash_secret;
use crate::sandbox::times::now_ms;
use crate::sandbox::times::{parse_rfc3339, rfc3339};

/// The scopes a token may be given, as the document names them, with what they allow.
pub const SCOPES: [(&str, &str); 2] = [
    ("identity:manage", "Provision users and groups through SCIM"),
    (
        "nameservice:read",
        "Read user and group data from the name service",
    ),
];
/// Characters of a service token's key.
const KEY_LEN: usize = 32;
/// The fields a create may send.
const CREATE_FIELDS: [&str; 3] = ["name", "scopes", "expires_at"];

/// The routes relative to `/__api__`, their 404 and 405 included.
pub fn router() -> Router<Arc<App<PositConnect>>> {
    Router::new()
        .route(
            "/v1/system/service-tokens",
            get(list_tokens).post(create_token),
        )
        .route("/v1/system/service-tokens/scopes", get(list_scopes))
        .route("/v1/system/service-tokens/{guid}", delete(delete_token))
        .route("/v1/user", get(current_user))
        .route("/server_settings", get(server_settings))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

pub async fn not_found() -> PositError {
    PositError::not_found("no such path")
}

async fn method_not_allowed() -> PositError {
    PositError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        code::BAD_REQUEST,
        "method not allowed on this path",
    )
}

async fn list_tokens(
    State(app): State<Arc<App<PositConnect>>>,
    _: Administrator,
) -> Result<Json<Vec<wire::ServiceToken>>, PositError> {
    let list = app
        .change(|s| {
            let now = s.clock(now_ms());
            if s.data.posit_connect.remove_expired(now) {
                s.bump();
            }
            let offset = s.clock_offset_ms();
            s.data
                .posit_connect
                .service_tokens
                .iter()
                .map(|t| t.to_wire(offset))
                .collect()
        })
        .await?;
    Ok(Json(list))
}

/// A create's body, checked: a name, known scopes (at least one), an expiry in the future.
fn check_create(
    body: Value,
    real_now: i64,
) -> Result<(String, Vec<String>, Option<i64>), PositError> {
    let Value::Object(fields) = &body else {
        return Err(PositError::bad_request(
            "the request body must be a JSON object",
        ));
    };
    if let Some(unknown) = fields.keys().find(|k| !CREATE_FIELDS.contains(&k.as_str())) {
        return Err(PositError::bad_request(format!(
            "unknown field {unknown:?}: expected name, scopes, expires_at"
        )));
    }
    let input: wire::ServiceTokenCreateInput = serde_json::from_value(body)
        .map_err(|e| PositError::bad_request(format!("invalid request body: {e}")))?;
    if input.name.trim().is_empty() {
        return Err(PositError::invalid_parameter("a name is required"));
    }
    if input.scopes.is_empty() {
        return Err(PositError::invalid_parameter(
            "at least one scope must be given",
        ));
    }
    if let Some(unknown) = input
        .scopes
        .iter()
        .find(|s| !SCOPES.iter().any(|(name, _)| name == s))
    {
        return Err(PositError::invalid_parameter(format!(
            "unknown scope {unknown:?}: see GET /__api__/v1/system/service-tokens/scopes"
        )));
    }
    let expires_at = match input.expires_at.as_deref() {
        None => None,
        Some(text) => {
            let at = parse_rfc3339(text).ok_or_else(|| {
                PositError::invalid_parameter(format!(
                    "expires_at {text:?} is not an RFC 3339 time"
                ))
            })?;
            if at <= real_now {
                return Err(PositError::invalid_parameter(
                    "expires_at must be in the future",
                ));
            }
            Some(at)
        }
    };
    let mut scopes = input.scopes;
    scopes.dedup();
    Ok((input.name, scopes, expires_at))
}

async fn create_token(
    State(app): State<Arc<App<PositConnect>>>,
    _: Administrator,
    PositJson(body): PositJson,
) -> Result<Json<wire::ServiceToken>, PositError> {
    let real_now = now_ms();
    let (name, scopes, expires_at) = check_create(body, real_now)?;
    let key = Alphanumeric.sample_string(&mut rand::rng(), KEY_LEN);
    let key_hash = hash_secret(&key);
    let mut created = app
        .change(move |s| {
            let offset = s.clock_offset_ms();
            let now = s.clock(real_now);
            s.data.posit_connect.remove_expired(now);
            let token = StoredToken {
                guid: random_uuid(),
                name,
                scopes,
                created: now,
                expires_at: expires_at.map(|e| e + offset),
                active_time: None,
                key_hash,
            };
            let answer = token.to_wire(offset);
            s.data.posit_connect.service_tokens.push(token);
            s.bump();
            answer
        })
        .await?;
    created.key = Some(key);
    Ok(Json(created))
}

async fn list_scopes(_: Administrator) -> Json<wire::ServiceTokenScopes> {
    let scopes = SCOPES
        .iter()
        .map(|(name, description)| wire::ServiceTokenScope {
            name: Some(name.to_string()),
            description: Some(description.to_string()),
            ..wire::ServiceTokenScope::default()
        })
        .collect();
    Json(wire::ServiceTokenScopes {
        scopes: Some(scopes),
        ..wire::ServiceTokenScopes::default()
    })
}

async fn delete_token(
    State(app): State<Arc<App<PositConnect>>>,
    _: Administrator,
    Path(guid): Path<String>,
) -> Result<StatusCode, PositError> {
    if !is_uuid(&guid) {
        return Err(PositError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_ID,
            format!("{guid:?} is not a valid guid"),
        ));
    }
    let deleted = app
        .change(|s| {
            let now = s.clock(now_ms());
            let state = &mut s.data.posit_connect;
            let expired = state.remove_expired(now);
            let index = state
                .service_tokens
                .iter()
                .position(|t| t.guid.eq_ignore_ascii_case(&guid));
            if let Some(i) = index {
                state.service_tokens.remove(i);
            }
            if expired || index.is_some() {
                s.bump();
            }
            index.is_some()
        })
        .await?;
    if deleted {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(PositError::not_found(format!(
            "no service token with guid {guid} (it may have expired)"
        )))
    }
}

async fn current_user(
    State(app): State<Arc<App<PositConnect>>>,
    caller: Caller,
) -> Result<Json<wire::User>, PositError> {
    let (username, role, key) = match caller {
        Caller::Administrator => ("admin".to_string(), "administrator", &app.admin_token),
        Caller::Publisher(i) => (
            format!("publisher{}", i + 1),
            "publisher",
            &app.emulator.publisher_keys[i],
        ),
        Caller::ServiceToken => {
            return Err(PositError::permission_denied(
                "a service token has no user: use the API key of a user",
            ));
        }
    };
    let started = rfc3339(app.started_ms);
    Ok(Json(wire::User {
        guid: Some(uuid_from(&Sha256::digest(key.as_bytes()))),
        email: Some(format!("{username}@sandbox.invalid")),
        first_name: Some("Sandbox".to_string()),
        last_name: Some(username.clone()),
        user_role: Some(role.to_string()),
        created_time: Some(started.clone()),
        updated_time: Some(started),
        active_time: Some(rfc3339(now_ms())),
        confirmed: Some(true),
        locked: Some(false),
        username: Some(username),
        ..wire::User::default()
    }))
}

async fn server_settings(State(app): State<Arc<App<PositConnect>>>) -> Json<wire::ServerSettings> {
    Json(wire::ServerSettings {
        version: Some(app.server_version.text.clone()),
        ..wire::ServerSettings::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::posit_connect::data::PositState;
    use crate::sandbox::posit_connect::scim::SCIM_SCOPE;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn guids_are_uuid_v4() {
        let g = random_uuid();
        assert!(is_uuid(&g), "{g}");
        assert_eq!(&g[14..15], "4");
        assert!(matches!(&g[19..20], "8" | "9" | "a" | "b"), "{g}");
        assert_ne!(random_uuid(), g);
    }

    #[test]
    fn create_input_is_checked() {
        let ok = check_create(json!({"name": "n", "scopes": ["identity:manage"]}), NOW).unwrap();
        assert_eq!(
            ok,
            ("n".to_string(), vec!["identity:manage".to_string()], None)
        );
        for bad in [
            json!({"name": "n"}),
            json!({"name": "n", "scopes": []}),
            json!({"name": "n", "scopes": ["server-settings:read"]}),
            json!({"name": "n", "scopes": ["identity:manage"], "expires_at": "2020-01-01T00:00:00Z"}),
            json!({"name": "n", "scopes": ["identity:manage"], "expires_at": "tomorrow"}),
            json!({"name": "n", "scopes": ["identity:manage"], "extra": 1}),
            json!({"scopes": ["identity:manage"]}),
            json!([]),
        ] {
            let e = check_create(bad.clone(), NOW).unwrap_err();
            assert_eq!(e.status(), StatusCode::BAD_REQUEST, "{bad}");
        }
    }

    #[test]
    fn expired_tokens_are_removed_and_answers_have_no_key() {
        let mut state = PositState::default();
        state.service_tokens.push(StoredToken {
            guid: random_uuid(),
            name: "t".into(),
            scopes: vec![SCIM_SCOPE.into()],
            created: NOW,
            expires_at: Some(NOW + 10),
            active_time: None,
            key_hash: hash_secret("k"),
        });
        let w = serde_json::to_value(state.service_tokens[0].to_wire(0)).unwrap();
        assert!(
            w.get("key").is_none() && w.get("active_time").is_none(),
            "{w}"
        );
        assert!(state.live_token_mut("k", NOW + 9).is_some());
        assert!(!state.remove_expired(NOW + 9));
        assert!(state.remove_expired(NOW + 10));
        assert!(state.is_empty());
    }
}

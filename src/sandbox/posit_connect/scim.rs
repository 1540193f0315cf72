//! `GET /scim/v2/Users` at the server's root, where a service token with `identity:manage` is
//! used (and its `active_time` set), with SCIM's own error shape.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::auth::authorization;
use super::options::PositConnect;
use crate::sandbox::emulator::App;
use crate::sandbox::times::now_ms;

/// The scope that opens `/scim/v2/...`.
pub const SCIM_SCOPE: &str = "identity:manage";
/// `active_time` is refreshed at most this often, as Connect does.
const ACTIVE_TIME_RESOLUTION_MS: i64 = 15 * 60 * 1000;

/// A SCIM error answer (RFC 7644 §3.12).
fn scim_error(status: StatusCode, detail: &str) -> Response {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": status.as_u16().to_string(),
        "detail": detail,
    });
    (status, Json(body)).into_response()
}

pub async fn scim_not_found() -> Response {
    scim_error(StatusCode::NOT_FOUND, "no such SCIM resource")
}

/// `GET /scim/v2/Users` with `Authorization: Bearer <service token>`: an empty list; sets the
/// token's `active_time` when it is unset or older than 15 minutes.
pub async fn scim_users(State(app): State<Arc<App<PositConnect>>>, headers: HeaderMap) -> Response {
    let Some(("bearer", key)) = authorization(&headers)
        .as_ref()
        .map(|(scheme, key)| (scheme.as_str(), *key))
    else {
        return scim_error(
            StatusCode::UNAUTHORIZED,
            "a service token is required: send Authorization: Bearer <key>",
        );
    };
    let key = key.to_string();
    let outcome = app
        .change(move |s| {
            let now = s.clock(now_ms());
            let Some(token) = s.data.posit_connect.live_token_mut(&key, now) else {
                return Err(StatusCode::UNAUTHORIZED);
            };
            if !token.scopes.iter().any(|sc| sc == SCIM_SCOPE) {
                return Err(StatusCode::FORBIDDEN);
            }
            let stale = token
                .active_time
                .is_none_or(|t| now - t >= ACTIVE_TIME_RESOLUTION_MS);
            if stale {
                token.active_time = Some(now);
                s.bump();
            }
            Ok(())
        })
        .await;
    match outcome {
        Ok(Ok(())) => {
            let body = json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": 0,
                "startIndex": 1,
                "itemsPerPage": 0,
                "Resources": [],
            });
            Json(body).into_response()
        }
        Ok(Err(StatusCode::FORBIDDEN)) => scim_error(
            StatusCode::FORBIDDEN,
            "the service token lacks the identity:manage scope",
        ),
        Ok(Err(_)) => scim_error(
            StatusCode::UNAUTHORIZED,
            "the service token is unknown, deleted or expired",
        ),
        Err(e) => e.into_response(),
    }
}

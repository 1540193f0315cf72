//! The control API under `/_sandbox`, outside every platform's API and the same on each, admin
//! token (`X-API-Token`) only: request counts, faults, the clock, and seeding (where the platform
//! can). Its errors are `GenericErrorsResponse`s on every platform.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::body::JsonBody;
use super::emulator::{App, Emulator};
use super::errors::ApiError;
use super::faults::FaultSpec;
use super::secrets::same_secret;
use super::times::now_ms;

/// The header that carries the admin token to the control API, on every platform.
const ADMIN_TOKEN_HEADER: &str = "x-api-token";

/// At most this far (100 years) per clock step.
const MAX_ADVANCE_S: i64 = 100 * 365 * 24 * 3600;
/// At most this many rows per seeding request.
const MAX_SEED: usize = 1_000_000;

/// The control routes, relative to `/_sandbox`.
pub fn router<E: Emulator>() -> Router<Arc<App<E>>> {
    Router::new()
        .route("/requests", get(requests::<E>))
        .route("/faults", post(add_fault::<E>).delete(clear_faults::<E>))
        .route("/seed", post(seed::<E>))
        .route("/clock", post(clock::<E>))
}

/// Extractor: the admin token in `X-API-Token`, and nothing else.
#[derive(Debug)]
pub struct SandboxAdmin;

impl<E: Emulator> FromRequestParts<Arc<App<E>>> for SandboxAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App<E>>) -> Result<Self, ApiError> {
        let given = parts
            .headers
            .get(ADMIN_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty());
        match given {
            Some(t) if same_secret(t, &app.admin_token) => Ok(SandboxAdmin),
            _ => Err(ApiError::Unauthorized),
        }
    }
}

/// The body of `POST /_sandbox/clock`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockRequest {
    advance_s: i64,
}

/// Ages everything the sandbox keeps by `advance_s` seconds; answers the total offset.
async fn clock<E: Emulator>(
    State(app): State<Arc<App<E>>>,
    _: SandboxAdmin,
    JsonBody(req): JsonBody<ClockRequest>,
) -> Result<Json<Value>, ApiError> {
    if !(0..=MAX_ADVANCE_S).contains(&req.advance_s) {
        return Err(ApiError::BadRequest(format!(
            "advance_s must be between 0 and {MAX_ADVANCE_S}"
        )));
    }
    let offset = app
        .change(|s| {
            s.advance_clock(req.advance_s * 1000);
            s.clock_offset_ms()
        })
        .await?;
    Ok(Json(json!({"offset_s": offset / 1000})))
}

async fn requests<E: Emulator>(
    State(app): State<Arc<App<E>>>,
    _: SandboxAdmin,
) -> Json<BTreeMap<String, u64>> {
    Json(app.request_counts())
}

async fn add_fault<E: Emulator>(
    State(app): State<Arc<App<E>>>,
    _: SandboxAdmin,
    JsonBody(spec): JsonBody<FaultSpec>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let queued = app.add_fault(spec).map_err(ApiError::BadRequest)?;
    Ok((StatusCode::CREATED, Json(json!({"queued": queued}))))
}

async fn clear_faults<E: Emulator>(State(app): State<Arc<App<E>>>, _: SandboxAdmin) -> StatusCode {
    app.clear_faults();
    StatusCode::NO_CONTENT
}

/// The body of `POST /_sandbox/seed`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedRequest {
    #[serde(default)]
    service_tokens: usize,
    #[serde(default)]
    ingestion_api_keys: usize,
}

async fn seed<E: Emulator>(
    State(app): State<Arc<App<E>>>,
    _: SandboxAdmin,
    JsonBody(req): JsonBody<SeedRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if req.service_tokens > MAX_SEED || req.ingestion_api_keys > MAX_SEED {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_SEED} rows of each kind per request"
        )));
    }
    app.change(|s| E::seed(s, req.service_tokens, req.ingestion_api_keys, now_ms()))
        .await?
        .map_err(ApiError::BadRequest)?;
    let body = json!({
        "service_tokens": req.service_tokens,
        "ingestion_api_keys": req.ingestion_api_keys,
    });
    Ok((StatusCode::CREATED, Json(body)))
}

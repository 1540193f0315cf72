//! The control API under `/_sandbox`, outside every platform's API, admin token (`X-API-Token`)
//! only: request counts, faults, the clock, and seeding (StackState).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::App;
use super::auth::SandboxAdmin;
use super::body::JsonBody;
use super::errors::ApiError;
use super::faults::FaultSpec;
use super::now_ms;

/// At most this far (100 years) per clock step.
const MAX_ADVANCE_S: i64 = 100 * 365 * 24 * 3600;
/// At most this many rows per seeding request.
const MAX_SEED: usize = 1_000_000;

/// The control routes, relative to `/_sandbox`.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/requests", get(requests))
        .route("/faults", post(add_fault).delete(clear_faults))
        .route("/seed", post(seed))
        .route("/clock", post(clock))
}

/// The body of `POST /_sandbox/clock`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockRequest {
    advance_s: i64,
}

/// Ages everything the sandbox keeps by `advance_s` seconds; answers the total offset.
async fn clock(
    State(app): State<Arc<App>>,
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

async fn requests(State(app): State<Arc<App>>, _: SandboxAdmin) -> Json<BTreeMap<String, u64>> {
    Json(app.request_counts())
}

async fn add_fault(
    State(app): State<Arc<App>>,
    _: SandboxAdmin,
    JsonBody(spec): JsonBody<FaultSpec>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let queued = app.add_fault(spec).map_err(ApiError::BadRequest)?;
    Ok((StatusCode::CREATED, Json(json!({"queued": queued}))))
}

async fn clear_faults(State(app): State<Arc<App>>, _: SandboxAdmin) -> StatusCode {
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

async fn seed(
    State(app): State<Arc<App>>,
    _: SandboxAdmin,
    JsonBody(req): JsonBody<SeedRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if req.service_tokens > MAX_SEED || req.ingestion_api_keys > MAX_SEED {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_SEED} rows of each kind per request"
        )));
    }
    app.change(|s| s.seed(req.service_tokens, req.ingestion_api_keys, now_ms()))
        .await?;
    let body = json!({
        "service_tokens": req.service_tokens,
        "ingestion_api_keys": req.ingestion_api_keys,
    });
    Ok((StatusCode::CREATED, Json(body)))
}

//! The control API outside `/api`, admin token only: request counts, faults and seeding.

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

/// At most this many rows per seeding request.
const MAX_SEED: usize = 1_000_000;

/// The control routes, relative to `/_sandbox`.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/requests", get(requests))
        .route("/faults", post(add_fault).delete(clear_faults))
        .route("/seed", post(seed))
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

//! The operations of the spec under `/api`, plus `GET /api/server/status`.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::auth::{Caller, Manager, Principal};
use super::data::{ADMIN_ROLE, CreateError};
use super::options::StackState;
use crate::platform::stackstate::wire::{
    AuthorizeIngestionApiKeyRequest, GenerateIngestionApiKeyRequest,
    GeneratedIngestionApiKeyResponse, IngestionApiKey, NewServiceTokenRequest, Roles, ServerInfo,
    ServerVersion, ServiceToken, ServiceTokenCreatedResponse,
};
use crate::sandbox::body::JsonBody;
use crate::sandbox::emulator::App;
use crate::sandbox::errors::ApiError;
use crate::sandbox::secrets::same_secret;
use crate::sandbox::times::now_ms;

/// Roles a session with admin rights may use, as `/user/session/availableRoles` lists them.
const ALL_ROLES: [&str; 5] = [
    ADMIN_ROLE,
    "stackstate-guest",
    "stackstate-k8s-troubleshooter",
    "stackstate-platform-admin",
    "stackstate-power-user",
];

/// The API routes, relative to `/api`.
pub fn router() -> Router<Arc<App<StackState>>> {
    Router::new()
        .route("/server/info", get(server_info))
        .route("/server/status", get(server_status))
        .route("/security/tokens", get(list_tokens).post(create_token))
        .route("/security/tokens/{id}", delete(delete_token))
        .route(
            "/security/ingestion/api_keys",
            get(list_keys).post(generate_key),
        )
        .route("/security/ingestion/api_keys/{id}", delete(delete_key))
        .route("/security/ingestion/authorize", post(authorize))
        .route("/user/session/availableRoles", get(available_roles))
}

async fn server_info(State(app): State<Arc<App<StackState>>>, _: Caller) -> Json<ServerInfo> {
    let v = &app.server_version;
    Json(ServerInfo {
        version: ServerVersion {
            major: v.major,
            minor: v.minor,
            patch: v.patch,
            diff: String::new(),
            commit: "sts-sandbox".to_string(),
            is_dev: false,
            ..ServerVersion::default()
        },
        deployment_mode: "SelfHosted".to_string(),
        platform_version: Some(v.text.clone()),
        ..ServerInfo::default()
    })
}

async fn server_status(State(app): State<Arc<App<StackState>>>, _: Caller) -> Json<Value> {
    Json(json!({"status": "ok", "version": app.server_version.text}))
}

async fn list_tokens(
    State(app): State<Arc<App<StackState>>>,
    _: Manager,
) -> Json<Vec<ServiceToken>> {
    Json(app.with_store(|s| s.service_tokens()))
}

async fn create_token(
    State(app): State<Arc<App<StackState>>>,
    _: Manager,
    JsonBody(req): JsonBody<NewServiceTokenRequest>,
) -> Result<Json<ServiceTokenCreatedResponse>, ApiError> {
    let created = app
        .change(|s| s.create_service_token(req, now_ms()))
        .await?;
    created.map(Json).map_err(|e| match e {
        CreateError::ExpiryInPast => ApiError::TokenExpiryInPast,
        CreateError::BlankName => blank_name(),
    })
}

async fn delete_token(
    State(app): State<Arc<App<StackState>>>,
    _: Manager,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(id)?;
    if app.change(|s| s.delete_service_token(id)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no service token with id {id}")))
    }
}

async fn list_keys(
    State(app): State<Arc<App<StackState>>>,
    _: Manager,
) -> Json<Vec<IngestionApiKey>> {
    Json(app.with_store(|s| s.ingestion_api_keys()))
}

async fn generate_key(
    State(app): State<Arc<App<StackState>>>,
    _: Manager,
    JsonBody(req): JsonBody<GenerateIngestionApiKeyRequest>,
) -> Result<Json<GeneratedIngestionApiKeyResponse>, ApiError> {
    let generated = app
        .change(|s| s.generate_ingestion_api_key(req, now_ms()))
        .await?;
    generated.map(Json).map_err(|e| match e {
        CreateError::ExpiryInPast => ApiError::KeyExpiryInPast,
        CreateError::BlankName => blank_name(),
    })
}

async fn delete_key(
    State(app): State<Arc<App<StackState>>>,
    _: Manager,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(id)?;
    if app.change(|s| s.delete_ingestion_api_key(id)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!(
            "no ingestion API key with id {id}"
        )))
    }
}

async fn authorize(
    State(app): State<Arc<App<StackState>>>,
    _: Caller,
    RawQuery(query): RawQuery,
    JsonBody(req): JsonBody<AuthorizeIngestionApiKeyRequest>,
) -> Result<StatusCode, ApiError> {
    let with_receiver_key = with_receiver_key(query.as_deref())?;
    let is_receiver_key = with_receiver_key
        && app
            .emulator
            .receiver_api_key
            .as_deref()
            .is_some_and(|k| same_secret(&req.api_key, k));
    if is_receiver_key || app.with_store(|s| s.ingestion_api_key_is_live(&req.api_key, now_ms())) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::Forbidden(
            "the ingestion API key is unknown, deleted or expired".to_string(),
        ))
    }
}

async fn available_roles(Caller(principal): Caller) -> Json<Roles> {
    let roles = match principal {
        Principal::Admin => ALL_ROLES.iter().map(|r| r.to_string()).collect(),
        Principal::ServiceToken { roles } => roles,
    };
    Json(Roles { roles })
}

fn blank_name() -> ApiError {
    ApiError::BadRequest("name must not be empty".to_string())
}

fn parse_id(id: Result<Path<String>, PathRejection>) -> Result<i64, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    id.parse()
        .map_err(|_| ApiError::BadRequest(format!("invalid id {id:?}: expected an integer")))
}

/// The `withReceiverKey` query parameter (default false).
fn with_receiver_key(query: Option<&str>) -> Result<bool, ApiError> {
    let mut result = false;
    for pair in query.unwrap_or_default().split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name != "withReceiverKey" {
            continue;
        }
        result = match value.to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "invalid withReceiverKey {value:?}: expected true or false"
                )));
            }
        };
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_with_receiver_key() {
        assert_eq!(with_receiver_key(None), Ok(false));
        assert_eq!(with_receiver_key(Some("withReceiverKey=true")), Ok(true));
        assert_eq!(
            with_receiver_key(Some("a=1&withReceiverKey=TRUE")),
            Ok(true)
        );
        assert_eq!(with_receiver_key(Some("withReceiverKey=false")), Ok(false));
        assert!(with_receiver_key(Some("withReceiverKey=yes")).is_err());
    }
}

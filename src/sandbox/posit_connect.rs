//! Posit Connect (CONTRACT §9.3): the service-token API under `/__api__`, `GET /__api__/v1/user`,
//! `GET /__api__/server_settings`, and `GET /scim/v2/Users` at the server's root, where a service
//! token with `identity:manage` is used (and its `active_time` set).
//!
//! Answers carry exactly the fields of spec/posit-connect-api.yaml (Posit declares
//! `additionalProperties: false`); errors are `APIError` `{code, error, payload}`.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::body::{self, Unreadable};
use super::requests::is_uuid;
use super::state::hash_secret;
use super::times::{parse_rfc3339, rfc3339};
use super::{App, now_ms};
use crate::platform::posit_connect::wire;

/// The scopes a token may be given, as the document names them, with what they allow.
pub const SCOPES: [(&str, &str); 2] = [
    ("identity:manage", "Provision users and groups through SCIM"),
    (
        "nameservice:read",
        "Read user and group data from the name service",
    ),
];
/// The scope that opens `/scim/v2/...`.
const SCIM_SCOPE: &str = "identity:manage";
/// `active_time` is refreshed at most this often, as Connect does.
const ACTIVE_TIME_RESOLUTION_MS: i64 = 15 * 60 * 1000;
/// Characters of a service token's key.
const KEY_LEN: usize = 32;
/// The fields a create may send.
const CREATE_FIELDS: [&str; 3] = ["name", "scopes", "expires_at"];

/// Connect's `APIError` codes the sandbox answers with (the document's reading of the list).
mod code {
    pub const INTERNAL: i64 = 1;
    pub const BAD_REQUEST: i64 = 2;
    pub const INVALID_ID: i64 = 3;
    pub const NOT_FOUND: i64 = 4;
    pub const PERMISSION_DENIED: i64 = 22;
    pub const AUTH_REQUIRED: i64 = 24;
    pub const INVALID_PARAMETER: i64 = 25;
    pub const INVALID_KEY: i64 = 30;
}

/// Posit Connect's service tokens, with a hash of each key. Times are on the sandbox's clock.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PositState {
    #[serde(default)]
    service_tokens: Vec<StoredToken>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredToken {
    guid: String,
    name: String,
    scopes: Vec<String>,
    created: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    active_time: Option<i64>,
    /// Hex SHA-256 of the key.
    key_hash: String,
}

impl StoredToken {
    fn is_live(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|e| e > now)
    }

    /// The token as answered (never with `key`); `offset` is the clock's.
    fn to_wire(&self, offset: i64) -> wire::ServiceToken {
        wire::ServiceToken {
            guid: Some(self.guid.clone()),
            name: Some(self.name.clone()),
            scopes: Some(self.scopes.clone()),
            created_time: Some(rfc3339(self.created - offset)),
            active_time: self.active_time.map(|t| rfc3339(t - offset)),
            expires_at: self.expires_at.map(|t| rfc3339(t - offset)),
            ..wire::ServiceToken::default()
        }
    }
}

impl PositState {
    pub fn is_empty(&self) -> bool {
        self.service_tokens.is_empty()
    }

    /// Removes the tokens that expired by `now` (the sandbox's clock), as Connect does; true
    /// when there were any.
    fn remove_expired(&mut self, now: i64) -> bool {
        let before = self.service_tokens.len();
        self.service_tokens.retain(|t| t.is_live(now));
        self.service_tokens.len() != before
    }

    fn live_token_mut(&mut self, key: &str, now: i64) -> Option<&mut StoredToken> {
        let hash = hash_secret(key);
        self.service_tokens
            .iter_mut()
            .find(|t| t.key_hash == hash && t.is_live(now))
    }
}

/// An error answer: an `APIError` with Connect's code.
#[derive(Debug, Clone, PartialEq)]
pub struct PositError {
    status: StatusCode,
    code: i64,
    message: String,
}

impl PositError {
    fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        PositError {
            status,
            code,
            message: message.into(),
        }
    }

    fn auth_required() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            code::AUTH_REQUIRED,
            "an API key is required: send Authorization: Key <api key>",
        )
    }

    fn invalid_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            code::INVALID_KEY,
            "the API key is not valid",
        )
    }

    fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code::PERMISSION_DENIED, message)
    }

    fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code::INVALID_PARAMETER, message)
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code::BAD_REQUEST, message)
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code::NOT_FOUND, message)
    }

    #[cfg(test)]
    fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for PositError {
    fn into_response(self) -> Response {
        let body = wire::ApiError {
            code: Some(self.code),
            error: Some(self.message),
            payload: None,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<super::errors::ApiError> for PositError {
    fn from(e: super::errors::ApiError) -> Self {
        PositError::new(e.status(), code::INTERNAL, e.message())
    }
}

/// Who is calling the `/__api__` routes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Caller {
    /// `Authorization: Key <admin token>`.
    Administrator,
    /// `Authorization: Key <a --publisher-key>`, with its index.
    Publisher(usize),
    /// A service token: it authenticates, but has no user.
    ServiceToken,
}

/// `Authorization: <scheme> <value>` → (scheme in lower case, value).
fn authorization(headers: &HeaderMap) -> Option<(String, &str)> {
    let value = headers.get("authorization")?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    (!rest.is_empty()).then(|| (scheme.to_ascii_lowercase(), rest))
}

fn authenticate(app: &App, headers: &HeaderMap) -> Result<Caller, PositError> {
    let (scheme, key) = authorization(headers).ok_or_else(PositError::auth_required)?;
    if scheme != "key" && scheme != "bearer" {
        return Err(PositError::auth_required());
    }
    if scheme == "key" {
        if key == app.admin_token {
            return Ok(Caller::Administrator);
        }
        if let Some(i) = app.publisher_keys.iter().position(|k| k == key) {
            return Ok(Caller::Publisher(i));
        }
    }
    let is_token = app.with_store(|s| {
        let now = s.clock(now_ms());
        let hash = hash_secret(key);
        s.posit_connect
            .service_tokens
            .iter()
            .any(|t| t.key_hash == hash && t.is_live(now))
    });
    if is_token {
        Ok(Caller::ServiceToken)
    } else {
        Err(PositError::invalid_key())
    }
}

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = PositError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, PositError> {
        authenticate(app, &parts.headers)
    }
}

/// Extractor: an administrator (401 or 403 otherwise).
#[derive(Debug)]
struct Administrator;

impl FromRequestParts<Arc<App>> for Administrator {
    type Rejection = PositError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, PositError> {
        match authenticate(app, &parts.headers)? {
            Caller::Administrator => Ok(Administrator),
            Caller::Publisher(_) => Err(PositError::permission_denied(
                "only administrators may manage service tokens",
            )),
            Caller::ServiceToken => Err(PositError::permission_denied(
                "a service token cannot manage service tokens",
            )),
        }
    }
}

/// A JSON request body, refused with an `APIError`.
#[derive(Debug)]
struct PositJson(Value);

impl<S: Send + Sync> FromRequest<S> for PositJson {
    type Rejection = PositError;

    async fn from_request(req: Request, state: &S) -> Result<Self, PositError> {
        let bytes = body::read(req, state).await.map_err(|e| match e {
            Unreadable::TooLarge => PositError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                code::BAD_REQUEST,
                format!(
                    "request body is larger than {} bytes",
                    super::MAX_BODY_BYTES
                ),
            ),
            Unreadable::Other(m) => PositError::bad_request(m),
        })?;
        serde_json::from_slice(&bytes)
            .map(PositJson)
            .map_err(|e| PositError::bad_request(format!("invalid request body: {e}")))
    }
}

/// The routes: `/__api__/…` and `/scim/…`.
pub fn router() -> Router<Arc<App>> {
    let api = Router::new()
        .route(
            "/v1/system/service-tokens",
            get(list_tokens).post(create_token),
        )
        .route("/v1/system/service-tokens/scopes", get(list_scopes))
        .route("/v1/system/service-tokens/{guid}", delete(delete_token))
        .route("/v1/user", get(current_user))
        .route("/server_settings", get(server_settings))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    let scim = Router::new()
        .route("/v2/Users", get(scim_users))
        .fallback(scim_not_found);
    Router::new().nest("/__api__", api).nest("/scim", scim)
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
    State(app): State<Arc<App>>,
    _: Administrator,
) -> Result<Json<Vec<wire::ServiceToken>>, PositError> {
    let list = app
        .change(|s| {
            let now = s.clock(now_ms());
            if s.posit_connect.remove_expired(now) {
                s.bump();
            }
            let offset = s.clock_offset_ms();
            s.posit_connect
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
    State(app): State<Arc<App>>,
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
            s.posit_connect.remove_expired(now);
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
            s.posit_connect.service_tokens.push(token);
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
    State(app): State<Arc<App>>,
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
            let state = &mut s.posit_connect;
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
    State(app): State<Arc<App>>,
    caller: Caller,
) -> Result<Json<wire::User>, PositError> {
    let (username, role, key) = match caller {
        Caller::Administrator => ("admin".to_string(), "administrator", &app.admin_token),
        Caller::Publisher(i) => (
            format!("publisher{}", i + 1),
            "publisher",
            &app.publisher_keys[i],
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

async fn server_settings(State(app): State<Arc<App>>) -> Json<wire::ServerSettings> {
    Json(wire::ServerSettings {
        version: Some(app.server_version.text.clone()),
        ..wire::ServerSettings::default()
    })
}

/// A SCIM error answer (RFC 7644 §3.12).
fn scim_error(status: StatusCode, detail: &str) -> Response {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": status.as_u16().to_string(),
        "detail": detail,
    });
    (status, Json(body)).into_response()
}

async fn scim_not_found() -> Response {
    scim_error(StatusCode::NOT_FOUND, "no such SCIM resource")
}

/// `GET /scim/v2/Users` with `Authorization: Bearer <service token>`: an empty list; sets the
/// token's `active_time` when it is unset or older than 15 minutes.
async fn scim_users(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
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
            let Some(token) = s.posit_connect.live_token_mut(&key, now) else {
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

/// A random UUID v4.
fn random_uuid() -> String {
    uuid_from(&rand::random::<u128>().to_be_bytes())
}

/// A UUID v4 made of the first 16 bytes of `bytes`.
fn uuid_from(bytes: &[u8]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&bytes[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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

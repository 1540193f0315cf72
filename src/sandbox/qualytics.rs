//! Qualytics (CONTRACT §9.3): user tokens (service and personal) and service users under `/api`,
//! with FastAPI-style errors `{"detail": …}`.
//!
//! `Authorization: Bearer <admin token>` is the Admin (a personal user, id 1). Tokens the sandbox
//! issues are JWTs signed HS256 with a key of its own (kept in `--state`); only a hash of each is
//! stored. An issued token authenticates as its user, whose role decides (Admin manages), and its
//! `last_used` is set on every use. Expiry is decided by the stored time (the clock moves it), not
//! by the token's `exp` claim.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use super::body::{self, Unreadable};
use super::config::ServiceUserSeed;
use super::state::{Store, hash_secret};
use super::times::rfc3339;
use super::{App, now_ms};
use crate::platform::qualytics::wire;

/// The Admin's numeric id; service users are numbered after it.
pub const ADMIN_USER_ID: i64 = 1;
/// The Admin's login.
pub const ADMIN_LOGIN: &str = "admin@sandbox";
/// The roles a user may have, as Qualytics names them.
const ROLES: [&str; 4] = ["Admin", "Manager", "Member", "Editor"];
const ADMIN_ROLE: &str = "Admin";
/// The team every service user is in.
const PUBLIC_TEAM: &str = "Public";
const MAX_NAME_LEN: usize = 255;
const MAX_DAYS: i64 = 365;
const DAY_MS: i64 = 24 * 3600 * 1000;
/// Page size of `GET /users` when none is asked for, and the largest one allowed.
const DEFAULT_PAGE_SIZE: i64 = 50;
const MAX_PAGE_SIZE: i64 = 1000;

type HmacSha256 = Hmac<Sha256>;

/// Qualytics' users and tokens (times on the sandbox's clock) and the JWT signing key.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct QualyticsState {
    /// Base64 of the HS256 key; empty until the sandbox first serves Qualytics.
    #[serde(default)]
    jwt_key: String,
    #[serde(default)]
    users: Vec<StoredUser>,
    #[serde(default)]
    tokens: Vec<StoredToken>,
    #[serde(default)]
    last_user_id: i64,
    #[serde(default)]
    last_token_id: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredUser {
    id: i64,
    /// The login: the derived name plus `@service`.
    user_id: String,
    name: String,
    role: String,
    teams: Vec<String>,
    created: i64,
}

impl StoredUser {
    fn user_name(&self) -> &str {
        self.user_id
            .strip_suffix("@service")
            .unwrap_or(&self.user_id)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredToken {
    id: i64,
    /// The numeric id of the token's user.
    user: i64,
    name: String,
    created: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expiration: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_used: Option<i64>,
    active: bool,
    #[serde(default)]
    scim_endpoints_only: bool,
    /// Hex SHA-256 of the JWT.
    token_hash: String,
}

impl StoredToken {
    fn is_expired(&self, now: i64) -> bool {
        self.expiration.is_some_and(|e| e <= now)
    }
}

/// The login a service user's name gives: lower-cased, spaces to `_`, other special characters
/// dropped (`Nightly Loader` → `nightly_loader`), without `@service`.
pub fn derive_user_name(name: &str) -> String {
    name.trim()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('_'),
            c if c.is_ascii_alphanumeric() || c == '_' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// A role as Qualytics spells it, whatever the case it was given in.
fn canonical_role(role: &str) -> Option<&'static str> {
    ROLES.iter().copied().find(|r| r.eq_ignore_ascii_case(role))
}

impl QualyticsState {
    pub fn is_empty(&self) -> bool {
        self.jwt_key.is_empty() && self.users.is_empty() && self.tokens.is_empty()
    }

    /// Makes the signing key when there is none; true when it did.
    fn ensure_key(&mut self) -> bool {
        if !self.jwt_key.is_empty() {
            return false;
        }
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(&rand::random::<u128>().to_be_bytes());
        key[16..].copy_from_slice(&rand::random::<u128>().to_be_bytes());
        self.jwt_key = STANDARD.encode(key);
        true
    }

    fn key(&self) -> Vec<u8> {
        STANDARD.decode(&self.jwt_key).unwrap_or_default()
    }

    fn user(&self, id: i64) -> Option<&StoredUser> {
        self.users.iter().find(|u| u.id == id)
    }

    /// Creates a service user; `Err` names why not (a duplicate login is `Conflict`).
    fn create_user(
        &mut self,
        name: &str,
        role: &str,
        teams: &[String],
        now: i64,
    ) -> Result<&StoredUser, QError> {
        let role = canonical_role(role).ok_or_else(|| {
            QError::validation(
                &["body", "role"],
                &format!("Input should be one of {}", ROLES.join(", ")),
                "enum",
            )
        })?;
        let user_name = derive_user_name(name);
        if user_name.is_empty() {
            return Err(QError::validation(
                &["body", "name"],
                "the name must contain a letter or a digit",
                "value_error",
            ));
        }
        let login = format!("{user_name}@service");
        if self.users.iter().any(|u| u.user_id == login) {
            return Err(QError::new(
                StatusCode::CONFLICT,
                format!("user {login} already exists"),
            ));
        }
        let mut all_teams = vec![PUBLIC_TEAM.to_string()];
        for team in teams {
            let team = team.trim();
            if !team.is_empty() && !all_teams.iter().any(|t| t == team) {
                all_teams.push(team.to_string());
            }
        }
        let last = self.users.iter().map(|u| u.id).max().unwrap_or(0);
        let id = self.last_user_id.max(last).max(ADMIN_USER_ID) + 1;
        self.last_user_id = id;
        self.users.push(StoredUser {
            id,
            user_id: login,
            name: name.trim().to_string(),
            role: role.to_string(),
            teams: all_teams,
            created: now,
        });
        Ok(&self.users[self.users.len() - 1])
    }

    /// The `user` of a token, or of a caller.
    fn owner(&self, id: i64) -> wire::TokenOwner {
        match self.user(id) {
            Some(u) => wire::TokenOwner {
                id: Some(u.id),
                user_id: Some(u.user_id.clone()),
                user_name: Some(u.user_name().to_string()),
                email: Some(u.user_id.clone()),
                name: Some(u.name.clone()),
                role: Some(u.role.clone()),
                user_type: Some("Service".to_string()),
                ..wire::TokenOwner::default()
            },
            None => wire::TokenOwner {
                id: Some(ADMIN_USER_ID),
                user_id: Some(ADMIN_LOGIN.to_string()),
                user_name: Some("admin".to_string()),
                email: Some(ADMIN_LOGIN.to_string()),
                name: Some("Sandbox Admin".to_string()),
                role: Some(ADMIN_ROLE.to_string()),
                user_type: Some("Human".to_string()),
                ..wire::TokenOwner::default()
            },
        }
    }

    fn token_to_wire(&self, t: &StoredToken, offset: i64) -> wire::UserToken {
        wire::UserToken {
            id: Some(t.id),
            created: Some(rfc3339(t.created - offset)),
            name: Some(t.name.clone()),
            active: Some(t.active),
            expiration: t.expiration.map(|e| rfc3339(e - offset)),
            last_used: t.last_used.map(|e| rfc3339(e - offset)),
            scim_endpoints_only: Some(t.scim_endpoints_only),
            user: Some(self.owner(t.user)),
            ..wire::UserToken::default()
        }
    }

    fn user_to_wire(u: &StoredUser, offset: i64) -> wire::User {
        wire::User {
            id: Some(u.id),
            user_id: Some(u.user_id.clone()),
            user_name: Some(u.user_name().to_string()),
            email: Some(u.user_id.clone()),
            name: Some(u.name.clone()),
            role: Some(u.role.clone()),
            user_type: Some("Service".to_string()),
            teams: Some(u.teams.clone()),
            last_login: None,
            created_at: Some(rfc3339(u.created - offset)),
            deleted_at: None,
            ..wire::User::default()
        }
    }

    /// The Admin as a listed user.
    fn admin_to_wire(started: i64) -> wire::User {
        wire::User {
            id: Some(ADMIN_USER_ID),
            user_id: Some(ADMIN_LOGIN.to_string()),
            user_name: Some("admin".to_string()),
            email: Some(ADMIN_LOGIN.to_string()),
            name: Some("Sandbox Admin".to_string()),
            role: Some(ADMIN_ROLE.to_string()),
            user_type: Some("Human".to_string()),
            teams: Some(vec![PUBLIC_TEAM.to_string()]),
            last_login: None,
            created_at: Some(rfc3339(started)),
            deleted_at: None,
            ..wire::User::default()
        }
    }
}

/// Prepares the store for serving Qualytics: the signing key, then the `--service-user` seeds
/// that do not exist yet. Bumps the store's generation when it changed anything.
pub fn init(store: &mut Store, seeds: &[ServiceUserSeed], real_now: i64) -> anyhow::Result<()> {
    let now = store.clock(real_now);
    let state = &mut store.qualytics;
    let mut changed = state.ensure_key();
    for seed in seeds {
        let login = format!("{}@service", derive_user_name(&seed.name));
        if state.users.iter().any(|u| u.user_id == login) {
            continue;
        }
        state
            .create_user(&seed.name, &seed.role, &[], now)
            .map_err(|e| {
                anyhow::anyhow!("--service-user {}:{}: {}", seed.name, seed.role, e.text())
            })?;
        changed = true;
    }
    if changed {
        store.bump();
    }
    Ok(())
}

/// A FastAPI-style error answer, `{"detail": …}`.
#[derive(Debug, Clone, PartialEq)]
pub struct QError {
    status: StatusCode,
    detail: Value,
}

impl QError {
    fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        QError {
            status,
            detail: Value::String(detail.into()),
        }
    }

    /// 422 with FastAPI's list of one problem.
    fn validation(loc: &[&str], msg: &str, kind: &str) -> Self {
        QError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: json!([{"loc": loc, "msg": msg, "type": kind}]),
        }
    }

    fn unauthorized(detail: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, detail)
    }

    fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "this action needs the Admin role")
    }

    fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// The message, for logs and start-up errors.
    fn text(&self) -> String {
        match &self.detail {
            Value::String(s) => s.clone(),
            Value::Array(problems) => problems
                .first()
                .and_then(|p| p["msg"].as_str())
                .unwrap_or_default()
                .to_string(),
            other => other.to_string(),
        }
    }

    #[cfg(test)]
    fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for QError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"detail": self.detail}))).into_response()
    }
}

impl From<super::errors::ApiError> for QError {
    fn from(e: super::errors::ApiError) -> Self {
        QError::new(e.status(), e.message())
    }
}

/// The JWT for a token: `{"sub": user id, "user_id": login, "jti", "iat", "exp"?}`, HS256.
fn issue_jwt(key: &[u8], user: i64, login: &str, real_now: i64, days: Option<i64>) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let iat = real_now.div_euclid(1000);
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.to_string()));
    claims.insert("user_id".into(), json!(login));
    claims.insert(
        "jti".into(),
        json!(Alphanumeric.sample_string(&mut rand::rng(), 22)),
    );
    claims.insert("iat".into(), json!(iat));
    if let Some(days) = days {
        claims.insert("exp".into(), json!(iat + days * 24 * 3600));
    }
    let payload = URL_SAFE_NO_PAD.encode(Value::Object(claims).to_string());
    let input = format!("{header}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(sign(key, &input));
    format!("{input}.{signature}")
}

fn sign(key: &[u8], input: &str) -> Vec<u8> {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(input.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Whether `token` is a JWT signed with `key`.
fn signature_ok(key: &[u8], token: &str) -> bool {
    let Some((input, signature)) = token.rsplit_once('.') else {
        return false;
    };
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    if input.split('.').count() != 2 {
        return false;
    }
    let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(key) else {
        return false;
    };
    mac.update(input.as_bytes());
    mac.verify_slice(&signature).is_ok()
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Caller {
    /// The caller's user id.
    user: i64,
    /// Whether the user's role is Admin.
    admin: bool,
}

/// Checks `Authorization: Bearer …` and sets `last_used` of the token that was used.
async fn authenticate(app: &App, headers: &HeaderMap) -> Result<Caller, QError> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| QError::unauthorized("Not authenticated"))?;
    if token == app.admin_token {
        return Ok(Caller {
            user: ADMIN_USER_ID,
            admin: true,
        });
    }
    let outcome = app
        .change(move |s| {
            let now = s.clock(now_ms());
            let state = &mut s.qualytics;
            if !signature_ok(&state.key(), &token) {
                return Err("Invalid token");
            }
            let hash = hash_secret(&token);
            let Some(index) = state.tokens.iter().position(|t| t.token_hash == hash) else {
                return Err("Invalid token");
            };
            let stored = &state.tokens[index];
            if !stored.active {
                return Err("Token has been revoked");
            }
            if stored.is_expired(now) {
                return Err("Token has expired");
            }
            let user = stored.user;
            let admin = match state.user(user) {
                Some(u) => u.role == ADMIN_ROLE,
                None => user == ADMIN_USER_ID,
            };
            state.tokens[index].last_used = Some(now);
            s.bump();
            Ok(Caller { user, admin })
        })
        .await?;
    outcome.map_err(QError::unauthorized)
}

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = QError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, QError> {
        authenticate(app, &parts.headers).await
    }
}

/// Extractor: a caller whose role is Admin (401 or 403 otherwise).
#[derive(Debug)]
struct AdminCaller;

impl FromRequestParts<Arc<App>> for AdminCaller {
    type Rejection = QError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, QError> {
        let caller = authenticate(app, &parts.headers).await?;
        if caller.admin {
            Ok(AdminCaller)
        } else {
            Err(QError::forbidden())
        }
    }
}

/// A JSON object request body; anything else is FastAPI's 422.
#[derive(Debug)]
struct QJson(Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for QJson {
    type Rejection = QError;

    async fn from_request(req: Request, state: &S) -> Result<Self, QError> {
        let bytes = body::read(req, state).await.map_err(|e| match e {
            Unreadable::TooLarge => QError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "request body is larger than {} bytes",
                    super::MAX_BODY_BYTES
                ),
            ),
            Unreadable::Other(m) => QError::new(StatusCode::BAD_REQUEST, m),
        })?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(QJson(map)),
            Ok(_) => Err(QError::validation(
                &["body"],
                "Input should be a valid dictionary",
                "dict_type",
            )),
            Err(_) => Err(QError::validation(
                &["body"],
                "JSON decode error",
                "json_invalid",
            )),
        }
    }
}

/// A `{id}` path parameter; not an integer is FastAPI's 422.
fn token_id(Path(id): Path<String>) -> Result<i64, QError> {
    id.parse().map_err(|_| {
        QError::validation(
            &["path", "id"],
            "Input should be a valid integer, unable to parse string as an integer",
            "int_parsing",
        )
    })
}

/// Reads an optional field of a body: absent or null is `None`.
fn optional<'a>(body: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    body.get(field).filter(|v| !v.is_null())
}

fn string_field(body: &Map<String, Value>, field: &str) -> Result<String, QError> {
    match body.get(field) {
        None | Some(Value::Null) => Err(QError::validation(
            &["body", field],
            "Field required",
            "missing",
        )),
        Some(Value::String(s)) if s.trim().is_empty() => Err(QError::validation(
            &["body", field],
            "String should have at least 1 character",
            "string_too_short",
        )),
        Some(Value::String(s)) if s.chars().count() > MAX_NAME_LEN => Err(QError::validation(
            &["body", field],
            &format!("String should have at most {MAX_NAME_LEN} characters"),
            "string_too_long",
        )),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(QError::validation(
            &["body", field],
            "Input should be a valid string",
            "string_type",
        )),
    }
}

fn int_field(body: &Map<String, Value>, field: &str) -> Result<Option<i64>, QError> {
    match optional(body, field) {
        None => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
            QError::validation(
                &["body", field],
                "Input should be a valid integer",
                "int_type",
            )
        }),
    }
}

fn bool_field(body: &Map<String, Value>, field: &str) -> Result<Option<bool>, QError> {
    match optional(body, field) {
        None => Ok(None),
        Some(v) => v.as_bool().map(Some).ok_or_else(|| {
            QError::validation(
                &["body", field],
                "Input should be a valid boolean",
                "bool_type",
            )
        }),
    }
}

/// A create's body, checked as FastAPI would (422).
fn check_create(
    body: &Map<String, Value>,
) -> Result<(String, Option<i64>, Option<i64>, bool), QError> {
    let name = string_field(body, "name")?;
    let user_id = int_field(body, "user_id")?;
    let days = int_field(body, "expires_in_days")?;
    match days {
        Some(d) if d < 1 => {
            return Err(QError::validation(
                &["body", "expires_in_days"],
                "Input should be greater than or equal to 1",
                "greater_than_equal",
            ));
        }
        Some(d) if d > MAX_DAYS => {
            return Err(QError::validation(
                &["body", "expires_in_days"],
                &format!("Input should be less than or equal to {MAX_DAYS}"),
                "less_than_equal",
            ));
        }
        _ => {}
    }
    let scim_only = bool_field(body, "scim_endpoints_only")?.unwrap_or(false);
    Ok((name, user_id, days, scim_only))
}

/// The routes, relative to `/api`.
pub fn router() -> Router<Arc<App>> {
    let api = Router::new()
        .route("/user-tokens/service", get(list_service_tokens))
        .route("/user-tokens", get(list_personal_tokens).post(create_token))
        .route("/user-tokens/{id}", put(update_token).delete(delete_token))
        .route("/users", get(list_users).post(create_user))
        .route("/status", get(status))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    Router::new().nest("/api", api)
}

pub async fn not_found() -> QError {
    QError::not_found("Not Found")
}

async fn method_not_allowed() -> QError {
    QError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}

async fn status() -> Json<wire::Status> {
    Json(wire::Status {
        status: Some("ok".to_string()),
        ..wire::Status::default()
    })
}

/// Every service user's tokens (revoked and expired ones too), as a bare array.
async fn list_service_tokens(
    State(app): State<Arc<App>>,
    _: AdminCaller,
) -> Json<Vec<wire::UserToken>> {
    Json(app.with_store(|s| {
        let state = &s.qualytics;
        state
            .tokens
            .iter()
            .filter(|t| state.user(t.user).is_some())
            .map(|t| state.token_to_wire(t, s.clock_offset_ms()))
            .collect()
    }))
}

/// The caller's own tokens.
async fn list_personal_tokens(
    State(app): State<Arc<App>>,
    caller: Caller,
) -> Json<Vec<wire::UserToken>> {
    Json(app.with_store(|s| {
        let state = &s.qualytics;
        state
            .tokens
            .iter()
            .filter(|t| t.user == caller.user)
            .map(|t| state.token_to_wire(t, s.clock_offset_ms()))
            .collect()
    }))
}

async fn create_token(
    State(app): State<Arc<App>>,
    caller: Caller,
    QJson(body): QJson,
) -> Result<Json<wire::UserToken>, QError> {
    let (name, user_id, days, scim_only) = check_create(&body)?;
    if user_id.is_some() && !caller.admin {
        return Err(QError::forbidden());
    }
    let real_now = now_ms();
    let created = app
        .change(move |s| {
            let offset = s.clock_offset_ms();
            let now = s.clock(real_now);
            let state = &mut s.qualytics;
            let owner = match user_id {
                None => caller.user,
                Some(id) if state.user(id).is_some() => id,
                Some(id) if id == ADMIN_USER_ID => {
                    return Err(QError::new(
                        StatusCode::BAD_REQUEST,
                        format!("user {id} is not a service user"),
                    ));
                }
                Some(id) => return Err(QError::not_found(format!("user {id} not found"))),
            };
            if state
                .tokens
                .iter()
                .any(|t| t.user == owner && t.name == name)
            {
                let login = state.owner(owner).user_id.unwrap_or_default();
                return Err(QError::new(
                    StatusCode::CONFLICT,
                    format!("a token named {name} already exists for {login}"),
                ));
            }
            let login = state.owner(owner).user_id.unwrap_or_default();
            let jwt = issue_jwt(&state.key(), owner, &login, real_now, days);
            let last = state.tokens.iter().map(|t| t.id).max().unwrap_or(0);
            let id = state.last_token_id.max(last) + 1;
            state.last_token_id = id;
            let token = StoredToken {
                id,
                user: owner,
                name,
                created: now,
                expiration: days.map(|d| now + d * DAY_MS),
                last_used: None,
                active: true,
                scim_endpoints_only: scim_only,
                token_hash: hash_secret(&jwt),
            };
            let mut answer = state.token_to_wire(&token, offset);
            answer.bearer_token = Some(jwt);
            state.tokens.push(token);
            s.bump();
            Ok(answer)
        })
        .await??;
    Ok(Json(created))
}

/// The index of token `id` if `caller` may change it: a service token needs an Admin, a
/// personal token must be the caller's own (another's is not found).
fn find_for(state: &QualyticsState, id: i64, caller: &Caller) -> Result<usize, QError> {
    let missing = || QError::not_found(format!("token {id} not found"));
    let index = state
        .tokens
        .iter()
        .position(|t| t.id == id)
        .ok_or_else(missing)?;
    let token = &state.tokens[index];
    if token.user == caller.user {
        Ok(index)
    } else if state.user(token.user).is_none() {
        Err(missing())
    } else if caller.admin {
        Ok(index)
    } else {
        Err(QError::forbidden())
    }
}

async fn update_token(
    State(app): State<Arc<App>>,
    caller: Caller,
    id: Path<String>,
    QJson(body): QJson,
) -> Result<Json<wire::UserToken>, QError> {
    let id = token_id(id)?;
    let revoke = match body.get("revoke") {
        None => {
            return Err(QError::validation(
                &["body", "revoke"],
                "Field required",
                "missing",
            ));
        }
        Some(v) => v.as_bool().ok_or_else(|| {
            QError::validation(
                &["body", "revoke"],
                "Input should be a valid boolean",
                "bool_type",
            )
        })?,
    };
    let updated = app
        .change(move |s| {
            let offset = s.clock_offset_ms();
            let now = s.clock(now_ms());
            let state = &mut s.qualytics;
            let index = find_for(state, id, &caller)?;
            let token = &mut state.tokens[index];
            if !revoke && token.is_expired(now) {
                return Err(QError::new(
                    StatusCode::BAD_REQUEST,
                    format!("token {id} has expired and cannot be restored"),
                ));
            }
            let changed = token.active == revoke;
            token.active = !revoke;
            if changed {
                s.bump();
            }
            let state = &s.qualytics;
            Ok(state.token_to_wire(&state.tokens[index], offset))
        })
        .await??;
    Ok(Json(updated))
}

async fn delete_token(
    State(app): State<Arc<App>>,
    caller: Caller,
    id: Path<String>,
) -> Result<StatusCode, QError> {
    let id = token_id(id)?;
    app.change(move |s| {
        let state = &mut s.qualytics;
        let index = find_for(state, id, &caller)?;
        if state.tokens[index].active {
            return Err(QError::new(
                StatusCode::CONFLICT,
                format!("token {id} is active; revoke it before deleting it"),
            ));
        }
        state.tokens.remove(index);
        s.bump();
        Ok(())
    })
    .await??;
    Ok(StatusCode::NO_CONTENT)
}

/// A query parameter that must be a whole number of at least 1.
fn page_param(query: &HashMap<String, String>, name: &str, default: i64) -> Result<i64, QError> {
    let Some(text) = query.get(name) else {
        return Ok(default);
    };
    let n: i64 = text.parse().map_err(|_| {
        QError::validation(
            &["query", name],
            "Input should be a valid integer",
            "int_parsing",
        )
    })?;
    if n < 1 {
        return Err(QError::validation(
            &["query", name],
            "Input should be greater than or equal to 1",
            "greater_than_equal",
        ));
    }
    if name == "size" && n > MAX_PAGE_SIZE {
        return Err(QError::validation(
            &["query", name],
            &format!("Input should be less than or equal to {MAX_PAGE_SIZE}"),
            "less_than_equal",
        ));
    }
    Ok(n)
}

/// A page of users (`type`, `name`, `role`, `team` filter; `sort=name`, `sort_dir`; `page` from 1
/// and `size`).
async fn list_users(
    State(app): State<Arc<App>>,
    _: AdminCaller,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<wire::UserPage>, QError> {
    let Query(query) =
        query.map_err(|e| QError::validation(&["query"], &e.body_text(), "query_invalid"))?;
    let page = page_param(&query, "page", 1)?;
    let size = page_param(&query, "size", DEFAULT_PAGE_SIZE)?;
    let mut users: Vec<wire::User> = app.with_store(|s| {
        let offset = s.clock_offset_ms();
        let mut all = vec![QualyticsState::admin_to_wire(app.started_ms)];
        all.extend(
            s.qualytics
                .users
                .iter()
                .map(|u| QualyticsState::user_to_wire(u, offset)),
        );
        all
    });
    let text =
        |u: &wire::User, f: fn(&wire::User) -> &Option<String>| f(u).clone().unwrap_or_default();
    if let Some(kind) = query.get("type") {
        users.retain(|u| text(u, |u| &u.user_type).eq_ignore_ascii_case(kind));
    }
    if let Some(role) = query.get("role") {
        users.retain(|u| text(u, |u| &u.role).eq_ignore_ascii_case(role));
    }
    if let Some(name) = query.get("name").map(|n| n.to_lowercase()) {
        users.retain(|u| text(u, |u| &u.name).to_lowercase().contains(&name));
    }
    if let Some(team) = query.get("team") {
        users.retain(|u| {
            u.teams
                .iter()
                .flatten()
                .any(|t| t.eq_ignore_ascii_case(team))
        });
    }
    if query.get("sort").is_some_and(|s| s == "name") {
        users.sort_by_key(|u| text(u, |u| &u.name).to_lowercase());
    }
    if query.get("sort_dir").is_some_and(|d| d == "desc") {
        users.reverse();
    }
    let total = users.len() as i64;
    let skip = usize::try_from((page - 1).saturating_mul(size)).unwrap_or(usize::MAX);
    let take = usize::try_from(size).unwrap_or(usize::MAX);
    let items: Vec<wire::User> = users.into_iter().skip(skip).take(take).collect();
    Ok(Json(wire::UserPage {
        items: Some(items),
        total: Some(total),
        page: Some(page),
        size: Some(size),
        ..wire::UserPage::default()
    }))
}

async fn create_user(
    State(app): State<Arc<App>>,
    _: AdminCaller,
    QJson(body): QJson,
) -> Result<Json<wire::User>, QError> {
    let name = string_field(&body, "name")?;
    let role = match body.get("role") {
        Some(Value::String(r)) => r.clone(),
        None | Some(Value::Null) => {
            return Err(QError::validation(
                &["body", "role"],
                "Field required",
                "missing",
            ));
        }
        Some(_) => {
            return Err(QError::validation(
                &["body", "role"],
                "Input should be a valid string",
                "string_type",
            ));
        }
    };
    let teams: Vec<String> = match optional(&body, "teams") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| {
                t.as_str().map(str::to_string).ok_or_else(|| {
                    QError::validation(
                        &["body", "teams"],
                        "Input should be a valid string",
                        "string_type",
                    )
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(QError::validation(
                &["body", "teams"],
                "Input should be a valid list",
                "list_type",
            ));
        }
    };
    let created = app
        .change(move |s| {
            let offset = s.clock_offset_ms();
            let now = s.clock(now_ms());
            let user = s.qualytics.create_user(&name, &role, &teams, now)?;
            let answer = QualyticsState::user_to_wire(user, offset);
            s.bump();
            Ok::<_, QError>(answer)
        })
        .await??;
    Ok(Json(created))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_logins_from_names() {
        assert_eq!(derive_user_name("Nightly Loader"), "nightly_loader");
        assert_eq!(
            derive_user_name(" Catalog-Sync (prod)! "),
            "catalogsync_prod"
        );
        assert_eq!(derive_user_name("a_b"), "a_b");
        assert_eq!(derive_user_name("!!"), "");
    }

    #[test]
    fn jwts_are_signed_and_carry_the_user_and_expiry() {
        let key = b"0123456789abcdef0123456789abcdef";
        let jwt = issue_jwt(key, 45, "loader@service", 1_800_000_000_000, Some(2));
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["sub"], "45");
        assert_eq!(claims["exp"], json!(1_800_000_000 + 2 * 86_400));
        assert!(signature_ok(key, &jwt));
        assert!(!signature_ok(b"another key", &jwt));
        let never = issue_jwt(key, 45, "loader@service", 1_800_000_000_000, None);
        let claims: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(never.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert!(claims.get("exp").is_none());
        assert!(!signature_ok(key, "not.a-jwt"));
    }

    #[test]
    fn create_bodies_are_checked_as_fastapi_does() {
        let body = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(
            check_create(&body(
                json!({"name": "n", "user_id": 2, "expires_in_days": 365})
            ))
            .unwrap(),
            ("n".to_string(), Some(2), Some(365), false)
        );
        for bad in [
            json!({}),
            json!({"name": 1}),
            json!({"name": "n", "expires_in_days": 0}),
            json!({"name": "n", "expires_in_days": 366}),
            json!({"name": "n", "user_id": "svc@service"}),
            json!({"name": "x".repeat(256)}),
        ] {
            let e = check_create(&body(bad.clone())).unwrap_err();
            assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        }
    }

    #[test]
    fn service_users_get_ids_after_the_admin_and_the_public_team() {
        let mut state = QualyticsState::default();
        let u = state
            .create_user(
                "Nightly Loader",
                "member",
                &["Ingestion".into(), "Public".into()],
                0,
            )
            .unwrap()
            .clone();
        assert_eq!(
            (u.id, u.user_id.as_str(), u.role.as_str()),
            (2, "nightly_loader@service", "Member")
        );
        assert_eq!(u.teams, ["Public", "Ingestion"]);
        let dup = state
            .create_user("nightly loader", "Admin", &[], 0)
            .unwrap_err();
        assert_eq!(dup.status(), StatusCode::CONFLICT);
        assert!(state.create_user("x", "Owner", &[], 0).is_err());
    }
}

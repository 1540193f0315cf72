//! Qualytics' user tokens: the service tokens of every service user, the caller's own tokens,
//! create, revoke and restore, delete.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::auth::{AdminCaller, Caller};
use super::body::{QJson, check_create, token_id};
use super::data::{ADMIN_USER_ID, DAY_MS, QualyticsState, StoredToken};
use super::error::QError;
use super::jwt::issue_jwt;
use super::options::Qualytics;
use crate::platform::qualytics::wire;
use crate::sandbox::emulator::App;
use crate::sandbox::secrets::hash_secret;
use crate::sandbox::times::now_ms;

/// Every service user's tokens (revoked and expired ones too), as a bare array.
pub async fn list_service_tokens(
    State(app): State<Arc<App<Qualytics>>>,
    _: AdminCaller,
) -> Json<Vec<wire::UserToken>> {
    Json(app.with_store(|s| {
        let state = &s.data.qualytics;
        state
            .tokens
            .iter()
            .filter(|t| state.user(t.user).is_some())
            .map(|t| state.token_to_wire(t, s.clock_offset_ms()))
            .collect()
    }))
}

/// The caller's own tokens.
pub async fn list_personal_tokens(
    State(app): State<Arc<App<Qualytics>>>,
    caller: Caller,
) -> Json<Vec<wire::UserToken>> {
    Json(app.with_store(|s| {
        let state = &s.data.qualytics;
        state
            .tokens
            .iter()
            .filter(|t| t.user == caller.user)
            .map(|t| state.token_to_wire(t, s.clock_offset_ms()))
            .collect()
    }))
}

pub async fn create_token(
    State(app): State<Arc<App<Qualytics>>>,
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
            let state = &mut s.data.qualytics;
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

pub async fn update_token(
    State(app): State<Arc<App<Qualytics>>>,
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
            let state = &mut s.data.qualytics;
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
            let state = &s.data.qualytics;
            Ok(state.token_to_wire(&state.tokens[index], offset))
        })
        .await??;
    Ok(Json(updated))
}

pub async fn delete_token(
    State(app): State<Arc<App<Qualytics>>>,
    caller: Caller,
    id: Path<String>,
) -> Result<StatusCode, QError> {
    let id = token_id(id)?;
    app.change(move |s| {
        let state = &mut s.data.qualytics;
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

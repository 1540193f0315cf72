//! Who is calling: `Authorization: Bearer <admin token>` (the Admin) or a JWT the sandbox
//! issued, which authenticates as its user and has its `last_used` set.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::data::{ADMIN_ROLE, ADMIN_USER_ID};
use super::error::QError;
use super::jwt::signature_ok;
use super::options::Qualytics;
use crate::sandbox::emulator::App;
use crate::sandbox::secrets::{hash_matches, hash_secret, same_secret};
use crate::sandbox::times::now_ms;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The caller's user id.
    pub user: i64,
    /// Whether the user's role is Admin.
    pub admin: bool,
}

/// Checks `Authorization: Bearer …` and sets `last_used` of the token that was used.
async fn authenticate(app: &App<Qualytics>, headers: &HeaderMap) -> Result<Caller, QError> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| QError::unauthorized("Not authenticated"))?;
    if same_secret(&token, &app.admin_token) {
        return Ok(Caller {
            user: ADMIN_USER_ID,
            admin: true,
        });
    }
    let outcome = app
        .change(move |s| {
            let now = s.clock(now_ms());
            let state = &mut s.data.qualytics;
            if !signature_ok(&state.key(), &token) {
                return Err("Invalid token");
            }
            let hash = hash_secret(&token);
            let Some(index) = state
                .tokens
                .iter()
                .position(|t| hash_matches(&t.token_hash, &hash))
            else {
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

impl FromRequestParts<Arc<App<Qualytics>>> for Caller {
    type Rejection = QError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App<Qualytics>>,
    ) -> Result<Self, QError> {
        authenticate(app, &parts.headers).await
    }
}

/// Extractor: a caller whose role is Admin (401 or 403 otherwise).
#[derive(Debug)]
pub struct AdminCaller;

impl FromRequestParts<Arc<App<Qualytics>>> for AdminCaller {
    type Rejection = QError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App<Qualytics>>,
    ) -> Result<Self, QError> {
        let caller = authenticate(app, &parts.headers).await?;
        if caller.admin {
            Ok(AdminCaller)
        } else {
            Err(QError::forbidden())
        }
    }
}

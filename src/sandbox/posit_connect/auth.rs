//! Who is calling the `/__api__` routes: `Authorization: Key <key>` (the administrator, a
//! publisher) or a service token the sandbox issued.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::error::PositError;
use super::options::PositConnect;
use crate::sandbox::emulator::App;
use crate::sandbox::secrets::{find_secret, hash_matches, hash_secret, same_secret};
use crate::sandbox::times::now_ms;

/// Who is calling the `/__api__` routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// `Authorization: Key <admin token>`.
    Administrator,
    /// `Authorization: Key <a --publisher-key>`, with its index.
    Publisher(usize),
    /// A service token: it authenticates, but has no user.
    ServiceToken,
}

/// `Authorization: <scheme> <value>` → (scheme in lower case, value).
pub fn authorization(headers: &HeaderMap) -> Option<(String, &str)> {
    let value = headers.get("authorization")?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    (!rest.is_empty()).then(|| (scheme.to_ascii_lowercase(), rest))
}

fn authenticate(app: &App<PositConnect>, headers: &HeaderMap) -> Result<Caller, PositError> {
    let (scheme, key) = authorization(headers).ok_or_else(PositError::auth_required)?;
    if scheme != "key" && scheme != "bearer" {
        return Err(PositError::auth_required());
    }
    if scheme == "key" {
        if same_secret(key, &app.admin_token) {
            return Ok(Caller::Administrator);
        }
        if let Some(i) = find_secret(&app.emulator.publisher_keys, key) {
            return Ok(Caller::Publisher(i));
        }
    }
    let is_token = app.with_store(|s| {
        let now = s.clock(now_ms());
        let hash = hash_secret(key);
        s.data
            .posit_connect
            .service_tokens
            .iter()
            .any(|t| hash_matches(&t.key_hash, &hash) && t.is_live(now))
    });
    if is_token {
        Ok(Caller::ServiceToken)
    } else {
        Err(PositError::invalid_key())
    }
}

impl FromRequestParts<Arc<App<PositConnect>>> for Caller {
    type Rejection = PositError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App<PositConnect>>,
    ) -> Result<Self, PositError> {
        authenticate(app, &parts.headers)
    }
}

/// Extractor: an administrator (401 or 403 otherwise).
#[derive(Debug)]
pub struct Administrator;

impl FromRequestParts<Arc<App<PositConnect>>> for Administrator {
    type Rejection = PositError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App<PositConnect>>,
    ) -> Result<Self, PositError> {
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

//! Qualytics in the sandbox (CONTRACT §9.3): user tokens (service and personal) and service users
//! under `/api`, with FastAPI-style errors `{"detail": …}`.
//!
//! `Authorization: Bearer <admin token>` is the Admin (a personal user, id 1). Tokens the sandbox
//! issues are JWTs signed HS256 with a key of its own (kept in `--state`); only a hash of each is
//! stored. An issued token authenticates as its user, whose role decides (Admin manages), and its
//! `last_used` is set on every use. Expiry is decided by the stored time (the clock moves it), not
//! by the token's `exp` claim.
//!
//! - `options`: what it is started with; `data`: what it keeps; `error`: its error answers; `jwt`: the tokens it issues;
//! - `auth`: who is calling; `body`: what a request brings, checked;
//! - `tokens`, `users`: the routes.

mod auth;
mod body;
mod data;
mod error;
mod jwt;
mod options;
mod tokens;
mod users;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::config::Config;
use super::emulator::{App, Emulator};
use super::state::Store;
use crate::platform::PlatformKind;
use crate::platform::qualytics::wire;

use data::derive_user_name;

pub use data::QualyticsData;
use error::QError;
pub use options::Qualytics;

impl Emulator for Qualytics {
    const KIND: PlatformKind = PlatformKind::Qualytics;
    const DEFAULT_VERSION: &'static str = "6.0.0";
    const API_BASES: &'static [&'static str] = &["/api"];
    type Data = QualyticsData;

    fn new(cfg: &Config) -> Self {
        Qualytics::from_config(cfg)
    }

    /// The signing key, then the `--service-user` seeds that do not exist yet.
    fn init(&self, store: &mut Store<QualyticsData>, real_now: i64) -> anyhow::Result<()> {
        let now = store.clock(real_now);
        let state = &mut store.data.qualytics;
        let mut changed = state.ensure_key();
        for seed in &self.seeds {
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

    fn router() -> Router<Arc<App<Self>>> {
        let api = Router::new()
            .route("/user-tokens/service", get(tokens::list_service_tokens))
            .route(
                "/user-tokens",
                get(tokens::list_personal_tokens).post(tokens::create_token),
            )
            .route(
                "/user-tokens/{id}",
                put(tokens::update_token).delete(tokens::delete_token),
            )
            .route("/users", get(users::list_users).post(users::create_user))
            .route("/status", get(status))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed);
        Router::new().nest("/api", api).fallback(not_found)
    }

    fn error_body(message: &str) -> Value {
        json!({"detail": message})
    }
}

async fn not_found() -> QError {
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

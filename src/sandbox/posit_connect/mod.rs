//! Posit Connect in the sandbox (CONTRACT §9.3): the service-token API under `/__api__`,
//! `GET /__api__/v1/user`, `GET /__api__/server_settings`, and `GET /scim/v2/Users` at the
//! server's root, where a service token with `identity:manage` is used (and its `active_time`
//! set).
//!
//! Answers carry exactly the fields of spec/posit-connect-api.yaml (Posit declares
//! `additionalProperties: false`); errors are `APIError` `{code, error, payload}`.
//!
//! - `options`: what it is started with; `data`: what it keeps; `error`: its error answers; `auth`: who is calling;
//! - `routes`: the `/__api__` operations; `scim`: the SCIM use.

mod auth;
mod data;
mod error;
mod options;
mod routes;
mod scim;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};

use super::config::Config;
use super::emulator::{App, Emulator};
use crate::platform::PlatformKind;

pub use data::PositData;
pub use options::PositConnect;

impl Emulator for PositConnect {
    const KIND: PlatformKind = PlatformKind::PositConnect;
    const DEFAULT_VERSION: &'static str = "2026.01.0";
    const API_BASES: &'static [&'static str] = &["/__api__", "/scim"];
    type Data = PositData;

    fn new(cfg: &Config) -> Self {
        PositConnect::from_config(cfg)
    }

    fn router() -> Router<Arc<App<Self>>> {
        let scim = Router::new()
            .route("/v2/Users", get(scim::scim_users))
            .fallback(scim::scim_not_found);
        Router::new()
            .nest("/__api__", routes::router())
            .nest("/scim", scim)
            .fallback(routes::not_found)
    }

    fn error_body(message: &str) -> Value {
        json!({"code": error::code::INTERNAL, "error": message, "payload": null})
    }
}

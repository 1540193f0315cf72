//! StackState (SUSE Observability) in the sandbox (CONTRACT §8): service tokens and ingestion API
//! keys under `/api`, errors as `GenericErrorsResponse`.
//!
//! - `options`: what it is started with; `data`: what it keeps; `auth`: who is calling;
//! - `routes`: the operations of the spec; this file: the [`Emulator`] it is.

mod auth;
mod data;
mod options;
mod routes;

use std::sync::Arc;

use axum::Router;
use axum::response::IntoResponse;
use serde_json::Value;

use super::config::Config;
use super::emulator::{App, Emulator};
use super::errors::{ApiError, generic};
use super::state::Store;
use crate::platform::PlatformKind;

pub use data::StackStateData;
pub use options::StackState;

impl Emulator for StackState {
    const KIND: PlatformKind = PlatformKind::Stackstate;
    const DEFAULT_VERSION: &'static str = "6.0.0";
    const API_BASES: &'static [&'static str] = &["/api"];
    type Data = StackStateData;

    fn new(cfg: &Config) -> Self {
        StackState::from_config(cfg)
    }

    fn init(&self, store: &mut Store<StackStateData>, _real_now: i64) -> anyhow::Result<()> {
        store.data.index_ids();
        Ok(())
    }

    fn router() -> Router<Arc<App<Self>>> {
        let not_found = || async { ApiError::NotFound("no such path".to_string()).into_response() };
        let not_allowed = || async { ApiError::MethodNotAllowed.into_response() };
        let api = routes::router()
            .fallback(not_found)
            .method_not_allowed_fallback(not_allowed);
        Router::new().nest("/api", api).fallback(not_found)
    }

    fn error_body(message: &str) -> Value {
        serde_json::to_value(generic(message)).unwrap_or_default()
    }

    fn seed(
        store: &mut Store<StackStateData>,
        service_tokens: usize,
        ingestion_api_keys: usize,
        real_now: i64,
    ) -> Result<(), String> {
        store.seed(service_tokens, ingestion_api_keys, real_now);
        Ok(())
    }
}

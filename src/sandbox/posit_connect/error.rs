//! Posit Connect's error answers: an `APIError` `{code, error, payload}` with Connect's code, and
//! the JSON request body refused with one.

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::platform::posit_connect::wire;
use crate::sandbox::body::{self, Unreadable};
use crate::sandbox::config::MAX_BODY_BYTES;
use crate::sandbox::errors::ApiError;

/// Connect's `APIError` codes the sandbox answers with (the document's reading of the list).
pub mod code {
    pub const INTERNAL: i64 = 1;
    pub const BAD_REQUEST: i64 = 2;
    pub const INVALID_ID: i64 = 3;
    pub const NOT_FOUND: i64 = 4;
    pub const PERMISSION_DENIED: i64 = 22;
    pub const AUTH_REQUIRED: i64 = 24;
    pub const INVALID_PARAMETER: i64 = 25;
    pub const INVALID_KEY: i64 = 30;
}

/// An error answer: an `APIError` with Connect's code.
#[derive(Debug, Clone, PartialEq)]
pub struct PositError {
    status: StatusCode,
    code: i64,
    message: String,
}

impl PositError {
    pub fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        PositError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn auth_required() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            code::AUTH_REQUIRED,
            "an API key is required: send Authorization: Key <api key>",
        )
    }

    pub fn invalid_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            code::INVALID_KEY,
            "the API key is not valid",
        )
    }

    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code::PERMISSION_DENIED, message)
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code::INVALID_PARAMETER, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code::NOT_FOUND, message)
    }

    #[cfg(test)]
    pub fn status(&self) -> StatusCode {
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

impl From<ApiError> for PositError {
    fn from(e: ApiError) -> Self {
        PositError::new(e.status(), code::INTERNAL, e.message())
    }
}

/// A JSON request body, refused with an `APIError`.
#[derive(Debug)]
pub struct PositJson(pub Value);

impl<S: Send + Sync> FromRequest<S> for PositJson {
    type Rejection = PositError;

    async fn from_request(req: Request, state: &S) -> Result<Self, PositError> {
        let bytes = body::read(req, state).await.map_err(|e| match e {
            Unreadable::TooLarge => PositError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                code::BAD_REQUEST,
                format!("request body is larger than {MAX_BODY_BYTES} bytes"),
            ),
            Unreadable::Other(m) => PositError::bad_request(m),
        })?;
        serde_json::from_slice(&bytes)
            .map(PositJson)
            .map_err(|e| PositError::bad_request(format!("invalid request body: {e}")))
    }
}

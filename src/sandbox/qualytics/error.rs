//! Qualytics' error answers, FastAPI's `{"detail": …}`: a message, or a list of validation
//! problems (422).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::sandbox::errors::ApiError;

/// A FastAPI-style error answer, `{"detail": …}`.
#[derive(Debug, Clone, PartialEq)]
pub struct QError {
    status: StatusCode,
    detail: Value,
}

impl QError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        QError {
            status,
            detail: Value::String(detail.into()),
        }
    }

    /// 422 with FastAPI's list of one problem.
    pub fn validation(loc: &[&str], msg: &str, kind: &str) -> Self {
        QError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: json!([{"loc": loc, "msg": msg, "type": kind}]),
        }
    }

    pub fn unauthorized(detail: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, detail)
    }

    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "this action needs the Admin role")
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// The message, for logs and start-up errors.
    pub fn text(&self) -> String {
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
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for QError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"detail": self.detail}))).into_response()
    }
}

impl From<ApiError> for QError {
    fn from(e: ApiError) -> Self {
        QError::new(e.status(), e.message())
    }
}

//! The sandbox's error answers: a `GenericErrorsResponse` for every error, except the typed
//! expiry errors of a create, as the real server sends them.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rand::distr::{Alphanumeric, SampleString};

use super::config::MAX_BODY_BYTES;
use super::times::now_ms;
use crate::platform::stackstate::wire::{
    GenericErrorsResponse, INGESTION_API_KEY_INVALID_EXPIRY, SERVICE_TOKEN_INVALID_EXPIRY,
    TypedError,
};

/// An error answer of the sandbox.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// 401: missing, unknown, expired or deleted credentials.
    Unauthorized,
    /// 403: authenticated, but not allowed to do this.
    Forbidden(String),
    /// 400: a request the server cannot make sense of.
    BadRequest(String),
    /// 404: no such route or no such id.
    NotFound(String),
    /// 405: the route exists, the method does not.
    MethodNotAllowed,
    /// 413: the body is larger than the sandbox accepts.
    PayloadTooLarge,
    /// 400 `ServiceTokenInvalidExpiryError`: a service token expiring in the past.
    TokenExpiryInPast,
    /// 400 `IngestionApiKeyInvalidExpiryError`: an ingestion key expiring in the past.
    KeyExpiryInPast,
    /// 500: something failed inside the sandbox (say, writing the state file).
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::BadRequest(_) | ApiError::TokenExpiryInPast | ApiError::KeyExpiryInPast => {
                StatusCode::BAD_REQUEST
            }
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthorized => {
                "authentication required: missing, unknown or expired credentials".to_string()
            }
            ApiError::Forbidden(m)
            | ApiError::BadRequest(m)
            | ApiError::NotFound(m)
            | ApiError::Internal(m) => m.clone(),
            ApiError::MethodNotAllowed => "method not allowed on this path".to_string(),
            ApiError::PayloadTooLarge => {
                format!("request body is larger than {} bytes", MAX_BODY_BYTES)
            }
            ApiError::TokenExpiryInPast => {
                "the expiry date of a service token must be in the future".to_string()
            }
            ApiError::KeyExpiryInPast => {
                "the expiration of an ingestion API key must be in the future".to_string()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = self.message();
        match self {
            ApiError::TokenExpiryInPast => typed(status, SERVICE_TOKEN_INVALID_EXPIRY, message),
            ApiError::KeyExpiryInPast => typed(status, INGESTION_API_KEY_INVALID_EXPIRY, message),
            _ => (status, Json(generic(message))).into_response(),
        }
    }
}

fn typed(status: StatusCode, kind: &str, message: String) -> Response {
    let body = TypedError {
        kind: kind.to_string(),
        message,
    };
    (status, Json(body)).into_response()
}

/// A `GenericErrorsResponse` with one `InternalError` carrying `message`.
pub fn generic(message: impl Into<String>) -> GenericErrorsResponse {
    GenericErrorsResponse::single(message, tracking_key(), now_ms())
}

/// A random key, as the real server puts in every error to find it in its logs.
fn tracking_key() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_error_has_the_spec_shape() {
        let v = serde_json::to_value(generic("boom")).unwrap();
        assert_eq!(v["_type"], "ErrorsResponse");
        assert_eq!(v["errors"][0]["_type"], "InternalError");
        assert_eq!(v["errors"][0]["message"], "boom");
        assert!(v["serverTimestamp"].is_i64());
        assert_eq!(v["trackingKey"].as_str().map(str::len), Some(16));
    }
}

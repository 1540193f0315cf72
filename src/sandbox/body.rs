//! Extractor for a JSON request body, with the sandbox's error answers: 413 over the size limit,
//! 400 for anything that is not the expected JSON.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::errors::ApiError;

/// A request body decoded from JSON into `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = read(req, state).await.map_err(|e| match e {
            Unreadable::TooLarge => ApiError::PayloadTooLarge,
            Unreadable::Other(m) => ApiError::BadRequest(m),
        })?;
        decode(&bytes).map(JsonBody)
    }
}

/// Why a request body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// Larger than the sandbox accepts (413).
    TooLarge,
    /// Anything else, with a message.
    Other(String),
}

/// Reads a whole request body, within the size limit; every platform's body extractor uses it.
pub async fn read<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, Unreadable> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Unreadable::TooLarge
        } else {
            Unreadable::Other(format!("cannot read the request body: {}", e.body_text()))
        }
    })
}

/// Decodes a JSON body, naming what is wrong with it.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(
            "a JSON request body is required".to_string(),
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("invalid request body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::stackstate::wire::NewServiceTokenRequest;

    #[test]
    fn names_what_is_wrong() {
        let missing = decode::<NewServiceTokenRequest>(br#"{"roles":[]}"#).unwrap_err();
        assert!(
            missing.message().contains("missing field `name`"),
            "{missing:?}"
        );
        let wrong = decode::<NewServiceTokenRequest>(br#"{"name":1,"roles":[]}"#).unwrap_err();
        assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
        assert!(decode::<NewServiceTokenRequest>(b"  ").is_err());
        assert!(decode::<NewServiceTokenRequest>(b"{").is_err());
    }
}

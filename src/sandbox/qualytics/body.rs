//! What a Qualytics request brings, checked as FastAPI would (422 with the problem's `loc`): the
//! JSON body, its fields, the `{id}` path parameter, the page parameters.

use std::collections::HashMap;

use axum::extract::{FromRequest, Path, Request};
use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::error::QError;
use crate::sandbox::body::{self, Unreadable};
use crate::sandbox::config::MAX_BODY_BYTES;

const MAX_NAME_LEN: usize = 255;
const MAX_DAYS: i64 = 365;
/// The largest page size of `GET /users`.
const MAX_PAGE_SIZE: i64 = 1000;

/// A JSON object request body; anything else is FastAPI's 422.
#[derive(Debug)]
pub struct QJson(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for QJson {
    type Rejection = QError;

    async fn from_request(req: Request, state: &S) -> Result<Self, QError> {
        let bytes = body::read(req, state).await.map_err(|e| match e {
            Unreadable::TooLarge => QError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body is larger than {MAX_BODY_BYTES} bytes"),
            ),
            Unreadable::Other(m) => QError::new(StatusCode::BAD_REQUEST, m),
        })?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(QJson(map)),
            Ok(_) => Err(QError::validation(
                &["body"],
                "Input should be a valid dictionary",
                "dict_type",
            )),
            Err(_) => Err(QError::validation(
                &["body"],
                "JSON decode error",
                "json_invalid",
            )),
        }
    }
}

/// A `{id}` path parameter; not an integer is FastAPI's 422.
pub fn token_id(Path(id): Path<String>) -> Result<i64, QError> {
    id.parse().map_err(|_| {
        QError::validation(
            &["path", "id"],
            "Input should be a valid integer, unable to parse string as an integer",
            "int_parsing",
        )
    })
}

/// Reads an optional field of a body: absent or null is `None`.
pub fn optional<'a>(body: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    body.get(field).filter(|v| !v.is_null())
}

pub fn string_field(body: &Map<String, Value>, field: &str) -> Result<String, QError> {
    match body.get(field) {
        None | Some(Value::Null) => Err(QError::validation(
            &["body", field],
            "Field required",
            "missing",
        )),
        Some(Value::String(s)) if s.trim().is_empty() => Err(QError::validation(
            &["body", field],
            "String should have at least 1 character",
            "string_too_short",
        )),
        Some(Value::String(s)) if s.chars().count() > MAX_NAME_LEN => Err(QError::validation(
            &["body", field],
            &format!("String should have at most {MAX_NAME_LEN} characters"),
            "string_too_long",
        )),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(QError::validation(
            &["body", field],
            "Input should be a valid string",
            "string_type",
        )),
    }
}

pub fn int_field(body: &Map<String, Value>, field: &str) -> Result<Option<i64>, QError> {
    match optional(body, field) {
        None => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
            QError::validation(
                &["body", field],
                "Input should be a valid integer",
                "int_type",
            )
        }),
    }
}

pub fn bool_field(body: &Map<String, Value>, field: &str) -> Result<Option<bool>, QError> {
    match optional(body, field) {
        None => Ok(None),
        Some(v) => v.as_bool().map(Some).ok_or_else(|| {
            QError::validation(
                &["body", field],
                "Input should be a valid boolean",
                "bool_type",
            )
        }),
    }
}

/// A create's body, checked as FastAPI would (422).
pub fn check_create(
    body: &Map<String, Value>,
) -> Result<(String, Option<i64>, Option<i64>, bool), QError> {
    let name = string_field(body, "name")?;
    let user_id = int_field(body, "user_id")?;
    let days = int_field(body, "expires_in_days")?;
    match days {
        Some(d) if d < 1 => {
            return Err(QError::validation(
                &["body", "expires_in_days"],
                "Input should be greater than or equal to 1",
                "greater_than_equal",
            ));
        }
        Some(d) if d > MAX_DAYS => {
            return Err(QError::validation(
                &["body", "expires_in_days"],
                &format!("Input should be less than or equal to {MAX_DAYS}"),
                "less_than_equal",
            ));
        }
        _ => {}
    }
    let scim_only = bool_field(body, "scim_endpoints_only")?.unwrap_or(false);
    Ok((name, user_id, days, scim_only))
}

/// A query parameter that must be a whole number of at least 1.
pub fn page_param(
    query: &HashMap<String, String>,
    name: &str,
    default: i64,
) -> Result<i64, QError> {
    let Some(text) = query.get(name) else {
        return Ok(default);
    };
    let n: i64 = text.parse().map_err(|_| {
        QError::validation(
            &["query", name],
            "Input should be a valid integer",
            "int_parsing",
        )
    })?;
    if n < 1 {
        return Err(QError::validation(
            &["query", name],
            "Input should be greater than or equal to 1",
            "greater_than_equal",
        ));
    }
    if name == "size" && n > MAX_PAGE_SIZE {
        return Err(QError::validation(
            &["query", name],
            &format!("Input should be less than or equal to {MAX_PAGE_SIZE}"),
            "less_than_equal",
        ));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn create_bodies_are_checked_as_fastapi_does() {
        let body = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(
            check_create(&body(
                json!({"name": "n", "user_id": 2, "expires_in_days": 365})
            ))
            .unwrap(),
            ("n".to_string(), Some(2), Some(365), false)
        );
        for bad in [
            json!({}),
            json!({"name": 1}),
            json!({"name": "n", "expires_in_days": 0}),
            json!({"name": "n", "expires_in_days": 366}),
            json!({"name": "n", "user_id": "svc@service"}),
            json!({"name": "x".repeat(256)}),
        ] {
            let e = check_create(&body(bad.clone())).unwrap_err();
            assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        }
    }
}

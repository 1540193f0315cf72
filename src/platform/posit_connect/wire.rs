//! The wire types of the Posit Connect API (spec/posit-connect-api.yaml), shared by the client and the sandbox.
//!
//! Decoding is lenient: every answer field is optional (Posit declares none required), and fields
//! this version does not know are kept in `extra` (Posit's versioning policy adds fields). Encoding
//! leaves absent fields out, except the nullable ones (`expires_at`, `User.active_time`,
//! `APIError.payload`), where `None` is sent as `null`, as Connect does. Times are RFC 3339 strings.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `ServiceToken`: an element of `GET /v1/system/service-tokens`, or the answer to a create (the
/// only answer with `key`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceToken {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The secret; only in the answer to a create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<String>,
    /// Last use, refreshed at most every 15 minutes; absent (or null) when never used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_time: Option<String>,
    /// Nullable: `None` is `null`, a token that never expires.
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(flatten, default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

/// `ServiceTokenCreateInput`: the body of `POST /v1/system/service-tokens`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceTokenCreateInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// RFC 3339, in the future; left out for a token that never expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// `ServiceTokenScopes`: the answer of `GET /v1/system/service-tokens/scopes`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceTokenScopes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<ServiceTokenScope>>,
    #[serde(flatten, default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

/// `ServiceTokenScope`: one assignable scope.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceTokenScope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(flatten, default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

/// `User`: the answer of `GET /v1/user`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct User {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// `administrator`, `publisher` or `viewer`; only an administrator manages service tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_time: Option<String>,
    /// Nullable: `None` is `null`.
    #[serde(default)]
    pub active_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(flatten, default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

/// `ServerSettings`: the answer of `GET /server_settings` (no `/v1`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServerSettings {
    /// The Connect release, such as `2026.11.0`; may be missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(flatten, default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

/// `APIError`: Connect's error body. `code` is Connect's application error number, not the HTTP
/// status.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ApiError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Nullable: `None` is `null`.
    #[serde(default)]
    pub payload: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_never_used_token_has_no_active_time_and_a_null_expiry() {
        let t = ServiceToken {
            guid: Some("3c9a6f0e-8d21-4b7e-9f35-2a61d0c4e8b7".into()),
            name: Some("n".into()),
            scopes: Some(vec!["identity:manage".into()]),
            created_time: Some("2026-06-02T09:15:00Z".into()),
            ..ServiceToken::default()
        };
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!(
            v,
            json!({"guid": "3c9a6f0e-8d21-4b7e-9f35-2a61d0c4e8b7", "name": "n",
                   "scopes": ["identity:manage"], "created_time": "2026-06-02T09:15:00Z",
                   "expires_at": null})
        );
    }

    #[test]
    fn decodes_sparse_and_extended_objects() {
        let t: ServiceToken =
            serde_json::from_value(json!({"active_time": null, "new_field": 1})).unwrap();
        assert_eq!(t.active_time, None);
        assert_eq!(t.extra["new_field"], json!(1));
        let e: ApiError = serde_json::from_value(json!({"code": 30, "error": "x"})).unwrap();
        assert_eq!((e.code, e.payload), (Some(30), None));
    }
}

//! The wire types of the Qualytics API (spec/qualytics-api.yaml), shared by the client and the sandbox.
//!
//! Decoding is lenient: every answer field is optional and unknown fields are kept in `extra`
//! (response schemas are open). Encoding leaves absent fields out, except the nullable ones
//! (`expiration`, `last_used`, `last_login`, `deleted_at`), where `None` is sent as `null`, as
//! the document requires them. Ids are `i64`; times are RFC 3339 strings. Careful: `user_id` is
//! the service user's numeric id in [`UserTokenCreate`] but the string login in [`TokenOwner`] and
//! [`User`], whose number is `id`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `TokenOwner`: the `user` of a token.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TokenOwner {
    /// The numeric id (what a create sends as `user_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The login, such as `nightly_loader@service`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `Service` or `Human`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<String>,
    #[serde(flatten, default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

/// `UserToken` (a list element, or the answer to a PUT) and `UserTokenCreated` (the answer to a
/// create, the only one with `bearer_token`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UserToken {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// False once revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Nullable: `None` is `null`, a token that never expires.
    #[serde(default)]
    pub expiration: Option<String>,
    /// Nullable: `None` is `null`, never used.
    #[serde(default)]
    pub last_used: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim_endpoints_only: Option<bool>,
    /// The secret (a JWT); only in the answer to a create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<TokenOwner>,
    #[serde(flatten, default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

/// `UserTokenCreate`: the body of `POST /user-tokens`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UserTokenCreate {
    #[serde(default)]
    pub name: String,
    /// The service user's numeric id; left out for a personal token of the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    /// 1 to 365; left out for a token that never expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim_endpoints_only: Option<bool>,
}

/// `UserTokenUpdate`: the body of `PUT /user-tokens/{id}`: revoke (true) or restore (false).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UserTokenUpdate {
    pub revoke: bool,
}

/// `User`: an element of `GET /users`, or the answer to `POST /users`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct User {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams: Option<Vec<String>>,
    /// Nullable: `None` is `null`.
    #[serde(default)]
    pub last_login: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Nullable: `None` is `null`, an active user.
    #[serde(default)]
    pub deleted_at: Option<String>,
    #[serde(flatten, default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

/// `UserPage`: the answer of `GET /users`. Do not page by `total`, `page` or `size`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UserPage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<User>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    #[serde(flatten, default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

/// `ServiceUserCreate`: the body of `POST /users`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceUserCreate {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub role: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<String>,
}

/// `Status`: the answer of `GET /status`; only its HTTP status means anything.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Status {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(flatten, default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

/// `Error`: FastAPI's error body.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Error {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Detail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `Error.detail`: a message, or a validation failure's list of problems.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Detail {
    Message(String),
    Problems(Vec<ValidationProblem>),
    /// Anything else a server sends.
    Other(Value),
}

impl Detail {
    /// The message to show: the string, or the first problem's `msg`.
    pub fn message(&self) -> Option<&str> {
        match self {
            Detail::Message(m) => Some(m),
            Detail::Problems(p) => p.first().and_then(|p| p.msg.as_deref()),
            Detail::Other(_) => None,
        }
    }
}

/// `ValidationProblem`: one problem of a 422 answer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ValidationProblem {
    /// Where, such as `["body", "expires_in_days"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loc: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(flatten, default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nullable_fields_are_sent_as_null() {
        let t = UserToken {
            id: Some(1),
            name: Some("n".into()),
            ..UserToken::default()
        };
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!(
            v,
            json!({"id": 1, "name": "n", "expiration": null, "last_used": null})
        );
    }

    #[test]
    fn detail_is_a_message_or_a_list() {
        let e: Error = serde_json::from_value(json!({"detail": "gone"})).unwrap();
        assert_eq!(e.detail.unwrap().message(), Some("gone"));
        let e: Error = serde_json::from_value(
            json!({"detail": [{"loc": ["body", 1], "msg": "too big", "type": "x"}]}),
        )
        .unwrap();
        assert_eq!(e.detail.unwrap().message(), Some("too big"));
        let e: Error = serde_json::from_value(json!({"detail": {"a": 1}})).unwrap();
        assert_eq!(e.detail.unwrap().message(), None);
    }

    #[test]
    fn user_id_is_a_number_in_requests_and_a_login_in_answers() {
        let req = UserTokenCreate {
            name: "n".into(),
            user_id: Some(45),
            ..UserTokenCreate::default()
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"name": "n", "user_id": 45})
        );
        let t: UserToken = serde_json::from_value(
            json!({"id": 2, "user": {"id": 45, "user_id": "loader@service"}}),
        )
        .unwrap();
        let user = t.user.unwrap();
        assert_eq!(
            (user.id, user.user_id.as_deref()),
            (Some(45), Some("loader@service"))
        );
    }
}

//! What the Qualytics sandbox keeps: service users, user tokens (service and personal) with a
//! hash of each JWT, and the JWT signing key; times on the sandbox's clock.

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::error::QError;
use crate::platform::qualytics::wire;
use crate::sandbox::times::rfc3339;

/// The Admin's numeric id; service users are numbered after it.
pub const ADMIN_USER_ID: i64 = 1;
/// The Admin's login.
pub const ADMIN_LOGIN: &str = "admin@sandbox";
/// The roles a user may have, as Qualytics names them.
pub const ROLES: [&str; 4] = ["Admin", "Manager", "Member", "Editor"];
pub const ADMIN_ROLE: &str = "Admin";
/// The team every service user is in.
pub const PUBLIC_TEAM: &str = "Public";
pub const DAY_MS: i64 = 24 * 3600 * 1000;

/// Qualytics' part of the state file: its `qualytics` key.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct QualyticsData {
    /// Users, tokens and the JWT signing key.
    #[serde(default, skip_serializing_if = "QualyticsState::is_empty")]
    pub(super) qualytics: QualyticsState,
}

/// Qualytics' users and tokens (times on the sandbox's clock) and the JWT signing key.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct QualyticsState {
    /// Base64 of the HS256 key; empty until the sandbox first serves Qualytics.
    #[serde(default)]
    pub jwt_key: String,
    #[serde(default)]
    pub users: Vec<StoredUser>,
    #[serde(default)]
    pub tokens: Vec<StoredToken>,
    #[serde(default)]
    pub last_user_id: i64,
    #[serde(default)]
    pub last_token_id: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredUser {
    pub id: i64,
    /// The login: the derived name plus `@service`.
    pub user_id: String,
    pub name: String,
    pub role: String,
    pub teams: Vec<String>,
    pub created: i64,
}

impl StoredUser {
    pub fn user_name(&self) -> &str {
        self.user_id
            .strip_suffix("@service")
            .unwrap_or(&self.user_id)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredToken {
    pub id: i64,
    /// The numeric id of the token's user.
    pub user: i64,
    pub name: String,
    pub created: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<i64>,
    pub active: bool,
    #[serde(default)]
    pub scim_endpoints_only: bool,
    /// Hex SHA-256 of the JWT.
    pub token_hash: String,
}

impl StoredToken {
    pub fn is_expired(&self, now: i64) -> bool {
        self.expiration.is_some_and(|e| e <= now)
    }
}

/// The login a service user's name gives: lower-cased, spaces to `_`, other special characters
/// dropped (`Nightly Loader` → `nightly_loader`), without `@service`.
pub fn derive_user_name(name: &str) -> String {
    name.trim()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('_'),
            c if c.is_ascii_alphanumeric() || c == '_' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// A role as Qualytics spells it, whatever the case it was given in.
pub fn canonical_role(role: &str) -> Option<&'static str> {
    ROLES.iter().copied().find(|r| r.eq_ignore_ascii_case(role))
}

impl QualyticsState {
    pub fn is_empty(&self) -> bool {
        self.jwt_key.is_empty() && self.users.is_empty() && self.tokens.is_empty()
    }

    /// Makes the signing key when there is none; true when it did.
    pub fn ensure_key(&mut self) -> bool {
        if !self.jwt_key.is_empty() {
            return false;
        }
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(&rand::random::<u128>().to_be_bytes());
        key[16..].copy_from_slice(&rand::random::<u128>().to_be_bytes());
        self.jwt_key = STANDARD.encode(key);
        true
    }

    pub fn key(&self) -> Vec<u8> {
        STANDARD.decode(&self.jwt_key).unwrap_or_default()
    }

    pub fn user(&self, id: i64) -> Option<&StoredUser> {
        self.users.iter().find(|u| u.id == id)
    }

    /// Creates a service user; `Err` names why not (a duplicate login is `Conflict`).
    pub fn create_user(
        &mut self,
        name: &str,
        role: &str,
        teams: &[String],
        now: i64,
    ) -> Result<&StoredUser, QError> {
        let role = canonical_role(role).ok_or_else(|| {
            QError::validation(
                &["body", "role"],
                &format!("Input should be one of {}", ROLES.join(", ")),
                "enum",
            )
        })?;
        let user_name = derive_user_name(name);
        if user_name.is_empty() {
            return Err(QError::validation(
                &["body", "name"],
                "the name must contain a letter or a digit",
                "value_error",
            ));
        }
        let login = format!("{user_name}@service");
        if self.users.iter().any(|u| u.user_id == login) {
            return Err(QError::new(
                StatusCode::CONFLICT,
                format!("user {login} already exists"),
            ));
        }
        let mut all_teams = vec![PUBLIC_TEAM.to_string()];
        for team in teams {
            let team = team.trim();
            if !team.is_empty() && !all_teams.iter().any(|t| t == team) {
                all_teams.push(team.to_string());
            }
        }
        let last = self.users.iter().map(|u| u.id).max().unwrap_or(0);
        let id = self.last_user_id.max(last).max(ADMIN_USER_ID) + 1;
        self.last_user_id = id;
        self.users.push(StoredUser {
            id,
            user_id: login,
            name: name.trim().to_string(),
            role: role.to_string(),
            teams: all_teams,
            created: now,
        });
        Ok(&self.users[self.users.len() - 1])
    }

    /// The `user` of a token, or of a caller.
    pub fn owner(&self, id: i64) -> wire::TokenOwner {
        match self.user(id) {
            Some(u) => wire::TokenOwner {
                id: Some(u.id),
                user_id: Some(u.user_id.clone()),
                user_name: Some(u.user_name().to_string()),
                email: Some(u.user_id.clone()),
                name: Some(u.name.clone()),
                role: Some(u.role.clone()),
                user_type: Some("Service".to_string()),
                ..wire::TokenOwner::default()
            },
            None => wire::TokenOwner {
                id: Some(ADMIN_USER_ID),
                user_id: Some(ADMIN_LOGIN.to_string()),
                user_name: Some("admin".to_string()),
                email: Some(ADMIN_LOGIN.to_string()),
                name: Some("Sandbox Admin".to_string()),
                role: Some(ADMIN_ROLE.to_string()),
                user_type: Some("Human".to_string()),
                ..wire::TokenOwner::default()
            },
        }
    }

    pub fn token_to_wire(&self, t: &StoredToken, offset: i64) -> wire::UserToken {
        wire::UserToken {
            id: Some(t.id),
            created: Some(rfc3339(t.created - offset)),
            name: Some(t.name.clone()),
            active: Some(t.active),
            expiration: t.expiration.map(|e| rfc3339(e - offset)),
            last_used: t.last_used.map(|e| rfc3339(e - offset)),
            scim_endpoints_only: Some(t.scim_endpoints_only),
            user: Some(self.owner(t.user)),
            ..wire::UserToken::default()
        }
    }

    pub fn user_to_wire(u: &StoredUser, offset: i64) -> wire::User {
        wire::User {
            id: Some(u.id),
            user_id: Some(u.user_id.clone()),
            user_name: Some(u.user_name().to_string()),
            email: Some(u.user_id.clone()),
            name: Some(u.name.clone()),
            role: Some(u.role.clone()),
            user_type: Some("Service".to_string()),
            teams: Some(u.teams.clone()),
            last_login: None,
            created_at: Some(rfc3339(u.created - offset)),
            deleted_at: None,
            ..wire::User::default()
        }
    }

    /// The Admin as a listed user.
    pub fn admin_to_wire(started: i64) -> wire::User {
        wire::User {
            id: Some(ADMIN_USER_ID),
            user_id: Some(ADMIN_LOGIN.to_string()),
            user_name: Some("admin".to_string()),
            email: Some(ADMIN_LOGIN.to_string()),
            name: Some("Sandbox Admin".to_string()),
            role: Some(ADMIN_ROLE.to_string()),
            user_type: Some("Human".to_string()),
            teams: Some(vec![PUBLIC_TEAM.to_string()]),
            last_login: None,
            created_at: Some(rfc3339(started)),
            deleted_at: None,
            ..wire::User::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_logins_from_names() {
        assert_eq!(derive_user_name("Nightly Loader"), "nightly_loader");
        assert_eq!(
            derive_user_name(" Catalog-Sync (prod)! "),
            "catalogsync_prod"
        );
        assert_eq!(derive_user_name("a_b"), "a_b");
        assert_eq!(derive_user_name("!!"), "");
    }

    #[test]
    fn service_users_get_ids_after_the_admin_and_the_public_team() {
        let mut state = QualyticsState::default();
        let u = state
            .create_user(
                "Nightly Loader",
                "member",
                &["Ingestion".into(), "Public".into()],
                0,
            )
            .unwrap()
            .clone();
        assert_eq!(
            (u.id, u.user_id.as_str(), u.role.as_str()),
            (2, "nightly_loader@service", "Member")
        );
        assert_eq!(u.teams, ["Public", "Ingestion"]);
        let dup = state
            .create_user("nightly loader", "Admin", &[], 0)
            .unwrap_err();
        assert_eq!(dup.status(), StatusCode::CONFLICT);
        assert!(state.create_user("x", "Owner", &[], 0).is_err());
    }
}

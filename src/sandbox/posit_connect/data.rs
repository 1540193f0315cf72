//! What the Posit Connect sandbox keeps: service tokens, with a hash of each key; times on the
//! sandbox's clock.

use serde::{Deserialize, Serialize};

use crate::platform::posit_connect::wire;
use crate::sandbox::secrets::{hash_matches, hash_secret};
use crate::sandbox::times::rfc3339;

/// Posit Connect's part of the state file: its `positConnect` key.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PositData {
    #[serde(default, skip_serializing_if = "PositState::is_empty")]
    pub(super) posit_connect: PositState,
}

/// Posit Connect's service tokens, with a hash of each key. Times are on the sandbox's clock.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PositState {
    #[serde(default)]
    pub service_tokens: Vec<StoredToken>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredToken {
    pub guid: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_time: Option<i64>,
    /// Hex SHA-256 of the key.
    pub key_hash: String,
}

impl StoredToken {
    pub fn is_live(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|e| e > now)
    }

    /// The token as answered (never with `key`); `offset` is the clock's.
    pub fn to_wire(&self, offset: i64) -> wire::ServiceToken {
        wire::ServiceToken {
            guid: Some(self.guid.clone()),
            name: Some(self.name.clone()),
            scopes: Some(self.scopes.clone()),
            created_time: Some(rfc3339(self.created - offset)),
            active_time: self.active_time.map(|t| rfc3339(t - offset)),
            expires_at: self.expires_at.map(|t| rfc3339(t - offset)),
            ..wire::ServiceToken::default()
        }
    }
}

impl PositState {
    pub fn is_empty(&self) -> bool {
        self.service_tokens.is_empty()
    }

    /// Removes the tokens that expired by `now` (the sandbox's clock), as Connect does; true
    /// when there were any.
    pub fn remove_expired(&mut self, now: i64) -> bool {
        let before = self.service_tokens.len();
        self.service_tokens.retain(|t| t.is_live(now));
        self.service_tokens.len() != before
    }

    pub fn live_token_mut(&mut self, key: &str, now: i64) -> Option<&mut StoredToken> {
        let hash = hash_secret(key);
        self.service_tokens
            .iter_mut()
            .find(|t| hash_matches(&t.key_hash, &hash) && t.is_live(now))
    }
}

/// A random UUID v4.
pub fn random_uuid() -> String {
    uuid_from(&rand::random::<u128>().to_be_bytes())
}

/// A UUID v4 made of the first 16 bytes of `bytes`.
pub fn uuid_from(bytes: &[u8]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&bytes[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

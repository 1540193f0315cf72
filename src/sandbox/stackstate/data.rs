//! StackState's data in the sandbox: service tokens and ingestion API keys, with only a hash of
//! each secret.

use std::collections::HashSet;

use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::platform::stackstate::wire::{
    GenerateIngestionApiKeyRequest, GeneratedIngestionApiKeyResponse, IngestionApiKey,
    NewServiceTokenRequest, ServiceToken, ServiceTokenCreatedResponse,
};
use crate::sandbox::secrets::{self, hash_matches, hash_secret};
use crate::sandbox::state::Store;

pub const SERVICE_TOKEN_PREFIX: &str = "svctok-";
pub const INGESTION_KEY_PREFIX: &str = "iapikey-";
/// The role that may manage tokens and keys.
pub const ADMIN_ROLE: &str = "stackstate-admin";

/// Random characters after the prefix of a secret.
const SECRET_LEN: usize = 40;
/// Ids have exactly 15 digits, like the real server's (`107484341630693`).
const ID_RANGE: std::ops::RangeInclusive<i64> = 100_000_000_000_000..=999_999_999_999_999;
/// Seeded rows expire this long after seeding (every third one).
const SEED_EXPIRY_MS: i64 = 30 * 24 * 3600 * 1000;

/// Why a create was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateError {
    /// The name is empty or blank.
    BlankName,
    /// The expiry is not in the future.
    ExpiryInPast,
}

/// A service token as stored: everything but the secret, which is kept as a hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredServiceToken {
    pub id: i64,
    pub last_update_timestamp: i64,
    pub name: String,
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedicated_subject: Option<String>,
    /// Hex SHA-256 of the token.
    pub token_hash: String,
}

impl StoredServiceToken {
    /// `now` on the sandbox's clock.
    fn is_live(&self, now: i64) -> bool {
        self.expiration.is_none_or(|e| e > now)
    }

    fn to_model(&self, offset: i64) -> ServiceToken {
        ServiceToken {
            id: Some(self.id),
            last_update_timestamp: Some(self.last_update_timestamp - offset),
            name: self.name.as_str().into(),
            expiration: self.expiration.map(|e| e - offset),
            roles: self.roles.iter().map(|r| r.as_str().into()).collect(),
            dedicated_subject: self.dedicated_subject.clone(),
            ..ServiceToken::default()
        }
    }
}

/// An ingestion API key as stored: everything but the key, which is kept as a hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredIngestionApiKey {
    pub id: i64,
    pub last_update_timestamp: i64,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<i64>,
    /// Hex SHA-256 of the key.
    pub api_key_hash: String,
}

impl StoredIngestionApiKey {
    /// `now` on the sandbox's clock.
    fn is_live(&self, now: i64) -> bool {
        self.expiration.is_none_or(|e| e > now)
    }

    fn to_model(&self, offset: i64) -> IngestionApiKey {
        IngestionApiKey {
            id: Some(self.id),
            last_update_timestamp: Some(self.last_update_timestamp - offset),
            name: self.name.as_str().into(),
            description: self.description.clone(),
            expiration: self.expiration.map(|e| e - offset),
            ..IngestionApiKey::default()
        }
    }
}

/// StackState's tokens and keys, in creation order (times on the sandbox's clock); the
/// `serviceTokens` and `ingestionApiKeys` keys of the state file.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StackStateData {
    #[serde(default)]
    service_tokens: Vec<StoredServiceToken>,
    #[serde(default)]
    ingestion_api_keys: Vec<StoredIngestionApiKey>,
    /// Every id in use, of either kind.
    #[serde(skip)]
    ids: HashSet<i64>,
}

impl StackStateData {
    /// Notes the ids of what was loaded, so no new one takes them.
    pub fn index_ids(&mut self) {
        let token_ids = self.service_tokens.iter().map(|t| t.id);
        let key_ids = self.ingestion_api_keys.iter().map(|k| k.id);
        self.ids = token_ids.chain(key_ids).collect();
    }

    /// A random 15-digit id that no token or key has.
    fn new_id(&mut self) -> i64 {
        let mut rng = rand::rng();
        loop {
            let id = rng.random_range(ID_RANGE);
            if self.ids.insert(id) {
                return id;
            }
        }
    }
}

/// StackState's operations on the store.
impl Store<StackStateData> {
    pub fn service_tokens(&self) -> Vec<ServiceToken> {
        let offset = self.clock_offset_ms();
        self.data
            .service_tokens
            .iter()
            .map(|t| t.to_model(offset))
            .collect()
    }

    pub fn ingestion_api_keys(&self) -> Vec<IngestionApiKey> {
        let offset = self.clock_offset_ms();
        self.data
            .ingestion_api_keys
            .iter()
            .map(|k| k.to_model(offset))
            .collect()
    }

    /// Creates a service token; the answer holds its secret, which is not kept.
    pub fn create_service_token(
        &mut self,
        req: NewServiceTokenRequest,
        now: i64,
    ) -> Result<ServiceTokenCreatedResponse, CreateError> {
        check_name(&req.name)?;
        check_expiry(req.expiry_date, now)?;
        let secret = new_secret(SERVICE_TOKEN_PREFIX);
        let offset = self.clock_offset_ms();
        let token = StoredServiceToken {
            id: self.data.new_id(),
            last_update_timestamp: now + offset,
            name: req.name,
            roles: req.roles,
            expiration: req.expiry_date.map(|e| e + offset),
            dedicated_subject: req.dedicated_subject,
            token_hash: hash_secret(&secret),
        };
        let answer = ServiceTokenCreatedResponse {
            name: token.name.clone(),
            token: secret,
            expiration: req.expiry_date,
            ..ServiceTokenCreatedResponse::default()
        };
        self.data.service_tokens.push(token);
        self.bump();
        Ok(answer)
    }

    /// Generates an ingestion API key; the answer holds the key, which is not kept.
    pub fn generate_ingestion_api_key(
        &mut self,
        req: GenerateIngestionApiKeyRequest,
        now: i64,
    ) -> Result<GeneratedIngestionApiKeyResponse, CreateError> {
        check_name(&req.name)?;
        check_expiry(req.expiration, now)?;
        let secret = new_secret(INGESTION_KEY_PREFIX);
        let offset = self.clock_offset_ms();
        let key = StoredIngestionApiKey {
            id: self.data.new_id(),
            last_update_timestamp: now + offset,
            name: req.name,
            description: req.description,
            expiration: req.expiration.map(|e| e + offset),
            api_key_hash: hash_secret(&secret),
        };
        let answer = GeneratedIngestionApiKeyResponse {
            id: Some(key.id),
            last_update_timestamp: Some(now),
            name: key.name.clone(),
            description: key.description.clone(),
            expiration: req.expiration,
            api_key: secret,
            ..GeneratedIngestionApiKeyResponse::default()
        };
        self.data.ingestion_api_keys.push(key);
        self.bump();
        Ok(answer)
    }

    /// Deletes a service token; false when there is none with this id.
    pub fn delete_service_token(&mut self, id: i64) -> bool {
        let Some(index) = self.data.service_tokens.iter().position(|t| t.id == id) else {
            return false;
        };
        self.data.service_tokens.remove(index);
        self.data.ids.remove(&id);
        self.bump();
        true
    }

    /// Deletes an ingestion API key; false when there is none with this id.
    pub fn delete_ingestion_api_key(&mut self, id: i64) -> bool {
        let Some(index) = self.data.ingestion_api_keys.iter().position(|k| k.id == id) else {
            return false;
        };
        self.data.ingestion_api_keys.remove(index);
        self.data.ids.remove(&id);
        self.bump();
        true
    }

    /// The roles of the live service token with this secret, if there is one (`now` real).
    pub fn service_token_roles(&self, secret: &str, now: i64) -> Option<Vec<String>> {
        let now = self.clock(now);
        let hash = hash_secret(secret);
        self.data
            .service_tokens
            .iter()
            .find(|t| hash_matches(&t.token_hash, &hash) && t.is_live(now))
            .map(|t| t.roles.clone())
    }

    /// Whether this is the key of a live ingestion API key (`now` real).
    pub fn ingestion_api_key_is_live(&self, secret: &str, now: i64) -> bool {
        let now = self.clock(now);
        let hash = hash_secret(secret);
        self.data
            .ingestion_api_keys
            .iter()
            .any(|k| hash_matches(&k.api_key_hash, &hash) && k.is_live(now))
    }

    /// Adds `tokens` service tokens and `keys` ingestion keys named `seed-00001`…, with role
    /// `stackstate-admin`; every third one expires in 30 days. Their secrets are thrown away.
    pub fn seed(&mut self, tokens: usize, keys: usize, now: i64) {
        let now = self.clock(now);
        let expiry = |i: usize| i.is_multiple_of(3).then_some(now + SEED_EXPIRY_MS);
        self.data.service_tokens.reserve(tokens);
        for i in 1..=tokens {
            let token = StoredServiceToken {
                id: self.data.new_id(),
                last_update_timestamp: now,
                name: format!("seed-{i:05}"),
                roles: vec![ADMIN_ROLE.to_string()],
                expiration: expiry(i),
                dedicated_subject: None,
                token_hash: hash_secret(&new_secret(SERVICE_TOKEN_PREFIX)),
            };
            self.data.service_tokens.push(token);
        }
        self.data.ingestion_api_keys.reserve(keys);
        for i in 1..=keys {
            let key = StoredIngestionApiKey {
                id: self.data.new_id(),
                last_update_timestamp: now,
                name: format!("seed-{i:05}"),
                description: Some(format!("seeded key {i}")),
                expiration: expiry(i),
                api_key_hash: hash_secret(&new_secret(INGESTION_KEY_PREFIX)),
            };
            self.data.ingestion_api_keys.push(key);
        }
        self.bump();
    }
}

fn check_name(name: &str) -> Result<(), CreateError> {
    if name.trim().is_empty() {
        Err(CreateError::BlankName)
    } else {
        Ok(())
    }
}

fn check_expiry(expiry: Option<i64>, now: i64) -> Result<(), CreateError> {
    match expiry {
        Some(e) if e <= now => Err(CreateError::ExpiryInPast),
        _ => Ok(()),
    }
}

/// `prefix` followed by random letters and digits.
fn new_secret(prefix: &str) -> String {
    secrets::new_secret(prefix, SECRET_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Store = super::Store<StackStateData>;

    const NOW: i64 = 1_700_000_000_000;

    fn token_request(name: &str, expiry: Option<i64>) -> NewServiceTokenRequest {
        NewServiceTokenRequest {
            name: name.to_string(),
            expiry_date: expiry,
            roles: vec![ADMIN_ROLE.to_string()],
            dedicated_subject: None,
        }
    }

    #[test]
    fn a_created_token_authenticates_by_hash_until_deleted() {
        let mut store = Store::default();
        let created = store
            .create_service_token(token_request("ci", None), NOW)
            .unwrap();
        assert!(created.token.starts_with(SERVICE_TOKEN_PREFIX));
        assert_eq!(
            store.service_token_roles(&created.token, NOW),
            Some(vec![ADMIN_ROLE.to_string()])
        );
        assert!(!store.to_json().contains(&created.token));
        let id = store.service_tokens()[0].id.unwrap();
        assert_eq!(id.to_string().len(), 15);
        assert!(store.delete_service_token(id));
        assert!(!store.delete_service_token(id));
        assert_eq!(store.service_token_roles(&created.token, NOW), None);
    }

    #[test]
    fn expired_tokens_and_keys_are_not_live() {
        let mut store = Store::default();
        let token = store
            .create_service_token(token_request("t", Some(NOW + 10)), NOW)
            .unwrap();
        assert!(store.service_token_roles(&token.token, NOW + 9).is_some());
        assert!(store.service_token_roles(&token.token, NOW + 10).is_none());
        let key = store
            .generate_ingestion_api_key(
                GenerateIngestionApiKeyRequest {
                    name: "k".into(),
                    description: None,
                    expiration: Some(NOW + 10),
                },
                NOW,
            )
            .unwrap();
        assert!(key.api_key.starts_with(INGESTION_KEY_PREFIX));
        assert!(store.ingestion_api_key_is_live(&key.api_key, NOW));
        assert!(!store.ingestion_api_key_is_live(&key.api_key, NOW + 10));
    }

    #[test]
    fn the_clock_ages_what_is_kept() {
        let mut store = Store::default();
        let token = store
            .create_service_token(token_request("t", Some(NOW + 3_600_000)), NOW)
            .unwrap();
        assert_eq!(token.expiration, Some(NOW + 3_600_000));
        store.advance_clock(7_200_000);
        let listed = &store.service_tokens()[0];
        assert_eq!(listed.expiration, Some(NOW - 3_600_000));
        assert_eq!(listed.last_update_timestamp, Some(NOW - 7_200_000));
        assert!(store.service_token_roles(&token.token, NOW).is_none());
        let loaded = Store::from_json(&store.to_json()).unwrap();
        assert_eq!(loaded.clock_offset_ms(), 7_200_000);
        assert!(!Store::default().to_json().contains("clock"));
    }

    #[test]
    fn refuses_past_expiry_and_blank_names() {
        let mut store = Store::default();
        assert_eq!(
            store.create_service_token(token_request("t", Some(NOW)), NOW),
            Err(CreateError::ExpiryInPast)
        );
        assert_eq!(
            store.create_service_token(token_request("  ", None), NOW),
            Err(CreateError::BlankName)
        );
        assert_eq!(store.generation(), 0);
    }

    #[test]
    fn round_trips_through_json_with_unique_ids() {
        let mut store = Store::default();
        store.seed(200, 100, NOW);
        let mut loaded = Store::from_json(&store.to_json()).unwrap();
        loaded.data.index_ids();
        assert_eq!(loaded.service_tokens(), store.service_tokens());
        assert_eq!(loaded.ingestion_api_keys(), store.ingestion_api_keys());
        assert_eq!(loaded.data.ids.len(), 300);
        assert_eq!(loaded.service_tokens()[0].name, "seed-00001");
        assert!(Store::from_json("{not json").is_err());
    }
}

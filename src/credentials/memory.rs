//! Secrets in memory, for unit tests of code that takes a [`SecretStore`]: not in the release
//! binary.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::credentials::SecretStore;
use crate::error::Result;
use crate::secret::Secret;

/// Secrets in memory, for tests of code that takes a [`SecretStore`].
#[derive(Debug, Default)]
pub struct MemoryStore {
    secrets: Mutex<HashMap<String, Secret>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// How many secrets are stored.
    pub fn len(&self) -> usize {
        self.secrets.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl SecretStore for MemoryStore {
    fn get(&self, credential_id: &str) -> Result<Option<Secret>> {
        let secrets = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
        Ok(secrets.get(credential_id).cloned())
    }

    fn set(&self, credential_id: &str, secret: &Secret) -> Result<()> {
        let mut secrets = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
        secrets.insert(credential_id.to_string(), secret.clone());
        Ok(())
    }

    fn delete(&self, credential_id: &str) -> Result<()> {
        let mut secrets = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
        secrets.remove(credential_id);
        Ok(())
    }
}

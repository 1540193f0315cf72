//! Storing the secrets of many contexts at once (an import): one transaction where the store
//! allows it. Each returns, on failure, the index from which the items are surely untouched, so
//! the caller can take back exactly what may have been stored.

use std::path::Path;

use super::{FileStore, KeyringFailure, KeyringStore, SecretStore, Storage};
use crate::error::Error;
use crate::secret::Secret;

/// Stores `items` in `storage` (`store`, or the file beside the config at `config_path`).
pub fn store_all(
    storage: Storage,
    store: &dyn SecretStore,
    config_path: &Path,
    items: &[NewSecret<'_>],
) -> Result<(), (Error, usize)> {
    match storage {
        Storage::File => FileStore::beside(config_path).set_all(items),
        Storage::Keyring => set_each(store, items),
    }
}

impl FileStore {
    /// All of them in one atomic rewrite of `credentials.toml` (a failed write changed nothing).
    fn set_all(&self, items: &[NewSecret<'_>]) -> Result<(), (Error, usize)> {
        self.change(|secrets| {
            for n in items {
                secrets.insert(n.id.to_string(), n.secret.expose().to_string());
            }
            true
        })
        .map_err(|e| (e, 0))
    }
}

/// One by one in the keyring, which has no transaction: a keyring that is not there holds none
/// of them; else the one that failed may be stored.
fn set_each(store: &dyn SecretStore, items: &[NewSecret<'_>]) -> Result<(), (Error, usize)> {
    for (i, n) in items.iter().enumerate() {
        if let Err((e, unreachable)) = set_secret(Storage::Keyring, store, n.id, n.secret, n.label)
        {
            return Err((e, if unreachable { i } else { i + 1 }));
        }
    }
    Ok(())
}

/// A secret to store under a new credential id, its keyring item labelled `label` ([`label`]).
#[derive(Debug, Clone, Copy)]
pub struct NewSecret<'a> {
    pub id: &'a str,
    pub secret: &'a Secret,
    pub label: &'a str,
}

/// Stores the secret; on failure the error and whether the store surely holds nothing (a
/// keyring that is not there at all: no bus, no Secret Service, a locked collection).
fn set_secret(
    storage: Storage,
    store: &dyn SecretStore,
    id: &str,
    secret: &Secret,
    label: &str,
) -> std::result::Result<(), (Error, bool)> {
    match storage {
        Storage::Keyring => KeyringStore::from_env()
            .map_err(|e| (e, true))?
            .try_set_labelled(id, secret, label)
            .map_err(|e| {
                let unreachable = e.failure == KeyringFailure::Unavailable;
                (e.into_write_error(), unreachable)
            }),
        Storage::File => store
            .set_labelled(id, secret, label)
            .map_err(|e| (e, false)),
    }
}

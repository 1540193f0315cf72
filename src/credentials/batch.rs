//! Storing the secrets of many contexts at once (an import): one transaction where the store
//! allows it. Each returns, on failure, a [`StoreFailure`]: the index from which the items are
//! surely untouched, and the one item a timed-out keyring call may still store later, so the
//! caller can take back exactly what may have been stored.

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
) -> Result<(), StoreFailure> {
    match storage {
        Storage::File => FileStore::beside(config_path).set_all(items),
        Storage::Keyring => set_each(store, items),
    }
}

impl FileStore {
    /// All of them in one atomic rewrite of `credentials.toml` (a failed write changed nothing).
    fn set_all(&self, items: &[NewSecret<'_>]) -> Result<(), StoreFailure> {
        self.change(|secrets| {
            for n in items {
                secrets.insert(n.id.to_string(), n.secret.expose().to_string());
            }
            true
        })
        .map_err(|error| StoreFailure {
            error,
            untouched_from: 0,
            in_flight: None,
        })
    }
}

/// Why [`store_all`] failed, and what the store may hold because of it.
#[derive(Debug)]
pub struct StoreFailure {
    pub error: Error,
    /// The items from this index on were never sent to the store.
    pub untouched_from: usize,
    /// The item whose keyring call timed out: the call cannot be cancelled, so the keyring may
    /// still store it after the caller gave up (even after a delete of it), until the process
    /// ends or later still.
    pub in_flight: Option<usize>,
}

/// One by one in the keyring, which has no transaction: a keyring that is not there holds none
/// of them; else the one that failed may be stored, and if its call timed out it may be stored
/// later still.
fn set_each(store: &dyn SecretStore, items: &[NewSecret<'_>]) -> Result<(), StoreFailure> {
    for (i, n) in items.iter().enumerate() {
        if let Err((error, failure)) = set_secret(Storage::Keyring, store, n.id, n.secret, n.label)
        {
            return Err(StoreFailure {
                error,
                untouched_from: if failure == SetFailure::Unreachable {
                    i
                } else {
                    i + 1
                },
                in_flight: (failure == SetFailure::TimedOut).then_some(i),
            });
        }
    }
    Ok(())
}

/// How a store call failed, as far as what the store may hold afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetFailure {
    /// No store was reached: it holds nothing.
    Unreachable,
    /// The store answered with an error: it may hold the item.
    Failed,
    /// No answer in time: the store may hold the item, now or later.
    TimedOut,
}

/// A secret to store under a new credential id, its keyring item labelled `label` ([`label`]).
#[derive(Debug, Clone, Copy)]
pub struct NewSecret<'a> {
    pub id: &'a str,
    pub secret: &'a Secret,
    pub label: &'a str,
}

/// Stores the secret; on failure the error and what the store may hold ([`SetFailure`]; a
/// keyring that is not there at all, no bus, no Secret Service, a locked collection, holds
/// nothing).
fn set_secret(
    storage: Storage,
    store: &dyn SecretStore,
    id: &str,
    secret: &Secret,
    label: &str,
) -> std::result::Result<(), (Error, SetFailure)> {
    match storage {
        Storage::Keyring => KeyringStore::from_env()
            .map_err(|e| (e, SetFailure::Unreachable))?
            .try_set_labelled(id, secret, label)
            .map_err(|e| {
                let failure = match e.failure {
                    KeyringFailure::Unavailable => SetFailure::Unreachable,
                    KeyringFailure::Timeout => SetFailure::TimedOut,
                    KeyringFailure::Other => SetFailure::Failed,
                };
                (e.into_write_error(), failure)
            }),
        Storage::File => store
            .set_labelled(id, secret, label)
            .map_err(|e| (e, SetFailure::Failed)),
    }
}

//! Contexts and their secrets, with no orphan (CONTRACT §5): every new credential id is noted
//! in the config before a store is touched, so a kill at any moment leaves no secret without its
//! context and no context without its secret.

use std::path::Path;

use crate::config::{self, Config, Context, Storage};
use crate::credentials::SecretStore;
use crate::credentials::batch::{self, NewSecret, StoreFailure};
use crate::credentials::{label, open};
use crate::error::{Error, Kind, Result};
use crate::secret::Secret;

/// What [`save_context`] did besides saving.
#[derive(Debug, Default)]
pub struct ContextStored {
    /// The context of that name that was replaced.
    pub replaced: Option<Context>,
    /// Something to say on stderr (an old secret that could not be removed yet).
    pub warning: Option<String>,
    /// The context that was current before the save (which makes `name` current).
    pub previous_current: Option<String>,
}

/// Saves the context `name` (made current) and stores its secret so that a crash at any moment
/// leaves no orphan and no half-written file ([`store_secret_and_change`]); the secret of a
/// context it replaced is removed afterwards.
pub fn save_context(
    config_path: &Path,
    name: &str,
    context: &Context,
    secret: &Secret,
) -> Result<ContextStored> {
    let new = (context.storage, context.credential_id.clone());
    let ((replaced, previous_current), warning) = store_secret_and_change(
        config_path,
        context.storage,
        &context.credential_id,
        secret,
        &label(name, &context.url),
        |config| {
            let replaced = config.contexts.insert(name.to_string(), context.clone());
            let previous_current = config.current_context.replace(name.to_string());
            let unused = replaced
                .iter()
                .map(|old| (old.storage, old.credential_id.clone()))
                .filter(|old| *old != new)
                .collect();
            Ok(((replaced, previous_current), unused))
        },
    )?;
    Ok(ContextStored {
        replaced,
        warning: warning.map(|w| format!("the old credential of '{name}' {w}")),
        previous_current,
    })
}

/// The crash-safe way to store a secret for a config change (CONTRACT §5), for every command
/// that writes a secret with its context (`context save`, a rotation's `--save-to-context`):
/// [`store_secrets_and_change`] with one secret.
pub fn store_secret_and_change<T>(
    config_path: &Path,
    storage: Storage,
    id: &str,
    secret: &Secret,
    label: &str,
    change: impl FnOnce(&mut Config) -> Result<(T, Vec<(Storage, String)>)>,
) -> Result<(T, Option<String>)> {
    let new = [NewSecret { id, secret, label }];
    store_secrets_and_change(config_path, storage, &new, change)
}

/// The crash-safe way to store secrets for a config change (CONTRACT §5), for every command that
/// writes secrets with their contexts (`context save`, a rotation's `--save-to-context`, and the
/// way for `context import`). Under the config lock, held throughout:
///
/// 1. the orphans of earlier crashes are removed ([`reconcile`]);
/// 2. every new id is noted as pending in the config (written);
/// 3. the secrets are stored in `storage`;
/// 4. `change` edits the config and returns a value and the credentials it does not use (the
///    old ones of replaced contexts; new ones it decided not to use after all); the notes of the
///    new ids are cleared and those are noted instead, in one atomic write;
/// 5. the secrets not used are removed and their notes cleared.
///
/// A crash between any two steps leaves at most notes, which the next `context save` or
/// `context delete` reconciles. When step 3 or 4 fails, the new secrets are removed again.
/// Returns `change`'s value and, when an unused secret could not be removed, a warning that
/// reads after "the old credential of …".
pub fn store_secrets_and_change<T>(
    config_path: &Path,
    storage: Storage,
    new: &[NewSecret<'_>],
    change: impl FnOnce(&mut Config) -> Result<(T, Vec<(Storage, String)>)>,
) -> Result<(T, Option<String>)> {
    let mut locked = config::Locked::acquire(config_path)?;
    let mut config = locked.load()?;
    reconcile(&mut config, config_path);
    let store = open(storage, config_path)?;
    for n in new {
        config.note_pending(storage, n.id);
    }
    locked.write(&config)?;
    // A file takes all of them in one transaction (an import of thousands is one write).
    if let Err(failure) = batch::store_all(storage, &*store, config_path, new) {
        take_back(&mut config, storage, &*store, new, &failure);
        let _ = locked.undo(&config);
        return Err(failure.error);
    }
    let before = config.clone();
    let (value, unused) = match change(&mut config) {
        Ok(changed) => changed,
        Err(e) => {
            let mut config = before;
            let stored = StoreFailure {
                error: e,
                untouched_from: new.len(),
                in_flight: None,
            };
            take_back(&mut config, storage, &*store, new, &stored);
            let _ = locked.undo(&config);
            return Err(stored.error);
        }
    };
    for n in new {
        config.clear_pending(storage, n.id);
    }
    for (storage, old) in &unused {
        config.note_pending(*storage, old);
    }
    locked.write(&config)?;
    let mut warning = None;
    for (storage, old) in &unused {
        match open(*storage, config_path).and_then(|s| s.delete(old)) {
            Ok(()) => config.clear_pending(*storage, old),
            Err(e) => {
                warning = Some(format!(
                    "stayed behind: {e}; the next `sts context save` or `sts context delete` \
                     removes it"
                ))
            }
        }
    }
    if let Err(e) = locked.write(&config) {
        warning.get_or_insert(format!(
            "is removed, but the config file could not be tidied: {e}"
        ));
    }
    Ok((value, warning))
}

/// Takes the new secrets out of `store` again after `failure`, and clears the notes of those
/// surely gone: the ones never sent, and the ones deleted now. A secret whose keyring call timed
/// out keeps its note without a delete: that call may still land after any delete made now
/// (CONTRACT §5, no orphan), so only a later command's [`reconcile`] can remove it for sure.
fn take_back(
    config: &mut Config,
    storage: Storage,
    store: &dyn SecretStore,
    new: &[NewSecret<'_>],
    failure: &StoreFailure,
) {
    for (i, n) in new.iter().enumerate() {
        let gone = if i >= failure.untouched_from {
            true
        } else if failure.in_flight == Some(i) {
            false
        } else {
            store.delete(n.id).is_ok()
        };
        if gone {
            config.clear_pending(storage, n.id);
        }
    }
}

/// Deletes the context `name` and then its secret, under the config lock. `allow` may refuse
/// (it sees the config before the change). The credential is noted as pending in the same write
/// that removes the context, so a crash before the secret is gone is reconciled later. The
/// current context may be deleted: then none is current. Returns the deleted context and
/// whether it was the current one.
pub fn delete_context(
    config_path: &Path,
    name: &str,
    allow: impl FnOnce(&Config) -> Result<()>,
) -> Result<(Context, bool)> {
    let mut locked = config::Locked::acquire(config_path)?;
    let mut config = locked.load()?;
    config.context(name)?;
    allow(&config)?;
    reconcile(&mut config, config_path);
    let Some(ctx) = config.contexts.remove(name) else {
        return Err(config::context_not_found(name));
    };
    let was_current = config.current_context.as_deref() == Some(name);
    if was_current {
        config.current_context = None;
    }
    config.note_pending(ctx.storage, &ctx.credential_id);
    locked.write(&config)?;
    open(ctx.storage, config_path)
        .and_then(|s| s.delete(&ctx.credential_id))
        .map_err(|e| {
            Error::new(
                Kind::Write,
                format!(
                    "deleted context '{name}', but not its credential: {e}; the next `sts                      context save` or `sts context delete` tries again"
                ),
            )
        })?;
    config.clear_pending(ctx.storage, &ctx.credential_id);
    locked.write(&config)?;
    Ok((ctx, was_current))
}

/// Removes the secrets of pending credentials that no context uses (a crash between the store
/// and the config write, in either order) and clears their notes; a removal that fails keeps
/// its note for the next time. Only ids this config noted are touched: other configs share the
/// keyring. Returns whether the config changed (the caller writes it).
pub fn reconcile(config: &mut Config, config_path: &Path) -> bool {
    let candidates = config.orphan_candidates();
    let mut changed = false;
    for (storage, id) in candidates {
        if open(storage, config_path)
            .and_then(|s| s.delete(&id))
            .is_ok()
        {
            config.clear_pending(storage, &id);
            changed = true;
        }
    }
    // Notes of ids that a context uses after all are no orphans: just forget them.
    let in_use: Vec<String> = config
        .pending_credential_ids
        .iter()
        .filter(|e| {
            config
                .contexts
                .values()
                .any(|c| **e == format!("{}:{}", c.storage.as_str(), c.credential_id))
        })
        .cloned()
        .collect();
    if !in_use.is_empty() {
        config
            .pending_credential_ids
            .retain(|e| !in_use.contains(e));
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::memory::MemoryStore;
    use crate::error::Error;

    fn noted(config: &Config) -> Vec<&str> {
        config
            .pending_credential_ids
            .iter()
            .map(|e| e.trim_start_matches("keyring:"))
            .collect()
    }

    /// Three secrets, the second's keyring call timed out: the first is deleted again, the
    /// third was never sent; the second keeps its note however the store looks now, since the
    /// abandoned call may still store it after anything done here.
    #[test]
    fn a_timed_out_store_keeps_its_note_for_a_later_reconcile() {
        let secret = Secret::new("s3cr3t");
        let new: Vec<NewSecret> = ["a", "b", "c"]
            .iter()
            .map(|id| NewSecret {
                id,
                secret: &secret,
                label: "sts: test",
            })
            .collect();
        let store = MemoryStore::new();
        store.set("a", &secret).unwrap();
        let mut config = Config::default();
        for n in &new {
            config.note_pending(Storage::Keyring, n.id);
        }
        let failure = StoreFailure {
            error: Error::new(Kind::Write, "the keyring did not answer"),
            untouched_from: 2,
            in_flight: Some(1),
        };
        take_back(&mut config, Storage::Keyring, &store, &new, &failure);
        assert_eq!(noted(&config), ["b"]);
        assert_eq!(
            store.len(),
            0,
            "the secret stored before the timeout stays behind"
        );

        // The abandoned call lands afterwards: the note still names it.
        store.set("b", &secret).unwrap();
        assert!(
            config
                .orphan_candidates()
                .contains(&(Storage::Keyring, "b".to_string()))
        );
    }

    /// A store that answered with an error was no timeout: what it may hold is deleted and the
    /// note cleared when that delete succeeds.
    #[test]
    fn a_failed_store_is_taken_back_at_once() {
        let secret = Secret::new("s3cr3t");
        let new = [NewSecret {
            id: "a",
            secret: &secret,
            label: "sts: test",
        }];
        let store = MemoryStore::new();
        store.set("a", &secret).unwrap();
        let mut config = Config::default();
        config.note_pending(Storage::Keyring, "a");
        let failure = StoreFailure {
            error: Error::new(Kind::Write, "cannot write to the keyring"),
            untouched_from: 1,
            in_flight: None,
        };
        take_back(&mut config, Storage::Keyring, &store, &new, &failure);
        assert!(config.pending_credential_ids.is_empty());
        assert_eq!(store.len(), 0);
    }
}

//! `sts service-token rotate` and `sts ingestion-api-key rotate`: replace a token or key by a new
//! one with the same name (and roles, subject or description) without breaking what uses it.
//!
//! The order is what keeps a pipeline working: read the old one, create the new one, find its id,
//! (for a service token) check it against the context it is for and store it there, and only
//! then delete the old one. A failed step stops the rotation; the old token is never deleted
//! before the new one is stored and checked. Returns a report of what happened and the error that
//! stopped it, if any; never prints.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::context::server_info;
use super::{expiration_millis, ingestion_api_key, service_token};
use crate::api::client::Client;
use crate::api::models::{
    GenerateIngestionApiKeyRequest, GeneratedIngestionApiKeyResponse, NewServiceTokenRequest,
    ServiceTokenCreatedResponse,
};
use crate::config::{self, Auth, Context};
use crate::error::{Error, Kind, Result};
use crate::output::Printer;
use crate::secret::Secret;
use crate::settings::{Credential, OutputSettings, Settings, secret_store};

/// The saved context a rotated service token is stored in (`--save-to-context`), checked before
/// any request.
#[derive(Debug, Clone)]
pub struct ContextTarget {
    pub name: String,
    pub config_path: PathBuf,
    pub context: Context,
    pub timeout: Duration,
    pub output: OutputSettings,
}

impl ContextTarget {
    /// The context `name` of the config file: it must exist (exit 8; exit 1 for a file that
    /// does not parse).
    pub fn resolve(
        config_path: &Path,
        name: &str,
        timeout: Duration,
        output: OutputSettings,
    ) -> Result<ContextTarget> {
        let config = config::load(config_path)?.ok_or_else(|| config::context_not_found(name))?;
        Ok(ContextTarget {
            name: name.to_string(),
            config_path: config_path.to_path_buf(),
            context: config.context(name)?.clone(),
            timeout,
            output,
        })
    }
}

/// What a service-token rotation did.
#[derive(Debug, Clone, Default)]
pub struct ServiceTokenRotation {
    pub old_id: i64,
    /// The new token, with its secret, once created.
    pub created: Option<ServiceTokenCreatedResponse>,
    pub new_id: Option<i64>,
    /// The context that now holds the new token.
    pub saved_to_context: Option<String>,
    pub old_deleted: bool,
    pub keep_old: bool,
    /// Things that did not stop the rotation but should be said (stderr).
    pub warnings: Vec<String>,
}

/// What an ingestion-API-key rotation did.
#[derive(Debug, Clone, Default)]
pub struct IngestionApiKeyRotation {
    pub old_id: i64,
    pub created: Option<GeneratedIngestionApiKeyResponse>,
    pub new_id: Option<i64>,
    pub old_deleted: bool,
    pub keep_old: bool,
    pub warnings: Vec<String>,
}

/// The new expiry: the given one; else, when the old one expires, its lifetime
/// (`expiration − lastUpdateTimestamp`) again from `now`; else none.
pub fn new_expiry(
    given: Option<&str>,
    old_expiration: Option<i64>,
    old_updated: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    if given.is_some() {
        return expiration_millis(given, now);
    }
    let Some(expiration) = old_expiration else {
        return Ok(None);
    };
    let lifetime = old_updated
        .and_then(|updated| expiration.checked_sub(updated))
        .filter(|l| *l > 0)
        .ok_or_else(|| {
            Error::usage(
                "cannot tell the old one's lifetime (no lastUpdateTimestamp before its \
                 expiration): give the new expiry with --expiration",
            )
        })?;
    now.timestamp_millis()
        .checked_add(lifetime)
        .map(Some)
        .ok_or_else(|| Error::usage("the new expiry is out of range: give it with --expiration"))
}

/// Rotates the service token `old_id`. `target` is the context to store the new token in.
pub async fn rotate_service_token(
    client: &Client,
    printer: &Printer,
    old_id: i64,
    expiration: Option<&str>,
    target: Option<&ContextTarget>,
    keep_old: bool,
) -> (ServiceTokenRotation, Option<Error>) {
    let mut r = ServiceTokenRotation {
        old_id,
        keep_old,
        ..Default::default()
    };
    let nothing_changed = |e: Error, what: &str| {
        with_message(
            &e,
            format!(
                "{what}: {}; nothing was changed, the old service token {old_id} still works",
                e.message
            ),
        )
    };

    // 1. The old token, as the list shows it.
    let before = match service_token::list(client).await {
        Ok(list) => list,
        Err(e) => {
            return (
                r,
                Some(nothing_changed(e, "cannot list the service tokens")),
            );
        }
    };
    let Some(old) = before.iter().find(|t| t.id == Some(old_id)) else {
        let e = Error::usage(format!(
            "no service token with id {old_id} (see `sts service-token list`)"
        ));
        return (r, Some(e));
    };
    let request = match new_expiry(
        expiration,
        old.expiration,
        old.last_update_timestamp,
        Utc::now(),
    ) {
        Ok(expiry_date) => NewServiceTokenRequest {
            name: old.name.clone(),
            expiry_date,
            roles: old.roles.clone(),
            dedicated_subject: old.dedicated_subject.clone(),
        },
        Err(e) => return (r, Some(e)),
    };

    // 2. The new token.
    let created = match service_token::create(client, &request).await {
        Ok(created) => created,
        Err(e) => {
            return (
                r,
                Some(nothing_changed(e, "cannot create the new service token")),
            );
        }
    };
    let secret = Secret::new(created.token.clone());
    r.created = Some(created);

    // 3. Its id: the create answer has none, so list again and take the one that is new.
    let known: HashSet<i64> = before.iter().filter_map(|t| t.id).collect();
    match service_token::list(client).await {
        Ok(after) => match new_id(
            &known,
            after.iter().map(|t| (t.id, t.name.as_str())),
            &old.name,
        ) {
            Ok(id) => r.new_id = Some(id),
            Err(w) => r.warnings.push(w),
        },
        Err(e) => r.warnings.push(format!(
            "cannot tell the new token's id (listing failed: {}); see `sts service-token list`",
            e.message
        )),
    }
    let created_text = match r.new_id {
        Some(id) => format!("the new service token (id {id}) was created and printed"),
        None => "the new service token was created and printed".to_string(),
    };

    // 4. The context: the new token checked against its server, then stored.
    if let Some(target) = target {
        if let Err(e) = check_against(target, &secret, printer).await {
            let message = format!(
                "{created_text}, but it does not work with context '{}': {}; the context was \
                 not changed and the old service token {old_id} was kept",
                target.name, e.message
            );
            return (r, Some(with_message(&e, message)));
        }
        match store_in_context(target, &secret) {
            Ok(warning) => {
                r.saved_to_context = Some(target.name.clone());
                r.warnings.extend(warning);
            }
            Err(e) => {
                let message = format!(
                    "{created_text}, but it could not be stored in context '{}': {}; the context \
                     still has its old credential and the old service token {old_id} was kept",
                    target.name, e.message
                );
                return (r, Some(with_message(&e, message)));
            }
        }
    }

    // 5. Only now the old token.
    if keep_old {
        return (r, None);
    }
    match service_token::delete(client, old_id).await {
        Ok(()) => {
            r.old_deleted = true;
            (r, None)
        }
        Err(e) => {
            let saved = r
                .saved_to_context
                .as_ref()
                .map(|c| format!(" and stored in context '{c}'"))
                .unwrap_or_default();
            let message = format!(
                "{created_text}{saved}, but the old service token {old_id} could not be deleted: \
                 {}; delete it with `sts service-token delete {old_id}`",
                e.message
            );
            (r, Some(with_message(&e, message)))
        }
    }
}

/// Rotates the ingestion API key `old_id`.
pub async fn rotate_ingestion_api_key(
    client: &Client,
    old_id: i64,
    expiration: Option<&str>,
    keep_old: bool,
) -> (IngestionApiKeyRotation, Option<Error>) {
    let mut r = IngestionApiKeyRotation {
        old_id,
        keep_old,
        ..Default::default()
    };
    let nothing_changed = |e: Error, what: &str| {
        with_message(
            &e,
            format!(
                "{what}: {}; nothing was changed, the old ingestion API key {old_id} still works",
                e.message
            ),
        )
    };

    let before = match ingestion_api_key::list(client).await {
        Ok(list) => list,
        Err(e) => {
            return (
                r,
                Some(nothing_changed(e, "cannot list the ingestion API keys")),
            );
        }
    };
    let Some(old) = before.iter().find(|k| k.id == Some(old_id)) else {
        let e = Error::usage(format!(
            "no ingestion API key with id {old_id} (see `sts ingestion-api-key list`)"
        ));
        return (r, Some(e));
    };
    let request = match new_expiry(
        expiration,
        old.expiration,
        old.last_update_timestamp,
        Utc::now(),
    ) {
        Ok(expiration) => GenerateIngestionApiKeyRequest {
            name: old.name.clone(),
            description: old.description.clone(),
            expiration,
        },
        Err(e) => return (r, Some(e)),
    };

    let created = match ingestion_api_key::create(client, &request).await {
        Ok(created) => created,
        Err(e) => {
            return (
                r,
                Some(nothing_changed(
                    e,
                    "cannot create the new ingestion API key",
                )),
            );
        }
    };
    r.new_id = created.id;
    r.created = Some(created);
    if r.new_id.is_none() {
        let known: HashSet<i64> = before.iter().filter_map(|k| k.id).collect();
        match ingestion_api_key::list(client).await {
            Ok(after) => {
                match new_id(
                    &known,
                    after.iter().map(|k| (k.id, k.name.as_str())),
                    &old.name,
                ) {
                    Ok(id) => r.new_id = Some(id),
                    Err(w) => r.warnings.push(w),
                }
            }
            Err(e) => r.warnings.push(format!(
                "cannot tell the new key's id (listing failed: {})",
                e.message
            )),
        }
    }

    if keep_old {
        return (r, None);
    }
    match ingestion_api_key::delete(client, old_id).await {
        Ok(()) => {
            r.old_deleted = true;
            (r, None)
        }
        Err(e) => {
            let id = r.new_id.map(|id| format!(" (id {id})")).unwrap_or_default();
            let message = format!(
                "the new ingestion API key{id} was created and printed, but the old key {old_id} \
                 could not be deleted: {}; delete it with `sts ingestion-api-key delete {old_id}`",
                e.message
            );
            (r, Some(with_message(&e, message)))
        }
    }
}

/// The id in `after` that is not in `known` and has this name; a warning when there is not
/// exactly one.
fn new_id<'a>(
    known: &HashSet<i64>,
    after: impl Iterator<Item = (Option<i64>, &'a str)>,
    name: &str,
) -> std::result::Result<i64, String> {
    let fresh: Vec<i64> = after
        .filter(|(_, n)| *n == name)
        .filter_map(|(id, _)| id)
        .filter(|id| !known.contains(id))
        .collect();
    match fresh.as_slice() {
        [id] => Ok(*id),
        [] => Err(format!(
            "cannot tell the new id: no new entry named '{name}' in the list"
        )),
        several => Err(format!(
            "cannot tell the new id: {} new entries are named '{name}' (another rotation at the \
             same time?)",
            several.len()
        )),
    }
}

/// `GET /server/info` on the context's server with the new token.
async fn check_against(target: &ContextTarget, secret: &Secret, printer: &Printer) -> Result<()> {
    let settings = Settings::for_context(
        &target.context,
        Credential::ServiceToken(secret.clone()),
        target.timeout,
        target.output,
    )?;
    let client = Client::new(&settings, printer)?;
    server_info(&client).await.map(|_| ())
}

/// Stores the secret under a fresh credential id, points the context at it (as a service
/// token), then forgets the old credential. Until the config is written the context keeps its
/// old credential, so a failure leaves it as it was. Returns a warning when the old credential
/// could not be removed.
fn store_in_context(target: &ContextTarget, secret: &Secret) -> Result<Option<String>> {
    let storage = target.context.storage;
    let store = secret_store(storage, &target.config_path)?;
    let credential_id = config::new_credential_id();
    let label = crate::credentials::label(&target.name, &target.context.url);
    store
        .as_dyn()
        .set_labelled(&credential_id, secret, &label)?;
    let switched = config::update(&target.config_path, |config| {
        let ctx = config.context_mut(&target.name)?;
        if ctx.storage != storage {
            return Err(Error::new(
                Kind::Write,
                format!("context '{}' changed while rotating", target.name),
            ));
        }
        ctx.auth = Auth::ServiceToken;
        Ok(std::mem::replace(
            &mut ctx.credential_id,
            credential_id.clone(),
        ))
    });
    match switched {
        Ok(old_credential) => Ok(store.as_dyn().delete(&old_credential).err().map(|e| {
            format!(
                "the old credential of context '{}' stayed behind: {e}",
                target.name
            )
        })),
        Err(e) => {
            let _ = store.as_dyn().delete(&credential_id);
            Err(e)
        }
    }
}

/// The same error (kind and status) with another message.
fn with_message(e: &Error, message: String) -> Error {
    Error {
        kind: e.kind,
        message,
        status: e.status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-10T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_new_expiry_repeats_the_old_lifetime_from_now() {
        let n = now().timestamp_millis();
        let old_updated = n - 80 * DAY;
        let old_expiration = old_updated + 90 * DAY;
        assert_eq!(
            new_expiry(None, Some(old_expiration), Some(old_updated), now()).unwrap(),
            Some(n + 90 * DAY)
        );
        assert_eq!(
            new_expiry(None, None, Some(old_updated), now()).unwrap(),
            None
        );
        assert_eq!(
            new_expiry(Some("30d"), None, None, now()).unwrap(),
            Some(n + 30 * DAY)
        );
        assert_eq!(
            new_expiry(Some("yesterday"), None, None, now())
                .unwrap_err()
                .exit_code(),
            3
        );
        // No timestamp to measure the lifetime from, or a nonsense one: ask for --expiration.
        assert!(new_expiry(None, Some(n), None, now()).is_err());
        assert!(new_expiry(None, Some(n), Some(n + 1), now()).is_err());
        assert!(new_expiry(None, Some(i64::MAX), Some(i64::MIN), now()).is_err());
    }

    #[test]
    fn the_new_id_is_the_one_new_entry_of_that_name() {
        let known: HashSet<i64> = [1, 2].into_iter().collect();
        let after = [
            (Some(1), "a"),
            (Some(2), "b"),
            (Some(3), "a"),
            (Some(4), "c"),
        ];
        assert_eq!(new_id(&known, after.iter().copied(), "a"), Ok(3));
        assert!(new_id(&known, after.iter().copied(), "b").is_err());
        let twice = [(Some(3), "a"), (Some(5), "a"), (None, "a")];
        let e = new_id(&known, twice.iter().copied(), "a").unwrap_err();
        assert!(e.contains("2 new entries"), "{e}");
    }
}

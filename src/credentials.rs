//! Where a saved context's secret is kept (CONTRACT §5): the OS keyring ([`KeyringStore`]), or
//! with `--insecure-storage` a 0600 `credentials.toml` beside the config file ([`FileStore`]).
//! Both sit behind [`SecretStore`], keyed by the context's `credential-id`, so unit tests can use
//! `memory::MemoryStore`.
//!
//! Keyring calls are synchronous and cannot be cancelled, so each runs on its own plain thread
//! and the caller waits with a timeout; a stuck call is abandoned with its thread (the process
//! exits soon after). No message built here ever contains a secret.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;
#[cfg(unix)]
use std::{fs, os::unix::fs::PermissionsExt};

use crate::config::{self, Storage};
use crate::error::{Error, Kind, Result};
use crate::secret::Secret;
use zeroize::{Zeroize, Zeroizing};

pub mod batch;
#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
mod dh_session;

/// The keyring service every entry is stored under; the user is the credential id.
pub const KEYRING_SERVICE: &str = "sts";
pub use crate::env_vars::STS_CLI_KEYRING_TIMEOUT;
/// How long a keyring call may take when `STS_CLI_KEYRING_TIMEOUT` is unset.
pub const DEFAULT_KEYRING_TIMEOUT: Duration = Duration::from_secs(5);
/// The file name of the insecure store, in the config file's folder.
pub const CREDENTIALS_FILE_NAME: &str = "credentials.toml";

/// What callers can do instead when the keyring cannot store a secret.
const WRITE_WAYS_OUT: &str = "store the token with --insecure-storage, or pass it in \
     STS_CLI_SERVICE_TOKEN / STS_CLI_API_TOKEN with STS_CLI_URL";
/// What callers can do instead when the keyring cannot give a saved secret back.
const READ_WAY_OUT: &str =
    "pass the token in STS_CLI_SERVICE_TOKEN / STS_CLI_API_TOKEN (with STS_CLI_URL) instead";

/// A place that keeps secrets by credential id.
pub trait SecretStore {
    /// The secret stored under `credential_id`, or `None` when there is none.
    fn get(&self, credential_id: &str) -> Result<Option<Secret>>;
    /// Stores `secret` under `credential_id`, replacing any earlier one.
    fn set(&self, credential_id: &str, secret: &Secret) -> Result<()>;
    /// Removes the secret stored under `credential_id`; no secret there is not an error.
    fn delete(&self, credential_id: &str) -> Result<()>;
    /// [`SecretStore::set`], giving a new item this label (see [`label`]) where the store
    /// shows labels; stores without labels ignore it.
    fn set_labelled(&self, credential_id: &str, secret: &Secret, label: &str) -> Result<()> {
        let _ = label;
        self.set(credential_id, secret)
    }
    /// Gives the item under `credential_id` a new label where the store allows it. A store
    /// that takes no label, or no item there, is no error.
    fn relabel(&self, credential_id: &str, label: &str) -> Result<()> {
        let _ = (credential_id, label);
        Ok(())
    }
}

/// The label of a context's keyring item: `sts: context prod (https://…)`, so a person looking
/// at their keyring can tell what each item is (CONTRACT §5).
pub fn label(context_name: &str, url: &str) -> String {
    // Escaped: a name or URL from a hand-edited config shows no raw control character there.
    let e = crate::redact::content;
    format!("sts: context {} ({})", e(context_name), e(url))
}

// ---------------------------------------------------------------------------------------------
// Keyring

/// Why a keyring call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyringFailure {
    /// No keyring to talk to: no D-Bus session bus, no Secret Service on it, or a locked
    /// collection that cannot be opened.
    Unavailable,
    /// The keyring did not answer within the timeout.
    Timeout,
    /// Anything else the keyring reported.
    Other,
}

/// A failed keyring call: why, and the keyring's own words (one line, never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyringError {
    pub failure: KeyringFailure,
    /// The keyring's error text, or for a timeout how long was waited.
    pub cause: String,
}

impl KeyringError {
    /// The error for a failed write (`context save`): exit 6, naming `--insecure-storage` and
    /// the env vars.
    pub fn into_write_error(self) -> Error {
        let what = match self.failure {
            KeyringFailure::Unavailable => format!("no keyring is available ({})", self.cause),
            KeyringFailure::Timeout => format!("the keyring did not answer ({})", self.cause),
            KeyringFailure::Other => format!("cannot write to the keyring ({})", self.cause),
        };
        Error::new(Kind::Write, format!("{what}; {WRITE_WAYS_OUT}"))
    }

    /// The error for a failed read of a saved credential (an API command): exit 1, naming the
    /// env vars.
    pub fn into_read_error(self) -> Error {
        let what = match self.failure {
            KeyringFailure::Unavailable => format!("no keyring is available ({})", self.cause),
            KeyringFailure::Timeout => format!("the keyring did not answer ({})", self.cause),
            KeyringFailure::Other => format!("cannot read from the keyring ({})", self.cause),
        };
        Error::new(
            Kind::Config,
            format!("cannot read the saved credential: {what}; {READ_WAY_OUT}"),
        )
    }

    /// The error for a failed delete (`context delete`): exit 6.
    pub fn into_delete_error(self) -> Error {
        let what = match self.failure {
            KeyringFailure::Unavailable => format!("no keyring is available ({})", self.cause),
            KeyringFailure::Timeout => format!("the keyring did not answer ({})", self.cause),
            KeyringFailure::Other => format!("cannot delete from the keyring ({})", self.cause),
        };
        Error::new(
            Kind::Write,
            format!("cannot delete the saved credential: {what}"),
        )
    }
}

impl std::fmt::Display for KeyringError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.cause)
    }
}

impl std::error::Error for KeyringError {}

/// The OS keyring: service `sts`, user `<credential-id>`. Every call runs on its own thread and
/// gives up after `timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyringStore {
    pub timeout: Duration,
}

impl Default for KeyringStore {
    fn default() -> Self {
        KeyringStore {
            timeout: DEFAULT_KEYRING_TIMEOUT,
        }
    }
}

impl KeyringStore {
    pub fn new(timeout: Duration) -> Self {
        KeyringStore { timeout }
    }

    /// A store whose timeout comes from `STS_CLI_KEYRING_TIMEOUT` (5 s when unset or empty).
    pub fn from_env() -> Result<Self> {
        let value = std::env::var(STS_CLI_KEYRING_TIMEOUT).ok();
        Ok(KeyringStore::new(keyring_timeout_from_env(
            value.as_deref(),
        )?))
    }

    /// The secret under `credential_id`, with the reason when the keyring fails.
    pub fn try_get(&self, credential_id: &str) -> Result<Option<Secret>, KeyringError> {
        let id = credential_id.to_string();
        self.call(move || {
            let entry = entry(&id)?;
            match entry.get_password() {
                Ok(value) => Ok(Some(Secret::new(value))),
                Err(keyring::Error::NoEntry) => Ok(None),
                Err(e) => Err(classify(&e)),
            }
        })
    }

    /// The secrets under several credential ids, in order, read one after the other on ONE
    /// thread through the keyring's one store (its connection is opened once per process), with
    /// ONE deadline for all of them: an id not answered by then (one that prompts, a keyring
    /// that hangs) is a timeout, and so is every id after it.
    pub fn try_get_many(
        &self,
        credential_ids: &[String],
    ) -> Vec<Result<Option<Secret>, KeyringError>> {
        let n = credential_ids.len();
        if n == 0 {
            return Vec::new();
        }
        let mut batch = self.start_get_many(credential_ids);
        let mut results: Vec<Option<Result<Option<Secret>, KeyringError>>> = vec![None; n];
        match tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        {
            Ok(runtime) => runtime.block_on(async {
                while let Some((i, got)) = batch.next().await {
                    results[i] = Some(got);
                }
            }),
            Err(e) => {
                batch.failed = Some(KeyringError {
                    failure: KeyringFailure::Other,
                    cause: format!("cannot wait for the keyring: {e}"),
                })
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(batch.unanswered())))
            .collect()
    }

    /// Starts reading the secrets under several credential ids, in order, on ONE thread through
    /// the keyring's one store, with ONE deadline for all of them; the answers come from
    /// [`KeyringBatch::next`] as they are read, so that a caller can go on with the first ones.
    pub fn start_get_many(&self, credential_ids: &[String]) -> KeyringBatch {
        let ids = credential_ids.to_vec();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let spawned = std::thread::Builder::new()
            .name("sts-keyring".into())
            .spawn(move || read_many(&ids, &tx));
        let failed = spawned.err().map(|e| KeyringError {
            failure: KeyringFailure::Other,
            cause: format!("cannot start a thread for the keyring call: {e}"),
        });
        KeyringBatch {
            rx,
            deadline: std::time::Instant::now() + self.timeout,
            timeout: self.timeout,
            left: if failed.is_some() {
                0
            } else {
                credential_ids.len()
            },
            failed,
        }
    }

    /// Stores `secret` under `credential_id`, with the reason when the keyring fails.
    pub fn try_set(&self, credential_id: &str, secret: &Secret) -> Result<(), KeyringError> {
        let id = credential_id.to_string();
        let secret = secret.clone();
        self.call(move || {
            entry(&id)?
                .set_password(secret.expose())
                .map_err(|e| classify(&e))
        })
    }

    /// Whether the keyring store initialises (a session bus with a Secret Service on it), without
    /// touching any item: `context save` asks before any request. A locked collection shows only
    /// when an item is written.
    pub fn check_available(&self) -> Result<(), KeyringError> {
        self.call(|| match keyring::Entry::store_status() {
            Ok(()) => Ok(()),
            Err(e) => Err(KeyringError {
                failure: KeyringFailure::Unavailable,
                cause: config::one_line(&e.to_string()),
            }),
        })
    }

    /// Stores `secret` under `credential_id`, a new item labelled `label`.
    pub fn try_set_labelled(
        &self,
        credential_id: &str,
        secret: &Secret,
        label: &str,
    ) -> Result<(), KeyringError> {
        let id = credential_id.to_string();
        let secret = secret.clone();
        let label = label.to_string();
        self.call(move || {
            labelled_entry(&id, &label)?
                .set_password(secret.expose())
                .map_err(|e| classify(&e))
        })
    }

    /// Relabels the item under `credential_id`; a store that has no labels, or no such item,
    /// is no error.
    pub fn try_relabel(&self, credential_id: &str, label: &str) -> Result<(), KeyringError> {
        let id = credential_id.to_string();
        let label = label.to_string();
        self.call(move || set_label(&entry(&id)?, &label))
    }

    /// Removes the secret under `credential_id` (none there is fine), with the reason when the
    /// keyring fails.
    pub fn try_delete(&self, credential_id: &str) -> Result<(), KeyringError> {
        let id = credential_id.to_string();
        self.call(move || match entry(&id)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(classify(&e)),
        })
    }

    /// Runs `f` on a thread of its own and waits at most `timeout` for it. On a timeout the
    /// thread is left behind: the keyring crate offers no way to cancel a call.
    fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, KeyringError> + Send + 'static,
    ) -> Result<T, KeyringError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("sts-keyring".into())
            .spawn(move || {
                let _ = tx.send(f());
            });
        if let Err(e) = spawned {
            return Err(KeyringError {
                failure: KeyringFailure::Other,
                cause: format!("cannot start a thread for the keyring call: {e}"),
            });
        }
        match rx.recv_timeout(self.timeout) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(KeyringError {
                failure: KeyringFailure::Timeout,
                cause: format!(
                    "no answer within {}; {STS_CLI_KEYRING_TIMEOUT} sets the limit",
                    format_duration(self.timeout)
                ),
            }),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(KeyringError {
                failure: KeyringFailure::Other,
                cause: "the keyring call failed unexpectedly".into(),
            }),
        }
    }
}

/// Secrets being read by [`KeyringStore::start_get_many`].
pub struct KeyringBatch {
    rx: tokio::sync::mpsc::UnboundedReceiver<(usize, Result<Option<Secret>, KeyringError>)>,
    deadline: std::time::Instant,
    timeout: Duration,
    /// How many answers are still to come.
    left: usize,
    /// Why none will come.
    failed: Option<KeyringError>,
}

impl KeyringBatch {
    /// The next answer: the id's index and its secret (`None`: no such entry); `None` once
    /// every answer came or the deadline passed.
    pub async fn next(&mut self) -> Option<(usize, Result<Option<Secret>, KeyringError>)> {
        if self.left == 0 {
            return None;
        }
        let deadline = tokio::time::Instant::from_std(self.deadline);
        match tokio::time::timeout_at(deadline, self.rx.recv()).await {
            Ok(Some(answer)) => {
                self.left -= 1;
                Some(answer)
            }
            Ok(None) => {
                self.left = 0;
                self.failed.get_or_insert(KeyringError {
                    failure: KeyringFailure::Other,
                    cause: "the keyring call failed unexpectedly".into(),
                });
                None
            }
            Err(_) => {
                self.left = 0;
                None
            }
        }
    }

    /// The error of an id that got no answer (after [`KeyringBatch::next`] gave `None`).
    pub fn unanswered(&self) -> KeyringError {
        self.failed.clone().unwrap_or_else(|| KeyringError {
            failure: KeyringFailure::Timeout,
            cause: format!(
                "no answer within {}; {STS_CLI_KEYRING_TIMEOUT} sets the limit",
                format_duration(self.timeout)
            ),
        })
    }
}

impl FileStore {
    /// The secrets under several credential ids, in order, from one read of the file (`-A`).
    pub fn get_many(&self, credential_ids: &[String]) -> Result<Vec<Option<Secret>>> {
        let secrets = self.read()?;
        Ok(credential_ids
            .iter()
            .map(|id| secrets.0.get(id).map(Secret::new))
            .collect())
    }
}

impl SecretStore for KeyringStore {
    fn get(&self, credential_id: &str) -> Result<Option<Secret>> {
        self.try_get(credential_id)
            .map_err(KeyringError::into_read_error)
    }

    fn set(&self, credential_id: &str, secret: &Secret) -> Result<()> {
        self.try_set(credential_id, secret)
            .map_err(KeyringError::into_write_error)
    }

    fn delete(&self, credential_id: &str) -> Result<()> {
        self.try_delete(credential_id)
            .map_err(KeyringError::into_delete_error)
    }

    fn set_labelled(&self, credential_id: &str, secret: &Secret, label: &str) -> Result<()> {
        self.try_set_labelled(credential_id, secret, label)
            .map_err(KeyringError::into_write_error)
    }

    fn relabel(&self, credential_id: &str, label: &str) -> Result<()> {
        self.try_relabel(credential_id, label)
            .map_err(KeyringError::into_write_error)
    }
}

/// The keyring entry for a credential id whose item, when it is created, gets `label`. A store
/// that takes no `label` modifier gets a plain entry.
fn labelled_entry(credential_id: &str, label: &str) -> Result<keyring::Entry, KeyringError> {
    // Sets up the platform store, or gives its error.
    let plain = entry(credential_id)?;
    if label.is_empty() {
        return Ok(plain);
    }
    let modifiers = HashMap::from([("label", label)]);
    match keyring_core::Entry::new_with_modifiers(KEYRING_SERVICE, credential_id, &modifiers) {
        Ok(inner) => Ok(keyring::Entry { inner }),
        Err(keyring::Error::Invalid(..) | keyring::Error::NotSupportedByStore(_)) => Ok(plain),
        Err(e) => Err(classify(&e)),
    }
}

/// Sets the label of the item behind `entry` (the Secret Service); no item there is no error.
#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
fn set_label(entry: &keyring::Entry, label: &str) -> Result<(), KeyringError> {
    use zbus_secret_service_keyring_store::cred::Wrapper;
    let item = match entry.inner.get_credential() {
        Ok(item) => item,
        Err(keyring::Error::NoEntry) => return Ok(()),
        Err(e) => return Err(classify(&e)),
    };
    match item.as_any().downcast_ref::<Wrapper>() {
        Some(wrapper) => wrapper.set_label(label).map_err(|e| classify(&e)),
        None => Ok(()),
    }
}

/// Other platforms' stores keep no label `sts` can change: nothing to do.
#[cfg(not(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
)))]
fn set_label(_entry: &keyring::Entry, _label: &str) -> Result<(), KeyringError> {
    Ok(())
}

/// The keyring entry for a credential id. The platform store is set up on the first call in
/// the process; when that fails, its error is the cause.
fn entry(credential_id: &str) -> Result<keyring::Entry, KeyringError> {
    keyring::Entry::new(KEYRING_SERVICE, credential_id).map_err(|e| {
        match (&e, keyring::Entry::store_status()) {
            (keyring::Error::NoDefaultStore, Err(init)) => KeyringError {
                failure: KeyringFailure::Unavailable,
                cause: config::one_line(&init.to_string()),
            },
            _ => classify(&e),
        }
    })
}

/// The channel a batch read answers on: the index of the id, and what was read for it.
type BatchSender =
    tokio::sync::mpsc::UnboundedSender<(usize, Result<Option<Secret>, KeyringError>)>;

/// Reads the secrets of `ids` for [`KeyringStore::start_get_many`], on the calling thread.
///
/// On the Secret Service: one connection and one encrypted session (one key exchange) for all of
/// them; the ids' searches in flight together on that one connection (`SEARCHES_IN_FLIGHT` at
/// a time), and the secrets of the items found unlocked read `SECRETS_PER_CALL` at a time in
/// one `GetSecrets` call each (issue 24: a call costs the daemon about as much as a search, so a
/// hundred contexts cost little more than half the calls of one `GetSecret` each). The daemon
/// answers in turn, so a bounded number of searches ahead lets the first secrets come back, and
/// their contexts' requests start, while it is still searching for the others. An id whose item
/// is locked is unlocked and read alone, as soon as its search answers, so a prompt holds up no
/// other id. Each answer is sent as soon as it is read.
#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
fn read_many(ids: &[String], tx: &BatchSender) {
    use futures_util::stream::{FuturesUnordered, StreamExt};
    use secret_service::{EncryptionType, SecretService};
    use zbus::zvariant::OwnedObjectPath;

    use dh_session::DhSession;

    /// Searches kept in flight at once.
    const SEARCHES_IN_FLIGHT: usize = 32;
    /// Items whose secrets one `GetSecrets` call asks for.
    const SECRETS_PER_CALL: usize = 16;

    fn failure(e: &secret_service::Error) -> KeyringError {
        let cause = config::one_line(&e.to_string());
        let failure = match e {
            secret_service::Error::Unavailable => KeyringFailure::Unavailable,
            _ if looks_unavailable(&cause) => KeyringFailure::Unavailable,
            _ => KeyringFailure::Other,
        };
        KeyringError { failure, cause }
    }

    /// What the secret-service crate makes of a failed connection to the bus.
    fn connect_error(e: zbus::Error) -> secret_service::Error {
        match e {
            zbus::Error::InterfaceNotFound | zbus::Error::Address(_) => {
                secret_service::Error::Unavailable
            }
            zbus::Error::InputOutput(e) if e.kind() == std::io::ErrorKind::NotFound => {
                secret_service::Error::Unavailable
            }
            e => e.into(),
        }
    }

    fn text(got: Result<Vec<u8>, secret_service::Error>) -> Result<Option<Secret>, KeyringError> {
        let bytes = got.map_err(|e| failure(&e))?;
        String::from_utf8(bytes)
            .map(|value| Some(Secret::new(value)))
            .map_err(|_| KeyringError {
                failure: KeyringFailure::Other,
                cause: "the keyring item does not hold UTF-8 text".into(),
            })
    }

    /// What an id's search found: its secret already (none, an error, or a locked item read
    /// alone), or an unlocked item to read with the others.
    enum Found {
        Read(Result<Option<Secret>, KeyringError>),
        Unlocked(OwnedObjectPath),
    }

    async fn search(
        ss: &SecretService<'_>,
        session: &DhSession,
        conn: &zbus::Connection,
        id: &str,
    ) -> Result<Found, KeyringError> {
        let attributes =
            std::collections::HashMap::from([("service", KEYRING_SERVICE), ("username", id)]);
        let found = ss.search_items(attributes).await.map_err(|e| failure(&e))?;
        if found.locked.is_empty() {
            return Ok(match found.unlocked.first() {
                Some(item) => Found::Unlocked(item.item_path.clone()),
                None => Found::Read(Ok(None)),
            });
        }
        let locked: Vec<&secret_service::Item<'_>> = found.locked.iter().collect();
        ss.unlock_all(&locked).await.map_err(|e| failure(&e))?;
        let item = found.unlocked.first().or(found.locked.first());
        let item = item.map(|item| item.item_path.clone());
        Ok(Found::Read(match item {
            Some(path) => text(session.get_secret(conn, &path).await),
            None => Ok(None),
        }))
    }

    /// The secrets of unlocked items, in one `GetSecrets` call; an item left out of its answer
    /// (or all of them, when the call fails) is read alone, for its own error.
    async fn read_unlocked(
        session: &DhSession,
        conn: &zbus::Connection,
        items: Vec<(usize, OwnedObjectPath)>,
    ) -> Vec<(usize, Result<Option<Secret>, KeyringError>)> {
        let paths: Vec<OwnedObjectPath> = items.iter().map(|(_, p)| p.clone()).collect();
        let mut secrets = session.get_secrets(conn, &paths).await.unwrap_or_default();
        let mut answers = Vec::with_capacity(items.len());
        for (i, path) in items {
            let got = match secrets.remove(&path) {
                Some(got) => got,
                None => session.get_secret(conn, &path).await,
            };
            answers.push((i, text(got)));
        }
        answers
    }

    let fail_all = |e: &secret_service::Error| {
        let err = failure(e);
        for i in 0..ids.len() {
            let _ = tx.send((i, Err(err.clone())));
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let err = KeyringError {
                failure: KeyringFailure::Other,
                cause: format!("cannot start the keyring's runtime: {e}"),
            };
            for i in 0..ids.len() {
                let _ = tx.send((i, Err(err.clone())));
            }
            return;
        }
    };
    runtime.block_on(async {
        let conn = match zbus::Connection::session().await {
            Ok(conn) => conn,
            Err(e) => return fail_all(&connect_error(e)),
        };
        // The crate's own session (a plain one: no secret is ever read or written through it)
        // serves the searches and unlocks; every secret comes through `session`.
        let ss =
            match SecretService::connect_with_existing(EncryptionType::Plain, conn.clone()).await {
                Ok(ss) => ss,
                Err(e) => return fail_all(&e),
            };
        let session = match DhSession::open(&conn).await {
            Ok(session) => session,
            Err(e) => return fail_all(&e),
        };
        let (ss, session, conn) = (&ss, &session, &conn);
        let mut searches = futures_util::stream::iter(ids.iter().enumerate())
            .map(|(i, id)| async move { (i, search(ss, session, conn, id).await) })
            .buffer_unordered(SEARCHES_IN_FLIGHT);
        let mut reads = FuturesUnordered::new();
        let mut unlocked: Vec<(usize, OwnedObjectPath)> = Vec::new();
        let mut searching = true;
        loop {
            let answers = tokio::select! {
                found = searches.next(), if searching => match found {
                    Some((i, Ok(Found::Unlocked(path)))) => {
                        unlocked.push((i, path));
                        Vec::new()
                    }
                    Some((i, Ok(Found::Read(got)))) => vec![(i, got)],
                    Some((i, Err(e))) => vec![(i, Err(e))],
                    None => {
                        searching = false;
                        Vec::new()
                    }
                },
                Some(answers) = reads.next(), if !reads.is_empty() => answers,
                else => break,
            };
            for answer in answers {
                if tx.send(answer).is_err() {
                    return;
                }
            }
            if unlocked.len() >= SECRETS_PER_CALL || (!searching && !unlocked.is_empty()) {
                reads.push(read_unlocked(session, conn, std::mem::take(&mut unlocked)));
            }
        }
    });
}

/// Reads the secrets of `ids` one at a time through the keyring crate (other systems' stores).
#[cfg(not(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
)))]
fn read_many(ids: &[String], tx: &BatchSender) {
    for (i, id) in ids.iter().enumerate() {
        let got = entry(id).and_then(|entry| match entry.get_password() {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(classify(&e)),
        });
        if tx.send((i, got)).is_err() {
            return;
        }
    }
}

/// Sorts a keyring error into the three failures a caller tells apart.
fn classify(e: &keyring::Error) -> KeyringError {
    let cause = config::one_line(&e.to_string());
    let failure = match e {
        keyring::Error::NoStorageAccess(_) | keyring::Error::NoDefaultStore => {
            KeyringFailure::Unavailable
        }
        keyring::Error::PlatformFailure(_) if looks_unavailable(&cause) => {
            KeyringFailure::Unavailable
        }
        _ => KeyringFailure::Other,
    };
    KeyringError { failure, cause }
}

/// Whether a platform error says there is no bus or no Secret Service on it.
fn looks_unavailable(cause: &str) -> bool {
    const SIGNS: [&str; 8] = [
        "ServiceUnknown",
        "NameHasNoOwner",
        "org.freedesktop.secrets",
        "Failed to connect",
        "No such file or directory",
        "Connection refused",
        "DBUS_SESSION_BUS_ADDRESS",
        "session bus",
    ];
    SIGNS.iter().any(|s| cause.contains(s))
}

/// Parses `STS_CLI_KEYRING_TIMEOUT`: unset or empty is 5 s; otherwise a whole number of
/// seconds (`5`) or a whole number with a unit `ms`, `s`, `m` or `h` (`500ms`, `5s`, `2m`).
/// Zero and anything else is a usage error (exit 3).
pub fn keyring_timeout_from_env(value: Option<&str>) -> Result<Duration> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(DEFAULT_KEYRING_TIMEOUT);
    };
    let bad = || {
        Error::usage(format!(
            "invalid {STS_CLI_KEYRING_TIMEOUT} '{value}': expected a duration like 5s, 500ms or 2m"
        ))
    };
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let duration = match unit.trim() {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n.checked_mul(60).ok_or_else(bad)?),
        "h" => Duration::from_secs(n.checked_mul(3600).ok_or_else(bad)?),
        _ => return Err(bad()),
    };
    if duration.is_zero() {
        return Err(bad());
    }
    Ok(duration)
}

/// `5s`, `500ms`, `1.5s`.
fn format_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else if d.as_secs() == 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

// ---------------------------------------------------------------------------------------------
// File

/// `credentials.toml` in the config file's folder (`--insecure-storage`): a TOML table of
/// credential id → secret, written 0600 and atomically under a lock on `credentials.toml.lock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStore {
    pub path: PathBuf,
}

impl FileStore {
    /// The store at this exact path.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileStore { path: path.into() }
    }

    /// The store beside a config file: `<config folder>/credentials.toml`, in the folder of the
    /// config's final target when the config path is a symlink (so every link to one config
    /// shares one credentials file).
    pub fn beside(config_path: &Path) -> Self {
        let target = crate::fsutil::resolve_symlinks(config_path)
            .unwrap_or_else(|_| config_path.to_path_buf());
        FileStore::new(config::parent_dir(&target).join(CREDENTIALS_FILE_NAME))
    }

    /// A warning for the caller to print (with ⚠️) when the file can be read or written by its
    /// group or others; `None` when it is private or does not exist.
    #[cfg(unix)]
    pub fn mode_warning(&self) -> Option<String> {
        let mode = fs::metadata(&self.path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then(|| {
            format!(
                "{} is accessible by other users (mode {mode:04o}); run: chmod 600 {}",
                self.path.display(),
                self.path.display()
            )
        })
    }

    /// Windows has no mode bits: the file is as private as its folder's access list (the user's
    /// profile), and there is nothing to warn about.
    #[cfg(not(unix))]
    pub fn mode_warning(&self) -> Option<String> {
        None
    }

    /// Every secret of the file (cleared from memory when dropped).
    fn read(&self) -> Result<Wiped> {
        let text = Zeroizing::new(config::read_text(&self.path, CREDENTIALS_WHAT)?);
        self.parse(text.as_deref())
    }

    fn parse(&self, text: Option<&str>) -> Result<Wiped> {
        Ok(Wiped(match text {
            Some(text) => config::parse(&self.path, CREDENTIALS_WHAT, text)?,
            None => BTreeMap::new(),
        }))
    }

    fn change(&self, f: impl FnOnce(&mut BTreeMap<String, String>) -> bool) -> Result<()> {
        let what = CREDENTIALS_WHAT;
        let target = config::write_target(&self.path, what)?;
        let _lock = config::lock(&target, what)?;
        let old = Zeroizing::new(config::read_text(&target, what)?);
        let mut secrets = self.parse(old.as_deref())?;
        if !f(&mut secrets.0) {
            return Ok(());
        }
        let text = Zeroizing::new(config::render(old.as_deref(), &secrets.0).map_err(|e| {
            Error::new(
                Kind::Write,
                format!("cannot write {what} {}: {e}", self.path.display()),
            )
        })?);
        config::write_atomic(&target, text.as_bytes(), what, config::Mode::Private)
    }
}

/// How `credentials.toml` is named in messages.
const CREDENTIALS_WHAT: &str = "credentials file";

/// The secrets of `credentials.toml`, cleared from memory when dropped.
struct Wiped(BTreeMap<String, String>);

impl Drop for Wiped {
    fn drop(&mut self) {
        self.0.values_mut().for_each(Zeroize::zeroize);
    }
}

impl SecretStore for FileStore {
    /// Reads the secret. Call [`FileStore::mode_warning`] too, to warn about a readable file.
    fn get(&self, credential_id: &str) -> Result<Option<Secret>> {
        Ok(self.read()?.0.remove(credential_id).map(Secret::new))
    }

    fn set(&self, credential_id: &str, secret: &Secret) -> Result<()> {
        self.change(|secrets| {
            secrets.insert(credential_id.to_string(), secret.expose().to_string());
            true
        })
    }

    fn delete(&self, credential_id: &str) -> Result<()> {
        if !self.path.exists() {
            return Ok(());
        }
        self.change(|secrets| secrets.remove(credential_id).is_some())
    }
}

// ---------------------------------------------------------------------------------------------
// The one factory

/// Where a context's secret is kept, as a store to read or change it.
pub enum OpenStore {
    Keyring(KeyringStore),
    File(FileStore),
}

impl OpenStore {
    /// A warning when the credentials file's mode lets others read it.
    pub fn warning(&self) -> Option<String> {
        match self {
            OpenStore::Keyring(_) => None,
            OpenStore::File(f) => f.mode_warning(),
        }
    }
}

impl std::ops::Deref for OpenStore {
    type Target = dyn SecretStore;

    fn deref(&self) -> &Self::Target {
        match self {
            OpenStore::Keyring(k) => k,
            OpenStore::File(f) => f,
        }
    }
}

/// The store of a storage kind, for the config file at `config_path`: the one factory.
pub fn open(storage: Storage, config_path: &Path) -> Result<OpenStore> {
    Ok(match storage {
        Storage::Keyring => OpenStore::Keyring(KeyringStore::from_env()?),
        Storage::File => OpenStore::File(FileStore::beside(config_path)),
    })
}

pub mod transaction;

#[cfg(test)]
mod memory;

#[cfg(test)]
mod tests {
    use super::batch::NewSecret;
    use super::memory::MemoryStore;
    use super::transaction::*;
    use super::*;
    use crate::config::Context;

    fn round_trip(store: &dyn SecretStore) {
        let a = config::new_credential_id();
        let b = config::new_credential_id();
        assert_eq!(store.get(&a).unwrap(), None);
        store.set(&a, &Secret::new("svctok-aaa")).unwrap();
        store.set(&b, &Secret::new("api \"quoted\" = b")).unwrap();
        assert_eq!(store.get(&a).unwrap(), Some(Secret::new("svctok-aaa")));
        store.set(&a, &Secret::new("svctok-new")).unwrap();
        assert_eq!(store.get(&a).unwrap(), Some(Secret::new("svctok-new")));
        assert_eq!(
            store.get(&b).unwrap(),
            Some(Secret::new("api \"quoted\" = b"))
        );
        store.delete(&a).unwrap();
        assert_eq!(store.get(&a).unwrap(), None);
        store.delete(&a).unwrap();
        assert_eq!(
            store.get(&b).unwrap(),
            Some(Secret::new("api \"quoted\" = b"))
        );
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn memory_store_round_trip() {
        let store = MemoryStore::new();
        round_trip(&store);
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn file_store_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::beside(&dir.path().join("sts").join("config.toml"));
        assert_eq!(store.path, dir.path().join("sts").join("credentials.toml"));
        round_trip(&store);
        // A TOML table of credential id → secret.
        let table: toml::Table = toml::from_str(&fs::read_to_string(&store.path).unwrap()).unwrap();
        assert_eq!(table.len(), 1);
        assert_eq!(
            table.values().next().unwrap().as_str(),
            Some("api \"quoted\" = b")
        );
    }

    #[test]
    fn file_store_is_0600_in_a_0700_folder() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::beside(&dir.path().join("new").join("config.toml"));
        store.set("id", &Secret::new("s")).unwrap();
        assert_eq!(mode(&store.path), 0o600);
        assert_eq!(mode(&dir.path().join("new")), 0o700);
        assert_eq!(mode(&dir.path().join("new/credentials.toml.lock")), 0o600);
        assert_eq!(store.mode_warning(), None);
    }

    #[test]
    fn file_store_warns_about_a_readable_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::beside(&dir.path().join("config.toml"));
        assert_eq!(store.mode_warning(), None, "no file, no warning");
        store.set("id", &Secret::new("s")).unwrap();
        fs::set_permissions(&store.path, fs::Permissions::from_mode(0o644)).unwrap();
        let warning = store.mode_warning().unwrap();
        assert!(warning.contains("0644"), "{warning}");
        assert!(
            warning.contains(&store.path.display().to_string()),
            "{warning}"
        );
        assert!(warning.contains("chmod 600"), "{warning}");
        // Still readable, and the next write makes it private again.
        assert_eq!(store.get("id").unwrap(), Some(Secret::new("s")));
        store.set("id2", &Secret::new("t")).unwrap();
        assert_eq!(mode(&store.path), 0o600);
        assert_eq!(store.mode_warning(), None);
        fs::set_permissions(&store.path, fs::Permissions::from_mode(0o620)).unwrap();
        assert!(store.mode_warning().unwrap().contains("0620"));
    }

    #[test]
    fn file_store_never_overwrites_a_broken_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::beside(&dir.path().join("config.toml"));
        fs::write(&store.path, "abc = \n").unwrap();
        let err = store.set("id", &Secret::new("s")).unwrap_err();
        assert_eq!(err.kind, Kind::Config);
        assert!(
            err.message.contains("invalid credentials file"),
            "{}",
            err.message
        );
        assert!(err.message.contains("line 1"), "{}", err.message);
        assert_eq!(fs::read_to_string(&store.path).unwrap(), "abc = \n");
        assert_eq!(store.get("id").unwrap_err().kind, Kind::Config);
    }

    #[test]
    fn file_store_delete_without_a_file_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::beside(&dir.path().join("config.toml"));
        store.delete("id").unwrap();
        assert!(!store.path.exists());
    }

    #[test]
    fn file_store_errors_never_show_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        // A folder where the file should be.
        let store = FileStore::beside(&dir.path().join("config.toml"));
        fs::create_dir(&store.path).unwrap();
        let err = store.set("id", &Secret::new("svctok-SECRET")).unwrap_err();
        assert!(!err.message.contains("svctok-SECRET"), "{}", err.message);
        assert!(matches!(err.kind, Kind::Config | Kind::Write));
    }

    fn file_context(id: &str) -> Context {
        Context {
            url: "http://127.0.0.1:9".into(),
            platform: Default::default(),
            api_path: "/api".into(),
            auth: config::Auth::ServiceToken,
            storage: Storage::File,
            skip_ssl: false,
            ca_cert_base64_data: None,
            credential_id: id.into(),
            extra: Default::default(),
        }
    }

    #[test]
    fn reconcile_removes_only_the_orphans_this_config_noted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let store = FileStore::beside(&path);
        for id in ["orphan", "used", "foreign"] {
            store.set(id, &Secret::new(format!("secret-{id}"))).unwrap();
        }
        // A crash left "orphan" noted and stored; "used" was noted but its context was written.
        config::update(&path, |c| {
            c.contexts.insert("a".into(), file_context("used"));
            c.note_pending(Storage::File, "orphan");
            c.note_pending(Storage::File, "used");
            c.pending_credential_ids.push("bogus".into());
            Ok(())
        })
        .unwrap();
        save_context(&path, "b", &file_context("new"), &Secret::new("secret-new")).unwrap();
        assert_eq!(store.get("orphan").unwrap(), None);
        for id in ["used", "foreign", "new"] {
            assert!(store.get(id).unwrap().is_some(), "{id}");
        }
        let config = config::load(&path).unwrap().unwrap();
        assert_eq!(config.pending_credential_ids, ["bogus"]);
        assert_eq!(config.current_context.as_deref(), Some("b"));
        // Replacing a context removes its old secret; deleting one removes its secret.
        save_context(&path, "b", &file_context("newer"), &Secret::new("s2")).unwrap();
        assert_eq!(store.get("new").unwrap(), None);
        let (deleted, was_current) = delete_context(&path, "a", |_| Ok(())).unwrap();
        assert_eq!(deleted.credential_id, "used");
        assert!(!was_current);
        assert_eq!(store.get("used").unwrap(), None);
        let config = config::load(&path).unwrap().unwrap();
        assert_eq!(config.pending_credential_ids, ["bogus"]);
        assert_eq!(
            delete_context(&path, "zz", |_| Ok(())).unwrap_err().kind,
            Kind::NotFound
        );
    }

    #[test]
    fn several_secrets_are_stored_with_one_change_and_the_unused_ones_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let store = FileStore::beside(&path);
        let (a, b) = (Secret::new("secret-a"), Secret::new("secret-b"));
        let new = [
            NewSecret {
                id: "ida",
                secret: &a,
                label: "a",
            },
            NewSecret {
                id: "idb",
                secret: &b,
                label: "b",
            },
        ];
        // The change takes `a` and decides against `b`: `b`'s secret goes again.
        let (n, warning) = store_secrets_and_change(&path, Storage::File, &new, |c| {
            c.contexts.insert("a".into(), file_context("ida"));
            Ok((1, vec![(Storage::File, "idb".to_string())]))
        })
        .unwrap();
        assert_eq!((n, warning), (1, None));
        assert!(store.get("ida").unwrap().is_some());
        assert_eq!(store.get("idb").unwrap(), None);
        assert!(
            config::load(&path)
                .unwrap()
                .unwrap()
                .pending_credential_ids
                .is_empty()
        );
        // A change that fails takes every new secret back and leaves the config as it was.
        let before = fs::read_to_string(&path).unwrap();
        let c = Secret::new("secret-c");
        let new = [NewSecret {
            id: "idc",
            secret: &c,
            label: "c",
        }];
        let e = store_secrets_and_change(&path, Storage::File, &new, |_| {
            Err::<((), _), _>(Error::usage("no"))
        })
        .unwrap_err();
        assert_eq!(e.kind, Kind::Usage);
        assert_eq!(store.get("idc").unwrap(), None);
        assert_eq!(fs::read_to_string(&path).unwrap(), before);
    }

    #[test]
    fn keyring_timeout_values() {
        let ok = |v: Option<&str>| keyring_timeout_from_env(v).unwrap();
        assert_eq!(ok(None), Duration::from_secs(5));
        assert_eq!(ok(Some("")), Duration::from_secs(5));
        assert_eq!(ok(Some("7")), Duration::from_secs(7));
        assert_eq!(ok(Some("5s")), Duration::from_secs(5));
        assert_eq!(ok(Some("500ms")), Duration::from_millis(500));
        assert_eq!(ok(Some("2m")), Duration::from_secs(120));
        assert_eq!(ok(Some("1h")), Duration::from_secs(3600));
        for bad in [
            "0",
            "0s",
            "-1",
            "5x",
            "s",
            "1.5s",
            "abc",
            "99999999999999999999",
        ] {
            let err = keyring_timeout_from_env(Some(bad)).unwrap_err();
            assert_eq!(err.kind, Kind::Usage, "{bad}");
            assert!(
                err.message.contains(STS_CLI_KEYRING_TIMEOUT),
                "{}",
                err.message
            );
        }
    }

    #[test]
    fn keyring_messages_name_the_ways_out() {
        let unavailable = KeyringError {
            failure: KeyringFailure::Unavailable,
            cause: "Platform failure: D-Bus error".into(),
        };
        let write = unavailable.clone().into_write_error();
        assert_eq!(write.kind, Kind::Write);
        assert_eq!(write.exit_code(), 6);
        assert_eq!(
            write.message,
            "no keyring is available (Platform failure: D-Bus error); store the token with \
             --insecure-storage, or pass it in STS_CLI_SERVICE_TOKEN / STS_CLI_API_TOKEN with \
             STS_CLI_URL"
        );
        let read = unavailable.into_read_error();
        assert_eq!(read.kind, Kind::Config);
        assert!(
            read.message.contains("STS_CLI_SERVICE_TOKEN"),
            "{}",
            read.message
        );
        let timeout = KeyringError {
            failure: KeyringFailure::Timeout,
            cause: "no answer within 1s".into(),
        };
        assert_eq!(timeout.clone().into_read_error().kind, Kind::Config);
        assert!(
            timeout
                .into_write_error()
                .message
                .contains("--insecure-storage")
        );
    }

    #[test]
    fn a_call_that_hangs_times_out() {
        let store = KeyringStore::new(Duration::from_millis(100));
        // The call blocks until the test lets it go, which is only after `call` returned: so
        // `call` can only have returned by giving up (with no clock bound in the test).
        let (release, blocked) = mpsc::channel::<()>();
        let err = store
            .call(move || {
                let _ = blocked.recv();
                Ok(())
            })
            .unwrap_err();
        drop(release);
        assert_eq!(err.failure, KeyringFailure::Timeout);
        assert!(err.cause.contains("100ms"), "{}", err.cause);
        assert_eq!(format_duration(Duration::from_secs(5)), "5s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
    }
}

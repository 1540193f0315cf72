//! What a platform is to the sandbox: the [`Emulator`] trait each platform's folder implements
//! (its routes, the data it keeps, its error body, its API paths), and the [`App`] every handler
//! is served with (the store, the control API's counts and faults, the admin token).
//!
//! Adding a platform to the sandbox: a folder beside `stackstate/` with a type implementing
//! [`Emulator`], and one line in `mod.rs`'s registry.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::Context;
use axum::Router;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::config::{Config, ServerVersion};
use super::errors::ApiError;
use super::faults::{FaultAction, FaultQueue, FaultSpec};
use super::persist::Persister;
use super::requests::RequestCounts;
use super::state::Store;
use super::times::now_ms;
use crate::platform::PlatformKind;

/// One emulated platform: everything in which the platforms differ.
pub trait Emulator: Debug + Send + Sync + Sized + 'static {
    /// The platform, as the client names it.
    const KIND: PlatformKind;
    /// The version reported when `--server-version` is not given.
    const DEFAULT_VERSION: &'static str;
    /// The paths under which requests are counted and faults apply (`/api`; Posit Connect's
    /// `/__api__` and `/scim`).
    const API_BASES: &'static [&'static str];

    /// What the platform keeps, persisted in the `--state` file beside the clock. Its fields
    /// are top-level keys of that file, so each platform names its own.
    type Data: Debug + Default + Serialize + DeserializeOwned + Send + Sync + 'static;

    /// The platform's part of the start options (keys, seeds).
    fn new(cfg: &Config) -> Self;

    /// Prepares the data once it is loaded, before the first answer (ids, signing key, seeds);
    /// bumps the store's generation when it changed anything that must be written.
    fn init(&self, _store: &mut Store<Self::Data>, _real_now: i64) -> anyhow::Result<()> {
        Ok(())
    }

    /// The platform's API, its own 404 and 405 included; `/_sandbox` is added beside it.
    fn router() -> Router<Arc<App<Self>>>;

    /// The body of an error answer carrying `message`, in the platform's error shape (a fault
    /// that gives a status but no body).
    fn error_body(message: &str) -> Value;

    /// `POST /_sandbox/seed`: adds rows to list; `Err` says why the platform cannot.
    fn seed(
        _store: &mut Store<Self::Data>,
        _service_tokens: usize,
        _ingestion_api_keys: usize,
        _real_now: i64,
    ) -> Result<(), String> {
        Err(format!(
            "seeding is not available on {}",
            Self::KIND.as_str()
        ))
    }
}

/// Everything the handlers of one platform share.
#[derive(Debug)]
pub struct App<E: Emulator> {
    /// The platform's own start options.
    pub emulator: E,
    pub admin_token: String,
    /// When the sandbox started (real clock, epoch milliseconds).
    pub started_ms: i64,
    pub server_version: ServerVersion,
    store: Mutex<Store<E::Data>>,
    persister: Option<Arc<Persister>>,
    faults: Mutex<FaultQueue>,
    requests: Mutex<RequestCounts>,
}

impl<E: Emulator> App<E> {
    pub fn new(
        emulator: E,
        admin_token: String,
        server_version: ServerVersion,
        store: Store<E::Data>,
        persister: Option<Arc<Persister>>,
    ) -> Self {
        App {
            emulator,
            admin_token,
            started_ms: now_ms(),
            server_version,
            store: Mutex::new(store),
            persister,
            faults: Mutex::default(),
            requests: Mutex::default(),
        }
    }

    /// Reads the store.
    pub fn with_store<R>(&self, f: impl FnOnce(&Store<E::Data>) -> R) -> R {
        f(&lock(&self.store))
    }

    /// Changes the store, then, when it did change and there is a state file, writes it before
    /// returning, so an answer is only sent once its change is on disk.
    pub async fn change<R>(&self, f: impl FnOnce(&mut Store<E::Data>) -> R) -> Result<R, ApiError> {
        let (result, snapshot) = {
            let mut store = lock(&self.store);
            let before = store.generation();
            let result = f(&mut store);
            let changed = store.generation() != before;
            let snapshot = self
                .persister
                .as_ref()
                .filter(|_| changed)
                .map(|p| (Arc::clone(p), store.generation(), store.to_json()));
            (result, snapshot)
        };
        if let Some((persister, generation, json)) = snapshot {
            let written = tokio::task::spawn_blocking(move || {
                persister
                    .write(generation, &json)
                    .with_context(|| format!("cannot write {}", persister.path().display()))
            })
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| r);
            if let Err(e) = written {
                eprintln!("sts-sandbox: {e:#}");
                return Err(ApiError::Internal(format!("cannot save the state: {e:#}")));
            }
        }
        Ok(result)
    }

    pub fn record_request(&self, key: String) {
        lock(&self.requests).record(key);
    }

    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        lock(&self.requests).snapshot()
    }

    pub fn take_fault(&self, method: &str, path: &str, template: &str) -> Option<FaultAction> {
        lock(&self.faults).take(method, path, template)
    }

    pub fn put_back_fault(&self, method: &str, template: &str, action: FaultAction) {
        lock(&self.faults).put_back(method, template, action);
    }

    pub fn add_fault(&self, spec: FaultSpec) -> Result<usize, String> {
        lock(&self.faults).push(spec, E::KIND.as_str(), E::API_BASES, E::error_body)
    }

    pub fn clear_faults(&self) {
        lock(&self.faults).clear();
    }
}

/// A lock that a panicked holder does not poison for everyone else.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

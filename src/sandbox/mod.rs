//! `sts-sandbox`: a local server that behaves like the StackState, Posit Connect or Qualytics API
//! (CONTRACT §8, §9.3), one platform per process.
//!
//! - `config`: what it is started with;
//! - `state`: what it keeps (hashes of secrets only) and the clock, `persist`: the `--state` file;
//! - StackState: `auth`, who is calling, and `routes`, the API; `posit_connect`: Posit Connect;
//! - `body`, `errors`, `times`: requests in, errors out, RFC 3339 times;
//! - `requests`, `faults`, `intercept`, `control`: counting, fault injection, the control API
//!   (requests, faults, clock), the same on every platform.

mod auth;
mod body;
mod config;
mod control;
mod errors;
mod faults;
mod intercept;
mod persist;
mod posit_connect;
mod qualytics;
mod requests;
mod routes;
mod state;
mod times;
mod tls;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::response::IntoResponse;
use rand::distr::{Alphanumeric, SampleString};
use tokio::net::TcpListener;

pub use config::{Config, Platform, ServerVersion, ServiceUserSeed, TlsFiles};

use errors::ApiError;
use faults::{FaultAction, FaultQueue, FaultSpec};
use persist::Persister;
use requests::RequestCounts;
use state::Store;

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// How long open connections may take to finish once a stop signal came.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct App {
    platform: Platform,
    admin_token: String,
    /// Posit Connect: keys of publishers (non-administrators).
    publisher_keys: Vec<String>,
    /// When the sandbox started (real clock, epoch milliseconds).
    started_ms: i64,
    k8s_sa_tokens: Vec<String>,
    receiver_api_key: Option<String>,
    server_version: ServerVersion,
    store: Mutex<Store>,
    persister: Option<Arc<Persister>>,
    faults: Mutex<FaultQueue>,
    requests: Mutex<RequestCounts>,
}

impl App {
    /// Reads the store.
    fn with_store<R>(&self, f: impl FnOnce(&Store) -> R) -> R {
        f(&lock(&self.store))
    }

    /// Changes the store, then, when it did change and there is a state file, writes it before
    /// returning, so an answer is only sent once its change is on disk.
    async fn change<R>(&self, f: impl FnOnce(&mut Store) -> R) -> Result<R, ApiError> {
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

    fn record_request(&self, key: String) {
        lock(&self.requests).record(key);
    }

    fn request_counts(&self) -> BTreeMap<String, u64> {
        lock(&self.requests).snapshot()
    }

    fn take_fault(&self, method: &str, path: &str, template: &str) -> Option<FaultAction> {
        lock(&self.faults).take(method, path, template)
    }

    fn add_fault(&self, spec: FaultSpec) -> Result<usize, String> {
        lock(&self.faults).push(spec, self.platform)
    }

    fn clear_faults(&self) {
        lock(&self.faults).clear();
    }
}

/// A lock that a panicked holder does not poison for everyone else.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Runs the sandbox until SIGINT or SIGTERM: loads the state, listens, prints the start line.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let admin_token = match cfg.admin_token {
        Some(t) if t.is_empty() || t.chars().any(char::is_whitespace) => {
            bail!("--admin-token must be non-empty and hold no whitespace")
        }
        Some(t) => t,
        None => Alphanumeric.sample_string(&mut rand::rng(), 32),
    };
    let (mut store, persister) = match &cfg.state_file {
        Some(path) => {
            let store = load_store(path)?;
            let persister = Persister::new(path.clone(), store.generation());
            (store, Some(Arc::new(persister)))
        }
        None => (Store::default(), None),
    };
    let loaded = store.generation();
    if cfg.platform == Platform::Qualytics {
        qualytics::init(&mut store, &cfg.service_users, now_ms())?;
    }
    // What start-up added (a signing key, seeded users) is on disk before the first answer.
    if let Some(p) = persister.as_ref().filter(|_| store.generation() != loaded) {
        p.write(store.generation(), &store.to_json())
            .with_context(|| format!("cannot write {}", p.path().display()))?;
    }
    let app = Arc::new(App {
        platform: cfg.platform,
        admin_token,
        publisher_keys: cfg
            .publisher_keys
            .into_iter()
            .filter(|k| !k.trim().is_empty())
            .collect(),
        started_ms: now_ms(),
        k8s_sa_tokens: cfg
            .k8s_sa_tokens
            .into_iter()
            .filter(|t| !t.trim().is_empty())
            .collect(),
        receiver_api_key: cfg.receiver_api_key.filter(|k| !k.is_empty()),
        server_version: cfg.server_version,
        store: Mutex::new(store),
        persister,
        faults: Mutex::default(),
        requests: Mutex::default(),
    });

    let tls = cfg
        .tls
        .as_ref()
        .map(|files| tls::server_config(&files.cert, &files.key))
        .transpose()?;

    let stop = StopSignal::install()?;
    let listener = TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let admin_token = app.admin_token.clone();

    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let stopped = async {
        let _ = rx.await;
    };
    let mut server = match tls {
        None => tokio::spawn(
            axum::serve(listener, router(app))
                .with_graceful_shutdown(stopped)
                .into_future(),
        ),
        Some(config) => tokio::spawn(
            axum::serve(tls::TlsListener::new(listener, config)?, router(app))
                .with_graceful_shutdown(stopped)
                .into_future(),
        ),
    };
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "sts-sandbox listening on {scheme}://{addr} admin-token {admin_token}"
        )?;
        out.flush()?;
    }
    tokio::select! {
        ended = &mut server => {
            ended?.context("the server stopped")?;
            return Ok(());
        }
        () = stop.wait() => {}
    }
    let _ = tx.send(());
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Ok(ended) => ended?.context("the server stopped with an error")?,
        Err(_) => {
            eprintln!("sts-sandbox: connections still open after {SHUTDOWN_GRACE:?}; closing them")
        }
    }
    Ok(())
}

/// The whole application: the platform's API, `/_sandbox`, and 404 and 405 in the platform's
/// error shape (the control API's own errors are StackState's `GenericErrorsResponse`).
fn router(app: Arc<App>) -> Router {
    let not_found = || async { ApiError::NotFound("no such path".to_string()).into_response() };
    let not_allowed = || async { ApiError::MethodNotAllowed.into_response() };
    let control = control::router()
        .fallback(not_found)
        .method_not_allowed_fallback(not_allowed);
    let api = match app.platform {
        Platform::StackState => {
            let api = routes::router()
                .fallback(not_found)
                .method_not_allowed_fallback(not_allowed);
            Router::new().nest("/api", api).fallback(not_found)
        }
        Platform::PositConnect => posit_connect::router().fallback(posit_connect::not_found),
        Platform::Qualytics => qualytics::router().fallback(qualytics::not_found),
    };
    api.nest("/_sandbox", control)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            intercept::intercept,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(app)
}

/// The store in the state file; empty when the file does not exist yet. A file that does not
/// parse is an error, and is left as it is.
fn load_store(path: &Path) -> anyhow::Result<Store> {
    let text = persist::read(path)
        .with_context(|| format!("cannot read state file {}", path.display()))?;
    match text {
        None => Ok(Store::default()),
        Some(text) => Store::from_json(&text).with_context(|| {
            format!(
                "state file {} is not a valid sts-sandbox state (left unchanged; fix or remove it)",
                path.display()
            )
        }),
    }
}

/// SIGINT or SIGTERM, listened for from before the start line is printed.
struct StopSignal {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignal {
    #[cfg(unix)]
    fn install() -> anyhow::Result<StopSignal> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(StopSignal {
            interrupt: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
        })
    }

    #[cfg(not(unix))]
    fn install() -> anyhow::Result<StopSignal> {
        Ok(StopSignal {})
    }

    #[cfg(unix)]
    async fn wait(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }

    #[cfg(not(unix))]
    async fn wait(self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}

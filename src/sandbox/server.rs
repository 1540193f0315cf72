//! Serving one platform: the state loaded, the start line printed, and the connections served
//! until SIGINT or SIGTERM, the same for every platform.
//!
//! People run the sandbox in CI next to other jobs, so a client cannot hold it: a request's
//! headers must arrive within `--header-timeout` (10 s by default) and a keep-alive connection
//! idle that long is closed (hyper's header-read timeout, which it also arms while waiting for
//! the next request), and at most [`MAX_CONNECTIONS`] connections are open at once (others wait
//! in the listen queue until one closes).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::response::IntoResponse;
use axum::serve::Listener;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rand::distr::{Alphanumeric, SampleString};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::config::{Config, MAX_BODY_BYTES, ServerVersion};
use super::control;
use super::emulator::{App, Emulator};
use super::errors::ApiError;
use super::intercept;
use super::persist::{self, Persister};
use super::state::Store;
use super::times::now_ms;
use super::tls;

/// Connections open at once; the next ones wait until one closes.
pub const MAX_CONNECTIONS: usize = 512;
/// How long open connections may take to finish once a stop signal came.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Runs the sandbox of platform `E` until SIGINT or SIGTERM: loads the state, listens, prints
/// the start line.
pub async fn serve<E: Emulator>(cfg: Config) -> anyhow::Result<()> {
    let admin_token = match cfg.admin_token.clone() {
        Some(t) if t.is_empty() || t.chars().any(char::is_whitespace) => {
            bail!("--admin-token must be non-empty and hold no whitespace")
        }
        Some(t) => t,
        None => Alphanumeric.sample_string(&mut rand::rng(), 32),
    };
    let server_version = match cfg.server_version.clone() {
        Some(v) => v,
        None => E::DEFAULT_VERSION
            .parse::<ServerVersion>()
            .map_err(anyhow::Error::msg)?,
    };
    let emulator = E::new(&cfg);
    let (mut store, persister) = match &cfg.state_file {
        Some(path) => {
            let store = load_store::<E::Data>(path)?;
            let persister = Persister::new(path.clone(), store.generation());
            (store, Some(Arc::new(persister)))
        }
        None => (Store::default(), None),
    };
    let loaded = store.generation();
    emulator.init(&mut store, now_ms())?;
    // What start-up added (a signing key, seeded users) is on disk before the first answer.
    if let Some(p) = persister.as_ref().filter(|_| store.generation() != loaded) {
        p.write(store.generation(), &store.to_json())
            .with_context(|| format!("cannot write {}", p.path().display()))?;
    }
    let app = Arc::new(App::new(
        emulator,
        admin_token,
        server_version,
        store,
        persister,
    ));

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
    let router = router(app);
    let header_timeout = cfg.header_timeout;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let mut server = match tls {
        None => tokio::spawn(serve_connections(listener, router, header_timeout, rx)),
        Some(config) => tokio::spawn(serve_connections(
            tls::TlsListener::new(listener, config, MAX_CONNECTIONS)?,
            router,
            header_timeout,
            rx,
        )),
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
            ended?;
            return Ok(());
        }
        () = stop.wait() => {}
    }
    let _ = tx.send(());
    if !server.await? {
        eprintln!("sts-sandbox: connections still open after {SHUTDOWN_GRACE:?}; closing them");
    }
    Ok(())
}

/// The whole application: the platform's API, `/_sandbox`, and 404 and 405 in the platform's
/// error shape (the control API's own errors are StackState's `GenericErrorsResponse`).
fn router<E: Emulator>(app: Arc<App<E>>) -> Router {
    let not_found = || async { ApiError::NotFound("no such path".to_string()).into_response() };
    let not_allowed = || async { ApiError::MethodNotAllowed.into_response() };
    let control = control::router::<E>()
        .fallback(not_found)
        .method_not_allowed_fallback(not_allowed);
    E::router()
        .nest("/_sandbox", control)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            intercept::intercept::<E>,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(app)
}

/// Serves HTTP/1.1 connections from `listener` until `stop` fires, at most [`MAX_CONNECTIONS`]
/// at once, each closed when a request's headers take longer than `header_timeout` or it stays
/// idle that long. Then lets open connections finish for [`SHUTDOWN_GRACE`]; false when some
/// were still open after it.
async fn serve_connections<L>(
    mut listener: L,
    router: Router,
    header_timeout: Duration,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> bool
where
    L: Listener,
{
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot,
            _ = &mut stop => break,
        };
        let Ok(slot) = slot else { break };
        let (io, _) = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut stop => break,
        };
        let service = TowerToHyperService::new(router.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(io), service));
        tokio::spawn(async move {
            // An error here is the client's (gone, too slow, not HTTP): nothing to report.
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_ok()
}

/// The store in the state file; empty when the file does not exist yet. A file that is not a
/// regular file, is too large, or does not parse is an error, and is left as it is.
fn load_store<D: Default + serde::Serialize + serde::de::DeserializeOwned>(
    path: &Path,
) -> anyhow::Result<Store<D>> {
    persist::check_writable(path)
        .and_then(|_| persist::read(path))
        .with_context(|| format!("cannot read state file {}", path.display()))
        .and_then(|text| match text {
            None => Ok(Store::default()),
            Some(text) => Store::from_json(&text).with_context(|| {
                format!(
                    "state file {} is not a valid sts-sandbox state (left unchanged; fix or \
                     remove it)",
                    path.display()
                )
            }),
        })
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

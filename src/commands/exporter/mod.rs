//! `sts exporter` (CONTRACT §13): every saved context (or those named) refreshed at start and
//! then every `--refresh` in the background, on a thread of its own, with the saved credentials
//! read in one keyring session per refresh; the exposition rendered once per refresh and served
//! by [`server`] to every scrape until the next one. A context that fails keeps its last series
//! and gets `sts_context_up 0`.

pub mod server;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::commands::all_contexts::engine as fanout;
use crate::config;
use crate::error::{Error, Result};
use crate::http::client::Observer;
use crate::outcome::Target;
use crate::output::prometheus::{self, ContextRecord, CredentialRecord, Format, RefreshRecord};
use crate::platform::{Platform, PlatformKind, Token, TokenKind};
use crate::settings::OutputSettings;
use crate::with_platform;

/// `--refresh` by default.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(300);

/// What the exporter refreshes, and how.
#[derive(Debug, Clone)]
pub struct ExporterSettings {
    pub config_path: PathBuf,
    /// `--platform`: only the contexts of this platform.
    pub platform: Option<PlatformKind>,
    /// `-c NAME`: only these contexts (every saved one when empty).
    pub names: Vec<String>,
    /// Each context's deadline (`--timeout`).
    pub timeout: Duration,
    pub refresh: Duration,
    pub output: OutputSettings,
}

/// What a scrape is answered with: the exposition of the last refresh, in both formats.
#[derive(Debug)]
pub struct Snapshot {
    /// The text format 0.0.4.
    pub body: Arc<Vec<u8>>,
    /// OpenMetrics 1.0, for a scraper that asks for it.
    pub openmetrics: Arc<Vec<u8>>,
    /// The first refresh is done (`/healthz` says 200 from then on).
    pub ready: bool,
}

/// The exposition shared between the refresh thread and the server.
#[derive(Debug)]
pub struct Shared {
    current: RwLock<Arc<Snapshot>>,
}

impl Shared {
    pub fn new() -> Arc<Shared> {
        let (text, openmetrics) = render(&Memory::default());
        Arc::new(Shared {
            current: RwLock::new(Arc::new(Snapshot {
                body: Arc::new(text.into_bytes()),
                openmetrics: Arc::new(openmetrics.into_bytes()),
                ready: false,
            })),
        })
    }

    /// The snapshot to answer with now.
    pub fn get(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set(&self, (text, openmetrics): (String, String)) {
        let snapshot = Arc::new(Snapshot {
            body: Arc::new(text.into_bytes()),
            openmetrics: Arc::new(openmetrics.into_bytes()),
            ready: true,
        });
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = snapshot;
    }
}

/// What the exporter remembers between refreshes: each context's last series.
#[derive(Debug, Default)]
pub struct Memory {
    contexts: BTreeMap<String, Remembered>,
    stats: RefreshRecord,
}

#[derive(Debug)]
struct Remembered {
    platform: PlatformKind,
    credentials: Vec<CredentialRecord>,
    up: bool,
    last_success: Option<i64>,
}

/// Checks the settings before the exporter starts: the config file loads, and every context
/// named with `-c` exists.
pub fn check(settings: &ExporterSettings) -> Result<()> {
    let config = config::load(&settings.config_path)?;
    for name in &settings.names {
        match &config {
            Some(c) => {
                c.context(name)?;
            }
            None => {
                return Err(Error::config(format!(
                    "no context named '{name}': there is no config file at {}",
                    settings.config_path.display()
                )));
            }
        }
    }
    Ok(())
}

/// One refresh of every context; returns the new exposition (the text format, OpenMetrics). A
/// config file that cannot be read
/// now keeps every context's last series and counts as a failed refresh.
pub fn refresh(
    settings: &ExporterSettings,
    memory: &mut Memory,
    observer: &dyn Observer,
) -> (String, String) {
    let started = Instant::now();
    let ok = match config::load(&settings.config_path) {
        Err(e) => {
            observer.warn(&format!("cannot read the config file: {}", e.message));
            for r in memory.contexts.values_mut() {
                r.up = false;
            }
            false
        }
        Ok(config) => {
            let targets: Vec<Target> =
                fanout::targets(config.as_ref(), settings.platform, |_| true)
                    .into_iter()
                    .filter(|t| settings.names.is_empty() || settings.names.contains(&t.name))
                    .collect();
            let mut warnings = Vec::new();
            let (credentials, reader) =
                fanout::credentials(&settings.config_path, &targets, &mut warnings);
            for w in &warnings {
                observer.warn(w);
            }
            let jobs: Vec<fanout::ContextJob> = targets.into_iter().zip(credentials).collect();
            let results = block_on(fanout::run_all(
                jobs,
                reader,
                settings.timeout,
                settings.output,
                observer,
                &|| {},
                |client, platform| async move { list_everything(&client, platform).await },
            ));
            let now = Utc::now();
            let mut all_ok = true;
            let mut seen = BTreeMap::new();
            for r in results {
                let previous = memory.contexts.remove(&r.name);
                let remembered = match r.result {
                    Ok(lists) => Remembered {
                        platform: r.platform,
                        credentials: {
                            let (name, platform) = (&r.name, r.platform);
                            lists
                                .into_iter()
                                .flat_map(|(kind, tokens)| {
                                    tokens.into_iter().map(move |t| {
                                        CredentialRecord::of(name, platform, kind, &t, now)
                                    })
                                })
                                .collect()
                        },
                        up: true,
                        last_success: Some(now.timestamp_millis()),
                    },
                    Err(e) => {
                        all_ok = false;
                        observer.warn(&format!(
                            "context {}: {}",
                            r.name,
                            config::one_line(&e.message)
                        ));
                        match previous {
                            Some(p) if p.platform == r.platform => Remembered { up: false, ..p },
                            _ => Remembered {
                                platform: r.platform,
                                credentials: Vec::new(),
                                up: false,
                                last_success: None,
                            },
                        }
                    }
                };
                seen.insert(r.name, remembered);
            }
            // A context no longer saved (or no longer named) is gone from the metrics.
            memory.contexts = seen;
            all_ok
        }
    };
    if ok {
        memory.stats.successes += 1;
    } else {
        memory.stats.failures += 1;
    }
    memory.stats.duration_seconds = started.elapsed().as_secs_f64();
    render(memory)
}

/// The exposition of what the memory holds, in the text format and in OpenMetrics.
fn render(memory: &Memory) -> (String, String) {
    let mut credentials: Vec<CredentialRecord> = memory
        .contexts
        .values()
        .flat_map(|r| r.credentials.iter().cloned())
        .collect();
    let contexts: Vec<ContextRecord> = memory
        .contexts
        .iter()
        .map(|(name, r)| ContextRecord {
            context: name.clone(),
            platform: r.platform.as_str(),
            up: r.up,
            last_success: r.last_success,
        })
        .collect();
    let refresh = Some(&memory.stats);
    // Sorted once for both.
    prometheus::sort_records(&mut credentials);
    (
        prometheus::render_as(Format::Text, &credentials, &contexts, refresh),
        prometheus::render_as(Format::OpenMetrics, &credentials, &contexts, refresh),
    )
}

/// Every list of a context: its service tokens, and its ingestion API keys where the platform
/// has them.
async fn list_everything(
    client: &crate::http::client::Client,
    platform: PlatformKind,
) -> Result<Vec<(&'static str, Vec<Token>)>> {
    with_platform!(platform, P => {
        type Tokens = <P as Platform>::ServiceTokens;
        type Keys = <P as Platform>::IngestionKeys;
        let mut lists = vec![(Tokens::NOUNS.json_one, Tokens::list(client).await?)];
        if platform.profile().ingestion_keys {
            lists.push((Keys::NOUNS.json_one, Keys::list(client).await?));
        }
        Ok(lists)
    })
}

/// Runs a refresh on the refresh thread's own runtime.
fn block_on<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the refresh thread's runtime")
        .block_on(fut)
}

/// The refresh thread: refreshes now, then every `settings.refresh` until `stop` says so (or is
/// dropped), publishing each exposition in `shared`.
pub fn spawn_refresher(
    settings: ExporterSettings,
    shared: Arc<Shared>,
    observer: Box<dyn Observer + Send>,
    stop: std::sync::mpsc::Receiver<()>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut memory = Memory::default();
        loop {
            let text = refresh(&settings, &mut memory, observer.as_ref());
            shared.set(text);
            match stop.recv_timeout(settings.refresh) {
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                _ => return,
            }
        }
    })
}

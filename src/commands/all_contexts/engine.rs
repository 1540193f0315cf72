//! `-A, --all-contexts` (CONTRACT §10): one command run for every saved context at once, each
//! with its own URL, platform and saved credential only, at most [`MAX_CONCURRENT`] at a time,
//! each with its own deadline. Written once against the platform interface: the caller gives
//! the task (list the tokens, validate) and gets one result per context, sorted by name.
//!
//! The secrets: every keyring-stored one in one keyring session on one thread with one deadline
//! ([`KeyringStore::start_get_many`]), each context's request starting as soon as its secret is
//! read; every file-stored one from one read of `credentials.toml`.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use crate::config::{Auth, Config, Storage};
use crate::credentials::{FileStore, KeyringBatch, KeyringError, KeyringStore};
use crate::env_vars as ev;
use crate::error::{Error, Result};
use crate::http::client::{Client, Observer};
use crate::outcome::{ContextResult, Target};
use crate::platform;
use crate::platform::PlatformKind;
use crate::secret::Secret;
use crate::settings::{Credential, OutputSettings, Settings};

/// At most this many contexts are asked at once.
pub const MAX_CONCURRENT: usize = 8;

/// A context to run for, with its saved credential (or why it could not be read).
pub type ContextJob = (Target, Pending);

/// A context's saved credential: read already, or still coming from the keyring.
#[derive(Debug)]
pub enum Pending {
    Ready(Result<Credential>),
    Keyring(tokio::sync::oneshot::Receiver<Result<Credential>>),
}

impl Pending {
    async fn get(self) -> Result<Credential> {
        match self {
            Pending::Ready(r) => r,
            Pending::Keyring(rx) => rx.await.unwrap_or_else(|_| {
                Err(KeyringError {
                    failure: crate::credentials::KeyringFailure::Other,
                    cause: "the keyring reader stopped".into(),
                }
                .into_read_error())
            }),
        }
    }
}

/// Hands each keyring-stored context its secret as the keyring answers; run it beside the
/// contexts' tasks ([`run_all`] does).
pub struct KeyringReader {
    batch: Option<KeyringBatch>,
    /// Per id of the batch, in its order: where the credential goes, and how to make it.
    waiting: Vec<Option<(tokio::sync::oneshot::Sender<Result<Credential>>, Target)>>,
}

impl KeyringReader {
    fn none() -> KeyringReader {
        KeyringReader {
            batch: None,
            waiting: Vec::new(),
        }
    }

    async fn run(mut self) {
        let Some(mut batch) = self.batch.take() else {
            return;
        };
        while let Some((i, got)) = batch.next().await {
            if let Some((tx, target)) = self.waiting.get_mut(i).and_then(Option::take) {
                let credential = got
                    .map_err(KeyringError::into_read_error)
                    .and_then(|s| to_credential(&target, s));
                let _ = tx.send(credential);
            }
        }
        for (tx, _) in self.waiting.into_iter().flatten() {
            let _ = tx.send(Err(batch.unanswered().into_read_error()));
        }
    }
}

fn to_credential(t: &Target, secret: Option<Secret>) -> Result<Credential> {
    let secret = secret.ok_or_else(|| missing_secret(t))?;
    Ok(match t.context.auth {
        Auth::ApiToken => Credential::ApiToken(secret),
        Auth::ServiceToken => Credential::ServiceToken(secret),
    })
}

/// The saved contexts, by name, of `platform` when one is given and for which `wanted` holds.
pub fn targets(
    config: Option<&Config>,
    platform: Option<PlatformKind>,
    wanted: impl Fn(PlatformKind) -> bool,
) -> Vec<Target> {
    let Some(config) = config else {
        return Vec::new();
    };
    config
        .contexts
        .iter()
        .filter(|(_, c)| platform.is_none_or(|p| p == c.platform) && wanted(c.platform))
        .map(|(name, context)| Target {
            name: name.clone(),
            context: context.clone(),
        })
        .collect()
}

/// The names of the URL and token flags and env vars that are set: `-A` ignores them all.
pub fn ignored_inputs(
    global: &crate::cli::GlobalArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<&'static str> {
    let flags = [
        ("--url", global.url.is_some()),
        ("--api-token", global.api_token.is_some()),
        ("--service-token", global.service_token.is_some()),
        ("--k8s-sa-token", global.k8s_sa_token.is_some()),
        ("--k8s-sa-token-path", global.k8s_sa_token_path.is_some()),
    ];
    let vars = [
        ev::STS_CLI_URL,
        ev::STS_CLI_API_TOKEN,
        ev::STS_CLI_SERVICE_TOKEN,
        ev::STS_CLI_K8S_SA_TOKEN,
        ev::STS_CLI_K8S_SA_TOKEN_PATH,
    ];
    flags
        .into_iter()
        .filter(|(_, set)| *set)
        .map(|(name, _)| name)
        .chain(
            vars.into_iter()
                .chain(platform::ecosystem_env_vars())
                .filter(|name| env(name).is_some_and(|v| !v.is_empty())),
        )
        .collect()
}

/// The warning for [`ignored_inputs`], when any is set.
pub fn ignored_warning(names: &[&str]) -> Option<String> {
    (!names.is_empty()).then(|| {
        format!(
            "-A uses each context's own URL and saved credential: {} ignored",
            names.join(", ")
        )
    })
}

/// The saved credential of each target, in order, and the reader that brings the keyring-stored
/// ones. Those are read in one keyring session on one thread with one deadline; file-stored ones
/// from one read of the file; the keyring is not touched when no target keeps its secret there.
/// Warnings (a credentials file others can read) are added to `warnings`.
pub fn credentials(
    config_path: &Path,
    targets: &[Target],
    warnings: &mut Vec<String>,
) -> (Vec<Pending>, KeyringReader) {
    let mut pending: Vec<Option<Pending>> = targets.iter().map(|_| None).collect();
    let indices = |storage: Storage| -> Vec<usize> {
        (0..targets.len())
            .filter(|i| targets[*i].context.storage == storage)
            .collect()
    };
    let ids = |is: &[usize]| -> Vec<String> {
        is.iter()
            .map(|i| targets[*i].context.credential_id.clone())
            .collect()
    };

    let mut reader = KeyringReader::none();
    let in_keyring = indices(Storage::Keyring);
    if !in_keyring.is_empty() {
        match KeyringStore::from_env() {
            Ok(store) => {
                reader.batch = Some(store.start_get_many(&ids(&in_keyring)));
                for i in &in_keyring {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    reader.waiting.push(Some((tx, targets[*i].clone())));
                    pending[*i] = Some(Pending::Keyring(rx));
                }
            }
            Err(e) => {
                for i in &in_keyring {
                    pending[*i] = Some(Pending::Ready(Err(e.clone())));
                }
            }
        }
    }
    let in_file = indices(Storage::File);
    if !in_file.is_empty() {
        let store = FileStore::beside(config_path);
        warnings.extend(store.mode_warning());
        match store.get_many(&ids(&in_file)) {
            Ok(got) => {
                for (i, s) in in_file.iter().zip(got) {
                    pending[*i] = Some(Pending::Ready(to_credential(&targets[*i], s)));
                }
            }
            Err(e) => {
                for i in &in_file {
                    pending[*i] = Some(Pending::Ready(Err(e.clone())));
                }
            }
        }
    }
    let pending = pending
        .into_iter()
        .map(|p| p.unwrap_or_else(|| Pending::Ready(Err(Error::config("no credential")))))
        .collect();
    (pending, reader)
}

fn missing_secret(t: &Target) -> Error {
    Error::config(format!(
        "the credential of context '{}' is missing from the {}; save it again with `sts context \
         save`",
        t.name, t.context.storage
    ))
}

/// Runs `task` for every target with its credential, at most [`MAX_CONCURRENT`] at a time on
/// the current task, each with a client of its own whose deadline (`timeout`) starts when its
/// turn comes. `on_done` is called as each context finishes. The results keep the targets'
/// order.
pub async fn run_all<'a, T, F, Fut>(
    jobs: Vec<ContextJob>,
    reader: KeyringReader,
    timeout: Duration,
    output: OutputSettings,
    observer: &'a dyn Observer,
    on_done: &'a dyn Fn(),
    task: F,
) -> Vec<ContextResult<T>>
where
    T: 'a,
    F: Fn(Client, PlatformKind) -> Fut + 'a,
    Fut: Future<Output = Result<T>> + 'a,
{
    let task = move |client, target: &Target| task(client, target.context.platform);
    run_each(jobs, reader, timeout, output, observer, on_done, task).await
}

/// [`run_all`], the task given the whole target (its name too).
pub async fn run_each<'a, T, F, Fut>(
    jobs: Vec<ContextJob>,
    reader: KeyringReader,
    timeout: Duration,
    output: OutputSettings,
    observer: &'a dyn Observer,
    on_done: &'a dyn Fn(),
    task: F,
) -> Vec<ContextResult<T>>
where
    T: 'a,
    F: Fn(Client, &Target) -> Fut + 'a,
    Fut: Future<Output = Result<T>> + 'a,
{
    let permits = std::rc::Rc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT));
    let task = std::rc::Rc::new(task);
    let futures: Vec<Pin<Box<dyn Future<Output = ContextResult<T>> + 'a>>> = jobs
        .into_iter()
        .map(|(target, credential)| {
            let permits = permits.clone();
            let task = task.clone();
            let fut = async move {
                let platform = target.context.platform;
                let result = match credential.get().await {
                    Err(e) => Err(e),
                    Ok(credential) => {
                        let _permit = permits.acquire().await.ok();
                        match Settings::for_context(&target.context, credential, timeout, output)
                            .and_then(|s| s.client(observer))
                        {
                            Ok(client) => task(client, &target).await,
                            Err(e) => Err(e),
                        }
                    }
                };
                on_done();
                ContextResult {
                    name: target.name,
                    platform,
                    url: target.context.url,
                    result,
                }
            };
            Box::pin(fut) as Pin<Box<dyn Future<Output = ContextResult<T>> + 'a>>
        })
        .collect();
    let (_, results) = tokio::join!(reader.run(), join_all(futures));
    results
}

/// Runs every future until all are done; the results in their order. Only the futures that
/// were woken are polled again, so a hundred contexts cost a hundred polls per event, not ten
/// thousand.
async fn join_all<'a, T>(futures: Vec<Pin<Box<dyn Future<Output = T> + 'a>>>) -> Vec<T> {
    use futures_util::stream::{FuturesUnordered, StreamExt};
    let mut done: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    let mut running: FuturesUnordered<_> = futures
        .into_iter()
        .enumerate()
        .map(|(i, fut)| async move { (i, fut.await) })
        .collect();
    while let Some((i, v)) = running.next().await {
        done[i] = Some(v);
    }
    done.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn target(name: &str, platform: PlatformKind, storage: Storage) -> Target {
        Target {
            name: name.into(),
            context: crate::config::Context {
                url: format!("http://{name}.invalid"),
                platform,
                api_path: "/api".into(),
                auth: Auth::ApiToken,
                storage,
                skip_ssl: false,
                ca_cert_base64_data: None,
                credential_id: format!("id-{name}"),
                extra: Default::default(),
            },
        }
    }

    #[test]
    fn targets_are_narrowed_by_platform_and_kind() {
        let mut config = Config::default();
        for (n, p) in [
            ("b", PlatformKind::Qualytics),
            ("a", PlatformKind::Stackstate),
            ("c", PlatformKind::Stackstate),
        ] {
            config
                .contexts
                .insert(n.into(), target(n, p, Storage::File).context);
        }
        let names = |ts: Vec<Target>| ts.into_iter().map(|t| t.name).collect::<Vec<_>>();
        assert_eq!(
            names(targets(Some(&config), None, |_| true)),
            ["a", "b", "c"]
        );
        assert_eq!(
            names(targets(
                Some(&config),
                Some(PlatformKind::Qualytics),
                |_| true
            )),
            ["b"]
        );
        assert_eq!(
            names(targets(Some(&config), None, |p| p.profile().ingestion_keys)),
            ["a", "c"]
        );
        assert!(targets(None, None, |_| true).is_empty());
    }

    #[test]
    fn file_secrets_are_read_once_and_a_missing_one_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("config.toml");
        let store = FileStore::beside(&config_path);
        crate::credentials::SecretStore::set(&store, "id-a", &Secret::new("secret-a")).unwrap();
        let ts = [
            target("a", PlatformKind::Stackstate, Storage::File),
            target("b", PlatformKind::Qualytics, Storage::File),
        ];
        let mut warnings = Vec::new();
        let (got, _) = credentials(&config_path, &ts, &mut warnings);
        let got: Vec<Result<Credential>> = got
            .into_iter()
            .map(|p| match p {
                Pending::Ready(r) => r,
                Pending::Keyring(_) => panic!("file-stored"),
            })
            .collect();
        assert_eq!(
            got[0].as_ref().unwrap(),
            &Credential::ApiToken(Secret::new("secret-a"))
        );
        let e = got[1].as_ref().unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(e.message.contains("context 'b'"), "{}", e.message);
    }

    #[test]
    fn ignored_inputs_name_flags_and_env_vars_never_values() {
        let global = crate::cli::GlobalArgs {
            url: Some("http://x".into()),
            ..Default::default()
        };
        let env = |k: &str| match k {
            "STS_CLI_API_TOKEN" => Some("secret-value".to_string()),
            "CONNECT_SERVER" => Some(String::new()),
            _ => None,
        };
        let names = ignored_inputs(&global, &env);
        assert_eq!(names, ["--url", "STS_CLI_API_TOKEN"]);
        let w = ignored_warning(&names).unwrap();
        assert!(!w.contains("secret-value") && w.contains("--url, STS_CLI_API_TOKEN"));
        assert_eq!(ignored_warning(&[]), None);
    }

    #[test]
    fn join_all_runs_at_most_eight_at_once_and_keeps_the_order() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let running = Cell::new(0usize);
        let most = Cell::new(0usize);
        let permits = tokio::sync::Semaphore::new(MAX_CONCURRENT);
        let futures: Vec<Pin<Box<dyn Future<Output = usize> + '_>>> = (0..20usize)
            .map(|i| {
                let (running, most, permits) = (&running, &most, &permits);
                Box::pin(async move {
                    let _p = permits.acquire().await.unwrap();
                    running.set(running.get() + 1);
                    most.set(most.get().max(running.get()));
                    tokio::task::yield_now().await;
                    running.set(running.get() - 1);
                    i
                }) as Pin<Box<dyn Future<Output = usize> + '_>>
            })
            .collect();
        let out = runtime.block_on(join_all(futures));
        assert_eq!(out, (0..20usize).collect::<Vec<_>>());
        assert_eq!(most.get(), MAX_CONCURRENT);
    }
}

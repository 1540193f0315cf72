//! Settings: flags > env vars > saved context > defaults, resolved once into plain structs
//! (CONTRACT §1). Nothing here talks to the network.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;

use crate::cli::{GlobalArgs, OutputFormat};
use crate::config::{self, Auth, Config, Storage};
use crate::dates::parse_duration;
use crate::env_vars as ev;
use crate::error::{Error, Kind, Result};
use crate::http::client::{Client, ClientConfig, Observer};
use crate::platform::{CredentialKind, PlatformKind};
use crate::secret::Secret;

pub mod save;
pub mod url;

pub use crate::env_vars::parse_bool;
pub use url::{check_url, join_url, same_server};

/// Where a Kubernetes pod finds its service-account token.
pub const DEFAULT_K8S_SA_TOKEN_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
/// The API base path when nothing else names one.
pub const DEFAULT_API_PATH: &str = "/api";
/// The whole-command network deadline when nothing else names one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How to print: resolved before anything can fail, so that errors are printed the right way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputSettings {
    pub format: OutputFormat,
    pub verbosity: u8,
    /// `--no-color`, `NO_COLOR` (non-empty) or `TERM=dumb`: no ANSI and no emoji symbols.
    pub no_color: bool,
}

impl OutputSettings {
    pub fn resolve(global: &GlobalArgs, env: &dyn Fn(&str) -> Option<String>) -> OutputSettings {
        let dumb = env(ev::TERM).is_some_and(|t| t.eq_ignore_ascii_case("dumb"));
        OutputSettings {
            format: global.output,
            verbosity: global.verbose,
            no_color: global.no_color || env(ev::NO_COLOR).is_some() || dumb,
        }
    }
}

/// The credential an API command sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// `X-API-Token`.
    ApiToken(Secret),
    /// `X-API-Key`.
    ServiceToken(Secret),
    /// `X-API-ServiceBearer`.
    K8sSaToken(Secret),
}

impl Credential {
    /// What kind of credential it is, for the platform to say how it travels.
    pub fn kind(&self) -> CredentialKind {
        match self {
            Credential::ApiToken(_) => CredentialKind::ApiToken,
            Credential::ServiceToken(_) => CredentialKind::ServiceToken,
            Credential::K8sSaToken(_) => CredentialKind::K8sSaToken,
        }
    }

    pub fn secret(&self) -> &Secret {
        match self {
            Credential::ApiToken(s) | Credential::ServiceToken(s) | Credential::K8sSaToken(s) => s,
        }
    }
}

/// TLS options (CONTRACT §1, §7).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    pub skip_ssl: bool,
    /// PEM data of an extra trusted CA (from the path, or else the base64 data).
    pub ca_pem: Option<Vec<u8>>,
}

/// Everything an API command needs, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub platform: PlatformKind,
    pub url: String,
    pub api_path: String,
    pub credential: Credential,
    pub timeout: Duration,
    pub tls: TlsSettings,
    pub output: OutputSettings,
    /// Warnings for stderr found while resolving (a credentials file others can read).
    pub warnings: Vec<String>,
}

impl Settings {
    /// The settings of a saved context on its own (`context save` before it is saved, and
    /// `context validate`): no flag or env var but the timeout and the output.
    pub fn for_context(
        ctx: &config::Context,
        credential: Credential,
        timeout: Duration,
        output: OutputSettings,
    ) -> Result<Settings> {
        // A hand-edited context gets the checks of a URL from the command line (CONTRACT §7).
        crate::guard::check_url_parts(&ctx.url)?;
        check_credential(ctx.platform, &credential)?;
        Ok(Settings {
            platform: ctx.platform,
            url: ctx.url.clone(),
            api_path: ctx.api_path.clone(),
            credential,
            timeout,
            tls: resolve_tls(ctx.skip_ssl, None, ctx.ca_cert_base64_data.clone())?,
            output,
            warnings: Vec::new(),
        })
    }

    /// The platform's API base under `url` (StackState: `api_path`), joined with exactly one `/`.
    pub fn api_base(&self) -> String {
        self.platform.api_base(&self.url, &self.api_path)
    }

    /// What the HTTP client is built from: the API base, the credential and how the platform
    /// wants it sent (or why it refuses it), the deadline, TLS and the log level.
    pub fn client_config(&self) -> Result<ClientConfig> {
        let profile = self.platform.profile();
        Ok(ClientConfig {
            base: self.api_base(),
            secret: self.credential.secret().clone(),
            scheme: self
                .platform
                .auth(self.credential.kind())
                .map_err(Error::usage)?,
            timeout: self.timeout,
            verbosity: self.output.verbosity,
            skip_ssl: self.tls.skip_ssl,
            ca_pem: self.tls.ca_pem.clone(),
            error_message: profile.error_message,
        })
    }

    /// The HTTP client of these settings, reporting through `observer`; the command's deadline
    /// starts now.
    pub fn client(&self, observer: &dyn Observer) -> Result<Client> {
        Client::new(&self.client_config()?, observer)
    }
}

/// A saved context in effect: its name, what the config file says of it, and the file.
#[derive(Debug, Clone)]
pub struct SavedContext {
    pub name: String,
    pub context: config::Context,
    pub config_path: PathBuf,
}

impl SavedContext {
    /// The context's secret, from the keyring or `credentials.toml`; a warning is added when
    /// that file can be read by others. Only called when no flag or env var gives a token.
    pub fn credential(&self, warnings: &mut Vec<String>) -> Result<Credential> {
        let store = crate::credentials::open(self.context.storage, &self.config_path)?;
        if let Some(w) = store.warning() {
            warnings.push(w);
        }
        let secret = store.get(&self.context.credential_id)?.ok_or_else(|| {
            Error::config(format!(
                "the credential of context '{}' is missing from the {}; save it again with \
                 `sts context save`, or pass the token in {} or {}",
                self.name,
                self.context.storage,
                ev::STS_CLI_SERVICE_TOKEN,
                ev::STS_CLI_API_TOKEN
            ))
        })?;
        Ok(match self.context.auth {
            Auth::ApiToken => Credential::ApiToken(secret),
            Auth::ServiceToken => Credential::ServiceToken(secret),
        })
    }
}

/// Where settings come from besides the flags: the environment, stdin and the file system.
pub struct Sources<'a> {
    /// An environment variable; empty counts as unset.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Reads one line of standard input (for a token given as `-`).
    pub read_stdin_line: &'a mut dyn FnMut() -> std::io::Result<String>,
    /// Where the default Kubernetes token lives.
    pub default_k8s_token_path: &'a Path,
    /// The config file when neither `--config` nor `STS_CLI_CONFIG` names one (`None` when the
    /// user has no config folder).
    pub default_config_path: Option<&'a Path>,
    /// The config file as read while settings are resolved, so one command parses it once.
    pub config_cache: ConfigCache,
}

/// The config file read once for the resolution of a command's settings (the platform hint,
/// then the settings themselves). Only reads go through it: a command that writes the config
/// loads it itself, under its lock.
#[derive(Debug, Default)]
pub struct ConfigCache(std::cell::RefCell<Option<(PathBuf, Option<Config>)>>);

impl ConfigCache {
    /// [`config::load`] of `path`, read from the file the first time only.
    pub fn load(&self, path: &Path) -> Result<Option<Config>> {
        if let Some((cached, config)) = &*self.0.borrow()
            && cached == path
        {
            return Ok(config.clone());
        }
        let config = config::load(path)?;
        *self.0.borrow_mut() = Some((path.to_path_buf(), config.clone()));
        Ok(config)
    }
}

impl Sources<'_> {
    fn env(&self, name: &str) -> Option<String> {
        (self.env)(name).filter(|v| !v.is_empty())
    }

    /// The config file in effect: `--config` > `STS_CLI_CONFIG` > the default, and whether it
    /// was named (a named file must exist when read).
    pub fn config_path(&self, global: &GlobalArgs) -> Result<(PathBuf, bool)> {
        match global
            .config
            .clone()
            .or_else(|| self.env(ev::STS_CLI_CONFIG))
        {
            Some(p) => Ok((PathBuf::from(p), true)),
            None => match self.default_config_path {
                Some(p) => Ok((p.to_path_buf(), false)),
                None => Err(Error::config(format!(
                    "cannot find the user's config folder (no home directory); pass --config \
                     PATH or set {}",
                    ev::STS_CLI_CONFIG
                ))),
            },
        }
    }

    /// The context named by `--context` > `STS_CLI_CONTEXT`, if any.
    pub fn context_name(&self, global: &GlobalArgs) -> Option<String> {
        global
            .context
            .clone()
            .or_else(|| self.env(ev::STS_CLI_CONTEXT))
    }
}

/// Where each part of resolved [`Settings`] came from (`sts auth status`, CONTRACT §11): `--url
/// flag`, `STS_CLI_URL`, `context prod`, `keyring`, `credentials.toml`, `stdin`, `CONNECT_API_KEY`…
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    pub url: String,
    pub platform: String,
    /// The saved context in use, when one applies.
    pub context: Option<String>,
    /// How that context was chosen: `--context flag`, `STS_CLI_CONTEXT`, `current-context`.
    pub context_source: Option<String>,
    pub credential: String,
}

/// Resolves the settings of an API command (CONTRACT §1, §9): the platform first, then the URL
/// (a saved context applies only to its own URL), then the credential as a group.
pub fn resolve(global: &GlobalArgs, output: OutputSettings, src: &mut Sources) -> Result<Settings> {
    resolve_with_sources(global, output, src).map(|(settings, _)| settings)
}

/// [`resolve`], and where each part came from.
pub fn resolve_with_sources(
    global: &GlobalArgs,
    output: OutputSettings,
    src: &mut Sources,
) -> Result<(Settings, Provenance)> {
    let saved = saved_context(global, src)?;
    let explicit_platform = explicit_platform(global, src)?;
    let sts_url_given = global.url.is_some() || src.env(ev::STS_CLI_URL).is_some();
    let (explicit_url, explicit_url_source) =
        match explicit_url(global, src, explicit_platform, saved.as_ref()) {
            Some((url, source)) => (Some(url), source),
            None => (None, String::new()),
        };

    // A context applies only to the server it was saved for.
    let saved = match (saved, &explicit_url) {
        (Some(saved), Some(url)) if !same_server(url, &saved.context.url) => {
            if !token_given(
                global,
                src,
                explicit_platform.unwrap_or(saved.context.platform),
            ) {
                return Err(Error::config(format!(
                    "the URL {} (from {}) is not the URL of context '{}' ({}), so its saved \
                     credential is not sent there: give a token for that server (a token flag \
                     or env var), or use the context's own server with --context {}",
                    url, explicit_url_source, saved.name, saved.context.url, saved.name
                )));
            }
            None
        }
        (saved, _) => saved,
    };
    let saved_ctx = saved.as_ref().map(|s| &s.context);

    let platform = choose_platform(explicit_platform, saved.as_ref(), sts_url_given, src)?;
    let profile = platform.profile();
    let context_label = |s: &SavedContext| format!("context {}", s.name);
    let mut trace = Provenance {
        platform: if global.platform.is_some() {
            "--platform flag".into()
        } else if explicit_platform.is_some() {
            ev::STS_CLI_PLATFORM.into()
        } else if let Some(s) = &saved {
            context_label(s)
        } else if platform != PlatformKind::default() {
            profile.url_env.unwrap_or("default").into()
        } else {
            "default".into()
        },
        url: if global.url.is_some() {
            "--url flag".into()
        } else if explicit_url.is_some() {
            explicit_url_source.clone()
        } else if let Some(s) = &saved {
            context_label(s)
        } else {
            profile.url_env.unwrap_or("default").into()
        },
        context: saved.as_ref().map(|s| s.name.clone()),
        context_source: saved.as_ref().map(|_| {
            if global.context.is_some() {
                "--context flag".into()
            } else if src.env(ev::STS_CLI_CONTEXT).is_some() {
                ev::STS_CLI_CONTEXT.into()
            } else {
                "current-context".into()
            }
        }),
        credential: String::new(),
    };

    let url = explicit_url
        .or_else(|| saved_ctx.map(|c| c.url.clone()))
        .or_else(|| profile.url_env.and_then(|name| src.env(name)))
        .ok_or_else(|| no_url(global, src))?;
    check_url(&url)?;

    if let Some(base) = profile.base_path
        && global.api_path.is_some()
    {
        return Err(api_path_refused(platform, Some(base)));
    }
    let api_path = if profile.base_path.is_none() {
        global
            .api_path
            .clone()
            .or_else(|| src.env(ev::STS_CLI_API_PATH))
            .or_else(|| saved_ctx.map(|c| c.api_path.clone()))
            .unwrap_or_else(|| DEFAULT_API_PATH.to_string())
    } else {
        String::new()
    };

    // Credentials resolve as a group; the saved one (and so the keyring) only when neither the
    // flags nor the env vars give a token.
    let mut warnings = Vec::new();
    let (credential, credential_source) = match credential_from_flags(global, src)? {
        Some(c) => c,
        None => match credential_from_env(src)? {
            Some(c) => c,
            None => match ecosystem_token(platform, src)? {
                Some(c) => (c, profile.token_env.unwrap_or_default().to_string()),
                None => match &saved {
                    Some(saved) => (
                        saved.credential(&mut warnings)?,
                        match saved.context.storage {
                            Storage::Keyring => "keyring".to_string(),
                            Storage::File => crate::credentials::CREDENTIALS_FILE_NAME.to_string(),
                        },
                    ),
                    None if profile.k8s_default_token => (
                        default_k8s_token(src.default_k8s_token_path)?,
                        src.default_k8s_token_path.display().to_string(),
                    ),
                    None => return Err(no_token(platform)),
                },
            },
        },
    };
    trace.credential = credential_source;
    check_credential(platform, &credential)?;

    let timeout = resolve_timeout(global, src)?;

    let skip_ssl = if global.skip_ssl {
        true
    } else if let Some(v) = src.env(ev::STS_SKIP_SSL) {
        parse_bool(&v).ok_or_else(|| {
            Error::usage(format!(
                "invalid {}={v:?}: use 1/0, true/false or yes/no",
                ev::STS_SKIP_SSL
            ))
        })?
    } else {
        saved_ctx.is_some_and(|c| c.skip_ssl)
    };
    let ca_path = global
        .ca_cert_path
        .clone()
        .or_else(|| src.env(ev::STS_CA_CERT_PATH));
    let ca_data = global
        .ca_cert_base64_data
        .clone()
        .or_else(|| src.env(ev::STS_CA_CERT_BASE64_DATA))
        .or_else(|| saved_ctx.and_then(|c| c.ca_cert_base64_data.clone()));

    let settings = Settings {
        platform,
        url,
        api_path,
        credential,
        timeout,
        tls: resolve_tls(skip_ssl, ca_path, ca_data)?,
        output,
        warnings,
    };
    Ok((settings, trace))
}

/// The platform (CONTRACT §9): `--platform`, `STS_CLI_PLATFORM`, the context in use (one that
/// applies to the URL), else implied by the ecosystem's URL env var, else StackState. A flag or
/// env platform other than the context's, on the context's own URL, is exit 3.
fn choose_platform(
    explicit: Option<PlatformKind>,
    saved: Option<&SavedContext>,
    url_given: bool,
    src: &Sources,
) -> Result<PlatformKind> {
    Ok(match (explicit, saved) {
        (Some(p), Some(saved)) if p != saved.context.platform => {
            return Err(Error::usage(format!(
                "the platform {p} was asked for, but context '{}' at {} is {}: drop --platform \
                 / {}, or use another context",
                saved.name,
                saved.context.url,
                saved.context.platform,
                ev::STS_CLI_PLATFORM
            )));
        }
        (Some(p), _) => p,
        (None, Some(saved)) => saved.context.platform,
        (None, None) if !url_given => implied_platform(src)?,
        (None, None) => PlatformKind::default(),
    })
}

/// The URL given by a flag or an env var, and where it came from: `--url` > `STS_CLI_URL` > the
/// URL variable of the platform's own ecosystem (`CONNECT_SERVER`, …), which takes part in the
/// binding of a saved context to its server exactly as `STS_CLI_URL` does (CONTRACT §1, §9). The
/// platform whose variable counts is the one named by `--platform` / `STS_CLI_PLATFORM`, else
/// the saved context's, else the one the variables imply.
fn explicit_url(
    global: &GlobalArgs,
    src: &Sources,
    explicit_platform: Option<PlatformKind>,
    saved: Option<&SavedContext>,
) -> Option<(String, String)> {
    if let Some(url) = &global.url {
        return Some((url.clone(), "--url".into()));
    }
    if let Some(url) = src.env(ev::STS_CLI_URL) {
        return Some((url, ev::STS_CLI_URL.into()));
    }
    let platform = match explicit_platform.or(saved.map(|s| s.context.platform)) {
        Some(p) => p,
        None => implied_platform(src).ok()?,
    };
    let name = platform.profile().url_env?;
    src.env(name).map(|url| (url, name.to_string()))
}

/// The platform a command is for, as far as it can be told before anything is read that could
/// fail: used to check a command's input before any request. [`resolve`] decides for real.
pub fn platform_hint(global: &GlobalArgs, src: &Sources) -> PlatformKind {
    let explicit = explicit_platform(global, src).ok().flatten();
    let saved = saved_context(global, src).ok().flatten();
    let url = explicit_url(global, src, explicit, saved.as_ref()).map(|(url, _)| url);
    let saved = saved.filter(|s| {
        url.as_deref()
            .is_none_or(|u| same_server(u, &s.context.url))
    });
    let sts_url_given = global.url.is_some() || src.env(ev::STS_CLI_URL).is_some();
    choose_platform(explicit, saved.as_ref(), sts_url_given, src).unwrap_or_else(|_| {
        explicit
            .or(saved.map(|s| s.context.platform))
            .unwrap_or_default()
    })
}

/// The refusal of `--api-path` on a platform whose API base is fixed.
pub fn api_path_refused(platform: PlatformKind, base: Option<&str>) -> Error {
    let having: Vec<&str> = PlatformKind::ALL
        .iter()
        .filter(|k| k.profile().base_path.is_none())
        .map(|k| k.display())
        .collect();
    Error::usage(format!(
        "--api-path is {}'s only: {} has a fixed API base{}",
        having.join("'s and "),
        platform.display(),
        base.map(|b| format!(" ({b})")).unwrap_or_default()
    ))
}

/// `--platform` > `STS_CLI_PLATFORM`, when either names one.
pub fn explicit_platform(global: &GlobalArgs, src: &Sources) -> Result<Option<PlatformKind>> {
    if let Some(p) = global.platform {
        return Ok(Some(p));
    }
    match src.env(ev::STS_CLI_PLATFORM) {
        None => Ok(None),
        Some(text) => PlatformKind::parse(&text).map(Some).ok_or_else(|| {
            Error::usage(format!(
                "invalid {}={text:?}: use {}",
                ev::STS_CLI_PLATFORM,
                PlatformKind::ALL.map(|p| p.as_str()).join(", ")
            ))
        }),
    }
}

/// The platform an ecosystem's URL env var implies when nothing else names one or a URL:
/// `CONNECT_SERVER` alone is Posit Connect (CONTRACT §9).
fn implied_platform(src: &Sources) -> Result<PlatformKind> {
    let implied: Vec<(PlatformKind, &str)> = PlatformKind::ALL
        .into_iter()
        .filter_map(|p| {
            p.profile()
                .url_env
                .filter(|name| src.env(name).is_some())
                .map(|name| (p, name))
        })
        .collect();
    match implied.as_slice() {
        [] => Ok(PlatformKind::default()),
        [(p, _)] => Ok(*p),
        several => Err(Error::usage(format!(
            "{} are all set: set --platform (or {}) to say which platform to use",
            several
                .iter()
                .map(|(_, n)| *n)
                .collect::<Vec<_>>()
                .join(" and "),
            ev::STS_CLI_PLATFORM
        ))),
    }
}

/// Whether a token comes from a flag, an `STS_CLI_*` env var or the platform's own env var.
fn token_given(global: &GlobalArgs, src: &Sources, platform: PlatformKind) -> bool {
    global.api_token.is_some()
        || global.service_token.is_some()
        || global.k8s_sa_token.is_some()
        || global.k8s_sa_token_path.is_some()
        || [
            ev::STS_CLI_API_TOKEN,
            ev::STS_CLI_SERVICE_TOKEN,
            ev::STS_CLI_K8S_SA_TOKEN,
            ev::STS_CLI_K8S_SA_TOKEN_PATH,
        ]
        .iter()
        .any(|n| src.env(n).is_some())
        || platform
            .profile()
            .token_env
            .is_some_and(|n| src.env(n).is_some())
}

/// The platform's own token env var (`CONNECT_API_KEY`), read below the `STS_CLI_*` ones.
fn ecosystem_token(platform: PlatformKind, src: &Sources) -> Result<Option<Credential>> {
    let profile = platform.profile();
    let Some(name) = profile.token_env else {
        return Ok(None);
    };
    let Some(value) = src.env(name) else {
        return Ok(None);
    };
    let secret = Secret::new(value.trim());
    Ok(Some(match profile.token_env_kind {
        CredentialKind::ApiToken => Credential::ApiToken(secret),
        CredentialKind::ServiceToken => Credential::ServiceToken(secret),
        CredentialKind::K8sSaToken => Credential::K8sSaToken(secret),
    }))
}

/// A credential the platform cannot use is a usage error (exit 3) before any request.
pub fn check_credential(platform: PlatformKind, credential: &Credential) -> Result<()> {
    platform
        .auth(credential.kind())
        .map(|_| ())
        .map_err(Error::usage)
}

fn no_token(platform: PlatformKind) -> Error {
    let profile = platform.profile();
    Error::config(format!(
        "no token for {}: pass --api-token (`-` reads it from stdin), or set {}{}",
        profile.display,
        ev::STS_CLI_API_TOKEN,
        profile
            .token_env
            .map(|n| format!(" or {n}"))
            .unwrap_or_default()
    ))
}

/// `--timeout` > `STS_CLI_TIMEOUT` > 30 s.
pub fn resolve_timeout(global: &GlobalArgs, src: &Sources) -> Result<Duration> {
    match global
        .timeout
        .clone()
        .or_else(|| src.env(ev::STS_CLI_TIMEOUT))
    {
        None => Ok(DEFAULT_TIMEOUT),
        Some(t) => match parse_duration(&t) {
            Ok(d) if !d.is_zero() => Ok(d),
            Ok(_) => Err(Error::usage(format!(
                "invalid timeout {t:?}: it must be more than 0"
            ))),
            Err(e) => Err(Error::usage(format!("invalid timeout: {e}"))),
        },
    }
}

/// TLS settings: `skip_ssl` drops any CA; a CA path wins over base64 data.
pub fn resolve_tls(
    skip_ssl: bool,
    ca_path: Option<String>,
    ca_data: Option<String>,
) -> Result<TlsSettings> {
    let ca_pem = if skip_ssl {
        None
    } else if let Some(path) = ca_path {
        Some(crate::guard::read_ca_file(&path)?)
    } else if let Some(data) = ca_data {
        let compact: String = data.chars().filter(|c| !c.is_whitespace()).collect();
        Some(
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map_err(|e| {
                    Error::new(
                        Kind::Certificate,
                        format!("the CA certificate data is not valid base64: {e}"),
                    )
                })?,
        )
    } else {
        None
    };
    if let Some(pem) = &ca_pem {
        crate::guard::check_ca_pem(pem)?;
    }
    Ok(TlsSettings { skip_ssl, ca_pem })
}

/// The saved context in effect: the one named by `--context` / `STS_CLI_CONTEXT`, else the
/// current one; `None` when there is no config file (or it names no current context). A config
/// file that does not parse, or one named by `--config` / `STS_CLI_CONFIG` that does not exist,
/// is exit 1; a named context that does not exist is exit 8.
pub fn saved_context(global: &GlobalArgs, src: &Sources) -> Result<Option<SavedContext>> {
    let (config_path, named) = src.config_path(global)?;
    let name = src.context_name(global);
    let Some(config) = src.config_cache.load(&config_path)? else {
        if named {
            return Err(missing_config(&config_path));
        }
        return match name {
            Some(name) => Err(config::context_not_found(&name)),
            None => Ok(None),
        };
    };
    let found = match name {
        Some(name) => Some((name.clone(), config.context(&name)?.clone())),
        None => match config.current() {
            Ok(found) => found.map(|(name, ctx)| (name.to_string(), ctx.clone())),
            // §1: a `current-context` naming no saved context is no error when flags or env
            // vars give the URL and a token.
            Err(_) if url_and_token_given(global, src) => None,
            Err(e) => return Err(e),
        },
    };
    Ok(found.map(|(name, context)| SavedContext {
        name,
        context,
        config_path,
    }))
}

/// No URL anywhere: when contexts are saved but none is current (the current one was deleted),
/// say which to pick; else how to give a URL.
fn no_url(global: &GlobalArgs, src: &Sources) -> Error {
    let saved: Vec<String> = src
        .config_path(global)
        .ok()
        .and_then(|(path, _)| src.config_cache.load(&path).ok().flatten())
        .map(|c| c.contexts.keys().cloned().collect())
        .unwrap_or_default();
    if !saved.is_empty() {
        return Error::config(format!(
            "no context is current: `sts context use <one of {}>`, or pass --url URL",
            saved.join(", ")
        ));
    }
    Error::config(format!(
        "no server URL: pass --url URL or set {}, or save a context with `sts context save`",
        ev::STS_CLI_URL
    ))
}

/// Whether flags or env vars give a URL and a token, so no saved context is needed.
fn url_and_token_given(global: &GlobalArgs, src: &Sources) -> bool {
    let url = global.url.is_some() || src.env(ev::STS_CLI_URL).is_some();
    let flag = [
        &global.api_token,
        &global.service_token,
        &global.k8s_sa_token,
        &global.k8s_sa_token_path,
    ]
    .iter()
    .any(|t| t.is_some());
    let env = [
        ev::STS_CLI_API_TOKEN,
        ev::STS_CLI_SERVICE_TOKEN,
        ev::STS_CLI_K8S_SA_TOKEN,
        ev::STS_CLI_K8S_SA_TOKEN_PATH,
    ]
    .iter()
    .any(|name| src.env(name).is_some());
    // An ecosystem's own pair (`CONNECT_SERVER` + `CONNECT_API_KEY`, …) needs no context either.
    let ecosystem = PlatformKind::ALL.iter().any(|p| {
        let profile = p.profile();
        profile.url_env.is_some_and(|n| src.env(n).is_some())
            && profile.token_env.is_some_and(|n| src.env(n).is_some())
    });
    (url && (flag || env)) || ecosystem
}

/// A config file that should be there and is not (exit 1).
pub fn missing_config(path: &Path) -> Error {
    Error::config(format!(
        "no config file at {}: save a context with `sts context save --url URL --service-token -`",
        path.display()
    ))
}

/// The raw token values of one group (flags, or env vars).
struct Group<'a> {
    api_token: Option<String>,
    service_token: Option<String>,
    k8s_sa_token: Option<String>,
    k8s_sa_token_path: Option<String>,
    names: [&'a str; 4],
    /// The names are flags (`--api-token flag` as a source), not env vars.
    flags: bool,
}

fn credential_from_flags(
    global: &GlobalArgs,
    src: &mut Sources,
) -> Result<Option<(Credential, String)>> {
    Group {
        api_token: global.api_token.clone(),
        service_token: global.service_token.clone(),
        k8s_sa_token: global.k8s_sa_token.clone(),
        k8s_sa_token_path: global.k8s_sa_token_path.clone(),
        names: [
            "--api-token",
            "--service-token",
            "--k8s-sa-token",
            "--k8s-sa-token-path",
        ],
        flags: true,
    }
    .resolve(src)
}

fn credential_from_env(src: &mut Sources) -> Result<Option<(Credential, String)>> {
    Group {
        api_token: src.env(ev::STS_CLI_API_TOKEN),
        service_token: src.env(ev::STS_CLI_SERVICE_TOKEN),
        k8s_sa_token: src.env(ev::STS_CLI_K8S_SA_TOKEN),
        k8s_sa_token_path: src.env(ev::STS_CLI_K8S_SA_TOKEN_PATH),
        names: [
            ev::STS_CLI_API_TOKEN,
            ev::STS_CLI_SERVICE_TOKEN,
            ev::STS_CLI_K8S_SA_TOKEN,
            ev::STS_CLI_K8S_SA_TOKEN_PATH,
        ],
        flags: false,
    }
    .resolve(src)
}

impl Group<'_> {
    /// The one credential of this group and where it came from, `None` when it gives none, a
    /// usage error when it gives two kinds. A k8s token given directly wins over a k8s token
    /// file of the same group.
    fn resolve(self, src: &mut Sources) -> Result<Option<(Credential, String)>> {
        let [api_name, service_name, k8s_name, k8s_path_name] = self.names;
        let mut given: Vec<&str> = Vec::new();
        if self.api_token.is_some() {
            given.push(api_name);
        }
        if self.service_token.is_some() {
            given.push(service_name);
        }
        if self.k8s_sa_token.is_some() {
            given.push(k8s_name);
        } else if self.k8s_sa_token_path.is_some() {
            given.push(k8s_path_name);
        }
        if given.len() > 1 {
            return Err(Error::usage(format!(
                "only one kind of token may be given, but got {}",
                given.join(" and ")
            )));
        }
        let value = |v: String, name: &str, src: &mut Sources| token_value(v, name, src);
        let flags = self.flags;
        let source = |v: &str, name: &str| match (v, flags) {
            ("-", _) => "stdin".to_string(),
            (_, true) => format!("{name} flag"),
            (_, false) => name.to_string(),
        };
        Ok(if let Some(v) = self.api_token {
            let from = source(&v, api_name);
            Some((Credential::ApiToken(value(v, api_name, src)?), from))
        } else if let Some(v) = self.service_token {
            let from = source(&v, service_name);
            Some((Credential::ServiceToken(value(v, service_name, src)?), from))
        } else if let Some(v) = self.k8s_sa_token {
            let from = source(&v, k8s_name);
            Some((Credential::K8sSaToken(value(v, k8s_name, src)?), from))
        } else if let Some(path) = self.k8s_sa_token_path {
            let from = source(&path, k8s_path_name);
            Some((
                Credential::K8sSaToken(read_token_file(Path::new(&path))?),
                from,
            ))
        } else {
            None
        })
    }
}

/// A token value; `-` reads one line from stdin, surrounding whitespace trimmed.
pub fn token_value(value: String, name: &str, src: &mut Sources) -> Result<Secret> {
    if value != "-" {
        let secret = Secret::new(value);
        crate::guard::check_header_safe(&secret, name)?;
        return Ok(secret);
    }
    let line = (src.read_stdin_line)()
        .map_err(|e| Error::usage(format!("cannot read the token for {name} from stdin: {e}")))?;
    let token = line.trim();
    if token.is_empty() {
        return Err(Error::usage(format!(
            "{name} is `-` but standard input gave no token"
        )));
    }
    let secret = Secret::new(token);
    crate::guard::check_header_safe(&secret, name)?;
    Ok(secret)
}

fn read_token_file(path: &Path) -> Result<Secret> {
    let cannot = |e: &dyn std::fmt::Display| {
        Error::new(
            Kind::ReadFile,
            format!("cannot read the token file {}: {e}", path.display()),
        )
    };
    let bytes =
        crate::fsutil::read_bounded(path, crate::fsutil::MAX_FILE_BYTES).map_err(|e| cannot(&e))?;
    let text = String::from_utf8(bytes).map_err(|_| cannot(&"it is not valid UTF-8"))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(Error::new(
            Kind::ReadFile,
            format!("the token file {} is empty", path.display()),
        ));
    }
    Ok(Secret::new(token))
}

/// Nothing gave a token: the pod's service-account token when it exists, else an error.
fn default_k8s_token(path: &Path) -> Result<Credential> {
    if path.is_file() {
        return read_token_file(path).map(Credential::K8sSaToken);
    }
    Err(Error::config(format!(
        "no token: pass --service-token, --api-token or --k8s-sa-token (`-` reads it from stdin), \
         or set {}, {} or {}",
        ev::STS_CLI_SERVICE_TOKEN,
        ev::STS_CLI_API_TOKEN,
        ev::STS_CLI_K8S_SA_TOKEN
    )))
}

/// The default Kubernetes token path.
pub fn default_k8s_token_path() -> PathBuf {
    PathBuf::from(DEFAULT_K8S_SA_TOKEN_PATH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn out() -> OutputSettings {
        OutputSettings {
            format: OutputFormat::Text,
            verbosity: 0,
            no_color: false,
        }
    }

    fn run(global: &GlobalArgs, env: &[(&str, &str)], stdin: &str) -> Result<Settings> {
        let map: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env_fn = move |k: &str| map.get(k).cloned();
        let stdin = stdin.to_string();
        let mut read = move || Ok(stdin.clone());
        let mut src = Sources {
            env: &env_fn,
            read_stdin_line: &mut read,
            default_k8s_token_path: Path::new("/nonexistent/sts-test/token"),
            default_config_path: Some(Path::new("/nonexistent/sts-test/config.toml")),
            config_cache: Default::default(),
        };
        resolve(global, out(), &mut src)
    }

    fn args() -> GlobalArgs {
        GlobalArgs::default()
    }

    #[test]
    fn flag_beats_env_and_empty_env_is_unset() {
        let mut g = args();
        g.url = Some("http://flag".into());
        g.service_token = Some("t".into());
        let s = run(&g, &[("STS_CLI_URL", "http://env")], "").unwrap();
        assert_eq!(s.url, "http://flag");
        let s = run(
            &args(),
            &[
                ("STS_CLI_URL", "http://env"),
                ("STS_CLI_API_TOKEN", ""),
                ("STS_CLI_SERVICE_TOKEN", "svc"),
                ("STS_CLI_API_PATH", ""),
            ],
            "",
        )
        .unwrap();
        assert_eq!(s.url, "http://env");
        assert_eq!(s.api_path, "/api");
        assert_eq!(s.credential, Credential::ServiceToken(Secret::new("svc")));
        assert_eq!(s.timeout, Duration::from_secs(30));
    }

    #[test]
    fn no_url_anywhere_is_a_config_error() {
        let mut g = args();
        g.api_token = Some("t".into());
        let e = run(&g, &[("STS_CLI_URL", "")], "").unwrap_err();
        assert_eq!(e.kind, Kind::Config);
        assert!(e.message.contains("--url") && e.message.contains("STS_CLI_URL"));
    }

    #[test]
    fn credentials_resolve_as_a_group() {
        // A token flag hides every token env var, even of another kind.
        let mut g = args();
        g.url = Some("http://x".into());
        g.api_token = Some("flag".into());
        let s = run(&g, &[("STS_CLI_SERVICE_TOKEN", "env")], "").unwrap();
        assert_eq!(s.credential, Credential::ApiToken(Secret::new("flag")));
        // Two kinds in the winning group: usage error.
        g.k8s_sa_token = Some("k".into());
        assert_eq!(run(&g, &[], "").unwrap_err().kind, Kind::Usage);
        // Two kinds in the env group.
        let e = run(
            &args(),
            &[
                ("STS_CLI_URL", "http://x"),
                ("STS_CLI_API_TOKEN", "a"),
                ("STS_CLI_SERVICE_TOKEN", "b"),
            ],
            "",
        )
        .unwrap_err();
        assert_eq!(e.kind, Kind::Usage);
        assert!(
            e.message
                .contains("STS_CLI_API_TOKEN and STS_CLI_SERVICE_TOKEN")
        );
    }

    #[test]
    fn dash_reads_the_token_from_stdin() {
        let mut g = args();
        g.url = Some("http://x".into());
        g.service_token = Some("-".into());
        let s = run(&g, &[], "  svctok-abc \n").unwrap();
        assert_eq!(
            s.credential,
            Credential::ServiceToken(Secret::new("svctok-abc"))
        );
        assert_eq!(run(&g, &[], "\n").unwrap_err().kind, Kind::Usage);
    }

    #[test]
    fn token_file_is_read_or_exit_5() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "k8s-token\n").unwrap();
        let mut g = args();
        g.url = Some("http://x".into());
        g.k8s_sa_token_path = Some(file.display().to_string());
        let s = run(&g, &[], "").unwrap();
        assert_eq!(
            s.credential,
            Credential::K8sSaToken(Secret::new("k8s-token"))
        );
        g.k8s_sa_token_path = Some(dir.path().display().to_string()); // a folder
        assert_eq!(run(&g, &[], "").unwrap_err().kind, Kind::ReadFile);
    }

    #[test]
    fn default_k8s_token_only_when_nothing_else_and_present() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "pod-token").unwrap();
        let env_fn = |_: &str| None;
        let mut read = || Ok(String::new());
        let mut g = args();
        g.url = Some("http://x".into());
        let mut src = Sources {
            env: &env_fn,
            read_stdin_line: &mut read,
            default_k8s_token_path: &file,
            default_config_path: Some(Path::new("/nonexistent/sts-test/config.toml")),
            config_cache: Default::default(),
        };
        let s = resolve(&g, out(), &mut src).unwrap();
        assert_eq!(
            s.credential,
            Credential::K8sSaToken(Secret::new("pod-token"))
        );
        g.service_token = Some("svc".into());
        let s = resolve(&g, out(), &mut src).unwrap();
        assert_eq!(s.credential, Credential::ServiceToken(Secret::new("svc")));
        // Nothing at all: exit 1.
        g.service_token = None;
        assert_eq!(run(&g, &[], "").unwrap_err().kind, Kind::Config);
    }

    #[test]
    fn a_named_context_without_a_config_file_is_not_found() {
        let mut g = args();
        g.context = Some("prod".into());
        let e = run(&g, &[("STS_CLI_URL", "http://x")], "").unwrap_err();
        assert_eq!(e.kind, Kind::NotFound);
        assert!(e.message.contains("context 'prod' not found"));
    }

    #[test]
    fn timeout_url_and_bool_values() {
        let mut g = args();
        g.url = Some("http://x".into());
        g.api_token = Some("t".into());
        g.timeout = Some("2m".into());
        assert_eq!(run(&g, &[], "").unwrap().timeout, Duration::from_secs(120));
        g.timeout = Some("0s".into());
        assert_eq!(run(&g, &[], "").unwrap_err().kind, Kind::Usage);
        g.timeout = None;
        assert_eq!(
            run(&g, &[("STS_CLI_TIMEOUT", "soon")], "")
                .unwrap_err()
                .kind,
            Kind::Usage
        );
        assert!(
            run(&g, &[("STS_SKIP_SSL", "yes")], "")
                .unwrap()
                .tls
                .skip_ssl
        );
        assert!(!run(&g, &[("STS_SKIP_SSL", "0")], "").unwrap().tls.skip_ssl);
        assert_eq!(
            run(&g, &[("STS_SKIP_SSL", "maybe")], "").unwrap_err().kind,
            Kind::Usage
        );
        g.url = Some("ftp://x".into());
        assert_eq!(run(&g, &[], "").unwrap_err().kind, Kind::Config);
    }

    #[test]
    fn url_and_path_join_with_one_slash() {
        assert_eq!(join_url("https://bla///", "///api"), "https://bla/api");
        assert_eq!(join_url("http://h:1", "api"), "http://h:1/api");
        assert_eq!(join_url("http://h/", "/"), "http://h");
        assert_eq!(join_url("http://h/x", "/api/v1/"), "http://h/x/api/v1");
    }

    #[test]
    fn output_settings_turn_colour_off() {
        let g = args();
        assert!(!OutputSettings::resolve(&g, &|_| None).no_color);
        assert!(OutputSettings::resolve(&g, &|k| (k == "NO_COLOR").then(|| "1".into())).no_color);
        assert!(OutputSettings::resolve(&g, &|k| (k == "TERM").then(|| "DUMB".into())).no_color);
    }

    #[test]
    fn a_saved_context_fills_what_flags_and_env_leave_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        config::update(&path, |c| {
            c.current_context = Some("saved".into());
            c.contexts.insert(
                "saved".into(),
                config::Context {
                    url: "http://saved".into(),
                    platform: Default::default(),
                    api_path: "/saved-api".into(),
                    auth: Auth::ApiToken,
                    storage: Storage::File,
                    skip_ssl: false,
                    ca_cert_base64_data: None,
                    credential_id: "cred-1".into(),
                    extra: Default::default(),
                },
            );
            Ok(())
        })
        .unwrap();
        use crate::credentials::SecretStore as _;
        crate::credentials::FileStore::beside(&path)
            .set("cred-1", &Secret::new("saved-secret"))
            .unwrap();
        let config = path.display().to_string();

        let s = run(&args(), &[("STS_CLI_CONFIG", &config)], "").unwrap();
        assert_eq!(s.url, "http://saved");
        assert_eq!(s.api_path, "/saved-api");
        assert_eq!(
            s.credential,
            Credential::ApiToken(Secret::new("saved-secret"))
        );

        // Field by field on the context's own URL (normalised): the context's path and credential.
        let s = run(
            &args(),
            &[
                ("STS_CLI_CONFIG", &config),
                ("STS_CLI_URL", "HTTP://Saved:80/"),
            ],
            "",
        )
        .unwrap();
        assert_eq!(
            (s.url.as_str(), s.api_path.as_str()),
            ("HTTP://Saved:80/", "/saved-api")
        );
        assert_eq!(
            s.credential,
            Credential::ApiToken(Secret::new("saved-secret"))
        );

        // Another URL: the saved credential is never sent there (exit 1, both URLs named)…
        let e = run(
            &args(),
            &[("STS_CLI_CONFIG", &config), ("STS_CLI_URL", "http://env")],
            "",
        )
        .unwrap_err();
        assert_eq!(e.kind, Kind::Config);
        assert!(
            e.message.contains("http://env") && e.message.contains("http://saved"),
            "{}",
            e.message
        );
        // …and with a token for it, nothing of the context is used.
        let s = run(
            &args(),
            &[
                ("STS_CLI_CONFIG", &config),
                ("STS_CLI_URL", "http://env"),
                ("STS_CLI_SERVICE_TOKEN", "env-token"),
            ],
            "",
        )
        .unwrap();
        assert_eq!(
            (s.url.as_str(), s.api_path.as_str()),
            ("http://env", "/api")
        );

        // A token env var replaces the saved credential.
        let s = run(
            &args(),
            &[
                ("STS_CLI_CONFIG", &config),
                ("STS_CLI_SERVICE_TOKEN", "env-token"),
            ],
            "",
        )
        .unwrap();
        assert_eq!(
            s.credential,
            Credential::ServiceToken(Secret::new("env-token"))
        );

        // Where each part came from (`sts auth status`).
        let sources = |env: &[(&str, &str)]| {
            let map: std::collections::HashMap<String, String> = env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let env_fn = move |k: &str| map.get(k).cloned();
            let mut read = || Ok("from-stdin\n".to_string());
            let mut src = Sources {
                env: &env_fn,
                read_stdin_line: &mut read,
                default_k8s_token_path: Path::new("/nonexistent/sts-test/token"),
                default_config_path: None,
                config_cache: Default::default(),
            };
            resolve_with_sources(&args(), out(), &mut src).unwrap().1
        };
        let p = sources(&[("STS_CLI_CONFIG", &config)]);
        assert_eq!(
            (p.url.as_str(), p.platform.as_str(), p.credential.as_str()),
            ("context saved", "context saved", "credentials.toml")
        );
        assert_eq!(p.context.as_deref(), Some("saved"));
        assert_eq!(p.context_source.as_deref(), Some("current-context"));
        let p = sources(&[
            ("STS_CLI_CONFIG", &config),
            ("STS_CLI_URL", "http://env"),
            ("STS_CLI_SERVICE_TOKEN", "-"),
            ("STS_CLI_PLATFORM", "stackstate"),
        ]);
        assert_eq!(
            (p.url.as_str(), p.platform.as_str(), p.credential.as_str()),
            ("STS_CLI_URL", "STS_CLI_PLATFORM", "stdin")
        );
        assert_eq!(p.context, None);

        // A named config file that does not exist is exit 1; an unknown context is exit 8.
        let missing = dir.path().join("missing.toml").display().to_string();
        let e = run(&args(), &[("STS_CLI_CONFIG", &missing)], "").unwrap_err();
        assert_eq!(e.kind, Kind::Config);
        let e = run(
            &args(),
            &[("STS_CLI_CONFIG", &config), ("STS_CLI_CONTEXT", "other")],
            "",
        )
        .unwrap_err();
        assert_eq!(e.kind, Kind::NotFound);
    }
}

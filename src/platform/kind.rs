//! Which platform a command talks to, and the shape of what is fixed about each one without a
//! request (its [`Profile`]: name, base path, how it sends a credential, the ecosystem's own env
//! vars, what it has; CONTRACT §9). A leaf module: it imports nothing of `sts`. Each platform's
//! profile is in its folder; the registry (`platform/mod.rs`) maps a kind to it.

use serde::{Deserialize, Serialize};

/// A platform. Adding one means a variant here, its folder, and its lines in the registry.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum PlatformKind {
    #[default]
    Stackstate,
    PositConnect,
    Qualytics,
}

/// The kind of credential a command was given, before the platform says how it travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    ApiToken,
    ServiceToken,
    K8sSaToken,
}

/// How a credential travels: a header, and a prefix before the secret (`Key `, `Bearer `).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthScheme {
    pub header: &'static str,
    pub prefix: &'static str,
}

/// What is fixed about a platform.
#[derive(Debug)]
pub struct Profile {
    pub kind: PlatformKind,
    /// As `--platform` and the config spell it.
    pub name: &'static str,
    /// As people write it.
    pub display: &'static str,
    /// The API base under the server URL; `None`: the `--api-path` setting (StackState only).
    pub base_path: Option<&'static str>,
    /// The path below the API base that `context save` and `validate` ask (CONTRACT §9); asked
    /// of a server that answered another platform's with 404, to say which platform it is.
    pub validation_path: &'static str,
    /// The ecosystem's own URL and token env vars, read below the `STS_CLI_*` ones.
    pub url_env: Option<&'static str>,
    pub token_env: Option<&'static str>,
    /// The credential kind the ecosystem token env var gives.
    pub token_env_kind: CredentialKind,
    /// Whether the platform has ingestion API keys.
    pub ingestion_keys: bool,
    /// Whether the platform says when a token was last used (`--unused-for`).
    pub last_use: bool,
    /// Whether the pod's Kubernetes service-account token is used when nothing else gives one.
    pub k8s_default_token: bool,
    /// Examples of `sts service-token create` for the help, one command a line.
    pub create_examples: &'static [&'static str],
    /// Whether the platform has service users that tokens belong to (`sts service-user`).
    pub service_users: bool,
    /// What an error body of the platform's own shape says, if it has that shape; the client
    /// falls back to `message`, `detail`, `error` or `title`, then the text.
    pub error_message: fn(&serde_json::Value) -> Option<String>,
    /// Credential kind → how it travels, or why the platform refuses it.
    pub auth: fn(CredentialKind) -> Result<AuthScheme, &'static str>,
}

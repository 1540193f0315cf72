//! What a command did: plain data that `commands` builds and `output` renders, so that `output`
//! imports nothing of `commands`.

use std::path::PathBuf;

use crate::config::{self, Context, Storage};
use crate::credentials::CREDENTIALS_FILE_NAME;
use crate::error::{Error, Result};
use crate::platform::{CredentialKind, PlatformKind};
use crate::settings::{Provenance, Settings};

/// What `context save` did besides saving.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Saved {
    /// A warning to print: the replaced context's old credential stayed behind.
    pub warning: Option<String>,
    /// The context that was current before, when it was another one: the save switched away
    /// from it (`Current context set to <name>` on stderr).
    pub switched_from: Option<String>,
}

/// What `context rename` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Renamed {
    /// Whether the renamed context was the current one (and still is, by its new name).
    pub was_current: bool,
    /// A warning to print: the keyring item kept its old label.
    pub warning: Option<String>,
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub source: PathBuf,
    /// Imported contexts, in the source's order.
    pub imported: Vec<(String, Context)>,
    /// Contexts left out, with the reason.
    pub skipped: Vec<(String, String)>,
    /// The context this run made current (the source's current one, when it was imported).
    pub current_context: Option<String>,
    /// Things to say on stderr before the report (an old credential that stayed behind).
    pub warnings: Vec<String>,
    /// Things to say on stderr after the report: the source still holds the tokens in plain
    /// text, and who else may read it.
    pub source_warnings: Vec<String>,
}

/// A saved context to run the command for.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub context: config::Context,
}

/// What one context answered: the task's value, or why it failed.
#[derive(Debug)]
pub struct ContextResult<T> {
    pub name: String,
    pub platform: PlatformKind,
    pub url: String,
    pub result: Result<T>,
}

impl<T> ContextResult<T> {
    /// The exit code of the first failing context (by name), if any failed.
    pub fn first_failure(results: &[ContextResult<T>]) -> Option<i32> {
        results
            .iter()
            .find_map(|r| r.result.as_ref().err().map(Error::exit_code))
    }
}

/// What `auth status` reports: never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthStatus {
    pub url: String,
    pub url_source: String,
    pub platform: PlatformKind,
    pub platform_source: String,
    pub context: Option<String>,
    pub context_source: Option<String>,
    /// `api-token`, `service-token`, `k8s-sa-token`.
    pub credential_kind: &'static str,
    pub credential_source: String,
}

impl AuthStatus {
    /// The status of settings resolved with [`crate::settings::resolve_with_sources`].
    pub fn of(settings: &Settings, sources: &Provenance) -> AuthStatus {
        AuthStatus {
            url: settings.url.clone(),
            url_source: sources.url.clone(),
            platform: settings.platform,
            platform_source: sources.platform.clone(),
            context: sources.context.clone(),
            context_source: sources.context_source.clone(),
            credential_kind: kind_name(settings.credential.kind()),
            credential_source: sources.credential.clone(),
        }
    }

    /// The status of a saved context on its own (`auth status -A`).
    pub fn of_context(target: &Target) -> AuthStatus {
        let label = format!("context {}", target.name);
        AuthStatus {
            url: target.context.url.clone(),
            url_source: label.clone(),
            platform: target.context.platform,
            platform_source: label,
            context: Some(target.name.clone()),
            context_source: Some("-A".into()),
            credential_kind: target.context.auth.as_str(),
            credential_source: match target.context.storage {
                Storage::Keyring => "keyring".into(),
                Storage::File => CREDENTIALS_FILE_NAME.into(),
            },
        }
    }

    /// The context's name, or `-` when none is in use.
    pub fn context_name(&self) -> &str {
        self.context.as_deref().unwrap_or("-")
    }
}

/// A credential kind as `auth` names it.
pub fn kind_name(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::ApiToken => "api-token",
        CredentialKind::ServiceToken => "service-token",
        CredentialKind::K8sSaToken => "k8s-sa-token",
    }
}

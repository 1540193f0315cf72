//! `sts auth` (CONTRACT §11): which credential an API command would use right now, where each
//! part of it came from, and (`auth token`) the secret itself for another tool.

use crate::commands::fanout::Target;
use crate::config::Storage;
use crate::credentials::CREDENTIALS_FILE_NAME;
use crate::platform::{CredentialKind, PlatformKind};
use crate::settings::{Provenance, Settings};

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

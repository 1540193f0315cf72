//! What is fixed about Posit Connect without a request: its names, base path, env vars, how a
//! credential travels, what it has, and how its error bodies read.

use serde_json::Value;

use crate::platform::kind::{AuthScheme, CredentialKind, PlatformKind, Profile};

/// Posit Connect's server URL, as rsconnect and posit-sdk read it (below `STS_CLI_URL`).
pub const CONNECT_SERVER: &str = "CONNECT_SERVER";
/// Posit Connect's API key, as rsconnect and posit-sdk read it (below the `STS_CLI_*` tokens).
pub const CONNECT_API_KEY: &str = "CONNECT_API_KEY";

pub const PROFILE: Profile = Profile {
    kind: PlatformKind::PositConnect,
    name: "posit-connect",
    display: "Posit Connect",
    base_path: Some("/__api__"),
    validation_path: "v1/user",
    url_env: Some(CONNECT_SERVER),
    token_env: Some(CONNECT_API_KEY),
    token_env_kind: CredentialKind::ApiToken,
    ingestion_keys: false,
    last_use: true,
    k8s_default_token: false,
    create_examples: &[],
    service_users: false,
    error_message,
    auth: |kind| match kind {
        CredentialKind::ApiToken => Ok(AuthScheme {
            header: "Authorization",
            prefix: "Key ",
        }),
        CredentialKind::ServiceToken => Err(
            "a Posit Connect service token cannot manage service tokens: pass an \
             administrator's API key with --api-token (or CONNECT_API_KEY)",
        ),
        CredentialKind::K8sSaToken => {
            Err("Kubernetes service-account tokens are StackState's only: pass --api-token")
        }
    },
};

/// `error` of an `APIError` (the client's fallback reads it).
fn error_message(_body: &Value) -> Option<String> {
    None
}

//! What is fixed about Qualytics without a request: its names, base path, env vars, how a
//! credential travels, what it has, and how its error bodies read.

use serde_json::Value;

use crate::platform::kind::{AuthScheme, CredentialKind, PlatformKind, Profile};

/// Qualytics' instance URL, as qualytics-cli reads it (below `STS_CLI_URL`).
pub const QUALYTICS_URL: &str = "QUALYTICS_URL";
/// Qualytics' token, as qualytics-cli reads it (below the `STS_CLI_*` tokens).
pub const QUALYTICS_TOKEN: &str = "QUALYTICS_TOKEN";

pub const PROFILE: Profile = Profile {
    kind: PlatformKind::Qualytics,
    name: "qualytics",
    display: "Qualytics",
    base_path: Some("/api"),
    validation_path: "user-tokens",
    url_env: Some(QUALYTICS_URL),
    token_env: Some(QUALYTICS_TOKEN),
    token_env_kind: CredentialKind::ApiToken,
    ingestion_keys: false,
    last_use: true,
    k8s_default_token: false,
    create_examples: &[],
    service_users: true,
    error_message,
    auth: |kind| match kind {
        CredentialKind::ApiToken | CredentialKind::ServiceToken => Ok(AuthScheme {
            header: "Authorization",
            prefix: "Bearer ",
        }),
        CredentialKind::K8sSaToken => Err(
            "Kubernetes service-account tokens are StackState's only: pass --api-token or \
             --service-token",
        ),
    },
};

/// FastAPI's `detail` as a list of `{loc, msg, type}`: the first message.
fn error_message(body: &Value) -> Option<String> {
    let first = body.get("detail")?.as_array()?.first()?;
    Some(
        first
            .get("msg")
            .and_then(Value::as_str)
            .map_or_else(|| first.to_string(), str::to_string),
    )
}

//! What is fixed about StackState without a request: its names, base path, env vars, how a
//! credential travels, what it has, and how its error bodies read.

use serde_json::Value;

use crate::platform::kind::{AuthScheme, CredentialKind, PlatformKind, Profile};

pub const PROFILE: Profile = Profile {
    kind: PlatformKind::Stackstate,
    name: "stackstate",
    display: "StackState",
    base_path: None,
    validation_path: "server/info",
    url_env: None,
    token_env: None,
    token_env_kind: CredentialKind::ServiceToken,
    ingestion_keys: true,
    last_use: false,
    k8s_default_token: true,
    create_examples: &[
        "sts service-token create --name my-service-token --roles stackstate-k8s-troubleshooter",
        "sts service-token create --name ci --roles stackstate-power-user --expiration 2030-12-31",
        "sts service-token create --name ci --roles a,b --roles c --expiration 90d",
    ],
    service_users: false,
    error_message,
    auth: |kind| {
        Ok(match kind {
            CredentialKind::ApiToken => AuthScheme {
                header: "X-API-Token",
                prefix: "",
            },
            CredentialKind::ServiceToken => AuthScheme {
                header: "X-API-Key",
                prefix: "",
            },
            CredentialKind::K8sSaToken => AuthScheme {
                header: "X-API-ServiceBearer",
                prefix: "",
            },
        })
    },
};

/// `errors[].message` of a `GenericErrorsResponse`.
fn error_message(body: &Value) -> Option<String> {
    let messages: Vec<&str> = body
        .get("errors")?
        .as_array()?
        .iter()
        .filter_map(|e| e.get("message").and_then(Value::as_str))
        .filter(|m| !m.trim().is_empty())
        .collect();
    (!messages.is_empty()).then(|| messages.join("; "))
}

//! Every environment variable `sts` reads, named once (CONTRACT §1). The help text and the
//! settings resolution both use these constants.
//!
//! An environment variable set to the empty string counts as unset.

/// Server URL, `http://` or `https://`.
pub const STS_CLI_URL: &str = "STS_CLI_URL";
/// Personal API token, sent as `X-API-Token`.
pub const STS_CLI_API_TOKEN: &str = "STS_CLI_API_TOKEN";
/// Service token, sent as `X-API-Key`.
pub const STS_CLI_SERVICE_TOKEN: &str = "STS_CLI_SERVICE_TOKEN";
/// Kubernetes service-account token, sent as `X-API-ServiceBearer`.
pub const STS_CLI_K8S_SA_TOKEN: &str = "STS_CLI_K8S_SA_TOKEN";
/// File holding a Kubernetes service-account token.
pub const STS_CLI_K8S_SA_TOKEN_PATH: &str = "STS_CLI_K8S_SA_TOKEN_PATH";
/// API base path, default `/api`.
pub const STS_CLI_API_PATH: &str = "STS_CLI_API_PATH";
/// Name of the saved context to use instead of the current one.
pub const STS_CLI_CONTEXT: &str = "STS_CLI_CONTEXT";
/// Platform, one of the registry's names (`sts --help` lists them). A platform's own URL and
/// token variables are in its profile (`src/platform/<name>/profile.rs`).
pub const STS_CLI_PLATFORM: &str = "STS_CLI_PLATFORM";
/// Config file path.
pub const STS_CLI_CONFIG: &str = "STS_CLI_CONFIG";
/// Do not verify TLS certificates (`1/0`, `true/false`, `yes/no`).
pub const STS_SKIP_SSL: &str = "STS_SKIP_SSL";
/// Extra trusted CA, a PEM file.
pub const STS_CA_CERT_PATH: &str = "STS_CA_CERT_PATH";
/// Extra trusted CA, base64 of PEM.
pub const STS_CA_CERT_BASE64_DATA: &str = "STS_CA_CERT_BASE64_DATA";
/// Whole-command network deadline, e.g. `30s`.
pub const STS_CLI_TIMEOUT: &str = "STS_CLI_TIMEOUT";
/// How long a keyring call may take, e.g. `5s` (the default), `500ms`.
pub const STS_CLI_KEYRING_TIMEOUT: &str = "STS_CLI_KEYRING_TIMEOUT";
/// The Go CLI, which runs the commands `sts` does not have (a path, or a name on `PATH`; else
/// `sts-go` on `PATH`).
pub const STS_CLI_GO_BINARY: &str = "STS_CLI_GO_BINARY";
/// The name the Go CLI is looked for on `PATH` when [`STS_CLI_GO_BINARY`] is unset (its own name,
/// `sts`, is ours).
pub const GO_BINARY_ON_PATH: &str = "sts-go";
/// Set by `sts` in the Go CLI's environment when it hands a command over, so that a hand-off from
/// within a hand-off is refused.
pub const STS_CLI_HANDED_OFF: &str = "STS_CLI_HANDED_OFF";
/// The rotation journal (CONTRACT §12), default `journal.toml` beside the config.
pub const STS_CLI_JOURNAL: &str = "STS_CLI_JOURNAL";
/// The renewals file of `sts renew` (CONTRACT §12), default `renewals.toml` beside the config.
pub const STS_CLI_RENEWALS: &str = "STS_CLI_RENEWALS";
/// Any non-empty value turns colour and emoji symbols off.
pub const NO_COLOR: &str = "NO_COLOR";
/// `dumb` (any case) turns colour and emoji symbols off.
pub const TERM: &str = "TERM";

/// The user's config folder (XDG); `context import` finds the Go CLI's config under it.
pub const XDG_CONFIG_HOME: &str = "XDG_CONFIG_HOME";
/// The user's home folder; `context import` finds the vendor CLIs' files under it.
pub const HOME: &str = "HOME";

/// `1/0`, `true/false`, `yes/no`, any case.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" => Some(true),
        "0" | "false" | "no" => Some(false),
        _ => None,
    }
}

/// Reads an environment variable; an unset, empty or non-UTF-8 value is `None`.
pub fn get(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

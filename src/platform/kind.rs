//! Which platform a command talks to, and what is fixed about each one without a request: its
//! name, its base path, how it sends a credential, the ecosystem's own env vars (CONTRACT §9).
//! A leaf module: settings read it to decide the platform before anything else.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::env_vars as ev;

/// A platform. Adding one means a variant here, its [`Profile`], and its folder beside this file.
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
    /// Credential kind → how it travels, or why the platform refuses it.
    pub auth: fn(CredentialKind) -> Result<AuthScheme, &'static str>,
}

const STACKSTATE: Profile = Profile {
    kind: PlatformKind::Stackstate,
    name: "stackstate",
    display: "StackState",
    base_path: None,
    url_env: None,
    token_env: None,
    token_env_kind: CredentialKind::ServiceToken,
    ingestion_keys: true,
    last_use: false,
    k8s_default_token: true,
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

const POSIT_CONNECT: Profile = Profile {
    kind: PlatformKind::PositConnect,
    name: "posit-connect",
    display: "Posit Connect",
    base_path: Some("/__api__"),
    url_env: Some(ev::CONNECT_SERVER),
    token_env: Some(ev::CONNECT_API_KEY),
    token_env_kind: CredentialKind::ApiToken,
    ingestion_keys: false,
    last_use: true,
    k8s_default_token: false,
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

const QUALYTICS: Profile = Profile {
    kind: PlatformKind::Qualytics,
    name: "qualytics",
    display: "Qualytics",
    base_path: Some("/api"),
    url_env: Some(ev::QUALYTICS_URL),
    token_env: Some(ev::QUALYTICS_TOKEN),
    token_env_kind: CredentialKind::ApiToken,
    ingestion_keys: false,
    last_use: true,
    k8s_default_token: false,
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

impl PlatformKind {
    pub const ALL: [PlatformKind; 3] = [
        PlatformKind::Stackstate,
        PlatformKind::PositConnect,
        PlatformKind::Qualytics,
    ];

    pub fn profile(self) -> &'static Profile {
        match self {
            PlatformKind::Stackstate => &STACKSTATE,
            PlatformKind::PositConnect => &POSIT_CONNECT,
            PlatformKind::Qualytics => &QUALYTICS,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.profile().name
    }

    pub fn display(self) -> &'static str {
        self.profile().display
    }

    /// `--platform` / `STS_CLI_PLATFORM` / the config's spelling.
    pub fn parse(text: &str) -> Option<PlatformKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// How a credential of this kind travels to this platform, or a usage message.
    pub fn auth(self, kind: CredentialKind) -> Result<AuthScheme, &'static str> {
        (self.profile().auth)(kind)
    }

    /// The API base: the URL (a trailing base path already on it taken off, so it is not
    /// doubled) and the base path joined with exactly one `/`.
    pub fn api_base(self, url: &str, api_path: &str) -> String {
        let path = self.profile().base_path.unwrap_or(api_path);
        let url = strip_base_path(url, path);
        let path = path.trim_matches('/');
        if path.is_empty() {
            url.to_string()
        } else {
            format!("{url}/{path}")
        }
    }

    /// The server's own URL, a trailing base path taken off.
    pub fn server_url(self, url: &str, api_path: &str) -> String {
        let path = self.profile().base_path.unwrap_or(api_path);
        strip_base_path(url, path).to_string()
    }
}

impl fmt::Display for PlatformKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `https://c.example.com/rsc/__api__/` with base `/__api__` → `https://c.example.com/rsc`.
fn strip_base_path<'a>(url: &'a str, base: &str) -> &'a str {
    let url = url.trim_end_matches('/');
    let base = base.trim_matches('/');
    if base.is_empty() {
        return url;
    }
    match url.strip_suffix(base) {
        Some(rest) if rest.ends_with('/') && !rest.ends_with("//") => rest.trim_end_matches('/'),
        _ => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_path_on_the_url_is_not_doubled() {
        let p = PlatformKind::PositConnect;
        assert_eq!(
            p.api_base("https://c.example.com/rsc/__api__", ""),
            "https://c.example.com/rsc/__api__"
        );
        assert_eq!(
            p.api_base("https://c.example.com/rsc/", ""),
            "https://c.example.com/rsc/__api__"
        );
        let s = PlatformKind::Stackstate;
        assert_eq!(
            s.api_base("https://q.example.com/api/", "/api"),
            "https://q.example.com/api"
        );
        assert_eq!(
            s.server_url("https://q.example.com/api", "/api"),
            "https://q.example.com"
        );
        let s = PlatformKind::Stackstate;
        assert_eq!(s.api_base("http://h:1", "/api"), "http://h:1/api");
        assert_eq!(s.api_base("http://h:1/api", "/api"), "http://h:1/api");
        assert_eq!(s.api_base("http://h:1/", "/"), "http://h:1");
        // A host named like the base path is not a base path.
        assert_eq!(s.api_base("https://api", "/api"), "https://api/api");
    }

    #[test]
    fn names_parse() {
        for k in PlatformKind::ALL {
            assert_eq!(PlatformKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(PlatformKind::parse("gitlab"), None);
    }

    #[test]
    fn each_platform_says_how_a_credential_travels() {
        let posit = PlatformKind::PositConnect;
        assert_eq!(posit.auth(CredentialKind::ApiToken).unwrap().prefix, "Key ");
        assert!(posit.auth(CredentialKind::ServiceToken).is_err());
        let q = PlatformKind::Qualytics;
        assert_eq!(
            q.auth(CredentialKind::ServiceToken).unwrap().prefix,
            "Bearer "
        );
        assert_eq!(
            q.api_base("https://q.example.com/api/", ""),
            "https://q.example.com/api"
        );
        let s = PlatformKind::Stackstate;
        assert_eq!(
            s.auth(CredentialKind::K8sSaToken).unwrap().header,
            "X-API-ServiceBearer"
        );
    }
}

//! The platforms `sts` speaks to (CONTRACT §9), and the registry: the one place that names each
//! of them. Each platform is one folder implementing [`Platform`] (`interface.rs`): its profile,
//! its validation, how its errors read, its kinds of credential and their verbs. Outside
//! `src/platform/` (and the sandbox) no code names a particular platform.
//!
//! A fourth platform: a variant of [`PlatformKind`] (`kind.rs`), its folder, and one line in each
//! of [`with_platform!`] and [`PlatformKind::profile`].

pub mod common;
pub mod import;
pub mod interface;
pub mod kind;
pub mod posit_connect;
pub mod qualytics;
pub mod row_json;
pub mod stackstate;

use std::fmt;

pub use interface::*;
pub use kind::{AuthScheme, CredentialKind, PlatformKind, Profile};
pub use row_json::{Parts, RowJson};

use crate::error::Result;
use crate::http::client::Client;

/// Runs `$body` with `$P` bound to the [`Platform`] implementation of `$platform`: the one place
/// that turns a platform kind into its code.
#[macro_export]
macro_rules! with_platform {
    ($platform:expr, $P:ident => $body:expr) => {
        match $platform {
            $crate::platform::PlatformKind::Stackstate => {
                type $P = $crate::platform::stackstate::StackState;
                $body
            }
            $crate::platform::PlatformKind::PositConnect => {
                type $P = $crate::platform::posit_connect::PositConnect;
                $body
            }
            $crate::platform::PlatformKind::Qualytics => {
                type $P = $crate::platform::qualytics::Qualytics;
                $body
            }
        }
    };
}

/// Runs `$body` with `$K` bound to the service-token kind of `$platform`.
#[macro_export]
macro_rules! with_service_tokens {
    ($platform:expr, $K:ident => $body:expr) => {
        $crate::with_platform!($platform, P => {
            type $K = <P as $crate::platform::Platform>::ServiceTokens;
            $body
        })
    };
}

impl PlatformKind {
    pub const ALL: [PlatformKind; 3] = [
        PlatformKind::Stackstate,
        PlatformKind::PositConnect,
        PlatformKind::Qualytics,
    ];

    pub fn profile(self) -> &'static Profile {
        match self {
            PlatformKind::Stackstate => &stackstate::profile::PROFILE,
            PlatformKind::PositConnect => &posit_connect::profile::PROFILE,
            PlatformKind::Qualytics => &qualytics::profile::PROFILE,
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
        let url = common::strip_base_path(url, path);
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
        common::strip_base_path(url, path).to_string()
    }
}

impl fmt::Display for PlatformKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PlatformKind {
    /// The vendor CLI whose saved credentials `sts context import` reads for this platform.
    pub fn import_source(self) -> &'static import::VendorImport {
        with_platform!(self, P => &<P as Platform>::IMPORT)
    }
}

/// Every platform's vendor-CLI source, the default platform's first.
pub fn import_sources() -> Vec<&'static import::VendorImport> {
    let mut kinds = PlatformKind::ALL.to_vec();
    kinds.sort_by_key(|k| *k != PlatformKind::default());
    kinds.into_iter().map(PlatformKind::import_source).collect()
}

/// `sts context import <source>` of every source but the default, for the help's examples.
pub fn import_examples() -> String {
    import_sources()
        .iter()
        .skip(1)
        .map(|s| format!("\n  sts context import {}", s.name))
        .collect()
}

/// The names `sts context import` takes.
pub fn import_source_names() -> Vec<&'static str> {
    import_sources().iter().map(|s| s.name).collect()
}

/// The help of `sts context import`'s sources: one line each.
pub fn import_sources_help() -> String {
    import_sources()
        .iter()
        .map(|s| format!("  - {}\n", (s.help)()))
        .collect()
}

/// The examples of `sts service-token create`, every platform's, one a line.
pub fn create_examples() -> String {
    PlatformKind::ALL
        .iter()
        .flat_map(|k| k.profile().create_examples)
        .map(|e| format!("  {e}\n"))
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// How a credential of this kind travels on each platform that takes it, for the help of its
/// option: `X-API-Token (StackState), Authorization: Key TOKEN (Posit Connect)`.
pub fn credential_help(kind: CredentialKind) -> String {
    PlatformKind::ALL
        .iter()
        .filter_map(|k| {
            let scheme = k.auth(kind).ok()?;
            let how = if scheme.prefix.is_empty() {
                scheme.header.to_string()
            } else {
                format!("{}: {}TOKEN", scheme.header, scheme.prefix)
            };
            Some(format!("{how} ({})", k.display()))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The product line of `sts --help`: every platform by name.
pub fn about() -> String {
    let names: Vec<&str> = PlatformKind::ALL.iter().map(|k| k.display()).collect();
    let (last, rest) = names.split_last().expect("at least one platform");
    let list = if rest.is_empty() {
        last.to_string()
    } else {
        format!("{} and {last}", rest.join(", "))
    };
    format!("Command-line client for the service tokens of {list}")
}

/// The platform's validation request with the client's credential.
pub async fn validate(kind: PlatformKind, client: &Client) -> Result<Validation> {
    with_platform!(kind, P => P::validate(client).await)
}

/// The ecosystems' own env vars of every platform (`CONNECT_SERVER`, …), which `-A` ignores.
pub fn ecosystem_env_vars() -> Vec<&'static str> {
    PlatformKind::ALL
        .iter()
        .flat_map(|k| [k.profile().url_env, k.profile().token_env])
        .flatten()
        .collect()
}

/// `stackstate (default), posit-connect or qualytics`: the names `--platform` takes.
pub fn names_help() -> String {
    let names: Vec<String> = PlatformKind::ALL
        .iter()
        .map(|k| {
            if *k == PlatformKind::default() {
                format!("{k} (default)")
            } else {
                k.to_string()
            }
        })
        .collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.join(""),
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

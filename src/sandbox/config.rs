//! What `sts-sandbox` is started with: plain values, parsed by the binary's command line.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The admin API token (`X-API-Token`); random when `None`.
    pub admin_token: Option<String>,
    /// Where the state is persisted; in memory only when `None`.
    pub state_file: Option<PathBuf>,
    /// The version `/server/info` reports.
    pub server_version: ServerVersion,
    /// Kubernetes service-account tokens accepted in `X-API-ServiceBearer` (admin rights).
    pub k8s_sa_tokens: Vec<String>,
    /// The receiver API key that `authorize?withReceiverKey=true` also accepts.
    pub receiver_api_key: Option<String>,
    /// Serve HTTPS with this certificate and key; plain HTTP when `None`.
    pub tls: Option<TlsFiles>,
    /// Which platform's API to serve.
    pub platform: Platform,
    /// Posit Connect: API keys of a non-administrator (publisher) user.
    pub publisher_keys: Vec<String>,
    /// Qualytics: service users to create at start (name and role), unless one with the same
    /// login exists already.
    pub service_users: Vec<ServiceUserSeed>,
}

/// The platform a sandbox emulates (CONTRACT §9.3); one per process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Platform {
    #[default]
    StackState,
    PositConnect,
    Qualytics,
}

impl Platform {
    /// The name on the command line: `stackstate`, `posit-connect`, `qualytics`.
    pub fn name(self) -> &'static str {
        match self {
            Platform::StackState => "stackstate",
            Platform::PositConnect => "posit-connect",
            Platform::Qualytics => "qualytics",
        }
    }

    /// The version reported when `--server-version` is not given.
    pub fn default_server_version(self) -> ServerVersion {
        let text = match self {
            Platform::PositConnect => "2026.01.0",
            Platform::StackState | Platform::Qualytics => "6.0.0",
        };
        text.parse().unwrap_or_default()
    }
}

impl FromStr for Platform {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "stackstate" => Ok(Platform::StackState),
            "posit-connect" => Ok(Platform::PositConnect),
            "qualytics" => Ok(Platform::Qualytics),
            _ => Err(format!(
                "unknown platform {s:?}: expected stackstate, posit-connect or qualytics"
            )),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `--service-user NAME:ROLE` (Qualytics): a service user to seed at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUserSeed {
    pub name: String,
    pub role: String,
}

impl FromStr for ServiceUserSeed {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, role) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("invalid service user {s:?}: expected NAME:ROLE"))?;
        let (name, role) = (name.trim(), role.trim());
        if name.is_empty() || role.is_empty() {
            return Err(format!("invalid service user {s:?}: expected NAME:ROLE"));
        }
        Ok(ServiceUserSeed {
            name: name.to_string(),
            role: role.to_string(),
        })
    }
}

/// PEM files for HTTPS: the certificate chain (server certificate first) and its private key.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A semantic version as given on the command line (`6.0.0`, `6.1.2-rc.1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerVersion {
    pub major: i64,
    pub minor: i64,
    pub patch: i64,
    /// The version exactly as given, reported as `platformVersion`.
    pub text: String,
}

impl Default for ServerVersion {
    fn default() -> Self {
        ServerVersion {
            major: 6,
            minor: 0,
            patch: 0,
            text: "6.0.0".to_string(),
        }
    }
}

impl FromStr for ServerVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || format!("invalid version {s:?}: expected MAJOR.MINOR.PATCH, e.g. 6.0.0");
        let core = s.split(['-', '+']).next().unwrap_or_default();
        let parts: Vec<&str> = core.split('.').collect();
        let [major, minor, patch] = parts.as_slice() else {
            return Err(invalid());
        };
        let number = |p: &str| {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            p.parse::<i64>().map_err(|_| invalid())
        };
        Ok(ServerVersion {
            major: number(major)?,
            minor: number(minor)?,
            patch: number(patch)?,
            text: s.to_string(),
        })
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_pre_release_versions() {
        let v: ServerVersion = "6.1.2".parse().unwrap();
        assert_eq!((v.major, v.minor, v.patch), (6, 1, 2));
        let v: ServerVersion = "7.0.10-rc.1+build5".parse().unwrap();
        assert_eq!((v.major, v.minor, v.patch), (7, 0, 10));
        assert_eq!(v.text, "7.0.10-rc.1+build5");
    }

    #[test]
    fn parses_platforms_and_service_users() {
        assert_eq!("posit-connect".parse(), Ok(Platform::PositConnect));
        assert_eq!("qualytics".parse(), Ok(Platform::Qualytics));
        assert!("posit".parse::<Platform>().is_err());
        let seed: ServiceUserSeed = "Nightly Loader:Admin".parse().unwrap();
        assert_eq!(
            (seed.name.as_str(), seed.role.as_str()),
            ("Nightly Loader", "Admin")
        );
        assert!("nobody".parse::<ServiceUserSeed>().is_err());
        assert!(":Admin".parse::<ServiceUserSeed>().is_err());
        assert_eq!(
            Platform::PositConnect.default_server_version().text,
            "2026.01.0"
        );
    }

    #[test]
    fn rejects_what_is_not_a_version() {
        for bad in ["", "6", "6.0", "6.0.0.1", "a.b.c", "6.-1.0", "6..0"] {
            assert!(bad.parse::<ServerVersion>().is_err(), "{bad:?} accepted");
        }
    }
}

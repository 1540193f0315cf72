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
    fn rejects_what_is_not_a_version() {
        for bad in ["", "6", "6.0", "6.0.0.1", "a.b.c", "6.-1.0", "6..0"] {
            assert!(bad.parse::<ServerVersion>().is_err(), "{bad:?} accepted");
        }
    }
}

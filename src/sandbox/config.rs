//! What `sts-sandbox` is started with: plain values, parsed by the binary's command line.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::platform::PlatformKind;

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How long a client may take to send a request's headers, and how long an idle keep-alive
/// connection stays open, when `--header-timeout` is not given.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The admin API token (`X-API-Token`); random when `None`.
    pub admin_token: Option<String>,
    /// Where the state is persisted; in memory only when `None`.
    pub state_file: Option<PathBuf>,
    /// The version the platform reports; the platform's default when `None`.
    pub server_version: Option<ServerVersion>,
    /// Kubernetes service-account tokens accepted in `X-API-ServiceBearer` (admin rights).
    pub k8s_sa_tokens: Vec<String>,
    /// The receiver API key that `authorize?withReceiverKey=true` also accepts.
    pub receiver_api_key: Option<String>,
    /// Serve HTTPS with this certificate and key; plain HTTP when `None`.
    pub tls: Option<TlsFiles>,
    /// Which platform's API to serve.
    pub platform: PlatformKind,
    /// Posit Connect: API keys of a non-administrator (publisher) user.
    pub publisher_keys: Vec<String>,
    /// Qualytics: service users to create at start (name and role), unless one with the same
    /// login exists already.
    pub service_users: Vec<ServiceUserSeed>,
    /// A connection is closed when a request's headers take longer than this to arrive, or
    /// when it stays idle between requests this long.
    pub header_timeout: Duration,
}

/// `--platform`: one of the client's platform names (`stackstate`, `posit-connect`,
/// `qualytics`), as the client spells them.
pub fn parse_platform(s: &str) -> Result<PlatformKind, String> {
    PlatformKind::ALL
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| {
            let names: Vec<&str> = PlatformKind::ALL.iter().map(|k| k.as_str()).collect();
            format!("unknown platform {s:?}: expected {}", names.join(", "))
        })
}

/// `--header-timeout SECONDS`: a number of seconds, fractions allowed, from 0.001 to 3600.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    let seconds: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("invalid timeout {s:?}: expected a number of seconds"))?;
    if !(0.001..=3600.0).contains(&seconds) {
        return Err(format!(
            "invalid timeout {s:?}: expected between 0.001 and 3600 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
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
        assert_eq!(
            parse_platform("posit-connect"),
            Ok(PlatformKind::PositConnect)
        );
        assert_eq!(parse_platform("qualytics"), Ok(PlatformKind::Qualytics));
        assert_eq!(parse_platform("stackstate"), Ok(PlatformKind::Stackstate));
        let err = parse_platform("posit").unwrap_err();
        assert!(err.contains("posit-connect"), "{err}");
        let seed: ServiceUserSeed = "Nightly Loader:Admin".parse().unwrap();
        assert_eq!(
            (seed.name.as_str(), seed.role.as_str()),
            ("Nightly Loader", "Admin")
        );
        assert!("nobody".parse::<ServiceUserSeed>().is_err());
        assert!(":Admin".parse::<ServiceUserSeed>().is_err());
    }

    #[test]
    fn parses_timeouts() {
        assert_eq!(parse_timeout("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_timeout("0.5"), Ok(Duration::from_millis(500)));
        for bad in ["", "0", "-1", "ten", "3601", "NaN", "inf"] {
            assert!(parse_timeout(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn rejects_what_is_not_a_version() {
        for bad in ["", "6", "6.0", "6.0.0.1", "a.b.c", "6.-1.0", "6..0"] {
            assert!(bad.parse::<ServerVersion>().is_err(), "{bad:?} accepted");
        }
    }
}

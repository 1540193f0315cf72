//! Server URLs: the checks a URL gets before any request, joining a path, and whether two URLs
//! name the same server (CONTRACT §1).

use crate::error::{Error, Result};

/// Whether two server URLs name the same server: scheme and host compared in lower case, the
/// default port made explicit, trailing `/` dropped.
pub fn same_server(a: &str, b: &str) -> bool {
    normalise_url(a) == normalise_url(b)
}

fn normalise_url(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let scheme = scheme.to_ascii_lowercase();
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    let mut authority = authority.to_ascii_lowercase();
    let has_port = match authority.rfind(':') {
        Some(i) => !authority[i..].contains(']'),
        None => false,
    };
    if !has_port {
        authority.push_str(if scheme == "https" { ":443" } else { ":80" });
    }
    format!("{scheme}://{authority}{path}")
}

/// Checks a server URL: `http://` or `https://` and a host; no user info, query or fragment
/// (exit 3, [`crate::guard::check_url_parts`]).
pub fn check_url(url: &str) -> Result<()> {
    crate::guard::check_url_parts(url)?;
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(()),
        _ => Err(Error::config(format!(
            "invalid server URL {url:?}: it must start with http:// or https:// and name a host"
        ))),
    }
}

/// Joins a URL and a path with exactly one `/` (outer slashes stripped, as the Go CLI does).
pub fn join_url(url: &str, path: &str) -> String {
    let url = url.trim_end_matches('/');
    let path = path.trim_matches('/');
    if path.is_empty() {
        url.to_string()
    } else {
        format!("{url}/{path}")
    }
}

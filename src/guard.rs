//! Checks of what a user hands `sts` before it goes on the wire (CONTRACT §7): a URL holds no
//! credential (`user:pass@`), no query and no fragment; a token holds only characters an HTTP
//! header may carry. Each failure is a usage error (exit 3) raised before any request, and no
//! message built here repeats the value it refuses.

use crate::error::{Error, Result};
use crate::secret::Secret;

/// Refuses a server URL that carries user info (`user:pass@host`), a query (`?q`) or a fragment
/// (`#frag`). The password of a refused URL is registered for redaction, and the message never
/// shows the URL, so it is printed nowhere.
pub fn check_url_parts(url: &str) -> Result<()> {
    let rest = match url.find("://") {
        Some(i) => &url[i + 3..],
        None => url,
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if let Some(at) = authority.rfind('@') {
        let userinfo = &authority[..at];
        if let Some((_, password)) = userinfo.split_once(':') {
            crate::redact::register(password);
        }
        crate::redact::register(userinfo);
        return Err(Error::usage(
            "the server URL holds a user name or password (user:pass@host), which sts never \
             sends nor stores: remove it from the URL and pass the credential with \
             --service-token or --api-token (`-` reads it from stdin)",
        ));
    }
    if url.contains('#') {
        return Err(Error::usage(
            "the server URL has a fragment (#…): give the server's base URL only, e.g. \
             https://observability.example.com",
        ));
    }
    if url.contains('?') {
        return Err(Error::usage(
            "the server URL has a query (?…): give the server's base URL only, e.g. \
             https://observability.example.com",
        ));
    }
    Ok(())
}

/// Refuses a token holding a character an HTTP header value cannot carry (a newline, any other
/// control character, DEL): sending it would fail on every attempt, so it is a usage error
/// before any request. `what` names where the token came from (`--service-token`, a context).
pub fn check_header_safe(secret: &Secret, what: &str) -> Result<()> {
    let bad = secret
        .expose()
        .chars()
        .find(|c| c.is_control() || is_invisible_format(*c));
    match bad {
        None if !secret.expose().is_empty() => Ok(()),
        None => Err(Error::usage(format!("the token of {what} is empty"))),
        Some(c) => Err(Error::usage(format!(
            "the token of {what} holds a character that an HTTP header cannot carry \
             (U+{:04X}): check how it was copied (a trailing newline, a pasted escape)",
            c as u32
        ))),
    }
}

/// Bidirectional controls and line separators, which no token holds and no header should carry.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    #[test]
    fn urls_with_userinfo_query_or_fragment_are_usage_errors() {
        for url in [
            "https://user:hunter2-password@h.example.com",
            "https://user@h.example.com/api",
            "http://h.example.com/?q=1",
            "http://h.example.com#frag",
            "http://h.example.com/x#",
        ] {
            let e = check_url_parts(url).unwrap_err();
            assert_eq!(e.kind, Kind::Usage, "{url}");
            assert!(!e.message.contains("hunter2"), "{}", e.message);
            assert!(!e.message.contains(url), "{}", e.message);
        }
        for url in [
            "https://h.example.com",
            "http://127.0.0.1:7070/",
            "https://h.example.com/base/path",
            "https://[::1]:8443",
        ] {
            check_url_parts(url).unwrap();
        }
    }

    #[test]
    fn tokens_that_no_header_can_carry_are_usage_errors() {
        for bad in [
            "tok\n",
            "a\rb",
            "x\u{1b}[31m",
            "del\u{7f}",
            "c1\u{9b}",
            "bidi\u{202e}",
            "",
        ] {
            let e = check_header_safe(&Secret::new(bad), "--service-token").unwrap_err();
            assert_eq!(e.kind, Kind::Usage, "{bad:?}");
            assert!(e.message.contains("--service-token"), "{}", e.message);
        }
        check_header_safe(&Secret::new("svctok-abc_DEF.123"), "x").unwrap();
    }
}

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
    if register_url_password(url) {
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

/// Registers the user info of a URL (`user:pass@`) for redaction, so it is printed nowhere even
/// where the URL itself is shown (a hand-edited config in `context list`). Returns whether the
/// URL has user info.
pub fn register_url_password(url: &str) -> bool {
    let rest = match url.find("://") {
        Some(i) => &url[i + 3..],
        None => url,
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return false;
    };
    let userinfo = &authority[..at];
    if let Some((_, password)) = userinfo.split_once(':') {
        crate::redact::register(password);
    }
    crate::redact::register(userinfo);
    true
}

/// A context name must hold no control character and no bidirectional override (CONTRACT §6):
/// names reach terminals, shell completion and keyring labels. Usage error (exit 3).
pub fn check_context_name(name: &str, what: &str) -> Result<()> {
    match name.chars().find(|c| crate::redact::needs_escape(*c)) {
        None => Ok(()),
        Some(c) => Err(Error::usage(format!(
            "{what} holds a control character (U+{:04X}): a context name is printable text",
            c as u32
        ))),
    }
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

/// Checks CA data (PEM) before it is trusted or stored (CONTRACT §7): at least one
/// `CERTIFICATE` block, and every such block a certificate that parses (reqwest accepts garbage
/// DER without complaint and every later request then fails). Exit 11 otherwise.
pub fn check_ca_pem(pem: &[u8]) -> Result<()> {
    use tokio_rustls::rustls::RootCertStore;
    use tokio_rustls::rustls::pki_types::CertificateDer;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    let bad = |detail: String| {
        Error::new(
            crate::error::Kind::Certificate,
            format!("the CA certificate does not parse: {detail}"),
        )
    };
    let mut store = RootCertStore::empty();
    let mut count = 0;
    for (i, cert) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let cert = cert.map_err(|e| bad(format!("PEM block {}: {e}", i + 1)))?;
        store
            .add(cert)
            .map_err(|e| bad(format!("certificate {}: {e}", i + 1)))?;
        count += 1;
    }
    if count == 0 {
        return Err(bad("no PEM certificate block found".into()));
    }
    Ok(())
}

/// [`check_ca_pem`] of base64 CA data (`--ca-cert-base64-data`, a saved context's CA).
pub fn check_ca_base64(data: &str) -> Result<()> {
    use base64::Engine as _;
    let compact: String = data.chars().filter(|c| !c.is_whitespace()).collect();
    let pem = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| {
            Error::new(
                crate::error::Kind::Certificate,
                format!("the CA certificate data is not valid base64: {e}"),
            )
        })?;
    check_ca_pem(&pem)
}

/// Reads a CA file (at most 1 MiB, so `/dev/zero` is an error, not an abort): exit 5 when it
/// cannot be read.
pub fn read_ca_file(path: &str) -> Result<Vec<u8>> {
    crate::fsutil::read_bounded(std::path::Path::new(path), crate::fsutil::MAX_FILE_BYTES).map_err(
        |e| {
            Error::new(
                crate::error::Kind::ReadFile,
                format!("cannot read the CA file {path}: {e}"),
            )
        },
    )
}

#[cfg(test)]
mod ca_tests {
    use super::*;
    use crate::error::Kind;

    #[test]
    fn garbage_and_bad_der_cas_are_certificate_errors() {
        for pem in [
            &b"garbage"[..],
            b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
            // Valid base64, but the bytes are no certificate.
            b"-----BEGIN CERTIFICATE-----\nAAECAwQFBgcICQ==\n-----END CERTIFICATE-----\n",
        ] {
            assert_eq!(check_ca_pem(pem).unwrap_err().kind, Kind::Certificate);
        }
        assert_eq!(check_ca_base64("!!").unwrap_err().kind, Kind::Certificate);
    }
}

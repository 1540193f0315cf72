//! `sts api [-X METHOD] PATH [--input FILE|-] [-H 'Name: value']…` (CONTRACT §14, gh's `gh
//! api`): one request to the platform's API base with the credential in effect, the answer's
//! body on stdout as it came.

use std::io::Read;
use std::path::Path;

use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};

use super::{Failure, block_on};
use crate::cli::{ApiArgs, Cli};
use crate::error::{Error, Kind};
use crate::fsutil::{MAX_FILE_BYTES, read_bounded};
use crate::output::Printer;
use crate::settings::{self, OutputSettings, Sources};

/// Headers the command line may not set: the client sets them, or they would carry a credential
/// other than the one in effect.
const RESERVED: [&str; 7] = [
    "host",
    "content-length",
    "authorization",
    "x-api-token",
    "x-api-key",
    "x-api-servicebearer",
    "transfer-encoding",
];

/// The PATH, checked: below the API base, never another server.
pub fn check_path(path: &str) -> Result<String, Error> {
    let lower = path.to_ascii_lowercase();
    if lower.contains("://") || path.starts_with("//") || path.starts_with("\\\\") {
        return Err(Error::usage(format!(
            "the PATH of `sts api` is below the API base of the URL in effect, not a URL: {path} \
             (set the server with --url or --context)"
        )));
    }
    if path.chars().any(|c| c.is_control() || c == ' ') {
        return Err(Error::usage(
            "the PATH of `sts api` has spaces or control characters",
        ));
    }
    Ok(format!("/{}", path.trim_start_matches('/')))
}

/// `Name: value`, checked.
pub fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue), Error> {
    let bad = || Error::usage(format!("-H wants 'Name: value', got '{text}'"));
    let (name, value) = text.split_once(':').ok_or_else(bad)?;
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad())?;
    if RESERVED.contains(&name.as_str()) {
        return Err(Error::usage(format!(
            "-H {name}: sts sets that header itself (the credential is the one in effect)"
        )));
    }
    let value = HeaderValue::from_str(value.trim()).map_err(|_| bad())?;
    Ok((name, value))
}

fn method(a: &ApiArgs) -> Result<Method, Error> {
    match &a.method {
        None if a.input.is_some() => Ok(Method::POST),
        None => Ok(Method::GET),
        Some(m) => {
            let m = m.to_ascii_uppercase();
            if m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(Error::usage(format!("-X: not an HTTP method: {m}")));
            }
            Method::from_bytes(m.as_bytes()).map_err(|_| Error::usage(format!("-X: {m}")))
        }
    }
}

fn input(a: &ApiArgs, cli: &Cli) -> Result<Option<Vec<u8>>, Error> {
    let Some(from) = &a.input else {
        return Ok(None);
    };
    let too_large = || {
        Error::usage(format!(
            "--input is larger than {} MiB",
            MAX_FILE_BYTES / (1024 * 1024)
        ))
    };
    if from == "-" {
        let g = &cli.global;
        if [&g.api_token, &g.service_token, &g.k8s_sa_token]
            .iter()
            .any(|t| t.as_deref() == Some("-"))
        {
            return Err(Error::usage(
                "--input - reads the body from stdin, so the token cannot come from stdin too",
            ));
        }
        let mut body = Vec::new();
        std::io::stdin()
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut body)
            .map_err(|e| Error::usage(format!("cannot read --input from stdin: {e}")))?;
        if body.len() as u64 > MAX_FILE_BYTES {
            return Err(too_large());
        }
        return Ok(Some(body));
    }
    read_bounded(Path::new(from), MAX_FILE_BYTES)
        .map(Some)
        .map_err(|e| Error::new(Kind::ReadFile, format!("cannot read --input {from}: {e}")))
}

pub fn run(
    cli: &Cli,
    a: &ApiArgs,
    out: OutputSettings,
    printer: &Printer,
    src: &mut Sources,
) -> Result<(), Failure> {
    let path = check_path(&a.path)?;
    let method = method(a)?;
    let headers = a
        .headers
        .iter()
        .map(|h| parse_header(h))
        .collect::<Result<Vec<_>, Error>>()?;
    let body = input(a, cli)?;
    let settings = settings::resolve(&cli.global, out, src)?;
    for warning in &settings.warnings {
        printer.warn(warning);
    }
    block_on(async {
        let client = settings.client(printer)?.with_headers(headers);
        let answer = client.raw(method, &path, body).await?;
        printer.api_body(&answer.body, &answer.content_type, client.secret().expose())?;
        match answer.error {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_below_the_base_and_never_a_url() {
        assert_eq!(check_path("server/info").unwrap(), "/server/info");
        assert_eq!(check_path("/v1/user?x=1").unwrap(), "/v1/user?x=1");
        for bad in [
            "https://elsewhere/x",
            "HTTP://a/b",
            "//elsewhere/x",
            "/a b",
            "/a\nb",
        ] {
            assert_eq!(check_path(bad).unwrap_err().exit_code(), 3, "{bad}");
        }
    }

    #[test]
    fn headers_are_name_colon_value_and_never_a_credential() {
        let (n, v) = parse_header("X-Trace: abc 1").unwrap();
        assert_eq!((n.as_str(), v.to_str().unwrap()), ("x-trace", "abc 1"));
        for bad in ["nocolon", "Bad Name: x", "X-API-Key: k", "Host: evil"] {
            assert!(parse_header(bad).is_err(), "{bad}");
        }
    }
}

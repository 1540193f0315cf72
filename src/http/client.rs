//! The one HTTP client of `sts` (CONTRACT §1, §6, §7): base URL, auth header, `User-Agent`,
//! `Accept`, the whole-command deadline, retries, the response size cap, error decoding, and the
//! verbose log (secrets as `***`).

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;

use crate::error::{Error, Kind, Result};
use crate::platform::kind::AuthScheme;
use crate::redact::content as clean;
use crate::secret::Secret;

/// Largest response body `sts` reads.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// From how many bytes of an answer the helper thread ([`crate::worker`]) is started, while the
/// rest arrives: as much as a list's walk takes two threads for.
const HELPER_FROM: usize = 256 * 1024;
/// At most this many attempts per request (CONTRACT §7).
pub const MAX_ATTEMPTS: u32 = 4;
/// First retry delay; it doubles each time, with jitter.
const BASE_BACKOFF: Duration = Duration::from_millis(250);
/// A `Retry-After` longer than this is capped (the deadline still applies).
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// What the client is built from: resolved settings, without knowing where they came from.
pub struct ClientConfig {
    /// The API base URL (the server URL and the platform's base path).
    pub base: String,
    /// The credential and how it travels.
    pub secret: Secret,
    pub scheme: AuthScheme,
    /// The whole command's deadline.
    pub timeout: Duration,
    pub verbosity: u8,
    pub skip_ssl: bool,
    /// An extra trusted CA, PEM.
    pub ca_pem: Option<Vec<u8>>,
    /// What an error body of the platform's own shape says.
    pub error_message: fn(&Value) -> Option<String>,
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    secret: Secret,
    error_message: fn(&Value) -> Option<String>,
    /// How the platform wants the credential sent.
    scheme: AuthScheme,
    timeout: Duration,
    deadline: Instant,
    verbosity: u8,
    printer: Box<dyn Observer>,
    /// Headers of the command line (`sts api -H`), checked by the command.
    extra_headers: Vec<(reqwest::header::HeaderName, HeaderValue)>,
}

/// An answer of any status, for `sts api`: its body as it came, and the error a command would
/// have made of it when it is no 2xx.
pub struct RawAnswer {
    pub body: Vec<u8>,
    pub content_type: String,
    pub error: Option<Error>,
}

/// What the client reports as it works (a warning, a verbose log line, a request under way), so
/// that it never prints itself: `output`'s printer implements it.
pub trait Observer {
    fn warn(&self, message: &str);
    fn log(&self, line: &str);
    /// A guard held while a request waits for its answer (a spinner, on a terminal).
    fn waiting(&self) -> Option<Box<dyn std::any::Any>>;
    fn boxed(&self) -> Box<dyn Observer>;
}

/// An HTTP answer, body read in full.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    /// The body's JSON values and objects, counted as it arrived.
    counted: super::budget::Counted,
    /// The body is UTF-8, checked piece by piece as it arrived (while each piece was at hand).
    utf8: bool,
}

/// Checks the bytes of a body as they arrive for UTF-8, a piece at a time (a character cut
/// between two pieces is checked with the second).
#[derive(Debug, Default)]
struct Utf8Check {
    /// The bytes checked so far: whole characters.
    checked: usize,
    failed: bool,
}

impl Utf8Check {
    /// Checks what `body` holds past the bytes checked so far.
    fn feed(&mut self, body: &[u8]) {
        if self.failed {
            return;
        }
        match std::str::from_utf8(&body[self.checked..]) {
            Ok(_) => self.checked = body.len(),
            // A character not yet whole: its first bytes are checked with the next piece.
            Err(e) if e.error_len().is_none() => self.checked += e.valid_up_to(),
            Err(_) => self.failed = true,
        }
    }

    /// Whether `body`, fed whole, is UTF-8.
    fn holds(&self, body: &[u8]) -> bool {
        !self.failed && self.checked == body.len()
    }
}

/// The helper mapping a large answer's room while it arrives
/// ([`super::budget::populate_later`]): waited for before the room may move or go.
struct Mapping(Option<crate::worker::Later<()>>);

impl Mapping {
    /// Waits for the helper to end the mapping, if it has not.
    fn wait(&mut self) {
        if let Some(mapping) = self.0.take() {
            mapping.take();
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        self.wait();
    }
}

/// Why no answer came.
enum NoAnswer {
    /// Connection, DNS, TLS or transfer error; `refused` when the request was surely never sent,
    /// `certificate` when the server's certificate was rejected (no retry helps then).
    Network {
        message: String,
        refused: bool,
        certificate: bool,
    },
    TimedOut,
    TooLarge,
    /// The command's answers together passed a bound of [`super::budget`].
    Exceeded(super::budget::Exceeded),
}

impl Client {
    /// Builds the client; the deadline of the whole command starts now.
    pub fn new(config: &ClientConfig, printer: &dyn Observer) -> Result<Client> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let scheme = config.scheme;
        crate::guard::check_header_safe(&config.secret, scheme.header)?;
        // An API answers its own paths: a redirect is an error, so no credential header or body
        // ever travels to another host, or from https to http (CONTRACT §7).
        // ring is the process's cryptography for TLS (none other is built in): installed by
        // the first client (`-A` makes one per context).
        static TLS_PROVIDER: std::sync::Once = std::sync::Once::new();
        TLS_PROVIDER.call_once(|| {
            let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        });
        let mut builder = reqwest::Client::builder()
            .user_agent(user_agent())
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none());
        let https = config.base.to_ascii_lowercase().starts_with("https://");
        if !https {
            // An http:// URL never needs, so never loads, the system's root store.
            builder = builder.tls_certs_only(Vec::new());
        } else if config.skip_ssl {
            printer.warn("TLS certificates are not verified (--skip-ssl)");
            builder = builder.tls_danger_accept_invalid_certs(true);
        } else if let Some(pem) = &config.ca_pem {
            builder = builder.tls_certs_merge(parse_ca(pem)?);
        }
        let http = builder.build().map_err(|e| {
            Error::connect(format!("cannot set up the HTTP client: {}", root_cause(&e)))
        })?;
        Ok(Client {
            http,
            base: config.base.clone(),
            secret: config.secret.clone(),
            error_message: config.error_message,
            scheme,
            timeout: config.timeout,
            deadline: Instant::now() + config.timeout,
            verbosity: config.verbosity,
            printer: printer.boxed(),
            extra_headers: Vec::new(),
        })
    }

    /// `GET <base>/<path>`, decoded.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let answer = self.send(Method::GET, path, None).await?;
        decode(&Method::GET, path, &answer)
    }

    /// `GET <base>/<path>`, decoded by `decode` from the answer's text, which it may keep (a
    /// large list keeps each row's object as a slice of it, issue 24). Counted and refused as
    /// [`Client::get`]'s answers are; a `decode` error reads as theirs.
    pub async fn get_text<R>(
        &self,
        path: &str,
        decode: impl FnOnce(std::sync::Arc<String>) -> serde_json::Result<R>,
    ) -> Result<R> {
        let answer = self.send(Method::GET, path, None).await?;
        check_budget(&Method::GET, path, &answer)?;
        let status = answer.status;
        let text = if answer.utf8 {
            // SAFETY: the body was checked for UTF-8 whole as it arrived (`Utf8Check`).
            Ok(unsafe { String::from_utf8_unchecked(answer.body) })
        } else {
            String::from_utf8(answer.body)
        };
        let decoded = match text {
            Ok(text) => decode(std::sync::Arc::new(text)),
            // Not UTF-8: serde_json says where, as it does for `get`.
            Err(e) => serde_json::from_slice::<Value>(e.as_bytes()).and_then(|_| {
                Err(serde::de::Error::custom(format!(
                    "not UTF-8: {}",
                    e.utf8_error()
                )))
            }),
        };
        decoded.map_err(|e| decode_error(&Method::GET, path, status, &e))
    }

    /// `POST <base>/<path>` with a JSON body, decoded.
    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        let body = serde_json::to_vec(body)
            .map_err(|e| Error::usage(format!("cannot encode the request: {e}")))?;
        let answer = self.send(Method::POST, path, Some(body)).await?;
        decode(&Method::POST, path, &answer)
    }

    /// `POST <base>/<path>` with a JSON body, for an answer without a body (any 2xx is success).
    pub async fn post_no_content<B: Serialize>(&self, path: &str, body: &B) -> Result<()> {
        let body = serde_json::to_vec(body)
            .map_err(|e| Error::usage(format!("cannot encode the request: {e}")))?;
        self.send(Method::POST, path, Some(body)).await.map(|_| ())
    }

    /// `PUT <base>/<path>` with a JSON body; any 2xx is success (retried like `GET`).
    pub async fn put<B: Serialize>(&self, path: &str, body: &B) -> Result<()> {
        let body = serde_json::to_vec(body)
            .map_err(|e| Error::usage(format!("cannot encode the request: {e}")))?;
        self.send(Method::PUT, path, Some(body)).await.map(|_| ())
    }

    /// The same client, sending these headers too (`sts api -H`).
    pub fn with_headers(
        mut self,
        headers: Vec<(reqwest::header::HeaderName, HeaderValue)>,
    ) -> Client {
        self.extra_headers = headers;
        self
    }

    /// One request of any method to `<base>/<path>` (`sts api`), retried as every other; the
    /// answer whatever its status. No answer at all is the error.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<RawAnswer> {
        let url = format!("{}/{}", self.base, path.trim_start_matches('/'));
        let answer = self
            .send_answer(method.clone(), path, body, &std::cell::Cell::new(false))
            .await?;
        let body = answer.body.clone();
        let content_type = answer
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        Ok(RawAnswer {
            body,
            content_type,
            error: finish(&method, &url, answer, self.error_message).err(),
        })
    }

    /// The secret the client sends (Qualytics reads its own expiry from it).
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// The API base URL the client joins paths to.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The same connection settings for another credential and base URL, with a deadline of
    /// its own starting now (a rotation checks a new secret with it, CONTRACT §12).
    pub fn with_credential(&self, base: &str, secret: Secret, scheme: AuthScheme) -> Client {
        Client {
            http: self.http.clone(),
            base: base.trim_end_matches('/').to_string(),
            secret,
            error_message: self.error_message,
            scheme,
            timeout: self.timeout,
            deadline: Instant::now() + self.timeout,
            verbosity: self.verbosity,
            printer: self.printer.boxed(),
            extra_headers: Vec::new(),
        }
    }

    /// The same client with its deadline starting again now: `--timeout` bounds each network
    /// step of a rotation, and a delivery command may run for longer (CONTRACT §12).
    pub fn renewed(&self) -> Client {
        self.with_credential(&self.base, self.secret.clone(), self.scheme)
    }

    /// `DELETE <base>/<path>`; any 2xx is success.
    pub async fn delete(&self, path: &str) -> Result<()> {
        self.send(Method::DELETE, path, None).await.map(|_| ())
    }

    /// `DELETE <base>/<path>`, where a 404 to a retry counts as deleted: the first attempt may
    /// have deleted it before its answer was lost (Qualytics, CONTRACT §9.2).
    pub async fn delete_retried_404_ok(&self, path: &str) -> Result<()> {
        let retried = std::cell::Cell::new(false);
        match self
            .send_noting_retries(Method::DELETE, path, None, &retried)
            .await
        {
            Err(e) if e.status == Some(404) && retried.get() => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Sends with retries (CONTRACT §7); returns a 2xx answer or the error of the last answer.
    async fn send(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Result<Answer> {
        self.send_noting_retries(method, path, body, &std::cell::Cell::new(false))
            .await
    }

    /// [`Client::send`], setting `retried` once a second attempt is made.
    async fn send_noting_retries(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        retried: &std::cell::Cell<bool>,
    ) -> Result<Answer> {
        let url = format!("{}/{}", self.base, path.trim_start_matches('/'));
        let answer = self
            .send_answer(method.clone(), path, body, retried)
            .await?;
        finish(&method, &url, answer, self.error_message)
    }

    /// The last answer of any status after retries, or the error of no answer.
    async fn send_answer(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        retried: &std::cell::Cell<bool>,
    ) -> Result<Answer> {
        let url = format!("{}/{}", self.base, path.trim_start_matches('/'));
        let idempotent = method == Method::GET || method == Method::PUT || method == Method::DELETE;
        let mut last_answer: Option<Answer> = None;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.attempt(&method, &url, body.as_deref()).await;
            let retry_wait = match &outcome {
                Ok(a) if idempotent && is_retryable_status(a.status) => {
                    Some(retry_after(&a.headers).unwrap_or_else(|| backoff(attempt)))
                }
                Err(NoAnswer::Network {
                    refused,
                    certificate: false,
                    ..
                }) if idempotent || *refused => Some(backoff(attempt)),
                _ => None,
            };
            let wait = retry_wait
                .filter(|_| attempt < MAX_ATTEMPTS)
                .map(|w| w.min(MAX_BACKOFF))
                // Only when the deadline leaves room for the wait and a bit of an exchange.
                .filter(|w| Instant::now() + *w + Duration::from_millis(50) < self.deadline);
            match (outcome, wait) {
                (Ok(answer), None) => return Ok(answer),
                (Err(no), None) => {
                    return match last_answer {
                        Some(answer) => Ok(answer),
                        None => Err(self.no_answer_error(&method, &url, no)),
                    };
                }
                (outcome, Some(wait)) => {
                    if let Ok(answer) = outcome {
                        last_answer = Some(answer);
                    }
                    if self.verbosity >= 1 {
                        self.printer.log(&format!(
                            "* retrying in {} ms (attempt {} of {MAX_ATTEMPTS})",
                            wait.as_millis(),
                            attempt + 1
                        ));
                    }
                    tokio::time::sleep(wait).await;
                    retried.set(true);
                }
            }
        }
    }

    /// One exchange, bounded by the command's deadline.
    async fn attempt(
        &self,
        method: &Method,
        url: &str,
        body: Option<&[u8]>,
    ) -> std::result::Result<Answer, NoAnswer> {
        let mut req = self.http.request(method.clone(), url).header(
            self.scheme.header,
            format!("{}{}", self.scheme.prefix, self.secret.expose()),
        );
        for (name, value) in &self.extra_headers {
            req = req.header(name, value);
        }
        if let Some(body) = body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_vec());
        }
        let started = std::time::Instant::now();
        if self.verbosity >= 1 {
            self.printer.log(&format!("> {method} {url}"));
        }
        if self.verbosity >= 2 {
            self.printer.log(&format!("> User-Agent: {}", user_agent()));
            self.printer.log("> Accept: application/json");
            self.printer.log(&format!(
                "> {}: {}{}",
                self.scheme.header, self.scheme.prefix, &self.secret
            ));
            if let Some(body) = body {
                self.printer.log("> Content-Type: application/json");
                // A request body can hold a secret too (`apiKey` of an authorize call).
                self.printer.log(&format!("> {}", redacted_body(body)));
            }
        }
        let exchange = async {
            // Shown on a terminal when the exchange takes more than about 200 ms.
            let _spinner = self.printer.waiting();
            let mut resp = req.send().await.map_err(network)?;
            if resp
                .content_length()
                .is_some_and(|n| n > MAX_BODY_BYTES as u64)
            {
                return Err(NoAnswer::TooLarge);
            }
            let status = resp.status();
            let headers = resp.headers().clone();
            // One allocation of the announced size (already checked against the cap).
            let announced = resp.content_length().unwrap_or(0);
            // Small pages: backed by huge ones, 4 to 17 of 50 large lists waited 15 to 95 ms
            // longer for their answer (0 to 2 of 50 without), for a millisecond less at the median
            // (docs/benchmarks.md, the notes).
            let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
            // A large answer's room is mapped by the helper while it arrives (the helper starts
            // here: the walk and the output want it next). Declared after `body`: dropped, it
            // waits for the helper, before `body` can go.
            let mut mapping = Mapping(None);
            if body.capacity() >= HELPER_FROM && crate::scan::two_processors() {
                crate::worker::start();
                mapping.0 = super::budget::populate_later(&body);
            }
            // Counted for the budget as it arrives, while the next piece is on its way.
            let mut counter = super::budget::Counter::default();
            let mut utf8 = Utf8Check::default();
            while let Some(chunk) = resp.chunk().await.map_err(network)? {
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(NoAnswer::TooLarge);
                }
                super::budget::take_bytes(chunk.len()).map_err(NoAnswer::Exceeded)?;
                if body.len() + chunk.len() >= HELPER_FROM && crate::scan::two_processors() {
                    // A large answer: its walk and its output will want the second thread.
                    crate::worker::start();
                }
                counter.feed(&chunk);
                if body.len() + chunk.len() > body.capacity() {
                    // More than announced: `body` grows, which it may not while mapped.
                    mapping.wait();
                }
                body.extend_from_slice(&chunk);
                utf8.feed(&body);
            }
            mapping.wait();
            if *method == Method::POST {
                // A create's answer holds a new secret: known before anything is logged.
                crate::redact::register_json_secrets(&body);
            }
            Ok(Answer {
                status,
                headers,
                utf8: utf8.holds(&body),
                body,
                counted: counter.counted(),
            })
        };
        let result = match tokio::time::timeout_at(self.deadline, exchange).await {
            Ok(r) => r,
            Err(_) => Err(NoAnswer::TimedOut),
        };
        let ms = started.elapsed().as_millis();
        match &result {
            Ok(a) if self.verbosity >= 1 => {
                self.printer.log(&format!(
                    "< {} in {ms} ms ({} bytes)",
                    status_line(a.status),
                    a.body.len()
                ));
                if self.verbosity >= 2 {
                    for (name, value) in &a.headers {
                        self.printer.log(&format!(
                            "< {name}: {}",
                            String::from_utf8_lossy(value.as_bytes())
                        ));
                    }
                    if !a.body.is_empty() {
                        self.printer
                            .log(&format!("< {}", logged_body(a.status, &a.body)));
                    }
                }
            }
            Err(NoAnswer::Network { message, .. }) if self.verbosity >= 1 => {
                self.printer
                    .log(&format!("< no answer after {ms} ms: {message}"));
            }
            Err(NoAnswer::TimedOut) if self.verbosity >= 1 => {
                self.printer
                    .log(&format!("< no answer after {ms} ms: timed out"));
            }
            _ => {}
        }
        result
    }

    fn no_answer_error(&self, method: &Method, url: &str, no: NoAnswer) -> Error {
        match no {
            NoAnswer::Network { message, .. } => {
                Error::connect(format!("could not connect to {url}: {message}"))
            }
            NoAnswer::TimedOut => Error::connect(format!(
                "no answer to {method} {url} within the timeout of {} (--timeout)",
                humantime(self.timeout)
            )),
            NoAnswer::TooLarge => Error::usage(format!(
                "the answer to {method} {url} is larger than {} MiB",
                MAX_BODY_BYTES / (1024 * 1024)
            )),
            NoAnswer::Exceeded(which) => Error::usage(format!(
                "stopped reading the answer to {method} {url}: {}",
                which.describe()
            )),
        }
    }
}

/// `sts/<version>`.
pub fn user_agent() -> String {
    format!("sts/{}", env!("CARGO_PKG_VERSION"))
}

/// CA certificates from PEM; data with no parseable certificate is exit 11.
fn parse_ca(pem: &[u8]) -> Result<Vec<reqwest::Certificate>> {
    let bad = |detail: &str| {
        Error::new(
            Kind::Certificate,
            format!("the CA certificate does not parse: {detail}"),
        )
    };
    crate::guard::check_ca_pem(pem)?;
    let text = String::from_utf8_lossy(pem);
    if !text.contains("-----BEGIN CERTIFICATE-----") {
        return Err(bad("no PEM certificate block found"));
    }
    let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| bad(&root_cause(&e)))?;
    if certs.is_empty() {
        return Err(bad("no PEM certificate block found"));
    }
    Ok(certs)
}

fn network(e: reqwest::Error) -> NoAnswer {
    let refused = e.is_connect() && {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        let mut found = false;
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                found |= io.kind() == std::io::ErrorKind::ConnectionRefused;
            }
            source = s.source();
        }
        found
    };
    match certificate_problem(&e) {
        Some(message) => NoAnswer::Network {
            message,
            refused: false,
            certificate: true,
        },
        None => NoAnswer::Network {
            message: root_cause(&e),
            refused,
            certificate: false,
        },
    }
}

/// A rejected server certificate, said in words a user can act on; `None` for other errors.
fn certificate_problem(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    use tokio_rustls::rustls::{CertificateError, Error as TlsError};
    let mut source = Some(e);
    while let Some(s) = source {
        if let Some(TlsError::InvalidCertificate(problem)) = tls_error(s) {
            let trust = "pass the CA that signed it with --ca-cert-path or \
                         --ca-cert-base64-data (or, only for testing, --skip-ssl)";
            return Some(match problem {
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    "the server's certificate is not valid for this host name; use a name the \
                     certificate lists (or, only for testing, --skip-ssl)"
                        .to_string()
                }
                CertificateError::UnknownIssuer => {
                    format!("the server's certificate is not trusted (unknown issuer); {trust}")
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "the server's certificate has expired".to_string()
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    "the server's certificate is not valid yet (check the clock)".to_string()
                }
                other => format!("the server's certificate is not trusted ({other:?}); {trust}"),
            });
        }
        source = s.source();
    }
    None
}

/// The rustls error that this link of an error chain is or wraps. `io::Error` hides what it
/// wraps from `source()`, so look inside it too.
fn tls_error<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a tokio_rustls::rustls::Error> {
    if let Some(tls) = e.downcast_ref::<tokio_rustls::rustls::Error>() {
        return Some(tls);
    }
    if let Some(inner) = e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        return tls_error(inner);
    }
    None
}

/// The innermost cause of an error chain, which is the part a user can act on.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn is_retryable_status(s: StatusCode) -> bool {
    matches!(s.as_u16(), 429 | 502 | 503 | 504)
}

/// Exponential backoff with jitter: 250 ms, 500 ms, 1 s … each between half and the full value.
fn backoff(attempt: u32) -> Duration {
    let full = BASE_BACKOFF.saturating_mul(1 << attempt.saturating_sub(1).min(10));
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
        % 1000;
    full / 2 + full / 2 * jitter / 1000
}

/// `Retry-After` in seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let ms = when.timestamp_millis() - chrono::Utc::now().timestamp_millis();
    Some(Duration::from_millis(ms.max(0) as u64))
}

/// A 2xx answer passes; a redirect is exit 3 naming where it points; anything else becomes the
/// error of CONTRACT §6.
fn finish(
    method: &Method,
    url: &str,
    answer: Answer,
    error_message: fn(&Value) -> Option<String>,
) -> Result<Answer> {
    if answer.status.is_success() {
        return Ok(answer);
    }
    if answer.status.is_redirection() {
        return Err(redirect_error(method, url, &answer));
    }
    let content_type = answer
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Err(http_error(
        method,
        url,
        answer.status,
        content_type,
        &answer.body,
        error_message,
    ))
}

/// A 3xx answer: sts follows no redirect (CONTRACT §7), so the error names the `Location`.
fn redirect_error(method: &Method, url: &str, answer: &Answer) -> Error {
    let location = answer
        .headers
        .get(reqwest::header::LOCATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let message = match location {
        Some(location) => format!(
            "{} for {method} {url}: the server redirects to {}; sts follows no redirect, so \
             no credential goes to another address: if that is the server, use its URL",
            status_line(answer.status),
            one_line(&location)
        ),
        None => format!(
            "{} for {method} {url}: the server answered with a redirect (no Location); sts \
             follows no redirect",
            status_line(answer.status)
        ),
    };
    Error::usage(message).with_status(answer.status.as_u16())
}

fn decode<T: DeserializeOwned>(method: &Method, path: &str, answer: &Answer) -> Result<T> {
    check_budget(method, path, answer)?;
    serde_json::from_slice(&answer.body).map_err(|e| decode_error(method, path, answer.status, &e))
}

/// Counted before decoding: a small answer of many tiny values costs far more memory decoded.
fn check_budget(method: &Method, path: &str, answer: &Answer) -> Result<()> {
    super::budget::take_counted(answer.counted).map_err(|which| {
        Error::usage(format!(
            "the answer to {method} {path} was not decoded: {}",
            which.describe()
        ))
    })
}

fn decode_error(method: &Method, path: &str, status: StatusCode, e: &serde_json::Error) -> Error {
    Error::usage(format!(
        "the server's answer to {method} {path} ({}) could not be decoded: {e}",
        status_line(status)
    ))
}

/// `404 Not Found`.
pub fn status_line(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// The error for a non-2xx answer: 401 is exit 4, any other is exit 3; the message shows what
/// the body says.
pub fn http_error(
    method: &Method,
    url: &str,
    status: StatusCode,
    content_type: &str,
    body: &[u8],
    error_message: fn(&Value) -> Option<String>,
) -> Error {
    let line = status_line(status);
    let detail = error_detail(content_type, body, error_message);
    let message = match (&detail, status.as_u16()) {
        (Detail::Html, _) => format!("{line} (the server answered with HTML, not JSON)"),
        (Detail::Text(d), 401) => {
            format!("authentication failed ({line}: {d}) for {method} {url}: check the token")
        }
        (Detail::None, 401) => {
            format!("authentication failed ({line}) for {method} {url}: check the token")
        }
        (Detail::Text(d), _) => format!("{line}: {d}"),
        (Detail::None, _) => line,
    };
    let kind = if status == StatusCode::UNAUTHORIZED {
        Kind::Connect
    } else {
        Kind::Usage
    };
    Error::new(kind, message)
        .with_status(status.as_u16())
        .with_server_code(server_code(body))
}

/// Posit Connect's application error number: `code` beside an `error` string.
fn server_code(body: &[u8]) -> Option<i64> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value.get("error").and_then(Value::as_str)?;
    value.get("code").and_then(Value::as_i64)
}

#[derive(Debug, PartialEq, Eq)]
enum Detail {
    None,
    Html,
    Text(String),
}

/// What an error body says: what the platform's own shape says (`error_message`), else its
/// `message`, `detail`, `error` or `title`, else the first line of a plain-text body.
fn error_detail(
    content_type: &str,
    body: &[u8],
    error_message: fn(&Value) -> Option<String>,
) -> Detail {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Detail::None;
    }
    if let Ok(value) = serde_json::from_str::<Value>(trimmed) {
        if let Some(m) = error_message(&value).filter(|m| !m.trim().is_empty()) {
            return Detail::Text(one_line(&m));
        }
        for key in ["message", "detail", "error", "title"] {
            if let Some(m) = value
                .get(key)
                .and_then(Value::as_str)
                .filter(|m| !m.trim().is_empty())
            {
                return Detail::Text(one_line(m));
            }
        }
        return Detail::Text(one_line(&value.to_string()));
    }
    let lower = trimmed.to_ascii_lowercase();
    if content_type.to_ascii_lowercase().contains("html")
        || lower.starts_with("<!doctype html")
        || lower.starts_with("<html")
    {
        return Detail::Html;
    }
    Detail::Text(one_line(trimmed))
}

/// The first non-empty line, control characters removed, at most 300 characters.
fn one_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let line = clean(line);
    if line.chars().count() > 300 {
        let cut: String = line.chars().take(300).collect();
        format!("{cut}…")
    } else {
        line
    }
}

/// A response body for the `-vv` log. A 2xx body that is not JSON is not shown (a broken create
/// answer would show its new secret, which is not known yet); an error body that is not JSON is
/// shown as text, and the printer masks known secrets in it.
fn logged_body(status: StatusCode, body: &[u8]) -> String {
    if status.is_success() && serde_json::from_slice::<Value>(body).is_err() {
        return format!("[{} bytes that are not JSON, not shown]", body.len());
    }
    redacted_body(body)
}

/// A body for the log: JSON with every secret field (`token`, `apiKey`, …) shown as `***`.
fn redacted_body(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(mut v) => {
            redact(&mut v);
            v.to_string()
        }
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let shown: String = text.chars().take(2000).collect();
            clean(&shown)
        }
    }
}

fn redact(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if crate::redact::SECRET_FIELDS.contains(&k.as_str()) {
                    *val = Value::String("***".into());
                } else {
                    redact(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

fn humantime(d: Duration) -> String {
    format!("{}s", d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// A body checked for UTF-8 piece by piece, cut anywhere (inside a character too), is
        /// found UTF-8 exactly when it is whole.
        #[test]
        fn a_body_checked_as_it_arrives_is_utf8_exactly_when_it_is_whole(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::prelude::Just(b"a".to_vec()),
                    proptest::prelude::Just("\u{e9}".as_bytes().to_vec()),
                    proptest::prelude::Just("\u{65e5}".as_bytes().to_vec()),
                    proptest::prelude::Just("\u{1f642}".as_bytes().to_vec()),
                    proptest::prelude::Just(vec![0xff]),
                    proptest::prelude::Just(vec![0xe6, 0x97]),
                    proptest::prelude::Just(vec![0x80]),
                ],
                0..40,
            ),
            cuts in proptest::collection::vec(0usize..200, 0..8),
        ) {
            let whole = parts.concat();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(whole.len())).collect();
            cuts.push(whole.len());
            cuts.sort_unstable();
            let mut check = Utf8Check::default();
            let mut body = Vec::new();
            let mut from = 0;
            for cut in cuts {
                body.extend_from_slice(&whole[from..cut]);
                check.feed(&body);
                from = cut;
            }
            proptest::prop_assert_eq!(check.holds(&body), std::str::from_utf8(&whole).is_ok());
        }
    }

    /// A platform whose errors are `errors[].message`.
    fn listed(v: &Value) -> Option<String> {
        let first = v.get("errors")?.as_array()?.first()?;
        first.get("message")?.as_str().map(str::to_string)
    }

    fn err(status: u16, ct: &str, body: &str) -> Error {
        http_error(
            &Method::GET,
            "http://h/api/x",
            StatusCode::from_u16(status).unwrap(),
            ct,
            body.as_bytes(),
            listed,
        )
    }

    #[test]
    fn error_bodies_are_shown() {
        let e = err(
            500,
            "application/json",
            r#"{"_type":"ErrorsResponse","errors":[{"_type":"InternalError","message":"boom"}],"serverTimestamp":1,"trackingKey":"k"}"#,
        );
        assert_eq!(
            (e.message.as_str(), e.kind, e.status),
            ("500 Internal Server Error: boom", Kind::Usage, Some(500))
        );
        let e = err(
            400,
            "application/json",
            r#"{"_type":"ServiceTokenInvalidExpiryError","message":"in the past"}"#,
        );
        assert_eq!(e.message, "400 Bad Request: in the past");
        let e = err(404, "text/plain", "\nnot here\nsecond line");
        assert_eq!(e.message, "404 Not Found: not here");
        let e = err(502, "text/html", "<html><body>bad gateway</body></html>");
        assert_eq!(
            e.message,
            "502 Bad Gateway (the server answered with HTML, not JSON)"
        );
        let e = err(403, "", "");
        assert_eq!((e.message.as_str(), e.kind), ("403 Forbidden", Kind::Usage));
        let e = err(
            401,
            "application/json",
            r#"{"errors":[{"message":"bad token"}]}"#,
        );
        assert_eq!(e.kind, Kind::Connect);
        assert!(e.message.contains("bad token"), "{}", e.message);
    }

    #[test]
    fn secrets_are_redacted_in_logged_bodies() {
        let s =
            redacted_body(br#"{"name":"n","token":"svctok-x","nested":[{"apiKey":"iapikey-y"}]}"#);
        assert!(!s.contains("svctok-x") && !s.contains("iapikey-y"), "{s}");
        assert!(s.contains("***"));
    }

    #[test]
    fn backoff_grows_with_jitter_and_retry_after_is_read() {
        for attempt in 1..=3 {
            let b = backoff(attempt);
            let full = BASE_BACKOFF * (1 << (attempt - 1));
            assert!(b >= full / 2 && b <= full, "{b:?}");
        }
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }

    #[test]
    fn garbage_ca_is_a_certificate_error() {
        assert_eq!(parse_ca(b"garbage").unwrap_err().kind, Kind::Certificate);
        assert_eq!(
            parse_ca(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")
                .unwrap_err()
                .kind,
            Kind::Certificate
        );
    }
}

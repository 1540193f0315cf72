//! The one error type of the CLI. Its [`Kind`] maps to the exit codes of CONTRACT §6; `main` is
//! the only place that turns it into a code.

use std::fmt;

/// What went wrong, as far as the exit code is concerned (CONTRACT §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 1: config file missing, unreadable or invalid; a bad context; no URL; an unreadable saved credential.
    Config,
    /// 3: usage error, or the server answered with an HTTP error, or a 2xx body that does not decode.
    Usage,
    /// 4: could not connect (DNS, refused, TLS, timeout), or 401.
    Connect,
    /// 5: the CA file or the token file cannot be read.
    ReadFile,
    /// 6: the config file or the keyring cannot be written.
    Write,
    /// 7: `--fail-if-any` was given and the filtered list is not empty.
    Matched,
    /// 8: the named context does not exist.
    NotFound,
    /// 10: the server's version is below 5.0.0.
    Version,
    /// 11: a CA certificate does not parse.
    Certificate,
    /// 12: a delivery or verify command failed or timed out (CONTRACT §12).
    Command,
}

impl Kind {
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Config => 1,
            Kind::Usage => 3,
            Kind::Connect => 4,
            Kind::ReadFile => 5,
            Kind::Write => 6,
            Kind::Matched => 7,
            Kind::NotFound => 8,
            Kind::Version => 10,
            Kind::Certificate => 11,
            Kind::Command => 12,
        }
    }
}

/// An error with its kind, a one-line message for the user, and the HTTP status when a server
/// answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub status: Option<u16>,
    /// The platform's own error number (Posit Connect's `APIError.code`), shown as `server-code`
    /// in JSON.
    pub server_code: Option<i64>,
}

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            status: None,
            server_code: None,
        }
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub fn with_server_code(mut self, code: Option<i64>) -> Self {
        self.server_code = code;
        self
    }

    /// The same error (kind, status, code) with another message.
    pub fn reworded(&self, message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            ..self.clone()
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::new(Kind::Usage, message)
    }

    pub fn config(message: impl Into<String>) -> Self {
        Error::new(Kind::Config, message)
    }

    pub fn connect(message: impl Into<String>) -> Self {
        Error::new(Kind::Connect, message)
    }

    pub fn exit_code(&self) -> i32 {
        self.kind.exit_code()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_the_contract_exit_codes() {
        let codes: Vec<i32> = [
            Kind::Config,
            Kind::Usage,
            Kind::Connect,
            Kind::ReadFile,
            Kind::Write,
            Kind::Matched,
            Kind::NotFound,
            Kind::Version,
            Kind::Certificate,
            Kind::Command,
        ]
        .iter()
        .map(|k| k.exit_code())
        .collect();
        assert_eq!(codes, vec![1, 3, 4, 5, 6, 7, 8, 10, 11, 12]);
    }
}

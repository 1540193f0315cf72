//! A secret value whose `Debug` and `Display` print `***`, so no log line, error chain or panic
//! message can leak it. Only code that must send or print the value calls [`Secret::expose`].
//!
//! Every secret registers its value with [`crate::redact`] when it is made, so a server that
//! echoes it back cannot get it printed. Its memory is cleared when it is dropped (`zeroize`);
//! copies made by the HTTP stack, argv and the environment are out of reach.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};
use zeroize::Zeroize;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret, registered for redaction.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        crate::redact::register(&value);
        Secret(value)
    }

    /// The secret itself: for an auth header, a keyring entry, or the one line of a create.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// So clap can parse a flag value straight into a `Secret` (`value_parser!(Secret)`).
impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret::new(s))
    }
}

/// For wire types: a secret field of an answer is registered for redaction as it is decoded.
impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("svctok-abc");
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        assert_eq!(s.expose(), "svctok-abc");
    }

    #[test]
    fn made_secrets_are_registered_for_redaction() {
        let parsed: Secret = "svctok-fromstr-unit-1".parse().unwrap();
        let decoded: Secret = serde_json::from_str("\"svctok-decoded-unit-2\"").unwrap();
        assert_eq!(decoded.expose(), "svctok-decoded-unit-2");
        let line = crate::redact::mask("a svctok-fromstr-unit-1 b svctok-decoded-unit-2", None);
        assert_eq!(line, "a *** b ***");
        drop(parsed);
    }
}

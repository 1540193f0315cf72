//! `sts api`'s answer (CONTRACT §14): the body as it came, pretty-printed JSON on a terminal.

use std::io;

use serde_json::Value;

use super::Printer;

impl Printer {
    /// The body on stdout: as it came when piped (the sent credential masked), pretty JSON with
    /// terminal controls escaped on a terminal.
    pub fn api_body(&self, body: &[u8], content_type: &str, credential: &str) -> io::Result<()> {
        let mut text = String::from_utf8_lossy(body).into_owned();
        if self.width.is_some() {
            let json = content_type.contains("json") || text.trim_start().starts_with(['{', '[']);
            text = match serde_json::from_slice::<Value>(body).ok().filter(|_| json) {
                Some(v) => serde_json::to_string_pretty(&v).unwrap_or(text),
                None => crate::redact::content(&text),
            };
            if !text.ends_with('\n') {
                text.push('\n');
            }
        }
        if credential.len() >= 8 {
            text = text.replace(credential, "***");
        }
        super::write_raw(crate::redact::Stream::Stdout, &text)
    }
}

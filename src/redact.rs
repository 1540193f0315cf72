//! The one redaction step (CONTRACT §6): every line `sts` prints passes through here on its way
//! to stdout or stderr, so no error, warning, JSON error or log line holds a known secret, even
//! when a server echoes it back, and no control character or bidirectional override from a
//! server or a file reaches the terminal raw.
//!
//! Known secrets live in one process-wide registry. Every [`crate::secret::Secret`] registers
//! its value when it is made (a token from a flag, env var, stdin, file, keyring or the
//! credentials file); [`register_json_secrets`] registers the secret fields of a create answer;
//! [`register`] takes anything else (the password of a refused URL). A secret of
//! [`SUBSTRING_MIN_CHARS`] characters or more is replaced by `***` wherever it occurs; a shorter
//! one only where it is a whole value (a whole JSON string, or a whole word of a text line), so a
//! one-character secret cannot destroy `"active": true`. JSON output is redacted value by value
//! ([`json_value`]), so `sts`'s own JSON keys are never touched and JSON stays JSON.
//!
//! The one line that shows a freshly created secret passes that secret as an exception
//! ([`text_except`], [`json_value_except`]); every other line redacts it.

pub mod json;

use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

/// Secrets at least this long (in characters) are redacted wherever they occur.
pub const SUBSTRING_MIN_CHARS: usize = 8;
/// What a secret is replaced by.
pub const MASK: &str = "***";
/// JSON fields whose string value is a secret, in the answers of every platform.
pub const SECRET_FIELDS: [&str; 5] = ["token", "apiKey", "key", "bearer_token", "api_key"];

#[cfg(not(test))]
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());
// Unit tests run in parallel threads of one process and register secrets such as `a` or `x`:
// each test thread gets a registry of its own, so one test's secrets cannot mask another's
// output. The binaries (and the integration tests that run them) use the one global registry.
#[cfg(test)]
thread_local! {
    static TEST_SECRETS: std::cell::Cell<&'static RwLock<Vec<String>>> =
        std::cell::Cell::new(Box::leak(Box::new(RwLock::new(Vec::new()))));
}

fn registry() -> &'static RwLock<Vec<String>> {
    #[cfg(not(test))]
    return &SECRETS;
    #[cfg(test)]
    return TEST_SECRETS.with(|r| r.get());
}

/// The registry of the thread that takes it, for a thread it starts to write output with
/// ([`Registry::adopt`]): the binaries have one registry, a unit test one per test thread.
#[derive(Clone, Copy)]
pub struct Registry(#[cfg(test)] &'static RwLock<Vec<String>>);

impl Registry {
    pub fn here() -> Registry {
        #[cfg(not(test))]
        return Registry();
        #[cfg(test)]
        return Registry(registry());
    }

    /// Makes it the registry of the calling thread.
    pub fn adopt(self) {
        #[cfg(test)]
        TEST_SECRETS.with(|r| r.set(self.0));
    }
}
/// Whether the printer writes ANSI colour on stdout / stderr (a terminal with colour on); only
/// then do the printer's own SGR sequences pass the sink unescaped.
static STDOUT_ANSI: AtomicBool = AtomicBool::new(false);
static STDERR_ANSI: AtomicBool = AtomicBool::new(false);

/// Registers a secret value: from now on every printed line shows it as `***`. Empty and
/// whitespace-only values are ignored, and so is `-` (the "read it from stdin" value, which is
/// also the table's mark of a missing value).
pub fn register(secret: &str) {
    let secret = secret.trim();
    if secret.is_empty() || secret == MASK || secret == "-" {
        return;
    }
    let mut secrets = registry().write().unwrap_or_else(|e| e.into_inner());
    if !secrets.iter().any(|s| s == secret) {
        secrets.push(secret.to_string());
        // Longest first, so a secret that contains another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.chars().count()));
    }
}

/// Registers the string values of the [`SECRET_FIELDS`] anywhere in a JSON body (the answer of
/// a create, before it is logged or decoded). A body that does not parse registers nothing.
pub fn register_json_secrets(body: &[u8]) {
    fn walk(v: &Value) {
        match v {
            Value::Object(map) => {
                for (k, val) in map {
                    match val {
                        Value::String(s) if SECRET_FIELDS.contains(&k.as_str()) => register(s),
                        _ => walk(val),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(walk),
            _ => {}
        }
    }
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        walk(&v);
    }
}

/// Tells the sink whether stdout and stderr carry the printer's own ANSI colour.
pub fn set_ansi(stdout: bool, stderr: bool) {
    STDOUT_ANSI.store(stdout, Ordering::Relaxed);
    STDERR_ANSI.store(stderr, Ordering::Relaxed);
}

/// Which stream a text goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn ansi(self) -> bool {
        match self {
            Stream::Stdout => STDOUT_ANSI.load(Ordering::Relaxed),
            Stream::Stderr => STDERR_ANSI.load(Ordering::Relaxed),
        }
    }
}

/// The sink step for text about to be written to `stream`: known secrets masked, control
/// characters and bidirectional overrides escaped (newlines and tabs kept; the printer's own
/// colour sequences kept only when it writes colour to that stream).
pub fn text(text: &str, stream: Stream) -> String {
    text_except(text, stream, None)
}

/// [`text`], leaving `allowed` (a freshly created secret, on the one line that shows it) as is.
pub fn text_except(text: &str, stream: Stream, allowed: Option<&str>) -> String {
    escape(&mask(text, allowed), stream.ansi())
}

/// A message or a server string made safe to embed in a line: secrets masked, every control
/// character (newlines included) and bidirectional override escaped. For content, before the
/// printer adds its own colour.
pub fn content(text: &str) -> String {
    content_except(text, None)
}

/// [`content`], leaving `allowed` as is.
pub fn content_except(text: &str, allowed: Option<&str>) -> String {
    escape_all(&mask(text, allowed))
}

/// Masks the known secrets in the string values of a JSON value, and the long ones (8 characters
/// or more) in its object keys too: a server can echo a secret as a key. A short secret is never
/// looked for in keys, where it would hit field names (`id`, `name`).
pub fn json_value(value: &mut Value) {
    json_value_except(value, None)
}

/// [`json_value`], leaving `allowed` as is.
pub fn json_value_except(value: &mut Value, allowed: Option<&str>) {
    match value {
        Value::String(s) => {
            let masked = mask_value(s, allowed);
            if masked != *s {
                *s = masked;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| json_value_except(v, allowed)),
        Value::Object(map) => {
            map.values_mut().for_each(|v| json_value_except(v, allowed));
            if map.keys().any(|k| mask_long(k, allowed) != *k) {
                *map = std::mem::take(map)
                    .into_iter()
                    .map(|(k, v)| (mask_long(&k, allowed), v))
                    .collect();
            }
        }
        _ => {}
    }
}

/// Serialized JSON made safe for a terminal: the C1 controls, bidirectional overrides and line
/// separators that serde_json writes raw become `\uXXXX` escapes (they only occur inside
/// strings, so the text stays valid JSON and means the same).
pub fn json_text(serialized: &str) -> String {
    if serialized
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) || b == b'\n')
    {
        return serialized.to_string();
    }
    let mut out = String::with_capacity(serialized.len());
    for c in serialized.chars() {
        if needs_escape(c) && c != '\n' {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// From how many bytes [`Masker::none_in`] searches a text by two threads.
const SEARCH_TWO_FROM: usize = 1024 * 1024;

/// The registry as it stands, taken once for one large output (a list written row by row): each
/// string is then checked with one precompiled search per long secret and one comparison per
/// short one, without a lock or a copy when nothing is found. Masks exactly as [`json_value_except`].
pub struct Masker {
    long: Vec<memchr::memmem::Finder<'static>>,
    /// The length in bytes of the shortest of `long`.
    shortest_long: usize,
    short: Vec<String>,
    allowed: Option<String>,
    /// The first whole text asked about by [`Masker::none_in`], and the answer: read without a
    /// lock (a large list's rows are written by two threads).
    first: std::sync::OnceLock<(std::sync::Arc<String>, bool)>,
    /// The whole text last asked about, when it is not the first, and the answer.
    whole: std::sync::Mutex<Option<(std::sync::Arc<String>, bool)>>,
}

impl Masker {
    pub fn now(allowed: Option<&str>) -> Masker {
        let secrets = registry().read().unwrap_or_else(|e| e.into_inner());
        let allowed = allowed.map(|a| a.trim().to_string());
        let mut long = Vec::new();
        let mut short = Vec::new();
        for s in secrets
            .iter()
            .filter(|s| Some(s.as_str()) != allowed.as_deref())
        {
            if s.chars().count() >= SUBSTRING_MIN_CHARS {
                long.push(memchr::memmem::Finder::new(s.as_bytes()).into_owned());
            } else {
                short.push(s.clone());
            }
        }
        Masker {
            shortest_long: long.iter().map(|f| f.needle().len()).min().unwrap_or(0),
            long,
            short,
            allowed,
            first: std::sync::OnceLock::new(),
            whole: std::sync::Mutex::new(None),
        }
    }

    /// Whether `whole` (an answer whose rows are written one by one) holds nothing
    /// [`Masker::text`] would mask: then no part of it does either, and its rows need no search
    /// of their own. Searched once; the first answer asked about and the last are remembered.
    pub fn none_in(&self, whole: &std::sync::Arc<String>) -> bool {
        let (first, none) = self
            .first
            .get_or_init(|| (std::sync::Arc::clone(whole), !self.holds_any(whole)));
        if std::sync::Arc::ptr_eq(first, whole) {
            return *none;
        }
        let mut memo = self.whole.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((w, none)) = memo.as_ref()
            && std::sync::Arc::ptr_eq(w, whole)
        {
            return *none;
        }
        let none = !self.holds_any(whole);
        *memo = Some((std::sync::Arc::clone(whole), none));
        none
    }

    /// Whether [`Masker::text`] would mask something in `text`. A large text (a list's
    /// answer, issue 24) is searched by two threads, each a half and the bytes a secret that
    /// begins in the first half may take past it.
    fn holds_any(&self, text: &str) -> bool {
        let bytes = text.as_bytes();
        if bytes.len() < SEARCH_TWO_FROM || !crate::scan::two_processors() {
            return self.holds_any_in(bytes);
        }
        let longest = (self.long.iter().map(|f| f.needle().len()))
            .chain(self.short.iter().map(String::len))
            .max()
            .unwrap_or(0);
        let half = bytes.len() / 2;
        let (first, second) = (&bytes[..(half + longest).min(bytes.len())], &bytes[half..]);
        let (b, a) = crate::worker::join(|| self.holds_any_in(second), || self.holds_any_in(first));
        a || b
    }

    /// [`Masker::holds_any`] of bytes, by one thread.
    fn holds_any_in(&self, bytes: &[u8]) -> bool {
        (bytes.len() >= self.shortest_long && self.long.iter().any(|f| f.find(bytes).is_some()))
            || (self.short.iter()).any(|s| memchr::memmem::find(bytes, s.as_bytes()).is_some())
    }

    /// Whether every text shorter than `len` bytes is left as it is by [`Masker::text`]: no
    /// short secret (masked as a whole word, whatever its length) and no long one that short.
    pub fn leaves_shorter_than(&self, len: usize) -> bool {
        self.short.is_empty() && (self.long.is_empty() || len <= self.shortest_long)
    }

    /// The secret left as is (a freshly created one, on the output that shows it).
    pub fn allowed(&self) -> Option<&str> {
        self.allowed.as_deref()
    }

    fn any_long(&self, text: &str) -> bool {
        // Most strings (keys, names, ids) are shorter than any secret: no search at all.
        text.len() >= self.shortest_long
            && self.long.iter().any(|f| f.find(text.as_bytes()).is_some())
    }

    /// A JSON string value: as [`json_value_except`] masks it.
    pub fn value<'a>(&self, value: &'a str) -> std::borrow::Cow<'a, str> {
        if !self.short.is_empty() {
            let trimmed = value.trim();
            if self.short.iter().any(|s| s == trimmed) {
                return std::borrow::Cow::Borrowed(MASK);
            }
        }
        self.key(value)
    }

    /// A text as [`mask`] masks it (the long secrets anywhere, a short one as a whole word),
    /// borrowed when it holds none, which one search per secret tells.
    pub fn text<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        if self.holds_any(text) {
            std::borrow::Cow::Owned(mask(text, self.allowed.as_deref()))
        } else {
            std::borrow::Cow::Borrowed(text)
        }
    }

    /// A server string for one table cell, as [`content`] makes it, borrowed when it holds no
    /// secret and nothing to escape.
    pub fn content<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        match self.text(text) {
            t if plain(&t, false) => t,
            t => std::borrow::Cow::Owned(escape_all(&t)),
        }
    }

    /// A text about to be written to `stream`, as [`text_except`] makes it, borrowed when it
    /// holds no secret and nothing to escape.
    pub fn sink<'a>(&self, text: &'a str, stream: Stream) -> std::borrow::Cow<'a, str> {
        match self.text(text) {
            t if plain(&t, true) => t,
            t => std::borrow::Cow::Owned(escape(&t, stream.ansi())),
        }
    }

    /// A JSON object key: the long secrets only.
    pub fn key<'a>(&self, key: &'a str) -> std::borrow::Cow<'a, str> {
        if self.any_long(key) {
            std::borrow::Cow::Owned(mask_long(key, self.allowed.as_deref()))
        } else {
            std::borrow::Cow::Borrowed(key)
        }
    }
}

/// A JSON string value with the known secrets masked: the long ones anywhere, a short one only
/// when it is the whole value.
fn mask_value(value: &str, allowed: Option<&str>) -> String {
    let short_whole = {
        let secrets = registry().read().unwrap_or_else(|e| e.into_inner());
        secrets.iter().any(|s| {
            s.chars().count() < SUBSTRING_MIN_CHARS
                && s == value.trim()
                && Some(s.as_str()) != allowed.map(str::trim)
        })
    };
    if short_whole {
        return MASK.to_string();
    }
    mask_long(value, allowed)
}

fn mask_long(text: &str, allowed: Option<&str>) -> String {
    let secrets = registry().read().unwrap_or_else(|e| e.into_inner());
    let allowed = allowed.map(str::trim);
    let mut out = text.to_string();
    for secret in secrets.iter() {
        if Some(secret.as_str()) != allowed
            && secret.chars().count() >= SUBSTRING_MIN_CHARS
            && out.contains(secret.as_str())
        {
            out = out.replace(secret.as_str(), MASK);
        }
    }
    out
}

/// The known secrets in a text replaced by `***`, except `allowed`: the long ones anywhere, a
/// short one where it is the whole text or a whole word of it.
pub fn mask(text: &str, allowed: Option<&str>) -> String {
    let secrets = registry().read().unwrap_or_else(|e| e.into_inner());
    let allowed = allowed.map(str::trim);
    // Most text holds no secret at all: one search each, no copy per secret.
    if !secrets.iter().any(|s| contains(text, s)) {
        return text.to_string();
    }
    let mut out = text.to_string();
    for secret in secrets.iter() {
        if Some(secret.as_str()) == allowed {
            continue;
        }
        if secret.chars().count() >= SUBSTRING_MIN_CHARS {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        } else {
            out = mask_whole_words(&out, secret);
        }
    }
    out
}

/// Whether `secret` occurs in `text`: a vectorised search for long texts (a whole table), the
/// plain one for short ones (a cell), where building the searcher would cost more than it saves.
fn contains(text: &str, secret: &str) -> bool {
    if text.len() < 256 {
        text.contains(secret)
    } else {
        memchr::memmem::find(text.as_bytes(), secret.as_bytes()).is_some()
    }
}

/// Replaces `secret` where it is the whole text or a whole word of it (delimited by whitespace,
/// quotes, brackets and the punctuation of headers and key/value pairs).
fn mask_whole_words(text: &str, secret: &str) -> String {
    if text.trim() == secret {
        return text.replacen(secret, MASK, 1);
    }
    if !text.contains(secret) {
        return text.to_string();
    }
    let is_delim = |c: char| {
        c.is_whitespace()
            || c.is_control()
            || matches!(
                c,
                '"' | '\''
                    | '`'
                    | ','
                    | ';'
                    | ':'
                    | '('
                    | ')'
                    | '['
                    | ']'
                    | '{'
                    | '}'
                    | '<'
                    | '>'
                    | '='
            )
    };
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    for c in text.chars() {
        if is_delim(c) {
            out.push_str(if word == secret { MASK } else { &word });
            word.clear();
            out.push(c);
        } else {
            word.push(c);
        }
    }
    out.push_str(if word == secret { MASK } else { &word });
    out
}

/// Whether a character is shown escaped: control characters (C0, DEL, C1 such as U+009B, the
/// one-byte CSI), bidirectional overrides and isolates, marks and line separators.
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// Whether no character of `text` is escaped by [`needs_escape`] (newlines and tabs aside when
/// `lines`): printable ASCII only, checked a byte at a time. Text with other bytes takes the
/// character-by-character path.
pub fn plain(text: &str, lines: bool) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    loop {
        i = crate::scan::printable_run(b, i);
        match b.get(i) {
            None => return true,
            Some(b'\n' | b'\t') if lines => i += 1,
            Some(_) => return false,
        }
    }
}

/// Whether `text` goes between double quotes as it is (a JSON string, a Prometheus label value):
/// printable ASCII without a quote or a backslash.
pub fn plain_in_quotes(text: &str) -> bool {
    crate::scan::plain_run(text.as_bytes(), 0) == text.len()
}

fn push_escaped(out: &mut String, c: char) {
    out.push_str(&format!("\\u{:04x}", c as u32));
}

/// Every character of [`needs_escape`] escaped, newlines and tabs included.
fn escape_all(text: &str) -> String {
    if plain(text, false) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if needs_escape(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// The sink's escaping: newlines and tabs kept; with `ansi`, the printer's own SGR colour
/// sequences (`ESC [ digits;… m`), its erase-line (`ESC [ 2 K`) and carriage return kept too.
/// Everything else of [`needs_escape`] escaped.
fn escape(text: &str, ansi: bool) -> String {
    if plain(text, true) {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' || c == '\t' || (ansi && c == '\r') {
            out.push(c);
            i += 1;
            continue;
        }
        if ansi && c == '\u{1b}' && chars.get(i + 1) == Some(&'[') {
            let mut j = i + 2;
            while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == ';') {
                j += 1;
            }
            if j < chars.len() && (chars[j] == 'm' || chars[j] == 'K') {
                out.extend(&chars[i..=j]);
                i = j + 1;
                continue;
            }
        }
        if needs_escape(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Plain text is printable ASCII (and newlines and tabs, with `lines`), wherever the
        /// first other byte is.
        #[test]
        fn plain_text_is_printable_ascii(text in "[ -~]{0,20}[\t\n\u{1}\u{7f}é\u{202e}]?[ -~\t\n]{0,20}") {
            let printable = |b: u8| (0x20..0x7f).contains(&b);
            proptest::prop_assert_eq!(plain(&text, false), text.bytes().all(printable));
            proptest::prop_assert_eq!(
                plain(&text, true),
                text.bytes().all(|b| printable(b) || b == b'\n' || b == b'\t')
            );
        }
    }

    #[test]
    fn the_plain_bytes_are_their_rules() {
        for b in 0..=255u8 {
            let printable = (0x20..0x7f).contains(&b);
            let text = char::from(b).to_string();
            assert_eq!(plain(&text, false), printable, "{b}");
            assert_eq!(
                plain(&text, true),
                printable || b == b'\n' || b == b'\t',
                "{b}"
            );
            assert_eq!(
                plain_in_quotes(&text),
                printable && b != b'"' && b != b'\\',
                "{b}"
            );
        }
    }

    #[test]
    fn an_answer_is_searched_once_and_each_answer_for_itself() {
        register("svctok-whole-answer-0123456789");
        register("wq9");
        let masker = Masker::now(None);
        let clean = std::sync::Arc::new(r#"[{"name":"a"},{"name":"b"}]"#.to_string());
        let long =
            std::sync::Arc::new(r#"[{"name":"svctok-whole-answer-0123456789"}]"#.to_string());
        let short = std::sync::Arc::new(r#"[{"name":"wq9"}]"#.to_string());
        for _ in 0..2 {
            assert!(masker.none_in(&clean));
            assert!(!masker.none_in(&long));
            assert!(!masker.none_in(&short));
            // The same text in another answer is looked at for itself.
            assert!(masker.none_in(&std::sync::Arc::new(clean.to_string())));
        }
    }

    #[test]
    fn a_large_answer_searched_by_two_threads_finds_a_secret_wherever_it_lies() {
        let long = "svctok-two-halves-0123456789";
        register(long);
        register("zq7");
        let masker = Masker::now(None);
        let size = 3 * SEARCH_TWO_FROM + 1;
        let half = size / 2;
        let text = |at: usize, secret: &str| {
            let mut t = "x".repeat(size);
            t.replace_range(at..at + secret.len(), secret);
            t
        };
        assert!(!masker.holds_any(&"x".repeat(size)));
        // At the start, at the end, and across the middle where the halves meet, cut anywhere.
        for secret in [long, "zq7"] {
            let mut places = vec![0, size - secret.len()];
            places.extend(half + 1 - secret.len()..=half);
            for at in places {
                assert!(masker.holds_any(&text(at, secret)), "{secret} at {at}");
            }
        }
    }

    #[test]
    fn long_secrets_are_masked_anywhere_short_ones_only_as_whole_values() {
        register("svctok-redact-unit-0123456789");
        register("ab1");
        let line = "401: unknown token svctok-redact-unit-0123456789 (Set-Cookie: s=svctok-redact-unit-0123456789x)";
        let masked = text(line, Stream::Stderr);
        assert_eq!(
            masked, "401: unknown token *** (Set-Cookie: s=***x)",
            "{masked}"
        );
        assert_eq!(mask("key: ab1", None), "key: ***");
        assert_eq!(mask("tab1e ab12 xab1", None), "tab1e ab12 xab1");
        let mut v = serde_json::json!({"ab1": "ab1", "active": true, "n": "cab1", "w": "x ab1",
            "svctok-redact-unit-0123456789": ["svctok-redact-unit-0123456789"]});
        json_value(&mut v);
        assert_eq!(v["ab1"], "***");
        assert_eq!(v["active"], true);
        assert_eq!(v["n"], "cab1");
        assert_eq!(v["w"], "x ab1", "a short secret only as a whole JSON value");
        // A long secret is masked in a key too (a server can echo it there).
        assert_eq!(v["***"][0], "***");
    }

    #[test]
    fn the_allowed_secret_stays_on_its_line() {
        register("iapikey-allowed-unit-abcdef");
        let line = "✅ Ingestion API Key generated: iapikey-allowed-unit-abcdef";
        assert_eq!(
            text_except(line, Stream::Stdout, Some("iapikey-allowed-unit-abcdef")),
            line
        );
        assert!(!text(line, Stream::Stdout).contains("iapikey-allowed"));
    }

    #[test]
    fn controls_and_bidi_are_escaped_and_own_colour_kept_only_with_ansi() {
        let hostile = "a\u{1b}]8;;http://x\u{7}b\u{9b}31mc\u{202e}d\re";
        let shown = escape(hostile, false);
        assert_eq!(
            shown,
            "a\\u001b]8;;http://x\\u0007b\\u009b31mc\\u202ed\\u000de"
        );
        assert_eq!(escape("x\n\ty", false), "x\n\ty");
        assert_eq!(
            escape("\u{1b}[31mred\u{1b}[0m", true),
            "\u{1b}[31mred\u{1b}[0m"
        );
        assert_eq!(escape("\u{1b}[31mred", false), "\\u001b[31mred");
        assert_eq!(
            escape("\u{1b}]0;title\u{7}", true),
            "\\u001b]0;title\\u0007"
        );
        assert_eq!(content("two\nlines"), "two\\u000alines");
        let json = json_text("{\n  \"n\": \"a\u{9b}b\u{202e}\"\n}");
        assert_eq!(json, "{\n  \"n\": \"a\\u009bb\\u202e\"\n}");
        let v: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["n"], "a\u{9b}b\u{202e}");
    }

    #[test]
    fn secret_fields_of_a_create_answer_are_registered() {
        register_json_secrets(br#"{"name":"n","token":"svctok-from-body-unit-999","x":{"bearer_token":"qbt-unit-77777777"}}"#);
        let shown = text(
            "svctok-from-body-unit-999 qbt-unit-77777777",
            Stream::Stdout,
        );
        assert_eq!(shown, "*** ***");
    }

    #[test]
    fn long_secrets_are_masked_in_object_keys_too() {
        register("key-echoed-as-a-json-key-4242");
        register("zq9");
        let mut v = serde_json::json!({
            "service-tokens": [{"key-echoed-as-a-json-key-4242": 1, "zq9": "zq9", "x": {
                "pre-key-echoed-as-a-json-key-4242": true}}]
        });
        json_value(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"service-tokens": [{"***": 1, "zq9": "***", "x": {"pre-***": true}}]})
        );
    }

    #[test]
    fn the_masker_masks_texts_as_mask_does() {
        register("masker-text-0123456789");
        register("q7");
        let masker = Masker::now(None);
        for text in [
            "",
            "plain",
            "q7",
            "a q7 b",
            "aq7b",
            "x masker-text-0123456789 q7\n",
            "masker-text-0123456789masker-text-0123456789",
        ] {
            assert_eq!(masker.text(text), mask(text, None), "{text:?}");
        }
    }
}

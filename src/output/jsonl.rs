//! `-o jsonl` (CONTRACT §14): one JSON object per line with the same keys on every platform and
//! kind, built from the rows and columns the platforms give (no platform is named here).

use std::io::{self, Write};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::Printer;
use crate::dates::push_rfc3339;
use crate::error::Error;
use crate::platform::{
    Cell, Column, Created, LastUsed, Listed, PlatformKind, Source, Status, Token, TokenKind,
};

/// Columns whose cell is one of the common keys, not part of `detail`.
const COMMON_HEADERS: [&str; 6] = ["ID", "NAME", "EXPIRATION", "LAST USED", "STATUS", "CREATED"];

/// One value on one line, known secrets but `allowed` masked, a newline after it.
pub(crate) fn line(mut value: Value, allowed: Option<&str>) -> String {
    crate::redact::json_value_except(&mut value, allowed);
    let s = serde_json::to_string(&value).unwrap_or_else(|_| "null".into());
    let mut s = crate::redact::json_text(&s);
    s.push('\n');
    s
}

/// Epoch milliseconds as RFC 3339 UTC.
fn time(millis: Option<i64>) -> Value {
    let mut out = String::new();
    match millis.and_then(|ms| push_rfc3339(&mut out, ms)) {
        Some(()) => Value::String(out),
        None => Value::Null,
    }
}

/// A column header as a `detail` key: `DEDICATED_SUBJECT` → `dedicated-subject`.
fn detail_key(header: &str) -> String {
    header.to_ascii_lowercase().replace([' ', '_'], "-")
}

/// A cell as a `detail` value, borrowed from the row.
enum CellJson<'a> {
    Null,
    Str(&'a str),
    List(&'a [compact_str::CompactString]),
    Time(i64),
}

fn cell_json<'a>(cell: &'a Cell, token: &'a Token, now: DateTime<Utc>) -> CellJson<'a> {
    match cell {
        Cell::Id(v) | Cell::Text(v) => v.as_deref().map_or(CellJson::Null, CellJson::Str),
        Cell::Name => CellJson::Str(&token.name),
        Cell::TokenId if token.id.text.is_empty() => CellJson::Null,
        Cell::TokenId => CellJson::Str(&token.id.text),
        Cell::List(items) => CellJson::List(items),
        Cell::Expiration(t) | Cell::Date(t) => t.map_or(CellJson::Null, CellJson::Time),
        Cell::LastUsed(LastUsed::At(t)) => CellJson::Time(*t),
        Cell::LastUsed(_) => CellJson::Null,
        Cell::Status => CellJson::Str(token.status(now).as_str()),
    }
}

impl Serialize for CellJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            CellJson::Null => s.serialize_unit(),
            CellJson::Str(v) => s.serialize_str(v),
            CellJson::List(v) => v.serialize(s),
            CellJson::Time(t) => Time(Some(*t)).serialize(s),
        }
    }
}

/// Epoch milliseconds as [`time`] shows them.
struct Time(Option<i64>);

impl Serialize for Time {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = String::new();
        match self.0.and_then(|ms| push_rfc3339(&mut out, ms)) {
            Some(()) => s.serialize_str(&out),
            None => s.serialize_unit(),
        }
    }
}

/// What every line of one list shares: the `detail` keys in their order, each with its
/// column, and the `CREATED` columns.
struct Plan {
    detail: Vec<(String, Source)>,
    created: Vec<Source>,
}

impl Plan {
    fn new(columns: &[Column]) -> Plan {
        let mut detail: Vec<(String, Source)> = Vec::new();
        let mut created = Vec::new();
        for column in columns {
            if column.header == "CREATED" {
                created.push(column.source);
            } else if !COMMON_HEADERS.contains(&column.header) {
                detail.push((detail_key(column.header), column.source));
            }
        }
        // As a map keeps them: sorted, the last of equal keys.
        detail.sort_by(|a, b| a.0.cmp(&b.0));
        let mut kept: Vec<(String, Source)> = Vec::with_capacity(detail.len());
        for d in detail {
            match kept.last_mut() {
                Some(last) if last.0 == d.0 => *last = d,
                _ => kept.push(d),
            }
        }
        Plan {
            detail: kept,
            created,
        }
    }
}

/// What every line of one list writes the same, masked and escaped once for all of them: the
/// pieces between a line's own values, its context, platform and kind folded into them.
struct Shared {
    /// `{"context":…,"created":`
    head: Vec<u8>,
    /// `"<key>":` of each `detail` key of the plan, in its order.
    detail_keys: Vec<Vec<u8>>,
    /// `,"kind":…,"last-used":`
    kind: Vec<u8>,
    /// `,"platform":…,"status":`
    platform: Vec<u8>,
    /// Each status and the line's closing brace, by [`Status`], in its order.
    status: [Vec<u8>; 3],
}

impl Shared {
    fn new(
        context: Option<&str>,
        platform: PlatformKind,
        kind: &str,
        plan: &Plan,
        masker: &crate::redact::Masker,
    ) -> Shared {
        let piece = |before: &str, s: Option<&str>, after: &str| {
            let mut out = before.as_bytes().to_vec();
            direct_str_or_null(&mut out, s, masker);
            out.extend_from_slice(after.as_bytes());
            out
        };
        Shared {
            head: piece("{\"context\":", context, ",\"created\":"),
            detail_keys: plan
                .detail
                .iter()
                .map(|(key, _)| {
                    let mut out = Vec::new();
                    crate::redact::json::push_json_string(&mut out, key);
                    out.push(b':');
                    out
                })
                .collect(),
            kind: piece(",\"kind\":", Some(kind), ",\"last-used\":"),
            platform: piece(",\"platform\":", Some(platform.as_str()), ",\"status\":"),
            status: [Status::Active, Status::Revoked, Status::Expired]
                .map(|s| piece("", Some(s.as_str()), "}")),
        }
    }

    fn status(&self, status: Status) -> &[u8] {
        &self.status[status as usize]
    }
}

/// The line of one token, borrowed from it.
struct Line<'a> {
    context: Option<&'a str>,
    platform: PlatformKind,
    kind: &'a str,
    /// `context`, `platform` and `kind` written, with each status.
    shared: &'a Shared,
    columns: &'a [Column],
    plan: &'a Plan,
    token: &'a Token,
    now: DateTime<Utc>,
}

impl Line<'_> {
    /// Appends the line to `out`: written directly when no key of the plan holds a known secret
    /// (`direct`, [`Plan::keys_clean`]), else from its value, whose keys are then masked and
    /// sorted again. The bytes of [`token_line`]'s value either way.
    fn write(
        &self,
        out: &mut Vec<u8>,
        direct: bool,
        masker: &crate::redact::Masker,
    ) -> io::Result<()> {
        if direct {
            self.write_direct(out, masker);
            return Ok(());
        }
        let value = token_line(
            self.context,
            self.platform,
            self.kind,
            self.columns,
            self.token,
            self.now,
        );
        crate::redact::json::append(out, &value, masker, false, 0, || value.clone())
    }
}

/// The keys of every line, in the order a line writes them.
const LINE_KEYS: [&str; 10] = [
    "context",
    "created",
    "detail",
    "expires",
    "id",
    "kind",
    "last-used",
    "name",
    "platform",
    "status",
];

impl Plan {
    /// Whether no key of a line holds a known secret: then lines are written by
    /// [`Line::write_direct`], whose keys are written as they are.
    fn keys_clean(&self, masker: &crate::redact::Masker) -> bool {
        LINE_KEYS
            .iter()
            .copied()
            .chain(self.detail.iter().map(|(k, _)| k.as_str()))
            .all(|k| matches!(masker.key(k), std::borrow::Cow::Borrowed(_)))
    }
}

/// A string value, masked and escaped as the serialiser writes it.
fn direct_str(out: &mut Vec<u8>, s: &str, masker: &crate::redact::Masker) {
    crate::redact::json::push_json_string(out, &masker.value(s));
}

/// [`direct_str`] of a string known to need no escape (digits, a moment's text): quoted as it
/// is, unless the masker changes it.
fn direct_plain(out: &mut Vec<u8>, s: &str, masker: &crate::redact::Masker) {
    match masker.value(s) {
        std::borrow::Cow::Borrowed(v) if std::ptr::eq(v, s) => {
            out.push(b'"');
            crate::scan::put(out, s.as_bytes());
            out.push(b'"');
        }
        v => crate::redact::json::push_json_string(out, &v),
    }
}

/// [`direct_str`], or `null`.
fn direct_str_or_null(out: &mut Vec<u8>, s: Option<&str>, masker: &crate::redact::Masker) {
    match s {
        Some(s) => direct_str(out, s, masker),
        None => out.extend_from_slice(b"null"),
    }
}

fn direct_time(out: &mut Vec<u8>, millis: Option<i64>, masker: &crate::redact::Masker) {
    let Some(ms) = millis else {
        return crate::scan::put(out, b"null");
    };
    if let Some(text) = crate::dates::Rfc3339::of(ms) {
        return direct_plain(out, text.as_str(), masker);
    }
    let mut text = String::new();
    match push_rfc3339(&mut text, ms) {
        Some(()) => direct_str(out, &text, masker),
        None => out.extend_from_slice(b"null"),
    }
}

/// Room a line most often fits in, reserved before it is written so that its short pieces are
/// copied inline ([`crate::scan::put`]).
const LINE_ROOM: usize = 512;

impl Line<'_> {
    /// The bytes that serialising the line writes, written straight into `out` (the keys of
    /// the plan holding no secret, [`Plan::keys_clean`]).
    fn write_direct(&self, out: &mut Vec<u8>, masker: &crate::redact::Masker) {
        let t = self.token;
        let put = crate::scan::put;
        let mut created = t.created;
        for source in &self.plan.created {
            if let Some(Cell::Date(d)) = t.cell(*source).as_deref() {
                created = created.or(*d);
            }
        }
        out.reserve(LINE_ROOM);
        put(out, &self.shared.head);
        direct_time(out, created, masker);
        put(out, b",\"detail\":{");
        let mut first = true;
        for ((_, source), key) in self.plan.detail.iter().zip(&self.shared.detail_keys) {
            let Some(cell) = t.cell(*source) else {
                continue;
            };
            if !first {
                out.push(b',');
            }
            first = false;
            put(out, key);
            match cell_json(&cell, t, self.now) {
                CellJson::Null => put(out, b"null"),
                CellJson::Str(s) => direct_str(out, s, masker),
                CellJson::Time(ms) => direct_time(out, Some(ms), masker),
                CellJson::List(items) => {
                    out.push(b'[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        direct_str(out, item, masker);
                    }
                    out.push(b']');
                }
            }
        }
        put(out, b"},\"expires\":");
        direct_time(out, t.expires, masker);
        put(out, b",\"id\":");
        match t.id.text.as_str() {
            "" => put(out, b"null"),
            id if t.id.is_int() => direct_plain(out, id, masker),
            id => direct_str(out, id, masker),
        }
        put(out, &self.shared.kind);
        direct_time(out, t.last_used.at(), masker);
        put(out, b",\"name\":");
        direct_str(out, &t.name, masker);
        put(out, &self.shared.platform);
        put(out, self.shared.status(t.status(self.now)));
    }
}

/// The line of one token.
pub fn token_line(
    context: Option<&str>,
    platform: PlatformKind,
    kind: &str,
    columns: &[Column],
    token: &Token,
    now: DateTime<Utc>,
) -> Value {
    // The platform's creation time (Posit `created_time`, Qualytics `created`), else a column.
    let mut created = token.created;
    let mut detail = Map::new();
    for (column, cell) in token.cells_of(columns) {
        if column.header == "CREATED" {
            if let Cell::Date(t) = *cell {
                created = created.or(t);
            }
            continue;
        }
        if COMMON_HEADERS.contains(&column.header) {
            continue;
        }
        let value = serde_json::to_value(cell_json(&cell, token, now)).unwrap_or(Value::Null);
        detail.insert(detail_key(column.header), value);
    }
    let id = if token.id.text.is_empty() {
        Value::Null
    } else {
        json!(token.id.text)
    };
    json!({
        "context": context,
        "platform": platform.as_str(),
        "kind": kind,
        "id": id,
        "name": token.name,
        "status": token.status(now).as_str(),
        "created": time(created),
        "expires": time(token.expires),
        "last-used": time(token.last_used.at()),
        "detail": detail,
    })
}

/// The line of a context that failed under `-A`.
pub fn error_line(context: &str, platform: PlatformKind, e: &Error) -> Value {
    json!({
        "context": context,
        "platform": platform.as_str(),
        "error": error_json(e),
    })
}

/// `{"error-message", "exit-code", "status"?}` of a failing context.
pub(super) fn error_json(e: &Error) -> Value {
    let mut err = json!({"error-message": e.message, "exit-code": e.exit_code()});
    if let Some(status) = e.status {
        err["status"] = json!(status);
    }
    err
}

/// The lines of a list, each written straight from its token (no JSON value is made unless a
/// key must be masked): the bytes of [`token_line`]'s values, masked and escaped.
pub(super) fn write_lines(
    w: &mut dyn Write,
    context: Option<&str>,
    kind: super::ListKind,
    tokens: &Listed,
    now: DateTime<Utc>,
    masker: &crate::redact::Masker,
) -> io::Result<()> {
    let plan = Plan::new(kind.columns);
    let direct = plan.keys_clean(masker);
    let shared = Shared::new(context, kind.platform, kind.nouns.json_one, &plan, masker);
    super::stream::write_rows(w, tokens.len(), &|i, out| {
        let written = tokens.with_cells_of(i, |token| {
            let line = Line {
                context,
                platform: kind.platform,
                kind: kind.nouns.json_one,
                shared: &shared,
                columns: kind.columns,
                plan: &plan,
                token,
                now,
            };
            line.write(out, direct, masker)?;
            out.push(b'\n');
            Ok(())
        });
        written.unwrap_or(Ok(()))
    })
}

impl Printer {
    /// A list, one line per token.
    pub(super) fn jsonl_tokens(
        &self,
        kind: super::ListKind,
        tokens: &Listed,
        now: DateTime<Utc>,
    ) -> io::Result<()> {
        let mut out = super::stream::stdout();
        let masker = crate::redact::Masker::now(None);
        write_lines(
            &mut out,
            self.context.as_deref(),
            kind,
            tokens,
            now,
            &masker,
        )?;
        out.flush()
    }

    /// A create or rotation: the new one's line, its secret under `secret`.
    pub(super) fn jsonl_created<K: TokenKind>(&self, created: &Created) -> io::Result<()> {
        let row = K::created_row(created);
        let mut v = token_line(
            self.context.as_deref(),
            K::PLATFORM,
            K::NOUNS.json_one,
            K::COLUMNS,
            &row,
            Utc::now(),
        );
        v["secret"] = json!(created.secret);
        super::write_raw(
            crate::redact::Stream::Stdout,
            &line(v, Some(&created.secret)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::{TokenId, col, fixed};

    #[test]
    fn a_line_has_the_common_keys_and_the_rest_under_detail() {
        let token = Token {
            id: TokenId::int(7),
            name: "ci".into(),
            expires: Some(1_735_689_600_000),
            last_used: LastUsed::Unknown,
            created: None,
            revoked: false,
            cells: smallvec::smallvec![
                Cell::Id(Some("7".into())),
                Cell::Text(Some("ci".into())),
                Cell::List(smallvec::smallvec!["a".into()]),
                Cell::Date(Some(0)),
                Cell::Text(None),
            ],
            json: Value::Null.into(),
        };
        let columns = [
            fixed("ID", Source::Cell(0)),
            col("NAME", Source::Cell(1)),
            col("ROLES", Source::Cell(2)),
            fixed("CREATED", Source::Cell(3)),
            col("DEDICATED_SUBJECT", Source::Cell(4)),
        ];
        let v = token_line(
            None,
            PlatformKind::Stackstate,
            "service-token",
            &columns,
            &token,
            crate::dates::test_now(),
        );
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, LINE_KEYS);
        assert_eq!(v["id"], "7");
        assert_eq!(v["created"], "1970-01-01T00:00:00Z");
        assert_eq!(v["expires"], "2025-01-01T00:00:00Z");
        assert_eq!(v["status"], "expired");
        assert_eq!(
            v["detail"],
            json!({"roles": ["a"], "dedicated-subject": null})
        );
        assert!(!line(v, None).trim_end().contains('\n'));
    }

    /// A token with every shape of cell.
    fn every_token(name: &str, text: Option<&str>) -> Token {
        Token {
            id: if name.is_empty() {
                TokenId::missing()
            } else {
                TokenId::int(7)
            },
            name: name.into(),
            expires: Some(1_735_689_600_000),
            last_used: LastUsed::At(5),
            created: None,
            revoked: true,
            cells: smallvec::smallvec![
                Cell::Id(Some("7".into())),
                Cell::Text(Some(name.into())),
                Cell::List(smallvec::smallvec!["a".into(), name.into()]),
                Cell::Date(Some(0)),
                Cell::Text(text.map(String::from)),
                Cell::Status,
                Cell::LastUsed(LastUsed::Never),
                Cell::Expiration(None),
            ],
            json: Value::Null.into(),
        }
    }

    /// `Line` written against `line(token_line(…))`.
    fn lines_match(columns: &[Column], tokens: &[Token]) {
        let masker = crate::redact::Masker::now(None);
        let now = crate::dates::test_now();
        let plan = Plan::new(columns);
        let shared = Shared::new(
            Some("ctx \u{1b}"),
            PlatformKind::Stackstate,
            "service-token",
            &plan,
            &masker,
        );
        for t in tokens {
            let l = Line {
                context: Some("ctx \u{1b}"),
                platform: PlatformKind::Stackstate,
                kind: "service-token",
                shared: &shared,
                columns,
                plan: &plan,
                token: t,
                now,
            };
            let v = token_line(
                Some("ctx \u{1b}"),
                PlatformKind::Stackstate,
                "service-token",
                columns,
                t,
                now,
            );
            let whole = line(v, None);
            // From the value always; written straight too when no key holds a secret.
            for direct in [false, plan.keys_clean(&masker)] {
                let mut written = Vec::new();
                l.write(&mut written, direct, &masker).unwrap();
                written.push(b'\n');
                assert_eq!(
                    String::from_utf8(written).unwrap(),
                    whole,
                    "direct: {direct}"
                );
            }
        }
    }

    const EVERY: [Column; 8] = [
        fixed("ID", Source::Cell(0)),
        col("NAME", Source::Cell(1)),
        col("ROLES", Source::Cell(2)),
        fixed("CREATED", Source::Cell(3)),
        col("DEDICATED_SUBJECT", Source::Cell(4)),
        col("STATE", Source::Cell(5)),
        col("LAST SEEN", Source::Cell(6)),
        col("ROLES", Source::Cell(7)),
    ];

    #[test]
    fn written_lines_are_the_bytes_of_the_value_lines() {
        crate::redact::register("jsonl-secret-0123456789");
        crate::redact::register("zq7");
        let tokens = [
            every_token("ci", None),
            every_token("", Some("zq7")),
            every_token("x jsonl-secret-0123456789 \u{202e}\"", Some("d\n")),
        ];
        lines_match(&EVERY, &tokens);
        lines_match(&EVERY[..3], &tokens);
        lines_match(&[], &tokens);
    }

    #[test]
    fn an_id_or_a_moment_equal_to_a_short_secret_is_masked_as_the_value_lines_mask_it() {
        // A short secret masks a whole value equal to it: an integer id's digits and a moment's
        // text, written quoted as they are otherwise, are masked too.
        crate::redact::register("7");
        crate::redact::register("2025-01-01T00:00:00Z");
        let token = every_token("n", None);
        lines_match(&EVERY, std::slice::from_ref(&token));
        let mut written = Vec::new();
        let masker = crate::redact::Masker::now(None);
        let plan = Plan::new(&EVERY);
        let shared = Shared::new(None, PlatformKind::Stackstate, "k", &plan, &masker);
        let l = Line {
            context: None,
            platform: PlatformKind::Stackstate,
            kind: "k",
            shared: &shared,
            columns: &EVERY,
            plan: &plan,
            token: &token,
            now: crate::dates::test_now(),
        };
        l.write(&mut written, true, &masker).unwrap();
        let written = String::from_utf8(written).unwrap();
        assert!(!written.contains("\"7\""), "{written}");
        assert!(!written.contains("2025-01-01T00:00:00Z"), "{written}");
    }

    #[test]
    fn a_masked_detail_key_sorts_as_the_value_lines_do() {
        crate::redact::register("dedicated-subject");
        lines_match(&EVERY, &[every_token("n", Some("dedicated-subject"))]);
    }
}

//! `-o jsonl` (CONTRACT §14): one JSON object per line with the same keys on every platform and
//! kind, built from the rows and columns the platforms give (no platform is named here).

use std::io::{self, Write};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::Printer;
use crate::error::Error;
use crate::platform::{Cell, Column, Created, LastUsed, PlatformKind, Token, TokenKind};

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
    millis
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .map_or(Value::Null, |t| {
            json!(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        })
}

/// A column header as a `detail` key: `DEDICATED_SUBJECT` → `dedicated-subject`.
fn detail_key(header: &str) -> String {
    header.to_ascii_lowercase().replace([' ', '_'], "-")
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
    for (column, cell) in columns.iter().zip(&token.cells) {
        if column.header == "CREATED" {
            if let Cell::Date(t) = cell {
                created = created.or(*t);
            }
            continue;
        }
        if COMMON_HEADERS.contains(&column.header) {
            continue;
        }
        let value = match cell {
            Cell::Id(v) | Cell::Text(v) => v.as_deref().map_or(Value::Null, |s| json!(s)),
            Cell::Name => json!(token.name),
            Cell::List(items) => json!(items),
            Cell::Expiration(t) | Cell::Date(t) => time(*t),
            Cell::LastUsed(LastUsed::At(t)) => time(Some(*t)),
            Cell::LastUsed(_) => Value::Null,
            Cell::Status => json!(token.status(now).as_str()),
        };
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
        "last-used": match token.last_used {
            LastUsed::At(t) => time(Some(t)),
            _ => Value::Null,
        },
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

impl Printer {
    /// A list, one line per token.
    pub(super) fn jsonl_tokens<K: TokenKind>(
        &self,
        tokens: &[Token],
        now: DateTime<Utc>,
    ) -> io::Result<()> {
        let mut out = super::stream::stdout();
        let masker = crate::redact::Masker::now(None);
        let mut scratch = Vec::new();
        for t in tokens {
            let v = token_line(
                self.context.as_deref(),
                K::PLATFORM,
                K::NOUNS.json_one,
                K::COLUMNS,
                t,
                now,
            );
            super::stream::write_value(&mut out, &v, &masker, false, 0, &mut scratch)?;
            out.write_all(b"\n")?;
        }
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
            cells: vec![
                Cell::Id(Some("7".into())),
                Cell::Text(Some("ci".into())),
                Cell::List(vec!["a".into()]),
                Cell::Date(Some(0)),
                Cell::Text(None),
            ],
            json: Value::Null.into(),
        };
        let columns = [
            fixed("ID"),
            col("NAME"),
            col("ROLES"),
            fixed("CREATED"),
            col("DEDICATED_SUBJECT"),
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
        assert_eq!(
            keys,
            [
                "context",
                "created",
                "detail",
                "expires",
                "id",
                "kind",
                "last-used",
                "name",
                "platform",
                "status"
            ]
        );
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
}

//! A token's cells as a table shows them: each server string made safe, a missing value `-`,
//! dates in UTC, ages from now.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use super::{clean, stream};
use crate::dates::{push_age, push_date, push_expiration};
use crate::platform::{Cell, Column, LastUsed, Source, Token};

/// How a cell reads in a table: a missing value is `-`.
pub(super) fn cell_text(cell: &Cell, token: &Token, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    push_cell(&mut out, cell, token, now, &|s| Cow::Owned(clean(s)));
    out
}

/// The cells of `columns` of a listed `token` appended to `row`, each ended, as [`push_cell`]
/// writes them with every server string made safe by `masker` ([`Masker::content`]). Most rows
/// are printable ASCII, each cell too short to hold a known secret: their cells are written as
/// they are and the row checked once as a whole; any other row is written again cell by cell.
///
/// [`Masker::content`]: crate::redact::Masker::content
pub(super) fn push_cells(
    row: &mut stream::RowText,
    token: &Token,
    columns: &[Column],
    now: DateTime<Utc>,
    masker: &crate::redact::Masker,
) {
    let mark = row.mark();
    let longest = push_row_cells(row, token, columns, now, &|s| Cow::Borrowed(s));
    if masker.leaves_shorter_than(longest + 1)
        && crate::redact::plain(&row.text[mark.text..], false)
    {
        return;
    }
    row.back_to(mark);
    push_row_cells(row, token, columns, now, &|s| masker.content(s));
}

/// The cells of `columns` of `token` appended to `row`, each ended and each server string made
/// safe by `clean`, up to the first the token has not; the length of the longest.
#[inline(always)]
fn push_row_cells<F: for<'a> Fn(&'a str) -> Cow<'a, str>>(
    row: &mut stream::RowText,
    token: &Token,
    columns: &[Column],
    now: DateTime<Utc>,
    clean: &F,
) -> usize {
    let mut longest = 0;
    for c in columns {
        let start = row.text.len();
        if !push_source(&mut row.text, c.source, token, now, clean) {
            break;
        }
        longest = longest.max(row.text.len() - start);
        row.end_cell();
    }
    longest
}

/// The cell of `source` of `token` appended to `out` as [`push_cell`] writes it, made where it
/// is written (no cell made and dropped for a field every token has); `false`, with nothing
/// written, when the token has no such cell ([`Token::cells_of`] ends there).
#[inline(always)]
fn push_source<F: for<'a> Fn(&'a str) -> Cow<'a, str>>(
    out: &mut String,
    source: Source,
    token: &Token,
    now: DateTime<Utc>,
    clean: &F,
) -> bool {
    let cell = match source {
        Source::Id => Cell::TokenId,
        Source::Name => Cell::Name,
        Source::Expiration => Cell::Expiration(token.expires),
        Source::Created => Cell::Date(token.created),
        Source::LastUsed => Cell::LastUsed(token.last_used),
        Source::Status => Cell::Status,
        Source::Cell(i) => match token.cells.get(i) {
            Some(cell) => {
                push_cell(out, cell, token, now, clean);
                return true;
            }
            None => return false,
        },
    };
    push_cell(out, &cell, token, now, clean);
    true
}

/// A cell's text appended to `out`, each server string made safe by `clean`.
#[inline(always)]
fn push_cell<F: for<'a> Fn(&'a str) -> Cow<'a, str>>(
    out: &mut String,
    cell: &Cell,
    token: &Token,
    now: DateTime<Utc>,
    clean: &F,
) {
    match cell {
        Cell::Id(Some(v)) | Cell::Text(Some(v)) => crate::scan::put_str(out, &clean(v)),
        Cell::Name => crate::scan::put_str(out, &clean(&token.name)),
        Cell::TokenId if !token.id.text.is_empty() => {
            crate::scan::put_str(out, &clean(&token.id.text))
        }
        Cell::Id(None) | Cell::Text(None) | Cell::TokenId => out.push('-'),
        Cell::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                crate::scan::put_str(out, &clean(item));
            }
            out.push(']');
        }
        Cell::Expiration(Some(ms)) => push_expiration(out, *ms, now),
        Cell::Date(Some(ms)) => push_date(out, *ms),
        Cell::Expiration(None) | Cell::Date(None) | Cell::LastUsed(LastUsed::Unknown) => {
            out.push('-')
        }
        Cell::LastUsed(LastUsed::Never) => out.push_str("never"),
        Cell::LastUsed(LastUsed::At(t)) => push_age(out, *t, now),
        Cell::Status => out.push_str(token.status(now).as_str()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::dates::test_now as now;
    use crate::output::ListKind;
    use crate::platform::TokenId;

    #[test]
    fn cells_use_dashes_brackets_utc_dates_and_ages() {
        let token = Token {
            id: TokenId::int(7),
            name: "n".into(),
            expires: Some(1_735_689_600_000),
            last_used: LastUsed::Never,
            created: None,
            revoked: true,
            cells: crate::platform::interface::Cells::new(),
            json: Value::Null.into(),
        };
        let n = now().timestamp_millis();
        let text = |c: Cell| cell_text(&c, &token, now());
        assert_eq!(text(Cell::Id(Some("7".into()))), "7");
        assert_eq!(text(Cell::Text(Some("n\x1b[31m".into()))), "n\\u001b[31m");
        assert_eq!(text(Cell::Text(None)), "-");
        assert_eq!(
            text(Cell::List(smallvec::smallvec!["a".into(), "b".into()])),
            "[a b]"
        );
        assert_eq!(
            text(Cell::Expiration(Some(1_735_689_600_000))),
            "2025-01-01 (expired)"
        );
        assert_eq!(text(Cell::Expiration(None)), "-");
        assert_eq!(text(Cell::Expiration(Some(i64::MIN))), i64::MIN.to_string());
        assert_eq!(text(Cell::Date(Some(n))), "2026-03-10");
        assert_eq!(text(Cell::LastUsed(LastUsed::Unknown)), "-");
        assert_eq!(text(Cell::LastUsed(LastUsed::Never)), "never");
        assert_eq!(text(Cell::LastUsed(LastUsed::At(n - 7_200_000))), "2h ago");
        // Expired wins over revoked.
        assert_eq!(text(Cell::Status), "expired");
    }

    #[test]
    fn a_listed_rows_cells_are_those_of_each_cell_made_safe_alone() {
        let kind = ListKind::of::<crate::platform::stackstate::ServiceTokens>();
        let long = "svctok-listed-cells-0123456789abcdefghijklmnop";
        let token = |name: &str, role: &str, expires: Option<i64>| Token {
            id: TokenId::int(42),
            name: name.into(),
            expires,
            last_used: LastUsed::Unknown,
            created: None,
            revoked: false,
            cells: smallvec::smallvec![
                Cell::List(smallvec::smallvec![role.into(), "viewer".into()]),
                Cell::Text(None),
            ],
            json: Value::Null.into(),
        };
        let tokens = [
            token("ci", "admin", None),
            token(&format!("ci {long} x"), "admin", Some(1_735_689_600_000)),
            token("zq7", "zq7", None),
            token("a zq7 b", "admin zq7", None),
            token("n\x1b[31m", "r\u{202e}", None),
            token("café", "admin", Some(4_102_444_800_000)),
            token(&"w".repeat(80), "admin", None),
        ];
        let check = |what: &str, known: bool| {
            let masker = crate::redact::Masker::now(None);
            for t in &tokens {
                let mut fast = stream::RowText::default();
                fast.text.push_str("kept");
                fast.end_cell();
                push_cells(&mut fast, t, kind.columns, now(), &masker);
                let mut each = String::from("kept");
                for (_, c) in t.cells_of(kind.columns) {
                    each.push('|');
                    push_cell(&mut each, &c, t, now(), &|s| masker.content(s));
                }
                let cells: Vec<&str> = fast.cells(0, kind.columns.len() + 1).collect();
                assert_eq!(cells.join("|"), each, "{what}: {}", t.name);
                assert!(!each.contains('\x1b'), "{each}");
                assert!(!known || !each.contains(long), "{each}");
            }
        };
        check("no secret known", false);
        crate::redact::register(long);
        check("a long secret known", true);
        crate::redact::register("zq7");
        check("a short secret known too", true);
    }
}

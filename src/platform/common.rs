//! What the platforms share: name checks, expiry arithmetic, id parsing, time fields. No
//! platform imports another's helpers; they all import these.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::dates::parse_expiration;
use crate::error::{Error, Result};
use crate::platform::interface::{Listed, Token, TokenId};
use crate::platform::row_json::{Rows, SortedJson, decode_rows, decode_spans};
use crate::secret::Secret;

/// An int64 id, as the Go CLI words its refusal.
pub fn parse_int_id(value: &str, flag: &str) -> Result<TokenId> {
    value.trim().parse::<i64>().map(TokenId::int).map_err(|e| {
        Error::usage(format!(
            "invalid argument \"{value}\" for \"{flag}\": {e} (an id is a whole number, see `list`)"
        ))
    })
}

/// An optional `--expiration` as epoch milliseconds.
pub fn expiration_millis(value: Option<&str>, now: DateTime<Utc>) -> Result<Option<i64>> {
    value
        .map(|v| parse_expiration(v, now).map_err(|e| Error::usage(format!("--expiration: {e}"))))
        .transpose()
}

/// `--name` must say something.
pub fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::usage("--name must not be empty"));
    }
    Ok(name.to_string())
}

/// The new expiry of a rotation: the given one; else, when the old one expires, its lifetime
/// (`expiration − lastUpdateTimestamp`, or `− created`) again from `now`; else none.
pub fn new_expiry(
    given: Option<&str>,
    old_expiration: Option<i64>,
    old_start: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    if given.is_some() {
        return expiration_millis(given, now);
    }
    let Some(expiration) = old_expiration else {
        return Ok(None);
    };
    let lifetime = old_start
        .and_then(|start| expiration.checked_sub(start))
        .filter(|l| *l > 0)
        .ok_or_else(|| {
            Error::usage(
                "cannot tell the old one's lifetime (no timestamp before its expiration): give \
                 the new expiry with --expiration",
            )
        })?;
    now.timestamp_millis()
        .checked_add(lifetime)
        .map(Some)
        .ok_or_else(|| Error::usage("the new expiry is out of range: give it with --expiration"))
}

/// The RFC 3339 time at `key` of a server's object, as epoch milliseconds (Posit Connect and
/// Qualytics send times so).
pub fn time_field(v: &Value, key: &str) -> Option<i64> {
    v.get(key)
        .and_then(Value::as_str)
        .and_then(crate::dates::parse_rfc3339_millis)
}

/// The secret of `verify`: from stdin, with no flag or with `--key -`; never from the command line.
pub fn verify_key(
    flag: Option<&str>,
    read_stdin_line: &mut dyn FnMut() -> std::io::Result<String>,
) -> Result<Secret> {
    if flag.is_some_and(|v| v != "-") {
        return Err(Error::usage(
            "--key takes only `-`: the key is read from stdin, so it stays out of shell history \
             and `ps` (e.g. `printf '%s\\n' \"$KEY\" | sts ingestion-api-key verify`)",
        ));
    }
    let line = read_stdin_line()
        .map_err(|e| Error::usage(format!("cannot read the key from stdin: {e}")))?;
    let key = line.trim();
    if key.is_empty() {
        return Err(Error::usage(
            "no key on stdin: pipe the ingestion API key into `sts ingestion-api-key verify`",
        ));
    }
    Ok(Secret::new(key))
}

/// `https://c.example.com/rsc/__api__/` with base `/__api__` → `https://c.example.com/rsc`.
pub fn strip_base_path<'a>(url: &'a str, base: &str) -> &'a str {
    let url = url.trim_end_matches('/');
    let base = base.trim_matches('/');
    if base.is_empty() {
        return url;
    }
    match url.strip_suffix(base) {
        Some(rest) if rest.ends_with('/') && !rest.ends_with("//") => rest.trim_end_matches('/'),
        _ => url,
    }
}

/// From how large an answer its rows are kept as their text ([`decode_spans`]) rather than
/// decoded: from where two threads walk it. Below, decoding each row once costs less time than
/// reading it twice; from there, the walk by two threads and a plain read of each row as it is
/// written cost less than one decode (issue 24: 10,000 tokens, a 1.2 MB answer, 13.0-13.8 ->
/// 9.3-10.6 ms in text, json and jsonl), and rows kept as their text cost less memory than
/// decoded rows (about 2.2 times the answer).
pub const SPANS_FROM: usize = crate::platform::row_json::TWO_THREADS_FROM;

/// The rows of a JSON array answer as the `list` command writes them, sorted by name: decoded,
/// or for an answer of [`SPANS_FROM`] bytes and more kept as their text.
pub fn listed_of<T: SortedJson + serde::de::DeserializeOwned + Send + 'static>(
    body: std::sync::Arc<String>,
    rows: Rows<T, Token>,
    name: fn(&T) -> &str,
) -> serde_json::Result<Listed> {
    if body.len() >= SPANS_FROM {
        return decode_spans(body, rows, name).map(Into::into);
    }
    let mut tokens = decode_rows(body, rows.decoded)?;
    sort_by_name(&mut tokens);
    Ok(tokens.into())
}

/// A list's rows sorted by name, the server's order kept among equal names. An answer already in
/// that order (the common case) is left as it is, without moving a row.
pub fn sort_by_name(rows: &mut [Token]) {
    if !rows.is_sorted_by(|a, b| crate::scan::text_order(&a.name, &b.name).is_le()) {
        let mut order =
            crate::scan::sorted_order(rows.len(), &|_| 0, &|i| rows[i].name.as_bytes(), &|_, _| {
                std::cmp::Ordering::Equal
            });
        crate::scan::permute(rows, &mut order);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_sorted_by_name_keeping_the_servers_order_among_equal_names() {
        let token = |name: &str, id: i64| Token {
            id: crate::platform::interface::TokenId::int(id),
            name: name.into(),
            expires: None,
            last_used: crate::platform::interface::LastUsed::Unknown,
            created: None,
            revoked: false,
            cells: Default::default(),
            json: serde_json::Value::Null.into(),
        };
        let mut rows = vec![
            token("seed-00002", 1),
            token("seed-00001", 2),
            token("seed-100000", 3),
            token("bench", 4),
            token("seed-00001", 5),
        ];
        sort_by_name(&mut rows);
        let order: Vec<(&str, &str)> = rows
            .iter()
            .map(|t| (t.name.as_str(), t.id.text.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                ("bench", "4"),
                ("seed-00001", "2"),
                ("seed-00001", "5"),
                ("seed-00002", "1"),
                ("seed-100000", "3")
            ]
        );
    }
}

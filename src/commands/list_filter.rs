//! The filters of every `list` (CONTRACT §3, §10): `--expiring-within` and `--expired` match when
//! either does; the result is then narrowed by `--unused-for` and `--status`. `--fail-if-any`
//! turns a list that is not empty into exit 7.

use chrono::{DateTime, Utc};

use crate::commands::expiry_filter::ExpiryFilter;
use crate::dates::parse_duration;
use crate::error::{Error, Kind, Result};
use crate::platform::{LastUsed, Listed, Nouns, PlatformKind, Status, Token};

/// What a list keeps, checked before any request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    expiry: Option<ExpiryFilter>,
    /// Last used before now minus this many milliseconds, or never.
    unused_ms: Option<i64>,
    /// Any of these; empty: any status.
    statuses: Vec<Status>,
    /// Exit 7 when something remains.
    pub fail_if_any: bool,
    /// Only this exact name (`--name`).
    pub name: Option<String>,
}

impl ListFilter {
    pub fn new(
        expiring_within: Option<&str>,
        expired: bool,
        unused_for: Option<&str>,
        statuses: &[Status],
        fail_if_any: bool,
    ) -> Result<ListFilter> {
        let unused_ms = unused_for
            .map(|d| {
                parse_duration(d)
                    .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                    .map_err(|e| Error::usage(format!("--unused-for: {e}")))
            })
            .transpose()?;
        let mut statuses = statuses.to_vec();
        statuses.sort();
        statuses.dedup();
        Ok(ListFilter {
            expiry: ExpiryFilter::new(expiring_within, expired)?,
            unused_ms,
            statuses,
            fail_if_any,
            name: None,
        })
    }

    /// Whether `token` is shown at `now`.
    pub fn matches(&self, token: &Token, now: DateTime<Utc>) -> bool {
        if self.name.as_ref().is_some_and(|n| *n != token.name) {
            return false;
        }
        if let Some(expiry) = &self.expiry
            && !expiry.matches(token.expires, now)
        {
            return false;
        }
        if let Some(ms) = self.unused_ms {
            let before = now.timestamp_millis().saturating_sub(ms);
            let unused = match token.last_used {
                LastUsed::Unknown => false,
                LastUsed::Never => true,
                LastUsed::At(t) => t < before,
            };
            if !unused {
                return false;
            }
        }
        self.statuses.is_empty() || self.statuses.contains(&token.status(now))
    }

    /// Keeps the tokens the filter matches.
    pub fn apply(&self, tokens: &mut Vec<Token>, now: DateTime<Utc>) {
        tokens.retain(|t| self.matches(t, now));
    }

    /// Keeps the rows the filter matches; a filter that matches every row (the default one,
    /// whatever `--fail-if-any`) does not read them.
    pub fn apply_listed(&self, rows: &mut Listed, now: DateTime<Utc>) {
        let keeps_all = ListFilter {
            fail_if_any: self.fail_if_any,
            ..ListFilter::default()
        };
        if *self != keeps_all {
            rows.retain(|t| self.matches(t, now));
        }
    }

    /// The one warning when `--unused-for` meets platforms that keep no last-use data.
    pub fn last_use_warning(
        &self,
        platforms: impl IntoIterator<Item = PlatformKind>,
    ) -> Option<String> {
        self.unused_ms?;
        let mut blind: Vec<&str> = platforms
            .into_iter()
            .filter(|p| !p.profile().last_use)
            .map(|p| p.display())
            .collect();
        blind.sort();
        blind.dedup();
        (!blind.is_empty()).then(|| {
            format!(
                "{} keeps no last-use data: --unused-for matches none of its tokens",
                blind.join(" and ")
            )
        })
    }

    /// `--fail-if-any` with `count` rows left: the exit-7 error.
    pub fn check(&self, count: usize, nouns: &Nouns) -> Result<()> {
        if !self.fail_if_any || count == 0 {
            return Ok(());
        }
        let what = if count == 1 {
            nouns.one.to_string()
        } else {
            format!("{}s", nouns.one)
        };
        Err(Error::new(
            Kind::Matched,
            format!("{count} {what} matched (--fail-if-any)"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::{TokenId, TokenKind};
    use serde_json::Value;

    const DAY: i64 = 86_400_000;

    use crate::dates::test_now as now;

    fn token(name: &str, expires: Option<i64>, last_used: LastUsed, revoked: bool) -> Token {
        Token {
            id: TokenId::int(1),
            name: name.into(),
            expires,
            last_used,
            created: None,
            revoked,
            cells: crate::platform::interface::Cells::new(),
            json: Value::Null.into(),
        }
    }

    fn kept(f: &ListFilter, tokens: &[Token]) -> Vec<String> {
        let mut v = tokens.to_vec();
        f.apply(&mut v, now());
        v.into_iter().map(|t| t.name.to_string()).collect()
    }

    #[test]
    fn unused_for_and_status_narrow_the_expiry_filter() {
        let n = now().timestamp_millis();
        let tokens = [
            token("never", Some(n + 5 * DAY), LastUsed::Never, false),
            token("old", None, LastUsed::At(n - 40 * DAY), false),
            token("recent", Some(n + 5 * DAY), LastUsed::At(n - DAY), false),
            token("unknown", Some(n + 5 * DAY), LastUsed::Unknown, false),
            token("revoked", None, LastUsed::Never, true),
            token("expired", Some(n - DAY), LastUsed::Never, true),
        ];
        let f = |w: Option<&str>, e: bool, u: Option<&str>, s: &[Status]| {
            ListFilter::new(w, e, u, s, false).unwrap()
        };
        assert_eq!(kept(&f(None, false, None, &[]), &tokens).len(), 6);
        assert_eq!(
            kept(&f(None, false, Some("30d"), &[]), &tokens),
            ["never", "old", "revoked", "expired"]
        );
        assert_eq!(
            kept(&f(Some("14d"), false, Some("30d"), &[]), &tokens),
            ["never"]
        );
        assert_eq!(
            kept(
                &f(None, false, None, &[Status::Revoked, Status::Expired]),
                &tokens
            ),
            ["revoked", "expired"]
        );
        assert_eq!(
            kept(&f(None, true, None, &[Status::Active]), &tokens),
            Vec::<String>::new()
        );
        assert_eq!(
            ListFilter::new(None, false, Some("soon"), &[], false)
                .unwrap_err()
                .exit_code(),
            3
        );
    }

    #[test]
    fn one_warning_for_platforms_without_last_use_and_exit_7_for_rows() {
        let f = ListFilter::new(None, false, Some("1d"), &[], true).unwrap();
        let all = PlatformKind::ALL;
        assert_eq!(
            f.last_use_warning(all.into_iter().chain(all)).as_deref(),
            Some("StackState keeps no last-use data: --unused-for matches none of its tokens")
        );
        assert_eq!(f.last_use_warning([PlatformKind::Qualytics]), None);
        assert_eq!(ListFilter::default().last_use_warning(all), None);
        let nouns = crate::platform::stackstate::ServiceTokens::NOUNS;
        assert!(f.check(0, &nouns).is_ok());
        let e = f.check(2, &nouns).unwrap_err();
        assert_eq!(e.exit_code(), 7);
        assert_eq!(e.message, "2 service tokens matched (--fail-if-any)");
        assert!(ListFilter::default().check(2, &nouns).is_ok());
    }
}

//! `--expiring-within DURATION` and `--expired` of the `list` commands: which tokens and keys to
//! show, by their expiry. Given together, either matches; a token without an expiry never does.

use chrono::{DateTime, Utc};

use crate::dates::parse_duration;
use crate::error::{Error, Result};

/// The filter of a `list` command; `None` from [`ExpiryFilter::new`] shows everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryFilter {
    /// Expiry between now and now + this many milliseconds (both ends included).
    within_ms: Option<i64>,
    /// Expiry before now.
    expired: bool,
}

impl ExpiryFilter {
    /// The filter `--expiring-within` and `--expired` ask for, checked before any request.
    pub fn new(expiring_within: Option<&str>, expired: bool) -> Result<Option<ExpiryFilter>> {
        let within_ms = expiring_within
            .map(|d| {
                parse_duration(d)
                    .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                    .map_err(|e| Error::usage(format!("--expiring-within: {e}")))
            })
            .transpose()?;
        if within_ms.is_none() && !expired {
            return Ok(None);
        }
        Ok(Some(ExpiryFilter { within_ms, expired }))
    }

    /// Whether an item with this expiry (epoch milliseconds) is shown at `now`.
    pub fn matches(&self, expiration: Option<i64>, now: DateTime<Utc>) -> bool {
        let Some(expiration) = expiration else {
            return false;
        };
        let now = now.timestamp_millis();
        let within = self
            .within_ms
            .is_some_and(|ms| expiration >= now && expiration <= now.saturating_add(ms));
        let expired = self.expired && expiration < now;
        within || expired
    }
}

/// Keeps the items the filter matches; all of them without a filter.
pub fn retain<T>(
    items: &mut Vec<T>,
    filter: Option<ExpiryFilter>,
    now: DateTime<Utc>,
    expiration: impl Fn(&T) -> Option<i64>,
) {
    if let Some(filter) = filter {
        items.retain(|item| filter.matches(expiration(item), now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    use crate::dates::test_now as now;

    fn filter(within: Option<&str>, expired: bool) -> Option<ExpiryFilter> {
        ExpiryFilter::new(within, expired).unwrap()
    }

    #[test]
    fn no_flag_means_no_filter_and_a_bad_duration_is_a_usage_error() {
        assert_eq!(filter(None, false), None);
        let e = ExpiryFilter::new(Some("soon"), false).unwrap_err();
        assert_eq!(e.exit_code(), 3);
        assert!(e.message.starts_with("--expiring-within"), "{}", e.message);
    }

    #[test]
    fn expiring_within_expired_and_both() {
        let n = now().timestamp_millis();
        let items = [
            None,
            Some(n - DAY),
            Some(n + DAY),
            Some(n + 7 * DAY),
            Some(n + 7 * DAY + 1),
            Some(i64::MIN),
            Some(i64::MAX),
        ];
        let shown = |f: Option<ExpiryFilter>| -> Vec<Option<i64>> {
            let mut v = items.to_vec();
            retain(&mut v, f, now(), |e| *e);
            v
        };
        assert_eq!(shown(None), items.to_vec());
        assert_eq!(
            shown(filter(Some("7d"), false)),
            [Some(n + DAY), Some(n + 7 * DAY)]
        );
        assert_eq!(shown(filter(None, true)), [Some(n - DAY), Some(i64::MIN)]);
        assert_eq!(
            shown(filter(Some("7d"), true)),
            [
                Some(n - DAY),
                Some(n + DAY),
                Some(n + 7 * DAY),
                Some(i64::MIN)
            ]
        );
        // The largest duration does not overflow.
        let longest = filter(Some("10000y"), false).unwrap();
        assert!(longest.matches(Some(n + 9_000 * 365 * DAY), now()));
        assert!(!longest.matches(Some(i64::MAX), now()));
    }
}

//! Dates and durations (CONTRACT §3): one duration grammar everywhere, `--expiration` parsing, and
//! how tables show an expiration.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

/// Parses the one duration grammar: a whole number and a unit, `s`, `m` (minutes), `h`, `d`, `w`
/// or `y` (365 days), e.g. `90s`, `30d`, `1y`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} has no unit (use s, m, h, d, w or y, e.g. 30s)"))?;
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(format!(
            "{text:?} is not a duration (a whole number and a unit: s, m, h, d, w or y, e.g. 30d)"
        ));
    }
    let seconds_per_unit: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        _ => {
            return Err(format!(
                "{text:?} has an unknown unit {unit:?} (use s, m, h, d, w or y)"
            ));
        }
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(seconds_per_unit))
        // Keep it within what dates can hold: about 10,000 years.
        .filter(|s| *s <= 10_000 * 365 * 86_400)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is too long a duration"))
}

/// Parses an `--expiration`: `yyyy-MM-dd` (UTC midnight), an RFC 3339 timestamp, or a duration from
/// `now`. Returns epoch milliseconds. A moment that is not after `now` is an error.
pub fn parse_expiration(text: &str, now: DateTime<Utc>) -> Result<i64, String> {
    let trimmed = text.trim();
    let moment = if let Some(date) = parse_date(trimmed) {
        date
    } else if let Ok(t) = DateTime::parse_from_rfc3339(trimmed) {
        t.with_timezone(&Utc)
    } else if let Ok(d) = parse_duration(trimmed) {
        chrono::Duration::from_std(d)
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .ok_or_else(|| format!("expiration {text:?} is too far in the future"))?
    } else {
        return Err(format!(
            "invalid expiration {text:?}: use a date (yyyy-MM-dd), an RFC 3339 time \
             (2030-05-22T10:00:00Z) or a duration from now (30d, 12h, 1y)"
        ));
    };
    if moment <= now {
        return Err(format!(
            "expiration {text:?} is not in the future: give a later date or a duration such as 30d"
        ));
    }
    Ok(moment.timestamp_millis())
}

/// `yyyy-MM-dd` exactly, as UTC midnight.
fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// [`push_expiration`] as a string.
pub fn render_expiration(millis: i64, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    push_expiration(&mut out, millis, now);
    out
}

/// How a table shows an expiration in epoch milliseconds, appended to `out` (a large list writes
/// every row into one buffer): `yyyy-MM-dd` in UTC, past ones as `2025-01-01 (expired)`, and an
/// integer that is no valid date as the plain number.
pub fn push_expiration(out: &mut String, millis: i64, now: DateTime<Utc>) {
    match Civil::of(millis) {
        Some(c) => {
            c.push_ymd(out);
            if before(millis, now) {
                out.push_str(" (expired)");
            }
        }
        None => push_int(out, millis),
    }
}

/// Whether the moment `millis` (epoch milliseconds, of a year [`Civil::of`] shows) is before
/// `now`, counted in whole milliseconds and the rest of `now`'s: no calendar worked out.
fn before(millis: i64, now: DateTime<Utc>) -> bool {
    let now_millis = now.timestamp_millis();
    millis < now_millis
        || (millis == now_millis && !now.timestamp_subsec_nanos().is_multiple_of(1_000_000))
}

/// [`push_date`] as a string.
#[cfg(test)]
fn render_date(millis: i64) -> String {
    let mut out = String::new();
    push_date(&mut out, millis);
    out
}

/// A date in epoch milliseconds as `yyyy-MM-dd` in UTC (`CREATED`), appended to `out`; an
/// integer that is no valid date as the plain number.
pub fn push_date(out: &mut String, millis: i64) {
    match Civil::of(millis) {
        Some(c) => c.push_ymd(out),
        None => push_int(out, millis),
    }
}

fn push_int(out: &mut String, n: i64) {
    use std::fmt::Write;
    let _ = write!(out, "{n}");
}

/// A moment in epoch milliseconds as the calendar of UTC shows it, in the years 0 to 9999 (the
/// dates a table and RFC 3339 write with four digits): worked out from the count of days, with
/// no table and no format string, for every row of a large list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Civil {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    milli: u32,
}

impl Civil {
    /// `None` for a moment outside the years 0 to 9999.
    fn of(millis: i64) -> Option<Civil> {
        let (secs, milli) = (millis.div_euclid(1000), millis.rem_euclid(1000));
        let (days, of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        // Days since 0000-03-01 in eras of 400 years (146,097 days), each year starting in
        // March so that the leap day is the last of its year.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let of_era = z.rem_euclid(146_097);
        let year_of_era = (of_era - of_era / 1460 + of_era / 36_524 - of_era / 146_096) / 365;
        let of_year = of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let march_month = (5 * of_year + 2) / 153;
        let day = of_year - (153 * march_month + 2) / 5 + 1;
        let month = if march_month < 10 {
            march_month + 3
        } else {
            march_month - 9
        };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        if !(0..=9999).contains(&year) {
            return None;
        }
        Some(Civil {
            year: year as u32,
            month: month as u32,
            day: day as u32,
            hour: (of_day / 3600) as u32,
            minute: (of_day / 60 % 60) as u32,
            second: (of_day % 60) as u32,
            milli: milli as u32,
        })
    }

    /// `yyyy-MM-dd`: what `%Y-%m-%d` gives.
    fn push_ymd(self, out: &mut String) {
        let mut text = *b"0000-00-00";
        self.put_ymd(&mut text);
        push_ascii(out, &text);
    }

    /// The digits of `yyyy-MM-dd` into `text`, which holds its dashes.
    fn put_ymd(self, text: &mut [u8]) {
        put(&mut text[..4], self.year);
        put(&mut text[5..7], self.month);
        put(&mut text[8..10], self.day);
    }
}

/// `n`'s last digits into `into`, zeros in front.
fn put(into: &mut [u8], mut n: u32) {
    for d in into.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// ASCII bytes (digits, signs) onto `out` in one copy.
fn push_ascii(out: &mut String, text: &[u8]) {
    out.push_str(std::str::from_utf8(text).unwrap_or_default());
}

/// Epoch milliseconds as RFC 3339 in UTC, as chrono's `to_rfc3339_opts(AutoSi, true)` writes
/// them (`2026-01-02T03:04:05Z`, `…05.120Z`), appended to `out` without a format string or an
/// allocation; `None` for a moment chrono cannot hold.
pub fn push_rfc3339(out: &mut String, millis: i64) -> Option<()> {
    match Rfc3339::of(millis) {
        Some(text) => out.push_str(text.as_str()),
        None => {
            let t = DateTime::<Utc>::from_timestamp_millis(millis)?;
            out.push_str(&t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
        }
    }
    Some(())
}

/// [`push_rfc3339`]'s text of a moment in the years 0 to 9999, held in place (a large list
/// writes one for most rows).
pub struct Rfc3339 {
    text: [u8; 24],
    len: usize,
}

impl Rfc3339 {
    /// `None` for a moment outside those years.
    pub fn of(millis: i64) -> Option<Rfc3339> {
        let c = Civil::of(millis)?;
        let mut text = *b"0000-00-00T00:00:00.000Z";
        c.put_ymd(&mut text);
        put(&mut text[11..13], c.hour);
        put(&mut text[14..16], c.minute);
        put(&mut text[17..19], c.second);
        let len = if c.milli == 0 {
            text[19] = b'Z';
            20
        } else {
            put(&mut text[20..23], c.milli);
            24
        };
        Some(Rfc3339 { text, len })
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text[..self.len]).unwrap_or_default()
    }
}

/// `n` in decimal onto `out`, at least `width` digits (zeros in front).
pub fn push_digits(out: &mut String, mut n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut at = digits.len();
    while n > 0 || digits.len() - at < width {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    // ASCII digits: one copy, not a character at a time.
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

/// [`push_age`] as a string.
#[cfg(test)]
fn render_age(millis: i64, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    push_age(&mut out, millis, now);
    out
}

/// How long ago a moment was, in its largest whole unit, appended to `out`: `45s ago`,
/// `3h ago`, `12d ago`.
pub fn push_age(out: &mut String, millis: i64, now: DateTime<Utc>) {
    let secs = (now.timestamp_millis().saturating_sub(millis) / 1000).max(0);
    let (n, unit) = if secs < 60 {
        (secs, "s ago")
    } else if secs < 3600 {
        (secs / 60, "m ago")
    } else if secs < 86_400 {
        (secs / 3600, "h ago")
    } else {
        (secs / 86_400, "d ago")
    };
    push_int(out, n);
    out.push_str(unit);
}

/// An RFC 3339 time as epoch milliseconds; a time without an offset is read as UTC.
pub fn parse_rfc3339_millis(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(text, f).ok())
        .map(|t| t.and_utc().timestamp_millis())
}

/// Epoch milliseconds as RFC 3339 in UTC, to the second (`2026-03-10T12:00:00Z`); `None` out
/// of range.
pub fn rfc3339_millis(millis: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// The moment unit tests take as now.
#[cfg(test)]
pub fn test_now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-10T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

#[cfg(test)]
mod age_tests {
    use super::*;

    #[test]
    fn ages_and_times() {
        let now = test_now();
        let n = now.timestamp_millis();
        assert_eq!(render_age(n - 45_000, now), "45s ago");
        assert_eq!(render_age(n - 3 * 3_600_000 - 5, now), "3h ago");
        assert_eq!(render_age(n - 12 * 86_400_000, now), "12d ago");
        assert_eq!(render_age(n + 5_000, now), "0s ago");
        assert_eq!(
            parse_rfc3339_millis("2026-03-10T12:00:00"),
            parse_rfc3339_millis("2026-03-10T12:00:00Z")
        );
        assert_eq!(parse_rfc3339_millis("2026-03-10T13:00:00+01:00"), Some(n));
        assert_eq!(parse_rfc3339_millis("soon"), None);
        assert_eq!(render_date(n), "2026-03-10");
    }
}

#[cfg(test)]
mod tests {

    proptest::proptest! {
        #[test]
        fn rfc3339_is_what_chrono_writes(ms in proptest::prelude::any::<i64>(), near in -4_000_000_000_000i64..300_000_000_000_000) {
            for ms in [ms, near, near - near % 1000, near / 86_400_000 * 86_400_000] {
                let mut out = String::new();
                let expected = DateTime::<Utc>::from_timestamp_millis(ms)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
                let written = push_rfc3339(&mut out, ms).map(|()| out);
                proptest::prop_assert_eq!(written, expected, "{}", ms);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn an_expiry_is_past_as_chrono_compares_it(
            now_ms in 0i64..300_000_000_000_000,
            sub_ms in 0u32..1_000_000,
            delta in -3i64..3,
        ) {
            let now = DateTime::<Utc>::from_timestamp_millis(now_ms).unwrap()
                + chrono::Duration::nanoseconds(i64::from(sub_ms));
            let ms = now_ms + delta;
            let chrono_says = DateTime::<Utc>::from_timestamp_millis(ms).is_some_and(|t| t < now);
            proptest::prop_assert_eq!(before(ms, now), chrono_says, "{} {} {}", now_ms, sub_ms, delta);
        }
    }

    #[test]
    fn an_expiry_in_the_same_millisecond_as_now_is_past_only_once_now_is_beyond_it() {
        let now = DateTime::<Utc>::from_timestamp_millis(1_767_225_600_000).unwrap();
        assert!(!before(1_767_225_600_000, now));
        assert!(before(
            1_767_225_600_000,
            now + chrono::Duration::nanoseconds(1)
        ));
        assert!(before(1_767_225_599_999, now));
        assert!(!before(
            1_767_225_600_001,
            now + chrono::Duration::nanoseconds(999_999)
        ));
    }

    #[test]
    fn ymd_is_what_the_format_string_gives() {
        for ms in [
            0i64,
            1,
            86_399_999,
            951_782_400_000,
            1_767_225_599_999,
            -62_135_596_800_000,
            253_402_300_799_999,
        ] {
            let t = DateTime::<Utc>::from_timestamp_millis(ms).unwrap();
            let mut out = String::from("x");
            push_date(&mut out, ms);
            assert_eq!(out, format!("x{}", t.format("%Y-%m-%d")), "{ms}");
        }
    }

    proptest::proptest! {
        /// Any moment's date is what chrono's format string gives, or the plain number outside
        /// the years 0 to 9999; an expiration is past exactly when it is before now.
        #[test]
        fn dates_are_what_chrono_writes(
            ms in proptest::prelude::any::<i64>(),
            near in -62_200_000_000_000i64..253_500_000_000_000,
            day in -800_000i64..3_000_000,
        ) {
            let edges = [day * 86_400_000, day * 86_400_000 - 1, day * 86_400_000 + 999];
            for ms in [ms, near, near - 1, near + 1].into_iter().chain(edges) {
                let expected = match DateTime::<Utc>::from_timestamp_millis(ms) {
                    Some(t) if (0..=9999).contains(&chrono::Datelike::year(&t)) => {
                        t.format("%Y-%m-%d").to_string()
                    }
                    _ => ms.to_string(),
                };
                proptest::prop_assert_eq!(render_date(ms), expected.clone());
                // Half a millisecond past `near`: an expiration at `near` itself is past.
                let now = DateTime::<Utc>::from_timestamp_millis(near).unwrap()
                    + chrono::Duration::microseconds(500);
                let expiration = render_expiration(ms, now);
                if expected.len() == 10 && ms <= near {
                    proptest::prop_assert_eq!(expiration, format!("{expected} (expired)"));
                } else {
                    proptest::prop_assert_eq!(expiration, expected);
                }
            }
        }
    }
    use super::*;

    use super::test_now as now;

    #[test]
    fn durations_follow_the_one_grammar() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86400)));
        assert_eq!(parse_duration("1w"), Ok(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_duration("1y"), Ok(Duration::from_secs(365 * 86400)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        for bad in [
            "",
            "s",
            "30",
            "30x",
            "1.5h",
            "-1d",
            "30 d",
            "d30",
            "1ms",
            "soon",
            "99999999999999999999s",
            "20000y",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn expiration_date_is_utc_midnight_in_millis() {
        assert_eq!(parse_expiration("2030-05-22", now()), Ok(1_905_638_400_000));
        // The Go CLI's own test value, were it in the future.
        let early = DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_expiration("2020-05-22", early), Ok(1_590_105_600_000));
    }

    #[test]
    fn expiration_rfc3339_and_durations() {
        assert_eq!(
            parse_expiration("2030-05-22T10:00:00+02:00", now()),
            Ok(1_905_638_400_000 + 8 * 3_600_000)
        );
        assert_eq!(
            parse_expiration("30d", now()),
            Ok(now().timestamp_millis() + 30 * 86_400_000)
        );
    }

    #[test]
    fn expiration_not_after_now_or_unparseable_is_an_error() {
        for bad in [
            "2001-01-01",
            "2026-03-10", // today
            "2026-03-10T11:59:59Z",
            "0s",
            "soon",
            "2030-5-22",
            "2030-02-30",
            "",
            "22-05-2030",
        ] {
            assert!(parse_expiration(bad, now()).is_err(), "{bad:?} parsed");
        }
        assert!(parse_expiration("2026-03-11", now()).is_ok());
    }

    #[test]
    fn expirations_render_as_utc_dates_and_never_panic() {
        assert_eq!(render_expiration(1_905_638_400_000, now()), "2030-05-22");
        assert_eq!(
            render_expiration(1_905_638_400_000 - 1, now()),
            "2030-05-21"
        );
        assert_eq!(
            render_expiration(1_735_689_600_000, now()),
            "2025-01-01 (expired)"
        );
        assert_eq!(render_expiration(0, now()), "1970-01-01 (expired)");
        assert_eq!(render_expiration(i64::MAX, now()), i64::MAX.to_string());
        assert_eq!(render_expiration(i64::MIN, now()), i64::MIN.to_string());
        assert_eq!(render_expiration(-1, now()), "1969-12-31 (expired)");
        // Beyond year 9999: no valid yyyy-MM-dd, so the plain number.
        assert_eq!(
            render_expiration(253_402_300_800_000, now()),
            "253402300800000"
        );
        for ms in [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX] {
            let _ = render_expiration(ms, now());
        }
    }
}

//! Property tests (proptest, bounded to a fixed number of cases so CI time is fixed) for the
//! date and duration parser, expiration rendering, the response decoders (the API models) and
//! the error-body decoder: whatever a user types or a server sends, no panic, and the results
//! keep their promises.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value};

use sts_cli::dates::{parse_duration, parse_expiration, render_expiration};
use sts_cli::error::Kind;
use sts_cli::http::client::http_error;
use sts_cli::platform::stackstate::wire::{
    GeneratedIngestionApiKeyResponse, GenericErrorsResponse, IngestionApiKey, ServerInfo,
    ServiceToken, ServiceTokenCreatedResponse,
};

const UNITS: [(&str, u64); 6] = [
    ("s", 1),
    ("m", 60),
    ("h", 3_600),
    ("d", 86_400),
    ("w", 7 * 86_400),
    ("y", 365 * 86_400),
];
/// The longest duration the grammar accepts: about 10,000 years.
const MAX_SECONDS: u64 = 10_000 * 365 * 86_400;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        // CI has no use for regression files written into the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A moment between 1970 and 2200, as a `now`.
fn now_strategy() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..7_258_118_400_000).prop_map(|ms| Utc.timestamp_millis_opt(ms).unwrap())
}

/// Any JSON value, a few levels deep, with the field names of the models mixed in.
fn json_strategy() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,20}".prop_map(Value::String),
        "svctok-[a-z0-9]{4}".prop_map(Value::String),
    ];
    let key = prop_oneof![
        Just("id".to_string()),
        Just("name".to_string()),
        Just("token".to_string()),
        Just("apiKey".to_string()),
        Just("roles".to_string()),
        Just("expiration".to_string()),
        Just("lastUpdateTimestamp".to_string()),
        Just("description".to_string()),
        Just("dedicatedSubject".to_string()),
        Just("version".to_string()),
        Just("major".to_string()),
        Just("deploymentMode".to_string()),
        Just("errors".to_string()),
        Just("message".to_string()),
        "[a-zA-Z_]{1,10}",
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..8)
                .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Decodes `bytes` as each model the client reads; only checks that nothing panics and that
/// what decodes encodes again.
fn decode_all(bytes: &[u8]) {
    fn one<T: serde::de::DeserializeOwned + serde::Serialize>(bytes: &[u8]) {
        if let Ok(v) = serde_json::from_slice::<T>(bytes) {
            serde_json::to_string(&v).expect("what decodes encodes");
        }
    }
    one::<Vec<ServiceToken>>(bytes);
    one::<ServiceToken>(bytes);
    one::<ServiceTokenCreatedResponse>(bytes);
    one::<Vec<IngestionApiKey>>(bytes);
    one::<GeneratedIngestionApiKeyResponse>(bytes);
    one::<ServerInfo>(bytes);
    one::<GenericErrorsResponse>(bytes);
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn parse_duration_never_panics(text in "\\PC{0,24}") {
        let _ = parse_duration(&text);
    }

    #[test]
    fn every_number_and_unit_parses_to_its_seconds(n in 0u64..=MAX_SECONDS, unit in 0usize..6) {
        let (suffix, seconds) = UNITS[unit];
        let text = format!("{n}{suffix}");
        match n.checked_mul(seconds).filter(|s| *s <= MAX_SECONDS) {
            Some(s) => prop_assert_eq!(parse_duration(&text), Ok(Duration::from_secs(s))),
            None => prop_assert!(parse_duration(&text).is_err(), "{} parsed", text),
        }
        // Surrounding spaces are trimmed; any other unit is an error.
        prop_assert_eq!(parse_duration(&format!(" {text} ")), parse_duration(&text));
        let (bad_unit, negative) = (format!("{n}{suffix}x"), format!("-{n}{suffix}"));
        prop_assert!(parse_duration(&bad_unit).is_err());
        prop_assert!(parse_duration(&negative).is_err());
    }

    #[test]
    fn parse_expiration_never_panics_and_is_always_after_now(
        text in "\\PC{0,32}",
        now in now_strategy(),
    ) {
        if let Ok(ms) = parse_expiration(&text, now) {
            prop_assert!(ms > now.timestamp_millis(), "{:?} gave {} at {}", text, ms, now);
        }
    }

    #[test]
    fn expiration_shapes_parse_as_promised(
        y in 1970i32..=2400, m in 1u32..=12, d in 1u32..=31,
        n in 1u64..=10_000, unit in 0usize..6,
        now in now_strategy(),
    ) {
        // yyyy-MM-dd: UTC midnight when it is a date after now, else an error.
        let text = format!("{y:04}-{m:02}-{d:02}");
        let midnight = Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).single();
        match midnight.filter(|t| *t > now) {
            Some(t) => prop_assert_eq!(parse_expiration(&text, now), Ok(t.timestamp_millis())),
            None => prop_assert!(parse_expiration(&text, now).is_err(), "{} parsed", text),
        }
        // A duration from now.
        let (suffix, seconds) = UNITS[unit];
        let text = format!("{n}{suffix}");
        let expected = now.timestamp_millis() + (n * seconds * 1000) as i64;
        prop_assert_eq!(parse_expiration(&text, now), Ok(expected));
        // RFC 3339 in any offset names the same instant.
        if let Some(t) = midnight {
            let later = t + chrono::Duration::hours(13);
            let text = later
                .with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap())
                .to_rfc3339();
            if later > now {
                prop_assert_eq!(parse_expiration(&text, now), Ok(later.timestamp_millis()));
            } else {
                prop_assert!(parse_expiration(&text, now).is_err());
            }
        }
    }

    #[test]
    fn any_integer_renders_without_a_panic(ms in any::<i64>(), now in now_strategy()) {
        let shown = render_expiration(ms, now);
        let date_shape = |s: &str| {
            let b = s.as_bytes();
            b.len() == 10 && b[4] == b'-' && b[7] == b'-'
                && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        };
        let plain = shown == ms.to_string();
        let date = date_shape(&shown);
        let expired = shown
            .strip_suffix(" (expired)")
            .is_some_and(date_shape);
        prop_assert!(plain || date || expired, "{} rendered as {:?}", ms, shown);
        if date {
            prop_assert!(ms >= now.timestamp_millis(), "{} shown as live: {}", ms, shown);
        }
        if expired {
            prop_assert!(ms < now.timestamp_millis(), "{} shown as expired: {}", ms, shown);
        }
    }

    #[test]
    fn the_models_decode_any_json_without_a_panic(value in json_strategy()) {
        decode_all(value.to_string().as_bytes());
        // Wrapped in a list, as the list answers are.
        decode_all(Value::Array(vec![value]).to_string().as_bytes());
    }

    #[test]
    fn the_models_decode_any_bytes_without_a_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        decode_all(&bytes);
    }

    #[test]
    fn a_decoded_token_keeps_unknown_fields(
        id in any::<i64>(),
        name in ".{0,12}",
        expiration in proptest::option::of(any::<i64>()),
        roles in prop::collection::vec("[a-z-]{1,12}", 0..4),
        extra_key in "x[a-zA-Z]{1,8}",
        extra_value in any::<i64>(),
    ) {
        let mut object = serde_json::json!({"id": id, "name": name, "roles": roles});
        if let Some(e) = expiration {
            object["expiration"] = e.into();
        }
        object[&extra_key] = extra_value.into();
        let token: ServiceToken = serde_json::from_value(object.clone()).unwrap();
        prop_assert_eq!(token.id, Some(id));
        prop_assert_eq!(serde_json::to_value(&token).unwrap(), object);
    }

    #[test]
    fn an_error_answer_decodes_to_one_line_without_a_panic(
        status in 400u16..=599,
        content_type in prop_oneof![
            Just(String::new()),
            Just("application/json".to_string()),
            Just("text/html".to_string()),
            Just("text/plain".to_string()),
            "[a-z/+-]{0,20}",
        ],
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..512),
            json_strategy().prop_map(|v| v.to_string().into_bytes()),
            "\\PC{0,64}(\n\\PC{0,64}){0,4}".prop_map(String::into_bytes),
        ],
    ) {
        let status = StatusCode::from_u16(status).unwrap();
        for platform in sts_cli::platform::PlatformKind::ALL {
            let decoder = platform.profile().error_message;
            let e = http_error(&Method::GET, "http://127.0.0.1:1/api/x", status, &content_type, &body, decoder);
            prop_assert!(!e.message.contains('\n') && !e.message.contains('\r'), "{:?}", e.message);
            prop_assert!(e.message.starts_with(&status.as_u16().to_string())
                || e.message.starts_with("authentication failed"), "{:?}", e.message);
            prop_assert_eq!(e.status, Some(status.as_u16()));
            let expected = if status == StatusCode::UNAUTHORIZED { Kind::Connect } else { Kind::Usage };
            prop_assert_eq!(e.kind, expected);
        }
    }
}

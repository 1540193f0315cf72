//! Serde types of the StackState API (`spec/stackstate-api.yaml`), shared by the
//! `sts` client and the `sts-sandbox` server so the two can never disagree on a field name.
//!
//! Decoding is lenient, as the schemas are open: unknown fields are kept in `extra` (and written
//! back out by `-o json`), fields the spec marks required default when a server leaves them out.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::platform::interface::Items;
use crate::platform::row_json::plain::{Field as Plain, Seen, members};
use crate::platform::row_json::{JsonField, Shape, SortedJson, serialize_merged};

/// `ServiceToken`: one element of `GET /security/tokens`. Decoded field by field (a list holds
/// thousands): the known fields typed, the rest kept in `extra`, as `#[serde(flatten)]` would
/// without its buffering of every field first.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ServiceToken {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_timestamp: Option<i64>,
    #[serde(default)]
    pub name: compact_str::CompactString,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<i64>,
    #[serde(default)]
    pub roles: crate::platform::interface::Items,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedicated_subject: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A field name: the index of a known one, or an unknown one's name (kept in `extra`).
enum Field {
    Known(usize),
    Other(String),
}

/// The index of a known field name, by a comparison with each (of its known length: no call to
/// compare bytes, as a search in a slice of names makes).
struct FieldSeed(fn(&str) -> Option<usize>);

impl<'de> serde::de::DeserializeSeed<'de> for FieldSeed {
    type Value = Field;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Field, D::Error> {
        d.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for FieldSeed {
    type Value = Field;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Field, E> {
        Ok(match (self.0)(v) {
            Some(i) => Field::Known(i),
            None => Field::Other(v.to_string()),
        })
    }
}

/// A list of strings decoded into no more room than it needs: one short item kept in place,
/// more in a vector of their number (serde's own gives room for four at the first, and a role
/// of its own allocation: a row's one role cost 96 bytes for 16).
struct Strings;

impl<'de> serde::de::DeserializeSeed<'de> for Strings {
    type Value = Items;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Items, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Strings {
    type Value = Items;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Items, A::Error> {
        let mut out = Items::new();
        while let Some(s) = seq.next_element()? {
            if out.len() == out.capacity() {
                out.reserve_exact(out.len().max(1));
            }
            out.push(s);
        }
        Ok(out)
    }
}

/// A field's value: as its type decodes, or by the given seed.
macro_rules! next_value {
    ($map:ident) => {
        $map.next_value()?
    };
    ($map:ident, $seed:expr) => {
        $map.next_value_seed($seed)?
    };
}

/// Decodes a struct of known `fields`, each by `known` (or by a seed given with `by`), and the
/// others into a map.
macro_rules! decode_fields {
    ($name:ident, $expecting:literal, [$($field:ident => $key:literal $(by $seed:expr)?),* $(,)?]) => {
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $name;

                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str($expecting)
                    }

                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$name, A::Error> {
                        fn known(k: &str) -> Option<usize> {
                            let mut n = 0;
                            $(
                                if k == $key {
                                    return Some(n);
                                }
                                n += 1;
                            )*
                            let _ = n;
                            None
                        }
                        let mut out = $name::default();
                        while let Some(field) = map.next_key_seed(FieldSeed(known))? {
                            match field {
                                Field::Other(k) => {
                                    let v: Value = map.next_value()?;
                                    out.extra.insert(k, v);
                                }
                                Field::Known(i) => {
                                    let mut n = 0;
                                    $(
                                        if i == n {
                                            out.$field = next_value!(map $(, $seed)?);
                                            continue;
                                        }
                                        n += 1;
                                    )*
                                    let _ = n;
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}

decode_fields!(ServiceToken, "a service token", [
    id => "id",
    last_update_timestamp => "lastUpdateTimestamp",
    name => "name",
    description => "description",
    expiration => "expiration",
    roles => "roles" by Strings,
    dedicated_subject => "dedicatedSubject",
]);

decode_fields!(IngestionApiKey, "an ingestion API key", [
    id => "id",
    last_update_timestamp => "lastUpdateTimestamp",
    name => "name",
    description => "description",
    expiration => "expiration",
]);

/// The members of a plain token or key ([`crate::platform::row_json::plain::members`]) that
/// decode as its fields, each handed to `set` by its field's number: 0 `id`, 1
/// `lastUpdateTimestamp`, 2 `name`, 3 `description`, 4 `expiration`, and a token's 5 `roles`
/// and 6 `dedicatedSubject` (an ingestion API key has the first `known` = 5). Any other member,
/// one given twice or a value of another type declines the object (serde reads it).
pub(super) fn plain_members<'a>(
    text: &'a str,
    known: u32,
    mut set: impl FnMut(u32, Plain<'a>),
) -> Option<usize> {
    let mut seen = Seen::default();
    members(text, |key, value| {
        let field = match key {
            "id" => 0,
            "lastUpdateTimestamp" => 1,
            "name" => 2,
            "description" => 3,
            "expiration" => 4,
            "roles" => 5,
            "dedicatedSubject" => 6,
            _ => u32::MAX,
        };
        // Kept in `extra` as a `Value`: serde's.
        if field >= known {
            return None;
        }
        seen.first(field)?;
        let fits = match (field, value) {
            (0 | 1 | 4, v) => matches!(v, Plain::Int(_) | Plain::Null),
            (2, Plain::Str(_)) | (5, Plain::Strs(_)) => true,
            (3 | 6, v) => matches!(v, Plain::Str(_) | Plain::Null),
            _ => false,
        };
        fits.then(|| set(field, value))
    })
}

/// The name and length of a plain token or key ([`SortedJson::plain_name`]): its members read
/// as [`plain_members`] reads them for `from_plain`, none kept but the name.
fn plain_name_of(text: &str, known: u32) -> Option<(&str, usize)> {
    let mut name = "";
    let n = plain_members(text, known, |field, value| {
        if let (2, Plain::Str(s)) = (field, value) {
            name = s;
        }
    })?;
    Some((name, n))
}

/// The fields a token has, of [`plain_members`]'s.
pub(super) const TOKEN_FIELDS: u32 = 7;
/// The fields an ingestion API key has.
pub(super) const KEY_FIELDS: u32 = 5;

impl SortedJson for ServiceToken {
    const SHAPE: Shape = Shape {
        always: &["name", "roles"],
        keeps_null: false,
    };

    fn from_plain(text: &str) -> Option<(Self, usize)> {
        use crate::platform::row_json::plain::{Field, items};
        let mut t = ServiceToken::default();
        let n = plain_members(text, TOKEN_FIELDS, |field, value| match (field, value) {
            (0, v) => t.id = v.int().flatten(),
            (1, v) => t.last_update_timestamp = v.int().flatten(),
            (2, Field::Str(s)) => t.name = s.into(),
            (3, v) => t.description = v.text().flatten(),
            (4, v) => t.expiration = v.int().flatten(),
            (5, Field::Strs(strs)) => t.roles = items(strs).map(Into::into).collect(),
            (6, v) => t.dedicated_subject = v.text().flatten(),
            _ => {}
        })?;
        Some((t, n))
    }

    fn plain_name(text: &str) -> Option<(&str, usize)> {
        plain_name_of(text, TOKEN_FIELDS)
    }

    fn serialize_sorted<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_merged(
            s,
            &[
                (
                    "dedicatedSubject",
                    self.dedicated_subject.as_deref().map(JsonField::Str),
                ),
                (
                    "description",
                    self.description.as_deref().map(JsonField::Str),
                ),
                ("expiration", self.expiration.map(JsonField::Int)),
                ("id", self.id.map(JsonField::Int)),
                (
                    "lastUpdateTimestamp",
                    self.last_update_timestamp.map(JsonField::Int),
                ),
                ("name", Some(JsonField::Str(&self.name))),
                ("roles", Some(JsonField::Strs(&self.roles))),
            ],
            &self.extra,
        )
    }
}

impl SortedJson for IngestionApiKey {
    const SHAPE: Shape = Shape {
        always: &["name"],
        keeps_null: false,
    };

    /// As [`ServiceToken::from_plain`] reads a token.
    fn from_plain(text: &str) -> Option<(Self, usize)> {
        use crate::platform::row_json::plain::Field;
        let mut k = IngestionApiKey::default();
        let n = plain_members(text, KEY_FIELDS, |field, value| match (field, value) {
            (0, v) => k.id = v.int().flatten(),
            (1, v) => k.last_update_timestamp = v.int().flatten(),
            (2, Field::Str(s)) => k.name = s.into(),
            (3, v) => k.description = v.text().flatten(),
            (4, v) => k.expiration = v.int().flatten(),
            _ => {}
        })?;
        Some((k, n))
    }

    fn plain_name(text: &str) -> Option<(&str, usize)> {
        plain_name_of(text, KEY_FIELDS)
    }

    fn serialize_sorted<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_merged(
            s,
            &[
                (
                    "description",
                    self.description.as_deref().map(JsonField::Str),
                ),
                ("expiration", self.expiration.map(JsonField::Int)),
                ("id", self.id.map(JsonField::Int)),
                (
                    "lastUpdateTimestamp",
                    self.last_update_timestamp.map(JsonField::Int),
                ),
                ("name", Some(JsonField::Str(&self.name))),
            ],
            &self.extra,
        )
    }
}

/// `NewServiceTokenRequest`: body of `POST /security/tokens`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewServiceTokenRequest {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_date: Option<i64>,
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedicated_subject: Option<String>,
}

/// `ServiceTokenCreatedResponse`: answer to `POST /security/tokens` (it has no id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ServiceTokenCreatedResponse {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `IngestionApiKey`: one element of `GET /security/ingestion/api_keys`, decoded as
/// [`ServiceToken`] is.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct IngestionApiKey {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_timestamp: Option<i64>,
    #[serde(default)]
    pub name: compact_str::CompactString,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `GenerateIngestionApiKeyRequest`: body of `POST /security/ingestion/api_keys`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateIngestionApiKeyRequest {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<i64>,
}

/// `GeneratedIngestionApiKeyResponse`: answer to `POST /security/ingestion/api_keys`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct GeneratedIngestionApiKeyResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_timestamp: Option<i64>,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<i64>,
    #[serde(default)]
    pub api_key: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `AuthorizeIngestionApiKeyRequest`: body of `POST /security/ingestion/authorize`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizeIngestionApiKeyRequest {
    pub api_key: String,
}

/// `ServerVersion`, inside `ServerInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ServerVersion {
    #[serde(default)]
    pub major: i64,
    #[serde(default)]
    pub minor: i64,
    #[serde(default)]
    pub patch: i64,
    #[serde(default)]
    pub diff: String,
    #[serde(default)]
    pub commit: String,
    #[serde(default)]
    pub is_dev: bool,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `ServerInfo`: answer to `GET /server/info`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    #[serde(default)]
    pub version: ServerVersion,
    #[serde(default)]
    pub deployment_mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `Roles`: answer to `GET /user/session/availableRoles`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Roles {
    #[serde(default)]
    pub roles: Vec<String>,
}

/// `GenericApiError`, one element of `GenericErrorsResponse.errors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenericApiError {
    #[serde(rename = "_type", default = "internal_error")]
    pub kind: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i64>,
}

fn internal_error() -> String {
    "InternalError".to_string()
}

fn errors_response() -> String {
    "ErrorsResponse".to_string()
}

/// `GenericErrorsResponse`: the error body of most operations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenericErrorsResponse {
    #[serde(rename = "_type", default = "errors_response")]
    pub kind: String,
    #[serde(default)]
    pub tracking_key: String,
    #[serde(default)]
    pub server_timestamp: i64,
    pub errors: Vec<GenericApiError>,
}

impl GenericErrorsResponse {
    /// One `InternalError` with this message, as the server sends it.
    pub fn single(message: impl Into<String>, tracking_key: String, server_timestamp: i64) -> Self {
        GenericErrorsResponse {
            kind: errors_response(),
            tracking_key,
            server_timestamp,
            errors: vec![GenericApiError {
                kind: internal_error(),
                message: message.into(),
                error_code: None,
            }],
        }
    }
}

/// `ServiceTokenInvalidExpiryError` / `IngestionApiKeyInvalidExpiryError`: the typed 400 of a create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypedError {
    #[serde(rename = "_type")]
    pub kind: String,
    #[serde(default)]
    pub message: String,
}

pub const SERVICE_TOKEN_INVALID_EXPIRY: &str = "ServiceTokenInvalidExpiryError";
pub const INGESTION_API_KEY_INVALID_EXPIRY: &str = "IngestionApiKeyInvalidExpiryError";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_token_keeps_unknown_fields_and_tolerates_missing_ones() {
        let t: ServiceToken =
            serde_json::from_str(r#"{"name":"a","roles":[],"shiny":{"x":1}}"#).unwrap();
        assert_eq!(t.id, None);
        assert_eq!(t.extra["shiny"]["x"], 1);
        let back = serde_json::to_value(&t).unwrap();
        assert_eq!(
            back,
            serde_json::json!({"name":"a","roles":[],"shiny":{"x":1}})
        );
        let bare: ServiceToken = serde_json::from_str("{}").unwrap();
        assert_eq!(bare.name, "");
    }

    #[test]
    fn sorted_rows_write_the_bytes_of_their_values() {
        let masker = crate::redact::Masker::now(None);
        for text in [
            r#"{"name":"a","roles":["r","s"],"id":3,"expiration":9,"lastUpdateTimestamp":1}"#,
            r#"{"name":"b","roles":[],"dedicatedSubject":"d","description":"x","zz":1,"e":[1],"dedicatedSubjectX":2,"a":{}}"#,
            r#"{}"#,
        ] {
            let t: ServiceToken = serde_json::from_str(text).unwrap();
            let k: IngestionApiKey = serde_json::from_str(text).unwrap();
            let rows = [
                crate::platform::RowJson::of(t.clone()),
                crate::platform::RowJson::of(k.clone()),
            ];
            let values = [
                serde_json::to_value(&t).unwrap(),
                serde_json::to_value(&k).unwrap(),
            ];
            for (row, value) in rows.iter().zip(&values) {
                let mut typed = Vec::new();
                row.write(&mut typed, &masker, true, 2).unwrap();
                let mut whole = Vec::new();
                crate::redact::json::append(&mut whole, value, &masker, true, 2, || value.clone())
                    .unwrap();
                assert_eq!(String::from_utf8(typed), String::from_utf8(whole));
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]
        /// A row written from its text in the answer (laid out as is, or decoded again when it
        /// is not plain) is byte for byte the row written from its decoded struct.
        #[test]
        fn a_row_from_its_text_is_the_row_from_its_struct(
            members in proptest::collection::vec((0usize..9, 0usize..21), 0..8),
            spaced in proptest::prelude::any::<bool>(),
            sorted in proptest::prelude::any::<bool>(),
        ) {
            const KEYS: [&str; 9] = ["name", "roles", "id", "expiration", "description",
                "dedicatedSubject", "lastUpdateTimestamp", "aa", "zz"];
            let mut members = members;
            if sorted {
                // Often plain: name and roles there, keys in order, each once, values of the
                // kinds a plain row holds (of any field's type).
                const PLAIN: [usize; 9] = [0, 1, 2, 3, 4, 5, 12, 18, 20];
                members.extend([(0, 0), (1, 2)]);
                members.sort_by_key(|&(k, _)| KEYS[k]);
                members.dedup_by_key(|m| m.0);
                for m in &mut members {
                    m.1 = PLAIN[m.1 % PLAIN.len()];
                }
            }
            use crate::platform::RowJson;
            use crate::platform::row_json::decode_rows;
            const VALUES: [&str; 21] = ["\"n\"", "[\"r\",\"s\"]", "[]", "7", "-3", "null", "1.5",
                "12345678901234567890", "\"a\\u0041\"", "\"é\"", "{\"b\":1,\"a\":[true]}",
                "{\"a\":{},\"b\":[[]]}", "\"row-secret-0123456789\"", "-0", "01", "true",
                "[1]", "[\"a\",\"b\\\"c\"]", "123456789012345678", "-1234567890123456789",
                "[\"\",\"x,y\"]"];
            crate::redact::register("row-secret-0123456789");
            let sep = if spaced { " ,\n " } else { "," };
            let object = format!("{{{}}}", members.iter()
                .map(|&(k, v)| format!("\"{}\"{}{}", KEYS[k], if spaced { " : " } else { ":" }, VALUES[v]))
                .collect::<Vec<_>>().join(sep));
            let body = format!("[{object}{sep}{object}]");
            // Read without serde where it is plain, the object is what serde decodes, of the
            // same length; and an object serde refuses is never read so.
            let serde_one = serde_json::from_str::<ServiceToken>(&object);
            let plain = ServiceToken::from_plain(&object);
            // What a walk reads of it without making the row: the row's name and length, and
            // only when the row is read so.
            proptest::prop_assert_eq!(
                ServiceToken::plain_name(&object).map(|(name, n)| (name.to_string(), n)),
                plain.as_ref().map(|(t, n)| (t.name.to_string(), *n))
            );
            // Its list row read straight from its text: the row of the token `from_plain` reads.
            let null = || RowJson::from(serde_json::Value::Null);
            proptest::prop_assert_eq!(
                super::super::token_row_plain(&object, null()),
                plain.clone().map(|(t, n)| (super::super::token_row_of(t, null()), n))
            );
            // A record's row: the same row without its cells.
            proptest::prop_assert_eq!(
                super::super::bare_row_plain(&object, null(), TOKEN_FIELDS),
                super::super::token_row_plain(&object, null()).map(|(mut t, n)| {
                    t.cells.clear();
                    (t, n)
                })
            );
            if let Some((t, n)) = plain {
                proptest::prop_assert_eq!(n, object.len());
                proptest::prop_assert_eq!(Some(t), serde_one.ok());
            }
            let decoded = decode_rows(std::sync::Arc::new(body.clone()), |t: ServiceToken, j| (t, j));
            let Ok(whole) = serde_json::from_str::<Vec<ServiceToken>>(&body) else {
                proptest::prop_assert!(decoded.is_err());
                return Ok(());
            };
            let rows = decoded.unwrap();
            proptest::prop_assert_eq!(rows.len(), whole.len());
            let masker = crate::redact::Masker::now(None);
            for ((t, raw), w) in rows.into_iter().zip(whole) {
                proptest::prop_assert_eq!(&t, &w);
                let typed = RowJson::of(t);
                for pretty in [false, true] {
                    let (mut a, mut b) = (Vec::new(), Vec::new());
                    raw.write(&mut a, &masker, pretty, 2).unwrap();
                    typed.write(&mut b, &masker, pretty, 2).unwrap();
                    proptest::prop_assert_eq!(String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap());
                }
            }
        }
    }

    #[test]
    fn a_plain_row_is_read_without_serde_and_anything_else_is_left_to_it() {
        let row = r#"{"id":683188574115673,"lastUpdateTimestamp":1796424120946,"name":"seed-00001","expiration":1799016121063,"roles":["stackstate-admin","x,y",""],"description":null}"#;
        let (t, n) = ServiceToken::from_plain(&format!("{row},{{}}]")).unwrap();
        assert_eq!(n, row.len());
        assert_eq!(t, serde_json::from_str::<ServiceToken>(row).unwrap());
        assert_eq!(t.roles.len(), 3);
        assert_eq!(
            ServiceToken::from_plain("{}"),
            Some((ServiceToken::default(), 2))
        );
        for declined in [
            r#"{"id":1,"id":2}"#, // a field twice
            r#"{"zz":1}"#,        // kept in `extra`
            r#"{"id": 1}"#,       // whitespace
            r#"{"id":01}"#,       // a leading zero
            r#"{"id":-0}"#,
            r#"{"id":1.5}"#,
            r#"{"id":1234567890123456789}"#, // 19 digits
            r#"{"id":"1"}"#,                 // a string for a number
            r#"{"name":null}"#,
            r#"{"name":"a"b"}"#, // an escape
            r#"{"roles":[1]}"#,
            r#"{"roles":["a" ]}"#,
            r#"{"name":"a""#, // unclosed
        ] {
            assert_eq!(ServiceToken::from_plain(declined), None, "{declined}");
        }
    }

    proptest::proptest! {
        /// A key read without serde is what serde decodes, of the same length; one serde
        /// refuses is never read so; and a list of keys decodes as serde decodes it whole.
        #[test]
        fn a_plain_key_is_the_key_serde_decodes(
            members in proptest::collection::vec((0usize..7, 0usize..12), 0..7),
            sorted in proptest::prelude::any::<bool>(),
        ) {
            const KEYS: [&str; 7] =
                ["name", "description", "id", "expiration", "lastUpdateTimestamp", "aa", "zz"];
            const VALUES: [&str; 12] = ["\"n\"", "7", "-3", "null", "1.5", "[\"r\"]", "\"a\\u0041\"",
                "01", "123456789012345678", "12345678901234567890", "\"\"", "{}"];
            let mut members = members;
            if sorted {
                members.push((0, 0));
                members.sort_by_key(|&(k, _)| KEYS[k]);
                members.dedup_by_key(|m| m.0);
            }
            let object = format!("{{{}}}", members.iter()
                .map(|&(k, v)| format!("\"{}\":{}", KEYS[k], VALUES[v]))
                .collect::<Vec<_>>().join(","));
            let serde_one = serde_json::from_str::<IngestionApiKey>(&object);
            proptest::prop_assert_eq!(
                IngestionApiKey::plain_name(&object).map(|(name, n)| (name.to_string(), n)),
                IngestionApiKey::from_plain(&object).map(|(k, n)| (k.name.to_string(), n))
            );
            let null = || crate::platform::RowJson::from(serde_json::Value::Null);
            proptest::prop_assert_eq!(
                super::super::key_row_plain(&object, null()),
                IngestionApiKey::from_plain(&object)
                    .map(|(k, n)| (super::super::key_row_of(k, null()), n))
            );
            proptest::prop_assert_eq!(
                super::super::bare_row_plain(&object, null(), KEY_FIELDS),
                super::super::key_row_plain(&object, null()).map(|(mut k, n)| {
                    k.cells.clear();
                    (k, n)
                })
            );
            if let Some((k, n)) = IngestionApiKey::from_plain(&object) {
                proptest::prop_assert_eq!(n, object.len());
                proptest::prop_assert_eq!(Some(k), serde_one.ok());
            }
            let body = format!("[{object},{object}]");
            let decoded = crate::platform::row_json::decode_rows(
                std::sync::Arc::new(body.clone()),
                |k: IngestionApiKey, _| k,
            );
            match serde_json::from_str::<Vec<IngestionApiKey>>(&body) {
                Ok(whole) => proptest::prop_assert_eq!(decoded.unwrap(), whole),
                Err(_) => proptest::prop_assert!(decoded.is_err()),
            }
        }
    }

    #[test]
    fn a_plain_key_is_read_without_serde() {
        let row = r#"{"description":"for the agent","expiration":1799016121063,"id":4,"lastUpdateTimestamp":1796424120946,"name":"agent"}"#;
        let (k, n) = IngestionApiKey::from_plain(&format!("{row},{{}}]")).unwrap();
        assert_eq!(n, row.len());
        assert_eq!(k, serde_json::from_str::<IngestionApiKey>(row).unwrap());
        assert_eq!(k.description.as_deref(), Some("for the agent"));
        for declined in [
            r#"{"id":1,"id":2}"#,
            r#"{"zz":1}"#,
            r#"{"name":null}"#,
            r#"{"description":7}"#,
            r#"{"expiration":"1"}"#,
        ] {
            assert_eq!(IngestionApiKey::from_plain(declined), None, "{declined}");
        }
    }

    #[test]
    fn roles_decode_as_a_vector_would_into_no_more_room_than_they_need() {
        for roles in [
            "[]",
            r#"["a"]"#,
            r#"["a","b","c"]"#,
            r#"["a","b","c","d","e"]"#,
        ] {
            let t: ServiceToken = serde_json::from_str(&format!(r#"{{"roles":{roles}}}"#)).unwrap();
            let v: Vec<String> = serde_json::from_str(roles).unwrap();
            assert_eq!(t.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(), v);
            assert!(t.roles.capacity() <= v.len().next_power_of_two(), "{roles}");
            assert_eq!(t.roles.spilled(), v.len() > 1, "{roles}");
        }
        for bad in ["1", "null", "[1]", r#"{"a":1}"#, r#"["a",2]"#] {
            let mine = serde_json::from_str::<ServiceToken>(&format!(r#"{{"roles":{bad}}}"#));
            let theirs = serde_json::from_str::<Vec<String>>(bad).map(|_| ());
            let (Err(mine), Err(theirs)) = (mine, theirs) else {
                panic!("{bad} decoded");
            };
            let message =
                |e: &serde_json::Error| e.to_string().split(" at line").next().unwrap().to_string();
            assert_eq!(message(&mine), message(&theirs), "{bad}");
        }
    }

    #[test]
    fn rows_kept_as_their_text_read_as_the_decoded_ones() {
        use crate::platform::RowJson;
        use crate::platform::row_json::decode_rows;
        crate::redact::register("wire-secret-0123456789");
        let masker = crate::redact::Masker::now(None);
        let body = r#" [ {"name":"b\u0041 wire-secret-0123456789","roles":["r"],"id":3,"zz":{"b":1,"a":2}},
            {"id":1,"name":"a","roles":[],"wire-secret-0123456789":1,"description":"d"} ] "#;
        let rows = decode_rows(
            std::sync::Arc::new(body.to_string()),
            |t: ServiceToken, j| (t, j),
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        for (t, raw) in rows {
            let typed = RowJson::of(t.clone());
            for pretty in [false, true] {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                raw.write(&mut a, &masker, pretty, 1).unwrap();
                typed.write(&mut b, &masker, pretty, 1).unwrap();
                assert_eq!(String::from_utf8(a), String::from_utf8(b));
            }
            assert_eq!(raw, typed);
            assert_eq!(raw["name"], serde_json::to_value(&t.name).unwrap());
            let (mut a, mut b) = (Vec::new(), Vec::new());
            raw.write(&mut a, &masker, true, 1).unwrap();
            typed.write(&mut b, &masker, true, 1).unwrap();
            assert_eq!(a, b, "once made, the value is written");
        }
        for bad in [
            r#"{"a":1}"#,
            r#"[{"id":"x"}]"#,
            "[1,",
            r#"[{"roles":[1]}]"#,
            r#"[{"name":"a"},]"#,
            r#"[{"name":"a"} {"name":"b"}]"#,
            r#"[{"name":"a"}] x"#,
            r#"[{"name":"a"}"#,
            "[",
            "",
            r#"[{"name":"a","id":1}}]"#,
        ] {
            let whole = serde_json::from_str::<Vec<ServiceToken>>(bad).unwrap_err();
            let e = decode_rows(std::sync::Arc::new(bad.to_string()), |t: ServiceToken, _| t)
                .unwrap_err();
            assert_eq!(e.to_string(), whole.to_string());
            let name: fn(&ServiceToken) -> &str = |t| &t.name;
            let kept = crate::platform::row_json::decode_spans(
                std::sync::Arc::new(bad.to_string()),
                super::super::TOKEN_ROWS,
                name,
            );
            assert_eq!(kept.err().map(|e| e.to_string()), Some(whole.to_string()));
        }
    }

    #[test]
    fn rows_kept_as_their_text_read_as_the_decoded_rows_sorted_by_name() {
        use crate::platform::RowJson;
        use crate::platform::row_json::{Rows, decode_rows, decode_spans};
        // Names out of order, one twice (the answer's order kept between them), one escaped
        // (decoded by serde), one with a field `from_plain` leaves to serde.
        let body = r#"[{"id":3,"name":"b","roles":["r"],"dedicatedSubject":"s"},{"id":1,"name":"aA"},
            {"id":2,"name":"b","expiration":5},{"id":4,"name":"B","zz":[1]},{"id":5,"name":"a"}]"#;
        let body = std::sync::Arc::new(body.to_string());
        let name: fn(&ServiceToken) -> &str = |t| &t.name;
        let mut decoded = decode_rows(body.clone(), |t: ServiceToken, j| (t, j)).unwrap();
        decoded.sort_by(|a, b| crate::scan::text_order(&a.0.name, &b.0.name));
        let mut kept = decode_spans(body.clone(), Rows::decoded(|t, j| (t, j)), name).unwrap();
        let ids = |kept: &crate::platform::row_json::Spans<(ServiceToken, RowJson)>| {
            (0..kept.len())
                .map(|i| kept.get(i).unwrap().0.id.unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&kept), [4, 5, 1, 3, 2]);
        let null = || RowJson::from(Value::Null);
        let mut cells = (ServiceToken::default(), null());
        for (i, (t, json)) in decoded.iter().enumerate() {
            let (k, k_json) = kept.get(i).unwrap();
            assert_eq!(&k, t);
            assert_eq!(&k_json, json);
            assert_eq!(&kept.json(i).unwrap(), json);
            // Its cells without its object, and its object written without being made.
            assert!(kept.cells_into(i, &mut cells));
            assert_eq!(&cells.0, t);
            assert_eq!(*cells.1, Value::Null);
            let masker = crate::redact::Masker::now(None);
            for pretty in [false, true] {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                kept.write_json(i, &mut a, &masker, pretty, 2)
                    .unwrap()
                    .unwrap();
                json.write(&mut b, &masker, pretty, 2).unwrap();
                assert_eq!(String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap());
            }
        }
        assert!(kept.get(decoded.len()).is_none());
        assert!(
            kept.write_json(
                decoded.len(),
                &mut Vec::new(),
                &crate::redact::Masker::now(None),
                true,
                2
            )
            .is_none()
        );
        // A list's rows, plain ones read straight from their text: the rows of the decoded
        // tokens.
        let rows = decode_spans(body.clone(), super::super::TOKEN_ROWS, name).unwrap();
        for (i, (t, json)) in decoded.iter().enumerate() {
            let row = super::super::token_row_of(t.clone(), json.clone());
            assert_eq!(rows.get(i).unwrap(), row);
        }
        // The same rows for their cells, made into one row reused from row to row, in both
        // orders (so that each follows rows with fields it lacks): each the row made anew
        // without its object, nothing of the row before left.
        let made = |i: usize| super::super::token_row_of(decoded[i].0.clone(), null());
        let mut reused = made(0);
        for i in (0..decoded.len()).chain((0..decoded.len()).rev()) {
            assert!(rows.cells_into(i, &mut reused));
            assert_eq!(reused, made(i), "row {i}");
        }
        assert!(!rows.cells_into(decoded.len(), &mut reused));
        kept.retain(|(t, _)| t.name != "b");
        assert_eq!(ids(&kept), [4, 5, 1]);
        // An answer in order is kept in its order.
        let sorted = decode_spans(body, Rows::decoded(|t: ServiceToken, _| t.id), name).unwrap();
        assert_eq!(sorted.len(), 5);
    }

    #[test]
    fn a_key_row_made_into_one_made_before_is_the_key_row_made_anew() {
        use crate::platform::row_json::decode_spans;
        // Plain keys with and without a description and an expiration, and one serde reads.
        let body = r#"[{"id":1,"name":"a","description":"d","expiration":5},{"id":2,"name":"b"},
            {"id":3,"name":"c","description":null,"zz":1},{"id":4,"name":"d","description":"e"}]"#;
        let body = std::sync::Arc::new(body.to_string());
        let name: fn(&IngestionApiKey) -> &str = |k| &k.name;
        let rows = decode_spans(body.clone(), super::super::KEY_ROWS, name).unwrap();
        let made = |i: usize| {
            let mut row: crate::platform::Token = rows.get(i).unwrap();
            row.json = crate::platform::RowJson::from(Value::Null);
            row
        };
        let mut reused = made(0);
        for i in (0..rows.len()).chain((0..rows.len()).rev()) {
            assert!(rows.cells_into(i, &mut reused));
            assert_eq!(reused, made(i), "row {i}");
        }
        // A record's fields, of rows made one into another as a large list's records are.
        let fields = |t: &crate::platform::Token| {
            (
                t.id.clone(),
                t.name.clone(),
                t.expires,
                t.created,
                t.revoked,
            )
        };
        let records = crate::platform::row_json::decode_mapped(
            body.clone(),
            super::super::KEY_RECORD_ROWS,
            &|t| Some(fields(t)),
        )
        .unwrap()
        .into_vec();
        let made = crate::platform::row_json::decode_rows(body, super::super::key_row_of).unwrap();
        assert_eq!(records, made.iter().map(fields).collect::<Vec<_>>());
    }

    #[test]
    fn create_request_uses_expiry_date_and_omits_absent_fields() {
        let r = NewServiceTokenRequest {
            name: "n".into(),
            expiry_date: None,
            roles: vec!["r".into()],
            dedicated_subject: None,
        };
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"name":"n","roles":["r"]})
        );
    }
}

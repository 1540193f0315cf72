//! StackState (SUSE Observability), CONTRACT §2, §3: service tokens and ingestion API keys, with
//! int64 ids and epoch-millisecond times; validation with `GET /server/info`.

use chrono::{DateTime, Utc};
use serde_json::Value;

pub mod import;
pub mod profile;
pub mod wire;

use crate::error::{Error, Kind, Result};
use crate::http::client::Client;
use crate::platform::common::{check_name, expiration_millis, listed_of, new_expiry, parse_int_id};
use crate::platform::interface::Platform;
use crate::platform::interface::{
    Cell, Column, CreateInput, Created, LastUsed, Listed, OldTokenFate, Source, Token, TokenId,
    TokenKind, Validation, col, fixed,
};
use crate::platform::kind::{CredentialKind, PlatformKind, Profile};
use crate::platform::row_json::plain::{Field, items};
use crate::platform::row_json::{Parts, RowJson, Rows, decode_mapped, decode_rows};
use crate::platform::stackstate::wire::{
    AuthorizeIngestionApiKeyRequest, GenerateIngestionApiKeyRequest,
    GeneratedIngestionApiKeyResponse, IngestionApiKey, NewServiceTokenRequest, ServerInfo,
    ServiceToken, ServiceTokenCreatedResponse,
};
use crate::secret::Secret;

const TOKENS: &str = "security/tokens";
const KEYS: &str = "security/ingestion/api_keys";
/// The oldest server version `sts` talks to.
pub const MIN_VERSION: (i64, i64, i64) = (5, 0, 0);

/// StackState's service tokens.
pub struct ServiceTokens;

/// StackState's ingestion API keys.
pub struct IngestionApiKeys;

fn refuse(flag: &str, what: &str) -> Error {
    Error::usage(format!("{flag} is not an option of StackState {what}"))
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn id_of(id: Option<i64>) -> TokenId {
    match id {
        Some(id) => TokenId::int(id),
        None => TokenId::missing(),
    }
}

impl TokenKind for ServiceTokens {
    const PLATFORM: PlatformKind = PlatformKind::Stackstate;
    const NOUNS: crate::platform::interface::Nouns = crate::platform::interface::SERVICE_TOKENS;
    const COLUMNS: &'static [Column] = &[
        fixed("ID", Source::Id),
        col("NAME", Source::Name),
        fixed("EXPIRATION", Source::Expiration),
        col("ROLES", Source::Cell(0)),
        col("DEDICATED_SUBJECT", Source::Cell(1)),
    ];
    const DEFAULT_FATE: OldTokenFate = OldTokenFate::Delete;
    type Request = NewServiceTokenRequest;

    fn parse_id(text: &str, flag: &str) -> Result<TokenId> {
        parse_int_id(text, flag)
    }

    fn create_request(input: &CreateInput, now: DateTime<Utc>) -> Result<NewServiceTokenRequest> {
        if !input.scopes.is_empty() {
            return Err(Error::usage(
                "StackState service tokens have roles, not scopes: use --roles",
            ));
        }
        if input.service_user.is_some() {
            return Err(refuse("--service-user", "service tokens"));
        }
        if input.scim_only {
            return Err(refuse("--scim-only", "service tokens"));
        }
        let roles: Vec<String> = input
            .roles
            .iter()
            .map(|r| r.trim())
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect();
        if roles.is_empty() {
            return Err(Error::usage(
                "--roles needs at least one role, e.g. --roles stackstate-k8s-troubleshooter",
            ));
        }
        Ok(NewServiceTokenRequest {
            name: check_name(&input.name)?,
            expiry_date: expiration_millis(input.expiration.as_deref(), now)?,
            roles,
            dedicated_subject: input.dedicated_subject.clone(),
        })
    }

    async fn create(client: &Client, request: &NewServiceTokenRequest) -> Result<Created> {
        let created: ServiceTokenCreatedResponse = client.post(TOKENS, request).await?;
        // A 200 without the secret would print an empty one and exit 0: a CI script would store it.
        if created.token.trim().is_empty() {
            return Err(Error::usage(
                "the server's answer to POST /security/tokens holds no token; a token whose \
                 secret is unknown may have been made: find it with `sts service-token list`",
            ));
        }
        Ok(Created {
            secret: created.token.clone(),
            id: None,
            json: to_value(&created),
        })
    }

    fn created_row(created: &Created) -> Token {
        token_row(without(&created.json, "token"))
    }

    async fn list(client: &Client) -> Result<Vec<Token>> {
        let mut rows = client
            .get_text(TOKENS, |body| decode_rows(body, token_row_of))
            .await?;
        crate::platform::common::sort_by_name(&mut rows);
        Ok(rows)
    }

    async fn list_rows(client: &Client) -> Result<Listed> {
        client
            .get_text(TOKENS, |body| {
                listed_of(body, TOKEN_ROWS, |t: &ServiceToken| &t.name)
            })
            .await
    }

    async fn list_map<R: Send>(
        client: &Client,
        f: impl Fn(&Token) -> Option<R> + Sync,
    ) -> Result<Parts<R>> {
        client
            .get_text(TOKENS, |body| decode_mapped(body, TOKEN_RECORD_ROWS, &f))
            .await
    }

    async fn delete(client: &Client, id: &TokenId) -> Result<()> {
        client.delete(&format!("{TOKENS}/{}", id.text)).await
    }

    fn rotation_request(
        old: &Token,
        expiration: Option<&str>,
        name: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<NewServiceTokenRequest> {
        let wire: ServiceToken =
            serde_json::from_value(Value::clone(&old.json)).unwrap_or_default();
        Ok(NewServiceTokenRequest {
            name: name.map_or_else(|| wire.name.to_string(), str::to_string),
            expiry_date: new_expiry(expiration, wire.expiration, wire.last_update_timestamp, now)?,
            roles: wire.roles.iter().map(|r| r.to_string()).collect(),
            dedicated_subject: wire.dedicated_subject,
        })
    }

    /// `GET /server/info` with the new token as `X-API-Key`.
    async fn verify_new(client: &Client, created: &Created) -> Result<bool> {
        let scheme = (profile::PROFILE.auth)(CredentialKind::ServiceToken).map_err(Error::usage)?;
        let with_new =
            client.with_credential(client.base(), Secret::new(created.secret.clone()), scheme);
        with_new.get::<Value>("server/info").await.map(|_| true)
    }

    fn created_times(json: &Value) -> (Option<i64>, Option<i64>) {
        (
            json.get("lastUpdateTimestamp").and_then(Value::as_i64),
            json.get("expiration").and_then(Value::as_i64),
        )
    }

    fn request_name(request: &NewServiceTokenRequest) -> String {
        request.name.clone()
    }
}

impl TokenKind for IngestionApiKeys {
    fn check_verify() -> Result<()> {
        Ok(())
    }

    async fn verify(client: &Client, key: &Secret) -> Result<()> {
        verify_ingestion_key(client, key).await
    }

    /// `POST /security/ingestion/authorize` with the new key.
    async fn verify_new(client: &Client, created: &Created) -> Result<bool> {
        verify_ingestion_key(client, &Secret::new(created.secret.clone()))
            .await
            .map(|()| true)
    }

    fn created_times(json: &Value) -> (Option<i64>, Option<i64>) {
        (
            json.get("lastUpdateTimestamp").and_then(Value::as_i64),
            json.get("expiration").and_then(Value::as_i64),
        )
    }

    const PLATFORM: PlatformKind = PlatformKind::Stackstate;
    const NOUNS: crate::platform::interface::Nouns = crate::platform::interface::INGESTION_KEYS;
    const COLUMNS: &'static [Column] = &[
        fixed("ID", Source::Id),
        col("NAME", Source::Name),
        fixed("EXPIRATION", Source::Expiration),
        col("DESCRIPTION", Source::Cell(0)),
    ];
    const DEFAULT_FATE: OldTokenFate = OldTokenFate::Delete;
    const ROTATED_CAN_BE_SAVED: Option<&'static str> =
        Some("an ingestion API key is not a credential of a context");
    type Request = GenerateIngestionApiKeyRequest;

    fn parse_id(text: &str, flag: &str) -> Result<TokenId> {
        parse_int_id(text, flag)
    }

    fn create_request(
        input: &CreateInput,
        now: DateTime<Utc>,
    ) -> Result<GenerateIngestionApiKeyRequest> {
        Ok(GenerateIngestionApiKeyRequest {
            name: check_name(&input.name)?,
            description: input.description.clone().filter(|d| !d.is_empty()),
            expiration: expiration_millis(input.expiration.as_deref(), now)?,
        })
    }

    async fn create(client: &Client, request: &GenerateIngestionApiKeyRequest) -> Result<Created> {
        let created: GeneratedIngestionApiKeyResponse = client.post(KEYS, request).await?;
        // A 200 without the secret would print an empty one and exit 0: a CI script would store it.
        if created.api_key.trim().is_empty() {
            return Err(Error::usage(
                "the server's answer to POST /security/ingestion/api_keys holds no apiKey; a key \
                 whose secret is unknown may have been made: find it with `sts ingestion-api-key list`",
            ));
        }
        Ok(Created {
            secret: created.api_key.clone(),
            id: created.id.map(TokenId::int),
            json: to_value(&created),
        })
    }

    fn created_row(created: &Created) -> Token {
        key_row(without(&created.json, "apiKey"))
    }

    async fn list(client: &Client) -> Result<Vec<Token>> {
        let mut rows = client
            .get_text(KEYS, |body| decode_rows(body, key_row_of))
            .await?;
        crate::platform::common::sort_by_name(&mut rows);
        Ok(rows)
    }

    async fn list_rows(client: &Client) -> Result<Listed> {
        client
            .get_text(KEYS, |body| {
                listed_of(body, KEY_ROWS, |k: &IngestionApiKey| &k.name)
            })
            .await
    }

    async fn list_map<R: Send>(
        client: &Client,
        f: impl Fn(&Token) -> Option<R> + Sync,
    ) -> Result<Parts<R>> {
        client
            .get_text(KEYS, |body| decode_mapped(body, KEY_RECORD_ROWS, &f))
            .await
    }

    async fn delete(client: &Client, id: &TokenId) -> Result<()> {
        client.delete(&format!("{KEYS}/{}", id.text)).await
    }

    fn rotation_request(
        old: &Token,
        expiration: Option<&str>,
        name: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<GenerateIngestionApiKeyRequest> {
        let wire: IngestionApiKey =
            serde_json::from_value(Value::clone(&old.json)).unwrap_or_default();
        Ok(GenerateIngestionApiKeyRequest {
            name: name.map_or_else(|| wire.name.to_string(), str::to_string),
            description: wire.description,
            expiration: new_expiry(expiration, wire.expiration, wire.last_update_timestamp, now)?,
        })
    }

    fn request_name(request: &GenerateIngestionApiKeyRequest) -> String {
        request.name.clone()
    }
}

/// `ingestion-api-key verify`: `POST /security/ingestion/authorize`. A live key is `Ok`; a key
/// the server refuses (403) is an error with exit 3 saying so.
pub async fn verify_ingestion_key(client: &Client, key: &Secret) -> Result<()> {
    let body = AuthorizeIngestionApiKeyRequest {
        api_key: key.expose().to_string(),
    };
    match client
        .post_no_content("security/ingestion/authorize", &body)
        .await
    {
        Err(e) if e.status == Some(403) => Err(Error::usage(format!(
            "the ingestion API key is not valid (unknown, deleted or expired): {}",
            e.message
        ))
        .with_status(403)),
        other => other,
    }
}

/// `GET /server/info`, and the version check of `context save` and `context validate`.
pub async fn server_info(client: &Client) -> Result<ServerInfo> {
    let info: ServerInfo = client.get("server/info").await?;
    let v = &info.version;
    if (v.major, v.minor, v.patch) < MIN_VERSION {
        return Err(Error::new(
            Kind::Version,
            format!(
                "the server's version {}.{}.{} is below {}.{}.{}, the oldest sts supports",
                v.major, v.minor, v.patch, MIN_VERSION.0, MIN_VERSION.1, MIN_VERSION.2
            ),
        ));
    }
    Ok(info)
}

/// The validation of a StackState credential: `/server/info`, version checked.
pub async fn validate(client: &Client) -> Result<Validation> {
    let info = server_info(client).await?;
    let v = &info.version;
    let summary = match &info.platform_version {
        Some(pv) => format!("Platform version: {pv}"),
        None => format!(
            "SUSE Observability version: {}.{}.{}",
            v.major, v.minor, v.patch
        ),
    };
    Ok(Validation {
        summary,
        json: to_value(&info),
        warnings: Vec::new(),
    })
}

/// StackState (SUSE Observability), as the registry knows it.
pub struct StackState;

impl Platform for StackState {
    const PROFILE: Profile = profile::PROFILE;
    const IMPORT: crate::platform::import::VendorImport = import::SOURCE;
    type ServiceTokens = ServiceTokens;
    type IngestionKeys = IngestionApiKeys;

    async fn validate(client: &Client) -> Result<Validation> {
        validate(client).await
    }
}

/// A list element as a row.
fn token_row(t: ServiceToken) -> Token {
    let json = RowJson::of(t.clone());
    token_row_of(t, json)
}

/// A list element as a row, its server object `json`.
fn token_row_of(t: ServiceToken, json: RowJson) -> Token {
    Token {
        id: id_of(t.id),
        name: t.name,
        expires: t.expiration,
        last_used: LastUsed::Unknown,
        created: None,
        revoked: false,
        cells: smallvec::smallvec![Cell::List(t.roles), Cell::Text(t.dedicated_subject)],
        json,
    }
}

/// A token's list row read straight from its plain text ([`Rows::plain`]): what
/// [`token_row_of`] makes of what [`ServiceToken::from_plain`] reads, its id's text the digits
/// as they stand.
#[cfg(test)]
fn token_row_plain(text: &str, json: RowJson) -> Option<(Token, usize)> {
    made_plain(text, json, token_row_plain_into)
}

/// [`token_row_plain`] into a row ([`Rows::plain`]).
fn token_row_plain_into(text: &str, row: &mut Token) -> Option<usize> {
    plain_row_into(
        text,
        row,
        wire::TOKEN_FIELDS,
        |cells| match cells.as_mut_slice() {
            [Cell::List(roles), Cell::Text(subject)] => {
                roles.clear();
                *subject = None;
            }
            _ => *cells = smallvec::smallvec![Cell::List(Default::default()), Cell::Text(None)],
        },
        |t, field, value| match (field, value) {
            // Into the list in place (a member is given once): none made and moved in.
            (5, Field::Strs(strs)) => {
                if let Cell::List(list) = &mut t.cells[0] {
                    list.extend(items(strs).map(Into::into));
                }
            }
            (6, v) => t.cells[1] = Cell::Text(v.text().flatten()),
            (field, v) => common_field(t, field, v),
        },
    )
}

/// A key's list row read straight from its plain text, as [`token_row_plain`] reads a token's.
#[cfg(test)]
fn key_row_plain(text: &str, json: RowJson) -> Option<(Token, usize)> {
    made_plain(text, json, key_row_plain_into)
}

/// [`key_row_plain`] into a row.
fn key_row_plain_into(text: &str, row: &mut Token) -> Option<usize> {
    plain_row_into(
        text,
        row,
        wire::KEY_FIELDS,
        |cells| match cells.as_mut_slice() {
            [Cell::Text(description)] => *description = None,
            _ => *cells = smallvec::smallvec![Cell::Text(None)],
        },
        |k, field, value| match (field, value) {
            (3, v) => k.cells[0] = Cell::Text(v.text().flatten()),
            (field, v) => common_field(k, field, v),
        },
    )
}

/// A token's or key's row for [`Platform::list_map`], read straight from its plain text as
/// [`token_row_plain`] reads it (every member read, `known` of them fields) but without the
/// platform's cells, which a record does not read.
#[cfg(test)]
fn bare_row_plain(text: &str, json: RowJson, known: u32) -> Option<(Token, usize)> {
    let mut row = blank_row(json);
    let n = bare_row_plain_into(text, &mut row, known)?;
    Some((row, n))
}

/// [`bare_row_plain`] into a row.
fn bare_row_plain_into(text: &str, row: &mut Token, known: u32) -> Option<usize> {
    plain_row_into(text, row, known, |cells| cells.clear(), common_field)
}

/// The plain row that `into` makes of `text`, its object `json`, and its length.
#[cfg(test)]
fn made_plain(
    text: &str,
    json: RowJson,
    into: fn(&str, &mut Token) -> Option<usize>,
) -> Option<(Token, usize)> {
    let mut row = blank_row(json);
    let n = into(text, &mut row)?;
    Some((row, n))
}

/// [`blank_row`], for [`Rows::blank`].
fn blank_of(json: RowJson) -> Option<Token> {
    Some(blank_row(json))
}

/// A row of nothing but its object, for a plain read to make.
fn blank_row(json: RowJson) -> Token {
    Token {
        id: TokenId::missing(),
        name: Default::default(),
        expires: None,
        last_used: LastUsed::Unknown,
        created: None,
        revoked: false,
        cells: Default::default(),
        json,
    }
}

/// The plain token or key at the start of `text` made into `row` (its object left as it is),
/// and its length: what a missing member leaves, the cells as `cells` leaves them, each member of
/// [`wire::plain_members`]'s (`known` of them fields) put onto it by `field`. Every field is set,
/// so that nothing of the row it was before is left.
fn plain_row_into<'a>(
    text: &'a str,
    row: &mut Token,
    known: u32,
    cells: impl FnOnce(&mut crate::platform::interface::Cells),
    mut field: impl FnMut(&mut Token, u32, Field<'a>),
) -> Option<usize> {
    row.id.set_missing();
    row.name.clear();
    row.expires = None;
    row.last_used = LastUsed::Unknown;
    row.created = None;
    row.revoked = false;
    cells(&mut row.cells);
    wire::plain_members(text, known, |f, value| field(row, f, value))
}

/// A member of a plain token or key that both have, onto its row (`id`, `name`, `expiration`;
/// `lastUpdateTimestamp` is not shown).
fn common_field(row: &mut Token, field: u32, value: Field<'_>) {
    match (field, value) {
        (0, Field::Int(n)) => row.id.set_decimal(n.value(), n.text()),
        // Onto the name cleared for the row: its room kept.
        (2, Field::Str(s)) => row.name.push_str(s),
        (4, v) => row.expires = v.int().flatten(),
        _ => {}
    }
}

/// A service token's list rows.
const TOKEN_ROWS: Rows<ServiceToken, Token> = Rows {
    decoded: token_row_of,
    blank: blank_of,
    plain: token_row_plain_into,
};

/// A service token's rows for [`Platform::list_map`]: a plain one's without its cells.
const TOKEN_RECORD_ROWS: Rows<ServiceToken, Token> = Rows {
    decoded: token_row_of,
    blank: blank_of,
    plain: |text, row| bare_row_plain_into(text, row, wire::TOKEN_FIELDS),
};

/// An ingestion API key's list rows.
const KEY_ROWS: Rows<IngestionApiKey, Token> = Rows {
    decoded: key_row_of,
    blank: blank_of,
    plain: key_row_plain_into,
};

/// An ingestion API key's rows for [`Platform::list_map`]: a plain one's without its cells.
const KEY_RECORD_ROWS: Rows<IngestionApiKey, Token> = Rows {
    decoded: key_row_of,
    blank: blank_of,
    plain: |text, row| bare_row_plain_into(text, row, wire::KEY_FIELDS),
};

/// A list element as a row.
fn key_row(k: IngestionApiKey) -> Token {
    let json = RowJson::of(k.clone());
    key_row_of(k, json)
}

/// A list element as a row, its server object `json`.
fn key_row_of(k: IngestionApiKey, json: RowJson) -> Token {
    Token {
        id: id_of(k.id),
        name: k.name,
        expires: k.expiration,
        last_used: LastUsed::Unknown,
        created: None,
        revoked: false,
        cells: smallvec::smallvec![Cell::Text(k.description)],
        json,
    }
}

/// A create's answer without its secret, read as a list element (missing fields default).
fn without<T: serde::de::DeserializeOwned + Default>(answer: &Value, secret_key: &str) -> T {
    let mut v = answer.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove(secret_key);
    }
    serde_json::from_value(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    use crate::dates::test_now as now;

    fn input(roles: &[&str], expiration: Option<&str>) -> CreateInput {
        CreateInput {
            name: "n".into(),
            roles: roles.iter().map(|s| s.to_string()).collect(),
            expiration: expiration.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn create_request_checks_its_input() {
        let r = ServiceTokens::create_request(&input(&["a", "b", "c"], Some("2030-05-22")), now())
            .unwrap();
        assert_eq!(r.roles, ["a", "b", "c"]);
        assert_eq!(r.expiry_date, Some(1_905_638_400_000));
        assert_eq!(r.dedicated_subject, None);
        assert!(ServiceTokens::create_request(&input(&["a"], Some("2001-01-01")), now()).is_err());
        assert!(ServiceTokens::create_request(&input(&["a"], Some("soon")), now()).is_err());
        assert!(ServiceTokens::create_request(&input(&[""], None), now()).is_err());
        let mut scoped = input(&["a"], None);
        scoped.scopes = vec!["identity:manage".into()];
        assert_eq!(
            ServiceTokens::create_request(&scoped, now())
                .unwrap_err()
                .exit_code(),
            3
        );
    }

    #[test]
    fn ids_are_int64() {
        assert_eq!(parse_int_id("12", "ID").unwrap(), TokenId::int(12));
        let e = parse_int_id("foo", "-i, --id").unwrap_err();
        assert!(
            e.message
                .starts_with("invalid argument \"foo\" for \"-i, --id\"")
        );
        assert!(parse_int_id("99999999999999999999", "ID").is_err());
    }

    #[test]
    fn the_new_expiry_repeats_the_old_lifetime_from_now() {
        let n = now().timestamp_millis();
        let old_updated = n - 80 * DAY;
        let old_expiration = old_updated + 90 * DAY;
        assert_eq!(
            new_expiry(None, Some(old_expiration), Some(old_updated), now()).unwrap(),
            Some(n + 90 * DAY)
        );
        assert_eq!(
            new_expiry(None, None, Some(old_updated), now()).unwrap(),
            None
        );
        assert_eq!(
            new_expiry(Some("30d"), None, None, now()).unwrap(),
            Some(n + 30 * DAY)
        );
        assert_eq!(
            new_expiry(Some("yesterday"), None, None, now())
                .unwrap_err()
                .exit_code(),
            3
        );
        assert!(new_expiry(None, Some(n), None, now()).is_err());
        assert!(new_expiry(None, Some(n), Some(n + 1), now()).is_err());
        assert!(new_expiry(None, Some(i64::MAX), Some(i64::MIN), now()).is_err());
    }
}

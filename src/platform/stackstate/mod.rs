//! StackState (SUSE Observability), CONTRACT §2, §3: service tokens and ingestion API keys, with
//! int64 ids and epoch-millisecond times; validation with `GET /server/info`.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{
    Cell, Column, CreateInput, Created, LastUsed, OldTokenFate, PlatformKind, Token, TokenId,
    TokenKind, Validation, col, fixed,
};
use crate::api::client::Client;
use crate::api::models::{
    AuthorizeIngestionApiKeyRequest, GenerateIngestionApiKeyRequest,
    GeneratedIngestionApiKeyResponse, IngestionApiKey, NewServiceTokenRequest, ServerInfo,
    ServiceToken, ServiceTokenCreatedResponse,
};
use crate::dates::parse_expiration;
use crate::error::{Error, Kind, Result};
use crate::secret::Secret;

const TOKENS: &str = "security/tokens";
const KEYS: &str = "security/ingestion/api_keys";
/// The oldest server version `sts` talks to.
pub const MIN_VERSION: (i64, i64, i64) = (5, 0, 0);

/// StackState's service tokens.
pub struct ServiceTokens;

/// StackState's ingestion API keys.
pub struct IngestionApiKeys;

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
    const NOUNS: super::Nouns = super::SERVICE_TOKENS;
    const COLUMNS: &'static [Column] = &[
        fixed("ID"),
        col("NAME"),
        fixed("EXPIRATION"),
        col("ROLES"),
        col("DEDICATED_SUBJECT"),
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

    async fn list(client: &Client) -> Result<Vec<Token>> {
        let mut tokens: Vec<ServiceToken> = client.get(TOKENS).await?;
        tokens.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(tokens
            .into_iter()
            .map(|t| Token {
                id: id_of(t.id),
                name: t.name.clone(),
                expires: t.expiration,
                last_used: LastUsed::Unknown,
                created: None,
                revoked: false,
                cells: vec![
                    Cell::Id(t.id.map(|i| i.to_string())),
                    Cell::Text(Some(t.name.clone())),
                    Cell::Expiration(t.expiration),
                    Cell::List(t.roles.clone()),
                    Cell::Text(t.dedicated_subject.clone()),
                ],
                json: to_value(&t),
            })
            .collect())
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
        let wire: ServiceToken = serde_json::from_value(old.json.clone()).unwrap_or_default();
        Ok(NewServiceTokenRequest {
            name: name.map_or_else(|| wire.name.clone(), str::to_string),
            expiry_date: new_expiry(expiration, wire.expiration, wire.last_update_timestamp, now)?,
            roles: wire.roles,
            dedicated_subject: wire.dedicated_subject,
        })
    }
}

impl TokenKind for IngestionApiKeys {
    const PLATFORM: PlatformKind = PlatformKind::Stackstate;
    const NOUNS: super::Nouns = super::Nouns {
        one: "ingestion API key",
        json_one: "ingestion-api-key",
        json_list: "ingestion-api-keys",
        json_deleted: "deleted-ingestion-api-key",
        empty: "No ingestion api keys found.",
        created: "Ingestion API Key generated: ",
        deleted: "Ingestion Api Key deleted: ",
        command: "sts ingestion-api-key",
    };
    const COLUMNS: &'static [Column] = &[
        fixed("ID"),
        col("NAME"),
        fixed("EXPIRATION"),
        col("DESCRIPTION"),
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

    async fn list(client: &Client) -> Result<Vec<Token>> {
        let mut keys: Vec<IngestionApiKey> = client.get(KEYS).await?;
        keys.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(keys
            .into_iter()
            .map(|k| Token {
                id: id_of(k.id),
                name: k.name.clone(),
                expires: k.expiration,
                last_used: LastUsed::Unknown,
                created: None,
                revoked: false,
                cells: vec![
                    Cell::Id(k.id.map(|i| i.to_string())),
                    Cell::Text(Some(k.name.clone())),
                    Cell::Expiration(k.expiration),
                    Cell::Text(k.description.clone()),
                ],
                json: to_value(&k),
            })
            .collect())
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
        let wire: IngestionApiKey = serde_json::from_value(old.json.clone()).unwrap_or_default();
        Ok(GenerateIngestionApiKeyRequest {
            name: name.map_or_else(|| wire.name.clone(), str::to_string),
            description: wire.description,
            expiration: new_expiry(expiration, wire.expiration, wire.last_update_timestamp, now)?,
        })
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

/// The key of `verify`: from stdin, with no flag or with `--key -`; never from the command line.
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

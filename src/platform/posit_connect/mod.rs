//! Posit Connect (CONTRACT §9.1): service tokens with scopes, guid ids, RFC 3339 times, an
//! administrator's API key as `Authorization: Key …`; validation with `GET /v1/user`.
//!
//! Answers are read as JSON values, field by field, so that a field Connect adds (its versioning
//! policy allows that) is kept for `-o json` and a missing one is `-`.

pub mod import;
pub mod profile;
pub mod wire;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::http::client::Client;
use crate::platform::common::{check_name, expiration_millis, new_expiry, time_field};
use crate::platform::interface::Platform;
use crate::platform::interface::{
    Cell, Column, CreateInput, Created, LastUsed, OldTokenFate, Source, Token, TokenId, TokenKind,
    Validation, col, fixed,
};
use crate::platform::kind::{AuthScheme, PlatformKind, Profile};
use crate::secret::Secret;

/// The scope that lets a token use SCIM (and so be checked there).
const SCIM_SCOPE: &str = "identity:manage";

const TOKENS: &str = "v1/system/service-tokens";

/// Posit Connect's service tokens.
pub struct ServiceTokens;

/// Whether `text` is a UUID (`8-4-4-4-12` hex digits).
pub fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn rfc3339(ms: i64) -> Result<String> {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .ok_or_else(|| Error::usage("--expiration is out of range"))
}

/// The create body: `{name, scopes, expires_at?}`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewToken {
    pub name: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<String>,
}

impl TokenKind for ServiceTokens {
    const PLATFORM: PlatformKind = PlatformKind::PositConnect;
    const NOUNS: crate::platform::interface::Nouns = crate::platform::interface::SERVICE_TOKENS;
    const COLUMNS: &'static [Column] = &[
        fixed("ID", Source::Id),
        col("NAME", Source::Name),
        col("SCOPES", Source::Cell(0)),
        fixed("CREATED", Source::Created),
        fixed("EXPIRATION", Source::Expiration),
        fixed("LAST USED", Source::LastUsed),
        fixed("STATUS", Source::Status),
    ];
    /// `sts` can neither install the new key in its consumer nor check it, so the old one stays
    /// until the user deletes it (CONTRACT §9.1).
    const DEFAULT_FATE: OldTokenFate = OldTokenFate::Keep;
    const DELIVERED_FATE: OldTokenFate = OldTokenFate::Delete;
    const ROTATED_CAN_BE_SAVED: Option<&'static str> = Some(
        "a Posit Connect service token cannot manage anything sts does, so it is no context's \
         credential: install the new key in its consumer (the identity provider) instead",
    );
    const SAYS_NEW_ID: bool = true;
    type Request = NewToken;

    fn parse_id(text: &str, flag: &str) -> Result<TokenId> {
        let t = text.trim();
        if is_guid(t) {
            Ok(TokenId::string(t.to_ascii_lowercase()))
        } else {
            Err(Error::usage(format!(
                "invalid argument \"{text}\" for \"{flag}\": a Posit Connect service token id is \
                 a guid such as 3c1f5b8e-0a2d-4e6f-9b7a-1d2c3e4f5a6b (see `sts service-token list`)"
            )))
        }
    }

    fn create_request(input: &CreateInput, now: DateTime<Utc>) -> Result<NewToken> {
        if !input.roles.is_empty() {
            return Err(Error::usage(
                "Posit Connect tokens have scopes, not roles: use --scopes (see sts service-token \
                 scopes)",
            ));
        }
        for (given, flag) in [
            (input.dedicated_subject.is_some(), "--dedicatedSubject"),
            (input.description.is_some(), "--description"),
            (input.service_user.is_some(), "--service-user"),
            (input.scim_only, "--scim-only"),
        ] {
            if given {
                return Err(Error::usage(format!(
                    "{flag} is not an option of Posit Connect service tokens (they have a name, \
                     scopes and an expiry)"
                )));
            }
        }
        let scopes: Vec<String> = input
            .scopes
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if scopes.is_empty() {
            return Err(Error::usage(
                "--scopes needs at least one scope, e.g. --scopes identity:manage (see sts \
                 service-token scopes)",
            ));
        }
        let expires_at = expiration_millis(input.expiration.as_deref(), now)?
            .map(rfc3339)
            .transpose()?;
        Ok(NewToken {
            name: check_name(&input.name)?,
            scopes,
            expires_at,
        })
    }

    async fn create(client: &Client, request: &NewToken) -> Result<Created> {
        let mut body = json!({"name": request.name, "scopes": request.scopes});
        if let Some(e) = &request.expires_at {
            body["expires_at"] = json!(e);
        }
        let answer: Value = client.post(TOKENS, &body).await?;
        let key = str_field(&answer, "key").filter(|k| !k.trim().is_empty());
        let Some(key) = key else {
            return Err(Error::usage(
                "the server's answer to POST /v1/system/service-tokens holds no key; a token \
                 whose secret is unknown may have been made: find it with `sts service-token list`",
            ));
        };
        Ok(Created {
            secret: key,
            id: str_field(&answer, "guid").map(TokenId::string),
            json: answer,
        })
    }

    fn created_row(created: &Created) -> Token {
        row(created.json.clone())
    }

    async fn list(client: &Client) -> Result<Vec<Token>> {
        let answer: Vec<Value> = client.get(TOKENS).await?;
        let mut tokens: Vec<Token> = answer.into_iter().map(row).collect();
        tokens.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(tokens)
    }

    async fn delete(client: &Client, id: &TokenId) -> Result<()> {
        match client.delete(&format!("{TOKENS}/{}", id.text)).await {
            Err(e) if e.status == Some(404) => Err(e.reworded(format!(
                "no service token {} (or it expired: Connect removes expired tokens)",
                id.text
            ))),
            other => other,
        }
    }

    fn check_scopes() -> Result<()> {
        Ok(())
    }

    async fn scopes(client: &Client) -> Result<Vec<(String, String, Value)>> {
        scopes(client).await
    }

    fn rotation_request(
        old: &Token,
        expiration: Option<&str>,
        name: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<NewToken> {
        let expires = new_expiry(
            expiration,
            old.expires,
            time_field(&old.json, "created_time"),
            now,
        )?;
        Ok(NewToken {
            name: name.map_or_else(|| old.name.to_string(), str::to_string),
            scopes: strings(&old.json, "scopes"),
            expires_at: expires.map(rfc3339).transpose()?,
        })
    }

    /// `GET <url>/scim/v2/Users?count=1` at the server's root with the new key as a bearer
    /// token, when the token has `identity:manage` (the one use Connect gives such a token).
    async fn verify_new(client: &Client, created: &Created) -> Result<bool> {
        if !strings(&created.json, "scopes")
            .iter()
            .any(|s| s == SCIM_SCOPE)
        {
            return Ok(false);
        }
        let root = client
            .base()
            .strip_suffix(profile::PROFILE.base_path.unwrap_or_default())
            .unwrap_or(client.base());
        let scheme = AuthScheme {
            header: "Authorization",
            prefix: "Bearer ",
        };
        let with_new = client.with_credential(root, Secret::new(created.secret.clone()), scheme);
        with_new
            .get::<Value>("scim/v2/Users?count=1")
            .await
            .map(|_| true)
    }

    fn request_name(request: &NewToken) -> String {
        request.name.clone()
    }

    fn created_times(json: &Value) -> (Option<i64>, Option<i64>) {
        (
            time_field(json, "created_time"),
            time_field(json, "expires_at"),
        )
    }
}

/// A list element as a row; a `key` in it (the schema allows one) is dropped, never printed.
fn row(mut v: Value) -> Token {
    if let Some(o) = v.as_object_mut() {
        o.remove("key");
    }
    let guid = str_field(&v, "guid");
    let name = str_field(&v, "name").unwrap_or_default();
    let expires = time_field(&v, "expires_at");
    let last_used = match time_field(&v, "active_time") {
        Some(t) => LastUsed::At(t),
        None => LastUsed::Never,
    };
    Token {
        id: guid
            .clone()
            .map(TokenId::string)
            .unwrap_or_else(TokenId::missing),
        name: name.into(),
        expires,
        last_used,
        created: time_field(&v, "created_time"),
        revoked: false,
        cells: smallvec::smallvec![Cell::List(
            strings(&v, "scopes")
                .iter()
                .map(|s| s.as_str().into())
                .collect()
        )],
        json: v.into(),
    }
}

/// `service-token scopes`: `GET /v1/system/service-tokens/scopes`, as `(name, description)`.
pub async fn scopes(client: &Client) -> Result<Vec<(String, String, Value)>> {
    let answer: Value = match client.get(&format!("{TOKENS}/scopes")).await {
        Err(e) if e.status == Some(404) => {
            return Err(e.reworded(
                "the server has no service-token scopes (404): this Connect version predates \
                 service tokens",
            ));
        }
        other => other?,
    };
    Ok(answer
        .get("scopes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        str_field(s, "name").unwrap_or_default(),
                        str_field(s, "description").unwrap_or_default(),
                        s.clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default())
}

/// `GET /v1/user`: who the key belongs to; a user that is no administrator is a warning.
pub async fn validate(client: &Client) -> Result<Validation> {
    let user: Value = client.get("v1/user").await?;
    let username = str_field(&user, "username").unwrap_or_else(|| "?".into());
    let role = str_field(&user, "user_role").unwrap_or_default();
    let mut warnings = Vec::new();
    if role != "administrator" {
        warnings.push(format!(
            "user {username} is {}, not an administrator: it cannot manage service tokens",
            if role.is_empty() {
                "of no known role".to_string()
            } else {
                format!("a {role}")
            }
        ));
    }
    Ok(Validation {
        summary: format!("Posit Connect, user {username}"),
        json: user,
        warnings,
    })
}

/// Posit Connect, as the registry knows it.
pub struct PositConnect;

impl Platform for PositConnect {
    const PROFILE: Profile = profile::PROFILE;
    const IMPORT: crate::platform::import::VendorImport = import::SOURCE;
    type ServiceTokens = ServiceTokens;
    type IngestionKeys = crate::platform::interface::Absent<PositConnect>;

    async fn validate(client: &Client) -> Result<Validation> {
        validate(client).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::dates::test_now as now;

    #[test]
    fn guids_are_checked_before_any_request() {
        assert!(is_guid("3c1f5b8e-0a2d-4e6f-9b7a-1d2c3e4f5a6b"));
        assert!(!is_guid("3c1f5b8e0a2d4e6f9b7a1d2c3e4f5a6b"));
        assert!(!is_guid("107484341630693"));
        assert_eq!(
            ServiceTokens::parse_id("12", "ID").unwrap_err().exit_code(),
            3
        );
    }

    #[test]
    fn create_takes_scopes_and_refuses_roles() {
        let input = CreateInput {
            name: "scim".into(),
            scopes: vec!["identity:manage".into(), "nameservice:read".into()],
            expiration: Some("2026-04-01".into()),
            ..Default::default()
        };
        let r = ServiceTokens::create_request(&input, now()).unwrap();
        assert_eq!(r.scopes.len(), 2);
        assert_eq!(r.expires_at.as_deref(), Some("2026-04-01T00:00:00Z"));
        let roles = CreateInput {
            roles: vec!["x".into()],
            ..input.clone()
        };
        let e = ServiceTokens::create_request(&roles, now()).unwrap_err();
        assert!(e.message.contains("scopes, not roles"), "{}", e.message);
        let none = CreateInput {
            scopes: vec![],
            ..input
        };
        assert!(ServiceTokens::create_request(&none, now()).is_err());
    }

    #[test]
    fn a_key_in_a_list_answer_is_dropped() {
        let t = row(json!({"guid": "g", "name": "n", "key": "secret-key-value"}));
        assert!(t.json.get("key").is_none());
        assert_eq!(t.last_used, LastUsed::Never);
    }
}

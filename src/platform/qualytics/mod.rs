//! Qualytics (CONTRACT §9.2): service tokens of service users, integer ids, RFC 3339 times, a
//! JWT as `Authorization: Bearer …`; revoke and restore; validation with `GET /user-tokens`.
//!
//! Answers are read as JSON values, field by field: response schemas are open, and a field a
//! deployment adds is kept for `-o json`.

pub mod import;
pub mod profile;
pub mod wire;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::http::client::Client;
use crate::platform::common::{
    check_name, expiration_millis, new_expiry, parse_int_id, time_field,
};
use crate::platform::interface::Platform;
use crate::platform::interface::{
    Cell, Column, CreateInput, Created, LastUsed, OldTokenFate, Source, Token, TokenId, TokenKind,
    Validation, col, fixed,
};
use crate::platform::kind::{CredentialKind, PlatformKind, Profile};
use crate::secret::Secret;

const TOKENS: &str = "user-tokens";
/// Longest token name the server takes.
pub const MAX_NAME: usize = 255;
/// Longest expiry the server takes, in days.
pub const MAX_DAYS: i64 = 365;
/// At most this many pages of service users are read.
pub const MAX_PAGES: u32 = 100;
const PAGE_SIZE: u32 = 100;
const DAY_MS: i64 = 86_400_000;

/// Qualytics' service tokens.
pub struct ServiceTokens;

/// The service user a create names: its numeric id, or a login or name to look up.
#[derive(Debug, Clone, PartialEq)]
pub enum UserRef {
    Id(i64),
    Lookup(String),
}

/// The create body: `{name, user_id, expires_in_days?, scim_endpoints_only?}`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewToken {
    pub name: String,
    pub user: UserRef,
    pub expires_in_days: Option<i64>,
    pub scim_only: bool,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = v;
    for key in path {
        v = v.get(key)?;
    }
    v.as_str()
}

fn check_token_name(name: &str) -> Result<String> {
    let name = check_name(name)?;
    let n = name.chars().count();
    if n > MAX_NAME {
        return Err(Error::usage(format!(
            "--name is {n} characters long; Qualytics takes at most {MAX_NAME}"
        )));
    }
    Ok(name)
}

/// An expiry in epoch milliseconds as whole days from `now`, rounded up, 1 to 365.
pub fn days_until(expires: i64, now: DateTime<Utc>) -> Result<i64> {
    let ms = expires.saturating_sub(now.timestamp_millis());
    let days = (ms + DAY_MS - 1).div_euclid(DAY_MS).max(1);
    if days > MAX_DAYS {
        return Err(Error::usage(format!(
            "--expiration is {days} days away; Qualytics tokens last at most {MAX_DAYS} days"
        )));
    }
    Ok(days)
}

/// `<base> (rotated yyyy-MM-dd HH:mm:ss)` (UTC, CONTRACT §12): `<base>` is the old name without
/// an earlier such suffix (and its ` 2`, ` 3`), cut so that the whole stays within 255 characters.
pub fn rotated_name(old: &str, now: DateTime<Utc>) -> String {
    let base = base_name(old);
    let suffix = format!(" (rotated {})", now.format("%Y-%m-%d %H:%M:%S"));
    let room = MAX_NAME - suffix.chars().count();
    let base: String = base.chars().take(room).collect();
    format!("{base}{suffix}")
}

/// A token's name without its ` (rotated …)` suffixes and the ` n` a 409 added after each (a
/// name that went through several rotations by other tools may carry more than one).
pub fn base_name(name: &str) -> &str {
    let mut name = name;
    loop {
        let trimmed = match name.rsplit_once(' ') {
            Some((head, n)) if head.ends_with(')') && n.parse::<u32>().is_ok() => head,
            _ => name,
        };
        match trimmed.rfind(" (rotated ") {
            Some(i) if trimmed.ends_with(')') => name = &trimmed[..i],
            _ => return name,
        }
    }
}

impl TokenKind for ServiceTokens {
    const PLATFORM: PlatformKind = PlatformKind::Qualytics;
    const NOUNS: crate::platform::interface::Nouns = crate::platform::interface::SERVICE_TOKENS;
    const COLUMNS: &'static [Column] = &[
        fixed("ID", Source::Id),
        col("NAME", Source::Name),
        col("SERVICE USER", Source::Cell(0)),
        col("ROLE", Source::Cell(1)),
        fixed("EXPIRATION", Source::Expiration),
        fixed("LAST USED", Source::LastUsed),
        fixed("STATUS", Source::Status),
    ];
    /// Qualytics' own advice: revoke, watch, delete later.
    const DEFAULT_FATE: OldTokenFate = OldTokenFate::Revoke;
    const SAYS_NEW_ID: bool = true;
    type Request = NewToken;

    fn parse_id(text: &str, flag: &str) -> Result<TokenId> {
        parse_int_id(text, flag)
    }

    fn create_request(input: &CreateInput, now: DateTime<Utc>) -> Result<NewToken> {
        if !input.roles.is_empty() {
            return Err(Error::usage(
                "Qualytics tokens have no roles of their own: the role is the service user's \
                 (see sts service-user list); drop --roles",
            ));
        }
        if !input.scopes.is_empty() {
            return Err(Error::usage(
                "scopes are Posit Connect's only; a Qualytics token may be limited to SCIM with \
                 --scim-only",
            ));
        }
        for (given, flag) in [
            (input.dedicated_subject.is_some(), "--dedicatedSubject"),
            (input.description.is_some(), "--description"),
        ] {
            if given {
                return Err(Error::usage(format!(
                    "{flag} is not an option of Qualytics service tokens"
                )));
            }
        }
        let name = check_token_name(&input.name)?;
        let user = match input.service_user.as_deref().map(str::trim) {
            None | Some("") => {
                return Err(Error::usage(
                    "Qualytics service tokens belong to a service user: give --service-user with \
                     its id, login or name (see sts service-user list)",
                ));
            }
            Some(u) => match u.parse::<i64>() {
                Ok(id) => UserRef::Id(id),
                Err(_) => UserRef::Lookup(u.to_string()),
            },
        };
        let expires_in_days = expiration_millis(input.expiration.as_deref(), now)?
            .map(|ms| days_until(ms, now))
            .transpose()?;
        Ok(NewToken {
            name,
            user,
            expires_in_days,
            scim_only: input.scim_only,
        })
    }

    async fn create(client: &Client, request: &NewToken) -> Result<Created> {
        let (user_id, user_text) = match &request.user {
            UserRef::Id(id) => (*id, id.to_string()),
            UserRef::Lookup(text) => {
                let user = find_service_user(client, text).await?;
                (
                    user.get("id").and_then(Value::as_i64).unwrap_or_default(),
                    str_at(&user, &["user_id"]).unwrap_or(text).to_string(),
                )
            }
        };
        let mut body = json!({"name": request.name, "user_id": user_id});
        if let Some(days) = request.expires_in_days {
            body["expires_in_days"] = json!(days);
        }
        if request.scim_only {
            body["scim_endpoints_only"] = json!(true);
        }
        let answer: Value = match client.post(TOKENS, &body).await {
            Err(e) if e.status == Some(409) => {
                return Err(e.reworded(format!(
                    "a token named '{}' already exists for service user {user_text}",
                    request.name
                )));
            }
            other => other?,
        };
        let Some(secret) = str_at(&answer, &["bearer_token"]).filter(|t| !t.trim().is_empty())
        else {
            return Err(Error::usage(
                "the server's answer to POST /user-tokens holds no bearer_token; a token whose \
                 secret is unknown may have been made: find it with `sts service-token list`",
            ));
        };
        Ok(Created {
            secret: secret.to_string(),
            id: answer.get("id").and_then(Value::as_i64).map(TokenId::int),
            json: answer,
        })
    }

    fn created_row(created: &Created) -> Token {
        row(created.json.clone())
    }

    async fn list(client: &Client) -> Result<Vec<Token>> {
        list_at(client, "user-tokens/service").await
    }

    async fn delete(client: &Client, id: &TokenId) -> Result<()> {
        match client
            .delete_retried_404_ok(&format!("{TOKENS}/{}", id.text))
            .await
        {
            Err(e) if e.status == Some(409) => Err(e.reworded(format!(
                "service token {0} is active: revoke it first (sts service-token revoke {0}), \
                 or delete --revoke",
                id.text
            ))),
            other => other,
        }
    }

    fn rotation_request(
        old: &Token,
        expiration: Option<&str>,
        name: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<NewToken> {
        let user_id = old
            .json
            .get("user")
            .and_then(|u| u.get("id"))
            .and_then(Value::as_i64)
            .ok_or_else(|| {
                Error::usage(format!(
                    "the list does not say whose token {} is, so it cannot be rotated",
                    old.id.text
                ))
            })?;
        let expires = new_expiry(
            expiration,
            old.expires,
            time_field(&old.json, "created"),
            now,
        )?;
        Ok(NewToken {
            name: match name {
                Some(n) => check_token_name(n)?,
                None => rotated_name(&old.name, now),
            },
            user: UserRef::Id(user_id),
            expires_in_days: expires.map(|ms| days_until(ms, now)).transpose()?,
            scim_only: old
                .json
                .get("scim_endpoints_only")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }

    /// `GET /user-tokens` with the new token (any valid token may list its own).
    async fn verify_new(client: &Client, created: &Created) -> Result<bool> {
        let scheme = (profile::PROFILE.auth)(CredentialKind::ServiceToken).map_err(Error::usage)?;
        let with_new =
            client.with_credential(client.base(), Secret::new(created.secret.clone()), scheme);
        with_new.get::<Value>(TOKENS).await.map(|_| true)
    }

    fn created_times(json: &Value) -> (Option<i64>, Option<i64>) {
        (time_field(json, "created"), time_field(json, "expiration"))
    }

    fn request_name(request: &NewToken) -> String {
        request.name.clone()
    }

    /// A 409 (the name is taken for that user): ` 2`, ` 3`, … after the name (CONTRACT §12).
    fn renamed(request: &NewToken, n: u32) -> Option<NewToken> {
        let suffix = format!(" {n}");
        let room = MAX_NAME - suffix.chars().count();
        let base: String = request.name.chars().take(room).collect();
        Some(NewToken {
            name: format!("{base}{suffix}"),
            ..request.clone()
        })
    }

    fn name_matches(base: &str, name: &str) -> bool {
        name == base || base_name(name) == base
    }

    fn check_revoke() -> Result<()> {
        Ok(())
    }

    async fn revoke(client: &Client, id: &TokenId) -> Result<()> {
        set_revoked(client, id, true).await
    }

    async fn restore(client: &Client, id: &TokenId) -> Result<()> {
        set_revoked(client, id, false).await
    }

    fn check_personal() -> Result<()> {
        Ok(())
    }

    async fn list_personal(client: &Client) -> Result<Vec<Token>> {
        list_at(client, TOKENS).await
    }
}

async fn set_revoked(client: &Client, id: &TokenId, revoke: bool) -> Result<()> {
    client
        .put(
            &format!("{TOKENS}/{}", id.text),
            &json!({ "revoke": revoke }),
        )
        .await
}

async fn list_at(client: &Client, path: &str) -> Result<Vec<Token>> {
    let answer: Vec<Value> = client.get(path).await?;
    let mut tokens: Vec<Token> = answer.into_iter().map(row).collect();
    tokens.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(tokens)
}

/// A list element as a row; a `bearer_token` in it is dropped, never printed.
fn row(mut v: Value) -> Token {
    if let Some(o) = v.as_object_mut() {
        o.remove("bearer_token");
    }
    let id = v.get("id").and_then(Value::as_i64);
    let name = str_at(&v, &["name"]).unwrap_or_default().into();
    let expires = time_field(&v, "expiration");
    let last_used = match time_field(&v, "last_used") {
        Some(t) => LastUsed::At(t),
        None => LastUsed::Never,
    };
    Token {
        id: id.map(TokenId::int).unwrap_or_else(TokenId::missing),
        name,
        expires,
        last_used,
        created: time_field(&v, "created"),
        revoked: v.get("active").and_then(Value::as_bool) == Some(false),
        cells: smallvec::smallvec![
            Cell::Text(str_at(&v, &["user", "user_id"]).map(str::to_string)),
            Cell::Text(str_at(&v, &["user", "role"]).map(str::to_string)),
        ],
        json: v.into(),
    }
}

/// Every service user: `GET /users?type=Service`, pages followed until one comes back empty or
/// shorter than asked, at most [`MAX_PAGES`] (the answer's `total`, `page` and `size` are not
/// trusted).
pub async fn service_users(client: &Client) -> Result<Vec<Value>> {
    let mut users = Vec::new();
    for page in 1..=MAX_PAGES {
        let answer: Value = client
            .get(&format!("users?type=Service&page={page}&size={PAGE_SIZE}"))
            .await?;
        let items = answer
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let n = items.len();
        users.extend(items);
        if n < PAGE_SIZE as usize {
            break;
        }
    }
    Ok(users)
}

/// The one service user whose login or name is `text`; none or several is exit 3 naming the
/// candidates.
async fn find_service_user(client: &Client, text: &str) -> Result<Value> {
    let users = service_users(client).await?;
    let login = |u: &Value| str_at(u, &["user_id"]).unwrap_or_default().to_string();
    let matches: Vec<&Value> = users
        .iter()
        .filter(|u| {
            login(u).eq_ignore_ascii_case(text)
                || str_at(u, &["name"]).is_some_and(|n| n.eq_ignore_ascii_case(text))
        })
        .collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => {
            let known: Vec<String> = users.iter().map(login).take(10).collect();
            Err(Error::usage(format!(
                "no service user '{text}'{}",
                if known.is_empty() {
                    " (there are none: create one with `sts service-user create`)".to_string()
                } else {
                    format!(" (service users: {})", known.join(", "))
                }
            )))
        }
        several => Err(Error::usage(format!(
            "'{text}' names several service users ({}): give its id",
            several
                .iter()
                .map(|u| format!("{} = id {}", login(u), u.get("id").unwrap_or(&Value::Null)))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// `service-user create`: `POST /users` `{name, role, teams}`.
pub async fn create_service_user(
    client: &Client,
    name: &str,
    role: &str,
    teams: &[String],
) -> Result<Value> {
    let name = name.trim();
    if name.is_empty() || role.trim().is_empty() {
        return Err(Error::usage("service-user create needs --name and --role"));
    }
    client
        .post(
            "users",
            &json!({"name": name, "role": role.trim(), "teams": teams}),
        )
        .await
}

/// The `exp` claim of a JWT, read without checking its signature; `None` for a token that is
/// not a JWT or has none.
pub fn jwt_expiry(token: &Secret) -> Option<i64> {
    let payload = token.expose().split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("exp").and_then(Value::as_i64)
}

/// `GET /user-tokens` with the credential (any valid token may list its own), and its own
/// expiry from its JWT `exp` claim.
pub async fn validate(client: &Client) -> Result<Validation> {
    let own: Value = client.get(TOKENS).await?;
    let expiry = jwt_expiry(client.secret());
    // A token past its own `exp` is expired, whatever a lenient server answered: an
    // authentication failure (exit 4), never "verified".
    if let Some(exp) = expiry
        && exp <= Utc::now().timestamp()
    {
        let when = DateTime::<Utc>::from_timestamp(exp, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| exp.to_string());
        return Err(Error::connect(format!(
            "the Qualytics token expired on {when} (its JWT exp claim): create a new one"
        )));
    }
    let summary = match expiry
        .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
        .filter(|t| (0..=9999).contains(&chrono::Datelike::year(t)))
    {
        Some(t) => format!("Qualytics, token expires {}", t.format("%Y-%m-%d")),
        None => "Qualytics".to_string(),
    };
    let mut info = json!({ "tokens": own.as_array().map_or(0, Vec::len) });
    if let Some(exp) = expiry {
        info["token-expires"] = json!(exp);
    }
    Ok(Validation {
        summary,
        json: info,
        warnings: Vec::new(),
    })
}

/// Qualytics, as the registry knows it.
pub struct Qualytics;

impl Platform for Qualytics {
    const PROFILE: Profile = profile::PROFILE;
    const IMPORT: crate::platform::import::VendorImport = import::SOURCE;
    type ServiceTokens = ServiceTokens;
    type IngestionKeys = crate::platform::interface::Absent<Qualytics>;

    async fn validate(client: &Client) -> Result<Validation> {
        validate(client).await
    }

    async fn service_users(client: &Client) -> Result<Vec<Value>> {
        service_users(client).await
    }

    async fn create_service_user(
        client: &Client,
        name: &str,
        role: &str,
        teams: &[String],
    ) -> Result<Value> {
        create_service_user(client, name, role, teams).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::dates::test_now as now;

    fn input(expiration: Option<&str>) -> CreateInput {
        CreateInput {
            name: "loader".into(),
            service_user: Some("45".into()),
            expiration: expiration.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn expiry_is_whole_days_rounded_up_and_at_most_a_year() {
        let r = ServiceTokens::create_request(&input(Some("30d")), now()).unwrap();
        assert_eq!(r.expires_in_days, Some(30));
        assert_eq!(r.user, UserRef::Id(45));
        let r = ServiceTokens::create_request(&input(Some("25h")), now()).unwrap();
        assert_eq!(r.expires_in_days, Some(2));
        let r = ServiceTokens::create_request(&input(Some("1h")), now()).unwrap();
        assert_eq!(r.expires_in_days, Some(1));
        assert!(ServiceTokens::create_request(&input(Some("400d")), now()).is_err());
        assert_eq!(
            ServiceTokens::create_request(&input(None), now())
                .unwrap()
                .expires_in_days,
            None
        );
    }

    #[test]
    fn names_roles_and_users_are_checked() {
        let long = CreateInput {
            name: "x".repeat(300),
            ..input(None)
        };
        assert!(ServiceTokens::create_request(&long, now()).is_err());
        let roles = CreateInput {
            roles: vec!["Admin".into()],
            ..input(None)
        };
        assert!(ServiceTokens::create_request(&roles, now()).is_err());
        let login = CreateInput {
            service_user: Some("svc_x@service".into()),
            ..input(None)
        };
        assert_eq!(
            ServiceTokens::create_request(&login, now()).unwrap().user,
            UserRef::Lookup("svc_x@service".into())
        );
        let nobody = CreateInput {
            service_user: None,
            ..input(None)
        };
        assert!(ServiceTokens::create_request(&nobody, now()).is_err());
    }

    #[test]
    fn rotated_names_replace_an_earlier_suffix_and_fit() {
        assert_eq!(
            rotated_name("loader", now()),
            "loader (rotated 2026-03-10 12:00:00)"
        );
        assert_eq!(
            rotated_name("loader (rotated 2025-01-01 00:00:00) 2", now()),
            "loader (rotated 2026-03-10 12:00:00)"
        );
        assert!(ServiceTokens::name_matches(
            "loader",
            "loader (rotated 2025-01-01 00:00:00) 3"
        ));
        assert!(ServiceTokens::name_matches("loader", "loader"));
        assert!(!ServiceTokens::name_matches("loader", "loader 2"));
        assert!(!ServiceTokens::name_matches(
            "load",
            "loader (rotated 2025-01-01 00:00:00)"
        ));
        assert_eq!(
            rotated_name(
                "loader (rotated 2025-01-01 00:00:00) 2 (rotated 2025-02-01 00:00:00) 3",
                now()
            ),
            "loader (rotated 2026-03-10 12:00:00)"
        );
        let third = ServiceTokens::renamed(
            &NewToken {
                name: "loader (rotated 2026-03-10 12:00:00)".into(),
                user: UserRef::Id(2),
                expires_in_days: None,
                scim_only: false,
            },
            3,
        )
        .unwrap();
        assert_eq!(third.name, "loader (rotated 2026-03-10 12:00:00) 3");
        let long = rotated_name(&"y".repeat(300), now());
        assert_eq!(long.chars().count(), MAX_NAME);
    }

    #[test]
    fn jwt_expiry_is_read_without_a_signature_check() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"45","exp":1828172800}"#);
        let token = Secret::new(format!("eyJhbGciOiJIUzI1NiJ9.{payload}.bad-signature"));
        assert_eq!(jwt_expiry(&token), Some(1_828_172_800));
        assert_eq!(jwt_expiry(&Secret::new("not-a-jwt")), None);
    }

    #[test]
    fn a_bearer_token_in_a_list_is_dropped_and_status_follows_active() {
        let t = row(json!({"id": 3, "name": "n", "active": false, "bearer_token": "eyJsecret"}));
        assert!(t.json.get("bearer_token").is_none());
        assert!(t.revoked);
    }
}

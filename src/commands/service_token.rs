//! `sts service-token` (CONTRACT §2).

use chrono::{DateTime, Utc};

use super::{check_name, expiration_millis};
use crate::api::client::Client;
use crate::api::models::{NewServiceTokenRequest, ServiceToken, ServiceTokenCreatedResponse};
use crate::cli::ServiceTokenCreateArgs;
use crate::error::{Error, Result};

const PATH: &str = "security/tokens";

/// The body of `create`, checked before any request.
pub fn create_request(
    args: &ServiceTokenCreateArgs,
    now: DateTime<Utc>,
) -> Result<NewServiceTokenRequest> {
    let roles: Vec<String> = args
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
        name: check_name(&args.name)?,
        expiry_date: expiration_millis(args.expiration.as_deref(), now)?,
        roles,
        dedicated_subject: args.dedicated_subject.clone(),
    })
}

pub async fn create(
    client: &Client,
    request: &NewServiceTokenRequest,
) -> Result<ServiceTokenCreatedResponse> {
    let created: ServiceTokenCreatedResponse = client.post(PATH, request).await?;
    // A 200 without the secret would print an empty one and exit 0: a CI script would store it.
    if created.token.trim().is_empty() {
        return Err(Error::usage(
            "the server's answer to POST /security/tokens holds no token; a token whose \
             secret is unknown may have been made: find it with `sts service-token list`",
        ));
    }
    Ok(created)
}

/// All service tokens, sorted by name (stable).
pub async fn list(client: &Client) -> Result<Vec<ServiceToken>> {
    let mut tokens: Vec<ServiceToken> = client.get(PATH).await?;
    tokens.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(tokens)
}

pub async fn delete(client: &Client, id: i64) -> Result<()> {
    client.delete(&format!("{PATH}/{id}")).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-10T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn args(roles: &[&str], expiration: Option<&str>) -> ServiceTokenCreateArgs {
        ServiceTokenCreateArgs {
            name: "n".into(),
            roles: roles.iter().map(|s| s.to_string()).collect(),
            expiration: expiration.map(str::to_string),
            dedicated_subject: None,
        }
    }

    #[test]
    fn create_request_checks_its_input() {
        let r = create_request(&args(&["a", "b", "c"], Some("2030-05-22")), now()).unwrap();
        assert_eq!(r.roles, ["a", "b", "c"]);
        assert_eq!(r.expiry_date, Some(1_905_638_400_000));
        assert_eq!(r.dedicated_subject, None);
        assert!(create_request(&args(&["a"], Some("2001-01-01")), now()).is_err());
        assert!(create_request(&args(&["a"], Some("soon")), now()).is_err());
        assert!(create_request(&args(&[""], None), now()).is_err());
    }
}

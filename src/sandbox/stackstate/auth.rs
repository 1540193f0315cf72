//! Who is calling: the credential headers of a request, and what they may do.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::data::ADMIN_ROLE;
use super::options::StackState;
use crate::sandbox::emulator::App;
use crate::sandbox::errors::ApiError;
use crate::sandbox::secrets::{find_secret, same_secret};
use crate::sandbox::times::now_ms;

pub const API_TOKEN_HEADER: &str = "x-api-token";
pub const SERVICE_TOKEN_HEADER: &str = "x-api-key";
pub const SERVICE_BEARER_HEADER: &str = "x-api-servicebearer";

/// A credential as sent, not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential<'a> {
    /// `X-API-Token`: the admin API token.
    ApiToken(&'a str),
    /// `X-API-Key` or `Authorization: ApiKey …`: a service token.
    ServiceToken(&'a str),
    /// `X-API-ServiceBearer`: a Kubernetes service-account token.
    ServiceBearer(&'a str),
}

/// The credential of a request: the first of `X-API-Token`, `X-API-Key`,
/// `Authorization: ApiKey`, `X-API-ServiceBearer` that is present and not blank.
pub fn credential(headers: &HeaderMap) -> Option<Credential<'_>> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let authorization = header("authorization").and_then(|v| {
        let (scheme, token) = v.split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("apikey") && !token.is_empty()).then_some(token)
    });
    header(API_TOKEN_HEADER)
        .map(Credential::ApiToken)
        .or_else(|| header(SERVICE_TOKEN_HEADER).map(Credential::ServiceToken))
        .or_else(|| authorization.map(Credential::ServiceToken))
        .or_else(|| header(SERVICE_BEARER_HEADER).map(Credential::ServiceBearer))
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The admin API token or a Kubernetes service-account token.
    Admin,
    /// A service token with these roles.
    ServiceToken { roles: Vec<String> },
}

impl Principal {
    /// Whether this caller may list, create and delete tokens and keys.
    pub fn can_manage(&self) -> bool {
        match self {
            Principal::Admin => true,
            Principal::ServiceToken { roles } => roles.iter().any(|r| r == ADMIN_ROLE),
        }
    }
}

/// Checks the credential of a request against the admin token, the k8s tokens and the store.
pub fn authenticate(app: &App<StackState>, headers: &HeaderMap) -> Result<Principal, ApiError> {
    match credential(headers).ok_or(ApiError::Unauthorized)? {
        Credential::ApiToken(t) if same_secret(t, &app.admin_token) => Ok(Principal::Admin),
        Credential::ServiceBearer(t) if find_secret(&app.emulator.k8s_sa_tokens, t).is_some() => {
            Ok(Principal::Admin)
        }
        Credential::ServiceToken(t) => app
            .with_store(|store| store.service_token_roles(t, now_ms()))
            .map(|roles| Principal::ServiceToken { roles })
            .ok_or(ApiError::Unauthorized),
        _ => Err(ApiError::Unauthorized),
    }
}

/// Extractor: any authenticated caller.
#[derive(Debug)]
pub struct Caller(pub Principal);

impl FromRequestParts<Arc<App<StackState>>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App<StackState>>,
    ) -> Result<Self, ApiError> {
        authenticate(app, &parts.headers).map(Caller)
    }
}

/// Extractor: a caller that may manage tokens and keys (401 or 403 otherwise).
#[derive(Debug)]
pub struct Manager;

impl FromRequestParts<Arc<App<StackState>>> for Manager {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App<StackState>>,
    ) -> Result<Self, ApiError> {
        if authenticate(app, &parts.headers)?.can_manage() {
            Ok(Manager)
        } else {
            Err(ApiError::Forbidden(format!(
                "this operation needs the role {ADMIN_ROLE}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn reads_each_kind_of_credential() {
        assert_eq!(
            credential(&headers(&[("x-api-token", "a")])),
            Some(Credential::ApiToken("a"))
        );
        assert_eq!(
            credential(&headers(&[("x-api-key", "svctok-1")])),
            Some(Credential::ServiceToken("svctok-1"))
        );
        assert_eq!(
            credential(&headers(&[("authorization", "ApiKey svctok-2")])),
            Some(Credential::ServiceToken("svctok-2"))
        );
        assert_eq!(
            credential(&headers(&[("x-api-servicebearer", "k8s")])),
            Some(Credential::ServiceBearer("k8s"))
        );
    }

    #[test]
    fn ignores_blank_and_other_schemes() {
        assert_eq!(credential(&headers(&[("authorization", "Bearer x")])), None);
        assert_eq!(credential(&headers(&[("authorization", "ApiKey  ")])), None);
        assert_eq!(credential(&headers(&[("x-api-token", " ")])), None);
        assert_eq!(credential(&HeaderMap::new()), None);
    }

    #[test]
    fn only_the_admin_role_manages() {
        assert!(Principal::Admin.can_manage());
        let admin = Principal::ServiceToken {
            roles: vec!["x".into(), ADMIN_ROLE.into()],
        };
        assert!(admin.can_manage());
        let troubleshooter = Principal::ServiceToken {
            roles: vec!["stackstate-k8s-troubleshooter".into()],
        };
        assert!(!troubleshooter.can_manage());
    }
}

//! Injected faults: the next N matching `/api` requests get a canned answer, a delay, or no
//! answer at all. Pure logic; the middleware in `intercept` applies them.

use std::collections::VecDeque;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::requests::api_base;

/// The platform's error body for a message (a fault with a status and no body).
pub type ErrorBody = fn(&str) -> Value;

/// The body of `POST /_sandbox/faults`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    pub count: u64,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub retry_after: Option<Value>,
    #[serde(default)]
    pub delay_ms: Option<u64>,
    #[serde(default)]
    pub body: Option<Value>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub hang: bool,
    /// Do what the request asks (create, delete…), then never answer.
    #[serde(default)]
    pub hang_after: bool,
}

/// What to do with a request that a fault caught.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultAction {
    /// Wait this long first.
    pub delay: Option<Duration>,
    /// Never answer.
    pub hang: bool,
    /// Carry the request out, then never answer.
    pub hang_after: bool,
    /// Answer this instead of the real answer; `None` means the real answer (after the delay).
    pub response: Option<CannedResponse>,
}

/// An answer given instead of the real one.
#[derive(Debug, Clone, PartialEq)]
pub struct CannedResponse {
    pub status: StatusCode,
    pub retry_after: Option<HeaderValue>,
    pub content_type: HeaderValue,
    pub body: String,
}

impl IntoResponse for CannedResponse {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, self.content_type);
        if let Some(retry_after) = self.retry_after {
            headers.insert(header::RETRY_AFTER, retry_after);
        }
        response
    }
}

/// A validated fault with the number of requests it still catches.
#[derive(Debug, Clone, PartialEq)]
struct Fault {
    method: Option<String>,
    path: Option<String>,
    remaining: u64,
    action: FaultAction,
}

impl Fault {
    fn from_spec(
        spec: FaultSpec,
        platform: &str,
        bases: &[&str],
        error_body: ErrorBody,
    ) -> Result<Fault, String> {
        if spec.count == 0 {
            return Err("count must be at least 1".to_string());
        }
        if let Some(path) = spec
            .path
            .as_deref()
            .filter(|p| api_base(bases, p).is_none())
        {
            return Err(format!(
                "faults apply only to the API paths of {platform}, not {path:?}"
            ));
        }
        let bad_method = |m: &&str| m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic());
        if let Some(method) = spec.method.as_deref().filter(bad_method) {
            return Err(format!("invalid method {method:?}"));
        }
        let status = spec
            .status
            .map(|s| {
                StatusCode::from_u16(s)
                    .ok()
                    .filter(|_| (100..=599).contains(&s))
                    .ok_or_else(|| format!("invalid status {s}"))
            })
            .transpose()?;
        let retry_after = spec.retry_after.map(retry_after_header).transpose()?;
        let content_type = match &spec.content_type {
            Some(ct) => {
                HeaderValue::from_str(ct).map_err(|_| format!("invalid content_type {ct:?}"))?
            }
            None => HeaderValue::from_static("application/json"),
        };
        let body = spec.body.map(|b| match b {
            Value::String(raw) => raw,
            other => other.to_string(),
        });
        let response = match (status, body) {
            (None, None) => None,
            (status, body) => {
                let status = status.unwrap_or(StatusCode::OK);
                let body = body.unwrap_or_else(|| error_body("injected fault").to_string());
                Some(CannedResponse {
                    status,
                    retry_after: retry_after.clone(),
                    content_type,
                    body,
                })
            }
        };
        if spec.hang_after && (spec.hang || response.is_some()) {
            return Err(
                "hang_after carries the request out: no hang, status or body with it".into(),
            );
        }
        if retry_after.is_some() && response.is_none() {
            return Err("retry_after needs a status or a body".to_string());
        }
        Ok(Fault {
            method: spec.method.map(|m| m.to_ascii_uppercase()),
            path: spec.path,
            remaining: spec.count,
            action: FaultAction {
                delay: spec.delay_ms.map(Duration::from_millis),
                hang: spec.hang,
                hang_after: spec.hang_after,
                response,
            },
        })
    }

    /// Whether this fault catches a request; `template` is the path with ids as `{id}`.
    fn matches(&self, method: &str, path: &str, template: &str) -> bool {
        let method_ok = self
            .method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method));
        let path_ok = self
            .path
            .as_deref()
            .is_none_or(|p| p == path || p == template);
        method_ok && path_ok
    }
}

fn retry_after_header(value: Value) -> Result<HeaderValue, String> {
    let text = match &value {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.as_u64().is_some() => n.to_string(),
        other => return Err(format!("invalid retry_after {other}")),
    };
    HeaderValue::from_str(&text).map_err(|_| format!("invalid retry_after {text:?}"))
}

/// The queued faults, first added first matched.
#[derive(Debug, Default)]
pub struct FaultQueue(VecDeque<Fault>);

impl FaultQueue {
    /// Validates a fault and queues it; returns how many faults are queued.
    pub fn push(
        &mut self,
        spec: FaultSpec,
        platform: &str,
        bases: &[&str],
        error_body: ErrorBody,
    ) -> Result<usize, String> {
        self.0
            .push_back(Fault::from_spec(spec, platform, bases, error_body)?);
        Ok(self.0.len())
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Consumes one count of the first fault that catches this request, and says what to do.
    pub fn take(&mut self, method: &str, path: &str, template: &str) -> Option<FaultAction> {
        let index = self
            .0
            .iter()
            .position(|f| f.matches(method, path, template))?;
        let fault = self.0.get_mut(index)?;
        fault.remaining -= 1;
        let action = fault.action.clone();
        if fault.remaining == 0 {
            self.0.remove(index);
        }
        Some(action)
    }

    /// Puts a `hang_after` fault back in front, for one more request of this method and route:
    /// the request it caught was refused, so nothing was carried out to hang after.
    pub fn put_back(&mut self, method: &str, template: &str, action: FaultAction) {
        self.0.push_front(Fault {
            method: Some(method.to_string()),
            path: Some(template.to_string()),
            remaining: 1,
            action,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: Value) -> FaultSpec {
        serde_json::from_value(v).unwrap()
    }

    /// StackState's error body, as the platform gives it.
    fn sts_body(message: &str) -> Value {
        serde_json::to_value(crate::sandbox::errors::generic(message)).unwrap()
    }

    /// Queues a fault as a StackState sandbox would.
    fn push(q: &mut FaultQueue, v: Value) -> Result<usize, String> {
        q.push(spec(v), "stackstate", &["/api"], sts_body)
    }

    const TOKENS: &str = "/api/security/tokens";

    #[test]
    fn catches_the_next_n_matching_requests_in_order() {
        let mut q = FaultQueue::default();
        push(
            &mut q,
            json!({"method": "get", "path": TOKENS, "count": 2, "status": 503}),
        )
        .unwrap();
        push(&mut q, json!({"count": 1, "status": 429, "retry_after": 3})).unwrap();
        // Not matching the first: falls to the catch-all second.
        let a = q.take("POST", TOKENS, TOKENS).unwrap();
        let r = a.response.unwrap();
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.retry_after, Some(HeaderValue::from_static("3")));
        for _ in 0..2 {
            let a = q.take("GET", TOKENS, TOKENS).unwrap();
            assert_eq!(a.response.unwrap().status, StatusCode::SERVICE_UNAVAILABLE);
        }
        assert_eq!(q.take("GET", TOKENS, TOKENS), None);
    }

    #[test]
    fn matches_the_real_or_the_templated_path() {
        let mut q = FaultQueue::default();
        let templ = "/api/security/tokens/{id}";
        push(&mut q, json!({"path": templ, "count": 1, "status": 500})).unwrap();
        push(
            &mut q,
            json!({"path": "/api/security/tokens/123456789012345", "count": 1, "status": 502}),
        )
        .unwrap();
        assert_eq!(q.take("DELETE", TOKENS, TOKENS), None);
        let first = q.take("DELETE", "/api/security/tokens/123456789012345", templ);
        assert_eq!(first.unwrap().response.unwrap().status.as_u16(), 500);
        let second = q.take("DELETE", "/api/security/tokens/123456789012345", templ);
        assert_eq!(second.unwrap().response.unwrap().status.as_u16(), 502);
        assert_eq!(q.take("DELETE", "/api/security/tokens/9", templ), None);
    }

    #[test]
    fn builds_bodies_raw_serialized_or_generic() {
        let mut q = FaultQueue::default();
        push(
            &mut q,
            json!({"count": 1, "status": 200, "body": "<html>", "content_type": "text/html"}),
        )
        .unwrap();
        push(&mut q, json!({"count": 1, "body": {"a": 1}})).unwrap();
        push(&mut q, json!({"count": 1, "status": 500})).unwrap();
        push(&mut q, json!({"count": 1, "delay_ms": 5})).unwrap();
        let raw = q.take("GET", "/api/x", "/api/x").unwrap().response.unwrap();
        assert_eq!(
            (raw.body.as_str(), raw.content_type.to_str().unwrap()),
            ("<html>", "text/html")
        );
        let json_body = q.take("GET", "/api/x", "/api/x").unwrap().response.unwrap();
        assert_eq!(
            (json_body.status.as_u16(), json_body.body.as_str()),
            (200, r#"{"a":1}"#)
        );
        let generic = q.take("GET", "/api/x", "/api/x").unwrap().response.unwrap();
        let v: Value = serde_json::from_str(&generic.body).unwrap();
        assert_eq!(v["errors"][0]["message"], "injected fault");
        assert_eq!(generic.content_type, "application/json");
        let delay = q.take("GET", "/api/x", "/api/x").unwrap();
        assert_eq!(
            (delay.delay, delay.response),
            (Some(Duration::from_millis(5)), None)
        );
    }

    #[test]
    fn refuses_faults_that_make_no_sense() {
        let mut q = FaultQueue::default();
        for bad in [
            json!({"count": 0, "status": 500}),
            json!({"count": 1, "status": 42}),
            json!({"count": 1, "status": 600}),
            json!({"count": 1, "path": "/_sandbox/requests"}),
            json!({"count": 1, "method": "GE T"}),
            json!({"count": 1, "status": 503, "retry_after": -1}),
            json!({"count": 1, "status": 503, "content_type": "a\nb"}),
        ] {
            assert!(push(&mut q, bad.clone()).is_err(), "{bad} accepted");
        }
        assert!(serde_json::from_value::<FaultSpec>(json!({"count": 1, "delay": 5})).is_err());
        push(&mut q, json!({"count": 1, "hang": true})).unwrap();
        push(&mut q, json!({"count": 1, "hang_after": true})).unwrap();
        for bad in [
            json!({"count": 1, "hang_after": true, "hang": true}),
            json!({"count": 1, "hang_after": true, "status": 500}),
        ] {
            assert!(push(&mut q, bad.clone()).is_err(), "{bad} accepted");
        }
        q.clear();
        assert_eq!(q.take("GET", "/api/x", "/api/x"), None);
    }
}

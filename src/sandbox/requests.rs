//! Counts of the requests received under the platform's API paths, keyed `"METHOD /route"`: the
//! route the request matched, its parameters as the route names them (`{id}`, `{guid}`). A
//! path that matches no route counts as `"METHOD <base>/(unknown)"` (`GET /api/(unknown)`), and a
//! method that is not one of HTTP's own as `OTHER`, so what a client sends cannot grow the
//! counts without bound.

use std::collections::BTreeMap;

/// The key of every path under `<base>` that matches no route: `<base>/(unknown)`.
pub const UNKNOWN_PATH: &str = "(unknown)";
/// The methods counted by name; any other counts as `OTHER`.
const METHODS: [&str; 9] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT",
];

/// The API base of `bases` that `path` is under (`/api`; Posit Connect: `/__api__` or `/scim`),
/// where counting and faults apply.
pub fn api_base<'a>(bases: &[&'a str], path: &str) -> Option<&'a str> {
    bases.iter().copied().find(|base| {
        path.strip_prefix(base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// The path with every numeric segment replaced by `{id}` and every UUID by `{guid}`:
/// `/api/security/tokens/107484341630693` → `/api/security/tokens/{id}`.
pub fn template_path(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if is_id(segment) {
                "{id}"
            } else if is_uuid(segment) {
                "{guid}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether a string is a UUID in its usual form, `8-4-4-4-12` hex digits.
pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_id(segment: &str) -> bool {
    let digits = segment.strip_prefix('-').unwrap_or(segment);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The key of a request in the counts: `"DELETE /api/security/tokens/{id}"` for a request that
/// matched the route `/api/security/tokens/{id}`; `"GET /api/(unknown)"` for one under `/api`
/// that matched none.
pub fn request_key(method: &str, route: Option<&str>, base: &str) -> String {
    let upper = method.to_ascii_uppercase();
    let method = METHODS
        .iter()
        .find(|m| **m == upper)
        .copied()
        .unwrap_or("OTHER");
    match route {
        Some(route) => format!("{method} {route}"),
        None => format!("{method} {base}/{UNKNOWN_PATH}"),
    }
}

/// How many requests came in, per key.
#[derive(Debug, Default)]
pub struct RequestCounts(BTreeMap<String, u64>);

impl RequestCounts {
    pub fn record(&mut self, key: String) {
        *self.0.entry(key).or_insert(0) += 1;
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_numeric_segments_only() {
        assert_eq!(
            template_path("/api/security/tokens/107484341630693"),
            "/api/security/tokens/{id}"
        );
        assert_eq!(
            template_path("/api/security/tokens/-3"),
            "/api/security/tokens/{id}"
        );
        assert_eq!(
            template_path("/api/security/tokens/abc"),
            "/api/security/tokens/abc"
        );
        assert_eq!(template_path("/api/server/info"), "/api/server/info");
        assert_eq!(template_path("/api/a/1/b/22/"), "/api/a/{id}/b/{id}/");
        assert_eq!(template_path("/api/a/-"), "/api/a/-");
        assert_eq!(
            template_path("/__api__/v1/system/service-tokens/3c9a6f0e-8d21-4b7e-9f35-2a61d0c4e8b7"),
            "/__api__/v1/system/service-tokens/{guid}"
        );
        assert!(!is_uuid("3c9a6f0e-8d21-4b7e-9f35-2a61d0c4e8b"));
        assert!(!is_uuid("3c9a6f0e8d214b7e9f352a61d0c4e8b7"));
    }

    #[test]
    fn keys_and_counts() {
        let mut counts = RequestCounts::default();
        let tokens = Some("/api/security/tokens/{id}");
        counts.record(request_key("delete", tokens, "/api"));
        counts.record(request_key("DELETE", tokens, "/api"));
        counts.record(request_key("GET", Some("/api/server/info"), "/api"));
        counts.record(request_key("GET", None, "/api"));
        counts.record(request_key("BREW", None, "/api"));
        let snap = counts.snapshot();
        assert_eq!(snap["DELETE /api/security/tokens/{id}"], 2);
        assert_eq!(snap["GET /api/server/info"], 1);
        assert_eq!(snap["GET /api/(unknown)"], 1);
        assert_eq!(snap["OTHER /api/(unknown)"], 1);
    }

    #[test]
    fn api_paths() {
        let sts = &["/api"];
        assert_eq!(api_base(sts, "/api"), Some("/api"));
        assert_eq!(api_base(sts, "/api/server/info"), Some("/api"));
        assert_eq!(api_base(sts, "/apix"), None);
        assert_eq!(api_base(sts, "/_sandbox/requests"), None);
        assert_eq!(api_base(sts, "/__api__/v1/user"), None);
        let posit = &["/__api__", "/scim"];
        assert_eq!(api_base(posit, "/__api__/v1/user"), Some("/__api__"));
        assert_eq!(api_base(posit, "/scim/v2/Users"), Some("/scim"));
        assert_eq!(api_base(posit, "/api/server/info"), None);
    }
}

//! Counts of the requests received under the platform's API paths, keyed `"METHOD /path"` with
//! numeric ids as `{id}` and UUIDs as `{guid}`.

use std::collections::BTreeMap;

use super::config::Platform;

/// Whether a path is under the platform's API base (Posit Connect: also its SCIM root), where
/// counting and faults apply.
pub fn is_api_path(platform: Platform, path: &str) -> bool {
    let under = |base: &str| {
        path.strip_prefix(base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    match platform {
        Platform::StackState | Platform::Qualytics => under("/api"),
        Platform::PositConnect => under("/__api__") || under("/scim"),
    }
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

/// The key of a request in the counts: `"DELETE /api/security/tokens/{id}"`.
pub fn request_key(method: &str, path: &str) -> String {
    format!("{} {}", method.to_ascii_uppercase(), template_path(path))
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
        counts.record(request_key("delete", "/api/security/tokens/1"));
        counts.record(request_key("DELETE", "/api/security/tokens/2"));
        counts.record(request_key("GET", "/api/server/info"));
        let snap = counts.snapshot();
        assert_eq!(snap["DELETE /api/security/tokens/{id}"], 2);
        assert_eq!(snap["GET /api/server/info"], 1);
    }

    #[test]
    fn api_paths() {
        let sts = Platform::StackState;
        assert!(is_api_path(sts, "/api"));
        assert!(is_api_path(sts, "/api/server/info"));
        assert!(!is_api_path(sts, "/apix"));
        assert!(!is_api_path(sts, "/_sandbox/requests"));
        assert!(!is_api_path(sts, "/__api__/v1/user"));
        let posit = Platform::PositConnect;
        assert!(is_api_path(posit, "/__api__/v1/user"));
        assert!(is_api_path(posit, "/scim/v2/Users"));
        assert!(!is_api_path(posit, "/api/server/info"));
        assert!(is_api_path(Platform::Qualytics, "/api/user-tokens"));
    }
}

//! Counts of the requests received under `/api`, keyed `"METHOD /path"` with ids as `{id}`.

use std::collections::BTreeMap;

/// Whether a path is under the API base, where counting and faults apply.
pub fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// The path with every numeric segment replaced by `{id}`:
/// `/api/security/tokens/107484341630693` → `/api/security/tokens/{id}`.
pub fn template_path(path: &str) -> String {
    path.split('/')
        .map(|segment| if is_id(segment) { "{id}" } else { segment })
        .collect::<Vec<_>>()
        .join("/")
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
        assert!(is_api_path("/api"));
        assert!(is_api_path("/api/server/info"));
        assert!(!is_api_path("/apix"));
        assert!(!is_api_path("/_sandbox/requests"));
    }
}

//! Secrets as the sandbox handles them, on every platform: made at random, kept only as a hash,
//! and compared in constant time (so how long a comparison takes says nothing about how much of
//! a guess was right).

use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `prefix` followed by `len` random letters and digits.
pub fn new_secret(prefix: &str, len: usize) -> String {
    let mut secret = String::with_capacity(prefix.len() + len);
    secret.push_str(prefix);
    Alphanumeric.append_string(&mut rand::rng(), &mut secret, len);
    secret
}

/// Hex SHA-256 of a secret: all the sandbox keeps of it.
pub fn hash_secret(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether two secrets are equal, in time that depends on neither (both are hashed first, so
/// not even their lengths show).
pub fn same_secret(given: &str, known: &str) -> bool {
    let given = Sha256::digest(given.as_bytes());
    let known = Sha256::digest(known.as_bytes());
    bool::from(given.as_slice().ct_eq(known.as_slice()))
}

/// Whether a stored hash (hex) is the hash of the secret given, in constant time.
pub fn hash_matches(stored: &str, given_hash: &str) -> bool {
    bool::from(stored.as_bytes().ct_eq(given_hash.as_bytes()))
}

/// The index of the first of `known` that equals `given`; every one is compared, so the time
/// taken does not say which one matched.
pub fn find_secret<S: AsRef<str>>(known: &[S], given: &str) -> Option<usize> {
    let mut found = None;
    for (i, k) in known.iter().enumerate() {
        if same_secret(given, k.as_ref()) && found.is_none() {
            found = Some(i);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_whole_secrets_only() {
        assert!(same_secret("admin-token-1", "admin-token-1"));
        assert!(!same_secret("admin-token-1", "admin-token-2"));
        assert!(!same_secret("admin-token", "admin-token-1"));
        assert!(!same_secret("", "x"));
        let keys = ["a1", "b2", "b2"];
        assert_eq!(find_secret(&keys, "b2"), Some(1));
        assert_eq!(find_secret(&keys, "c3"), None);
        let h = hash_secret("svctok-x");
        assert_eq!(h.len(), 64);
        assert!(hash_matches(&h, &hash_secret("svctok-x")));
        assert!(!hash_matches(&h, &hash_secret("svctok-y")));
        assert!(!hash_matches(&h, ""));
        let s = new_secret("svctok-", 40);
        assert!(s.starts_with("svctok-") && s.len() == 47);
    }
}

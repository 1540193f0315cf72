//! The JWTs the Qualytics sandbox issues: `{"sub", "user_id", "jti", "iat", "exp"?}`, signed
//! HS256 with the sandbox's own key. The signature is checked in constant time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use rand::distr::{Alphanumeric, SampleString};
use serde_json::{Map, Value, json};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The JWT for a token: `{"sub": user id, "user_id": login, "jti", "iat", "exp"?}`, HS256.
pub fn issue_jwt(key: &[u8], user: i64, login: &str, real_now: i64, days: Option<i64>) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let iat = real_now.div_euclid(1000);
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.to_string()));
    claims.insert("user_id".into(), json!(login));
    claims.insert(
        "jti".into(),
        json!(Alphanumeric.sample_string(&mut rand::rng(), 22)),
    );
    claims.insert("iat".into(), json!(iat));
    if let Some(days) = days {
        claims.insert("exp".into(), json!(iat + days * 24 * 3600));
    }
    let payload = URL_SAFE_NO_PAD.encode(Value::Object(claims).to_string());
    let input = format!("{header}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(sign(key, &input));
    format!("{input}.{signature}")
}

fn sign(key: &[u8], input: &str) -> Vec<u8> {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(input.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Whether `token` is a JWT signed with `key`.
pub fn signature_ok(key: &[u8], token: &str) -> bool {
    let Some((input, signature)) = token.rsplit_once('.') else {
        return false;
    };
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    if input.split('.').count() != 2 {
        return false;
    }
    let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(key) else {
        return false;
    };
    mac.update(input.as_bytes());
    mac.verify_slice(&signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwts_are_signed_and_carry_the_user_and_expiry() {
        let key = b"0123456789abcdef0123456789abcdef";
        let jwt = issue_jwt(key, 45, "loader@service", 1_800_000_000_000, Some(2));
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["sub"], "45");
        assert_eq!(claims["exp"], json!(1_800_000_000 + 2 * 86_400));
        assert!(signature_ok(key, &jwt));
        assert!(!signature_ok(b"another key", &jwt));
        let never = issue_jwt(key, 45, "loader@service", 1_800_000_000_000, None);
        let claims: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(never.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert!(claims.get("exp").is_none());
        assert!(!signature_ok(key, "not.a-jwt"));
    }
}

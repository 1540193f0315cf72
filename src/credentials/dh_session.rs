//! An encrypted Secret Service session of our own, so that `-A` can read the secrets of every
//! found item with ONE `GetSecrets` call instead of one `GetSecret` per item (issue 24, figure 7:
//! each call costs the keyring daemon about as much as a search).
//!
//! The algorithm is the one the keyring crate's store negotiates,
//! `dh-ietf1024-sha256-aes128-cbc-pkcs7` (Secret Service API, "Transfer of Secrets"): a
//! Diffie-Hellman exchange in the 1024-bit MODP group of RFC 2409 (generator 2), the shared value
//! as 128 big-endian bytes through HKDF-SHA256 (no salt, no info) to a 16-byte AES key, and each
//! secret AES-128-CBC with PKCS#7 padding, its IV in the secret's parameters. No secret ever
//! travels outside this session.

use std::collections::HashMap;

use num_bigint::BigUint;
use secret_service::Error;
use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue, Value};
use zeroize::Zeroizing;

/// The Secret Service's bus name, object and interfaces.
const DESTINATION: &str = "org.freedesktop.secrets";
const SERVICE_PATH: &str = "/org/freedesktop/secrets";
const SERVICE: &str = "org.freedesktop.Secret.Service";
const ITEM: &str = "org.freedesktop.Secret.Item";
const ALGORITHM: &str = "dh-ietf1024-sha256-aes128-cbc-pkcs7";

/// The prime of the Second Oakley Group (RFC 2409 §6.2); the generator is 2.
const PRIME: [u8; 128] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC9, 0x0F, 0xDA, 0xA2, 0x21, 0x68, 0xC2, 0x34,
    0xC4, 0xC6, 0x62, 0x8B, 0x80, 0xDC, 0x1C, 0xD1, 0x29, 0x02, 0x4E, 0x08, 0x8A, 0x67, 0xCC, 0x74,
    0x02, 0x0B, 0xBE, 0xA6, 0x3B, 0x13, 0x9B, 0x22, 0x51, 0x4A, 0x08, 0x79, 0x8E, 0x34, 0x04, 0xDD,
    0xEF, 0x95, 0x19, 0xB3, 0xCD, 0x3A, 0x43, 0x1B, 0x30, 0x2B, 0x0A, 0x6D, 0xF2, 0x5F, 0x14, 0x37,
    0x4F, 0xE1, 0x35, 0x6D, 0x6D, 0x51, 0xC2, 0x45, 0xE4, 0x85, 0xB5, 0x76, 0x62, 0x5E, 0x7E, 0xC6,
    0xF4, 0x4C, 0x42, 0xE9, 0xA6, 0x37, 0xED, 0x6B, 0x0B, 0xFF, 0x5C, 0xB6, 0xF4, 0x06, 0xB7, 0xED,
    0xEE, 0x38, 0x6B, 0xFB, 0x5A, 0x89, 0x9F, 0xA5, 0xAE, 0x9F, 0x24, 0x11, 0x7C, 0x4B, 0x1F, 0xE6,
    0x49, 0x28, 0x66, 0x51, 0xEC, 0xE6, 0x53, 0x81, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
];

/// A secret as the Secret Service sends it: its session, parameters (the IV), the encrypted
/// value and its content type.
type WireSecret = (OwnedObjectPath, Vec<u8>, Vec<u8>, String);

/// One side of the exchange: a random private exponent and its public value.
struct Keypair {
    private: BigUint,
    public: BigUint,
}

impl Keypair {
    fn generate() -> Result<Keypair, Error> {
        let mut bytes = Zeroizing::new([0u8; 128]);
        getrandom::fill(&mut bytes[..])
            .map_err(|_| Error::Crypto("no random numbers for the key exchange"))?;
        Ok(Keypair::from_private(&bytes[..]))
    }

    fn from_private(bytes: &[u8]) -> Keypair {
        let private = BigUint::from_bytes_be(bytes);
        let public = BigUint::from(2u32).modpow(&private, &prime());
        Keypair { private, public }
    }

    /// The AES key both sides derive from the other's public value; a value outside 2..p-2
    /// (one that would fix the shared value) is refused.
    fn shared_key(&self, peer_public: &[u8]) -> Result<Zeroizing<[u8; 16]>, Error> {
        let p = prime();
        let peer = BigUint::from_bytes_be(peer_public);
        let one = BigUint::from(1u32);
        if peer <= one || peer >= &p - &one {
            return Err(Error::Crypto("the keyring sent an invalid public key"));
        }
        let shared = Zeroizing::new(peer.modpow(&self.private, &p).to_bytes_be());
        let mut ikm = Zeroizing::new([0u8; 128]);
        ikm[128 - shared.len()..].copy_from_slice(&shared);
        let mut key = Zeroizing::new([0u8; 16]);
        hkdf::Hkdf::<sha2::Sha256>::new(None, &ikm[..])
            .expand(&[], &mut key[..])
            .map_err(|_| Error::Crypto("key derivation failed"))?;
        Ok(key)
    }
}

fn prime() -> BigUint {
    BigUint::from_bytes_be(&PRIME)
}

/// An open session: its object on the bus and the AES key of its secrets.
pub(super) struct DhSession {
    path: OwnedObjectPath,
    key: Zeroizing<[u8; 16]>,
}

impl DhSession {
    /// Opens a session on `conn` with a fresh key exchange.
    pub(super) async fn open(conn: &zbus::Connection) -> Result<DhSession, Error> {
        let keypair = Keypair::generate()?;
        let reply = conn
            .call_method(
                Some(DESTINATION),
                SERVICE_PATH,
                Some(SERVICE),
                "OpenSession",
                &(ALGORITHM, Value::from(keypair.public.to_bytes_be())),
            )
            .await?;
        let (output, path): (OwnedValue, OwnedObjectPath) = reply.body().deserialize()?;
        let peer: Vec<u8> = output.try_into()?;
        Ok(DhSession {
            path,
            key: keypair.shared_key(&peer)?,
        })
    }

    /// The secrets of `items` in one call, by item. An item the service left out of its answer
    /// (one locked meanwhile) is not in the map.
    pub(super) async fn get_secrets(
        &self,
        conn: &zbus::Connection,
        items: &[OwnedObjectPath],
    ) -> Result<HashMap<OwnedObjectPath, Result<Vec<u8>, Error>>, Error> {
        let paths: Vec<ObjectPath<'_>> = items.iter().map(|p| p.as_ref()).collect();
        let reply = conn
            .call_method(
                Some(DESTINATION),
                SERVICE_PATH,
                Some(SERVICE),
                "GetSecrets",
                &(paths, self.path.as_ref()),
            )
            .await?;
        let secrets: HashMap<OwnedObjectPath, WireSecret> = reply.body().deserialize()?;
        Ok(secrets
            .into_iter()
            .map(|(item, secret)| (item, self.open_secret(secret)))
            .collect())
    }

    /// The secret of one item (`Item.GetSecret`, as the keyring crate reads it).
    pub(super) async fn get_secret(
        &self,
        conn: &zbus::Connection,
        item: &OwnedObjectPath,
    ) -> Result<Vec<u8>, Error> {
        let reply = conn
            .call_method(
                Some(DESTINATION),
                item.as_ref(),
                Some(ITEM),
                "GetSecret",
                &(self.path.as_ref(),),
            )
            .await?;
        let (secret,): (WireSecret,) = reply.body().deserialize()?;
        self.open_secret(secret)
    }

    fn open_secret(&self, (_, parameters, value, _): WireSecret) -> Result<Vec<u8>, Error> {
        decrypt(&self.key, &parameters, &value)
    }
}

/// AES-128-CBC with PKCS#7 padding, the IV given by the secret's parameters.
fn decrypt(key: &[u8; 16], iv: &[u8], value: &[u8]) -> Result<Vec<u8>, Error> {
    use aes::cipher::block_padding::Pkcs7;
    use aes::cipher::{BlockModeDecrypt, KeyIvInit};

    let iv: &[u8; 16] = iv
        .try_into()
        .map_err(|_| Error::Crypto("secret has an invalid initialization vector"))?;
    cbc::Decryptor::<aes::Aes128>::new(key.into(), iv.into())
        .decrypt_padded_vec::<Pkcs7>(value)
        .map_err(|_| Error::Crypto("message decryption failed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encrypt(key: &[u8; 16], iv: &[u8; 16], data: &[u8]) -> Vec<u8> {
        use aes::cipher::block_padding::Pkcs7;
        use aes::cipher::{BlockModeEncrypt, KeyIvInit};
        cbc::Encryptor::<aes::Aes128>::new(key.into(), iv.into()).encrypt_padded_vec::<Pkcs7>(data)
    }

    #[test]
    fn both_sides_derive_the_same_key_and_a_secret_comes_back() {
        let ours = Keypair::generate().unwrap();
        let theirs = Keypair::from_private(&[0x5a; 128]);
        let key = ours.shared_key(&theirs.public.to_bytes_be()).unwrap();
        assert_eq!(
            *key,
            *theirs.shared_key(&ours.public.to_bytes_be()).unwrap()
        );
        let iv = [7u8; 16];
        for secret in [
            "",
            "x",
            "sixteen bytes...",
            "ünïcödé and a longer value, 40 bytes",
        ] {
            let sealed = encrypt(&key, &iv, secret.as_bytes());
            assert_eq!(decrypt(&key, &iv, &sealed).unwrap(), secret.as_bytes());
        }
        let sealed = encrypt(&key, &iv, b"value");
        assert!(decrypt(&key, &iv[..8], &sealed).is_err());
        let mut other = *key;
        other[0] ^= 1;
        assert_ne!(
            decrypt(&other, &iv, &sealed).ok().as_deref(),
            Some(&b"value"[..])
        );
    }

    #[test]
    fn the_key_is_hkdf_sha256_of_the_padded_shared_value() {
        // A private exponent of 1 makes the shared value the peer's public value itself.
        let one = Keypair::from_private(&[1]);
        let mut peer = [0u8; 128];
        peer[127] = 5;
        let key = one.shared_key(&peer).unwrap();
        let mut expected = [0u8; 16];
        hkdf::Hkdf::<sha2::Sha256>::new(None, &peer)
            .expand(&[], &mut expected)
            .unwrap();
        assert_eq!(*key, expected);
    }

    #[test]
    fn a_degenerate_public_key_is_refused() {
        let ours = Keypair::generate().unwrap();
        let p_minus_one = (prime() - BigUint::from(1u32)).to_bytes_be();
        for bad in [&[0u8][..], &[1u8][..], &p_minus_one[..], &PRIME[..]] {
            assert!(ours.shared_key(bad).is_err());
        }
        assert!(ours.shared_key(&[2u8]).is_ok());
    }
}

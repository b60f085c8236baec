//! Random secrets and their storage form.
//!
//! Codes, session ids, refresh tokens and client secrets carry 256 bits of entropy, so a
//! fast SHA-256 is the right storage hash (a password hash would only cost CPU): the
//! database holds `hash(secret)`, the secret itself exists only in the response.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// 32 random bytes, base64url: an opaque bearer secret.
pub fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// 16 random bytes, base64url: an identifier that need not be secret but must not collide.
pub fn new_id() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<16>())
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The system RNG failing is not something a request can cause or recover from.
    #[allow(clippy::expect_used)]
    aws_lc_rs::rand::fill(&mut buf).expect("system random number generator");
    buf
}

/// The storage form of a high-entropy secret: base64url(SHA-256(secret)).
pub fn hash_token(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

/// base64url(SHA-256(bytes)): also the form of PKCE S256 challenges.
pub fn sha256_b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// A password that a person can type from a printed notice: no 0/O, 1/l/I.
pub fn new_initial_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    random_bytes::<14>()
        .iter()
        // 256 % 56 != 0 gives a slight bias; 14 characters keep > 80 bits regardless.
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_distinct_and_urlsafe() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn token_hash_is_stable_and_not_the_token() {
        let t = new_token();
        assert_eq!(hash_token(&t), hash_token(&t));
        assert_ne!(hash_token(&t), t);
    }

    #[test]
    fn sha256_b64_matches_an_independently_computed_vector() {
        assert_eq!(
            sha256_b64(b"uec-idp-test-verifier-0123456789abcdefghijk"),
            "ubbNRPUvWBcg6vGDcQPx3dOfj2YHGJwQduxdYWct50k"
        );
    }
}

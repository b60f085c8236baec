//! Proof Key for Code Exchange (RFC 7636), S256 only: `plain` gives no protection when
//! the challenge leaks, and every current client can do S256.

use crate::secrets::{constant_time_eq, sha256_b64};

/// RFC 7636 §4.1: 43-128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
/// A challenge has the same alphabet, and an S256 challenge is exactly 43 characters.
pub fn is_well_formed(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~'))
}

/// RFC 7636 §4.6: `BASE64URL(SHA256(code_verifier)) == code_challenge`, compared in
/// constant time.
pub fn verify_s256(verifier: &str, challenge: &str) -> bool {
    is_well_formed(verifier) && constant_time_eq(&sha256_b64(verifier.as_bytes()), challenge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_an_independently_computed_vector() {
        let verifier = "uec-idp-test-verifier-0123456789abcdefghijk";
        let challenge = "ubbNRPUvWBcg6vGDcQPx3dOfj2YHGJwQduxdYWct50k";
        assert!(verify_s256(verifier, challenge));
        assert!(!verify_s256(
            "uec-idp-test-verifier-0123456789abcdefghijl",
            challenge
        ));
    }

    #[test]
    fn malformed_verifiers_are_refused() {
        assert!(!is_well_formed("short"));
        assert!(!is_well_formed(&"a".repeat(129)));
        assert!(!is_well_formed(&format!("{}+", "a".repeat(43))));
        assert!(is_well_formed(&"a~.-_".repeat(9)));
    }
}

//! DPoP proofs (RFC 9449 §4): a JWT signed with the client's own key, carried in the `DPoP`
//! header, that ties a request (method, URL, time, and at a resource the access token) to
//! that key. This module checks one proof on its own; remembering `jti`s against replay
//! and issuing nonces need the database and the server secret (`services::dpop`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::ThumbprintHash;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub const PROOF_TYPE: &str = "dpop+jwt";

/// Asymmetric algorithms accepted for proofs (advertised as
/// `dpop_signing_alg_values_supported`). `none` and MACs are never accepted (§4.3 item 6).
pub const SIGNING_ALGS: [&str; 5] = ["ES256", "ES384", "EdDSA", "RS256", "PS256"];

/// A proof that passed every check this module can make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedProof {
    /// RFC 7638 SHA-256 thumbprint of the proof key: what tokens are bound to (`cnf.jkt`).
    pub jkt: String,
    pub jti: String,
    pub iat: i64,
    pub nonce: Option<String>,
}

/// What the request the proof came with looked like.
pub struct Expected<'a> {
    pub method: &'a str,
    /// The endpoint's URL without query or fragment.
    pub url: &'a str,
    /// At a resource: the access token presented with the proof (checked against `ath`).
    pub access_token: Option<&'a str>,
    pub now: i64,
    /// How far `iat` may be from `now`, either way (clock skew plus transit).
    pub max_skew: i64,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// `invalid_dpop_proof`; the text goes to the client.
    #[error("{0}")]
    Invalid(&'static str),
}

#[derive(Deserialize)]
struct ProofClaims {
    jti: Option<String>,
    htm: Option<String>,
    htu: Option<String>,
    iat: Option<i64>,
    ath: Option<String>,
    nonce: Option<String>,
}

/// Checks header (`typ`, asymmetric `alg`, a public `jwk`), signature, `htm`, `htu`, `iat`
/// window, a present `jti`, and `ath` when an access token is presented.
pub fn verify(proof: &str, expected: &Expected<'_>) -> Result<VerifiedProof, ProofError> {
    let invalid = ProofError::Invalid;
    let header = jsonwebtoken::decode_header(proof).map_err(|_| invalid("malformed DPoP proof"))?;
    if header.typ.as_deref() != Some(PROOF_TYPE) {
        return Err(invalid("the DPoP proof must have typ dpop+jwt"));
    }
    let alg = header.alg;
    if !matches!(
        alg,
        Algorithm::ES256
            | Algorithm::ES384
            | Algorithm::EdDSA
            | Algorithm::RS256
            | Algorithm::PS256
    ) {
        return Err(invalid("the DPoP proof algorithm is not supported"));
    }
    if jwk_has_private_part(proof) {
        return Err(invalid("the DPoP proof jwk must be a public key"));
    }
    let jwk = header
        .jwk
        .ok_or(invalid("the DPoP proof has no jwk header"))?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| invalid("the DPoP proof jwk is unusable"))?;
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<ProofClaims>(proof, &key, &validation)
        .map_err(|_| invalid("the DPoP proof signature is invalid"))?
        .claims;
    let jti = claims
        .jti
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or(invalid("the DPoP proof has no usable jti"))?;
    if claims.htm.as_deref() != Some(expected.method) {
        return Err(invalid(
            "the DPoP proof htm does not match the request method",
        ));
    }
    let htu = claims.htu.ok_or(invalid("the DPoP proof has no htu"))?;
    if !same_target(&htu, expected.url) {
        return Err(invalid("the DPoP proof htu does not match the request URL"));
    }
    let iat = claims.iat.ok_or(invalid("the DPoP proof has no iat"))?;
    // abs_diff: a hostile iat near i64::MIN or MAX must not overflow the subtraction.
    if iat.abs_diff(expected.now) > expected.max_skew.unsigned_abs() {
        return Err(invalid("the DPoP proof is too old or from the future"));
    }
    if let Some(token) = expected.access_token
        && claims.ath.as_deref() != Some(access_token_hash(token).as_str())
    {
        return Err(invalid(
            "the DPoP proof ath does not match the access token",
        ));
    }
    let jkt = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|_| invalid("the DPoP proof jwk is unusable"))?;
    Ok(VerifiedProof {
        jkt,
        jti,
        iat,
        nonce: claims.nonce,
    })
}

/// `ath`: base64url(SHA-256(access token)) (§4.2).
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// §4.3 item 9: `htu` is compared without query and fragment; scheme and host are
/// case-insensitive, so both sides are normalised by the URL parser.
fn same_target(htu: &str, expected: &str) -> bool {
    let strip = |raw: &str| {
        url::Url::parse(raw).ok().map(|mut u| {
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        })
    };
    matches!((strip(htu), strip(expected)), (Some(a), Some(b)) if a == b)
}

/// The header's `jwk` must not carry a private key (`d`, or RSA's `p`, `q`, ...).
fn jwk_has_private_part(proof: &str) -> bool {
    let Some(raw) = proof.split('.').next() else {
        return true;
    };
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(raw) else {
        return true;
    };
    let Ok(header) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return true;
    };
    let jwk = &header["jwk"];
    ["d", "p", "q", "dp", "dq", "qi", "k"]
        .iter()
        .any(|k| jwk.get(k).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::dpop_key::DpopKey as TestKey;

    fn expected(now: i64) -> Expected<'static> {
        Expected {
            method: "POST",
            url: "https://idp.example/token",
            access_token: None,
            now,
            max_skew: 60,
        }
    }

    #[test]
    fn a_right_proof_passes_and_names_its_key() {
        let key = TestKey::generate();
        let proof = key.proof("POST", "https://idp.example/token", 1000, None, None);
        let ok = verify(&proof, &expected(1000)).unwrap();
        assert_eq!(ok.jkt, key.thumbprint());
        assert_eq!(ok.iat, 1000);
    }

    #[test]
    fn method_url_time_and_ath_are_checked() {
        let key = TestKey::generate();
        let wrong_method = key.proof("GET", "https://idp.example/token", 1000, None, None);
        assert!(verify(&wrong_method, &expected(1000)).is_err());
        let wrong_url = key.proof("POST", "https://idp.example/userinfo", 1000, None, None);
        assert!(verify(&wrong_url, &expected(1000)).is_err());
        let with_query = key.proof("POST", "https://IDP.example/token?x=1", 1000, None, None);
        assert!(verify(&with_query, &expected(1000)).is_ok());
        let stale = key.proof("POST", "https://idp.example/token", 1000, None, None);
        assert!(verify(&stale, &expected(1061)).is_err());
        assert!(verify(&stale, &expected(939)).is_err());
        let resource = Expected {
            access_token: Some("tok"),
            ..expected(1000)
        };
        let no_ath = key.proof("POST", "https://idp.example/token", 1000, None, None);
        assert!(verify(&no_ath, &resource).is_err());
        let ath = access_token_hash("tok");
        let good = key.proof("POST", "https://idp.example/token", 1000, Some(&ath), None);
        assert!(verify(&good, &resource).is_ok());
    }

    #[test]
    fn an_extreme_iat_is_refused_without_overflow() {
        // `(iat - now).abs()` overflowed (a panic in debug builds) for these.
        let key = TestKey::generate();
        for iat in [i64::MIN, i64::MIN + 1, i64::MAX] {
            let proof = key.proof("POST", "https://idp.example/token", iat, None, None);
            assert!(verify(&proof, &expected(1000)).is_err(), "iat {iat}");
        }
    }

    #[test]
    fn a_tampered_proof_fails() {
        let key = TestKey::generate();
        let proof = key.proof("POST", "https://idp.example/token", 1000, None, None);
        let mut parts: Vec<&str> = proof.split('.').collect();
        let other = key.proof("POST", "https://idp.example/token", 1001, None, None);
        let other_claims = other.split('.').nth(1).unwrap().to_string();
        parts[1] = &other_claims;
        assert!(verify(&parts.join("."), &expected(1000)).is_err());
    }
}

//! The client's side of DPoP: a P-256 key pair and the proofs it signs. The provider never
//! holds one; it is here for the relying-party code in tests and benchmarks (and for anyone
//! scripting against the provider), so that they prove possession exactly as RFC 9449 says.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::oidc::dpop::PROOF_TYPE;

pub struct DpopKey {
    encoding: EncodingKey,
    jwk: Jwk,
}

impl DpopKey {
    /// A fresh ES256 key. Panics only if the system's random source fails.
    #[allow(clippy::expect_used)]
    pub fn generate() -> DpopKey {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("P-256 key");
        let pkcs8 = pair.to_pkcs8v1().expect("PKCS#8 encoding");
        // An uncompressed point: 0x04 ‖ x ‖ y, 32 bytes each.
        let point = pair.public_key().as_ref();
        let jwk: Jwk = serde_json::from_value(json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        }))
        .expect("EC JWK");
        DpopKey {
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk,
        }
    }

    /// The RFC 7638 thumbprint that tokens bound to this key carry as `cnf.jkt`.
    #[allow(clippy::expect_used)]
    pub fn thumbprint(&self) -> String {
        self.jwk
            .thumbprint(ThumbprintHash::SHA256)
            .expect("EC thumbprint")
    }

    /// A proof for one request; `ath` (see `dpop::access_token_hash`) at a resource,
    /// `nonce` when the server asked for one. Each proof has a fresh `jti`.
    #[allow(clippy::expect_used)]
    pub fn proof(
        &self,
        htm: &str,
        htu: &str,
        iat: i64,
        ath: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(PROOF_TYPE.into());
        header.jwk = Some(self.jwk.clone());
        let mut claims = json!({
            "jti": crate::secrets::new_id(),
            "htm": htm,
            "htu": htu,
            "iat": iat,
        });
        if let Some(ath) = ath {
            claims["ath"] = json!(ath);
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        jsonwebtoken::encode(&header, &claims, &self.encoding).expect("ES256 signing")
    }
}

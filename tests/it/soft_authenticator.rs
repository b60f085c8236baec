//! A software WebAuthn authenticator and browser for integration tests.
//!
//! It reads the options JSON the server sends to the browser and returns the JSON the browser
//! script would POST back, so tests drive the real server code without a browser. "none"
//! attestation, ES256 keys from aws-lc-rs, credentials discoverable and marked as synced passkeys
//! (backup eligible and backed up), counter incremented on every use like a hardware key.

use aws_lc_rs::rand::{self, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_BE: u8 = 0x08;
const FLAG_BS: u8 = 0x10;
const FLAG_AT: u8 = 0x40;

/// COSE: kty EC2, alg ES256, crv P-256.
const COSE_KTY_EC2: i64 = 2;
const COSE_ALG_ES256: i64 = -7;
const COSE_CRV_P256: i64 = 1;

/// One credential this authenticator holds.
struct SoftCredential {
    id: Vec<u8>,
    key: EcdsaKeyPair,
    rp_id: String,
    user_handle: Vec<u8>,
    sign_count: u32,
}

pub struct SoftAuthenticator {
    credentials: Vec<SoftCredential>,
    user_verified: bool,
}

impl SoftAuthenticator {
    /// An authenticator that verifies the user (UV flag set).
    pub fn new() -> Self {
        SoftAuthenticator {
            credentials: Vec::new(),
            user_verified: true,
        }
    }

    /// User presence only: the UV flag is clear.
    pub fn without_user_verification() -> Self {
        SoftAuthenticator {
            credentials: Vec::new(),
            user_verified: false,
        }
    }

    /// Turns user verification on or off for later ceremonies, e.g. a registered passkey whose
    /// PIN prompt is skipped.
    pub fn set_user_verification(&mut self, verified: bool) {
        self.user_verified = verified;
    }

    /// Creates a credential for `navigator.credentials.create(options)`; panics where a browser
    /// would throw (see [`Self::try_register`]).
    pub fn register(&mut self, options_json: &str, origin: &str) -> String {
        self.try_register(options_json, origin)
            .expect("registration refused")
    }

    /// As [`Self::register`], but an `Err` with the DOMException name where a browser would throw:
    /// "InvalidStateError" if this authenticator holds a credential the options exclude.
    pub fn try_register(&mut self, options_json: &str, origin: &str) -> Result<String, String> {
        let options = public_key(options_json);
        let rp_id = options["rp"]["id"].as_str().expect("rp.id").to_owned();
        if self.holds_any(&rp_id, &credential_ids(&options["excludeCredentials"])) {
            return Err("InvalidStateError".into());
        }
        let credential = SoftCredential {
            id: random_bytes(16),
            key: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("key pair"),
            rp_id,
            user_handle: b64_decode(options["user"]["id"].as_str().expect("user.id")),
            sign_count: 1,
        };
        let client_data = client_data("webauthn.create", &options, origin);
        let attested = attested_credential_data(&credential);
        let auth_data = authenticator_data(&credential, self.user_verified, FLAG_AT, &attested);
        let attestation_object = attestation_object(&auth_data);
        let answer = json!({
            "id": b64(&credential.id),
            "rawId": b64(&credential.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&client_data),
                "attestationObject": b64(&attestation_object),
                "transports": ["internal"],
            },
            "extensions": { "credProps": { "rk": true } },
        });
        self.credentials.push(credential);
        Ok(answer.to_string())
    }

    /// Answers `navigator.credentials.get(options)`: with an allow-list, the first listed
    /// credential held here; without, the first credential for the rp id (it is discoverable).
    /// Panics ("NotAllowedError") if there is none.
    pub fn sign_in(&mut self, options_json: &str, origin: &str) -> String {
        let options = public_key(options_json);
        let rp_id = options["rpId"].as_str().expect("rpId").to_owned();
        let allowed = credential_ids(&options["allowCredentials"]);
        let user_verified = self.user_verified;
        let credential = self
            .credentials
            .iter_mut()
            .find(|c| c.rp_id == rp_id && (allowed.is_empty() || allowed.contains(&c.id)))
            .expect("NotAllowedError: no credential for this request");
        credential.sign_count += 1;
        let client_data = client_data("webauthn.get", &options, origin);
        let auth_data = authenticator_data(credential, user_verified, 0, &[]);
        let signed = [
            auth_data.as_slice(),
            Sha256::digest(&client_data).as_slice(),
        ]
        .concat();
        let signature = credential
            .key
            .sign(&SystemRandom::new(), &signed)
            .expect("signature");
        json!({
            "id": b64(&credential.id),
            "rawId": b64(&credential.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&client_data),
                "authenticatorData": b64(&auth_data),
                "signature": b64(signature.as_ref()),
                "userHandle": b64(&credential.user_handle),
            },
            "extensions": {},
        })
        .to_string()
    }

    fn holds_any(&self, rp_id: &str, ids: &[Vec<u8>]) -> bool {
        self.credentials
            .iter()
            .any(|c| c.rp_id == rp_id && ids.contains(&c.id))
    }
}

/// rpIdHash ‖ flags ‖ signCount (big-endian) ‖ attested credential data (registration only).
fn authenticator_data(
    credential: &SoftCredential,
    user_verified: bool,
    extra_flags: u8,
    attested: &[u8],
) -> Vec<u8> {
    let uv = if user_verified { FLAG_UV } else { 0 };
    let flags = FLAG_UP | uv | FLAG_BE | FLAG_BS | extra_flags;
    let mut data = Sha256::digest(credential.rp_id.as_bytes()).to_vec();
    data.push(flags);
    data.extend_from_slice(&credential.sign_count.to_be_bytes());
    data.extend_from_slice(attested);
    data
}

/// aaguid (zero: no attestation) ‖ credential id length ‖ credential id ‖ COSE public key.
fn attested_credential_data(credential: &SoftCredential) -> Vec<u8> {
    let mut data = vec![0u8; 16];
    let id_len = u16::try_from(credential.id.len()).expect("short credential id");
    data.extend_from_slice(&id_len.to_be_bytes());
    data.extend_from_slice(&credential.id);
    data.extend_from_slice(&cose_key(credential.key.public_key().as_ref()));
    data
}

/// COSE_Key for an uncompressed P-256 point (0x04 ‖ x ‖ y).
fn cose_key(point: &[u8]) -> Vec<u8> {
    let (x, y) = point[1..].split_at(32);
    let key = Cbor::Map(vec![
        (Cbor::Int(1), Cbor::Int(COSE_KTY_EC2)),
        (Cbor::Int(3), Cbor::Int(COSE_ALG_ES256)),
        (Cbor::Int(-1), Cbor::Int(COSE_CRV_P256)),
        (Cbor::Int(-2), Cbor::Bytes(x)),
        (Cbor::Int(-3), Cbor::Bytes(y)),
    ]);
    key.to_vec()
}

/// {"fmt": "none", "attStmt": {}, "authData": …}
fn attestation_object(auth_data: &[u8]) -> Vec<u8> {
    Cbor::Map(vec![
        (Cbor::Text("fmt"), Cbor::Text("none")),
        (Cbor::Text("attStmt"), Cbor::Map(Vec::new())),
        (Cbor::Text("authData"), Cbor::Bytes(auth_data)),
    ])
    .to_vec()
}

/// The client data a browser collects; the challenge is echoed exactly as the server sent it.
fn client_data(kind: &str, options: &Value, origin: &str) -> Vec<u8> {
    let challenge = options["challenge"].as_str().expect("challenge");
    json!({ "type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false })
        .to_string()
        .into_bytes()
}

/// The `publicKey` member of the options the server sent.
fn public_key(options_json: &str) -> Value {
    let mut options: Value = serde_json::from_str(options_json).expect("options json");
    options["publicKey"].take()
}

/// Ids of a list of credential descriptors (absent = empty).
fn credential_ids(descriptors: &Value) -> Vec<Vec<u8>> {
    let descriptors = descriptors
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    descriptors
        .iter()
        .map(|d| b64_decode(d["id"].as_str().expect("descriptor id")))
        .collect()
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rand::fill(&mut bytes).expect("random bytes");
    bytes
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn b64_decode(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

/// The few CBOR items WebAuthn needs, written in the order given (callers pass CTAP's canonical
/// order).
enum Cbor<'a> {
    Int(i64),
    Bytes(&'a [u8]),
    Text(&'a str),
    Map(Vec<(Cbor<'a>, Cbor<'a>)>),
}

impl Cbor<'_> {
    fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Cbor::Int(n) if *n >= 0 => head(out, 0, n.unsigned_abs()),
            Cbor::Int(n) => head(out, 1, (-1 - n).unsigned_abs()),
            Cbor::Bytes(b) => {
                head(out, 2, b.len() as u64);
                out.extend_from_slice(b);
            }
            Cbor::Text(t) => {
                head(out, 3, t.len() as u64);
                out.extend_from_slice(t.as_bytes());
            }
            Cbor::Map(entries) => {
                head(out, 5, entries.len() as u64);
                for (key, value) in entries {
                    key.write(out);
                    value.write(out);
                }
            }
        }
    }
}

/// A CBOR initial byte (major type, shortest length form) and its argument.
fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let major = major << 5;
    match n {
        0..=23 => out.push(major | n as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, n as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

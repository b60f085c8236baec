//! The provider's signing keys: the PKCS#8 PEM files in `keys_dir`, their generation and
//! rotation, JWS signing with the current key of each algorithm, the verification keys of
//! every published key, and the pre-serialised JWKS document.
//!
//! Files are named `<alg>-<created unix seconds>-<8 random hex>.pem` (`rs256` or `es256`).
//! Per algorithm the newest key signs; an older key stays published while its successor is
//! younger than the retention period (tokens it signed may still be live), after which it is
//! neither loaded nor published and [`KeySet::rotate`] deletes it. Any other file in the
//! directory (README, `.gitignore`, temporary files starting with `.`) is ignored.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
    RsaPublicKeyComponents,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::DecodingKey;
use sha2::{Digest, Sha256};

/// A JWS algorithm the provider signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 over a 2048-bit key (mandatory in OpenID Connect).
    RS256,
    /// ECDSA on P-256 with SHA-256 (much cheaper to sign).
    ES256,
}

impl SigningAlg {
    const ALL: [SigningAlg; 2] = [SigningAlg::RS256, SigningAlg::ES256];

    /// The JOSE name: `"RS256"` or `"ES256"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "RS256",
            SigningAlg::ES256 => "ES256",
        }
    }

    /// Parses the JOSE name (`"RS256"` / `"ES256"`, case-sensitive).
    pub fn parse(s: &str) -> Option<SigningAlg> {
        match s {
            "RS256" => Some(SigningAlg::RS256),
            "ES256" => Some(SigningAlg::ES256),
            _ => None,
        }
    }

    /// The lower-case prefix of this algorithm's key file names.
    fn file_prefix(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "rs256",
            SigningAlg::ES256 => "es256",
        }
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the keys could not be loaded, generated, rotated or used. Each message is one line
/// naming the file or directory concerned.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key directory could not be listed.
    #[error("cannot read key directory {}: {err}", dir.display())]
    ReadDir { dir: PathBuf, err: io::Error },
    /// The key directory did not exist and could not be created.
    #[error("cannot create key directory {}: {err}", dir.display())]
    CreateDir { dir: PathBuf, err: io::Error },
    /// A key file could not be read.
    #[error("cannot read key file {}: {err}", file.display())]
    ReadFile { file: PathBuf, err: io::Error },
    /// A new key file could not be written.
    #[error("cannot write key file {}: {err}", file.display())]
    WriteFile { file: PathBuf, err: io::Error },
    /// A key file that is no longer published could not be deleted.
    #[error("cannot delete key file {}: {err}", file.display())]
    DeleteFile { file: PathBuf, err: io::Error },
    /// A file looks like a key file (`rs256-…pem` / `es256-…pem`) but its name is malformed.
    #[error(
        "key file name {} does not match <alg>-<created unix seconds>-<8 hex digits>.pem",
        file.display()
    )]
    BadFileName { file: PathBuf },
    /// A key file does not hold a usable private key for the algorithm in its name.
    #[error("invalid key file {}: {reason}", file.display())]
    InvalidKey { file: PathBuf, reason: String },
    /// The directory holds no key for an algorithm (and generation was not asked for).
    #[error(
        "no {alg} key in key directory {} (expected a file {}-<created>-<hex>.pem)",
        dir.display(),
        alg.file_prefix()
    )]
    NoKey { dir: PathBuf, alg: SigningAlg },
    /// Key generation failed in the crypto library.
    #[error("cannot generate a new {alg} key: {reason}")]
    Generate { alg: SigningAlg, reason: String },
    /// A token could not be signed.
    #[error("cannot sign a {alg} token: {reason}")]
    Sign { alg: SigningAlg, reason: String },
}

/// The private half of a loaded key, parsed once so that signing does not re-parse PKCS#8.
enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// The current signing key of one algorithm.
struct SigningKey {
    kid: String,
    signer: Signer,
}

/// A published key: verification half and metadata.
struct PublishedKey {
    alg: SigningAlg,
    kid: String,
    created: i64,
    jwk: Jwk,
    decoding: DecodingKey,
}

/// The loaded signing keys: the current key of each algorithm, every published verification
/// key and the JWKS document. Immutable; reload (or [`KeySet::rotate`] then reload) to change.
pub struct KeySet {
    rs256: SigningKey,
    es256: SigningKey,
    /// Newest first.
    published: Vec<PublishedKey>,
    jwks_json: String,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("rs256_kid", &self.rs256.kid)
            .field("es256_kid", &self.es256.kid)
            .field("published", &self.published())
            .finish_non_exhaustive()
    }
}

impl KeySet {
    /// Loads the keys in `dir`; generates an RS256 and/or ES256 key if that alg has none
    /// (creating `dir` if missing).
    pub fn load_or_generate(dir: &Path, retain_secs: i64, now: i64) -> Result<KeySet, KeyError> {
        if !dir.exists() {
            create_key_dir(dir)?;
        }
        let files = list_key_files(dir)?;
        for alg in SigningAlg::ALL {
            if !files.iter().any(|f| f.alg == alg) {
                generate_key_file(dir, alg, now)?;
            }
        }
        KeySet::load(dir, retain_secs, now)
    }

    /// Loads without generating; an alg with no key is an error.
    pub fn load(dir: &Path, retain_secs: i64, now: i64) -> Result<KeySet, KeyError> {
        let files = list_key_files(dir)?;
        let (rs256, mut published) = load_alg(dir, &files, SigningAlg::RS256, retain_secs, now)?;
        let (es256, es256_published) = load_alg(dir, &files, SigningAlg::ES256, retain_secs, now)?;
        published.extend(es256_published);
        // Newest first across algorithms; stable, so RS256 before ES256 on equal times.
        published.sort_by_key(|k| std::cmp::Reverse(k.created));
        let jwks_json = jwks_document(&published);
        Ok(KeySet {
            rs256,
            es256,
            published,
            jwks_json,
        })
    }

    /// Adds a new RS256 and a new ES256 key (they sign from now on); deletes keys no longer
    /// published. Returns the new (alg, kid)s.
    ///
    /// A new key is dated `now`, or one second after the newest existing key of its alg if
    /// that is later, so that it is always the one that signs.
    pub fn rotate(
        dir: &Path,
        retain_secs: i64,
        now: i64,
    ) -> Result<Vec<(SigningAlg, String)>, KeyError> {
        if !dir.exists() {
            create_key_dir(dir)?;
        }
        let before = list_key_files(dir)?;
        let mut added = Vec::with_capacity(2);
        for alg in SigningAlg::ALL {
            let newest = before
                .iter()
                .filter(|f| f.alg == alg)
                .map(|f| f.created)
                .max();
            let created = match newest {
                Some(t) if t >= now => t.saturating_add(1),
                _ => now,
            };
            let kid = generate_key_file(dir, alg, created)?;
            added.push((alg, kid));
        }
        let files = list_key_files(dir)?;
        for alg in SigningAlg::ALL {
            let keep = published_files(&files, alg, retain_secs, now);
            for f in files.iter().filter(|f| f.alg == alg) {
                if !keep.iter().any(|k| k.path == f.path) {
                    fs::remove_file(&f.path).map_err(|err| KeyError::DeleteFile {
                        file: f.path.clone(),
                        err,
                    })?;
                }
            }
        }
        Ok(added)
    }

    /// Signs `claims` as a compact JWS with header {alg, typ, kid} using the current key of
    /// `alg`.
    pub fn sign<T: serde::Serialize>(
        &self,
        alg: SigningAlg,
        typ: &str,
        claims: &T,
    ) -> Result<String, KeyError> {
        #[derive(serde::Serialize)]
        struct Header<'a> {
            alg: &'static str,
            typ: &'a str,
            kid: &'a str,
        }
        let key = self.current(alg);
        let header = serde_json::to_vec(&Header {
            alg: alg.as_str(),
            typ,
            kid: &key.kid,
        })
        .map_err(|e| KeyError::Sign {
            alg,
            reason: format!("header: {e}"),
        })?;
        let payload = serde_json::to_vec(claims).map_err(|e| KeyError::Sign {
            alg,
            reason: format!("claims: {e}"),
        })?;

        let mut jws = String::with_capacity((header.len() + payload.len() + 256) * 4 / 3 + 4);
        URL_SAFE_NO_PAD.encode_string(&header, &mut jws);
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut jws);
        let signing_input = jws.as_bytes();
        // aws-lc ignores the rng argument (RSA PKCS#1 v1.5 is deterministic, ECDSA draws its
        // own nonce), so a fresh handle per call costs nothing.
        let rng = SystemRandom::new();
        match &key.signer {
            Signer::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign(&RSA_PKCS1_SHA256, &rng, signing_input, &mut sig)
                    .map_err(|e| KeyError::Sign {
                        alg,
                        reason: e.to_string(),
                    })?;
                jws.push('.');
                URL_SAFE_NO_PAD.encode_string(&sig, &mut jws);
            }
            Signer::Ec(kp) => {
                let sig = kp.sign(&rng, signing_input).map_err(|e| KeyError::Sign {
                    alg,
                    reason: e.to_string(),
                })?;
                jws.push('.');
                URL_SAFE_NO_PAD.encode_string(sig.as_ref(), &mut jws);
            }
        }
        Ok(jws)
    }

    /// kid of the current signing key of `alg`.
    pub fn signing_kid(&self, alg: SigningAlg) -> &str {
        &self.current(alg).kid
    }

    /// Pre-serialised {"keys":[...]} of every published key.
    pub fn jwks_json(&self) -> &str {
        &self.jwks_json
    }

    /// The verification key for a published kid (to verify the provider's own access tokens).
    pub fn decoding_key(&self, kid: &str) -> Option<(SigningAlg, &DecodingKey)> {
        self.published
            .iter()
            .find(|k| k.kid == kid)
            .map(|k| (k.alg, &k.decoding))
    }

    /// Every published (alg, kid, created_unix), newest first, for `uec-idp keys` output.
    pub fn published(&self) -> Vec<(SigningAlg, String, i64)> {
        self.published
            .iter()
            .map(|k| (k.alg, k.kid.clone(), k.created))
            .collect()
    }

    fn current(&self, alg: SigningAlg) -> &SigningKey {
        match alg {
            SigningAlg::RS256 => &self.rs256,
            SigningAlg::ES256 => &self.es256,
        }
    }
}

/// Parses the published keys of `alg`: its current signing key and every published key.
fn load_alg(
    dir: &Path,
    files: &[KeyFile],
    alg: SigningAlg,
    retain_secs: i64,
    now: i64,
) -> Result<(SigningKey, Vec<PublishedKey>), KeyError> {
    let chosen = published_files(files, alg, retain_secs, now);
    let Some((newest, older)) = chosen.split_first() else {
        return Err(KeyError::NoKey {
            dir: dir.to_path_buf(),
            alg,
        });
    };
    let (signer, public) = parse_key_file(&newest.path, alg)?;
    let current = SigningKey {
        kid: public.kid.clone(),
        signer,
    };
    let mut published = vec![public.into_published(newest.created)];
    for f in older {
        let (_, public) = parse_key_file(&f.path, alg)?;
        published.push(public.into_published(f.created));
    }
    Ok((current, published))
}

/// A key file found in the directory (name parsed, content not read yet).
#[derive(Debug)]
struct KeyFile {
    alg: SigningAlg,
    created: i64,
    path: PathBuf,
}

/// Lists the key files of `dir`, ignoring files that are not named like key files.
fn list_key_files(dir: &Path) -> Result<Vec<KeyFile>, KeyError> {
    let read_dir_err = |err| KeyError::ReadDir {
        dir: dir.to_path_buf(),
        err,
    };
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(read_dir_err)? {
        let entry = entry.map_err(read_dir_err)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = entry.path();
        if let Some((alg, created)) = parse_file_name(name, &path)? {
            files.push(KeyFile { alg, created, path });
        }
    }
    // Newest first; the name breaks ties so that every server picks the same key.
    files.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.path.cmp(&a.path)));
    Ok(files)
}

/// `Ok(None)` for files that are not key files at all; an error for `rs256-*.pem` /
/// `es256-*.pem` names that are malformed, so that a mistyped key is not silently skipped.
fn parse_file_name(name: &str, path: &Path) -> Result<Option<(SigningAlg, i64)>, KeyError> {
    let Some(stem) = name.strip_suffix(".pem") else {
        return Ok(None);
    };
    let Some((alg, rest)) = SigningAlg::ALL
        .iter()
        .find_map(|&alg| stem.strip_prefix(alg.file_prefix()).map(|rest| (alg, rest)))
    else {
        return Ok(None);
    };
    let bad = || KeyError::BadFileName {
        file: path.to_path_buf(),
    };
    let rest = rest.strip_prefix('-').ok_or_else(bad)?;
    let (created, random) = rest.split_once('-').ok_or_else(bad)?;
    let created_ok = !created.is_empty() && created.bytes().all(|b| b.is_ascii_digit());
    let random_ok = random.len() == 8 && random.bytes().all(|b| b.is_ascii_hexdigit());
    if !created_ok || !random_ok {
        return Err(bad());
    }
    let created = created.parse::<i64>().map_err(|_| bad())?;
    Ok(Some((alg, created)))
}

/// The files of `alg` that are published at `now`, newest (the signing key) first: the
/// newest, then each older one while its successor is younger than `retain_secs`.
fn published_files(
    files: &[KeyFile],
    alg: SigningAlg,
    retain_secs: i64,
    now: i64,
) -> Vec<&KeyFile> {
    let mut chosen: Vec<&KeyFile> = Vec::new();
    for f in files.iter().filter(|f| f.alg == alg) {
        if let Some(successor) = chosen.last()
            && now.saturating_sub(successor.created) >= retain_secs
        {
            break;
        }
        chosen.push(f);
    }
    chosen
}

/// The public half of a key: kid, JWK and verification key.
struct PublicJwk {
    alg: SigningAlg,
    kid: String,
    jwk: Jwk,
    decoding: DecodingKey,
}

/// One member of the JWKS, in the order the members are serialised.
#[derive(serde::Serialize)]
struct Jwk {
    kty: &'static str,
    #[serde(rename = "use")]
    use_: &'static str,
    alg: &'static str,
    kid: String,
    #[serde(flatten)]
    params: JwkParams,
}

#[derive(serde::Serialize)]
#[serde(untagged)]
enum JwkParams {
    Rsa {
        n: String,
        e: String,
    },
    Ec {
        crv: &'static str,
        x: String,
        y: String,
    },
}

impl PublicJwk {
    fn into_published(self, created: i64) -> PublishedKey {
        PublishedKey {
            alg: self.alg,
            kid: self.kid,
            created,
            jwk: self.jwk,
            decoding: self.decoding,
        }
    }

    fn rsa(kp: &RsaKeyPair) -> PublicJwk {
        let components = RsaPublicKeyComponents::<Vec<u8>>::from(kp.public_key());
        let (n, e) = (
            strip_leading_zeros(&components.n),
            strip_leading_zeros(&components.e),
        );
        let (n_b64, e_b64) = (URL_SAFE_NO_PAD.encode(n), URL_SAFE_NO_PAD.encode(e));
        // RFC 7638: the required members in lexicographic order, no whitespace.
        let kid = thumbprint(&format!(r#"{{"e":"{e_b64}","kty":"RSA","n":"{n_b64}"}}"#));
        let jwk = Jwk {
            kty: "RSA",
            use_: "sig",
            alg: "RS256",
            kid: kid.clone(),
            params: JwkParams::Rsa { n: n_b64, e: e_b64 },
        };
        let decoding = DecodingKey::from_rsa_raw_components(n, e);
        PublicJwk {
            alg: SigningAlg::RS256,
            kid,
            jwk,
            decoding,
        }
    }

    fn ec(kp: &EcdsaKeyPair) -> Option<PublicJwk> {
        let point = kp.public_key().as_ref();
        // Uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
        if point.len() != 65 || point[0] != 0x04 {
            return None;
        }
        let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
        let y = URL_SAFE_NO_PAD.encode(&point[33..]);
        let kid = thumbprint(&format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#
        ));
        let jwk = Jwk {
            kty: "EC",
            use_: "sig",
            alg: "ES256",
            kid: kid.clone(),
            params: JwkParams::Ec { crv: "P-256", x, y },
        };
        // With the aws-lc backend, an EC DecodingKey "DER" is the raw public point.
        let decoding = DecodingKey::from_ec_der(point);
        Some(PublicJwk {
            alg: SigningAlg::ES256,
            kid,
            jwk,
            decoding,
        })
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    &bytes[start..]
}

/// RFC 7638 JWK thumbprint (SHA-256, base64url without padding) of the canonical JSON.
fn thumbprint(canonical_json: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical_json.as_bytes()))
}

fn jwks_document(published: &[PublishedKey]) -> String {
    #[derive(serde::Serialize)]
    struct Jwks<'a> {
        keys: Vec<&'a Jwk>,
    }
    let jwks = Jwks {
        keys: published.iter().map(|k| &k.jwk).collect(),
    };
    // Serialising plain strings into a String cannot fail.
    serde_json::to_string(&jwks).unwrap_or_else(|_| String::from(r#"{"keys":[]}"#))
}

/// Reads and parses one key file as a private key of `alg`.
fn parse_key_file(path: &Path, alg: SigningAlg) -> Result<(Signer, PublicJwk), KeyError> {
    let pem = fs::read(path).map_err(|err| KeyError::ReadFile {
        file: path.to_path_buf(),
        err,
    })?;
    let invalid = |reason: String| KeyError::InvalidKey {
        file: path.to_path_buf(),
        reason,
    };
    let der = pem_to_pkcs8_der(&pem).map_err(invalid)?;
    match alg {
        SigningAlg::RS256 => {
            let kp = RsaKeyPair::from_pkcs8(&der).map_err(|e| {
                invalid(format!(
                    "not an RSA private key usable for RS256 (2048 to 8192 bits): {e}"
                ))
            })?;
            let jwk = PublicJwk::rsa(&kp);
            Ok((Signer::Rsa(kp), jwk))
        }
        SigningAlg::ES256 => {
            let kp =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der).map_err(|e| {
                    invalid(format!("not a P-256 EC private key usable for ES256: {e}"))
                })?;
            let jwk = PublicJwk::ec(&kp)
                .ok_or_else(|| invalid("unexpected P-256 public key encoding".to_string()))?;
            Ok((Signer::Ec(kp), jwk))
        }
    }
}

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

/// Extracts the DER of the first `PRIVATE KEY` (unencrypted PKCS#8) PEM block.
fn pem_to_pkcs8_der(pem: &[u8]) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(pem).map_err(|_| "not a PEM text file".to_string())?;
    let mut lines = text.lines().map(str::trim);
    let Some(begin) = lines.find(|l| l.starts_with("-----BEGIN ")) else {
        return Err(format!("no PEM block found (expected {PEM_BEGIN})"));
    };
    if begin != PEM_BEGIN {
        return Err(format!(
            "found {begin}, expected an unencrypted PKCS#8 key ({PEM_BEGIN}); \
             convert it with `openssl pkcs8 -topk8 -nocrypt`"
        ));
    }
    let mut b64 = String::with_capacity(text.len());
    for line in lines.by_ref() {
        if line == PEM_END {
            return STANDARD
                .decode(b64.as_bytes())
                .map_err(|e| format!("bad base64 in PEM: {e}"));
        }
        b64.push_str(line);
    }
    Err(format!("PEM block is not terminated by {PEM_END}"))
}

fn der_to_pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut pem = String::with_capacity(b64.len() + b64.len() / 64 + 64);
    pem.push_str(PEM_BEGIN);
    pem.push('\n');
    // Base64 output is ASCII, so splitting the bytes keeps valid UTF-8.
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str(PEM_END);
    pem.push('\n');
    pem
}

fn create_key_dir(dir: &Path) -> Result<(), KeyError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|err| KeyError::CreateDir {
            dir: dir.to_path_buf(),
            err,
        })
}

/// Generates a key of `alg`, writes it as `<alg>-<created>-<hex>.pem` (mode 0600) and returns
/// its kid.
fn generate_key_file(dir: &Path, alg: SigningAlg, created: i64) -> Result<String, KeyError> {
    let gen_err = |reason: String| KeyError::Generate { alg, reason };
    let (pkcs8, kid) = match alg {
        SigningAlg::RS256 => {
            let kp = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|e| gen_err(e.to_string()))?;
            let der = kp.as_der().map_err(|e| gen_err(e.to_string()))?;
            (der.as_ref().to_vec(), PublicJwk::rsa(&kp).kid)
        }
        SigningAlg::ES256 => {
            let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .map_err(|e| gen_err(e.to_string()))?;
            let doc = kp.to_pkcs8v1().map_err(|e| gen_err(e.to_string()))?;
            let jwk = PublicJwk::ec(&kp)
                .ok_or_else(|| gen_err("unexpected P-256 public key encoding".to_string()))?;
            (doc.as_ref().to_vec(), jwk.kid)
        }
    };
    let mut random = [0u8; 4];
    SystemRandom::new()
        .fill(&mut random)
        .map_err(|e| gen_err(e.to_string()))?;
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let name = format!("{}-{created}-{hex}.pem", alg.file_prefix());
    write_private_file(dir, &name, der_to_pem(&pkcs8).as_bytes())?;
    Ok(kid)
}

/// Writes `contents` to `dir/name` with mode 0600, atomically: a reader (another server
/// loading the directory) never sees a half-written key. The temporary name starts with `.`,
/// so the loader ignores it.
fn write_private_file(dir: &Path, name: &str, contents: &[u8]) -> Result<(), KeyError> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let result = (|| -> io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, &path)
    })();
    if let Err(err) = result {
        let _ = fs::remove_file(&tmp);
        return Err(KeyError::WriteFile { file: path, err });
    }
    // Best effort: make the rename durable; some filesystems refuse fsync on directories.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, EncodingKey, Header, Validation, decode, decode_header};
    use serde_json::{Value, json};
    use std::collections::HashSet;
    use std::os::unix::fs::PermissionsExt;

    const RETAIN: i64 = 3600;
    const T0: i64 = 1_700_000_000;

    fn key_files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".pem"))
            .collect();
        names.sort();
        names
    }

    fn jwks(ks: &KeySet) -> Value {
        serde_json::from_str(ks.jwks_json()).unwrap()
    }

    fn jwks_kids(ks: &KeySet) -> Vec<String> {
        jwks(ks)["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    }

    fn jwk_of<'a>(jwks: &'a Value, kid: &str) -> &'a Value {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .unwrap()
    }

    fn validation(alg: Algorithm) -> Validation {
        let mut v = Validation::new(alg);
        v.required_spec_claims = HashSet::new();
        v.validate_exp = false;
        v.validate_aud = false;
        v
    }

    /// Verifies `token` the way the provider verifies its own access tokens.
    fn verify(ks: &KeySet, token: &str) -> (Header, Value) {
        let header = decode_header(token).unwrap();
        let kid = header.kid.clone().unwrap();
        let (alg, key) = ks.decoding_key(&kid).unwrap();
        let jwt_alg = match alg {
            SigningAlg::RS256 => Algorithm::RS256,
            SigningAlg::ES256 => Algorithm::ES256,
        };
        let data = decode::<Value>(token, key, &validation(jwt_alg)).unwrap();
        (data.header, data.claims)
    }

    fn sign_then_verify(alg: SigningAlg, jwt_alg: Algorithm) {
        let dir = tempfile::tempdir().unwrap();
        let ks = KeySet::load_or_generate(dir.path(), RETAIN, T0).unwrap();
        let claims = json!({"iss": "https://idp.example", "sub": "u1", "n": 1});
        let token = ks.sign(alg, "at+jwt", &claims).unwrap();
        let (header, got) = verify(&ks, &token);
        assert_eq!(header.alg, jwt_alg);
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.kid.as_deref(), Some(ks.signing_kid(alg)));
        assert_eq!(got, claims);
        // A tampered payload must not verify.
        let mut parts: Vec<&str> = token.split('.').collect();
        let other = URL_SAFE_NO_PAD.encode(br#"{"sub":"admin"}"#);
        parts[1] = &other;
        let (_, key) = ks.decoding_key(ks.signing_kid(alg)).unwrap();
        assert!(decode::<Value>(parts.join("."), key, &validation(jwt_alg)).is_err());
    }

    #[test]
    fn generation_writes_0600_key_files_in_a_new_0700_directory() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("keys");
        let ks = KeySet::load_or_generate(&dir, RETAIN, T0).unwrap();
        let dir_mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
        let names = key_files(&dir);
        assert_eq!(names.len(), 2, "{names:?}");
        for name in &names {
            let mode = fs::metadata(dir.join(name)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name}");
            let text = fs::read_to_string(dir.join(name)).unwrap();
            assert!(text.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{name}");
        }
        assert!(names[0].starts_with(&format!("es256-{T0}-")), "{names:?}");
        assert!(names[1].starts_with(&format!("rs256-{T0}-")), "{names:?}");
        assert_eq!(ks.published().len(), 2);
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 2);
    }

    #[test]
    fn reload_gives_the_same_kids() {
        let dir = tempfile::tempdir().unwrap();
        let first = KeySet::load_or_generate(dir.path(), RETAIN, T0).unwrap();
        let again = KeySet::load_or_generate(dir.path(), RETAIN, T0 + 10).unwrap();
        let loaded = KeySet::load(dir.path(), RETAIN, T0 + 20).unwrap();
        assert_eq!(key_files(dir.path()).len(), 2, "reload must not generate");
        for alg in SigningAlg::ALL {
            assert_eq!(first.signing_kid(alg), again.signing_kid(alg));
            assert_eq!(first.signing_kid(alg), loaded.signing_kid(alg));
        }
        assert_ne!(
            first.signing_kid(SigningAlg::RS256),
            first.signing_kid(SigningAlg::ES256)
        );
        assert_eq!(first.jwks_json(), loaded.jwks_json());
    }

    #[test]
    fn rs256_token_verifies_with_the_published_decoding_key() {
        sign_then_verify(SigningAlg::RS256, Algorithm::RS256);
    }

    #[test]
    fn es256_token_verifies_with_the_published_decoding_key() {
        sign_then_verify(SigningAlg::ES256, Algorithm::ES256);
    }

    #[test]
    fn kid_is_the_rfc7638_thumbprint_of_the_published_jwk() {
        let dir = tempfile::tempdir().unwrap();
        let ks = KeySet::load_or_generate(dir.path(), RETAIN, T0).unwrap();
        let set = jwks(&ks);

        let ec = jwk_of(&set, ks.signing_kid(SigningAlg::ES256));
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            ec["x"].as_str().unwrap(),
            ec["y"].as_str().unwrap()
        );
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        assert_eq!(ks.signing_kid(SigningAlg::ES256), expected);

        let rsa = jwk_of(&set, ks.signing_kid(SigningAlg::RS256));
        let canonical = format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            rsa["e"].as_str().unwrap(),
            rsa["n"].as_str().unwrap()
        );
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        assert_eq!(ks.signing_kid(SigningAlg::RS256), expected);

        // Cross-check with jsonwebtoken's independent RFC 7638 implementation.
        for jwk in serde_json::from_str::<jsonwebtoken::jwk::JwkSet>(ks.jwks_json())
            .unwrap()
            .keys
        {
            let kid = jwk.common.key_id.clone().unwrap();
            assert_eq!(
                jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                    .unwrap(),
                kid
            );
        }
    }

    #[test]
    fn thumbprint_matches_the_rfc7638_example() {
        // RFC 7638 section 3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let canonical = format!(r#"{{"e":"AQAB","kty":"RSA","n":"{n}"}}"#);
        assert_eq!(
            thumbprint(&canonical),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn jwks_parses_as_json_with_the_expected_members() {
        let dir = tempfile::tempdir().unwrap();
        let ks = KeySet::load_or_generate(dir.path(), RETAIN, T0).unwrap();
        let set = jwks(&ks);
        let keys = set["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        for key in keys {
            let members: HashSet<&str> = key
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(key["use"], "sig");
            match key["kty"].as_str().unwrap() {
                "RSA" => {
                    assert_eq!(key["alg"], "RS256");
                    assert_eq!(
                        members,
                        HashSet::from(["kty", "use", "alg", "kid", "n", "e"])
                    );
                    assert_eq!(key["e"], "AQAB");
                    let n = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
                    assert_eq!(n.len(), 256, "2048-bit modulus without a leading zero");
                }
                "EC" => {
                    assert_eq!(key["alg"], "ES256");
                    assert_eq!(key["crv"], "P-256");
                    assert_eq!(
                        members,
                        HashSet::from(["kty", "use", "alg", "kid", "crv", "x", "y"])
                    );
                    for c in ["x", "y"] {
                        assert_eq!(
                            URL_SAFE_NO_PAD
                                .decode(key[c].as_str().unwrap())
                                .unwrap()
                                .len(),
                            32
                        );
                    }
                }
                other => panic!("unexpected kty {other}"),
            }
        }
    }

    #[test]
    fn relying_party_can_verify_tokens_with_the_published_jwks() {
        let dir = tempfile::tempdir().unwrap();
        let ks = KeySet::load_or_generate(dir.path(), RETAIN, T0).unwrap();
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(ks.jwks_json()).unwrap();
        for (alg, jwt_alg) in [
            (SigningAlg::RS256, Algorithm::RS256),
            (SigningAlg::ES256, Algorithm::ES256),
        ] {
            let token = ks.sign(alg, "JWT", &json!({"sub": "u1"})).unwrap();
            let kid = decode_header(&token).unwrap().kid.unwrap();
            let key = DecodingKey::from_jwk(set.find(&kid).unwrap()).unwrap();
            let data = decode::<Value>(&token, &key, &validation(jwt_alg)).unwrap();
            assert_eq!(data.claims["sub"], "u1");
        }
    }

    #[test]
    fn key_files_are_usable_by_jsonwebtoken_pem_constructors() {
        let dir = tempfile::tempdir().unwrap();
        let ks = KeySet::load_or_generate(dir.path(), RETAIN, T0).unwrap();
        for name in key_files(dir.path()) {
            let pem = fs::read(dir.path().join(&name)).unwrap();
            let (alg, jwt_alg, key) = if name.starts_with("rs256") {
                (
                    SigningAlg::RS256,
                    Algorithm::RS256,
                    EncodingKey::from_rsa_pem(&pem).unwrap(),
                )
            } else {
                (
                    SigningAlg::ES256,
                    Algorithm::ES256,
                    EncodingKey::from_ec_pem(&pem).unwrap(),
                )
            };
            let mut header = Header::new(jwt_alg);
            header.kid = Some(ks.signing_kid(alg).to_string());
            let token = jsonwebtoken::encode(&header, &json!({"sub": "u2"}), &key).unwrap();
            assert_eq!(verify(&ks, &token).1["sub"], "u2");
        }
    }

    #[test]
    fn rotated_out_key_stays_published_until_retention_ends() {
        let dir = tempfile::tempdir().unwrap();
        let old = KeySet::load_or_generate(dir.path(), RETAIN, T0).unwrap();
        let old_token = old
            .sign(SigningAlg::ES256, "at+jwt", &json!({"sub": "u1"}))
            .unwrap();

        let t1 = T0 + 86_400;
        let added = KeySet::rotate(dir.path(), RETAIN, t1).unwrap();
        assert_eq!(
            added.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
            SigningAlg::ALL
        );
        assert_eq!(key_files(dir.path()).len(), 4);

        // Within the retention window: the new keys sign, the old ones are still published.
        let ks = KeySet::load(dir.path(), RETAIN, t1 + RETAIN - 1).unwrap();
        for (alg, kid) in &added {
            assert_eq!(ks.signing_kid(*alg), kid);
            assert_ne!(ks.signing_kid(*alg), old.signing_kid(*alg));
            let token = ks.sign(*alg, "JWT", &json!({})).unwrap();
            assert_eq!(
                decode_header(&token).unwrap().kid.as_deref(),
                Some(kid.as_str())
            );
        }
        let kids = jwks_kids(&ks);
        assert_eq!(kids.len(), 4);
        assert_eq!(
            &kids[..2],
            &[added[0].1.clone(), added[1].1.clone()],
            "newest first"
        );
        for alg in SigningAlg::ALL {
            assert!(kids.contains(&old.signing_kid(alg).to_string()));
        }
        assert_eq!(verify(&ks, &old_token).1["sub"], "u1");
        let published = ks.published();
        assert_eq!(published.len(), 4);
        assert_eq!(published[0].2, t1);
        assert_eq!(
            published[3],
            (
                SigningAlg::ES256,
                old.signing_kid(SigningAlg::ES256).to_string(),
                T0
            )
        );

        // Once the successor is `retain_secs` old, the old keys are neither published nor usable.
        let later = KeySet::load(dir.path(), RETAIN, t1 + RETAIN).unwrap();
        assert_eq!(
            jwks_kids(&later),
            vec![added[0].1.clone(), added[1].1.clone()]
        );
        for alg in SigningAlg::ALL {
            assert!(later.decoding_key(old.signing_kid(alg)).is_none());
        }
        assert_eq!(key_files(dir.path()).len(), 4, "load never deletes");

        // A later rotation deletes them from disk and keeps the previous generation.
        let t2 = t1 + RETAIN;
        let newest = KeySet::rotate(dir.path(), RETAIN, t2).unwrap();
        let files = key_files(dir.path());
        assert_eq!(files.len(), 4, "{files:?}");
        assert!(
            files.iter().all(|f| !f.contains(&format!("-{T0}-"))),
            "{files:?}"
        );
        let ks = KeySet::load(dir.path(), RETAIN, t2).unwrap();
        let kids = jwks_kids(&ks);
        for (_, kid) in added.iter().chain(&newest) {
            assert!(kids.contains(kid));
        }
    }

    #[test]
    fn rotation_in_the_same_second_still_makes_the_new_key_sign() {
        let dir = tempfile::tempdir().unwrap();
        KeySet::load_or_generate(dir.path(), RETAIN, T0).unwrap();
        let added = KeySet::rotate(dir.path(), RETAIN, T0).unwrap();
        let ks = KeySet::load(dir.path(), RETAIN, T0).unwrap();
        for (alg, kid) in &added {
            assert_eq!(ks.signing_kid(*alg), kid);
        }
        assert_eq!(ks.published().len(), 4);
    }

    #[test]
    fn garbage_pem_file_gives_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        KeySet::load_or_generate(dir.path(), RETAIN, T0).unwrap();
        let bad = dir.path().join(format!("rs256-{}-0badf00d.pem", T0 + 1));
        fs::write(&bad, "this is not a key\n").unwrap();
        let err = KeySet::load(dir.path(), RETAIN, T0 + 2).unwrap_err();
        assert!(matches!(err, KeyError::InvalidKey { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&bad.display().to_string()), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");

        let pem = format!("{PEM_BEGIN}\nAAAA\n{PEM_END}\n");
        fs::write(&bad, pem).unwrap();
        let err = KeySet::load_or_generate(dir.path(), RETAIN, T0 + 2).unwrap_err();
        assert!(
            err.to_string().contains("rs256-1700000001-0badf00d.pem"),
            "{err}"
        );
    }

    #[test]
    fn unreadable_key_file_gives_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        KeySet::load_or_generate(dir.path(), RETAIN, T0).unwrap();
        // A directory cannot be read as a file, even by root (who ignores mode 000).
        let bad = dir.path().join(format!("es256-{}-0000abcd.pem", T0 + 1));
        fs::create_dir(&bad).unwrap();
        let err = KeySet::load(dir.path(), RETAIN, T0 + 2).unwrap_err();
        assert!(matches!(err, KeyError::ReadFile { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!("cannot read key file {}: ", bad.display())),
            "{msg}"
        );
    }

    #[test]
    fn key_of_the_wrong_algorithm_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        KeySet::load_or_generate(dir.path(), RETAIN, T0).unwrap();
        let rsa = key_files(dir.path())
            .into_iter()
            .find(|n| n.starts_with("rs256"))
            .unwrap();
        let renamed = dir.path().join(format!("es256-{}-12345678.pem", T0 + 1));
        fs::copy(dir.path().join(rsa), &renamed).unwrap();
        let err = KeySet::load(dir.path(), RETAIN, T0 + 1).unwrap_err();
        assert!(matches!(err, KeyError::InvalidKey { .. }), "{err:?}");
        assert!(
            err.to_string().contains("es256-1700000001-12345678.pem"),
            "{err}"
        );
    }

    #[test]
    fn pkcs1_or_encrypted_pem_is_rejected_with_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        KeySet::load_or_generate(dir.path(), RETAIN, T0).unwrap();
        let bad = dir.path().join(format!("rs256-{}-aaaaaaaa.pem", T0 + 1));
        fs::write(
            &bad,
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
        )
        .unwrap();
        let msg = KeySet::load(dir.path(), RETAIN, T0 + 1)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("openssl pkcs8 -topk8 -nocrypt"), "{msg}");
    }

    #[test]
    fn other_files_in_the_directory_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "README.md",
            ".gitignore",
            "notes.pem",
            ".rs256-1-abcdef01.pem.tmp",
            "rs256.txt",
        ] {
            fs::write(dir.path().join(name), "x").unwrap();
        }
        fs::create_dir(dir.path().join("old")).unwrap();
        let ks = KeySet::load_or_generate(dir.path(), RETAIN, T0).unwrap();
        assert_eq!(ks.published().len(), 2);
        KeySet::rotate(dir.path(), 0, T0 + 1).unwrap();
        assert!(dir.path().join("README.md").exists());
        assert!(dir.path().join("notes.pem").exists());
        assert_eq!(key_files(dir.path()).len(), 3, "notes.pem + 2 keys");
    }

    #[test]
    fn malformed_key_file_name_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        KeySet::load_or_generate(dir.path(), RETAIN, T0).unwrap();
        let bad = dir.path().join("rs256-yesterday-abc.pem");
        fs::write(&bad, "x").unwrap();
        let err = KeySet::load(dir.path(), RETAIN, T0).unwrap_err();
        assert!(matches!(err, KeyError::BadFileName { .. }), "{err:?}");
        assert!(err.to_string().contains("rs256-yesterday-abc.pem"), "{err}");
    }

    #[test]
    fn load_without_a_key_for_an_alg_is_an_error_naming_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let err = KeySet::load(dir.path(), RETAIN, T0).unwrap_err();
        assert!(
            matches!(
                err,
                KeyError::NoKey {
                    alg: SigningAlg::RS256,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().contains(&dir.path().display().to_string()),
            "{err}"
        );
        assert!(key_files(dir.path()).is_empty(), "load must not generate");

        let missing = dir.path().join("missing");
        let err = KeySet::load(&missing, RETAIN, T0).unwrap_err();
        assert!(matches!(err, KeyError::ReadDir { .. }), "{err:?}");
        assert!(
            err.to_string().starts_with("cannot read key directory "),
            "{err}"
        );
    }

    #[test]
    fn missing_alg_is_generated_without_touching_the_other() {
        let dir = tempfile::tempdir().unwrap();
        let first = KeySet::load_or_generate(dir.path(), RETAIN, T0).unwrap();
        let es = key_files(dir.path())
            .into_iter()
            .find(|n| n.starts_with("es256"))
            .unwrap();
        fs::remove_file(dir.path().join(es)).unwrap();
        let again = KeySet::load_or_generate(dir.path(), RETAIN, T0 + 5).unwrap();
        assert_eq!(
            again.signing_kid(SigningAlg::RS256),
            first.signing_kid(SigningAlg::RS256)
        );
        assert_ne!(
            again.signing_kid(SigningAlg::ES256),
            first.signing_kid(SigningAlg::ES256)
        );
    }

    #[test]
    fn unknown_kid_has_no_decoding_key() {
        let dir = tempfile::tempdir().unwrap();
        let ks = KeySet::load_or_generate(dir.path(), RETAIN, T0).unwrap();
        assert!(ks.decoding_key("nope").is_none());
        let (alg, _) = ks.decoding_key(ks.signing_kid(SigningAlg::ES256)).unwrap();
        assert_eq!(alg, SigningAlg::ES256);
    }

    #[test]
    fn signing_alg_round_trips_through_its_jose_name() {
        for alg in SigningAlg::ALL {
            assert_eq!(SigningAlg::parse(alg.as_str()), Some(alg));
            assert_eq!(
                serde_json::to_string(&alg).unwrap(),
                format!("\"{}\"", alg.as_str())
            );
        }
        assert_eq!(SigningAlg::parse("rs256"), None);
        assert_eq!(SigningAlg::parse("none"), None);
    }

    #[test]
    fn key_set_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<KeySet>();
        assert_send_sync::<KeyError>();
    }
}

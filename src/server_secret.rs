//! The server's own secret: one 256-bit key in `keys_dir/server-secret.key` (mode 0600),
//! generated on first start and shared by every server that shares `keys_dir`.
//!
//! Two keys are derived from it, so neither use can be turned against the other:
//! - sealing (AES-256-GCM): values that must be read back, such as TOTP seeds. The purpose
//!   (e.g. `totp:<account>`) is the associated data, so a sealed value copied to another
//!   row or account does not open.
//! - MACs (HMAC-SHA-256): short values that only need to be compared, such as e-mail codes
//!   and backup codes. A plain hash of a 6-digit code could be reversed by trying all 10^6;
//!   a keyed MAC cannot be without the key.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::secrets::random_bytes;

pub const FILE_NAME: &str = "server-secret.key";
const SEAL_VERSION: &str = "v1.";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read {}: {err}", path.display())]
    Read { path: PathBuf, err: io::Error },
    #[error("cannot write {}: {err}", path.display())]
    Write { path: PathBuf, err: io::Error },
    #[error("{} does not hold a 32-byte key in hex", path.display())]
    Malformed { path: PathBuf },
    #[error("sealed value is malformed or was not sealed for this purpose with this key")]
    Unseal,
}

pub struct ServerSecret {
    seal_key: LessSafeKey,
    mac_key: hmac::Key,
}

impl std::fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerSecret(..)")
    }
}

impl ServerSecret {
    /// Reads `dir/server-secret.key`, creating it (and `dir`, mode 0700) if it is missing.
    /// Two servers starting at once agree: the file is created exclusively, and the loser
    /// reads the winner's key.
    pub fn load_or_generate(dir: &Path) -> Result<ServerSecret, SecretError> {
        let path = dir.join(FILE_NAME);
        match fs::read_to_string(&path) {
            Ok(text) => Self::parse(&path, &text),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Self::generate(dir, &path),
            Err(err) => Err(SecretError::Read { path, err }),
        }
    }

    fn generate(dir: &Path, path: &Path) -> Result<ServerSecret, SecretError> {
        let write_err = |err| SecretError::Write {
            path: path.to_path_buf(),
            err,
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(write_err)?;
        let key = random_bytes::<32>();
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        // Written under a temporary name and hard-linked into place: the link fails if
        // another server won the race, and no reader ever sees a half-written file.
        let tmp = dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
        let written = (|| -> io::Result<()> {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(format!("{hex}\n").as_bytes())?;
            file.sync_all()?;
            fs::hard_link(&tmp, path)
        })();
        let _ = fs::remove_file(&tmp);
        match written {
            Ok(()) => Ok(Self::from_bytes(key)),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                let text = fs::read_to_string(path).map_err(|err| SecretError::Read {
                    path: path.to_path_buf(),
                    err,
                })?;
                Self::parse(path, &text)
            }
            Err(err) => Err(write_err(err)),
        }
    }

    fn parse(path: &Path, text: &str) -> Result<ServerSecret, SecretError> {
        let malformed = || SecretError::Malformed {
            path: path.to_path_buf(),
        };
        let hex = text.trim();
        if hex.len() != 64 || !hex.is_ascii() {
            return Err(malformed());
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| malformed())?;
        }
        Ok(Self::from_bytes(key))
    }

    pub fn from_bytes(key: [u8; 32]) -> ServerSecret {
        let master = hmac::Key::new(hmac::HMAC_SHA256, &key);
        let derive = |label: &[u8]| hmac::sign(&master, label);
        let seal_bytes = derive(b"uec-idp seal v1");
        let mac_bytes = derive(b"uec-idp mac v1");
        // AES-256 takes any 32-byte key; failure here would be a bug in the constants.
        #[allow(clippy::expect_used)]
        let unbound = UnboundKey::new(&AES_256_GCM, seal_bytes.as_ref()).expect("32-byte AES key");
        ServerSecret {
            seal_key: LessSafeKey::new(unbound),
            mac_key: hmac::Key::new(hmac::HMAC_SHA256, mac_bytes.as_ref()),
        }
    }

    /// Encrypts `plaintext` bound to `purpose`: `v1.` + base64url(nonce ‖ ciphertext ‖ tag).
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> String {
        let nonce_bytes = random_bytes::<NONCE_LEN>();
        let mut buf = plaintext.to_vec();
        // Sealing only fails for inputs beyond AES-GCM's 64 GiB limit.
        #[allow(clippy::expect_used)]
        self.seal_key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(purpose.as_bytes()),
                &mut buf,
            )
            .expect("AES-GCM seal");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        format!("{SEAL_VERSION}{}", URL_SAFE_NO_PAD.encode(out))
    }

    pub fn open(&self, purpose: &str, sealed: &str) -> Result<Vec<u8>, SecretError> {
        let body = sealed
            .strip_prefix(SEAL_VERSION)
            .ok_or(SecretError::Unseal)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SecretError::Unseal)?;
        if bytes.len() < NONCE_LEN {
            return Err(SecretError::Unseal);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SecretError::Unseal)?;
        let mut buf = ciphertext.to_vec();
        let plain = self
            .seal_key
            .open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut buf)
            .map_err(|_| SecretError::Unseal)?;
        Ok(plain.to_vec())
    }

    /// base64url(HMAC-SHA-256(purpose ‖ 0 ‖ value)): the storage form of a short code.
    pub fn mac(&self, purpose: &str, value: &str) -> String {
        let mut ctx = hmac::Context::with_key(&self.mac_key);
        ctx.update(purpose.as_bytes());
        ctx.update(&[0]);
        ctx.update(value.as_bytes());
        URL_SAFE_NO_PAD.encode(ctx.sign())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn sealed_value_opens_only_for_its_purpose() {
        let s = ServerSecret::from_bytes([7; 32]);
        let sealed = s.seal("totp:a", b"seed");
        assert_eq!(s.open("totp:a", &sealed).unwrap(), b"seed");
        assert!(s.open("totp:b", &sealed).is_err());
        assert!(
            ServerSecret::from_bytes([8; 32])
                .open("totp:a", &sealed)
                .is_err()
        );
        assert!(!sealed.contains("seed"));
        assert_ne!(sealed, s.seal("totp:a", b"seed"), "a fresh nonce each time");
    }

    #[test]
    fn tampered_or_malformed_sealed_values_do_not_open() {
        let s = ServerSecret::from_bytes([7; 32]);
        let sealed = s.seal("p", b"seed");
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        for bad in [
            String::from_utf8(tampered).unwrap(),
            "v1.".into(),
            "v2.AAAA".into(),
            "".into(),
            "v1.!!".into(),
        ] {
            assert!(s.open("p", &bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn macs_depend_on_key_purpose_and_value() {
        let s = ServerSecret::from_bytes([7; 32]);
        let m = s.mac("code:a", "123456");
        assert_eq!(m, s.mac("code:a", "123456"));
        assert_ne!(m, s.mac("code:b", "123456"));
        assert_ne!(m, s.mac("code:a", "123457"));
        assert_ne!(m, ServerSecret::from_bytes([8; 32]).mac("code:a", "123456"));
        // The separator keeps (purpose, value) pairs apart.
        assert_ne!(s.mac("ab", "c"), s.mac("a", "bc"));
    }

    #[test]
    fn generated_file_is_private_and_reloads_to_the_same_key() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("keys");
        let a = ServerSecret::load_or_generate(&dir).unwrap();
        let mode = fs::metadata(dir.join(FILE_NAME))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let b = ServerSecret::load_or_generate(&dir).unwrap();
        assert_eq!(b.open("p", &a.seal("p", b"x")).unwrap(), b"x");
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from(FILE_NAME)]);
    }

    #[test]
    fn malformed_file_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(FILE_NAME), "not hex").unwrap();
        let err = ServerSecret::load_or_generate(tmp.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains(FILE_NAME), "{err}");
    }
}

//! Connection config encrypted at rest.
//!
//! Config is sealed with XChaCha20-Poly1305 (an authenticated cipher) under a
//! 256-bit key that lives outside the database: in `floh.key` beside it
//! (created with 0600 permissions on first start) or in `FLOH_SECRET_KEY`.
//! The connector id is bound as associated data, so a sealed config copied
//! onto another connector does not open. A wrong key is detected at start
//! through a sealed check value, never by returning garbage.

mod masking;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde_json::Value;

pub use masking::{mask_config, merge_masked, secret_values};

/// The environment variable that can carry the key (base64 of 32 bytes).
pub const KEY_ENV: &str = "FLOH_SECRET_KEY";

/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "floh.key";

const NONCE_LEN: usize = 24;
const AAD_PREFIX: &[u8] = b"floh-config-v1:";

/// Why secrets could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The key file or variable is unusable.
    #[error("the secret key {0}")]
    BadKey(String),
    /// The key does not open data sealed by the database's key.
    #[error(
        "the secret key does not match the one this data directory was created with ({0}); refusing to start rather than lose or corrupt secrets"
    )]
    WrongKey(String),
    /// A sealed value failed authentication (tampered, or bound to another id).
    #[error("a sealed config failed authentication (tampered with or moved between connectors)")]
    Tampered,
    /// Reading or writing the key file failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Seals and opens connection configs.
#[derive(Clone)]
pub struct ConfigCipher {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for ConfigCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfigCipher(..)")
    }
}

impl ConfigCipher {
    /// The key from `env_key` when given, else from `<data_dir>/floh.key`,
    /// created when `create` is true and the file does not exist.
    pub fn load(
        data_dir: &Path,
        env_key: Option<&str>,
        create: bool,
    ) -> Result<Self, SecretsError> {
        if let Some(encoded) = env_key {
            return Self::from_base64(encoded.trim(), &format!("in {KEY_ENV}"));
        }
        let path = data_dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_base64(text.trim(), &format!("in {}", path.display())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && create => {
                let key = XChaCha20Poly1305::generate_key(&mut OsRng);
                write_private(&path, &BASE64.encode(key))?;
                Ok(Self {
                    cipher: XChaCha20Poly1305::new(&key),
                })
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                Err(SecretsError::BadKey(format!(
                    "file {} is missing and the data directory already holds encrypted data; restore the key or set {KEY_ENV}",
                    path.display()
                )))
            }
            Err(source) => Err(SecretsError::Io { path, source }),
        }
    }

    fn from_base64(encoded: &str, whence: &str) -> Result<Self, SecretsError> {
        let bytes = BASE64
            .decode(encoded)
            .map_err(|_| SecretsError::BadKey(format!("{whence} is not base64")))?;
        if bytes.len() != 32 {
            return Err(SecretsError::BadKey(format!(
                "{whence} must be 32 bytes, found {}",
                bytes.len()
            )));
        }
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes)
            .map_err(|_| SecretsError::BadKey(format!("{whence} is not a valid key")))?;
        Ok(Self { cipher })
    }

    /// Seal `config` for connector `id`: nonce followed by ciphertext.
    pub fn seal(&self, id: &str, config: &Value) -> Vec<u8> {
        self.seal_bytes(id, config.to_string().as_bytes())
    }

    /// Open what [`ConfigCipher::seal`] produced for the same `id`.
    pub fn open(&self, id: &str, sealed: &[u8]) -> Result<Value, SecretsError> {
        let plaintext = self.open_bytes(id, sealed)?;
        serde_json::from_slice(&plaintext).map_err(|_| SecretsError::Tampered)
    }

    /// A sealed known value, stored in the database at creation so that a
    /// later start can tell whether it has the right key.
    pub fn key_check(&self) -> Vec<u8> {
        self.seal_bytes("key-check", KEY_CHECK)
    }

    /// Whether `sealed` is this key's [`ConfigCipher::key_check`].
    pub fn verify_key_check(&self, sealed: &[u8]) -> Result<(), SecretsError> {
        match self.open_bytes("key-check", sealed) {
            Ok(plaintext) if plaintext == KEY_CHECK => Ok(()),
            _ => Err(SecretsError::WrongKey(
                "the key check stored in the database does not open".into(),
            )),
        }
    }

    fn seal_bytes(&self, id: &str, plaintext: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = [AAD_PREFIX, id.as_bytes()].concat();
        // Encryption only fails for inputs beyond the cipher's length limit
        // (256 GiB), far above the request body limit.
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .unwrap_or_default();
        [nonce.as_slice(), &ciphertext].concat()
    }

    fn open_bytes(&self, id: &str, sealed: &[u8]) -> Result<Vec<u8>, SecretsError> {
        if sealed.len() < NONCE_LEN {
            return Err(SecretsError::Tampered);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let aad = [AAD_PREFIX, id.as_bytes()].concat();
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| SecretsError::Tampered)
    }
}

const KEY_CHECK: &[u8] = b"floh key check v1";

fn write_private(path: &Path, contents: &str) -> Result<(), SecretsError> {
    use std::io::Write as _;
    let io = |source| SecretsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    file.write_all(contents.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cipher(dir: &Path) -> ConfigCipher {
        ConfigCipher::load(dir, None, true).expect("cipher")
    }

    #[test]
    fn seals_and_opens_bound_to_the_connector_id() {
        let dir = tempfile::tempdir().expect("dir");
        let cipher = cipher(dir.path());
        let config = json!({"apiKey": "sk-123"});
        let sealed = cipher.seal("c1", &config);
        assert!(!String::from_utf8_lossy(&sealed).contains("sk-123"));
        assert_eq!(cipher.open("c1", &sealed).expect("open"), config);
        assert!(matches!(
            cipher.open("c2", &sealed),
            Err(SecretsError::Tampered)
        ));
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(matches!(
            cipher.open("c1", &tampered),
            Err(SecretsError::Tampered)
        ));
    }

    #[test]
    fn the_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().expect("dir");
        let first = cipher(dir.path());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .expect("key file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let second = cipher(dir.path());
        second
            .verify_key_check(&first.key_check())
            .expect("same key");
    }

    #[test]
    fn a_wrong_or_missing_key_is_refused_clearly() {
        let dir = tempfile::tempdir().expect("dir");
        let check = cipher(dir.path()).key_check();
        let other = ConfigCipher::load(dir.path(), Some(&BASE64.encode([9u8; 32])), false)
            .expect("env key");
        assert!(matches!(
            other.verify_key_check(&check),
            Err(SecretsError::WrongKey(_))
        ));
        let empty = tempfile::tempdir().expect("dir");
        assert!(matches!(
            ConfigCipher::load(empty.path(), None, false),
            Err(SecretsError::BadKey(_))
        ));
        assert!(matches!(
            ConfigCipher::load(empty.path(), Some("short"), false),
            Err(SecretsError::BadKey(_))
        ));
    }
}

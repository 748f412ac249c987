//! Connection config encrypted at rest, under versioned keys.
//!
//! Config is sealed with XChaCha20-Poly1305 (an authenticated cipher) under a
//! 256-bit key that lives outside the database: in `floh.key` beside it
//! (created with 0600 permissions on first start) or in `FLOH_SECRET_KEY`.
//! The connector id is bound as associated data, so a sealed config copied
//! onto another connector does not open. A wrong key is detected at start
//! through a sealed check value per key version, never by returning garbage.
//!
//! Keys have versions (`keyring`): the highest seals new values, older ones
//! only open what they sealed until a re-wrap moves it to the new version
//! (`service::keys`). Each sealed value names its version (`envelope`).

mod envelope;
mod keyring;
mod masking;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde_json::Value;

pub use envelope::{LEGACY_VERSION, sealed_version};
pub use masking::{mask_config, merge_masked, secret_values};

use keyring::KeyBytes;

/// The environment variable that can carry the keys (see `keyring`).
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
    /// A sealed value names a key version this server does not hold.
    #[error(
        "a sealed value needs key version {0}, which is not in the key file or {KEY_ENV}; restore that key"
    )]
    MissingVersion(u32),
    /// Keys from the environment cannot be rotated or retired by the server.
    #[error(
        "the keys come from {KEY_ENV}, which the server cannot change: add the new version to the variable (see README, \"Rotating the secret key\") or keep the keys in {KEY_FILE}"
    )]
    KeysFromEnvironment,
    /// The active key cannot be retired.
    #[error("key version {0} seals new values; rotate before retiring it")]
    ActiveVersion(u32),
    /// No such key version.
    #[error("there is no key version {0}")]
    UnknownVersion(u32),
    /// Reading or writing the key file failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Where the keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The key file at this path (rotation rewrites it).
    File(PathBuf),
    /// `FLOH_SECRET_KEY` (read-only to the server).
    Environment,
}

/// Seals and opens connection configs. Clones share the keys: a rotation
/// is seen by every holder at once.
#[derive(Clone)]
pub struct ConfigCipher {
    keys: Arc<RwLock<Keys>>,
}

struct Keys {
    source: KeySource,
    /// Every version this server holds, with its bytes (to rewrite the file).
    by_version: BTreeMap<u32, (XChaCha20Poly1305, KeyBytes)>,
}

impl Keys {
    fn active(&self) -> (u32, &XChaCha20Poly1305) {
        // A key set is never empty: loading refuses that.
        let (version, (cipher, _)) = self
            .by_version
            .last_key_value()
            .expect("a key set holds at least one key");
        (*version, cipher)
    }

    fn bytes(&self) -> BTreeMap<u32, KeyBytes> {
        self.by_version
            .iter()
            .map(|(version, (_, bytes))| (*version, *bytes))
            .collect()
    }
}

impl std::fmt::Debug for ConfigCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfigCipher(..)")
    }
}

impl ConfigCipher {
    /// The keys from `env_key` when given, else from `<data_dir>/floh.key`,
    /// created (as version 1) when `create` is true and the file does not
    /// exist.
    pub fn load(
        data_dir: &Path,
        env_key: Option<&str>,
        create: bool,
    ) -> Result<Self, SecretsError> {
        if let Some(text) = env_key {
            let keys = keyring::parse(text, &format!("in {KEY_ENV}"))?;
            return Ok(Self::from_keys(KeySource::Environment, keys));
        }
        let path = data_dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let keys = keyring::parse(&text, &format!("in {}", path.display()))?;
                Ok(Self::from_keys(KeySource::File(path), keys))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && create => {
                let keys = BTreeMap::from([(LEGACY_VERSION, new_key_bytes())]);
                keyring::create_file(&path, &keys)?;
                Ok(Self::from_keys(KeySource::File(path), keys))
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

    /// The keys in a file somewhere else (restoring a backup reads the key
    /// file the operator kept).
    pub fn from_file(path: &Path) -> Result<Self, SecretsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SecretsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let keys = keyring::parse(&text, &format!("in {}", path.display()))?;
        Ok(Self::from_keys(KeySource::File(path.to_path_buf()), keys))
    }

    fn from_keys(source: KeySource, keys: BTreeMap<u32, KeyBytes>) -> Self {
        let by_version = keys
            .into_iter()
            .map(|(version, bytes)| (version, (XChaCha20Poly1305::new(&bytes.into()), bytes)))
            .collect();
        Self {
            keys: Arc::new(RwLock::new(Keys { source, by_version })),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        // The lock guards plain data that every writer leaves consistent.
        self.keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Keys> {
        self.keys
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The version that seals new values.
    pub fn active_version(&self) -> u32 {
        self.read().active().0
    }

    /// Every version held, oldest first.
    pub fn versions(&self) -> Vec<u32> {
        self.read().by_version.keys().copied().collect()
    }

    /// Where the keys come from.
    pub fn source(&self) -> KeySource {
        self.read().source.clone()
    }

    /// Write these keys to a new private key file at `path` (a restore puts
    /// them into the new data directory); fails if the file exists.
    pub fn create_key_file(&self, path: &Path) -> Result<(), SecretsError> {
        keyring::create_file(path, &self.read().bytes())
    }

    /// Seal `config` for connector `id` with the active key.
    pub fn seal(&self, id: &str, config: &Value) -> Vec<u8> {
        let keys = self.read();
        let (version, cipher) = keys.active();
        envelope::wrap(
            version,
            &seal_with(cipher, id, config.to_string().as_bytes()),
        )
    }

    /// Open what [`ConfigCipher::seal`] produced for the same `id`, under
    /// whichever version sealed it.
    pub fn open(&self, id: &str, sealed: &[u8]) -> Result<Value, SecretsError> {
        let plaintext = self.open_bytes(id, sealed)?;
        serde_json::from_slice(&plaintext).map_err(|_| SecretsError::Tampered)
    }

    /// `sealed` sealed again with the active key, or `None` when the active
    /// key sealed it already (the re-wrap after a rotation).
    pub fn rewrap(&self, id: &str, sealed: &[u8]) -> Result<Option<Vec<u8>>, SecretsError> {
        let active = self.active_version();
        if sealed_version(sealed) == active {
            return Ok(None);
        }
        let plaintext = self.open_bytes(id, sealed)?;
        let keys = self.read();
        let (version, cipher) = keys.active();
        Ok(Some(envelope::wrap(
            version,
            &seal_with(cipher, id, &plaintext),
        )))
    }

    /// A sealed known value for `version`, stored in the database so that
    /// a later start can tell whether it holds the right key of that version.
    pub fn key_check(&self, version: u32) -> Result<Vec<u8>, SecretsError> {
        let keys = self.read();
        let (cipher, _) = keys
            .by_version
            .get(&version)
            .ok_or(SecretsError::UnknownVersion(version))?;
        Ok(envelope::wrap(
            version,
            &seal_with(cipher, KEY_CHECK_ID, KEY_CHECK),
        ))
    }

    /// Whether `sealed` is the key check of the version it names, under the
    /// key of that version this server holds.
    pub fn verify_key_check(&self, sealed: &[u8]) -> Result<(), SecretsError> {
        let version = sealed_version(sealed);
        match self.open_bytes(KEY_CHECK_ID, sealed) {
            Ok(plaintext) if plaintext == KEY_CHECK => Ok(()),
            Err(SecretsError::MissingVersion(_)) => Err(SecretsError::WrongKey(format!(
                "key version {version} is not in the key file or {KEY_ENV}"
            ))),
            _ => Err(SecretsError::WrongKey(format!(
                "the key check of version {version} stored in the database does not open"
            ))),
        }
    }

    /// Add a new key version (the highest, so it seals from now on) and
    /// save it to the key file before anything is sealed with it.
    pub fn rotate(&self) -> Result<u32, SecretsError> {
        let mut keys = self.write();
        let KeySource::File(path) = keys.source.clone() else {
            return Err(SecretsError::KeysFromEnvironment);
        };
        let version = keys.active().0 + 1;
        let bytes = new_key_bytes();
        let mut saved = keys.bytes();
        saved.insert(version, bytes);
        keyring::write_file(&path, &saved)?;
        keys.by_version
            .insert(version, (XChaCha20Poly1305::new(&bytes.into()), bytes));
        Ok(version)
    }

    /// Forget key version `version` (the caller made sure nothing uses it)
    /// and remove it from the key file.
    pub fn retire(&self, version: u32) -> Result<(), SecretsError> {
        let mut keys = self.write();
        if keys.active().0 == version {
            return Err(SecretsError::ActiveVersion(version));
        }
        if !keys.by_version.contains_key(&version) {
            return Err(SecretsError::UnknownVersion(version));
        }
        let KeySource::File(path) = keys.source.clone() else {
            return Err(SecretsError::KeysFromEnvironment);
        };
        let mut saved = keys.bytes();
        saved.remove(&version);
        keyring::write_file(&path, &saved)?;
        keys.by_version.remove(&version);
        Ok(())
    }

    fn open_bytes(&self, id: &str, sealed: &[u8]) -> Result<Vec<u8>, SecretsError> {
        let keys = self.read();
        if let Some(envelope) = envelope::versioned(sealed)
            && let Some((cipher, _)) = keys.by_version.get(&envelope.version)
            && let Ok(plaintext) = open_with(cipher, id, envelope.body)
        {
            return Ok(plaintext);
        }
        // The layout from before versions (or, once in 2^32, a value of that
        // layout that looks versioned).
        if let Some((cipher, _)) = keys.by_version.get(&LEGACY_VERSION)
            && let Ok(plaintext) = open_with(cipher, id, sealed)
        {
            return Ok(plaintext);
        }
        let version = sealed_version(sealed);
        if keys.by_version.contains_key(&version) {
            Err(SecretsError::Tampered)
        } else {
            Err(SecretsError::MissingVersion(version))
        }
    }
}

/// The associated data id of key checks.
const KEY_CHECK_ID: &str = "key-check";
const KEY_CHECK: &[u8] = b"floh key check v1";

fn new_key_bytes() -> KeyBytes {
    XChaCha20Poly1305::generate_key(&mut OsRng).into()
}

fn seal_with(cipher: &XChaCha20Poly1305, id: &str, plaintext: &[u8]) -> Vec<u8> {
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let aad = [AAD_PREFIX, id.as_bytes()].concat();
    // Encryption only fails for inputs beyond the cipher's length limit
    // (256 GiB), far above the request body limit.
    let ciphertext = cipher
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

fn open_with(cipher: &XChaCha20Poly1305, id: &str, sealed: &[u8]) -> Result<Vec<u8>, SecretsError> {
    if sealed.len() < NONCE_LEN {
        return Err(SecretsError::Tampered);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let aad = [AAD_PREFIX, id.as_bytes()].concat();
    cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: &aad,
            },
        )
        .map_err(|_| SecretsError::Tampered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
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
            .verify_key_check(&first.key_check(1).expect("check"))
            .expect("same key");
    }

    #[test]
    fn a_wrong_or_missing_key_is_refused_clearly() {
        let dir = tempfile::tempdir().expect("dir");
        let check = cipher(dir.path()).key_check(1).expect("check");
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

    /// A value sealed by the single-key layout of earlier releases.
    fn legacy_sealed(cipher: &ConfigCipher, id: &str, config: &Value) -> Vec<u8> {
        let keys = cipher.read();
        let (legacy, _) = &keys.by_version[&LEGACY_VERSION];
        seal_with(legacy, id, config.to_string().as_bytes())
    }

    #[test]
    fn a_rotation_seals_with_the_new_version_and_still_opens_the_old_ones() {
        let dir = tempfile::tempdir().expect("dir");
        let cipher = cipher(dir.path());
        let config = json!({"apiKey": "sk-1"});
        let legacy = legacy_sealed(&cipher, "c1", &config);
        let before = cipher.seal("c1", &config);
        assert_eq!(sealed_version(&before), 1);
        assert_eq!(cipher.rotate().expect("rotate"), 2);
        let shared = cipher.clone();
        let after = shared.seal("c1", &config);
        assert_eq!(sealed_version(&after), 2, "clones see the rotation");
        for sealed in [&legacy, &before, &after] {
            assert_eq!(cipher.open("c1", sealed).expect("open"), config);
        }
        let rewrapped = cipher
            .rewrap("c1", &legacy)
            .expect("rewrap")
            .expect("moved");
        assert_eq!(sealed_version(&rewrapped), 2);
        assert_eq!(cipher.open("c1", &rewrapped).expect("open"), config);
        assert_eq!(cipher.rewrap("c1", &after).expect("rewrap"), None);
        // A restart reads both versions back from the file.
        let reloaded = ConfigCipher::load(dir.path(), None, false).expect("reload");
        assert_eq!(reloaded.versions(), [1, 2]);
        assert_eq!(reloaded.open("c1", &before).expect("open"), config);
        reloaded
            .verify_key_check(&cipher.key_check(2).expect("check"))
            .expect("same version 2");
    }

    #[test]
    fn retiring_removes_a_version_and_values_sealed_with_it_say_which_key_is_missing() {
        let dir = tempfile::tempdir().expect("dir");
        let cipher = cipher(dir.path());
        let old = cipher.seal("c1", &json!({"a": 1}));
        cipher.rotate().expect("rotate");
        assert!(matches!(
            cipher.retire(2),
            Err(SecretsError::ActiveVersion(2))
        ));
        assert!(matches!(
            cipher.retire(7),
            Err(SecretsError::UnknownVersion(7))
        ));
        cipher.retire(1).expect("retire");
        assert_eq!(cipher.versions(), [2]);
        assert!(matches!(
            cipher.open("c1", &old),
            Err(SecretsError::MissingVersion(1))
        ));
        let reloaded = ConfigCipher::load(dir.path(), None, false).expect("reload");
        assert_eq!(reloaded.versions(), [2]);
        assert_eq!(
            cipher.rotate().expect("rotate"),
            3,
            "versions are never reused"
        );
    }

    #[test]
    fn keys_from_the_environment_are_read_only() {
        let dir = tempfile::tempdir().expect("dir");
        let env = format!(
            "1:{},2:{}",
            BASE64.encode([1u8; 32]),
            BASE64.encode([2u8; 32])
        );
        let cipher = ConfigCipher::load(dir.path(), Some(&env), false).expect("env");
        assert_eq!(cipher.active_version(), 2);
        assert!(matches!(
            cipher.rotate(),
            Err(SecretsError::KeysFromEnvironment)
        ));
        assert!(matches!(
            cipher.retire(1),
            Err(SecretsError::KeysFromEnvironment)
        ));
        assert!(!dir.path().join(KEY_FILE).exists());
    }
}

//! The agent's long-lived X25519 key pair.
//!
//! Created on first start in the agent's state directory (`agent.key`,
//! base64 of the 32-byte secret, mode 0600, written with `create_new` so two
//! agents starting at once cannot overwrite each other's key) and reused on
//! every later start, so the server sees one stable public key per agent.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::OsRng;
use x25519_dalek::{PublicKey, StaticSecret};

/// The key file's name inside the state directory.
pub const KEY_FILE: &str = "agent.key";

/// Why the key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing the key file failed.
    #[error("agent key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file exists but does not hold a key.
    #[error("agent key file {0} is not base64 of 32 bytes; delete it to create a new key")]
    Corrupt(PathBuf),
}

/// The agent's key pair.
#[derive(Clone)]
pub struct AgentKey {
    secret: StaticSecret,
    public: PublicKey,
}

impl std::fmt::Debug for AgentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AgentKey(public: {})", self.public_base64())
    }
}

impl AgentKey {
    /// Loads `<state_dir>/agent.key`, creating the directory (0700) and the
    /// key (0600) when absent.
    pub fn load_or_create(state_dir: &Path) -> Result<Self, KeyError> {
        let path = state_dir.join(KEY_FILE);
        let io = |source| KeyError::Io {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => return Self::decode(text.trim()).ok_or(KeyError::Corrupt(path)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io(error)),
        }
        create_private_dir(state_dir).map_err(io)?;
        let key = Self::from_secret(StaticSecret::random_from_rng(OsRng));
        let encoded = BASE64.encode(key.secret.as_bytes());
        match open_new_private(&path) {
            Ok(mut file) => {
                file.write_all(encoded.as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                Ok(key)
            }
            // Another process created it first: use theirs.
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(&path).map_err(io)?;
                Self::decode(text.trim()).ok_or(KeyError::Corrupt(path))
            }
            Err(error) => Err(io(error)),
        }
    }

    /// A key pair from a secret (tests and benchmarks).
    pub fn from_secret(secret: StaticSecret) -> Self {
        let public = PublicKey::from(&secret);
        Self { secret, public }
    }

    /// The secret half, for opening sealed configs.
    pub fn secret(&self) -> &StaticSecret {
        &self.secret
    }

    /// The public half.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The public key as sent at registration (base64).
    pub fn public_base64(&self) -> String {
        BASE64.encode(self.public.as_bytes())
    }

    fn decode(text: &str) -> Option<Self> {
        let bytes: [u8; 32] = BASE64.decode(text).ok()?.try_into().ok()?;
        Some(Self::from_secret(StaticSecret::from(bytes)))
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

fn open_new_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::seal;

    #[test]
    fn created_once_then_reused() {
        let dir = tempfile::tempdir().expect("test");
        let state = dir.path().join("state");
        let first = AgentKey::load_or_create(&state).expect("test");
        let second = AgentKey::load_or_create(&state).expect("test");
        assert_eq!(first.public_base64(), second.public_base64());
        // The reloaded key opens what was sealed to the first one.
        let sealed = seal::seal(first.public(), "c", b"x").expect("test");
        assert_eq!(
            seal::open(second.secret(), "c", &sealed).expect("test"),
            b"x"
        );
    }

    #[cfg(unix)]
    #[test]
    fn file_is_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("test");
        AgentKey::load_or_create(dir.path()).expect("test");
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .expect("test")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn corrupt_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().expect("test");
        std::fs::write(dir.path().join(KEY_FILE), "garbage").expect("test");
        assert!(matches!(
            AgentKey::load_or_create(dir.path()),
            Err(KeyError::Corrupt(_))
        ));
    }

    #[test]
    fn debug_shows_only_the_public_key() {
        let key = AgentKey::from_secret(StaticSecret::from([7u8; 32]));
        let shown = format!("{key:?}");
        assert!(shown.contains(&key.public_base64()));
        assert!(!shown.contains(&BASE64.encode([7u8; 32])));
    }
}

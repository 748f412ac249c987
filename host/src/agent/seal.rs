//! Sealing a command's config to one agent's X25519 public key.
//!
//! The server holds configs decrypted only in memory; before sending one to
//! an agent it seals it so that TLS termination at a proxy does not expose
//! secrets. The construction is the usual ECIES shape:
//!
//! 1. a fresh ephemeral X25519 key pair per command, Diffie-Hellman with the
//!    agent's static public key;
//! 2. HKDF-SHA256 over the shared secret, salted with both public keys (so
//!    the key is bound to this sender/recipient pair) and a versioned info
//!    string;
//! 3. XChaCha20-Poly1305 with a random 24-byte nonce, the command id as
//!    associated data (a sealed config replayed onto another command does not
//!    open).
//!
//! A low-order recipient key (shared secret all zeros) is refused rather
//! than sealed to a key anyone can compute.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use x25519_dalek::{EphemeralSecret, PublicKey, StaticSecret};

const INFO: &[u8] = b"floh-agent-config-v1";
const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;

/// A config sealed to one agent, as carried in an `AgentCommand`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SealedConfig {
    /// The sender's one-time X25519 public key, base64.
    pub ephemeral_public_key: String,
    /// The XChaCha20-Poly1305 nonce, base64 (24 bytes).
    pub nonce: String,
    /// Ciphertext and tag, base64.
    pub ciphertext: String,
}

/// Why a config could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// A key or field is not valid base64 of the right length.
    #[error("malformed sealed config: {0}")]
    Malformed(&'static str),
    /// The recipient key is a low-order point; sealing to it would be
    /// readable by anyone.
    #[error("the agent's public key is not usable (low-order point)")]
    WeakKey,
    /// Authentication failed: sealed to another key, for another command, or
    /// tampered with.
    #[error("the sealed config does not open with this agent's key")]
    Unopenable,
}

/// Parses a base64 X25519 public key (as sent at registration).
pub fn parse_public_key(encoded: &str) -> Result<PublicKey, SealError> {
    Ok(PublicKey::from(decode_array::<KEY_LEN>(
        encoded,
        "public key",
    )?))
}

/// Seals `plaintext` to `recipient`, bound to `command_id`.
pub fn seal(
    recipient: &PublicKey,
    command_id: &str,
    plaintext: &[u8],
) -> Result<SealedConfig, SealError> {
    let ephemeral = EphemeralSecret::random_from_rng(OsRng);
    let ephemeral_public = PublicKey::from(&ephemeral);
    let shared = ephemeral.diffie_hellman(recipient);
    if !shared.was_contributory() {
        return Err(SealError::WeakKey);
    }
    let cipher = derive_cipher(shared.as_bytes(), &ephemeral_public, recipient);
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let ciphertext = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad: command_id.as_bytes(),
            },
        )
        // Encryption only fails for inputs beyond the cipher's length limit.
        .map_err(|_| SealError::Malformed("plaintext too long"))?;
    Ok(SealedConfig {
        ephemeral_public_key: BASE64.encode(ephemeral_public.as_bytes()),
        nonce: BASE64.encode(nonce),
        ciphertext: BASE64.encode(ciphertext),
    })
}

/// Opens a config sealed to `secret`'s public key for `command_id`.
pub fn open(
    secret: &StaticSecret,
    command_id: &str,
    sealed: &SealedConfig,
) -> Result<Vec<u8>, SealError> {
    let ephemeral_public = parse_public_key(&sealed.ephemeral_public_key)?;
    let nonce = decode_array::<NONCE_LEN>(&sealed.nonce, "nonce")?;
    let ciphertext = BASE64
        .decode(&sealed.ciphertext)
        .map_err(|_| SealError::Malformed("ciphertext"))?;
    let shared = secret.diffie_hellman(&ephemeral_public);
    if !shared.was_contributory() {
        return Err(SealError::WeakKey);
    }
    let own_public = PublicKey::from(secret);
    let cipher = derive_cipher(shared.as_bytes(), &ephemeral_public, &own_public);
    cipher
        .decrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &ciphertext,
                aad: command_id.as_bytes(),
            },
        )
        .map_err(|_| SealError::Unopenable)
}

fn derive_cipher(
    shared: &[u8; 32],
    ephemeral: &PublicKey,
    recipient: &PublicKey,
) -> XChaCha20Poly1305 {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(ephemeral.as_bytes());
    salt[32..].copy_from_slice(recipient.as_bytes());
    let hkdf = Hkdf::<Sha256>::new(Some(&salt), shared);
    let mut key = [0u8; KEY_LEN];
    // 32 bytes is far below HKDF-SHA256's 8160-byte output limit.
    if hkdf.expand(INFO, &mut key).is_err() {
        unreachable!("HKDF-SHA256 can always produce 32 bytes");
    }
    XChaCha20Poly1305::new(&key.into())
}

fn decode_array<const N: usize>(encoded: &str, what: &'static str) -> Result<[u8; N], SealError> {
    BASE64
        .decode(encoded)
        .ok()
        .and_then(|bytes| <[u8; N]>::try_from(bytes).ok())
        .ok_or(SealError::Malformed(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_pair() -> (StaticSecret, PublicKey) {
        let secret = StaticSecret::random_from_rng(OsRng);
        let public = PublicKey::from(&secret);
        (secret, public)
    }

    #[test]
    fn round_trip() {
        let (secret, public) = key_pair();
        let sealed = seal(&public, "cmd-1", br#"{"apiKey":"s3cret"}"#).expect("test");
        assert!(!sealed.ciphertext.contains("s3cret"));
        assert_eq!(
            open(&secret, "cmd-1", &sealed).expect("test"),
            br#"{"apiKey":"s3cret"}"#
        );
    }

    #[test]
    fn each_seal_uses_a_fresh_ephemeral_key_and_nonce() {
        let (_, public) = key_pair();
        let a = seal(&public, "c", b"x").expect("test");
        let b = seal(&public, "c", b"x").expect("test");
        assert_ne!(a.ephemeral_public_key, b.ephemeral_public_key);
        assert_ne!(a.nonce, b.nonce);
    }

    #[test]
    fn another_agents_key_cannot_open_it() {
        let (_, public) = key_pair();
        let (other_secret, _) = key_pair();
        let sealed = seal(&public, "cmd-1", b"secret config").expect("test");
        assert_eq!(
            open(&other_secret, "cmd-1", &sealed),
            Err(SealError::Unopenable)
        );
    }

    #[test]
    fn tampered_ciphertext_fails() {
        let (secret, public) = key_pair();
        let mut sealed = seal(&public, "cmd-1", b"secret config").expect("test");
        let mut bytes = BASE64.decode(&sealed.ciphertext).expect("test");
        bytes[0] ^= 1;
        sealed.ciphertext = BASE64.encode(bytes);
        assert_eq!(open(&secret, "cmd-1", &sealed), Err(SealError::Unopenable));
    }

    #[test]
    fn swapped_ephemeral_key_or_nonce_fails() {
        let (secret, public) = key_pair();
        let a = seal(&public, "c", b"x").expect("test");
        let b = seal(&public, "c", b"x").expect("test");
        let mut mixed = a.clone();
        mixed.ephemeral_public_key = b.ephemeral_public_key.clone();
        assert_eq!(open(&secret, "c", &mixed), Err(SealError::Unopenable));
        let mut mixed = a;
        mixed.nonce = b.nonce;
        assert_eq!(open(&secret, "c", &mixed), Err(SealError::Unopenable));
    }

    #[test]
    fn bound_to_the_command_id() {
        let (secret, public) = key_pair();
        let sealed = seal(&public, "cmd-1", b"x").expect("test");
        assert_eq!(open(&secret, "cmd-2", &sealed), Err(SealError::Unopenable));
    }

    #[test]
    fn low_order_recipient_key_is_refused() {
        // The all-zero point has order 1: every shared secret with it is zero.
        let weak = PublicKey::from([0u8; 32]);
        assert_eq!(seal(&weak, "c", b"x"), Err(SealError::WeakKey));
    }

    #[test]
    fn malformed_fields_are_reported() {
        let (secret, public) = key_pair();
        let mut sealed = seal(&public, "c", b"x").expect("test");
        sealed.nonce = BASE64.encode([0u8; 12]);
        assert_eq!(
            open(&secret, "c", &sealed),
            Err(SealError::Malformed("nonce"))
        );
        assert_eq!(
            parse_public_key("not base64!").map(|_| ()),
            Err(SealError::Malformed("public key"))
        );
    }
}

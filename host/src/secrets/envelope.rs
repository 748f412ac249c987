//! The layout of a sealed value, and which key version sealed it.
//!
//! A value sealed since key rotation exists starts with a 4-byte marker and
//! the key version (big-endian `u32`), then the nonce and the ciphertext.
//! Values sealed before (by the one key of a data directory created earlier)
//! are the nonce and the ciphertext alone, and belong to version 1. The
//! marker is not secret and not authenticated by itself: a changed version
//! selects another key, and the authenticated decryption fails.
//!
//! A value of the old layout whose random nonce happens to begin with the
//! marker (one chance in 2^32) is still opened correctly: opening falls back
//! to the old layout when the new one fails.

/// The marker of the versioned layout.
const MARKER: [u8; 4] = *b"FLK\x01";

/// The version of values sealed before keys had versions.
pub const LEGACY_VERSION: u32 = 1;

const HEADER_LEN: usize = MARKER.len() + 4;

/// The parts of a sealed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Envelope<'a> {
    /// The key version it names.
    pub version: u32,
    /// Nonce and ciphertext.
    pub body: &'a [u8],
}

/// Read `sealed` as the versioned layout, if it has the marker.
pub(super) fn versioned(sealed: &[u8]) -> Option<Envelope<'_>> {
    let rest = sealed.strip_prefix(&MARKER)?;
    let (version, body) = rest.split_first_chunk::<4>()?;
    Some(Envelope {
        version: u32::from_be_bytes(*version),
        body,
    })
}

/// Write the versioned layout.
pub(super) fn wrap(version: u32, body: &[u8]) -> Vec<u8> {
    let mut sealed = Vec::with_capacity(HEADER_LEN + body.len());
    sealed.extend_from_slice(&MARKER);
    sealed.extend_from_slice(&version.to_be_bytes());
    sealed.extend_from_slice(body);
    sealed
}

/// The key version that sealed `sealed` (storage counts and guards with
/// this without holding any key).
pub fn sealed_version(sealed: &[u8]) -> u32 {
    versioned(sealed).map_or(LEGACY_VERSION, |envelope| envelope.version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_values_name_their_version_and_old_ones_are_version_one() {
        let sealed = wrap(7, b"nonce-and-ciphertext");
        assert_eq!(sealed_version(&sealed), 7);
        assert_eq!(
            versioned(&sealed),
            Some(Envelope {
                version: 7,
                body: b"nonce-and-ciphertext"
            })
        );
        assert_eq!(sealed_version(b"random nonce bytes..."), LEGACY_VERSION);
        assert_eq!(versioned(b"FLK\x01ab"), None, "too short for a version");
    }
}

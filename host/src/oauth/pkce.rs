//! The random values of an authorization: the `state` that ties a callback
//! to the authorization it answers, and the PKCE verifier whose S256
//! challenge goes to the provider (RFC 7636), so that a stolen code is
//! useless without the verifier the server kept.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A `state` or a verifier: 256 random bits, 43 characters (the verifier's
/// recommended length).
pub use crate::ids::random_token as random_value;

/// The S256 code challenge of `verifier`.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// How a `state` is kept: its SHA-256 (hex), so that the store never holds
/// a value that would complete someone's authorization.
pub fn state_digest(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_rfc_7636s_example() {
        // RFC 7636, Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            challenge(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn random_values_are_verifier_shaped_and_differ() {
        let (a, b) = (random_value(), random_value());
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a, b);
        assert_ne!(state_digest(&a), state_digest(&b));
    }
}

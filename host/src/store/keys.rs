//! Key rotation as the store sees it: which kinds of sealed values it keeps,
//! the cursor of a re-wrap pass, and where key checks live. Each backend
//! walks its own tables; the rules (batch sizes, order, what a cursor means)
//! are these, shared.

use super::{ConnectorRecord, OAuthGrantRecord, PendingAuthorization, StoreError};

/// The meta key of the first version's key check (named before versions).
pub const KEY_CHECK: &str = "secret-key-check";
/// Later versions' checks: `secret-key-check:v<N>`.
pub(super) const KEY_CHECK_PREFIX: &str = "secret-key-check:v";

/// What kind of value a sealed slot holds (its associated data differs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedKind {
    /// A connector's connection config, bound to the connector id.
    ConnectorConfig,
    /// A connector's OAuth2 tokens, bound to the connector id.
    OAuthGrant,
    /// A pending authorization's PKCE verifier, bound to its state digest.
    PendingAuthorization,
}

/// Why a re-wrap batch stopped.
#[derive(Debug, thiserror::Error)]
pub enum RewrapError<E> {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Re-sealing one value failed (the caller's error).
    #[error("{0}")]
    Seal(E),
}

/// Where a re-wrap pass goes on: the table and the last id it handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewrapCursor {
    pub(super) kind: SealedKind,
    pub(super) after: Option<String>,
}

impl RewrapCursor {
    /// The start of a pass.
    pub fn start() -> Self {
        Self {
            kind: SealedKind::ConnectorConfig,
            after: None,
        }
    }

    /// The kinds a pass still visits from here, in order, each with the id
    /// to go on after (only the cursor's own kind has one).
    pub(super) fn remaining(&self) -> impl Iterator<Item = (SealedKind, Option<&str>)> {
        let first = SealedKind::ALL
            .iter()
            .position(|kind| *kind == self.kind)
            .unwrap_or(0);
        SealedKind::ALL
            .into_iter()
            .skip(first)
            .enumerate()
            .map(|(index, kind)| (kind, self.after.as_deref().filter(|_| index == 0)))
    }
}

/// What one batch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewrapBatch {
    /// Values moved to the active version.
    pub rewrapped: usize,
    /// Where the pass goes on; `None` when it reached the end.
    pub next: Option<RewrapCursor>,
}

/// A stored record that holds one sealed value.
pub(super) trait HoldsSealed: serde::Serialize + serde::de::DeserializeOwned {
    fn sealed_mut(&mut self) -> Option<&mut Vec<u8>>;
}

impl HoldsSealed for ConnectorRecord {
    fn sealed_mut(&mut self) -> Option<&mut Vec<u8>> {
        self.sealed_config.as_mut()
    }
}

impl HoldsSealed for OAuthGrantRecord {
    fn sealed_mut(&mut self) -> Option<&mut Vec<u8>> {
        Some(&mut self.sealed_tokens)
    }
}

impl HoldsSealed for PendingAuthorization {
    fn sealed_mut(&mut self) -> Option<&mut Vec<u8>> {
        Some(&mut self.sealed_verifier)
    }
}

/// A batch looks at no more than this many values per value it re-seals,
/// so a pass over values that are mostly done holds the write lock briefly.
pub(super) const SCAN_PER_REWRAP: usize = 16;

/// The meta key of a version's key check.
pub(super) fn check_key(version: u32) -> String {
    if version == crate::secrets::LEGACY_VERSION {
        KEY_CHECK.to_string()
    } else {
        format!("{KEY_CHECK_PREFIX}{version}")
    }
}

impl SealedKind {
    /// Every kind, in the order a pass visits them.
    pub(super) const ALL: [Self; 3] = [
        Self::ConnectorConfig,
        Self::OAuthGrant,
        Self::PendingAuthorization,
    ];
}

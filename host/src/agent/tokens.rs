//! Issuing, checking and revoking agent tokens.
//!
//! Tokens look like `flo_agent_<43 chars>` (32 random bytes, URL-safe base64)
//! so they are recognisable in logs and secret scanners, are shown once at
//! creation, and are stored only as SHA-256. Checks always read the store
//! (registration is rare), so a revocation takes effect immediately.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use sha2::{Digest, Sha256};

use crate::clock::now_ms;
use crate::ids::new_id;
use crate::store::{AgentTokenRecord, AgentTokenState, Store, StoreError};

/// The prefix of every agent token.
pub const TOKEN_PREFIX: &str = "flo_agent_";

/// Why a token does not register an agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentTokenError {
    /// Unknown (or an API token, which is not an agent token).
    #[error("invalid agent token")]
    Invalid,
    /// Revoked.
    #[error("agent token revoked")]
    Revoked,
    /// Past its expiry.
    #[error("agent token expired")]
    Expired,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AgentTokenError {
    /// A machine-readable code for the close reason and `error` message.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid => "INVALID_TOKEN",
            Self::Revoked => "TOKEN_REVOKED",
            Self::Expired => "TOKEN_EXPIRED",
            Self::Store(_) => "INTERNAL",
        }
    }
}

/// A freshly issued agent token: the secret is in `token`, shown this once.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuedAgentToken {
    /// The token to pass to `floh agent --token`.
    pub token: String,
    /// Its record.
    #[serde(flatten)]
    pub record: AgentTokenRecord,
}

/// Agent tokens over the store.
#[derive(Clone)]
pub struct AgentTokens {
    store: Store,
}

impl AgentTokens {
    /// Agent tokens kept in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Issues a token named `name`, valid for `expires_in_seconds` when
    /// given, for claiming only `connectors` when given.
    pub async fn issue(
        &self,
        name: &str,
        expires_in_seconds: Option<u64>,
        connectors: Option<Vec<String>>,
    ) -> Result<IssuedAgentToken, StoreError> {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        let created_at_ms = now_ms();
        let record = AgentTokenRecord {
            id: new_id("atok"),
            name: name.to_string(),
            created_at_ms,
            expires_at_ms: expires_in_seconds
                .map(|secs| created_at_ms.saturating_add(secs.saturating_mul(1000))),
            revoked_at_ms: None,
            connectors,
        };
        self.store
            .insert_agent_token(hash(&token), record.clone())
            .await?;
        Ok(IssuedAgentToken { token, record })
    }

    /// The record of `token` if it may register an agent now.
    pub async fn verify(&self, token: &str) -> Result<AgentTokenRecord, AgentTokenError> {
        let record = self
            .store
            .agent_token(hash(token))
            .await?
            .ok_or(AgentTokenError::Invalid)?;
        match record.state(now_ms()) {
            AgentTokenState::Valid => Ok(record),
            AgentTokenState::Revoked => Err(AgentTokenError::Revoked),
            AgentTokenState::Expired => Err(AgentTokenError::Expired),
        }
    }

    /// Every token (no secrets).
    pub async fn list(&self) -> Result<Vec<AgentTokenRecord>, StoreError> {
        self.store.agent_tokens().await
    }

    /// Revokes the token with `id`; `None` when there is none.
    pub async fn revoke(&self, id: &str) -> Result<Option<AgentTokenRecord>, StoreError> {
        self.store
            .revoke_agent_token(id.to_string(), now_ms())
            .await
    }
}

/// Why an agent-token request is invalid, if it is: the rule every front
/// end (API, UI) applies before [`AgentTokens::issue`].
pub fn check_request(name: &str, connectors: Option<&[String]>) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("`name` must not be empty".into());
    }
    if let Some(connectors) = connectors
        && (connectors.is_empty() || connectors.iter().any(|c| c.trim().is_empty()))
    {
        return Err("`connectors` must list connector names (omit it to allow any)".into());
    }
    Ok(())
}

/// Revoke the agent token `id` and disconnect the agents registered with
/// it at once; `None` when there is no such token.
pub async fn revoke_and_disconnect(
    tokens: &AgentTokens,
    hub: &crate::agent::hub::AgentHub,
    id: &str,
) -> Result<Option<AgentTokenRecord>, StoreError> {
    let revoked = tokens.revoke(id).await?;
    if revoked.is_some() {
        let closed = hub.evict_token(id);
        tracing::info!(token = %id, closed, "agent token revoked");
    }
    Ok(revoked)
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn tokens() -> (tempfile::TempDir, AgentTokens) {
        let dir = tempfile::tempdir().expect("test");
        let store = Store::open(&dir.path().join("floh.redb")).expect("test");
        (dir, AgentTokens::new(store))
    }

    #[tokio::test]
    async fn issued_token_verifies_until_revoked() {
        let (_dir, tokens) = tokens().await;
        let issued = tokens.issue("plant-a", None, None).await.expect("test");
        assert!(issued.token.starts_with(TOKEN_PREFIX));
        assert_eq!(
            tokens.verify(&issued.token).await.expect("test").name,
            "plant-a"
        );
        tokens.revoke(&issued.record.id).await.expect("test");
        assert!(matches!(
            tokens.verify(&issued.token).await,
            Err(AgentTokenError::Revoked)
        ));
    }

    #[tokio::test]
    async fn unknown_and_expired_tokens_are_refused() {
        let (_dir, tokens) = tokens().await;
        assert!(matches!(
            tokens.verify("flo_agent_nope").await,
            Err(AgentTokenError::Invalid)
        ));
        let issued = tokens.issue("short", Some(0), None).await.expect("test");
        assert!(matches!(
            tokens.verify(&issued.token).await,
            Err(AgentTokenError::Expired)
        ));
    }

    #[tokio::test]
    async fn listing_has_no_secrets() {
        let (_dir, tokens) = tokens().await;
        let issued = tokens.issue("a", Some(60), None).await.expect("test");
        let listed = serde_json::to_string(&tokens.list().await.expect("test")).expect("test");
        assert!(listed.contains(&issued.record.id));
        assert!(!listed.contains(&issued.token));
    }
}

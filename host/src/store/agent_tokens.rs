//! Agent tokens: the credentials `floh agent` registers with.
//!
//! They are kept apart from API tokens: an agent token can then never
//! authenticate an API call (no role confusion), and the state only agents
//! need (expiry, revocation) stays out of API tokens. Only the SHA-256 of
//! the secret is stored.

use serde::{Deserialize, Serialize};

/// An agent token (without its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentTokenRecord {
    /// Token id (not the secret); what revocation names.
    pub id: String,
    /// A label.
    pub name: String,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: u64,
    /// After this the token no longer registers agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<u64>,
    /// Set when revoked; kept (not deleted) so listings show it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at_ms: Option<u64>,
    /// The only connectors agents registering with this token may claim;
    /// any when `None`. A token handed to one site then cannot pull the
    /// configs of another site's connectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connectors: Option<Vec<String>>,
}

/// Whether an agent token may register an agent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentTokenState {
    /// Usable.
    Valid,
    /// Revoked.
    Revoked,
    /// Past its expiry.
    Expired,
}

impl AgentTokenRecord {
    /// The token's state at `now_ms`.
    pub fn state(&self, now_ms: u64) -> AgentTokenState {
        if self.revoked_at_ms.is_some() {
            AgentTokenState::Revoked
        } else if self.expires_at_ms.is_some_and(|at| now_ms >= at) {
            AgentTokenState::Expired
        } else {
            AgentTokenState::Valid
        }
    }
}

//! Agents the server has seen, so that a connector claimed by an agent stays
//! an agent's connector across server restarts.

use serde::{Deserialize, Serialize};

/// What the server remembers of an agent (no secrets: the token is named by
/// its id only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentRecord {
    /// The agent's id.
    pub agent_id: String,
    /// Its display name.
    pub agent_name: String,
    /// The connectors it claimed at its last registration.
    pub connector_names: Vec<String>,
    /// Its software version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The id of the agent token it registered with.
    pub token_id: String,
    /// When its last connection was registered.
    pub connected_at_ms: u64,
    /// When that connection ended, if the server saw it end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnected_at_ms: Option<u64>,
}

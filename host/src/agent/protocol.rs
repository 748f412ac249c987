//! The messages on the agent WebSocket (text frames, one JSON object each).
//!
//! The first frame from the agent is the spec's registration message
//! ([`Registration`], untagged, exactly the spec's fields plus `publicKey`
//! and `version`). Every later frame is tagged with `type`: the server sends
//! [`ServerMessage`] (`registered`, `command`, `error`), the agent sends
//! [`AgentMessage`] (`response`). The README's "On-premise agent" section
//! documents the same schemas for agent authors in other languages.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::agent::seal::SealedConfig;
use crate::imports::{HttpCall, LogEntry, LogLevel};
use crate::model::{ConfigSchema, ExecutionModel};

/// The agent's first frame. Its `Debug` hides the token.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Registration {
    /// Stable id chosen by the operator (e.g. `agent-prod-01`).
    pub agent_id: String,
    /// Display name.
    pub agent_name: String,
    /// Names of the connectors this agent executes.
    pub connector_names: Vec<String>,
    /// An agent token issued by `POST /api/agents/tokens`.
    pub api_token: String,
    /// The agent's X25519 public key (base64); configs are sealed to it.
    pub public_key: String,
    /// The agent's software version, shown in `GET /api/agents`.
    #[serde(default)]
    pub version: Option<String>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("agent_id", &self.agent_id)
            .field("agent_name", &self.agent_name)
            .field("connector_names", &self.connector_names)
            .field("api_token", &"***")
            .field("public_key", &self.public_key)
            .field("version", &self.version)
            .finish()
    }
}

/// A frame from the server after registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ServerMessage {
    /// Registration accepted.
    #[serde(rename_all = "camelCase")]
    Registered {
        /// The server's version.
        server_version: String,
        /// How often the server pings; an agent that misses about three is
        /// dropped.
        heartbeat_seconds: u64,
        /// Commands the server sends this agent at once, at most.
        max_in_flight: usize,
    },
    /// Execute a command.
    Command(Box<AgentCommand>),
    /// The server refuses something (sent before a policy close).
    Error {
        /// Machine-readable code (e.g. `INVALID_TOKEN`).
        code: String,
        /// Human-readable reason.
        message: String,
    },
}

/// A frame from the agent after registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum AgentMessage {
    /// The outcome of a command.
    Response(Box<AgentResponse>),
    /// The agent is stopping: send it nothing new; it answers what it
    /// holds, then closes.
    Draining,
}

/// One command for the agent: everything it needs to run the connector
/// without access to the server's store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentCommand {
    /// Unique per command; the response carries it back, and it is the
    /// sealed config's associated data.
    pub command_id: String,
    /// The connector's id.
    pub connector_id: String,
    /// The connector's name.
    pub connector_name: String,
    /// How to run it.
    pub execution_model: ExecutionModel,
    /// The command to run.
    pub command: String,
    /// The command's parameters (validated by the server).
    #[serde(default)]
    pub params: Value,
    /// The workflow variables (`floh.variables`).
    #[serde(default)]
    pub variables: Value,
    /// The script (script and oas connectors); the agent caches its
    /// compiled bytecode by source hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_source: Option<String>,
    /// The built-in type (built_in connectors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// The endpoint (external connectors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// The effective schema; the agent builds its secret redactor from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_schema: Option<ConfigSchema>,
    /// The connector's log level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<LogLevel>,
    /// The decrypted config, sealed to this agent's key.
    pub config: SealedConfig,
    /// The deadline in milliseconds; the server gives up after it too.
    pub timeout_ms: u64,
    /// The workflow step, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_id: Option<String>,
    /// The workflow run, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

/// The outcome of one command, shaped like the API's execution response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentResponse {
    /// The command's id.
    pub command_id: String,
    /// The ConnectorResult's `success` (false when the execution failed).
    pub success: bool,
    /// The ConnectorResult's `data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// The ConnectorResult's `outputVariables`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_variables: Option<Value>,
    /// The ConnectorResult's `error`, or why the execution failed (secrets
    /// masked by the agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Set when the execution itself failed (e.g. `TIMEOUT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The JavaScript stack of a thrown error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// Wall time on the agent.
    pub duration_ms: u64,
    /// Captured log lines (secrets masked).
    #[serde(default)]
    pub logs: Vec<LogEntry>,
    /// HTTP requests made (secrets masked).
    #[serde(default)]
    pub http_calls: Vec<HttpCall>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn registration_is_the_spec_message_plus_key_and_version() {
        let registration: Registration = serde_json::from_value(json!({
            "agentId": "agent-prod-01",
            "agentName": "Production Agent",
            "connectorNames": ["internal-ldap", "sap-hr"],
            "apiToken": "flo_agent_x",
            "publicKey": "AAAA",
            "version": "0.1.0"
        }))
        .expect("test");
        assert_eq!(registration.connector_names, ["internal-ldap", "sap-hr"]);
        assert!(!format!("{registration:?}").contains("flo_agent_x"));
        // The spec's four fields alone are not enough: no key, no sealing.
        let missing_key = serde_json::from_value::<Registration>(json!({
            "agentId": "a", "agentName": "A", "connectorNames": [], "apiToken": "t"
        }));
        assert!(missing_key.is_err());
        let unknown = serde_json::from_value::<Registration>(json!({
            "agentId": "a", "agentName": "A", "connectorNames": [], "apiToken": "t",
            "publicKey": "k", "extra": 1
        }));
        assert!(unknown.is_err());
    }

    #[test]
    fn server_messages_are_tagged_by_type() {
        let registered = ServerMessage::Registered {
            server_version: "0.1.0".into(),
            heartbeat_seconds: 5,
            max_in_flight: 64,
        };
        assert_eq!(
            serde_json::to_value(&registered).expect("test"),
            json!({"type": "registered", "serverVersion": "0.1.0", "heartbeatSeconds": 5, "maxInFlight": 64})
        );
        let error: ServerMessage = serde_json::from_value(
            json!({"type": "error", "code": "INVALID_TOKEN", "message": "invalid agent token"}),
        )
        .expect("test");
        assert!(matches!(error, ServerMessage::Error { code, .. } if code == "INVALID_TOKEN"));
    }

    #[test]
    fn command_and_response_round_trip() {
        let command = json!({
            "type": "command",
            "commandId": "c1",
            "connectorId": "id1",
            "connectorName": "crm",
            "executionModel": "script",
            "command": "listContacts",
            "params": {"limit": 5},
            "variables": {},
            "scriptSource": "function listContacts() {}",
            "config": {"ephemeralPublicKey": "e", "nonce": "n", "ciphertext": "c"},
            "timeoutMs": 30000
        });
        let parsed: ServerMessage = serde_json::from_value(command.clone()).expect("test");
        assert_eq!(serde_json::to_value(&parsed).expect("test"), command);

        let response = json!({
            "type": "response",
            "commandId": "c1",
            "success": true,
            "data": {"contacts": []},
            "durationMs": 3,
            "logs": [],
            "httpCalls": []
        });
        let parsed: AgentMessage = serde_json::from_value(response.clone()).expect("test");
        assert_eq!(serde_json::to_value(&parsed).expect("test"), response);
        assert_eq!(
            serde_json::to_value(AgentMessage::Draining).expect("test"),
            json!({"type": "draining"})
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for frame in [
            "",
            "null",
            "[]",
            "{\"type\":\"nope\"}",
            "{\"type\":\"response\"}",
        ] {
            assert!(
                serde_json::from_str::<AgentMessage>(frame).is_err(),
                "{frame}"
            );
        }
    }
}

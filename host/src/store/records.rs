//! What the store keeps, serialized as JSON inside redb values.

use serde::{Deserialize, Serialize};

use crate::imports::{HttpCall, LogEntry};
use crate::model::ConnectorDefinition;

/// A stored connector. The definition's `config` is always `None` here: the
/// config lives only in `sealed_config`, encrypted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorRecord {
    /// Stable id.
    pub id: String,
    /// The definition without its config.
    pub definition: ConnectorDefinition,
    /// The sealed connection config.
    #[serde(default, with = "base64_bytes")]
    pub sealed_config: Option<Vec<u8>>,
    /// The engine build that compiled the stored bytecode (scripts).
    #[serde(default)]
    pub engine_version: Option<String>,
    /// An `oas` connector's spec: its SHA-256 in the spec table (the
    /// definition's `openapiSpec` is not kept inline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_digest: Option<String>,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: u64,
    /// Last update, Unix milliseconds.
    pub updated_at_ms: u64,
}

/// One execution, as kept in a connector's bounded history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionRecord {
    /// Execution id.
    pub id: String,
    /// The command.
    pub command: String,
    /// `ok` (the connector returned a result, successful or not) or an error code.
    pub status: String,
    /// The result's `success`.
    pub success: bool,
    /// The result's error, or the execution error's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Start time, Unix milliseconds.
    pub started_at_ms: u64,
    /// Wall time.
    pub duration_ms: u64,
    /// Captured log lines (secrets masked).
    #[serde(default)]
    pub logs: Vec<LogEntry>,
    /// HTTP requests made.
    #[serde(default)]
    pub http_calls: Vec<HttpCall>,
    /// The on-premise agent that ran it (`None`: on this server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything.
    Admin,
    /// Read connectors and execute or test them; no changes.
    Executor,
}

/// What a request does, for the role check every front end shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read anything.
    Read,
    /// Execute or test a connector.
    Execute,
    /// Create, change or delete anything.
    Change,
}

impl Role {
    /// Whether this role may do `access`: executors read and execute,
    /// admins do everything. The one place this rule lives.
    pub fn allows(self, access: Access) -> bool {
        match self {
            Role::Admin => true,
            Role::Executor => access != Access::Change,
        }
    }

    /// `admin` or `executor`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Executor => "executor",
        }
    }
}

/// An API token (only its SHA-256 is stored, as the key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenRecord {
    /// Token id (not the secret).
    pub id: String,
    /// A label.
    pub name: String,
    /// Its permissions.
    pub role: Role,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: u64,
}

mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        bytes: &Option<Vec<u8>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => serializer.serialize_some(&STANDARD.encode(bytes)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        let text: Option<String> = Option::deserialize(deserializer)?;
        text.map(|t| STANDARD.decode(t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

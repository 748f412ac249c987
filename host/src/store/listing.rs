//! A connector as listings show it: the fields that tell connectors apart.

use serde::{Deserialize, Serialize};

use super::ConnectorRecord;
use crate::model::ExecutionModel;

/// A connector as listed: the fields that tell connectors apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorListing {
    /// Stable id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// The type name.
    #[serde(default)]
    pub type_name: Option<String>,
    /// How it runs.
    pub execution_model: ExecutionModel,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Its version.
    #[serde(default)]
    pub version: Option<String>,
    /// Its category.
    #[serde(default)]
    pub category: Option<String>,
    /// Its tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The commands its own `configSchema` declares (a built-in instance
    /// declares none: its type's apply).
    #[serde(default)]
    pub commands: Vec<String>,
    /// An external connector's endpoint.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// Whether a connection config is stored.
    #[serde(default)]
    pub configured: bool,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: u64,
    /// Last update, Unix milliseconds.
    pub updated_at_ms: u64,
}

impl ConnectorListing {
    /// The listing entry of `record`.
    pub fn of(record: &ConnectorRecord) -> Self {
        let definition = &record.definition;
        Self {
            id: record.id.clone(),
            name: definition.name.clone(),
            type_name: definition.type_name.clone(),
            execution_model: definition.execution_model,
            description: definition.description.clone(),
            version: definition.version.clone(),
            category: definition.category.clone(),
            tags: definition.tags.clone(),
            commands: definition
                .config_schema
                .as_ref()
                .map(|schema| schema.commands.keys().cloned().collect())
                .unwrap_or_default(),
            endpoint_url: definition.endpoint_url.clone(),
            configured: record.sealed_config.is_some(),
            created_at_ms: record.created_at_ms,
            updated_at_ms: record.updated_at_ms,
        }
    }
}

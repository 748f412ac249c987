//! Listing connectors: the filter rule every front end shares, and a
//! summary per connector read from the store's listing table (nothing
//! decrypted, no script or spec copied) with its newest execution, so a
//! list of thousands of connectors stays cheap. The whole definition of one
//! connector is `ConnectorService::get`.

use std::collections::HashMap;

use serde::Serialize;

use super::{ConnectorService, ServiceError};
use crate::model::ExecutionModel;
use crate::store::{ConnectorListing, ExecutionSummary};

/// Filters for listing connectors.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListFilter {
    /// Only this category.
    pub category: Option<String>,
    /// Only connectors with this tag.
    pub tag: Option<String>,
    /// Only this execution model (`built_in`, `script`, `external`, `oas`).
    pub model: Option<ExecutionModel>,
    /// Case-insensitive text in name, type or description.
    pub q: Option<String>,
}

impl ListFilter {
    /// Whether `connector` passes this filter. The one place this rule
    /// lives: the API, the UI and the MCP tools all list through it.
    pub fn matches(&self, connector: &ConnectorSummary) -> bool {
        let text = self.q.as_deref().map(str::to_lowercase);
        self.category
            .as_ref()
            .is_none_or(|c| connector.category.as_ref() == Some(c))
            && self.tag.as_ref().is_none_or(|t| connector.tags.contains(t))
            && self.model.is_none_or(|m| connector.execution_model == m)
            && text.is_none_or(|text| {
                [
                    Some(&connector.name),
                    connector.type_name.as_ref(),
                    connector.description.as_ref(),
                ]
                .into_iter()
                .flatten()
                .any(|field| field.to_lowercase().contains(&text))
            })
    }
}

/// A connector as listed: what tells connectors apart and how it last ran.
/// The whole definition (config masked, script, schema, spec) is `GET
/// /api/connectors/{id}`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorSummary {
    /// Stable id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// The type name.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// How it runs.
    pub execution_model: ExecutionModel,
    /// What it is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Its category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Its tags.
    pub tags: Vec<String>,
    /// Its command names (a built-in instance has its type's).
    pub commands: Vec<String>,
    /// An external connector's endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// Whether a connection config is stored (its values are never listed).
    pub configured: bool,
    /// Creation time, Unix milliseconds.
    #[schema(minimum = 0)]
    pub created_at_ms: u64,
    /// Last update, Unix milliseconds.
    #[schema(minimum = 0)]
    pub updated_at_ms: u64,
    /// Its newest execution; absent when it has never run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_execution: Option<ExecutionSummary>,
}

impl ConnectorService {
    /// Connectors matching `filter`, by name, each with its newest
    /// execution (queued history is written first).
    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<ConnectorSummary>, ServiceError> {
        self.history.flush().await;
        let listing = self.store.listing().await?;
        // A built-in instance lists its type's commands: one lookup per type.
        let mut type_commands: HashMap<String, Vec<String>> = HashMap::new();
        let mut connectors: Vec<ConnectorSummary> = listing
            .into_iter()
            .map(|(entry, last)| {
                let mut summary = summary(entry, last);
                if summary.execution_model == ExecutionModel::BuiltIn {
                    let type_name = summary.type_name.clone().unwrap_or_default();
                    summary.commands = type_commands
                        .entry(type_name)
                        .or_insert_with_key(|name| self.type_commands(name))
                        .clone();
                }
                summary
            })
            .filter(|summary| filter.matches(summary))
            .collect();
        connectors.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(connectors)
    }

    /// The latest execution summaries (oldest first) of the connectors with
    /// ids `ids`, by id; connectors that never ran are left out.
    pub async fn activity_of(
        &self,
        ids: Vec<String>,
    ) -> Result<HashMap<String, Vec<ExecutionSummary>>, ServiceError> {
        self.history.flush().await;
        Ok(self.store.activity_of(ids).await?)
    }

    fn type_commands(&self, type_name: &str) -> Vec<String> {
        self.types
            .get(type_name)
            .map(|handler| {
                handler
                    .descriptor()
                    .config_schema
                    .commands
                    .into_keys()
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn summary(entry: ConnectorListing, last: Option<ExecutionSummary>) -> ConnectorSummary {
    ConnectorSummary {
        id: entry.id,
        name: entry.name,
        type_name: entry.type_name,
        execution_model: entry.execution_model,
        description: entry.description,
        version: entry.version,
        category: entry.category,
        tags: entry.tags,
        commands: entry.commands,
        endpoint_url: entry.endpoint_url,
        configured: entry.configured,
        created_at_ms: entry.created_at_ms,
        updated_at_ms: entry.updated_at_ms,
        last_execution: last,
    }
}

//! Tools over connectors as they are stored: list, read, create, replace a
//! script; and the built-in types.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::errors::ToolError;
use crate::model::{CommandSchema, ConnectorDefinition};
use crate::service::{
    ConnectorService, ConnectorView, Diagnostic, ListFilter, ScriptUpdate, ScriptUpdateOutcome,
};

/// No arguments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArguments {}

/// Filters for `list_connectors`; all optional.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListConnectorsInput {
    /// Only connectors of this category (e.g. `crm`).
    #[serde(default)]
    pub category: Option<String>,
    /// Only connectors with this tag.
    #[serde(default)]
    pub tag: Option<String>,
    /// Only this execution model: `built_in`, `script`, `external` or `oas`.
    #[serde(default)]
    pub model: Option<String>,
    /// Case-insensitive text in the name, type or description.
    #[serde(default)]
    pub q: Option<String>,
}

/// One connector in a listing.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorSummary {
    /// Stable id.
    pub id: String,
    /// Unique name (usable wherever an id is).
    pub name: String,
    /// `built_in`, `script`, `external` or `oas`.
    pub execution_model: String,
    /// The type (for `built_in`, the registered type).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    /// What it connects to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its commands.
    pub commands: Vec<String>,
}

/// The result of `list_connectors`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ConnectorsOutput {
    /// The connectors, by name.
    pub connectors: Vec<ConnectorSummary>,
}

/// A connector by id or name.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorRef {
    /// The connector's id (`con_…`) or name.
    pub connector: String,
}

/// One connector, secrets masked.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ConnectorOutput {
    /// The connector as the API returns it: id, name, executionModel,
    /// configSchema (connectionConfig fields and commands), scriptSource,
    /// config (secret fields are `***`), createdAtMs, updatedAtMs.
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub connector: Value,
}

/// The result of `list_connector_types`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TypesOutput {
    /// Each type: name, version, description, configSchema, source
    /// (`native` or `plugin`).
    #[schemars(with = "Vec<serde_json::Map<String, Value>>")]
    pub types: Vec<Value>,
}

/// What `create_connector` needs.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnectorInput {
    /// The connector definition: the `definition` from parse_openapi_spec
    /// or generate_connector_script, or one written by hand with `name`,
    /// `executionModel` (`script`, `built_in`, `external`, `oas`),
    /// `configSchema` ({connectionConfig, commands}), `scriptSource`,
    /// `type`, `endpointUrl`, `allowedNetworks`.
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub definition: Value,
    /// The connection config: values for the connectionConfig fields, e.g.
    /// {"baseUrl": "https://api.example.com", "bearerToken": "..."}.
    /// Replaces any `config` inside `definition`.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub config: Option<Value>,
    /// A name to use instead of the definition's.
    #[serde(default)]
    pub name: Option<String>,
}

/// What `update_connector_script` needs.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateScriptInput {
    /// The connector's id or name.
    pub connector: String,
    /// The complete new JavaScript source: one global function per command.
    pub script: String,
    /// New command declarations, replacing the current ones: an object from
    /// command name to {description, params: [names], paramSchema: {name:
    /// {type, required, description, default}}, outputs: [names]}. Leave
    /// out to keep the declared commands.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub commands: Option<Value>,
}

/// The result of `update_connector_script`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateScriptOutput {
    /// The connector after the update (secrets masked).
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub connector: Value,
    /// Commands declared now that were not before.
    pub commands_added: Vec<String>,
    /// Commands declared before that are gone.
    pub commands_removed: Vec<String>,
    /// Warnings from the check (errors would have stopped the update).
    pub diagnostics: Vec<Diagnostic>,
}

fn to_value(value: &impl Serialize) -> Result<Value, ToolError> {
    serde_json::to_value(value).map_err(|e| ToolError::new("INTERNAL_ERROR", e.to_string()))
}

fn connector_value(view: &ConnectorView) -> Result<Value, ToolError> {
    to_value(view)
}

/// `list_connectors`.
pub async fn list(
    service: &ConnectorService,
    input: ListConnectorsInput,
) -> Result<Value, ToolError> {
    let filter: ListFilter = serde_json::from_value(json!({
        "category": input.category,
        "tag": input.tag,
        "model": input.model,
        "q": input.q,
    }))
    .map_err(|e| ToolError::new("VALIDATION_ERROR", e.to_string()))?;
    let connectors = service
        .list(&filter)
        .await?
        .into_iter()
        .map(|listed| ConnectorSummary {
            id: listed.id,
            execution_model: listed.execution_model.as_str().to_string(),
            r#type: listed.type_name,
            description: listed.description,
            commands: listed.commands,
            name: listed.name,
        })
        .collect();
    to_value(&ConnectorsOutput { connectors })
}

/// `get_connector`.
pub async fn get(service: &ConnectorService, input: ConnectorRef) -> Result<Value, ToolError> {
    let view = service.get(&input.connector).await?;
    Ok(json!({ "connector": connector_value(&view)? }))
}

/// `list_connector_types`.
pub fn types(service: &ConnectorService) -> Result<Value, ToolError> {
    Ok(json!({ "types": to_value(&service.types().descriptors())? }))
}

/// `create_connector`.
pub async fn create(
    service: &ConnectorService,
    input: CreateConnectorInput,
) -> Result<Value, ToolError> {
    let mut definition: ConnectorDefinition =
        serde_json::from_value(input.definition).map_err(|e| {
            ToolError::new(
                "INVALID_BODY",
                format!("`definition` is not a connector definition: {e}"),
            )
        })?;
    if let Some(config) = input.config {
        definition.config = Some(config);
    }
    if let Some(name) = input.name {
        definition.name = name;
    }
    let view = service.create(definition).await?;
    Ok(json!({ "connector": connector_value(&view)? }))
}

/// `update_connector_script`.
pub async fn update_script(
    service: &ConnectorService,
    input: UpdateScriptInput,
) -> Result<Value, ToolError> {
    let commands: Option<BTreeMap<String, CommandSchema>> = input
        .commands
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| {
            ToolError::new(
                "VALIDATION_ERROR",
                format!("`commands` is not a map of command declarations: {e}"),
            )
        })?;
    let update = ScriptUpdate {
        script_source: input.script,
        commands,
    };
    match service.update_script(&input.connector, update).await? {
        ScriptUpdateOutcome::Rejected(check) => {
            let first = check
                .diagnostics
                .first()
                .map(|d| match (d.line, d.column) {
                    (Some(line), Some(column)) => {
                        format!("{} (line {line}, column {column})", d.message)
                    }
                    _ => d.message.clone(),
                })
                .unwrap_or_default();
            Err(ToolError::new(
                "SCRIPT_CHECK_FAILED",
                format!("the script was not saved: {first}"),
            )
            .with_extra(json!({ "diagnostics": to_value(&check.diagnostics)? })))
        }
        ScriptUpdateOutcome::Saved {
            connector,
            added,
            removed,
            check,
        } => to_value(&UpdateScriptOutput {
            connector: connector_value(&connector)?,
            commands_added: added,
            commands_removed: removed,
            diagnostics: check.diagnostics,
        }),
    }
}

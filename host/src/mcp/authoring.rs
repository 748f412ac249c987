//! Tools that draft connectors without saving anything: from an OpenAPI
//! description, or from a structured description of the endpoints.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};

use super::errors::ToolError;
use super::resources::{SCRIPT_API_REFERENCE, SCRIPT_API_URI};
use crate::model::ConnectorDefinition;
use crate::service::{
    ConnectorService, Diagnostic, OpenApiImport, ScriptGeneration, missing_for_generation, skeleton,
};

/// An operation that did not become a command.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SkippedOperation {
    /// `METHOD /path`, a webhook or a security scheme.
    pub operation: String,
    /// Why it was skipped.
    pub reason: String,
}

/// The result of `parse_openapi_spec`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParseOutput {
    /// The draft connector definition (executionModel `oas`), ready for
    /// create_connector: name, configSchema (connectionConfig fields and
    /// commands), scriptSource, openapiSpec.
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub definition: Value,
    /// The spec's version: `2.0`, `3.0` or `3.1`.
    pub spec_version: String,
    /// What did not become a command, and why.
    pub skipped: Vec<SkippedOperation>,
    /// What to set before the connector can be used or connected (an
    /// OAuth2 endpoint the spec does not give, say).
    pub warnings: Vec<String>,
    /// The draft in a few lines: commands, config fields, next step.
    pub summary: String,
}

/// The result of `generate_connector_script`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenerateOutput {
    /// The connector definition (executionModel `script`), ready for
    /// create_connector: name, configSchema, scriptSource.
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub definition: Value,
    /// True when the script compiles and defines every declared command.
    pub ok: bool,
    /// The compiler's findings: severity, code, message, line, column.
    pub diagnostics: Vec<Diagnostic>,
    /// False when your own `script` was checked instead of a generated one.
    pub generated: bool,
    /// The definition in a few lines: commands, config fields, next step.
    pub summary: String,
}

fn to_value(value: &impl Serialize) -> Result<Value, ToolError> {
    serde_json::to_value(value).map_err(|e| ToolError::new("INTERNAL_ERROR", e.to_string()))
}

/// `parse_openapi_spec`.
pub async fn parse(service: &ConnectorService, input: OpenApiImport) -> Result<Value, ToolError> {
    let draft = service.parse_openapi(input.into()).await?;
    let mut summary = summarize(&draft.definition);
    if !draft.skipped.is_empty() {
        summary.push_str(&format!(
            "\n{} operation(s) skipped (see `skipped`).",
            draft.skipped.len()
        ));
    }
    if !draft.warnings.is_empty() {
        summary.push_str(&format!(
            "\n{} thing(s) to set before connecting (see `warnings`).",
            draft.warnings.len()
        ));
    }
    to_value(&ParseOutput {
        summary,
        warnings: draft.warnings,
        definition: to_value(&draft.definition)?,
        spec_version: draft.spec_version.to_string(),
        skipped: draft
            .skipped
            .into_iter()
            .map(|s| SkippedOperation {
                operation: s.operation,
                reason: s.reason,
            })
            .collect(),
    })
}

/// `generate_connector_script`.
pub async fn generate(
    service: &ConnectorService,
    input: ScriptGeneration,
) -> Result<Value, ToolError> {
    if input.endpoints.is_empty() {
        let missing = missing_for_generation(&input);
        return Err(ToolError::new(
            "MISSING_ENDPOINTS",
            "a description alone is not enough to generate a connector: list the endpoints (command, method, path, params) and call again, or write the script yourself from the skeleton and the script API reference and pass it as `script` with its endpoints",
        )
        .with_extra(json!({
            "missing": missing,
            "skeleton": skeleton(),
            "scriptApiReference": SCRIPT_API_REFERENCE,
            "scriptApiResource": SCRIPT_API_URI,
        })));
    }
    let generated = service.generate_script(input).await?;
    let mut summary = summarize(&generated.definition);
    if !generated.check.ok {
        summary.push_str("\nThe script has errors (see `diagnostics`): fix them before creating.");
    }
    to_value(&GenerateOutput {
        summary,
        definition: to_value(&generated.definition)?,
        ok: generated.check.ok,
        diagnostics: generated.check.diagnostics,
        generated: generated.generated,
    })
}

/// A few lines a model can read: commands, config fields, the next step.
fn summarize(definition: &ConnectorDefinition) -> String {
    let schema = definition.config_schema.clone().unwrap_or_default();
    let commands: Vec<String> = schema
        .commands
        .iter()
        .map(|(name, command)| {
            if command.params.is_empty() {
                name.clone()
            } else {
                format!("{name}({})", command.params.join(", "))
            }
        })
        .collect();
    let fields: Vec<String> = schema
        .connection_config
        .iter()
        .map(|(name, field)| {
            let mut notes = Vec::new();
            if field.secret {
                notes.push("secret".to_string());
            }
            if field.required {
                notes.push("required".to_string());
            }
            if let Some(default) = &field.default {
                notes.push(format!("default {default}"));
            }
            if notes.is_empty() {
                name.clone()
            } else {
                format!("{name} ({})", notes.join(", "))
            }
        })
        .collect();
    format!(
        "Connector `{}` ({}): {} command(s): {}.\nConfig fields: {}.\nNext: create_connector with this definition and a config giving the required fields, then test_connector.",
        definition.name,
        definition.execution_model.as_str(),
        commands.len(),
        commands.join(", "),
        if fields.is_empty() {
            "none".to_string()
        } else {
            fields.join(", ")
        }
    )
}

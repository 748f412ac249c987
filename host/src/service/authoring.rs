//! Helping people write connectors before anything is saved: a script
//! started from the declared commands, what an external service says about
//! itself, parsing an OpenAPI description into a draft, and what
//! re-importing one would change on an existing connector.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{ConnectorService, ServiceError};
use crate::connectors::external;
use crate::model::{CommandSchema, ConfigSchema, ExecutionModel, FieldSchema, OpenApiSpec};
use crate::oas::operations::Skipped;
use crate::oas::{Draft, ImportedOperation, Selection};
use crate::runtime::{ConnectorResult, ExecutionContext};

/// How long probing an external service may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// What an external service answered before it is registered.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalProbe {
    /// Its `configSchema` from `GET /schema`, when it answered one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<ConfigSchema>,
    /// `GET /health`: `None` when it has no such endpoint (404/405).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<ConnectorResult>,
}

/// A request to turn an OpenAPI description into a draft connector.
#[derive(Debug, Clone)]
pub struct OpenApiParse {
    /// The spec: an object, or JSON/YAML text.
    pub spec: OpenApiSpec,
    /// The operations to import (all when empty).
    pub select: Selection,
    /// Where a spec with relative server URLs is served.
    pub base_url: Option<String>,
}

impl OpenApiParse {
    /// Every operation of `spec`, with its own server URLs.
    pub fn whole(spec: OpenApiSpec) -> Self {
        Self {
            spec,
            select: Selection::default(),
            base_url: None,
        }
    }
}

/// What re-importing an OpenAPI description into an existing `oas`
/// connector would change. Nothing is replaced until the caller applies it
/// (an update with `openapiSpec` and `openapiSelect`); the connection config
/// is kept either way.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReimportPreview {
    /// Commands the new import has and the connector does not.
    pub added: Vec<String>,
    /// Commands the connector has and the new import does not.
    pub removed: Vec<String>,
    /// Commands in both whose parameters, outputs or description differ.
    pub changed: Vec<CommandChange>,
    /// Commands in both, the same.
    pub unchanged: Vec<String>,
    /// Connection-config fields the new import adds.
    pub config_fields_added: Vec<String>,
    /// Connection-config fields that go away (their values are dropped).
    pub config_fields_removed: Vec<String>,
    /// The selection the preview used, to apply it unchanged.
    pub select: Selection,
    /// The new import's operations.
    pub operations: Vec<ImportedOperation>,
    /// Operations of the new spec that do not become commands, and why.
    pub skipped: Vec<Skipped>,
}

/// How one command would change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommandChange {
    /// The command.
    pub command: String,
    /// What differs, one sentence each.
    pub differences: Vec<String>,
}

impl ConnectorService {
    /// A script that defines every command of `schema`, for a person to
    /// fill in: each function calls `floh.http.get` on the configured base
    /// URL and returns the documented result shape. It compiles and defines
    /// every declared command, so it passes `check_script` as it is.
    pub fn script_template(name: &str, schema: &ConfigSchema) -> String {
        let mut script = String::new();
        let _ = writeln!(
            script,
            "// {} - one global function per declared command. Each is called with the",
            one_line(name)
        );
        script.push_str(
            "// invocation's parameters and returns { success, data, outputVariables, error }.\n",
        );
        script.push_str("// The script API (floh.http, floh.log, floh.config, ...) is described in floh.d.ts.\n");
        let url_field = schema
            .connection_config
            .keys()
            .find(|field| field.to_ascii_lowercase().contains("url"));
        let secret_field = schema
            .connection_config
            .iter()
            .find(|(_, field)| field.secret)
            .map(|(name, _)| name);
        let base = match url_field {
            Some(field) => format!("floh.config{}", property_access(field)),
            None => "'https://api.example.com'".to_string(),
        };
        script.push_str(
            "\nfunction requestHeaders() {\n  return {\n    Accept: 'application/json',\n",
        );
        if let Some(secret) = secret_field {
            let _ = writeln!(
                script,
                "    Authorization: 'Bearer ' + floh.config{},",
                property_access(secret)
            );
        }
        script.push_str("  };\n}\n");
        for (command, definition) in &schema.commands {
            script.push('\n');
            script.push_str(&command_template(command, definition, &base));
        }
        script
    }

    /// Ask an external service at `endpoint_url` for `/schema` and `/health`
    /// under the egress policy a connector with `allowed_networks` would
    /// have, so a person sees what it offers before registering it.
    pub async fn probe_external(
        &self,
        endpoint_url: &str,
        allowed_networks: &[String],
    ) -> Result<ExternalProbe, ServiceError> {
        if !(endpoint_url.starts_with("http://") || endpoint_url.starts_with("https://")) {
            return Err(ServiceError::Invalid(
                "`endpointUrl` must be an absolute http(s) URL".into(),
            ));
        }
        let context = ExecutionContext {
            egress: self.egress_for(allowed_networks)?,
            ..ExecutionContext::new("external-probe")
        };
        let mut calls = self
            .engine
            .host_calls(&context, Instant::now() + PROBE_TIMEOUT)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let schema = external::fetch_schema(endpoint_url, &mut calls).await;
        let health = external::health(endpoint_url, &mut calls).await;
        Ok(ExternalProbe { schema, health })
    }

    /// Parse an OpenAPI description into a draft connector (nothing stored).
    /// Large specs take real CPU time, so the work runs off the async
    /// workers.
    pub async fn parse_openapi(&self, request: OpenApiParse) -> Result<Draft, ServiceError> {
        parse_openapi(request).await
    }

    /// What re-importing `spec` into the `oas` connector `id_or_name` would
    /// change. `select` defaults to the connector's own selection plus every
    /// operation the new spec has that the old one did not (new operations
    /// are offered, deselected ones stay out).
    pub async fn reimport_preview(
        &self,
        id_or_name: &str,
        spec: OpenApiSpec,
        select: Option<Selection>,
    ) -> Result<ReimportPreview, ServiceError> {
        let record = self.find(id_or_name).await?;
        let definition = &record.definition;
        if definition.execution_model != ExecutionModel::Oas {
            return Err(ServiceError::Invalid(format!(
                "`{}` was not imported from OpenAPI; only oas connectors can be re-imported",
                definition.name
            )));
        }
        let select = match select {
            Some(select) => select,
            None => {
                let stored = definition.openapi_select.clone().unwrap_or_default();
                if stored.is_empty() {
                    stored
                } else {
                    let old_ids = match self.spec_of(&record).await? {
                        Some(old) => operation_ids(old).await.unwrap_or_default(),
                        None => BTreeSet::new(),
                    };
                    let new_ids = operation_ids(spec.clone()).await?;
                    let mut select = stored;
                    select
                        .operation_ids
                        .extend(new_ids.difference(&old_ids).cloned());
                    select
                }
            }
        };
        let draft = parse_openapi(OpenApiParse {
            spec,
            select: select.clone(),
            base_url: None,
        })
        .await?;
        let old = definition.config_schema.clone().unwrap_or_default();
        let new = draft.definition.config_schema.clone().unwrap_or_default();
        Ok(compare(old, new, select, draft))
    }

    /// The egress policy of a connector allowed `networks`.
    pub(super) fn egress_for(
        &self,
        networks: &[String],
    ) -> Result<crate::egress::EgressPolicy, ServiceError> {
        use crate::egress::{EgressPolicy, IpNetwork};
        // A network that is not CIDR is refused even where egress is open.
        let networks = networks
            .iter()
            .map(|n| n.parse::<IpNetwork>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ServiceError::Invalid(e.to_string()))?;
        if self.open_egress {
            return Ok(EgressPolicy::unrestricted());
        }
        Ok(EgressPolicy::allowing_networks(networks))
    }
}

async fn parse_openapi(request: OpenApiParse) -> Result<Draft, ServiceError> {
    if let Some(base) = &request.base_url
        && !(base.starts_with("http://") || base.starts_with("https://"))
    {
        return Err(ServiceError::Invalid(
            "`baseUrl` must be an absolute http(s) URL".into(),
        ));
    }
    tokio::task::spawn_blocking(move || {
        let mut draft = crate::oas::draft_from(request.spec, &request.select)
            .map_err(|e| ServiceError::InvalidSpec(e.to_string()))?;
        if let Some(base) = &request.base_url {
            crate::oas::draft::apply_base_url(&mut draft, base);
        }
        Ok(draft)
    })
    .await
    .map_err(|e| ServiceError::Internal(e.to_string()))?
}

/// The operationIds of every importable operation of `spec`.
async fn operation_ids(spec: OpenApiSpec) -> Result<BTreeSet<String>, ServiceError> {
    let draft = parse_openapi(OpenApiParse::whole(spec)).await?;
    Ok(draft
        .operations
        .into_iter()
        .filter_map(|operation| operation.operation_id)
        .collect())
}

fn compare(
    old: ConfigSchema,
    new: ConfigSchema,
    select: Selection,
    draft: Draft,
) -> ReimportPreview {
    let mut preview = ReimportPreview {
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
        unchanged: Vec::new(),
        config_fields_added: keys_missing(&new.connection_config, &old.connection_config),
        config_fields_removed: keys_missing(&old.connection_config, &new.connection_config),
        select,
        operations: draft.operations,
        skipped: draft.skipped,
    };
    for (command, schema) in &new.commands {
        match old.commands.get(command) {
            None => preview.added.push(command.clone()),
            Some(before) => {
                let differences = differences(before, schema);
                if differences.is_empty() {
                    preview.unchanged.push(command.clone());
                } else {
                    preview.changed.push(CommandChange {
                        command: command.clone(),
                        differences,
                    });
                }
            }
        }
    }
    preview.removed = keys_missing(&old.commands, &new.commands);
    preview
}

fn keys_missing<V>(from: &BTreeMap<String, V>, other: &BTreeMap<String, V>) -> Vec<String> {
    from.keys()
        .filter(|key| !other.contains_key(*key))
        .cloned()
        .collect()
}

fn differences(before: &CommandSchema, after: &CommandSchema) -> Vec<String> {
    let mut differences = Vec::new();
    if before.params != after.params {
        differences.push(format!(
            "parameters: {} → {}",
            list(&before.params),
            list(&after.params)
        ));
    } else if before.param_schema != after.param_schema {
        differences.push("parameter types, defaults or required flags changed".into());
    }
    if before.outputs != after.outputs {
        differences.push(format!(
            "outputs: {} → {}",
            list(&before.outputs),
            list(&after.outputs)
        ));
    }
    if before.description != after.description {
        differences.push("description changed".into());
    }
    differences
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.join(", ")
    }
}

/// One command's function in a template.
fn command_template(command: &str, definition: &CommandSchema, base: &str) -> String {
    let mut text = String::from("/**\n");
    if let Some(description) = &definition.description {
        let _ = writeln!(text, " * {}", one_line(description));
    }
    for param in &definition.params {
        let schema = definition.param_schema.get(param);
        let _ = writeln!(text, " * @param params.{}{}", param, param_note(schema));
    }
    if !definition.outputs.is_empty() {
        let _ = writeln!(text, " * Outputs: {}.", definition.outputs.join(", "));
    }
    text.push_str(" * @param {FlohParams} params\n * @returns {ConnectorResult}\n */\n");
    let header = if crate::oas::naming::is_identifier(command) {
        format!("function {command}(params) {{\n")
    } else {
        format!(
            "globalThis[{}] = function (params) {{\n",
            serde_json::to_string(command).unwrap_or_default()
        )
    };
    text.push_str(&header);
    let _ = writeln!(
        text,
        "  const response = floh.http.get({base} + '/', requestHeaders());"
    );
    text.push_str("  if (response.status >= 400) {\n");
    let _ = writeln!(
        text,
        "    return {{ success: false, error: '{}: HTTP ' + response.status }};",
        js_single_quoted(command)
    );
    text.push_str("  }\n");
    if definition.outputs.is_empty() {
        text.push_str("  return { success: true, data: response.body };\n");
    } else {
        text.push_str("  return {\n    success: true,\n    data: {\n");
        for output in &definition.outputs {
            let _ = writeln!(
                text,
                "      {}: response.body{},",
                object_key(output),
                property_access(output)
            );
        }
        text.push_str("    },\n  };\n");
    }
    text.push_str(if crate::oas::naming::is_identifier(command) {
        "}\n"
    } else {
        "};\n"
    });
    text
}

fn param_note(schema: Option<&FieldSchema>) -> String {
    let Some(schema) = schema else {
        return String::new();
    };
    let mut notes = Vec::new();
    if let Some(kind) = &schema.field_type {
        notes.push(
            serde_json::to_value(kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        );
    }
    if schema.required {
        notes.push("required".into());
    }
    if let Some(default) = &schema.default {
        notes.push(format!("default {default}"));
    }
    if let Some(description) = &schema.description {
        notes.push(one_line(description));
    }
    notes.retain(|note| !note.is_empty());
    if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join(", "))
    }
}

fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .replace("*/", "* /")
}

/// `.name` or `["odd-name"]`.
fn property_access(name: &str) -> String {
    if crate::oas::naming::is_identifier(name) {
        format!(".{name}")
    } else {
        format!("[{}]", serde_json::to_string(name).unwrap_or_default())
    }
}

fn object_key(name: &str) -> String {
    if crate::oas::naming::is_identifier(name) {
        name.to_string()
    } else {
        serde_json::to_string(name).unwrap_or_default()
    }
}

fn js_single_quoted(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('\'', "\\'")
        .replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(value: serde_json::Value) -> ConfigSchema {
        serde_json::from_value(value).expect("schema")
    }

    #[test]
    fn the_template_defines_every_command_and_uses_the_config() {
        let schema = schema(serde_json::json!({
            "connectionConfig": {
                "baseUrl": {"type": "string", "required": true},
                "apiKey": {"type": "string", "secret": true}
            },
            "commands": {
                "listContacts": {"params": ["limit"], "outputs": ["contacts", "total"],
                    "paramSchema": {"limit": {"type": "number", "default": 50}},
                    "description": "List contacts"},
                "odd-name": {},
                "delete": {}
            }
        }));
        let script = ConnectorService::script_template("my-crm", &schema);
        assert!(
            script.contains("function listContacts(params) {"),
            "{script}"
        );
        assert!(script.contains("globalThis[\"odd-name\"] = function (params) {"));
        assert!(script.contains("globalThis[\"delete\"] = function (params) {"));
        assert!(script.contains("floh.config.baseUrl + '/'"));
        assert!(script.contains("'Bearer ' + floh.config.apiKey"));
        assert!(script.contains("params.limit (number, default 50)"));
        assert!(script.contains("contacts: response.body.contacts,"));
    }

    #[test]
    fn comparing_finds_added_removed_and_changed_commands() {
        let old = schema(serde_json::json!({
            "connectionConfig": {"apiKey": {"secret": true}},
            "commands": {"a": {"params": ["x"]}, "b": {}, "c": {"description": "old"}}
        }));
        let new = schema(serde_json::json!({
            "connectionConfig": {"apiKey": {"secret": true}, "baseUrl": {}},
            "commands": {"a": {"params": ["x", "y"]}, "c": {"description": "old"}, "d": {}}
        }));
        let draft = Draft {
            definition: serde_json::from_value(
                serde_json::json!({"name": "x", "executionModel": "oas"}),
            )
            .expect("test value"),
            spec_version: "3.0",
            skipped: Vec::new(),
            warnings: Vec::new(),
            operations: Vec::new(),
            first_server: None,
        };
        let preview = compare(old, new, Selection::default(), draft);
        assert_eq!(preview.added, ["d"]);
        assert_eq!(preview.removed, ["b"]);
        assert_eq!(preview.unchanged, ["c"]);
        assert_eq!(
            preview.changed,
            [CommandChange {
                command: "a".into(),
                differences: vec!["parameters: x → x, y".into()]
            }]
        );
        assert_eq!(preview.config_fields_added, ["baseUrl"]);
        assert!(preview.config_fields_removed.is_empty());
    }
}

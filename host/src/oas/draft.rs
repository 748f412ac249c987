//! The draft connector: what `POST /api/connectors/parse-oas` returns and
//! `POST /api/connectors` accepts.

use serde::Serialize;
use serde_json::{Value, json};

use super::document::{self, SpecVersion};
use super::grant;
use super::operations::{self, Skipped};
use super::security::connection_config;
use super::{OasError, script};
pub use crate::model::Selection;
use crate::model::{CommandSchema, ConfigSchema, ConnectorDefinition, ExecutionModel, OpenApiSpec};

/// An import's result.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Draft {
    /// The connector definition, ready for `POST /api/connectors`.
    pub definition: ConnectorDefinition,
    /// The spec's declared version.
    pub spec_version: &'static str,
    /// Operations that did not become commands, and why.
    pub skipped: Vec<Skipped>,
    /// What a person should know before using the connector, such as an
    /// OAuth2 endpoint the spec does not give.
    pub warnings: Vec<String>,
    /// The first server's URL, for [`apply_base_url`].
    #[serde(skip)]
    pub first_server: Option<String>,
    /// The operations that became commands, in document order: what a
    /// person picks from (grouped by tag) and what a `Selection` matches.
    pub operations: Vec<ImportedOperation>,
}

/// One operation of the spec that became a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportedOperation {
    /// The command's name.
    pub command: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// Path template.
    pub path: String,
    /// The operationId, when the spec gives one (selectable one by one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// The operation's tags.
    pub tags: Vec<String>,
    /// Its summary (the command's description).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// The draft definition without the spec: what regeneration needs.
pub fn generate(spec: &OpenApiSpec, selection: &Selection) -> Result<Draft, OasError> {
    let (draft, parsed) = draft_inner(parse(spec)?, selection)?;
    drop_elsewhere(parsed);
    Ok(draft)
}

/// Build a draft from a parsed spec (an object, or JSON/YAML text in a
/// string). The draft keeps the spec, so the connector can be regenerated
/// from an update.
pub fn draft(spec: Value, selection: &Selection) -> Result<Draft, OasError> {
    let kept = OpenApiSpec::from_value(&spec);
    let (mut draft, _) = draft_inner(spec, selection)?;
    keep_spec(&mut draft, kept, selection);
    Ok(draft)
}

/// Build a draft from a spec as the client sent it. The spec is parsed
/// once, for generation, and the draft returns the client's text
/// unchanged.
pub fn draft_from(spec: OpenApiSpec, selection: &Selection) -> Result<Draft, OasError> {
    let (mut draft, parsed) = draft_inner(parse(&spec)?, selection)?;
    drop_elsewhere(parsed);
    keep_spec(&mut draft, spec, selection);
    Ok(draft)
}

/// Free a parsed spec on another thread: the tree of a large one (millions
/// of values) takes a noticeable time to free, which the caller need not
/// wait for.
fn drop_elsewhere(parsed: Value) {
    let large = match &parsed {
        Value::Object(map) => map
            .get("paths")
            .and_then(Value::as_object)
            .is_some_and(|p| p.len() > 1_000),
        _ => false,
    };
    if large {
        std::thread::spawn(move || drop(parsed));
    }
}

fn keep_spec(draft: &mut Draft, spec: OpenApiSpec, selection: &Selection) {
    draft.definition.openapi_spec = Some(spec);
    draft.definition.openapi_select = (!selection.is_empty()).then(|| selection.clone());
}

/// The spec as a value: an object as it is; a string as JSON or YAML text.
pub fn parse(spec: &OpenApiSpec) -> Result<Value, OasError> {
    let text = spec.json();
    if text.starts_with('"') {
        let text: String = serde_json::from_str(text)
            .map_err(|e| OasError::Unreadable(format!("invalid JSON string: {e}")))?;
        return document::parse_text(&text);
    }
    if text.len() > document::MAX_SPEC_BYTES {
        return Err(OasError::TooLarge(document::MAX_SPEC_BYTES));
    }
    serde_json::from_str(text).map_err(|e| OasError::Unreadable(format!("invalid JSON: {e}")))
}

/// The draft, and the parsed spec for the caller to free.
fn draft_inner(spec: Value, selection: &Selection) -> Result<(Draft, Value), OasError> {
    let spec = match spec {
        Value::String(text) => document::parse_text(&text)?,
        other => other,
    };
    let (version, spec) = document::normalize(spec)?;
    let first_server = spec
        .pointer("/servers/0/url")
        .and_then(Value::as_str)
        .map(str::to_string);
    let config = connection_config(&spec);
    let (mut plans, mut skipped) = operations::plan(&spec, &config.schemes);
    if !selection.is_empty() {
        plans.retain(|plan| {
            plan.operation_id
                .as_ref()
                .is_some_and(|id| selection.operation_ids.contains(id))
                || plan.tags.iter().any(|tag| selection.tags.contains(tag))
                || selection.paths.contains(&plan.path)
        });
    }
    for name in spec
        .get("webhooks")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, _)| name)
    {
        skipped.push(Skipped {
            operation: format!("webhook `{name}`"),
            reason: "webhooks are requests the API sends, not operations a connector calls".into(),
        });
    }
    let requirements = plans
        .iter()
        .map(|plan| (plan.security.as_slice(), plan.scopes.as_slice()));
    let (oauth2, warnings) = grant::settings_for(&config.grants, requirements);
    for (scheme, reason) in &config.unsupported {
        skipped.push(Skipped {
            operation: format!("security scheme `{scheme}`"),
            reason: reason.clone(),
        });
    }
    let title = spec
        .pointer("/info/title")
        .and_then(Value::as_str)
        .unwrap_or("Imported API");
    let api_version = spec
        .pointer("/info/version")
        .and_then(Value::as_str)
        .unwrap_or("1.0.0");
    let source = script::generate(title, api_version, &plans, &config.schemes);
    let operations = plans
        .iter()
        .map(|plan| ImportedOperation {
            command: plan.command.clone(),
            method: plan.method.clone(),
            path: plan.path.clone(),
            operation_id: plan.operation_id.clone(),
            tags: plan.tags.clone(),
            summary: plan.schema.description.clone(),
        })
        .collect();
    let mut commands: std::collections::BTreeMap<String, CommandSchema> = plans
        .into_iter()
        .map(|plan| (plan.command, plan.schema))
        .collect();
    commands.insert(
        "test".into(),
        CommandSchema {
            description: Some("Check connectivity and credentials".into()),
            ..CommandSchema::default()
        },
    );
    let name = slug(title);
    let description = spec
        .pointer("/info/description")
        .and_then(Value::as_str)
        .and_then(|text| text.lines().find(|line| !line.trim().is_empty()))
        .map(|line| line.trim().to_string())
        .unwrap_or_else(|| format!("{title}, imported from its OpenAPI description"));
    let definition = ConnectorDefinition {
        type_name: Some(name.clone()),
        name,
        description: Some(description),
        version: Some(api_version.to_string()),
        execution_model: ExecutionModel::Oas,
        category: None,
        tags: vec!["openapi".into()],
        config_schema: Some(ConfigSchema {
            connection_config: config.fields,
            commands,
            oauth2,
        }),
        config: None,
        script_source: Some(source),
        endpoint_url: None,
        log_level: None,
        allowed_networks: Vec::new(),
        openapi_spec: None,
        openapi_select: None,
    };
    let draft = Draft {
        definition,
        first_server,
        spec_version: match version {
            SpecVersion::Swagger2 => "2.0",
            SpecVersion::OpenApi30 => "3.0",
            SpecVersion::OpenApi31 => "3.1",
        },
        skipped,
        warnings,
        operations,
    };
    Ok((draft, spec))
}

/// Resolve a relative server URL against `base`: the `baseUrl` field gets
/// `base` + the spec's server path as its default. Absolute servers are left
/// alone (they already say where the API is).
pub fn apply_base_url(draft: &mut Draft, base: &str) {
    let Some(schema) = draft.definition.config_schema.as_mut() else {
        return;
    };
    let Some(field) = schema.connection_config.get_mut("baseUrl") else {
        return;
    };
    if field.default.is_some() {
        return;
    }
    let relative = draft.first_server.clone().unwrap_or_default();
    let joined = format!(
        "{}/{}",
        base.trim_end_matches('/'),
        relative.trim_start_matches('/')
    );
    field.default = Some(json!(joined.trim_end_matches('/')));
    field.description = Some("API base URL".into());
}

/// `My Pet Store API!` → `my-pet-store-api`.
fn slug(title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_end_matches('-').chars().take(60).collect();
    if slug.is_empty() {
        "imported-api".to_string()
    } else {
        slug
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_servers_are_joined_to_a_given_base() {
        let spec = json!({"openapi": "3.0.0", "info": {"title": "T", "version": "1"}, "servers": [{"url": "/api/v3"}], "paths": {}});
        let mut relative = draft(spec, &Selection::default()).expect("draft");
        apply_base_url(&mut relative, "https://api.example.com/");
        let schema = relative.definition.config_schema.expect("schema");
        assert_eq!(
            schema.connection_config["baseUrl"].default,
            Some(json!("https://api.example.com/api/v3"))
        );
        let absolute = json!({"openapi": "3.0.0", "info": {"title": "T", "version": "1"}, "servers": [{"url": "https://x.example.com"}], "paths": {}});
        let mut absolute = draft(absolute, &Selection::default()).expect("draft");
        apply_base_url(&mut absolute, "https://other.example.com");
        let schema = absolute.definition.config_schema.expect("schema");
        assert_eq!(
            schema.connection_config["baseUrl"].default,
            Some(json!("https://x.example.com"))
        );
    }

    #[test]
    fn titles_become_names() {
        assert_eq!(slug("My Pet Store API!"), "my-pet-store-api");
        assert_eq!(slug("***"), "imported-api");
    }
}

//! The body of `POST /api/connectors` and `PUT /api/connectors/:id`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ConfigSchema, OpenApiSpec, Selection};
use crate::imports::LogLevel;

/// How a connector runs (the spec's `executionModel`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionModel {
    /// An instance of a registered built-in type.
    BuiltIn,
    /// User JavaScript run in the script sandbox.
    Script,
    /// A remote service speaking the `/execute` protocol.
    External,
    /// Generated from an OpenAPI description: runs its generated script like
    /// a script connector and keeps the spec to regenerate from.
    Oas,
}

impl ExecutionModel {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BuiltIn => "built_in",
            Self::Script => "script",
            Self::External => "external",
            Self::Oas => "oas",
        }
    }
}

/// A connector as a user defines it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "name": "greeter",
    "executionModel": "script",
    "description": "Greets whoever it is asked to",
    "scriptSource": "function greet() { floh.log.info('greeting'); return { success: true, data: { greeting: 'Hello, ' + floh.params.name } }; }\nfunction test() { return { success: true }; }",
    "configSchema": {"commands": {
        "greet": {"params": ["name"], "paramSchema": {"name": {"type": "string", "required": true}}},
        "test": {}
    }}
}))]
pub struct ConnectorDefinition {
    /// Unique name, also usable in place of the id in URLs.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    )]
    pub name: String,
    /// The type: a registered built-in type for `built_in`, free otherwise
    /// (defaults to the name).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// What it connects to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The definition's own version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// How it runs.
    pub execution_model: ExecutionModel,
    /// A grouping for listings (e.g. `crm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Free-form labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Connection-config fields and commands; built-in types bring their own.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::json_shape::optional_object"
    )]
    pub config_schema: Option<ConfigSchema>,
    /// Connection config (secrets included), encrypted at rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// JavaScript source of a `script` connector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_source: Option<String>,
    /// Base URL of an `external` connector's service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// Minimum level of connector log lines kept (default `info`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<LogLevel>,
    /// Private networks (CIDR) this connector may reach in addition to the
    /// public internet, e.g. `["10.20.0.0/16"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_networks: Vec<String>,
    /// The OpenAPI description an `oas` connector was generated from (an
    /// object or JSON/YAML text). A PUT with a new one regenerates the
    /// script and commands and keeps the connection config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openapi_spec: Option<OpenApiSpec>,
    /// The operations imported from `openapiSpec` (all when absent).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::json_shape::optional_object"
    )]
    pub openapi_select: Option<Selection>,
}

/// A partial update: absent fields keep their value. In `config`, a field
/// whose value is the mask (`***`) keeps its stored secret.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ConnectorPatch {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    )]
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub type_name: Option<String>,
    pub description: Option<String>,
    pub version: Option<String>,
    pub execution_model: Option<ExecutionModel>,
    pub category: Option<String>,
    pub tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "super::json_shape::optional_object")]
    pub config_schema: Option<ConfigSchema>,
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    pub script_source: Option<String>,
    pub endpoint_url: Option<String>,
    pub log_level: Option<LogLevel>,
    pub allowed_networks: Option<Vec<String>>,
    pub openapi_spec: Option<OpenApiSpec>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::json_shape::optional_object"
    )]
    pub openapi_select: Option<Selection>,
}

impl ConnectorPatch {
    /// Apply to `definition`, except `config`, which the caller merges (it
    /// needs the stored secrets).
    pub fn apply_to(self, definition: &mut ConnectorDefinition) {
        macro_rules! set {
            ($($field:ident),*) => {$(
                if let Some(value) = self.$field { definition.$field = value; }
            )*};
        }
        macro_rules! set_optional {
            ($($field:ident),*) => {$(
                if let Some(value) = self.$field { definition.$field = Some(value); }
            )*};
        }
        set!(name, execution_model, tags, allowed_networks);
        set_optional!(
            type_name,
            description,
            version,
            category,
            config_schema,
            script_source,
            endpoint_url,
            log_level,
            openapi_spec,
            openapi_select
        );
    }
}

/// Names are used in URLs and CLI arguments: 1 to 100 letters, digits, `.`,
/// `_` or `-`, starting with a letter or digit.
pub fn validate_name(name: &str) -> Result<(), String> {
    let valid_start = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !valid_start || !valid_chars || name.len() > 100 {
        return Err(format!(
            "`{name}` is not a valid name: use 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_spec_examples_parse() {
        let built_in: ConnectorDefinition = serde_json::from_value(json!({
            "name": "authifi-prod", "type": "authifi", "description": "Authifi connector for the production tenant",
            "version": "1.0.0", "executionModel": "built_in", "configSchema": {},
            "config": {"baseUrl": "https://auth.example.com/_api", "tenant": "prod"}
        }))
        .expect("built-in example");
        assert_eq!(built_in.execution_model, ExecutionModel::BuiltIn);
        let external: ConnectorDefinition = serde_json::from_value(json!({
            "name": "my-external-service", "type": "my-external-service", "executionModel": "external",
            "endpointUrl": "https://connector.example.com", "version": "1.0.0", "configSchema": {}
        }))
        .expect("external example");
        assert_eq!(
            external.endpoint_url.as_deref(),
            Some("https://connector.example.com")
        );
    }

    #[test]
    fn unknown_fields_and_models_are_refused() {
        let unknown = serde_json::from_value::<ConnectorDefinition>(
            json!({"name": "a", "executionModel": "script", "scriptSrc": ""}),
        );
        assert!(
            unknown
                .expect_err("unknown field")
                .to_string()
                .contains("scriptSrc")
        );
        let model = serde_json::from_value::<ConnectorDefinition>(
            json!({"name": "a", "executionModel": "magic"}),
        );
        assert!(model.is_err());
    }

    #[test]
    fn names_are_url_safe() {
        assert!(validate_name("my-crm_2.prod").is_ok());
        for bad in ["", "-x", "a b", "a/b", &"x".repeat(101)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let mut definition: ConnectorDefinition = serde_json::from_value(
            json!({"name": "a", "executionModel": "script", "description": "old", "tags": ["x"]}),
        )
        .expect("definition");
        let patch: ConnectorPatch =
            serde_json::from_value(json!({"description": "new"})).expect("patch");
        patch.apply_to(&mut definition);
        assert_eq!(definition.description.as_deref(), Some("new"));
        assert_eq!(definition.tags, ["x"]);
    }
}

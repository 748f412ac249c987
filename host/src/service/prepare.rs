//! Checking a definition before it is stored: the name, networks and
//! config against the schema, what each execution model needs, scripts
//! compiled (an `oas` connector's generated from its spec first), and an
//! external service's schema discovered when none is given.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{ConnectorService, ServiceError};
use crate::connectors::external;
use crate::egress::IpNetwork;
use crate::model::{ConfigSchema, ConnectorDefinition, ExecutionModel, validate_name};
use crate::runtime::{CompileError, CompiledScript, ExecutionContext, ScriptEngine};

impl ConnectorService {
    /// Validate a definition for its model and compile scripts. Returns the
    /// compiled script of a `script` connector.
    pub(super) async fn prepare(
        &self,
        definition: &mut ConnectorDefinition,
        config: Option<&Value>,
    ) -> Result<Option<CompiledScript>, ServiceError> {
        validate_name(&definition.name).map_err(ServiceError::Invalid)?;
        for network in &definition.allowed_networks {
            network
                .parse::<IpNetwork>()
                .map_err(|e| ServiceError::Invalid(e.to_string()))?;
        }
        let mut compiled = None;
        match definition.execution_model {
            ExecutionModel::BuiltIn => {
                let Some(type_name) = definition.type_name.as_deref() else {
                    return Err(ServiceError::Invalid(
                        "a built_in connector needs `type`: the name of a registered type".into(),
                    ));
                };
                if self.types.get(type_name).is_none() {
                    return Err(ServiceError::UnknownType {
                        name: type_name.to_string(),
                        registered: self
                            .types
                            .descriptors()
                            .into_iter()
                            .map(|d| d.name)
                            .collect(),
                    });
                }
                // The type's schema is authoritative; a copy is not stored.
                definition.config_schema = None;
                definition.script_source = None;
                definition.endpoint_url = None;
            }
            ExecutionModel::Script | ExecutionModel::Oas => {
                if definition.execution_model == ExecutionModel::Oas
                    && definition.script_source.is_none()
                {
                    regenerate(definition)?;
                }
                let Some(source) = definition.script_source.as_deref() else {
                    return Err(ServiceError::Invalid(
                        "a script connector needs `scriptSource` (an oas connector needs `openapiSpec`)".into(),
                    ));
                };
                compiled = Some(compile(&self.engine, source).await?);
                definition.endpoint_url = None;
            }
            ExecutionModel::External => {
                let Some(endpoint) = definition.endpoint_url.as_deref() else {
                    return Err(ServiceError::Invalid(
                        "an external connector needs `endpointUrl`".into(),
                    ));
                };
                let url = url::Url::parse(endpoint).map_err(|e| {
                    ServiceError::Invalid(format!("`endpointUrl` is not a valid URL: {e}"))
                })?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(ServiceError::Invalid(
                        "`endpointUrl` must be an http or https URL".into(),
                    ));
                }
                definition.script_source = None;
                let has_commands = definition
                    .config_schema
                    .as_ref()
                    .is_some_and(|s| !s.commands.is_empty());
                if !has_commands
                    && let Some(schema) = self.discover_schema(definition, endpoint).await
                {
                    definition.config_schema = Some(schema);
                }
            }
        }
        if definition.type_name.is_none() {
            definition.type_name = Some(definition.name.clone());
        }
        if let Some(config) = config {
            let schema = self.schema_of(definition)?;
            schema
                .check_config(config, true)
                .map_err(|e| ServiceError::Invalid(format!("config: {e}")))?;
        }
        Ok(compiled)
    }

    /// Ask an external service for its schema (`/schema`), best effort.
    async fn discover_schema(
        &self,
        definition: &ConnectorDefinition,
        endpoint: &str,
    ) -> Option<ConfigSchema> {
        let context = ExecutionContext {
            egress: self.egress_of(definition).ok()?,
            ..ExecutionContext::new(&definition.name)
        };
        let mut calls = self
            .engine
            .host_calls(&context, Instant::now() + Duration::from_secs(5))
            .ok()?;
        external::fetch_schema(endpoint, &mut calls).await
    }
}

/// Generate an `oas` connector's script and schema from its spec.
pub(super) fn regenerate(definition: &mut ConnectorDefinition) -> Result<(), ServiceError> {
    let Some(spec) = definition.openapi_spec.clone() else {
        return Err(ServiceError::Invalid(
            "an oas connector needs `openapiSpec`".into(),
        ));
    };
    let selection = definition.openapi_select.clone().unwrap_or_default();
    let draft = crate::oas::draft::generate(spec, &selection)
        .map_err(|e| ServiceError::Invalid(format!("openapiSpec: {e}")))?;
    definition.script_source = draft.definition.script_source;
    definition.config_schema = draft.definition.config_schema;
    Ok(())
}

pub(super) async fn compile(
    engine: &ScriptEngine,
    source: &str,
) -> Result<CompiledScript, ServiceError> {
    engine.compile(source).await.map_err(|error| match error {
        CompileError::Syntax {
            message,
            line,
            column,
        } => ServiceError::ScriptSyntax {
            message,
            line,
            column,
        },
        CompileError::TooLarge(limit) => {
            ServiceError::Invalid(format!("`scriptSource` is larger than {limit} bytes"))
        }
        CompileError::Engine(message) => ServiceError::Internal(message),
    })
}

//! Checking a definition before it is stored: the name, networks and
//! config against the schema, what each execution model needs, scripts
//! compiled (an `oas` connector's generated from its spec first), and an
//! external service's schema discovered when none is given.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{ConnectorService, ServiceError};
use crate::connectors::external;
use crate::egress::IpNetwork;
use crate::model::{
    ConfigSchema, ConnectorDefinition, ConnectorPatch, ExecutionModel, validate_name,
};
use crate::runtime::{CompileError, CompiledScript, ExecutionContext, ScriptEngine};

/// The largest definition accepted, serialized, not counting an `oas`
/// connector's spec and what is generated from it.
pub const MAX_DEFINITION_BYTES: usize = 4 * 1024 * 1024;

/// The largest `oas` definition without its spec: the generated script and
/// config schema of the largest real APIs (Microsoft Graph beta: ~20k
/// commands) with room to spare.
pub const MAX_OAS_DRAFT_BYTES: usize = 48 * 1024 * 1024;

/// The largest script generated from a spec; hand-written scripts stay
/// under the engine's `max_source_bytes`.
pub const MAX_OAS_SCRIPT_BYTES: usize = 16 * 1024 * 1024;

/// Refuse a definition too large for its model before any work is done:
/// only an `oas` connector may exceed [`MAX_DEFINITION_BYTES`], by its spec
/// (at most the parser's limit) and its generated script and schema.
pub(super) fn check_size(definition: &ConnectorDefinition) -> Result<(), ServiceError> {
    let spec = definition.openapi_spec.as_ref().map_or(0, |s| s.len());
    let rest = serialized_len(definition).saturating_sub(spec);
    size_rule(definition.execution_model, spec, rest)
}

/// [`check_size`] for an update (its model is checked again on the result).
pub(super) fn check_patch_size(patch: &ConnectorPatch) -> Result<(), ServiceError> {
    let spec = patch.openapi_spec.as_ref().map_or(0, |s| s.len());
    let rest = serialized_len(patch).saturating_sub(spec);
    let model = patch.execution_model.unwrap_or(ExecutionModel::Oas);
    size_rule(model, spec, rest)
}

fn size_rule(model: ExecutionModel, spec: usize, rest: usize) -> Result<(), ServiceError> {
    let mib = |bytes: usize| bytes / (1024 * 1024);
    if model != ExecutionModel::Oas {
        if spec > 0 {
            return Err(ServiceError::Invalid(
                "`openapiSpec` belongs to `oas` connectors (set `executionModel` to `oas`)".into(),
            ));
        }
        if rest > MAX_DEFINITION_BYTES {
            return Err(ServiceError::TooLarge(format!(
                "the definition is {} bytes, over the limit of {} MiB (only `oas` connectors, with their spec, may be larger)",
                rest,
                mib(MAX_DEFINITION_BYTES)
            )));
        }
        return Ok(());
    }
    // A spec sent as YAML text in a JSON string is escaped: allow for it.
    if spec > crate::oas::document::MAX_SPEC_BYTES + crate::oas::document::MAX_SPEC_BYTES / 8 {
        return Err(ServiceError::TooLarge(format!(
            "`openapiSpec` is {spec} bytes, over the limit of {} MiB",
            mib(crate::oas::document::MAX_SPEC_BYTES)
        )));
    }
    if rest > MAX_OAS_DRAFT_BYTES {
        return Err(ServiceError::TooLarge(format!(
            "the definition without its spec is {rest} bytes, over the limit of {} MiB",
            mib(MAX_OAS_DRAFT_BYTES)
        )));
    }
    Ok(())
}

/// How many bytes `value` serializes to, without keeping them.
fn serialized_len<T: serde::Serialize>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Plain data: serializing it cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

impl ConnectorService {
    /// Validate a definition for its model and compile scripts. Returns the
    /// compiled script of a `script` connector.
    pub(super) async fn prepare(
        &self,
        definition: &mut ConnectorDefinition,
        config: Option<&Value>,
    ) -> Result<Option<CompiledScript>, ServiceError> {
        check_name_and_networks(definition)?;
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
                compiled = Some(compile(&self.engine, definition.execution_model, source).await?);
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
        check_oauth2(definition)?;
        if let Some(config) = config {
            check_config(&self.schema_of(definition)?, config)?;
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

/// A definition's name and its allowed networks.
fn check_name_and_networks(definition: &ConnectorDefinition) -> Result<(), ServiceError> {
    validate_name(&definition.name).map_err(ServiceError::Invalid)?;
    for network in &definition.allowed_networks {
        network
            .parse::<IpNetwork>()
            .map_err(|e| ServiceError::Invalid(e.to_string()))?;
    }
    Ok(())
}

/// The OAuth2 grant a definition's schema declares, if any.
fn check_oauth2(definition: &ConnectorDefinition) -> Result<(), ServiceError> {
    if let Some(settings) = definition
        .config_schema
        .as_ref()
        .and_then(|schema| schema.oauth2.as_ref())
    {
        settings.check().map_err(ServiceError::Invalid)?;
    }
    Ok(())
}

/// A complete config against the connector's effective schema.
fn check_config(schema: &ConfigSchema, config: &Value) -> Result<(), ServiceError> {
    schema
        .check_config(config, true)
        .map_err(|e| ServiceError::Invalid(format!("config: {e}")))
}

/// What `create` checks of a script, oas or external definition before it
/// needs the store, the script engine or the network: its size, name and
/// networks, an `oas` connector's script and schema generated from its
/// spec, its OAuth2 settings and its config. For the fuzz targets.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub fn check_offline(mut definition: ConnectorDefinition) -> Result<(), ServiceError> {
    check_size(&definition)?;
    let config = definition.config.take();
    check_name_and_networks(&definition)?;
    if definition.execution_model == ExecutionModel::Oas && definition.script_source.is_none() {
        regenerate(&mut definition)?;
    }
    check_oauth2(&definition)?;
    if let Some(config) = config {
        let schema = definition.config_schema.clone().unwrap_or_default();
        check_config(&schema.effective(), &config)?;
    }
    Ok(())
}

/// [`check_offline`] for an update of `definition` by `patch`.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub fn check_update_offline(
    mut definition: ConnectorDefinition,
    patch: ConnectorPatch,
) -> Result<(), ServiceError> {
    check_patch_size(&patch)?;
    let config = patch.config.clone();
    patch.apply_to(&mut definition);
    definition.config = config;
    check_offline(definition)
}

/// Generate an `oas` connector's script and schema from its spec.
pub(super) fn regenerate(definition: &mut ConnectorDefinition) -> Result<(), ServiceError> {
    let Some(spec) = &definition.openapi_spec else {
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

/// Compile a connector's script. One generated from a spec may be larger
/// than the engine's limit for hand-written ones.
pub(super) async fn compile(
    engine: &ScriptEngine,
    model: ExecutionModel,
    source: &str,
) -> Result<CompiledScript, ServiceError> {
    let compiled = match model {
        ExecutionModel::Oas => engine.compile_up_to(source, MAX_OAS_SCRIPT_BYTES).await,
        _ => engine.compile(source).await,
    };
    compile_error(compiled)
}

fn compile_error(
    result: Result<CompiledScript, CompileError>,
) -> Result<CompiledScript, ServiceError> {
    result.map_err(|error| match error {
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

//! Connector operations behind every front end (HTTP API, CLI through the
//! API, MCP later): validation, storage, secrets, compilation and execution
//! in whichever model a connector uses.

mod authoring;
mod backup;
mod cache;
mod check;
mod error;
mod generate;
mod grants;
mod history;
mod keys;
mod listing;
mod oauth;
mod openapi;
mod prepare;
mod script_update;
mod view;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

pub use authoring::{CommandChange, ExternalProbe, OpenApiParse, ReimportPreview};
pub use backup::{Backup, inspect_backup};
use cache::{ConnectorCache, LoadedConnector};
pub use check::{Diagnostic, ScriptCheck, ScriptCheckRequest, Severity};
pub use error::{RATE_LIMITED, ServiceError};
pub use generate::{
    AuthKind, AuthSpec, EndpointSpec, GeneratedConnector, HttpMethod, ParamLocation, ParamSpec,
    ParamType, ScriptGeneration, missing_for_generation, skeleton,
};
pub use history::HistoryWriter;
pub use keys::{KeyStatus, KeyVersion, RewrapPace, RewrapStatus, reconcile_at_start};
pub use listing::{ConnectorSummary, ListFilter};
pub use oauth::{
    AUTHORIZATION_LIFETIME_MS, AuthorizationStart, BROWSER_BINDING_COOKIE, CALLBACK_PATH,
    CallbackQuery, Connected, ConnectionState, OAuthFailure, OAuthStatus,
};
pub use openapi::OpenApiImport;
pub use prepare::{MAX_DEFINITION_BYTES, MAX_OAS_DRAFT_BYTES, MAX_OAS_SCRIPT_BYTES};
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub use prepare::{check_offline, check_update_offline};
use prepare::{check_patch_size, check_size, compile, regenerate};
pub use script_update::{ScriptUpdate, ScriptUpdateOutcome};
pub use view::{ConnectorView, ExecutionResponse, RecentExecution};

use crate::agent::dispatch;
use crate::agent::hub::{AgentHub, HubSettings, Route};
use crate::clock::now_ms;
use crate::connectors::{TypeRegistry, run};
use crate::egress::EgressPolicy;
use crate::ids::{SequentialIds, new_id};
use crate::model::ACCESS_TOKEN_FIELD;
use crate::model::{
    CommandSchema, ConfigSchema, ConnectorDefinition, ConnectorPatch, ExecutionModel, OpenApiSpec,
    SchemaError,
};
use crate::rate_limit::RateLimiter;
use crate::redact::SecretRedactor;
use crate::runtime::{
    CompiledScript, Execution, ExecutionContext, ExecutionError, Invocation, OutcomeFields,
    ScriptEngine, TokenRenewal,
};
use crate::secrets::{ConfigCipher, mask_config, merge_masked, secret_values};
use crate::store::{
    ConnectorRecord, ExecutionRecord, ExecutionSummary, SpecChange, Store, StoreError,
};

/// Executions kept per connector.
pub const HISTORY_PER_CONNECTOR: usize = 100;

/// An execute request (the spec's request minus the config, which is stored).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"command": "greet", "params": {"name": "Ada"}, "metadata": {"stepId": "step-1", "timeout": 5000}}))]
pub struct ExecuteRequest {
    /// The command.
    pub command: String,
    /// Step params, checked against the command's `paramSchema`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub params: Value,
    /// Workflow variables.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub variables: Value,
    /// Step and run ids and the timeout.
    #[serde(default, deserialize_with = "crate::model::json_shape::object")]
    pub metadata: RequestMetadata,
}

/// The spec's `metadata`.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestMetadata {
    /// Workflow step.
    pub step_id: Option<String>,
    /// Workflow run.
    pub run_id: Option<String>,
    /// Timeout in milliseconds (the engine's own limit applies below this
    /// ceiling; larger values are refused rather than silently clamped).
    #[serde(default, deserialize_with = "timeout_ms")]
    #[schema(minimum = 0, maximum = 86_400_000)]
    pub timeout: Option<u64>,
}

/// The largest `metadata.timeout` a request may ask for: one day, in
/// milliseconds (the document's `maximum` says the same).
pub const MAX_REQUEST_TIMEOUT_MS: u64 = 86_400_000;

fn timeout_ms<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    let timeout = crate::model::whole_number::optional_u64(deserializer)?;
    match timeout {
        Some(ms) if ms > MAX_REQUEST_TIMEOUT_MS => Err(serde::de::Error::custom(format!(
            "metadata.timeout is at most {MAX_REQUEST_TIMEOUT_MS} ms"
        ))),
        other => Ok(other),
    }
}

/// Connector operations.
pub struct ConnectorService {
    store: Store,
    cipher: ConfigCipher,
    engine: Arc<ScriptEngine>,
    types: TypeRegistry,
    history: HistoryWriter,
    cache: ConnectorCache,
    execution_ids: SequentialIds,
    open_egress: bool,
    agents: Arc<AgentHub>,
    grants: grants::Grants,
    /// Moves sealed values to the active key version after a rotation.
    keys: Arc<keys::KeyRewrap>,
    /// The OAuth2 callback URL, once the server knows its public URL.
    redirect_uri: std::sync::RwLock<Option<String>>,
    /// Executions per connector, whichever front end asks: the limit lives
    /// here so that the API, MCP and the web UI share one bucket.
    execution_limit: Option<RateLimiter>,
}

impl ConnectorService {
    /// A service over `store`. `open_egress` lifts the egress policy for
    /// every connector (tests and trusted deployments).
    pub fn new(
        store: Store,
        cipher: ConfigCipher,
        engine: Arc<ScriptEngine>,
        types: TypeRegistry,
        open_egress: bool,
    ) -> Self {
        let history = HistoryWriter::start(store.clone(), HISTORY_PER_CONNECTOR);
        Self {
            grants: grants::Grants::new(store.clone(), cipher.clone(), engine.clone()),
            keys: keys::KeyRewrap::start(store.clone(), cipher.clone()),
            redirect_uri: std::sync::RwLock::default(),
            store,
            cipher,
            engine,
            types,
            history,
            cache: ConnectorCache::default(),
            execution_ids: SequentialIds::new("exe"),
            open_egress,
            agents: Arc::new(AgentHub::new(HubSettings::default())),
            execution_limit: None,
        }
    }

    /// Limit each connector's executions (and tests) with `limiter`, keyed
    /// by the connector's id.
    pub fn with_execution_limit(mut self, limiter: Option<RateLimiter>) -> Self {
        self.execution_limit = limiter;
        self
    }

    /// Route executions of agent-served connectors through `agents`.
    pub fn with_agents(mut self, agents: Arc<AgentHub>) -> Self {
        self.agents = agents;
        self
    }

    /// The connected (and recently connected) on-premise agents.
    pub fn agents(&self) -> &Arc<AgentHub> {
        &self.agents
    }

    /// The registered built-in types.
    pub fn types(&self) -> &TypeRegistry {
        &self.types
    }

    /// The script engine's snapshot counters and how executions started.
    pub fn script_stats(&self) -> (crate::runtime::SnapshotStats, crate::runtime::ScriptRuns) {
        self.engine.snapshot_stats()
    }

    /// Forget cached connectors: another node changed one.
    pub fn forget_cached_connectors(&self) {
        self.cache.invalidate();
    }

    /// Forget cached connectors. Loaded connectors carry their type's schema,
    /// so call this after registering, replacing or removing a type.
    pub fn types_changed(&self) {
        self.cache.invalidate();
    }

    /// Wait for queued history writes (graceful shutdown, or a read of the
    /// history that must include an execution just answered).
    pub async fn flush(&self) {
        self.history.flush().await;
    }

    /// Create a connector.
    pub async fn create(
        &self,
        mut definition: ConnectorDefinition,
    ) -> Result<ConnectorView, ServiceError> {
        check_size(&definition)?;
        let config = definition.config.take();
        let id = new_id("con");
        let prepared = self.prepare(&mut definition, config.as_ref()).await?;
        // The spec is stored once, beside the record, not inside it.
        let spec = definition.openapi_spec.take();
        let now = now_ms();
        let record = ConnectorRecord {
            sealed_config: config.as_ref().map(|c| self.cipher.seal(&id, c)),
            engine_version: prepared.as_ref().map(|s| s.engine_version().to_string()),
            spec_digest: None,
            id,
            definition,
            created_at_ms: now,
            updated_at_ms: now,
        };
        let bytecode = prepared.map(|s| s.bytecode().to_vec());
        let record = self
            .store
            .insert_connector(record, bytecode, spec)
            .await
            .map_err(name_taken)?;
        self.view(&record).await
    }

    /// Apply a partial update.
    pub async fn update(
        &self,
        id_or_name: &str,
        patch: ConnectorPatch,
    ) -> Result<ConnectorView, ServiceError> {
        check_patch_size(&patch)?;
        let mut record = self.find(id_or_name).await?;
        let previous_name = record.definition.name.clone();
        let stored_config = self.open_config(&record)?;
        let new_config = patch
            .config
            .as_ref()
            .map(|update| merge_masked(update, stored_config.as_ref()));
        let mut definition = record.definition.clone();
        let sent_spec = patch.openapi_spec.is_some();
        let new_spec = sent_spec || patch.openapi_select.is_some();
        let new_source = patch.script_source.is_some();
        patch.apply_to(&mut definition);
        let mut config = new_config.or(stored_config);
        let regenerating =
            definition.execution_model == ExecutionModel::Oas && new_spec && !new_source;
        if regenerating {
            if definition.openapi_spec.is_none() {
                // A new selection from the stored spec.
                definition.openapi_spec = self.spec_of(&record).await?;
            }
            regenerate(&mut definition)?;
            // Keep the values the new schema still has; drop vanished fields.
            if let (Some(Value::Object(values)), Some(schema)) =
                (&mut config, &definition.config_schema)
            {
                values.retain(|field, _| schema.connection_config.contains_key(field));
            }
        }
        let prepared = self.prepare(&mut definition, config.as_ref()).await?;
        let spec = definition.openapi_spec.take();
        let spec = if definition.execution_model != ExecutionModel::Oas {
            SpecChange::Set(None)
        } else if sent_spec {
            SpecChange::Set(spec)
        } else {
            SpecChange::Keep
        };
        record.definition = definition;
        record.sealed_config = config.as_ref().map(|c| self.cipher.seal(&record.id, c));
        record.engine_version = prepared.as_ref().map(|s| s.engine_version().to_string());
        record.updated_at_ms = now_ms();
        let bytecode = Some(prepared.map(|s| s.bytecode().to_vec()));
        let record = self
            .store
            .update_connector(record, previous_name, bytecode, spec)
            .await
            .map_err(name_taken)?;
        self.cache.invalidate();
        self.view(&record).await
    }

    /// Delete a connector and its history.
    pub async fn delete(&self, id_or_name: &str) -> Result<(), ServiceError> {
        let record = self.find(id_or_name).await?;
        self.store.delete_connector(record.id).await?;
        self.cache.invalidate();
        Ok(())
    }

    /// Whether a connector with this id or name exists (nothing decrypted).
    pub async fn exists(&self, id_or_name: &str) -> Result<bool, ServiceError> {
        Ok(self.store.connector_exists(id_or_name.to_string()).await?)
    }

    /// One connector, with the spec of an `oas` connector.
    pub async fn get(&self, id_or_name: &str) -> Result<ConnectorView, ServiceError> {
        let record = self.find(id_or_name).await?;
        let mut view = self.view(&record).await?;
        view.definition.openapi_spec = self.spec_of(&record).await?;
        Ok(view)
    }

    /// The spec of an `oas` connector: in the spec table, or inline in a
    /// record written before specs moved there.
    async fn spec_of(&self, record: &ConnectorRecord) -> Result<Option<OpenApiSpec>, ServiceError> {
        if let Some(inline) = &record.definition.openapi_spec {
            return Ok(Some(inline.clone()));
        }
        let Some(digest) = record.spec_digest.clone() else {
            return Ok(None);
        };
        match self.store.spec(digest).await? {
            Some(spec) => Ok(Some(spec)),
            None => Err(ServiceError::Internal(format!(
                "the spec of `{}` is missing from the store",
                record.definition.name
            ))),
        }
    }

    /// A connector's recent executions, newest first, queued ones included.
    pub async fn executions(
        &self,
        id_or_name: &str,
        limit: usize,
    ) -> Result<Vec<ExecutionRecord>, ServiceError> {
        let record = self.find(id_or_name).await?;
        self.history.flush().await;
        Ok(self.store.executions(record.id, limit).await?)
    }

    /// One execution of a connector's history (with logs and HTTP calls).
    pub async fn execution(
        &self,
        id_or_name: &str,
        execution_id: &str,
    ) -> Result<ExecutionRecord, ServiceError> {
        let record = self.find(id_or_name).await?;
        self.history.flush().await;
        self.store
            .executions(record.id, HISTORY_PER_CONNECTOR)
            .await?
            .into_iter()
            .find(|e| e.id == execution_id)
            .ok_or_else(|| {
                ServiceError::ExecutionNotFound(format!(
                    "connector `{id_or_name}` has no execution `{execution_id}` in its history"
                ))
            })
    }

    /// Each connector's latest outcomes (oldest first), by connector name.
    pub async fn activity(
        &self,
    ) -> Result<std::collections::HashMap<String, Vec<ExecutionSummary>>, ServiceError> {
        let names = self.names_by_id().await?;
        self.history.flush().await;
        let mut activity = self.store.activity().await?;
        Ok(names
            .into_iter()
            .filter_map(|(id, name)| activity.remove(&id).map(|a| (name, a)))
            .collect())
    }

    /// The newest `limit` executions across connectors, newest first.
    pub async fn recent_executions(
        &self,
        limit: usize,
    ) -> Result<Vec<RecentExecution>, ServiceError> {
        let names = self.names_by_id().await?;
        self.history.flush().await;
        Ok(self
            .store
            .recent_executions(limit)
            .await?
            .into_iter()
            .filter_map(|(id, execution)| {
                Some(RecentExecution {
                    connector: names.get(&id)?.clone(),
                    execution,
                })
            })
            .collect())
    }

    async fn names_by_id(&self) -> Result<std::collections::HashMap<String, String>, ServiceError> {
        Ok(self.store.connector_names().await?)
    }

    /// Run the connector's `test` command (an external service's `/health`
    /// when it has one).
    pub async fn test(&self, id_or_name: &str) -> Result<ExecutionResponse, ServiceError> {
        let request = ExecuteRequest {
            command: "test".into(),
            ..ExecuteRequest::default()
        };
        self.execute(id_or_name, request).await
    }

    /// Execute a command.
    pub async fn execute(
        &self,
        id_or_name: &str,
        request: ExecuteRequest,
    ) -> Result<ExecutionResponse, ServiceError> {
        let started_at_ms = now_ms();
        let loaded = self.load(id_or_name).await?;
        let record = &loaded.record;
        if let Some(limit) = &self.execution_limit {
            limit
                .check(&record.id)
                .map_err(|refusal| ServiceError::RateLimited {
                    connector: record.definition.name.clone(),
                    refusal,
                })?;
        }
        let schema = &loaded.schema;
        let command_schema = command_schema(schema, &request.command)?;
        let params = command_schema.prepare_params(&request.params)?;
        if !(request.variables.is_null() || request.variables.is_object()) {
            return Err(SchemaError::NotAnObject("variables").into());
        }
        let mut config = self.open_config(record)?.unwrap_or_else(|| json!({}));
        // A connector with an OAuth2 grant runs with its access token. When
        // the grant cannot give one (never connected, reconnect required),
        // the command still runs, without it: commands that use another
        // scheme (an API key) work, and one that needed the token and
        // failed reports the grant's error code instead of its own.
        let mut grant_in_use = None;
        let mut grant_problem = None;
        if let Some(settings) = &schema.oauth2 {
            let grant = Self::grant_use(
                record,
                settings.clone(),
                config.clone(),
                loaded.egress.clone(),
            );
            match self.grants.access_token(&grant).await {
                Ok(token) => {
                    if let Value::Object(fields) = &mut config {
                        fields.insert(ACCESS_TOKEN_FIELD.into(), Value::String(token.clone()));
                    }
                    grant_in_use = Some(Arc::new(grants::ExecutionGrant {
                        grants: self.grants.clone(),
                        grant,
                        first: token.clone(),
                        current: std::sync::Mutex::new(token),
                    }));
                }
                Err(error) => grant_problem = Some(error),
            }
        }
        let context = ExecutionContext {
            connector: record.definition.name.as_str().into(),
            redactor: Arc::new(SecretRedactor::new(secret_values(&config, schema))),
            egress: loaded.egress.clone(),
            log_level: record.definition.log_level.unwrap_or_default(),
            config,
            token_renewal: grant_in_use.clone().map(|grant| {
                TokenRenewal(grant as Arc<dyn crate::imports::http::AccessTokenRenewal>)
            }),
        };
        let invocation = Invocation {
            command: request.command.clone(),
            params,
            variables: if request.variables.is_null() {
                json!({})
            } else {
                request.variables
            },
            metadata: crate::runtime::InvocationMetadata {
                step_id: request.metadata.step_id,
                run_id: request.metadata.run_id,
                timeout: request.metadata.timeout.map(Duration::from_millis),
            },
        };
        let timeout = self.engine.timeout_of(&invocation);
        let slot = match self
            .agents
            .route_waiting(&record.definition.name, timeout)
            .await
        {
            Route::Local => None,
            Route::Agent(slot) => Some(dispatch::Carrier::Local(slot)),
            Route::Remote(remote) => Some(dispatch::Carrier::Remote(remote)),
            Route::Unavailable(reason) => {
                let execution = Execution::failed(dispatch::unavailable(reason));
                return Ok(self.respond(record, &request.command, execution, started_at_ms, None));
            }
        };
        let agent = slot.as_ref().map(|carrier| carrier.agent_id().to_string());
        let execution = match (slot, record.definition.execution_model) {
            (Some(slot), _) => {
                let target = dispatch::Target { record, schema };
                let grace = self.agents.settings().answer_grace;
                dispatch::execute(slot, target, &invocation, &context, timeout, grace).await
            }
            (None, ExecutionModel::Script | ExecutionModel::Oas) => {
                let script = loaded.script.as_ref().ok_or_else(|| {
                    ServiceError::Internal("a script connector without a compiled script".into())
                })?;
                self.engine.execute(script, &invocation, &context).await
            }
            (None, ExecutionModel::BuiltIn) => {
                self.execute_built_in(record, &invocation, &context).await?
            }
            (None, ExecutionModel::External) => {
                self.execute_external(record, &invocation, &context).await?
            }
        };
        let execution = match (&grant_in_use, grant_problem) {
            (Some(grant), _) => grant.mask_tokens(execution),
            (None, Some(problem)) => grants::explain_failure(execution, problem),
            (None, None) => execution,
        };
        if let Err(ExecutionError::UnknownCommand(command)) = &execution.outcome {
            return Err(ServiceError::UnknownCommand {
                command: command.clone(),
                known: schema.commands.keys().cloned().collect(),
            });
        }
        Ok(self.respond(record, &request.command, execution, started_at_ms, agent))
    }

    /// The connector ready to execute, from the cache when possible. A
    /// script compiled by another engine build (or never) is recompiled from
    /// source and the result stored.
    async fn load(&self, id_or_name: &str) -> Result<Arc<LoadedConnector>, ServiceError> {
        let (cached, generation) = self.cache.get(id_or_name);
        if let Some(loaded) = cached {
            return Ok(loaded);
        }
        let record = self.find(id_or_name).await?;
        let script = match (record.definition.execution_model, &record.engine_version) {
            (ExecutionModel::Script | ExecutionModel::Oas, Some(version))
                if version == self.engine.version() =>
            {
                match self.store.bytecode(record.id.clone()).await? {
                    Some(bytecode) => Some(CompiledScript::from_stored(bytecode, version.clone())),
                    None => Some(self.recompile(&record).await?),
                }
            }
            (ExecutionModel::Script | ExecutionModel::Oas, _) => {
                Some(self.recompile(&record).await?)
            }
            _ => None,
        };
        let schema = self.schema_of(&record.definition)?;
        let egress = self.egress_of(&record.definition)?;
        let loaded = Arc::new(LoadedConnector {
            record,
            script,
            schema,
            egress,
        });
        self.cache.insert(generation, loaded.clone());
        Ok(loaded)
    }

    async fn recompile(&self, record: &ConnectorRecord) -> Result<CompiledScript, ServiceError> {
        let source = record
            .definition
            .script_source
            .as_deref()
            .unwrap_or_default();
        let script = compile(&self.engine, record.definition.execution_model, source).await?;
        let mut updated = record.clone();
        updated.engine_version = Some(script.engine_version().to_string());
        let name = updated.definition.name.clone();
        self.store
            .update_connector(
                updated,
                name,
                Some(Some(script.bytecode().to_vec())),
                SpecChange::Keep,
            )
            .await?;
        self.cache.invalidate();
        tracing::info!(connector = %record.definition.name, "recompiled a script for a new engine build");
        Ok(script)
    }

    async fn execute_built_in(
        &self,
        record: &ConnectorRecord,
        invocation: &Invocation,
        context: &ExecutionContext,
    ) -> Result<Execution, ServiceError> {
        let type_name = record.definition.type_name.clone().unwrap_or_default();
        let handler = self
            .types
            .get(&type_name)
            .ok_or(ServiceError::TypeUnavailable(type_name))?;
        run::built_in(&self.engine, handler, invocation, context)
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))
    }

    async fn execute_external(
        &self,
        record: &ConnectorRecord,
        invocation: &Invocation,
        context: &ExecutionContext,
    ) -> Result<Execution, ServiceError> {
        let endpoint = record.definition.endpoint_url.clone().unwrap_or_default();
        run::external(&self.engine, &endpoint, invocation, context)
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))
    }

    fn respond(
        &self,
        record: &ConnectorRecord,
        command: &str,
        execution: Execution,
        started_at_ms: u64,
        agent: Option<String>,
    ) -> ExecutionResponse {
        let execution_id = self.execution_ids.next_id();
        let duration_ms = execution.duration.as_millis() as u64;
        let outcome = OutcomeFields::of(execution.outcome);
        let response = ExecutionResponse {
            execution_id: execution_id.clone(),
            connector: record.definition.name.clone(),
            execution_model: record.definition.execution_model,
            command: command.to_string(),
            success: outcome.success,
            data: outcome.data,
            output_variables: outcome.output_variables,
            error: outcome.error,
            error_code: outcome.error_code,
            stack: outcome.stack,
            duration_ms,
            logs: execution.logs,
            http_calls: execution.http_calls,
            agent,
        };
        self.history.record(
            record.id.clone(),
            ExecutionRecord {
                id: execution_id,
                command: command.to_string(),
                status: response.error_code.clone().unwrap_or_else(|| "ok".into()),
                success: response.success,
                error: response.error.clone(),
                started_at_ms,
                duration_ms,
                logs: response.logs.clone(),
                http_calls: response.http_calls.clone(),
                agent: response.agent.clone(),
            },
        );
        response
    }

    /// The schema in effect: a built-in type's own for its instances, with
    /// an OAuth2 grant's client fields (see [`ConfigSchema::effective`]).
    fn schema_of(&self, definition: &ConnectorDefinition) -> Result<ConfigSchema, ServiceError> {
        self.declared_schema_of(definition)
            .map(ConfigSchema::effective)
    }

    fn declared_schema_of(
        &self,
        definition: &ConnectorDefinition,
    ) -> Result<ConfigSchema, ServiceError> {
        match definition.execution_model {
            ExecutionModel::BuiltIn => {
                let name = definition.type_name.clone().unwrap_or_default();
                let handler = self
                    .types
                    .get(&name)
                    .ok_or(ServiceError::TypeUnavailable(name))?;
                Ok(handler.descriptor().config_schema)
            }
            _ => Ok(definition.config_schema.clone().unwrap_or_default()),
        }
    }

    fn egress_of(&self, definition: &ConnectorDefinition) -> Result<EgressPolicy, ServiceError> {
        self.egress_for(&definition.allowed_networks)
    }

    async fn find(&self, id_or_name: &str) -> Result<ConnectorRecord, ServiceError> {
        self.store
            .find_connector(id_or_name.to_string())
            .await?
            .ok_or_else(|| ServiceError::NotFound(id_or_name.to_string()))
    }

    fn open_config(&self, record: &ConnectorRecord) -> Result<Option<Value>, ServiceError> {
        record
            .sealed_config
            .as_deref()
            .map(|sealed| self.cipher.open(&record.id, sealed))
            .transpose()
            .map_err(ServiceError::from)
    }

    async fn view(&self, record: &ConnectorRecord) -> Result<ConnectorView, ServiceError> {
        let mut definition = record.definition.clone();
        let schema = self.schema_of(&definition).unwrap_or_default();
        let oauth = match &schema.oauth2 {
            Some(settings) => Some(self.oauth_status(record, settings).await?),
            None => None,
        };
        definition.config = self
            .open_config(record)?
            .map(|config| mask_config(&config, &schema));
        if definition.execution_model == ExecutionModel::BuiltIn || schema.oauth2.is_some() {
            definition.config_schema = Some(schema);
        }
        Ok(ConnectorView {
            id: record.id.clone(),
            definition,
            oauth,
            created_at_ms: record.created_at_ms,
            updated_at_ms: record.updated_at_ms,
        })
    }
}

/// The command's schema; a connector that declares commands accepts only
/// those (plus `test`, which every connector answers).
fn command_schema<'a>(
    schema: &'a ConfigSchema,
    command: &str,
) -> Result<&'a CommandSchema, ServiceError> {
    static ANY_PARAMS: CommandSchema = CommandSchema {
        params: Vec::new(),
        description: None,
        outputs: Vec::new(),
        param_schema: std::collections::BTreeMap::new(),
    };
    if let Some(found) = schema.commands.get(command) {
        return Ok(found);
    }
    if schema.commands.is_empty() || command == "test" {
        return Ok(&ANY_PARAMS);
    }
    Err(ServiceError::UnknownCommand {
        command: command.to_string(),
        known: schema.commands.keys().cloned().collect(),
    })
}

fn name_taken(error: StoreError) -> ServiceError {
    match error {
        StoreError::NameTaken(name) => ServiceError::NameTaken(name),
        other => ServiceError::Storage(other),
    }
}

#[cfg(test)]
mod request_tests {
    use super::*;

    #[test]
    fn a_timeout_above_the_ceiling_is_refused_not_clamped() {
        let at_ceiling = json!({"command": "c", "metadata": {"timeout": MAX_REQUEST_TIMEOUT_MS}});
        let request: ExecuteRequest = serde_json::from_value(at_ceiling).expect("at the ceiling");
        assert_eq!(request.metadata.timeout, Some(MAX_REQUEST_TIMEOUT_MS));
        let above = json!({"command": "c", "metadata": {"timeout": 9_223_372_036_854_775_808_u64}});
        let error = serde_json::from_value::<ExecuteRequest>(above).expect_err("above");
        assert!(error.to_string().contains("at most"), "{error}");
    }
}

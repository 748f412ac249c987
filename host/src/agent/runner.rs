//! The agent's side of a command: open the sealed config, run the connector
//! in the agent's own sandbox runtime (scripts and plugins) or call its
//! external endpoint from inside the network, and answer with the result.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::keys::AgentKey;
use super::protocol::{AgentCommand, AgentResponse};
use super::seal;
use crate::connectors::{TypeRegistry, run};
use crate::egress::EgressPolicy;
use crate::model::ExecutionModel;
use crate::redact::SecretRedactor;
use crate::runtime::{
    CompileError, CompiledScript, Execution, ExecutionContext, Invocation, InvocationMetadata,
    OutcomeFields, ScriptEngine,
};
use crate::secrets::secret_values;

/// Compiled scripts kept by the agent (by SHA-256 of the source).
const SCRIPT_CACHE_ENTRIES: usize = 64;

/// Runs commands for the connectors this agent serves.
pub struct CommandRunner {
    engine: Arc<ScriptEngine>,
    types: TypeRegistry,
    key: AgentKey,
    egress: EgressPolicy,
    serves: BTreeSet<String>,
    scripts: Mutex<ScriptCache>,
}

#[derive(Default)]
struct ScriptCache {
    by_digest: HashMap<[u8; 32], CompiledScript>,
    order: VecDeque<[u8; 32]>,
}

/// Why a command could not run at all (reported with its code).
struct Refused {
    code: &'static str,
    message: String,
}

impl CommandRunner {
    /// A runner for the connectors named in `serves`.
    pub fn new(
        engine: Arc<ScriptEngine>,
        types: TypeRegistry,
        key: AgentKey,
        egress: EgressPolicy,
        serves: impl IntoIterator<Item = String>,
    ) -> Self {
        Self {
            engine,
            types,
            key,
            egress,
            serves: serves.into_iter().collect(),
            scripts: Mutex::default(),
        }
    }

    /// The agent's key (its public half goes into the registration).
    pub fn key(&self) -> &AgentKey {
        &self.key
    }

    /// Run one command; every failure becomes a response, never a panic.
    pub async fn run(&self, command: AgentCommand) -> AgentResponse {
        let started = Instant::now();
        let command_id = command.command_id.clone();
        match self.execute(command).await {
            Ok(execution) => response(command_id, execution),
            Err(refused) => AgentResponse {
                command_id,
                success: false,
                data: None,
                output_variables: None,
                error: Some(refused.message),
                error_code: Some(refused.code.to_string()),
                stack: None,
                duration_ms: started.elapsed().as_millis() as u64,
                logs: Vec::new(),
                http_calls: Vec::new(),
            },
        }
    }

    async fn execute(&self, command: AgentCommand) -> Result<Execution, Refused> {
        if !self.serves.contains(&command.connector_name) {
            return Err(Refused {
                code: "UNKNOWN_CONNECTOR",
                message: format!(
                    "this agent does not serve connector `{}`",
                    command.connector_name
                ),
            });
        }
        let plaintext = seal::open(self.key.secret(), &command.command_id, &command.config)
            .map_err(|e| Refused {
                code: "CONFIG_UNOPENABLE",
                message: e.to_string(),
            })?;
        let config: serde_json::Value =
            serde_json::from_slice(&plaintext).map_err(|e| Refused {
                code: "CONFIG_UNOPENABLE",
                message: format!("the opened config is not JSON: {e}"),
            })?;
        let schema = command.config_schema.clone().unwrap_or_default();
        let context = ExecutionContext {
            connector: command.connector_name.as_str().into(),
            redactor: Arc::new(SecretRedactor::new(secret_values(&config, &schema))),
            egress: self.egress.clone(),
            log_level: command.log_level.unwrap_or_default(),
            config,
            // The server refreshes grants; an agent uses the token it is sent.
            token_renewal: None,
        };
        let invocation = Invocation {
            command: command.command.clone(),
            params: command.params.clone(),
            variables: if command.variables.is_object() {
                command.variables.clone()
            } else {
                serde_json::json!({})
            },
            metadata: InvocationMetadata {
                step_id: command.step_id.clone(),
                run_id: command.run_id.clone(),
                timeout: Some(Duration::from_millis(command.timeout_ms)),
            },
        };
        let internal = |e: anyhow::Error| Refused {
            code: "AGENT_INTERNAL",
            message: e.to_string(),
        };
        match command.execution_model {
            ExecutionModel::Script | ExecutionModel::Oas => {
                let source = command.script_source.as_deref().unwrap_or_default();
                let script = self.compiled(source).await?;
                Ok(self.engine.execute(&script, &invocation, &context).await)
            }
            ExecutionModel::BuiltIn => {
                let name = command.type_name.clone().unwrap_or_default();
                let handler = self.types.get(&name).ok_or_else(|| Refused {
                    code: "TYPE_UNAVAILABLE",
                    message: format!("this agent has no built-in type `{name}`"),
                })?;
                run::built_in(&self.engine, handler, &invocation, &context)
                    .await
                    .map_err(internal)
            }
            ExecutionModel::External => {
                let endpoint = command.endpoint_url.as_deref().unwrap_or_default();
                run::external(&self.engine, endpoint, &invocation, &context)
                    .await
                    .map_err(internal)
            }
        }
    }

    /// The compiled script for `source`, compiling it on first use.
    async fn compiled(&self, source: &str) -> Result<CompiledScript, Refused> {
        let digest: [u8; 32] = Sha256::digest(source.as_bytes()).into();
        if let Some(script) = self.cache().by_digest.get(&digest) {
            return Ok(script.clone());
        }
        let script = self.engine.compile(source).await.map_err(|e| Refused {
            code: match e {
                CompileError::Syntax { .. } => "SCRIPT_SYNTAX",
                _ => "AGENT_INTERNAL",
            },
            message: e.to_string(),
        })?;
        let mut cache = self.cache();
        if cache.by_digest.insert(digest, script.clone()).is_none() {
            cache.order.push_back(digest);
        }
        while cache.order.len() > SCRIPT_CACHE_ENTRIES {
            if let Some(oldest) = cache.order.pop_front() {
                cache.by_digest.remove(&oldest);
            }
        }
        Ok(script)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, ScriptCache> {
        self.scripts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn response(command_id: String, execution: Execution) -> AgentResponse {
    let outcome = OutcomeFields::of(execution.outcome);
    AgentResponse {
        command_id,
        success: outcome.success,
        data: outcome.data,
        output_variables: outcome.output_variables,
        error: outcome.error,
        error_code: outcome.error_code,
        stack: outcome.stack,
        duration_ms: execution.duration.as_millis() as u64,
        logs: execution.logs,
        http_calls: execution.http_calls,
    }
}

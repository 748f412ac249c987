//! Running one execution on an agent: seal the config to the agent's key,
//! send the `AgentCommand`, and turn its `AgentResponse` (or its absence)
//! into the same [`Execution`] record a local run produces.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::hub::Unavailable;
use super::protocol::{AgentCommand, AgentResponse};
use super::relay::RemoteAgent;
use super::seal;
use super::session::{DispatchError, Slot};
use crate::model::{ConfigSchema, ExecutionModel};
use crate::redact::SecretRedactor;
use crate::runtime::script_internals::redact_outcome;
use crate::runtime::{ConnectorResult, Execution, ExecutionContext, ExecutionError, Invocation};
use crate::store::ConnectorRecord;

/// Error codes an agent may report that the server passes on as they are;
/// anything else becomes `AGENT_ERROR` (codes are `&'static str` server-side
/// and an agent is not trusted to invent new ones).
const REMOTE_CODES: &[&str] = &[
    "UNKNOWN_COMMAND",
    "SCRIPT_ERROR",
    "COMMAND_THREW",
    "INVALID_RESULT",
    "TIMEOUT",
    "MEMORY_LIMIT",
    "STACK_OVERFLOW",
    "OUTPUT_TOO_LARGE",
    "INVALID_BYTECODE",
    "AT_CAPACITY",
    "SANDBOX_TRAP",
    "INVALID_INPUT",
    "PLUGIN_ERROR",
    "PLUGIN_PANICKED",
    "UNKNOWN_CONNECTOR",
    "CONFIG_UNOPENABLE",
    "TYPE_UNAVAILABLE",
    "SCRIPT_SYNTAX",
    "AGENT_INTERNAL",
];

/// What the agent needs to know about the connector.
pub struct Target<'a> {
    /// The stored connector.
    pub record: &'a ConnectorRecord,
    /// Its effective schema (the agent masks secrets with it).
    pub schema: &'a ConfigSchema,
}

/// How a command reaches its agent.
pub enum Carrier {
    /// The agent is connected to this node.
    Local(Slot),
    /// The agent is connected to another node (see [`super::relay`]).
    Remote(RemoteAgent),
}

impl Carrier {
    /// The agent's id.
    pub fn agent_id(&self) -> &str {
        match self {
            Self::Local(slot) => &slot.session().registration.agent_id,
            Self::Remote(remote) => remote.agent_id(),
        }
    }

    fn public_key(&self) -> Result<x25519_dalek::PublicKey, ExecutionError> {
        match self {
            Self::Local(slot) => Ok(slot.session().public_key),
            Self::Remote(remote) => seal::parse_public_key(remote.public_key())
                .map_err(|e| agent_error("AGENT_INTERNAL", e.to_string())),
        }
    }

    async fn call(
        &self,
        command: AgentCommand,
        wait: Duration,
    ) -> Result<AgentResponse, DispatchError> {
        match self {
            Self::Local(slot) => slot.call(command, wait).await,
            Self::Remote(remote) => remote.call(command, wait).await,
        }
    }
}

/// Run `invocation` on the agent `carrier` reaches, waiting at most
/// `timeout` plus the hub's grace for the answer.
pub async fn execute(
    carrier: Carrier,
    target: Target<'_>,
    invocation: &Invocation,
    context: &ExecutionContext,
    timeout: Duration,
    grace: Duration,
) -> Execution {
    let started = Instant::now();
    let agent = carrier.agent_id().to_string();
    let command_id = crate::ids::new_id("cmd");
    let outcome = match seal_config(&carrier, &command_id, &context.config) {
        Err(error) => Err(error),
        Ok(config) => {
            let command = command_for(&target, invocation, command_id, config, timeout);
            carrier
                .call(command, timeout + grace)
                .await
                .map_err(|error| dispatch_error(error, timeout))
        }
    };
    let execution = match outcome {
        Ok(response) => from_response(response, invocation, &agent),
        Err(error) => Execution::failed(error),
    };
    Execution {
        duration: started.elapsed(),
        ..masked_again(execution, &context.redactor)
    }
}

/// The agent masks secrets itself; the server does it again, since the
/// agent runs on someone else's machine.
pub(super) fn masked_again(execution: Execution, redactor: &SecretRedactor) -> Execution {
    Execution {
        outcome: redact_outcome(execution.outcome, redactor),
        logs: execution
            .logs
            .into_iter()
            .map(|mut entry| {
                entry.message = redactor.redact(&entry.message).into_owned();
                entry
            })
            .collect(),
        http_calls: execution
            .http_calls
            .into_iter()
            .map(|mut call| {
                call.redact(redactor);
                call
            })
            .collect(),
        duration: execution.duration,
    }
}

/// The execution error for a command no agent could take.
pub fn unavailable(reason: Unavailable) -> ExecutionError {
    let code = match reason {
        Unavailable::NoneConnected { .. } => "AGENT_UNAVAILABLE",
        Unavailable::Busy { .. } => "AGENT_BUSY",
    };
    agent_error(code, reason.to_string())
}

fn seal_config(
    carrier: &Carrier,
    command_id: &str,
    config: &Value,
) -> Result<seal::SealedConfig, ExecutionError> {
    let plaintext = serde_json::to_vec(config)
        .map_err(|e| agent_error("AGENT_INTERNAL", format!("config: {e}")))?;
    seal::seal(&carrier.public_key()?, command_id, &plaintext)
        .map_err(|e| agent_error("AGENT_INTERNAL", e.to_string()))
}

fn command_for(
    target: &Target<'_>,
    invocation: &Invocation,
    command_id: String,
    config: seal::SealedConfig,
    timeout: Duration,
) -> AgentCommand {
    let definition = &target.record.definition;
    let model = definition.execution_model;
    AgentCommand {
        command_id,
        connector_id: target.record.id.clone(),
        connector_name: definition.name.clone(),
        execution_model: model,
        command: invocation.command.clone(),
        params: invocation.params.clone(),
        variables: invocation.variables.clone(),
        script_source: matches!(model, ExecutionModel::Script | ExecutionModel::Oas)
            .then(|| definition.script_source.clone())
            .flatten(),
        type_name: (model == ExecutionModel::BuiltIn)
            .then(|| definition.type_name.clone())
            .flatten(),
        endpoint_url: (model == ExecutionModel::External)
            .then(|| definition.endpoint_url.clone())
            .flatten(),
        config_schema: Some(target.schema.clone()),
        log_level: definition.log_level,
        config,
        timeout_ms: timeout.as_millis() as u64,
        step_id: invocation.metadata.step_id.clone(),
        run_id: invocation.metadata.run_id.clone(),
    }
}

pub(super) fn from_response(
    response: AgentResponse,
    invocation: &Invocation,
    agent: &str,
) -> Execution {
    let outcome = match response.error_code {
        None => Ok(ConnectorResult {
            success: response.success,
            data: response.data,
            output_variables: response.output_variables,
            error: response.error,
        }),
        Some(code) if code == "UNKNOWN_COMMAND" => {
            Err(ExecutionError::UnknownCommand(invocation.command.clone()))
        }
        Some(code) => {
            let code = REMOTE_CODES
                .iter()
                .find(|known| **known == code)
                .copied()
                .unwrap_or("AGENT_ERROR");
            Err(ExecutionError::Agent {
                code,
                message: response
                    .error
                    .unwrap_or_else(|| format!("agent `{agent}` reported {code}")),
                stack: response.stack.unwrap_or_default(),
            })
        }
    };
    Execution {
        outcome,
        logs: response.logs,
        http_calls: response.http_calls,
        duration: Duration::from_millis(response.duration_ms),
    }
}

fn dispatch_error(error: DispatchError, timeout: Duration) -> ExecutionError {
    match error {
        DispatchError::Disconnected(_) => agent_error("AGENT_DISCONNECTED", error.to_string()),
        DispatchError::NoAnswer { agent, .. } => agent_error(
            "TIMEOUT",
            format!(
                "agent `{agent}` did not answer within the timeout of {} ms",
                timeout.as_millis()
            ),
        ),
    }
}

fn agent_error(code: &'static str, message: String) -> ExecutionError {
    ExecutionError::Agent {
        code,
        message,
        stack: String::new(),
    }
}

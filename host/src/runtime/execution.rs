//! What goes into an execution and what comes out of it.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::egress::EgressPolicy;
use crate::imports::{HttpCall, LogEntry, LogLevel};
use crate::redact::SecretRedactor;

/// One command to run (the spec's execute request, minus the config).
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    /// The command, i.e. the script's global function name.
    pub command: String,
    /// `floh.params` (a JSON object).
    pub params: Value,
    /// `floh.variables` (a JSON object).
    pub variables: Value,
    /// Step and run ids and the deadline.
    pub metadata: InvocationMetadata,
}

/// The spec's `metadata` of an execute request.
#[derive(Debug, Clone, Default)]
pub struct InvocationMetadata {
    /// The workflow step, if any.
    pub step_id: Option<String>,
    /// The workflow run, if any.
    pub run_id: Option<String>,
    /// The deadline; the engine's default when `None`.
    pub timeout: Option<Duration>,
}

/// Who is executing and under which rules.
#[derive(Debug, Clone)]
pub struct ExecutionContext {
    /// The connector's name (for logs and traces).
    pub connector: Arc<str>,
    /// The decrypted connection config (a JSON object): `floh.config`.
    pub config: serde_json::Value,
    /// Masks the connector's secret values in logs and errors.
    pub redactor: Arc<SecretRedactor>,
    /// Where `floh.http` may go.
    pub egress: EgressPolicy,
    /// The connector's `logLevel`.
    pub log_level: LogLevel,
    /// The OAuth2 grant behind `config.accessToken`, renewed on a 401.
    pub token_renewal: Option<TokenRenewal>,
}

/// An execution's OAuth2 grant, as the HTTP import uses it.
#[derive(Clone)]
pub struct TokenRenewal(pub Arc<dyn crate::imports::http::AccessTokenRenewal>);

impl std::fmt::Debug for TokenRenewal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenRenewal(..)")
    }
}

impl ExecutionContext {
    /// A context with no config and the default (public-only) egress policy.
    pub fn new(connector: &str) -> Self {
        Self {
            connector: connector.into(),
            config: serde_json::json!({}),
            redactor: Arc::default(),
            egress: EgressPolicy::default(),
            log_level: LogLevel::default(),
            token_renewal: None,
        }
    }
}

/// The spec's `ConnectorResult`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorResult {
    /// Whether the command succeeded.
    pub success: bool,
    /// Output data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// Variables to set on the workflow run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_variables: Option<Value>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Everything an execution produced, including when it failed.
#[derive(Debug)]
pub struct Execution {
    /// The connector's result, or why there is none.
    pub outcome: Result<ConnectorResult, ExecutionError>,
    /// Captured log lines (secrets masked).
    pub logs: Vec<LogEntry>,
    /// HTTP requests made, in order.
    pub http_calls: Vec<HttpCall>,
    /// Wall time of the whole execution.
    pub duration: Duration,
}

impl Execution {
    /// An execution that failed before running anything.
    pub fn failed(error: ExecutionError) -> Self {
        Self {
            outcome: Err(error),
            logs: Vec::new(),
            http_calls: Vec::new(),
            duration: Duration::ZERO,
        }
    }
}

/// An outcome as the flat fields responses carry (the API's execution
/// response, an agent's `AgentResponse`): the result's fields, or the
/// error's message, code and stack.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutcomeFields {
    /// The result's `success` (false on an error).
    pub success: bool,
    /// The result's `data`.
    pub data: Option<Value>,
    /// The result's `outputVariables`.
    pub output_variables: Option<Value>,
    /// The result's `error`, or the execution error's message.
    pub error: Option<String>,
    /// The execution error's code.
    pub error_code: Option<String>,
    /// The JavaScript stack of a thrown error, when there is one.
    pub stack: Option<String>,
}

impl OutcomeFields {
    /// Flatten `outcome`.
    pub fn of(outcome: Result<ConnectorResult, ExecutionError>) -> Self {
        match outcome {
            Ok(result) => Self {
                success: result.success,
                data: result.data,
                output_variables: result.output_variables,
                error: result.error,
                ..Self::default()
            },
            Err(error) => Self {
                error_code: Some(error.code().to_string()),
                stack: error.stack().filter(|s| !s.is_empty()).map(str::to_string),
                error: Some(error.to_string()),
                ..Self::default()
            },
        }
    }
}

/// Why an execution produced no connector result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecutionError {
    /// The script has no function named like the command.
    #[error("unknown command `{0}`: the script defines no function with that name")]
    UnknownCommand(String),
    /// The script's top level threw.
    #[error("the script failed while loading: {message}")]
    ScriptThrew {
        /// Exception message.
        message: String,
        /// JavaScript stack.
        stack: String,
    },
    /// The command threw.
    #[error("{message}")]
    CommandThrew {
        /// Exception message.
        message: String,
        /// JavaScript stack.
        stack: String,
    },
    /// The returned value is not a ConnectorResult.
    #[error("invalid result: {0}")]
    InvalidResult(String),
    /// The deadline passed.
    #[error("the execution exceeded its timeout of {} ms", .0.as_millis())]
    Timeout(Duration),
    /// The sandbox ran out of its memory allowance.
    #[error("the execution exceeded its memory limit of {} MiB", .0 / (1024 * 1024))]
    MemoryLimit(usize),
    /// Recursion too deep.
    #[error("the execution overflowed its stack (too deep recursion)")]
    StackOverflow,
    /// `data` plus `outputVariables` exceed the output cap.
    #[error("the result is larger than the limit of {0} bytes")]
    OutputTooLarge(usize),
    /// Stored bytecode was not produced by this engine.
    #[error("the compiled script cannot be loaded: {0}")]
    InvalidBytecode(String),
    /// Every sandbox slot is busy.
    #[error("the host is at capacity; retry shortly")]
    AtCapacity,
    /// The sandbox trapped for another reason (a host or engine defect).
    #[error("the sandbox trapped: {0}")]
    Trap(String),
    /// A plugin found its params or config unusable.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A plugin reported a failure other than a `success: false` result.
    #[error("the plugin failed: {0}")]
    PluginFailed(String),
    /// A plugin panicked (its instance aborted).
    #[error("the plugin panicked: {0}")]
    PluginPanicked(String),
    /// The command ran (or was to run) on an on-premise agent, and failed
    /// there or on the way: the agent's own error code, or
    /// `AGENT_DISCONNECTED`, `AGENT_UNAVAILABLE`, `AGENT_BUSY`, `TIMEOUT`.
    #[error("{message}")]
    Agent {
        /// The machine-readable code.
        code: &'static str,
        /// What happened (secrets masked).
        message: String,
        /// The JavaScript stack, when the agent reports one.
        stack: String,
    },
    /// The connector's OAuth2 grant cannot give an access token:
    /// `OAUTH_NOT_CONNECTED`, `OAUTH_RECONNECT_REQUIRED`,
    /// `OAUTH_NOT_CONFIGURED` or `OAUTH_REFRESH_FAILED`.
    #[error("{message}")]
    Authorization {
        /// The machine-readable code.
        code: &'static str,
        /// What a person should do about it.
        message: String,
    },
}

impl ExecutionError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownCommand(_) => "UNKNOWN_COMMAND",
            Self::ScriptThrew { .. } => "SCRIPT_ERROR",
            Self::CommandThrew { .. } => "COMMAND_THREW",
            Self::InvalidResult(_) => "INVALID_RESULT",
            Self::Timeout(_) => "TIMEOUT",
            Self::MemoryLimit(_) => "MEMORY_LIMIT",
            Self::StackOverflow => "STACK_OVERFLOW",
            Self::OutputTooLarge(_) => "OUTPUT_TOO_LARGE",
            Self::InvalidBytecode(_) => "INVALID_BYTECODE",
            Self::AtCapacity => "AT_CAPACITY",
            Self::Trap(_) => "SANDBOX_TRAP",
            Self::InvalidInput(_) => "INVALID_INPUT",
            Self::PluginFailed(_) => "PLUGIN_ERROR",
            Self::PluginPanicked(_) => "PLUGIN_PANICKED",
            Self::Agent { code, .. } | Self::Authorization { code, .. } => code,
        }
    }

    /// The JavaScript stack, when the error is an exception.
    pub fn stack(&self) -> Option<&str> {
        match self {
            Self::ScriptThrew { stack, .. }
            | Self::CommandThrew { stack, .. }
            | Self::Agent { stack, .. } => Some(stack),
            _ => None,
        }
    }
}

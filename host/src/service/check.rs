//! Checking a script without saving anything: what the editor's inline
//! diagnostics and the MCP tools show before a person or a model commits to
//! a change. The same compiler as `create` and `update`, so a script that
//! checks clean is one they accept.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ConnectorService, ServiceError};
use crate::egress::EgressPolicy;
use crate::runtime::{CompileError, ExecutionContext, ExecutionError, Invocation};

/// The global function the check appends to find which commands exist. The
/// odd name makes a clash with a user's function improbable; a clash would
/// only make that one command look defined.
const PROBE_FUNCTION: &str = "__flohCheckDefinedCommands__";

/// How long the script's top level may run during a check.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A check request: the script and the commands it should define.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"scriptSource": "function greet() { return { success: true }; }", "commands": ["greet", "test"]}))]
pub struct ScriptCheckRequest {
    /// The JavaScript source.
    pub script_source: String,
    /// Command names the definition declares; each must be a global function.
    #[serde(default)]
    pub commands: Vec<String>,
}

/// How serious a diagnostic is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// `create` or `update` would refuse the script, or a command would fail.
    Error,
    /// Worth a look; does not block saving.
    Warning,
}

/// One finding, positioned when the compiler gives a position.
#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Machine-readable: `SCRIPT_SYNTAX`, `SCRIPT_TOO_LARGE`, `SCRIPT_ERROR`
    /// (the top level threw), `COMMAND_NOT_DEFINED`, `CHECK_FAILED`.
    pub code: String,
    /// What is wrong, for people and models.
    pub message: String,
    /// 1-based line, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

/// The outcome of a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScriptCheck {
    /// True when no diagnostic is an error.
    pub ok: bool,
    /// Findings, errors first.
    pub diagnostics: Vec<Diagnostic>,
}

impl ScriptCheck {
    fn of(mut diagnostics: Vec<Diagnostic>) -> Self {
        diagnostics.sort_by_key(|d| d.severity != Severity::Error);
        Self {
            ok: diagnostics.iter().all(|d| d.severity != Severity::Error),
            diagnostics,
        }
    }
}

fn error(code: &str, message: impl Into<String>) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        code: code.into(),
        message: message.into(),
        line: None,
        column: None,
    }
}

impl ConnectorService {
    /// Compile `request.script_source` with the host's compiler and, when it
    /// compiles, run its top level in a sandbox that may not use the network
    /// to see which declared commands it defines. Nothing is stored.
    pub async fn check_script(
        &self,
        request: &ScriptCheckRequest,
    ) -> Result<ScriptCheck, ServiceError> {
        let source = &request.script_source;
        match self.engine.compile(source).await {
            Ok(_) => {}
            Err(CompileError::Syntax {
                message,
                line,
                column,
            }) => {
                return Ok(ScriptCheck::of(vec![Diagnostic {
                    line: Some(line),
                    column: Some(column),
                    ..error("SCRIPT_SYNTAX", message)
                }]));
            }
            Err(CompileError::TooLarge(limit)) => {
                return Ok(ScriptCheck::of(vec![error(
                    "SCRIPT_TOO_LARGE",
                    format!("the script is larger than {limit} bytes"),
                )]));
            }
            Err(CompileError::Engine(message)) => return Err(ServiceError::Internal(message)),
        }
        if request.commands.is_empty() {
            return Ok(ScriptCheck::of(Vec::new()));
        }
        self.probe_commands(source, &request.commands).await
    }

    /// Which of `commands` the script defines as global functions, found by
    /// running its top level with a probe appended (the source compiled on
    /// its own, so appending cannot change how it parses).
    async fn probe_commands(
        &self,
        source: &str,
        commands: &[String],
    ) -> Result<ScriptCheck, ServiceError> {
        let probe = format!(
            "{source}\n;function {PROBE_FUNCTION}() {{\n  var defined = {{}};\n  floh.params.names.forEach(function (name) {{ defined[name] = typeof globalThis[name] === 'function'; }});\n  return {{ success: true, data: defined }};\n}}\n"
        );
        let compiled = match self.engine.compile(&probe).await {
            Ok(compiled) => compiled,
            // The probe pushed the source over the size limit: only the
            // compile result can be reported.
            Err(CompileError::TooLarge(_)) => return Ok(ScriptCheck::of(Vec::new())),
            Err(other) => return Err(ServiceError::Internal(other.to_string())),
        };
        let invocation = Invocation {
            command: PROBE_FUNCTION.into(),
            params: json!({ "names": commands }),
            variables: json!({}),
            metadata: crate::runtime::InvocationMetadata {
                timeout: Some(PROBE_TIMEOUT),
                ..Default::default()
            },
        };
        let context = ExecutionContext {
            egress: EgressPolicy::nowhere(),
            ..ExecutionContext::new("script-check")
        };
        let execution = self.engine.execute(&compiled, &invocation, &context).await;
        let defined = match execution.outcome {
            Ok(result) => result.data.unwrap_or(Value::Null),
            Err(ExecutionError::ScriptThrew { message, .. }) => {
                return Ok(ScriptCheck::of(vec![error(
                    "SCRIPT_ERROR",
                    format!("the script's top level threw: {message}"),
                )]));
            }
            Err(other) => {
                return Ok(ScriptCheck::of(vec![error(
                    "CHECK_FAILED",
                    format!("the script's top level could not be run: {other}"),
                )]));
            }
        };
        let missing = commands
            .iter()
            .filter(|name| defined.get(name.as_str()) != Some(&Value::Bool(true)))
            .map(|name| {
                error(
                    "COMMAND_NOT_DEFINED",
                    format!(
                        "the command `{name}` is declared but the script defines no global function `{name}`"
                    ),
                )
            })
            .collect();
        Ok(ScriptCheck::of(missing))
    }
}

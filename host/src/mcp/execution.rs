//! Running connectors through MCP: the API's execution result, progress
//! while it runs (when the client sent a progress token), and cancellation.

use std::time::{Duration, Instant};

use rmcp::model::ProgressNotificationParam;
use rmcp::service::{RequestContext, RoleServer};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::ToolError;
use crate::metrics::Metrics;
use crate::service::{ConnectorService, ExecuteRequest, ExecutionResponse, RequestMetadata};

/// How often a running execution reports progress.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);

/// What `execute_connector_command` needs.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecuteInput {
    /// The connector's id or name.
    pub connector: String,
    /// The command to run (see the connector's commands in
    /// list_connectors or get_connector).
    pub command: String,
    /// The command's params as an object, e.g. {"limit": 10}; checked
    /// against its paramSchema, defaults applied.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub params: Option<Value>,
    /// Workflow variables the script can read as `floh.variables`.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub variables: Option<Value>,
    /// A deadline in milliseconds (default: the server's).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// `test_connector`.
pub async fn test(
    service: &ConnectorService,
    metrics: &Metrics,
    connector: &str,
    context: &RequestContext<RoleServer>,
) -> Result<Value, ToolError> {
    let request = ExecuteRequest {
        command: "test".into(),
        ..ExecuteRequest::default()
    };
    run(service, metrics, connector, request, context).await
}

/// `execute_connector_command`.
pub async fn execute(
    service: &ConnectorService,
    metrics: &Metrics,
    input: ExecuteInput,
    context: &RequestContext<RoleServer>,
) -> Result<Value, ToolError> {
    let request = ExecuteRequest {
        command: input.command,
        params: input.params.unwrap_or(Value::Null),
        variables: input.variables.unwrap_or(Value::Null),
        metadata: RequestMetadata {
            timeout: input.timeout_ms,
            ..RequestMetadata::default()
        },
    };
    run(service, metrics, &input.connector, request, context).await
}

async fn run(
    service: &ConnectorService,
    metrics: &Metrics,
    connector: &str,
    request: ExecuteRequest,
    context: &RequestContext<RoleServer>,
) -> Result<Value, ToolError> {
    let command = request.command.clone();
    let progress = context.meta.get_progress_token();
    let execution = service.execute(connector, request);
    tokio::pin!(execution);
    let started = Instant::now();
    let mut ticker = tokio::time::interval(PROGRESS_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let response = loop {
        tokio::select! {
            biased;
            // Dropping the execution stops it: the sandbox is torn down, an
            // agent's slot is released.
            _ = context.ct.cancelled() => {
                return Err(ToolError::new("CANCELLED", format!("`{command}` was cancelled by the client")));
            }
            response = &mut execution => break response?,
            _ = ticker.tick(), if progress.is_some() => {
                if let Some(token) = &progress {
                    let elapsed = started.elapsed().as_secs_f64();
                    let notification = ProgressNotificationParam::new(token.clone(), elapsed)
                        .with_message(format!("`{command}` of `{connector}` running for {elapsed:.0} s"));
                    // A client that went away only misses a progress line.
                    let _ = context.peer.notify_progress(notification).await;
                }
            }
        }
    };
    metrics.observe(&response);
    respond(response)
}

fn respond(response: ExecutionResponse) -> Result<Value, ToolError> {
    let value = serde_json::to_value(&response)
        .map_err(|e| ToolError::new("INTERNAL_ERROR", e.to_string()))?;
    if response.success {
        return Ok(value);
    }
    let code = response
        .error_code
        .clone()
        .unwrap_or_else(|| "COMMAND_FAILED".into());
    let message = response
        .error
        .clone()
        .unwrap_or_else(|| format!("`{}` did not succeed", response.command));
    Err(ToolError::new(&code, message).with_extra(json!({ "execution": value })))
}

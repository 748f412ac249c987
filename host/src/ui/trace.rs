//! An execution as a trace: outcome and cause, where it ran, the result,
//! the logs and every HTTP call. Everything shown here was already masked
//! by value by the runtime (secrets never reach this module in clear).

use maud::{Markup, html};
use serde_json::Value;

use super::layout::{duration, time_ago};
use crate::imports::{HttpCall, LogEntry};
use crate::model::{ConnectorDefinition, ExecutionModel};
use crate::service::ExecutionResponse;
use crate::store::ExecutionRecord;

/// The longest JSON preview shown inline.
const PREVIEW_CHARS: usize = 16 * 1024;

/// What a trace shows, from a fresh response or a stored record.
pub struct Trace<'a> {
    /// Execution id.
    pub id: &'a str,
    /// The command.
    pub command: &'a str,
    /// The result's `success`.
    pub success: bool,
    /// `ok` or the error code.
    pub status: &'a str,
    /// The cause of a failure.
    pub error: Option<&'a str>,
    /// The result's data (fresh runs only).
    pub data: Option<&'a Value>,
    /// The result's output variables (fresh runs only).
    pub output_variables: Option<&'a Value>,
    /// A thrown error's stack.
    pub stack: Option<&'a str>,
    /// When it started (stored records).
    pub started_at_ms: Option<u64>,
    /// Wall time.
    pub duration_ms: u64,
    /// Log lines.
    pub logs: &'a [LogEntry],
    /// HTTP calls.
    pub http_calls: &'a [HttpCall],
    /// The agent that ran it.
    pub agent: Option<&'a str>,
}

impl<'a> Trace<'a> {
    /// The trace of a fresh execution.
    pub fn of_response(response: &'a ExecutionResponse) -> Self {
        Self {
            id: &response.execution_id,
            command: &response.command,
            success: response.success,
            status: response.error_code.as_deref().unwrap_or("ok"),
            error: response.error.as_deref(),
            data: response.data.as_ref(),
            output_variables: response.output_variables.as_ref(),
            stack: response.stack.as_deref(),
            started_at_ms: None,
            duration_ms: response.duration_ms,
            logs: &response.logs,
            http_calls: &response.http_calls,
            agent: response.agent.as_deref(),
        }
    }

    /// The trace of a stored execution.
    pub fn of_record(record: &'a ExecutionRecord) -> Self {
        Self {
            id: &record.id,
            command: &record.command,
            success: record.success,
            status: &record.status,
            error: record.error.as_deref(),
            data: None,
            output_variables: None,
            stack: None,
            started_at_ms: Some(record.started_at_ms),
            duration_ms: record.duration_ms,
            logs: &record.logs,
            http_calls: &record.http_calls,
            agent: record.agent.as_deref(),
        }
    }
}

/// Where an execution of `definition` ran, in words.
pub fn ran_where(definition: &ConnectorDefinition, agent: Option<&str>) -> Markup {
    if let Some(agent) = agent {
        return html! { "on agent " strong { (agent) } };
    }
    match definition.execution_model {
        ExecutionModel::Script | ExecutionModel::Oas => {
            html! { "in a sandbox on this server (script)" }
        }
        ExecutionModel::BuiltIn => html! {
            "by the " code { (definition.type_name.as_deref().unwrap_or("?")) } " type's plugin on this server"
        },
        ExecutionModel::External => html! {
            "by the external service at " code { (definition.endpoint_url.as_deref().unwrap_or("?")) }
        },
    }
}

/// The whole trace; `test` says it was a Test (pass/fail wording).
pub fn render(trace: &Trace<'_>, definition: &ConnectorDefinition, test: bool) -> Markup {
    let verdict = match (test, trace.success) {
        (true, true) => "Test passed",
        (true, false) => "Test failed",
        (false, true) => "Succeeded",
        (false, false) => "Failed",
    };
    html! {
        section class="trace" aria-label={ "Trace of " (trace.command) } {
            div class={ "alert " (if trace.success { "alert-ok" } else { "alert-error" }) } role="status" {
                strong { (verdict) }
                @if !trace.success {
                    @if let Some(error) = trace.error { ": " (error) }
                    @else if let Some(cause) = failed_call(trace.http_calls) { ": " (cause) }
                    @else { ": the connector reported failure without a message" }
                    @if trace.status != "ok" { " " span class="badge badge-fail" { (trace.status) } }
                }
            }
            div class="trace-summary" {
                span { "Command " code { (trace.command) } }
                span { "took " strong { (duration(trace.duration_ms)) } }
                span { "ran " (ran_where(definition, trace.agent)) }
                @if let Some(at) = trace.started_at_ms { span { (time_ago(at)) } }
                span class="muted small" { "id " code { (trace.id) } }
            }
            @if let Some(data) = trace.data {
                h3 { "Result data" }
                pre { code { (preview(data)) } }
            }
            @if let Some(vars) = trace.output_variables {
                h3 { "Output variables" }
                pre { code { (preview(vars)) } }
            }
            @if let Some(stack) = trace.stack {
                h3 { "Stack" }
                pre { code { (stack) } }
            }
            h3 { "HTTP calls (" (trace.http_calls.len()) ")" }
            @if trace.http_calls.is_empty() {
                p class="muted" { "No HTTP calls." }
            }
            @for (i, call) in trace.http_calls.iter().enumerate() {
                details open[trace.http_calls.len() <= 3] {
                    summary {
                        span class="method" { (call.method) }
                        span class="url" { (call.url) }
                        @match call.status {
                            Some(status) if status < 400 => span class="badge badge-ok" { (status) },
                            Some(status) => span class="badge badge-fail" { (status) },
                            None => span class="badge badge-fail" { "no response" },
                        }
                        span class="muted" { (duration(call.duration_ms)) }
                    }
                    div class="call-body" {
                        dl class="dl" {
                            dt { "Call" } dd { "#" (i + 1) }
                            dt { "Method" } dd { code { (call.method) } }
                            dt { "URL" } dd { code class="url" { (call.url) } }
                            dt { "Status" } dd { (call.status.map(|s| s.to_string()).unwrap_or_else(|| "—".into())) }
                            dt { "Duration" } dd { (duration(call.duration_ms)) }
                            @if let Some(error) = &call.error { dt { "Error" } dd { (error) } }
                        }
                    }
                }
            }
            h3 { "Logs (" (trace.logs.len()) ")" }
            @if trace.logs.is_empty() {
                p class="muted" { "No log lines." }
            } @else {
                ul class="logs" {
                    @for entry in trace.logs {
                        @let level = format!("{:?}", entry.level).to_lowercase();
                        li {
                            span class={ "level level-" (level) } { (level) }
                            span class="muted" { "+" (entry.at_ms) " ms " }
                            (entry.message)
                        }
                    }
                }
            }
        }
    }
}

/// The last HTTP call that failed, as a cause: `GET … answered 401`.
fn failed_call(calls: &[HttpCall]) -> Option<String> {
    calls
        .iter()
        .rev()
        .find_map(|call| match (call.status, &call.error) {
            (Some(status), _) if status >= 400 => {
                Some(format!("{} {} answered {status}", call.method, call.url))
            }
            (None, Some(error)) => Some(format!("{} {} failed: {error}", call.method, call.url)),
            _ => None,
        })
}

/// Pretty JSON, cut to a bounded preview.
pub fn preview(value: &Value) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    if text.len() <= PREVIEW_CHARS {
        return text;
    }
    let cut = text.floor_char_boundary(PREVIEW_CHARS);
    format!(
        "{}\n… ({} more characters not shown)",
        &text[..cut],
        text.len() - cut
    )
}

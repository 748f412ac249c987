//! An execution as a trace: outcome and cause, where it ran, the result,
//! the logs and every HTTP call. Everything shown here was already masked
//! by value by the runtime (secrets never reach this module in clear).

use maud::{Markup, html};
use serde_json::Value;

use super::layout::{duration, time_ago};
use crate::imports::{BodyPreview, HttpCall, HttpHeader, LogEntry, PREVIEW_BUDGET_BYTES};
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
                        div class="exchange" {
                            section aria-label={ "Request of call " (i + 1) } {
                                h4 { "Request" }
                                (headers_table(&format!("Request headers of call {}", i + 1), &call.request_headers))
                                (body_preview(call.request_body.as_ref(), "No body."))
                            }
                            section aria-label={ "Response of call " (i + 1) } {
                                h4 { "Response" }
                                @if call.status.is_some() {
                                    (headers_table(&format!("Response headers of call {}", i + 1), &call.response_headers))
                                    (body_preview(call.response_body.as_ref(),
                                        if call.error.is_some() || call.status.is_some_and(|s| (300..400).contains(&s)) { "Body not read." } else { "No body." }))
                                } @else {
                                    p class="muted" { "No response." }
                                }
                            }
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

/// A call's headers as a table (masked already).
fn headers_table(caption: &str, headers: &[HttpHeader]) -> Markup {
    html! {
        @if headers.is_empty() {
            p class="muted small" { "No headers recorded." }
        } @else {
            table class="table headers" {
                caption class="visually-hidden" { (caption) }
                thead { tr { th scope="col" { "Header" } th scope="col" { "Value" } } }
                tbody {
                    @for header in headers {
                        tr { td { code { (header.name) } } td { code class="header-value" { (header.value) } } }
                    }
                }
            }
        }
    }
}

/// The start of a body: text in a `<pre>` (JSON pretty-printed when whole),
/// binary bodies only described.
fn body_preview(body: Option<&BodyPreview>, absent: &str) -> Markup {
    let Some(body) = body else {
        return html! { p class="muted small" { (absent) } };
    };
    let size = bytes(body.size);
    html! {
        @match &body.text {
            Some(text) => {
                p class="muted small body-note" {
                    "Body, " (size)
                    @if body.truncated { ", first " (bytes(text.len() as u64)) " shown" }
                }
                pre class="body-preview" tabindex="0" { code { (readable(text, body.truncated)) } }
            }
            None if body.binary => p class="muted small body-note" { "Binary body, " (size) " (not shown)." },
            None => p class="muted small body-note" {
                "Body, " (size) ", not kept: the execution's previews reached their "
                (bytes(PREVIEW_BUDGET_BYTES as u64)) " budget."
            },
        }
    }
}

/// Whole JSON indented (keys in the order received), anything else as it is.
fn readable(text: &str, truncated: bool) -> String {
    let json = !truncated
        && text.trim_start().starts_with(['{', '['])
        && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
    if json {
        indent_json(text)
    } else {
        text.to_string()
    }
}

/// Valid JSON text re-indented by two spaces, without reordering anything.
fn indent_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = text.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n("  ", depth));
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                if chars.peek().is_some_and(|&next| next == '}' || next == ']') {
                    out.extend(chars.next());
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

/// A byte count for people.
fn bytes(count: u64) -> String {
    match count {
        0..1024 => format!("{count} bytes"),
        1024..1_048_576 => format!("{:.1} KiB", count as f64 / 1024.0),
        _ => format!("{:.1} MiB", count as f64 / 1_048_576.0),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_json_bodies_are_indented_in_their_own_order() {
        assert_eq!(
            readable(r#"{"z":1,"a":[1, {}],"s":"a,b:{\"c\"}","e":[]}"#, false),
            "{\n  \"z\": 1,\n  \"a\": [\n    1,\n    {}\n  ],\n  \"s\": \"a,b:{\\\"c\\\"}\",\n  \"e\": []\n}"
        );
        assert_eq!(
            readable(r#"{"cut":"#, true),
            r#"{"cut":"#,
            "a cut body stays as it is"
        );
        assert_eq!(readable("[INFO] not json", false), "[INFO] not json");
    }

    #[test]
    fn byte_counts_read_well() {
        assert_eq!(bytes(512), "512 bytes");
        assert_eq!(bytes(2048), "2.0 KiB");
        assert_eq!(bytes(3 * 1_048_576), "3.0 MiB");
    }
}

//! The `external` execution model: a remote service speaking the spec's
//! protocol (`POST /execute`, optional `GET /schema` and `GET /health`).
//!
//! Requests go through [`HostCalls`], so the connector's egress policy,
//! limits and redaction apply to external services like to scripts.

use std::time::Duration;

use serde_json::{Value, json};

use crate::bindings::http::{HttpError, Method, Request, Response};
use crate::imports::http::describe;
use crate::model::ConfigSchema;
use crate::runtime::HostCalls;
use crate::runtime::{ConnectorResult, ExecutionContext, ExecutionError, Invocation};

/// `endpoint` joined with one path segment, tolerant of a trailing slash.
fn endpoint_path(endpoint: &str, path: &str) -> String {
    format!("{}/{path}", endpoint.trim_end_matches('/'))
}

fn get(url: String) -> Request {
    Request {
        method: Method::Get,
        url,
        headers: vec![("accept".into(), "application/json".into())],
        body: None,
    }
}

/// POST the spec's Execute Request to `{endpoint}/execute` and validate the
/// Execute Response. Transport failures become a failed result (the service
/// is unreachable, which a workflow may retry); protocol violations are
/// `InvalidResult`.
pub async fn execute(
    endpoint: &str,
    invocation: &Invocation,
    context: &ExecutionContext,
    timeout: Duration,
    calls: &mut HostCalls,
) -> Result<ConnectorResult, ExecutionError> {
    let body = json!({
        "command": invocation.command,
        "config": context.config,
        "params": invocation.params,
        "variables": invocation.variables,
        "metadata": {
            "stepId": invocation.metadata.step_id,
            "runId": invocation.metadata.run_id,
            "timeout": timeout.as_millis() as u64,
        },
    });
    let request = Request {
        method: Method::Post,
        url: endpoint_path(endpoint, "execute"),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("accept".into(), "application/json".into()),
        ],
        body: Some(body.to_string().into_bytes()),
    };
    let response = match calls.send(request).await {
        Ok(response) => response,
        Err(HttpError::Timeout) => return Err(ExecutionError::Timeout(timeout)),
        Err(error) => {
            return Ok(ConnectorResult {
                success: false,
                data: None,
                output_variables: None,
                error: Some(format!(
                    "the external service could not be reached: {}",
                    describe(&error)
                )),
            });
        }
    };
    parse_execute_response(&response)
}

/// Validate an Execute Response: a 2xx JSON object with a boolean `success`.
fn parse_execute_response(response: &Response) -> Result<ConnectorResult, ExecutionError> {
    let invalid =
        |reason: String| ExecutionError::InvalidResult(format!("the external service {reason}"));
    let value: Value = serde_json::from_slice(&response.body).map_err(|_| {
        invalid(format!(
            "answered HTTP {} with a body that is not JSON",
            response.status
        ))
    })?;
    if !(200..300).contains(&response.status) {
        let detail = value.get("error").map(Value::to_string).unwrap_or_default();
        return Err(invalid(format!(
            "answered HTTP {} {detail}",
            response.status
        )));
    }
    let Some(success) = value.get("success").and_then(Value::as_bool) else {
        return Err(invalid("answered without a boolean `success`".into()));
    };
    let output_variables = value
        .get("outputVariables")
        .filter(|v| !v.is_null())
        .cloned();
    if output_variables.as_ref().is_some_and(|v| !v.is_object()) {
        return Err(invalid(
            "answered with `outputVariables` that is not an object".into(),
        ));
    }
    let error = match value.get("error") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(other) => Some(other.to_string()),
    };
    Ok(ConnectorResult {
        success,
        data: value.get("data").filter(|v| !v.is_null()).cloned(),
        output_variables,
        error,
    })
}

/// `GET {endpoint}/health`: `None` when the service has no such endpoint
/// (404/405), so the caller runs the `test` command instead.
pub async fn health(endpoint: &str, calls: &mut HostCalls) -> Option<ConnectorResult> {
    let result = match calls.send(get(endpoint_path(endpoint, "health"))).await {
        Ok(response) if matches!(response.status, 404 | 405) => return None,
        Ok(response) => ConnectorResult {
            success: (200..300).contains(&response.status),
            data: serde_json::from_slice(&response.body).ok(),
            output_variables: None,
            error: (!(200..300).contains(&response.status))
                .then(|| format!("/health answered HTTP {}", response.status)),
        },
        Err(error) => ConnectorResult {
            success: false,
            data: None,
            output_variables: None,
            error: Some(format!("/health: {}", describe(&error))),
        },
    };
    Some(result)
}

/// `GET {endpoint}/schema`: the service's `configSchema` (either the schema
/// itself or an object with a `configSchema` field), when it has one.
pub async fn fetch_schema(endpoint: &str, calls: &mut HostCalls) -> Option<ConfigSchema> {
    let response = calls
        .send(get(endpoint_path(endpoint, "schema")))
        .await
        .ok()?;
    if !(200..300).contains(&response.status) {
        return None;
    }
    let value: Value = serde_json::from_slice(&response.body).ok()?;
    let schema = value.get("configSchema").cloned().unwrap_or(value);
    serde_json::from_value(schema).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn execute_responses_are_validated() {
        let ok = parse_execute_response(&response(
            200,
            r#"{"success": true, "data": [1], "outputVariables": {"a": 1}}"#,
        ))
        .expect("valid");
        assert_eq!(ok.data, Some(json!([1])));
        for (status, body, reason) in [
            (200, "not json", "not JSON"),
            (200, r#"{"data": 1}"#, "boolean `success`"),
            (500, r#"{"error": "boom"}"#, "HTTP 500"),
            (
                200,
                r#"{"success": true, "outputVariables": [1]}"#,
                "outputVariables",
            ),
        ] {
            match parse_execute_response(&response(status, body)) {
                Err(ExecutionError::InvalidResult(message)) => {
                    assert!(message.contains(reason), "{message}")
                }
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn endpoint_paths_tolerate_a_trailing_slash() {
        assert_eq!(
            endpoint_path("https://x.example/", "execute"),
            "https://x.example/execute"
        );
        assert_eq!(
            endpoint_path("https://x.example/base", "health"),
            "https://x.example/base/health"
        );
    }
}

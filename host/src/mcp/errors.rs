//! Tool failures as tool results: `isError` with the API's
//! `{"error": {"code", "message"}}`, so a model can read and act on them.
//! User mistakes never become protocol errors.

use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::{Value, json};

use crate::service::ServiceError;

/// A failed tool call.
#[derive(Debug)]
pub struct ToolError {
    /// The API's code (`VALIDATION_ERROR`, `CONNECTOR_NOT_FOUND`,
    /// `FORBIDDEN`, …).
    pub code: String,
    /// For the model and the user.
    pub message: String,
    /// Extra fields inside `error` (line and column, known commands).
    pub details: Option<Value>,
    /// Fields beside `error` (diagnostics, a skeleton, the execution).
    pub extra: Option<Value>,
}

impl ToolError {
    /// An error without details.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            details: None,
            extra: None,
        }
    }

    /// Add fields beside `error` in the structured result.
    pub fn with_extra(mut self, extra: Value) -> Self {
        self.extra = Some(extra);
        self
    }

    /// Arguments that do not match the tool's input schema.
    pub fn arguments(error: serde_json::Error) -> Self {
        Self::new(
            "INVALID_ARGUMENTS",
            format!("the arguments do not match the tool's input schema: {error}"),
        )
    }

    /// The result the client sees.
    pub fn into_result(self) -> CallToolResult {
        let mut error = json!({"code": self.code, "message": self.message});
        if let (Some(Value::Object(details)), Some(object)) = (self.details, error.as_object_mut())
        {
            object.extend(details);
        }
        let mut body = json!({ "error": error });
        if let (Some(Value::Object(extra)), Some(object)) = (self.extra, body.as_object_mut()) {
            object.extend(extra);
        }
        // No structuredContent: clients validate it against the tool's
        // output schema even on errors (the TypeScript SDK does), and the
        // output schema describes success. The text is the JSON body.
        CallToolResult::error(vec![ContentBlock::text(body.to_string())])
    }
}

impl From<ServiceError> for ToolError {
    fn from(error: ServiceError) -> Self {
        // The service's codes, so a code means the same on every front end.
        let (status, code) = error.status_and_code();
        let message = error.to_string();
        if status.is_server_error() {
            tracing::error!(%message, "tool call failed");
        }
        Self {
            code: code.to_string(),
            message,
            details: error.details(),
            extra: None,
        }
    }
}

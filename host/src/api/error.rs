//! API errors: every failure is `{"error": {"code", "message"}}` with the
//! right status, decided here and nowhere else.

use axum::Json;
use axum::extract::FromRequest;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::service::ServiceError;

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// For people.
    pub message: String,
    /// Extra fields inside `error` (e.g. a diagnostic's line and column).
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    /// An error without details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if let (Some(serde_json::Value::Object(details)), Some(object)) =
            (self.details, error.as_object_mut())
        {
            object.extend(details);
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        let message = error.to_string();
        let (status, code, details) = match &error {
            ServiceError::NotFound(_) => (StatusCode::NOT_FOUND, "CONNECTOR_NOT_FOUND", None),
            ServiceError::NameTaken(_) => (StatusCode::CONFLICT, "NAME_TAKEN", None),
            ServiceError::Invalid(_) => (StatusCode::BAD_REQUEST, "VALIDATION_ERROR", None),
            ServiceError::TooLarge(_) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "DEFINITION_TOO_LARGE", None)
            }
            ServiceError::ScriptSyntax { line, column, .. } => (
                StatusCode::BAD_REQUEST,
                "SCRIPT_SYNTAX_ERROR",
                Some(json!({"line": line, "column": column})),
            ),
            ServiceError::UnknownType { registered, .. } => (
                StatusCode::BAD_REQUEST,
                "UNKNOWN_TYPE",
                Some(json!({"registeredTypes": registered})),
            ),
            ServiceError::TypeUnavailable(_) => (StatusCode::CONFLICT, "TYPE_UNAVAILABLE", None),
            ServiceError::UnknownCommand { known, .. } => (
                StatusCode::NOT_FOUND,
                "UNKNOWN_COMMAND",
                Some(json!({"knownCommands": known})),
            ),
            ServiceError::InvalidParams(_) => (StatusCode::BAD_REQUEST, "INVALID_PARAMS", None),
            ServiceError::Secrets(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "CONFIG_UNREADABLE", None)
            }
            ServiceError::Storage(_) | ServiceError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", None)
            }
        };
        if status.is_server_error() {
            tracing::error!(%message, "request failed");
        }
        Self {
            status,
            code,
            message,
            details,
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        ServiceError::Storage(error).into()
    }
}

/// `Json` whose rejections are API errors: malformed JSON is 400
/// `INVALID_JSON`; well-formed JSON of the wrong shape (unknown or missing
/// fields, wrong types) is 422 `INVALID_BODY` with serde's message, which
/// names the field; a missing JSON content type is 415.
#[derive(Debug, FromRequest)]
#[from_request(via(Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(error) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID_BODY",
                error.body_text(),
            ),
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "send the body as JSON with `Content-Type: application/json`",
            ),
            JsonRejection::BytesRejection(error) => {
                Self::new(error.status(), "BODY_UNREADABLE", error.body_text())
            }
            other => Self::new(StatusCode::BAD_REQUEST, "INVALID_JSON", other.body_text()),
        }
    }
}

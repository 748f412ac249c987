//! API errors: every failure is `{"error": {"code", "message"}}` with the
//! right status, decided here and nowhere else.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::{Map, Value};

use crate::rate_limit::{self, Refusal};
use crate::service::{RATE_LIMITED, ServiceError};

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
    /// Response headers that go with the error (a rate limit's
    /// `Retry-After` and `RateLimit-*`).
    pub headers: HeaderMap,
}

impl ApiError {
    /// An error without details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            headers: HeaderMap::new(),
        }
    }

    /// 429 `RATE_LIMITED`: `message`, with `Retry-After` and the
    /// `RateLimit-*` fields of `refusal`.
    pub fn rate_limited(message: impl Into<String>, refusal: &Refusal) -> Self {
        let mut error = Self::new(StatusCode::TOO_MANY_REQUESTS, RATE_LIMITED, message);
        rate_limit::headers::add_refusal(&mut error.headers, refusal);
        error
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong: a stable code, a message for people, and sometimes
/// details (`line` and `column` of a script syntax error, `knownCommands`,
/// `registeredTypes`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `VALIDATION_ERROR`.
    #[schema(min_length = 1)]
    pub code: String,
    /// For people.
    pub message: String,
    /// Extra fields, by error.
    #[serde(flatten)]
    #[schema(ignore)]
    pub details: Map<String, Value>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let details = match self.details {
            Some(Value::Object(details)) => details,
            _ => Map::new(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
                details,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        response.headers_mut().extend(self.headers);
        // RFC 6750: a 401 names the scheme, so clients (MCP ones included)
        // know to send a bearer token.
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"floh\""),
            );
        }
        response
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        let message = error.to_string();
        let (status, code) = error.status_and_code();
        let details = error.details();
        if status.is_server_error() {
            tracing::error!(%message, "request failed");
        }
        let mut headers = HeaderMap::new();
        if let Some(refusal) = error.rate_limit_refusal() {
            rate_limit::headers::add_refusal(&mut headers, refusal);
        }
        Self {
            status,
            code,
            message,
            details,
            headers,
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        ServiceError::Storage(error).into()
    }
}

/// `Query` whose rejections are API errors: 400 `INVALID_QUERY` with
/// serde's message, which names the parameter.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY",
            rejection.body_text(),
        )
    }
}

/// `Json` whose rejections are API errors: malformed JSON is 400
/// `INVALID_JSON`; well-formed JSON of the wrong shape (unknown or missing
/// fields, wrong types) is 422 `INVALID_BODY` with serde's message, which
/// names the field; a missing JSON content type is 415. Every request body
/// of the API is an object, and one that is JSON but not an object is 422
/// too: serde would otherwise read an array as a struct's fields in order
/// (`[]` as a request whose fields all have defaults).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !has_json_content_type(request.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|error| ApiError::new(error.status(), "BODY_UNREADABLE", error.body_text()))?;
        let opens_an_object = body.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'{');
        if !opens_an_object && serde_json::from_slice::<IgnoredAny>(&body).is_ok() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID_BODY",
                "the body must be a JSON object",
            ));
        }
        let Json(value) = Json::<T>::from_bytes(&body)?;
        Ok(Self(value))
    }
}

/// `application/json` or any `application/*+json`, as axum's `Json` takes.
fn has_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let suffix = subtype
        .len()
        .checked_sub(5)
        .and_then(|at| subtype.get(at..));
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || suffix.is_some_and(|suffix| suffix.eq_ignore_ascii_case("+json")))
}

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

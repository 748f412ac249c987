//! UI errors: an accessible alert fragment with the right status. htmx is
//! configured (see `layout`) to swap error responses into their target, so a
//! failed action shows its cause where the person is looking.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

use crate::service::ServiceError;
use crate::store::StoreError;

/// A failed UI request.
#[derive(Debug)]
pub struct UiError {
    /// HTTP status.
    pub status: StatusCode,
    /// For people.
    pub message: String,
}

impl UiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let body = html! {
            div class="alert alert-error" role="alert" {
                strong { (self.status.canonical_reason().unwrap_or("Error")) ": " }
                (self.message)
            }
        };
        (self.status, body).into_response()
    }
}

impl From<ServiceError> for UiError {
    fn from(error: ServiceError) -> Self {
        // The API decides statuses for service errors; the UI uses the same.
        let api = crate::api::error::ApiError::from(error);
        Self::new(api.status, api.message)
    }
}

impl From<StoreError> for UiError {
    fn from(error: StoreError) -> Self {
        ServiceError::Storage(error).into()
    }
}

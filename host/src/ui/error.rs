//! UI errors: an accessible alert fragment with the right status. htmx is
//! configured (see `layout`) to swap error responses into their target, so a
//! failed action shows its cause where the person is looking.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::UiState;
use super::layout::{Nav, Page, bare_page};
use super::session::{is_htmx, signed_in};
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
        // The service decides each error's status; every front end uses it.
        let (status, _) = error.status_and_code();
        let message = error.to_string();
        if status.is_server_error() {
            tracing::error!(%message, "page request failed");
        }
        Self::new(status, message)
    }
}

impl From<StoreError> for UiError {
    fn from(error: StoreError) -> Self {
        ServiceError::Storage(error).into()
    }
}

/// The UI's fallback: a path no page answers gets a 404 page in the UI's
/// layout (with the sidebar when signed in, a sign-in link when not); an
/// htmx request gets the alert fragment. The API keeps its JSON 404 for
/// `/api/…`.
pub async fn not_found(State(state): State<UiState>, headers: HeaderMap, uri: Uri) -> Response {
    let message = format!("There is no page at {}.", uri.path());
    if is_htmx(&headers) {
        return UiError::new(StatusCode::NOT_FOUND, message).into_response();
    }
    let viewer = match signed_in(&state, &headers).await {
        Ok(viewer) => viewer,
        Err(error) => return error.into_response(),
    };
    let body = html! {
        div class="card" {
            p { (message) }
            p {
                @if viewer.is_some() {
                    a href="/connectors" { "Go to the connectors" }
                } @else {
                    a href="/sign-in" { "Sign in" }
                }
            }
        }
    };
    let page = match viewer {
        Some(viewer) => Page::new(&viewer, Nav::None, "Page not found", body).render(),
        None => bare_page("Page not found", html! { h1 { "Page not found" } (body) }),
    };
    (StatusCode::NOT_FOUND, page).into_response()
}

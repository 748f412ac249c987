//! OAuth2 connections: start an authorization, the provider's callback, and
//! disconnect. The callback is public (the provider sends the person's
//! browser there without our token); its `state` is the capability, and it
//! answers a browser with a page and anything else with JSON.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::AppState;
use super::error::{ApiError, ApiQuery, ErrorBody};
use crate::auth::cookie;
use crate::service::{
    AuthorizationStart, BROWSER_BINDING_COOKIE, CallbackQuery, Connected, ServiceError,
};
use crate::store::TokenRecord;

/// Start connecting a connector with `configSchema.oauth2` (authorization
/// code with PKCE): returns the provider URL to send a person to. The
/// `state` in it is bound to this connector and this token, works once and
/// expires in 10 minutes; the PKCE verifier stays on the server.
#[utoipa::path(post, path = "/connectors/{id}/oauth/authorize", tag = "oauth", operation_id = "startOAuthAuthorization",
    params(("id" = String, Path, description = "Connector id or name")),
    responses(
        (status = 200, description = "Where to send the person", body = AuthorizationStart),
        (status = 404, description = "`CONNECTOR_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`OAUTH_NOT_SUPPORTED` (no authorization-code grant) or `OAUTH_NOT_CONFIGURED` (a URL or `clientId` is missing)", body = ErrorBody),
    ))]
pub async fn authorize(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: axum::Extension<TokenRecord>,
) -> Result<Json<AuthorizationStart>, ApiError> {
    let start = state
        .service
        .start_authorization(&id, &caller.id, None, None)
        .await?;
    Ok(Json(start))
}

/// Forget a connector's OAuth2 grant (executions then fail with
/// `OAUTH_NOT_CONNECTED` until a person connects again).
#[utoipa::path(delete, path = "/connectors/{id}/oauth", tag = "oauth", operation_id = "disconnectOAuth",
    params(("id" = String, Path, description = "Connector id or name")),
    responses(
        (status = 204, description = "Disconnected (or was not connected)"),
        (status = 404, description = "`CONNECTOR_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`OAUTH_NOT_SUPPORTED`: the connector has no OAuth2 grant", body = ErrorBody),
    ))]
pub async fn disconnect(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.service.disconnect(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Where the provider sends the person back: exchanges the code with the
/// verifier kept for its `state` and stores the grant. A provider error, an
/// unknown, used or expired `state`, or a code the provider refuses stores
/// nothing. Browsers (`Accept: text/html`) get a page, other clients JSON.
#[utoipa::path(get, path = "/oauth/callback", tag = "oauth", operation_id = "oauthCallback",
    params(CallbackQuery),
    responses(
        (status = 200, description = "Connected", body = Connected),
        (status = 400, description = "`OAUTH_INVALID_STATE` or `OAUTH_PROVIDER_ERROR` (e.g. `access_denied`)", body = ErrorBody),
        (status = 404, description = "`CONNECTOR_NOT_FOUND`: deleted meanwhile", body = ErrorBody),
        (status = 409, description = "`OAUTH_NOT_SUPPORTED`, `OAUTH_NOT_CONFIGURED`: the connector changed meanwhile", body = ErrorBody),
        (status = 502, description = "`OAUTH_EXCHANGE_FAILED`: the token endpoint refused the code or could not be reached", body = ErrorBody),
    ))]
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<CallbackQuery>,
) -> Response {
    let binding = cookie(&headers, BROWSER_BINDING_COOKIE);
    let outcome = state.service.finish_authorization(&query, binding).await;
    let browser = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let mut response = match (outcome, browser) {
        (Ok(connected), false) => Json(connected).into_response(),
        (Err(error), false) => ApiError::from(error).into_response(),
        (Ok(connected), true) => connected_page(&connected).into_response(),
        (Err(error), true) => error_page(&error).into_response(),
    };
    if binding.is_some() {
        // Used once: the browser forgets it.
        let expired = format!(
            "{BROWSER_BINDING_COOKIE}=; Path=/api/oauth/callback; Max-Age=0; HttpOnly; SameSite=Lax"
        );
        if let Ok(value) = expired.parse() {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// The page a browser sees after connecting. Started from the web UI, it
/// moves on to the connector's page by itself: a navigation from this page
/// is same-site, so the UI's SameSite=Strict session cookie goes with it
/// (it does not on the provider's cross-site redirect to here).
fn connected_page(connected: &Connected) -> Markup {
    let name = &connected.connector;
    let next = connected
        .return_to
        .as_deref()
        .filter(|path| path.starts_with('/') && !path.starts_with("//"));
    let head = html! {
        @if let Some(path) = next { meta http-equiv="refresh" content={ "0; url=" (path) }; }
    };
    page(
        "Connected",
        head,
        html! {
            h1 { "Connected" }
            p { "Connector " strong { (name) } " is connected." }
            @match next {
                Some(path) => p { a href=(path) { "Back to " (name) } },
                None => p { "You can close this window." },
            }
        },
    )
}

fn error_page(error: &ServiceError) -> (StatusCode, Markup) {
    let (status, code) = error.status_and_code();
    let body = html! {
        h1 { "Not connected" }
        p { (error.to_string()) }
        p { code { (code) } ". Nothing was stored; start the connection again from the connector." }
    };
    (status, page("Not connected", html! {}, body))
}

fn page(title: &str, head: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Floh" }
                (head)
            }
            body { main { (body) } }
        }
    }
}

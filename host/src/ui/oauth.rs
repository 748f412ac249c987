//! A connector's OAuth2 connection on its page: the state (connected,
//! scopes, expiry, last refresh, reconnect required) and the Connect,
//! Reconnect and Disconnect buttons.
//!
//! Connect starts the authorization in the service and sends the browser to
//! the provider, with a cookie binding the authorization to this browser
//! (the callback refuses it from any other). The UI's CSP allows forms to
//! post only to this origin, and that includes where they redirect, so the
//! browser leaves by htmx's `HX-Redirect` or, without script, by a page that
//! links (and refreshes) to the provider.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use maud::{Markup, html};

use super::UiState;
use super::error::UiError;
use super::layout::{bare_page, csrf_field, time_ago};
use super::session::{Viewer, is_htmx, random_token};
use crate::model::GrantType;
use crate::service::{BROWSER_BINDING_COOKIE, CALLBACK_PATH, ConnectionState, OAuthStatus};

pub fn routes() -> Router<UiState> {
    Router::new()
        .route("/connectors/{name}/oauth/connect", post(connect))
        .route("/connectors/{name}/oauth/disconnect", post(disconnect))
}

/// The connection card of a connector with an OAuth2 grant.
pub fn connection_card(viewer: &Viewer, base: &str, status: &OAuthStatus) -> Markup {
    let (label, badge) = match status.state {
        ConnectionState::Connected => ("Connected", "badge-ok"),
        ConnectionState::NotConnected => ("Not connected", "badge-warn"),
        ConnectionState::ReconnectRequired => ("Reconnect required", "badge-fail"),
    };
    let code_grant = status.grant == GrantType::AuthorizationCode;
    html! {
        section class="card" id="oauth" aria-labelledby="oauth-heading" {
            h2 id="oauth-heading" { "OAuth2 connection" }
            dl class="dl" {
                dt { "State" } dd { span class={ "badge oauth-state " (badge) } { (label) } }
                dt { "Grant" }
                dd { @if code_grant { "authorization code (PKCE)" } @else { "password" } }
                @if !status.scopes.is_empty() {
                    dt { "Scopes" } dd { @for scope in &status.scopes { code { (scope) } " " } }
                }
                @if let Some(at) = status.connected_at_ms { dt { "Connected" } dd { (time_ago(at)) } }
                @if let Some(at) = status.expires_at_ms { dt { "Access token expires" } dd { (time_ago(at)) } }
                @if let Some(at) = status.last_refresh_at_ms { dt { "Last refresh" } dd { (time_ago(at)) } }
                @if let Some(reason) = &status.reason { dt { "Why" } dd { (reason) } }
            }
            @if let Some(missing) = &status.missing {
                p class="muted" { "Set " code { "configSchema.oauth2." (missing) } " before connecting." }
            }
            @if code_grant && status.state == ConnectionState::NotConnected {
                p class="muted" {
                    "Register " code { (CALLBACK_PATH) } " on this server's public URL as the redirect URI at the provider, "
                    "set the client id (and secret) in the configuration, then connect."
                }
            }
            @if viewer.may_change() {
                div class="form-actions" {
                    @if code_grant && status.missing.is_none() {
                        form method="post" action={ (base) "/oauth/connect" }
                            hx-post={ (base) "/oauth/connect" } hx-disabled-elt="find button" {
                            (csrf_field(viewer))
                            button type="submit" class="button-primary" {
                                @if status.state == ConnectionState::NotConnected { "Connect" } @else { "Reconnect" }
                            }
                        }
                    }
                    @if status.state != ConnectionState::NotConnected {
                        form method="post" action={ (base) "/oauth/disconnect" }
                            hx-post={ (base) "/oauth/disconnect" } hx-target="#oauth" hx-swap="outerHTML"
                            hx-confirm="Forget this connection's tokens? Executions fail until someone connects again." {
                            (csrf_field(viewer))
                            button type="submit" class="button-danger" { "Disconnect" }
                        }
                    }
                }
            }
        }
    }
}

async fn connect(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    viewer.require_change("Connecting a connector needs an admin token.")?;
    let binding = random_token();
    let start = state
        .app
        .service
        .start_authorization(
            &name,
            &format!("ui:{}", viewer.name),
            Some(&binding),
            Some(format!("/connectors/{name}")),
        )
        .await?;
    let cookie = format!(
        "{BROWSER_BINDING_COOKIE}={binding}; Path={CALLBACK_PATH}; Max-Age=600; HttpOnly; SameSite=Lax{}",
        if state.sessions.secure() {
            "; Secure"
        } else {
            ""
        }
    );
    let mut response = if is_htmx(&headers) {
        let mut response = ().into_response();
        if let Ok(location) = HeaderValue::from_str(&start.authorization_url) {
            response.headers_mut().insert("hx-redirect", location);
        }
        response
    } else {
        let url = &start.authorization_url;
        bare_page(
            "Connecting",
            html! {
                meta http-equiv="refresh" content={ "0; url=" (url) };
                h1 { "Connecting" }
                p { a href=(url) { "Continue to the provider" } }
            },
        )
        .into_response()
    };
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

async fn disconnect(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Result<Markup, UiError> {
    viewer.require_change("Disconnecting a connector needs an admin token.")?;
    let service = &state.app.service;
    service.disconnect(&name).await?;
    let connector = service.get(&name).await?;
    let status = connector
        .oauth
        .ok_or_else(|| UiError::new(axum::http::StatusCode::CONFLICT, "no OAuth2 grant"))?;
    Ok(connection_card(
        &viewer,
        &format!("/connectors/{name}"),
        &status,
    ))
}

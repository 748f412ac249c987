//! API tokens: create (shown once) and revoke (admin). Executors may look,
//! as the API lets them, but get no controls. Revoking a token ends every
//! browser session started with it.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use super::UiState;
use super::error::UiError;
use super::layout::{Nav, Page, csrf_field, time_ago};
use super::session::{Viewer, is_htmx};
use crate::auth::RevokeError;
use crate::store::{Role, TokenRecord};

pub fn routes() -> Router<UiState> {
    Router::new()
        .route("/tokens", get(show).post(create))
        .route("/tokens/{id}/revoke", post(revoke))
}

async fn show(State(state): State<UiState>, viewer: Viewer) -> Result<Page, UiError> {
    let tokens = state.app.auth.list().await?;
    Ok(Page::new(
        &viewer,
        Nav::Tokens,
        "API tokens",
        tokens_card(&viewer, &tokens, None),
    ))
}

fn tokens_card(viewer: &Viewer, tokens: &[TokenRecord], notice: Option<Markup>) -> Markup {
    html! {
        section class="card" id="api-tokens" aria-labelledby="api-tokens-heading" {
            h2 id="api-tokens-heading" { "API tokens" }
            p class="muted" {
                "Tokens authenticate the API, the CLI and sign-in here. Admins change anything; "
                "executors read and run connectors. Only a hash of each token is stored."
            }
            @if let Some(notice) = notice { (notice) }
            @if viewer.may_change() {
                form method="post" action="/tokens" hx-post="/tokens" hx-target="#api-tokens" hx-swap="outerHTML" {
                    (csrf_field(viewer))
                    div class="inline-fields" {
                        div {
                            label for="token-name" { "Name" }
                            input id="token-name" name="name" type="text" required placeholder="ci-runner";
                        }
                        div {
                            label for="token-role" { "Role" }
                            select id="token-role" name="role" {
                                option value="executor" selected { "executor (read and run)" }
                                option value="admin" { "admin (everything)" }
                            }
                        }
                        div class="shrink" { button type="submit" class="button-primary" { "Create token" } }
                    }
                }
            }
            div class="table-wrap" {
                table class="table" {
                    thead { tr {
                        th scope="col" { "Name" } th scope="col" { "Role" } th scope="col" { "Created" }
                        @if viewer.may_change() { th scope="col" { span class="visually-hidden" { "Actions" } } }
                    } }
                    tbody {
                        @for t in tokens {
                            tr {
                                td { strong { (t.name) } br; span class="muted small" { code { (t.id) } } }
                                td { span class="badge" { (t.role.as_str()) } }
                                td { (time_ago(t.created_at_ms)) }
                                @if viewer.may_change() {
                                    td {
                                        form method="post" action={ "/tokens/" (t.id) "/revoke" }
                                            hx-post={ "/tokens/" (t.id) "/revoke" }
                                            hx-confirm={ "Revoke token " (t.name) "? Whoever uses it is signed out at once." }
                                            hx-target="#api-tokens" hx-swap="outerHTML" {
                                            (csrf_field(viewer))
                                            button type="submit" class="button-danger" {
                                                "Revoke" span class="visually-hidden" { " " (t.name) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct NewToken {
    name: String,
    role: Role,
}

async fn create(
    State(state): State<UiState>,
    viewer: Viewer,
    headers: HeaderMap,
    axum::Form(form): axum::Form<NewToken>,
) -> Result<Response, UiError> {
    if form.name.trim().is_empty() {
        return Err(UiError::new(
            StatusCode::BAD_REQUEST,
            "give the token a name",
        ));
    }
    let issued = state
        .app
        .auth
        .issue(form.name.trim(), form.role, None)
        .await?;
    if !is_htmx(&headers) {
        return Ok(Redirect::to("/tokens").into_response());
    }
    let once = html! {
        div class="once" role="status" {
            p { strong { "Token " (issued.record.name) " (" (issued.record.role.as_str()) ") created." } " Copy it now: it is shown only this once." }
            div class="copy-row" {
                pre id="api-token-value" { code { (issued.token) } }
                button type="button" data-copy="api-token-value" { "Copy token" }
            }
        }
    };
    let tokens = state.app.auth.list().await?;
    Ok(tokens_card(&viewer, &tokens, Some(once)).into_response())
}

async fn revoke(
    State(state): State<UiState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let revoked = state.app.auth.revoke(&id).await.map_err(|error| {
        let status = match error {
            RevokeError::NotFound(_) => StatusCode::NOT_FOUND,
            RevokeError::LastAdmin(_) => StatusCode::CONFLICT,
            RevokeError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        UiError::new(status, error.to_string())
    })?;
    if !is_htmx(&headers) {
        return Ok(Redirect::to("/tokens").into_response());
    }
    let tokens = state.app.auth.list().await?;
    let notice =
        html! { div class="alert alert-ok" role="status" { "Token " (revoked.name) " revoked." } };
    Ok(tokens_card(&viewer, &tokens, Some(notice)).into_response())
}

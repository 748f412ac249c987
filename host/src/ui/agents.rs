//! On-premise agents: live status (refreshed in place every few seconds),
//! agent tokens (create, shown once with a copyable `floh agent` command
//! line; revoke, which disconnects the agents using it).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use super::UiState;
use super::error::UiError;
use super::layout::{Nav, Page, csrf_field, iso8601, time_ago};
use super::session::{Viewer, is_htmx};
use crate::agent::tokens::{check_request, revoke_and_disconnect};
use crate::clock::now_ms;
use crate::store::{AgentTokenRecord, AgentTokenState};

pub fn routes() -> Router<UiState> {
    Router::new()
        .route("/agents", get(show))
        .route("/agents/live", get(live))
        .route("/agents/tokens", post(create_token))
        .route("/agents/tokens/{id}/revoke", post(revoke_token))
}

async fn show(State(state): State<UiState>, viewer: Viewer) -> Result<Page, UiError> {
    let tokens = state.app.agent_tokens.list().await?;
    let body = html! {
        section class="card" aria-labelledby="agents-heading" {
            h2 id="agents-heading" { "Agents" }
            p class="muted" {
                "An agent runs connectors inside another network and connects out to this server. "
                "This list refreshes by itself."
            }
            (live_table(&state))
        }
        (tokens_card(&viewer, &tokens, None))
    };
    Ok(Page::new(&viewer, Nav::Agents, "Agents", body))
}

async fn live(State(state): State<UiState>) -> Markup {
    live_table(&state)
}

fn live_table(state: &UiState) -> Markup {
    let mut agents = state.app.agents.list();
    agents.sort_by(|a, b| a.agent_name.cmp(&b.agent_name));
    html! {
        div id="agents-live" hx-get="/agents/live" hx-trigger="every 2s" hx-swap="outerHTML" {
            @if agents.is_empty() {
                p class="empty" { "No agent has connected yet. Create an agent token below and start " code { "floh agent" } " with it." }
            } @else {
                div class="table-wrap" {
                    table class="table" {
                        thead { tr {
                            th scope="col" { "Agent" } th scope="col" { "Status" } th scope="col" { "Connectors" }
                            th scope="col" { "Last heartbeat" } th scope="col" class="num" { "In flight" }
                            th scope="col" class="num" { "Completed" } th scope="col" { "Version" }
                        } }
                        tbody {
                            @for a in &agents {
                                tr {
                                    td { strong { (a.agent_name) } br; span class="muted small" { code { (a.agent_id) } } }
                                    td { span class={ "status-dot status-" (a.status) } aria-hidden="true" {} (a.status) }
                                    td { @for c in &a.connector_names { a href={ "/connectors/" (c) } { (c) } " " } }
                                    td { (time_ago(a.last_heartbeat_ms)) }
                                    td class="num" { (a.in_flight) }
                                    td class="num" { (a.completed) }
                                    td { (a.version.as_deref().unwrap_or("—")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn state_badge(token: &AgentTokenRecord) -> Markup {
    match token.state(now_ms()) {
        AgentTokenState::Valid => html! { span class="badge badge-ok" { "valid" } },
        AgentTokenState::Revoked => html! { span class="badge badge-fail" { "revoked" } },
        AgentTokenState::Expired => html! { span class="badge badge-warn" { "expired" } },
    }
}

fn tokens_card(viewer: &Viewer, tokens: &[AgentTokenRecord], issued: Option<Markup>) -> Markup {
    let mut tokens = tokens.to_vec();
    tokens.sort_by_key(|t| std::cmp::Reverse(t.created_at_ms));
    html! {
        section class="card" id="agent-tokens" aria-labelledby="agent-tokens-heading" {
            h2 id="agent-tokens-heading" { "Agent tokens" }
            @if let Some(issued) = issued { (issued) }
            @if viewer.may_change() {
                form method="post" action="/agents/tokens" hx-post="/agents/tokens"
                    hx-target="#agent-tokens" hx-swap="outerHTML" {
                    (csrf_field(viewer))
                    div class="inline-fields" {
                        div {
                            label for="agent-token-name" { "Name" }
                            input id="agent-token-name" name="name" type="text" required placeholder="site-a";
                        }
                        div {
                            label for="agent-token-connectors" { "Connectors (comma-separated, empty for any)" }
                            input id="agent-token-connectors" name="connectors" type="text" placeholder="ldap, hr-db";
                        }
                        div {
                            label for="agent-token-expiry" { "Expires in (days, empty for never)" }
                            input id="agent-token-expiry" name="expires_in_days" type="number" min="1" step="1";
                        }
                        div class="shrink" { button type="submit" class="button-primary" { "Create agent token" } }
                    }
                }
            }
            @if tokens.is_empty() {
                p class="empty" { "No agent tokens." }
            } @else {
                div class="table-wrap" {
                    table class="table" {
                        thead { tr {
                            th scope="col" { "Name" } th scope="col" { "State" } th scope="col" { "Connectors" }
                            th scope="col" { "Created" } th scope="col" { "Expires" }
                            @if viewer.may_change() { th scope="col" { span class="visually-hidden" { "Actions" } } }
                        } }
                        tbody {
                            @for t in &tokens {
                                tr {
                                    td { strong { (t.name) } br; span class="muted small" { code { (t.id) } } }
                                    td { (state_badge(t)) }
                                    td { (t.connectors.as_ref().map(|c| c.join(", ")).unwrap_or_else(|| "any".into())) }
                                    td { (time_ago(t.created_at_ms)) }
                                    td { (t.expires_at_ms.map(iso8601).unwrap_or_else(|| "never".into())) }
                                    @if viewer.may_change() {
                                        td {
                                            @if t.revoked_at_ms.is_none() {
                                                form method="post" action={ "/agents/tokens/" (t.id) "/revoke" }
                                                    hx-post={ "/agents/tokens/" (t.id) "/revoke" }
                                                    hx-confirm={ "Revoke agent token " (t.name) "? Agents using it disconnect now." }
                                                    hx-target="#agent-tokens" hx-swap="outerHTML" {
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
    }
}

#[derive(Deserialize)]
struct NewAgentToken {
    name: String,
    #[serde(default)]
    connectors: String,
    #[serde(default)]
    expires_in_days: String,
}

/// This server's base URL as the browser reached it.
fn server_url(state: &UiState, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost:8080");
    let scheme = if state.sessions.cookie_name().starts_with("__Host-") {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

async fn create_token(
    State(state): State<UiState>,
    viewer: Viewer,
    headers: HeaderMap,
    axum::Form(form): axum::Form<NewAgentToken>,
) -> Result<Response, UiError> {
    let connectors: Vec<String> = form
        .connectors
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let connectors = (!connectors.is_empty()).then_some(connectors);
    check_request(&form.name, connectors.as_deref())
        .map_err(|message| UiError::new(StatusCode::BAD_REQUEST, message))?;
    let expires_in_seconds = match form.expires_in_days.trim() {
        "" => None,
        days => Some(
            days.parse::<u64>().ok().filter(|d| *d > 0).ok_or_else(|| {
                UiError::new(
                    StatusCode::BAD_REQUEST,
                    "the expiry must be a whole number of days",
                )
            })? * 86_400,
        ),
    };
    let issued = state
        .app
        .agent_tokens
        .issue(form.name.trim(), expires_in_seconds, connectors.clone())
        .await?;
    if !is_htmx(&headers) {
        // Without script the token is shown on the next page only through
        // htmx: a redirect would lose it, so answer with the whole page.
        return Ok(Redirect::to("/agents").into_response());
    }
    let mut command = format!(
        "FLOH_AGENT_TOKEN={} floh agent --server {} --id {}",
        issued.token,
        server_url(&state, &headers),
        shell_word(form.name.trim())
    );
    for connector in connectors.iter().flatten() {
        command.push_str(&format!(" --connector {}", shell_word(connector)));
    }
    let once = html! {
        div class="once" role="status" {
            p { strong { "Agent token " (issued.record.name) " created." } " Copy it now: it is shown only this once." }
            div class="copy-row" {
                pre id="agent-token-value" { code { (issued.token) } }
                button type="button" data-copy="agent-token-value" { "Copy token" }
            }
            p { "Start the agent where the connectors' systems are:" }
            div class="copy-row" {
                pre id="agent-command" { code { (command) } }
                button type="button" data-copy="agent-command" { "Copy command" }
            }
        }
    };
    let tokens = state.app.agent_tokens.list().await?;
    Ok(tokens_card(&viewer, &tokens, Some(once)).into_response())
}

/// `word` quoted for a POSIX shell when it needs it.
fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':'))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

async fn revoke_token(
    State(state): State<UiState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    revoke_and_disconnect(&state.app.agent_tokens, &state.app.agents, &id)
        .await?
        .ok_or_else(|| {
            UiError::new(
                StatusCode::NOT_FOUND,
                format!("no agent token with id `{id}`"),
            )
        })?;
    if !is_htmx(&headers) {
        return Ok(Redirect::to("/agents").into_response());
    }
    let tokens = state.app.agent_tokens.list().await?;
    let notice = html! { div class="alert alert-ok" role="status" { "Token revoked." } };
    Ok(tokens_card(&viewer, &tokens, Some(notice)).into_response())
}

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(shell_word("site-a"), "site-a");
        assert_eq!(shell_word("it's here"), r"'it'\''s here'");
    }
}

//! The script editor: a script connector's script in CodeMirror (the
//! `editor.js` island), checked inline by the host's compiler through
//! `POST /editor/check-script`, and saved through the service, which
//! compiles it again and refuses a script with a syntax error. OpenAPI
//! connectors show their generated script read-only.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};

use super::UiState;
use super::error::UiError;
use super::layout::{Nav, Page, csrf_field};
use super::session::Viewer;
use crate::model::{ConnectorPatch, ExecutionModel};
use crate::service::{ScriptCheck, ScriptCheckRequest, ServiceError};

/// The editor bundle (loaded only by pages with an editor).
pub const EDITOR_JS: &str = "editor.js";
/// The script API's TypeScript declarations, for people's own editors.
pub const FLOH_D_TS: &str = "floh.d.ts";
/// Where the editor asks for diagnostics.
pub const CHECK_URL: &str = "/editor/check-script";

pub fn routes() -> Router<UiState> {
    Router::new()
        .route("/connectors/{name}/script", get(show).post(save))
        .route(CHECK_URL, post(check))
}

/// A script editor: a textarea the island turns into CodeMirror. Without
/// JavaScript it is still a working textarea.
pub fn editor(
    id: &str,
    name: &str,
    label: &str,
    source: &str,
    commands: &[String],
    read_only: bool,
) -> Markup {
    let commands = serde_json::to_string(commands).unwrap_or_else(|_| "[]".into());
    html! {
        div class="field editor-field" {
            label for=(id) { (label) }
            @if read_only {
                textarea id=(id) name=(name) rows="20" spellcheck="false" readonly
                    data-floh-editor data-readonly { (source) }
            } @else {
                textarea id=(id) name=(name) rows="20" spellcheck="false"
                    data-floh-editor data-check-url=(CHECK_URL) data-commands=(commands) { (source) }
                p class="editor-status" {
                    span class="badge" data-floh-unsaved hidden { "Unsaved changes" }
                    " "
                    span data-floh-editor-status aria-live="polite" {}
                }
            }
            p class="hint" {
                "Script API: " code { "floh.http" } ", " code { "floh.log" } ", " code { "floh.config" } ", "
                code { "floh.params" } ", " code { "floh.variables" } ", " code { "floh.cache" }
                ". Type " code { "floh." } " for completions; "
                a href=(super::assets::url(FLOH_D_TS)) download="floh.d.ts" { "floh.d.ts" }
                " gives your own editor the same."
            }
        }
    }
}

async fn show(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Result<Page, UiError> {
    let connector = state.app.service.get(&name).await?;
    let source = connector
        .definition
        .script_source
        .clone()
        .unwrap_or_default();
    Ok(page(&viewer, &connector.definition, &source, None))
}

fn page(
    viewer: &Viewer,
    definition: &crate::model::ConnectorDefinition,
    source: &str,
    error: Option<&str>,
) -> Page {
    let name = &definition.name;
    let editable = viewer.may_change() && definition.execution_model == ExecutionModel::Script;
    let commands: Vec<String> = definition
        .config_schema
        .as_ref()
        .map(|schema| schema.commands.keys().cloned().collect())
        .unwrap_or_default();
    let body = html! {
        p { a href={ "/connectors/" (name) } { "← Back to " (name) } }
        @if let Some(error) = error {
            div class="alert alert-error" role="alert" id="save-error" {
                strong { "Not saved: " } (error)
            }
        }
        @match definition.execution_model {
            ExecutionModel::Script => {}
            ExecutionModel::Oas => p class="hint" { "This script is generated from the connector's OpenAPI description; re-import the description to change it." },
            _ => p class="hint" { "This connector has no script." },
        }
        @if editable {
            form method="post" action={ "/connectors/" (name) "/script" } {
                (csrf_field(viewer))
                (editor("script-source", "scriptSource", "Script", source, &commands, false))
                div class="form-actions" {
                    button type="submit" class="button-primary" { "Save script" }
                }
            }
        } @else {
            (editor("script-source", "scriptSource", "Script (read-only)", source, &commands, true))
        }
    };
    Page::new(viewer, Nav::Connectors, format!("Script of {name}"), body).script(EDITOR_JS)
}

async fn save(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, UiError> {
    let source = form_urlencoded::parse(&body)
        .find(|(key, _)| key == "scriptSource")
        .map(|(_, value)| value.replace("\r\n", "\n"))
        .ok_or_else(|| UiError::new(StatusCode::BAD_REQUEST, "the form has no script"))?;
    let patch = ConnectorPatch {
        script_source: Some(source.clone()),
        ..ConnectorPatch::default()
    };
    match state.app.service.update(&name, patch).await {
        Ok(view) => {
            Ok(Redirect::to(&format!("/connectors/{}", view.definition.name)).into_response())
        }
        // Show the refusal with the text kept, so nothing typed is lost.
        Err(
            error @ (ServiceError::ScriptSyntax { .. }
            | ServiceError::Invalid(_)
            | ServiceError::InvalidSpec(_)),
        ) => {
            let connector = state.app.service.get(&name).await?;
            let message = error.to_string();
            let page = page(&viewer, &connector.definition, &source, Some(&message));
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// The editor's inline diagnostics: the service's check, as JSON.
async fn check(State(state): State<UiState>, body: Bytes) -> Result<Response, UiError> {
    let request: ScriptCheckRequest = serde_json::from_slice(&body).map_err(|e| {
        UiError::new(
            StatusCode::BAD_REQUEST,
            format!("invalid check request: {e}"),
        )
    })?;
    let result: ScriptCheck = state.app.service.check_script(&request).await?;
    Ok(axum::Json(result).into_response())
}

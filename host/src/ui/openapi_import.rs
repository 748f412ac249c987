//! Import from OpenAPI, the spec's UI flow: paste JSON or YAML (or choose a
//! file) → Parse Spec → the commands grouped by tag with checkboxes (select
//! all per tag), the skipped operations with their reasons, the generated
//! script read-only in the editor and the connection config (secrets now or
//! later) → Create Connector. And re-import on an existing OpenAPI
//! connector: the added, removed and changed commands are shown before
//! anything is replaced; the connection config is kept.
//!
//! The spec travels in the form between steps (a hidden textarea), so the
//! server keeps no import state. Parsing and creating run in the service.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde_json::{Map, Value};

use super::UiState;
use super::error::UiError;
use super::layout::{Nav, Page, csrf_field};
use super::script_editor::{EDITOR_JS, editor};
use super::session::{Viewer, is_htmx};
use crate::model::{ConnectorPatch, FieldType, OpenApiSpec};
use crate::oas::{Draft, ImportedOperation, Selection};
use crate::service::{OpenApiParse, ReimportPreview, ServiceError};

pub fn routes() -> Router<UiState> {
    Router::new()
        .route("/import", get(start))
        .route("/import/parse", post(parse))
        .route("/import/create", post(create))
        .route("/connectors/{name}/reimport", get(reimport_start))
        .route(
            "/connectors/{name}/reimport/preview",
            post(reimport_preview),
        )
        .route("/connectors/{name}/reimport/apply", post(reimport_apply))
}

/// Why an executor is refused the import pages.
const IMPORT_NEEDS_ADMIN: &str = "importing creates a connector and needs an admin token";

/// Pairs of a urlencoded form, repeated keys kept (checkboxes).
struct Pairs(Vec<(String, String)>);

impl Pairs {
    fn parse(body: &[u8]) -> Self {
        Self(form_urlencoded::parse(body).into_owned().collect())
    }
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// The key a checkbox stands for: the operationId, or `METHOD path` for an
/// operation without one (selected through its path).
fn operation_key(operation: &ImportedOperation) -> String {
    operation
        .operation_id
        .clone()
        .unwrap_or_else(|| format!("{} {}", operation.method, operation.path))
}

/// The selection of the checked keys; everything when all are checked.
fn selection_of(operations: &[ImportedOperation], checked: &[String]) -> Selection {
    if operations
        .iter()
        .all(|operation| checked.contains(&operation_key(operation)))
    {
        return Selection::default();
    }
    let mut selection = Selection::default();
    for operation in operations {
        if !checked.contains(&operation_key(operation)) {
            continue;
        }
        match &operation.operation_id {
            Some(id) => selection.operation_ids.push(id.clone()),
            None => selection.paths.push(operation.path.clone()),
        }
    }
    if selection.is_empty() {
        // Nothing checked: select nothing rather than everything.
        selection.operation_ids.push(String::new());
    }
    selection
}

fn spec_input(spec: &str, visible: bool) -> Markup {
    html! {
        @if visible {
            div class="field" {
                label for="spec" { "OpenAPI description (JSON or YAML)" }
                textarea id="spec" name="spec" rows="16" spellcheck="false" required { (spec) }
            }
            div class="field" {
                label for="spec-file" { "…or choose a file" }
                input id="spec-file" type="file" accept=".json,.yaml,.yml,application/json,application/yaml" data-floh-file-into="spec";
            }
        } @else {
            textarea name="spec" hidden aria-hidden="true" { (spec) }
        }
    }
}

/// Shown while the form's request runs, with the seconds it has taken.
fn working_indicator(label: &str) -> Markup {
    html! {
        span class="progress" role="status" {
            span class="spinner" aria-hidden="true" {}
            (label) "… " span data-elapsed {}
        }
    }
}

async fn start(viewer: Viewer) -> Result<Page, UiError> {
    viewer.require_change(IMPORT_NEEDS_ADMIN)?;
    Ok(start_page(&viewer, "", None))
}

fn start_page(viewer: &Viewer, spec: &str, error: Option<&str>) -> Page {
    let body = html! {
        @if let Some(error) = error { div class="alert alert-error" role="alert" id="parse-error" { strong { "Could not parse: " } (error) } }
        form method="post" action="/import/parse" hx-post="/import/parse" hx-target="#main" hx-select="#main" hx-swap="outerHTML"
            hx-disabled-elt="find button" class="wizard" {
            (csrf_field(viewer))
            (spec_input(spec, true))
            div class="form-actions" {
                button type="submit" class="button-primary" { "Parse Spec" }
                " " (working_indicator("Parsing"))
            }
        }
    };
    Page::new(viewer, Nav::Import, "Import from OpenAPI", body).script(EDITOR_JS)
}

async fn parse(
    State(state): State<UiState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, UiError> {
    viewer.require_change(IMPORT_NEEDS_ADMIN)?;
    let form = Pairs::parse(&body);
    let spec = form.get("spec").unwrap_or("").to_string();
    if spec.trim().is_empty() {
        let page = start_page(&viewer, &spec, Some("paste a description or choose a file"));
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    // The whole spec first (every operation to choose from), then the
    // chosen part for the script and config shown.
    let full = match state
        .app
        .service
        .parse_openapi(OpenApiParse::whole(OpenApiSpec::from_text(&spec)))
        .await
    {
        Ok(draft) => draft,
        Err(ServiceError::InvalidSpec(message) | ServiceError::Invalid(message)) => {
            let page = start_page(&viewer, &spec, Some(&message));
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
        Err(other) => return Err(other.into()),
    };
    // First parse: everything checked. Later ("Update preview"): the boxes.
    let checked = if form.get("step").is_some() {
        let mut checked = form.all("op");
        apply_tag_toggle(&full.operations, form.get("toggle"), &mut checked);
        checked
    } else {
        full.operations.iter().map(operation_key).collect()
    };
    let selection = selection_of(&full.operations, &checked);
    let draft = state
        .app
        .service
        .parse_openapi(OpenApiParse {
            spec: OpenApiSpec::from_text(&spec),
            select: selection,
            base_url: None,
        })
        .await?;
    let name = form
        .get("name")
        .map(str::to_string)
        .unwrap_or_else(|| draft.definition.name.clone());
    Ok(review_page(&viewer, &spec, &full, &draft, &checked, &name, &form, None).into_response())
}

/// "Select all" / "Select none" of one tag (buttons named `toggle`).
fn apply_tag_toggle(
    operations: &[ImportedOperation],
    toggle: Option<&str>,
    checked: &mut Vec<String>,
) {
    let Some(toggle) = toggle else { return };
    let Some((action, tag)) = toggle.split_once(':') else {
        return;
    };
    for operation in operations.iter().filter(|op| tag_of(op) == tag) {
        let key = operation_key(operation);
        checked.retain(|k| k != &key);
        if action == "all" {
            checked.push(key);
        }
    }
}

fn tag_of(operation: &ImportedOperation) -> &str {
    operation
        .tags
        .first()
        .map(String::as_str)
        .unwrap_or("(untagged)")
}

#[allow(clippy::too_many_arguments)]
fn review_page(
    viewer: &Viewer,
    spec: &str,
    full: &Draft,
    draft: &Draft,
    checked: &[String],
    name: &str,
    form: &Pairs,
    error: Option<&str>,
) -> Page {
    let mut by_tag: BTreeMap<&str, Vec<&ImportedOperation>> = BTreeMap::new();
    for operation in &full.operations {
        by_tag.entry(tag_of(operation)).or_default().push(operation);
    }
    let schema = draft.definition.config_schema.clone().unwrap_or_default();
    let commands: Vec<String> = schema.commands.keys().cloned().collect();
    let source = draft.definition.script_source.clone().unwrap_or_default();
    let body = html! {
        @if let Some(error) = error { div class="alert alert-error" role="alert" id="create-error" { strong { "Not created: " } (error) } }
        form method="post" action="/import/create" class="wizard" hx-post="/import/create" hx-target="#main" hx-select="#main"
            hx-swap="outerHTML" hx-disabled-elt="find button" {
            (csrf_field(viewer))
            input type="hidden" name="step" value="review";
            (spec_input(spec, false))
            p { "OpenAPI " (full.spec_version) ": " (full.operations.len()) " operations, " (checked.len()) " selected. " }
            h2 { "Commands" }
            @for (tag, operations) in &by_tag {
                fieldset class="tag-group" {
                    legend { (tag) }
                    div class="tag-actions" {
                        button type="submit" name="toggle" value={ "all:" (tag) } formaction="/import/parse" hx-post="/import/parse" hx-disabled-elt="this" { "Select all " (tag) }
                        " "
                        button type="submit" name="toggle" value={ "none:" (tag) } formaction="/import/parse" hx-post="/import/parse" hx-disabled-elt="this" { "Select none of " (tag) }
                    }
                    @for operation in operations {
                        @let key = operation_key(operation);
                        @let id = format!("op-{}", slug(&key));
                        div class="choice" {
                            input type="checkbox" id=(id) name="op" value=(key) checked[checked.contains(&key)];
                            label for=(id) {
                                code { (operation.command) } " — " (operation.method) " " (operation.path)
                                @if let Some(summary) = &operation.summary { " — " (summary) }
                            }
                        }
                    }
                }
            }
            @if !full.skipped.is_empty() {
                h2 { "Skipped (" (full.skipped.len()) ")" }
                ul class="skipped" {
                    @for skipped in &full.skipped { li { strong { (skipped.operation) } ": " (skipped.reason) } }
                }
            }
            @if !full.warnings.is_empty() {
                h2 { "Before connecting (" (full.warnings.len()) ")" }
                ul class="import-warnings" {
                    @for warning in &full.warnings { li { (warning) } }
                }
            }
            div class="form-actions" {
                button type="submit" formaction="/import/parse" hx-post="/import/parse" hx-disabled-elt="this" { "Update preview" }
            }
            h2 { "Connector" }
            div class="field" {
                label for="name" { "Name" }
                input id="name" type="text" name="name" required value=(name) pattern="[A-Za-z0-9][A-Za-z0-9._-]{0,99}";
            }
            h2 { "Connection config" }
            p class="hint" { "Fill these in now or later on the connector's page. Secret values are stored encrypted and never shown again." }
            @for (field, spec) in &schema.connection_config {
                div class="field" {
                    label for={ "config-" (field) } {
                        (field) @if spec.required { " (required)" } @if spec.secret { " (secret)" }
                    }
                    @if spec.secret {
                        input id={ "config-" (field) } name={ "config." (field) } type="password" autocomplete="new-password";
                    } @else {
                        input id={ "config-" (field) } type="text" name={ "config." (field) }
                            value=(form.get(&format!("config.{field}")).map(str::to_string)
                                .or_else(|| spec.default.as_ref().map(|v| match v { Value::String(s) => s.clone(), other => other.to_string() }))
                                .unwrap_or_default());
                    }
                    @if let Some(description) = &spec.description { p class="hint" { (description) } }
                }
            }
            h2 { "Generated script" }
            (editor("generated-script", "generatedScript", "Generated script (read-only)", &source, &commands, true))
            div class="form-actions" {
                button type="submit" class="button-primary" { "Create Connector" }
                " " (working_indicator("Creating"))
            }
        }
    };
    Page::new(viewer, Nav::Import, "Import from OpenAPI: review", body).script(EDITOR_JS)
}

fn slug(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

async fn create(
    State(state): State<UiState>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, UiError> {
    viewer.require_change(IMPORT_NEEDS_ADMIN)?;
    let form = Pairs::parse(&body);
    let spec = form.get("spec").unwrap_or("").to_string();
    let full = state
        .app
        .service
        .parse_openapi(OpenApiParse::whole(OpenApiSpec::from_text(&spec)))
        .await?;
    let checked = form.all("op");
    let selection = selection_of(&full.operations, &checked);
    let draft = state
        .app
        .service
        .parse_openapi(OpenApiParse {
            spec: OpenApiSpec::from_text(&spec),
            select: selection,
            base_url: None,
        })
        .await?;
    let mut definition = draft.definition.clone();
    let name = form.get("name").unwrap_or("").trim().to_string();
    if !name.is_empty() {
        definition.name = name.clone();
        definition.type_name = Some(name.clone());
    }
    let schema = definition.config_schema.clone().unwrap_or_default();
    let mut config = Map::new();
    for (field, spec_field) in &schema.connection_config {
        let Some(text) = form
            .get(&format!("config.{field}"))
            .filter(|t| !t.is_empty())
        else {
            continue;
        };
        let value = match spec_field.field_type {
            Some(FieldType::String) | None => Value::String(text.to_string()),
            _ => serde_json::from_str(text).map_err(|_| {
                UiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("config `{field}`: `{text}` is not valid"),
                )
            })?,
        };
        config.insert(field.clone(), value);
    }
    definition.config = (!config.is_empty()).then_some(Value::Object(config));
    match state.app.service.create(definition).await {
        Ok(view) => {
            let target = format!("/connectors/{}", view.definition.name);
            if is_htmx(&headers) {
                // htmx navigates to the new connector's page.
                return Ok(([("hx-redirect", target)], "").into_response());
            }
            Ok(Redirect::to(&target).into_response())
        }
        Err(error @ (ServiceError::Invalid(_) | ServiceError::NameTaken(_))) => {
            let page = review_page(
                &viewer,
                &spec,
                &full,
                &draft,
                &checked,
                &name,
                &form,
                Some(&error.to_string()),
            );
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

// Re-import.

async fn reimport_start(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Result<Page, UiError> {
    viewer.require_change(IMPORT_NEEDS_ADMIN)?;
    let connector = state.app.service.get(&name).await?;
    let current = connector
        .definition
        .openapi_spec
        .as_ref()
        .map(OpenApiSpec::to_text)
        .unwrap_or_default();
    Ok(reimport_page(&viewer, &name, &current, None, None))
}

fn reimport_page(
    viewer: &Viewer,
    name: &str,
    spec: &str,
    preview: Option<&ReimportPreview>,
    error: Option<&str>,
) -> Page {
    let body = html! {
        p { a href={ "/connectors/" (name) } { "← Back to " (name) } }
        @if let Some(error) = error { div class="alert alert-error" role="alert" { (error) } }
        @if let Some(preview) = preview {
            section aria-labelledby="diff-title" class="card" {
                h2 id="diff-title" { "What re-importing changes" }
                p { "Nothing is replaced until you apply it. The connection config is kept." }
                (diff_list("Added commands", "added", &preview.added))
                (diff_list("Removed commands", "removed", &preview.removed))
                h3 { "Changed commands (" (preview.changed.len()) ")" }
                @if preview.changed.is_empty() { p class="empty" { "None." } }
                ul id="changed" {
                    @for change in &preview.changed {
                        li { code { (change.command) } ": " (change.differences.join("; ")) }
                    }
                }
                p { (preview.unchanged.len()) " commands unchanged." }
                @if !preview.config_fields_added.is_empty() { p { "New config fields: " (preview.config_fields_added.join(", ")) } }
                @if !preview.config_fields_removed.is_empty() { p { "Config fields that go away (their values are dropped): " (preview.config_fields_removed.join(", ")) } }
                form method="post" action={ "/connectors/" (name) "/reimport/apply" } {
                    (csrf_field(viewer))
                    textarea name="spec" hidden aria-hidden="true" { (spec) }
                    input type="hidden" name="select" value=(serde_json::to_string(&preview.select).unwrap_or_default());
                    div class="form-actions" { button type="submit" class="button-primary" { "Apply re-import" } }
                }
            }
        }
        form method="post" action={ "/connectors/" (name) "/reimport/preview" } class="wizard"
            hx-post={ "/connectors/" (name) "/reimport/preview" } hx-target="#main" hx-select="#main" hx-swap="outerHTML"
            hx-disabled-elt="find button" {
            (csrf_field(viewer))
            (spec_input(spec, true))
            div class="form-actions" {
                button type="submit" { "Show the difference" }
                " " (working_indicator("Comparing"))
            }
        }
    };
    Page::new(
        viewer,
        Nav::Connectors,
        format!("Re-import {name} from OpenAPI"),
        body,
    )
    .script(EDITOR_JS)
}

fn diff_list(title: &str, id: &str, items: &[String]) -> Markup {
    html! {
        h3 { (title) " (" (items.len()) ")" }
        @if items.is_empty() { p class="empty" { "None." } }
        ul id=(id) { @for item in items { li { code { (item) } } } }
    }
}

async fn reimport_preview(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, UiError> {
    viewer.require_change(IMPORT_NEEDS_ADMIN)?;
    let form = Pairs::parse(&body);
    let spec = form.get("spec").unwrap_or("").to_string();
    match state
        .app
        .service
        .reimport_preview(&name, OpenApiSpec::from_text(&spec), None)
        .await
    {
        Ok(preview) => {
            Ok(reimport_page(&viewer, &name, &spec, Some(&preview), None).into_response())
        }
        Err(error @ (ServiceError::InvalidSpec(_) | ServiceError::Invalid(_))) => {
            let page = reimport_page(&viewer, &name, &spec, None, Some(&error.to_string()));
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

async fn reimport_apply(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, UiError> {
    viewer.require_change(IMPORT_NEEDS_ADMIN)?;
    let form = Pairs::parse(&body);
    let spec = form.get("spec").unwrap_or("").to_string();
    let select: Selection = serde_json::from_str(form.get("select").unwrap_or("{}"))
        .map_err(|e| UiError::new(StatusCode::BAD_REQUEST, format!("invalid selection: {e}")))?;
    let patch = ConnectorPatch {
        openapi_spec: Some(OpenApiSpec::from_text(&spec)),
        openapi_select: Some(select),
        ..ConnectorPatch::default()
    };
    let view = state.app.service.update(&name, patch).await?;
    Ok(Redirect::to(&format!("/connectors/{}", view.definition.name)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operation(command: &str, id: Option<&str>, tag: &str) -> ImportedOperation {
        ImportedOperation {
            command: command.into(),
            method: "GET".into(),
            path: format!("/{command}"),
            operation_id: id.map(str::to_string),
            tags: vec![tag.into()],
            summary: None,
        }
    }

    #[test]
    fn checked_boxes_become_a_selection() {
        let operations = [
            operation("a", Some("a"), "pet"),
            operation("b", Some("b"), "pet"),
            operation("c", None, "store"),
        ];
        let all: Vec<String> = operations.iter().map(operation_key).collect();
        assert!(selection_of(&operations, &all).is_empty(), "all: no filter");
        let some = selection_of(&operations, &["a".into(), "GET /c".into()]);
        assert_eq!(some.operation_ids, ["a"]);
        assert_eq!(some.paths, ["/c"]);
        let none = selection_of(&operations, &[]);
        assert!(
            !none.is_empty(),
            "nothing checked selects nothing, not everything"
        );
    }

    #[test]
    fn a_tag_toggle_checks_or_unchecks_its_operations() {
        let operations = [
            operation("a", Some("a"), "pet"),
            operation("b", Some("b"), "pet"),
            operation("c", Some("c"), "store"),
        ];
        let mut checked = vec!["a".to_string(), "c".to_string()];
        apply_tag_toggle(&operations, Some("all:pet"), &mut checked);
        checked.sort();
        assert_eq!(checked, ["a", "b", "c"]);
        apply_tag_toggle(&operations, Some("none:pet"), &mut checked);
        assert_eq!(checked, ["c"]);
    }
}

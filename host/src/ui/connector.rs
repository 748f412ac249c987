//! One connector: overview, connection config (secret fields write-only,
//! with a visible set / replace / clear state), commands with parameter
//! forms generated from `paramSchema`, Run and Test with their traces, and
//! the last executions with a chart.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde_json::{Map, Value, json};

use super::UiState;
use super::charts::outcome_chart;
use super::connectors::{agent_claims, model_label};
use super::error::UiError;
use super::layout::{Nav, Page, csrf_field, duration, outcome_badge, time_ago};
use super::session::{Viewer, is_htmx};
use super::trace::{self, Trace};
use crate::model::{
    CommandSchema, ConfigSchema, ConnectorPatch, ExecutionModel, FieldSchema, FieldType,
};
use crate::redact::MASK;
use crate::service::{ConnectorView, ExecuteRequest};
use crate::store::{ExecutionRecord, ExecutionSummary};

/// Executions listed on the page.
const RECENT_SHOWN: usize = 20;

/// The htmx event a Run or Test response triggers (`HX-Trigger`), on which
/// the last executions panel reloads.
const EXECUTED: &str = "floh-executed";

pub fn routes() -> Router<UiState> {
    Router::new()
        .route("/connectors/{name}", get(show))
        .route("/connectors/{name}/config", post(save_config))
        .route("/connectors/{name}/delete", post(delete))
        .route("/connectors/{name}/execute", post(execute))
        .route("/connectors/{name}/test", post(test))
        .route("/connectors/{name}/executions/{id}", get(execution))
        .route("/connectors/{name}/history", get(history))
}

/// A connector's page (names are letters, digits, `.`, `_` and `-`, so
/// they need no escaping in a path).
fn path_of(name: &str) -> String {
    format!("/connectors/{name}")
}

async fn show(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Result<Page, UiError> {
    let connector = state.app.service.get(&name).await?;
    let history = state.app.service.executions(&name, RECENT_SHOWN).await?;
    let claims = agent_claims(&state);
    let d = &connector.definition;
    let base = path_of(&d.name);
    let schema = d.config_schema.clone().unwrap_or_default();
    let body = html! {
        div class="grid-2" {
            (overview(&connector, claims.get(&d.name).map(String::as_str)))
            (config_card(&viewer, &connector, &schema, None))
        }
        @if let Some(status) = &connector.oauth {
            (super::oauth::connection_card(&viewer, &base, status))
        }
        section class="card" aria-labelledby="commands-heading" {
            h2 id="commands-heading" { "Commands" }
            div class="inline-fields" {
                p class="muted" {
                    "Run a command with its parameters and workflow variables, or test the connection. "
                    "The result shows every HTTP call the run made, with secrets masked."
                }
                form class="shrink" method="post" action={ (base) "/test" }
                    hx-post={ (base) "/test" } hx-target="#run-result" hx-disabled-elt="find button" {
                    (csrf_field(&viewer))
                    button type="submit" class="button-primary" { "Test connection" }
                    (progress())
                }
            }
            @if schema.commands.is_empty() {
                p class="empty" { "This connector declares no commands." }
            }
            @for (command, spec) in &schema.commands {
                (command_form(&viewer, &base, command, spec))
            }
            div id="run-result" aria-live="polite" {}
        }
        (history_panel(&base, &history))
    };
    let mut page = Page::new(&viewer, Nav::Connectors, d.name.clone(), body);
    if viewer.may_change() {
        page = page.actions(html! {
            @match d.execution_model {
                ExecutionModel::Script => a class="button" href={ (base) "/script" } { "Edit script" },
                ExecutionModel::Oas => {
                    a class="button" href={ (base) "/script" } { "View script" }
                    " "
                    a class="button" href={ (base) "/reimport" } { "Re-import from OpenAPI" }
                }
                _ => {}
            }
            " "
            form method="post" action={ (base) "/delete" } hx-post={ (base) "/delete" }
                hx-confirm={ "Delete connector " (d.name) " and its history?" } hx-target="#main" {
                (csrf_field(&viewer))
                button type="submit" class="button-danger" { "Delete" }
            }
        });
    }
    Ok(page)
}

/// The last executions with their chart. It reloads itself when a Run or
/// Test on the page answers (their responses trigger [`EXECUTED`]).
fn history_panel(base: &str, history: &[ExecutionRecord]) -> Markup {
    let runs: Vec<ExecutionSummary> = history.iter().rev().map(ExecutionSummary::of).collect();
    html! {
        section class="card" id="history" aria-labelledby="history-heading"
            hx-get={ (base) "/history" } hx-trigger={ (EXECUTED) " from:body" } hx-swap="outerHTML" {
            h2 id="history-heading" { "Last executions" }
            (outcome_chart(&runs))
            @if !history.is_empty() {
                div class="table-wrap" {
                    table class="table" {
                        thead { tr {
                            th scope="col" { "When" } th scope="col" { "Command" } th scope="col" { "Outcome" }
                            th scope="col" class="num" { "Duration" } th scope="col" { "HTTP calls" } th scope="col" { "Trace" }
                        } }
                        tbody {
                            @for e in history {
                                tr {
                                    td { (time_ago(e.started_at_ms)) }
                                    td { code { (e.command) } }
                                    td { (outcome_badge(e.success, &e.status)) }
                                    td class="num" { (duration(e.duration_ms)) }
                                    td class="num" { (e.http_calls.len()) }
                                    td { a href={ (base) "/executions/" (e.id) } { "View trace" span class="visually-hidden" { " of " (e.id) } } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The last executions panel alone, for its reload after a Run or Test.
async fn history(
    State(state): State<UiState>,
    Path(name): Path<String>,
) -> Result<Markup, UiError> {
    let connector = state.app.service.get(&name).await?;
    // `executions` flushes the background history writer first, so the run
    // that triggered this reload is in it.
    let history = state.app.service.executions(&name, RECENT_SHOWN).await?;
    Ok(history_panel(
        &path_of(&connector.definition.name),
        &history,
    ))
}

fn progress() -> Markup {
    html! {
        span class="progress" role="status" {
            span class="spinner" aria-hidden="true" {}
            "Working… " span data-elapsed {}
        }
    }
}

fn overview(connector: &ConnectorView, agent: Option<&str>) -> Markup {
    let d = &connector.definition;
    html! {
        section class="card" aria-labelledby="overview-heading" {
            h2 id="overview-heading" { "Overview" }
            @if let Some(description) = &d.description { p { (description) } }
            dl class="dl" {
                dt { "Execution model" } dd { span class="badge badge-info" { (model_label(d.execution_model)) } }
                @if let Some(t) = &d.type_name { dt { "Type" } dd { code { (t) } } }
                @if let Some(url) = &d.endpoint_url { dt { "Endpoint" } dd { code { (url) } } }
                @if let Some(v) = &d.version { dt { "Version" } dd { (v) } }
                @if let Some(c) = &d.category { dt { "Category" } dd { (c) } }
                @if !d.tags.is_empty() {
                    dt { "Tags" } dd { @for tag in &d.tags { span class="badge" { (tag) } " " } }
                }
                dt { "Runs on" }
                dd {
                    @match agent {
                        Some(agent) => { "agent " strong { (agent) } }
                        None => { "this server" }
                    }
                }
                dt { "Created" } dd { (time_ago(connector.created_at_ms)) }
                dt { "Updated" } dd { (time_ago(connector.updated_at_ms)) }
                dt { "Id" } dd { code { (connector.id) } }
            }
        }
    }
}

/// Whether a secret field currently holds a value (the view has it masked).
fn secret_is_set(config: Option<&Value>, field: &str) -> bool {
    config
        .and_then(|c| c.get(field))
        .is_some_and(|v| !v.is_null())
}

fn config_card(
    viewer: &Viewer,
    connector: &ConnectorView,
    schema: &ConfigSchema,
    notice: Option<Markup>,
) -> Markup {
    let d = &connector.definition;
    let config = d.config.as_ref();
    let base = path_of(&d.name);
    let editable = viewer.may_change();
    html! {
        section class="card" id="config-card" aria-labelledby="config-heading" {
            h2 id="config-heading" { "Connection config" }
            @if let Some(notice) = notice { (notice) }
            @if schema.connection_config.is_empty() {
                p class="empty" { "This connector has no connection config fields." }
            } @else if editable {
                form method="post" action={ (base) "/config" } hx-post={ (base) "/config" }
                    hx-target="#config-card" hx-swap="outerHTML" hx-disabled-elt="find button[type=submit]" {
                    (csrf_field(viewer))
                    @for (field, spec) in &schema.connection_config {
                        @if spec.secret {
                            (secret_field(field, spec, secret_is_set(config, field)))
                        } @else {
                            (config_field(field, spec, config.and_then(|c| c.get(field))))
                        }
                    }
                    button type="submit" class="button-primary" { "Save config" }
                    (progress())
                }
            } @else {
                dl class="dl" {
                    @for (field, spec) in &schema.connection_config {
                        dt { (field) }
                        dd {
                            @if spec.secret {
                                @if secret_is_set(config, field) { span class="badge badge-ok secret-state" { "secret set" } }
                                @else { span class="badge secret-state" { "not set" } }
                            } @else {
                                (config.and_then(|c| c.get(field)).map(display_value).unwrap_or_default())
                            }
                        }
                    }
                }
            }
        }
    }
}

fn display_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn field_id(prefix: &str, name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{prefix}-{safe}")
}

fn describe(spec: &FieldSchema) -> String {
    let mut parts = Vec::new();
    if let Some(t) = spec.field_type {
        parts.push(format!("{t:?}").to_lowercase());
    }
    if spec.required {
        parts.push("required".into());
    }
    if let Some(default) = &spec.default {
        parts.push(format!("default {}", display_value(default)));
    }
    let mut text = parts.join(", ");
    if let Some(description) = &spec.description {
        if !text.is_empty() {
            text.push_str(" — ");
        }
        text.push_str(description);
    }
    text
}

fn config_field(field: &str, spec: &FieldSchema, value: Option<&Value>) -> Markup {
    let id = field_id("config", field);
    html! {
        div class="field" {
            label for=(id) { (field) @if spec.required { " *" } }
            (input_for(&id, &format!("field.{field}"), spec, value))
            @let hint = describe(spec);
            @if !hint.is_empty() { p class="hint" id={ (id) "-hint" } { (hint) } }
        }
    }
}

/// A secret field: its value is never rendered; the person sees whether it
/// is set and chooses to keep, replace or clear it.
fn secret_field(field: &str, spec: &FieldSchema, is_set: bool) -> Markup {
    let id = field_id("secret", field);
    html! {
        fieldset class="field" {
            legend {
                strong { (field) } @if spec.required { " *" } " "
                @if is_set { span class="badge badge-ok secret-state" { "set" } }
                @else { span class="badge secret-state" { "not set" } }
            }
            @let hint = describe(spec);
            @if !hint.is_empty() { p class="hint" { (hint) " (secret: write-only)" } }
            @if is_set {
                div class="inline-fields" {
                    label class="shrink" { input type="radio" name={ "mode." (field) } value="keep" checked; " Keep" }
                    label class="shrink" { input type="radio" name={ "mode." (field) } value="replace"; " Replace" }
                    label class="shrink" { input type="radio" name={ "mode." (field) } value="clear"; " Clear" }
                }
            } @else {
                input type="hidden" name={ "mode." (field) } value="replace";
            }
            label for=(id) { @if is_set { "New value (used with Replace)" } @else { "Value" } }
            input id=(id) type="password" name={ "secret." (field) } autocomplete="new-password" value="";
        }
    }
}

fn input_for(id: &str, name: &str, spec: &FieldSchema, value: Option<&Value>) -> Markup {
    let current = value.map(display_value);
    let placeholder = spec.default.as_ref().map(display_value);
    let described = (spec.description.is_some() || spec.field_type.is_some() || spec.required)
        .then(|| format!("{id}-hint"));
    if let Some(allowed) = &spec.allowed {
        return html! {
            select id=(id) name=(name) aria-describedby=[described] {
                option value="" { "—" }
                @for option in allowed {
                    @let text = display_value(option);
                    option value=(text) selected[current.as_deref() == Some(text.as_str())] { (text) }
                }
            }
        };
    }
    match spec.field_type {
        Some(FieldType::Boolean) => html! {
            select id=(id) name=(name) aria-describedby=[described] {
                option value="" { "—" }
                option value="true" selected[current.as_deref() == Some("true")] { "true" }
                option value="false" selected[current.as_deref() == Some("false")] { "false" }
            }
        },
        Some(FieldType::Object | FieldType::Array) => html! {
            textarea id=(id) name=(name) rows="3" placeholder=[placeholder] aria-describedby=[described] {
                (current.unwrap_or_default())
            }
        },
        Some(FieldType::Number | FieldType::Integer) => html! {
            input id=(id) type="number" name=(name) value=[current] placeholder=[placeholder]
                step=(if spec.field_type == Some(FieldType::Integer) { "1" } else { "any" })
                aria-describedby=[described];
        },
        _ => html! {
            input id=(id) type="text" name=(name) value=[current] placeholder=[placeholder]
                aria-describedby=[described];
        },
    }
}

fn command_form(viewer: &Viewer, base: &str, command: &str, spec: &CommandSchema) -> Markup {
    // Parameters in declared order, then any only in paramSchema.
    let mut names: Vec<&str> = spec.params.iter().map(String::as_str).collect();
    for name in spec.param_schema.keys() {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    let none = FieldSchema::default();
    let form_id = field_id("run", command);
    html! {
        details class="command" {
            summary {
                code { (command) }
                @if let Some(description) = &spec.description { " " span class="muted" { (description) } }
            }
            form id=(form_id) method="post" action={ (base) "/execute" } hx-post={ (base) "/execute" }
                hx-target="#run-result" hx-disabled-elt="find button" {
                (csrf_field(viewer))
                input type="hidden" name="command" value=(command);
                @if names.is_empty() { p class="muted small" { "No parameters." } }
                @for name in &names {
                    @let param = spec.param_schema.get(*name).unwrap_or(&none);
                    @let id = format!("{form_id}-{}", field_id("p", name));
                    div class="field" {
                        label for=(id) { (name) @if param.required { " *" } }
                        (input_for(&id, &format!("param.{name}"), param, None))
                        @let hint = describe(param);
                        @if !hint.is_empty() { p class="hint" id={ (id) "-hint" } { (hint) } }
                    }
                }
                div class="field" {
                    label for={ (form_id) "-variables" } { "Workflow variables (JSON object, optional)" }
                    textarea id={ (form_id) "-variables" } name="variables" rows="2" placeholder="{}" {}
                }
                button type="submit" class="button-primary" { "Run " (command) }
                (progress())
            }
        }
    }
}

fn bad_request(message: impl Into<String>) -> UiError {
    UiError::new(StatusCode::BAD_REQUEST, message)
}

/// A form value typed by its schema; `None` for an empty value (the
/// schema's default applies).
fn typed(name: &str, raw: &str, spec: &FieldSchema) -> Result<Option<Value>, UiError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    let value = match spec.field_type {
        Some(FieldType::String) | None => Value::String(raw.to_string()),
        Some(FieldType::Boolean) => Value::Bool(raw == "true"),
        Some(FieldType::Integer) => json!(
            raw.trim()
                .parse::<i64>()
                .map_err(|_| bad_request(format!("`{name}` must be a whole number")))?
        ),
        Some(FieldType::Number) => json!(
            raw.trim()
                .parse::<f64>()
                .map_err(|_| bad_request(format!("`{name}` must be a number")))?
        ),
        Some(FieldType::Object | FieldType::Array) => serde_json::from_str(raw)
            .map_err(|e| bad_request(format!("`{name}` is not valid JSON: {e}")))?,
    };
    Ok(Some(value))
}

fn form_pairs(body: &Bytes) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

async fn save_config(
    State(state): State<UiState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, UiError> {
    let connector = state.app.service.get(&name).await?;
    let schema = connector
        .definition
        .config_schema
        .clone()
        .unwrap_or_default();
    let pairs = form_pairs(&body);
    let mut config = Map::new();
    for (field_name, spec) in &schema.connection_config {
        if spec.secret {
            let mode = field(&pairs, &format!("mode.{field_name}")).unwrap_or("keep");
            let value = field(&pairs, &format!("secret.{field_name}")).unwrap_or("");
            match mode {
                // The mask stands for the stored value: the service keeps it.
                "keep" => {
                    if secret_is_set(connector.definition.config.as_ref(), field_name) {
                        config.insert(field_name.clone(), Value::String(MASK.into()));
                    }
                }
                "replace" if value.is_empty() => {
                    if secret_is_set(connector.definition.config.as_ref(), field_name) {
                        return Err(bad_request(format!(
                            "enter a new value for `{field_name}`, or choose Keep"
                        )));
                    }
                }
                "replace" => {
                    if let Some(value) = typed(field_name, value, spec)? {
                        config.insert(field_name.clone(), value);
                    }
                }
                "clear" => {}
                other => return Err(bad_request(format!("unknown secret action `{other}`"))),
            }
        } else if let Some(raw) = field(&pairs, &format!("field.{field_name}"))
            && let Some(value) = typed(field_name, raw, spec)?
        {
            config.insert(field_name.clone(), value);
        }
    }
    let patch = ConnectorPatch {
        config: Some(Value::Object(config)),
        ..ConnectorPatch::default()
    };
    let updated = state.app.service.update(&name, patch).await?;
    if !is_htmx(&headers) {
        return Ok(Redirect::to(&path_of(&updated.definition.name)).into_response());
    }
    let notice = html! { div class="alert alert-ok" role="status" { "Config saved." } };
    Ok(config_card(&viewer, &updated, &schema, Some(notice)).into_response())
}

async fn delete(
    State(state): State<UiState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, UiError> {
    state.app.service.delete(&name).await?;
    if is_htmx(&headers) {
        return Ok(([("hx-redirect", "/connectors")], "").into_response());
    }
    Ok(Redirect::to("/connectors").into_response())
}

async fn execute(
    State(state): State<UiState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<impl IntoResponse, UiError> {
    let connector = state.app.service.get(&name).await?;
    let schema = connector
        .definition
        .config_schema
        .clone()
        .unwrap_or_default();
    let pairs = form_pairs(&body);
    let command = field(&pairs, "command")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| bad_request("choose a command"))?
        .to_string();
    let specs: BTreeMap<String, FieldSchema> = schema
        .commands
        .get(&command)
        .map(|c| c.param_schema.clone())
        .unwrap_or_default();
    let none = FieldSchema::default();
    let mut params = Map::new();
    for (key, raw) in &pairs {
        if let Some(param) = key.strip_prefix("param.")
            && let Some(value) = typed(param, raw, specs.get(param).unwrap_or(&none))?
        {
            params.insert(param.to_string(), value);
        }
    }
    let variables = match field(&pairs, "variables").map(str::trim) {
        None | Some("") => json!({}),
        Some(text) => {
            let value: Value = serde_json::from_str(text)
                .map_err(|e| bad_request(format!("the variables are not valid JSON: {e}")))?;
            if !value.is_object() {
                return Err(bad_request("the variables must be a JSON object"));
            }
            value
        }
    };
    let request = ExecuteRequest {
        command,
        params: Value::Object(params),
        variables,
        ..ExecuteRequest::default()
    };
    let response = state.app.service.execute(&name, request).await?;
    state.app.metrics.observe(&response);
    Ok((
        [("hx-trigger", EXECUTED)],
        trace::render(&Trace::of_response(&response), &connector.definition, false),
    ))
}

async fn test(
    State(state): State<UiState>,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, UiError> {
    let connector = state.app.service.get(&name).await?;
    let response = state.app.service.test(&name).await?;
    state.app.metrics.observe(&response);
    Ok((
        [("hx-trigger", EXECUTED)],
        trace::render(&Trace::of_response(&response), &connector.definition, true),
    ))
}

async fn execution(
    State(state): State<UiState>,
    viewer: Viewer,
    Path((name, id)): Path<(String, String)>,
) -> Result<Page, UiError> {
    let connector = state.app.service.get(&name).await?;
    let record = state.app.service.execution(&name, &id).await?;
    let is_test =
        record.command == "test" && connector.definition.execution_model != ExecutionModel::BuiltIn;
    let body = html! {
        p { a href=(path_of(&name)) { "← " (name) } }
        section class="card" aria-labelledby="trace-heading" {
            h2 id="trace-heading" { "Trace" }
            (trace::render(&Trace::of_record(&record), &connector.definition, is_test))
        }
    };
    Ok(Page::new(
        &viewer,
        Nav::Executions,
        format!("{} · {}", name, record.command),
        body,
    ))
}

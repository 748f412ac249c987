//! The New Connector wizard, the spec's steps for each execution model:
//!
//! - built-in: model → type (from the registered types, shipped and plugin)
//!   → name, description, category → the type's config fields (or later) →
//!   review → Create Connector;
//! - script: model → details, connection-config fields, commands → the
//!   script in the editor, started from a template of the declared commands
//!   → review → Create Connector;
//! - external: model → details and endpoint URL (Check service fills the
//!   commands from its `/schema` and shows `/health`) → review → Create.
//!
//! Every step is a plain HTML form (keyboard-only works, no script needed
//! except the editor). Earlier steps travel as hidden fields, except config
//! values, which may be secret: the review step keeps the whole definition
//! server-side under a random token bound to the session, so no secret is
//! ever rendered back into a page.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde_json::{Map, Value};

use super::UiState;
use super::error::UiError;
use super::layout::{Nav, Page, csrf_field};
use super::script_editor::{EDITOR_JS, editor};
use super::session::{Viewer, random_token};
use crate::model::{
    CommandSchema, ConfigSchema, ConnectorDefinition, ExecutionModel, FieldSchema, FieldType,
};
use crate::service::{ConnectorService, ServiceError};

/// Empty rows offered for connection-config fields and for commands.
const FIELD_ROWS: usize = 4;
const COMMAND_ROWS: usize = 4;
/// How long a reviewed definition waits for Create Connector.
const PENDING_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Reviewed definitions kept at most (oldest dropped first).
const PENDING_MAX: usize = 256;

pub fn routes() -> Router<UiState> {
    Router::new()
        .route("/connectors/new", get(choose_model))
        .route("/connectors/new/details", get(details))
        .route("/connectors/new/probe", post(probe))
        .route("/connectors/new/script", post(script_step))
        .route("/connectors/new/review", post(review))
        .route("/connectors/new/create", post(create))
}

/// Why an executor is refused the wizard.
const CREATE_NEEDS_ADMIN: &str = "creating connectors needs an admin token";

fn wizard_page(viewer: &Viewer, step: &str, body: Markup) -> Page {
    Page::new(
        viewer,
        Nav::Connectors,
        format!("New connector: {step}"),
        body,
    )
}

// Step 1: the execution model.

async fn choose_model(viewer: Viewer) -> Result<Page, UiError> {
    viewer.require_change(CREATE_NEEDS_ADMIN)?;
    let models = [
        (
            "built_in",
            "Built-in",
            "An instance of a registered type (shipped or a drop-in plugin), such as authifi or http.",
        ),
        (
            "script",
            "Script",
            "Your own JavaScript, run in a sandbox on the server (or an agent).",
        ),
        (
            "external",
            "External",
            "A service of yours that speaks the /execute protocol.",
        ),
    ];
    let body = html! {
        form method="get" action="/connectors/new/details" class="wizard" {
            fieldset {
                legend { "Execution model" }
                @for (index, (value, label, hint)) in models.iter().enumerate() {
                    div class="choice" {
                        input type="radio" name="model" id={ "model-" (value) } value=(value) checked[index == 0];
                        label for={ "model-" (value) } { strong { (label) } " — " (hint) }
                    }
                }
            }
            p class="hint" { "Generating a connector from an OpenAPI description? Use " a href="/import" { "Import from OpenAPI" } "." }
            div class="form-actions" { button type="submit" class="button-primary" { "Next" } }
        }
    };
    Ok(wizard_page(&viewer, "execution model", body))
}

// Step 2: details (and, per model, type, config fields, schema, endpoint).

#[derive(serde::Deserialize)]
struct DetailsQuery {
    model: Option<String>,
    #[serde(rename = "type")]
    type_name: Option<String>,
}

async fn details(
    State(state): State<UiState>,
    viewer: Viewer,
    Query(query): Query<DetailsQuery>,
) -> Result<Response, UiError> {
    viewer.require_change(CREATE_NEEDS_ADMIN)?;
    let page = match query.model.as_deref() {
        Some("built_in") => built_in_details(&state, &viewer, query.type_name.as_deref())?,
        Some("script") => script_details(&viewer, &Form::default(), None),
        Some("external") => external_details(&viewer, &Form::default(), None, None),
        _ => return Ok(Redirect::to("/connectors/new").into_response()),
    };
    Ok(page.into_response())
}

fn built_in_details(
    state: &UiState,
    viewer: &Viewer,
    type_name: Option<&str>,
) -> Result<Page, UiError> {
    let mut types = state.app.service.types().descriptors();
    types.sort_by(|a, b| a.name.cmp(&b.name));
    let chosen = type_name.and_then(|name| types.iter().find(|t| t.name == name));
    let type_form = html! {
        form method="get" action="/connectors/new/details" class="wizard" {
            input type="hidden" name="model" value="built_in";
            div class="field" {
                label for="type" { "Type" }
                select id="type" name="type" required {
                    @for descriptor in &types {
                        option value=(descriptor.name) selected[chosen.is_some_and(|c| c.name == descriptor.name)] {
                            (descriptor.name) " (" (descriptor.source) ", v" (descriptor.version) ") — " (descriptor.description)
                        }
                    }
                }
            }
            @if chosen.is_none() {
                div class="form-actions" { button type="submit" class="button-primary" { "Next" } }
            } @else {
                div class="form-actions" { button type="submit" { "Change type" } }
            }
        }
    };
    let Some(descriptor) = chosen else {
        return Ok(wizard_page(viewer, "built-in type", type_form));
    };
    let body = html! {
        (type_form)
        form method="post" action="/connectors/new/review" class="wizard" {
            (csrf_field(viewer))
            input type="hidden" name="model" value="built_in";
            input type="hidden" name="type" value=(descriptor.name);
            (details_fields(&Form::default(), &descriptor.name))
            fieldset {
                legend { "Connection config of " (descriptor.name) }
                p class="hint" { "Fill these in now or leave them for later (on the connector's page). Secret values are stored encrypted and never shown again." }
                (config_value_fields(&descriptor.config_schema.connection_config))
            }
            div class="form-actions" { button type="submit" class="button-primary" { "Next: review" } }
        }
    };
    Ok(wizard_page(
        viewer,
        &format!("{} instance", descriptor.name),
        body,
    ))
}

/// Name, description, category (and tags).
fn details_fields(form: &Form, suggested_name: &str) -> Markup {
    let name = form.get("name").unwrap_or("");
    let placeholder = (!suggested_name.is_empty()).then(|| format!("e.g. {suggested_name}-prod"));
    html! {
        fieldset {
            legend { "Details" }
            div class="field" {
                label for="name" { "Name" }
                input id="name" type="text" name="name" required value=(name) placeholder=[placeholder] pattern="[A-Za-z0-9][A-Za-z0-9._-]{0,99}"
                    aria-describedby="name-hint" autocomplete="off";
                p class="hint" id="name-hint" { "Unique; letters, digits, '.', '_' or '-'." }
            }
            div class="field" {
                label for="description" { "Description" }
                input id="description" type="text" name="description" value=(form.get("description").unwrap_or(""));
            }
            div class="field" {
                label for="category" { "Category (optional)" }
                input id="category" type="text" name="category" value=(form.get("category").unwrap_or(""));
            }
            div class="field" {
                label for="tags" { "Tags (optional, comma-separated)" }
                input id="tags" type="text" name="tags" value=(form.get("tags").unwrap_or(""));
            }
        }
    }
}

/// Inputs for connection-config values; secrets as password fields.
fn config_value_fields(fields: &BTreeMap<String, FieldSchema>) -> Markup {
    html! {
        @if fields.is_empty() { p class="empty" { "This type has no connection config." } }
        @for (name, field) in fields {
            div class="field" {
                label for={ "config-" (name) } {
                    (name)
                    @if field.required { " (required)" }
                    @if field.secret { " (secret)" }
                }
                @if field.field_type == Some(FieldType::Boolean) {
                    select id={ "config-" (name) } name={ "config." (name) } {
                        option value="" { "(not set)" }
                        option value="true" { "true" }
                        option value="false" { "false" }
                    }
                } @else if field.secret {
                    input id={ "config-" (name) } name={ "config." (name) } type="password" autocomplete="new-password";
                } @else {
                    input id={ "config-" (name) } type="text" name={ "config." (name) }
                        value=(field.default.as_ref().map(value_text).unwrap_or_default());
                }
                @if let Some(description) = &field.description { p class="hint" { (description) } }
            }
        }
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

const FIELD_TYPES: &[&str] = &["string", "number", "integer", "boolean", "object", "array"];

fn script_details(viewer: &Viewer, form: &Form, error: Option<&str>) -> Page {
    let body = html! {
        @if let Some(error) = error { div class="alert alert-error" role="alert" { (error) } }
        form method="post" action="/connectors/new/script" class="wizard" {
            (csrf_field(viewer))
            (details_fields(form, ""))
            fieldset {
                legend { "Connection config fields" }
                p class="hint" { "The settings every execution gets as floh.config (values are entered on the connector's page). Leave a row's name empty to skip it." }
                @for row in 0..FIELD_ROWS {
                    (config_field_row(form, row))
                }
            }
            fieldset {
                legend { "Commands" }
                p class="hint" {
                    "Parameters: comma-separated, each " code { "name" } ", " code { "name:type" } " or "
                    code { "name:type=default" } " (a trailing " code { "!" } " makes it required), e.g. "
                    code { "limit:number=50, offset:number=0" } ". Outputs: comma-separated names in data."
                }
                @for row in 0..COMMAND_ROWS {
                    (command_row(form, row))
                }
            }
            div class="form-actions" { button type="submit" class="button-primary" { "Next: script" } }
        }
    };
    wizard_page(viewer, "script connector", body)
}

fn config_field_row(form: &Form, row: usize) -> Markup {
    let key = |part: &str| format!("field.{row}.{part}");
    let id = |part: &str| format!("field-{row}-{part}");
    let chosen = form.get(&key("type")).unwrap_or("string");
    html! {
        div class="row-group" role="group" aria-label={ "Config field " (row + 1) } {
            div class="field" {
                label for=(id("name")) { "Field " (row + 1) " name" }
                input id=(id("name")) type="text" name=(key("name")) value=(form.get(&key("name")).unwrap_or("")) autocomplete="off";
            }
            div class="field" {
                label for=(id("type")) { "Type" }
                select id=(id("type")) name=(key("type")) {
                    @for kind in FIELD_TYPES { option value=(kind) selected[*kind == chosen] { (kind) } }
                }
            }
            div class="field checkbox" {
                input type="checkbox" id=(id("required")) name=(key("required")) value="on" checked[form.get(&key("required")).is_some()];
                label for=(id("required")) { "Required" }
            }
            div class="field checkbox" {
                input type="checkbox" id=(id("secret")) name=(key("secret")) value="on" checked[form.get(&key("secret")).is_some()];
                label for=(id("secret")) { "Secret" }
            }
            div class="field" {
                label for=(id("description")) { "Description" }
                input id=(id("description")) type="text" name=(key("description")) value=(form.get(&key("description")).unwrap_or(""));
            }
        }
    }
}

fn command_row(form: &Form, row: usize) -> Markup {
    let key = |part: &str| format!("command.{row}.{part}");
    let id = |part: &str| format!("command-{row}-{part}");
    html! {
        div class="row-group" role="group" aria-label={ "Command " (row + 1) } {
            div class="field" {
                label for=(id("name")) { "Command " (row + 1) " name" }
                input id=(id("name")) type="text" name=(key("name")) value=(form.get(&key("name")).unwrap_or("")) autocomplete="off";
            }
            div class="field" {
                label for=(id("description")) { "Description" }
                input id=(id("description")) type="text" name=(key("description")) value=(form.get(&key("description")).unwrap_or(""));
            }
            div class="field" {
                label for=(id("params")) { "Parameters" }
                input id=(id("params")) type="text" name=(key("params")) value=(form.get(&key("params")).unwrap_or(""));
            }
            div class="field" {
                label for=(id("outputs")) { "Outputs" }
                input id=(id("outputs")) type="text" name=(key("outputs")) value=(form.get(&key("outputs")).unwrap_or(""));
            }
        }
    }
}

fn external_details(
    viewer: &Viewer,
    form: &Form,
    probe: Option<&crate::service::ExternalProbe>,
    error: Option<&str>,
) -> Page {
    let schema = probe.and_then(|p| p.schema.as_ref());
    let body = html! {
        @if let Some(error) = error { div class="alert alert-error" role="alert" { (error) } }
        form method="post" action="/connectors/new/review" class="wizard" {
            (csrf_field(viewer))
            input type="hidden" name="model" value="external";
            (details_fields(form, ""))
            fieldset {
                legend { "Service" }
                div class="field" {
                    label for="endpoint-url" { "Endpoint URL" }
                    input id="endpoint-url" name="endpointUrl" type="url" required placeholder="https://connector.example.com"
                        value=(form.get("endpointUrl").unwrap_or(""));
                }
                div class="form-actions" {
                    button type="submit" formaction="/connectors/new/probe" { "Check service (/schema, /health)" }
                }
                @if let Some(probe) = probe {
                    div class="probe" aria-live="polite" {
                        h2 { "What the service answered" }
                        p {
                            "/health: "
                            @match &probe.health {
                                None => span class="badge" { "no /health endpoint" },
                                Some(result) if result.success => span class="badge badge-ok" { "healthy" },
                                Some(result) => span class="badge badge-fail" { (result.error.clone().unwrap_or_else(|| "unhealthy".into())) },
                            }
                        }
                        @match schema {
                            Some(schema) => {
                                p { "/schema: " (schema.commands.len()) " commands, " (schema.connection_config.len()) " config fields (prefilled below)." }
                                input type="hidden" name="configSchemaJson" value=(serde_json::to_string(schema).unwrap_or_default());
                                (commands_table(&schema.commands))
                            }
                            None => p { "/schema: no schema; the commands are whatever the service accepts." },
                        }
                    }
                }
            }
            @if let Some(schema) = schema {
                fieldset {
                    legend { "Connection config" }
                    (config_value_fields(&schema.connection_config))
                }
            }
            div class="form-actions" { button type="submit" class="button-primary" { "Next: review" } }
        }
    };
    wizard_page(viewer, "external connector", body)
}

fn commands_table(commands: &BTreeMap<String, CommandSchema>) -> Markup {
    html! {
        table {
            caption { "Commands" }
            thead { tr { th scope="col" { "Command" } th scope="col" { "Parameters" } th scope="col" { "Outputs" } th scope="col" { "Description" } } }
            tbody {
                @for (name, command) in commands {
                    tr {
                        th scope="row" { code { (name) } }
                        td { (params_text(command)) }
                        td { (command.outputs.join(", ")) }
                        td { (command.description.clone().unwrap_or_default()) }
                    }
                }
            }
        }
    }
}

/// `limit:number=50, offset` as the wizard's parameter syntax.
fn params_text(command: &CommandSchema) -> String {
    command
        .params
        .iter()
        .map(|param| {
            let mut text = param.clone();
            if let Some(schema) = command.param_schema.get(param) {
                if let Some(kind) = &schema.field_type {
                    text.push(':');
                    text.push_str(field_type_name(kind));
                }
                if let Some(default) = &schema.default {
                    text.push('=');
                    text.push_str(&value_text(default));
                }
                if schema.required {
                    text.push('!');
                }
            }
            text
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn field_type_name(kind: &FieldType) -> &'static str {
    match kind {
        FieldType::String => "string",
        FieldType::Number => "number",
        FieldType::Integer => "integer",
        FieldType::Boolean => "boolean",
        FieldType::Object => "object",
        FieldType::Array => "array",
    }
}

async fn probe(State(state): State<UiState>, viewer: Viewer, body: Bytes) -> Result<Page, UiError> {
    viewer.require_change(CREATE_NEEDS_ADMIN)?;
    let form = Form::parse(&body);
    let endpoint = form.get("endpointUrl").unwrap_or("").trim().to_string();
    match state.app.service.probe_external(&endpoint, &[]).await {
        Ok(probe) => Ok(external_details(&viewer, &form, Some(&probe), None)),
        Err(error) => Ok(external_details(
            &viewer,
            &form,
            None,
            Some(&error.to_string()),
        )),
    }
}

// Step 3 (script): the script, from a template of the declared commands.

async fn script_step(viewer: Viewer, body: Bytes) -> Result<Response, UiError> {
    viewer.require_change(CREATE_NEEDS_ADMIN)?;
    let form = Form::parse(&body);
    let schema = match script_schema(&form) {
        Ok(schema) => schema,
        Err(message) => {
            let page = script_details(&viewer, &form, Some(&message));
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    let name = form.get("name").unwrap_or("").trim().to_string();
    let source = form
        .get("scriptSource")
        .map(str::to_string)
        .unwrap_or_else(|| ConnectorService::script_template(&name, &schema));
    let commands: Vec<String> = schema.commands.keys().cloned().collect();
    let body = html! {
        form method="post" action="/connectors/new/review" class="wizard" {
            (csrf_field(&viewer))
            input type="hidden" name="model" value="script";
            @for key in ["name", "description", "category", "tags"] {
                input type="hidden" name=(key) value=(form.get(key).unwrap_or(""));
            }
            input type="hidden" name="configSchemaJson" value=(serde_json::to_string(&schema).unwrap_or_default());
            p { "Declared commands: " @for (index, command) in commands.iter().enumerate() { @if index > 0 { ", " } code { (command) } } "." }
            (editor("script-source", "scriptSource", "Script", &source, &commands, false))
            div class="form-actions" { button type="submit" class="button-primary" { "Next: review" } }
        }
    };
    Ok(wizard_page(&viewer, "script", body)
        .script(EDITOR_JS)
        .into_response())
}

/// The config fields and commands of the script step's rows.
fn script_schema(form: &Form) -> Result<ConfigSchema, String> {
    let mut schema = ConfigSchema::default();
    for row in 0..FIELD_ROWS {
        let key = |part: &str| format!("field.{row}.{part}");
        let name = form.get(&key("name")).unwrap_or("").trim();
        if name.is_empty() {
            continue;
        }
        let field = FieldSchema {
            field_type: parse_type(form.get(&key("type")).unwrap_or("string"))?,
            required: form.get(&key("required")).is_some(),
            secret: form.get(&key("secret")).is_some(),
            description: non_empty(form.get(&key("description"))),
            ..FieldSchema::default()
        };
        schema.connection_config.insert(name.to_string(), field);
    }
    for row in 0..COMMAND_ROWS {
        let key = |part: &str| format!("command.{row}.{part}");
        let name = form.get(&key("name")).unwrap_or("").trim();
        if name.is_empty() {
            continue;
        }
        let mut command = CommandSchema {
            description: non_empty(form.get(&key("description"))),
            outputs: split_list(form.get(&key("outputs")).unwrap_or("")),
            ..CommandSchema::default()
        };
        for item in split_list(form.get(&key("params")).unwrap_or("")) {
            let (param, field) = parse_param(&item)
                .map_err(|reason| format!("command `{name}`, parameter `{item}`: {reason}"))?;
            command.params.push(param.clone());
            if let Some(field) = field {
                command.param_schema.insert(param, field);
            }
        }
        if schema.commands.insert(name.to_string(), command).is_some() {
            return Err(format!("the command `{name}` is declared twice"));
        }
    }
    if schema.commands.is_empty() {
        return Err("declare at least one command".into());
    }
    Ok(schema)
}

/// `name`, `name:type`, `name:type=default`, any of them ending in `!`.
fn parse_param(item: &str) -> Result<(String, Option<FieldSchema>), String> {
    let (item, required) = match item.strip_suffix('!') {
        Some(rest) => (rest.trim(), true),
        None => (item, false),
    };
    let (head, default) = match item.split_once('=') {
        Some((head, default)) => (head.trim(), Some(default.trim())),
        None => (item, None),
    };
    let (name, kind) = match head.split_once(':') {
        Some((name, kind)) => (name.trim(), Some(kind.trim())),
        None => (head.trim(), None),
    };
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    let field_type = match kind {
        Some(kind) => parse_type(kind)?,
        None => None,
    };
    let default = match default {
        None => None,
        Some(text) => Some(match field_type {
            Some(FieldType::String) | None => Value::String(text.to_string()),
            Some(_) => serde_json::from_str(text).map_err(|_| {
                format!("the default `{text}` is not a valid {}", kind.unwrap_or(""))
            })?,
        }),
    };
    let described = field_type.is_some() || default.is_some() || required;
    Ok((
        name.to_string(),
        described.then(|| FieldSchema {
            field_type,
            required,
            default,
            ..FieldSchema::default()
        }),
    ))
}

fn parse_type(text: &str) -> Result<Option<FieldType>, String> {
    serde_json::from_value(Value::String(text.to_string()))
        .map(Some)
        .map_err(|_| format!("`{text}` is not a type (use {})", FIELD_TYPES.join(", ")))
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

fn non_empty(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_string)
}

// Review and create.

struct Pending {
    csrf: String,
    created: Instant,
    definition: ConnectorDefinition,
}

fn pending() -> &'static Mutex<HashMap<String, Pending>> {
    static PENDING: OnceLock<Mutex<HashMap<String, Pending>>> = OnceLock::new();
    PENDING.get_or_init(Default::default)
}

fn keep_pending(viewer: &Viewer, definition: ConnectorDefinition) -> String {
    let token = random_token();
    let mut map = pending().lock().unwrap_or_else(|p| p.into_inner());
    map.retain(|_, entry| entry.created.elapsed() < PENDING_LIFETIME);
    if map.len() >= PENDING_MAX
        && let Some(oldest) = map
            .iter()
            .min_by_key(|(_, entry)| entry.created)
            .map(|(key, _)| key.clone())
    {
        map.remove(&oldest);
    }
    map.insert(
        token.clone(),
        Pending {
            csrf: viewer.csrf.clone(),
            created: Instant::now(),
            definition,
        },
    );
    token
}

fn take_pending(viewer: &Viewer, token: &str) -> Option<ConnectorDefinition> {
    let mut map = pending().lock().unwrap_or_else(|p| p.into_inner());
    let entry = map.remove(token)?;
    (entry.csrf == viewer.csrf && entry.created.elapsed() < PENDING_LIFETIME)
        .then_some(entry.definition)
}

/// The definition the wizard's forms describe.
fn definition_of(state: &UiState, form: &Form) -> Result<ConnectorDefinition, String> {
    let model = match form.get("model") {
        Some("built_in") => ExecutionModel::BuiltIn,
        Some("script") => ExecutionModel::Script,
        Some("external") => ExecutionModel::External,
        _ => return Err("choose an execution model".into()),
    };
    let name = form.get("name").unwrap_or("").trim().to_string();
    let config_schema = match form.get("configSchemaJson") {
        Some(json) if !json.is_empty() => Some(
            serde_json::from_str::<ConfigSchema>(json)
                .map_err(|e| format!("the form's schema is invalid: {e}"))?,
        ),
        _ => None,
    };
    let fields = match model {
        ExecutionModel::BuiltIn => {
            let type_name = form.get("type").unwrap_or("");
            state
                .app
                .service
                .types()
                .descriptors()
                .into_iter()
                .find(|d| d.name == type_name)
                .map(|d| d.config_schema.connection_config)
                .ok_or_else(|| format!("`{type_name}` is not a registered type"))?
        }
        _ => config_schema
            .as_ref()
            .map(|s| s.connection_config.clone())
            .unwrap_or_default(),
    };
    let mut config = Map::new();
    for (field, spec) in &fields {
        let Some(text) = form.get(&format!("config.{field}")) else {
            continue;
        };
        if text.is_empty() {
            continue;
        }
        let value = match spec.field_type {
            Some(FieldType::String) | None => Value::String(text.to_string()),
            _ => serde_json::from_str(text).map_err(|_| {
                format!(
                    "config `{field}`: `{text}` is not a valid {:?}",
                    spec.field_type
                )
            })?,
        };
        config.insert(field.clone(), value);
    }
    Ok(ConnectorDefinition {
        name,
        type_name: match model {
            ExecutionModel::BuiltIn => form.get("type").map(str::to_string),
            _ => None,
        },
        description: non_empty(form.get("description")),
        version: None,
        execution_model: model,
        category: non_empty(form.get("category")),
        tags: split_list(form.get("tags").unwrap_or("")),
        config_schema: match model {
            ExecutionModel::BuiltIn => None,
            _ => config_schema,
        },
        config: (!config.is_empty()).then_some(Value::Object(config)),
        script_source: form.get("scriptSource").map(|s| s.replace("\r\n", "\n")),
        endpoint_url: non_empty(form.get("endpointUrl")),
        log_level: None,
        allowed_networks: Vec::new(),
        openapi_spec: None,
        openapi_select: None,
    })
}

async fn review(
    State(state): State<UiState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, UiError> {
    viewer.require_change(CREATE_NEEDS_ADMIN)?;
    let form = Form::parse(&body);
    let definition = definition_of(&state, &form)
        .map_err(|message| UiError::new(StatusCode::BAD_REQUEST, message))?;
    let page = review_page(&state, &viewer, definition, None);
    Ok(page.into_response())
}

fn review_page(
    state: &UiState,
    viewer: &Viewer,
    definition: ConnectorDefinition,
    error: Option<&str>,
) -> Page {
    let schema = match definition.execution_model {
        ExecutionModel::BuiltIn => definition.type_name.as_deref().and_then(|name| {
            state
                .app
                .service
                .types()
                .descriptors()
                .into_iter()
                .find(|d| d.name == name)
                .map(|d| d.config_schema)
        }),
        _ => definition.config_schema.clone(),
    }
    .unwrap_or_default();
    let set_fields: Vec<String> = definition
        .config
        .as_ref()
        .and_then(Value::as_object)
        .map(|values| values.keys().cloned().collect())
        .unwrap_or_default();
    let commands: Vec<String> = schema.commands.keys().cloned().collect();
    let source = definition.script_source.clone();
    let d = definition.clone();
    let token = keep_pending(viewer, definition);
    let body = html! {
        @if let Some(error) = error { div class="alert alert-error" role="alert" id="create-error" { strong { "Not created: " } (error) } }
        dl class="facts" {
            dt { "Name" } dd { (d.name) }
            dt { "Execution model" } dd { (d.execution_model.as_str()) }
            @if let Some(type_name) = &d.type_name { dt { "Type" } dd { (type_name) } }
            dt { "Description" } dd { (d.description.clone().unwrap_or_else(|| "—".into())) }
            dt { "Category" } dd { (d.category.clone().unwrap_or_else(|| "—".into())) }
            @if !d.tags.is_empty() { dt { "Tags" } dd { (d.tags.join(", ")) } }
            @if let Some(url) = &d.endpoint_url { dt { "Endpoint URL" } dd { (url) } }
        }
        h2 { "Connection config" }
        @if schema.connection_config.is_empty() {
            p class="empty" { "No connection config." }
        } @else {
            table {
                thead { tr { th scope="col" { "Field" } th scope="col" { "Type" } th scope="col" { "Value" } } }
                tbody {
                    @for (name, field) in &schema.connection_config {
                        tr {
                            th scope="row" { code { (name) } @if field.required { " (required)" } }
                            td { (field.field_type.as_ref().map(field_type_name).unwrap_or("any")) @if field.secret { ", secret" } }
                            td {
                                @if set_fields.contains(name) {
                                    @if field.secret { span class="badge" { "set (hidden)" } }
                                    @else { (value_text(&d.config.as_ref().and_then(|c| c.get(name)).cloned().unwrap_or_default())) }
                                } @else { span class="muted" { "later" } }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Commands" }
        @if commands.is_empty() { p class="empty" { "Whatever the service accepts." } } @else { (commands_table(&schema.commands)) }
        @if let Some(source) = &source {
            h2 { "Script" }
            (editor("review-script", "reviewScript", "Script (review)", source, &commands, true))
        }
        form method="post" action="/connectors/new/create" class="wizard" {
            (csrf_field(viewer))
            input type="hidden" name="pending" value=(token);
            div class="form-actions" {
                a href="/connectors/new" { "Start over" }
                " "
                button type="submit" class="button-primary" { "Create Connector" }
            }
        }
    };
    let page = wizard_page(viewer, "review", body);
    if source.is_some() {
        page.script(EDITOR_JS)
    } else {
        page
    }
}

async fn create(
    State(state): State<UiState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, UiError> {
    viewer.require_change(CREATE_NEEDS_ADMIN)?;
    let form = Form::parse(&body);
    let token = form.get("pending").unwrap_or("");
    let definition = take_pending(&viewer, token).ok_or_else(|| {
        UiError::new(
            StatusCode::GONE,
            "this review expired or was already used: start the wizard again",
        )
    })?;
    match state.app.service.create(definition.clone()).await {
        Ok(view) => {
            Ok(Redirect::to(&format!("/connectors/{}", view.definition.name)).into_response())
        }
        Err(
            error @ (ServiceError::Invalid(_)
            | ServiceError::NameTaken(_)
            | ServiceError::ScriptSyntax { .. }
            | ServiceError::UnknownType { .. }),
        ) => {
            let page = review_page(&state, &viewer, definition, Some(&error.to_string()));
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// A urlencoded form (the last value wins for a repeated key).
#[derive(Default)]
pub struct Form(HashMap<String, String>);

impl Form {
    /// Parse a body.
    pub fn parse(body: &[u8]) -> Self {
        Self(form_urlencoded::parse(body).into_owned().collect())
    }

    /// One field.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_parse_with_types_defaults_and_required() {
        let (name, field) = parse_param("limit:number=50").expect("test value");
        assert_eq!(name, "limit");
        let field = field.expect("test value");
        assert_eq!(field.field_type, Some(FieldType::Number));
        assert_eq!(field.default, Some(serde_json::json!(50)));
        let (_, field) = parse_param("email:string!").expect("test value");
        assert!(field.expect("test value").required);
        assert_eq!(
            parse_param("offset").expect("test value"),
            ("offset".into(), None)
        );
        assert!(parse_param("n:number=abc").is_err());
        assert!(parse_param("x:colour").is_err());
    }

    #[test]
    fn the_script_rows_become_a_schema() {
        let form = Form::parse(
            b"field.0.name=baseUrl&field.0.type=string&field.0.required=on&field.1.name=apiKey&field.1.type=string&field.1.secret=on&command.0.name=listContacts&command.0.params=limit%3Anumber%3D50%2C+offset&command.0.outputs=contacts%2C+total",
        );
        let schema = script_schema(&form).expect("test value");
        assert!(schema.connection_config["baseUrl"].required);
        assert!(schema.connection_config["apiKey"].secret);
        let command = &schema.commands["listContacts"];
        assert_eq!(command.params, ["limit", "offset"]);
        assert_eq!(command.outputs, ["contacts", "total"]);
        assert_eq!(
            command.param_schema["limit"].default,
            Some(serde_json::json!(50))
        );
        assert!(script_schema(&Form::parse(b"name=x")).is_err());
    }
}

//! The connectors list: search, filters (category, tag, execution model),
//! one row per connector with its model, type, last outcome, where it runs
//! and a sparkline of its recent runs. Typing in the filters refreshes only
//! the table (htmx); without script the form still works as a plain GET.

use std::collections::{BTreeSet, HashMap};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;

use super::UiState;
use super::charts::sparkline;
use super::error::UiError;
use super::layout::{Nav, Page, time_ago};
use super::session::{Viewer, is_htmx};
use crate::model::ExecutionModel;
use crate::service::{ConnectorSummary, ListFilter};
use crate::store::ExecutionSummary;

/// Rows rendered at once; a search or filter narrows the rest.
const ROWS_SHOWN: usize = 200;

pub fn routes() -> Router<UiState> {
    Router::new().route("/connectors", get(list))
}

/// The filter form's fields (empty means "any").
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    model: String,
}

impl ListQuery {
    fn filter(&self) -> Result<ListFilter, UiError> {
        let some = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        let model = match some(&self.model) {
            Some(model) => Some(
                serde_json::from_value::<ExecutionModel>(serde_json::Value::String(model.clone()))
                    .map_err(|_| {
                        UiError::new(
                            axum::http::StatusCode::BAD_REQUEST,
                            format!("`{model}` is not an execution model"),
                        )
                    })?,
            ),
            None => None,
        };
        Ok(ListFilter {
            q: some(&self.q),
            category: some(&self.category),
            tag: some(&self.tag),
            model,
        })
    }
}

/// A model's name for people.
pub fn model_label(model: ExecutionModel) -> &'static str {
    match model {
        ExecutionModel::BuiltIn => "built-in",
        ExecutionModel::Script => "script",
        ExecutionModel::External => "external",
        ExecutionModel::Oas => "OpenAPI",
    }
}

/// Which agent serves each claimed connector (by connector name).
pub fn agent_claims(state: &UiState) -> HashMap<String, String> {
    let mut claims = HashMap::new();
    for agent in state.app.agents.list() {
        for connector in &agent.connector_names {
            claims
                .entry(connector.clone())
                .or_insert_with(|| agent.agent_name.clone());
        }
    }
    claims
}

async fn list(
    State(state): State<UiState>,
    viewer: Viewer,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, UiError> {
    let filter = query.filter()?;
    // One listing read: the filter options come from all connectors, the
    // rows from those the service's own filter rule lets through. Only the
    // rows shown need their recent runs (the sparklines).
    let all = state.app.service.list(&ListFilter::default()).await?;
    let shown: Vec<&ConnectorSummary> = all.iter().filter(|c| filter.matches(c)).collect();
    let ids = shown
        .iter()
        .take(ROWS_SHOWN)
        .map(|c| c.id.clone())
        .collect();
    let activity = state.app.service.activity_of(ids).await?;
    let claims = agent_claims(&state);
    let rows = rows(&shown, all.len(), &activity, &claims);
    if is_htmx(&headers) {
        return Ok(rows.into_response());
    }
    let categories: BTreeSet<&str> = all.iter().filter_map(|c| c.category.as_deref()).collect();
    let tags: BTreeSet<&str> = all
        .iter()
        .flat_map(|c| c.tags.iter().map(String::as_str))
        .collect();
    let body = html! {
        form class="filters" method="get" action="/connectors" role="search"
            hx-get="/connectors" hx-target="#connector-rows" hx-swap="outerHTML"
            hx-trigger="input changed delay:250ms from:input, change from:select, submit" {
            div class="field field-search" {
                label for="q" { "Search" }
                input id="q" type="search" name="q" value=(query.q)
                    placeholder="Name, type or description" autocomplete="off";
            }
            (select("category", "Category", &query.category, categories.iter().map(|c| (*c, *c))))
            (select("tag", "Tag", &query.tag, tags.iter().map(|t| (*t, *t))))
            (select("model", "Execution model", &query.model, [
                ("built_in", "built-in"), ("script", "script"), ("external", "external"), ("oas", "OpenAPI"),
            ].into_iter()))
            noscript { button type="submit" { "Filter" } }
        }
        (rows)
    };
    let mut page = Page::new(&viewer, Nav::Connectors, "Connectors", body);
    if viewer.may_change() {
        page = page.actions(html! {
            a class="button" href="/import" { "Import from OpenAPI" }
            a class="button button-primary" href="/connectors/new" { "New connector" }
        });
    }
    Ok(page.into_response())
}

fn select<'a>(
    name: &str,
    label: &str,
    current: &str,
    options: impl Iterator<Item = (&'a str, &'a str)>,
) -> Markup {
    html! {
        div class="field" {
            label for=(name) { (label) }
            select id=(name) name=(name) {
                option value="" { "Any" }
                @for (value, text) in options {
                    option value=(value) selected[value == current] { (text) }
                }
            }
        }
    }
}

fn rows(
    shown: &[&ConnectorSummary],
    total: usize,
    activity: &HashMap<String, Vec<ExecutionSummary>>,
    claims: &HashMap<String, String>,
) -> Markup {
    html! {
        div id="connector-rows" {
            p class="muted small" aria-live="polite" {
                @if shown.len() == total { (total) " connectors" }
                @else { (shown.len()) " of " (total) " connectors" }
                @if shown.len() > ROWS_SHOWN { "; the first " (ROWS_SHOWN) " are listed: search or filter to narrow them" }
            }
            @if shown.is_empty() {
                p class="empty" {
                    @if total == 0 { "No connectors yet." } @else { "No connector matches these filters." }
                }
            } @else {
                div class="table-wrap" {
                    table class="table" {
                        caption class="visually-hidden" { "Connectors" }
                        thead { tr {
                            th scope="col" { "Name" }
                            th scope="col" { "Model" }
                            th scope="col" { "Type" }
                            th scope="col" { "Category / tags" }
                            th scope="col" { "Last run" }
                            th scope="col" { "Runs on" }
                            th scope="col" { "Recent runs" }
                        } }
                        tbody {
                            @for d in shown.iter().take(ROWS_SHOWN) {
                                @let runs = activity.get(&d.id).map(Vec::as_slice).unwrap_or(&[]);
                                tr {
                                    td {
                                        a href={ "/connectors/" (d.name) } { strong { (d.name) } }
                                        @if let Some(description) = &d.description {
                                            br; span class="muted small" { (description) }
                                        }
                                    }
                                    td { span class="badge badge-info" { (model_label(d.execution_model)) } }
                                    td { (d.type_name.as_deref().unwrap_or("—")) }
                                    td {
                                        (d.category.as_deref().unwrap_or(""))
                                        @for tag in &d.tags { " " span class="badge" { (tag) } }
                                    }
                                    td {
                                        @match &d.last_execution {
                                            Some(last) => {
                                                @if last.success { span class="badge badge-ok" { "ok" } }
                                                @else { span class="badge badge-fail" { (last.outcome()) } }
                                                " " span class="small muted" { (time_ago(last.started_at_ms)) }
                                            }
                                            None => span class="muted small" { "never" },
                                        }
                                    }
                                    td {
                                        @match claims.get(&d.name) {
                                            Some(agent) => { "agent " strong { (agent) } }
                                            None => span class="muted" { "server" },
                                        }
                                    }
                                    td { (sparkline(runs)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

//! Recent executions across connectors, and per connector a chart of
//! outcomes and durations over time (p50, p99).

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use maud::html;
use serde::Deserialize;

use super::UiState;
use super::charts::outcome_chart;
use super::error::UiError;
use super::layout::{Nav, Page, duration, outcome_badge, time_ago};
use super::session::Viewer;

/// Executions listed.
const SHOWN: usize = 100;

pub fn routes() -> Router<UiState> {
    Router::new().route("/executions", get(list))
}

#[derive(Deserialize)]
struct Filter {
    #[serde(default)]
    connector: String,
}

async fn list(
    State(state): State<UiState>,
    viewer: Viewer,
    Query(filter): Query<Filter>,
) -> Result<Page, UiError> {
    let service = &state.app.service;
    let mut recent = service.recent_executions(crate::store::RECENT_KEPT).await?;
    let connector = filter.connector.trim();
    if !connector.is_empty() {
        recent.retain(|r| r.connector == connector);
    }
    recent.truncate(SHOWN);
    let mut activity: Vec<_> = service.activity().await?.into_iter().collect();
    activity.sort_by(|a, b| a.0.cmp(&b.0));
    if !connector.is_empty() {
        activity.retain(|(name, _)| name == connector);
    }
    let body = html! {
        section class="card" aria-labelledby="recent-heading" {
            h2 id="recent-heading" {
                "Recent executions"
                @if !connector.is_empty() { " of " (connector) }
            }
            @if !connector.is_empty() { p { a href="/executions" { "Show all connectors" } } }
            @if recent.is_empty() {
                p class="empty" { "No executions yet." }
            } @else {
                div class="table-wrap" {
                    table class="table" {
                        thead { tr {
                            th scope="col" { "When" } th scope="col" { "Connector" } th scope="col" { "Command" }
                            th scope="col" { "Outcome" } th scope="col" class="num" { "Duration" }
                            th scope="col" { "Ran on" } th scope="col" { "Trace" }
                        } }
                        tbody {
                            @for r in &recent {
                                @let e = &r.execution;
                                tr {
                                    td { (time_ago(e.started_at_ms)) }
                                    td { a href={ "/connectors/" (r.connector) } { (r.connector) } }
                                    td { code { (e.command) } }
                                    td { (outcome_badge(e.success, &e.status)) }
                                    td class="num" { (duration(e.duration_ms)) }
                                    td { @match &e.agent { Some(a) => { "agent " (a) } None => span class="muted" { "server" } } }
                                    td { a href={ "/connectors/" (r.connector) "/executions/" (e.id) } {
                                        "View trace" span class="visually-hidden" { " of " (e.id) }
                                    } }
                                }
                            }
                        }
                    }
                }
            }
        }
        @for (name, runs) in &activity {
            section class="card" aria-label={ "Outcomes and durations of " (name) } {
                h2 { a href={ "/executions?connector=" (name) } { (name) } }
                (outcome_chart(runs))
            }
        }
    };
    Ok(Page::new(&viewer, Nav::Executions, "Executions", body))
}

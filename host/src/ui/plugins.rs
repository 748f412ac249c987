//! Plugins & types: every file of the plugin directory, loaded or refused
//! with its reason, and every registered connector type.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use maud::html;

use super::UiState;
use super::layout::{Nav, Page, time_ago};
use super::session::Viewer;

pub fn routes() -> Router<UiState> {
    Router::new().route("/plugins", get(show))
}

async fn show(State(state): State<UiState>, viewer: Viewer) -> Page {
    let mut types = state.app.service.types().descriptors();
    types.sort_by(|a, b| a.name.cmp(&b.name));
    let files = state
        .app
        .plugins
        .as_ref()
        .map(|p| p.statuses())
        .unwrap_or_default();
    let dir = state
        .app
        .plugins
        .as_ref()
        .map(|p| p.dir().display().to_string());
    let body = html! {
        section class="card" aria-labelledby="types-heading" {
            h2 id="types-heading" { "Connector types" }
            table class="table" {
                thead { tr {
                    th scope="col" { "Type" } th scope="col" { "Version" }
                    th scope="col" { "Source" } th scope="col" { "Commands" } th scope="col" { "Description" }
                } }
                tbody {
                    @for t in &types {
                        tr {
                            td { code { (t.name) } }
                            td { (t.version) }
                            td { span class="badge" { (t.source) } }
                            td { (t.config_schema.commands.len()) }
                            td { (t.description) }
                        }
                    }
                }
            }
        }
        section class="card" aria-labelledby="files-heading" {
            h2 id="files-heading" { "Plugin files" }
            @if let Some(dir) = &dir {
                p class="muted" { "Watching " code { (dir) } ". Drop a " code { ".wasm" } " plugin there to add a type." }
            }
            @if files.is_empty() {
                p class="empty" { "No plugin files." }
            } @else {
                table class="table" {
                    thead { tr {
                        th scope="col" { "File" } th scope="col" { "Status" } th scope="col" { "Type" }
                        th scope="col" { "Version" } th scope="col" { "Reason" } th scope="col" { "Since" }
                    } }
                    tbody {
                        @for f in &files {
                            tr {
                                td { code { (f.file) } }
                                td {
                                    @if f.status == "loaded" { span class="badge badge-ok" { "loaded" } }
                                    @else { span class="badge badge-fail" { (f.status) } }
                                }
                                td { (f.type_name.as_deref().unwrap_or("—")) }
                                td { (f.version.as_deref().unwrap_or("—")) }
                                td class="reason" { (f.error.as_deref().unwrap_or("")) }
                                td { (time_ago(f.updated_at_ms)) }
                            }
                        }
                    }
                }
            }
        }
    };
    Page::new(&viewer, Nav::Plugins, "Plugins & types", body)
}

//! Import from OpenAPI and re-import. Owned by the import work: this
//! placeholder only reserves the route.

use axum::Router;
use axum::routing::get;
use maud::html;

use super::UiState;
use super::layout::{Nav, Page};
use super::session::Viewer;

pub fn routes() -> Router<UiState> {
    Router::new().route("/import", get(start))
}

async fn start(viewer: Viewer) -> Page {
    Page::new(
        &viewer,
        Nav::Import,
        "Import from OpenAPI",
        html! { p class="empty" { "Import is not built yet." } },
    )
}

//! The New Connector wizard (built-in, script, external). Owned by the
//! wizard work: this placeholder only reserves the route.

use axum::Router;
use axum::routing::get;
use maud::html;

use super::UiState;
use super::layout::{Nav, Page};
use super::session::Viewer;

pub fn routes() -> Router<UiState> {
    Router::new().route("/connectors/new", get(start))
}

async fn start(viewer: Viewer) -> Page {
    Page::new(
        &viewer,
        Nav::Connectors,
        "New connector",
        html! { p class="empty" { "The wizard is not built yet." } },
    )
}

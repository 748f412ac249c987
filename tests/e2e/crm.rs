//! The spec's `my-crm` connector and a CRM stand-in for it to call.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use serde_json::{Value, json};

/// The API key the stand-in accepts.
pub const API_KEY: &str = "sk-crm-e2e-5c1d7a90b2";

/// The spec's `my-crm` definition (steps 1 and 2), as shipped for the
/// README's tour.
const FIXTURE: &str = include_str!("../fixtures/my-crm.json");

/// Queries the stand-in received.
pub type Seen = Arc<Mutex<Vec<String>>>;

/// Start the CRM stand-in; returns its URL and the queries it saw.
pub async fn start() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let authorized = |headers: &HeaderMap| {
        headers.get("authorization").and_then(|v| v.to_str().ok())
            == Some(&format!("Bearer {API_KEY}"))
    };
    let router = axum::Router::new()
        .route(
            "/api/contacts",
            get(move |headers: HeaderMap, uri: axum::http::Uri| {
                let record = record.clone();
                async move {
                    record
                        .lock()
                        .expect("lock")
                        .push(uri.query().unwrap_or("").to_string());
                    if !authorized(&headers) {
                        return (StatusCode::UNAUTHORIZED, Json(json!({})));
                    }
                    (
                        StatusCode::OK,
                        Json(json!({"data": [{"id": "c1"}, {"id": "c2"}], "total": 2})),
                    )
                }
            })
            .post(
                move |headers: HeaderMap, Json(body): Json<Value>| async move {
                    if !authorized(&headers) {
                        return (StatusCode::UNAUTHORIZED, Json(json!({})));
                    }
                    (
                        StatusCode::CREATED,
                        Json(
                            json!({"id": format!("new-{}", body["email"].as_str().unwrap_or(""))}),
                        ),
                    )
                },
            ),
        )
        .route(
            "/api/health",
            get(move |headers: HeaderMap| async move {
                if authorized(&headers) {
                    StatusCode::OK
                } else {
                    StatusCode::UNAUTHORIZED
                }
            }),
        );
    (floh_e2e::upstream(router).await, seen)
}

/// The spec's definition, named `name` and pointed at `base_url`.
pub fn definition(name: &str, base_url: &str) -> Value {
    let mut definition: Value = serde_json::from_str(FIXTURE).expect("fixture is JSON");
    definition["name"] = json!(name);
    definition["config"] = json!({ "baseUrl": base_url, "apiKey": API_KEY });
    definition
}

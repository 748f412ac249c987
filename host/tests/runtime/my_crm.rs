//! The spec's `my-crm` script connector, verbatim, against a real CRM stand-in.

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use serde_json::{Value, json};

use crate::support::{Upstream, engine, open_context, run};

/// The spec's script ("Creating Script Connectors", step 2), verbatim, from
/// the definition the README's tour uses.
fn my_crm_script() -> String {
    let fixture: Value = serde_json::from_str(include_str!("../../../tests/fixtures/my-crm.json"))
        .expect("fixture is JSON");
    fixture["scriptSource"]
        .as_str()
        .expect("scriptSource")
        .to_string()
}

const API_KEY: &str = "sk-crm-7f3a9c";

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {API_KEY}"))
}

async fn crm() -> Upstream {
    let router = axum::Router::new()
        .route(
            "/api/contacts",
            get(|headers: HeaderMap| async move {
                if !authorized(&headers) {
                    return (StatusCode::UNAUTHORIZED, Json(json!({"error": "bad key"})));
                }
                let contacts = json!([{"id": "c1", "email": "ada@example.com"}, {"id": "c2", "email": "alan@example.com"}]);
                (StatusCode::OK, Json(json!({"data": contacts, "total": 42})))
            })
            .post(|headers: HeaderMap, Json(body): Json<Value>| async move {
                if !authorized(&headers) {
                    return (StatusCode::UNAUTHORIZED, Json(json!({})));
                }
                let id = format!("id-{}", body["email"].as_str().unwrap_or("?"));
                (StatusCode::CREATED, Json(json!({"id": id})))
            }),
        )
        .route(
            "/api/health",
            get(|headers: HeaderMap| async move {
                if authorized(&headers) { StatusCode::OK } else { StatusCode::UNAUTHORIZED }
            }),
        );
    Upstream::start(router).await
}

fn config(upstream: &Upstream, api_key: &str) -> Value {
    json!({"baseUrl": format!("{}", upstream.url()), "apiKey": api_key})
}

#[tokio::test]
async fn list_contacts_applies_the_params_defaults_and_parses_json() {
    let upstream = crm().await;
    let engine = engine();
    let context = open_context(config(&upstream, API_KEY), &[API_KEY]);
    let execution = run(
        &engine,
        &my_crm_script(),
        "listContacts",
        json!({}),
        &context,
    )
    .await;
    let result = execution.outcome.expect("listContacts succeeds");
    assert!(result.success, "{result:?}");
    let data = result.data.expect("data");
    assert_eq!(data["total"], 42);
    assert_eq!(data["contacts"][1]["email"], "alan@example.com");
    let seen = upstream.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].query.as_deref(), Some("limit=50&offset=0"));
    assert_eq!(
        seen[0].headers["authorization"],
        format!("Bearer {API_KEY}").as_str()
    );
    assert_eq!(execution.http_calls.len(), 1);
    assert_eq!(execution.http_calls[0].status, Some(200));
}

#[tokio::test]
async fn list_contacts_passes_explicit_params_in_the_query_string() {
    let upstream = crm().await;
    let engine = engine();
    let context = open_context(config(&upstream, API_KEY), &[API_KEY]);
    let execution = run(
        &engine,
        &my_crm_script(),
        "listContacts",
        json!({"limit": 5, "offset": 10}),
        &context,
    )
    .await;
    assert!(execution.outcome.expect("ok").success);
    assert_eq!(
        upstream.seen()[0].query.as_deref(),
        Some("limit=5&offset=10")
    );
}

#[tokio::test]
async fn create_contact_posts_a_json_body_with_a_json_content_type() {
    let upstream = crm().await;
    let engine = engine();
    let context = open_context(config(&upstream, API_KEY), &[API_KEY]);
    let params = json!({"email": "grace@example.com", "firstName": "Grace", "lastName": "Hopper"});
    let execution = run(&engine, &my_crm_script(), "createContact", params, &context).await;
    let result = execution.outcome.expect("createContact succeeds");
    assert_eq!(
        result.data,
        Some(json!({"contactId": "id-grace@example.com"}))
    );
    let seen = &upstream.seen()[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.headers["content-type"], "application/json");
    let body: Value = serde_json::from_slice(&seen.body).expect("JSON body");
    assert_eq!(
        body,
        json!({"email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper"})
    );
}

#[tokio::test]
async fn test_command_reports_connectivity_and_a_rejected_key() {
    let upstream = crm().await;
    let engine = engine();
    let good = open_context(config(&upstream, API_KEY), &[API_KEY]);
    let result = run(&engine, &my_crm_script(), "test", json!({}), &good)
        .await
        .outcome
        .expect("ok");
    assert!(result.success);
    let bad = open_context(config(&upstream, "wrong"), &["wrong"]);
    let result = run(&engine, &my_crm_script(), "test", json!({}), &bad)
        .await
        .outcome
        .expect("ok");
    assert!(!result.success);
    let result = run(&engine, &my_crm_script(), "listContacts", json!({}), &bad)
        .await
        .outcome
        .expect("ok");
    assert_eq!(result.error.as_deref(), Some("API returned 401"));
}

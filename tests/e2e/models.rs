//! Each execution model end to end: script (see lifecycle), built-in `http`
//! and external.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use floh_e2e::Server;
use serde_json::{Value, json};

#[tokio::test]
async fn a_built_in_http_instance_calls_its_api_with_its_auth() {
    let upstream = floh_e2e::upstream(axum::Router::new().route(
        "/v1/items",
        get(|headers: HeaderMap, uri: axum::http::Uri| async move {
            if headers.get("authorization").and_then(|v| v.to_str().ok())
                != Some("Bearer tok-e2e-77")
            {
                return (StatusCode::UNAUTHORIZED, Json(json!({"error": "no"})));
            }
            (
                StatusCode::OK,
                Json(json!({"query": uri.query(), "items": [1, 2, 3]})),
            )
        }),
    ))
    .await;
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let api = server.admin();
    let (status, types) = api.get("/api/connector-types").await;
    assert_eq!(status, 200);
    let http_type = types
        .as_array()
        .expect("types")
        .iter()
        .find(|t| t["name"] == "http")
        .cloned()
        .expect("http type");
    assert!(
        http_type["configSchema"]["commands"]["request"].is_object(),
        "{http_type}"
    );

    let definition = json!({
        "name": "items-api",
        "type": "http",
        "executionModel": "built_in",
        "config": {"baseUrl": upstream, "authType": "bearer", "bearerToken": "tok-e2e-77"}
    });
    let (status, created) = api.post("/api/connectors", definition).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["config"]["bearerToken"], "***");
    assert!(
        created["configSchema"]["connectionConfig"]["baseUrl"].is_object(),
        "{created}"
    );

    let request = json!({"command": "request", "params": {"method": "GET", "path": "/v1/items", "query": {"page": 2}}});
    let (status, result) = api.post("/api/connectors/items-api/execute", request).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["success"], true, "{result}");
    assert_eq!(result["data"]["status"], 200);
    assert_eq!(result["data"]["body"]["items"], json!([1, 2, 3]));
    assert_eq!(result["data"]["body"]["query"], "page=2");
}

#[tokio::test]
async fn an_external_connector_receives_the_spec_request_and_its_answer_comes_back() {
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let record = received.clone();
    let service = axum::Router::new()
        .route(
            "/execute",
            post(move |Json(body): Json<Value>| {
                let record = record.clone();
                async move {
                    record.lock().expect("lock").push(body.clone());
                    Json(json!({"success": true, "data": {"users": [body["params"]["limit"]]}, "outputVariables": {"count": 1}}))
                }
            }),
        )
        .route(
            "/schema",
            get(|| async {
                Json(json!({"commands": {"listUsers": {"params": ["limit"], "paramSchema": {"limit": {"type": "number", "default": 50}}}}}))
            }),
        )
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }));
    let endpoint = floh_e2e::upstream(service).await;
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let api = server.admin();
    let definition = json!({
        "name": "my-external-service",
        "type": "my-external-service",
        "executionModel": "external",
        "endpointUrl": endpoint,
        "version": "1.0.0",
        "config": {"apiKey": "ext-key"}
    });
    let (status, created) = api.post("/api/connectors", definition).await;
    assert_eq!(status, 201, "{created}");
    assert!(
        created["configSchema"]["commands"]["listUsers"].is_object(),
        "/schema was not used: {created}"
    );

    let request = json!({"command": "listUsers", "variables": {"project_id": "proj-1"}, "metadata": {"stepId": "step-1", "runId": "run-123", "timeout": 30000}});
    let (status, result) = api
        .post("/api/connectors/my-external-service/execute", request)
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["success"], true, "{result}");
    assert_eq!(result["data"], json!({"users": [50]}));
    assert_eq!(result["outputVariables"], json!({"count": 1}));
    let sent = received
        .lock()
        .expect("lock")
        .last()
        .cloned()
        .expect("a request reached the service");
    assert_eq!(sent["command"], "listUsers");
    assert_eq!(sent["config"], json!({"apiKey": "ext-key"}));
    assert_eq!(sent["params"], json!({"limit": 50}));
    assert_eq!(sent["variables"], json!({"project_id": "proj-1"}));
    assert_eq!(sent["metadata"]["stepId"], "step-1");
    assert_eq!(sent["metadata"]["runId"], "run-123");
    assert_eq!(sent["metadata"]["timeout"], 30000);

    let (status, tested) = api
        .post("/api/connectors/my-external-service/test", json!({}))
        .await;
    assert_eq!(
        (status, &tested["success"]),
        (200, &json!(true)),
        "{tested}"
    );
}

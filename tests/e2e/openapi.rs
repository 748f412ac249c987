//! OpenAPI import through the API and the CLI: spec → draft → connector →
//! executions against a real server.

use std::process::Command;

use axum::http::HeaderMap;
use axum::routing::get;
use floh_e2e::{ADMIN_TOKEN, Server, floh_binary};
use serde_json::json;

fn spec_yaml(base: &str) -> String {
    format!(
        r#"openapi: 3.0.3
info:
  title: Inventory API
  version: 2.1.0
  description: Items in stock.
servers:
  - url: {base}/v2
components:
  securitySchemes:
    token:
      type: http
      scheme: bearer
security:
  - token: []
paths:
  /items:
    get:
      operationId: list_items
      summary: List items
      parameters:
        - name: category
          in: query
          schema:
            type: string
            enum: [tools, food]
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties:
                  items: {{ type: array }}
    trace:
      responses:
        "200": {{ description: ok }}
"#
    )
}

async fn inventory() -> String {
    floh_e2e::upstream(axum::Router::new().route(
        "/v2/items",
        get(|headers: HeaderMap, uri: axum::http::Uri| async move {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            axum::Json(json!({"items": [uri.query()], "auth": auth}))
        }),
    ))
    .await
}

#[tokio::test]
async fn a_yaml_spec_becomes_a_working_connector() {
    let base = inventory().await;
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let api = server.admin();
    let (status, draft) = api
        .post(
            "/api/connectors/parse-oas",
            json!({"spec": spec_yaml(&base)}),
        )
        .await;
    assert_eq!(status, 200, "{draft}");
    assert_eq!(draft["specVersion"], "3.0");
    assert_eq!(draft["definition"]["name"], "inventory-api");
    assert_eq!(draft["skipped"][0]["operation"], "TRACE /items");
    let commands = &draft["definition"]["configSchema"]["commands"];
    assert_eq!(
        commands["listItems"]["paramSchema"]["category"]["enum"],
        json!(["tools", "food"])
    );
    assert_eq!(commands["listItems"]["outputs"], json!(["items"]));

    let mut definition = draft["definition"].clone();
    definition["config"] = json!({"baseUrl": format!("{base}/v2"), "bearerToken": "tok-inv"});
    let (status, created) = api.post("/api/connectors", definition).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["config"]["bearerToken"], "***");
    let (_, listed) = api.get("/api/connectors").await;
    assert!(
        listed[0].get("openapiSpec").is_none(),
        "listings carry no specs"
    );
    let (_, one) = api.get("/api/connectors/inventory-api").await;
    assert!(one["openapiSpec"].is_string(), "GET by id returns the spec");

    let request = json!({"command": "listItems", "params": {"category": "tools"}});
    let (status, result) = api
        .post("/api/connectors/inventory-api/execute", request)
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["success"], true, "{result}");
    assert_eq!(
        result["data"],
        json!({"items": ["category=tools"], "auth": "Bearer tok-inv"})
    );
    let bad = json!({"command": "listItems", "params": {"category": "toys"}});
    assert_eq!(
        api.post("/api/connectors/inventory-api/execute", bad)
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn broken_specs_are_refused_with_reasons() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let api = server.admin();
    let cases = [
        (json!({"spec": "openapi: [broken"}), "unreadable"),
        (json!({"spec": {"openapi": "4.0.0"}}), "unsupported"),
        (
            json!({"spec": {"openapi": "3.0.0", "info": {"title": "x", "version": "1"}, "paths": {"/a": {"$ref": "other.yaml#/paths/a"}}}}),
            "",
        ),
    ];
    for (body, mentions) in cases {
        let (status, answer) = api.post("/api/connectors/parse-oas", body).await;
        if mentions.is_empty() {
            // A path that refers elsewhere is skipped, with the reason.
            assert_eq!(status, 200, "{answer}");
            assert!(
                answer["skipped"][0]["reason"]
                    .as_str()
                    .unwrap_or("")
                    .contains("another document"),
                "{answer}"
            );
        } else {
            assert_eq!(status, 400, "{answer}");
            assert_eq!(answer["error"]["code"], "INVALID_SPEC");
            assert!(
                answer["error"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains(mentions),
                "{answer}"
            );
        }
    }
}

#[tokio::test]
async fn the_cli_imports_and_creates_from_a_spec_file() {
    let base = inventory().await;
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let spec = data.path().join("inventory.yaml");
    std::fs::write(&spec, spec_yaml(&base)).expect("spec file");
    let url = server.url.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(floh_binary())
            .args(["connector", "import-openapi"])
            .arg(&spec)
            .args(["--create", "--name", "stock"])
            .env("FLOH_SERVER", url)
            .env("FLOH_TOKEN", ADMIN_TOKEN)
            .env("FLOH_OUTPUT", "json")
            .output()
            .expect("run floh")
    })
    .await
    .expect("cli");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON output");
    assert_eq!(printed["created"]["name"], "stock");
    let (status, _) = server.admin().get("/api/connectors/stock").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_new_spec_regenerates_the_connector_and_keeps_its_config() {
    let base = floh_e2e::upstream(
        axum::Router::new()
            .route(
                "/v2/items",
                get(|| async { axum::Json(json!({"items": []})) }),
            )
            .route(
                "/v2/stats",
                get(|headers: HeaderMap| async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    axum::Json(json!({"count": 3, "auth": auth}))
                }),
            ),
    )
    .await;
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let api = server.admin();
    let (_, draft) = api
        .post(
            "/api/connectors/parse-oas",
            json!({"spec": spec_yaml(&base)}),
        )
        .await;
    assert_eq!(draft["definition"]["executionModel"], "oas");
    let mut definition = draft["definition"].clone();
    definition["config"] = json!({"baseUrl": format!("{base}/v2"), "bearerToken": "tok-kept"});
    assert_eq!(api.post("/api/connectors", definition).await.0, 201);

    let updated_spec = spec_yaml(&base).replace(
        "  /items:\n",
        "  /stats:\n    get:\n      operationId: getStats\n      responses:\n        \"200\": { description: ok }\n  /items:\n",
    );
    let (status, updated) = api
        .put(
            "/api/connectors/inventory-api",
            json!({"openapiSpec": updated_spec}),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert!(
        updated["configSchema"]["commands"]["getStats"].is_object(),
        "{updated}"
    );
    assert_eq!(updated["config"]["bearerToken"], "***");
    let (status, result) = api
        .post(
            "/api/connectors/inventory-api/execute",
            json!({"command": "getStats"}),
        )
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(
        result["data"],
        json!({"count": 3, "auth": "Bearer tok-kept"})
    );
}

#[tokio::test]
async fn relative_servers_resolve_against_a_given_base_url() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let api = server.admin();
    let spec = json!({"openapi": "3.0.3", "info": {"title": "Rel", "version": "1"}, "servers": [{"url": "/api/v3"}], "paths": {}});
    let (status, draft) = api
        .post(
            "/api/connectors/parse-oas",
            json!({"spec": spec.clone(), "baseUrl": "https://pets.example.com"}),
        )
        .await;
    assert_eq!(status, 200, "{draft}");
    assert_eq!(
        draft["definition"]["configSchema"]["connectionConfig"]["baseUrl"]["default"],
        "https://pets.example.com/api/v3"
    );
    let (status, refused) = api
        .post(
            "/api/connectors/parse-oas",
            json!({"spec": spec, "baseUrl": "pets.example.com"}),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
}

//! The largest real API descriptions, end to end: parse-oas → create →
//! execute through the API and the CLI, with the spec stored once and kept
//! out of listings. GitHub's description comes from npm (`just e2e-deps`);
//! a 20 MB spec is generated here, deterministically.

use std::path::PathBuf;

use axum::http::{HeaderMap, Uri};
use floh_e2e::{Server, floh_cli};
use serde_json::{Value, json};

/// GitHub's REST description (`@octokit/openapi`), or `None` with a note
/// when it is not installed and the environment does not require it.
fn github_description() -> Option<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("node_modules/@octokit/openapi/generated/api.github.com.json");
    if let Ok(text) = std::fs::read_to_string(&path) {
        return Some(text);
    }
    let message = "@octokit/openapi is not installed: run `just e2e-deps`";
    assert!(
        std::env::var_os("FLOH_REQUIRE_NPM_TESTS").is_none(),
        "{message}"
    );
    eprintln!("skipping: {message}");
    None
}

/// An upstream that answers every request with what it received.
async fn echo_upstream() -> String {
    floh_e2e::upstream(axum::Router::new().fallback(
        |method: axum::http::Method, uri: Uri, headers: HeaderMap| async move {
            let accept = headers
                .get("accept")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            axum::Json(json!({
                "method": method.as_str(),
                "path": uri.path(),
                "query": uri.query(),
                "accept": accept,
            }))
        },
    ))
    .await
}

#[tokio::test]
async fn githubs_description_is_created_through_the_api_and_executes() {
    let Some(text) = github_description() else {
        return;
    };
    let base = echo_upstream().await;
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let api = server.admin();
    let (status, draft) = api
        .post("/api/connectors/parse-oas", json!({ "spec": text }))
        .await;
    assert_eq!(status, 200, "{}", short(&draft));
    let commands = draft["definition"]["configSchema"]["commands"]
        .as_object()
        .map_or(0, |c| c.len());
    assert!(
        commands > 1_000,
        "GitHub has over 1,000 operations: {commands}"
    );

    // The draft, unchanged but for the config, is what create accepts.
    let mut definition = draft["definition"].clone();
    definition["config"] = json!({ "baseUrl": base });
    let (status, created) = api.post("/api/connectors", definition).await;
    assert_eq!(status, 201, "{}", short(&created));
    assert!(created.get("openapiSpec").is_none(), "not echoed back");
    let name = created["name"].as_str().expect("name").to_string();

    let request = json!({
        "command": "issuesGet",
        "params": {"owner": "octo org", "repo": "hello", "issue_number": 42}
    });
    let (status, result) = api
        .post(&format!("/api/connectors/{name}/execute"), request)
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["success"], true, "{result}");
    assert_eq!(result["data"]["method"], "GET");
    assert_eq!(result["data"]["path"], "/repos/octo%20org/hello/issues/42");

    let (_, listed) = api.get("/api/connectors").await;
    assert!(
        listed[0].get("openapiSpec").is_none(),
        "listings carry no specs"
    );
    let (status, one) = api.get(&format!("/api/connectors/{name}")).await;
    assert_eq!(status, 200);
    assert_eq!(one["openapiSpec"].as_str().map(str::len), Some(text.len()));
}

/// A spec of about 15 KB per operation: `operations` resources, each with a GET and a
/// POST whose body is a schema of 40 documented properties (large
/// descriptions are mostly schemas, as Microsoft Graph's is).
fn generated_spec(operations: usize) -> Value {
    let filler = "A property of the generated resource, described at length as real API \
                  descriptions are: what it holds, when it is set, and how it relates to others.";
    let mut paths = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    for i in 0..operations {
        let properties: serde_json::Map<String, Value> = (0..40)
            .map(|j| {
                let kind = ["string", "integer", "boolean", "number"][j % 4];
                (
                    format!("field{j}"),
                    json!({"type": kind, "description": format!("Field {j} of resource {i}. {filler} {filler}")}),
                )
            })
            .collect();
        schemas.insert(
            format!("Resource{i}"),
            json!({"type": "object", "description": format!("Resource {i}. {filler}"), "properties": properties}),
        );
        let reference = json!({"$ref": format!("#/components/schemas/Resource{i}")});
        paths.insert(
            format!("/resources{i}/{{id}}"),
            json!({
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "get": {
                    "operationId": format!("getResource{i}"),
                    "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": reference}}}}
                },
                "post": {
                    "operationId": format!("updateResource{i}"),
                    "requestBody": {"content": {"application/json": {"schema": reference}}},
                    "responses": {"200": {"description": "ok"}}
                }
            }),
        );
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Generated Large API", "version": "1.0.0"},
        "servers": [{"url": "https://large.example.com/v1"}],
        "paths": paths,
        "components": {"schemas": schemas}
    })
}

#[tokio::test]
async fn a_connector_is_created_from_a_20_mb_spec() {
    let spec = generated_spec(1_350);
    let text = spec.to_string();
    assert!(text.len() >= 20_000_000, "{} bytes", text.len());
    let base = echo_upstream().await;
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let api = server.admin();
    let (status, draft) = api
        .post("/api/connectors/parse-oas", json!({ "spec": spec }))
        .await;
    assert_eq!(status, 200, "{}", short(&draft));
    let mut definition = draft["definition"].clone();
    definition["config"] = json!({ "baseUrl": base });
    let (status, created) = api.post("/api/connectors", definition.clone()).await;
    assert_eq!(status, 201, "{}", short(&created));

    let request = json!({"command": "getResource1349", "params": {"id": "x/1"}});
    let (status, result) = api
        .post("/api/connectors/generated-large-api/execute", request)
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["data"]["path"], "/resources1349/x%2F1", "{result}");

    // The same spec under a second name is stored once; both read it back.
    definition["name"] = json!("second");
    assert_eq!(api.post("/api/connectors", definition).await.0, 201);
    for name in ["generated-large-api", "second"] {
        let (status, one) = api.get(&format!("/api/connectors/{name}")).await;
        assert_eq!(status, 200);
        assert_eq!(one["openapiSpec"], spec, "{name}");
    }
    let (status, listed) = api.get("/api/connectors").await;
    assert_eq!(status, 200);
    assert!(listed.as_array().is_some_and(|l| l.len() == 2));
    assert!(listed.to_string().len() < 4_000_000, "listings stay light");

    // A changed selection regenerates from the stored spec.
    let (status, updated) = api
        .put(
            "/api/connectors/second",
            json!({"openapiSelect": {"operationIds": ["getResource7"]}}),
        )
        .await;
    assert_eq!(status, 200, "{}", short(&updated));
    let commands: Vec<&String> = updated["configSchema"]["commands"]
        .as_object()
        .expect("commands")
        .keys()
        .collect();
    assert_eq!(commands, ["getResource7", "test"]);
}

#[tokio::test]
async fn the_cli_imports_and_creates_a_large_spec() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let file = data.path().join("large.json");
    std::fs::write(&file, generated_spec(600).to_string()).expect("spec file");
    let file = file.to_string_lossy().to_string();
    let (server, (ok, printed, stderr)) = tokio::task::spawn_blocking(move || {
        let args = [
            "connector",
            "import-openapi",
            &file,
            "--create",
            "--name",
            "large",
        ];
        let outcome = floh_cli(&server, &args);
        (server, outcome)
    })
    .await
    .expect("cli");
    assert!(ok, "{stderr}");
    assert_eq!(printed["created"]["name"], "large", "{}", short(&printed));
    let (status, one) = server.admin().get("/api/connectors/large").await;
    assert_eq!(status, 200);
    assert!(
        one["openapiSpec"]
            .as_str()
            .is_some_and(|s| s.len() > 8_000_000)
    );
}

#[tokio::test]
async fn only_oas_definitions_may_be_large() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let api = server.admin();
    let padding = "x".repeat(5 * 1024 * 1024);
    let script = json!({
        "name": "big-script", "executionModel": "script",
        "scriptSource": "function ping() { return { success: true }; }",
        "description": padding,
    });
    let (status, answer) = api.post("/api/connectors", script).await;
    assert_eq!(status, 413, "{}", short(&answer));
    assert_eq!(answer["error"]["code"], "DEFINITION_TOO_LARGE");
    let misplaced = json!({
        "name": "script-with-spec", "executionModel": "script",
        "scriptSource": "function ping() { return { success: true }; }",
        "openapiSpec": {"openapi": "3.0.0"},
    });
    let (status, answer) = api.post("/api/connectors", misplaced).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("oas")
    );
}

/// An answer cut short for assertion messages (drafts are megabytes).
fn short(value: &Value) -> String {
    let text = value.to_string();
    text[..text.floor_char_boundary(2_000)].to_string()
}

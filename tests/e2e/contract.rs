//! The API document is the API: Schemathesis (a property-based API tester)
//! reads the real server's `/api/openapi.json` and sends it requests built
//! from it (the documented examples, coverage of each constraint's edges,
//! random valid and invalid data, and stateful sequences that follow the
//! document's links from a created connector to its `/{id}` operations),
//! with every check: no server errors, only documented statuses, content
//! types, headers and response bodies, valid data accepted, invalid data
//! rejected, auth enforced, deleted resources gone. Needs the pinned
//! Schemathesis that `just contract-deps` installs into `tests/.venv`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use floh_e2e::{ADMIN_TOKEN, Server, ServerSettings};
use serde_json::{Value, json};

/// Test cases per operation and phase: enough to reach every documented
/// status, small enough to keep the run near a minute on two cores.
const MAX_EXAMPLES: &str = "100";

/// A fixed seed: a failure reproduces, and CI runs the same cases.
const SEED: &str = "20261201";

fn tests_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `st` command, or `None` (with a note) when Schemathesis is not
/// installed and the environment does not require it (CI sets
/// FLOH_REQUIRE_NPM_TESTS).
fn schemathesis() -> Option<PathBuf> {
    let st = tests_dir().join(".venv/bin/st");
    if st.exists() {
        return Some(st);
    }
    let message = "Schemathesis is not installed: run `just contract-deps` (a venv in tests/.venv)";
    assert!(
        std::env::var_os("FLOH_REQUIRE_NPM_TESTS").is_none(),
        "{message}"
    );
    eprintln!("skipping: {message}");
    None
}

#[tokio::test]
async fn schemathesis_finds_no_difference_between_the_document_and_the_server() {
    let Some(st) = schemathesis() else { return };
    let data = tempfile::tempdir().expect("data dir");
    // Private destinations refused: generated external connectors must not
    // reach the test machine's services.
    let settings = ServerSettings {
        default_egress: true,
        ..ServerSettings::default()
    };
    let server = Server::start_with(data.path(), settings).expect("server starts");
    let report = data.path().join("schemathesis-report");
    let started = Instant::now();
    let output = tokio::task::spawn_blocking({
        let url = server.url.clone();
        let report = report.clone();
        move || {
            Command::new(st)
                .current_dir(tests_dir())
                .arg("--config-file")
                .arg(tests_dir().join("schemathesis.toml"))
                .arg("run")
                .arg(format!("{url}/api/openapi.json"))
                .args(["--checks", "all"])
                .args(["--phases", "examples,coverage,fuzzing,stateful"])
                .args(["--max-examples", MAX_EXAMPLES])
                .args(["--seed", SEED])
                // One worker: Hypothesis's lambda-source cache is not thread-safe
                // (a KeyError reported as a flaky failure with two workers).
                .args(["--workers", "1"])
                .args(["--header", &format!("Authorization: Bearer {ADMIN_TOKEN}")])
                .args(["--report", "junit"])
                .arg("--report-dir")
                .arg(&report)
                .env("NO_COLOR", "1")
                .output()
                .expect("run schemathesis")
        }
    })
    .await
    .expect("schemathesis thread");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!(
        "schemathesis took {:.1} s\n{printed}",
        started.elapsed().as_secs_f64()
    );
    assert!(
        output.status.success(),
        "schemathesis found failures (see above; reproduce with `just contract`)"
    );
    assert!(
        !server.printed().contains("panicked"),
        "the server panicked:\n{}",
        server.printed()
    );
}

/// Every field name the API writes is camelCase (values such as
/// `built_in` or `VALIDATION_ERROR` are not field names). User-chosen keys
/// (configs, schemas, results) are skipped.
#[tokio::test]
async fn every_field_the_api_returns_is_camel_case() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let api = server.admin();
    let script = "function test() { floh.log.info('hello'); return { success: true, data: { any_key: 1 }, outputVariables: { out_var: 2 } }; }";
    let (status, connector) = api
        .post(
            "/api/connectors",
            json!({"name": "snake-check", "executionModel": "script", "scriptSource": script,
                "configSchema": {"connectionConfig": {"api_key": {"type": "string", "secret": true}},
                    "commands": {"test": {"params": []}}},
                "config": {"api_key": "k"}}),
        )
        .await;
    assert_eq!(status, 201, "{connector}");
    let (status, executed) = api
        .post("/api/connectors/snake-check/test", json!(null))
        .await;
    assert_eq!(status, 200, "{executed}");
    assert_eq!(executed["logs"][0]["message"], "hello", "{executed}");
    assert!(executed["logs"][0]["atMs"].is_u64(), "{executed}");
    let (_, history) = api.get("/api/connectors/snake-check/executions").await;
    let (_, token) = api
        .post("/api/tokens", json!({"name": "reader", "role": "executor"}))
        .await;
    let (_, agent_token) = api
        .post(
            "/api/agents/tokens",
            json!({"name": "site", "expiresInSeconds": 60}),
        )
        .await;
    let (_, agent_tokens) = api.get("/api/agents/tokens").await;
    let (_, types) = api.get("/api/connector-types").await;
    let (_, plugins) = api.get("/api/plugins").await;
    let (_, check) = api
        .post(
            "/api/connectors/check-script",
            json!({"scriptSource": "function a( {", "commands": ["a"]}),
        )
        .await;
    let (_, health) = floh_e2e::Api::new(&server.url, None)
        .get("/api/health")
        .await;
    let (_, error) = api.get("/api/connectors/none-such").await;
    let (_, draft) = api
        .post(
            "/api/connectors/parse-oas",
            json!({"spec": {"openapi": "3.0.0", "info": {"title": "t", "version": "1"},
                "servers": [{"url": "https://api.example.com"}],
                "paths": {"/things": {"get": {"operationId": "listThings", "responses": {"200": {"description": "ok"}}}}}}}),
        )
        .await;
    let answers = [
        ("connector", connector),
        ("execution", executed),
        ("history", history),
        ("token", token),
        ("agent token", agent_token),
        ("agent tokens", agent_tokens),
        ("types", types),
        ("plugins", plugins),
        ("check", check),
        ("health", health),
        ("error", error),
        ("draft", draft),
    ];
    for (what, answer) in answers {
        let mut snake = Vec::new();
        snake_case_keys(&answer, "", &mut snake);
        assert!(
            snake.is_empty(),
            "{what}: snake_case fields {snake:?} in {answer}"
        );
    }
}

/// Keys containing `_`, except below keys whose children users name.
fn snake_case_keys(value: &Value, at: &str, found: &mut Vec<String>) {
    const USER_KEYED: &[&str] = &[
        "config",
        "connectionConfig",
        "commands",
        "paramSchema",
        "data",
        "outputVariables",
        "openapiSpec",
        "default",
    ];
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = format!("{at}/{key}");
                if key.contains('_') {
                    found.push(path.clone());
                }
                if !USER_KEYED.contains(&key.as_str()) {
                    snake_case_keys(child, &path, found);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                snake_case_keys(item, at, found);
            }
        }
        _ => {}
    }
}

/// The document without Schemathesis: every route, the statuses the shared
/// layers answer with, and the links stateful clients follow.
#[tokio::test]
async fn the_document_has_every_route_its_errors_and_links() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let (status, document) = floh_e2e::Api::new(&server.url, None)
        .get("/api/openapi.json")
        .await;
    assert_eq!(status, 200);
    assert_eq!(document["openapi"], "3.1.0");
    let operations = [
        ("/api/connectors", "get"),
        ("/api/connectors", "post"),
        ("/api/connectors/{id}", "get"),
        ("/api/connectors/{id}", "put"),
        ("/api/connectors/{id}", "delete"),
        ("/api/connectors/parse-oas", "post"),
        ("/api/connectors/check-script", "post"),
        ("/api/connectors/script-template", "post"),
        ("/api/connectors/probe-external", "post"),
        ("/api/connectors/{id}/reimport-preview", "post"),
        ("/api/connectors/{id}/execute", "post"),
        ("/api/connectors/{id}/test", "post"),
        ("/api/connectors/{id}/executions", "get"),
        ("/api/connector-types", "get"),
        ("/api/plugins", "get"),
        ("/api/tokens", "post"),
        ("/api/tokens", "get"),
        ("/api/tokens/{tokenId}", "delete"),
        ("/api/executions", "get"),
        ("/api/activity", "get"),
        ("/api/connectors/{id}/executions/{executionId}", "get"),
        ("/api/agents/tokens", "get"),
        ("/api/agents/tokens", "post"),
        ("/api/agents/tokens/{id}", "delete"),
        ("/api/agents", "get"),
        ("/api/agents/{id}", "delete"),
        ("/api/connectors/agents/ws", "get"),
        ("/api/connectors/{id}/oauth/authorize", "post"),
        ("/api/connectors/{id}/oauth", "delete"),
        ("/api/oauth/callback", "get"),
        ("/api/keys", "get"),
        ("/api/keys/rotate", "post"),
        ("/api/keys/{version}", "delete"),
        ("/api/backup", "post"),
        ("/api/health", "get"),
        ("/api/openapi.json", "get"),
        ("/metrics", "get"),
    ];
    for (path, method) in operations {
        let operation = &document["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} is not documented");
        let responses = &operation["responses"];
        let secured = operation["security"]
            .as_array()
            .is_some_and(|s| !s.is_empty());
        let public = path.starts_with("/api/health")
            || path.starts_with("/api/openapi")
            || path.starts_with("/api/oauth/callback")
            || path.starts_with("/metrics")
            || path.ends_with("/ws");
        assert_eq!(secured, !public, "{method} {path}: security");
        if secured {
            assert!(responses["401"].is_object(), "{method} {path}: 401");
        }
        if operation["requestBody"].is_object() {
            for status in ["400", "413", "415", "422"] {
                assert_eq!(
                    responses[status]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/Error",
                    "{method} {path}: {status}"
                );
            }
        }
    }
    let paths = document["paths"].as_object().expect("paths");
    let documented: usize = paths
        .values()
        .map(|item| item.as_object().map_or(0, |m| m.len()))
        .sum();
    assert_eq!(
        documented,
        operations.len(),
        "undocumented or unexpected operations"
    );
    // Only writes are forbidden to executor tokens.
    assert!(document["paths"]["/api/connectors"]["post"]["responses"]["403"].is_object());
    assert!(
        document["paths"]["/api/connectors/{id}/execute"]["post"]["responses"]["403"].is_null()
    );
    // The definition's schema states what the server enforces.
    let definition = &document["components"]["schemas"]["ConnectorDefinition"];
    assert_eq!(definition["additionalProperties"], false, "{definition}");
    assert_eq!(definition["properties"]["name"]["maxLength"], 100);
    assert!(definition["properties"]["name"]["pattern"].is_string());
    let links = &document["paths"]["/api/connectors"]["post"]["responses"]["201"]["links"];
    assert_eq!(
        links["getConnector"]["parameters"]["id"], "$response.body#/id",
        "{links}"
    );
}

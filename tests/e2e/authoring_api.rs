//! The authoring endpoints the web UI's wizard and import pages rely on,
//! through the API: a script template for declared commands, probing a real
//! external service for `/schema` and `/health`, and previewing what a
//! re-import of an OpenAPI description would change.

use axum::Json;
use axum::routing::get;
use floh_e2e::{Api, Server, ServerSettings, assert_error};
use serde_json::{Value, json};

async fn executor(api: &Api, url: &str) -> Api {
    let (status, issued) = api
        .post("/api/tokens", json!({"name": "runner", "role": "executor"}))
        .await;
    assert_eq!(status, 201, "{issued}");
    Api::new(url, issued["token"].as_str())
}

#[tokio::test]
async fn a_script_template_defines_the_declared_commands_and_compiles() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let api = server.admin();
    let schema = json!({
        "connectionConfig": {
            "baseUrl": {"type": "string", "required": true},
            "apiKey": {"type": "string", "required": true, "secret": true}
        },
        "commands": {
            "listContacts": {"params": ["limit"], "outputs": ["contacts", "total"],
                "paramSchema": {"limit": {"type": "number", "default": 50}}},
            "create-contact": {"params": ["email"]}
        }
    });
    let (status, template) = api
        .post(
            "/api/connectors/script-template",
            json!({"name": "my-crm", "configSchema": schema}),
        )
        .await;
    assert_eq!(status, 200, "{template}");
    let script = template["scriptSource"].as_str().expect("scriptSource");
    assert!(script.contains("// my-crm"), "{script}");
    assert!(script.contains("function listContacts(params)"), "{script}");
    assert!(
        script.contains("globalThis[\"create-contact\"]"),
        "{script}"
    );
    assert!(script.contains("floh.config.baseUrl"), "{script}");

    // The host's own compiler accepts it and finds every command defined.
    let (status, check) = api
        .post(
            "/api/connectors/check-script",
            json!({"scriptSource": script, "commands": ["listContacts", "create-contact"]}),
        )
        .await;
    assert_eq!(status, 200, "{check}");
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["diagnostics"], json!([]), "{check}");

    // And a connector created with it runs.
    let (status, created) = api
        .post(
            "/api/connectors",
            json!({"name": "my-crm", "executionModel": "script", "scriptSource": script,
                "configSchema": schema}),
        )
        .await;
    assert_eq!(status, 201, "{created}");

    assert_error(
        api.post(
            "/api/connectors/script-template",
            json!({"configSchema": {"commands": {"a": {"parameters": []}}}}),
        )
        .await,
        422,
        "INVALID_BODY",
        "parameters",
    );
    let executor = executor(&api, &server.url).await;
    assert_error(
        executor
            .post("/api/connectors/script-template", json!({}))
            .await,
        403,
        "FORBIDDEN",
        "executor",
    );
}

#[tokio::test]
async fn probing_an_external_service_reads_its_schema_and_health() {
    let service = axum::Router::new()
        .route(
            "/schema",
            get(|| async {
                Json(json!({"configSchema": {
                    "connectionConfig": {"apiKey": {"type": "string", "secret": true}},
                    "commands": {"listUsers": {"params": ["limit"], "outputs": ["users"]}}
                }}))
            }),
        )
        .route(
            "/health",
            get(|| async { Json(json!({"status": "ok", "version": "3.2.1"})) }),
        );
    let endpoint = floh_e2e::upstream(service).await;
    // Answers /schema only: no health endpoint.
    let schema_only = floh_e2e::upstream(axum::Router::new().route(
        "/schema",
        get(|| async { Json(json!({"commands": {"ping": {}}})) }),
    ))
    .await;
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let api = server.admin();

    let (status, probe) = api
        .post(
            "/api/connectors/probe-external",
            json!({"endpointUrl": endpoint}),
        )
        .await;
    assert_eq!(status, 200, "{probe}");
    assert_eq!(
        probe["schema"]["commands"]["listUsers"]["params"],
        json!(["limit"]),
        "{probe}"
    );
    assert_eq!(
        probe["schema"]["connectionConfig"]["apiKey"]["secret"], true,
        "{probe}"
    );
    assert_eq!(probe["health"]["success"], true, "{probe}");
    assert_eq!(probe["health"]["data"]["version"], "3.2.1", "{probe}");

    let (status, probe) = api
        .post(
            "/api/connectors/probe-external",
            json!({"endpointUrl": schema_only}),
        )
        .await;
    assert_eq!(status, 200, "{probe}");
    assert!(probe["schema"]["commands"]["ping"].is_object(), "{probe}");
    assert!(probe.get("health").is_none(), "no /health: {probe}");

    // Nothing listens: no schema, and a health result that says why.
    let (status, probe) = api
        .post(
            "/api/connectors/probe-external",
            json!({"endpointUrl": "http://127.0.0.1:9"}),
        )
        .await;
    assert_eq!(status, 200, "{probe}");
    assert!(probe.get("schema").is_none(), "{probe}");
    assert_eq!(probe["health"]["success"], false, "{probe}");
    assert!(
        probe["health"]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("/health")),
        "{probe}"
    );

    assert_error(
        api.post(
            "/api/connectors/probe-external",
            json!({"endpointUrl": "ftp://example.com"}),
        )
        .await,
        400,
        "VALIDATION_ERROR",
        "endpointUrl",
    );
    assert_error(
        api.post(
            "/api/connectors/probe-external",
            json!({"endpointUrl": endpoint, "allowedNetworks": ["not-a-network"]}),
        )
        .await,
        400,
        "VALIDATION_ERROR",
        "not-a-network",
    );
    assert_error(
        api.post("/api/connectors/probe-external", json!({})).await,
        422,
        "INVALID_BODY",
        "endpointUrl",
    );
    let executor = executor(&api, &server.url).await;
    assert_error(
        executor
            .post(
                "/api/connectors/probe-external",
                json!({"endpointUrl": endpoint}),
            )
            .await,
        403,
        "FORBIDDEN",
        "executor",
    );
}

#[tokio::test]
async fn a_probe_obeys_the_egress_policy_the_connector_would_have() {
    let endpoint = floh_e2e::upstream(axum::Router::new().route(
        "/schema",
        get(|| async { Json(json!({"commands": {"ping": {}}})) }),
    ))
    .await;
    let data = tempfile::tempdir().expect("data dir");
    let settings = ServerSettings {
        default_egress: true,
        ..ServerSettings::default()
    };
    let server = Server::start_with(data.path(), settings).expect("server starts");
    let api = server.admin();
    let (status, refused) = api
        .post(
            "/api/connectors/probe-external",
            json!({"endpointUrl": endpoint}),
        )
        .await;
    assert_eq!(status, 200, "{refused}");
    assert!(
        refused.get("schema").is_none(),
        "loopback is private: {refused}"
    );
    assert_eq!(refused["health"]["success"], false, "{refused}");
    let (status, allowed) = api
        .post(
            "/api/connectors/probe-external",
            json!({"endpointUrl": endpoint, "allowedNetworks": ["127.0.0.0/8"]}),
        )
        .await;
    assert_eq!(status, 200, "{allowed}");
    assert!(
        allowed["schema"]["commands"]["ping"].is_object(),
        "{allowed}"
    );
}

fn spec(version: &str, operations: Value) -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Inventory", "version": version},
        "servers": [{"url": "https://inventory.example.com"}],
        "paths": operations
    })
}

fn ok() -> Value {
    json!({"200": {"description": "ok"}})
}

#[tokio::test]
async fn a_reimport_preview_shows_added_removed_and_changed_commands() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let api = server.admin();
    let first = spec(
        "1.0.0",
        json!({
            "/items": {"get": {"operationId": "listItems", "responses": ok(),
                "parameters": [{"name": "page", "in": "query", "schema": {"type": "integer"}}]}},
            "/items/{id}": {
                "get": {"operationId": "getItem", "responses": ok(),
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]},
                "delete": {"operationId": "deleteItem", "responses": ok(),
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]}
            }
        }),
    );
    let (status, draft) = api
        .post("/api/connectors/parse-oas", json!({"spec": first}))
        .await;
    assert_eq!(status, 200, "{draft}");
    let mut definition = draft["definition"].clone();
    definition["name"] = json!("inventory");
    let (status, created) = api.post("/api/connectors", definition).await;
    assert_eq!(status, 201, "{created}");

    // listItems gains a parameter, deleteItem goes, createItem comes.
    let second = spec(
        "2.0.0",
        json!({
            "/items": {
                "get": {"operationId": "listItems", "responses": ok(),
                    "parameters": [{"name": "page", "in": "query", "schema": {"type": "integer"}},
                                   {"name": "size", "in": "query", "schema": {"type": "integer"}}]},
                "post": {"operationId": "createItem", "responses": ok()}
            },
            "/items/{id}": {"get": {"operationId": "getItem", "responses": ok(),
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]}}
        }),
    );
    let (status, preview) = api
        .post(
            "/api/connectors/inventory/reimport-preview",
            json!({"spec": second}),
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["added"], json!(["createItem"]), "{preview}");
    assert_eq!(preview["removed"], json!(["deleteItem"]), "{preview}");
    // Every OpenAPI connector answers `test` as well.
    assert_eq!(
        preview["unchanged"],
        json!(["getItem", "test"]),
        "{preview}"
    );
    assert_eq!(preview["changed"][0]["command"], "listItems", "{preview}");
    assert!(
        preview["changed"][0]["differences"][0]
            .as_str()
            .is_some_and(|d| d.contains("page, size")),
        "{preview}"
    );
    assert_eq!(preview["changed"].as_array().map(Vec::len), Some(1));
    assert!(
        preview["operations"]
            .as_array()
            .is_some_and(|o| o.len() == 3),
        "{preview}"
    );

    // A selection narrows it; YAML text works like an object.
    let yaml = "openapi: 3.0.3\ninfo: {title: Inventory, version: 3.0.0}\nservers: [{url: 'https://inventory.example.com'}]\npaths:\n  /items:\n    get: {operationId: listItems, responses: {'200': {description: ok}}}\n";
    let (status, preview) = api
        .post(
            "/api/connectors/inventory/reimport-preview",
            json!({"spec": yaml, "select": {"operationIds": ["listItems"]}}),
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        preview["removed"],
        json!(["deleteItem", "getItem"]),
        "{preview}"
    );
    assert_eq!(preview["select"]["operationIds"], json!(["listItems"]));

    // Nothing was replaced.
    let (_, stored) = api.get("/api/connectors/inventory").await;
    let commands = stored["configSchema"]["commands"]
        .as_object()
        .expect("commands");
    assert!(commands.contains_key("deleteItem") && !commands.contains_key("createItem"));

    assert_error(
        api.post(
            "/api/connectors/none-such/reimport-preview",
            json!({"spec": second}),
        )
        .await,
        404,
        "CONNECTOR_NOT_FOUND",
        "none-such",
    );
    assert_error(
        api.post(
            "/api/connectors/inventory/reimport-preview",
            json!({"spec": {"swagger": "nope"}}),
        )
        .await,
        400,
        "INVALID_SPEC",
        "",
    );
    let (status, script) = api
        .post(
            "/api/connectors",
            json!({"name": "hand-made", "executionModel": "script",
                "scriptSource": "function test() { return { success: true }; }"}),
        )
        .await;
    assert_eq!(status, 201, "{script}");
    assert_error(
        api.post(
            "/api/connectors/hand-made/reimport-preview",
            json!({"spec": second}),
        )
        .await,
        400,
        "VALIDATION_ERROR",
        "OpenAPI",
    );
    let executor = executor(&api, &server.url).await;
    assert_error(
        executor
            .post(
                "/api/connectors/inventory/reimport-preview",
                json!({"spec": second}),
            )
            .await,
        403,
        "FORBIDDEN",
        "executor",
    );
    let anonymous = Api::new(&server.url, None);
    assert_eq!(
        anonymous
            .post(
                "/api/connectors/inventory/reimport-preview",
                json!({"spec": second})
            )
            .await
            .0,
        401
    );
}

//! Every bad request gets the right status and a clear `{error:{code,message}}`.

use floh_e2e::{ADMIN_TOKEN, Api, Server, assert_error};
use serde_json::{Value, json};

use crate::crm;

#[tokio::test]
async fn bad_definitions_are_refused_with_clear_errors() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let api = server.admin();
    let post = |body: Value| {
        let api = api.clone();
        async move { api.post("/api/connectors", body).await }
    };
    assert_error(
        api.send_raw(
            reqwest::Method::POST,
            "/api/connectors",
            "application/json",
            "{\"name\": ",
        )
        .await,
        400,
        "INVALID_JSON",
        "",
    );
    assert_error(
        api.send_raw(reqwest::Method::POST, "/api/connectors", "text/plain", "{}")
            .await,
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        "application/json",
    );
    assert_error(
        post(json!({"name": "a", "executionModel": "script", "scriptSrc": "x"})).await,
        422,
        "INVALID_BODY",
        "scriptSrc",
    );
    // serde would read an array as a struct's fields in order (`[]` as a
    // request whose fields all have defaults): every body must be an object.
    for (path, body) in [
        ("/api/connectors/script-template", "[]"),
        ("/api/connectors", r#"["a", "script"]"#),
        ("/api/connectors/a/execute", r#"["ping"]"#),
        ("/api/connectors/script-template", r#""text""#),
    ] {
        assert_error(
            api.send_raw(reqwest::Method::POST, path, "application/json", body)
                .await,
            422,
            "INVALID_BODY",
            "JSON object",
        );
    }
    assert_error(
        post(json!({"executionModel": "script"})).await,
        422,
        "INVALID_BODY",
        "name",
    );
    assert_error(
        post(json!({"name": 5, "executionModel": "script"})).await,
        422,
        "INVALID_BODY",
        "name",
    );
    assert_error(
        post(json!({"name": "a", "executionModel": "magic"})).await,
        422,
        "INVALID_BODY",
        "magic",
    );
    assert_error(
        post(json!({"name": "a b", "executionModel": "script", "scriptSource": ""})).await,
        400,
        "VALIDATION_ERROR",
        "valid name",
    );
    assert_error(
        post(json!({"name": "a", "executionModel": "script"})).await,
        400,
        "VALIDATION_ERROR",
        "scriptSource",
    );
    assert_error(
        post(json!({"name": "a", "executionModel": "external"})).await,
        400,
        "VALIDATION_ERROR",
        "endpointUrl",
    );
    assert_error(
        post(json!({"name": "a", "type": "nope", "executionModel": "built_in"})).await,
        400,
        "UNKNOWN_TYPE",
        "nope",
    );
    let (status, body) =
        post(json!({"name": "a", "executionModel": "script", "scriptSource": "function f( {"}))
            .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "SCRIPT_SYNTAX_ERROR");
    assert_eq!(body["error"]["line"], 1);
    assert!(body["error"]["column"].as_u64().unwrap_or(0) > 0, "{body}");
    let mut missing_config = crm::definition("crm", "https://crm.example.com");
    missing_config["config"] = json!({"baseUrl": "https://crm.example.com"});
    assert_error(
        post(missing_config).await,
        400,
        "VALIDATION_ERROR",
        "apiKey",
    );
    let mut wrong_type = crm::definition("crm", "https://crm.example.com");
    wrong_type["config"]["baseUrl"] = json!(42);
    assert_error(post(wrong_type).await, 400, "VALIDATION_ERROR", "baseUrl");
    assert_eq!(
        post(crm::definition("crm", "https://crm.example.com"))
            .await
            .0,
        201
    );
    assert_error(
        post(crm::definition("crm", "https://crm.example.com")).await,
        409,
        "NAME_TAKEN",
        "crm",
    );
}

#[tokio::test]
async fn bad_executions_are_refused_with_clear_errors() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let api = server.admin();
    assert_eq!(
        api.post(
            "/api/connectors",
            crm::definition("crm", "https://crm.example.com")
        )
        .await
        .0,
        201
    );
    let (status, body) = api
        .post(
            "/api/connectors/crm/execute",
            json!({"command": "deleteEverything"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "UNKNOWN_COMMAND");
    assert_eq!(
        body["error"]["knownCommands"],
        json!(["createContact", "listContacts", "test"])
    );
    assert_error(
        api.post(
            "/api/connectors/crm/execute",
            json!({"command": "listContacts", "params": {"limit": "ten"}}),
        )
        .await,
        400,
        "INVALID_PARAMS",
        "limit",
    );
    assert_error(
        api.post("/api/connectors/nope/execute", json!({"command": "x"}))
            .await,
        404,
        "CONNECTOR_NOT_FOUND",
        "nope",
    );
    assert_error(
        api.post("/api/connectors/crm/execute", json!({"params": {}}))
            .await,
        422,
        "INVALID_BODY",
        "command",
    );
}

#[tokio::test]
async fn tokens_distinguish_unauthenticated_from_forbidden() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let anonymous = Api::new(&server.url, None);
    assert_error(
        anonymous.get("/api/connectors").await,
        401,
        "UNAUTHORIZED",
        "Bearer",
    );
    let forged = Api::new(&server.url, Some("floh_not_a_real_token"));
    assert_error(
        forged.get("/api/connectors").await,
        401,
        "UNAUTHORIZED",
        "not valid",
    );
    assert_eq!(anonymous.get("/api/health").await.0, 200);

    let (status, issued) = server
        .admin()
        .post(
            "/api/tokens",
            json!({"name": "ci-runner", "role": "executor"}),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let executor = Api::new(&server.url, issued["token"].as_str());
    assert_eq!(executor.get("/api/connectors").await.0, 200);
    assert_error(
        executor
            .post(
                "/api/connectors",
                crm::definition("x", "https://x.example.com"),
            )
            .await,
        403,
        "FORBIDDEN",
        "executor",
    );
    assert_error(
        executor
            .post("/api/tokens", json!({"name": "escalate", "role": "admin"}))
            .await,
        403,
        "FORBIDDEN",
        "executor",
    );
    assert_ne!(issued["token"], ADMIN_TOKEN);
}

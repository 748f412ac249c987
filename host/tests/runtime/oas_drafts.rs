//! Drafts generated from OpenAPI specs compile in the engine and run against
//! a real server that checks what it receives.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, Uri};
use axum::routing::{get, post};
use floh::oas::{Selection, draft};
use serde_json::{Value, json};

use crate::support::{Upstream, engine, open_context, run};

type Seen = Arc<Mutex<Vec<(String, Option<String>, Option<String>, String)>>>;

/// A server that records (path, query, authorization, body) and echoes them.
async fn recording_api() -> (Upstream, Seen) {
    let seen: Seen = Arc::default();
    let record = |seen: Seen| {
        move |uri: Uri, headers: HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .or(headers.get("x-key"))
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let content_type = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                seen.lock().expect("lock").push((
                    uri.path().to_string(),
                    uri.query().map(str::to_string),
                    auth,
                    body.clone(),
                ));
                axum::Json(
                    json!({"path": uri.path(), "contentType": content_type, "id": 7, "access_token": "tok-42", "expires_in": 3600}),
                )
            }
        }
    };
    let router = axum::Router::new()
        .route(
            "/v1/pets",
            get(record(seen.clone())).post(record(seen.clone())),
        )
        .route("/v1/pets/{id}", get(record(seen.clone())))
        .route("/token", post(record(seen.clone())));
    (Upstream::start(router).await, seen)
}

fn petstore_30(base: &str) -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Pet Store", "version": "1.2.0"},
        "servers": [{"url": format!("{base}/v1")}],
        "security": [{"key": []}],
        "components": {"securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-Key"}}},
        "paths": {
            "/pets": {
                "get": {"operationId": "listPets", "parameters": [{"name": "tag", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}}]},
                "post": {"operationId": "createPet", "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}}}}}}
            },
            "/pets/{id}": {"get": {"operationId": "getPet", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]}}
        }
    })
}

#[tokio::test]
async fn an_openapi_30_draft_compiles_and_calls_the_api_as_the_spec_says() {
    let (api, seen) = recording_api().await;
    let draft = draft(petstore_30(&api.url()), &Selection::default()).expect("draft");
    assert_eq!(draft.definition.name, "pet-store");
    let source = draft.definition.script_source.clone().expect("script");
    let engine = engine();
    engine
        .compile(&source)
        .await
        .expect("the generated script compiles");
    let config = json!({"baseUrl": format!("{}/v1", api.url()), "key": "k-123"});
    let context = open_context(config, &["k-123"]);

    let result = run(
        &engine,
        &source,
        "listPets",
        json!({"tag": ["a b", "c"]}),
        &context,
    )
    .await
    .outcome
    .expect("listPets");
    assert!(result.success, "{result:?}");
    let result = run(&engine, &source, "getPet", json!({"id": "x/y"}), &context)
        .await
        .outcome
        .expect("getPet");
    assert_eq!(result.data.expect("data")["path"], "/v1/pets/x%2Fy");
    let result = run(
        &engine,
        &source,
        "createPet",
        json!({"name": "Rex", "age": 3}),
        &context,
    )
    .await
    .outcome
    .expect("createPet");
    assert_eq!(
        result.data.expect("data")["contentType"],
        "application/json"
    );
    let result = run(&engine, &source, "test", json!({}), &context)
        .await
        .outcome
        .expect("test");
    assert!(result.success, "{result:?}");

    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen[0].1.as_deref(), Some("tag=a%20b&tag=c"));
    assert_eq!(seen[0].2.as_deref(), Some("k-123"));
    let body: Value = serde_json::from_str(&seen[2].3).expect("JSON body");
    assert_eq!(body, json!({"name": "Rex", "age": 3}));
}

#[tokio::test]
async fn a_swagger_20_draft_with_basic_auth_and_a_form_body_runs() {
    let (api, seen) = recording_api().await;
    let host = api.url().trim_start_matches("http://").to_string();
    let spec = json!({
        "swagger": "2.0", "info": {"title": "Legacy", "version": "1"},
        "host": host, "basePath": "/v1", "schemes": ["http"],
        "securityDefinitions": {"basic": {"type": "basic"}}, "security": [{"basic": []}],
        "paths": {"/pets": {"post": {"operationId": "addPet", "consumes": ["application/x-www-form-urlencoded"],
            "parameters": [{"name": "name", "in": "formData", "type": "string", "required": true}]}}}
    });
    let draft = draft(spec, &Selection::default()).expect("draft");
    let source = draft.definition.script_source.clone().expect("script");
    let config_schema = draft.definition.config_schema.clone().expect("schema");
    assert_eq!(
        config_schema.connection_config["baseUrl"].default,
        Some(json!(format!("{}/v1", api.url())))
    );
    let context = open_context(
        json!({"baseUrl": format!("{}/v1", api.url()), "username": "ada", "password": "pw"}),
        &["pw"],
    );
    let result = run(
        &engine(),
        &source,
        "addPet",
        json!({"name": "Rex & Co"}),
        &context,
    )
    .await
    .outcome
    .expect("addPet");
    assert!(result.success, "{result:?}");
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen[0].2.as_deref(), Some("Basic YWRhOnB3"));
    assert_eq!(seen[0].3, "name=Rex%20%26%20Co");
}

#[tokio::test]
async fn an_openapi_31_draft_fetches_an_oauth2_token_and_uses_it() {
    let (api, seen) = recording_api().await;
    let spec = json!({
        "openapi": "3.1.0", "info": {"title": "Modern", "version": "2"},
        "components": {"securitySchemes": {"cc": {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": format!("{}/token", api.url()), "scopes": {}}}}}},
        "security": [{"cc": []}],
        "paths": {"/pets": {"get": {"operationId": "listPets", "parameters": [{"name": "limit", "in": "query", "schema": {"type": ["integer", "null"]}}]}}}
    });
    let draft = draft(spec, &Selection::default()).expect("draft");
    let source = draft.definition.script_source.clone().expect("script");
    let context = open_context(
        json!({"baseUrl": format!("{}/v1", api.url()), "clientId": "cid", "clientSecret": "cs", "tokenUrl": format!("{}/token", api.url())}),
        &["cs"],
    );
    let engine = engine();
    for _ in 0..2 {
        let result = run(&engine, &source, "listPets", json!({"limit": 5}), &context)
            .await
            .outcome
            .expect("listPets");
        assert!(result.success, "{result:?}");
    }
    let paths = |seen: &Seen| -> Vec<String> {
        let seen = seen.lock().expect("lock");
        seen.iter().map(|entry| entry.0.clone()).collect()
    };
    // The token is fetched once and reused by the second execution.
    assert_eq!(paths(&seen), ["/token", "/v1/pets", "/v1/pets"]);
    {
        let seen = seen.lock().expect("lock");
        assert_eq!(seen[0].3, "grant_type=client_credentials");
        assert_eq!(seen[1].2.as_deref(), Some("Bearer tok-42"));
        assert_eq!(seen[2].2.as_deref(), Some("Bearer tok-42"));
        assert_eq!(seen[1].1.as_deref(), Some("limit=5"));
    }
    // Other credentials never see that token.
    let rotated = open_context(
        json!({"baseUrl": format!("{}/v1", api.url()), "clientId": "cid", "clientSecret": "cs2", "tokenUrl": format!("{}/token", api.url())}),
        &["cs2"],
    );
    let result = run(&engine, &source, "listPets", json!({}), &rotated)
        .await
        .outcome
        .expect("listPets");
    assert!(result.success, "{result:?}");
    assert_eq!(paths(&seen)[3..], ["/token", "/v1/pets"]);
}

#[tokio::test]
async fn an_authorization_code_draft_sends_the_access_token_the_host_supplies() {
    let router = axum::Router::new().route(
        "/v1/me",
        get(|headers: HeaderMap| async move {
            match headers.get("authorization").and_then(|v| v.to_str().ok()) {
                Some("Bearer at-1") => (
                    axum::http::StatusCode::OK,
                    axum::Json(json!({"name": "Ada"})),
                ),
                _ => (
                    axum::http::StatusCode::UNAUTHORIZED,
                    axum::Json(json!({"error": "invalid_token"})),
                ),
            }
        }),
    );
    let api = Upstream::start(router).await;
    let spec = json!({
        "openapi": "3.0.3", "info": {"title": "Profile", "version": "1"},
        "servers": [{"url": format!("{}/v1", api.url())}],
        "components": {"securitySchemes": {"user": {"type": "oauth2", "flows": {"authorizationCode": {
            "authorizationUrl": "https://id.example.com/authorize", "tokenUrl": "https://id.example.com/token",
            "scopes": {"profile": "Your profile", "admin": "Everything"}}}}}},
        "security": [{"user": ["profile"]}],
        "paths": {"/me": {"get": {"operationId": "getMe"}}}
    });
    let draft = draft(spec, &Selection::default()).expect("draft");
    let oauth2 = draft
        .definition
        .config_schema
        .as_ref()
        .and_then(|schema| schema.oauth2.clone())
        .expect("the draft asks the host for a grant");
    assert_eq!(oauth2.scopes, ["profile"]);
    let source = draft.definition.script_source.clone().expect("script");
    let engine = engine();
    let config = |token: &str| json!({"baseUrl": format!("{}/v1", api.url()), "clientId": "cid", "accessToken": token});
    let result = run(
        &engine,
        &source,
        "getMe",
        json!({}),
        &open_context(config("at-1"), &["at-1"]),
    )
    .await
    .outcome
    .expect("getMe");
    assert!(result.success, "{result:?}");
    assert_eq!(result.data.expect("data")["name"], "Ada");

    // A 401 is the answer: renewing and retrying is the host's job, not the script's.
    let result = run(
        &engine,
        &source,
        "getMe",
        json!({}),
        &open_context(config("stale"), &["stale"]),
    )
    .await
    .outcome
    .expect("getMe");
    assert!(!result.success);
    assert!(result.error.expect("error").contains("HTTP 401"));
    let seen = api.seen();
    let authorizations: Vec<_> = seen
        .iter()
        .map(|request| {
            request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        })
        .collect();
    assert_eq!(authorizations, ["Bearer at-1", "Bearer stale"]);
}

#[tokio::test]
async fn head_and_options_operations_become_commands_that_reach_the_api() {
    let router = axum::Router::new().route(
        "/v1/files/{name}",
        axum::routing::any(|method: axum::http::Method| async move {
            let mut headers = HeaderMap::new();
            headers.insert("content-length-hint", "42".parse().expect("header"));
            headers.insert("allow", "HEAD, OPTIONS, DELETE".parse().expect("header"));
            headers.insert("x-method", method.as_str().parse().expect("header"));
            (headers, "")
        }),
    );
    let api = Upstream::start(router).await;
    let spec = json!({
        "openapi": "3.0.3", "info": {"title": "Files", "version": "1"},
        "servers": [{"url": format!("{}/v1", api.url())}],
        "paths": {"/files/{name}": {
            "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
            "head": {"operationId": "fileExists"},
            "options": {"operationId": "fileMethods"},
            "delete": {"operationId": "deleteFile", "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {"reason": {"type": "string"}}}}}}}
        }}
    });
    let draft = draft(spec, &Selection::default()).expect("draft");
    assert!(draft.skipped.is_empty(), "{:?}", draft.skipped);
    let source = draft.definition.script_source.clone().expect("script");
    let engine = engine();
    let context = open_context(json!({"baseUrl": format!("{}/v1", api.url())}), &[]);
    let exists = run(
        &engine,
        &source,
        "fileExists",
        json!({"name": "a.txt"}),
        &context,
    )
    .await
    .outcome
    .expect("fileExists");
    assert!(exists.success, "{exists:?}");
    let data = exists.data.expect("data");
    assert_eq!(data["status"], 200);
    assert_eq!(data["headers"]["content-length-hint"], "42");
    let methods = run(
        &engine,
        &source,
        "fileMethods",
        json!({"name": "a.txt"}),
        &context,
    )
    .await
    .outcome
    .expect("fileMethods");
    assert!(methods.success, "{methods:?}");
    let deleted = run(
        &engine,
        &source,
        "deleteFile",
        json!({"name": "a.txt", "reason": "old"}),
        &context,
    )
    .await
    .outcome
    .expect("deleteFile");
    assert!(deleted.success, "{deleted:?}");
    let deleted = run(
        &engine,
        &source,
        "deleteFile",
        json!({"name": "a.txt"}),
        &context,
    )
    .await
    .outcome
    .expect("deleteFile");
    assert!(deleted.success, "{deleted:?}");
    let seen = api.seen();
    let methods: Vec<_> = seen.iter().map(|request| request.method.as_str()).collect();
    assert_eq!(methods, ["HEAD", "OPTIONS", "DELETE", "DELETE"]);
    // The body the spec declares for DELETE is sent when given, and only then.
    assert_eq!(seen[2].body, br#"{"reason":"old"}"#);
    assert!(seen[3].body.is_empty());
    assert!(seen[3].headers.get("content-type").is_none());
}

#[tokio::test]
async fn selections_keep_only_the_named_operations() {
    let selection = Selection {
        operation_ids: vec!["getPet".into()],
        ..Selection::default()
    };
    let draft = draft(petstore_30("https://api.example.com"), &selection).expect("draft");
    let commands: Vec<_> = draft
        .definition
        .config_schema
        .expect("schema")
        .commands
        .into_keys()
        .collect();
    assert_eq!(commands, ["getPet", "test"]);
}

/// Every spec of `@readme/oas-examples` (real public samples of all three
/// versions, JSON and YAML) either drafts with a script that compiles in the
/// engine, or is refused with a clear error; none panics.
#[tokio::test]
async fn every_sample_spec_imports_and_its_script_compiles() {
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/node_modules/@readme/oas-examples");
    if !samples.exists() {
        assert!(
            std::env::var_os("FLOH_REQUIRE_NPM_TESTS").is_none(),
            "run `just e2e-deps`"
        );
        eprintln!("skipping: @readme/oas-examples is not installed (run `just e2e-deps`)");
        return;
    }
    let engine = engine();
    let (mut clean, mut refused, mut commands) = (0, Vec::new(), 0);
    for version in ["2.0", "3.0", "3.1"] {
        for format in ["json", "yaml"] {
            let Ok(entries) = std::fs::read_dir(samples.join(version).join(format)) else {
                continue;
            };
            for entry in entries.flatten().filter(|e| e.path().is_file()) {
                let path = entry.path();
                let text = std::fs::read_to_string(&path).expect("spec text");
                match draft(Value::String(text), &Selection::default()) {
                    Ok(draft) => {
                        let source = draft.definition.script_source.expect("script");
                        if let Err(error) = engine.compile(&source).await {
                            panic!(
                                "{}: the generated script does not compile: {error}",
                                path.display()
                            );
                        }
                        commands += draft
                            .definition
                            .config_schema
                            .map_or(0, |s| s.commands.len());
                        clean += 1;
                    }
                    Err(error) => refused.push(format!("{}: {error}", path.display())),
                }
            }
        }
    }
    eprintln!("{clean} sample specs imported ({commands} commands); refused: {refused:#?}");
    assert!(
        clean > 0 && refused.is_empty(),
        "refused sample specs: {refused:#?}"
    );
}

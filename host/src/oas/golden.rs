//! Golden drafts: one small spec per version and per security scheme, with
//! the draft (and its generated script, prelude elided) snapshotted so any
//! change to generated output is reviewed.

use serde_json::{Value, json};

use super::script::PRELUDE;
use super::{Selection, draft};

fn render(spec: Value) -> String {
    let draft = draft(spec, &Selection::default()).expect("draft");
    let mut definition = serde_json::to_value(&draft.definition).expect("definition");
    let script = definition["scriptSource"]
        .as_str()
        .unwrap_or("")
        .replace(PRELUDE, "\n<prelude>\n");
    if let Some(object) = definition.as_object_mut() {
        object.remove("scriptSource");
        object.remove("openapiSpec");
    }
    let skipped = serde_json::to_string_pretty(&draft.skipped).expect("skipped");
    let warnings = if draft.warnings.is_empty() {
        String::new()
    } else {
        format!("\n--- warnings ---\n{}", draft.warnings.join("\n"))
    };
    format!(
        "spec version: {}\n{}\n--- skipped ---\n{skipped}{warnings}\n--- script ---\n{script}",
        draft.spec_version,
        serde_json::to_string_pretty(&definition).expect("pretty")
    )
}

fn with_security(scheme: Value) -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Secured", "version": "1.0.0"},
        "servers": [{"url": "https://api.example.com"}],
        "components": {"securitySchemes": {"auth": scheme}},
        "security": [{"auth": []}],
        "paths": {"/me": {"get": {"operationId": "getMe", "responses": {"200": {"description": "ok"}}}}}
    })
}

#[test]
fn openapi_30() {
    insta::assert_snapshot!(render(json!({
        "openapi": "3.0.3",
        "info": {"title": "Pet Store", "version": "1.0.0", "description": "A sample API.\nSecond line."},
        "servers": [{"url": "https://{env}.example.com/v1", "variables": {"env": {"default": "api"}}}],
        "paths": {
            "/pets": {
                "get": {"operationId": "listPets", "summary": "List all pets", "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 20}},
                    {"name": "X-Request-Id", "in": "header", "schema": {"type": "string"}}
                ], "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Pet"}}}}}}},
                "post": {"operationId": "createPet", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}, "responses": {"201": {"description": "created"}}}
            },
            "/pets/{petId}": {"get": {"operationId": "showPetById", "parameters": [{"name": "petId", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}}}}
        },
        "components": {"schemas": {"Pet": {"type": "object", "required": ["id", "name"], "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}, "tag": {"type": "string", "nullable": true}
        }}}}
    })));
}

#[test]
fn openapi_31() {
    insta::assert_snapshot!(render(json!({
        "openapi": "3.1.0",
        "info": {"title": "Tasks", "version": "2.0.0"},
        "servers": [{"url": "/api"}],
        "webhooks": {"taskDone": {"post": {"requestBody": {"content": {"application/json": {"schema": {}}}}}}},
        "paths": {
            "/tasks/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": ["string", "null"]}}],
                "patch": {"summary": "Update a task", "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
                    "done": {"type": "boolean"}, "labels": {"type": "array", "items": {"type": "string"}}
                }}}}}},
                "delete": {"operationId": "delete"}
            },
            "/tasks:search": {"post": {"operationId": "tasks.search", "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {"q": {"type": "string"}}}}}}}}
        }
    })));
}

#[test]
fn swagger_20() {
    insta::assert_snapshot!(render(json!({
        "swagger": "2.0",
        "info": {"title": "Legacy Users", "version": "0.9"},
        "host": "legacy.example.com", "basePath": "/rest", "schemes": ["https"],
        "securityDefinitions": {"basic": {"type": "basic"}},
        "security": [{"basic": []}],
        "paths": {"/users": {
            "get": {"operationId": "getUsers", "parameters": [{"name": "page", "in": "query", "type": "integer", "default": 1}],
                "responses": {"200": {"description": "ok", "schema": {"type": "object", "properties": {"users": {"type": "array"}, "total": {"type": "integer"}}}}}},
            "post": {"operationId": "addUser", "consumes": ["application/x-www-form-urlencoded"], "parameters": [
                {"name": "login", "in": "formData", "type": "string", "required": true}
            ], "responses": {"201": {"description": "created"}}}
        }}
    })));
}

#[test]
fn security_api_key_in_header_query_and_cookie() {
    for location in ["header", "query", "cookie"] {
        insta::assert_snapshot!(
            format!("security_api_key_{location}"),
            render(with_security(
                json!({"type": "apiKey", "in": location, "name": "api_key"})
            ))
        );
    }
}

#[test]
fn security_bearer() {
    insta::assert_snapshot!(render(with_security(
        json!({"type": "http", "scheme": "bearer"})
    )));
}

#[test]
fn security_basic() {
    insta::assert_snapshot!(render(with_security(
        json!({"type": "http", "scheme": "basic"})
    )));
}

#[test]
fn security_oauth2_client_credentials() {
    insta::assert_snapshot!(render(with_security(json!({
        "type": "oauth2",
        "flows": {"clientCredentials": {"tokenUrl": "https://auth.example.com/oauth/token", "scopes": {"read": "read"}}}
    }))));
}

/// Two operations that need the grant and one that takes an API key
/// instead: the scopes are those the operations name, not the flow's list.
fn with_grant(scheme: Value) -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Calendar", "version": "1.0.0"},
        "servers": [{"url": "https://api.example.com/v1"}],
        "components": {"securitySchemes": {"user": scheme, "key": {"type": "apiKey", "in": "query", "name": "key"}}},
        "security": [{"user": ["events.read"]}],
        "paths": {
            "/events": {
                "get": {"operationId": "listEvents", "responses": {"200": {"description": "ok"}}},
                "post": {"operationId": "createEvent", "security": [{"user": ["events.write", "events.read"]}],
                    "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {"title": {"type": "string"}}}}}},
                    "responses": {"201": {"description": "created"}}}
            },
            "/holidays": {"get": {"operationId": "listHolidays", "security": [{"user": ["holidays"]}, {"key": []}], "responses": {"200": {"description": "ok"}}}}
        }
    })
}

#[test]
fn security_oauth2_authorization_code() {
    insta::assert_snapshot!(render(with_grant(json!({
        "type": "oauth2",
        "flows": {"authorizationCode": {
            "authorizationUrl": "https://id.example.com/oauth/authorize",
            "tokenUrl": "https://id.example.com/oauth/token",
            "scopes": {"events.read": "Read events", "events.write": "Write events", "holidays": "Holidays", "admin": "Everything"}
        }}
    }))));
}

#[test]
fn security_oauth2_implicit() {
    insta::assert_snapshot!(render(with_grant(json!({
        "type": "oauth2",
        "flows": {"implicit": {"authorizationUrl": "https://id.example.com/oauth/authorize", "scopes": {"events.read": "Read events"}}}
    }))));
}

#[test]
fn security_oauth2_password() {
    insta::assert_snapshot!(render(with_grant(json!({
        "type": "oauth2",
        "flows": {"password": {"tokenUrl": "/oauth/token", "scopes": {}}}
    }))));
}

#[test]
fn security_open_id_connect() {
    insta::assert_snapshot!(render(with_grant(json!({
        "type": "openIdConnect",
        "openIdConnectUrl": "https://id.example.com/.well-known/openid-configuration"
    }))));
}

#[test]
fn swagger_20_access_code() {
    insta::assert_snapshot!(render(json!({
        "swagger": "2.0",
        "info": {"title": "Legacy Calendar", "version": "0.9"},
        "host": "legacy.example.com", "basePath": "/rest", "schemes": ["https"],
        "securityDefinitions": {"user": {"type": "oauth2", "flow": "accessCode",
            "authorizationUrl": "https://legacy.example.com/oauth/authorize", "tokenUrl": "https://legacy.example.com/oauth/token",
            "scopes": {"read": "Read", "write": "Write"}}},
        "security": [{"user": ["read"]}],
        "paths": {"/events": {"get": {"operationId": "getEvents", "responses": {"200": {"description": "ok"}}}}}
    })));
}

#[test]
fn head_options_and_trace() {
    insta::assert_snapshot!(render(json!({
        "openapi": "3.0.3",
        "info": {"title": "Files", "version": "1.0.0"},
        "servers": [{"url": "https://files.example.com"}],
        "paths": {"/files/{name}": {
            "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
            "head": {"operationId": "fileExists", "summary": "Whether a file exists, and its size"},
            "options": {"operationId": "fileMethods", "parameters": [{"name": "Origin", "in": "header", "schema": {"type": "string"}}]},
            "trace": {"operationId": "traceFile"}
        }}
    })));
}

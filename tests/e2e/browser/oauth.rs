//! An OpenAPI connector whose spec says "OAuth2 authorization code",
//! connected from its page in a real browser: Connect, sign in and allow at
//! a real authorization server (oidc-provider), back on the connector page
//! connected, and a command that calls the protected resource succeeds.
//! Neither the client secret nor any token reaches the browser (the harness
//! checks every response body).

use serde_json::json;

use super::BrowserGroup;
use crate::oauth::provider::{AuthServer, ClientSpec, PASSWORD, USERNAME};

const CLIENT_SECRET: &str = "browser-client-secret";

#[tokio::test]
async fn connect_on_an_imported_openapi_connector_ends_connected() {
    if !AuthServer::available() {
        return;
    }
    let Some(mut group) = BrowserGroup::start().await else {
        return;
    };
    let callback = format!("{}/api/oauth/callback", group.server.url);
    let auth = AuthServer::start(
        &[ClientSpec::basic("browser", CLIENT_SECRET, &callback)],
        60,
    );
    let resource_base = auth
        .resource_url
        .strip_suffix("/me")
        .expect("resource URL ends in /me")
        .to_string();
    let spec = json!({
        "openapi": "3.0.3",
        "info": {"title": "Provider API", "version": "1.0.0"},
        "servers": [{"url": resource_base}],
        "components": {"securitySchemes": {"provider": {"type": "oauth2", "flows": {"authorizationCode": {
            "authorizationUrl": auth.authorization_url,
            "tokenUrl": auth.token_url,
            "scopes": {"read": "Read your profile", "write": "Change it"}
        }}}}},
        "paths": {"/me": {"get": {
            "operationId": "getMe",
            "security": [{"provider": ["read"]}],
            "responses": {"200": {"description": "Who the token belongs to"}}
        }}}
    });
    let (status, parsed) = group
        .api
        .post("/api/connectors/parse-oas", json!({"spec": spec}))
        .await;
    assert_eq!(status, 200, "{parsed}");
    let mut definition = parsed["definition"].clone();
    assert_eq!(
        definition["configSchema"]["oauth2"]["scopes"],
        json!(["read"]),
        "{definition}"
    );
    definition["name"] = json!("provider-api");
    definition["config"] =
        json!({"clientId": "browser", "clientSecret": CLIENT_SECRET, "baseUrl": resource_base});
    let (status, created) = group.api.post("/api/connectors", definition).await;
    assert_eq!(status, 201, "{created}");
    group.secret(CLIENT_SECRET);

    group
        .run(
            "oauth-connect",
            json!({"connector": "provider-api", "username": USERNAME, "password": PASSWORD}),
        )
        .await;
    let (_, connector) = group.api.get("/api/connectors/provider-api").await;
    assert_eq!(connector["oauth"]["state"], "connected", "{connector}");
    assert_eq!(auth.stats().await.granted("authorization_code"), 1);
}

//! A connector a person authorizes once, against a real authorization
//! server: Connect → consent → callback → commands that call a protected
//! resource with the access token → refresh before expiry and after a 401
//! (rotated refresh tokens kept) → the provider revokes the grant → the
//! connector reports `OAUTH_RECONNECT_REQUIRED`. And: a burst of executions
//! with an expired token refreshes once; forged, replayed and crossed
//! callbacks are refused and store nothing; no token is ever seen.

use std::time::Duration;

use floh_e2e::{Api, Server, assert_error, floh_cli, floh_cli_for_people};
use serde_json::{Value, json};

use super::provider::{AuthServer, ClientSpec};

pub const CLIENT_ID: &str = "floh-connector";
pub const CLIENT_SECRET: &str = "client-secret-for-tests";

/// A script connector whose `me` command calls the protected resource.
pub fn definition(name: &str, auth: &AuthServer) -> Value {
    json!({
        "name": name,
        "executionModel": "script",
        "scriptSource": "function me() {\n  var r = floh.http.get(floh.config.resourceUrl, { Authorization: 'Bearer ' + floh.config.accessToken });\n  return r.status === 200 ? { success: true, data: r.body } : { success: false, error: 'HTTP ' + r.status };\n}\nfunction leak() { floh.log.info('token ' + floh.config.accessToken); return { success: true, data: { token: floh.config.accessToken } }; }",
        "configSchema": {
            "connectionConfig": {"resourceUrl": {"type": "string", "required": true}},
            "oauth2": {
                "grant": "authorization_code",
                "authorizationUrl": auth.authorization_url,
                "tokenUrl": auth.token_url,
                "scopes": ["read"]
            },
            "commands": {"me": {}, "leak": {}}
        },
        "config": {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "resourceUrl": auth.resource_url}
    })
}

struct Setup {
    server: Server,
    auth: AuthServer,
    api: Api,
    data: tempfile::TempDir,
}

fn setup(access_ttl_secs: u64) -> Setup {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(&data.path().join("data"));
    let callback = format!("{}/api/oauth/callback", server.url);
    let auth = AuthServer::start(
        &[ClientSpec::basic(CLIENT_ID, CLIENT_SECRET, &callback)],
        access_ttl_secs,
    );
    let api = server.admin();
    Setup {
        server,
        auth,
        api,
        data,
    }
}

/// Follow the provider's redirect back to Floh, as a browser without a
/// session would (JSON, no token).
async fn deliver(callback: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(callback)
        .send()
        .await
        .expect("callback");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn authorize(api: &Api, connector: &str) -> String {
    let (status, started) = api
        .post(
            &format!("/api/connectors/{connector}/oauth/authorize"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    started["authorizationUrl"]
        .as_str()
        .expect("authorizationUrl")
        .to_string()
}

async fn connect(setup: &Setup, connector: &str) {
    connect_with(&setup.api, &setup.auth, connector).await;
}

/// Connect `connector` as a person would: authorize, consent, callback.
pub async fn connect_with(api: &Api, auth: &AuthServer, connector: &str) {
    let url = authorize(api, connector).await;
    let callback = auth.consent(&url).await;
    let (status, connected) = deliver(&callback).await;
    assert_eq!(status, 200, "{connected}\n{}", auth.printed());
    assert_eq!(connected["oauth"]["state"], "connected", "{connected}");
}

async fn me(api: &Api, connector: &str) -> Value {
    api.post(
        &format!("/api/connectors/{connector}/execute"),
        json!({"command": "me"}),
    )
    .await
    .1
}

async fn state_of(api: &Api, connector: &str) -> Value {
    api.get(&format!("/api/connectors/{connector}")).await.1["oauth"].clone()
}

#[tokio::test]
async fn a_person_connects_once_and_the_host_refreshes_rotates_and_notices_revocation() {
    if !AuthServer::available() {
        return;
    }
    let setup = setup(3);
    let (api, auth) = (&setup.api, &setup.auth);
    assert_eq!(
        api.post("/api/connectors", definition("crm", auth)).await.0,
        201
    );
    assert_eq!(state_of(api, "crm").await["state"], "not_connected");
    let refused = me(api, "crm").await;
    assert_eq!(refused["errorCode"], "OAUTH_NOT_CONNECTED", "{refused}");

    // Connect: the provider URL carries the S256 challenge and a state.
    let url = authorize(api, "crm").await;
    assert!(url.starts_with(&auth.authorization_url), "{url}");
    assert!(
        url.contains("code_challenge_method=S256") && url.contains("state="),
        "{url}"
    );
    let callback = auth.consent(&url).await;
    let (status, connected) = deliver(&callback).await;
    assert_eq!(status, 200, "{connected}\n{}", auth.printed());
    assert_eq!(connected["oauth"]["scopes"], json!(["read"]));
    // The same callback again: the state was used.
    assert_error(
        deliver(&callback).await,
        400,
        "OAUTH_INVALID_STATE",
        "already used",
    );

    let first = me(api, "crm").await;
    assert_eq!(first["success"], true, "{first}");
    assert_eq!(first["data"]["clientId"], CLIENT_ID);
    // Counted from here: on a loaded machine the three-second token may
    // already have been due for the first command.
    let refreshed = auth.stats().await.granted("refresh_token");

    // The access token expires: the next command refreshes once, twice in
    // a row, which the provider allows only if each rotated refresh token
    // was kept (it revokes the grant when a used one comes back).
    for round in 1..=2 {
        tokio::time::sleep(Duration::from_millis(3_200)).await;
        let after = me(api, "crm").await;
        assert_eq!(after["success"], true, "round {round}: {after}");
        let stats = auth.stats().await;
        assert_eq!(stats.granted("refresh_token"), refreshed + round, "{stats}");
        assert_eq!(stats.refused("invalid_grant"), 0, "{stats}");
    }
    let status = state_of(api, "crm").await;
    assert!(status["lastRefreshAtMs"].is_u64(), "{status}");

    // The provider drops the access token before it expires: the upstream's
    // 401 makes the host refresh once and send the request again.
    auth.expire_access_tokens().await;
    let retried = me(api, "crm").await;
    assert_eq!(retried["success"], true, "{retried}");
    assert_eq!(
        retried["httpCalls"].as_array().map(Vec::len),
        Some(2),
        "{retried}"
    );
    assert_eq!(retried["httpCalls"][0]["status"], 401);
    assert_eq!(auth.stats().await.granted("refresh_token"), refreshed + 3);

    // The provider revokes the grant: the refresh is refused once, and the
    // connector asks for a person instead of asking the provider again.
    auth.revoke_all().await;
    let revoked = me(api, "crm").await;
    assert_eq!(revoked["success"], false, "{revoked}");
    let status = state_of(api, "crm").await;
    assert_eq!(status["state"], "reconnect_required", "{status}");
    for _ in 0..3 {
        let again = me(api, "crm").await;
        assert_eq!(again["errorCode"], "OAUTH_RECONNECT_REQUIRED", "{again}");
    }
    assert_eq!(
        auth.stats()
            .await
            .refused_for("refresh_token", "invalid_grant"),
        1,
        "the provider was asked again after invalid_grant"
    );

    // Reconnecting repairs it; disconnecting forgets the grant.
    connect(&setup, "crm").await;
    assert_eq!(me(api, "crm").await["success"], true);
    let (status, _) = api
        .send(reqwest::Method::DELETE, "/api/connectors/crm/oauth", None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(me(api, "crm").await["errorCode"], "OAUTH_NOT_CONNECTED");
    drop(setup);
}

#[tokio::test]
async fn fifty_executions_with_an_expired_token_refresh_once() {
    if !AuthServer::available() {
        return;
    }
    // Six seconds: the token the refresh brings must outlive the burst,
    // however loaded the machine.
    let setup = setup(6);
    let api = &setup.api;
    assert_eq!(
        api.post("/api/connectors", definition("burst", &setup.auth))
            .await
            .0,
        201
    );
    connect(&setup, "burst").await;
    tokio::time::sleep(Duration::from_millis(6_200)).await;
    let runs = (0..50).map(|_| me(api, "burst"));
    let results = futures::future::join_all(runs).await;
    for result in &results {
        assert_eq!(result["success"], true, "{result}");
    }
    let stats = setup.auth.stats().await;
    assert_eq!(stats.granted("refresh_token"), 1, "{stats}");
}

#[tokio::test]
async fn forged_replayed_denied_and_crossed_callbacks_store_nothing() {
    if !AuthServer::available() {
        return;
    }
    let setup = setup(60);
    let (api, auth, url) = (&setup.api, &setup.auth, &setup.server.url);
    for name in ["left", "right"] {
        assert_eq!(
            api.post("/api/connectors", definition(name, auth)).await.0,
            201
        );
    }
    let callback = |query: &str| format!("{url}/api/oauth/callback?{query}");

    // A state nobody issued, and none at all.
    assert_error(
        deliver(&callback("code=x&state=forged")).await,
        400,
        "OAUTH_INVALID_STATE",
        "unknown",
    );
    assert_error(
        deliver(&callback("code=x")).await,
        400,
        "OAUTH_INVALID_STATE",
        "no `state`",
    );

    // The person refuses at the provider.
    let denied = auth.deny(&authorize(api, "left").await).await;
    assert_error(
        deliver(&denied).await,
        400,
        "OAUTH_PROVIDER_ERROR",
        "access_denied",
    );

    // A code obtained for `left`, delivered with a state issued for
    // `right`: the exchange uses right's verifier, and the provider refuses
    // the code (PKCE). The same happens to a code delivered with another
    // authorization's state of the same connector (a wrong verifier).
    let for_left = auth.consent(&authorize(api, "left").await).await;
    let code = query_value(&for_left, "code");
    let right_state = query_value(&authorize(api, "right").await, "state");
    assert_error(
        deliver(&callback(&format!("code={code}&state={right_state}"))).await,
        502,
        "OAUTH_EXCHANGE_FAILED",
        "invalid_grant",
    );
    let other_left_state = query_value(&authorize(api, "left").await, "state");
    let second_code = query_value(&auth.consent(&authorize(api, "left").await).await, "code");
    assert_error(
        deliver(&callback(&format!(
            "code={second_code}&state={other_left_state}"
        )))
        .await,
        502,
        "OAUTH_EXCHANGE_FAILED",
        "invalid_grant",
    );
    for name in ["left", "right"] {
        assert_eq!(
            state_of(api, name).await["state"],
            "not_connected",
            "{name}"
        );
    }
    // The original, untouched callback for `left` still works once.
    let (status, connected) = deliver(&for_left).await;
    assert_eq!(status, 200, "{connected}");
    assert_eq!(state_of(api, "left").await["state"], "connected");
    assert_eq!(state_of(api, "right").await["state"], "not_connected");
}

#[tokio::test]
async fn tokens_never_leave_the_server_in_clear() {
    if !AuthServer::available() {
        return;
    }
    let mut setup = setup(60);
    let api = setup.api.clone();
    assert_eq!(
        api.post("/api/connectors", definition("quiet", &setup.auth))
            .await
            .0,
        201
    );
    connect(&setup, "quiet").await;
    let leaked = api
        .post("/api/connectors/quiet/execute", json!({"command": "leak"}))
        .await
        .1;
    assert_eq!(leaked["data"]["token"], "***", "{leaked}");
    assert_eq!(leaked["logs"][0]["message"], "token ***", "{leaked}");
    let mut seen = vec![leaked.to_string()];
    seen.push(api.get("/api/connectors/quiet").await.1.to_string());
    seen.push(
        api.get("/api/connectors/quiet/executions")
            .await
            .1
            .to_string(),
    );
    assert_eq!(me(&api, "quiet").await["success"], true);
    // The CLI, as a person and as a script, shows the state and no token.
    let (shown, people, _) = floh_cli_for_people(&setup.server, &["connector", "get", "quiet"]);
    assert_eq!(shown, 0);
    assert!(people.contains("connected"), "{people}");
    let (ok, as_json, _) = floh_cli(&setup.server, &["connector", "get", "quiet"]);
    assert!(ok && as_json["oauth"]["state"] == "connected", "{as_json}");
    let (connect_code, connect_url, _) =
        floh_cli_for_people(&setup.server, &["connector", "connect", "quiet"]);
    assert_eq!(connect_code, 0);
    assert!(connect_url.contains("code_challenge="), "{connect_url}");
    seen.extend([people, as_json.to_string(), connect_url]);
    let tokens = setup.auth.issued_tokens().await;
    assert!(tokens.len() >= 2, "access and refresh token: {tokens:?}");
    setup.server.stop();
    let mut stored = Vec::new();
    for entry in walk(setup.data.path()) {
        stored.push(std::fs::read(&entry).unwrap_or_default());
    }
    let printed = setup.server.output.lock().expect("output").clone();
    for token in &tokens {
        for text in &seen {
            assert!(
                !text.contains(token.as_str()),
                "a token in an API or CLI answer"
            );
        }
        assert!(
            !printed.contains(token.as_str()),
            "a token in the server's output"
        );
        for bytes in &stored {
            assert!(
                !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
                "a token in clear in the data directory"
            );
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn query_value(url: &str, name: &str) -> String {
    reqwest::Url::parse(url)
        .expect("url")
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .unwrap_or_else(|| panic!("`{name}` in {url}"))
}

#[tokio::test]
async fn the_password_grant_connects_by_itself_and_refreshes() {
    if !AuthServer::available() {
        return;
    }
    let setup = setup(3);
    let (api, auth) = (&setup.api, &setup.auth);
    let mut unattended = definition("unattended", auth);
    unattended["configSchema"]["oauth2"] =
        json!({"grant": "password", "tokenUrl": auth.token_url, "scopes": ["read"]});
    unattended["config"]["username"] = json!(super::provider::USERNAME);
    unattended["config"]["password"] = json!(super::provider::PASSWORD);
    let (status, created) = api.post("/api/connectors", unattended).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["config"]["password"], "***", "{created}");
    // Connect is for people; this grant needs none.
    assert_error(
        api.post("/api/connectors/unattended/oauth/authorize", json!({}))
            .await,
        409,
        "OAUTH_NOT_SUPPORTED",
        "password grant",
    );
    let first = me(api, "unattended").await;
    assert_eq!(first["success"], true, "{first}");
    assert_eq!(state_of(api, "unattended").await["state"], "connected");
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    assert_eq!(me(api, "unattended").await["success"], true);
    let stats = auth.stats().await;
    assert_eq!(
        (stats.granted("password"), stats.granted("refresh_token")),
        (1, 1),
        "{stats}"
    );
}

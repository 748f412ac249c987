//! A connector with an OAuth2 grant that runs on an on-premise agent: the
//! server keeps and refreshes the grant, and each command carries the
//! current access token sealed to the agent with the rest of the config.
//! The refresh token never travels, and no token shows in the agent's
//! output.

use std::time::Duration;

use floh_e2e::{AgentProcess, Server};
use serde_json::json;

use super::connect::{CLIENT_ID, CLIENT_SECRET, connect_with, definition};
use super::provider::{AuthServer, ClientSpec};
use crate::agent::{LOOPBACK, issue_token, wait_connected};

#[tokio::test]
async fn an_agent_gets_the_current_access_token_and_the_server_refreshes_it() {
    if !AuthServer::available() {
        return;
    }
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(&data.path().join("data"));
    let callback = format!("{}/api/oauth/callback", server.url);
    let auth = AuthServer::start(&[ClientSpec::basic(CLIENT_ID, CLIENT_SECRET, &callback)], 3);
    let api = server.admin();
    let (status, created) = api
        .post("/api/connectors", definition("plant-crm", &auth))
        .await;
    assert_eq!(status, 201, "{created}");
    connect_with(&api, &auth, "plant-crm").await;

    let token = issue_token(&api, "plant", None).await;
    let agent = AgentProcess::start(
        &server.url,
        &token,
        "agent-plant",
        &["plant-crm"],
        &data.path().join("agent"),
        &LOOPBACK,
    );
    wait_connected(&api, 1).await;
    let run = || async {
        api.post(
            "/api/connectors/plant-crm/execute",
            json!({"command": "me"}),
        )
        .await
        .1
    };
    let first = run().await;
    assert_eq!(first["success"], true, "{first}\n{}", agent.printed());
    assert_eq!(first["agent"], "agent-plant", "{first}");
    assert_eq!(first["data"]["clientId"], CLIENT_ID);

    // Expired: the server refreshes before sealing the next command. (Counted
    // from here: on a loaded machine the first command may already have
    // found the three-second token due.)
    let refreshed = auth.stats().await.granted("refresh_token");
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    let second = run().await;
    assert_eq!(second["success"], true, "{second}\n{}", agent.printed());
    assert_eq!(second["agent"], "agent-plant");
    assert_eq!(auth.stats().await.granted("refresh_token"), refreshed + 1);

    let printed = agent.printed();
    for issued in auth.issued_tokens().await {
        let line = printed.lines().find(|line| line.contains(&issued));
        assert!(
            line.is_none(),
            "a token in the agent's output: {}",
            line.unwrap_or_default().replace(&issued, "<TOKEN>")
        );
    }
}

//! Agent tokens through the API and the CLI: issued once, stored hashed,
//! listed without secrets, revoked.

use floh_e2e::{Api, Server, floh_cli};
use serde_json::json;

#[tokio::test]
async fn agent_tokens_are_issued_once_listed_without_secrets_and_revoked() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let admin = server.admin();

    let (status, issued) = admin
        .post(
            "/api/agents/tokens",
            json!({"name": "plant-a", "expiresInSeconds": 3600}),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let token = issued["token"].as_str().expect("token");
    assert!(token.starts_with("flo_agent_"), "{token}");
    let id = issued["id"].as_str().expect("id").to_string();
    assert!(issued["expiresAtMs"].as_u64() > issued["createdAtMs"].as_u64());

    let (status, listed) = admin.get("/api/agents/tokens").await;
    assert_eq!(status, 200);
    assert!(!listed.to_string().contains(token), "{listed}");
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["name"], "plant-a");

    // An agent token is not an API token.
    let as_api = Api::new(&server.url, Some(token));
    assert_eq!(as_api.get("/api/connectors").await.0, 401);

    // Executors may look but not issue or revoke.
    let (_, executor) = admin
        .post("/api/tokens", json!({"name": "ci", "role": "executor"}))
        .await;
    let executor = Api::new(&server.url, executor["token"].as_str());
    assert_eq!(executor.get("/api/agents/tokens").await.0, 200);
    assert_eq!(
        executor
            .post("/api/agents/tokens", json!({"name": "x"}))
            .await
            .0,
        403
    );
    let (status, _) = executor
        .send(
            reqwest::Method::DELETE,
            &format!("/api/agents/tokens/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 403);

    let (status, revoked) = admin
        .send(
            reqwest::Method::DELETE,
            &format!("/api/agents/tokens/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{revoked}");
    assert!(revoked["revokedAtMs"].is_u64());
    let (status, missing) = admin
        .send(
            reqwest::Method::DELETE,
            "/api/agents/tokens/atok-nope",
            None,
        )
        .await;
    assert_eq!(
        (status, &missing["error"]["code"]),
        (404, &json!("TOKEN_NOT_FOUND"))
    );
    let (status, bad) = admin.post("/api/agents/tokens", json!({"name": " "})).await;
    assert_eq!(status, 400, "{bad}");
}

#[tokio::test]
async fn the_cli_creates_lists_and_revokes_agent_tokens() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let (ok, created, stderr) = floh_cli(
        &server,
        &[
            "agent",
            "token",
            "create",
            "--name",
            "plant-b",
            "--expires-in",
            "60",
        ],
    );
    assert!(ok, "{stderr}");
    assert!(
        created["token"]
            .as_str()
            .is_some_and(|t| t.starts_with("flo_agent_"))
    );
    let id = created["id"].as_str().expect("id");

    let (ok, listed, stderr) = floh_cli(&server, &["agent", "token", "list"]);
    assert!(ok, "{stderr}");
    assert_eq!(listed[0]["id"], id);
    assert!(listed[0].get("token").is_none());

    let (ok, revoked, stderr) = floh_cli(&server, &["agent", "token", "revoke", id]);
    assert!(ok, "{stderr}");
    assert!(revoked["revokedAtMs"].is_u64());
    let (ok, _, stderr) = floh_cli(&server, &["agent", "token", "revoke", "atok-nope"]);
    assert!(!ok);
    assert!(stderr.contains("TOKEN_NOT_FOUND"), "{stderr}");
}

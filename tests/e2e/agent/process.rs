//! Real `floh agent` processes against a real server: reaching what the
//! server may not, token refusals, agents killed mid-command, several agents
//! sharing a connector, server restarts and `wss://`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use floh_e2e::{
    AgentProcess, Server, ServerSettings, TestCertificate, eventually, floh_cli, upstream,
};
use serde_json::{Value, json};

use super::{LOOPBACK, agents, fetcher, issue_token, wait_connected};
use crate::crm;

const REGISTERED: &str = "floh agent registered";
const SECRET: &str = "sk-private-net-41d9c07e";

/// A server that refuses private destinations, like a production one.
fn guarded_server(data: &std::path::Path) -> Server {
    let settings = ServerSettings {
        default_egress: true,
        ..ServerSettings::default()
    };
    Server::start_with(data, settings).expect("server starts")
}

/// An upstream that answers `/items` and `/slow` (after 30 s), counting the
/// requests that carried the right bearer token.
async fn private_upstream() -> (String, Arc<AtomicUsize>) {
    let authorized = Arc::new(AtomicUsize::new(0));
    let counter = authorized.clone();
    let router = axum::Router::new()
        .route(
            "/items",
            get(move |headers: HeaderMap| {
                let counter = counter.clone();
                async move {
                    if headers.get("authorization").and_then(|v| v.to_str().ok())
                        == Some(&format!("Bearer {SECRET}"))
                    {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    Json(json!({"items": ["from", "inside"]}))
                }
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Json(json!({"late": true}))
            }),
        )
        .route(
            "/slowish",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                Json(json!({"finished": true}))
            }),
        )
        .route(
            "/execute",
            post(|Json(body): Json<Value>| async move {
                Json(json!({"success": true, "data": {"echo": body["params"], "key": body["config"]["apiKey"] == SECRET}}))
            }),
        );
    (upstream(router).await, authorized)
}

async fn fetch(api: &floh_e2e::Api, connector: &str, path: &str) -> Value {
    let (status, result) = api
        .post(
            &format!("/api/connectors/{connector}/execute"),
            json!({"command": "fetch", "params": {"path": path}}),
        )
        .await;
    assert_eq!(status, 200, "{result}");
    result
}

#[tokio::test]
async fn an_agent_reaches_the_upstream_the_server_refuses() {
    let (private_url, authorized) = private_upstream().await;
    let data = tempfile::tempdir().expect("dir");
    let server = guarded_server(&data.path().join("data"));
    let api = server.admin();
    let (status, created) = api
        .post(
            "/api/connectors",
            fetcher("internal-items", &private_url, SECRET),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let external = json!({
        "name": "internal-service",
        "executionModel": "external",
        "endpointUrl": private_url,
        "configSchema": {"connectionConfig": {"apiKey": {"type": "string", "secret": true}}, "commands": {}},
        "config": {"apiKey": SECRET}
    });
    assert_eq!(api.post("/api/connectors", external).await.0, 201);
    let built_in = json!({
        "name": "internal-rest",
        "type": "http",
        "executionModel": "built_in",
        "config": {"baseUrl": private_url, "authType": "bearer", "bearerToken": SECRET}
    });
    assert_eq!(api.post("/api/connectors", built_in).await.0, 201);

    // The server itself may not go there.
    let refused = fetch(&api, "internal-items", "/items").await;
    assert_eq!(refused["success"], false, "{refused}");
    assert!(refused.to_string().contains("loopback"), "{refused}");
    assert_eq!(authorized.load(Ordering::SeqCst), 0);

    let token = issue_token(&api, "plant-a", None).await;
    let connectors = ["internal-items", "internal-service", "internal-rest"];
    let agent = AgentProcess::start(
        &server.url,
        &token,
        "agent-plant-a",
        &connectors,
        &data.path().join("agent"),
        &LOOPBACK,
    );
    assert!(
        agent.wait_for(REGISTERED, 1, Duration::from_secs(60)).await,
        "{}",
        agent.printed()
    );

    // A script connector: the request leaves from the agent, with the
    // secret the server sealed to the agent's key.
    let result = fetch(&api, "internal-items", "/items").await;
    assert_eq!(result["success"], true, "{result}");
    assert_eq!(result["data"], json!({"items": ["from", "inside"]}));
    assert_eq!(result["executionModel"], "script");
    assert_eq!(result["httpCalls"][0]["status"], 200, "{result}");
    assert_eq!(authorized.load(Ordering::SeqCst), 1);
    // The script logged the key: masked by the agent.
    let logs = result["logs"].to_string();
    assert!(logs.contains("fetched /items with ***"), "{logs}");

    // An external connector, called from inside the network.
    let (status, result) = api
        .post(
            "/api/connectors/internal-service/execute",
            json!({"command": "lookup", "params": {"uid": "jdoe"}}),
        )
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(
        result["data"],
        json!({"echo": {"uid": "jdoe"}, "key": true}),
        "{result}"
    );

    // A built-in (WASM plugin) type, run by the agent's own runtime.
    let (status, result) = api
        .post(
            "/api/connectors/internal-rest/execute",
            json!({"command": "request", "params": {"method": "GET", "path": "/items"}}),
        )
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["data"]["body"]["items"][1], "inside", "{result}");
    assert_eq!(authorized.load(Ordering::SeqCst), 2);

    let listed = agents(&api).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let status = &listed[0];
    assert_eq!(status["agentId"], "agent-plant-a");
    assert_eq!(status["status"], "connected");
    assert_eq!(status["completed"], 3, "{status}");
    assert_eq!(status["inFlight"], 0);
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(status["connectorNames"], json!(connectors));
    assert!(status["lastHeartbeatMs"].as_u64() >= status["connectedAtMs"].as_u64());

    let (_, metrics) = floh_e2e::Api::new(&server.url, None).get("/metrics").await;
    let metrics = metrics.as_str().unwrap_or_default().to_string();
    assert!(
        metrics.contains("floh_agent_connected{agent=\"agent-plant-a\"} 1"),
        "{metrics}"
    );

    // Secrets appear nowhere in clear: not in the agent listing, not in
    // either process's output.
    assert!(!listed[0].to_string().contains(&token));
    assert!(!server.printed().contains(SECRET), "{}", server.printed());
    assert!(!agent.printed().contains(SECRET), "{}", agent.printed());
    assert!(!agent.printed().contains(&token));
}

#[tokio::test]
async fn bad_expired_and_revoked_tokens_stop_the_agent_and_unknown_connectors_are_refused() {
    let (private_url, _) = private_upstream().await;
    let data = tempfile::tempdir().expect("dir");
    let mut server = Server::start(&data.path().join("data"));
    let api = server.admin();
    let definition = fetcher("directory", &private_url, SECRET);
    assert_eq!(api.post("/api/connectors", definition).await.0, 201);
    let state = data.path().join("agent");

    let mut bad = AgentProcess::start(
        &server.url,
        "flo_agent_not-a-token",
        "a1",
        &["directory"],
        &state,
        &LOOPBACK,
    );
    let status = bad.exit_status(Duration::from_secs(60)).await;
    assert!(status.is_some_and(|s| !s.success()), "{}", bad.printed());
    assert!(bad.printed().contains("INVALID_TOKEN"), "{}", bad.printed());

    let expiring = issue_token(&api, "short", Some(1)).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut expired = AgentProcess::start(
        &server.url,
        &expiring,
        "a1",
        &["directory"],
        &state,
        &LOOPBACK,
    );
    let status = expired.exit_status(Duration::from_secs(60)).await;
    assert!(
        status.is_some_and(|s| !s.success()),
        "{}",
        expired.printed()
    );
    assert!(
        expired.printed().contains("TOKEN_EXPIRED"),
        "{}",
        expired.printed()
    );

    // A connector the server does not have: refused with a reason, and the
    // agent keeps trying (the connector may be created later).
    let token = issue_token(&api, "plant", None).await;
    let mut unknown =
        AgentProcess::start(&server.url, &token, "a2", &["no-such"], &state, &LOOPBACK);
    assert!(
        unknown
            .wait_for("UNKNOWN_CONNECTOR", 1, Duration::from_secs(60))
            .await,
        "{}",
        unknown.printed()
    );
    assert!(
        unknown
            .exit_status(Duration::from_millis(300))
            .await
            .is_none(),
        "{}",
        unknown.printed()
    );
    unknown.kill();

    let (_, records) = api.get("/api/agents/tokens").await;
    let token_id = records
        .as_array()
        .expect("tokens")
        .iter()
        .find(|r| r["name"] == "plant")
        .and_then(|r| r["id"].as_str())
        .expect("token id")
        .to_string();
    let mut revoked =
        AgentProcess::start(&server.url, &token, "a3", &["directory"], &state, &LOOPBACK);
    assert!(
        revoked
            .wait_for(REGISTERED, 1, Duration::from_secs(60))
            .await,
        "{}",
        revoked.printed()
    );
    assert_eq!(fetch(&api, "directory", "/items").await["success"], true);
    let (status, _) = api
        .send(
            reqwest::Method::DELETE,
            &format!("/api/agents/tokens/{token_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let status = revoked.exit_status(Duration::from_secs(30)).await;
    assert!(
        status.is_some_and(|s| !s.success()),
        "{}",
        revoked.printed()
    );
    assert!(
        revoked.printed().contains("TOKEN_REVOKED"),
        "{}",
        revoked.printed()
    );

    // The connector belongs to an agent that is gone: a clear error, not a
    // silent run on the server, even after the server restarts.
    server.restart();
    let api = server.admin();
    let listed = agents(&api).await;
    let a3 = listed
        .iter()
        .find(|a| a["agentId"] == "a3")
        .expect("a3 listed");
    assert_eq!(a3["status"], "disconnected", "{a3}");
    let result = fetch(&api, "directory", "/items").await;
    assert_eq!(result["errorCode"], "AGENT_UNAVAILABLE", "{result}");
    assert!(
        result["error"].as_str().is_some_and(|e| e.contains("a3")),
        "{result}"
    );
    // Removing the agent hands the connector back to the server.
    let (status, _) = api
        .send(reqwest::Method::DELETE, "/api/agents/a3", None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(fetch(&api, "directory", "/items").await["success"], true);
    let (status, missing) = api
        .send(reqwest::Method::DELETE, "/api/agents/a3", None)
        .await;
    assert_eq!(
        (status, &missing["error"]["code"]),
        (404, &json!("AGENT_NOT_FOUND"))
    );
}

#[tokio::test]
async fn two_agents_share_a_connector_and_a_killed_one_fails_only_its_own_command() {
    let (private_url, _) = private_upstream().await;
    let data = tempfile::tempdir().expect("dir");
    let server = guarded_server(&data.path().join("data"));
    let api = server.admin();
    let definition = fetcher("shared", &private_url, SECRET);
    assert_eq!(api.post("/api/connectors", definition).await.0, 201);
    let token = issue_token(&api, "pair", None).await;
    let mut first = AgentProcess::start(
        &server.url,
        &token,
        "agent-1",
        &["shared"],
        &data.path().join("agent-1"),
        &LOOPBACK,
    );
    let mut second = AgentProcess::start(
        &server.url,
        &token,
        "agent-2",
        &["shared"],
        &data.path().join("agent-2"),
        &LOOPBACK,
    );
    wait_connected(&api, 2).await;

    let calls = (0..20).map(|_| fetch(&api, "shared", "/items"));
    for result in futures::future::join_all(calls).await {
        assert_eq!(result["success"], true, "{result}");
    }
    let listed = agents(&api).await;
    let completed: Vec<u64> = listed
        .iter()
        .map(|a| a["completed"].as_u64().expect("completed"))
        .collect();
    assert_eq!(completed.iter().sum::<u64>(), 20, "{listed:?}");
    assert!(completed.iter().all(|&n| n > 0), "both used: {listed:?}");

    // A slow command; kill the agent that holds it.
    let slow_api = api.clone();
    let started = Instant::now();
    let slow = tokio::spawn(async move {
        slow_api
            .post(
                "/api/connectors/shared/execute",
                json!({"command": "fetch", "params": {"path": "/slow"}, "metadata": {"timeout": 60000}}),
            )
            .await
    });
    let holder = eventually(Duration::from_secs(30), || async {
        agents(&api)
            .await
            .into_iter()
            .find(|a| a["inFlight"] == 1)
            .and_then(|a| a["agentId"].as_str().map(str::to_string))
    })
    .await
    .expect("an agent holds the slow command");
    if holder == "agent-1" {
        first.kill();
    } else {
        second.kill();
    }
    let (status, result) = slow.await.expect("slow call");
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["errorCode"], "AGENT_DISCONNECTED", "{result}");
    assert!(
        result["error"]
            .as_str()
            .is_some_and(|e| e.contains(&holder)),
        "{result}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "failed within the command's timeout, not after it"
    );

    // New commands go to the survivor.
    for _ in 0..5 {
        assert_eq!(fetch(&api, "shared", "/items").await["success"], true);
    }
    let listed = agents(&api).await;
    let gone = listed
        .iter()
        .find(|a| a["agentId"] == holder.as_str())
        .expect("listed");
    assert_eq!(gone["status"], "disconnected", "{gone}");
}

#[tokio::test]
async fn the_agent_reconnects_after_the_server_restarts() {
    let (private_url, _) = private_upstream().await;
    let data = tempfile::tempdir().expect("dir");
    let mut server = guarded_server(&data.path().join("data"));
    let api = server.admin();
    let definition = fetcher("ldap", &private_url, SECRET);
    assert_eq!(api.post("/api/connectors", definition).await.0, 201);
    let token = issue_token(&api, "restart", None).await;
    let agent = AgentProcess::start(
        &server.url,
        &token,
        "agent-r",
        &["ldap"],
        &data.path().join("agent"),
        &LOOPBACK,
    );
    assert!(agent.wait_for(REGISTERED, 1, Duration::from_secs(60)).await);
    assert_eq!(fetch(&api, "ldap", "/items").await["success"], true);

    server.restart();
    // Sent before the agent is back: the command waits for it to reconnect
    // (the server remembers the claim) instead of failing or running here.
    let api = server.admin();
    let result = fetch(&api, "ldap", "/items").await;
    assert_eq!(result["success"], true, "{result}");
    assert_eq!(result["data"]["items"][1], "inside");
    assert!(
        agent.wait_for(REGISTERED, 2, Duration::from_secs(60)).await,
        "{}",
        agent.printed()
    );
    assert_eq!(fetch(&api, "ldap", "/items").await["success"], true);
}

#[tokio::test]
async fn agents_connect_over_wss_trusting_a_private_ca() {
    let (crm_url, _) = crm::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let certificate = TestCertificate::create(dir.path());
    let settings = ServerSettings {
        tls: Some((certificate.cert.clone(), certificate.key.clone())),
        default_egress: true,
        ..ServerSettings::default()
    };
    let server = Server::start_with(&dir.path().join("data"), settings).expect("https server");
    let api = floh_e2e::Api::with_client(
        &server.url,
        Some(floh_e2e::ADMIN_TOKEN),
        certificate.client(),
    );
    let (status, created) = api
        .post("/api/connectors", crm::definition("crm", &crm_url))
        .await;
    assert_eq!(status, 201, "{created}");
    let token = issue_token(&api, "tls", None).await;
    let wss = server.url.replace("https://", "wss://");

    // Without the CA the agent does not trust the server.
    let untrusting = AgentProcess::start(
        &wss,
        &token,
        "agent-untrusting",
        &["crm"],
        &dir.path().join("agent-0"),
        &LOOPBACK,
    );
    assert!(
        untrusting
            .wait_for("cannot connect to the server", 1, Duration::from_secs(60))
            .await,
        "{}",
        untrusting.printed()
    );
    assert!(!untrusting.printed().contains(REGISTERED));
    drop(untrusting);

    let ca = certificate.cert.to_string_lossy().to_string();
    let mut args = LOOPBACK.to_vec();
    args.extend(["--ca-cert", &ca]);
    let agent = AgentProcess::start(
        &wss,
        &token,
        "agent-tls",
        &["crm"],
        &dir.path().join("agent"),
        &args,
    );
    assert!(
        agent.wait_for(REGISTERED, 1, Duration::from_secs(60)).await,
        "{}",
        agent.printed()
    );
    let (status, result) = api
        .post(
            "/api/connectors/crm/execute",
            json!({"command": "listContacts", "params": {"limit": 2}}),
        )
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["success"], true, "{result}");
    assert_eq!(result["data"]["total"], 2);
}

#[tokio::test]
async fn an_agent_at_its_in_flight_limit_refuses_more_and_the_cli_lists_and_removes_it() {
    let (private_url, _) = private_upstream().await;
    let data = tempfile::tempdir().expect("dir");
    let settings = ServerSettings {
        extra_args: vec!["--agent-max-in-flight".into(), "1".into()],
        ..ServerSettings::default()
    };
    let server = Server::start_with(&data.path().join("data"), settings).expect("server");
    let api = server.admin();
    let definition = fetcher("narrow", &private_url, SECRET);
    assert_eq!(api.post("/api/connectors", definition).await.0, 201);
    let token = issue_token(&api, "narrow", None).await;
    let agent = AgentProcess::start(
        &server.url,
        &token,
        "agent-narrow",
        &["narrow"],
        &data.path().join("agent"),
        &LOOPBACK,
    );
    assert!(agent.wait_for(REGISTERED, 1, Duration::from_secs(60)).await);

    let slow_api = api.clone();
    let slow = tokio::spawn(async move { fetch(&slow_api, "narrow", "/slow").await });
    eventually(Duration::from_secs(30), || async {
        (agents(&api).await[0]["inFlight"] == 1).then_some(())
    })
    .await
    .expect("the slow command is in flight");
    let refused = fetch(&api, "narrow", "/items").await;
    assert_eq!(refused["errorCode"], "AGENT_BUSY", "{refused}");

    let (ok, listed, stderr) = floh_cli(&server, &["agent", "list"]);
    assert!(ok, "{stderr}");
    assert_eq!(listed[0]["agentId"], "agent-narrow", "{listed}");
    assert_eq!(listed[0]["inFlight"], 1, "{listed}");

    // Removing a running agent disconnects it (failing what it held); it
    // registers again, as a running agent should.
    let (ok, _, stderr) = floh_cli(&server, &["agent", "remove", "agent-narrow"]);
    assert!(ok, "{stderr}");
    let held = slow.await.expect("slow call");
    assert_eq!(held["errorCode"], "AGENT_DISCONNECTED", "{held}");
    // The server answers the held command before the agent has printed why
    // it was dropped: wait for the line rather than racing it.
    assert!(
        agent
            .wait_for("AGENT_REMOVED", 1, Duration::from_secs(30))
            .await,
        "{}",
        agent.printed()
    );
    assert!(agent.wait_for(REGISTERED, 2, Duration::from_secs(60)).await);
    assert_eq!(fetch(&api, "narrow", "/items").await["success"], true);
    let (ok, _, stderr) = floh_cli(&server, &["agent", "remove", "nobody"]);
    assert!(!ok);
    assert!(stderr.contains("AGENT_NOT_FOUND"), "{stderr}");
}

#[tokio::test]
async fn a_stopping_agent_finishes_its_commands_and_takes_no_new_ones() {
    let (private_url, _) = private_upstream().await;
    let data = tempfile::tempdir().expect("dir");
    let server = Server::start(&data.path().join("data"));
    let api = server.admin();
    let definition = fetcher("drained", &private_url, SECRET);
    assert_eq!(api.post("/api/connectors", definition).await.0, 201);
    let token = issue_token(&api, "drain", None).await;
    let mut args = LOOPBACK.to_vec();
    args.extend(["--drain-seconds", "20"]);
    let mut agent = AgentProcess::start(
        &server.url,
        &token,
        "agent-drain",
        &["drained"],
        &data.path().join("agent"),
        &args,
    );
    assert!(agent.wait_for(REGISTERED, 1, Duration::from_secs(60)).await);

    let held_api = api.clone();
    let held = tokio::spawn(async move { fetch(&held_api, "drained", "/slowish").await });
    eventually(Duration::from_secs(30), || async {
        (agents(&api).await[0]["inFlight"] == 1).then_some(())
    })
    .await
    .expect("the command is in flight");
    agent.terminate();
    assert!(
        agent
            .wait_for(
                "draining: 1 command(s) in flight",
                1,
                Duration::from_secs(10)
            )
            .await,
        "{}",
        agent.printed()
    );
    let listed = eventually(Duration::from_secs(10), || async {
        let listed = agents(&api).await;
        (listed[0]["status"] != "connected").then_some(listed)
    })
    .await
    .expect("no longer taking commands");
    assert!(
        ["draining", "disconnected"].contains(&listed[0]["status"].as_str().unwrap_or("")),
        "{listed:?}"
    );
    // Nothing new goes to a draining agent.
    let refused = fetch(&api, "drained", "/items").await;
    assert_eq!(refused["errorCode"], "AGENT_UNAVAILABLE", "{refused}");

    // What it held finished and was answered; then it exited cleanly.
    let finished = held.await.expect("held command");
    assert_eq!(finished["success"], true, "{finished}");
    assert_eq!(finished["data"], json!({"finished": true}));
    let status = agent.exit_status(Duration::from_secs(30)).await;
    assert!(status.is_some_and(|s| s.success()), "{}", agent.printed());
    assert!(agent.printed().contains("floh agent stopped"));
}

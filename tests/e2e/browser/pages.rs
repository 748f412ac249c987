//! The UI's pages in a real browser: one server seeded with the spec's
//! `my-crm` connector (its API key is a secret) and a CRM stand-in.

use std::time::Duration;

use floh_e2e::AgentProcess;
use serde_json::json;

use super::BrowserGroup;
use crate::crm;

/// A group seeded with `my-crm` pointing at a fresh CRM stand-in.
async fn with_crm() -> Option<BrowserGroup> {
    let mut group = BrowserGroup::start().await?;
    let (crm_url, _) = crm::start().await;
    group.secret(crm::API_KEY);
    let (status, created) = group
        .api
        .post("/api/connectors", crm::definition("my-crm", &crm_url))
        .await;
    assert_eq!(status, 201, "{created}");
    Some(group)
}

#[tokio::test]
async fn admin_pages_run_test_trace_agents_and_tokens() {
    let Some(mut group) = with_crm().await else {
        return;
    };
    group.run("shell", json!({ "connector": "my-crm" })).await;
    group
        .run(
            "connector-run",
            json!({ "connector": "my-crm", "apiKey": crm::API_KEY }),
        )
        .await;

    // A real agent connects while the agents page is open.
    let (crm_url, _) = crm::start().await;
    let (status, created) = group
        .api
        .post("/api/connectors", crm::definition("onprem-crm", &crm_url))
        .await;
    assert_eq!(status, 201, "{created}");
    let (status, issued) = group
        .api
        .post(
            "/api/agents/tokens",
            json!({"name": "site-a", "connectors": ["onprem-crm"]}),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let agent_token = issued["token"].as_str().expect("token").to_string();
    group.secret(&agent_token);
    let state = tempfile::tempdir().expect("agent state");
    let url = group.server.url.clone();
    let state_dir = state.path().to_path_buf();
    let agent = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(6));
        AgentProcess::start(
            &url,
            &agent_token,
            "site-a",
            &["onprem-crm"],
            &state_dir,
            &[],
        )
    });
    group
        .run("agents-tokens", json!({ "agentName": "site-a" }))
        .await;
    drop(agent.join().expect("agent started"));
}

#[tokio::test]
async fn an_executor_gets_no_admin_controls_and_forged_requests_are_refused() {
    let Some(group) = with_crm().await else {
        return;
    };
    group
        .run("executor", json!({ "connector": "my-crm" }))
        .await;
    let (status, _) = group.api.get("/api/connectors/my-crm").await;
    assert_eq!(status, 200, "the forged deletes did nothing");
}

//! An agent token revoked through one node closes, within a second, the
//! session of the agent that uses it on another node.

use std::time::{Duration, Instant};

use floh_e2e::AgentProcess;
use floh_e2e::postgres::TestPostgres;
use serde_json::json;

use super::{Node, within_limit};
use crate::agent::{LOOPBACK, agents, fetcher, wait_connected};

/// How long after a revocation the agent's session may stay open.
const REVOCATION_LIMIT: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_token_revoked_through_b_closes_the_agents_session_on_a_within_a_second() {
    let Some(postgres) = TestPostgres::shared() else {
        return;
    };
    let database = postgres.database("agent revocation");
    let a = Node::start(&database);
    let b = Node::start(&database);
    let (on_a, on_b) = (a.server.admin(), b.server.admin());

    // The agent registers for a connector; it never has to run it.
    let definition = fetcher("plant-directory", "http://127.0.0.1:9", "sk-plant");
    let (status, created) = within_limit(
        "creating the connector on A",
        on_a.post("/api/connectors", definition),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (status, issued) = within_limit(
        "issuing the agent token on B",
        on_b.post("/api/agents/tokens", json!({"name": "plant"})),
    )
    .await;
    assert_eq!(status, 201, "{issued}");
    let token = issued["token"].as_str().expect("the token");
    let token_id = issued["id"].as_str().expect("the token's id");

    let state = tempfile::tempdir().expect("agent state dir");
    let mut agent = AgentProcess::start(
        &a.server.url,
        token,
        "plant-agent",
        &["plant-directory"],
        state.path(),
        &LOOPBACK,
    );
    let connected = wait_connected(&on_a, 1).await;
    assert_eq!(connected[0]["agentId"], "plant-agent", "{connected:?}");

    let (status, revoked) = within_limit(
        "revoking the agent token on B",
        on_b.send(
            reqwest::Method::DELETE,
            &format!("/api/agents/tokens/{token_id}"),
            None,
        ),
    )
    .await;
    assert_eq!(status, 200, "{revoked}");
    let revoked_at = Instant::now();
    loop {
        let listed = within_limit("listing A's agents", agents(&on_a)).await;
        let status = &listed[0]["status"];
        if status == "disconnected" {
            eprintln!(
                "the agent's session on A closed {:?} after the revocation on B",
                revoked_at.elapsed()
            );
            break;
        }
        assert!(
            revoked_at.elapsed() < REVOCATION_LIMIT,
            "A still lists the agent as {status} {REVOCATION_LIMIT:?} after its token was \
             revoked on B: {listed:?}\nA printed:\n{}\nthe agent printed:\n{}",
            a.server.printed(),
            agent.printed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The agent was told why, and gives up rather than reconnecting.
    let exited = agent.exit_status(Duration::from_secs(30)).await;
    assert!(exited.is_some_and(|s| !s.success()), "{}", agent.printed());
    assert!(
        agent.printed().contains("TOKEN_REVOKED"),
        "{}",
        agent.printed()
    );
}

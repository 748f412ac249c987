//! An agent removed through one node is forgotten by every node: the node
//! holding its connection closes it (`AGENT_REMOVED`), and a node that
//! remembered it from its start runs its connectors on the server again,
//! as a single node does after a removal.

use std::time::{Duration, Instant};

use floh_e2e::AgentProcess;
use floh_e2e::postgres::TestPostgres;
use serde_json::json;

use super::{Node, within_limit};
use crate::agent::{LOOPBACK, agents, fetcher, issue_token, wait_connected};

/// How long the other nodes may take to act on a removal.
const REMOVAL_LIMIT: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_removed_through_b_is_disconnected_on_a_and_forgotten_by_c() {
    let Some(postgres) = TestPostgres::shared() else {
        return;
    };
    let database = postgres.database("agent removal");
    let a = Node::start(&database);
    let b = Node::start(&database);
    let (on_a, on_b) = (a.server.admin(), b.server.admin());
    // The upstream is unreachable: a command that runs on a node fails
    // with the node's own HTTP error, not with an agent's code.
    let definition = fetcher("archive", "http://127.0.0.1:9", "sk-archive");
    let (status, created) = within_limit(
        "creating the connector",
        on_a.post("/api/connectors", definition),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let token = issue_token(&on_b, "archive", None).await;
    let state = tempfile::tempdir().expect("agent state dir");
    let agent = AgentProcess::start(
        &a.server.url,
        &token,
        "archive-agent",
        &["archive"],
        state.path(),
        &LOOPBACK,
    );
    wait_connected(&on_a, 1).await;
    // C starts knowing the agent (from the shared store), as a node that
    // restarts would.
    let c = Node::start(&database);
    let on_c = c.server.admin();
    assert_eq!(agents(&on_c).await[0]["agentId"], "archive-agent");

    let (status, body) = within_limit(
        "removing the agent through B",
        on_b.send(reqwest::Method::DELETE, "/api/agents/archive-agent", None),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let removed_at = Instant::now();
    loop {
        let on_a_now = agents(&on_a).await;
        let on_c_now = agents(&on_c).await;
        let forgotten_by_c = on_c_now
            .iter()
            .all(|agent| agent["agentId"] != "archive-agent");
        let closed_on_a = on_a_now
            .iter()
            .all(|agent| agent["agentId"] != "archive-agent" || agent["status"] != "connected")
            || agent.printed().contains("AGENT_REMOVED");
        if forgotten_by_c && closed_on_a {
            eprintln!("the removal reached A and C in {:?}", removed_at.elapsed());
            break;
        }
        assert!(
            removed_at.elapsed() < REMOVAL_LIMIT,
            "{REMOVAL_LIMIT:?} after the removal: A lists {on_a_now:?}, C lists {on_c_now:?}\n\
             the agent printed:\n{}",
            agent.printed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        agent
            .wait_for("AGENT_REMOVED", 1, Duration::from_secs(10))
            .await,
        "{}",
        agent.printed()
    );
    // Removing what no node knows is still a 404.
    let (status, body) = on_c
        .send(reqwest::Method::DELETE, "/api/agents/nobody", None)
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("AGENT_NOT_FOUND")),
        "{body}"
    );
}

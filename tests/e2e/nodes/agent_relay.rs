//! A command sent to one node for an agent connected to another is relayed
//! through PostgreSQL: the agent's answer comes back, commands spread over
//! agents on several nodes, a command waits a few seconds for an agent that
//! is reconnecting (and then fails with `AGENT_UNAVAILABLE`), and commands
//! in flight fail with `AGENT_DISCONNECTED`, not a hang, when the node
//! holding the agent is killed.
//!
//! The nodes refuse loopback destinations, like production servers: only
//! the agents, allowed onto loopback, reach the upstream. A command that a
//! node ran itself instead of relaying would fail, and every answer names
//! the agent that ran it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::routing::get;
use floh_e2e::postgres::TestPostgres;
use floh_e2e::{AgentProcess, Api, ServerSettings, eventually, upstream};
use serde_json::{Value, json};

use super::{Node, within_limit};
use crate::agent::{LOOPBACK, agents, fetcher, issue_token, wait_connected};

/// The secret the connectors send upstream.
const SECRET: &str = "sk-relay-5f0c2a";

/// How long a command waits for an agent of its connector to connect
/// anywhere (the hub's reconnect grace).
const RECONNECT_GRACE: Duration = Duration::from_secs(5);

/// The heartbeat of the nodes in the kill test; a node's lease on the
/// sessions it holds is three of them.
const HEARTBEAT_SECONDS: u64 = 1;

/// The lease that follows from [`HEARTBEAT_SECONDS`].
const LEASE: Duration = Duration::from_secs(3 * HEARTBEAT_SECONDS);

/// The `metadata.timeout` of the slow commands, ms.
const SLOW_TIMEOUT_MS: u64 = 20_000;

/// Room for process scheduling on a busy machine, on top of the limits
/// the server promises.
const SLACK: Duration = Duration::from_secs(2);

/// The answer of the upstream's `/items`.
fn items() -> Value {
    json!({"items": ["relayed", "from", "inside"]})
}

/// An upstream on loopback: `/items` answers at once, `/slow` after 30 s.
/// The counter tells how many `/slow` requests have arrived.
async fn relay_upstream() -> (String, Arc<AtomicUsize>) {
    let slow_arrived = Arc::new(AtomicUsize::new(0));
    let counter = slow_arrived.clone();
    let router = axum::Router::new()
        .route("/items", get(|| async { Json(items()) }))
        .route(
            "/slow",
            get(move || {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    Json(json!({"late": true}))
                }
            }),
        );
    (upstream(router).await, slow_arrived)
}

/// A node that refuses loopback destinations, with `extra` arguments.
fn guarded_node(database: &str, extra: &[&str]) -> Node {
    let settings = ServerSettings {
        default_egress: true,
        extra_args: extra.iter().map(|arg| arg.to_string()).collect(),
        ..ServerSettings::default()
    };
    Node::start_with(database, settings)
}

/// `POST /api/connectors/{connector}/execute` of `fetch` for `path`, with
/// `metadata`; the status and the execution response.
async fn fetch(api: &Api, connector: &str, path: &str, metadata: Value) -> (u16, Value) {
    api.post(
        &format!("/api/connectors/{connector}/execute"),
        json!({"command": "fetch", "params": {"path": path}, "metadata": metadata}),
    )
    .await
}

/// Create the fetching connector `name` on `api`'s node.
async fn create_fetcher(api: &Api, name: &str, upstream_url: &str) {
    let (status, created) = within_limit(
        "creating the connector",
        api.post("/api/connectors", fetcher(name, upstream_url, SECRET)),
    )
    .await;
    assert_eq!(status, 201, "{created}");
}

/// The agents whose sessions some node has recorded in the database, as
/// `agent@node` lines.
fn recorded_sessions(postgres: &TestPostgres, database: &str) -> String {
    postgres.psql(
        database,
        "SELECT agent_id || '@' || node_id FROM agent_sessions ORDER BY agent_id",
    )
}

/// Wait until the database records `count` agent sessions: a node records
/// a session just after it lists the agent as connected, and drops it just
/// after it lists the agent as disconnected.
async fn wait_recorded(postgres: &TestPostgres, database: &str, count: usize) {
    let recorded = eventually(Duration::from_secs(10), || async {
        let sessions = recorded_sessions(postgres, database);
        (sessions.lines().count() == count).then_some(())
    })
    .await;
    assert!(
        recorded.is_some(),
        "the database never recorded {count} agent sessions: {:?}",
        recorded_sessions(postgres, database)
    );
}

/// Wait until `api`'s node lists `agent_id` as disconnected.
async fn wait_disconnected(api: &Api, agent_id: &str) {
    let gone = eventually(Duration::from_secs(10), || async {
        agents(api)
            .await
            .iter()
            .any(|a| a["agentId"] == agent_id && a["status"] == "disconnected")
            .then_some(())
    })
    .await;
    assert!(gone.is_some(), "{agent_id} never showed as disconnected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_sent_to_b_is_answered_by_the_agent_on_a_and_spreads_over_agents_on_a_and_c() {
    let Some(postgres) = TestPostgres::shared() else {
        return;
    };
    let database = postgres.database("agent relay spread");
    let (upstream_url, _) = relay_upstream().await;
    let a = guarded_node(&database, &[]);
    let b = guarded_node(&database, &[]);
    let c = guarded_node(&database, &[]);
    let (on_a, on_b, on_c) = (a.server.admin(), b.server.admin(), c.server.admin());
    create_fetcher(&on_a, "plant-items", &upstream_url).await;
    let token = issue_token(&on_b, "plants", None).await;

    let states = tempfile::tempdir().expect("agent state dirs");
    let agent_a = AgentProcess::start(
        &a.server.url,
        &token,
        "agent-on-a",
        &["plant-items"],
        &states.path().join("a"),
        &LOOPBACK,
    );
    wait_connected(&on_a, 1).await;
    wait_recorded(postgres, &database, 1).await;

    // One command: B holds no agent; the agent on A answers it.
    let sent = Instant::now();
    let (status, result) = within_limit(
        "a command through B",
        fetch(&on_b, "plant-items", "/items", json!({})),
    )
    .await;
    let round_trip = sent.elapsed();
    assert_eq!(status, 200, "{result}");
    assert_eq!(
        (&result["success"], &result["agent"]),
        (&json!(true), &json!("agent-on-a")),
        "{result}\nB printed:\n{}\nA printed:\n{}",
        b.server.printed(),
        a.server.printed()
    );
    assert_eq!(result["data"], items(), "{result}");
    assert_eq!(result["httpCalls"][0]["status"], 200, "{result}");
    // The script logged the key: masked on the agent, still masked here.
    let logs = result["logs"].to_string();
    assert!(logs.contains("fetched /items with ***"), "{logs}");
    eprintln!("a command through B answered by the agent on A in {round_trip:?}");

    let agent_c = AgentProcess::start(
        &c.server.url,
        &token,
        "agent-on-c",
        &["plant-items"],
        &states.path().join("c"),
        &LOOPBACK,
    );
    wait_connected(&on_c, 1).await;
    wait_recorded(postgres, &database, 2).await;

    let sent = Instant::now();
    let calls = (0..20).map(|_| fetch(&on_b, "plant-items", "/items", json!({})));
    let answers = within_limit(
        "20 concurrent commands through B",
        futures::future::join_all(calls),
    )
    .await;
    eprintln!(
        "20 concurrent commands through B answered in {:?}",
        sent.elapsed()
    );
    let mut by_agent: BTreeMap<String, usize> = BTreeMap::new();
    for (status, result) in &answers {
        assert_eq!(*status, 200, "{result}");
        assert_eq!(result["success"], true, "{result}");
        assert_eq!(result["data"], items(), "{result}");
        let agent = result["agent"].as_str().unwrap_or("none (ran on B)");
        *by_agent.entry(agent.to_string()).or_default() += 1;
    }
    eprintln!("the 20 commands by agent: {by_agent:?}");
    assert_eq!(
        by_agent.keys().collect::<Vec<_>>(),
        ["agent-on-a", "agent-on-c"],
        "both agents used: {by_agent:?}"
    );

    // The agents ran them: each node counts what its agent completed.
    let completed = |listed: Vec<Value>| listed[0]["completed"].as_u64().unwrap_or(0);
    let on_a_completed = completed(agents(&on_a).await);
    let on_c_completed = completed(agents(&on_c).await);
    assert_eq!(
        (on_a_completed, on_c_completed),
        (
            1 + by_agent["agent-on-a"] as u64,
            by_agent["agent-on-c"] as u64
        )
    );
    drop((agent_a, agent_c));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_on_b_waits_for_the_agent_to_reconnect_to_a_and_fails_after_the_grace_without_it()
{
    let Some(postgres) = TestPostgres::shared() else {
        return;
    };
    let database = postgres.database("agent relay reconnect");
    let (upstream_url, _) = relay_upstream().await;
    let a = guarded_node(&database, &[]);
    let b = guarded_node(&database, &[]);
    let (on_a, on_b) = (a.server.admin(), b.server.admin());
    create_fetcher(&on_a, "vault-items", &upstream_url).await;
    let token = issue_token(&on_a, "vault", None).await;
    let state = tempfile::tempdir().expect("agent state dir");
    let start_agent = || {
        AgentProcess::start(
            &a.server.url,
            &token,
            "vault-agent",
            &["vault-items"],
            state.path(),
            &LOOPBACK,
        )
    };

    // The agent claims the connector once, then goes away.
    let mut agent = start_agent();
    wait_connected(&on_a, 1).await;
    agent.kill();
    wait_disconnected(&on_a, "vault-agent").await;
    wait_recorded(postgres, &database, 0).await;

    // Sent while no node holds the agent; it connects to A two seconds later.
    let sent = Instant::now();
    let waiting = tokio::spawn({
        let on_b = on_b.clone();
        async move { fetch(&on_b, "vault-items", "/items", json!({})).await }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !waiting.is_finished(),
        "B answered before the agent was back"
    );
    let mut agent = start_agent();
    let (status, result) = within_limit("the waiting command", waiting)
        .await
        .expect("the waiting command's task");
    let waited = sent.elapsed();
    eprintln!("the command waited {waited:?} for the agent to reconnect to A");
    assert_eq!(status, 200, "{result}");
    assert_eq!(
        (&result["success"], &result["agent"]),
        (&json!(true), &json!("vault-agent")),
        "{result}\nB printed:\n{}\nA printed:\n{}\nthe agent printed:\n{}",
        b.server.printed(),
        a.server.printed(),
        agent.printed()
    );
    assert_eq!(result["data"], items(), "{result}");
    assert!(
        waited < RECONNECT_GRACE + SLACK,
        "the command took {waited:?}"
    );

    // Gone again, for good this time: the command gives up after the grace.
    agent.kill();
    wait_disconnected(&on_a, "vault-agent").await;
    wait_recorded(postgres, &database, 0).await;
    let sent = Instant::now();
    let (status, result) = within_limit(
        "a command with no agent anywhere",
        fetch(&on_b, "vault-items", "/items", json!({})),
    )
    .await;
    let waited = sent.elapsed();
    eprintln!("with no agent anywhere, the command failed after {waited:?}");
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["success"], false, "{result}");
    assert_eq!(result["errorCode"], "AGENT_UNAVAILABLE", "{result}");
    assert!(
        result["error"]
            .as_str()
            .is_some_and(|e| e.contains("vault-agent")),
        "{result}"
    );
    assert!(
        waited >= RECONNECT_GRACE - Duration::from_secs(1) && waited < Duration::from_secs(10),
        "AGENT_UNAVAILABLE after {waited:?}, not after about {RECONNECT_GRACE:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_fails_the_commands_relayed_from_b_and_the_agent_reconnected_to_b_serves_c() {
    let Some(postgres) = TestPostgres::shared() else {
        return;
    };
    let database = postgres.database("agent relay kill");
    let (upstream_url, slow_arrived) = relay_upstream().await;
    let heartbeat = HEARTBEAT_SECONDS.to_string();
    let fast_lease = ["--agent-heartbeat-seconds", heartbeat.as_str()];
    let mut a = guarded_node(&database, &fast_lease);
    let b = guarded_node(&database, &fast_lease);
    let c = guarded_node(&database, &fast_lease);
    let (on_a, on_b, on_c) = (a.server.admin(), b.server.admin(), c.server.admin());
    create_fetcher(&on_a, "mill-items", &upstream_url).await;
    let token = issue_token(&on_a, "mill", None).await;
    let state = tempfile::tempdir().expect("agent state dir");

    let mut agent = AgentProcess::start(
        &a.server.url,
        &token,
        "mill-agent",
        &["mill-items"],
        state.path(),
        &LOOPBACK,
    );
    wait_connected(&on_a, 1).await;
    let (status, result) = within_limit(
        "a first command through B",
        fetch(&on_b, "mill-items", "/items", json!({})),
    )
    .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["agent"], "mill-agent", "{result}");
    let held_by_a = recorded_sessions(postgres, &database);

    // Ten slow commands through B, all held by the agent on A.
    let metadata = json!({"timeout": SLOW_TIMEOUT_MS});
    let slow: Vec<_> = (0..10)
        .map(|_| {
            let (on_b, metadata) = (on_b.clone(), metadata.clone());
            tokio::spawn(async move {
                let answer = fetch(&on_b, "mill-items", "/slow", metadata).await;
                (answer, Instant::now())
            })
        })
        .collect();
    let arrived = eventually(Duration::from_secs(15), || async {
        (slow_arrived.load(Ordering::SeqCst) == 10).then_some(())
    })
    .await;
    assert!(
        arrived.is_some(),
        "only {} of the slow commands reached the upstream\nB printed:\n{}\nA printed:\n{}",
        slow_arrived.load(Ordering::SeqCst),
        b.server.printed(),
        a.server.printed()
    );
    let held = agents(&on_a).await;
    assert_eq!(held[0]["inFlight"], 10, "{held:?}");

    a.server.kill();
    let killed = Instant::now();
    let limit = Duration::from_millis(SLOW_TIMEOUT_MS) + LEASE + SLACK;
    let mut failed_after = Vec::new();
    for command in slow {
        let ((status, result), answered) = tokio::time::timeout(
            limit.saturating_sub(killed.elapsed()),
            command,
        )
        .await
        .unwrap_or_else(|_| {
            panic!(
                "a slow command still unanswered {limit:?} after A was killed\nB printed:\n{}",
                b.server.printed()
            )
        })
        .expect("a slow command's task");
        failed_after.push(answered.saturating_duration_since(killed));
        assert_eq!(status, 200, "{result}");
        assert_eq!(result["success"], false, "{result}");
        assert_eq!(result["errorCode"], "AGENT_DISCONNECTED", "{result}");
        assert_eq!(result["agent"], "mill-agent", "{result}");
    }
    let fastest = failed_after.iter().min().copied().unwrap_or_default();
    let slowest = failed_after.iter().max().copied().unwrap_or_default();
    eprintln!(
        "after A was killed, the ten commands failed with AGENT_DISCONNECTED \
         between {fastest:?} and {slowest:?}"
    );
    // They failed because A's lease ran out, not at the command's timeout.
    assert!(
        slowest < LEASE + SLACK,
        "the commands failed {slowest:?} after A was killed (lease {LEASE:?})"
    );

    // The agent cannot reach A any more; it is started again against B.
    agent.kill();
    let agent = AgentProcess::start(
        &b.server.url,
        &token,
        "mill-agent",
        &["mill-items"],
        state.path(),
        &LOOPBACK,
    );
    wait_connected(&on_b, 1).await;
    let (status, result) = within_limit(
        "a command through C",
        fetch(&on_c, "mill-items", "/items", json!({})),
    )
    .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(
        (&result["success"], &result["agent"]),
        (&json!(true), &json!("mill-agent")),
        "{result}\nC printed:\n{}\nB printed:\n{}\nthe agent printed:\n{}",
        c.server.printed(),
        b.server.printed(),
        agent.printed()
    );
    assert_eq!(result["data"], items(), "{result}");
    let held_by_b = recorded_sessions(postgres, &database);
    assert!(
        held_by_b.starts_with("mill-agent@") && held_by_b.lines().count() == 1,
        "{held_by_b:?}"
    );
    assert_ne!(held_by_b, held_by_a, "B, not A, holds the agent's session");
}

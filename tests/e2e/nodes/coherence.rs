//! A config updated on one node is used by executions on another a second
//! later, also after that node's listening connection was killed from the
//! database side.
//!
//! Node B caches the connector it runs; without the change feed it would
//! keep running with the old config until the cache entry expires (30 s),
//! so every read below allows B one second, not thirty.

use std::time::{Duration, Instant};

use floh::store::LISTENER_APPLICATION_NAME;
use floh_e2e::postgres::TestPostgres;
use floh_e2e::{Api, eventually};
use serde_json::{Value, json};

use super::{Node, within_limit};

/// How long after a config update a node may still run with the old one.
const COHERENCE_LIMIT: Duration = Duration::from_secs(1);

/// How long a node may take to connect (or reconnect) its listener.
const LISTENER_LIMIT: Duration = Duration::from_secs(10);

/// The log line of a node whose change feed reconnected after a drop.
const FEED_IS_BACK: &str = "the PostgreSQL change feed is back";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_updated_on_a_is_used_on_b_a_second_later_also_after_b_lost_its_listener() {
    let Some(postgres) = TestPostgres::shared() else {
        return;
    };
    let database = postgres.database("coherence");
    // One node at a time, so that the listening connections tell whose is
    // whose: both nodes give theirs the same application name.
    let a = Node::start(&database);
    let [a_listener] = wait_for_listeners(postgres, &database, |_| true).await;
    let b = Node::start(&database);
    let listeners: [String; 2] = wait_for_listeners(postgres, &database, |_| true).await;
    assert!(
        listeners.contains(&a_listener),
        "A's listener went: {listeners:?}"
    );
    let b_listener = listeners
        .into_iter()
        .find(|pid| *pid != a_listener)
        .expect("B's listener is the one that is not A's");
    let (on_a, on_b) = (a.server.admin(), b.server.admin());

    let (status, created) = within_limit(
        "creating the connector on A",
        on_a.post("/api/connectors", greeter("first")),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    // B runs it once, which caches it there.
    assert_eq!(greeting(&on_b).await, "first");

    set_greeting(&on_a, "second").await;
    used_on_b_within_limit(&b, "second", "an update while B listens").await;

    // Only B's listener goes; A keeps listening and keeps announcing.
    let terminated = postgres.psql(
        &database,
        &format!("SELECT pg_terminate_backend({b_listener})"),
    );
    assert_eq!(terminated, "t", "B's listener {b_listener} was not ended");
    let killed_at = Instant::now();
    // Straight away, so that the change lands while B may not listen.
    set_greeting(&on_a, "third").await;
    used_on_b_within_limit(&b, "third", "an update while B's listener is down").await;

    // B listens again, on a new connection.
    let [still_a, _back_on_b] =
        wait_for_listeners(postgres, &database, |pid| pid != b_listener).await;
    assert_eq!(still_a, a_listener, "A's listener was left alone");
    let back = eventually(LISTENER_LIMIT, || async {
        b.server.printed().contains(FEED_IS_BACK).then_some(())
    })
    .await;
    assert!(
        back.is_some(),
        "B never said its feed is back:\n{}",
        b.server.printed()
    );
    assert!(
        !a.server.printed().contains(FEED_IS_BACK),
        "A's feed never dropped:\n{}",
        a.server.printed()
    );

    // A second on, B listens again: an update reaches the entry B cached
    // since, which no resynchronisation drops any more.
    tokio::time::sleep(COHERENCE_LIMIT.saturating_sub(killed_at.elapsed())).await;
    assert_eq!(greeting(&on_b).await, "third");
    set_greeting(&on_a, "fourth").await;
    used_on_b_within_limit(&b, "fourth", "an update after B listens again").await;
}

/// A script connector whose `greet` command answers its configured
/// `greeting`.
fn greeter(greeting: &str) -> Value {
    json!({
        "name": "greeter",
        "executionModel": "script",
        "scriptSource": "function greet() {\n  return { success: true, data: { greeting: floh.config.greeting } };\n}\nfunction test() { return { success: true }; }",
        "configSchema": {
            "connectionConfig": {"greeting": {"type": "string", "required": true}},
            "commands": {"greet": {"params": []}, "test": {"params": []}}
        },
        "config": {"greeting": greeting}
    })
}

/// Update the greeter's config through `api`.
async fn set_greeting(api: &Api, greeting: &str) {
    let (status, updated) = within_limit(
        "a config update",
        api.put(
            "/api/connectors/greeter",
            json!({"config": {"greeting": greeting}}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
}

/// Run `greet` through `api`; the greeting it answered.
async fn greeting(api: &Api) -> String {
    let (status, result) = within_limit(
        "an execution",
        api.post(
            "/api/connectors/greeter/execute",
            json!({"command": "greet", "params": {}}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["success"], true, "{result}");
    result["data"]["greeting"]
        .as_str()
        .unwrap_or_else(|| panic!("a greeting in {result}"))
        .to_string()
}

/// Run `greet` on `b` every 50 ms until it answers `expected`; a panic
/// naming `what` when it still answers something else after
/// [`COHERENCE_LIMIT`], counted from now (the update was acknowledged).
async fn used_on_b_within_limit(b: &Node, expected: &str, what: &str) {
    let api = b.server.admin();
    let updated_at = Instant::now();
    loop {
        let answered = greeting(&api).await;
        if answered == expected {
            eprintln!(
                "{what}: B used `{expected}` after {:?}",
                updated_at.elapsed()
            );
            return;
        }
        assert!(
            updated_at.elapsed() < COHERENCE_LIMIT,
            "{what}: B still answered `{answered}`, not `{expected}`, {COHERENCE_LIMIT:?} after \
             the update on A. B printed:\n{}",
            b.server.printed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Wait until `database` has exactly `N` listening connections (by
/// application name) that all pass `wanted`; their backend pids, oldest
/// connection first.
async fn wait_for_listeners<const N: usize>(
    postgres: &TestPostgres,
    database: &str,
    wanted: impl Fn(&str) -> bool,
) -> [String; N] {
    let sql = format!(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
         AND application_name = '{LISTENER_APPLICATION_NAME}' ORDER BY backend_start, pid"
    );
    let mut last = String::new();
    let found = eventually(LISTENER_LIMIT, || {
        last = postgres.psql(database, &sql);
        let pids: Vec<String> = last.lines().map(str::to_string).collect();
        let found = pids
            .iter()
            .all(|pid| wanted(pid))
            .then(|| <[String; N]>::try_from(pids).ok())
            .flatten();
        async move { found }
    })
    .await;
    found.unwrap_or_else(|| panic!("not {N} listeners on {database}; the last seen: {last:?}"))
}

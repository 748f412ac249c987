//! The store contract: one suite, run against the embedded redb store and
//! against PostgreSQL. Both must keep the same promises; the PostgreSQL
//! run also opens a second store on the same database where a promise is
//! about several nodes (unique names, a `state` used once).

use std::collections::BTreeMap;

use floh::model::{ConnectorDefinition, OpenApiSpec};
use floh::secrets::ConfigCipher;
use floh::store::{
    AgentRecord, AgentTokenRecord, ConnectorRecord, ExecutionRecord, OAuthGrantRecord,
    PendingAuthorization, RewrapCursor, RewrapError, Role, SpecChange, Store, StoreError,
    TokenRecord,
};
use floh_e2e::postgres::TestPostgres;
use serde_json::json;

/// A store under test, and a way to reach the same data as another node.
struct Nodes {
    store: Store,
    url: Option<String>,
    _dir: tempfile::TempDir,
}

impl Nodes {
    /// Another node's store on the same data (for redb, the same store: one
    /// process owns the file).
    async fn another(&self) -> Store {
        match &self.url {
            Some(url) => Store::connect(url).await.expect("second connection"),
            None => self.store.clone(),
        }
    }
}

fn record(id: &str, name: &str) -> ConnectorRecord {
    let definition: ConnectorDefinition =
        serde_json::from_value(json!({"name": name, "executionModel": "script"}))
            .expect("definition");
    ConnectorRecord {
        id: id.into(),
        definition,
        sealed_config: Some(vec![1, 2, 3]),
        engine_version: Some("qjs-x".into()),
        spec_digest: None,
        created_at_ms: 1,
        updated_at_ms: 1,
    }
}

fn execution(n: u64) -> ExecutionRecord {
    ExecutionRecord {
        id: format!("e{n}"),
        command: "c".into(),
        status: "ok".into(),
        success: true,
        error: None,
        started_at_ms: n,
        duration_ms: 1,
        logs: vec![],
        http_calls: vec![],
        agent: None,
    }
}

fn grant(sealed: Vec<u8>, connected_at_ms: u64) -> OAuthGrantRecord {
    OAuthGrantRecord {
        sealed_tokens: sealed,
        scopes: vec!["read".into()],
        expires_at_ms: None,
        connected_at_ms,
        connected_by: "tok_1".into(),
        last_refresh_at_ms: None,
        reconnect_required: None,
    }
}

fn pending(connector_id: &str, sealed: Vec<u8>, expires_at_ms: u64) -> PendingAuthorization {
    PendingAuthorization {
        connector_id: connector_id.into(),
        caller: "tok_1".into(),
        sealed_verifier: sealed,
        redirect_uri: "http://127.0.0.1/api/oauth/callback".into(),
        return_to: None,
        browser_binding: None,
        expires_at_ms,
    }
}

async fn connectors_round_trip_by_id_and_name(nodes: Nodes) {
    let store = &nodes.store;
    store
        .insert_connector(record("c1", "crm"), Some(vec![9]), None)
        .await
        .expect("insert");
    let taken = store
        .insert_connector(record("c2", "crm"), None, None)
        .await;
    assert!(matches!(taken, Err(StoreError::NameTaken(_))), "{taken:?}");
    let found = store.find_connector("crm".into()).await.expect("find");
    assert_eq!(found.expect("by name").id, "c1");
    assert_eq!(
        store.find_connector("c1".into()).await.expect("find"),
        Some(record("c1", "crm"))
    );
    assert!(store.connector_exists("crm".into()).await.expect("exists"));
    assert_eq!(
        store.bytecode("c1".into()).await.expect("bytecode"),
        Some(vec![9])
    );
    // Rename, keeping the bytecode; then drop the bytecode.
    store
        .update_connector(record("c1", "crm2"), "crm".into(), None, SpecChange::Keep)
        .await
        .expect("rename");
    assert!(
        store
            .find_connector("crm".into())
            .await
            .expect("find")
            .is_none()
    );
    assert_eq!(
        store.bytecode("c1".into()).await.expect("bytecode"),
        Some(vec![9])
    );
    store
        .update_connector(
            record("c1", "crm2"),
            "crm2".into(),
            Some(None),
            SpecChange::Keep,
        )
        .await
        .expect("drop bytecode");
    assert_eq!(store.bytecode("c1".into()).await.expect("bytecode"), None);
    // Renaming onto a taken name is refused and changes nothing.
    store
        .insert_connector(record("c3", "hr"), None, None)
        .await
        .expect("insert");
    let onto = store
        .update_connector(record("c1", "hr"), "crm2".into(), None, SpecChange::Keep)
        .await;
    assert!(matches!(onto, Err(StoreError::NameTaken(_))), "{onto:?}");
    assert_eq!(
        store.connector_names().await.expect("names"),
        [
            ("c1".to_string(), "crm2".to_string()),
            ("c3".into(), "hr".into())
        ]
        .into_iter()
        .collect()
    );
    assert!(store.delete_connector("c1".into()).await.expect("delete"));
    assert!(!store.delete_connector("c1".into()).await.expect("delete"));
    assert!(
        store
            .find_connector("crm2".into())
            .await
            .expect("find")
            .is_none()
    );
    assert_eq!(store.list_connectors().await.expect("list").len(), 1);
}

async fn one_name_is_created_once_under_concurrency(nodes: Nodes) {
    let other = nodes.another().await;
    let creates = (0..20).map(|n| {
        let store = if n % 2 == 0 {
            nodes.store.clone()
        } else {
            other.clone()
        };
        async move {
            store
                .insert_connector(record(&format!("c{n}"), "same"), None, None)
                .await
        }
    });
    let results = futures::future::join_all(creates).await;
    let created = results.iter().filter(|r| r.is_ok()).count();
    let taken = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::NameTaken(_))))
        .count();
    assert_eq!((created, taken), (1, 19), "{results:?}");
    assert_eq!(nodes.store.list_connectors().await.expect("list").len(), 1);
}

async fn history_is_bounded_newest_first_and_summarized(nodes: Nodes) {
    let store = &nodes.store;
    for (id, name) in [("c1", "a"), ("c2", "b")] {
        store
            .insert_connector(record(id, name), None, None)
            .await
            .expect("insert");
    }
    let batch: Vec<_> = (0..6).map(|n| ("c1".to_string(), execution(n))).collect();
    store.append_executions(batch, 3).await.expect("append");
    let batch = vec![
        ("c1".to_string(), execution(6)),
        ("c2".to_string(), execution(99)),
    ];
    store.append_executions(batch, 3).await.expect("append");
    let ids: Vec<_> = store
        .executions("c1".into(), 10)
        .await
        .expect("history")
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, ["e6", "e5", "e4"]);
    let activity = store
        .activity_of(vec!["c1".into(), "c9".into()])
        .await
        .expect("activity");
    let window: Vec<_> = activity["c1"].iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        window,
        ["e0", "e1", "e2", "e3", "e4", "e5", "e6"],
        "oldest first"
    );
    assert!(!activity.contains_key("c9"));
    assert_eq!(store.activity().await.expect("activity").len(), 2);
    let recent: Vec<_> = store
        .recent_executions(2)
        .await
        .expect("recent")
        .into_iter()
        .map(|(connector, summary)| (connector, summary.id))
        .collect();
    assert_eq!(
        recent,
        [
            ("c2".to_string(), "e99".to_string()),
            ("c1".into(), "e6".into())
        ]
    );
    // Deleting a connector takes its history and summaries with it.
    assert!(store.delete_connector("c2".into()).await.expect("delete"));
    assert!(
        store
            .executions("c2".into(), 10)
            .await
            .expect("history")
            .is_empty()
    );
    let recent = store.recent_executions(10).await.expect("recent");
    assert!(
        recent.iter().all(|(connector, _)| connector == "c1"),
        "{recent:?}"
    );
}

async fn the_listing_follows_changes_and_runs(nodes: Nodes) {
    let store = &nodes.store;
    store
        .insert_connector(record("c1", "crm"), None, None)
        .await
        .expect("insert");
    store
        .insert_connector(record("c2", "hr"), None, None)
        .await
        .expect("insert");
    let mut renamed = record("c1", "sales");
    renamed.sealed_config = None;
    store
        .update_connector(renamed, "crm".into(), None, SpecChange::Keep)
        .await
        .expect("update");
    let batch: Vec<_> = (0..3).map(|n| ("c2".to_string(), execution(n))).collect();
    store.append_executions(batch, 10).await.expect("append");
    let listed = store.listing().await.expect("listing");
    assert_eq!(listed.len(), 2);
    let (sales, never_ran) = &listed[0];
    assert_eq!((sales.id.as_str(), sales.name.as_str()), ("c1", "sales"));
    assert!(!sales.configured, "the update dropped the config");
    assert!(never_ran.is_none());
    let (hr, last) = &listed[1];
    assert!(hr.configured);
    assert_eq!(last.as_ref().expect("ran").id, "e2", "the newest run");
}

async fn a_spec_is_stored_once_and_goes_with_its_last_user(nodes: Nodes) {
    let store = &nodes.store;
    let spec = OpenApiSpec::from_value(&json!({"openapi": "3.0.0"}));
    let first = store
        .insert_connector(record("c1", "a"), None, Some(spec.clone()))
        .await
        .expect("insert");
    let digest = first.spec_digest.clone().expect("digest");
    let second = store
        .insert_connector(record("c2", "b"), None, Some(spec.clone()))
        .await
        .expect("insert");
    assert_eq!(second.spec_digest.as_deref(), Some(digest.as_str()));
    assert_eq!(store.spec_count().await.expect("count"), 1);
    assert_eq!(
        store.spec(digest.clone()).await.expect("spec"),
        Some(spec.clone())
    );
    let same = store
        .update_connector(first, "a".into(), None, SpecChange::Set(Some(spec)))
        .await
        .expect("same spec");
    assert_eq!(same.spec_digest.as_deref(), Some(digest.as_str()));
    let other = OpenApiSpec::from_value(&json!({"openapi": "3.1.0"}));
    let replaced = store
        .update_connector(same, "a".into(), None, SpecChange::Set(Some(other)))
        .await
        .expect("new spec");
    assert_ne!(replaced.spec_digest.as_deref(), Some(digest.as_str()));
    assert_eq!(store.spec_count().await.expect("count"), 2);
    assert!(store.delete_connector("c2".into()).await.expect("delete"));
    assert_eq!(store.spec(digest).await.expect("spec"), None);
    assert!(store.delete_connector("c1".into()).await.expect("delete"));
    assert_eq!(store.spec_count().await.expect("count"), 0);
}

async fn tokens_agents_and_agent_tokens(nodes: Nodes) {
    let store = &nodes.store;
    assert!(!store.has_tokens().await.expect("has"));
    let token = TokenRecord {
        id: "tok_1".into(),
        name: "ci".into(),
        role: Role::Executor,
        created_at_ms: 5,
    };
    store
        .insert_token("hash1".into(), token.clone())
        .await
        .expect("insert");
    assert!(store.has_tokens().await.expect("has"));
    assert_eq!(
        store.token("hash1".into()).await.expect("token"),
        Some(token.clone())
    );
    assert_eq!(
        store.tokens().await.expect("tokens"),
        [("hash1".to_string(), token)]
    );
    assert!(store.delete_token("hash1".into()).await.expect("delete"));
    assert!(!store.delete_token("hash1".into()).await.expect("delete"));
    assert_eq!(store.token("hash1".into()).await.expect("token"), None);

    for (hash, id, at) in [("h2", "agt_b", 2), ("h1", "agt_a", 1)] {
        let record = AgentTokenRecord {
            id: id.into(),
            name: id.into(),
            created_at_ms: at,
            expires_at_ms: None,
            revoked_at_ms: None,
            connectors: Some(vec!["crm".into()]),
        };
        store
            .insert_agent_token(hash.into(), record)
            .await
            .expect("insert");
    }
    let ids: Vec<_> = store
        .agent_tokens()
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, ["agt_a", "agt_b"], "oldest first");
    let revoked = store
        .revoke_agent_token("agt_b".into(), 50)
        .await
        .expect("revoke");
    assert_eq!(revoked.expect("found").revoked_at_ms, Some(50));
    let again = store
        .revoke_agent_token("agt_b".into(), 60)
        .await
        .expect("revoke");
    assert_eq!(
        again.expect("found").revoked_at_ms,
        Some(50),
        "the first time stays"
    );
    assert!(
        store
            .revoke_agent_token("nope".into(), 1)
            .await
            .expect("revoke")
            .is_none()
    );
    let seen = store
        .agent_token("h2".into())
        .await
        .expect("get")
        .expect("found");
    assert_eq!(seen.revoked_at_ms, Some(50));

    let agent = AgentRecord {
        agent_id: "a1".into(),
        agent_name: "dc-1".into(),
        connector_names: vec!["crm".into()],
        version: None,
        token_id: "agt_a".into(),
        connected_at_ms: 1,
        disconnected_at_ms: None,
    };
    store.put_agent(agent.clone()).await.expect("put");
    let mut later = agent.clone();
    later.disconnected_at_ms = Some(9);
    store.put_agent(later.clone()).await.expect("replace");
    assert_eq!(store.agents().await.expect("agents"), [later]);
    store.delete_agent("a1".into()).await.expect("delete");
    assert!(store.agents().await.expect("agents").is_empty());
}

async fn grants_and_pending_authorizations(nodes: Nodes) {
    let store = &nodes.store;
    assert!(
        !store
            .connect_oauth_grant("c1".into(), grant(vec![1], 10))
            .await
            .expect("connect"),
        "no connector, no grant"
    );
    store
        .insert_connector(record("c1", "crm"), None, None)
        .await
        .expect("insert");
    assert!(
        store
            .connect_oauth_grant("c1".into(), grant(vec![1], 10))
            .await
            .expect("connect")
    );
    assert!(
        store
            .update_oauth_grant("c1".into(), grant(vec![2], 10))
            .await
            .expect("refresh"),
        "same connection"
    );
    assert!(
        !store
            .update_oauth_grant("c1".into(), grant(vec![3], 11))
            .await
            .expect("refresh"),
        "a refresh of an older connection is dropped"
    );
    let stored = store
        .oauth_grant("c1".into())
        .await
        .expect("grant")
        .expect("found");
    assert_eq!(stored.sealed_tokens, vec![2]);
    // A refresh that finishes after a disconnect does not bring it back.
    assert!(
        store
            .delete_oauth_grant("c1".into())
            .await
            .expect("disconnect")
    );
    assert!(
        !store
            .update_oauth_grant("c1".into(), grant(vec![4], 10))
            .await
            .expect("refresh"),
        "a refresh after a disconnect is dropped"
    );
    assert!(
        store
            .oauth_grant("c1".into())
            .await
            .expect("grant")
            .is_none()
    );
    assert!(
        store
            .connect_oauth_grant("c1".into(), grant(vec![5], 12))
            .await
            .expect("connect again")
    );
    assert!(store.delete_connector("c1".into()).await.expect("delete"));
    assert!(
        store
            .oauth_grant("c1".into())
            .await
            .expect("grant")
            .is_none(),
        "deleted with it"
    );

    store
        .insert_pending_authorization("old".into(), pending("c1", vec![1], 100), 50)
        .await
        .expect("pending");
    store
        .insert_pending_authorization("new".into(), pending("c1", vec![1], 500), 200)
        .await
        .expect("pending");
    assert!(
        store
            .take_pending_authorization("old".into())
            .await
            .expect("take")
            .is_none(),
        "expired ones are dropped"
    );
    // A `state` works once, whichever node the callbacks reach.
    let other = nodes.another().await;
    let (a, b) = tokio::join!(
        store.take_pending_authorization("new".into()),
        other.take_pending_authorization("new".into())
    );
    let taken = [a.expect("take"), b.expect("take")];
    assert_eq!(taken.iter().filter(|t| t.is_some()).count(), 1, "{taken:?}");
}

async fn key_rotation_rewraps_counts_and_retires(nodes: Nodes) {
    let store = &nodes.store;
    let keys = tempfile::tempdir().expect("keys");
    let cipher = ConfigCipher::load(keys.path(), None, true).expect("cipher");
    store
        .set_key_check(1, cipher.key_check(1).expect("check"))
        .await
        .expect("check");
    for n in 0..25 {
        let id = format!("c{n:03}");
        let mut connector = record(&id, &id);
        connector.sealed_config = Some(cipher.seal(&id, &json!({"n": n})));
        store
            .insert_connector(connector, None, None)
            .await
            .expect("insert");
    }
    store
        .insert_connector(record("plain", "plain"), None, None)
        .await
        .expect("insert");
    store
        .delete_connector("plain".into())
        .await
        .expect("delete");
    let grant_sealed = cipher.seal("c000", &json!({"token": "t"}));
    store
        .connect_oauth_grant("c000".into(), grant(grant_sealed, 1))
        .await
        .expect("grant");
    assert_eq!(
        store.sealed_counts().await.expect("counts"),
        BTreeMap::from([(1, 26)])
    );

    let active = cipher.rotate().expect("rotate");
    store
        .set_key_check(active, cipher.key_check(active).expect("check"))
        .await
        .expect("check");
    assert_eq!(
        store
            .key_checks()
            .await
            .expect("checks")
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        [1, active]
    );
    assert_eq!(
        store.retire_key_version(1).await.expect("retire"),
        Err(26),
        "still in use"
    );
    let mut cursor = RewrapCursor::start();
    let mut batches = 0;
    loop {
        let sealer = cipher.clone();
        let batch = store
            .rewrap_batch(active, 10, cursor, move |_, id, sealed| {
                sealer.rewrap(id, sealed).map(|new| new.unwrap_or_default())
            })
            .await
            .expect("batch");
        batches += 1;
        match batch.next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    assert_eq!(batches, 3, "26 values, 10 per batch");
    assert_eq!(
        store.sealed_counts().await.expect("counts"),
        BTreeMap::from([(active, 26)])
    );
    for connector in store.list_connectors().await.expect("list") {
        let sealed = connector.sealed_config.expect("sealed");
        cipher
            .open(&connector.id, &sealed)
            .expect("opens with the new key");
    }

    assert_eq!(store.retire_key_version(1).await.expect("retire"), Ok(()));
    assert_eq!(
        store
            .retired_key_versions()
            .await
            .expect("retired")
            .into_iter()
            .collect::<Vec<_>>(),
        [1]
    );
    assert!(!store.key_checks().await.expect("checks").contains_key(&1));
    // A value sealed under the retired version is refused, not stored
    // (`record` seals in the first, unversioned format: version 1).
    let refused = store
        .insert_connector(record("late", "late"), None, None)
        .await;
    assert!(
        matches!(refused, Err(StoreError::RetiredKey(1))),
        "{refused:?}"
    );
    assert!(
        store
            .find_connector("late".into())
            .await
            .expect("find")
            .is_none()
    );
}

async fn a_failing_reseal_stops_the_batch_and_changes_nothing(nodes: Nodes) {
    let store = &nodes.store;
    let keys = tempfile::tempdir().expect("keys");
    let cipher = ConfigCipher::load(keys.path(), None, true).expect("cipher");
    for n in 0..3 {
        let id = format!("c{n:03}");
        let mut connector = record(&id, &id);
        connector.sealed_config = Some(cipher.seal(&id, &json!({"n": n})));
        store
            .insert_connector(connector, None, None)
            .await
            .expect("insert");
    }
    let active = cipher.rotate().expect("rotate");
    let failed = store
        .rewrap_batch(active, 10, RewrapCursor::start(), |_, id, _| {
            if id == "c001" {
                Err("no")
            } else {
                Ok(b"x".to_vec())
            }
        })
        .await;
    assert!(
        matches!(failed, Err(RewrapError::Seal("no"))),
        "{:?}",
        failed.map(|batch| batch.rewrapped)
    );
    assert_eq!(
        store.sealed_counts().await.expect("counts"),
        BTreeMap::from([(1, 3)]),
        "the value re-sealed before the failure was rolled back"
    );
}

async fn data_survives_a_new_connection(nodes: Nodes) {
    nodes
        .store
        .insert_connector(record("c1", "crm"), Some(vec![1]), None)
        .await
        .expect("insert");
    let again = match &nodes.url {
        Some(url) => Store::connect(url).await.expect("reconnect"),
        None => {
            let path = nodes._dir.path().join("floh.redb");
            drop(nodes.store);
            Store::open(&path).expect("reopen")
        }
    };
    assert_eq!(again.list_connectors().await.expect("list").len(), 1);
    assert_eq!(
        again.bytecode("c1".into()).await.expect("bytecode"),
        Some(vec![1])
    );
}

/// Run each contract test on both stores: `on_redb::NAME` and
/// `on_postgres::NAME` (skipped, with a message, without PostgreSQL).
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod on_redb {
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().expect("dir");
                    let store = super::Store::open(&dir.path().join("floh.redb")).expect("open");
                    super::$name(super::Nodes { store, url: None, _dir: dir }).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(postgres) = super::TestPostgres::shared() else { return };
                    let url = postgres.database(stringify!($name));
                    let store = super::Store::connect(&url).await.expect("connect");
                    let dir = tempfile::tempdir().expect("dir");
                    super::$name(super::Nodes { store, url: Some(url), _dir: dir }).await;
                }
            )*
        }
    };
}

contract!(
    connectors_round_trip_by_id_and_name,
    one_name_is_created_once_under_concurrency,
    history_is_bounded_newest_first_and_summarized,
    the_listing_follows_changes_and_runs,
    a_spec_is_stored_once_and_goes_with_its_last_user,
    tokens_agents_and_agent_tokens,
    grants_and_pending_authorizations,
    key_rotation_rewraps_counts_and_retires,
    a_failing_reseal_stops_the_batch_and_changes_nothing,
    data_survives_a_new_connection,
);

/// What only the PostgreSQL store has: a versioned schema.
mod postgres_schema {
    use floh::store::{ConnectError, Store};
    use floh_e2e::postgres::TestPostgres;

    #[tokio::test]
    async fn migrations_run_once_and_a_newer_schema_is_refused() {
        let Some(postgres) = TestPostgres::shared() else {
            return;
        };
        let url = postgres.database("schema_versions");
        // Two nodes starting together migrate one after the other.
        let (a, b) = tokio::join!(Store::connect(&url), Store::connect(&url));
        a.expect("first node");
        b.expect("second node");
        // Each version once, none skipped, however many migrations there are.
        assert_eq!(
            postgres.psql(
                &url,
                "SELECT count(*) = max(version) AND min(version) = 1 FROM floh_schema"
            ),
            "t"
        );
        // The unix socket reaches the same database.
        let over_socket = Store::connect(&postgres.socket_url(&url))
            .await
            .expect("socket");
        assert!(
            over_socket
                .list_connectors()
                .await
                .expect("list")
                .is_empty()
        );

        postgres.psql(&url, "INSERT INTO floh_schema (version) VALUES (999)");
        match Store::connect(&url).await {
            Err(error @ ConnectError::NewerSchema { found: 999, .. }) => {
                assert!(error.to_string().contains("upgrade floh"), "{error}");
            }
            Err(other) => panic!("expected a refusal of the newer schema, got {other}"),
            Ok(_) => panic!("a database migrated by a newer floh was accepted"),
        }
    }

    #[tokio::test]
    async fn bad_urls_are_refused_with_the_reason() {
        let refused = |result: Result<Store, ConnectError>| match result {
            Err(error) => error.to_string(),
            Ok(_) => panic!("accepted"),
        };
        let not_a_url = refused(Store::connect("mysql://x").await);
        assert!(not_a_url.contains("not a PostgreSQL URL"), "{not_a_url}");
        let tls = refused(Store::connect("postgres://u@127.0.0.1/db?sslmode=require").await);
        assert!(tls.contains("sslmode=require"), "{tls}");
        let unreachable = refused(Store::connect("postgres://u@127.0.0.1:1/db").await);
        assert!(unreachable.contains("cannot connect"), "{unreachable}");
    }
}

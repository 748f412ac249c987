//! The schema, as numbered migrations applied in order at start.
//!
//! `floh_schema` records each applied version. Nodes starting together
//! migrate one at a time (a session advisory lock), each migration is one
//! transaction, and a database migrated by a newer Floh is refused rather
//! than written with assumptions that no longer hold.

use deadpool_postgres::Object;

use super::ConnectError;

/// The advisory lock key migrations hold ("floh" in ASCII).
const MIGRATION_LOCK: i64 = 0x666c_6f68;

/// Each migration, by version (1-based, in order). Never edit a shipped
/// one: add the next.
const MIGRATIONS: &[&str] = &[
    // 1: everything the store keeps.
    r#"
    CREATE TABLE connectors (
        id text PRIMARY KEY,
        name text NOT NULL UNIQUE,
        record bytea NOT NULL,
        listing bytea NOT NULL,
        bytecode bytea
    );
    CREATE TABLE executions (
        seq bigserial PRIMARY KEY,
        connector_id text NOT NULL,
        record bytea NOT NULL
    );
    CREATE INDEX executions_by_connector ON executions (connector_id, seq);
    CREATE TABLE activity (
        connector_id text PRIMARY KEY,
        summaries bytea NOT NULL,
        newest bytea
    );
    CREATE TABLE recent_executions (
        started_at_ms bigint NOT NULL,
        execution_id text NOT NULL,
        connector_id text NOT NULL,
        entry bytea NOT NULL,
        PRIMARY KEY (started_at_ms, execution_id)
    );
    CREATE INDEX recent_executions_by_connector ON recent_executions (connector_id);
    CREATE TABLE api_tokens (
        token_hash text PRIMARY KEY,
        record bytea NOT NULL
    );
    CREATE TABLE agent_tokens (
        token_hash text PRIMARY KEY,
        id text NOT NULL UNIQUE,
        record bytea NOT NULL
    );
    CREATE TABLE agents (
        agent_id text PRIMARY KEY,
        record bytea NOT NULL
    );
    CREATE TABLE openapi_specs (
        digest text PRIMARY KEY,
        body text NOT NULL,
        refs bigint NOT NULL
    );
    CREATE TABLE oauth_grants (
        connector_id text PRIMARY KEY,
        record bytea NOT NULL
    );
    CREATE TABLE oauth_pending (
        state_digest text PRIMARY KEY,
        expires_at_ms bigint NOT NULL,
        record bytea NOT NULL
    );
    CREATE TABLE key_checks (
        version integer PRIMARY KEY,
        key_check bytea NOT NULL
    );
    CREATE TABLE retired_key_versions (
        version integer PRIMARY KEY
    );
    -- One row: writers of sealed values share-lock it, a retirement
    -- locks it exclusively (see keys.rs).
    CREATE TABLE key_retirement (
        id integer PRIMARY KEY CHECK (id = 1)
    );
    INSERT INTO key_retirement VALUES (1);
    "#,
    // 2: agents connected to each node, and commands relayed between nodes.
    r#"
    CREATE TABLE agent_sessions (
        agent_id text PRIMARY KEY,
        node_id text NOT NULL,
        connectors text[] NOT NULL,
        public_key text NOT NULL,
        lease_until_ms bigint NOT NULL
    );
    CREATE TABLE agent_relay (
        id bigserial PRIMARY KEY,
        holder_node text NOT NULL,
        sender_node text NOT NULL,
        agent_id text NOT NULL,
        command bytea NOT NULL,
        wait_ms bigint NOT NULL,
        answer bytea
    );
    "#,
];

/// The newest schema version this build knows.
fn known_version() -> i32 {
    i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX)
}

/// Bring the schema up to date.
pub(super) async fn migrate(client: &mut Object) -> Result<(), ConnectError> {
    let failed = |error: tokio_postgres::Error| ConnectError::Migration(message(&error));
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(failed)?;
    let result = apply(client).await;
    // Unlock whatever happened; the pool recycles this connection.
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    result
}

async fn apply(client: &mut Object) -> Result<(), ConnectError> {
    let failed = |error: tokio_postgres::Error| ConnectError::Migration(message(&error));
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS floh_schema (
                version integer PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await
        .map_err(failed)?;
    let found: i32 = client
        .query_one("SELECT coalesce(max(version), 0) FROM floh_schema", &[])
        .await
        .map_err(failed)?
        .get(0);
    let known = known_version();
    if found > known {
        return Err(ConnectError::NewerSchema { found, known });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = i32::try_from(index + 1).unwrap_or(i32::MAX);
        let txn = client.transaction().await.map_err(failed)?;
        txn.batch_execute(migration).await.map_err(failed)?;
        txn.execute("INSERT INTO floh_schema (version) VALUES ($1)", &[&version])
            .await
            .map_err(failed)?;
        txn.commit().await.map_err(failed)?;
        tracing::info!(version, "database schema migrated");
    }
    Ok(())
}

/// Warn when the server may lose acknowledged writes: with `fsync` or
/// `synchronous_commit` off, a commit can return before it is on disk.
pub(super) async fn warn_unless_durable(client: &Object) {
    for setting in ["fsync", "synchronous_commit"] {
        let value = client
            .query_one(&format!("SHOW {setting}"), &[])
            .await
            .map(|row| row.get::<_, String>(0));
        match value {
            Ok(value) if value == "off" => tracing::warn!(
                setting,
                "PostgreSQL has {setting} off: writes Floh acknowledged can be lost in a crash"
            ),
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(setting, error = %message(&error), "cannot read a PostgreSQL setting")
            }
        }
    }
}

fn message(error: &tokio_postgres::Error) -> String {
    error
        .as_db_error()
        .map_or_else(|| error.to_string(), |db| db.message().to_string())
}

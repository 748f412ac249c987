//! Everything Floh keeps, behind one contract with two implementations:
//! an embedded redb file (`<data-dir>/floh.redb`, the default) and
//! PostgreSQL (`--database-url`), which several nodes can share.
//!
//! Every operation here is the whole contract: what it means is documented
//! once, on [`Store`], and both backends must behave alike (the store
//! contract suite in `tests/e2e/nodes/` runs against each). Each mutation is
//! one transaction, committed durably before the call returns, so an
//! acknowledged write survives a crash of the process or the machine.

mod activity;
mod agent_tokens;
mod agents;
mod keys;
mod listing;
mod oauth;
mod postgres;
mod records;
mod redb;
mod specs;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::model::OpenApiSpec;

pub use activity::{ACTIVITY_PER_CONNECTOR, ExecutionSummary, RECENT_KEPT};
pub use agent_tokens::{AgentTokenRecord, AgentTokenState};
pub use agents::AgentRecord;
pub use keys::{KEY_CHECK, RewrapBatch, RewrapCursor, RewrapError, SealedKind};
pub use listing::ConnectorListing;
pub use oauth::{OAuthGrantRecord, PendingAuthorization};
pub use postgres::{
    Change, ChangeFeed, ConnectError, HeldSession, LISTENER_APPLICATION_NAME, PostgresStore,
    RelayedCommand,
};
pub use records::{Access, ConnectorRecord, ExecutionRecord, Role, TokenRecord};
pub use redb::{BackupSummary, RedbStore, inspect_backup};
pub use specs::SpecChange;

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A connector with that name exists.
    #[error("a connector named `{0}` already exists")]
    NameTaken(String),
    /// The database failed.
    #[error("storage error: {0}")]
    Database(String),
    /// A stored value did not decode.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A value to write was sealed with a key version retired meanwhile.
    #[error("the value was sealed with key version {0}, which was retired meanwhile; retry")]
    RetiredKey(u32),
    /// The operation belongs to the other backend (a file backup of a
    /// PostgreSQL store, say).
    #[error("{0}")]
    Unsupported(&'static str),
}

/// Why `floh backup` refuses a PostgreSQL store.
pub const NO_FILE_BACKUP: &str = "this server keeps its data in PostgreSQL: back it up with \
     pg_dump or a base backup (floh backup copies the embedded redb database only)";

/// Records are stored as their JSON encoding, alike in both backends.
fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Records are plain data; serializing them cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The store, cheap to clone (every clone shares one database).
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Redb(RedbStore),
    Postgres(PostgresStore),
}

/// Call the same operation on whichever backend this store is.
macro_rules! dispatch {
    ($self:ident . $operation:ident ( $($argument:expr),* $(,)? )) => {
        match &$self.backend {
            Backend::Redb(store) => store.$operation($($argument),*).await,
            Backend::Postgres(store) => store.$operation($($argument),*).await,
        }
    };
}

impl Store {
    /// Open (or create) the redb database file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            backend: Backend::Redb(RedbStore::open(path)?),
        })
    }

    /// Connect to PostgreSQL and bring its schema up to date.
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        Ok(Self {
            backend: Backend::Postgres(PostgresStore::connect(url).await?),
        })
    }

    /// The PostgreSQL store, when this is one (the node link needs it).
    pub fn postgres(&self) -> Option<&PostgresStore> {
        match &self.backend {
            Backend::Postgres(store) => Some(store),
            Backend::Redb(_) => None,
        }
    }

    /// Which backend this is, for logs and errors: `redb` or `postgresql`.
    pub fn kind(&self) -> &'static str {
        match &self.backend {
            Backend::Redb(_) => "redb",
            Backend::Postgres(_) => "postgresql",
        }
    }

    /// Write a consistent copy of the whole database to `path` (a new
    /// file). Only the redb store has a file to copy; PostgreSQL is backed
    /// up with its own tools (`pg_dump`, base backups).
    pub async fn backup_to(
        &self,
        path: &Path,
        taken_at_ms: u64,
    ) -> Result<BackupSummary, StoreError> {
        match &self.backend {
            Backend::Redb(store) => store.backup_to(path, taken_at_ms).await,
            Backend::Postgres(_) => Err(StoreError::Unsupported(NO_FILE_BACKUP)),
        }
    }

    /// Where a file backup is written first (beside the redb file: same
    /// file system, no tmpfs size limit); `None` for PostgreSQL.
    pub fn dir(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Redb(store) => Some(store.dir()),
            Backend::Postgres(_) => None,
        }
    }

    /// Whether any API token exists.
    pub async fn has_tokens(&self) -> Result<bool, StoreError> {
        dispatch!(self.has_tokens())
    }

    /// Insert a new connector (and its bytecode and spec); refuses a taken
    /// name, also against a concurrent insert on another node. Returns the
    /// record as stored (with its spec's digest).
    pub async fn insert_connector(
        &self,
        record: ConnectorRecord,
        bytecode: Option<Vec<u8>>,
        spec: Option<OpenApiSpec>,
    ) -> Result<ConnectorRecord, StoreError> {
        dispatch!(self.insert_connector(record, bytecode, spec))
    }

    /// Replace a connector (renaming it if its name changed) and, when
    /// given, its bytecode (`Some(None)` removes it) and its spec. Returns
    /// the record as stored.
    pub async fn update_connector(
        &self,
        record: ConnectorRecord,
        previous_name: String,
        bytecode: Option<Option<Vec<u8>>>,
        spec: SpecChange,
    ) -> Result<ConnectorRecord, StoreError> {
        dispatch!(self.update_connector(record, previous_name, bytecode, spec))
    }

    /// Delete a connector with its bytecode, history, activity and grant;
    /// whether it existed.
    pub async fn delete_connector(&self, id: String) -> Result<bool, StoreError> {
        dispatch!(self.delete_connector(id))
    }

    /// A connector by id or by name.
    pub async fn find_connector(
        &self,
        id_or_name: String,
    ) -> Result<Option<ConnectorRecord>, StoreError> {
        dispatch!(self.find_connector(id_or_name))
    }

    /// Each connector's name by id (no record is read).
    pub async fn connector_names(&self) -> Result<HashMap<String, String>, StoreError> {
        dispatch!(self.connector_names())
    }

    /// Whether a connector with this id or name exists (nothing decoded).
    pub async fn connector_exists(&self, id_or_name: String) -> Result<bool, StoreError> {
        dispatch!(self.connector_exists(id_or_name))
    }

    /// Every connector.
    pub async fn list_connectors(&self) -> Result<Vec<ConnectorRecord>, StoreError> {
        dispatch!(self.list_connectors())
    }

    /// Every connector's listing summary and newest execution.
    pub async fn listing(
        &self,
    ) -> Result<Vec<(ConnectorListing, Option<ExecutionSummary>)>, StoreError> {
        dispatch!(self.listing())
    }

    /// A script connector's bytecode.
    pub async fn bytecode(&self, id: String) -> Result<Option<Vec<u8>>, StoreError> {
        dispatch!(self.bytecode(id))
    }

    /// A stored OpenAPI spec by digest.
    pub async fn spec(&self, digest: String) -> Result<Option<OpenApiSpec>, StoreError> {
        dispatch!(self.spec(digest))
    }

    /// How many distinct specs are stored.
    pub async fn spec_count(&self) -> Result<u64, StoreError> {
        dispatch!(self.spec_count())
    }

    /// Append records to connectors' histories in one transaction, keeping
    /// only the newest `keep` per connector, and update the activity
    /// summaries. Records of a connector deleted meanwhile are dropped.
    pub async fn append_executions(
        &self,
        batch: Vec<(String, ExecutionRecord)>,
        keep: usize,
    ) -> Result<(), StoreError> {
        dispatch!(self.append_executions(batch, keep))
    }

    /// A connector's history, newest first.
    pub async fn executions(
        &self,
        connector_id: String,
        limit: usize,
    ) -> Result<Vec<ExecutionRecord>, StoreError> {
        dispatch!(self.executions(connector_id, limit))
    }

    /// The latest execution summaries (oldest first) of the given
    /// connectors; connectors that never ran are absent.
    pub async fn activity_of(
        &self,
        ids: Vec<String>,
    ) -> Result<HashMap<String, Vec<ExecutionSummary>>, StoreError> {
        dispatch!(self.activity_of(ids))
    }

    /// The latest execution summaries of every connector that ran.
    pub async fn activity(&self) -> Result<HashMap<String, Vec<ExecutionSummary>>, StoreError> {
        dispatch!(self.activity())
    }

    /// The newest executions across connectors (connector id, summary),
    /// newest first.
    pub async fn recent_executions(
        &self,
        limit: usize,
    ) -> Result<Vec<(String, ExecutionSummary)>, StoreError> {
        dispatch!(self.recent_executions(limit))
    }

    /// Store an API token under the hash of its secret.
    pub async fn insert_token(
        &self,
        token_hash: String,
        record: TokenRecord,
    ) -> Result<(), StoreError> {
        dispatch!(self.insert_token(token_hash, record))
    }

    /// Every API token (without secrets), with the hash it is stored under.
    pub async fn tokens(&self) -> Result<Vec<(String, TokenRecord)>, StoreError> {
        dispatch!(self.tokens())
    }

    /// Delete the API token stored under `token_hash`; whether it existed.
    pub async fn delete_token(&self, token_hash: String) -> Result<bool, StoreError> {
        dispatch!(self.delete_token(token_hash))
    }

    /// The API token whose secret hashes to `token_hash`.
    pub async fn token(&self, token_hash: String) -> Result<Option<TokenRecord>, StoreError> {
        dispatch!(self.token(token_hash))
    }

    /// Store an agent token under the hash of its secret.
    pub async fn insert_agent_token(
        &self,
        token_hash: String,
        record: AgentTokenRecord,
    ) -> Result<(), StoreError> {
        dispatch!(self.insert_agent_token(token_hash, record))
    }

    /// The agent token whose secret hashes to `token_hash`.
    pub async fn agent_token(
        &self,
        token_hash: String,
    ) -> Result<Option<AgentTokenRecord>, StoreError> {
        dispatch!(self.agent_token(token_hash))
    }

    /// Every agent token, oldest first.
    pub async fn agent_tokens(&self) -> Result<Vec<AgentTokenRecord>, StoreError> {
        dispatch!(self.agent_tokens())
    }

    /// Mark the agent token with id `id` revoked (at `now_ms`, unless it
    /// already was); the record, or `None` when there is no such token.
    pub async fn revoke_agent_token(
        &self,
        id: String,
        now_ms: u64,
    ) -> Result<Option<AgentTokenRecord>, StoreError> {
        dispatch!(self.revoke_agent_token(id, now_ms))
    }

    /// Remember an agent (insert or replace).
    pub async fn put_agent(&self, record: AgentRecord) -> Result<(), StoreError> {
        dispatch!(self.put_agent(record))
    }

    /// Forget an agent.
    pub async fn delete_agent(&self, agent_id: String) -> Result<(), StoreError> {
        dispatch!(self.delete_agent(agent_id))
    }

    /// Every agent remembered.
    pub async fn agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        dispatch!(self.agents())
    }

    /// A connector's OAuth2 grant.
    pub async fn oauth_grant(
        &self,
        connector_id: String,
    ) -> Result<Option<OAuthGrantRecord>, StoreError> {
        dispatch!(self.oauth_grant(connector_id))
    }

    /// Store a newly connected grant (replacing any); `false` when the
    /// connector no longer exists.
    pub async fn connect_oauth_grant(
        &self,
        connector_id: String,
        record: OAuthGrantRecord,
    ) -> Result<bool, StoreError> {
        dispatch!(self.connect_oauth_grant(connector_id, record))
    }

    /// Replace a grant after a refresh, only if it is still the grant of
    /// the same connection (same `connected_at_ms`); whether it was.
    pub async fn update_oauth_grant(
        &self,
        connector_id: String,
        record: OAuthGrantRecord,
    ) -> Result<bool, StoreError> {
        dispatch!(self.update_oauth_grant(connector_id, record))
    }

    /// Delete a connector's grant; whether there was one.
    pub async fn delete_oauth_grant(&self, connector_id: String) -> Result<bool, StoreError> {
        dispatch!(self.delete_oauth_grant(connector_id))
    }

    /// Keep a pending authorization under the hash of its `state`, and
    /// drop those expired at `now_ms`.
    pub async fn insert_pending_authorization(
        &self,
        state_digest: String,
        pending: PendingAuthorization,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        dispatch!(self.insert_pending_authorization(state_digest, pending, now_ms))
    }

    /// Take out a pending authorization: a `state` works once, also when
    /// two callbacks race on two nodes.
    pub async fn take_pending_authorization(
        &self,
        state_digest: String,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        dispatch!(self.take_pending_authorization(state_digest))
    }

    /// The key check of every key version, by version.
    pub async fn key_checks(&self) -> Result<BTreeMap<u32, Vec<u8>>, StoreError> {
        dispatch!(self.key_checks())
    }

    /// Store the key check of `version`.
    pub async fn set_key_check(&self, version: u32, check: Vec<u8>) -> Result<(), StoreError> {
        dispatch!(self.set_key_check(version, check))
    }

    /// The key versions an operator retired.
    pub async fn retired_key_versions(&self) -> Result<BTreeSet<u32>, StoreError> {
        dispatch!(self.retired_key_versions())
    }

    /// How many sealed values each key version seals.
    pub async fn sealed_counts(&self) -> Result<BTreeMap<u32, u64>, StoreError> {
        dispatch!(self.sealed_counts())
    }

    /// Retire `version` unless a value still uses it (`Err(count)`), and
    /// drop its key check. Counting and marking are one transaction that
    /// no write sealing with `version` can interleave with.
    pub async fn retire_key_version(&self, version: u32) -> Result<Result<(), u64>, StoreError> {
        dispatch!(self.retire_key_version(version))
    }

    /// Re-seal up to `limit` values not sealed by `active`, from `cursor`
    /// on, in one transaction; `reseal(kind, id, sealed)` does the sealing.
    pub async fn rewrap_batch<E, F>(
        &self,
        active: u32,
        limit: usize,
        cursor: RewrapCursor,
        reseal: F,
    ) -> Result<RewrapBatch, RewrapError<E>>
    where
        E: Send + 'static,
        F: Fn(SealedKind, &str, &[u8]) -> Result<Vec<u8>, E> + Send + Sync + 'static,
    {
        dispatch!(self.rewrap_batch(active, limit, cursor, reseal))
    }
}

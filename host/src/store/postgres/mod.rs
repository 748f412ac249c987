//! The shared store: everything in PostgreSQL, for several nodes.
//!
//! Same contract as the redb store (see [`crate::store::Store`]), the same
//! records (their JSON encoding, in `bytea` columns) and one transaction per
//! operation, committed before the call returns: with PostgreSQL's
//! `synchronous_commit` on (its default; a warning at start otherwise), an
//! acknowledged write is on disk. What redb gets from running writers one
//! at a time is asked for explicitly here: unique names from a unique
//! constraint, a serialised key retirement from a row lock, counters
//! updated in place.

mod changes;
mod connectors;
mod history;
mod keys;
mod oauth;
mod relay;
mod schema;
mod tokens;

use std::str::FromStr;
use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use super::StoreError;

pub use changes::{Change, ChangeFeed, LISTENER_APPLICATION_NAME};
pub use relay::{HeldSession, RelayedCommand};

/// Connections a node keeps open at most. Every operation is one short
/// transaction; more connections than the blocking work they wait on buy
/// nothing, and PostgreSQL's default `max_connections` is 100 for all
/// nodes together.
const POOL_SIZE: usize = 16;

/// Why the store could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL is not a PostgreSQL connection string.
    #[error("--database-url is not a PostgreSQL URL: {0}")]
    InvalidUrl(String),
    /// The URL asks for something this build does not do.
    #[error("--database-url: {0}")]
    Unsupported(String),
    /// The server could not be reached or refused us.
    #[error("cannot connect to PostgreSQL: {0}")]
    Unreachable(String),
    /// The database's schema was written by a newer Floh.
    #[error(
        "the database's schema is version {found}, newer than this floh's ({known}): \
         upgrade floh, or point it at another database"
    )]
    NewerSchema {
        /// The version found.
        found: i32,
        /// The newest this build knows.
        known: i32,
    },
    /// A migration failed.
    #[error("migrating the database schema failed: {0}")]
    Migration(String),
}

/// The PostgreSQL store: a pool of connections to one database.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    changes: ChangeFeed,
}

impl PostgresStore {
    /// Connect, check the server's durability settings and migrate.
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        let config = tokio_postgres::Config::from_str(url)
            .map_err(|error| ConnectError::InvalidUrl(error.to_string()))?;
        if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return Err(ConnectError::Unsupported(
                "sslmode=require: TLS to PostgreSQL is not built in; connect over a unix \
                 socket or a private network, or through a TLS proxy"
                    .into(),
            ));
        }
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|error| ConnectError::Unreachable(error.to_string()))?;
        let mut client = pool
            .get()
            .await
            .map_err(|error| ConnectError::Unreachable(error.to_string()))?;
        schema::warn_unless_durable(&client).await;
        schema::migrate(&mut client).await?;
        // Listen only once the database is known to be there and current.
        let store = Self {
            pool,
            changes: ChangeFeed::start(Arc::new(config)),
        };
        Ok(store)
    }

    /// What other nodes change, as it commits.
    pub fn changes(&self) -> &ChangeFeed {
        &self.changes
    }

    /// A pooled connection.
    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|error| StoreError::Database(format!("PostgreSQL connection: {error}")))
    }
}

/// PostgreSQL errors as store errors, with the server's own message (the
/// client's `Display` alone says only "db error").
fn database(error: tokio_postgres::Error) -> StoreError {
    match error.as_db_error() {
        Some(db) => StoreError::Database(format!("PostgreSQL: {}", db.message())),
        None => StoreError::Database(format!("PostgreSQL: {error}")),
    }
}

/// Whether `error` is a unique-constraint violation.
fn is_unique_violation(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// Counters and times are `u64` in records and `bigint` in PostgreSQL;
/// none come near 2^63.
fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

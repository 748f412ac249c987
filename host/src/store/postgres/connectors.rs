//! Connectors: records, their unique names, bytecode, listing summaries and
//! shared OpenAPI specs.
//!
//! A name is unique by a constraint, so two nodes creating the same name at
//! once get one row and one unique violation, which becomes `NameTaken`.

use std::collections::HashMap;

use tokio_postgres::Transaction;

use super::changes::{Change, announce};
use super::{PostgresStore, database, is_unique_violation, keys, to_u64};
use crate::model::OpenApiSpec;
use crate::store::{
    ConnectorListing, ConnectorRecord, ExecutionSummary, SpecChange, StoreError, decode, encode,
};

/// Count one more user of `spec`, storing it if it is new; its digest.
async fn add_spec_ref(txn: &Transaction<'_>, spec: &OpenApiSpec) -> Result<String, StoreError> {
    let digest = spec.digest();
    txn.execute(
        "INSERT INTO openapi_specs (digest, body, refs) VALUES ($1, $2, 1)
         ON CONFLICT (digest) DO UPDATE SET refs = openapi_specs.refs + 1",
        &[&digest, &spec.json()],
    )
    .await
    .map_err(database)?;
    Ok(digest)
}

/// Count one user less of the spec `digest`; the last one removes it.
async fn drop_spec_ref(txn: &Transaction<'_>, digest: &str) -> Result<(), StoreError> {
    txn.execute(
        "UPDATE openapi_specs SET refs = refs - 1 WHERE digest = $1",
        &[&digest],
    )
    .await
    .map_err(database)?;
    txn.execute(
        "DELETE FROM openapi_specs WHERE digest = $1 AND refs <= 0",
        &[&digest],
    )
    .await
    .map_err(database)?;
    Ok(())
}

/// The error of a write that hit the unique name.
fn name_taken(error: tokio_postgres::Error, name: &str) -> StoreError {
    if is_unique_violation(&error) {
        StoreError::NameTaken(name.to_string())
    } else {
        database(error)
    }
}

impl PostgresStore {
    pub(in crate::store) async fn insert_connector(
        &self,
        mut record: ConnectorRecord,
        bytecode: Option<Vec<u8>>,
        spec: Option<OpenApiSpec>,
    ) -> Result<ConnectorRecord, StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(database)?;
        if let Some(sealed) = &record.sealed_config {
            keys::refuse_retired(&txn, sealed).await?;
        }
        if let Some(spec) = &spec {
            record.spec_digest = Some(add_spec_ref(&txn, spec).await?);
        }
        let name = record.definition.name.clone();
        txn.execute(
            "INSERT INTO connectors (id, name, record, listing, bytecode)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &record.id,
                &name,
                &encode(&record),
                &encode(&ConnectorListing::of(&record)),
                &bytecode,
            ],
        )
        .await
        .map_err(|error| name_taken(error, &name))?;
        announce(&txn, Change::Connectors).await?;
        txn.commit()
            .await
            .map_err(|error| name_taken(error, &name))?;
        Ok(record)
    }

    pub(in crate::store) async fn update_connector(
        &self,
        mut record: ConnectorRecord,
        // The unique constraint on `name` does what redb's name index
        // needs the previous name for.
        _previous_name: String,
        bytecode: Option<Option<Vec<u8>>>,
        spec: SpecChange,
    ) -> Result<ConnectorRecord, StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(database)?;
        if let Some(sealed) = &record.sealed_config {
            keys::refuse_retired(&txn, sealed).await?;
        }
        if let SpecChange::Set(spec) = &spec {
            // Count the new one first: an unchanged spec is never dropped.
            let digest = match spec {
                Some(spec) => Some(add_spec_ref(&txn, spec).await?),
                None => None,
            };
            if let Some(old) = record.spec_digest.take() {
                drop_spec_ref(&txn, &old).await?;
            }
            record.spec_digest = digest;
        }
        let name = record.definition.name.clone();
        let (set_bytecode, new_bytecode) = match bytecode {
            Some(bytes) => (true, bytes),
            None => (false, None),
        };
        txn.execute(
            "INSERT INTO connectors (id, name, record, listing, bytecode)
             VALUES ($1, $2, $3, $4, $6)
             ON CONFLICT (id) DO UPDATE SET
                name = excluded.name,
                record = excluded.record,
                listing = excluded.listing,
                bytecode = CASE WHEN $5 THEN excluded.bytecode ELSE connectors.bytecode END",
            &[
                &record.id,
                &name,
                &encode(&record),
                &encode(&ConnectorListing::of(&record)),
                &set_bytecode,
                &new_bytecode,
            ],
        )
        .await
        .map_err(|error| name_taken(error, &name))?;
        announce(&txn, Change::Connectors).await?;
        txn.commit()
            .await
            .map_err(|error| name_taken(error, &name))?;
        Ok(record)
    }

    pub(in crate::store) async fn delete_connector(&self, id: String) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await.map_err(database)?;
        let Some(row) = txn
            .query_opt(
                "DELETE FROM connectors WHERE id = $1 RETURNING record",
                &[&id],
            )
            .await
            .map_err(database)?
        else {
            return Ok(false);
        };
        let record: ConnectorRecord = decode(row.get::<_, &[u8]>(0))?;
        if let Some(digest) = &record.spec_digest {
            drop_spec_ref(&txn, digest).await?;
        }
        for forget in [
            "DELETE FROM executions WHERE connector_id = $1",
            "DELETE FROM activity WHERE connector_id = $1",
            "DELETE FROM recent_executions WHERE connector_id = $1",
            "DELETE FROM oauth_grants WHERE connector_id = $1",
        ] {
            txn.execute(forget, &[&id]).await.map_err(database)?;
        }
        announce(&txn, Change::Connectors).await?;
        txn.commit().await.map_err(database)?;
        Ok(true)
    }

    pub(in crate::store) async fn find_connector(
        &self,
        id_or_name: String,
    ) -> Result<Option<ConnectorRecord>, StoreError> {
        let client = self.client().await?;
        // An id wins over a name (as in the redb store).
        let statement = client
            .prepare_cached(
                "SELECT record FROM connectors WHERE id = $1 OR name = $1
                 ORDER BY (id = $1) DESC LIMIT 1",
            )
            .await
            .map_err(database)?;
        let row = client
            .query_opt(&statement, &[&id_or_name])
            .await
            .map_err(database)?;
        row.map(|row| decode(row.get::<_, &[u8]>(0))).transpose()
    }

    pub(in crate::store) async fn connector_names(
        &self,
    ) -> Result<HashMap<String, String>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT id, name FROM connectors", &[])
            .await
            .map_err(database)?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    pub(in crate::store) async fn connector_exists(
        &self,
        id_or_name: String,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM connectors WHERE id = $1 OR name = $1)",
                &[&id_or_name],
            )
            .await
            .map_err(database)?;
        Ok(row.get(0))
    }

    pub(in crate::store) async fn list_connectors(
        &self,
    ) -> Result<Vec<ConnectorRecord>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT record FROM connectors ORDER BY id", &[])
            .await
            .map_err(database)?;
        rows.iter()
            .map(|row| decode(row.get::<_, &[u8]>(0)))
            .collect()
    }

    pub(in crate::store) async fn listing(
        &self,
    ) -> Result<Vec<(ConnectorListing, Option<ExecutionSummary>)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT c.listing, a.newest FROM connectors c
                 LEFT JOIN activity a ON a.connector_id = c.id ORDER BY c.id",
                &[],
            )
            .await
            .map_err(database)?;
        rows.iter()
            .map(|row| {
                let newest = row
                    .get::<_, Option<&[u8]>>(1)
                    .map(decode::<ExecutionSummary>)
                    .transpose()?;
                Ok((decode(row.get::<_, &[u8]>(0))?, newest))
            })
            .collect()
    }

    pub(in crate::store) async fn bytecode(
        &self,
        id: String,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT bytecode FROM connectors WHERE id = $1", &[&id])
            .await
            .map_err(database)?;
        Ok(row.and_then(|row| row.get::<_, Option<Vec<u8>>>(0)))
    }

    pub(in crate::store) async fn spec(
        &self,
        digest: String,
    ) -> Result<Option<OpenApiSpec>, StoreError> {
        let client = self.client().await?;
        let Some(row) = client
            .query_opt(
                "SELECT body FROM openapi_specs WHERE digest = $1",
                &[&digest],
            )
            .await
            .map_err(database)?
        else {
            return Ok(None);
        };
        OpenApiSpec::from_json(row.get::<_, String>(0))
            .map(Some)
            .map_err(|error| StoreError::Corrupt(format!("spec {digest}: {error}")))
    }

    pub(in crate::store) async fn spec_count(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT count(*) FROM openapi_specs", &[])
            .await
            .map_err(database)?;
        Ok(to_u64(row.get(0)))
    }
}

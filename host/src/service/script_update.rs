//! Replacing a connector's script, checked first: a script with errors is
//! never saved, and the answer says which commands came and went.

use std::collections::{BTreeMap, BTreeSet};

use super::{ConnectorService, ConnectorView, ScriptCheck, ScriptCheckRequest, ServiceError};
use crate::model::{CommandSchema, ConfigSchema, ConnectorPatch, ExecutionModel};

/// A new script, and optionally new command declarations.
#[derive(Debug, Clone, Default)]
pub struct ScriptUpdate {
    /// The JavaScript source.
    pub script_source: String,
    /// Replaces the declared commands when given; the connection-config
    /// fields are kept either way.
    pub commands: Option<BTreeMap<String, CommandSchema>>,
}

/// What happened to a script update.
#[derive(Debug, Clone)]
pub enum ScriptUpdateOutcome {
    /// The check found errors: nothing was saved.
    Rejected(ScriptCheck),
    /// Saved; the config is unchanged.
    Saved {
        /// The connector as it is now (secrets masked).
        connector: Box<ConnectorView>,
        /// Declared commands that are new.
        added: Vec<String>,
        /// Declared commands that are gone.
        removed: Vec<String>,
        /// The check's findings (warnings only).
        check: ScriptCheck,
    },
}

impl ConnectorService {
    /// Check `update` with the host's compiler against the commands the
    /// connector will declare; save it only when the check has no errors.
    pub async fn update_script(
        &self,
        id_or_name: &str,
        update: ScriptUpdate,
    ) -> Result<ScriptUpdateOutcome, ServiceError> {
        let record = self.find(id_or_name).await?;
        let definition = &record.definition;
        if !matches!(
            definition.execution_model,
            ExecutionModel::Script | ExecutionModel::Oas
        ) {
            return Err(ServiceError::Invalid(format!(
                "`{}` is a {} connector; only script and oas connectors have a script",
                definition.name,
                definition.execution_model.as_str()
            )));
        }
        let current = definition.config_schema.clone().unwrap_or_default();
        let before: BTreeSet<String> = current.commands.keys().cloned().collect();
        let schema = update.commands.map(|commands| ConfigSchema {
            connection_config: current.connection_config.clone(),
            commands,
            oauth2: current.oauth2.clone(),
        });
        let after: BTreeSet<String> = schema
            .as_ref()
            .map(|s| s.commands.keys().cloned().collect())
            .unwrap_or_else(|| before.clone());
        let check = self
            .check_script(&ScriptCheckRequest {
                script_source: update.script_source.clone(),
                commands: after.iter().cloned().collect(),
            })
            .await?;
        if !check.ok {
            return Ok(ScriptUpdateOutcome::Rejected(check));
        }
        let patch = ConnectorPatch {
            script_source: Some(update.script_source),
            config_schema: schema,
            ..ConnectorPatch::default()
        };
        let connector = self.update(&record.id, patch).await?;
        Ok(ScriptUpdateOutcome::Saved {
            connector: Box::new(connector),
            added: after.difference(&before).cloned().collect(),
            removed: before.difference(&after).cloned().collect(),
            check,
        })
    }
}

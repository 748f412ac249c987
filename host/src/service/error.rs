//! Why a service operation failed; mapped to HTTP statuses in one place
//! (`api::error`).

use crate::model::SchemaError;
use crate::secrets::SecretsError;
use crate::store::StoreError;

/// Failures of connector operations.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No connector with that id or name.
    #[error("no connector with id or name `{0}`")]
    NotFound(String),
    /// No execution with that id in the connector's history.
    #[error("{0}")]
    ExecutionNotFound(String),
    /// The name is taken.
    #[error("a connector named `{0}` already exists")]
    NameTaken(String),
    /// The definition is invalid.
    #[error("{0}")]
    Invalid(String),
    /// An OpenAPI description could not be turned into a connector.
    #[error("{0}")]
    InvalidSpec(String),
    /// The definition is larger than its model allows.
    #[error("{0}")]
    TooLarge(String),
    /// The script does not compile.
    #[error("the script has a syntax error at line {line}, column {column}: {message}")]
    ScriptSyntax {
        /// QuickJS's message.
        message: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
    },
    /// `type` names no registered built-in type.
    #[error("`{name}` is not a registered built-in type (registered: {})", .registered.join(", "))]
    UnknownType {
        /// The requested type.
        name: String,
        /// What exists.
        registered: Vec<String>,
    },
    /// The connector's built-in type is no longer registered.
    #[error("the connector's type `{0}` is unavailable (its plugin was removed)")]
    TypeUnavailable(String),
    /// The command does not exist.
    #[error("unknown command `{command}`{}", known_list(.known))]
    UnknownCommand {
        /// The requested command.
        command: String,
        /// The connector's commands.
        known: Vec<String>,
    },
    /// Params do not match the command's `paramSchema`.
    #[error("invalid params: {0}")]
    InvalidParams(#[from] SchemaError),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StoreError),
    /// A sealed config could not be opened.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// Anything else inside the host.
    #[error("internal error: {0}")]
    Internal(String),
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        String::new()
    } else {
        format!("; known commands: {}", known.join(", "))
    }
}

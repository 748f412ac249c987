//! Why a service operation failed, with the HTTP status and stable code
//! every front end reports each failure with: decided here, once.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::model::SchemaError;
use crate::secrets::SecretsError;
use crate::store::StoreError;

/// The code of every rate-limit refusal (a token's or a connector's).
pub const RATE_LIMITED: &str = "RATE_LIMITED";

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
    /// An OAuth2 authorization could not start or finish.
    #[error("{message}")]
    OAuth {
        /// What went wrong.
        kind: super::oauth::OAuthFailure,
        /// What a person should know or do.
        message: String,
    },
    /// A key version cannot be retired while values are sealed with it.
    #[error(
        "key version {version} still seals {values} value(s); wait for the re-wrap to finish (`floh key status`)"
    )]
    KeyInUse {
        /// The version.
        version: u32,
        /// How many values it seals.
        values: u64,
    },
    /// The connector's executions are over their rate limit.
    #[error("executions of connector `{connector}` are {refusal}")]
    RateLimited {
        /// The connector's name.
        connector: String,
        /// The limit and how long to wait.
        refusal: crate::rate_limit::Refusal,
    },
    /// Anything else inside the host.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// The HTTP status and the stable machine-readable code of this error
    /// (the API's `{"error": {"code"}}`; the web UI answers with the same
    /// status).
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "CONNECTOR_NOT_FOUND"),
            Self::ExecutionNotFound(_) => (StatusCode::NOT_FOUND, "EXECUTION_NOT_FOUND"),
            Self::NameTaken(_) => (StatusCode::CONFLICT, "NAME_TAKEN"),
            Self::Invalid(_) => (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"),
            Self::InvalidSpec(_) => (StatusCode::BAD_REQUEST, "INVALID_SPEC"),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "DEFINITION_TOO_LARGE"),
            Self::ScriptSyntax { .. } => (StatusCode::BAD_REQUEST, "SCRIPT_SYNTAX_ERROR"),
            Self::UnknownType { .. } => (StatusCode::BAD_REQUEST, "UNKNOWN_TYPE"),
            Self::TypeUnavailable(_) => (StatusCode::CONFLICT, "TYPE_UNAVAILABLE"),
            // A command is named in the request, not the path: the
            // connector exists, the request asks it for something it lacks.
            Self::UnknownCommand { .. } => (StatusCode::BAD_REQUEST, "UNKNOWN_COMMAND"),
            Self::InvalidParams(_) => (StatusCode::BAD_REQUEST, "INVALID_PARAMS"),
            Self::OAuth { kind, .. } => {
                use super::oauth::OAuthFailure;
                match kind {
                    OAuthFailure::NotSupported => (StatusCode::CONFLICT, "OAUTH_NOT_SUPPORTED"),
                    OAuthFailure::NotConfigured => (StatusCode::CONFLICT, "OAUTH_NOT_CONFIGURED"),
                    OAuthFailure::InvalidState => (StatusCode::BAD_REQUEST, "OAUTH_INVALID_STATE"),
                    OAuthFailure::ProviderError => {
                        (StatusCode::BAD_REQUEST, "OAUTH_PROVIDER_ERROR")
                    }
                    OAuthFailure::ExchangeFailed => {
                        (StatusCode::BAD_GATEWAY, "OAUTH_EXCHANGE_FAILED")
                    }
                }
            }
            Self::KeyInUse { .. } => (StatusCode::CONFLICT, "KEY_IN_USE"),
            Self::Secrets(SecretsError::KeysFromEnvironment) => {
                (StatusCode::CONFLICT, "KEYS_READ_ONLY")
            }
            Self::Secrets(SecretsError::ActiveVersion(_)) => (StatusCode::CONFLICT, "KEY_ACTIVE"),
            Self::Secrets(SecretsError::UnknownVersion(_)) => {
                (StatusCode::NOT_FOUND, "KEY_NOT_FOUND")
            }
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, RATE_LIMITED),
            Self::Secrets(_) => (StatusCode::INTERNAL_SERVER_ERROR, "CONFIG_UNREADABLE"),
            Self::Storage(StoreError::RetiredKey(_)) => (StatusCode::CONFLICT, "KEY_RETIRED"),
            Self::Storage(StoreError::Unsupported(_)) => (StatusCode::CONFLICT, "NOT_SUPPORTED"),
            Self::Storage(_) | Self::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR")
            }
        }
    }

    /// The refusal of a rate-limited execution, for front ends that tell
    /// the client when to retry (`Retry-After`).
    pub fn rate_limit_refusal(&self) -> Option<&crate::rate_limit::Refusal> {
        match self {
            Self::RateLimited { refusal, .. } => Some(refusal),
            _ => None,
        }
    }

    /// Fields that go with the code (a syntax error's `line` and `column`,
    /// `registeredTypes`, `knownCommands`).
    pub fn details(&self) -> Option<Value> {
        match self {
            Self::ScriptSyntax { line, column, .. } => {
                Some(json!({"line": line, "column": column}))
            }
            Self::UnknownType { registered, .. } => Some(json!({"registeredTypes": registered})),
            Self::UnknownCommand { known, .. } => Some(json!({"knownCommands": known})),
            _ => None,
        }
    }
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        String::new()
    } else {
        format!("; known commands: {}", known.join(", "))
    }
}

//! What the API returns for connectors and executions.

use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{Object, ObjectBuilder, Schema, Type};

use crate::imports::{HttpCall, LogEntry};
use crate::model::{ConnectorDefinition, ExecutionModel};

/// A connector as read through the API: secret config fields masked.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorView {
    /// Stable id.
    pub id: String,
    /// The definition, with `config` masked and `configSchema` resolved
    /// (a built-in instance shows its type's schema).
    #[serde(flatten)]
    pub definition: ConnectorDefinition,
    /// The OAuth2 connection, for a connector with `configSchema.oauth2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth: Option<super::OAuthStatus>,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: u64,
    /// Last update, Unix milliseconds.
    pub updated_at_ms: u64,
}

/// The documented schema: the definition's properties plus the stored ones,
/// as one flat object. (An `allOf` of the two would break the definition's
/// `additionalProperties: false`.)
impl utoipa::PartialSchema for ConnectorView {
    fn schema() -> RefOr<Schema> {
        let mut object = match <ConnectorDefinition as utoipa::PartialSchema>::schema() {
            RefOr::T(Schema::Object(object)) => object,
            _ => Object::new(),
        };
        object.description = Some("A connector as read through the API: secret config fields masked, `configSchema` resolved (a built-in instance shows its type's schema).".into());
        let timestamp = |description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .description(Some(description))
                .build()
        };
        let stored = [
            (
                "id",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("Stable id."))
                    .build(),
            ),
            (
                "createdAtMs",
                timestamp("Creation time, Unix milliseconds."),
            ),
            ("updatedAtMs", timestamp("Last update, Unix milliseconds.")),
        ];
        for (name, schema) in stored {
            object.properties.insert(name.into(), schema.into());
            object.required.push(name.into());
        }
        object.properties.insert(
            "oauth".into(),
            <super::OAuthStatus as utoipa::PartialSchema>::schema(),
        );
        Schema::Object(object).into()
    }
}

impl utoipa::ToSchema for ConnectorView {
    fn name() -> std::borrow::Cow<'static, str> {
        "Connector".into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        <ConnectorDefinition as utoipa::ToSchema>::schemas(schemas);
    }
}

/// The answer to an execute or test request (also the structured result of
/// the MCP tools that run connectors, whose output schema derives from it).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionResponse {
    /// Id of this execution in the connector's history.
    pub execution_id: String,
    /// The connector's name.
    pub connector: String,
    /// How it ran.
    pub execution_model: ExecutionModel,
    /// The command run.
    pub command: String,
    /// The ConnectorResult's `success` (false when the execution failed).
    pub success: bool,
    /// The ConnectorResult's `data`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// The ConnectorResult's `outputVariables`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_variables: Option<Value>,
    /// The ConnectorResult's `error`, or why the execution failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Set when the execution itself failed (e.g. `TIMEOUT`, `COMMAND_THREW`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The JavaScript stack of a thrown error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// Wall time.
    pub duration_ms: u64,
    /// Captured log lines ({level, message, atMs, ...}), secrets masked.
    #[schemars(with = "Vec<serde_json::Map<String, Value>>")]
    pub logs: Vec<LogEntry>,
    /// HTTP requests made ({method, url, status, durationMs, requestHeaders,
    /// responseHeaders, requestBody, responseBody}; bodies as bounded
    /// previews), secrets masked.
    #[schemars(with = "Vec<serde_json::Map<String, Value>>")]
    pub http_calls: Vec<HttpCall>,
    /// The on-premise agent that ran it (absent: this server ran it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

/// An execution in the list across connectors.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecentExecution {
    /// The connector's name.
    pub connector: String,
    /// The execution.
    #[serde(flatten)]
    pub execution: crate::store::ExecutionSummary,
}

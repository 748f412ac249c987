//! The Floh MCP server: the spec's tools for AI-assisted connector
//! building (`generate_connector_script`, `parse_openapi_spec`,
//! `create_connector`, `update_connector_script`, `test_connector`,
//! `execute_connector_command`) plus lookups, and resources a model reads
//! before it writes.
//!
//! A thin front end over [`ConnectorService`], like the HTTP API: tools call
//! the service directly, so validation, egress policy, secret masking,
//! agents and history apply unchanged. [`http`] serves it as Streamable HTTP
//! at `/mcp` behind the API's bearer tokens; [`stdio`] is `floh mcp`, a
//! bridge from a desktop client's stdin/stdout to a running server's `/mcp`.

mod authoring;
mod connectors;
mod errors;
mod execution;
pub mod http;
mod resources;
mod schema;
pub mod stdio;
mod tools;

use std::sync::Arc;

use rmcp::ServerHandler;
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, ErrorData, Implementation,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig,
};
use rmcp::service::{RequestContext, RoleServer};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::metrics::Metrics;
use crate::service::ConnectorService;
use crate::store::TokenRecord;
use errors::ToolError;
use tools::{TOOLS, ToolSpec};

pub use http::McpSettings;

/// What the server tells a client about how to use it.
const INSTRUCTIONS: &str = "Floh runs connectors: code that lets workflows call an API. To build one: \
look at what exists (list_connectors, list_connector_types); draft it from an OpenAPI spec \
(parse_openapi_spec) or from the endpoints you know (generate_connector_script); show the user the \
commands and config fields; create it with its config (create_connector); check it (test_connector); \
run commands (execute_connector_command). Fix a script with update_connector_script. The resource \
floh://script-api/reference documents the `floh` global scripts use; floh://connectors/{name} is a \
connector's definition. Secrets are write-only: they read back as `***`.";

/// One MCP session's handler (cheap to clone: the service is shared).
#[derive(Clone)]
pub struct FlohMcp {
    service: Arc<ConnectorService>,
    metrics: Arc<Metrics>,
}

impl FlohMcp {
    /// A handler over `service`, counting executions in `metrics`.
    pub fn new(service: Arc<ConnectorService>, metrics: Arc<Metrics>) -> Self {
        Self { service, metrics }
    }

    async fn dispatch(
        &self,
        spec: &ToolSpec,
        arguments: Value,
        context: &RequestContext<RoleServer>,
    ) -> Result<Value, ToolError> {
        let service = &self.service;
        match spec.name {
            "list_connectors" => connectors::list(service, parse(arguments)?).await,
            "get_connector" => connectors::get(service, parse(arguments)?).await,
            "list_connector_types" => {
                parse::<connectors::NoArguments>(arguments)?;
                connectors::types(service)
            }
            "parse_openapi_spec" => authoring::parse(service, parse(arguments)?).await,
            "generate_connector_script" => authoring::generate(service, parse(arguments)?).await,
            "create_connector" => connectors::create(service, parse(arguments)?).await,
            "update_connector_script" => {
                connectors::update_script(service, parse(arguments)?).await
            }
            "test_connector" => {
                let target: connectors::ConnectorRef = parse(arguments)?;
                execution::test(service, &self.metrics, &target.connector, context).await
            }
            "execute_connector_command" => {
                execution::execute(service, &self.metrics, parse(arguments)?, context).await
            }
            other => Err(ToolError::new(
                "INTERNAL_ERROR",
                format!("the tool `{other}` has no implementation"),
            )),
        }
    }
}

fn parse<T: DeserializeOwned>(arguments: Value) -> Result<T, ToolError> {
    serde_json::from_value(arguments).map_err(ToolError::arguments)
}

/// The token that authenticated this request (the HTTP layer puts it into
/// the request's extensions; every request is checked, not only the first
/// of a session).
fn caller(context: &RequestContext<RoleServer>) -> Result<TokenRecord, ErrorData> {
    context
        .extensions
        .get::<::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<TokenRecord>())
        .cloned()
        .ok_or_else(|| ErrorData::invalid_request("the request carries no Floh token", None))
}

impl ServerHandler for FlohMcp {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        );
        info.server_info = Implementation::new("floh", env!("CARGO_PKG_VERSION"))
            .with_title("Floh connector host");
        info.instructions = Some(INSTRUCTIONS.into());
        info
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let caller = caller(&context)?;
        let tools = TOOLS
            .iter()
            .filter(|spec| spec.access.allows(caller.role))
            .map(ToolSpec::tool)
            .collect();
        let mut result = ListToolsResult::with_all_items(tools);
        // The list depends on the token's role.
        result.cache_scope = Some(CacheScope::Private);
        Ok(result)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = caller(&context)?;
        let Some(spec) = tools::find(&request.name) else {
            return Err(ErrorData::invalid_params(
                format!("unknown tool `{}`", request.name),
                None,
            ));
        };
        if !spec.access.allows(caller.role) {
            let refused = ToolError::new(
                "FORBIDDEN",
                format!(
                    "token `{}` has role `executor`, which may read, test and execute but not call `{}`",
                    caller.name, spec.name
                ),
            );
            return Ok(refused.into_result().into());
        }
        let arguments = Value::Object(request.arguments.unwrap_or_default());
        let result = match self.dispatch(spec, arguments, &context).await {
            Ok(value) => CallToolResult::structured(value),
            Err(error) => error.into_result(),
        };
        Ok(result.into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        caller(&context)?;
        let mut result = resources::list(&self.service)
            .await
            .map_err(|e| ErrorData::internal_error(e.message, None))?;
        result.cache_scope = Some(CacheScope::Private);
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        caller(&context)?;
        Ok(resources::templates())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        caller(&context)?;
        match resources::read(&self.service, &request.uri).await {
            Ok(result) => Ok(result.into()),
            Err(error) if error.code.ends_with("NOT_FOUND") => {
                Err(ErrorData::resource_not_found(error.message, None))
            }
            Err(error) => Err(ErrorData::internal_error(error.message, None)),
        }
    }
}

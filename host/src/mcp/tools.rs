//! The one table of tools: name, description for a model, who may call it,
//! annotations and schemas. `tools/list` and the role check both read it.

use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};

use super::authoring::{GenerateOutput, ParseOutput};
use super::connectors::{
    ConnectorOutput, ConnectorRef, ConnectorsOutput, CreateConnectorInput, ListConnectorsInput,
    NoArguments, TypesOutput, UpdateScriptInput, UpdateScriptOutput,
};
use super::execution::ExecuteInput;
use super::schema::{input, output};
use crate::service::{ExecutionResponse, OpenApiImport, ScriptGeneration};
use crate::store::Role;

/// Which tokens may call a tool; the same split as the HTTP API, where an
/// executor may read, test and execute but not change anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reading connectors and types.
    Read,
    /// Running a connector's commands.
    Execute,
    /// Drafting, creating and changing connectors: admins only.
    Author,
}

impl Access {
    /// Whether a token with `role` may call a tool with this access.
    pub fn allows(self, role: Role) -> bool {
        role == Role::Admin || self != Self::Author
    }
}

/// One tool.
pub struct ToolSpec {
    /// The tool's name.
    pub name: &'static str,
    /// A short title for people.
    pub title: &'static str,
    /// What a model needs to know to use it well.
    pub description: &'static str,
    /// Who may call it.
    pub access: Access,
    /// Changes nothing.
    pub read_only: bool,
    /// May destroy or overwrite (only meaningful when not read-only).
    pub destructive: bool,
    /// Calling it again with the same arguments changes nothing more.
    pub idempotent: bool,
    /// Reaches systems outside Floh (the connector's API).
    pub open_world: bool,
    /// The arguments' schema.
    pub input: fn() -> Arc<JsonObject>,
    /// The structured result's schema.
    pub output: fn() -> Arc<JsonObject>,
}

impl ToolSpec {
    /// The tool as `tools/list` shows it.
    pub fn tool(&self) -> Tool {
        let annotations = ToolAnnotations::with_title(self.title)
            .read_only(self.read_only)
            .destructive(self.destructive)
            .idempotent(self.idempotent)
            .open_world(self.open_world);
        Tool::new(self.name, self.description, (self.input)())
            .with_title(self.title)
            .with_raw_output_schema((self.output)())
            .with_annotations(annotations)
    }
}

/// The tool called `name`.
pub fn find(name: &str) -> Option<&'static ToolSpec> {
    TOOLS.iter().find(|spec| spec.name == name)
}

/// Every tool, in the order a model would use them.
pub static TOOLS: [ToolSpec; 9] = [
    ToolSpec {
        name: "list_connectors",
        title: "List connectors",
        description: "List the connectors registered on this Floh server (name, id, execution model, description, commands). Call this first to see what exists before creating a connector. Optional filters: category, tag, model (`built_in`, `script`, `external`, `oas`) and q (text in name, type or description).",
        access: Access::Read,
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        input: input::<ListConnectorsInput>,
        output: output::<ConnectorsOutput>,
    },
    ToolSpec {
        name: "get_connector",
        title: "Get a connector",
        description: "Read one connector's full definition by id or name: config schema, commands with their params, script source, and its config with secret fields masked as `***`. Read this before changing a connector's script.",
        access: Access::Read,
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        input: input::<ConnectorRef>,
        output: output::<ConnectorOutput>,
    },
    ToolSpec {
        name: "list_connector_types",
        title: "List built-in connector types",
        description: "List the built-in connector types (native and WASM plugins) with their config schemas and commands. A connector of one of these types needs no script: create it with executionModel `built_in`, `type` set to the type's name, and a config.",
        access: Access::Read,
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        input: input::<NoArguments>,
        output: output::<TypesOutput>,
    },
    ToolSpec {
        name: "parse_openapi_spec",
        title: "Draft a connector from an OpenAPI spec",
        description: "Turn an OpenAPI 3.0/3.1 or Swagger 2.0 description (a JSON object, or JSON or YAML text) into a draft connector: one command per operation, config fields from the security schemes (secrets marked), and a generated script. Nothing is saved. Use `select` to import only some operationIds, tags or paths of a large API, and `baseUrl` when the spec's servers are relative. Returns the draft `definition` (pass it to create_connector with a config), the operations skipped and why, and a summary. Show the user the commands and config fields before creating.",
        access: Access::Author,
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        input: input::<OpenApiImport>,
        output: output::<ParseOutput>,
    },
    ToolSpec {
        name: "generate_connector_script",
        title: "Generate a connector from a description of its endpoints",
        description: "Build a complete script connector from a structured description of an API: its base URL, how it authenticates, and its endpoints (command name, HTTP method, path, params with location and type, JSON body). Floh has no language model: turn the user's description into `endpoints` yourself; a description alone is not enough and returns an error listing what is missing, a skeleton script and the script API reference. The script is generated deterministically and compiled with the host's compiler; the result has the `definition` (config schema, commands, script) ready for create_connector and `diagnostics` (line, column, message; also declared commands the script does not define). To check a script you wrote, pass it as `script` with the endpoints it implements. Nothing is saved.",
        access: Access::Author,
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
        input: input::<ScriptGeneration>,
        output: output::<GenerateOutput>,
    },
    ToolSpec {
        name: "create_connector",
        title: "Create a connector",
        description: "Create a connector from a definition (as returned by parse_openapi_spec or generate_connector_script, or written by hand) plus its connection config (e.g. baseUrl and the API's credentials; secrets are encrypted at rest and never shown again). The script is compiled first: a syntax error is returned with line and column and nothing is created. Returns the created connector with secrets masked. Then call test_connector.",
        access: Access::Author,
        read_only: false,
        destructive: false,
        idempotent: false,
        open_world: false,
        input: input::<CreateConnectorInput>,
        output: output::<ConnectorOutput>,
    },
    ToolSpec {
        name: "update_connector_script",
        title: "Replace a connector's script",
        description: "Replace the script of a script (or OpenAPI-derived) connector, optionally with new command declarations. The script is compiled and checked first; on any error nothing is saved and the diagnostics (line, column, message) are returned for you to fix. The connection config is kept. Returns the commands added and removed. The next execution runs the new code.",
        access: Access::Author,
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: false,
        input: input::<UpdateScriptInput>,
        output: output::<UpdateScriptOutput>,
    },
    ToolSpec {
        name: "test_connector",
        title: "Test a connector",
        description: "Run a connector's `test` command: checks connectivity and credentials against the real API. Returns success, data, error and error code, the connector's logs and the HTTP calls it made (secrets masked), and the duration. A failed test is an error result whose `execution` field has the details.",
        access: Access::Execute,
        read_only: false,
        destructive: false,
        idempotent: true,
        open_world: true,
        input: input::<ConnectorRef>,
        output: output::<ExecutionResponse>,
    },
    ToolSpec {
        name: "execute_connector_command",
        title: "Execute a connector command",
        description: "Execute one command of a connector with params (checked against the command's param schema) and optional workflow variables, against the real API; it may change data there. Returns data, outputVariables, error and error code, logs and HTTP calls (secrets masked), and the duration. A command that fails is an error result whose `execution` field has the details. Long executions report progress when you send a progressToken, and stop when you cancel the request.",
        access: Access::Execute,
        read_only: false,
        destructive: true,
        idempotent: false,
        open_world: true,
        input: input::<ExecuteInput>,
        output: output::<ExecutionResponse>,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_tools_and_the_lookup_tools_at_most_ten() {
        let names: Vec<&str> = TOOLS.iter().map(|spec| spec.name).collect();
        for name in [
            "generate_connector_script",
            "parse_openapi_spec",
            "create_connector",
            "update_connector_script",
            "test_connector",
            "execute_connector_command",
            "list_connectors",
            "get_connector",
            "list_connector_types",
        ] {
            assert!(names.contains(&name), "{name} missing");
        }
        assert!(names.len() <= 10);
    }

    #[test]
    fn executors_get_no_authoring_tool() {
        let allowed: Vec<&str> = TOOLS
            .iter()
            .filter(|spec| spec.access.allows(Role::Executor))
            .map(|spec| spec.name)
            .collect();
        assert_eq!(
            allowed,
            [
                "list_connectors",
                "get_connector",
                "list_connector_types",
                "test_connector",
                "execute_connector_command"
            ]
        );
        assert!(TOOLS.iter().all(|spec| spec.access.allows(Role::Admin)));
    }

    #[test]
    fn read_only_tools_are_never_destructive_and_executing_reaches_out() {
        for spec in TOOLS.iter() {
            assert!(!(spec.read_only && spec.destructive), "{}", spec.name);
        }
        assert!(find("execute_connector_command").is_some_and(|s| s.open_world && !s.read_only));
    }
}

//! Resources a model reads before it writes: the script API reference and
//! each connector's definition (secrets masked).

use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate,
};
use serde_json::Value;

use super::errors::ToolError;
use crate::service::{ConnectorService, ListFilter};

/// The script API reference.
pub const SCRIPT_API_URI: &str = "floh://script-api/reference";

/// Connector definitions: `floh://connectors/{name}`.
const CONNECTOR_PREFIX: &str = "floh://connectors/";

// Placeholder until `crate::script_api` (the editor's `floh.d.ts` and its
// reference text) is on main; then these point at it.
/// The reference text of the `floh` global.
pub const SCRIPT_API_REFERENCE: &str = r#"# The Floh script API

A script connector is plain JavaScript (ES2020, QuickJS). Each command is a
global function named like the command; it takes no arguments and returns a
ConnectorResult: `{ success: true, data, outputVariables }` or
`{ success: false, error: "message" }`. A thrown error fails the command
(errorCode COMMAND_THREW). Define a `test()` command that checks
connectivity and credentials.

## Inputs
- `floh.config`: the connection config (object); secrets are in clear here
  and masked in every log line and HTTP record.
- `floh.params`: the command's params (defaults applied, checked against the
  command's paramSchema).
- `floh.variables`: workflow variables.

## HTTP (looks synchronous)
- `floh.http.get(url, headers?)`, `floh.http.delete(url, headers?)`
- `floh.http.post(url, body?, headers?)`, `floh.http.put(url, body?, headers?)`,
  `floh.http.patch(url, body?, headers?)`
- `headers`: an object of name/value pairs. Build query strings yourself
  with `encodeURIComponent`.
- A body that is an object is sent as JSON (content type set for you); a
  string is sent as is.
- Returns `{ status, body, headers }`; `body` is parsed JSON when the
  response is JSON, else text. HTTP errors do not throw: check `status`.
- Only public addresses are reachable unless the connector lists
  `allowedNetworks` (CIDR) or the server runs with open egress.

## Logs and cache
- `floh.log.trace|debug|info|warn|error(message)` (and `console.log`): kept
  with the execution (filtered by the connector's `logLevel`), secrets masked.
- `floh.cache.get(key)`, `floh.cache.set(key, value, ttlSeconds?)`,
  `floh.cache.delete(key)`: strings kept between executions of this
  connector (default lifetime 300 s), e.g. an OAuth2 access token.

## Example
```js
function listContacts() {
  var url = floh.config.baseUrl + "/contacts?limit=" + encodeURIComponent(floh.params.limit);
  var r = floh.http.get(url, { Authorization: "Bearer " + floh.config.apiKey });
  if (r.status >= 400) return { success: false, error: "HTTP " + r.status };
  return { success: true, data: r.body, outputVariables: { count: r.body.length } };
}
```
"#;

/// `resources/list`: the reference and every connector.
pub async fn list(service: &ConnectorService) -> Result<ListResourcesResult, ToolError> {
    let mut resources = vec![
        Resource::new(SCRIPT_API_URI, "script-api")
            .with_title("Floh script API reference")
            .with_description(
                "The `floh` global a script connector uses: config, params, variables, http, log; and the shape a command returns.",
            )
            .with_mime_type("text/markdown"),
    ];
    for view in service.list(&ListFilter::default()).await? {
        let name = view.definition.name;
        resources.push(
            Resource::new(format!("{CONNECTOR_PREFIX}{name}"), name.clone())
                .with_title(format!("Connector {name}"))
                .with_description(format!(
                    "The definition of `{name}` ({}): config schema, commands, script; secrets masked.",
                    view.definition.execution_model.as_str()
                ))
                .with_mime_type("application/json"),
        );
    }
    Ok(ListResourcesResult::with_all_items(resources))
}

/// `resources/templates/list`.
pub fn templates() -> ListResourceTemplatesResult {
    ListResourceTemplatesResult::with_all_items(vec![
        ResourceTemplate::new(format!("{CONNECTOR_PREFIX}{{name}}"), "connector")
            .with_title("A connector's definition")
            .with_description("A connector's definition by name or id, secrets masked.")
            .with_mime_type("application/json"),
    ])
}

/// `resources/read`.
pub async fn read(service: &ConnectorService, uri: &str) -> Result<ReadResourceResult, ToolError> {
    if uri == SCRIPT_API_URI {
        return Ok(ReadResourceResult::new(vec![text(
            uri,
            "text/markdown",
            SCRIPT_API_REFERENCE.to_string(),
        )]));
    }
    let Some(name) = uri.strip_prefix(CONNECTOR_PREFIX) else {
        return Err(ToolError::new(
            "RESOURCE_NOT_FOUND",
            format!("no resource `{uri}`"),
        ));
    };
    let view = service.get(name).await?;
    let mut value =
        serde_json::to_value(&view).map_err(|e| ToolError::new("INTERNAL_ERROR", e.to_string()))?;
    // The definition a model needs; the config (masked anyway) is left out.
    if let Value::Object(object) = &mut value {
        object.remove("config");
    }
    let pretty = serde_json::to_string_pretty(&value)
        .map_err(|e| ToolError::new("INTERNAL_ERROR", e.to_string()))?;
    Ok(ReadResourceResult::new(vec![text(
        uri,
        "application/json",
        pretty,
    )]))
}

fn text(uri: &str, mime_type: &str, text: String) -> ResourceContents {
    ResourceContents::TextResourceContents {
        uri: uri.to_string(),
        mime_type: Some(mime_type.to_string()),
        text,
        meta: None,
    }
}

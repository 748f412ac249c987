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

/// The reference text of the `floh` global.
pub const SCRIPT_API_REFERENCE: &str = crate::script_api::REFERENCE_MARKDOWN;

/// The TypeScript declarations of the `floh` global.
const DECLARATIONS_URI: &str = "floh://script-api/floh.d.ts";

/// `resources/list`: the reference and every connector.
pub async fn list(service: &ConnectorService) -> Result<ListResourcesResult, ToolError> {
    let mut resources = vec![
        Resource::new(SCRIPT_API_URI, "script-api")
            .with_title("Floh script API reference")
            .with_description(
                "The `floh` global a script connector uses: config, params, variables, http, log; and the shape a command returns.",
            )
            .with_mime_type("text/markdown"),
        Resource::new(DECLARATIONS_URI, "floh.d.ts")
            .with_title("Floh script API: TypeScript declarations")
            .with_description("TypeScript declarations of the `floh` global, for checking a script before writing it.")
            .with_mime_type("application/typescript"),
    ];
    for listed in service.list(&ListFilter::default()).await? {
        let name = listed.name;
        resources.push(
            Resource::new(format!("{CONNECTOR_PREFIX}{name}"), name.clone())
                .with_title(format!("Connector {name}"))
                .with_description(format!(
                    "The definition of `{name}` ({}): config schema, commands, script; secrets masked.",
                    listed.execution_model.as_str()
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
    if uri == DECLARATIONS_URI {
        return Ok(ReadResourceResult::new(vec![text(
            uri,
            "application/typescript",
            crate::script_api::TYPESCRIPT_DECLARATIONS.to_string(),
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

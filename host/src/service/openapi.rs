//! The OpenAPI import request as a typed, documented input (its JSON schema
//! is what the MCP tool `parse_openapi_spec` advertises); it becomes the
//! service's [`OpenApiParse`], so the import rules live once.

use serde::Deserialize;
use serde_json::Value;

use super::OpenApiParse;
use crate::oas::Selection;

/// An import request.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenApiImport {
    /// The OpenAPI 3.0/3.1 or Swagger 2.0 description: a JSON object, or
    /// its JSON or YAML text in a string.
    pub spec: Value,
    /// Import only some operations (all when absent or empty).
    #[serde(default)]
    pub select: Option<ImportSelection>,
    /// Where a spec with relative server URLs is served (an absolute
    /// http(s) URL such as `https://api.example.com`): the draft's `baseUrl`
    /// becomes this base joined with the server's path.
    #[serde(default)]
    pub base_url: Option<String>,
}

/// Which operations to import: an operation is kept when its operationId,
/// one of its tags or its path is listed.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportSelection {
    /// operationIds to import.
    #[serde(default)]
    pub operation_ids: Vec<String>,
    /// Tags whose operations to import.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Path templates to import, e.g. `/pets/{petId}`.
    #[serde(default)]
    pub paths: Vec<String>,
}

impl From<ImportSelection> for Selection {
    fn from(selection: ImportSelection) -> Self {
        Self {
            operation_ids: selection.operation_ids,
            tags: selection.tags,
            paths: selection.paths,
        }
    }
}

impl From<OpenApiImport> for OpenApiParse {
    fn from(import: OpenApiImport) -> Self {
        Self {
            spec: crate::model::OpenApiSpec::from_value(&import.spec),
            select: import.select.unwrap_or_default().into(),
            base_url: import.base_url,
        }
    }
}

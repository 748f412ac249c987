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
    pub select: Option<Selection>,
    /// Where a spec with relative server URLs is served (an absolute
    /// http(s) URL such as `https://api.example.com`): the draft's `baseUrl`
    /// becomes this base joined with the server's path.
    #[serde(default)]
    pub base_url: Option<String>,
}

impl From<OpenApiImport> for OpenApiParse {
    fn from(import: OpenApiImport) -> Self {
        Self {
            spec: crate::model::OpenApiSpec::from_value(&import.spec),
            select: import.select.unwrap_or_default(),
            base_url: import.base_url,
        }
    }
}

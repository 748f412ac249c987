//! OpenAPI import as a service operation: what `POST
//! /api/connectors/parse-oas` and the MCP tool `parse_openapi_spec` both
//! call, so the base-URL rule and the off-thread parsing live once.

use serde::Deserialize;
use serde_json::Value;

use super::{ConnectorService, ServiceError};
use crate::oas::{Draft, Selection};

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

impl ConnectorService {
    /// Turn a spec into a draft connector (nothing is stored). Large specs
    /// take real CPU time, so the work runs off the async workers.
    pub async fn parse_openapi(&self, request: OpenApiImport) -> Result<Draft, ServiceError> {
        if let Some(base) = &request.base_url
            && !(base.starts_with("http://") || base.starts_with("https://"))
        {
            return Err(ServiceError::Invalid(
                "`baseUrl` must be an absolute http(s) URL".into(),
            ));
        }
        let selection: Selection = request.select.unwrap_or_default().into();
        tokio::task::spawn_blocking(move || {
            let mut draft = crate::oas::draft(request.spec, &selection)?;
            if let Some(base) = &request.base_url {
                crate::oas::draft::apply_base_url(&mut draft, base);
            }
            Ok::<_, crate::oas::OasError>(draft)
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?
        .map_err(|e| ServiceError::InvalidSpec(e.to_string()))
    }
}

//! Generating a script connector from a structured description of an API
//! (the MCP tool `generate_connector_script`). There is no second code
//! generator: the description becomes an OpenAPI 3 document in memory and
//! the OpenAPI importer writes the script, so both paths produce the same,
//! reviewed code. The result is checked with the host's real compiler.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{ConnectorService, ScriptCheck, ScriptCheckRequest, ServiceError};
use crate::model::{ConnectorDefinition, ExecutionModel, OpenApiSpec};
use crate::oas::Selection;

/// What to generate a connector for.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScriptGeneration {
    /// The connector's name: unique on the server, used in URLs and
    /// workflows, e.g. `acme-crm`.
    pub name: String,
    /// What the connector connects to, in a sentence.
    #[serde(default)]
    pub description: Option<String>,
    /// The API's base URL, e.g. `https://api.acme.example/v1`; becomes the
    /// default of the `baseUrl` config field.
    #[serde(default)]
    pub base_url: Option<String>,
    /// How the API authenticates (default: no authentication).
    #[serde(default)]
    pub auth: AuthSpec,
    /// The endpoints; each becomes one command.
    #[serde(default)]
    pub endpoints: Vec<EndpointSpec>,
    /// A script you wrote yourself: it is checked (compiled, and every
    /// endpoint's command must be a global function in it) and returned in
    /// place of the generated one.
    #[serde(default)]
    pub script: Option<String>,
}

/// How the API authenticates.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthSpec {
    /// The kind of authentication.
    #[serde(default)]
    pub kind: AuthKind,
    /// `api_key_header`/`api_key_query`: the header or query parameter that
    /// carries the key (default `X-API-Key` / `api_key`).
    #[serde(default)]
    pub name: Option<String>,
    /// `oauth2_client_credentials`: the token endpoint (required for it).
    #[serde(default)]
    pub token_url: Option<String>,
    /// `oauth2_client_credentials`: scopes to request.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// Authentication kinds; each adds its connection-config fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    /// No authentication.
    #[default]
    None,
    /// An API key in a header (config field `apiKey`, secret).
    ApiKeyHeader,
    /// An API key in a query parameter (config field `apiKey`, secret).
    ApiKeyQuery,
    /// `Authorization: Bearer` (config field `bearerToken`, secret).
    Bearer,
    /// HTTP basic (config fields `username`, `password`).
    Basic,
    /// OAuth2 client credentials (config fields `clientId`, `clientSecret`,
    /// `tokenUrl`); the token is fetched once per execution.
    Oauth2ClientCredentials,
}

/// One endpoint of the API.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointSpec {
    /// The command's name: a JavaScript identifier in camelCase, e.g.
    /// `listContacts`.
    pub command: String,
    /// The HTTP method.
    pub method: HttpMethod,
    /// The path below the base URL, with `{name}` for path parameters,
    /// e.g. `/contacts/{id}`.
    pub path: String,
    /// What the command does.
    #[serde(default)]
    pub description: Option<String>,
    /// Parameters; path parameters missing here are added as required
    /// strings.
    #[serde(default)]
    pub params: Vec<ParamSpec>,
    /// A JSON Schema (`type: object`) of the JSON request body; parameters
    /// with location `body` are added to its properties.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub body: Option<Value>,
}

/// HTTP methods `floh.http` can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// GET.
    #[serde(alias = "get")]
    Get,
    /// POST.
    #[serde(alias = "post")]
    Post,
    /// PUT.
    #[serde(alias = "put")]
    Put,
    /// PATCH.
    #[serde(alias = "patch")]
    Patch,
    /// DELETE.
    #[serde(alias = "delete")]
    Delete,
}

impl HttpMethod {
    fn key(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Post => "post",
            Self::Put => "put",
            Self::Patch => "patch",
            Self::Delete => "delete",
        }
    }
}

/// One parameter of an endpoint.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParamSpec {
    /// The name as the API spells it.
    pub name: String,
    /// Where it goes.
    pub location: ParamLocation,
    /// Its JSON type (default `string`).
    #[serde(default, rename = "type")]
    pub param_type: ParamType,
    /// Whether it must be given (path parameters always must).
    #[serde(default)]
    pub required: bool,
    /// What it means.
    #[serde(default)]
    pub description: Option<String>,
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParamLocation {
    /// A `{name}` segment of the path.
    Path,
    /// The query string.
    Query,
    /// A request header.
    Header,
    /// A property of the JSON body.
    Body,
}

/// JSON types of parameters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    /// A string.
    #[default]
    String,
    /// A whole number.
    Integer,
    /// Any number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A JSON object.
    Object,
    /// A JSON array.
    Array,
}

impl ParamType {
    fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Object => "object",
            Self::Array => "array",
        }
    }
}

/// A generated (or checked) connector.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratedConnector {
    /// A `script` connector definition, ready for `POST /api/connectors`
    /// (add `config`).
    pub definition: ConnectorDefinition,
    /// The host compiler's findings on the script.
    pub check: ScriptCheck,
    /// False when the request's own script was checked instead.
    pub generated: bool,
}

/// What a request needs before anything can be generated; empty when it is
/// complete enough.
pub fn missing_for_generation(request: &ScriptGeneration) -> Vec<String> {
    let mut missing = Vec::new();
    if request.endpoints.is_empty() {
        missing.push(
            "endpoints: at least one {command, method, path, params} (a description alone does not say which HTTP calls to make)".into(),
        );
    }
    if request.base_url.is_none() {
        missing.push(
            "baseUrl: where the API is served (optional: without it the connector's config must give `baseUrl`)".into(),
        );
    }
    missing
}

/// A script to start from by hand: one command, the shape every command
/// returns.
pub fn skeleton() -> &'static str {
    r#"// One global function per command. floh.config holds the connection
// config, floh.params the command's params; floh.http calls look
// synchronous. Return {success, data, outputVariables} or
// {success: false, error}.
function listItems() {
  var response = floh.http.get(floh.config.baseUrl + "/items", {
    Authorization: "Bearer " + floh.config.bearerToken,
  });
  if (response.status >= 400) {
    return { success: false, error: "GET /items returned HTTP " + response.status };
  }
  return { success: true, data: response.body };
}

function test() {
  var response = floh.http.get(floh.config.baseUrl + "/items");
  return { success: response.status < 400, data: { status: response.status } };
}
"#
}

impl ConnectorService {
    /// Generate a script connector from `request` (or check the request's
    /// own script against its endpoints). Nothing is stored; the same
    /// request always gives the same definition.
    pub async fn generate_script(
        &self,
        request: ScriptGeneration,
    ) -> Result<GeneratedConnector, ServiceError> {
        if request.endpoints.is_empty() {
            return Err(ServiceError::Invalid(format!(
                "nothing to generate from: {}",
                missing_for_generation(&request).join("; ")
            )));
        }
        let document = openapi_document(&request)?;
        let draft =
            crate::oas::draft::generate(&OpenApiSpec::from_value(&document), &Selection::default())
                .map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let mut definition = draft.definition;
        definition.name = request.name.clone();
        definition.type_name = Some(request.name.clone());
        definition.execution_model = ExecutionModel::Script;
        definition.tags = vec!["generated".into()];
        definition.version = None;
        if let Some(description) = &request.description {
            definition.description = Some(description.clone());
        }
        let generated = request.script.is_none();
        if let Some(script) = request.script {
            definition.script_source = Some(script);
        }
        let commands = definition
            .config_schema
            .as_ref()
            .map(|schema| schema.commands.keys().cloned().collect())
            .unwrap_or_default();
        let check = self
            .check_script(&ScriptCheckRequest {
                script_source: definition.script_source.clone().unwrap_or_default(),
                commands,
            })
            .await?;
        Ok(GeneratedConnector {
            definition,
            check,
            generated,
        })
    }
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::Invalid(message.into())
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// The request as an OpenAPI 3.0 document for the importer.
fn openapi_document(request: &ScriptGeneration) -> Result<Value, ServiceError> {
    if request.name.trim().is_empty() {
        return Err(invalid("`name` must not be empty"));
    }
    let mut paths = Map::new();
    let mut commands = BTreeSet::new();
    for endpoint in &request.endpoints {
        if !is_identifier(&endpoint.command) {
            return Err(invalid(format!(
                "command `{}` is not a JavaScript identifier (use camelCase, e.g. `listContacts`)",
                endpoint.command
            )));
        }
        if !commands.insert(endpoint.command.as_str()) {
            return Err(invalid(format!(
                "command `{}` is given twice",
                endpoint.command
            )));
        }
        if !endpoint.path.starts_with('/') {
            return Err(invalid(format!(
                "the path of `{}` must start with `/` (it is below the base URL)",
                endpoint.command
            )));
        }
        let item = paths
            .entry(endpoint.path.clone())
            .or_insert_with(|| json!({}));
        if item.get(endpoint.method.key()).is_some() {
            return Err(invalid(format!(
                "two endpoints are {} {}",
                endpoint.method.key().to_uppercase(),
                endpoint.path
            )));
        }
        item[endpoint.method.key()] = operation(endpoint)?;
    }
    let mut document = json!({
        "openapi": "3.0.3",
        "info": {"title": request.name, "version": "1.0.0"},
        "paths": paths,
    });
    if let Some(description) = &request.description {
        document["info"]["description"] = json!(description);
    }
    if let Some(base) = &request.base_url {
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(invalid("`baseUrl` must be an absolute http(s) URL"));
        }
        document["servers"] = json!([{"url": base}]);
    }
    if let Some((name, scheme)) = security_scheme(&request.auth)? {
        document["components"] = json!({"securitySchemes": {name: scheme}});
        document["security"] = json!([{name: []}]);
    }
    Ok(document)
}

fn operation(endpoint: &EndpointSpec) -> Result<Value, ServiceError> {
    let mut parameters = Vec::new();
    let mut body_properties = Map::new();
    let mut body_required = Vec::new();
    let template_names: Vec<&str> = endpoint
        .path
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect();
    let mut names = BTreeSet::new();
    for param in &endpoint.params {
        if !names.insert((param.name.as_str(), param.location == ParamLocation::Body)) {
            return Err(invalid(format!(
                "`{}` has the parameter `{}` twice",
                endpoint.command, param.name
            )));
        }
        let mut schema = json!({"type": param.param_type.as_str()});
        if param.param_type == ParamType::Array {
            schema["items"] = json!({"type": "string"});
        }
        let location = match param.location {
            ParamLocation::Body => {
                if let Some(description) = &param.description {
                    schema["description"] = json!(description);
                }
                body_properties.insert(param.name.clone(), schema);
                if param.required {
                    body_required.push(json!(param.name));
                }
                continue;
            }
            ParamLocation::Path => {
                if !template_names.contains(&param.name.as_str()) {
                    return Err(invalid(format!(
                        "`{}`: the path parameter `{}` is not in the path `{}` (write it as `{{{}}}`)",
                        endpoint.command, param.name, endpoint.path, param.name
                    )));
                }
                "path"
            }
            ParamLocation::Query => "query",
            ParamLocation::Header => "header",
        };
        let mut parameter = json!({
            "name": param.name,
            "in": location,
            "required": param.required || param.location == ParamLocation::Path,
            "schema": schema,
        });
        if let Some(description) = &param.description {
            parameter["description"] = json!(description);
        }
        parameters.push(parameter);
    }
    for name in template_names {
        if !names.contains(&(name, false)) {
            parameters.push(
                json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}),
            );
        }
    }
    let mut operation = json!({
        "operationId": endpoint.command,
        "parameters": parameters,
        "responses": {"200": {"description": "Success"}},
    });
    if let Some(description) = &endpoint.description {
        operation["summary"] = json!(description);
    }
    let mut body = match &endpoint.body {
        None => None,
        Some(Value::Object(schema)) => Some(Value::Object(schema.clone())),
        Some(_) => {
            return Err(invalid(format!(
                "the body of `{}` must be a JSON Schema object",
                endpoint.command
            )));
        }
    };
    if !body_properties.is_empty() {
        let schema = body.get_or_insert_with(|| json!({"type": "object"}));
        let properties = schema
            .as_object_mut()
            .map(|object| object.entry("properties").or_insert_with(|| json!({})));
        if let Some(Value::Object(properties)) = properties {
            properties.extend(body_properties);
        }
        if !body_required.is_empty()
            && let Some(object) = schema.as_object_mut()
        {
            let required = object.entry("required").or_insert_with(|| json!([]));
            if let Value::Array(list) = required {
                list.extend(body_required);
            }
        }
    }
    if let Some(schema) = body {
        operation["requestBody"] = json!({
            "required": true,
            "content": {"application/json": {"schema": schema}},
        });
    }
    Ok(operation)
}

fn security_scheme(auth: &AuthSpec) -> Result<Option<(&'static str, Value)>, ServiceError> {
    Ok(Some(match auth.kind {
        AuthKind::None => return Ok(None),
        AuthKind::ApiKeyHeader => (
            "apiKey",
            json!({"type": "apiKey", "in": "header", "name": auth.name.as_deref().unwrap_or("X-API-Key")}),
        ),
        AuthKind::ApiKeyQuery => (
            "apiKey",
            json!({"type": "apiKey", "in": "query", "name": auth.name.as_deref().unwrap_or("api_key")}),
        ),
        AuthKind::Bearer => ("bearerAuth", json!({"type": "http", "scheme": "bearer"})),
        AuthKind::Basic => ("basicAuth", json!({"type": "http", "scheme": "basic"})),
        AuthKind::Oauth2ClientCredentials => {
            let token_url = auth.token_url.as_deref().ok_or_else(|| {
                invalid("`auth.tokenUrl` is required for oauth2_client_credentials")
            })?;
            let scopes: Map<String, Value> = auth
                .scopes
                .iter()
                .map(|scope| (scope.clone(), json!("")))
                .collect();
            (
                "oauth2",
                json!({"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": token_url, "scopes": scopes}}}),
            )
        }
    }))
}

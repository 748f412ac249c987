//! Operations → commands: names, params (path, query, header, cookie and
//! body), types, required flags, enums, defaults and outputs, plus the plan
//! the script generator follows. Problems with one operation skip that
//! operation, with the reason.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::naming::{UniqueNames, camel_case, from_method_and_path};
use super::refs::Resolver;
use super::security::AuthScheme;
use crate::model::{CommandSchema, FieldSchema, FieldType};

/// Methods `floh.http` offers (TRACE is not among them).
const METHODS: &[&str] = &["get", "head", "post", "put", "patch", "delete", "options"];

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    /// Substituted into the path template.
    Path,
    /// Query string.
    Query,
    /// Request header.
    Header,
    /// Cookie header.
    Cookie,
}

/// One parameter of a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParamPlan {
    /// The key in `floh.params`.
    pub param: String,
    /// The name on the wire.
    pub wire: String,
    /// Where it goes.
    pub location: Location,
}

/// How the request body is built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum BodyPlan {
    /// A JSON object assembled from params (param key, property name).
    JsonProperties(Vec<(String, String)>),
    /// The `body` param as JSON.
    Json,
    /// A form assembled from params (param key, field name).
    Form(Vec<(String, String)>),
    /// The `body` param sent as text with this content type.
    Raw(String),
}

/// Everything the generator needs for one command.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperationPlan {
    /// Command name.
    pub command: String,
    /// Upper-case method.
    pub method: String,
    /// Path template.
    pub path: String,
    /// Parameters.
    pub params: Vec<ParamPlan>,
    /// The body, if any.
    pub body: Option<BodyPlan>,
    /// Security scheme names to apply (see [`pick_security`]).
    pub security: Vec<String>,
    /// The OAuth2 scopes those schemes' requirement names for schemes that
    /// use the grant the host keeps ([`AuthScheme::AccessToken`]).
    pub scopes: Vec<String>,
    /// The command's schema.
    #[serde(skip)]
    pub schema: CommandSchema,
    /// operationId, tags, path: what selection filters match.
    pub operation_id: Option<String>,
    /// The operation's tags.
    pub tags: Vec<String>,
}

/// An operation that did not become a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Skipped {
    /// `METHOD /path`.
    pub operation: String,
    /// Why.
    pub reason: String,
}

/// Plans for every usable operation, in document order, and the skipped ones.
pub fn plan(
    spec: &Value,
    schemes: &BTreeMap<String, AuthScheme>,
) -> (Vec<OperationPlan>, Vec<Skipped>) {
    let resolver = Resolver::new(spec);
    let mut names = UniqueNames::default();
    names.reserve("test");
    let mut plans = Vec::new();
    let mut skipped = Vec::new();
    let auth = SecurityContext {
        global: spec.get("security"),
        schemes,
        declared: spec
            .pointer("/components/securitySchemes")
            .and_then(Value::as_object),
    };
    for (path, item) in spec
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let item = match resolver.resolve(item) {
            Ok(item) => item,
            Err(error) => {
                skipped.push(Skipped {
                    operation: path.clone(),
                    reason: error.to_string(),
                });
                continue;
            }
        };
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, operation) in item {
            if matches!(
                method.as_str(),
                "parameters" | "servers" | "summary" | "description" | "$ref"
            ) || method.starts_with("x-")
            {
                continue;
            }
            let label = format!("{} {path}", method.to_ascii_uppercase());
            if !METHODS.contains(&method.as_str()) {
                skipped.push(Skipped {
                    operation: label,
                    reason: format!("floh.http has no {} method", method.to_ascii_uppercase()),
                });
                continue;
            }
            let path_parameters = item.get("parameters");
            match plan_operation(
                &resolver,
                path,
                method,
                operation,
                path_parameters,
                &auth,
                &mut names,
            ) {
                Ok(plan) => plans.push(plan),
                Err(reason) => skipped.push(Skipped {
                    operation: label,
                    reason,
                }),
            }
        }
    }
    (plans, skipped)
}

/// What an operation's security requirement is matched against.
struct SecurityContext<'a> {
    /// The spec's top-level `security`, for operations without their own.
    global: Option<&'a Value>,
    /// The schemes the generated script can apply.
    schemes: &'a BTreeMap<String, AuthScheme>,
    /// Every scheme the spec declares.
    declared: Option<&'a Map<String, Value>>,
}

fn plan_operation(
    resolver: &Resolver<'_>,
    path: &str,
    method: &str,
    operation: &Value,
    path_parameters: Option<&Value>,
    auth: &SecurityContext<'_>,
    names: &mut UniqueNames,
) -> Result<OperationPlan, String> {
    let operation_id = operation
        .get("operationId")
        .and_then(Value::as_str)
        .map(str::to_string);
    let wanted = match &operation_id {
        Some(id) => camel_case(id),
        None => from_method_and_path(method, path),
    };
    let description = operation
        .get("summary")
        .or_else(|| operation.get("description"))
        .and_then(Value::as_str)
        .map(|text| text.lines().next().unwrap_or("").trim().to_string());

    // Operation parameters override path-level ones with the same name and location.
    let mut parameters: Vec<&Value> = Vec::new();
    for source in [path_parameters, operation.get("parameters")] {
        for parameter in source.and_then(Value::as_array).into_iter().flatten() {
            let parameter = resolver.resolve(parameter).map_err(|e| e.to_string())?;
            let key = |p: &Value| (p.get("name").cloned(), p.get("in").cloned());
            parameters.retain(|existing| key(existing) != key(parameter));
            parameters.push(parameter);
        }
    }
    let mut params = Vec::new();
    let mut param_schema = BTreeMap::new();
    let mut taken = std::collections::HashSet::new();
    for parameter in parameters {
        let wire = parameter
            .get("name")
            .and_then(Value::as_str)
            .ok_or("a parameter has no name")?
            .to_string();
        let location = match parameter.get("in").and_then(Value::as_str) {
            Some("path") => Location::Path,
            Some("query") => Location::Query,
            Some("header") => Location::Header,
            Some("cookie") => Location::Cookie,
            other => {
                return Err(format!(
                    "parameter `{wire}` has an unknown location {other:?}"
                ));
            }
        };
        let param = unique_param(&wire, location, &mut taken);
        let schema = parameter
            .get("schema")
            .map(|s| resolver.resolve(s))
            .transpose()
            .map_err(|e| e.to_string())?;
        let mut field = field_of(resolver, schema);
        field.required = location == Location::Path
            || parameter.get("required").and_then(Value::as_bool) == Some(true);
        field.description = parameter
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string);
        param_schema.insert(param.clone(), field);
        params.push(ParamPlan {
            param,
            wire,
            location,
        });
    }
    let body = match operation.get("requestBody") {
        Some(body) => Some(plan_body(resolver, body, &mut taken, &mut param_schema)?),
        None => None,
    };
    let security = operation.get("security").or(auth.global);
    let (security, scopes) = pick_security(security, auth)?;
    let command = names.claim(&wanted);
    let mut param_names: Vec<String> = params.iter().map(|p| p.param.clone()).collect();
    match &body {
        Some(BodyPlan::JsonProperties(fields) | BodyPlan::Form(fields)) => {
            param_names.extend(fields.iter().map(|(p, _)| p.clone()))
        }
        Some(BodyPlan::Json | BodyPlan::Raw(_)) => param_names.push("body".into()),
        None => {}
    }
    Ok(OperationPlan {
        schema: CommandSchema {
            params: param_names,
            description,
            outputs: if method == "head" {
                // A HEAD answer has no body: the command returns its status and headers.
                vec!["status".into(), "headers".into()]
            } else {
                outputs(resolver, operation)
            },
            param_schema,
        },
        command,
        method: method.to_ascii_uppercase(),
        path: path.to_string(),
        params,
        body,
        security,
        scopes,
        operation_id,
        tags: operation
            .get("tags")
            .and_then(Value::as_array)
            .map(|tags| {
                tags.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// A param key for `wire` that no other param of the command uses.
fn unique_param(
    wire: &str,
    location: Location,
    taken: &mut std::collections::HashSet<String>,
) -> String {
    let mut candidate = wire.to_string();
    if !taken.insert(candidate.clone()) {
        candidate = format!(
            "{wire}_{}",
            serde_json::to_value(location)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        );
        taken.insert(candidate.clone());
    }
    candidate
}

fn plan_body(
    resolver: &Resolver<'_>,
    body: &Value,
    taken: &mut std::collections::HashSet<String>,
    param_schema: &mut BTreeMap<String, FieldSchema>,
) -> Result<BodyPlan, String> {
    let body = resolver.resolve(body).map_err(|e| e.to_string())?;
    let required = body.get("required").and_then(Value::as_bool) == Some(true);
    let content = body
        .get("content")
        .and_then(Value::as_object)
        .ok_or("the request body declares no content")?;
    let json_media = content.keys().find(|m| m.contains("json"));
    let form_media = content
        .keys()
        .find(|m| m.contains("x-www-form-urlencoded") || m.contains("multipart/form-data"));
    if let Some(media) = json_media.or(form_media) {
        let schema = content[media]
            .get("schema")
            .map(|s| resolver.resolve(s))
            .transpose()
            .map_err(|e| e.to_string())?;
        let properties = schema
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object);
        let required_properties: Vec<&str> = schema
            .and_then(|s| s.get("required"))
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let is_form = json_media.is_none();
        // Top-level properties become params when they are few and do not
        // clash with other params; otherwise one `body` param is clearer.
        if let Some(properties) = properties.filter(|p| !p.is_empty() && p.len() <= 20)
            && properties
                .keys()
                .all(|name| !taken.contains(name) && name != "body")
        {
            let mut fields = Vec::new();
            for (name, property) in properties {
                let property = resolver.resolve(property).map_err(|e| e.to_string())?;
                let mut field = field_of(resolver, Some(property));
                field.required = required && required_properties.contains(&name.as_str());
                taken.insert(name.clone());
                param_schema.insert(name.clone(), field);
                fields.push((name.clone(), name.clone()));
            }
            return Ok(if is_form {
                BodyPlan::Form(fields)
            } else {
                BodyPlan::JsonProperties(fields)
            });
        }
        let mut field = field_of(resolver, schema);
        field.required = required;
        field.description = Some("the request body".into());
        param_schema.insert("body".into(), field);
        return Ok(if is_form {
            BodyPlan::Form(Vec::new())
        } else {
            BodyPlan::Json
        });
    }
    let media = content
        .keys()
        .next()
        .cloned()
        .unwrap_or_else(|| "application/octet-stream".into());
    param_schema.insert(
        "body".into(),
        FieldSchema {
            field_type: Some(FieldType::String),
            required,
            description: Some(format!("the request body as text ({media})")),
            ..FieldSchema::default()
        },
    );
    Ok(BodyPlan::Raw(media))
}

/// The schemes of the first security alternative that can be applied
/// entirely, and the OAuth2 scopes it names for grant schemes; an operation
/// whose every alternative needs an unsupported scheme is skipped.
/// `security: []` (or an empty alternative) means none.
///
/// Alternatives that run without the host's OAuth2 grant come first: an
/// operation that takes an API key or the grant keeps using the key, as it
/// did before grants were imported, and needs no person to authorize it.
fn pick_security<'a>(
    security: Option<&'a Value>,
    auth: &SecurityContext<'_>,
) -> Result<(Vec<String>, Vec<String>), String> {
    let SecurityContext {
        schemes, declared, ..
    } = auth;
    let Some(alternatives) = security.and_then(Value::as_array) else {
        return Ok((Vec::new(), Vec::new()));
    };
    if alternatives.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let empty = Map::new();
    // A malformed (non-object) alternative asks for nothing, as `{}` does.
    let requirement = |alternative: &'a Value| alternative.as_object().unwrap_or(&empty);
    let needs_grant = |name: &String| schemes.get(name).is_some_and(AuthScheme::needs_grant);
    let applicable: Vec<&Map<String, Value>> = alternatives
        .iter()
        .map(requirement)
        .filter(|alternative| alternative.keys().all(|name| schemes.contains_key(name)))
        .collect();
    let Some(chosen) = applicable
        .iter()
        .find(|alternative| !alternative.keys().any(needs_grant))
        .or_else(|| applicable.first())
    else {
        let mut missing: Vec<&String> = alternatives
            .iter()
            .flat_map(|alternative| requirement(alternative).keys())
            .filter(|name| !schemes.contains_key(*name))
            .collect();
        missing.sort();
        missing.dedup();
        let undeclared = |name: &&String| !declared.is_some_and(|d| d.contains_key(*name));
        let (undeclared, unsupported): (Vec<&String>, Vec<&String>) =
            missing.into_iter().partition(undeclared);
        let list = |names: &[&String]| {
            let quoted: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
            let noun = if names.len() == 1 {
                "scheme"
            } else {
                "schemes"
            };
            format!("the security {noun} {}", quoted.join(", "))
        };
        return Err(if undeclared.is_empty() {
            format!(
                "it requires {}, which cannot be applied",
                list(&unsupported)
            )
        } else {
            format!(
                "it requires {}, which components.securitySchemes does not declare",
                list(&undeclared)
            )
        });
    };
    let mut scopes: Vec<String> = Vec::new();
    for (_, named) in chosen.iter().filter(|(name, _)| needs_grant(name)) {
        for scope in named
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            // RFC 6749 §3.3: scope tokens are non-empty and have no spaces.
            if !scope.is_empty() && !scope.contains(' ') && !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_string());
            }
        }
    }
    Ok((chosen.keys().cloned().collect(), scopes))
}

/// Type, enum and default of a schema (3.1 `type` arrays and 3.0
/// `nullable` both reduce to the first non-null type).
fn field_of(resolver: &Resolver<'_>, schema: Option<&Value>) -> FieldSchema {
    let Some(schema) = schema else {
        return FieldSchema::default();
    };
    let schema = resolver.resolve(schema).unwrap_or(schema);
    let type_name = match schema.get("type") {
        Some(Value::String(name)) => Some(name.as_str()),
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .find(|n| *n != "null"),
        _ => None,
    };
    let field_type = match type_name {
        Some("string") => Some(FieldType::String),
        Some("integer") => Some(FieldType::Integer),
        Some("number") => Some(FieldType::Number),
        Some("boolean") => Some(FieldType::Boolean),
        Some("array") => Some(FieldType::Array),
        Some("object") => Some(FieldType::Object),
        _ => None,
    };
    let allowed = schema
        .get("enum")
        .and_then(Value::as_array)
        .map(|values| {
            values
                .iter()
                .filter(|v| !v.is_null())
                .cloned()
                .collect::<Vec<_>>()
        })
        .filter(|values| !values.is_empty());
    FieldSchema {
        field_type,
        default: schema.get("default").cloned(),
        allowed,
        description: schema
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string),
        ..FieldSchema::default()
    }
}

/// Property names of the first successful JSON response.
fn outputs(resolver: &Resolver<'_>, operation: &Value) -> Vec<String> {
    let Some(responses) = operation.get("responses").and_then(Value::as_object) else {
        return Vec::new();
    };
    let success = ["200", "201", "202", "2XX", "default"]
        .iter()
        .find_map(|code| responses.get(*code));
    let schema = success
        .and_then(|r| resolver.resolve(r).ok())
        .and_then(|r| r.get("content"))
        .and_then(Value::as_object)
        .and_then(|content| {
            content
                .iter()
                .find(|(media, _)| media.contains("json"))
                .map(|(_, v)| v)
        })
        .and_then(|media| media.get("schema"))
        .and_then(|s| resolver.resolve(s).ok());
    match schema {
        Some(schema) if schema.get("properties").is_some() => schema["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default(),
        Some(schema) if schema.get("type") == Some(&json!("array")) => vec!["items".into()],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn petstore() -> Value {
        json!({
            "openapi": "3.1.0",
            "security": [{"key": []}],
            "components": {
                "securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-Key"}},
                "parameters": {"limit": {"name": "limit", "in": "query", "schema": {"type": ["integer", "null"], "default": 20}}},
                "schemas": {"Pet": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "tag": {"type": "string", "enum": ["cat", "dog", null]}}}}
            },
            "paths": {
                "/pets": {
                    "get": {"operationId": "list-pets", "summary": "List pets\nwith paging", "tags": ["pets"], "parameters": [{"$ref": "#/components/parameters/limit"}],
                        "responses": {"200": {"content": {"application/json": {"schema": {"type": "object", "properties": {"items": {}, "next": {}}}}}}}},
                    "post": {"requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}, "security": []},
                    "head": {},
                    "trace": {}
                },
                "/pets/{id}": {
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                    "delete": {"operationId": "delete"},
                    "put": {"operationId": "list-pets", "requestBody": {"content": {"application/xml": {"schema": {}}}}}
                },
                "/secure": {"get": {"security": [{"oidc": []}]}}
            }
        })
    }

    fn key_scheme() -> BTreeMap<String, AuthScheme> {
        BTreeMap::from([(
            "key".to_string(),
            AuthScheme::ApiKey {
                field: "key".into(),
                name: "X-Key".into(),
                location: "header".into(),
            },
        )])
    }

    #[test]
    fn operations_become_commands_with_typed_params() {
        let spec = petstore();
        let (plans, skipped) = plan(&spec, &key_scheme());
        let names: Vec<_> = plans.iter().map(|p| p.command.as_str()).collect();
        assert_eq!(
            names,
            [
                "listPets",
                "headPets",
                "postPets",
                "deleteOperation",
                "listPets2"
            ]
        );
        assert_eq!(plans[1].schema.outputs, ["status", "headers"]);
        let list = &plans[0];
        assert_eq!(list.schema.description.as_deref(), Some("List pets"));
        assert_eq!(
            list.schema.param_schema["limit"].field_type,
            Some(FieldType::Integer)
        );
        assert_eq!(list.schema.param_schema["limit"].default, Some(json!(20)));
        assert_eq!(list.schema.outputs, ["items", "next"]);
        assert_eq!(list.security, ["key"]);
        let create = &plans[2];
        assert_eq!(
            create.body,
            Some(BodyPlan::JsonProperties(vec![
                ("name".into(), "name".into()),
                ("tag".into(), "tag".into())
            ]))
        );
        assert!(create.schema.param_schema["name"].required);
        assert_eq!(
            create.schema.param_schema["tag"].allowed,
            Some(vec![json!("cat"), json!("dog")])
        );
        assert!(create.security.is_empty(), "security: [] means no auth");
        assert!(
            plans[3].schema.param_schema["id"].required,
            "path params are required"
        );
        assert_eq!(plans[4].body, Some(BodyPlan::Raw("application/xml".into())));
        let reasons: Vec<_> = skipped.iter().map(|s| s.operation.as_str()).collect();
        assert_eq!(reasons, ["TRACE /pets", "GET /secure"]);
        assert_eq!(skipped[0].reason, "floh.http has no TRACE method");
        assert_eq!(
            skipped[1].reason,
            "it requires the security scheme `oidc`, which components.securitySchemes does not declare"
        );
    }

    #[test]
    fn alternatives_without_the_grant_come_first_and_grant_scopes_are_kept() {
        let spec = json!({
            "openapi": "3.0.3",
            "components": {"securitySchemes": {
                "key": {"type": "apiKey", "in": "header", "name": "X-Key"},
                "code": {"type": "oauth2", "flows": {"authorizationCode": {}}},
                "digest": {"type": "http", "scheme": "digest"}
            }},
            "paths": {"/a": {
                "get": {"security": [{"code": ["read"]}, {"key": []}]},
                "put": {"security": [{"code": ["write", "read", "write", "bad scope", ""]}]},
                "post": {"security": [{"digest": []}, {"code": [], "digest": []}]}
            }}
        });
        let mut schemes = key_scheme();
        schemes.insert("code".into(), AuthScheme::AccessToken);
        let (plans, skipped) = plan(&spec, &schemes);
        assert_eq!(plans[0].security, ["key"]);
        assert!(plans[0].scopes.is_empty());
        assert_eq!(plans[1].security, ["code"]);
        assert_eq!(plans[1].scopes, ["write", "read"]);
        assert_eq!(
            skipped[0].reason,
            "it requires the security scheme `digest`, which cannot be applied"
        );
    }
}

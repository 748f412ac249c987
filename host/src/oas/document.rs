//! Reading a spec (JSON or YAML, object or text) and bringing every version
//! to one OpenAPI 3.x shape.
//!
//! Specs are handled as JSON values rather than deserialized into typed
//! OpenAPI structures: real-world specs routinely violate the letter of
//! their version, and one bad schema must cost one skipped operation, not
//! the whole import. Swagger 2.0 is rewritten into the 3.x layout
//! (`servers`, `components`, `requestBody`, response `content`); 3.0 and 3.1
//! differ only where the readers look (`type` arrays, `nullable`), which
//! they handle directly.

use serde_json::{Map, Value, json};

use super::OasError;

/// The largest spec text accepted (GitHub's REST description is ~13 MB).
pub const MAX_SPEC_BYTES: usize = 64 * 1024 * 1024;

/// The spec versions understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecVersion {
    /// Swagger 2.0.
    Swagger2,
    /// OpenAPI 3.0.x.
    OpenApi30,
    /// OpenAPI 3.1.x.
    OpenApi31,
}

/// Parse spec text: JSON first, then YAML.
pub fn parse_text(text: &str) -> Result<Value, OasError> {
    if text.len() > MAX_SPEC_BYTES {
        return Err(OasError::TooLarge(MAX_SPEC_BYTES));
    }
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        return serde_json::from_str(trimmed)
            .map_err(|e| OasError::Unreadable(format!("invalid JSON: {e}")));
    }
    serde_yaml_ng::from_str(text)
        .map_err(|e| OasError::Unreadable(format!("neither JSON nor valid YAML: {e}")))
}

/// Which version `spec` declares.
pub fn version(spec: &Value) -> Result<SpecVersion, OasError> {
    if !spec.is_object() {
        return Err(OasError::Unreadable(
            "a spec must be a JSON or YAML object".into(),
        ));
    }
    if let Some(swagger) = spec.get("swagger") {
        return match swagger.as_str() {
            Some("2.0") => Ok(SpecVersion::Swagger2),
            _ => Err(OasError::UnsupportedVersion(format!("swagger {swagger}"))),
        };
    }
    match spec.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.0") => Ok(SpecVersion::OpenApi30),
        Some(v) if v.starts_with("3.1") => Ok(SpecVersion::OpenApi31),
        Some(v) => Err(OasError::UnsupportedVersion(format!("openapi {v}"))),
        None => Err(OasError::Unreadable(
            "neither an `openapi` nor a `swagger` version field".into(),
        )),
    }
}

/// `spec` in the OpenAPI 3.x layout.
pub fn normalize(spec: Value) -> Result<(SpecVersion, Value), OasError> {
    let version = version(&spec)?;
    let spec = match version {
        SpecVersion::Swagger2 => from_swagger2(spec),
        _ => spec,
    };
    Ok((version, spec))
}

/// Rewrite a Swagger 2.0 document into the 3.x layout.
fn from_swagger2(mut spec: Value) -> Value {
    rewrite_refs(&mut spec);
    // Taken apart, not copied: a spec can be tens of megabytes.
    let Value::Object(mut object) = spec else {
        return Value::Object(Map::new());
    };
    let consumes =
        first_string(object.get("consumes")).unwrap_or_else(|| "application/json".into());
    let produces =
        first_string(object.get("produces")).unwrap_or_else(|| "application/json".into());
    let mut out = Map::new();
    out.insert("openapi".into(), json!("3.0.3"));
    out.insert(
        "info".into(),
        object.remove("info").unwrap_or_else(|| json!({})),
    );
    if let Some(host) = object.get("host").and_then(Value::as_str) {
        let base = object.get("basePath").and_then(Value::as_str).unwrap_or("");
        let scheme = first_string(object.get("schemes")).unwrap_or_else(|| "https".into());
        out.insert(
            "servers".into(),
            json!([{ "url": format!("{scheme}://{host}{base}") }]),
        );
    } else if let Some(base) = object.get("basePath").and_then(Value::as_str) {
        out.insert("servers".into(), json!([{ "url": base }]));
    }
    let mut components = Map::new();
    if let Some(definitions) = object.remove("definitions") {
        components.insert("schemas".into(), definitions);
    }
    if let Some(parameters) = object.get("parameters").and_then(Value::as_object) {
        let converted: Map<String, Value> = parameters
            .iter()
            .map(|(k, p)| (k.clone(), parameter_v2(p)))
            .collect();
        components.insert("parameters".into(), Value::Object(converted));
    }
    if let Some(Value::Object(responses)) = object.remove("responses") {
        let converted: Map<String, Value> = responses
            .into_iter()
            .map(|(k, r)| (k, response_v2(r, &produces)))
            .collect();
        components.insert("responses".into(), Value::Object(converted));
    }
    if let Some(schemes) = object.get("securityDefinitions").and_then(Value::as_object) {
        let converted: Map<String, Value> = schemes
            .iter()
            .map(|(k, s)| (k.clone(), security_v2(s)))
            .collect();
        components.insert("securitySchemes".into(), Value::Object(converted));
    }
    out.insert("components".into(), Value::Object(components));
    if let Some(security) = object.remove("security") {
        out.insert("security".into(), security);
    }
    let mut paths = Map::new();
    let Some(Value::Object(items)) = object.remove("paths") else {
        out.insert("paths".into(), Value::Object(paths));
        return Value::Object(out);
    };
    for (path, item) in items {
        let Value::Object(item) = item else {
            continue;
        };
        let mut converted = Map::new();
        for (key, value) in item {
            let value = match value {
                value if key == "parameters" => parameters_v2(&value),
                Value::Object(operation) => operation_v2(operation, &consumes, &produces),
                other => other,
            };
            converted.insert(key, value);
        }
        paths.insert(path, Value::Object(converted));
    }
    out.insert("paths".into(), Value::Object(paths));
    Value::Object(out)
}

fn operation_v2(mut out: Map<String, Value>, consumes: &str, produces: &str) -> Value {
    let consumes = first_string(out.get("consumes")).unwrap_or_else(|| consumes.to_string());
    let produces = first_string(out.get("produces")).unwrap_or_else(|| produces.to_string());
    let given = out.remove("parameters");
    let mut parameters = Vec::new();
    let mut form = Map::new();
    let mut form_required = Vec::new();
    for parameter in given
        .as_ref()
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match parameter.get("in").and_then(Value::as_str) {
            Some("body") => {
                let schema = parameter
                    .get("schema")
                    .cloned()
                    .unwrap_or_else(|| json!({}));
                out.insert(
                    "requestBody".into(),
                    json!({"required": parameter.get("required").cloned().unwrap_or(json!(false)), "content": {consumes.clone(): {"schema": schema}}}),
                );
            }
            Some("formData") => {
                if let Some(name) = parameter.get("name").and_then(Value::as_str) {
                    form.insert(name.to_string(), schema_of_v2_parameter(parameter));
                    if parameter.get("required").and_then(Value::as_bool) == Some(true) {
                        form_required.push(json!(name));
                    }
                }
            }
            _ => parameters.push(parameter_v2(parameter)),
        }
    }
    if !form.is_empty() {
        let media = if consumes.contains("multipart") {
            consumes.clone()
        } else {
            "application/x-www-form-urlencoded".to_string()
        };
        out.insert(
            "requestBody".into(),
            json!({"content": {media: {"schema": {"type": "object", "properties": form, "required": form_required}}}}),
        );
    }
    out.insert("parameters".into(), Value::Array(parameters));
    out.remove("consumes");
    out.remove("produces");
    if let Some(Value::Object(responses)) = out.remove("responses") {
        let converted: Map<String, Value> = responses
            .into_iter()
            .map(|(k, r)| (k, response_v2(r, &produces)))
            .collect();
        out.insert("responses".into(), Value::Object(converted));
    }
    Value::Object(out)
}

fn parameters_v2(parameters: &Value) -> Value {
    Value::Array(
        parameters
            .as_array()
            .into_iter()
            .flatten()
            .map(parameter_v2)
            .collect(),
    )
}

/// A 2.0 non-body parameter: type information moves into `schema`.
fn parameter_v2(parameter: &Value) -> Value {
    let Some(object) = parameter.as_object() else {
        return parameter.clone();
    };
    if object.contains_key("$ref") || object.contains_key("schema") {
        return parameter.clone();
    }
    let mut out: Map<String, Value> = object
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "name" | "in" | "description" | "required"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out.insert("schema".into(), schema_of_v2_parameter(parameter));
    Value::Object(out)
}

fn schema_of_v2_parameter(parameter: &Value) -> Value {
    let keys = [
        "type", "format", "enum", "default", "items", "minimum", "maximum", "pattern",
    ];
    let schema: Map<String, Value> = keys
        .iter()
        .filter_map(|k| parameter.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect();
    Value::Object(schema)
}

fn response_v2(response: Value, produces: &str) -> Value {
    let Value::Object(mut out) = response else {
        return response;
    };
    if let Some(schema) = out.remove("schema") {
        out.insert("content".into(), json!({produces: {"schema": schema}}));
    }
    Value::Object(out)
}

/// A 2.0 security definition in the 3.x shape. The 2.0 oauth2 `flow` names
/// map to 3.x flows (`accessCode` → `authorizationCode`, `application` →
/// `clientCredentials`), each with the endpoints 3.x gives that flow.
fn security_v2(scheme: &Value) -> Value {
    match scheme.get("type").and_then(Value::as_str) {
        Some("basic") => json!({"type": "http", "scheme": "basic"}),
        Some("oauth2") => {
            let token_url = scheme.get("tokenUrl").cloned().unwrap_or(Value::Null);
            let scopes = scheme.get("scopes").cloned().unwrap_or_else(|| json!({}));
            let endpoints = |keys: &[&str]| {
                let mut flow = Map::new();
                for key in keys {
                    if let Some(url) = scheme.get(*key) {
                        flow.insert((*key).to_string(), url.clone());
                    }
                }
                flow.insert("scopes".into(), scopes.clone());
                Value::Object(flow)
            };
            match scheme.get("flow").and_then(Value::as_str) {
                Some("application") => {
                    json!({"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": token_url, "scopes": scopes}}})
                }
                Some("accessCode") => {
                    json!({"type": "oauth2", "flows": {"authorizationCode": endpoints(&["authorizationUrl", "tokenUrl"])}})
                }
                Some("implicit") => {
                    json!({"type": "oauth2", "flows": {"implicit": endpoints(&["authorizationUrl"])}})
                }
                Some("password") => {
                    json!({"type": "oauth2", "flows": {"password": endpoints(&["tokenUrl"])}})
                }
                Some(flow) => {
                    json!({"type": "oauth2", "flows": {flow: {"tokenUrl": token_url, "scopes": scopes}}})
                }
                None => json!({"type": "oauth2", "flows": {}}),
            }
        }
        _ => scheme.clone(),
    }
}

/// `#/definitions/X` → `#/components/schemas/X`, and likewise for shared
/// parameters and responses, everywhere in the document.
fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == "$ref"
                    && let Value::String(target) = child
                {
                    for (from, to) in [
                        ("#/definitions/", "#/components/schemas/"),
                        ("#/parameters/", "#/components/parameters/"),
                        ("#/responses/", "#/components/responses/"),
                    ] {
                        if let Some(rest) = target.strip_prefix(from) {
                            *target = format!("{to}{rest}");
                            break;
                        }
                    }
                } else {
                    rewrite_refs(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

fn first_string(value: Option<&Value>) -> Option<String> {
    value?.as_array()?.first()?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_detected_and_unknown_ones_refused() {
        assert_eq!(
            version(&json!({"swagger": "2.0"})).expect("2.0"),
            SpecVersion::Swagger2
        );
        assert_eq!(
            version(&json!({"openapi": "3.0.3"})).expect("3.0"),
            SpecVersion::OpenApi30
        );
        assert_eq!(
            version(&json!({"openapi": "3.1.0"})).expect("3.1"),
            SpecVersion::OpenApi31
        );
        assert!(matches!(
            version(&json!({"openapi": "4.0"})),
            Err(OasError::UnsupportedVersion(_))
        ));
        assert!(matches!(
            version(&json!({"info": {}})),
            Err(OasError::Unreadable(_))
        ));
        assert!(matches!(version(&json!([1])), Err(OasError::Unreadable(_))));
    }

    #[test]
    fn yaml_and_json_text_both_parse() {
        let yaml = parse_text("openapi: 3.0.0\ninfo:\n  title: T\n  version: '1'\npaths: {}\n")
            .expect("yaml");
        assert_eq!(yaml["info"]["title"], "T");
        assert_eq!(
            parse_text(r#"{"openapi": "3.1.0"}"#).expect("json")["openapi"],
            "3.1.0"
        );
        assert!(matches!(
            parse_text("openapi: [unclosed"),
            Err(OasError::Unreadable(_))
        ));
    }

    #[test]
    fn alias_bombs_are_refused_quickly() {
        let mut yaml = String::from(
            "a0: &a0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n",
        );
        for level in 1..10 {
            let previous = format!("*a{}", level - 1);
            yaml.push_str(&format!(
                "a{level}: &a{level} [{}]\n",
                vec![previous; 9].join(", ")
            ));
        }
        // Expanded, this would be 9^10 strings; the parser's alias limit refuses it.
        let result = parse_text(&yaml);
        assert!(
            matches!(result, Err(OasError::Unreadable(_))),
            "{:?}",
            result.map(|_| "parsed")
        );
    }

    #[test]
    fn swagger2_becomes_the_3x_layout() {
        let spec = json!({
            "swagger": "2.0", "info": {"title": "Pets", "version": "1"},
            "host": "api.example.com", "basePath": "/v2", "schemes": ["https"],
            "securityDefinitions": {"key": {"type": "apiKey", "name": "X-Key", "in": "header"}, "cc": {"type": "oauth2", "flow": "application", "tokenUrl": "https://auth.example.com/token"}},
            "definitions": {"Pet": {"type": "object", "properties": {"id": {"type": "integer"}}}},
            "paths": {"/pets/{id}": {"put": {
                "operationId": "updatePet",
                "parameters": [
                    {"name": "id", "in": "path", "required": true, "type": "integer"},
                    {"name": "pet", "in": "body", "required": true, "schema": {"$ref": "#/definitions/Pet"}}
                ],
                "responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/Pet"}}}
            }}}
        });
        let (version, spec) = normalize(spec).expect("normalize");
        assert_eq!(version, SpecVersion::Swagger2);
        assert_eq!(spec["servers"][0]["url"], "https://api.example.com/v2");
        assert_eq!(
            spec["components"]["securitySchemes"]["cc"]["flows"]["clientCredentials"]["tokenUrl"],
            "https://auth.example.com/token"
        );
        let operation = &spec["paths"]["/pets/{id}"]["put"];
        assert_eq!(
            operation["parameters"][0]["schema"],
            json!({"type": "integer"})
        );
        assert_eq!(
            operation["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Pet"
        );
        assert_eq!(
            operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Pet"
        );
    }

    #[test]
    fn swagger2_oauth2_flows_become_their_3x_flows() {
        let spec = json!({
            "swagger": "2.0", "info": {"title": "Flows", "version": "1"}, "paths": {},
            "securityDefinitions": {
                "code": {"type": "oauth2", "flow": "accessCode", "authorizationUrl": "https://id.example.com/authorize", "tokenUrl": "https://id.example.com/token", "scopes": {"read": "Read"}},
                "implicit": {"type": "oauth2", "flow": "implicit", "authorizationUrl": "https://id.example.com/authorize", "scopes": {}},
                "owner": {"type": "oauth2", "flow": "password", "tokenUrl": "https://id.example.com/token"}
            }
        });
        let (_, spec) = normalize(spec).expect("normalize");
        let schemes = &spec["components"]["securitySchemes"];
        assert_eq!(
            schemes["code"]["flows"],
            json!({"authorizationCode": {"authorizationUrl": "https://id.example.com/authorize", "tokenUrl": "https://id.example.com/token", "scopes": {"read": "Read"}}})
        );
        assert_eq!(
            schemes["implicit"]["flows"],
            json!({"implicit": {"authorizationUrl": "https://id.example.com/authorize", "scopes": {}}})
        );
        assert_eq!(
            schemes["owner"]["flows"],
            json!({"password": {"tokenUrl": "https://id.example.com/token", "scopes": {}}})
        );
    }
}
